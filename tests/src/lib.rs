//! The end-to-end harness: the real edge in workerd (`wrangler dev`) and real headless
//! Chromium driven over WebDriver. `cargo xtask test` builds everything first and tells the
//! harness where the tools are (`RAPPORT_WRANGLER`, `RAPPORT_EDGE_DIR`, `RAPPORT_CHROMIUM`,
//! `RAPPORT_CHROMEDRIVER`); without those it looks in the usual places.
//!
//! Every process started here runs in its own process group and is killed with it on drop,
//! so a failing test leaves nothing behind.

pub mod console;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder};
use serde_json::{json, Value};

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ lives in the workspace")
        .to_path_buf()
}

fn tool(variable: &str, default: impl FnOnce() -> PathBuf) -> PathBuf {
    std::env::var_os(variable).map_or_else(default, PathBuf::from)
}

/// Gives the edge's state in `persist` a D1 database with the migrations applied: a copy of
/// `cargo xtask test`'s (`RAPPORT_D1_TEMPLATE`), or, for a test run on its own, applied here.
fn migrated(wrangler: &Path, edge_dir: &Path, persist: &Path) {
    fn copy(from: &Path, to: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(to)?;
        for entry in std::fs::read_dir(from)? {
            let entry = entry?;
            let target = to.join(entry.file_name());
            if entry.file_type()?.is_dir() {
                copy(&entry.path(), &target)?;
            } else {
                std::fs::copy(entry.path(), target)?;
            }
        }
        Ok(())
    }
    if let Some(template) = std::env::var_os("RAPPORT_D1_TEMPLATE") {
        copy(Path::new(&template), persist).expect("copying the migrated D1 database");
        return;
    }
    let status = Command::new(wrangler)
        .current_dir(edge_dir)
        .args(["d1", "migrations", "apply", "rapport-reports", "--local"])
        .arg("--persist-to")
        .arg(persist)
        .env("WRANGLER_SEND_METRICS", "false")
        .env("CI", "true")
        .stdout(std::process::Stdio::null())
        .status()
        .expect("wrangler runs");
    assert!(status.success(), "the D1 migrations apply");
}

pub use rapport_child::free_port;
use rapport_child::Child;

/// The edge running in workerd on a free port, with fresh state of its own.
#[derive(Debug)]
pub struct Edge {
    pub base: String,
    pub admin_token: String,
    /// The server keys of the two sites the test edge serves, `demo` and `outlet`.
    pub demo_server_key: String,
    pub outlet_server_key: String,
    /// Kept for its lifetime: the edge ends when it is dropped.
    process: Child,
    launch: Launch,
    state: tempfile::TempDir,
}

/// How an edge is started, to start it again on the same state.
#[derive(Debug)]
struct Launch {
    edge_dir: PathBuf,
    /// `NAME:value`, each a variable of the worker's.
    vars: Vec<String>,
}

impl Launch {
    /// Starts the edge on `state` and waits until it answers; gives it and its base URL.
    /// `tests/edge.mjs` runs it as `wrangler dev` does, through wrangler's API, without the
    /// DevTools inspector, whose traffic cost a third of the edges' CPU. A free port can be
    /// taken between asking for it and wrangler binding it (workerd opens ports of its own):
    /// then another port is tried.
    fn start(&self, state: &Path) -> (Child, String) {
        for attempt in 1..=3 {
            let port = free_port();
            let mut process = Child::background(
                Command::new("node")
                    .current_dir(&self.edge_dir)
                    .arg(workspace_root().join("tests/edge.mjs"))
                    .arg(port.to_string())
                    .arg(state.join("wrangler"))
                    .args(&self.vars)
                    .env("WRANGLER_SEND_METRICS", "false")
                    .env("CLOUDFLARE_CF_FETCH_ENABLED", "false"),
                state.join("wrangler.log"),
                Some(state),
            )
            .expect("the edge starts");
            let health = format!("http://127.0.0.1:{port}/v1/health");
            match process.wait_for_http(&health, Duration::from_secs(90)) {
                Ok(_) => return (process, format!("http://127.0.0.1:{port}")),
                Err(err) if attempt < 3 && err.contains("Address already in use") => continue,
                Err(err) => panic!("the edge did not come up: {err}"),
            }
        }
        unreachable!("the last attempt returns or panics")
    }
}

