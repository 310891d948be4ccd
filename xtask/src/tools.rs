//! Finding, and where missing installing, everything the build needs. Every step first looks
//! at what is already there, so later runs install nothing.
//!
//! The wasm32 standard library comes from one of two places:
//! - rustup's `wasm32-unknown-unknown` target (ordinary machines: `rustup target add`);
//! - Debian's `rustc-web` with its standard-library sources, building `std` for wasm32 with
//!   `-Zbuild-std` (machines where rustup cannot download the target).

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::process;

/// How wasm32 code gets built on this machine.
#[derive(Debug, Clone)]
pub struct WasmToolchain {
    /// The `cargo` to run for wasm builds.
    pub cargo: PathBuf,
    /// `true` when `std` is built from source for everything (Debian's toolchain).
    pub build_std: bool,
    /// `true` when the widget can build its own size-optimised `std` from source: always
    /// with Debian's toolchain, and with rustup's when its `rust-src` component is there.
    pub widget_std_from_source: bool,
    /// Where wasm artifacts go; the Debian compiler gets its own directory so the two
    /// compilers never invalidate each other's work.
    pub target_dir: PathBuf,
    /// Extra environment for every wasm `cargo` call.
    pub env: Vec<(String, String)>,
}

/// The `cargo` that runs this xtask (rustup's), for host builds.
pub fn host_cargo() -> PathBuf {
    env::var_os("CARGO").map_or_else(|| PathBuf::from("cargo"), PathBuf::from)
}

/// Clippy's compiler driver, which `suite::build` compiles the workspace's own crates with: the
/// one beside `cargo` (rustup's toolchains, Debian's packages), else the one rustup or `PATH`
/// names.
pub fn clippy_driver(cargo: &Path) -> Result<PathBuf> {
    let beside = cargo.with_file_name("clippy-driver");
    if beside.is_file() {
        return Ok(beside);
    }
    let named = process::output(Command::new("rustup").args(["which", "clippy-driver"]))
        .map_or_else(|| PathBuf::from("clippy-driver"), PathBuf::from);
    match process::output(Command::new(&named).arg("-V")) {
        Some(_) => Ok(named),
        None => bail!("Clippy is missing: `rustup component add clippy` installs it"),
    }
}

fn rustup_has_wasm_target() -> bool {
    let libdir = process::output(Command::new("rustc").args([
        "--print",
        "target-libdir",
        "--target",
        "wasm32-unknown-unknown",
    ]));
    libdir
        .and_then(|dir| fs::read_dir(dir).ok())
        .is_some_and(|entries| {
            entries
                .filter_map(|e| e.ok())
                .any(|e| e.file_name().to_string_lossy().starts_with("libcore-"))
        })
}

/// Whether rustup's `rust-src` component is installed, adding it if not (briefly, like the
/// target). The widget then builds `std` from source, optimised for size; without it, the
/// widget still builds, a few kilobytes larger.
fn rustup_has_std_sources() -> bool {
    let present = || {
        process::output(Command::new("rustc").args(["--print", "sysroot"])).is_some_and(|sysroot| {
            Path::new(&sysroot)
                .join("lib/rustlib/src/rust/library")
                .exists()
        })
    };
    if present() {
        return true;
    }
    process::step("installing the standard library's sources (for the widget's size)");
    let added = process::run_with_timeout(
        Command::new("rustup").args(["component", "add", "rust-src"]),
        Duration::from_secs(60),
    );
    let installed = added && present();
    if !installed {
        println!("xtask: no rust-src; the widget links rustup's prebuilt std instead");
    }
    installed
}

const DEBIAN_RUSTC: &str = "/usr/bin/rustc";
const DEBIAN_CARGO: &str = "/usr/bin/cargo";
const DEBIAN_STD_SOURCES: &str = "/usr/lib/rustlib/src/rust/library";
/// The linker rustc-web calls for wasm32, a link to `lld-22`.
const DEBIAN_LLD: &str = "/usr/bin/rust-lld";
const DEBIAN_PACKAGES: &[&str] = &[
    "rustc-web",
    "cargo-web",
    "rust-web-src",
    "rust-web-llvm",
    "lld-22",
];

