//! The analytics API against the worker in workerd: visitors driven through decisions,
//! exposures, clicks, purchases reported by the shop's server and survey answers, and every
//! count the API reports checked against what was sent, exactly. The experiment test uses
//! site `demo`, the others site `outlet`, so that their site-wide counts keep apart.

use std::time::Duration;

use rapport_e2e::{eventually, Edge};
use serde_json::{json, Value};

/// The UTC day the edge counts today's visitors on.
fn today() -> String {
    chrono::Utc::now().format("%Y-%m-%d").to_string()
}

fn page(path: &str, kind: &str) -> Value {
    json!({ "url": format!("https://tidewater.example{path}"), "path": path, "kind": kind })
}

fn decide(edge: &Edge, site: &str, visitor: &str, path: &str, kind: &str) -> Value {
    let body = json!({ "site": site, "visitor_id": visitor, "session_id": format!("{visitor}-s1"),
                       "page": page(path, kind) });
    let (status, answer) = edge.post("/v1/decide", &body.to_string());
    assert_eq!(status, 200, "{answer}");
    answer
}

fn send(edge: &Edge, site: &str, visitor: &str, events: Vec<Value>) {
    let body = json!({ "site": site, "visitor_id": visitor, "events": events });
    let (status, answer) = edge.post("/v1/events", &body.to_string());
    assert_eq!(status, 200, "{answer}");
    assert!(
        answer["rejected"].as_array().unwrap().is_empty(),
        "{answer}"
    );
}

fn event(id: String, session: &str, kind: &str, fields: Value) -> Value {
    let mut e = json!({ "id": id, "session_id": session, "type": kind });
    e.as_object_mut()
        .unwrap()
        .extend(fields.as_object().unwrap().clone());
    e
}

fn purchase(edge: &Edge, key: &str, visitor: &str, order: &str, value: f64) {
    let body = json!({ "events": [{ "id": format!("order-{order}"), "customer_id": format!("C-{visitor}"),
                                   "type": "purchase", "order_id": order, "value": value,
                                   "visitor_id": visitor }] });
    let (status, answer) = edge.server("POST", "/v1/server/events", Some(key), &body.to_string());
    assert_eq!(status, 200, "{answer}");
}

/// An analytics call; a 200 answer is checked against its schema in docs/openapi.json.
fn analytics(edge: &Edge, what: &str, query: &str) -> (u16, Value) {
    let (status, answer) = edge.get(
        &format!("/v1/admin/analytics/{what}?{query}"),
        Some(&edge.admin_token),
    );
    let template = match what.split_once('/') {
        Some((head, _)) => format!("/v1/admin/analytics/{head}/{{rule}}"),
        None => format!("/v1/admin/analytics/{what}"),
    };
    conforms(&template, status, &answer);
    (status, answer)
}

/// Fails unless `answer` matches the OpenAPI document's schema for `path` and `status`.
fn conforms(path: &str, status: u16, answer: &Value) {
    static DOC: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    let doc = DOC.get_or_init(|| {
        let file = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/openapi.json");
        serde_json::from_str(&std::fs::read_to_string(file).expect("docs/openapi.json"))
            .expect("docs/openapi.json is JSON")
    });
    let operation = &doc["paths"][path]["get"];
    assert!(operation.is_object(), "docs/openapi.json describes {path}");
    let response = &operation["responses"][status.to_string()];
    assert!(
        response.is_object(),
        "docs/openapi.json gives {path} a {status} answer"
    );
    let schema_ref = &response["content"]["application/json"]["schema"]["$ref"];
    let schema = json!({ "$ref": schema_ref, "components": doc["components"] });
    let validator = jsonschema::validator_for(&schema).expect("the document's schemas compile");
    let errors: Vec<String> = validator
        .iter_errors(answer)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "{path} {status} does not match docs/openapi.json: {errors:#?}\n{answer}"
    );
}

/// What one visitor did, and what the test expects of their arm's sums.
#[derive(Default, Debug, Clone, PartialEq)]
struct Sums {
    visitors: f64,
    conversions: f64,
    revenue: f64,
    revenue_ss: f64,
    clicks: f64,
    clicks_ss: f64,
}

