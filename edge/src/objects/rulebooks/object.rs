//! The `Rulebooks` Durable Object: the single writer of published rulebooks.
//!
//! One instance keeps every published version, which one is active, and the audit log of
//! every admin change (publishing here, erasing visitors and previews elsewhere), in its
//! SQLite storage. A rulebook is compiled and its own tests are run here before it is
//! stored; one that fails changes nothing, and the answer says why.

use std::cell::Cell;

use serde::Deserialize;
use worker::{durable_object, DurableObject, Env, Request, Response, Result, State};

use super::{
    split, Activated, AuditEntry, Publish, Published, PublishedVersion, RulebooksCall,
    StoredVersion, VersionSummary, Versions,
};
use crate::audit::Action;
use crate::clock::now_ms;
use crate::error::Context;
use crate::objects::{encode, receive, respond, ObjectCall as _};

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

impl DurableObject for Rulebooks {
    fn new(state: State, _env: Env) -> Self {
        Rulebooks {
            state,
            schema_ready: Cell::new(false),
        }
    }

    async fn fetch(&self, req: Request) -> Result<Response> {
        let call: RulebooksCall = receive(req).await?;
        let name = call.name();
        crate::objects::ensure_schema(&self.state, &self.schema_ready, SCHEMA, "rulebook")?;
        match call {
            RulebooksCall::Publish { publish, by } => respond(name, self.publish(publish, &by)),
            RulebooksCall::Active => {
                respond(name, self.active_id().map(|id| super::ActiveVersion { id }))
            }
            RulebooksCall::Versions => respond(name, self.versions()),
            RulebooksCall::Version { id } => respond(name, self.version(id)),
            RulebooksCall::Activate { id, by } => respond(name, self.activate(id, &by)),
            RulebooksCall::Record { by, action } => {
                respond(name, self.audit(by.as_deref(), &action))
            }
            RulebooksCall::Audit => respond(name, self.audit_entries()),
        }
    }
}

impl Rulebooks {
    fn active_id(&self) -> Result<Option<i64>> {
        let rows: Vec<IdRow> = self
            .state
            .storage()
            .sql()
            .exec("SELECT id FROM active WHERE one = 1", None)?
            .to_array()
            .doing("reading the active version")?;
        Ok(rows.first().map(|r| r.id))
    }

    fn versions(&self) -> Result<Versions> {
        let rows: Vec<VersionRow> = self
            .state
            .storage()
            .sql()
            .exec(
                "SELECT id, version, note, published_ms FROM versions ORDER BY id DESC LIMIT 100",
                None,
            )?
            .to_array()
            .doing("listing versions")?;
        let versions = rows
            .into_iter()
            .map(|r| VersionSummary {
                id: r.id,
                version: r.version,
                note: r.note,
                published_ms: r.published_ms,
            })
            .collect();
        Ok(Versions {
            active: self.active_id()?,
            versions,
        })
    }

    fn version(&self, id: i64) -> Result<Option<StoredVersion>> {
        let rows: Vec<VersionRow> = self
            .state
            .storage()
            .sql()
            .exec(
                "SELECT id, version, note, published_ms, files FROM versions WHERE id = ?",
                vec![id.into()],
            )?
            .to_array()
            .doing(format_args!("reading version {id}"))?;
        rows.into_iter()
            .next()
            .map(|row| {
                let files = serde_json::from_str(&row.files)
                    .doing(format_args!("reading the files of version {id}"))?;
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

    /// Adds an entry; who did it is kept in the detail as `who` (the table predates it).
    fn audit(&self, by: Option<&str>, action: &Action) -> Result<()> {
        let (name, mut detail) = action.entry();
        if let (Some(by), Some(fields)) = (by, detail.as_object_mut()) {
            fields.insert("who".to_owned(), by.into());
        }
        self.state
            .storage()
            .sql()
            .exec(
                "INSERT INTO audit (at_ms, action, detail) VALUES (?, ?, ?)",
                vec![now_ms().into(), name.into(), detail.to_string().into()],
            )
            .doing("writing the audit log")?;
        Ok(())
    }

    fn audit_entries(&self) -> Result<Vec<AuditEntry>> {
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
            .to_array()
            .doing("reading the audit log")?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let mut detail =
                    serde_json::from_str(&r.detail).unwrap_or(serde_json::Value::String(r.detail));
                let who = detail
                    .as_object_mut()
                    .and_then(|fields| fields.remove("who"))
                    .and_then(|who| who.as_str().map(str::to_owned));
                AuditEntry {
                    at_ms: r.at_ms,
                    who,
                    action: r.action,
                    detail,
                }
            })
            .collect())
    }

    fn set_active(&self, id: i64) -> Result<()> {
        self.state.storage().sql().exec(
            "INSERT INTO active (one, id) VALUES (1, ?) ON CONFLICT(one) DO UPDATE SET id = excluded.id",
            vec![id.into()],
        ).doing("moving the active pointer")?;
        Ok(())
    }

    /// Compiles, tests, then stores and activates; or refuses with the reasons.
    fn publish(&self, publish: Publish, by: &str) -> Result<Published> {
        let (rules, tests) = match split(&publish.files) {
            Ok(parts) => parts,
            Err(name) => return Ok(Published::BadFileName(name)),
        };
        let assessment = super::assess::assess(&rules, &tests, now_ms());
        let (Some(book), Some(tested)) = (assessment.book, assessment.tests) else {
            self.audit(
                Some(by),
                &Action::PublishRefused {
                    note: publish.note,
                    problems: Some(assessment.errors),
                    tests_failed: None,
                },
            )?;
            return Ok(Published::DoesNotCompile(assessment.diagnostics));
        };
        let described = assessment.diagnostics;
        let (passed, failed) = (tested.passed, tested.failed);
        if failed > 0 {
            self.audit(
                Some(by),
                &Action::PublishRefused {
                    note: publish.note,
                    problems: None,
                    tests_failed: Some(failed),
                },
            )?;
            return Ok(Published::TestsFailed {
                passed,
                failed,
                failures: tested.failures,
            });
        }
        let files = encode(&publish.files).doing("encoding the files")?;
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
                    now_ms().into(),
                ],
            )?
            .one()
            .doing("storing the version")?;
        self.set_active(stored.id)?;
        let version = PublishedVersion {
            id: stored.id,
            version: book.version().to_owned(),
            note: publish.note,
            rules: book.rules().count(),
            segments: book.segment_names().count(),
            tests_passed: passed,
            warnings: described,
        };
        self.audit(
            Some(by),
            &Action::Publish {
                id: version.id,
                version: version.version.clone(),
                note: version.note.clone(),
                rules: version.rules,
                segments: version.segments,
                tests_passed: version.tests_passed,
            },
        )?;
        Ok(Published::Stored(version))
    }

    /// Makes a stored version the active one: publishing an older id is a rollback.
    fn activate(&self, id: i64, by: &str) -> Result<Option<Activated>> {
        let Some(version) = self.version(id)? else {
            return Ok(None);
        };
        let previous = self.active_id()?;
        self.set_active(id)?;
        let activated = Activated {
            id,
            version: version.version,
            previous,
        };
        self.audit(
            Some(by),
            &Action::Activate {
                id,
                version: activated.version.clone(),
                previous,
            },
        )?;
        Ok(Some(activated))
    }
}
