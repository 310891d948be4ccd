//! The server-to-server API, trusted facts, reports, previews and raw-event retention,
//! against the worker running in workerd.

use std::time::{Duration, Instant};

use rapport_e2e::{eventually, Edge};
use serde_json::{json, Value};

/// Each test's own visitor, customer and second (browser-identified) visitor, so that tests
/// sharing one edge keep apart.
fn ids(test: &str) -> (&'static str, &'static str, &'static str) {
    let leak = |s: String| &*s.leak();
    (
        leak(format!("visitor-srv-{test}")),
        leak(format!("C-{test}")),
        leak(format!("visitor-srv-{test}-b")),
    )
}
/// Short enough to watch expire (8.6 s).
const RETENTION_DAYS: &str = "0.0001";

fn browser_batch(visitor: &str, events: Value) -> String {
    json!({ "site": "demo", "visitor_id": visitor, "events": events }).to_string()
}

fn home_decision(edge: &Edge, visitor: &str, preview: Option<&str>) -> (u16, Value) {
    let mut body = json!({ "site": "demo", "visitor_id": visitor, "session_id": "session-srv-1",
        "page": { "url": "http://shop/", "path": "/", "kind": "home", "locale": "en" } });
    if let Some(token) = preview {
        body["preview"] = json!(token);
    }
    edge.post("/v1/decide", &body.to_string())
}

