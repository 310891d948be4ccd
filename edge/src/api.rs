//! The HTTP API under `/v1/`. Handlers parse and validate, call the visitor's Durable Object,
//! and shape the answer; they hold no decision logic. Documented in docs/api.md.

use rapport_protocol::{
    validate_id, DecideRequest, Decision, Event, EventData, ForgetRequest, IdentifyRequest,
    MAX_BATCH_BYTES, MAX_EVENT_BYTES,
};
use serde::Deserialize;
use serde_json::{json, value::RawValue};
use subtle::ConstantTimeEq;
use worker::{Env, Method, Request, Response};

use crate::customer;
use crate::error::{json_response, json_text, ApiError};
use crate::preview;
use crate::reports;
use crate::rulebook;
use crate::rulebooks;
use crate::server_api;
use crate::sites::Sites;
use crate::visitor;

/// The build this edge runs: the `RAPPORT_BUILD` variable (`cargo xtask` passes the crate
/// version and the commit; `wrangler deploy --var RAPPORT_BUILD:...` does the same), or the
/// crate version. A variable rather than a constant, so a new commit does not change the
/// wasm.
fn build_version(env: &Env) -> String {
    env.var("RAPPORT_BUILD")
        .map(|v| v.to_string())
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| env!("CARGO_PKG_VERSION").to_owned())
}

pub async fn handle(req: Request, env: &Env) -> Response {
    let origin = header(&req, "origin");
    let sites = sites(env);
    if req.method() == Method::Options {
        return preflight(origin.as_deref(), &sites);
    }
    let response = match route(req, env, &sites).await {
        Ok(response) => response,
        Err(err) => err.into_response(),
    };
    // A page on an allowed origin may read the answer, errors included.
    if let Some(origin) = origin.filter(|o| sites.any_allows(o)) {
        let _ = response
            .headers()
            .set("access-control-allow-origin", &origin);
        let _ = response.headers().set("vary", "Origin");
    }
    response
}

fn header(req: &Request, name: &str) -> Option<String> {
    req.headers().get(name).ok().flatten()
}

fn sites(env: &Env) -> Sites {
    let text = env.var("SITES").map(|v| v.to_string()).unwrap_or_default();
    Sites::parse(&text).unwrap_or_else(|err| {
        worker::console_error!("the SITES variable is invalid, serving no site: {err}");
        Sites::default()
    })
}

/// Answers a CORS preflight. The widget's own calls never need one (they are simple
/// requests); other browser clients on an allowed origin may.
fn preflight(origin: Option<&str>, sites: &Sites) -> Response {
    let response = Response::empty()
        .unwrap_or_else(|_| Response::ok("").expect("an empty body"))
        .with_status(204);
    if let Some(origin) = origin.filter(|o| sites.any_allows(o)) {
        let headers = response.headers();
        let _ = headers.set("access-control-allow-origin", origin);
        let _ = headers.set("access-control-allow-methods", "POST, GET");
        let _ = headers.set("access-control-allow-headers", "content-type");
        let _ = headers.set("access-control-max-age", "86400");
        let _ = headers.set("vary", "Origin");
    }
    response
}

/// Where a request comes from, for the checks that need it after its body is read.
struct Caller {
    origin: Option<String>,
    /// The edge's own origin, from the request URL.
    own_origin: String,
    address: String,
}

impl Caller {
    fn of(req: &Request) -> Caller {
        let own_origin = req
            .url()
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_default();
        Caller {
            origin: header(req, "origin"),
            own_origin,
            address: header(req, "cf-connecting-ip").unwrap_or_else(|| "unknown".to_owned()),
        }
    }

    /// A browser page may use a site's key only from the edge's own origin or one the site
    /// allows; requests without an `Origin` (servers, tools) are not browser pages.
    fn check_origin(&self, sites: &Sites, site: &str) -> Result<(), ApiError> {
        match &self.origin {
            Some(origin) if *origin != self.own_origin && !sites.allows(site, origin) => {
                Err(ApiError::Forbidden {
                    field: "origin".into(),
                    message: format!("pages on {origin} may not use the site key \"{site}\""),
                })
            }
            _ => Ok(()),
        }
    }
}

