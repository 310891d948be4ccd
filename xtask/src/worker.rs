//! The Worker around the edge's wasm, made as `worker-build` 0.8.7 makes it (the `worker`
//! crate's version in `Cargo.lock`), without installing it: its steps are few, and its own
//! `cargo install` was minutes of a cold set-up.
//!
//! 1. `wasm-bindgen --target module --out-name index` with the reset-state function and the
//!    abort handler (which the shim uses to start the module again after a critical error);
//! 2. `wasm-opt` with the features workerd supports, dropping the names section (worker-build
//!    keeps it and optimises with `-O`; see below why this does neither);
//! 3. `shim.js` (`xtask/js/worker-shim.js`) with a handler for each function the module
//!    exports, and a wrapper for each class (the Durable Objects);
//! 4. esbuild bundles the shim and the glue into `build/index.js`, the wasm left beside it;
//! 5. `build/worker/shim.mjs`, the entry `wrangler.toml` names, re-exports it.

use std::fs;
use std::path::Path;

use anyhow::{bail, Context, Result};

use crate::process;
use crate::tools;

const SHIM: &str = include_str!("../js/worker-shim.js");

/// The `worker` crate the shim and these steps are worker-build's for: a newer one may need
/// a newer shim, so the build stops until they are brought up to it.
const FOR_WORKER: &str = "0.8.7";

/// Functions the module exports for the shim itself, not as handlers.
const SYSTEM_FUNCTIONS: &[&str] = &["__wbg_reset_state", "__worker_init_state"];

/// Handlers the runtime calls with the environment and context as arguments.
const RUNTIME_HANDLERS: &[&str] = &["fetch", "queue", "scheduled", "email", "connect"];

/// Builds `edge/build/` from the edge's wasm, `wasm`.
pub fn build(root: &Path, wasm: &Path, bindgen: &Path) -> Result<()> {
    let worker = tools::locked_version(root, "worker")?;
    if worker != FOR_WORKER {
        bail!(
            "Cargo.lock has the worker crate {worker}, but xtask makes the Worker as worker-build \
             {FOR_WORKER} does: compare worker-build {worker}'s steps and shim with \
             xtask/src/worker.rs and xtask/js/worker-shim.js, then update FOR_WORKER"
        );
    }
    let dir = root.join("edge");
    let out = dir.join("build");
    if out.exists() {
        fs::remove_dir_all(&out).context("clearing edge/build")?;
    }
    process::run(
        process::command(bindgen, &dir)
            .arg(wasm)
            .arg("--out-dir")
            .arg(&out)
            .args([
                "--no-typescript",
                "--target",
                "module",
                "--out-name",
                "index",
                "--experimental-reset-state-function",
                "--force-enable-abort-handler",
            ]),
    )?;
    // worker-build runs `wasm-opt -O` and keeps the names section. Here the names go and the
    // optimiser does not run: LLVM has optimised the code already, `-O` took 106 s of every
    // edge build and made the module larger gzipped (1,939,011 B against 1,922,108 B), and
    // the names were 190 KB of the download (BENCHMARKS.md). Panics still log their message
    // and source location; a trap's stack shows function indices instead of names.
    let module = out.join("index_bg.wasm");
    process::run(
        process::command(tools::node_bin(root, "wasm-opt"), &dir)
            .arg(&module)
            .arg("-o")
            .arg(&module)
            .args([
                "--strip-debug",
                "--enable-mutable-globals",
                "--enable-sign-ext",
                "--enable-nontrapping-float-to-int",
                "--enable-bulk-memory",
                "--enable-multivalue",
                "--enable-reference-types",
                "--enable-exception-handling",
            ]),
    )?;
    let glue = fs::read_to_string(out.join("index.js")).context("reading the edge's glue")?;
    let (functions, classes) = exports(&glue);
    let mut shim = SHIM.replace("$HANDLERS", &handlers(&functions));
    for class in classes {
        shim.push_str(&format!(
            "export const {class} = new Proxy(exports.{class}, classProxyHooks);\n"
        ));
    }
    fs::write(out.join("shim.js"), shim)?;
    process::run(
        process::command(tools::node_bin(root, "esbuild"), &out).args([
            "--external:./index_bg.wasm",
            "--external:cloudflare:*",
            "--format=esm",
            "--bundle",
            "./shim.js",
            "--outfile=index.js",
            "--allow-overwrite",
            "--minify",
            "--log-level=warning",
        ]),
    )?;
    // workerd takes the wasm as a plain module import, not a source-phase one.
    let bundle = fs::read_to_string(out.join("index.js"))?;
    fs::write(
        out.join("index.js"),
        bundle.replace("import source ", "import "),
    )?;
    fs::remove_file(out.join("shim.js"))?;
    let snippets = out.join("snippets");
    if snippets.exists() {
        fs::remove_dir_all(snippets)?;
    }
    fs::create_dir_all(out.join("worker"))?;
    fs::write(
        out.join("worker/shim.mjs"),
        "export * from '../index.js';\nexport { default } from '../index.js';\n",
    )?;
    Ok(())
}

/// The functions (not the shim's own) and the classes a wasm-bindgen ES module exports.
fn exports(glue: &str) -> (Vec<&str>, Vec<&str>) {
    let mut functions = Vec::new();
    let mut classes = Vec::new();
    for (at, _) in glue.match_indices("export ") {
        let boundary = glue[..at]
            .chars()
            .next_back()
            .is_none_or(|c| c.is_whitespace() || c == ';' || c == '}');
        if !boundary {
            continue;
        }
        let rest = &glue[at + "export ".len()..];
        if let Some(rest) = rest
            .strip_prefix("function")
            .or_else(|| rest.strip_prefix("async function"))
        {
            if let Some(open) = rest.find('(') {
                functions.push(rest[..open].trim());
            }
        } else if let Some(rest) = rest.strip_prefix('{') {
            if let Some((_, rest)) = rest.split_once(" as ") {
                if let Some(close) = rest.find('}') {
                    functions.push(rest[..close].trim());
                }
            }
        } else if let Some(rest) = rest.strip_prefix("class ") {
            if let Some(open) = rest.find('{') {
                classes.push(rest[..open].trim());
            }
        }
    }
    functions.retain(|f| !SYSTEM_FUNCTIONS.contains(f));
    (functions, classes)
}

/// The shim's handler for each exported function.
fn handlers(functions: &[&str]) -> String {
    functions
        .iter()
        .map(|f| match RUNTIME_HANDLERS.contains(f) {
            true => format!(
                "Entrypoint.prototype.{f} = function {f} (arg) {{\n  \
                 return exports.{f}.call(this, arg, this.env, this.ctx);\n}}\n"
            ),
            false => format!("Entrypoint.prototype.{f} = exports.{f};\n"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exports_are_read_as_worker_build_reads_them() {
        let glue = "export function fetch(req, env, ctx) {}\n\
                    export class Visitor {\n}\n\
                    export function __worker_init_state() {}\n\
                    function helper() { return 'export nothing'; }\n\
                    export { scheduled2 as scheduled };\n\
                    export async function queue(batch) {}\n";
        let (functions, classes) = exports(glue);
        assert_eq!(functions, ["fetch", "scheduled", "queue"]);
        assert_eq!(classes, ["Visitor"]);
        let shim = handlers(&["fetch", "setPanicHook"]);
        assert!(shim.contains("exports.fetch.call(this, arg, this.env, this.ctx)"));
        assert!(shim.contains("Entrypoint.prototype.setPanicHook = exports.setPanicHook;"));
    }
}
