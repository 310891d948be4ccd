//! `cargo xtask bench`: load against the edge running locally in workerd (`wrangler dev`),
//! for `POST /v1/decide` and `POST /v1/events`, reporting throughput and p50/p99 latency;
//! and reading 90 days of analytics (`bench_analytics`).
//!
//! The edge runs in workerd with fresh state and without its rate limits (a copy of
//! `wrangler.toml` without the `[[ratelimits]]` bindings, `edge/wrangler.bench.toml`): the
//! load comes from one address and a few thousand visitors, which the limits would rightly
//! stop. By default it runs under Miniflare with the bindings wrangler derives from that
//! config (`xtask/edge-server.mjs`), because `wrangler dev` adds a reload proxy and an
//! inspector session to every request, which production does not have; `--wrangler-dev`
//! measures through `wrangler dev` instead. The load generator runs on the same machine,
//! so it takes some of the CPU the edge could use.

use std::fs;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use rapport_child::{free_port, Child};
use serde_json::json;

use crate::{bench_analytics, build, process};

const WARM_UP: Duration = Duration::from_secs(3);
const MEASURE: Duration = Duration::from_secs(15);
/// Visitors the decide load cycles through, each with a page view and a cart.
const DECIDE_VISITORS: usize = 400;
/// Visitors the events load spreads over.
const EVENT_VISITORS: usize = 4_000;
/// Events per batch, as a busy widget sends them.
const BATCH: usize = 20;

/// Clients for the latency phase: enough to keep the edge busy, not to queue on it.
const LATENCY_CLIENTS: usize = 2;
/// Clients for the throughput phases: more than the edge can serve at once.
const LOAD_CLIENTS: usize = 16;

/// What to run: `--clients N`, `--only decide|events|analytics`, where the edge is.
struct Options {
    clients: Option<usize>,
    /// An edge already running (`--url http://127.0.0.1:8787`) instead of a fresh one.
    url: Option<String>,
    /// Run the fresh edge under `wrangler dev` rather than plain Miniflare.
    wrangler_dev: bool,
    /// The widget's page-load budgets in Chromium instead of the edge load.
    widget: bool,
    decide: bool,
    events: bool,
    /// Reading 90 days of analytics (`bench_analytics`).
    analytics: bool,
    /// Decisions where a rule runs away, then the same visitors' later ones (`runaway`).
    runaway: bool,
    /// Product pages whose row is learnt from a catalogue, against the same pages without
    /// it (`recs`).
    recs: bool,
    /// D1 statements at two traffic levels, through the aggregators (`fanin`).
    fanin: bool,
}

fn options(args: &[String]) -> Result<Options> {
    let mut options = Options {
        clients: None,
        url: None,
        wrangler_dev: false,
        widget: false,
        decide: true,
        events: true,
        analytics: true,
        runaway: true,
        recs: true,
        fanin: true,
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        if arg == "--wrangler-dev" {
            options.wrangler_dev = true;
            continue;
        }
        if arg == "--widget" {
            options.widget = true;
            continue;
        }
        match (arg.as_str(), args.next().map(String::as_str)) {
            ("--clients", Some(n)) => {
                options.clients = Some(n.parse().context("--clients takes a number")?)
            }
            ("--url", Some(url)) => options.url = Some(url.trim_end_matches('/').to_owned()),
            (
                "--only",
                Some(only @ ("decide" | "events" | "analytics" | "runaway" | "recs" | "fanin")),
            ) => {
                options.decide = only == "decide";
                options.events = only == "events";
                options.analytics = only == "analytics";
                options.runaway = only == "runaway";
                options.recs = only == "recs";
                options.fanin = only == "fanin";
            }
            _ => {
                bail!(
                    "usage: cargo xtask bench [--clients N] \
                     [--only decide|events|analytics|runaway|recs|fanin] \
                     [--wrangler-dev | --url BASE] | --widget"
                )
            }
        }
    }
    Ok(options)
}

