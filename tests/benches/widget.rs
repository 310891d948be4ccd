//! The widget's page-load budgets in real headless Chromium against the edge in workerd,
//! beside GrowthBook's script tag in the same run: from DOMContentLoaded to a prompt on
//! screen, the longest main-thread task, and layout shift. Run by `cargo xtask bench
//! --widget`, which builds everything and finds the tools.
//!
//! Rapport: first visits to the demo's home page with a fresh visitor (the welcome bar shows
//! at once) and to a product page (inline content fills its reserved slot), and returning
//! visits to that product page (the visitor id and what the browser cached kept, a new
//! session). GrowthBook: its npm package's script tag (`auto.min.js`, served locally with a
//! local feature API), whose page draws a bar from a feature's value once GrowthBook has it,
//! first visits (storage cleared) and returning ones (its cached features kept), on a page of
//! its own and on the demo's product page (Rapport's tag replaced by GrowthBook's), so that
//! both are also timed on the same page. The timings come from the page's own Performance
//! API: the `rapport:shown:ID` mark the widget sets when a prompt is on screen
//! (`growthbook:shown` for GrowthBook's page), and buffered `longtask` and `layout-shift`
//! entries.

use std::time::Duration;

use rapport_e2e::{serve_app, Browser, Edge};
use serde_json::{json, Value};

/// Page loads timed per case.
const RUNS: usize = 20;

/// Collects the page's measurements once the mark `arguments[0]` is set, with the timing of
/// the request whose URL contains `arguments[1]` (the decision, or GrowthBook's features).
const MEASURE: &str = r#"
    const done = arguments[arguments.length - 1];
    const name = arguments[0];
    const asked = arguments[1];
    const started = performance.now();
    const collect = () => {
        const mark = performance.getEntriesByName(name)[0];
        if (!mark && performance.now() - started < 10000) { setTimeout(collect, 20); return; }
        const nav = performance.getEntriesByType('navigation')[0];
        const tasks = [];
        const shifts = [];
        new PerformanceObserver(list => tasks.push(...list.getEntries()))
            .observe({ type: 'longtask', buffered: true });
        new PerformanceObserver(list => shifts.push(...list.getEntries()))
            .observe({ type: 'layout-shift', buffered: true });
        const from = nav.domContentLoadedEventStart;
        const request = performance.getEntriesByType('resource').find(r => r.name.includes(asked));
        const server = request && request.serverTiming.find(t => t.name == 'visitor');
        setTimeout(() => done({
            shown: mark ? mark.startTime - from : null,
            request: request && {
                sent: request.startTime - from,
                took: request.responseEnd - request.startTime,
                // Until the browser sent it (a connection to wait for), and until its first
                // byte came back (zero when the origin does not share its timing).
                queued: request.requestStart ? request.requestStart - request.startTime : null,
                waited: request.requestStart ? request.responseStart - request.requestStart : null,
                server: server ? server.duration : null,
                after: mark ? mark.startTime - request.responseEnd : null,
            },
            longest_task: tasks.reduce((m, t) => Math.max(m, t.duration), 0),
            tasks_over_50: tasks.filter(t => t.duration > 50).length,
            layout_shift: shifts.filter(s => !s.hadRecentInput).reduce((sum, s) => sum + s.value, 0),
        }), 300);
    };
    collect();
"#;

/// The first `rapport:shown:` mark's experience, or null.
const SHOWN: &str = "const m = performance.getEntriesByType('mark')
    .find(m => m.name.startsWith('rapport:shown:'));
    return m ? m.name.slice('rapport:shown:'.length) : null;";

/// Loads `page` after running `prepare` (what the visit keeps or forgets) on `blank`, a page of
/// the same origin that runs no widget.
async fn visit(client: &fantoccini::Client, blank: &str, prepare: &str, page: &str) {
    client.goto(blank).await.unwrap();
    client.execute(prepare, vec![]).await.unwrap();
    client.goto(page).await.unwrap();
}

