//! Embeds the demo rulebook (`demo-site/rulebook/*.rhai`, and its `tests/*.json`) as the
//! rulebook the edge starts with.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets this"));
    let dir = manifest.join("../demo-site/rulebook");
    println!("cargo::rerun-if-changed={}", dir.display());
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .expect("demo-site/rulebook exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "rhai"))
        .collect();
    files.sort();
    let mut out = String::from("/// The demo rulebook, embedded at build time.\npub const BUILTIN_RULEBOOK: &[(&str, &str)] = &[\n");
    for path in &files {
        println!("cargo::rerun-if-changed={}", path.display());
        let name = path.file_name().expect("a file").to_string_lossy();
        let path = path.canonicalize().expect("the file exists");
        writeln!(
            out,
            "    ({name:?}, include_str!({:?})),",
            path.display().to_string()
        )
        .expect("writing to a String");
    }
    out.push_str("];\n");
    // Its test cases, for the console's workspace to start from (serving needs only rules).
    let tests_dir = dir.join("tests");
    println!("cargo::rerun-if-changed={}", tests_dir.display());
    let mut tests: Vec<PathBuf> = fs::read_dir(&tests_dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect()
        })
        .unwrap_or_default();
    tests.sort();
    out.push_str("/// The demo rulebook's test cases, as `tests/NAME.json`.\npub const BUILTIN_TESTS: &[(&str, &str)] = &[\n");
    for path in &tests {
        println!("cargo::rerun-if-changed={}", path.display());
        let name = format!(
            "tests/{}",
            path.file_name().expect("a file").to_string_lossy()
        );
        let path = path.canonicalize().expect("the file exists");
        writeln!(
            out,
            "    ({name:?}, include_str!({:?})),",
            path.display().to_string()
        )
        .expect("writing to a String");
    }
    out.push_str("];\n");
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("cargo sets this"));
    fs::write(out_dir.join("builtin_rulebook.rs"), out).expect("OUT_DIR is writable");
}
