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

mod api;
pub(crate) mod lint;

pub(crate) use self::api::{call_products, call_test, Listed};
use self::api::{register_api, Registry};

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use rhai::{Dynamic, Engine, EvalAltResult, FnPtr, ImmutableString, Map, NativeCallContext, AST};

use crate::language::diagnostic::{
    did_you_mean, innermost, parse_message, rhai_message, Diagnostic,
};
use crate::language::engine::new_engine;
use crate::language::settings::Settings;
use crate::language::spec::{self, Offer, Rule, Who};

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
    warnings: Vec<Diagnostic>,
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
#[derive(Debug, Clone, PartialEq)]
pub struct RuleInfo<'a> {
    pub id: &'a str,
    pub priority: i64,
    pub description: &'a str,
    pub file: &'a str,
    /// `false` for a paused rule (`enabled: false`).
    pub enabled: bool,
    /// The segments its `who` names; empty when it targets everyone or a condition.
    pub segments: &'a [String],
    /// For an experiment, its arms in order: id, share of the experiment's visitors, and
    /// whether it shows something (a control does not).
    pub arms: Vec<ArmInfo<'a>>,
    /// For an experiment, the primary metric its verdict is judged on (`conversion` unless
    /// the rule names another); empty for a rule that is not one.
    pub metric: &'a str,
}

