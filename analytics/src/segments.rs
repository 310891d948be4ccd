//! Segments that need attention: for every segment, its visitor-days, conversion rate and
//! NPS with their intervals and trend, against the rest of the site. Four checks per segment
//! (conversion against the rest, conversion's trend, NPS against the rest, NPS's trend), each
//! taking both sides' uncertainty and each with a minimum sample; the false discovery rate is
//! controlled across every segment and every check (Benjamini–Hochberg). A flag says in words
//! what is wrong, by how much, over how many visitor-days, and which rules target the segment;
//! flags are ranked by what they are worth.
//!
//! The unit is the visitor-day: a visitor counts once per UTC day they were decided for, in
//! every segment they were in that day, and that day converts when a purchase is reported
//! within the attribution window and before their next visiting day. One visitor's days are
//! not independent: conversion's variance is clustered by visitor (their days in one ISO
//! week are a cluster). Conversion is judged only over days whose attribution window has
//! closed, so that late purchases do not make recent days look worse.

use serde::Serialize;

use crate::experiments::{percent, whole as count, ExperimentResult, Metric};
use crate::report::{ReportDay, Total};
use crate::stats::{self, ClusteredRate, Correction, Difference, Estimate};
use crate::tables::{sum_by, Aggregate, ArmDay, SegmentDay};

/// The false discovery rate the flags are held to, across every segment and every check.
pub const FALSE_DISCOVERY_RATE: f64 = 0.10;
/// Each side of a conversion check needs this many visitor-days, from this many visitors.
pub const MIN_VISITOR_DAYS: f64 = 200.0;
pub const MIN_CLUSTERS: f64 = 30.0;
/// Each side of an NPS check needs this many answers.
pub const MIN_ANSWERS: f64 = 30.0;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figures {
    pub visitor_days: f64,
    pub converting_days: f64,
    pub conversion_rate: Option<Estimate>,
    pub revenue: f64,
    pub revenue_per_visitor_day: Option<f64>,
    pub nps_answers: f64,
    pub nps: Option<Estimate>,
}

/// A segment's (or a half's, or the rest's) sums: its rows of the segments table summed.
type Sums = SegmentDay;

impl SegmentDay {
    fn nps_answers(&self) -> f64 {
        self.promoters + self.passives + self.detractors
    }

    fn figures(&self) -> Figures {
        Figures {
            visitor_days: self.visitors,
            converting_days: self.converters,
            conversion_rate: stats::wilson(self.converters, self.visitors),
            revenue: self.revenue,
            revenue_per_visitor_day: (self.visitors > 0.0).then(|| self.revenue / self.visitors),
            nps_answers: self.nps_answers(),
            nps: stats::nps(self.promoters, self.passives, self.detractors),
        }
    }

    /// The conversion rate and its clustered variance, given the minimum sample.
    fn conversion(&self) -> Option<(f64, f64)> {
        if self.visitors < MIN_VISITOR_DAYS || self.clusters < MIN_CLUSTERS {
            return None;
        }
        ClusteredRate {
            n: self.visitors,
            y: self.converters,
            clusters: self.clusters,
            n_ss: self.days_ss,
            y_ss: self.converting_ss,
            cross: self.cross,
        }
        .rate_and_variance()
    }

    /// The NPS and its variance, given the minimum sample.
    fn nps(&self) -> Option<(f64, f64)> {
        if self.nps_answers() < MIN_ANSWERS {
            return None;
        }
        stats::nps_and_variance(self.promoters, self.passives, self.detractors)
    }
}

/// What a check compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckKind {
    /// The segment's conversion rate against the rest of the site's, over matured days.
    Conversion,
    /// The second half of the matured days against the first.
    ConversionTrend,
    /// The segment's NPS against the rest of the site's.
    Nps,
    /// The second half of the period against the first.
    NpsTrend,
}

/// One check of one segment that had the sample to be judged.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    pub check: CheckKind,
    /// The segment's visitor-days (conversion) or answers (NPS) judged; both halves' for a
    /// trend.
    pub sample: f64,
    /// The segment's (or the later half's) value, and what it is compared with: rates from 0
    /// to 1, or NPS points.
    pub value: f64,
    pub against: f64,
    /// `value − against`, its 95% interval, and the one-sided p-value that it is below 0.
    pub difference: Difference,
    /// `p_below` adjusted (Benjamini–Hochberg) over every check of every segment.
    pub adjusted_p_value: f64,
    pub flagged: bool,
}

