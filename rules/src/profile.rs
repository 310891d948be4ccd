//! The visitor model: what Rapport knows about one visitor, built by folding events in.
//!
//! The edge stores a [`Profile`] per visitor and calls [`Profile::apply`] for every newly
//! accepted event, with its own clock. Rules never see this struct directly; they read the
//! view in [`crate::view`], whose fields are documented in the README.

use std::collections::{BTreeMap, VecDeque};

use rapport_protocol::{
    Answer, Consent, Event, EventData, ExperienceRef, PageContext, Product, Search, Survey,
};
use serde::{Deserialize, Serialize};

/// How many recent pages, products and searches a profile keeps.
pub const RECENT_LIMIT: usize = 20;
pub(crate) const DAY_MS: i64 = 24 * 60 * 60 * 1000;

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
    /// What the analytics last counted for this visitor (the day, its segments and stage).
    #[serde(skip_serializing_if = "Tracking::is_empty")]
    #[cfg_attr(feature = "cli", schemars(skip))]
    pub tracking: Tracking,
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

/// What the analytics counted for the visitor on the last day they were decided for.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Tracking {
    /// The site the visitor is counted for (an idle session's exit is counted later, by an
    /// alarm that knows nothing else).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub site: String,
    /// `YYYY-MM-DD` (UTC).
    pub day: String,
    /// The segments they were in that day.
    pub segments: Vec<String>,
    /// Their lifecycle stage as last counted.
    pub stage: String,
    /// A purchase was counted for that day.
    pub converted: bool,
    /// The ISO week of `day` (`2026-W49`), and per segment (`""`: the site) the visitor's
    /// days and converting days in it: a cluster, for the variance of conversion rates.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub week: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub week_days: BTreeMap<String, [u32; 2]>,
    /// The path of the session's landing page, while the session has only that page and
    /// the visitor might still leave straight away.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub landing: Option<String>,
}

impl Tracking {
    pub fn is_empty(&self) -> bool {
        self.day.is_empty() && self.stage.is_empty() && self.landing.is_none()
    }
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

/// The visitor's place in the customer lifecycle, derived from the profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifecycle {
    New,
    Engaged,
    Cart,
    Customer,
    Repeat,
    Loyal,
    Advocate,
    AtRisk,
    Lapsed,
}

impl Lifecycle {
    pub fn as_str(self) -> &'static str {
        match self {
            Lifecycle::New => "new",
            Lifecycle::Engaged => "engaged",
            Lifecycle::Cart => "cart",
            Lifecycle::Customer => "customer",
            Lifecycle::Repeat => "repeat",
            Lifecycle::Loyal => "loyal",
            Lifecycle::Advocate => "advocate",
            Lifecycle::AtRisk => "at_risk",
            Lifecycle::Lapsed => "lapsed",
        }
    }
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
                    self.cart.clear();
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
            EventData::Click(r) => self.prompt(r).clicks += 1,
            EventData::Dismiss(r) => {
                let h = self.prompt(r);
                h.dismissals += 1;
                h.last_dismissed_ms = Some(now_ms);
            }
            // Control exposures matter to reports (a later purchase is credited to the
            // control), not to what this visitor sees next.
            EventData::Exposure(r) if r.rule != crate::decide::PROGRAMME => {
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

    /// The lifecycle stage at `now_ms`. Customers away for 60 days are at risk, for 180
    /// lapsed (also on the visit that ends the absence, so a win-back can greet them);
    /// customers who gave an NPS of 9 or 10 are advocates. Before a first purchase,
    /// visitors are new, engaged (two sessions or five pages) or holding a cart.
    pub fn lifecycle(&self, now_ms: i64) -> Lifecycle {
        if self.purchases.count > 0 {
            let away = self.days_away(now_ms);
            if away >= 180 {
                return Lifecycle::Lapsed;
            }
            if away >= 60 {
                return Lifecycle::AtRisk;
            }
            if self.nps.as_ref().is_some_and(|a| a.score >= 9) {
                return Lifecycle::Advocate;
            }
            return match self.purchases.count {
                1 => Lifecycle::Customer,
                2..=3 => Lifecycle::Repeat,
                _ => Lifecycle::Loyal,
            };
        }
        if !self.cart.is_empty() {
            Lifecycle::Cart
        } else if self.sessions >= 2 || self.page_views >= 5 {
            Lifecycle::Engaged
        } else {
            Lifecycle::New
        }
    }

    /// Whether rules may personalise for this visitor: yes until the site reports consent,
    /// then whatever it reported.
    pub fn allows_personalization(&self) -> bool {
        self.consent.is_none_or(|c| c.personalization)
    }
}

