//! Publishing rulebooks through the admin API of the edge running in workerd: refused with
//! diagnostics when invalid or when its tests fail, live within seconds when accepted,
//! rolled back in one call, and every change in the audit log.

use std::time::Duration;

use rapport_e2e::{eventually_blocking, Edge};
use serde_json::{json, Value};

const SALE: &str = r#"rule("autumn-sale", #{
    description: "Announce the autumn sale on the home page",
    page: "home",
    show: #{ id: "autumn-bar", kind: "bar", content: #{ en: #{ body: "Autumn sale: 20% off throws" } } },
});"#;

const SALE_TEST: &str = r#"[{"name": "the sale shows on home", "page": {"url": "/", "path": "/", "kind": "home"}, "expect": ["autumn-bar"]}]"#;

const WINTER: &str = r#"rule("winter-sale", #{
    description: "Announce the winter sale on the home page",
    page: "home",
    show: #{ id: "winter-bar", kind: "bar", content: #{ en: #{ body: "Winter sale" } } },
});"#;

fn publish(edge: &Edge, files: Value, note: &str) -> (u16, Value) {
    edge.post_admin(
        "/v1/admin/rulebooks",
        &json!({ "files": files, "note": note }).to_string(),
    )
}

/// What a new visitor on the home page is shown, by experience id.
fn shown(edge: &Edge, visitor: &str) -> Vec<String> {
    let (status, decision) = edge.post(
        "/v1/decide",
        &json!({ "site": "demo", "visitor_id": visitor, "session_id": "session-0001",
                 "page": { "url": "http://shop/", "path": "/", "kind": "home" } })
        .to_string(),
    );
    assert_eq!(status, 200, "{decision}");
    decision["experiences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["experience"].as_str().unwrap().to_owned())
        .collect()
}

/// Waits for decisions to show `experience` (isolates check for a new version every 5 s).
fn wait_for(edge: &Edge, experience: &str) {
    let mut n = 0;
    let showed = eventually_blocking(Duration::from_secs(20), || {
        n += 1;
        shown(edge, &format!("visitor-wait-{n:04}"))
            .contains(&experience.to_owned())
            .then_some(())
    });
    assert!(showed.is_some(), "{experience} never showed");
}

/// The active rulebook's version, and the newest audit entry's action.
fn active_and_last_action(edge: &Edge) -> (Value, Value) {
    let (_, health) = edge.get("/v1/health", None);
    let (_, audit) = edge.get("/v1/admin/audit", Some(&edge.admin_token));
    (
        health["rulebook"].clone(),
        audit["entries"][0]["action"].clone(),
    )
}

/// Publishes `files`, expecting a refusal with `status`; checks that nothing changed but
/// the audit log, and gives the answer.
fn refused(edge: &Edge, files: Value, status: u16) -> Value {
    let (active, _) = active_and_last_action(edge);
    let (got, answer) = publish(edge, files, "refused");
    assert_eq!(got, status, "{answer}");
    let (now_active, last) = active_and_last_action(edge);
    assert_eq!(
        now_active, active,
        "a refused publish changed the active rulebook"
    );
    if status == 422 {
        assert_eq!(last, "publish_refused");
    }
    answer
}

#[test]
fn a_rulebook_that_does_not_compile_is_refused_with_file_line_and_column() {
    let answer = refused(
        Edge::shared(),
        json!({ "sale.rhai": "rule(\"x\", #{ who: \"nobody\", show: #{ kind: \"bar\", content: #{ en: #{ body: \"x\" } } } });" }),
        422,
    );
    assert_eq!(answer["error"]["code"], "invalid_rulebook");
    assert_eq!(
        answer["diagnostics"][0]["text"],
        "sale.rhai:1:14: error: rule \"x\": unknown segment \"nobody\""
    );
}

#[test]
fn a_rulebook_whose_own_tests_fail_is_refused() {
    let answer = refused(
        Edge::shared(),
        json!({ "sale.rhai": SALE, "tests/sale.json": SALE_TEST.replace("autumn-bar", "other-bar") }),
        422,
    );
    assert_eq!(answer["error"]["code"], "tests_failed");
    assert_eq!(answer["tests"]["failed"], 1);
}

#[test]
fn file_names_other_than_rules_and_tests_are_refused() {
    let answer = refused(Edge::shared(), json!({ "../sale.rhai": SALE }), 400);
    assert_eq!(answer["error"]["field"], "files.../sale.rhai");
}

#[test]
fn a_valid_rulebook_goes_live_within_seconds_and_rolling_back_activates_the_earlier_one() {
    let edge = Edge::shared();
    let (status, first) = publish(
        edge,
        json!({ "sale.rhai": SALE, "tests/sale.json": SALE_TEST }),
        "autumn sale",
    );
    assert_eq!(status, 201, "{first}");
    assert_eq!(first["tests_passed"], 1);
    wait_for(edge, "autumn-bar");
    let (_, health) = edge.get("/v1/health", None);
    assert_eq!(health["rulebook"], first["version"]);

    assert_eq!(first["warnings"], json!([]));
    let (status, second) = publish(edge, json!({ "sale.rhai": WINTER }), "winter sale");
    assert_eq!(status, 201, "{second}");
    // A rule without a test goes live, with the warning `rapport check` gives.
    assert_eq!(second["warnings"][0]["severity"], "warning");
    assert_eq!(
        second["warnings"][0]["text"],
        "sale.rhai:1:1: warning: rule \"winter-sale\": no test case expects it: add one to tests/ that shows what it does"
    );
    wait_for(edge, "winter-bar");

    // Rolling back is activating the earlier version.
    let id = first["id"].as_i64().unwrap();
    let (status, rolled) = edge.post_admin(&format!("/v1/admin/rulebooks/{id}/activate"), "");
    assert_eq!(status, 200, "{rolled}");
    assert_eq!(rolled["previous"], second["id"]);
    wait_for(edge, "autumn-bar");

    let (status, list) = edge.get("/v1/admin/rulebooks", Some(&edge.admin_token));
    assert_eq!(status, 200);
    assert_eq!(list["active"], id);
    let ids: Vec<&Value> = list["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| &v["id"])
        .collect();
    assert_eq!(ids[..2], [&second["id"], &first["id"]], "newest first");
    let (status, stored) = edge.get(
        &format!("/v1/admin/rulebooks/{id}"),
        Some(&edge.admin_token),
    );
    assert_eq!(status, 200);
    assert_eq!(stored["files"]["sale.rhai"], SALE);

    let (_, audit) = edge.get("/v1/admin/audit", Some(&edge.admin_token));
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .take(3)
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["activate", "publish", "publish"], "{audit}");
}

#[test]
fn rulebook_calls_want_the_admin_token_and_unknown_versions_are_not_found() {
    let edge = Edge::shared();
    assert_eq!(edge.get("/v1/admin/rulebooks", None).0, 401);
    assert_eq!(edge.post("/v1/admin/rulebooks", "{}").0, 401);
    assert_eq!(
        edge.get("/v1/admin/rulebooks/9999", Some(&edge.admin_token))
            .0,
        404
    );
    assert_eq!(
        edge.get("/v1/admin/rulebooks/latest", Some(&edge.admin_token))
            .0,
        400
    );
}

#[test]
fn the_built_in_rulebook_is_there_to_start_from_and_checks_clean() {
    let edge = Edge::shared();
    let (status, builtin) = edge.get("/v1/admin/rulebooks/builtin", Some(&edge.admin_token));
    assert_eq!(status, 200, "{builtin}");
    assert_eq!(builtin["id"], Value::Null);
    let files = builtin["files"].as_object().unwrap();
    assert!(files.contains_key("welcome.rhai") && files.contains_key("tests/welcome.json"));
    // What the console's workspace starts from could be published as it is.
    let (status, checked) = edge.post_admin(
        "/v1/admin/check",
        &json!({ "files": builtin["files"] }).to_string(),
    );
    assert_eq!(status, 200, "{checked}");
    assert_eq!(checked["publishable"], true, "{checked}");
    assert!(checked["tests"]["passed"].as_u64().unwrap() > 10);
    let rules = checked["outline"]["rules"].as_array().unwrap();
    assert!(rules
        .iter()
        .any(|r| r["id"] == "welcome" && r["experiment"] == true));
    let (status, _) = edge.get("/v1/admin/rulebooks/builtin", None);
    assert_eq!(status, 401, "the admin token is needed");
}

/// A rule that spins for visitors who looked at one product: stopped at the operations limit
/// in workerd, the visitor still decided for, and the rule remembered in their profile.
#[test]
fn a_rule_that_runs_away_for_a_visitor_is_stopped_and_remembered_in_their_profile() {
    let edge = Edge::start();
    let rules = r#"rule("runaway", #{ description: "Spins for one product's viewers", priority: 10,
        who: |v| { if v.recent_products.len() > 0 && v.recent_products[0].id == "spin-me" { let n = 0; loop { n += 1; } } true },
        show: #{ kind: "bar", content: #{ en: #{ body: "Runaway" } } } });
rule("steady", #{ description: "Always there", priority: 1,
        show: #{ kind: "toast", content: #{ en: #{ body: "Steady" } } } });"#;
    let (status, published) = publish(&edge, json!({ "rules.rhai": rules }), "runaway");
    assert_eq!(status, 201, "{published}");
    wait_for(&edge, "runaway");
    let visitor = "visitor-spinning-0001";
    let events = json!([
        { "id": "spin-event-1", "session_id": "session-0001", "type": "consent", "analytics": true, "personalization": true },
        { "id": "spin-event-2", "session_id": "session-0001", "type": "product_view",
          "page": { "url": "http://shop/p/spin-me", "path": "/p/spin-me", "kind": "product" },
          "product": { "id": "spin-me", "name": "Spinning top", "price": 9.0 } }
    ]);
    let (status, answer) = edge.post(
        "/v1/events",
        &json!({ "site": "demo", "visitor_id": visitor, "events": events }).to_string(),
    );
    assert_eq!(status, 200, "{answer}");
    // Decided for all the same: the other rule shows; twice, the second without running it.
    assert_eq!(shown(&edge, visitor), ["steady"]);
    let profile = edge.export(visitor)["profile"].clone();
    assert_eq!(
        profile["stopped"],
        json!([{ "rulebook": published["version"], "rule": "runaway" }]),
        "{profile}"
    );
    assert_eq!(shown(&edge, visitor), ["steady"]);
}
