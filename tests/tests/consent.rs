//! Consent, as an EU shop needs it, in real Chromium against the edge in workerd: the shop's
//! pages load the widget through a proxy that keeps every request the browser sends to the
//! edge, body and all, so each test says exactly what left the browser, and what the
//! browser kept.
//!
//! The paths: opt-in required by the script tag, before, with and after consent; a refusal;
//! a withdrawal; opt-in required by the site's setting at the edge, with no attribute on the
//! tag; Global Privacy Control.

use std::time::Duration;

use rapport_e2e::{eventually, poll, Browser, Edge, Recorded, RecordingProxy};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(15);

/// A shop on an origin of its own whose pages load the widget through a recording proxy.
struct Shop {
    edge: Edge,
    proxy: RecordingProxy,
    url: String,
}

/// Starts an edge whose `demo` site is `site` (its origins are filled in) and a shop whose
/// home page has the script tag with `attributes`.
fn shop(site: Value, attributes: &str) -> Shop {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let mut site = site;
    site["origins"] = json!([url]);
    let edge = Edge::start_with(&[("SITES", &json!({ "demo": site }).to_string())]);
    let proxy = RecordingProxy::start(&edge);
    let page = format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>A shop in Lisbon</title>
<script src="{proxy}/rapport.js" data-site="demo" {attributes} async></script>
</head><body data-rapport-page="home"><h1>A shop in Lisbon</h1></body></html>"#,
        proxy = proxy.base
    );
    rapport_e2e::serve_page(
        listener,
        page,
        "default-src * 'unsafe-inline' 'wasm-unsafe-eval'".into(),
    );
    Shop { edge, proxy, url }
}

/// The requests to the API, with their bodies parsed.
fn api_calls(requests: &[Recorded]) -> Vec<(String, Value)> {
    requests
        .iter()
        .filter(|r| r.path.starts_with("/v1/"))
        .map(|r| {
            let body = serde_json::from_str(&r.body).unwrap_or(Value::Null);
            (format!("{} {}", r.method, r.path), body)
        })
        .collect()
}

/// Asserts that nothing the browser sent named a visitor or a session, or recorded an
/// event: the page's GET of the site's settings and decisions with consent withheld only.
fn nothing_identifying(requests: &[Recorded]) {
    let calls = api_calls(requests);
    assert!(!calls.is_empty(), "the page made no call at all");
    for (call, body) in &calls {
        assert!(
            call.starts_with("GET /v1/sites/") || call == "POST /v1/decide",
            "{call} {body}"
        );
        if call == "POST /v1/decide" {
            assert_eq!(body["visitor_id"], "", "{body}");
            assert_eq!(body["session_id"], "", "{body}");
            assert!(
                body.get("events").is_none(),
                "a decision carries no events: {body}"
            );
            assert_eq!(
                body["consent"],
                json!({ "analytics": false, "personalization": false }),
                "{body}"
            );
        }
    }
}

/// What Rapport keeps in the page's `localStorage`, key by key.
async fn kept(browser: &Browser) -> Value {
    browser
        .client
        .execute(
            "return Object.fromEntries(Object.keys(localStorage)
                 .filter((k) => k.startsWith('rapport:')).map((k) => [k, localStorage[k]]));",
            vec![],
        )
        .await
        .unwrap()
}

async fn push(browser: &Browser, command: &str) {
    browser
        .client
        .execute(&format!("window.rapport.push({command});"), vec![])
        .await
        .unwrap();
}

const AGREE: &str = "['consent', { analytics: true, personalization: true }]";
const REFUSE: &str = "['consent', { analytics: false, personalization: false }]";

/// Whether a decision the edge answered names the personalised welcome (shown, or its control
/// group): the welcome experiment is for first-time visitors the rulebook may personalise for.
fn welcomed(request: &Recorded) -> bool {
    let decision: Value = serde_json::from_str(&request.answer).unwrap_or(Value::Null);
    ["experiences", "controls"].iter().any(|list| {
        decision[list]
            .as_array()
            .is_some_and(|l| l.iter().any(|e| e["rule"] == "welcome"))
    })
}

