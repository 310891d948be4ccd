//! The workspace's test binaries: built by one `cargo test --no-run` for the whole workspace,
//! then run by xtask itself.
//!
//! One build means one feature set for every dependency: `cargo test -p A` and later
//! `cargo test -p B` would each resolve features for their own packages and compile much of
//! the dependency tree twice. Running the binaries here lets the end-to-end ones, which
//! mostly wait on a browser and the edge, share the machine in lanes, each binary with its
//! own edge and browser, as `cargo test` (one binary after another) cannot.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::process::{self, Tally};
use crate::tools;

/// One test binary that `cargo test --no-run` built.
#[derive(Debug, Clone)]
pub struct Binary {
    /// `rapport-rules (lib)`, `rapport-e2e (test console)`: what the output calls it.
    pub name: String,
    /// The test target's own name (`console` for `tests/console.rs`).
    pub target: String,
    pub path: PathBuf,
    /// The package's folder, where cargo runs its tests.
    pub dir: PathBuf,
    /// An end-to-end test (the `tests/` package): it needs the built site, the edge and a
    /// browser.
    pub end_to_end: bool,
}

/// Builds every test binary of the workspace, the end-to-end ones too, in one cargo call,
/// and lints the workspace in the same call: its own crates are compiled by `clippy-driver`
/// (rustc with Clippy's lints, as `cargo clippy` runs it) with warnings denied. A separate
/// `cargo clippy` would type-check the workspace and its whole dependency tree once more,
/// about 90 seconds on the reference machine. Every target is built, the benchmarks and
/// their helpers too, so that Clippy reads all the code `cargo clippy --all-targets` would.
pub fn build(cargo: &Path, root: &Path) -> Result<Vec<Binary>> {
    let mut command = process::command(cargo, root);
    command
        .args([
            "test",
            "--workspace",
            "--all-targets",
            "--no-run",
            "--quiet",
            "--message-format=json-render-diagnostics",
        ])
        .env("RUSTC_WORKSPACE_WRAPPER", tools::clippy_driver(cargo)?)
        .env(
            "CLIPPY_ARGS",
            "-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__",
        );
    println!("$ cargo test --workspace --all-targets --no-run, with Clippy's lints");
    let out = command
        .stderr(Stdio::inherit())
        .output()
        .context("could not start cargo test --no-run")?;
    if !out.status.success() {
        bail!(
            "building the tests, or their lints, failed ({})",
            out.status
        );
    }
    let e2e_manifest = root.join("tests/Cargo.toml");
    let mut binaries = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(message) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let artifact =
            message["reason"] == "compiler-artifact" && message["profile"]["test"] == true;
        let Some(executable) = message["executable"].as_str().filter(|_| artifact) else {
            continue;
        };
        let target = message["target"]["name"].as_str().unwrap_or_default();
        let kind = message["target"]["kind"][0].as_str().unwrap_or_default();
        if kind == "bench" {
            // Built for the lints only: `cargo bench` and `cargo xtask bench` run them.
            continue;
        }
        let package = package_name(message["package_id"].as_str().unwrap_or_default());
        let manifest = PathBuf::from(message["manifest_path"].as_str().unwrap_or_default());
        binaries.push(Binary {
            name: match kind {
                "lib" => format!("{package} (lib)"),
                _ => format!("{package} ({kind} {target})"),
            },
            target: target.to_owned(),
            path: PathBuf::from(executable),
            dir: manifest.parent().unwrap_or(root).to_path_buf(),
            end_to_end: manifest == e2e_manifest,
        });
    }
    if binaries.is_empty() {
        bail!("cargo test --no-run listed no test binaries");
    }
    Ok(binaries)
}

/// The package's name in a cargo package id: `path+file:///…/rules#rapport-rules@0.1.0`, or
/// `path+file:///…/xtask#0.1.0` where the folder has the package's name.
fn package_name(id: &str) -> &str {
    let (path, fragment) = id.rsplit_once('#').unwrap_or((id, ""));
    match fragment.split_once('@') {
        Some((name, _)) => name,
        None => path.rsplit('/').next().unwrap_or(path),
    }
}

/// Runs `binaries` one after another with the output as it comes: the native tests.
pub fn run(binaries: &[Binary], tally: &mut Tally) -> Result<()> {
    let mut failed = Vec::new();
    for binary in binaries {
        println!("     Running {}", binary.name);
        let mut command = process::command(&binary.path, &binary.dir);
        if process::run_tests(command.arg("--quiet"), tally).is_err() {
            failed.push(binary.name.clone());
        }
    }
    match failed.is_empty() {
        true => Ok(()),
        false => bail!("failed: {}", failed.join(", ")),
    }
}

/// Runs `binaries` in `lanes` at once, each with `--test-threads=1` (a binary's tests share
/// its edge and browser), the ones named in `slowest_first` first so that the lanes finish
/// together. A binary's output is printed whole once it finishes, so that lanes do not
/// interleave.
pub fn run_in_lanes(
    binaries: &[Binary],
    lanes: usize,
    slowest_first: &[&str],
    env: &[(&str, OsString)],
    tally: &mut Tally,
) -> Result<()> {
    let rank = |b: &Binary| {
        slowest_first
            .iter()
            .position(|name| *name == b.target)
            .unwrap_or(slowest_first.len())
    };
    let mut ordered = binaries.to_vec();
    ordered.sort_by_key(|b| rank(b));
    let queue = Mutex::new(VecDeque::from(ordered));
    let results = Mutex::new((*tally, Vec::<String>::new()));
    std::thread::scope(|scope| {
        for _ in 0..lanes.max(1) {
            scope.spawn(|| loop {
                let Some(binary) = queue.lock().expect("the queue").pop_front() else {
                    return;
                };
                let started = Instant::now();
                let mut command = process::command(&binary.path, &binary.dir);
                command.arg("--test-threads=1");
                for (key, value) in env {
                    command.env(key, value);
                }
                let (output, passed) = run_captured(&mut command);
                let mut results = results.lock().expect("the results");
                println!(
                    "     Ran {} in {:.0} s\n{output}",
                    binary.name,
                    started.elapsed().as_secs_f64()
                );
                process::count_results(&output, &mut results.0);
                if !passed {
                    results.1.push(binary.name.clone());
                }
            });
        }
    });
    let (counted, failed) = results.into_inner().expect("the results");
    *tally = counted;
    match failed.is_empty() {
        true => Ok(()),
        false => bail!("failed: {}", failed.join(", ")),
    }
}

/// Runs a test binary to completion, its standard output and error together; whether it
/// passed.
fn run_captured(command: &mut Command) -> (String, bool) {
    match command.output() {
        Ok(out) => {
            let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
            text.push_str(&String::from_utf8_lossy(&out.stderr));
            (text, out.status.success())
        }
        Err(err) => (format!("could not start: {err}\n"), false),
    }
}

#[cfg(test)]
mod tests {
    use super::package_name;

    #[test]
    fn package_names_come_from_cargo_package_ids() {
        assert_eq!(
            package_name("path+file:///src/app/rules#rapport-rules@0.1.0"),
            "rapport-rules"
        );
        assert_eq!(package_name("path+file:///src/app/xtask#0.1.0"), "xtask");
    }
}
