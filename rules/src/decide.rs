//! The decision: which experiences one visitor gets on one page, and why.
//!
//! Rules are tried from the highest priority down. For each: its schedule, its pages, the
//! universal holdout and consent (for personalised rules), its audience, its experiment (which
//! may put the visitor in a control group), its frequency caps, the shared fatigue budget, and
//! finally whether a higher rule already took its placement. Every rule leaves a trace line.
//!
//! Every arm is enrolled by the same rule: where its experience would be drawn. A control
//! group, and the universal holdout, pass the treatment's caps, budget and placement here, and
//! come in the decision as [`Control`]s whose exposure the page reports when the treatment
//! would have been drawn.

use rapport_protocol::{
    is_safe_link, CallToAction, Content, Control, Decision, Experience, ExperienceKind,
    ExperienceRef, PageContext, ProductCard, Trigger,
};
use rhai::{Dynamic, EvalAltResult, FnPtr, Map};
use serde::Serialize;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::rc::Rc;

use crate::bucket::{bucket, bucket_ranges, choose_variant, in_namespace};
use crate::diagnostic::{innermost, rhai_message};
use crate::profile::{is_in_stock, Profile, DAY_MS};
use crate::rulebook::{call_products, call_test, Rulebook};
use crate::spec::{ControlMode, Offer, Rule, Show, Who};
use crate::view::{ProductView, Visitor};

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
    fn new(rule: Rc<str>, outcome: Outcome, reason: impl Into<Cow<'static, str>>) -> TraceEntry {
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

/// The most products a recommendation shows.
const MAX_PRODUCTS: usize = 8;

/// Decides for `profile` on `page` at `now_ms` (the edge's clock), with a full report:
/// every segment the visitor is in, and a trace line per rule. Never fails: a rule or
/// segment whose script errors is skipped and reported in the trace, and the rest decide.
pub fn decide(
    book: &Rulebook,
    profile: &Profile,
    page: &PageContext,
    now_ms: i64,
) -> DecisionReport {
    run(book, profile, page, now_ms, true, None, None)
}

/// The full report of [`decide`] with some experiments' arms chosen rather than bucketed
/// (`arms`: variant id by rule id), so that a test case does not depend on where its visitor
/// id happens to fall. Arms of rules that are not experiments, or variants they lack, are
/// ignored here; [`crate::testing`] reports them.
pub fn decide_in_arms(
    book: &Rulebook,
    profile: &Profile,
    page: &PageContext,
    now_ms: i64,
    arms: &BTreeMap<String, String>,
) -> DecisionReport {
    run(book, profile, page, now_ms, true, None, Some(arms))
}

/// The same decision as [`decide`], for serving pages: segments are evaluated only as far
/// as the rules need them, so `segments` in the report holds just those found true, and a
/// rule that could not show anyway (capped, outranked) is not asked about its audience, so
/// its trace line has no `audience` and no explanation. The experiences are the same.
pub fn decision(
    book: &Rulebook,
    profile: &Profile,
    page: &PageContext,
    now_ms: i64,
) -> DecisionReport {
    run(book, profile, page, now_ms, false, None, None)
}

/// The full report of [`decide`], with the experience whose id is `experience` forced in
/// first, whoever the visitor is and whatever its schedule, pages, caps or experiment say:
/// how a marketer previews an experience on a real page. The other rules decide as usual
/// around it. Fails when no rule shows that experience.
pub fn preview(
    book: &Rulebook,
    profile: &Profile,
    page: &PageContext,
    now_ms: i64,
    experience: &str,
) -> Result<DecisionReport, String> {
    book.rules
        .iter()
        .find_map(|rule| {
            let shows: Vec<(&Show, Option<&str>)> = match &rule.offer {
                Offer::Show(show) => vec![(show, None)],
                Offer::Experiment(experiment) => experiment
                    .variants
                    .iter()
                    .filter_map(|v| v.show.as_ref().map(|s| (s, Some(v.id.as_str()))))
                    .collect(),
            };
            shows
                .into_iter()
                .find(|(show, _)| show.experience == experience)
                .map(|(show, variant)| Forced {
                    rule,
                    show,
                    variant,
                })
        })
        .map(|forced| run(book, profile, page, now_ms, true, Some(forced), None))
        .ok_or_else(|| format!("no rule shows an experience \"{experience}\""))
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

/// Where a visitor id falls in an experiment.
enum Arm<'a> {
    /// Outside the experiment's namespace (named), at this bucket.
    OutsideNamespace(&'a str, f64),
    /// In the namespace, at this bucket, but outside the experiment's coverage.
    OutsideCoverage(f64),
    /// At this bucket, in variant `index`.
    In(f64, usize),
}

/// GrowthBook's assignment: the namespace first, then the bucket against the variants' ranges.
fn arm_of<'a>(experiment: &'a crate::spec::Experiment, visitor_id: &str) -> Arm<'a> {
    let n = bucket(&experiment.seed, visitor_id);
    if let Some((name, start, end)) = &experiment.namespace {
        if !in_namespace(visitor_id, name, *start, *end) {
            return Arm::OutsideNamespace(name, n);
        }
    }
    match choose_variant(n, &bucket_ranges(&experiment.weights, experiment.coverage)) {
        Some(index) => Arm::In(n, index),
        None => Arm::OutsideCoverage(n),
    }
}

