//! `cargo xtask seed`'s journeys through a test edge: the experiment results find the effect
//! planted in one welcome variant, with an interval that contains it.

use std::time::Duration;

use rapport_e2e::{eventually, Edge};
use serde_json::Value;

#[tokio::test]
async fn seeded_journeys_show_the_planted_effect_inside_the_interval() {
    let edge = Edge::start();
    let target = edge.seed_target();
    let plan = rapport_seed::Plan {
        visitors: 1_000,
        prefix: "seed-test".into(),
        seed: 7,
        base_conversion: 0.15,
        effect: ("story".into(), 0.6),
        threads: 4,
    };
    let sent = rapport_seed::run(&target, &plan, |_, _| {}).expect("the journeys replay");
    assert_eq!(sent.visitors, 1_000);
    assert!(sent.purchases > 100, "{sent:?}");
    let day = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let url = format!("/v1/admin/analytics/experiments?site=demo&from={day}&to={day}");
    // Every seeded visitor is in the welcome experiment, and buys at most once.
    let welcome = eventually(Duration::from_secs(60), || {
        let (_, answer) = edge.get(&url, Some(&edge.admin_token));
        let welcome: Value = answer["experiments"]
            .as_array()?
            .iter()
            .find(|e| e["rule"] == "welcome")?
            .clone();
        let sum = |metric: &str, field: &str| -> f64 {
            welcome["arms"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a[metric][field].as_f64().unwrap())
                .sum()
        };
        (sum("conversion", "n") == 1_000.0 && sum("conversion", "sum") == sent.purchases as f64)
            .then_some(welcome)
    })
    .await
    .unwrap_or_else(|| panic!("{}", edge.get(&url, Some(&edge.admin_token)).1));
    let story = welcome["comparisons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["arm"] == "story" && c["metric"] == "conversion")
        .expect("story against the control, on conversion")
        .clone();
    let (low, high) = (
        story["lift"]["ci_low"].as_f64().unwrap(),
        story["lift"]["ci_high"].as_f64().unwrap(),
    );
    assert!(
        low < 0.6 && 0.6 < high,
        "the planted +60% lies in the interval: {story}"
    );
    // The split follows the weights (45/45/10): no sample ratio mismatch.
    assert_eq!(welcome["sample_ratio_mismatch"], false, "{welcome}");
}
