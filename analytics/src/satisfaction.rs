//! Satisfaction: NPS (adjusted-Wald interval) with its promoters, passives and detractors,
//! and CSAT (Wilson interval), overall and by segment, page kind, experience and lifecycle
//! stage, with a weekly trend; how many of the surveys shown were answered; and the comments
//! that came with low scores, grouped by page and by experience.

use serde::Serialize;

use crate::report::ReportDay;
use crate::stats::{self, Estimate};
use crate::tables::{combine, total, AnswerDay, CommentDay};

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

/// How one survey was answered: of the times it was shown (its impressions in the daily
/// report), how many got an answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Response {
    pub experience: String,
    /// `nps` or `csat`.
    pub survey: String,
    pub shown: f64,
    pub answers: f64,
    /// Answers per survey shown, with its Wilson interval; none before it was shown.
    pub rate: Option<Estimate>,
}

/// The low-score comments about one page or one experience.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CommentGroup {
    pub key: String,
    /// Visitors who left a low score with a comment here.
    pub comments: f64,
    /// The newest few, newest first.
    pub latest: Vec<Comment>,
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
    /// Every survey of the rulebook, the most shown first (empty for one segment: the report
    /// counts impressions by the rule's audience, not by the visitor's segments).
    pub responses: Vec<Response>,
    /// All surveys together.
    pub response_rate: Option<Estimate>,
    /// The low-score comments grouped by page path and by experience, most commented first.
    pub comments_by_page: Vec<CommentGroup>,
    pub comments_by_experience: Vec<CommentGroup>,
}

pub const COMMENT_LIMIT: usize = 50;
/// The examples each comment group keeps.
pub const GROUP_EXAMPLES: usize = 3;

/// Satisfaction of a period for the rulebook `book`, the one call the API makes: from the
/// answers and comments tables and the daily report's `tallies` (for the surveys shown).
pub fn analyse(
    book: &rapport_rules::Rulebook,
    answers: &[AnswerDay],
    comments: &[CommentDay],
    tallies: &[ReportDay],
    segment: Option<&str>,
) -> Satisfaction {
    let mut result = satisfaction(answers, comments, segment);
    if segment.is_none() {
        let surveys = surveys_of(book);
        result.responses = responses(&surveys, answers, tallies);
        let (shown, answered) = result.responses.iter().fold((0.0, 0.0), |(s, a), r| {
            (s + r.shown, a + r.answers.min(r.shown))
        });
        result.response_rate = stats::wilson(answered, shown);
    }
    result
}

/// The rulebook's surveys: each experience of kind `nps` or `csat`, with its kind.
fn surveys_of(book: &rapport_rules::Rulebook) -> Vec<(String, &'static str)> {
    use rapport_protocol::ExperienceKind;
    let mut surveys = Vec::new();
    for rule in book.outline().rules {
        for e in rule.experiences {
            let survey = match e.kind {
                Some(ExperienceKind::Nps) => "nps",
                Some(ExperienceKind::Csat) => "csat",
                _ => continue,
            };
            if let Some(id) = e.id {
                if !surveys.iter().any(|(s, _): &(String, &str)| *s == id) {
                    surveys.push((id, survey));
                }
            }
        }
    }
    surveys
}

