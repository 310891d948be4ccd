//! The Rapport edge, a Cloudflare Worker.
//!
//! A request goes through [`router`] (one table of every endpoint) to a handler in [`api`]
//! (`browser`, `server` or `admin`, by who calls), which checks it with [`http`], [`auth`],
//! [`sites`] and [`limits`], and calls the Durable Objects through [`objects`]: the
//! `Visitor` (profile, events, decisions), the `Customer` (trusted facts) and the
//! `Rulebooks` store (published versions, the audit log).
//!
//! - [`reports`]: the daily aggregates in D1; [`sample`]: recent visitors' profiles, for
//!   the impact of a draft.
//! - [`preview`]: signed preview tokens.
//! - [`audit`]: the audit log's typed entries.
//! - [`config`]: the edge's variables; [`clock`]: the edge's time.
//! - [`error`]: the one error type every handler returns, and how it becomes a response.
//!
//! The worker holds no decision logic: it parses, stores and hands profiles to
//! `rapport_rules::decision`. Static files (the demo shop, the widget) are served as Workers
//! assets before this code runs.

mod aggregates;
mod api;
mod audit;
mod auth;
mod clock;
mod config;
mod error;
mod http;
mod limits;
mod objects;
mod preview;
mod reports;
mod router;
mod sample;
mod session;
mod sites;

use worker::{event, Context, Env, Request, Response, Result};

pub use objects::customer::Customer;
pub use objects::rulebooks::Rulebooks;
pub use objects::visitor::Visitor;

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    Ok(router::handle(req, &env).await)
}
