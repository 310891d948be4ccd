//! The marketer console in Chromium: opening it with every CSP violation and page error
//! recorded, signing in, and waiting for what a script finds.

use std::time::Duration;

use fantoccini::Locator;
use serde_json::{json, Value};

use crate::{poll, Browser, Edge};

pub const WAIT: Duration = Duration::from_secs(15);

/// Records every CSP violation of every page in `window.cspViolations`.
pub const WATCH_CSP: &str = "window.cspViolations = []; window.pageErrors = [];
  addEventListener('unhandledrejection', (e) => window.pageErrors.push(String(e.reason && e.reason.stack || e.reason)));
  addEventListener('error', (e) => window.pageErrors.push(String(e.message)));
  document.addEventListener('securitypolicyviolation', (e) => {
    window.cspViolations.push(e.violatedDirective + ' ' + e.blockedURI);
  });";

/// The console's sign-in page, watching for CSP violations and page errors.
pub async fn console(edge: &Edge) -> Browser {
    let browser = Browser::start().await;
    browser.before_every_page(WATCH_CSP).await;
    browser.client.goto(&edge.url("/console/")).await.unwrap();
    browser
        .client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css("#token"))
        .await
        .expect("the sign-in form");
    browser
}

/// Signs in with `token` (the right one or not).
pub async fn sign_in(browser: &Browser, token: &str) {
    let input = browser.client.find(Locator::Css("#token")).await.unwrap();
    input.clear().await.unwrap();
    input.send_keys(token).await.unwrap();
    browser
        .client
        .find(Locator::Css("form.sign-in button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// Waits for the console behind the sign-in.
pub async fn signed_in(browser: &Browser) {
    browser
        .client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css("#nav:not([hidden])"))
        .await
        .expect("the console after signing in");
}

/// The console, signed in with the admin token.
pub async fn signed_in_console(edge: &Edge) -> Browser {
    let browser = console(edge).await;
    sign_in(&browser, &edge.admin_token).await;
    signed_in(&browser).await;
    browser
}

/// A signed-in console opened on `view` (`write`, `rulebook`, ...).
pub async fn console_at(edge: &Edge, view: &str) -> Browser {
    let browser = signed_in_console(edge).await;
    browser
        .client
        .goto(&edge.url(&format!("/console/#{view}")))
        .await
        .unwrap();
    browser
}

/// Runs `script` until it gives something other than null or false (at most 15 s), and
/// gives that; else fails with the page's errors and text.
pub async fn wait_for_script(browser: &Browser, script: &str) -> Value {
    let found = poll(WAIT, || async {
        let value = browser.client.execute(script, vec![]).await.unwrap();
        (!value.is_null() && value != json!(false)).then_some(value)
    })
    .await;
    if let Some(value) = found {
        return value;
    }
    let errors = browser
        .client
        .execute(
            "return [window.pageErrors, (document.getElementById('app') || document.body).innerText];",
            vec![],
        )
        .await
        .unwrap();
    panic!("never true: {script}\n{errors}");
}

/// The editor's content element, in its shadow root.
const EDITOR_CONTENT: &str =
    "(document.getElementById('editor')?.shadowRoot?.querySelector('.cm-content') ?? null)";

/// The editor's text as it draws it, line by line; `None` before there is an editor. (The
/// editor draws only the lines near the screen: the files tests write are short enough.)
pub async fn editor_text(browser: &Browser) -> Option<String> {
    let script = format!(
        "const content = {EDITOR_CONTENT};
         return content && Array.from(content.querySelectorAll('.cm-line'), (l) => l.textContent).join('\\n');"
    );
    let text = browser.client.execute(&script, vec![]).await.unwrap();
    text.as_str().map(str::to_owned)
}

/// Waits until the editor shows `text` exactly.
pub async fn wait_for_editor(browser: &Browser, text: &str) {
    let shown = poll(WAIT, || async {
        (editor_text(browser).await.as_deref() == Some(text)).then_some(())
    })
    .await;
    assert!(
        shown.is_some(),
        "the editor shows {:?}, not {text:?}",
        editor_text(browser).await
    );
}

/// Replaces everything in the editor with `text` as a marketer would: select all with the
/// keyboard, then paste (a paste is not re-indented, and closes no brackets).
pub async fn paste_into_editor(browser: &Browser, text: &str) {
    type_into_editor(browser, "\u{E009}a\u{E000}").await;
    let script = format!(
        "const data = new DataTransfer();
         data.setData('text/plain', arguments[0]);
         {EDITOR_CONTENT}.dispatchEvent(new ClipboardEvent('paste', {{ clipboardData: data, bubbles: true, cancelable: true }}));"
    );
    browser
        .client
        .execute(&script, vec![json!(text)])
        .await
        .unwrap();
}

/// Types `keys` (WebDriver keys: `\u{E009}` holds Control, `\u{E000}` lets go) where the
/// editor's cursor is.
pub async fn type_into_editor(browser: &Browser, keys: &str) {
    let host = browser.client.find(Locator::Css("#editor")).await.unwrap();
    let content = host
        .shadow_root()
        .await
        .unwrap()
        .find(Locator::Css(".cm-content"))
        .await
        .unwrap();
    content.send_keys(keys).await.unwrap();
}
