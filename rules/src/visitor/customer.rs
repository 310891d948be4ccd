//! Customers: the trusted facts the retailer's systems report (server API), and the visitors
//! (browsers) linked to each customer.
//!
//! The edge keeps a [`Customer`] per customer id and folds server events into it with
//! [`Customer::apply`]. Whenever the trusted facts change, every linked visitor's profile gets
//! a copy ([`Profile::set_trusted`]), so a decision reads one profile and makes no extra hop.

use std::collections::BTreeMap;

use rapport_protocol::server::{ServerEventData, TicketStatus};
use serde::{Deserialize, Serialize};

use crate::visitor::profile::{Profile, Purchases, Support};

/// How many browsers one customer keeps linked; the oldest link goes first.
pub const MAX_LINKED_VISITORS: usize = 20;

/// What the retailer's systems say about one customer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Customer {
    pub customer_id: String,
    pub purchases: Purchases,
    pub traits: BTreeMap<String, serde_json::Value>,
    pub support: Support,
    /// Open support tickets by id, so a ticket reported open twice counts once.
    pub open_tickets: Vec<String>,
    /// Linked visitors, oldest link first.
    pub visitors: Vec<LinkedVisitor>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinkedVisitor {
    pub visitor_id: String,
    pub linked_ms: i64,
}

/// The part of a customer every linked visitor's profile carries.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Trusted {
    pub customer_id: String,
    pub purchases: Purchases,
    pub traits: BTreeMap<String, serde_json::Value>,
    pub support: Support,
}

/// What folding one event in changed, beyond the customer's own facts.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// A visitor was linked (it needs the trusted facts).
    Linked(String),
    /// A visitor was linked before and has now been unlinked to keep the list bounded.
    Unlinked(String),
    /// A purchase to credit to what a visitor saw: the one named by the purchase, or the
    /// most recently linked one.
    Conversion { visitor_id: String, value: f64 },
}

impl Customer {
    pub fn new(customer_id: &str) -> Customer {
        Customer {
            customer_id: customer_id.to_owned(),
            ..Customer::default()
        }
    }

    /// Folds in one server event that happened at `at_ms`.
    pub fn apply(&mut self, data: &ServerEventData, at_ms: i64) -> Vec<Effect> {
        match data {
            ServerEventData::Purchase(purchase) => {
                let p = &mut self.purchases;
                p.count += 1;
                p.lifetime_value += purchase.value.max(0.0);
                p.last_ms = Some(p.last_ms.map_or(at_ms, |last| last.max(at_ms)));
                let credited = purchase
                    .visitor_id
                    .clone()
                    .or_else(|| self.visitors.last().map(|v| v.visitor_id.clone()));
                credited
                    .map(|visitor_id| Effect::Conversion {
                        visitor_id,
                        value: purchase.value.max(0.0),
                    })
                    .into_iter()
                    .collect()
            }
            ServerEventData::Return(returned) => {
                let p = &mut self.purchases;
                p.returns += 1;
                p.lifetime_value = (p.lifetime_value - returned.value.max(0.0)).max(0.0);
                Vec::new()
            }
            ServerEventData::SupportTicket(ticket) => {
                let open = self
                    .open_tickets
                    .iter()
                    .position(|t| *t == ticket.ticket_id);
                match (ticket.status, open) {
                    (TicketStatus::Open, None) => {
                        self.support.tickets += 1;
                        self.open_tickets.push(ticket.ticket_id.clone());
                    }
                    (TicketStatus::Solved, Some(index)) => {
                        self.open_tickets.remove(index);
                    }
                    // Reported again, or solved without having been opened here.
                    _ => {}
                }
                self.support.open_tickets = self.open_tickets.len() as u32;
                self.support.last_ms = Some(self.support.last_ms.map_or(at_ms, |l| l.max(at_ms)));
                Vec::new()
            }
            ServerEventData::Identify(identify) => self.link(&identify.visitor_id, at_ms),
        }
    }

    fn link(&mut self, visitor_id: &str, at_ms: i64) -> Vec<Effect> {
        self.visitors.retain(|v| v.visitor_id != visitor_id);
        self.visitors.push(LinkedVisitor {
            visitor_id: visitor_id.to_owned(),
            linked_ms: at_ms,
        });
        let mut effects = vec![Effect::Linked(visitor_id.to_owned())];
        while self.visitors.len() > MAX_LINKED_VISITORS {
            effects.push(Effect::Unlinked(self.visitors.remove(0).visitor_id));
        }
        effects
    }

    pub fn trusted(&self) -> Trusted {
        Trusted {
            customer_id: self.customer_id.clone(),
            purchases: self.purchases.clone(),
            traits: self.traits.clone(),
            support: self.support.clone(),
        }
    }
}

