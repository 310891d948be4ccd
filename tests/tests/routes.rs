//! Single-page apps: the widget records each client-side route once the app has rendered it
//! (its kind, language and product), whichever way the router works, in real Chromium against
//! the edge in workerd.

use std::time::Duration;

use rapport_e2e::{events, Browser, Edge};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(15);

/// The JSON-LD of the Alpina Jacket, added to the page.
macro_rules! product_json_ld {
    () => {
        "
    const ld = document.createElement('script');
    ld.type = 'application/ld+json';
    ld.textContent = JSON.stringify({ '@context': 'https://schema.org', '@type': 'Product',
        sku: 'alpina', name: 'Alpina Jacket',
        offers: { '@type': 'Offer', price: '189', priceCurrency: 'EUR' } });
    document.head.appendChild(ld);"
    };
}

/// What an app's router does for a product page: the kind, and the product's JSON-LD.
const RENDER_PRODUCT: &str = concat!(
    "document.body.dataset.rapportPage = 'product';",
    product_json_ld!()
);

/// A browser on the demo's home page, the widget's first decision in, and its visitor.
async fn on_the_home_page(edge: &Edge) -> (Browser, String) {
    let browser = Browser::start().await;
    browser.client.goto(&edge.url("/")).await.unwrap();
    browser.wait_for_decision().await;
    let visitor = browser.visitor_id().await;
    edge.wait_for_events(&visitor, "page_view", 1).await;
    (browser, visitor)
}

async fn run(browser: &Browser, script: &str) {
    browser.client.execute(script, vec![]).await.unwrap();
}

/// Waits for the second page view and the product view, and checks both are the product
/// page's.
async fn the_product_page_is_recorded(edge: &Edge, visitor: &str) -> Value {
    edge.wait_for_events(visitor, "page_view", 2).await;
    let export = edge.wait_for_events(visitor, "product_view", 1).await;
    let pages = events(&export, "page_view");
    assert_eq!(pages.len(), 2, "{pages:?}");
    assert_eq!(pages[1]["page"]["kind"], "product", "{pages:?}");
    let products = events(&export, "product_view");
    assert_eq!(products[0]["product"]["id"], "alpina", "{products:?}");
    assert_eq!(products[0]["product"]["price"], 189.0);
    pages[1].clone()
}

