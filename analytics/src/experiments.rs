//! Experiment results from the arms' daily rows: per arm the sufficient statistics of each
//! metric, per treatment and metric the lift over the baseline with its interval, p-value
//! and p-value adjusted for the number of comparisons, the sample-ratio check, and a
//! verdict in plain words.

use serde::Serialize;

use crate::facts::{HOLDOUT_ARM, PERSONALISED_ARM, PROGRAMME};
use crate::stats::{self, Correction, Effect, Interval, Kind, Moments, NoEffect, Scale};
use crate::tables::{sum_by, ArmDay};

/// Conversions (or clicks, or answers) each of two compared arms needs before any verdict
/// (GrowthBook's default minimum): the smaller arm's count decides, so a verdict never rests
/// on a few dozen conversions in a small control group.
pub const MIN_EVENTS: f64 = 150.0;
/// Significant lifts smaller than this are a draw.
pub const DRAW_BELOW: f64 = 0.005;
const ALPHA: f64 = 0.05;

/// How the results are read: the kind of interval, the correction for multiple comparisons,
/// and the smallest lift worth detecting, for how long an experiment still needs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reading {
    pub interval: Interval,
    pub correction: Correction,
    /// The relative lift on the primary metric the marketer wants to be able to detect.
    pub minimum_effect: f64,
}

impl Default for Reading {
    fn default() -> Reading {
        Reading {
            interval: Interval::Fixed,
            correction: Correction::Holm,
            minimum_effect: 0.10,
        }
    }
}

/// The power experiments are planned for.
pub const POWER: f64 = 0.8;

/// What an experiment still needs to detect the minimum effect on its primary metric with
/// 80% power (and to pass the verdict gate), at its traffic so far.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Duration {
    /// The relative lift it is planned for.
    pub minimum_effect: f64,
    /// Visitors in all, over every arm.
    pub visitors_needed: f64,
    /// Beyond those it has.
    pub more_visitors: f64,
    /// At its average daily visitors in the period; absent before any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub more_days: Option<f64>,
    pub words: String,
}

/// What the results need from the rulebook about an experiment.
#[derive(Debug, Clone, PartialEq)]
pub struct Design {
    pub rule: String,
    /// Arm id, share of visitors (0 to 1), whether it shows something.
    pub arms: Vec<(String, f64, bool)>,
    /// The metric the verdict, the headline and the duration are about (the rule's
    /// `experiment.metric`, conversion unless it names another).
    pub primary: Metric,
}

impl Design {
    /// The designs of a rulebook's experiments, and the programme's when it has a holdout.
    pub fn of(book: &rapport_rules::Rulebook) -> Vec<Design> {
        let mut designs: Vec<Design> = book
            .rules()
            .filter(|r| !r.arms.is_empty())
            .map(|r| Design {
                rule: r.id.to_owned(),
                arms: r
                    .arms
                    .iter()
                    .map(|a| (a.id.to_owned(), a.weight, a.shows))
                    .collect(),
                primary: Metric::named(r.metric).unwrap_or(Metric::Conversion),
            })
            .collect();
        let holdout = book.settings().holdout_percent / 100.0;
        if holdout > 0.0 {
            designs.push(Design {
                rule: PROGRAMME.to_owned(),
                arms: vec![
                    (HOLDOUT_ARM.to_owned(), holdout, false),
                    (PERSONALISED_ARM.to_owned(), 1.0 - holdout, true),
                ],
                primary: Metric::Conversion,
            });
        }
        designs
    }
}

/// The metrics measured per exposed visitor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Visitors with a purchase within the attribution window.
    Conversion,
    /// Revenue per exposed visitor.
    Revenue,
    /// Clicks per exposed visitor (arms that show something).
    Clicks,
    /// The survey score, per visitor who answered.
    Score,
}

impl Metric {
    const ALL: [Metric; 4] = [
        Metric::Conversion,
        Metric::Revenue,
        Metric::Clicks,
        Metric::Score,
    ];

