//! `cargo xtask`: Rapport's build automation, in Rust instead of shell scripts.
//!
//! - `cargo xtask build`: installs what is missing, builds the widget and the edge for wasm32
//!   and assembles the site the edge serves (`target/site/`).
//! - `cargo xtask demo`: builds, then runs the edge in workerd on http://127.0.0.1:8787
//!   (`RAPPORT_PORT` overrides the port) with local persistent state.
//! - `cargo xtask publish [DIR]`: publishes a rulebook folder to the running demo.
//! - `cargo xtask seed [--visitors N] [--days N] [--seed N]`: replays weeks of shop life
//!   through the running demo.
//! - `cargo xtask bench`: load against the edge in workerd (decide and events), with
//!   throughput and p50/p99 latency; `cargo bench -p rapport-rules` has the engine's own.
//! - `cargo xtask test`: formatting, lints, native tests, the wasm builds, and the end-to-end
//!   tests in headless Chromium against the edge in workerd.

mod bench;
mod bench_analytics;
mod build;
mod demo;
mod migrations;
mod process;
mod publish;
mod seed;
mod suite;
mod tools;
mod worker;

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

fn main() {
    if let Err(err) = run() {
        eprintln!("xtask: error: {err:#}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = project_root();
    match args.first().map(String::as_str) {
        Some("build") => build::all(&root).map(|_| ()),
        Some("bench") => bench::run(&root, &args[1..]),
        Some("demo") => demo::run(&root, &args[1..]),
        Some("publish") => publish::run(&root, &args[1..]),
        Some("seed") => seed::run(&root, &args[1..]),
        Some("test") => test(&root),
        Some("-h" | "--help" | "help") | None => {
            println!(
                "usage: cargo xtask <build | demo | publish | seed | bench | test>\n\n{}",
                HELP
            );
            Ok(())
        }
        Some(other) => bail!("unknown command `{other}`; try `cargo xtask help`"),
    }
}

const HELP: &str = "\
  build    install missing tools, build widget and edge, assemble target/site
  demo     [--allow-origin ORIGIN]  build, then run the demo shop and the edge on
           http://127.0.0.1:8787 (RAPPORT_PORT); pages on ORIGIN may use the demo's site key
  publish  [DIR] [--note TEXT]  publish a rulebook folder to the running demo
  seed     [--visitors N] [--days N] [--seed N]  replay weeks of shop life (4,000 visitors
           over 42 days by default) through the running demo, so that its analytics have history
  bench    [--clients N] [--only decide|events|analytics]  load the edge in workerd: throughput,
           p50/p99; read 90 days of analytics
  test     fmt, clippy (in the tests' build), native tests, wasm builds, end-to-end tests in headless Chromium";

fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives inside the workspace")
        .to_path_buf()
}

/// End-to-end test binaries run at once, at most, each with its own edge and browser. They
/// spend part of their time waiting (for the aggregators' 10 s flushes, a debounce, a
/// trigger's delay): with two at a time on a 2-core machine, the cores were idle 15% of the
/// end-to-end run, and a third of it towards its end. One more binary than cores fills that.
const E2E_LANES: usize = 3;

/// The end-to-end test binaries, longest first (as a clean-clone CI run timed them), so that
/// the lanes finish together and a binary that mostly waits (on the aggregators' 10 s
/// flushes, say) waits beside one that computes, not alone at the end; only the order
/// depends on it.
const SLOWEST_E2E: &[&str] = &[
    "console",
    "seed",
    "widget",
    "react",
    "triggers",
    "analytics",
    "journey",
    "server",
    "fanin",
    "publish",
    "routes",
    "consent",
    "team",
    "accessibility",
    "budget",
    "recommendations",
    "api",
    "regression",
];

fn test(root: &Path) -> Result<()> {
    let mut tally = process::Tally::default();
    let result = run_checks(root, &mut tally);
    // The closing line CI reads, whatever happened.
    println!("\n{} passed, {} failed", tally.passed, tally.failed);
    result
}

fn run_checks(root: &Path, tally: &mut process::Tally) -> Result<()> {
    let cargo = tools::host_cargo();
    process::step("formatting");
    process::run(process::command(&cargo, root).args(["fmt", "--all", "--check"]))?;
    tools::ensure_npm_packages(root)?;
    process::step("the console's script: format and lints (Biome), unit tests (node --test)");
    process::run(
        process::command(tools::node_bin(root, "biome"), root).args([
            "ci",
            "--colors=off",
            "console",
        ]),
    )?;
    process::run_tests(
        process::command("node", root).args(["--test", "--test-reporter=tap", "console/test/"]),
        tally,
    )?;
    process::step("building the tests and linting them (one build for the whole workspace)");
    let (end_to_end, native): (Vec<_>, Vec<_>) = suite::build(&cargo, root)?
        .into_iter()
        .partition(|binary| binary.end_to_end);
    process::step("native tests");
    suite::run(&native, tally)?;
    let built = build::all(root)?;
    // Every test's edge starts from a copy of one local D1 database with the migrations
    // applied, rather than applying them itself (a couple of seconds each).
    let d1_template = root.join("target/d1-template");
    if d1_template.exists() {
        std::fs::remove_dir_all(&d1_template)?;
    }
    migrations::apply(
        &built.wrangler,
        &root.join("edge"),
        "wrangler.toml",
        Some(&d1_template),
    )?;
    let react_shop = build::react_shop(root)?;
    let browser = tools::ensure_chromium()?;
    let lanes = std::thread::available_parallelism().map_or(1, |n| (n.get() + 1).min(E2E_LANES));
    process::step(&format!(
        "end-to-end tests (headless Chromium against the edge in workerd), {lanes} at a time"
    ));
    suite::run_in_lanes(
        &end_to_end,
        lanes,
        SLOWEST_E2E,
        &[
            ("RAPPORT_WRANGLER", built.wrangler.into_os_string()),
            ("RAPPORT_EDGE_DIR", root.join("edge").into_os_string()),
            ("RAPPORT_D1_TEMPLATE", d1_template.into_os_string()),
            ("RAPPORT_REACT_SHOP", react_shop.into_os_string()),
            ("RAPPORT_CHROMIUM", browser.chromium.into_os_string()),
            (
                "RAPPORT_CHROMEDRIVER",
                browser.chromedriver.into_os_string(),
            ),
        ]
        .into_iter()
        // The edges keep their state in memory (`/dev/shm`) where there is one: on this VM's
        // disk every Durable Object commit is an fsync, and the seeded history's binary took
        // 177 s there against 113 s in memory.
        .chain(
            Path::new("/dev/shm")
                .is_dir()
                .then(|| ("RAPPORT_EDGE_STATE_DIR", "/dev/shm".into())),
        )
        .collect::<Vec<_>>(),
        tally,
    )?;
    println!("\nxtask: all checks passed");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::SLOWEST_E2E;

    #[test]
    fn the_end_to_end_order_names_each_test_binary_once() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/tests");
        let mut binaries: Vec<String> = std::fs::read_dir(dir)
            .expect("tests/tests")
            .filter_map(|entry| {
                let name = entry.ok()?.file_name().into_string().ok()?;
                name.strip_suffix(".rs").map(str::to_owned)
            })
            .collect();
        binaries.sort();
        let mut ordered: Vec<String> = SLOWEST_E2E.iter().map(|n| (*n).to_owned()).collect();
        ordered.sort();
        assert_eq!(ordered, binaries);
    }
}