impl Edge {
    /// How many variables every test edge is started with, before a test's own.
    const COMMON_VARS: usize = 5;

    pub fn start() -> Edge {
        Edge::start_with(&[])
    }

    /// Starts the edge with the local demo's clock (`DEMO_CLOCK`), which takes the past times
    /// `rapport_seed` dates its history with.
    pub fn start_for_seed() -> Edge {
        Edge::start_with(&[("DEMO_CLOCK", "replay")])
    }

    /// One edge for every test of a test binary that needs nothing of its own (started on
    /// first use). Its tests keep apart by their own visitors and customers. The edge ends
    /// with the binary: its process is watched (`rapport_child`), as a `static` is never
    /// dropped.
    pub fn shared() -> &'static Edge {
        static EDGE: std::sync::OnceLock<Edge> = std::sync::OnceLock::new();
        EDGE.get_or_init(Edge::start)
    }

    /// What the demo shop's server would put in a page for a signed-in customer: the hex of
    /// HMAC-SHA256(server key, customer id), which the widget's `identify` passes on.
    pub fn identity_signature(&self, customer_id: &str) -> String {
        use hmac::Mac;
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(self.demo_server_key.as_bytes())
            .expect("any key length");
        mac.update(customer_id.as_bytes());
        mac.finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Starts the edge with extra variables (`--var NAME:VALUE`) besides the test defaults:
    /// an admin token, server keys for two sites, and a second site, `outlet`, whose pages
    /// live on `https://outlet.example`.
    pub fn start_with(vars: &[(&str, &str)]) -> Edge {
        let root = workspace_root();
        let wrangler = tool("RAPPORT_WRANGLER", || {
            root.join("node_modules/.bin/wrangler")
        });
        let edge_dir = tool("RAPPORT_EDGE_DIR", || root.join("edge"));
        assert!(
            edge_dir.join("build/worker/shim.mjs").exists() && wrangler.exists(),
            "the edge is not built: run `cargo xtask test`"
        );
        // `RAPPORT_EDGE_STATE_DIR`: where the edge keeps its state (`cargo xtask test` and
        // the widget bench keep it in memory, as the edge bench does); the system's temporary
        // directory otherwise.
        let state = match std::env::var_os("RAPPORT_EDGE_STATE_DIR") {
            Some(dir) => tempfile::tempdir_in(dir),
            None => tempfile::tempdir(),
        }
        .expect("a temporary directory");
        let admin_token = format!("test-admin-{}", free_port());
        let demo_server_key = format!("test-server-demo-{}", free_port());
        let outlet_server_key = format!("test-server-outlet-{}", free_port());
        let server_keys = json!({ "demo": demo_server_key, "outlet": outlet_server_key });
        let sites = json!({
            "demo": { "origins": ["https://tidewater.example"] },
            "outlet": { "origins": ["https://outlet.example"] },
        });
        let mut all_vars = vec![
            format!("ADMIN_TOKEN:{admin_token}"),
            format!("PREVIEW_KEY:test-preview-key-{}", free_port()),
            format!("RAPPORT_BUILD:{}-e2e", env!("CARGO_PKG_VERSION")),
            format!("SERVER_KEYS:{server_keys}"),
            format!("SITES:{sites}"),
        ];
        debug_assert_eq!(all_vars.len(), Self::COMMON_VARS);
        all_vars.extend(vars.iter().map(|(name, value)| format!("{name}:{value}")));
        migrated(&wrangler, &edge_dir, &state.path().join("wrangler"));
        let launch = Launch {
            edge_dir,
            vars: all_vars,
        };
        let (process, base) = launch.start(state.path());
        Edge {
            base,
            admin_token,
            demo_server_key,
            outlet_server_key,
            process,
            launch,
            state,
        }
    }

    /// Kills workerd at once (as a crash would), then starts the edge again on the same
    /// state, on a new port, with `vars` in place of the extra variables it started with.
    pub fn restart_with(&mut self, vars: &[(&str, &str)]) {
        self.process.kill();
        // The variables every test edge has come first; the extra ones follow them.
        self.launch.vars.truncate(Self::COMMON_VARS);
        self.launch
            .vars
            .extend(vars.iter().map(|(name, value)| format!("{name}:{value}")));
        let (process, base) = self.launch.start(self.state.path());
        self.process = process;
        self.base = base;
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// GETs a path, returning the status and the JSON body.
    pub fn get(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        self.without_body(ureq::get(&self.url(path)), token)
    }

    /// DELETEs a path, returning the status and the JSON body.
    pub fn delete(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        self.without_body(ureq::delete(&self.url(path)), token)
    }

    fn without_body(
        &self,
        request: ureq::RequestBuilder<ureq::typestate::WithoutBody>,
        token: Option<&str>,
    ) -> (u16, Value) {
        let mut request = request.config().http_status_as_error(false).build();
        if let Some(token) = token {
            request = request.header("authorization", &format!("Bearer {token}"));
        }
        read(request.call())
    }

    /// POSTs a raw body, returning the status and the JSON body.
    pub fn post(&self, path: &str, body: &str) -> (u16, Value) {
        let request = ureq::post(&self.url(path))
            .config()
            .http_status_as_error(false)
            .build()
            .content_type("text/plain;charset=UTF-8");
        read(request.send(body))
    }

    /// POSTs a raw body with the admin token. `wrangler dev` now and then restarts the
    /// worker under a request and answers 503, asking for the request to be sent again (it
    /// retries only GET and HEAD itself): that request is sent again, once.
    pub fn post_admin(&self, path: &str, body: &str) -> (u16, Value) {
        let send = || {
            let request = ureq::post(&self.url(path))
                .config()
                .http_status_as_error(false)
                .build()
                .header("authorization", &format!("Bearer {}", self.admin_token))
                .content_type("application/json");
            read(request.send(body))
        };
        match send() {
            (503, Value::String(text)) if text.contains("restarted mid-request") => send(),
            answer => answer,
        }
    }

    /// Calls the server API with a server key (or none), returning the status and the body.
    pub fn server(&self, method: &str, path: &str, key: Option<&str>, body: &str) -> (u16, Value) {
        let mut request = ureq::http::Request::builder()
            .method(method)
            .uri(self.url(path))
            .header("content-type", "application/json");
        if let Some(key) = key {
            request = request.header("authorization", format!("Bearer {key}"));
        }
        let request = request.body(body.to_owned()).expect("a valid request");
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .allow_non_standard_methods(true)
            .build()
            .into();
        read(agent.run(request))
    }

    /// Waits until the edge has stored at least `n` events of type `kind` for the visitor,
    /// and gives the visitor's export then.
    pub async fn wait_for_events(&self, visitor_id: &str, kind: &str, n: usize) -> Value {
        let stored = |export: &Value| {
            export["events"].as_array().map_or(0, |events| {
                events.iter().filter(|e| e["type"] == kind).count()
            })
        };
        eventually(Duration::from_secs(15), || {
            let export = self.export(visitor_id);
            (stored(&export) >= n).then_some(export)
        })
        .await
        .unwrap_or_else(|| panic!("{n} {kind} event(s) of {visitor_id} did not reach the edge"))
    }

    /// Where `cargo xtask seed`'s journeys go to replay against this edge: the demo site, its
    /// server key, and its shop's origin.
    pub fn seed_target(&self) -> rapport_seed::Target {
        rapport_seed::Target {
            base: self.base.clone(),
            site: "demo".into(),
            server_key: self.demo_server_key.clone(),
            origin: "https://tidewater.example".into(),
        }
    }

    /// A preview token of the demo site for `experience`, made through the admin API: the
    /// answer (`token`, `query`, `expires`).
    pub fn preview(&self, experience: &str) -> Value {
        let (status, made) = self.post_admin(
            "/v1/admin/previews",
            &json!({ "site": "demo", "experience": experience }).to_string(),
        );
        assert_eq!(status, 200, "{made}");
        made
    }

    /// The demo's home page with a preview of `experience`.
    pub fn preview_url(&self, experience: &str) -> String {
        let made = self.preview(experience);
        self.url(&format!("/?{}", made["query"].as_str().unwrap()))
    }

    /// Everything the edge stored about a visitor, read through the admin API.
    pub fn export(&self, visitor_id: &str) -> Value {
        let (status, body) = self.get(
            &format!("/v1/admin/visitors/demo/{visitor_id}"),
            Some(&self.admin_token),
        );
        assert_eq!(status, 200, "export failed: {body}");
        body
    }
}

fn read(result: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> (u16, Value) {
    let mut response = result.expect("the edge answers");
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Headless Chromium driven by chromedriver.
#[derive(Debug)]
pub struct Browser {
    pub client: Client,
    _driver: Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    pub async fn start() -> Browser {
        Browser::start_with_prefs(json!({})).await
    }

    /// Starts Chromium with user preferences, such as `{"enable_do_not_track": true}`.
    pub async fn start_with_prefs(prefs: Value) -> Browser {
        let chromium = tool("RAPPORT_CHROMIUM", || PathBuf::from("/usr/bin/chromium"));
        let chromedriver = tool("RAPPORT_CHROMEDRIVER", || {
            PathBuf::from("/usr/bin/chromedriver")
        });
        let profile = tempfile::tempdir().expect("a temporary directory");
        let port = free_port();
        let mut driver = Child::background(
            Command::new(&chromedriver).arg(format!("--port={port}")),
            profile.path().join("chromedriver.log"),
            Some(profile.path()),
        )
        .expect("chromedriver starts");
        if let Err(err) = driver.wait_for_port(port, Duration::from_secs(30)) {
            panic!("chromedriver did not start: {err}");
        }
        let user_data = profile.path().join("profile");
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": chromium,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--window-size=1200,800",
                    format!("--user-data-dir={}", user_data.display()),
                ],
                "prefs": prefs,
            }),
        );
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .unwrap_or_else(|e| panic!("starting Chromium: {e}\n{}", driver.log_tail()));
        Browser {
            client,
            _driver: driver,
            _profile: profile,
        }
    }

    /// The text of the prompt showing `experience`, if a shopper can see it now: on screen,
    /// not transparent, and not covered by anything else at its centre.
    pub async fn visible_prompt(&self, experience: &str) -> Option<String> {
        const SCRIPT: &str = r#"
            const host = document.getElementById('rapport-host');
            const el = host && host.shadowRoot &&
                host.shadowRoot.querySelector('[data-experience="' + arguments[0] + '"]');
            if (!el) return null;
            const r = el.getBoundingClientRect();
            const style = getComputedStyle(el);
            const onScreen = r.width > 0 && r.height > 0 && r.bottom > 0 && r.right > 0 &&
                r.top < innerHeight && r.left < innerWidth;
            if (!onScreen || style.visibility !== 'visible' || Number(style.opacity) < 0.9) return null;
            const x = Math.min(Math.max(r.left + r.width / 2, 0), innerWidth - 1);
            const y = Math.min(Math.max(r.top + r.height / 2, 0), innerHeight - 1);
            if (document.elementFromPoint(x, y) !== host) return null;
            return el.innerText;
        "#;
        let value = self
            .client
            .execute(SCRIPT, vec![json!(experience)])
            .await
            .expect("the page runs scripts");
        value.as_str().map(str::to_owned)
    }

    /// Runs `script` with `root` bound to Rapport's shadow root and `card` to the prompt
    /// showing `experience` in it, and gives what the script returns: the one place tests
    /// reach into the shadow root, so none pastes that JavaScript again.
    pub async fn in_prompt(&self, experience: &str, script: &str) -> Value {
        let script = format!(
            "const root = document.getElementById('rapport-host').shadowRoot;
             const card = root.querySelector('[data-experience=\"' + arguments[0] + '\"]');
             {script}"
        );
        self.client
            .execute(&script, vec![json!(experience)])
            .await
            .expect("the page runs scripts")
    }

    /// Clicks the button labelled `label` in the prompt showing `experience` (a survey's
    /// score, `Send`, a coupon's copy button).
    pub async fn click_in_prompt(&self, experience: &str, label: &str) {
        let clicked = self
            .in_prompt(
                experience,
                &format!(
                    "const button = [...card.querySelectorAll('button')]
                         .find(b => b.textContent === {label});
                     if (button) button.click();
                     return !!button;",
                    label = json!(label)
                ),
            )
            .await;
        assert_eq!(clicked, json!(true), "{experience} has no button {label}");
    }

    /// The experience and class of the control focused inside Rapport's shadow root, if any.
    pub async fn focused_in_prompt(&self) -> Value {
        self.client
            .execute(
                "const host = document.getElementById('rapport-host');
                 const active = host && host.shadowRoot.activeElement;
                 if (!active) return null;
                 const card = active.closest('[data-experience]');
                 return [card ? card.dataset.experience : null, active.className];",
                vec![],
            )
            .await
            .expect("the page runs scripts")
    }

    /// Opens a product page of the demo shop and clicks its add-to-cart button once the widget
    /// runs (the click from script: a prompt may be over the page, and is not what is tested).
    pub async fn add_to_cart_on(&self, edge: &Edge, product: &str) {
        self.client
            .goto(&edge.url(&format!("/products/{product}")))
            .await
            .expect("the product page opens");
        self.wait_for_widget().await;
        self.client
            .execute(
                "document.querySelector('[data-add-to-cart]').click();",
                vec![],
            )
            .await
            .expect("the page runs scripts");
    }

    /// Waits until the widget runs on the current page (`window.rapport` is no longer the
    /// page's plain array), so what follows is seen by its listeners.
    pub async fn wait_for_widget(&self) {
        let started = poll(Duration::from_secs(15), || async {
            let plain = self
                .client
                .execute("return Array.isArray(window.rapport);", vec![])
                .await
                .expect("the page runs scripts");
            (plain == json!(false)).then_some(())
        })
        .await;
        assert!(started.is_some(), "the widget did not start");
    }

    /// Waits until the page has had the edge's answer to `/v1/decide` (as the browser's
    /// resource timing records it), so a test can say what is not shown once the widget
    /// knows what to show.
    pub async fn wait_for_decision(&self) {
        self.wait_for_answers("/v1/decide", 1).await;
    }

    /// Waits until the page has had `n` answers from the edge's `path`.
    pub async fn wait_for_answers(&self, path: &str, n: usize) {
        let answered = || async {
            self.client
                .execute(
                    "return performance.getEntriesByType('resource')
                         .filter((e) => e.name.endsWith(arguments[0]) && e.responseEnd > 0)
                         .length;",
                    vec![json!(path)],
                )
                .await
                .expect("the page runs scripts")
                .as_u64()
                .unwrap_or(0)
        };
        let had = poll(Duration::from_secs(15), || async {
            (answered().await >= n as u64).then_some(())
        })
        .await;
        assert!(
            had.is_some(),
            "the page had {} of {n} answers from {path}",
            answered().await
        );
        // What the widget does with the answer (reading it, drawing) is done once the page
        // has drawn two frames since.
        self.client
            .execute(
                "return new Promise((done) =>
                     requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(done, 0))));",
                vec![],
            )
            .await
            .expect("the page runs scripts");
    }

    /// Waits up to `limit` for `experience` to be visible, returning its text.
    pub async fn wait_for_prompt(&self, experience: &str, limit: Duration) -> String {
        poll(limit, || self.visible_prompt(experience))
            .await
            .unwrap_or_else(|| {
                panic!("the prompt {experience} did not become visible within {limit:?}")
            })
    }

    /// Moves the pointer out through the top of the window, as a shopper heading for the
    /// address bar does: what waits for exit intent fires, in this very call.
    pub async fn leave_through_the_top(&self) {
        self.client
            .execute(
                "document.dispatchEvent(new MouseEvent('mouseout',
                     { clientY: -2, relatedTarget: null, bubbles: true }));",
                vec![],
            )
            .await
            .expect("the page runs scripts");
    }

    /// Makes `visitor_id` the id the widget finds in this browser, from a page of the edge's
    /// origin without the widget, before it first runs (to choose an experiment's arm).
    pub async fn pin_visitor(&self, edge: &Edge, visitor_id: &str) {
        self.client.goto(&edge.url("/style.css")).await.unwrap();
        self.client
            .execute(
                "localStorage.setItem('rapport:vid', arguments[0]);",
                vec![json!(visitor_id)],
            )
            .await
            .expect("the page runs scripts");
    }

    /// The text of the preview panel a preview link's page shows (`#rapport-preview`), once
    /// it has some; empty if none appears within five seconds.
    pub async fn preview_panel(&self) -> String {
        poll(Duration::from_secs(5), || async {
            let text = self
                .client
                .execute(
                    "const h = document.getElementById('rapport-preview'); return h ? h.shadowRoot.textContent : '';",
                    vec![],
                )
                .await
                .expect("the page runs scripts");
            text.as_str().filter(|t| !t.is_empty()).map(str::to_owned)
        })
        .await
        .unwrap_or_default()
    }

    /// The visitor id the widget keeps for this browser, once it has written it (on a
    /// loaded machine, a moment after `window.rapport` is in place).
    pub async fn visitor_id(&self) -> String {
        poll(Duration::from_secs(15), || {
            self.local_storage("rapport:vid")
        })
        .await
        .expect("the widget has a visitor id")
    }

    pub async fn local_storage(&self, key: &str) -> Option<String> {
        let value = self
            .client
            .execute(
                "return localStorage.getItem(arguments[0]);",
                vec![json!(key)],
            )
            .await
            .expect("the page runs scripts");
        value.as_str().map(str::to_owned)
    }
}

