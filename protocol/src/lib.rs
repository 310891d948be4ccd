//! The wire format between the widget, the edge and the rules engine.
//!
//! Everything that crosses the network is defined here and nowhere else, so the widget (which
//! must stay tiny and never link Rhai) and the edge agree by construction. The types are plain
//! data: validation that needs more than the type system lives in [`validate_id`] and in the
//! edge's request parsing.

use serde::{Deserialize, Serialize};

#[cfg(feature = "server")]
pub mod server;

/// The largest single event the edge accepts, in bytes of JSON.
pub const MAX_EVENT_BYTES: usize = 32 * 1024;
/// The largest batch the edge accepts, in bytes of JSON.
pub const MAX_BATCH_BYTES: usize = 512 * 1024;
/// The most events the widget puts in one batch.
pub const MAX_BATCH_EVENTS: usize = 50;
/// The header a local demo's seed dates a browser call with (milliseconds since the epoch),
/// which only an edge with the demo-only `DEMO_CLOCK` takes.
pub const DEMO_TIME_HEADER: &str = "x-rapport-demo-time";

/// A batch of events sent by the widget to `POST /v1/events`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventBatch {
    pub site: String,
    pub visitor_id: String,
    pub events: Vec<Event>,
}

/// One thing a shopper did. `id` is chosen by the widget and makes ingestion idempotent:
/// the edge stores an id once, however often it is sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub id: String,
    pub session_id: String,
    /// The shopper's clock in milliseconds since the epoch. Informational only: the edge
    /// stamps its own time on arrival and never trusts this one for ordering or decisions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ts: Option<f64>,
    #[serde(flatten)]
    pub data: EventData,
}

/// What happened, tagged by `type` on the wire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventData {
    PageView(PageView),
    ProductView(ProductView),
    AddToCart(AddToCart),
    RemoveFromCart(RemoveFromCart),
    Search(Search),
    /// The whole cart as the shop holds it, replacing what the add and remove events built
    /// (a cart restored from the shopper's account, or changed on another device).
    Cart(CartContents),
    /// A step of the checkout reached (`shipping`, `payment`, `review`...).
    CheckoutStep(CheckoutStep),
    /// The shop's order confirmation page: the shopper says an order went through. Only a
    /// signal for the session (the cart is done, the checkout finished); purchases that count
    /// as revenue and conversions come from the shop's server.
    OrderComplete(OrderComplete),
    Scroll(Scroll),
    Engagement(Engagement),
    RageClick(RageClick),
    Impression(ExperienceRef),
    Click(Clicked),
    Dismiss(ExperienceRef),
    /// The visitor is in an experiment's control group on this page: nothing was shown.
    Exposure(ExperienceRef),
    Answer(Answer),
    Consent(Consent),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PageView {
    pub page: PageContext,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referrer: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductView {
    pub product: Product,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AddToCart {
    pub product: Product,
    #[serde(default = "one")]
    pub quantity: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemoveFromCart {
    pub product_id: String,
    #[serde(default = "one")]
    pub quantity: u32,
}

/// A search on the shop, with the number of results when the page says it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Search {
    pub query: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub results: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CartContents {
    /// Each line: a product and its quantity, as in an `add_to_cart`.
    pub items: Vec<AddToCart>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckoutStep {
    pub step: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderComplete {
    pub order_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
}

/// The deepest the shopper scrolled on the current page, in percent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scroll {
    pub percent: u8,
}

/// Seconds the page was visible and the shopper active since the last report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Engagement {
    pub seconds: u32,
}

/// Several quick clicks on the same spot: a sign of frustration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RageClick {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

/// Which survey an answer belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Survey {
    /// Net Promoter Score: 0 to 10.
    Nps,
    /// Customer satisfaction: 1 to 5.
    Csat,
}

/// A shopper's answer to an NPS or CSAT prompt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Answer {
    #[serde(flatten)]
    pub experience: ExperienceRef,
    pub survey: Survey,
    pub score: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// What the shopper agreed to, as the site's consent tool reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Consent {
    pub analytics: bool,
    pub personalization: bool,
}

impl EventData {
    /// The `type` tag as it appears on the wire.
    pub fn kind(&self) -> &'static str {
        match self {
            EventData::PageView(_) => "page_view",
            EventData::ProductView(_) => "product_view",
            EventData::AddToCart(_) => "add_to_cart",
            EventData::RemoveFromCart(_) => "remove_from_cart",
            EventData::Search(_) => "search",
            EventData::Cart(_) => "cart",
            EventData::CheckoutStep(_) => "checkout_step",
            EventData::OrderComplete(_) => "order_complete",
            EventData::Scroll(_) => "scroll",
            EventData::Engagement(_) => "engagement",
            EventData::RageClick(_) => "rage_click",
            EventData::Impression(_) => "impression",
            EventData::Click(_) => "click",
            EventData::Dismiss(_) => "dismiss",
            EventData::Exposure(_) => "exposure",
            EventData::Answer(_) => "answer",
            EventData::Consent(_) => "consent",
        }
    }

    /// Reads the payload of an event of type `kind` from `deserializer`, for diagnostics.
    ///
    /// Serde reads a tagged, flattened event through a buffer, which loses track of where a
    /// bad field was. Reading the payload again as its own struct, through a deserializer
    /// that tracks paths, names the field (`product.price`). `Ok(false)` means `kind` is not
    /// an event type.
    pub fn check_payload<'de, D: serde::Deserializer<'de>>(
        kind: &str,
        deserializer: D,
    ) -> Result<bool, D::Error> {
        fn read<'de, T: Deserialize<'de>, D: serde::Deserializer<'de>>(
            d: D,
        ) -> Result<bool, D::Error> {
            T::deserialize(d).map(|_| true)
        }
        match kind {
            "page_view" => read::<PageView, D>(deserializer),
            "product_view" => read::<ProductView, D>(deserializer),
            "add_to_cart" => read::<AddToCart, D>(deserializer),
            "remove_from_cart" => read::<RemoveFromCart, D>(deserializer),
            "search" => read::<Search, D>(deserializer),
            "cart" => read::<CartContents, D>(deserializer),
            "checkout_step" => read::<CheckoutStep, D>(deserializer),
            "order_complete" => read::<OrderComplete, D>(deserializer),
            "scroll" => read::<Scroll, D>(deserializer),
            "engagement" => read::<Engagement, D>(deserializer),
            "rage_click" => read::<RageClick, D>(deserializer),
            "impression" | "dismiss" | "exposure" => read::<ExperienceRef, D>(deserializer),
            "click" => read::<Clicked, D>(deserializer),
            "answer" => read::<Answer, D>(deserializer),
            "consent" => read::<Consent, D>(deserializer),
            _ => Ok(false),
        }
    }
}

