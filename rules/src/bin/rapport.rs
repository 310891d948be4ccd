//! `rapport`: check, test and try a rulebook from the command line.
//!
//! ```text
//! rapport check [--strict] DIR      validate the rulebook and its tests; problems as
//!                                   file:line:col: error|warning: ...; --strict fails on warnings
//! rapport test DIR                  run DIR/tests/*.json; ends with "N passed, M failed"
//! rapport decide DIR --visitor FILE [--page FILE] [--now RFC3339] [--explain]
//!                                   print the decision as JSON, or with --explain for people
//! rapport bucket DIR RULE VISITOR_ID
//!                                   the experiment arm a visitor id falls in
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
usage: rapport check [--strict] DIR
       rapport test DIR
       rapport decide DIR --visitor FILE.json [--page FILE.json] [--now RFC3339] [--explain]
       rapport bucket DIR RULE VISITOR_ID
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
    let (mut strict, mut explain) = (false, false);
    while let Some(arg) = parser.next().map_err(usage)? {
        match arg {
            Long("visitor") => visitor = Some(PathBuf::from(parser.value().map_err(usage)?)),
            Long("page") => page = Some(PathBuf::from(parser.value().map_err(usage)?)),
            Long("now") => now = Some(parser.value().map_err(usage)?.string().map_err(usage)?),
            Long("strict") => strict = true,
            Long("explain") => explain = true,
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
        ["check", dir] => check(Path::new(dir), strict),
        ["test", dir] => test(Path::new(dir)),
        ["decide", dir] => {
            let visitor = visitor.ok_or_else(|| usage("decide needs --visitor FILE.json"))?;
            decide_command(
                Path::new(dir),
                &visitor,
                page.as_deref(),
                now.as_deref(),
                explain,
            )
        }
        ["bucket", dir, rule, visitor_id] => bucket_command(Path::new(dir), rule, visitor_id),
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
        let lines: Vec<String> = problems.iter().map(|p| shown(dir, p)).collect();
        Failure(lines.join("\n"), 1)
    })
}

fn check(dir: &Path, strict: bool) -> Result<ExitCode, Failure> {
    let files = load(dir)?;
    let tests = load_tests(dir)?;
    // `rapport_rules::check`, keeping the compiled rulebook for the summary line.
    let (book, diagnostics) = match Rulebook::compile(&files) {
        Ok(book) => {
            let diagnostics = rapport_rules::warnings(&book, &tests, now_ms());
            (Some(book), diagnostics)
        }
        Err(problems) => (None, problems),
    };
    for diagnostic in &diagnostics {
        eprintln!("{}", shown(dir, diagnostic));
    }
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = diagnostics.len() - errors;
    let Some(book) = book.filter(|_| errors == 0 && !(strict && warnings > 0)) else {
        return Ok(ExitCode::FAILURE);
    };
    out!(
        "{}: ok, {} rules and {} segments (version {}){}",
        dir.display(),
        book.rules().count(),
        book.segment_names().count(),
        book.version(),
        match warnings {
            0 => String::new(),
            1 => ", 1 warning".to_owned(),
            n => format!(", {n} warnings"),
        }
    );
    Ok(ExitCode::SUCCESS)
}

/// A diagnostic with its file named as on the command line.
fn shown(dir: &Path, diagnostic: &rapport_rules::Diagnostic) -> String {
    let mut d = diagnostic.clone();
    d.file = dir.join(&d.file).display().to_string();
    d.to_string()
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The test files (`DIR/tests/*.json`), named `tests/NAME.json`.
fn load_tests(dir: &Path) -> Result<Vec<SourceFile>, Failure> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir.join("tests"))
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "json"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
        .iter()
        .map(|path| {
            let name = format!(
                "tests/{}",
                path.file_name().unwrap_or_default().to_string_lossy()
            );
            Ok(SourceFile::new(name, read(path)?))
        })
        .collect()
}

fn test(dir: &Path) -> Result<ExitCode, Failure> {
    let book = compile(dir)?;
    let sources: Vec<SourceFile> = load_tests(dir)?
        .into_iter()
        .map(|f| SourceFile::new(dir.join(&f.name).display().to_string(), f.text))
        .collect();
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
    explain: bool,
) -> Result<ExitCode, Failure> {
    let book = compile(dir)?;
    let now_ms = match now {
        Some(text) => parse_time(text).map_err(|e| usage(format!("--now: {e}")))?,
        None => now_ms(),
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
    if explain {
        print_explained(&report);
        return Ok(ExitCode::SUCCESS);
    }
    let json = serde_json::to_string_pretty(&report).map_err(|e| Failure(e.to_string(), 1))?;
    out!("{json}");
    Ok(ExitCode::SUCCESS)
}

/// The decision as a marketer reads it: what was shown, to whom, and a line per rule.
fn print_explained(report: &rapport_rules::DecisionReport) {
    let page = &report.page;
    out!(
        "page     {} (kind {}, language {})",
        page.path,
        page.kind.as_deref().unwrap_or("none"),
        page.locale.as_deref().unwrap_or("none")
    );
    out!("time     {}", report.at());
    out!(
        "segments {}",
        if report.segments.is_empty() {
            "none".to_owned()
        } else {
            report.segments.join(", ")
        }
    );
    if report.holdout {
        out!("holdout  yes: personalised rules are held back");
    }
    let shown: Vec<&str> = report
        .decision
        .experiences
        .iter()
        .map(|e| e.experience.as_str())
        .collect();
    out!(
        "shown    {}",
        if shown.is_empty() {
            "nothing".to_owned()
        } else {
            shown.join(", ")
        }
    );
    out!("");
    let width = report.trace.iter().map(|t| t.rule.len()).max().unwrap_or(0);
    for line in &report.trace {
        let outcome = serde_json::to_value(line.outcome)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let mut extra = Vec::new();
        if let Some(audience) = line.audience {
            extra.push(format!("audience {}", if audience { "yes" } else { "no" }));
        }
        if let Some(bucket) = line.bucket {
            extra.push(format!("bucket {bucket:.4}"));
        }
        if let Some(variant) = &line.variant {
            extra.push(format!("variant {variant}"));
        }
        let extra = if extra.is_empty() {
            String::new()
        } else {
            format!(" [{}]", extra.join(", "))
        };
        out!(
            "{:<width$}  {:<17} {}{extra}",
            line.rule,
            outcome,
            line.reason
        );
    }
}

fn bucket_command(dir: &Path, rule: &str, visitor_id: &str) -> Result<ExitCode, Failure> {
    let book = compile(dir)?;
    let arm = rapport_rules::assignment(&book, rule, visitor_id)
        .map_err(|e| Failure(format!("rapport: {e}"), 1))?;
    let shares: Vec<String> = arm
        .shares
        .iter()
        .map(|(id, share)| format!("{id} {:.1}%", share * 100.0))
        .collect();
    match &arm.variant {
        Some(variant) => out!(
            "{visitor_id} in {rule}: bucket {:.4}, variant {variant}{} (variants: {})",
            arm.bucket,
            if arm.control { " (control)" } else { "" },
            shares.join(", ")
        ),
        None => out!(
            "{visitor_id} in {rule}: bucket {:.4}, outside the experiment (its coverage or namespace)",
            arm.bucket
        ),
    }
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