/// Counts a request against the visitor's and the address's limits (Cloudflare rate-limit
/// bindings). Where a binding is not configured, there is no limit.
async fn limit(env: &Env, site: &str, visitor_id: &str, caller: &Caller) -> Result<(), ApiError> {
    for (binding, key) in [
        ("VISITOR_LIMITER", format!("visitor:{site}:{visitor_id}")),
        ("IP_LIMITER", format!("ip:{}", caller.address)),
    ] {
        let Ok(limiter) = env.rate_limiter(binding) else {
            continue;
        };
        let outcome = limiter.limit(key).await?;
        if !outcome.success {
            return Err(ApiError::RateLimited { retry_after: 60 });
        }
    }
    Ok(())
}

async fn route(req: Request, env: &Env, sites: &Sites) -> Result<Response, ApiError> {
    let path = req.path();
    match (req.method(), path.as_str()) {
        (Method::Get, "/v1/health") => Ok(health(env).await),
        (Method::Post, "/v1/events") => events(req, env, sites).await,
        (Method::Post, "/v1/decide") => decide(req, env, sites).await,
        (Method::Post, "/v1/forget") => forget(req, env, sites).await,
        (Method::Post, "/v1/identify") => identify(req, env, sites).await,
        (Method::Get, p) if p.starts_with("/v1/admin/visitors/") => {
            export_visitor(&req, env, sites, &p["/v1/admin/visitors/".len()..]).await
        }
        (Method::Delete, p) if p.starts_with("/v1/admin/visitors/") => {
            erase_visitor(&req, env, sites, &p["/v1/admin/visitors/".len()..]).await
        }
        (_, p) if p.starts_with("/v1/server/") => {
            server_api::route(req, env, &p["/v1/server/".len()..]).await
        }
        (Method::Post, "/v1/admin/previews") => create_preview(req, env, sites).await,
        (Method::Get, "/v1/admin/reports") => report(&req, env, sites).await,
        (method, p) if p == "/v1/admin/audit" || p.starts_with("/v1/admin/rulebooks") => {
            require_admin(&req, env)?;
            rulebook_admin(req, env, method, &p["/v1/admin/".len()..]).await
        }
        (_, "/v1/health" | "/v1/events" | "/v1/decide" | "/v1/forget" | "/v1/identify") => {
            Err(ApiError::MethodNotAllowed)
        }
        _ => Err(ApiError::NotFound),
    }
}

