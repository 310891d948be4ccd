//! Item-to-item co-occurrence: which items shoppers view (or buy) together.
//!
//! Both kinds count the same pairs ([`pairs`]): within one session, an item and each of the
//! [`WINDOW`] distinct items viewed before it, each pair once per session, over the
//! session's first [`MAX_SESSION_ITEMS`] distinct items. That caps what one shopper (or a
//! bot) can add to any item. A pair seen at time `t` weighs `2^((t - start) / half_life)`
//! (forward decay: older pairs count for less, and nothing has to be rewritten as time
//! passes). Neither kind holds a visitor or session id: erasing a visitor has nothing here
//! to remove.
//!
//! - [`Exact`] keeps every pair's weight: the reference, unbounded.
//! - [`Streaming`] keeps, per item, a Space-Saving summary of [`Streaming::capacity`]
//!   counters (Metwally, Agrawal and El Abbadi, 2005): a neighbour seen more than
//!   `total / capacity` is always among them, and each counter's overestimate is known. Its
//!   memory per item is bounded whatever the traffic, and a very popular item cannot crowd
//!   out more than its counters.

use std::collections::{HashMap, HashSet};

use crate::Item;

/// How many distinct earlier items of a session each view pairs with.
pub const WINDOW: usize = 5;

/// Distinct items of one session that count: the rest of a long session adds nothing.
pub const MAX_SESSION_ITEMS: usize = 50;

/// The pairs one session adds, each once, in both directions: `(item, neighbour)`.
pub fn pairs(items: &[Item]) -> Vec<(Item, Item)> {
    let mut distinct: Vec<Item> = Vec::new();
    let mut seen: HashSet<(Item, Item)> = HashSet::new();
    let mut out = Vec::new();
    for &item in items {
        if distinct.contains(&item) {
            continue;
        }
        if distinct.len() == MAX_SESSION_ITEMS {
            break;
        }
        for &before in distinct.iter().rev().take(WINDOW) {
            let key = (before.min(item), before.max(item));
            if seen.insert(key) {
                out.push((before, item));
                out.push((item, before));
            }
        }
        distinct.push(item);
    }
    out
}

/// Forward decay: the weight of something that happened at `at` (Unix seconds) doubles with
/// every half-life after `start`, so that older weights halve against the newest without
/// being rewritten. A
/// store kept for long must move `start` forward (scaling what it holds by the same factor)
/// before weights pass `f64`'s range, about a thousand half-lives on.
#[derive(Debug, Clone, Copy)]
pub struct Decay {
    pub start: f64,
    pub half_life: f64,
}

impl Decay {
    /// No decay: every pair weighs 1.
    pub const NONE: Decay = Decay {
        start: 0.0,
        half_life: f64::INFINITY,
    };

    pub fn weight(&self, at: f64) -> f64 {
        ((at - self.start) / self.half_life).exp2()
    }

    /// What weights counted from `self.start` are multiplied by to count from `start`.
    pub fn factor_to(&self, start: f64) -> f64 {
        ((self.start - start) / self.half_life).exp2()
    }
}

/// What both kinds answer: an item's neighbours, heaviest first.
pub trait CoOccurrence {
    /// Adds one session's pairs, seen at `at`.
    fn learn(&mut self, items: &[Item], at: f64);
    /// Up to `n` neighbours of `item` with their weights, heaviest first.
    fn neighbours(&self, item: Item, n: usize) -> Vec<(Item, f64)>;
    /// Bytes held for the neighbours of all items.
    fn memory(&self) -> usize;
}

fn heaviest(mut all: Vec<(Item, f64)>, n: usize) -> Vec<(Item, f64)> {
    all.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    all.truncate(n);
    all
}

/// Every pair's weight.
#[derive(Debug)]
pub struct Exact {
    decay: Decay,
    counts: Vec<HashMap<Item, f64>>,
}

impl Exact {
    pub fn new(decay: Decay) -> Exact {
        Exact {
            decay,
            counts: Vec::new(),
        }
    }
}

impl CoOccurrence for Exact {
    fn learn(&mut self, items: &[Item], at: f64) {
        let weight = self.decay.weight(at);
        for (item, neighbour) in pairs(items) {
            let index = item as usize;
            if self.counts.len() <= index {
                self.counts.resize_with(index + 1, HashMap::new);
            }
            *self.counts[index].entry(neighbour).or_default() += weight;
        }
    }

