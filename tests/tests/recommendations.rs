//! Recommendations learnt from what shoppers do, against the worker running in workerd: the
//! catalogue learns from product views within seconds, a product page's row shows what was
//! viewed with it and why, the shop's server feeds products and stock, and a click on a card
//! says which product, where and by which strategy.

use std::time::Duration;

use rapport_e2e::{eventually, poll, Browser, Edge};
use serde_json::{json, Value};

/// This file's edge: its catalogue in three shards, so that every row is filled from
/// several objects' offers (the demo's catalogue is one).
fn sharded() -> &'static Edge {
    static EDGE: std::sync::OnceLock<Edge> = std::sync::OnceLock::new();
    EDGE.get_or_init(|| Edge::start_with(&[("CATALOGUE_SHARDS", "3")]))
}

/// A product as the demo's pages describe it.
fn product(id: &str) -> Value {
    let (name, category, price) = match id {
        "linen-shirt" => ("Linen Shirt", "shirts", 59.0),
        "canvas-tote" => ("Waxed Canvas Tote", "bags", 45.0),
        "merino-throw" => ("Merino Wool Throw", "home", 89.0),
        _ => ("Stoneware Mug", "home", 18.0),
    };
    json!({ "id": id, "name": name, "category": category, "price": price, "currency": "EUR",
            "url": format!("/products/{id}"), "image": format!("/images/{id}.svg") })
}

fn view(visitor: &str, session: &str, n: usize, id: &str) -> Value {
    json!({ "id": format!("evt-{visitor}-{n:03}-{id}"), "session_id": session,
            "type": "product_view", "product": product(id) })
}

fn product_page(visitor: &str, id: &str) -> String {
    json!({ "site": "demo", "visitor_id": visitor, "session_id": format!("session-{visitor}"),
            "page": { "url": format!("http://shop/products/{id}"), "path": format!("/products/{id}"),
                      "kind": "product", "locale": "en" },
            "events": [view(visitor, &format!("session-{visitor}"), 900, id)] })
    .to_string()
}

/// Sessions that view the shirt and then the tote, and some that view the throw and the
/// mug: what the catalogue learns from. One shopper's sessions, so that they reach the
/// catalogue together; waits until they have.
async fn teach(edge: &Edge) {
    let visitor = "visitor-recs-teacher";
    let mut events = Vec::new();
    for n in 0..6 {
        let session = format!("session-recs-teach-{n}");
        let (first, second) = if n < 4 {
            ("linen-shirt", "canvas-tote")
        } else {
            ("merino-throw", "stoneware-mug")
        };
        events.push(view(visitor, &session, 2 * n, first));
        events.push(view(visitor, &session, 2 * n + 1, second));
    }
    let body = json!({ "site": "demo", "visitor_id": visitor, "events": events });
    let (status, answer) = edge.post("/v1/events", &body.to_string());
    assert_eq!(status, 200, "{answer}");
    let learnt = eventually(Duration::from_secs(15), || {
        let (status, catalogue) = edge.server(
            "GET",
            "/v1/server/products",
            Some(&edge.demo_server_key),
            "",
        );
        assert_eq!(status, 200, "{catalogue}");
        (catalogue["products"].as_u64() >= Some(4)).then_some(catalogue)
    })
    .await;
    assert!(
        learnt.is_some(),
        "the catalogue learnt the four products within 15 s"
    );
}

/// The row under a product page for `visitor`, or `None` for a visitor in the arm that sees
/// none (the decision names its control group instead).
fn row(edge: &Edge, visitor: &str, id: &str) -> Option<Value> {
    let (status, decision) = edge.post("/v1/decide", &product_page(visitor, id));
    assert_eq!(status, 200, "{decision}");
    let shown = decision["experiences"]
        .as_array()
        .and_then(|all| all.iter().find(|e| e["experience"] == "you-may-also-like"))
        .cloned();
    let control = decision["controls"]
        .as_array()
        .is_some_and(|all| all.iter().any(|c| c["rule"] == "also-like"));
    assert!(
        shown.is_some() != control,
        "one arm or the other: {decision}"
    );
    shown
}

/// A visitor id in the arm that sees the row.
fn in_the_row(edge: &Edge, prefix: &str) -> String {
    (0..40)
        .map(|n| format!("visitor-recs-{prefix}-{n}"))
        .find(|visitor| row(edge, visitor, "merino-throw").is_some())
        .expect("half the shoppers are in the arm with the row")
}

