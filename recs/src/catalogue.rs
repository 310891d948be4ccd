//! A site's catalogue as the edge keeps it: what shoppers' sessions teach ([`learn`]), split
//! among shards by product ([`route`]), each shard's signals ([`Shard`]), and a slot filled
//! from every shard's offer ([`fill`]).
//!
//! A shard owns the products whose id hashes to it ([`shard_of`]): their details, their
//! co-viewed and co-bought neighbours (a Space-Saving summary each, see
//! [`crate::neighbours::Streaming`]), their views at two speeds and their sales. It also
//! keeps the details of its products' neighbours, so that it can offer them as cards.
//! Shard [`SESSIONS_SHARD`] also keeps the site's [`KEPT_SESSIONS`] most recent sessions
//! (each a list of products, handed over as it grows, see [`crate::sessions`]) for
//! `for_you`'s session-kNN, with the details of their products. No part of this holds a
//! visitor or session id: a shard learns products, pairs of products, anonymous lists of
//! products and counts, so erasing a visitor has nothing here to remove.

use std::collections::{BTreeSet, HashMap};

use rapport_protocol::{Event, EventData, SlotRequest, Strategy};
use serde::{Deserialize, Serialize};

use crate::neighbours::{Decay, Streaming, MAX_SESSION_ITEMS, WINDOW};
use crate::popularity::Popularity;
use crate::products::{Product, Products, Refused, Source};
use crate::sessions::{Sessions, Similarity};
use crate::slot::{self, Candidate, Exclusions, Merchandising, Reason};
use crate::Item;

/// Neighbours kept per product, in each of its two summaries.
pub const CAPACITY: usize = 50;
/// Pairs and sales halve in weight every 30 days.
pub const HALF_LIFE: f64 = 30.0 * 86_400.0;
/// How long a shard counts from one landmark before moving it to the present (scaling
/// what it holds to match), so that forward-decayed weights never outgrow `f64`: the
/// fastest count (a half-life of a day) grows at most 2^30 meanwhile.
const REBASE_AFTER: f64 = 30.0 * 86_400.0;
/// A product neither viewed nor fed for this long ages out.
pub const AGE_OUT_MS: i64 = 90 * 86_400_000;
/// A product first met this recently is new.
pub const NEW_MS: i64 = 14 * 86_400_000;
/// The most products of one order that pair with each other.
const ORDER_ITEMS: usize = 20;
/// A session is handed over for `for_you` while it has at most this many products: no
/// more than a visitor's profile keeps, so that the copy handed over last is the one the
/// next batch starts from (the edge checks this when it compiles).
pub const SESSION_PRODUCTS: usize = 20;
/// The shard that keeps the site's recent sessions.
pub const SESSIONS_SHARD: u32 = 0;
/// Recent sessions kept for `for_you`: on the real sample, keeping 20,000 rather than
/// 5,000 lifts its HR@20 from 0.610 to 0.633 (see BENCHMARKS.md).
pub const KEPT_SESSIONS: usize = 20_000;
/// The most recent sessions indexed per product.
const SESSIONS_PER_PRODUCT: usize = 500;
/// The neighbour sessions `for_you` adds up (V-SKNN's k).
const NEIGHBOUR_SESSIONS: usize = 100;

fn decay(start: f64) -> Decay {
    Decay {
        start,
        half_life: HALF_LIFE,
    }
}

/// The shard an id goes to (a product in the catalogue, a row in the aggregators): FNV-1a
/// of the id, so every isolate agrees.
pub fn shard_of(id: &str, shards: u32) -> u32 {
    let hash = id.bytes().fold(0x811c_9dc5_u32, |hash, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    });
    hash % shards.max(1)
}

/// A product as a page showed it, if it has what a card needs.
pub fn card(product: &rapport_protocol::Product) -> Option<Product> {
    let sold_out = product.availability.as_deref().is_some_and(|a| {
        let a = a.to_ascii_lowercase();
        ["outofstock", "soldout", "discontinued"]
            .iter()
            .any(|word| a.contains(word))
    });
    Product {
        id: product.id.clone(),
        name: product.name.clone()?,
        price: product.price?,
        currency: product.currency.clone()?.to_ascii_uppercase(),
        category: product.category.clone()?,
        available: !sold_out,
        url: product.url.clone()?,
        image: product.image.clone(),
    }
    .checked()
    .ok()
}

/// Where a visitor's session stands, as learning needs it: the session, the products it
/// viewed (the latest first) and the cart's products.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SessionSoFar {
    pub session_id: String,
    pub viewed: Vec<String>,
    pub cart: Vec<String>,
}

/// A product viewed for the first time in its session, with the distinct products viewed
/// before it there (the latest first, at most [`WINDOW`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Viewed {
    pub id: String,
    pub before: Vec<String>,
}

/// A session that grew: its distinct products before and after (the latest first). It
/// is known by what it holds, not by an id (see [`crate::sessions`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Grew {
    pub before: Vec<String>,
    pub after: Vec<String>,
}

/// What a batch of one visitor's events teaches the catalogue: no visitor or session id.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Learnt {
    pub viewed: Vec<Viewed>,
    /// Each session that grew, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sessions: Vec<Grew>,
    /// The products of each order placed.
    pub ordered: Vec<Vec<String>>,
    /// The products named, with what their pages showed.
    pub cards: Vec<Product>,
    pub at_ms: i64,
}

impl Learnt {
    pub fn is_empty(&self) -> bool {
        self.viewed.is_empty() && self.ordered.is_empty()
    }

