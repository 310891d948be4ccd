//! The visitor: what Rapport knows about one visitor ([`profile`], folded from events), `v`
//! as rules read it ([`view`]), and the customer behind a visitor as the shop's server tells
//! it ([`customer`]). Nothing here knows about rules.

pub mod customer;
pub mod lifecycle;
pub mod profile;
pub(crate) mod samples;
pub mod view;
