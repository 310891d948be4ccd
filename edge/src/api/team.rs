//! The team under `/v1/admin/team`: everyone may see who is on it; the owner invites people,
//! changes their roles and removes them (`team` keeps them). Each change is in the audit log.

use serde::Deserialize;
use serde_json::json;
use worker::{js_sys, Env, Request, Response};

use crate::audit::Action;
use crate::clock::now_ms;
use crate::error::ApiError;
use crate::http::{json_response, parse, read_body};
use crate::objects::rulebooks;
use crate::team::{self, Member};

/// A name from the path, percent-decoded (names may have spaces).
fn path_name(raw: &str) -> Result<String, ApiError> {
    js_sys::decode_uri_component(raw)
        .ok()
        .and_then(|name| name.as_string())
        .ok_or_else(|| ApiError::bad("name", "the name in the path is not percent-encoded UTF-8"))
}

/// `GET /v1/admin/team`: the members, with their roles, and the invitations still open.
pub async fn list(env: &Env) -> Result<Response, ApiError> {
    let team = team::list(env, now_ms()).await?;
    Ok(json_response(&json!(team), 200))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Invite {
    name: String,
    role: String,
}

/// `POST /v1/admin/team` `{"name", "role"}`: invites someone; answers the one-time link.
pub async fn invite(req: Request, env: &Env, owner: &Member) -> Result<Response, ApiError> {
    let body = read_body(req, 4 * 1024).await?;
    let invite: Invite = parse(&body, "")?;
    let role = team::role("role", &invite.role)?;
    let invitation = team::invite(env, owner, &invite.name, role, now_ms()).await?;
    let action = Action::Invite {
        name: invitation.name.clone(),
        role: role.name().to_owned(),
    };
    rulebooks::record(env, Some(owner), action).await?;
    let link = format!("/console/#invite={}", invitation.token);
    Ok(json_response(
        &json!({ "name": invitation.name, "role": role, "expires_ms": invitation.expires_ms,
                 "token": invitation.token, "link": link }),
        201,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangeRole {
    role: String,
}

/// `PUT /v1/admin/team/{name}` `{"role"}`: gives a member another role, from their next call.
pub async fn change_role(
    req: Request,
    env: &Env,
    owner: &Member,
    name: &str,
) -> Result<Response, ApiError> {
    let name = path_name(name)?;
    let body = read_body(req, 1024).await?;
    let change: ChangeRole = parse(&body, "")?;
    let role = team::role("role", &change.role)?;
    team::set_role(env, &name, role).await?;
    let action = Action::ChangeRole {
        name: name.clone(),
        role: role.name().to_owned(),
    };
    rulebooks::record(env, Some(owner), action).await?;
    Ok(json_response(&json!({ "name": name, "role": role }), 200))
}

/// `DELETE /v1/admin/team/{name}`: removes a member, or an open invitation, and ends their
/// sessions.
pub async fn remove(env: &Env, owner: &Member, name: &str) -> Result<Response, ApiError> {
    let name = path_name(name)?;
    team::remove(env, &name).await?;
    let action = Action::RemoveMember { name: name.clone() };
    rulebooks::record(env, Some(owner), action).await?;
    Ok(json_response(&json!({ "removed": name }), 200))
}
