//! `cargo xtask seed [--visitors N] [--days N] [--seed N]`: replays weeks of the demo
//! shop's life through the running demo's HTTP API (`rapport_seed`), with a progress bar, so
//! that a new user's analytics have history. Six weeks of 4,000 visitors by default; what is
//! planted for the analytics to find is in the README ("A demo with history").

use std::path::Path;

use anyhow::{bail, Context, Result};

use crate::demo;

pub fn run(root: &Path, args: &[String]) -> Result<()> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis() as i64;
    // A new prefix per run adds new visitors rather than replaying old ones.
    let run = (now / 1000) as u64;
    let mut plan = rapport_seed::Plan::demo(4_000, run, &format!("seed-{run}"), now);
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut number = |what: &str| -> Result<u64> {
            args.next()
                .with_context(|| format!("{arg} needs {what}"))?
                .parse()
                .with_context(|| format!("{arg} needs {what}"))
        };
        match arg.as_str() {
            "--visitors" => plan.visitors = number("a number of visitors")? as usize,
            "--days" => {
                plan.days = u32::try_from(number("a number of days, 1 to 90")?)
                    .ok()
                    .filter(|d| (1..=90).contains(d))
                    .context("--days is 1 to 90")?
            }
            "--seed" => plan.seed = number("a whole number")?,
            other => bail!("unknown option `{other}` (--visitors N, --days N, --seed N)"),
        }
    }
    let port = demo::port()?;
    let target = rapport_seed::Target {
        base: format!("http://127.0.0.1:{port}"),
        site: "demo".into(),
        server_key: demo::server_key(&root.join("edge/.dev.vars"))?,
        origin: format!("http://127.0.0.1:{port}"),
    };
    println!(
        "replaying {} days of the shop: {} visitors (seed {})",
        plan.days, plan.visitors, plan.seed
    );
    let bar = indicatif::ProgressBar::new(plan.visitors as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} seeding {pos}/{len} visitors [{bar:40}] {per_sec} eta {eta}",
        )?
        .progress_chars("=> "),
    );
    let started = std::time::Instant::now();
    let sent = rapport_seed::run(&target, &plan, |done, _| bar.set_position(done as u64))
        .with_context(|| format!("is the demo running on port {port}? (cargo xtask demo)"))?;
    bar.finish_and_clear();
    println!(
        "seeded {} visitors in {:.0} s: {} visits, {} events, {} purchases, {} returns, \
         {} support tickets, {} survey answers ({} requests).\n\
         The console (http://127.0.0.1:{port}/console/) shows them within about 15 seconds.",
        sent.visitors,
        started.elapsed().as_secs_f64(),
        sent.visits,
        sent.events,
        sent.purchases,
        sent.returns,
        sent.tickets,
        sent.answers,
        sent.requests,
    );
    Ok(())
}
