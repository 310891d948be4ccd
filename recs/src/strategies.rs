//! Recommenders behind one trait, so that the evaluation runs each the same way.
//!
//! Rapport's own, with what the edge can keep in bounded memory:
//! - [`Similar`]: the last viewed item's heaviest co-viewed neighbours ([`Streaming`]),
//!   then the session's earlier items', then popular items, so a slot is never empty;
//! - [`ForYou`]: a session-kNN over a bounded window of recent sessions that share items
//!   with this one, the session's later items weighing more, then [`Similar`]'s answer.
//!
//! The research baselines, as the session-rec framework defines them (Ludewig, Latifi,
//! Jannach et al.), without fallbacks:
//! - [`Popular`]: the most clicked items;
//! - [`AssociationRules`]: items that shared a session with the last item, by how often;
//! - [`ItemKnn`]: items by cosine similarity of their sessions to the last item's;
//! - [`SessionKnn`]: items of the 100 most similar of the 500 most recent sessions that
//!   share an item with this one.

use std::collections::HashMap;

use crate::neighbours::{CoOccurrence, Decay, Exact, Streaming};
use crate::sessions::{distinct, Sessions, Similarity};
use crate::Item;

/// A recommender: learns from whole sessions, then answers for a session so far.
pub trait Recommender {
    fn name(&self) -> String;
    /// Learns from one training session, clicked at `at` (Unix seconds), in time order.
    fn learn(&mut self, items: &[Item], at: f64);
    /// Up to `n` items to show after `prefix` (this session's clicks so far), best first.
    fn recommend(&self, prefix: &[Item], n: usize) -> Vec<Item>;
    /// Bytes the recommender holds, for the memory per item.
    fn memory(&self) -> usize;
}

/// Items by score, best first (ties by id, so that runs are reproducible).
fn ranked(scores: impl IntoIterator<Item = (Item, f64)>, n: usize) -> Vec<Item> {
    let mut all: Vec<(Item, f64)> = scores.into_iter().collect();
    all.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    all.into_iter().take(n).map(|(item, _)| item).collect()
}

/// Appends `more` to `list` until it has `n`, skipping what it already has.
fn fill(list: &mut Vec<Item>, more: impl IntoIterator<Item = Item>, n: usize) {
    for item in more {
        if list.len() >= n {
            return;
        }
        if !list.contains(&item) {
            list.push(item);
        }
    }
}

/// The most clicked items.
#[derive(Debug, Default)]
pub struct Popular {
    clicks: HashMap<Item, u64>,
    top: Vec<Item>,
}

impl Popular {
    /// The most clicked items, up to `n`.
    pub fn top(&self, n: usize) -> &[Item] {
        &self.top[..n.min(self.top.len())]
    }

    pub fn clicks(&self, item: Item) -> u64 {
        self.clicks.get(&item).copied().unwrap_or(0)
    }
}

/// How many of the most popular items [`Popular`] keeps ranked.
const POPULAR_KEPT: usize = 100;

impl Recommender for Popular {
    fn name(&self) -> String {
        "popularity".into()
    }

    fn learn(&mut self, items: &[Item], _at: f64) {
        for &item in items {
            let count = {
                let count = self.clicks.entry(item).or_default();
                *count += 1;
                *count
            };
            // Counts only grow: the item moves up the ranking (or into it), nothing else does.
            if let Some(at) = self.top.iter().position(|&i| i == item) {
                self.top.remove(at);
            }
            let clicks = &self.clicks;
            let at = self.top.partition_point(|&i| {
                (clicks[&i], std::cmp::Reverse(i)) > (count, std::cmp::Reverse(item))
            });
            if at < POPULAR_KEPT {
                self.top.insert(at, item);
                self.top.truncate(POPULAR_KEPT);
            }
        }
    }

    fn recommend(&self, _prefix: &[Item], n: usize) -> Vec<Item> {
        self.top(n).to_vec()
    }

    fn memory(&self) -> usize {
        self.clicks.capacity() * (std::mem::size_of::<(Item, u64)>() + 1)
    }
}

