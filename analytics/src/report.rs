//! The daily report: what one event or purchase adds to its rows ([`ReportDay`]: exposures,
//! impressions, clicks, dismissals, answers and conversions by experience, variant, audience
//! segment and day), and the totals with the rates the console shows. Pure: the edge stores
//! and sums the rows.

use rapport_protocol::{EventData, ExperienceRef, Survey};
use rapport_rules::profile::{Profile, DAY_MS};
use serde::Serialize;

use crate::tables::Aggregate;
pub use crate::tables::ReportDay;

/// How long after seeing an experience a purchase is credited to it.
pub const ATTRIBUTION_DAYS: i64 = 7;

impl ReportDay {
    fn new(r: &ExperienceRef, at_ms: i64) -> ReportDay {
        ReportDay {
            day: day(at_ms),
            experience: r.experience.clone(),
            rule: r.rule.clone(),
            variant: r.variant.clone().unwrap_or_default(),
            segment: r.segment.clone().unwrap_or_else(|| "unknown".to_owned()),
            ..ReportDay::default()
        }
    }
}

/// An experience's (or a variant's) tallies summed over a period, with the rates a marketer
/// reads.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Total {
    #[serde(flatten)]
    pub sums: ReportDay,
    /// Clicks per impression.
    pub click_through_rate: Option<f64>,
    /// Conversions per impression, or per exposure for a control group (never shown
    /// anything).
    pub conversion_rate: Option<f64>,
    /// The mean survey score.
    pub average_answer: Option<f64>,
    /// Promoters minus detractors, per 100 answers, when there are NPS answers.
    pub nps: Option<f64>,
}

/// `part / whole` to four decimals; `None` when there is nothing to divide by.
fn ratio(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| (part as f64 / whole as f64 * 10_000.0).round() / 10_000.0)
}

impl Total {
    fn of(sums: ReportDay) -> Total {
        let reached = if sums.impressions > 0 {
            sums.impressions
        } else {
            sums.exposures
        };
        let nps = ratio(sums.promoters - sums.detractors, sums.answers)
            .filter(|_| sums.promoters + sums.detractors > 0)
            .map(|r| (r * 100.0).round());
        Total {
            click_through_rate: ratio(sums.clicks, sums.impressions),
            conversion_rate: ratio(sums.conversions, reached),
            average_answer: ratio(sums.score_sum, sums.answers),
            nps,
            sums,
        }
    }
}

/// Sums daily rows per experience and variant (over days and segments), in the order each
/// first appears, with their rates.
pub fn totals(rows: &[ReportDay]) -> Vec<Total> {
    let mut sums: Vec<ReportDay> = Vec::new();
    for row in rows {
        let same = |t: &&mut ReportDay| t.experience == row.experience && t.variant == row.variant;
        match sums.iter_mut().find(same) {
            Some(total) => total.add(row),
            None => sums.push(ReportDay {
                day: String::new(),
                segment: String::new(),
                ..row.clone()
            }),
        }
    }
    sums.into_iter().map(Total::of).collect()
}

/// `YYYY-MM-DD` (UTC) of an edge time.
pub fn day(at_ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(at_ms)
        .unwrap_or_default()
        .format("%Y-%m-%d")
        .to_string()
}

/// What a browser event adds to the reports, if anything.
pub fn tally_event(data: &EventData, at_ms: i64) -> Option<ReportDay> {
    let r = match data {
        EventData::Exposure(r) | EventData::Impression(r) | EventData::Dismiss(r) => r,
        EventData::Click(click) => &click.experience,
        EventData::Answer(answer) => &answer.experience,
        _ => return None,
    };
    // The programme's exposures enrol in its arms and are no experience of their own.
    if r.rule == rapport_protocol::PROGRAMME {
        return None;
    }
    let mut tally = ReportDay::new(r, at_ms);
    match data {
        EventData::Exposure(_) => tally.exposures = 1,
        EventData::Impression(_) => tally.impressions = 1,
        EventData::Click(_) => tally.clicks = 1,
        EventData::Dismiss(_) => tally.dismissals = 1,
        EventData::Answer(answer) => {
            tally.answers = 1;
            tally.score_sum = i64::from(answer.score);
            if answer.survey == Survey::Nps {
                tally.promoters = i64::from(answer.score >= 9);
                tally.detractors = i64::from(answer.score <= 6);
            }
        }
        _ => {}
    }
    Some(tally)
}

