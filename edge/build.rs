//! Embeds the demo rulebook (`demo-site/rulebook/*.rhai`, and its `tests/*.json`) as the
//! rulebook the edge starts with.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

/// Writes `pub const NAME: &[(&str, &str)]` with each `extension` file of `dir`, named
/// `prefix` + its file name, in name order.
fn embed(out: &mut String, doc: &str, name: &str, dir: &Path, extension: &str, prefix: &str) {
    println!("cargo::rerun-if-changed={}", dir.display());
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == extension))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    writeln!(out, "/// {doc}\npub const {name}: &[(&str, &str)] = &[")
        .expect("writing to a String");
    for path in &files {
        println!("cargo::rerun-if-changed={}", path.display());
        let file = format!(
            "{prefix}{}",
            path.file_name().expect("a file").to_string_lossy()
        );
        let path = path.canonicalize().expect("the file exists");
        writeln!(
            out,
            "    ({file:?}, include_str!({:?})),",
            path.display().to_string()
        )
        .expect("writing to a String");
    }
    out.push_str("];\n");
}

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets this"));
    let dir = manifest.join("../demo-site/rulebook");
    assert!(dir.is_dir(), "demo-site/rulebook exists");
    let mut out = String::new();
    embed(
        &mut out,
        "The demo rulebook, embedded at build time.",
        "BUILTIN_RULEBOOK",
        &dir,
        "rhai",
        "",
    );
    // Its test cases, for the console's workspace to start from (serving needs only rules).
    embed(
        &mut out,
        "The demo rulebook's test cases, as `tests/NAME.json`.",
        "BUILTIN_TESTS",
        &dir.join("tests"),
        "json",
        "tests/",
    );
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("cargo sets this"));
    fs::write(out_dir.join("builtin_rulebook.rs"), out).expect("OUT_DIR is writable");
}
