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
    split, Activated, Approved, AuditEntry, Publish, PublishRequest, Published, PublishedVersion,
    RulebooksCall, StoredVersion, VersionSummary, Versions, Workflow,
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
);
CREATE TABLE IF NOT EXISTS workflow (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    publish_approval INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    by_name TEXT NOT NULL,
    note TEXT NOT NULL,
    requested_ms INTEGER NOT NULL,
    files TEXT NOT NULL
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

/// A rulebook that compiled and passed its tests, with its warnings.
struct Passed {
    book: rapport_rules::Rulebook,
    tests_passed: usize,
    warnings: Vec<serde_json::Value>,
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
            RulebooksCall::Workflow => respond(name, self.workflow()),
            RulebooksCall::SetWorkflow { workflow, by } => {
                respond(name, self.set_workflow(workflow, &by))
            }
            RulebooksCall::Requests => respond(name, self.requests(None)),
            RulebooksCall::Approve { id, by } => respond(name, self.approve(id, &by)),
            RulebooksCall::Withdraw { id, by } => respond(name, self.withdraw(id, &by)),
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

    fn workflow(&self) -> Result<Workflow> {
        #[derive(Deserialize)]
        struct Row {
            publish_approval: i64,
        }
        let rows: Vec<Row> = self
            .state
            .storage()
            .sql()
            .exec("SELECT publish_approval FROM workflow WHERE one = 1", None)?
            .to_array()
            .doing("reading the workflow")?;
        Ok(Workflow {
            publish_approval: rows.first().is_some_and(|r| r.publish_approval != 0),
        })
    }

    fn set_workflow(&self, workflow: Workflow, by: &str) -> Result<()> {
        self.state
            .storage()
            .sql()
            .exec(
                "INSERT INTO workflow (one, publish_approval) VALUES (1, ?)
                 ON CONFLICT(one) DO UPDATE SET publish_approval = excluded.publish_approval",
                vec![i64::from(workflow.publish_approval).into()],
            )
            .doing("storing the workflow")?;
        let action = Action::SetWorkflow {
            publish_approval: workflow.publish_approval,
        };
        self.audit(Some(by), &action)
    }

    /// The waiting publishes (or the one `id`), oldest first.
    fn requests(&self, id: Option<i64>) -> Result<Vec<PublishRequest>> {
        #[derive(Deserialize)]
        struct Row {
            id: i64,
            by_name: String,
            note: String,
            requested_ms: i64,
            files: String,
        }
        let rows: Vec<Row> = self
            .state
            .storage()
            .sql()
            .exec(
                "SELECT id, by_name, note, requested_ms, files FROM requests
                 WHERE ?1 IS NULL OR id = ?1 ORDER BY id",
                vec![id.into()],
            )?
            .to_array()
            .doing("reading the waiting publishes")?;
        rows.into_iter()
            .map(|r| {
                Ok(PublishRequest {
                    id: r.id,
                    by: r.by_name,
                    note: r.note,
                    requested_ms: r.requested_ms,
                    files: serde_json::from_str(&r.files).doing("decoding a waiting publish")?,
                })
            })
            .collect()
    }

    /// Publishes a waiting request for a second person, `by`.
    fn approve(&self, id: i64, by: &str) -> Result<Approved> {
        let Some(request) = self.requests(Some(id))?.pop() else {
            return Ok(Approved::NoSuch);
        };
        if request.by.eq_ignore_ascii_case(by) {
            return Ok(Approved::OwnRequest);
        }
        let publish = Publish {
            files: request.files,
            note: request.note,
        };
        let published = self.publish_now(publish, by)?;
        if let Published::Stored(version) = &published {
            self.drop_request(id)?;
            let action = Action::ApprovePublish {
                request: id,
                requested_by: request.by,
                id: version.id,
                version: version.version.clone(),
            };
            self.audit(Some(by), &action)?;
        }
        Ok(Approved::Done(published))
    }

    fn withdraw(&self, id: i64, by: &str) -> Result<bool> {
        let Some(request) = self.requests(Some(id))?.pop() else {
            return Ok(false);
        };
        self.drop_request(id)?;
        let action = Action::WithdrawPublish {
            request: id,
            requested_by: request.by,
        };
        self.audit(Some(by), &action)?;
        Ok(true)
    }

    fn drop_request(&self, id: i64) -> Result<()> {
        self.state
            .storage()
            .sql()
            .exec("DELETE FROM requests WHERE id = ?", vec![id.into()])
            .doing("removing a waiting publish")?;
        Ok(())
    }

    /// A publish: with the workflow's approval, it waits for a second person once it passes.
    fn publish(&self, publish: Publish, by: &str) -> Result<Published> {
        if !self.workflow()?.publish_approval {
            return self.publish_now(publish, by);
        }
        if let Err(refused) = self.assessed(&publish, by)? {
            return Ok(refused);
        }
        let files = encode(&publish.files).doing("encoding the files")?;
        let requested_ms = now_ms();
        let stored: IdRow = self
            .state
            .storage()
            .sql()
            .exec(
                "INSERT INTO requests (by_name, note, requested_ms, files) VALUES (?, ?, ?, ?) RETURNING id",
                vec![by.into(), publish.note.as_str().into(), requested_ms.into(), files.into()],
            )?
            .one()
            .doing("storing a waiting publish")?;
        let action = Action::RequestPublish {
            request: stored.id,
            note: publish.note.clone(),
        };
        self.audit(Some(by), &action)?;
        Ok(Published::Requested(PublishRequest {
            id: stored.id,
            by: by.to_owned(),
            note: publish.note,
            requested_ms,
            files: publish.files,
        }))
    }

    /// Compiles and tests: the rulebook with its tests passed and its warnings, or the
    /// refusal (recorded in the audit log).
    fn assessed(
        &self,
        publish: &Publish,
        by: &str,
    ) -> Result<std::result::Result<Passed, Published>> {
        let (rules, tests) = match split(&publish.files) {
            Ok(parts) => parts,
            Err(name) => return Ok(Err(Published::BadFileName(name))),
        };
        let assessment = super::assess::assess(&rules, &tests, now_ms());
        let (Some(book), Some(tested)) = (assessment.book, assessment.tests) else {
            self.audit(
                Some(by),
                &Action::PublishRefused {
                    note: publish.note.clone(),
                    problems: Some(assessment.errors),
                    tests_failed: None,
                },
            )?;
            return Ok(Err(Published::DoesNotCompile(assessment.diagnostics)));
        };
        if tested.failed > 0 {
            self.audit(
                Some(by),
                &Action::PublishRefused {
                    note: publish.note.clone(),
                    problems: None,
                    tests_failed: Some(tested.failed),
                },
            )?;
            return Ok(Err(Published::TestsFailed {
                passed: tested.passed,
                failed: tested.failed,
                failures: tested.failures,
            }));
        }
        Ok(Ok(Passed {
            book,
            tests_passed: tested.passed,
            warnings: assessment.diagnostics,
        }))
    }

    /// Compiles, tests, then stores and activates; or refuses with the reasons.
    fn publish_now(&self, publish: Publish, by: &str) -> Result<Published> {
        let Passed {
            book,
            tests_passed: passed,
            warnings: described,
        } = match self.assessed(&publish, by)? {
            Ok(passed) => passed,
            Err(refused) => return Ok(refused),
        };
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
