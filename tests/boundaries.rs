//! Keeps the layers honest: `proto` and `app` take time and bytes as inputs and never reach
//! for a socket, a task runtime, a file or a clock themselves.

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
    for layer in ["proto", "app"] {
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
