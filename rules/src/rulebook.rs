//! Compiling a rulebook: the marketers' `.rhai` files, run once to register segments and rules.
//!
//! A rulebook file calls two functions:
//!
//! ```rhai
//! segment("has_cart", |v| v.cart.items > 0);
//!
//! rule("cart-reminder", #{
//!     description: "Bring shoppers back to the cart they filled",
//!     priority: 50,
//!     who: "has_cart",                 // a segment, a list of segments (all must hold), or |v| ...
//!     page: ["home", "category"],      // page kinds; `path: "/sale/"` targets by URL prefix
//!     show: #{ kind: "bar", content: #{ en: #{ body: "Your cart is waiting" } } },
//!     when: "immediately",             // or #{ after_seconds: 5 }, #{ scroll: 50 }, "exit_intent"
//!     cap: #{ per_session: 1 },        // and per_visitor, stop_after: "clicked" / "dismissed"
//! });
//! ```
//!
//! Each file is compiled once to an `AST` and kept: segment and rule conditions are closures
//! inside it, called at decision time without re-parsing anything.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashSet};
use std::rc::Rc;

use rapport_protocol::{is_safe_link, CallToAction, ExperienceKind, Trigger};
use rhai::{Dynamic, Engine, EvalAltResult, FnPtr, ImmutableString, Map, NativeCallContext, AST};

use crate::diagnostic::{rhai_message, Diagnostic};
use crate::engine::new_engine;

/// One rulebook file as text: the edge embeds them, the CLI reads them from disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    pub name: String,
    pub text: String,
}

impl SourceFile {
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> SourceFile {
        SourceFile {
            name: name.into(),
            text: text.into(),
        }
    }
}

/// A compiled, validated rulebook, ready to decide.
pub struct Rulebook {
    pub(crate) engine: Engine,
    pub(crate) scripts: Vec<AST>,
    pub(crate) segments: Vec<Segment>,
    /// Highest priority first; ties broken by id so decisions are deterministic.
    pub(crate) rules: Vec<Rule>,
    pub(crate) default_locale: String,
    version: String,
}

impl std::fmt::Debug for Rulebook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rulebook")
            .field("version", &self.version)
            .field("segments", &self.segments.len())
            .field("rules", &self.rules.len())
            .finish()
    }
}

pub(crate) struct Segment {
    pub(crate) name: String,
    pub(crate) script: usize,
    pub(crate) test: FnPtr,
}

pub(crate) struct Rule {
    pub(crate) id: String,
    pub(crate) script: usize,
    pub(crate) file: String,
    pub(crate) position: rhai::Position,
    pub(crate) priority: i64,
    pub(crate) who: Who,
    pub(crate) pages: Vec<String>,
    pub(crate) paths: Vec<String>,
    pub(crate) experience: String,
    pub(crate) kind: ExperienceKind,
    pub(crate) trigger: Trigger,
    /// Content by locale.
    pub(crate) content: BTreeMap<String, LocalContent>,
    pub(crate) cap: Cap,
}

pub(crate) enum Who {
    Everyone,
    Segments(Vec<String>),
    Test(FnPtr),
}

#[derive(Clone)]
pub(crate) struct LocalContent {
    pub(crate) title: Option<String>,
    pub(crate) body: String,
    pub(crate) cta: Option<CallToAction>,
}

#[derive(Default)]
pub(crate) struct Cap {
    pub(crate) per_session: Option<u32>,
    pub(crate) per_visitor: Option<u32>,
    pub(crate) stop_after_click: bool,
    pub(crate) stop_after_dismiss: bool,
}

