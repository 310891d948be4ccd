//! The edge's clock. Every time the edge stores or decides with comes from here; the
//! shopper's clock is never trusted.

/// Milliseconds since the epoch, by the edge's clock.
pub fn now_ms() -> i64 {
    worker::Date::now().as_millis() as i64
}
