//! The edge's clock. Every time the edge stores or decides with comes from here; the
//! shopper's clock is never trusted.
//!
//! One exception exists for the local demo's history: with the demo-only setting
//! `DEMO_CLOCK = "replay"`, a browser request may carry [`DEMO_TIME_HEADER`], a past time the
//! edge then stores and decides with, so that `cargo xtask seed` can replay six weeks of
//! shop life through the real endpoints. The setting is fenced three ways:
//! - it is never in `wrangler.toml`: only `cargo xtask demo` and the tests pass it, with
//!   `--var`, so `wrangler deploy` does not carry it;
//! - an edge that has it answers every request served on a host other than this machine's
//!   own (`localhost`, `127.0.0.1`, `[::1]`) with 503 and what to remove ([`fence`]): a
//!   deployed edge refuses to run with it;
//! - the header may only move time back, by at most [`DEMO_MAX_PAST_DAYS`] days; without the
//!   setting it is refused with 400, never ignored.

use worker::{Env, Request};

use crate::config;
use crate::error::ApiError;
use crate::http::header;

use rapport_protocol::DEMO_TIME_HEADER;

/// How far back a demo time may go.
pub const DEMO_MAX_PAST_DAYS: i64 = 120;

/// Milliseconds since the epoch, by the edge's clock.
pub fn now_ms() -> i64 {
    worker::Date::now().as_millis() as i64
}

/// The time a browser request happened: the edge's clock, or on a local demo edge the past
/// time its [`DEMO_TIME_HEADER`] gives.
pub fn request_ms(req: &Request, env: &Env) -> Result<i64, ApiError> {
    // The setting is read only for a request that carries the header.
    demo_time(
        header(req, DEMO_TIME_HEADER).as_deref(),
        || config::demo_clock(env),
        now_ms(),
    )
}

/// `Some(refusal)` when the edge has the demo clock but is served somewhere other than this
/// machine: every request is then refused, whatever it asks.
pub fn fence(req: &Request, env: &Env) -> Option<ApiError> {
    if !config::demo_clock(env) {
        return None;
    }
    let host = req
        .url()
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default();
    (!is_this_machine(&host)).then(|| refusal(&host))
}

fn refusal(host: &str) -> ApiError {
    worker::console_error!("DEMO_CLOCK is set on an edge served at {host}: refusing every request");
    ApiError::Misconfigured {
        field: "DEMO_CLOCK",
        message: format!(
            "this edge is served at {host} with DEMO_CLOCK, a setting for the local demo only; \
             remove it (wrangler.toml, --var or the dashboard) to serve shoppers"
        ),
    }
}

/// Whether a request's host is this machine's own, as only a local `wrangler dev` is.
fn is_this_machine(host: &str) -> bool {
    matches!(host, "localhost" | "127.0.0.1" | "[::1]" | "::1")
}

/// The time `header` gives, checked: only with the demo clock on, only in the past, at most
/// [`DEMO_MAX_PAST_DAYS`] back; no header is `now`.
fn demo_time(
    header: Option<&str>,
    enabled: impl FnOnce() -> bool,
    now: i64,
) -> Result<i64, ApiError> {
    let Some(text) = header else {
        return Ok(now);
    };
    if !enabled() {
        return Err(ApiError::bad(
            DEMO_TIME_HEADER,
            "this edge keeps its own time: the header is for a local demo edge with DEMO_CLOCK",
        ));
    }
    let at: i64 = text.trim().parse().map_err(|_| {
        ApiError::bad(
            DEMO_TIME_HEADER,
            format!("\"{text}\" is not a time in milliseconds since the epoch"),
        )
    })?;
    let earliest = now - DEMO_MAX_PAST_DAYS * 86_400_000;
    if at > now || at < earliest {
        return Err(ApiError::bad(
            DEMO_TIME_HEADER,
            format!("a demo time is in the last {DEMO_MAX_PAST_DAYS} days, not the future"),
        ));
    }
    Ok(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_790_000_000_000;

    fn field(err: ApiError) -> Option<String> {
        match err {
            ApiError::BadRequest { field, .. } => field,
            other => panic!("a bad request, not {other:?}"),
        }
    }

    #[test]
    fn without_the_header_the_time_is_the_edges() {
        assert_eq!(demo_time(None, || false, NOW).unwrap(), NOW);
        assert_eq!(demo_time(None, || true, NOW).unwrap(), NOW);
    }

    #[test]
    fn a_demo_time_is_taken_only_with_the_setting_and_only_from_the_past() {
        let week_ago = NOW - 7 * 86_400_000;
        assert_eq!(
            demo_time(Some(&week_ago.to_string()), || true, NOW).unwrap(),
            week_ago
        );
        let refused =
            |text: &str, enabled: bool| field(demo_time(Some(text), || enabled, NOW).unwrap_err());
        let header = Some(DEMO_TIME_HEADER.to_owned());
        assert_eq!(refused(&week_ago.to_string(), false), header);
        assert_eq!(refused(&(NOW + 1).to_string(), true), header);
        assert_eq!(refused(&(NOW - 121 * 86_400_000).to_string(), true), header);
        assert_eq!(refused("yesterday", true), header);
    }

    #[test]
    fn only_this_machine_may_serve_a_demo_clock() {
        for host in ["localhost", "127.0.0.1", "[::1]"] {
            assert!(is_this_machine(host), "{host}");
        }
        for host in ["shop.example", "rapport-edge.workers.dev", "127.0.0.2", ""] {
            assert!(!is_this_machine(host), "{host}");
        }
    }
}