fn experiences(decision: &Value) -> Vec<String> {
    decision["experiences"]
        .as_array()
        .unwrap_or(&Vec::new())
        .iter()
        .map(|e| e["experience"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn server_events(edge: &Edge, key: &str, events: Value) -> (u16, Value) {
    edge.server(
        "POST",
        "/v1/server/events",
        Some(key),
        &json!({ "events": events }).to_string(),
    )
}

fn facts_of(edge: &Edge, key: &str, id: &str) -> Value {
    let (status, body) = edge.server("GET", &format!("/v1/server/customers/{id}"), Some(key), "");
    assert_eq!(status, 200, "{body}");
    body
}

/// Gives `customer` the gold tier and links `visitor` to it, as the shop's server does.
fn gold_customer_linked(edge: &Edge, customer: &str, visitor: &str) {
    let key = &edge.demo_server_key;
    let traits = json!({ "traits": { "tier": "gold", "points": 1200 } }).to_string();
    let path = format!("/v1/server/customers/{customer}");
    let (status, saved) = edge.server("PUT", &path, Some(key), &traits);
    assert_eq!(status, 200, "{saved}");
    let (status, answer) = server_events(edge, key, identify_event(customer, visitor));
    assert_eq!(status, 200, "{answer}");
}

fn identify_event(customer: &str, visitor: &str) -> Value {
    json!([{ "id": "srv-identify-0001", "customer_id": customer,
             "type": "identify", "visitor_id": visitor }])
}

/// The body of the widget's `identify` for `visitor`.
fn identify_body(visitor: &str, customer: &str, signature: &str) -> String {
    json!({ "site": "demo", "visitor_id": visitor, "customer_id": customer,
            "signature": signature })
    .to_string()
}

#[test]
fn server_keys_that_are_missing_wrong_or_the_admin_token_are_refused() {
    let edge = Edge::shared();
    let (_, customer, _) = ids("keys");
    // Keys: none, a wrong one, or the admin token are all refused.
    let purchase = json!([{ "id": "srv-order-0999", "customer_id": customer, "type": "purchase",
                            "order_id": "999", "value": 10.0 }]);
    let body = json!({ "events": purchase }).to_string();
    assert_eq!(edge.server("POST", "/v1/server/events", None, &body).0, 401);
    assert_eq!(
        edge.server("POST", "/v1/server/events", Some("nope"), &body)
            .0,
        401
    );
    let admin = edge.admin_token.clone();
    assert_eq!(
        edge.server("POST", "/v1/server/events", Some(&admin), &body)
            .0,
        401
    );
    assert_eq!(
        edge.server("GET", "/v1/server/customers/C-1", None, "").0,
        401
    );
}

#[test]
fn a_browser_cannot_report_purchases_or_set_traits() {
    let edge = Edge::shared();
    let (visitor, _, _) = ids("browser");
    // A browser cannot report purchases or set traits: the type is refused, the extra field
    // is ignored, and the profile has no trusted facts.
    let (status, answer) = edge.post(
        "/v1/events",
        &browser_batch(
            visitor,
            json!([
                { "id": "srv-page-0001", "session_id": "session-srv-1", "type": "page_view",
                  "page": { "url": "http://shop/", "path": "/", "kind": "home" },
                  "traits": { "tier": "gold" }, "purchases": { "count": 9 } },
                { "id": "srv-forged-0001", "session_id": "session-srv-1", "type": "purchase",
                  "value": 1000.0 },
            ]),
        ),
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["accepted"], json!(["srv-page-0001"]));
    assert_eq!(answer["rejected"][0]["field"], "events[1].type", "{answer}");
    let profile = &edge.export(visitor)["profile"];
    assert_eq!(profile["traits"], json!({}));
    assert_eq!(profile["purchases"]["count"], 0);
    let (_, decision) = home_decision(edge, visitor, None);
    assert!(!experiences(&decision).contains(&"vip-early-access-bar".to_owned()));
}

#[test]
fn traits_are_checked_and_replaced_by_a_put() {
    let edge = Edge::shared();
    let (_, customer, _) = ids("traits");
    let key = edge.demo_server_key.clone();
    // Traits: checked, named when wrong, replaced by a PUT.
    let put = |key: &str, traits: Value| {
        edge.server(
            "PUT",
            &format!("/v1/server/customers/{customer}"),
            Some(key),
            &json!({ "traits": traits }).to_string(),
        )
    };
    let (status, error) = put(&key, json!({ "Tier": "gold" }));
    assert_eq!(
        (status, &error["error"]["field"]),
        (400, &json!("traits.Tier"))
    );
    let (status, error) = put(&key, json!({ "tier": { "nested": true } }));
    assert_eq!(
        (status, &error["error"]["field"]),
        (400, &json!("traits.tier"))
    );
    let (status, error) = edge.server("PUT", "/v1/server/customers/a%2Fb", Some(&key), "{}");
    assert_eq!(status, 400, "{error}");
    let (status, saved) = put(&key, json!({ "tier": "gold", "points": 1200 }));
    assert_eq!(status, 200, "{saved}");
    assert_eq!(saved["traits"]["tier"], "gold");
}

#[test]
fn a_server_identify_brings_the_customers_facts_to_decisions() {
    let edge = Edge::shared();
    let (visitor, customer, _) = ids("identify");
    let key = edge.demo_server_key.clone();
    // Identify links the browser to the customer: its decisions now see the trusted facts.
    let (status, saved) = edge.server(
        "PUT",
        &format!("/v1/server/customers/{customer}"),
        Some(&key),
        &json!({ "traits": { "tier": "gold" } }).to_string(),
    );
    assert_eq!(status, 200, "{saved}");
    let (status, answer) = server_events(edge, &key, identify_event(customer, visitor));
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["accepted"], json!(["srv-identify-0001"]));
    let profile = &edge.export(visitor)["profile"];
    assert_eq!(profile["customer_id"], customer);
    assert_eq!(profile["traits"]["tier"], "gold");
    let (_, decision) = home_decision(edge, visitor, None);
    assert_eq!(
        experiences(&decision)[0],
        "vip-early-access-bar",
        "{decision}"
    );
    assert_eq!(decision["experiences"][0]["segment"], "vip");

    // A replayed server event is stored once.
    let (_, answer) = server_events(edge, &key, identify_event(customer, visitor));
    assert_eq!(answer["duplicates"], json!(["srv-identify-0001"]));
}

#[test]
fn the_widgets_identify_links_only_with_the_shops_signature() {
    let edge = Edge::shared();
    let (visitor, customer, other) = ids("signed");
    gold_customer_linked(edge, customer, visitor);
    // The widget's `identify`: the shop's server signed the customer id; a forged, missing or
    // other customer's signature links nothing.
    let signed = edge.identity_signature(customer);
    for (customer, signature, status, field) in [
        (customer, "00".repeat(32), 403, "signature"),
        (
            customer,
            edge.identity_signature("C-9999"),
            403,
            "signature",
        ),
        ("a/b", signed.clone(), 400, "customer_id"),
    ] {
        let (got, error) = edge.post("/v1/identify", &identify_body(other, customer, &signature));
        assert_eq!(
            (got, &error["error"]["field"]),
            (status, &json!(field)),
            "{error}"
        );
    }
    let (status, error) = edge.post(
        "/v1/identify",
        &json!({ "site": "demo", "visitor_id": other, "customer_id": customer }).to_string(),
    );
    assert_eq!(
        (status, &error["error"]["field"]),
        (400, &json!("signature"))
    );
    assert!(edge.export(other)["profile"]["customer_id"].is_null());
    let (status, answer) = edge.post("/v1/identify", &identify_body(other, customer, &signed));
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer, json!({ "identified": true }));
    assert_eq!(edge.export(other)["profile"]["traits"]["tier"], "gold");
}

#[test]
fn another_sites_key_reaches_only_its_own_customers() {
    let edge = Edge::shared();
    let (visitor, customer, _) = ids("outlet");
    gold_customer_linked(edge, customer, visitor);
    // Another site's key reaches only that site's customers, and cannot name this site.
    let outlet = edge.outlet_server_key.clone();
    let (status, error) = edge.server(
        "POST",
        "/v1/server/events",
        Some(&outlet),
        &json!({ "site": "demo", "events": [] }).to_string(),
    );
    assert_eq!((status, &error["error"]["field"]), (403, &json!("site")));
    let elsewhere = facts_of(edge, &outlet, customer);
    assert_eq!(elsewhere["traits"], json!({}));
    assert_eq!(elsewhere["visitors"], json!([]));
}

#[test]
fn each_bad_server_event_is_named_and_the_good_ones_count() {
    let edge = Edge::shared();
    let (visitor, customer, _) = ids("bad-events");
    let key = edge.demo_server_key.clone();
    gold_customer_linked(edge, customer, visitor);
    // Each bad server event is named; the good ones in the batch still count.
    let (status, answer) = server_events(
        edge,
        &key,
        json!([
            { "id": "srv-bad-type-01", "customer_id": customer, "type": "refund_all" },
            { "id": "srv-bad-value-1", "customer_id": customer, "type": "purchase",
              "order_id": "1", "value": "a lot" },
            { "id": "srv-negative-01", "customer_id": customer, "type": "purchase",
              "order_id": "1", "value": -5 },
            { "id": "srv-future-0001", "customer_id": customer, "type": "purchase",
              "order_id": "1", "value": 5, "time": "2999-01-01T00:00:00Z" },
            { "id": "srv-bad-customer", "customer_id": "a/b", "type": "identify",
              "visitor_id": visitor },
            { "id": "srv-ticket-0001", "customer_id": customer, "type": "support_ticket",
              "ticket_id": "T-77", "status": "open", "topic": "late delivery" },
        ]),
    );
    assert_eq!(status, 200, "{answer}");
    let fields: Vec<&str> = answer["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "events[0].type",
            "events[1].value",
            "events[2].value",
            "events[3].time",
            "events[4].customer_id"
        ],
        "{answer}"
    );
    assert_eq!(answer["accepted"], json!(["srv-ticket-0001"]));
    assert_eq!(
        edge.export(visitor)["profile"]["support"]["open_tickets"],
        1
    );
}

