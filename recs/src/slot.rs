//! Filling a recommendation slot: a strategy's candidates, then its fallbacks in order, with
//! the exclusions every slot has (sold out, in the cart, already bought, the product on
//! screen), the merchandiser's rules (pin, boost, bury, filter by category and price), and
//! a cap per category so that one popular category does not fill every slot. Each item
//! carries why it is there.

use std::collections::HashMap;

use crate::neighbours::CoOccurrence;
use crate::popularity::Popularity;
use crate::products::Products;
use crate::strategies::Popular;
use crate::Item;

/// Why an item is in a slot, in words a merchandiser (and a trace) can read.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Viewed together with this product (its name).
    ViewedWith(String),
    /// Bought together with this product (its name).
    BoughtWith(String),
    /// Among the most viewed in this category lately.
    PopularIn(String),
    /// Among the most viewed in the shop lately.
    Popular,
    /// Viewed in sessions like this one.
    ForYou,
    /// Viewed far more than usual lately.
    Trending,
    /// New in the shop, before it has any history.
    New,
    /// Pinned by the merchandiser.
    Pinned,
    /// The last resort when the data is thin: the shop's best sellers.
    BestSellers,
}

impl Reason {
    pub fn text(&self) -> String {
        match self {
            Reason::ViewedWith(name) => format!("viewed with {name}"),
            Reason::BoughtWith(name) => format!("bought with {name}"),
            Reason::PopularIn(category) => format!("popular in {category} this week"),
            Reason::Popular => "popular this week".into(),
            Reason::ForYou => "viewed in sessions like this one".into(),
            Reason::Trending => "trending now".into(),
            Reason::New => "new in".into(),
            Reason::Pinned => "pinned".into(),
            Reason::BestSellers => "fallback: best sellers".into(),
        }
    }
}

/// An item a strategy proposes, with its score (higher is better) and reason.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub item: Item,
    pub score: f64,
    pub reason: Reason,
}

/// The merchandiser's rules for a slot.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Merchandising {
    /// Only these categories (none: any).
    pub categories: Vec<String>,
    pub price_min: Option<f64>,
    pub price_max: Option<f64>,
    /// Shown first, in this order, by product id.
    pub pinned: Vec<String>,
    /// Shown only when nothing else is left, by product id.
    pub buried: Vec<String>,
    /// A category's scores multiplied by this.
    pub boosts: Vec<(String, f64)>,
}

/// What a slot never shows, for this shopper and page.
#[derive(Debug, Clone, Copy, Default)]
pub struct Exclusions<'a> {
    pub on_screen: Option<&'a str>,
    pub cart: &'a [String],
    pub bought: &'a [String],
}

/// One item in a filled slot.
#[derive(Debug, Clone, PartialEq)]
pub struct Filled {
    pub item: Item,
    pub reason: Reason,
}

/// The neighbours of `anchors`' last three items (the last first), each with the reason
/// `why` gives for the product it came from.
fn neighbours_of(
    neighbours: &impl CoOccurrence,
    products: &Products,
    anchors: &[Item],
    n: usize,
    why: impl Fn(String) -> Reason,
) -> Vec<Candidate> {
    let mut out: Vec<Candidate> = Vec::new();
    for (distance, &anchor) in anchors.iter().rev().take(3).enumerate() {
        let Some(name) = products.get(anchor).map(|p| p.name.clone()) else {
            continue;
        };
        for (item, weight) in neighbours.neighbours(anchor, n) {
            if item != anchor && !out.iter().any(|c| c.item == item) {
                out.push(Candidate {
                    item,
                    // An earlier item's neighbours count for less.
                    score: weight / (1 + distance) as f64,
                    reason: why(name.clone()),
                });
            }
        }
    }
    out
}

/// `similar_to`'s candidates: the co-viewed neighbours of the session's last items, each
/// "viewed with" the product it came from.
pub fn viewed_with(
    co_viewed: &impl CoOccurrence,
    products: &Products,
    recent: &[Item],
    n: usize,
) -> Vec<Candidate> {
    neighbours_of(co_viewed, products, recent, n, Reason::ViewedWith)
}