impl Rulebook {
    /// Compiles and validates every file. Either the whole rulebook is valid, or every
    /// problem found is returned (not just the first), sorted by file and position.
    pub fn compile(files: &[SourceFile]) -> Result<Rulebook, Vec<Diagnostic>> {
        let registry = Rc::new(RefCell::new(Registry::default()));
        let mut engine = new_engine();
        register_api(&mut engine, &registry);

        let mut scripts = Vec::with_capacity(files.len());
        let mut files: Vec<&SourceFile> = files.iter().collect();
        files.sort_by(|a, b| a.name.cmp(&b.name));
        for (index, file) in files.iter().enumerate() {
            let ast = match engine.compile(&file.text) {
                Ok(ast) => ast,
                Err(err) => {
                    let message = err.err_type().to_string();
                    registry.borrow_mut().problems.push(Diagnostic::new(
                        &file.name,
                        err.position(),
                        message,
                    ));
                    // Keep indices aligned with `files`; this script never runs.
                    scripts.push(AST::empty());
                    continue;
                }
            };
            registry.borrow_mut().current = (index, file.name.clone());
            if let Err(err) = engine.run_ast(&ast) {
                registry.borrow_mut().problems.push(Diagnostic::new(
                    &file.name,
                    err.position(),
                    rhai_message(&err),
                ));
            }
            scripts.push(ast);
        }

        let Registry {
            segments,
            rules,
            mut problems,
            ..
        } = Rc::try_unwrap(registry)
            .map(RefCell::into_inner)
            .unwrap_or_else(|shared| std::mem::take(&mut *shared.borrow_mut()));

        let segment_names: HashSet<&str> = segments.iter().map(|s| s.name.as_str()).collect();
        for rule in &rules {
            if let Who::Segments(names) = &rule.who {
                for name in names {
                    if !segment_names.contains(name.as_str()) {
                        problems.push(Diagnostic::new(
                            &rule.file,
                            rule.position,
                            format!("rule \"{}\": unknown segment \"{name}\"", rule.id),
                        ));
                    }
                }
            }
        }
        if !problems.is_empty() {
            problems.sort_by(|a, b| (&a.file, a.line, a.col).cmp(&(&b.file, b.line, b.col)));
            problems.dedup();
            return Err(problems);
        }

        let mut rules = rules;
        rules.sort_by(|a, b| b.priority.cmp(&a.priority).then_with(|| a.id.cmp(&b.id)));
        Ok(Rulebook {
            engine: new_engine(),
            scripts,
            segments,
            rules,
            default_locale: "en".to_owned(),
            version: version_of(&files),
        })
    }

    /// A content hash of the sources: the same files always give the same version.
    pub fn version(&self) -> &str {
        &self.version
    }

    pub fn rule_ids(&self) -> impl Iterator<Item = &str> {
        self.rules.iter().map(|r| r.id.as_str())
    }

    pub fn segment_names(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().map(|s| s.name.as_str())
    }
}

/// FNV-1a over names and texts, shown as `rb-` and 12 hex digits.
fn version_of(files: &[&SourceFile]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for file in files {
        for byte in file
            .name
            .bytes()
            .chain([0])
            .chain(file.text.bytes())
            .chain([0])
        {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    format!("rb-{:012x}", hash & 0xffff_ffff_ffff)
}

#[derive(Default)]
struct Registry {
    /// The script being run and its file name.
    current: (usize, String),
    segments: Vec<Segment>,
    rules: Vec<Rule>,
    problems: Vec<Diagnostic>,
}

/// Registers `segment(name, test)` and `rule(id, spec)` for the registration run only; the
/// engine that decides does not have them, so a rule cannot register rules at decision time.
fn register_api(engine: &mut Engine, registry: &Rc<RefCell<Registry>>) {
    let reg = Rc::clone(registry);
    engine.register_fn(
        "segment",
        move |ctx: NativeCallContext<'_>, name: ImmutableString, test: FnPtr| {
            let mut reg = reg.borrow_mut();
            let (script, file) = reg.current.clone();
            let position = ctx.call_position();
            if !is_valid_name(&name) {
                reg.problems.push(Diagnostic::new(
                    &file,
                    position,
                    format!(
                        "segment name \"{name}\" must be lower_snake_case letters, digits and '_'"
                    ),
                ));
            } else if reg.segments.iter().any(|s| s.name == name.as_str()) {
                reg.problems.push(Diagnostic::new(
                    &file,
                    position,
                    format!("segment \"{name}\" is defined twice"),
                ));
            } else {
                reg.segments.push(Segment {
                    name: name.to_string(),
                    script,
                    test,
                });
            }
        },
    );
    let reg = Rc::clone(registry);
    engine.register_fn(
        "rule",
        move |ctx: NativeCallContext<'_>, id: ImmutableString, spec: Map| {
            let mut reg = reg.borrow_mut();
            let (script, file) = reg.current.clone();
            let position = ctx.call_position();
            let duplicate = reg.rules.iter().any(|r| r.id == id.as_str());
            match parse_rule(&id, spec, script, &file, position) {
                _ if duplicate => reg.problems.push(Diagnostic::new(
                    &file,
                    position,
                    format!("rule \"{id}\" is defined twice"),
                )),
                Ok(rule) => reg.rules.push(rule),
                Err(message) => reg.problems.push(Diagnostic::new(
                    &file,
                    position,
                    format!("rule \"{id}\": {message}"),
                )),
            }
        },
    );
}

fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

const RULE_FIELDS: &[&str] = &[
    "description",
    "priority",
    "who",
    "page",
    "path",
    "show",
    "when",
    "cap",
];

