//! Publishing rulebooks through the admin API of the edge running in workerd: refused with
//! diagnostics when invalid or when its tests fail, live within seconds when accepted,
//! rolled back in one call, and every change in the audit log.

use std::time::{Duration, Instant};

use rapport_e2e::Edge;
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
    let started = Instant::now();
    let mut n = 0;
    loop {
        n += 1;
        if shown(edge, &format!("visitor-wait-{n:04}")).contains(&experience.to_owned()) {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{experience} never showed"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn publish_test_gate_rollback_and_audit() {
    let edge = Edge::start();
    let (_, health) = edge.get("/v1/health", None);
    let builtin = health["rulebook"].as_str().unwrap().to_owned();

    // A rulebook that does not compile is refused with file:line:col, and nothing changes.
    let (status, refused) = publish(
        &edge,
        json!({ "sale.rhai": "rule(\"x\", #{ who: \"nobody\", show: #{ kind: \"bar\", content: #{ en: #{ body: \"x\" } } } });" }),
        "broken",
    );
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["error"]["code"], "invalid_rulebook");
    assert_eq!(
        refused["diagnostics"][0]["text"],
        "sale.rhai:1:1: error: rule \"x\": unknown segment \"nobody\""
    );

    // A rulebook whose own tests fail is refused too.
    let (status, refused) = publish(
        &edge,
        json!({ "sale.rhai": SALE, "tests/sale.json": SALE_TEST.replace("autumn-bar", "other-bar") }),
        "wrong test",
    );
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["error"]["code"], "tests_failed");
    assert_eq!(refused["tests"]["failed"], 1);

    // File names are checked.
    let (status, refused) = publish(&edge, json!({ "../sale.rhai": SALE }), "bad name");
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused["error"]["field"], "files.../sale.rhai");

    let (_, health) = edge.get("/v1/health", None);
    assert_eq!(
        health["rulebook"],
        builtin.as_str(),
        "a refused publish changed nothing"
    );

    // A valid rulebook goes live for every decision within seconds.
    let (status, first) = publish(
        &edge,
        json!({ "sale.rhai": SALE, "tests/sale.json": SALE_TEST }),
        "autumn sale",
    );
    assert_eq!(status, 201, "{first}");
    assert_eq!(first["tests_passed"], 1);
    wait_for(&edge, "autumn-bar");
    let (_, health) = edge.get("/v1/health", None);
    assert_eq!(health["rulebook"], first["version"]);

    let (status, second) = publish(&edge, json!({ "sale.rhai": WINTER }), "winter sale");
    assert_eq!(status, 201, "{second}");
    wait_for(&edge, "winter-bar");

    // Rolling back is activating the earlier version.
    let id = first["id"].as_i64().unwrap();
    let (status, rolled) = edge.post_admin(&format!("/v1/admin/rulebooks/{id}/activate"), "");
    assert_eq!(status, 200, "{rolled}");
    wait_for(&edge, "autumn-bar");

    let (status, list) = edge.get("/v1/admin/rulebooks", Some(&edge.admin_token));
    assert_eq!(status, 200);
    assert_eq!(list["active"], id);
    assert_eq!(list["versions"].as_array().unwrap().len(), 2);
    let (status, stored) = edge.get(
        &format!("/v1/admin/rulebooks/{id}"),
        Some(&edge.admin_token),
    );
    assert_eq!(status, 200);
    assert_eq!(stored["files"]["sale.rhai"], SALE);
    assert_eq!(
        edge.get("/v1/admin/rulebooks/99", Some(&edge.admin_token))
            .0,
        404
    );

    let (_, audit) = edge.get("/v1/admin/audit", Some(&edge.admin_token));
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "activate",
            "publish",
            "publish",
            "publish_refused",
            "publish_refused"
        ],
        "{audit}"
    );

    // None of it without the token.
    assert_eq!(edge.get("/v1/admin/rulebooks", None).0, 401);
    assert_eq!(edge.post("/v1/admin/rulebooks", "{}").0, 401);
}
