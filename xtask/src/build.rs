//! Building the two wasm artifacts and assembling the site the edge serves.
//!
//! - widget: `cargo build` (size-optimised profile) -> `wasm-bindgen --target no-modules` ->
//!   `wasm-opt -Oz` -> the loader and the glue bundled and minified into `rapport.js`; the
//!   view and its stylesheet minified into the module `rapport-view.HASH.js`, which pages
//!   import only when they have something to show.
//! - edge: `cargo build`, then the Worker around it (`worker`: what `worker-build` does, done
//!   here) only when the wasm changed, since its post-processing takes half a minute.
//! - `wasm-bindgen` for both is the workspace's own (`src/bin/rapport-wasm-bindgen.rs`).
//! - site: `demo-site/public/` plus the widget files, in `target/site/` (wrangler's assets).

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use anyhow::{bail, Context, Result};

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
    let bindgen = tools::bindgen(root)?;
    println!(
        "xtask: wasm32 via {}; the widget's std {}",
        if toolchain.build_std {
            "Debian's rustc-web with -Zbuild-std"
        } else {
            "rustup's wasm32-unknown-unknown target"
        },
        if toolchain.widget_std_from_source {
            "built from source, optimised for size"
        } else {
            "prebuilt (no rust-src: a few KB larger)"
        }
    );

    process::step("building the widget");
    widget(root, &toolchain, &bindgen)?;
    process::step("building the edge");
    edge(root, &toolchain, &bindgen)?;
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
    if toolchain.widget_std_from_source {
        // Unstable cargo flags on a stable toolchain, for this one build.
        build.env("RUSTC_BOOTSTRAP", "1");
        build.args([
            "-Zbuild-std=std,panic_abort",
            "-Zbuild-std-features=optimize_for_size",
        ]);
        // A panic in the widget already stops it (`panic = "abort"`); without the message
        // and its formatting code, the download is 3 KB (gzipped) smaller. Without panic
        // locations and `Debug` formatting, it carries no source paths and another 0.5 KB
        // less; without reference types, wasm-bindgen's glue keeps JS values in a JS array
        // rather than a wasm table, 0.8 KB less in all. These need std built for them, so
        // rustup builds without `rust-src` keep plain `abort`.
        build.env("RUSTFLAGS", "-Zunstable-options -Cpanic=immediate-abort -Zlocation-detail=none -Zfmt-debug=none -Ctarget-feature=-reference-types,-multivalue");
    }
    process::run(&mut build)?;

    let wasm = toolchain.artifact("widget", "rapport_widget.wasm");
    let loader = root.join("widget/loader.js");
    let capture = root.join("widget/capture.js");
    let view = root.join("widget/view.js");
    let styles = root.join("widget/view.css");
    let out = root.join("target/widget");
    let final_wasm = out.join("rapport_bg.wasm");
    let final_js = out.join("rapport.js");
    if !stale(&final_js, &[&wasm, &loader, &capture, &view, &styles]) && out.join("assets").exists()
    {
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
                // The loader names the module; the glue need not work it out.
                "--omit-default-module-path",
                "--out-name",
                "rapport",
                "--out-dir",
            ])
            .arg(&generated)
            .arg(&wasm),
    )?;
    // wasm-opt also renames the imports and exports (`__wbg_createElement_8c99…` becomes
    // `a`) and prints the renaming, which the glue then follows: the long hashed names were
    // 5 KB of the download, in the wasm and the glue each, and compress poorly.
    let mut optimise = process::command(tools::node_bin(root, "wasm-opt"), root);
    // Flattening and re-looping the control flow first lets -Oz find 0.2 KB (gzipped) more.
    optimise
        .args([
            "--flatten",
            "--rereloop",
            "-Oz",
            "-Oz",
            "--strip-debug",
            "--strip-producers",
            "--strip-target-features",
            "--minify-imports-and-exports-and-modules",
        ])
        .args(WASM_FEATURES)
        .arg(generated.join("rapport_bg.wasm"))
        .arg("-o")
        .arg(&final_wasm);
    let renaming = optimise.output().context("running wasm-opt")?;
    if !renaming.status.success() {
        bail!(
            "wasm-opt failed: {}",
            String::from_utf8_lossy(&renaming.stderr)
        );
    }
    let glue = fs::read_to_string(generated.join("rapport.js")).context("reading the glue")?;
    let glue = follow_renaming(&glue, &renaming.stdout)?;
    // The view: a module of its own, with its minified stylesheet (`rapportStyles`).
    let css = process::output(
        process::command(tools::node_bin(root, "esbuild"), root)
            .arg(&styles)
            .args(["--minify", "--log-level=warning"]),
    )
    .context("minifying widget/view.css")?;
    let view_source = out.join("view.js");
    fs::write(
        &view_source,
        format!(
            "var rapportStyles = {};\n{}",
            serde_json::to_string(&css)?,
            fs::read_to_string(&view).context("reading widget/view.js")?
        ),
    )?;
    let view_min = out.join("view.min.js");
    minify(root, &view_source, &view_min, true)?;
    // The wasm module and the view, named by their content, beside `rapport.js` in the site.
    let assets = out.join("assets");
    if assets.exists() {
        fs::remove_dir_all(&assets)?;
    }
    fs::create_dir_all(&assets)?;
    let named = |stem: &str, ext: &str, bytes: Vec<u8>| -> Result<String> {
        let name = format!("{stem}.{}.{ext}", content_hash(&bytes));
        fs::write(assets.join(&name), bytes)?;
        Ok(name)
    };
    let view_file = named("rapport-view", "js", fs::read(&view_min)?)?;
    let wasm_file = named("rapport_bg", "wasm", fs::read(&final_wasm)?)?;

    // The glue, the loader and capture share one closure, so the page gets a single script
    // and no globals besides `window.rapport`; the glue finds the loader's `rapportView` and
    // capture's functions there.
    let loader_source = fs::read_to_string(&loader).context("reading widget/loader.js")?;
    let loader_source = replace_exactly_once(
        &loader_source,
        "var VIEW_FILE = \"rapport-view.js\";",
        &format!("var VIEW_FILE = \"{view_file}\";"),
    )?;
    let loader_source = replace_exactly_once(
        &loader_source,
        "new URL(\"rapport_bg.wasm\", src)",
        &format!("new URL(\"{wasm_file}\", src)"),
    )?;
    let capture_source = fs::read_to_string(&capture).context("reading widget/capture.js")?;
    let bundle = out.join("bundle.js");
    fs::write(
        &bundle,
        format!("(function () {{\n{glue}\n{loader_source}\n{capture_source}\n}})();\n"),
    )?;
    minify(root, &bundle, &final_js, false)
}

