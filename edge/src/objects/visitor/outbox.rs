//! The visitor's report outbox and alarm: [`Outbox`], which the object owns.
//!
//! `outbox` holds aggregate rows (the daily report's and the analytics') until the site's
//! aggregators have them (which sum them with every other visitor's before D1), and what
//! sessions taught until the catalogue has it. The object's alarm sends them a couple of
//! seconds after they are written (so a burst of events costs one hand-over), and blanks raw
//! events older than the retention period (`EVENT_RETENTION_DAYS`, 90 by default); the ids
//! stay, so a replay of an expired event is still recognised.

use std::cell::Cell;

use rapport_analytics::tables::Row;
use rapport_analytics::visitor::Visitor as Record;
use rapport_recs::catalogue::Learnt;
use serde::{Deserialize, Serialize};
use worker::{Env, Result, Storage};

use crate::clock::now_ms;
use crate::config;
use crate::error::Context;
use crate::objects::aggregator::Numbered;
use crate::objects::{encode, Count};

/// How long rows wait in the outbox, so that a burst of events is one hand-over.
const FLUSH_DELAY_MS: i64 = 2_000;
/// How long before a failed hand-over is tried again.
const RETRY_DELAY_MS: i64 = 30_000;
/// How often a visitor's profile is written to its site's sample at most: the sample's
/// writes grow with the visitors active, so they are kept few.
const SAMPLE_EVERY_MS: i64 = 5 * 60_000;

/// What waits in the outbox: what a batch of events taught the site's catalogue, or a
/// delta of an aggregate table. (A row queued by a version before the typed tables, a bare
/// tally or a row of columns, reads as a delta: `Row` reads them.)
#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged)]
pub(super) enum Outgoing {
    Learn { learn: Learnt },
    Row(Row),
}

/// The outbox of one visitor object: what it knows of its alarm and of what waits. The
/// object hands it its storage, and the profile where the outbox needs it; the outbox knows
/// nothing of the object.
#[derive(Debug, Default)]
pub(super) struct Outbox {
    /// The alarm as this instance last saw or set it: `None` until read from storage,
    /// `Some(None)` for no alarm. Saves a storage call on every request.
    alarm_at: Cell<Option<Option<i64>>>,
    /// Whether rows were queued since the outbox was last sent.
    pending: Cell<bool>,
    /// The outbox's random id for the aggregators, once read or made.
    source: std::cell::RefCell<Option<String>>,
    /// When this instance last wrote the profile to the sample.
    sampled_at: Cell<i64>,
}

impl Outbox {
    /// Whether something was queued since the outbox was last sent.
    pub(super) fn pending(&self) -> bool {
        self.pending.get()
    }

    /// Storage was emptied (the visitor erased): no alarm, nothing waiting, and a new
    /// source id if the visitor comes back.
    pub(super) fn cleared(&self) {
        self.alarm_at.set(Some(None));
        self.pending.set(false);
        self.source.replace(None);
        self.sampled_at.set(0);
    }

    /// The outbox's id for the aggregators: random, made once and kept in the object's
    /// storage (so it goes when the visitor is erased, and names no one).
    fn source(&self, storage: &Storage) -> Result<String> {
        #[derive(Deserialize)]
        struct Source {
            source: String,
        }
        if let Some(source) = self.source.borrow().clone() {
            return Ok(source);
        }
        let sql = storage.sql();
        let kept: Vec<Source> = sql
            .exec("SELECT source FROM outbox_source", None)?
            .to_array()
            .doing("reading the outbox's id")?;
        let source = match kept.into_iter().next() {
            Some(kept) => kept.source,
            None => {
                let made = crate::team::random_id()
                    .map_err(|err| worker::Error::RustError(err.to_string()))?;
                sql.exec(
                    "INSERT INTO outbox_source (one, source) VALUES (1, ?)",
                    vec![made.as_str().into()],
                )
                .doing("keeping the outbox's id")?;
                made
            }
        };
        self.source.replace(Some(source.clone()));
        Ok(source)
    }

    /// Keeps the visitor's profile in its site's sample, at most every [`SAMPLE_EVERY_MS`]
    /// (a withheld consent takes it out at once).
    async fn sample(&self, env: &Env, record: &Record) -> Result<()> {
        let now = now_ms();
        let profile = &record.profile;
        if crate::sample::belongs(profile) && now - self.sampled_at.get() < SAMPLE_EVERY_MS {
            return Ok(());
        }
        let db = crate::aggregates::database(env).doing("opening the reports database")?;
        let statements = crate::sample::statements(&db, &record.tracking.site, profile)
            .doing("preparing the sampled profile")?;
        if statements.is_empty() {
            return Ok(());
        }
        db.batch(statements)
            .await
            .doing("keeping the visitor in the sample")?;
        self.sampled_at.set(now);
        Ok(())
    }

    /// The alarm has fired; the next is set by [`Outbox::schedule_after`].
    pub(super) fn alarm_fired(&self) {
        self.alarm_at.set(Some(None));
    }

    pub(super) fn queue(&self, storage: &Storage, site: &str, outgoing: &Outgoing) -> Result<()> {
        let body = encode(outgoing).doing("encoding an outbox row")?;
        storage
            .sql()
            .exec(
                "INSERT INTO outbox (site, tally) VALUES (?, ?)",
                vec![site.into(), body.into()],
            )
            .doing("queueing an outbox row")?;
        self.pending.set(true);
        Ok(())
    }

    /// Blanks raw events past the retention period. Ids, types and times stay, so a replayed
    /// old event is still a duplicate; the profile already holds what they taught.
    pub(super) fn expire_events(storage: &Storage, env: &Env) -> Result<()> {
        let before = now_ms() - config::retention_ms(env);
        storage
            .sql()
            .exec(
                "UPDATE events SET body = '' WHERE received_ms < ? AND body != ''",
                vec![before.into()],
            )
            .doing("expiring old events")?;
        Ok(())
    }