async fn health(env: &Env) -> Response {
    let version = build_version(env);
    match rulebook::active(env).await {
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

/// Reads a body of at most `limit` bytes, refusing larger ones before reading them when the
/// client declares its length.
pub(crate) async fn read_body(mut req: Request, limit: usize) -> Result<String, ApiError> {
    let declared = req
        .headers()
        .get("content-length")
        .ok()
        .flatten()
        .and_then(|l| l.parse::<usize>().ok());
    if declared.is_some_and(|l| l > limit) {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    let bytes = req.bytes().await?;
    if bytes.len() > limit {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    String::from_utf8(bytes).map_err(|_| ApiError::BadRequest {
        field: None,
        message: "the body must be UTF-8 JSON".into(),
    })
}

/// Parses JSON, naming the field at fault (`events[2].product.price`) when it does not fit.
pub(crate) fn parse<'de, T: Deserialize<'de>>(text: &'de str, prefix: &str) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        let message = err.inner().to_string();
        let field = field_path(prefix, &err.path().to_string(), &message);
        ApiError::BadRequest {
            field: (!field.is_empty()).then_some(field),
            message,
        }
    })
}

/// The field a serde error is about: `path` (as serde_path_to_error writes it, `.` or `?` for
/// the root) under `prefix`, and, for a missing field, the missing field itself, since serde
/// reports that at the object lacking it.
pub(crate) fn field_path(prefix: &str, path: &str, message: &str) -> String {
    let path = match path {
        "." | "?" => "",
        path => path,
    };
    let missing = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next())
        .unwrap_or_default();
    [prefix, path, missing]
        .into_iter()
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(".")
}

fn check_site(sites: &Sites, site: &str) -> Result<(), ApiError> {
    if sites.serves(site) {
        Ok(())
    } else {
        Err(ApiError::Forbidden {
            field: "site".into(),
            message: format!("\"{site}\" is not a site this edge serves"),
        })
    }
}

pub(crate) fn check_id(field: &str, id: &str) -> Result<(), ApiError> {
    validate_id(id).map_err(|e| ApiError::bad(field, format!("`{field}` {e}")))
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
async fn events(req: Request, env: &Env, sites: &Sites) -> Result<Response, ApiError> {
    let caller = Caller::of(&req);
    let body = read_body(req, MAX_BATCH_BYTES).await?;
    let batch: RawBatch<'_> = parse(&body, "")?;
    check_site(sites, &batch.site)?;
    caller.check_origin(sites, &batch.site)?;
    check_id("visitor_id", &batch.visitor_id)?;
    limit(env, &batch.site, &batch.visitor_id, &caller).await?;

    let mut valid: Vec<Event> = Vec::with_capacity(batch.events.len());
    let mut rejected = Vec::new();
    for (index, raw) in batch.events.iter().enumerate() {
        let prefix = format!("events[{index}]");
        let event = if raw.get().len() > MAX_EVENT_BYTES {
            Err(ApiError::bad(
                &prefix,
                format!("an event may be at most {MAX_EVENT_BYTES} bytes"),
            ))
        } else {
            // Plain parsing first; only a bad event pays for locating its fault.
            serde_json::from_str::<Event>(raw.get())
                .or_else(|_| {
                    parse::<Event>(raw.get(), &prefix)
                        .map_err(|err| locate_event_error(raw.get(), &prefix).unwrap_or(err))
                })
                .and_then(|event| {
                    check_id(&format!("{prefix}.id"), &event.id)?;
                    check_id(&format!("{prefix}.session_id"), &event.session_id)?;
                    Ok(event)
                })
        };
        match event {
            Ok(event) => valid.push(event),
            Err(ApiError::BadRequest { field, message }) => {
                rejected.push(rejection(index, raw.get(), field, message))
            }
            Err(other) => return Err(other),
        }
    }

    let stored = if valid.is_empty() {
        visitor::Ingested::default()
    } else {
        visitor::ingest(env, &batch.site, &batch.visitor_id, valid).await?
    };
    Ok(batch_answer(stored.accepted, stored.duplicates, rejected))
}

/// One rejected event of a batch: where it was, its id if it had one, and what is wrong.
pub(crate) fn rejection(
    index: usize,
    raw: &str,
    field: Option<String>,
    message: String,
) -> serde_json::Value {
    let id = serde_json::from_str::<serde_json::Value>(raw)
        .ok()
        .and_then(|v| v.get("id").and_then(|id| id.as_str()).map(str::to_owned));
    json!({ "index": index, "id": id, "field": field, "message": message })
}

/// The answer to a batch (browser or server): 200 with what was stored, already had and
/// refused; 400 naming the first refusal when nothing in the batch was valid.
pub(crate) fn batch_answer(
    accepted: Vec<String>,
    duplicates: Vec<String>,
    rejected: Vec<serde_json::Value>,
) -> Response {
    let nothing_valid = accepted.is_empty() && duplicates.is_empty() && !rejected.is_empty();
    let mut body = json!({ "accepted": accepted, "duplicates": duplicates, "rejected": rejected });
    if nothing_valid {
        body["error"] = json!({ "code": "bad_request", "message": "no event in the batch is valid",
                                "field": body["rejected"][0]["field"] });
        return json_response(&body, 400);
    }
    json_response(&body, 200)
}

/// Names the field at fault in an event that failed to parse, by reading its payload again
/// as the struct its `type` declares (see `EventData::check_payload`).
fn locate_event_error(raw: &str, prefix: &str) -> Option<ApiError> {
    let value: serde_json::Value = serde_json::from_str(raw).ok()?;
    let kind = value.get("type")?.as_str()?;
    let mut track = serde_path_to_error::Track::new();
    let deserializer = serde_path_to_error::Deserializer::new(&value, &mut track);
    match EventData::check_payload(kind, deserializer) {
        Err(err) => {
            let message = err.to_string();
            Some(ApiError::bad(
                field_path(prefix, &track.path().to_string(), &message),
                message,
            ))
        }
        Ok(false) => Some(ApiError::bad(
            format!("{prefix}.type"),
            format!("unknown event type \"{kind}\""),
        )),
        Ok(true) => None,
    }
}

/// A call a shop's pages make with the site key, for one visitor.
trait BrowserRequest: serde::de::DeserializeOwned {
    fn site(&self) -> &str;
    fn visitor_id(&self) -> &str;
}

macro_rules! browser_request {
    ($($request:ty),*) => {$(
        impl BrowserRequest for $request {
            fn site(&self) -> &str {
                &self.site
            }
            fn visitor_id(&self) -> &str {
                &self.visitor_id
            }
        }
    )*};
}
browser_request!(DecideRequest, ForgetRequest, IdentifyRequest);

/// What every browser call checks first: the body (at most one event's size), the site, the
/// page's origin for that site, the visitor id, and the rate limits.
async fn browser_request<T: BrowserRequest>(
    req: Request,
    env: &Env,
    sites: &Sites,
) -> Result<T, ApiError> {
    let caller = Caller::of(&req);
    let body = read_body(req, MAX_EVENT_BYTES).await?;
    let request: T = parse(&body, "")?;
    check_site(sites, request.site())?;
    caller.check_origin(sites, request.site())?;
    check_id("visitor_id", request.visitor_id())?;
    limit(env, request.site(), request.visitor_id(), &caller).await?;
    Ok(request)
}

/// `POST /v1/decide`. After the request is validated, nothing makes it fail: if the rulebook
/// or storage has a problem, the shopper's page gets an empty decision and the log gets why.
async fn decide(req: Request, env: &Env, sites: &Sites) -> Result<Response, ApiError> {
    let request: DecideRequest = browser_request(req, env, sites).await?;
    check_id("session_id", &request.session_id)?;
    let preview = match &request.preview {
        None => None,
        Some(token) => {
            let key = admin_token(env)?;
            let now_s = visitor::now_ms() / 1000;
            let experience = preview::verify(token, &key, &request.site, now_s).map_err(|m| {
                ApiError::Forbidden {
                    field: "preview".into(),
                    message: m.into(),
                }
            })?;
            Some(experience)
        }
    };
    let previewing = preview.is_some();
    let asked = worker::Date::now().as_millis();
    let body = match visitor::decide(env, &request, preview).await {
        Ok(decision) => decision,
        // A preview names what went wrong; a shopper's page just gets nothing to show.
        Err(err @ ApiError::BadRequest { .. }) if previewing => return Err(err),
        Err(err) => {
            worker::console_error!("decide failed for {}: {err:?}", request.site);
            serde_json::to_string(&Decision::default())
                .map_err(|e| ApiError::internal("decision", e))?
        }
    };
    // The object's JSON passes through as it is.
    let response = json_text(body, 200)?;
    // How long the visitor's object took, for the browser's network panel and for load tests.
    let took = worker::Date::now().as_millis() - asked;
    let _ = response
        .headers()
        .set("server-timing", &format!("visitor;dur={took}"));
    Ok(response)
}

#[derive(Deserialize)]
struct PreviewRequest {
    site: String,
    experience: String,
    #[serde(default = "default_preview_minutes")]
    minutes: u32,
}

fn default_preview_minutes() -> u32 {
    60
}

/// `POST /v1/admin/previews`: a token that shows one experience on the site's pages (add
/// `?rapport_preview=TOKEN` to a page URL, or pass `preview` to `/v1/decide`), whoever
/// opens them, until it expires.
async fn create_preview(req: Request, env: &Env, sites: &Sites) -> Result<Response, ApiError> {
    require_admin(&req, env)?;
    let body = read_body(req, MAX_EVENT_BYTES).await?;
    let request: PreviewRequest = parse(&body, "")?;
    check_site(sites, &request.site)?;
    if !(1..=preview::MAX_MINUTES).contains(&request.minutes) {
        return Err(ApiError::bad(
            "minutes",
            format!("`minutes` is 1 to {}", preview::MAX_MINUTES),
        ));
    }
    let book = rulebook::active(env)
        .await
        .map_err(|e| ApiError::internal("active rulebook", e))?;
    if !book.experience_ids().any(|id| id == request.experience) {
        return Err(ApiError::bad(
            "experience",
            format!(
                "the active rulebook has no experience \"{}\"",
                request.experience
            ),
        ));
    }
    let expires = visitor::now_ms() / 1000 + i64::from(request.minutes) * 60;
    let claims = preview::Claims {
        site: request.site.clone(),
        experience: request.experience.clone(),
        expires,
    };
    let token = preview::sign(&claims, &admin_token(env)?);
    rulebook::record(
        env,
        "create_preview",
        json!({ "site": request.site, "experience": request.experience, "expires": expires }),
    )
    .await?;
    Ok(json_response(
        &json!({ "token": token, "experience": request.experience, "expires": expires,
                 "query": format!("rapport_preview={token}") }),
        200,
    ))
}

/// `GET /v1/admin/reports?site=&from=&to=[&experience=]`: the daily aggregates.
async fn report(req: &Request, env: &Env, sites: &Sites) -> Result<Response, ApiError> {
    require_admin(req, env)?;
    let url = req.url()?;
    let pairs: serde_json::Map<String, serde_json::Value> = url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned().into()))
        .collect();
    let text = serde_json::Value::Object(pairs).to_string();
    let query: reports::Query = parse(&text, "")?;
    check_site(sites, &query.site)?;
    for (field, day) in [("from", &query.from), ("to", &query.to)] {
        if chrono_day(day).is_none() {
            return Err(ApiError::bad(
                field,
                format!("`{field}` is a day, YYYY-MM-DD"),
            ));
        }
    }
    Ok(json_response(&reports::query(env, &query).await?, 200))
}

