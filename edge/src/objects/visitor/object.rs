//! The `Visitor` Durable Object: one per visitor (named `site:visitor_id`), so all of a
//! visitor's events are applied one at a time, in one place, and decisions read the profile
//! without a network hop.
//!
//! Storage is the object's own SQLite database: `events` holds every accepted event once (its
//! id is unique, which is what makes ingestion idempotent) and `profile` the folded profile.
//! Everything one request writes is committed together, before the answer leaves, so an
//! event answered with 2xx is durably stored and the profile always matches the events.
//! Aggregate rows (the daily report's and the analytics') wait in the same database's outbox
//! (see `outbox`).

use std::cell::{Cell, RefCell};
use std::collections::HashSet;

use rapport_analytics::visitor::{Changes, Purchase, Visitor as Record};
use rapport_protocol::{Event, EventData};
use rapport_recs::catalogue::{self, SessionSoFar};
use rapport_rules::Profile;
use serde::Deserialize;
use serde_json::json;
use worker::{
    durable_object, DurableObject, Env, Request, Response, Result, SqlStorageValue, State,
};

use super::outbox::{Outbox, Outgoing};
use super::{Call, Decide, Decided, Erased, TrustedPush, VisitorCall};
use crate::clock::now_ms;
use crate::error::Context;
use crate::objects::catalogue::Fill;
use crate::objects::{encode, receive, respond, Count, Ingested};

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
    -- What waits, as JSON (an aggregate row, or what a batch taught the catalogue).
    tally TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox_source (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    source TEXT NOT NULL
);";

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
    /// The visitor's record (profile and analytics bookkeeping) as stored, once read.
    record: RefCell<Option<Record>>,
    /// Aggregate rows on their way to D1, and the alarm that sends them.
    outbox: Outbox,
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
            record: RefCell::new(None),
            outbox: Outbox::default(),
        }
    }

    async fn fetch(&self, req: Request) -> Result<Response> {
        use crate::objects::ObjectCall as _;
        let call: VisitorCall = receive(req).await?;
        let name = call.name();
        self.ensure_schema()?;
        let VisitorCall {
            site,
            visitor_id,
            call,
        } = call;
        match call {
            Call::Ingest {
                events,
                opt_in,
                at_ms,
            } => {
                let ingested = self.ingest(&site, &visitor_id, events, opt_in, at_ms);
                if ingested.is_ok() {
                    self.schedule().await?;
                }
                respond(name, ingested)
            }
            Call::Decide(mut decide) => {
                // The page's events first, so that the decision sees them; a fault storing
                // them costs their acknowledgement (the page sends them again), not the
                // decision.
                let events = std::mem::take(&mut decide.events);
                let stored = match events.is_empty() {
                    true => None,
                    false => self
                        .ingest(&site, &visitor_id, events, decide.opt_in, decide.at_ms)
                        .inspect_err(|err| {
                            worker::console_error!("storing a decision's events failed: {err}")
                        })
                        .ok(),
                };
                let decided = self.decide(&site, &visitor_id, decide).await;
                // Most decisions queue nothing: only the day's first, or events, need the
                // alarm.
                if decided.is_ok() && (stored.is_some() || self.outbox.pending()) {
                    self.schedule().await?;
                }
                respond(
                    name,
                    decided.map(|(decided, fills)| super::DecideAnswer {
                        decided,
                        stored,
                        fills,
                    }),
                )
            }
            Call::Trusted(push) => {
                let taken = self.take_trusted(&site, &visitor_id, push).await;
                if taken.is_ok() {
                    self.schedule().await?;
                }
                respond(name, taken)
            }
            Call::Export => respond(
                name,
                Outbox::expire_events(&self.state.storage(), &self.env)
                    .and_then(|()| self.export(&visitor_id)),
            ),
            Call::Erase => respond(name, self.erase(&visitor_id).await),
        }
    }

    /// Sends what waits, expires old events, judges an idle session's landing, and sets the
    /// next alarm.
    async fn alarm(&self) -> Result<Response> {
        self.ensure_schema()?;
        // This alarm has fired; the next is set below.
        self.outbox.alarm_fired();
        let storage = self.state.storage();
        Outbox::expire_events(&storage, &self.env)?;
        self.end_idle_session()?;
        let record = self.stored_record()?;
        let flushed = self
            .outbox
            .flush(&storage, &self.env, record.as_ref())
            .await;
        if let Err(err) = &flushed {
            worker::console_error!("aggregate rows not sent, retrying: {err}");
        }
        let session_end = self.session_end()?;
        self.outbox
            .schedule_after(&storage, &self.env, flushed.is_err(), session_end)
            .await?;
        Response::ok("")
    }
}

