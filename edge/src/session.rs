//! The marketer console's sessions: a member's name and secret, or the admin token, are
//! posted once (`POST /v1/console/session`) and exchanged for a random session id in an
//! `HttpOnly`, `SameSite=Strict` cookie (`__Host-` and `Secure` where the browser allows),
//! which the admin API then accepts as well as the bearer token. The id is kept in D1 only as
//! its SHA-256, with the member's name and its expiry; the member's role is read afresh on
//! every call (`team`). Signing out deletes it. A call that changes something and comes with the cookie
//! must also say it comes from the console's own origin (`Sec-Fetch-Site: same-origin`, or an
//! `Origin` equal to the edge's) and carry the `x-rapport-console` header, which a page on
//! another site cannot set on a form or a simple request.

use serde::Deserialize;
use sha2::{Digest, Sha256};
use worker::{Env, Method, Request};

use crate::aggregates::database;
use crate::error::{ApiError, Context};
use crate::http::header;
use crate::team::{self, Member};

/// How long a session lasts: a working day.
pub const SESSION_SECONDS: i64 = 8 * 60 * 60;
/// The header the console sends with every call that changes something.
pub const CONSOLE_HEADER: &str = "x-rapport-console";

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

/// Starts a session for `member`; gives its id and expiry.
pub async fn start(env: &Env, member: &Member, now_ms: i64) -> Result<(String, i64), ApiError> {
    let db = database(env)?;
    let id = team::random_id()?;
    let expires = now_ms + SESSION_SECONDS * 1000;
    let statements = vec![
        db.prepare("DELETE FROM console_logins WHERE expires_ms < ?")
            .bind(&[(now_ms as f64).into()])
            .context("binding the session clean-up")?,
        db.prepare("INSERT INTO console_logins (id_hash, name, expires_ms) VALUES (?, ?, ?)")
            .bind(&[
                id_hash(&id).into(),
                member.name.as_str().into(),
                (expires as f64).into(),
            ])
            .context("binding a new session")?,
    ];
    team::batch(&db, statements, "storing a console session").await?;
    Ok((id, expires))
}

/// Who the live session `id` is (with their current role) and until when, if it is one.
pub async fn member(env: &Env, id: &str, now_ms: i64) -> Result<Option<(Member, i64)>, ApiError> {
    #[derive(Deserialize)]
    struct Found {
        name: String,
        role: Option<String>,
        expires_ms: f64,
    }
    let db = database(env)?;
    let lookup = db
        .prepare(
            "SELECT l.name, u.role, l.expires_ms FROM console_logins l
             LEFT JOIN console_users u ON u.name = l.name
             WHERE l.id_hash = ? AND l.expires_ms > ?",
        )
        .bind(&[id_hash(id).into(), (now_ms as f64).into()])
        .context("binding a session lookup")?;
    let results = team::batch(&db, vec![lookup], "looking up a console session").await?;
    let found = team::rows::<Found>(&results[0], "reading a console session")?
        .into_iter()
        .next();
    Ok(found.and_then(|f| {
        let role = team::current_role(&f.name, f.role.as_deref())?;
        Some((Member { name: f.name, role }, f.expires_ms as i64))
    }))
}

/// Ends the session `id`.
pub async fn end(env: &Env, id: &str) -> Result<(), ApiError> {
    let db = database(env)?;
    let sign_out = db
        .prepare("DELETE FROM console_logins WHERE id_hash = ?")
        .bind(&[id_hash(id).into()])
        .context("binding a sign-out")?;
    team::batch(&db, vec![sign_out], "ending a console session").await?;
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