#[tokio::test]
async fn experiments_count_each_visitor_once_with_exact_sufficient_statistics() {
    let edge = Edge::shared();
    let key = edge.demo_server_key.clone();
    let mut expected: std::collections::BTreeMap<String, Sums> = Default::default();
    for i in 0..24 {
        let visitor = format!("visitor-an-{i:04}");
        let session = format!("{visitor}-s1");
        let decision = decide(edge, "demo", &visitor, "/", "home");
        // The welcome is the experiment: a treatment shows, a control only exposes.
        let (arm, reference, kind) = match decision["experiences"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["rule"] == "welcome")
        {
            Some(e) => (
                e["variant"].as_str().unwrap().to_owned(),
                e.clone(),
                "impression",
            ),
            None => {
                let c = decision["controls"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|c| c["rule"] == "welcome")
                    .unwrap_or_else(|| panic!("{visitor} is in the welcome experiment: {decision}"))
                    .clone();
                assert!(
                    c["trigger"]["type"].is_string(),
                    "a control names its trigger: {c}"
                );
                (c["variant"].as_str().unwrap().to_owned(), c, "exposure")
            }
        };
        let r = json!({ "rule": "welcome", "experience": reference["experience"],
                        "variant": arm, "segment": reference["segment"] });
        let mut events = vec![event(format!("{visitor}-e1"), &session, kind, r.clone())];
        // A second exposure (another page) does not count the visitor twice.
        events.push(event(format!("{visitor}-e2"), &session, kind, r.clone()));
        let sums = expected.entry(arm.clone()).or_default();
        sums.visitors += 1.0;
        let clicks = if kind == "impression" {
            (i % 3) as f64
        } else {
            0.0
        };
        for c in 0..clicks as usize {
            events.push(event(
                format!("{visitor}-c{c}"),
                &session,
                "click",
                r.clone(),
            ));
        }
        sums.clicks += clicks;
        sums.clicks_ss += clicks * clicks;
        send(edge, "demo", &visitor, events);
        // Every third visitor buys, some twice.
        if i % 3 == 0 {
            let first = 20.0 + i as f64;
            purchase(edge, &key, &visitor, &format!("{i}-a"), first);
            let mut total = first;
            if i % 2 == 0 {
                purchase(edge, &key, &visitor, &format!("{i}-b"), 10.0);
                total += 10.0;
            }
            sums.conversions += 1.0;
            sums.revenue += total;
            sums.revenue_ss += total * total;
        }
    }
    let day = today();
    let query = format!("site=demo&from={day}&to={day}");
    let total: f64 = expected.values().map(|s| s.visitors).sum();
    let revenue: f64 = expected.values().map(|s| s.revenue).sum();
    let found = eventually(Duration::from_secs(30), || {
        let (status, answer) = analytics(edge, "experiments", &query);
        assert_eq!(status, 200, "{answer}");
        let welcome = answer["experiments"]
            .as_array()?
            .iter()
            .find(|e| e["rule"] == "welcome")?
            .clone();
        let arms = welcome["arms"].as_array()?;
        let visitors: f64 = arms.iter().map(|a| a["visitors"].as_f64().unwrap()).sum();
        let got: f64 = arms
            .iter()
            .map(|a| a["revenue"]["sum"].as_f64().unwrap())
            .sum();
        (visitors == total && got == revenue).then_some(welcome)
    })
    .await;
    let welcome = found.unwrap_or_else(|| {
        panic!(
            "the analytics reach {total} visitors and {revenue} revenue: {}",
            analytics(edge, "experiments", &query).1
        )
    });
    for arm in welcome["arms"].as_array().unwrap() {
        let name = arm["arm"].as_str().unwrap();
        let want = expected.get(name).cloned().unwrap_or_default();
        let got = Sums {
            visitors: arm["visitors"].as_f64().unwrap(),
            conversions: arm["conversion"]["sum"].as_f64().unwrap(),
            revenue: arm["revenue"]["sum"].as_f64().unwrap(),
            revenue_ss: arm["revenue"]["sum_squares"].as_f64().unwrap(),
            clicks: arm["clicks"]["sum"].as_f64().unwrap(),
            clicks_ss: arm["clicks"]["sum_squares"].as_f64().unwrap(),
        };
        assert_eq!(got, want, "arm {name}: {arm}");
        assert!(arm["weight"].is_number(), "{arm}");
    }
    assert!(welcome["srm_p_value"].is_number() || welcome["srm_p_value"].is_null());
    // Always-valid intervals read from the experiment's first exposure: a period that starts
    // tomorrow still reads today's visitors, and says since when; a fixed reading does not.
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1))
        .format("%Y-%m-%d")
        .to_string();
    for (interval, visitors, since) in [
        ("sequential", total, json!(day)),
        ("fixed", 0.0, Value::Null),
    ] {
        let (status, later) = analytics(
            edge,
            "experiments",
            &format!("site=demo&from={tomorrow}&to={tomorrow}&interval={interval}"),
        );
        assert_eq!(status, 200, "{later}");
        let later = later["experiments"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["rule"] == "welcome")
            .unwrap()
            .clone();
        let counted: f64 = later["arms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["visitors"].as_f64().unwrap())
            .sum();
        assert_eq!(counted, visitors, "{interval}: {later}");
        assert_eq!(later["since"], since, "{interval}: {later}");
    }
    assert!(
        welcome["verdict"]
            .as_str()
            .unwrap()
            .starts_with("Not enough data yet"),
        "{welcome}"
    );
    // One experiment, with its daily series.
    let (status, one) = analytics(edge, "experiments/welcome", &query);
    assert_eq!(status, 200, "{one}");
    let daily_visitors: f64 = one["daily"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["visitors"].as_f64().unwrap())
        .sum();
    assert_eq!(daily_visitors, total);
    assert_eq!(one["experiment"]["arms"], welcome["arms"]);
    let (status, missing) = analytics(edge, "experiments/no-such-rule", &query);
    assert_eq!(
        (status, &missing["error"]["field"]),
        (404, &json!("rule")),
        "{missing}"
    );
}

