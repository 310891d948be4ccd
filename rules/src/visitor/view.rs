//! The visitor as rules see it: `v`, a registered Rhai type whose fields are getters.
//!
//! Handing Rhai a map would mean building every field for every decision and copying the
//! whole map each time a condition is called; a registered type is a reference-counted
//! pointer, and each getter computes only what a rule actually reads. A misspelt field is
//! still an error ("unknown property"), reported by the compiler's probe runs.
//!
//! The field names are part of the rule language; the README lists them.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use rapport_protocol::Product;
use rhai::{Array, Dynamic, Engine, Map};

use crate::visitor::profile::{is_in_stock, Profile, SurveyAnswer, DAY_MS};

/// What a decision reads from the profile, copied once per decision.
#[derive(Debug)]
struct Data {
    profile_summary: Summary,
    cart: Vec<ProductView>,
    recent_products: Vec<ProductView>,
    traits: BTreeMap<String, serde_json::Value>,
    prompts: Vec<(String, [i64; 5])>,
    segments: RefCell<Array>,
}

/// The scalar parts of the profile.
#[derive(Debug)]
struct Summary {
    id: String,
    identified: bool,
    visits: i64,
    days_away: i64,
    page_views: i64,
    session_page_views: i64,
    product_views: i64,
    search_count: i64,
    zero_result_searches: i64,
    last_query: String,
    last_results: i64,
    scroll: i64,
    engaged_seconds: i64,
    session_engaged_seconds: i64,
    rage_clicks: i64,
    purchase_count: i64,
    purchase_value: f64,
    purchase_returns: i64,
    days_since_purchase: i64,
    support_tickets: i64,
    open_tickets: i64,
    days_since_ticket: i64,
    nps: [i64; 2],
    csat: [i64; 2],
    device: String,
    locale: String,
    language: String,
    country: String,
    utm_source: String,
    utm_campaign: String,
    consent: [bool; 2],
    lifecycle: &'static str,
    cart_items: i64,
    cart_value: f64,
    checkout_step: String,
    minutes_since_step: i64,
    session_orders: i64,
}

/// `v`.
#[derive(Debug, Clone)]
pub struct Visitor(Rc<Data>);
/// `v.cart`.
#[derive(Debug, Clone)]
pub struct Cart(Rc<Data>);
/// `v.purchases`.
#[derive(Debug, Clone)]
pub struct Purchases(Rc<Data>);
/// `v.support`.
#[derive(Debug, Clone)]
pub struct Support(Rc<Data>);
/// `v.checkout`.
#[derive(Debug, Clone)]
pub struct Checkout(Rc<Data>);
/// `v.searches`.
#[derive(Debug, Clone)]
pub struct Searches(Rc<Data>);
/// A product in `v.recent_products` or `v.cart.products`.
#[derive(Debug, Clone)]
pub struct ProductView(Rc<Product>);

impl ProductView {
    pub fn product(&self) -> &Product {
        &self.0
    }
}

impl Cart {
    /// The ids of what is in the cart, in its order.
    pub(crate) fn product_ids(&self) -> Vec<String> {
        self.0.cart.iter().map(|p| p.0.id.clone()).collect()
    }
}

/// `v.nps` and `v.csat`: score (or -1) and days since the answer (or -1).
#[derive(Debug, Clone)]
pub struct Survey([i64; 2]);

/// The language of a tag, lower-case: `it` for `it-IT` or `IT`.
fn language_of(tag: &str) -> String {
    tag.split(['-', '_'])
        .next()
        .unwrap_or("")
        .to_ascii_lowercase()
}

fn days(now_ms: i64, at_ms: Option<i64>) -> i64 {
    at_ms.map_or(-1, |at| (now_ms - at).max(0) / DAY_MS)
}

fn survey(now_ms: i64, answer: &Option<SurveyAnswer>) -> [i64; 2] {
    match answer {
        Some(a) => [i64::from(a.score), days(now_ms, Some(a.at_ms))],
        None => [-1, -1],
    }
}

