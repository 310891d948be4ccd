//! Replays weeks of the Tidewater demo shop's life through a running edge's real HTTP API,
//! so that a new user's analytics have history to show. Each visitor's [`model::Life`] is
//! replayed in its own order: for every visit, the decision for the landing page as the
//! widget asks it, the page views, products, searches, cart and checkout steps, rage
//! clicks, what the decisions showed (or, for a control, its exposure where the treatment
//! would have shown), clicks and survey answers; and, from the shop's server, the identify
//! at checkout, purchases days after the visit, returns and support tickets.
//!
//! Each request carries the time it happened in the demo-only `x-rapport-demo-time`
//! header, which only an edge with `DEMO_CLOCK` takes (see the edge's `clock`); server
//! events carry theirs in `time`, as the server API always allows.
//!
//! Used by `cargo xtask seed` for the demo, and by the end-to-end test that checks what the
//! analytics read from it.

pub mod model;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use rapport_protocol::{Decision, ExperienceKind, ExperienceRef, Trigger, DEMO_TIME_HEADER};
use serde_json::{json, Value};

pub use model::Plan;
use model::{Life, Page, Visit, PRODUCTS, SEARCHES};

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

/// What was sent, for the progress line and the summary.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Sent {
    pub visitors: usize,
    pub visits: usize,
    pub events: usize,
    pub purchases: usize,
    pub returns: usize,
    pub tickets: usize,
    pub answers: usize,
    pub requests: usize,
    /// The welcome experiment's arms as the seed enrolled them: visitors, and those who
    /// bought within the attribution window of their enrolment (what the analytics count).
    pub welcome: BTreeMap<String, Arm>,
}

/// One arm's visitors and converters.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Arm {
    pub visitors: usize,
    pub converters: usize,
}

impl Sent {
    fn add(&mut self, other: &Sent) {
        self.visitors += other.visitors;
        self.visits += other.visits;
        self.events += other.events;
        self.purchases += other.purchases;
        self.returns += other.returns;
        self.tickets += other.tickets;
        self.answers += other.answers;
        self.requests += other.requests;
        for (arm, sums) in &other.welcome {
            let mine = self.welcome.entry(arm.clone()).or_default();
            mine.visitors += sums.visitors;
            mine.converters += sums.converters;
        }
    }
}

fn http() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(std::time::Duration::from_secs(30)))
        .build()
        .into()
}

/// One visitor's connection to the edge: their address and the requests they make.
struct Shopper<'a> {
    agent: &'a ureq::Agent,
    target: &'a Target,
    visitor: String,
    /// A documentation address (RFC 5737) per shopper, as the edge sees it behind
    /// Cloudflare, so that thousands of simulated shoppers are not one client to the
    /// edge's per-address rate limit.
    address: String,
    sent: Sent,
}

impl Shopper<'_> {
    /// Posts `body` as JSON, from the browser (dated `at_ms`) or from the shop's server.
    /// `wrangler dev` now and then restarts the worker under a request and answers 503,
    /// asking for it to be sent again: every call the seed makes is idempotent (events and
    /// purchases by id, decisions record nothing twice), so it is, up to three times.
    fn post(&mut self, path: &str, server: bool, at_ms: i64, body: &Value) -> Result<Value> {
        let url = format!("{}{path}", self.target.base);
        let body = body.to_string();
        let mut attempts = 0;
        loop {
            let mut request = self
                .agent
                .post(&url)
                .content_type("application/json")
                .header("cf-connecting-ip", &self.address);
            request = if server {
                request.header(
                    "authorization",
                    &format!("Bearer {}", self.target.server_key),
                )
            } else {
                request.header(DEMO_TIME_HEADER, &at_ms.to_string())
            };
            let mut response = request
                .send(&body)
                .with_context(|| format!("could not reach {url}; is the edge running?"))?;
            self.sent.requests += 1;
            let status = response.status().as_u16();
            let text = response.body_mut().read_to_string()?;
            attempts += 1;
            match status {
                200 => return Ok(serde_json::from_str(&text).unwrap_or(Value::Null)),
                503 if text.contains("restarted mid-request") && attempts < 3 => continue,
                _ => bail!("{url} answered {status}: {text}"),
            }
        }
    }

    fn page(&self, page: &Page, language: &str) -> Value {
        let path = page.path();
        json!({ "url": format!("{}{path}", self.target.origin), "path": path,
                "kind": page.kind(), "locale": language })
    }

    fn decide(&mut self, session: &str, page: Value, at_ms: i64) -> Result<Decision> {
        let body = json!({ "site": self.target.site, "visitor_id": self.visitor,
                           "session_id": session, "page": page });
        let answer = self.post("/v1/decide", false, at_ms, &body)?;
        serde_json::from_value(answer).context("reading a decision")
    }

    fn deliver(&mut self, events: &mut Vec<Value>, at_ms: i64) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        self.sent.events += events.len();
        let body = json!({ "site": self.target.site, "visitor_id": self.visitor,
                           "events": events });
        self.post("/v1/events", false, at_ms, &body)?;
        events.clear();
        Ok(())
    }

    fn server(&mut self, events: Value) -> Result<()> {
        self.post("/v1/server/events", true, 0, &json!({ "events": events }))?;
        Ok(())
    }
}

