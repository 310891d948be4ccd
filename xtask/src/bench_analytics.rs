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
use rapport_analytics::bench_shop::{self, day, DAYS, EXPERIMENTS, SEGMENTS};

use crate::process;

/// The fresh benchmark edge's admin token (it serves nothing else).
pub const ADMIN_TOKEN: &str = "bench-admin-token";
/// Reads per endpoint.
const READS: usize = 20;
/// The SQL of the benchmark shop's rows (into the tables the D1 migrations made).
pub fn shop_sql() -> String {
    let mut sql = String::new();
    for row in &bench_shop::rows() {
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
