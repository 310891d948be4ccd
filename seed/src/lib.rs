//! Replays realistic shopper journeys through a running edge's real HTTP API: each visitor
//! asks for a decision on the home page as the widget would, reports what it was shown (or,
//! in a control group, its exposure), browses products, searches, fills a cart, sometimes
//! answers a survey, comes back for a second session, and sometimes buys, the purchase
//! reported by the shop's server. One welcome variant converts better by design
//! ([`Plan::effect`]), so that the experiment results have a true effect to find.
//!
//! Used by `cargo xtask seed` for the demo, and by the end-to-end test that checks the
//! reported interval contains the planted effect.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

/// Where to send the journeys.
#[derive(Debug, Clone)]
pub struct Target {
    pub base: String,
    pub site: String,
    /// The shop's server key for the site, for purchases.
    pub server_key: String,
    /// Page URLs are made on this origin (one the site allows).
    pub origin: String,
}

/// What to replay.
#[derive(Debug, Clone)]
pub struct Plan {
    pub visitors: usize,
    /// Visitor ids are `{prefix}-{n}`: a new prefix adds new visitors.
    pub prefix: String,
    pub seed: u64,
    /// The chance that a visitor buys, whatever they were shown.
    pub base_conversion: f64,
    /// The welcome variant that converts better, and by how much (relative: 0.5 is +50%).
    pub effect: (String, f64),
    pub threads: usize,
}

impl Plan {
    /// The conversion chance of a visitor in `arm` of the welcome experiment.
    pub fn conversion(&self, arm: Option<&str>) -> f64 {
        match arm {
            Some(arm) if arm == self.effect.0 => self.base_conversion * (1.0 + self.effect.1),
            _ => self.base_conversion,
        }
    }
}

/// What was sent, for the progress line and the summary.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Sent {
    pub visitors: usize,
    pub events: usize,
    pub purchases: usize,
    pub answers: usize,
}

impl Sent {
    fn add(&mut self, other: &Sent) {
        self.visitors += other.visitors;
        self.events += other.events;
        self.purchases += other.purchases;
        self.answers += other.answers;
    }
}

struct Product {
    id: &'static str,
    name: &'static str,
    price: f64,
    in_stock: bool,
}

const PRODUCTS: [Product; 4] = [
    Product {
        id: "linen-shirt",
        name: "Linen Shirt",
        price: 59.0,
        in_stock: true,
    },
    Product {
        id: "canvas-tote",
        name: "Waxed Canvas Tote",
        price: 45.0,
        in_stock: true,
    },
    Product {
        id: "merino-throw",
        name: "Merino Wool Throw",
        price: 89.0,
        in_stock: true,
    },
    Product {
        id: "stoneware-mug",
        name: "Stoneware Mug",
        price: 18.0,
        in_stock: false,
    },
];

const SEARCHES: [(&str, u32); 6] = [
    ("linen", 1),
    ("tote bag", 1),
    ("wool blanket", 1),
    ("wetsuit", 0),
    ("gift card", 0),
    ("mug", 1),
];

const COMMENTS: [&str; 4] = [
    "Delivery took far too long",
    "Could not find my size",
    "The checkout kept failing",
    "Prices went up since last time",
];

fn http() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(std::time::Duration::from_secs(30)))
        .build()
        .into()
}

/// Posts `body` as JSON. Browser calls carry the shopper's own address (`address`), as the
/// edge sees it behind Cloudflare, so that thousands of simulated shoppers are not one
/// client to the edge's per-address rate limit.
fn post(
    agent: &ureq::Agent,
    url: &str,
    key: Option<&str>,
    address: &str,
    body: &Value,
) -> Result<Value> {
    let mut request = agent
        .post(url)
        .content_type("application/json")
        .header("cf-connecting-ip", address);
    if let Some(key) = key {
        request = request.header("authorization", &format!("Bearer {key}"));
    }
    let mut response = request
        .send(&body.to_string())
        .with_context(|| format!("could not reach {url}; is the edge running?"))?;
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string()?;
    let answer: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    if status != 200 {
        bail!("{url} answered {status}: {text}");
    }
    Ok(answer)
}

