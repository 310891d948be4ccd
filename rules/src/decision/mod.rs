//! Deciding: a compiled rulebook run for one visitor on one page ([`decide`]), where a
//! visitor falls in an experiment and in the universal holdout ([`arms`]), what a decision
//! and a draft against the active rulebook over recent visitors ([`impact`]). What shoppers
//! add to the daily report is the analytics' (`rapport_analytics::report`).

pub mod arms;
pub mod decide;
pub mod impact;
pub mod trace;