    fn neighbours(&self, item: Item, n: usize) -> Vec<(Item, f64)> {
        let Some(counts) = self.counts.get(item as usize) else {
            return Vec::new();
        };
        heaviest(counts.iter().map(|(&i, &w)| (i, w)).collect(), n)
    }

    fn memory(&self) -> usize {
        // A hash map's entry: the key, the weight, and about one control byte.
        self.counts
            .iter()
            .map(|c| c.capacity() * (std::mem::size_of::<(Item, f64)>() + 1))
            .sum()
    }
}

/// One Space-Saving counter: a neighbour, its weight, and by how much it may overestimate.
#[derive(Debug, Clone, Copy)]
struct Counter {
    item: Item,
    weight: f64,
    error: f64,
}

/// A bounded summary of each item's neighbours.
#[derive(Debug)]
pub struct Streaming {
    decay: Decay,
    capacity: usize,
    summaries: Vec<Vec<Counter>>,
}

impl Streaming {
    /// `capacity` counters per item (at least 1).
    pub fn new(decay: Decay, capacity: usize) -> Streaming {
        Streaming {
            decay,
            capacity: capacity.max(1),
            summaries: Vec::new(),
        }
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    fn add(&mut self, item: Item, neighbour: Item, weight: f64) {
        let index = item as usize;
        if self.summaries.len() <= index {
            self.summaries.resize_with(index + 1, Vec::new);
        }
        let summary = &mut self.summaries[index];
        if let Some(counter) = summary.iter_mut().find(|c| c.item == neighbour) {
            counter.weight += weight;
        } else if summary.len() < self.capacity {
            // Grown by doubling up to the capacity exactly, so an item never holds more.
            if summary.len() == summary.capacity() {
                let grown = (summary.len() * 2).clamp(4, self.capacity);
                summary.reserve_exact(grown - summary.len());
            }
            summary.push(Counter {
                item: neighbour,
                weight,
                error: 0.0,
            });
        } else if let Some(least) = summary
            .iter_mut()
            .min_by(|a, b| a.weight.total_cmp(&b.weight))
        {
            // The lightest counter goes to the newcomer, which inherits its weight as the
            // bound on its own overestimate.
            *least = Counter {
                item: neighbour,
                weight: least.weight + weight,
                error: least.weight,
            };
        }
    }

    /// Adds one pair, both ways, seen at `at`: what the edge learns as views arrive (the
    /// caller keeps each pair once per session, as [`pairs`] does).
    pub fn add_pair(&mut self, item: Item, neighbour: Item, at: f64) {
        let weight = self.decay.weight(at);
        self.add(item, neighbour, weight);
        self.add(neighbour, item, weight);
    }

    /// Adds `neighbour` to `item`'s summary only, seen at `at`: the one direction a shard
    /// that owns `item` keeps.
    pub fn add_one_way(&mut self, item: Item, neighbour: Item, at: f64) {
        let weight = self.decay.weight(at);
        self.add(item, neighbour, weight);
    }

    /// Counts from `start` from now on, every weight scaled to match: a long-lived store
    /// does this before weights outgrow `f64`.
    pub fn rebase(&mut self, start: f64) {
        let factor = self.decay.factor_to(start);
        for counter in self.summaries.iter_mut().flatten() {
            counter.weight *= factor;
            counter.error *= factor;
        }
        self.decay.start = start;
    }

    /// `item`'s counters as (neighbour, weight, overestimate), to store.
    pub fn counters(&self, item: Item) -> Vec<(Item, f64, f64)> {
        self.summaries
            .get(item as usize)
            .map(|s| s.iter().map(|c| (c.item, c.weight, c.error)).collect())
            .unwrap_or_default()
    }

    /// Puts back `item`'s stored counters (at most the capacity's worth).
    pub fn restore(&mut self, item: Item, counters: &[(Item, f64, f64)]) {
        let index = item as usize;
        if self.summaries.len() <= index {
            self.summaries.resize_with(index + 1, Vec::new);
        }
        self.summaries[index] = counters
            .iter()
            .take(self.capacity)
            .map(|&(item, weight, error)| Counter {
                item,
                weight,
                error,
            })
            .collect();
    }

    /// The weight `item`'s summary is sure `neighbour` has at least (its counter less its
    /// overestimate), 0 if it is not kept.
    pub fn guaranteed(&self, item: Item, neighbour: Item) -> f64 {
        self.summaries
            .get(item as usize)
            .and_then(|s| s.iter().find(|c| c.item == neighbour))
            .map_or(0.0, |c| c.weight - c.error)
    }
}

impl CoOccurrence for Streaming {
    fn learn(&mut self, items: &[Item], at: f64) {
        let weight = self.decay.weight(at);
        for (item, neighbour) in pairs(items) {
            self.add(item, neighbour, weight);
        }
    }

