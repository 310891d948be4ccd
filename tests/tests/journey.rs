//! One shopper journey, end to end: home page, product page, add to cart, back home; the
//! widget sends what happened, the edge stores it and decides with the demo rulebook, and the
//! prompt the rulebook chose is on screen.

use std::collections::HashSet;
use std::time::Duration;

use fantoccini::Locator;
use rapport_e2e::{eventually, poll, Browser, Edge};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(15);

fn events_of<'a>(export: &'a Value, kind: &str) -> Vec<&'a Value> {
    export["events"]
        .as_array()
        .expect("an export lists events")
        .iter()
        .filter(|e| e["type"] == kind)
        .collect()
}

fn impressions_of(export: &Value, experience: &str) -> usize {
    events_of(export, "impression")
        .iter()
        .filter(|e| e["event"]["experience"] == experience)
        .count()
}

#[test]
fn the_shop_is_served_under_the_strict_policy_rapport_promises_to_work_under() {
    let edge = Edge::shared();
    // So every prompt in these tests shows without 'unsafe-inline' or 'unsafe-eval'.
    let home = ureq::get(&edge.url("/")).call().unwrap();
    let policy = home
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        policy.contains("script-src 'self' 'wasm-unsafe-eval'")
            && policy.contains("style-src 'self'"),
        "{policy}"
    );
    assert!(!policy.contains("unsafe-inline") && !policy.contains("'unsafe-eval'"));
}