/// Minifies `from` into `to` with terser: its three passes of compression leave 0.26 KB
/// (gzipped) less than esbuild's one, room the widget's budget needs. Names are mangled
/// inside the closure (or `module`) only.
fn minify(root: &Path, from: &Path, to: &Path, module: bool) -> Result<()> {
    let mut terser = process::command(tools::node_bin(root, "terser"), root);
    terser.arg(from).args([
        "--compress",
        "passes=3,ecma=2020",
        "--mangle",
        "--ecma",
        "2020",
    ]);
    if module {
        terser.arg("--module");
    }
    process::run(terser.arg("--output").arg(to))
}

/// The first 10 hex digits of the SHA-256 of `bytes`: a file name that changes with its
/// content.
fn content_hash(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)[..5]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The glue with wasm-opt's renaming of imports and exports applied. Imports are the keys of
/// the glue's import object (one module, which wasm-opt names `a`); exports are read as
/// `wasm.NAME` (some exports, wasm-bindgen's abort hooks, the glue never reads). An import
/// the glue does not define exactly once is an error, so a change in either tool cannot pass
/// unnoticed as a widget that fails to start.
fn follow_renaming(glue: &str, renaming: &[u8]) -> Result<String> {
    let renaming: serde_json::Value =
        serde_json::from_slice(renaming).context("reading wasm-opt's renaming")?;
    let pairs = |key: &str, from: usize, to: usize| -> Result<Vec<(String, String)>> {
        renaming[key]
            .as_array()
            .with_context(|| format!("wasm-opt's renaming has no {key}"))?
            .iter()
            .map(|entry| match (entry[from].as_str(), entry[to].as_str()) {
                (Some(old), Some(new)) => Ok((old.to_owned(), new.to_owned())),
                _ => bail!("unexpected renaming entry {entry}"),
            })
            .collect()
    };
    let mut glue = replace_exactly_once(glue, "\"./rapport_bg.js\": import0", "\"a\": import0")?;
    for (old, new) in pairs("imports", 1, 2)? {
        glue = replace_exactly_once(
            &glue,
            &format!("{old}: function"),
            &format!("{new}: function"),
        )?;
    }
    for (old, new) in pairs("exports", 0, 1)? {
        let (old, new) = (format!("wasm.{old}"), format!("wasm.{new}"));
        // `wasm.memory` must not also rename `wasm.memoryX`: every use is followed by a
        // character that cannot continue a name.
        let mut renamed = String::with_capacity(glue.len());
        let mut rest = glue.as_str();
        while let Some(at) = rest.find(&old) {
            let after = &rest[at + old.len()..];
            let whole =
                !after.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_' || c == '$');
            renamed.push_str(&rest[..at]);
            renamed.push_str(if whole { &new } else { &old });
            rest = after;
        }
        renamed.push_str(rest);
        glue = renamed;
    }
    Ok(glue)
}

