//! The decision: which experiences one visitor gets on one page, and why.

use std::collections::HashSet;

use rapport_protocol::{Content, Decision, Experience, PageContext};
use serde::Serialize;

use crate::diagnostic::{innermost, rhai_message};
use crate::profile::Profile;
use crate::rulebook::{call_test, Rule, Rulebook, Who};

/// A decision plus what produced it: the visitor's segments and a trace line per rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DecisionReport {
    #[serde(flatten)]
    pub decision: Decision,
    pub segments: Vec<String>,
    pub trace: Vec<TraceEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TraceEntry {
    /// A rule id, or `segment:NAME` for a segment whose test failed.
    pub rule: String,
    pub outcome: Outcome,
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Chosen: the experience is in the decision.
    Matched,
    /// The visitor is not in the rule's audience.
    NotMatched,
    /// The rule does not target this page.
    NotHere,
    /// A frequency cap holds the experience back.
    Capped,
    /// A higher-priority rule already took the placement.
    Outranked,
    /// The rule's condition failed at run time; it was skipped.
    Errored,
}

/// Decides for `profile` on `page` at `now_ms` (the edge's clock). Never fails: a rule or
/// segment whose script errors is skipped and reported in the trace, and the rest decide.
pub fn decide(
    book: &Rulebook,
    profile: &Profile,
    page: &PageContext,
    now_ms: i64,
) -> DecisionReport {
    let mut trace = Vec::new();
    let mut visitor = profile.to_rhai(now_ms);

    let mut segments = Vec::new();
    for segment in &book.segments {
        match call_test(book, segment.script, &segment.test, &visitor) {
            Ok(true) => segments.push(segment.name.clone()),
            Ok(false) => {}
            Err(err) => trace.push(TraceEntry {
                rule: format!("segment:{}", segment.name),
                outcome: Outcome::Errored,
                reason: rhai_message(&err),
            }),
        }
    }
    if let Some(mut map) = visitor.write_lock::<rhai::Map>() {
        let list: rhai::Array = segments.iter().map(|s| s.as_str().into()).collect();
        map.insert("segments".into(), list.into());
    }
    // Every rule gets the same view; sharing makes passing it a pointer copy, not a deep clone.
    let visitor = visitor.into_shared();
    let in_segment: HashSet<&str> = segments.iter().map(String::as_str).collect();

    let mut taken: Vec<(&str, &str)> = Vec::new();
    let mut experiences = Vec::new();
    for rule in &book.rules {
        let placement = rule.kind.placement();
        let (outcome, reason) = if !targets_page(rule, page) {
            (
                Outcome::NotHere,
                "the rule does not target this page".to_owned(),
            )
        } else if let Some(reason) = capped(rule, profile) {
            (Outcome::Capped, reason)
        } else {
            match in_audience(book, rule, &in_segment, &visitor) {
                Err(message) => (Outcome::Errored, message),
                Ok(Some(reason)) => (Outcome::NotMatched, reason),
                Ok(None) => match taken.iter().find(|(p, _)| *p == placement) {
                    Some((_, by)) => (
                        Outcome::Outranked,
                        format!("the {placement} placement went to rule \"{by}\""),
                    ),
                    None => {
                        taken.push((placement, &rule.id));
                        experiences.push(experience(book, rule, page));
                        (Outcome::Matched, "shown".to_owned())
                    }
                },
            }
        };
        trace.push(TraceEntry {
            rule: rule.id.clone(),
            outcome,
            reason,
        });
    }

    DecisionReport {
        decision: Decision {
            experiences,
            rulebook: book.version().to_owned(),
        },
        segments,
        trace,
    }
}

fn targets_page(rule: &Rule, page: &PageContext) -> bool {
    let kind_ok = rule.pages.is_empty()
        || page
            .kind
            .as_deref()
            .is_some_and(|k| rule.pages.iter().any(|p| p == k));
    let path_ok = rule.paths.is_empty() || rule.paths.iter().any(|p| page.path.starts_with(p));
    kind_ok && path_ok
}

/// Why the experience is held back, if it is. A dismissed experience stays away unless the
/// rule says otherwise, so a shopper who said no is not asked again.
fn capped(rule: &Rule, profile: &Profile) -> Option<String> {
    let history = profile.prompts.get(&rule.experience)?;
    let cap = &rule.cap;
    if let Some(max) = cap.per_session {
        if history.session_id == profile.session_id && history.session_impressions >= max {
            return Some(format!("seen {max} time(s) this session"));
        }
    }
    if let Some(max) = cap.per_visitor {
        if history.impressions >= max {
            return Some(format!("seen {max} time(s) in all"));
        }
    }
    if cap.stop_after_click && history.clicks > 0 {
        return Some("already clicked".to_owned());
    }
    if (cap.stop_after_dismiss || !cap.stop_after_click) && history.dismissals > 0 {
        return Some("dismissed by the visitor".to_owned());
    }
    None
}

/// `Ok(None)` when the visitor is in the audience, `Ok(Some(why_not))` when not.
fn in_audience(
    book: &Rulebook,
    rule: &Rule,
    in_segment: &HashSet<&str>,
    visitor: &rhai::Dynamic,
) -> Result<Option<String>, String> {
    match &rule.who {
        Who::Everyone => Ok(None),
        Who::Segments(names) => Ok(names
            .iter()
            .find(|n| !in_segment.contains(n.as_str()))
            .map(|n| format!("not in segment \"{n}\""))),
        Who::Test(test) => match call_test(book, rule.script, test, visitor) {
            Ok(true) => Ok(None),
            Ok(false) => Ok(Some("the `who` condition is false".to_owned())),
            Err(err) => {
                let position = innermost(&err).position();
                Err(format!(
                    "{}:{}:{}: {}",
                    rule.file,
                    position.line().unwrap_or(0),
                    position.position().unwrap_or(0),
                    rhai_message(&err)
                ))
            }
        },
    }
}

fn experience(book: &Rulebook, rule: &Rule, page: &PageContext) -> Experience {
    let wanted = page.locale.as_deref().unwrap_or(&book.default_locale);
    // "pt-BR" falls back to "pt", then to the rulebook's default, then to any translation.
    let language = wanted.split(['-', '_']).next().unwrap_or(wanted);
    let (locale, text) = [wanted, language, book.default_locale.as_str()]
        .iter()
        .find_map(|l| rule.content.get_key_value(*l))
        .or_else(|| rule.content.iter().next())
        .map(|(l, t)| (l.clone(), t.clone()))
        .expect("a rule always has content in at least one locale");
    Experience {
        rule: rule.id.clone(),
        experience: rule.experience.clone(),
        variant: None,
        kind: rule.kind,
        placement: rule.kind.placement().to_owned(),
        trigger: rule.trigger.clone(),
        content: Content {
            locale,
            title: text.title,
            body: text.body,
            cta: text.cta,
        },
    }
}
