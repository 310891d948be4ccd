//! The shop's life, as pure data: who visits the Tidewater demo shop, when, what they do
//! and what they buy. [`Life::new`] draws one visitor's weeks from the plan's seed and the
//! visitor's number alone, so the same seed replays the same history, and the replay
//! (`crate::run`) and the seed's own simulations read the same model.
//!
//! What is planted, on purpose, for the analytics to find (and documented in the README):
//! - the welcome experiment's [`Plan::effect`] arm converts better (+50% by default);
//! - shoppers on Italian pages buy [`ITALIAN_CONVERSION`] as often as everyone else (the
//!   demo rulebook's `italian` segment);
//! - the Merino Wool Throw's page ([`FRUSTRATING_PAGE`]) has a size picker that does not
//!   respond: rage clicks on many of its views, and most who land on it leave at once.
//!
//! Nothing else differs: a visitor's chance to buy on a visiting day is the same whatever
//! they did before, so no other segment is worse than the rest.

/// What to replay.
#[derive(Debug, Clone)]
pub struct Plan {
    pub visitors: usize,
    /// How many days of history, ending at `end_ms`.
    pub days: u32,
    /// The end of the history (now, when seeding): nothing happens after it.
    pub end_ms: i64,
    /// Visitor ids are `{prefix}-{n}`: a new prefix adds new visitors.
    pub prefix: String,
    pub seed: u64,
    /// The chance that a visit leads to a purchase, whatever the visitor was shown.
    pub base_conversion: f64,
    /// The welcome arm that converts better, and by how much (relative: 0.4 is +40%).
    pub effect: (String, f64),
    pub threads: usize,
}

impl Plan {
    /// Six weeks of `visitors` ending at `end_ms`, the welcome's "story" converting 50%
    /// better (the default history is 4,000 visitors).
    pub fn demo(visitors: usize, seed: u64, prefix: &str, end_ms: i64) -> Plan {
        Plan {
            visitors,
            days: 42,
            end_ms,
            prefix: prefix.to_owned(),
            seed,
            base_conversion: BASE_CONVERSION,
            effect: ("story".into(), 0.5),
            threads: 8,
        }
    }

    /// The chance that one visit of a visitor leads to a purchase.
    pub fn conversion(&self, arm: Option<&str>, language: &str) -> f64 {
        let arm = match arm {
            Some(arm) if arm == self.effect.0 => 1.0 + self.effect.1,
            _ => 1.0,
        };
        let market = if language == "it" {
            ITALIAN_CONVERSION
        } else {
            1.0
        };
        (self.base_conversion * arm * market).min(1.0)
    }

    /// Midnight (UTC) `days` days before the end's day: the same seed gives the same
    /// history relative to the days, whatever the hour it is replayed at.
    fn start_ms(&self) -> i64 {
        (self.end_ms.div_euclid(DAY_MS) - i64::from(self.days)) * DAY_MS
    }
}

pub const DAY_MS: i64 = 86_400_000;
/// The demo rulebook's attribution window, within which a purchase converts an enrolment.
pub const ATTRIBUTION_MS: i64 = 7 * DAY_MS;
const MINUTE_MS: i64 = 60_000;

/// The chance that a visit leads to a purchase, by default.
pub const BASE_CONVERSION: f64 = 0.18;
/// Shoppers on Italian pages buy this share as often as everyone else (planted).
pub const ITALIAN_CONVERSION: f64 = 0.6;
/// The page planted to frustrate.
pub const FRUSTRATING_PAGE: &str = "/products/merino-throw.html";
/// The chance that a visitor comes back after a visit.
const RETURN_CHANCE: f64 = 0.5;
/// The most visits one visitor makes.
const MOST_VISITS: usize = 8;

#[derive(Debug)]
pub struct Product {
    pub id: &'static str,
    pub name: &'static str,
    pub price: f64,
    pub category: &'static str,
    pub in_stock: bool,
}

impl Product {
    pub fn path(&self) -> String {
        format!("/products/{}.html", self.id)
    }
}

pub const PRODUCTS: [Product; 4] = [
    Product {
        id: "linen-shirt",
        name: "Linen Shirt",
        price: 59.0,
        category: "shirts",
        in_stock: true,
    },
    Product {
        id: "canvas-tote",
        name: "Waxed Canvas Tote",
        price: 45.0,
        category: "bags",
        in_stock: true,
    },
    Product {
        id: "merino-throw",
        name: "Merino Wool Throw",
        price: 89.0,
        category: "home",
        in_stock: true,
    },
    Product {
        id: "stoneware-mug",
        name: "Stoneware Mug",
        price: 18.0,
        category: "home",
        in_stock: false,
    },
];

/// Queries and how many results the shop finds for each: two find nothing, because the shop
/// does not sell them.
pub const SEARCHES: [(&str, u32); 6] = [
    ("linen", 1),
    ("tote bag", 1),
    ("wool blanket", 1),
    ("wetsuit", 0),
    ("gift card", 0),
    ("mug", 1),
];

pub const COMMENTS: [&str; 4] = [
    "Delivery took far too long",
    "Could not find my size",
    "The checkout kept failing",
    "Prices went up since last time",
];

