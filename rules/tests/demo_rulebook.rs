//! The demo rulebook (demo-site/rulebook): it compiles, covers the CX lifecycle, and passes
//! its own test cases, which name every rule.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use rapport_rules::testing::{parse_cases, run_case, TestCase};
use rapport_rules::{Rulebook, SourceFile};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../demo-site/rulebook")
}

fn files_with(dir: &Path, extension: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == extension))
        .collect();
    files.sort();
    files
}

fn sources() -> Vec<SourceFile> {
    files_with(&dir(), "rhai")
        .iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            SourceFile::new(name, std::fs::read_to_string(p).unwrap())
        })
        .collect()
}

fn compile() -> Rulebook {
    Rulebook::compile(&sources()).unwrap_or_else(|problems| panic!("{problems:#?}"))
}

fn cases() -> Vec<(String, TestCase)> {
    files_with(&dir().join("tests"), "json")
        .iter()
        .flat_map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let cases = parse_cases(&std::fs::read_to_string(path).unwrap())
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            cases.into_iter().map(move |c| (name.clone(), c))
        })
        .collect()
}

#[test]
fn covers_the_lifecycle() {
    let book = compile();
    assert!(book.rules().count() >= 12, "{} rules", book.rules().count());
    assert!(book.segment_names().count() >= 8);
    for rule in book.rules() {
        assert!(
            !rule.description.is_empty(),
            "rule {} has no description",
            rule.id
        );
    }
}

