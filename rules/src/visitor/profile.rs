//! The visitor model: what Rapport knows about one visitor, built by folding events in.
//!
//! The edge stores a [`Profile`] per visitor and calls [`Profile::apply`] for every newly
//! accepted event, with its own clock. Rules never see this struct directly; they read the
//! view in [`crate::visitor::view`], whose fields are documented in the README.

use std::collections::{BTreeMap, VecDeque};

use rapport_protocol::{
    Answer, Consent, Event, EventData, ExperienceRef, PageContext, Product, Search, Survey,
};
use serde::{Deserialize, Serialize};

/// How many recent pages, products and searches a profile keeps.
pub const RECENT_LIMIT: usize = 20;
/// The most bought product ids a profile keeps.
pub const BOUGHT_LIMIT: usize = 20;
/// A day, in milliseconds.
pub const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// Everything Rapport knows about one visitor. Every field has a default, so a test case or a
/// `rapport decide --visitor` file only spells out what matters to it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
#[serde(default)]
pub struct Profile {
    pub visitor_id: String,
    /// Set once the retailer links the visitor to a customer account.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    /// Edge time of the first and latest accepted event, in ms since the epoch.
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
    /// Distinct sessions seen (a session is the widget's per-tab-group session id): `v.visits`.
    #[serde(rename = "visits", alias = "sessions")]
    pub sessions: u32,
    pub session_id: String,
    pub session_started_ms: i64,
    /// When the visitor was last seen before the current session began.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_visit_ms: Option<i64>,
    pub page_views: u32,
    /// Page views in the current session.
    pub session_page_views: u32,
    pub recent_pages: VecDeque<PageVisit>,
    /// Most recent first; a product viewed again moves to the front.
    pub recent_products: VecDeque<ProductVisit>,
    pub product_views: u32,
    pub cart: Vec<CartLine>,
    /// What the shop's pages reported bought lately (product ids, the latest first), which
    /// recommendations leave out.
    #[serde(skip_serializing_if = "VecDeque::is_empty")]
    pub bought: VecDeque<String>,
    pub searches: VecDeque<SearchVisit>,
    pub search_count: u32,
    pub zero_result_searches: u32,
    /// The deepest scroll on the current page, in percent: `v.scroll`.
    #[serde(rename = "scroll", alias = "page_scroll")]
    pub page_scroll: u8,
    pub engaged_seconds: u64,
    pub session_engaged_seconds: u64,
    pub rage_clicks: u32,
    pub session_rage_clicks: u32,
    /// Trusted: only the retailer's backend reports purchases.
    pub purchases: Purchases,
    /// Trusted facts from the retailer's backend (`tier`, `subscriber`, ...).
    pub traits: BTreeMap<String, serde_json::Value>,
    /// Trusted: support tickets from the retailer's help desk.
    pub support: Support,
    /// How far the shopper got through the checkout, as the shop's pages report it.
    pub checkout: Checkout,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nps: Option<SurveyAnswer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub csat: Option<SurveyAnswer>,
    /// Prompt history, by experience id.
    pub prompts: BTreeMap<String, PromptHistory>,
    /// `mobile`, `tablet` or `desktop`, as the widget saw the screen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// Two-letter country code, as the edge saw the connection.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub utm_source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub utm_campaign: Option<String>,
    /// `None` until the site reports consent; then personalisation follows what it says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consent: Option<Consent>,
    pub events: u64,
    /// Experiments the visitor was exposed to, by rule id (`""` for the universal holdout,
    /// the programme's own experiment): the arm of the first exposure and the per-visitor
    /// totals the analytics count. Not part of the rules' view.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    #[cfg_attr(feature = "cli", schemars(skip))]
    pub experiments: BTreeMap<String, Enrolment>,
    /// Rules whose condition hit the operations limit for this visitor, with the rulebook
    /// then active: skipped in the visitor's later decisions until the rulebook changes, so a
    /// runaway rule costs once. Not part of the rules' view.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "cli", schemars(skip))]
    pub stopped: Vec<Stopped>,
}

/// A rule stopped at the operations limit for a visitor, under one rulebook version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stopped {
    pub rulebook: String,
    pub rule: String,
}

impl Profile {
    /// The products viewed in the current session, the latest first.
    pub fn session_products(&self) -> Vec<String> {
        self.recent_products
            .iter()
            .filter(|p| p.at_ms >= self.session_started_ms)
            .map(|p| p.product.id.clone())
            .collect()
    }

    /// The most stopped rules a profile keeps.
    pub const MOST_STOPPED: usize = 32;