impl Visitor {
    pub fn new(profile: &Profile, now_ms: i64) -> Visitor {
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        let last_search = profile.searches.front();
        let consent = profile.consent;
        let summary = Summary {
            id: profile.visitor_id.clone(),
            identified: profile.customer_id.is_some(),
            visits: i64::from(profile.sessions),
            days_away: profile.days_away(now_ms),
            page_views: i64::from(profile.page_views),
            session_page_views: i64::from(profile.session_page_views),
            product_views: i64::from(profile.product_views),
            search_count: i64::from(profile.search_count),
            zero_result_searches: i64::from(profile.zero_result_searches),
            last_query: last_search.map(|s| s.query.clone()).unwrap_or_default(),
            last_results: last_search.and_then(|s| s.results).map_or(-1, i64::from),
            scroll: i64::from(profile.page_scroll),
            engaged_seconds: i64::try_from(profile.engaged_seconds).unwrap_or(i64::MAX),
            session_engaged_seconds: i64::try_from(profile.session_engaged_seconds)
                .unwrap_or(i64::MAX),
            rage_clicks: i64::from(profile.session_rage_clicks),
            purchase_count: i64::from(profile.purchases.count),
            purchase_value: profile.purchases.lifetime_value,
            purchase_returns: i64::from(profile.purchases.returns),
            support_tickets: i64::from(profile.support.tickets),
            open_tickets: i64::from(profile.support.open_tickets),
            days_since_ticket: days(now_ms, profile.support.last_ms),
            days_since_purchase: days(now_ms, profile.purchases.last_ms),
            nps: survey(now_ms, &profile.nps),
            csat: survey(now_ms, &profile.csat),
            device: text(&profile.device),
            language: language_of(profile.locale.as_deref().unwrap_or("")),
            locale: text(&profile.locale),
            country: text(&profile.country),
            utm_source: text(&profile.utm_source),
            utm_campaign: text(&profile.utm_campaign),
            consent: [
                consent.is_none_or(|c| c.analytics),
                consent.is_none_or(|c| c.personalization),
            ],
            lifecycle: profile.lifecycle(now_ms).as_str(),
            checkout_step: text(&profile.checkout.step),
            minutes_since_step: profile
                .checkout
                .step_ms
                .map_or(-1, |at| (now_ms - at).max(0) / 60_000),
            session_orders: i64::from(profile.checkout.session_orders),
            cart_items: i64::from(profile.cart_items()),
            cart_value: profile.cart_value(),
        };
        Visitor(Rc::new(Data {
            profile_summary: summary,
            cart: profile
                .cart
                .iter()
                .map(|l| ProductView(Rc::new(l.product.clone())))
                .collect(),
            recent_products: profile
                .recent_products
                .iter()
                .map(|p| ProductView(Rc::new(p.product.clone())))
                .collect(),
            traits: profile.traits.clone(),
            prompts: profile
                .prompts
                .iter()
                .map(|(id, h)| {
                    let counts = [
                        i64::from(h.impressions),
                        i64::from(h.clicks),
                        i64::from(h.dismissals),
                        i64::from(h.answers),
                        days(now_ms, h.last_seen_ms),
                    ];
                    (id.clone(), counts)
                })
                .collect(),
            segments: RefCell::new(Array::new()),
        }))
    }

    /// The visitor on `page`: `v.locale` and `v.language` are the page's when it declares
    /// one (`<html lang>`), in production and in test cases alike.
    pub fn on_page(
        profile: &Profile,
        page: &rapport_protocol::PageContext,
        now_ms: i64,
    ) -> Visitor {
        let mut visitor = Visitor::new(profile, now_ms);
        if let Some(locale) = page.locale.as_deref().filter(|l| !l.is_empty()) {
            if let Some(data) = Rc::get_mut(&mut visitor.0) {
                data.profile_summary.language = language_of(locale);
                data.profile_summary.locale = locale.to_owned();
            }
        }
        visitor
    }

