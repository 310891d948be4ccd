//! The `Visitor` Durable Object: one per visitor (named `site:visitor_id`), so all of a
//! visitor's events are applied one at a time, in one place, and decisions read the profile
//! without a network hop.
//!
//! Storage is the object's own SQLite database: `events` holds every accepted event once (its
//! id is unique, which is what makes ingestion idempotent) and `profile` the folded profile.
//! Everything one request writes is committed together, before the answer leaves, so an
//! event answered with 2xx is durably stored and the profile always matches the events.
//!
//! `outbox` holds report tallies until D1 has them. The object's alarm sends them a couple of
//! seconds after they are written (so a burst of events costs one D1 write), and blanks raw
//! events older than the retention period (`EVENT_RETENTION_DAYS`, 90 by default); the ids
//! stay, so a replay of an expired event is still recognised.

use std::cell::{Cell, RefCell};
use std::collections::HashSet;

use rapport_protocol::{DecideRequest, Event, PageContext};
use rapport_rules::customer::Trusted;
use rapport_rules::report::{self, Tally};
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
CREATE INDEX IF NOT EXISTS events_received ON events (received_ms);
CREATE TABLE IF NOT EXISTS profile (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    site TEXT NOT NULL,
    tally TEXT NOT NULL
);";

/// How long tallies wait in the outbox, so a burst of events costs one D1 write.
const FLUSH_DELAY_MS: i64 = 2_000;
/// How long before a failed D1 write is tried again.
const RETRY_DELAY_MS: i64 = 30_000;
const DEFAULT_RETENTION_DAYS: f64 = 90.0;
/// Events per INSERT: four parameters each, under SQLite's limit of 100 per statement in
/// Durable Objects.
const INSERT_CHUNK: usize = 24;

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
    /// The alarm as this instance last saw or set it: `None` until read from storage,
    /// `Some(None)` for no alarm. Saves a storage call on every request.
    alarm_at: Cell<Option<Option<i64>>>,
    /// Whether tallies were queued since the outbox was last sent.
    outbox_pending: Cell<bool>,
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
    /// The experience a verified preview token forces in.
    #[serde(default)]
    preview: Option<String>,
    /// The page's word on consent, which wins over the stored one for this decision.
    #[serde(default)]
    consent: Option<rapport_protocol::Consent>,
}

/// What the retailer's systems tell a visitor through its customer (see `customer`).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct TrustedPush {
    /// The customer's facts now; `None` leaves the profile's as they are.
    #[serde(default)]
    pub trusted: Option<Trusted>,
    /// The link to the customer is gone: forget its facts.
    #[serde(default)]
    pub unlink: bool,
    #[serde(default)]
    pub conversions: Vec<Conversion>,
}