impl Visitor {
    /// After a request: makes sure the alarm will send what was queued.
    async fn schedule(&self) -> Result<()> {
        self.outbox
            .schedule(&self.state.storage(), &self.env, || self.session_end())
            .await
    }

    fn queue(&self, site: &str, outgoing: &Outgoing) -> Result<()> {
        self.outbox.queue(&self.state.storage(), site, outgoing)
    }

    /// What folding something in gave to send: the aggregate rows, for the outbox.
    fn send(&self, site: &str, changes: Changes) -> Result<()> {
        for row in changes.rows {
            self.queue(site, &Outgoing::Row(row))?;
        }
        Ok(())
    }

    /// A session idle for long enough is over: a landing page nothing followed was an exit
    /// straight after arriving.
    fn end_idle_session(&self) -> Result<()> {
        let now = now_ms();
        // Most alarms find no session to end: the record is copied only when one has.
        if self.session_end()?.is_none_or(|at| at > now) {
            return Ok(());
        }
        let Some(mut record) = self.stored_record()? else {
            return Ok(());
        };
        let site = record.tracking.site.clone();
        let changes = record.session_over(now);
        self.send(&site, changes)?;
        self.save_record(record)
    }

    fn ensure_schema(&self) -> Result<()> {
        crate::objects::ensure_schema(&self.state, &self.schema_ready, SCHEMA, "visitor's")
    }

    /// The stored record, read from storage on the instance's first use.
    fn load_record(&self, visitor_id: &str) -> Result<Record> {
        self.with_record(visitor_id, Record::clone)
    }

    /// Runs `f` on the record without copying it (decisions only read it).
    fn with_record<R>(&self, visitor_id: &str, f: impl FnOnce(&Record) -> R) -> Result<R> {
        if self.record.borrow().is_none() {
            let record = self
                .read_record()?
                .unwrap_or_else(|| Record::new(visitor_id));
            self.record.replace(Some(record));
        }
        let cached = self.record.borrow();
        Ok(f(cached.as_ref().expect("loaded above")))
    }

    /// Runs `f` on the profile without copying it.
    fn with_profile<R>(&self, visitor_id: &str, f: impl FnOnce(&Profile) -> R) -> Result<R> {
        self.with_record(visitor_id, |record| f(&record.profile))
    }

    /// The record as stored, if there is one (the alarm has no visitor id to start one).
    fn stored_record(&self) -> Result<Option<Record>> {
        if let Some(cached) = self.record.borrow().as_ref() {
            return Ok(Some(cached.clone()));
        }
        self.read_record()
    }

    /// When the visitor's open landing page is judged, from the cached record without
    /// copying it.
    fn session_end(&self) -> Result<Option<i64>> {
        if let Some(cached) = self.record.borrow().as_ref() {
            return Ok(cached.session_ends_at());
        }
        Ok(self
            .read_record()?
            .as_ref()
            .and_then(Record::session_ends_at))
    }

    fn read_record(&self) -> Result<Option<Record>> {
        #[derive(Deserialize)]
        struct Row {
            body: String,
        }
        let rows: Vec<Row> = self
            .state
            .storage()
            .sql()
            .exec("SELECT body FROM profile WHERE one = 1", None)?
            .to_array()
            .doing("reading the stored profile")?;
        match rows.first() {
            Some(row) => Ok(Some(
                serde_json::from_str(&row.body).doing("reading the stored profile")?,
            )),
            None => Ok(None),
        }
    }

