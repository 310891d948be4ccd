//! The visitor model: what Rapport knows about one visitor, built by folding events in.
//!
//! The edge stores a [`Profile`] per visitor and calls [`Profile::apply`] for every newly
//! accepted event, with its own clock. Rules never see this struct directly; they read the
//! view made by [`Profile::to_rhai`], whose fields are documented in the README.

use std::collections::{BTreeMap, VecDeque};

#[cfg(test)]
use rapport_protocol::{AddToCart, PageView, RemoveFromCart};
use rapport_protocol::{Event, EventData, ExperienceRef, PageContext, Product};
use serde::{Deserialize, Serialize};

/// How many recent pages and products a profile keeps.
pub const RECENT_LIMIT: usize = 20;
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    pub visitor_id: String,
    /// Edge time of the first and latest accepted event, in ms since the epoch.
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
    /// Distinct sessions seen (a session is the widget's per-tab-group session id).
    pub sessions: u32,
    pub session_id: String,
    pub page_views: u32,
    /// Page views in the current session.
    pub session_page_views: u32,
    pub recent_pages: VecDeque<PageVisit>,
    /// Most recent first; a product viewed again moves to the front.
    pub recent_products: VecDeque<ProductVisit>,
    pub product_views: u32,
    pub cart: Vec<CartLine>,
    pub purchases: Purchases,
    /// Prompt history, by experience id.
    pub prompts: BTreeMap<String, PromptHistory>,
    pub events: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PageVisit {
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    pub at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductVisit {
    pub product: Product,
    pub at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CartLine {
    pub product: Product,
    pub quantity: u32,
}

/// Purchases are trusted facts: only the retailer's backend reports them (server API), so
/// the browser cannot make itself a "customer".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Purchases {
    pub count: u32,
    pub lifetime_value: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_ms: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PromptHistory {
    pub rule: String,
    pub impressions: u32,
    pub clicks: u32,
    pub dismissals: u32,
    /// Impressions in the session named by `session_id`.
    pub session_impressions: u32,
    pub session_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_dismissed_ms: Option<i64>,
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
            Lifecycle::AtRisk => "at_risk",
            Lifecycle::Lapsed => "lapsed",
        }
    }
}

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
        self.last_seen_ms = self.last_seen_ms.max(now_ms);
        if event.session_id != self.session_id {
            self.sessions += 1;
            self.session_id = event.session_id.clone();
            self.session_page_views = 0;
        }
        match &event.data {
            EventData::PageView(view) => self.page_view(&view.page, now_ms),
            EventData::ProductView(view) => self.product_view(&view.product, now_ms),
            EventData::AddToCart(add) => self.add_to_cart(&add.product, add.quantity),
            EventData::RemoveFromCart(remove) => {
                self.remove_from_cart(&remove.product_id, remove.quantity)
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
            }
            EventData::Click(r) => self.prompt(r).clicks += 1,
            EventData::Dismiss(r) => {
                let h = self.prompt(r);
                h.dismissals += 1;
                h.last_dismissed_ms = Some(now_ms);
            }
        }
    }

    fn page_view(&mut self, page: &PageContext, now_ms: i64) {
        self.page_views += 1;
        self.session_page_views += 1;
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
        match self.cart.iter_mut().find(|l| l.product.id == product.id) {
            Some(line) => line.quantity = line.quantity.saturating_add(quantity),
            None => self.cart.push(CartLine {
                product: product.clone(),
                quantity,
            }),
        }
    }

    fn remove_from_cart(&mut self, product_id: &str, quantity: u32) {
        if let Some(line) = self.cart.iter_mut().find(|l| l.product.id == product_id) {
            line.quantity = line.quantity.saturating_sub(quantity.max(1));
        }
        self.cart.retain(|l| l.quantity > 0);
    }

    fn prompt(&mut self, r: &ExperienceRef) -> &mut PromptHistory {
        let h = self.prompts.entry(r.experience.clone()).or_default();
        h.rule.clone_from(&r.rule);
        h
    }

    pub fn cart_items(&self) -> u32 {
        self.cart.iter().map(|l| l.quantity).sum()
    }

    pub fn cart_value(&self) -> f64 {
        self.cart
            .iter()
            .map(|l| l.product.price.unwrap_or(0.0) * f64::from(l.quantity))
            .sum()
    }

    /// The lifecycle stage at `now_ms`. Customers who have not been back for 60 days are at
    /// risk, after 180 days lapsed; before their first purchase, visitors are new, engaged
    /// (two sessions or five pages) or holding a cart.
    pub fn lifecycle(&self, now_ms: i64) -> Lifecycle {
        let idle_days = (now_ms - self.last_seen_ms) / DAY_MS;
        if self.purchases.count > 0 {
            if idle_days >= 180 {
                return Lifecycle::Lapsed;
            }
            if idle_days >= 60 {
                return Lifecycle::AtRisk;
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

    /// The read-only view rules see as `v`. Field names are part of the rule language.
    pub fn to_rhai(&self, now_ms: i64) -> rhai::Dynamic {
        use rhai::{Array, Dynamic, Map};

        fn product_map(p: &Product) -> Map {
            let mut m = Map::new();
            m.insert("id".into(), p.id.clone().into());
            m.insert("name".into(), p.name.clone().unwrap_or_default().into());
            m.insert("price".into(), p.price.unwrap_or(0.0).into());
            m.insert(
                "category".into(),
                p.category.clone().unwrap_or_default().into(),
            );
            let in_stock = p
                .availability
                .as_deref()
                .is_none_or(|a| !a.to_ascii_lowercase().contains("outofstock"));
            m.insert("in_stock".into(), in_stock.into());
            m
        }

        let mut cart = Map::new();
        cart.insert("items".into(), i64::from(self.cart_items()).into());
        cart.insert("value".into(), self.cart_value().into());
        cart.insert(
            "products".into(),
            self.cart
                .iter()
                .map(|l| Dynamic::from_map(product_map(&l.product)))
                .collect::<Array>()
                .into(),
        );

        let mut purchases = Map::new();
        purchases.insert("count".into(), i64::from(self.purchases.count).into());
        purchases.insert("value".into(), self.purchases.lifetime_value.into());
        purchases.insert(
            "days_since_last".into(),
            self.purchases
                .last_ms
                .map_or(-1, |at| (now_ms - at) / DAY_MS)
                .into(),
        );

        let mut prompts = Map::new();
        for (experience, h) in &self.prompts {
            let mut m = Map::new();
            m.insert("seen".into(), i64::from(h.impressions).into());
            m.insert("clicked".into(), i64::from(h.clicks).into());
            m.insert("dismissed".into(), i64::from(h.dismissals).into());
            prompts.insert(experience.as_str().into(), m.into());
        }

        let mut v = Map::new();
        v.insert("visits".into(), i64::from(self.sessions).into());
        v.insert("page_views".into(), i64::from(self.page_views).into());
        v.insert(
            "session_page_views".into(),
            i64::from(self.session_page_views).into(),
        );
        v.insert("product_views".into(), i64::from(self.product_views).into());
        v.insert(
            "recent_products".into(),
            self.recent_products
                .iter()
                .map(|p| Dynamic::from_map(product_map(&p.product)))
                .collect::<Array>()
                .into(),
        );
        v.insert("cart".into(), cart.into());
        v.insert("purchases".into(), purchases.into());
        v.insert("prompts".into(), prompts.into());
        v.insert("lifecycle".into(), self.lifecycle(now_ms).as_str().into());
        Dynamic::from_map(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        }
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
        p.last_seen_ms = 0;
        assert_eq!(p.lifecycle(DAY_MS), Lifecycle::Repeat);
        assert_eq!(p.lifecycle(61 * DAY_MS), Lifecycle::AtRisk);
        assert_eq!(p.lifecycle(200 * DAY_MS), Lifecycle::Lapsed);
    }
}
