//! Rulebook test cases: a visitor, a page, a time, and the experiences expected.
//!
//! A test file (`RULEBOOK/tests/*.json`) holds a list of cases:
//!
//! ```json
//! [
//!   { "name": "a first visit on the home page is welcomed",
//!     "now": "2026-11-23T10:00:00Z",
//!     "visitor": { "visitor_id": "visitor-0001", "visits": 1 },
//!     "page": { "url": "https://shop.example/", "path": "/", "kind": "home" },
//!     "expect": ["welcome-bar"],
//!     "segments": ["first_time"] }
//! ]
//! ```
//!
//! `visitor` is the visitor model (see `schema/visitor.schema.json`); any field left out
//! takes its default. Times in it (fields ending in `_ms`) may be written relative to `now`,
//! as `"-90d"`, `"-2h"` or `"-15m"`, or as RFC 3339 times. `now` defaults to
//! 2026-06-01T12:00:00Z so that tests never depend on the day they run. `segments`, when
//! given, must equal the visitor's segments exactly. `arms` (`{"welcome": "story"}`) puts the
//! visitor in those experiments' variants, whatever its id.

use rapport_protocol::PageContext;
use serde::Deserialize;
use serde_json::Value;

use std::collections::BTreeMap;

use crate::decision::decide::decide_in_arms;
use crate::decision::trace::DecisionReport;
use crate::language::rulebook::Rulebook;
use crate::language::spec::parse_time;
use crate::visitor::profile::Profile;

/// When a case does not say.
pub const DEFAULT_NOW: &str = "2026-06-01T12:00:00Z";

#[derive(Debug, Clone)]
pub struct TestCase {
    pub name: String,
    pub visitor: Profile,
    pub page: PageContext,
    pub now_ms: i64,
    pub expect: Vec<String>,
    pub segments: Option<Vec<String>>,
    /// Experiment arms chosen for this case (variant id by rule id) instead of bucketing.
    pub arms: BTreeMap<String, String>,
}

/// One case as written in a test file.
#[derive(Deserialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCase {
    /// What the case shows, in a sentence.
    name: String,
    /// The time of the decision (RFC 3339); 2026-06-01T12:00:00Z when left out.
    #[serde(default)]
    now: Option<String>,
    /// The visitor; fields left out take their defaults.
    #[serde(default)]
    #[cfg_attr(feature = "cli", schemars(with = "Profile"))]
    visitor: Value,
    /// The page the visitor is on.
    page: PageContext,
    /// The experience ids expected, best first.
    expect: Vec<String>,
    /// When given, the visitor's segments must be exactly these.
    #[serde(default)]
    segments: Option<Vec<String>>,
    /// Experiment arms for this case, by rule id (`{"welcome": "story"}`): the case then
    /// does not depend on where its visitor id falls, nor on experiments added later.
    #[serde(default)]
    arms: BTreeMap<String, String>,
}

/// Reads a test file. Errors say which case and where.
pub fn parse_cases(text: &str) -> Result<Vec<TestCase>, String> {
    let raw: Vec<RawCase> = serde_json::from_str(text).map_err(|e| e.to_string())?;
    raw.into_iter()
        .enumerate()
        .map(|(index, case)| {
            let now_ms = parse_time(case.now.as_deref().unwrap_or(DEFAULT_NOW))
                .map_err(|e| format!("case {} (\"{}\"): `now`: {e}", index + 1, case.name))?;
            let visitor = parse_visitor_value(case.visitor, now_ms)
                .map_err(|e| format!("case {} (\"{}\"): `visitor`: {e}", index + 1, case.name))?;
            Ok(TestCase {
                name: case.name,
                visitor,
                page: case.page,
                now_ms,
                expect: case.expect,
                segments: case.segments,
                arms: case.arms,
            })
        })
        .collect()
}

/// Reads a visitor from JSON, resolving relative times against `now_ms`.
pub fn parse_visitor(text: &str, now_ms: i64) -> Result<Profile, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    parse_visitor_value(value, now_ms)
}

