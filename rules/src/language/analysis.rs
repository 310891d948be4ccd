//! Reading a rulebook's scripts without running them: which visitor fields each condition
//! reads (checked against the visitor model in every branch, not only the branches sample
//! visitors reach), where a field of `rule(...)` was written, and which bracket was left open.
//!
//! This works on an unoptimised copy of each file's syntax tree (Rhai's `internals`), so
//! that map literals keep the positions of their keys; the copy is dropped after compiling.

use rhai::{ASTNode, Engine, Expr, Position, AST};

use crate::language::diagnostic::did_you_mean;
use crate::visitor::view::{Field, MODEL};

/// An unoptimised syntax tree of one file, for analysis only.
pub(crate) fn syntax(text: &str) -> Option<AST> {
    let mut engine: Engine = crate::language::engine::new_engine();
    engine.set_optimization_level(rhai::OptimizationLevel::None);
    engine.compile(text).ok()
}

/// A problem with a `v.` path a condition reads: where, and what to say.
pub(crate) struct FieldProblem {
    pub(crate) position: Position,
    pub(crate) message: String,
}

/// Every `v.a.b` path read by the function `fn_name` (a segment test, `who` or `products`),
/// where `v` is its visitor parameter, that the visitor model does not have.
pub(crate) fn unknown_fields(ast: &AST, fn_name: &str, curried: usize) -> Vec<FieldProblem> {
    let Some(def) = ast.iter_fn_def().find(|f| f.name == fn_name) else {
        return Vec::new();
    };
    let Some(param) = def.params.get(curried) else {
        return Vec::new();
    };
    let param = param.clone();
    let Some(only) = only(ast, fn_name) else {
        return Vec::new();
    };
    let mut problems = Vec::new();
    only.walk(&mut |nodes: &[ASTNode<'_>]| {
        if let Some(ASTNode::Expr(Expr::Dot(dot, _, _))) = nodes.last() {
            if let Expr::Variable(var, _, _) = &dot.lhs {
                if var.1 == param {
                    let mut steps = Vec::new();
                    chain(&dot.rhs, &mut steps);
                    if let Some(problem) = check_path(&param, &steps) {
                        problems.push(problem);
                    }
                }
            }
        }
        true
    });
    problems
}

/// A tree holding only the function `fn_name`, so that a walk sees its body alone.
/// (`AST::clone_functions_only_filtered` keeps every script function.)
fn only(ast: &AST, fn_name: &str) -> Option<AST> {
    let def = ast.iter_fn_def().find(|f| f.name == fn_name)?.clone();
    let mut module = rhai::Module::new();
    module.set_script_fn(def);
    Some(AST::new(Vec::<rhai::Stmt>::new(), module))
}

/// One step of a property chain: a field name and its position, or an index (`[...]`).
enum Step {
    Field(String, Position),
    Index,
    /// A method call (`.len()`, `.get("tier")`): the chain's type is no longer the model's.
    Method,
}

fn chain(expr: &Expr, steps: &mut Vec<Step>) {
    match expr {
        Expr::Property(p, pos) => steps.push(Step::Field(p.2.to_string(), *pos)),
        Expr::MethodCall(..) => steps.push(Step::Method),
        Expr::Dot(x, _, _) => {
            chain(&x.lhs, steps);
            chain(&x.rhs, steps);
        }
        // `a[i].b` is Index { lhs: a, rhs: Dot { lhs: i, rhs: b } }.
        Expr::Index(x, _, _) => {
            chain(&x.lhs, steps);
            steps.push(Step::Index);
            if let Expr::Dot(rest, _, _) = &x.rhs {
                chain(&rest.rhs, steps);
            }
        }
        _ => steps.push(Step::Method),
    }
}

