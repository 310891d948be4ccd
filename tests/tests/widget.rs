//! The widget in real Chromium: its commands (`consent`, `on`, `identify`, `forget`, `track`),
//! Do Not Track, single-page-app routes, capture (scroll depth, product markup, cart buttons,
//! rage clicks, engaged time, checkout, malformed `track` commands), exactly-once
//! delivery, every trigger and prompt interaction, and a shop on another origin under a
//! nonce-based Content-Security-Policy.

use std::time::Duration;

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::key::Key;
use rapport_e2e::{eventually, poll, Browser, Edge, KEEP_WARNINGS};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(15);

fn count(export: &Value, kind: &str) -> usize {
    export["events"].as_array().map_or(0, |events| {
        events.iter().filter(|e| e["type"] == kind).count()
    })
}

/// Waits for the visitor's one event of type `kind` to reach the edge; gives the export then
/// (profile and events) and that event.
async fn the_one(edge: &Edge, visitor: &str, kind: &str) -> (Value, Value) {
    let export = eventually(WAIT, || {
        let export = edge.export(visitor);
        (count(&export, kind) == 1).then_some(export)
    })
    .await
    .unwrap_or_else(|| panic!("the {kind} event did not reach the edge"));
    let event = export["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == kind)
        .cloned()
        .unwrap();
    (export, event)
}

/// Waits for the visitor's one survey answer to reach the edge, and gives it.
async fn the_answer(edge: &Edge, visitor: &str) -> Value {
    the_one(edge, visitor, "answer").await.1
}

/// The site passes the shopper's consent; gives the visitor id the browser then makes.
async fn consented(browser: &Browser) -> String {
    browser
        .client
        .execute(
            "rapport.push(['consent', { analytics: true, personalization: true }]);",
            vec![],
        )
        .await
        .unwrap();
    poll(WAIT, || browser.local_storage("rapport:vid"))
        .await
        .expect("a visitor id after consent")
}

/// The site passes the shopper's consent: the browser gets a new visitor id (the one it kept
/// before went when the privacy signal withheld consent), the consent reaches the edge, and
/// the personalised welcome experiment takes the visitor in (its bar is reported shown, or
/// its control group exposed). Gives the visitor's export then.
async fn consent_brings_the_welcome(browser: &Browser, edge: &Edge, kept: &str) -> Value {
    let visitor = consented(browser).await;
    assert_ne!(visitor, kept);
    eventually(WAIT, || {
        let export = edge.export(&visitor);
        let welcomed = export["events"].as_array().unwrap().iter().any(|e| {
            e["event"]["rule"] == "welcome"
                && ["impression", "exposure"].contains(&e["type"].as_str().unwrap())
        });
        welcomed.then_some(())
    })
    .await
    .expect("the welcome experiment takes the visitor in after the consent");
    the_one(edge, &visitor, "consent").await.0
}

#[tokio::test]
async fn do_not_track_means_nothing_recorded_or_personalised_until_consent() {
    let edge = Edge::shared();
    let browser = Browser::start_with_prefs(json!({ "enable_do_not_track": true })).await;
    let client = &browser.client;
    let visitor = "visitor-dnt-07";
    browser.pin_visitor(edge, visitor).await;

    client.goto(&edge.url("/")).await.unwrap();
    browser.wait_for_decision().await;
    // No events left the browser, the id it kept is gone, and the personalised welcome is
    // not shown.
    assert_eq!(edge.export(visitor)["events"], json!([]));
    assert_eq!(browser.local_storage("rapport:vid").await, None);
    assert!(browser.visible_prompt("welcome-offer").await.is_none());

    // The site passes the shopper's consent: recording starts, and the welcome follows.
    let export = consent_brings_the_welcome(&browser, edge, visitor).await;
    assert_eq!(export["profile"]["consent"]["personalization"], true);
    client.clone().close().await.unwrap();
}

#[tokio::test]
async fn with_global_privacy_control_no_identifier_is_kept_or_sent_until_consent() {
    let edge = Edge::shared();
    let browser = Browser::start().await;
    browser
        .before_every_page(
            "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', { get: () => true });
             window.decisions = []; const post = window.fetch;
             window.fetch = function (url, init) {
                 if (String(url).endsWith('/v1/decide')) window.decisions.push(JSON.parse(init.body));
                 return post.apply(this, arguments); };",
        )
        .await;
    let client = &browser.client;
    client.goto(&edge.url("/")).await.unwrap();
    browser.wait_for_decision().await;
    assert_eq!(browser.local_storage("rapport:vid").await, None);
    assert_eq!(browser.local_storage("rapport:sid").await, None);
    let sent = client
        .execute("return window.decisions;", vec![])
        .await
        .unwrap();
    assert_eq!(sent[0]["visitor_id"], "", "{sent}");
    assert_eq!(sent[0]["session_id"], "", "{sent}");
    assert_eq!(sent[0]["consent"]["analytics"], false, "{sent}");

    // The site passes consent: now the browser keeps an id, and what happens is recorded.
    let visitor = consented(&browser).await;
    edge.wait_for_events(&visitor, "consent", 1).await;
    client.clone().close().await.unwrap();
}

#[tokio::test]
async fn global_privacy_control_means_nothing_recorded_or_personalised_until_consent() {
    let edge = Edge::shared();
    let browser = Browser::start().await;
    // Chromium has no setting for Global Privacy Control; the signal is what pages read.
    browser
        .before_every_page(
            "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', { get: () => true });",
        )
        .await;
    let client = &browser.client;
    let visitor = "visitor-gpc-03";
    browser.pin_visitor(edge, visitor).await;

    client.goto(&edge.url("/")).await.unwrap();
    browser.wait_for_widget().await;
    assert_eq!(
        client
            .execute("return navigator.globalPrivacyControl;", vec![])
            .await
            .unwrap(),
        json!(true)
    );
    client
        .execute(
            "rapport.push(['track', 'add_to_cart', { id: 'linen-shirt', price: 59 }]);",
            vec![],
        )
        .await
        .unwrap();
    // An add to cart asks for a new decision, after whatever the widget would send.
    browser.wait_for_answers("/v1/decide", 2).await;
    assert_eq!(edge.export(visitor)["events"], json!([]));
    assert!(browser.visible_prompt("welcome-offer").await.is_none());

    let export = consent_brings_the_welcome(&browser, edge, visitor).await;
    assert_eq!(
        count(&export, "add_to_cart"),
        0,
        "nothing from before the consent"
    );
    client.clone().close().await.unwrap();
}

/// Subscribers hear impressions even when registered before the script loads. A function
/// registered twice for an event hears it once; `off` takes one away; a callback that
/// throws, or one that is no function, stops nothing else.
#[tokio::test]
async fn on_subscribers_hear_once_and_off_takes_a_subscription_away() {
    let edge = Edge::shared();
    let browser = Browser::start().await;
    let client = &browser.client;
    // Bucketed into the welcome's "offer" variant (`rapport bucket`: 0.3111).
    browser.pin_visitor(edge, "visitor-on-off-02").await;
    client.goto(&edge.url("/")).await.unwrap();
    client
        .execute(
            "window.heard = [];
             const kept = (type, detail) => window.heard.push(type + ' ' + detail.experience);
             const dropped = (type) => window.heard.push('dropped ' + type);
             rapport.push(['on', 'impression', kept]);
             rapport.push(['on', 'impression', kept]);
             rapport.push(['on', '*', () => { throw new Error('a bug in the shop'); }]);
             rapport.push(['on', 'impression', dropped]);
             rapport.push(['off', 'impression', dropped]);
             rapport.push(['on', 'impression', 'not a function']);",
            vec![],
        )
        .await
        .unwrap();
    browser.wait_for_prompt("welcome-offer", WAIT).await;
    let heard = poll(WAIT, || async {
        let heard = client
            .execute("return window.heard;", vec![])
            .await
            .unwrap();
        (heard != json!([])).then_some(heard)
    })
    .await
    .unwrap_or_default();
    assert_eq!(heard, json!(["impression welcome-offer"]));
    client.clone().close().await.unwrap();
}

/// A browser on the home page with the widget running, and its visitor id.
async fn on_the_home_page(edge: &Edge) -> (Browser, String) {
    let browser = Browser::start().await;
    browser.client.goto(&edge.url("/")).await.unwrap();
    browser.wait_for_widget().await;
    let visitor = browser.visitor_id().await;
    (browser, visitor)
}

#[tokio::test]
async fn scrolling_to_the_bottom_reports_the_depth_milestones() {
    let edge = Edge::shared();
    let (browser, visitor) = on_the_home_page(edge).await;
    browser
        .client
        .execute(
            "window.scrollTo(0, document.documentElement.scrollHeight);",
            vec![],
        )
        .await
        .unwrap();
    let export = eventually(WAIT, || {
        let export = edge.export(&visitor);
        let depths: Vec<Value> = export["events"]
            .as_array()?
            .iter()
            .filter(|e| e["type"] == "scroll")
            .map(|e| e["event"]["percent"].clone())
            .collect();
        depths.contains(&json!(100)).then_some(depths)
    })
    .await;
    let depths = export.expect("the 100% milestone arrives");
    let mut unique = depths.clone();
    unique.dedup();
    assert_eq!(unique, depths, "each milestone once");
    browser.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn a_single_page_app_moving_to_another_path_is_a_new_page_view() {
    let edge = Edge::shared();
    let (browser, visitor) = on_the_home_page(edge).await;
    edge.wait_for_events(&visitor, "page_view", 1).await;
    browser
        .client
        .execute("history.pushState({}, '', '/?page=2');", vec![])
        .await
        .unwrap();
    let export = edge.wait_for_events(&visitor, "page_view", 2).await;
    assert_eq!(count(&export, "page_view"), 2);
    browser.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn forget_erases_the_visitor_at_the_edge_and_in_the_browser() {
    let edge = Edge::shared();
    let (browser, visitor) = on_the_home_page(edge).await;
    edge.wait_for_events(&visitor, "page_view", 1).await;
    browser
        .client
        .execute("rapport.push(['forget']);", vec![])
        .await
        .unwrap();
    let erased = eventually(WAIT, || {
        let export = edge.export(&visitor);
        (export["profile"]["events"] == 0).then_some(export)
    })
    .await;
    assert!(erased.is_some(), "the visitor was not erased");
    assert_eq!(browser.local_storage("rapport:vid").await, None);
    browser.client.clone().close().await.unwrap();
}

/// Presses `keys` (with Shift held when `shift`) on whatever has focus.
async fn press(browser: &Browser, keys: &[Key], shift: bool) {
    let mut actions = KeyActions::new("keyboard".into());
    if shift {
        actions = actions.then(KeyAction::Down {
            value: Key::Shift.into(),
        });
    }
    for key in keys {
        let value: char = (*key).into();
        actions = actions
            .then(KeyAction::Down { value })
            .then(KeyAction::Up { value });
    }
    if shift {
        actions = actions.then(KeyAction::Up {
            value: Key::Shift.into(),
        });
    }
    browser.client.perform_actions(actions).await.unwrap();
}

#[tokio::test]
async fn a_modal_traps_focus_closes_with_escape_and_shows_in_one_tab_at_a_time() {
    let edge = Edge::shared();
    let browser = Browser::start().await;
    let client = &browser.client;
    let url = edge.preview_url("service-recovery-modal");

    // The first tab shows the modal, with focus on its close button.
    client.goto(&url).await.unwrap();
    browser
        .wait_for_prompt("service-recovery-modal", WAIT)
        .await;
    assert_eq!(browser.focused_in_prompt().await[1], json!("rp-close"));
    let first = client.window().await.unwrap();

    // A second tab of the shop waits while the first shows an overlay.
    let second = client.new_window(true).await.unwrap().handle;
    client.switch_to_window(second.clone()).await.unwrap();
    client.goto(&url).await.unwrap();
    // The second tab has its decision, with the modal in it, and waits for the lease.
    browser.wait_for_decision().await;
    assert!(browser
        .visible_prompt("service-recovery-modal")
        .await
        .is_none());

    // Keyboard: Tab wraps from the last control to the first, Shift+Tab back; Escape closes
    // the modal, which frees the other tab to show its own.
    client.switch_to_window(first).await.unwrap();
    press(&browser, &[Key::Tab], false).await;
    assert_eq!(browser.focused_in_prompt().await[1], json!("rp-cta"));
    press(&browser, &[Key::Tab], true).await;
    assert_eq!(browser.focused_in_prompt().await[1], json!("rp-close"));
    press(&browser, &[Key::Escape], false).await;
    assert!(browser
        .visible_prompt("service-recovery-modal")
        .await
        .is_none());
    client.switch_to_window(second).await.unwrap();
    browser
        .wait_for_prompt("service-recovery-modal", WAIT)
        .await;
    client.clone().close().await.unwrap();
}

#[tokio::test]
async fn an_nps_answer_with_its_comment_brings_help_in_the_same_visit() {
    let edge = Edge::shared();
    let browser = Browser::start().await;
    let client = &browser.client;
    let visitor = "visitor-nps-0001";
    browser.pin_visitor(edge, visitor).await;

    // The shop's systems say this shopper has bought twice.
    let key = edge.demo_server_key.clone();
    let (status, answer) = edge.server(
        "POST",
        "/v1/server/events",
        Some(&key),
        &json!({ "events": [
            { "id": "nps-identify-01", "customer_id": "C-77", "type": "identify", "visitor_id": visitor },
            { "id": "nps-order-0001", "customer_id": "C-77", "type": "purchase", "order_id": "1", "value": 40 },
            { "id": "nps-order-0002", "customer_id": "C-77", "type": "purchase", "order_id": "2", "value": 60 },
        ] })
        .to_string(),
    );
    assert_eq!(status, 200, "{answer}");

    // The NPS survey appears; a 4 opens the comment box, whose text goes with the score.
    client.goto(&edge.url("/")).await.unwrap();
    browser.wait_for_prompt("nps-after-purchase", WAIT).await;
    browser.click_in_prompt("nps-after-purchase", "4").await;
    browser
        .in_prompt(
            "nps-after-purchase",
            "root.querySelector('.rp-comment-field').value = 'The parcel came late';",
        )
        .await;
    browser.click_in_prompt("nps-after-purchase", "Send").await;
    let answer = the_answer(edge, visitor).await;
    assert_eq!(answer["event"]["score"], 4);
    assert_eq!(answer["event"]["comment"], "The parcel came late");

    // The answer made the shopper a detractor: help is offered in the same visit.
    let help = browser
        .wait_for_prompt("service-recovery-modal", WAIT)
        .await;
    assert!(help.contains("We're sorry we let you down"), "{help}");
    client.clone().close().await.unwrap();
}

/// Every stored event id, once each; panics on a duplicate.
fn ids_once(export: &Value) -> Vec<String> {
    let ids: Vec<String> = export["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    let unique: std::collections::BTreeSet<&String> = ids.iter().collect();
    assert_eq!(
        unique.len(),
        ids.len(),
        "an event was stored twice: {ids:?}"
    );
    ids
}

#[tokio::test]
async fn events_arrive_exactly_once_across_quick_pages_and_offline_spells() {
    let edge = Edge::shared();
    let browser = Browser::start().await;
    let client = &browser.client;
    let visitor = "visitor-offline-01";
    browser.pin_visitor(edge, visitor).await;

    // Five pages, clicked through without waiting for any answer from the edge: each page is
    // left as soon as the widget runs on it (a page left before then has no widget to see it,
    // which on a loaded machine made this test count four pages now and then).
    for path in [
        "/",
        "/products/linen-shirt",
        "/products/canvas-tote",
        "/cart",
        "/",
    ] {
        client.goto(&edge.url(path)).await.unwrap();
        browser.wait_for_widget().await;
    }
    let export = eventually(WAIT, || {
        let export = edge.export(visitor);
        (count(&export, "page_view") >= 5).then_some(export)
    })
    .await
    .unwrap_or_else(|| panic!("five page views arrive: {}", edge.export(visitor)));
    assert_eq!(count(&export, "page_view"), 5);
    assert_eq!(count(&export, "product_view"), 2);
    ids_once(&export);

    // Offline: what the shopper does waits in the queue, and arrives once back online.
    browser.set_offline(true).await;
    client
        .execute(
            "rapport.push(['track', 'add_to_cart', { id: 'linen-shirt', name: 'Linen Shirt', price: 59 }]);
             rapport.push(['track', 'add_to_cart', { id: 'canvas-tote', name: 'Canvas Tote', price: 35 }]);",
            vec![],
        )
        .await
        .unwrap();
    // Both wait in the queue, and none reached the edge.
    poll(WAIT, || async {
        let queued = browser.local_storage("rapport:queue:demo").await;
        queued.filter(|q| q.contains("canvas-tote")).map(|_| ())
    })
    .await
    .expect("the events wait in the queue");
    assert_eq!(count(&edge.export(visitor), "add_to_cart"), 0);
    browser.set_offline(false).await;
    let export = eventually(Duration::from_secs(30), || {
        let export = edge.export(visitor);
        (count(&export, "add_to_cart") >= 2).then_some(export)
    })
    .await
    .expect("the queued events arrive after the network comes back");
    assert_eq!(count(&export, "add_to_cart"), 2);
    ids_once(&export);
    poll(WAIT, || async {
        // Delivered, the queue leaves no key behind.
        let queued = browser.local_storage("rapport:queue:demo").await;
        queued.is_none().then_some(())
    })
    .await
    .expect("the queue empties once delivered");
    client.clone().close().await.unwrap();
}

/// A rulebook with one rule per trigger the demo does not use, and a CSAT survey.
#[tokio::test]
async fn identify_with_the_shops_signature_brings_the_customers_facts() {
    let edge = Edge::shared();
    let customer = "C-2001";
    let (status, saved) = edge.server(
        "PUT",
        &format!("/v1/server/customers/{customer}"),
        Some(&edge.demo_server_key),
        &json!({ "traits": { "tier": "gold" } }).to_string(),
    );
    assert_eq!(status, 200, "{saved}");
    let browser = Browser::start().await;
    let client = &browser.client;
    let visitor = "visitor-identify-02";
    browser.pin_visitor(edge, visitor).await;
    client.goto(&edge.url("/")).await.unwrap();
    browser.wait_for_prompt("welcome-offer", WAIT).await;

    // A signature the shop's server did not make links nothing.
    client
        .execute(
            "window.identified = []; rapport.push(['on', 'identify', function (name, detail) {
                 window.identified.push(detail); }]);
             rapport.push(['identify', arguments[0], { signature: arguments[1] }]);",
            vec![customer.into(), "00".repeat(32).into()],
        )
        .await
        .unwrap();
    browser.wait_for_answers("/v1/identify", 1).await;
    assert!(edge.export(visitor)["profile"]["customer_id"].is_null());
    assert!(browser
        .visible_prompt("vip-early-access-bar")
        .await
        .is_none());

    // The signed id links the visitor; the decision asked again brings the VIP bar at once.
    client
        .execute(
            "rapport.push(['identify', arguments[0], { signature: arguments[1] }]);",
            vec![customer.into(), edge.identity_signature(customer).into()],
        )
        .await
        .unwrap();
    browser.wait_for_prompt("vip-early-access-bar", WAIT).await;
    let profile = &edge.export(visitor)["profile"];
    assert_eq!(profile["customer_id"], customer);
    let heard = client
        .execute("return window.identified;", vec![])
        .await
        .unwrap();
    assert_eq!(heard, json!([{ "identified": true }]));
    assert_eq!(
        browser.local_storage("rapport:customer").await.as_deref(),
        Some(customer)
    );
    client.clone().close().await.unwrap();
}

#[tokio::test]
async fn cart_buttons_the_checkout_steps_and_the_order_confirmation_are_captured() {
    let edge = Edge::shared();
    let browser = Browser::start().await;
    let client = &browser.client;
    let visitor = "visitor-cart-capture-01";
    browser.pin_visitor(edge, visitor).await;

    // The click comes once the widget runs: one before `rapport.js` itself has run cannot be
    // seen (clicks while the wasm loads are queued by the loader; `track` commands are queued
    // by the page).
    browser.add_to_cart_on(edge, "linen-shirt").await;
    // The cart page reports the whole cart, as the shop holds it.
    client.goto(&edge.url("/cart")).await.unwrap();
    let (_, snapshot) = the_one(edge, visitor, "cart").await;
    assert_eq!(
        snapshot["event"]["items"][0]["product"]["id"],
        "linen-shirt"
    );
    assert_eq!(snapshot["event"]["items"][0]["quantity"], 1);
    // The checkout page says its step on `<body>`; the widget reports it by itself.
    client.goto(&edge.url("/checkout")).await.unwrap();
    let (export, _) = the_one(edge, visitor, "checkout_step").await;
    assert_eq!(export["profile"]["checkout"]["step"], "details");
    // The add to cart came from the button's `data-rapport-add-to-cart` attributes alone.
    assert_eq!(count(&export, "add_to_cart"), 1);
    let line = &export["profile"]["cart"][0];
    assert_eq!(line["product"]["id"], "linen-shirt", "{line}");
    assert_eq!(line["product"]["price"], 59.0);
    assert_eq!(line["product"]["currency"], "EUR");
    assert_eq!(line["product"]["url"], "/products/linen-shirt");
    assert_eq!(export["profile"]["cart"].as_array().map(Vec::len), Some(1));

    // The confirmation page's `track order_complete` finishes the checkout and empties the
    // cart, without counting as a purchase (those come from the shop's server).
    client
        .execute(
            "document.querySelector('[data-place-order]').click();",
            vec![],
        )
        .await
        .unwrap();
    let (export, order) = the_one(edge, visitor, "order_complete").await;
    assert_eq!(order["event"]["value"], 59.0, "{order}");
    assert_eq!(order["event"]["currency"], "EUR");
    let profile = &export["profile"];
    assert_eq!(profile["checkout"]["orders"], 1);
    assert!(profile["checkout"]["step"].is_null(), "{profile}");
    assert_eq!(profile["cart"], json!([]));
    assert_eq!(profile["purchases"]["count"], 0);
    client.clone().close().await.unwrap();
}

/// Capture reads the page in JavaScript and the wasm module records what it hands over: the
/// product page's JSON-LD, a cart button that removes, three quick clicks in one place (a rage
/// click), engaged time once the tab goes to the background, and the shop's `track` commands,
/// of which each malformed one is refused with a warning that says what is wrong, and nothing
/// of it recorded.
#[tokio::test]
async fn capture_reads_the_page_the_shoppers_behaviour_and_the_shops_track_commands() {
    let edge = Edge::shared();
    let browser = Browser::start().await;
    let client = &browser.client;
    let visitor = "visitor-capture-reads-01";
    browser.pin_visitor(edge, visitor).await;
    browser.keep_warnings().await;
    client
        .goto(&edge.url("/products/merino-throw"))
        .await
        .unwrap();
    browser.wait_for_widget().await;
    let (_, viewed) = the_one(edge, visitor, "product_view").await;
    assert_eq!(
        viewed["event"]["product"],
        json!({"id": "merino-throw", "name": "Merino Wool Throw", "price": 89.0,
               "currency": "EUR", "category": "home", "availability": "InStock",
               "url": "/products/merino-throw", "image": "/images/merino-throw.svg"})
    );

    client
        .execute(
            "document.body.insertAdjacentHTML('beforeend', \
               '<button id=remove data-rapport-remove-from-cart=merino-throw data-quantity=\" 2 \">x</button>');
             document.getElementById('remove').click();
             const heading = document.querySelector('h1');
             for (let i = 0; i < 3; i++)
               heading.dispatchEvent(new MouseEvent('click', { bubbles: true, clientX: 200, clientY: 150 }));
             rapport.push(['track', 'add_to_cart', { name: 'No id' }]);
             rapport.push(['track', 'cart', { items: [{ id: 'merino-throw' }, { name: 'No id' }] }]);
             rapport.push(['track', 'refund', {}]);
             rapport.push(['track', 7]);
             rapport.push(['track', 'search', 'wool']);
             rapport.push(['track', 'order_complete', { value: 5 }]);
             rapport.push(['track', 'search', { query: 'wool throw', results: '3' }]);",
            vec![],
        )
        .await
        .unwrap();
    // The search went last, through the same queue as everything before it.
    let (_, search) = the_one(edge, visitor, "search").await;
    assert_eq!(search["event"]["query"], "wool throw");
    assert_eq!(search["event"]["results"], 3);
    let export = edge.wait_for_events(visitor, "rage_click", 1).await;
    let rage = rapport_e2e::events(&export, "rage_click");
    assert_eq!(rage.len(), 1, "{rage:?}");
    assert_eq!(rage[0]["target"], "h1");
    let removed = rapport_e2e::events(&export, "remove_from_cart");
    assert_eq!(removed.len(), 1, "{removed:?}");
    assert_eq!(removed[0]["product_id"], "merino-throw");
    assert_eq!(removed[0]["quantity"], 2);
    for refused in ["add_to_cart", "cart", "order_complete"] {
        assert_eq!(count(&export, refused), 0, "{refused} was refused");
    }
    let warnings: Vec<String> = browser
        .warnings()
        .await
        .into_iter()
        .filter(|w| w.starts_with("rapport: track:"))
        .collect();
    assert_eq!(
        warnings,
        [
            "rapport: track: add_to_cart: a product needs an `id`",
            "rapport: track: cart: items[1]: a product needs an `id`",
            "rapport: track: unknown event \"refund\" (expected add_to_cart, remove_from_cart, \
             cart, product_view, search, checkout_step or order_complete)",
            "rapport: track: the event name must be a string",
            "rapport: track: the event properties must be a plain object",
            "rapport: track: order_complete: an order needs an `order_id`",
        ]
    );

    // Engaged time counts in ticks of five seconds while the shopper moves; what is counted
    // goes when the tab is hidden.
    client
        .execute(
            "Object.defineProperty(document, 'visibilityState', \
               { configurable: true, get: () => window.hidden ? 'hidden' : 'visible' });",
            vec![],
        )
        .await
        .unwrap();
    let engaged = poll(WAIT, || async {
        client
            .execute(
                "dispatchEvent(new MouseEvent('mousemove'));
                 window.hidden = true;
                 document.dispatchEvent(new Event('visibilitychange'));
                 window.hidden = false;",
                vec![],
            )
            .await
            .unwrap();
        let export = edge.export(visitor);
        let engaged = rapport_e2e::events(&export, "engagement");
        (!engaged.is_empty()).then_some(engaged)
    })
    .await
    .expect("engaged time once the tab is hidden");
    // The ticks since the page loaded, each of five seconds, and fewer than a whole slice
    // (30 s, which would have gone by itself).
    let seconds = engaged[0]["seconds"].as_u64().unwrap_or_default();
    assert!(
        seconds % 5 == 0 && (5..30).contains(&seconds),
        "{engaged:?}"
    );
    client.clone().close().await.unwrap();
}

/// Serves `page` to every request on a port of its own, as a shop on another origin would,
/// with a nonce-based Content-Security-Policy.
#[tokio::test]
async fn a_shop_on_another_origin_with_a_nonce_and_strict_dynamic_policy_runs_the_widget() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let shop = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let sites = json!({ "demo": { "origins": [shop] } }).to_string();
    // The page pins a visitor the welcome experiment shows its bar to (a random one may be in
    // its control group).
    let visitor = "visitor-origin-02";
    let edge = Edge::start_with(&[("SITES", &sites)]);
    // The one tag, with the page's nonce; `'strict-dynamic'` lets what it loads run, and
    // nothing else is allowed: no inline script or style without the nonce, no eval.
    let nonce = "r4pp0rt-n0nce-2026";
    let policy = format!(
        "default-src 'self'; script-src 'nonce-{nonce}' 'strict-dynamic' 'wasm-unsafe-eval'; \
         style-src 'self'; connect-src {edge}; base-uri 'none'",
        edge = edge.base
    );
    let page = format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Another shop</title>
<script nonce="{nonce}">localStorage.setItem('rapport:vid', '{visitor}');
window.violations = [];
document.addEventListener('securitypolicyviolation', function (e) {{
  window.violations.push(e.violatedDirective + ' ' + e.blockedURI); }});</script>
<script nonce="{nonce}" src="{edge}/rapport.js" data-site="demo" async></script>
</head><body data-rapport-page="home"><h1>Another shop</h1></body></html>"#,
        edge = edge.base
    );
    rapport_e2e::serve_page(listener, page, policy);

    let browser = Browser::start().await;
    let client = &browser.client;
    client.goto(&shop).await.unwrap();
    browser.wait_for_prompt("welcome-offer", WAIT).await;
    // It recorded across origins (CORS), and broke no rule of the page's policy.
    let export = eventually(WAIT, || {
        let export = edge.export(visitor);
        (count(&export, "impression") == 1).then_some(export)
    })
    .await
    .expect("the impression arrives from the other origin");
    assert_eq!(count(&export, "page_view"), 1);
    let violations = client
        .execute("return window.violations;", vec![])
        .await
        .unwrap();
    assert_eq!(violations, json!([]));
    client.clone().close().await.unwrap();
}