fn replace_exactly_once(text: &str, old: &str, new: &str) -> Result<String> {
    match text.matches(old).count() {
        1 => Ok(text.replacen(old, new, 1)),
        n => bail!("expected `{old}` once in the glue, found it {n} times"),
    }
}

/// The crate version and the commit, shown by `/v1/health`.
pub fn build_id(root: &Path) -> String {
    let version = env!("CARGO_PKG_VERSION");
    match process::output(process::command("git", root).args(["rev-parse", "--short=12", "HEAD"])) {
        Some(commit) if !commit.is_empty() => format!("{version}+{commit}"),
        _ => version.to_owned(),
    }
}

/// The Cargo profile the edge's wasm is built with (`Cargo.toml` says why).
pub const EDGE_PROFILE: &str = "edge";

fn edge(root: &Path, toolchain: &WasmToolchain, bindgen: &Path) -> Result<()> {
    let dir = root.join("edge");
    // `WASM_BINDGEN_USE_JS_SYS`, as worker-build sets it: the `worker` crate's bindings
    // through `js-sys`.
    process::run(
        toolchain
            .command(&dir)
            .args([
                "build",
                "--quiet",
                "--lib",
                "--profile",
                EDGE_PROFILE,
                "--target",
                "wasm32-unknown-unknown",
            ])
            .env("WASM_BINDGEN_USE_JS_SYS", "1"),
    )?;
    let wasm = toolchain.artifact(EDGE_PROFILE, "rapport_edge.wasm");
    let shim = dir.join("build/worker/shim.mjs");
    if !stale(&shim, &[&wasm]) {
        println!("xtask: edge is up to date");
        return Ok(());
    }
    crate::worker::build(root, &wasm, bindgen)
}

/// Copies the demo shop, the widget and the marketer console (`/console/`) into
/// `target/site/`, the edge's static assets.
fn site(root: &Path) -> Result<()> {
    let site = root.join("target/site");
    if site.exists() {
        fs::remove_dir_all(&site).context("clearing target/site")?;
    }
    copy_dir(&root.join("demo-site/public"), &site)?;
    console(root, &site.join("console"))?;
    fs::copy(
        root.join("target/widget/rapport.js"),
        site.join("rapport.js"),
    )
    .context("copying rapport.js")?;
    // The wasm module and the view, named by their content so that browsers keep them for
    // good (`_headers`).
    copy_dir(&root.join("target/widget/assets"), &site)?;
    // The preview panel, a module of its own that the loader imports only on preview pages.
    process::run(
        Command::new(tools::node_bin(root, "esbuild"))
            .arg(root.join("widget/preview.js"))
            .args([
                "--minify",
                "--format=esm",
                "--target=es2020",
                "--log-level=warning",
            ])
            .arg(format!(
                "--outfile={}",
                site.join("rapport-preview.js").display()
            )),
    )
}

