//! Every trigger a rule can wait for, in real Chromium against the edge in workerd, with a
//! rulebook of one rule per trigger published to an edge these tests share.

use std::sync::OnceLock;
use std::time::Duration;

use rapport_e2e::{eventually_blocking, poll, Browser, Edge};
use serde_json::{json, Value};

/// How long a prompt may take to reach the screen: on a two-core machine running two
/// browsers and two edges at once, 15 s ran out once (tests that pass alone in a minute).
const WAIT: Duration = Duration::from_secs(30);

const TRIGGERS: &str = r#"
settings(#{ default_locale: "en",
            fatigue: #{ overlays_per_page: 1, prompts_per_session: 10, quiet_minutes_after_dismiss: 0 } });
rule("on-scroll", #{ description: "Half way down the home page", priority: 40, page: "home",
    show: #{ id: "scroll-bar", kind: "bar", position: "top",
             content: #{ en: #{ body: "You scrolled half way" } } },
    when: #{ scroll: 50 } });
rule("on-idle", #{ description: "Two quiet seconds on the home page", priority: 30, page: "home",
    show: #{ id: "idle-toast", kind: "toast", content: #{ en: #{ body: "Still looking?" } } },
    when: #{ idle_seconds: 2 } });
rule("on-event", #{ description: "Right after an add to cart", priority: 20, page: "home",
    show: #{ id: "event-slide", kind: "slide_in", content: #{ en: #{ body: "Good choice" } } },
    when: #{ after_event: "add_to_cart" } });
rule("on-product-view", #{ description: "Another overlay on the home page, on another trigger",
    priority: 15, page: "home",
    show: #{ id: "view-modal", kind: "modal", content: #{ en: #{ body: "Seen something you like?" } } },
    when: #{ after_event: "product_view" } });
rule("on-visible", #{ description: "Once the footer of a product page shows", priority: 10,
    page: "product",
    show: #{ id: "footer-csat", kind: "csat", content: #{ en: #{ body: "How easy was it to find?" } } },
    when: #{ element_visible: "footer" } });
rule("held-back", #{ description: "An experiment on the home page whose slide-in waits for a scroll",
    priority: 5, page: "home",
    experiment: #{ seed: "held-back", variants: [
        #{ id: "slide", weight: 50,
           show: #{ id: "held-slide", kind: "slide_in", content: #{ en: #{ body: "Half way there" } } } },
        #{ id: "control", weight: 50 } ] },
    when: #{ scroll: 50 } });
rule("cart-help", #{ description: "An overlay on the cart page once a product is looked at",
    priority: 4, page: "cart",
    show: #{ id: "cart-help-modal", kind: "modal", content: #{ en: #{ body: "Need a hand?" } } },
    when: #{ after_event: "product_view" } });
rule("cart-test", #{ description: "An experiment whose modal waits for a search on the cart page",
    priority: 3, page: "cart",
    experiment: #{ seed: "cart-test", variants: [
        #{ id: "modal", weight: 50,
           show: #{ id: "cart-test-modal", kind: "modal", content: #{ en: #{ body: "Try the gift guide" } } } },
        #{ id: "control", weight: 50 } ] },
    when: #{ after_event: "search" } });
"#;

/// The edge with the triggers rulebook active, for every test here.
fn edge() -> &'static Edge {
    static EDGE: OnceLock<Edge> = OnceLock::new();
    EDGE.get_or_init(|| {
        let edge = Edge::start();
        let (status, published) = edge.post_admin(
            "/v1/admin/rulebooks",
            &json!({ "files": { "triggers.rhai": TRIGGERS }, "note": "trigger test" }).to_string(),
        );
        assert_eq!(status, 201, "{published}");
        // Every isolate checks for a new version at most every 5 seconds: wait until a
        // decision is made with it.
        let version = published["version"].clone();
        let decided = eventually_blocking(WAIT, || {
            (decision(&edge, "visitor-trigger-probe")["rulebook"] == version).then_some(())
        });
        assert!(
            decided.is_some(),
            "the edge never decided with the new rulebook"
        );
        edge
    })
}

fn decision(edge: &Edge, visitor: &str) -> Value {
    let body = json!({ "site": "demo", "visitor_id": visitor, "session_id": "session-trigger-1",
        "page": { "url": "http://shop/", "path": "/", "kind": "home", "locale": "en" } });
    edge.post("/v1/decide", &body.to_string()).1
}

/// A browser on the home page, the widget's decision in.
async fn on_the_home_page() -> Browser {
    let browser = Browser::start().await;
    browser.client.goto(&edge().url("/")).await.unwrap();
    browser.wait_for_decision().await;
    browser
}

async fn run(browser: &Browser, script: &str) {
    browser.client.execute(script, vec![]).await.unwrap();
}

#[tokio::test]
async fn a_scroll_trigger_waits_for_half_the_page_and_its_bar_sits_at_the_top() {
    let browser = on_the_home_page().await;
    assert!(browser.visible_prompt("scroll-bar").await.is_none());
    run(
        &browser,
        "window.scrollTo(0, (document.documentElement.scrollHeight - innerHeight) * 0.6);",
    )
    .await;
    browser.wait_for_prompt("scroll-bar", WAIT).await;
    let bar_top = browser
        .in_prompt(
            "scroll-bar",
            "card.getAnimations().forEach((a) => a.finish());
             return card.getBoundingClientRect().top;",
        )
        .await;
    assert_eq!(bar_top.as_f64(), Some(0.0), "{bar_top}");
    browser.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn a_scroll_trigger_on_a_page_too_short_to_scroll_fires_with_the_end_of_the_page_in_view() {
    let browser = Browser::start().await;
    // A window taller than the home page: it cannot scroll at all.
    browser.client.set_window_size(1200, 8000).await.unwrap();
    browser.client.goto(&edge().url("/")).await.unwrap();
    browser.wait_for_decision().await;
    let scrollable = browser
        .client
        .execute(
            "return document.documentElement.scrollHeight - innerHeight;",
            vec![],
        )
        .await
        .unwrap();
    assert!(scrollable.as_f64().unwrap() <= 0.0, "{scrollable}");
    browser.wait_for_prompt("scroll-bar", WAIT).await;
    browser.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn the_preview_panel_says_armed_until_the_trigger_fires_then_shown() {
    let browser = Browser::start().await;
    browser
        .client
        .goto(&edge().preview_url("scroll-bar"))
        .await
        .unwrap();
    browser.wait_for_decision().await;
    let state = |browser: &Browser| {
        let client = browser.client.clone();
        async move {
            client
                .execute(
                    "const h = document.getElementById('rapport-preview');
                     const i = h && h.shadowRoot.getElementById('preview-scroll-bar');
                     return i && i.textContent;",
                    vec![],
                )
                .await
                .unwrap()
        }
    };
    let armed = poll(WAIT, || async {
        state(&browser).await.as_str().map(str::to_owned)
    })
    .await
    .expect("the panel lists the experience");
    assert_eq!(
        armed,
        "scroll-bar (bar): armed, waiting for 50% scroll (or the end of the page in view)"
    );
    assert!(browser.visible_prompt("scroll-bar").await.is_none());
    run(
        &browser,
        "window.scrollTo(0, (document.documentElement.scrollHeight - innerHeight) * 0.6);",
    )
    .await;
    browser.wait_for_prompt("scroll-bar", WAIT).await;
    let shown = poll(WAIT, || async {
        let text = state(&browser).await;
        text.as_str()
            .filter(|t| t.ends_with(": shown"))
            .map(str::to_owned)
    })
    .await;
    assert_eq!(shown.as_deref(), Some("scroll-bar (bar): shown"));
    browser.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn a_single_page_app_moving_away_disarms_the_pages_triggers_and_coming_back_arms_them() {
    let browser = on_the_home_page().await;
    run(
        &browser,
        "document.body.dataset.rapportPage = 'category'; history.pushState({}, '', '/shirts');
         window.scrollTo(0, document.documentElement.scrollHeight);",
    )
    .await;
    // The category page's own decision has come (so the route change was taken), then
    // longer than the idle trigger's two seconds: neither the scroll nor the quiet shows
    // anything on the category page.
    browser.wait_for_answers("/v1/decide", 2).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(browser.visible_prompt("scroll-bar").await.is_none());
    assert!(browser.visible_prompt("idle-toast").await.is_none());
    // Back on the home page, its triggers are armed anew.
    run(
        &browser,
        "window.scrollTo(0, 0); document.body.dataset.rapportPage = 'home';
         history.pushState({}, '', '/');",
    )
    .await;
    browser.wait_for_prompt("idle-toast", WAIT).await;
    browser.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn overlays_on_different_triggers_both_come_and_the_first_to_fire_takes_the_page() {
    // The edge sends both overlays, ranked, since each waits for its own event.
    let shown: Vec<Value> = decision(edge(), "visitor-trigger-overlays")["experiences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["experience"].clone())
        .collect();
    assert!(
        shown.contains(&json!("event-slide")) && shown.contains(&json!("view-modal")),
        "{shown:?}"
    );
    let browser = on_the_home_page().await;
    run(
        &browser,
        "rapport.push(['track', 'product_view', { id: 'linen-shirt', name: 'Linen shirt' }]);",
    )
    .await;
    browser.wait_for_prompt("view-modal", WAIT).await;
    browser.click_in_prompt("view-modal", "×").await;
    // The other overlay was an alternative: its event now shows nothing on this page.
    run(
        &browser,
        "rapport.push(['track', 'add_to_cart', { id: 'linen-shirt', price: 59 }]);",
    )
    .await;
    // The event is at the edge, so the widget has taken it, and its trigger with it.
    let visitor = browser.visitor_id().await;
    edge().wait_for_events(&visitor, "add_to_cart", 1).await;
    assert!(browser.visible_prompt("event-slide").await.is_none());
    assert!(browser.visible_prompt("view-modal").await.is_none());
    browser.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn an_idle_trigger_shows_after_two_quiet_seconds() {
    let browser = on_the_home_page().await;
    browser.wait_for_prompt("idle-toast", WAIT).await;
    browser.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn an_after_event_trigger_waits_for_the_page_to_track_the_event() {
    let browser = on_the_home_page().await;
    assert!(browser.visible_prompt("event-slide").await.is_none());
    run(
        &browser,
        "rapport.push(['track', 'add_to_cart', { id: 'linen-shirt', price: 59 }]);",
    )
    .await;
    browser.wait_for_prompt("event-slide", WAIT).await;
    browser.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn an_element_visible_trigger_waits_for_the_element_and_its_survey_is_answered() {
    let edge = edge();
    let browser = Browser::start().await;
    browser
        .client
        .goto(&edge.url("/products/linen-shirt"))
        .await
        .unwrap();
    browser.wait_for_decision().await;
    let footer_on_screen: Value = browser
        .client
        .execute(
            "const r = document.querySelector('footer').getBoundingClientRect();
             return r.top < innerHeight;",
            vec![],
        )
        .await
        .unwrap();
    if footer_on_screen == json!(false) {
        assert!(browser.visible_prompt("footer-csat").await.is_none());
    }
    run(
        &browser,
        "window.scrollTo(0, document.documentElement.scrollHeight);",
    )
    .await;
    browser.wait_for_prompt("footer-csat", WAIT).await;
    browser.click_in_prompt("footer-csat", "5").await;
    let visitor = browser.visitor_id().await;
    let export = edge.wait_for_events(&visitor, "answer", 1).await;
    let answer = export["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "answer")
        .unwrap()
        .clone();
    assert_eq!(answer["event"]["survey"], "csat");
    assert_eq!(answer["event"]["score"], 5);
    browser.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn a_control_group_is_exposed_when_the_treatments_trigger_fires_and_not_before() {
    let edge = edge();
    // A visitor the edge puts in the control group of "held-back".
    let visitor = (0..200)
        .map(|i| format!("visitor-held-{i:04}"))
        .find(|v| {
            decision(edge, v)["controls"]
                .as_array()
                .is_some_and(|c| c.iter().any(|c| c["rule"] == "held-back"))
        })
        .expect("a visitor in the control group");
    let browser = Browser::start().await;
    browser.pin_visitor(edge, &visitor).await;
    browser.client.goto(&edge.url("/")).await.unwrap();
    browser.wait_for_decision().await;
    edge.wait_for_events(&visitor, "page_view", 1).await;
    // The widget's queue is delivered after the decision: an exposure made on its arrival
    // would be stored by now.
    poll(WAIT, || async {
        // A delivered queue leaves no key behind.
        let queued = browser.local_storage("rapport:queue:demo").await;
        queued.is_none().then_some(())
    })
    .await
    .expect("the widget's queue is delivered");
    let exposures = |export: &Value| {
        export["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["type"] == "exposure")
            .cloned()
            .collect::<Vec<Value>>()
    };
    assert!(
        exposures(&edge.export(&visitor)).is_empty(),
        "no exposure before the scroll"
    );
    run(
        &browser,
        "window.scrollTo(0, (document.documentElement.scrollHeight - innerHeight) * 0.6);",
    )
    .await;
    let export = edge.wait_for_events(&visitor, "exposure", 1).await;
    let exposure = &exposures(&export)[0]["event"];
    assert_eq!(exposure["rule"], "held-back", "{exposure}");
    assert_eq!(exposure["variant"], "control", "{exposure}");
    assert_eq!(exposure["experience"], "held-back-control", "{exposure}");
    // Nothing is drawn for a control.
    assert!(browser.visible_prompt("held-slide").await.is_none());
    browser.client.clone().close().await.unwrap();
}

/// A visitor the edge puts in `arm` of "cart-test" on the cart page.
fn in_cart_test(edge: &Edge, arm: &str, skip: usize) -> String {
    (0..400)
        .map(|i| format!("visitor-cart-test-{i:04}"))
        .filter(|v| {
            let body = json!({ "site": "demo", "visitor_id": v, "session_id": "session-probe",
                "page": { "url": "http://shop/cart", "path": "/cart", "kind": "cart", "locale": "en" } });
            let answer = edge.post("/v1/decide", &body.to_string()).1;
            ["controls", "experiences"].iter().any(|list| {
                answer[list].as_array().is_some_and(|l| {
                    l.iter()
                        .any(|e| e["rule"] == "cart-test" && e["variant"] == arm)
                })
            })
        })
        .nth(skip)
        .unwrap_or_else(|| panic!("a visitor in arm {arm}"))
}

/// A browser on the cart page as `visitor`, the widget's decision in.
async fn on_the_cart_page(edge: &Edge, visitor: &str) -> Browser {
    let browser = Browser::start().await;
    browser.pin_visitor(edge, visitor).await;
    browser.client.goto(&edge.url("/cart")).await.unwrap();
    browser.wait_for_decision().await;
    browser
}

/// What `visitor` stored of "cart-test": its impressions and exposures.
fn cart_test_events(edge: &Edge, visitor: &str) -> Vec<Value> {
    edge.export(visitor)["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"]["rule"] == "cart-test")
        .cloned()
        .collect()
}

#[tokio::test]
async fn a_control_is_enrolled_only_where_its_treatment_would_have_had_the_overlays_turn() {
    let edge = edge();
    for arm in ["modal", "control"] {
        // Another overlay fires first and takes the page's one overlay: the treatment's modal
        // would not show, so neither arm is enrolled.
        let visitor = in_cart_test(edge, arm, 0);
        let browser = on_the_cart_page(edge, &visitor).await;
        run(
            &browser,
            "rapport.push(['track', 'product_view', { id: 'linen-shirt', name: 'Linen shirt' }]);",
        )
        .await;
        browser.wait_for_prompt("cart-help-modal", WAIT).await;
        run(
            &browser,
            "rapport.push(['track', 'search', { query: 'scarf', results: 2 }]);",
        )
        .await;
        // The search reached the edge: what its trigger did on the page went with it.
        edge.wait_for_events(&visitor, "search", 1).await;
        edge.wait_for_events(&visitor, "impression", 1).await;
        assert!(browser.visible_prompt("cart-test-modal").await.is_none());
        let stored = cart_test_events(edge, &visitor);
        assert!(stored.is_empty(), "{arm}: {stored:?}");
        browser.client.clone().close().await.unwrap();

        // The experiment's trigger first: each arm is enrolled, the control with nothing drawn.
        let visitor = in_cart_test(edge, arm, 1);
        let browser = on_the_cart_page(edge, &visitor).await;
        run(
            &browser,
            "rapport.push(['track', 'search', { query: 'scarf', results: 2 }]);",
        )
        .await;
        let kind = if arm == "control" {
            "exposure"
        } else {
            "impression"
        };
        let export = edge.wait_for_events(&visitor, kind, 1).await;
        let enrolled = rapport_e2e::events(&export, kind);
        assert_eq!(enrolled[0]["rule"], "cart-test", "{enrolled:?}");
        assert_eq!(enrolled[0]["variant"], arm, "{enrolled:?}");
        // The impression may reach the edge while the modal still fades in.
        if arm == "modal" {
            browser.wait_for_prompt("cart-test-modal", WAIT).await;
        } else {
            assert!(browser.visible_prompt("cart-test-modal").await.is_none());
        }
        browser.client.clone().close().await.unwrap();
    }
}