    /// The metric a rule names (`experiment.metric`).
    pub fn named(name: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.name() == name)
    }

    fn name(self) -> &'static str {
        match self {
            Metric::Conversion => "conversion",
            Metric::Revenue => "revenue",
            Metric::Clicks => "clicks",
            Metric::Score => "score",
        }
    }

    /// What a lift is a lift in, for the duration's words.
    fn noun(self) -> &'static str {
        match self {
            Metric::Conversion => "conversion",
            Metric::Revenue => "revenue per visitor",
            Metric::Clicks => "clicks per visitor",
            Metric::Score => "the survey score",
        }
    }

    fn kind(self) -> Kind {
        match self {
            Metric::Conversion => Kind::Proportion,
            _ => Kind::Mean,
        }
    }

    /// The count the minimum-data gate reads in an arm's row, and its name.
    fn events(self, row: &ArmDay) -> (f64, &'static str) {
        match self {
            Metric::Conversion | Metric::Revenue => (row.conversions, "conversions"),
            Metric::Clicks => (row.clicks, "clicks"),
            Metric::Score => (row.answers, "answers"),
        }
    }

    fn moments(self, row: &ArmDay) -> Moments {
        let visitors = row.visitors;
        match self {
            Metric::Conversion => Moments {
                n: visitors,
                sum: row.conversions,
                sum_squares: row.conversions,
            },
            Metric::Revenue => Moments {
                n: visitors,
                sum: row.revenue,
                sum_squares: row.revenue_ss,
            },
            Metric::Clicks => Moments {
                n: visitors,
                sum: row.clicks,
                sum_squares: row.clicks_ss,
            },
            Metric::Score => Moments {
                n: row.answers,
                sum: row.score,
                sum_squares: row.score_ss,
            },
        }
    }

    /// "converts", "brings in", ...: the verb of a verdict, better and worse.
    fn words(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Metric::Conversion => ("converts", "better", "worse"),
            Metric::Revenue => (
                "brings in",
                "more revenue per visitor",
                "less revenue per visitor",
            ),
            Metric::Clicks => (
                "gets",
                "more clicks per visitor",
                "fewer clicks per visitor",
            ),
            Metric::Score => ("scores", "higher", "lower"),
        }
    }
}

/// One metric of one arm: its sufficient statistics and mean.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricStats {
    /// Visitors counted (for the score, those who answered).
    pub n: f64,
    pub sum: f64,
    pub sum_squares: f64,
    pub mean: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ArmResult {
    pub arm: String,
    /// Whether the lifts are measured against this arm.
    pub baseline: bool,
    pub shows: bool,
    /// Its configured share of visitors, when the active rulebook still has the experiment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<f64>,
    pub visitors: f64,
    pub conversion: MetricStats,
    pub revenue: MetricStats,
    pub clicks: MetricStats,
    pub score: MetricStats,
}

/// The state of a comparison, for colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Won,
    Lost,
    Draw,
    Inconclusive,
    NotEnoughData,
    NoResult,
    SampleRatioMismatch,
}

/// A treatment against the baseline on one metric.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub arm: String,
    pub metric: Metric,
    /// The relative lift (μB − μA)/|μA|.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lift: Option<Effect>,
    /// The absolute difference μB − μA.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub difference: Option<Effect>,
    /// The lift's p-value adjusted for every comparison of the experiment (its treatments
    /// times its metrics) by the experiment's correction: what the state is judged on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adjusted_p_value: Option<f64>,
    /// Whether this is the experiment's primary metric (conversion unless the rule names
    /// another): the headline's; the others are secondary.
    pub primary: bool,
    pub state: State,
    pub verdict: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExperimentResult {
    /// The rule id; `""` for the programme (all personalised experiences against the
    /// universal holdout).
    pub rule: String,
    pub programme: bool,
    /// Whether the active rulebook still runs it.
    pub active: bool,
    pub interval: Interval,
    /// With always-valid intervals, the day they are read from: the experiment's first
    /// exposure, whatever period was asked (a confidence sequence covers a sample that grows
    /// from a fixed start, not a sliding window).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// How the comparisons' p-values are adjusted for their number.
    pub correction: Correction,
    pub arms: Vec<ArmResult>,
    /// Pearson chi-square p-value of the visitors per arm against the weights.
    pub srm_p_value: Option<f64>,
    pub sample_ratio_mismatch: bool,
    pub comparisons: Vec<Comparison>,
    /// How many more visitors (and days) it needs; absent until its baseline has converted
    /// anyone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<Duration>,
    /// The headline: the conversion verdict of the best treatment, or the SRM warning.
    pub verdict: String,
}

/// Per arm and day, for a daily series.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DayArm {
    pub day: String,
    pub arm: String,
    pub visitors: f64,
    pub conversions: f64,
    pub revenue: f64,
}

/// The results of every experiment in `rows` (the arms table over the period), with the
/// designs of the active rulebook for weights and baselines.
pub fn results(rows: &[ArmDay], designs: &[Design], reading: Reading) -> Vec<ExperimentResult> {
    let mut rules: Vec<&str> = Vec::new();
    for row in rows {
        let rule = row.rule.as_str();
        if !rules.contains(&rule) {
            rules.push(rule);
        }
    }
    // Experiments with no visitors yet are listed too.
    for design in designs {
        if !rules.contains(&design.rule.as_str()) {
            rules.push(&design.rule);
        }
    }
    rules
        .into_iter()
        .map(|rule| {
            let design = designs.iter().find(|d| d.rule == rule);
            let mine: Vec<ArmDay> = rows.iter().filter(|r| r.rule == rule).cloned().collect();
            one(rule, &mine, design, reading)
        })
        .collect()
}

