//! The server-to-server API under `/v1/server/`: the retailer's own systems report what
//! happens outside the site, with a secret server key per site. Only these endpoints can
//! change trusted facts (purchases, returns, support tickets, traits) or link a visitor to
//! a customer.

use rapport_protocol::server::{
    validate_customer_id, validate_trait, CustomerUpdate, ServerEvent, ServerEventData,
    MAX_ORDER_ITEMS, MAX_SERVER_EVENTS, MAX_TRAITS,
};
use rapport_protocol::MAX_BATCH_BYTES;
use serde::Deserialize;
use serde_json::value::RawValue;
use worker::{Env, Request, Response};

use super::check_id;
use crate::clock::now_ms;
use crate::error::{ApiError, Context};
use crate::http::{json_response, locate_payload_error, parse, read_body, BatchAnswer};
use crate::objects::catalogue::{self, Feed};
use crate::objects::customer::{self, Timed};
use rapport_recs::catalogue::Learnt;

/// A server event's time may be ahead of the edge's clock by this much (clock skew).
const FUTURE_TOLERANCE_MS: i64 = 5 * 60 * 1000;

/// The largest customer update.
const MAX_CUSTOMER_BYTES: usize = 64 * 1024;

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
pub async fn events(req: Request, env: &Env, site: &str) -> Result<Response, ApiError> {
    let body = read_body(req, MAX_BATCH_BYTES).await?;
    let batch: RawBatch<'_> = parse(&body, "")?;
    if let Some(named) = batch.site.as_deref().filter(|s| *s != site) {
        return Err(ApiError::forbidden(
            "site",
            format!("this server key is not for the site \"{named}\""),
        ));
    }
    if batch.events.len() > MAX_SERVER_EVENTS {
        return Err(ApiError::bad(
            "events",
            format!("a batch holds at most {MAX_SERVER_EVENTS} events"),
        ));
    }
    let now = now_ms();
    let mut by_customer: Vec<(String, Vec<Timed>)> = Vec::new();
    let mut answer = BatchAnswer::default();
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
                answer.reject(index, raw.get(), field, message)
            }
            Err(other) => return Err(other),
        }
    }
    // What the orders first stored now list teaches the catalogue what sells and what is
    // bought together: product ids only, once per order (a replayed event is a duplicate).
    let mut bought = Learnt {
        at_ms: now,
        ..Learnt::default()
    };
    for (customer_id, events) in by_customer {
        let orders: Vec<(String, Vec<String>)> = events
            .iter()
            .filter_map(|timed| match &timed.event.data {
                ServerEventData::Purchase(p) if !p.items.is_empty() => {
                    Some((timed.event.id.clone(), p.items.clone()))
                }
                _ => None,
            })
            .collect();
        let stored = customer::ingest(env, site, &customer_id, events).await?;
        for (id, items) in orders {
            if stored.accepted.contains(&id) {
                bought.ordered.push(items);
            }
        }
        answer.accepted.extend(stored.accepted);
        answer.duplicates.extend(stored.duplicates);
    }
    // The events are stored: a catalogue that cannot take the orders now only misses them.
    if !bought.is_empty() {
        if let Err(err) = catalogue::learn(env, site, &bought).await {
            worker::console_error!("the catalogue did not take the orders' products: {err}");
        }
    }
    Ok(answer.into_response())
}

/// Parses and checks one server event, naming the field at fault.
fn check_event(raw: &str, prefix: &str, now: i64) -> Result<Timed, ApiError> {
    let event: ServerEvent = parse(raw, prefix).map_err(|err| locate_error(raw, prefix, err))?;
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
            if purchase.items.len() > MAX_ORDER_ITEMS {
                return Err(ApiError::bad(
                    format!("{prefix}.items"),
                    format!("a purchase lists at most {MAX_ORDER_ITEMS} products"),
                ));
            }
            for (index, id) in purchase.items.iter().enumerate() {
                if id.trim().is_empty() || id.chars().count() > 128 {
                    return Err(ApiError::bad(
                        format!("{prefix}.items[{index}]"),
                        "a product id is 1 to 128 characters",
                    ));
                }
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

/// The field at fault in a server event that failed to parse: its `type`, when missing or
/// unknown, or the payload's own field.
fn locate_error(raw: &str, prefix: &str, parsed: ApiError) -> ApiError {
    let Ok(value) = serde_json::from_str::<serde_json::Value>(raw) else {
        return parsed;
    };
    if value.get("type").and_then(|k| k.as_str()).is_none() {
        return ApiError::bad(
            format!("{prefix}.type"),
            "a server event needs a `type`: purchase, return, support_ticket or identify",
        );
    }
    locate_payload_error::<ServerEventData>(raw, prefix, |kind| {
        format!(
            "unknown server event type \"{kind}\" (purchase, return, support_ticket or identify)"
        )
    })
    .unwrap_or(parsed)
}

fn check_amount(field: &str, value: f64) -> Result<(), ApiError> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(ApiError::bad(field, "an amount is a number of at least 0"))
    }
}

