//! The HTTP API's handlers, by who calls them (see docs/api.md; the router has checked who
//! before any of them runs):
//!
//! - [`browser`]: shops' pages, with the public site key (site settings, events, decisions,
//!   forget, identify) and the health check;
//! - [`server`]: shops' own systems, with a secret server key per site;
//! - [`admin`]: people and tools with the admin token or a console session (publishing and
//!   versions, reports, previews, sites, export and erasure), as their role allows;
//! - [`analytics`]: the analytics endpoints, one call into `rapport_analytics` each;
//! - [`console`]: signing in and out of the console, and joining by an invitation;
//! - [`team`]: the console's members, their roles and invitations;
//! - [`workspace`]: the console's draft, its checks, simulation and impact.
//!
//! Handlers read and validate their request, call the Durable Objects (`objects`), and
//! shape the answer; they hold no decision logic. What they share is here.

pub mod admin;
pub mod analytics;
pub mod browser;
pub mod console;
pub mod server;
pub mod team;
pub mod workspace;

use rapport_protocol::validate_id;
use worker::Env;

use crate::audit::Action;
use crate::error::ApiError;
use crate::objects::{customer, rulebooks, visitor};
use crate::sites::Sites;

/// Refuses a site key this edge does not serve.
fn check_site(sites: &Sites, site: &str) -> Result<(), ApiError> {
    if sites.serves(site) {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "site",
            format!("\"{site}\" is not a site this edge serves"),
        ))
    }
}

/// Refuses an id (visitor, session, event) that is not one, naming the field.
fn check_id(field: &str, id: &str) -> Result<(), ApiError> {
    validate_id(id).map_err(|e| ApiError::bad(field, format!("`{field}` {e}")))
}

/// Erases a visitor's object and its link to a customer, and records it in the audit log
/// (done by a member of the team, or with `None` by the visitor); gives how many events
/// went.
async fn erase_visitor(
    env: &Env,
    site: &str,
    visitor_id: &str,
    member: Option<&crate::team::Member>,
) -> Result<i64, ApiError> {
    let erased = visitor::erase(env, site, visitor_id).await?;
    crate::sample::erase(env, site, visitor_id).await?;
    if let Some(customer_id) = &erased.customer_id {
        customer::unlink(env, site, customer_id, visitor_id).await?;
    }
    let action = Action::EraseVisitor {
        site: site.to_owned(),
        visitor_id: visitor_id.to_owned(),
        events: erased.events,
        by: member.is_none().then(|| "visitor".to_owned()),
    };
    rulebooks::record(env, member, action).await?;
    Ok(erased.events)
}