/// The page's measurements once the mark `mark` is set, with the timing of the request
/// whose URL contains `request` ([`MEASURE`]).
async fn measure(client: &fantoccini::Client, mark: &str, request: &str) -> Value {
    client
        .execute_async(MEASURE, vec![json!(mark), json!(request)])
        .await
        .unwrap()
}

fn percentile(values: &mut [f64], p: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    values[((values.len() - 1) as f64 * p).round() as usize]
}

/// What one case measured over its page loads.
#[derive(Default)]
struct Case {
    shown: Vec<f64>,
    longest: Vec<f64>,
    shift: f64,
    over_50: u64,
    /// Where the time went, per load: the request sent after DOMContentLoaded, its round
    /// trip, the time the edge's visitor object reported (`Server-Timing`), and what came
    /// after its answer until the prompt was on screen.
    sent: Vec<f64>,
    took: Vec<f64>,
    queued: Vec<f64>,
    waited: Vec<f64>,
    server: Vec<f64>,
    after: Vec<f64>,
}

impl Case {
    fn add(&mut self, result: &Value, what: &str) {
        let Some(ms) = result["shown"].as_f64() else {
            panic!("{what} never showed: {result}");
        };
        self.shown.push(ms);
        self.longest
            .push(result["longest_task"].as_f64().unwrap_or(0.0));
        self.shift = self
            .shift
            .max(result["layout_shift"].as_f64().unwrap_or(0.0));
        self.over_50 += result["tasks_over_50"].as_u64().unwrap_or(0);
        let request = &result["request"];
        let steps = [
            (&mut self.sent, "sent"),
            (&mut self.took, "took"),
            (&mut self.queued, "queued"),
            (&mut self.waited, "waited"),
            (&mut self.server, "server"),
            (&mut self.after, "after"),
        ];
        for (values, key) in steps {
            if let Some(ms) = request[key].as_f64() {
                values.push(ms);
            }
        }
    }

    fn print(mut self, name: &str) {
        println!(
            "{name}, {} loads: DOMContentLoaded to prompt p50 {:.0} ms, max {:.0} ms; \
             longest main-thread task {:.0} ms (tasks over 50 ms: {}); layout shift {:.4}",
            self.shown.len(),
            percentile(&mut self.shown, 0.5),
            percentile(&mut self.shown, 1.0),
            percentile(&mut self.longest, 1.0),
            self.over_50,
            self.shift,
        );
        let median = |values: &mut Vec<f64>| match values.is_empty() {
            true => "-".to_owned(),
            false => format!("{:.0}", percentile(values, 0.5)),
        };
        println!(
            "  where the time goes (p50, ms): request sent {} after DOMContentLoaded, answered \
             in {} (queued {}, first byte {} after sending, {} in the visitor's object), prompt \
             on screen {} after the answer",
            median(&mut self.sent),
            median(&mut self.took),
            median(&mut self.queued),
            median(&mut self.waited),
            median(&mut self.server),
            median(&mut self.after),
        );
    }
}

/// GrowthBook's script tag as its documentation gives it, pointed at the local feature API,
/// and the page's own code drawing a bar from the `welcome` feature once GrowthBook has its
/// features (`growthbookdata`).
fn growthbook_tag(api: &str) -> String {
    format!(
        r#"<script>
window.growthbook_queue = [function (gb) {{
  var draw = function () {{
    var text = gb.getFeatureValue("welcome", "");
    if (!text || document.getElementById("gb-bar")) return;
    var bar = document.createElement("div");
    bar.id = "gb-bar";
    bar.textContent = text;
    bar.style.cssText = "position:fixed;left:0;right:0;bottom:0;padding:12px 16px;background:#fff;border-top:3px solid #0b6e4f";
    document.body.append(bar);
    performance.mark("growthbook:shown");
  }};
  document.addEventListener("growthbookdata", draw);
  draw();
}}];
</script>
<script async data-client-key="sdk-bench" data-api-host="{api}" data-no-streaming="1" src="/growthbook.js"></script>"#
    )
}

