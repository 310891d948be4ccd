//! What a rulebook's scripts call while it compiles (`segment()`, `rule()`, `settings()`),
//! and calling a segment's or rule's functions for a visitor.

use super::*;

use rapport_protocol::SlotRequest;

#[derive(Default)]
pub(super) struct Registry {
    /// The script being run and its file name.
    pub(super) current: (usize, String),
    pub(super) segments: Vec<Segment>,
    pub(super) rules: Vec<Rule>,
    /// Whether the file being run reads `v.segments` anywhere.
    pub(super) reads_segments: bool,
    /// The settings and the file that gave them.
    pub(super) settings: Option<(Settings, String)>,
    pub(super) problems: Vec<Diagnostic>,
}

/// Registers `segment(name, test)`, `rule(id, spec)` and `settings(map)` for the
/// registration run only; the engine that decides does not have them, so a rule cannot
/// register rules at decision time.
pub(super) fn register_api(engine: &mut Engine, registry: &Rc<RefCell<Registry>>) {
    let reg = Rc::clone(registry);
    engine.register_fn(
        "segment",
        move |ctx: NativeCallContext<'_>, name: ImmutableString, test: FnPtr| {
            let mut reg = reg.borrow_mut();
            let (script, file) = reg.current.clone();
            let position = ctx.call_position();
            let problem = if !crate::language::fields::is_valid_name(&name) {
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
        match Settings::parse(map) {
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
) -> Result<Listed, Box<EvalAltResult>> {
    let result: Dynamic = source.call(&book.engine, &book.scripts[script], (visitor.clone(),))?;
    if result.is::<SlotRequest>() {
        return Ok(Listed::Learnt(Box::new(result.cast::<SlotRequest>())));
    }
    result
        .try_cast::<rhai::Array>()
        .map(Listed::Given)
        .ok_or_else(|| {
            "`products` must give a list of products, or a strategy such as similar_to(v, 4)".into()
        })
}

/// What a recommendation's `products` gave.
pub(crate) enum Listed {
    /// Products the rule listed itself (`v.recent_products`, maps).
    Given(rhai::Array),
    /// A strategy, for the edge to fill from the catalogue.
    Learnt(Box<SlotRequest>),
}