pub fn run(root: &Path, args: &[String]) -> Result<()> {
    let options = options(args)?;
    if options.widget {
        return widget(root);
    }
    let built = match &options.url {
        Some(_) => None,
        None => Some(build::all(root)?),
    };
    let (base, edge) = match (&options.url, &built) {
        (Some(url), _) => (url.clone(), None),
        (None, Some(built)) => {
            // The analytics' 90 days are written into D1 before the edge starts.
            let prepare = |state: &Path| -> Result<()> {
                if options.analytics {
                    bench_analytics::load(&root.join("edge"), &built.wrangler, state)?;
                }
                Ok(())
            };
            let edge = BenchEdge::start(root, &built.wrangler, options.wrangler_dev, prepare)?;
            (edge.base.clone(), Some(edge))
        }
        (None, None) => unreachable!("built when no --url is given"),
    };
    // Where the edge keeps its state: the fresh edge's, or the demo's.
    let state = match &edge {
        Some(edge) => edge.state.0.clone(),
        None => root.join("edge/.wrangler/state"),
    };
    let _edge = edge;
    let phase = |what: &str, clients: usize| {
        process::step(&format!(
            "{what}: {clients} clients, {}s after {}s of warm-up",
            MEASURE.as_secs(),
            WARM_UP.as_secs()
        ))
    };
    // Latency is read below saturation (where queueing is not the story) and throughput at
    // it; `--clients N` runs every phase with N.
    let (latency_clients, load_clients) = match options.clients {
        Some(n) => (None, n),
        None => (Some(LATENCY_CLIENTS), LOAD_CLIENTS),
    };
    let mut summary = Vec::new();
    // A fresh edge has the benchmark's own token; one at `--url` is the demo, with its own.
    let token = match &options.url {
        Some(_) => crate::demo::admin_token(&root.join("edge/.dev.vars"))?,
        None => bench_analytics::ADMIN_TOKEN.to_owned(),
    };

    if options.decide {
        seed_decide_visitors(&base)?;
        for clients in latency_clients.into_iter().chain([load_clients]) {
            phase("decide", clients);
            let decide = load(&base, clients, |worker, n| {
                let v = (worker * 7919 + n) % DECIDE_VISITORS;
                let body = json!({ "site": "demo", "visitor_id": decide_visitor(v),
                    "session_id": "bench-session-1",
                    "page": { "url": "http://shop/", "path": "/", "kind": "home", "locale": "en" } });
                ("/v1/decide", body.to_string(), 1)
            })?;
            decide.print("decide", "decisions");
            summary.push(format!(
                "decide, {clients} clients: {:.0}/s, p50 {:.1} ms, p99 {:.1} ms",
                decide.rate(),
                decide.percentile(50.0),
                decide.percentile(99.0)
            ));
        }
    }

    if options.recs {
        let clients = latency_clients.unwrap_or(load_clients);
        summary.extend(recs(root, &base, &token, clients)?);
    }

    if options.fanin {
        let wrangler = crate::tools::node_bin(root, "wrangler");
        summary.extend(fanin(root, &wrangler, &state, &base)?);
    }

    if options.events {
        phase(&format!("events in batches of {BATCH}"), load_clients);
        let events = load(&base, load_clients, |worker, n| {
            let v = (worker * 104_729 + n * 31) % EVENT_VISITORS;
            let events: Vec<serde_json::Value> = (0..BATCH)
                .map(|i| event(&format!("b{worker:02}-{n:07}-{i:02}"), i))
                .collect();
            let body = batch_body(&format!("bench-events-{v:06}"), json!(events));
            ("/v1/events", body, BATCH as u64)
        })?;
        events.print("events", "events");
        summary.push(format!(
            "events, {load_clients} clients: {:.0}/s ({:.0} batches/s), p50 {:.1} ms, \
             p99 {:.1} ms per batch",
            events.rate(),
            events.requests as f64 / events.elapsed.as_secs_f64(),
            events.percentile(50.0),
            events.percentile(99.0)
        ));
    }
    if options.analytics {
        process::step(&format!(
            "analytics reads: {} days, {} experiments, {} segments",
            rapport_analytics::bench_shop::DAYS,
            rapport_analytics::bench_shop::EXPERIMENTS,
            rapport_analytics::bench_shop::SEGMENTS
        ));
        summary.extend(bench_analytics::read_all(&base, &token)?);
    }
    // Last: it publishes a rulebook of its own, and the demo's again after.
    if options.runaway {
        summary.extend(runaway(root, &base, &token)?);
    }
    println!("\nxtask: bench results");
    for line in summary {
        println!("  {line}");
    }
    Ok(())
}

