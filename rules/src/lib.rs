//! Rapport's rules engine, a pure library: no I/O, no clock, no randomness of its own.
//!
//! It is built in layers, each using only the layers above it in this list (a test,
//! `xtask/tests/cycles.rs`, fails on any module cycle):
//!
//! 1. [`bucket`]: GrowthBook-compatible deterministic bucketing, used by the language (the
//!    `bucket()` function rules may call) and by decisions (experiment arms).
//! 2. [`visitor`]: the visitor model ([`profile`], how events fold into it), `v` as rules
//!    read it ([`view`]), and the customer a server pushes ([`customer`]).
//! 3. [`language`]: the rule language: the one Rhai engine, reading `rule()` and
//!    `settings()` specs, content templates, static analysis of scripts, diagnostics at
//!    `file:line:col`, compiling a rulebook (with its compile-time warnings) and its outline.
//! 4. [`decision`]: running a compiled rulebook for one visitor on one page
//!    ([`decide`](decision::decide::decide)), experiment arms and the universal holdout,
//!    and a draft's [`impact`] over recent visitors.
//! 5. [`testing`] (the rulebook's own test cases) and [`check()`] (every error and warning
//!    about a rulebook, including those found by deciding for sample visitors), with
//!    [`schema`] for the `rapport` command's files.
//!
//! The edge feeds it stored profiles and the current time; tests and the `rapport` command
//! feed it files. The language itself is documented in `docs/rules.md`.

pub mod bucket;
mod check;
pub mod decision;
pub mod language;
#[cfg(feature = "cli")]
pub mod schema;
pub mod testing;
pub mod visitor;

pub use check::{check, warnings};
pub use decision::arms::{assignment, in_holdout, Assignment};
pub use decision::decide::{decide, decision, preview, segments_of};
pub use decision::impact;
pub use decision::trace::{DecisionReport, Outcome, TraceEntry};
pub use language::changes::{changes, Changed, Changes, Named, Side};
pub use language::diagnostic::{Diagnostic, Severity};
pub use language::outline::{ExperienceOutline, Outline, RuleOutline, SegmentOutline};
pub use language::rulebook::lint::PAGE_KINDS;
pub use language::rulebook::{ArmInfo, RuleInfo, Rulebook, SourceFile};
pub use language::settings::Settings;
pub use language::spec::parse_time;
pub use rapport_protocol::{HOLDOUT_ARM, PERSONALISED_ARM, PROGRAMME};
pub use visitor::profile::Profile;
pub use visitor::{customer, profile, view};
