//! The one Rhai engine constructor. Every engine Rapport runs comes from [`new_engine`], so
//! the sandbox is defined in exactly one place.

use rhai::packages::{
    BasicArrayPackage, BasicMapPackage, BasicMathPackage, BasicStringPackage, LogicPackage,
    MoreStringPackage, Package,
};
use rhai::{def_package, Engine};

def_package! {
    /// What rules need from Rhai's standard library, in one module: logic, maths, strings,
    /// arrays (`in`, `contains`, `len`, `filter`) and maps. One module rather than six
    /// makes every function lookup a single probe, which matters at thousands of
    /// decisions a second.
    RulesPackage(_module): LogicPackage, BasicMathPackage, BasicStringPackage,
        MoreStringPackage, BasicArrayPackage, BasicMapPackage {}
}

/// Operations one script call may take before it is stopped. The demo's rules take at most
/// a few dozen (a test holds them to a twentieth of this). 50,000 let a runaway loop spin for
/// 185 ms in the edge; 3,000 stops it in proportion (BENCHMARKS.md has the measured cost).
pub const MAX_OPERATIONS: u64 = 3_000;

/// A sandboxed engine: only the packages rules need, every limit set, strict variables,
/// no `eval`, no modules (the `no_module` feature), no file or network access (never
/// registered), and no printing.
pub fn new_engine() -> Engine {
    let mut engine = Engine::new_raw();
    // Arithmetic and comparison operators come from the core; the package adds the rest.
    RulesPackage::new().register_into_engine(&mut engine);

    engine.set_max_operations(MAX_OPERATIONS);
    engine.set_max_call_levels(16);
    engine.set_max_expr_depths(64, 32);
    engine.set_max_string_size(4 * 1024);
    engine.set_max_array_size(1_000);
    engine.set_max_map_size(500);
    engine.set_max_variables(200);
    engine.set_max_functions(200);
    engine.set_strict_variables(true);
    // A typo in a field name (`v.cart.cuont`) is an error, not a silent `()`.
    engine.set_fail_on_invalid_map_property(true);
    engine.disable_symbol("eval");
    // `v`, the visitor, and its parts.
    crate::visitor::view::register(&mut engine);
    // `bucket(seed, id)`: GrowthBook-compatible bucketing, for rules that split audiences.
    engine.register_fn("bucket", |seed: &str, id: &str| {
        crate::bucket::bucket(seed, id)
    });
    // `similar_to(...)`, `popular(...)` and the rest, for recommendations.
    crate::language::strategies::register(&mut engine);
    engine.on_print(|_| {});
    engine.on_debug(|_, _, _| {});
    engine
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::visitor::view::{Field, Visitor, MODEL};
    use rhai::Dynamic;

    /// Every path of the model reads without error on a visitor with a product viewed,
    /// one in the cart and a prompt seen, so the model never promises a field `v` lacks.
    #[test]
    fn the_model_matches_the_registered_getters() {
        fn paths(prefix: &str, fields: &[(&str, Field)], out: &mut Vec<String>) {
            for (name, field) in fields {
                let path = format!("{prefix}.{name}");
                match field {
                    Field::Value(_) | Field::Open => out.push(path),
                    Field::Object(inner) => paths(&path, inner, out),
                    Field::Entries(inner) if name == &"prompts" => {
                        paths(&format!("{path}[\"seen\"]"), inner, out)
                    }
                    Field::Entries([]) => out.push(path),
                    Field::Entries(inner) => paths(&format!("{path}[0]"), inner, out),
                }
            }
        }
        let mut all = Vec::new();
        paths("v", MODEL, &mut all);
        let samples = crate::visitor::samples::samples();
        let full = samples
            .iter()
            .find(|p| !p.cart.is_empty() && !p.recent_products.is_empty() && !p.prompts.is_empty())
            .expect("a sample with a cart, products and prompts");
        let mut full = full.clone();
        let history = full.prompts.values().next().unwrap().clone();
        full.prompts.insert("seen".into(), history);
        let engine = new_engine();
        for path in all {
            let mut scope = rhai::Scope::new();
            scope.push("v", Visitor::new(&full, full.last_seen_ms));
            let _value = engine
                .eval_with_scope::<Dynamic>(&mut scope, &path)
                .unwrap_or_else(|e| panic!("{path}: {e}"));
        }
    }

    #[test]
    fn runaway_loop_is_stopped() {
        let engine = new_engine();
        let err = engine.run("loop { }").unwrap_err();
        assert!(
            matches!(*err, rhai::EvalAltResult::ErrorTooManyOperations(_)),
            "{err}"
        );
    }

    #[test]
    fn eval_is_disabled() {
        assert!(new_engine().compile(r#"eval("1")"#).is_err());
    }

    #[test]
    fn undefined_variable_is_a_compile_error() {
        assert!(new_engine().compile("let x = y + 1;").is_err());
    }

    #[test]
    fn huge_strings_are_refused() {
        let err = new_engine()
            .run(r#"let s = "x"; loop { s += s; }"#)
            .unwrap_err();
        assert!(
            matches!(*err, rhai::EvalAltResult::ErrorDataTooLarge(..)),
            "{err}"
        );
    }

    #[test]
    fn unknown_map_property_is_an_error() {
        let engine = new_engine();
        assert!(engine.eval::<i64>("let m = #{a: 1}; m.b").is_err());
        assert_eq!(engine.eval::<i64>("let m = #{a: 1}; m.a").unwrap(), 1);
    }
}
