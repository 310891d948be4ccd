//! The `Rulebooks` Durable Object's calls and the functions the rest of the edge calls it
//! by. The object itself is in [`object`]; the compiled rulebook each isolate decides with,
//! kept fresh from the object, in [`current`]; drafts kept for preview links in
//! [`previewed`].

pub mod assess;
mod current;
mod object;
pub mod previewed;

pub use current::{builtin_files, builtin_version, current, latest};
pub use object::Rulebooks;

use std::rc::Rc;

use rapport_rules::Rulebook;

/// The rulebook a decision runs: the active one, or with `draft` a preview link's draft.
/// The outer error is the edge's trouble; the inner one says why the preview cannot be shown.
pub async fn deciding(
    env: &Env,
    draft: Option<&str>,
) -> Result<Result<Rc<Rulebook>, String>, String> {
    match draft {
        Some(id) => Ok(previewed::book(env, id).await),
        None => current(env).await.map(Ok),
    }
}

use std::collections::BTreeMap;

use rapport_rules::SourceFile;
use serde::{Deserialize, Serialize};
use worker::Env;

use super::{send, ObjectCall};
use crate::audit::Action;
use crate::error::ApiError;
use crate::team::Member;

/// The object's name: there is exactly one.
const NAME: &str = "rulebooks";

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RulebooksCall {
    /// Check, test, then store and activate: answers [`Published`]. `by` names who.
    Publish { publish: Publish, by: String },
    /// Answers [`ActiveVersion`].
    Active,
    /// Answers [`Versions`].
    Versions,
    /// Answers the version with its files, if there is one.
    Version { id: i64 },
    /// Make a stored version the active one: answers [`Activated`], if there is one.
    Activate { id: i64, by: String },
    /// Add to the audit log, done `by` a member (or by a shopper: `None`): answers nothing.
    Record { by: Option<String>, action: Action },
    /// Answers the newest entries of the audit log.
    Audit,
    /// Answers [`Workflow`].
    Workflow,
    /// Changes how publishing works: answers nothing.
    SetWorkflow { workflow: Workflow, by: String },
    /// Answers the publishes waiting for approval, oldest first: `Vec<PublishRequest>`.
    Requests,
    /// A second person approves a waiting publish: answers [`Approved`].
    Approve { id: i64, by: String },
    /// A waiting publish is withdrawn or turned down: answers whether it was waiting.
    Withdraw { id: i64, by: String },
}

impl ObjectCall for RulebooksCall {
    const BINDING: &'static str = "RULEBOOKS";

    fn object(&self) -> String {
        NAME.to_owned()
    }

    fn name(&self) -> &'static str {
        match self {
            RulebooksCall::Publish { .. } => "publish",
            RulebooksCall::Active => "active",
            RulebooksCall::Versions => "versions",
            RulebooksCall::Version { .. } => "version",
            RulebooksCall::Activate { .. } => "activate",
            RulebooksCall::Record { .. } => "record",
            RulebooksCall::Audit => "audit",
            RulebooksCall::Workflow => "workflow",
            RulebooksCall::SetWorkflow { .. } => "set_workflow",
            RulebooksCall::Requests => "requests",
            RulebooksCall::Approve { .. } => "approve",
            RulebooksCall::Withdraw { .. } => "withdraw",
        }
    }
}

/// A rulebook as published: file name to text. `*.rhai` files are the rules; `tests/*.json`
/// their test cases.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Publish {
    pub files: BTreeMap<String, String>,
    #[serde(default)]
    pub note: String,
}

/// How publishing works: whether a publish waits for a second person's approval.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Workflow {
    pub publish_approval: bool,
}

/// A publish waiting for a second person's approval. It passed its checks and tests when it
/// was asked for, and passes them again when it is approved.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PublishRequest {
    pub id: i64,
    pub by: String,
    pub note: String,
    pub requested_ms: i64,
    pub files: BTreeMap<String, String>,
}

/// What became of an approval.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Approved {
    Done(Published),
    NoSuch,
    /// Whoever asked cannot approve it too.
    OwnRequest,
}

