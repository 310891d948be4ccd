//! The `Catalogue` Durable Objects' calls and the functions the rest of the edge calls them
//! by: a site's products and what shoppers do with them, in shards by product id
//! (`site:shard`), so that a large catalogue spreads over several objects. The object
//! itself is in [`object`].
//!
//! Visitor objects hand their shards what their sessions taught ([`learn`], from the
//! outbox, a couple of seconds after the events); the shop's server feeds products and
//! stock ([`feed`]); a decision whose experience asks for a slot has every shard offer
//! candidates at once and fills it from them ([`fill`]). No call carries a visitor id.

mod object;

pub use object::Catalogue;

use rapport_protocol::{Experience, ProductCard, SlotRequest};
use rapport_recs::catalogue::{self, Learnt, Offer, ShardLearn};
use rapport_recs::products::Product;
use serde::{Deserialize, Serialize};
use worker::Env;

use super::{send, ObjectCall};
use crate::error::{ApiError, Context};
use serde_json::Value;
use std::cell::RefCell;
use std::collections::HashMap;

/// A call to shard `shard` of `site`'s catalogue.
#[derive(Debug, Serialize, Deserialize)]
pub struct CatalogueCall {
    pub site: String,
    pub shard: u32,
    pub shards: u32,
    pub call: Call,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Call {
    /// What visitors' sessions taught this shard: answers nothing.
    Learn(ShardLearn),
    /// The shop's server's products (which win over pages) and stock: answers what each
    /// became.
    Feed(Feed),
    /// Candidates for a slot: answers an [`Offer`].
    Offer { request: SlotRequest, at_ms: i64 },
    /// How many of its own products the shard has details for: answers a number.
    Count,
}

/// Products and stock changes from the shop's server.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Feed {
    #[serde(default)]
    pub products: Vec<Product>,
    /// `(id, available)`: sold out or back in stock.
    #[serde(default)]
    pub stock: Vec<(String, bool)>,
    pub at_ms: i64,
}

/// What a shard did with a feed (checked by the API before it was sent): the ids it took.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Fed {
    pub taken: Vec<String>,
}

impl ObjectCall for CatalogueCall {
    const BINDING: &'static str = "CATALOGUE";

    fn object(&self) -> String {
        format!("{}:{}", self.site, self.shard)
    }

    fn name(&self) -> &'static str {
        match self.call {
            Call::Learn(_) => "learn",
            Call::Feed(_) => "feed",
            Call::Offer { .. } => "offer",
            Call::Count => "count",
        }
    }
}

/// How many shards a site's catalogue has (`CATALOGUE_SHARDS`, 1 by default). Changing it
/// moves products to other shards, which learn them afresh.
pub fn shards(env: &Env) -> u32 {
    crate::config::catalogue_shards(env)
}

/// Sends every call at once, each to its shard of `site`'s catalogue, and gives their
/// answers in the same order. (One function for every fan-out, so the code that waits on
/// several calls is compiled once.)
async fn each(env: &Env, site: &str, calls: Vec<(u32, Call)>) -> Vec<Result<Answer, ApiError>> {
    let shards = shards(env);
    let sent = calls.into_iter().map(|(shard, call)| {
        let call = CatalogueCall {
            site: site.to_owned(),
            shard,
            shards,
            call,
        };
        async move { send::<_, Answer>(env, &call).await }
    });
    futures_util::future::join_all(sent).await
}

/// A shard's answer as it came, read as what its call gives by [`read`] (parsed once).
type Answer = Box<serde_json::value::RawValue>;

/// An answer read as what the call gives.
fn read<A: serde::de::DeserializeOwned>(answer: Result<Answer, ApiError>) -> Result<A, ApiError> {
    serde_json::from_str(answer?.get()).context("reading a catalogue's answer")
}