    fn neighbours(&self, item: Item, n: usize) -> Vec<(Item, f64)> {
        let Some(summary) = self.summaries.get(item as usize) else {
            return Vec::new();
        };
        heaviest(summary.iter().map(|c| (c.item, c.weight)).collect(), n)
    }

    fn memory(&self) -> usize {
        self.summaries
            .iter()
            .map(|s| s.capacity() * std::mem::size_of::<Counter>())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_adds_each_pair_once_within_the_window() {
        // 1 2 1 3: the repeated 1 adds nothing; 3 pairs with 1 and 2.
        let mut got = pairs(&[1, 2, 1, 3]);
        got.sort_unstable();
        assert_eq!(got, vec![(1, 2), (1, 3), (2, 1), (2, 3), (3, 1), (3, 2)]);
        // The seventh distinct item is out of the first one's window.
        let long: Vec<Item> = (0..7).collect();
        assert!(!pairs(&long).contains(&(6, 0)));
        assert!(pairs(&long).contains(&(6, 1)));
        // A bot's endless session adds at most MAX_SESSION_ITEMS items' pairs.
        let endless: Vec<Item> = (0..10_000).collect();
        assert!(pairs(&endless).len() <= 2 * WINDOW * MAX_SESSION_ITEMS);
    }

    #[test]
    fn older_pairs_weigh_less_by_the_half_life() {
        let decay = Decay {
            start: 0.0,
            half_life: 10.0,
        };
        assert_eq!(decay.weight(0.0), 1.0);
        assert_eq!(decay.weight(10.0), 2.0);
        let mut exact = Exact::new(decay);
        exact.learn(&[1, 2], 0.0);
        exact.learn(&[1, 3], 20.0);
        assert_eq!(exact.neighbours(1, 2), vec![(3, 4.0), (2, 1.0)]);
    }

    /// Space-Saving's guarantee: with `m` counters over a total weight `N`, every neighbour
    /// heavier than `N / m` is kept, and no counter overestimates by more than `N / m`.
    #[test]
    fn space_saving_keeps_every_heavy_neighbour() {
        let mut rng = fastrand::Rng::with_seed(11);
        let mut streaming = Streaming::new(Decay::NONE, 10);
        let mut exact = Exact::new(Decay::NONE);
        // Item 0 is viewed with 1..=5 often and with 100 others now and then.
        for _ in 0..2_000 {
            let neighbour = if rng.f64() < 0.6 {
                rng.u32(1..=5)
            } else {
                rng.u32(100..200)
            };
            streaming.learn(&[0, neighbour], 0.0);
            exact.learn(&[0, neighbour], 0.0);
        }
        let total: f64 = exact.neighbours(0, usize::MAX).iter().map(|n| n.1).sum();
        let bound = total / 10.0;
        let kept: Vec<Item> = streaming.neighbours(0, 10).iter().map(|n| n.0).collect();
        for (item, weight) in exact.neighbours(0, usize::MAX) {
            if weight > bound {
                assert!(kept.contains(&item), "{item} ({weight}) lost: {kept:?}");
            }
        }
        for (item, weight) in streaming.neighbours(0, 10) {
            let truth = exact
                .neighbours(0, usize::MAX)
                .into_iter()
                .find(|n| n.0 == item)
                .map_or(0.0, |n| n.1);
            assert!(weight >= truth && weight - truth <= bound, "{item}");
            assert!(streaming.guaranteed(0, item) <= truth);
        }
        // Bounded: 10 counters, where the exact count keeps every neighbour seen.
        assert_eq!(streaming.neighbours(0, usize::MAX).len(), 10);
        assert!(exact.neighbours(0, usize::MAX).len() > 90);
    }
}
