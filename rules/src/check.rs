//! Everything `rapport check` and the publish API report about a rulebook: the compiler's
//! errors and warnings, plus the warnings that need the rulebook's tests or the clock.

use rhai::Position;

use crate::decision::decide::audiences;
use crate::language::diagnostic::Diagnostic;
use crate::language::rulebook::{Rulebook, SourceFile};
use crate::language::spec::{Offer, Rule, Who};
use crate::testing::TestCase;
use crate::visitor::profile::Profile;

/// Every diagnostic for the rulebook `files` with its test files `tests`, at `now_ms`,
/// sorted by file and position. The rulebook is usable when none is an error.
pub fn check(files: &[SourceFile], tests: &[SourceFile], now_ms: i64) -> Vec<Diagnostic> {
    match Rulebook::compile(files) {
        Err(problems) => problems,
        Ok(book) => warnings(&book, tests, now_ms),
    }
}

/// The warnings of a compiled rulebook.
pub fn warnings(book: &Rulebook, tests: &[SourceFile], now_ms: i64) -> Vec<Diagnostic> {
    let mut all = book.warnings().to_vec();
    let mut cases = Vec::new();
    for file in tests {
        match crate::testing::parse_cases(&file.text) {
            Ok(parsed) => {
                all.extend(case_warnings(book, &file.name, &parsed));
                cases.extend(parsed);
            }
            Err(message) => all.push(Diagnostic::new(&file.name, rhai::Position::NONE, message)),
        }
        for message in crate::testing::file_warnings(&file.text) {
            all.push(Diagnostic::warning(
                &file.name,
                rhai::Position::NONE,
                message,
            ));
        }
    }
    all.extend(check_warnings(book, &cases, now_ms));
    Diagnostic::sort(&mut all);
    all
}

/// Warnings that need the clock or the test cases: schedules that have ended, rules no test
/// expects, and rules whose audience is always taken by a higher rule.
fn check_warnings(book: &Rulebook, cases: &[TestCase], now_ms: i64) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for rule in &book.rules {
        let mut warn = |position: Position, message: String| {
            out.push(Diagnostic::warning(
                &rule.file,
                position,
                format!("rule \"{}\": {message}", rule.id),
            ));
        };
        if let Some(end) = rule.end_ms.filter(|&end| end <= now_ms) {
            let when = chrono::DateTime::from_timestamp_millis(end)
                .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
                .unwrap_or_default();
            warn(
                rule.end_position,
                format!("the schedule ended on {when}; the rule shows nothing any more"),
            );
        }
        let expected = rule
            .shows()
            .any(|show| cases.iter().any(|c| c.expect.contains(&show.experience)));
        if !expected && rule.enabled {
            warn(
                rule.position,
                "no test case expects it: add one to tests/ that shows what it does".to_owned(),
            );
        }
    }
    out.extend(shadowed(book, cases));
    out
}

/// Test cases whose visitor has seen an experience capped over days (`cap.per_days`) but
/// gives no `recent_impressions_ms`, the only impressions such a cap counts: the case would
/// not test the cap it seems to.
fn case_warnings(book: &Rulebook, file: &str, cases: &[TestCase]) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (index, case) in cases.iter().enumerate() {
        for (experience, history) in &case.visitor.prompts {
            let capped_over_days = book.rules.iter().any(|r| {
                r.cap.per_days.is_some() && r.shows().any(|s| s.experience == *experience)
            });
            if capped_over_days
                && history.impressions > 0
                && history.recent_impressions_ms.is_empty()
            {
                out.push(Diagnostic::warning(
                    file,
                    Position::NONE,
                    format!(
                        "case {} (\"{}\"): `visitor.prompts.{experience}` has impressions but no `recent_impressions_ms`, which is all that its rule's `cap.per_days` counts",
                        index + 1,
                        case.name
                    ),
                ));
            }
        }
    }
    out
}