/// Hands each shard what a visitor's events taught it, all at once.
pub async fn learn(env: &Env, site: &str, learnt: &Learnt) -> Result<(), ApiError> {
    let calls = catalogue::route(learnt, shards(env))
        .into_iter()
        .map(|(shard, part)| (shard, Call::Learn(part)))
        .collect();
    for answer in each(env, site, calls).await {
        answer?;
    }
    Ok(())
}

/// Feeds every shard the server's products and stock (each keeps those it owns, and its
/// copies of its products' neighbours): what each product became.
pub async fn feed(env: &Env, site: &str, feed: Feed) -> Result<Fed, ApiError> {
    let calls = (0..shards(env))
        .map(|shard| {
            let copy = Feed {
                products: feed.products.clone(),
                stock: feed.stock.clone(),
                at_ms: feed.at_ms,
            };
            (shard, Call::Feed(copy))
        })
        .collect();
    let answers = each(env, site, calls).await;
    // This isolate shows the change at once; others within `OFFER_KEPT_MS`.
    forget_offers();
    let mut fed = Fed::default();
    for answer in answers {
        let answer: Fed = read(answer)?;
        for id in answer.taken {
            if !fed.taken.contains(&id) {
                fed.taken.push(id);
            }
        }
    }
    Ok(fed)
}

/// How many products the site's catalogue has details for, shard by shard.
pub async fn counts(env: &Env, site: &str) -> Result<Vec<u64>, ApiError> {
    let calls = (0..shards(env)).map(|shard| (shard, Call::Count)).collect();
    each(env, site, calls).await.into_iter().map(read).collect()
}

/// How long an isolate keeps a shard's offer for the next shopper with the same request:
/// what is popular, and a product's neighbours, change over minutes, not milliseconds.
const OFFER_KEPT_MS: i64 = 5_000;
/// The most offers an isolate keeps; past it they are all dropped.
const OFFERS_KEPT: usize = 2_000;

thread_local! {
    /// Offers by site and `catalogue::offer_key`, with when each was made.
    static OFFERS: RefCell<HashMap<String, (i64, Offer)>> = RefCell::new(HashMap::new());
}

/// Forgets the offers kept, after the catalogue changed in a way shoppers must see at once
/// (a product fed or sold out).
fn forget_offers() {
    OFFERS.with(|offers| offers.borrow_mut().clear());
}

/// The products for each slot, each with why it is there: every shard offers for every
/// slot at once, except where this isolate has the same offer from the last few seconds.
/// A slot whose shards cannot all answer gets none.
async fn products(
    env: &Env,
    site: &str,
    requests: &[&SlotRequest],
    at_ms: i64,
) -> Vec<Vec<ProductCard>> {
    let count = shards(env);
    let now = crate::clock::now_ms();
    let key = |request: &SlotRequest, shard: u32| {
        format!("{site}|{}", catalogue::offer_key(request, shard, count))
    };
    let fresh = |made: &i64| now - made < OFFER_KEPT_MS;
    let kept = |key: &str| {
        OFFERS.with(|offers| {
            offers
                .borrow()
                .get(key)
                .filter(|(made, _)| fresh(made))
                .map(|(_, offer)| offer.clone())
        })
    };
    let is_kept = |key: &str| {
        OFFERS.with(|offers| {
            offers
                .borrow()
                .get(key)
                .is_some_and(|(made, _)| fresh(made))
        })
    };
    let mut missing = Vec::new();
    let mut calls = Vec::new();
    for request in requests {
        for shard in 0..count {
            let key = key(request, shard);
            if !is_kept(&key) && !missing.contains(&key) {
                let offer = Call::Offer {
                    request: (*request).clone(),
                    at_ms,
                };
                calls.push((shard, offer));
                missing.push(key);
            }
        }
    }
    let mut failed = false;
    for (key, answer) in missing.into_iter().zip(each(env, site, calls).await) {
        match read::<Offer>(answer) {
            Ok(offer) => OFFERS.with(|offers| {
                let mut offers = offers.borrow_mut();
                if offers.len() >= OFFERS_KEPT {
                    offers.clear();
                }
                offers.insert(key, (now, offer));
            }),
            Err(err) => {
                worker::console_error!("a catalogue shard did not offer: {err}");
                failed = true;
            }
        }
    }
    let mut filled = Vec::with_capacity(requests.len());
    for request in requests {
        let offers: Option<Vec<Offer>> =
            (0..count).map(|shard| kept(&key(request, shard))).collect();
        let offers = match offers {
            Some(offers) if !failed => offers,
            _ => Vec::new(),
        };
        let cards = catalogue::fill(request, &offers, count)
            .into_iter()
            .map(|chosen| ProductCard {
                id: chosen.product.id,
                name: chosen.product.name,
                price: Some(chosen.product.price),
                currency: Some(chosen.product.currency),
                url: Some(chosen.product.url),
                image: chosen.product.image,
                reason: Some(chosen.reason.text()),
            })
            .collect();
        filled.push(cards);
    }
    filled
}

