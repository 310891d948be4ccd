//! The edge's one error type. Every handler returns it; [`ApiError::into_response`] turns it
//! into a status and a JSON body `{"error": {"code", "message", "field"?}}`. Internal errors
//! are logged in full and answered with a generic message: bodies never leak internals.

use serde_json::json;
use worker::Response;

#[derive(Debug)]
pub enum ApiError {
    /// The request is malformed; `field` names where (`events[2].product.price`).
    BadRequest {
        field: Option<String>,
        message: String,
    },
    PayloadTooLarge {
        limit: usize,
    },
    Unauthorized,
    Forbidden {
        field: String,
        message: String,
    },
    NotFound,
    MethodNotAllowed,
    NotConfigured(&'static str),
    /// Too many requests from one visitor or one address; try again after this many seconds.
    RateLimited {
        retry_after: u32,
    },
    Internal(String),
}

impl ApiError {
    pub fn bad(field: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError::BadRequest {
            field: Some(field.into()),
            message: message.into(),
        }
    }

    pub fn internal(context: &str, err: impl std::fmt::Display) -> ApiError {
        ApiError::Internal(format!("{context}: {err}"))
    }

    pub fn into_response(self) -> Response {
        let (status, code, message, field) = match self {
            ApiError::BadRequest { field, message } => (400, "bad_request", message, field),
            ApiError::PayloadTooLarge { limit } => (
                413,
                "payload_too_large",
                format!("the body is larger than {limit} bytes"),
                None,
            ),
            ApiError::Unauthorized => (
                401,
                "unauthorized",
                "a valid bearer token is required".to_owned(),
                None,
            ),
            ApiError::Forbidden { field, message } => (403, "forbidden", message, Some(field)),
            ApiError::NotFound => (404, "not_found", "no such endpoint".to_owned(), None),
            ApiError::MethodNotAllowed => (
                405,
                "method_not_allowed",
                "this endpoint does not take that method".to_owned(),
                None,
            ),
            ApiError::NotConfigured(what) => (
                503,
                "not_configured",
                format!("{what} is not configured on this edge"),
                None,
            ),
            ApiError::RateLimited { retry_after } => {
                let body = json!({ "error": { "code": "rate_limited",
                    "message": format!("too many requests; try again in {retry_after} seconds") } });
                let response = json_response(&body, 429);
                let _ = response
                    .headers()
                    .set("retry-after", &retry_after.to_string());
                return response;
            }
            ApiError::Internal(details) => {
                worker::console_error!("internal error: {details}");
                (
                    500,
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

impl From<worker::Error> for ApiError {
    fn from(err: worker::Error) -> ApiError {
        ApiError::Internal(err.to_string())
    }
}

/// A JSON response that no cache keeps.
/// A response whose body is JSON text already made.
pub fn json_text(body: String, status: u16) -> worker::Result<Response> {
    let response = Response::ok(body)?.with_status(status);
    let headers = response.headers();
    headers.set("content-type", "application/json")?;
    headers.set("cache-control", "no-store")?;
    Ok(response)
}

pub fn json_response(body: &serde_json::Value, status: u16) -> Response {
    let response = Response::from_json(body)
        .unwrap_or_else(|_| Response::ok("{}").expect("a static body"))
        .with_status(status);
    let _ = response.headers().set("cache-control", "no-store");
    response
}
