//! The console's workspace calls, for the team (saving the draft takes an editor):
//! - checking a draft as the marketer types (`POST /v1/admin/check`: compiled with every
//!   check and its tests run, by the same code as a publish, storing nothing), with the
//!   rulebook's outline to browse;
//! - the draft itself, saved at the edge so that a lost tab loses nothing
//!   (`GET`/`PUT`/`DELETE /v1/admin/draft`);
//! - the visitor's fields for the editor's completion (`GET /v1/admin/fields`);
//! - simulating the draft for a persona (`POST /v1/admin/simulate`);
//! - the draft's impact on the visitor sample (`POST /v1/admin/impact`);
//! - what changes between two rulebooks, rule by rule (`POST /v1/admin/changes`).
//!
//! Checking at the edge costs a round trip per pause in typing (the demo rulebook compiles
//! and tests in about 5 ms there); compiling the rules crate to wasm for the console would
//! save it but add about 450 KB gzipped (Rhai with its syntax-tree internals) to the
//! console's download, and a second copy of the checks to keep in step.

use std::collections::BTreeMap;

use rapport_rules::view::{Field, MODEL};
use serde::Deserialize;
use serde_json::{json, Value};
use worker::{Env, Request, Response};

use crate::aggregates::database;
use crate::clock::now_ms;
use crate::error::{ApiError, Context};
use crate::http::{json_response, parse, read_body};
use crate::objects::rulebooks::{assess, split};
use crate::sites::Sites;

use super::check_site;

