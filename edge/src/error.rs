//! The edge's one error type. Every handler returns it; `ApiError::into_response` (in
//! `http`) turns it into a status and a JSON body `{"error": {"code", "message", "field"?}}`.
//! Internal errors say what failed and why in the log, and are answered with a generic
//! message: bodies never leak internals.
//!
//! There is deliberately no `From<worker::Error>`: a bare `?` would keep the cause but lose
//! what was being done. [`Context::context`] adds that (`visitor object, call decide: ...`).

use std::fmt::Display;

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
    /// A console sign-in that does not match: the field is `token` (not the admin token) or
    /// `secret` (not that member's name and secret).
    WrongSecret(&'static str),
    Forbidden {
        field: String,
        message: String,
    },
    NotFound,
    /// The request no longer fits what is stored (a draft of a version since replaced).
    Conflict {
        field: String,
        message: String,
    },
    /// A path names something that does not exist (an experiment, a segment).
    NoSuch {
        field: String,
        message: String,
    },
    MethodNotAllowed,
    NotConfigured(&'static str),
    /// A setting this edge must not run with where it is served (`field` names it).
    Misconfigured {
        field: &'static str,
        message: String,
    },
    /// The request is well formed but what it carries cannot be used (a rulebook that does
    /// not compile, test cases that fail): `code` says which, and the answer lists why under
    /// `detail` (`diagnostics`, `tests`).
    Unprocessable {
        code: &'static str,
        message: String,
        detail: &'static str,
        why: serde_json::Value,
    },
    /// Too many requests from one visitor or one address; try again after this many seconds.
    RateLimited {
        retry_after: u32,
    },
    /// What failed and why, for the log only.
    Internal(String),
}

impl ApiError {
    pub fn bad(field: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError::BadRequest {
            field: Some(field.into()),
            message: message.into(),
        }
    }

    pub fn forbidden(field: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError::Forbidden {
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn no_such(field: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError::NoSuch {
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn internal(what: impl Display, cause: impl Display) -> ApiError {
        ApiError::Internal(format!("{what}: {cause}"))
    }

    /// The HTTP status the error is answered with.
    pub fn status(&self) -> u16 {
        match self {
            ApiError::BadRequest { .. } => 400,
            ApiError::PayloadTooLarge { .. } => 413,
            ApiError::Unauthorized | ApiError::WrongSecret(_) => 401,
            ApiError::Forbidden { .. } => 403,
            ApiError::NotFound | ApiError::NoSuch { .. } => 404,
            ApiError::Conflict { .. } => 409,
            ApiError::MethodNotAllowed => 405,
            ApiError::NotConfigured(_) | ApiError::Misconfigured { .. } => 503,
            ApiError::Unprocessable { .. } => 422,
            ApiError::RateLimited { .. } => 429,
            ApiError::Internal(_) => 500,
        }
    }
}

impl Display for ApiError {
    /// The words the log keeps: an internal error's cause, or what the caller was told.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiError::BadRequest { field, message } => match field {
                Some(field) => write!(f, "bad request at {field}: {message}"),
                None => write!(f, "bad request: {message}"),
            },
            ApiError::PayloadTooLarge { limit } => write!(f, "body over {limit} bytes"),
            ApiError::Unauthorized => write!(f, "unauthorized"),
            ApiError::WrongSecret(field) => write!(f, "a sign-in with the wrong {field}"),
            ApiError::Forbidden { field, message } => write!(f, "forbidden ({field}): {message}"),
            ApiError::NotFound => write!(f, "not found"),
            ApiError::NoSuch { field, message } => write!(f, "not found ({field}): {message}"),
            ApiError::Conflict { field, message } => write!(f, "conflict ({field}): {message}"),
            ApiError::MethodNotAllowed => write!(f, "method not allowed"),
            ApiError::NotConfigured(what) => write!(f, "{what} is not configured"),
            ApiError::Misconfigured { field, message } => {
                write!(f, "misconfigured ({field}): {message}")
            }
            ApiError::Unprocessable { code, message, .. } => {
                write!(f, "unprocessable ({code}): {message}")
            }
            ApiError::RateLimited { retry_after } => write!(f, "rate limited for {retry_after} s"),
            ApiError::Internal(details) => f.write_str(details),
        }
    }
}

/// Says what was being done when an error happened.
pub trait Context<T> {
    /// For handlers: an internal error, `what: cause`.
    fn context(self, what: impl Display) -> Result<T, ApiError>;
    /// For Durable Objects, whose handlers return `worker::Result`: the same words.
    fn doing(self, what: impl Display) -> worker::Result<T>;
}

impl<T, E: Display> Context<T> for Result<T, E> {
    fn context(self, what: impl Display) -> Result<T, ApiError> {
        self.map_err(|cause| ApiError::internal(what, cause))
    }

    fn doing(self, what: impl Display) -> worker::Result<T> {
        self.map_err(|cause| worker::Error::RustError(format!("{what}: {cause}")))
    }
}