fn one() -> u32 {
    1
}

/// A product as the widget reads it from the page (JSON-LD, microdata or data attributes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Product {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability: Option<String>,
    /// Where the product's page is, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Its main picture, when the page gives one (https or relative links only are shown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
}

/// The rule an exposure names for the universal holdout (`settings.holdout`): none, for the
/// programme of all personalised experiences against none. Its arms are
/// [`HOLDOUT_ARM`] and [`PERSONALISED_ARM`].
pub const PROGRAMME: &str = "";
/// The programme arm that is never shown a personalised experience.
pub const HOLDOUT_ARM: &str = "holdout";
/// The programme arm that is shown what the rules decide.
pub const PERSONALISED_ARM: &str = "personalised";

/// Which experience an impression, click or dismissal is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExperienceRef {
    pub rule: String,
    pub experience: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// The audience the rule matched the visitor in, for reports (see `Experience`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment: Option<String>,
}

/// A click on an experience: its call to action, or on a recommendation one of its
/// products (which one, its place in the row from 1, and the strategy that chose it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Clicked {
    #[serde(flatten)]
    pub experience: ExperienceRef,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<String>,
}

impl From<ExperienceRef> for Clicked {
    fn from(experience: ExperienceRef) -> Clicked {
        Clicked {
            experience,
            product: None,
            position: None,
            strategy: None,
        }
    }
}

/// Where the shopper is: sent with page views and with every decision request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct PageContext {
    pub url: String,
    pub path: String,
    /// The page's kind as the shop declares it (`<body data-rapport-page="product">`):
    /// `home`, `category`, `product`, `search`, `cart`, `checkout`, or anything else.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The page language, from `<html lang>`, used to pick a translation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
}

/// The body of `POST /v1/decide`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecideRequest {
    pub site: String,
    /// Empty (or absent) with `session_id` for a shopper who has not consented yet: the widget
    /// keeps no identifier then, and the edge decides for a visitor it knows nothing about.
    #[serde(default)]
    pub visitor_id: String,
    #[serde(default)]
    pub session_id: String,
    pub page: PageContext,
    /// A preview token from the admin API: forces its experience in and adds the trace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preview: Option<String>,
    /// What the page knows of the shopper's consent now (the site's `consent` command, or
    /// Global Privacy Control / Do Not Track): it overrides the stored one for this decision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent: Option<Consent>,
}

