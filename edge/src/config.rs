//! The edge's configuration, read from its variables. A value that does not parse is said in
//! the log, with why, rather than silently read as absent.

use std::cell::RefCell;
use std::rc::Rc;

use worker::Env;

use crate::sites::Sites;

/// How long raw events are kept when `EVENT_RETENTION_DAYS` does not say.
const DEFAULT_RETENTION_DAYS: f64 = 90.0;

/// The build this edge runs: the `RAPPORT_BUILD` variable (`cargo xtask` passes the crate
/// version and the commit; `wrangler deploy --var RAPPORT_BUILD:...` does the same), or the
/// crate version. A variable rather than a constant, so a new commit does not change the
/// wasm.
pub fn build_version(env: &Env) -> String {
    env.var("RAPPORT_BUILD")
        .map(|v| v.to_string())
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| env!("CARGO_PKG_VERSION").to_owned())
}

thread_local! {
    /// `SITES` as last parsed, with its text: an isolate's variables do not change, so each
    /// isolate parses it once (and says once in the log if it is invalid).
    static SITES: RefCell<Option<(String, Rc<Sites>)>> = const { RefCell::new(None) };
}

/// The sites this edge serves (`SITES`); none, with the reason in the log, if it is invalid.
pub fn sites(env: &Env) -> Rc<Sites> {
    let text = env.var("SITES").map(|v| v.to_string()).unwrap_or_default();
    SITES.with(|cached| {
        if let Some((seen, sites)) = cached.borrow().as_ref() {
            if *seen == text {
                return Rc::clone(sites);
            }
        }
        let parsed = Rc::new(Sites::parse(&text).unwrap_or_else(|err| {
            worker::console_error!("the SITES variable is invalid, serving no site: {err}");
            Sites::default()
        }));
        cached.replace(Some((text, Rc::clone(&parsed))));
        parsed
    })
}

/// How long raw events are kept (`EVENT_RETENTION_DAYS`, fractions allowed), in
/// milliseconds.
pub fn retention_ms(env: &Env) -> i64 {
    let days = match env.var("EVENT_RETENTION_DAYS") {
        Err(_) => DEFAULT_RETENTION_DAYS,
        Ok(value) => {
            let text = value.to_string();
            match text.trim().parse::<f64>() {
                Ok(days) if days.is_finite() && days > 0.0 => days,
                _ => {
                    worker::console_error!(
                        "EVENT_RETENTION_DAYS is \"{text}\", not a number of days above 0; \
                         keeping events {DEFAULT_RETENTION_DAYS} days"
                    );
                    DEFAULT_RETENTION_DAYS
                }
            }
        }
    };
    (days * 86_400_000.0) as i64
}

/// How many shards each site's catalogue has (`CATALOGUE_SHARDS`, 1 to 64; 1 when unset).
pub fn catalogue_shards(env: &Env) -> u32 {
    shards(env, "CATALOGUE_SHARDS")
}

/// How many aggregators each site's deltas are spread over (`AGGREGATOR_SHARDS`, 1 to 64;
/// 1 when unset).
pub fn aggregator_shards(env: &Env) -> u32 {
    shards(env, "AGGREGATOR_SHARDS")
}

fn shards(env: &Env, name: &str) -> u32 {
    const DEFAULT: u32 = 1;
    match env.var(name).map(|v| v.to_string()) {
        Err(_) => DEFAULT,
        Ok(text) => match text.trim().parse::<u32>() {
            Ok(shards) if (1..=64).contains(&shards) => shards,
            _ => {
                worker::console_error!(
                    "{name} is \"{text}\", not a whole number from 1 to 64; using {DEFAULT}"
                );
                DEFAULT
            }
        },
    }
}

/// For the tests only (`AGGREGATOR_TEST_PAUSE_MS`): how long an aggregator waits after D1
/// took a flush before it forgets the flush's deltas, the window in which a test stops
/// workerd.
pub fn aggregator_test_pause_ms(env: &Env) -> Option<u64> {
    env.var("AGGREGATOR_TEST_PAUSE_MS")
        .ok()
        .and_then(|v| v.to_string().trim().parse().ok())
        .filter(|ms| *ms > 0)
}

/// Whether the demo-only clock is on (`DEMO_CLOCK = "replay"`): see `clock` for what it does
/// and how it is fenced. Any other value is said in the log and read as off.
pub fn demo_clock(env: &Env) -> bool {
    match env.var("DEMO_CLOCK").map(|v| v.to_string()) {
        Err(_) => false,
        Ok(value) if value.is_empty() => false,
        Ok(value) if value == "replay" => true,
        Ok(value) => {
            worker::console_error!(
                "DEMO_CLOCK is \"{value}\", not \"replay\"; the clock stays the edge's own"
            );
            false
        }
    }
}
