//! First-party identifiers: a random visitor id and a session that ends after 30 idle minutes.
//! Both live in the shop's own `localStorage`; nothing is derived from the device.

use std::cell::RefCell;

use crate::dom;

const VISITOR_KEY: &str = "rapport:vid";
const SESSION_KEY: &str = "rapport:sid";
const CONSENT_KEY: &str = "rapport:consent";
const IDENTIFIED_KEY: &str = "rapport:customer";
/// Set by the loader when a page showed something, so the next page loads the view early.
const VIEW_KEY: &str = "rapport:view";
const SESSION_IDLE_MS: i64 = 30 * 60 * 1000;

/// The visitor id this browser keeps, made and kept on first use. Only for a shopper who may
/// be recorded: before consent the widget keeps and sends none.
pub fn visitor_id() -> String {
    if let Some(id) = kept_visitor_id() {
        return id;
    }
    let id = dom::random_id();
    dom::storage_set(VISITOR_KEY, &id);
    id
}

/// The visitor id this browser keeps, if it keeps one.
pub fn kept_visitor_id() -> Option<String> {
    dom::storage_get(VISITOR_KEY).filter(|id| rapport_protocol::validate_id(id).is_ok())
}

/// The current session id, starting a new session after 30 minutes without activity. Shared
/// by every tab of the shop, since they share `localStorage`.
pub fn session_id() -> String {
    // Whole milliseconds: integer text is all this needs, and smaller code than floats.
    let now = dom::now_ms() as i64;
    let stored = dom::storage_get(SESSION_KEY).and_then(|s| {
        let (id, last) = dom::split_at_byte(&s, b':')?;
        let last: i64 = dom::parse_whole(last)?;
        (now - last < SESSION_IDLE_MS && rapport_protocol::validate_id(id).is_ok())
            .then(|| id.to_owned())
    });
    let id = stored.unwrap_or_else(dom::random_id);
    dom::storage_set(
        SESSION_KEY,
        &dom::cat(&[id.as_str(), ":", &dom::decimal(now as u64)]),
    );
    id
}

/// Marks activity now and returns the session id to stamp on an event.
pub fn touch_session(current: &RefCell<String>) -> String {
    let id = session_id();
    current.replace(id.clone());
    id
}

/// The consent the site last passed (`rapport.push(['consent', {...}])`), if any.
pub fn consent() -> Option<rapport_protocol::Consent> {
    let stored = dom::storage_get(CONSENT_KEY)?;
    let (analytics, personalization) = dom::split_at_byte(&stored, b',')?;
    Some(rapport_protocol::Consent {
        analytics: analytics == "1",
        personalization: personalization == "1",
    })
}

pub fn set_consent(consent: rapport_protocol::Consent) {
    let flag = |on: bool| if on { "1" } else { "0" };
    dom::storage_set(
        CONSENT_KEY,
        &dom::cat(&[flag(consent.analytics), ",", flag(consent.personalization)]),
    );
}

/// The customer this browser's visitor was last linked to, if any.
pub fn identified() -> Option<String> {
    dom::storage_get(IDENTIFIED_KEY)
}

pub fn set_identified(customer_id: &str) {
    dom::storage_set(IDENTIFIED_KEY, customer_id);
}

/// Removes what identifies the shopper in the browser (visitor, session, customer) and, with
/// `consent`, the consent the site passed too. The events waiting to be sent go with the
/// transport's `clear`, which both callers call first.
pub fn forget(consent: bool) {
    for key in [VISITOR_KEY, SESSION_KEY, IDENTIFIED_KEY, VIEW_KEY] {
        dom::storage_remove(key);
    }
    if consent {
        dom::storage_remove(CONSENT_KEY);
    }
}