fn parse_visitor_value(mut value: Value, now_ms: i64) -> Result<Profile, String> {
    if value.is_null() {
        value = Value::Object(Default::default());
    }
    resolve_times(&mut value, now_ms, "")?;
    // A misspelt key would leave its field at the default and the case would pass for the
    // wrong reason: every key must be a field of the visitor model.
    let mut unknown = Vec::new();
    let mut profile: Profile = serde_ignored::deserialize(value, |path| {
        unknown.push(path.to_string());
    })
    .map_err(|e| e.to_string())?;
    if let Some(path) = unknown.first() {
        return Err(format!(
            "`{path}` is not a field of the visitor (see rules/schema/visitor.schema.json)"
        ));
    }
    if profile.visitor_id.is_empty() {
        profile.visitor_id = "test-visitor".to_owned();
    }
    Ok(profile)
}

/// Old names of visitor fields, accepted in test and visitor files with a warning: the
/// files speak the rules' vocabulary (`v.visits`, `v.scroll`, `v.purchases.value`).
const OLD_NAMES: &[(&str, &str)] = &[
    ("sessions", "visits"),
    ("page_scroll", "scroll"),
    ("purchases.lifetime_value", "purchases.value"),
];

/// Warnings about a test file's visitors: old field names.
pub(crate) fn file_warnings(text: &str) -> Vec<String> {
    let Ok(Value::Array(cases)) = serde_json::from_str::<Value>(text) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (index, case) in cases.iter().enumerate() {
        let visitor = &case["visitor"];
        for (old, new) in OLD_NAMES {
            let found = match old.split_once('.') {
                Some((outer, inner)) => visitor[outer].get(inner).is_some(),
                None => visitor.get(old).is_some(),
            };
            if found {
                out.push(format!(
                    "case {} (\"{}\"): `visitor.{old}` is the old name of `visitor.{new}`, as rules read it (`v.{new}`)",
                    index + 1,
                    case["name"].as_str().unwrap_or("")
                ));
            }
        }
    }
    out
}

/// Replaces `"-90d"`-style and RFC 3339 strings in `*_ms` fields with ms since the epoch.
fn resolve_times(value: &mut Value, now_ms: i64, key: &str) -> Result<(), String> {
    match value {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                resolve_times(v, now_ms, k)?;
            }
        }
        Value::Array(items) => {
            for item in items {
                resolve_times(item, now_ms, key)?;
            }
        }
        Value::String(text) if key.ends_with("_ms") => {
            *value = Value::from(relative_time(text, now_ms).map_err(|e| format!("`{key}`: {e}"))?);
        }
        _ => {}
    }
    Ok(())
}

fn relative_time(text: &str, now_ms: i64) -> Result<i64, String> {
    let unit_ms = match text.chars().last() {
        Some('d') => 24 * 60 * 60 * 1000,
        Some('h') => 60 * 60 * 1000,
        Some('m') => 60 * 1000,
        _ => return parse_time(text),
    };
    let amount: i64 = text[..text.len() - 1].parse().map_err(|_| {
        format!("\"{text}\" is neither a relative time like \"-90d\" nor an RFC 3339 time")
    })?;
    Ok(now_ms + amount * unit_ms)
}

/// The outcome of one case.
#[derive(Debug, Clone)]
pub struct CaseResult {
    pub name: String,
    pub got: Vec<String>,
    pub segments: Vec<String>,
    pub report: DecisionReport,
    /// Why the case failed; empty when it passed.
    pub failures: Vec<String>,
}

impl CaseResult {
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

pub fn run_case(book: &Rulebook, case: &TestCase) -> CaseResult {
    let report = decide_in_arms(book, &case.visitor, &case.page, case.now_ms, &case.arms);
    let got: Vec<String> = report
        .decision
        .experiences
        .iter()
        .map(|e| e.experience.clone())
        .collect();
    let mut failures: Vec<String> = case
        .arms
        .iter()
        .filter_map(|(rule, arm)| book.arm_problem(rule, arm))
        .collect();
    if got != case.expect {
        failures.push(format!(
            "expected experiences {:?}, got {got:?}",
            case.expect
        ));
    }
    if let Some(expected) = &case.segments {
        let mut want = expected.clone();
        let mut have = report.segments.clone();
        want.sort();
        have.sort();
        if want != have {
            failures.push(format!("expected segments {want:?}, got {have:?}"));
        }
    }
    CaseResult {
        name: case.name.clone(),
        segments: report.segments.clone(),
        got,
        report,
        failures,
    }
}

/// The results of one test file: its cases, or why it could not be read.
#[derive(Debug, Clone)]
pub struct FileResult {
    pub file: String,
    pub cases: Result<Vec<CaseResult>, String>,
}

impl FileResult {
    pub fn passed(&self) -> usize {
        self.cases
            .as_ref()
            .map_or(0, |c| c.iter().filter(|r| r.passed()).count())
    }

