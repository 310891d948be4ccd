//! Rapport's CX analytics, pure: every aggregate table, typed (`tables`); the statistics
//! (`stats`); a visitor's record and what folding something into it adds to the aggregates
//! (`visitor`, `facts`, `report`); and the analyses the edge's analytics API answers with.
//! Without the default `analyses` feature, only `tables` (and the benchmarks' `bench_shop`).

pub mod bench_shop;
#[cfg(feature = "analyses")]
pub mod experiments;
#[cfg(feature = "analyses")]
pub mod facts;
#[cfg(feature = "analyses")]
pub mod lifecycle;
#[cfg(feature = "analyses")]
pub mod report;
#[cfg(feature = "analyses")]
pub mod satisfaction;
#[cfg(feature = "analyses")]
pub mod segments;
#[cfg(feature = "analyses")]
pub mod stats;
pub mod tables;
#[cfg(feature = "analyses")]
pub mod visitor;
#[cfg(feature = "analyses")]
pub mod weak_spots;
