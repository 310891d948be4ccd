//! Broken and suspicious rulebooks, one folder each under `tests/diagnostics/`, with the exact
//! diagnostics each must give written in its files as `// expect: file:line:col: ...` lines.
//! Adding a case is adding a folder.

use std::fs;
use std::path::Path;

use rapport_rules::{check, SourceFile};

#[test]
fn every_folder_gives_exactly_its_expected_diagnostics() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/diagnostics");
    let mut folders: Vec<_> = fs::read_dir(&root)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    folders.sort();
    assert!(folders.len() >= 6, "the cases are missing");
    let mut failures = Vec::new();
    for folder in &folders {
        let mut files = Vec::new();
        let mut tests = Vec::new();
        for entry in fs::read_dir(folder).unwrap().flatten() {
            let path = entry.path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if path.extension().is_some_and(|e| e == "rhai") {
                files.push(SourceFile::new(name, fs::read_to_string(&path).unwrap()));
            }
        }
        let tests_dir = folder.join("tests");
        if let Ok(entries) = fs::read_dir(&tests_dir) {
            for entry in entries.flatten() {
                let path = entry.path();
                let name = format!("tests/{}", path.file_name().unwrap().to_string_lossy());
                tests.push(SourceFile::new(name, fs::read_to_string(&path).unwrap()));
            }
        }
        let mut expected: Vec<String> = files
            .iter()
            .flat_map(|f| f.text.lines())
            .filter_map(|l| l.trim().strip_prefix("// expect: "))
            .filter(|l| *l != "nothing")
            .map(str::to_owned)
            .collect();
        let says = files.iter().any(|f| f.text.contains("// expect: "));
        assert!(says, "{}: no `// expect:` line", folder.display());
        expected.sort();
        let now = rapport_rules::parse_time("2026-12-01T12:00:00Z").unwrap();
        let mut got: Vec<String> = check(&files, &tests, now)
            .iter()
            .map(ToString::to_string)
            .collect();
        got.sort();
        if got != expected {
            failures.push(format!(
                "{}:\n  expected:\n    {}\n  got:\n    {}",
                folder.file_name().unwrap().to_string_lossy(),
                expected.join("\n    "),
                got.join("\n    ")
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}
