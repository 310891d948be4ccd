//! The active rulebook, compiled once per isolate and shared by every request it serves.

use std::cell::OnceCell;
use std::rc::Rc;

use rapport_rules::{Rulebook, SourceFile};

include!(concat!(env!("OUT_DIR"), "/builtin_rulebook.rs"));

thread_local! {
    static ACTIVE: OnceCell<Result<Rc<Rulebook>, String>> = const { OnceCell::new() };
}

/// The rulebook that decides. Until publishing exists it is the demo rulebook built in; a
/// build whose rulebook does not compile is reported here, not by a crash.
pub fn active() -> Result<Rc<Rulebook>, String> {
    ACTIVE.with(|cell| {
        cell.get_or_init(|| {
            let files: Vec<SourceFile> = BUILTIN_RULEBOOK
                .iter()
                .map(|(name, text)| SourceFile::new(*name, *text))
                .collect();
            Rulebook::compile(&files).map(Rc::new).map_err(|problems| {
                problems
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        })
        .clone()
    })
}
