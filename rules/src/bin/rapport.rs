//! `rapport`: check, test and try a rulebook from the command line.
//!
//! ```text
//! rapport check DIR                 validate the rulebook; problems as file:line:col: error: ...
//! rapport test DIR                  run DIR/tests/*.json; ends with "N passed, M failed"
//! rapport decide DIR --visitor FILE [--page FILE] [--now RFC3339]
//!                                   print the decision as JSON
//! rapport schema visitor|page|test-cases
//!                                   print the JSON Schema of an input file
//! ```
//!
//! Exit status: 0 on success, 1 when the rulebook is invalid or a test fails, 2 when the
//! command itself is wrong (unknown option, unreadable file).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use rapport_protocol::PageContext;
use rapport_rules::testing::{parse_visitor, run_files};
use rapport_rules::{decide, parse_time, Rulebook, SourceFile};

/// Prints a line on stdout; if the reader has gone (`rapport decide ... | head`), there is
/// nobody left to tell, so the command ends quietly instead of panicking.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if writeln!(std::io::stdout().lock(), $($arg)*).is_err() {
            std::process::exit(0);
        }
    }};
}

const USAGE: &str = "\
usage: rapport check DIR
       rapport test DIR
       rapport decide DIR --visitor FILE.json [--page FILE.json] [--now RFC3339]
       rapport schema visitor|page|test-cases";

/// A failure that ends the command: what to print, and the exit status.
struct Failure(String, u8);

fn usage(message: impl std::fmt::Display) -> Failure {
    Failure(format!("rapport: {message}\n{USAGE}"), 2)
}

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(Failure(message, code)) => {
            if !message.is_empty() {
                eprintln!("{message}");
            }
            ExitCode::from(code)
        }
    }
}

fn run() -> Result<ExitCode, Failure> {
    use lexopt::prelude::*;

    let mut parser = lexopt::Parser::from_env();
    let mut positional: Vec<String> = Vec::new();
    let (mut visitor, mut page, mut now) = (None, None, None);
    while let Some(arg) = parser.next().map_err(usage)? {
        match arg {
            Long("visitor") => visitor = Some(PathBuf::from(parser.value().map_err(usage)?)),
            Long("page") => page = Some(PathBuf::from(parser.value().map_err(usage)?)),
            Long("now") => now = Some(parser.value().map_err(usage)?.string().map_err(usage)?),
            Short('h') | Long("help") => {
                out!("{USAGE}");
                return Ok(ExitCode::SUCCESS);
            }
            Value(value) => positional.push(value.string().map_err(usage)?),
            other => return Err(usage(other.unexpected())),
        }
    }
    match positional
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["check", dir] => check(Path::new(dir)),
        ["test", dir] => test(Path::new(dir)),
        ["decide", dir] => {
            let visitor = visitor.ok_or_else(|| usage("decide needs --visitor FILE.json"))?;
            decide_command(Path::new(dir), &visitor, page.as_deref(), now.as_deref())
        }
        ["schema", which] => schema(which),
        _ => Err(usage("expected a command")),
    }
}

fn read(path: &Path) -> Result<String, Failure> {
    fs::read_to_string(path).map_err(|e| Failure(format!("rapport: {}: {e}", path.display()), 2))
}

/// The `.rhai` files directly in `dir`, named relative to it.
fn load(dir: &Path) -> Result<Vec<SourceFile>, Failure> {
    let entries =
        fs::read_dir(dir).map_err(|e| Failure(format!("rapport: {}: {e}", dir.display()), 2))?;
    let mut files = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "rhai") {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            files.push(SourceFile::new(name, read(&path)?));
        }
    }
    if files.is_empty() {
        return Err(Failure(
            format!("rapport: no .rhai files in {}", dir.display()),
            2,
        ));
    }
    files.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(files)
}

/// Compiles, or prints every problem (paths as given on the command line) and fails.
fn compile(dir: &Path) -> Result<Rulebook, Failure> {
    Rulebook::compile(&load(dir)?).map_err(|problems| {
        let lines: Vec<String> = problems
            .iter()
            .map(|p| {
                let mut p = p.clone();
                p.file = dir.join(&p.file).display().to_string();
                p.to_string()
            })
            .collect();
        Failure(lines.join("\n"), 1)
    })
}

fn check(dir: &Path) -> Result<ExitCode, Failure> {
    let book = compile(dir)?;
    out!(
        "{}: ok, {} rules and {} segments (version {})",
        dir.display(),
        book.rules().count(),
        book.segment_names().count(),
        book.version()
    );
    Ok(ExitCode::SUCCESS)
}

fn test(dir: &Path) -> Result<ExitCode, Failure> {
    let book = compile(dir)?;
    let tests_dir = dir.join("tests");
    let mut files: Vec<PathBuf> = fs::read_dir(&tests_dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "json"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    let sources = files
        .iter()
        .map(|path| Ok(SourceFile::new(path.display().to_string(), read(path)?)))
        .collect::<Result<Vec<_>, Failure>>()?;
    let (mut passed, mut failed) = (0, 0);
    for result in run_files(&book, &sources) {
        passed += result.passed();
        failed += result.failed();
        let cases = match result.cases {
            Ok(cases) => cases,
            Err(message) => {
                out!("FAIL {}: {message}", result.file);
                continue;
            }
        };
        for case in cases {
            if case.passed() {
                out!("ok   {}: {}", result.file, case.name);
                continue;
            }
            out!("FAIL {}: {}", result.file, case.name);
            for failure in &case.failures {
                out!("       {failure}");
            }
            out!("       segments: {:?}", case.segments);
            for line in &case.report.trace {
                out!(
                    "       {:<24} {:?}: {}",
                    line.rule,
                    line.outcome,
                    line.reason
                );
            }
        }
    }
    out!("{passed} passed, {failed} failed");
    Ok(if failed == 0 && passed > 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn decide_command(
    dir: &Path,
    visitor: &Path,
    page: Option<&Path>,
    now: Option<&str>,
) -> Result<ExitCode, Failure> {
    let book = compile(dir)?;
    let now_ms = match now {
        Some(text) => parse_time(text).map_err(|e| usage(format!("--now: {e}")))?,
        None => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0),
    };
    let profile = parse_visitor(&read(visitor)?, now_ms)
        .map_err(|e| Failure(format!("rapport: {}: {e}", visitor.display()), 2))?;
    let page: PageContext = match page {
        Some(path) => serde_json::from_str(&read(path)?)
            .map_err(|e| Failure(format!("rapport: {}: {e}", path.display()), 2))?,
        None => PageContext {
            url: "/".into(),
            path: "/".into(),
            kind: Some("home".into()),
            locale: None,
        },
    };
    let report = decide(&book, &profile, &page, now_ms);
    let json = serde_json::to_string_pretty(&report).map_err(|e| Failure(e.to_string(), 1))?;
    out!("{json}");
    Ok(ExitCode::SUCCESS)
}

fn schema(which: &str) -> Result<ExitCode, Failure> {
    let schema = match which {
        "visitor" => rapport_rules::schema::visitor(),
        "page" => rapport_rules::schema::page(),
        "test-cases" => rapport_rules::schema::test_cases(),
        other => return Err(usage(format!("no schema named `{other}`"))),
    };
    let json = serde_json::to_string_pretty(&schema).map_err(|e| Failure(e.to_string(), 1))?;
    out!("{json}");
    Ok(ExitCode::SUCCESS)
}