pub const TICKET_TOPICS: [&str; 3] = ["late delivery", "wrong size", "damaged item"];

/// A page of the visit, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Page {
    Home,
    Product(usize),
    Search(usize),
    Cart,
    Checkout,
}

impl Page {
    pub fn path(&self) -> String {
        match self {
            Page::Home => "/".into(),
            Page::Product(p) => PRODUCTS[*p].path(),
            Page::Search(_) => "/search".into(),
            Page::Cart => "/cart".into(),
            Page::Checkout => "/checkout".into(),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Page::Home => "home",
            Page::Product(_) => "product",
            Page::Search(_) => "search",
            Page::Cart => "cart",
            Page::Checkout => "checkout",
        }
    }
}

/// One visit: a session of pages, from its landing page.
#[derive(Debug, Clone)]
pub struct Visit {
    pub at_ms: i64,
    pub pages: Vec<Page>,
    /// Seconds engaged on each page.
    pub engaged: Vec<u32>,
    /// Whether the shopper rage-clicked on each page (the widget reports one burst of rapid
    /// clicks as one event).
    pub rage_clicks: Vec<bool>,
    /// The product put in the cart on this visit, if any.
    pub added: Option<usize>,
    /// Whether the visit leads to a purchase when the visitor's chance is at least this
    /// draw: the same draw in every arm, so arms differ only by the chance.
    pub buy_draw: f64,
    /// How long after the visit the purchase is reported.
    pub purchase_lag_ms: i64,
    /// What the visitor does with prompts: a click, an answer to a survey.
    pub click_draw: f64,
    pub answer: Option<(u8, Option<&'static str>)>,
    pub exit_intent: bool,
}

impl Visit {
    /// When the visit's last page is left: its pages' engaged seconds, and two seconds
    /// between pages.
    pub fn ends_at_ms(&self) -> i64 {
        self.at_ms
            + self
                .engaged
                .iter()
                .map(|s| i64::from(*s) * 1_000 + 2_000)
                .sum::<i64>()
    }