#[tokio::test]
async fn a_product_page_recommends_what_shoppers_viewed_with_it_and_says_why() {
    let edge = sharded();
    teach(edge).await;

    let mut arms = (0, 0);
    for n in 0..20 {
        let visitor = format!("visitor-recs-arm-{n}");
        match row(edge, &visitor, "linen-shirt") {
            None => arms.1 += 1,
            Some(row) => {
                arms.0 += 1;
                let products = row["content"]["products"]
                    .as_array()
                    .expect("cards")
                    .clone();
                assert_eq!(row["strategy"], "similar_to", "{row}");
                assert_eq!(products[0]["id"], "canvas-tote", "{row}");
                assert_eq!(products[0]["reason"], "viewed with Linen Shirt", "{row}");
                assert_eq!(products[0]["image"], "/images/canvas-tote.svg");
                assert_eq!(products[0]["url"], "/products/canvas-tote");
                assert!(
                    products.iter().all(|p| p["id"] != "linen-shirt"),
                    "never the product on screen: {row}"
                );
                // Full, what is left coming from the fallback if nothing else was viewed
                // with the shirt, and each saying why.
                assert_eq!(products.len(), 3, "{row}");
                assert!(
                    products.iter().all(|p| {
                        let why = p["reason"].as_str().unwrap_or_default();
                        why == "viewed with Linen Shirt" || why == "popular this week"
                    }),
                    "{row}"
                );
                assert!(
                    row.get("fill").is_none(),
                    "the slot request stays at the edge"
                );
            }
        }
    }
    assert!(arms.0 > 0 && arms.1 > 0, "both arms: {arms:?}");
}