#[tokio::test]
async fn a_purchase_and_a_return_reach_the_customer_and_the_reports() {
    let edge = Edge::shared();
    let (visitor, customer, _) = ids("purchase");
    let key = edge.demo_server_key.clone();
    let admin = edge.admin_token.clone();
    gold_customer_linked(edge, customer, visitor);
    // The shopper sees and clicks the VIP bar, then buys; a return follows.
    let seen = json!({ "rule": "vip-early-access", "experience": "vip-early-access-bar",
                       "segment": "vip" });
    let mut impression = seen.clone();
    impression.as_object_mut().unwrap().extend(
        json!({ "id": "srv-impr-0001", "session_id": "session-srv-1", "type": "impression" })
            .as_object()
            .unwrap()
            .clone(),
    );
    let mut click = seen.clone();
    click.as_object_mut().unwrap().extend(
        json!({ "id": "srv-click-0001", "session_id": "session-srv-1", "type": "click" })
            .as_object()
            .unwrap()
            .clone(),
    );
    let (status, _) = edge.post(
        "/v1/events",
        &browser_batch(visitor, json!([impression, click])),
    );
    assert_eq!(status, 200);
    let (status, answer) = server_events(
        edge,
        &key,
        json!([
            { "id": "srv-order-1001", "customer_id": customer, "type": "purchase",
              "order_id": "1001", "value": 120.0, "visitor_id": visitor },
            { "id": "srv-return-1001", "customer_id": customer, "type": "return",
              "order_id": "1001", "value": 20.0 },
        ]),
    );
    assert_eq!(status, 200, "{answer}");
    let facts = facts_of(edge, &key, customer);
    assert_eq!(facts["purchases"]["count"], 1);
    assert_eq!(facts["purchases"]["returns"], 1);
    assert_eq!(facts["purchases"]["value"], 100.0);
    assert_eq!(facts["visitors"][0]["visitor_id"], visitor);
    assert_eq!(edge.export(visitor)["profile"]["purchases"]["value"], 100.0);

    // Reports: the impression, the click and the conversion, by experience and segment.
    let reports = |query: &str| edge.get(&format!("/v1/admin/reports?{query}"), Some(&admin));
    assert_eq!(reports("site=demo&from=2000-01-01&to=2100-01-01").0, 200);
    let (status, error) = reports("site=demo&from=yesterday&to=2100-01-01");
    assert_eq!((status, &error["error"]["field"]), (400, &json!("from")));
    assert_eq!(
        edge.get(
            "/v1/admin/reports?site=demo&from=2000-01-01&to=2100-01-01",
            None
        )
        .0,
        401
    );
    let total = eventually(Duration::from_secs(20), || {
        let (_, report) = reports("site=demo&from=2000-01-01&to=2100-01-01");
        let total = report["totals"]
            .as_array()?
            .iter()
            .find(|t| t["experience"] == "vip-early-access-bar")?
            .clone();
        (total["conversions"] == 1).then_some((total, report))
    })
    .await;
    let (total, report) = total.expect("the conversion reaches the reports");
    assert_eq!(total["impressions"], 1, "{report}");
    assert_eq!(total["clicks"], 1);
    assert_eq!(total["revenue"], 120.0);
    assert_eq!(total["click_through_rate"], 1.0);
    assert_eq!(total["conversion_rate"], 1.0);
    let row = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["experience"] == "vip-early-access-bar")
        .unwrap();
    assert_eq!(row["segment"], "vip");
}