/// Where a visitor id falls in a rule's experiment: what `rapport bucket` prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Assignment {
    /// 0 to 1, GrowthBook's hash of the seed and the visitor id.
    pub bucket: f64,
    /// The variant, or `None` outside the experiment's namespace or coverage.
    pub variant: Option<String>,
    /// Whether that variant is a control (it shows nothing).
    pub control: bool,
    /// Each variant with its share, in order.
    pub shares: Vec<(String, f64)>,
}

/// The experiment arm of `visitor_id` in rule `rule_id`, whoever the visitor is otherwise.
pub fn assignment(book: &Rulebook, rule_id: &str, visitor_id: &str) -> Result<Assignment, String> {
    let experiment = book.experiment(rule_id)?;
    let (n, index) = match arm_of(experiment, visitor_id) {
        Arm::OutsideNamespace(_, n) | Arm::OutsideCoverage(n) => (n, None),
        Arm::In(n, index) => (n, Some(index)),
    };
    Ok(Assignment {
        bucket: n,
        variant: index.map(|i| experiment.variants[i].id.clone()),
        control: index.is_some_and(|i| experiment.variants[i].show.is_none()),
        shares: experiment
            .variants
            .iter()
            .zip(&experiment.weights)
            .map(|(v, w)| (v.id.clone(), *w))
            .collect(),
    })
}

/// An experience a preview puts first.
struct Forced<'a> {
    rule: &'a Rule,
    show: &'a Show,
    variant: Option<&'a str>,
}

fn run(
    book: &Rulebook,
    profile: &Profile,
    page: &PageContext,
    now_ms: i64,
    all_segments: bool,
    forced: Option<Forced<'_>>,
    arms: Option<&BTreeMap<String, String>>,
) -> DecisionReport {
    let view = Visitor::on_page(profile, page, now_ms);
    let visitor = Dynamic::from(view.clone());
    let mut state = State::new(book, profile, page, now_ms, &visitor, &view);
    state.explain = all_segments;
    state.arms = arms;
    let mut trace = Vec::with_capacity(book.rules.len());
    let forced_rule = forced.as_ref().map(|f| f.rule.id.as_str());
    if let Some(forced) = forced {
        state.force(&forced);
    }
    for rule in &book.rules {
        let line = if forced_rule == Some(rule.id.as_str()) {
            TraceEntry::new(
                Rc::clone(&rule.trace_id),
                Outcome::Matched,
                "forced by a preview",
            )
        } else {
            state.try_rule(rule)
        };
        trace.push(line);
    }
    if all_segments {
        for index in 0..book.segments.len() {
            state.segment(index);
        }
    }
    let segments = book
        .segments
        .iter()
        .zip(&state.segments)
        .filter(|(_, result)| **result == Some(true))
        .map(|(segment, _)| segment.name.clone())
        .collect();
    // Segments that failed come first, then a line per rule.
    let mut lines = std::mem::take(&mut state.segment_errors);
    lines.append(&mut trace);
    DecisionReport {
        decision: Decision {
            experiences: state.experiences,
            controls: state.controls,
            rulebook: book.version().to_owned(),
        },
        page: page.clone(),
        now_ms,
        holdout: state.holdout,
        segments,
        trace: lines,
    }
}

/// A placement given to a rule.
struct Taken<'a> {
    placement: Cow<'static, str>,
    rule: &'a str,
    /// For overlays, the trigger it shows on.
    trigger: Option<&'a Trigger>,
}