/// Whether `text` is a `YYYY-MM-DD` day.
fn chrono_day(text: &str) -> Option<()> {
    let bytes = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| bytes[range].iter().all(u8::is_ascii_digit);
    (bytes.len() == 10
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && digits(0..4)
        && digits(5..7)
        && digits(8..10))
    .then_some(())
}

/// `POST /v1/forget` (site key): the shopper's own request to be forgotten, from the
/// widget's `forget` command. Only the browser holding the random visitor id can name it.
async fn forget(req: Request, env: &Env, sites: &Sites) -> Result<Response, ApiError> {
    let request: ForgetRequest = browser_request(req, env, sites).await?;
    let events = erase_everywhere(env, &request.site, &request.visitor_id).await?;
    let detail = json!({ "site": request.site, "visitor_id": request.visitor_id,
                         "events": events, "by": "visitor" });
    rulebook::record(env, "erase_visitor", detail).await?;
    Ok(json_response(
        &json!({ "erased": true, "events": events }),
        200,
    ))
}

/// `POST /v1/identify` (site key): the widget's `identify` command links the visitor to a
/// customer account, as a server `identify` event would, once the shop's signature proves
/// the shop's server vouched for it. From then on the visitor's decisions see the
/// customer's trusted facts.
async fn identify(req: Request, env: &Env, sites: &Sites) -> Result<Response, ApiError> {
    let request: IdentifyRequest = browser_request(req, env, sites).await?;
    rapport_protocol::server::validate_customer_id(&request.customer_id)
        .map_err(|rule| ApiError::bad("customer_id", format!("`customer_id` {rule}")))?;
    server_api::verify_identity(env, &request.site, &request.customer_id, &request.signature)?;
    let now = visitor::now_ms();
    let event = rapport_protocol::server::ServerEvent {
        // Each call links anew, so a shared browser that goes back to an earlier account gets
        // that account's facts again; the widget asks only when the customer changes.
        id: identify_event_id(&request.visitor_id, now),
        customer_id: request.customer_id.clone(),
        time: None,
        data: rapport_protocol::server::ServerEventData::Identify(
            rapport_protocol::server::Identify {
                visitor_id: request.visitor_id.clone(),
            },
        ),
    };
    let timed = customer::Timed { event, at_ms: now };
    customer::ingest(env, &request.site, &request.customer_id, &[timed]).await?;
    Ok(json_response(&json!({ "identified": true }), 200))
}

