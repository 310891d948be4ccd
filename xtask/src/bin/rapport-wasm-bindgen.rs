//! `wasm-bindgen`, built from the workspace (named apart from the crate, which rustc would
//! take for an old `wasm-bindgen`) at the exact version in `Cargo.lock` (the same as
//! the `wasm-bindgen` crate the widget and the edge link), instead of `cargo install
//! wasm-bindgen-cli` in a target directory of its own. `cargo xtask build` runs it for the
//! widget and the edge (`xtask/src/worker.rs`).
//!
//! It takes the command line worker-build passed, a subset of the real CLI's: the input, `--out-dir`,
//! `--out-name`, `--target`, `--no-typescript` (`--typescript` is the default),
//! `--debug`, `--no-demangle`, `--keep-debug`, `--omit-default-module-path`,
//! `--split-linked-modules`, `--experimental-reset-state-function`,
//! `--force-enable-abort-handler`; and `--version`. Anything else is refused by name, so a
//! tool that starts passing a new flag fails loudly rather than building something else.

use std::path::PathBuf;
use std::process::ExitCode;

use wasm_bindgen_cli_support::Bindgen;

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Vec<String>) -> anyhow::Result<()> {
    let mut bindgen = Bindgen::new();
    // What the real CLI sets before reading its flags, so the output is the same (checked
    // byte for byte against it for the widget and the edge).
    bindgen
        .debug(false)
        .demangle(true)
        .keep_lld_exports(false)
        .keep_debug(false)
        .split_debug_info(false)
        .remove_name_section(false)
        .remove_producers_section(false)
        .typescript(true)
        .omit_imports(false)
        .omit_default_module_path(false)
        .split_linked_modules(false)
        .js_string_builtins(false)
        .ts_typed_array_buffers(false)
        .reset_state_function(false)
        .force_enable_abort_handler(false);
    let mut input = None;
    let mut out_dir = None;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .ok_or_else(|| anyhow::anyhow!("{name} needs a value"))
        };
        match arg.as_str() {
            "--version" | "-V" => {
                println!("wasm-bindgen {}", wasm_bindgen_shared::SCHEMA_VERSION);
                return Ok(());
            }
            "--out-dir" => out_dir = Some(PathBuf::from(value("--out-dir")?)),
            "--out-name" => {
                bindgen.out_name(&value("--out-name")?);
            }
            "--target" => {
                match value("--target")?.as_str() {
                    "bundler" => bindgen.bundler(true)?,
                    "web" => bindgen.web(true)?,
                    "no-modules" => bindgen.no_modules(true)?,
                    "nodejs" => bindgen.nodejs(true)?,
                    "deno" => bindgen.deno(true)?,
                    "module" => bindgen.module(true)?,
                    other => anyhow::bail!("unknown --target `{other}`"),
                };
            }
            "--typescript" => {
                bindgen.typescript(true);
            }
            "--no-typescript" => {
                bindgen.typescript(false);
            }
            "--debug" => {
                bindgen.debug(true);
            }
            "--no-demangle" => {
                bindgen.demangle(false);
            }
            "--keep-debug" => {
                bindgen.keep_debug(true);
            }
            "--omit-default-module-path" => {
                bindgen.omit_default_module_path(true);
            }
            "--split-linked-modules" => {
                bindgen.split_linked_modules(true);
            }
            "--experimental-reset-state-function" => {
                bindgen.reset_state_function(true);
            }
            "--force-enable-abort-handler" => {
                bindgen.force_enable_abort_handler(true);
            }
            flag if flag.starts_with('-') => {
                anyhow::bail!("`{flag}` is not among the options this wasm-bindgen takes")
            }
            path => input = Some(PathBuf::from(path)),
        }
    }
    let input = input.ok_or_else(|| anyhow::anyhow!("no input .wasm file"))?;
    let out_dir = out_dir.ok_or_else(|| anyhow::anyhow!("--out-dir is required"))?;
    bindgen.input_path(input).generate(out_dir)
}
