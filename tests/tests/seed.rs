//! `cargo xtask seed`'s default history, replayed through a test edge with the demo clock:
//! six weeks of 4,000 visitors. Every arm is counted exactly as the seed enrolled it, and
//! the analytics find what was planted: the welcome's "story" wins with an
//! interval above zero, its "offer" (no effect) is inconclusive, the `italian` segment
//! converts less than the rest, and the Merino Wool Throw's page loses its landings and
//! draws rage clicks; the console shows the segment's flag in words. Every analysis has
//! content.

use std::time::{Duration, Instant};

use rapport_e2e::console::{console_at, wait_for_script};
use rapport_e2e::{eventually, Edge};
use serde_json::{json, Value};

fn day(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap()
        .format("%Y-%m-%d")
        .to_string()
}

/// Results' `analysis` over `from`..`to`, once the form is there.
async fn show_results(browser: &rapport_e2e::Browser, analysis: &str, from: &str, to: &str) {
    wait_for_script(browser, "return !!document.getElementById('analysis');").await;
    browser
        .client
        .execute(
            "document.getElementById('analysis').value = arguments[0];
             document.getElementById('from').value = arguments[1];
             document.getElementById('to').value = arguments[2];
             document.querySelector('form.filters button[type=submit]').click();",
            vec![json!(analysis), json!(from), json!(to)],
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn six_weeks_of_history_show_what_was_planted_and_nothing_else() {
    let edge = Edge::start_for_seed();
    let now = chrono::Utc::now().timestamp_millis();
    let plan = rapport_seed::Plan::demo(
        std::env::var("SEED_N").map_or(4_000, |n| n.parse().unwrap()),
        7,
        "seed-test",
        now,
    );
    let started = Instant::now();
    let sent =
        rapport_seed::run(&edge.seed_target(), &plan, |_, _| {}).expect("the history replays");
    eprintln!(
        "seeded in {:.0} s: {sent:?}",
        started.elapsed().as_secs_f64()
    );

    assert!(
        sent.visits > sent.visitors * 3 / 2 && sent.returns > 0 && sent.tickets > 0,
        "{sent:?}"
    );
    let period = format!(
        "site=demo&from={}&to={}",
        day(now - i64::from(plan.days) * 86_400_000),
        day(now)
    );
    let token = Some(edge.admin_token.as_str());
    let get = |path: &str| {
        edge.get(&format!("/v1/admin/analytics/{path}?{period}"), token)
            .1
    };

    // Every arm holds exactly the visitors and converters the seed enrolled.
    let welcome = eventually(Duration::from_secs(120), || {
        let answer = get("experiments");
        let welcome = answer["experiments"]
            .as_array()?
            .iter()
            .find(|e| e["rule"] == "welcome")?
            .clone();
        let counted = welcome["arms"].as_array()?.iter().all(|a| {
            let arm = &sent.welcome[a["arm"].as_str().unwrap()];
            a["visitors"] == arm.visitors as f64 && a["conversion"]["sum"] == arm.converters as f64
        });
        counted.then_some(welcome)
    })
    .await
    .unwrap_or_else(|| panic!("seeded {:?}, read {}", sent.welcome, get("experiments")));
    assert_eq!(welcome["sample_ratio_mismatch"], false, "{welcome}");
    let on_conversion = |arm: &str| -> Value {
        welcome["comparisons"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["arm"] == arm && c["metric"] == "conversion")
            .unwrap_or_else(|| panic!("{arm} on conversion: {welcome}"))
            .clone()
    };
    let story = on_conversion("story");
    assert_eq!(story["state"], "won", "{story}");
    assert!(story["lift"]["ci_low"].as_f64().unwrap() > 0.0, "{story}");
    let offer = on_conversion("offer");
    assert_eq!(offer["state"], "inconclusive", "{offer}");

    // The planted segment is flagged, on conversion, first by what it is worth. With one
    // true difference, Benjamini–Hochberg at q = 0.10 lets a second, false, flag through now
    // and then (`stuck_searching` in some seeds): at most one other is allowed.
    let segments = get("segments");
    let flagged: Vec<&Value> = segments["segments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["needs_attention"] == true)
        .collect();
    assert!(
        !flagged.is_empty() && flagged[0]["segment"] == "italian" && flagged.len() <= 2,
        "{segments}"
    );
    let sentence = flagged[0]["flags"][0].as_str().unwrap();
    assert!(
        sentence.starts_with("\"italian\" converts")
            && sentence.contains("points less than the rest"),
        "{sentence}"
    );

    // The console shows the flag's sentence, word for word, for the seeded weeks.
    let browser = console_at(&edge, "results").await;
    let (from, to) = (day(now - i64::from(plan.days) * 86_400_000), day(now));
    show_results(&browser, "segments", &from, &to).await;
    let shown = wait_for_script(
        &browser,
        "const f = [...document.querySelectorAll('#results-out ul.flags li span')]; return f.length ? f.map((s) => s.textContent) : null;",
    )
    .await;
    assert_eq!(shown[0], json!(sentence));
    // Its next step: Write opens with a rule for the segment, simulated at once.
    browser
        .client
        .execute(
            "document.querySelector('#results-out ul.flags li button.write-rule').click();",
            vec![],
        )
        .await
        .unwrap();
    let written = wait_for_script(
        &browser,
        "const t = document.getElementById('trace');
         const e = document.getElementById('editor');
         const text = e && e.shadowRoot && e.shadowRoot.querySelector('.cm-content');
         return t && text && t.innerText.includes('for-italian') && text.innerText;",
    )
    .await;
    assert!(
        written.as_str().unwrap().contains("who: \"italian\","),
        "{written}"
    );
    let file = wait_for_script(
        &browser,
        "const b = document.querySelector('.files button.current'); return b && b.textContent;",
    )
    .await;
    assert_eq!(file, json!("findings.rhai"));

    // A search that found nothing leads to a rule for it, which the simulated shopper who
    // searched for it gets.
    browser
        .client
        .goto(&edge.url("/console/#results"))
        .await
        .unwrap();
    show_results(&browser, "weak-spots", &from, &to).await;
    wait_for_script(
        &browser,
        "const b = document.querySelector('button[aria-label=\"Write a rule for this: wetsuit\"]'); if (b) b.click(); return !!b;",
    )
    .await;
    let outcome = wait_for_script(
        &browser,
        "const row = [...document.querySelectorAll('#trace tbody tr')].find((r) => r.cells[0].textContent === 'search-wetsuit');
         return row && row.cells[1].textContent;",
    )
    .await;
    assert!(
        outcome == json!("matched") || outcome == json!("outranked"),
        "the searcher is in the rule's audience: {outcome}"
    );
    browser.client.clone().close().await.unwrap();

    // The planted page leads both page rankings; no other page is above the site's rate.
    let weak = get("weak-spots");
    for ranking in ["by_quick_exits", "by_rage_clicks"] {
        let pages: Vec<&str> = weak[ranking]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["key"].as_str().unwrap())
            .collect();
        assert_eq!(
            pages,
            [rapport_seed::model::FRUSTRATING_PAGE],
            "{ranking}: {weak}"
        );
    }
    // The shop sells no wetsuits and no gift cards: those searches find nothing.
    let queries: Vec<&str> = weak["zero_result_searches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["key"].as_str().unwrap())
        .collect();
    assert!(
        queries.contains(&"wetsuit") && queries.contains(&"gift card"),
        "{weak}"
    );

    // Every other analysis has content.
    let satisfaction = get("satisfaction");
    // Those who bought twice are asked for a score once a quarter.
    assert_eq!(
        satisfaction["overall"]["nps_answers"], sent.answers as f64,
        "{satisfaction}"
    );
    assert!(sent.answers >= 10, "{sent:?}");
    let lifecycle = get("lifecycle");
    assert!(
        lifecycle["movements"]
            .as_array()
            .is_some_and(|m| !m.is_empty()),
        "{lifecycle}"
    );
}

/// Sends `request` and reads the status and the JSON body.
fn answer(request: ureq::RequestBuilder<ureq::typestate::WithBody>, body: &str) -> (u16, Value) {
    let mut response = request
        .config()
        .http_status_as_error(false)
        .build()
        .content_type("application/json")
        .send(body)
        .expect("the edge answers");
    let text = response.body_mut().read_to_string().unwrap();
    (
        response.status().as_u16(),
        serde_json::from_str(&text).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn the_demo_clock_serves_this_machine_only_and_no_edge_without_it_takes_a_past_time() {
    let decide = r#"{"site": "demo", "visitor_id": "visitor-clock-01", "session_id": "session-clock-01",
                     "page": {"url": "https://tidewater.example/", "path": "/", "kind": "home"}}"#;
    let week_ago = (chrono::Utc::now().timestamp_millis() - 7 * 86_400_000).to_string();
    // With the demo clock, this machine may date a request a week back...
    let demo = Edge::start_for_seed();
    let (status, body) = answer(
        ureq::post(&demo.url("/v1/decide")).header("x-rapport-demo-time", &week_ago),
        decide,
    );
    assert_eq!(status, 200, "{body}");
    // ...but not into the future, and an edge served on any other host refuses everything.
    let tomorrow = (chrono::Utc::now().timestamp_millis() + 86_400_000).to_string();
    let (status, body) = answer(
        ureq::post(&demo.url("/v1/decide")).header("x-rapport-demo-time", &tomorrow),
        decide,
    );
    assert_eq!(
        (status, &body["error"]["field"]),
        (400, &json!("x-rapport-demo-time")),
        "{body}"
    );
    let (status, body) = answer(
        ureq::post(&demo.url("/v1/decide")).header("host", "shop.example"),
        decide,
    );
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["field"], "DEMO_CLOCK", "{body}");
    // An edge without it refuses the header, naming it, and stores nothing.
    let edge = Edge::shared();
    let (status, body) = answer(
        ureq::post(&edge.url("/v1/decide")).header("x-rapport-demo-time", &week_ago),
        decide,
    );
    assert_eq!(
        (status, &body["error"]["field"]),
        (400, &json!("x-rapport-demo-time")),
        "{body}"
    );
}