/// The console: its page and stylesheet as they are, and its script bundled with CodeMirror
/// by esbuild into one minified module.
fn console(root: &Path, to: &Path) -> Result<()> {
    fs::create_dir_all(to)?;
    for file in ["index.html", "console.css"] {
        fs::copy(root.join("console").join(file), to.join(file))
            .with_context(|| format!("copying console/{file}"))?;
    }
    // uPlot's own stylesheet, as a file: the strict CSP allows no inline styles.
    fs::copy(
        root.join("node_modules/uplot/dist/uPlot.min.css"),
        to.join("uplot.css"),
    )
    .context("copying uPlot's stylesheet")?;
    process::run(
        Command::new(tools::node_bin(root, "esbuild"))
            .arg(root.join("console/src/main.js"))
            .args(["--bundle", "--minify", "--format=esm", "--target=es2022"])
            .args(["--log-level=warning", "--legal-comments=none"])
            .arg(format!("--outfile={}", to.join("console.js").display())),
    )
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

/// What a shopper's browser downloads for Rapport, raw and gzipped, and the edge's wasm; an
/// error past a budget, so a build that would make pages slower fails.
fn report_sizes(root: &Path) -> Result<()> {
    let site = root.join("target/site");
    let named = |stem: &str| -> Result<String> {
        fs::read_dir(&site)?
            .filter_map(|entry| {
                entry
                    .ok()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
            })
            .find(|name| name.starts_with(stem))
            .with_context(|| format!("the build made no {stem}*"))
    };
    let (wasm, view) = (named("rapport_bg.")?, named("rapport-view.")?);
    let mut sizes = Vec::new();
    for file in ["rapport.js", wasm.as_str(), view.as_str()] {
        let bytes = fs::read(site.join(file))?;
        let gz = gzipped_len(&bytes)?;
        println!(
            "xtask: {file:<28} {:>8} bytes, {:>7} gzipped",
            bytes.len(),
            gz
        );
        sizes.push(gz);
    }
    let without = sizes[0] + sizes[1];
    let total = without + sizes[2];
    println!("xtask: widget on a page without a prompt {without} bytes gzipped (budget {NO_PROMPT_BUDGET})");
    println!("xtask: widget with its view {total} bytes gzipped (budget {WIDGET_BUDGET})");
    let mut over = Vec::new();
    if without > NO_PROMPT_BUDGET {
        over.push(format!(
            "the widget on a page without a prompt ({without} > {NO_PROMPT_BUDGET} bytes gzipped)"
        ));
    }
    if total > WIDGET_BUDGET {
        over.push(format!(
            "the widget with its view ({total} > {WIDGET_BUDGET} bytes gzipped)"
        ));
    }
    let panel = fs::read(root.join("target/site/rapport-preview.js"))?;
    println!(
        "xtask: rapport-preview.js {} bytes, {} gzipped (preview pages only)",
        panel.len(),
        gzipped_len(&panel)?
    );
    // What a marketer's browser downloads for the console.
    let mut console = 0;
    for entry in fs::read_dir(root.join("target/site/console"))? {
        console += gzipped_len(&fs::read(entry?.path())?)?;
    }
    println!("xtask: console total {console} bytes gzipped (budget {CONSOLE_BUDGET})");
    if console > CONSOLE_BUDGET {
        over.push(format!(
            "the console ({console} > {CONSOLE_BUDGET} bytes gzipped)"
        ));
    }
    // What Cloudflare uploads and starts for the edge: the Workers free plan takes 3 MB
    // gzipped, and start-up time grows with size.
    let edge =
        fs::read(root.join("edge/build/index_bg.wasm")).context("reading the edge's wasm")?;
    let edge_gz = gzipped_len(&edge)?;
    println!(
        "xtask: edge wasm  {:>10} bytes, {:>9} gzipped (budget {EDGE_BUDGET})",
        edge.len(),
        edge_gz
    );
    if edge_gz > EDGE_BUDGET {
        over.push(format!(
            "the edge's wasm ({edge_gz} > {EDGE_BUDGET} bytes gzipped)"
        ));
    }
    if !over.is_empty() {
        bail!("over the size budget: {}", over.join(", "));
    }
    Ok(())
}

/// The widget's whole download on a page with a prompt, gzipped.
const WIDGET_BUDGET: usize = 30_000;
/// What a page without a prompt downloads (the loader, capture, the glue and the wasm
/// module), gzipped: at most GrowthBook's script tag (17,994 B), which draws nothing.
const NO_PROMPT_BUDGET: usize = 18_000;
/// The marketer console's whole download, gzipped.
const CONSOLE_BUDGET: usize = 800_000;
/// The edge's wasm, gzipped.
const EDGE_BUDGET: usize = 2_000_000;

/// The React shop the end-to-end tests drive (`tests/react-shop`), bundled with esbuild in
/// React's development and production builds, each in `target/react-shop/MODE/app.js`.
pub fn react_shop(root: &Path) -> Result<PathBuf> {
    let out = root.join("target/react-shop");
    let source = root.join("tests/react-shop/src/main.jsx");
    for mode in ["development", "production"] {
        let bundle = out.join(mode).join("app.js");
        if !stale(&bundle, &[&source, &root.join("package-lock.json")]) {
            continue;
        }
        let mut esbuild = process::command(tools::node_bin(root, "esbuild"), root);
        esbuild
            .arg(&source)
            .args(["--bundle", "--jsx=automatic", "--target=es2020"])
            .arg(format!("--define:process.env.NODE_ENV=\"{mode}\""))
            .arg("--log-level=warning")
            .arg(format!("--outfile={}", bundle.display()));
        if mode == "production" {
            esbuild.arg("--minify");
        }
        process::run(&mut esbuild)?;
    }
    Ok(out)
}
