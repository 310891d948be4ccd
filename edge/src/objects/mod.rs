//! The Durable Objects and how the rest of the edge calls them.
//!
//! Each object has one call type (`VisitorCall`, `CustomerCall`, `RulebooksCall`): the caller
//! sends it as JSON and the object parses the same type, so the two sides cannot disagree on
//! a path, a header or a field. The answer to each call is typed too, encoded by [`encode`]
//! (the one encoder) and read back by [`send`]. An object answers 200 with the answer, or
//! 500 with what failed, which the caller logs with the call's name; nothing else travels
//! in statuses or headers.
//!
//! - [`visitor`]: one per visitor, holding the profile and raw events, deciding next to them.
//! - [`customer`]: one per customer, holding the trusted facts from the retailer's systems.
//! - [`catalogue`]: a site's products and what shoppers do with them, in shards by product.
//! - [`aggregator`]: the fan-in that sums visitors' aggregate deltas per row before D1.
//! - [`rulebooks`]: the one store of published rulebooks and the audit log.

pub mod aggregator;
pub mod catalogue;
pub mod customer;
pub mod rulebooks;
pub mod visitor;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use worker::{Env, Method, Request, RequestInit, Response};

use crate::error::{ApiError, Context};

/// A call to one kind of Durable Object.
pub trait ObjectCall: Serialize + DeserializeOwned {
    /// The binding the objects are reached through (wrangler.toml).
    const BINDING: &'static str;

    /// The name of the object this call goes to (`site:visitor_id`, ...).
    fn object(&self) -> String;

    /// What the call does, for logs and errors (`decide`).
    fn name(&self) -> &'static str;
}

/// What an object answers for a batch of events: the ids it stored, the ids it had, and the
/// ids it would not record (a visitor without consent to analytics).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Ingested {
    pub accepted: Vec<String>,
    pub duplicates: Vec<String>,
    #[serde(default)]
    pub withheld: Vec<String>,
}

/// A `SELECT COUNT(*) AS n` row of an object's own database.
#[derive(Deserialize)]
pub(crate) struct Count {
    pub(crate) n: i64,
}

/// Encodes a call or an answer: the one JSON encoder both sides use.
pub fn encode<T: Serialize>(value: &T) -> Result<String, serde_json::Error> {
    serde_json::to_string(value)
}

/// A call's name in errors (`VISITORS object, call decide`), written only when one happens.
struct Described<'a, C>(&'a C);

impl<C: ObjectCall> std::fmt::Display for Described<'_, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} object, call {}", C::BINDING, self.0.name())
    }
}

/// Sends `call` to its object and reads the answer as `A`.
pub async fn send<C: ObjectCall, A: DeserializeOwned>(env: &Env, call: &C) -> Result<A, ApiError> {
    let what = Described(call);
    let namespace = env
        .durable_object(C::BINDING)
        .context(format_args!("{what}: the binding"))?;
    let stub = namespace
        .id_from_name(&call.object())
        .and_then(|id| id.get_stub())
        .context(format_args!("{what}: finding the object"))?;
    let body = encode(call).context(format_args!("{what}: encoding"))?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_body(Some(body.into()));
    // The path is only for the object's own logs; the body says what to do.
    let request = Request::new_with_init(&format!("https://object/{}", call.name()), &init)
        .context(format_args!("{what}: making the request"))?;
    let mut response = stub
        .fetch_with_request(request)
        .await
        .context(format_args!("{what}: calling"))?;
    let status = response.status_code();
    let text = response
        .text()
        .await
        .context(format_args!("{what}: reading the answer"))?;
    if status != 200 {
        return Err(ApiError::internal(
            format_args!("{what}: answered {status}"),
            text,
        ));
    }
    serde_json::from_str(&text).context(format_args!("{what}: reading the answer"))
}

/// Makes sure an object's alarm goes off no later than `wanted` (ms since the epoch), never
/// putting off one due sooner. `known` is the alarm as this instance last saw or set it
/// (`None`: not read yet; `Some(None)`: none), which saves a storage call on most requests.
pub(crate) async fn alarm_by(
    storage: &worker::Storage,
    known: &std::cell::Cell<Option<Option<i64>>>,
    wanted: i64,
) -> worker::Result<()> {
    let current = match known.get() {
        Some(known) => known,
        None => storage.get_alarm().await.doing("reading the alarm")?,
    };
    if current.is_none_or(|at| at > wanted) {
        storage
            .set_alarm(wanted - crate::clock::now_ms())
            .await
            .doing("setting the alarm")?;
        known.set(Some(Some(wanted)));
    } else {
        known.set(Some(current));
    }
    Ok(())
}

/// Creates an object's tables on the instance's first request (`ready` remembers it).
pub fn ensure_schema(
    state: &worker::State,
    ready: &std::cell::Cell<bool>,
    schema: &str,
    what: &str,
) -> worker::Result<()> {
    if !ready.get() {
        state
            .storage()
            .sql()
            .exec(schema, None)
            .doing(format_args!("creating the {what} tables"))?;
        ready.set(true);
    }
    Ok(())
}

/// Reads the call an object was sent.
pub async fn receive<C: ObjectCall>(mut req: Request) -> worker::Result<C> {
    let text = req.text().await.doing("reading the call")?;
    serde_json::from_str(&text).doing(format_args!("reading a {} call", C::BINDING))
}

/// The object's answer: 200 with the encoded value, or 500 saying what failed (also in the
/// object's log).
pub fn respond<T: Serialize>(call: &str, answer: worker::Result<T>) -> worker::Result<Response> {
    let failed = |err: String| {
        worker::console_error!("{call} failed: {err}");
        Response::error(err, 500)
    };
    match answer.and_then(|value| encode(&value).doing("encoding the answer")) {
        Ok(body) => {
            let response = Response::ok(body)?;
            response.headers().set("content-type", "application/json")?;
            Ok(response)
        }
        Err(err) => failed(err.to_string()),
    }
}
