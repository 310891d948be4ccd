//! The console's team in Chromium against the edge in workerd: the owner invites a viewer by
//! a one-time link; the viewer joins with their own secret, signs in by name, and can read
//! but not save a draft or publish, in the page or by calling the API with their session;
//! a change of role holds from the next call; the audit log names who did what; a removed
//! member's session ends.

use fantoccini::Locator;
use rapport_e2e::console::{sign_in, signed_in, signed_in_console, wait_for_script};
use rapport_e2e::{Browser, Edge};
use serde_json::{json, Value};

/// Calls the edge from the page, as the console does (its header, its session cookie).
async fn call(browser: &Browser, method: &str, path: &str, body: Value) -> (u16, Value) {
    let answer = browser
        .client
        .execute_async(
            "const [method, path, body, done] = arguments;
             fetch(path, { method, credentials: 'same-origin',
                 headers: { 'content-type': 'application/json', 'x-rapport-console': '1' },
                 body: method === 'GET' ? undefined : JSON.stringify(body) })
               .then(async (r) => done([r.status, await r.json().catch(() => null)]));",
            vec![json!(method), json!(path), body],
        )
        .await
        .unwrap();
    (answer[0].as_u64().unwrap() as u16, answer[1].clone())
}

/// Empties the field `css`, then types `text` into it.
async fn type_in(browser: &Browser, css: &str, text: &str) {
    browser
        .client
        .execute(
            "document.querySelector(arguments[0]).value = '';",
            vec![json!(css)],
        )
        .await
        .unwrap();
    let input = browser.client.find(Locator::Css(css)).await.unwrap();
    input.send_keys(text).await.unwrap();
}