/// The widget's budgets in headless Chromium (`tests/benches/widget.rs`): DOMContentLoaded
/// to prompt, long main-thread tasks, layout shift. The edge keeps its state where the edge
/// bench does ([`in_memory`]): the browser's own files stay where they are.
fn widget(root: &Path) -> Result<()> {
    let built = build::all(root)?;
    let browser = crate::tools::ensure_chromium()?;
    process::step("widget budgets in headless Chromium against the edge in workerd");
    process::run(
        process::command(crate::tools::host_cargo(), root)
            .args(["bench", "--quiet", "-p", "rapport-e2e", "--bench", "widget"])
            .env("RAPPORT_WRANGLER", &built.wrangler)
            .env("RAPPORT_EDGE_DIR", root.join("edge"))
            .env("RAPPORT_CHROMIUM", &browser.chromium)
            .env("RAPPORT_CHROMEDRIVER", &browser.chromedriver)
            .envs(in_memory().map(|memory| ("RAPPORT_EDGE_STATE_DIR", memory))),
    )
}

/// Visitors whose decisions the runaway rule spins for.
const RUNAWAY_VISITORS: usize = 200;

/// A rule that spins for visitors who viewed one product, beside the demo's rules: it never
/// shows, so the demo's test cases still hold.
const RUNAWAY_RULE: &str = r#"rule("bench-runaway", #{
    description: "Spins for the viewers of one product (the bench's)",
    who: |v| {
        if v.recent_products.len() > 0 && v.recent_products[0].id == "bench-spin" {
            let n = 0;
            loop { n += 1; }
        }
        false
    },
    show: #{ kind: "inline", slot: "bench", content: #{ en: #{ body: "Never shown" } } }
});
"#;

/// Decisions where a rule hits the operations limit, in workerd: the demo's rulebook with
/// [`RUNAWAY_RULE`], each visitor's first decision (its page view of the spinning product
/// carried with it, so the rule runs until it is stopped), then the same visitors' next
/// decision (the rule remembered as stopped and skipped). One client, in sequence: the
/// latency of a decision, not of a queue.
fn runaway(root: &Path, base: &str, token: &str) -> Result<Vec<String>> {
    process::step(&format!(
        "a rule that runs away: {RUNAWAY_VISITORS} visitors, their first and second decisions"
    ));
    let demo = crate::publish::rulebook_files(&root.join("demo-site/rulebook"))?;
    let mut files = demo.clone();
    files.insert("bench-runaway.rhai".into(), RUNAWAY_RULE.into());
    publish_and_wait(base, token, &files, "bench: a rule that runs away")?;
    let agent = agent();
    let decide = |v: usize, events: serde_json::Value| -> Result<Duration> {
        let body = json!({ "site": "demo", "visitor_id": format!("bench-runaway-{v:05}"),
            "session_id": "bench-session-1",
            "page": { "url": "http://shop/p/bench-spin", "path": "/p/bench-spin", "kind": "product" },
            "events": events });
        let sent = Instant::now();
        post(&agent, base, "/v1/decide", &body.to_string())?;
        Ok(sent.elapsed())
    };
    let mut lines = Vec::new();
    for (what, first) in [
        (
            "first decision, the rule stopped at the operations limit",
            true,
        ),
        ("next decision, the stopped rule skipped", false),
    ] {
        let mut latencies = Vec::with_capacity(RUNAWAY_VISITORS);
        for v in 0..RUNAWAY_VISITORS {
            let events = match first {
                true => {
                    json!([{ "id": format!("bench-spin-{v:05}"), "session_id": "bench-session-1",
                    "type": "product_view",
                    "page": { "url": "http://shop/p/bench-spin", "path": "/p/bench-spin", "kind": "product" },
                    "product": { "id": "bench-spin", "name": "Spinning top", "price": 9.0 } }])
                }
                false => json!([]),
            };
            latencies.push(decide(v, events)?);
        }
        latencies.sort();
        let measured = Measured {
            requests: RUNAWAY_VISITORS as u64,
            items: RUNAWAY_VISITORS as u64,
            errors: 0,
            elapsed: latencies.iter().sum(),
            latencies,
        };
        measured.print(what, "decisions");
        lines.push(format!(
            "{what}: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            measured.percentile(50.0),
            measured.percentile(99.0),
            measured.percentile(100.0)
        ));
    }
    // The figures mean something only if the rule did run away and was remembered.
    let mut response = agent
        .get(&format!(
            "{base}/v1/admin/visitors/demo/bench-runaway-00000"
        ))
        .header("authorization", &format!("Bearer {token}"))
        .call()?;
    let export: serde_json::Value = serde_json::from_str(&response.body_mut().read_to_string()?)?;
    let stopped = &export["profile"]["stopped"];
    if !stopped
        .as_array()
        .is_some_and(|s| s.iter().any(|r| r["rule"] == "bench-runaway"))
    {
        bail!("the runaway rule was not stopped and remembered: {export}");
    }
    crate::publish::publish(base, token, &demo, "bench: the demo's rulebook again")?;
    Ok(lines)
}