    /// Hands the outbox's aggregate rows to the site's aggregators and what sessions
    /// taught to its catalogue, and empties it; the visitor's latest profile goes to its
    /// site's sample (at most every [`SAMPLE_EVERY_MS`]). What the catalogue did not take
    /// stays for the next alarm, apart from the aggregate rows, so that neither is sent twice.
    pub(super) async fn flush(
        &self,
        storage: &Storage,
        env: &Env,
        record: Option<&Record>,
    ) -> Result<()> {
        #[derive(Deserialize)]
        struct Queued {
            seq: i64,
            site: String,
            tally: String,
        }
        let rows: Vec<Queued> = storage
            .sql()
            .exec("SELECT seq, site, tally FROM outbox ORDER BY seq", None)?
            .to_array()
            .doing("reading the outbox")?;
        let Some(last) = rows.last().map(|r| r.seq) else {
            return Ok(());
        };
        let mut by_site: Vec<(String, Vec<Numbered>)> = Vec::new();
        // What sessions taught, merged per site: one call to each shard per alarm.
        let mut learning: Vec<(String, Learnt, Vec<i64>)> = Vec::new();
        for row in rows {
            let outgoing: Outgoing = serde_json::from_str(&row.tally)
                .doing(format_args!("reading outbox row {}", row.seq))?;
            if let Outgoing::Learn { learn } = outgoing {
                match learning.iter_mut().find(|(site, _, _)| *site == row.site) {
                    Some((_, merged, seqs)) => {
                        merged.merge(learn);
                        seqs.push(row.seq);
                    }
                    None => learning.push((row.site, learn, vec![row.seq])),
                }
                continue;
            }
            let Outgoing::Row(delta) = outgoing else {
                continue;
            };
            let numbered = Numbered {
                seq: row.seq,
                delta,
            };
            match by_site.iter_mut().find(|(site, _)| *site == row.site) {
                Some((_, deltas)) => deltas.push(numbered),
                None => by_site.push((row.site, vec![numbered])),
            }
        }
        // Every aggregator of the site takes its deltas, or the outbox keeps them all: one
        // that took them before skips them when they come again.
        let source = self.source(storage)?;
        for (site, deltas) in by_site {
            crate::objects::aggregator::add(env, &site, &source, deltas)
                .await
                .doing(format_args!("handing {site}'s rows to its aggregators"))?;
        }
        if let Some(record) = record {
            self.sample(env, record).await?;
        }
        // The aggregators have the rows: what the catalogue does not take now waits for
        // the next alarm on its own.
        let mut kept: Vec<i64> = Vec::new();
        let mut unsent = None;
        for (site, learnt, seqs) in learning {
            if let Err(err) = crate::objects::catalogue::learn(env, &site, &learnt).await {
                kept.extend(seqs);
                unsent = Some(err);
            }
        }
        let mut keep = String::new();
        let mut values = vec![last.into()];
        if !kept.is_empty() {
            keep = format!(" AND seq NOT IN ({})", vec!["?"; kept.len()].join(", "));
            values.extend(kept.iter().map(|&seq| seq.into()));
        }
        storage
            .sql()
            .exec(&format!("DELETE FROM outbox WHERE seq <= ?{keep}"), values)
            .doing("emptying the outbox")?;
        match unsent {
            Some(err) => Err(worker::Error::RustError(format!(
                "the catalogue did not take what sessions taught: {err}"
            ))),
            None => Ok(()),
        }
    }

    /// After a request: makes sure an alarm will send new rows soon, and that one is set
    /// at all while raw events wait to expire or a landing waits to be judged
    /// (`session_end`, asked only when needed). Costs no storage call when the alarm this
    /// instance knows of already does.
    pub(super) async fn schedule(
        &self,
        storage: &Storage,
        env: &Env,
        session_end: impl FnOnce() -> Result<Option<i64>>,
    ) -> Result<()> {
        let now = now_ms();
        if self.pending.get() {
            return self.alarm_by(storage, now + FLUSH_DELAY_MS).await;
        }
        if let Some(Some(_)) = self.alarm_at.get() {
            return Ok(());
        }
        self.schedule_after(storage, env, false, session_end()?)
            .await
    }

    /// Sets the alarm for the next thing to do: sending the outbox (soon, or later after a
    /// failure), judging an open landing page when its session ends (`session_end`), or
    /// expiring the oldest raw event.
    pub(super) async fn schedule_after(
        &self,
        storage: &Storage,
        env: &Env,
        failed: bool,
        session_end: Option<i64>,
    ) -> Result<()> {
        #[derive(Deserialize)]
        struct Oldest {
            at: Option<i64>,
        }
        let sql = storage.sql();
        let pending: Count = sql
            .exec("SELECT COUNT(*) AS n FROM outbox", None)?
            .one()
            .doing("counting the outbox")?;
        self.pending.set(pending.n > 0);
        let oldest: Oldest = sql
            .exec(
                "SELECT MIN(received_ms) AS at FROM events WHERE body != ''",
                None,
            )?
            .one()
            .doing("finding the oldest event")?;
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
                .map(|at| (at + config::retention_ms(env)).max(now + 1_000))
        };
        let wanted = match (wanted, session_end.map(|at| at.max(now + 1_000))) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        match wanted {
            Some(wanted) => self.alarm_by(storage, wanted).await,
            None => Ok(()),
        }
    }

    /// Makes sure the alarm goes off no later than `wanted`.
    async fn alarm_by(&self, storage: &Storage, wanted: i64) -> Result<()> {
        crate::objects::alarm_by(storage, &self.alarm_at, wanted).await
    }
}