#[test]
fn bad_parameters_are_refused_naming_the_field() {
    let edge = Edge::shared();
    let day = today();
    let check = |what: &str, query: &str, field: &str| {
        let (status, answer) = analytics(edge, what, query);
        assert_eq!(status, 400, "{what}?{query}: {answer}");
        assert_eq!(answer["error"]["field"], field, "{what}?{query}: {answer}");
    };
    check(
        "experiments",
        "site=demo&from=2026-12-02&to=2026-12-01",
        "to",
    );
    check(
        "satisfaction",
        "site=demo&from=yesterday&to=2026-12-01",
        "from",
    );
    check("lifecycle", "site=demo&from=2026-12-01", "to");
    check("segments", "site=demo&from=2025-01-01&to=2026-12-01", "to");
    check(
        "weak-spots",
        &format!("site=demo&from={day}&to={day}&colour=red"),
        "colour",
    );
    check(
        "experiments",
        &format!("site=demo&from={day}&to={day}&interval=often"),
        "interval",
    );
    // Where there is no breakdown by segment, `segment` is refused, not ignored.
    for what in ["experiments", "lifecycle", "weak-spots"] {
        check(
            what,
            &format!("site=demo&from={day}&to={day}&segment=vip"),
            "segment",
        );
    }
    let (status, answer) = analytics(
        edge,
        "segments",
        &format!("site=elsewhere&from={day}&to={day}"),
    );
    assert_eq!(
        (status, &answer["error"]["field"]),
        (403, &json!("site")),
        "{answer}"
    );
    let (status, _) = edge.get(
        &format!("/v1/admin/analytics/segments?site=demo&from={day}&to={day}"),
        None,
    );
    assert_eq!(status, 401);
    // The reports take the same check.
    let (status, answer) = edge.get(
        "/v1/admin/reports?site=demo&from=2026-12-02&to=2026-12-01",
        Some(&edge.admin_token),
    );
    assert_eq!(
        (status, &answer["error"]["field"]),
        (400, &json!("to")),
        "{answer}"
    );
}

