//! The marketer console's session calls, `/v1/console/session`: sign in with the admin token
//! (once; rate limited per address), see whether the session is live, sign out. The console's
//! pages are static files under `/console/`; everything else they do goes through the admin
//! API with the session's cookie (`session`).

use serde::Deserialize;
use serde_json::json;
use worker::{Env, Request, Response};

use crate::auth::is_admin_token;
use crate::clock::now_ms;
use crate::error::{ApiError, Context};
use crate::http::{header, json_response, parse, read_body};
use crate::session;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignIn {
    token: String,
}

fn with_cookie(response: Response, cookie: &str) -> Result<Response, ApiError> {
    let headers = response.headers();
    headers
        .set("set-cookie", cookie)
        .context("setting the session cookie")?;
    headers
        .set("cache-control", "no-store")
        .context("setting cache-control")?;
    Ok(response)
}

/// `POST /v1/console/session` `{"token": "..."}`: a session for the admin token's holder.
pub async fn sign_in(req: Request, env: &Env) -> Result<Response, ApiError> {
    session::check_same_origin(&req)?;
    let address = header(&req, "cf-connecting-ip").unwrap_or_else(|| "unknown".to_owned());
    crate::limits::check_sign_in(env, &address).await?;
    let body = read_body(req.clone().context("reading the sign-in")?, 4 * 1024).await?;
    let sign_in: SignIn = parse(&body, "")?;
    if !is_admin_token(env, &sign_in.token)? {
        return Err(ApiError::bad_token());
    }
    let (id, expires_ms) = session::start(env, now_ms()).await?;
    let answer = json_response(&json!({ "signed_in": true, "expires_ms": expires_ms }), 201);
    with_cookie(answer, &session::set_cookie(&req, &id))
}

/// `GET /v1/console/session`: whether the cookie's session is live, and until when.
pub async fn current(req: &Request, env: &Env) -> Result<Response, ApiError> {
    let Some(id) = session::cookie(req) else {
        return Err(ApiError::Unauthorized);
    };
    match session::expiry(env, &id, now_ms()).await? {
        Some(expires_ms) => with_cookie(
            json_response(&json!({ "signed_in": true, "expires_ms": expires_ms }), 200),
            // The same cookie again, so a live tab keeps no stale one.
            &session::set_cookie(req, &id),
        ),
        None => Err(ApiError::Unauthorized),
    }
}

/// `DELETE /v1/console/session`: signs out, here and in the browser.
pub async fn sign_out(req: &Request, env: &Env) -> Result<Response, ApiError> {
    session::check_same_origin(req)?;
    if let Some(id) = session::cookie(req) {
        session::end(env, &id).await?;
    }
    with_cookie(
        json_response(&json!({ "signed_in": false }), 200),
        &session::clear_cookie(req),
    )
}