    /// Failed cases; an unreadable file counts as one failure.
    pub fn failed(&self) -> usize {
        self.cases
            .as_ref()
            .map_or(1, |c| c.iter().filter(|r| !r.passed()).count())
    }
}

/// Runs every test file (`tests/*.json` of a rulebook), in the order given.
pub fn run_files(book: &Rulebook, files: &[crate::SourceFile]) -> Vec<FileResult> {
    files
        .iter()
        .map(|file| FileResult {
            file: file.name.clone(),
            cases: parse_cases(&file.text)
                .map(|cases| cases.iter().map(|case| run_case(book, case)).collect()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The demo's rules, over every one of their test cases, take at most a twentieth of the
    /// limit per call: room for rules far longer than the demo's before a real rule is cut off.
    #[test]
    fn the_demo_rules_take_a_small_share_of_the_operations_limit() {
        use std::cell::Cell;
        use std::path::Path;
        use std::rc::Rc;

        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../demo-site/rulebook");
        let read = |dir: &Path, extension: &str| -> Vec<(String, String)> {
            let mut files: Vec<(String, String)> = std::fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|e| e == extension))
                .map(|p| {
                    let name = p.file_name().unwrap().to_string_lossy().into_owned();
                    (name, std::fs::read_to_string(&p).unwrap())
                })
                .collect();
            files.sort();
            files
        };
        let sources: Vec<crate::SourceFile> = read(&dir, "rhai")
            .into_iter()
            .map(|(name, text)| crate::SourceFile::new(name, text))
            .collect();
        let mut book = crate::Rulebook::compile(&sources).unwrap_or_else(|e| panic!("{e:?}"));
        let most = Rc::new(Cell::new(0u64));
        let seen = Rc::clone(&most);
        book.engine.on_progress(move |operations| {
            seen.set(seen.get().max(operations));
            None
        });
        let mut cases = 0;
        for (name, text) in read(&dir.join("tests"), "json") {
            for case in parse_cases(&text).unwrap_or_else(|e| panic!("{name}: {e}")) {
                let result = run_case(&book, &case);
                assert!(result.failures.is_empty(), "{name}: {:?}", result.failures);
                cases += 1;
            }
        }
        assert!(
            cases > 50 && most.get() > 10,
            "{cases} cases, {} operations",
            most.get()
        );
        assert!(
            most.get() * 20 <= crate::language::engine::MAX_OPERATIONS,
            "the demo's rules take up to {} operations a call, over a twentieth of {}",
            most.get(),
            crate::language::engine::MAX_OPERATIONS
        );
    }

    #[test]
    fn relative_times() {
        let now = parse_time("2026-06-01T12:00:00Z").unwrap();
        let check = |text: &str, expected: i64| {
            assert_eq!(relative_time(text, now).unwrap(), expected, "{text}")
        };
        check("-1d", now - 86_400_000);
        check("-2h", now - 7_200_000);
        check("-15m", now - 900_000);
        check("2026-06-01T12:00:00Z", now);
        assert!(relative_time("yesterday", now).is_err());
    }

    #[test]
    fn visitor_fields_ending_in_ms_take_relative_times() {
        let now = parse_time(DEFAULT_NOW).unwrap();
        let visitor = parse_visitor(
            r#"{"purchases": {"count": 1, "last_ms": "-10d"}, "last_seen_ms": "-1h"}"#,
            now,
        )
        .unwrap();
        assert_eq!(visitor.purchases.last_ms, Some(now - 10 * 86_400_000));
        assert_eq!(visitor.last_seen_ms, now - 3_600_000);
        assert_eq!(visitor.visitor_id, "test-visitor");
    }

    #[test]
    fn unknown_case_fields_are_refused() {
        let err = parse_cases(
            r#"[{"name": "x", "page": {"url": "/", "path": "/"}, "expect": [], "expected": []}]"#,
        )
        .unwrap_err();
        assert!(err.contains("unknown field `expected`"), "{err}");
    }
}