fn parse_rule(
    id: &str,
    mut spec: Map,
    script: usize,
    file: &str,
    position: rhai::Position,
) -> Result<Rule, String> {
    if !is_valid_name(id) {
        return Err("ids must be lower-case letters, digits, '-' and '_'".into());
    }
    check_fields(&spec, RULE_FIELDS, "rule")?;
    let text = |v: Dynamic, field: &str| -> Result<String, String> {
        v.into_immutable_string()
            .map(|s| s.to_string())
            .map_err(|t| format!("`{field}` must be a string, not {t}"))
    };
    if let Some(description) = spec.remove("description") {
        text(description, "description")?;
    }
    let priority = match spec.remove("priority") {
        None => 0,
        Some(p) => p
            .as_int()
            .map_err(|t| format!("`priority` must be a whole number, not {t}"))?,
    };
    let who = match spec.remove("who") {
        None => Who::Everyone,
        Some(w) if w.is_fnptr() => Who::Test(w.cast::<FnPtr>()),
        Some(w) if w.is_string() => Who::Segments(vec![text(w, "who")?]),
        Some(w) if w.is_array() => Who::Segments(string_list(w, "who")?),
        Some(w) => {
            return Err(format!(
            "`who` must be a segment name, a list of segment names or a function |v| ..., not {}",
            w.type_name()
        ))
        }
    };
    let pages = spec
        .remove("page")
        .map(|p| string_list(p, "page"))
        .transpose()?
        .unwrap_or_default();
    let paths = spec
        .remove("path")
        .map(|p| string_list(p, "path"))
        .transpose()?
        .unwrap_or_default();
    let trigger = spec
        .remove("when")
        .map(parse_trigger)
        .transpose()?
        .unwrap_or(Trigger::Immediately);
    let cap = spec
        .remove("cap")
        .map(parse_cap)
        .transpose()?
        .unwrap_or_default();
    let show = spec
        .remove("show")
        .ok_or("`show` is missing: say what the rule shows")?
        .try_cast::<Map>()
        .ok_or("`show` must be a map #{ kind: ..., content: ... }")?;
    let (experience, kind, content) = parse_show(id, show)?;
    Ok(Rule {
        id: id.to_owned(),
        script,
        file: file.to_owned(),
        position,
        priority,
        who,
        pages,
        paths,
        experience,
        kind,
        trigger,
        content,
        cap,
    })
}

fn check_fields(map: &Map, allowed: &[&str], what: &str) -> Result<(), String> {
    match map.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(unknown) => Err(format!(
            "unknown field `{unknown}` in {what} (expected one of: {})",
            allowed.join(", ")
        )),
        None => Ok(()),
    }
}

/// A string, or an array of strings.
fn string_list(value: Dynamic, field: &str) -> Result<Vec<String>, String> {
    let items = if value.is_array() {
        value.cast::<rhai::Array>()
    } else {
        vec![value]
    };
    items
        .into_iter()
        .map(|item| {
            item.into_immutable_string()
                .map(|s| s.to_string())
                .map_err(|t| format!("`{field}` must be a string or a list of strings, not {t}"))
        })
        .collect()
}

fn parse_trigger(value: Dynamic) -> Result<Trigger, String> {
    const HELP: &str = "`when` must be \"immediately\", \"exit_intent\", #{ after_seconds: N } or #{ scroll: PERCENT }";
    if value.is_string() {
        return match value.into_immutable_string().unwrap_or_default().as_str() {
            "immediately" => Ok(Trigger::Immediately),
            "exit_intent" => Ok(Trigger::ExitIntent),
            other => Err(format!("{HELP}, not \"{other}\"")),
        };
    }
    let map = value.try_cast::<Map>().ok_or(HELP)?;
    check_fields(&map, &["after_seconds", "scroll"], "`when`")?;
    let number = |field: &str, max: i64| -> Result<Option<i64>, String> {
        map.get(field)
            .map(|v| match v.as_int() {
                Ok(n) if (0..=max).contains(&n) => Ok(n),
                _ => Err(format!(
                    "`when.{field}` must be a whole number from 0 to {max}"
                )),
            })
            .transpose()
    };
    match (number("after_seconds", 3600)?, number("scroll", 100)?) {
        (Some(seconds), None) => Ok(Trigger::AfterSeconds {
            seconds: u32::try_from(seconds).unwrap_or(0),
        }),
        (None, Some(percent)) => Ok(Trigger::Scroll {
            percent: u8::try_from(percent).unwrap_or(100),
        }),
        _ => Err(HELP.to_owned()),
    }
}