/// Publishes a rulebook and waits until the edge decides by it (each isolate checks for a
/// new active rulebook every 5 s).
fn publish_and_wait(
    base: &str,
    token: &str,
    files: &std::collections::BTreeMap<String, String>,
    message: &str,
) -> Result<()> {
    let published = crate::publish::publish(base, token, files, message)?;
    let agent = agent();
    let started = Instant::now();
    loop {
        let mut health = agent.get(&format!("{base}/v1/health")).call()?;
        let health: serde_json::Value = serde_json::from_str(&health.body_mut().read_to_string()?)?;
        if health["rulebook"] == published["version"] {
            return Ok(());
        }
        if started.elapsed() > Duration::from_secs(30) {
            bail!("the edge did not take the rulebook \"{message}\": {health}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Products in the catalogue the recommendations phase teaches, and their categories.
const RECS_PRODUCTS: usize = 400;
const RECS_CATEGORIES: usize = 20;

/// Product-page decisions for visitors in the `also-like` experiment's two arms: the arm
/// whose row the catalogue fills (every shard asked at once) and the arm that sees none.
/// The same pages, rules and visitors otherwise; the difference is what the lookup costs.
/// Then the filled arm again with the row asking `for_you` (the recent sessions' kNN)
/// rather than `similar_to`.
fn recs(root: &Path, base: &str, token: &str, clients: usize) -> Result<Vec<String>> {
    process::step(&format!(
        "teaching the catalogue: {RECS_PRODUCTS} products in {RECS_CATEGORIES} categories"
    ));
    let agent = agent();
    let product = |p: usize| {
        json!({ "id": format!("bench-p{p:04}"), "name": format!("Product {p}"), "price": 10.0 + p as f64,
                "currency": "EUR", "category": format!("c{:02}", p % RECS_CATEGORIES),
                "url": format!("/products/bench-p{p:04}"), "image": format!("/images/bench-p{p:04}.jpg") })
    };
    // 2,000 sessions of five views, each within one category: neighbours worth finding.
    let mut rng = fastrand::Rng::with_seed(7);
    for teacher in 0..20 {
        let mut events = Vec::new();
        for s in 0..100 {
            let category = rng.usize(..RECS_CATEGORIES);
            for v in 0..5 {
                let p = category + RECS_CATEGORIES * rng.usize(..RECS_PRODUCTS / RECS_CATEGORIES);
                events.push(json!({ "id": format!("recs-{teacher:02}-{s:03}-{v}"),
                    "session_id": format!("recs-session-{teacher:02}-{s:03}"),
                    "type": "product_view", "product": product(p) }));
            }
        }
        for chunk in events.chunks(100) {
            post(
                &agent,
                base,
                "/v1/events",
                &batch_body(&format!("bench-teacher-{teacher:02}"), json!(chunk)),
            )?;
        }
    }
    // What the teachers' outboxes send arrives a couple of seconds later.
    std::thread::sleep(Duration::from_secs(6));
    let page = |visitor: &str, p: usize, n: usize| {
        json!({ "site": "demo", "visitor_id": visitor, "session_id": "bench-session-1",
                "page": { "url": format!("http://shop/products/bench-p{p:04}"),
                          "path": format!("/products/bench-p{p:04}"), "kind": "product", "locale": "en" },
                "events": [{ "id": format!("recs-view-{visitor}-{n}"), "session_id": "bench-session-1",
                             "type": "product_view", "product": product(p) }] })
        .to_string()
    };
    // The product row a decision shows, if any.
    let row = |body: String| -> Result<Option<serde_json::Value>> {
        let response = agent
            .post(&format!("{base}/v1/decide"))
            .content_type("application/json")
            .send(body)
            .context("deciding")?
            .body_mut()
            .read_to_string()
            .context("reading a decision")?;
        let decision: serde_json::Value = serde_json::from_str(&response)?;
        let row = decision["experiences"].as_array().and_then(|all| {
            all.iter()
                .find(|e| e["experience"] == "you-may-also-like")
                .cloned()
        });
        match row {
            Some(row)
                if row["content"]["products"]
                    .as_array()
                    .is_none_or(Vec::is_empty) =>
            {
                bail!("a row without products: {decision}")
            }
            row => Ok(row),
        }
    };
    // Each visitor's arm, from their first product page.
    let (mut filled, mut control) = (Vec::new(), Vec::new());
    for v in 0..DECIDE_VISITORS {
        let visitor = format!("bench-recs-{v:06}");
        match row(page(&visitor, v % RECS_PRODUCTS, 0))? {
            Some(_) => filled.push(visitor),
            None => control.push(visitor),
        }
    }
    let demo = crate::publish::rulebook_files(&root.join("demo-site/rulebook"))?;
    let mut for_you = demo.clone();
    let rules = for_you
        .get_mut("recommendations.rhai")
        .context("the demo's recommendations")?;
    if !rules.contains("similar_to(v, 3)") {
        bail!("the demo's product-page row no longer asks similar_to(v, 3)");
    }
    *rules = rules.replace("similar_to(v, 3)", "for_you(v, 3)");
    let mut summary = Vec::new();
    let arms = [
        ("row filled", &filled, None),
        ("no row (control)", &control, None),
        ("row filled by for_you", &filled, Some(&for_you)),
    ];
    for (arm, visitors, rulebook) in arms {
        if let Some(files) = rulebook {
            publish_and_wait(base, token, files, "bench: the product row asks for_you")?;
            // The figures mean something only if the row is filled from the sessions.
            let shown = row(page(&filled[0], 1, 1_000_000))?.context("the for_you row")?;
            let why = &shown["content"]["products"][0]["reason"];
            if shown["strategy"] != "for_you" || why != "viewed in sessions like this one" {
                bail!("the row is not filled by for_you from the sessions: {shown}");
            }
        }
        process::step(&format!(
            "product pages, {arm}: {} visitors, {clients} clients, {}s after {}s of warm-up",
            visitors.len(),
            MEASURE.as_secs(),
            WARM_UP.as_secs()
        ));
        let measured = load(base, clients, |worker, n| {
            let visitor = &visitors[(worker * 7919 + n) % visitors.len()];
            (
                "/v1/decide",
                page(visitor, (worker * 31 + n) % RECS_PRODUCTS, n + 1),
                1,
            )
        })?;
        measured.print("decide", "decisions");
        summary.push(format!(
            "product page, {arm}, {clients} clients: {:.0}/s, p50 {:.1} ms, p99 {:.1} ms",
            measured.rate(),
            measured.percentile(50.0),
            measured.percentile(99.0)
        ));
    }
    publish_and_wait(base, token, &demo, "bench: the demo's rulebook again")?;
    Ok(summary)
}

/// The traffic levels of the fan-in phase, in new visitors a minute.
const FANIN_LEVELS: [usize; 2] = [200, 2_000];

/// D1's statements at each of [`FANIN_LEVELS`]: for a minute, that many new visitors a
/// minute, evenly spread, each with three pages (home, a product, the cart, each a
/// decision carrying its events); then, once the last aggregator flush is in, what
/// `applied_flushes` says the flushes of that minute wrote.
fn fanin(root: &Path, wrangler: &Path, state: &Path, base: &str) -> Result<Vec<String>> {
    let agent = agent();
    let mut lines = Vec::new();
    for (level, per_minute) in FANIN_LEVELS.into_iter().enumerate() {
        process::step(&format!(
            "the fan-in: {per_minute} new visitors a minute for a minute, three pages each"
        ));
        let started = epoch_ms();
        let began = Instant::now();
        let gap = Duration::from_secs(60) / per_minute as u32;
        for v in 0..per_minute {
            let due = gap * v as u32;
            if let Some(wait) = due.checked_sub(began.elapsed()) {
                std::thread::sleep(wait);
            }
            let visitor = format!("bench-fanin-{level}-{v:05}");
            for (n, (path, kind)) in [
                ("/", "home"),
                ("/products/linen-shirt", "product"),
                ("/cart", "cart"),
            ]
            .into_iter()
            .enumerate()
            {
                let mut events = vec![json!({ "id": format!("fanin-{level}-{v:05}-{n}"),
                    "session_id": "bench-session-1", "type": "page_view",
                    "page": { "url": format!("http://shop{path}"), "path": path, "kind": kind } })];
                if kind == "product" {
                    events.push(json!({ "id": format!("fanin-{level}-{v:05}-view"),
                        "session_id": "bench-session-1", "type": "product_view",
                        "product": { "id": "linen-shirt", "name": "Linen Shirt", "price": 59.0,
                                     "currency": "EUR", "category": "shirts" } }));
                }
                let body = json!({ "site": "demo", "visitor_id": visitor,
                    "session_id": "bench-session-1",
                    "page": { "url": format!("http://shop{path}"), "path": path, "kind": kind,
                              "locale": "en" },
                    "events": events });
                post(&agent, base, "/v1/decide", &body.to_string())?;
            }
        }
        let sent = began.elapsed();
        // The visitors' outboxes (2 s), then the aggregators' flush (10 s), with room.
        std::thread::sleep(Duration::from_secs(25));
        let written = flushes(root, wrangler, state, started)?;
        let minutes = sent.as_secs_f64() / 60.0;
        let line = format!(
            "fan-in, {per_minute} new visitors a minute ({:.0} s): {} flushes wrote {} statements \
             for {} deltas: {:.0} statements a minute, {:.0} per 1,000 visitors",
            sent.as_secs_f64(),
            written.flushes,
            written.statements,
            written.deltas,
            written.statements as f64 / minutes,
            written.statements as f64 * 1_000.0 / per_minute as f64,
        );
        println!("  {line}");
        lines.push(line);
    }
    Ok(lines)
}

/// What the aggregators' flushes since `since_ms` wrote, as D1's `applied_flushes` has it.
struct Written {
    flushes: u64,
    statements: u64,
    deltas: u64,
}

fn flushes(root: &Path, wrangler: &Path, state: &Path, since_ms: i64) -> Result<Written> {
    let sql = format!(
        "SELECT COUNT(*) AS flushes, COALESCE(SUM(statements), 0) AS statements, \
         COALESCE(SUM(deltas), 0) AS deltas FROM applied_flushes WHERE at_ms >= {since_ms}"
    );
    let output = Command::new(wrangler)
        .current_dir(root.join("edge"))
        .args([
            "d1",
            "execute",
            crate::migrations::DATABASE,
            "--local",
            "--json",
        ])
        .args(["-c", "wrangler.toml", "--command", &sql])
        .arg("--persist-to")
        .arg(state)
        .env("WRANGLER_SEND_METRICS", "false")
        .output()
        .context("asking D1 for the flushes")?;
    if !output.status.success() {
        bail!(
            "reading the flushes from D1: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let answer: serde_json::Value = serde_json::from_slice(&output.stdout)
        .with_context(|| format!("reading {}", String::from_utf8_lossy(&output.stdout)))?;
    let row = &answer[0]["results"][0];
    let number = |name: &str| row[name].as_u64().unwrap_or(0);
    Ok(Written {
        flushes: number("flushes"),
        statements: number("statements"),
        deltas: number("deltas"),
    })
}

/// Milliseconds since the Unix epoch, as the edge's clock counts.
fn epoch_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Gives each visitor of the decide load a page view and a cart, as real visitors have.
fn seed_decide_visitors(base: &str) -> Result<()> {
    process::step("seeding visitors for the decide load");
    let agent = agent();
    for v in 0..DECIDE_VISITORS {
        let events = json!([
            { "id": format!("seed-page-{v:06}"), "session_id": "bench-session-1",
              "type": "page_view", "page": { "url": "http://shop/", "path": "/", "kind": "home" } },
            { "id": format!("seed-cart-{v:06}"), "session_id": "bench-session-1",
              "type": "add_to_cart", "product": { "id": "linen-shirt", "name": "Linen Shirt", "price": 59.0 } },
        ]);
        post(
            &agent,
            base,
            "/v1/events",
            &batch_body(&decide_visitor(v), events),
        )?;
    }
    Ok(())
}

fn decide_visitor(v: usize) -> String {
    format!("bench-decide-{v:06}")
}

fn batch_body(visitor_id: &str, events: serde_json::Value) -> String {
    json!({ "site": "demo", "visitor_id": visitor_id, "events": events }).to_string()
}

/// A mix of what a shopper's page sends: views, scrolls, engagement, cart, prompts.
fn event(id: &str, i: usize) -> serde_json::Value {
    let common = json!({ "id": id, "session_id": "bench-session-1" });
    let data = match i % 7 {
        0 => json!({ "type": "page_view",
                     "page": { "url": "http://shop/products/linen-shirt.html",
                               "path": "/products/linen-shirt.html", "kind": "product" } }),
        1 => json!({ "type": "product_view",
                     "product": { "id": "linen-shirt", "name": "Linen Shirt", "price": 59.0,
                                  "category": "shirts" } }),
        2 => json!({ "type": "scroll", "percent": 50 }),
        3 => json!({ "type": "engagement", "seconds": 15 }),
        4 => json!({ "type": "add_to_cart", "product": { "id": "linen-shirt", "price": 59.0 } }),
        5 => json!({ "type": "impression", "rule": "cart-reminder",
                     "experience": "cart-reminder-bar", "segment": "has_cart" }),
        _ => json!({ "type": "click", "rule": "cart-reminder",
                     "experience": "cart-reminder-bar", "segment": "has_cart" }),
    };
    let mut event = common;
    event
        .as_object_mut()
        .expect("an object")
        .extend(data.as_object().expect("an object").clone());
    event
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

fn post(agent: &ureq::Agent, base: &str, path: &str, body: &str) -> Result<()> {
    let mut response = agent
        .post(&format!("{base}{path}"))
        .content_type("application/json")
        .send(body)
        .with_context(|| format!("POST {path}"))?;
    let status = response.status().as_u16();
    if status != 200 {
        let text = response.body_mut().read_to_string().unwrap_or_default();
        bail!("POST {path} answered {status}: {text}");
    }
    // Reading the body lets the connection be reused.
    let _ = response.body_mut().read_to_string();
    Ok(())
}

/// What one load phase measured.
struct Measured {
    requests: u64,
    /// Items handled: decisions, or events.
    items: u64,
    errors: u64,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Measured {
    fn rate(&self) -> f64 {
        self.items as f64 / self.elapsed.as_secs_f64()
    }

    /// The latency at `p` percent, in milliseconds.
    fn percentile(&self, p: f64) -> f64 {
        if self.latencies.is_empty() {
            return f64::NAN;
        }
        let index = ((p / 100.0) * (self.latencies.len() - 1) as f64).round() as usize;
        self.latencies[index].as_secs_f64() * 1000.0
    }

    fn print(&self, name: &str, items: &str) {
        println!(
            "  {name}: {} requests, {} {items} in {:.1}s: {:.0} {items}/s; latency p50 {:.1} ms, \
             p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms; {} errors",
            self.requests,
            self.items,
            self.elapsed.as_secs_f64(),
            self.rate(),
            self.percentile(50.0),
            self.percentile(90.0),
            self.percentile(99.0),
            self.percentile(100.0),
            self.errors,
        );
    }
}

/// Runs `clients` clients sending what `request(worker, n)` gives (path, body, items),
/// measuring only after the warm-up.
fn load(
    base: &str,
    clients: usize,
    request: impl Fn(usize, usize) -> (&'static str, String, u64) + Sync,
) -> Result<Measured> {
    let stop = AtomicBool::new(false);
    let measuring = AtomicBool::new(false);
    let requests = AtomicU64::new(0);
    let items = AtomicU64::new(0);
    let errors = AtomicU64::new(0);
    let first_error = Mutex::new(None::<String>);
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let mut elapsed = Duration::ZERO;
    std::thread::scope(|scope| {
        for worker in 0..clients {
            let (stop, measuring, request) = (&stop, &measuring, &request);
            let (requests, items, errors, first_error) = (&requests, &items, &errors, &first_error);
            let latencies = Arc::clone(&latencies);
            scope.spawn(move || {
                let agent = agent();
                let mut mine = Vec::new();
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    let (path, body, count) = request(worker, n);
                    n += 1;
                    let sent = Instant::now();
                    let result = post(&agent, base, path, &body);
                    let took = sent.elapsed();
                    if !measuring.load(Ordering::Relaxed) {
                        continue;
                    }
                    match result {
                        Ok(()) => {
                            requests.fetch_add(1, Ordering::Relaxed);
                            items.fetch_add(count, Ordering::Relaxed);
                            mine.push(took);
                        }
                        Err(err) => {
                            errors.fetch_add(1, Ordering::Relaxed);
                            first_error
                                .lock()
                                .expect("not poisoned")
                                .get_or_insert_with(|| format!("{err:#}"));
                        }
                    }
                }
                latencies.lock().expect("not poisoned").extend(mine);
            });
        }
        std::thread::sleep(WARM_UP);
        measuring.store(true, Ordering::Relaxed);
        let started = Instant::now();
        std::thread::sleep(MEASURE);
        measuring.store(false, Ordering::Relaxed);
        elapsed = started.elapsed();
        stop.store(true, Ordering::Relaxed);
    });
    if let Some(err) = first_error.into_inner().expect("not poisoned") {
        eprintln!("  first error: {err}");
    }
    let mut latencies = std::mem::take(&mut *latencies.lock().expect("not poisoned"));
    latencies.sort();
    Ok(Measured {
        requests: requests.into_inner(),
        items: items.into_inner(),
        errors: errors.into_inner(),
        elapsed,
        latencies,
    })
}

/// The edge under load, killed with its process group when dropped.
struct BenchEdge {
    base: String,
    _child: Child,
    state: TempDir,
}

impl BenchEdge {
    /// Starts the edge on fresh state with the D1 migrations applied, after `prepare` has
    /// written what it needs into that state (wrangler's layout: `STATE/v3/...`).
    fn start(
        root: &Path,
        wrangler: &Path,
        wrangler_dev: bool,
        prepare: impl FnOnce(&Path) -> Result<()>,
    ) -> Result<BenchEdge> {
        let edge_dir = root.join("edge");
        let config = fs::read_to_string(edge_dir.join("wrangler.toml"))?;
        fs::write(
            edge_dir.join("wrangler.bench.toml"),
            without_rate_limits(&config),
        )?;
        let state = TempDir::new(root)?;
        crate::migrations::apply(wrangler, &edge_dir, "wrangler.bench.toml", Some(&state.0))?;
        prepare(&state.0)?;
        let port = free_port();
        let mut command = if wrangler_dev {
            process::step("starting the edge in workerd (wrangler dev) for the load test");
            let mut command = Command::new(wrangler);
            command
                .args(["dev", "-c", "wrangler.bench.toml", "--ip", "127.0.0.1"])
                .args(["--port", &port.to_string()])
                .args(["--inspector-port", &free_port().to_string()])
                .arg("--persist-to")
                .arg(&state.0)
                .args(["--show-interactive-dev-session=false", "--log-level=error"]);
            command
        } else {
            process::step("starting the edge in workerd (Miniflare) for the load test");
            let mut command = Command::new("node");
            // Miniflare's persistence root is what wrangler's `--persist-to` puts under `v3`.
            command
                .arg(root.join("xtask/edge-server.mjs"))
                .args(["wrangler.bench.toml", &port.to_string()])
                .arg(state.0.join("v3"));
            command
        };
        let log = state.0.join("edge.log");
        let mut child = Child::background(
            command
                .current_dir(&edge_dir)
                .env("RAPPORT_ADMIN_TOKEN", bench_analytics::ADMIN_TOKEN)
                .env("WRANGLER_SEND_METRICS", "false")
                .env("CLOUDFLARE_CF_FETCH_ENABLED", "false"),
            log,
            Some(&state.0),
        )
        .context("starting the edge")?;
        let base = format!("http://127.0.0.1:{port}");
        child
            .wait_for_http(&format!("{base}/v1/health"), Duration::from_secs(120))
            .map_err(|err| anyhow::anyhow!("the edge did not come up: {err}"))?;
        Ok(BenchEdge {
            base,
            _child: child,
            state,
        })
    }
}

/// `wrangler.toml` without its `[[ratelimits]]` tables.
fn without_rate_limits(config: &str) -> String {
    let mut out = String::new();
    let mut skipping = false;
    for line in config.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with('[') {
            skipping = trimmed.starts_with("[[ratelimits]]");
        }
        if !skipping {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// Where the benches keep the edge's state: in memory (`/dev/shm`) where there is one, unless
/// `RAPPORT_BENCH_STATE=disk`.
fn in_memory() -> Option<&'static Path> {
    let memory = Path::new("/dev/shm");
    let on_disk = std::env::var("RAPPORT_BENCH_STATE").is_ok_and(|v| v == "disk");
    (memory.is_dir() && !on_disk).then_some(memory)
}

/// A scratch directory for the edge's state, removed when dropped: in memory (`/dev/shm`)
/// where there is one, so the figures measure the edge and workerd rather than how fast
/// this machine's disk syncs (locally every Durable Object commit is an fsync; on
/// Cloudflare, storage is replicated instead). `RAPPORT_BENCH_STATE=disk` keeps it on disk,
/// under `target/`.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new(root: &Path) -> Result<TempDir> {
        let parent = in_memory().map_or_else(
            || root.join("target/bench-state"),
            |memory| memory.join("rapport-bench"),
        );
        let dir = parent.join(std::process::id().to_string());
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir)?;
        Ok(TempDir(dir))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::without_rate_limits;

    #[test]
    fn rate_limit_tables_are_removed_and_nothing_else() {
        let config = "name = \"x\"\n[vars]\nA = \"1\"\n\n[[ratelimits]]\nname = \"L\"\nsimple = { limit = 1 }\n\n[[migrations]]\ntag = \"v1\"\n";
        let out = without_rate_limits(config);
        assert!(!out.contains("ratelimits") && !out.contains("name = \"L\""));
        assert!(out.contains("[vars]") && out.contains("[[migrations]]") && out.contains("tag"));
    }
}