    /// Makes `v.segments` available to rules (segments are decided before rules run).
    pub fn set_segments(&self, segments: &[String]) {
        *self.0.segments.borrow_mut() = segments.iter().map(|s| s.as_str().into()).collect();
    }

    /// The products the visitor viewed lately, the latest first.
    pub(crate) fn recent_product_ids(&self) -> Vec<String> {
        self.0
            .recent_products
            .iter()
            .map(|p| p.0.id.clone())
            .collect()
    }

    fn s(&self) -> &Summary {
        &self.0.profile_summary
    }
}

/// Registers `Visitor` and its parts with their getters. Called by the engine constructor.
pub fn register(engine: &mut Engine) {
    engine
        .register_type_with_name::<Visitor>("Visitor")
        .register_get("id", |v: &mut Visitor| v.s().id.clone())
        .register_get("identified", |v: &mut Visitor| v.s().identified)
        .register_get("visits", |v: &mut Visitor| v.s().visits)
        .register_get("days_away", |v: &mut Visitor| v.s().days_away)
        .register_get("page_views", |v: &mut Visitor| v.s().page_views)
        .register_get("session_page_views", |v: &mut Visitor| {
            v.s().session_page_views
        })
        .register_get("product_views", |v: &mut Visitor| v.s().product_views)
        .register_get("scroll", |v: &mut Visitor| v.s().scroll)
        .register_get("engaged_seconds", |v: &mut Visitor| v.s().engaged_seconds)
        .register_get("session_engaged_seconds", |v: &mut Visitor| {
            v.s().session_engaged_seconds
        })
        .register_get("rage_clicks", |v: &mut Visitor| v.s().rage_clicks)
        .register_get("device", |v: &mut Visitor| v.s().device.clone())
        .register_get("locale", |v: &mut Visitor| v.s().locale.clone())
        .register_get("language", |v: &mut Visitor| v.s().language.clone())
        .register_get("country", |v: &mut Visitor| v.s().country.clone())
        .register_get("lifecycle", |v: &mut Visitor| v.s().lifecycle)
        .register_get("cart", |v: &mut Visitor| Cart(Rc::clone(&v.0)))
        .register_get("purchases", |v: &mut Visitor| Purchases(Rc::clone(&v.0)))
        .register_get("support", |v: &mut Visitor| Support(Rc::clone(&v.0)))
        .register_get("checkout", |v: &mut Visitor| Checkout(Rc::clone(&v.0)))
        .register_get("searches", |v: &mut Visitor| Searches(Rc::clone(&v.0)))
        .register_get("nps", |v: &mut Visitor| Survey(v.s().nps))
        .register_get("csat", |v: &mut Visitor| Survey(v.s().csat))
        .register_get("segments", |v: &mut Visitor| v.0.segments.borrow().clone());
    register_collections(engine);
    register_parts(engine);
}

/// `v`'s lists and maps: recent products, traits, prompts, campaign and consent.
fn register_collections(engine: &mut Engine) {
    engine
        .register_get("recent_products", |v: &mut Visitor| {
            v.0.recent_products
                .iter()
                .cloned()
                .map(Dynamic::from)
                .collect::<Array>()
        })
        .register_get("traits", |v: &mut Visitor| {
            v.0.traits
                .iter()
                .map(|(k, value)| {
                    let value = rhai::serde::to_dynamic(value).unwrap_or(Dynamic::UNIT);
                    (k.as_str().into(), value)
                })
                .collect::<Map>()
        })
        .register_get("prompts", |v: &mut Visitor| {
            v.0.prompts
                .iter()
                .map(
                    |(id, [seen, clicked, dismissed, answered, days_since_seen])| {
                        let mut m = Map::new();
                        m.insert("seen".into(), (*seen).into());
                        m.insert("clicked".into(), (*clicked).into());
                        m.insert("dismissed".into(), (*dismissed).into());
                        m.insert("answered".into(), (*answered).into());
                        m.insert("days_since_seen".into(), (*days_since_seen).into());
                        (id.as_str().into(), m.into())
                    },
                )
                .collect::<Map>()
        })
        .register_get("utm", |v: &mut Visitor| {
            let mut m = Map::new();
            m.insert("source".into(), v.s().utm_source.clone().into());
            m.insert("campaign".into(), v.s().utm_campaign.clone().into());
            m
        })
        .register_get("consent", |v: &mut Visitor| {
            let mut m = Map::new();
            m.insert("analytics".into(), v.s().consent[0].into());
            m.insert("personalization".into(), v.s().consent[1].into());
            m
        });
}

