//! Questions about the visitor rather than a page view: the segments they are in, and which
//! rules' audiences hold them.

use super::*;

/// Runs `f` with a decision state for `profile` on no page in particular (the root path, no
/// kind or language), for questions about the visitor rather than a page view.
fn off_page<R>(
    book: &Rulebook,
    profile: &Profile,
    now_ms: i64,
    f: impl FnOnce(&mut State<'_>) -> R,
) -> R {
    let view = Visitor::new(profile, now_ms);
    let visitor = Dynamic::from(view.clone());
    let page = PageContext {
        url: "/".into(),
        path: "/".into(),
        kind: None,
        locale: None,
    };
    let mut state = State::new(book, profile, &page, now_ms, &visitor, &view);
    f(&mut state)
}

/// Every segment `profile` is in at `now_ms`, in rulebook order (a segment whose condition
/// errs counts as out), for analytics by segment. Segments do not depend on the page.
pub fn segments_of(book: &Rulebook, profile: &Profile, now_ms: i64) -> Vec<String> {
    off_page(book, profile, now_ms, |state| {
        (0..book.segments.len())
            .filter(|index| state.segment(*index))
            .map(|index| book.segments[index].name.clone())
            .collect()
    })
}

/// Whether `profile` is in each rule's audience (in rule order), ignoring pages, schedules,
/// caps and everything else; `None` where the condition fails. For the compiler's checks.
pub(crate) fn audiences(book: &Rulebook, profile: &Profile, now_ms: i64) -> Vec<Option<bool>> {
    off_page(book, profile, now_ms, |state| {
        book.rules
            .iter()
            .map(|rule| match state.in_audience(rule) {
                Ok(None) => Some(true),
                Ok(Some(_)) => Some(false),
                Err(_) => None,
            })
            .collect()
    })
}