    /// Adds what a later batch taught (its time becomes the merged batch's).
    pub fn merge(&mut self, later: Learnt) {
        self.viewed.extend(later.viewed);
        self.sessions.extend(later.sessions);
        self.ordered.extend(later.ordered);
        for card in later.cards {
            self.cards.retain(|c| c.id != card.id);
            self.cards.push(card);
        }
        self.at_ms = self.at_ms.max(later.at_ms);
    }
}

/// Whether an event can teach the catalogue anything (a product viewed, the cart changed,
/// an order placed): a batch with none needs no look at the session.
pub fn teaches(event: &Event) -> bool {
    matches!(
        event.data,
        EventData::ProductView(_)
            | EventData::AddToCart(_)
            | EventData::RemoveFromCart(_)
            | EventData::OrderComplete(_)
    )
}

/// What `events` (stored at `at_ms`, in order) teach, from where the session stood; moves
/// `session` on. A product counts once per session, and pairs only with the [`WINDOW`]
/// distinct products before it, over the session's first [`MAX_SESSION_ITEMS`]: what one
/// shopper (or a bot) can add is capped.
pub fn learn(session: &mut SessionSoFar, events: &[&Event], at_ms: i64) -> Learnt {
    let mut learnt = Learnt {
        at_ms,
        ..Learnt::default()
    };
    let card_of = |product: &rapport_protocol::Product, learnt: &mut Learnt| {
        if let Some(card) = card(product) {
            learnt.cards.retain(|c| c.id != card.id);
            learnt.cards.push(card);
        }
    };
    // Where the session stood when the batch (or the session) began.
    let mut before = session.viewed.clone();
    let grew = |before: &[String], session: &SessionSoFar, learnt: &mut Learnt| {
        if session.viewed != before && session.viewed.len() <= SESSION_PRODUCTS {
            learnt.sessions.push(Grew {
                before: before.to_vec(),
                after: session.viewed.clone(),
            });
        }
    };
    for event in events {
        if event.session_id != session.session_id {
            grew(&before, session, &mut learnt);
            session.session_id = event.session_id.clone();
            session.viewed.clear();
            before.clear();
        }
        match &event.data {
            EventData::ProductView(view) => {
                let id = &view.product.id;
                card_of(&view.product, &mut learnt);
                if session.viewed.contains(id) || session.viewed.len() >= MAX_SESSION_ITEMS {
                    continue;
                }
                learnt.viewed.push(Viewed {
                    id: id.clone(),
                    before: session.viewed.iter().take(WINDOW).cloned().collect(),
                });
                session.viewed.insert(0, id.clone());
            }
            EventData::AddToCart(added) => {
                card_of(&added.product, &mut learnt);
                if !session.cart.contains(&added.product.id) {
                    session.cart.push(added.product.id.clone());
                }
            }
            EventData::RemoveFromCart(removed) => {
                session.cart.retain(|id| *id != removed.product_id);
            }
            EventData::OrderComplete(_) if !session.cart.is_empty() => {
                let mut order = std::mem::take(&mut session.cart);
                order.truncate(ORDER_ITEMS);
                learnt.ordered.push(order);
            }
            _ => {}
        }
    }
    grew(&before, session, &mut learnt);
    learnt
}

/// Which of a product's summaries a pair goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Together {
    Viewed,
    Bought,
}

/// What one shard learns from a batch: its products' views, sales and pairs (each one
/// way, from its product), and the details of every product named.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ShardLearn {
    pub cards: Vec<Product>,
    pub views: Vec<String>,
    pub sold: Vec<String>,
    pub pairs: Vec<(String, String, Together)>,
    /// Sessions that grew (for [`SESSIONS_SHARD`] only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sessions: Vec<Grew>,
    pub at_ms: i64,
}

/// Splits what a batch taught among the shards that own its products.
pub fn route(learnt: &Learnt, shards: u32) -> Vec<(u32, ShardLearn)> {
    let mut out: HashMap<u32, ShardLearn> = HashMap::new();
    fn to<'a>(out: &'a mut HashMap<u32, ShardLearn>, id: &str, shards: u32) -> &'a mut ShardLearn {
        out.entry(shard_of(id, shards)).or_default()
    }
    for viewed in &learnt.viewed {
        to(&mut out, &viewed.id, shards)
            .views
            .push(viewed.id.clone());
        for before in &viewed.before {
            let pair = |a: &String, b: &String| (a.clone(), b.clone(), Together::Viewed);
            to(&mut out, &viewed.id, shards)
                .pairs
                .push(pair(&viewed.id, before));
            to(&mut out, before, shards)
                .pairs
                .push(pair(before, &viewed.id));
        }
    }
    for order in &learnt.ordered {
        let order = &order[..order.len().min(ORDER_ITEMS)];
        for item in order {
            let shard = to(&mut out, item, shards);
            shard.sold.push(item.clone());
            for other in order.iter().filter(|o| *o != item) {
                shard
                    .pairs
                    .push((item.clone(), other.clone(), Together::Bought));
            }
        }
    }
    if !learnt.sessions.is_empty() {
        out.entry(SESSIONS_SHARD).or_default().sessions = learnt.sessions.clone();
    }
    let mut routed: Vec<(u32, ShardLearn)> = out.into_iter().collect();
    routed.sort_by_key(|(shard, _)| *shard);
    for (_, shard) in &mut routed {
        shard.at_ms = learnt.at_ms;
        let named = |id: &String| {
            shard.views.contains(id)
                || shard.sold.contains(id)
                || shard.pairs.iter().any(|(a, b, _)| a == id || b == id)
                || shard.sessions.iter().any(|grew| grew.after.contains(id))
        };
        shard.cards = learnt
            .cards
            .iter()
            .filter(|c| named(&c.id))
            .cloned()
            .collect();
    }
    routed
}