/// How a rule that targets a segment performs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RulePerformance {
    pub rule: String,
    pub impressions: f64,
    pub clicks: f64,
    pub click_through_rate: Option<Estimate>,
    /// For an experiment, its conversion verdict.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdict: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SegmentResult {
    pub segment: String,
    #[serde(flatten)]
    pub figures: Figures,
    /// The rest of the site over the same period.
    pub rest: Figures,
    /// The first and second half of the matured days (those the trend compares).
    pub first_half: Figures,
    pub second_half: Figures,
    /// The checks the segment had the sample for.
    pub checks: Vec<Check>,
    pub needs_attention: bool,
    /// What is wrong, in plain words, the worst first.
    pub flags: Vec<String>,
    /// What its flags are worth: the visitor-days affected times the gap (in conversion, or
    /// in NPS points over 100); the ranking's key.
    pub worth: f64,
    pub rules: Vec<RulePerformance>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Segments {
    /// The whole site over the period.
    pub whole_site: Figures,
    /// The last day whose attribution window has closed, if the period has one: conversion
    /// is judged up to it.
    pub matured_to: Option<String>,
    pub attribution_days: u32,
    /// How the flags are held to account, in words.
    pub method: String,
    pub false_discovery_rate: f64,
    /// How many checks had the sample to be judged, over every segment.
    pub checks_judged: usize,
    /// Segments that need attention first, the most worth first; then the busiest.
    pub segments: Vec<SegmentResult>,
}

/// What the segments analysis of a period reads: the segments table's rows, the
/// experiments' arms and the daily report's tallies of the period.
#[derive(Debug, Clone, Copy)]
pub struct Sources<'a> {
    pub segments: &'a [SegmentDay],
    pub arms: &'a [ArmDay],
    pub tallies: &'a [ReportDay],
}

/// The segments analysis, the one call the API makes: every segment of `book` against the
/// rest of the site over `from`..=`to`, with the rules that target it and how they did
/// (their impressions, their experiments' verdicts); only segment `only` when given, and
/// `None` when `only` names no segment of the book or the period.
pub fn analyse(
    book: &rapport_rules::Rulebook,
    sources: &Sources<'_>,
    from: &str,
    to: &str,
    only: Option<&str>,
) -> Option<Segments> {
    let mut targets: Vec<(String, Vec<String>)> = book
        .segment_names()
        .map(|name| (name.to_owned(), Vec::new()))
        .collect();
    for rule in book.rules() {
        for segment in rule.segments {
            if let Some((_, ids)) = targets.iter_mut().find(|(name, _)| name == segment) {
                ids.push(rule.id.to_owned());
            }
        }
    }
    let totals = crate::report::totals(sources.tallies);
    let results =
        crate::experiments::report(book, sources.arms, crate::experiments::Reading::default());
    let period = Period {
        from,
        to,
        attribution_days: book.settings().attribution_days,
    };
    let performance = rule_performance(&totals, &results);
    let mut result = segments(sources.segments, &period, &targets, &performance);
    if let Some(only) = only {
        result.segments.retain(|s| s.segment == only);
        if result.segments.is_empty() {
            return None;
        }
    }
    Some(result)
}

/// The period's segments and how they are judged.
#[derive(Debug, Clone, Copy)]
pub struct Period<'a> {
    /// `YYYY-MM-DD`, inclusive.
    pub from: &'a str,
    pub to: &'a str,
    /// The window within which a purchase converts a day.
    pub attribution_days: u32,
}

