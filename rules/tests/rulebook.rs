//! The rules engine against the demo rulebook and against small broken rulebooks.

use rapport_protocol::{
    AddToCart, BarPosition, EventData, ExperienceRef, PageContext, PageView, Product,
};
use rapport_rules::{decide, Outcome, Profile, Rulebook, SourceFile};

fn book(source: &str) -> Rulebook {
    Rulebook::compile(&[SourceFile::new("book.rhai", source)])
        .unwrap_or_else(|problems| panic!("{problems:#?}"))
}

fn page(kind: &str) -> PageContext {
    PageContext {
        url: format!("http://shop.test/{kind}"),
        path: format!("/{kind}"),
        kind: Some(kind.to_owned()),
        locale: None,
    }
}

fn apply(profile: &mut Profile, data: EventData) {
    let event = rapport_protocol::Event {
        id: format!("evt-{:08}", profile.events),
        session_id: "session-1".into(),
        client_ts: None,
        data,
    };
    profile.apply(&event, 1_000);
}

fn shirt() -> Product {
    Product {
        image: None,
        id: "linen-shirt".into(),
        name: Some("Linen shirt".into()),
        price: Some(59.0),
        currency: Some("EUR".into()),
        category: Some("shirts".into()),
        availability: None,
        url: Some("/products/linen-shirt".into()),
    }
}

/// Asserts the experience ids shown to `profile` on a page of kind `kind`.
fn check(book: &Rulebook, profile: &Profile, kind: &str, expected: &[&str]) {
    let report = decide(book, profile, &page(kind), 1_000);
    let shown: Vec<&str> = report
        .decision
        .experiences
        .iter()
        .map(|e| e.experience.as_str())
        .collect();
    assert_eq!(shown, expected, "trace: {:#?}", report.trace);
}

