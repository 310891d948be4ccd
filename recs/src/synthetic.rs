//! A deterministic synthetic shop with planted structure, for tests and the evaluation's
//! second data set: `categories × per_category` items; each item has a *twin* in its own
//! category (viewed right after it half the time: a similar item) and a *complement* in the
//! next category (a fifth of the time: bought with it). The rest of a session wanders in the
//! category, and some items are far more popular than others.

use crate::clicks::Session;
use crate::Item;

/// The shop's planted structure.
#[derive(Debug, Clone)]
pub struct Shop {
    pub categories: u32,
    pub per_category: u32,
}

impl Shop {
    pub fn items(&self) -> u32 {
        self.categories * self.per_category
    }

    /// The similar item planted for `item`: the other of its pair in its category.
    pub fn twin(&self, item: Item) -> Item {
        item ^ 1
    }

    /// The complement planted for `item`: the same place in the next category.
    pub fn complement(&self, item: Item) -> Item {
        (item + self.per_category) % self.items()
    }

    /// `count` sessions drawn with `seed`, starting at `start` (Unix seconds), a minute
    /// apart. `planted`: the chance of each planted step (twin 0.5, complement 0.2, times
    /// this); 0 leaves only wandering in the category.
    pub fn sessions(&self, count: usize, seed: u64, start: f64, planted: f64) -> Vec<Session> {
        let mut rng = fastrand::Rng::with_seed(seed);
        (0..count)
            .map(|n| {
                let category = rng.u32(..self.categories);
                // The lower of two draws: low places in a category are the popular ones.
                let place = rng
                    .u32(..self.per_category)
                    .min(rng.u32(..self.per_category));
                let mut item = category * self.per_category + place;
                let length = rng.usize(2..=6);
                let mut items = vec![item];
                while items.len() < length {
                    let step = rng.f64();
                    item = if step < 0.5 * planted {
                        self.twin(item)
                    } else if step < 0.7 * planted {
                        self.complement(item)
                    } else {
                        (item / self.per_category) * self.per_category
                            + rng.u32(..self.per_category)
                    };
                    items.push(item);
                }
                Session {
                    start: start + n as f64 * 60.0,
                    items,
                }
            })
            .collect()
    }
}
