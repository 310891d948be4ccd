//! First-party identifiers: a random visitor id and a session that ends after 30 idle minutes.
//! Both live in the shop's own `localStorage`; nothing is derived from the device.

use std::cell::RefCell;

use crate::dom;

const VISITOR_KEY: &str = "rapport:vid";
const SESSION_KEY: &str = "rapport:sid";
const SESSION_IDLE_MS: i64 = 30 * 60 * 1000;

pub fn visitor_id() -> String {
    if let Some(id) = dom::storage_get(VISITOR_KEY) {
        if rapport_protocol::validate_id(&id).is_ok() {
            return id;
        }
    }
    let id = dom::random_id();
    dom::storage_set(VISITOR_KEY, &id);
    id
}

/// The current session id, starting a new session after 30 minutes without activity. Shared
/// by every tab of the shop, since they share `localStorage`.
pub fn session_id() -> String {
    // Whole milliseconds: integer text is all this needs, and smaller code than floats.
    let now = dom::now_ms() as i64;
    let stored = dom::storage_get(SESSION_KEY).and_then(|s| {
        let (id, last) = s.split_once(':')?;
        let last: i64 = last.parse().ok()?;
        (now - last < SESSION_IDLE_MS && rapport_protocol::validate_id(id).is_ok())
            .then(|| id.to_owned())
    });
    let id = stored.unwrap_or_else(dom::random_id);
    dom::storage_set(SESSION_KEY, &format!("{id}:{now}"));
    id
}

/// Marks activity now and returns the session id to stamp on an event.
pub fn touch_session(current: &RefCell<String>) -> String {
    let id = session_id();
    current.replace(id.clone());
    id
}
