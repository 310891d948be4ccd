//! The marketer console's sessions: the admin token is posted once (`POST
//! /v1/console/session`) and exchanged for a random session id in an `HttpOnly`,
//! `SameSite=Strict` cookie (`__Host-` and `Secure` where the browser allows), which the admin
//! API then accepts as well as the bearer token. The id is kept in D1 only as its SHA-256, with
//! its expiry; signing out deletes it. A call that changes something and comes with the cookie
//! must also say it comes from the console's own origin (`Sec-Fetch-Site: same-origin`, or an
//! `Origin` equal to the edge's) and carry the `x-rapport-console` header, which a page on
//! another site cannot set on a form or a simple request.

use serde::Deserialize;
use sha2::{Digest, Sha256};
use wasm_bindgen::{JsCast, JsValue};
use worker::{js_sys, Env, Method, Request};

use crate::aggregates::database;
use crate::error::{ApiError, Context};
use crate::http::header;

/// How long a session lasts: a working day.
pub const SESSION_SECONDS: i64 = 8 * 60 * 60;
/// The header the console sends with every call that changes something.
pub const CONSOLE_HEADER: &str = "x-rapport-console";

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS console_sessions (
    id_hash TEXT PRIMARY KEY, expires_ms INTEGER NOT NULL)";

/// The cookie's name and attributes for a request: `__Host-` and `Secure` over https and on
/// a loopback host (which browsers treat as secure); a plain name elsewhere, where a browser
/// would refuse a `Secure` cookie.
fn cookie_spec(req: &Request) -> (&'static str, &'static str) {
    let url = req.url().ok();
    let https = url.as_ref().is_some_and(|u| u.scheme() == "https");
    let loopback = url
        .as_ref()
        .and_then(|u| u.host_str().map(str::to_owned))
        .is_some_and(|h| h == "localhost" || h == "127.0.0.1" || h == "[::1]");
    if https || loopback {
        ("__Host-rapport_session", "; Secure")
    } else {
        ("rapport_session", "")
    }
}

/// The `Set-Cookie` value that starts a session with `id`.
pub fn set_cookie(req: &Request, id: &str) -> String {
    let (name, secure) = cookie_spec(req);
    format!("{name}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={SESSION_SECONDS}{secure}")
}

/// The `Set-Cookie` value that ends it.
pub fn clear_cookie(req: &Request) -> String {
    let (name, secure) = cookie_spec(req);
    format!("{name}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}")
}

/// The session id the request's cookie carries, if any.
pub fn cookie(req: &Request) -> Option<String> {
    let (name, _) = cookie_spec(req);
    let cookies = header(req, "cookie")?;
    cookies.split(';').find_map(|pair| {
        let (key, value) = pair.trim().split_once('=')?;
        (key == name && !value.is_empty()).then(|| value.to_owned())
    })
}

fn id_hash(id: &str) -> String {
    hex::encode(Sha256::digest(id.as_bytes()))
}

/// 244 random bits from the runtime's CSPRNG (two `crypto.randomUUID()`s).
fn random_id() -> Result<String, ApiError> {
    let crypto = js_sys::Reflect::get(&js_sys::global(), &JsValue::from_str("crypto"))
        .map_err(|_| ApiError::internal("reading crypto", "no crypto object"))?;
    let uuid: js_sys::Function = js_sys::Reflect::get(&crypto, &JsValue::from_str("randomUUID"))
        .map_err(|_| ApiError::internal("reading crypto.randomUUID", "missing"))?
        .dyn_into()
        .map_err(|_| ApiError::internal("reading crypto.randomUUID", "not a function"))?;
    let mut id = String::new();
    for _ in 0..2 {
        let part = uuid
            .call0(&crypto)
            .map_err(|_| ApiError::internal("calling crypto.randomUUID", "it threw"))?;
        id.push_str(&part.as_string().unwrap_or_default().replace('-', ""));
    }
    if id.len() != 64 {
        return Err(ApiError::internal(
            "making a session id",
            "short randomness",
        ));
    }
    Ok(id)
}

/// Starts a session; gives its id and expiry.
pub async fn start(env: &Env, now_ms: i64) -> Result<(String, i64), ApiError> {
    let db = database(env)?;
    let id = random_id()?;
    let expires = now_ms + SESSION_SECONDS * 1000;
    db.batch(vec![
        db.prepare(SCHEMA),
        db.prepare("DELETE FROM console_sessions WHERE expires_ms < ?")
            .bind(&[(now_ms as f64).into()])
            .context("binding the session clean-up")?,
        db.prepare("INSERT INTO console_sessions (id_hash, expires_ms) VALUES (?, ?)")
            .bind(&[id_hash(&id).into(), (expires as f64).into()])
            .context("binding a new session")?,
    ])
    .await
    .context("storing a console session")?;
    Ok((id, expires))
}

/// The expiry of the live session `id`, if it is one.
pub async fn expiry(env: &Env, id: &str, now_ms: i64) -> Result<Option<i64>, ApiError> {
    #[derive(Deserialize)]
    struct Found {
        expires_ms: f64,
    }
    let db = database(env)?;
    db.prepare(SCHEMA)
        .run()
        .await
        .context("creating the sessions table")?;
    let found: Option<Found> = db
        .prepare("SELECT expires_ms FROM console_sessions WHERE id_hash = ? AND expires_ms > ?")
        .bind(&[id_hash(id).into(), (now_ms as f64).into()])
        .context("binding a session lookup")?
        .first(None)
        .await
        .context("looking up a console session")?;
    Ok(found.map(|f| f.expires_ms as i64))
}

/// Ends the session `id`.
pub async fn end(env: &Env, id: &str) -> Result<(), ApiError> {
    let db = database(env)?;
    db.batch(vec![
        db.prepare(SCHEMA),
        db.prepare("DELETE FROM console_sessions WHERE id_hash = ?")
            .bind(&[id_hash(id).into()])
            .context("binding a sign-out")?,
    ])
    .await
    .context("ending a console session")?;
    Ok(())
}

/// Refuses a console call that changes something unless it comes from the edge's own origin
/// with the console's header: what keeps a page on another site from acting for a
/// signed-in marketer.
pub fn check_same_origin(req: &Request) -> Result<(), ApiError> {
    if header(req, CONSOLE_HEADER).is_none() {
        return Err(ApiError::forbidden(
            CONSOLE_HEADER,
            "console calls that change something carry the x-rapport-console header",
        ));
    }
    let own = req
        .url()
        .context("reading the request URL")?
        .origin()
        .ascii_serialization();
    let fetch_site = header(req, "sec-fetch-site");
    let origin = header(req, "origin");
    let same = match (fetch_site.as_deref(), origin.as_deref()) {
        (Some(site), _) => site == "same-origin",
        (None, Some(origin)) => origin == own,
        (None, None) => false,
    };
    if same {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "origin",
            "this call must come from the console's own page",
        ))
    }
}

/// Whether the method changes something (and so needs [`check_same_origin`] with a cookie).
pub fn changes_something(method: &Method) -> bool {
    !matches!(method, Method::Get | Method::Head | Method::Options)
}