struct State<'a> {
    book: &'a Rulebook,
    profile: &'a Profile,
    page: &'a PageContext,
    now_ms: i64,
    visitor: &'a Dynamic,
    view: &'a Visitor,
    /// Each segment's result once evaluated (an erring segment counts as false).
    segments: Vec<Option<bool>>,
    /// Whether `v.segments` has been filled in.
    segments_shared: bool,
    segment_errors: Vec<TraceEntry>,
    holdout: bool,
    /// Whether the rulebook has a holdout and the visitor is not yet enrolled in either of
    /// its arms: each personalised experience that would be drawn then carries the
    /// programme's exposure beside it.
    programme_pending: bool,
    /// Placements already given, to which rule, and (for overlays) on which trigger.
    taken: Vec<Taken<'a>>,
    /// Whether an overlay is in the decision: others may join it on other triggers, and the
    /// page shows whichever fires first, so only the first counts against the budget.
    overlay_given: bool,
    /// Experiment arms a test case pins, by rule id.
    arms: Option<&'a BTreeMap<String, String>>,
    /// Whether trace lines explain a failing condition with the values it read (full
    /// reports only: it costs evaluations the served decision does without).
    explain: bool,
    /// Prompts the session may still draw: the budget less the prompts it has been shown.
    prompts_left: u32,
    /// Prompts offered so far that compete for the budget (an overlay's alternatives do not:
    /// only one of them shows).
    prompts_offered: u32,
    quiet: bool,
    experiences: Vec<Experience>,
    controls: Vec<Control>,
}

