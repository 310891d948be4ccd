//! Building the two wasm artifacts and assembling the site the edge serves.
//!
//! - widget: `cargo build` (size-optimised profile) -> `wasm-bindgen --target no-modules` ->
//!   `wasm-opt -Oz` -> the loader and the glue bundled and minified into `rapport.js`.
//! - edge: `cargo build`, then `worker-build` (which adds the Workers shim) only when the
//!   wasm changed, since its post-processing takes half a minute.
//! - site: `demo-site/public/` plus the widget files, in `target/site/` (wrangler's assets).

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::{Context, Result};

use crate::process;
use crate::tools::{self, WasmToolchain};

/// What a build produced that later steps need.
#[derive(Debug)]
pub struct Built {
    pub wrangler: PathBuf,
}

pub fn all(root: &Path) -> Result<Built> {
    process::step("checking tools");
    tools::ensure_npm_packages(root)?;
    let toolchain = tools::wasm_toolchain(root)?;
    let bindgen = tools::ensure_cargo_tool(
        "wasm-bindgen-cli",
        "wasm-bindgen",
        &tools::locked_version(root, "wasm-bindgen")?,
    )?;
    let worker_build = tools::ensure_cargo_tool(
        "worker-build",
        "worker-build",
        &tools::locked_version(root, "worker")?,
    )?;
    println!(
        "xtask: wasm32 via {}",
        if toolchain.build_std {
            "Debian's rustc-web with -Zbuild-std"
        } else {
            "rustup's wasm32-unknown-unknown target"
        }
    );

    process::step("building the widget");
    widget(root, &toolchain, &bindgen)?;
    process::step("building the edge");
    edge(root, &toolchain, &bindgen, &worker_build)?;
    site(root)?;
    report_sizes(root)?;
    Ok(Built {
        wrangler: tools::node_bin(root, "wrangler"),
    })
}

