//! Compiling a rulebook: the marketers' `.rhai` files, each run once to register segments,
//! rules and settings.
//!
//! ```rhai
//! settings(#{ holdout: 5, fatigue: #{ prompts_per_session: 3 } });
//!
//! segment("has_cart", |v| v.cart.items > 0);
//!
//! rule("cart-reminder", #{
//!     description: "Bring shoppers back to the cart they filled",
//!     priority: 50,
//!     who: "has_cart",                 // a segment, a list of segments (all must hold), or |v| ...
//!     page: ["home", "category"],      // page kinds; `path: "/sale/"` targets by URL prefix
//!     show: #{ kind: "bar", content: #{ en: #{ body: "Your cart is waiting" } } },
//!     when: "immediately",
//!     cap: #{ per_session: 1 },
//! });
//! ```
//!
//! Each file is compiled once to an `AST` and kept: segment and rule conditions are closures
//! inside it, called at decision time without parsing anything again. The full language is
//! described in the README.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use rhai::{Dynamic, Engine, EvalAltResult, FnPtr, ImmutableString, Map, NativeCallContext, AST};

use crate::diagnostic::{innermost, rhai_message, Diagnostic};
use crate::engine::new_engine;
use crate::spec::{self, Offer, Rule, Settings, Who};

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
    /// Segment positions in `segments`, by name.
    pub(crate) segment_index: HashMap<String, usize>,
    pub(crate) segments: Vec<Segment>,
    /// Highest priority first; ties broken by id so decisions are deterministic.
    pub(crate) rules: Vec<Rule>,
    pub(crate) settings: Settings,
    version: String,
}

impl std::fmt::Debug for Rulebook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rulebook")
            .field("version", &self.version)
            .field("segments", &self.segments.len())
            .field("rules", &self.rules.len())
            .field("settings", &self.settings)
            .finish()
    }
}

/// What the rulebook says about one rule, for listings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleInfo<'a> {
    pub id: &'a str,
    pub priority: i64,
    pub description: &'a str,
    pub file: &'a str,
}

