//! Segments that need attention: for every segment, its visitor-days, conversion rate and
//! NPS with their intervals and trend, against the rest of the site; a segment significantly
//! below the rest, or getting worse, is flagged in plain words, with the rules that target
//! it and how each of them performs.
//!
//! The unit is the visitor-day: a visitor counts once per UTC day they were decided for, in
//! every segment they were in that day, and that day converts when a purchase is reported
//! before their next visiting day.

use serde::Serialize;

use crate::experiments::{percent, ExperimentResult, Metric};
use crate::stats::{self, Estimate};
use crate::tables::{sum_by, Row, Table};

/// Below this p-value a difference is flagged.
pub const FLAG_P: f64 = 0.05;
/// Fewer NPS answers than this are not judged.
const MIN_ANSWERS: f64 = 10.0;

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

impl Figures {
    fn of(visitors: f64, converters: f64, revenue: f64, p: f64, pa: f64, d: f64) -> Figures {
        Figures {
            visitor_days: visitors,
            converting_days: converters,
            conversion_rate: stats::wilson(converters, visitors),
            revenue,
            revenue_per_visitor_day: (visitors > 0.0).then(|| revenue / visitors),
            nps_answers: p + pa + d,
            nps: stats::nps(p, pa, d),
        }
    }

    fn from_row(row: &Row) -> Figures {
        Figures::of(
            row.get("visitors"),
            row.get("converters"),
            row.get("revenue"),
            row.get("promoters"),
            row.get("passives"),
            row.get("detractors"),
        )
    }