/// `identify-` and 40 hex digits of the SHA-256 of the visitor id and the time: within the
/// length an event id may have, whatever the visitor id's.
fn identify_event_id(visitor_id: &str, now_ms: i64) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("{visitor_id}\0{now_ms}").as_bytes());
    format!("identify-{}", preview::hex(&digest[..20]))
}

/// Erases a visitor's object and its link to a customer; gives how many events went.
async fn erase_everywhere(env: &Env, site: &str, visitor_id: &str) -> Result<i64, ApiError> {
    let erased = visitor::erase(env, site, visitor_id).await?;
    if let Some(customer_id) = &erased.customer_id {
        customer::unlink(env, site, customer_id, visitor_id).await?;
    }
    Ok(erased.events)
}

/// `{site}/{visitor_id}` from an admin path, both checked.
fn visitor_path<'a>(sites: &Sites, rest: &'a str) -> Result<(&'a str, &'a str), ApiError> {
    let (site, visitor_id) = rest.split_once('/').ok_or(ApiError::NotFound)?;
    check_site(sites, site)?;
    check_id("visitor_id", visitor_id)?;
    Ok((site, visitor_id))
}

/// `GET /v1/admin/visitors/{site}/{visitor_id}`: everything stored about one visitor.
async fn export_visitor(
    req: &Request,
    env: &Env,
    sites: &Sites,
    rest: &str,
) -> Result<Response, ApiError> {
    require_admin(req, env)?;
    let (site, visitor_id) = visitor_path(sites, rest)?;
    let export = visitor::export(env, site, visitor_id).await?;
    Ok(json_response(&export, 200))
}

