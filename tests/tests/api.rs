//! The edge's API against the worker running in workerd: health, ingestion and its error
//! paths, idempotency, decisions, and the admin token.

use rapport_e2e::Edge;
use serde_json::{json, Value};

fn batch(visitor: &str, events: Value) -> String {
    json!({ "site": "demo", "visitor_id": visitor, "events": events }).to_string()
}

fn add_to_cart(id: &str) -> Value {
    json!({ "id": id, "session_id": "session-0001", "type": "add_to_cart",
            "product": { "id": "linen-shirt", "price": 59.0 } })
}

#[test]
fn health_names_the_build_and_the_active_rulebook() {
    let edge = Edge::shared();
    let (status, health) = edge.get("/v1/health", None);
    assert_eq!(status, 200);
    assert_eq!(health["status"], "ok");
    assert!(
        health["version"].as_str().unwrap().starts_with("0.1.0"),
        "{health}"
    );
    assert!(
        health["rulebook"].as_str().unwrap().starts_with("rb-"),
        "{health}"
    );
}

#[test]
fn malformed_bodies_are_refused_with_the_field_at_fault() {
    let edge = Edge::shared();
    let check_error = |body: &str, status: u16, field: Option<&str>| {
        let (got, answer) = edge.post("/v1/events", body);
        assert_eq!(got, status, "{body} -> {answer}");
        assert!(answer["error"]["message"].is_string(), "{answer}");
        assert_eq!(
            answer["error"]["field"].as_str(),
            field,
            "{body} -> {answer}"
        );
    };
    check_error("{not json", 400, None);
    check_error(
        r#"{"site":"demo","visitor_id":7,"events":[]}"#,
        400,
        Some("visitor_id"),
    );
    check_error(
        r#"{"site":"demo","visitor_id":"../../etc","events":[]}"#,
        400,
        Some("visitor_id"),
    );
    check_error(
        r#"{"site":"elsewhere","visitor_id":"visitor-api-0001","events":[]}"#,
        403,
        Some("site"),
    );
    check_error(&"x".repeat(600 * 1024), 413, None);
}

#[test]
fn one_bad_event_costs_nothing_of_the_good_ones_and_browsers_cannot_claim_purchases() {
    let edge = Edge::shared();
    let visitor = "visitor-api-bad-events";
    let (status, answer) = edge.post(
        "/v1/events",
        &batch(
            visitor,
            json!([
                add_to_cart("event-0001"),
                { "id": "event-0002", "session_id": "session-0001", "type": "add_to_cart",
                  "product": { "id": "x", "price": "cheap" } },
                { "id": "event-0003", "session_id": "session-0001", "type": "purchase", "value": 1e6 },
                { "id": "event-0004", "session_id": "session-0001", "type": "cart",
                  "items": [{ "product": { "id": "a" } }, { "product": { "name": "no id" } }] },
                { "id": "event-0005", "session_id": "session-0001", "type": "checkout_step" },
            ]),
        ),
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["accepted"], json!(["event-0001"]));
    assert_eq!(answer["rejected"][0]["field"], "events[1].product.price");
    assert_eq!(answer["rejected"][1]["id"], "event-0003");
    assert_eq!(
        answer["rejected"][2]["field"], "events[3].items[1].product.id",
        "{answer}"
    );
    assert_eq!(answer["rejected"][3]["field"], "events[4].step", "{answer}");
    assert_eq!(edge.export(visitor)["profile"]["purchases"]["count"], 0);
}

#[test]
fn an_event_sent_again_stores_nothing_new() {
    let edge = Edge::shared();
    let visitor = "visitor-api-replay";
    for duplicates in [json!([]), json!(["event-0001"])] {
        let (status, answer) = edge.post(
            "/v1/events",
            &batch(visitor, json!([add_to_cart("event-0001")])),
        );
        assert_eq!(status, 200);
        assert_eq!(answer["duplicates"], duplicates);
    }
    let export = edge.export(visitor);
    assert_eq!(export["events"].as_array().unwrap().len(), 1);
    assert_eq!(export["profile"]["cart"][0]["quantity"], 1);
}

