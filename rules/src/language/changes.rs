//! What changes between two rulebooks, said rule by rule and segment by segment rather than
//! file by file: what a publish or a rollback summarises before it asks for confirmation,
//! and what a diff between two versions opens with.
//!
//! Each rule's and segment's text is its `rule(...)` or `segment(...)` call, from where the
//! compiler found it to its closing parenthesis, compared without comments or differences of
//! spacing: moving a rule to another file, or re-indenting it, changes nothing. Code outside
//! those calls (helper functions, `settings`) is compared per file, and so are test cases.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::language::rulebook::Rulebook;

/// A rulebook and the files it was compiled from (test cases included).
#[derive(Debug, Clone, Copy)]
pub struct Side<'a> {
    pub book: &'a Rulebook,
    pub files: &'a BTreeMap<String, String>,
}

/// The differences from one rulebook to another.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Changes {
    pub rules: Changed,
    pub segments: Changed,
    /// Rule files whose code outside rules and segments (helpers, settings) changed.
    pub other_code: Vec<String>,
    /// Test-case files added, removed or changed.
    pub tests: Vec<String>,
}

/// Added, removed and changed, by name, with where each is written in the newer rulebook
/// (the older one for a removal).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Changed {
    pub added: Vec<Named>,
    pub removed: Vec<Named>,
    pub changed: Vec<Named>,
    pub unchanged: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Named {
    pub name: String,
    /// A rule's description; empty for a segment.
    pub description: String,
    pub file: String,
    pub line: usize,
}

impl Changes {
    /// Whether anything at all differs.
    pub fn is_empty(&self) -> bool {
        let none = |c: &Changed| c.added.is_empty() && c.removed.is_empty() && c.changed.is_empty();
        none(&self.rules)
            && none(&self.segments)
            && self.other_code.is_empty()
            && self.tests.is_empty()
    }
}

/// One rule or segment as written.
struct Written {
    named: Named,
    /// Its call's text, without comments and with spacing collapsed.
    text: String,
    /// Where its call sits in its file, in bytes.
    span: (usize, usize),
}

/// What changes from `before` to `after`.
pub fn changes(before: Side<'_>, after: Side<'_>) -> Changes {
    let (old_rules, old_segments) = written(before);
    let (new_rules, new_segments) = written(after);
    let mut other_code = Vec::new();
    let mut tests = Vec::new();
    let names: std::collections::BTreeSet<&String> =
        before.files.keys().chain(after.files.keys()).collect();
    for name in names {
        let old = before.files.get(name);
        let new = after.files.get(name);
        if name.ends_with(".rhai") {
            let outside = |text: Option<&String>, rules: &[Written], segments: &[Written]| {
                text.map(|t| outside_calls(t, name, rules, segments))
                    .unwrap_or_default()
            };
            if outside(old, &old_rules, &old_segments) != outside(new, &new_rules, &new_segments) {
                other_code.push(name.clone());
            }
        } else if old != new {
            tests.push(name.clone());
        }
    }
    Changes {
        rules: compare(old_rules, new_rules),
        segments: compare(old_segments, new_segments),
        other_code,
        tests,
    }
}

fn compare(before: Vec<Written>, after: Vec<Written>) -> Changed {
    let old: BTreeMap<String, Written> = before
        .into_iter()
        .map(|w| (w.named.name.clone(), w))
        .collect();
    let mut changed = Changed::default();
    for new in &after {
        match old.get(&new.named.name) {
            None => changed.added.push(new.named.clone()),
            Some(was) if was.text != new.text => changed.changed.push(new.named.clone()),
            Some(_) => changed.unchanged += 1,
        }
    }
    let kept: std::collections::BTreeSet<&String> = after.iter().map(|w| &w.named.name).collect();
    changed.removed = old
        .into_values()
        .filter(|w| !kept.contains(&w.named.name))
        .map(|w| w.named)
        .collect();
    changed
}

