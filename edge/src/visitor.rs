//! The `Visitor` Durable Object: one per visitor (named `site:visitor_id`), so all of a
//! visitor's events are applied one at a time, in one place, and decisions read the profile
//! without a network hop.
//!
//! Storage is the object's own SQLite database: `events` holds every accepted event once (its
//! id is the primary key, which is what makes ingestion idempotent) and `profile` the folded
//! profile. Everything one request writes is committed together, before the answer leaves,
//! so an event answered with 2xx is durably stored and the profile always matches the events.

use std::cell::{Cell, RefCell};

use rapport_protocol::{DecideRequest, Decision, Event, PageContext};
use rapport_rules::Profile;
use serde::{Deserialize, Serialize};
use serde_json::json;
use worker::{
    durable_object, DurableObject, Env, Request, Response, Result, SqlStorageValue, State,
};

use crate::error::ApiError;
use crate::rulebook;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    received_ms INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS profile (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    body TEXT NOT NULL
);";

/// How many raw events an export returns, newest last.
const EXPORT_LIMIT: i64 = 1_000;

// `State` is not `Debug`, so neither is the object.
#[allow(missing_debug_implementations)]
#[durable_object]
pub struct Visitor {
    state: State,
    env: Env,
    schema_ready: Cell<bool>,
    profile: RefCell<Option<Profile>>,
}

/// What the object answers for a batch.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Ingested {
    pub accepted: Vec<String>,
    pub duplicates: Vec<String>,
}

#[derive(Serialize, Deserialize)]
struct IngestCall {
    visitor_id: String,
    events: Vec<Event>,
}

#[derive(Serialize, Deserialize)]
struct DecideCall {
    visitor_id: String,
    page: PageContext,
}

#[derive(Deserialize)]
struct Count {
    n: i64,
}

#[derive(Deserialize)]
struct StoredEvent {
    id: String,
    r#type: String,
    received_ms: i64,
    body: String,
}

impl DurableObject for Visitor {
    fn new(state: State, env: Env) -> Self {
        Visitor {
            state,
            env,
            schema_ready: Cell::new(false),
            profile: RefCell::new(None),
        }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        self.ensure_schema()?;
        match req.path().as_str() {
            "/events" => {
                let call: IngestCall = req.json().await?;
                Response::from_json(&self.ingest(call)?)
            }
            "/decide" => {
                let call: DecideCall = req.json().await?;
                let book = rulebook::active(&self.env)
                    .await
                    .map_err(worker::Error::RustError)?;
                Response::from_json(&self.decide(&book, call)?)
            }
            "/export" => {
                let visitor_id = req.headers().get("x-visitor")?.unwrap_or_default();
                Response::from_json(&self.export(&visitor_id)?)
            }
            "/erase" => {
                let events: Count = self
                    .state
                    .storage()
                    .sql()
                    .exec("SELECT COUNT(*) AS n FROM events", None)?
                    .one()?;
                // Everything the object stores goes: events, profile, prompt history.
                self.state.storage().delete_all().await?;
                self.schema_ready.set(false);
                self.profile.replace(None);
                Response::from_json(&json!({ "erased": true, "events": events.n }))
            }
            _ => Response::error("not found", 404),
        }
    }
}

impl Visitor {
    fn ensure_schema(&self) -> Result<()> {
        if !self.schema_ready.get() {
            self.state.storage().sql().exec(SCHEMA, None)?;
            self.schema_ready.set(true);
        }
        Ok(())
    }

    fn load_profile(&self, visitor_id: &str) -> Result<Profile> {
        if let Some(profile) = self.profile.borrow().as_ref() {
            return Ok(profile.clone());
        }
        #[derive(Deserialize)]
        struct Row {
            body: String,
        }
        let rows: Vec<Row> = self
            .state
            .storage()
            .sql()
            .exec("SELECT body FROM profile WHERE one = 1", None)?
            .to_array()?;
        let profile = match rows.first() {
            Some(row) => serde_json::from_str(&row.body)
                .map_err(|e| worker::Error::RustError(format!("stored profile: {e}")))?,
            None => Profile::new(visitor_id),
        };
        self.profile.replace(Some(profile.clone()));
        Ok(profile)
    }