/// One item as a shard stores it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemState {
    pub id: String,
    /// The landmark (Unix seconds) its decayed weights count from.
    pub start: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<Product>,
    #[serde(default = "learnt")]
    pub source: Source,
    #[serde(default)]
    pub seen_ms: i64,
    #[serde(default)]
    pub first_ms: i64,
    #[serde(default)]
    pub views: (f64, f64),
    #[serde(default)]
    pub sold: f64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub co_viewed: Vec<(String, f64, f64)>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub co_bought: Vec<(String, f64, f64)>,
}

fn learnt() -> Source {
    Source::Learnt
}

/// A candidate as a shard offers it: by id, so shards' offers merge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scored {
    pub id: String,
    pub score: f64,
    pub reason: Reason,
}

/// What one shard offers for a slot: candidates for each of the strategy's layers (its
/// own, then each fallback), and the details of every product it names.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Offer {
    pub shard: u32,
    pub layers: Vec<Vec<Scored>>,
    pub cards: Vec<Product>,
}

/// Where a slot's candidates come from, the strategy's own first.
#[derive(Debug, Clone, PartialEq)]
enum Layer {
    ViewedWith,
    BoughtWith,
    ForYou,
    PopularIn(String),
    Popular,
    Trending,
    NewIn(Option<String>),
    BestSellers,
}

/// A strategy's layers: its own candidates, then its fallbacks in order, ending with what
/// is popular and the best sellers, so that a slot is never empty while the shop has data.
fn layers(request: &SlotRequest) -> Vec<Layer> {
    let mut layers = match (request.strategy, &request.category) {
        (Strategy::SimilarTo, _) => vec![Layer::ViewedWith, Layer::BoughtWith],
        (Strategy::BoughtWith, _) => vec![Layer::BoughtWith, Layer::ViewedWith],
        (Strategy::ForYou, _) => vec![Layer::ForYou, Layer::ViewedWith],
        (Strategy::Popular, Some(category)) => vec![
            Layer::PopularIn(category.clone()),
            Layer::NewIn(Some(category.clone())),
        ],
        (Strategy::Popular, None) => vec![],
        (Strategy::Trending, _) => vec![Layer::Trending],
        (Strategy::NewIn, category) => vec![Layer::NewIn(category.clone())],
    };
    layers.extend([Layer::Popular, Layer::BestSellers]);
    layers
}

/// What shard `shard`'s offer for `request` depends on, as a key: the strategy, count,
/// category, the pinned products it owns and the anchors it owns with their places (all of
/// them for `for_you` on [`SESSIONS_SHARD`], whose neighbour sessions depend on the whole
/// list). Not the shopper's exclusions, which `fill` applies: shoppers on the same product
/// with the same recent products get the same offer, which a caller may keep for a few
/// seconds.
pub fn offer_key(request: &SlotRequest, shard: u32, shards: u32) -> String {
    let whole = request.strategy == Strategy::ForYou && shard == SESSIONS_SHARD;
    let owned = |id: &&String| whole || shard_of(id, shards) == shard;
    let mut key = format!(
        "{shard}|{}|{}|{}|",
        request.strategy.as_str(),
        request.count,
        request.category.as_deref().unwrap_or("")
    );
    for id in request.pinned.iter().filter(owned) {
        key.push_str(id);
        key.push(',');
    }
    key.push('|');
    for (place, id) in request.anchors.iter().enumerate() {
        if owned(&id) {
            key.push_str(&format!("{place}:{id},"));
        }
    }
    key
}

/// The signals of the products one shard owns.
#[derive(Debug)]
pub struct Shard {
    index: u32,
    shards: u32,
    /// The landmark its decayed weights count from, Unix seconds.
    start: f64,
    products: Products,
    co_viewed: Streaming,
    co_bought: Streaming,
    popularity: Popularity,
    sold: HashMap<Item, f64>,
    /// Recent sessions, on [`SESSIONS_SHARD`] only.
    sessions: Option<Sessions>,
    /// Items changed since [`Shard::take_changed`] last gave them.
    changed: BTreeSet<Item>,
    /// Sessions kept, and sessions no longer kept, since [`Shard::take_sessions`].
    sessions_kept: BTreeSet<u64>,
    sessions_gone: BTreeSet<u64>,
}

/// What changed in a shard's sessions since last asked, as it is to be stored: each
/// session kept, by number, with its products, and the numbers no longer kept.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SessionsChanged {
    pub kept: Vec<(u64, Vec<String>)>,
    pub gone: Vec<u64>,
}

impl Shard {
    /// Shard `index` of `shards`, counting from `now_ms`.
    pub fn new(index: u32, shards: u32, now_ms: i64) -> Shard {
        let start = now_ms as f64 / 1_000.0;
        Shard {
            index,
            shards,
            start,
            products: Products::default(),
            co_viewed: Streaming::new(decay(start), CAPACITY),
            co_bought: Streaming::new(decay(start), CAPACITY),
            popularity: Popularity::new(start),
            sold: HashMap::new(),
            sessions: (index == SESSIONS_SHARD)
                .then(|| Sessions::new(KEPT_SESSIONS, SESSIONS_PER_PRODUCT)),
            changed: BTreeSet::new(),
            sessions_kept: BTreeSet::new(),
            sessions_gone: BTreeSet::new(),
        }
    }

