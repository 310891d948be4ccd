//! The `rapport` command as a marketer runs it: exit codes, diagnostics, the closing line
//! of `test`, and the JSON of `decide`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn rapport(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rapport"))
        .args(args)
        .output()
        .expect("the rapport binary runs")
}

fn demo() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../demo-site/rulebook")
        .display()
        .to_string()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A throwaway rulebook directory.
fn rulebook(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        let path: PathBuf = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

#[test]
fn check_accepts_the_demo_rulebook() {
    let out = rapport(&["check", &demo()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("ok, 18 rules"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn check_reports_file_line_col_and_fails() {
    let dir = rulebook(&[
        ("a.rhai", "segment(\"s\", |v| v.visits > 1);\nrule(\"r\", #{ who: \"nobody\", show: #{ kind: \"bar\", content: #{ en: #{ body: \"x\" } } } });\n"),
        ("b.rhai", "rule(\"q\", #{ show: #{ kind: \"banner\", content: #{ en: #{ body: \"x\" } } } });\n"),
    ]);
    let out = rapport(&["check", &dir.path().display().to_string()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    assert!(
        lines[0].ends_with("a.rhai:2:14: error: rule \"r\": unknown segment \"nobody\""),
        "{stderr}"
    );
    assert!(
        lines[1].contains("b.rhai:1:23: error: rule \"q\": `show.kind` must be one of bar,"),
        "{stderr}"
    );
}

#[test]
fn test_runs_the_cases_and_ends_with_the_tally() {
    let out = rapport(&["test", &demo()]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    let last = stdout.lines().last().unwrap();
    assert!(last.ends_with("passed, 0 failed"), "{last}");

    let dir = rulebook(&[
        ("a.rhai", "rule(\"r\", #{ page: \"home\", show: #{ kind: \"bar\", content: #{ en: #{ body: \"x\" } } } });\n"),
        ("tests/r.json", r#"[
            {"name": "shows on home", "page": {"url": "/", "path": "/", "kind": "home"}, "expect": ["r"]},
            {"name": "wrongly expects it on cart", "page": {"url": "/cart", "path": "/cart", "kind": "cart"}, "expect": ["r"]}
        ]"#),
    ]);
    let out = rapport(&["test", &dir.path().display().to_string()]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("FAIL"), "{stdout}");
    assert!(
        stdout.contains("expected experiences [\"r\"], got []"),
        "{stdout}"
    );
    assert_eq!(stdout.lines().last(), Some("1 passed, 1 failed"));
}

#[test]
fn decide_prints_the_decision_as_json() {
    let dir = rulebook(&[
        (
            "visitor.json",
            r#"{"visitor_id": "visitor-0001", "cart": [{"product": {"id": "linen-shirt", "name": "Linen Shirt", "price": 59}, "quantity": 1}]}"#,
        ),
        (
            "page.json",
            r#"{"url": "https://shop/", "path": "/", "kind": "home", "locale": "it"}"#,
        ),
    ]);
    let visitor = dir.path().join("visitor.json").display().to_string();
    let page = dir.path().join("page.json").display().to_string();
    let out = rapport(&[
        "decide",
        &demo(),
        "--visitor",
        &visitor,
        "--page",
        &page,
        "--now",
        "2026-06-01T10:00:00Z",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let first = &json["experiences"][0];
    assert_eq!(first["rule"], "cart-exit-offer");
    assert_eq!(first["kind"], "coupon");
    assert_eq!(first["trigger"]["type"], "exit_intent");
    assert_eq!(first["content"]["code"], "STAY10");
    assert_eq!(first["content"]["locale"], "it");
    assert_eq!(json["experiences"][1]["experience"], "cart-reminder-bar");
    assert!(json["segments"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s == "has_cart"));
    assert_eq!(json["trace"].as_array().unwrap().len(), 18);
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(rapport(&["decide", &demo()]).status.code(), Some(2));
    assert_eq!(rapport(&["frobnicate"]).status.code(), Some(2));
    assert_eq!(
        rapport(&["check", "/nonexistent/rulebook"]).status.code(),
        Some(2)
    );
}

#[test]
fn committed_schemas_match_the_code() {
    let schema_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema");
    for (name, generated) in rapport_rules::schema::all() {
        let path = schema_dir.join(name);
        let committed = std::fs::read_to_string(&path).unwrap_or_else(|_| {
            panic!(
                "{} is missing: run `rapport schema` to write it",
                path.display()
            )
        });
        let committed: serde_json::Value = serde_json::from_str(&committed).unwrap();
        assert_eq!(
            committed, generated,
            "{name} is out of date: regenerate it with `rapport schema`"
        );
    }
}

#[test]
fn regression_output_into_a_closed_pipe_does_not_panic() {
    // `rapport test DIR | head -1` used to panic with "failed printing to stdout".
    let mut child = Command::new(env!("CARGO_BIN_EXE_rapport"))
        .args(["test", &demo()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = text(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(out.status.success(), "{stderr}");
}

#[test]
fn check_prints_warnings_and_strict_fails_on_them() {
    let dir = rulebook(&[
        (
            "a.rhai",
            "rule(\"basket\", #{ page: \"basket\", show: #{ kind: \"bar\", content: #{ en: #{ body: \"x\" } } } });\n",
        ),
        (
            "tests/a.json",
            r#"[{"name": "x", "page": {"url": "/", "path": "/", "kind": "basket"}, "expect": ["basket"]}]"#,
        ),
    ]);
    let path = dir.path().display().to_string();
    let out = rapport(&["check", &path]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr)
            .contains("a.rhai:1:19: warning: rule \"basket\": \"basket\" is not a page kind"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).ends_with(", 1 warning\n"),
        "{}",
        text(&out.stdout)
    );
    let strict = rapport(&["check", "--strict", &path]);
    assert_eq!(strict.status.code(), Some(1));
}

#[test]
fn decide_explain_prints_the_trace_for_people() {
    let dir = rulebook(&[
        (
            "visitor.json",
            r#"{"visitor_id": "visitor-0001", "visits": 1}"#,
        ),
        (
            "page.json",
            r#"{"url": "https://shop.example/", "path": "/", "kind": "home", "locale": "it-IT"}"#,
        ),
    ]);
    let visitor = dir.path().join("visitor.json").display().to_string();
    let page = dir.path().join("page.json").display().to_string();
    let out = rapport(&[
        "decide",
        &demo(),
        "--visitor",
        &visitor,
        "--page",
        &page,
        "--now",
        "2026-11-23T10:00:00Z",
        "--explain",
    ]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        stdout.starts_with(
            "page     / (kind home, language it-IT)\ntime     2026-11-23T10:00:00.000Z\n"
        ),
        "{stdout}"
    );
    let welcome = stdout.lines().find(|l| l.starts_with("welcome ")).unwrap();
    assert!(
        welcome.contains("matched")
            && welcome.contains("variant offer")
            && welcome.contains("bucket 0."),
        "{welcome}"
    );
    let cart = stdout
        .lines()
        .find(|l| l.starts_with("cart-exit-offer"))
        .unwrap();
    assert!(
        cart.contains("not in segment \"cart_abandoner\": v.cart.items = 0, needs > 0"),
        "{cart}"
    );
}

#[test]
fn bucket_says_which_arm_a_visitor_id_is_in() {
    let out = rapport(&["bucket", &demo(), "welcome", "visitor-0001"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "visitor-0001 in welcome: bucket 0.3742, variant offer (variants: offer 40.0%, story 30.0%, control 30.0%)\n"
    );
    let typo = rapport(&["bucket", &demo(), "welcom", "visitor-0001"]);
    assert_eq!(typo.status.code(), Some(1));
    assert_eq!(
        text(&typo.stderr),
        "rapport: no rule \"welcom\"; did you mean `welcome`?\n"
    );
}

#[test]
fn a_pinned_arm_that_does_not_exist_fails_the_case_with_a_suggestion() {
    let dir = rulebook(&[(
        "tests/a.json",
        r#"[{"name": "pinned", "arms": {"welcome": "stroy"}, "page": {"url": "/", "path": "/", "kind": "home"}, "expect": ["welcome-story"]}]"#,
    )]);
    for entry in std::fs::read_dir(demo()).unwrap().flatten() {
        if entry.path().extension().is_some_and(|e| e == "rhai") {
            std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
        }
    }
    let out = rapport(&["test", &dir.path().display().to_string()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout)
            .contains("`arms`: rule \"welcome\" has no variant \"stroy\"; did you mean `story`?"),
        "{}",
        text(&out.stdout)
    );
}