fn parse_cap(value: Dynamic) -> Result<Cap, String> {
    let map = value
        .try_cast::<Map>()
        .ok_or("`cap` must be a map such as #{ per_session: 1 }")?;
    check_fields(&map, &["per_session", "per_visitor", "stop_after"], "`cap`")?;
    let count = |field: &str| -> Result<Option<u32>, String> {
        map.get(field)
            .map(|v| {
                v.as_int()
                    .ok()
                    .and_then(|n| u32::try_from(n).ok())
                    .filter(|n| *n > 0)
                    .ok_or_else(|| format!("`cap.{field}` must be a whole number above 0"))
            })
            .transpose()
    };
    let mut cap = Cap {
        per_session: count("per_session")?,
        per_visitor: count("per_visitor")?,
        ..Cap::default()
    };
    if let Some(stop_after) = map.get("stop_after") {
        for stop in string_list(stop_after.clone(), "cap.stop_after")? {
            match stop.as_str() {
                "clicked" => cap.stop_after_click = true,
                "dismissed" => cap.stop_after_dismiss = true,
                other => {
                    return Err(format!(
                        "`cap.stop_after` must be \"clicked\" or \"dismissed\", not \"{other}\""
                    ))
                }
            }
        }
    }
    Ok(cap)
}

fn parse_show(
    rule_id: &str,
    mut show: Map,
) -> Result<(String, ExperienceKind, BTreeMap<String, LocalContent>), String> {
    check_fields(&show, &["id", "kind", "content"], "`show`")?;
    let experience = match show.remove("id") {
        None => rule_id.to_owned(),
        Some(id) => {
            let id = id
                .into_immutable_string()
                .map_err(|t| format!("`show.id` must be a string, not {t}"))?;
            if !is_valid_name(&id) {
                return Err("`show.id` must be lower-case letters, digits, '-' and '_'".into());
            }
            id.to_string()
        }
    };
    let kind = show
        .remove("kind")
        .ok_or("`show.kind` is missing")?
        .into_immutable_string()
        .map_err(|t| format!("`show.kind` must be a string, not {t}"))?;
    let kind = match kind.as_str() {
        "bar" => ExperienceKind::Bar,
        "modal" => ExperienceKind::Modal,
        "slide_in" => ExperienceKind::SlideIn,
        "toast" => ExperienceKind::Toast,
        other => {
            return Err(format!(
                "`show.kind` must be one of bar, modal, slide_in, toast, not \"{other}\""
            ))
        }
    };
    let by_locale = show
        .remove("content")
        .ok_or("`show.content` is missing")?
        .try_cast::<Map>()
        .ok_or("`show.content` must map locales to texts: #{ en: #{ body: \"...\" } }")?;
    if by_locale.is_empty() {
        return Err("`show.content` needs at least one locale".into());
    }
    let mut content = BTreeMap::new();
    for (locale, text) in by_locale {
        let field = format!("show.content.{locale}");
        let mut text = text.try_cast::<Map>().ok_or_else(|| {
            format!("`{field}` must be a map #{{ title: ..., body: ..., cta: ... }}")
        })?;
        check_fields(&text, &["title", "body", "cta"], &format!("`{field}`"))?;
        let string = |v: Dynamic, name: &str| -> Result<String, String> {
            v.into_immutable_string()
                .map(|s| s.to_string())
                .map_err(|t| format!("`{field}.{name}` must be a string, not {t}"))
        };
        let title = text
            .remove("title")
            .map(|t| string(t, "title"))
            .transpose()?;
        let body = string(
            text.remove("body")
                .ok_or_else(|| format!("`{field}.body` is missing"))?,
            "body",
        )?;
        let cta = match text.remove("cta") {
            None => None,
            Some(cta) => {
                let mut cta = cta.try_cast::<Map>().ok_or_else(|| {
                    format!("`{field}.cta` must be a map #{{ label: ..., url: ... }}")
                })?;
                check_fields(&cta, &["label", "url"], &format!("`{field}.cta`"))?;
                let label = string(
                    cta.remove("label")
                        .ok_or_else(|| format!("`{field}.cta.label` is missing"))?,
                    "cta.label",
                )?;
                let url = string(
                    cta.remove("url")
                        .ok_or_else(|| format!("`{field}.cta.url` is missing"))?,
                    "cta.url",
                )?;
                if !is_safe_link(&url) {
                    return Err(format!(
                        "`{field}.cta.url` must be an http(s) or relative link, not \"{url}\""
                    ));
                }
                Some(CallToAction { label, url })
            }
        };
        content.insert(locale.to_string(), LocalContent { title, body, cta });
    }
    Ok((experience, kind, content))
}

/// Calls a segment or rule condition with the visitor view. Anything but `true` or `false`
/// is an error, reported rather than guessed at.
pub(crate) fn call_test(
    book: &Rulebook,
    script: usize,
    test: &FnPtr,
    visitor: &Dynamic,
) -> Result<bool, Box<EvalAltResult>> {
    let result: Dynamic = test.call(&book.engine, &book.scripts[script], (visitor.clone(),))?;
    result
        .as_bool()
        .map_err(|t| format!("a condition must give true or false, not {t}").into())
}