    fn owns(&self, id: &str) -> bool {
        shard_of(id, self.shards) == self.index
    }

    /// Moves the landmark to `at` once it is [`REBASE_AFTER`] old, scaling every weight to
    /// match; every item is then stored again.
    fn keep_in_range(&mut self, at: f64) {
        if at - self.start < REBASE_AFTER {
            return;
        }
        let factor = decay(self.start).factor_to(at);
        for sold in self.sold.values_mut() {
            *sold *= factor;
        }
        self.co_viewed.rebase(at);
        self.co_bought.rebase(at);
        self.popularity.rebase(at);
        self.start = at;
        self.changed.extend(0..self.products.met() as Item);
    }

    /// Takes what a batch taught this shard.
    pub fn learn(&mut self, learn: &ShardLearn) {
        let at = learn.at_ms as f64 / 1_000.0;
        self.keep_in_range(at);
        for card in &learn.cards {
            if let Ok(item) = self.products.learn(card.clone(), learn.at_ms) {
                self.changed.insert(item);
            }
        }
        for id in learn.views.iter() {
            if !self.owns(id) {
                continue;
            }
            let item = self.products.intern(id);
            self.popularity.view(item, at);
            self.changed.insert(item);
        }
        let weight = decay(self.start).weight(at);
        for id in learn.sold.iter() {
            if !self.owns(id) {
                continue;
            }
            let item = self.products.intern(id);
            *self.sold.entry(item).or_default() += weight;
            self.changed.insert(item);
        }
        for (id, neighbour, together) in &learn.pairs {
            if !self.owns(id) || id == neighbour {
                continue;
            }
            let (item, other) = (self.products.intern(id), self.products.intern(neighbour));
            let summary = match together {
                Together::Viewed => &mut self.co_viewed,
                Together::Bought => &mut self.co_bought,
            };
            summary.add_one_way(item, other, at);
            self.changed.insert(item);
        }
        for grew in &learn.sessions {
            let products = &mut self.products;
            let Some(sessions) = self.sessions.as_mut() else {
                break;
            };
            let mut items = |ids: &[String]| -> Vec<Item> {
                ids.iter().rev().map(|id| products.intern(id)).collect()
            };
            let (before, after) = (items(&grew.before), items(&grew.after));
            let changed = sessions.change(&before, &after);
            for gone in changed.gone {
                self.sessions_kept.remove(&gone);
                self.sessions_gone.insert(gone);
            }
            self.sessions_kept.extend(changed.kept);
        }
    }

    /// The shop's server's details for a product, which win over pages; a shard that owns
    /// the product or holds it as a neighbour takes them.
    pub fn feed(&mut self, product: Product, at_ms: i64) -> Result<bool, Refused> {
        let product = product.checked()?;
        if !self.owns(&product.id) && self.products.item(&product.id).is_none() {
            return Ok(false);
        }
        let item = self.products.feed(product, at_ms)?;
        self.changed.insert(item);
        Ok(true)
    }

    /// Sold out or back in stock; whether this shard knew the product.
    pub fn set_available(&mut self, id: &str, available: bool) -> bool {
        let known = self.products.set_available(id, available);
        if let Some(item) = self.products.item(id).filter(|_| known) {
            self.changed.insert(item);
        }
        known
    }

    /// Forgets products neither viewed nor fed for [`AGE_OUT_MS`]; gives their ids.
    pub fn age_out(&mut self, now_ms: i64) -> Vec<String> {
        self.products.aged_out(now_ms - AGE_OUT_MS)
    }

