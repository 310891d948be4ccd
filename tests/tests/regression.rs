//! Regression tests, each named after what it pins.

use rapport_e2e::Edge;
use serde_json::json;

/// The widget's `identify` for `visitor`, signed as the shop's server signs it.
fn identify(edge: &Edge, visitor: &str, customer: &str) -> u16 {
    let body = json!({ "site": "demo", "visitor_id": visitor, "customer_id": customer,
                       "signature": edge.identity_signature(customer) });
    edge.post("/v1/identify", &body.to_string()).0
}

fn home_decision(edge: &Edge, visitor: &str, preview: &str) -> (u16, serde_json::Value) {
    let body = json!({ "site": "demo", "visitor_id": visitor, "session_id": "session-reg-1",
        "page": { "url": "http://shop/", "path": "/", "kind": "home", "locale": "en" },
        "preview": preview });
    edge.post("/v1/decide", &body.to_string())
}

/// Tampering with a preview token by replacing its last digit with "0" once left a token
/// already ending in "0" untouched, so the test passed without testing anything: the
/// digit changed is now always a different one. A tampered token previews nothing.
#[test]
fn a_preview_token_with_its_last_digit_changed_is_refused() {
    let edge = Edge::shared();
    let made = edge.preview("service-recovery-modal");
    let token = made["token"].as_str().unwrap().to_owned();
    for last in ['0', '1'] {
        if token.ends_with(last) {
            continue;
        }
        let tampered = format!("{}{last}", &token[..token.len() - 1]);
        let (status, decision) = home_decision(edge, "visitor-reg-stranger", &tampered);
        assert_eq!(status, 200, "{decision}");
        assert_eq!(decision["preview_error"], "the preview token is not valid");
        assert!(decision.get("trace").is_none(), "{decision}");
    }
}

/// A browser shared by two accounts once kept the second account's facts when the first
/// signed in again: linking the same visitor and customer again was taken for a replay of
/// the first link. Each `identify` now links anew (its event id has the time in it).
#[test]
fn a_shared_browser_signing_back_into_an_earlier_account_gets_its_facts_again() {
    let edge = Edge::shared();
    let (visitor, first, second) = ("visitor-reg-shared", "C-reg-first", "C-reg-second");
    let traits = json!({ "traits": { "tier": "gold" } }).to_string();
    let path = format!("/v1/server/customers/{first}");
    let (status, _) = edge.server("PUT", &path, Some(&edge.demo_server_key), &traits);
    assert_eq!(status, 200);
    for customer in [first, second, first] {
        assert_eq!(identify(edge, visitor, customer), 200);
    }
    let profile = edge.export(visitor)["profile"].clone();
    assert_eq!(
        (&profile["customer_id"], &profile["traits"]["tier"]),
        (&json!(first), &json!("gold")),
        "{profile}"
    );
    assert_eq!(identify(edge, visitor, second), 200);
    let profile = edge.export(visitor)["profile"].clone();
    assert_eq!(profile["customer_id"], second);
    assert!(profile["traits"].get("tier").is_none(), "{profile}");
}
