//! Everything `rapport check` and the publish API report about a rulebook: the compiler's
//! errors and warnings, plus the warnings that need the rulebook's tests or the clock.

use crate::diagnostic::Diagnostic;
use crate::rulebook::{Rulebook, SourceFile};

/// Every diagnostic for the rulebook `files` with its test files `tests`, at `now_ms`,
/// sorted by file and position. The rulebook is usable when none is an error.
pub fn check(files: &[SourceFile], tests: &[SourceFile], now_ms: i64) -> Vec<Diagnostic> {
    match Rulebook::compile(files) {
        Err(problems) => problems,
        Ok(book) => warnings(&book, tests, now_ms),
    }
}

/// The warnings of a compiled rulebook.
pub fn warnings(book: &Rulebook, tests: &[SourceFile], now_ms: i64) -> Vec<Diagnostic> {
    let mut all = book.warnings().to_vec();
    let mut cases = Vec::new();
    for file in tests {
        match crate::testing::parse_cases(&file.text) {
            Ok(parsed) => {
                all.extend(crate::lint::case_warnings(book, &file.name, &parsed));
                cases.extend(parsed);
            }
            Err(message) => all.push(Diagnostic::new(&file.name, rhai::Position::NONE, message)),
        }
        for message in crate::testing::file_warnings(&file.text) {
            all.push(Diagnostic::warning(
                &file.name,
                rhai::Position::NONE,
                message,
            ));
        }
    }
    all.extend(crate::lint::check_warnings(book, &cases, now_ms));
    Diagnostic::sort(&mut all);
    all
}
