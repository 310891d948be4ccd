//! What shops' pages call with the public site key: `GET /v1/sites/{site}`, `POST
//! /v1/events`, `/v1/decide`, `/v1/forget` and `/v1/identify`; and `GET /v1/health`.
//!
//! A site key is public, so every call is fenced: the site must be served, the page's origin
//! allowed for it, and the visitor and the address within their rate limits.

use rapport_protocol::server::{Identify, ServerEvent, ServerEventData};
use rapport_protocol::{
    DecideRequest, Decision, Event, EventData, ForgetRequest, IdentifyRequest, MAX_EVENT_BYTES,
};
use serde::Deserialize;
use serde_json::{json, value::RawValue};
use worker::{Env, Request, Response};

use super::{check_id, check_site, erase_visitor};
use crate::auth;
use crate::clock::{self, now_ms};
use crate::config;
use crate::error::{ApiError, Context};
use crate::http::{
    self, header, json_response, json_text, locate_payload_error, parse, read_body, BatchAnswer,
};
use crate::limits;
use crate::objects::{customer, visitor, Ingested};
use crate::preview;
use crate::sites::{ConsentMode, Sites};

/// `GET /v1/health`: the build, and the active rulebook's version (503 if it does not
/// compile).
pub async fn health(env: &Env) -> Response {
    let version = config::build_version(env);
    match crate::objects::rulebooks::current(env).await {
        Ok(book) => json_response(
            &json!({ "status": "ok", "version": version, "rulebook": book.version() }),
            200,
        ),
        Err(problems) => {
            worker::console_error!("the active rulebook does not compile:\n{problems}");
            json_response(
                &json!({ "status": "degraded", "version": version, "rulebook": null }),
                503,
            )
        }
    }
}

/// Where a request comes from, for the checks that need it after its body is read.
struct Caller {
    origin: Option<String>,
    /// The edge's own origin, from the request URL.
    own_origin: String,
    address: String,
    /// When the request happened, by the edge's clock ([`clock::request_ms`]).
    at_ms: i64,
}

impl Caller {
    fn of(req: &Request, env: &Env) -> Result<Caller, ApiError> {
        let own_origin = req
            .url()
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_default();
        Ok(Caller {
            origin: header(req, "origin"),
            own_origin,
            address: header(req, "cf-connecting-ip").unwrap_or_else(|| "unknown".to_owned()),
            at_ms: clock::request_ms(req, env)?,
        })
    }

    /// A browser page may use a site's key only from the edge's own origin or one the site
    /// allows; requests without an `Origin` (servers, tools) are not browser pages.
    fn check_origin(&self, sites: &Sites, site: &str) -> Result<(), ApiError> {
        match &self.origin {
            Some(origin) if *origin != self.own_origin && !sites.allows(site, origin) => {
                http::refused_origin(origin);
                Err(ApiError::forbidden(
                    "origin",
                    format!("pages on {origin} may not use the site key \"{site}\""),
                ))
            }
            _ => Ok(()),
        }
    }

    /// Everything a browser call checks once its body is read: the site, the page's origin
    /// for that site, the visitor id (when the call names a visitor), and the rate limits.
    async fn admit(
        &self,
        env: &Env,
        sites: &Sites,
        site: &str,
        visitor_id: Option<&str>,
    ) -> Result<(), ApiError> {
        check_site(sites, site)?;
        self.check_origin(sites, site)?;
        if let Some(visitor_id) = visitor_id {
            check_id("visitor_id", visitor_id)?;
        }
        limits::check(env, site, visitor_id, &self.address).await
    }
}

/// What a site-key call carries for the router to admit it: its site in the path, or a
/// body of at most `limit` bytes naming the site and the visitor (which a decision may
/// leave out: a shopper without consent keeps no id).
#[derive(Debug, Clone, Copy)]
pub enum Carries<'a> {
    Path(&'a str),
    Body {
        limit: usize,
        visitor_optional: bool,
    },
}