#[test]
fn every_case_passes() {
    let book = compile();
    let mut failures = Vec::new();
    let all = cases();
    for (file, case) in &all {
        let result = run_case(&book, case);
        if !result.passed() {
            failures.push(format!("{file}: {}: {:?}", case.name, result.failures));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(all.len() >= 40, "only {} cases", all.len());
}

#[test]
fn every_rule_is_shown_by_some_case() {
    let book = compile();
    let all = cases();
    let mut shown_rules = BTreeSet::new();
    for (_, case) in &all {
        for experience in &run_case(&book, case).report.decision.experiences {
            shown_rules.insert(experience.rule.clone());
        }
    }
    let missing: Vec<&str> = book
        .rules()
        .filter(|r| r.enabled)
        .map(|r| r.id)
        .filter(|id| !shown_rules.contains(*id))
        .collect();
    assert!(missing.is_empty(), "rules no case shows: {missing:?}");
}

#[test]
fn every_locale_is_translated() {
    let book = compile();
    let all = cases();
    for (_, case) in all.iter().take(20) {
        for locale in ["en", "pt", "it"] {
            let mut page = case.page.clone();
            page.locale = Some(locale.to_owned());
            let report = rapport_rules::decide(&book, &case.visitor, &page, case.now_ms);
            for experience in &report.decision.experiences {
                assert_eq!(
                    experience.content.locale, locale,
                    "{}",
                    experience.experience
                );
            }
        }
    }
}

fn first_visit() -> (rapport_rules::Profile, rapport_protocol::PageContext, i64) {
    let mut profile = rapport_rules::Profile::new("visitor-0001");
    profile.sessions = 1;
    let page = rapport_protocol::PageContext {
        url: "https://tidewater.example/".into(),
        path: "/".into(),
        kind: Some("home".into()),
        locale: Some("en".into()),
    };
    (
        profile,
        page,
        rapport_rules::parse_time("2026-11-20T10:00:00Z").unwrap(),
    )
}

#[test]
fn experiences_name_the_audience_that_matched() {
    let book = compile();
    let (profile, page, now) = first_visit();
    let report = rapport_rules::decide(&book, &profile, &page, now);
    let welcome = &report.decision.experiences[0];
    assert_eq!(welcome.rule, "welcome");
    assert_eq!(welcome.segment.as_deref(), Some("first_time"));
    assert_eq!(welcome.reference().segment.as_deref(), Some("first_time"));
}

#[test]
fn a_preview_forces_an_experience_the_visitor_would_not_get() {
    let book = compile();
    let (profile, page, now) = first_visit();
    let plain = rapport_rules::decide(&book, &profile, &page, now);
    assert!(plain
        .decision
        .experiences
        .iter()
        .all(|e| e.experience != "vip-early-access-bar"));

    let preview =
        rapport_rules::preview(&book, &profile, &page, now, "vip-early-access-bar").unwrap();
    let first = &preview.decision.experiences[0];
    assert_eq!(first.experience, "vip-early-access-bar");
    let line = preview
        .trace
        .iter()
        .find(|t| &*t.rule == "vip-early-access")
        .unwrap();
    assert_eq!(line.outcome, rapport_rules::Outcome::Matched);
    assert_eq!(line.reason, "forced by a preview");
    // The welcome bar wanted the same placement and yields to the preview.
    let welcome = preview
        .trace
        .iter()
        .find(|t| &*t.rule == "welcome")
        .unwrap();
    assert_eq!(welcome.outcome, rapport_rules::Outcome::Outranked);

    // A variant of an experiment can be previewed by its own experience id.
    let story = rapport_rules::preview(&book, &profile, &page, now, "welcome-story").unwrap();
    assert_eq!(
        story.decision.experiences[0].variant.as_deref(),
        Some("story")
    );

    let unknown = rapport_rules::preview(&book, &profile, &page, now, "no-such-thing");
    assert_eq!(
        unknown.unwrap_err(),
        "no rule shows an experience \"no-such-thing\""
    );
}

#[test]
fn texts_show_live_values_in_the_pages_language() {
    let book = compile();
    let mut visitor = rapport_rules::Profile::new("visitor-0013");
    visitor.cart.push(rapport_rules::profile::CartLine {
        product: rapport_protocol::Product {
            image: None,
            id: "mug".into(),
            name: Some("Mug".into()),
            price: Some(19.0),
            currency: Some("EUR".into()),
            category: None,
            availability: None,
            url: None,
        },
        quantity: 2,
    });
    let mut cart = rapport_protocol::PageContext {
        url: "https://tidewater.example/cart".into(),
        path: "/cart".into(),
        kind: Some("cart".into()),
        locale: None,
    };
    let body = |page: &rapport_protocol::PageContext| {
        rapport_rules::decide(&book, &visitor, page, 1_000)
            .decision
            .experiences
            .into_iter()
            .find(|e| e.experience == "free-shipping-progress")
            .map(|e| e.content.body)
            .unwrap()
    };
    assert_eq!(
        body(&cart),
        "You're €12.00 away from free shipping, and returns are free for 30 days."
    );
    cart.locale = Some("it-IT".into());
    assert!(
        body(&cart).starts_with("Mancano 12,00 € alla spedizione gratuita"),
        "{}",
        body(&cart)
    );
}

/// The served decision skips scripts for rules that could not show anyway; what it shows
/// must be exactly what the full report shows, for every case of the demo.
#[test]
fn the_served_decision_shows_what_the_full_report_shows() {
    let book = compile();
    for (file, case) in cases() {
        let full = rapport_rules::decide(&book, &case.visitor, &case.page, case.now_ms);
        let served = rapport_rules::decision(&book, &case.visitor, &case.page, case.now_ms);
        assert_eq!(
            full.decision, served.decision,
            "{file}: {}: the served decision differs",
            case.name
        );
    }
}

/// Serving loads the rulebook without the checks that only produce diagnostics: the same
/// version, and the same decision for every case.
#[test]
fn a_rulebook_loaded_for_serving_decides_as_the_checked_one() {
    let checked = compile();
    let served = Rulebook::load(&sources()).unwrap();
    assert_eq!(checked.version(), served.version());
    for (file, case) in cases() {
        let a = rapport_rules::decision(&checked, &case.visitor, &case.page, case.now_ms);
        let b = rapport_rules::decision(&served, &case.visitor, &case.page, case.now_ms);
        assert_eq!(a.decision, b.decision, "{file}: {}", case.name);
    }
    assert!(Rulebook::load(&[SourceFile::new("a.rhai", "rule(\"a\", #{")]).is_err());
}

/// A shopper's journey through the demo shop, one event every five seconds.
struct Journey {
    book: Rulebook,
    profile: rapport_rules::Profile,
    now: i64,
}

impl Journey {
    fn record(&mut self, data: rapport_protocol::EventData) {
        self.now += 5_000;
        let event = rapport_protocol::Event {
            id: format!("evt-{}", self.now),
            session_id: "session-1".into(),
            client_ts: None,
            data,
        };
        self.profile.apply(&event, self.now);
    }

    fn decide(&self, page: &rapport_protocol::PageContext) -> Vec<String> {
        rapport_rules::decide(&self.book, &self.profile, page, self.now)
            .decision
            .experiences
            .iter()
            .map(|e| e.experience.clone())
            .collect()
    }

    /// Views a page of kind `kind` at `path`: what the decision offers, after drawing what
    /// shows at once (exit-intent prompts wait for a trigger this journey never fires).
    fn view(&mut self, kind: &str, path: &str) -> Vec<String> {
        let page = page_at(kind, path);
        self.record(rapport_protocol::EventData::PageView(
            rapport_protocol::PageView {
                page: page.clone(),
                title: None,
                referrer: None,
            },
        ));
        let offered = self.decide(&page);
        let decision = rapport_rules::decide(&self.book, &self.profile, &page, self.now);
        for experience in &decision.decision.experiences {
            if experience.trigger == rapport_protocol::Trigger::Immediately {
                self.record(rapport_protocol::EventData::Impression(
                    experience.reference(),
                ));
            }
        }
        offered
    }
}

fn page_at(kind: &str, path: &str) -> rapport_protocol::PageContext {
    rapport_protocol::PageContext {
        url: format!("https://tidewater.example{path}"),
        path: path.into(),
        kind: Some(kind.into()),
        locale: Some("en".into()),
    }
}

/// Regression: home → cart page → product → add to cart → home showed nothing. The welcome,
/// the cart page's inline shipping note and an exit-intent coupon that never fired had
/// spent the session's budget of three, so the cart reminder was capped.
#[test]
fn the_cart_reminder_follows_a_visit_to_the_cart_page() {
    let (_, _, now) = first_visit();
    let mut shopper = Journey {
        book: compile(),
        profile: rapport_rules::Profile::new("visitor-0001"),
        now,
    };
    assert_eq!(shopper.view("home", "/"), ["welcome-offer"]);
    assert_eq!(shopper.view("cart", "/cart"), ["free-shipping-note"]);
    shopper.view("product", "/products/linen-shirt");
    shopper.record(rapport_protocol::EventData::AddToCart(
        rapport_protocol::AddToCart {
            product: rapport_protocol::Product {
                image: None,
                id: "linen-shirt".into(),
                name: Some("Linen shirt".into()),
                price: Some(59.0),
                currency: Some("EUR".into()),
                category: None,
                availability: None,
                url: Some("/products/linen-shirt".into()),
            },
            quantity: 1,
        },
    ));
    assert_eq!(
        shopper.decide(&page_at("product", "/products/linen-shirt")),
        // The row of recommendations is inline: it spends none of the prompts' budget.
        ["cart-exit-coupon", "you-may-also-like"],
        "offered, on exit"
    );
    let home = shopper.view("home", "/");
    assert!(home.contains(&"cart-reminder-bar".to_owned()), "{home:?}");
}
