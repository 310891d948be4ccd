//! All DOM and browser-API plumbing lives here, so the rest of the widget reads as logic.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

// The browser's globals, called as themselves.
#[wasm_bindgen]
extern "C" {
    /// The page's `window`, read once, for its `rapport` command queue: the widget only ever
    /// runs in a page (`js_sys::global` would look for it among every kind of global scope,
    /// in more code).
    #[wasm_bindgen(thread_local_v2, js_name = window)]
    static WINDOW: JsValue;

    /// The shop's `localStorage`, which may be disabled (private modes, storage blocked):
    /// then this throws, and the widget works for this page only.
    #[wasm_bindgen(catch, js_namespace = localStorage, js_name = getItem)]
    pub fn storage_read(key: &str) -> Result<Option<String>, JsValue>;

    /// Storage can also be full; what is not kept is lost with the page.
    #[wasm_bindgen(catch, js_namespace = localStorage, js_name = setItem)]
    fn set_item(key: &str, value: &str) -> Result<(), JsValue>;

    #[wasm_bindgen(catch, js_namespace = localStorage, js_name = removeItem)]
    fn remove_item(key: &str) -> Result<(), JsValue>;

    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout_with(handler: &JsValue, ms: i32);

    #[wasm_bindgen(js_namespace = console)]
    pub fn warn(message: &str);

    /// Hands a body to the browser to deliver even as the page unloads (it throws for a URL
    /// it cannot take: the events then wait in the queue as they would for a refusal).
    #[wasm_bindgen(catch, js_namespace = navigator, js_name = sendBeacon)]
    fn beacon_with(url: &str, body: &str) -> Result<bool, JsValue>;
}

pub fn send_beacon(url: &str, body: &str) {
    let _ = beacon_with(url, body);
}

pub fn storage_get(key: &str) -> Option<String> {
    storage_read(key).ok().flatten()
}

pub fn storage_set(key: &str, value: &str) {
    let _ = set_item(key, value);
}

pub fn storage_remove(key: &str) {
    let _ = remove_item(key);
}

pub fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// `n` in decimal, written by the browser: Rust's integer formatting would add to every
/// shopper's download.
pub fn decimal(n: u64) -> String {
    crate::wire::stringify(&JsValue::from(n as f64))
}

/// `parts` joined: the standard library's `concat` is generic over separators and element
/// types, and its code is four times this loop's in the download.
#[inline(never)]
pub fn cat(parts: &[&str]) -> String {
    let mut joined = String::new();
    for part in parts {
        joined.push_str(part);
    }
    joined
}

/// A whole number written in decimal digits only (no sign, no spaces).
pub fn parse_whole<T: TryFrom<u64>>(text: &str) -> Option<T> {
    if text.is_empty() || text.len() > 19 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = text.bytes().fold(0u64, |n, b| n * 10 + u64::from(b - b'0'));
    T::try_from(n).ok()
}

/// `text` split at the first `separator` (an ASCII character), which neither part keeps.
/// The standard library's pattern searching would add a kilobyte to the download.
pub fn split_at_byte(text: &str, separator: u8) -> Option<(&str, &str)> {
    let at = text.bytes().position(|b| b == separator)?;
    Some((text.get(..at)?, text.get(at + 1..)?))
}

/// Replaces the array the page may have filled at `window[name]` before the script loaded
/// with an object whose `push(command)` calls `push` at once; gives the queued commands, in
/// order.
pub fn replace_queue(name: &str, push: impl Fn(JsValue) + 'static) -> Option<js_sys::Array> {
    let window = WINDOW.with(JsValue::clone);
    let queued = js_sys::Reflect::get(&window, &name.into()).unwrap_or(JsValue::UNDEFINED);
    let api = js_sys::Object::new();
    let push = Closure::<dyn Fn(JsValue)>::new(push);
    let _ = js_sys::Reflect::set(&api, &"push".into(), push.as_ref());
    // The page keeps calling `push` for as long as it lives.
    push.forget();
    let _ = js_sys::Reflect::set(&window, &name.into(), &api);
    queued.dyn_into::<js_sys::Array>().ok()
}

// Every callback the widget hands JavaScript is an `Fn` closure that JavaScript frees when it
// lets go of it: one kind of closure, so the glue carries one of wasm-bindgen's two closure
// wrappers, not both. The ones called once (timeouts, answers) take their handler out.

