//! A rule whose condition runs away for some visitors: stopped at the operations limit,
//! remembered in the visitor's profile, and skipped in their later decisions until the
//! rulebook changes, with the trace saying why each time.

use rapport_protocol::PageContext;
use rapport_rules::{decision, Outcome, Profile, Rulebook, SourceFile};

const RUNAWAY: &str = r#"rule("runaway", #{ description: "Spins for the heaviest visitors", priority: 10,
    who: |v| { if v.visits > 1000 { let n = 0; loop { n += 1; } } true },
    show: #{ kind: "bar", content: #{ en: #{ body: "Runaway" } } } });
rule("steady", #{ description: "Always there", priority: 1,
    show: #{ kind: "toast", content: #{ en: #{ body: "Steady" } } } });"#;

fn compiled(extra: &str) -> Rulebook {
    Rulebook::compile(&[SourceFile::new("rules.rhai", format!("{RUNAWAY}\n{extra}"))])
        .unwrap_or_else(|e| panic!("{e:?}"))
}

fn home() -> PageContext {
    PageContext {
        url: "https://shop.example/".into(),
        path: "/".into(),
        kind: Some("home".into()),
        locale: None,
    }
}

fn line<'a>(
    report: &'a rapport_rules::DecisionReport,
    rule: &str,
) -> &'a rapport_rules::TraceEntry {
    report.trace.iter().find(|t| &*t.rule == rule).unwrap()
}

#[test]
fn a_runaway_rule_is_stopped_once_then_skipped_until_the_rulebook_changes() {
    let now = 1_800_000_000_000;
    let book = compiled("");
    let mut heavy = Profile::new("visitor-heavy-1");
    heavy.sessions = 5_000;

    // The first decision stops it at the limit, goes on without it, and says which.
    let first = decision(&book, &heavy, &home(), now);
    let stopped = line(&first, "runaway");
    assert_eq!(stopped.outcome, Outcome::Errored);
    assert!(
        stopped.reason.contains("takes too long"),
        "{}",
        stopped.reason
    );
    assert_eq!(first.stopped, ["runaway"]);
    let shown: Vec<&str> = first
        .decision
        .experiences
        .iter()
        .map(|e| e.experience.as_str())
        .collect();
    assert_eq!(shown, ["steady"], "the other rules still decide");

    // Remembered, it is skipped without running, and the trace says why.
    heavy.remember_stopped(book.version(), &first.stopped);
    let second = decision(&book, &heavy, &home(), now);
    let skipped = line(&second, "runaway");
    assert_eq!(skipped.outcome, Outcome::Errored);
    assert!(
        skipped
            .reason
            .starts_with("skipped: its condition took more than"),
        "{}",
        skipped.reason
    );
    assert!(second.stopped.is_empty(), "it did not run");

    // Another rulebook runs it again.
    let changed = compiled(
        r#"rule("other", #{ description: "New", priority: 0,
        show: #{ kind: "inline", slot: "x", content: #{ en: #{ body: "New" } } } });"#,
    );
    assert_ne!(changed.version(), book.version());
    let again = decision(&changed, &heavy, &home(), now);
    assert!(line(&again, "runaway").reason.contains("takes too long"));
    heavy.remember_stopped(changed.version(), &again.stopped);
    assert_eq!(
        heavy.stopped.len(),
        1,
        "the older rulebook's entry is forgotten"
    );

    // A light visitor is never stopped.
    let light = Profile::new("visitor-light-1");
    let report = decision(&book, &light, &home(), now);
    assert_eq!(line(&report, "runaway").outcome, Outcome::Matched);
    assert!(report.stopped.is_empty());
}
