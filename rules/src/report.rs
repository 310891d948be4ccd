//! Report tallies: what one event adds to the daily aggregates the marketer console reads
//! (exposures, impressions, clicks, dismissals, answers and conversions by experience,
//! variant, audience segment and day). Pure: the edge stores and sums them.

use rapport_protocol::{EventData, ExperienceRef, Survey};
use serde::{Deserialize, Serialize};

use crate::profile::{Profile, DAY_MS};

/// How long after seeing an experience a purchase is credited to it.
pub const ATTRIBUTION_DAYS: i64 = 7;

/// One row's worth of counts for one (day, experience, variant, segment).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Tally {
    /// UTC day, `YYYY-MM-DD`.
    pub day: String,
    pub experience: String,
    pub rule: String,
    /// Empty when the rule is not an experiment.
    pub variant: String,
    pub segment: String,
    /// Control-group visitors who would have been shown the experiment.
    pub exposures: i64,
    pub impressions: i64,
    pub clicks: i64,
    pub dismissals: i64,
    pub answers: i64,
    pub score_sum: i64,
    /// NPS answers of 9-10 and 0-6.
    pub promoters: i64,
    pub detractors: i64,
    pub conversions: i64,
    pub revenue: f64,
}

impl Tally {
    fn new(r: &ExperienceRef, at_ms: i64) -> Tally {
        Tally {
            day: day(at_ms),
            experience: r.experience.clone(),
            rule: r.rule.clone(),
            variant: r.variant.clone().unwrap_or_default(),
            segment: r.segment.clone().unwrap_or_else(|| "unknown".to_owned()),
            ..Tally::default()
        }
    }

    /// The key rows are summed under.
    pub fn key(&self) -> (&str, &str, &str, &str) {
        (&self.day, &self.experience, &self.variant, &self.segment)
    }

    /// Adds another tally's counts (same key) into this one.
    pub fn add(&mut self, other: &Tally) {
        self.exposures += other.exposures;
        self.impressions += other.impressions;
        self.clicks += other.clicks;
        self.dismissals += other.dismissals;
        self.answers += other.answers;
        self.score_sum += other.score_sum;
        self.promoters += other.promoters;
        self.detractors += other.detractors;
        self.conversions += other.conversions;
        self.revenue += other.revenue;
    }
}

/// `YYYY-MM-DD` (UTC) of an edge time.
pub fn day(at_ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(at_ms)
        .unwrap_or_default()
        .format("%Y-%m-%d")
        .to_string()
}

/// What a browser event adds to the reports, if anything.
pub fn tally_event(data: &EventData, at_ms: i64) -> Option<Tally> {
    let r = match data {
        EventData::Exposure(r)
        | EventData::Impression(r)
        | EventData::Click(r)
        | EventData::Dismiss(r) => r,
        EventData::Answer(answer) => &answer.experience,
        _ => return None,
    };
    let mut tally = Tally::new(r, at_ms);
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
pub fn tally_conversion(profile: &Profile, value: f64, at_ms: i64) -> Vec<Tally> {
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
            Tally {
                conversions: 1,
                revenue: value.max(0.0),
                ..Tally::new(&r, at_ms)
            }
        })
        .collect()
}

/// Sums tallies with the same key, keeping the first-seen order.
pub fn merge(tallies: Vec<Tally>) -> Vec<Tally> {
    let mut merged: Vec<Tally> = Vec::new();
    for tally in tallies {
        match merged.iter_mut().find(|m| m.key() == tally.key()) {
            Some(existing) => existing.add(&tally),
            None => merged.push(tally),
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;
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
            ("2026-11-23", "welcome-offer", "offer", "first_time")
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
    fn merging_sums_rows_with_the_same_key() {
        let impression = EventData::Impression(r("a", None));
        let one = tally_event(&impression, NOV_23).unwrap();
        let other_day = tally_event(&impression, NOV_23 + DAY_MS).unwrap();
        let merged = merge(vec![one.clone(), one, other_day]);
        assert_eq!(merged.len(), 2);
        assert_eq!(merged[0].impressions, 2);
    }
}