#[tokio::test]
async fn a_router_that_renders_after_the_url_changes_gets_the_new_pages_context() {
    let edge = Edge::shared();
    let (browser, visitor) = on_the_home_page(edge).await;
    run(
        &browser,
        &format!("history.pushState({{}}, '', '/p/alpina'); setTimeout(() => {{ {RENDER_PRODUCT} }}, 40);"),
    )
    .await;
    let page = the_product_page_is_recorded(edge, &visitor).await;
    assert_eq!(page["page"]["path"], "/p/alpina");
    browser.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn a_router_that_renders_before_the_url_changes_gets_the_new_pages_context() {
    let edge = Edge::shared();
    let (browser, visitor) = on_the_home_page(edge).await;
    run(
        &browser,
        &format!("{RENDER_PRODUCT} history.pushState({{}}, '', '/p/alpina');"),
    )
    .await;
    let page = the_product_page_is_recorded(edge, &visitor).await;
    assert_eq!(page["page"]["path"], "/p/alpina");
    browser.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn a_hash_router_gets_a_page_view_per_route_and_an_anchor_gets_none() {
    let edge = Edge::shared();
    let (browser, visitor) = on_the_home_page(edge).await;
    run(&browser, "location.hash = '#reviews';").await;
    run(
        &browser,
        &format!("location.hash = '#/p/alpina'; setTimeout(() => {{ {RENDER_PRODUCT} }}, 40);"),
    )
    .await;
    let page = the_product_page_is_recorded(edge, &visitor).await;
    let url = page["page"]["url"].as_str().unwrap();
    assert!(url.ends_with("#/p/alpina"), "{url}");
    browser.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn a_product_whose_json_ld_the_app_injects_later_is_still_seen() {
    let edge = Edge::shared();
    let (browser, visitor) = on_the_home_page(edge).await;
    // The page kind first; the product's data after the app has fetched it.
    run(
        &browser,
        &format!(
            "history.pushState({{}}, '', '/p/alpina'); document.body.dataset.rapportPage = 'product';
             setTimeout(() => {{ {RENDER_PRODUCT} }}, 250);"
        ),
    )
    .await;
    the_product_page_is_recorded(edge, &visitor).await;
    browser.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn only_the_last_of_quick_successive_routes_gets_a_page_view_and_a_decision() {
    let edge = Edge::shared();
    let (browser, visitor) = on_the_home_page(edge).await;
    run(
        &browser,
        &format!(
            "history.pushState({{}}, '', '/c/shirts'); document.body.dataset.rapportPage = 'category';
             setTimeout(() => {{ history.pushState({{}}, '', '/p/alpina'); {RENDER_PRODUCT} }}, 20);"
        ),
    )
    .await;
    the_product_page_is_recorded(edge, &visitor).await;
    // One more decision than on arrival, and no more: the category page got none.
    browser.wait_for_answers("/v1/decide", 2).await;
    // Past the 600 ms the widget waits at most for a route to render.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let decisions = browser
        .client
        .execute(
            "return performance.getEntriesByType('resource')
                 .filter((e) => e.name.endsWith('/v1/decide')).length;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(decisions, json!(2));
    let pages = events(&edge.export(&visitor), "page_view");
    assert!(
        pages.iter().all(|p| p["page"]["path"] != "/c/shirts"),
        "{pages:?}"
    );
    browser.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn what_the_previous_page_showed_goes_as_soon_as_the_route_changes() {
    let edge = Edge::shared();
    let browser = Browser::start().await;
    // A visitor the welcome experiment shows its offer to.
    browser.pin_visitor(edge, "visitor-routes-01").await;
    browser.client.goto(&edge.url("/")).await.unwrap();
    browser.wait_for_prompt("welcome-offer", WAIT).await;
    // The app has not rendered the new route yet, and will take its time.
    run(
        &browser,
        &format!("history.pushState({{}}, '', '/p/alpina'); setTimeout(() => {{ {RENDER_PRODUCT} }}, 300);"),
    )
    .await;
    assert!(browser.visible_prompt("welcome-offer").await.is_none());
    browser.client.clone().close().await.unwrap();
}

/// Serves `page` as a shop on another origin would (with a policy that allows everything),
/// and starts an edge whose demo site lets that origin in.
fn another_origin(page: impl FnOnce(&str) -> String) -> (Edge, String) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let shop = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let sites = json!({ "demo": { "origins": [shop] } }).to_string();
    let edge = Edge::start_with(&[("SITES", &sites)]);
    rapport_e2e::serve_page(
        listener,
        page(&edge.base),
        "default-src * 'unsafe-inline' 'wasm-unsafe-eval'".into(),
    );
    (edge, shop)
}

/// Tracks a search and waits until the edge has it: anything the widget had recorded before
/// has been delivered by then, so a test can say what was not.
async fn after_a_search(browser: &Browser, edge: &Edge, visitor: &str, n: usize) -> Value {
    run(
        browser,
        "window.rapport.push(['track', 'search', { query: 'signal', results: 1 }]);",
    )
    .await;
    edge.wait_for_events(visitor, "search", n).await
}

#[tokio::test]
async fn with_data_routes_manual_only_the_apps_own_page_commands_are_page_views() {
    let (edge, shop) = another_origin(|edge| {
        format!(
            r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>An app</title>
<script src="{edge}/rapport.js" data-site="demo" data-routes="manual" async></script>
</head><body data-rapport-page="home"><h1>An app</h1></body></html>"#
        )
    });
    let browser = Browser::start().await;
    browser.client.goto(&shop).await.unwrap();
    browser.wait_for_widget().await;
    let visitor = browser.visitor_id().await;
    // The first page waits for the app's first `page`, even one that looks ready.
    let export = after_a_search(&browser, &edge, &visitor, 1).await;
    assert_eq!(events(&export, "page_view"), Vec::<Value>::new());
    run(&browser, "window.rapport.push(['page']);").await;
    browser.wait_for_decision().await;
    let export = edge.wait_for_events(&visitor, "page_view", 1).await;
    assert_eq!(events(&export, "page_view")[0]["page"]["kind"], "home");
    // The router changes the URL: nothing, until the app says the page is ready.
    run(&browser, "history.pushState({}, '', '/p/alpina');").await;
    let export = after_a_search(&browser, &edge, &visitor, 2).await;
    assert_eq!(events(&export, "page_view").len(), 1);
    run(
        &browser,
        &format!("{RENDER_PRODUCT} window.rapport.push(['page']);"),
    )
    .await;
    the_product_page_is_recorded(&edge, &visitor).await;
    browser.client.clone().close().await.unwrap();
}

/// The first page of an app that renders after load: no page kind and no product in the
/// HTML, then the app's own elements carry them.
#[tokio::test]
async fn the_first_page_of_an_app_that_renders_after_load_is_recorded_once_it_has_rendered() {
    let (edge, shop) = another_origin(|edge| {
        format!(
            r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Loading</title>
<script src="{edge}/rapport.js" data-site="demo" async></script>
<script>setTimeout(function () {{
  document.title = 'Alpina Jacket';
  var main = document.createElement('main');
  main.dataset.rapportPage = 'product';
  document.body.appendChild(main);
  setTimeout(function () {{ {json_ld} }}, 150);
}}, 300);</script>
</head><body><div id="root"></div></body></html>"#,
            json_ld = product_json_ld!()
        )
    });
    let browser = Browser::start().await;
    browser.client.goto(&shop).await.unwrap();
    browser.wait_for_decision().await;
    let visitor = browser.visitor_id().await;
    let export = edge.wait_for_events(&visitor, "product_view", 1).await;
    let pages = events(&export, "page_view");
    assert_eq!(pages.len(), 1, "{pages:?}");
    assert_eq!(pages[0]["page"]["kind"], "product", "{pages:?}");
    assert_eq!(pages[0]["title"], "Alpina Jacket", "read when recorded");
    assert_eq!(
        events(&export, "product_view")[0]["product"]["id"],
        "alpina"
    );
    browser.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn a_checkout_step_the_app_renders_after_the_url_changes_is_recorded() {
    let edge = Edge::shared();
    let (browser, visitor) = on_the_home_page(edge).await;
    run(
        &browser,
        "history.pushState({}, '', '/checkout/payment');
         setTimeout(() => { document.body.dataset.rapportPage = 'checkout';
                            document.body.dataset.rapportCheckoutStep = 'payment'; }, 40);",
    )
    .await;
    let export = edge.wait_for_events(&visitor, "checkout_step", 1).await;
    assert_eq!(events(&export, "checkout_step")[0]["step"], "payment");
    let pages = events(&export, "page_view");
    assert_eq!(pages[1]["page"]["kind"], "checkout", "{pages:?}");
    browser.client.clone().close().await.unwrap();
}
