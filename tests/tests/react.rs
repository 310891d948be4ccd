//! A React single-page shop (`tests/react-shop`: React 19, React Router, StrictMode),
//! integrated from the README alone, in its development and production builds, served on an
//! origin of its own under the README's Content-Security-Policy for an edge on another
//! origin, in real Chromium against the edge in workerd.

use std::sync::OnceLock;
use std::time::Duration;

use rapport_e2e::{events, poll, Browser, Edge};
use serde_json::{json, Value};

/// How long a prompt may take to reach the screen: on a two-core machine running two
/// browsers and two edges at once, 15 s ran out once (tests that pass alone in a minute).
const WAIT: Duration = Duration::from_secs(30);
/// First visits to each page, in each build.
const VISITS: usize = 20;

/// The shop in one of its builds, with an edge that lets its origin in.
struct ReactShop {
    edge: Edge,
    url: String,
}

fn shop(mode: &'static str) -> &'static ReactShop {
    static DEVELOPMENT: OnceLock<ReactShop> = OnceLock::new();
    static PRODUCTION: OnceLock<ReactShop> = OnceLock::new();
    let cell = if mode == "development" {
        &DEVELOPMENT
    } else {
        &PRODUCTION
    };
    cell.get_or_init(|| {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let sites = json!({ "demo": { "origins": [url] } }).to_string();
        let edge = Edge::start_with(&[("SITES", &sites)]);
        let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("react-shop");
        let index = std::fs::read_to_string(source.join("index.html"))
            .unwrap()
            .replace("{{EDGE}}", &edge.base);
        let bundle = rapport_e2e::react_shop_dir().join(mode).join("app.js");
        let app = std::fs::read(&bundle)
            .unwrap_or_else(|e| panic!("{}: {e} (`cargo xtask test` builds it)", bundle.display()));
        let catalogue = std::fs::read(source.join("catalogue.json")).unwrap();
        // The README's policy for a shop whose edge is on another origin.
        let policy = format!(
            "default-src 'self'; script-src 'self' {edge} 'wasm-unsafe-eval'; \
             connect-src 'self' {edge}; style-src 'self'; base-uri 'none'",
            edge = edge.base
        );
        rapport_e2e::serve_app(
            listener,
            index,
            vec![
                ("/app.js", "text/javascript", app),
                ("/catalogue.json", "application/json", catalogue),
                (
                    "/blank.html",
                    "text/html",
                    b"<!doctype html><title>blank</title>".to_vec(),
                ),
            ],
            policy,
        );
        ReactShop { edge, url }
    })
}

/// Keeps the edge's answers to `/v1/decide` in `window.decisions`, and the page's policy
/// violations in `window.violations`, on every page.
async fn watching(browser: &Browser) {
    browser
        .before_every_page(
            "window.decisions = []; window.violations = [];
             document.addEventListener('securitypolicyviolation', (e) => {
                 window.violations.push(e.violatedDirective + ' ' + e.blockedURI); });
             const post = window.fetch;
             window.fetch = function (url, init) {
                 const answer = post.apply(this, arguments);
                 if (String(url).endsWith('/v1/decide'))
                     answer.then((r) => r.clone().json()).then((d) => window.decisions.push(d));
                 return answer;
             };",
        )
        .await;
}

/// Makes the next page a first visit: nothing of Rapport's (or the shop's) in its storage,
/// or `visitor` as the id the widget will find.
async fn first_visit(browser: &Browser, shop: &ReactShop, visitor: Option<&str>) {
    browser
        .client
        .goto(&format!("{}/blank.html", shop.url))
        .await
        .unwrap();
    browser
        .client
        .execute(
            "localStorage.clear(); sessionStorage.clear();
             if (arguments[0]) localStorage.setItem('rapport:vid', arguments[0]);",
            vec![json!(visitor)],
        )
        .await
        .unwrap();
}

/// Whether `experience` is on screen: a floating prompt, or inline content filling its slot.
async fn on_screen(browser: &Browser, experience: &str) -> bool {
    if browser.visible_prompt(experience).await.is_some() {
        return true;
    }
    let filled = browser
        .client
        .execute(
            "const host = document.querySelector('[data-rapport-filled=\"' + arguments[0] + '\"]');
             return !!(host && host.shadowRoot && host.shadowRoot.textContent.length > 0);",
            vec![json!(experience)],
        )
        .await
        .unwrap();
    filled == json!(true)
}

/// The page's first decision, once the widget has had it.
async fn the_decision(browser: &Browser) -> Value {
    browser.wait_for_decision().await;
    poll(WAIT, || async {
        let decisions = browser
            .client
            .execute("return window.decisions;", vec![])
            .await
            .unwrap();
        decisions.get(0).cloned()
    })
    .await
    .expect("a decision was read")
}

/// What first visits to `path` in the `mode` build found: for each, the page views the edge
/// recorded, the products viewed, and which of the decision's prompts reached the screen.
async fn first_visits(mode: &'static str, path: &str, kind: &str, product: Option<&str>) {
    let shop = shop(mode);
    let browser = Browser::start().await;
    watching(&browser).await;
    let (mut prompts, mut shown) = (0, 0);
    for visit in 0..VISITS {
        first_visit(&browser, shop, None).await;
        browser
            .client
            .goto(&format!("{}{path}", shop.url))
            .await
            .unwrap();
        let decision = the_decision(&browser).await;
        let visitor = browser.visitor_id().await;
        // Every prompt the decision shows at once reaches the screen.
        for experience in decision["experiences"].as_array().unwrap() {
            if experience["trigger"]["type"] != "immediately" {
                continue;
            }
            prompts += 1;
            let id = experience["experience"].as_str().unwrap();
            let drawn = poll(WAIT, || async {
                on_screen(&browser, id).await.then_some(())
            })
            .await;
            assert!(
                drawn.is_some(),
                "{mode} visit {visit}: {id} never showed: {decision}"
            );
            shown += 1;
        }
        let export = match product {
            Some(_) => shop.edge.wait_for_events(&visitor, "product_view", 1).await,
            None => shop.edge.wait_for_events(&visitor, "page_view", 1).await,
        };
        let pages = events(&export, "page_view");
        assert_eq!(pages.len(), 1, "{mode} visit {visit}: {pages:?}");
        assert_eq!(pages[0]["page"]["kind"], kind, "{mode} visit {visit}");
        assert_eq!(pages[0]["page"]["path"], path, "{mode} visit {visit}");
        if let Some(product) = product {
            let viewed = events(&export, "product_view");
            assert_eq!(viewed.len(), 1, "{mode} visit {visit}: {viewed:?}");
            assert_eq!(viewed[0]["product"]["id"], product);
        }
        let violations = browser
            .client
            .execute("return window.violations;", vec![])
            .await
            .unwrap();
        assert_eq!(violations, json!([]), "{mode} visit {visit}");
    }
    eprintln!(
        "{mode} {path}: {VISITS} of {VISITS} first visits recorded as {kind}; \
         {shown} of {prompts} prompts the decisions showed at once reached the screen"
    );
    browser.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn first_visits_to_the_home_page_of_the_production_build() {
    first_visits("production", "/", "home", None).await;
}

#[tokio::test]
async fn first_visits_to_the_home_page_of_the_development_build() {
    first_visits("development", "/", "home", None).await;
}

/// Landing straight on a sold-out product: its product view is recorded before the decision,
/// so the back-in-stock alert fills its slot every time.
#[tokio::test]
async fn first_visits_to_a_sold_out_product_of_the_production_build() {
    first_visits(
        "production",
        "/products/tide-lantern",
        "product",
        Some("tide-lantern"),
    )
    .await;
}

#[tokio::test]
async fn first_visits_to_a_sold_out_product_of_the_development_build() {
    first_visits(
        "development",
        "/products/tide-lantern",
        "product",
        Some("tide-lantern"),
    )
    .await;
}

/// A visitor the welcome experiment shows its offer to.
const OFFERED: &str = "visitor-origin-02";

/// StrictMode runs the shop's subscribing effect twice in development (subscribe, clean up,
/// subscribe): the shop's handler hears the impression once. Its prompt link goes through the
/// router: the page stays (no reload), and the click is recorded.
#[tokio::test]
async fn an_effects_subscription_hears_once_and_a_prompt_link_goes_through_the_router() {
    let shop = shop("development");
    let browser = Browser::start().await;
    watching(&browser).await;
    first_visit(&browser, shop, Some(OFFERED)).await;
    browser.client.goto(&shop.url).await.unwrap();
    browser.wait_for_prompt("welcome-offer", WAIT).await;
    let heard = poll(WAIT, || async {
        let heard = browser
            .client
            .execute("return window.heard || [];", vec![])
            .await
            .unwrap();
        (heard != json!([])).then_some(heard)
    })
    .await
    .unwrap_or_default();
    assert_eq!(heard, json!([["impression", "welcome-offer"]]));

    browser
        .client
        .execute("window.stayed = true;", vec![])
        .await
        .unwrap();
    browser
        .in_prompt("welcome-offer", "card.querySelector('.rp-cta').click();")
        .await;
    let export = shop.edge.wait_for_events(OFFERED, "click", 1).await;
    assert_eq!(events(&export, "click")[0]["experience"], "welcome-offer");
    let (url, stayed, heard) = {
        let state = browser
            .client
            .execute(
                "return [location.pathname + location.hash, window.stayed === true, window.heard];",
                vec![],
            )
            .await
            .unwrap();
        (state[0].clone(), state[1].clone(), state[2].clone())
    };
    assert_eq!(url, "/#new", "the router took the link");
    assert_eq!(stayed, true, "no page load");
    assert_eq!(
        heard,
        json!([["impression", "welcome-offer"], ["click", "welcome-offer"]])
    );
    browser.client.clone().close().await.unwrap();
}

/// The shop's buttons carry the data attributes and call `track` in `onClick`: one click is
/// one add to cart.
#[tokio::test]
async fn a_cart_button_with_data_attributes_and_track_in_on_click_adds_once() {
    let shop = shop("production");
    let browser = Browser::start().await;
    watching(&browser).await;
    first_visit(&browser, shop, None).await;
    browser
        .client
        .goto(&format!("{}/products/harbour-jumper", shop.url))
        .await
        .unwrap();
    browser.wait_for_decision().await;
    let visitor = browser.visitor_id().await;
    browser
        .client
        .execute(
            "document.querySelector('[data-rapport-add-to-cart]').click();",
            vec![],
        )
        .await
        .unwrap();
    // The add to cart asks for a decision; a search after it shows that everything sent
    // before it has arrived.
    browser.wait_for_answers("/v1/decide", 2).await;
    browser
        .client
        .execute(
            "window.rapport.push(['track', 'search', { query: 'signal', results: 1 }]);",
            vec![],
        )
        .await
        .unwrap();
    let export = shop.edge.wait_for_events(&visitor, "search", 1).await;
    let added = events(&export, "add_to_cart");
    assert_eq!(added.len(), 1, "{added:?}");
    assert_eq!(added[0]["product"]["id"], "harbour-jumper");
    browser.client.clone().close().await.unwrap();
}
