//! The visitor's place in the customer lifecycle, derived from the profile.

use crate::visitor::profile::Profile;

/// A stage of the customer lifecycle.
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

impl Profile {
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
}