/// Every rule and segment of a side, with its call's text.
fn written(side: Side<'_>) -> (Vec<Written>, Vec<Written>) {
    let find = |file: &str, position: rhai::Position| -> Option<(String, (usize, usize))> {
        let text = side.files.get(file)?;
        let start = offset(text, position.line()?, position.position().unwrap_or(1))?;
        let end = call_end(text, start)?;
        Some((normalise(&text[start..end]), (start, end)))
    };
    let rules = side
        .book
        .rules
        .iter()
        .map(|rule| {
            let (text, span) = find(&rule.file, rule.position).unwrap_or_default();
            Written {
                named: Named {
                    name: rule.id.clone(),
                    description: rule.description.clone(),
                    file: rule.file.clone(),
                    line: rule.position.line().unwrap_or(1),
                },
                text,
                span,
            }
        })
        .collect();
    let segments = side
        .book
        .segments
        .iter()
        .map(|segment| {
            let (text, span) = find(&segment.file, segment.position).unwrap_or_default();
            Written {
                named: Named {
                    name: segment.name.clone(),
                    description: String::new(),
                    file: segment.file.clone(),
                    line: segment.position.line().unwrap_or(1),
                },
                text,
                span,
            }
        })
        .collect();
    (rules, segments)
}

/// A file's text outside its rules' and segments' calls, normalised.
fn outside_calls(text: &str, file: &str, rules: &[Written], segments: &[Written]) -> String {
    let mut spans: Vec<(usize, usize)> = rules
        .iter()
        .chain(segments)
        .filter(|w| w.named.file == file && w.span.1 > w.span.0)
        .map(|w| w.span)
        .collect();
    spans.sort_unstable();
    let mut rest = String::new();
    let mut at = 0;
    for (start, end) in spans {
        if start >= at {
            rest.push_str(&text[at..start]);
            at = end;
        }
    }
    rest.push_str(&text[at..]);
    normalise(&rest)
}

/// The byte offset of a 1-based line and column (in characters).
fn offset(text: &str, line: usize, col: usize) -> Option<usize> {
    let line_start = if line <= 1 {
        0
    } else {
        text.match_indices('\n').nth(line - 2)?.0 + 1
    };
    let rest = &text[line_start..];
    let within = rest
        .char_indices()
        .nth(col.saturating_sub(1))
        .map_or(rest.len(), |(i, _)| i);
    Some(line_start + within)
}

/// Where the call starting at `start` ends: just after the parenthesis that closes its first
/// one (and the `;` after it), skipping strings and comments.
fn call_end(text: &str, start: usize) -> Option<usize> {
    let end = closing(text, start)?;
    let after = &text[end..];
    let spaces = after.len() - after.trim_start().len();
    Some(if after[spaces..].starts_with(';') {
        end + spaces + 1
    } else {
        end
    })
}