#[tokio::test]
async fn shopper_journey_from_script_tag_to_prompt() {
    let edge = Edge::shared();
    let browser = Browser::start().await;
    let client = &browser.client;

    // The welcome is an A/B test; this visitor id is bucketed into its "offer" variant
    // (GrowthBook hash v2 with seed "welcome-2026": 0.3742).
    let visitor = "visitor-0001";
    browser.pin_visitor(edge, visitor).await;

    // A first-time visitor on the home page is welcomed.
    client.goto(&edge.url("/")).await.unwrap();
    let welcome = browser.wait_for_prompt("welcome-offer", WAIT).await;
    assert!(welcome.contains("Welcome to Tidewater"), "{welcome}");
    assert!(
        welcome.contains("Free shipping on your first order"),
        "{welcome}"
    );
    assert_eq!(
        browser.local_storage("rapport:vid").await.as_deref(),
        Some(visitor)
    );

    // The shopper opens a product and adds it to the cart.
    client
        .find(Locator::Css("a[href='/products/linen-shirt']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let add = client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css("[data-add-to-cart]"))
        .await
        .unwrap();
    add.click().await.unwrap();
    let added = eventually(WAIT, || {
        let export = edge.export(visitor);
        (!events_of(&export, "add_to_cart").is_empty()).then_some(())
    })
    .await;
    assert!(added.is_some(), "the add to cart never reached the edge");

    // Back on the home page, the cart reminder takes the bar's place.
    client
        .find(Locator::Css("a.brand"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let reminder = browser.wait_for_prompt("cart-reminder-bar", WAIT).await;
    assert!(reminder.contains("Your cart is waiting"), "{reminder}");
    assert!(reminder.contains("Go to cart"), "{reminder}");
    assert_eq!(browser.visible_prompt("welcome-offer").await, None);
    // The exit-intent coupon is armed, not shown: the shopper has not tried to leave.
    assert_eq!(browser.visible_prompt("cart-exit-coupon").await, None);

    // The edge stored the journey and both impressions, each event once.
    let export = eventually(WAIT, || {
        let export = edge.export(visitor);
        (impressions_of(&export, "cart-reminder-bar") > 0).then_some(export)
    })
    .await
    .expect("the cart reminder's impression reached the edge");
    assert_eq!(events_of(&export, "page_view").len(), 3, "{export:#}");
    assert_eq!(events_of(&export, "product_view").len(), 1, "{export:#}");
    assert_eq!(events_of(&export, "add_to_cart").len(), 1, "{export:#}");
    assert_eq!(impressions_of(&export, "welcome-offer"), 1, "{export:#}");
    assert_eq!(impressions_of(&export, "cart-exit-coupon"), 0, "{export:#}");
    assert_eq!(
        impressions_of(&export, "cart-reminder-bar"),
        1,
        "{export:#}"
    );
    let product_view = events_of(&export, "product_view")[0];
    assert_eq!(product_view["event"]["product"]["id"], "linen-shirt");
    assert_eq!(product_view["event"]["product"]["price"], 59.0);

    let ids: Vec<&str> = export["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    let unique: HashSet<&str> = ids.iter().copied().collect();
    assert_eq!(
        ids.len(),
        unique.len(),
        "an event was stored twice: {ids:?}"
    );

    let profile = &export["profile"];
    assert_eq!(profile["cart"][0]["product"]["id"], "linen-shirt");
    assert_eq!(profile["page_views"], 3);
    assert_eq!(profile["prompts"]["cart-reminder-bar"]["impressions"], 1);

    client.clone().close().await.unwrap();
}

#[tokio::test]
async fn inline_content_fills_the_slot_the_page_reserved() {
    let edge = Edge::shared();
    let browser = Browser::start().await;
    let client = &browser.client;

    // The mug is sold out: the back-in-stock rule fills the product page's stock-alert slot.
    client
        .goto(&edge.url("/products/stoneware-mug"))
        .await
        .unwrap();
    const SLOT_TEXT: &str = r#"
        const slot = document.querySelector('[data-rapport-slot="stock-alert"]');
        const host = slot && slot.querySelector('[data-rapport-filled]');
        return host && host.shadowRoot ? host.shadowRoot.textContent : null;
    "#;
    let filled = poll(WAIT, || async {
        let value = client.execute(SLOT_TEXT, vec![]).await.unwrap();
        value.as_str().map(str::to_owned)
    })
    .await
    .expect("the stock-alert slot is filled");
    assert!(filled.contains("sold out fast"), "{filled}");
    assert!(filled.contains("Tell me when it's back"), "{filled}");

    // An available product leaves its slot empty.
    client
        .goto(&edge.url("/products/linen-shirt"))
        .await
        .unwrap();
    browser.wait_for_decision().await;
    let value = client.execute(SLOT_TEXT, vec![]).await.unwrap();
    assert!(value.is_null(), "{value}");

    client.clone().close().await.unwrap();
}

#[tokio::test]
async fn a_preview_link_shows_its_experience_and_reports_nothing() {
    let edge = Edge::shared();
    let browser = Browser::start().await;
    let client = &browser.client;

    // The service-recovery modal is for recent detractors; a marketer previews it on the
    // home page as a first-time visitor would see the page.
    client
        .goto(&edge.preview_url("service-recovery-modal"))
        .await
        .unwrap();
    let modal = browser
        .wait_for_prompt("service-recovery-modal", WAIT)
        .await;
    assert!(modal.contains("We're sorry we let you down"), "{modal}");
    // The preview panel lists what is shown, the visitor's segments and every rule's trace.
    let panel = browser.preview_panel().await;
    for part in [
        "Rapport preview",
        "service-recovery-modal (modal): shown",
        "Segments:",
        "Trace, highest priority first",
        "service-recovery",
        "nothing you do here is recorded",
    ] {
        assert!(panel.contains(part), "{part} in {panel}");
    }

    // The page view is recorded, but no impression: previews never count.
    let visitor = browser.local_storage("rapport:vid").await.unwrap();
    eventually(WAIT, || {
        let export = edge.export(&visitor);
        (!events_of(&export, "page_view").is_empty()).then_some(())
    })
    .await
    .expect("the page view arrives");
    // The modal is drawn, and the widget's queue has been delivered since: an impression,
    // had the preview recorded one, would be at the edge by now.
    poll(WAIT, || async {
        let queued = browser.local_storage("rapport:queue:demo").await;
        queued.is_none().then_some(())
    })
    .await
    .expect("the widget's queue is delivered");
    let export = edge.export(&visitor);
    assert_eq!(impressions_of(&export, "service-recovery-modal"), 0);
    assert!(export["profile"]["prompts"].as_object().unwrap().is_empty());

    client.clone().close().await.unwrap();
}

#[tokio::test]
async fn an_expired_or_forged_preview_link_shows_the_usual_experiences_and_says_why() {
    let edge = Edge::shared();
    let browser = Browser::start().await;
    browser.keep_warnings().await;
    let client = &browser.client;
    // A visitor the welcome experiment shows its offer to.
    let visitor = "visitor-journey-04";
    browser.pin_visitor(edge, visitor).await;
    // A token that was never signed; an expired one is refused the same way.
    client
        .goto(&edge.url("/?rapport_preview=7b7d.00ff"))
        .await
        .unwrap();
    browser.wait_for_prompt("welcome-offer", WAIT).await;
    // The preview panel, loaded for the refusal, says why on the page and in the console.
    let panel = browser.preview_panel().await;
    assert!(
        panel.contains("This preview link was refused: the preview token is not valid."),
        "{panel}"
    );
    let warnings = browser.warnings().await;
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("the preview token is not valid; showing the usual experiences")),
        "{warnings:?}"
    );
    // The shopper is no previewer: what they see is reported.
    let reported = eventually(WAIT, || {
        let export = edge.export(visitor);
        (impressions_of(&export, "welcome-offer") == 1).then_some(())
    })
    .await;
    assert!(reported.is_some(), "the impression was not reported");
    client.clone().close().await.unwrap();
}

#[tokio::test]
async fn recommendations_link_the_products_viewed_and_a_coupon_reveals_on_exit_intent() {
    let edge = Edge::shared();
    let browser = Browser::start().await;
    let client = &browser.client;

    // Three products looked at and nothing in the cart: back on the home page, they are
    // recommended in the page's slot, each linked, priced in its currency.
    for (viewed, product) in ["linen-shirt", "merino-throw", "canvas-tote"]
        .into_iter()
        .enumerate()
    {
        client
            .goto(&edge.url(&format!("/products/{product}")))
            .await
            .unwrap();
        browser.wait_for_widget().await;
        let visitor = browser.visitor_id().await;
        edge.wait_for_events(&visitor, "product_view", viewed + 1)
            .await;
    }
    client.goto(&edge.url("/")).await.unwrap();
    const CARDS: &str = r#"
        const slot = document.querySelector('[data-rapport-slot="recommended"]');
        const host = slot && slot.querySelector('[data-rapport-filled]');
        if (!host || !host.shadowRoot) return null;
        return [...host.shadowRoot.querySelectorAll('.rp-products li')]
            .map(li => [li.textContent, li.querySelector('a') && li.querySelector('a').getAttribute('href')]);
    "#;
    let cards = poll(WAIT, || async {
        let value = client.execute(CARDS, vec![]).await.unwrap();
        value
            .as_array()
            .is_some_and(|cards| !cards.is_empty())
            .then_some(value)
    })
    .await
    .expect("recommendations");
    assert_eq!(
        cards,
        serde_json::json!([
            ["Waxed Canvas Tote · €45.00", "/products/canvas-tote"],
            ["Merino Wool Throw · €89.00", "/products/merino-throw"],
            ["Linen Shirt · €59.00", "/products/linen-shirt"],
        ])
    );

    // With a cart, the coupon waits for the pointer to leave through the top of the window,
    // then reveals its code, which the shopper can copy.
    // Through the shop's own button: the cart page reports the shop's cart as it is.
    browser.add_to_cart_on(edge, "linen-shirt").await;
    let visitor = browser.visitor_id().await;
    edge.wait_for_events(&visitor, "add_to_cart", 1).await;
    client.goto(&edge.url("/cart")).await.unwrap();
    browser.wait_for_decision().await;
    assert_eq!(browser.visible_prompt("cart-exit-coupon").await, None);
    browser.leave_through_the_top().await;
    let coupon = browser.wait_for_prompt("cart-exit-coupon", WAIT).await;
    assert!(coupon.contains("STAY10"), "{coupon}");
    let copied = browser
        .in_prompt(
            "cart-exit-coupon",
            "card.querySelector('.rp-copy').click();
             return card.querySelector('.rp-copy').textContent;",
        )
        .await;
    assert_eq!(copied, "Copied");
    client.clone().close().await.unwrap();
}

/// Regression: home → cart page → product → add to cart → home showed nothing. The welcome,
/// the cart page's inline shipping note and the exit-intent coupon offered on the product
/// page (which never fired) had spent the session's three prompts, so the cart reminder was
/// capped. Only what is drawn spends the budget, and inline content never does.
#[tokio::test]
async fn the_cart_reminder_follows_a_visit_to_the_cart_page() {
    let edge = Edge::shared();
    let browser = Browser::start().await;
    let client = &browser.client;
    // Bucketed into the welcome's "offer" variant (`rapport bucket`: 0.2179), so its bar is
    // drawn on the first page and spends one prompt.
    let visitor = "visitor-0001-cart-page";
    browser.pin_visitor(edge, visitor).await;
    client.goto(&edge.url("/")).await.unwrap();
    browser.wait_for_decision().await;
    client.goto(&edge.url("/cart")).await.unwrap();
    browser.wait_for_decision().await;
    let export = edge.wait_for_events(visitor, "impression", 2).await;
    assert_eq!(impressions_of(&export, "welcome-offer"), 1, "{export}");
    assert_eq!(impressions_of(&export, "free-shipping-note"), 1, "{export}");
    browser.add_to_cart_on(edge, "linen-shirt").await;
    edge.wait_for_events(visitor, "add_to_cart", 1).await;
    client.goto(&edge.url("/")).await.unwrap();
    let reminder = browser.wait_for_prompt("cart-reminder-bar", WAIT).await;
    assert!(reminder.contains("Your cart is waiting"), "{reminder}");
    client.clone().close().await.unwrap();
}

/// Whether `export` holds an impression or an exposure of the welcome experiment.
fn welcome_enrolments(export: &Value) -> Vec<&Value> {
    export["events"]
        .as_array()
        .expect("an export lists events")
        .iter()
        .filter(|e| {
            ["impression", "exposure"].contains(&e["type"].as_str().unwrap_or_default())
                && e["event"]["rule"] == "welcome"
        })
        .collect()
}

#[tokio::test]
async fn the_cart_reminder_holds_back_every_arm_of_the_welcome_alike() {
    let edge = Edge::shared();
    // Arms from `rapport bucket demo-site/rulebook welcome ID`; the stored events say them too.
    // A first-time visitor with a cart gets the cart reminder's bar on the home page, which
    // the welcome's bar would need: no arm enrols them, the control no more than the offer.
    for (visitor, arm) in [
        ("visitor-fair-0002", "offer"),
        ("visitor-fair-0011", "control"),
    ] {
        let browser = Browser::start().await;
        browser.pin_visitor(edge, visitor).await;
        browser.add_to_cart_on(edge, "linen-shirt").await;
        edge.wait_for_events(visitor, "add_to_cart", 1).await;
        browser.client.goto(&edge.url("/")).await.unwrap();
        browser.wait_for_prompt("cart-reminder-bar", WAIT).await;
        // The reminder's impression reached the edge, and the welcome's would have with it.
        let export = edge.wait_for_events(visitor, "impression", 1).await;
        assert_eq!(impressions_of(&export, "cart-reminder-bar"), 1, "{arm}");
        assert!(
            welcome_enrolments(&export).is_empty(),
            "{arm}: {:?}",
            welcome_enrolments(&export)
        );
        browser.client.clone().close().await.unwrap();
    }
    // Without a cart, both arms enrol on the home page.
    for (visitor, arm) in [
        ("visitor-fair-0006", "offer"),
        ("visitor-fair-0013", "control"),
    ] {
        let browser = Browser::start().await;
        browser.pin_visitor(edge, visitor).await;
        browser.client.goto(&edge.url("/")).await.unwrap();
        let kind = if arm == "control" {
            "exposure"
        } else {
            "impression"
        };
        let export = edge.wait_for_events(visitor, kind, 1).await;
        let enrolled = welcome_enrolments(&export);
        assert_eq!(enrolled.len(), 1, "{arm}: {enrolled:?}");
        assert_eq!(enrolled[0]["event"]["variant"], arm);
        browser.client.clone().close().await.unwrap();
    }
}
