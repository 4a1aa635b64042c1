//! The smaller findings of the LAN audit (issue 12, point 8), each as the attack or the
//! mistake it was: peer text that leaves lanchat raw, a pipe line too long to hold, files
//! and directories others can read, a leftover temporary file that lent its mode to the
//! identity key.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use lanchat::config::Settings;
use lanchat::proto::{ConversationId, Identity, MsgId};
use lanchat::runtime::{Node, pipe};
use lanchat::store::{Author, ExportFormat, NewMessage, Store};
use serde_json::Value;
use std::net::UdpSocket;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use support::PATIENCE;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, DuplexStream, Lines};

/// Text a hostile peer sends: a C1 CSI (clears the screen on terminals that take 8-bit
/// controls), a C0 escape, bidi overrides, isolates and marks.
const HOSTILE: &str =
    "c1\u{9b}2Jcsi \u{1b}[5A a\u{202E}evil\u{202C}b \u{2067}x\u{2069} \u{200F}\u{61C}";

/// What must not appear raw in anything lanchat writes for a terminal.
fn raw_unsafe(bytes: &[u8]) -> Vec<char> {
    String::from_utf8_lossy(bytes)
        .chars()
        .filter(|&c| c != '\n' && lanchat::text::inert::is_unsafe(c))
        .collect()
}

/// A node in pipe mode whose output lines are kept as bytes, as a script reads them.
struct RawPipe {
    input: DuplexStream,
    output: Lines<BufReader<DuplexStream>>,
    _stop: tokio::sync::oneshot::Sender<()>,
    _dir: tempfile::TempDir,
    addr: String,
}

impl RawPipe {
    /// `input_room`: bytes the input pipe holds before a writer has to wait for the node.
    async fn start(input_room: usize) -> RawPipe {
        let dir = tempfile::tempdir().unwrap();
        let settings = Settings::loopback("erin", dir.path());
        let node = Node::start(&settings, Identity::from_secret([61; 32])).unwrap();
        let (input, node_in) = tokio::io::duplex(input_room);
        let (node_out, output) = tokio::io::duplex(1 << 20);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(pipe::run(
            node,
            BufReader::new(node_in),
            node_out,
            async {
                let _ = stopped.await;
            },
            61,
        ));
        let mut p = RawPipe {
            input,
            output: BufReader::new(output).lines(),
            _stop: stop,
            _dir: dir,
            addr: String::new(),
        };
        let ready = p.expect("ready").await.1;
        p.addr = ready["addr"].as_str().unwrap().to_owned();
        p
    }

    /// The next line with this event (skipping others), raw and parsed, and the events
    /// skipped on the way.
    async fn expect_after(&mut self, event: &str) -> (String, Value, Vec<Value>) {
        let mut skipped = Vec::new();
        let found = tokio::time::timeout(PATIENCE, async {
            loop {
                let line = self
                    .output
                    .next_line()
                    .await
                    .unwrap()
                    .expect("output ended");
                let v: Value = serde_json::from_str(&line).expect("every line is JSON");
                if v["event"] == event {
                    return (line, v);
                }
                skipped.push(v);
            }
        })
        .await
        .unwrap_or_else(|_| panic!("no {event} event in time"));
        (found.0, found.1, skipped)
    }

    async fn expect(&mut self, event: &str) -> (String, Value) {
        let (line, v, _) = self.expect_after(event).await;
        (line, v)
    }
}

#[tokio::test]
async fn pipe_output_carries_c1_and_bidi_controls_escaped_and_exact() {
    let mut erin = RawPipe::start(1 << 16).await;
    let attacker = UdpSocket::bind("127.0.0.1:0").unwrap();
    attacker
        .send_to(HOSTILE.as_bytes(), erin.addr.as_str())
        .unwrap();
    let (line, v) = erin.expect("message").await;
    assert_eq!(raw_unsafe(line.as_bytes()), [], "raw in {line}");
    for escaped in [
        "\\u009b", "\\u202e", "\\u2067", "\\u200f", "\\u061c", "\\u001b",
    ] {
        assert!(line.contains(escaped), "{escaped} in {line}");
    }
    // Lossless: a JSON reader gets the peer's exact text back.
    assert_eq!(v["text"], HOSTILE);
}

fn hostile_store() -> Store {
    let mut s = Store::open_in_memory().unwrap();
    let from: std::net::SocketAddr = "192.168.1.20:9999".parse().unwrap();
    s.insert_messages(&[NewMessage {
        conversation: ConversationId::Raw(from),
        id: MsgId(7),
        author: Author::Raw(from),
        sent_at_ms: 1_704_110_400_000,
        received_at_ms: 1_704_110_400_000,
        text: HOSTILE.to_owned(),
        state: None,
        quote: None,
    }])
    .unwrap();
    s
}