/// The page loads, and the widget has had its decision: nothing identifying was stored or
/// sent, and the decision held back the personalised welcome.
async fn before_consent(shop: &Shop, browser: &Browser) {
    browser.client.goto(&shop.url).await.unwrap();
    browser.wait_for_decision().await;
    assert_eq!(kept(browser).await, json!({}));
    let requests = shop.proxy.requests();
    nothing_identifying(&requests);
    let decisions: Vec<&Recorded> = requests.iter().filter(|r| r.path == "/v1/decide").collect();
    assert!(!decisions.is_empty());
    assert!(!decisions.iter().any(|r| welcomed(r)), "{decisions:?}");
}

/// The shopper agrees: the browser gets a visitor id, the page on screen is recorded once,
/// after the consent, and the decision that follows welcomes them. Gives the visitor.
async fn consent_is_given(shop: &Shop, browser: &Browser) -> String {
    let before = shop.proxy.requests().len();
    push(browser, AGREE).await;
    let visitor = eventually(WAIT, || {
        shop.proxy.requests()[before..]
            .iter()
            .find(|r| r.path == "/v1/decide" && welcomed(r))
            .map(|r| serde_json::from_str::<Value>(&r.body).unwrap()["visitor_id"].clone())
    })
    .await
    .expect("a decision after the consent welcomes the shopper");
    assert_eq!(visitor, json!(browser.visitor_id().await));
    let visitor = visitor.as_str().unwrap().to_owned();
    let export = shop.edge.wait_for_events(&visitor, "page_view", 1).await;
    let types: Vec<&str> = export["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .filter(|t| *t != "impression")
        .collect();
    assert_eq!(types, ["consent", "page_view"], "{export}");
    visitor
}

#[tokio::test]
async fn with_data_consent_required_nothing_is_stored_or_sent_until_consent_then_the_page_is_recorded_once(
) {
    let shop = shop(json!({}), r#"data-consent="required""#);
    let browser = Browser::start().await;
    before_consent(&shop, &browser).await;
    // The tag says it all: the site's settings are not even asked for.
    assert!(shop
        .proxy
        .requests()
        .iter()
        .all(|r| !r.path.starts_with("/v1/sites/")));

    let visitor = consent_is_given(&shop, &browser).await;
    // After the consent, every call names the visitor, and the next page is recorded at once.
    browser.client.goto(&shop.url).await.unwrap();
    shop.edge.wait_for_events(&visitor, "page_view", 2).await;
    let after = shop.proxy.requests();
    let first_event = after
        .iter()
        .position(|r| r.path == "/v1/events")
        .expect("events were sent after the consent");
    for (call, body) in api_calls(&after[first_event..]) {
        if call != "GET /v1/sites/demo" {
            assert_eq!(body["visitor_id"], visitor, "{call} {body}");
        }
    }
    browser.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn a_refusal_in_required_mode_keeps_every_identifier_and_event_out() {
    let shop = shop(json!({}), r#"data-consent="required""#);
    let browser = Browser::start().await;
    before_consent(&shop, &browser).await;
    push(&browser, REFUSE).await;
    push(
        &browser,
        "['track', 'add_to_cart', { id: 'linen-shirt', price: 59 }]",
    )
    .await;
    // The refusal and the cart change each ask for a decision.
    browser.wait_for_answers("/v1/decide", 3).await;
    browser.client.goto(&shop.url).await.unwrap();
    browser.wait_for_decision().await;
    // Only the refusal itself is kept, so the banner need not ask again.
    assert_eq!(kept(&browser).await, json!({ "rapport:consent": "0,0" }));
    nothing_identifying(&shop.proxy.requests());
    browser.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn withdrawing_consent_deletes_the_ids_at_once_and_the_edge_stops_recording() {
    let shop = shop(json!({}), "");
    let browser = Browser::start().await;
    browser.client.goto(&shop.url).await.unwrap();
    browser.wait_for_decision().await;
    let visitor = browser.visitor_id().await;
    shop.edge.wait_for_events(&visitor, "page_view", 1).await;
    // The welcome (or its control group's exposure) is reported, and the report delivered,
    // before the banner is answered: nothing is on its way when it is.
    eventually(WAIT, || {
        let export = shop.edge.export(&visitor);
        export["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["type"] == "impression" || e["type"] == "exposure")
            .then_some(())
    })
    .await
    .expect("the welcome experiment's report arrives");
    let before = shop.proxy.requests().len();

    // The same script reads the storage right after the withdrawal: the ids are gone at once.
    let left = browser
        .client
        .execute(
            &format!(
                "window.rapport.push({REFUSE});
                 return [localStorage.getItem('rapport:vid'), localStorage.getItem('rapport:sid')];"
            ),
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(left, json!([null, null]));
    push(
        &browser,
        "['track', 'add_to_cart', { id: 'linen-shirt', price: 59 }]",
    )
    .await;
    browser.wait_for_answers("/v1/decide", 3).await;
    assert_eq!(kept(&browser).await, json!({ "rapport:consent": "0,0" }));

    // The first call after the withdrawal tells the edge, with the id and no session; no call
    // after it carries the id, and nothing more is recorded.
    let calls = api_calls(&shop.proxy.requests()[before..]);
    assert_eq!(calls[0].0, "POST /v1/decide", "{calls:?}");
    assert_eq!(calls[0].1["visitor_id"], visitor);
    assert_eq!(calls[0].1["session_id"], "");
    assert_eq!(calls[0].1["consent"]["analytics"], false);
    assert!(calls.len() >= 2, "{calls:?}");
    for (call, body) in &calls[1..] {
        assert_eq!(call, "POST /v1/decide", "{calls:?}");
        assert_eq!(body["visitor_id"], "", "{body}");
        assert_eq!(body["session_id"], "", "{body}");
    }
    let export = shop.edge.export(&visitor);
    assert_eq!(export["profile"]["consent"]["analytics"], false, "{export}");
    let stored = export["events"].as_array().unwrap().len();

    // Another tab that still holds the id sends an event: the edge no longer records it.
    let (status, answer) = shop.edge.post(
        "/v1/events",
        &json!({ "site": "demo", "visitor_id": visitor, "events": [
            { "id": "late-tab-event-01", "session_id": "late-tab-session", "type": "page_view",
              "page": { "url": "http://shop/", "path": "/" } }] })
        .to_string(),
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["withheld"], json!(["late-tab-event-01"]), "{answer}");
    let export = shop.edge.export(&visitor);
    assert_eq!(export["events"].as_array().unwrap().len(), stored);
    browser.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn a_site_that_requires_opt_in_at_the_edge_needs_no_attribute_on_the_tag() {
    let shop = shop(json!({ "consent": "opt-in" }), "");
    let browser = Browser::start().await;
    before_consent(&shop, &browser).await;
    let (status, settings) = shop.edge.get("/v1/sites/demo", None);
    assert_eq!(status, 200);
    assert_eq!(settings, json!({ "site": "demo", "consent": "opt-in" }));
    consent_is_given(&shop, &browser).await;

    // A page that ignores the setting (an old copy of the widget, a hand-made call) cannot
    // leak either: its events are not recorded, and its decision is made for nobody.
    let stranger = "visitor-no-consent-01";
    let (status, answer) = shop.edge.post(
        "/v1/events",
        &json!({ "site": "demo", "visitor_id": stranger, "events": [
            { "id": "stranger-event-01", "session_id": "stranger-session", "type": "page_view",
              "page": { "url": "http://shop/", "path": "/" } }] })
        .to_string(),
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["accepted"], json!([]), "{answer}");
    assert_eq!(answer["withheld"], json!(["stranger-event-01"]), "{answer}");
    let (status, decision) = shop.edge.post(
        "/v1/decide",
        &json!({ "site": "demo", "visitor_id": stranger, "session_id": "stranger-session",
                 "page": { "url": "http://shop/", "path": "/", "kind": "home" } })
        .to_string(),
    );
    assert_eq!(status, 200, "{decision}");
    let personalised: Vec<&Value> = decision["experiences"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["rule"] == "welcome")
        .collect();
    assert!(personalised.is_empty(), "{decision}");
    let export = shop.edge.export(stranger);
    assert_eq!(export["events"], json!([]), "{export}");
    browser.client.clone().close().await.unwrap();
}

/// A browser that kept a visitor id from before its site required opt-in: the page does not
/// ask for the site's settings (it has been through that), the edge records nothing for it
/// and says consent is required, and the widget lets the id go at once.
#[tokio::test]
async fn an_id_kept_from_before_the_site_required_opt_in_is_let_go() {
    let shop = shop(json!({ "consent": "opt-in" }), "");
    let visitor = "visitor-before-opt-in-01";
    let browser = Browser::start().await;
    browser
        .client
        .goto(&format!("{}/before", shop.url))
        .await
        .unwrap();
    browser.wait_for_decision().await;
    browser
        .client
        .execute(
            "localStorage.clear(); localStorage.setItem('rapport:vid', arguments[0]);",
            vec![json!(visitor)],
        )
        .await
        .unwrap();
    let before = shop.proxy.requests().len();
    browser.client.goto(&shop.url).await.unwrap();
    let cleared = poll(WAIT, || async {
        (kept(&browser).await == json!({})).then_some(())
    })
    .await;
    assert!(cleared.is_some(), "{}", kept(&browser).await);
    let calls = api_calls(&shop.proxy.requests()[before..]);
    let answered = shop.proxy.requests()[before..]
        .iter()
        .find(|r| r.path == "/v1/decide")
        .map(|r| serde_json::from_str::<Value>(&r.answer).unwrap())
        .expect("a decision");
    assert_eq!(answered["consent"], "required", "{answered}");
    assert!(
        calls
            .iter()
            .all(|(call, _)| !call.starts_with("GET /v1/sites/")),
        "{calls:?}"
    );
    assert_eq!(shop.edge.export(visitor)["events"], json!([]));
    browser.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn global_privacy_control_sends_nothing_identifying_until_the_site_passes_consent() {
    let shop = shop(json!({}), "");
    let browser = Browser::start().await;
    browser
        .before_every_page(
            "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', { get: () => true });",
        )
        .await;
    before_consent(&shop, &browser).await;
    consent_is_given(&shop, &browser).await;
    browser.client.clone().close().await.unwrap();
}

/// The site's settings are public (what its pages need before they store anything), fenced
/// like every browser call, and kept by the browser for a while so later pages need not wait.
#[test]
fn the_sites_settings_are_answered_to_its_pages_and_kept_for_five_minutes() {
    let edge = Edge::shared();
    let answer = ureq::get(&edge.url("/v1/sites/demo"))
        .header("origin", "https://tidewater.example")
        .call()
        .expect("the edge answers");
    assert_eq!(
        answer.headers().get("cache-control").unwrap(),
        "max-age=300"
    );
    assert_eq!(
        answer.headers().get("access-control-allow-origin").unwrap(),
        "https://tidewater.example"
    );
    let (status, settings) = edge.get("/v1/sites/demo", None);
    assert_eq!(status, 200);
    assert_eq!(settings, json!({ "site": "demo", "consent": "opt-out" }));
    let (status, refused) = edge.get("/v1/sites/nowhere", None);
    assert_eq!(status, 403, "{refused}");
    assert_eq!(refused["error"]["field"], "site");
}
