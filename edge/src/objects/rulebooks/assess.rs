//! What a rulebook's files are worth before anything is stored: compiled with every check,
//! its warnings, and its test cases run. Publishing acts on it; the console's live check
//! (`POST /v1/admin/check`) only shows it.

use rapport_rules::testing::run_files;
use rapport_rules::{Rulebook, SourceFile};
use serde_json::{json, Value};

/// The test cases' outcome.
#[derive(Debug)]
pub struct Tested {
    pub passed: usize,
    pub failed: usize,
    /// `{file, case, failures}` for every case that failed (`case` null for a file that
    /// could not be read).
    pub failures: Vec<Value>,
}

#[allow(missing_debug_implementations)]
pub struct Assessment {
    /// The compiled rulebook, when it has no errors.
    pub book: Option<Rulebook>,
    /// Every error and warning, as the publish API answers them.
    pub diagnostics: Vec<Value>,
    pub errors: usize,
    /// `None` when the rulebook does not compile.
    pub tests: Option<Tested>,
}

/// A diagnostic as the API answers it: its parts, and the line `rapport check` prints.
pub fn describe(d: &rapport_rules::Diagnostic) -> Value {
    json!({
        "file": d.file,
        "line": d.line,
        "col": d.col,
        "severity": d.severity,
        "message": d.message,
        "text": d.to_string(),
    })
}

/// Compiles `rules` once (what `rapport_rules::check` reports), then runs `tests` on it.
pub fn assess(rules: &[SourceFile], tests: &[SourceFile], now_ms: i64) -> Assessment {
    let (book, diagnostics) = match Rulebook::compile(rules) {
        Ok(book) => {
            let warnings = rapport_rules::warnings(&book, tests, now_ms);
            (Some(book), warnings)
        }
        Err(problems) => (None, problems),
    };
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    let book = book.filter(|_| errors == 0);
    let tested = book.as_ref().map(|book| {
        let results = run_files(book, tests);
        let failures = results
            .iter()
            .flat_map(|r| match &r.cases {
                Err(message) => {
                    vec![json!({ "file": r.file, "case": null, "failures": [message] })]
                }
                Ok(cases) => cases
                    .iter()
                    .filter(|c| !c.passed())
                    .map(|c| json!({ "file": r.file, "case": c.name, "failures": c.failures }))
                    .collect(),
            })
            .collect();
        Tested {
            passed: results.iter().map(|r| r.passed()).sum(),
            failed: results.iter().map(|r| r.failed()).sum(),
            failures,
        }
    });
    Assessment {
        book,
        diagnostics: diagnostics.iter().map(describe).collect(),
        errors,
        tests: tested,
    }
}
