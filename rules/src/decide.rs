//! The decision: which experiences one visitor gets on one page, and why.
//!
//! Rules are tried from the highest priority down. For each: its schedule, its pages, the
//! universal holdout and consent (for personalised rules), its audience, its experiment (which
//! may put the visitor in a control group), its frequency caps, the shared fatigue budget, and
//! finally whether a higher rule already took its placement. Every rule leaves a trace line.

use rapport_protocol::{
    is_safe_link, Content, Decision, Experience, ExperienceKind, ExperienceRef, PageContext,
    ProductCard,
};
use rhai::{Dynamic, EvalAltResult, FnPtr, Map};
use serde::Serialize;
use std::borrow::Cow;
use std::rc::Rc;

use crate::bucket::{bucket, bucket_ranges, choose_variant, in_namespace};
use crate::diagnostic::{innermost, rhai_message};
use crate::profile::{is_in_stock, Profile, DAY_MS};
use crate::rulebook::{call_products, call_test, Rulebook};
use crate::spec::{Offer, Rule, Show, Who};
use crate::view::{ProductView, Visitor};

/// A decision plus what produced it: the visitor's segments and a trace line per rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DecisionReport {
    #[serde(flatten)]
    pub decision: Decision,
    pub segments: Vec<String>,
    /// Whether the visitor is in the universal holdout.
    pub holdout: bool,
    pub trace: Vec<TraceEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TraceEntry {
    /// A rule id, or `segment:NAME` for a segment whose test failed.
    pub rule: Rc<str>,
    pub outcome: Outcome,
    pub reason: Cow<'static, str>,
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
    run(book, profile, page, now_ms, true, None)
}

/// The same decision as [`decide`], for serving pages: segments are evaluated only as far
/// as the rules need them, so `segments` in the report holds just those found true. The
/// trace is complete.
pub fn decision(
    book: &Rulebook,
    profile: &Profile,
    page: &PageContext,
    now_ms: i64,
) -> DecisionReport {
    run(book, profile, page, now_ms, false, None)
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
        .map(|forced| run(book, profile, page, now_ms, true, Some(forced)))
        .ok_or_else(|| format!("no rule shows an experience \"{experience}\""))
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
) -> DecisionReport {
    let view = Visitor::new(profile, now_ms);
    let visitor = Dynamic::from(view.clone());
    let mut state = State {
        book,
        profile,
        page,
        now_ms,
        visitor: &visitor,
        view: &view,
        segments: vec![None; book.segments.len()],
        segments_shared: false,
        segment_errors: Vec::new(),
        holdout: in_holdout(book, profile),
        taken: Vec::new(),
        prompts_left: prompts_left(book, profile),
        quiet: in_quiet_period(book, profile, now_ms),
        experiences: Vec::new(),
        controls: Vec::new(),
    };
    let mut trace = Vec::with_capacity(book.rules.len());
    let forced_rule = forced.as_ref().map(|f| f.rule.id.as_str());
    if let Some(forced) = forced {
        state.force(&forced);
    }
    for rule in &book.rules {
        let (outcome, reason) = if forced_rule == Some(rule.id.as_str()) {
            (Outcome::Matched, "forced by a preview".into())
        } else {
            state.try_rule(rule)
        };
        trace.push(TraceEntry {
            rule: Rc::clone(&rule.trace_id),
            outcome,
            reason,
        });
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
        holdout: state.holdout,
        segments,
        trace: lines,
    }
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
    /// Placements already given, and to which rule.
    taken: Vec<(Cow<'static, str>, &'a str)>,
    prompts_left: u32,
    quiet: bool,
    experiences: Vec<Experience>,
    controls: Vec<ExperienceRef>,
}

