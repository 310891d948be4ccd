//! The fan-in between visitor objects and D1, against the worker running in workerd: the
//! aggregators sum many visitors' deltas into one row, and a flush that workerd's death cut
//! short (after D1 took it, before the aggregator forgot it) is tried again without being
//! counted twice.

use std::time::Duration;

use rapport_e2e::{eventually, Edge};
use serde_json::{json, Value};

/// Impressions of the welcome bar the reports count for the demo site, over all time.
fn impressions(edge: &Edge) -> Option<u64> {
    let (status, report) = edge.get(
        "/v1/admin/reports?site=demo&from=2000-01-01&to=2100-01-01",
        Some(&edge.admin_token),
    );
    if status != 200 {
        return None;
    }
    let totals = report["totals"].as_array()?;
    Some(
        totals
            .iter()
            .filter(|t| t["experience"] == "fanin-bar")
            .filter_map(|t| t["impressions"].as_u64())
            .sum(),
    )
}

/// `count` visitors, from `first` on, each sending one impression of the bar.
fn impressions_from(edge: &Edge, first: usize, count: usize) {
    for n in first..first + count {
        let visitor = format!("visitor-fanin-{n:03}");
        let event = json!({ "id": format!("evt-fanin-{n:03}"), "session_id": "session-fanin-1",
            "type": "impression", "rule": "fanin", "experience": "fanin-bar",
            "segment": "first_time" });
        let body = json!({ "site": "demo", "visitor_id": visitor, "events": [event] });
        let (status, answer) = edge.post("/v1/events", &body.to_string());
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["accepted"], json!([format!("evt-fanin-{n:03}")]));
    }
}

async fn until(edge: &Edge, wanted: u64, limit: Duration) -> Option<u64> {
    eventually(limit, || impressions(edge).filter(|n| *n >= wanted)).await
}

#[tokio::test]
async fn a_flush_cut_short_by_workerd_dying_is_written_once() {
    // The aggregator waits a minute between D1 taking a flush and forgetting its deltas.
    let mut edge = Edge::start_with(&[("AGGREGATOR_TEST_PAUSE_MS", "60000")]);
    impressions_from(&edge, 0, 20);
    // Twenty visitors' deltas, one row: written once, within a visitor's 2 s and the
    // aggregator's 10 s.
    let written = until(&edge, 20, Duration::from_secs(30)).await;
    assert_eq!(written, Some(20), "the flush reached D1");
    // D1 has the flush; the aggregator still holds its deltas. Kill workerd there.
    edge.restart_with(&[]);
    // The cut flush is tried again (D1 already has its id) before anything newer is
    // written, so once the next visitors show, the retry is behind us.
    impressions_from(&edge, 20, 5);
    let after = until(&edge, 25, Duration::from_secs(60)).await;
    assert_eq!(after, Some(25), "each impression counted once, none twice");
    let again: Value = json!(impressions(&edge));
    assert_eq!(again, json!(25));
}
