//! Recent sessions for a session-kNN: each session's distinct items, by a running number
//! that grows with each change (the most recent last), with an index from each item to the
//! sessions that have it.
//!
//! A session is kept by what it holds, not by an id: [`Sessions::change`] replaces a kept
//! session with the same items as the one that grew, so the edge can hand over a session
//! as it goes, with nothing that names the shopper. Two shoppers with the same items so
//! far are the same to it: whichever of the two copies grows, what is kept ends the same.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::Item;

/// How a neighbour session's similarity to the one being answered is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Similarity {
    /// Binary cosine: SKNN, the research baseline.
    Cosine,
    /// V-SKNN's linear position weights (the session's later items weigh more), by dot
    /// product. A neighbour with nothing the session has not seen is passed over: it can
    /// only repeat the session (which at the edge is also the shopper's own session,
    /// handed over a few seconds before).
    Weighted,
}

/// Sessions kept for a session-kNN.
#[derive(Debug, Clone, Default)]
pub struct Sessions {
    sessions: BTreeMap<u64, Vec<Item>>,
    next: u64,
    with_item: HashMap<Item, BTreeSet<u64>>,
    /// At most this many sessions are kept.
    keep: usize,
    /// At most this many of the most recent sessions are indexed per item.
    per_item: usize,
}

/// What a change did to the numbered sessions, for a caller that stores them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changed {
    /// The number the session now has.
    pub kept: Option<u64>,
    /// Numbers no longer kept: the session's earlier one, and any pushed out.
    pub gone: Vec<u64>,
}

impl Sessions {
    /// At most `keep` sessions, indexing at most `per_item` per item (`usize::MAX`: all).
    pub fn new(keep: usize, per_item: usize) -> Sessions {
        Sessions {
            keep,
            per_item,
            ..Sessions::default()
        }
    }

    pub fn keep(&self) -> usize {
        self.keep
    }

    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// Keeps a whole session.
    pub fn learn(&mut self, items: &[Item]) -> Changed {
        self.change(&[], items)
    }

    /// A session grew from `before` (empty: it is new) to `after`: the kept copy of
    /// `before` (the most recent with exactly those items) gives way to `after`, which
    /// becomes the most recent session.
    pub fn change(&mut self, before: &[Item], after: &[Item]) -> Changed {
        let mut changed = Changed::default();
        if let Some(old) = self.find(before) {
            self.forget(old);
            changed.gone.push(old);
        }
        let items = distinct(after);
        if items.is_empty() {
            return changed;
        }
        let number = self.next;
        self.insert(number, items);
        changed.kept = Some(number);
        while self.sessions.len() > self.keep {
            let Some((&oldest, _)) = self.sessions.first_key_value() else {
                break;
            };
            self.forget(oldest);
            changed.gone.push(oldest);
        }
        changed
    }

    /// Puts back a stored session under its number.
    pub fn restore(&mut self, number: u64, items: &[Item]) {
        self.insert(number, distinct(items));
    }

    /// Session `number`'s items.
    pub fn get(&self, number: u64) -> Option<&[Item]> {
        self.sessions.get(&number).map(Vec::as_slice)
    }

    fn insert(&mut self, number: u64, items: Vec<Item>) {
        self.next = self.next.max(number + 1);
        for &item in &items {
            let index = self.with_item.entry(item).or_default();
            index.insert(number);
            if index.len() > self.per_item {
                index.pop_first();
            }
        }
        self.sessions.insert(number, items);
    }

    fn forget(&mut self, number: u64) {
        for item in self.sessions.remove(&number).unwrap_or_default() {
            if let Some(index) = self.with_item.get_mut(&item) {
                index.remove(&number);
                if index.is_empty() {
                    self.with_item.remove(&item);
                }
            }
        }
    }

    /// The most recent session with exactly `items` (in any order).
    fn find(&self, items: &[Item]) -> Option<u64> {
        let items = distinct(items);
        let first = items.first()?;
        self.with_item.get(first)?.iter().rev().copied().find(|n| {
            self.sessions.get(n).is_some_and(|kept| {
                kept.len() == items.len() && items.iter().all(|i| kept.contains(i))
            })
        })
    }

    /// The `sample` most recent sessions that share an item with `prefix`, the latest
    /// first.
    pub fn candidates(&self, prefix: &[Item], sample: usize) -> Vec<u64> {
        let mut found: BTreeSet<u64> = BTreeSet::new();
        for item in prefix {
            if let Some(index) = self.with_item.get(item) {
                found.extend(index.iter().rev().take(sample));
            }
        }
        found.into_iter().rev().take(sample).collect()
    }

    /// Bytes held, estimated from the entries' sizes: a B-tree entry costs about one and a
    /// half times its key and value (its nodes are two thirds full on average).
    pub fn memory(&self) -> usize {
        let sessions: usize = self
            .sessions
            .values()
            .map(|s| 48 + s.capacity() * std::mem::size_of::<Item>())
            .sum();
        let index: usize = self.with_item.values().map(|i| 48 + i.len() * 12).sum();
        sessions + index
    }