/// A rulebook's files at most, with their tests (as for publishing).
const MAX_FILES_BYTES: usize = 900 * 1024;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Files {
    files: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Draft {
    files: BTreeMap<String, String>,
    /// The version the draft started from.
    #[serde(default)]
    base: Option<i64>,
}

fn split_files(
    files: &BTreeMap<String, String>,
) -> Result<
    (
        Vec<rapport_rules::SourceFile>,
        Vec<rapport_rules::SourceFile>,
    ),
    ApiError,
> {
    split(files).map_err(|name| {
        ApiError::bad(
            format!("files.{name}"),
            "file names are NAME.rhai for rules or tests/NAME.json for test cases",
        )
    })
}

/// `POST /v1/admin/check` `{"files": {...}}`: what publishing these files would say.
pub async fn check(req: Request) -> Result<Response, ApiError> {
    let body = read_body(req, MAX_FILES_BYTES).await?;
    let Files { files } = parse(&body, "")?;
    let (rules, tests) = split_files(&files)?;
    let assessment = assess::assess(&rules, &tests, now_ms());
    let tests = assessment
        .tests
        .as_ref()
        .map(|t| json!({ "passed": t.passed, "failed": t.failed, "failures": t.failures }));
    let publishable =
        assessment.errors == 0 && assessment.tests.as_ref().is_some_and(|t| t.failed == 0);
    // What the marketer browses: every segment and rule, where it is written, and what it
    // shows; absent while the draft does not compile.
    let outline = assessment
        .book
        .as_ref()
        .map(rapport_rules::Rulebook::outline);
    Ok(json_response(
        &json!({
            "publishable": publishable,
            "errors": assessment.errors,
            "diagnostics": assessment.diagnostics,
            "tests": tests,
            "outline": outline,
        }),
        200,
    ))
}

/// `GET /v1/admin/draft`: the saved draft, or `{"draft": null}`.
pub async fn get_draft(env: &Env) -> Result<Response, ApiError> {
    #[derive(Deserialize)]
    struct Row {
        files: String,
        base: Option<f64>,
        saved_ms: f64,
    }
    let db = database(env)?;
    let row: Option<Row> = db
        .prepare("SELECT files, base, saved_ms FROM console_drafts WHERE one = 1")
        .first(None)
        .await
        .context("reading the draft")?;
    let draft = match row {
        Some(row) => json!({
            "files": serde_json::from_str::<Value>(&row.files).context("reading the draft's files")?,
            "base": row.base.map(|b| b as i64),
            "saved_ms": row.saved_ms as i64,
        }),
        None => Value::Null,
    };
    Ok(json_response(&json!({ "draft": draft }), 200))
}

/// `PUT /v1/admin/draft` `{"files": {...}, "base": 3}`: keeps the draft (never live).
pub async fn put_draft(req: Request, env: &Env) -> Result<Response, ApiError> {
    let body = read_body(req, MAX_FILES_BYTES).await?;
    let draft: Draft = parse(&body, "")?;
    split_files(&draft.files)?;
    // A draft of an older version than the active one would undo what was published since
    // (a save from a tab left open, or arriving after a publish).
    let active = crate::objects::rulebooks::active_version(env).await?.id;
    if draft.base != active {
        let said = |v: Option<i64>| {
            v.map_or_else(
                || "the built-in rulebook".to_owned(),
                |v| format!("version {v}"),
            )
        };
        return Err(ApiError::Conflict {
            field: "base".into(),
            message: format!(
                "this draft started from {}, but {} is active now; reload to start from it (copy what you wrote first)",
                said(draft.base),
                said(active)
            ),
        });
    }
    let saved = now_ms();
    let files = serde_json::to_string(&draft.files).context("encoding the draft")?;
    let db = database(env)?;
    db.prepare(
        "INSERT INTO console_drafts (one, files, base, saved_ms) VALUES (1, ?, ?, ?)
         ON CONFLICT (one) DO UPDATE SET files = excluded.files, base = excluded.base,
         saved_ms = excluded.saved_ms",
    )
    .bind(&[
        files.into(),
        draft
            .base
            .map_or(wasm_bindgen::JsValue::NULL, |b| (b as f64).into()),
        (saved as f64).into(),
    ])
    .context("binding the draft")?
    .run()
    .await
    .context("saving the draft")?;
    Ok(json_response(&json!({ "saved_ms": saved }), 200))
}

/// `DELETE /v1/admin/draft`: discards the draft (to start again).
pub async fn delete_draft(env: &Env) -> Result<Response, ApiError> {
    discard_draft(env).await?;
    Ok(json_response(&json!({ "draft": null }), 200))
}

/// Discards the draft: on request, or once the console has published it.
pub async fn discard_draft(env: &Env) -> Result<(), ApiError> {
    let db = database(env)?;
    db.prepare("DELETE FROM console_drafts")
        .run()
        .await
        .context("discarding the draft")?;
    Ok(())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Simulation {
    /// The site whose catalogue fills learnt recommendations; without it their rows stay
    /// requests.
    #[serde(default)]
    site: Option<String>,
    files: BTreeMap<String, String>,
    /// A visitor as test cases write one (relative times such as `"-3d"` allowed).
    visitor: Value,
    page: rapport_protocol::PageContext,
}

/// `POST /v1/admin/simulate` `{"site", "files", "visitor", "page"}`: what the draft would
/// decide for that visitor on that page, with every segment and the per-rule trace (the full
/// report of `rapport decide --explain`), and learnt recommendations filled from the site's
/// catalogue, each product with its reason. Stores nothing and records nothing.
pub async fn simulate(req: Request, env: &Env, sites: &Sites) -> Result<Response, ApiError> {
    let body = read_body(req, MAX_FILES_BYTES).await?;
    let simulation: Simulation = parse(&body, "")?;
    let (rules, _) = split_files(&simulation.files)?;
    let now = now_ms();
    let visitor = rapport_rules::testing::parse_visitor(&simulation.visitor.to_string(), now)
        .map_err(|message| ApiError::bad("visitor", message))?;
    let book = compile_draft(&rules)?;
    let mut report = rapport_rules::decide(&book, &visitor, &simulation.page, now);
    let fills = crate::objects::catalogue::slots(&mut report.decision.experiences);
    let mut body = serde_json::to_string(&report).context("encoding the simulation")?;
    if let Some(site) = &simulation.site {
        check_site(sites, site)?;
        body = crate::objects::catalogue::fill(env, site, body, &fills, now).await;
    }
    let body: Value = serde_json::from_str(&body).context("encoding the simulation")?;
    Ok(json_response(&body, 200))
}

/// The draft compiled, or a 422 answer listing why it does not compile.
fn compile_draft(rules: &[rapport_rules::SourceFile]) -> Result<rapport_rules::Rulebook, ApiError> {
    rapport_rules::Rulebook::compile(rules).map_err(|problems| ApiError::Unprocessable {
        code: "invalid_rulebook",
        message: "the draft does not compile; fix its errors first".to_owned(),
        detail: "diagnostics",
        why: problems.iter().map(assess::describe).collect(),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ImpactRequest {
    site: String,
    files: BTreeMap<String, String>,
}

/// `POST /v1/admin/impact` `{"site", "files"}`: the active rulebook and the draft run over
/// the site's visitor sample (its most recently active consented visitors, see `sample`):
/// per experience, how many of them see it now and would after publishing. Stores nothing.
pub async fn impact(req: Request, env: &Env, sites: &Sites) -> Result<Response, ApiError> {
    let body = read_body(req, MAX_FILES_BYTES).await?;
    let request: ImpactRequest = parse(&body, "")?;
    check_site(sites, &request.site)?;
    let (rules, _) = split_files(&request.files)?;
    let draft = compile_draft(&rules)?;
    let active = crate::objects::rulebooks::latest(env)
        .await
        .context("compiling the active rulebook")?;
    let sample = crate::sample::read(env, &request.site).await?;
    let impact = rapport_rules::impact::impact(&active, &draft, &sample);
    let newest = sample.first().map(|s| s.at_ms);
    let oldest = sample.last().map(|s| s.at_ms);
    let mut body = serde_json::to_value(&impact).context("encoding the impact")?;
    body["site"] = request.site.into();
    body["limit"] = crate::sample::SIZE.into();
    body["oldest_ms"] = oldest.into();
    body["newest_ms"] = newest.into();
    Ok(json_response(&body, 200))
}

fn fields(model: &[(&str, Field)]) -> Vec<Value> {
    model
        .iter()
        .map(|(name, field)| match field {
            Field::Value(kind) => json!({ "name": name, "kind": kind }),
            Field::Object(inner) => {
                json!({ "name": name, "kind": "record", "fields": fields(inner) })
            }
            Field::Entries(inner) => {
                json!({ "name": name, "kind": "list", "fields": fields(inner) })
            }
            Field::Open => json!({ "name": name, "kind": "map" }),
        })
        .collect()
}

/// `GET /v1/admin/fields`: the visitor's fields (`v.…`) as rules read them.
pub fn visitor_fields() -> Result<Response, ApiError> {
    Ok(json_response(&json!({ "fields": fields(MODEL) }), 200))
}

/// One side of a comparison: a stored version by id, `"active"`, `"builtin"`, or files.
#[derive(Deserialize)]
#[serde(untagged)]
enum Which {
    Version(i64),
    Named(String),
    Files { files: BTreeMap<String, String> },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangesRequest {
    from: Which,
    to: Which,
}

/// The files of one side of a comparison.
async fn files_of(
    env: &Env,
    which: Which,
    field: &str,
) -> Result<BTreeMap<String, String>, ApiError> {
    use crate::objects::rulebooks;
    let id = match which {
        Which::Files { files } => return Ok(files),
        Which::Version(id) => Some(id),
        Which::Named(name) if name == "active" => rulebooks::active_version(env).await?.id,
        Which::Named(name) if name == "builtin" => None,
        Which::Named(name) => {
            return Err(ApiError::bad(
                field,
                format!("\"{name}\" is no rulebook: a version id, \"active\", \"builtin\" or {{\"files\": ...}}"),
            ))
        }
    };
    match id {
        None => Ok(rulebooks::builtin_files()),
        Some(id) => rulebooks::version(env, id)
            .await?
            .map(|version| version.files)
            .ok_or_else(|| ApiError::no_such(field, format!("there is no version {id}"))),
    }
}

/// `POST /v1/admin/changes` `{"from", "to"}`: what changes from one rulebook to another, rule
/// by rule and segment by segment (each side a version id, `"active"`, `"builtin"` or
/// `{"files": ...}`). What a publish or a rollback shows before it asks, and a diff opens with.
pub async fn changes(req: Request, env: &Env) -> Result<Response, ApiError> {
    let body = read_body(req, 2 * MAX_FILES_BYTES).await?;
    let request: ChangesRequest = parse(&body, "")?;
    let before = files_of(env, request.from, "from").await?;
    let after = files_of(env, request.to, "to").await?;
    let old = compile_draft(&split_files(&before)?.0)?;
    let new = compile_draft(&split_files(&after)?.0)?;
    let changes = rapport_rules::changes(
        rapport_rules::Side {
            book: &old,
            files: &before,
        },
        rapport_rules::Side {
            book: &new,
            files: &after,
        },
    );
    let mut body = serde_json::to_value(&changes).context("encoding the changes")?;
    body["from_version"] = old.version().into();
    body["to_version"] = new.version().into();
    Ok(json_response(&body, 200))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SampleQuery {
    site: String,
}

/// How many recent visitors the console offers as starting points for a persona.
const RECENT_VISITORS: usize = 20;

/// A sampled profile as a persona to start from: what rules read about the visitor's
/// behaviour, without who they are (no visitor, session or customer id, no traits, no
/// comment they wrote).
fn as_persona(profile: &rapport_rules::Profile, index: usize) -> Result<Value, ApiError> {
    let mut persona = serde_json::to_value(profile).context("encoding a sampled visitor")?;
    if let Some(fields) = persona.as_object_mut() {
        for private in ["customer_id", "traits", "session_id", "prompts"] {
            fields.remove(private);
        }
        fields.insert(
            "visitor_id".to_owned(),
            format!("recent-visitor-{index}").into(),
        );
        for survey in ["nps", "csat"] {
            if let Some(answer) = fields.get_mut(survey).and_then(Value::as_object_mut) {
                answer.remove("comment");
            }
        }
    }
    Ok(persona)
}

/// `GET /v1/admin/sample?site=`: the site's most recently active visitors in the sample, as
/// personas to simulate with (without who they are), newest first.
pub async fn recent_visitors(
    req: &Request,
    env: &Env,
    sites: &Sites,
) -> Result<Response, ApiError> {
    let query: SampleQuery = crate::http::parse_query(req)?;
    check_site(sites, &query.site)?;
    let sample = crate::sample::read(env, &query.site).await?;
    let visitors = sample
        .iter()
        .take(RECENT_VISITORS)
        .enumerate()
        .map(|(index, sampled)| {
            Ok(json!({ "at_ms": sampled.at_ms, "visitor": as_persona(&sampled.profile, index + 1)? }))
        })
        .collect::<Result<Vec<Value>, ApiError>>()?;
    Ok(json_response(
        &json!({ "site": query.site, "visitors": visitors }),
        200,
    ))
}
