//! The `Rulebooks` Durable Object: the single writer of published rulebooks.
//!
//! One instance (named `rulebooks`) keeps every published version, which one is active, and
//! the audit log of every admin change (publishing here, erasing visitors elsewhere), in its
//! SQLite storage. A rulebook is compiled and its
//! own tests are run here before it is stored; one that fails changes nothing and comes back
//! as 422 with the diagnostics and the failing cases.

use std::cell::Cell;
use std::collections::BTreeMap;

use rapport_rules::testing::run_files;
use rapport_rules::{Rulebook, SourceFile};
use serde::{Deserialize, Serialize};
use serde_json::json;
use worker::{
    durable_object, DurableObject, Env, Request, Response, Result, SqlStorageValue, State,
};

use crate::visitor::now_ms;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS versions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    version TEXT NOT NULL,
    files TEXT NOT NULL,
    note TEXT NOT NULL,
    published_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS active (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    id INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms INTEGER NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL
);";

/// The object's name: there is exactly one.
pub const NAME: &str = "rulebooks";

/// A rulebook as published: file name to text. `*.rhai` files are the rules; `tests/*.json`
/// their test cases.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Publish {
    pub files: BTreeMap<String, String>,
    #[serde(default)]
    pub note: String,
}

/// The active version, as isolates poll for it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ActiveVersion {
    /// `None` until a rulebook is published: the built-in demo rulebook decides.
    pub id: Option<i64>,
}

/// One stored version with its files.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredVersion {
    pub id: i64,
    pub version: String,
    pub note: String,
    pub published_ms: i64,
    pub files: BTreeMap<String, String>,
}

/// An admin change made elsewhere (erasing a visitor), recorded in the same audit log.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuditEntry {
    pub action: String,
    pub detail: serde_json::Value,
}

#[derive(Deserialize)]
struct VersionRow {
    id: i64,
    version: String,
    note: String,
    published_ms: i64,
    /// Left out of listings.
    #[serde(default)]
    files: String,
}

#[derive(Deserialize)]
struct IdRow {
    id: i64,
}

#[allow(missing_debug_implementations)] // `State` is not `Debug`.
#[durable_object]
pub struct Rulebooks {
    state: State,
    schema_ready: Cell<bool>,
}

/// Splits published files into rule files and test files, refusing any other name.
pub fn split(
    files: &BTreeMap<String, String>,
) -> std::result::Result<(Vec<SourceFile>, Vec<SourceFile>), String> {
    let mut rules = Vec::new();
    let mut tests = Vec::new();
    for (name, text) in files {
        let simple = |n: &str| {
            !n.is_empty()
                && n.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        };
        match name.strip_prefix("tests/") {
            Some(test) if test.ends_with(".json") && simple(test) => {
                tests.push(SourceFile::new(name, text))
            }
            None if name.ends_with(".rhai") && simple(name) => {
                rules.push(SourceFile::new(name, text))
            }
            _ => return Err(name.clone()),
        }
    }
    Ok((rules, tests))
}

impl DurableObject for Rulebooks {
    fn new(state: State, _env: Env) -> Self {
        Rulebooks {
            state,
            schema_ready: Cell::new(false),
        }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        if !self.schema_ready.get() {
            self.state.storage().sql().exec(SCHEMA, None)?;
            self.schema_ready.set(true);
        }
        let path = req.path();
        match path.as_str() {
            "/publish" => {
                let publish: Publish = req.json().await?;
                self.publish(publish)
            }
            "/active" => Response::from_json(&ActiveVersion {
                id: self.active_id()?,
            }),
            "/record" => {
                let entry: AuditEntry = req.json().await?;
                self.audit(&entry.action, &entry.detail)?;
                Response::from_json(&json!({ "recorded": true }))
            }
            "/versions" => {
                let versions: Vec<serde_json::Value> = self
                    .rows("SELECT id, version, note, published_ms FROM versions ORDER BY id DESC LIMIT 100", None)?
                    .into_iter()
                    .map(|r| json!({ "id": r.id, "version": r.version, "note": r.note, "published_ms": r.published_ms }))
                    .collect();
                Response::from_json(&json!({ "active": self.active_id()?, "versions": versions }))
            }
            "/audit" => {
                #[derive(Deserialize)]
                struct Row {
                    at_ms: i64,
                    action: String,
                    detail: String,
                }
                let rows: Vec<Row> = self
                    .state
                    .storage()
                    .sql()
                    .exec(
                        "SELECT at_ms, action, detail FROM audit ORDER BY seq DESC LIMIT 200",
                        None,
                    )?
                    .to_array()?;
                let entries: Vec<serde_json::Value> = rows
                    .into_iter()
                    .map(|r| {
                        let detail: serde_json::Value = serde_json::from_str(&r.detail)
                            .unwrap_or(serde_json::Value::String(r.detail));
                        json!({ "at_ms": r.at_ms, "action": r.action, "detail": detail })
                    })
                    .collect();
                Response::from_json(&json!({ "entries": entries }))
            }
            other => {
                if let Some(id) = other
                    .strip_prefix("/versions/")
                    .and_then(|i| i.parse::<i64>().ok())
                {
                    return match self.version(id)? {
                        Some(version) => Response::from_json(&version),
                        None => Response::error("no such version", 404),
                    };
                }
                if let Some(id) = other
                    .strip_prefix("/activate/")
                    .and_then(|i| i.parse::<i64>().ok())
                {
                    return self.activate(id);
                }
                Response::error("not found", 404)
            }
        }
    }
}

