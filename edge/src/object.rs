//! Calling a Durable Object over its `fetch` interface with a JSON body.

use worker::{Method, Request, RequestInit, Response, Stub};

use crate::error::ApiError;

/// Sends `body` (POST) or nothing (GET) to `path` on the object behind `stub`, with extra
/// headers. The answer comes back as it is, whatever its status.
pub async fn request(
    stub: &Stub,
    path: &str,
    body: Option<String>,
    headers: &[(&str, &str)],
) -> Result<Response, ApiError> {
    let mut init = RequestInit::new();
    match body {
        Some(body) => init.with_method(Method::Post).with_body(Some(body.into())),
        None => init.with_method(Method::Get),
    };
    let request = Request::new_with_init(&format!("https://object{path}"), &init)?;
    for (name, value) in headers {
        request.headers().set(name, value)?;
    }
    Ok(stub.fetch_with_request(request).await?)
}
