//! Learnt recommendations as rules ask for them, in a recommendation's `products: |v| ...`:
//! the strategies `similar_to`, `bought_with`, `popular`, `trending`, `for_you` and `new_in`,
//! and the merchandiser's `only`, `price`, `pin`, `bury` and `boost` on what they give. Each
//! gives a [`SlotRequest`], which the decision hands to the edge to fill from the site's
//! catalogue: the rules only say what to ask for. A wrong argument is an error naming the
//! function and what it takes, which the compiler reports at its `file:line:col`.

use rapport_protocol::{SlotRequest, Strategy};
use rhai::{Array, Dynamic, Engine, EvalAltResult};

use crate::visitor::view::{Cart, ProductView, Visitor};

/// The strategies and the merchandiser's functions, as rules write them.
pub const NAMES: [&str; 11] = [
    "similar_to",
    "bought_with",
    "popular",
    "trending",
    "for_you",
    "new_in",
    "only",
    "price",
    "pin",
    "bury",
    "boost",
];

/// The most products one slot shows.
pub const MAX_COUNT: u8 = 8;

type Result<T> = std::result::Result<T, Box<EvalAltResult>>;

/// The registered name of what a strategy gives, as errors and `type_of` say it.
const TYPE_NAME: &str = "Recommendation";

pub(crate) fn register(engine: &mut Engine) {
    engine.register_type_with_name::<SlotRequest>(TYPE_NAME);
    engine
        .register_fn("similar_to", |from: Dynamic, n: Dynamic| {
            anchored(Strategy::SimilarTo, from, n)
        })
        .register_fn("bought_with", |from: Dynamic, n: Dynamic| {
            anchored(Strategy::BoughtWith, from, n)
        })
        .register_fn("for_you", |v: Dynamic, n: Dynamic| -> Result<SlotRequest> {
            if !v.is::<Visitor>() {
                return Err(wrong("for_you", "the visitor, `v`", &v));
            }
            anchored(Strategy::ForYou, v, n)
        })
        .register_fn("popular", |n: Dynamic| {
            request(Strategy::Popular, "popular", n)
        })
        .register_fn("popular", |category: Dynamic, n: Dynamic| {
            in_category(Strategy::Popular, "popular", category, n)
        })
        .register_fn("new_in", |n: Dynamic| request(Strategy::NewIn, "new_in", n))
        .register_fn("new_in", |category: Dynamic, n: Dynamic| {
            in_category(Strategy::NewIn, "new_in", category, n)
        })
        .register_fn("trending", |n: Dynamic| {
            request(Strategy::Trending, "trending", n)
        });
    engine
        .register_fn(
            "only",
            |mut slot: SlotRequest, categories: Dynamic| -> Result<SlotRequest> {
                slot.only = texts("only", "a category or a list of categories", categories)?;
                Ok(slot)
            },
        )
        .register_fn(
            "price",
            |mut slot: SlotRequest, min: Dynamic, max: Dynamic| -> Result<SlotRequest> {
                let min = number("price", "a lowest price", &min)?;
                let max = number("price", "a highest price", &max)?;
                if min < 0.0 || min > max {
                    return Err(format!(
                    "`price` takes the lowest price, then the highest: {min} to {max} is no range"
                )
                    .into());
                }
                slot.price_min = Some(min);
                slot.price_max = Some(max);
                Ok(slot)
            },
        )
        .register_fn(
            "pin",
            |mut slot: SlotRequest, ids: Dynamic| -> Result<SlotRequest> {
                slot.pinned = texts("pin", "a product id or a list of them", ids)?;
                Ok(slot)
            },
        )
        .register_fn(
            "bury",
            |mut slot: SlotRequest, ids: Dynamic| -> Result<SlotRequest> {
                slot.buried = texts("bury", "a product id or a list of them", ids)?;
                Ok(slot)
            },
        )
        .register_fn(
            "boost",
            |mut slot: SlotRequest, category: Dynamic, factor: Dynamic| -> Result<SlotRequest> {
                let category = text("boost", "a category", &category)?;
                let factor = number("boost", "a factor above 0", &factor)?;
                if factor <= 0.0 {
                    return Err(wrong("boost", "a factor above 0", &Dynamic::from(factor)));
                }
                slot.boosts.push((category, factor));
                Ok(slot)
            },
        );
}

