//! Drafts kept for preview links, in D1 (binding `REPORTS`): a marketer previews a rule on
//! the real shop before publishing it, so the link's decisions need the draft, not the
//! active rulebook. A draft is stored under its content hash (the same files give the same
//! id) for as long as its newest link lives, and compiled once per isolate that serves it.
//! It never decides for anyone without a preview link.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use rapport_rules::Rulebook;
use serde::Deserialize;
use worker::Env;

use crate::aggregates::database;
use crate::clock::now_ms;
use crate::error::{ApiError, Context};

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS preview_rulebooks (
    id TEXT PRIMARY KEY, files TEXT NOT NULL, expires_ms INTEGER NOT NULL)";

/// Compiled drafts an isolate keeps, the most recent last.
const KEPT: usize = 4;

thread_local! {
    static COMPILED: RefCell<Vec<(String, Rc<Rulebook>)>> = const { RefCell::new(Vec::new()) };
}

/// Keeps `files` (a compiled draft, `book`) for previews until `expires_ms`; gives its id.
/// Drafts whose links have all expired are removed.
pub async fn keep(
    env: &Env,
    book: &Rulebook,
    files: &BTreeMap<String, String>,
    expires_ms: i64,
) -> Result<String, ApiError> {
    let id = book.version().to_owned();
    let text = serde_json::to_string(files).context("encoding the previewed draft")?;
    let db = database(env)?;
    db.batch(vec![
        db.prepare(SCHEMA),
        db.prepare("DELETE FROM preview_rulebooks WHERE expires_ms < ?")
            .bind(&[(now_ms() as f64).into()])
            .context("binding the expiry")?,
        db.prepare(
            "INSERT INTO preview_rulebooks (id, files, expires_ms) VALUES (?, ?, ?)
             ON CONFLICT (id) DO UPDATE SET expires_ms = MAX(expires_ms, excluded.expires_ms)",
        )
        .bind(&[id.as_str().into(), text.into(), (expires_ms as f64).into()])
        .context("binding the previewed draft")?,
    ])
    .await
    .context("keeping the draft for previews")?;
    Ok(id)
}

/// The draft `id`, compiled; an error says why a link to it cannot be shown.
pub async fn book(env: &Env, id: &str) -> Result<Rc<Rulebook>, String> {
    #[derive(Deserialize)]
    struct Row {
        files: String,
    }
    let cached = COMPILED.with(|c| {
        c.borrow()
            .iter()
            .find(|(kept, _)| kept == id)
            .map(|(_, book)| Rc::clone(book))
    });
    if let Some(book) = cached {
        return Ok(book);
    }
    let unavailable =
        |e: &dyn std::fmt::Debug| format!("the previewed draft cannot be read: {e:?}");
    let db = database(env).map_err(|e| unavailable(&e))?;
    db.prepare(SCHEMA)
        .run()
        .await
        .map_err(|e| unavailable(&e))?;
    let row: Option<Row> = db
        .prepare("SELECT files FROM preview_rulebooks WHERE id = ?")
        .bind(&[id.into()])
        .map_err(|e| unavailable(&e))?
        .first(None)
        .await
        .map_err(|e| unavailable(&e))?;
    let row = row.ok_or("the previewed draft is no longer kept (its links have expired)")?;
    let files: BTreeMap<String, String> =
        serde_json::from_str(&row.files).map_err(|e| unavailable(&e))?;
    let (rules, _) = super::split(&files).map_err(|name| format!("previewed file {name}"))?;
    // It compiled with every check when its link was made.
    let book = super::current::compile(&rules)?;
    COMPILED.with(|c| {
        let mut kept = c.borrow_mut();
        if kept.len() == KEPT {
            kept.remove(0);
        }
        kept.push((id.to_owned(), Rc::clone(&book)));
    });
    Ok(book)
}
