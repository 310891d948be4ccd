//! Capture: the page read into events. The DOM work is `capture.js`, in the same closure as
//! the loader (see ARCHITECTURE.md for why); this module is its interface. Every event comes
//! in its wire form (`{type, ...}`), and the widget decides whether it may be recorded,
//! stamps it and delivers it.

use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    /// `rapportPage` in `capture.js`: a new page's events, the page view first (then its
    /// product, search and checkout step or order), and scroll depth starts over.
    #[wasm_bindgen(js_name = rapportPage)]
    pub fn page_events() -> js_sys::Array;

    /// `rapportContext` in `capture.js`: where the shopper is now, `{url, path, kind, locale}`.
    #[wasm_bindgen(js_name = rapportContext)]
    pub fn page_context() -> JsValue;

    /// `rapportTrack` in `capture.js`: the event a `track` command reports, or, as a string,
    /// why it cannot.
    #[wasm_bindgen(js_name = rapportTrack)]
    pub fn event_from_command(name: &JsValue, props: &JsValue) -> JsValue;
}
