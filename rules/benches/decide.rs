//! Benchmarks for the rules engine: compiling the demo rulebook, one decision for typical
//! visitors, a draft's impact over the visitor sample, and the same three rules written in
//! Rhai and in plain Rust.
//!
//! `cargo bench -p rapport-rules`; figures go in BENCHMARKS.md. Every benchmark runs on one
//! thread, so elements per second are decisions per second on one core.

use std::hint::black_box;
use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rapport_protocol::PageContext;
use rapport_rules::bucket::bucket;
use rapport_rules::testing::parse_visitor;
use rapport_rules::{decide, decision, parse_time, Profile, Rulebook, SourceFile};

fn demo_sources() -> Vec<SourceFile> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../demo-site/rulebook");
    let mut files: Vec<SourceFile> = std::fs::read_dir(&dir)
        .expect("the demo rulebook is there")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "rhai"))
        .map(|p| {
            let name = p
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            SourceFile::new(name, std::fs::read_to_string(&p).unwrap_or_default())
        })
        .collect();
    files.sort_by(|a, b| a.name.cmp(&b.name));
    files
}

fn now() -> i64 {
    parse_time("2026-11-20T10:00:00Z").expect("a valid time")
}

fn home() -> PageContext {
    PageContext {
        url: "https://tidewater.example/".into(),
        path: "/".into(),
        kind: Some("home".into()),
        locale: Some("en".into()),
    }
}

/// Typical visitors, by name.
fn visitors() -> Vec<(&'static str, Profile)> {
    let visitor = |json: &str| parse_visitor(json, now()).expect("a valid visitor");
    vec![
        (
            "first_visit",
            visitor(r#"{"visitor_id": "visitor-0001", "visits": 1, "page_views": 1}"#),
        ),
        (
            "cart",
            visitor(
                r#"{"visitor_id": "visitor-0002", "visits": 2, "session_id": "s2", "page_views": 6,
                    "product_views": 2, "cart": [{"product": {"id": "linen-shirt", "name": "Linen Shirt", "price": 59}, "quantity": 1}]}"#,
            ),
        ),
        (
            "vip_customer",
            visitor(
                r#"{"visitor_id": "visitor-0003", "visits": 12, "session_id": "s12", "last_seen_ms": "-1m",
                    "session_started_ms": "-5m", "previous_visit_ms": "-6d", "page_views": 80,
                    "traits": {"tier": "gold"}, "purchases": {"count": 5, "value": 820, "last_ms": "-20d"},
                    "nps": {"score": 9, "at_ms": "-30d"},
                    "prompts": {"vip-early-access-bar": {"rule": "vip-early-access", "impressions": 2, "clicks": 1}}}"#,
            ),
        ),
        (
            "browsing",
            visitor(
                r#"{"visitor_id": "visitor-0004", "visits": 3, "session_id": "s3", "product_views": 5,
                    "recent_products": [{"product": {"id": "canvas-tote", "name": "Waxed Canvas Tote", "price": 45}},
                                        {"product": {"id": "merino-throw", "name": "Merino Wool Throw", "price": 89}}]}"#,
            ),
        ),
    ]
}

fn compile(c: &mut Criterion) {
    let sources = demo_sources();
    c.bench_function("compile demo rulebook", |b| {
        b.iter(|| Rulebook::compile(black_box(&sources)).expect("the demo rulebook compiles"))
    });
    // What an isolate does before its first decision: a published rulebook, without the
    // checks that only produce diagnostics.
    c.bench_function("load demo rulebook for serving", |b| {
        b.iter(|| Rulebook::load(black_box(&sources)).expect("the demo rulebook loads"))
    });
}

