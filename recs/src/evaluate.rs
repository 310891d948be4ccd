//! Offline evaluation as the session-based recommendation research runs it (session-rec's
//! "next item" protocol): learn the training sessions in time order, then, for every prefix
//! of every test session, recommend 20 items and see whether the next click is among them.
//!
//! Test clicks on items the training set never saw are left out (no recommender could name
//! them), and test sessions left with fewer than two clicks are skipped. Every recommender
//! is run by the same code on the same split.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use crate::clicks::Session;
use crate::strategies::Recommender;
use crate::Item;

/// The list length the metrics are taken at.
pub const CUTOFF: usize = 20;

/// What one recommender scored on one split.
#[derive(Debug, Clone)]
pub struct Report {
    pub name: String,
    /// Next clicks predicted (one per prefix).
    pub predictions: usize,
    /// HR@20 (recall@20): the share of predictions whose next click was in the list.
    pub hit_rate: f64,
    /// MRR@20: the mean of 1/rank of the next click (0 when it is not in the list).
    pub mrr: f64,
    /// Coverage@20: the share of the training set's items recommended at least once.
    pub coverage: f64,
    /// Popularity bias: the mean, over the lists, of the items' training clicks relative to
    /// the most clicked item's (1 = only the top item, near 0 = the long tail).
    pub popularity: f64,
    /// Bytes held after training, per item of the training set.
    pub bytes_per_item: f64,
    /// Training clicks learnt per second, on one core.
    pub learnt_per_second: f64,
    /// Lists answered per second, on one core.
    pub answered_per_second: f64,
}

/// Learns `train` with `recommender`, then scores it on `test`.
pub fn evaluate(recommender: &mut dyn Recommender, train: &[Session], test: &[Session]) -> Report {
    let started = Instant::now();
    let mut clicks: HashMap<Item, u64> = HashMap::new();
    for session in train {
        recommender.learn(&session.items, session.start);
        for &item in &session.items {
            *clicks.entry(item).or_default() += 1;
        }
    }
    let learning = started.elapsed().as_secs_f64();
    let learnt: usize = train.iter().map(|s| s.items.len()).sum();
    let most = clicks.values().copied().max().unwrap_or(1) as f64;

    let started = Instant::now();
    let mut predictions = 0;
    let mut hits = 0;
    let mut reciprocal = 0.0;
    let mut popularity = 0.0;
    let mut shown: HashSet<Item> = HashSet::new();
    for session in test {
        let items: Vec<Item> = session
            .items
            .iter()
            .copied()
            .filter(|i| clicks.contains_key(i))
            .collect();
        for next in 1..items.len() {
            let list = recommender.recommend(&items[..next], CUTOFF);
            predictions += 1;
            if let Some(rank) = list.iter().position(|&i| i == items[next]) {
                hits += 1;
                reciprocal += 1.0 / (rank + 1) as f64;
            }
            if !list.is_empty() {
                popularity += list
                    .iter()
                    .map(|i| clicks.get(i).copied().unwrap_or(0) as f64 / most)
                    .sum::<f64>()
                    / list.len() as f64;
            }
            shown.extend(list);
        }
    }
    let answering = started.elapsed().as_secs_f64();
    let per = |total: f64| total / predictions.max(1) as f64;
    Report {
        name: recommender.name(),
        predictions,
        hit_rate: per(hits as f64),
        mrr: per(reciprocal),
        coverage: shown.len() as f64 / clicks.len().max(1) as f64,
        popularity: per(popularity),
        bytes_per_item: recommender.memory() as f64 / clicks.len().max(1) as f64,
        learnt_per_second: learnt as f64 / learning.max(1e-9),
        answered_per_second: predictions as f64 / answering.max(1e-9),
    }
}

/// The reports as a Markdown table, for BENCHMARKS.md.
pub fn table(reports: &[Report]) -> String {
    let mut out = String::from(
        "| strategy | HR@20 | MRR@20 | coverage@20 | popularity bias | bytes per item | clicks learnt/s | lists/s |\n\
         |---|---|---|---|---|---|---|---|\n",
    );
    for r in reports {
        out.push_str(&format!(
            "| {} | {:.3} | {:.3} | {:.3} | {:.3} | {:.0} | {:.0} | {:.0} |\n",
            r.name,
            r.hit_rate,
            r.mrr,
            r.coverage,
            r.popularity,
            r.bytes_per_item,
            r.learnt_per_second,
            r.answered_per_second,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strategies::Popular;

    fn session(items: &[Item]) -> Session {
        Session {
            start: 0.0,
            items: items.to_vec(),
        }
    }

    /// Worked by hand: popularity learns 1 ×3, 2 ×2, 3 ×1 and always answers [1, 2, 3].
    /// The test session 2 → 1 → 9 → 3 drops 9 (unseen), leaving prefixes [2] (next 1, rank
    /// 1) and [2, 1] (next 3, rank 3): HR = 1, MRR = (1 + 1/3) / 2.
    #[test]
    fn metrics_match_a_worked_example() {
        let train = [session(&[1, 2, 1]), session(&[1, 2, 3])];
        let test = [session(&[2, 1, 9, 3]), session(&[5])];
        let report = evaluate(&mut Popular::default(), &train, &test);
        assert_eq!(report.predictions, 2);
        assert_eq!(report.hit_rate, 1.0);
        assert!((report.mrr - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(report.coverage, 1.0);
        // Each list is [1, 2, 3]: (3 + 2 + 1) / 3 / 3.
        assert!((report.popularity - 2.0 / 3.0).abs() < 1e-12);
    }
}