/// Every experiment of `book` read from the arms' rows of a period: the one call the API
/// makes for the experiments.
pub fn report(
    book: &rapport_rules::Rulebook,
    rows: &[ArmDay],
    reading: Reading,
) -> Vec<ExperimentResult> {
    results(rows, &Design::of(book), reading)
}

/// One experiment and its daily series.
#[derive(Debug, Clone, Serialize)]
pub struct Detail {
    pub experiment: ExperimentResult,
    pub daily: Vec<DayArm>,
}

/// Experiment `rule` of `book` (or [`PROGRAMME`]) with its daily series: the one call the API
/// makes for one experiment; `None` when neither the book nor the period has it.
pub fn detail(
    book: &rapport_rules::Rulebook,
    rows: &[ArmDay],
    reading: Reading,
    rule: &str,
) -> Option<Detail> {
    let experiment = report(book, rows, reading)
        .into_iter()
        .find(|r| r.rule == rule)?;
    Some(Detail {
        experiment,
        daily: daily(rows, rule),
    })
}

/// The daily series of one experiment.
pub fn daily(rows: &[ArmDay], rule: &str) -> Vec<DayArm> {
    let mut days: Vec<DayArm> = rows
        .iter()
        .filter(|r| r.rule == rule)
        .map(|r| DayArm {
            day: r.day.clone(),
            arm: r.arm.clone(),
            visitors: r.visitors,
            conversions: r.conversions,
            revenue: r.revenue,
        })
        .collect();
    days.sort_by(|a, b| (&a.day, &a.arm).cmp(&(&b.day, &b.arm)));
    days
}

/// An arm as the design gives it, or as the rows name it: its id, its planned share (none
/// for an arm the design does not know), and whether it shows something.
type ArmSpec = (String, Option<f64>, bool);

/// Arms in the design's order, then any the rows name that it does not.
fn arms_of(design: Option<&Design>, sums: &[(String, ArmDay)]) -> Vec<ArmSpec> {
    let mut arms: Vec<ArmSpec> = design
        .map(|d| {
            d.arms
                .iter()
                .map(|(id, w, s)| (id.clone(), Some(*w), *s))
                .collect()
        })
        .unwrap_or_default();
    for (arm, _) in sums {
        if !arms.iter().any(|(id, _, _)| id == arm) {
            let shows = !(arm == "control" || arm == HOLDOUT_ARM);
            arms.push((arm.to_owned(), None, shows));
        }
    }
    arms
}

fn arm_result((id, weight, shows): &ArmSpec, row: &ArmDay, baseline: bool) -> ArmResult {
    let stats_of = |metric: Metric| {
        let m = metric.moments(row);
        MetricStats {
            n: m.n,
            sum: m.sum,
            sum_squares: m.sum_squares,
            mean: (m.n > 0.0).then(|| m.mean()),
        }
    };
    ArmResult {
        arm: id.clone(),
        baseline,
        shows: *shows,
        weight: *weight,
        visitors: row.visitors,
        conversion: stats_of(Metric::Conversion),
        revenue: stats_of(Metric::Revenue),
        clicks: stats_of(Metric::Clicks),
        score: stats_of(Metric::Score),
    }
}

/// The sample-ratio check's p-value, when every arm has a planned share.
fn srm_p_value(arms: &[ArmSpec], results: &[ArmResult]) -> Option<f64> {
    let weights = arms.iter().map(|a| a.1).collect::<Option<Vec<f64>>>()?;
    let visitors: Vec<f64> = results.iter().map(|a| a.visitors).collect();
    stats::sample_ratio_p_value(&visitors, &weights)
}

/// The first day with exposed visitors, for an always-valid reading (read from it on).
fn first_day(rows: &[ArmDay], interval: Interval) -> Option<String> {
    if !matches!(interval, Interval::Sequential { .. }) {
        return None;
    }
    rows.iter()
        .filter(|r| r.visitors > 0.0)
        .map(|r| r.day.as_str())
        .min()
        .map(str::to_owned)
}

/// How long the experiment still needs for its primary metric, at the traffic of the
/// period's days, when every arm has a planned share.
fn planned(
    arms: &[ArmSpec],
    results: &[ArmResult],
    baseline: usize,
    base_row: &ArmDay,
    (primary, minimum_effect): (Metric, f64),
    rows: &[ArmDay],
) -> Option<Duration> {
    if arms.len() < 2 || arms.iter().any(|a| a.1.is_none()) {
        return None;
    }
    let mut days: Vec<&str> = rows.iter().map(|r| r.day.as_str()).collect();
    days.sort_unstable();
    days.dedup();
    let base_share = arms[baseline].1.unwrap_or(0.0);
    let smallest_other = arms
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != baseline)
        .filter_map(|(_, a)| a.1)
        .fold(f64::INFINITY, f64::min);
    let visitors: f64 = results.iter().map(|a| a.visitors).sum();
    let needed = needed_for(
        primary,
        base_row,
        base_share,
        smallest_other,
        minimum_effect,
    )?;
    duration(primary, needed, minimum_effect, visitors, days.len())
}