    /// Remembers that `rules` hit the operations limit under `rulebook`; forgets those of
    /// other rulebooks, which run again.
    pub fn remember_stopped(&mut self, rulebook: &str, rules: &[String]) {
        self.stopped.retain(|s| s.rulebook == rulebook);
        for rule in rules {
            if !self.stopped.iter().any(|s| &s.rule == rule) {
                self.stopped.push(Stopped {
                    rulebook: rulebook.to_owned(),
                    rule: rule.clone(),
                });
            }
        }
        self.stopped.truncate(Self::MOST_STOPPED);
    }

    /// Whether `rule` hit the operations limit for this visitor under `rulebook`.
    pub fn was_stopped(&self, rulebook: &str, rule: &str) -> bool {
        self.stopped
            .iter()
            .any(|s| s.rulebook == rulebook && s.rule == rule)
    }
}

/// A visitor's place in one experiment, and their running totals in it since the first
/// exposure.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Enrolment {
    pub arm: String,
    /// Edge time of the first exposure: the visitor is counted on its UTC day.
    pub at_ms: i64,
    /// A purchase was reported within the attribution window.
    pub converted: bool,
    /// Revenue reported within the attribution window.
    pub revenue: f64,
    /// Clicks on the arm's experience.
    pub clicks: u32,
    /// The latest survey answer given through the experiment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<u8>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub struct PageVisit {
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default)]
    pub at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub struct ProductVisit {
    pub product: Product,
    #[serde(default)]
    pub at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub struct CartLine {
    pub product: Product,
    #[serde(default = "one")]
    pub quantity: u32,
}

fn one() -> u32 {
    1
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub struct SearchVisit {
    pub query: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub results: Option<u32>,
    #[serde(default)]
    pub at_ms: i64,
}

/// Purchases are trusted facts: only the retailer's backend reports them (server API), so
/// the browser cannot make itself a "customer".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
#[serde(default)]
pub struct Purchases {
    pub count: u32,
    /// What the customer spent, net of returns: `v.purchases.value`.
    #[serde(rename = "value", alias = "lifetime_value")]
    pub lifetime_value: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_ms: Option<i64>,
    /// Orders sent back; their value is already off `value`.
    pub returns: u32,
}

/// Support tickets, as the retailer's help desk reports them (server API).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
#[serde(default)]
pub struct Support {
    pub tickets: u32,
    pub open_tickets: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_ms: Option<i64>,
}

/// The checkout as the shop's pages report it: the step the shopper last reached, cleared
/// when an order confirmation follows, so a step left standing is an abandoned checkout.
/// Orders here are the browser's word, for this purpose only; purchases that count come from
/// the shop's server into `purchases`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
#[serde(default)]
pub struct Checkout {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step_ms: Option<i64>,
    /// Order confirmations seen, and in the current session.
    pub orders: u32,
    pub session_orders: u32,
    /// The last confirmed order, so a confirmation page seen again is not a second order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_order_id: Option<String>,
}

/// The most lines a cart keeps; more is a broken or hostile client.
pub const CART_LIMIT: usize = 100;

/// The longest checkout step name kept.
const STEP_LIMIT: usize = 40;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub struct SurveyAnswer {
    pub score: u8,
    #[serde(default)]
    pub at_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
#[serde(default)]
pub struct PromptHistory {
    pub rule: String,
    pub impressions: u32,
    pub clicks: u32,
    pub dismissals: u32,
    pub answers: u32,
    /// Impressions in the session named by `session_id`.
    pub session_impressions: u32,
    pub session_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_seen_ms: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_dismissed_ms: Option<i64>,
    /// Edge times of recent impressions, newest first, for "N times in D days" caps.
    pub recent_impressions_ms: VecDeque<i64>,
    /// The latest time the visitor was in this experiment's control group (nothing shown).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_exposed_ms: Option<i64>,
    /// The variant and audience of the latest impression or exposure, for reports.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segment: Option<String>,
}

/// Impressions remembered per experience for day-window caps.
const IMPRESSION_MEMORY: usize = 50;

impl Profile {
    pub fn new(visitor_id: &str) -> Profile {
        Profile {
            visitor_id: visitor_id.to_owned(),
            ..Profile::default()
        }
    }

    /// Folds one accepted event in. `now_ms` is the edge's clock, never the shopper's.
    pub fn apply(&mut self, event: &Event, now_ms: i64) {
        if self.events == 0 {
            self.first_seen_ms = now_ms;
        }
        self.events += 1;
        if event.session_id != self.session_id {
            self.start_session(&event.session_id, now_ms);
        }
        self.last_seen_ms = self.last_seen_ms.max(now_ms);
        match &event.data {
            EventData::PageView(view) => self.page_view(&view.page, now_ms),
            EventData::ProductView(view) => self.product_view(&view.product, now_ms),
            EventData::AddToCart(add) => self.add_to_cart(&add.product, add.quantity),
            EventData::RemoveFromCart(remove) => {
                self.remove_from_cart(&remove.product_id, remove.quantity)
            }
            EventData::Search(search) => self.search(search, now_ms),
            EventData::Cart(contents) => {
                self.cart.clear();
                for line in &contents.items {
                    self.add_to_cart(&line.product, line.quantity);
                }
            }
            EventData::CheckoutStep(reached) => {
                let step: String = reached.step.trim().chars().take(STEP_LIMIT).collect();
                if !step.is_empty() {
                    self.checkout.step = Some(step);
                    self.checkout.step_ms = Some(now_ms);
                }
            }
            EventData::OrderComplete(order) => {
                if self.checkout.last_order_id.as_deref() != Some(order.order_id.as_str()) {
                    self.checkout.last_order_id = Some(order.order_id.clone());
                    self.checkout.orders += 1;
                    self.checkout.session_orders += 1;
                    // What was in the cart was bought, and the checkout is finished.
                    for line in self.cart.drain(..) {
                        self.bought.retain(|id| *id != line.product.id);
                        self.bought.push_front(line.product.id);
                    }
                    self.bought.truncate(BOUGHT_LIMIT);
                    self.checkout.step = None;
                    self.checkout.step_ms = None;
                }
            }
            EventData::Scroll(scroll) => {
                self.page_scroll = self.page_scroll.max(scroll.percent.min(100))
            }
            EventData::Engagement(engaged) => {
                // One report covers at most an hour; a larger figure is a broken client.
                let seconds = u64::from(engaged.seconds.min(3_600));
                self.engaged_seconds += seconds;
                self.session_engaged_seconds += seconds;
            }
            EventData::RageClick(_) => {
                self.rage_clicks += 1;
                self.session_rage_clicks += 1;
            }
            EventData::Impression(r) => {
                let session = self.session_id.clone();
                let h = self.prompt(r);
                if h.session_id != session {
                    h.session_id = session;
                    h.session_impressions = 0;
                }
                h.impressions += 1;
                h.session_impressions += 1;
                h.last_seen_ms = Some(now_ms);
                h.recent_impressions_ms.push_front(now_ms);
                h.recent_impressions_ms.truncate(IMPRESSION_MEMORY);
            }
            EventData::Click(click) => self.prompt(&click.experience).clicks += 1,
            EventData::Dismiss(r) => {
                let h = self.prompt(r);
                h.dismissals += 1;
                h.last_dismissed_ms = Some(now_ms);
            }
            // Control exposures matter to reports (a later purchase is credited to the
            // control), not to what this visitor sees next.
            EventData::Exposure(r) if r.rule != rapport_protocol::PROGRAMME => {
                self.prompt(r).last_exposed_ms = Some(now_ms);
            }
            EventData::Exposure(_) => {}
            EventData::Answer(answer) => self.answer(answer, now_ms),
            EventData::Consent(consent) => self.consent = Some(*consent),
        }
    }

    fn start_session(&mut self, session_id: &str, now_ms: i64) {
        if self.sessions > 0 {
            self.previous_visit_ms = Some(self.last_seen_ms);
        }
        self.sessions += 1;
        self.session_id = session_id.to_owned();
        self.session_started_ms = now_ms;
        self.session_page_views = 0;
        self.session_engaged_seconds = 0;
        self.session_rage_clicks = 0;
        self.checkout.session_orders = 0;
    }

    fn page_view(&mut self, page: &PageContext, now_ms: i64) {
        self.page_views += 1;
        self.session_page_views += 1;
        self.page_scroll = 0;
        if let Some(locale) = &page.locale {
            self.locale = Some(locale.clone());
        }
        if let Some(source) = query_param(&page.url, "utm_source") {
            self.utm_source = Some(source);
            self.utm_campaign = query_param(&page.url, "utm_campaign");
        }
        self.recent_pages.push_front(PageVisit {
            path: page.path.clone(),
            kind: page.kind.clone(),
            at_ms: now_ms,
        });
        self.recent_pages.truncate(RECENT_LIMIT);
    }

    fn product_view(&mut self, product: &Product, now_ms: i64) {
        self.product_views += 1;
        self.recent_products.retain(|p| p.product.id != product.id);
        self.recent_products.push_front(ProductVisit {
            product: product.clone(),
            at_ms: now_ms,
        });
        self.recent_products.truncate(RECENT_LIMIT);
    }

    fn add_to_cart(&mut self, product: &Product, quantity: u32) {
        let quantity = quantity.max(1);
        let full = self.cart.len() >= CART_LIMIT;
        match self.cart.iter_mut().find(|l| l.product.id == product.id) {
            Some(line) => line.quantity = line.quantity.saturating_add(quantity),
            None if !full => self.cart.push(CartLine {
                product: product.clone(),
                quantity,
            }),
            None => {}
        }
    }

    fn remove_from_cart(&mut self, product_id: &str, quantity: u32) {
        if let Some(line) = self.cart.iter_mut().find(|l| l.product.id == product_id) {
            line.quantity = line.quantity.saturating_sub(quantity.max(1));
        }
        self.cart.retain(|l| l.quantity > 0);
    }

    fn search(&mut self, search: &Search, now_ms: i64) {
        self.search_count += 1;
        if search.results == Some(0) {
            self.zero_result_searches += 1;
        }
        self.searches.push_front(SearchVisit {
            query: search.query.chars().take(200).collect(),
            results: search.results,
            at_ms: now_ms,
        });
        self.searches.truncate(RECENT_LIMIT);
    }

    fn answer(&mut self, answer: &Answer, now_ms: i64) {
        self.prompt(&answer.experience).answers += 1;
        let recorded = SurveyAnswer {
            score: match answer.survey {
                Survey::Nps => answer.score.min(10),
                Survey::Csat => answer.score.clamp(1, 5),
            },
            at_ms: now_ms,
            comment: answer
                .comment
                .as_ref()
                .map(|c| c.chars().take(2_000).collect()),
        };
        match answer.survey {
            Survey::Nps => self.nps = Some(recorded),
            Survey::Csat => self.csat = Some(recorded),
        }
    }

    fn prompt(&mut self, r: &ExperienceRef) -> &mut PromptHistory {
        let h = self.prompts.entry(r.experience.clone()).or_default();
        h.rule.clone_from(&r.rule);
        if r.variant.is_some() {
            h.variant.clone_from(&r.variant);
        }
        if r.segment.is_some() {
            h.segment.clone_from(&r.segment);
        }
        h
    }

    /// A purchase reported by the retailer's systems (a trusted fact).
    pub fn record_purchase(&mut self, value: f64, at_ms: i64) {
        self.purchases.count += 1;
        self.purchases.lifetime_value += value.max(0.0);
        self.purchases.last_ms = Some(self.purchases.last_ms.map_or(at_ms, |l| l.max(at_ms)));
        self.cart.clear();
    }

    pub fn cart_items(&self) -> u32 {
        self.cart.iter().map(|l| l.quantity).sum()
    }

    /// The cart's value in its currency: that of its first line that names one. Lines
    /// priced in another currency are not added in (a sum of euros and dollars means
    /// nothing); lines that name none count as the cart's.
    pub fn cart_value(&self) -> f64 {
        let currency = self.cart_currency();
        self.cart
            .iter()
            .filter(|l| l.product.currency.is_none() || l.product.currency.as_deref() == currency)
            .map(|l| l.product.price.unwrap_or(0.0) * f64::from(l.quantity))
            .sum()
    }

    /// The currency of the cart's first line that names one.
    pub fn cart_currency(&self) -> Option<&str> {
        self.cart.iter().find_map(|l| l.product.currency.as_deref())
    }

    /// Whole days between the visit before this session and `now_ms`; for a visitor back
    /// after a long absence, this is the absence.
    pub fn days_away(&self, now_ms: i64) -> i64 {
        let since = match self.previous_visit_ms {
            Some(previous) if self.session_started_ms > 0 => {
                (self.session_started_ms - previous).max(now_ms - self.last_seen_ms)
            }
            _ if self.last_seen_ms > 0 => now_ms - self.last_seen_ms,
            _ => 0,
        };
        since.max(0) / DAY_MS
    }

    /// Whether rules may personalise for this visitor: yes until the site reports consent,
    /// then whatever it reported.
    pub fn allows_personalization(&self) -> bool {
        self.consent.is_none_or(|c| c.personalization)
    }
}

/// Availability as schema.org spells it (`OutOfStock`, `SoldOut`, a full URL...), or unknown.
pub fn is_in_stock(product: &Product) -> bool {
    product.availability.as_deref().is_none_or(|a| {
        let a = a.to_ascii_lowercase();
        !(a.contains("outofstock") || a.contains("soldout") || a.contains("discontinued"))
    })
}

/// A query parameter's decoded value, if the URL has a non-empty one.
fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    let query = query.split('#').next().unwrap_or(query);
    form_urlencoded::parse(query.as_bytes())
        .find(|(key, value)| key == name && !value.is_empty())
        .map(|(_, value)| value.chars().take(100).collect())
}

#[cfg(test)]
mod tests;