    fn ingest(&self, call: IngestCall) -> Result<Ingested> {
        let sql = self.state.storage().sql();
        let now = now_ms();
        let mut profile = self.load_profile(&call.visitor_id)?;
        let mut result = Ingested::default();
        for event in call.events {
            let seen: Count = sql
                .exec(
                    "SELECT COUNT(*) AS n FROM events WHERE id = ?",
                    vec![SqlStorageValue::from(event.id.as_str())],
                )?
                .one()?;
            if seen.n > 0 {
                result.duplicates.push(event.id);
                continue;
            }
            let body = serde_json::to_string(&event)
                .map_err(|e| worker::Error::RustError(e.to_string()))?;
            sql.exec(
                "INSERT INTO events (id, type, received_ms, body) VALUES (?, ?, ?, ?)",
                vec![
                    event.id.as_str().into(),
                    event.data.kind().into(),
                    now.into(),
                    body.into(),
                ],
            )?;
            profile.apply(&event, now);
            result.accepted.push(event.id);
        }
        if !result.accepted.is_empty() {
            let body = serde_json::to_string(&profile)
                .map_err(|e| worker::Error::RustError(e.to_string()))?;
            sql.exec(
                "INSERT INTO profile (one, body) VALUES (1, ?)
                 ON CONFLICT(one) DO UPDATE SET body = excluded.body",
                vec![body.into()],
            )?;
            self.profile.replace(Some(profile));
        }
        Ok(result)
    }

    fn decide(&self, book: &rapport_rules::Rulebook, call: DecideCall) -> Result<Decision> {
        let profile = self.load_profile(&call.visitor_id)?;
        let report = rapport_rules::decision(book, &profile, &call.page, now_ms());
        for line in report
            .trace
            .iter()
            .filter(|t| t.outcome == rapport_rules::Outcome::Errored)
        {
            worker::console_warn!("rule {} errored: {}", line.rule, line.reason);
        }
        Ok(report.decision)
    }

    fn export(&self, visitor_id: &str) -> Result<serde_json::Value> {
        let profile = self.load_profile(visitor_id)?;
        let rows: Vec<StoredEvent> = self
            .state
            .storage()
            .sql()
            .exec(
                "SELECT id, type, received_ms, body FROM
                   (SELECT * FROM events ORDER BY seq DESC LIMIT ?) ORDER BY seq",
                vec![EXPORT_LIMIT.into()],
            )?
            .to_array()?;
        let events: Vec<serde_json::Value> = rows
            .into_iter()
            .map(|row| {
                json!({
                    "id": row.id,
                    "type": row.r#type,
                    "received_ms": row.received_ms,
                    "event": serde_json::from_str::<serde_json::Value>(&row.body).unwrap_or_default(),
                })
            })
            .collect();
        Ok(json!({ "profile": profile, "events": events }))
    }
}

pub(crate) fn now_ms() -> i64 {
    // The edge's clock; the shopper's is never trusted.
    worker::Date::now().as_millis() as i64
}

/// Calls the visitor's object at `path` with a JSON body; anything but 200 is an error.
async fn call(
    env: &Env,
    site: &str,
    visitor_id: &str,
    path: &str,
    body: Option<String>,
) -> std::result::Result<Response, ApiError> {
    let stub = env
        .durable_object("VISITORS")?
        .id_from_name(&format!("{site}:{visitor_id}"))?
        .get_stub()?;
    let mut response =
        crate::object::request(&stub, path, body, &[("x-visitor", visitor_id)]).await?;
    if response.status_code() != 200 {
        let text = response.text().await.unwrap_or_default();
        return Err(ApiError::internal(
            "visitor object",
            format!("{path} answered {}: {text}", response.status_code()),
        ));
    }
    Ok(response)
}

fn to_json<T: Serialize>(value: &T) -> std::result::Result<String, ApiError> {
    serde_json::to_string(value).map_err(|e| ApiError::internal("encoding", e))
}

pub async fn ingest(
    env: &Env,
    site: &str,
    visitor_id: &str,
    events: Vec<Event>,
) -> std::result::Result<Ingested, ApiError> {
    let body = to_json(&IngestCall {
        visitor_id: visitor_id.to_owned(),
        events,
    })?;
    let mut response = call(env, site, visitor_id, "/events", Some(body)).await?;
    Ok(response.json().await?)
}

pub async fn decide(env: &Env, request: &DecideRequest) -> std::result::Result<Decision, ApiError> {
    let body = to_json(&DecideCall {
        visitor_id: request.visitor_id.clone(),
        page: request.page.clone(),
    })?;
    let mut response = call(
        env,
        &request.site,
        &request.visitor_id,
        "/decide",
        Some(body),
    )
    .await?;
    Ok(response.json().await?)
}

/// Erases everything stored about a visitor; returns how many events went.
pub async fn erase(env: &Env, site: &str, visitor_id: &str) -> std::result::Result<i64, ApiError> {
    let mut response = call(env, site, visitor_id, "/erase", Some(String::new())).await?;
    let answer: serde_json::Value = response.json().await?;
    Ok(answer["events"].as_i64().unwrap_or(0))
}

pub async fn export(
    env: &Env,
    site: &str,
    visitor_id: &str,
) -> std::result::Result<serde_json::Value, ApiError> {
    let mut response = call(env, site, visitor_id, "/export", None).await?;
    Ok(response.json().await?)
}
