//! The server-to-server API under `/v1/server/`: the retailer's own systems report what
//! happens outside the site, with a secret server key per site. Only these endpoints can
//! change trusted facts (purchases, returns, support tickets, traits) or link a visitor to
//! a customer.

use std::collections::BTreeMap;

use hmac::{Hmac, Mac};
use rapport_protocol::server::{
    validate_customer_id, validate_trait, CustomerUpdate, ServerEvent, ServerEventData,
    MAX_SERVER_EVENTS, MAX_TRAITS,
};
use rapport_protocol::MAX_BATCH_BYTES;
use serde::Deserialize;
use serde_json::value::RawValue;
use sha2::Sha256;
use subtle::ConstantTimeEq;
use worker::{Env, Method, Request, Response};

use crate::api::{batch_answer, check_id, field_path, parse, read_body, rejection};
use crate::customer::{self, Timed};
use crate::error::{json_response, ApiError};
use crate::visitor::now_ms;

type HmacSha256 = Hmac<Sha256>;

/// A server event's time may be ahead of the edge's clock by this much (clock skew).
const FUTURE_TOLERANCE_MS: i64 = 5 * 60 * 1000;

/// The site whose server key the request carries (`Authorization: Bearer KEY`). Keys are
/// the `SERVER_KEYS` secret, `{"site": "key", ...}`; each is compared in constant time, and
/// all of them are, so the time taken says nothing about which one nearly matched.
fn server_site(req: &Request, env: &Env) -> Result<String, ApiError> {
    let keys = server_keys(env)?;
    let given = req
        .headers()
        .get("authorization")
        .ok()
        .flatten()
        .and_then(|h| h.strip_prefix("Bearer ").map(str::to_owned))
        .unwrap_or_default();
    let mut found = None;
    for (site, key) in &keys {
        let matches = !key.is_empty() && bool::from(given.as_bytes().ct_eq(key.as_bytes()));
        if matches {
            found = Some(site.clone());
        }
    }
    found.ok_or(ApiError::Unauthorized)
}

fn server_keys(env: &Env) -> Result<BTreeMap<String, String>, ApiError> {
    env.secret("SERVER_KEYS")
        .ok()
        .and_then(|s| serde_json::from_str(&s.to_string()).ok())
        .filter(|keys: &BTreeMap<String, String>| !keys.is_empty())
        .ok_or(ApiError::NotConfigured("SERVER_KEYS"))
}

/// What a shop's server signs to vouch, in a page it renders, that the shopper is signed in
/// as `customer_id`: the hex of HMAC-SHA256(server key, customer id).
fn identity_signature(server_key: &str, customer_id: &str) -> String {
    let mut mac = HmacSha256::new_from_slice(server_key.as_bytes()).expect("any key length");
    mac.update(customer_id.as_bytes());
    crate::preview::hex(&mac.finalize().into_bytes())
}

/// Checks a browser `identify`'s signature against the site's server key, in constant time.
pub fn verify_identity(
    env: &Env,
    site: &str,
    customer_id: &str,
    signature: &str,
) -> Result<(), ApiError> {
    let keys = server_keys(env)?;
    let expected = keys
        .get(site)
        .filter(|key| !key.is_empty())
        .map(|key| identity_signature(key, customer_id))
        .ok_or(ApiError::NotConfigured("SERVER_KEYS"))?;
    let given = signature.trim().to_ascii_lowercase();
    if bool::from(given.as_bytes().ct_eq(expected.as_bytes())) {
        Ok(())
    } else {
        Err(ApiError::Forbidden {
            field: "signature".into(),
            message: "the signature is not this customer id's, signed with the site's server key"
                .into(),
        })
    }
}

pub async fn route(req: Request, env: &Env, path: &str) -> Result<Response, ApiError> {
    let site = server_site(&req, env)?;
    match (req.method(), path) {
        (Method::Post, "events") => events(req, env, &site).await,
        (method, p) if p.starts_with("customers/") => {
            let customer_id = &p["customers/".len()..];
            validate_customer_id(customer_id)
                .map_err(|rule| ApiError::bad("customer_id", format!("`customer_id` {rule}")))?;
            match method {
                Method::Put => put_customer(req, env, &site, customer_id).await,
                Method::Get => Ok(json_response(
                    &customer::get(env, &site, customer_id).await?,
                    200,
                )),
                _ => Err(ApiError::MethodNotAllowed),
            }
        }
        (_, "events") => Err(ApiError::MethodNotAllowed),
        _ => Err(ApiError::NotFound),
    }
}

#[derive(Deserialize)]
struct RawBatch<'a> {
    /// Optional; when given it must be the key's own site.
    #[serde(default)]
    site: Option<String>,
    #[serde(borrow)]
    events: Vec<&'a RawValue>,
}

