//! `cargo xtask publish [DIR] [--note TEXT]`: publishes a rulebook folder (its `*.rhai` files
//! and `tests/*.json`) to the running demo through the admin API, and prints what the edge
//! answered: the new version, or the diagnostics and failing tests that kept it out.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use anyhow::{bail, Context, Result};

use crate::demo;

pub fn run(root: &Path, args: &[String]) -> Result<()> {
    let mut dir = root.join("demo-site/rulebook");
    let mut note = String::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--note" => note = args.next().context("--note needs a text")?.clone(),
            other if other.starts_with("--") => bail!("unknown option `{other}`"),
            other => dir = Path::new(other).to_path_buf(),
        }
    }
    let files = rulebook_files(&dir)?;
    let token = demo::admin_token(&root.join("edge/.dev.vars"))?;
    let base = format!("http://127.0.0.1:{}", demo::port()?);
    let answer = publish(&base, &token, &files, &note)?;
    println!(
        "published version {} ({}): {} rules, {} segments, {} test cases passed",
        answer["id"],
        answer["version"],
        answer["rules"],
        answer["segments"],
        answer["tests_passed"]
    );
    Ok(())
}

/// A rulebook folder's `*.rhai` files and `tests/*.json`, by their names in the rulebook.
pub fn rulebook_files(dir: &Path) -> Result<BTreeMap<String, String>> {
    let mut files = BTreeMap::new();
    read_into(dir, "", "rhai", &mut files)?;
    read_into(&dir.join("tests"), "tests/", "json", &mut files)?;
    if !files.keys().any(|name| name.ends_with(".rhai")) {
        bail!("no .rhai files in {}", dir.display());
    }
    Ok(files)
}

/// Publishes `files` to the edge at `base` with the admin `token`: the edge's answer, or an
/// error with the diagnostics and failing tests that kept it out (printed).
pub fn publish(
    base: &str,
    token: &str,
    files: &BTreeMap<String, String>,
    note: &str,
) -> Result<serde_json::Value> {
    let url = format!("{base}/v1/admin/rulebooks");
    let body = serde_json::json!({ "files": files, "note": note }).to_string();
    let mut response = ureq::post(&url)
        .config()
        .http_status_as_error(false)
        .build()
        .header("authorization", &format!("Bearer {token}"))
        .content_type("application/json")
        .send(&body)
        .with_context(|| {
            format!("is the demo running? (cargo xtask demo) — could not reach {url}")
        })?;
    let status = response.status().as_u16();
    let answer: serde_json::Value = serde_json::from_str(&response.body_mut().read_to_string()?)?;
    if status == 201 {
        return Ok(answer);
    }
    for problem in answer["diagnostics"].as_array().into_iter().flatten() {
        eprintln!("{}", problem["text"].as_str().unwrap_or_default());
    }
    for failure in answer["tests"]["failures"].as_array().into_iter().flatten() {
        eprintln!(
            "FAIL {}: {} {}",
            failure["file"], failure["case"], failure["failures"]
        );
    }
    bail!(
        "the edge refused the rulebook (HTTP {status}): {}",
        answer["error"]["message"]
    )
}

fn read_into(
    dir: &Path,
    prefix: &str,
    extension: &str,
    files: &mut BTreeMap<String, String>,
) -> Result<()> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == extension) {
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            let text =
                fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
            files.insert(format!("{prefix}{name}"), text);
        }
    }
    Ok(())
}
