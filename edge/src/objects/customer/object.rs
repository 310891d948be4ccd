//! The `Customer` Durable Object: one per customer of a site (named `site:customer_id`),
//! holding the trusted facts the retailer's systems report and the visitors linked to them.
//!
//! Server events are stored once by id (idempotent, like browser events) and folded in with
//! `rapport_rules::customer::Customer::apply`. Whatever a change means for linked visitors
//! (new facts, a conversion, a new or dropped link) is written to `pushes` in the same
//! commit, then delivered to their `Visitor` objects; what cannot be delivered now is retried
//! by the object's alarm, so a visitor never misses its customer's facts for long.

use std::cell::Cell;

use rapport_protocol::server::ServerEventData;
use rapport_rules::customer::{Customer as Facts, Effect};
use serde::Deserialize;
use worker::{durable_object, DurableObject, Env, Request, Response, Result, State};

use super::{Call, CustomerCall, Timed};
use crate::error::Context;
use crate::objects::visitor::{self, Conversion, TrustedPush};
use crate::objects::{encode, receive, respond, Count, Ingested, ObjectCall as _};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    at_ms INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS customer (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS pushes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    visitor_id TEXT NOT NULL,
    body TEXT NOT NULL
);";

/// How long before an undelivered push is tried again.
const RETRY_DELAY_MS: i64 = 10_000;

// `State` is not `Debug`, so neither is the object.
#[allow(missing_debug_implementations)]
#[durable_object]
pub struct Customer {
    state: State,
    env: Env,
    schema_ready: Cell<bool>,
}

#[derive(Deserialize)]
struct Body {
    body: String,
}

#[derive(Deserialize)]
struct Push {
    seq: i64,
    visitor_id: String,
    body: String,
}

impl DurableObject for Customer {
    fn new(state: State, env: Env) -> Self {
        Customer {
            state,
            env,
            schema_ready: Cell::new(false),
        }
    }

    async fn fetch(&self, req: Request) -> Result<Response> {
        let call: CustomerCall = receive(req).await?;
        let name = call.name();
        self.ensure_schema()?;
        let CustomerCall {
            site,
            customer_id,
            call,
        } = call;
        match call {
            Call::Ingest { events } => {
                let ingested = self.ingest(&customer_id, events);
                if ingested.is_ok() {
                    self.deliver(&site).await?;
                }
                respond(name, ingested)
            }
            Call::SetTraits(update) => {
                let facts = self.set_traits(&customer_id, update);
                if facts.is_ok() {
                    self.deliver(&site).await?;
                }
                respond(name, facts)
            }
            Call::Get => respond(name, self.load(&customer_id)),
            Call::Unlink { visitor_id } => respond(name, self.unlink(&customer_id, &visitor_id)),
        }
    }

    async fn alarm(&self) -> Result<Response> {
        self.ensure_schema()?;
        let site: Option<String> = self.state.storage().get("site").await.ok().flatten();
        if let Some(site) = site {
            self.deliver(&site).await?;
        }
        Response::ok("")
    }
}

impl Customer {
    fn ensure_schema(&self) -> Result<()> {
        crate::objects::ensure_schema(&self.state, &self.schema_ready, SCHEMA, "customer's")
    }

    fn load(&self, customer_id: &str) -> Result<Facts> {
        let rows: Vec<Body> = self
            .state
            .storage()
            .sql()
            .exec("SELECT body FROM customer WHERE one = 1", None)?
            .to_array()
            .doing("reading the stored customer")?;
        match rows.first() {
            Some(row) => serde_json::from_str(&row.body).doing("reading the stored customer"),
            None => Ok(Facts::new(customer_id)),
        }
    }

    fn save(&self, facts: &Facts) -> Result<()> {
        self.state
            .storage()
            .sql()
            .exec(
                "INSERT INTO customer (one, body) VALUES (1, ?)
                 ON CONFLICT(one) DO UPDATE SET body = excluded.body",
                vec![encode(facts).doing("encoding the customer")?.into()],
            )
            .doing("storing the customer")?;
        Ok(())
    }

    fn set_traits(
        &self,
        customer_id: &str,
        update: rapport_protocol::server::CustomerUpdate,
    ) -> Result<Facts> {
        let mut facts = self.load(customer_id)?;
        facts.traits = update.traits;
        self.save(&facts)?;
        self.queue_for_all(&facts, Vec::new(), None)?;
        Ok(facts)
    }

    fn unlink(&self, customer_id: &str, visitor_id: &str) -> Result<()> {
        let mut facts = self.load(customer_id)?;
        facts.visitors.retain(|v| v.visitor_id != visitor_id);
        self.save(&facts)?;
        // The visitor is gone: nothing queued for it should recreate its data.
        self.state
            .storage()
            .sql()
            .exec(
                "DELETE FROM pushes WHERE visitor_id = ?",
                vec![visitor_id.into()],
            )
            .doing("dropping pushes to an erased visitor")?;
        Ok(())
    }

