//! `cargo xtask seed [--visitors N]`: replays realistic shopper journeys through the running
//! demo's HTTP API (`rapport_seed`), with a progress bar, so that a new user's analytics
//! are not empty. The welcome's "story" variant converts 30% better by design.

use std::path::Path;

use anyhow::{bail, Context, Result};

use crate::demo;

pub fn run(root: &Path, args: &[String]) -> Result<()> {
    let mut visitors = 3_000;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--visitors" => {
                visitors = args
                    .next()
                    .context("--visitors needs a number")?
                    .parse()
                    .context("--visitors needs a whole number")?;
            }
            other => bail!("unknown option `{other}`"),
        }
    }
    let port = demo::port()?;
    let target = rapport_seed::Target {
        base: format!("http://127.0.0.1:{port}"),
        site: "demo".into(),
        server_key: demo::server_key(&root.join("edge/.dev.vars"))?,
        origin: format!("http://127.0.0.1:{port}"),
    };
    // A new prefix per run adds new visitors rather than replaying old ones.
    let run = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let plan = rapport_seed::Plan {
        visitors,
        prefix: format!("seed-{run}"),
        seed: run,
        base_conversion: 0.12,
        effect: ("story".into(), 0.3),
        threads: 4,
    };
    let bar = indicatif::ProgressBar::new(visitors as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} seeding {pos}/{len} visitors [{bar:40}] {per_sec} eta {eta}",
        )?
        .progress_chars("=> "),
    );
    let sent = rapport_seed::run(&target, &plan, |done, _| bar.set_position(done as u64))
        .with_context(|| format!("is the demo running on port {port}? (cargo xtask demo)"))?;
    bar.finish_and_clear();
    println!(
        "seeded {} visitors: {} events, {} purchases, {} survey answers.\n\
         The analytics (GET /v1/admin/analytics/experiments?site=demo&from=...&to=...) fill in \
         within a few seconds.",
        sent.visitors, sent.events, sent.purchases, sent.answers
    );
    Ok(())
}
