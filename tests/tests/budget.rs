//! The fatigue budget in real Chromium against the edge in workerd: what is drawn spends it,
//! what is offered but never drawn does not, and inline content never does.

use std::time::Duration;

use rapport_e2e::{eventually, poll, Browser, Edge};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(15);

/// One prompt a session; on the home page, an exit-intent coupon ranked above a bar shown at
/// once, and an inline note.
const ONE_PROMPT: &str = r#"
settings(#{ default_locale: "en",
            fatigue: #{ overlays_per_page: 1, prompts_per_session: 1, quiet_minutes_after_dismiss: 0 } });
rule("exit-offer", #{ description: "Leaving: a coupon", priority: 90, page: "home",
    show: #{ id: "exit-coupon", kind: "coupon",
             content: #{ en: #{ body: "Before you go", code: "STAY10" } } },
    when: "exit_intent" });
rule("greeting", #{ description: "Hello, at once", priority: 50, page: "home",
    show: #{ id: "greeting-bar", kind: "bar", content: #{ en: #{ body: "Hello there" } } },
    when: "immediately" });
rule("note", #{ description: "A note in the page", priority: 10, page: "home",
    show: #{ id: "home-note", kind: "inline", slot: "recommended",
             content: #{ en: #{ body: "Free returns for 30 days" } } },
    when: "immediately" });
"#;

#[tokio::test]
async fn the_first_prompt_drawn_spends_the_last_of_the_budget_and_inline_content_spends_none() {
    let edge = Edge::start();
    let (status, published) = edge.post_admin(
        "/v1/admin/rulebooks",
        &json!({ "files": { "budget.rhai": ONE_PROMPT }, "note": "budget test" }).to_string(),
    );
    assert_eq!(status, 201, "{published}");
    // Every isolate checks for a new version at most every 5 seconds.
    let decide = |visitor: &str| {
        let body = json!({ "site": "demo", "visitor_id": visitor, "session_id": "session-budget-1",
            "page": { "url": "http://shop/", "path": "/", "kind": "home", "locale": "en" } });
        edge.post("/v1/decide", &body.to_string()).1
    };
    eventually(WAIT, || {
        (decide("visitor-budget-probe")["rulebook"] == published["version"]).then_some(())
    })
    .await
    .expect("the new rulebook decides");
    // Both prompts come, ranked, each with the one prompt left; the note needs no budget.
    let offered = decide("visitor-budget-probe");
    let budgets: Vec<_> = offered["experiences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["experience"].clone(), e["budget"].clone()))
        .collect();
    assert_eq!(
        budgets,
        [
            (json!("exit-coupon"), json!(1)),
            (json!("greeting-bar"), json!(1)),
            (json!("home-note"), json!(null))
        ]
    );

    let browser = Browser::start().await;
    let client = &browser.client;
    let visitor = "visitor-budget-01";
    browser.pin_visitor(&edge, visitor).await;
    client.goto(&edge.url("/")).await.unwrap();
    // The bar shows at once and takes the one prompt; the note fills its slot.
    browser.wait_for_prompt("greeting-bar", WAIT).await;
    let note = "const host = document.querySelector('[data-rapport-filled=\"home-note\"]');
                return host ? host.shadowRoot.textContent : null;";
    let filled = || async {
        let text = client.execute(note, vec![]).await.unwrap();
        (text != json!(null)).then_some(())
    };
    poll(WAIT, filled).await.expect("the note fills its slot");
    // The pointer leaves through the top: the coupon's trigger fires (its listener runs
    // in this very call), but the budget is spent, so nothing is drawn.
    browser.leave_through_the_top().await;
    assert!(browser.visible_prompt("exit-coupon").await.is_none());
    let export = edge.wait_for_events(visitor, "impression", 2).await;
    let shown: Vec<_> = export["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "impression")
        .map(|e| e["event"]["experience"].clone())
        .collect();
    assert_eq!(shown, [json!("greeting-bar"), json!("home-note")]);

    // The next page of the session: the prompt is spent, the inline note is not.
    client.goto(&edge.url("/")).await.unwrap();
    browser.wait_for_decision().await;
    poll(WAIT, filled)
        .await
        .expect("the note fills its slot again");
    assert!(browser.visible_prompt("greeting-bar").await.is_none());
    client.clone().close().await.unwrap();
}