    fn ingest(
        &self,
        site: &str,
        visitor_id: &str,
        events: Vec<Event>,
        opt_in: bool,
        now: i64,
    ) -> Result<Ingested> {
        let mut record = self.load_record(visitor_id)?;
        let mut result = Ingested::default();
        // Recording follows consent, event by event: a consent event is always kept (it is
        // the record of the shopper's choice) and decides for the events after it.
        let mut recording = record.profile.consent.map_or(!opt_in, |c| c.analytics);
        let events: Vec<Event> = events
            .into_iter()
            .filter(|event| {
                if let EventData::Consent(consent) = &event.data {
                    recording = consent.analytics;
                    return true;
                }
                if !recording {
                    result.withheld.push(event.id.clone());
                }
                recording
            })
            .collect();
        if events.is_empty() {
            return Ok(result);
        }
        let mut fresh = Vec::new();
        for chunk in events.chunks(INSERT_CHUNK) {
            let mut stored = self.insert_events(chunk, now)?;
            for event in chunk {
                // Each id is stored once: one the insert skipped, or the second copy of an
                // id within the batch, is a duplicate.
                if stored.remove(event.id.as_str()) {
                    result.accepted.push(event.id.clone());
                    fresh.push(event);
                } else {
                    result.duplicates.push(event.id.clone());
                }
            }
        }
        if !fresh.is_empty() {
            // What the session teaches the catalogue, from where it stood before these.
            if fresh.iter().any(|event| catalogue::teaches(event)) {
                // The session handed over last is found again from the profile's products.
                const _: () = assert!(
                    catalogue::SESSION_PRODUCTS <= rapport_rules::visitor::profile::RECENT_LIMIT
                );
                let profile = &record.profile;
                let mut session = SessionSoFar {
                    session_id: profile.session_id.clone(),
                    viewed: profile.session_products(),
                    cart: profile.cart.iter().map(|l| l.product.id.clone()).collect(),
                };
                let learnt = catalogue::learn(&mut session, &fresh, now);
                if !learnt.is_empty() {
                    self.queue(site, &Outgoing::Learn { learn: learnt })?;
                }
            }
            let changes = record.events(site, fresh, now);
            self.send(site, changes)?;
            self.save_record(record)?;
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
            let body = encode(event).doing("encoding an event to store")?;
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
            )
            .doing("storing events")?
            .to_array()?;
        Ok(stored.into_iter().map(|s| s.id).collect())
    }

    fn save_record(&self, record: Record) -> Result<()> {
        let body = encode(&record).doing("encoding the profile")?;
        self.state
            .storage()
            .sql()
            .exec(
                "INSERT INTO profile (one, body) VALUES (1, ?)
                 ON CONFLICT(one) DO UPDATE SET body = excluded.body",
                vec![body.into()],
            )
            .doing("storing the profile")?;
        self.record.replace(Some(record));
        Ok(())
    }

    /// Takes the customer's trusted facts, and credits purchases to what the visitor saw
    /// (and, within the rulebook's attribution window, to the experiments they are in).
    async fn take_trusted(&self, site: &str, visitor_id: &str, push: TrustedPush) -> Result<()> {
        let attribution_days = if push.conversions.is_empty() {
            0
        } else {
            crate::objects::rulebooks::current(&self.env)
                .await
                .doing("compiling the active rulebook")?
                .settings()
                .attribution_days
        };
        let sql = self.state.storage().sql();
        let mut record = self.load_record(visitor_id)?;
        if push.unlink {
            record.profile.clear_trusted();
        }
        if let Some(trusted) = &push.trusted {
            record.profile.set_trusted(trusted);
        }
        let now = push.at_ms.unwrap_or_else(now_ms);
        let mut purchases = Vec::new();
        for conversion in push.conversions {
            let seen: Count = sql
                .exec(
                    "SELECT COUNT(*) AS n FROM events WHERE id = ?",
                    vec![conversion.id.as_str().into()],
                )?
                .one()
                .doing("looking up a conversion")?;
            if seen.n > 0 {
                continue;
            }
            let body = encode(&conversion).doing("encoding a conversion")?;
            sql.exec(
                "INSERT INTO events (id, type, received_ms, body) VALUES (?, 'conversion', ?, ?)",
                vec![conversion.id.as_str().into(), now.into(), body.into()],
            )
            .doing("storing a conversion")?;
            purchases.push(Purchase {
                value: conversion.value,
                at_ms: conversion.at_ms,
                from_this_visitor: conversion.from_this_visitor,
            });
        }
        let changes = record.purchases(&purchases, attribution_days, now);
        self.send(site, changes)?;
        self.save_record(record)
    }

