//! Problems found in a rulebook, reported the way compilers do:
//! `file:line:col: error: message` or `file:line:col: warning: message`.
//!
//! Errors stop a rulebook from compiling; warnings do not (unless the marketer asks with
//! `rapport check --strict`), but each names something that will not work as written.

use std::fmt;

use rhai::{EvalAltResult, ParseErrorType};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// One problem in a rulebook, located in a file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostic {
    pub file: String,
    /// 1-based; 0 when the problem is not tied to a line (an unreadable file, say).
    pub line: usize,
    /// 1-based, in characters; 0 when unknown.
    pub col: usize,
    pub severity: Severity,
    pub message: String,
}

impl Diagnostic {
    pub fn new(file: &str, position: rhai::Position, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            file: file.to_owned(),
            line: position.line().unwrap_or(0),
            col: position.position().unwrap_or(0),
            severity: Severity::Error,
            message: message.into(),
        }
    }

    pub fn warning(file: &str, position: rhai::Position, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::new(file, position, message)
        }
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// The order diagnostics are listed in: by file, then position.
    pub(crate) fn sort(list: &mut Vec<Diagnostic>) {
        list.sort_by(|a, b| {
            (&a.file, a.line, a.col, a.severity, &a.message)
                .cmp(&(&b.file, b.line, b.col, b.severity, &b.message))
        });
        list.dedup();
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}: {}",
            self.file,
            self.line,
            self.col,
            self.severity.as_str(),
            self.message
        )
    }
}

/// The error that actually happened, beneath Rhai's "in closure call" wrappers, which carry
/// no position of their own.
pub(crate) fn innermost(err: &EvalAltResult) -> &EvalAltResult {
    match err {
        EvalAltResult::ErrorInFunctionCall(_, _, inner, _) => innermost(inner),
        other => other,
    }
}

/// A run-time error in the marketer's words rather than the interpreter's, without the
/// " (line x, position y)" suffix Rhai appends, since the diagnostic carries the position.
pub(crate) fn rhai_message(err: &EvalAltResult) -> String {
    let err = innermost(err);
    match err {
        EvalAltResult::ErrorDotExpr(..) | EvalAltResult::ErrorPropertyNotFound(..) => {
            let text = strip_position(err.to_string());
            let name = text.rsplit([' ', ':']).next().unwrap_or("").trim();
            format!("there is no field `{name}` here")
        }
        EvalAltResult::ErrorFunctionNotFound(signature, _) => {
            let name = signature.split(' ').next().unwrap_or(signature);
            let arguments = signature
                .find('(')
                .map(|at| plain_types(&signature[at..]))
                .unwrap_or_default();
            // A misspelt strategy is the likely mistake among the functions rules call.
            let strategies = crate::language::strategies::NAMES;
            let hint = did_you_mean(name, strategies.iter().copied());
            format!("there is no function `{name}` taking {arguments}{hint}")
        }
        // What Rapport's own functions refuse, already in plain words.
        EvalAltResult::ErrorRuntime(message, _) if message.is_string() => message.to_string(),
        EvalAltResult::ErrorMismatchDataType(wanted, got, _) => {
            format!("expected {}, found {}", plain_type(wanted), plain_type(got))
        }
        EvalAltResult::ErrorMismatchOutputType(wanted, got, _) => format!(
            "this gives {} where {} is needed",
            plain_type(got),
            plain_type(wanted)
        ),
        EvalAltResult::ErrorTooManyOperations(_) => format!(
            "this takes too long (more than {} steps): is there a loop that never ends?",
            crate::language::engine::MAX_OPERATIONS
        ),
        EvalAltResult::ErrorArithmetic(message, _) => format!("arithmetic error: {message}"),
        EvalAltResult::ErrorIndexNotFound(index, _) => format!("there is no entry {index}"),
        EvalAltResult::ErrorArrayBounds(len, index, _) => {
            format!("item {index} does not exist: the list has {len}")
        }
        _ => strip_position(err.to_string()),
    }
}

/// A parse error in plain words.
pub(crate) fn parse_message(err: &ParseErrorType) -> String {
    match err {
        ParseErrorType::VariableUndefined(name) => format!(
            "unknown name `{name}`: a condition reads the visitor through its parameter, as in |v| v.{name}"
        ),
        ParseErrorType::MissingToken(token, what) => format!("missing `{token}` {what}"),
        ParseErrorType::UnknownOperator(op) => format!("`{op}` is not an operator"),
        ParseErrorType::BadInput(reason) => reason.to_string(),
        ParseErrorType::UnexpectedEOF => "the file ends too early".to_owned(),
        other => other.to_string(),
    }
}

fn strip_position(text: String) -> String {
    match text.rfind(" (line ") {
        Some(at) if text.ends_with(')') => text[..at].to_owned(),
        _ => text,
    }
}

/// Rhai's type names as a marketer would say them.
fn plain_type(name: &str) -> &str {
    match name.rsplit("::").next().unwrap_or(name) {
        "i64" | "INT" => "a whole number",
        "f64" | "FLOAT" | "decimal" => "a number",
        "bool" => "true or false",
        "string" | "ImmutableString" | "String" | "&str" | "&str | ImmutableString | String" => {
            "text"
        }
        "()" => "nothing (a missing value)",
        "array" | "Array" => "a list",
        "map" | "Map" => "a map",
        "Fn" | "FnPtr" => "a function",
        other => other,
    }
}

/// `(i64, string)` as `(whole number, text)`.
fn plain_types(list: &str) -> String {
    let inner = list.trim_start_matches('(').trim_end_matches(')');
    if inner.trim().is_empty() {
        return "no arguments".to_owned();
    }
    let names: Vec<&str> = inner
        .split(',')
        .map(|t| {
            let plain = plain_type(t.trim());
            plain
                .strip_prefix("a ")
                .or_else(|| plain.strip_prefix("an "))
                .unwrap_or(plain)
        })
        .collect();
    format!("({})", names.join(", "))
}

/// The closest of `candidates` to `name`, when one is close enough to be a likely typo:
/// "did you mean ...?" suggestions.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(name, c), c))
        .filter(|(score, c)| *score >= 0.8 && *c != name)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// ` (did you mean `x`?)`, or nothing.
pub(crate) fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> String {
    closest(name, candidates)
        .map(|c| format!("; did you mean `{c}`?"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_are_close_names_only() {
        let names = ["visits", "days_away", "cart", "purchases"];
        assert_eq!(closest("vists", names), Some("visits"));
        assert_eq!(closest("purchase", names), Some("purchases"));
        assert_eq!(closest("zzz", names), None);
    }

    #[test]
    fn display_names_the_severity() {
        let d = Diagnostic::warning("a.rhai", rhai::Position::new(3, 7), "never shown");
        assert_eq!(d.to_string(), "a.rhai:3:7: warning: never shown");
    }
}