/// One of ChromeDriver's own commands (beyond WebDriver's): POST `session/{id}/{path}`.
#[derive(Debug)]
struct ChromeCommand {
    path: &'static str,
    body: Value,
}

impl fantoccini::wd::WebDriverCompatibleCommand for ChromeCommand {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/{}",
            session_id.unwrap_or_default(),
            self.path
        ))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(self.body.to_string()))
    }
}

/// A page script that keeps what the page warns on the console in `window.warnings`, as well
/// as warning ([`Browser::keep_warnings`] runs it in every page; a page may also carry it).
pub const KEEP_WARNINGS: &str = "window.warnings = []; const warn = console.warn; \
    console.warn = (...args) => { window.warnings.push(args.join(' ')); warn(...args); };";

impl Browser {
    /// Every page from now on keeps what it warns on the console ([`KEEP_WARNINGS`]), for
    /// [`Browser::warnings`] to read.
    pub async fn keep_warnings(&self) {
        self.before_every_page(KEEP_WARNINGS).await;
    }

    /// What the current page has warned on the console so far, when it keeps its warnings
    /// ([`KEEP_WARNINGS`]); nothing otherwise.
    pub async fn warnings(&self) -> Vec<String> {
        let warnings = self
            .client
            .execute("return window.warnings || [];", vec![])
            .await
            .expect("the page answers");
        serde_json::from_value(warnings).expect("warnings are text")
    }