fn request(strategy: Strategy, name: &str, n: Dynamic) -> Result<SlotRequest> {
    Ok(SlotRequest::new(strategy, count(name, &n)?))
}

fn in_category(
    strategy: Strategy,
    name: &str,
    category: Dynamic,
    n: Dynamic,
) -> Result<SlotRequest> {
    let category = text(name, "a category", &category)?;
    Ok(SlotRequest {
        category: Some(category),
        ..request(strategy, name, n)?
    })
}

/// A strategy that starts from products: a product, its id, a list of them, the cart, or
/// the visitor (their latest products).
fn anchored(strategy: Strategy, from: Dynamic, n: Dynamic) -> Result<SlotRequest> {
    let name = strategy.as_str();
    let mut slot = request(strategy, name, n)?;
    let takes = "a product, its id, a list of them, `v.cart` or `v`";
    slot.anchors = if let Some(visitor) = from.clone().try_cast::<Visitor>() {
        visitor.recent_product_ids()
    } else if let Some(cart) = from.clone().try_cast::<Cart>() {
        cart.product_ids()
    } else if from.is_array() {
        let list = from.cast::<Array>();
        list.iter()
            .map(|item| product_id(name, takes, item))
            .collect::<Result<_>>()?
    } else if from.is_unit() {
        // No product (an empty list's first): the strategy falls back.
        Vec::new()
    } else {
        vec![product_id(name, takes, &from)?]
    };
    Ok(slot)
}

fn product_id(name: &str, takes: &str, item: &Dynamic) -> Result<String> {
    if let Some(product) = item.clone().try_cast::<ProductView>() {
        return Ok(product.product().id.clone());
    }
    text(name, takes, item)
}

/// A count of products, from 1 to [`MAX_COUNT`].
fn count(name: &str, n: &Dynamic) -> Result<u8> {
    match n.as_int() {
        Ok(count) if (1..=i64::from(MAX_COUNT)).contains(&count) => Ok(count as u8),
        _ => Err(wrong(
            name,
            &format!("a count of products from 1 to {MAX_COUNT}"),
            n,
        )),
    }
}

fn text(name: &str, takes: &str, value: &Dynamic) -> Result<String> {
    match value.clone().into_immutable_string() {
        Ok(s) if !s.trim().is_empty() => Ok(s.trim().to_owned()),
        _ => Err(wrong(name, takes, value)),
    }
}

fn texts(name: &str, takes: &str, value: Dynamic) -> Result<Vec<String>> {
    if value.is_array() {
        value
            .cast::<Array>()
            .iter()
            .map(|item| text(name, takes, item))
            .collect()
    } else {
        Ok(vec![text(name, takes, &value)?])
    }
}

fn number(name: &str, takes: &str, value: &Dynamic) -> Result<f64> {
    value
        .as_float()
        .or_else(|_| value.as_int().map(|n| n as f64))
        .map_err(|_| wrong(name, takes, value))
}

/// "`popular` takes a count of products from 1 to 8, not "4" (a string)".
fn wrong(name: &str, takes: &str, value: &Dynamic) -> Box<EvalAltResult> {
    let shown = if value.is_string() {
        format!("{value:?}")
    } else if value.is_unit() {
        "nothing".to_owned()
    } else if value.is_int() || value.is_float() || value.is_bool() {
        value.to_string()
    } else {
        format!(
            "a {}",
            value.type_name().rsplit("::").next().unwrap_or("value")
        )
    };
    format!("`{name}` takes {takes}, not {shown}").into()
}