/// One visitor's journey.
fn journey(
    agent: &ureq::Agent,
    target: &Target,
    plan: &Plan,
    n: usize,
    rng: &mut fastrand::Rng,
) -> Result<Sent> {
    let visitor = format!("{}-{n:05}", plan.prefix);
    // A documentation address (RFC 5737's 198.51.100.0/24 and 203.0.113.0/24) per shopper.
    let address = format!(
        "{}.{}",
        if n.is_multiple_of(2) {
            "198.51.100"
        } else {
            "203.0.113"
        },
        (n / 2) % 254 + 1
    );
    let mut sent = Sent {
        visitors: 1,
        ..Sent::default()
    };
    let page = |path: &str, kind: &str| {
        json!({ "url": format!("{}{path}", target.origin), "path": path, "kind": kind,
                "locale": "en" })
    };
    let session = format!("{visitor}-s1");
    let decision = post(
        agent,
        &format!("{}/v1/decide", target.base),
        None,
        &address,
        &json!({ "site": target.site, "visitor_id": visitor, "session_id": session,
                 "page": page("/", "home") }),
    )?;
    let mut events: Vec<Value> = Vec::new();
    let mut seq = 0;
    let mut push = |session: &str, kind: &str, fields: Value| {
        seq += 1;
        let mut e =
            json!({ "id": format!("{visitor}-{seq}"), "session_id": session, "type": kind });
        e.as_object_mut()
            .expect("an object")
            .extend(fields.as_object().cloned().unwrap_or_default());
        events.push(e);
    };
    // The widget makes a visitor id only once the shop's banner passes consent, and tells
    // the edge first.
    push(
        &session,
        "consent",
        json!({ "analytics": true, "personalization": true }),
    );
    push(&session, "page_view", json!({ "page": page("/", "home") }));
    // What the decision showed, as the widget reports it; a control's exposure when the
    // treatment's trigger would have fired.
    let mut welcome_arm = None;
    let reference = |e: &Value| {
        json!({ "rule": e["rule"], "experience": e["experience"], "variant": e["variant"],
                "segment": e["segment"] })
    };
    for e in decision["experiences"].as_array().into_iter().flatten() {
        if e["rule"] == "welcome" {
            welcome_arm = e["variant"].as_str().map(str::to_owned);
        }
        push(&session, "impression", reference(e));
        if rng.f64() < 0.08 {
            push(&session, "click", reference(e));
        }
    }
    for c in decision["controls"].as_array().into_iter().flatten() {
        if c["rule"] == "welcome" {
            welcome_arm = c["variant"].as_str().map(str::to_owned);
        }
        push(&session, "exposure", reference(c));
    }
    // Browsing: a few products, an engaged read, a search now and then.
    let bounced = rng.f64() < 0.25;
    let mut cart: Option<&Product> = None;
    if !bounced {
        for _ in 0..rng.usize(1..=3) {
            let product = &PRODUCTS[rng.usize(..PRODUCTS.len())];
            let path = format!("/products/{}.html", product.id);
            push(
                &session,
                "page_view",
                json!({ "page": page(&path, "product") }),
            );
            push(
                &session,
                "product_view",
                json!({ "product": {
                "id": product.id, "name": product.name, "price": product.price, "currency": "EUR",
                "availability": if product.in_stock { "InStock" } else { "OutOfStock" } } }),
            );
            push(&session, "engagement", json!({ "seconds": rng.u32(5..90) }));
            if rng.f64() < 0.05 {
                push(&session, "rage_click", json!({ "target": "button.size" }));
            }
            if product.in_stock && cart.is_none() && rng.f64() < 0.3 {
                cart = Some(product);
                push(
                    &session,
                    "add_to_cart",
                    json!({ "product": {
                    "id": product.id, "name": product.name, "price": product.price, "currency": "EUR" },
                    "quantity": 1 }),
                );
            }
        }
        if rng.f64() < 0.3 {
            let (query, results) = SEARCHES[rng.usize(..SEARCHES.len())];
            push(
                &session,
                "page_view",
                json!({ "page": page("/search", "search") }),
            );
            push(
                &session,
                "search",
                json!({ "query": query, "results": results }),
            );
        }
    }
    // Surveys: an NPS from some, a CSAT after checkout from fewer.
    if !bounced && rng.f64() < 0.2 {
        let score = match rng.f64() {
            x if x < 0.45 => rng.u8(9..=10),
            x if x < 0.75 => rng.u8(7..=8),
            _ => rng.u8(0..=6),
        };
        let mut answer = json!({ "rule": "nps-survey", "experience": "nps-survey",
                                 "segment": "everyone", "survey": "nps", "score": score });
        if score <= 6 && rng.f64() < 0.5 {
            answer["comment"] = json!(COMMENTS[rng.usize(..COMMENTS.len())]);
        }
        push(&session, "answer", answer);
        sent.answers += 1;
    }
    let deliver = |events: &[Value]| {
        post(
            agent,
            &format!("{}/v1/events", target.base),
            None,
            &address,
            &json!({ "site": target.site, "visitor_id": visitor, "events": events }),
        )
    };
    sent.events += events.len();
    deliver(&events)?;
    // A second session for some, straight after (the first one's landing page, if it was
    // all they saw, then counts as a quick exit).
    if rng.f64() < 0.3 {
        let later = format!("{visitor}-s2");
        sent.events += 1;
        deliver(&[
            json!({ "id": format!("{visitor}-back"), "session_id": later,
                          "type": "page_view", "page": page("/", "home") }),
        ])?;
    }
    // The purchase, reported by the shop's server.
    if rng.f64() < plan.conversion(welcome_arm.as_deref()) {
        let product = cart.unwrap_or(&PRODUCTS[rng.usize(..3)]);
        let value = product.price * f64::from(rng.u32(1..=2));
        post(
            agent,
            &format!("{}/v1/server/events", target.base),
            Some(&target.server_key),
            &address,
            // The shop knows the account at checkout: it links the browser first, so the
            // visitor's profile (and lifecycle stage) learns of the purchase.
            &json!({ "events": [
                { "id": format!("{visitor}-identify"), "type": "identify",
                  "customer_id": format!("C-{visitor}"), "visitor_id": visitor },
                { "id": format!("{visitor}-order"), "type": "purchase",
                  "customer_id": format!("C-{visitor}"), "order_id": format!("{visitor}-1"),
                  "value": value, "currency": "EUR", "visitor_id": visitor }] }),
        )?;
        sent.purchases += 1;
    }
    Ok(sent)
}

