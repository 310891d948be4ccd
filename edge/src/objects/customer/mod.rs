//! The `Customer` Durable Object's calls and the functions the rest of the edge calls it by.
//! The object itself is in [`object`].

mod object;

pub use object::Customer;

use rapport_protocol::server::{CustomerUpdate, ServerEvent};
use rapport_rules::customer::Customer as Facts;
use serde::{Deserialize, Serialize};
use worker::Env;

use super::{send, Ingested, ObjectCall};
use crate::error::ApiError;

/// A call to the customer `site:customer_id`.
#[derive(Debug, Serialize, Deserialize)]
pub struct CustomerCall {
    pub site: String,
    pub customer_id: String,
    pub call: Call,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Call {
    /// Store these server events once each and fold them in: answers [`Ingested`].
    Ingest { events: Vec<Timed> },
    /// Replace the traits: answers the facts.
    SetTraits(CustomerUpdate),
    /// Answers the facts.
    Get,
    /// Forget an erased visitor: answers nothing.
    Unlink { visitor_id: String },
}

impl ObjectCall for CustomerCall {
    const BINDING: &'static str = "CUSTOMERS";

    fn object(&self) -> String {
        format!("{}:{}", self.site, self.customer_id)
    }

    fn name(&self) -> &'static str {
        match self.call {
            Call::Ingest { .. } => "ingest",
            Call::SetTraits(_) => "set_traits",
            Call::Get => "get",
            Call::Unlink { .. } => "unlink",
        }
    }
}

/// A server event with the time it happened, checked by the API.
#[derive(Debug, Serialize, Deserialize)]
pub struct Timed {
    pub event: ServerEvent,
    pub at_ms: i64,
}

async fn call<A: serde::de::DeserializeOwned>(
    env: &Env,
    site: &str,
    customer_id: &str,
    call: Call,
) -> Result<A, ApiError> {
    let call = CustomerCall {
        site: site.to_owned(),
        customer_id: customer_id.to_owned(),
        call,
    };
    send(env, &call).await
}

pub async fn ingest(
    env: &Env,
    site: &str,
    customer_id: &str,
    events: Vec<Timed>,
) -> Result<Ingested, ApiError> {
    call(env, site, customer_id, Call::Ingest { events }).await
}

pub async fn set_traits(
    env: &Env,
    site: &str,
    customer_id: &str,
    update: CustomerUpdate,
) -> Result<Facts, ApiError> {
    call(env, site, customer_id, Call::SetTraits(update)).await
}

pub async fn get(env: &Env, site: &str, customer_id: &str) -> Result<Facts, ApiError> {
    call(env, site, customer_id, Call::Get).await
}

/// Forgets an erased visitor.
pub async fn unlink(
    env: &Env,
    site: &str,
    customer_id: &str,
    visitor_id: &str,
) -> Result<(), ApiError> {
    let visitor_id = visitor_id.to_owned();
    call(env, site, customer_id, Call::Unlink { visitor_id }).await
}
