//! The Rapport edge, a Cloudflare Worker.
//!
//! A request goes through [`router`] (one table of every endpoint and who may call it,
//! checked there with [`auth`], [`session`], [`sites`] and [`limits`]) to a handler in
//! [`api`] (`browser`, `server`, `admin`, `analytics`, `console`, `workspace`), which reads
//! it with [`http`] and calls the Durable Objects through [`objects`]: the `Visitor`
//! (events, the visitor's record, decisions), the `Customer` (trusted facts) and the
//! `Rulebooks` store (published versions, drafts, the audit log).
//!
//! - [`reports`]: the daily report in D1; [`aggregates`]: the analytics' tables beside it;
//!   [`sample`]: recent visitors' profiles, for the impact of a draft.
//! - [`preview`]: signed preview tokens; [`session`]: the console's sessions; [`team`]: its
//!   members, their roles and invitations.
//! - [`audit`]: the audit log's typed entries.
//! - [`config`]: the edge's variables; [`clock`]: the edge's time (and the demo's clock).
//! - [`error`]: the one error type every handler returns, and how it becomes a response.
//!
//! The worker holds no decision or analytics logic: it parses, stores and hands records to
//! `rapport_rules` and `rapport_analytics`. Static files (the demo shop, the widget, the
//! console) are served as Workers assets before this code runs.

mod aggregates;
mod api;
mod audit;
mod auth;
mod clock;
mod config;
mod error;
mod http;
mod limits;
#[cfg(test)]
mod migrations;
mod objects;
mod preview;
mod reports;
mod router;
mod sample;
mod session;
mod sites;
mod team;

use worker::{event, Context, Env, Request, Response, Result};

pub use objects::aggregator::Aggregator;
pub use objects::catalogue::Catalogue;
pub use objects::customer::Customer;
pub use objects::rulebooks::Rulebooks;
pub use objects::visitor::Visitor;

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    Ok(router::handle(req, &env).await)
}