fn debian_toolchain_present() -> bool {
    [DEBIAN_RUSTC, DEBIAN_CARGO, DEBIAN_STD_SOURCES, DEBIAN_LLD]
        .iter()
        .all(|p| Path::new(p).exists())
        && process::output(Command::new(DEBIAN_RUSTC).arg("--version")).is_some()
}

/// Picks the wasm toolchain: rustup's target if installed; Debian's if installed; otherwise
/// tries `rustup target add` (briefly: without network access it hangs), then installs
/// Debian's packages. `RAPPORT_WASM_TOOLCHAIN=rustup|debian` skips the search.
pub fn wasm_toolchain(root: &Path) -> Result<WasmToolchain> {
    let forced = env::var("RAPPORT_WASM_TOOLCHAIN").ok();
    let use_rustup = match forced.as_deref() {
        Some("rustup") => true,
        Some("debian") => false,
        Some(other) => bail!("RAPPORT_WASM_TOOLCHAIN must be `rustup` or `debian`, not `{other}`"),
        None if rustup_has_wasm_target() => true,
        None if debian_toolchain_present() => false,
        None => {
            process::step("installing the wasm32 target");
            let added = process::run_with_timeout(
                Command::new("rustup").args(["target", "add", "wasm32-unknown-unknown"]),
                Duration::from_secs(60),
            );
            if added && rustup_has_wasm_target() {
                true
            } else {
                println!(
                    "xtask: rustup could not add the target; using Debian's rustc-web instead"
                );
                apt_install(DEBIAN_PACKAGES)?;
                false
            }
        }
    };
    if use_rustup {
        return Ok(WasmToolchain {
            cargo: host_cargo(),
            build_std: false,
            widget_std_from_source: rustup_has_std_sources(),
            target_dir: root.join("target"),
            env: Vec::new(),
        });
    }
    if !debian_toolchain_present() {
        apt_install(DEBIAN_PACKAGES)?;
    }
    let path = format!(
        "/usr/bin:{}",
        env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/bin".into())
    );
    Ok(WasmToolchain {
        cargo: PathBuf::from(DEBIAN_CARGO),
        build_std: true,
        widget_std_from_source: true,
        target_dir: root.join("target/wasm"),
        env: vec![
            // Debian's rustc and cargo first, so tools that call plain `cargo` get them too.
            ("PATH".into(), path),
            // Lets this stable toolchain take -Zbuild-std; scoped to wasm builds only.
            ("RUSTC_BOOTSTRAP".into(), "1".into()),
            ("CARGO_UNSTABLE_BUILD_STD".into(), "std,panic_abort".into()),
            // rustup's variables would point Debian's cargo at rustup's toolchain.
            ("RUSTUP_TOOLCHAIN".into(), String::new()),
        ],
    })
}

impl WasmToolchain {
    /// A `cargo` command for wasm builds.
    pub fn command(&self, dir: &Path) -> Command {
        let mut command = process::command(&self.cargo, dir);
        command.env("CARGO_TARGET_DIR", &self.target_dir);
        for (key, value) in &self.env {
            if value.is_empty() {
                command.env_remove(key);
            } else {
                command.env(key, value);
            }
        }
        command
    }

    pub fn artifact(&self, profile: &str, name: &str) -> PathBuf {
        self.target_dir
            .join("wasm32-unknown-unknown")
            .join(profile)
            .join(name)
    }
}

fn is_root() -> bool {
    process::output(Command::new("id").arg("-u")).as_deref() == Some("0")
}

/// Installs Debian packages, with `sudo` when not root.
pub fn apt_install(packages: &[&str]) -> Result<()> {
    process::step(&format!("installing {}", packages.join(" ")));
    if process::output(Command::new("apt-get").arg("--version")).is_none() {
        bail!(
            "missing: {}. Install them with your package manager (or, for the wasm32 target, \
             `rustup target add wasm32-unknown-unknown`) and run again",
            packages.join(", ")
        );
    }
    process::run(apt_get().args(["update", "-qq"]))?;
    process::run(
        apt_get()
            .env("DEBIAN_FRONTEND", "noninteractive")
            .args(["install", "-y", "-qq"])
            .args(packages),
    )
}

