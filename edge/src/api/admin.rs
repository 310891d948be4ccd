//! The admin API under `/v1/admin/`, for the team's members as their roles allow: publishing and rolling back
//! rulebooks, the audit log, reports, preview links, and what is stored about a visitor
//! (export and GDPR erasure).

use std::collections::BTreeMap;
use std::rc::Rc;

use serde::Deserialize;
use serde_json::json;
use worker::{Env, Request, Response};

use super::{check_id, check_site, erase_visitor as erase_everywhere};
use crate::audit::Action;
use crate::auth;
use crate::clock::now_ms;
use crate::error::{ApiError, Context};
use crate::http::{json_response, parse, parse_query, read_body};
use crate::objects::rulebooks::{self, Publish, Published};
use crate::objects::visitor;
use crate::preview;
use crate::reports;
use crate::sites::Sites;
use crate::team::Member;

/// The largest rulebook, with its tests, that can be published.
const MAX_RULEBOOK_BYTES: usize = 1024 * 1024;

fn ok<T: serde::Serialize>(value: &T, status: u16) -> Result<Response, ApiError> {
    let body = serde_json::to_value(value).context("encoding an answer")?;
    Ok(json_response(&body, status))
}

/// An admin call about one visitor: the site and the visitor id (the router checked the
/// token).
fn check_visitor(sites: &Sites, site: &str, visitor_id: &str) -> Result<(), ApiError> {
    check_site(sites, site)?;
    check_id("visitor_id", visitor_id)
}

/// `GET /v1/admin/visitors/{site}/{visitor_id}`: everything stored about one visitor.
pub async fn export_visitor(
    env: &Env,
    sites: &Sites,
    site: &str,
    visitor_id: &str,
) -> Result<Response, ApiError> {
    check_visitor(sites, site, visitor_id)?;
    ok(&visitor::export(env, site, visitor_id).await?, 200)
}