fn check_path(param: &str, steps: &[Step]) -> Option<FieldProblem> {
    let mut fields: &[(&str, Field)] = MODEL;
    let mut written = param.to_owned();
    let mut iter = steps.iter().peekable();
    while let Some(step) = iter.next() {
        let Step::Field(name, position) = step else {
            return None;
        };
        let Some((_, field)) = fields.iter().find(|(n, _)| n == name) else {
            let parent = written.clone();
            return Some(FieldProblem {
                position: *position,
                message: format!(
                    "`{parent}` has no field `{name}`{}",
                    did_you_mean(name, fields.iter().map(|(n, _)| *n))
                ),
            });
        };
        written = format!("{written}.{name}");
        match field {
            Field::Value(_) | Field::Open => {
                return match iter.peek() {
                    Some(Step::Field(next, position)) if matches!(field, Field::Value(_)) => {
                        Some(FieldProblem {
                            position: *position,
                            message: format!("`{written}` is a value; it has no field `{next}`"),
                        })
                    }
                    _ => None,
                }
            }
            Field::Object(inner) => fields = inner,
            Field::Entries(inner) => {
                // `v.prompts["id"].seen` or `v.cart.products[0].name`: the index comes first.
                match iter.next() {
                    Some(Step::Index) => {
                        written.push_str("[]");
                        fields = inner
                    }
                    _ => return None,
                }
            }
        }
    }
    None
}

/// Where `path` (`show.content.en.body`, `experiment.variants[1].weight`) was written in
/// the map given to `rule(id, #{ ... })`, as precisely as the source allows.
pub(crate) fn rule_field(ast: &AST, id: &str, path: &str) -> Option<Position> {
    let mut found = None;
    let mut nodes = Vec::new();
    for stmt in ast.statements() {
        stmt.walk(&mut nodes, &mut |nodes: &[ASTNode<'_>]| {
            if let Some(ASTNode::Expr(Expr::FnCall(call, _))) = nodes.last() {
                let is_rule = call.name == "rule"
                    && matches!(call.args.first(), Some(Expr::StringConstant(s, _)) if s == id);
                if is_rule {
                    if let Some(spec) = call.args.get(1) {
                        found = Some(descend(spec, path));
                    }
                    return false;
                }
            }
            true
        });
        if found.is_some() {
            break;
        }
    }
    found.flatten()
}

/// The position of the deepest part of `path` found under `expr`.
fn descend(expr: &Expr, path: &str) -> Option<Position> {
    let mut current = expr;
    let mut best = None;
    for part in path.split('.') {
        let (name, indices) = match part.find('[') {
            Some(at) => (&part[..at], &part[at..]),
            None => (part, ""),
        };
        if !name.is_empty() {
            let Expr::Map(map, _) = current else {
                return best;
            };
            let Some((ident, value)) = map.0.iter().find(|(k, _)| k.name == name) else {
                return best;
            };
            best = Some(ident.pos);
            current = value;
        }
        for index in indices
            .split(['[', ']'])
            .filter_map(|i| i.parse::<usize>().ok())
        {
            let Expr::Array(items, _) = current else {
                return best;
            };
            let Some(item) = items.get(index) else {
                return best;
            };
            best = Some(item.start_position());
            current = item;
        }
    }
    best
}

/// The first backquoted field path in a message (`show.content.en.body` in "`show.content.en.body`
/// is missing"), which says where in `rule(...)` the problem is.
pub(crate) fn field_in(message: &str) -> Option<&str> {
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    let path = &message[start..start + len];
    let plausible = !path.is_empty()
        && path
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '[' | ']'));
    plausible.then_some(path)
}

