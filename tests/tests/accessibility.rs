//! Every view of the console checked with axe-core (the npm package, run in real Chromium
//! against the edge in workerd) for WCAG 2.1 A and AA: the sign-in, each analysis of
//! Results, Write with its editor, the confirmation a publish asks, Rulebook, the audit log
//! and Team.

use fantoccini::Locator;
use rapport_e2e::console::{console, signed_in_console, wait_for_script};
use rapport_e2e::{Browser, Edge};
use serde_json::{json, Value};

/// axe-core's script, from the repository's npm packages.
fn axe_source() -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../node_modules/axe-core/axe.min.js"
    );
    std::fs::read_to_string(path).expect("axe-core is installed (npm ci)")
}

/// The WCAG 2.1 A and AA violations axe finds on the page as it is now, as
/// `rule: selector (summary)` lines.
async fn violations(browser: &Browser, axe: &str) -> Vec<String> {
    browser
        .client
        .execute(&format!("{axe}; return true;"), vec![])
        .await
        .unwrap();
    let found = browser
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } })
               .then((r) => done(r.violations.flatMap((v) => v.nodes.map((n) =>
                   `${v.id}: ${n.target.join(' ')} (${n.failureSummary.replace(/\\s+/g, ' ')})`))))
               .catch((e) => done([`axe failed: ${e}`]));",
            vec![],
        )
        .await
        .unwrap();
    serde_json::from_value(found).unwrap()
}

async fn open(browser: &Browser, edge: &Edge, view: &str, ready: &str) {
    browser
        .client
        .goto(&edge.url(&format!("/console/#{view}")))
        .await
        .unwrap();
    wait_for_script(browser, ready).await;
}

#[tokio::test]
async fn every_console_view_passes_axe_for_wcag_2_1_aa() {
    let edge = Edge::start();
    let axe = axe_source();
    // Two versions, so that Rulebook has one to roll back to.
    for body in ["Hi", "Hello"] {
        let rules = format!(
            "rule(\"hello\", #{{ description: \"a bar\", priority: 1, show: #{{ kind: \"bar\", content: #{{ en: #{{ body: \"{body}\" }} }} }} }});"
        );
        let (status, published) = edge.post_admin(
            "/v1/admin/rulebooks",
            &json!({ "files": { "rules.rhai": rules }, "note": body }).to_string(),
        );
        assert_eq!(status, 201, "{published}");
    }
    let mut found: Vec<(String, Vec<String>)> = Vec::new();

    let signing_in = console(&edge).await;
    found.push(("sign-in".into(), violations(&signing_in, &axe).await));
    signing_in.client.clone().close().await.unwrap();

    let browser = signed_in_console(&edge).await;
    let analyses: Value = wait_for_script(
        &browser,
        "const s = document.getElementById('analysis'); return s && [...s.options].map((o) => o.value);",
    )
    .await;
    for analysis in analyses.as_array().unwrap() {
        let analysis = analysis.as_str().unwrap();
        browser
            .client
            .execute(
                "document.getElementById('results-out').replaceChildren();
                 document.getElementById('analysis').value = arguments[0];
                 document.querySelector('form.filters button[type=submit]').click();",
                vec![json!(analysis)],
            )
            .await
            .unwrap();
        wait_for_script(
            &browser,
            "const o = document.getElementById('results-out'); return o && o.children.length > 0;",
        )
        .await;
        found.push((
            format!("results: {analysis}"),
            violations(&browser, &axe).await,
        ));
    }

    open(
        &browser,
        &edge,
        "write",
        "const s = document.getElementById('check-summary'); return s && s.textContent !== '';",
    )
    .await;
    found.push(("write".into(), violations(&browser, &axe).await));
    browser
        .client
        .find(Locator::Css("#publish"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for_script(
        &browser,
        "const r = document.getElementById('confirm-reach'); return r && r.children.length > 0;",
    )
    .await;
    found.push((
        "publish confirmation".into(),
        violations(&browser, &axe).await,
    ));
    browser
        .client
        .find(Locator::Css("#confirm-no"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();

    for (view, ready) in [
        ("rulebook", "return !!document.getElementById('versions');"),
        (
            "audit",
            "return !!document.querySelector('.view-audit table');",
        ),
        ("team", "return !!document.getElementById('invite-name');"),
    ] {
        open(&browser, &edge, view, ready).await;
        found.push((view.into(), violations(&browser, &axe).await));
    }
    browser.client.clone().close().await.unwrap();

    let failing: Vec<String> = found
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(view, v)| format!("{view}:\n  {}", v.join("\n  ")))
        .collect();
    assert!(failing.is_empty(), "axe found:\n{}", failing.join("\n"));
    assert!(found.len() >= 10, "every view was checked: {}", found.len());
}
