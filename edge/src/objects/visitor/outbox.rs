//! The visitor's report outbox and alarm: [`Outbox`], which the object owns.
//!
//! `outbox` holds report tallies until D1 has them. The object's alarm sends them a couple of
//! seconds after they are written (so a burst of events costs one D1 write), and blanks raw
//! events older than the retention period (`EVENT_RETENTION_DAYS`, 90 by default); the ids
//! stay, so a replay of an expired event is still recognised.

use std::cell::Cell;

use rapport_analytics::tables::{self, Row};
use rapport_analytics::visitor::Visitor as Record;
use rapport_recs::catalogue::Learnt;
use rapport_rules::report::{self, Tally};
use serde::{Deserialize, Serialize};
use worker::{Env, Result, Storage};

use crate::clock::now_ms;
use crate::config;
use crate::error::Context;
use crate::objects::{encode, Count};

/// How long tallies wait in the outbox, so a burst of events costs one D1 write.
const FLUSH_DELAY_MS: i64 = 2_000;
/// How long before a failed D1 write is tried again.
const RETRY_DELAY_MS: i64 = 30_000;

/// What waits in the outbox: what a batch of events taught the site's catalogue, a report
/// tally, or a delta of an analytics table. (Rows queued before the analytics existed are
/// bare tallies, which read as such.)
#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged)]
pub(super) enum Outgoing {
    Learn { learn: Learnt },
    Row(Row),
    Tally(Tally),
}

/// The outbox of one visitor object: what it knows of its alarm and of what waits. The
/// object hands it its storage, and the profile where the outbox needs it; the outbox knows
/// nothing of the object.
#[derive(Debug, Default)]
pub(super) struct Outbox {
    /// The alarm as this instance last saw or set it: `None` until read from storage,
    /// `Some(None)` for no alarm. Saves a storage call on every request.
    alarm_at: Cell<Option<Option<i64>>>,
    /// Whether tallies were queued since the outbox was last sent.
    pending: Cell<bool>,
}

impl Outbox {
    /// Whether something was queued since the outbox was last sent.
    pub(super) fn pending(&self) -> bool {
        self.pending.get()
    }

    /// Storage was emptied (the visitor erased): no alarm, nothing waiting.
    pub(super) fn cleared(&self) {
        self.alarm_at.set(Some(None));
        self.pending.set(false);
    }

    /// The alarm has fired; the next is set by [`Outbox::schedule_after`].
    pub(super) fn alarm_fired(&self) {
        self.alarm_at.set(Some(None));
    }

    pub(super) fn queue(&self, storage: &Storage, site: &str, outgoing: &Outgoing) -> Result<()> {
        let body = encode(outgoing).doing("encoding a tally")?;
        storage
            .sql()
            .exec(
                "INSERT INTO outbox (site, tally) VALUES (?, ?)",
                vec![site.into(), body.into()],
            )
            .doing("queueing a tally")?;
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

    /// Sends the outbox to the reports database and the site's catalogue, and empties it;
    /// the visitor's latest `profile` goes to its site's sample in the same batch. What
    /// the catalogue did not take stays for the next alarm, apart from the tallies, so
    /// that neither is sent twice.
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
        type Waiting = (String, Vec<Tally>, Vec<Row>);
        let mut by_site: Vec<Waiting> = Vec::new();
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
            let at = match by_site.iter().position(|(site, _, _)| *site == row.site) {
                Some(at) => at,
                None => {
                    by_site.push((row.site, Vec::new(), Vec::new()));
                    by_site.len() - 1
                }
            };
            match outgoing {
                Outgoing::Tally(tally) => by_site[at].1.push(tally),
                Outgoing::Row(delta) => by_site[at].2.push(delta),
                Outgoing::Learn { .. } => {}
            }
        }
        let db = crate::aggregates::database(env).doing("opening the reports database")?;
        for (site, tallies, deltas) in by_site {
            let mut statements = crate::reports::statements(
                &db,
                &site,
                &report::merge(tallies),
                &tables::merge(deltas),
            )
            .doing("preparing the report rows")?;
            if let Some(record) = record.filter(|r| r.tracking.site == site) {
                statements.extend(
                    crate::sample::statements(&db, &site, &record.profile)
                        .doing("preparing the sampled profile")?,
                );
            }
            db.batch(statements)
                .await
                .doing(format_args!("adding {site}'s tallies to the reports"))?;
        }
        // The tallies are in D1: what the catalogue does not take now waits for the next
        // alarm on its own.
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

    /// After a request: makes sure an alarm will send new tallies soon, and that one is set
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
        let current = match self.alarm_at.get() {
            Some(known) => known,
            None => storage.get_alarm().await.doing("reading the alarm")?,
        };
        if current.is_none_or(|at| at > wanted) {
            storage
                .set_alarm(wanted - now_ms())
                .await
                .doing("setting the alarm")?;
            self.alarm_at.set(Some(Some(wanted)));
        } else {
            self.alarm_at.set(Some(current));
        }
        Ok(())
    }
}