/// Every treatment against the baseline arm on every metric it can be compared on: one
/// family of comparisons, whose p-values are adjusted together.
fn family<'a, 'r>(
    arms: &'a [ArmSpec],
    baseline: usize,
    row_of: &impl Fn(&str) -> &'r ArmDay,
    interval: Interval,
) -> Vec<(&'a str, Metric, Result<Effect, NoEffect>)> {
    let Some((base, _, base_shows)) = arms.get(baseline) else {
        return Vec::new();
    };
    let mut family = Vec::new();
    for (id, _, shows) in arms.iter().filter(|a| a.0 != *base) {
        for metric in Metric::ALL {
            // Clicks compare only arms that both show something.
            if metric == Metric::Clicks && !(*shows && *base_shows) {
                continue;
            }
            let (a, b) = (row_of(base), row_of(id));
            if metric == Metric::Score && a.answers + b.answers == 0.0 {
                continue;
            }
            let (ma, mb) = (metric.moments(a), metric.moments(b));
            let lift = stats::compare(ma, mb, metric.kind(), Scale::Relative, interval, ALPHA);
            family.push((id.as_str(), metric, lift));
        }
    }
    family
}

fn one(rule: &str, rows: &[ArmDay], design: Option<&Design>, reading: Reading) -> ExperimentResult {
    let Reading {
        interval,
        correction,
        minimum_effect,
    } = reading;
    let sums = sum_by(rows, |r| r.arm.clone());
    let primary = design.map_or(Metric::Conversion, |d| d.primary);
    let arms = arms_of(design, &sums);
    let baseline = arms.iter().position(|(_, _, shows)| !shows).unwrap_or(0);
    let empty = ArmDay::default();
    let row_of = |arm: &str| {
        sums.iter()
            .find(|(id, _)| id == arm)
            .map_or(&empty, |(_, sum)| sum)
    };
    let arm_results: Vec<ArmResult> = arms
        .iter()
        .enumerate()
        .map(|(i, arm)| arm_result(arm, row_of(&arm.0), i == baseline))
        .collect();
    let srm_p_value = srm_p_value(&arms, &arm_results);
    let mismatch = srm_p_value.is_some_and(|p| p < stats::SRM_THRESHOLD);
    let base = arms.get(baseline).map(|a| a.0.clone()).unwrap_or_default();
    let base_row = row_of(&base);
    let family = family(&arms, baseline, &row_of, interval);
    let since = first_day(rows, interval);
    let p_values: Vec<f64> = family
        .iter()
        .filter_map(|(_, _, lift)| lift.as_ref().ok().map(|l| l.p_value))
        .collect();
    let mut adjusted = stats::adjust(&p_values, correction).into_iter();
    let comparisons: Vec<Comparison> = family
        .into_iter()
        .map(|(id, metric, lift)| {
            let adjusted_p = lift.is_ok().then(|| adjusted.next()).flatten();
            let comparison = compare(
                (&base, base_row),
                (id, row_of(id)),
                metric,
                (lift, adjusted_p),
                (interval, since.as_deref()),
                mismatch,
                rule == PROGRAMME,
            );
            Comparison {
                primary: metric == primary,
                ..comparison
            }
        })
        .collect();
    let verdict = if mismatch {
        srm_words(srm_p_value.unwrap_or(0.0))
    } else {
        headline(&comparisons)
    };
    let duration = planned(
        &arms,
        &arm_results,
        baseline,
        base_row,
        (primary, minimum_effect),
        rows,
    );
    ExperimentResult {
        rule: rule.to_owned(),
        programme: rule == PROGRAMME,
        active: design.is_some(),
        interval,
        since,
        correction,
        arms: arm_results,
        srm_p_value,
        sample_ratio_mismatch: mismatch,
        comparisons,
        duration,
        verdict,
    }
}