#[tokio::test]
async fn satisfaction_lifecycle_weak_spots_and_segments_count_what_was_sent() {
    let edge = Edge::shared();
    let key = edge.outlet_server_key.clone();
    let site = "outlet";
    let day = today();
    let query = format!("site={site}&from={day}&to={day}");
    let nps_ref =
        json!({ "rule": "nps-survey", "experience": "nps-after-purchase", "segment": "everyone" });
    // Ten visitors: each decided on the home page (a visitor-day, in stage "new"), each with a
    // page view; scores 0..=9 on the NPS; the first also a CSAT of 5 and a comment with its 3.
    for i in 0..10u8 {
        let visitor = format!("visitor-sat-{i:04}");
        let session = format!("{visitor}-s1");
        decide(edge, site, &visitor, "/", "home");
        let mut events = vec![event(
            format!("{visitor}-p1"),
            &session,
            "page_view",
            json!({ "page": page("/products/mug", "product") }),
        )];
        let mut answer = json!({ "survey": "nps", "score": i });
        if i == 3 {
            answer["comment"] = json!("Shipping took three weeks");
        }
        let mut fields = nps_ref.clone();
        fields
            .as_object_mut()
            .unwrap()
            .extend(answer.as_object().unwrap().clone());
        // The survey is shown, then answered.
        events.push(event(
            format!("{visitor}-i1"),
            &session,
            "impression",
            nps_ref.clone(),
        ));
        events.push(event(format!("{visitor}-a1"), &session, "answer", fields));
        if i == 0 {
            let mut csat =
                json!({ "rule": "csat", "experience": "csat", "survey": "csat", "score": 5 });
            csat["segment"] = json!("everyone");
            events.push(event(format!("{visitor}-a2"), &session, "answer", csat));
            // Frustration, an empty search and a sold-out product, on the mug's page.
            events.push(event(
                format!("{visitor}-r1"),
                &session,
                "rage_click",
                json!({ "target": "button.add" }),
            ));
            events.push(event(
                format!("{visitor}-r2"),
                &session,
                "rage_click",
                json!({}),
            ));
            events.push(event(
                format!("{visitor}-q1"),
                &session,
                "search",
                json!({ "query": "Neoprene Socks", "results": 0 }),
            ));
            events.push(event(
                format!("{visitor}-q2"),
                &session,
                "search",
                json!({ "query": "towel", "results": 4 }),
            ));
            events.push(event(format!("{visitor}-v1"), &session, "product_view",
                json!({ "product": { "id": "enamel-mug", "name": "Enamel mug", "availability": "OutOfStock" } })));
        }
        if i == 1 {
            // A cart: a move from new to cart.
            events.push(event(
                format!("{visitor}-c1"),
                &session,
                "add_to_cart",
                json!({ "product": { "id": "linen-shirt", "price": 59.0 } }),
            ));
        }
        send(edge, site, &visitor, events);
        if i == 2 {
            // A second session, straight after: the first one's landing was left at once.
            let later = format!("{visitor}-s2");
            send(
                edge,
                site,
                &visitor,
                vec![event(
                    format!("{visitor}-p2"),
                    &later,
                    "page_view",
                    json!({ "page": page("/", "home") }),
                )],
            );
        }
    }
    // Five more visitors are shown the survey and leave it: 10 answers of 15 shown.
    for i in 10..15u8 {
        let visitor = format!("visitor-sat-{i:04}");
        let session = format!("{visitor}-s1");
        let shown = event(
            format!("{visitor}-i1"),
            &session,
            "impression",
            nps_ref.clone(),
        );
        send(edge, site, &visitor, vec![shown]);
    }
    // One purchase, by visitor 1, once the shop's server has linked them to their account.
    let body = json!({ "events": [{ "id": "identify-sat-1", "customer_id": "C-sat-1", "type": "identify",
                                   "visitor_id": "visitor-sat-0001" },
                                  { "id": "order-sat-1", "customer_id": "C-sat-1", "type": "purchase",
                                   "order_id": "sat-1", "value": 59.0, "visitor_id": "visitor-sat-0001" }] });
    let (status, answer) = edge.server("POST", "/v1/server/events", Some(&key), &body.to_string());
    assert_eq!(status, 200, "{answer}");

    // Satisfaction: scores 0-9 are 6 detractors (0-6), 2 passives (7-8), 1 promoter (9).
    let satisfaction = eventually(Duration::from_secs(30), || {
        let (status, s) = analytics(edge, "satisfaction", &query);
        assert_eq!(status, 200, "{s}");
        let survey = s["responses"]
            .as_array()?
            .iter()
            .find(|r| r["experience"] == "nps-after-purchase")?
            .clone();
        (s["overall"]["nps_answers"] == 10.0
            && s["overall"]["csat_answers"] == 1.0
            && survey["shown"] == 15.0)
            .then_some(s)
    })
    .await
    .unwrap_or_else(|| panic!("{}", analytics(edge, "satisfaction", &query).1));
    let overall = &satisfaction["overall"];
    assert_eq!(
        (
            &overall["promoters"],
            &overall["passives"],
            &overall["detractors"]
        ),
        (&json!(1.0), &json!(2.0), &json!(7.0)),
        "{overall}"
    );
    assert_eq!(overall["nps"]["value"], -60.0);
    assert!(overall["nps"]["ci_low"].as_f64().unwrap() < -60.0);
    assert_eq!(overall["csat"]["value"], 1.0);
    assert_eq!(
        satisfaction["low_score_comments"][0]["comment"],
        "Shipping took three weeks"
    );
    assert_eq!(satisfaction["low_score_comments"][0]["score"], 3);
    assert_eq!(
        satisfaction["low_score_comments"][0]["page"],
        "/products/mug"
    );
    // 10 answers of 15 surveys shown: Wilson's 95% interval is 41.7% to 84.8%.
    let survey = satisfaction["responses"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["experience"] == "nps-after-purchase")
        .unwrap();
    assert_eq!(
        (&survey["survey"], &survey["answers"]),
        (&json!("nps"), &json!(10.0))
    );
    let rate = &survey["rate"];
    assert!(
        (rate["value"].as_f64().unwrap() - 2.0 / 3.0).abs() < 1e-9,
        "{rate}"
    );
    assert!(
        (rate["ci_low"].as_f64().unwrap() - 0.4171).abs() < 1e-3,
        "{rate}"
    );
    assert!(
        (rate["ci_high"].as_f64().unwrap() - 0.8483).abs() < 1e-3,
        "{rate}"
    );
    // The comment, grouped by its page and by its survey.
    let by_page = &satisfaction["comments_by_page"][0];
    assert_eq!(
        (&by_page["key"], &by_page["comments"]),
        (&json!("/products/mug"), &json!(1.0))
    );
    assert_eq!(by_page["latest"][0]["comment"], "Shipping took three weeks");
    assert_eq!(
        satisfaction["comments_by_experience"][0]["key"],
        "nps-after-purchase"
    );
    let kinds = satisfaction["by_page_kind"].as_array().unwrap();
    assert_eq!(kinds[0]["key"], "product", "{kinds:?}");
    assert_eq!(satisfaction["weekly"].as_array().unwrap().len(), 1);

    // Weak spots.
    // (Visitor 2's second session is a later flush of its own.)
    let weak = eventually(Duration::from_secs(30), || {
        let (status, weak) = analytics(edge, "weak-spots", &query);
        assert_eq!(status, 200, "{weak}");
        let pages = weak["pages"].as_array()?;
        pages
            .iter()
            .any(|p| p["path"] == "/products/mug" && p["quick_exits"] == 1.0)
            .then_some(weak)
    })
    .await
    .unwrap_or_else(|| panic!("{}", analytics(edge, "weak-spots", &query).1));
    let mug = weak["pages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["path"] == "/products/mug")
        .unwrap();
    assert_eq!(mug["rage_clicks"], 2.0, "{weak}");
    assert_eq!(mug["views"], 10.0);
    assert_eq!(mug["detractors"], 7.0);
    assert_eq!(mug["quick_exits"], 1.0);
    // Ten views are too few to rank a page, a single empty search too few to rank a query.
    for ranking in [
        "by_rage_clicks",
        "by_quick_exits",
        "by_detractors",
        "zero_result_searches",
    ] {
        assert_eq!(weak[ranking], json!([]), "{ranking}: {weak}");
    }
    // "neoprene socks" found nothing, "towel" four products: half the searches.
    assert_eq!(
        weak["site_rates"]["empty_results_per_search"], 0.5,
        "{weak}"
    );
    assert_eq!(weak["sold_out_products"][0]["key"], "enamel-mug");
    assert_eq!(weak["sold_out_products"][0]["name"], "Enamel mug");

    // The lifecycle: ten new visitors that day; one moved to cart, then bought.
    let lifecycle = eventually(Duration::from_secs(30), || {
        let (_, l) = analytics(edge, "lifecycle", &query);
        l["movements"]
            .as_array()?
            .iter()
            .any(|m| m["to"] == "customer")
            .then_some(l)
    })
    .await
    .unwrap_or_else(|| panic!("{}", analytics(edge, "lifecycle", &query).1));
    let funnel = lifecycle["funnel"].as_array().unwrap();
    assert_eq!(
        funnel[0],
        json!({ "stage": "new", "visitors": 10.0 }),
        "{lifecycle}"
    );
    let moved = |from: &str, to: &str| {
        lifecycle["movements"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["from"] == from && m["to"] == to)
            .map(|m| m["visitors"].clone())
    };
    assert_eq!(moved("new", "cart"), Some(json!(1.0)), "{lifecycle}");
    assert_eq!(moved("cart", "customer"), Some(json!(1.0)), "{lifecycle}");
    assert_eq!(moved("new", "engaged"), Some(json!(1.0)), "{lifecycle}");

    // Segments: the whole site is ten visitor-days, one of which converted.
    let (status, segments) = analytics(edge, "segments", &query);
    assert_eq!(status, 200, "{segments}");
    assert_eq!(segments["whole_site"]["visitor_days"], 10.0, "{segments}");
    assert_eq!(segments["whole_site"]["converting_days"], 1.0);
    assert_eq!(segments["whole_site"]["revenue"], 59.0);
    assert_eq!(segments["whole_site"]["nps_answers"], 10.0);
    let first_time = segments["segments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["segment"] == "first_time")
        .expect("the demo rulebook's first_time segment");
    assert_eq!(first_time["visitor_days"], 10.0, "{first_time}");
    assert!(first_time["rules"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["rule"] == "welcome"));
    // Today's purchases may still come: no day of the period has matured, so no conversion
    // check is judged, and the answer says how it judges.
    assert_eq!(segments["matured_to"], Value::Null, "{segments}");
    assert_eq!(segments["false_discovery_rate"], 0.1);
    assert!(segments["method"]
        .as_str()
        .unwrap()
        .contains("Benjamini–Hochberg"));
    assert!(!first_time["needs_attention"].as_bool().unwrap());
    let (status, one) = analytics(edge, "segments", &format!("{query}&segment=first_time"));
    assert_eq!(status, 200);
    assert_eq!(one["segments"].as_array().unwrap().len(), 1);
}

/// A rulebook with a universal holdout and one personalised rule.
const HOLDOUT: &str = r#"
settings(#{ default_locale: "en", holdout: 30 });
rule("hello", #{ description: "A personalised bar for everyone", priority: 10, page: "home",
    show: #{ id: "hello-bar", kind: "bar", content: #{ en: #{ body: "Hello again" } } } });
"#;

#[tokio::test]
async fn the_universal_holdout_is_measured_as_the_programmes_own_experiment() {
    let edge = Edge::start();
    let (status, published) = edge.post_admin(
        "/v1/admin/rulebooks",
        &json!({ "files": { "holdout.rhai": HOLDOUT }, "note": "holdout test" }).to_string(),
    );
    assert_eq!(status, 201, "{published}");
    let version = published["version"].clone();
    eventually(Duration::from_secs(15), || {
        (decide(&edge, "demo", "visitor-hold-probe", "/", "home")["rulebook"] == version)
            .then_some(())
    })
    .await
    .expect("the new rulebook decides");
    let key = edge.demo_server_key.clone();
    // 40 visitors, each sending what the widget would: an impression of each experience
    // shown, an exposure for each arm that shows nothing. Those shown the bar are
    // personalised, the others held out; each arm is enrolled by its first exposure.
    let (mut shown, mut held) = (0.0, 0.0);
    for i in 0..40 {
        let visitor = format!("visitor-hold-{i:04}");
        let decision = decide(&edge, "demo", &visitor, "/", "home");
        let list = |name: &str| decision[name].as_array().cloned().unwrap_or_default();
        let (experiences, ghosts) = (list("experiences"), list("controls"));
        if experiences.iter().any(|e| e["experience"] == "hello-bar") {
            shown += 1.0;
        } else {
            held += 1.0;
        }
        // The programme's exposure comes with the decision, for either arm.
        assert_eq!(ghosts.len(), 1, "{decision}");
        assert_eq!(ghosts[0]["rule"], "", "{decision}");
        let reference = |e: &Value| json!({ "rule": e["rule"], "experience": e["experience"], "variant": e["variant"] });
        let session = format!("{visitor}-s1");
        let mut events: Vec<Value> = experiences
            .iter()
            .map(|e| event(format!("{visitor}-i"), &session, "impression", reference(e)))
            .collect();
        events.push(event(
            format!("{visitor}-x"),
            &session,
            "exposure",
            reference(&ghosts[0]),
        ));
        send(&edge, "demo", &visitor, events);
        if i % 4 == 0 {
            purchase(&edge, &key, &visitor, &format!("hold-{i}"), 30.0);
        }
    }
    // Once enrolled, the decision carries no more programme exposures.
    let again = decide(&edge, "demo", "visitor-hold-0000", "/", "home");
    assert!(again.get("controls").is_none(), "{again}");
    let day = today();
    let query = format!("site=demo&from={day}&to={day}");
    // The probe visitor sent nothing and is in no arm: 40 in the programme, 10 of whom
    // bought.
    let programme = eventually(Duration::from_secs(30), || {
        let (status, answer) = analytics(&edge, "experiments/~programme", &query);
        assert_eq!(status, 200, "{answer}");
        let arms = answer["experiment"]["arms"].as_array()?;
        let sum = |f: &dyn Fn(&Value) -> f64| arms.iter().map(f).fold(0.0, |a, b| a + b);
        let visitors = sum(&|a| a["visitors"].as_f64().unwrap());
        let conversions = sum(&|a| a["conversion"]["sum"].as_f64().unwrap());
        (visitors == 40.0 && conversions == 10.0).then_some(answer)
    })
    .await
    .unwrap_or_else(|| panic!("{}", analytics(&edge, "experiments/~programme", &query).1));
    let experiment = &programme["experiment"];
    assert_eq!(experiment["programme"], true);
    assert_eq!(experiment["rule"], "");
    let arm = |name: &str| {
        experiment["arms"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["arm"] == name)
            .unwrap_or_else(|| panic!("arm {name}: {experiment}"))
            .clone()
    };
    let (holdout, personalised) = (arm("holdout"), arm("personalised"));
    assert_eq!(holdout["weight"], 0.3);
    assert_eq!(holdout["baseline"], true);
    assert_eq!(holdout["visitors"].as_f64().unwrap(), held);
    assert_eq!(personalised["visitors"].as_f64().unwrap(), shown);
    assert_eq!(
        personalised["revenue"]["sum"].as_f64().unwrap()
            + holdout["revenue"]["sum"].as_f64().unwrap(),
        300.0
    );
}