#[test]
fn a_preview_token_forces_its_experience_with_the_trace() {
    let edge = Edge::shared();
    let admin = edge.admin_token.clone();
    // Previews: an admin makes a token; with it, any visitor sees the experience and the trace.
    let (status, error) = edge.post_admin(
        "/v1/admin/previews",
        &json!({ "site": "demo", "experience": "no-such-experience" }).to_string(),
    );
    assert_eq!(
        (status, &error["error"]["field"]),
        (400, &json!("experience"))
    );
    let made = edge.preview("service-recovery-modal");
    let token = made["token"].as_str().unwrap().to_owned();
    let stranger = "visitor-srv-stranger";
    let (status, previewed) = home_decision(edge, stranger, Some(&token));
    assert_eq!(status, 200, "{previewed}");
    assert_eq!(experiences(&previewed)[0], "service-recovery-modal");
    let forced = previewed["trace"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["rule"] == "service-recovery")
        .unwrap();
    assert_eq!(forced["reason"], "forced by a preview");
    let (_, plain) = home_decision(edge, stranger, None);
    assert!(plain.get("trace").is_none());
    assert!(!experiences(&plain).contains(&"service-recovery-modal".to_owned()));
    let (_, audit) = edge.get("/v1/admin/audit", Some(&admin));
    assert_eq!(audit["entries"][0]["action"], "create_preview", "{audit}");
    // Another site's token previews nothing here: the usual decision, and why.
    let (status, made) = edge.post_admin(
        "/v1/admin/previews",
        &json!({ "site": "outlet", "experience": "service-recovery-modal" }).to_string(),
    );
    assert_eq!(status, 200, "{made}");
    let (status, usual) = home_decision(edge, stranger, made["token"].as_str());
    assert_eq!(status, 200, "{usual}");
    assert_eq!(
        usual["preview_error"],
        "the preview token is for another site"
    );
    assert!(!experiences(&usual).contains(&"service-recovery-modal".to_owned()));
}

