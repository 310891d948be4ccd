//! Satisfaction: NPS (adjusted-Wald interval) and CSAT (Wilson interval), overall and by
//! segment, page kind, experience and lifecycle stage, with a weekly trend and the comments
//! that came with low scores.

use serde::Serialize;

use crate::stats::{self, Estimate};
use crate::tables::{sum_by, Row, Table};

/// One group's answers and scores.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scores {
    /// The group: a segment, page kind, experience, stage, or week (`YYYY-MM-DD`, its Monday).
    pub key: String,
    pub nps_answers: f64,
    pub promoters: f64,
    pub passives: f64,
    pub detractors: f64,
    /// −100 to 100, with its interval.
    pub nps: Option<Estimate>,
    pub csat_answers: f64,
    pub satisfied: f64,
    /// The share of CSAT answers of 4 or 5, with its interval.
    pub csat: Option<Estimate>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comment {
    pub day: String,
    pub survey: String,
    pub score: u8,
    pub experience: String,
    pub page: String,
    pub comment: String,
    /// How many visitors wrote exactly this.
    pub visitors: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Satisfaction {
    pub overall: Scores,
    pub by_segment: Vec<Scores>,
    pub by_page_kind: Vec<Scores>,
    pub by_experience: Vec<Scores>,
    pub by_stage: Vec<Scores>,
    pub weekly: Vec<Scores>,
    /// Newest first, at most [`COMMENT_LIMIT`].
    pub low_score_comments: Vec<Comment>,
}

pub const COMMENT_LIMIT: usize = 50;

/// The Monday (UTC) of a `YYYY-MM-DD` day's ISO week.
pub fn week_of(day: &str) -> String {
    use chrono::{Datelike, NaiveDate};
    match NaiveDate::parse_from_str(day, "%Y-%m-%d") {
        Ok(date) => {
            let monday = date - chrono::Days::new(u64::from(date.weekday().num_days_from_monday()));
            monday.format("%Y-%m-%d").to_string()
        }
        Err(_) => day.to_owned(),
    }
}

/// The scores of rows of one survey pair (NPS and CSAT rows of the same group).
fn scores(key: &str, rows: &[&Row]) -> Scores {
    let sum = |survey: &str, measure: &str| -> f64 {
        rows.iter()
            .filter(|r| r.label("survey") == survey)
            .map(|r| r.get(measure))
            // (An empty sum of floats is −0.0.)
            .fold(0.0, |a, b| a + b)
    };
    let (promoters, passives, detractors) = (
        sum("nps", "promoters"),
        sum("nps", "passives"),
        sum("nps", "detractors"),
    );
    let (csat_answers, satisfied) = (sum("csat", "answers"), sum("csat", "satisfied"));
    Scores {
        key: key.to_owned(),
        nps_answers: sum("nps", "answers"),
        promoters,
        passives,
        detractors,
        nps: stats::nps(promoters, passives, detractors),
        csat_answers,
        satisfied,
        csat: stats::wilson(satisfied, csat_answers),
    }
}

/// Groups rows by a key and scores each group, busiest first.
fn grouped(rows: &[&Row], key: impl Fn(&Row) -> String) -> Vec<Scores> {
    let mut groups: Vec<(String, Vec<&Row>)> = Vec::new();
    let mut at: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for row in rows {
        let k = key(row);
        if k.is_empty() {
            continue;
        }
        match at.get(&k) {
            Some(&i) => groups[i].1.push(row),
            None => {
                at.insert(k.clone(), groups.len());
                groups.push((k, vec![row]));
            }
        }
    }
    let mut scored: Vec<Scores> = groups.iter().map(|(k, mine)| scores(k, mine)).collect();
    scored.sort_by(|a, b| {
        (b.nps_answers + b.csat_answers)
            .total_cmp(&(a.nps_answers + a.csat_answers))
            .then_with(|| a.key.cmp(&b.key))
    });
    scored
}

/// Satisfaction over `answers` (the answers table) and `comments` (the comments table) of a
/// period; with `segment`, only that segment's answers (the breakdowns by page kind,
/// experience and stage are then empty: answers are stored by segment or by those, not both).
pub fn satisfaction(answers: &[Row], comments: &[Row], segment: Option<&str>) -> Satisfaction {
    let site: Vec<&Row> = answers
        .iter()
        .filter(|r| r.table == Table::Answers && r.label("segment").is_empty())
        .collect();
    let in_segments: Vec<&Row> = answers
        .iter()
        .filter(|r| r.table == Table::Answers && !r.label("segment").is_empty())
        .collect();
    let base: Vec<&Row> = match segment {
        Some(s) => in_segments
            .iter()
            .copied()
            .filter(|r| r.label("segment") == s)
            .collect(),
        None => site.clone(),
    };
    let weeks = {
        let mut weeks = grouped(&base, |r| week_of(r.label("day")));
        weeks.sort_by(|a, b| a.key.cmp(&b.key));
        weeks
    };
    let breakdown = |label: &'static str| -> Vec<Scores> {
        if segment.is_some() {
            return Vec::new();
        }
        grouped(&site, |r| r.label(label).to_owned())
    };
    let mut low: Vec<Comment> = sum_by(
        comments,
        &["day", "survey", "score", "experience", "page", "comment"],
    )
    .into_iter()
    .filter(|r| r.table == Table::Comments)
    .map(|r| Comment {
        day: r.label("day").to_owned(),
        survey: r.label("survey").to_owned(),
        score: r.label("score").parse().unwrap_or(0),
        experience: r.label("experience").to_owned(),
        page: r.label("page").to_owned(),
        comment: r.label("comment").to_owned(),
        visitors: r.get("visitors"),
    })
    .collect();
    low.sort_by(|a, b| b.day.cmp(&a.day).then(a.score.cmp(&b.score)));
    low.truncate(COMMENT_LIMIT);
    Satisfaction {
        overall: scores(segment.unwrap_or(""), &base),
        by_segment: if segment.is_some() {
            Vec::new()
        } else {
            grouped(&in_segments, |r| r.label("segment").to_owned())
        },
        by_page_kind: breakdown("page_kind"),
        by_experience: breakdown("experience"),
        by_stage: breakdown("stage"),
        weekly: weeks,
        low_score_comments: low,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nps_row(day: &str, segment: &str, kind: &str, p: f64, pa: f64, d: f64) -> Row {
        Row::new(
            Table::Answers,
            &[day, "nps", segment, kind, "nps-survey", "customer"],
        )
        .with("answers", p + pa + d)
        .with("promoters", p)
        .with("passives", pa)
        .with("detractors", d)
    }

    #[test]
    fn nps_and_csat_are_grouped_with_their_intervals() {
        let csat = Row::new(
            Table::Answers,
            &["2026-11-30", "csat", "", "checkout", "csat", "cart"],
        )
        .with("answers", 100.0)
        .with("satisfied", 60.0);
        let rows = vec![
            nps_row("2026-11-30", "", "home", 30.0, 20.0, 10.0),
            nps_row("2026-12-02", "", "product", 20.0, 10.0, 10.0),
            nps_row("2026-12-02", "vip", "", 5.0, 0.0, 0.0),
            csat,
        ];
        let s = satisfaction(&rows, &[], None);
        // 50 / 30 / 20: NPS 30, interval 14.05 to 44.20.
        let nps = s.overall.nps.unwrap();
        assert_eq!(nps.value, 30.0);
        assert!((nps.ci_low - 14.05).abs() < 0.01 && (nps.ci_high - 44.20).abs() < 0.01);
        assert_eq!(s.overall.csat.unwrap().value, 0.6);
        assert_eq!(s.by_segment.len(), 1);
        assert_eq!(s.by_segment[0].key, "vip");
        assert_eq!(
            s.by_page_kind
                .iter()
                .map(|g| g.key.as_str())
                .collect::<Vec<_>>(),
            ["checkout", "home", "product"]
        );
        // 2026-11-30 is a Monday; 2026-12-02 is in the same week.
        assert_eq!(s.weekly.len(), 1);
        assert_eq!(s.weekly[0].key, "2026-11-30");
        let vip = satisfaction(&rows, &[], Some("vip"));
        assert_eq!(vip.overall.promoters, 5.0);
        assert!(vip.by_page_kind.is_empty());
    }

    #[test]
    fn weeks_start_on_monday() {
        assert_eq!(week_of("2026-12-06"), "2026-11-30");
        assert_eq!(week_of("2026-12-07"), "2026-12-07");
    }
}
