//! The edge's D1 migrations (`edge/migrations/*.sql`), applied to a local database with
//! `wrangler d1 migrations apply`, as the README's deploy steps apply them to Cloudflare's.

use std::path::Path;
use std::process::Command;

use anyhow::Result;

use crate::process;

/// The D1 database's name in wrangler.toml.
pub const DATABASE: &str = "rapport-reports";

/// Applies the migrations not yet applied to the local database of `config` (a file in
/// `edge/`), kept under `persist` (wrangler's default, `edge/.wrangler/state`, if `None`).
pub fn apply(wrangler: &Path, edge_dir: &Path, config: &str, persist: Option<&Path>) -> Result<()> {
    let mut command = Command::new(wrangler);
    command
        .current_dir(edge_dir)
        .args([
            "d1",
            "migrations",
            "apply",
            DATABASE,
            "--local",
            "-c",
            config,
        ])
        .env("WRANGLER_SEND_METRICS", "false")
        // Without a terminal wrangler takes the default answer: apply them.
        .env("CI", "true");
    if let Some(persist) = persist {
        command.arg("--persist-to").arg(persist);
    }
    process::run(&mut command)
}