    /// Items of the `k` sessions most similar to `prefix` (in time order, the latest last)
    /// among its 500 most recent candidates, each scored by the sum of the similarities of
    /// the neighbours that have it.
    pub fn scores(&self, prefix: &[Item], k: usize, similarity: Similarity) -> HashMap<Item, f64> {
        let length = prefix.len() as f64;
        let mut weight: HashMap<Item, f64> = HashMap::new();
        for (position, &item) in prefix.iter().enumerate() {
            let w = match similarity {
                Similarity::Weighted => (position + 1) as f64 / length,
                Similarity::Cosine => 1.0,
            };
            weight.insert(item, w);
        }
        let own = weight.len() as f64;
        let mut neighbours: Vec<(f64, u64)> = self
            .candidates(prefix, 500)
            .into_iter()
            .filter_map(|number| {
                let items = self.get(number)?;
                let shared: f64 = items.iter().filter_map(|i| weight.get(i)).sum();
                let score = match similarity {
                    Similarity::Weighted => {
                        let new = items.iter().any(|i| !weight.contains_key(i));
                        if new {
                            shared
                        } else {
                            0.0
                        }
                    }
                    Similarity::Cosine => shared / (own * items.len() as f64).sqrt(),
                };
                (score > 0.0).then_some((score, number))
            })
            .collect();
        neighbours.sort_by(|a, b| b.0.total_cmp(&a.0).then(b.1.cmp(&a.1)));
        neighbours.truncate(k);
        let mut scores: HashMap<Item, f64> = HashMap::new();
        for (score, number) in neighbours {
            for &item in self.get(number).unwrap_or_default() {
                *scores.entry(item).or_default() += score;
            }
        }
        scores
    }
}

/// A session's items, each once, in the order first met.
pub fn distinct(items: &[Item]) -> Vec<Item> {
    let mut seen = std::collections::HashSet::new();
    items.iter().copied().filter(|i| seen.insert(*i)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_past_the_window_is_forgotten_with_its_index() {
        let mut sessions = Sessions::new(2, 500);
        sessions.learn(&[1, 5]);
        sessions.learn(&[2, 6]);
        let changed = sessions.learn(&[3, 7]);
        assert_eq!(
            changed,
            Changed {
                kept: Some(2),
                gone: vec![0]
            }
        );
        assert_eq!(sessions.len(), 2);
        assert!(!sessions.with_item.contains_key(&1));
        assert!(sessions.candidates(&[1], 10).is_empty());
        assert_eq!(sessions.candidates(&[3, 2], 10), vec![2, 1]);
    }

    #[test]
    fn a_growing_session_replaces_its_earlier_copy_and_becomes_the_latest() {
        let mut sessions = Sessions::new(10, 500);
        sessions.learn(&[1, 2]);
        sessions.learn(&[8, 9]);
        // Handed over as it grows, latest first, as the edge has it.
        let changed = sessions.change(&[2, 1], &[3, 2, 1]);
        assert_eq!(
            changed,
            Changed {
                kept: Some(2),
                gone: vec![0]
            }
        );
        assert_eq!(sessions.len(), 2);
        assert_eq!(sessions.get(2), Some(&[3, 2, 1][..]));
        assert_eq!(sessions.candidates(&[1], 10), vec![2]);
        // Two shoppers with the same items: one copy grows, the other stays.
        sessions.learn(&[4]);
        sessions.learn(&[4]);
        sessions.change(&[4], &[5, 4]);
        let with_four: Vec<&[Item]> = sessions
            .candidates(&[4], 10)
            .into_iter()
            .filter_map(|n| sessions.get(n))
            .collect();
        assert_eq!(with_four, vec![&[5, 4][..], &[4][..]]);
        // A session whose earlier copy was pushed out is simply kept anew.
        assert_eq!(sessions.change(&[70], &[71, 70]).gone, Vec::<u64>::new());
    }

    #[test]
    fn the_per_item_index_keeps_the_most_recent() {
        let mut sessions = Sessions::new(100, 2);
        for other in 10..14 {
            sessions.learn(&[1, other]);
        }
        assert_eq!(sessions.candidates(&[1], 10), vec![3, 2]);
    }

    #[test]
    fn weighted_neighbours_with_nothing_new_are_passed_over() {
        let mut sessions = Sessions::new(100, 500);
        // The shopper's own session, handed over a few seconds ago.
        sessions.learn(&[1, 2]);
        sessions.learn(&[1, 2, 3]);
        sessions.learn(&[2, 4]);
        let scores = sessions.scores(&[1, 2], 100, Similarity::Weighted);
        // [1, 2, 3] shares both (weights 1/2 + 2/2); [2, 4] shares the later one (2/2).
        assert_eq!(scores.get(&3), Some(&1.5));
        assert_eq!(scores.get(&4), Some(&1.0));
        // The own session adds nothing: item 1 counts only [1, 2, 3]'s similarity.
        assert_eq!(scores.get(&1), Some(&1.5));
        let cosine = sessions.scores(&[1, 2], 100, Similarity::Cosine);
        assert_eq!(cosine.get(&3), Some(&(2.0 / 6f64.sqrt())));
    }
}