/// `apt-get`, through `sudo` unless we are root.
fn apt_get() -> Command {
    if is_root() {
        Command::new("apt-get")
    } else {
        let mut command = Command::new("sudo");
        command.args(["--preserve-env=DEBIAN_FRONTEND", "apt-get"]);
        command
    }
}

/// The version of a package recorded in Cargo.lock.
pub fn locked_version(root: &Path, package: &str) -> Result<String> {
    let lock = fs::read_to_string(root.join("Cargo.lock")).context("reading Cargo.lock")?;
    let needle = format!("name = \"{package}\"\nversion = \"");
    let start = lock
        .find(&needle)
        .with_context(|| format!("{package} is not in Cargo.lock"))?
        + needle.len();
    let end = lock[start..].find('"').context("Cargo.lock is malformed")?;
    Ok(lock[start..start + end].to_owned())
}

/// `wasm-bindgen`, built from the workspace (`xtask/src/bin/rapport-wasm-bindgen.rs`, on
/// `wasm-bindgen-cli-support`) at the version in `Cargo.lock`, in the workspace's target
/// directory, where it shares what it can with everything else built there.
pub fn bindgen(root: &Path) -> Result<PathBuf> {
    let linked = locked_version(root, "wasm-bindgen")?;
    let support = locked_version(root, "wasm-bindgen-cli-support")?;
    if linked != support {
        bail!(
            "Cargo.lock has wasm-bindgen {linked} but wasm-bindgen-cli-support {support}: \
             pin both to the same version (Cargo.toml, xtask/Cargo.toml)"
        );
    }
    process::run(process::command(host_cargo(), root).args([
        "build",
        "--quiet",
        "--package",
        "xtask",
        "--bin",
        "rapport-wasm-bindgen",
    ]))?;
    let target = env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    Ok(target.join("debug/rapport-wasm-bindgen"))
}

/// The npm packages from package.json (wrangler, binaryen, esbuild), installed with `npm ci`
/// from the committed lockfile when missing or out of date.
pub fn ensure_npm_packages(root: &Path) -> Result<()> {
    let marker = root.join("node_modules/.package-lock.json");
    let lock = root.join("package-lock.json");
    let fresh = match (fs::metadata(&marker), fs::metadata(&lock)) {
        (Ok(m), Ok(l)) => m.modified()? >= l.modified()?,
        _ => false,
    };
    if fresh {
        return Ok(());
    }
    let node = process::output(Command::new("node").arg("--version")).context(
        "Node.js 20 or later is needed (for wrangler and workerd); install it and run again",
    )?;
    println!("xtask: using Node.js {node}");
    process::step("installing npm packages (wrangler, workerd, binaryen, esbuild)");
    process::run(process::command("npm", root).args([
        "ci",
        "--no-audit",
        "--no-fund",
        "--loglevel=error",
    ]))
}

pub fn node_bin(root: &Path, name: &str) -> PathBuf {
    root.join("node_modules/.bin").join(name)
}

/// Chromium and its WebDriver, for the end-to-end tests only.
#[derive(Debug)]
pub struct Browser {
    pub chromium: PathBuf,
    pub chromedriver: PathBuf,
}

pub fn ensure_chromium() -> Result<Browser> {
    let chromium = env::var_os("RAPPORT_CHROMIUM")
        .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    let chromedriver = env::var_os("RAPPORT_CHROMEDRIVER")
        .map_or_else(|| PathBuf::from("/usr/bin/chromedriver"), PathBuf::from);
    if !chromium.exists() || !chromedriver.exists() {
        apt_install(&["chromium", "chromium-driver"])?;
    }
    Ok(Browser {
        chromium,
        chromedriver,
    })
}