/// Association rules: the items that shared a session with the last item, by how often.
#[derive(Debug, Default)]
pub struct AssociationRules {
    rules: HashMap<Item, HashMap<Item, f64>>,
}

impl Recommender for AssociationRules {
    fn name(&self) -> String {
        "association rules".into()
    }

    fn learn(&mut self, items: &[Item], _at: f64) {
        for (i, &a) in items.iter().enumerate() {
            for &b in &items[i + 1..] {
                if a != b {
                    *self.rules.entry(a).or_default().entry(b).or_default() += 1.0;
                    *self.rules.entry(b).or_default().entry(a).or_default() += 1.0;
                }
            }
        }
    }

    fn recommend(&self, prefix: &[Item], n: usize) -> Vec<Item> {
        let Some(last) = prefix.last() else {
            return Vec::new();
        };
        self.rules.get(last).map_or_else(Vec::new, |rules| {
            ranked(rules.iter().map(|(&i, &w)| (i, w)), n)
        })
    }

    fn memory(&self) -> usize {
        self.rules
            .values()
            .map(|r| r.capacity() * (std::mem::size_of::<(Item, f64)>() + 1))
            .sum()
    }
}

/// Item-kNN: items whose sessions are most like the last item's, by cosine similarity with
/// session-rec's regularisation (`λ = 20`, `α = 0.5`).
#[derive(Debug, Default)]
pub struct ItemKnn {
    sessions_of: HashMap<Item, u64>,
    together: HashMap<Item, HashMap<Item, u64>>,
}

impl Recommender for ItemKnn {
    fn name(&self) -> String {
        "item-kNN".into()
    }

    fn learn(&mut self, items: &[Item], _at: f64) {
        let distinct = distinct(items);
        for (i, &a) in distinct.iter().enumerate() {
            *self.sessions_of.entry(a).or_default() += 1;
            for &b in &distinct[i + 1..] {
                *self.together.entry(a).or_default().entry(b).or_default() += 1;
                *self.together.entry(b).or_default().entry(a).or_default() += 1;
            }
        }
    }

    fn recommend(&self, prefix: &[Item], n: usize) -> Vec<Item> {
        let Some(last) = prefix.last() else {
            return Vec::new();
        };
        let Some(together) = self.together.get(last) else {
            return Vec::new();
        };
        let own = self.sessions_of[last] as f64;
        let scores = together.iter().map(|(&item, &both)| {
            let other = self.sessions_of[&item] as f64;
            (item, both as f64 / (own.sqrt() * other.sqrt() + 20.0))
        });
        ranked(scores, n)
    }

    fn memory(&self) -> usize {
        self.together
            .values()
            .map(|r| r.capacity() * (std::mem::size_of::<(Item, u64)>() + 1))
            .sum()
    }
}

/// Session-kNN (SKNN): the baseline, over every training session.
#[derive(Debug)]
pub struct SessionKnn {
    sessions: Sessions,
}

impl Default for SessionKnn {
    fn default() -> SessionKnn {
        SessionKnn {
            sessions: Sessions::new(usize::MAX, usize::MAX),
        }
    }
}

impl Recommender for SessionKnn {
    fn name(&self) -> String {
        "session-kNN".into()
    }

    fn learn(&mut self, items: &[Item], _at: f64) {
        self.sessions.learn(items);
    }

    fn recommend(&self, prefix: &[Item], n: usize) -> Vec<Item> {
        ranked(self.sessions.scores(prefix, 100, Similarity::Cosine), n)
    }

    fn memory(&self) -> usize {
        self.sessions.memory()
    }
}

/// Rapport's `similar_to`: co-viewed neighbours of the session's items, the last first,
/// then popular items.
#[derive(Debug)]
pub struct Similar<C> {
    neighbours: C,
    popular: Popular,
    label: String,
}

impl Similar<Streaming> {
    /// With Space-Saving summaries of `capacity` counters per item.
    pub fn streaming(decay: Decay, capacity: usize) -> Self {
        Similar {
            neighbours: Streaming::new(decay, capacity),
            popular: Popular::default(),
            label: format!("similar (streaming top-{capacity})"),
        }
    }
}