impl Rulebooks {
    fn rows(&self, query: &str, bindings: Option<Vec<SqlStorageValue>>) -> Result<Vec<VersionRow>> {
        self.state.storage().sql().exec(query, bindings)?.to_array()
    }

    fn active_id(&self) -> Result<Option<i64>> {
        let rows: Vec<IdRow> = self
            .state
            .storage()
            .sql()
            .exec("SELECT id FROM active WHERE one = 1", None)?
            .to_array()?;
        Ok(rows.first().map(|r| r.id))
    }

    fn version(&self, id: i64) -> Result<Option<StoredVersion>> {
        let rows = self.rows(
            "SELECT id, version, note, published_ms, files FROM versions WHERE id = ?",
            Some(vec![id.into()]),
        )?;
        rows.into_iter()
            .next()
            .map(|row| {
                let files = serde_json::from_str(&row.files)
                    .map_err(|e| worker::Error::RustError(format!("stored rulebook {id}: {e}")))?;
                Ok(StoredVersion {
                    id: row.id,
                    version: row.version,
                    note: row.note,
                    published_ms: row.published_ms,
                    files,
                })
            })
            .transpose()
    }

    fn audit(&self, action: &str, detail: &serde_json::Value) -> Result<()> {
        self.state.storage().sql().exec(
            "INSERT INTO audit (at_ms, action, detail) VALUES (?, ?, ?)",
            vec![now_ms().into(), action.into(), detail.to_string().into()],
        )?;
        Ok(())
    }

    fn set_active(&self, id: i64) -> Result<()> {
        self.state.storage().sql().exec(
            "INSERT INTO active (one, id) VALUES (1, ?) ON CONFLICT(one) DO UPDATE SET id = excluded.id",
            vec![id.into()],
        )?;
        Ok(())
    }

    /// Compiles, tests, then stores and activates; or refuses with the reasons.
    fn publish(&self, publish: Publish) -> Result<Response> {
        let (rules, tests) = match split(&publish.files) {
            Ok(parts) => parts,
            Err(name) => {
                return Ok(Response::from_json(&json!({ "error": {
                    "code": "bad_request", "field": format!("files.{name}"),
                    "message": "file names are NAME.rhai for rules or tests/NAME.json for test cases",
                }}))?
                .with_status(400));
            }
        };
        let book = match Rulebook::compile(&rules) {
            Ok(book) => book,
            Err(problems) => {
                let diagnostics: Vec<serde_json::Value> = problems
                    .iter()
                    .map(|p| json!({ "file": p.file, "line": p.line, "col": p.col, "message": p.message, "text": p.to_string() }))
                    .collect();
                self.audit(
                    "publish_refused",
                    &json!({ "note": publish.note, "problems": diagnostics.len() }),
                )?;
                return Ok(Response::from_json(&json!({
                    "error": { "code": "invalid_rulebook", "message": "the rulebook does not compile; nothing changed" },
                    "diagnostics": diagnostics,
                }))?
                .with_status(422));
            }
        };
        let results = run_files(&book, &tests);
        let passed: usize = results.iter().map(|r| r.passed()).sum();
        let failed: usize = results.iter().map(|r| r.failed()).sum();
        if failed > 0 {
            let failures: Vec<serde_json::Value> = results
                .iter()
                .flat_map(|r| match &r.cases {
                    Err(message) => {
                        vec![json!({ "file": r.file, "case": null, "failures": [message] })]
                    }
                    Ok(cases) => cases
                        .iter()
                        .filter(|c| !c.passed())
                        .map(|c| json!({ "file": r.file, "case": c.name, "failures": c.failures }))
                        .collect(),
                })
                .collect();
            self.audit(
                "publish_refused",
                &json!({ "note": publish.note, "tests_failed": failed }),
            )?;
            return Ok(Response::from_json(&json!({
                "error": { "code": "tests_failed", "message": format!("{failed} test case(s) failed; nothing changed") },
                "tests": { "passed": passed, "failed": failed, "failures": failures },
            }))?
            .with_status(422));
        }
        let files = serde_json::to_string(&publish.files)
            .map_err(|e| worker::Error::RustError(e.to_string()))?;
        let published_ms = now_ms();
        let stored: IdRow = self
            .state
            .storage()
            .sql()
            .exec(
                "INSERT INTO versions (version, files, note, published_ms) VALUES (?, ?, ?, ?) RETURNING id",
                vec![
                    book.version().into(),
                    files.into(),
                    publish.note.as_str().into(),
                    published_ms.into(),
                ],
            )?
            .one()?;
        let id = stored.id;
        self.set_active(id)?;
        let summary = json!({
            "id": id, "version": book.version(), "note": publish.note,
            "rules": book.rules().count(), "segments": book.segment_names().count(), "tests_passed": passed,
        });
        self.audit("publish", &summary)?;
        Ok(Response::from_json(&summary)?.with_status(201))
    }

    /// Makes a stored version the active one: publishing an older id is a rollback.
    fn activate(&self, id: i64) -> Result<Response> {
        let Some(version) = self.version(id)? else {
            return Response::error("no such version", 404);
        };
        let previous = self.active_id()?;
        self.set_active(id)?;
        let detail = json!({ "id": id, "version": version.version, "previous": previous });
        self.audit("activate", &detail)?;
        Response::from_json(&detail)
    }
}
