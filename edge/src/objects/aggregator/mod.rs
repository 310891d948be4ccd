//! The `Aggregator` Durable Objects: the fan-in between visitor objects and D1. A site's
//! aggregate deltas (rows of the typed tables: the daily report's and the analytics') go to one of its aggregators
//! (`site:shard`, by a hash of the row's key, `AGGREGATOR_SHARDS` of them, 1 unless set),
//! which sums the deltas of every visitor for the same row and writes one upsert per row
//! per flush, every [`object::FLUSH_EVERY_MS`] or sooner once [`object::FLUSH_AT_DELTAS`]
//! wait. So D1's statements grow with the rows touched, not with the shoppers.
//!
//! Exactly once, on both sides:
//! - a visitor object sends its outbox's deltas with their outbox numbers and a random
//!   source id of its own (no visitor id); an aggregator keeps, per source, the highest
//!   number it has taken, and skips what it has, so a resend after a lost answer adds
//!   nothing. The visitor deletes its outbox rows only once every aggregator has answered.
//! - an aggregator numbers each flush and writes, in the same D1 batch as the upserts, the
//!   flush's id into `applied_flushes`; a flush that failed, or whose answer was lost, is
//!   tried again with the same id, and one that D1 already has is not applied twice.
//!
//! The object itself is in [`object`].

mod object;

pub use object::Aggregator;
#[cfg(test)]
pub(crate) use object::APPLIED;

use rapport_analytics::tables::Row;
use rapport_recs::catalogue::shard_of;
use serde::{Deserialize, Serialize};
use worker::Env;

use super::{send, ObjectCall};
use crate::error::ApiError;

/// A call to shard `shard` of `site`'s aggregators.
#[derive(Debug, Serialize, Deserialize)]
pub struct AggregatorCall {
    pub site: String,
    pub shard: u32,
    pub call: Call,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Call {
    /// Deltas from one visitor object's outbox: answers how many it took.
    Add {
        /// The visitor object's random id for its outbox (not the visitor's id).
        source: String,
        deltas: Vec<Numbered>,
    },
}

/// A delta (a row of one of the aggregate tables, to be summed into its D1 row) with its
/// number in the outbox it came from.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Numbered {
    pub seq: i64,
    pub delta: Row,
}

/// What picks a delta's aggregator, and tells its D1 row: its table and its row's key.
fn shard_key(row: &Row) -> String {
    format!("{}|{}", row.table().name(), row.key().join("|"))
}

impl ObjectCall for AggregatorCall {
    const BINDING: &'static str = "AGGREGATORS";

    fn object(&self) -> String {
        format!("{}:{}", self.site, self.shard)
    }

    fn name(&self) -> &'static str {
        match self.call {
            Call::Add { .. } => "add",
        }
    }
}

/// Hands `site`'s deltas from one outbox to its aggregators, each the deltas of its rows,
/// all at once; `Ok` once every one of them has them.
pub async fn add(
    env: &Env,
    site: &str,
    source: &str,
    deltas: Vec<Numbered>,
) -> Result<(), ApiError> {
    let shards = crate::config::aggregator_shards(env);
    let mut by_shard: Vec<Vec<Numbered>> = (0..shards).map(|_| Vec::new()).collect();
    for numbered in deltas {
        let shard = shard_of(&shard_key(&numbered.delta), shards);
        by_shard[shard as usize].push(numbered);
    }
    let calls = by_shard
        .into_iter()
        .enumerate()
        .filter(|(_, deltas)| !deltas.is_empty())
        .map(|(shard, deltas)| AggregatorCall {
            site: site.to_owned(),
            shard: shard as u32,
            call: Call::Add {
                source: source.to_owned(),
                deltas,
            },
        })
        .collect::<Vec<_>>();
    let sent = calls
        .iter()
        .map(|call| async move { send::<_, u64>(env, call).await });
    for answer in futures_util::future::join_all(sent).await {
        answer?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rows_deltas_go_to_one_aggregator_and_rows_spread() {
        let row = |day: &str| -> Row {
            rapport_analytics::tables::StageDay {
                day: day.to_owned(),
                stage: "new".to_owned(),
                visitors: 1.0,
            }
            .into()
        };
        let key = |day: &str| shard_key(&row(day));
        assert_eq!(key("2026-12-01"), "stage_daily|2026-12-01|new");
        let a = shard_of(&key("2026-12-01"), 4);
        assert_eq!(a, shard_of(&key("2026-12-01"), 4));
        let spread: std::collections::BTreeSet<u32> = (1..=28)
            .map(|d| shard_of(&key(&format!("2026-11-{d:02}")), 4))
            .collect();
        assert_eq!(spread.len(), 4, "{spread:?}");
        assert_eq!(shard_of("anything", 1), 0);
    }
}