/// A tag without `data-site` says so on the console and does nothing more: no page view,
/// no capture, the page's `window.rapport` left as it was.
#[tokio::test]
async fn a_tag_without_a_site_says_so_and_captures_nothing() {
    let edge = Edge::shared();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let shop = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let page = format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>No site</title>
<script>{KEEP_WARNINGS}</script>
<script src="{edge}/rapport.js" async></script></head>
<body data-rapport-page="product"><button data-rapport-add-to-cart="mug">Add</button></body></html>"#,
        edge = edge.base
    );
    rapport_e2e::serve_page(
        listener,
        page,
        "default-src * 'unsafe-inline' 'wasm-unsafe-eval'".into(),
    );
    let browser = Browser::start().await;
    let client = &browser.client;
    client.goto(&shop).await.unwrap();
    let warned = poll(WAIT, || async {
        Some(browser.warnings().await).filter(|w| !w.is_empty())
    })
    .await;
    assert_eq!(
        warned,
        Some(vec![
            "rapport: the script tag needs a data-site attribute".to_owned()
        ])
    );
    // The widget had its chance to start; a click on a cart button now queues nothing.
    let queued = client
        .execute(
            "document.querySelector('button').click(); return window.rapport;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(queued, json!([]));
    client.clone().close().await.unwrap();
}

