//! The marketer console's session calls, `/v1/console/session`: sign in with a member's name
//! and secret or with the admin token (rate limited per address), see who the session is,
//! sign out; and `/v1/console/invite`, where an invitee reads their invitation and joins. The
//! console's pages are static files under `/console/`; everything else they do goes through
//! the admin API with the session's cookie (`session`), as far as the member's role allows
//! (`team`).

use serde::Deserialize;
use serde_json::json;
use worker::{Env, Request, Response};

use crate::auth::is_admin_token;
use crate::clock::now_ms;
use crate::error::{ApiError, Context};
use crate::http::{header, json_response, parse, read_body};
use crate::session;
use crate::team::{self, Member};

/// A sign-in: a member's `name` and `secret`, or the admin `token`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignIn {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    secret: Option<String>,
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

/// What a session answers: who, as what, until when.
fn signed_in(member: &Member, expires_ms: i64, status: u16) -> Response {
    json_response(
        &json!({ "signed_in": true, "name": member.name, "role": member.role,
                 "expires_ms": expires_ms }),
        status,
    )
}

/// Checks the origin and the address's sign-in limit, then reads the body.
async fn admit<T: for<'de> Deserialize<'de>>(req: &Request, env: &Env) -> Result<T, ApiError> {
    session::check_same_origin(req)?;
    let address = header(req, "cf-connecting-ip").unwrap_or_else(|| "unknown".to_owned());
    crate::limits::check_sign_in(env, &address).await?;
    let body = read_body(req.clone().context("reading the sign-in")?, 4 * 1024).await?;
    parse(&body, "")
}

/// Starts `member`'s session, answering `status` with its cookie.
async fn start(req: &Request, env: &Env, member: &Member) -> Result<Response, ApiError> {
    let (id, expires_ms) = session::start(env, member, now_ms()).await?;
    with_cookie(
        signed_in(member, expires_ms, 201),
        &session::set_cookie(req, &id),
    )
}

/// `POST /v1/console/session` `{"name", "secret"}` or `{"token"}`: a session for a member,
/// or for the admin token's holder (the owner).
pub async fn sign_in(req: Request, env: &Env) -> Result<Response, ApiError> {
    let sign_in: SignIn = admit(&req, env).await?;
    let member = match (sign_in.token, sign_in.name, sign_in.secret) {
        (Some(token), None, None) => {
            if !is_admin_token(env, &token)? {
                return Err(ApiError::WrongSecret("token"));
            }
            Member::owner()
        }
        (None, Some(name), Some(secret)) => team::verify(env, &name, &secret)
            .await?
            .ok_or(ApiError::WrongSecret("secret"))?,
        _ => {
            return Err(ApiError::bad(
                "name",
                "sign in with your name and secret, or with the admin token alone",
            ))
        }
    };
    start(&req, env, &member).await
}

/// `GET /v1/console/session`: who the cookie's session is, and until when.
pub async fn current(req: &Request, env: &Env) -> Result<Response, ApiError> {
    let Some(id) = session::cookie(req) else {
        return Err(ApiError::Unauthorized);
    };
    match session::member(env, &id, now_ms()).await? {
        Some((member, expires_ms)) => with_cookie(
            signed_in(&member, expires_ms, 200),
            // The same cookie again, so a live tab keeps no stale one.
            &session::set_cookie(req, &id),
        ),
        None => Err(ApiError::Unauthorized),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Invitation {
    token: String,
    #[serde(default)]
    secret: Option<String>,
}

/// `POST /v1/console/invite` `{"token"}`: whom the invitation link names, as what, from whom.
pub async fn invitation(req: Request, env: &Env) -> Result<Response, ApiError> {
    let invitation: Invitation = admit(&req, env).await?;
    let invited = team::invited(env, &invitation.token, now_ms()).await?;
    Ok(json_response(&json!(invited), 200))
}

/// `PUT /v1/console/invite` `{"token", "secret"}`: the invitee joins with their own secret,
/// and is signed in.
pub async fn join(req: Request, env: &Env) -> Result<Response, ApiError> {
    let invitation: Invitation = admit(&req, env).await?;
    let secret = invitation
        .secret
        .ok_or_else(|| ApiError::bad("secret", "choose a secret of 12 characters or more"))?;
    let salt = team::random_id()?;
    let member = team::accept(env, &invitation.token, &secret, &salt[..32], now_ms()).await?;
    start(&req, env, &member).await
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
