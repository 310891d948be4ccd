//! The wire format between the widget, the edge and the rules engine.
//!
//! Everything that crosses the network is defined here and nowhere else, so the widget (which
//! must stay tiny and never link Rhai) and the edge agree by construction. The types are plain
//! data: validation that needs more than the type system lives in [`validate_id`] and in the
//! edge's request parsing.

use serde::{Deserialize, Serialize};

/// The largest single event the edge accepts, in bytes of JSON.
pub const MAX_EVENT_BYTES: usize = 32 * 1024;
/// The largest batch the edge accepts, in bytes of JSON.
pub const MAX_BATCH_BYTES: usize = 512 * 1024;
/// The most events the widget puts in one batch.
pub const MAX_BATCH_EVENTS: usize = 50;

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
    Impression(ExperienceRef),
    Click(ExperienceRef),
    Dismiss(ExperienceRef),
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

impl EventData {
    /// The `type` tag as it appears on the wire.
    pub fn kind(&self) -> &'static str {
        match self {
            EventData::PageView(_) => "page_view",
            EventData::ProductView(_) => "product_view",
            EventData::AddToCart(_) => "add_to_cart",
            EventData::RemoveFromCart(_) => "remove_from_cart",
            EventData::Impression(_) => "impression",
            EventData::Click(_) => "click",
            EventData::Dismiss(_) => "dismiss",
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
            "impression" | "click" | "dismiss" => read::<ExperienceRef, D>(deserializer),
            _ => Ok(false),
        }
    }
}

fn one() -> u32 {
    1
}

/// A product as the widget reads it from the page (JSON-LD, microdata or data attributes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
}

/// Which experience an impression, click or dismissal is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExperienceRef {
    pub rule: String,
    pub experience: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

/// Where the shopper is: sent with page views and with every decision request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
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
    pub visitor_id: String,
    pub session_id: String,
    pub page: PageContext,
}

/// The answer to a decision request: what to show, best first, at most one per placement.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub experiences: Vec<Experience>,
    /// The version of the rulebook that decided.
    #[serde(default)]
    pub rulebook: String,
}

/// One experience chosen for the visitor, with everything the widget needs to show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Experience {
    pub rule: String,
    pub experience: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    pub kind: ExperienceKind,
    /// Two experiences with the same placement never show together.
    pub placement: String,
    pub trigger: Trigger,
    pub content: Content,
}

impl Experience {
    pub fn reference(&self) -> ExperienceRef {
        ExperienceRef {
            rule: self.rule.clone(),
            experience: self.experience.clone(),
            variant: self.variant.clone(),
        }
    }
}

/// How an experience is presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExperienceKind {
    /// A strip across the top of the page.
    Bar,
    /// A centred dialog with a backdrop.
    Modal,
    /// A panel that slides in from a corner.
    SlideIn,
    /// A short notice that goes away by itself.
    Toast,
}

impl ExperienceKind {
    /// The placement an experience of this kind occupies; see [`Experience::placement`].
    pub fn placement(self) -> &'static str {
        match self {
            ExperienceKind::Bar => "bar",
            ExperienceKind::Modal | ExperienceKind::SlideIn => "overlay",
            ExperienceKind::Toast => "toast",
        }
    }
}

/// When the widget shows an experience once it has it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Trigger {
    Immediately,
    AfterSeconds { seconds: u32 },
    Scroll { percent: u8 },
    ExitIntent,
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
}

/// A button or link in an experience.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallToAction {
    pub label: String,
    pub url: String,
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