/// Shift+Tab from the page until focus is on `experience`'s close button (prompts are the
/// last things on the page, so backwards from the top reaches them first). Other prompts
/// the page shows at the same time may come first.
async fn tab_back_to_close(browser: &Browser, experience: &str) {
    for _ in 0..6 {
        press(browser, &[Key::Tab], true).await;
        if browser.focused_in_prompt().await == json!([experience, "rp-close"]) {
            return;
        }
    }
    panic!("Shift+Tab never reached {experience}'s close button");
}

#[tokio::test]
async fn a_slide_in_and_a_toast_are_reached_and_closed_from_the_keyboard() {
    let edge = Edge::shared();
    let browser = Browser::start().await;
    let client = &browser.client;

    // A slide-in does not take focus from the page; the keyboard reaches its controls, and
    // Enter on the close button closes it.
    client
        .goto(&edge.preview_url("referral-slide"))
        .await
        .unwrap();
    browser.wait_for_prompt("referral-slide", WAIT).await;
    assert_eq!(
        browser.focused_in_prompt().await[1],
        Value::Null,
        "focus stays on the page"
    );
    tab_back_to_close(&browser, "referral-slide").await;
    press(&browser, &[Key::Tab], true).await;
    assert_eq!(
        browser.focused_in_prompt().await,
        json!(["referral-slide", "rp-cta"])
    );
    press(&browser, &[Key::Tab], false).await;
    press(&browser, &[Key::Enter], false).await;
    assert!(browser.visible_prompt("referral-slide").await.is_none());

    // A toast leaves by itself after 8 seconds, but not while the shopper is in it; Escape
    // closes it.
    client
        .goto(&edge.preview_url("frustration-toast"))
        .await
        .unwrap();
    browser.wait_for_prompt("frustration-toast", WAIT).await;
    tab_back_to_close(&browser, "frustration-toast").await;
    tokio::time::sleep(Duration::from_secs(9)).await;
    assert!(browser.visible_prompt("frustration-toast").await.is_some());
    press(&browser, &[Key::Escape], false).await;
    assert!(browser.visible_prompt("frustration-toast").await.is_none());
    client.clone().close().await.unwrap();
}
