//! Recommendations learnt from what shoppers do, as a pure library the edge can run and the
//! offline evaluation measures.
//!
//! - [`clicks`] reads click files (session, item, time) in the research's format.
//! - [`neighbours`] keeps item-to-item co-occurrence: exactly ([`neighbours::Exact`], the
//!   reference) or in bounded memory per item ([`neighbours::Streaming`], Space-Saving
//!   summaries with time decay and a cap on what one session adds), which is what the edge
//!   keeps. Neither holds a visitor or session id.
//! - [`sessions`] keeps recent sessions for a session-kNN, each known by its items rather
//!   than an id, so that the edge can hand a session over as it grows.
//! - [`strategies`] are the recommenders: Rapport's (`similar`, `for_you`, each with a
//!   popularity fallback) and the research baselines (popularity, association rules,
//!   item-kNN, session-kNN), behind one trait.
//! - [`evaluate`] replays a test file and reports HR@20, MRR@20, coverage@20 and popularity
//!   bias for each, as session-rec does.
//! - [`synthetic`] is a deterministic shop with planted similar items and complements.
//! - [`popularity`] counts views at two speeds: popular lately (per category), and trending.
//! - [`products`] keeps a site's products (learnt from pages, fed by the server, which wins;
//!   stale ones age out; a bad one refused by field), and [`slot`] fills a slot from a
//!   strategy and its fallbacks with the exclusions, the merchandiser's rules, a cap per
//!   category, and the reason for each item.

pub mod catalogue;
pub mod clicks;
pub mod evaluate;
pub mod neighbours;
pub mod popularity;
pub mod products;
pub mod sessions;
pub mod slot;
pub mod strategies;
pub mod synthetic;

/// An item, by a dense id that [`clicks::Catalogue`] gives each product id it meets.
pub type Item = u32;
