//! The Rapport widget, compiled to WebAssembly and started by the `rapport.js` loader.
//!
//! This entry point only reads the configuration and hands over to [`app`], the controller
//! (what may be recorded, when to decide, what an answer means), which [`commands`] drives
//! from the page's `rapport.push([...])` queue, where the loader, capture and the view also
//! send theirs. [`dom`] owns the browser calls (storage, timers, the command queue, POSTs),
//! [`capture`] is the interface to `capture.js`, which reads the page into events, [`store`]
//! keeps the visitor and session ids, [`transport`] delivers events exactly once, [`wire`] is
//! the only place that knows the wire format of what the module writes and reads itself, and
//! [`view`] hands what the edge decided to `view.js`, which shows it. The widget holds no
//! decision logic: it shows what `/v1/decide` answers, nothing else.

mod app;
mod capture;
mod commands;
mod dom;
mod store;
mod transport;
mod view;
mod wire;

use wasm_bindgen::prelude::*;

/// The widget allocates little (a few events and one decision at a time); a free list serves
/// that with far less code than the standard allocator, which every shopper would download.
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: lol_alloc::LockedAllocator<lol_alloc::FreeListAllocator> =
    lol_alloc::LockedAllocator::new(lol_alloc::FreeListAllocator::new());

/// Starts the widget. Called once by the loader after the wasm module is instantiated, with
/// `{ site, endpoint, consent, preview, privacy }`; the loader then says when the first page
/// is ready (`page`). Gives whether the widget runs: not for a tag without `data-site`.
#[wasm_bindgen]
pub fn start(config: JsValue) -> bool {
    let read = |key: &str| wire::get(&config, key).as_string().unwrap_or_default();
    let config = app::Config {
        site: read("site"),
        endpoint: read("endpoint").trim_end_matches('/').to_owned(),
        preview: Some(read("preview")).filter(|t| !t.is_empty()),
        consent_required: read("consent") == "required",
        privacy_signal: wire::get(&config, "privacy").is_truthy(),
    };
    if config.site.is_empty() {
        dom::warn("rapport: the script tag needs a data-site attribute");
        return false;
    }
    let widget = app::new(config);
    commands::install(&widget);
    true
}