/// The segments of `period`, from the segments table's rows; `targets` gives, per segment
/// name, the rules that target it; `rules` how each performs.
pub fn segments(
    rows: &[SegmentDay],
    period: &Period<'_>,
    targets: &[(String, Vec<String>)],
    rules: &[RulePerformance],
) -> Segments {
    let sums = BySegment::of(rows, period);
    let mut names: Vec<String> = sums
        .all
        .iter()
        .map(|(segment, _)| segment.clone())
        .filter(|s| !s.is_empty())
        .collect();
    for (name, _) in targets {
        if !names.contains(name) {
            names.push(name.clone());
        }
    }
    let mut results: Vec<SegmentResult> = names
        .into_iter()
        .map(|name| SegmentResult {
            rules: targeting(&name, targets, rules),
            ..sums.judged(name)
        })
        .collect();
    let checks_judged = flag(&mut results);
    results.sort_by(|a, b| {
        b.needs_attention
            .cmp(&a.needs_attention)
            .then_with(|| b.worth.total_cmp(&a.worth))
            .then_with(|| b.figures.visitor_days.total_cmp(&a.figures.visitor_days))
            .then_with(|| a.segment.cmp(&b.segment))
    });
    Segments {
        whole_site: sums.find(&sums.all, "").figures(),
        method: format!(
            "{checks_judged} checks judged (conversion against the rest of the site and its trend, \
             over days whose {}-day attribution window has closed, with each visitor's days as \
             one cluster; NPS against the rest and its trend); Benjamini–Hochberg holds the share \
             of false flags to {:.0}% across every segment and check",
            period.attribution_days,
            FALSE_DISCOVERY_RATE * 100.0
        ),
        matured_to: sums.matured_to,
        attribution_days: period.attribution_days,
        false_discovery_rate: FALSE_DISCOVERY_RATE,
        checks_judged,
        segments: results,
    }
}

/// The segments table's rows of a period summed by segment: over every day and its halves
/// (for NPS), and over the matured days and their halves (for conversion, whose window has
/// closed).
struct BySegment {
    matured_to: Option<String>,
    all: PerSegment,
    halves: (PerSegment, PerSegment),
    matured: PerSegment,
    matured_halves: (PerSegment, PerSegment),
}

/// Each segment's name (`""`: the site) with the sums of its rows.
type PerSegment = Vec<(String, SegmentDay)>;

impl BySegment {
    fn of(rows: &[SegmentDay], period: &Period<'_>) -> BySegment {
        let matured_to = matured_to(period);
        let matured: Vec<&SegmentDay> = rows
            .iter()
            .filter(|r| matured_to.as_deref().is_some_and(|m| r.day.as_str() <= m))
            .collect();
        let by_segment = |rows: &[&SegmentDay]| sum_by(rows.iter().copied(), |r| r.segment.clone());
        let halves = |rows: &[&SegmentDay], last: &str| {
            let middle = middle_day(period.from, last);
            let (first, second): (Vec<&SegmentDay>, Vec<&SegmentDay>) =
                rows.iter().partition(|r| r.day <= middle);
            (by_segment(&first), by_segment(&second))
        };
        let rows: Vec<&SegmentDay> = rows.iter().collect();
        BySegment {
            all: by_segment(&rows),
            halves: halves(&rows, period.to),
            matured: by_segment(&matured),
            matured_halves: halves(&matured, matured_to.as_deref().unwrap_or(period.from)),
            matured_to,
        }
    }

    fn find(&self, sums: &PerSegment, name: &str) -> Sums {
        sums.iter()
            .find(|(segment, _)| segment == name)
            .map(|(_, sum)| sum.clone())
            .unwrap_or_default()
    }

    /// Segment `name`'s figures and its four checks against the rest of the site and its
    /// own earlier half, not yet corrected for their number.
    fn judged(&self, name: String) -> SegmentResult {
        let all = self.find(&self.all, &name);
        let rest = self.find(&self.all, "").remainder(&all);
        let matured = self.find(&self.matured, &name);
        let matured_rest = self.find(&self.matured, "").remainder(&matured);
        let before = self.find(&self.matured_halves.0, &name);
        let after = self.find(&self.matured_halves.1, &name);
        let nps_before = self.find(&self.halves.0, &name);
        let nps_after = self.find(&self.halves.1, &name);
        let mut checks = Vec::new();
        let mut judge = |check, sample, a: Option<(f64, f64)>, b: Option<(f64, f64)>| {
            if let (Some((value, var_a)), Some((against, var_b))) = (a, b) {
                if let Some(difference) = stats::difference(value, var_a, against, var_b) {
                    checks.push(Check {
                        check,
                        sample,
                        value,
                        against,
                        difference,
                        adjusted_p_value: 1.0,
                        flagged: false,
                    });
                }
            }
        };
        let conversion_sample = matured.visitors;
        judge(
            CheckKind::Conversion,
            conversion_sample,
            matured.conversion(),
            matured_rest.conversion(),
        );
        judge(
            CheckKind::ConversionTrend,
            before.visitors + after.visitors,
            after.conversion(),
            before.conversion(),
        );
        judge(CheckKind::Nps, all.nps_answers(), all.nps(), rest.nps());
        judge(
            CheckKind::NpsTrend,
            nps_before.nps_answers() + nps_after.nps_answers(),
            nps_after.nps(),
            nps_before.nps(),
        );
        SegmentResult {
            rules: Vec::new(),
            segment: name,
            figures: all.figures(),
            rest: rest.figures(),
            first_half: before.figures(),
            second_half: after.figures(),
            checks,
            needs_attention: false,
            flags: Vec::new(),
            worth: 0.0,
        }
    }
}