pub(crate) struct Segment {
    pub(crate) name: String,
    pub(crate) script: usize,
    pub(crate) file: String,
    pub(crate) position: rhai::Position,
    pub(crate) test: FnPtr,
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
            registry.borrow_mut().reads_segments = file.text.contains(".segments");
            if let Err(err) = engine.run_ast(&ast) {
                registry.borrow_mut().problems.push(Diagnostic::new(
                    &file.name,
                    innermost(&err).position(),
                    rhai_message(&err),
                ));
            }
            scripts.push(ast);
        }
        drop(engine);

        let Registry {
            segments,
            rules,
            settings,
            mut problems,
            ..
        } = Rc::try_unwrap(registry)
            .map(RefCell::into_inner)
            .unwrap_or_else(|shared| std::mem::take(&mut *shared.borrow_mut()));

        check_references(&segments, &rules, &mut problems);
        let mut rules = rules;
        rules.sort_by(|a, b| b.priority.cmp(&a.priority).then_with(|| a.id.cmp(&b.id)));
        let segment_index = segments
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.clone(), i))
            .collect();
        let book = Rulebook {
            engine: new_engine(),
            scripts,
            segment_index,
            segments,
            rules,
            settings: settings.map(|(s, _)| s).unwrap_or_default(),
            version: version_of(&files),
        };
        if problems.is_empty() {
            problems.extend(book.probe());
        }
        if !problems.is_empty() {
            problems.sort_by(|a, b| (&a.file, a.line, a.col).cmp(&(&b.file, b.line, b.col)));
            problems.dedup();
            return Err(problems);
        }
        Ok(book)
    }

    /// A content hash of the sources: the same files always give the same version.
    pub fn version(&self) -> &str {
        &self.version
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Each rule's id, priority and description, highest priority first.
    pub fn rules(&self) -> impl Iterator<Item = RuleInfo<'_>> {
        self.rules.iter().map(|r| RuleInfo {
            id: &r.id,
            priority: r.priority,
            description: &r.description,
            file: &r.file,
        })
    }

    /// Every experience id a rule can show (each variant of an experiment has its own).
    pub fn experience_ids(&self) -> impl Iterator<Item = &str> {
        self.rules.iter().flat_map(|r| {
            let shows: Vec<&str> = match &r.offer {
                crate::spec::Offer::Show(show) => vec![show.experience.as_str()],
                crate::spec::Offer::Experiment(e) => e
                    .variants
                    .iter()
                    .filter_map(|v| v.show.as_ref().map(|s| s.experience.as_str()))
                    .collect(),
            };
            shows
        })
    }

    pub fn segment_names(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().map(|s| s.name.as_str())
    }

    /// Runs every condition once against sample visitors, so that mistakes Rhai only finds
    /// when code runs (a misspelt field, an unknown function, a wrong type) are reported now,
    /// with their position, rather than at a shopper's page view.
    fn probe(&self) -> Vec<Diagnostic> {
        let mut problems = Vec::new();
        // Errors without a position of their own (a runaway loop) point at the definition.
        let mut report = |file: &str, fallback: rhai::Position, err: &EvalAltResult| {
            let position = innermost(err).position();
            let position = if position.is_none() {
                fallback
            } else {
                position
            };
            problems.push(Diagnostic::new(file, position, rhai_message(err)));
        };
        for sample in crate::profile::samples() {
            // Segments run before `v.segments` is filled in; rules run after.
            let view = crate::view::Visitor::new(&sample, sample.last_seen_ms);
            let visitor = Dynamic::from(view.clone());
            for segment in &self.segments {
                if let Err(err) = call_test(self, segment.script, &segment.test, &visitor, true) {
                    report(&segment.file, segment.position, &err);
                }
            }
            let names: Vec<String> = self.segment_names().map(str::to_owned).collect();
            view.set_segments(&names);
            for rule in &self.rules {
                if let Who::Test(test) = &rule.who {
                    if let Err(err) = call_test(self, rule.script, test, &visitor, false) {
                        report(&rule.file, rule.position, &err);
                    }
                }
                for show in rule.shows() {
                    if let Some(products) = &show.products {
                        if let Err(err) = call_products(self, rule.script, products, &visitor) {
                            report(&rule.file, rule.position, &err);
                        }
                    }
                }
            }
        }
        problems
    }
}

impl Rule {
    /// Every experience the rule can show (one, or one per non-control variant).
    pub(crate) fn shows(&self) -> impl Iterator<Item = &spec::Show> {
        let (single, variants) = match &self.offer {
            Offer::Show(show) => (Some(show), None),
            Offer::Experiment(e) => (
                None,
                Some(e.variants.iter().filter_map(|v| v.show.as_ref())),
            ),
        };
        single.into_iter().chain(variants.into_iter().flatten())
    }
}