/// `POST /v1/forget`: the shopper asks to be forgotten (the widget's `forget` command).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForgetRequest {
    pub site: String,
    pub visitor_id: String,
}

/// `POST /v1/identify`: the widget's `identify` command. The shop's own server signs the
/// customer id (HMAC-SHA256 under the site's server key, in hex) when it renders the page for
/// a signed-in customer, so a shopper cannot claim someone else's account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdentifyRequest {
    pub site: String,
    pub visitor_id: String,
    pub customer_id: String,
    pub signature: String,
}

/// The answer to a decision request: what to show, best first, at most one per placement.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub experiences: Vec<Experience>,
    /// Experiments this visitor takes part in on the control side: nothing is shown, but the
    /// widget arms the same trigger the treatment would have, and reports the exposure when
    /// it fires, so that every arm is counted at the same moment.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub controls: Vec<Control>,
    /// The version of the rulebook that decided.
    #[serde(default)]
    pub rulebook: String,
}

/// An arm that shows nothing on this page (an experiment's control, or the programme's
/// holdout): what to report, and when. It is enrolled by the same rule as the treatment: its
/// exposure is reported only where the treatment would have been drawn, when its trigger
/// fires, with the overlay's turn, the session's budget and the slot checked on the page as
/// for the treatment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Control {
    #[serde(flatten)]
    pub reference: ExperienceRef,
    /// The trigger the treatment shows on: the exposure is reported when it fires.
    pub trigger: Trigger,
    /// The kind the treatment would have shown as, which decides what it waits for on the
    /// page: an overlay's turn, the budget, a slot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shows_as: Option<ExperienceKind>,
    /// The slot an inline treatment would have filled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot: Option<String>,
    /// The treatment's budget (see [`Experience::budget`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<u32>,
    /// Whether the arm keeps the place the treatment would take (the overlay's turn, a
    /// prompt of the budget), or lets lower prompts have it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub holds: bool,
}

/// One experience chosen for the visitor, with everything the widget needs to show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Experience {
    pub rule: String,
    pub experience: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// The audience the rule matched the visitor in: its segment names joined by `+`,
    /// `everyone`, or `custom` for a `who` condition. Reports group by it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment: Option<String>,
    pub kind: ExperienceKind,
    /// Two experiences with the same placement never show together: `bar`, `overlay`,
    /// `toast`, or `slot:NAME` for an inline slot.
    pub placement: String,
    /// The `[data-rapport-slot=NAME]` element an inline experience fills.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot: Option<String>,
    /// Which edge of the window a bar runs along; the bottom when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<BarPosition>,
    pub trigger: Trigger,
    pub content: Content,
    /// For a prompt (every kind but inline content): how many prompts the session could
    /// still draw when this was decided. The page draws this one only while fewer prompts
    /// than that have been drawn since the decision came, so when the decision offers more
    /// prompts than the budget has room for, the first ones to reach the screen spend it.
    /// Absent for inline content, which uses no budget.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<u32>,
    /// For recommendations learnt from behaviour (`similar_to(...)`, `popular(...)`, ...):
    /// the strategy's name, which the page reports with a click on one of the products.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<String>,
    /// The slot the edge fills from the site's catalogue before answering; never sent to
    /// the page.
    #[serde(default, skip_serializing)]
    pub fill: Option<SlotRequest>,
}

/// The strategies a recommendation slot can be filled by, as rules name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Viewed with the anchors (the products given, or the visitor's latest).
    SimilarTo,
    /// Bought with the anchors (the cart's products, say).
    BoughtWith,
    /// Most viewed lately, in a category or across the shop.
    Popular,
    /// Viewed far more than usual lately.
    Trending,
    /// Viewed in recent sessions that share products with the visitor's.
    ForYou,
    /// New in the shop, before they have any history.
    NewIn,
}

impl Strategy {
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::SimilarTo => "similar_to",
            Strategy::BoughtWith => "bought_with",
            Strategy::Popular => "popular",
            Strategy::Trending => "trending",
            Strategy::ForYou => "for_you",
            Strategy::NewIn => "new_in",
        }
    }
}

