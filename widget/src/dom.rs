//! All DOM and browser-API plumbing lives here, so the rest of the widget reads as logic.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Document, Element, Storage, Window};

pub fn window() -> Window {
    web_sys::window().expect("the widget runs in a window")
}

pub fn document() -> Document {
    window().document().expect("a window has a document")
}

pub fn local_storage() -> Option<Storage> {
    window().local_storage().ok().flatten()
}

pub fn storage_get(key: &str) -> Option<String> {
    local_storage()?.get_item(key).ok().flatten()
}

/// Storage can be full or disabled (private modes); the widget then works for this page only.
pub fn storage_set(key: &str, value: &str) {
    if let Some(storage) = local_storage() {
        let _ = storage.set_item(key, value);
    }
}

pub fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// 128 random bits as 32 hex digits, from the browser's cryptographic generator.
pub fn random_id() -> String {
    let mut bytes = [0u8; 16];
    let filled = window()
        .crypto()
        .and_then(|c| c.get_random_values_with_u8_array(&mut bytes))
        .is_ok();
    if !filled {
        for b in &mut bytes {
            *b = (js_sys::Math::random() * 256.0) as u8;
        }
    }
    const HEX: &[u8; 16] = b"0123456789abcdef";
    bytes
        .iter()
        .flat_map(|b| [HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]])
        .map(char::from)
        .collect()
}

/// `n` in decimal. The widget writes numbers without `format!`, whose machinery would add
/// kilobytes to every shopper's download.
pub fn decimal(n: u64) -> String {
    let mut digits = Vec::new();
    let mut rest = n;
    loop {
        digits.push(b'0' + (rest % 10) as u8);
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    digits.iter().rev().map(|&d| char::from(d)).collect()
}

/// `amount` as the shopper's locale writes it in `currency` (`€59.00`, `59,00 €`), through
/// the browser's `Intl.NumberFormat`; with two decimals and no symbol when the currency is
/// unknown or not one the browser knows.
pub fn money(amount: f64, currency: Option<&str>, locale: &str) -> String {
    let formatted = currency.and_then(|currency| {
        let intl = js_sys::Reflect::get(&window(), &"Intl".into()).ok()?;
        let constructor = js_sys::Reflect::get(&intl, &"NumberFormat".into()).ok()?;
        let options = js_sys::Object::new();
        js_sys::Reflect::set(&options, &"style".into(), &"currency".into()).ok()?;
        js_sys::Reflect::set(&options, &"currency".into(), &currency.into()).ok()?;
        let locales = if locale.is_empty() {
            JsValue::UNDEFINED
        } else {
            locale.into()
        };
        // An unknown currency code or locale throws; `construct` turns that into `Err`.
        let format = js_sys::Reflect::construct(
            constructor.dyn_ref::<js_sys::Function>()?,
            &js_sys::Array::of2(&locales, &options),
        )
        .ok()?;
        let call = js_sys::Reflect::get(&format, &"format".into()).ok()?;
        call.dyn_ref::<js_sys::Function>()?
            .call1(&format, &amount.into())
            .ok()?
            .as_string()
    });
    formatted.unwrap_or_else(|| {
        js_sys::Number::from(amount)
            .to_fixed(2)
            .map(String::from)
            .unwrap_or_default()
    })
}

/// A whole number written in decimal digits only (no sign, no spaces).
pub fn parse_whole<T: TryFrom<u64>>(text: &str) -> Option<T> {
    if text.is_empty() || text.len() > 19 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = text.bytes().fold(0u64, |n, b| n * 10 + u64::from(b - b'0'));
    T::try_from(n).ok()
}

/// The value of `name` in the page URL's query string, if present (already decoded).
pub fn query_param(name: &str) -> Option<String> {
    let search = window().location().search().ok()?;
    search.trim_start_matches('?').split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (key == name)
            .then(|| js_sys::decode_uri_component(&value.replace('+', " ")).ok())
            .flatten()
            .map(String::from)
    })
}

/// Whether the browser asks sites not to track: Global Privacy Control or Do Not Track.
pub fn privacy_signal() -> bool {
    let navigator = window().navigator();
    let gpc = js_sys::Reflect::get(&navigator, &"globalPrivacyControl".into())
        .ok()
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    let dnt = js_sys::Reflect::get(&navigator, &"doNotTrack".into())
        .ok()
        .and_then(|v| v.as_string())
        .is_some_and(|v| v == "1" || v == "yes");
    gpc || dnt
}