/// GrowthBook's own page: nothing on it but a heading, a paragraph and the tag.
fn growthbook_page(api: &str) -> String {
    format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>GrowthBook</title>
{}
</head><body><h1>New in</h1><p>Linen, wool and stoneware.</p></body></html>"#,
        growthbook_tag(api)
    )
}

/// The page Rapport's product cases load (the demo's sold-out mug, with its stylesheet and
/// the shop's own script), with GrowthBook's tag where Rapport's was: the same page for both.
fn growthbook_on_the_demo_page(api: &str) -> String {
    let public = rapport_e2e::workspace_root().join("demo-site/public");
    let page = std::fs::read_to_string(public.join("products/stoneware-mug.html")).unwrap();
    let rapport = r#"<script src="/rapport.js" data-site="demo" async></script>"#;
    assert!(page.contains(rapport), "the demo page's tag has changed");
    page.replace(rapport, &growthbook_tag(api))
}

/// Times GrowthBook's first visits (its cached features and cookie forgotten) and returning
/// ones (kept) to `page`, served on a port of its own with its script, the demo shop's
/// files and a local feature API, after one cold load reported on its own.
async fn growthbook(client: &fantoccini::Client, label: &str, page: fn(&str) -> String) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let root = rapport_e2e::workspace_root();
    let script =
        std::fs::read(root.join("node_modules/@growthbook/growthbook/dist/bundles/auto.min.js"))
            .expect("the npm package @growthbook/growthbook (npm ci)");
    let shop = |name: &str| std::fs::read(root.join("demo-site/public").join(name)).unwrap();
    let features = json!({ "features": { "welcome": { "defaultValue": "Welcome to Tidewater" } } });
    serve_app(
        listener,
        page(&origin),
        vec![
            ("/growthbook.js", "text/javascript", script),
            (
                "/api/features/sdk-bench",
                "application/json",
                features.to_string().into_bytes(),
            ),
            ("/style.css", "text/css", shop("style.css")),
            ("/shop.js", "text/javascript", shop("shop.js")),
        ],
        "default-src 'self' 'unsafe-inline'".into(),
    );
    // The cold load: the origin's first connection and the script's first run (the local
    // server lets nothing be cached, so every load fetches the script and the shop's files).
    visit(
        client,
        &format!("{origin}/growthbook.js"),
        "",
        &format!("{origin}/"),
    )
    .await;
    let cold = measure(client, "growthbook:shown", "/api/features/").await;
    println!(
        "GrowthBook script tag, {label}, cold load (a new origin): DOMContentLoaded to prompt {:.0} ms",
        cold["shown"].as_f64().unwrap_or(f64::NAN),
    );
    for returning in [false, true] {
        let mut case = Case::default();
        for _ in 0..RUNS {
            // A first visit forgets GrowthBook's cached features and its visitor cookie (the
            // browser is still on GrowthBook's origin from the load before, if any).
            let prepare = match returning {
                true => "",
                false => {
                    client.delete_all_cookies().await.unwrap();
                    "localStorage.clear();"
                }
            };
            visit(
                client,
                &format!("{origin}/growthbook.js"),
                prepare,
                &format!("{origin}/"),
            )
            .await;
            let result = measure(client, "growthbook:shown", "/api/features/").await;
            case.add(&result, "GrowthBook's bar");
        }
        let visit = if returning { "returning" } else { "first" };
        case.print(&format!("GrowthBook script tag, {label}, {visit} visit"));
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let edge = Edge::start();
    let browser = Browser::start().await;
    let client = &browser.client;
    // The long-task figures mean something only if this Chromium reports long tasks: a
    // 120 ms busy task on a plain page must show up as one.
    client.goto(&edge.url("/style.css")).await.unwrap();
    let calibration = client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             setTimeout(() => { const end = performance.now() + 120; while (performance.now() < end) {} }, 0);
             setTimeout(() => {
                 const seen = [];
                 new PerformanceObserver(l => seen.push(...l.getEntries()))
                     .observe({ type: 'longtask', buffered: true });
                 setTimeout(() => done(seen.map(t => t.duration)), 100);
             }, 300);",
            vec![],
        )
        .await
        .unwrap();
    assert!(
        calibration.as_array().is_some_and(|t| !t.is_empty()),
        "this browser does not report long tasks: {calibration}"
    );
    println!("long-task detection: a 120 ms busy task is reported as {calibration} ms");

    // One cold load first, reported on its own and left out of the cases: nothing in the
    // browser's cache yet, and the edge's first decision (its isolate compiles the rulebook).
    visit(
        client,
        &edge.url("/style.css"),
        "localStorage.clear();",
        &edge.url("/products/stoneware-mug"),
    )
    .await;
    let cold = measure(client, "rapport:shown:back-in-stock-alert", "/v1/decide").await;
    println!(
        "Rapport, cold load (nothing cached, the edge's first decision): DOMContentLoaded to \
         prompt {:.0} ms, the decision answered in {:.0} ms",
        cold["shown"].as_f64().unwrap_or(f64::NAN),
        cold["request"]["took"].as_f64().unwrap_or(f64::NAN),
    );

    // Rapport, first visits: no visitor id, no queue, nothing in storage (the browser's HTTP
    // cache keeps the widget's files, as it would for a shopper on the shop's second page).
    let first_visit = [
        ("/", "welcome"),
        ("/products/stoneware-mug", "back-in-stock-alert"),
    ];
    for (path, experience) in first_visit {
        let mut case = Case::default();
        let mut loads = 0;
        while case.shown.len() < RUNS && loads < 3 * RUNS {
            loads += 1;
            visit(
                client,
                &edge.url("/style.css"),
                "localStorage.clear();",
                &edge.url(path),
            )
            .await;
            // The welcome is an A/B test; whichever variant the visitor got is the prompt.
            let id = if experience == "welcome" {
                let found = rapport_e2e::poll(Duration::from_secs(5), || async {
                    client
                        .execute(SHOWN, vec![])
                        .await
                        .unwrap()
                        .as_str()
                        .map(str::to_owned)
                })
                .await;
                match found {
                    Some(id) => id,
                    // The control group sees nothing: not a prompt to time.
                    None => continue,
                }
            } else {
                experience.to_owned()
            };
            let result = measure(client, &format!("rapport:shown:{id}"), "/v1/decide").await;
            case.add(&result, &format!("{id} on {path}"));
        }
        case.print(&format!("Rapport, first visit, {path} ({experience})"));
    }

    // Rapport, returning visits: the visitor of the last first visit comes back in a new
    // session.
    let path = "/products/stoneware-mug";
    let mut case = Case::default();
    for _ in 0..RUNS {
        visit(
            client,
            &edge.url("/style.css"),
            "localStorage.removeItem('rapport:sid');",
            &edge.url(path),
        )
        .await;
        let result = measure(client, "rapport:shown:back-in-stock-alert", "/v1/decide").await;
        case.add(&result, "back-in-stock-alert on a returning visit");
    }
    case.print(&format!(
        "Rapport, returning visit, {path} (back-in-stock-alert)"
    ));

    // GrowthBook's script tag, from its npm package, with a local feature API on the same
    // port as its page: on a page of its own, and on the page Rapport's product cases load.
    growthbook(client, "its own page", growthbook_page).await;
    growthbook(
        client,
        "the demo's product page",
        growthbook_on_the_demo_page,
    )
    .await;
    client.clone().close().await.unwrap();
}