    /// The decision, or with a preview the full report, from the stored profile. The first
    /// decision of a visitor's day counts them in the analytics (their segments and stage);
    /// a preview records nothing.
    async fn decide(
        &self,
        site: &str,
        visitor_id: &str,
        call: Decide,
    ) -> Result<(Decided, Vec<Fill>)> {
        let draft = call.preview.as_ref().and_then(|p| p.rulebook.as_deref());
        let book = match crate::objects::rulebooks::deciding(&self.env, draft)
            .await
            .doing("compiling the active rulebook")?
        {
            Ok(book) => book,
            Err(refused) => return Ok((Err(refused), Vec::new())),
        };
        let now = call.at_ms;
        let super::Outcome {
            decided,
            stopped,
            fills,
        } = self.with_profile(visitor_id, |stored| {
            super::decide_for(&book, stored, &call, now)
        })??;
        let (may_record, counts) = self.with_record(visitor_id, |r| {
            let may = call.preview.is_none() && call.may_record(r.profile.consent);
            (may && r.profile.events > 0, may && r.counts_decision(now))
        })?;
        // A rule that ran away for this visitor is skipped in their later decisions until
        // the rulebook changes: kept only in a record that exists and may be kept.
        let remember = may_record && !stopped.is_empty();
        if counts || remember {
            let mut record = self.load_record(visitor_id)?;
            if counts {
                let changes = record.decided(&book, now);
                self.send(site, changes)?;
            }
            if remember {
                record.profile.remember_stopped(book.version(), &stopped);
            }
            self.save_record(record)?;
        }
        self.withdraw_from_sample(site, visitor_id, call.consent)
            .await?;
        Ok((decided, fills))
    }

    /// The page says analytics consent is withheld (the widget sends no event for that):
    /// the profile takes the page's word, and the visitor leaves the sample at once.
    async fn withdraw_from_sample(
        &self,
        site: &str,
        visitor_id: &str,
        consent: Option<rapport_protocol::Consent>,
    ) -> Result<()> {
        let Some(consent) = consent.filter(|c| !c.analytics) else {
            return Ok(());
        };
        let (stored, known) = self.with_profile(visitor_id, |p| (p.consent, p.events > 0))?;
        // An id the edge never recorded anything for needs no refusal kept: nothing is
        // stored for it, then or after.
        if !known || stored.is_some_and(|c| !c.analytics) {
            return Ok(());
        }
        let mut record = self.load_record(visitor_id)?;
        record.profile.consent = Some(consent);
        self.save_record(record)?;
        crate::sample::erase(&self.env, site, visitor_id)
            .await
            .doing("taking the visitor out of the sample")
    }

    /// Everything the object stores goes: events, profile, prompt history, and tallies not
    /// yet in the reports (which hold no visitor data).
    async fn erase(&self, visitor_id: &str) -> Result<Erased> {
        let events: Count = self
            .state
            .storage()
            .sql()
            .exec("SELECT COUNT(*) AS n FROM events", None)?
            .one()
            .doing("counting events")?;
        let customer_id = self.with_profile(visitor_id, |p| p.customer_id.clone())?;
        let storage = self.state.storage();
        storage.delete_alarm().await.doing("deleting the alarm")?;
        storage.delete_all().await.doing("deleting the storage")?;
        self.schema_ready.set(false);
        self.outbox.cleared();
        self.record.replace(None);
        Ok(Erased {
            events: events.n,
            customer_id,
        })
    }

    fn export(&self, visitor_id: &str) -> Result<serde_json::Value> {
        let record = self.load_record(visitor_id)?;
        let rows: Vec<StoredEvent> = self
            .state
            .storage()
            .sql()
            .exec(
                "SELECT id, type, received_ms, body FROM
                   (SELECT * FROM events ORDER BY seq DESC LIMIT ?) ORDER BY seq",
                vec![EXPORT_LIMIT.into()],
            )?
            .to_array()
            .doing("reading events to export")?;
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
        Ok(json!({ "profile": record, "events": events }))
    }
}
