//! `cargo xtask bench --only analytics`: reading the analytics of 90 days of a shop with 20
//! experiments and 30 segments through the real edge (D1 in workerd). The rows are written
//! into the fresh edge's D1 before it starts (`wrangler d1 execute --local`), with the SQL
//! `rapport_analytics::tables` defines, since 90 days of traffic cannot be replayed in
//! minutes; each endpoint is then read repeatedly, and its latency reported.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use rapport_analytics::tables::{
    AnswerDay, ArmDay, CommentDay, MovementDay, PageDay, Row, SearchDay, SegmentDay, StageDay,
};

use crate::process;

pub const DAYS: usize = 90;
pub const EXPERIMENTS: usize = 20;
pub const SEGMENTS: usize = 30;
/// The fresh benchmark edge's admin token (it serves nothing else).
pub const ADMIN_TOKEN: &str = "bench-admin-token";
/// Reads per endpoint.
const READS: usize = 20;
/// The first day of the period: the 90 days from 2026-09-01 to 2026-11-29.
const FIRST: (i32, u32, u32) = (2026, 9, 1);

fn day(d: usize) -> String {
    let (mut month, mut rest) = (FIRST.1, d as u32);
    let length = |m: u32| match m {
        9 | 11 => 30,
        _ => 31,
    };
    while rest >= length(month) {
        rest -= length(month);
        month += 1;
    }
    format!("{}-{month:02}-{:02}", FIRST.0, rest + 1)
}

/// The SQL of 90 days of aggregates' rows (into the tables the D1 migrations made).
pub fn shop_sql() -> String {
    let mut rows: Vec<Row> = Vec::new();
    let stages = [
        "new", "engaged", "cart", "customer", "repeat", "loyal", "advocate", "at_risk", "lapsed",
    ];
    for d in 0..DAYS {
        let today = day(d);
        for e in 0..EXPERIMENTS {
            let rule = format!("experiment-{e:02}");
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
            let name = if s == 0 {
                String::new()
            } else {
                format!("segment-{s:02}")
            };
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
            for stage in stages {
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
        for (i, stage) in stages.iter().enumerate() {
            let row = StageDay {
                day: today.clone(),
                stage: (*stage).into(),
                visitors: 100.0 * i as f64,
            };
            rows.push(row.into());
            let row = MovementDay {
                day: today.clone(),
                from_stage: (*stage).into(),
                to_stage: stages[(i + 1) % 9].into(),
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
    let mut sql = String::new();
    for row in &rows {
        let _ = writeln!(sql, "{}", row.insert_sql("demo"));
    }
    sql
}

/// Writes the shop's rows into the D1 database of the edge state in `state` (before the edge
/// starts on it).
pub fn load(edge_dir: &Path, wrangler: &Path, state: &Path) -> Result<()> {
    process::step(&format!(
        "writing {DAYS} days of analytics ({EXPERIMENTS} experiments, {SEGMENTS} segments) into D1"
    ));
    let file = state.join("analytics.sql");
    std::fs::write(&file, shop_sql())?;
    process::run(
        Command::new(wrangler)
            .current_dir(edge_dir)
            .args([
                "d1",
                "execute",
                "rapport-reports",
                "--local",
                "-c",
                "wrangler.bench.toml",
                "--yes",
            ])
            .arg("--persist-to")
            .arg(state)
            .arg("--file")
            .arg(&file)
            .env("WRANGLER_SEND_METRICS", "false"),
    )
}

/// Reads every analytics endpoint [`READS`] times; one summary line each.
pub fn read_all(base: &str, token: &str) -> Result<Vec<String>> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let period = format!("site=demo&from={}&to={}", day(0), day(DAYS - 1));
    let mut lines = Vec::new();
    for what in [
        "experiments",
        "experiments/experiment-07",
        "satisfaction",
        "lifecycle",
        "weak-spots",
        "segments",
    ] {
        let url = format!("{base}/v1/admin/analytics/{what}?{period}");
        let mut times = Vec::with_capacity(READS + 1);
        let mut size = 0;
        for i in 0..=READS {
            let started = Instant::now();
            let mut response = agent
                .get(&url)
                .header("authorization", &format!("Bearer {token}"))
                .call()
                .with_context(|| format!("GET {url}"))?;
            let body = response.body_mut().read_to_string()?;
            let status = response.status().as_u16();
            if status != 200 {
                bail!("GET {url} answered {status}: {body}");
            }
            // The first read creates nothing and warms the isolate; it is not counted.
            if i > 0 {
                times.push(started.elapsed().as_secs_f64() * 1000.0);
            }
            size = body.len();
        }
        times.sort_by(f64::total_cmp);
        let p50 = times[times.len() / 2];
        let max = times[times.len() - 1];
        let line = format!(
            "analytics {what}: p50 {p50:.1} ms, max {max:.1} ms over {READS} reads ({} KB answer)",
            size / 1024
        );
        println!("  {line}");
        lines.push(line);
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_period_is_ninety_days_ending_on_the_last_of_november() {
        assert_eq!(day(0), "2026-09-01");
        assert_eq!(day(30), "2026-10-01");
        assert_eq!(day(DAYS - 1), "2026-11-29");
    }
}