#[test]
fn the_decision_uses_the_stored_cart_and_the_pages_language() {
    let edge = Edge::shared();
    let visitor = "visitor-api-decide";
    edge.post(
        "/v1/events",
        &batch(visitor, json!([add_to_cart("event-0001")])),
    );
    let (status, decision) = edge.post(
        "/v1/decide",
        &json!({ "site": "demo", "visitor_id": visitor, "session_id": "session-0001",
                 "page": { "url": "http://shop/", "path": "/", "kind": "home", "locale": "it-IT" } })
        .to_string(),
    );
    assert_eq!(status, 200, "{decision}");
    // Best first: the exit-intent coupon (priority 90), then the cart reminder bar.
    let ids: Vec<&str> = decision["experiences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["experience"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["cart-exit-coupon", "cart-reminder-bar"], "{decision}");
    let coupon = &decision["experiences"][0];
    assert_eq!(coupon["trigger"]["type"], "exit_intent");
    assert_eq!(coupon["content"]["code"], "STAY10");
    let bar = &decision["experiences"][1];
    assert_eq!(bar["content"]["locale"], "it");
    assert_eq!(bar["content"]["title"], "Il tuo carrello ti aspetta");
    assert_eq!(
        decision["rulebook"],
        edge.get("/v1/health", None).1["rulebook"]
    );
}

/// A page view's events and its decision travel in one request: the events are stored once
/// each before the decision, which sees them (the add to cart brings the cart reminder), and
/// the answer says what became of each, as `POST /v1/events` would.
#[test]
fn a_decision_request_stores_the_events_it_carries_once_and_decides_with_them() {
    let edge = Edge::shared();
    let visitor = "visitor-api-one-trip";
    let request = |events: Value| {
        json!({ "site": "demo", "visitor_id": visitor, "session_id": "session-0001",
                "page": { "url": "http://shop/", "path": "/", "kind": "home" },
                "events": events })
        .to_string()
    };
    let reminded = |decision: &Value| {
        decision["experiences"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["experience"] == "cart-reminder-bar")
    };
    let bad = json!({ "id": "event-trip-bad", "session_id": "session-0001", "type": "purchase" });
    let (status, decision) = edge.post(
        "/v1/decide",
        &request(json!([add_to_cart("event-trip-0001"), bad])),
    );
    assert_eq!(status, 200, "{decision}");
    assert!(
        reminded(&decision),
        "the decision sees the cart: {decision}"
    );
    assert_eq!(decision["events"]["accepted"], json!(["event-trip-0001"]));
    assert_eq!(decision["events"]["rejected"][0]["field"], "events[1].type");

    // Sent again (the answer was lost on the way): stored once, the decision the same.
    let (status, again) = edge.post(
        "/v1/decide",
        &request(json!([add_to_cart("event-trip-0001")])),
    );
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["events"]["accepted"], json!([]));
    assert_eq!(again["events"]["duplicates"], json!(["event-trip-0001"]));
    assert!(reminded(&again), "{again}");
    let export = edge.export(visitor);
    assert_eq!(export["events"].as_array().unwrap().len(), 1, "{export}");
    assert_eq!(export["profile"]["cart"][0]["quantity"], 1, "{export}");

    // Without events the answer has no `events`, as before; events need a visitor.
    let (_, plain) = edge.post("/v1/decide", &request(json!([])));
    assert!(plain.get("events").is_none(), "{plain}");
    let (status, refused) = edge.post(
        "/v1/decide",
        &json!({ "site": "demo", "page": { "url": "http://shop/", "path": "/" },
                 "events": [add_to_cart("event-trip-0002")] })
        .to_string(),
    );
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused["error"]["field"], "visitor_id");
}

#[test]
fn admin_calls_want_the_token_and_unknown_paths_are_not_found() {
    let edge = Edge::shared();
    let path = "/v1/admin/visitors/demo/visitor-api-0001";
    assert_eq!(edge.get(path, None).0, 401);
    assert_eq!(edge.get(path, Some("wrong-token")).0, 401);
    assert_eq!(edge.delete(path, None).0, 401);
    assert_eq!(edge.get("/v1/nowhere", None).0, 404);
    assert_eq!(edge.get("/v1/events", None).0, 405);
}