/// Runs `f` with a decision state for `profile` on no page in particular (the root path, no
/// kind or language), for questions about the visitor rather than a page view.
fn off_page<R>(
    book: &Rulebook,
    profile: &Profile,
    now_ms: i64,
    f: impl FnOnce(&mut State<'_>) -> R,
) -> R {
    let view = Visitor::new(profile, now_ms);
    let visitor = Dynamic::from(view.clone());
    let page = PageContext {
        url: "/".into(),
        path: "/".into(),
        kind: None,
        locale: None,
    };
    let mut state = State::new(book, profile, &page, now_ms, &visitor, &view);
    f(&mut state)
}

/// Every segment `profile` is in at `now_ms`, in rulebook order (a segment whose condition
/// errs counts as out), for analytics by segment. Segments do not depend on the page.
pub fn segments_of(book: &Rulebook, profile: &Profile, now_ms: i64) -> Vec<String> {
    off_page(book, profile, now_ms, |state| {
        (0..book.segments.len())
            .filter(|index| state.segment(*index))
            .map(|index| book.segments[index].name.clone())
            .collect()
    })
}

/// Whether `profile` is in each rule's audience (in rule order), ignoring pages, schedules,
/// caps and everything else; `None` where the condition fails. For the compiler's checks.
pub(crate) fn audiences(book: &Rulebook, profile: &Profile, now_ms: i64) -> Vec<Option<bool>> {
    off_page(book, profile, now_ms, |state| {
        book.rules
            .iter()
            .map(|rule| match state.in_audience(rule) {
                Ok(None) => Some(true),
                Ok(Some(_)) => Some(false),
                Err(_) => None,
            })
            .collect()
    })
}

impl<'a> State<'a> {
    fn new(
        book: &'a Rulebook,
        profile: &'a Profile,
        page: &'a PageContext,
        now_ms: i64,
        visitor: &'a Dynamic,
        view: &'a Visitor,
    ) -> State<'a> {
        State {
            book,
            profile,
            page,
            now_ms,
            visitor,
            view,
            segments: vec![None; book.segments.len()],
            segments_shared: false,
            segment_errors: Vec::new(),
            holdout: in_holdout(book, profile),
            programme_pending: book.settings.holdout_percent > 0.0
                && !profile.experiments.contains_key(PROGRAMME),
            taken: Vec::new(),
            overlay_given: false,
            arms: None,
            explain: false,
            prompts_left: prompts_left(book, profile),
            prompts_offered: 0,
            quiet: in_quiet_period(book, profile, now_ms),
            experiences: Vec::new(),
            controls: Vec::new(),
        }
    }

    /// Whether the visitor is in segment `index`, evaluating it the first time it is asked.
    fn segment(&mut self, index: usize) -> bool {
        if let Some(known) = self.segments[index] {
            return known;
        }
        let segment = &self.book.segments[index];
        let result = match call_test(self.book, segment.script, &segment.test, self.visitor, true) {
            Ok(result) => result,
            Err(err) => {
                self.segment_errors.push(TraceEntry::new(
                    format!("segment:{}", segment.name).into(),
                    Outcome::Errored,
                    located(&segment.file, &err),
                ));
                false
            }
        };
        self.segments[index] = Some(result);
        result
    }

    /// Fills in `v.segments` for `who` functions that read it.
    fn share_segments(&mut self) {
        if self.segments_shared {
            return;
        }
        let book = self.book;
        let names: Vec<String> = (0..book.segments.len())
            .filter(|&i| self.segment(i))
            .map(|i| book.segments[i].name.clone())
            .collect();
        self.view.set_segments(&names);
        self.segments_shared = true;
    }

    /// Puts a previewed experience in first, taking its placement. Recommendations the
    /// visitor cannot have yet are shown empty rather than not at all.
    fn force(&mut self, forced: &Forced<'a>) {
        let (rule, show) = (forced.rule, forced.show);
        let products = show
            .products
            .as_ref()
            .and_then(|source| self.products(rule, source).ok())
            .unwrap_or_default();
        let placement = show.kind.placement(show.slot.as_deref());
        self.take(rule, show, placement.clone());
        let shown = self.experience(rule, show, forced.variant, placement, products);
        self.experiences.push(shown);
    }

    /// Tries one rule: first what concerns the rule itself (paused, schedule, page, holdout,
    /// consent), then the visitor's audience, then the experiment's arm, and only then caps,
    /// the fatigue budget and placements, so that "outranked" or "capped" always means the
    /// visitor was in the audience.
    fn try_rule(&mut self, rule: &'a Rule) -> TraceEntry {
        let id = Rc::clone(&rule.trace_id);
        // A visitor of the holdout who is not enrolled yet goes on, to learn where a
        // personalised experience would have been drawn: that is their exposure.
        let held_out = self.holdout && !self.programme_pending;
        if let Some((outcome, reason)) =
            prechecked(rule, self.page, self.now_ms, held_out, self.profile)
        {
            return TraceEntry::new(id, outcome, reason);
        }
        // A served decision's trace is read by no one: a rule that could not show anyway
        // (capped, outranked, out of budget) costs no script. The experiences are the same
        // either way; full reports ask the audience first, so their trace is honest.
        if !self.explain {
            if let Offer::Show(show) = &rule.offer {
                if let Some((outcome, reason)) = self.held_back(rule, show) {
                    return TraceEntry::new(id, outcome, reason);
                }
            }
        }
        let mut line = match self.in_audience(rule) {
            Err(message) => return TraceEntry::new(id, Outcome::Errored, message),
            Ok(Some(why_not)) => TraceEntry {
                audience: Some(false),
                ..TraceEntry::new(id, Outcome::NotMatched, why_not)
            },
            Ok(None) => TraceEntry {
                audience: Some(true),
                ..TraceEntry::new(id, Outcome::Matched, "shown")
            },
        };
        if line.outcome == Outcome::NotMatched {
            return line;
        }
        if self.holdout && rule.personalized {
            return self.held_out(rule, line);
        }
        let experiment = match &rule.offer {
            Offer::Show(show) => return self.offer(rule, show, None, line),
            Offer::Experiment(experiment) => experiment,
        };
        let pinned = self
            .arms
            .and_then(|arms| arms.get(&rule.id))
            .and_then(|arm| experiment.variants.iter().position(|v| v.id == *arm));
        if let Some(index) = pinned {
            return self.in_arm(rule, experiment, index, None, line);
        }
        let (n, index) = match arm_of(experiment, &self.profile.visitor_id) {
            Arm::OutsideNamespace(name, _) => {
                line.outcome = Outcome::NotInExperiment;
                line.reason = format!("outside namespace \"{name}\"").into();
                return line;
            }
            Arm::OutsideCoverage(n) => {
                line.bucket = Some(n);
                line.outcome = Outcome::NotInExperiment;
                line.reason = "outside the experiment's coverage".into();
                return line;
            }
            Arm::In(n, index) => (n, index),
        };
        line.bucket = Some(n);
        self.in_arm(rule, experiment, index, Some(n), line)
    }

    /// The visitor is in `experiment`'s variant `index` (at bucket `n`, or pinned by a test
    /// case): a control is recorded, a treatment offered.
    fn in_arm(
        &mut self,
        rule: &'a Rule,
        experiment: &'a crate::spec::Experiment,
        index: usize,
        n: Option<f64>,
        mut line: TraceEntry,
    ) -> TraceEntry {
        let variant = &experiment.variants[index];
        line.variant = Some(variant.id.clone());
        let at = n.map_or_else(
            || "pinned by the test case".to_owned(),
            |n| format!("bucket {n:.4}"),
        );
        let Some(show) = &variant.show else {
            return self.control(rule, experiment, &variant.id, &at, line);
        };
        self.offer(rule, show, Some(variant.id.as_str()), line)
    }

    /// The visitor is in a control group. It is enrolled by the treatment's rule: where caps,
    /// the fatigue budget, the quiet period or a higher rule's placement would hold the
    /// treatment back, the control is held back too, and on the page its exposure waits for
    /// what the treatment's drawing would (the overlay's turn, the budget, the slot).
    fn control(
        &mut self,
        rule: &'a Rule,
        experiment: &'a crate::spec::Experiment,
        arm: &str,
        at: &str,
        mut line: TraceEntry,
    ) -> TraceEntry {
        let reference = ExperienceRef {
            rule: rule.id.clone(),
            experience: format!("{}-{arm}", rule.id),
            variant: Some(arm.to_owned()),
            segment: Some(rule.who.label()),
        };
        let holds = experiment.control == ControlMode::Holds;
        line.outcome = Outcome::Control;
        let Some(treatment) = experiment.variants.iter().find_map(|v| v.show.as_ref()) else {
            // An experiment of controls only: nothing to wait for but the trigger.
            self.controls.push(Control {
                reference,
                trigger: rule.trigger.clone(),
                shows_as: None,
                slot: None,
                budget: None,
                holds,
            });
            line.reason = format!("in control group \"{arm}\" ({at})").into();
            return line;
        };
        if let Some((outcome, reason)) = self.held_back(rule, treatment) {
            line.outcome = outcome;
            line.reason = format!(
                "in control group \"{arm}\" ({at}), not enrolled: the treatment would not show ({reason})"
            )
            .into();
            return line;
        }
        self.ghost(reference, rule, treatment, holds);
        if self.programme_pending && rule.personalized {
            self.ghost(
                programme_ref(PERSONALISED_ARM, treatment),
                rule,
                treatment,
                false,
            );
        }
        line.reason = if holds {
            // The control keeps the placement and the prompt the treatment would take.
            self.spend(treatment);
            self.take(rule, treatment, treatment.kind.placement(treatment.slot.as_deref()));
            format!("in control group \"{arm}\" ({at}): the placement stays empty")
        } else {
            format!(
                "in control group \"{arm}\" ({at}): nothing from this rule; lower rules may fill the placement"
            )
        }
        .into();
        line
    }

    /// A visitor of the holdout in a personalised rule's audience: nothing is shown, and
    /// where the rule's experience would have been drawn, the programme's exposure is.
    fn held_out(&mut self, rule: &'a Rule, mut line: TraceEntry) -> TraceEntry {
        line.outcome = Outcome::Held;
        line.reason = "the visitor is in the universal holdout".into();
        let show = match &rule.offer {
            Offer::Show(show) => Some(show),
            Offer::Experiment(experiment) => {
                experiment.variants.iter().find_map(|v| v.show.as_ref())
            }
        };
        if let Some(show) = show.filter(|show| self.held_back(rule, show).is_none()) {
            self.ghost(programme_ref(HOLDOUT_ARM, show), rule, show, false);
            line.reason =
                "the visitor is in the universal holdout: enrolled if this would have been drawn"
                    .into();
        }
        line
    }

    /// An arm that shows nothing, exposed on the page where `show` would have been drawn.
    fn ghost(&mut self, reference: ExperienceRef, rule: &Rule, show: &Show, holds: bool) {
        self.controls.push(Control {
            reference,
            trigger: rule.trigger.clone(),
            shows_as: Some(show.kind),
            slot: show.slot.clone(),
            budget: (!show.kind.needs_slot()).then_some(self.prompts_left),
            holds,
        });
    }

    /// Counts `show` among the prompts offered, unless it is inline content or an
    /// alternative to an overlay already offered.
    fn spend(&mut self, show: &Show) {
        let competes = !(show.kind.needs_slot() || show.kind.is_overlay() && self.overlay_given);
        if competes {
            self.prompts_offered += 1;
        }
    }

    /// Caps, budget and placement, then the experience itself.
    fn offer(
        &mut self,
        rule: &'a Rule,
        show: &'a Show,
        variant: Option<&'a str>,
        mut line: TraceEntry,
    ) -> TraceEntry {
        if let Some((outcome, reason)) = self.held_back(rule, show) {
            line.outcome = outcome;
            line.reason = reason;
            return line;
        }
        let products = match &show.products {
            None => Vec::new(),
            Some(source) => match self.products(rule, source) {
                Ok(products) if products.is_empty() => {
                    line.outcome = Outcome::NotMatched;
                    line.reason = "there are no products to recommend".into();
                    return line;
                }
                Ok(products) => products,
                Err(message) => {
                    line.outcome = Outcome::Errored;
                    line.reason = message.into();
                    return line;
                }
            },
        };
        let placement = show.kind.placement(show.slot.as_deref());
        // A prompt spends the budget when the page draws it, not here: the decision offers
        // every candidate in rank order, and the page draws them while the budget lasts.
        // Overlays after the first are alternatives to it (only one of them will show), so
        // they compete for the same place in the budget.
        self.spend(show);
        let beyond_budget = !show.kind.needs_slot() && self.prompts_offered > self.prompts_left;
        self.take(rule, show, placement.clone());
        let mut shown = self.experience(rule, show, variant, placement, products);
        shown.budget = (!show.kind.needs_slot()).then_some(self.prompts_left);
        self.experiences.push(shown);
        if self.programme_pending && rule.personalized {
            self.ghost(programme_ref(PERSONALISED_ARM, show), rule, show, false);
        }
        line.reason = match (variant, beyond_budget) {
            (None, false) => line.reason,
            (Some(variant), false) => format!("shown: variant \"{variant}\"").into(),
            (variant, true) => {
                let left = self.prompts_left;
                let variant = variant
                    .map(|v| format!(": variant \"{v}\""))
                    .unwrap_or_default();
                format!(
                    "offered{variant}, if the page draws it before higher prompts use the session's \
                     last {left} prompt(s)"
                )
                .into()
            }
        };
        line
    }

    fn take(&mut self, rule: &'a Rule, show: &Show, placement: Cow<'static, str>) {
        let overlay = show.kind.is_overlay();
        self.overlay_given |= overlay;
        self.taken.push(Taken {
            placement,
            rule: &rule.id,
            trigger: overlay.then_some(&rule.trigger),
        });
    }

    /// Caps, the fatigue budget and placements: whether `show` is held back.
    fn held_back(&self, rule: &Rule, show: &Show) -> Option<(Outcome, Cow<'static, str>)> {
        if let Some(reason) = capped(rule, show, self.profile, self.now_ms) {
            return Some((Outcome::Capped, reason.into()));
        }
        if !show.kind.needs_slot() {
            if self.quiet {
                return Some((
                    Outcome::Capped,
                    "quiet period after the visitor dismissed a prompt".into(),
                ));
            }
            if self.prompts_left == 0 {
                return Some((
                    Outcome::Capped,
                    "the session's prompt budget is used up".into(),
                ));
            }
            if show.kind.is_overlay() && self.book.settings.overlays_per_page == 0 {
                return Some((
                    Outcome::Capped,
                    "overlays are turned off in the settings".into(),
                ));
            }
        }
        let placement = show.kind.placement(show.slot.as_deref());
        // Overlays are given out on the page when their trigger fires: one on another
        // trigger is an alternative (the page shows whichever comes first), but one that
        // shows at once, or on the same trigger, takes the place.
        let conflicts = |taken: &Taken<'_>| match taken.trigger {
            Some(trigger) => *trigger == Trigger::Immediately || *trigger == rule.trigger,
            None => true,
        };
        self.taken
            .iter()
            .find(|t| t.placement == placement && conflicts(t))
            .map(|t| {
                let by = t.rule;
                let how = if t.trigger.is_some() {
                    " on the same trigger"
                } else {
                    ""
                };
                (
                    Outcome::Outranked,
                    format!("the {placement} placement went to rule \"{by}\"{how}").into(),
                )
            })
    }

    /// `Ok(None)` when the visitor is in the audience, `Ok(Some(why_not))` when not.
    fn in_audience(&mut self, rule: &Rule) -> Result<Option<Cow<'static, str>>, String> {
        match &rule.who {
            Who::Everyone => Ok(None),
            Who::Segments(names) => {
                for name in names {
                    let index = self.book.segment_index[name.as_str()];
                    if !self.segment(index) {
                        let segment = &self.book.segments[index];
                        let why = self.why_false(segment.script, &segment.test);
                        return Ok(Some(format!("not in segment \"{name}\"{why}").into()));
                    }
                }
                Ok(None)
            }
            Who::Test(test) => {
                if rule.reads_segments {
                    self.share_segments();
                }
                match call_test(self.book, rule.script, test, self.visitor, false) {
                    Ok(true) => Ok(None),
                    Ok(false) if !self.explain => Ok(Some("the `who` condition is false".into())),
                    Ok(false) => {
                        let why = self.why_false(rule.script, test);
                        Ok(Some(format!("the `who` condition is false{why}").into()))
                    }
                    Err(err) => Err(located(&rule.file, &err)),
                }
            }
        }
    }

    /// The experience as the page gets it: its translation for the page's language, with
    /// live values filled in.
    fn experience(
        &self,
        rule: &Rule,
        show: &Show,
        variant: Option<&str>,
        placement: Cow<'static, str>,
        products: Vec<ProductCard>,
    ) -> Experience {
        let (book, page, profile) = (self.book, self.page, self.profile);
        let fallback = book.settings.default_locale.as_str();
        let wanted = page.locale.as_deref().unwrap_or(fallback);
        // "pt-BR" falls back to "pt", then to the rulebook's default, then to any translation;
        // tags match whatever their case (`<html lang="IT">` is Italian) and separator.
        let language = wanted.split(['-', '_']).next().unwrap_or(wanted);
        let (locale, text) = [wanted, language, fallback]
            .iter()
            .find_map(|l| show.content.iter().find(|(key, _)| same_locale(key, l)))
            .or_else(|| show.content.iter().next())
            .map(|(l, t)| (l.clone(), t.clone()))
            .expect("the compiler refuses a show without content");
        let values = crate::template::Values {
            profile,
            page,
            settings: &book.settings,
            locale: &locale,
        };
        Experience {
            rule: rule.id.clone(),
            experience: show.experience.clone(),
            variant: variant.map(str::to_owned),
            segment: Some(rule.who.label()),
            kind: show.kind,
            placement: placement.into_owned(),
            slot: show.slot.clone(),
            position: show.position,
            trigger: rule.trigger.clone(),
            content: Content {
                title: text.title.map(|t| t.render(&values)),
                body: text.body.render(&values),
                cta: text.cta.map(|(label, url)| CallToAction {
                    label: label.render(&values),
                    url,
                }),
                code: text.code,
                products,
                locale,
            },
            // Set by `offer` for prompts; a preview's forced experience is drawn whatever
            // the budget says.
            budget: None,
        }
    }

    /// `: v.cart.value = 77.0, needs > 80` for a condition found false, in full reports.
    fn why_false(&self, script: usize, test: &FnPtr) -> String {
        if !self.explain {
            return String::new();
        }
        crate::analysis::explain_false(
            &self.book.engine,
            &self.book.scripts[script],
            test.fn_name(),
            test.curry().len(),
            self.visitor,
        )
        .map(|why| format!(": {why}"))
        .unwrap_or_default()
    }

    fn products(&self, rule: &Rule, source: &FnPtr) -> Result<Vec<ProductCard>, String> {
        let list = call_products(self.book, rule.script, source, self.visitor)
            .map_err(|err| located(&rule.file, &err))?;
        let mut cards = Vec::new();
        for item in list {
            if cards.len() == MAX_PRODUCTS {
                break;
            }
            let card = match item.try_cast_result::<ProductView>() {
                Ok(view) => {
                    let p = view.product();
                    // Nothing out of stock is ever recommended.
                    if !is_in_stock(p) {
                        continue;
                    }
                    p.name.clone().map(|name| ProductCard {
                        id: p.id.clone(),
                        name,
                        price: p.price,
                        currency: p.currency.clone(),
                        url: p.url.clone().filter(|u| is_safe_link(u)),
                    })
                }
                Err(other) => {
                    let map = other.try_cast::<Map>().ok_or(
                        "`products` must give products (from v.recent_products, or maps with id and name)",
                    )?;
                    if map.get("in_stock").and_then(|s| s.as_bool().ok()) == Some(false) {
                        continue;
                    }
                    let text = |key: &str| {
                        map.get(key)
                            .and_then(|v| v.clone().into_immutable_string().ok())
                            .map(|s| s.to_string())
                            .filter(|s| !s.is_empty())
                    };
                    let id = text("id").ok_or("a recommended product needs an `id`")?;
                    text("name").map(|name| ProductCard {
                        id,
                        name,
                        price: map.get("price").and_then(|p| p.as_float().ok()),
                        currency: text("currency"),
                        url: text("url").filter(|u| is_safe_link(u)),
                    })
                }
            };
            cards.push(card.ok_or("a recommended product needs a `name`")?);
        }
        Ok(cards)
    }
}

