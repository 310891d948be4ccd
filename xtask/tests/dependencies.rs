//! ARCHITECTURE.md's claims about what the widget is built from, checked: it links no Rhai
//! (rules are decided at the edge), no `web-sys` (its DOM work is JavaScript's), and no JSON
//! library (`wire` converts by hand, since its download is the budget that matters most);
//! serde comes in only with the protocol's types, and the widget's own code never names it,
//! so nothing of it is linked.

use std::path::Path;
use std::process::Command;

/// The crates the widget is built from (`cargo tree`, normal dependencies), one per line.
fn widget_tree() -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = Command::new(env!("CARGO"))
        .current_dir(&root)
        .args([
            "tree",
            "-p",
            "rapport-widget",
            "-e",
            "normal",
            "--prefix",
            "none",
        ])
        .args(["--offline", "--target", "wasm32-unknown-unknown"])
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("cargo tree writes text")
}

#[test]
fn the_widget_is_built_without_rhai_web_sys_or_a_json_library() {
    let tree = widget_tree();
    let names: Vec<&str> = tree.lines().filter_map(|l| l.split(' ').next()).collect();
    assert!(names.contains(&"wasm-bindgen"), "{tree}");
    for banned in [
        "rhai",
        "serde_json",
        "rapport-rules",
        "rapport-analytics",
        "web-sys",
    ] {
        assert!(
            !names.contains(&banned),
            "the widget depends on {banned}:\n{tree}"
        );
    }
}

#[test]
fn the_widgets_own_code_never_names_serde() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../widget/src");
    for entry in std::fs::read_dir(&src).expect("widget/src") {
        let path = entry.expect("an entry").path();
        let text = std::fs::read_to_string(&path).expect("a readable file");
        let code: String = text
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        assert!(
            !code.contains("serde"),
            "{} uses serde: the widget converts the wire format by hand",
            path.display()
        );
    }
}