/// Unknown segments, duplicate experience ids, and segments that read `v.segments`.
fn check_references(segments: &[Segment], rules: &[Rule], problems: &mut Vec<Diagnostic>) {
    let segment_names: HashSet<&str> = segments.iter().map(|s| s.name.as_str()).collect();
    let mut experiences: HashSet<&str> = HashSet::new();
    for rule in rules {
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
        for show in rule.shows() {
            if !experiences.insert(show.experience.as_str()) {
                problems.push(Diagnostic::new(
                    &rule.file,
                    rule.position,
                    format!(
                        "rule \"{}\": experience id \"{}\" is used twice; each experience needs its own id",
                        rule.id, show.experience
                    ),
                ));
            }
        }
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
    /// Whether the file being run reads `v.segments` anywhere.
    reads_segments: bool,
    /// The settings and the file that gave them.
    settings: Option<(Settings, String)>,
    problems: Vec<Diagnostic>,
}

/// Registers `segment(name, test)`, `rule(id, spec)` and `settings(map)` for the
/// registration run only; the engine that decides does not have them, so a rule cannot
/// register rules at decision time.
fn register_api(engine: &mut Engine, registry: &Rc<RefCell<Registry>>) {
    let reg = Rc::clone(registry);
    engine.register_fn(
        "segment",
        move |ctx: NativeCallContext<'_>, name: ImmutableString, test: FnPtr| {
            let mut reg = reg.borrow_mut();
            let (script, file) = reg.current.clone();
            let position = ctx.call_position();
            let problem = if !spec::is_valid_name(&name) {
                Some(format!(
                    "segment name \"{name}\" must be lower_snake_case letters, digits and '_'"
                ))
            } else if reg.segments.iter().any(|s| s.name == name.as_str()) {
                Some(format!("segment \"{name}\" is defined twice"))
            } else {
                None
            };
            match problem {
                Some(message) => reg.problems.push(Diagnostic::new(&file, position, message)),
                None => reg.segments.push(Segment {
                    name: name.to_string(),
                    script,
                    file,
                    position,
                    test,
                }),
            }
        },
    );
    let reg = Rc::clone(registry);
    engine.register_fn(
        "rule",
        move |ctx: NativeCallContext<'_>, id: ImmutableString, rule: Map| {
            let mut reg = reg.borrow_mut();
            let (script, file) = reg.current.clone();
            let position = ctx.call_position();
            if reg.rules.iter().any(|r| r.id == id.as_str()) {
                let message = format!("rule \"{id}\" is defined twice");
                reg.problems.push(Diagnostic::new(&file, position, message));
                return;
            }
            let reads_segments = reg.reads_segments;
            match spec::parse_rule(&id, rule, script, &file, position) {
                Ok(mut rule) => {
                    rule.reads_segments = reads_segments;
                    reg.rules.push(rule)
                }
                Err(message) => {
                    let message = format!("rule \"{id}\": {message}");
                    reg.problems.push(Diagnostic::new(&file, position, message));
                }
            }
        },
    );
    let reg = Rc::clone(registry);
    engine.register_fn("settings", move |ctx: NativeCallContext<'_>, map: Map| {
        let mut reg = reg.borrow_mut();
        let file = reg.current.1.clone();
        let position = ctx.call_position();
        if let Some((_, first)) = &reg.settings {
            let message = format!("settings are given twice (first in {first})");
            reg.problems.push(Diagnostic::new(&file, position, message));
            return;
        }
        match spec::parse_settings(map) {
            Ok(settings) => reg.settings = Some((settings, file)),
            Err(message) => {
                let message = format!("settings: {message}");
                reg.problems.push(Diagnostic::new(&file, position, message));
            }
        }
    });
}

/// Calls a segment or rule condition with the visitor view. Anything but `true` or `false`
/// is an error, reported rather than guessed at.
pub(crate) fn call_test(
    book: &Rulebook,
    script: usize,
    test: &FnPtr,
    visitor: &Dynamic,
    is_segment: bool,
) -> Result<bool, Box<EvalAltResult>> {
    let result: Dynamic = test.call(&book.engine, &book.scripts[script], (visitor.clone(),))?;
    result.as_bool().map_err(|t| {
        let what = if is_segment {
            "a segment"
        } else {
            "a `who` condition"
        };
        format!("{what} must give true or false, not {t}").into()
    })
}

/// Runs a recommendation's `products` function.
pub(crate) fn call_products(
    book: &Rulebook,
    script: usize,
    source: &FnPtr,
    visitor: &Dynamic,
) -> Result<rhai::Array, Box<EvalAltResult>> {
    let result: Dynamic = source.call(&book.engine, &book.scripts[script], (visitor.clone(),))?;
    result
        .try_cast::<rhai::Array>()
        .ok_or_else(|| "`products` must give a list of products".into())
}