/// `file:line:col: message` for a script error inside a rule or segment.
fn located(file: &str, err: &EvalAltResult) -> String {
    let position = innermost(err).position();
    format!(
        "{file}:{}:{}: {}",
        position.line().unwrap_or(0),
        position.position().unwrap_or(0),
        rhai_message(err)
    )
}

/// The checks that need no script: schedule, page, holdout and consent. `Some` says why
/// the rule stops here.
fn prechecked(
    rule: &Rule,
    page: &PageContext,
    now_ms: i64,
    holdout: bool,
    profile: &Profile,
) -> Option<(Outcome, Cow<'static, str>)> {
    if !rule.enabled {
        return Some((
            Outcome::Paused,
            "the rule is paused (`enabled: false`)".into(),
        ));
    }
    if rule.start_ms.is_some_and(|start| now_ms < start) {
        return Some((
            Outcome::OutOfSchedule,
            "the rule has not started yet".into(),
        ));
    }
    if rule.end_ms.is_some_and(|end| now_ms >= end) {
        return Some((Outcome::OutOfSchedule, "the rule has ended".into()));
    }
    if let Some(recurring) = rule.recurring.as_ref().filter(|r| !r.contains(now_ms)) {
        return Some((
            Outcome::OutOfSchedule,
            format!("outside its hours ({})", recurring.label).into(),
        ));
    }
    if !targets_page(rule, page) {
        return Some((
            Outcome::NotHere,
            "the rule does not target this page".into(),
        ));
    }
    if rule.personalized && holdout {
        return Some((
            Outcome::Held,
            "the visitor is in the universal holdout".into(),
        ));
    }
    if rule.personalized && !profile.allows_personalization() {
        return Some((
            Outcome::Held,
            "the visitor has not consented to personalisation".into(),
        ));
    }
    None
}