/// A page's call the router admitted with the site key: the site it is for, when it
/// happened (by the edge's clock, [`clock::request_ms`]), and its body, which the route's
/// handler reads as its request.
#[derive(Debug)]
pub struct Page {
    pub site: String,
    pub at_ms: i64,
    body: String,
}

/// What every site-key body says first: the site, and the visitor the call is for.
#[derive(Deserialize)]
struct Envelope {
    site: String,
    #[serde(default)]
    visitor_id: Option<String>,
}

impl Page {
    /// Reads who is calling and what site and visitor the call names, and admits it (see
    /// [`Caller::admit`]), before any handler runs.
    pub async fn admit(
        req: Request,
        env: &Env,
        sites: &Sites,
        carries: Carries<'_>,
    ) -> Result<Page, ApiError> {
        let caller = Caller::of(&req, env)?;
        let (site, visitor, body) = match carries {
            Carries::Path(site) => (site.to_owned(), None, String::new()),
            Carries::Body {
                limit,
                visitor_optional,
            } => {
                let body = read_body(req, limit).await?;
                let envelope: Envelope = parse(&body, "")?;
                let visitor = match envelope.visitor_id {
                    Some(id) if visitor_optional && id.is_empty() => None,
                    None if visitor_optional => None,
                    id => Some(id.unwrap_or_default()),
                };
                (envelope.site, visitor, body)
            }
        };
        caller.admit(env, sites, &site, visitor.as_deref()).await?;
        Ok(Page {
            site,
            at_ms: caller.at_ms,
            body,
        })
    }

    /// The body as the route's request, naming the field at fault.
    fn read<'a, T: Deserialize<'a>>(&'a self) -> Result<T, ApiError> {
        parse(&self.body, "")
    }
}

/// `GET /v1/sites/{site}`: what the widget needs to know of its site before it stores or
/// sends anything, today whether the site requires opt-in consent. The loader asks for it
/// while the wasm module loads; browsers keep the answer for five minutes.
pub fn site_settings(page: &Page, sites: &Sites) -> Response {
    let response = json_response(
        &json!({ "site": page.site, "consent": sites.consent(&page.site) }),
        200,
    );
    let _ = response.headers().set("cache-control", "max-age=300");
    response
}

/// The events a decision request may carry (`DecideRequest` leaves them out), each read on
/// its own.
#[derive(Deserialize)]
struct Carried<'a> {
    #[serde(borrow, default)]
    events: Vec<&'a RawValue>,
}

#[derive(Deserialize)]
struct RawBatch<'a> {
    site: String,
    visitor_id: String,
    #[serde(borrow)]
    events: Vec<&'a RawValue>,
}

/// `POST /v1/events`: validates each event on its own, so one bad event never costs the
/// others; stores the valid ones once each, by id.
pub async fn events(page: Page, env: &Env, sites: &Sites) -> Result<Response, ApiError> {
    let batch: RawBatch<'_> = page.read()?;
    let (valid, mut answer) = check_events(&batch.events)?;
    if !valid.is_empty() {
        let opt_in = sites.consent(&batch.site) == ConsentMode::OptIn;
        let stored = visitor::ingest(
            env,
            &batch.site,
            &batch.visitor_id,
            valid,
            opt_in,
            page.at_ms,
        )
        .await?;
        answer = stored_in(answer, stored);
    }
    Ok(answer.into_response())
}

/// `answer` with what the visitor's object did with the valid events.
fn stored_in(mut answer: BatchAnswer, stored: Ingested) -> BatchAnswer {
    answer.accepted = stored.accepted;
    answer.duplicates = stored.duplicates;
    answer.withheld = stored.withheld;
    answer
}

/// The valid events of a batch, and the answer with the others refused, each with the field
/// at fault.
fn check_events(events: &[&RawValue]) -> Result<(Vec<Event>, BatchAnswer), ApiError> {
    let mut valid: Vec<Event> = Vec::with_capacity(events.len());
    let mut answer = BatchAnswer::default();
    for (index, raw) in events.iter().enumerate() {
        match check_event(raw.get(), &format!("events[{index}]")) {
            Ok(event) => valid.push(event),
            Err(ApiError::BadRequest { field, message }) => {
                answer.reject(index, raw.get(), field, message)
            }
            Err(other) => return Err(other),
        }
    }
    Ok((valid, answer))
}