/// `POST /v1/server/events`: like the browser's batches, each event is checked on its own
/// and a bad one never costs the others; events are stored once per id.
async fn events(req: Request, env: &Env, site: &str) -> Result<Response, ApiError> {
    let body = read_body(req, MAX_BATCH_BYTES).await?;
    let batch: RawBatch<'_> = parse(&body, "")?;
    if let Some(named) = batch.site.as_deref().filter(|s| *s != site) {
        return Err(ApiError::Forbidden {
            field: "site".into(),
            message: format!("this server key is not for the site \"{named}\""),
        });
    }
    if batch.events.len() > MAX_SERVER_EVENTS {
        return Err(ApiError::bad(
            "events",
            format!("a batch holds at most {MAX_SERVER_EVENTS} events"),
        ));
    }
    let now = now_ms();
    let mut by_customer: Vec<(String, Vec<Timed>)> = Vec::new();
    let mut rejected = Vec::new();
    for (index, raw) in batch.events.iter().enumerate() {
        match check_event(raw.get(), &format!("events[{index}]"), now) {
            Ok(timed) => {
                let customer_id = timed.event.customer_id.clone();
                match by_customer.iter_mut().find(|(c, _)| *c == customer_id) {
                    Some((_, list)) => list.push(timed),
                    None => by_customer.push((customer_id, vec![timed])),
                }
            }
            Err(ApiError::BadRequest { field, message }) => {
                rejected.push(rejection(index, raw.get(), field, message))
            }
            Err(other) => return Err(other),
        }
    }
    let mut accepted = Vec::new();
    let mut duplicates = Vec::new();
    for (customer_id, events) in &by_customer {
        let stored = customer::ingest(env, site, customer_id, events).await?;
        accepted.extend(stored.accepted);
        duplicates.extend(stored.duplicates);
    }
    Ok(batch_answer(accepted, duplicates, rejected))
}

/// Parses and checks one server event, naming the field at fault.
fn check_event(raw: &str, prefix: &str, now: i64) -> Result<Timed, ApiError> {
    let event: ServerEvent =
        parse(raw, prefix).map_err(|err| locate_error(raw, prefix).unwrap_or(err))?;
    check_id(&format!("{prefix}.id"), &event.id)?;
    validate_customer_id(&event.customer_id).map_err(|rule| {
        ApiError::bad(
            format!("{prefix}.customer_id"),
            format!("`customer_id` {rule}"),
        )
    })?;
    match &event.data {
        ServerEventData::Identify(identify) => {
            check_id(&format!("{prefix}.visitor_id"), &identify.visitor_id)?
        }
        ServerEventData::Purchase(purchase) => {
            check_amount(&format!("{prefix}.value"), purchase.value)?;
            if let Some(visitor_id) = &purchase.visitor_id {
                check_id(&format!("{prefix}.visitor_id"), visitor_id)?;
            }
        }
        ServerEventData::Return(returned) => {
            check_amount(&format!("{prefix}.value"), returned.value)?
        }
        ServerEventData::SupportTicket(_) => {}
    }
    let at_ms = match &event.time {
        None => now,
        Some(time) => {
            let at = rapport_rules::parse_time(time)
                .map_err(|e| ApiError::bad(format!("{prefix}.time"), e))?;
            if at > now + FUTURE_TOLERANCE_MS {
                return Err(ApiError::bad(
                    format!("{prefix}.time"),
                    "`time` is in the future",
                ));
            }
            at
        }
    };
    Ok(Timed { event, at_ms })
}

fn check_amount(field: &str, value: f64) -> Result<(), ApiError> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(ApiError::bad(field, "an amount is a number of at least 0"))
    }
}

/// Names the field at fault in a server event that failed to parse.
fn locate_error(raw: &str, prefix: &str) -> Option<ApiError> {
    let value: serde_json::Value = serde_json::from_str(raw).ok()?;
    let Some(kind) = value.get("type").and_then(|k| k.as_str()) else {
        return Some(ApiError::bad(
            format!("{prefix}.type"),
            "a server event needs a `type`: purchase, return, support_ticket or identify",
        ));
    };
    let mut track = serde_path_to_error::Track::new();
    let deserializer = serde_path_to_error::Deserializer::new(&value, &mut track);
    match ServerEventData::check_payload(kind, deserializer) {
        Err(err) => {
            let message = err.to_string();
            Some(ApiError::bad(
                field_path(prefix, &track.path().to_string(), &message),
                message,
            ))
        }
        Ok(false) => Some(ApiError::bad(
            format!("{prefix}.type"),
            format!(
                "unknown server event type \"{kind}\" (purchase, return, support_ticket or identify)"
            ),
        )),
        Ok(true) => None,
    }
}

/// `PUT /v1/server/customers/{id}`: replaces the customer's traits.
async fn put_customer(
    req: Request,
    env: &Env,
    site: &str,
    customer_id: &str,
) -> Result<Response, ApiError> {
    let body = read_body(req, 64 * 1024).await?;
    let update: CustomerUpdate = parse(&body, "")?;
    if update.traits.len() > MAX_TRAITS {
        return Err(ApiError::bad(
            "traits",
            format!("a customer has at most {MAX_TRAITS} traits"),
        ));
    }
    for (name, value) in &update.traits {
        validate_trait(name, value).map_err(|m| ApiError::bad(format!("traits.{name}"), m))?;
    }
    let customer = customer::set_traits(env, site, customer_id, &update).await?;
    Ok(json_response(&customer, 200))
}