    /// Runs `script` in every page before the page's own scripts, from now on (to stand in
    /// for a browser setting WebDriver cannot reach, such as Global Privacy Control).
    pub async fn before_every_page(&self, script: &str) {
        self.client
            .issue_cmd(ChromeCommand {
                // A Chrome DevTools Protocol command.
                path: "goog/cdp/execute",
                body: json!({ "cmd": "Page.addScriptToEvaluateOnNewDocument",
                              "params": { "source": script } }),
            })
            .await
            .expect("ChromeDriver passes DevTools commands");
    }

    /// Takes the browser off the network, or back on (ChromeDriver's network emulation).
    pub async fn set_offline(&self, offline: bool) {
        self.client
            .issue_cmd(ChromeCommand {
                path: "chromium/network_conditions",
                body: json!({ "network_conditions": {
                    "offline": offline, "latency": 0,
                    "download_throughput": -1, "upload_throughput": -1 } }),
            })
            .await
            .expect("ChromeDriver emulates network conditions");
    }
}

/// The events of type `kind` in a visitor's export, oldest first, as the browser sent them.
pub fn events(export: &Value, kind: &str) -> Vec<Value> {
    export["events"]
        .as_array()
        .expect("an export lists events")
        .iter()
        .filter(|e| e["type"] == kind)
        .map(|e| e["event"].clone())
        .collect()
}