/// Parses and checks one browser event, naming the field at fault.
fn check_event(raw: &str, prefix: &str) -> Result<Event, ApiError> {
    if raw.len() > MAX_EVENT_BYTES {
        return Err(ApiError::bad(
            prefix,
            format!("an event may be at most {MAX_EVENT_BYTES} bytes"),
        ));
    }
    // Plain parsing first; only a bad event pays for locating its fault.
    let event = serde_json::from_str::<Event>(raw).or_else(|_| {
        parse::<Event>(raw, prefix).map_err(|err| {
            locate_payload_error::<EventData>(raw, prefix, |kind| {
                format!("unknown event type \"{kind}\"")
            })
            .unwrap_or(err)
        })
    })?;
    check_id(&format!("{prefix}.id"), &event.id)?;
    check_id(&format!("{prefix}.session_id"), &event.session_id)?;
    Ok(event)
}

/// `POST /v1/decide`. After the request is validated, nothing makes it fail: if the rulebook
/// or storage has a problem, the shopper's page gets an empty decision and the log gets why.
/// A request may carry the page's waiting `events` (as `POST /v1/events` takes them): they
/// are stored once each before the decision, which sees them, and the answer's `events` says
/// what became of each, so a page view costs the shopper one round trip.
/// A request may name no visitor and no session (a shopper who has not consented keeps no
/// identifier): it is decided for a visitor the edge knows nothing about.
pub async fn decide(page: Page, env: &Env, sites: &Sites) -> Result<Response, ApiError> {
    let request: DecideRequest = page.read()?;
    let carried: Carried<'_> = page.read()?;
    // A visitor id comes without a session once: a shopper who has just withheld consent
    // to analytics, whose page tells the edge with the id the browser no longer keeps.
    if !request.session_id.is_empty() {
        check_id("session_id", &request.session_id)?;
    }
    // A preview link that is forged, expired or for another site (shared too widely, opened
    // a week later) must not empty the shopper's page: they get the usual decision, and the
    // answer says why the preview is not shown.
    let (preview, preview_error) = match &request.preview {
        None => (None, None),
        Some(token) => match auth::preview_key(env) {
            Ok(key) => match preview::verify(token, &key, &request.site, now_ms() / 1000) {
                Ok(claims) => (Some(claims), None),
                Err(why) => (None, Some(why)),
            },
            Err(_) => (
                None,
                Some("previews are not set up on this edge (no PREVIEW_KEY)"),
            ),
        },
    };
    if !carried.events.is_empty() && request.visitor_id.is_empty() {
        return Err(ApiError::bad(
            "visitor_id",
            "events need the visitor they happened to: `visitor_id` is empty",
        ));
    }
    let (events, answer) = check_events(&carried.events)?;
    // Events that were all refused have nothing to store, and their answer is complete.
    let all_refused = events.is_empty() && !carried.events.is_empty();
    let asked = now_ms();
    let opt_in = sites.consent(&request.site) == ConsentMode::OptIn;
    let decided = visitor::decide(env, &request, preview, opt_in, page.at_ms, events).await;
    // What became of the events: none when the visitor's object could not take them.
    let (decided, stored) = match decided {
        Ok((decided, Some(stored))) => (Ok(decided), Some(stored_in(answer, stored))),
        Ok((decided, None)) => (Ok(decided), all_refused.then_some(answer)),
        Err(err) => (Err(err), all_refused.then_some(answer)),
    };
    let mut body = match decided {
        Ok(Ok(decision)) => decision,
        // A preview names what went wrong; a shopper's page just gets nothing to show.
        Ok(Err(refused)) => return Err(ApiError::bad("preview", refused)),
        Err(err) => {
            worker::console_error!("decide failed for {}: {err:?}", request.site);
            serde_json::to_string(&Decision::default()).context("encoding an empty decision")?
        }
    };
    // A page that says nothing of consent on a site that requires it has an old idea of the
    // site (its browser kept an id from before the site asked for opt-in): the answer says
    // so, and the widget lets go of the id.
    let unconsented = opt_in && request.consent.is_none();
    if let Some(why) = preview_error {
        body = with_field(&body, "preview_error", &why.into());
    }
    if unconsented {
        body = with_field(&body, "consent", &"required".into());
    }
    if let Some(stored) = stored {
        body = with_field(&body, "events", &stored.into_json());
    }
    // The object's JSON passes through as it is.
    let response = json_text(body, 200)?;
    // How long the visitor's object took, for the browser's network panel and for load tests.
    let took = now_ms() - asked;
    let _ = response
        .headers()
        .set("server-timing", &format!("visitor;dur={took}"));
    Ok(response)
}