impl<'a> State<'a> {
    /// Whether the visitor is in segment `index`, evaluating it the first time it is asked.
    fn segment(&mut self, index: usize) -> bool {
        if let Some(known) = self.segments[index] {
            return known;
        }
        let segment = &self.book.segments[index];
        let result = match call_test(self.book, segment.script, &segment.test, self.visitor, true) {
            Ok(result) => result,
            Err(err) => {
                self.segment_errors.push(TraceEntry {
                    rule: format!("segment:{}", segment.name).into(),
                    outcome: Outcome::Errored,
                    reason: located(&segment.file, &err).into(),
                });
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
        self.taken.push((placement.clone(), &rule.id));
        self.experiences.push(experience(
            self.book,
            rule,
            show,
            forced.variant,
            placement,
            self.page,
            products,
        ));
    }

    fn try_rule(&mut self, rule: &'a Rule) -> (Outcome, Cow<'static, str>) {
        if let Some(stop) = prechecked(rule, self.page, self.now_ms, self.holdout, self.profile) {
            return stop;
        }
        // Without scripts first: a rule that could not show anyway costs no evaluation.
        if let Offer::Show(show) = &rule.offer {
            if let Some(stop) = self.held_back(rule, show) {
                return stop;
            }
        }
        match self.in_audience(rule) {
            Err(message) => return (Outcome::Errored, message.into()),
            Ok(Some(why_not)) => return (Outcome::NotMatched, why_not),
            Ok(None) => {}
        }
        let (show, variant) = match &rule.offer {
            Offer::Show(show) => (show, None),
            Offer::Experiment(experiment) => {
                let id = &self.profile.visitor_id;
                if let Some((name, start, end)) = &experiment.namespace {
                    if !in_namespace(id, name, *start, *end) {
                        return (
                            Outcome::NotInExperiment,
                            format!("outside namespace \"{name}\"").into(),
                        );
                    }
                }
                let n = bucket(&experiment.seed, id);
                let ranges = bucket_ranges(&experiment.weights, experiment.coverage);
                let Some(index) = choose_variant(n, &ranges) else {
                    return (
                        Outcome::NotInExperiment,
                        "outside the experiment's coverage".into(),
                    );
                };
                let variant = &experiment.variants[index];
                let Some(show) = &variant.show else {
                    self.controls.push(ExperienceRef {
                        rule: rule.id.clone(),
                        experience: format!("{}-{}", rule.id, variant.id),
                        variant: Some(variant.id.clone()),
                        segment: Some(rule.who.label()),
                    });
                    return (
                        Outcome::Control,
                        format!("in control group \"{}\"", variant.id).into(),
                    );
                };
                if let Some(stop) = self.held_back(rule, show) {
                    return stop;
                }
                (show, Some(variant.id.as_str()))
            }
        };
        let products = match &show.products {
            None => Vec::new(),
            Some(source) => match self.products(rule, source) {
                Ok(products) if products.is_empty() => {
                    return (
                        Outcome::NotMatched,
                        "there are no products to recommend".into(),
                    )
                }
                Ok(products) => products,
                Err(message) => return (Outcome::Errored, message.into()),
            },
        };
        let placement = show.kind.placement(show.slot.as_deref());
        self.taken.push((placement.clone(), &rule.id));
        if !show.kind.needs_slot() {
            self.prompts_left = self.prompts_left.saturating_sub(1);
        }
        self.experiences.push(experience(
            self.book, rule, show, variant, placement, self.page, products,
        ));
        (Outcome::Matched, "shown".into())
    }

    /// Caps, the fatigue budget and placements: whether `show` is held back regardless of
    /// who the visitor is.
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
        self.taken
            .iter()
            .find(|(p, _)| *p == placement)
            .map(|(_, by)| {
                (
                    Outcome::Outranked,
                    format!("the {placement} placement went to rule \"{by}\"").into(),
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
                        return Ok(Some(format!("not in segment \"{name}\"").into()));
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
                    Ok(false) => Ok(Some("the `who` condition is false".into())),
                    Err(err) => Err(located(&rule.file, &err)),
                }
            }
        }
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
fn same_locale(a: &str, b: &str) -> bool {
    let norm = |c: u8| match c {
        b'_' => b'-',
        c => c.to_ascii_lowercase(),
    };
    a.len() == b.len() && a.bytes().zip(b.bytes()).all(|(x, y)| norm(x) == norm(y))
}

fn in_holdout(book: &Rulebook, profile: &Profile) -> bool {
    let percent = book.settings.holdout_percent;
    percent > 0.0 && bucket(&book.settings.holdout_seed, &profile.visitor_id) * 100.0 < percent
}

/// Prompts the session may still see: the budget less what it has already seen.
fn prompts_left(book: &Rulebook, profile: &Profile) -> u32 {
    let seen: u32 = profile
        .prompts
        .values()
        .filter(|h| h.session_id == profile.session_id)
        .map(|h| h.session_impressions)
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

fn experience(
    book: &Rulebook,
    rule: &Rule,
    show: &Show,
    variant: Option<&str>,
    placement: Cow<'static, str>,
    page: &PageContext,
    products: Vec<ProductCard>,
) -> Experience {
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
            locale,
            title: text.title,
            body: text.body,
            cta: text.cta,
            code: text.code,
            products,
        },
    }
}