/// One correction over every check of every segment; the checks that stand are flagged,
/// in words, ranked by what they are worth (the days they concern times the gap). Gives
/// how many checks were judged.
fn flag(results: &mut [SegmentResult]) -> usize {
    let p_values: Vec<f64> = results
        .iter()
        .flat_map(|s| s.checks.iter().map(|c| c.difference.p_below))
        .collect();
    let mut adjusted = stats::adjust(&p_values, Correction::BenjaminiHochberg).into_iter();
    for result in results.iter_mut() {
        let mut flags: Vec<(f64, String)> = Vec::new();
        for check in &mut result.checks {
            check.adjusted_p_value = adjusted.next().unwrap_or(1.0);
            check.flagged = check.adjusted_p_value <= FALSE_DISCOVERY_RATE;
            if check.flagged {
                let days = match check.check {
                    CheckKind::ConversionTrend => result.second_half.visitor_days,
                    CheckKind::Conversion | CheckKind::Nps | CheckKind::NpsTrend => {
                        result.figures.visitor_days
                    }
                };
                let gap = match check.check {
                    CheckKind::Conversion | CheckKind::ConversionTrend => {
                        -check.difference.estimate
                    }
                    CheckKind::Nps | CheckKind::NpsTrend => -check.difference.estimate / 100.0,
                };
                flags.push((days * gap, sentence(&result.segment, check, &result.rules)));
            }
        }
        flags.sort_by(|a, b| b.0.total_cmp(&a.0));
        result.worth = flags.first().map_or(0.0, |f| f.0);
        result.needs_attention = !flags.is_empty();
        result.flags = flags.into_iter().map(|(_, text)| text).collect();
    }
    p_values.len()
}