#[test]
fn a_preview_of_a_draft_decides_with_the_draft_and_needs_a_key_of_its_own() {
    let edge = Edge::shared();
    let draft = json!({ "rules.rhai": "rule(\"draft-only\", #{ description: \"d\", priority: 99,
        show: #{ id: \"draft-only-bar\", kind: \"bar\", content: #{ en: #{ body: \"Not live\" } } } });" });
    let (status, made) = edge.post_admin(
        "/v1/admin/previews",
        &json!({ "site": "demo", "experience": "draft-only-bar", "files": draft,
                 "path": "/products/linen-shirt" })
        .to_string(),
    );
    assert_eq!(status, 200, "{made}");
    assert!(made["link"]
        .as_str()
        .unwrap()
        .starts_with("/products/linen-shirt?rapport_preview="));
    let (status, previewed) = home_decision(edge, "visitor-srv-draft", made["token"].as_str());
    assert_eq!(status, 200, "{previewed}");
    assert_eq!(experiences(&previewed), vec!["draft-only-bar".to_owned()]);
    assert_eq!(previewed["rulebook"], made["draft"], "decided by the draft");
    // Without the link, nobody gets the draft.
    let (_, plain) = home_decision(edge, "visitor-srv-draft", None);
    assert!(!experiences(&plain).contains(&"draft-only-bar".to_owned()));
    // A draft that does not compile, or a path that is not one, is named.
    let (status, error) = edge.post_admin(
        "/v1/admin/previews",
        &json!({ "site": "demo", "experience": "x", "files": { "rules.rhai": "rule(" } })
            .to_string(),
    );
    assert_eq!(
        (status, &error["error"]["field"]),
        (400, &json!("files")),
        "{error}"
    );
    let (status, error) = edge.post_admin(
        "/v1/admin/previews",
        &json!({ "site": "demo", "experience": "service-recovery-modal", "path": "//elsewhere.example" })
            .to_string(),
    );
    assert_eq!(
        (status, &error["error"]["field"]),
        (400, &json!("path")),
        "{error}"
    );

    // An edge without PREVIEW_KEY makes no links, and a link shows the usual decision.
    let keyless = Edge::start_with(&[("PREVIEW_KEY", "")]);
    let (status, error) = keyless.post_admin(
        "/v1/admin/previews",
        &json!({ "site": "demo", "experience": "service-recovery-modal" }).to_string(),
    );
    assert_eq!(status, 503, "{error}");
    let (status, usual) = home_decision(&keyless, "visitor-srv-keyless", made["token"].as_str());
    assert_eq!(status, 200, "{usual}");
    assert_eq!(
        usual["preview_error"],
        "previews are not set up on this edge (no PREVIEW_KEY)"
    );
}

#[test]
fn erasing_a_visitor_unlinks_it_from_its_customer() {
    let edge = Edge::shared();
    let (visitor, customer, other) = ids("erase");
    let key = edge.demo_server_key.clone();
    let admin = edge.admin_token.clone();
    gold_customer_linked(edge, customer, visitor);
    let signed = edge.identity_signature(customer);
    edge.post("/v1/identify", &identify_body(other, customer, &signed));
    // Erasing the visitor also unlinks it from the customer.
    let (status, _) = edge.delete(&format!("/v1/admin/visitors/demo/{visitor}"), Some(&admin));
    assert_eq!(status, 200);
    let linked = facts_of(edge, &key, customer)["visitors"].clone();
    let linked: Vec<&Value> = linked
        .as_array()
        .unwrap()
        .iter()
        .map(|v| &v["visitor_id"])
        .collect();
    assert_eq!(
        linked,
        [&json!(other)],
        "only the browser-identified one is left"
    );
}

#[test]
fn the_same_id_twice_in_one_batch_is_stored_once() {
    let edge = Edge::shared();
    // The same id twice in one batch is stored once.
    let twice = json!({ "id": "srv-twice-0001", "session_id": "session-srv-1",
                        "type": "scroll", "percent": 30 });
    let (_, answer) = edge.post(
        "/v1/events",
        &browser_batch("visitor-srv-twice", json!([twice, twice])),
    );
    assert_eq!(answer["accepted"], json!(["srv-twice-0001"]), "{answer}");
    assert_eq!(answer["duplicates"], json!(["srv-twice-0001"]));
}

#[tokio::test]
async fn raw_events_expire_but_their_ids_still_catch_replays() {
    let edge = Edge::start_with(&[("EVENT_RETENTION_DAYS", RETENTION_DAYS)]);
    let started = Instant::now();
    // Raw events expire after the retention period; their ids stay, so replays are still
    // recognised.
    let visitor = "visitor-srv-retain";
    let event = json!([{ "id": "srv-retained-01", "session_id": "session-srv-1",
                         "type": "scroll", "percent": 50 }]);
    edge.post("/v1/events", &browser_batch(visitor, event.clone()));
    assert!(edge.export(visitor)["events"][0]["event"].is_object());
    let retention = Duration::from_secs_f64(0.0001 * 86_400.0);
    tokio::time::sleep(retention + Duration::from_secs(1)).await;
    let stored = &edge.export(visitor)["events"][0];
    assert_eq!(stored["expired"], true, "{stored}");
    assert!(stored["event"].is_null());
    let (_, answer) = edge.post("/v1/events", &browser_batch(visitor, event));
    assert_eq!(answer["duplicates"], json!(["srv-retained-01"]));
    assert!(started.elapsed() > retention);
}