    /// How many of its own products this shard has details for (not counting its copies
    /// of other shards' products).
    pub fn len(&self) -> usize {
        (0..self.products.met() as Item)
            .filter_map(|item| self.products.get(item))
            .filter(|product| self.owns(&product.id))
            .count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether items or sessions changed since they were last taken to be stored.
    pub fn has_changed(&self) -> bool {
        !self.changed.is_empty() || !self.sessions_kept.is_empty() || !self.sessions_gone.is_empty()
    }

    /// The sessions changed since last asked, as they are to be stored.
    pub fn take_sessions(&mut self) -> SessionsChanged {
        let kept = std::mem::take(&mut self.sessions_kept);
        let gone = std::mem::take(&mut self.sessions_gone);
        let Some(sessions) = &self.sessions else {
            return SessionsChanged::default();
        };
        let kept = kept
            .into_iter()
            .filter_map(|number| {
                let ids = sessions
                    .get(number)?
                    .iter()
                    .filter_map(|&item| self.products.id_of(item).map(str::to_owned))
                    .collect();
                Some((number, ids))
            })
            .collect();
        SessionsChanged {
            kept,
            gone: gone.into_iter().collect(),
        }
    }

    /// Puts back a stored session (on [`SESSIONS_SHARD`]; elsewhere it is ignored).
    pub fn restore_session(&mut self, number: u64, ids: &[String]) {
        let products = &mut self.products;
        if let Some(sessions) = self.sessions.as_mut() {
            let items: Vec<Item> = ids.iter().map(|id| products.intern(id)).collect();
            sessions.restore(number, &items);
        }
    }

    /// The items changed since last asked, as they are to be stored.
    pub fn take_changed(&mut self) -> Vec<ItemState> {
        let changed = std::mem::take(&mut self.changed);
        changed.into_iter().filter_map(|i| self.state(i)).collect()
    }

    fn state(&self, item: Item) -> Option<ItemState> {
        let id = self.products.id_of(item)?.to_owned();
        let (source, seen_ms, first_ms) =
            self.products
                .history(item)
                .unwrap_or((Source::Learnt, 0, 0));
        let named = |counters: Vec<(Item, f64, f64)>| {
            counters
                .into_iter()
                .filter_map(|(n, w, e)| Some((self.products.id_of(n)?.to_owned(), w, e)))
                .collect()
        };
        Some(ItemState {
            start: self.start,
            product: self.products.get(item).cloned(),
            source,
            seen_ms,
            first_ms,
            views: self.popularity.counts(item),
            sold: self.sold.get(&item).copied().unwrap_or(0.0),
            co_viewed: named(self.co_viewed.counters(item)),
            co_bought: named(self.co_bought.counters(item)),
            id,
        })
    }

    /// Puts back a stored item, its weights scaled to this shard's landmark.
    pub fn restore(&mut self, mut state: ItemState) {
        if state.start != self.start {
            let signals = decay(state.start).factor_to(self.start);
            let (slow, fast) = self.popularity.decays();
            let (slow, fast) = (
                Decay {
                    start: state.start,
                    ..slow
                }
                .factor_to(self.start),
                Decay {
                    start: state.start,
                    ..fast
                }
                .factor_to(self.start),
            );
            state.views = (state.views.0 * slow, state.views.1 * fast);
            state.sold *= signals;
            for (_, weight, error) in state.co_viewed.iter_mut().chain(&mut state.co_bought) {
                *weight *= signals;
                *error *= signals;
            }
        }
        let item = match state.product {
            Some(product) => {
                self.products
                    .restore(product, state.source, state.seen_ms, state.first_ms)
            }
            None => self.products.intern(&state.id),
        };
        self.popularity.restore(item, state.views);
        if state.sold > 0.0 {
            self.sold.insert(item, state.sold);
        }
        let mut numbered = |counters: &[(String, f64, f64)]| -> Vec<(Item, f64, f64)> {
            counters
                .iter()
                .map(|(id, w, e)| (self.products.intern(id), *w, *e))
                .collect()
        };
        let (viewed, bought) = (numbered(&state.co_viewed), numbered(&state.co_bought));
        self.co_viewed.restore(item, &viewed);
        self.co_bought.restore(item, &bought);
    }

    /// This shard's candidates for a slot, at `at_ms`: enough of each layer to fill it
    /// after exclusions, with their details.
    pub fn offer(&self, request: &SlotRequest, at_ms: i64) -> Offer {
        let at = at_ms as f64 / 1_000.0;
        // Enough of each layer to fill the slot past a few exclusions; the same for every
        // shopper, so that an offer can be kept for others (see `offer_key`).
        let want = usize::from(request.count) * 4 + 8;
        let anchors: Vec<Item> = request
            .anchors
            .iter()
            .filter(|id| self.owns(id))
            .filter_map(|id| self.products.item(id))
            .collect();
        // `slot`'s neighbours take the session in time order, the latest last.
        let in_time_order: Vec<Item> = anchors.iter().rev().copied().collect();
        let mut offered = Vec::new();
        for layer in layers(request) {
            let candidates = match layer {
                Layer::ViewedWith => {
                    slot::viewed_with(&self.co_viewed, &self.products, &in_time_order, want)
                }
                Layer::BoughtWith => {
                    slot::bought_with(&self.co_bought, &self.products, &in_time_order, want)
                }
                Layer::ForYou => self.for_you(&in_session_order(&request.anchors), want),
                Layer::PopularIn(category) => {
                    slot::popular_in(&self.popularity, &self.products, &category, want)
                }
                Layer::Popular => self
                    .popularity
                    .popular(want, |i| self.products.get(i).is_some())
                    .into_iter()
                    .map(|(item, score)| Candidate {
                        item,
                        score,
                        reason: Reason::Popular,
                    })
                    .collect(),
                Layer::Trending => slot::trending(&self.popularity, at, want),
                Layer::NewIn(category) => {
                    let mut new = slot::new_in(&self.products, at_ms - NEW_MS, usize::MAX);
                    new.retain(|c| {
                        let product = self.products.get(c.item);
                        category
                            .as_ref()
                            .is_none_or(|wanted| product.is_some_and(|p| p.category == *wanted))
                    });
                    new.truncate(want);
                    new
                }
                Layer::BestSellers => {
                    let mut best: Vec<(Item, f64)> =
                        self.sold.iter().map(|(&i, &s)| (i, s)).collect();
                    best.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
                    best.truncate(want);
                    best.into_iter()
                        .map(|(item, score)| Candidate {
                            item,
                            score,
                            reason: Reason::BestSellers,
                        })
                        .collect()
                }
            };
            offered.push(candidates);
        }
        let mut cards: Vec<Product> = Vec::new();
        let mut named = |item: Item| {
            if let Some(product) = self.products.get(item) {
                if !cards.iter().any(|c| c.id == product.id) {
                    cards.push(product.clone());
                }
            }
        };
        for candidate in offered.iter().flatten() {
            named(candidate.item);
        }
        for id in request.pinned.iter().filter(|id| self.owns(id)) {
            if let Some(item) = self.products.item(id) {
                named(item);
            }
        }
        // Scores as of `at`, so that shards counting from different landmarks compare.
        let signals = 1.0 / decay(self.start).weight(at);
        let views = 1.0 / self.popularity.decays().0.weight(at);
        let layers = offered
            .into_iter()
            .map(|layer| {
                layer
                    .into_iter()
                    .filter_map(|c| {
                        let scale = match c.reason {
                            Reason::Popular | Reason::PopularIn(_) => views,
                            Reason::Trending | Reason::New | Reason::Pinned | Reason::ForYou => 1.0,
                            _ => signals,
                        };
                        Some(Scored {
                            id: self.products.id_of(c.item)?.to_owned(),
                            score: c.score * scale,
                            reason: c.reason,
                        })
                    })
                    .collect()
            })
            .collect();
        Offer {
            shard: self.index,
            layers,
            cards,
        }
    }

    /// `for_you` at the edge: a session-kNN with V-SKNN's weights over the site's recent
    /// sessions that share products with `session` (in time order, the latest last), as
    /// the offline evaluation measures it; only [`SESSIONS_SHARD`] has them.
    fn for_you(&self, session: &[&String], want: usize) -> Vec<Candidate> {
        let Some(sessions) = &self.sessions else {
            return Vec::new();
        };
        let prefix: Vec<Item> = session
            .iter()
            .filter_map(|id| self.products.known(id))
            .collect();
        let mut scored: Vec<(Item, f64)> = sessions
            .scores(&prefix, NEIGHBOUR_SESSIONS, Similarity::Weighted)
            .into_iter()
            .filter(|(item, _)| self.products.get(*item).is_some())
            .collect();
        scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        scored.truncate(want);
        scored
            .into_iter()
            .map(|(item, score)| Candidate {
                item,
                score,
                reason: Reason::ForYou,
            })
            .collect()
    }
}

/// A request's anchors (the latest first) in time order, the latest last.
fn in_session_order(anchors: &[String]) -> Vec<&String> {
    anchors.iter().rev().collect()
}

/// One product in a filled slot, with why it is there.
#[derive(Debug, Clone, PartialEq)]
pub struct Recommended {
    pub product: Product,
    pub reason: Reason,
}

/// Fills a slot from every shard's offer: each layer's candidates merged (a product offered
/// by two shards counts its best score), then [`slot::fill`] with the request's exclusions
/// and merchandising.
pub fn fill(request: &SlotRequest, offers: &[Offer], shards: u32) -> Vec<Recommended> {
    // A product's own shard has its details first-hand; a neighbour's copy comes second.
    let mut cards: Vec<&Product> = Vec::new();
    for owned in [true, false] {
        for offer in offers {
            for card in &offer.cards {
                let own = shard_of(&card.id, shards) == offer.shard;
                if own == owned && !cards.iter().any(|c| c.id == card.id) {
                    cards.push(card);
                }
            }
        }
    }
    // Numbered in id order, so that ties fall the same way however the shop is sharded.
    cards.sort_by(|a, b| a.id.cmp(&b.id));
    let mut products = Products::default();
    for card in cards {
        products.restore(card.clone(), Source::Learnt, 0, 0);
    }
    let depth = offers.iter().map(|o| o.layers.len()).max().unwrap_or(0);
    let sources: Vec<Vec<Candidate>> = (0..depth)
        .map(|layer| {
            let mut merged: Vec<Candidate> = Vec::new();
            for scored in offers.iter().filter_map(|o| o.layers.get(layer)).flatten() {
                let Some(item) = products.item(&scored.id) else {
                    continue;
                };
                match merged.iter_mut().find(|c| c.item == item) {
                    Some(c) => c.score = c.score.max(scored.score),
                    None => merged.push(Candidate {
                        item,
                        score: scored.score,
                        reason: scored.reason.clone(),
                    }),
                }
            }
            merged
        })
        .collect();
    let rules = Merchandising {
        categories: request.only.clone(),
        price_min: request.price_min,
        price_max: request.price_max,
        pinned: request.pinned.clone(),
        buried: request.buried.clone(),
        boosts: request.boosts.clone(),
    };
    let exclusions = Exclusions {
        on_screen: request.on_screen.as_deref(),
        cart: &request.exclude,
        bought: &[],
    };
    slot::fill(
        &products,
        &sources,
        &rules,
        exclusions,
        usize::from(request.count),
    )
    .into_iter()
    .filter_map(|filled| {
        Some(Recommended {
            product: products.get(filled.item)?.clone(),
            reason: filled.reason,
        })
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rapport_protocol::{AddToCart, OrderComplete, ProductView};

    const T0: i64 = 1_790_000_000_000;

    fn page_product(id: &str, category: &str) -> rapport_protocol::Product {
        rapport_protocol::Product {
            id: id.into(),
            name: Some(id.to_uppercase()),
            price: Some(20.0),
            currency: Some("EUR".into()),
            category: Some(category.into()),
            availability: None,
            url: Some(format!("/products/{id}")),
            image: Some(format!("/images/{id}.jpg")),
        }
    }

    fn event(session: &str, n: usize, data: EventData) -> Event {
        Event {
            id: format!("evt-{session}-{n:04}"),
            session_id: session.into(),
            client_ts: None,
            data,
        }
    }

    fn view(session: &str, n: usize, id: &str) -> Event {
        let category = if id.starts_with('s') {
            "Socks"
        } else {
            "Shoes"
        };
        event(
            session,
            n,
            EventData::ProductView(ProductView {
                product: page_product(id, category),
            }),
        )
    }

    #[test]
    fn a_session_teaches_each_pair_once_within_the_window_and_its_orders() {
        let mut session = SessionSoFar::default();
        let events = [
            view("session-a", 1, "boots"),
            view("session-a", 2, "socks"),
            view("session-a", 3, "boots"),
            view("session-a", 4, "laces"),
            event(
                "session-a",
                5,
                EventData::AddToCart(AddToCart {
                    product: page_product("boots", "Shoes"),
                    quantity: 1,
                }),
            ),
            event(
                "session-a",
                6,
                EventData::OrderComplete(OrderComplete {
                    order_id: "o-1".into(),
                    value: None,
                    currency: None,
                }),
            ),
            view("session-b", 7, "laces"),
        ];
        let refs: Vec<&Event> = events.iter().collect();
        let learnt = learn(&mut session, &refs, T0);
        let viewed: Vec<(&str, Vec<&str>)> = learnt
            .viewed
            .iter()
            .map(|v| (v.id.as_str(), v.before.iter().map(String::as_str).collect()))
            .collect();
        assert_eq!(
            viewed,
            [
                ("boots", vec![]),
                ("socks", vec!["boots"]),
                // Boots again adds nothing; laces pair with both, the latest first.
                ("laces", vec!["socks", "boots"]),
                // A new session starts afresh.
                ("laces", vec![]),
            ]
        );
        assert_eq!(learnt.ordered, [vec!["boots".to_owned()]]);
        // Nothing that names the shopper or the session is sent.
        let sent = serde_json::to_string(&route(&learnt, 3)).unwrap();
        assert!(!sent.contains("session-"), "{sent}");
        assert_eq!(learnt.cards.len(), 3);
        assert_eq!(session.viewed, ["laces"]);
        assert!(session.cart.is_empty());

        // A bot's endless session adds at most the cap's pairs.
        let mut bot = SessionSoFar::default();
        let endless: Vec<Event> = (0..500).map(|n| view("bot", n, &format!("p{n}"))).collect();
        let refs: Vec<&Event> = endless.iter().collect();
        let learnt = learn(&mut bot, &refs, T0);
        assert_eq!(learnt.viewed.len(), MAX_SESSION_ITEMS);
        assert!(
            learnt.sessions.is_empty(),
            "a session past 20 products is not kept"
        );
        assert!(learnt.viewed.iter().all(|v| v.before.len() <= WINDOW));
    }

    /// Sessions of a small shop, taught to `shards` shards, each stored and restored into a
    /// fresh one as an object starting again would.
    fn shop(shards: u32) -> Vec<Shard> {
        let mut learning: Vec<Shard> = (0..shards)
            .map(|i| Shard::new(i, shards, T0 - 40 * 86_400_000))
            .collect();
        let sessions: &[&[&str]] = &[
            &["boots", "socks"],
            &["boots", "socks", "laces"],
            &["boots", "socks"],
            &["boots", "insoles"],
            &["scarf", "shirt"],
            &["shirt", "scarf"],
            &["shirt", "belt"],
        ];
        for (n, items) in sessions.iter().enumerate() {
            let session = format!("s{n}");
            let events: Vec<Event> = items
                .iter()
                .enumerate()
                .map(|(i, id)| view(&session, i, id))
                .collect();
            let refs: Vec<&Event> = events.iter().collect();
            let learnt = learn(&mut SessionSoFar::default(), &refs, T0);
            for (shard, part) in route(&learnt, shards) {
                learning[shard as usize].learn(&part);
            }
        }
        learning
            .iter_mut()
            .map(|shard| {
                // A restarted object counts from a later landmark.
                let mut restored = Shard::new(shard.index, shards, T0 + 1_000);
                for state in shard.take_changed() {
                    let stored = serde_json_roundtrip(&state);
                    restored.restore(stored);
                }
                for (number, ids) in shard.take_sessions().kept {
                    restored.restore_session(number, &ids);
                }
                restored
            })
            .collect()
    }

    fn serde_json_roundtrip(state: &ItemState) -> ItemState {
        // What the object stores is JSON; the round trip must lose nothing.
        let text = serde_json::to_string(state).unwrap();
        let back: ItemState = serde_json::from_str(&text).unwrap();
        assert_eq!((&back.id, &back.product), (&state.id, &state.product));
        assert_eq!(back.co_viewed.len(), state.co_viewed.len());
        back
    }

    fn request(strategy: Strategy, anchors: &[&str], count: u8) -> SlotRequest {
        SlotRequest {
            anchors: anchors.iter().map(|a| a.to_string()).collect(),
            ..SlotRequest::new(strategy, count)
        }
    }

    fn filled(shards: &[Shard], request: &SlotRequest) -> Vec<(String, String)> {
        let offers: Vec<Offer> = shards.iter().map(|s| s.offer(request, T0)).collect();
        fill(request, &offers, shards.len() as u32)
            .into_iter()
            .map(|r| (r.product.id, r.reason.text()))
            .collect()
    }

    #[test]
    fn sharded_shops_fill_a_slot_as_one_would_with_the_reason_for_each() {
        let mut similar = request(Strategy::SimilarTo, &["boots"], 4);
        similar.on_screen = Some("boots".into());
        let one = filled(&shop(1), &similar);
        assert_eq!(one[0], ("socks".into(), "viewed with BOOTS".into()));
        assert_eq!(one[2].1, "viewed with BOOTS");
        assert_eq!(one[3].1, "popular this week", "then the fallback");
        for shards in [2, 3, 5] {
            assert_eq!(filled(&shop(shards), &similar), one, "{shards} shards");
        }

        // What the shopper has is left out; the slot is still full.
        similar.exclude = vec!["socks".into()];
        let without = filled(&shop(3), &similar);
        assert!(without.iter().all(|(id, _)| id != "socks" && id != "boots"));
        assert_eq!(without.len(), 4);

        // With no history for the anchor, the fallbacks fill it.
        let cold = filled(&shop(3), &request(Strategy::SimilarTo, &["unknown"], 2));
        assert_eq!(cold.len(), 2);
        assert!(cold.iter().all(|(_, why)| why == "popular this week"));

        // `for_you` adds up the sessions that share the session's products, the latest
        // product's weighing most: scarf's sessions hold shirt twice, boots' socks thrice
        // at half the weight.
        let mut for_you = request(Strategy::ForYou, &["scarf", "boots"], 4);
        for_you.exclude = vec!["scarf".into(), "boots".into()];
        let one = filled(&shop(1), &for_you);
        let why = "viewed in sessions like this one".to_owned();
        assert_eq!(one[0], ("shirt".into(), why.clone()));
        assert_eq!(one[1], ("socks".into(), why.clone()));
        assert_eq!(one.len(), 4);
        for shards in [2, 3, 5] {
            assert_eq!(filled(&shop(shards), &for_you), one, "{shards} shards");
        }
        // With sessions that share nothing, the anchors' neighbours, then what is popular.
        let cold = filled(&shop(3), &request(Strategy::ForYou, &["unknown"], 2));
        assert_eq!(cold.len(), 2);
        assert!(
            cold.iter().all(|(_, why)| why == "popular this week"),
            "{cold:?}"
        );
    }

    #[test]
    fn a_session_is_handed_over_as_it_grows_and_kept_once() {
        let mut shard = Shard::new(SESSIONS_SHARD, 1, T0);
        let mut session = SessionSoFar::default();
        let batches = [
            vec![view("s1", 1, "boots"), view("s1", 2, "socks")],
            vec![view("s1", 3, "boots")],
            vec![view("s1", 4, "laces"), view("s2", 5, "scarf")],
        ];
        let mut grew = Vec::new();
        for batch in &batches {
            let refs: Vec<&Event> = batch.iter().collect();
            let learnt = learn(&mut session, &refs, T0);
            grew.extend(
                learnt
                    .sessions
                    .iter()
                    .map(|g| (g.before.len(), g.after.len())),
            );
            for (_, part) in route(&learnt, 1) {
                shard.learn(&part);
            }
        }
        // A batch that adds nothing new hands nothing over; a new session starts afresh.
        assert_eq!(grew, [(0, 2), (2, 3), (0, 1)]);
        let stored = shard.take_sessions();
        assert!(stored.gone.contains(&0), "the two-product copy gave way");
        let mut kept: Vec<Vec<String>> = stored.kept.into_iter().map(|(_, ids)| ids).collect();
        kept.sort();
        assert_eq!(kept, [vec!["boots", "socks", "laces"], vec!["scarf"]]);
        shard.take_changed();
        assert!(!shard.has_changed(), "taken, nothing is left to store");
    }

    #[test]
    fn an_offer_is_keyed_by_what_it_depends_on_not_by_the_shoppers_exclusions() {
        let shards = 4;
        let similar = request(Strategy::SimilarTo, &["boots", "socks", "scarf"], 4);
        let mut excluding = similar.clone();
        excluding.exclude = vec!["laces".into()];
        excluding.on_screen = Some("boots".into());
        for shard in 0..shards {
            assert_eq!(
                offer_key(&similar, shard, shards),
                offer_key(&excluding, shard, shards)
            );
        }
        // A shard's key changes with the session's products it owns, and only with those.
        let owner = shard_of("socks", shards);
        let other = request(Strategy::SimilarTo, &["boots", "shirt", "scarf"], 4);
        let changed: Vec<u32> = (0..shards)
            .filter(|&s| offer_key(&similar, s, shards) != offer_key(&other, s, shards))
            .collect();
        assert!(changed.contains(&owner), "{changed:?}");
        assert!(changed
            .iter()
            .all(|&s| s == owner || s == shard_of("shirt", shards)));
        let mut more = similar.clone();
        more.count = 8;
        assert_ne!(offer_key(&similar, 0, shards), offer_key(&more, 0, shards));
    }

    #[test]
    fn the_server_feed_wins_and_sold_out_products_are_never_recommended() {
        let mut shards = shop(3);
        let socks = card(&page_product("socks", "Socks")).unwrap();
        for shard in &mut shards {
            shard
                .feed(
                    Product {
                        name: "Wool socks".into(),
                        ..socks.clone()
                    },
                    T0,
                )
                .unwrap();
        }
        let similar = request(Strategy::SimilarTo, &["boots"], 1);
        assert_eq!(filled(&shards, &similar)[0].0, "socks");
        let offers: Vec<Offer> = shards.iter().map(|s| s.offer(&similar, T0)).collect();
        assert_eq!(fill(&similar, &offers, 3)[0].product.name, "Wool socks");

        for shard in &mut shards {
            shard.set_available("socks", false);
        }
        assert_ne!(filled(&shards, &similar)[0].0, "socks");

        let bad = Product {
            url: "javascript:alert(1)".into(),
            ..socks
        };
        assert_eq!(shards[0].feed(bad, T0).unwrap_err().field, "url");
    }
}
