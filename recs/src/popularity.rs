//! What is popular, per category, and what is trending: views counted with forward decay at
//! two speeds. The slow count (a half-life of a week) says what is popular lately; an item
//! whose fast count (a half-life of a day) is high against its slow count is trending. Like
//! the neighbours, these counts hold no visitor id.

use crate::neighbours::Decay;
use crate::products::Products;
use crate::Item;

/// The slow count's half-life: a week, in seconds.
pub const SLOW_HALF_LIFE: f64 = 7.0 * 86_400.0;
/// The fast count's half-life: a day, in seconds.
pub const FAST_HALF_LIFE: f64 = 86_400.0;

/// Views counted at two speeds, per item.
#[derive(Debug)]
pub struct Popularity {
    slow: Decay,
    fast: Decay,
    /// Per item: (slow, fast) decayed counts.
    counts: Vec<(f64, f64)>,
}

impl Popularity {
    /// Counting from `start` (Unix seconds): the forward-decay landmark.
    pub fn new(start: f64) -> Popularity {
        Popularity {
            slow: Decay {
                start,
                half_life: SLOW_HALF_LIFE,
            },
            fast: Decay {
                start,
                half_life: FAST_HALF_LIFE,
            },
            counts: Vec::new(),
        }
    }

    /// One view of `item` at `at`.
    pub fn view(&mut self, item: Item, at: f64) {
        let index = item as usize;
        if self.counts.len() <= index {
            self.counts.resize(index + 1, (0.0, 0.0));
        }
        let (slow, fast) = &mut self.counts[index];
        *slow += self.slow.weight(at);
        *fast += self.fast.weight(at);
    }

    /// Counts from `start` from now on, every count scaled to match.
    pub fn rebase(&mut self, start: f64) {
        let (slow, fast) = (self.slow.factor_to(start), self.fast.factor_to(start));
        for (s, f) in &mut self.counts {
            *s *= slow;
            *f *= fast;
        }
        self.slow.start = start;
        self.fast.start = start;
    }

    /// The decays of the slow and the fast count.
    pub fn decays(&self) -> (Decay, Decay) {
        (self.slow, self.fast)
    }

    /// `item`'s (slow, fast) counts, to store.
    pub fn counts(&self, item: Item) -> (f64, f64) {
        self.counts
            .get(item as usize)
            .copied()
            .unwrap_or((0.0, 0.0))
    }

    /// Puts back `item`'s stored counts.
    pub fn restore(&mut self, item: Item, counts: (f64, f64)) {
        let index = item as usize;
        if self.counts.len() <= index {
            self.counts.resize(index + 1, (0.0, 0.0));
        }
        self.counts[index] = counts;
    }

    /// The `n` most viewed items lately (slow count) that `keep` accepts, heaviest first.
    pub fn popular(&self, n: usize, keep: impl Fn(Item) -> bool) -> Vec<(Item, f64)> {
        let mut all: Vec<(Item, f64)> = self
            .counts
            .iter()
            .enumerate()
            .map(|(i, &(slow, _))| (i as Item, slow))
            .filter(|&(i, slow)| slow > 0.0 && keep(i))
            .collect();
        all.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        all.truncate(n);
        all
    }

    /// The `n` most viewed items in `category`.
    pub fn popular_in(&self, products: &Products, category: &str, n: usize) -> Vec<(Item, f64)> {
        self.popular(n, |item| {
            products.get(item).is_some_and(|p| p.category == category)
        })
    }

    /// The `n` items whose views rose most against their own usual pace, at `at`: the fast
    /// count over the slow one, both brought to `at`'s scale. Items with a slow count under
    /// `at_least` views (at `at`'s scale) are too new or too rare to say.
    pub fn trending(&self, at: f64, at_least: f64, n: usize) -> Vec<(Item, f64)> {
        let (slow_scale, fast_scale) = (self.slow.weight(at), self.fast.weight(at));
        let mut all: Vec<(Item, f64)> = self
            .counts
            .iter()
            .enumerate()
            .filter_map(|(i, &(slow, fast))| {
                let (slow, fast) = (slow / slow_scale, fast / fast_scale);
                // Over the same views, a one-day half-life keeps about a seventh of what a
                // week's keeps: a steady item scores about 1/7, a rising one more.
                (slow >= at_least).then_some((i as Item, fast / slow))
            })
            .collect();
        all.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        all.truncate(n);
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: f64 = 86_400.0;

    #[test]
    fn a_rising_item_trends_while_a_steady_bestseller_stays_popular() {
        let mut popularity = Popularity::new(0.0);
        // Item 0 sells steadily, 20 views a day for four weeks; item 1 had 2 a day, then
        // 15 on the last day; item 2 had 10 a day, then none for a week.
        for day in 0..28 {
            let at = f64::from(day) * DAY;
            for _ in 0..20 {
                popularity.view(0, at);
            }
            let rising = if day == 27 { 15 } else { 2 };
            for _ in 0..rising {
                popularity.view(1, at);
            }
            if day < 21 {
                for _ in 0..10 {
                    popularity.view(2, at);
                }
            }
        }
        let now = 28.0 * DAY;
        let popular: Vec<Item> = popularity
            .popular(3, |_| true)
            .iter()
            .map(|p| p.0)
            .collect();
        assert_eq!(popular[0], 0);
        let trending: Vec<Item> = popularity
            .trending(now, 5.0, 3)
            .iter()
            .map(|p| p.0)
            .collect();
        assert_eq!(trending[0], 1, "{trending:?}");
        assert_eq!(trending.last(), Some(&2), "{trending:?}");
        // Without the rise, item 1 is no more trending than the steady seller.
        let mut steady = Popularity::new(0.0);
        for day in 0..28 {
            for _ in 0..20 {
                steady.view(0, f64::from(day) * DAY);
            }
            for _ in 0..2 {
                steady.view(1, f64::from(day) * DAY);
            }
        }
        let scores = steady.trending(now, 5.0, 2);
        assert!((scores[0].1 - scores[1].1).abs() < 1e-9, "{scores:?}");
    }
}