#[test]
fn erasing_a_visitor_removes_everything_stored_and_is_audited() {
    let edge = Edge::shared();
    let visitor = "visitor-api-erase";
    edge.post(
        "/v1/events",
        &batch(visitor, json!([add_to_cart("event-0001")])),
    );
    let path = format!("/v1/admin/visitors/demo/{visitor}");
    let (status, erased) = edge.delete(&path, Some(&edge.admin_token));
    assert_eq!(status, 200, "{erased}");
    assert_eq!(erased["events"], 1);
    let export = edge.export(visitor);
    assert_eq!(export["events"], json!([]));
    assert_eq!(export["profile"]["cart"], json!([]));
    assert_eq!(export["profile"]["events"], 0);
    let (_, audit) = edge.get("/v1/admin/audit", Some(&edge.admin_token));
    let entry = &audit["entries"][0];
    assert_eq!(entry["action"], "erase_visitor", "{audit}");
    assert_eq!(entry["detail"]["visitor_id"], visitor);
    assert_eq!(
        entry["who"], "owner",
        "the admin token is the owner: {entry}"
    );
}

/// POSTs with extra headers; returns the status, one response header and the body.
fn post_with(
    edge: &Edge,
    path: &str,
    body: &str,
    headers: &[(&str, &str)],
    wanted: &str,
) -> (u16, Option<String>, Value) {
    let mut request = ureq::post(&edge.url(path))
        .config()
        .http_status_as_error(false)
        .build();
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let mut response = request.send(body).expect("the edge answers");
    let status = response.status().as_u16();
    let header = response
        .headers()
        .get(wanted)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let text = response.body_mut().read_to_string().unwrap_or_default();
    (
        status,
        header,
        serde_json::from_str(&text).unwrap_or(Value::Null),
    )
}

fn decide_body(visitor: &str) -> String {
    json!({ "site": "demo", "visitor_id": visitor, "session_id": "session-0001",
            "page": { "url": "http://shop/", "path": "/", "kind": "home" } })
    .to_string()
}

#[test]
fn browser_origins_and_rate_limits() {
    let edge = Edge::start();

    // A page on another site cannot use the demo's key; an allowed origin can, and may read
    // the answer; the edge's own pages need nothing.
    let (status, _, body) = post_with(
        &edge,
        "/v1/decide",
        &decide_body("visitor-cors-0001"),
        &[("origin", "https://evil.example")],
        "access-control-allow-origin",
    );
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["field"], "origin");
    let (status, allowed, _) = post_with(
        &edge,
        "/v1/decide",
        &decide_body("visitor-cors-0001"),
        &[("origin", "https://tidewater.example")],
        "access-control-allow-origin",
    );
    assert_eq!(status, 200);
    assert_eq!(allowed.as_deref(), Some("https://tidewater.example"));
    let own = edge.base.clone();
    let (status, _, _) = post_with(
        &edge,
        "/v1/decide",
        &decide_body("visitor-cors-0001"),
        &[("origin", own.as_str())],
        "access-control-allow-origin",
    );
    assert_eq!(status, 200);

    // Preflights are answered for allowed origins only.
    let preflight = |origin: &str| {
        let response = ureq::options(&edge.url("/v1/events"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .config()
            .http_status_as_error(false)
            .build()
            .call()
            .expect("the edge answers");
        let allow = response
            .headers()
            .get("access-control-allow-origin")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        (response.status().as_u16(), allow)
    };
    assert_eq!(
        preflight("https://tidewater.example"),
        (204, Some("https://tidewater.example".to_owned()))
    );
    assert_eq!(preflight("https://evil.example"), (204, None));

    // One visitor may not flood the edge: past 120 requests a minute, 429 with Retry-After.
    let mut limited = None;
    for n in 0..160 {
        let (status, retry_after, _) = post_with(
            &edge,
            "/v1/decide",
            &decide_body("visitor-flood-0001"),
            &[],
            "retry-after",
        );
        if status == 429 {
            limited = Some((n, retry_after));
            break;
        }
        assert_eq!(status, 200);
    }
    let (n, retry_after) = limited.expect("the visitor was never limited");
    assert!(n >= 100, "limited after only {n} requests");
    assert_eq!(retry_after.as_deref(), Some("60"));
    // Other visitors are not affected.
    let (status, _, _) = post_with(
        &edge,
        "/v1/decide",
        &decide_body("visitor-calm-0001"),
        &[],
        "retry-after",
    );
    assert_eq!(status, 200);
}

#[test]
fn the_sites_answer_names_the_shops_currency() {
    let edge = Edge::shared();
    let (status, sites) = edge.get("/v1/admin/sites", Some(&edge.admin_token));
    assert_eq!(status, 200, "{sites}");
    // The demo rulebook's `settings.currency`.
    assert_eq!(sites["currency"], "EUR", "{sites}");
    assert!(sites["sites"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["site"] == "demo"));
}