fn decisions(c: &mut Criterion) {
    let book = Rulebook::compile(&demo_sources()).expect("the demo rulebook compiles");
    let page = home();
    let all = visitors();
    // What the edge runs for every page view: segments only as far as the rules need them.
    let mut group = c.benchmark_group("edge decision (demo rulebook)");
    group.throughput(Throughput::Elements(1));
    for (name, visitor) in &all {
        group.bench_function(*name, |b| {
            b.iter(|| decision(&book, black_box(visitor), black_box(&page), now()))
        });
    }
    group.throughput(Throughput::Elements(all.len() as u64));
    group.bench_function("mix of the four", |b| {
        b.iter(|| {
            for (_, visitor) in &all {
                black_box(decision(&book, visitor, &page, now()));
            }
        })
    });
    group.finish();
    // A rule that spins for some visitors: the decision stops it at the operations limit and
    // goes on without it.
    let mut sources = demo_sources();
    sources.push(SourceFile::new(
        "runaway.rhai",
        r#"rule("runaway", #{ description: "Spins for the heaviest visitors", priority: 100,
            who: |v| { if v.visits > 1000 { let n = 0; loop { n += 1; } } false },
            show: #{ kind: "bar", content: #{ en: #{ body: "never" } } } });"#,
    ));
    let runaway = Rulebook::compile(&sources).expect("the runaway rule compiles");
    let mut heavy = all[0].1.clone();
    heavy.sessions = 5_000;
    assert!(
        decision(&runaway, &heavy, &page, now())
            .trace
            .iter()
            .any(|t| &*t.rule == "runaway" && t.reason.contains("takes too long")),
        "the rule hits its limit"
    );
    let mut group = c.benchmark_group("edge decision, a rule hitting its operations limit");
    group.throughput(Throughput::Elements(1));
    group.bench_function("demo rulebook + runaway rule", |b| {
        b.iter(|| decision(&runaway, black_box(&heavy), black_box(&page), now()))
    });
    group.finish();
    // What preview, simulation and `rapport decide` run: every segment, for the report.
    let mut group = c.benchmark_group("full report (demo rulebook)");
    group.throughput(Throughput::Elements(all.len() as u64));
    group.bench_function("mix of the four", |b| {
        b.iter(|| {
            for (_, visitor) in &all {
                black_box(decide(&book, visitor, &page, now()));
            }
        })
    });
    group.finish();
}

/// The console's impact of a draft: the demo rulebook and the demo rulebook with one rule
/// more, over a full visitor sample (2,000 visitors, the four typical ones in turn, each on
/// the home page).
fn impact_over_the_sample(c: &mut Criterion) {
    use rapport_rules::impact::{impact, Sampled};
    use rapport_rules::profile::PageVisit;
    let active = Rulebook::load(&demo_sources()).expect("the demo rulebook loads");
    let mut with_one_more = demo_sources();
    with_one_more.push(SourceFile::new(
        "new-rule.rhai",
        r#"rule("new-cart-toast", #{ priority: 70, who: |v| v.cart.items > 0,
            show: #{ id: "new-cart-toast", kind: "toast", content: #{ en: #{ body: "Still there?" } } } });"#,
    ));
    let draft = Rulebook::load(&with_one_more).expect("the draft loads");
    let typical = visitors();
    let sample: Vec<Sampled> = (0..2_000)
        .map(|i| {
            let mut profile = typical[i % typical.len()].1.clone();
            profile.visitor_id = format!("sampled-{i:05}");
            profile.recent_pages.push_front(PageVisit {
                path: "/".into(),
                kind: Some("home".into()),
                at_ms: now(),
            });
            Sampled {
                profile,
                at_ms: now(),
            }
        })
        .collect();
    let mut group = c.benchmark_group("impact (demo rulebook against a draft)");
    group.sample_size(20);
    group.throughput(Throughput::Elements(sample.len() as u64));
    group.bench_function("2,000 visitors", |b| {
        b.iter(|| impact(&active, &draft, black_box(&sample)))
    });
    group.finish();
}

