//! Where a request goes: one table from method and path to a [`Route`], and the dispatch to
//! its handler. CORS is answered and added here, for every route alike.
//!
//! Only `/v1/*` reaches the worker today (wrangler.toml's `run_worker_first`); the demo shop
//! and the widget's files are assets, served before it. The marketer console will have
//! `/console/*` routes here, and the edge-proxy mode will take [`Route::Elsewhere`] (every
//! other path) to the shop's origin; until then such paths are not found.

use worker::{Env, Method, Request, Response};

use crate::api::{admin, analytics, browser, console, server, workspace};
use crate::config;
use crate::error::ApiError;
use crate::http::{self, header};

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
    Audit,
    /// Not an API path.
    Elsewhere,
}

/// Who may call a route. The router checks it before the handler runs: no handler checks
/// the admin token or session itself. (Site keys and server keys name a site, so the browser
/// and server handlers check theirs as they read which site a call is for.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone: the browser's endpoints (fenced by site, origin and rate limits), the server
    /// API (its key), signing in and out of the console.
    Open,
    /// The admin token, or a console session (with the same-origin check for changes).
    Admin,
}

impl Route<'_> {
    pub fn access(&self) -> Access {
        use Route::*;
        match self {
            Health | Events | Decide | Forget | Identify | SiteSettings(_) | ServerEvents
            | GetCustomer(_) | PutCustomer(_) | SignIn | Session | SignOut | Elsewhere => {
                Access::Open
            }
            ExportVisitor { .. }
            | EraseVisitor { .. }
            | CreatePreview
            | Sites
            | Reports
            | AnalyticsExperiments
            | AnalyticsExperiment(_)
            | AnalyticsSatisfaction
            | AnalyticsLifecycle
            | AnalyticsWeakSpots
            | AnalyticsSegments
            | Check
            | Draft
            | SaveDraft
            | DiscardDraft
            | Fields
            | Simulate
            | Impact
            | Publish
            | Versions
            | Version(_)
            | Builtin
            | Activate(_)
            | Audit => Access::Admin,
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
    if route.access() == Access::Admin {
        crate::auth::require_admin(&req, env).await?;
    }
    match route {
        Route::Health => Ok(browser::health(env).await),
        Route::Events => browser::events(req, env, sites).await,
        Route::Decide => browser::decide(req, env, sites).await,
        Route::Forget => browser::forget(req, env, sites).await,
        Route::Identify => browser::identify(req, env, sites).await,
        Route::SiteSettings(site) => browser::site_settings(&req, env, sites, site).await,
        Route::ServerEvents => server::events(req, env).await,
        Route::GetCustomer(id) => server::get_customer(&req, env, id).await,
        Route::PutCustomer(id) => server::put_customer(req, env, id).await,
        Route::ExportVisitor { site, visitor_id } => {
            admin::export_visitor(env, sites, site, visitor_id).await
        }
        Route::EraseVisitor { site, visitor_id } => {
            admin::erase_visitor(env, sites, site, visitor_id).await
        }
        Route::CreatePreview => admin::create_preview(req, env, sites).await,
        Route::Sites => admin::list_sites(sites),
        Route::Reports => admin::reports(&req, env, sites).await,
        Route::SignIn => console::sign_in(req, env).await,
        Route::Check => workspace::check(req).await,
        Route::Draft => workspace::get_draft(env).await,
        Route::SaveDraft => workspace::put_draft(req, env).await,
        Route::DiscardDraft => workspace::delete_draft(env).await,
        Route::Fields => workspace::visitor_fields(),
        Route::Simulate => workspace::simulate(req).await,
        Route::Impact => workspace::impact(req, env, sites).await,
        Route::Session => console::current(&req, env).await,
        Route::SignOut => console::sign_out(&req, env).await,
        Route::AnalyticsExperiments => analytics::experiments(&req, env, sites).await,
        Route::AnalyticsExperiment(rule) => analytics::experiment(&req, env, sites, rule).await,
        Route::AnalyticsSatisfaction => analytics::satisfaction(&req, env, sites).await,
        Route::AnalyticsLifecycle => analytics::lifecycle(&req, env, sites).await,
        Route::AnalyticsWeakSpots => analytics::weak_spots(&req, env, sites).await,
        Route::AnalyticsSegments => analytics::segments(&req, env, sites).await,
        Route::Publish => admin::publish(req, env).await,
        Route::Versions => admin::versions(env).await,
        Route::Version(id) => admin::version(env, id).await,
        Route::Builtin => admin::builtin(),
        Route::Activate(id) => admin::activate(env, id).await,
        Route::Audit => admin::audit(env).await,
        Route::Elsewhere => Err(ApiError::NotFound),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(method: Method, path: &str, expected: Result<Route<'_>, u16>) {
        let got = route(&method, path).map_err(|e| e.status());
        assert_eq!(got, expected, "{method:?} {path}");
    }

    #[test]
    fn every_endpoint_has_one_route() {
        check(Method::Get, "/v1/health", Ok(Route::Health));
        check(Method::Post, "/v1/events", Ok(Route::Events));
        check(Method::Post, "/v1/decide", Ok(Route::Decide));
        check(Method::Post, "/v1/forget", Ok(Route::Forget));
        check(Method::Post, "/v1/identify", Ok(Route::Identify));
        check(Method::Post, "/v1/server/events", Ok(Route::ServerEvents));
        check(
            Method::Put,
            "/v1/server/customers/C-1",
            Ok(Route::PutCustomer("C-1")),
        );
        check(
            Method::Get,
            "/v1/server/customers/C-1",
            Ok(Route::GetCustomer("C-1")),
        );
        let visitor = Route::ExportVisitor {
            site: "demo",
            visitor_id: "v-1",
        };
        check(Method::Get, "/v1/admin/visitors/demo/v-1", Ok(visitor));
        check(Method::Post, "/v1/admin/rulebooks", Ok(Route::Publish));
        check(Method::Get, "/v1/admin/rulebooks", Ok(Route::Versions));
        check(
            Method::Get,
            "/v1/admin/rulebooks/3",
            Ok(Route::Version("3")),
        );
        check(
            Method::Post,
            "/v1/admin/rulebooks/3/activate",
            Ok(Route::Activate("3")),
        );
        check(Method::Get, "/v1/admin/audit", Ok(Route::Audit));
    }

    #[test]
    fn every_admin_path_and_only_those_need_the_admin() {
        let every = [
            (Method::Get, "/v1/health"),
            (Method::Post, "/v1/events"),
            (Method::Post, "/v1/decide"),
            (Method::Post, "/v1/forget"),
            (Method::Post, "/v1/identify"),
            (Method::Get, "/v1/sites/demo"),
            (Method::Post, "/v1/server/events"),
            (Method::Get, "/v1/server/customers/C-1"),
            (Method::Put, "/v1/server/customers/C-1"),
            (Method::Get, "/v1/admin/visitors/demo/v-1"),
            (Method::Delete, "/v1/admin/visitors/demo/v-1"),
            (Method::Post, "/v1/admin/previews"),
            (Method::Get, "/v1/admin/sites"),
            (Method::Get, "/v1/admin/reports"),
            (Method::Get, "/v1/admin/analytics/experiments"),
            (Method::Get, "/v1/admin/analytics/experiments/welcome"),
            (Method::Get, "/v1/admin/analytics/satisfaction"),
            (Method::Get, "/v1/admin/analytics/lifecycle"),
            (Method::Get, "/v1/admin/analytics/weak-spots"),
            (Method::Get, "/v1/admin/analytics/segments"),
            (Method::Post, "/v1/console/session"),
            (Method::Get, "/v1/console/session"),
            (Method::Delete, "/v1/console/session"),
            (Method::Post, "/v1/admin/check"),
            (Method::Get, "/v1/admin/draft"),
            (Method::Put, "/v1/admin/draft"),
            (Method::Delete, "/v1/admin/draft"),
            (Method::Get, "/v1/admin/fields"),
            (Method::Post, "/v1/admin/simulate"),
            (Method::Post, "/v1/admin/impact"),
            (Method::Get, "/v1/admin/rulebooks"),
            (Method::Post, "/v1/admin/rulebooks"),
            (Method::Get, "/v1/admin/rulebooks/builtin"),
            (Method::Get, "/v1/admin/rulebooks/3"),
            (Method::Post, "/v1/admin/rulebooks/3/activate"),
            (Method::Get, "/v1/admin/audit"),
        ];
        for (method, path) in every {
            let access = route(&method, path).unwrap().access();
            let admin = path.starts_with("/v1/admin/");
            assert_eq!(access == Access::Admin, admin, "{method:?} {path}");
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
