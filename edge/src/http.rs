//! HTTP plumbing every handler shares: reading bodies within a limit, parsing JSON (and
//! query strings) with the path of the field at fault, JSON answers, the answer to a batch,
//! and CORS.

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::json;
use worker::{Request, Response};

use crate::error::{ApiError, Context};
use crate::sites::Sites;

/// A header's value, if the request has it.
pub fn header(req: &Request, name: &str) -> Option<String> {
    req.headers().get(name).ok().flatten()
}

/// Reads a body of at most `limit` bytes, refusing larger ones before reading them when the
/// client declares its length.
pub async fn read_body(mut req: Request, limit: usize) -> Result<String, ApiError> {
    let declared = header(&req, "content-length").and_then(|l| l.parse::<usize>().ok());
    if declared.is_some_and(|l| l > limit) {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    let bytes = req.bytes().await.context("reading the request body")?;
    if bytes.len() > limit {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    String::from_utf8(bytes).map_err(|_| ApiError::BadRequest {
        field: None,
        message: "the body must be UTF-8 JSON".into(),
    })
}

/// Parses JSON, naming the field at fault (`events[2].product.price`) when it does not fit.
pub fn parse<'de, T: Deserialize<'de>>(text: &'de str, prefix: &str) -> Result<T, ApiError> {
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

/// Parses the query string as if it were a JSON object of strings, so a missing or unknown
/// parameter is named like a body's field.
pub fn parse_query<T: DeserializeOwned>(req: &Request) -> Result<T, ApiError> {
    let url = req.url().context("reading the request URL")?;
    let pairs: serde_json::Map<String, serde_json::Value> = url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned().into()))
        .collect();
    let text = serde_json::Value::Object(pairs).to_string();
    parse(&text, "")
}

/// The field a serde error is about: `path` (as serde_path_to_error writes it, `.` or `?` for
/// the root) under `prefix`, and, for a missing field, the missing field itself, since serde
/// reports that at the object lacking it.
pub fn field_path(prefix: &str, path: &str, message: &str) -> String {
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

/// A family of events whose payload can be read alone, by its `type`, to name the field at
/// fault: the browser's and the shop server's.
pub trait Payloads {
    /// `Ok(false)` when `kind` is not a type of this family.
    fn check<'de, D: serde::Deserializer<'de>>(kind: &str, payload: D) -> Result<bool, D::Error>;
}

impl Payloads for rapport_protocol::EventData {
    fn check<'de, D: serde::Deserializer<'de>>(kind: &str, payload: D) -> Result<bool, D::Error> {
        Self::check_payload(kind, payload)
    }
}

impl Payloads for rapport_protocol::server::ServerEventData {
    fn check<'de, D: serde::Deserializer<'de>>(kind: &str, payload: D) -> Result<bool, D::Error> {
        Self::check_payload(kind, payload)
    }
}

/// Names the field at fault in a batch's event that failed to parse, by reading it again as
/// the payload its `type` declares; `unknown` words the error for a type not of the family.
/// `None` when the event has no `type`, or is fine after all.
pub fn locate_payload_error<P: Payloads>(
    raw: &str,
    prefix: &str,
    unknown: impl FnOnce(&str) -> String,
) -> Option<ApiError> {
    let value: serde_json::Value = serde_json::from_str(raw).ok()?;
    let kind = value.get("type")?.as_str()?;
    let mut track = serde_path_to_error::Track::new();
    let deserializer = serde_path_to_error::Deserializer::new(&value, &mut track);
    match P::check(kind, deserializer) {
        Err(err) => {
            let message = err.to_string();
            Some(ApiError::bad(
                field_path(prefix, &track.path().to_string(), &message),
                message,
            ))
        }
        Ok(false) => Some(ApiError::bad(format!("{prefix}.type"), unknown(kind))),
        Ok(true) => None,
    }
}

impl ApiError {
    /// The error's answer: its status, and `{"error": {"code", "message", "field"?}}`.
    pub fn into_response(self) -> Response {
        let status = self.status();
        let (code, message, field) = match self {
            ApiError::BadRequest { field, message } => ("bad_request", message, field),
            ApiError::PayloadTooLarge { limit } => (
                "payload_too_large",
                format!("the body is larger than {limit} bytes"),
                None,
            ),
            ApiError::Unauthorized => (
                "unauthorized",
                "a valid bearer token is required".to_owned(),
                None,
            ),
            ApiError::WrongSecret(field) => (
                "unauthorized",
                if field == "token" {
                    "that is not the admin token"
                } else {
                    "that name and secret do not match"
                }
                .to_owned(),
                Some(field.to_owned()),
            ),
            ApiError::Forbidden { field, message } => ("forbidden", message, Some(field)),
            ApiError::NotFound => ("not_found", "no such endpoint".to_owned(), None),
            ApiError::NoSuch { field, message } => ("not_found", message, Some(field)),
            ApiError::Conflict { field, message } => ("conflict", message, Some(field)),
            ApiError::MethodNotAllowed => (
                "method_not_allowed",
                "this endpoint does not take that method".to_owned(),
                None,
            ),
            ApiError::NotConfigured(what) => (
                "not_configured",
                format!("{what} is not configured on this edge"),
                None,
            ),
            ApiError::Misconfigured { field, message } => {
                ("misconfigured", message, Some(field.to_owned()))
            }
            ApiError::Unprocessable {
                code,
                message,
                detail,
                why,
            } => {
                let mut body = json!({ "error": { "code": code, "message": message } });
                body[detail] = why;
                return json_response(&body, status);
            }
            ApiError::RateLimited { retry_after } => {
                let body = json!({ "error": { "code": "rate_limited",
                    "message": format!("too many requests; try again in {retry_after} seconds") } });
                let response = json_response(&body, status);
                let _ = response
                    .headers()
                    .set("retry-after", &retry_after.to_string());
                return response;
            }
            ApiError::Internal(details) => {
                worker::console_error!("internal error: {details}");
                (
                    "internal",
                    "something went wrong on our side".to_owned(),
                    None,
                )
            }
        };
        let mut error = json!({ "code": code, "message": message });
        if let Some(field) = field {
            error["field"] = field.into();
        }
        json_response(&json!({ "error": error }), status)
    }
}

/// A JSON response that no cache keeps.
pub fn json_response(body: &serde_json::Value, status: u16) -> Response {
    let response = Response::from_json(body)
        .unwrap_or_else(|_| Response::ok("{}").expect("a static body"))
        .with_status(status);
    let _ = response.headers().set("cache-control", "no-store");
    response
}

/// A response whose body is JSON text already made, that no cache keeps.
pub fn json_text(body: String, status: u16) -> Result<Response, ApiError> {
    let response = Response::ok(body)
        .context("making a response")?
        .with_status(status);
    let headers = response.headers();
    let _ = headers.set("content-type", "application/json");
    let _ = headers.set("cache-control", "no-store");
    Ok(response)
}

/// The answer to a batch (browser or server), as events come in: what was stored, what the
/// edge already had, and what it refused and why.
#[derive(Debug, Default)]
pub struct BatchAnswer {
    pub accepted: Vec<String>,
    pub duplicates: Vec<String>,
    /// Valid events the edge did not record: the visitor withheld consent to analytics (or
    /// withdrew it), or the site requires opt-in and has not had it.
    pub withheld: Vec<String>,
    rejected: Vec<serde_json::Value>,
}

impl BatchAnswer {
    /// Records the event at `index` as refused: where it was, its id if it had one, and what
    /// is wrong.
    pub fn reject(&mut self, index: usize, raw: &str, field: Option<String>, message: String) {
        let id = serde_json::from_str::<serde_json::Value>(raw)
            .ok()
            .and_then(|v| v.get("id").and_then(|id| id.as_str()).map(str::to_owned));
        self.rejected
            .push(json!({ "index": index, "id": id, "field": field, "message": message }));
    }

    /// What was stored, already had, withheld (only when some were) and refused.
    pub fn into_json(self) -> serde_json::Value {
        let mut body = json!({ "accepted": self.accepted, "duplicates": self.duplicates,
                               "rejected": self.rejected });
        if !self.withheld.is_empty() {
            body["withheld"] = json!(self.withheld);
        }
        body
    }

    /// 200 with what was stored, already had and refused; 400 naming the first refusal when
    /// nothing in the batch was valid.
    pub fn into_response(self) -> Response {
        let nothing_valid = self.accepted.is_empty()
            && self.duplicates.is_empty()
            && self.withheld.is_empty()
            && !self.rejected.is_empty();
        let mut body = self.into_json();
        if nothing_valid {
            body["error"] = json!({ "code": "bad_request", "message": "no event in the batch is valid",
                                    "field": body["rejected"][0]["field"] });
            return json_response(&body, 400);
        }
        json_response(&body, 200)
    }
}

/// Answers a CORS preflight. The widget's own calls never need one (they are simple
/// requests); other browser clients on an allowed origin may.
pub fn preflight(origin: Option<&str>, sites: &Sites) -> Response {
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
    } else if let Some(origin) = origin {
        refused_origin(origin);
    }
    response
}

/// Lets a page on an allowed origin read the answer, errors included.
pub fn allow_origin(response: &Response, origin: Option<&str>, sites: &Sites) {
    if let Some(origin) = origin.filter(|o| sites.any_allows(o)) {
        let _ = response
            .headers()
            .set("access-control-allow-origin", origin);
        let _ = response.headers().set("vary", "Origin");
    }
}

/// Says in the log how to let a refused origin in: a developer trying the widget on their
/// own site sees only a CORS error in the browser.
pub fn refused_origin(origin: &str) {
    worker::console_warn!(
        "refused a page on {origin}: no site lists it; add it to the site's \"origins\" in \
         the SITES variable (locally: `cargo xtask demo --allow-origin {origin}`)"
    );
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
