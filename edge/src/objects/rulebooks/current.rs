//! The active rulebook, compiled once per isolate and shared by every request it serves.
//!
//! Each isolate asks the `Rulebooks` object which version is active at most every
//! [`CHECK_EVERY_MS`], so a publish or a rollback reaches every isolate within seconds; the
//! rulebook itself is fetched and compiled only when the active version changes. Until a
//! rulebook is published, the demo rulebook built into the edge decides. If the object cannot
//! be reached, the isolate keeps deciding with what it has.

use std::cell::{OnceCell, RefCell};
use std::rc::Rc;

use rapport_rules::{Rulebook, SourceFile};
use worker::Env;

use crate::clock::now_ms;

include!(concat!(env!("OUT_DIR"), "/builtin_rulebook.rs"));

/// How stale an isolate's idea of the active version may get.
pub const CHECK_EVERY_MS: i64 = 5_000;

struct Cached {
    /// `None` for the built-in rulebook.
    id: Option<i64>,
    book: Rc<Rulebook>,
    checked_ms: i64,
}

thread_local! {
    static BUILTIN: OnceCell<Result<Rc<Rulebook>, String>> = const { OnceCell::new() };
    static CACHE: RefCell<Option<Cached>> = const { RefCell::new(None) };
}

fn builtin() -> Result<Rc<Rulebook>, String> {
    BUILTIN.with(|cell| {
        cell.get_or_init(|| {
            let files: Vec<SourceFile> = BUILTIN_RULEBOOK
                .iter()
                .map(|(name, text)| SourceFile::new(*name, *text))
                .collect();
            compile(&files)
        })
        .clone()
    })
}

/// The built-in rulebook's files with its test cases, as a publish takes them: where the
/// console's workspace starts before anything is published.
pub fn builtin_files() -> std::collections::BTreeMap<String, String> {
    BUILTIN_RULEBOOK
        .iter()
        .chain(BUILTIN_TESTS)
        .map(|(name, text)| ((*name).to_owned(), (*text).to_owned()))
        .collect()
}

/// The built-in rulebook's version (its content hash), compiled once per isolate.
pub fn builtin_version() -> Result<String, String> {
    builtin().map(|book| book.version().to_owned())
}

/// Stored versions passed every check when they were published, and the built-in one passes
/// them in the tests: serving loads them without the checks that only produce diagnostics.
pub(super) fn compile(files: &[SourceFile]) -> Result<Rc<Rulebook>, String> {
    Rulebook::load(files).map(Rc::new).map_err(|problems| {
        problems
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    })
}

/// The rulebook the isolate already has (or the built-in one), checked again after the next
/// interval rather than on every request.
fn keep_current(now: i64) -> Result<Rc<Rulebook>, String> {
    let kept = CACHE.with(|c| {
        c.borrow_mut().as_mut().map(|cached| {
            cached.checked_ms = now;
            Rc::clone(&cached.book)
        })
    });
    match kept {
        Some(book) => Ok(book),
        None => builtin(),
    }
}

async fn load(env: &Env, id: i64) -> Result<Rc<Rulebook>, String> {
    let stored = super::version(env, id)
        .await
        .map_err(|e| format!("{e:?}"))?
        .ok_or_else(|| format!("the store has no version {id}"))?;
    let (rules, _) = super::split(&stored.files).map_err(|name| format!("stored file {name}"))?;
    compile(&rules)
}

/// The active rulebook, asking the store even within the interval: for admin calls that
/// must not lag a publish made a moment ago (the impact of a draft, a preview link).
pub async fn latest(env: &Env) -> Result<Rc<Rulebook>, String> {
    CACHE.with(|c| {
        if let Some(cached) = c.borrow_mut().as_mut() {
            cached.checked_ms = i64::MIN / 2;
        }
    });
    current(env).await
}

/// The rulebook that decides now.
pub async fn current(env: &Env) -> Result<Rc<Rulebook>, String> {
    let now = now_ms();
    let (cached_id, cached_book) = CACHE.with(|c| match c.borrow().as_ref() {
        Some(cached) if now - cached.checked_ms < CHECK_EVERY_MS => {
            (Some(cached.id), Some(Rc::clone(&cached.book)))
        }
        Some(cached) => (Some(cached.id), None),
        None => (None, None),
    });
    if let Some(book) = cached_book {
        return Ok(book);
    }
    let active = match super::active_version(env).await {
        Ok(active) => active.id,
        Err(err) => {
            worker::console_warn!(
                "cannot reach the rulebook store, keeping the current rulebook: {err:?}"
            );
            return keep_current(now);
        }
    };
    let book = match (cached_id, active) {
        (Some(known), _) if known == active => {
            CACHE.with(|c| c.borrow().as_ref().map(|cached| Rc::clone(&cached.book)))
        }
        _ => None,
    };
    let book = match (book, active) {
        (Some(book), _) => book,
        (None, None) => builtin()?,
        (None, Some(id)) => match load(env, id).await {
            Ok(book) => book,
            Err(err) => {
                // A version this build cannot load (unreachable store, or a rulebook an
                // older build accepted) must not stop decisions: keep the current one and
                // try again at the next check.
                worker::console_error!(
                    "cannot load rulebook version {id}, keeping the current one: {err}"
                );
                return keep_current(now);
            }
        },
    };
    CACHE.with(|c| {
        *c.borrow_mut() = Some(Cached {
            id: active,
            book: Rc::clone(&book),
            checked_ms: now,
        })
    });
    Ok(book)
}