/// Whether two language tags are the same, whatever their case and separator (`pt_BR`,
/// `pt-br`).
pub(crate) fn same_locale(a: &str, b: &str) -> bool {
    let norm = |c: u8| match c {
        b'_' => b'-',
        c => c.to_ascii_lowercase(),
    };
    a.len() == b.len() && a.bytes().zip(b.bytes()).all(|(x, y)| norm(x) == norm(y))
}

/// The experiment key of the universal holdout: all personalised experiences against none.
pub const PROGRAMME: &str = "";
/// The programme's arms.
pub const HOLDOUT_ARM: &str = "holdout";
pub const PERSONALISED_ARM: &str = "personalised";

/// What a programme arm's exposure names: the programme, the arm, and (as its experience)
/// the arm and the experience it stands for, so that each is armed on the page apart.
fn programme_ref(arm: &str, show: &Show) -> ExperienceRef {
    ExperienceRef {
        rule: PROGRAMME.to_owned(),
        experience: format!("{arm}:{}", show.experience),
        variant: Some(arm.to_owned()),
        segment: None,
    }
}

/// Whether the visitor is in the universal holdout (`settings.holdout`): never shown a
/// personalised experience, so that the programme as a whole can be measured.
pub fn in_holdout(book: &Rulebook, profile: &Profile) -> bool {
    let percent = book.settings.holdout_percent;
    percent > 0.0 && bucket(&book.settings.holdout_seed, &profile.visitor_id) * 100.0 < percent
}

