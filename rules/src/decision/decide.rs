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
    ExperienceRef, PageContext, ProductCard, Trigger, HOLDOUT_ARM, PERSONALISED_ARM, PROGRAMME,
};
use rhai::{Dynamic, EvalAltResult, FnPtr, Map};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::rc::Rc;

mod content;
mod limits;
mod preview;
mod visitor;

pub use self::preview::preview;
use self::preview::Forced;

pub(crate) use self::visitor::audiences;
pub use self::visitor::segments_of;

use self::content::{located, Products};
use self::limits::{in_quiet_period, prechecked, prompts_left};
use super::arms::{arm_of, in_holdout, programme_ref, Arm};
use super::trace::{DecisionReport, Outcome, TraceEntry};
use crate::language::diagnostic::{innermost, rhai_message};
use crate::language::rulebook::{call_products, call_test, Listed, Rulebook};
use crate::language::spec::{same_locale, ControlMode, Offer, Rule, Show, Who};
use crate::visitor::profile::{is_in_stock, Profile, DAY_MS};
use crate::visitor::view::{ProductView, Visitor};

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
        stopped: state.stopped,
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
    /// Rules whose condition hit the operations limit in this decision.
    stopped: Vec<String>,
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
            stopped: Vec::new(),
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
        if self.profile.was_stopped(self.book.version(), &rule.id) {
            return TraceEntry::new(
                id,
                Outcome::Errored,
                format!(
                    "skipped: its condition took more than {} steps for this visitor before; it runs again once the rulebook changes",
                    crate::language::engine::MAX_OPERATIONS
                ),
            );
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
        experiment: &'a crate::language::spec::Experiment,
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
        experiment: &'a crate::language::spec::Experiment,
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
            None => Products::none(),
            Some(source) => match self.products(rule, source) {
                Ok(Products::Cards(cards)) if cards.is_empty() => {
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
                    Err(err) => {
                        if matches!(innermost(&err), EvalAltResult::ErrorTooManyOperations(_)) {
                            self.stopped.push(rule.id.clone());
                        }
                        Err(located(&rule.file, &err))
                    }
                }
            }
        }
    }
}