impl Profile {
    /// Takes the trusted facts of the customer this visitor is linked to, replacing any
    /// before: they are the customer's, never the browser's.
    pub fn set_trusted(&mut self, trusted: &Trusted) {
        self.customer_id = Some(trusted.customer_id.clone());
        self.purchases = trusted.purchases.clone();
        self.traits = trusted.traits.clone();
        self.support = trusted.support.clone();
    }

    /// Forgets the customer this visitor was linked to, and the facts that came with it.
    pub fn clear_trusted(&mut self) {
        self.customer_id = None;
        self.purchases = Purchases::default();
        self.traits.clear();
        self.support = Support::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rapport_protocol::server::{Identify, Purchase, Return, SupportTicket};

    fn purchase(value: f64, visitor_id: Option<&str>) -> ServerEventData {
        ServerEventData::Purchase(Purchase {
            order_id: "1042".into(),
            value,
            currency: None,
            channel: Default::default(),
            visitor_id: visitor_id.map(str::to_owned),
            items: Vec::new(),
        })
    }

    fn identify(visitor_id: &str) -> ServerEventData {
        ServerEventData::Identify(Identify {
            visitor_id: visitor_id.into(),
        })
    }

    fn ticket(id: &str, status: TicketStatus) -> ServerEventData {
        ServerEventData::SupportTicket(SupportTicket {
            ticket_id: id.into(),
            status,
            topic: None,
        })
    }

    #[test]
    fn purchases_and_returns_make_the_lifetime_value() {
        let mut c = Customer::new("C-1");
        assert_eq!(c.apply(&purchase(100.0, None), 10), vec![]);
        c.apply(&purchase(50.0, None), 5);
        c.apply(
            &ServerEventData::Return(Return {
                order_id: "1".into(),
                value: 30.0,
            }),
            20,
        );
        assert_eq!(c.purchases.count, 2);
        assert_eq!(c.purchases.returns, 1);
        assert_eq!(c.purchases.lifetime_value, 120.0);
        // A late report of an older purchase does not move the last purchase back.
        assert_eq!(c.purchases.last_ms, Some(10));
    }

    #[test]
    fn a_purchase_is_credited_to_the_named_or_latest_visitor() {
        let mut c = Customer::new("C-1");
        c.apply(&identify("visitor-a"), 1);
        c.apply(&identify("visitor-b"), 2);
        let credited = |c: &mut Customer, named| match c.apply(&purchase(10.0, named), 3)[..] {
            [Effect::Conversion { ref visitor_id, .. }] => visitor_id.clone(),
            ref other => panic!("{other:?}"),
        };
        assert_eq!(credited(&mut c, None), "visitor-b");
        assert_eq!(credited(&mut c, Some("visitor-a")), "visitor-a");
    }

    #[test]
    fn linking_is_bounded_and_moves_a_visitor_to_the_end() {
        let mut c = Customer::new("C-1");
        for i in 0..MAX_LINKED_VISITORS {
            c.apply(&identify(&format!("visitor-{i:02}")), i as i64);
        }
        c.apply(&identify("visitor-00"), 100);
        assert_eq!(c.visitors.last().unwrap().visitor_id, "visitor-00");
        assert_eq!(c.visitors.len(), MAX_LINKED_VISITORS);
        let effects = c.apply(&identify("visitor-new"), 101);
        assert_eq!(
            effects,
            vec![
                Effect::Linked("visitor-new".into()),
                Effect::Unlinked("visitor-01".into())
            ]
        );
    }

    #[test]
    fn tickets_count_once_and_close() {
        let mut c = Customer::new("C-1");
        c.apply(&ticket("T1", TicketStatus::Open), 1);
        c.apply(&ticket("T1", TicketStatus::Open), 2);
        c.apply(&ticket("T2", TicketStatus::Open), 3);
        assert_eq!((c.support.tickets, c.support.open_tickets), (2, 2));
        c.apply(&ticket("T1", TicketStatus::Solved), 4);
        assert_eq!((c.support.tickets, c.support.open_tickets), (2, 1));
    }

    #[test]
    fn trusted_facts_replace_what_the_profile_had() {
        let mut c = Customer::new("C-1");
        c.traits.insert("tier".into(), "gold".into());
        c.apply(&purchase(80.0, None), 1);
        let mut profile = Profile::new("visitor-a");
        profile.traits.insert("forged".into(), true.into());
        profile.set_trusted(&c.trusted());
        assert_eq!(profile.customer_id.as_deref(), Some("C-1"));
        assert_eq!(profile.purchases.count, 1);
        assert_eq!(profile.traits.len(), 1);
        profile.clear_trusted();
        assert_eq!(profile.purchases.count, 0);
        assert!(profile.traits.is_empty());
    }
}