/// Replays the plan's journeys on `plan.threads` threads; `progress(done, of)` hears each
/// finished visitor.
pub fn run(target: &Target, plan: &Plan, progress: impl Fn(usize, usize) + Sync) -> Result<Sent> {
    let next = Arc::new(AtomicUsize::new(0));
    let done = AtomicUsize::new(0);
    let threads = plan.threads.clamp(1, 16);
    let results: Vec<Result<Sent>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                let next = Arc::clone(&next);
                let (done, progress) = (&done, &progress);
                scope.spawn(move || -> Result<Sent> {
                    let agent = http();
                    let mut total = Sent::default();
                    loop {
                        let n = next.fetch_add(1, Ordering::Relaxed);
                        if n >= plan.visitors {
                            return Ok(total);
                        }
                        // Each visitor's journey depends only on the seed and its number.
                        let mut rng = fastrand::Rng::with_seed(
                            plan.seed ^ (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
                        );
                        total.add(&journey(&agent, target, plan, n, &mut rng)?);
                        progress(done.fetch_add(1, Ordering::Relaxed) + 1, plan.visitors);
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|_| bail!("a seeding thread panicked"))
            })
            .collect()
    });
    let mut total = Sent::default();
    for result in results {
        total.add(&result?);
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_planted_effect_lifts_one_variant_only() {
        let plan = Plan {
            visitors: 10,
            prefix: "v".into(),
            seed: 1,
            base_conversion: 0.1,
            effect: ("story".into(), 0.5),
            threads: 1,
        };
        assert!((plan.conversion(Some("story")) - 0.15).abs() < 1e-12);
        assert_eq!(plan.conversion(Some("offer")), 0.1);
        assert_eq!(plan.conversion(None), 0.1);
    }
}