    /// Left straight after arriving: one page, barely read.
    pub fn bounced(&self) -> bool {
        self.pages.len() == 1 && self.engaged[0] < 10
    }
}

/// What happens to an order after it is placed.
#[derive(Debug, Clone, Copy)]
pub struct Aftercare {
    pub returned_after_ms: Option<i64>,
    pub ticket: Option<(i64, &'static str)>,
    pub quantity: u32,
}

/// One visitor's weeks.
#[derive(Debug, Clone)]
pub struct Life {
    pub number: usize,
    pub language: &'static str,
    pub visits: Vec<Visit>,
    pub aftercare: Vec<Aftercare>,
}

impl Life {
    /// Visitor `n`'s life, from the plan's seed and `n` alone.
    pub fn new(plan: &Plan, n: usize) -> Life {
        let mut rng =
            fastrand::Rng::with_seed(plan.seed ^ (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let language = match rng.f64() {
            x if x < 0.2 => "it",
            x if x < 0.35 => "pt",
            _ => "en",
        };
        let start = plan.start_ms();
        // Arrivals spread over the days, in the shop's waking hours (07:00 to 23:00 UTC).
        let day = i64::from(rng.u32(0..plan.days.max(1)));
        let mut at = start + day * DAY_MS + 7 * 60 * MINUTE_MS + rng.i64(0..16 * 60) * MINUTE_MS;
        let mut visits = Vec::new();
        let mut aftercare = Vec::new();
        let mut first = true;
        // A visit lasts at most about ten minutes: one that would end after the end of the
        // history has not happened yet.
        while at < plan.end_ms - 15 * MINUTE_MS && visits.len() < MOST_VISITS {
            visits.push(visit(&mut rng, at, first));
            aftercare.push(Aftercare {
                returned_after_ms: (rng.f64() < 0.08).then(|| rng.i64(3..=10) * DAY_MS),
                ticket: (rng.f64() < 0.06).then(|| {
                    (
                        rng.i64(1..=5) * DAY_MS,
                        TICKET_TOPICS[rng.usize(..TICKET_TOPICS.len())],
                    )
                }),
                quantity: if rng.f64() < 0.2 { 2 } else { 1 },
            });
            first = false;
            if rng.f64() >= RETURN_CHANCE {
                break;
            }
            // Back after a day or more (about five on average), at another hour.
            let gap_days = 1 + (-(1.0 - rng.f64()).ln() * 4.0) as i64;
            let midnight = (at / DAY_MS + gap_days) * DAY_MS;
            at = midnight + 7 * 60 * MINUTE_MS + rng.i64(0..16 * 60) * MINUTE_MS;
        }
        Life {
            number: n,
            language,
            visits,
            aftercare,
        }
    }
}

fn visit(rng: &mut fastrand::Rng, at_ms: i64, first: bool) -> Visit {
    // Most arrive on the home page; some from an advert for one product.
    let landing = if first && rng.f64() < 0.15 {
        Page::Product(rng.usize(..PRODUCTS.len()))
    } else {
        Page::Home
    };
    let frustrating = |page: &Page| page.path() == FRUSTRATING_PAGE;
    let bounce_chance = if frustrating(&landing) { 0.65 } else { 0.25 };
    let mut pages = vec![landing];
    let mut added = None;
    if rng.f64() >= bounce_chance {
        for _ in 0..rng.usize(1..=3) {
            let product = rng.usize(..PRODUCTS.len());
            pages.push(Page::Product(product));
            if PRODUCTS[product].in_stock && added.is_none() && rng.f64() < 0.3 {
                added = Some(product);
            }
        }
        if rng.f64() < 0.3 {
            pages.push(Page::Search(rng.usize(..SEARCHES.len())));
        }
        if added.is_some() && rng.f64() < 0.5 {
            pages.push(Page::Cart);
            if rng.f64() < 0.4 {
                pages.push(Page::Checkout);
            }
        }
    }
    let bounced = pages.len() == 1;
    let engaged = pages
        .iter()
        .map(|_| {
            if bounced {
                rng.u32(1..8)
            } else {
                rng.u32(12..120)
            }
        })
        .collect();
    let rage_clicks = pages
        .iter()
        .map(|page| {
            let chance = if frustrating(page) { 0.4 } else { 0.03 };
            rng.f64() < chance
        })
        .collect();
    // Purchase lags: 60% the same day, 85% within 3 days, 92% within 6, the rest within 10.
    let lag = match rng.f64() {
        x if x < 0.60 => rng.i64(10..240) * MINUTE_MS,
        x if x < 0.85 => rng.i64(1..=3) * DAY_MS,
        x if x < 0.92 => rng.i64(4..=6) * DAY_MS,
        _ => rng.i64(7..=10) * DAY_MS,
    };
    let answer = (rng.f64() < 0.6).then(|| {
        let score = match rng.f64() {
            x if x < 0.45 => rng.u8(9..=10),
            x if x < 0.75 => rng.u8(7..=8),
            _ => rng.u8(0..=6),
        };
        let comment =
            (score <= 6 && rng.f64() < 0.5).then(|| COMMENTS[rng.usize(..COMMENTS.len())]);
        (score, comment)
    });
    Visit {
        at_ms,
        pages,
        engaged,
        rage_clicks,
        added,
        buy_draw: rng.f64(),
        purchase_lag_ms: lag,
        click_draw: rng.f64(),
        answer,
        exit_intent: rng.f64() < 0.3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> Plan {
        Plan::demo(2_000, 5, "t", 1_790_000_000_000)
    }

    #[test]
    fn the_planted_effects_lift_one_arm_and_lower_one_market() {
        let plan = plan();
        let base = plan.base_conversion;
        assert!((plan.conversion(Some("story"), "en") - base * 1.5).abs() < 1e-12);
        assert_eq!(plan.conversion(Some("offer"), "en"), base);
        assert_eq!(plan.conversion(None, "pt"), base);
        assert!((plan.conversion(None, "it") - base * ITALIAN_CONVERSION).abs() < 1e-12);
    }

    #[test]
    fn lives_stay_inside_the_history_in_order_and_replay_the_same() {
        let plan = plan();
        let mut visits = 0;
        let mut returning = 0;
        for n in 0..plan.visitors {
            let life = Life::new(&plan, n);
            assert!(!life.visits.is_empty());
            assert!(life.visits.windows(2).all(|w| w[0].at_ms < w[1].at_ms));
            assert!(life
                .visits
                .iter()
                .all(|v| v.at_ms >= plan.start_ms() && v.ends_at_ms() < plan.end_ms));
            visits += life.visits.len();
            returning += usize::from(life.visits.len() > 1);
            assert_eq!(Life::new(&plan, n).visits.len(), life.visits.len());
        }
        // About two visits each, and about half come back at least once.
        let per_visitor = visits as f64 / plan.visitors as f64;
        assert!((1.6..2.2).contains(&per_visitor), "{per_visitor}");
        let back = returning as f64 / plan.visitors as f64;
        assert!((0.4..0.55).contains(&back), "{back}");
    }

    #[test]
    fn the_frustrating_page_loses_more_landings_and_gets_more_rage_clicks() {
        let plan = plan();
        let (mut landings, mut exits, mut views, mut rage) =
            ([0.0; 2], [0.0; 2], [0.0; 2], [0.0; 2]);
        for n in 0..plan.visitors {
            for visit in Life::new(&plan, n).visits {
                let first = usize::from(visit.pages[0].path() == FRUSTRATING_PAGE);
                landings[first] += 1.0;
                exits[first] += f64::from(u8::from(visit.bounced()));
                for (page, clicks) in visit.pages.iter().zip(&visit.rage_clicks) {
                    let at = usize::from(page.path() == FRUSTRATING_PAGE);
                    views[at] += 1.0;
                    rage[at] += f64::from(u8::from(*clicks));
                }
            }
        }
        assert!(exits[1] / landings[1] > 2.0 * exits[0] / landings[0]);
        assert!(rage[1] / views[1] > 5.0 * rage[0] / views[0]);
    }
}