/// `bought_with`'s candidates: the co-bought neighbours of what is in the cart, each
/// "bought with" the product it came from.
pub fn bought_with(
    co_bought: &impl CoOccurrence,
    products: &Products,
    cart: &[Item],
    n: usize,
) -> Vec<Candidate> {
    neighbours_of(co_bought, products, cart, n, Reason::BoughtWith)
}

/// `popular(category, n)`'s candidates.
pub fn popular_in(
    popularity: &Popularity,
    products: &Products,
    category: &str,
    n: usize,
) -> Vec<Candidate> {
    scored(
        popularity.popular_in(products, category, n),
        Reason::PopularIn(category.to_owned()),
    )
}

/// `trending(n)`'s candidates, at `at` (Unix seconds): items with at least 5 recent views
/// whose pace rose most.
pub fn trending(popularity: &Popularity, at: f64, n: usize) -> Vec<Candidate> {
    scored(popularity.trending(at, 5.0, n), Reason::Trending)
}

/// Scored items as candidates, all for one reason.
fn scored(items: Vec<(Item, f64)>, reason: Reason) -> Vec<Candidate> {
    items
        .into_iter()
        .map(|(item, score)| Candidate {
            item,
            score,
            reason: reason.clone(),
        })
        .collect()
}

/// Ranked items (best first) as candidates scored by their rank, all for one reason.
fn by_rank(items: &[Item], reason: Reason) -> Vec<Candidate> {
    let count = items.len();
    let ranks = items
        .iter()
        .enumerate()
        .map(|(rank, &item)| (item, (count - rank) as f64));
    scored(ranks.collect(), reason)
}

/// New products, first met since `since_ms`, newest first: recommendable before they have
/// any history.
pub fn new_in(products: &Products, since_ms: i64, n: usize) -> Vec<Candidate> {
    let mut new = products.new_since(since_ms);
    new.truncate(n);
    by_rank(&new, Reason::New)
}

/// The shop's most clicked items: the last fallback, so that a slot is never empty.
pub fn best_sellers(popular: &Popular, n: usize) -> Vec<Candidate> {
    by_rank(popular.top(n), Reason::BestSellers)
}