/// A recommendation slot to fill: what a rule's strategy asked for, with the merchandiser's
/// rules and what this shopper must not be shown. It holds product ids only, no visitor id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlotRequest {
    pub strategy: Strategy,
    pub count: u8,
    /// The products the strategy starts from, the latest first: `similar_to`'s and
    /// `bought_with`'s anchors, `for_you`'s session so far.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub anchors: Vec<String>,
    /// `popular`'s and `new_in`'s category, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Only products of these categories (none: any).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub only: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_max: Option<f64>,
    /// Shown first, in this order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pinned: Vec<String>,
    /// Shown only when nothing else is left.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buried: Vec<String>,
    /// A category's scores multiplied by a factor.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub boosts: Vec<(String, f64)>,
    /// The product on screen, never recommended on its own page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_screen: Option<String>,
    /// In the cart or already bought: never recommended.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
}

impl SlotRequest {
    /// `count` products by `strategy`, with no anchors, merchandising or exclusions yet.
    pub fn new(strategy: Strategy, count: u8) -> SlotRequest {
        SlotRequest {
            strategy,
            count,
            anchors: Vec::new(),
            category: None,
            only: Vec::new(),
            price_min: None,
            price_max: None,
            pinned: Vec::new(),
            buried: Vec::new(),
            boosts: Vec::new(),
            on_screen: None,
            exclude: Vec::new(),
        }
    }
}

impl Experience {
    pub fn reference(&self) -> ExperienceRef {
        ExperienceRef {
            rule: self.rule.clone(),
            experience: self.experience.clone(),
            variant: self.variant.clone(),
            segment: self.segment.clone(),
        }
    }
}

/// How an experience is presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExperienceKind {
    /// A strip across the page.
    Bar,
    /// A centred dialog with a backdrop.
    Modal,
    /// A panel that slides in from a corner.
    SlideIn,
    /// A short notice that goes away by itself.
    Toast,
    /// Content filling a slot the page reserved.
    Inline,
    /// A Net Promoter Score question (0 to 10, optional comment).
    Nps,
    /// A satisfaction question (1 to 5).
    Csat,
    /// A coupon code revealed on request, with a copy button.
    Coupon,
    /// A row of products, in a slot the page reserved.
    Recommendations,
}

impl ExperienceKind {
    pub const ALL: [ExperienceKind; 9] = [
        ExperienceKind::Bar,
        ExperienceKind::Modal,
        ExperienceKind::SlideIn,
        ExperienceKind::Toast,
        ExperienceKind::Inline,
        ExperienceKind::Nps,
        ExperienceKind::Csat,
        ExperienceKind::Coupon,
        ExperienceKind::Recommendations,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ExperienceKind::Bar => "bar",
            ExperienceKind::Modal => "modal",
            ExperienceKind::SlideIn => "slide_in",
            ExperienceKind::Toast => "toast",
            ExperienceKind::Inline => "inline",
            ExperienceKind::Nps => "nps",
            ExperienceKind::Csat => "csat",
            ExperienceKind::Coupon => "coupon",
            ExperienceKind::Recommendations => "recommendations",
        }
    }

    /// Whether this kind fills a slot in the page rather than floating over it.
    pub fn needs_slot(self) -> bool {
        matches!(
            self,
            ExperienceKind::Inline | ExperienceKind::Recommendations
        )
    }

    /// Whether this kind floats over the page; at most one overlay shows at a time.
    pub fn is_overlay(self) -> bool {
        matches!(
            self,
            ExperienceKind::Modal
                | ExperienceKind::SlideIn
                | ExperienceKind::Nps
                | ExperienceKind::Csat
                | ExperienceKind::Coupon
        )
    }

    /// The placement an experience of this kind occupies; see [`Experience::placement`].
    pub fn placement(self, slot: Option<&str>) -> std::borrow::Cow<'static, str> {
        match self {
            ExperienceKind::Bar => "bar".into(),
            ExperienceKind::Toast => "toast".into(),
            kind if kind.is_overlay() => "overlay".into(),
            _ => format!("slot:{}", slot.unwrap_or("default")).into(),
        }
    }
}

/// Where a bar runs: along the top or the bottom of the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BarPosition {
    Top,
    Bottom,
}

impl BarPosition {
    pub fn parse(name: &str) -> Option<BarPosition> {
        match name {
            "top" => Some(BarPosition::Top),
            "bottom" => Some(BarPosition::Bottom),
            _ => None,
        }
    }
}

