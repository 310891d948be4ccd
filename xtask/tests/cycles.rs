//! ARCHITECTURE.md's invariant "no module cycles", checked: in every crate of the workspace,
//! the modules that share a parent never depend on each other in a circle. A module depends
//! on another when its code names it (`crate::a::b`, `super::c`, or `use crate::{a, b}`);
//! a module using its own parent's or children's items is not a cycle (the parent is the
//! children's facade).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

const CRATES: [&str; 10] = [
    "protocol",
    "rules",
    "recs",
    "analytics",
    "seed",
    "widget",
    "edge",
    "xtask",
    "tests",
    "child",
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask is inside the workspace")
        .to_path_buf()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `src/a/b.rs` and `src/a/b/mod.rs` are `["a", "b"]`; `lib.rs` and `main.rs` the root.
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(src).expect("a file under src");
    let mut parts: Vec<String> = relative
        .with_extension("")
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// The code of a file without comments and string literals, roughly: enough to find paths.
fn code(text: &str) -> String {
    text.lines()
        .map(|line| {
            let line = line.split("//").next().unwrap_or_default();
            let mut out = String::new();
            let mut in_string = false;
            for c in line.chars() {
                if c == '"' {
                    in_string = !in_string;
                } else if !in_string {
                    out.push(c);
                }
            }
            out
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The module paths a file's code names, absolute (from the crate root).
fn references(module: &[String], code: &str) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    for start in ["crate::", "super::"] {
        let mut rest = code;
        while let Some(at) = rest.find(start) {
            let before = rest[..at].chars().last();
            rest = &rest[at + start.len()..];
            if before.is_some_and(|c| ident(c) || c == ':') && start == "super::" {
                // `super::super::x` is read from its first `super::`.
                continue;
            }
            let mut base: Vec<String> = if start == "crate::" {
                Vec::new()
            } else {
                module[..module.len().saturating_sub(1)].to_vec()
            };
            let mut tail = rest;
            while let Some(more) = tail.strip_prefix("super::") {
                base.pop();
                tail = more;
            }
            // `crate::{a, b::c}`: each item of the group.
            let items: Vec<&str> = if let Some(group) = tail.strip_prefix('{') {
                let end = group.find('}').unwrap_or(group.len());
                group[..end].split(',').map(str::trim).collect()
            } else {
                vec![tail]
            };
            for item in items {
                let mut path = base.clone();
                for segment in item.split("::") {
                    let name: String = segment.chars().take_while(|c| ident(*c)).collect();
                    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_uppercase()) {
                        break;
                    }
                    path.push(name);
                    if !segment.chars().all(ident) {
                        break;
                    }
                }
                found.push(path);
            }
        }
    }
    found
}

/// The sibling modules two modules meet at: below their common ancestor, the first module
/// on each side; `None` when one contains the other.
fn siblings(from: &[String], to: &[String]) -> Option<(Vec<String>, Vec<String>)> {
    let common = from.iter().zip(to).take_while(|(a, b)| a == b).count();
    (common < from.len() && common < to.len())
        .then(|| (from[..=common].to_vec(), to[..=common].to_vec()))
}

/// Which sibling module uses which, in a crate.
type Graph = BTreeMap<Vec<String>, BTreeSet<Vec<String>>>;

fn graph(krate: &str) -> Graph {
    let src = root().join(krate).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let modules: BTreeSet<Vec<String>> = files.iter().map(|f| module_of(&src, f)).collect();
    let mut graph = Graph::new();
    for file in &files {
        let module = module_of(&src, file);
        let text = fs::read_to_string(file).expect("a readable file");
        for path in references(&module, &code(&text)) {
            // The longest prefix that is a module of the crate (`a::b::function` is `a::b`).
            let Some(target) = (1..=path.len())
                .rev()
                .map(|n| path[..n].to_vec())
                .find(|p| modules.contains(p))
            else {
                continue;
            };
            if let Some((a, b)) = siblings(&module, &target) {
                graph.entry(a).or_default().insert(b);
            }
        }
    }
    graph
}

/// Every circle of sibling modules in a crate, each as its modules joined by " → ".
fn cycles(krate: &str) -> Vec<String> {
    let graph = graph(krate);
    // A depth-first search from every module finds each circle (from its smallest member).
    let mut found = BTreeSet::new();
    for start in graph.keys() {
        let mut stack = vec![(start.clone(), vec![start.clone()])];
        while let Some((at, path)) = stack.pop() {
            for next in graph.get(&at).into_iter().flatten() {
                if next == start {
                    let mut circle: Vec<String> = path.iter().map(|m| m.join("::")).collect();
                    let smallest = (0..circle.len()).min_by_key(|i| &circle[*i]).unwrap();
                    circle.rotate_left(smallest);
                    circle.push(circle[0].clone());
                    found.insert(format!("{krate}: {}", circle.join(" → ")));
                } else if !path.contains(next) && next > start {
                    let mut longer = path.clone();
                    longer.push(next.clone());
                    stack.push((next.clone(), longer));
                }
            }
        }
    }
    found.into_iter().collect()
}

/// The layers of `rules`, lowest first, as its front page (`rules/src/lib.rs`) states them.
const RULES_LAYERS: [&[&str]; 5] = [
    &["bucket"],
    &["visitor"],
    &["language"],
    &["decision"],
    &["testing", "check", "schema"],
];

#[test]
fn each_layer_of_rules_uses_only_the_layers_below_it() {
    let rank = |module: &[String]| {
        RULES_LAYERS
            .iter()
            .position(|layer| layer.contains(&module[0].as_str()))
            .unwrap_or_else(|| panic!("{module:?} is in no layer of rules/src/lib.rs"))
    };
    let mut upward = Vec::new();
    for (from, to) in graph("rules") {
        for to in to.into_iter().filter(|to| to.len() == 1 && from.len() == 1) {
            let same_layer = rank(&from) == rank(&to);
            if rank(&from) < rank(&to) || (same_layer && from[0] != "check" && from[0] != "schema")
            {
                upward.push(format!("{} → {}", from[0], to[0]));
            }
        }
    }
    assert!(
        upward.is_empty(),
        "uses of a layer above, or beside:\n{upward:#?}"
    );
}

/// The edge's stack, as ARCHITECTURE.md states it: what each of its modules may use.
const EDGE_USES: [(&str, &[&str]); 20] = [
    (
        "router",
        &[
            "api", "http", "error", "sites", "config", "clock", "session", "auth", "limits", "team",
        ],
    ),
    (
        "api",
        &[
            "http",
            "auth",
            "limits",
            "sites",
            "config",
            "clock",
            "session",
            "team",
            "objects",
            "error",
            "reports",
            "aggregates",
            "sample",
            "audit",
            "preview",
        ],
    ),
    (
        "objects",
        &[
            "clock",
            "config",
            "error",
            "reports",
            "aggregates",
            "sample",
            "audit",
            "preview",
            "team",
        ],
    ),
    (
        "session",
        &["aggregates", "clock", "config", "error", "http", "team"],
    ),
    ("team", &["aggregates", "error"]),
    ("http", &["error", "clock", "sites"]),
    (
        "auth",
        &["error", "config", "clock", "http", "session", "team"],
    ),
    ("limits", &["error", "config"]),
    ("sites", &["error", "config"]),
    ("clock", &["error", "config", "http"]),
    (
        "migrations",
        &["aggregates", "objects", "reports", "sample"],
    ),
    ("reports", &["error", "clock", "aggregates"]),
    ("aggregates", &["error", "clock"]),
    ("sample", &["error", "clock", "aggregates"]),
    ("audit", &["error", "clock"]),
    ("preview", &["error", "auth", "clock", "config"]),
    ("config", &["error", "sites"]),
    ("error", &[]),
    ("lib", &[]),
    ("bench", &[]),
];

#[test]
fn the_edge_is_a_stack() {
    let mut stray = Vec::new();
    for (from, to) in graph("edge") {
        if from.len() != 1 {
            continue;
        }
        let allowed = EDGE_USES
            .iter()
            .find(|(module, _)| *module == from[0])
            .map(|(_, uses)| *uses)
            .unwrap_or_else(|| panic!("edge module {} is not in EDGE_USES", from[0]));
        for to in to.iter().filter(|to| to.len() == 1) {
            if !allowed.contains(&to[0].as_str()) {
                stray.push(format!("{} → {}", from[0], to[0]));
            }
        }
    }
    assert!(
        stray.is_empty(),
        "uses outside the edge's stack:\n{stray:#?}"
    );
}

#[test]
fn no_crate_has_a_module_cycle() {
    let all: Vec<String> = CRATES.iter().flat_map(|c| cycles(c)).collect();
    assert!(all.is_empty(), "module cycles:\n{all:#?}");
}

#[test]
fn the_check_finds_a_cycle_and_reads_groups_and_super() {
    let module = |p: &str| p.split("::").map(str::to_owned).collect::<Vec<_>>();
    let found = references(
        &module("objects::visitor::object"),
        "use super::outbox::Outgoing; use crate::{clock::now_ms, error};",
    );
    assert_eq!(
        found,
        [
            module("clock::now_ms"),
            module("error"),
            module("objects::visitor::outbox")
        ]
    );
    assert_eq!(
        siblings(
            &module("objects::visitor::object"),
            &module("objects::visitor::outbox")
        ),
        Some((
            module("objects::visitor::object"),
            module("objects::visitor::outbox")
        ))
    );
    assert_eq!(
        siblings(&module("objects::visitor::object"), &module("objects")),
        None
    );
}
