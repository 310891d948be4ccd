//! What a decision reports beside the decision itself: the visitor's segments, whether they
//! are in the universal holdout, and a trace line per rule saying what it did and why.

use std::borrow::Cow;
use std::rc::Rc;

use rapport_protocol::{Decision, PageContext};
use serde::Serialize;

/// A decision plus what produced it: the visitor's segments and a trace line per rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DecisionReport {
    #[serde(flatten)]
    pub decision: Decision,
    /// The page the decision was for, and its time (the edge's clock, in ms; written as
    /// RFC 3339 `at` in JSON).
    pub page: PageContext,
    #[serde(rename = "at", serialize_with = "rfc3339")]
    pub now_ms: i64,
    pub segments: Vec<String>,
    /// Whether the visitor is in the universal holdout.
    pub holdout: bool,
    pub trace: Vec<TraceEntry>,
    /// Rules whose condition hit the operations limit in this decision: the caller keeps
    /// them in the visitor's profile (`Profile::remember_stopped`), which skips them after.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stopped: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TraceEntry {
    /// A rule id, or `segment:NAME` for a segment whose test failed.
    pub rule: Rc<str>,
    pub outcome: Outcome,
    pub reason: Cow<'static, str>,
    /// Whether the visitor is in the rule's audience; absent when the rule stopped before
    /// its audience was asked (paused, out of schedule, not on this page, held back).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audience: Option<bool>,
    /// For experiments: the visitor's bucket (0 to 1) and the variant it falls in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bucket: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl TraceEntry {
    pub(crate) fn new(
        rule: Rc<str>,
        outcome: Outcome,
        reason: impl Into<Cow<'static, str>>,
    ) -> TraceEntry {
        TraceEntry {
            rule,
            outcome,
            reason: reason.into(),
            audience: None,
            bucket: None,
            variant: None,
        }
    }
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
    /// Before the rule's start or after its end.
    OutOfSchedule,
    /// Paused by the marketer (`enabled: false`).
    Paused,
    /// Held back for everyone like this visitor: the universal holdout, or no consent.
    Held,
    /// In the audience but outside the experiment (coverage or namespace).
    NotInExperiment,
    /// In the experiment's control group: nothing is shown, the exposure is reported.
    Control,
    /// A frequency cap or the fatigue budget holds the experience back.
    Capped,
    /// A higher-priority rule already took the placement.
    Outranked,
    /// The rule's script failed at run time; the rule was skipped.
    Errored,
}

impl DecisionReport {
    /// The decision's time as RFC 3339 (`2026-11-23T10:00:00.000Z`).
    pub fn at(&self) -> String {
        rfc3339_text(self.now_ms)
    }
}

fn rfc3339_text(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

/// `now_ms` as RFC 3339, formatted only when a report is written out: served decisions
/// never pay for it.
fn rfc3339<S: serde::Serializer>(now_ms: &i64, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&rfc3339_text(*now_ms))
}