#[tokio::test]
async fn the_server_feeds_products_and_stock_and_a_sold_out_product_leaves_the_row() {
    let edge = sharded();
    teach(edge).await;
    let key = &edge.demo_server_key;
    let visitor = in_the_row(edge, "stock");

    let renamed = json!({ "products": [
        { "id": "stoneware-mug", "name": "Stoneware Mug (sage)", "category": "home", "price": 21.0,
          "currency": "EUR", "url": "/products/stoneware-mug", "image": "/images/stoneware-mug.svg" },
        { "id": "bad-link", "name": "Bad", "category": "bags", "price": 1.0, "currency": "EUR",
          "url": "javascript:alert(1)" },
        { "id": "no-price", "name": "Free?", "category": "bags", "currency": "EUR", "url": "/x" }
    ] });
    let (status, fed) = edge.server(
        "POST",
        "/v1/server/products",
        Some(key),
        &renamed.to_string(),
    );
    assert_eq!(status, 200, "{fed}");
    assert_eq!(fed["accepted"], json!(["stoneware-mug"]), "{fed}");
    let refused: Vec<&str> = fed["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["field"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(refused, ["products[1].url", "products[2].price"], "{fed}");
    let first = row(edge, &visitor, "merino-throw").expect("in the arm with the row");
    assert_eq!(
        first["content"]["products"][0]["name"], "Stoneware Mug (sage)",
        "the server's version wins"
    );
    assert_eq!(first["content"]["products"][0]["price"], 21.0);

    let sold_out = json!({ "stock": [{ "id": "stoneware-mug", "available": false },
                                     { "id": "never-heard-of", "available": false }] });
    let (status, fed) = edge.server(
        "POST",
        "/v1/server/products",
        Some(key),
        &sold_out.to_string(),
    );
    assert_eq!(status, 200, "{fed}");
    assert_eq!(fed["rejected"][0]["field"], "stock[1].id", "{fed}");
    let after = row(edge, &visitor, "merino-throw").expect("still a row");
    assert!(
        after["content"]["products"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["id"] != "stoneware-mug"),
        "a sold-out product is never recommended: {after}"
    );
    let back = json!({ "stock": [{ "id": "stoneware-mug", "available": true }] });
    let (status, _) = edge.server("POST", "/v1/server/products", Some(key), &back.to_string());
    assert_eq!(status, 200);

    let (status, nothing) = edge.server(
        "POST",
        "/v1/server/products",
        Some(key),
        r#"{"products": [{"id": ""}]}"#,
    );
    assert_eq!(status, 400, "nothing valid: {nothing}");
    assert_eq!(nothing["error"]["field"], "products[0].name", "{nothing}");
    let (status, _) = edge.server("POST", "/v1/server/products", None, &renamed.to_string());
    assert_eq!(status, 401, "a server key is needed");
}

#[tokio::test]
async fn the_row_draws_cards_that_keep_their_size_and_a_click_says_which_product_where_and_why() {
    let edge = sharded();
    teach(edge).await;
    let visitor = in_the_row(edge, "browser");
    let browser = Browser::start().await;
    browser.pin_visitor(edge, &visitor).await;
    browser
        .client
        .goto(&edge.url("/products/linen-shirt"))
        .await
        .unwrap();
    const CARDS: &str = r#"
        const slot = document.querySelector('[data-rapport-slot="also-like"]');
        const host = slot && slot.querySelector('[data-rapport-filled="you-may-also-like"]');
        if (!host || !host.shadowRoot) return null;
        return [...host.shadowRoot.querySelectorAll('.rp-products li')].map(li => {
            const img = li.querySelector('img'), a = li.querySelector('a');
            return { name: a && a.textContent, href: a && a.getAttribute('href'),
                     width: img && img.getAttribute('width'), height: img && img.getAttribute('height') };
        });
    "#;
    let cards = poll(Duration::from_secs(15), || async {
        let value = browser.client.execute(CARDS, vec![]).await.unwrap();
        value.as_array().filter(|cards| !cards.is_empty()).cloned()
    })
    .await
    .expect("the row is drawn in the slot the page reserved");
    assert_eq!(cards[0]["href"], "/products/canvas-tote", "{cards:?}");
    assert_eq!(cards[0]["name"], "Waxed Canvas Tote", "{cards:?}");
    assert_eq!(
        (&cards[0]["width"], &cards[0]["height"]),
        (&json!("96"), &json!("96")),
        "sized before the picture loads, so nothing moves"
    );

    // A link, so keyboards reach it; following it is what a click on it records.
    const FOLLOW: &str = r#"
        const host = document.querySelector('[data-rapport-filled="you-may-also-like"]');
        const a = host.shadowRoot.querySelector('.rp-products a');
        a.focus();
        const took = host.shadowRoot.activeElement === a;
        a.click();
        return took;
    "#;
    let focused = browser.client.execute(FOLLOW, vec![]).await.unwrap();
    assert_eq!(focused, json!(true), "the card's link takes keyboard focus");
    let export = edge.wait_for_events(&visitor, "click", 1).await;
    let click = rapport_e2e::events(&export, "click").pop().unwrap();
    assert_eq!(click["rule"], "also-like", "{click}");
    assert_eq!(click["product"], "canvas-tote", "{click}");
    assert_eq!(click["position"], 1, "{click}");
    assert_eq!(click["strategy"], "similar_to", "{click}");
}

#[tokio::test]
async fn the_consoles_simulation_fills_a_learnt_row_from_the_sites_catalogue_with_each_reason() {
    let edge = sharded();
    teach(edge).await;
    let rules = r#"rule("also-like", #{ page: "product", show: #{ kind: "recommendations",
        slot: "also-like", products: |v| similar_to(v, 2).pin("merino-throw"),
        content: #{ en: #{ title: "You may also like", body: "Viewed together" } } } });"#;
    let visitor = json!({ "visitor_id": "visitor-recs-simulated", "session_id": "s-1",
        "recent_products": [{ "product": product("linen-shirt") }] });
    let page = json!({ "url": "https://shop.example/products/linen-shirt",
                       "path": "/products/linen-shirt", "kind": "product" });
    let body = |site: Option<&str>| {
        let mut body =
            json!({ "files": { "rules.rhai": rules }, "visitor": visitor, "page": page });
        if let Some(site) = site {
            body["site"] = json!(site);
        }
        body.to_string()
    };
    let (status, report) = edge.post_admin("/v1/admin/simulate", &body(Some("demo")));
    assert_eq!(status, 200, "{report}");
    let products = &report["experiences"][0]["content"]["products"];
    let shown: Vec<(&str, &str)> = products
        .as_array()
        .expect("the row is filled")
        .iter()
        .map(|p| (p["id"].as_str().unwrap(), p["reason"].as_str().unwrap()))
        .collect();
    assert_eq!(
        shown,
        [
            ("merino-throw", "pinned"),
            ("canvas-tote", "viewed with Linen Shirt")
        ],
        "{report}"
    );
    // The trace says it too, for the console's table.
    let line = report["trace"]
        .as_array()
        .unwrap()
        .iter()
        .find(|line| line["rule"] == "also-like")
        .unwrap();
    assert!(
        line["reason"].as_str().unwrap().ends_with(
            "similar_to: Merino Wool Throw (pinned), Waxed Canvas Tote (viewed with Linen Shirt)"
        ),
        "{line}"
    );
    // Without a site there is no catalogue to ask: the row is a request, not products.
    let (status, report) = edge.post_admin("/v1/admin/simulate", &body(None));
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["experiences"][0]["strategy"], "similar_to");
    assert!(
        report["experiences"][0]["content"]
            .get("products")
            .is_none(),
        "{report}"
    );
    let (status, refused) = edge.post_admin("/v1/admin/simulate", &body(Some("nowhere")));
    assert_eq!(status, 403, "{refused}");
    assert_eq!(refused["error"]["field"], "site", "{refused}");
}