/// Just after the bracket that closes the first one opened from `start`.
fn closing(text: &str, start: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut i = start;
    while i < bytes.len() {
        if let Some(Skipped { end, .. }) = skipped(text, i) {
            i = end;
            continue;
        }
        match bytes[i] {
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// A string literal or a comment starting at `i`: where it ends, and whether it is a comment.
struct Skipped {
    end: usize,
    comment: bool,
}

/// The string literal or comment that starts at byte `i`, if one does.
fn skipped(text: &str, i: usize) -> Option<Skipped> {
    let bytes = text.as_bytes();
    let rest = &text[i..];
    let end = match bytes[i] {
        quote @ (b'"' | b'`' | b'\'') => {
            let mut j = i + 1;
            while j < bytes.len() && bytes[j] != quote {
                j += if bytes[j] == b'\\' { 2 } else { 1 };
            }
            return Some(Skipped {
                end: (j + 1).min(bytes.len()),
                comment: false,
            });
        }
        _ if rest.starts_with("//") => rest.find('\n').map_or(bytes.len(), |n| i + n),
        _ if rest.starts_with("/*") => rest[2..].find("*/").map_or(bytes.len(), |n| i + 2 + n + 2),
        _ => return None,
    };
    Some(Skipped { end, comment: true })
}

/// The text without comments, its spacing collapsed to single spaces (strings as written).
fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut space = false;
    while i < text.len() {
        let next = match skipped(text, i) {
            Some(Skipped { comment: true, end }) => {
                space = true;
                i = end;
                continue;
            }
            Some(Skipped { end, .. }) => end,
            None if text.as_bytes()[i].is_ascii_whitespace() => {
                space = true;
                i += 1;
                continue;
            }
            None => i + text[i..].chars().next().map_or(1, char::len_utf8),
        };
        if space && !out.is_empty() {
            out.push(' ');
        }
        space = false;
        out.push_str(&text[i..next]);
        i = next;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::language::rulebook::SourceFile;

    fn book(files: &BTreeMap<String, String>) -> Rulebook {
        let sources: Vec<SourceFile> = files
            .iter()
            .filter(|(name, _)| name.ends_with(".rhai"))
            .map(|(name, text)| SourceFile::new(name, text))
            .collect();
        Rulebook::compile(&sources).unwrap_or_else(|d| panic!("{d:?}"))
    }

    fn files(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(n, t)| (n.to_string(), t.to_string()))
            .collect()
    }

    fn bar(id: &str, body: &str) -> String {
        format!(
            "rule(\"{id}\", #{{ description: \"{id} bar\", priority: 1,
                show: #{{ kind: \"bar\", content: #{{ en: #{{ body: \"{body}\" }} }} }} }});\n"
        )
    }

    fn between(a: &BTreeMap<String, String>, b: &BTreeMap<String, String>) -> Changes {
        let (old, new) = (book(a), book(b));
        changes(
            Side {
                book: &old,
                files: a,
            },
            Side {
                book: &new,
                files: b,
            },
        )
    }

    fn names(named: &[Named]) -> Vec<&str> {
        named.iter().map(|n| n.name.as_str()).collect()
    }

    #[test]
    fn rules_added_removed_and_changed_are_named_one_by_one() {
        let a = files(&[(
            "a.rhai",
            &[bar("one", "Hi"), bar("two", "Hi"), bar("three", "Hi")].concat(),
        )]);
        let b = files(&[(
            "a.rhai",
            &[bar("one", "Hi"), bar("two", "Hello"), bar("four", "Hi")].concat(),
        )]);
        let c = between(&a, &b);
        assert_eq!(names(&c.rules.added), ["four"]);
        assert_eq!(names(&c.rules.removed), ["three"]);
        assert_eq!(names(&c.rules.changed), ["two"]);
        assert_eq!(c.rules.unchanged, 1);
        assert_eq!(c.rules.added[0].line, 5, "where it is written");
        assert_eq!(c.rules.changed[0].description, "two bar");
        assert!(c.other_code.is_empty() && c.tests.is_empty());
    }

    #[test]
    fn moving_re_spacing_or_commenting_a_rule_changes_nothing() {
        let a = files(&[("a.rhai", &[bar("one", "Hi"), bar("two", "Hi")].concat())]);
        let moved = bar("two", "Hi").replace(", ", ",\n        // the second\n        ");
        let b = files(&[("a.rhai", &bar("one", "Hi")), ("b.rhai", &moved)]);
        let c = between(&a, &b);
        assert!(c.is_empty(), "{c:?}");
        assert_eq!(c.rules.unchanged, 2);
    }

    #[test]
    fn strings_keep_their_spacing_and_brackets() {
        let a = files(&[("a.rhai", &bar("one", "Hi (there)"))]);
        let b = files(&[("a.rhai", &bar("one", "Hi  (there)"))]);
        assert_eq!(names(&between(&a, &b).rules.changed), ["one"]);
    }

    #[test]
    fn segments_helpers_and_tests_are_compared_too() {
        let seg = |cond: &str| {
            format!("fn big(v) {{ v.visits > {cond} }}\nsegment(\"carts\", |v| v.visits > 0);\n")
        };
        let a = files(&[("a.rhai", &seg("2")), ("tests/a.json", "[]")]);
        let b = files(&[
            ("a.rhai", &(seg("3").replace("> 0", "> 1"))),
            ("tests/a.json", "[ ]"),
        ]);
        let c = between(&a, &b);
        assert_eq!(names(&c.segments.changed), ["carts"]);
        assert_eq!(c.other_code, ["a.rhai"]);
        assert_eq!(c.tests, ["tests/a.json"]);
    }
}
