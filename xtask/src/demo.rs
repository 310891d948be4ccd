//! `cargo xtask demo`: the demo shop and the edge, running locally in workerd.

use std::fs;
use std::io::Read as _;
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use rapport_child::Child;

use crate::{build, process};

const DEFAULT_PORT: u16 = 8787;

pub fn run(root: &Path, args: &[String]) -> Result<()> {
    let allowed = allowed_origins(args)?;
    let sites = sites_with(&root.join("edge/wrangler.toml"), &allowed)?;
    let built = build::all(root)?;
    let token = admin_token(&root.join("edge/.dev.vars"))?;
    let server_key = server_key(&root.join("edge/.dev.vars"))?;
    preview_key(&root.join("edge/.dev.vars"))?;
    let port = port()?;
    if TcpListener::bind(("127.0.0.1", port)).is_err() {
        bail!("port {port} is busy; stop what uses it or pick another with RAPPORT_PORT=8788");
    }
    let inspector = rapport_child::free_port();

    process::step("the D1 database's migrations");
    crate::migrations::apply(&built.wrangler, &root.join("edge"), "wrangler.toml", None)?;
    process::step("starting the edge in workerd (wrangler dev)");
    let mut wrangler = Child::foreground(
        Command::new(&built.wrangler)
            .current_dir(root.join("edge"))
            .args(["dev", "--ip", "127.0.0.1", "--port", &port.to_string()])
            .args(["--inspector-port", &inspector.to_string()])
            .args(["--show-interactive-dev-session=false", "--log-level=warn"])
            .args(["--var", &format!("RAPPORT_BUILD:{}", build::build_id(root))])
            // The demo-only clock `cargo xtask seed` dates its history with (edge/src/clock.rs).
            .args(["--var", "DEMO_CLOCK:replay"])
            .args(
                sites
                    .iter()
                    .flat_map(|sites| ["--var".to_owned(), format!("SITES:{sites}")]),
            )
            .env("WRANGLER_SEND_METRICS", "false")
            // Local runs need no network: no download of the `Request.cf` sample object.
            .env("CLOUDFLARE_CF_FETCH_ENABLED", "false"),
    )
    .context("starting wrangler")?;

    let base = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    let health = wrangler
        .wait_for_http(&format!("{base}/v1/health"), Duration::from_secs(120))
        .map_err(|err| anyhow::anyhow!("the edge did not come up on {base}: {err}"))?;
    println!(
        "\nRapport demo is running ({:.1}s to start)\n\n  \
         Shop:         {base}/\n  \
         Health:       {base}/v1/health  {health}\n  \
         Admin token:  {token}  (in edge/.dev.vars)\n  \
         Server key:   {server_key}  (site \"demo\", in edge/.dev.vars)\n  \
         State:        edge/.wrangler/state (delete it for a fresh start)\n{}\n\
         Press Ctrl-C to stop.",
        started.elapsed().as_secs_f64(),
        if allowed.is_empty() {
            String::new()
        } else {
            format!("  Also allowed: {} (--allow-origin)\n", allowed.join(", "))
        }
    );
    let status = wrangler.wait()?;
    if !status.success() {
        bail!("wrangler stopped: {status}");
    }
    Ok(())
}

/// The origins of `--allow-origin ORIGIN` (any number of times): pages there may use the
/// demo's site key, as a developer's own shop does when trying the widget.
fn allowed_origins(args: &[String]) -> Result<Vec<String>> {
    let mut origins = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let origin = match arg.strip_prefix("--allow-origin=") {
            Some(origin) => origin.to_owned(),
            None if arg == "--allow-origin" => args
                .next()
                .context("--allow-origin takes an origin, like http://localhost:3000")?
                .clone(),
            None => bail!("unknown argument `{arg}`; try `cargo xtask demo --allow-origin http://localhost:3000`"),
        };
        origins.push(check_origin(&origin)?);
    }
    Ok(origins)
}

/// An origin as browsers send it: `scheme://host[:port]`, no path.
fn check_origin(origin: &str) -> Result<String> {
    let origin = origin.trim_end_matches('/');
    let rest = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    match rest {
        Some(host) if !host.is_empty() && !host.contains(['/', '?', '#', ' ']) => {
            Ok(origin.to_owned())
        }
        _ => bail!(
            "`{origin}` is not an origin; give the scheme, host and port only, like \
             http://localhost:3000"
        ),
    }
}