/// Prompts the session may still see: the budget less the prompts it has been shown this
/// session. Inline content fills space the page reserved and is no prompt: its impressions
/// spend nothing.
fn prompts_left(book: &Rulebook, profile: &Profile) -> u32 {
    let inline: Vec<&str> = book
        .rules
        .iter()
        .flat_map(Rule::shows)
        .filter(|show| show.kind.needs_slot())
        .map(|show| show.experience.as_str())
        .collect();
    let seen: u32 = profile
        .prompts
        .iter()
        .filter(|(experience, h)| {
            h.session_id == profile.session_id && !inline.contains(&experience.as_str())
        })
        .map(|(_, h)| h.session_impressions)
        .sum();
    book.settings.prompts_per_session.saturating_sub(seen)
}

fn in_quiet_period(book: &Rulebook, profile: &Profile, now_ms: i64) -> bool {
    let quiet_ms = i64::from(book.settings.quiet_minutes_after_dismiss) * 60_000;
    profile
        .prompts
        .values()
        .filter_map(|h| h.last_dismissed_ms)
        .any(|at| now_ms - at < quiet_ms)
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

/// Why the experience is held back by its rule's caps, if it is.
fn capped(rule: &Rule, show: &Show, profile: &Profile, now_ms: i64) -> Option<String> {
    let history = profile.prompts.get(&show.experience)?;
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
    if let Some((times, days)) = cap.per_days {
        let since = now_ms - i64::from(days) * DAY_MS;
        let recent = history
            .recent_impressions_ms
            .iter()
            .filter(|&&at| at > since)
            .count();
        if recent >= times as usize {
            return Some(format!("seen {times} time(s) in the last {days} day(s)"));
        }
    }
    if cap.stop_after_click && history.clicks > 0 {
        return Some("already clicked".into());
    }
    if cap.stop_after_dismiss && history.dismissals > 0 {
        return Some("dismissed by the visitor".into());
    }
    let survey = matches!(show.kind, ExperienceKind::Nps | ExperienceKind::Csat);
    if (cap.stop_after_answer || survey) && history.answers > 0 {
        return Some("already answered".into());
    }
    None
}