async fn click(browser: &Browser, css: &str) {
    browser
        .client
        .find(Locator::Css(css))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

const SECRET: &str = "tide pools at dawn";

#[tokio::test]
async fn a_viewer_invited_by_the_owner_reads_but_cannot_save_or_publish_even_through_the_api() {
    // Its own edge: the sign-in limit counts every attempt from this machine.
    let edge = Edge::start();

    // The owner invites Vera as a viewer from the Team page, and gets the link.
    let owner = signed_in_console(&edge).await;
    owner
        .client
        .goto(&edge.url("/console/#team"))
        .await
        .unwrap();
    wait_for_script(&owner, "return document.getElementById('invite-name');").await;
    type_in(&owner, "#invite-name", "Vera Quill").await;
    owner
        .client
        .execute(
            "const s = document.getElementById('invite-role'); s.value = 'viewer';",
            vec![],
        )
        .await
        .unwrap();
    click(&owner, "form.invite button[type=submit]").await;
    let link = wait_for_script(
        &owner,
        "const i = document.getElementById('invite-url'); return i && i.value;",
    )
    .await;
    let link = link.as_str().unwrap().to_owned();
    assert!(link.contains("/console/#invite="), "{link}");
    let invitations = wait_for_script(
        &owner,
        "const t = [...document.querySelectorAll('table')].find((t) => t.caption && t.caption.textContent === 'Open invitations');
         return t && t.tBodies[0].innerText.includes('Vera Quill') && t.tBodies[0].innerText;",
    )
    .await;
    assert!(invitations.as_str().unwrap().contains("viewer"));

    // Vera opens the link in her own browser and chooses her secret.
    let vera = Browser::start().await;
    vera.client.goto(&link).await.unwrap();
    let welcome = wait_for_script(
        &vera,
        "const p = document.getElementById('invited-as'); return p && p.textContent;",
    )
    .await;
    assert_eq!(
        welcome.as_str().unwrap().split(". ").next(),
        Some("owner invited you as viewer")
    );
    let address = vera.client.current_url().await.unwrap();
    assert!(
        !address.as_str().contains("invite="),
        "the token left the address bar: {address}"
    );
    type_in(&vera, "#new-secret", SECRET).await;
    type_in(&vera, "#new-secret-again", SECRET).await;
    click(&vera, "form.sign-in button[type=submit]").await;
    signed_in(&vera).await;
    let who = wait_for_script(
        &vera,
        "const w = document.getElementById('who'); return w && w.textContent;",
    )
    .await;
    assert_eq!(who, json!("Vera Quill (viewer)"));

    // The link worked once.
    let token = link.split("#invite=").nth(1).unwrap();
    let (status, again) = call(
        &vera,
        "PUT",
        "/v1/console/invite",
        json!({ "token": token, "secret": "someone else's secret" }),
    )
    .await;
    assert_eq!((status, &again["error"]["field"]), (404, &json!("token")));

    // Write: she may try rules out, but the page offers no publish, and says why.
    vera.client
        .goto(&edge.url("/console/#write"))
        .await
        .unwrap();
    let note = wait_for_script(
        &vera,
        "const n = document.getElementById('role-note'); return n && n.textContent;",
    )
    .await;
    assert!(
        note.as_str().unwrap().contains("You are a viewer"),
        "{note}"
    );
    assert!(vera.client.find(Locator::Css("#publish")).await.is_err());

    // Her session cannot save, discard or publish through the API either; it can read and
    // check.
    let files = json!({ "rules.rhai": "" });
    let refused = [
        (
            "PUT",
            "/v1/admin/draft",
            json!({ "files": files, "base": null }),
        ),
        ("DELETE", "/v1/admin/draft", json!({})),
        (
            "POST",
            "/v1/admin/rulebooks",
            json!({ "files": files, "note": "mine" }),
        ),
        (
            "POST",
            "/v1/admin/team",
            json!({ "name": "Eve", "role": "owner" }),
        ),
    ];
    for (method, path, body) in refused {
        let (status, answer) = call(&vera, method, path, body).await;
        assert_eq!(status, 403, "{method} {path}: {answer}");
        assert_eq!(answer["error"]["field"], "role", "{answer}");
        assert_eq!(
            answer["error"]["message"]
                .as_str()
                .unwrap()
                .split(';')
                .next(),
            Some("Vera Quill is a viewer"),
        );
    }
    let (status, _) = call(&vera, "GET", "/v1/admin/rulebooks", json!(null)).await;
    assert_eq!(status, 200);
    let (status, checked) = call(&vera, "POST", "/v1/admin/check", json!({ "files": files })).await;
    assert_eq!(status, 200, "{checked}");
    let (_, draft) = edge.get("/v1/admin/draft", Some(&edge.admin_token));
    assert_eq!(draft["draft"], Value::Null, "nothing was saved: {draft}");

    // She signs out and back in by name; a wrong secret is refused as such.
    click(&vera, "#sign-out").await;
    wait_for_script(&vera, "return document.getElementById('name');").await;
    type_in(&vera, "#name", "Vera Quill").await;
    sign_in(&vera, "not her secret at all").await;
    let refused = wait_for_script(
        &vera,
        "const p = document.getElementById('sign-in-error');
         return p && p.textContent !== '' && p.textContent !== 'You are signed out.' && p.textContent;",
    )
    .await;
    assert_eq!(refused, json!("That name and secret do not match."));
    type_in(&vera, "#name", "vera quill").await;
    sign_in(&vera, SECRET).await;
    signed_in(&vera).await;

    // The owner makes her an editor: her next call may save the draft.
    let (status, changed) = edge.server(
        "PUT",
        "/v1/admin/team/Vera%20Quill",
        Some(&edge.admin_token),
        &json!({ "role": "editor" }).to_string(),
    );
    assert_eq!(status, 200, "{changed}");
    let (status, saved) = call(
        &vera,
        "PUT",
        "/v1/admin/draft",
        json!({ "files": files, "base": null }),
    )
    .await;
    assert_eq!(status, 200, "{saved}");
    let (status, _) = call(
        &vera,
        "POST",
        "/v1/admin/rulebooks",
        json!({ "files": files }),
    )
    .await;
    assert_eq!(status, 403, "an editor does not publish");

    // The audit log names who did what.
    let (_, audit) = edge.get("/v1/admin/audit", Some(&edge.admin_token));
    let entries = audit["entries"].as_array().unwrap();
    let by = |action: &str| -> Vec<Value> {
        entries
            .iter()
            .filter(|e| e["action"] == action)
            .map(|e| e["who"].clone())
            .collect()
    };
    assert_eq!(by("invite"), vec![json!("owner")]);
    assert_eq!(by("change_role"), vec![json!("owner")]);

    // Removed, her session ends at once.
    let (status, _) = edge.delete("/v1/admin/team/Vera%20Quill", Some(&edge.admin_token));
    assert_eq!(status, 200);
    let (status, _) = call(&vera, "GET", "/v1/console/session", json!(null)).await;
    assert_eq!(status, 401);

    // The owner's console shows the audit with names.
    owner
        .client
        .goto(&edge.url("/console/#audit"))
        .await
        .unwrap();
    let rows = wait_for_script(
        &owner,
        "const t = document.querySelector('.view-audit table'); return t && t.tBodies[0].innerText;",
    )
    .await;
    assert!(rows.as_str().unwrap().contains("remove_member"), "{rows}");
    vera.client.clone().close().await.unwrap();
    owner.client.clone().close().await.unwrap();
}

/// Joins the team through an invitation link in a browser of its own.
async fn join(edge: &Edge, name: &str, role: &str) -> Browser {
    let (status, invited) = edge.post_admin(
        "/v1/admin/team",
        &json!({ "name": name, "role": role }).to_string(),
    );
    assert_eq!(status, 201, "{invited}");
    let browser = Browser::start().await;
    browser
        .client
        .goto(&edge.url(invited["link"].as_str().unwrap()))
        .await
        .unwrap();
    wait_for_script(&browser, "return document.getElementById('new-secret');").await;
    type_in(&browser, "#new-secret", SECRET).await;
    type_in(&browser, "#new-secret-again", SECRET).await;
    click(&browser, "form.sign-in button[type=submit]").await;
    signed_in(&browser).await;
    browser
}

fn bar(id: &str) -> Value {
    json!({ "rules.rhai": format!(
        "rule(\"{id}\", #{{ description: \"a bar\", priority: 1, show: #{{ kind: \"bar\", content: #{{ en: #{{ body: \"Hi\" }} }} }} }});"
    ) })
}

#[tokio::test]
async fn with_approval_on_a_publish_waits_for_a_second_publisher() {
    let edge = Edge::start();
    let admin = edge.admin_token.clone();
    let (status, _) = edge.server(
        "PUT",
        "/v1/admin/settings",
        Some(&admin),
        &json!({ "publish_approval": true }).to_string(),
    );
    assert_eq!(status, 200);
    let pia = join(&edge, "Pia Lund", "publisher").await;

    // The owner's publish passes its checks and waits; nothing changed on the shop.
    let (status, asked) = edge.post_admin(
        "/v1/admin/rulebooks",
        &json!({ "files": bar("autumn"), "note": "autumn bar" }).to_string(),
    );
    assert_eq!(status, 202, "{asked}");
    let (_, versions) = edge.get("/v1/admin/rulebooks", Some(&admin));
    assert_eq!(versions["active"], Value::Null, "nothing is active yet");

    // Pia sees it under Rulebook with what it changes, and approves it.
    pia.client
        .goto(&edge.url("/console/#rulebook"))
        .await
        .unwrap();
    let waiting = wait_for_script(
        &pia,
        "const r = document.getElementById('requests'); return r && r.innerText;",
    )
    .await;
    let waiting = waiting.as_str().unwrap();
    assert!(
        waiting.contains("owner asked") && waiting.contains("Added rule autumn"),
        "{waiting}"
    );
    click(&pia, "#requests button.approve").await;
    let active = rapport_e2e::eventually(rapport_e2e::console::WAIT, || {
        let (_, versions) = edge.get("/v1/admin/rulebooks", Some(&admin));
        (!versions["active"].is_null()).then_some(versions)
    })
    .await
    .expect("the approved publish is active");
    assert_eq!(active["versions"][0]["note"], "autumn bar");
    let (_, audit) = edge.get("/v1/admin/audit", Some(&admin));
    let approval = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "approve_publish")
        .cloned()
        .expect("the approval is in the audit log");
    assert_eq!(approval["who"], "Pia Lund");
    assert_eq!(approval["detail"]["requested_by"], "owner");

    // Her own publish waits too, and she cannot approve it herself.
    let (status, mine) = call(
        &pia,
        "POST",
        "/v1/admin/rulebooks",
        json!({ "files": bar("winter"), "note": "winter bar" }),
    )
    .await;
    assert_eq!(status, 202, "{mine}");
    let own = format!("/v1/admin/rulebooks/requests/{}/approve", mine["requested"]);
    let (status, refused) = call(&pia, "POST", &own, json!({})).await;
    assert_eq!(
        (status, &refused["error"]["field"]),
        (403, &json!("id")),
        "{refused}"
    );
    pia.client.clone().close().await.unwrap();
}