pub fn set_timeout(ms: i32, handler: impl FnOnce() + 'static) {
    let handler = std::cell::Cell::new(Some(handler));
    let closure = Closure::<dyn Fn()>::new(move || {
        if let Some(handler) = handler.take() {
            handler();
        }
    })
    .into_js_value();
    set_timeout_with(&closure, ms);
}

#[wasm_bindgen]
extern "C" {
    /// `rapportListen` in `loader.js`: `on` (or `off`, with `on` false) `callback` for
    /// `event`; the page's subscriptions are kept there.
    #[wasm_bindgen(js_name = rapportListen)]
    pub fn listen(on: bool, event: &JsValue, callback: &JsValue);

    /// `rapportNotify` in `loader.js`: the page's `on` subscribers to `event` (and to `"*"`)
    /// hear `detail`; one that throws is reported on the console and stops nothing else.
    #[wasm_bindgen(js_name = rapportNotify)]
    pub fn notify(event: &str, detail: &JsValue);

    /// `rapportTwice` in `loader.js`: whether a cart change (`kind` of `product`; none
    /// when `product` is empty) was just told the other way, by a cart button's attributes
    /// (`from_button`) or by a `track` command: the same click, told twice.
    #[wasm_bindgen(js_name = rapportTwice)]
    pub fn told_twice(from_button: bool, kind: &str, product: &str) -> bool;

    /// `rapportId` in `loader.js`: 128 random bits as 32 hex digits, from the browser's
    /// cryptographic generator.
    #[wasm_bindgen(js_name = rapportId)]
    pub fn random_id() -> String;

    /// `rapportPost` in `loader.js`: `fetch` with a text body, answering once with the status
    /// (0 when the network failed) and the answer's text.
    #[wasm_bindgen(js_name = rapportPost)]
    fn post_with(url: &str, body: &str, keepalive: bool, done: &JsValue);
}

/// What a POST came back with: the HTTP status, 0 when the network failed, and the text.
pub type Answered = Box<dyn FnOnce(u16, String)>;

/// POSTs a text body; `done` hears the answer. The body goes as `text/plain` so that a
/// cross-origin call is a "simple request" without a CORS preflight round trip; the edge
/// reads JSON either way. `keepalive` lets the request finish after the page is gone.
pub fn post(url: &str, body: &str, keepalive: bool, done: Answered) {
    let done = std::cell::Cell::new(Some(done));
    let closure = Closure::<dyn Fn(u16, String)>::new(move |status, text| {
        if let Some(done) = done.take() {
            done(status, text);
        }
    });
    post_with(url, body, keepalive, &closure.into_js_value());
}

/// POSTs JSON text and reads JSON back (parsed by the browser); an error says what failed.
pub fn post_json(url: &str, body: &str, done: Box<dyn FnOnce(Result<JsValue, String>)>) {
    let answered: Answered = Box::new(move |status, text| {
        done(match status {
            0 => Err(text),
            200..=299 => js_sys::JSON::parse(&text).map_err(|_| "not JSON".to_owned()),
            _ => Err(cat(&["HTTP ", &decimal(status.into()), ": ", &text])),
        })
    });
    post(url, body, false, answered);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_whole_takes_digits_only() {
        assert_eq!(parse_whole::<u32>("42"), Some(42));
        assert_eq!(parse_whole::<i64>("1700000000123"), Some(1_700_000_000_123));
        assert_eq!(parse_whole::<u32>(""), None);
        assert_eq!(parse_whole::<u32>("-1"), None);
        assert_eq!(parse_whole::<u32>("4 2"), None);
        assert_eq!(parse_whole::<u32>("99999999999"), None, "too big for a u32");
        assert_eq!(parse_whole::<u64>("99999999999999999999"), None);
    }

    #[test]
    fn split_at_byte_splits_at_the_first_separator() {
        assert_eq!(split_at_byte("abc:123", b':'), Some(("abc", "123")));
        assert_eq!(split_at_byte("a:b:c", b':'), Some(("a", "b:c")));
        assert_eq!(split_at_byte(":", b':'), Some(("", "")));
        assert_eq!(split_at_byte("é:ü", b':'), Some(("é", "ü")));
        assert_eq!(split_at_byte("abc", b':'), None);
    }
}