/// How far down the page the shopper has scrolled, in percent (100 when nothing scrolls).
pub fn scrolled_percent() -> f64 {
    let window = window();
    let Some(page) = document().document_element() else {
        return 0.0;
    };
    let viewport = window
        .inner_height()
        .ok()
        .and_then(|h| h.as_f64())
        .unwrap_or(0.0);
    let scrollable = f64::from(page.scroll_height()) - viewport;
    if scrollable <= 0.0 {
        return 100.0;
    }
    window.scroll_y().unwrap_or(0.0) / scrollable * 100.0
}

pub fn warn(message: &str) {
    web_sys::console::warn_1(&message.into());
}

pub fn create(tag: &str) -> Element {
    document()
        .create_element(tag)
        .expect("creating a standard element cannot fail")
}

/// Sets an element's text. Content from rules only ever reaches the page through here (or
/// attributes), never as HTML.
pub fn text(element: &Element, text: &str) {
    element.set_text_content(Some(text));
}

pub fn set_attr(element: &Element, name: &str, value: &str) {
    let _ = element.set_attribute(name, value);
}

pub fn on(
    target: &web_sys::EventTarget,
    event: &str,
    handler: impl FnMut(web_sys::Event) + 'static,
) {
    let closure = Closure::<dyn FnMut(web_sys::Event)>::new(handler);
    let _ = target.add_event_listener_with_callback(event, closure.as_ref().unchecked_ref());
    // Listeners live as long as the element or page they are attached to.
    closure.forget();
}

/// Runs `handler` every `ms` milliseconds for as long as the page lives.
pub fn set_interval(ms: i32, handler: impl FnMut() + 'static) {
    let closure = Closure::<dyn FnMut()>::new(handler);
    let _ = window().set_interval_with_callback_and_timeout_and_arguments_0(
        closure.as_ref().unchecked_ref(),
        ms,
    );
    closure.forget();
}

pub fn set_timeout(ms: i32, handler: impl FnOnce() + 'static) {
    let closure = Closure::once_into_js(handler);
    let _ =
        window().set_timeout_with_callback_and_timeout_and_arguments_0(closure.unchecked_ref(), ms);
}

/// POSTs JSON text and reads JSON back (parsed by the browser). The body goes as
/// `text/plain` so that a cross-origin call is a "simple request" without a CORS preflight
/// round trip; the edge reads JSON either way.
pub async fn post_json(url: &str, body: &str) -> Result<JsValue, String> {
    let response = post(url, body, false).await?;
    let text = JsFuture::from(response.text().map_err(describe)?)
        .await
        .map_err(describe)?
        .as_string()
        .unwrap_or_default();
    if !response.ok() {
        return Err(["HTTP ", &decimal(response.status().into()), ": ", &text].concat());
    }
    js_sys::JSON::parse(&text).map_err(describe)
}

/// POSTs a text body. `keepalive` lets the request finish after the page is gone.
pub async fn post(url: &str, body: &str, keepalive: bool) -> Result<web_sys::Response, String> {
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    init.set_body(&JsValue::from_str(body));
    // web-sys has no setter for `keepalive`; the init dictionary is a plain object.
    let _ = js_sys::Reflect::set(&init, &"keepalive".into(), &keepalive.into());
    // A string body goes as `text/plain;charset=UTF-8` by default, which is what we want.
    let request = web_sys::Request::new_with_str_and_init(url, &init).map_err(describe)?;
    let response = JsFuture::from(window().fetch_with_request(&request))
        .await
        .map_err(describe)?;
    response.dyn_into().map_err(describe)
}

/// Hands a body to the browser to deliver even as the page unloads.
pub fn send_beacon(url: &str, body: &str) -> bool {
    window()
        .navigator()
        .send_beacon_with_opt_str(url, Some(body))
        .unwrap_or(false)
}

fn describe(err: JsValue) -> String {
    err.as_string()
        .or_else(|| {
            err.dyn_ref::<js_sys::Error>()
                .map(|e| String::from(e.message()))
        })
        .unwrap_or_else(|| "network error".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_writes_every_digit() {
        assert_eq!(decimal(0), "0");
        assert_eq!(decimal(7), "7");
        assert_eq!(decimal(1_700_000_000_123), "1700000000123");
        assert_eq!(decimal(u64::MAX), u64::MAX.to_string());
    }

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
}