/// `DELETE /v1/admin/visitors/{site}/{visitor_id}`: erases everything stored about one
/// visitor (GDPR), and records the erasure in the audit log.
pub async fn erase_visitor(
    env: &Env,
    sites: &Sites,
    member: &Member,
    site: &str,
    visitor_id: &str,
) -> Result<Response, ApiError> {
    check_visitor(sites, site, visitor_id)?;
    let events = erase_everywhere(env, site, visitor_id, Some(member)).await?;
    ok(&json!({ "erased": true, "events": events }), 200)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PreviewRequest {
    site: String,
    experience: String,
    #[serde(default = "default_preview_minutes")]
    minutes: u32,
    /// A draft to preview instead of the active rulebook (the console's, before publishing).
    #[serde(default)]
    files: Option<BTreeMap<String, String>>,
    /// The shop page to open, `/` by default.
    #[serde(default = "default_preview_path")]
    path: String,
}

fn default_preview_minutes() -> u32 {
    60
}

fn default_preview_path() -> String {
    "/".to_owned()
}

/// `POST /v1/admin/previews`: a token that shows one experience on the site's pages (add
/// `?rapport_preview=TOKEN` to a page URL, or pass `preview` to `/v1/decide`), whoever
/// opens them, until it expires; with `files`, from that draft rather than the active
/// rulebook. The answer's `link` is `path` with the token, to open on the shop's origin.
pub async fn create_preview(
    req: Request,
    env: &Env,
    sites: &Sites,
    member: &Member,
) -> Result<Response, ApiError> {
    let body = read_body(req, MAX_RULEBOOK_BYTES).await?;
    let request: PreviewRequest = parse(&body, "")?;
    check_site(sites, &request.site)?;
    if !(1..=preview::MAX_MINUTES).contains(&request.minutes) {
        return Err(ApiError::bad(
            "minutes",
            format!("`minutes` is 1 to {}", preview::MAX_MINUTES),
        ));
    }
    if !request.path.starts_with('/') || request.path.starts_with("//") {
        return Err(ApiError::bad(
            "path",
            "`path` is a path on the shop, such as /products/linen-shirt",
        ));
    }
    let key = auth::preview_key(env)?;
    let expires = now_ms() / 1000 + i64::from(request.minutes) * 60;
    let (book, draft) = match &request.files {
        Some(files) => {
            let (rules, _) = rulebooks::split(files).map_err(|name| {
                ApiError::bad(
                    format!("files.{name}"),
                    "file names are NAME.rhai or tests/NAME.json",
                )
            })?;
            let book = rapport_rules::Rulebook::compile(&rules).map_err(|problems| {
                ApiError::bad(
                    "files",
                    format!(
                        "the draft does not compile; fix its errors first ({})",
                        problems
                            .first()
                            .map(ToString::to_string)
                            .unwrap_or_default()
                    ),
                )
            })?;
            (Rc::new(book), Some(files))
        }
        None => (
            rulebooks::latest(env)
                .await
                .context("compiling the active rulebook")?,
            None,
        ),
    };
    if !book.experience_ids().any(|id| id == request.experience) {
        let which = if draft.is_some() {
            "the draft"
        } else {
            "the active rulebook"
        };
        return Err(ApiError::bad(
            "experience",
            format!("{which} has no experience \"{}\"", request.experience),
        ));
    }
    // The draft is kept for as long as its newest link lives, only once the link is sound.
    let draft = match draft {
        Some(files) => Some(rulebooks::previewed::keep(env, &book, files, expires * 1000).await?),
        None => None,
    };
    let claims = preview::Claims {
        site: request.site.clone(),
        experience: request.experience.clone(),
        rulebook: draft.clone(),
        expires,
    };
    let token = preview::sign(&claims, &key);
    let separator = if request.path.contains('?') { '&' } else { '?' };
    let link = format!("{}{separator}rapport_preview={token}", request.path);
    let action = Action::CreatePreview {
        site: request.site,
        experience: request.experience.clone(),
        expires,
        draft: draft.clone(),
    };
    rulebooks::record(env, Some(member), action).await?;
    ok(
        &json!({ "token": token, "experience": request.experience, "expires": expires,
                 "draft": draft, "query": format!("rapport_preview={token}"), "link": link }),
        200,
    )
}

/// `GET /v1/admin/sites`: the sites this edge serves, with their shops' origins (empty for
/// a shop on the edge's own origin), for the console's site picker and preview links.
pub async fn list_sites(env: &Env, sites: &Sites) -> Result<Response, ApiError> {
    let list: Vec<serde_json::Value> = sites
        .list()
        .map(|(site, origins)| json!({ "site": site, "origins": origins }))
        .collect();
    // The shop's currency is the active rulebook's: money in the console is shown in it.
    let book = crate::objects::rulebooks::current(env)
        .await
        .map_err(|e| ApiError::internal("compiling the active rulebook", e))?;
    ok(
        &json!({ "sites": list, "currency": book.settings().currency }),
        200,
    )
}

/// `GET /v1/admin/reports?site=&from=&to=[&experience=]`: the daily aggregates.
pub async fn reports(req: &Request, env: &Env, sites: &Sites) -> Result<Response, ApiError> {
    let query: reports::Query = parse_query(req)?;
    check_site(sites, &query.site)?;
    super::analytics::check_period(&query.from, &query.to)?;
    ok(&reports::query(env, &query).await?, 200)
}

/// `POST /v1/admin/rulebooks`: checks and tests a rulebook, then makes it the active one;
/// or refuses it whole, saying why.
pub async fn publish(req: Request, env: &Env, member: &Member) -> Result<Response, ApiError> {
    #[derive(Deserialize)]
    struct PublishRequest {
        #[serde(flatten)]
        publish: Publish,
        /// The console publishes its draft: the draft goes in the same call, so that no one
        /// (a closed tab, a reader of the draft) ever sees it outlive the publish.
        #[serde(default)]
        discard_draft: bool,
    }
    let text = read_body(req, MAX_RULEBOOK_BYTES).await?;
    let request: PublishRequest = parse(&text, "")?;
    let published = rulebooks::publish(env, request.publish, member).await?;
    if request.discard_draft && matches!(published, Published::Stored(_)) {
        super::workspace::discard_draft(env).await?;
    }
    answer_published(published)
}

/// A publish's answer: 201 stored, 202 waiting for approval, or why it was refused.
fn answer_published(published: Published) -> Result<Response, ApiError> {
    match published {
        Published::Stored(version) => ok(&version, 201),
        Published::Requested(request) => ok(
            &json!({ "requested": request.id, "by": request.by, "note": request.note,
                     "requested_ms": request.requested_ms,
                     "message": "it passed its checks and tests, and waits for a second person's approval" }),
            202,
        ),
        Published::BadFileName(name) => Err(ApiError::bad(
            format!("files.{name}"),
            "file names are NAME.rhai for rules or tests/NAME.json for test cases",
        )),
        Published::DoesNotCompile(diagnostics) => Err(ApiError::Unprocessable {
            code: "invalid_rulebook",
            message: "the rulebook does not compile; nothing changed".to_owned(),
            detail: "diagnostics",
            why: json!(diagnostics),
        }),
        Published::TestsFailed {
            passed,
            failed,
            failures,
        } => Err(ApiError::Unprocessable {
            code: "tests_failed",
            message: format!("{failed} test case(s) failed; nothing changed"),
            detail: "tests",
            why: json!({ "passed": passed, "failed": failed, "failures": failures }),
        }),
    }
}

/// `GET /v1/admin/rulebooks/requests`: the publishes waiting for approval, with their files.
pub async fn requests(env: &Env) -> Result<Response, ApiError> {
    ok(&json!({ "requests": rulebooks::requests(env).await? }), 200)
}

fn request_id(id: &str) -> Result<i64, ApiError> {
    id.parse()
        .map_err(|_| ApiError::bad("id", "a waiting publish's id is a number"))
}

/// `POST /v1/admin/rulebooks/requests/{id}/approve`: a second person publishes a waiting
/// request (checked and tested again).
pub async fn approve(env: &Env, member: &Member, id: &str) -> Result<Response, ApiError> {
    match rulebooks::approve(env, request_id(id)?, member).await? {
        rulebooks::Approved::Done(published) => answer_published(published),
        rulebooks::Approved::NoSuch => Err(ApiError::no_such(
            "id",
            format!("no publish {id} is waiting; it was approved or withdrawn"),
        )),
        rulebooks::Approved::OwnRequest => Err(ApiError::forbidden(
            "id",
            "a publish is approved by someone other than whoever asked for it",
        )),
    }
}

/// `DELETE /v1/admin/rulebooks/requests/{id}`: withdraws or turns down a waiting publish.
pub async fn withdraw(env: &Env, member: &Member, id: &str) -> Result<Response, ApiError> {
    if rulebooks::withdraw(env, request_id(id)?, member).await? {
        ok(&json!({ "withdrawn": true }), 200)
    } else {
        Err(ApiError::no_such(
            "id",
            format!("no publish {id} is waiting"),
        ))
    }
}

/// `GET /v1/admin/settings`: how publishing works.
pub async fn settings(env: &Env) -> Result<Response, ApiError> {
    ok(&rulebooks::workflow(env).await?, 200)
}

/// `PUT /v1/admin/settings` `{"publish_approval": bool}`: whether a publish waits for a
/// second person's approval.
pub async fn set_settings(req: Request, env: &Env, member: &Member) -> Result<Response, ApiError> {
    let text = read_body(req, 1024).await?;
    let workflow: rulebooks::Workflow = parse(&text, "")?;
    rulebooks::set_workflow(env, workflow, member).await?;
    ok(&workflow, 200)
}

/// `GET /v1/admin/rulebooks`: the stored versions, newest first, and the active one.
pub async fn versions(env: &Env) -> Result<Response, ApiError> {
    ok(&rulebooks::versions(env).await?, 200)
}

fn version_id(id: &str) -> Result<i64, ApiError> {
    id.parse()
        .map_err(|_| ApiError::bad("id", "a rulebook version id is a number"))
}

/// `GET /v1/admin/rulebooks/{id}`: one version with its files.
pub async fn version(env: &Env, id: &str) -> Result<Response, ApiError> {
    let id = version_id(id)?;
    match rulebooks::version(env, id).await? {
        Some(version) => ok(&version, 200),
        None => Err(ApiError::NotFound),
    }
}

/// `GET /v1/admin/rulebooks/builtin`: the rulebook built into the edge, which decides until
/// a version is published, with its test cases (`{"id": null, "version", "files"}`).
pub fn builtin() -> Result<Response, ApiError> {
    let version = rulebooks::builtin_version()
        .map_err(|e| ApiError::internal("compiling the built-in rulebook", e))?;
    ok(
        &json!({ "id": null, "version": version, "files": rulebooks::builtin_files() }),
        200,
    )
}

/// `POST /v1/admin/rulebooks/{id}/activate`: makes a stored version the active one (a
/// rollback, for an older one).
pub async fn activate(env: &Env, member: &Member, id: &str) -> Result<Response, ApiError> {
    let id = version_id(id)?;
    match rulebooks::activate(env, id, member).await? {
        Some(activated) => ok(&activated, 200),
        None => Err(ApiError::NotFound),
    }
}

/// `GET /v1/admin/audit`: the newest 200 admin changes, newest first.
pub async fn audit(env: &Env) -> Result<Response, ApiError> {
    ok(&json!({ "entries": rulebooks::audit(env).await? }), 200)
}