/// Each survey's answers (from the site's answers rows) against its impressions.
fn responses(
    surveys: &[(String, &'static str)],
    answers: &[AnswerDay],
    tallies: &[ReportDay],
) -> Vec<Response> {
    let mut out: Vec<Response> = surveys
        .iter()
        .map(|(experience, survey)| {
            let shown: f64 = tallies
                .iter()
                .filter(|t| t.experience == *experience)
                .map(|t| t.impressions as f64)
                // (An empty sum of floats is −0.0.)
                .fold(0.0, |a, b| a + b);
            let answered: f64 = answers
                .iter()
                .filter(|r| r.segment.is_empty() && r.experience == *experience)
                .map(|r| r.answers)
                .fold(0.0, |a, b| a + b);
            Response {
                experience: experience.clone(),
                survey: (*survey).to_owned(),
                shown,
                answers: answered,
                // A preview's answer is not among the impressions: never above one in one.
                rate: stats::wilson(answered.min(shown), shown),
            }
        })
        .collect();
    out.sort_by(|a, b| {
        b.shown
            .total_cmp(&a.shown)
            .then_with(|| a.experience.cmp(&b.experience))
    });
    out
}

/// Comments grouped by `key`, most commented first, each with its newest examples.
fn comment_groups(comments: &[Comment], key: impl Fn(&Comment) -> &str) -> Vec<CommentGroup> {
    let mut groups: Vec<CommentGroup> = Vec::new();
    // Newest first, so that each group's examples are its newest.
    for comment in comments {
        let k = key(comment);
        if k.is_empty() {
            continue;
        }
        let at = match groups.iter().position(|g| g.key == k) {
            Some(at) => at,
            None => {
                groups.push(CommentGroup {
                    key: k.to_owned(),
                    comments: 0.0,
                    latest: Vec::new(),
                });
                groups.len() - 1
            }
        };
        let group = &mut groups[at];
        group.comments += comment.visitors;
        if group.latest.len() < GROUP_EXAMPLES {
            group.latest.push(comment.clone());
        }
    }
    groups.sort_by(|a, b| {
        b.comments
            .total_cmp(&a.comments)
            .then_with(|| a.key.cmp(&b.key))
    });
    groups
}

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
fn scores(key: &str, rows: &[&AnswerDay]) -> Scores {
    let of = |survey: &str| total(rows.iter().copied().filter(|r| r.survey == survey));
    let (nps, csat) = (of("nps"), of("csat"));
    let (promoters, passives, detractors) = (nps.promoters, nps.passives, nps.detractors);
    let (csat_answers, satisfied) = (csat.answers, csat.satisfied);
    Scores {
        key: key.to_owned(),
        nps_answers: nps.answers,
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
fn grouped(rows: &[&AnswerDay], key: impl Fn(&AnswerDay) -> String) -> Vec<Scores> {
    let mut groups: Vec<(String, Vec<&AnswerDay>)> = Vec::new();
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
pub fn satisfaction(
    answers: &[AnswerDay],
    comments: &[CommentDay],
    segment: Option<&str>,
) -> Satisfaction {
    let site: Vec<&AnswerDay> = answers.iter().filter(|r| r.segment.is_empty()).collect();
    let in_segments: Vec<&AnswerDay> = answers.iter().filter(|r| !r.segment.is_empty()).collect();
    let base: Vec<&AnswerDay> = match segment {
        Some(s) => in_segments
            .iter()
            .copied()
            .filter(|r| r.segment == s)
            .collect(),
        None => site.clone(),
    };
    let weeks = {
        let mut weeks = grouped(&base, |r| week_of(&r.day));
        weeks.sort_by(|a, b| a.key.cmp(&b.key));
        weeks
    };
    let breakdown = |label: fn(&AnswerDay) -> &str| -> Vec<Scores> {
        if segment.is_some() {
            return Vec::new();
        }
        grouped(&site, |r| label(r).to_owned())
    };
    let mut low: Vec<Comment> = combine(comments.iter().cloned())
        .into_iter()
        .map(|r| Comment {
            score: r.score.parse().unwrap_or(0),
            day: r.day,
            survey: r.survey,
            experience: r.experience,
            page: r.page,
            comment: r.comment,
            visitors: r.visitors,
        })
        .collect();
    low.sort_by(|a, b| b.day.cmp(&a.day).then(a.score.cmp(&b.score)));
    let comments_by_page = comment_groups(&low, |c| &c.page);
    let comments_by_experience = comment_groups(&low, |c| &c.experience);
    low.truncate(COMMENT_LIMIT);
    Satisfaction {
        overall: scores(segment.unwrap_or(""), &base),
        by_segment: if segment.is_some() {
            Vec::new()
        } else {
            grouped(&in_segments, |r| r.segment.clone())
        },
        by_page_kind: breakdown(|r| &r.page_kind),
        by_experience: breakdown(|r| &r.experience),
        by_stage: breakdown(|r| &r.stage),
        weekly: weeks,
        low_score_comments: low,
        responses: Vec::new(),
        response_rate: None,
        comments_by_page,
        comments_by_experience,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answered(day: &str, survey: &str, segment: &str, kind: &str) -> AnswerDay {
        AnswerDay {
            day: day.into(),
            survey: survey.into(),
            segment: segment.into(),
            page_kind: kind.into(),
            ..AnswerDay::default()
        }
    }

    fn nps_row(day: &str, segment: &str, kind: &str, p: f64, pa: f64, d: f64) -> AnswerDay {
        AnswerDay {
            experience: "nps-survey".into(),
            stage: "customer".into(),
            answers: p + pa + d,
            promoters: p,
            passives: pa,
            detractors: d,
            ..answered(day, "nps", segment, kind)
        }
    }

    #[test]
    fn nps_and_csat_are_grouped_with_their_intervals() {
        let csat = AnswerDay {
            experience: "csat".into(),
            stage: "cart".into(),
            answers: 100.0,
            satisfied: 60.0,
            ..answered("2026-11-30", "csat", "", "checkout")
        };
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

    fn comment(day: &str, page: &str, experience: &str, text: &str, visitors: f64) -> CommentDay {
        CommentDay {
            day: day.into(),
            survey: "nps".into(),
            score: "3".into(),
            experience: experience.into(),
            page: page.into(),
            comment: text.into(),
            visitors,
        }
    }

    #[test]
    fn low_score_comments_are_grouped_by_page_and_experience_with_their_newest() {
        let comments = [
            comment("2026-12-01", "/checkout", "nps-survey", "slow", 2.0),
            comment("2026-12-02", "/checkout", "nps-survey", "too slow", 1.0),
            comment("2026-12-03", "/checkout", "exit-nps", "lost my cart", 1.0),
            comment("2026-12-04", "/checkout", "nps-survey", "still slow", 1.0),
            comment("2026-12-02", "/", "nps-survey", "ugly", 1.0),
        ];
        let s = satisfaction(&[], &comments, None);
        let pages: Vec<(&str, f64)> = s
            .comments_by_page
            .iter()
            .map(|g| (g.key.as_str(), g.comments))
            .collect();
        assert_eq!(pages, [("/checkout", 5.0), ("/", 1.0)]);
        let newest: Vec<&str> = s.comments_by_page[0]
            .latest
            .iter()
            .map(|c| c.comment.as_str())
            .collect();
        assert_eq!(newest, ["still slow", "lost my cart", "too slow"]);
        let experiences: Vec<(&str, f64)> = s
            .comments_by_experience
            .iter()
            .map(|g| (g.key.as_str(), g.comments))
            .collect();
        assert_eq!(experiences, [("nps-survey", 5.0), ("exit-nps", 1.0)]);
    }

    #[test]
    fn each_survey_is_answered_out_of_the_times_it_was_shown() {
        use rapport_rules::{Rulebook, SourceFile};
        let book = Rulebook::compile(&[SourceFile::new(
            "surveys.rhai",
            r#"rule("nps", #{ priority: 1, show: #{ id: "nps-survey", kind: "nps",
                content: #{ en: #{ body: "How likely?" } } } });
            rule("csat", #{ priority: 2, page: "checkout", show: #{ id: "checkout-csat", kind: "csat",
                content: #{ en: #{ body: "How was it?" } } } });
            rule("bar", #{ priority: 3, show: #{ kind: "bar", content: #{ en: #{ body: "Hi" } } } });"#,
        )])
        .unwrap();
        let shown = |experience: &str, impressions: i64| ReportDay {
            experience: experience.into(),
            impressions,
            ..ReportDay::default()
        };
        let tallies = [
            shown("nps-survey", 60),
            shown("nps-survey", 40),
            shown("bar", 500),
        ];
        let answers = [
            nps_row("2026-12-01", "", "home", 10.0, 10.0, 10.0),
            // The same answers counted by segment are not answers again.
            nps_row("2026-12-01", "vip", "", 10.0, 10.0, 10.0),
        ];
        let s = analyse(&book, &answers, &[], &tallies, None);
        let nps = &s.responses[0];
        assert_eq!(
            (nps.experience.as_str(), nps.shown, nps.answers),
            ("nps-survey", 100.0, 30.0)
        );
        // Wilson's 95% interval for 30 of 100: 21.89% to 39.58% (Newcombe, 1998).
        let rate = nps.rate.unwrap();
        assert!((rate.value - 0.30).abs() < 1e-9);
        assert!((rate.ci_low - 0.2189).abs() < 1e-4 && (rate.ci_high - 0.3958).abs() < 1e-4);
        // The CSAT survey was never shown: listed, with no rate; the bar is no survey.
        assert_eq!(s.responses.len(), 2);
        assert_eq!(s.responses[1].experience, "checkout-csat");
        assert_eq!(s.responses[1].rate, None);
        assert_eq!(s.response_rate.unwrap().value, 0.3);
        // For one segment there is no rate: the report counts impressions by audience.
        assert!(analyse(&book, &answers, &[], &tallies, Some("vip"))
            .responses
            .is_empty());
    }

    #[test]
    fn weeks_start_on_monday() {
        assert_eq!(week_of("2026-12-06"), "2026-11-30");
        assert_eq!(week_of("2026-12-07"), "2026-12-07");
    }
}