/// What a purchase of `value` at `at_ms` adds to the reports: a conversion for every
/// experience the visitor saw, or was held out of as a control, in the
/// [`ATTRIBUTION_DAYS`] before.
pub fn tally_conversion(profile: &Profile, value: f64, at_ms: i64) -> Vec<ReportDay> {
    let since = at_ms - ATTRIBUTION_DAYS * DAY_MS;
    profile
        .prompts
        .iter()
        .filter(|(_, h)| {
            h.last_seen_ms
                .max(h.last_exposed_ms)
                .is_some_and(|at| at >= since && at <= at_ms)
        })
        .map(|(experience, h)| {
            let r = ExperienceRef {
                rule: h.rule.clone(),
                experience: experience.clone(),
                variant: h.variant.clone(),
                segment: h.segment.clone(),
            };
            ReportDay {
                conversions: 1,
                revenue: value.max(0.0),
                ..ReportDay::new(&r, at_ms)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tables::{merge, Row, Table};
    use rapport_protocol::{Answer, Event};

    fn r(experience: &str, variant: Option<&str>) -> ExperienceRef {
        ExperienceRef {
            rule: "welcome".into(),
            experience: experience.into(),
            variant: variant.map(str::to_owned),
            segment: Some("first_time".into()),
        }
    }

    const NOV_23: i64 = 1_795_392_000_000; // 2026-11-23T00:00:00Z

    #[test]
    fn days_are_utc() {
        assert_eq!(day(NOV_23), "2026-11-23");
        assert_eq!(day(NOV_23 - 1), "2026-11-22");
    }

    #[test]
    fn events_become_counts() {
        let t = tally_event(
            &EventData::Impression(r("welcome-offer", Some("offer"))),
            NOV_23,
        )
        .unwrap();
        assert_eq!((t.impressions, t.clicks), (1, 0));
        assert_eq!(
            t.key(),
            ["2026-11-23", "welcome-offer", "offer", "first_time"]
        );
        let answer = EventData::Answer(Answer {
            experience: r("nps", None),
            survey: Survey::Nps,
            score: 10,
            comment: None,
        });
        let t = tally_event(&answer, NOV_23).unwrap();
        assert_eq!(
            (t.answers, t.score_sum, t.promoters, t.detractors),
            (1, 10, 1, 0)
        );
        assert!(tally_event(
            &EventData::Scroll(rapport_protocol::Scroll { percent: 50 }),
            NOV_23
        )
        .is_none());
    }

    #[test]
    fn a_purchase_converts_what_was_seen_or_held_out_in_the_last_week() {
        let mut profile = Profile::new("visitor-1");
        let at = |offset_days: i64| NOV_23 - offset_days * DAY_MS;
        let event = |data| Event {
            id: "e".into(),
            session_id: "s1".into(),
            client_ts: None,
            data,
        };
        profile.apply(&event(EventData::Impression(r("old", None))), at(10));
        profile.apply(&event(EventData::Impression(r("recent", None))), at(2));
        profile.apply(
            &event(EventData::Exposure(r("welcome-control", Some("control")))),
            at(1),
        );
        let tallies = tally_conversion(&profile, 80.0, NOV_23);
        let mut seen: Vec<&str> = tallies.iter().map(|t| t.experience.as_str()).collect();
        seen.sort();
        assert_eq!(seen, ["recent", "welcome-control"]);
        assert!(tallies
            .iter()
            .all(|t| t.conversions == 1 && t.revenue == 80.0));
        assert_eq!(tallies[1].variant, "control");
    }

    #[test]
    fn totals_sum_days_and_segments_per_variant_with_their_rates() {
        let row = |day: &str, variant: &str, segment: &str, impressions, clicks| ReportDay {
            day: day.into(),
            experience: "welcome".into(),
            rule: "welcome".into(),
            variant: variant.into(),
            segment: segment.into(),
            impressions,
            clicks,
            ..ReportDay::default()
        };
        let control = ReportDay {
            exposures: 4,
            conversions: 1,
            ..row("2026-11-23", "control", "first_time", 0, 0)
        };
        let survey = ReportDay {
            experience: "nps".into(),
            answers: 4,
            score_sum: 30,
            promoters: 2,
            detractors: 1,
            ..row("2026-11-23", "", "first_time", 4, 0)
        };
        let rows = [
            row("2026-11-23", "story", "first_time", 3, 1),
            row("2026-11-24", "story", "returning", 1, 1),
            control,
            survey,
        ];
        let totals = totals(&rows);
        assert_eq!(totals.len(), 3);
        let story = &totals[0];
        assert_eq!((story.sums.impressions, story.sums.clicks), (4, 2));
        assert_eq!(
            (story.sums.day.as_str(), story.sums.segment.as_str()),
            ("", "")
        );
        assert_eq!(story.click_through_rate, Some(0.5));
        assert_eq!(story.nps, None);
        // A control group converts per exposure, being never shown anything.
        assert_eq!(totals[1].conversion_rate, Some(0.25));
        assert_eq!(totals[2].average_answer, Some(7.5));
        assert_eq!(totals[2].nps, Some(25.0));
    }

    #[test]
    fn every_measure_has_a_column_and_a_value() {
        let tally = ReportDay {
            revenue: 12.5,
            exposures: 3,
            ..ReportDay::default()
        };
        let values = tally.values();
        let measures = Table::Report.measures();
        assert_eq!(values.len(), measures.len());
        let at = |name: &str| measures.iter().position(|(n, _)| *n == name).unwrap();
        assert_eq!(values[at("revenue")], 12.5);
        assert_eq!(values[at("exposures")], 3.0);
        assert_eq!(measures[at("revenue")].1, "REAL");
        assert_eq!(measures[at("clicks")].1, "INTEGER");
    }

    #[test]
    fn merging_sums_rows_with_the_same_key() {
        let impression = EventData::Impression(r("a", None));
        let one = tally_event(&impression, NOV_23).unwrap();
        let other_day = tally_event(&impression, NOV_23 + DAY_MS).unwrap();
        let merged = merge(vec![one.clone().into(), one.into(), other_day.into()]);
        assert_eq!(merged.len(), 2);
        let Row::Report(first) = &merged[0] else {
            panic!("{merged:?}")
        };
        assert_eq!(first.impressions, 2);
    }
}
