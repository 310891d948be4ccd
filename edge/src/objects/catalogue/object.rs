//! The `Catalogue` Durable Object: one shard of a site's catalogue (named `site:shard`),
//! holding `rapport_recs::catalogue::Shard` in memory, and each item's state and (on the
//! sessions shard) each recent session in SQLite tables, read back when the object starts. What the server feeds is written at
//! once; what sessions teach is written behind, by an alarm a few seconds later, so that a
//! busy shard encodes each changed item once per alarm rather than once per visitor's
//! batch (an object lost before its alarm loses those seconds of learning, never a feed).

use std::cell::{Cell, RefCell};

use rapport_recs::catalogue::{ItemState, Shard};
use serde::Deserialize;
use worker::{durable_object, DurableObject, Env, Request, Response, Result, State};

use super::{Call, CatalogueCall, Fed, Feed};
use crate::clock::now_ms;
use crate::error::Context;
use crate::objects::{encode, receive, respond, ObjectCall as _};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS items (
    id TEXT PRIMARY KEY,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    number INTEGER PRIMARY KEY,
    items TEXT NOT NULL
);";

/// How often a shard forgets products neither viewed nor fed for long.
const AGE_OUT_EVERY_MS: i64 = 86_400_000;
/// How long what sessions taught waits in memory before it is written.
const WRITE_BEHIND_MS: i64 = 5_000;

// `State` is not `Debug`, so neither is the object.
#[allow(missing_debug_implementations)]
#[durable_object]
pub struct Catalogue {
    state: State,
    _env: Env,
    schema_ready: Cell<bool>,
    shard: RefCell<Option<Shard>>,
    aged_at: Cell<i64>,
    /// Whether an alarm will write what changed.
    alarm_set: Cell<bool>,
}

#[derive(Deserialize)]
struct Row {
    body: String,
}

/// A recent session as stored: its number and its products' ids (a JSON list).
#[derive(Deserialize)]
struct SessionRow {
    number: i64,
    items: String,
}

impl DurableObject for Catalogue {
    fn new(state: State, env: Env) -> Self {
        Catalogue {
            state,
            _env: env,
            schema_ready: Cell::new(false),
            shard: RefCell::new(None),
            aged_at: Cell::new(0),
            alarm_set: Cell::new(false),
        }
    }

    async fn fetch(&self, req: Request) -> Result<Response> {
        let call: CatalogueCall = receive(req).await?;
        let name = call.name();
        crate::objects::ensure_schema(&self.state, &self.schema_ready, SCHEMA, "catalogue's")?;
        self.load(call.shard, call.shards)?;
        match call.call {
            Call::Learn(learn) => {
                let learnt = self.change(learn.at_ms, |shard| shard.learn(&learn));
                if learnt.is_ok() && !self.alarm_set.get() {
                    self.state
                        .storage()
                        .set_alarm(WRITE_BEHIND_MS)
                        .await
                        .doing("setting the catalogue's alarm")?;
                    self.alarm_set.set(true);
                }
                respond(name, learnt)
            }
            // The server's word is written before the answer.
            Call::Feed(feed) => respond(
                name,
                self.feed(feed).and_then(|fed| self.write().map(|()| fed)),
            ),
            Call::Offer { request, at_ms } => {
                respond(name, Ok(self.with(|shard| shard.offer(&request, at_ms))))
            }
            Call::Count => respond(name, Ok(self.with(|shard| shard.len() as u64))),
        }
    }

    /// Writes what sessions taught since the last write.
    async fn alarm(&self) -> Result<Response> {
        self.alarm_set.set(false);
        if self.shard.borrow().is_some() {
            self.write()?;
        }
        Response::ok("")
    }
}

impl Catalogue {
    /// Reads the shard's items on the instance's first call.
    fn load(&self, index: u32, shards: u32) -> Result<()> {
        if self.shard.borrow().is_some() {
            return Ok(());
        }
        let rows: Vec<Row> = self
            .state
            .storage()
            .sql()
            .exec("SELECT body FROM items", None)?
            .to_array()
            .doing("reading the catalogue")?;
        let mut shard = Shard::new(index, shards, now_ms());
        for row in rows {
            let item: ItemState =
                serde_json::from_str(&row.body).doing("reading a catalogue item")?;
            shard.restore(item);
        }
        let sessions: Vec<SessionRow> = self
            .state
            .storage()
            .sql()
            .exec("SELECT number, items FROM sessions", None)?
            .to_array()
            .doing("reading the recent sessions")?;
        for row in sessions {
            let ids: Vec<String> =
                serde_json::from_str(&row.items).doing("reading a recent session")?;
            shard.restore_session(row.number as u64, &ids);
        }
        self.shard.replace(Some(shard));
        Ok(())
    }

    fn with<R>(&self, f: impl FnOnce(&Shard) -> R) -> R {
        f(self.shard.borrow().as_ref().expect("loaded first"))
    }

    /// Stores the items and sessions that changed since the last write.
    fn write(&self) -> Result<()> {
        let mut cached = self.shard.borrow_mut();
        let Some(shard) = cached.as_mut().filter(|s| s.has_changed()) else {
            return Ok(());
        };
        let sql = self.state.storage().sql();
        for item in shard.take_changed() {
            let body = encode(&item).doing("encoding a catalogue item")?;
            sql.exec(
                "INSERT INTO items (id, body) VALUES (?, ?)
                 ON CONFLICT (id) DO UPDATE SET body = excluded.body",
                vec![item.id.as_str().into(), body.into()],
            )
            .doing("storing a catalogue item")?;
        }
        let sessions = shard.take_sessions();
        for number in sessions.gone {
            sql.exec(
                "DELETE FROM sessions WHERE number = ?",
                vec![(number as i64).into()],
            )
            .doing("forgetting a session")?;
        }
        for (number, ids) in sessions.kept {
            let items = encode(&ids).doing("encoding a session")?;
            sql.exec(
                "INSERT OR REPLACE INTO sessions (number, items) VALUES (?, ?)",
                vec![(number as i64).into(), items.into()],
            )
            .doing("storing a session")?;
        }
        Ok(())
    }

    /// Changes the shard in memory (and forgets, once a day, the products gone stale).
    fn change<R>(&self, at_ms: i64, f: impl FnOnce(&mut Shard) -> R) -> Result<R> {
        let mut cached = self.shard.borrow_mut();
        let shard = cached.as_mut().expect("loaded first");
        let answer = f(shard);
        let sql = self.state.storage().sql();
        if at_ms - self.aged_at.get() > AGE_OUT_EVERY_MS {
            self.aged_at.set(at_ms);
            for id in shard.age_out(at_ms) {
                sql.exec("DELETE FROM items WHERE id = ?", vec![id.into()])
                    .doing("forgetting a stale product")?;
            }
        }
        Ok(answer)
    }

    fn feed(&self, feed: Feed) -> Result<Fed> {
        self.change(feed.at_ms, |shard| {
            let mut fed = Fed::default();
            for product in feed.products {
                let id = product.id.clone();
                // The API refused a bad product before it came; one refused here is not taken.
                if let Ok(true) = shard.feed(product, feed.at_ms) {
                    fed.taken.push(id);
                }
            }
            for (id, available) in feed.stock {
                if shard.set_available(&id, available) {
                    fed.taken.push(id);
                }
            }
            fed
        })
    }
}