/// Visitors in all that an experiment needs so that its smallest treatment arm, against the
/// baseline arm (shares `base_share` and `other_share` of the visitors), detects a relative
/// lift of `effect` on a conversion rate of `rate` with 80% power in a two-sided test at 5%
/// (the relative lift's variance by the delta method, as the results compute it), and so
/// that each arm reaches the verdict gate's conversions. `None` for a rate of 0 or 1.
pub fn visitors_needed(rate: f64, base_share: f64, other_share: f64, effect: f64) -> Option<f64> {
    if !(rate > 0.0 && rate < 1.0 && base_share > 0.0 && other_share > 0.0 && effect > 0.0) {
        return None;
    }
    use statrs::distribution::{ContinuousCDF, Normal};
    let normal = Normal::new(0.0, 1.0).ok()?;
    let z = normal.inverse_cdf(1.0 - ALPHA / 2.0) + normal.inverse_cdf(POWER);
    let lifted = (rate * (1.0 + effect)).min(1.0);
    let (var_a, var_b) = (rate * (1.0 - rate), lifted * (1.0 - lifted));
    // Var(lift) = v / N for N visitors in all.
    let v =
        var_b / (rate * rate * other_share) + var_a * lifted * lifted / (rate.powi(4) * base_share);
    let for_power = z * z * v / (effect * effect);
    let for_gate = MIN_EVENTS / (rate * base_share.min(other_share));
    Some(for_power.max(for_gate).ceil())
}

/// Visitors in all that an experiment needs on its primary `metric`, from the baseline
/// arm's figures so far: [`visitors_needed`] for conversion; for a mean, the same power
/// calculation with the baseline's variance in both arms, and the gate's events at the
/// baseline's rate.
fn needed_for(
    metric: Metric,
    base: &ArmDay,
    base_share: f64,
    other_share: f64,
    effect: f64,
) -> Option<f64> {
    let moments = metric.moments(base);
    if metric == Metric::Conversion {
        return visitors_needed(moments.mean(), base_share, other_share, effect);
    }
    let visitors = base.visitors;
    let (mean, variance) = (moments.mean(), moments.variance(Kind::Mean));
    if !(visitors > 0.0 && mean > 0.0 && variance > 0.0 && base_share > 0.0 && other_share > 0.0)
        || effect <= 0.0
    {
        return None;
    }
    use statrs::distribution::{ContinuousCDF, Normal};
    let normal = Normal::new(0.0, 1.0).ok()?;
    let z = normal.inverse_cdf(1.0 - ALPHA / 2.0) + normal.inverse_cdf(POWER);
    let lifted = mean * (1.0 + effect);
    // Var(lift) = v / N units (visitors, or for the score answers) in all.
    let v = variance / (mean * mean * other_share)
        + variance * lifted * lifted / (mean.powi(4) * base_share);
    // The score is measured per answer: answers per visitor turn its units into visitors.
    let per_visitor = moments.n / visitors;
    let for_power = z * z * v / (effect * effect) / per_visitor;
    let events = metric.events(base).0 / visitors;
    let for_gate = if events > 0.0 {
        MIN_EVENTS / (events * base_share.min(other_share))
    } else {
        f64::INFINITY
    };
    let needed = for_power.max(for_gate);
    needed.is_finite().then(|| needed.ceil())
}

fn duration(
    metric: Metric,
    needed: f64,
    effect: f64,
    visitors: f64,
    days: usize,
) -> Option<Duration> {
    let noun = metric.noun();
    let more = (needed - visitors).max(0.0);
    let per_day = (days > 0 && visitors > 0.0).then(|| visitors / days as f64);
    let more_days = per_day.map(|d| (more / d).ceil());
    let lift = percent(effect).trim_start_matches('+').to_owned();
    let words = if more == 0.0 {
        format!(
            "Has the {} visitors it needs to detect a {lift} lift in {noun} with 80% power",
            whole(needed)
        )
    } else {
        let when = match more_days {
            Some(days) => format!(
                " (about {} more day{} at this traffic)",
                whole(days),
                if days == 1.0 { "" } else { "s" }
            ),
            None => String::new(),
        };
        format!(
            "Needs about {} more visitors{when} to detect a {lift} lift in {noun} with 80% power",
            whole(more)
        )
    };
    Some(Duration {
        minimum_effect: effect,
        visitors_needed: needed,
        more_visitors: more,
        more_days,
        words,
    })
}