/// Polls `check` until it gives `Some`, for up to `limit`.
pub async fn eventually<T>(limit: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    poll(limit, || std::future::ready(check())).await
}

/// [`eventually`], from code that is not async (a shared edge set up on first use): the
/// wait runs on a thread of its own, so it blocks nothing an async test runs on.
pub fn eventually_blocking<T: Send>(
    limit: Duration,
    check: impl FnMut() -> Option<T> + Send,
) -> Option<T> {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_time()
                    .build()
                    .expect("a runtime for the wait")
                    .block_on(eventually(limit, check))
            })
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// How often `poll` asks.
const POLL_EVERY: Duration = Duration::from_millis(50);

/// Asks `check` every 50 ms until it gives something, and gives that; `None` once `limit`
/// has passed. The harness's one polling loop: every wait for a page, an answer or a row
/// goes through it.
pub async fn poll<T, F>(limit: Duration, mut check: impl FnMut() -> F) -> Option<T>
where
    F: std::future::Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(value) = check().await {
            return Some(value);
        }
        if started.elapsed() > limit {
            return None;
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
}

/// Serves `page` with the Content-Security-Policy `policy` on `listener`, for as long as
/// the test runs: a shop of another origin than the edge's.
pub fn serve_page(listener: std::net::TcpListener, page: String, policy: String) {
    use std::io::{Read, Write};
    let response = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/html; charset=utf-8\r\n\
         content-security-policy: {policy}\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n{page}",
        page.len()
    );
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let response = response.clone();
            // A thread a connection: Chromium opens spare connections it may never use,
            // and one of those must not hold up the page's own request.
            std::thread::spawn(move || {
                let mut request = [0u8; 4096];
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                if matches!(stream.read(&mut request), Ok(n) if n > 0) {
                    let _ = stream.write_all(response.as_bytes());
                }
            });
        }
    });
}

