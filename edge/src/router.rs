//! Where a request goes: one table from method and path to a [`Route`] and who may call it
//! ([`Access`]), the check of that, once, and the dispatch to the route's handler. CORS is
//! answered and added here, for every route alike.
//!
//! Only `/v1/*` reaches the worker (wrangler.toml's `run_worker_first`); the demo shop, the
//! widget's files and the console (`/console/`) are assets, served before it. The edge-proxy
//! mode will take [`Route::Elsewhere`] (every other path) to the shop's origin; until then
//! such paths are not found.

use worker::{Env, Method, Request, Response};

use crate::api::{admin, analytics, browser, console, server, team, workspace};
use crate::config;
use crate::error::ApiError;
use crate::http::{self, header};
use crate::team::{Member, Role};

/// Every endpoint, with the parts of its path that name something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route<'a> {
    Health,
    Events,
    Decide,
    Forget,
    Identify,
    SiteSettings(&'a str),
    ServerEvents,
    Products,
    Catalogue,
    GetCustomer(&'a str),
    PutCustomer(&'a str),
    ExportVisitor {
        site: &'a str,
        visitor_id: &'a str,
    },
    EraseVisitor {
        site: &'a str,
        visitor_id: &'a str,
    },
    CreatePreview,
    Sites,
    Reports,
    AnalyticsExperiments,
    AnalyticsExperiment(&'a str),
    AnalyticsSatisfaction,
    AnalyticsLifecycle,
    AnalyticsWeakSpots,
    AnalyticsSegments,
    SignIn,
    Session,
    SignOut,
    Invitation,
    Join,
    Team,
    Invite,
    ChangeRole(&'a str),
    RemoveMember(&'a str),
    Check,
    Draft,
    SaveDraft,
    DiscardDraft,
    Fields,
    Simulate,
    Impact,
    Publish,
    Versions,
    Version(&'a str),
    Builtin,
    Activate(&'a str),
    Changes,
    RecentVisitors,
    Requests,
    Approve(&'a str),
    Withdraw(&'a str),
    Settings,
    SetSettings,
    Audit,
    /// Not an API path.
    Elsewhere,
}

/// Who may call a route. The router checks it before the handler runs, and hands the
/// handler who it found: no handler checks a key, a token or a session itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone: the health check, signing in and out of the console, joining by invitation.
    Open,
    /// A browser page of a site (the site key, named in the path or the body): the site is
    /// served here, the page's origin is one the site allows, the visitor id (where the call
    /// names one) is well formed, and the rate limits hold.
    SiteKey,
    /// The shop's server: its server key names the site.
    ServerKey,
    /// A member of the console's team with at least this role, by a console session (with
    /// the same-origin check for changes); the admin token is the owner.
    Team(Role),
}

impl Route<'_> {
    pub fn access(&self) -> Access {
        use Route::*;
        match self {
            Health | SignIn | Session | SignOut | Invitation | Join | Elsewhere => Access::Open,
            Events | Decide | Forget | Identify | SiteSettings(_) => Access::SiteKey,
            ServerEvents | Products | Catalogue | GetCustomer(_) | PutCustomer(_) => {
                Access::ServerKey
            }
            // Reading, and trying rules out without saving them.
            Sites
            | Reports
            | AnalyticsExperiments
            | AnalyticsExperiment(_)
            | AnalyticsSatisfaction
            | AnalyticsLifecycle
            | AnalyticsWeakSpots
            | AnalyticsSegments
            | Check
            | Draft
            | Fields
            | Simulate
            | Impact
            | Versions
            | Version(_)
            | Builtin
            | Audit
            | Team
            | Changes
            | RecentVisitors
            | Requests
            | Settings => Access::Team(Role::Viewer),
            SaveDraft | DiscardDraft | CreatePreview => Access::Team(Role::Editor),
            Publish | Activate(_) | Approve(_) | Withdraw(_) => Access::Team(Role::Publisher),
            // The team itself, how publishing works, and shoppers' personal data.
            Invite
            | ChangeRole(_)
            | RemoveMember(_)
            | SetSettings
            | ExportVisitor { .. }
            | EraseVisitor { .. } => Access::Team(Role::Owner),
        }
    }
}

/// The route for a method and path: `NotFound` for no such path, `MethodNotAllowed` for a
/// path that does not take the method.
pub fn route<'a>(method: &Method, path: &'a str) -> Result<Route<'a>, ApiError> {
    use Method::{Delete, Get, Post, Put};
    let Some(rest) = path.strip_prefix("/v1/") else {
        return Ok(Route::Elsewhere);
    };
    let segments: Vec<&'a str> = rest.split('/').collect();
    let allowed: Vec<(Method, Route<'a>)> = match segments[..] {
        ["health"] => vec![(Get, Route::Health)],
        ["events"] => vec![(Post, Route::Events)],
        ["decide"] => vec![(Post, Route::Decide)],
        ["forget"] => vec![(Post, Route::Forget)],
        ["identify"] => vec![(Post, Route::Identify)],
        ["sites", site] => vec![(Get, Route::SiteSettings(site))],
        ["server", "events"] => vec![(Post, Route::ServerEvents)],
        ["server", "products"] => vec![(Get, Route::Catalogue), (Post, Route::Products)],
        ["server", "customers", id] => {
            vec![(Get, Route::GetCustomer(id)), (Put, Route::PutCustomer(id))]
        }
        ["admin", "visitors", site, visitor_id] => vec![
            (Get, Route::ExportVisitor { site, visitor_id }),
            (Delete, Route::EraseVisitor { site, visitor_id }),
        ],
        ["admin", "previews"] => vec![(Post, Route::CreatePreview)],
        ["admin", "sites"] => vec![(Get, Route::Sites)],
        ["admin", "reports"] => vec![(Get, Route::Reports)],
        ["admin", "analytics", "experiments"] => vec![(Get, Route::AnalyticsExperiments)],
        ["admin", "analytics", "experiments", rule] => {
            vec![(Get, Route::AnalyticsExperiment(rule))]
        }
        ["admin", "analytics", "satisfaction"] => vec![(Get, Route::AnalyticsSatisfaction)],
        ["admin", "analytics", "lifecycle"] => vec![(Get, Route::AnalyticsLifecycle)],
        ["admin", "analytics", "weak-spots"] => vec![(Get, Route::AnalyticsWeakSpots)],
        ["admin", "analytics", "segments"] => vec![(Get, Route::AnalyticsSegments)],
        ["console", "session"] => vec![
            (Post, Route::SignIn),
            (Get, Route::Session),
            (Delete, Route::SignOut),
        ],
        ["console", "invite"] => vec![(Post, Route::Invitation), (Put, Route::Join)],
        ["admin", "team"] => vec![(Get, Route::Team), (Post, Route::Invite)],
        ["admin", "team", name] => vec![
            (Put, Route::ChangeRole(name)),
            (Delete, Route::RemoveMember(name)),
        ],
        ["admin", "check"] => vec![(Post, Route::Check)],
        ["admin", "draft"] => vec![
            (Get, Route::Draft),
            (Put, Route::SaveDraft),
            (Delete, Route::DiscardDraft),
        ],
        ["admin", "fields"] => vec![(Get, Route::Fields)],
        ["admin", "simulate"] => vec![(Post, Route::Simulate)],
        ["admin", "impact"] => vec![(Post, Route::Impact)],
        ["admin", "rulebooks"] => vec![(Get, Route::Versions), (Post, Route::Publish)],
        ["admin", "rulebooks", "builtin"] => vec![(Get, Route::Builtin)],
        ["admin", "rulebooks", "requests"] => vec![(Get, Route::Requests)],
        ["admin", "rulebooks", "requests", id] => vec![(Delete, Route::Withdraw(id))],
        ["admin", "rulebooks", "requests", id, "approve"] => vec![(Post, Route::Approve(id))],
        ["admin", "changes"] => vec![(Post, Route::Changes)],
        ["admin", "sample"] => vec![(Get, Route::RecentVisitors)],
        ["admin", "settings"] => vec![(Get, Route::Settings), (Put, Route::SetSettings)],
        ["admin", "rulebooks", id] => vec![(Get, Route::Version(id))],
        ["admin", "rulebooks", id, "activate"] => vec![(Post, Route::Activate(id))],
        ["admin", "audit"] => vec![(Get, Route::Audit)],
        _ => return Err(ApiError::NotFound),
    };
    allowed
        .into_iter()
        .find(|(m, _)| m == method)
        .map(|(_, route)| route)
        .ok_or(ApiError::MethodNotAllowed)
}

/// Answers a request: preflights, then the route's handler, errors as JSON, and the CORS
/// header for pages on allowed origins.
pub async fn handle(req: Request, env: &Env) -> Response {
    let origin = header(&req, "origin");
    let sites = config::sites(env);
    if req.method() == Method::Options {
        return http::preflight(origin.as_deref(), &sites);
    }
    if let Some(refused) = crate::clock::fence(&req, env) {
        return refused.into_response();
    }
    let path = req.path();
    let answer = match route(&req.method(), &path) {
        Ok(route) => dispatch(route, req, env, &sites).await,
        Err(err) => Err(err),
    };
    let response = answer.unwrap_or_else(ApiError::into_response);
    http::allow_origin(&response, origin.as_deref(), &sites);
    response
}

async fn dispatch(
    route: Route<'_>,
    req: Request,
    env: &Env,
    sites: &crate::sites::Sites,
) -> Result<Response, ApiError> {
    // Access is checked here, once for every route, before its handler runs.
    match route.access() {
        Access::Open => open_route(route, req, env).await,
        Access::Team(role) => {
            let member = crate::auth::require(&req, env, role).await?;
            team_route(route, req, env, sites, &member).await
        }
        Access::SiteKey => {
            let page = browser::Page::admit(req, env, sites, carries(&route)).await?;
            page_route(route, page, env, sites).await
        }
        Access::ServerKey => {
            let site = crate::auth::server_site(&req, env)?;
            server_route(route, req, env, &site).await
        }
    }
}

/// A route anyone may call.
async fn open_route(route: Route<'_>, req: Request, env: &Env) -> Result<Response, ApiError> {
    match route {
        Route::Health => Ok(browser::health(env).await),
        Route::SignIn => console::sign_in(req, env).await,
        Route::Session => console::current(&req, env).await,
        Route::SignOut => console::sign_out(&req, env).await,
        Route::Invitation => console::invitation(req, env).await,
        Route::Join => console::join(req, env).await,
        _ => Err(ApiError::NotFound),
    }
}

/// A route of the console's API, for the member the router admitted.
async fn team_route(
    route: Route<'_>,
    req: Request,
    env: &Env,
    sites: &crate::sites::Sites,
    member: &Member,
) -> Result<Response, ApiError> {
    match route {
        Route::ExportVisitor { site, visitor_id } => {
            admin::export_visitor(env, sites, site, visitor_id).await
        }
        Route::EraseVisitor { site, visitor_id } => {
            admin::erase_visitor(env, sites, member, site, visitor_id).await
        }
        Route::CreatePreview => admin::create_preview(req, env, sites, member).await,
        Route::Sites => admin::list_sites(env, sites).await,
        Route::Reports => admin::reports(&req, env, sites).await,
        Route::Check => workspace::check(req).await,
        Route::Draft => workspace::get_draft(env).await,
        Route::SaveDraft => workspace::put_draft(req, env).await,
        Route::DiscardDraft => workspace::delete_draft(env).await,
        Route::Fields => workspace::visitor_fields(),
        Route::Simulate => workspace::simulate(req, env, sites).await,
        Route::Impact => workspace::impact(req, env, sites).await,
        Route::AnalyticsExperiments => analytics::experiments(&req, env, sites).await,
        Route::AnalyticsExperiment(rule) => analytics::experiment(&req, env, sites, rule).await,
        Route::AnalyticsSatisfaction => analytics::satisfaction(&req, env, sites).await,
        Route::AnalyticsLifecycle => analytics::lifecycle(&req, env, sites).await,
        Route::AnalyticsWeakSpots => analytics::weak_spots(&req, env, sites).await,
        Route::AnalyticsSegments => analytics::segments(&req, env, sites).await,
        Route::Publish => admin::publish(req, env, member).await,
        Route::Versions => admin::versions(env).await,
        Route::Version(id) => admin::version(env, id).await,
        Route::Builtin => admin::builtin(),
        Route::Activate(id) => admin::activate(env, member, id).await,
        Route::Audit => admin::audit(env).await,
        Route::Changes => workspace::changes(req, env).await,
        Route::RecentVisitors => workspace::recent_visitors(&req, env, sites).await,
        Route::Requests => admin::requests(env).await,
        Route::Approve(id) => admin::approve(env, member, id).await,
        Route::Withdraw(id) => admin::withdraw(env, member, id).await,
        Route::Settings => admin::settings(env).await,
        Route::SetSettings => admin::set_settings(req, env, member).await,
        Route::Team => team::list(env).await,
        Route::Invite => team::invite(req, env, member).await,
        Route::ChangeRole(name) => team::change_role(req, env, member, name).await,
        Route::RemoveMember(name) => team::remove(env, member, name).await,
        _ => Err(ApiError::NotFound),
    }
}

/// Where a site-key route names its site and visitor.
fn carries<'a>(route: &Route<'a>) -> browser::Carries<'a> {
    use rapport_protocol::{MAX_BATCH_BYTES, MAX_EVENT_BYTES};
    match route {
        Route::SiteSettings(site) => browser::Carries::Path(site),
        Route::Events => browser::Carries::Body {
            limit: MAX_BATCH_BYTES,
            visitor_optional: false,
        },
        // A decision carries the page's waiting events.
        Route::Decide => browser::Carries::Body {
            limit: MAX_BATCH_BYTES,
            visitor_optional: true,
        },
        _ => browser::Carries::Body {
            limit: MAX_EVENT_BYTES,
            visitor_optional: false,
        },
    }
}

/// A site-key route, for the page the router admitted.
async fn page_route(
    route: Route<'_>,
    page: browser::Page,
    env: &Env,
    sites: &crate::sites::Sites,
) -> Result<Response, ApiError> {
    match route {
        Route::Events => browser::events(page, env, sites).await,
        Route::Decide => browser::decide(page, env, sites).await,
        Route::Forget => browser::forget(page, env).await,
        Route::Identify => browser::identify(page, env).await,
        Route::SiteSettings(_) => Ok(browser::site_settings(&page, sites)),
        _ => Err(ApiError::NotFound),
    }
}

/// A server-key route, for the site the key named.
async fn server_route(
    route: Route<'_>,
    req: Request,
    env: &Env,
    site: &str,
) -> Result<Response, ApiError> {
    match route {
        Route::ServerEvents => server::events(req, env, site).await,
        Route::Products => server::products(req, env, site).await,
        Route::Catalogue => server::catalogue(env, site).await,
        Route::GetCustomer(id) => server::get_customer(env, site, id).await,
        Route::PutCustomer(id) => server::put_customer(req, env, site, id).await,
        _ => Err(ApiError::NotFound),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(method: Method, path: &str, expected: Result<Route<'_>, u16>) {
        let got = route(&method, path).map_err(|e| e.status());
        assert_eq!(got, expected, "{method:?} {path}");
    }

    /// Every route but `Elsewhere` (`Route::access` names each, with no wildcard).
    const ENDPOINTS: usize = 51;

    /// `docs/api.md`'s table of every endpoint, as (method, path with sample values, who).
    fn documented() -> Vec<(Method, String, String)> {
        let docs = include_str!("../../docs/api.md");
        let table = docs
            .split("| method | path | who may call |")
            .nth(1)
            .expect("docs/api.md has the table of every endpoint");
        table
            .lines()
            .skip(2)
            .take_while(|line| line.starts_with('|'))
            .map(|line| {
                let cells: Vec<&str> = line.split('|').map(str::trim).collect();
                let method = match cells[1] {
                    "GET" => Method::Get,
                    "POST" => Method::Post,
                    "PUT" => Method::Put,
                    "DELETE" => Method::Delete,
                    other => panic!("unknown method {other} in docs/api.md"),
                };
                let path = cells[2]
                    .trim_matches('`')
                    .replace("{site}", "demo")
                    .replace("{visitor_id}", "v-00000001")
                    .replace("{customer_id}", "C-1")
                    .replace("{rule}", "welcome")
                    .replace("{id}", "3")
                    .replace("{name}", "Ana%20Silva");
                (method, path, cells[3].to_owned())
            })
            .collect()
    }

    /// Every endpoint docs/api.md lists has its route, with the access it says, and every
    /// route is listed there once.
    #[test]
    fn every_documented_endpoint_has_its_route_and_access() {
        let mut seen: Vec<Route<'_>> = Vec::new();
        let documented = documented();
        for (method, path, who) in &documented {
            let found = route(method, path).unwrap_or_else(|e| panic!("{method:?} {path}: {e}"));
            assert_ne!(found, Route::Elsewhere, "{method:?} {path} is no endpoint");
            let expected = match who.split(' ').next() {
                Some("anyone") => Access::Open,
                Some("site") => Access::SiteKey,
                Some("server") => Access::ServerKey,
                Some("viewer") => Access::Team(Role::Viewer),
                Some("editor") => Access::Team(Role::Editor),
                Some("publisher") => Access::Team(Role::Publisher),
                Some("owner") => Access::Team(Role::Owner),
                _ => panic!("unknown access \"{who}\" in docs/api.md"),
            };
            assert_eq!(found.access(), expected, "{method:?} {path}");
            assert!(!seen.contains(&found), "{method:?} {path} is listed twice");
            seen.push(found);
        }
        assert_eq!(seen.len(), ENDPOINTS, "docs/api.md lists every endpoint");
        // The admin paths are exactly the team's routes.
        for (method, path, _) in &documented {
            let admin = matches!(route(method, path).unwrap().access(), Access::Team(_));
            assert_eq!(admin, path.starts_with("/v1/admin/"), "{method:?} {path}");
        }
    }

    #[test]
    fn wrong_methods_and_unknown_paths_are_told_apart() {
        check(Method::Get, "/v1/events", Err(405));
        check(Method::Delete, "/v1/admin/rulebooks", Err(405));
        check(Method::Get, "/v1/nowhere", Err(404));
        check(Method::Get, "/v1/admin/visitors/demo", Err(404));
        check(Method::Get, "/v1/events/extra", Err(404));
    }

    #[test]
    fn other_paths_are_left_for_the_proxy() {
        check(Method::Get, "/products/linen-shirt", Ok(Route::Elsewhere));
        check(Method::Get, "/v1", Ok(Route::Elsewhere));
    }
}
