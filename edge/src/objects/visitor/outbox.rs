//! The visitor's report outbox and alarm.
//!
//! `outbox` holds report tallies until D1 has them. The object's alarm sends them a couple of
//! seconds after they are written (so a burst of events costs one D1 write), and blanks raw
//! events older than the retention period (`EVENT_RETENTION_DAYS`, 90 by default); the ids
//! stay, so a replay of an expired event is still recognised.

use rapport_analytics::tables::{self, Row};
use rapport_rules::report::{self, Tally};
use serde::{Deserialize, Serialize};
use worker::{Response, Result};

use rapport_analytics::facts;

use super::object::{Count, Visitor};
use crate::clock::now_ms;
use crate::config;
use crate::error::Context;
use crate::objects::encode;

/// How long tallies wait in the outbox, so a burst of events costs one D1 write.
const FLUSH_DELAY_MS: i64 = 2_000;
/// How long before a failed D1 write is tried again.
const RETRY_DELAY_MS: i64 = 30_000;

/// What waits in the outbox: a report tally, or a delta of an analytics table. (Rows
/// queued before the analytics existed are bare tallies, which read as such.)
#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged)]
pub(super) enum Outgoing {
    Row(Row),
    Tally(Tally),
}

impl Visitor {
    pub(super) fn queue(&self, site: &str, outgoing: &Outgoing) -> Result<()> {
        let body = encode(outgoing).doing("encoding a tally")?;
        self.state
            .storage()
            .sql()
            .exec(
                "INSERT INTO outbox (site, tally) VALUES (?, ?)",
                vec![site.into(), body.into()],
            )
            .doing("queueing a tally")?;
        self.outbox_pending.set(true);
        Ok(())
    }

    /// Sends what waits, expires old events, and sets the next alarm.
    pub(super) async fn on_alarm(&self) -> Result<Response> {
        // This alarm has fired; the next is set below.
        self.alarm_at.set(Some(None));
        self.expire_events()?;
        self.end_idle_session()?;
        let flushed = self.flush_outbox().await;
        if let Err(err) = &flushed {
            worker::console_error!("report tallies not sent, retrying: {err}");
        }
        self.schedule_after(flushed.is_err()).await?;
        Response::ok("")
    }

    /// A session idle for long enough is over: a landing page nothing followed was an exit
    /// straight after arriving.
    fn end_idle_session(&self) -> Result<()> {
        let now = now_ms();
        // Most alarms find no session to end: the profile is copied only when one has.
        if self.session_end()?.is_none_or(|at| at > now) {
            return Ok(());
        }
        let Some(mut profile) = self.stored_profile()? else {
            return Ok(());
        };
        let site = profile.tracking.site.clone();
        let rows: Vec<Row> = facts::quick_exit(&mut profile, now).into_iter().collect();
        self.queue_rows(&site, rows)?;
        self.save_profile(profile)
    }

    /// Blanks raw events past the retention period. Ids, types and times stay, so a replayed
    /// old event is still a duplicate; the profile already holds what they taught.
    pub(super) fn expire_events(&self) -> Result<()> {
        let before = now_ms() - config::retention_ms(&self.env);
        self.state
            .storage()
            .sql()
            .exec(
                "UPDATE events SET body = '' WHERE received_ms < ? AND body != ''",
                vec![before.into()],
            )
            .doing("expiring old events")?;
        Ok(())
    }

    /// Sends the outbox to the reports database and empties it.
    async fn flush_outbox(&self) -> Result<()> {
        #[derive(Deserialize)]
        struct Queued {
            seq: i64,
            site: String,
            tally: String,
        }
        let rows: Vec<Queued> = self
            .state
            .storage()
            .sql()
            .exec("SELECT seq, site, tally FROM outbox ORDER BY seq", None)?
            .to_array()
            .doing("reading the outbox")?;
        let Some(last) = rows.last().map(|r| r.seq) else {
            return Ok(());
        };
        type Waiting = (String, Vec<Tally>, Vec<Row>);
        let mut by_site: Vec<Waiting> = Vec::new();
        for row in rows {
            let outgoing: Outgoing = serde_json::from_str(&row.tally)
                .doing(format_args!("reading outbox row {}", row.seq))?;
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
            }
        }
        // The visitor's latest profile goes to its site's sample in the same batch.
        let profile = self.stored_profile()?;
        let db = crate::aggregates::database(&self.env).doing("opening the reports database")?;
        for (site, tallies, deltas) in by_site {
            let mut statements = crate::reports::statements(
                &db,
                &site,
                &report::merge(tallies),
                &tables::merge(deltas),
            )
            .doing("preparing the report rows")?;
            if let Some(profile) = profile.as_ref().filter(|p| p.tracking.site == site) {
                statements.extend(
                    crate::sample::statements(&db, &site, profile)
                        .doing("preparing the sampled profile")?,
                );
            }
            db.batch(statements)
                .await
                .doing(format_args!("adding {site}'s tallies to the reports"))?;
        }
        self.state
            .storage()
            .sql()
            .exec("DELETE FROM outbox WHERE seq <= ?", vec![last.into()])
            .doing("emptying the outbox")?;
        Ok(())
    }

    /// After a request: makes sure an alarm will send new tallies soon, and that one is set
    /// at all while raw events wait to expire. Costs no storage call when the alarm this
    /// instance knows of already does.
    pub(super) async fn schedule(&self) -> Result<()> {
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
        let pending: Count = sql
            .exec("SELECT COUNT(*) AS n FROM outbox", None)?
            .one()
            .doing("counting the outbox")?;
        self.outbox_pending.set(pending.n > 0);
        let oldest: Oldest = sql
            .exec(
                "SELECT MIN(received_ms) AS at FROM events WHERE body != ''",
                None,
            )?
            .one()
            .doing("finding the oldest event")?;
        let now = now_ms();
        // An open landing page waits for its session to end.
        let session_end = self.session_end()?;
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
                .map(|at| (at + config::retention_ms(&self.env)).max(now + 1_000))
        };
        let wanted = match (wanted, session_end.map(|at| at.max(now + 1_000))) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
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
