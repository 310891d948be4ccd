//! The rules engine against the demo rulebook and against small broken rulebooks.

use std::path::Path;

use rapport_protocol::{AddToCart, EventData, ExperienceRef, PageContext, PageView, Product};
use rapport_rules::{decide, Outcome, Profile, Rulebook, SourceFile};

fn demo_rulebook() -> Rulebook {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../demo-site/rulebook");
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "rhai") {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            files.push(SourceFile::new(
                name,
                std::fs::read_to_string(&path).unwrap(),
            ));
        }
    }
    Rulebook::compile(&files).unwrap_or_else(|problems| {
        panic!("demo rulebook: {problems:#?}");
    })
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
        id: "linen-shirt".into(),
        name: Some("Linen shirt".into()),
        price: Some(59.0),
        currency: Some("EUR".into()),
        category: Some("shirts".into()),
        availability: None,
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

#[test]
fn first_visit_home_gets_the_welcome_bar() {
    let book = demo_rulebook();
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
fn cart_reminder_outranks_welcome_until_clicked() {
    let book = demo_rulebook();
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
    let welcome = report.trace.iter().find(|t| t.rule == "welcome").unwrap();
    assert_eq!(welcome.outcome, Outcome::Outranked);
    assert!(report.segments.contains(&"has_cart".to_owned()));

    apply(
        &mut visitor,
        EventData::Click(ExperienceRef {
            rule: "cart-reminder".into(),
            experience: "cart-reminder-bar".into(),
            variant: None,
        }),
    );
    check(&book, &visitor, "home", &["welcome-bar"]);
}

#[test]
fn welcome_is_capped_per_session() {
    let book = demo_rulebook();
    let mut visitor = Profile::new("visitor-1");
    let seen = ExperienceRef {
        rule: "welcome".into(),
        experience: "welcome-bar".into(),
        variant: None,
    };
    for _ in 0..3 {
        check(&book, &visitor, "home", &["welcome-bar"]);
        apply(&mut visitor, EventData::Impression(seen.clone()));
    }
    check(&book, &visitor, "home", &[]);
}

#[test]
fn content_follows_the_page_language() {
    let book = demo_rulebook();
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
    assert_eq!(locale(Some("it")), "it");
    assert_eq!(locale(Some("de")), "en");
    assert_eq!(locale(None), "en");
}

#[test]
fn version_is_a_content_hash() {
    let a = demo_rulebook();
    let b = demo_rulebook();
    assert_eq!(a.version(), b.version());
    assert!(a.version().starts_with("rb-"));
    let other =
        Rulebook::compile(&[SourceFile::new("x.rhai", "segment(\"x\", |v| true);")]).unwrap();
    assert_ne!(a.version(), other.version());
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
    check("rule(\"a\", #{ show: \n  ", "book.rhai:2:");
    check(
        &format!("rule(\"a\", #{{ who: \"nobody\", show: {SHOW} }});"),
        "book.rhai:1:1: error: rule \"a\": unknown segment \"nobody\"",
    );
    check(
        &format!("rule(\"a\", #{{ colour: 1, show: {SHOW} }});"),
        "book.rhai:1:1: error: rule \"a\": unknown field `colour`",
    );
    check(
        &format!("rule(\"a\", #{{ show: {SHOW} }});\nrule(\"a\", #{{ show: {SHOW} }});"),
        "book.rhai:2:1: error: rule \"a\" is defined twice",
    );
    check(
        r#"rule("a", #{ show: #{ kind: "bar", content: #{ en: #{ body: "x", cta: #{ label: "x", url: "javascript:alert(1)" } } } } });"#,
        "book.rhai:1:1: error: rule \"a\": `show.content.en.cta.url` must be an http(s) or relative link",
    );
    check(
        &format!("rule(\"a\", #{{ when: \"sometimes\", show: {SHOW} }});"),
        "book.rhai:1:1: error: rule \"a\": `when` must be",
    );
    check("let x = undefined_thing;", "book.rhai:1:9: error: ");
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
fn a_failing_rule_is_skipped_and_the_others_decide() {
    let source = format!(
        "rule(\"broken\", #{{ priority: 9, who: |v| v.no_such_field > 1, show: {SHOW} }});\n\
         rule(\"runaway\", #{{ priority: 8, who: |v| {{ loop {{}} }}, show: {SHOW} }});\n\
         rule(\"fine\", #{{ priority: 1, who: |v| v.visits >= 0, show: {SHOW} }});"
    );
    let book = Rulebook::compile(&[SourceFile::new("book.rhai", source)]).unwrap();
    let report = decide(&book, &Profile::new("visitor-1"), &page("home"), 0);
    let outcome = |id: &str| report.trace.iter().find(|t| t.rule == id).unwrap().clone();
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
