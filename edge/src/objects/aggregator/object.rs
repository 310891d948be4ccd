//! The `Aggregator` Durable Object: one shard of a site's fan-in (named `site:shard`). What
//! visitor objects send waits in its SQLite (`pending`), each batch once per source
//! (`sources`); its alarm sums what waits by row and writes it to D1 in one batch, with the
//! flush's id (see the module above).

use std::cell::Cell;

use rapport_analytics::tables::{self, Row};
use serde::Deserialize;
use worker::{durable_object, DurableObject, Env, Request, Response, Result, State};

use super::{shard_key, AggregatorCall, Call, Numbered};
use crate::clock::now_ms;
use crate::error::Context;
use crate::objects::{encode, receive, respond, Count, ObjectCall as _};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS pending (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    flush INTEGER NOT NULL DEFAULT 0,
    deltas TEXT NOT NULL,
    count INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sources (
    source TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    at_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS shard (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    site TEXT NOT NULL,
    shard INTEGER NOT NULL,
    next_flush INTEGER NOT NULL
);";

/// How long deltas wait before they are written: every row touched in that time costs one
/// statement, however many visitors touched it.
pub const FLUSH_EVERY_MS: i64 = 10_000;
/// Past this many deltas waiting, they are written at once: a bound on what waits, set so
/// that a busy shop's flushes still come every [`FLUSH_EVERY_MS`] (deltas grow with the
/// shoppers; the rows a flush writes do not).
pub const FLUSH_AT_DELTAS: i64 = 20_000;
/// The most rows one flush writes: D1 takes at most 1,000 queries from one invocation (the
/// paid plan), and a flush adds two of its own. What waits beyond goes in the next flush,
/// at once.
const MAX_ROWS_PER_FLUSH: usize = 990;
/// How long before a flush that did not finish is tried again.
const RETRY_MS: i64 = 10_000;
/// Records a flush in D1, in the same batch as its upserts (`applied_flushes`, made by the
/// migrations).
pub(crate) const APPLIED: &str =
    "INSERT INTO applied_flushes (id, at_ms, deltas, statements) VALUES (?, ?, ?, ?)";
/// How long a source's last number and a flush's id are kept: far longer than any retry.
const KEEP_IDS_MS: i64 = 7 * 86_400_000;

// `State` is not `Debug`, so neither is the object.
#[allow(missing_debug_implementations)]
#[durable_object]
pub struct Aggregator {
    state: State,
    env: Env,
    schema_ready: Cell<bool>,
    /// The alarm as this instance last saw or set it (`None`: not read yet).
    alarm_at: Cell<Option<Option<i64>>>,
}

#[derive(Deserialize)]
struct Seen {
    seq: i64,
}

#[derive(Deserialize)]
struct Batch {
    seq: i64,
    deltas: String,
}

#[derive(Deserialize)]
struct Shard {
    site: String,
    shard: i64,
    next_flush: i64,
}

#[derive(Deserialize)]
struct InFlight {
    flush: Option<i64>,
}

#[derive(Deserialize)]
struct Sum {
    n: Option<i64>,
}

impl DurableObject for Aggregator {
    fn new(state: State, env: Env) -> Self {
        Aggregator {
            state,
            env,
            schema_ready: Cell::new(false),
            alarm_at: Cell::new(None),
        }
    }

    async fn fetch(&self, req: Request) -> Result<Response> {
        let call: AggregatorCall = receive(req).await?;
        let name = call.name();
        crate::objects::ensure_schema(&self.state, &self.schema_ready, SCHEMA, "aggregator's")?;
        match call.call {
            Call::Add { source, deltas } => {
                let taken = self.add(&call.site, call.shard, &source, deltas);
                let scheduled = match taken {
                    Ok(_) => self.schedule().await,
                    Err(_) => Ok(()),
                };
                respond(name, taken.and_then(|n| scheduled.map(|()| n)))
            }
        }
    }

    /// Writes what waits to D1; on a failure, the next alarm tries the same flush again.
    async fn alarm(&self) -> Result<Response> {
        crate::objects::ensure_schema(&self.state, &self.schema_ready, SCHEMA, "aggregator's")?;
        self.alarm_at.set(Some(None));
        let storage = self.state.storage();
        // Set before the write: an object stopped in the middle of a flush tries it again.
        storage
            .set_alarm(RETRY_MS)
            .await
            .doing("setting the retry alarm")?;
        self.alarm_at.set(Some(Some(now_ms() + RETRY_MS)));
        let behind = match self.flush().await {
            Ok(behind) => behind,
            Err(err) => {
                worker::console_error!("aggregates not written, retrying: {err}");
                return Response::ok("");
            }
        };
        // Written: no retry. What a flush left behind goes at once; what came meanwhile,
        // within the usual delay.
        if behind {
            storage.set_alarm(0).await.doing("setting the next flush")?;
            self.alarm_at.set(Some(Some(now_ms())));
            return Response::ok("");
        }
        storage
            .delete_alarm()
            .await
            .doing("deleting the retry alarm")?;
        self.alarm_at.set(Some(None));
        self.schedule().await?;
        Response::ok("")
    }
}

impl Aggregator {
    /// Keeps the deltas this source has not sent before (in one transaction with the
    /// source's new number); gives how many were new.
    fn add(&self, site: &str, shard: u32, source: &str, deltas: Vec<Numbered>) -> Result<u64> {
        let sql = self.state.storage().sql();
        let seen: Vec<Seen> = sql
            .exec(
                "SELECT seq FROM sources WHERE source = ?",
                vec![source.into()],
            )?
            .to_array()
            .doing("reading the source's number")?;
        let seen = seen.first().map_or(i64::MIN, |s| s.seq);
        let last = deltas.iter().map(|d| d.seq).max().unwrap_or(seen);
        let fresh: Vec<Row> = deltas
            .into_iter()
            .filter(|d| d.seq > seen)
            .map(|d| d.delta)
            .collect();
        if fresh.is_empty() {
            return Ok(0);
        }
        sql.exec(
            "INSERT INTO shard (one, site, shard, next_flush) VALUES (1, ?, ?, 1)
             ON CONFLICT (one) DO NOTHING",
            vec![site.into(), i64::from(shard).into()],
        )
        .doing("naming the aggregator")?;
        let body = encode(&fresh).doing("encoding deltas")?;
        sql.exec(
            "INSERT INTO pending (deltas, count) VALUES (?, ?)",
            vec![body.into(), (fresh.len() as i64).into()],
        )
        .doing("keeping deltas")?;
        sql.exec(
            "INSERT INTO sources (source, seq, at_ms) VALUES (?, ?, ?)
             ON CONFLICT (source) DO UPDATE SET seq = excluded.seq, at_ms = excluded.at_ms",
            vec![source.into(), last.into(), now_ms().into()],
        )
        .doing("keeping the source's number")?;
        Ok(fresh.len() as u64)
    }

    /// The batches of flush `flush` (0: those waiting for one), oldest first, each with its
    /// number, read once.
    fn batches(&self, flush: i64) -> Result<Vec<(i64, Vec<Row>)>> {
        let stored: Vec<Batch> = self
            .state
            .storage()
            .sql()
            .exec(
                "SELECT seq, deltas FROM pending WHERE flush = ? ORDER BY seq",
                vec![flush.into()],
            )?
            .to_array()
            .doing("reading what waits")?;
        stored
            .into_iter()
            .map(|batch| {
                let deltas = serde_json::from_str(&batch.deltas).doing("reading waiting deltas")?;
                Ok((batch.seq, deltas))
            })
            .collect()
    }

    /// How many deltas wait, in flushes or not.
    fn waiting(&self) -> Result<i64> {
        let waiting: Sum = self
            .state
            .storage()
            .sql()
            .exec("SELECT SUM(count) AS n FROM pending", None)?
            .one()
            .doing("counting what waits")?;
        Ok(waiting.n.unwrap_or(0))
    }

    /// Makes sure an alarm will write what waits: within [`FLUSH_EVERY_MS`], or at once past
    /// [`FLUSH_AT_DELTAS`]. Never puts off an alarm already due sooner.
    async fn schedule(&self) -> Result<()> {
        let waiting = self.waiting()?;
        if waiting == 0 {
            return Ok(());
        }
        let now = now_ms();
        let wanted = if waiting >= FLUSH_AT_DELTAS {
            now
        } else {
            now + FLUSH_EVERY_MS
        };
        crate::objects::alarm_by(&self.state.storage(), &self.alarm_at, wanted).await
    }

    /// Writes one flush: the one a failure left (the same id again), or what waits now, up
    /// to [`MAX_ROWS_PER_FLUSH`] rows; gives whether it left behind deltas that were waiting
    /// when it started (past the rows it may write, or behind the flush it tried again).
    async fn flush(&self) -> Result<bool> {
        let sql = self.state.storage().sql();
        let shard: Vec<Shard> = sql
            .exec("SELECT site, shard, next_flush FROM shard", None)?
            .to_array()
            .doing("reading the aggregator's name")?;
        let Some(shard) = shard.into_iter().next() else {
            return Ok(false);
        };
        let in_flight: InFlight = sql
            .exec(
                "SELECT MIN(flush) AS flush FROM pending WHERE flush > 0",
                None,
            )?
            .one()
            .doing("finding an unfinished flush")?;
        let mut behind = false;
        let (flush, batches) = match in_flight.flush {
            Some(flush) => {
                let after: Count = sql
                    .exec("SELECT COUNT(*) AS n FROM pending WHERE flush = 0", None)?
                    .one()
                    .doing("counting what waits")?;
                behind = after.n > 0;
                (flush, self.batches(flush)?)
            }
            None => {
                // What waits, oldest first, up to the rows one flush may write.
                let mut waiting = self.batches(0)?;
                let mut keys = std::collections::HashSet::new();
                let mut taken = 0;
                for (_, deltas) in &waiting {
                    let mut new: Vec<String> = deltas
                        .iter()
                        .map(shard_key)
                        .filter(|key| !keys.contains(key))
                        .collect();
                    new.sort_unstable();
                    new.dedup();
                    if keys.len() + new.len() > MAX_ROWS_PER_FLUSH && taken > 0 {
                        behind = true;
                        break;
                    }
                    keys.extend(new);
                    taken += 1;
                }
                waiting.truncate(taken);
                let Some(&(through, _)) = waiting.last() else {
                    return Ok(false);
                };
                let flush = shard.next_flush;
                sql.exec(
                    "UPDATE pending SET flush = ? WHERE flush = 0 AND seq <= ?",
                    vec![flush.into(), through.into()],
                )
                .doing("numbering the flush")?;
                sql.exec(
                    "UPDATE shard SET next_flush = ? WHERE one = 1",
                    vec![(flush + 1).into()],
                )
                .doing("numbering the next flush")?;
                (flush, waiting)
            }
        };
        let mut rows = Vec::new();
        for (_, batch) in batches {
            rows.extend(batch);
        }
        let deltas = rows.len();
        let id = format!("{}:{}:{flush}", shard.site, shard.shard);
        let db = crate::aggregates::database(&self.env).doing("opening the reports database")?;
        let upserts = crate::aggregates::statements(&db, &shard.site, &tables::merge(rows))
            .doing("preparing the aggregate rows")?;
        let now = now_ms();
        let mut statements = vec![
            db.prepare(APPLIED)
                .bind(&[
                    id.as_str().into(),
                    (now as f64).into(),
                    (deltas as f64).into(),
                    (upserts.len() as f64).into(),
                ])
                .doing("binding the flush's id")?,
            db.prepare("DELETE FROM applied_flushes WHERE at_ms < ?")
                .bind(&[((now - KEEP_IDS_MS) as f64).into()])
                .doing("binding the old flushes' removal")?,
        ];
        statements.extend(upserts);
        if let Err(err) = db.batch(statements).await {
            // The batch is all or nothing: either an earlier try of this flush is in D1
            // (its id is taken), or none is and it is tried again.
            let applied = db
                .prepare("SELECT COUNT(*) AS n FROM applied_flushes WHERE id = ?")
                .bind(&[id.as_str().into()])
                .doing("binding the flush's check")?
                .first::<Sum>(None)
                .await
                .doing("checking the flush")?
                .and_then(|s| s.n)
                .unwrap_or(0);
            if applied == 0 {
                return Err(worker::Error::RustError(format!(
                    "writing flush {id}: {err}"
                )));
            }
        }
        if let Some(pause) = crate::config::aggregator_test_pause_ms(&self.env) {
            // Only the tests set this: the window in which they stop workerd.
            worker::console_log!("flush {id} written; pausing {pause} ms");
            worker::Delay::from(std::time::Duration::from_millis(pause)).await;
        }
        sql.exec("DELETE FROM pending WHERE flush = ?", vec![flush.into()])
            .doing("forgetting written deltas")?;
        sql.exec(
            "DELETE FROM sources WHERE at_ms < ?",
            vec![(now - KEEP_IDS_MS).into()],
        )
        .doing("forgetting old sources")?;
        Ok(behind)
    }
}