/// The largest rulebook, with its tests, that can be published.
const MAX_RULEBOOK_BYTES: usize = 1024 * 1024;

/// `/v1/admin/rulebooks...` and `/v1/admin/audit`: publishing, listing, showing and
/// activating rulebook versions, and the audit log. The `Rulebooks` object does the work;
/// its answers pass through as they are.
async fn rulebook_admin(
    req: Request,
    env: &Env,
    method: Method,
    path: &str,
) -> Result<Response, ApiError> {
    let (target, body) = match (method, path) {
        (Method::Post, "rulebooks") => {
            let text = read_body(req, MAX_RULEBOOK_BYTES).await?;
            let publish: rulebooks::Publish = parse(&text, "")?;
            let body =
                serde_json::to_string(&publish).map_err(|e| ApiError::internal("encoding", e))?;
            ("/publish".to_owned(), Some(body))
        }
        (Method::Get, "rulebooks") => ("/versions".to_owned(), None),
        (Method::Get, "audit") => ("/audit".to_owned(), None),
        (method, rest) => {
            let rest = rest.strip_prefix("rulebooks/").ok_or(ApiError::NotFound)?;
            let (id, action) = rest.split_once('/').unwrap_or((rest, ""));
            let id: i64 = id
                .parse()
                .map_err(|_| ApiError::bad("id", "a rulebook version id is a number"))?;
            match (method, action) {
                (Method::Get, "") => (format!("/versions/{id}"), None),
                (Method::Post, "activate") => (format!("/activate/{id}"), Some(String::new())),
                _ => return Err(ApiError::NotFound),
            }
        }
    };
    let mut answer = rulebook::call(env, &target, body).await?;
    let status = answer.status_code();
    let text = answer.text().await?;
    if status == 404 {
        return Err(ApiError::NotFound);
    }
    if status >= 500 {
        return Err(ApiError::internal("rulebook store", text));
    }
    let body: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| ApiError::internal("rulebook store answer", e))?;
    Ok(json_response(&body, status))
}

/// `DELETE /v1/admin/visitors/{site}/{visitor_id}`: erases everything stored about one
/// visitor (GDPR), and records the erasure in the audit log.
async fn erase_visitor(
    req: &Request,
    env: &Env,
    sites: &Sites,
    rest: &str,
) -> Result<Response, ApiError> {
    require_admin(req, env)?;
    let (site, visitor_id) = visitor_path(sites, rest)?;
    let events = erase_everywhere(env, site, visitor_id).await?;
    let detail = json!({ "site": site, "visitor_id": visitor_id, "events": events });
    rulebook::record(env, "erase_visitor", detail).await?;
    Ok(json_response(
        &json!({ "erased": true, "events": events }),
        200,
    ))
}

fn admin_token(env: &Env) -> Result<String, ApiError> {
    env.secret("ADMIN_TOKEN")
        .map(|s| s.to_string())
        .ok()
        .filter(|t| !t.is_empty())
        .ok_or(ApiError::NotConfigured("ADMIN_TOKEN"))
}

/// Checks `Authorization: Bearer <ADMIN_TOKEN>` in constant time.
fn require_admin(req: &Request, env: &Env) -> Result<(), ApiError> {
    let expected = admin_token(env)?;
    let given = req
        .headers()
        .get("authorization")
        .ok()
        .flatten()
        .and_then(|h| h.strip_prefix("Bearer ").map(str::to_owned))
        .unwrap_or_default();
    if bool::from(given.as_bytes().ct_eq(expected.as_bytes())) {
        Ok(())
    } else {
        Err(ApiError::Unauthorized)
    }
}

#[cfg(test)]
mod tests {
    use super::field_path;

    #[test]
    fn field_paths_name_the_field_at_fault() {
        let wrong = "invalid type: string \"cheap\", expected f64";
        assert_eq!(
            field_path("events[1]", "product.price", wrong),
            "events[1].product.price"
        );
        assert_eq!(field_path("", "site", wrong), "site");
        assert_eq!(field_path("", ".", "expected value"), "");
        assert_eq!(field_path("events[0]", "?", "EOF"), "events[0]");
        let missing = "missing field `id`";
        assert_eq!(
            field_path("events[3]", "items[1].product", missing),
            "events[3].items[1].product.id"
        );
        assert_eq!(
            field_path("events[4]", ".", "missing field `step`"),
            "events[4].step"
        );
        assert_eq!(
            field_path("", ".", "missing field `signature`"),
            "signature"
        );
    }
}