impl Similar<Exact> {
    /// With every pair's exact weight: the reference the streaming one is held to.
    pub fn exact(decay: Decay) -> Self {
        Similar {
            neighbours: Exact::new(decay),
            popular: Popular::default(),
            label: "similar (exact co-occurrence)".into(),
        }
    }
}

impl<C: CoOccurrence> Recommender for Similar<C> {
    fn name(&self) -> String {
        self.label.clone()
    }

    fn learn(&mut self, items: &[Item], at: f64) {
        self.neighbours.learn(items, at);
        self.popular.learn(items, at);
    }

    fn recommend(&self, prefix: &[Item], n: usize) -> Vec<Item> {
        let mut list = Vec::with_capacity(n);
        for &item in prefix.iter().rev().take(3) {
            fill(
                &mut list,
                self.neighbours
                    .neighbours(item, n)
                    .into_iter()
                    .map(|(i, _)| i),
                n,
            );
        }
        fill(&mut list, self.popular.top(n).iter().copied(), n);
        list
    }

    fn memory(&self) -> usize {
        self.neighbours.memory()
    }
}

/// Rapport's `for_you`, as the catalogue's sessions shard runs it: a session-kNN
/// (V-SKNN's weights, [`crate::sessions`]) over the most recent sessions only, bounded in
/// memory, then [`Similar`]'s answer to fill the slot.
#[derive(Debug)]
pub struct ForYou {
    sessions: Sessions,
    similar: Similar<Streaming>,
}

impl ForYou {
    /// Over at most `keep` recent sessions, indexing at most 500 per item.
    pub fn new(decay: Decay, keep: usize, capacity: usize) -> ForYou {
        ForYou {
            sessions: Sessions::new(keep, 500),
            similar: Similar::streaming(decay, capacity),
        }
    }
}

impl Recommender for ForYou {
    fn name(&self) -> String {
        format!("for you (last {} sessions)", self.sessions.keep())
    }

    fn learn(&mut self, items: &[Item], at: f64) {
        self.sessions.learn(items);
        self.similar.learn(items, at);
    }

    fn recommend(&self, prefix: &[Item], n: usize) -> Vec<Item> {
        let mut list = ranked(self.sessions.scores(prefix, 100, Similarity::Weighted), n);
        fill(&mut list, self.similar.recommend(prefix, n), n);
        list
    }

    fn memory(&self) -> usize {
        self.sessions.memory() + self.similar.memory()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn similar_falls_back_to_popular_items_so_a_slot_is_never_empty() {
        let mut similar = Similar::streaming(Decay::NONE, 8);
        similar.learn(&[1, 2], 0.0);
        similar.learn(&[3, 3, 3], 0.0);
        // 1's only neighbour is 2; then the most clicked, 3.
        assert_eq!(similar.recommend(&[1], 3), vec![2, 3, 1]);
        // An item never seen gets popular items.
        assert_eq!(similar.recommend(&[99], 2), vec![3, 1]);
    }

    #[test]
    fn session_knn_recommends_what_similar_sessions_went_on_to() {
        let mut knn = SessionKnn::default();
        knn.learn(&[1, 2, 3], 0.0);
        knn.learn(&[1, 2, 4], 0.0);
        knn.learn(&[7, 8], 0.0);
        let got = knn.recommend(&[1, 2], 5);
        assert!(got.contains(&3) && got.contains(&4), "{got:?}");
        assert!(!got.contains(&7), "{got:?}");
    }

    #[test]
    fn for_you_forgets_sessions_past_its_window() {
        let mut for_you = ForYou::new(Decay::NONE, 2, 8);
        for_you.learn(&[1, 5], 0.0);
        for_you.learn(&[2, 6], 0.0);
        for_you.learn(&[3, 7], 0.0);
        assert_eq!(for_you.sessions.len(), 2);
        assert!(for_you.sessions.candidates(&[1], 10).is_empty());
        assert_eq!(for_you.sessions.candidates(&[3], 10), vec![2]);
    }
}