const TWO_BARS: &str = r#"
segment("first_time", |v| v.visits <= 1);
segment("has_cart", |v| v.cart.items > 0);
rule("welcome", #{ priority: 10, who: "first_time", page: "home", cap: #{ per_session: 3 },
    show: #{ id: "welcome-bar", kind: "bar", content: #{
        en: #{ title: "Welcome", body: "Hello" }, pt: #{ body: "Olá" } } } });
rule("cart-reminder", #{ priority: 50, who: "has_cart", page: ["home"], cap: #{ stop_after: "clicked" },
    show: #{ id: "cart-reminder-bar", kind: "bar", content: #{ en: #{ body: "Your cart" } } } });
"#;

#[test]
fn first_visit_home_gets_the_welcome_bar() {
    let book = book(TWO_BARS);
    let mut visitor = Profile::new("visitor-1");
    apply(
        &mut visitor,
        EventData::PageView(PageView {
            page: page("home"),
            title: None,
            referrer: None,
        }),
    );
    check(&book, &visitor, "home", &["welcome-bar"]);
    check(&book, &visitor, "cart", &[]);
}

#[test]
fn a_bar_runs_along_the_top_when_the_rule_says_so() {
    let book = book(
        r#"rule("top", #{ page: "home", show: #{ id: "top-bar", kind: "bar", position: "top",
               content: #{ en: #{ body: "Free delivery this week" } } } });
           rule("bottom", #{ page: "cart", show: #{ id: "bottom-bar", kind: "bar",
               content: #{ en: #{ body: "Free delivery this week" } } } });"#,
    );
    let visitor = Profile::new("visitor-1");
    let position = |kind: &str| {
        let report = decide(&book, &visitor, &page(kind), 1_000);
        report.decision.experiences[0].position
    };
    assert_eq!(position("home"), Some(BarPosition::Top));
    assert_eq!(
        position("cart"),
        None,
        "the bottom, the default, goes unsaid"
    );
}

#[test]
fn cart_reminder_outranks_welcome_until_clicked() {
    let book = book(TWO_BARS);
    let mut visitor = Profile::new("visitor-1");
    apply(
        &mut visitor,
        EventData::AddToCart(AddToCart {
            product: shirt(),
            quantity: 1,
        }),
    );
    check(&book, &visitor, "home", &["cart-reminder-bar"]);
    let report = decide(&book, &visitor, &page("home"), 1_000);
    let welcome = report.trace.iter().find(|t| &*t.rule == "welcome").unwrap();
    assert_eq!(welcome.outcome, Outcome::Outranked);
    assert!(report.segments.contains(&"has_cart".to_owned()));

    apply(
        &mut visitor,
        EventData::Click(
            ExperienceRef {
                rule: "cart-reminder".into(),
                experience: "cart-reminder-bar".into(),
                variant: None,
                segment: None,
            }
            .into(),
        ),
    );
    check(&book, &visitor, "home", &["welcome-bar"]);
}

#[test]
fn welcome_is_capped_per_session() {
    let book = book(TWO_BARS);
    let mut visitor = Profile::new("visitor-1");
    let seen = ExperienceRef {
        rule: "welcome".into(),
        experience: "welcome-bar".into(),
        variant: None,
        segment: None,
    };
    for _ in 0..3 {
        check(&book, &visitor, "home", &["welcome-bar"]);
        apply(&mut visitor, EventData::Impression(seen.clone()));
    }
    check(&book, &visitor, "home", &[]);
}

#[test]
fn content_follows_the_page_language() {
    let book = book(TWO_BARS);
    let visitor = Profile::new("visitor-1");
    let locale = |l: Option<&str>| {
        let mut p = page("home");
        p.locale = l.map(str::to_owned);
        decide(&book, &visitor, &p, 0).decision.experiences[0]
            .content
            .locale
            .clone()
    };
    assert_eq!(locale(Some("pt-PT")), "pt");
    assert_eq!(locale(Some("de")), "en");
    assert_eq!(locale(None), "en");
}

#[test]
fn translations_are_chosen_whatever_the_tags_case_and_separator() {
    let book = book(
        r#"rule("hello", #{ show: #{ kind: "bar", content: #{
            en: #{ body: "Hello" }, it: #{ body: "Ciao" }, "pt-BR": #{ body: "Oi" } } } });"#,
    );
    let visitor = Profile::new("visitor-1");
    let body = |lang: &str| {
        let mut p = page("home");
        p.locale = Some(lang.to_owned());
        decide(&book, &visitor, &p, 0).decision.experiences[0]
            .content
            .body
            .clone()
    };
    // `<html lang="IT">` is Italian: by language, then by region.
    assert_eq!(body("IT"), "Ciao");
    assert_eq!(body("it-IT"), "Ciao");
    assert_eq!(body("pt_br"), "Oi");
    assert_eq!(body("PT-BR"), "Oi");
    assert_eq!(body("fr"), "Hello");
}

#[test]
fn a_paused_rule_shows_nothing_and_says_so() {
    let book = book(
        r#"rule("sale", #{ enabled: false, show: #{ kind: "bar", content: #{ en: #{ body: "sale" } } } });
           rule("hello", #{ show: #{ kind: "toast", content: #{ en: #{ body: "hello" } } } });"#,
    );
    let report = decide(&book, &Profile::new("visitor-1"), &page("home"), 0);
    let sale = report.trace.iter().find(|t| &*t.rule == "sale").unwrap();
    assert_eq!(sale.outcome, Outcome::Paused);
    assert_eq!(sale.reason, "the rule is paused (`enabled: false`)");
    let shown: Vec<&str> = report
        .decision
        .experiences
        .iter()
        .map(|e| e.rule.as_str())
        .collect();
    assert_eq!(shown, ["hello"]);
    let problems = Rulebook::compile(&[SourceFile::new(
        "book.rhai",
        r#"rule("sale", #{ enabled: "no", show: #{ kind: "bar", content: #{ en: #{ body: "x" } } } });"#,
    )])
    .err()
    .unwrap();
    assert!(
        problems[0]
            .message
            .contains("`enabled` must be true or false"),
        "{problems:?}"
    );
}

#[test]
fn version_is_a_content_hash() {
    let a = book(TWO_BARS);
    let b = book(TWO_BARS);
    assert_eq!(a.version(), b.version());
    assert!(a.version().starts_with("rb-"));
    let other = book("segment(\"x\", |v| true);");
    assert_ne!(a.version(), other.version());
}

const EXPERIMENT: &str = r#"
rule("test", #{ experiment: #{ seed: "welcome-2026", variants: [
    #{ id: "offer", weight: 45, show: #{ kind: "bar", content: #{ en: #{ body: "a" } } } },
    #{ id: "story", weight: 45, show: #{ kind: "bar", content: #{ en: #{ body: "b" } } } },
    #{ id: "control", weight: 10 } ] } });
"#;

#[test]
fn experiments_assign_like_growthbook_and_report_controls() {
    let book = book(EXPERIMENT);
    // Buckets from GrowthBook's hash v2 with seed "welcome-2026": 0.3742, 0.8915, 0.9818.
    let variant = |id: &str| {
        let report = decide(&book, &Profile::new(id), &page("home"), 0);
        match report.decision.experiences.first() {
            Some(e) => (e.variant.clone().unwrap(), e.experience.clone()),
            None => {
                let control = &report.decision.controls[0];
                assert_eq!(report.trace[0].outcome, Outcome::Control);
                // The control's exposure waits for the treatment's trigger.
                assert_eq!(control.trigger, rapport_protocol::Trigger::Immediately);
                let control = &control.reference;
                (control.variant.clone().unwrap(), control.experience.clone())
            }
        }
    };
    assert_eq!(
        variant("visitor-0001"),
        ("offer".into(), "test-offer".into())
    );
    assert_eq!(
        variant("visitor-0003"),
        ("story".into(), "test-story".into())
    );
    assert_eq!(
        variant("visitor-0013"),
        ("control".into(), "test-control".into())
    );

    let mut counts = std::collections::HashMap::new();
    for i in 0..10_000 {
        *counts.entry(variant(&format!("v-{i}")).0).or_insert(0) += 1;
    }
    assert!((4_300..4_700).contains(&counts["offer"]), "{counts:?}");
    assert!((800..1_200).contains(&counts["control"]), "{counts:?}");
}

#[test]
fn coverage_and_namespaces_leave_visitors_out() {
    let book = book(
        r#"rule("half", #{ experiment: #{ coverage: 0.5, variants: [
            #{ id: "a", weight: 1, show: #{ kind: "toast", content: #{ en: #{ body: "a" } } } },
            #{ id: "b", weight: 1, show: #{ kind: "toast", content: #{ en: #{ body: "b" } } } } ] } });
           rule("ns", #{ experiment: #{ namespace: ["checkout", 0.0, 0.3], variants: [
            #{ id: "a", weight: 1, show: #{ kind: "bar", content: #{ en: #{ body: "a" } } } },
            #{ id: "b", weight: 1 } ] } });"#,
    );
    let (mut out_half, mut out_ns) = (0, 0);
    for i in 0..4_000 {
        let report = decide(&book, &Profile::new(&format!("v-{i}")), &page("home"), 0);
        for line in &report.trace {
            if line.outcome == Outcome::NotInExperiment {
                if &*line.rule == "half" {
                    out_half += 1
                } else {
                    out_ns += 1
                }
            }
        }
    }
    assert!((1_800..2_200).contains(&out_half), "{out_half}");
    assert!((2_600..3_000).contains(&out_ns), "{out_ns}");
}

#[test]
fn holdout_sees_only_non_personalised_experiences() {
    let book = book(
        r#"settings(#{ holdout: 20 });
           rule("personal", #{ show: #{ kind: "bar", content: #{ en: #{ body: "p" } } } });
           rule("general", #{ personalized: false, show: #{ kind: "toast", content: #{ en: #{ body: "g" } } } });"#,
    );
    let mut held = 0;
    for i in 0..5_000 {
        let report = decide(&book, &Profile::new(&format!("v-{i}")), &page("home"), 0);
        let ids: Vec<&str> = report
            .decision
            .experiences
            .iter()
            .map(|e| e.rule.as_str())
            .collect();
        if report.holdout {
            held += 1;
            assert_eq!(ids, ["general"]);
        } else {
            assert_eq!(ids, ["general", "personal"]);
        }
    }
    assert!((900..1_100).contains(&held), "{held}");
}

#[test]
fn schedules_bound_a_rule_in_time() {
    let book = book(
        r#"rule("sale", #{ schedule: #{ start: "2026-11-27T00:00:00Z", end: "2026-11-30T00:00:00Z" },
            show: #{ kind: "bar", content: #{ en: #{ body: "sale" } } } });"#,
    );
    let at = |time: &str| {
        let now = rapport_rules::parse_time(time).unwrap();
        decide(&book, &Profile::new("visitor-1"), &page("home"), now).trace[0].outcome
    };
    assert_eq!(at("2026-11-26T23:59:59Z"), Outcome::OutOfSchedule);
    assert_eq!(at("2026-11-28T12:00:00Z"), Outcome::Matched);
    assert_eq!(at("2026-11-30T00:00:00Z"), Outcome::OutOfSchedule);
}

#[test]
fn recommendations_come_from_the_rule_and_are_checked() {
    let book = book(
        r#"rule("recs", #{ show: #{ kind: "recommendations", slot: "recs", products: |v| v.recent_products,
            content: #{ en: #{ body: "You looked at" } } } });"#,
    );
    let mut visitor = Profile::new("visitor-1");
    check(&book, &visitor, "home", &[]);
    apply(
        &mut visitor,
        EventData::ProductView(rapport_protocol::ProductView { product: shirt() }),
    );
    let report = decide(&book, &visitor, &page("home"), 0);
    let shown = &report.decision.experiences[0];
    assert_eq!(shown.placement, "slot:recs");
    assert_eq!(shown.content.products[0].id, "linen-shirt");
    assert_eq!(
        shown.content.products[0].url.as_deref(),
        Some("/products/linen-shirt")
    );
}

#[test]
fn a_strategy_asks_the_edge_for_a_slot_without_what_the_shopper_has_or_sees() {
    let book = book(
        r#"rule("similar", #{ show: #{ kind: "recommendations", slot: "recs",
            products: |v| similar_to(v, 4).only(["shirts", "shoes"]).price(10, 90.5)
                .pin("scarf").bury(["socks"]).boost("shoes", 2),
            content: #{ en: #{ body: "You may also like" } } } });"#,
    );
    let mut visitor = Profile::new("visitor-1");
    let boots = Product {
        id: "boots".into(),
        ..shirt()
    };
    for product in [boots.clone(), shirt()] {
        apply(
            &mut visitor,
            EventData::ProductView(rapport_protocol::ProductView { product }),
        );
    }
    apply(
        &mut visitor,
        EventData::AddToCart(AddToCart {
            product: boots,
            quantity: 1,
        }),
    );
    let report = decide(&book, &visitor, &page("product"), 0);
    let shown = &report.decision.experiences[0];
    assert_eq!(shown.strategy.as_deref(), Some("similar_to"));
    assert!(shown.content.products.is_empty(), "the edge fills it");
    let slot = shown.fill.as_ref().expect("a slot to fill");
    assert_eq!(slot.strategy, rapport_protocol::Strategy::SimilarTo);
    assert_eq!(slot.count, 4);
    assert_eq!(slot.anchors, ["linen-shirt", "boots"], "the latest first");
    assert_eq!(slot.only, ["shirts", "shoes"]);
    assert_eq!((slot.price_min, slot.price_max), (Some(10.0), Some(90.5)));
    assert_eq!(
        (&slot.pinned[..], &slot.buried[..]),
        (&["scarf".to_owned()][..], &["socks".to_owned()][..])
    );
    assert_eq!(slot.boosts, [("shoes".to_owned(), 2.0)]);
    assert_eq!(
        slot.on_screen.as_deref(),
        Some("linen-shirt"),
        "the product page's own"
    );
    assert_eq!(slot.exclude, ["boots"], "in the cart");
    // The page gets the strategy's name, never the slot request.
    let json = serde_json::to_value(shown).unwrap();
    assert_eq!(json["strategy"], "similar_to");
    assert!(json.get("fill").is_none(), "{json}");

    // Away from a product page nothing is on screen; what was bought stays out.
    apply(
        &mut visitor,
        EventData::OrderComplete(rapport_protocol::OrderComplete {
            order_id: "order-1".into(),
            value: None,
            currency: None,
        }),
    );
    let report = decide(&book, &visitor, &page("home"), 0);
    let slot = report.decision.experiences[0].fill.clone().unwrap();
    assert_eq!(slot.on_screen, None);
    assert_eq!(slot.exclude, ["boots"], "bought");
}

/// Compiles one file and returns its diagnostics as `file:line:col: error: message` lines.
fn problems(source: &str) -> Vec<String> {
    match Rulebook::compile(&[SourceFile::new("book.rhai", source)]) {
        Ok(_) => Vec::new(),
        Err(problems) => problems.iter().map(ToString::to_string).collect(),
    }
}

const SHOW: &str = r#"#{ kind: "bar", content: #{ en: #{ body: "hi" } } }"#;

#[test]
fn diagnostics_name_file_line_and_column() {
    let check = |source: &str, expected: &str| {
        let found = problems(source);
        assert!(
            found.iter().any(|p| p.starts_with(expected)),
            "expected a line starting {expected:?}, got {found:#?}"
        );
    };
    check(
        "rule(\"a\", #{ show: \n  ",
        "book.rhai:1:12: error: this `{` is never closed (the file stops making sense at 2:3: the file ends too early)",
    );
    check(
        &format!("rule(\"a\", #{{ who: \"nobody\", show: {SHOW} }});"),
        "book.rhai:1:14: error: rule \"a\": unknown segment \"nobody\"",
    );
    check(
        &format!("rule(\"a\", #{{ colour: 1, show: {SHOW} }});"),
        "book.rhai:1:14: error: rule \"a\": unknown field `colour`",
    );
    check(
        &format!("rule(\"a\", #{{ show: {SHOW} }});\nrule(\"a\", #{{ show: {SHOW} }});"),
        "book.rhai:2:1: error: rule \"a\" is defined twice",
    );
    check(
        r#"rule("a", #{ show: #{ kind: "bar", content: #{ en: #{ body: "x", cta: #{ label: "x", url: "javascript:alert(1)" } } } } });"#,
        "book.rhai:1:86: error: rule \"a\": `show.content.en.cta.url` must be an http(s) or relative link",
    );
    check(
        &format!("rule(\"a\", #{{ when: \"sometimes\", show: {SHOW} }});"),
        "book.rhai:1:14: error: rule \"a\": `when` must be",
    );
    check("let x = undefined_thing;", "book.rhai:1:9: error: ");
    check(
        &format!("rule(\"a\", #{{ show: {SHOW}, experiment: #{{ variants: [] }} }});"),
        "book.rhai:1:14: error: rule \"a\": give either `show` or `experiment`, not both",
    );
    check(
        &format!("rule(\"a\", #{{ schedule: #{{ start: \"tomorrow\" }}, show: {SHOW} }});"),
        "book.rhai:1:27: error: rule \"a\": `schedule.start`: \"tomorrow\" is not an RFC 3339 time",
    );
    check(
        "rule(\"a\", #{ experiment: #{ variants: [#{ id: \"x\", weight: -1 }, #{ id: \"y\", weight: 1 }] } });",
        "book.rhai:1:52: error: rule \"a\": `experiment.variants[0].weight` must be from 0 to 1000000, not -1",
    );
    check(
        "rule(\"a\", #{ show: #{ kind: \"inline\", content: #{ en: #{ body: \"x\" } } } });",
        "book.rhai:1:14: error: rule \"a\": `show.slot` is missing",
    );
    check(
        "rule(\"a\", #{ show: #{ kind: \"coupon\", content: #{ en: #{ body: \"x\" } } } });",
        "book.rhai:1:51: error: rule \"a\": `show.content.en.code` is missing",
    );
    check(
        "rule(\"a\", #{ show: #{ kind: \"modal\", position: \"top\", content: #{ en: #{ body: \"x\" } } } });",
        "book.rhai:1:38: error: rule \"a\": `show.position` only goes with a bar",
    );
    check(
        "rule(\"a\", #{ show: #{ kind: \"bar\", position: \"left\", content: #{ en: #{ body: \"x\" } } } });",
        "book.rhai:1:36: error: rule \"a\": `show.position` must be \"top\" or \"bottom\", not \"left\"",
    );
    check(
        "settings(#{ holdout: 120 });",
        "book.rhai:1:1: error: settings: `holdout` must be from 0 to 100, not 120",
    );
    check(
        &format!("rule(\"a\", #{{ cap: #{{ per_days: #{{ times: 1 }} }}, show: {SHOW} }});"),
        "book.rhai:1:22: error: rule \"a\": `cap.per_days.days` is missing",
    );
    check(
        "segment(\"s\", |v| true);\nsegment(\"s\", |v| false);",
        "book.rhai:2:1: error: segment \"s\" is defined twice",
    );
}

#[test]
fn all_problems_are_reported_at_once() {
    let source = format!(
        "rule(\"a\", #{{ who: \"x\", show: {SHOW} }});\nrule(\"b\", #{{ who: \"y\", show: {SHOW} }});"
    );
    assert_eq!(problems(&source).len(), 2);
}

#[test]
fn mistakes_that_only_show_when_code_runs_are_found_at_compile_time() {
    let check = |source: String, expected: &str| {
        let found = problems(&source);
        assert!(
            found.iter().any(|p| p.starts_with(expected)),
            "expected a line starting {expected:?}, got {found:#?}"
        );
    };
    check(
        format!("rule(\"a\", #{{ who: |v| v.cart.cuont > 1, show: {SHOW} }});"),
        "book.rhai:1:30: error: `v.cart` has no field `cuont`",
    );
    check(
        format!("rule(\"a\", #{{ who: |v| no_such_function(v), show: {SHOW} }});"),
        "book.rhai:1:23: error: there is no function `no_such_function` taking (Visitor)",
    );
    check(
        format!(
            "segment(\"s\", |v| v.visits + \"x\");\nrule(\"a\", #{{ who: \"s\", show: {SHOW} }});"
        ),
        "book.rhai:1:",
    );
    check(
        format!("rule(\"a\", #{{ who: |v| {{ loop {{}} }}, show: {SHOW} }});"),
        "book.rhai:1:1: error: this takes too long",
    );
}

#[test]
fn a_failing_rule_is_skipped_and_the_others_decide() {
    // Conditions that fail only for some visitors get past the compiler's sample visitors.
    let source = format!(
        "rule(\"broken\", #{{ priority: 9, who: |v| if v.visits == 7 {{ v.traits.no_such_trait > 1 }} else {{ true }}, show: {SHOW} }});\n\
         rule(\"runaway\", #{{ priority: 8, who: |v| {{ while v.visits == 7 {{}} true }}, show: #{{ kind: \"toast\", content: #{{ en: #{{ body: \"t\" }} }} }} }});\n\
         rule(\"fine\", #{{ priority: 1, who: |v| v.visits >= 0, show: #{{ kind: \"modal\", content: #{{ en: #{{ body: \"m\" }} }} }} }});"
    );
    let book = Rulebook::compile(&[SourceFile::new("book.rhai", source)]).unwrap();
    let mut visitor = Profile::new("visitor-1");
    visitor.sessions = 7;
    let report = decide(&book, &visitor, &page("home"), 0);
    let outcome = |id: &str| {
        report
            .trace
            .iter()
            .find(|t| &*t.rule == id)
            .unwrap()
            .clone()
    };
    assert_eq!(outcome("broken").outcome, Outcome::Errored);
    assert!(
        outcome("broken").reason.starts_with("book.rhai:1:"),
        "{:?}",
        outcome("broken")
    );
    assert_eq!(outcome("runaway").outcome, Outcome::Errored);
    assert_eq!(outcome("fine").outcome, Outcome::Matched);
    assert_eq!(report.decision.experiences.len(), 1);
}

/// The marketer's scenarios from the "rules a marketer can trust" report, as regression tests.
mod trust {
    use super::*;

    const BUDGET_OF_ONE: &str = r#"
settings(#{ fatigue: #{ prompts_per_session: 1 } });
segment("big_cart", |v| v.cart.value > 80.0);
rule("hello", #{ priority: 90, show: #{ kind: "toast", content: #{ en: #{ body: "Hello" } } } });
rule("big", #{ priority: 10, who: "big_cart",
    show: #{ kind: "modal", content: #{ en: #{ body: "Big cart" } } } });
rule("italian", #{ priority: 5, who: |v| v.language == "it" && v.cart.value > 80.0,
    show: #{ kind: "bar", content: #{ en: #{ body: "Ciao" } } } });
"#;

    fn line(report: &rapport_rules::DecisionReport, id: &str) -> rapport_rules::TraceEntry {
        report
            .trace
            .iter()
            .find(|t| &*t.rule == id)
            .unwrap()
            .clone()
    }

    #[test]
    fn a_rule_whose_audience_does_not_match_is_not_reported_as_capped() {
        let book = book(BUDGET_OF_ONE);
        let report = decide(&book, &Profile::new("visitor-1"), &page("home"), 0);
        let big = line(&report, "big");
        assert_eq!(big.outcome, Outcome::NotMatched, "{big:?}");
        assert_eq!(big.audience, Some(false));
        assert_eq!(
            big.reason,
            "not in segment \"big_cart\": v.cart.value = 0.0, needs > 80.0"
        );
        let italian = line(&report, "italian");
        assert_eq!(
            italian.reason,
            "the `who` condition is false: v.language = \"\", needs == \"it\""
        );
    }

    #[test]
    fn capped_means_the_audience_matched() {
        let book = book(BUDGET_OF_ONE);
        let mut visitor = big_cart();
        // The session's one prompt went to the greeting.
        apply(&mut visitor, EventData::Impression(seen("hello", "hello")));
        let report = decide(&book, &visitor, &page("home"), 0);
        let big = line(&report, "big");
        assert_eq!(big.outcome, Outcome::Capped, "{big:?}");
        assert_eq!(big.reason, "the session's prompt budget is used up");
        assert_eq!(big.audience, Some(true));
    }

    fn seen(rule: &str, experience: &str) -> ExperienceRef {
        ExperienceRef {
            rule: rule.into(),
            experience: experience.into(),
            variant: None,
            segment: None,
        }
    }

    fn big_cart() -> Profile {
        let mut visitor = Profile::new("visitor-1");
        apply(
            &mut visitor,
            EventData::AddToCart(AddToCart {
                product: Product {
                    price: Some(95.0),
                    ..shirt()
                },
                quantity: 1,
            }),
        );
        visitor
    }

    /// The budget is spent by what the page draws: with one prompt left and two candidates,
    /// both come, best first, each saying how many the page may still draw.
    #[test]
    fn with_fewer_prompts_left_than_candidates_all_come_in_rank_order_with_the_budget() {
        let book = book(BUDGET_OF_ONE);
        let report = decide(&book, &big_cart(), &page("home"), 0);
        let offered: Vec<(&str, Option<u32>)> = report
            .decision
            .experiences
            .iter()
            .map(|e| (e.rule.as_str(), e.budget))
            .collect();
        assert_eq!(offered, [("hello", Some(1)), ("big", Some(1))]);
        assert_eq!(line(&report, "hello").reason, "shown");
        let big = line(&report, "big");
        assert_eq!(big.outcome, Outcome::Matched, "{big:?}");
        assert_eq!(
            big.reason,
            "offered, if the page draws it before higher prompts use the session's last 1 prompt(s)"
        );
    }

    /// docs/rules.md: inline content fills space the page reserved and uses no budget.
    #[test]
    fn inline_content_shown_this_session_spends_no_budget() {
        let source = format!(
            "{BUDGET_OF_ONE}\nrule(\"note\", #{{ priority: 1, page: \"cart\", show: #{{ kind: \"inline\", \
             slot: \"note\", content: #{{ en: #{{ body: \"Free shipping\" }} }} }} }});"
        );
        let book = book(&source);
        let mut visitor = Profile::new("visitor-1");
        let on_cart = decide(&book, &visitor, &page("cart"), 0);
        let budgets: Vec<(&str, Option<u32>)> = on_cart
            .decision
            .experiences
            .iter()
            .map(|e| (e.rule.as_str(), e.budget))
            .collect();
        assert_eq!(
            budgets,
            [("hello", Some(1)), ("note", None)],
            "inline content is no prompt"
        );
        apply(&mut visitor, EventData::Impression(seen("note", "note")));
        check(&book, &visitor, "home", &["hello"]);
        apply(&mut visitor, EventData::Impression(seen("hello", "hello")));
        check(&book, &visitor, "home", &[]);
    }

    #[test]
    fn v_locale_and_v_language_are_the_pages() {
        let book = book(BUDGET_OF_ONE);
        let mut visitor = Profile::new("visitor-1");
        visitor.locale = Some("en-GB".into());
        let mut italian = page("home");
        italian.locale = Some("IT-it".into());
        let report = decide(&book, &visitor, &italian, 0);
        assert_eq!(
            line(&report, "italian").reason,
            "the `who` condition is false: v.cart.value = 0.0, needs > 80.0",
            "the language clause held: v.language is the page's"
        );
        assert_eq!(report.page, italian);
        assert_eq!(report.at(), "1970-01-01T00:00:00.000Z");
    }

    const EXPERIMENT: &str = r#"
rule("test", #{ priority: 10, experiment: #{ control: "CONTROL", variants: [
    #{ id: "treatment", weight: 1, show: #{ kind: "bar", content: #{ en: #{ body: "New" } } } },
    #{ id: "control", weight: 99 } ] } });
rule("usual", #{ priority: 1, show: #{ kind: "bar", content: #{ en: #{ body: "Usual" } } } });
"#;

    #[test]
    fn a_control_falls_through_by_default_and_holds_the_placement_when_asked() {
        let visitor = Profile::new("visitor-1");
        let falls = book(&EXPERIMENT.replace("CONTROL", "falls_through"));
        let report = decide(&falls, &visitor, &page("home"), 0);
        let test = line(&report, "test");
        assert_eq!(test.outcome, Outcome::Control);
        assert_eq!(test.variant.as_deref(), Some("control"));
        assert!(test.bucket.is_some_and(|b| (0.0..1.0).contains(&b)));
        let shown: Vec<&str> = report
            .decision
            .experiences
            .iter()
            .map(|e| e.experience.as_str())
            .collect();
        assert_eq!(shown, ["usual"]);

        let holds = book(&EXPERIMENT.replace("CONTROL", "holds"));
        let report = decide(&holds, &visitor, &page("home"), 0);
        assert!(report.decision.experiences.is_empty(), "{:?}", report.trace);
        assert_eq!(line(&report, "usual").outcome, Outcome::Outranked);
        let arm = rapport_rules::assignment(&holds, "test", "visitor-1").unwrap();
        assert_eq!(arm.variant.as_deref(), Some("control"));
        assert!(arm.control);
    }

    const EVENINGS: &str = r#"
rule("evening", #{ schedule: #{ days: "weekdays", hours: "18:00-22:00", time_zone: "Europe/Lisbon" },
    show: #{ kind: "bar", content: #{ en: #{ body: "Evening deals" } } } });
rule("late", #{ schedule: #{ days: ["fri"], hours: "22:00-02:00", time_zone: "America/New_York" },
    show: #{ kind: "toast", content: #{ en: #{ body: "Up late?" } } } });
"#;

    fn outcome_at(book: &Rulebook, id: &str, time: &str) -> (Outcome, String) {
        let now = rapport_rules::parse_time(time).unwrap();
        let report = decide(book, &Profile::new("visitor-1"), &page("home"), now);
        let line = line(&report, id);
        (line.outcome, line.reason.into_owned())
    }

    #[test]
    fn schedules_recur_in_a_time_zone() {
        let book = book(EVENINGS);
        // Tuesday 18:30 in Lisbon: UTC in winter, UTC+1 in summer.
        assert_eq!(
            outcome_at(&book, "evening", "2026-12-01T18:30:00Z").0,
            Outcome::Matched
        );
        assert_eq!(
            outcome_at(&book, "evening", "2026-07-07T17:30:00Z").0,
            Outcome::Matched
        );
        assert_eq!(
            outcome_at(&book, "evening", "2026-07-07T21:30:00Z"),
            (
                Outcome::OutOfSchedule,
                "outside its hours (weekdays 18:00-22:00 Europe/Lisbon)".to_owned()
            )
        );
        // Saturday evening is not a weekday.
        assert_eq!(
            outcome_at(&book, "evening", "2026-12-05T19:00:00Z").0,
            Outcome::OutOfSchedule
        );
        // A window past midnight belongs to the day it opens: Friday 22:00 to Saturday 02:00
        // in New York (UTC-5 in December).
        assert_eq!(
            outcome_at(&book, "late", "2026-12-05T05:30:00Z").0,
            Outcome::Matched
        );
        assert_eq!(
            outcome_at(&book, "late", "2026-12-06T05:30:00Z").0,
            Outcome::OutOfSchedule
        );
    }

    #[test]
    fn a_bad_schedule_is_an_error_at_its_field() {
        let found = problems(&EVENINGS.replace("Europe/Lisbon", "Europe/Lisboa"));
        assert!(
            found[0].contains("`schedule.time_zone` must be an IANA time zone such as \"Europe/Lisbon\", not \"Europe/Lisboa\""),
            "{found:?}"
        );
        let found = problems(&EVENINGS.replace("18:00-22:00", "6pm"));
        assert!(
            found[0].contains("`schedule.hours` must be a time range"),
            "{found:?}"
        );
    }

    #[test]
    fn an_unknown_control_mode_is_an_error_at_the_field() {
        let found = problems(&EXPERIMENT.replace("CONTROL", "stays"));
        assert!(
            found[0]
                .starts_with("book.rhai:2:46: error: rule \"test\": `experiment.control` must be"),
            "{found:?}"
        );
    }
}

/// Whether `report` enrols the visitor in `rule`'s arm: its experience is in the decision,
/// or its control waits for the treatment's moment.
fn enrols(report: &rapport_rules::DecisionReport, rule: &str) -> bool {
    let decision = &report.decision;
    decision.experiences.iter().any(|e| e.rule == rule)
        || decision.controls.iter().any(|c| c.reference.rule == rule)
}

fn with_cart(id: &str) -> Profile {
    let mut visitor = Profile::new(id);
    apply(
        &mut visitor,
        EventData::AddToCart(AddToCart {
            product: shirt(),
            quantity: 1,
        }),
    );
    visitor
}

/// Of `n` visitors, every third-in-ten holds a cart. Gives, per arm of `rule`, how many
/// visitors it has and how many it enrols on the home page.
fn enrolled_by_arm(
    book: &Rulebook,
    rule: &str,
    n: usize,
    arm: impl Fn(&rapport_rules::DecisionReport, &str) -> String,
) -> std::collections::BTreeMap<String, (u32, u32)> {
    let mut arms = std::collections::BTreeMap::new();
    for i in 0..n {
        let id = format!("fair-{i}");
        let visitor = if i % 10 < 3 {
            with_cart(&id)
        } else {
            Profile::new(&id)
        };
        let report = decide(book, &visitor, &page("home"), 1_000);
        let entry = arms.entry(arm(&report, &id)).or_insert((0, 0));
        entry.0 += 1;
        entry.1 += u32::from(enrols(&report, rule));
    }
    arms
}

const PLACEMENT_TAKEN: &str = r#"
segment("has_cart", |v| v.cart.items > 0);
rule("reminder", #{ priority: 50, who: "has_cart", show: #{ kind: "bar",
    content: #{ en: #{ body: "Your cart" } } } });
rule("test", #{ priority: 10, experiment: #{ control: "CONTROL", variants: [
    #{ id: "treatment", weight: 1, show: #{ kind: "bar", content: #{ en: #{ body: "New" } } } },
    #{ id: "control", weight: 1 } ] } });
"#;

#[test]
fn a_higher_rule_that_takes_the_placement_holds_back_every_arm_alike() {
    // A cart holder (30% of visitors) gets the reminder's bar: the treatment cannot show to
    // them, so neither arm enrols them, whether the control falls through or holds.
    for mode in ["falls_through", "holds"] {
        let book = book(&PLACEMENT_TAKEN.replace("CONTROL", mode));
        let arms = enrolled_by_arm(&book, "test", 4_000, |_, id| {
            rapport_rules::assignment(&book, "test", id)
                .unwrap()
                .variant
                .unwrap()
        });
        let share = |arm: &str| f64::from(arms[arm].1) / f64::from(arms[arm].0);
        for arm in ["treatment", "control"] {
            assert!(
                (0.67..0.73).contains(&share(arm)),
                "{mode}: {arm} enrols {:.3} of its visitors: {arms:?}",
                share(arm)
            );
        }
        assert!(
            (share("treatment") - share("control")).abs() < 0.03,
            "{mode}: {arms:?}"
        );
    }
    // The trace says why a cart holder in the control is not enrolled.
    let book = book(&PLACEMENT_TAKEN.replace("CONTROL", "falls_through"));
    let in_control = (0..)
        .map(|i| format!("fair-c-{i}"))
        .find(|id| {
            rapport_rules::assignment(&book, "test", id)
                .unwrap()
                .control
        })
        .unwrap();
    let report = decide(&book, &with_cart(&in_control), &page("home"), 1_000);
    let test = report.trace.iter().find(|t| &*t.rule == "test").unwrap();
    assert_eq!(test.outcome, Outcome::Outranked);
    assert!(
        test.reason.contains("not enrolled: the treatment would not show (the bar placement went to rule \"reminder\")"),
        "{}",
        test.reason
    );
    assert!(report.decision.controls.is_empty());
}

#[test]
fn a_control_waits_on_the_page_for_what_its_treatment_would() {
    let book = book(
        r#"rule("test", #{ when: #{ scroll: 50 }, experiment: #{ control: "holds", variants: [
            #{ id: "treatment", weight: 1, show: #{ kind: "modal", content: #{ en: #{ body: "New" } } } },
            #{ id: "control", weight: 1 } ] } });"#,
    );
    let in_control = (0..)
        .map(|i| format!("wait-{i}"))
        .find(|id| {
            rapport_rules::assignment(&book, "test", id)
                .unwrap()
                .control
        })
        .unwrap();
    let report = decide(&book, &Profile::new(&in_control), &page("home"), 1_000);
    let control = &report.decision.controls[0];
    assert_eq!(
        control.shows_as,
        Some(rapport_protocol::ExperienceKind::Modal)
    );
    assert_eq!(control.budget, Some(3), "the default session budget");
    assert!(control.holds);
    // Once the session's budget is spent, the control is no more enrolled than the
    // treatment would be shown.
    let mut tired = Profile::new(&in_control);
    for i in 0..3 {
        apply(
            &mut tired,
            EventData::Impression(ExperienceRef {
                rule: "other".into(),
                experience: format!("other-{i}"),
                variant: None,
                segment: None,
            }),
        );
    }
    let report = decide(&book, &tired, &page("home"), 1_000);
    assert!(report.decision.controls.is_empty(), "{:?}", report.trace);
    assert_eq!(report.trace[0].outcome, Outcome::Capped);
}

#[test]
fn the_programme_enrols_both_arms_where_a_personalised_experience_would_be_drawn() {
    // Half the visitors are held out. Only cart holders (30%) would get a personalised
    // experience: each arm enrols them, and no one else.
    let book = book(
        r#"settings(#{ holdout: 50 });
        segment("has_cart", |v| v.cart.items > 0);
        rule("reminder", #{ priority: 50, who: "has_cart", show: #{ kind: "bar",
            content: #{ en: #{ body: "Your cart" } } } });"#,
    );
    let arms = enrolled_by_arm(&book, rapport_rules::PROGRAMME, 4_000, |report, _| {
        if report.holdout {
            rapport_rules::HOLDOUT_ARM.to_owned()
        } else {
            rapport_rules::PERSONALISED_ARM.to_owned()
        }
    });
    for (arm, (visitors, enrolled)) in &arms {
        let share = f64::from(*enrolled) / f64::from(*visitors);
        assert!((0.27..0.33).contains(&share), "{arm}: {share:.3} {arms:?}");
    }
    // The holdout sees nothing; its exposure waits for the reminder's moment.
    let held = (0..)
        .map(|i| format!("held-{i}"))
        .find(|id| decide(&book, &with_cart(id), &page("home"), 0).holdout)
        .unwrap();
    let report = decide(&book, &with_cart(&held), &page("home"), 0);
    assert!(report.decision.experiences.is_empty());
    let ghost = &report.decision.controls[0];
    assert_eq!(ghost.reference.variant.as_deref(), Some("holdout"));
    assert_eq!(ghost.reference.experience, "holdout:reminder");
    assert_eq!(report.trace[0].outcome, Outcome::Held);
    // Once enrolled, a visitor carries no more programme exposures.
    let mut enrolled = with_cart(&held);
    enrolled.experiments.insert(
        rapport_rules::PROGRAMME.to_owned(),
        rapport_rules::profile::Enrolment::default(),
    );
    let report = decide(&book, &enrolled, &page("home"), 0);
    assert!(report.decision.controls.is_empty());
    assert!(report.decision.experiences.is_empty());
}

#[test]
fn an_experiment_names_its_primary_metric_or_is_judged_on_conversion() {
    let metric = |source: &str| {
        book(source)
            .rules()
            .find(|r| r.id == "test")
            .map(|r| r.metric.to_owned())
            .unwrap()
    };
    assert_eq!(metric(EXPERIMENT), "conversion");
    let by_revenue = EXPERIMENT.replace(
        "seed: \"welcome-2026\",",
        "seed: \"welcome-2026\", metric: \"revenue\",",
    );
    assert_eq!(metric(&by_revenue), "revenue");
    let misspelt = EXPERIMENT.replace(
        "seed: \"welcome-2026\",",
        "seed: \"welcome-2026\", metric: \"revenu\",",
    );
    let found = problems(&misspelt);
    assert!(
        found.len() == 1
            && found[0].starts_with("book.rhai:2:")
            && found[0].contains("`experiment.metric` must be \"conversion\" (the default), \"revenue\", \"clicks\" or \"score\", not \"revenu\""),
        "{found:?}"
    );
    // A rule that is not an experiment has none.
    let plain = book(&format!("rule(\"plain\", #{{ show: {SHOW} }});"));
    assert_eq!(plain.rules().next().unwrap().metric, "");
}