/// A rule whose audience, on every page it targets, always goes to a higher-priority rule
/// that takes the same placement at the same moment: it can never show.
///
/// "Always" is shown either from the rules themselves (the winner targets everyone, or a
/// subset of the loser's segments) or, for `who` functions, from every sample and test
/// visitor the loser's audience holds for.
fn shadowed(book: &Rulebook, cases: &[TestCase]) -> Vec<Diagnostic> {
    let mut visitors: Vec<(Profile, i64)> = crate::visitor::samples::samples()
        .into_iter()
        .map(|p| {
            let now = p.last_seen_ms;
            (p, now)
        })
        .collect();
    visitors.extend(cases.iter().map(|c| (c.visitor.clone(), c.now_ms)));
    let matches: Vec<Vec<Option<bool>>> = visitors
        .iter()
        .map(|(p, now)| audiences(book, p, *now))
        .collect();
    let mut out = Vec::new();
    for (li, loser) in book.rules.iter().enumerate() {
        if !loser.enabled {
            continue;
        }
        for (wi, winner) in book.rules[..li].iter().enumerate() {
            if !takes_the_place_of(winner, loser) {
                continue;
            }
            let by_rules = match (&winner.who, &loser.who) {
                (Who::Everyone, _) => true,
                (Who::Segments(w), Who::Segments(l)) => w.iter().all(|s| l.contains(s)),
                _ => false,
            };
            let by_visitors = || {
                let mut held = 0;
                for row in &matches {
                    match (row[wi], row[li]) {
                        (_, Some(false)) => {}
                        (Some(true), Some(true)) => held += 1,
                        _ => return false,
                    }
                }
                held > 0
            };
            if by_rules || by_visitors() {
                let evidence = if by_rules {
                    "everyone it targets"
                } else {
                    "every sample and test visitor it targets"
                };
                out.push(Diagnostic::warning(
                    &loser.file,
                    loser.position,
                    format!(
                        "rule \"{}\" can never show: for {evidence}, rule \"{}\" (priority {}) takes the {} placement first{}",
                        loser.id,
                        winner.id,
                        winner.priority,
                        placement_of(loser),
                        if winner.cap.stop_after_dismiss || winner.cap.stop_after_click {
                            ", until the shopper dismisses or clicks it"
                        } else {
                            ""
                        }
                    ),
                ));
                break;
            }
        }
    }
    out
}

fn placement_of(rule: &Rule) -> String {
    rule.shows()
        .next()
        .map(|s| s.kind.placement(s.slot.as_deref()).into_owned())
        .unwrap_or_default()
}

/// Whether `winner`, when its audience holds, always takes the placement `loser` needs, on
/// every page `loser` targets, at the moment `loser` would show.
fn takes_the_place_of(winner: &Rule, loser: &Rule) -> bool {
    let (Offer::Show(w), Some(l)) = (&winner.offer, loser.shows().next()) else {
        return false;
    };
    let same_placement = w.kind.placement(w.slot.as_deref()) == l.kind.placement(l.slot.as_deref());
    let pages_cover = winner.pages.is_empty()
        || (!loser.pages.is_empty() && loser.pages.iter().all(|p| winner.pages.contains(p)));
    let paths_cover = winner.paths.is_empty()
        || (!loser.paths.is_empty()
            && loser
                .paths
                .iter()
                .all(|p| winner.paths.iter().any(|w| p.starts_with(w.as_str()))));
    // Overlays are given out when their trigger fires: one that waits for exit intent does
    // not keep a scroll-triggered one off the page.
    let same_moment = !w.kind.is_overlay()
        || winner.trigger == rapport_protocol::Trigger::Immediately
        || winner.trigger == loser.trigger;
    let caps_never_release = winner.cap.per_session.is_none()
        && winner.cap.per_visitor.is_none()
        && winner.cap.per_days.is_none();
    winner.enabled
        && winner.start_ms.is_none()
        && winner.end_ms.is_none()
        && winner.recurring.is_none()
        // A personalised winner is held back (holdout, no consent) where a non-personal
        // loser still shows.
        && (!winner.personalized || loser.personalized)
        && same_placement
        && pages_cover
        && paths_cover
        && same_moment
        && caps_never_release
}