/// The `SITES` variable of wrangler.toml with `allowed` added to the demo site's origins, or
/// `None` when there is nothing to add.
fn sites_with(wrangler_toml: &Path, allowed: &[String]) -> Result<Option<String>> {
    if allowed.is_empty() {
        return Ok(None);
    }
    let config = fs::read_to_string(wrangler_toml)
        .with_context(|| format!("reading {}", wrangler_toml.display()))?;
    let value = config
        .lines()
        .find_map(|line| line.trim().strip_prefix("SITES = "))
        .context("wrangler.toml has no SITES line")?;
    let mut sites: serde_json::Value = serde_json::from_str(value.trim().trim_matches('\''))
        .context("the SITES line of wrangler.toml is not JSON")?;
    let origins = sites["demo"]["origins"]
        .as_array_mut()
        .context("SITES in wrangler.toml has no origins for the site \"demo\"")?;
    for origin in allowed {
        origins.push(origin.clone().into());
    }
    Ok(Some(sites.to_string()))
}

/// The demo's port: `RAPPORT_PORT`, or 8787.
pub fn port() -> Result<u16> {
    match std::env::var("RAPPORT_PORT") {
        Ok(port) => port
            .parse::<u16>()
            .with_context(|| format!("RAPPORT_PORT must be a port number, not `{port}`")),
        Err(_) => Ok(DEFAULT_PORT),
    }
}

/// The local admin token, created on first use and kept in `edge/.dev.vars`, where
/// `wrangler dev` reads secrets from.
pub fn admin_token(dev_vars: &Path) -> Result<String> {
    dev_secret(dev_vars, "ADMIN_TOKEN", |random| random)
}

/// The local key preview links are signed with, created on first use in `edge/.dev.vars`.
pub fn preview_key(dev_vars: &Path) -> Result<String> {
    dev_secret(dev_vars, "PREVIEW_KEY", |random| random)
}

/// The demo site's local server key, kept in `edge/.dev.vars` as `SERVER_KEYS`.
pub fn server_key(dev_vars: &Path) -> Result<String> {
    let keys = dev_secret(dev_vars, "SERVER_KEYS", |random| {
        serde_json::json!({ "demo": random }).to_string()
    })?;
    let keys: serde_json::Value =
        serde_json::from_str(&keys).context("SERVER_KEYS in edge/.dev.vars is not JSON")?;
    keys["demo"]
        .as_str()
        .map(str::to_owned)
        .context("SERVER_KEYS in edge/.dev.vars has no key for the site \"demo\"")
}

/// A secret from `edge/.dev.vars`; when missing, `make` turns 24 random bytes (hex) into its
/// value, which is added to the file.
fn dev_secret(dev_vars: &Path, name: &str, make: impl FnOnce(String) -> String) -> Result<String> {
    let prefix = format!("{name}=");
    if let Ok(text) = fs::read_to_string(dev_vars) {
        let value = text.lines().find_map(|line| {
            let value = line.trim().strip_prefix(&prefix)?;
            Some(value.trim_matches(|c| c == '"' || c == '\'').to_owned())
        });
        if let Some(value) = value.filter(|v| !v.is_empty()) {
            return Ok(value);
        }
    }
    let mut bytes = [0u8; 24];
    fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .with_context(|| format!("reading /dev/urandom for a new {name}"))?;
    let value = make(bytes.iter().map(|b| format!("{b:02x}")).collect());
    let mut text = fs::read_to_string(dev_vars).unwrap_or_default();
    text.push_str(&format!("{name}='{value}'\n"));
    fs::write(dev_vars, text).with_context(|| format!("writing {}", dev_vars.display()))?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowed_origins_are_origins() {
        let args = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            allowed_origins(&args(&["--allow-origin", "http://localhost:3000/"])).unwrap(),
            ["http://localhost:3000"]
        );
        assert_eq!(
            allowed_origins(&args(&["--allow-origin=https://shop.test"])).unwrap(),
            ["https://shop.test"]
        );
        for bad in ["localhost:3000", "http://localhost:3000/shop", "ftp://x"] {
            assert!(
                allowed_origins(&args(&["--allow-origin", bad])).is_err(),
                "{bad}"
            );
        }
        assert!(allowed_origins(&args(&["--allow-origin"])).is_err());
        assert!(allowed_origins(&args(&["--port", "1"])).is_err());
    }

    #[test]
    fn the_demo_site_gets_the_allowed_origins_besides_its_own() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .unwrap();
        let sites = sites_with(
            &root.join("edge/wrangler.toml"),
            &["http://localhost:3000".to_owned()],
        )
        .unwrap()
        .unwrap();
        let sites: serde_json::Value = serde_json::from_str(&sites).unwrap();
        let origins = sites["demo"]["origins"].as_array().unwrap();
        assert!(origins.contains(&"http://localhost:3000".into()));
        assert!(origins.contains(&"https://tidewater.example".into()));
    }
}