/// A purchase to credit to what this visitor saw.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Conversion {
    /// The server event's id: a conversion is credited once, however often it is pushed.
    pub id: String,
    pub value: f64,
    pub at_ms: i64,
    /// Whether the order was placed from this browser, which empties its cart.
    pub from_this_visitor: bool,
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
            alarm_at: Cell::new(None),
            outbox_pending: Cell::new(false),
        }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        self.ensure_schema()?;
        let site = req.headers().get("x-site")?.unwrap_or_default();
        let visitor_id = req.headers().get("x-visitor")?.unwrap_or_default();
        match req.path().as_str() {
            "/events" => {
                let call: IngestCall = req.json().await?;
                let ingested = self.ingest(&site, call)?;
                self.schedule().await?;
                Response::from_json(&ingested)
            }
            "/decide" => {
                let call: DecideCall = req.json().await?;
                let book = rulebook::active(&self.env)
                    .await
                    .map_err(worker::Error::RustError)?;
                match self.decide(&book, call)? {
                    Ok(json) => crate::error::json_text(json, 200),
                    Err(message) => {
                        Ok(Response::from_json(&json!({ "error": message }))?.with_status(422))
                    }
                }
            }
            "/trusted" => {
                let push: TrustedPush = req.json().await?;
                self.take_trusted(&site, &visitor_id, push)?;
                self.schedule().await?;
                Response::from_json(&json!({ "ok": true }))
            }
            "/export" => {
                self.expire_events()?;
                Response::from_json(&self.export(&visitor_id)?)
            }
            "/erase" => {
                let events: Count = self
                    .state
                    .storage()
                    .sql()
                    .exec("SELECT COUNT(*) AS n FROM events", None)?
                    .one()?;
                let customer_id = self.load_profile(&visitor_id)?.customer_id;
                // Everything the object stores goes: events, profile, prompt history, and
                // tallies not yet in the reports (which hold no visitor data).
                self.state.storage().delete_alarm().await?;
                self.state.storage().delete_all().await?;
                self.schema_ready.set(false);
                self.alarm_at.set(Some(None));
                self.outbox_pending.set(false);
                self.profile.replace(None);
                Response::from_json(
                    &json!({ "erased": true, "events": events.n, "customer_id": customer_id }),
                )
            }
            _ => Response::error("not found", 404),
        }
    }

    async fn alarm(&self) -> Result<Response> {
        // This alarm has fired; the next is set below.
        self.alarm_at.set(Some(None));
        self.ensure_schema()?;
        self.expire_events()?;
        let flushed = self.flush_outbox().await;
        if let Err(err) = &flushed {
            worker::console_error!("report tallies not sent, retrying: {err}");
        }
        self.schedule_after(flushed.is_err()).await?;
        Response::ok("")
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

    /// The stored profile, read from storage on the instance's first use.
    fn load_profile(&self, visitor_id: &str) -> Result<Profile> {
        self.with_profile(visitor_id, Profile::clone)
    }

    /// Runs `f` on the profile without copying it (decisions only read it).
    fn with_profile<R>(&self, visitor_id: &str, f: impl FnOnce(&Profile) -> R) -> Result<R> {
        if self.profile.borrow().is_none() {
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
            self.profile.replace(Some(profile));
        }
        let cached = self.profile.borrow();
        Ok(f(cached.as_ref().expect("loaded above")))
    }

    fn ingest(&self, site: &str, call: IngestCall) -> Result<Ingested> {
        let now = now_ms();
        let mut profile = self.load_profile(&call.visitor_id)?;
        let mut result = Ingested::default();
        let mut tallies = Vec::new();
        for chunk in call.events.chunks(INSERT_CHUNK) {
            let mut stored = self.insert_events(chunk, now)?;
            for event in chunk {
                // Each id is stored once: one the insert skipped, or the second copy of an
                // id within the batch, is a duplicate.
                if !stored.remove(event.id.as_str()) {
                    result.duplicates.push(event.id.clone());
                    continue;
                }
                profile.apply(event, now);
                tallies.extend(report::tally_event(&event.data, now));
                result.accepted.push(event.id.clone());
            }
        }
        for tally in report::merge(tallies) {
            self.queue_tally(site, &tally)?;
        }
        if !result.accepted.is_empty() {
            self.save_profile(profile)?;
        }
        Ok(result)
    }

    /// Inserts events in one statement, skipping ids already stored; gives the ids stored.
    fn insert_events(&self, events: &[Event], now: i64) -> Result<HashSet<String>> {
        #[derive(Deserialize)]
        struct Stored {
            id: String,
        }
        let mut values = Vec::with_capacity(events.len() * 4);
        for event in events {
            let body = serde_json::to_string(event)
                .map_err(|e| worker::Error::RustError(e.to_string()))?;
            values.extend([
                SqlStorageValue::from(event.id.as_str()),
                event.data.kind().into(),
                now.into(),
                body.into(),
            ]);
        }
        let rows = vec!["(?, ?, ?, ?)"; events.len()].join(", ");
        let stored: Vec<Stored> = self
            .state
            .storage()
            .sql()
            .exec(
                &format!(
                    "INSERT INTO events (id, type, received_ms, body) VALUES {rows}
                     ON CONFLICT (id) DO NOTHING RETURNING id"
                ),
                values,
            )?
            .to_array()?;
        Ok(stored.into_iter().map(|s| s.id).collect())
    }

    fn save_profile(&self, profile: Profile) -> Result<()> {
        let body =
            serde_json::to_string(&profile).map_err(|e| worker::Error::RustError(e.to_string()))?;
        self.state.storage().sql().exec(
            "INSERT INTO profile (one, body) VALUES (1, ?)
             ON CONFLICT(one) DO UPDATE SET body = excluded.body",
            vec![body.into()],
        )?;
        self.profile.replace(Some(profile));
        Ok(())
    }

    fn queue_tally(&self, site: &str, tally: &Tally) -> Result<()> {
        let body =
            serde_json::to_string(tally).map_err(|e| worker::Error::RustError(e.to_string()))?;
        self.state.storage().sql().exec(
            "INSERT INTO outbox (site, tally) VALUES (?, ?)",
            vec![site.into(), body.into()],
        )?;
        self.outbox_pending.set(true);
        Ok(())
    }

    /// Takes the customer's trusted facts, and credits purchases to what the visitor saw.
    fn take_trusted(&self, site: &str, visitor_id: &str, push: TrustedPush) -> Result<()> {
        let sql = self.state.storage().sql();
        let mut profile = self.load_profile(visitor_id)?;
        if push.unlink {
            profile.clear_trusted();
        }
        if let Some(trusted) = &push.trusted {
            profile.set_trusted(trusted);
        }
        let now = now_ms();
        for conversion in push.conversions {
            let seen: Count = sql
                .exec(
                    "SELECT COUNT(*) AS n FROM events WHERE id = ?",
                    vec![conversion.id.as_str().into()],
                )?
                .one()?;
            if seen.n > 0 {
                continue;
            }
            let body = serde_json::to_string(&conversion)
                .map_err(|e| worker::Error::RustError(e.to_string()))?;
            sql.exec(
                "INSERT INTO events (id, type, received_ms, body) VALUES (?, 'conversion', ?, ?)",
                vec![conversion.id.as_str().into(), now.into(), body.into()],
            )?;
            for tally in report::tally_conversion(&profile, conversion.value, conversion.at_ms) {
                self.queue_tally(site, &tally)?;
            }
            if conversion.from_this_visitor {
                profile.cart.clear();
            }
        }
        self.save_profile(profile)
    }

    fn retention_ms(&self) -> i64 {
        let days = self
            .env
            .var("EVENT_RETENTION_DAYS")
            .ok()
            .and_then(|v| v.to_string().trim().parse::<f64>().ok())
            .filter(|d| d.is_finite() && *d > 0.0)
            .unwrap_or(DEFAULT_RETENTION_DAYS);
        (days * 86_400_000.0) as i64
    }

    /// Blanks raw events past the retention period. Ids, types and times stay, so a replayed
    /// old event is still a duplicate; the profile already holds what they taught.
    fn expire_events(&self) -> Result<()> {
        let before = now_ms() - self.retention_ms();
        self.state.storage().sql().exec(
            "UPDATE events SET body = '' WHERE received_ms < ? AND body != ''",
            vec![before.into()],
        )?;
        Ok(())
    }

    /// Sends the outbox to the reports database and empties it.
    async fn flush_outbox(&self) -> Result<()> {
        #[derive(Deserialize)]
        struct Row {
            seq: i64,
            site: String,
            tally: String,
        }
        let rows: Vec<Row> = self
            .state
            .storage()
            .sql()
            .exec("SELECT seq, site, tally FROM outbox ORDER BY seq", None)?
            .to_array()?;
        let Some(last) = rows.last().map(|r| r.seq) else {
            return Ok(());
        };
        let mut by_site: Vec<(String, Vec<Tally>)> = Vec::new();
        for row in rows {
            let tally: Tally = serde_json::from_str(&row.tally)
                .map_err(|e| worker::Error::RustError(format!("outbox row: {e}")))?;
            match by_site.iter_mut().find(|(site, _)| *site == row.site) {
                Some((_, tallies)) => tallies.push(tally),
                None => by_site.push((row.site, vec![tally])),
            }
        }
        for (site, tallies) in by_site {
            crate::reports::add(&self.env, &site, &report::merge(tallies)).await?;
        }
        self.state
            .storage()
            .sql()
            .exec("DELETE FROM outbox WHERE seq <= ?", vec![last.into()])?;
        Ok(())
    }

    /// After a request: makes sure an alarm will send new tallies soon, and that one is set
    /// at all while raw events wait to expire. Costs no storage call when the alarm this
    /// instance knows of already does.
    async fn schedule(&self) -> Result<()> {
        let now = now_ms();
        if self.outbox_pending.get() {
            return self.alarm_by(now + FLUSH_DELAY_MS).await;
        }
        if let Some(Some(_)) = self.alarm_at.get() {
            return Ok(());
        }
        self.schedule_after(false).await
    }

    /// Sets the alarm for the next thing to do: sending the outbox (soon, or later after a
    /// failure) or expiring the oldest raw event.
    async fn schedule_after(&self, failed: bool) -> Result<()> {
        #[derive(Deserialize)]
        struct Oldest {
            at: Option<i64>,
        }
        let sql = self.state.storage().sql();
        let pending: Count = sql.exec("SELECT COUNT(*) AS n FROM outbox", None)?.one()?;
        self.outbox_pending.set(pending.n > 0);
        let oldest: Oldest = sql
            .exec(
                "SELECT MIN(received_ms) AS at FROM events WHERE body != ''",
                None,
            )?
            .one()?;
        let now = now_ms();
        let wanted = if pending.n > 0 {
            Some(
                now + if failed {
                    RETRY_DELAY_MS
                } else {
                    FLUSH_DELAY_MS
                },
            )
        } else {
            oldest
                .at
                .map(|at| (at + self.retention_ms()).max(now + 1_000))
        };
        match wanted {
            Some(wanted) => self.alarm_by(wanted).await,
            None => Ok(()),
        }
    }

    /// Makes sure the alarm goes off no later than `wanted`.
    async fn alarm_by(&self, wanted: i64) -> Result<()> {
        let storage = self.state.storage();
        let current = match self.alarm_at.get() {
            Some(known) => known,
            None => storage.get_alarm().await?,
        };
        if current.is_none_or(|at| at > wanted) {
            storage.set_alarm(wanted - now_ms()).await?;
            self.alarm_at.set(Some(Some(wanted)));
        } else {
            self.alarm_at.set(Some(current));
        }
        Ok(())
    }

    /// The decision, or with a preview the full report; `Err` names a preview experience the
    /// active rulebook does not have.
    fn decide(
        &self,
        book: &rapport_rules::Rulebook,
        call: DecideCall,
    ) -> Result<std::result::Result<String, String>> {
        let now = now_ms();
        let answer = self.with_profile(&call.visitor_id, |stored| {
            let with_consent;
            let profile = match call.consent {
                Some(consent) if stored.consent != Some(consent) => {
                    with_consent = Profile {
                        consent: Some(consent),
                        ..stored.clone()
                    };
                    &with_consent
                }
                _ => stored,
            };
            if let Some(experience) = &call.preview {
                return rapport_rules::preview(book, profile, &call.page, now, experience)
                    .map(|report| serde_json::to_string(&report));
            }
            let report = rapport_rules::decision(book, profile, &call.page, now);
            for line in report
                .trace
                .iter()
                .filter(|t| t.outcome == rapport_rules::Outcome::Errored)
            {
                worker::console_warn!("rule {} errored: {}", line.rule, line.reason);
            }
            Ok(serde_json::to_string(&report.decision))
        })?;
        match answer {
            Ok(json) => Ok(Ok(
                json.map_err(|e| worker::Error::RustError(e.to_string()))?
            )),
            Err(message) => Ok(Err(message)),
        }
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
                // A blank body is an event past the retention period: only its id is kept.
                let event = (!row.body.is_empty())
                    .then(|| serde_json::from_str::<serde_json::Value>(&row.body).ok())
                    .flatten();
                json!({
                    "id": row.id,
                    "type": row.r#type,
                    "received_ms": row.received_ms,
                    "event": event,
                    "expired": row.body.is_empty(),
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
pub(crate) async fn call(
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
    let mut response = crate::object::request(
        &stub,
        path,
        body,
        &[("x-visitor", visitor_id), ("x-site", site)],
    )
    .await?;
    if response.status_code() == 422 && path == "/decide" {
        let answer: serde_json::Value = response.json().await?;
        return Err(ApiError::bad(
            "preview",
            answer["error"]
                .as_str()
                .unwrap_or("the preview cannot be shown"),
        ));
    }
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

/// The decision for a visitor, as JSON; with `preview` (a verified token's experience), the
/// full report with that experience forced in.
pub async fn decide(
    env: &Env,
    request: &DecideRequest,
    preview: Option<String>,
) -> std::result::Result<String, ApiError> {
    let body = to_json(&DecideCall {
        visitor_id: request.visitor_id.clone(),
        page: request.page.clone(),
        preview,
        consent: request.consent,
    })?;
    let mut response = call(
        env,
        &request.site,
        &request.visitor_id,
        "/decide",
        Some(body),
    )
    .await?;
    Ok(response.text().await?)
}

/// What erasing a visitor removed.
#[derive(Debug, Deserialize)]
pub struct Erased {
    pub events: i64,
    /// The customer the visitor was linked to, which must forget the link.
    pub customer_id: Option<String>,
}

/// Erases everything stored about a visitor.
pub async fn erase(
    env: &Env,
    site: &str,
    visitor_id: &str,
) -> std::result::Result<Erased, ApiError> {
    let mut response = call(env, site, visitor_id, "/erase", Some(String::new())).await?;
    Ok(response.json().await?)
}

/// Hands a visitor its customer's trusted facts and conversions.
pub async fn push_trusted(
    env: &Env,
    site: &str,
    visitor_id: &str,
    push: &TrustedPush,
) -> std::result::Result<(), ApiError> {
    call(env, site, visitor_id, "/trusted", Some(to_json(push)?)).await?;
    Ok(())
}

pub async fn export(
    env: &Env,
    site: &str,
    visitor_id: &str,
) -> std::result::Result<serde_json::Value, ApiError> {
    let mut response = call(env, site, visitor_id, "/export", None).await?;
    Ok(response.json().await?)
}