/// The decision's JSON object with `key` added: written in front of the object's own fields,
/// so that the decision the object wrote (which most page views now extend with their
/// events' answer) is not parsed and written again.
fn with_field(object: &str, key: &str, value: &serde_json::Value) -> String {
    let fields = object.strip_prefix('{').unwrap_or(object);
    let comma = if fields.trim_start().starts_with('}') {
        ""
    } else {
        ","
    };
    format!("{{{}:{value}{comma}{fields}", serde_json::Value::from(key))
}

/// `POST /v1/forget` (site key): the shopper's own request to be forgotten, from the
/// widget's `forget` command. Only the browser holding the random visitor id can name it.
pub async fn forget(page: Page, env: &Env) -> Result<Response, ApiError> {
    let request: ForgetRequest = page.read()?;
    let events = erase_visitor(env, &request.site, &request.visitor_id, None).await?;
    Ok(json_response(
        &json!({ "erased": true, "events": events }),
        200,
    ))
}

/// `POST /v1/identify` (site key): the widget's `identify` command links the visitor to a
/// customer account, as a server `identify` event would, once the shop's signature proves
/// the shop's server vouched for it. From then on the visitor's decisions see the
/// customer's trusted facts.
pub async fn identify(page: Page, env: &Env) -> Result<Response, ApiError> {
    let request: IdentifyRequest = page.read()?;
    let now = page.at_ms;
    rapport_protocol::server::validate_customer_id(&request.customer_id)
        .map_err(|rule| ApiError::bad("customer_id", format!("`customer_id` {rule}")))?;
    auth::verify_identity(env, &request.site, &request.customer_id, &request.signature)?;
    let event = ServerEvent {
        // Each call links anew, so a shared browser that goes back to an earlier account gets
        // that account's facts again; the widget asks only when the customer changes.
        id: identify_event_id(&request.visitor_id, now),
        customer_id: request.customer_id.clone(),
        time: None,
        data: ServerEventData::Identify(Identify {
            visitor_id: request.visitor_id.clone(),
        }),
    };
    let timed = customer::Timed { event, at_ms: now };
    customer::ingest(env, &request.site, &request.customer_id, vec![timed]).await?;
    Ok(json_response(&json!({ "identified": true }), 200))
}

/// `identify-` and 40 hex digits of the SHA-256 of the visitor id and the time: within the
/// length an event id may have, whatever the visitor id's.
fn identify_event_id(visitor_id: &str, now_ms: i64) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("{visitor_id}\0{now_ms}").as_bytes());
    format!("identify-{}", hex::encode(&digest[..20]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_is_added_to_the_decision_without_reading_it() {
        let read = |text: String| serde_json::from_str::<serde_json::Value>(&text).unwrap();
        let decision = r#"{"experiences":[],"rulebook":"rb-1"}"#;
        assert_eq!(
            read(with_field(
                decision,
                "events",
                &json!({ "accepted": ["e1"] })
            )),
            json!({ "experiences": [], "rulebook": "rb-1", "events": { "accepted": ["e1"] } })
        );
        assert_eq!(
            read(with_field("{ }", "consent", &"required".into())),
            json!({ "consent": "required" })
        );
        assert_eq!(
            read(with_field(decision, "quote\"d", &json!(1)))["quote\"d"],
            json!(1)
        );
    }
}