fn check_customer_id(customer_id: &str) -> Result<(), ApiError> {
    validate_customer_id(customer_id)
        .map_err(|rule| ApiError::bad("customer_id", format!("`customer_id` {rule}")))
}

/// The most products (and stock changes) one feed holds.
const MAX_PRODUCTS: usize = 500;

#[derive(Deserialize)]
struct RawFeed<'a> {
    #[serde(default, borrow)]
    products: Vec<&'a RawValue>,
    #[serde(default, borrow)]
    stock: Vec<&'a RawValue>,
}

#[derive(Deserialize)]
struct Stock {
    id: String,
    available: bool,
}

/// `POST /v1/server/products`: the shop's products, which win over what its pages show,
/// and stock changes (sold out, back in stock). Each is checked on its own: a bad one is
/// refused with its field named and never costs the others.
pub async fn products(req: Request, env: &Env, site: &str) -> Result<Response, ApiError> {
    let body = read_body(req, MAX_BATCH_BYTES).await?;
    let feed: RawFeed<'_> = parse(&body, "")?;
    if feed.products.len() + feed.stock.len() > MAX_PRODUCTS {
        return Err(ApiError::bad(
            "products",
            format!("a feed holds at most {MAX_PRODUCTS} products and stock changes"),
        ));
    }
    let mut answer = BatchAnswer::default();
    let mut checked = Feed {
        at_ms: now_ms(),
        ..Feed::default()
    };
    let mut rejected = Vec::new();
    for (index, raw) in feed.products.iter().enumerate() {
        let prefix = format!("products[{index}]");
        let product: Result<rapport_recs::products::Product, ApiError> = parse(raw.get(), &prefix);
        match product.map(|p| p.checked()) {
            Ok(Ok(product)) => checked.products.push(product),
            Ok(Err(refused)) => {
                let field = format!("{prefix}.{}", refused.field);
                rejected.push((index, raw.get(), Some(field), refused.message));
            }
            Err(ApiError::BadRequest { field, message }) => {
                rejected.push((index, raw.get(), field, message))
            }
            Err(other) => return Err(other),
        }
    }
    let offset = feed.products.len();
    let mut stocked = Vec::new();
    for (index, raw) in feed.stock.iter().enumerate() {
        match parse::<Stock>(raw.get(), &format!("stock[{index}]")) {
            Ok(stock) => {
                stocked.push((offset + index, raw.get(), index, stock.id.clone()));
                checked.stock.push((stock.id, stock.available))
            }
            Err(ApiError::BadRequest { field, message }) => {
                rejected.push((offset + index, raw.get(), field, message))
            }
            Err(other) => return Err(other),
        }
    }
    let fed = catalogue::feed(env, site, checked).await?;
    for (at, raw, index, id) in stocked {
        if !fed.taken.contains(&id) {
            let message = format!("no product \"{id}\" in the catalogue yet: feed it first");
            rejected.push((at, raw, Some(format!("stock[{index}].id")), message));
        }
    }
    answer.accepted = fed.taken;
    for (index, raw, field, message) in rejected {
        answer.reject(index, raw, field, message);
    }
    Ok(answer.into_response())
}

/// `GET /v1/server/products`: how many products the site's catalogue has, shard by shard.
pub async fn catalogue(env: &Env, site: &str) -> Result<Response, ApiError> {
    let shards = catalogue::counts(env, site).await?;
    let body = serde_json::json!({ "products": shards.iter().sum::<u64>(), "shards": shards });
    Ok(json_response(&body, 200))
}

/// `GET /v1/server/customers/{id}`: the customer's facts and linked visitors.
pub async fn get_customer(env: &Env, site: &str, customer_id: &str) -> Result<Response, ApiError> {
    check_customer_id(customer_id)?;
    let facts = customer::get(env, site, customer_id).await?;
    let body = serde_json::to_value(&facts).context("encoding a customer")?;
    Ok(json_response(&body, 200))
}

/// `PUT /v1/server/customers/{id}`: replaces the customer's traits.
pub async fn put_customer(
    req: Request,
    env: &Env,
    site: &str,
    customer_id: &str,
) -> Result<Response, ApiError> {
    check_customer_id(customer_id)?;
    let body = read_body(req, MAX_CUSTOMER_BYTES).await?;
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
    let facts = customer::set_traits(env, site, customer_id, update).await?;
    let body = serde_json::to_value(&facts).context("encoding a customer")?;
    Ok(json_response(&body, 200))
}