    /// `self` less `part`: the rest of the site outside a segment.
    fn minus(&self, part: &Row, site: &Row) -> Figures {
        let d = |m: &str| (site.get(m) - part.get(m)).max(0.0);
        Figures::of(
            d("visitors"),
            d("converters"),
            d("revenue"),
            d("promoters"),
            d("passives"),
            d("detractors"),
        )
    }
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
    /// The first and second half of the period.
    pub first_half: Figures,
    pub second_half: Figures,
    /// Two-sided p-value of the segment's conversion rate against the rest's.
    pub conversion_vs_rest_p_value: Option<f64>,
    /// Two-sided p-value of the second half's conversion rate against the first's.
    pub trend_p_value: Option<f64>,
    pub needs_attention: bool,
    /// Why, in plain words.
    pub flags: Vec<String>,
    pub rules: Vec<RulePerformance>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Segments {
    /// The whole site over the period.
    pub whole_site: Figures,
    /// Segments that need attention first, then the busiest.
    pub segments: Vec<SegmentResult>,
}

/// The segments of the period `from..=to` (`YYYY-MM-DD`), from the segments table's rows;
/// `targets` gives, per segment name, the rules that target it; `rules` how each performs.
pub fn segments(
    rows: &[Row],
    from: &str,
    to: &str,
    targets: &[(String, Vec<String>)],
    rules: &[RulePerformance],
) -> Segments {
    let rows: Vec<Row> = rows
        .iter()
        .filter(|r| r.table == Table::Segments)
        .cloned()
        .collect();
    let middle = middle_day(from, to);
    let (first, second): (Vec<Row>, Vec<Row>) = rows
        .iter()
        .cloned()
        .partition(|r| r.label("day") <= middle.as_str());
    let totals = sum_by(&rows, &["segment"]);
    let halves = (sum_by(&first, &["segment"]), sum_by(&second, &["segment"]));
    let empty = Row::new(Table::Segments, &["", ""]);
    let find = |sums: &[Row], name: &str| -> Row {
        sums.iter()
            .find(|r| r.label("segment") == name)
            .cloned()
            .unwrap_or_else(|| empty.clone())
    };
    let site_row = find(&totals, "");
    let site = Figures::from_row(&site_row);
    let mut names: Vec<String> = totals
        .iter()
        .map(|r| r.label("segment").to_owned())
        .filter(|s| !s.is_empty())
        .collect();
    for (name, _) in targets {
        if !names.contains(name) {
            names.push(name.clone());
        }
    }
    let mut results: Vec<SegmentResult> = names
        .into_iter()
        .map(|name| {
            let row = find(&totals, &name);
            let figures = Figures::from_row(&row);
            let rest = site.minus(&row, &site_row);
            let first_half = Figures::from_row(&find(&halves.0, &name));
            let second_half = Figures::from_row(&find(&halves.1, &name));
            let vs_rest = stats::proportions_differ(
                figures.converting_days,
                figures.visitor_days,
                rest.converting_days,
                rest.visitor_days,
            );
            let trend = stats::proportions_differ(
                second_half.converting_days,
                second_half.visitor_days,
                first_half.converting_days,
                first_half.visitor_days,
            );
            let flags = flags(
                &name,
                &figures,
                &rest,
                &first_half,
                &second_half,
                vs_rest,
                trend,
            );
            let targeting: Vec<RulePerformance> = targets
                .iter()
                .find(|(segment, _)| *segment == name)
                .map(|(_, ids)| {
                    ids.iter()
                        .map(|id| {
                            rules.iter().find(|r| r.rule == *id).cloned().unwrap_or(
                                RulePerformance {
                                    rule: id.clone(),
                                    impressions: 0.0,
                                    clicks: 0.0,
                                    click_through_rate: None,
                                    verdict: None,
                                },
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            SegmentResult {
                segment: name,
                needs_attention: !flags.is_empty(),
                figures,
                rest,
                first_half,
                second_half,
                conversion_vs_rest_p_value: vs_rest,
                trend_p_value: trend,
                flags,
                rules: targeting,
            }
        })
        .collect();
    results.sort_by(|a, b| {
        b.needs_attention
            .cmp(&a.needs_attention)
            .then_with(|| b.figures.visitor_days.total_cmp(&a.figures.visitor_days))
            .then_with(|| a.segment.cmp(&b.segment))
    });
    Segments {
        whole_site: site,
        segments: results,
    }
}

fn rate(e: &Option<Estimate>) -> f64 {
    e.map_or(0.0, |e| e.value)
}

fn p_text(p: f64) -> String {
    if p < 0.001 {
        "p < 0.001".to_owned()
    } else {
        format!("p = {p:.3}")
    }
}

fn share(x: f64) -> String {
    percent(x).trim_start_matches('+').to_owned()
}

fn flags(
    name: &str,
    segment: &Figures,
    rest: &Figures,
    first: &Figures,
    second: &Figures,
    vs_rest: Option<f64>,
    trend: Option<f64>,
) -> Vec<String> {
    let mut flags = Vec::new();
    if let (Some(p), Some(c)) = (vs_rest, segment.conversion_rate) {
        if p < FLAG_P && c.value < rate(&rest.conversion_rate) {
            flags.push(format!(
                "\"{name}\" converts at {} (interval {} to {}), below the rest of the site's {} ({})",
                share(c.value),
                share(c.ci_low),
                share(c.ci_high),
                share(rate(&rest.conversion_rate)),
                p_text(p)
            ));
        }
    }
    if let (Some(p), Some(before), Some(after)) =
        (trend, first.conversion_rate, second.conversion_rate)
    {
        if p < FLAG_P && after.value < before.value {
            flags.push(format!(
                "\"{name}\" is getting worse: conversion fell from {} to {} between the first and second half of the period ({})",
                share(before.value),
                share(after.value),
                p_text(p)
            ));
        }
    }
    if let (Some(nps), Some(other)) = (segment.nps, rest.nps) {
        if segment.nps_answers >= MIN_ANSWERS && nps.ci_high < other.value {
            flags.push(format!(
                "\"{name}\" gives an NPS of {:.0} (interval {:.0} to {:.0}), below the rest of the site's {:.0}",
                nps.value, nps.ci_low, nps.ci_high, other.value
            ));
        }
    }
    if let (Some(before), Some(after)) = (first.nps, second.nps) {
        if second.nps_answers >= MIN_ANSWERS
            && first.nps_answers >= MIN_ANSWERS
            && after.ci_high < before.value
        {
            flags.push(format!(
                "\"{name}\"'s NPS is falling: {:.0} in the first half of the period, {:.0} (interval {:.0} to {:.0}) in the second",
                before.value, after.value, after.ci_low, after.ci_high
            ));
        }
    }
    flags
}

/// The last day of the period's first half.
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
    totals: &[rapport_rules::report::Total],
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

    fn row(day: &str, segment: &str, visitors: f64, converters: f64) -> Row {
        Row::new(Table::Segments, &[day, segment])
            .with("visitors", visitors)
            .with("converters", converters)
    }

    #[test]
    fn a_segment_below_the_rest_and_one_getting_worse_are_flagged() {
        let rows = vec![
            row("2026-12-01", "", 2000.0, 100.0),
            row("2026-12-04", "", 2000.0, 100.0),
            // 2% against the rest's 5.3%.
            row("2026-12-01", "returning", 250.0, 5.0),
            row("2026-12-04", "returning", 250.0, 5.0),
            // 8% then 2%.
            row("2026-12-01", "vip", 300.0, 24.0),
            row("2026-12-04", "vip", 300.0, 6.0),
            row("2026-12-01", "first_time", 400.0, 20.0),
            row("2026-12-04", "first_time", 400.0, 21.0),
        ];
        let targets = vec![("returning".to_owned(), vec!["win-back".to_owned()])];
        let perf = vec![RulePerformance {
            rule: "win-back".into(),
            impressions: 100.0,
            clicks: 7.0,
            click_through_rate: stats::wilson(7.0, 100.0),
            verdict: None,
        }];
        let s = segments(&rows, "2026-12-01", "2026-12-06", &targets, &perf);
        assert_eq!(s.whole_site.visitor_days, 4000.0);
        let by = |name: &str| s.segments.iter().find(|r| r.segment == name).unwrap();
        let returning = by("returning");
        assert!(returning.needs_attention);
        assert!(
            returning.flags[0].starts_with("\"returning\" converts at 2.0% (interval"),
            "{:?}",
            returning.flags
        );
        assert_eq!(returning.rest.visitor_days, 3500.0);
        assert_eq!(returning.rules[0].impressions, 100.0);
        let vip = by("vip");
        assert!(
            vip.flags
                .iter()
                .any(|f| f.contains("getting worse: conversion fell from 8.0% to 2.0%")),
            "{:?}",
            vip.flags
        );
        assert!(
            !by("first_time").needs_attention,
            "{:?}",
            by("first_time").flags
        );
        // Flagged segments come first.
        assert!(s.segments[0].needs_attention && s.segments[1].needs_attention);
        assert!(!s.segments[2].needs_attention);
    }

    #[test]
    fn the_period_splits_at_its_middle() {
        assert_eq!(middle_day("2026-12-01", "2026-12-06"), "2026-12-03");
        assert_eq!(middle_day("2026-12-01", "2026-12-07"), "2026-12-04");
        assert_eq!(middle_day("2026-12-01", "2026-12-01"), "2026-12-01");
    }
}
