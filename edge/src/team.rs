//! The console's team: named people, each with a role, invited by the owner.
//!
//! The owner is whoever holds the admin token; they invite a person by name and role, which
//! gives a one-time link (its token kept in D1 only as a SHA-256, for a week). The invitee
//! opens it and sets their own secret, kept only as a salted PBKDF2-HMAC-SHA256 hash with
//! [`ITERATIONS`] rounds. From then on they sign in with their name and secret; their
//! session (`session`) carries their name, and their role is read afresh on every call, so a
//! change of role or a removal takes effect at once. The router checks the role each route
//! needs ([`Role`]) before its handler runs.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use wasm_bindgen::{JsCast, JsValue};
use worker::{js_sys, D1Database, D1PreparedStatement, Env};

use crate::aggregates::database;
use crate::error::{ApiError, Context};

/// What a member of the team may do, each role everything the one before may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads results, the rulebook, its versions and the audit log; checks, simulates and
    /// measures the impact of rules, without saving them.
    Viewer,
    /// Also saves and discards the draft and makes preview links.
    Editor,
    /// Also publishes, rolls back and approves another's publish.
    Publisher,
    /// Also invites and removes people, changes roles and settings, and exports or erases
    /// a visitor's data.
    Owner,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Editor => "editor",
            Role::Publisher => "publisher",
            Role::Owner => "owner",
        }
    }

    /// "a viewer", "an editor", ...
    pub fn with_article(self) -> &'static str {
        match self {
            Role::Viewer => "a viewer",
            Role::Editor => "an editor",
            Role::Publisher => "a publisher",
            Role::Owner => "an owner",
        }
    }

    fn parse(name: &str) -> Option<Role> {
        [Role::Viewer, Role::Editor, Role::Publisher, Role::Owner]
            .into_iter()
            .find(|role| role.name() == name)
    }
}

/// Who is calling: a member of the team, or the holder of the admin token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Member {
    pub name: String,
    pub role: Role,
}

/// The name the admin token's holder goes by; no member may take it.
pub const OWNER: &str = "owner";

impl Member {
    /// The holder of the admin token.
    pub fn owner() -> Member {
        Member {
            name: OWNER.to_owned(),
            role: Role::Owner,
        }
    }
}

/// PBKDF2 rounds for a secret: the most Cloudflare's own Web Crypto allows, so a secret
/// could move to it unchanged.
pub const ITERATIONS: u32 = 100_000;
/// How long an invitation link works.
pub const INVITE_DAYS: i64 = 7;

/// The hex of PBKDF2-HMAC-SHA256(secret, salt, iterations), 32 bytes.
fn hash_secret(secret: &str, salt: &str, iterations: u32) -> String {
    let mut out = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(secret.as_bytes(), salt.as_bytes(), iterations, &mut out);
    hex::encode(out)
}