/// The rules that target `name`, with how each performs.
fn targeting(
    name: &str,
    targets: &[(String, Vec<String>)],
    rules: &[RulePerformance],
) -> Vec<RulePerformance> {
    targets
        .iter()
        .find(|(segment, _)| segment == name)
        .map(|(_, ids)| {
            ids.iter()
                .map(|id| {
                    rules
                        .iter()
                        .find(|r| r.rule == *id)
                        .cloned()
                        .unwrap_or(RulePerformance {
                            rule: id.clone(),
                            impressions: 0.0,
                            clicks: 0.0,
                            click_through_rate: None,
                            verdict: None,
                        })
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A signed number with one decimal and a true minus sign.
fn signed(x: f64, decimals: usize) -> String {
    let text = format!("{x:+.decimals$}");
    text.replacen('-', "\u{2212}", 1)
}

/// What a flagged check means, in words: what, by how much, with its interval, over how
/// much data, and which rules target the segment.
fn sentence(name: &str, check: &Check, rules: &[RulePerformance]) -> String {
    let d = &check.difference;
    // Conversion in points of percentage with a decimal, NPS in whole points.
    let (scale, decimals) = match check.check {
        CheckKind::Conversion | CheckKind::ConversionTrend => (100.0, 1),
        CheckKind::Nps | CheckKind::NpsTrend => (1.0, 0),
    };
    let gap = format!("{:.decimals$}", -d.estimate * scale);
    let interval = format!(
        "{} to {}",
        signed(d.ci_low * scale, decimals),
        signed(d.ci_high * scale, decimals)
    );
    let n = count(check.sample);
    let what = match check.check {
        CheckKind::Conversion => format!(
            "\"{name}\" converts {gap} points less than the rest of the site ({interval}), over {n} matured visitor-days"
        ),
        CheckKind::ConversionTrend => format!(
            "\"{name}\" is getting worse: it converts {gap} points less in the second half of the matured days than in the first ({interval}), over {n} visitor-days"
        ),
        CheckKind::Nps => format!(
            "\"{name}\" gives an NPS {gap} points below the rest of the site's ({interval}), from {n} answers"
        ),
        CheckKind::NpsTrend => format!(
            "\"{name}\"'s NPS fell {gap} points from the first half of the period to the second ({interval}), from {n} answers"
        ),
    };
    let who = if rules.is_empty() {
        "no rule targets it".to_owned()
    } else {
        let named: Vec<String> = rules
            .iter()
            .map(|r| {
                let ctr = r
                    .click_through_rate
                    .map(|c| {
                        format!(
                            ", {} click-through",
                            percent(c.value).trim_start_matches('+')
                        )
                    })
                    .unwrap_or_default();
                let verdict = r
                    .verdict
                    .as_ref()
                    .map(|v| format!("; {v}"))
                    .unwrap_or_default();
                format!(
                    "{} ({} impressions{ctr}{verdict})",
                    r.rule,
                    count(r.impressions)
                )
            })
            .collect();
        format!("rules that target it: {}", named.join(", "))
    };
    format!("{what}; {who}.")
}

/// The last day of `period` whose attribution window has closed: `to` less the window.
fn matured_to(period: &Period<'_>) -> Option<String> {
    use chrono::NaiveDate;
    let parse = |d: &str| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok();
    let (from, to) = (parse(period.from)?, parse(period.to)?);
    let last = to.checked_sub_days(chrono::Days::new(u64::from(period.attribution_days)))?;
    (last >= from).then(|| last.format("%Y-%m-%d").to_string())
}

/// The last day of the first half of `from..=to`.
fn middle_day(from: &str, to: &str) -> String {
    use chrono::NaiveDate;
    let parse = |d: &str| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok();
    match (parse(from), parse(to)) {
        (Some(a), Some(b)) if b >= a => {
            let half = (b - a).num_days() / 2;
            // An odd number of days gives the first half the middle day.
            let middle = a + chrono::Days::new(u64::try_from(half).unwrap_or(0));
            middle.format("%Y-%m-%d").to_string()
        }
        _ => from.to_owned(),
    }
}

/// How each rule performs over the period: impressions and clicks from the report totals,
/// and for experiments the conversion verdict.
pub fn rule_performance(
    totals: &[Total],
    experiments: &[ExperimentResult],
) -> Vec<RulePerformance> {
    let mut rules: Vec<RulePerformance> = Vec::new();
    for total in totals {
        let rule = &total.sums.rule;
        let entry = match rules.iter_mut().find(|r| r.rule == *rule) {
            Some(entry) => entry,
            None => {
                rules.push(RulePerformance {
                    rule: rule.clone(),
                    impressions: 0.0,
                    clicks: 0.0,
                    click_through_rate: None,
                    verdict: None,
                });
                rules.last_mut().expect("pushed")
            }
        };
        entry.impressions += total.sums.impressions as f64;
        entry.clicks += total.sums.clicks as f64;
    }
    for entry in &mut rules {
        entry.click_through_rate = stats::wilson(entry.clicks, entry.impressions);
        entry.verdict = experiments.iter().find(|e| e.rule == entry.rule).map(|e| {
            e.comparisons
                .iter()
                .find(|c| c.metric == Metric::Conversion)
                .map_or_else(|| e.verdict.clone(), |c| c.verdict.clone())
        });
    }
    rules
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A day's row of `visitors` one-day visitors (each its own cluster), `converters` of
    /// whom convert, with NPS answers.
    fn row(day: &str, segment: &str, visitors: f64, converters: f64, nps: [f64; 3]) -> SegmentDay {
        SegmentDay {
            day: day.into(),
            segment: segment.into(),
            visitors,
            converters,
            clusters: visitors,
            days_ss: visitors,
            converting_ss: converters,
            cross: converters,
            promoters: nps[0],
            passives: nps[1],
            detractors: nps[2],
            ..SegmentDay::default()
        }
    }

    const PERIOD: Period<'static> = Period {
        from: "2026-11-01",
        to: "2026-11-30",
        attribution_days: 7,
    };

    #[test]
    fn a_segment_below_the_rest_and_one_getting_worse_are_flagged_in_words() {
        let none = [0.0; 3];
        let mut rows = Vec::new();
        for day in ["2026-11-02", "2026-11-20", "2026-11-28"] {
            rows.push(row(day, "", 4000.0, 200.0, [60.0, 20.0, 20.0]));
            // 2% against the rest's 5.6%.
            rows.push(row(day, "returning", 500.0, 10.0, none));
            rows.push(row(day, "first_time", 800.0, 41.0, none));
            // NPS −40 against the rest's about 46.
            rows.push(row(day, "vip", 300.0, 15.0, [10.0, 10.0, 30.0]));
        }
        // 8% in the first half, 2% in the second: the 28th is not matured and not judged.
        rows.push(row("2026-11-05", "trending", 600.0, 48.0, none));
        rows.push(row("2026-11-20", "trending", 600.0, 12.0, none));
        let targets = vec![("returning".to_owned(), vec!["win-back".to_owned()])];
        let perf = vec![RulePerformance {
            rule: "win-back".into(),
            impressions: 1200.0,
            clicks: 84.0,
            click_through_rate: stats::wilson(84.0, 1200.0),
            verdict: None,
        }];
        let s = segments(&rows, &PERIOD, &targets, &perf);
        assert_eq!(s.matured_to.as_deref(), Some("2026-11-23"));
        assert_eq!(s.whole_site.visitor_days, 12_000.0);
        let by = |name: &str| s.segments.iter().find(|r| r.segment == name).unwrap();
        let returning = by("returning");
        assert!(returning.needs_attention, "{:?}", returning.checks);
        assert!(
            returning.flags[0].starts_with("\"returning\" converts 3.4 points less than the rest of the site (\u{2212}4.4 to \u{2212}2.4)"),
            "{:?}",
            returning.flags
        );
        assert!(
            returning.flags[0].ends_with(
                "over 1,000 matured visitor-days; rules that target it: win-back (1,200 impressions, 7.0% click-through)."
            ),
            "{:?}",
            returning.flags
        );
        assert!(by("trending").flags[0].starts_with(
            "\"trending\" is getting worse: it converts 6.0 points less in the second half"
        ));
        assert!(by("vip")
            .flags
            .iter()
            .any(|f| f.contains("gives an NPS") && f.ends_with("; no rule targets it.")));
        assert!(
            !by("first_time").needs_attention,
            "{:?}",
            by("first_time").checks
        );
        // Ranked by worth, the visitor-days affected times the gap: the returning visitors'
        // 3.4 points over their 1,500 visitor-days is worth about 51 converting days.
        assert!(
            (returning.worth - 0.0343 * 1500.0).abs() < 0.5,
            "{}",
            returning.worth
        );
        let flagged: Vec<f64> = s
            .segments
            .iter()
            .take_while(|r| r.needs_attention)
            .map(|r| r.worth)
            .collect();
        assert_eq!(flagged.len(), 3);
        assert!(flagged.windows(2).all(|w| w[0] >= w[1]), "{flagged:?}");
        assert!(s.checks_judged >= 8);
    }

    #[test]
    fn small_samples_and_unmatured_days_are_not_judged() {
        // A week that ends today: nothing has matured.
        let week = Period {
            from: "2026-11-24",
            to: "2026-11-30",
            attribution_days: 7,
        };
        let rows = vec![
            row("2026-11-29", "", 5000.0, 100.0, [0.0; 3]),
            row("2026-11-29", "returning", 1000.0, 0.0, [0.0; 3]),
        ];
        let s = segments(&rows, &week, &[], &[]);
        assert_eq!(s.matured_to, None);
        assert_eq!(s.checks_judged, 0);
        assert!(!s.segments[0].needs_attention);
        // 150 visitor-days are too few for a conversion check, 20 answers for NPS.
        let rows = vec![
            row("2026-11-02", "", 5000.0, 250.0, [100.0, 50.0, 50.0]),
            row("2026-11-02", "tiny", 150.0, 0.0, [0.0, 0.0, 20.0]),
        ];
        let s = segments(&rows, &PERIOD, &[], &[]);
        assert_eq!(s.checks_judged, 0);
    }

    #[test]
    fn the_period_splits_at_its_middle_and_matures_after_the_window() {
        assert_eq!(middle_day("2026-12-01", "2026-12-06"), "2026-12-03");
        assert_eq!(middle_day("2026-12-01", "2026-12-07"), "2026-12-04");
        assert_eq!(middle_day("2026-12-01", "2026-12-01"), "2026-12-01");
        assert_eq!(matured_to(&PERIOD).as_deref(), Some("2026-11-23"));
        assert_eq!(count(4200.0), "4,200");
        assert_eq!(count(1_234_567.0), "1,234,567");
        assert_eq!(signed(-3.04, 1), "\u{2212}3.0");
    }
}
