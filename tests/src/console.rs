//! The marketer console in Chromium: opening it with every CSP violation and page error
//! recorded, signing in, and waiting for what a script finds.

use std::time::Duration;

use fantoccini::Locator;
use serde_json::{json, Value};

use crate::{Browser, Edge};

const WAIT: Duration = Duration::from_secs(15);

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

/// Runs `script` every 100 ms until it gives something other than null or false (at most
/// 10 s), and gives that; else fails with the page's errors and text.
pub async fn wait_for_script(browser: &Browser, script: &str) -> Value {
    for _ in 0..100 {
        let value = browser.client.execute(script, vec![]).await.unwrap();
        if !value.is_null() && value != json!(false) {
            return value;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
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
