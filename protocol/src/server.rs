//! What the retailer's own systems send with a server key: facts from outside the site
//! (store and phone orders, returns, support tickets, loyalty traits) and the link between
//! an anonymous visitor and a customer account. Only these can change trusted facts.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The most events in one `POST /v1/server/events` batch.
pub const MAX_SERVER_EVENTS: usize = 500;
/// The most traits one customer has.
pub const MAX_TRAITS: usize = 100;

/// `POST /v1/server/events`. The site is the one the server key belongs to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerBatch {
    pub events: Vec<ServerEvent>,
}

/// One fact about a customer. `id` makes it idempotent, like a browser event's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerEvent {
    pub id: String,
    pub customer_id: String,
    /// When it happened (RFC 3339), for facts reported late, such as a store purchase
    /// uploaded overnight. The edge's time of arrival when absent; never in the future.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    #[serde(flatten)]
    pub data: ServerEventData,
}

/// What happened, tagged by `type` on the wire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerEventData {
    Purchase(Purchase),
    Return(Return),
    SupportTicket(SupportTicket),
    /// Links an anonymous visitor (a browser) to the customer: from then on the visitor's
    /// decisions see the customer's trusted facts.
    Identify(Identify),
}

impl ServerEventData {
    pub fn kind(&self) -> &'static str {
        match self {
            ServerEventData::Purchase(_) => "purchase",
            ServerEventData::Return(_) => "return",
            ServerEventData::SupportTicket(_) => "support_ticket",
            ServerEventData::Identify(_) => "identify",
        }
    }

    /// Reads the payload of an event of type `kind` alone, so a parse error can name the
    /// field at fault. `Ok(false)` when `kind` is not a server event type.
    pub fn check_payload<'de, D: serde::Deserializer<'de>>(
        kind: &str,
        deserializer: D,
    ) -> Result<bool, D::Error> {
        match kind {
            "purchase" => Purchase::deserialize(deserializer).map(|_| true),
            "return" => Return::deserialize(deserializer).map(|_| true),
            "support_ticket" => SupportTicket::deserialize(deserializer).map(|_| true),
            "identify" => Identify::deserialize(deserializer).map(|_| true),
            _ => Ok(false),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Purchase {
    pub order_id: String,
    /// The order's value in the shop's currency.
    pub value: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    #[serde(default)]
    pub channel: Channel,
    /// The browser the order was placed from, when the shop knows it (`rapport.visitorId`
    /// on the checkout page): conversions are credited to what that visitor saw.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visitor_id: Option<String>,
    /// The ids of the products ordered, when the shop gives them: the catalogue learns what
    /// is bought together from them (no customer or visitor id goes with them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<String>,
}

/// The most products one purchase may list.
pub const MAX_ORDER_ITEMS: usize = 100;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    #[default]
    Web,
    App,
    Store,
    Phone,
}

/// Goods sent back: the value comes off the customer's lifetime value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Return {
    pub order_id: String,
    pub value: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SupportTicket {
    pub ticket_id: String,
    pub status: TicketStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketStatus {
    Open,
    Solved,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Identify {
    pub visitor_id: String,
}

/// `PUT /v1/server/customers/{id}`: the customer's traits, replacing the ones before.
/// Values are strings, numbers or booleans.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CustomerUpdate {
    pub traits: BTreeMap<String, serde_json::Value>,
}

/// Why a customer id was refused by [`validate_customer_id`].
pub const CUSTOMER_ID_RULE: &str =
    "must be 1 to 128 characters of letters, digits and '-', '_', '.', '@', '+'";

/// Checks a customer id: the retailer's own, so shorter ids than a visitor's are fine, and
/// e-mail-like ids too.
pub fn validate_customer_id(id: &str) -> Result<(), &'static str> {
    let ok = (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.@+".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(CUSTOMER_ID_RULE)
    }
}

/// Checks a trait: a short snake_case name, and a string (at most 1,024 bytes), number or
/// boolean. Returns what is wrong.
pub fn validate_trait(name: &str, value: &serde_json::Value) -> Result<(), String> {
    let name_ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !name_ok {
        return Err("a trait name is 1 to 64 characters of a-z, 0-9 and '_'".into());
    }
    match value {
        serde_json::Value::String(s) if s.len() > 1024 => {
            Err("a trait's text may be at most 1,024 bytes".into())
        }
        serde_json::Value::String(_) | serde_json::Value::Bool(_) => Ok(()),
        serde_json::Value::Number(n) if n.as_f64().is_some_and(f64::is_finite) => Ok(()),
        _ => Err("a trait is a string, a number or a boolean".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn customer_ids() {
        for good in ["1", "C-1042", "ana.silva@example.com", "a+b_c"] {
            assert_eq!(validate_customer_id(good), Ok(()), "{good}");
        }
        for bad in ["", "a/b", "a:b", "has space", &"x".repeat(129)] {
            assert!(validate_customer_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn traits() {
        let check = |name: &str, value: serde_json::Value| validate_trait(name, &value);
        assert!(check("tier", "gold".into()).is_ok());
        assert!(check("points", 1200.into()).is_ok());
        assert!(check("subscriber", true.into()).is_ok());
        assert!(check("Tier", "gold".into()).is_err());
        assert!(check("tier", serde_json::Value::Null).is_err());
        assert!(check("tier", serde_json::json!({"a": 1})).is_err());
        assert!(check("tier", "x".repeat(1025).into()).is_err());
    }

    #[test]
    fn a_purchase_on_the_wire() {
        let event: ServerEvent = serde_json::from_str(
            r#"{"id":"order-1042-paid","customer_id":"C-1042","type":"purchase",
                "order_id":"1042","value":89.5,"channel":"store"}"#,
        )
        .unwrap();
        let ServerEventData::Purchase(purchase) = &event.data else {
            panic!("{event:?}")
        };
        assert_eq!(purchase.channel, Channel::Store);
        assert_eq!(event.data.kind(), "purchase");
    }
}