#[tokio::test]
async fn orders_the_server_reports_teach_what_is_bought_together_for_the_cart() {
    let edge = sharded();
    teach(edge).await;
    let key = &edge.demo_server_key;
    let orders: Vec<Value> = (0..3)
        .map(|n| {
            json!({ "id": format!("srv-recs-order-{n}"), "customer_id": format!("C-recs-{n}"),
                    "type": "purchase", "order_id": format!("recs-{n}"), "value": 148.0,
                    "items": ["linen-shirt", "merino-throw"] })
        })
        .collect();
    let (status, answer) = edge.server(
        "POST",
        "/v1/server/events",
        Some(key),
        &json!({ "events": orders }).to_string(),
    );
    assert_eq!(status, 200, "{answer}");
    let (status, bad) = edge.server(
        "POST",
        "/v1/server/events",
        Some(key),
        &json!({ "events": [{ "id": "srv-recs-bad", "customer_id": "C-recs-9", "type": "purchase",
                              "order_id": "x", "value": 1.0, "items": ["ok", ""] }] })
        .to_string(),
    );
    assert_eq!(status, 400, "{bad}");
    assert_eq!(bad["rejected"][0]["field"], "events[0].items[1]", "{bad}");

    // A shopper with the shirt in the cart, on the cart page.
    let visitor = "visitor-recs-cart";
    let session = "session-recs-cart";
    let add = json!({ "id": "evt-recs-cart-add", "session_id": session, "type": "add_to_cart",
                      "product": product("linen-shirt"), "quantity": 1 });
    let body = json!({ "site": "demo", "visitor_id": visitor, "session_id": session,
        "page": { "url": "http://shop/cart", "path": "/cart", "kind": "cart", "locale": "en" },
        "events": [add] });
    let (status, decision) = edge.post("/v1/decide", &body.to_string());
    assert_eq!(status, 200, "{decision}");
    let row = decision["experiences"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["experience"] == "complete-the-look")
        .cloned()
        .unwrap_or_else(|| panic!("the cart's row: {decision}"));
    let first = &row["content"]["products"][0];
    assert_eq!(first["id"], "merino-throw", "{row}");
    assert_eq!(first["reason"], "bought with Linen Shirt", "{row}");
    assert!(
        row["content"]["products"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["id"] != "linen-shirt"),
        "never what is in the cart: {row}"
    );
}

#[tokio::test]
async fn for_you_recommends_what_sessions_like_the_shoppers_went_on_to() {
    let edge = sharded();
    teach(edge).await;
    // A shopper whose session so far is the throw: two taught sessions went on from it to
    // the mug. The sessions are kept by one shard of three, which says why.
    let rules = r#"rule("for-you", #{ page: "product", show: #{ kind: "recommendations",
        slot: "for-you", products: |v| for_you(v, 2),
        content: #{ en: #{ title: "For you", body: "Picked from this visit" } } } });"#;
    let visitor = json!({ "visitor_id": "visitor-recs-for-you", "session_id": "s-1",
        "recent_products": [{ "product": product("merino-throw") }] });
    let page = json!({ "url": "https://shop.example/products/merino-throw",
                       "path": "/products/merino-throw", "kind": "product" });
    let body = json!({ "site": "demo", "files": { "rules.rhai": rules }, "visitor": visitor,
                       "page": page });
    let (status, report) = edge.post_admin("/v1/admin/simulate", &body.to_string());
    assert_eq!(status, 200, "{report}");
    let first = &report["experiences"][0]["content"]["products"][0];
    assert_eq!(first["id"], "stoneware-mug", "{report}");
    assert_eq!(
        first["reason"], "viewed in sessions like this one",
        "{report}"
    );
    assert!(
        report["experiences"][0]["content"]["products"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["id"] != "merino-throw"),
        "never the product on screen: {report}"
    );
}