/// Three demo rules (welcome A/B test, cart reminder, VIP early access) in Rhai.
const THREE_RULES: &str = r#"
segment("first_time", |v| v.visits <= 1 && v.purchases.count == 0);
segment("has_cart", |v| v.cart.items > 0);
segment("vip", |v| v.traits.get("tier") == "gold" || v.purchases.value >= 500.0);
rule("welcome", #{ priority: 10, who: "first_time", page: "home", cap: #{ per_session: 2 },
    experiment: #{ seed: "welcome-2026", variants: [
        #{ id: "offer", weight: 45, show: #{ id: "welcome-offer", kind: "bar", content: #{ en: #{ body: "a" } } } },
        #{ id: "story", weight: 45, show: #{ id: "welcome-story", kind: "bar", content: #{ en: #{ body: "b" } } } },
        #{ id: "control", weight: 10 } ] } });
rule("cart-reminder", #{ priority: 50, who: "has_cart", page: ["home", "category"], cap: #{ stop_after: "clicked" },
    show: #{ id: "cart-reminder-bar", kind: "bar", content: #{ en: #{ body: "c" } } } });
rule("vip-early-access", #{ priority: 60, who: "vip", page: ["home", "category"],
    schedule: #{ start: "2026-01-01T00:00:00Z", end: "2027-01-31T23:59:59Z" },
    cap: #{ per_session: 1, stop_after: "clicked" },
    show: #{ id: "vip-early-access-bar", kind: "bar", content: #{ en: #{ body: "v" } } } });
"#;

/// The same three rules in plain Rust: what the Rhai version costs is measured against this.
fn plain_three_rules(visitor: &Profile, page: &PageContext, now_ms: i64) -> Vec<&'static str> {
    let on = |kinds: &[&str]| page.kind.as_deref().is_some_and(|k| kinds.contains(&k));
    let history = |id: &str| visitor.prompts.get(id);
    let session_seen = |id: &str| {
        history(id).map_or(0, |h| {
            if h.session_id == visitor.session_id {
                h.session_impressions
            } else {
                0
            }
        })
    };
    let mut shown = Vec::new();
    let vip = visitor.traits.get("tier").and_then(|t| t.as_str()) == Some("gold")
        || visitor.purchases.lifetime_value >= 500.0;
    let (start, end) = (1_767_225_600_000, 1_801_439_999_000);
    if vip
        && on(&["home", "category"])
        && (start..end).contains(&now_ms)
        && session_seen("vip-early-access-bar") < 1
        && history("vip-early-access-bar").is_none_or(|h| h.clicks == 0)
    {
        shown.push("vip-early-access-bar");
    }
    if visitor.cart_items() > 0
        && on(&["home", "category"])
        && history("cart-reminder-bar").is_none_or(|h| h.clicks == 0)
        && shown.is_empty()
    {
        shown.push("cart-reminder-bar");
    }
    if visitor.sessions <= 1 && visitor.purchases.count == 0 && on(&["home"]) && shown.is_empty() {
        let n = bucket("welcome-2026", &visitor.visitor_id);
        let variant = if n < 0.45 {
            Some("welcome-offer")
        } else if n < 0.9 {
            Some("welcome-story")
        } else {
            None
        };
        if let Some(id) = variant.filter(|id| session_seen(id) < 2) {
            shown.push(id);
        }
    }
    shown
}

fn rhai_against_plain_rust(c: &mut Criterion) {
    let book = Rulebook::compile(&[SourceFile::new("three.rhai", THREE_RULES)]).expect("compiles");
    let page = home();
    let all = visitors();
    // Both versions must agree, or the comparison means nothing.
    for (name, visitor) in &all {
        let rhai: Vec<String> = decide(&book, visitor, &page, now())
            .decision
            .experiences
            .iter()
            .map(|e| e.experience.clone())
            .collect();
        assert_eq!(rhai, plain_three_rules(visitor, &page, now()), "{name}");
    }
    let mut group = c.benchmark_group("three rules");
    group.throughput(Throughput::Elements(all.len() as u64));
    group.bench_function("rhai", |b| {
        b.iter(|| {
            for (_, visitor) in &all {
                black_box(decision(&book, visitor, &page, now()));
            }
        })
    });
    group.bench_function("plain rust", |b| {
        b.iter(|| {
            for (_, visitor) in &all {
                black_box(plain_three_rules(black_box(visitor), &page, now()));
            }
        })
    });
    group.finish();
}

/// What each way of giving a recommendation's products costs a decision, on a product page
/// for the browsing visitor: the rule's part only (a strategy gives the edge a request; the
/// catalogue's lookup is `cargo xtask bench --only recs`).
fn strategies(c: &mut Criterion) {
    let (_, browsing) = visitors().pop().expect("the browsing visitor");
    let page = PageContext {
        url: "https://tidewater.example/products/canvas-tote".into(),
        path: "/products/canvas-tote".into(),
        kind: Some("product".into()),
        locale: Some("en".into()),
    };
    let mut group = c.benchmark_group("a recommendation's products, per strategy");
    group.throughput(Throughput::Elements(1));
    for (name, products) in [
        ("v.recent_products", "v.recent_products"),
        ("similar_to(v, 4)", "similar_to(v, 4)"),
        ("bought_with(v.cart, 4)", "bought_with(v.cart, 4)"),
        ("popular(\"bags\", 8)", "popular(\"bags\", 8)"),
        ("trending(8)", "trending(8)"),
        ("for_you(v, 8)", "for_you(v, 8)"),
        ("similar_to + only, price, pin, boost", "similar_to(v, 4).only([\"bags\", \"home\"]).price(10, 100).pin(\"linen-shirt\").boost(\"home\", 2)"),
    ] {
        let source = format!(
            r#"rule("recs", #{{ show: #{{ kind: "recommendations", slot: "recs",
                products: |v| {products}, content: #{{ en: #{{ body: "For you" }} }} }} }});"#
        );
        let book = Rulebook::compile(&[SourceFile::new("recs.rhai", source)])
            .expect("the strategy compiles");
        group.bench_function(name, |b| {
            b.iter(|| decision(&book, black_box(&browsing), black_box(&page), now()))
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    compile,
    decisions,
    strategies,
    impact_over_the_sample,
    rhai_against_plain_rust
);
criterion_main!(benches);