/// A whole number with thousands separators: `12,400`.
pub(crate) fn whole(x: f64) -> String {
    let digits = format!("{:.0}", x.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn srm_words(p: f64) -> String {
    let p = if p < 0.001 {
        "p < 0.001".to_owned()
    } else {
        format!("p = {p:.3}")
    };
    format!("Sample ratio mismatch: assignment looks broken ({p}); do not trust these results")
}

/// The primary metric's verdict of the treatment with the largest lift, else the first.
fn headline(comparisons: &[Comparison]) -> String {
    let conversion = comparisons.iter().filter(|c| c.primary);
    let best = conversion
        .clone()
        .filter(|c| c.lift.is_some())
        .max_by(|a, b| {
            let lift = |c: &Comparison| c.lift.map_or(f64::MIN, |l| l.estimate);
            lift(a).total_cmp(&lift(b))
        })
        .or_else(|| conversion.clone().next());
    match best {
        Some(c) => c.verdict.clone(),
        None => "No visitors yet".to_owned(),
    }
}

fn name(arm: &str, programme: bool) -> String {
    if programme {
        return match arm {
            PERSONALISED_ARM => "Personalisation".to_owned(),
            HOLDOUT_ARM => "the holdout".to_owned(),
            other => other.to_owned(),
        };
    }
    let mut chars = arm.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A share as a signed percentage: `+12%`, `-4.5%`.
pub fn percent(x: f64) -> String {
    let pct = x * 100.0;
    let text = if pct.abs() >= 10.0 {
        format!("{pct:.0}")
    } else {
        format!("{pct:.1}")
    };
    if pct >= 0.0 && !text.starts_with('-') {
        format!("+{text}%")
    } else {
        format!("{text}%").replacen('-', "\u{2212}", 1)
    }
}

/// One treatment against the baseline on one metric, judged on the lift's adjusted p-value.
/// A lift's state and verdict in words, judged on its adjusted p-value and its interval:
/// `who` against `against`.
fn judge(
    l: &Effect,
    adjusted_p: Option<f64>,
    (interval, since): (Interval, Option<&str>),
    (who, against): (&str, &str),
    metric: Metric,
) -> (State, String) {
    let (verb, better, worse) = metric.words();
    let (low, high) = (percent(l.ci_low), percent(l.ci_high));
    let range = match (interval, since) {
        (Interval::Sequential { .. }, Some(day)) => {
            format!("always-valid 95% interval since the first exposure on {day}: {low} to {high}")
        }
        (Interval::Sequential { .. }, None) => format!("always-valid 95% interval {low} to {high}"),
        (Interval::Fixed, _) => format!("95% interval {low} to {high}"),
    };
    let p = adjusted_p.unwrap_or(l.p_value);
    let significant = p < ALPHA && (l.ci_low > 0.0 || l.ci_high < 0.0);
    let size = percent(l.estimate.abs()).trim_start_matches('+').to_owned();
    if significant && l.estimate.abs() < DRAW_BELOW {
        (
            State::Draw,
            format!("{who} and {against} perform about the same ({range})"),
        )
    } else if significant && l.estimate > 0.0 {
        (
            State::Won,
            format!("{who} {verb} {size} {better} than {against} ({range})"),
        )
    } else if significant {
        (
            State::Lost,
            format!("{who} {verb} {size} {worse} than {against} ({range})"),
        )
    } else {
        (
            State::Inconclusive,
            format!(
                "No clear difference yet between {who} and {against}: {} ({range}, adjusted p = {p:.2})",
                percent(l.estimate)
            ),
        )
    }
}

fn compare(
    (base, a): (&str, &ArmDay),
    (arm, b): (&str, &ArmDay),
    metric: Metric,
    (lift, adjusted_p): (Result<Effect, NoEffect>, Option<f64>),
    (interval, since): (Interval, Option<&str>),
    mismatch: bool,
    programme: bool,
) -> Comparison {
    let (ma, mb) = (metric.moments(a), metric.moments(b));
    let difference = stats::compare(ma, mb, metric.kind(), Scale::Absolute, interval, ALPHA).ok();
    let ((count_a, unit), (count_b, _)) = (metric.events(a), metric.events(b));
    let (fewer, fewest) = if count_a <= count_b {
        (base, count_a)
    } else {
        (arm, count_b)
    };
    let (who, against) = (name(arm, programme), name(base, programme));
    let against = if programme || against.is_empty() {
        against
    } else {
        against.to_lowercase()
    };
    let (state, verdict) = if mismatch {
        (
            State::SampleRatioMismatch,
            "Sample ratio mismatch: do not trust this result".to_owned(),
        )
    } else if fewest < MIN_EVENTS {
        (
            State::NotEnoughData,
            format!(
                "Not enough data yet: {} has {} of the {} {unit} each arm needs",
                name(fewer, programme),
                fewest as u64,
                MIN_EVENTS as u64
            ),
        )
    } else {
        match &lift {
            Err(why) => (
                State::NoResult,
                format!(
                    "No result: {}",
                    match why {
                        NoEffect::ZeroBaseline | NoEffect::ZeroVariance => why.words(),
                    }
                ),
            ),
            Ok(l) => judge(l, adjusted_p, (interval, since), (&who, &against), metric),
        }
    };
    Comparison {
        arm: arm.to_owned(),
        metric,
        lift: lift.ok(),
        difference,
        adjusted_p_value: adjusted_p,
        primary: metric == Metric::Conversion,
        state,
        verdict,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arm(rule: &str, arm: &str, day: &str, visitors: f64, conversions: f64) -> ArmDay {
        ArmDay {
            rule: rule.into(),
            arm: arm.into(),
            day: day.into(),
            visitors,
            conversions,
            revenue: conversions * 40.0,
            revenue_ss: conversions * 1600.0,
            ..ArmDay::default()
        }
    }

    fn design() -> Design {
        Design {
            rule: "welcome".into(),
            arms: vec![
                ("offer".into(), 0.45, true),
                ("story".into(), 0.45, true),
                ("control".into(), 0.10, false),
            ],
            primary: Metric::Conversion,
        }
    }

    /// Two days of the welcome: 20,000 visitors, the 10% control converting at 7.5%, the
    /// offer at 10%.
    fn two_days() -> Vec<ArmDay> {
        vec![
            arm("welcome", "offer", "2026-12-01", 4000.0, 400.0),
            arm("welcome", "offer", "2026-12-02", 5000.0, 500.0),
            arm("welcome", "story", "2026-12-01", 9000.0, 700.0),
            arm("welcome", "control", "2026-12-01", 2000.0, 150.0),
        ]
    }

    #[test]
    fn days_sum_into_arms_and_the_control_is_the_baseline() {
        let rows = two_days();
        let result = &results(&rows, &[design()], Reading::default())[0];
        assert_eq!(result.arms[0].visitors, 9000.0);
        assert_eq!(result.arms[0].conversion.sum, 900.0);
        assert!(result.arms[2].baseline);
        // 9,000 / 9,000 / 2,000 against 45/45/10 is a fair split.
        assert!(!result.sample_ratio_mismatch, "{:?}", result.srm_p_value);
        let offer = result
            .comparisons
            .iter()
            .find(|c| c.arm == "offer" && c.metric == Metric::Conversion)
            .unwrap();
        // 10% against 7.5%: +33.3%.
        let lift = offer.lift.unwrap();
        assert!((lift.estimate - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(offer.state, State::Won, "{}", offer.verdict);
        assert!(offer.primary);
        // Judged on the p-value adjusted for four comparisons (two treatments, conversion and
        // revenue): Holm multiplies the smallest by four.
        let adjusted = offer.adjusted_p_value.unwrap();
        assert!(adjusted > lift.p_value && adjusted < 0.05, "{adjusted}");
        assert!(
            offer
                .verdict
                .starts_with("Offer converts 33% better than control (95% interval +"),
            "{}",
            offer.verdict
        );
        // The control shows nothing, so clicks are not compared with it.
        assert!(!result
            .comparisons
            .iter()
            .any(|c| c.metric == Metric::Clicks));
    }

    #[test]
    fn a_broken_split_and_too_little_data_say_so() {
        let rows = vec![
            arm("welcome", "offer", "2026-12-01", 500.0, 20.0),
            arm("welcome", "story", "2026-12-01", 900.0, 30.0),
            arm("welcome", "control", "2026-12-01", 100.0, 3.0),
        ];
        let result = &results(&rows, &[design()], Reading::default())[0];
        assert!(result.sample_ratio_mismatch);
        assert!(result
            .verdict
            .starts_with("Sample ratio mismatch: assignment looks broken (p < 0.001)"));
        let fair = vec![
            arm("welcome", "offer", "2026-12-01", 450.0, 61.0),
            arm("welcome", "story", "2026-12-01", 450.0, 20.0),
            arm("welcome", "control", "2026-12-01", 100.0, 3.0),
        ];
        let result = &results(&fair, &[design()], Reading::default())[0];
        assert_eq!(result.comparisons[0].state, State::NotEnoughData);
        // The smaller arm's conversions count: 61 in one arm is not enough with 3 in the other.
        assert_eq!(
            result.comparisons[0].verdict,
            "Not enough data yet: Control has 3 of the 150 conversions each arm needs"
        );
    }

    #[test]
    fn an_experiment_without_visitors_is_listed_and_one_left_the_rulebook_keeps_its_rows() {
        let rows = vec![arm("old", "b", "2026-12-01", 10.0, 1.0)];
        let all = results(&rows, &[design()], Reading::default());
        assert_eq!(all.len(), 2);
        assert!(!all[0].active);
        assert_eq!(all[0].srm_p_value, None);
        assert_eq!(all[1].rule, "welcome");
        assert_eq!(
            all[1].verdict,
            "Not enough data yet: Control has 0 of the 150 conversions each arm needs"
        );
    }

    #[test]
    fn a_rule_names_its_primary_metric_and_the_verdict_and_duration_follow_it() {
        // The offer converts as often as the control, but its buyers spend twice as much.
        let rows = vec![
            ArmDay {
                revenue: 54_000.0,
                revenue_ss: 675.0 * 6400.0,
                ..arm("welcome", "offer", "2026-12-01", 9000.0, 675.0)
            },
            arm("welcome", "story", "2026-12-01", 9000.0, 675.0),
            arm("welcome", "control", "2026-12-01", 2000.0, 150.0),
        ];
        let by_revenue = Design {
            primary: Metric::Revenue,
            ..design()
        };
        let result = &results(&rows, &[by_revenue], Reading::default())[0];
        for c in &result.comparisons {
            assert_eq!(c.primary, c.metric == Metric::Revenue, "{c:?}");
        }
        assert!(
            result.verdict.starts_with("Offer brings in "),
            "{}",
            result.verdict
        );
        let duration = result.duration.as_ref().unwrap();
        assert!(
            duration
                .words
                .ends_with("lift in revenue per visitor with 80% power"),
            "{}",
            duration.words
        );
        // Where every buyer spends the same, revenue per visitor is conversion times a
        // constant: it needs about the visitors conversion needs (the formula checked against
        // published values), the small difference being the lifted arm's variance.
        let same = vec![
            arm("welcome", "offer", "2026-12-01", 9000.0, 675.0),
            arm("welcome", "story", "2026-12-01", 9000.0, 675.0),
            arm("welcome", "control", "2026-12-01", 2000.0, 150.0),
        ];
        let result = &results(
            &same,
            &[Design {
                primary: Metric::Revenue,
                ..design()
            }],
            Reading::default(),
        )[0];
        let revenue = result.duration.as_ref().unwrap().visitors_needed;
        let conversion = visitors_needed(0.075, 0.10, 0.45, 0.10).unwrap();
        assert!(
            (revenue / conversion - 1.0).abs() < 0.1,
            "{revenue} against {conversion}"
        );
        assert_eq!(Metric::named("revenue"), Some(Metric::Revenue));
        assert_eq!(Metric::named("profit"), None);
    }

    #[test]
    fn an_experiment_says_how_many_more_visitors_and_days_it_needs() {
        let rows = two_days();
        let result = &results(&rows, &[design()], Reading::default())[0];
        let duration = result.duration.as_ref().unwrap();
        let needed = visitors_needed(0.075, 0.10, 0.45, 0.10).unwrap();
        assert_eq!(duration.visitors_needed, needed);
        assert_eq!(duration.more_visitors, needed - 20_000.0);
        let days = ((needed - 20_000.0) / 10_000.0).ceil();
        assert_eq!(duration.more_days, Some(days));
        assert_eq!(
            duration.words,
            format!(
                "Needs about {} more visitors (about {} more days at this traffic) to detect a 10% lift in conversion with 80% power",
                whole(needed - 20_000.0),
                days
            )
        );
        // A small control needs the most: the same experiment at 50/50 needs fewer visitors.
        assert!(visitors_needed(0.075, 0.5, 0.5, 0.10).unwrap() < needed);
        // With enough visitors, it says so.
        let huge: Vec<ArmDay> = rows
            .iter()
            .map(|r| {
                let scaled = r.visitors * 100.0;
                arm("welcome", &r.arm, &r.day, scaled, r.conversions * 100.0)
            })
            .collect();
        let result = &results(&huge, &[design()], Reading::default())[0];
        assert!(
            result
                .duration
                .as_ref()
                .unwrap()
                .words
                .starts_with("Has the "),
            "{:?}",
            result.duration
        );
        assert_eq!(whole(1_234_567.0), "1,234,567");
    }

    /// Always-valid intervals say the day they are read from: the first with visitors.
    #[test]
    fn a_sequential_reading_says_it_reads_from_the_first_exposure() {
        let rows = vec![
            arm("welcome", "offer", "2026-11-20", 4000.0, 400.0),
            arm("welcome", "offer", "2026-12-02", 5000.0, 500.0),
            arm("welcome", "story", "2026-11-21", 9000.0, 700.0),
            arm("welcome", "control", "2026-11-22", 2000.0, 150.0),
        ];
        let reading = Reading {
            interval: Interval::DEFAULT_SEQUENTIAL,
            ..Reading::default()
        };
        let result = &results(&rows, &[design()], reading)[0];
        assert_eq!(result.since.as_deref(), Some("2026-11-20"));
        let offer = &result.comparisons[0];
        assert!(
            offer
                .verdict
                .contains("(always-valid 95% interval since the first exposure on 2026-11-20: "),
            "{}",
            offer.verdict
        );
        let fixed = &results(&rows, &[design()], Reading::default())[0];
        assert_eq!(fixed.since, None);
    }

    #[test]
    fn percentages_read_naturally() {
        assert_eq!(percent(0.1234), "+12%");
        assert_eq!(percent(0.045), "+4.5%");
        assert_eq!(percent(-0.2), "\u{2212}20%");
        assert_eq!(percent(0.0), "+0.0%");
    }
}