/// Fills `n` places from `sources`, the strategy's candidates first and then each fallback
/// in order, under `rules` and `exclusions`.
pub fn fill(
    products: &Products,
    sources: &[Vec<Candidate>],
    rules: &Merchandising,
    exclusions: Exclusions<'_>,
    n: usize,
) -> Vec<Filled> {
    let allowed = |item: Item| {
        let Some(product) = products.get(item) else {
            return false;
        };
        let excluded = !product.available
            || exclusions.on_screen == Some(product.id.as_str())
            || exclusions.cart.contains(&product.id)
            || exclusions.bought.contains(&product.id);
        let filtered = (!rules.categories.is_empty()
            && !rules.categories.contains(&product.category))
            || rules.price_min.is_some_and(|min| product.price < min)
            || rules.price_max.is_some_and(|max| product.price > max);
        !excluded && !filtered
    };
    let buried = |item: Item| {
        products
            .get(item)
            .is_some_and(|p| rules.buried.contains(&p.id))
    };
    let boost = |item: Item| {
        products.get(item).map_or(1.0, |p| {
            rules
                .boosts
                .iter()
                .filter(|(category, _)| *category == p.category)
                .map(|(_, factor)| factor)
                .product()
        })
    };
    // At most half the places (and at least two) from one category, unless the slot is for
    // one category anyway.
    let per_category = if rules.categories.len() == 1 {
        n
    } else {
        (n / 2).max(2)
    };

    let mut filled: Vec<Filled> = Vec::with_capacity(n);
    let mut categories: HashMap<String, usize> = HashMap::new();
    let mut take = |filled: &mut Vec<Filled>, item: Item, reason: Reason, capped: bool| {
        if filled.len() >= n || filled.iter().any(|f| f.item == item) || !allowed(item) {
            return;
        }
        let category = products
            .get(item)
            .map(|p| p.category.clone())
            .unwrap_or_default();
        let count = categories.entry(category).or_default();
        if capped && *count >= per_category {
            return;
        }
        *count += 1;
        filled.push(Filled { item, reason });
    };

    for id in &rules.pinned {
        if let Some(item) = products.item(id) {
            take(&mut filled, item, Reason::Pinned, false);
        }
    }
    let ranked: Vec<Vec<Candidate>> = sources
        .iter()
        .map(|source| {
            let mut source = source.clone();
            source.sort_by(|a, b| {
                (b.score * boost(b.item))
                    .total_cmp(&(a.score * boost(a.item)))
                    .then(a.item.cmp(&b.item))
            });
            source
        })
        .collect();
    // Diverse first; then, if places are left, without the cap; buried items last.
    for capped in [true, false] {
        for source in &ranked {
            for candidate in source.iter().filter(|c| !buried(c.item)) {
                take(
                    &mut filled,
                    candidate.item,
                    candidate.reason.clone(),
                    capped,
                );
            }
        }
    }
    for source in &ranked {
        for candidate in source.iter().filter(|c| buried(c.item)) {
            take(&mut filled, candidate.item, candidate.reason.clone(), false);
        }
    }
    filled
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::products::{Product, Products};

    fn shop() -> (Products, HashMap<&'static str, Item>) {
        let mut products = Products::default();
        let mut ids = HashMap::new();
        for (id, category, price) in [
            ("boots", "Shoes", 120.0),
            ("socks", "Shoes", 9.0),
            ("laces", "Shoes", 4.0),
            ("insoles", "Shoes", 15.0),
            ("shirt", "Shirts", 45.0),
            ("scarf", "Accessories", 30.0),
            ("gone", "Shoes", 50.0),
        ] {
            let product = Product {
                id: id.into(),
                name: id.to_uppercase(),
                price,
                currency: "EUR".into(),
                category: category.into(),
                available: id != "gone",
                url: format!("/p/{id}"),
                image: None,
            };
            ids.insert(id, products.feed(product, 0).unwrap());
        }
        (products, ids)
    }

    fn candidates(ids: &HashMap<&str, Item>, names: &[&str], reason: Reason) -> Vec<Candidate> {
        names
            .iter()
            .enumerate()
            .map(|(rank, name)| Candidate {
                item: ids[name],
                score: (names.len() - rank) as f64,
                reason: reason.clone(),
            })
            .collect()
    }

    fn names(filled: &[Filled], ids: &HashMap<&str, Item>) -> Vec<String> {
        filled
            .iter()
            .map(|f| {
                ids.iter()
                    .find(|(_, &i)| i == f.item)
                    .map(|(n, _)| n.to_string())
                    .unwrap()
            })
            .collect()
    }

    #[test]
    fn learnt_neighbours_say_what_they_were_viewed_with() {
        use crate::neighbours::{Decay, Streaming};
        use crate::strategies::Recommender as _;

        let (products, ids) = shop();
        let mut neighbours = Streaming::new(Decay::NONE, 8);
        let mut popular = Popular::default();
        for session in [
            ["boots", "socks"],
            ["boots", "socks"],
            ["boots", "insoles"],
            ["shirt", "scarf"],
        ] {
            let items: Vec<Item> = session.iter().map(|n| ids[n]).collect();
            neighbours.learn(&items, 0.0);
            popular.learn(&items, 0.0);
        }
        let similar = viewed_with(&neighbours, &products, &[ids["boots"]], 4);
        let filled = fill(
            &products,
            &[similar, best_sellers(&popular, 4)],
            &Merchandising::default(),
            Exclusions {
                on_screen: Some("boots"),
                ..Exclusions::default()
            },
            3,
        );
        assert_eq!(names(&filled, &ids), vec!["socks", "insoles", "shirt"]);
        assert_eq!(filled[0].reason.text(), "viewed with BOOTS");
        assert_eq!(filled[2].reason.text(), "fallback: best sellers");
    }

    #[test]
    fn co_bought_popular_trending_and_new_items_say_why() {
        use crate::neighbours::{Decay, Streaming};

        let (products, ids) = shop();
        let mut co_bought = Streaming::new(Decay::NONE, 8);
        for order in [["boots", "socks"], ["boots", "socks"], ["boots", "laces"]] {
            let items: Vec<Item> = order.iter().map(|n| ids[n]).collect();
            co_bought.learn(&items, 0.0);
        }
        let with = bought_with(&co_bought, &products, &[ids["boots"]], 4);
        assert_eq!(with[0].item, ids["socks"]);
        assert_eq!(with[0].reason.text(), "bought with BOOTS");

        let mut popularity = Popularity::new(0.0);
        for (name, views) in [("socks", 3), ("laces", 9), ("shirt", 20)] {
            for _ in 0..views {
                popularity.view(ids[name], 0.0);
            }
        }
        let shoes = popular_in(&popularity, &products, "Shoes", 4);
        let first: Vec<Item> = shoes.iter().map(|c| c.item).collect();
        assert_eq!(first, vec![ids["laces"], ids["socks"]]);
        assert_eq!(shoes[0].reason.text(), "popular in Shoes this week");
        assert_eq!(
            trending(&popularity, 0.0, 1)[0].reason.text(),
            "trending now"
        );
        // Every product here was first met at 0.
        assert_eq!(new_in(&products, 0, 2).len(), 2);
        assert!(new_in(&products, 1, 2).is_empty());
    }

    #[test]
    fn exclusions_hold_and_fallbacks_fill_the_slot_with_their_reasons() {
        let (products, ids) = shop();
        let similar = candidates(
            &ids,
            &["gone", "socks", "boots", "laces"],
            Reason::ViewedWith("BOOTS".into()),
        );
        let best = candidates(&ids, &["shirt", "scarf", "insoles"], Reason::BestSellers);
        let cart = vec!["laces".to_owned()];
        let exclusions = Exclusions {
            on_screen: Some("boots"),
            cart: &cart,
            bought: &[],
        };
        let filled = fill(
            &products,
            &[similar, best],
            &Merchandising::default(),
            exclusions,
            3,
        );
        // Sold out, on screen and in the cart are out; the fallback fills the rest.
        assert_eq!(names(&filled, &ids), vec!["socks", "shirt", "scarf"]);
        assert_eq!(filled[0].reason.text(), "viewed with BOOTS");
        assert_eq!(filled[1].reason.text(), "fallback: best sellers");
    }

    #[test]
    fn pins_boosts_burials_filters_and_the_category_cap_apply() {
        let (products, ids) = shop();
        let popular = candidates(
            &ids,
            &["boots", "socks", "laces", "insoles", "shirt", "scarf"],
            Reason::PopularIn("the shop".into()),
        );
        let rules = Merchandising {
            pinned: vec!["scarf".into()],
            buried: vec!["socks".into()],
            boosts: vec![("Shirts".into(), 10.0)],
            ..Merchandising::default()
        };
        let filled = fill(
            &products,
            std::slice::from_ref(&popular),
            &rules,
            Exclusions::default(),
            5,
        );
        // Pinned first; the boosted shirt next; at most two shoes while others are left;
        // then, uncapped, another shoe; the buried socks never, with places filled.
        assert_eq!(
            names(&filled, &ids),
            vec!["scarf", "shirt", "boots", "laces", "insoles"]
        );
        assert_eq!(filled[0].reason, Reason::Pinned);

        let cheap_shoes = Merchandising {
            categories: vec!["Shoes".into()],
            price_max: Some(20.0),
            ..Merchandising::default()
        };
        let filled = fill(
            &products,
            &[popular],
            &cheap_shoes,
            Exclusions::default(),
            5,
        );
        assert_eq!(names(&filled, &ids), vec!["socks", "laces", "insoles"]);
    }
}