/// What became of a publish.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Published {
    /// Stored and active.
    Stored(PublishedVersion),
    /// Passed, and waiting for a second person's approval (the workflow asks for one).
    Requested(PublishRequest),
    /// A file name is neither `NAME.rhai` nor `tests/NAME.json`.
    BadFileName(String),
    /// The rulebook does not compile: its diagnostics.
    DoesNotCompile(Vec<serde_json::Value>),
    /// Its own tests failed.
    TestsFailed {
        passed: usize,
        failed: usize,
        failures: Vec<serde_json::Value>,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PublishedVersion {
    pub id: i64,
    pub version: String,
    pub note: String,
    pub rules: usize,
    pub segments: usize,
    pub tests_passed: usize,
    /// What `rapport check` warns about in the published files (each with `file`, `line`,
    /// `col`, `severity`, `message` and `text`); they do not stop a publish.
    pub warnings: Vec<serde_json::Value>,
}

/// The active version, as isolates poll for it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ActiveVersion {
    /// `None` until a rulebook is published: the built-in demo rulebook decides.
    pub id: Option<i64>,
}

/// The stored versions, newest first, without their files.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Versions {
    pub active: Option<i64>,
    pub versions: Vec<VersionSummary>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VersionSummary {
    pub id: i64,
    pub version: String,
    pub note: String,
    pub published_ms: i64,
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

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Activated {
    pub id: i64,
    pub version: String,
    pub previous: Option<i64>,
}

/// One entry of the audit log.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuditEntry {
    pub at_ms: i64,
    /// The member who did it; `None` for a shopper's own erasure and entries from before
    /// the console had members.
    pub who: Option<String>,
    pub action: String,
    pub detail: serde_json::Value,
}

/// Splits published files into rule files and test files; `Err` names a file that is
/// neither.
pub fn split(
    files: &BTreeMap<String, String>,
) -> Result<(Vec<SourceFile>, Vec<SourceFile>), String> {
    let mut rules = Vec::new();
    let mut tests = Vec::new();
    let simple = |n: &str| {
        !n.is_empty()
            && n.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    };
    for (name, text) in files {
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

pub async fn publish(env: &Env, publish: Publish, by: &Member) -> Result<Published, ApiError> {
    let by = by.name.clone();
    send(env, &RulebooksCall::Publish { publish, by }).await
}

pub async fn active_version(env: &Env) -> Result<ActiveVersion, ApiError> {
    send(env, &RulebooksCall::Active).await
}

pub async fn versions(env: &Env) -> Result<Versions, ApiError> {
    send(env, &RulebooksCall::Versions).await
}

pub async fn version(env: &Env, id: i64) -> Result<Option<StoredVersion>, ApiError> {
    send(env, &RulebooksCall::Version { id }).await
}

pub async fn activate(env: &Env, id: i64, by: &Member) -> Result<Option<Activated>, ApiError> {
    let by = by.name.clone();
    send(env, &RulebooksCall::Activate { id, by }).await
}

/// Records an admin change in the audit log, done `by` a member (`None`: by a shopper).
pub async fn record(env: &Env, by: Option<&Member>, action: Action) -> Result<(), ApiError> {
    let by = by.map(|m| m.name.clone());
    send(env, &RulebooksCall::Record { by, action }).await
}

pub async fn audit(env: &Env) -> Result<Vec<AuditEntry>, ApiError> {
    send(env, &RulebooksCall::Audit).await
}

pub async fn workflow(env: &Env) -> Result<Workflow, ApiError> {
    send(env, &RulebooksCall::Workflow).await
}

pub async fn set_workflow(env: &Env, workflow: Workflow, by: &Member) -> Result<(), ApiError> {
    let by = by.name.clone();
    send(env, &RulebooksCall::SetWorkflow { workflow, by }).await
}

pub async fn requests(env: &Env) -> Result<Vec<PublishRequest>, ApiError> {
    send(env, &RulebooksCall::Requests).await
}

pub async fn approve(env: &Env, id: i64, by: &Member) -> Result<Approved, ApiError> {
    let by = by.name.clone();
    send(env, &RulebooksCall::Approve { id, by }).await
}

pub async fn withdraw(env: &Env, id: i64, by: &Member) -> Result<bool, ApiError> {
    let by = by.name.clone();
    send(env, &RulebooksCall::Withdraw { id, by }).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_files_are_rules_or_tests() {
        let files = |names: &[&str]| -> BTreeMap<String, String> {
            names
                .iter()
                .map(|n| (n.to_string(), String::new()))
                .collect()
        };
        let (rules, tests) = split(&files(&["a.rhai", "tests/a.json"])).unwrap();
        assert_eq!((rules.len(), tests.len()), (1, 1));
        for bad in [
            "notes.txt",
            "tests/a.rhai",
            "../a.rhai",
            "sub/a.rhai",
            "tests/x/a.json",
        ] {
            assert_eq!(split(&files(&[bad])), Err(bad.to_owned()), "{bad}");
        }
    }
}
