//! A shop's 90 days of aggregate rows for the benchmarks: 20 experiments of three arms, 30
//! segments, answers by segment and by page kind and stage, the lifecycle, 50 pages, 20
//! searches and a comment a day. The analyses alone (`cargo bench -p rapport-analytics`) and
//! the reads through the edge (`cargo xtask bench --only analytics`) take the same rows.

use crate::tables::{
    AnswerDay, ArmDay, CommentDay, MovementDay, PageDay, Row, SearchDay, SegmentDay, StageDay,
};

pub const DAYS: usize = 90;
pub const EXPERIMENTS: usize = 20;
pub const SEGMENTS: usize = 30;
/// The lifecycle stages, in funnel order.
pub const STAGES: [&str; 9] = [
    "new", "engaged", "cart", "customer", "repeat", "loyal", "advocate", "at_risk", "lapsed",
];

/// Day `d` of the period, from 2026-09-01 (the 90 days end on 2026-11-29).
pub fn day(d: usize) -> String {
    let (mut month, mut rest) = (9, d);
    let length = |m: usize| match m {
        9 | 11 => 30,
        _ => 31,
    };
    while rest >= length(month) {
        rest -= length(month);
        month += 1;
    }
    format!("2026-{month:02}-{:02}", rest + 1)
}

/// Experiment `e`'s rule; its arms are `a` and `b` (45% each) and `control` (10%).
pub fn experiment(e: usize) -> String {
    format!("experiment-{e:02}")
}

/// Every row of the 90 days.
pub fn rows() -> Vec<Row> {
    let mut rows: Vec<Row> = Vec::new();
    for d in 0..DAYS {
        let today = day(d);
        for e in 0..EXPERIMENTS {
            let rule = experiment(e);
            for (arm, n) in [("a", 450.0), ("b", 450.0), ("control", 100.0)] {
                let c = (n * 0.05_f64).round();
                let row = ArmDay {
                    rule: rule.clone(),
                    arm: arm.into(),
                    day: today.clone(),
                    visitors: n,
                    conversions: c,
                    revenue: c * 60.0,
                    revenue_ss: c * 4000.0,
                    clicks: n * 0.1,
                    clicks_ss: n * 0.12,
                    ..ArmDay::default()
                };
                rows.push(row.into());
            }
        }
        for s in 0..=SEGMENTS {
            let name = segment(s);
            let row = SegmentDay {
                day: today.clone(),
                segment: name.clone(),
                visitors: 1000.0,
                converters: 30.0 + s as f64,
                revenue: 2000.0,
                answers: 18.0,
                promoters: 10.0,
                passives: 5.0,
                detractors: 3.0,
                clusters: 700.0,
                days_ss: 1600.0,
                converting_ss: 45.0 + s as f64,
                cross: 60.0 + s as f64,
            };
            rows.push(row.into());
            if s > 0 {
                let row = AnswerDay {
                    day: today.clone(),
                    survey: "nps".into(),
                    segment: name,
                    answers: 18.0,
                    promoters: 10.0,
                    passives: 5.0,
                    detractors: 3.0,
                    score: 150.0,
                    ..AnswerDay::default()
                };
                rows.push(row.into());
            }
        }
        for kind in ["home", "product", "cart", "search", "checkout"] {
            for stage in STAGES {
                let row = AnswerDay {
                    day: today.clone(),
                    survey: "nps".into(),
                    page_kind: kind.into(),
                    experience: "nps-survey".into(),
                    stage: stage.into(),
                    answers: 4.0,
                    promoters: 2.0,
                    passives: 1.0,
                    detractors: 1.0,
                    score: 30.0,
                    ..AnswerDay::default()
                };
                rows.push(row.into());
            }
        }
        for (i, stage) in STAGES.iter().enumerate() {
            let row = StageDay {
                day: today.clone(),
                stage: (*stage).into(),
                visitors: 100.0 * i as f64,
            };
            rows.push(row.into());
            let row = MovementDay {
                day: today.clone(),
                from_stage: (*stage).into(),
                to_stage: STAGES[(i + 1) % STAGES.len()].into(),
                visitors: 7.0,
            };
            rows.push(row.into());
        }
        for p in 0..50 {
            let row = PageDay {
                day: today.clone(),
                path: format!("/products/p{p}"),
                kind: "product".into(),
                views: 300.0,
                landings: 100.0,
                quick_exits: p as f64,
                rage_clicks: (p % 7) as f64,
                detractors: 1.0,
            };
            rows.push(row.into());
        }
        for q in 0..20 {
            let row = SearchDay {
                day: today.clone(),
                query: format!("query {q}"),
                searches: 3.0,
                total: 3.0 + q as f64 * 5.0,
            };
            rows.push(row.into());
        }
        let row = CommentDay {
            day: today.clone(),
            survey: "nps".into(),
            score: "3".into(),
            experience: "nps-survey".into(),
            page: "/cart".into(),
            comment: "Too slow".into(),
            visitors: 1.0,
        };
        rows.push(row.into());
    }
    rows
}

/// The name of segment `s` (from 1; 0 is the whole site, `""`).
pub fn segment(s: usize) -> String {
    if s == 0 {
        String::new()
    } else {
        format!("segment-{s:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_days_run_from_september_to_the_end_of_november() {
        assert_eq!(day(0), "2026-09-01");
        assert_eq!(day(30), "2026-10-01");
        assert_eq!(day(DAYS - 1), "2026-11-29");
    }
}