/// Sample visitors that together fill every field of the visitor view: the rulebook
/// compiler runs each condition against them to find mistakes before any shopper does.
pub(crate) fn samples() -> [Profile; 2] {
    let now = 1_800_000_000_000;
    let product = Product {
        id: "sample".into(),
        name: Some("Sample".into()),
        price: Some(10.0),
        currency: Some("EUR".into()),
        category: Some("sample".into()),
        availability: Some("OutOfStock".into()),
        url: Some("/products/sample".into()),
    };
    let mut rich = Profile::new("sample-visitor-rich");
    rich.customer_id = Some("customer-1".into());
    rich.first_seen_ms = now - 400 * DAY_MS;
    rich.last_seen_ms = now;
    rich.sessions = 9;
    rich.session_id = "sample-session".into();
    rich.session_started_ms = now;
    rich.previous_visit_ms = Some(now - 70 * DAY_MS);
    rich.page_views = 40;
    rich.session_page_views = 3;
    rich.product_views = 12;
    rich.recent_products.push_front(ProductVisit {
        product: product.clone(),
        at_ms: now,
    });
    rich.cart.push(CartLine {
        product,
        quantity: 2,
    });
    rich.searches.push_front(SearchVisit {
        query: "linen".into(),
        results: Some(0),
        at_ms: now,
    });
    rich.search_count = 3;
    rich.zero_result_searches = 1;
    rich.page_scroll = 80;
    rich.engaged_seconds = 900;
    rich.session_engaged_seconds = 120;
    rich.rage_clicks = 4;
    rich.session_rage_clicks = 4;
    rich.purchases = Purchases {
        count: 3,
        lifetime_value: 420.0,
        last_ms: Some(now - 70 * DAY_MS),
        returns: 1,
    };
    rich.support = Support {
        tickets: 2,
        open_tickets: 1,
        last_ms: Some(now - 3 * DAY_MS),
    };
    rich.traits.insert("tier".into(), "gold".into());
    rich.traits.insert("subscriber".into(), true.into());
    rich.nps = Some(SurveyAnswer {
        score: 4,
        at_ms: now - DAY_MS,
        comment: None,
    });
    rich.csat = Some(SurveyAnswer {
        score: 2,
        at_ms: now - DAY_MS,
        comment: None,
    });
    rich.prompts.insert(
        "sample-experience".into(),
        PromptHistory {
            rule: "sample".into(),
            impressions: 2,
            ..PromptHistory::default()
        },
    );
    rich.device = Some("mobile".into());
    rich.locale = Some("pt-PT".into());
    rich.country = Some("PT".into());
    rich.utm_source = Some("newsletter".into());
    rich.utm_campaign = Some("winter".into());
    rich.consent = Some(Consent {
        analytics: true,
        personalization: true,
    });
    let mut fresh = Profile::new("sample-visitor-new");
    fresh.last_seen_ms = now;
    [fresh, rich]
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
mod tests {
    use super::*;
    use rapport_protocol::{AddToCart, PageView, RemoveFromCart};

    fn event(session: &str, data: EventData) -> Event {
        Event {
            id: "evt-00000000".into(),
            session_id: session.into(),
            client_ts: None,
            data,
        }
    }

    fn product(id: &str, price: f64) -> Product {
        Product {
            id: id.into(),
            name: Some(format!("Product {id}")),
            price: Some(price),
            currency: Some("EUR".into()),
            category: Some("shirts".into()),
            availability: None,
            url: None,
        }
    }

    #[test]
    fn a_cart_in_two_currencies_is_valued_in_its_first() {
        let line = |price: f64, currency: Option<&str>| CartLine {
            product: Product {
                id: format!("p{price}"),
                name: None,
                price: Some(price),
                currency: currency.map(str::to_owned),
                category: None,
                availability: None,
                url: None,
            },
            quantity: 1,
        };
        let mut profile = Profile::new("v");
        profile.cart = vec![
            line(10.0, Some("EUR")),
            line(20.0, Some("USD")),
            line(5.0, None),
        ];
        assert_eq!(profile.cart_value(), 15.0);
        assert_eq!(profile.cart_currency(), Some("EUR"));
    }

    #[test]
    fn a_cart_snapshot_replaces_the_cart_within_its_limit() {
        use rapport_protocol::CartContents;
        let mut p = Profile::new("visitor-1");
        let line = |id: &str, quantity: u32| AddToCart {
            product: product(id, 10.0),
            quantity,
        };
        p.apply(&event("s1", EventData::AddToCart(line("a", 1))), 1);
        let snapshot = CartContents {
            items: vec![line("b", 2), line("c", 0), line("b", 1)],
        };
        p.apply(&event("s1", EventData::Cart(snapshot)), 2);
        let lines: Vec<(&str, u32)> = p
            .cart
            .iter()
            .map(|l| (l.product.id.as_str(), l.quantity))
            .collect();
        assert_eq!(lines, [("b", 3), ("c", 1)]);

        let huge = CartContents {
            items: (0..CART_LIMIT + 50)
                .map(|i| line(&i.to_string(), 1))
                .collect(),
        };
        p.apply(&event("s1", EventData::Cart(huge)), 3);
        assert_eq!(p.cart.len(), CART_LIMIT);
        p.apply(
            &event("s1", EventData::Cart(CartContents { items: vec![] })),
            4,
        );
        assert!(p.cart.is_empty());
    }

    #[test]
    fn an_order_confirmation_finishes_the_checkout_once() {
        use rapport_protocol::{CheckoutStep, OrderComplete};
        let mut p = Profile::new("visitor-1");
        let step = |name: &str| {
            event(
                "s1",
                EventData::CheckoutStep(CheckoutStep { step: name.into() }),
            )
        };
        let order = |id: &str| {
            event(
                "s1",
                EventData::OrderComplete(OrderComplete {
                    order_id: id.into(),
                    value: Some(94.0),
                    currency: Some("EUR".into()),
                }),
            )
        };
        p.apply(
            &event(
                "s1",
                EventData::AddToCart(AddToCart {
                    product: product("a", 59.0),
                    quantity: 1,
                }),
            ),
            1,
        );
        p.apply(&step("shipping"), 2);
        p.apply(&step(&format!("  {}  ", "x".repeat(80))), 3);
        assert_eq!(p.checkout.step.as_deref(), Some("x".repeat(40).as_str()));
        p.apply(&step("payment"), 4);
        assert_eq!(
            (p.checkout.step.as_deref(), p.checkout.step_ms),
            (Some("payment"), Some(4))
        );

        p.apply(&order("order-1"), 5);
        p.apply(&order("order-1"), 6);
        assert_eq!(
            (p.checkout.orders, p.checkout.session_orders),
            (1, 1),
            "seen again"
        );
        assert_eq!((p.checkout.step.as_ref(), p.cart.len()), (None, 0));
        assert_eq!(
            p.purchases.count, 0,
            "only the shop's server reports purchases"
        );

        p.apply(&order("order-2"), 7);
        p.apply(&step("shipping"), 8);
        p.apply(
            &event(
                "s2",
                EventData::CheckoutStep(CheckoutStep { step: " ".into() }),
            ),
            9,
        );
        assert_eq!((p.checkout.orders, p.checkout.session_orders), (2, 0));
        assert_eq!(
            p.checkout.step.as_deref(),
            Some("shipping"),
            "a blank step is ignored"
        );
    }

    #[test]
    fn cart_adds_merge_and_removes_drop_lines() {
        let mut p = Profile::new("visitor-1");
        let add = |id: &str, q: u32| {
            event(
                "s1",
                EventData::AddToCart(AddToCart {
                    product: product(id, 10.0),
                    quantity: q,
                }),
            )
        };
        p.apply(&add("a", 1), 1);
        p.apply(&add("a", 2), 2);
        p.apply(&add("b", 1), 3);
        assert_eq!(p.cart_items(), 4);
        assert_eq!(p.cart_value(), 40.0);
        p.apply(
            &event(
                "s1",
                EventData::RemoveFromCart(RemoveFromCart {
                    product_id: "a".into(),
                    quantity: 3,
                }),
            ),
            4,
        );
        assert_eq!(p.cart.len(), 1);
        assert_eq!(p.lifecycle(4), Lifecycle::Cart);
    }

    #[test]
    fn sessions_count_distinct_session_ids() {
        let mut p = Profile::new("visitor-1");
        let view = |s: &str| {
            event(
                s,
                EventData::PageView(PageView {
                    page: PageContext {
                        url: "http://x/".into(),
                        path: "/".into(),
                        kind: Some("home".into()),
                        locale: None,
                    },
                    title: None,
                    referrer: None,
                }),
            )
        };
        p.apply(&view("s1"), 10);
        p.apply(&view("s1"), 20);
        p.apply(&view("s2"), 30);
        assert_eq!(p.sessions, 2);
        assert_eq!(p.page_views, 3);
        assert_eq!(p.session_page_views, 1);
        assert_eq!(p.first_seen_ms, 10);
        assert_eq!(p.lifecycle(30), Lifecycle::Engaged);
    }

    #[test]
    fn impressions_count_per_session() {
        let mut p = Profile::new("visitor-1");
        let seen = |s: &str| {
            event(
                s,
                EventData::Impression(ExperienceRef {
                    rule: "welcome".into(),
                    experience: "welcome-bar".into(),
                    variant: None,
                    segment: None,
                }),
            )
        };
        p.apply(&seen("s1"), 1);
        p.apply(&seen("s1"), 2);
        p.apply(&seen("s2"), 3);
        let h = &p.prompts["welcome-bar"];
        assert_eq!((h.impressions, h.session_impressions), (3, 1));
    }

    #[test]
    fn customers_drift_to_at_risk_and_lapsed() {
        let mut p = Profile::new("visitor-1");
        p.purchases.count = 2;
        p.last_seen_ms = 1;
        assert_eq!(p.lifecycle(DAY_MS), Lifecycle::Repeat);
        assert_eq!(p.lifecycle(61 * DAY_MS), Lifecycle::AtRisk);
        assert_eq!(p.lifecycle(200 * DAY_MS), Lifecycle::Lapsed);
    }

    #[test]
    fn a_customer_back_after_months_is_still_at_risk_on_that_visit() {
        let mut p = Profile::new("visitor-1");
        p.record_purchase(80.0, 0);
        p.apply(
            &event(
                "s1",
                EventData::Scroll(rapport_protocol::Scroll { percent: 10 }),
            ),
            0,
        );
        let back = 90 * DAY_MS;
        p.apply(
            &event(
                "s2",
                EventData::Scroll(rapport_protocol::Scroll { percent: 10 }),
            ),
            back,
        );
        assert_eq!(p.days_away(back), 90);
        assert_eq!(p.lifecycle(back), Lifecycle::AtRisk);
    }

    #[test]
    fn answers_update_nps_and_prompt_history() {
        let mut p = Profile::new("visitor-1");
        let answer = rapport_protocol::Answer {
            experience: ExperienceRef {
                rule: "nps".into(),
                experience: "nps-survey".into(),
                variant: None,
                segment: None,
            },
            survey: rapport_protocol::Survey::Nps,
            score: 12,
            comment: Some("great".into()),
        };
        p.apply(&event("s1", EventData::Answer(answer)), 5);
        assert_eq!(p.nps.as_ref().map(|a| a.score), Some(10));
        assert_eq!(p.prompts["nps-survey"].answers, 1);
    }

    #[test]
    fn utm_source_comes_from_the_landing_url() {
        let check = |url: &str, expected: Option<&str>| {
            assert_eq!(query_param(url, "utm_source").as_deref(), expected, "{url}");
        };
        check(
            "https://shop/?utm_source=news%20letter&x=1",
            Some("news letter"),
        );
        check("https://shop/?a=1&utm_source=ads#top", Some("ads"));
        check("https://shop/?utm_source=", None);
        check("https://shop/", None);
    }
}
