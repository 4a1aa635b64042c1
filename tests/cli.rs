//! The command line outside the chat screen.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

/// `lanchat pipe` on loopback only, on a port the system picks, without discovery.
const PIPE_ON_LOOPBACK: &[&str] = &[
    "pipe",
    "--bind",
    "127.0.0.1",
    "--port",
    "0",
    "--no-discovery",
    "--no-ipmsg",
];

fn lanchat(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    lanchat_in(dir, "C.UTF-8", args)
}

/// The binary on `dir` under the locale `locale` (as `LANG`; `LC_ALL` and `LC_MESSAGES`
/// unset, so the caller's own locale cannot choose the language).
fn lanchat_in(dir: &std::path::Path, locale: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_lanchat"))
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env_remove("LANCHAT_DATA_DIR")
        .env_remove("LANCHAT_CONFIG")
        .env_remove("LANCHAT_CONFIG_DIR")
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env("LANG", locale)
        .output()
        .expect("runs")
}

#[test]
fn fingerprint_prints_the_same_key_every_time_and_a_readable_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let first = lanchat(dir.path(), &["fingerprint"]);
    assert!(first.status.success(), "{first:?}");
    let text = String::from_utf8(first.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert_eq!(lines[0].split(' ').count(), 8, "eight groups: {}", lines[0]);
    assert!(lines[0].split(' ').all(|g| g.len() == 4));
    assert!(lines[1].starts_with("key ") && lines[1].len() == 4 + 64);
    let again = lanchat(dir.path(), &["fingerprint"]);
    assert_eq!(String::from_utf8(again.stdout).unwrap(), text);

    let key = dir.path().join("identity");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let refused = lanchat(dir.path(), &["fingerprint"]);
    assert!(!refused.status.success());
    let err = String::from_utf8(refused.stderr).unwrap();
    assert!(err.contains("readable by others"), "{err}");
}

#[test]
fn a_bad_known_peers_line_stops_the_start_and_names_the_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("known_peers"),
        "# comment\nnot-a-key verified - \"bob\"\n",
    )
    .unwrap();
    // (`output` gives the child an empty stdin: the pipe would end at once anyway.)
    let out = lanchat(dir.path(), PIPE_ON_LOOPBACK);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("known_peers") && err.contains("line 2"),
        "{err}"
    );
    // Left as it was.
    assert_eq!(
        std::fs::read_to_string(dir.path().join("known_peers")).unwrap(),
        "# comment\nnot-a-key verified - \"bob\"\n"
    );
}

/// Under a Chinese locale, what stops the start is said in Chinese, still naming the file
/// and the line; a `language` in config.toml wins over the locale for what comes after it.
#[test]
fn errors_are_said_in_the_locale_language_and_name_the_line() {
    let run = lanchat_in;
    // A bad line in config.toml.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("config.toml"),
        "name = \"a\"\ntheme = \"neon\"\n",
    )
    .unwrap();
    let out = run(dir.path(), "zh_CN.UTF-8", &["fingerprint"]);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.starts_with("错误："), "{err}");
    assert!(
        err.contains("第 2 行") && err.contains("config.toml"),
        "{err}"
    );
    let out = run(dir.path(), "en_US.UTF-8", &["fingerprint"]);
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.starts_with("Error: ") && err.contains("line 2"),
        "{err}"
    );

    // A bad line in known_peers, with config.toml asking for Chinese under an English
    // locale.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.toml"), "language = \"zh-CN\"\n").unwrap();
    std::fs::write(
        dir.path().join("known_peers"),
        "# c\n\nnot-a-key verified - \"bob\"\n",
    )
    .unwrap();
    let out = run(dir.path(), "en_US.UTF-8", PIPE_ON_LOOPBACK);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("known_peers") && err.contains("第 3 行"),
        "{err}"
    );
    assert!(err.contains("64 位十六进制"), "{err}");

    // The identity key readable by others.
    let dir = tempfile::tempdir().unwrap();
    assert!(
        run(dir.path(), "zh_CN.UTF-8", &["fingerprint"])
            .status
            .success()
    );
    std::fs::set_permissions(
        dir.path().join("identity"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let err = String::from_utf8(run(dir.path(), "zh_CN.UTF-8", &["fingerprint"]).stderr).unwrap();
    assert!(
        err.contains("chmod 600") && err.contains("别人也能读取"),
        "{err}"
    );
}