/// The bracket that was most likely left open, for a parse error about a missing closing
/// one: Rhai notices only where the text stops making sense, often lines further down.
///
/// Brackets are paired as written (strings and comments skipped); the first pair spanning
/// lines whose closing line is indented less than its opening line is the likely culprit
/// (the closer belonged to an outer bracket); failing that, the innermost bracket never
/// closed.
pub(crate) fn unclosed_bracket(text: &str) -> Option<(usize, usize, char)> {
    let mut stack: Vec<(char, usize, usize)> = Vec::new();
    let mut suspects: Vec<(usize, usize, char)> = Vec::new();
    // Whether a closer met the wrong opener (or none): the brackets do not balance.
    let mut mismatched = false;
    let indent = |line: &str| line.len() - line.trim_start().len();
    let lines: Vec<&str> = text.lines().collect();
    let (mut line, mut col) = (1usize, 0usize);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        col += 1;
        match c {
            '\n' => {
                line += 1;
                col = 0;
            }
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        line += 1;
                        col = 0;
                        break;
                    }
                }
            }
            '"' | '`' | '\'' => {
                let quote = c;
                let mut escaped = false;
                for c in chars.by_ref() {
                    col += 1;
                    if c == '\n' {
                        line += 1;
                        col = 0;
                    }
                    if escaped {
                        escaped = false;
                    } else if c == '\\' {
                        escaped = true;
                    } else if c == quote {
                        break;
                    }
                }
            }
            '(' | '[' | '{' => stack.push((c, line, col)),
            ')' | ']' | '}' => {
                let Some((open, open_line, open_col)) = stack.pop() else {
                    mismatched = true;
                    continue;
                };
                mismatched |= !matches!((open, c), ('(', ')') | ('[', ']') | ('{', '}'));
                {
                    let opener_indent = lines.get(open_line - 1).map_or(0, |l| indent(l));
                    let closer_indent = lines.get(line - 1).map_or(0, |l| indent(l));
                    if open_line != line && closer_indent < opener_indent {
                        suspects.push((open_line, open_col, open));
                    }
                }
            }
            _ => {}
        }
    }
    if stack.is_empty() && !mismatched {
        return None;
    }
    suspects
        .into_iter()
        .next()
        .or_else(|| stack.last().map(|&(c, l, col)| (l, col, c)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unclosed_block_is_found_where_it_opens() {
        let text = "rule(\"a\", #{\n    who: |v| {\n        v.visits > 1\n    ,\n    show: #{ kind: \"bar\" },\n});\n";
        assert_eq!(unclosed_bracket(text), Some((2, 14, '{')));
    }

    #[test]
    fn balanced_text_has_no_culprit() {
        let text =
            "rule(\"a\", #{\n        who: |v| v.visits > 1,\n    show: #{ kind: \"bar\" },\n});\n";
        assert_eq!(unclosed_bracket(text), None);
    }

    #[test]
    fn brackets_in_strings_and_comments_do_not_count() {
        let text = "// a ( comment\nlet s = \"{(\";\nlet t = [1, 2;\n";
        assert_eq!(unclosed_bracket(text), Some((3, 9, '[')));
    }

    #[test]
    fn field_paths_are_read_from_messages() {
        assert_eq!(
            field_in("`cap.per_session` must be a whole number"),
            Some("cap.per_session")
        );
        assert_eq!(field_in("no field here"), None);
        assert_eq!(field_in("`a b` is not a path"), None);
    }

    #[test]
    fn misspelt_fields_are_found_in_every_branch() {
        let ast = syntax("segment(\"s\", |v| v.cart.items > 0 && v.cart.vlaue > 20);").unwrap();
        let name = ast.iter_fn_def().next().unwrap().name.to_string();
        let problems = unknown_fields(&ast, &name, 0);
        assert_eq!(problems.len(), 1);
        assert_eq!(
            problems[0].message,
            "`v.cart` has no field `vlaue`; did you mean `value`?"
        );
        assert_eq!(problems[0].position, Position::new(1, 45));
    }

    #[test]
    fn indexed_and_open_fields_are_understood() {
        let ast = syntax(
            "segment(\"s\", |v| v.prompts[\"x\"].seen > 0 && v.traits.get(\"tier\") == \"gold\" && v.recent_products[0].nme == \"\");",
        )
        .unwrap();
        let name = ast.iter_fn_def().next().unwrap().name.to_string();
        let problems = unknown_fields(&ast, &name, 0);
        let messages: Vec<&str> = problems.iter().map(|p| p.message.as_str()).collect();
        assert_eq!(
            messages,
            ["`v.recent_products[]` has no field `nme`; did you mean `name`?"]
        );
    }
}

/// Why the condition `fn_name` (a segment test or a `who` function) is false for `visitor`:
/// the first clause of its final `&&` that is false, with the values it read, such as
/// `v.cart.value = 77.0, needs > 80`. `None` when the condition is not written in a form
/// this can take apart (the trace then says only that it is false).
pub(crate) fn explain_false(
    engine: &Engine,
    ast: &AST,
    fn_name: &str,
    curried: usize,
    visitor: &rhai::Dynamic,
) -> Option<String> {
    let def = ast.iter_fn_def().find(|f| f.name == fn_name)?;
    let param = def.params.get(curried)?.to_string();
    let only = only(ast, fn_name)?;
    let eval = |text: &str| -> Option<rhai::Dynamic> {
        let mut scope = rhai::Scope::new();
        scope.push(param.as_str(), visitor.clone());
        engine
            .eval_expression_with_scope::<rhai::Dynamic>(&mut scope, text)
            .ok()
    };
    let mut answer = None;
    only.walk(&mut |nodes: &[ASTNode<'_>]| {
        // Only the function's own statements; the last one is its result.
        if nodes.len() == 1 {
            answer = match nodes[0] {
                ASTNode::Stmt(rhai::Stmt::Expr(expr)) => explain_expr(expr, &eval),
                ASTNode::Stmt(rhai::Stmt::FnCall(call, _)) => explain_call(call, &eval),
                _ => None,
            };
        }
        true
    });
    answer
}

type Eval<'a> = dyn Fn(&str) -> Option<rhai::Dynamic> + 'a;

fn explain_expr(expr: &Expr, eval: &Eval<'_>) -> Option<String> {
    match expr {
        Expr::And(clauses, _) => clauses.iter().find_map(|clause| {
            let holds = eval(&print(clause)?)?.as_bool().ok()?;
            if holds {
                None
            } else {
                explain_expr(clause, eval)
            }
        }),
        Expr::Or(clauses, _) => {
            let parts: Option<Vec<String>> =
                clauses.iter().map(|c| explain_expr(c, eval)).collect();
            Some(format!("none of these holds: {}", parts?.join("; ")))
        }
        Expr::FnCall(call, _) => explain_call(call, eval),
        other => {
            let text = print(other)?;
            (eval(&text)?.as_bool().ok() == Some(false)).then(|| format!("`{text}` is false"))
        }
    }
}

fn explain_call(call: &rhai::FnCallExpr, eval: &Eval<'_>) -> Option<String> {
    let shown = |text: &str| eval(text).map(|value| show_value(&value));
    match (call.name.as_str(), call.args.as_slice()) {
        (op @ ("==" | "!=" | ">" | ">=" | "<" | "<="), [lhs, rhs]) => {
            let (left, right) = (print(lhs)?, print(rhs)?);
            let constant = |e: &Expr| e.is_constant();
            Some(match (constant(lhs), constant(rhs)) {
                (false, true) => format!("{left} = {}, needs {op} {right}", shown(&left)?),
                (true, false) => format!("{right} = {}, needs {} {left}", shown(&right)?, flip(op)),
                _ => format!(
                    "{left} = {}, {right} = {}, needs {left} {op} {right}",
                    shown(&left)?,
                    shown(&right)?
                ),
            })
        }
        // `"vip" in v.segments` is `contains(v.segments, "vip")`.
        ("contains", [list, item]) => {
            let (list, item) = (print(list)?, print(item)?);
            Some(format!(
                "{list} = {}, needs to contain {item}",
                shown(&list)?
            ))
        }
        ("!", [inner]) => {
            let inner = print(inner)?;
            Some(format!("`{inner}` is true, needs false"))
        }
        _ => {
            let text = print_call(call)?;
            Some(format!("`{text}` is false"))
        }
    }
}

fn flip(op: &str) -> &str {
    match op {
        ">" => "<",
        ">=" => "<=",
        "<" => ">",
        "<=" => ">=",
        same => same,
    }
}

fn show_value(value: &rhai::Dynamic) -> String {
    if value.is_string() {
        format!("{:?}", value.to_string())
    } else if value.is_unit() {
        "nothing".to_owned()
    } else {
        value.to_string()
    }
}

/// Rhai source for an expression, for the forms conditions are written in.
fn print(expr: &Expr) -> Option<String> {
    Some(match expr {
        Expr::Variable(x, _, _) => x.1.to_string(),
        Expr::IntegerConstant(n, _) => n.to_string(),
        Expr::FloatConstant(f, _) => {
            let text = f.to_string();
            if text.contains(['.', 'e', 'E']) {
                text
            } else {
                format!("{text}.0")
            }
        }
        Expr::StringConstant(s, _) => format!("{:?}", s.as_str()),
        Expr::BoolConstant(b, _) => b.to_string(),
        Expr::CharConstant(c, _) => format!("{c:?}"),
        Expr::Unit(_) => "()".to_owned(),
        Expr::Dot(x, _, _) => format!("{}.{}", print(&x.lhs)?, print_chain(&x.rhs)?),
        Expr::Index(x, _, _) => print_index(&x.lhs, &x.rhs)?,
        Expr::FnCall(call, _) => print_call(call)?,
        Expr::And(list, _) | Expr::Or(list, _) => {
            let op = if matches!(expr, Expr::And(..)) {
                " && "
            } else {
                " || "
            };
            let parts: Option<Vec<String>> = list.iter().map(print).collect();
            format!("({})", parts?.join(op))
        }
        Expr::Array(items, _) => {
            let parts: Option<Vec<String>> = items.iter().map(print).collect();
            format!("[{}]", parts?.join(", "))
        }
        _ => return None,
    })
}

/// The part of a property chain after a `.`.
fn print_chain(expr: &Expr) -> Option<String> {
    Some(match expr {
        Expr::Property(p, _) => p.2.to_string(),
        Expr::MethodCall(call, _) => {
            let args: Option<Vec<String>> = call.args.iter().map(print).collect();
            format!("{}({})", call.name, args?.join(", "))
        }
        Expr::Dot(x, _, _) => format!("{}.{}", print_chain(&x.lhs)?, print_chain(&x.rhs)?),
        Expr::Index(x, _, _) => {
            let lhs = print_chain(&x.lhs)?;
            match &x.rhs {
                Expr::Dot(rest, _, _) => {
                    format!("{lhs}[{}].{}", print(&rest.lhs)?, print_chain(&rest.rhs)?)
                }
                index => format!("{lhs}[{}]", print(index)?),
            }
        }
        _ => return None,
    })
}

fn print_index(lhs: &Expr, rhs: &Expr) -> Option<String> {
    let lhs = print(lhs)?;
    Some(match rhs {
        Expr::Dot(rest, _, _) => {
            format!("{lhs}[{}].{}", print(&rest.lhs)?, print_chain(&rest.rhs)?)
        }
        index => format!("{lhs}[{}]", print(index)?),
    })
}

fn print_call(call: &rhai::FnCallExpr) -> Option<String> {
    let args: Option<Vec<String>> = call.args.iter().map(print).collect();
    let args = args?;
    Some(match (call.op_token.is_some(), args.as_slice()) {
        (true, [a, b]) if call.name == "contains" => format!("({b} in {a})"),
        (true, [a, b]) => format!("({a} {} {b})", call.name),
        (true, [a]) => format!("{}{a}", call.name),
        _ => format!("{}({})", call.name, args.join(", ")),
    })
}
#[cfg(test)]
mod explain_tests {
    use super::*;

    fn why(source: &str, which: usize, visitor: crate::Profile) -> Option<String> {
        let engine = crate::language::engine::new_engine();
        let ast = engine.compile(source).unwrap();
        let names: Vec<String> = ast.iter_fn_def().map(|f| f.name.to_string()).collect();
        let view = crate::visitor::view::Visitor::new(&visitor, 0);
        let mut order = Vec::new();
        // The order of definition, from the positions of the bodies.
        for name in &names {
            let def = ast.iter_fn_def().find(|f| f.name == name).unwrap();
            order.push((def.body.start_position(), name.clone()));
        }
        order.sort();
        explain_false(
            &engine,
            &ast,
            &order[which].1,
            0,
            &rhai::Dynamic::from(view),
        )
    }

    #[test]
    fn the_failing_clause_is_named_with_its_value() {
        let source = "segment(\"a\", |v| v.product_views >= 3);\nsegment(\"b\", |v| v.visits >= 0 && v.cart.value > 80.0 && v.locale == \"it\");";
        assert_eq!(
            why(source, 1, crate::Profile::new("x")).as_deref(),
            Some("v.cart.value = 0.0, needs > 80.0")
        );
        assert_eq!(
            why(source, 0, crate::Profile::new("x")).as_deref(),
            Some("v.product_views = 0, needs >= 3")
        );
    }
}
