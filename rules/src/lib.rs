//! Rapport's rules engine, a pure library: no I/O, no clock, no randomness of its own.
//!
//! - [`profile`]: the visitor model, and how events fold into it.
//! - [`view`]: `v`, the visitor as rules read it.
//! - [`engine`]: the one place a Rhai engine is built, with every limit set.
//! - [`rulebook`]: compiling a directory of marketer-written `.rhai` files into segments and
//!   rules (read by `spec`), with `file:line:col` diagnostics.
//! - [`decide`](mod@decide): running a compiled rulebook for one visitor on one page.
//! - [`bucket`]: GrowthBook-compatible deterministic bucketing for experiments.
//! - [`check()`]: every error and warning about a rulebook, as `rapport check` prints them.
//! - [`impact`]: the active rulebook and a draft over a sample of recent visitors.
//! - [`testing`]: the rulebook's own test cases and how they run.
//! - [`schema`]: JSON Schemas of the files the `rapport` command reads.
//!
//! The edge feeds it stored profiles and the current time; tests and the `rapport` command
//! feed it files. The language itself is documented in `docs/rules.md`.

mod analysis;
pub mod bucket;
mod check;
pub mod customer;
pub mod decide;
pub mod diagnostic;
pub mod engine;
pub mod impact;
mod lint;
mod outline;
pub mod profile;
pub mod report;
pub mod rulebook;
#[cfg(feature = "cli")]
pub mod schema;
mod spec;
mod template;
pub mod testing;
pub mod view;

pub use check::{check, warnings};
pub use decide::{
    assignment, decide, decision, in_holdout, preview, segments_of, Assignment, DecisionReport,
    Outcome, TraceEntry, HOLDOUT_ARM, PERSONALISED_ARM, PROGRAMME,
};
pub use diagnostic::{Diagnostic, Severity};
pub use lint::PAGE_KINDS;
pub use outline::{ExperienceOutline, Outline, RuleOutline, SegmentOutline};
pub use profile::Profile;
pub use rulebook::{ArmInfo, RuleInfo, Rulebook, SourceFile};
pub use spec::{parse_time, Settings};
