//! Rapport's rules engine, a pure library: no I/O, no clock, no randomness of its own.
//!
//! - [`profile`]: the visitor model, and how events fold into it.
//! - [`engine`]: the one place a Rhai engine is built, with every limit set.
//! - [`rulebook`]: compiling a directory of marketer-written `.rhai` files into segments and
//!   rules, with `file:line:col` diagnostics.
//! - [`decide`]: running a compiled rulebook for one visitor on one page.
//! - [`bucket`]: GrowthBook-compatible deterministic bucketing for experiments.
//! - [`testing`]: the rulebook's own test cases and how they run.
//!
//! The edge feeds it stored profiles and the current time; tests feed it fixtures.

pub mod bucket;
pub mod decide;
pub mod diagnostic;
pub mod engine;
pub mod profile;
pub mod rulebook;
#[cfg(feature = "cli")]
pub mod schema;
mod spec;
pub mod testing;
pub mod view;

pub use decide::{decide, decision, DecisionReport, Outcome, TraceEntry};
pub use diagnostic::Diagnostic;
pub use profile::Profile;
pub use rulebook::{Rulebook, SourceFile};
pub use spec::{parse_time, Settings};