    fn queue(&self, visitor_id: &str, push: &TrustedPush) -> Result<()> {
        self.state
            .storage()
            .sql()
            .exec(
                "INSERT INTO pushes (visitor_id, body) VALUES (?, ?)",
                vec![
                    visitor_id.into(),
                    encode(push).doing("encoding a push")?.into(),
                ],
            )
            .doing("queueing a push")?;
        Ok(())
    }

    /// Queues the current facts for every linked visitor, and each conversion for the
    /// visitor it is credited to (linked or not), dated `at_ms` (when the newest event
    /// happened; `None` for a change made now).
    fn queue_for_all(
        &self,
        facts: &Facts,
        mut credited: Vec<(String, Vec<Conversion>)>,
        at_ms: Option<i64>,
    ) -> Result<()> {
        let trusted = facts.trusted();
        for linked in &facts.visitors {
            let index = credited.iter().position(|(v, _)| *v == linked.visitor_id);
            let conversions = index.map(|i| credited.remove(i).1).unwrap_or_default();
            self.queue(
                &linked.visitor_id,
                &TrustedPush {
                    trusted: Some(trusted.clone()),
                    unlink: false,
                    conversions,
                    at_ms,
                },
            )?;
        }
        for (visitor_id, conversions) in credited {
            self.queue(
                &visitor_id,
                &TrustedPush {
                    conversions,
                    at_ms,
                    ..TrustedPush::default()
                },
            )?;
        }
        Ok(())
    }

    /// Stores new events once each, folds them in, and queues what linked visitors need.
    fn ingest(&self, customer_id: &str, events: Vec<Timed>) -> Result<Ingested> {
        let sql = self.state.storage().sql();
        let mut facts = self.load(customer_id)?;
        let mut result = Ingested::default();
        let mut unlinked = Vec::new();
        let mut conversions: Vec<(String, Conversion)> = Vec::new();
        let mut newest: Option<i64> = None;
        for Timed { event, at_ms } in events {
            let seen: Count = sql
                .exec(
                    "SELECT COUNT(*) AS n FROM events WHERE id = ?",
                    vec![event.id.as_str().into()],
                )?
                .one()
                .doing("looking up a server event")?;
            if seen.n > 0 {
                result.duplicates.push(event.id);
                continue;
            }
            sql.exec(
                "INSERT INTO events (id, type, at_ms, body) VALUES (?, ?, ?, ?)",
                vec![
                    event.id.as_str().into(),
                    event.data.kind().into(),
                    at_ms.into(),
                    encode(&event).doing("encoding a server event")?.into(),
                ],
            )
            .doing("storing a server event")?;
            for effect in facts.apply(&event.data, at_ms) {
                match effect {
                    Effect::Linked(_) => {}
                    Effect::Unlinked(visitor_id) => unlinked.push(visitor_id),
                    Effect::Conversion { visitor_id, value } => {
                        let from_this_visitor = matches!(&event.data,
                            ServerEventData::Purchase(p) if p.visitor_id.as_deref() == Some(&visitor_id));
                        conversions.push((
                            visitor_id,
                            Conversion {
                                id: event.id.clone(),
                                value,
                                at_ms,
                                from_this_visitor,
                            },
                        ));
                    }
                }
            }
            result.accepted.push(event.id);
            newest = newest.max(Some(at_ms));
        }
        if result.accepted.is_empty() {
            return Ok(result);
        }
        self.save(&facts)?;
        for visitor_id in unlinked {
            self.queue(
                &visitor_id,
                &TrustedPush {
                    unlink: true,
                    ..TrustedPush::default()
                },
            )?;
        }
        let mut credited: Vec<(String, Vec<Conversion>)> = Vec::new();
        for (visitor_id, conversion) in conversions {
            match credited.iter_mut().find(|(v, _)| *v == visitor_id) {
                Some((_, list)) => list.push(conversion),
                None => credited.push((visitor_id, vec![conversion])),
            }
        }
        self.queue_for_all(&facts, credited, newest)?;
        Ok(result)
    }

    /// Delivers queued pushes in order; on the first failure, leaves the rest for the alarm.
    async fn deliver(&self, site: &str) -> Result<()> {
        let storage = self.state.storage();
        let pushes: Vec<Push> = storage
            .sql()
            .exec(
                "SELECT seq, visitor_id, body FROM pushes ORDER BY seq",
                None,
            )?
            .to_array()
            .doing("reading queued pushes")?;
        if pushes.is_empty() {
            return Ok(());
        }
        storage
            .put("site", site)
            .await
            .doing("remembering the site")?;
        for push in pushes {
            let body: TrustedPush = serde_json::from_str(&push.body)
                .doing(format_args!("reading queued push {}", push.seq))?;
            if let Err(err) = visitor::push_trusted(&self.env, site, &push.visitor_id, body).await {
                worker::console_error!(
                    "push to visitor {} failed, retrying in {RETRY_DELAY_MS} ms: {err:?}",
                    push.visitor_id
                );
                storage
                    .set_alarm(RETRY_DELAY_MS)
                    .await
                    .doing("setting the retry alarm")?;
                return Ok(());
            }
            storage
                .sql()
                .exec("DELETE FROM pushes WHERE seq = ?", vec![push.seq.into()])
                .doing("removing a delivered push")?;
        }
        Ok(())
    }
}