/// 244 random bits from the runtime's CSPRNG (two `crypto.randomUUID()`s), in 64 hex digits.
pub fn random_id() -> Result<String, ApiError> {
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

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A person's name: 1 to 40 characters of letters, digits, spaces and `.-_'`, not the
/// owner's.
pub fn check_name(name: &str) -> Result<(), ApiError> {
    let fits = |c: char| c.is_alphanumeric() || matches!(c, ' ' | '.' | '-' | '_' | '\'');
    if name.trim() != name || name.is_empty() || name.chars().count() > 40 {
        return Err(ApiError::bad(
            "name",
            "a name is 1 to 40 characters, without spaces at either end",
        ));
    }
    if !name.chars().all(fits) {
        return Err(ApiError::bad(
            "name",
            "a name has letters, digits, spaces and . - _ ' only",
        ));
    }
    if name.eq_ignore_ascii_case(OWNER) {
        return Err(ApiError::bad(
            "name",
            "\"owner\" is the admin token's holder; choose another name",
        ));
    }
    Ok(())
}

/// A secret: 12 to 200 characters.
pub fn check_secret(secret: &str) -> Result<(), ApiError> {
    let length = secret.chars().count();
    if !(12..=200).contains(&length) {
        return Err(ApiError::bad(
            "secret",
            "a secret is 12 to 200 characters; a few words make a good one",
        ));
    }
    Ok(())
}

/// A role by its name, or a 400 naming `field`.
pub fn role(field: &str, name: &str) -> Result<Role, ApiError> {
    Role::parse(name).ok_or_else(|| {
        ApiError::bad(
            field,
            format!("\"{name}\" is no role: viewer, editor, publisher or owner"),
        )
    })
}

/// Runs `statements` in one batch (the team's tables are in the D1 migrations); gives each
/// statement's rows.
pub async fn batch(
    db: &D1Database,
    statements: Vec<D1PreparedStatement>,
    what: &str,
) -> Result<Vec<worker::D1Result>, ApiError> {
    db.batch(statements).await.context(what)
}

/// A statement's rows.
pub fn rows<T: for<'de> Deserialize<'de>>(
    result: &worker::D1Result,
    what: &str,
) -> Result<Vec<T>, ApiError> {
    result.results().context(what)
}

/// A new invitation: its one-time token and when it lapses.
#[derive(Debug, Serialize)]
pub struct Invitation {
    pub name: String,
    pub role: Role,
    pub token: String,
    pub expires_ms: i64,
}

/// Invites `name` as `role`, replacing an earlier invitation of the same name. Refused when
/// a member already has the name.
pub async fn invite(
    env: &Env,
    by: &Member,
    name: &str,
    role: Role,
    now_ms: i64,
) -> Result<Invitation, ApiError> {
    check_name(name)?;
    let db = database(env)?;
    if find(&db, name).await?.is_some() {
        return Err(ApiError::Conflict {
            field: "name".to_owned(),
            message: format!("{name} is already on the team; change their role instead"),
        });
    }
    let token = random_id()?;
    let expires_ms = now_ms + INVITE_DAYS * 24 * 60 * 60 * 1000;
    let bind = |sql: &str, values: &[wasm_bindgen::JsValue]| {
        db.prepare(sql)
            .bind(values)
            .context("binding an invitation")
    };
    batch(
        &db,
        vec![
            bind(
                "DELETE FROM console_invites WHERE name = ? OR expires_ms < ?",
                &[name.into(), (now_ms as f64).into()],
            )?,
            bind(
                "INSERT INTO console_invites (token_hash, name, role, invited_by, expires_ms)
                 VALUES (?, ?, ?, ?, ?)",
                &[
                    token_hash(&token).into(),
                    name.into(),
                    role.name().into(),
                    by.name.as_str().into(),
                    (expires_ms as f64).into(),
                ],
            )?,
        ],
        "storing an invitation",
    )
    .await?;
    Ok(Invitation {
        name: name.to_owned(),
        role,
        token,
        expires_ms,
    })
}

/// An open invitation, as its link shows it.
#[derive(Debug, Serialize, Deserialize)]
pub struct Invited {
    pub name: String,
    pub role: String,
    pub invited_by: String,
    pub expires_ms: f64,
}

fn no_invitation() -> ApiError {
    ApiError::no_such(
        "token",
        "this invitation link has been used, has lapsed or was never made; ask the owner for a new one",
    )
}

/// The invitation `token` opens, if it is still open.
pub async fn invited(env: &Env, token: &str, now_ms: i64) -> Result<Invited, ApiError> {
    let db = database(env)?;
    let found = batch(
        &db,
        vec![db
            .prepare(
                "SELECT name, role, invited_by, expires_ms FROM console_invites
                 WHERE token_hash = ? AND expires_ms > ?",
            )
            .bind(&[token_hash(token).into(), (now_ms as f64).into()])
            .context("binding an invitation lookup")?],
        "looking up an invitation",
    )
    .await?;
    rows::<Invited>(&found[0], "reading an invitation")?
        .into_iter()
        .next()
        .ok_or_else(no_invitation)
}

/// Uses the invitation `token` once: its invitee joins with `secret`.
pub async fn accept(
    env: &Env,
    token: &str,
    secret: &str,
    salt: &str,
    now_ms: i64,
) -> Result<Member, ApiError> {
    check_secret(secret)?;
    let db = database(env)?;
    // Taken and deleted in one statement: a link works once, however fast it is clicked.
    let taken = batch(
        &db,
        vec![db
            .prepare(
                "DELETE FROM console_invites WHERE token_hash = ? AND expires_ms > ?
                 RETURNING name, role, invited_by, expires_ms",
            )
            .bind(&[token_hash(token).into(), (now_ms as f64).into()])
            .context("binding an invitation's use")?],
        "using an invitation",
    )
    .await?;
    let invited = rows::<Invited>(&taken[0], "reading an invitation")?
        .into_iter()
        .next()
        .ok_or_else(no_invitation)?;
    let role = role("role", &invited.role)?;
    db.prepare(
        "INSERT INTO console_users (name, role, salt, hash, iterations, invited_by, joined_ms)
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&[
        invited.name.as_str().into(),
        role.name().into(),
        salt.into(),
        hash_secret(secret, salt, ITERATIONS).into(),
        ITERATIONS.into(),
        invited.invited_by.as_str().into(),
        (now_ms as f64).into(),
    ])
    .context("binding a new member")?
    .run()
    .await
    .map_err(|_| ApiError::Conflict {
        field: "name".to_owned(),
        message: format!("{} joined already", invited.name),
    })?;
    Ok(Member {
        name: invited.name,
        role,
    })
}

#[derive(Deserialize)]
struct Stored {
    name: String,
    role: String,
    salt: String,
    hash: String,
    iterations: f64,
}

async fn find(db: &D1Database, name: &str) -> Result<Option<Stored>, ApiError> {
    let found = batch(
        db,
        vec![db
            .prepare("SELECT name, role, salt, hash, iterations FROM console_users WHERE name = ?")
            .bind(&[name.into()])
            .context("binding a member lookup")?],
        "looking up a member",
    )
    .await?;
    Ok(rows::<Stored>(&found[0], "reading a member")?
        .into_iter()
        .next())
}

/// The member `name` signs in as with `secret`, if that is their secret. An unknown name
/// takes as long as a wrong secret, so the time says nothing about who is on the team.
pub async fn verify(env: &Env, name: &str, secret: &str) -> Result<Option<Member>, ApiError> {
    let db = database(env)?;
    let stored = find(&db, name).await?;
    let (salt, expected, iterations) = match &stored {
        Some(s) => (s.salt.as_str(), s.hash.as_str(), s.iterations as u32),
        None => ("no such member", "", ITERATIONS),
    };
    let given = hash_secret(secret, salt, iterations);
    let matches = bool::from(given.as_bytes().ct_eq(expected.as_bytes()));
    match stored {
        Some(s) if matches => Ok(Some(Member {
            role: role("role", &s.role)?,
            name: s.name,
        })),
        _ => Ok(None),
    }
}

/// The member `name`'s current role: `None` once they have been removed.
pub fn current_role(name: &str, stored_role: Option<&str>) -> Option<Role> {
    match stored_role {
        Some(role) => Role::parse(role),
        None if name == OWNER => Some(Role::Owner),
        None => None,
    }
}

/// The team as the console lists it.
#[derive(Debug, Serialize, Deserialize)]
pub struct Team {
    pub members: Vec<Joined>,
    pub invitations: Vec<Invited>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Joined {
    pub name: String,
    pub role: String,
    pub invited_by: String,
    pub joined_ms: f64,
}

/// Everyone on the team, and the invitations still open.
pub async fn list(env: &Env, now_ms: i64) -> Result<Team, ApiError> {
    let db = database(env)?;
    let found = batch(
        &db,
        vec![
            db.prepare("SELECT name, role, invited_by, joined_ms FROM console_users ORDER BY name"),
            db.prepare(
                "SELECT name, role, invited_by, expires_ms FROM console_invites
                 WHERE expires_ms > ? ORDER BY name",
            )
            .bind(&[(now_ms as f64).into()])
            .context("binding the invitations' listing")?,
        ],
        "listing the team",
    )
    .await?;
    Ok(Team {
        members: rows(&found[0], "reading the members")?,
        invitations: rows(&found[1], "reading the invitations")?,
    })
}

/// Gives the member `name` a new role.
pub async fn set_role(env: &Env, name: &str, role: Role) -> Result<(), ApiError> {
    let db = database(env)?;
    let changed = batch(
        &db,
        vec![db
            .prepare("UPDATE console_users SET role = ? WHERE name = ? RETURNING name")
            .bind(&[role.name().into(), name.into()])
            .context("binding a change of role")?],
        "changing a role",
    )
    .await?;
    if rows::<serde_json::Value>(&changed[0], "reading a change of role")?.is_empty() {
        return Err(ApiError::no_such(
            "name",
            format!("{name} is not on the team"),
        ));
    }
    Ok(())
}

/// Removes `name` from the team (or their open invitation), and ends their sessions.
pub async fn remove(env: &Env, name: &str) -> Result<(), ApiError> {
    let db = database(env)?;
    let bind = |sql: &str| {
        db.prepare(sql)
            .bind(&[name.into()])
            .context("binding a removal")
    };
    let removed = batch(
        &db,
        vec![
            bind("DELETE FROM console_users WHERE name = ? RETURNING name")?,
            bind("DELETE FROM console_invites WHERE name = ? RETURNING name")?,
            bind("DELETE FROM console_logins WHERE name = ?")?,
        ],
        "removing a member",
    )
    .await?;
    let gone = rows::<serde_json::Value>(&removed[0], "reading a removal")?.len()
        + rows::<serde_json::Value>(&removed[1], "reading a removal")?.len();
    if gone == 0 {
        return Err(ApiError::no_such(
            "name",
            format!("{name} is not on the team"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_hashed_with_pbkdf2_hmac_sha256() {
        // RFC 7914 section 11: PBKDF2-HMAC-SHA256("passwd", "salt", 1), first 32 bytes.
        assert_eq!(
            hash_secret("passwd", "salt", 1),
            "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
        );
    }

    #[test]
    fn roles_are_ordered_by_what_they_may_do() {
        assert!(Role::Viewer < Role::Editor);
        assert!(Role::Editor < Role::Publisher);
        assert!(Role::Publisher < Role::Owner);
        assert_eq!(Role::parse("publisher"), Some(Role::Publisher));
        assert_eq!(Role::parse("admin"), None);
    }

    #[test]
    fn names_are_checked() {
        assert!(check_name("Ana Silva").is_ok());
        assert!(check_name("José O'Neil-2").is_ok());
        for bad in ["", " Ana", "Ana ", "Owner", "a<b>", &"x".repeat(41)] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_removed_member_has_no_role_and_the_owner_keeps_theirs() {
        assert_eq!(current_role(OWNER, None), Some(Role::Owner));
        assert_eq!(current_role("Ana", None), None);
        assert_eq!(current_role("Ana", Some("viewer")), Some(Role::Viewer));
    }
}