/// The types `v`'s fields lead to: the cart, a product, purchases, support, the checkout,
/// searches and a survey answer.
fn register_parts(engine: &mut Engine) {
    engine
        .register_type_with_name::<Cart>("Cart")
        .register_get("items", |c: &mut Cart| c.0.profile_summary.cart_items)
        .register_get("value", |c: &mut Cart| c.0.profile_summary.cart_value)
        .register_get("products", |c: &mut Cart| {
            c.0.cart
                .iter()
                .cloned()
                .map(Dynamic::from)
                .collect::<Array>()
        });
    engine
        .register_type_with_name::<ProductView>("Product")
        .register_get("id", |p: &mut ProductView| p.0.id.clone())
        .register_get("name", |p: &mut ProductView| {
            p.0.name.clone().unwrap_or_default()
        })
        .register_get("price", |p: &mut ProductView| p.0.price.unwrap_or(0.0))
        .register_get("category", |p: &mut ProductView| {
            p.0.category.clone().unwrap_or_default()
        })
        .register_get("url", |p: &mut ProductView| {
            p.0.url.clone().unwrap_or_default()
        })
        .register_get("in_stock", |p: &mut ProductView| is_in_stock(&p.0));
    engine
        .register_type_with_name::<Purchases>("Purchases")
        .register_get("count", |p: &mut Purchases| {
            p.0.profile_summary.purchase_count
        })
        .register_get("value", |p: &mut Purchases| {
            p.0.profile_summary.purchase_value
        })
        .register_get("days_since_last", |p: &mut Purchases| {
            p.0.profile_summary.days_since_purchase
        })
        .register_get("returns", |p: &mut Purchases| {
            p.0.profile_summary.purchase_returns
        });
    engine
        .register_type_with_name::<Support>("Support")
        .register_get("tickets", |s: &mut Support| {
            s.0.profile_summary.support_tickets
        })
        .register_get("open_tickets", |s: &mut Support| {
            s.0.profile_summary.open_tickets
        })
        .register_get("days_since_last", |s: &mut Support| {
            s.0.profile_summary.days_since_ticket
        });
    engine
        .register_type_with_name::<Checkout>("Checkout")
        .register_get("step", |c: &mut Checkout| {
            c.0.profile_summary.checkout_step.clone()
        })
        .register_get("minutes_since_step", |c: &mut Checkout| {
            c.0.profile_summary.minutes_since_step
        })
        .register_get("session_orders", |c: &mut Checkout| {
            c.0.profile_summary.session_orders
        });
    engine
        .register_type_with_name::<Searches>("Searches")
        .register_get("count", |s: &mut Searches| s.0.profile_summary.search_count)
        .register_get("zero_results", |s: &mut Searches| {
            s.0.profile_summary.zero_result_searches
        })
        .register_get("last_query", |s: &mut Searches| {
            s.0.profile_summary.last_query.clone()
        })
        .register_get("last_results", |s: &mut Searches| {
            s.0.profile_summary.last_results
        });
    engine
        .register_type_with_name::<Survey>("Survey")
        .register_get("answered", |s: &mut Survey| s.0[0] >= 0)
        .register_get("score", |s: &mut Survey| s.0[0])
        .register_get("days_ago", |s: &mut Survey| s.0[1]);
}