/// A single-page app's files, served on a port of their own with the Content-Security-Policy
/// `policy`: `files` by path (with their content type), and `index` for every other path,
/// as an app's server answers its client-side routes.
pub fn serve_app(
    listener: std::net::TcpListener,
    index: String,
    files: Vec<(&'static str, &'static str, Vec<u8>)>,
    policy: String,
) {
    use std::io::{Read, Write};
    let respond = move |path: &str| -> Vec<u8> {
        let (content_type, body) = files
            .iter()
            .find(|(at, _, _)| *at == path)
            .map(|(_, content_type, body)| (*content_type, body.as_slice()))
            .unwrap_or(("text/html; charset=utf-8", index.as_bytes()));
        let mut response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\n\
             content-security-policy: {policy}\r\ncontent-length: {}\r\n\
             cache-control: no-store\r\nconnection: close\r\n\r\n",
            body.len()
        )
        .into_bytes();
        response.extend_from_slice(body);
        response
    };
    let respond = std::sync::Arc::new(respond);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let respond = std::sync::Arc::clone(&respond);
            std::thread::spawn(move || {
                let mut request = [0u8; 4096];
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let Ok(n) = stream.read(&mut request) else {
                    return;
                };
                let head = String::from_utf8_lossy(&request[..n]);
                let path = head
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or("/")
                    .split('?')
                    .next()
                    .unwrap_or("/")
                    .to_owned();
                if n > 0 {
                    let _ = stream.write_all(&respond(&path));
                }
            });
        }
    });
}

