//! Problems found in a rulebook, reported the way compilers do: `file:line:col: error: message`.

use std::fmt;

/// One problem in a rulebook, located in a file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostic {
    pub file: String,
    /// 1-based; 0 when the problem is not tied to a line (an unreadable file, say).
    pub line: usize,
    /// 1-based; 0 when unknown.
    pub col: usize,
    pub message: String,
}

impl Diagnostic {
    pub fn new(file: &str, position: rhai::Position, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            file: file.to_owned(),
            line: position.line().unwrap_or(0),
            col: position.position().unwrap_or(0),
            message: message.into(),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: error: {}",
            self.file, self.line, self.col, self.message
        )
    }
}

/// The error that actually happened, beneath Rhai's "in closure call" wrappers, which carry
/// no position of their own.
pub(crate) fn innermost(err: &rhai::EvalAltResult) -> &rhai::EvalAltResult {
    match err {
        rhai::EvalAltResult::ErrorInFunctionCall(_, _, inner, _) => innermost(inner),
        other => other,
    }
}

/// A Rhai error's message without the " (line x, position y)" suffix Rhai appends, since the
/// diagnostic carries the position itself.
pub(crate) fn rhai_message(err: &rhai::EvalAltResult) -> String {
    let text = innermost(err).to_string();
    match text.rfind(" (line ") {
        Some(at) if text.ends_with(')') => text[..at].to_owned(),
        _ => text,
    }
}