fn modified(path: &Path) -> Option<SystemTime> {
    fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Whether `output` is missing or older than any of `inputs`.
fn stale(output: &Path, inputs: &[&Path]) -> bool {
    let Some(built) = modified(output) else {
        return true;
    };
    inputs
        .iter()
        .any(|input| modified(input).is_none_or(|changed| changed > built))
}

const WASM_FEATURES: &[&str] = &[
    "--enable-bulk-memory",
    "--enable-nontrapping-float-to-int",
    "--enable-sign-ext",
    "--enable-mutable-globals",
    "--enable-reference-types",
    "--enable-multivalue",
];

fn widget(root: &Path, toolchain: &WasmToolchain, bindgen: &Path) -> Result<()> {
    let mut build = toolchain.command(root);
    build.args([
        "build",
        "--quiet",
        "-p",
        "rapport-widget",
        "--target",
        "wasm32-unknown-unknown",
        "--profile",
        "widget",
    ]);
    if toolchain.build_std {
        build.args([
            "-Zbuild-std=std,panic_abort",
            "-Zbuild-std-features=optimize_for_size",
        ]);
        // A panic in the widget already stops it (`panic = "abort"`); without the message
        // and its formatting code, the download is 3 KB (gzipped) smaller. This needs std
        // built for it, so ordinary rustup builds keep plain `abort`.
        build.env("RUSTFLAGS", "-Zunstable-options -Cpanic=immediate-abort");
    }
    process::run(&mut build)?;

    let wasm = toolchain.artifact("widget", "rapport_widget.wasm");
    let loader = root.join("widget/loader.js");
    let out = root.join("target/widget");
    let final_wasm = out.join("rapport_bg.wasm");
    let final_js = out.join("rapport.js");
    if !stale(&final_js, &[&wasm, &loader]) && final_wasm.exists() {
        println!("xtask: widget is up to date");
        return Ok(());
    }
    let generated = out.join("bindgen");
    process::run(
        process::command(bindgen, root)
            .args([
                "--target",
                "no-modules",
                "--no-typescript",
                "--out-name",
                "rapport",
                "--out-dir",
            ])
            .arg(&generated)
            .arg(&wasm),
    )?;
    process::run(
        process::command(tools::node_bin(root, "wasm-opt"), root)
            .args(["-Oz", "--strip-debug", "--strip-producers"])
            .args(WASM_FEATURES)
            .arg(generated.join("rapport_bg.wasm"))
            .arg("-o")
            .arg(&final_wasm),
    )?;
    // The glue and the loader share one closure, so the page gets a single script and no
    // globals besides `window.rapport`.
    let glue = fs::read_to_string(generated.join("rapport.js")).context("reading the glue")?;
    let loader_source = fs::read_to_string(&loader).context("reading widget/loader.js")?;
    let bundle = out.join("bundle.js");
    fs::write(
        &bundle,
        format!("(function () {{\n{glue}\n{loader_source}\n}})();\n"),
    )?;
    process::run(
        process::command(tools::node_bin(root, "esbuild"), root)
            .arg(&bundle)
            .args(["--minify", "--target=es2020", "--log-level=warning"])
            .arg(format!("--outfile={}", final_js.display())),
    )
}

/// The crate version and the commit, shown by `/v1/health`.
pub fn build_id(root: &Path) -> String {
    let version = env!("CARGO_PKG_VERSION");
    match process::output(process::command("git", root).args(["rev-parse", "--short=12", "HEAD"])) {
        Some(commit) if !commit.is_empty() => format!("{version}+{commit}"),
        _ => version.to_owned(),
    }
}

fn edge(root: &Path, toolchain: &WasmToolchain, bindgen: &Path, worker_build: &Path) -> Result<()> {
    let dir = root.join("edge");
    // The same command worker-build runs, so that its own cargo call finds nothing to do.
    process::run(
        toolchain
            .command(&dir)
            .args([
                "build",
                "--quiet",
                "--lib",
                "--release",
                "--target",
                "wasm32-unknown-unknown",
            ])
            .env("WASM_BINDGEN_USE_JS_SYS", "1"),
    )?;
    let wasm = toolchain.artifact("release", "rapport_edge.wasm");
    let shim = dir.join("build/worker/shim.mjs");
    if !stale(&shim, &[&wasm]) {
        println!("xtask: edge is up to date");
        return Ok(());
    }
    process::run(
        toolchain
            .command_for(worker_build, &dir)
            .arg("--release")
            .env("WASM_BINDGEN_BIN", bindgen)
            .env("WASM_OPT_BIN", tools::node_bin(root, "wasm-opt"))
            .env("ESBUILD_BIN", tools::node_bin(root, "esbuild")),
    )
}

/// Copies the demo shop and the widget into `target/site/`, the edge's static assets.
fn site(root: &Path) -> Result<()> {
    let site = root.join("target/site");
    if site.exists() {
        fs::remove_dir_all(&site).context("clearing target/site")?;
    }
    copy_dir(&root.join("demo-site/public"), &site)?;
    for file in ["rapport.js", "rapport_bg.wasm"] {
        fs::copy(root.join("target/widget").join(file), site.join(file))
            .with_context(|| format!("copying {file}"))?;
    }
    Ok(())
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

fn gzipped_len(bytes: &[u8]) -> Result<usize> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes)?;
    Ok(encoder.finish()?.len())
}

/// What a shopper's browser downloads for Rapport, raw and gzipped.
fn report_sizes(root: &Path) -> Result<()> {
    let mut total = 0;
    for file in ["rapport.js", "rapport_bg.wasm"] {
        let bytes = fs::read(root.join("target/site").join(file))?;
        let gz = gzipped_len(&bytes)?;
        total += gz;
        println!(
            "xtask: {file:<16} {:>8} bytes, {:>7} gzipped",
            bytes.len(),
            gz
        );
    }
    println!("xtask: widget total {total} bytes gzipped");
    Ok(())
}
