//! Deciding: a compiled rulebook run for one visitor on one page ([`decide`]), where a
//! visitor falls in an experiment and in the universal holdout ([`arms`]), what a decision
//! and what shoppers did add to the daily report ([`report`]), and a draft against the
//! active rulebook over recent visitors ([`impact`]).

pub mod arms;
pub mod decide;
pub mod impact;
pub mod report;
pub mod trace;