#[test]
fn every_export_format_writes_peer_controls_inert_by_one_rule() {
    let s = hostile_store();
    let export = |f| {
        let mut out = Vec::new();
        assert_eq!(s.export(None, f, &mut out).unwrap(), 1);
        out
    };
    let jsonl = export(ExportFormat::JsonLines);
    assert_eq!(
        raw_unsafe(&jsonl),
        [],
        "{}",
        String::from_utf8_lossy(&jsonl)
    );
    let v: Value = serde_json::from_slice(&jsonl).unwrap();
    assert_eq!(v["text"], HOSTILE, "JSON lines keep the text exactly");

    // The formats for people show each control, the same way in both.
    let shown = "c1<9B>2Jcsi ^[[5A a<U+202E>evil<U+202C>b <U+2067>x<U+2069> <U+200F><U+061C>";
    for f in [ExportFormat::Text, ExportFormat::Markdown] {
        let out = export(f);
        let text = String::from_utf8(out.clone()).unwrap();
        assert_eq!(raw_unsafe(&out), [], "{f:?}: {text}");
        let body = text.replace('\\', "");
        assert!(body.contains(shown), "{f:?}: {text}");
    }
}

#[tokio::test]
async fn a_pipe_line_past_the_limit_is_refused_while_it_streams_and_the_next_one_runs() {
    // The input pipe holds 64 KiB: whatever the test writes beyond that, the node has read.
    let mut erin = RawPipe::start(1 << 16).await;
    let limit = pipe::MAX_LINE_BYTES;
    let mut sent = 0;
    let chunk = vec![b'x'; 1 << 16];
    while sent <= limit + (1 << 16) {
        erin.input.write_all(&chunk).await.unwrap();
        sent += chunk.len();
    }
    // The line has not ended, and the node has already said no.
    let (_, error) = erin.expect("error").await;
    let message = error["message"].as_str().unwrap();
    assert!(message.contains(&limit.to_string()), "{message}");
    // 16 MiB more of the same line, read and dropped as it comes, then its end, then a
    // command that works.
    for _ in 0..256 {
        erin.input.write_all(&chunk).await.unwrap();
    }
    erin.input
        .write_all(b"xxxx\n{\"cmd\":\"peers\"}\n")
        .await
        .unwrap();
    let (_, peers, skipped) = erin.expect_after("peers").await;
    assert_eq!(peers["peers"], Value::Array(Vec::new()));
    assert!(
        skipped.iter().all(|e| e["event"] != "error"),
        "one error for one line: {skipped:?}"
    );
    // A line just at the limit is taken as a command (here a bad one, said so).
    let mut at_limit = vec![b' '; limit - 2];
    at_limit.extend_from_slice(b"{}\n");
    erin.input.write_all(&at_limit).await.unwrap();
    let (_, error) = erin.expect("error").await;
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .starts_with("bad command"),
        "{error}"
    );
}

fn lanchat(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_lanchat"))
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env_remove("LANCHAT_DATA_DIR")
        .env_remove("LANCHAT_CONFIG")
        .env_remove("LANCHAT_CONFIG_DIR")
        .env("LC_ALL", "C.UTF-8")
        .output()
        .expect("runs")
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

const PIPE: &[&str] = &[
    "pipe",
    "--bind",
    "127.0.0.1",
    "--port",
    "0",
    "--no-discovery",
    "--no-ipmsg",
];

#[test]
fn the_log_and_exports_are_private_and_a_shared_data_dir_is_tightened() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("data");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    // (`output` gives the child an empty stdin: the pipe starts and ends at once.)
    let out = lanchat(&dir, PIPE);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(mode(&dir), 0o700, "the data dir is tightened");
    let log = dir.join("lanchat.log");
    assert_eq!(mode(&log), 0o600);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("mode 755") && text.contains("made it 700"),
        "{text}"
    );

    // A log left readable by an older version is tightened too.
    std::fs::set_permissions(&log, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert!(lanchat(&dir, PIPE).status.success());
    assert_eq!(mode(&log), 0o600);

    let new = home.path().join("history.md");
    let out = lanchat(&dir, &["export", "-o", new.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(mode(&new), 0o600);
    let old = home.path().join("old.jsonl");
    std::fs::write(&old, "an older and longer export than this one will be\n").unwrap();
    std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = lanchat(
        &dir,
        &["export", "--format", "jsonl", "-o", old.to_str().unwrap()],
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(mode(&old), 0o600);
    assert_eq!(
        std::fs::read_to_string(&old).unwrap(),
        "",
        "no messages yet"
    );
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("made it 600"), "{err}");
}

#[test]
fn a_leftover_world_writable_temp_file_never_becomes_the_identity() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("data");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    let tmp = dir.join("identity.tmp");
    std::fs::write(&tmp, "planted by someone else, before the first start").unwrap();
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o666)).unwrap();
    let first = lanchat(&dir, &["fingerprint"]);
    assert!(first.status.success(), "{first:?}");
    let key = dir.join("identity");
    assert_eq!(mode(&key), 0o600);
    assert!(!tmp.exists());
    // A valid key: the next start reads it (a key others can read would be refused).
    let again = lanchat(&dir, &["fingerprint"]);
    assert!(again.status.success(), "{again:?}");
    assert_eq!(again.stdout, first.stdout);
}
