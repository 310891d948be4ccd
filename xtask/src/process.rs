//! Running commands: each one is echoed, and a failure names the command that failed.

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

pub fn step(what: &str) {
    println!("\n==> {what}");
}

pub fn command(program: impl AsRef<OsStr>, dir: &Path) -> Command {
    let mut command = Command::new(program);
    command.current_dir(dir);
    command
}

fn describe(command: &Command) -> String {
    let mut text = command.get_program().to_string_lossy().into_owned();
    for arg in command.get_args() {
        text.push(' ');
        text.push_str(&arg.to_string_lossy());
    }
    text
}

/// Runs a command to completion, failing if it fails.
pub fn run(command: &mut Command) -> Result<()> {
    let text = describe(command);
    println!("$ {text}");
    let status = command
        .status()
        .with_context(|| format!("could not start `{text}`"))?;
    if !status.success() {
        bail!("`{text}` failed ({status})");
    }
    Ok(())
}

/// Tests passed and failed, summed over `cargo test` runs.
#[derive(Debug, Default, Clone, Copy)]
pub struct Tally {
    pub passed: u64,
    pub failed: u64,
}

/// Runs `cargo test`, echoing its output as it comes, and adds its `test result:` lines to
/// `tally`.
pub fn run_tests(command: &mut Command, tally: &mut Tally) -> Result<()> {
    use std::io::{BufRead as _, BufReader};

    let text = describe(command);
    println!("$ {text}");
    let mut child = command
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("could not start `{text}`"))?;
    let stdout = child.stdout.take().context("the test output is piped")?;
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        println!("{line}");
        count_line(&line, tally);
    }
    let status = child.wait()?;
    if !status.success() {
        bail!("`{text}` failed ({status})");
    }
    Ok(())
}

/// Adds the `test result:` lines (and TAP's closing counts) in a test run's output to `tally`.
pub fn count_results(output: &str, tally: &mut Tally) {
    for line in output.lines() {
        count_line(line, tally);
    }
}

fn count_line(line: &str, tally: &mut Tally) {
    // `node --test` closes with TAP's "# pass N" and "# fail N".
    if let Some(n) = line.strip_prefix("# pass ") {
        tally.passed += n.trim().parse::<u64>().unwrap_or(0);
    } else if let Some(n) = line.strip_prefix("# fail ") {
        tally.failed += n.trim().parse::<u64>().unwrap_or(0);
    } else if let Some(rest) = line.strip_prefix("test result: ") {
        let count = |label: &str| {
            rest.split(';')
                .find_map(|part| {
                    part.trim()
                        .trim_start_matches("ok. ")
                        .trim_start_matches("FAILED. ")
                        .strip_suffix(label)
                })
                .and_then(|n| n.trim().parse::<u64>().ok())
                .unwrap_or(0)
        };
        tally.passed += count(" passed");
        tally.failed += count(" failed");
    }
}

/// Runs a command quietly and returns its standard output, or `None` if it cannot run or
/// fails. For probing what is installed.
pub fn output(command: &mut Command) -> Option<String> {
    let out = command.stderr(Stdio::null()).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Runs a command, killing it after `limit`. Returns whether it finished successfully.
pub fn run_with_timeout(command: &mut Command, limit: Duration) -> bool {
    let text = describe(command);
    println!("$ {text}   (giving up after {}s)", limit.as_secs());
    let Ok(mut child) = command.spawn() else {
        return false;
    };
    let started = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return status.success(),
            Ok(None) if started.elapsed() < limit => std::thread::sleep(Duration::from_millis(250)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                println!("xtask: `{text}` did not finish in time");
                return false;
            }
        }
    }
}