/// A slot a decision asks to fill: its experience's place in the decision, and what for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Fill {
    pub experience: usize,
    pub request: SlotRequest,
}

/// Takes the slots to fill out of a decision's experiences, before it is encoded.
pub fn slots(experiences: &mut [Experience]) -> Vec<Fill> {
    experiences
        .iter_mut()
        .enumerate()
        .filter_map(|(experience, shown)| {
            let request = shown.fill.take()?;
            Some(Fill {
                experience,
                request,
            })
        })
        .collect()
}

/// Fills a decision's slots (`json`: a decision, or a preview's report holding one) from
/// the catalogue. An experience whose slot stays empty (a shop with no data yet) is
/// dropped, so that the page shows nothing rather than an empty row; so is one whose
/// catalogue cannot answer, and the rest of the decision stands.
pub async fn fill(env: &Env, site: &str, json: String, fills: &[Fill], at_ms: i64) -> String {
    if fills.is_empty() {
        return json;
    }
    let Ok(mut decision) = serde_json::from_str::<serde_json::Value>(&json) else {
        return json;
    };
    let requests: Vec<&SlotRequest> = fills.iter().map(|fill| &fill.request).collect();
    let filled = products(env, site, &requests, at_ms).await;
    let experiences = match decision.pointer_mut("/decision/experiences") {
        Some(inside) => inside,
        None => match decision.pointer_mut("/experiences") {
            Some(experiences) => experiences,
            None => return json,
        },
    };
    let Some(experiences) = experiences.as_array_mut() else {
        return json;
    };
    let mut empty = Vec::new();
    // What a full report's trace says of each filled rule: its products and why.
    let mut traced: Vec<(Value, String)> = Vec::new();
    for (fill, cards) in fills.iter().zip(filled) {
        let Some(shown) = experiences.get_mut(fill.experience) else {
            continue;
        };
        let rule = shown["rule"].clone();
        let strategy = fill.request.strategy.as_str();
        if cards.is_empty() {
            empty.push(fill.experience);
            traced.push((
                rule,
                format!("; {strategy}: the catalogue had nothing to offer, so nothing is shown"),
            ));
            continue;
        }
        let listed: Vec<String> = cards
            .iter()
            .map(|c| format!("{} ({})", c.name, c.reason.as_deref().unwrap_or_default()))
            .collect();
        traced.push((rule, format!("; {strategy}: {}", listed.join(", "))));
        shown["content"]["products"] = serde_json::to_value(cards).unwrap_or_default();
    }
    for at in empty.into_iter().rev() {
        if at < experiences.len() {
            experiences.remove(at);
        }
    }
    if let Some(trace) = decision.get_mut("trace").and_then(Value::as_array_mut) {
        for (rule, said) in traced {
            if let Some(line) = trace.iter_mut().find(|line| line["rule"] == rule) {
                let reason = line["reason"].as_str().unwrap_or_default().to_owned();
                line["reason"] = Value::String(reason + said.as_str());
            }
        }
    }
    serde_json::to_string(&decision).unwrap_or(json)
}
