//! The Rapport edge, a Cloudflare Worker.
//!
//! - [`api`]: the HTTP API under `/v1/`: request parsing, validation, responses.
//! - [`visitor`]: the `Visitor` Durable Object: one per visitor, holding the profile and raw
//!   events in its SQLite storage, and deciding next to them.
//! - [`rulebook`]: the compiled rulebook each isolate keeps, and how it notices a new one.
//! - [`rulebooks`]: the `Rulebooks` Durable Object: published versions, the active one, the
//!   audit log.
//! - [`customer`]: the `Customer` Durable Object: trusted facts from the retailer's systems
//!   and the visitors linked to each customer.
//! - [`server_api`]: the server-to-server API (server keys).
//! - [`reports`]: the daily aggregates in D1.
//! - [`preview`]: signed preview tokens.
//! - [`object`]: calling a Durable Object.
//! - [`sites`]: the site keys served and the origins allowed for each.
//! - [`error`]: the one error type every handler returns, and how it becomes a response.
//!
//! The worker holds no decision logic: it parses, stores and hands profiles to
//! `rapport_rules::decide`. Static files (the demo shop, the widget) are served as Workers
//! assets before this code runs.

mod api;
mod customer;
mod error;
mod object;
mod preview;
mod reports;
mod rulebook;
mod rulebooks;
mod server_api;
mod sites;
mod visitor;

use worker::{event, Context, Env, Request, Response, Result};

pub use customer::Customer;
pub use rulebooks::Rulebooks;
pub use visitor::Visitor;

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    Ok(api::handle(req, &env).await)
}