/// What a visitor field holds, for reading scripts without running them.
#[derive(Debug, Clone, Copy)]
pub enum Field {
    /// A number, text or true/false (the name says which, for the docs and the console).
    Value(&'static str),
    /// A record with these fields.
    Object(&'static [(&'static str, Field)]),
    /// A list or map whose entries (`[0]`, `["id"]`) have these fields.
    Entries(&'static [(&'static str, Field)]),
    /// A map whose keys the shop chooses (`v.traits`).
    Open,
}

const PRODUCT: &[(&str, Field)] = &[
    ("id", Field::Value("text")),
    ("name", Field::Value("text")),
    ("price", Field::Value("number")),
    ("category", Field::Value("text")),
    ("url", Field::Value("text")),
    ("in_stock", Field::Value("true/false")),
];

const SURVEY: &[(&str, Field)] = &[
    ("answered", Field::Value("true/false")),
    ("score", Field::Value("whole number")),
    ("days_ago", Field::Value("whole number")),
];

/// Every field of `v`, as [`register`] defines them; a test keeps the two in step.
pub const MODEL: &[(&str, Field)] = &[
    ("id", Field::Value("text")),
    ("identified", Field::Value("true/false")),
    ("visits", Field::Value("whole number")),
    ("days_away", Field::Value("whole number")),
    ("page_views", Field::Value("whole number")),
    ("session_page_views", Field::Value("whole number")),
    ("product_views", Field::Value("whole number")),
    ("scroll", Field::Value("whole number")),
    ("engaged_seconds", Field::Value("whole number")),
    ("session_engaged_seconds", Field::Value("whole number")),
    ("rage_clicks", Field::Value("whole number")),
    ("device", Field::Value("text")),
    ("locale", Field::Value("text")),
    ("language", Field::Value("text")),
    ("country", Field::Value("text")),
    ("lifecycle", Field::Value("text")),
    (
        "cart",
        Field::Object(&[
            ("items", Field::Value("whole number")),
            ("value", Field::Value("number")),
            ("products", Field::Entries(PRODUCT)),
        ]),
    ),
    (
        "purchases",
        Field::Object(&[
            ("count", Field::Value("whole number")),
            ("value", Field::Value("number")),
            ("days_since_last", Field::Value("whole number")),
            ("returns", Field::Value("whole number")),
        ]),
    ),
    (
        "support",
        Field::Object(&[
            ("tickets", Field::Value("whole number")),
            ("open_tickets", Field::Value("whole number")),
            ("days_since_last", Field::Value("whole number")),
        ]),
    ),
    (
        "checkout",
        Field::Object(&[
            ("step", Field::Value("text")),
            ("minutes_since_step", Field::Value("whole number")),
            ("session_orders", Field::Value("whole number")),
        ]),
    ),
    (
        "searches",
        Field::Object(&[
            ("count", Field::Value("whole number")),
            ("zero_results", Field::Value("whole number")),
            ("last_query", Field::Value("text")),
            ("last_results", Field::Value("whole number")),
        ]),
    ),
    ("nps", Field::Object(SURVEY)),
    ("csat", Field::Object(SURVEY)),
    ("segments", Field::Entries(&[])),
    ("recent_products", Field::Entries(PRODUCT)),
    ("traits", Field::Open),
    (
        "prompts",
        Field::Entries(&[
            ("seen", Field::Value("whole number")),
            ("clicked", Field::Value("whole number")),
            ("dismissed", Field::Value("whole number")),
            ("answered", Field::Value("whole number")),
            ("days_since_seen", Field::Value("whole number")),
        ]),
    ),
    (
        "utm",
        Field::Object(&[
            ("source", Field::Value("text")),
            ("campaign", Field::Value("text")),
        ]),
    ),
    (
        "consent",
        Field::Object(&[
            ("analytics", Field::Value("true/false")),
            ("personalization", Field::Value("true/false")),
        ]),
    ),
];
