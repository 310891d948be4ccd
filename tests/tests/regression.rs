//! Regression tests, each named after what it pins.

use rapport_e2e::Edge;
use serde_json::json;

fn home_decision(edge: &Edge, visitor: &str, preview: &str) -> (u16, serde_json::Value) {
    let body = json!({ "site": "demo", "visitor_id": visitor, "session_id": "session-reg-1",
        "page": { "url": "http://shop/", "path": "/", "kind": "home", "locale": "en" },
        "preview": preview });
    edge.post("/v1/decide", &body.to_string())
}

/// Tampering with a preview token by replacing its last digit with "0" once left a token
/// already ending in "0" untouched, so the test passed without testing anything: the
/// digit changed is now always a different one.
#[test]
fn a_preview_token_with_its_last_digit_changed_is_refused() {
    let edge = Edge::shared();
    let (status, made) = edge.post_admin(
        "/v1/admin/previews",
        &json!({ "site": "demo", "experience": "service-recovery-modal", "minutes": 30 })
            .to_string(),
    );
    assert_eq!(status, 200, "{made}");
    let token = made["token"].as_str().unwrap().to_owned();
    for last in ['0', '1'] {
        if token.ends_with(last) {
            continue;
        }
        let tampered = format!("{}{last}", &token[..token.len() - 1]);
        let (status, error) = home_decision(edge, "visitor-reg-stranger", &tampered);
        assert_eq!((status, &error["error"]["field"]), (403, &json!("preview")));
    }
}