/// When the widget shows an experience once it has it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Trigger {
    Immediately,
    AfterSeconds {
        seconds: u32,
    },
    Scroll {
        percent: u8,
    },
    ExitIntent,
    /// No input from the shopper for this long.
    Idle {
        seconds: u32,
    },
    /// When the page tracks this event (`add_to_cart`, `search`, ...).
    AfterEvent {
        event: String,
    },
    /// When an element matching this CSS selector scrolls into view.
    ElementVisible {
        selector: String,
    },
}

/// The text of an experience, already in the visitor's language. Rendered as text, never HTML.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Content {
    pub locale: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub body: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cta: Option<CallToAction>,
    /// The code a coupon reveals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The products a recommendation shows.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub products: Vec<ProductCard>,
}

/// A button or link in an experience.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallToAction {
    pub label: String,
    pub url: String,
}

/// A product as a recommendation shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductCard {
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<f64>,
    /// ISO 4217, so the widget writes the price as the shopper's locale does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Its picture (https or relative), drawn at the slot's card size so nothing moves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Why it is recommended, in words ("viewed with Alpina Boots").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Why an id was refused by [`validate_id`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdError {
    Length,
    Character,
}

impl std::fmt::Display for IdError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IdError::Length => f.write_str("must be 8 to 64 characters long"),
            IdError::Character => f.write_str("may only hold letters, digits, '-' and '_'"),
        }
    }
}

/// Checks a visitor, session or event id: 8 to 64 characters of `[A-Za-z0-9_-]`.
///
/// Ids become storage keys and Durable Object names at the edge, so anything else is refused
/// before it reaches storage.
pub fn validate_id(id: &str) -> Result<(), IdError> {
    if !(8..=64).contains(&id.len()) {
        return Err(IdError::Length);
    }
    if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(IdError::Character);
    }
    Ok(())
}

/// Whether a call-to-action URL is safe to put in a link: `http(s)` or same-site relative.
pub fn is_safe_link(url: &str) -> bool {
    let url = url.trim();
    if url.starts_with("//") {
        return false;
    }
    if url.starts_with('/') || url.starts_with('#') || url.starts_with('?') {
        return true;
    }
    let lower = url.to_ascii_lowercase();
    lower.starts_with("https://") || lower.starts_with("http://")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_wire_format_is_flat_and_tagged() {
        let json = r#"{"id":"evt-00000001","session_id":"ses-00000001","type":"add_to_cart",
            "product":{"id":"sku-1","price":12.5},"quantity":2}"#;
        let event: Event = serde_json::from_str(json).unwrap();
        assert_eq!(event.data.kind(), "add_to_cart");
        let back = serde_json::to_value(&event).unwrap();
        assert_eq!(back["type"], "add_to_cart");
        assert_eq!(back["product"]["id"], "sku-1");
    }

    #[test]
    fn impression_carries_experience_fields_inline() {
        let json = r#"{"id":"evt-00000002","session_id":"ses-00000001","type":"impression",
            "rule":"welcome","experience":"welcome-bar"}"#;
        let event: Event = serde_json::from_str(json).unwrap();
        let EventData::Impression(r) = event.data else {
            panic!("expected an impression")
        };
        assert_eq!(r.experience, "welcome-bar");
        assert_eq!(r.variant, None);
    }

    #[test]
    fn check_payload_reads_the_payload_alone() {
        let json: serde_json::Value =
            serde_json::from_str(r#"{"product":{"id":"x","price":"cheap"}}"#).unwrap();
        assert!(EventData::check_payload("add_to_cart", &json).is_err());
        assert!(!EventData::check_payload("purchase", &json).unwrap());
        let good: serde_json::Value = serde_json::from_str(r#"{"product":{"id":"x"}}"#).unwrap();
        assert!(EventData::check_payload("add_to_cart", &good).unwrap());
    }

    #[test]
    fn ids() {
        let check = |id: &str, ok: Result<(), IdError>| assert_eq!(validate_id(id), ok, "{id}");
        check("abcdefgh", Ok(()));
        check("v_0123456789-ABCDEF", Ok(()));
        check("short", Err(IdError::Length));
        check(&"a".repeat(65), Err(IdError::Length));
        check("has space", Err(IdError::Character));
        check("../../etc/x", Err(IdError::Character));
    }

    #[test]
    fn links() {
        let check = |url: &str, ok: bool| assert_eq!(is_safe_link(url), ok, "{url}");
        check("/cart.html", true);
        check("#top", true);
        check("https://shop.example/a", true);
        check("HTTP://shop.example/a", true);
        check("javascript:alert(1)", false);
        check(" javascript:alert(1)", false);
        check("data:text/html,x", false);
        check("//evil.example", false);
    }
}
