//! The marketer console in Chromium against the edge in workerd: signing in (a wrong token
//! refused, the right one exchanged for a strict session cookie and never kept in the
//! page), a cross-site form post with that cookie refused, writing, checking, simulating,
//! the impact on the visitor sample, a preview on the shop, publishing, the dashboard,
//! rolling back a rulebook version, signing out, and no Content-Security-Policy violation
//! on the way.

use std::time::Duration;

use fantoccini::Locator;
use rapport_e2e::console::{
    console, console_at, paste_into_editor, sign_in, signed_in, signed_in_console,
    type_into_editor, wait_for_editor, wait_for_script, WAIT,
};
use rapport_e2e::{eventually, poll, Browser, Edge};
use serde_json::{json, Value};

async fn text_of(browser: &Browser, css: &str) -> String {
    browser
        .client
        .execute(
            "const e = document.querySelector(arguments[0]); return e ? e.textContent : null;",
            vec![json!(css)],
        )
        .await
        .unwrap()
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Publishes one version per text of `rules.rhai` through the API; gives their ids.
fn publish_versions(edge: &Edge, note: &str, texts: &[String]) -> Vec<i64> {
    texts
        .iter()
        .map(|text| {
            let (status, published) = edge.post_admin(
                "/v1/admin/rulebooks",
                &json!({ "files": { "rules.rhai": text }, "note": note }).to_string(),
            );
            assert_eq!(status, 201, "{published}");
            published["id"].as_i64().unwrap()
        })
        .collect()
}

/// A rule with a bar saying `body`.
fn bar_rule(id: &str, body: &str) -> String {
    format!(
        "rule(\"{id}\", #{{ description: \"a bar\", priority: 1, show: #{{ kind: \"bar\", content: #{{ en: #{{ body: \"{body}\" }} }} }} }});"
    )
}

/// Types the note and presses Publish in the console's workspace, then confirms; gives what
/// the confirmation said changes.
async fn publish_with_note(browser: &Browser, note: &str) -> String {
    let field = browser.client.find(Locator::Css("#note")).await.unwrap();
    field.send_keys(note).await.unwrap();
    let publish = browser.client.find(Locator::Css("#publish")).await.unwrap();
    publish.click().await.unwrap();
    confirm(browser).await
}

/// Waits for the confirmation a publish or a rollback asks for, and confirms it; gives its
/// list of changes, one per line.
async fn confirm(browser: &Browser) -> String {
    let changes = wait_for_script(
        browser,
        "const d = document.querySelector('dialog#confirm[open]');
         const c = d && d.querySelector('#confirm-changes');
         const r = d && d.querySelector('#confirm-reach');
         return c && r && r.children.length > 0 && c.innerText;",
    )
    .await;
    // Nothing happens before the confirmation: the focus is on Cancel.
    let focused = browser
        .client
        .execute("return document.activeElement.id;", vec![])
        .await
        .unwrap();
    assert_eq!(focused, "confirm-no");
    click(browser, "#confirm-yes").await;
    changes.as_str().unwrap().to_owned()
}

async fn no_csp_violations(browser: &Browser) {
    let violations = browser
        .client
        .execute("return window.cspViolations;", vec![])
        .await
        .unwrap();
    assert_eq!(violations, json!([]), "CSP violations");
}

#[tokio::test]
async fn signing_in_refuses_a_wrong_token_and_keeps_the_right_one_out_of_the_page() {
    let edge = Edge::shared();
    let browser = console(edge).await;
    // Signed out, the console's navigation is not there at all.
    let shown = browser
        .client
        .execute(
            "return getComputedStyle(document.getElementById('nav')).display;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(shown, json!("none"));
    sign_in(&browser, "not-the-token").await;
    let message = poll(WAIT, || async {
        Some(text_of(&browser, "#sign-in-error").await).filter(|m| !m.is_empty())
    })
    .await;
    assert_eq!(message.as_deref(), Some("That is not the admin token."));
    sign_in(&browser, &edge.admin_token).await;
    signed_in(&browser).await;
    // The session is a cookie the page's scripts cannot read; the token is nowhere.
    let cookies = browser.client.get_all_cookies().await.unwrap();
    let session = cookies
        .iter()
        .find(|c| c.name() == "__Host-rapport_session")
        .unwrap_or_else(|| panic!("the session cookie: {cookies:?}"));
    assert_eq!(session.http_only(), Some(true));
    assert_eq!(session.secure(), Some(true));
    assert_eq!(session.path(), Some("/"));
    assert_eq!(
        session.same_site().map(|s| format!("{s:?}")).as_deref(),
        Some("Strict")
    );
    assert_ne!(session.value(), edge.admin_token);
    let kept = browser
        .client
        .execute(
            "return [document.cookie, JSON.stringify(localStorage), JSON.stringify(sessionStorage), location.href];",
            vec![],
        )
        .await
        .unwrap();
    assert!(!kept.to_string().contains(&edge.admin_token), "{kept}");
    // Results show their empty state for a shop with no experiment traffic yet.
    browser
        .client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css("#results-out .empty, #results-out section"))
        .await
        .expect("the results");
    no_csp_violations(&browser).await;
    browser.client.clone().close().await.unwrap();
}

/// A marketer on the keyboard: after signing in the view's heading has the focus, a skip
/// link jumps over the navigation, and the editor shows its focus ring and says how to leave.
#[tokio::test]
async fn the_console_works_from_the_keyboard() {
    let edge = Edge::shared();
    let browser = signed_in_console(edge).await;
    let focused = wait_for_script(
        &browser,
        "const e = document.activeElement; return e && e.id === 'view-title' && e.textContent;",
    )
    .await;
    assert_eq!(focused, json!("Results"));
    // The skip link is the first stop, shows when it has the focus, and goes to the view.
    let shown = browser
        .client
        .execute(
            "const s = document.getElementById('skip'); s.focus();
             const r = s.getBoundingClientRect();
             return [document.activeElement === s, r.left >= 0 && r.right <= innerWidth];",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(shown, json!([true, true]));
    browser
        .client
        .find(Locator::Css("#skip"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for_script(
        &browser,
        "return document.activeElement && document.activeElement.id === 'view-title';",
    )
    .await;
    // In Write, the editor's focus ring and the way out of it.
    browser
        .client
        .goto(&edge.url("/console/#write"))
        .await
        .unwrap();
    wait_for_script(
        &browser,
        "const e = document.getElementById('editor');
         return document.getElementById('view-title').textContent === 'Write'
             && !!(e && e.shadowRoot && e.shadowRoot.querySelector('.cm-content'));",
    )
    .await;
    type_into_editor(&browser, "").await;
    let ring = wait_for_script(
        &browser,
        "const e = document.getElementById('editor').shadowRoot.querySelector('.cm-editor.cm-focused');
         return e && getComputedStyle(e).outlineStyle;",
    )
    .await;
    assert_eq!(ring, json!("solid"));
    assert_eq!(
        text_of(&browser, "#editor-keys").await,
        "Tab indents in the editor. To leave it with the keyboard, press Esc, then Tab."
    );
    no_csp_violations(&browser).await;
    browser.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn a_cross_site_form_post_with_the_session_cookie_is_refused() {
    let edge = Edge::shared();
    let admin = edge.admin_token.clone();
    // Two versions, so that activating the first would be a visible change.
    let ids = publish_versions(
        edge,
        "cross-site test",
        &[bar_rule("one", "Hi"), bar_rule("other", "Hi")],
    );
    let active = |edge: &Edge| -> Value {
        edge.get("/v1/admin/rulebooks", Some(&admin)).1["active"].clone()
    };
    let before = active(edge);
    let browser = signed_in_console(edge).await;
    // A page on another origin (another port of the same host: the same site, so the
    // SameSite=Strict cookie goes with the post) that posts a form to the admin API.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let other = format!(
        "http://127.0.0.1:{}/",
        listener.local_addr().unwrap().port()
    );
    let page = format!(
        "<!doctype html><form id=f method=post action=\"{}\"></form>\
         <script>document.getElementById('f').submit()</script>",
        edge.url(&format!("/v1/admin/rulebooks/{}/activate", ids[0]))
    );
    rapport_e2e::serve_page(listener, page, "script-src 'unsafe-inline'".into());
    browser.client.goto(&other).await.unwrap();
    let seen = poll(WAIT, || async {
        let text = browser
            .client
            .execute(
                "return document.body ? document.body.innerText : '';",
                vec![],
            )
            .await
            .unwrap();
        text.as_str()
            .filter(|t| t.contains("forbidden"))
            .map(str::to_owned)
    })
    .await
    .unwrap_or_default();
    assert!(
        seen.contains("\"forbidden\""),
        "the edge refused the post: {seen}"
    );
    assert_eq!(active(edge), before, "nothing changed");
    assert_eq!(before, json!(ids[1]));
    browser.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn the_console_rolls_back_a_version_and_signing_out_ends_the_session() {
    let edge = Edge::shared();
    let admin = edge.admin_token.clone();
    // Two versions: the console rolls back from the second to the first.
    let ids = publish_versions(
        edge,
        "rollback test",
        &[
            bar_rule("first", "Hello"),
            bar_rule("second", "Hello again"),
        ],
    );
    let browser = console_at(edge, "rulebook").await;
    browser
        .client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css(&format!(
            "button[aria-label='Make active: version {}']",
            ids[0]
        )))
        .await
        .expect("the first version can be made active")
        .click()
        .await
        .unwrap();
    let changes = confirm(&browser).await;
    assert!(
        changes.contains("Added rule first") && changes.contains("Removed rule second"),
        "{changes}"
    );
    let rolled_back = eventually(WAIT, || {
        let (_, versions) = edge.get("/v1/admin/rulebooks", Some(&admin));
        (versions["active"] == ids[0]).then_some(versions)
    })
    .await;
    assert!(rolled_back.is_some(), "the first version is active again");
    let audit = edge.get("/v1/admin/audit", Some(&admin)).1;
    assert_eq!(audit["entries"][0]["action"], "activate", "{audit}");
    no_csp_violations(&browser).await;
    // Signing out ends the session at the edge, not only in this browser.
    let cookie = browser
        .client
        .get_named_cookie("__Host-rapport_session")
        .await
        .unwrap()
        .value()
        .to_owned();
    browser
        .client
        .find(Locator::Css("#sign-out"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser
        .client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css("#token"))
        .await
        .expect("the sign-in form again");
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let status = agent
        .get(&edge.url("/v1/console/session"))
        .header("cookie", &format!("__Host-rapport_session={cookie}"))
        .call()
        .unwrap()
        .status()
        .as_u16();
    assert_eq!(status, 401, "the old cookie no longer works");
    browser.client.clone().close().await.unwrap();
}

#[test]
fn sign_in_attempts_are_rate_limited_and_need_the_consoles_origin() {
    let edge = Edge::start();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let attempt = |token: &str, origin: &str, header: bool| -> (u16, Value) {
        let mut request = agent
            .post(&edge.url("/v1/console/session"))
            .header("origin", origin)
            .content_type("application/json");
        if header {
            request = request.header("x-rapport-console", "1");
        }
        let mut response = request
            .send(&json!({ "token": token }).to_string())
            .unwrap();
        let status = response.status().as_u16();
        let body = serde_json::from_str(&response.body_mut().read_to_string().unwrap())
            .unwrap_or(Value::Null);
        (status, body)
    };
    // From another origin, or without the console's header: refused before anything else.
    let (status, body) = attempt(&edge.admin_token, "https://elsewhere.example", true);
    assert_eq!(
        (status, &body["error"]["field"]),
        (403, &json!("origin")),
        "{body}"
    );
    let (status, body) = attempt(&edge.admin_token, &edge.base, false);
    assert_eq!(
        (status, &body["error"]["field"]),
        (403, &json!("x-rapport-console")),
        "{body}"
    );
    let (status, body) = attempt(&edge.admin_token, &edge.base, true);
    assert_eq!(status, 201, "{body}");
    // Guessing: ten attempts a minute from one address, then 429.
    let mut statuses = Vec::new();
    for _ in 0..12 {
        statuses.push(attempt("guess", &edge.base, true).0);
    }
    assert!(statuses[..9].iter().all(|s| *s == 401), "{statuses:?}");
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
}

/// A draft with a misspelt field after text of more than one UTF-16 unit per character.
const DRAFT: &str = "// Grüße für 😀 Kunden
segment(\"fan\", |v| v.country == \"🇮🇹\" && v.purchases.cuont > 1);
rule(\"fans\", #{ description: \"For fans\", priority: 5, who: \"fan\",
    show: #{ kind: \"bar\", content: #{ en: #{ body: \"Grazie\" } } } });
";

/// Publishes `rules.rhai` with `note`, and opens the console's workspace on it: the version
/// published, and the browser once the editor shows it.
async fn writing_over(edge: &Edge, rules: &str, note: &str) -> (i64, Browser) {
    let published = publish_versions(edge, note, &[rules.to_owned()])[0];
    let browser = console_at(edge, "write").await;
    wait_for_editor(&browser, rules).await;
    (published, browser)
}

#[tokio::test]
async fn a_marketer_writes_a_rule_sees_the_error_where_it_is_and_publishes_the_fix() {
    let edge = Edge::shared();
    let admin = edge.admin_token.clone();
    let (published, browser) = writing_over(
        edge,
        "rule(\"base\", #{ description: \"b\", priority: 1, show: #{ kind: \"bar\", content: #{ en: #{ body: \"Hi\" } } } });",
        "base for the editor",
    )
    .await;
    paste_into_editor(&browser, DRAFT).await;
    // The error is drawn under the misspelt field itself, though the line has characters of
    // two UTF-16 units (Rhai counts characters, the editor units).
    let underlined = wait_for_script(
        &browser,
        "const e = document.getElementById('editor').shadowRoot.querySelector('.cm-lintRange-error'); return e && e.textContent;",
    )
    .await;
    assert_eq!(underlined, json!("cuont"));
    let line = DRAFT.lines().nth(1).unwrap();
    let col = line[..line.find("cuont").unwrap()].chars().count() + 1;
    let problems = text_of(&browser, "#problems").await;
    assert!(
        problems.contains(&format!(
            "rules.rhai:2:{col}: error: `v.purchases` has no field `cuont`; did you mean `count`?"
        )),
        "{problems}"
    );
    // The problems sit beside the editor, and a click on one puts the cursor on its line.
    let beside = browser
        .client
        .execute(
            "const e = document.getElementById('editor').getBoundingClientRect();
             const p = document.getElementById('problems').getBoundingClientRect();
             return p.left >= e.right && p.top < e.bottom;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        beside,
        json!(true),
        "the problems are beside the editor at 1200 px"
    );
    browser
        .client
        .execute(
            "document.querySelector('#problems button.problem.error').click();",
            vec![],
        )
        .await
        .unwrap();
    let line = wait_for_script(
        &browser,
        "const l = document.getElementById('editor').shadowRoot.querySelector('.cm-activeLine');
         return l && l.textContent.startsWith('segment(') && l.textContent;",
    )
    .await;
    assert_eq!(line.as_str(), DRAFT.lines().nth(1));
    let disabled = browser
        .client
        .execute(
            "return document.getElementById('publish').disabled;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        disabled,
        json!(true),
        "a rulebook with an error cannot be published"
    );
    // The draft is kept at the edge: a reloaded tab has it back.
    wait_for_script(
        &browser,
        "return document.getElementById('status').textContent === 'Draft saved';",
    )
    .await;
    browser.client.refresh().await.unwrap();
    wait_for_editor(&browser, DRAFT).await;
    assert!(text_of(&browser, "#draft-origin")
        .await
        .starts_with("Your draft"));
    // Fixed, it checks clean and publishes with its note.
    paste_into_editor(&browser, &DRAFT.replace("cuont", "count")).await;
    wait_for_script(&browser, "return !document.getElementById('publish').disabled && !document.getElementById('editor').shadowRoot.querySelector('.cm-lintRange-error');").await;
    publish_with_note(&browser, "fans in Italy").await;
    let live = eventually(WAIT, || {
        let (_, versions) = edge.get("/v1/admin/rulebooks", Some(&admin));
        let newest = versions["versions"][0].clone();
        (newest["note"] == "fans in Italy" && versions["active"] == newest["id"]).then_some(newest)
    })
    .await
    .expect("the fix is published and active");
    let (_, version) = edge.get(&format!("/v1/admin/rulebooks/{}", live["id"]), Some(&admin));
    assert!(version["files"]["rules.rhai"]
        .as_str()
        .unwrap()
        .contains("v.purchases.count"));
    // Published, the draft is gone.
    let (_, draft) = edge.get("/v1/admin/draft", Some(&admin));
    assert_eq!(draft["draft"], Value::Null);
    // A save from a tab still on the old version is refused rather than undoing the publish.
    let stale = json!({ "files": { "rules.rhai": DRAFT }, "base": published }).to_string();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut answer = agent
        .put(&edge.url("/v1/admin/draft"))
        .header("authorization", &format!("Bearer {admin}"))
        .content_type("application/json")
        .send(&stale)
        .unwrap();
    assert_eq!(answer.status().as_u16(), 409);
    let body: Value = serde_json::from_str(&answer.body_mut().read_to_string().unwrap()).unwrap();
    assert_eq!(body["error"]["field"], "base", "{body}");
    no_csp_violations(&browser).await;
    browser.client.clone().close().await.unwrap();
}

/// Regression: "Discard draft" left the editor showing the discarded draft, and the next
/// keystroke saved it back.
#[tokio::test]
async fn brackets_closed_and_lines_indented_while_typing_leave_the_text_as_typed() {
    // An edge of its own: the draft this leaves is no other test's business.
    let edge = &Edge::start();
    let (_, browser) = writing_over(edge, &bar_rule("typing", "Hi"), "typing test").await;
    // Everything selected, then typed key by key, without indentation or a closer too many:
    // the editor indents each line and the closers typed take the place of those it added.
    let enter = "\u{E007}";
    type_into_editor(
        &browser,
        &format!(
            "\u{E009}a\u{E000}rule(\"typed\", #{{{enter}description: \"typed in\",{enter}show: #{{ kind: \"bar\", content: #{{ en: #{{ body: \"Hi\" }} }} }}{enter}}});"
        ),
    )
    .await;
    wait_for_editor(
        &browser,
        "rule(\"typed\", #{\n    description: \"typed in\",\n    show: #{ kind: \"bar\", content: #{ en: #{ body: \"Hi\" } } }\n});",
    )
    .await;
    // And it checks clean: nothing hides a typo behind an extra closer.
    wait_for_script(
        &browser,
        "const s = document.getElementById('check-summary'); return s && s.textContent.startsWith('0 errors') && s.textContent;",
    )
    .await;
    browser.client.clone().close().await.unwrap();
}

/// The files the workspace lists, in order.
async fn file_list(browser: &Browser) -> Vec<String> {
    let names = browser
        .client
        .execute(
            "return [...document.querySelectorAll('.files button.file')].map((b) => b.textContent);",
            vec![],
        )
        .await
        .unwrap();
    serde_json::from_value(names).unwrap()
}

/// Opens the file `name` from the workspace's list.
async fn open_file(browser: &Browser, name: &str) {
    browser
        .client
        .execute(
            "[...document.querySelectorAll('.files button.file')].find((b) => b.textContent === arguments[0]).click();",
            vec![json!(name)],
        )
        .await
        .unwrap();
}

/// Answers the file form with `name`.
async fn name_file(browser: &Browser, name: &str) {
    wait_for_script(browser, "return !!document.getElementById('file-name');").await;
    browser
        .client
        .execute(
            "const i = document.getElementById('file-name'); i.value = arguments[0];
             i.form.requestSubmit();",
            vec![json!(name)],
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn files_and_test_cases_are_created_renamed_and_deleted_in_the_console() {
    // An edge of its own: the draft this leaves is no other test's business.
    let edge = &Edge::start();
    let (_, browser) = writing_over(edge, &bar_rule("files", "Hi"), "files test").await;
    // A bad name is refused where it is typed.
    click(&browser, "#new-file").await;
    name_file(&browser, "no spaces allowed.rhai").await;
    let problem = wait_for_script(
        &browser,
        "const p = document.getElementById('file-problem'); return p && p.textContent;",
    )
    .await;
    assert!(
        problem.as_str().unwrap().starts_with("A file is NAME.rhai"),
        "{problem}"
    );
    name_file(&browser, "promo.rhai").await;
    wait_for_editor(&browser, "// What these rules are for.\n").await;
    paste_into_editor(&browser, &bar_rule("promo", "Sale")).await;
    click(&browser, "#rename-file").await;
    name_file(&browser, "sale.rhai").await;
    wait_for_script(
        &browser,
        "return document.querySelector('.files button.current')?.textContent === 'sale.rhai';",
    )
    .await;
    wait_for_editor(&browser, &bar_rule("promo", "Sale")).await;
    assert_eq!(file_list(&browser).await, ["rules.rhai", "sale.rhai"]);
    // A simulation kept as a test case goes into tests/sale.json, which the check runs.
    click(&browser, "#simulate").await;
    wait_for_script(&browser, "return !!document.getElementById('keep-case');").await;
    click(&browser, "#keep-case").await;
    wait_for_script(
        &browser,
        "return [...document.querySelectorAll('.files button.file')].some((b) => b.textContent === 'tests/sale.json');",
    )
    .await;
    open_file(&browser, "tests/sale.json").await;
    let case = wait_for_script(
        &browser,
        "const t = document.getElementById('editor').shadowRoot.querySelector('.cm-content').innerText;
         return t.includes('\"expect\"') && t;",
    )
    .await;
    // Both bars want the top of the page; the tie goes to the first id.
    assert!(
        case.as_str().unwrap().contains("\"expect\":[\"files\"]"),
        "{case}"
    );
    let summary = wait_for_script(
        &browser,
        "const s = document.getElementById('check-summary').textContent; return s.includes('tests: 1 passed') && s;",
    )
    .await;
    assert!(summary.as_str().unwrap().contains("0 failed"), "{summary}");
    // Deleting asks first.
    open_file(&browser, "sale.rhai").await;
    click(&browser, "#delete-file").await;
    wait_for_script(
        &browser,
        "return !!document.querySelector('dialog#confirm[open]');",
    )
    .await;
    click(&browser, "#confirm-yes").await;
    wait_for_script(
        &browser,
        "return ![...document.querySelectorAll('.files button.file')].some((b) => b.textContent === 'sale.rhai');",
    )
    .await;
    let left = file_list(&browser).await;
    assert_eq!(left.len(), 2, "{left:?}");
    assert_eq!(left[0], "rules.rhai");
    assert!(left[1].starts_with("tests/sale.json"), "{left:?}");
    browser.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn discarding_a_draft_returns_the_editor_to_what_is_published_for_good() {
    let edge = Edge::shared();
    let admin = edge.admin_token.clone();
    let live = "rule(\"live\", #{ description: \"l\", priority: 1, show: #{ kind: \"bar\", content: #{ en: #{ body: \"Live\" } } } });";
    let (_, browser) = writing_over(edge, live, "what is live").await;
    paste_into_editor(&browser, &live.replace("Live", "Discard me")).await;
    wait_for_script(
        &browser,
        "return document.getElementById('status').textContent === 'Draft saved';",
    )
    .await;
    browser
        .client
        .execute("document.getElementById('discard').click();", vec![])
        .await
        .unwrap();
    wait_for_script(
        &browser,
        "return document.getElementById('status').textContent === 'Draft discarded';",
    )
    .await;
    wait_for_editor(&browser, live).await;
    let (_, draft) = edge.get("/v1/admin/draft", Some(&admin));
    assert_eq!(draft["draft"], Value::Null, "{draft}");
    // The next keystroke starts a new draft from what is live: the discarded one stays gone,
    // in the editor and after a reload.
    browser
        .client
        .execute(
            "document.getElementById('status').textContent = '';",
            vec![],
        )
        .await
        .unwrap();
    type_into_editor(&browser, "\u{E009}\u{E010}\u{E000}\u{E007}").await;
    wait_for_script(
        &browser,
        "return document.getElementById('status').textContent === 'Draft saved';",
    )
    .await;
    browser.client.refresh().await.unwrap();
    wait_for_editor(&browser, &format!("{live}\n")).await;
    let (_, draft) = edge.get("/v1/admin/draft", Some(&admin));
    let saved = draft["draft"]["files"]["rules.rhai"]
        .as_str()
        .unwrap_or_default();
    assert!(
        saved.contains("Live") && !saved.contains("Discard me"),
        "{draft}"
    );
    // Leave no draft behind for the other tests.
    edge.delete("/v1/admin/draft", Some(&admin));
    no_csp_violations(&browser).await;
    browser.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn simulating_a_persona_shows_what_the_draft_would_decide_and_why() {
    let edge = Edge::shared();
    let admin = edge.admin_token.clone();
    let rules = "segment(\"has_cart\", |v| v.cart.items > 0);
rule(\"cart-nudge\", #{ description: \"A cart reminder\", priority: 20, who: \"has_cart\",
    show: #{ kind: \"bar\", content: #{ en: #{ body: \"Your cart is waiting\" } } } });
rule(\"vip-bar\", #{ description: \"For gold customers\", priority: 30, who: |v| v.traits.get(\"tier\") == \"gold\",
    show: #{ kind: \"bar\", content: #{ en: #{ body: \"Early access\" } } } });
";
    let (status, published) = edge.post_admin(
        "/v1/admin/rulebooks",
        &json!({ "files": { "rules.rhai": rules }, "note": "simulation" }).to_string(),
    );
    assert_eq!(status, 201, "{published}");
    // No draft from another test: the workspace opens on this version.
    edge.delete("/v1/admin/draft", Some(&admin));
    let browser = console_at(edge, "write").await;
    wait_for_editor(&browser, rules).await;
    // The cart abandoner on the home page gets the cart reminder; the trace has a line for
    // every rule.
    browser
        .client
        .execute(
            "const p = document.getElementById('persona'); p.value = 'Cart abandoner';
             p.dispatchEvent(new Event('change')); document.getElementById('simulate').click();",
            vec![],
        )
        .await
        .unwrap();
    let shown = wait_for_script(
        &browser,
        "const e = document.querySelector('#simulation p'); return e && e.textContent;",
    )
    .await;
    assert_eq!(shown, json!("Shown: cart-nudge (bar)"));
    let trace = text_of(&browser, "#trace").await;
    assert!(
        trace.contains("cart-nudge") && trace.contains("vip-bar"),
        "{trace}"
    );
    // A field the visitor model does not have is named.
    browser
        .client
        .execute(
            "document.getElementById('persona-fields').value = '{\"vists\": 2}';
             document.getElementById('simulate').click();",
            vec![],
        )
        .await
        .unwrap();
    let error = wait_for_script(
        &browser,
        "const e = document.querySelector('#simulation .error'); return e && e.textContent;",
    )
    .await;
    assert!(error.as_str().unwrap().contains("vists"), "{error}");
    no_csp_violations(&browser).await;
    browser.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn results_draw_each_lift_against_zero_with_the_apis_numbers() {
    // An edge of its own: the other tests here publish rulebooks without the welcome test.
    let edge = &Edge::start_for_seed();
    let target = edge.seed_target();
    // A day of history: inside the console's default period, the last seven days.
    let now = chrono::Utc::now();
    let plan = rapport_seed::Plan {
        days: 1,
        base_conversion: 0.3,
        effect: ("story".into(), 0.5),
        ..rapport_seed::Plan::demo(120, 11, "console-results", now.timestamp_millis())
    };
    let sent = rapport_seed::run(&target, &plan, |_, _| {}).expect("the journeys replay");
    let enrolled: usize = sent.welcome.values().map(|a| a.visitors).sum();
    let (from, to) = (
        (now - chrono::Duration::days(6)).format("%Y-%m-%d"),
        now.format("%Y-%m-%d"),
    );
    let url = format!("/v1/admin/analytics/experiments?site=demo&from={from}&to={to}");
    // Once every seeded visitor is counted, the console shows the same arms.
    let welcome = eventually(Duration::from_secs(30), || {
        let (_, answer) = edge.get(&url, Some(&edge.admin_token));
        let welcome = answer["experiments"]
            .as_array()?
            .iter()
            .find(|e| e["rule"] == "welcome")?
            .clone();
        let visitors: f64 = welcome["arms"]
            .as_array()?
            .iter()
            .map(|a| a["visitors"].as_f64().unwrap())
            .sum();
        (visitors == enrolled as f64).then_some(welcome)
    })
    .await
    .expect("the seeded visitors are counted");
    let browser = signed_in_console(edge).await;
    let lifts = wait_for_script(
        &browser,
        "const l = document.querySelectorAll('.experiment[aria-label=\"welcome\"] .lifts li'); return l.length ? l.length : null;",
    )
    .await;
    assert_eq!(
        lifts,
        json!(welcome["comparisons"].as_array().unwrap().len())
    );
    let first_arm = &welcome["arms"][0];
    let cells = browser
        .client
        .execute(
            "const t = [...document.querySelectorAll('.experiment[aria-label=\"welcome\"] table')].find((t) => t.caption && t.caption.textContent.endsWith(': arms'));
             return t ? t.tBodies[0].rows[0].textContent : '';",
            vec![],
        )
        .await
        .unwrap()
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        cells.contains(first_arm["arm"].as_str().unwrap())
            && cells.contains(&(first_arm["visitors"].as_f64().unwrap() as i64).to_string())
            // Revenue per visitor, in the shop's currency.
            && cells.contains('€'),
        "{cells} against {first_arm}"
    );
    // The daily chart is uPlot's, and the bars are labelled for screen readers.
    wait_for_script(
        &browser,
        "return !!document.querySelector('.experiment[aria-label=\"welcome\"] .chart .uplot');",
    )
    .await;
    // Its time axis spans the period asked, a week by default, though the data is one day.
    let span = browser
        .client
        .execute(
            "const c = document.querySelector('.experiment[aria-label=\"welcome\"] .chart');
             return [c.dataset.from, c.dataset.to, document.getElementById('from').value,
                     document.getElementById('to').value, c.getAttribute('aria-label')];",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(span[0], span[2], "{span}");
    assert_eq!(span[1], span[3], "{span}");
    assert_ne!(span[0], span[1], "{span}");
    assert!(
        span[4].as_str().unwrap().ends_with(&format!(
            "{} to {}",
            span[2].as_str().unwrap(),
            span[3].as_str().unwrap()
        )),
        "{span}"
    );
    let label = wait_for_script(&browser, "const b = document.querySelector('.interval[role=img]'); return b && b.getAttribute('aria-label');").await;
    assert!(label.as_str().unwrap().contains("interval"), "{label}");
    // Each lift as a number with its interval, its state and its adjusted p-value.
    let one = |x: f64| {
        format!(
            "{}{:.1}%",
            if x >= 0.0 { "+" } else { "\u{2212}" },
            (x * 100.0).abs()
        )
    };
    let first = &welcome["comparisons"][0];
    let numbers = browser
        .client
        .execute(
            "return document.querySelector('.experiment[aria-label=\"welcome\"] .lifts li .numbers').textContent;",
            vec![],
        )
        .await
        .unwrap();
    assert!(first["lift"].is_object(), "{first}");
    let lift = &first["lift"];
    let state = first["state"].as_str().unwrap().replace('_', " ");
    let state = match state.as_str() {
        "not enough data" => "not enough data yet".to_owned(),
        "inconclusive" => "no clear difference yet".to_owned(),
        other => other.to_owned(),
    };
    assert_eq!(
        numbers,
        json!(format!(
            "{} ({} to {}): {state}, adjusted p = {:.3}. ",
            one(lift["estimate"].as_f64().unwrap()),
            one(lift["ci_low"].as_f64().unwrap()),
            one(lift["ci_high"].as_f64().unwrap()),
            first["adjusted_p_value"].as_f64().unwrap()
        )),
        "{first}"
    );
    // How long the experiment still needs, in the API's words, and each lift's adjusted
    // p-value in its table.
    let duration = wait_for_script(
        &browser,
        "const d = document.querySelector('.experiment[aria-label=\"welcome\"] .duration'); return d && d.textContent;",
    )
    .await;
    assert_eq!(duration, welcome["duration"]["words"], "{welcome}");
    let headers = browser
        .client
        .execute(
            "const t = [...document.querySelectorAll('.experiment[aria-label=\"welcome\"] table')].find((t) => t.caption && t.caption.textContent.endsWith(': lifts'));
             return t ? [...t.tHead.rows[0].cells].map((c) => c.textContent) : [];",
            vec![],
        )
        .await
        .unwrap();
    assert!(
        headers
            .as_array()
            .unwrap()
            .contains(&json!("Adjusted p-value")),
        "{headers}"
    );
    // The words the numbers are counted in are defined on the page.
    let glossary = text_of(&browser, "#glossary").await;
    for term in [
        "Visitor-day",
        "Impression",
        "Exposure",
        "Conversion",
        "NPS",
        "Always valid",
    ] {
        assert!(glossary.contains(term), "{term} in {glossary}");
    }
    // Every other analysis draws from its own endpoint, with the same filters.
    for (analysis, caption) in [
        ("satisfaction", "NPS and CSAT by week"),
        ("lifecycle", "Visitor-days by stage"),
        ("weak-spots", "Searches that found nothing"),
        ("segments", "Segments"),
    ] {
        browser
            .client
            .execute(
                "document.getElementById('analysis').value = arguments[0];
                 document.querySelector('form.filters button[type=submit]').click();",
                vec![json!(analysis)],
            )
            .await
            .unwrap();
        let found = wait_for_script(
            &browser,
            &format!(
                "return [...document.querySelectorAll('#results-out caption')].some((c) => c.textContent === '{caption}');"
            ),
        )
        .await;
        assert_eq!(found, json!(true), "{analysis}");
    }
    no_csp_violations(&browser).await;
    browser.client.clone().close().await.unwrap();
}

/// Satisfaction as a CX team reads it: the promoter, passive and detractor split, how many
/// of the surveys shown were answered, and the low scores' comments grouped and searchable.
#[tokio::test]
async fn satisfaction_shows_the_split_the_response_rate_and_the_comments_grouped() {
    // An edge of its own: the demo site's answers are this test's only.
    let edge = &Edge::start();
    let survey =
        json!({ "rule": "nps-survey", "experience": "nps-after-purchase", "segment": "everyone" });
    let said = [
        "Delivery was slow",
        "Slow delivery again",
        "Checkout kept failing",
    ];
    // Six shoppers are shown the survey; five answer (9, 8, 3, 2, 1), the low three with words.
    for i in 0..6 {
        let visitor = format!("visitor-cx-{i:04}");
        let session = format!("{visitor}-s");
        let path = if i == 3 { "/checkout" } else { "/products/mug" };
        let mut events = vec![
            json!({ "id": format!("{visitor}-c"), "session_id": session, "type": "consent",
                    "analytics": true, "personalization": true }),
            json!({ "id": format!("{visitor}-p"), "session_id": session, "type": "page_view",
                    "page": { "url": format!("https://tidewater.example{path}"), "path": path } }),
            json!({ "id": format!("{visitor}-i"), "session_id": session, "type": "impression",
                    "rule": "nps-survey", "experience": "nps-after-purchase", "segment": "everyone" }),
        ];
        if i < 5 {
            let mut answer = survey.clone();
            answer["id"] = json!(format!("{visitor}-a"));
            answer["session_id"] = json!(session);
            answer["type"] = json!("answer");
            answer["survey"] = json!("nps");
            answer["score"] = json!([9, 8, 3, 2, 1][i]);
            if i >= 2 {
                answer["comment"] = json!(said[i - 2]);
            }
            events.push(answer);
        }
        let (status, answered) = edge.post(
            "/v1/events",
            &json!({ "site": "demo", "visitor_id": visitor, "events": events }).to_string(),
        );
        assert_eq!(status, 200, "{answered}");
    }
    let day = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let path = format!("/v1/admin/analytics/satisfaction?site=demo&from={day}&to={day}");
    eventually(WAIT, || {
        let (_, s) = edge.get(&path, Some(&edge.admin_token));
        (s["overall"]["nps_answers"] == 5.0 && s["responses"][0]["shown"] == 6.0).then_some(())
    })
    .await
    .expect("the answers and the surveys shown reach the analytics");
    let browser = console_at(edge, "results").await;
    wait_for_script(&browser, "return !!document.getElementById('analysis');").await;
    browser
        .client
        .execute(
            "document.getElementById('analysis').value = 'satisfaction';
             document.querySelector('form.filters button[type=submit]').click();",
            vec![],
        )
        .await
        .unwrap();
    let rate = wait_for_script(
        &browser,
        "const e = document.getElementById('response-rate'); return e && e.textContent;",
    )
    .await;
    // 5 of 6: Wilson's 95% interval is 43.6% to 97.0%.
    assert_eq!(
        rate,
        json!("83% (44% to 97%) of the surveys shown were answered (5 of 6)")
    );
    let headline = text_of(&browser, "#results-out .headline").await;
    assert!(
        headline.contains("from 5 answers (1 promoters, 1 passives, 3 detractors)"),
        "{headline}"
    );
    let groups = browser
        .client
        .execute(
            "const t = [...document.querySelectorAll('#results-out table')].find((t) => t.caption && t.caption.textContent === 'Low-score comments by page');
             return [...t.tBodies[0].rows].map((r) => [...r.cells].map((c) => c.textContent).join('|'));",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        groups,
        json!([
            "/products/mug|2|“Checkout kept failing” (1) · “Delivery was slow” (3)",
            "/checkout|1|“Slow delivery again” (2)"
        ])
    );
    // Searching keeps the comments that say it.
    let search = browser
        .client
        .find(Locator::Css("#comment-search"))
        .await
        .unwrap();
    search.send_keys("slow").await.unwrap();
    let visible = wait_for_script(
        &browser,
        "const t = [...document.querySelectorAll('#results-out table')].find((t) => t.caption && t.caption.textContent === 'Comments with low scores');
         const shown = [...t.tBodies[0].rows].filter((r) => !r.hidden).map((r) => r.cells[5].textContent);
         return shown.length === 2 && shown;",
    )
    .await;
    assert_eq!(visible, json!(["Slow delivery again", "Delivery was slow"]));
    no_csp_violations(&browser).await;
    browser.client.clone().close().await.unwrap();
}

/// Regression: filling the segment filter again left its last segment chosen, so the
/// segments analysis read one segment when the marketer had asked for all visitors.
#[tokio::test]
async fn the_segment_filter_lists_the_periods_segments_and_stays_on_all_visitors() {
    let edge = Edge::shared();
    // A rulebook with segments (the shared edge's active one is whatever a test published).
    let rules = "segment(\"has_cart\", |v| v.cart.items > 0);
segment(\"returning\", |v| v.visits > 1);
segment(\"italian\", |v| v.language == \"it\");
rule(\"cart-bar\", #{ description: \"c\", priority: 1, who: \"has_cart\",
    show: #{ kind: \"bar\", content: #{ en: #{ body: \"Cart\" } } } });
";
    publish_versions(edge, "segments to filter by", &[rules.to_owned()]);
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let path = format!("/v1/admin/analytics/segments?site=demo&from={today}&to={today}");
    // The edge's isolates see the new version within seconds.
    let listed = eventually(WAIT, || {
        let (_, segments) = edge.get(&path, Some(&edge.admin_token));
        let names: Vec<&str> = segments["segments"]
            .as_array()?
            .iter()
            .filter_map(|s| s["segment"].as_str())
            .collect();
        names.contains(&"italian").then_some(names.len())
    })
    .await
    .expect("the segments analysis lists the new rulebook's segments");
    let browser = console_at(edge, "results").await;
    // The filter is filled from the segments analysis of the period.
    let count = wait_for_script(
        &browser,
        "const s = document.getElementById('segment'); return s && s.options.length > 2 && s.options.length;",
    )
    .await;
    assert_eq!(count, json!(listed + 1), "every segment, and all visitors");
    let chosen = |browser: &Browser| {
        let client = browser.client.clone();
        async move {
            client
                .execute("return document.getElementById('segment').value;", vec![])
                .await
                .unwrap()
        }
    };
    assert_eq!(chosen(&browser).await, json!(""), "all visitors");
    // Read for all visitors, the segments analysis lists every segment, and the filter
    // stays on all visitors.
    browser
        .client
        .execute(
            "const a = document.getElementById('analysis'); a.value = 'segments';
             a.dispatchEvent(new Event('change'));
             document.querySelector('form.filters button[type=submit]').click();",
            vec![],
        )
        .await
        .unwrap();
    let rows = wait_for_script(
        &browser,
        "const t = [...document.querySelectorAll('#results-out table')].find((t) => t.caption && t.caption.textContent === 'Segments');
         return t && t.tBodies[0].rows.length;",
    )
    .await;
    assert_eq!(rows, json!(listed));
    assert_eq!(chosen(&browser).await, json!(""), "still all visitors");
    no_csp_violations(&browser).await;
    browser.client.clone().close().await.unwrap();
}

/// Loads fresh pages of the shop until one shows `experience` (the edge's isolates see a new
/// version within seconds).
async fn shop_comes_to_show(edge: &Edge, shopper: &Browser, experience: &str) {
    let shown = poll(WAIT, || async {
        shopper.client.goto(&edge.url("/")).await.unwrap();
        shopper.wait_for_decision().await;
        poll(Duration::from_secs(2), || {
            shopper.visible_prompt(experience)
        })
        .await
    })
    .await;
    assert!(shown.is_some(), "the shop never showed {experience}");
}

/// Shoppers who consented to analytics and viewed the home page (`cart` of them with an item
/// in the cart): what the edge's visitor sample is made of.
fn consented_shoppers(edge: &Edge, prefix: &str, n: usize, cart: usize) {
    for i in 0..n {
        let visitor = format!("{prefix}-{i}");
        let page = json!({ "url": "https://tidewater.example/", "path": "/", "kind": "home" });
        let mut events = vec![
            json!({ "id": format!("{visitor}-1"), "session_id": format!("{visitor}-s"), "type": "consent",
                    "analytics": true, "personalization": true }),
            json!({ "id": format!("{visitor}-2"), "session_id": format!("{visitor}-s"), "type": "page_view",
                    "page": page }),
        ];
        if i < cart {
            events.push(json!({ "id": format!("{visitor}-3"), "session_id": format!("{visitor}-s"),
                "type": "add_to_cart", "product": { "id": "linen-shirt", "name": "Linen Shirt", "price": 59.0,
                "currency": "EUR" }, "quantity": 1 }));
        }
        let (status, answer) = edge.post(
            "/v1/events",
            &json!({ "site": "demo", "visitor_id": visitor, "events": events }).to_string(),
        );
        assert_eq!(status, 200, "{answer}");
    }
}

#[tokio::test]
async fn an_experience_with_no_impressions_says_why_from_the_trace_over_recent_visitors() {
    let edge = Edge::start();
    let italian = "rule(\"italian\", #{ description: \"For Italian pages\", priority: 5, who: |v| v.language == \"it\",
        show: #{ kind: \"toast\", content: #{ en: #{ body: \"Ciao\" } } } });";
    publish_versions(
        &edge,
        "two rules",
        &[format!("{}\n{italian}", bar_rule("everyone", "Hi"))],
    );
    consented_shoppers(&edge, "quiet-shopper", 3, 0);
    eventually(WAIT, || (sample_size(&edge) == Some(3)).then_some(()))
        .await
        .expect("the shoppers reach the sample");
    let console = console_at(&edge, "results").await;
    wait_for_script(&console, "return !!document.getElementById('analysis');").await;
    console
        .client
        .execute(
            "document.getElementById('analysis').value = 'experiences';
             document.querySelector('form.filters button[type=submit]').click();",
            vec![],
        )
        .await
        .unwrap();
    let lines = wait_for_script(
        &console,
        "const l = document.querySelectorAll('#not-shown li'); return l.length === 2 && [...l].map((i) => i.textContent);",
    )
    .await;
    let lines: Vec<String> = serde_json::from_value(lines).unwrap();
    assert!(
        lines.contains(&"italian (rule italian): not shown: the `who` condition is false: v.language = \"\", needs == \"it\", for 3 of 3 recent visitors.".to_owned()),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l
                .starts_with("everyone (rule everyone): it would reach 3 of 3 recent visitors")),
        "{lines:?}"
    );
    console.client.clone().close().await.unwrap();
}

/// How many visitors the demo site's sample holds, as the impact of any draft counts them.
fn sample_size(edge: &Edge) -> Option<u64> {
    let rules = json!({ "rules.rhai": bar_rule("any", "Hello") });
    let (_, impact) = edge.post_admin(
        "/v1/admin/impact",
        &json!({ "site": "demo", "files": rules }).to_string(),
    );
    impact["visitors"].as_u64()
}

async fn click(browser: &Browser, css: &str) {
    browser
        .client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|_| panic!("{css} on the page"))
        .click()
        .await
        .unwrap();
}

/// Two rules written in the console: a bar for everyone on the home page, a toast for carts.
const HELLO: &str = "segment(\"has_cart\", |v| v.cart.items > 0);
rule(\"console-hello\", #{ description: \"Written in the console\", priority: 50, page: \"home\",
    show: #{ id: \"console-hello-bar\", kind: \"bar\", content: #{ en: #{ body: \"Hello from the console\" } } } });
rule(\"cart-toast\", #{ description: \"Carts only\", priority: 40, who: \"has_cart\",
    show: #{ id: \"cart-toast\", kind: \"toast\", content: #{ en: #{ body: \"Your cart is waiting\" } } } });
";

/// An edge of its own (the shop decides with this test's versions only, and the visitor
/// sample holds this test's shoppers only), with a bar saying "Earlier" live; the console's
/// workspace with `HELLO` written over it, checked clean. Gives the edge, the live version
/// and the console.
async fn hello_written() -> (Edge, i64, Browser) {
    let edge = Edge::start();
    let before = publish_versions(
        &edge,
        "before the console",
        &[bar_rule("before", "Earlier")],
    )[0];
    let console = console_at(&edge, "write").await;
    wait_for_editor(&console, &bar_rule("before", "Earlier")).await;
    paste_into_editor(&console, HELLO).await;
    wait_for_script(
        &console,
        "return !document.getElementById('publish').disabled;",
    )
    .await;
    (edge, before, console)
}

/// How many impressions of `experience` today's reports count.
fn impressions(edge: &Edge, experience: &str) -> i64 {
    let day = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let reports = format!("/v1/admin/reports?site=demo&from={day}&to={day}");
    let (_, report) = edge.get(&reports, Some(&edge.admin_token));
    report["totals"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["experience"] == experience)
        .map(|t| t["impressions"].as_i64().unwrap())
        .sum()
}

#[tokio::test]
async fn the_outline_lists_the_drafts_segments_and_rules_where_each_is_written() {
    let (_edge, _, console) = hello_written().await;
    // The outline shows the published rulebook until the pasted draft's check answers: the
    // draft's first rule is the signal that it is the draft's.
    let outline = wait_for_script(
        &console,
        "const o = document.querySelector('#outline ul[aria-label=Rules]');
         return o && o.textContent.includes('console-hello') && o.textContent;",
    )
    .await;
    let outline = outline.as_str().unwrap();
    assert!(
        outline.contains("console-hello")
            && outline.contains("for has_cart")
            && outline.contains("cart-toast (toast)"),
        "{outline}"
    );
    // A rule's name puts the cursor on its line.
    click(
        &console,
        "button[aria-label='cart-toast, rules.rhai line 4']",
    )
    .await;
    let line = wait_for_script(
        &console,
        "const l = document.getElementById('editor').shadowRoot.querySelector('.cm-activeLine'); return l && l.textContent;",
    )
    .await;
    assert!(
        line.as_str().unwrap().starts_with("rule(\"cart-toast\""),
        "{line}"
    );
    no_csp_violations(&console).await;
    console.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn impact_counts_who_sees_each_experience_now_and_after_publishing() {
    let (edge, _, console) = hello_written().await;
    // Six recent visitors, two with something in the cart; and one who is then erased,
    // which takes them out of the sample.
    consented_shoppers(&edge, "sampled", 6, 2);
    consented_shoppers(&edge, "erased", 1, 1);
    eventually(WAIT, || (sample_size(&edge) == Some(7)).then_some(()))
        .await
        .expect("the consented shoppers reach the sample");
    let (status, _) = edge.delete("/v1/admin/visitors/demo/erased-0", Some(&edge.admin_token));
    assert_eq!(status, 200);
    assert_eq!(
        sample_size(&edge),
        Some(6),
        "an erased visitor leaves the sample"
    );
    // Over the sample, the bar goes to all six and the toast to the two carts; the live
    // rulebook's bar goes from six to none.
    click(&console, "#impact-run").await;
    let summary = wait_for_script(
        &console,
        "const e = document.getElementById('impact-summary'); return e && e.textContent;",
    )
    .await;
    let summary = summary.as_str().unwrap();
    assert!(
        summary.starts_with("Of 6 recent visitors")
            && summary.contains("6 would get something different"),
        "{summary}"
    );
    let rows = console
        .client
        .execute(
            "return [...document.querySelectorAll('#impact tbody tr')].map((r) => [...r.cells].map((c) => c.textContent).join('|'));",
            vec![],
        )
        .await
        .unwrap();
    let rows: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    for expected in [
        "console-hello-bar|console-hello|0|6|+6|6|0|",
        "before|before|6|0|-6|0|6|the draft has no rule \"before\" (for 6 of 6)",
        "cart-toast|cart-toast|0|2|+2|2|0|",
    ] {
        assert!(rows.contains(&expected), "{expected} in {rows:?}");
    }
    // What reaches no one says why, above the table.
    let zero = text_of(&console, "#impact-zero").await;
    assert_eq!(
        zero,
        "before would reach 0 of 6: the draft has no rule \"before\" (for 6 of 6)"
    );
    // A real recent visitor is a persona to start from, without who they are; the form and
    // the JSON of every field stay in step.
    click(&console, "#use-recent").await;
    let picked = wait_for_script(
        &console,
        "const p = document.getElementById('recent-visitor'); return p && p.textContent.startsWith('A recent visitor') && p.textContent;",
    )
    .await;
    assert!(picked.as_str().unwrap().contains("visit(s)"), "{picked}");
    let persona: Value = serde_json::from_str(
        wait_for_script(
            &console,
            "return document.getElementById('persona-fields').value;",
        )
        .await
        .as_str()
        .unwrap(),
    )
    .unwrap();
    assert!(persona["visitor_id"]
        .as_str()
        .unwrap()
        .starts_with("recent-visitor-"));
    assert!(persona.get("customer_id").is_none() && persona.get("session_id").is_none());
    let nps = console.client.find(Locator::Css("#p-nps")).await.unwrap();
    nps.send_keys("3").await.unwrap();
    let score = wait_for_script(
        &console,
        "return JSON.parse(document.getElementById('persona-fields').value).nps?.score;",
    )
    .await;
    assert_eq!(score, json!(3));
    click(&console, "#simulate").await;
    wait_for_script(&console, "return !!document.getElementById('sim-shown');").await;
    no_csp_violations(&console).await;
    console.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn a_preview_link_shows_the_draft_on_the_shop_and_records_nothing() {
    let (edge, before, console) = hello_written().await;
    // A link from the draft, signed with the preview key, opened on the shop shows the
    // unpublished bar with the panel.
    console
        .client
        .execute(
            "const o = document.getElementById('preview-origin'); o.value = location.origin;",
            vec![],
        )
        .await
        .unwrap();
    click(
        &console,
        "button[aria-label='Preview on the shop: console-hello-bar']",
    )
    .await;
    let link = wait_for_script(
        &console,
        "const a = document.getElementById('preview-url'); return a && a.href;",
    )
    .await;
    let previewer = Browser::start().await;
    previewer.client.goto(link.as_str().unwrap()).await.unwrap();
    let bar = previewer.wait_for_prompt("console-hello-bar", WAIT).await;
    assert!(bar.contains("Hello from the console"), "{bar}");
    let panel = previewer.preview_panel().await;
    assert!(
        panel.contains("Trace") && panel.contains("console-hello"),
        "{panel}"
    );
    // The same visitor then on an ordinary page sees what is live. Once that impression is
    // in the reports, whatever the preview had recorded before it, through the same visitor,
    // would be too: it recorded nothing.
    shop_comes_to_show(&edge, &previewer, "before").await;
    eventually(WAIT, || (impressions(&edge, "before") >= 1).then_some(()))
        .await
        .expect("the ordinary page's impression reaches the reports");
    assert_eq!(
        impressions(&edge, "console-hello-bar"),
        0,
        "a preview records nothing"
    );
    let (_, active) = edge.get("/v1/admin/rulebooks", Some(&edge.admin_token));
    assert_eq!(
        active["active"],
        json!(before),
        "a preview publishes nothing"
    );
    previewer.client.clone().close().await.unwrap();
    no_csp_violations(&console).await;
    console.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn what_the_console_publishes_reaches_shoppers_and_its_results() {
    let (edge, _, console) = hello_written().await;
    let changes = publish_with_note(&console, "hello bar").await;
    for line in [
        "Added rule console-hello",
        "Added rule cart-toast",
        "Added segment has_cart",
        "Removed rule before",
    ] {
        assert!(changes.contains(line), "{line}: {changes}");
    }
    let shopper = Browser::start().await;
    shop_comes_to_show(&edge, &shopper, "console-hello-bar").await;
    // Results show the shopper's impressions, as the reports count them.
    eventually(WAIT, || {
        (impressions(&edge, "console-hello-bar") >= 1).then_some(())
    })
    .await
    .expect("the impression reaches the reports");
    console
        .client
        .goto(&edge.url("/console/#results"))
        .await
        .unwrap();
    wait_for_script(&console, "return !!document.getElementById('analysis');").await;
    console
        .client
        .execute(
            "document.getElementById('analysis').value = 'experiences';
             document.querySelector('form.filters button[type=submit]').click();",
            vec![],
        )
        .await
        .unwrap();
    let row = wait_for_script(
        &console,
        "const r = [...document.querySelectorAll('#results-out tbody tr')].find((r) => r.cells[0].textContent === 'console-hello-bar'); return r && [...r.cells].map((c) => c.textContent).join('|');",
    )
    .await;
    let counted = impressions(&edge, "console-hello-bar");
    assert!(
        row.as_str()
            .unwrap()
            .starts_with(&format!("console-hello-bar|console-hello|–|{counted}|")),
        "{row}"
    );
    no_csp_violations(&console).await;
    shopper.client.clone().close().await.unwrap();
    console.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn a_rollback_in_the_console_takes_the_version_off_the_shop() {
    let (edge, before, console) = hello_written().await;
    publish_with_note(&console, "hello bar").await;
    let shopper = Browser::start().await;
    shop_comes_to_show(&edge, &shopper, "console-hello-bar").await;
    console
        .client
        .goto(&edge.url("/console/#rulebook"))
        .await
        .unwrap();
    click(
        &console,
        &format!("button[aria-label='Make active: version {before}']"),
    )
    .await;
    let changes = confirm(&console).await;
    assert!(changes.contains("Removed rule console-hello"), "{changes}");
    // A new shopper (the first has used the session's prompts) gets the earlier bar in its
    // place, so the page has decided with the rollback: the console's bar is gone.
    let newcomer = Browser::start().await;
    shop_comes_to_show(&edge, &newcomer, "before").await;
    assert_eq!(newcomer.visible_prompt("console-hello-bar").await, None);
    newcomer.client.clone().close().await.unwrap();
    no_csp_violations(&console).await;
    shopper.client.clone().close().await.unwrap();
    console.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn a_shopper_who_withdraws_consent_on_the_shop_leaves_the_visitor_sample() {
    // An edge of its own: the sample holds this test's shopper only.
    let edge = &Edge::start();
    let shopper = Browser::start().await;
    shopper.pin_visitor(edge, "visitor-withdrawing-01").await;
    shopper.client.goto(&edge.url("/")).await.unwrap();
    shopper.wait_for_decision().await;
    assert_eq!(
        sample_size(edge),
        Some(0),
        "no consent reported yet: not in the sample"
    );
    let banner = |analytics: bool| {
        format!("rapport.push(['consent', {{ analytics: {analytics}, personalization: {analytics} }}]);")
    };
    shopper.client.execute(&banner(true), vec![]).await.unwrap();
    eventually(WAIT, || (sample_size(edge) == Some(1)).then_some(()))
        .await
        .expect("a consented shopper joins the sample");
    shopper
        .client
        .execute(&banner(false), vec![])
        .await
        .unwrap();
    eventually(WAIT, || (sample_size(edge) == Some(0)).then_some(()))
        .await
        .expect("withdrawn on the shop, the shopper leaves the sample");
    shopper.client.clone().close().await.unwrap();
}