/// Where `cargo xtask test` builds the React shop the tests drive (`tests/react-shop`), in
/// its `development` and `production` builds.
pub fn react_shop_dir() -> PathBuf {
    tool("RAPPORT_REACT_SHOP", || {
        workspace_root().join("target/react-shop")
    })
}

/// A request the browser sent through a [`RecordingProxy`].
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// The path and query.
    pub path: String,
    pub body: String,
    /// The edge's answer (empty until it came, and for the widget's own files).
    pub answer: String,
}

/// Stands between the page and the edge (the script tag's `src` names it, so the widget
/// sends everything through it) and keeps every request, body and all: what the tests of
/// privacy read to say what left the browser.
#[derive(Debug, Clone)]
pub struct RecordingProxy {
    pub base: String,
    requests: std::sync::Arc<std::sync::Mutex<Vec<Recorded>>>,
}

impl RecordingProxy {
    /// Starts a proxy to `edge` on a free port, for as long as the test runs.
    pub fn start(edge: &Edge) -> RecordingProxy {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let requests = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (kept, upstream) = (std::sync::Arc::clone(&requests), edge.base.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let (kept, upstream) = (std::sync::Arc::clone(&kept), upstream.clone());
                std::thread::spawn(move || {
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                    let mut data = Vec::new();
                    let mut chunk = [0u8; 8192];
                    // The head, then as much body as it announces.
                    let (head, length) = loop {
                        match stream.read(&mut chunk) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => data.extend_from_slice(&chunk[..n]),
                        }
                        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
                            let head = String::from_utf8_lossy(&data[..end]).into_owned();
                            let length = head
                                .lines()
                                .filter_map(|l| l.split_once(':'))
                                .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
                                .and_then(|(_, v)| v.trim().parse::<usize>().ok())
                                .unwrap_or(0);
                            data.drain(..end + 4);
                            break (head, length);
                        }
                    };
                    while data.len() < length {
                        match stream.read(&mut chunk) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => data.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let mut lines = head.lines();
                    let mut start = lines.next().unwrap_or_default().split_whitespace();
                    let method = start.next().unwrap_or("GET").to_owned();
                    let path = start.next().unwrap_or("/").to_owned();
                    let header = |name: &str| {
                        head.lines()
                            .filter_map(|l| l.split_once(':'))
                            .find(|(n, _)| n.eq_ignore_ascii_case(name))
                            .map(|(_, v)| v.trim().to_owned())
                    };
                    let body = String::from_utf8_lossy(&data).into_owned();
                    let index = {
                        let mut kept = kept.lock().unwrap();
                        kept.push(Recorded {
                            method: method.clone(),
                            path: path.clone(),
                            body: body.clone(),
                            answer: String::new(),
                        });
                        kept.len() - 1
                    };
                    let mut request = ureq::http::Request::builder()
                        .method(method.as_str())
                        .uri(format!("{upstream}{path}"));
                    for name in ["origin", "content-type"] {
                        if let Some(value) = header(name) {
                            request = request.header(name, value);
                        }
                    }
                    let agent: ureq::Agent = ureq::Agent::config_builder()
                        .http_status_as_error(false)
                        .build()
                        .into();
                    let answer = if method == "GET" {
                        agent.run(request.body(()).expect("a request"))
                    } else {
                        agent.run(request.body(body).expect("a request"))
                    };
                    let Ok(mut answer) = answer else { return };
                    let mut response = format!("HTTP/1.1 {}\r\n", answer.status().as_u16());
                    for (name, value) in answer.headers() {
                        let name = name.as_str();
                        if ["content-length", "transfer-encoding", "connection"].contains(&name) {
                            continue;
                        }
                        if let Ok(value) = value.to_str() {
                            response.push_str(&format!("{name}: {value}\r\n"));
                        }
                    }
                    let content = answer.body_mut().read_to_vec().unwrap_or_default();
                    if path.starts_with("/v1/") {
                        kept.lock().unwrap()[index].answer =
                            String::from_utf8_lossy(&content).into_owned();
                    }
                    response.push_str(&format!(
                        "content-length: {}\r\nconnection: close\r\n\r\n",
                        content.len()
                    ));
                    let mut bytes = response.into_bytes();
                    bytes.extend_from_slice(&content);
                    let _ = stream.write_all(&bytes);
                });
            }
        });
        RecordingProxy { base, requests }
    }

    /// Every request so far, in the order they arrived.
    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }
}
