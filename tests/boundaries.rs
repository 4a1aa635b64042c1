//! Keeps the layers honest: `proto` and `app` take time and bytes as inputs and never reach
//! for a socket, a task runtime, a file or a clock themselves; and every import points down
//! the layers (`ui` over `app` over `layout` and `text`; `store` and `config` beside them),
//! so that no cycle between the model and the view can come back.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::{Path, PathBuf};

/// Text that would mean IO, async runtime or clock access, and why it is banned.
const FORBIDDEN: &[&str] = &[
    "tokio",
    "UdpSocket",
    "TcpStream",
    "std::net::Udp",
    "std::fs",
    "File::",
    "OpenOptions",
    "std::io::stdin",
    "std::io::stdout",
    "Instant::now",
    "SystemTime::now",
    "SystemTime",
    "chrono",
    "thread::sleep",
    "std::thread",
    "std::env",
    "std::process",
    "crate::runtime",
    "crate::store",
    "crossterm::terminal",
    "crossterm::execute",
    "ratatui::Frame",
    "getrandom",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("readable source dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code of a file without comments, so that docs may name what the code must not use.
fn code_only(text: &str) -> String {
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn proto_and_app_do_no_io_and_read_no_clock() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    for layer in ["proto", "app", "i18n"] {
        rust_files(&root.join(layer), &mut files);
    }
    assert!(
        files.len() >= 5,
        "expected the proto and app sources, found {files:?}"
    );
    let mut violations = Vec::new();
    for file in &files {
        let text = fs::read_to_string(file).expect("readable");
        // Unit tests inside these modules may use whatever they like.
        let code = match text.find("#[cfg(test)]") {
            Some(i) => &text[..i],
            None => &text,
        };
        // A sibling `tests.rs` file is test-only code.
        if file.file_name().is_some_and(|n| n == "tests.rs") {
            continue;
        }
        let code = code_only(code);
        for word in FORBIDDEN {
            if code.contains(word) {
                violations.push(format!("{}: uses {word}", file.display()));
            }
        }
    }
    assert!(
        violations.is_empty(),
        "layer violations:\n{}",
        violations.join("\n")
    );
}

#[test]
fn the_checker_catches_a_violation() {
    // The scan above must be able to fail: feed it a line it must flag.
    let sample = "fn f() { let t = std::time::Instant::now(); } // Instant::now in a comment";
    let code = code_only(sample);
    assert!(FORBIDDEN.iter().any(|w| code.contains(w)));
    let doc_only = code_only("// tokio is mentioned only in a comment");
    assert!(!FORBIDDEN.iter().any(|w| doc_only.contains(w)));
}

#[test]
fn message_types_sit_below_app_and_store() {
    // `message` holds what `app` and `store` share: it may know `proto`'s ids and nothing
    // above it, and does no IO.
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/message.rs");
    let text = fs::read_to_string(&path).expect("src/message.rs");
    let code = code_only(match text.find("#[cfg(test)]") {
        Some(i) => &text[..i],
        None => &text,
    });
    let above = ["crate::app", "crate::ui", "crate::config"];
    let found: Vec<&str> = FORBIDDEN
        .iter()
        .chain(&above)
        .copied()
        .filter(|w| code.contains(w))
        .collect();
    assert!(found.is_empty(), "src/message.rs uses {found:?}");
    assert!(
        code.contains("pub struct Message"),
        "the check reads the right file"
    );
}

/// Which layer may not name which module (`crate::X`, `super::X`, or `X` inside a grouped
/// `use crate::{…}`): a source path (a file, or a directory and all under it) and the
/// modules it must not import.
const IMPORT_RULES: &[(&str, &[&str])] = &[
    // The model never borrows from the view.
    ("app", &["ui"]),
    // Geometry and the text policy are below both the model and the view.
    ("layout.rs", &["ui", "app", "store", "config", "runtime"]),
    (
        "text",
        &["ui", "app", "store", "config", "runtime", "layout"],
    ),
    // What the model and the store share (messages, authors, names) is below both.
    (
        "message.rs",
        &["ui", "app", "store", "config", "runtime", "layout"],
    ),
    // Keys as data: below the settings and the model.
    (
        "keys.rs",
        &["ui", "app", "store", "config", "runtime", "layout"],
    ),
    // Storage and configuration know nothing of the model or the view.
    ("store", &["ui", "app", "runtime"]),
    ("config.rs", &["ui", "app", "runtime"]),
    // The words on the screen are below everything that shows them.
    (
        "i18n",
        &[
            "ui", "app", "store", "config", "runtime", "layout", "text", "message", "keys", "proto",
        ],
    ),
    // The protocol is the bottom.
    (
        "proto",
        &["ui", "app", "store", "config", "runtime", "layout"],
    ),
];

/// Text that a layer below the view must not use: drawing is the view's alone.
const VIEW_ONLY: &[&str] = &["ratatui::Frame", "Frame<", "&mut Frame"];

/// The modules `code` imports or names by path: `crate::X`, `super::X`, `lanchat::X`, and
/// every first segment inside `crate::{…}`.
fn named_modules(code: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for prefix in ["crate::", "super::", "lanchat::"] {
        let mut rest = code;
        while let Some(i) = rest.find(prefix) {
            let before = rest[..i].chars().next_back();
            let after = &rest[i + prefix.len()..];
            rest = after;
            // `foo_crate::` or `mysuper::` are not the path roots.
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            if let Some(group) = after.strip_prefix('{') {
                let end = group.find('}').unwrap_or(group.len());
                for item in group[..end].split(',') {
                    let first: String = item
                        .trim()
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    let path: String = item.split_whitespace().collect();
                    out.push((first, format!("{prefix}{path}")));
                }
                continue;
            }
            let first: String = after
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            let path: String = after
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            out.push((first, format!("{prefix}{path}")));
        }
    }
    out
}

/// The violations of one file's (test-free, comment-free) code against a rule.
fn import_violations(file: &str, code: &str, banned: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for (module, path) in named_modules(code) {
        if !banned.contains(&module.as_str()) {
            continue;
        }
        out.push(format!("{file}: imports {path}"));
    }
    out
}

/// A source file's code without its unit tests and comments.
fn non_test_code(file: &Path) -> String {
    let text = fs::read_to_string(file).expect("readable");
    let code = match text.find("#[cfg(test)]") {
        Some(i) => &text[..i],
        None => &text,
    };
    code_only(code)
}

#[test]
fn imports_point_down_the_layers() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut violations = Vec::new();
    let mut checked = 0;
    for (layer, banned) in IMPORT_RULES {
        let path = root.join(layer);
        let mut files = Vec::new();
        if path.is_dir() {
            rust_files(&path, &mut files);
        } else {
            assert!(
                path.exists(),
                "{} is gone: update IMPORT_RULES",
                path.display()
            );
            files.push(path);
        }
        for file in files {
            if file.file_name().is_some_and(|n| n == "tests.rs") {
                continue;
            }
            checked += 1;
            let code = non_test_code(&file);
            let name = file.strip_prefix(&root).unwrap().display().to_string();
            violations.extend(import_violations(&name, &code, banned));
        }
    }
    assert!(
        checked >= 15,
        "expected the layers' sources, checked {checked}"
    );
    assert!(
        violations.is_empty(),
        "imports pointing up:\n{}",
        violations.join("\n")
    );
}

#[test]
fn layout_and_text_draw_nothing_and_do_no_io() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = vec![
        root.join("layout.rs"),
        root.join("keys.rs"),
        root.join("message.rs"),
    ];
    rust_files(&root.join("text"), &mut files);
    assert!(
        files.len() >= 5,
        "expected layout and text, found {files:?}"
    );
    let mut violations = Vec::new();
    for file in &files {
        let code = non_test_code(file);
        for word in VIEW_ONLY.iter().chain(FORBIDDEN) {
            if code.contains(word) {
                violations.push(format!("{}: uses {word}", file.display()));
            }
        }
    }
    assert!(
        violations.is_empty(),
        "layer violations:\n{}",
        violations.join("\n")
    );
}

#[test]
fn the_import_checker_catches_an_upward_import() {
    let banned: &[&str] = &["ui", "app"];
    for sample in [
        "use crate::ui;",
        "use crate::ui::Theme;",
        "let x = crate::ui::is_narrow(3);",
        "use crate::{proto, ui};",
        "use crate::{app::App, proto::NodeId};",
        "use super::ui::text;",
    ] {
        assert!(
            !import_violations("x.rs", sample, banned).is_empty(),
            "{sample} was not caught"
        );
    }
    for fine in [
        "use crate::proto::NodeId;",
        "use crate::{layout, text::inert};",
        "use ratatui::text::Line;",
        "let guide = my_crate::ui_like;",
        "use crate::uikit;",
    ] {
        assert!(
            import_violations("x.rs", fine, banned).is_empty(),
            "{fine} was flagged"
        );
    }
}