/// RFC 3339, as the server API takes a `time`.
fn rfc3339(at_ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(at_ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// What the shop's server reports later, in time order.
enum Later {
    Purchase { visit: usize, value: f64 },
    Return { visit: usize, value: f64 },
    Ticket { visit: usize, topic: &'static str },
}

/// One experience the landing page drew: the event that reports it (`impression`, or for a
/// control `exposure`), what it refers to, and the kind it shows (or would have shown) as.
struct Drawn {
    event: &'static str,
    reference: ExperienceRef,
    kind: ExperienceKind,
}

/// What the landing page's decision showed, as the widget would draw it: the experiences,
/// and the controls whose treatment would have shown, whose trigger fires while the visitor
/// is on the page, one per placement, within the session's prompt budget.
fn drawn(decision: &Decision, visit: &Visit) -> Vec<Drawn> {
    let fires = |trigger: &Trigger| match trigger {
        Trigger::Immediately => true,
        Trigger::AfterSeconds { seconds } => visit.engaged[0] >= *seconds,
        // The visitor leaves from the landing page only when it is all they saw.
        Trigger::ExitIntent => visit.exit_intent && visit.pages.len() == 1,
        _ => false,
    };
    let mut taken: Vec<String> = Vec::new();
    let mut prompts = 0;
    let mut drawn = Vec::new();
    let mut draw = |placement: String, budget: Option<u32>, trigger: &Trigger, shown: Drawn| {
        if !fires(trigger) || taken.contains(&placement) || budget.is_some_and(|b| prompts >= b) {
            return;
        }
        if budget.is_some() {
            prompts += 1;
        }
        taken.push(placement);
        drawn.push(shown);
    };
    for e in &decision.experiences {
        let shown = Drawn {
            event: "impression",
            reference: e.reference(),
            kind: e.kind,
        };
        draw(e.placement.clone(), e.budget, &e.trigger, shown);
    }
    for c in &decision.controls {
        let Some(kind) = c.shows_as else { continue };
        let shown = Drawn {
            event: "exposure",
            reference: c.reference.clone(),
            kind,
        };
        let placement = kind.placement(c.slot.as_deref()).into_owned();
        draw(placement, c.budget, &c.trigger, shown);
    }
    drawn
}

/// Replays one visitor's life.
fn replay(agent: &ureq::Agent, target: &Target, plan: &Plan, n: usize) -> Result<Sent> {
    let life = Life::new(plan, n);
    let mut shopper = Shopper {
        agent,
        target,
        visitor: format!("{}-{n:05}", plan.prefix),
        address: format!(
            "{}.{}",
            if n.is_multiple_of(2) {
                "198.51.100"
            } else {
                "203.0.113"
            },
            (n / 2) % 254 + 1
        ),
        sent: Sent {
            visitors: 1,
            ..Sent::default()
        },
    };
    let customer = format!("C-{}", shopper.visitor);
    // The welcome arm, and when the visitor was enrolled in it.
    let mut welcome_arm: Option<String> = None;
    let mut enrolled_at = None;
    let mut bought: Vec<i64> = Vec::new();
    let mut later: Vec<(i64, Later)> = Vec::new();
    let mut cart: Option<usize> = None;
    let mut identified = false;
    for (index, visit) in life.visits.iter().enumerate() {
        // What the shop's server reported before this visit goes first.
        send_due(
            &mut shopper,
            &mut later,
            visit.at_ms,
            &customer,
            &mut identified,
            &mut cart,
        )?;
        shopper.sent.visits += 1;
        let session = format!("{}-s{index}", shopper.visitor);
        let mut events: Vec<Value> = Vec::new();
        let mut seq = 0;
        let mut push = |events: &mut Vec<Value>, kind: &str, fields: Value| {
            seq += 1;
            let mut e = json!({ "id": format!("{session}-{seq}"), "session_id": session,
                                "type": kind });
            e.as_object_mut()
                .expect("an object")
                .extend(fields.as_object().cloned().unwrap_or_default());
            events.push(e);
        };
        // The widget makes a visitor id only once the shop's banner passes consent, and
        // tells the edge first.
        if index == 0 {
            push(
                &mut events,
                "consent",
                json!({ "analytics": true, "personalization": true }),
            );
        }
        // The widget asks for the landing page's decision; the visit's events follow in
        // one batch, as its queue sends them.
        let landing = shopper.page(&visit.pages[0], life.language);
        let decision = shopper.decide(&session, landing, visit.at_ms)?;
        let shown = drawn(&decision, visit);
        let welcome = shown.iter().find(|d| d.reference.rule == "welcome");
        let enrols = welcome_arm.is_none() && welcome.is_some();
        if enrols {
            welcome_arm = welcome.and_then(|d| d.reference.variant.clone());
        }
        for (p, page) in visit.pages.iter().enumerate() {
            push(
                &mut events,
                "page_view",
                json!({ "page": shopper.page(page, life.language) }),
            );
            match page {
                Page::Product(i) => {
                    let product = &PRODUCTS[*i];
                    push(
                        &mut events,
                        "product_view",
                        // As the widget reads the demo's product pages: their path and picture too.
                        json!({ "product": { "id": product.id, "name": product.name,
                            "price": product.price, "currency": "EUR",
                            "category": product.category,
                            "url": format!("/products/{}", product.id),
                            "image": format!("/images/{}.svg", product.id),
                            "availability": if product.in_stock { "InStock" } else { "OutOfStock" } } }),
                    );
                    if visit.added == Some(*i) && cart.is_none() {
                        cart = Some(*i);
                        push(
                            &mut events,
                            "add_to_cart",
                            json!({ "product": { "id": product.id, "name": product.name,
                                "price": product.price, "currency": "EUR" }, "quantity": 1 }),
                        );
                    }
                }
                Page::Search(q) => {
                    let (query, results) = SEARCHES[*q];
                    push(
                        &mut events,
                        "search",
                        json!({ "query": query, "results": results }),
                    );
                }
                Page::Checkout => {
                    push(&mut events, "checkout_step", json!({ "step": "details" }));
                }
                Page::Home | Page::Cart => {}
            }
            // What the landing page's decision showed, as the widget reports it.
            if p == 0 {
                for shown in &shown {
                    let reference = serde_json::to_value(&shown.reference)?;
                    push(&mut events, shown.event, reference.clone());
                    if shown.event != "impression" {
                        continue;
                    }
                    if visit.click_draw < 0.08 {
                        push(&mut events, "click", reference.clone());
                    }
                    if let (ExperienceKind::Nps, Some((score, comment))) =
                        (shown.kind, visit.answer)
                    {
                        let mut answer = reference;
                        answer["survey"] = "nps".into();
                        answer["score"] = score.into();
                        if let Some(comment) = comment {
                            answer["comment"] = comment.into();
                        }
                        push(&mut events, "answer", answer);
                        shopper.sent.answers += 1;
                    }
                }
            }
            push(
                &mut events,
                "engagement",
                json!({ "seconds": visit.engaged[p] }),
            );
            if visit.rage_clicks[p] {
                push(
                    &mut events,
                    "rage_click",
                    json!({ "target": "button.size" }),
                );
            }
        }
        // The batch leaves as the visit ends.
        let at = visit.ends_at_ms();
        shopper.deliver(&mut events, at)?;
        if enrols {
            enrolled_at = Some(at);
        }
        // A purchase the visit leads to, reported by the shop's server later.
        if visit.buy_draw < plan.conversion(welcome_arm.as_deref(), life.language) {
            let product = cart.or(visit.added).unwrap_or(n % 3);
            let care = life.aftercare[index];
            let value = PRODUCTS[product].price * f64::from(care.quantity);
            let at = visit.at_ms + visit.purchase_lag_ms;
            if at <= plan.end_ms {
                bought.push(at);
            }
            later.push((
                at,
                Later::Purchase {
                    visit: index,
                    value,
                },
            ));
            if let Some(after) = care.returned_after_ms {
                later.push((
                    at + after,
                    Later::Return {
                        visit: index,
                        value,
                    },
                ));
            }
            if let Some((after, topic)) = care.ticket {
                later.push((
                    at + after,
                    Later::Ticket {
                        visit: index,
                        topic,
                    },
                ));
            }
        }
    }
    send_due(
        &mut shopper,
        &mut later,
        plan.end_ms,
        &customer,
        &mut identified,
        &mut cart,
    )?;
    if let (Some(arm), Some(at)) = (welcome_arm, enrolled_at) {
        let converted = bought
            .iter()
            .any(|b| *b >= at && *b <= at + model::ATTRIBUTION_MS);
        shopper.sent.welcome.insert(
            arm,
            Arm {
                visitors: 1,
                converters: usize::from(converted),
            },
        );
    }
    Ok(shopper.sent)
}

/// Sends what the shop's server reports up to `until`, in time order; what is later than
/// the end of the history has not happened yet.
fn send_due(
    shopper: &mut Shopper<'_>,
    later: &mut Vec<(i64, Later)>,
    until: i64,
    customer: &str,
    identified: &mut bool,
    cart: &mut Option<usize>,
) -> Result<()> {
    later.sort_by_key(|(at, _)| *at);
    let due = later.iter().take_while(|(at, _)| *at <= until).count();
    for (at, what) in later.drain(..due).collect::<Vec<_>>() {
        let visitor = shopper.visitor.clone();
        let time = rfc3339(at);
        let mut events = Vec::new();
        match what {
            Later::Purchase { visit, value } => {
                // The shop knows the account at checkout: it links the browser first, so
                // the visitor's profile (and lifecycle stage) learns of the purchase.
                if !*identified {
                    *identified = true;
                    events.push(
                        json!({ "id": format!("{visitor}-identify"), "type": "identify",
                        "customer_id": customer, "visitor_id": visitor, "time": time }),
                    );
                }
                events.push(
                    json!({ "id": format!("{visitor}-order-{visit}"), "type": "purchase",
                    "customer_id": customer, "order_id": format!("{visitor}-{visit}"),
                    "value": value, "currency": "EUR", "visitor_id": visitor, "time": time }),
                );
                shopper.sent.purchases += 1;
                *cart = None;
            }
            Later::Return { visit, value } => {
                events.push(
                    json!({ "id": format!("{visitor}-return-{visit}"), "type": "return",
                    "customer_id": customer, "order_id": format!("{visitor}-{visit}"),
                    "value": value, "time": time }),
                );
                shopper.sent.returns += 1;
            }
            Later::Ticket { visit, topic } => {
                events.push(json!({ "id": format!("{visitor}-ticket-{visit}"),
                    "type": "support_ticket", "customer_id": customer,
                    "ticket_id": format!("{visitor}-{visit}"), "status": "open", "topic": topic,
                    "time": time }));
                shopper.sent.tickets += 1;
            }
        }
        shopper.server(Value::Array(events))?;
    }
    Ok(())
}

/// Replays the plan's visitors on `plan.threads` threads; `progress(done, of)` hears each
/// finished visitor.
pub fn run(target: &Target, plan: &Plan, progress: impl Fn(usize, usize) + Sync) -> Result<Sent> {
    let next = Arc::new(AtomicUsize::new(0));
    let done = AtomicUsize::new(0);
    let threads = plan.threads.clamp(1, 32);
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
                        total.add(&replay(&agent, target, plan, n)?);
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
