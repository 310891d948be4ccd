//! Who may call what: the admin token, the sites' server keys, and the signatures with
//! which a shop's server vouches for a signed-in shopper. Every secret is compared in
//! constant time. The marketer console's sessions are in `session`, its members and their
//! roles in `team`.

use std::collections::BTreeMap;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use worker::{Env, Request};

use crate::error::ApiError;
use crate::http::header;
use crate::team::{Member, Role};

type HmacSha256 = Hmac<Sha256>;

/// The token of `Authorization: Bearer TOKEN`, or empty.
fn bearer(req: &Request) -> String {
    header(req, "authorization")
        .and_then(|h| h.strip_prefix("Bearer ").map(str::to_owned))
        .unwrap_or_default()
}

fn same(given: &str, expected: &str) -> bool {
    bool::from(given.as_bytes().ct_eq(expected.as_bytes()))
}

/// A secret that must be set and not empty.
fn required_secret(env: &Env, name: &'static str) -> Result<String, ApiError> {
    env.secret(name)
        .map(|s| s.to_string())
        .ok()
        .filter(|t| !t.is_empty())
        .ok_or(ApiError::NotConfigured(name))
}

/// The `ADMIN_TOKEN` secret: the bearer token of `/v1/admin/*`.
pub fn admin_token(env: &Env) -> Result<String, ApiError> {
    required_secret(env, "ADMIN_TOKEN")
}

/// The `PREVIEW_KEY` secret, which signs preview links and nothing else.
pub fn preview_key(env: &Env) -> Result<String, ApiError> {
    required_secret(env, "PREVIEW_KEY")
}

/// Whether `token` is the admin token.
pub fn is_admin_token(env: &Env, token: &str) -> Result<bool, ApiError> {
    Ok(same(token, &admin_token(env)?))
}

/// Who calls the console's API, if they may do what needs `role`: `Authorization: Bearer
/// <ADMIN_TOKEN>` (scripts) is the owner; else a console session's cookie names a member,
/// whose call, if it changes something, must also come from the console's own origin with
/// its header (`session::check_same_origin`).
pub async fn require(req: &Request, env: &Env, role: Role) -> Result<Member, ApiError> {
    let token = bearer(req);
    let member = if !token.is_empty() {
        if !is_admin_token(env, &token)? {
            return Err(ApiError::Unauthorized);
        }
        Member::owner()
    } else {
        let Some(id) = crate::session::cookie(req) else {
            return Err(ApiError::Unauthorized);
        };
        if crate::session::changes_something(&req.method()) {
            crate::session::check_same_origin(req)?;
        }
        match crate::session::member(env, &id, crate::clock::now_ms()).await? {
            Some((member, _)) => member,
            None => return Err(ApiError::Unauthorized),
        }
    };
    if member.role < role {
        return Err(ApiError::forbidden(
            "role",
            format!(
                "{} is {}; this needs {} or above",
                member.name,
                member.role.with_article(),
                role.with_article()
            ),
        ));
    }
    Ok(member)
}

/// The `SERVER_KEYS` secret, `{"site": "key", ...}`. A value that is there but is not such
/// an object is said in the log: it reads as not configured, which would hide the typo.
fn server_keys(env: &Env) -> Result<BTreeMap<String, String>, ApiError> {
    let Ok(secret) = env.secret("SERVER_KEYS") else {
        return Err(ApiError::NotConfigured("SERVER_KEYS"));
    };
    match serde_json::from_str::<BTreeMap<String, String>>(&secret.to_string()) {
        Ok(keys) if !keys.is_empty() => Ok(keys),
        Ok(_) => Err(ApiError::NotConfigured("SERVER_KEYS")),
        Err(err) => {
            worker::console_error!(
                "SERVER_KEYS is not a JSON object of site keys to server keys: {err}"
            );
            Err(ApiError::NotConfigured("SERVER_KEYS"))
        }
    }
}

/// The site whose server key the request carries (`Authorization: Bearer KEY`). All keys
/// are compared, so the time taken says nothing about which one nearly matched.
pub fn server_site(req: &Request, env: &Env) -> Result<String, ApiError> {
    let keys = server_keys(env)?;
    let given = bearer(req);
    let mut found = None;
    for (site, key) in &keys {
        if !key.is_empty() && same(&given, key) {
            found = Some(site.clone());
        }
    }
    found.ok_or(ApiError::Unauthorized)
}

/// What a shop's server signs to vouch, in a page it renders, that the shopper is signed in
/// as `customer_id`: the hex of HMAC-SHA256(server key, customer id).
fn identity_signature(server_key: &str, customer_id: &str) -> String {
    let mut mac = HmacSha256::new_from_slice(server_key.as_bytes()).expect("any key length");
    mac.update(customer_id.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Checks a browser `identify`'s signature against the site's server key.
pub fn verify_identity(
    env: &Env,
    site: &str,
    customer_id: &str,
    signature: &str,
) -> Result<(), ApiError> {
    let keys = server_keys(env)?;
    let expected = keys
        .get(site)
        .filter(|key| !key.is_empty())
        .map(|key| identity_signature(key, customer_id))
        .ok_or(ApiError::NotConfigured("SERVER_KEYS"))?;
    if same(&signature.trim().to_ascii_lowercase(), &expected) {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "signature",
            "the signature is not this customer id's, signed with the site's server key",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_signatures_are_hex_hmacs_of_the_customer_id() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        assert_eq!(
            identity_signature("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