/// One arm of an experiment, for results.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ArmInfo<'a> {
    pub id: &'a str,
    /// Its share of the experiment's visitors, 0 to 1.
    pub weight: f64,
    pub shows: bool,
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
        Rulebook::build(files, true)
    }

    /// Compiles a rulebook that [`compile`](Rulebook::compile) has already accepted (one
    /// published, or the built-in demo), for serving: without the checks that only produce
    /// diagnostics (the static field check, the sample-visitor probe, warnings), a quarter of
    /// the time. A rulebook with errors is still refused.
    pub fn load(files: &[SourceFile]) -> Result<Rulebook, Vec<Diagnostic>> {
        Rulebook::build(files, false)
    }

    fn build(files: &[SourceFile], checked: bool) -> Result<Rulebook, Vec<Diagnostic>> {
        let mut files: Vec<&SourceFile> = files.iter().collect();
        files.sort_by(|a, b| a.name.cmp(&b.name));
        let Ran {
            scripts,
            trees,
            broken,
            registry:
                Registry {
                    segments,
                    rules,
                    settings,
                    mut problems,
                    ..
                },
        } = run_files(&files, checked);
        // Segments a broken file would have defined: rules naming them are not reported
        // as naming unknown segments, since the one real error is in that file.
        let promised: Vec<String> = broken.iter().flat_map(|f| segments_in(&f.text)).collect();
        check_references(&segments, &rules, &promised, &trees, &mut problems);
        if checked {
            check_fields_read(&segments, &rules, &trees, &mut problems);
            locate_rule_problems(&files, &trees, &mut problems);
        }
        let mut rules = rules;
        for rule in &mut rules {
            if rule.end_ms.is_some() {
                rule.end_position = rule_position(rule, &trees, "schedule.end");
            }
        }
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
            warnings: Vec::new(),
        };
        if checked && !problems.iter().any(Diagnostic::is_error) {
            problems.extend(book.probe());
        }
        if checked && !problems.iter().any(Diagnostic::is_error) {
            problems.extend(crate::language::rulebook::lint::compile_warnings(
                &book, &trees,
            ));
        }
        Diagnostic::sort(&mut problems);
        if problems.iter().any(Diagnostic::is_error) {
            return Err(problems);
        }
        Ok(Rulebook {
            warnings: problems,
            ..book
        })
    }

    /// What is suspicious but not wrong: each warning names something that will not work
    /// as the marketer probably meant it. `rapport check --strict` treats them as errors.
    pub fn warnings(&self) -> &[Diagnostic] {
        &self.warnings
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
            enabled: r.enabled,
            segments: match &r.who {
                crate::language::spec::Who::Segments(names) => names,
                _ => &[],
            },
            arms: match &r.offer {
                Offer::Show(_) => Vec::new(),
                Offer::Experiment(e) => e
                    .variants
                    .iter()
                    .zip(&e.weights)
                    .map(|(v, w)| ArmInfo {
                        id: &v.id,
                        weight: *w,
                        shows: v.show.is_some(),
                    })
                    .collect(),
            },
            metric: match &r.offer {
                Offer::Show(_) => "",
                Offer::Experiment(e) => &e.metric,
            },
        })
    }

    /// Every experience id a rule can show (each variant of an experiment has its own).
    pub fn experience_ids(&self) -> impl Iterator<Item = &str> {
        self.rules.iter().flat_map(|r| {
            let shows: Vec<&str> = match &r.offer {
                crate::language::spec::Offer::Show(show) => vec![show.experience.as_str()],
                crate::language::spec::Offer::Experiment(e) => e
                    .variants
                    .iter()
                    .filter_map(|v| v.show.as_ref().map(|s| s.experience.as_str()))
                    .collect(),
            };
            shows
        })
    }

    /// The experiment of rule `rule_id`, or why there is none (with the rule probably meant).
    pub(crate) fn experiment(&self, rule_id: &str) -> Result<&spec::Experiment, String> {
        let rule = self.rules.iter().find(|r| r.id == rule_id).ok_or_else(|| {
            format!(
                "no rule \"{rule_id}\"{}",
                did_you_mean(rule_id, self.rules.iter().map(|r| r.id.as_str()))
            )
        })?;
        match &rule.offer {
            Offer::Experiment(experiment) => Ok(experiment),
            Offer::Show(_) => Err(format!("rule \"{rule_id}\" is not an experiment")),
        }
    }

    /// Why `arm` cannot be pinned for rule `rule` in a test case, if it cannot.
    pub(crate) fn arm_problem(&self, rule: &str, arm: &str) -> Option<String> {
        let experiment = match self.experiment(rule) {
            Ok(experiment) => experiment,
            Err(why) => return Some(format!("`arms`: {why}")),
        };
        let ids = || experiment.variants.iter().map(|v| v.id.as_str());
        (!ids().any(|id| id == arm)).then(|| {
            format!(
                "`arms`: rule \"{rule}\" has no variant \"{arm}\"{}",
                did_you_mean(arm, ids())
            )
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
        for sample in crate::visitor::samples::samples() {
            // Segments run before `v.segments` is filled in; rules run after.
            let view = crate::visitor::view::Visitor::new(&sample, sample.last_seen_ms);
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

/// Every file compiled and run once, in name order, with `segment()`, `rule()` and
/// `settings()` registering what it defines.
struct Ran<'a> {
    /// Each file's compiled script (empty for one that failed), in the files' order.
    scripts: Vec<AST>,
    /// Unoptimised trees of each file, for analysis; `None` for a file that failed, or when
    /// the rulebook is loaded unchecked.
    trees: Vec<Option<AST>>,
    /// Files that did not compile or run, whose segments may therefore be missing.
    broken: Vec<&'a SourceFile>,
    registry: Registry,
}

fn run_files<'a>(files: &[&'a SourceFile], checked: bool) -> Ran<'a> {
    let registry = Rc::new(RefCell::new(Registry::default()));
    let mut engine = new_engine();
    register_api(&mut engine, &registry);
    let mut ran = Ran {
        scripts: Vec::with_capacity(files.len()),
        trees: Vec::with_capacity(files.len()),
        broken: Vec::new(),
        registry: Registry::default(),
    };
    for (index, file) in files.iter().enumerate() {
        let ast = match engine.compile(&file.text) {
            Ok(ast) => ast,
            Err(err) => {
                registry
                    .borrow_mut()
                    .problems
                    .push(parse_diagnostic(file, &err));
                ran.broken.push(file);
                // Keep indices aligned with `files`; this script never runs.
                ran.scripts.push(AST::empty());
                ran.trees.push(None);
                continue;
            }
        };
        ran.trees.push(
            checked
                .then(|| crate::language::analysis::syntax(&file.text))
                .flatten(),
        );
        registry.borrow_mut().current = (index, file.name.clone());
        registry.borrow_mut().reads_segments = file.text.contains(".segments");
        if let Err(err) = engine.run_ast(&ast) {
            registry.borrow_mut().problems.push(Diagnostic::new(
                &file.name,
                innermost(&err).position(),
                rhai_message(&err),
            ));
            ran.broken.push(file);
        }
        ran.scripts.push(ast);
    }
    drop(engine);
    ran.registry = Rc::try_unwrap(registry)
        .map(RefCell::into_inner)
        .unwrap_or_else(|shared| std::mem::take(&mut *shared.borrow_mut()));
    ran
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

/// Unknown segments (with a suggestion), duplicate experience ids, and segments that read
/// `v.segments`.
fn check_references(
    segments: &[Segment],
    rules: &[Rule],
    promised: &[String],
    trees: &[Option<AST>],
    problems: &mut Vec<Diagnostic>,
) {
    let segment_names: HashSet<&str> = segments.iter().map(|s| s.name.as_str()).collect();
    let mut experiences: HashSet<&str> = HashSet::new();
    for rule in rules {
        if let Who::Segments(names) = &rule.who {
            for (index, name) in names.iter().enumerate() {
                if segment_names.contains(name.as_str()) || promised.contains(name) {
                    continue;
                }
                let field = if names.len() > 1 {
                    format!("who[{index}]")
                } else {
                    "who".to_owned()
                };
                problems.push(Diagnostic::new(
                    &rule.file,
                    rule_position(rule, trees, &field),
                    format!(
                        "rule \"{}\": unknown segment \"{name}\"{}",
                        rule.id,
                        did_you_mean(name, segment_names.iter().copied())
                    ),
                ));
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

/// Fields the conditions read that the visitor model does not have, found in the source
/// (every branch), not by running it.
fn check_fields_read(
    segments: &[Segment],
    rules: &[Rule],
    trees: &[Option<AST>],
    problems: &mut Vec<Diagnostic>,
) {
    let mut check = |file: &str, script: usize, function: &FnPtr| {
        let Some(Some(tree)) = trees.get(script) else {
            return;
        };
        let curried = function.curry().len();
        for problem in crate::language::analysis::unknown_fields(tree, function.fn_name(), curried)
        {
            problems.push(Diagnostic::new(file, problem.position, problem.message));
        }
    };
    for segment in segments {
        check(&segment.file, segment.script, &segment.test);
    }
    for rule in rules {
        if let Who::Test(test) = &rule.who {
            check(&rule.file, rule.script, test);
        }
        for show in rule.shows() {
            if let Some(products) = &show.products {
                check(&rule.file, rule.script, products);
            }
        }
    }
}

/// Moves problems reported at `rule(` to the field they are about (the first field path
/// the message names), when the source shows where it was written.
fn locate_rule_problems(files: &[&SourceFile], trees: &[Option<AST>], problems: &mut [Diagnostic]) {
    for problem in problems {
        let Some(rest) = problem.message.strip_prefix("rule \"") else {
            continue;
        };
        let Some((id, said)) = rest.split_once("\": ") else {
            continue;
        };
        let Some(field) = crate::language::analysis::field_in(said) else {
            continue;
        };
        let tree = files
            .iter()
            .position(|f| f.name == problem.file)
            .and_then(|i| trees.get(i))
            .and_then(Option::as_ref);
        if let Some(at) = tree.and_then(|t| crate::language::analysis::rule_field(t, id, field)) {
            problem.line = at.line().unwrap_or(problem.line);
            problem.col = at.position().unwrap_or(problem.col);
        }
    }
}

/// Where `field` of `rule` was written, or the `rule(` call when the source does not say.
fn rule_position(rule: &Rule, trees: &[Option<AST>], field: &str) -> rhai::Position {
    trees
        .get(rule.script)
        .and_then(Option::as_ref)
        .and_then(|tree| crate::language::analysis::rule_field(tree, &rule.id, field))
        .unwrap_or(rule.position)
}

/// The names a file defines with `segment("name", ...)`, read from its text: used when the
/// file cannot be compiled, so that its segments are not reported missing elsewhere.
fn segments_in(text: &str) -> Vec<String> {
    text.split("segment(")
        .skip(1)
        .filter_map(|rest| {
            let rest = rest.trim_start().strip_prefix('"')?;
            rest.find('"').map(|end| rest[..end].to_owned())
        })
        .collect()
}

/// A syntax error at its real cause: a bracket left open is reported where it opens, not
/// where Rhai gave up.
fn parse_diagnostic(file: &SourceFile, err: &rhai::ParseError) -> Diagnostic {
    let message = parse_message(err.err_type());
    let noticed = err.position();
    if let Some((line, col, bracket)) = crate::language::analysis::unclosed_bracket(&file.text) {
        let opened_before = (line, col)
            < (
                noticed.line().unwrap_or(usize::MAX),
                noticed.position().unwrap_or(0),
            );
        if opened_before {
            return Diagnostic::new(
                &file.name,
                rhai::Position::new(line as u16, col as u16),
                format!(
                    "this `{bracket}` is never closed (the file stops making sense at {}:{}: {message})",
                    noticed.line().unwrap_or(0),
                    noticed.position().unwrap_or(0)
                ),
            );
        }
    }
    Diagnostic::new(&file.name, noticed, message)
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
