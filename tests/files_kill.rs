//! A file transfer survives `kill -9` of either side (issue 15): the real binary in pipe
//! mode, a 200 MB file, SIGKILL mid-transfer, a restart on the same data dir; the file
//! arrives byte for byte, and what crossed the network is about the file once, not again
//! from the start.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const MB: u64 = 1 << 20;
const SIZE: u64 = 200 * MB;
/// What may cross the network beyond the file once: what was in flight at the kill (sent
/// into the sockets' buffers on both ends of the loopback, a few MB, but never read).
const SLACK: u64 = 16 * MB;
const PATIENCE: Duration = Duration::from_secs(120);

/// `lanchat pipe` in a process of its own, its output lines read on a thread.
struct Proc {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<Value>,
    id: String,
    addr: String,
}

impl Proc {
    fn start(dir: &Path, name: &str) -> Proc {
        let mut child = Command::new(env!("CARGO_BIN_EXE_lanchat"))
            .args(["pipe", "--name", name, "--bind", "127.0.0.1", "--port", "0"])
            .arg("--no-discovery")
            .arg("--no-ipmsg")
            .arg("--data-dir")
            .arg(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                let v: Value = serde_json::from_str(&line).expect("every output line is JSON");
                if tx.send(v).is_err() {
                    return;
                }
            }
        });
        let mut p = Proc {
            child,
            stdin,
            lines,
            id: String::new(),
            addr: String::new(),
        };
        let ready = p.expect(|e| e["event"] == "ready");
        p.id = ready["id"].as_str().unwrap().to_owned();
        p.addr = ready["addr"].as_str().unwrap().to_owned();
        p
    }

    fn send(&mut self, command: Value) {
        writeln!(self.stdin, "{command}").unwrap();
        self.stdin.flush().unwrap();
    }

    fn expect(&mut self, pred: impl Fn(&Value) -> bool) -> Value {
        loop {
            let v = self
                .lines
                .recv_timeout(PATIENCE)
                .expect("expected event did not arrive in time");
            if std::env::var_os("SHOW_EVENTS").is_some() {
                eprintln!("{}: {v}", self.id.get(..4).unwrap_or("?"));
            }
            if pred(&v) {
                return v;
            }
        }
    }

    /// SIGKILL, and wait for it to be gone.
    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn make_file(path: &Path, len: u64) {
    let mut f = std::fs::File::create(path).unwrap();
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut block = vec![0u8; MB as usize];
    let mut left = len;
    while left > 0 {
        for word in block.chunks_exact_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            word.copy_from_slice(&state.to_le_bytes());
        }
        let n = left.min(MB) as usize;
        f.write_all(&block[..n]).unwrap();
        left -= n as u64;
    }
}

fn same_bytes(a: &Path, b: &Path) -> bool {
    let (mut fa, mut fb) = (
        std::fs::File::open(a).unwrap(),
        std::fs::File::open(b).unwrap(),
    );
    let (mut ba, mut bb) = (vec![0u8; MB as usize], vec![0u8; MB as usize]);
    loop {
        let na = fa.read(&mut ba).unwrap();
        let mut nb = 0;
        while nb < na {
            let n = fb.read(&mut bb[nb..na]).unwrap();
            if n == 0 {
                return false;
            }
            nb += n;
        }
        if na == 0 {
            return fb.read(&mut bb).unwrap() == 0;
        }
        if ba[..na] != bb[..na] {
            return false;
        }
    }
}

fn len_of(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

struct Setup {
    _root: tempfile::TempDir,
    alice_dir: PathBuf,
    bob_dir: PathBuf,
    downloads: PathBuf,
    source: PathBuf,
}

fn setup() -> Setup {
    let root = tempfile::tempdir().unwrap();
    let alice_dir = root.path().join("alice");
    let bob_dir = root.path().join("bob");
    let downloads = root.path().join("downloads");
    std::fs::create_dir_all(&alice_dir).unwrap();
    std::fs::create_dir_all(&bob_dir).unwrap();
    // Bob saves where config.toml says.
    let toml = format!(
        "download_dir = {}\n",
        serde_json::to_string(downloads.to_str().unwrap()).unwrap()
    );
    std::fs::write(bob_dir.join("config.toml"), toml).unwrap();
    let source = root.path().join("big.bin");
    make_file(&source, SIZE);
    Setup {
        _root: root,
        alice_dir,
        bob_dir,
        downloads,
        source,
    }
}

/// Alice and Bob meet, Alice offers the file, Bob accepts; returns once data flows.
fn start_transfer(s: &Setup) -> (Proc, Proc, String) {
    let mut alice = Proc::start(&s.alice_dir, "alice");
    let mut bob = Proc::start(&s.bob_dir, "bob");
    alice.send(json!({"cmd": "add", "addr": bob.addr}));
    alice.expect(|e| e["event"] == "peer_up");
    bob.expect(|e| e["event"] == "peer_up");
    alice.send(json!({"cmd": "send_file", "to": bob.id, "path": s.source}));
    let offered = alice.expect(|e| e["event"] == "file_offered" || e["event"] == "error");
    assert_eq!(offered["event"], "file_offered", "{offered}");
    let id = offered["id"].as_str().unwrap().to_owned();
    let offer = bob.expect(|e| e["event"] == "file_offer");
    assert_eq!(offer["id"], id.as_str());
    bob.send(json!({"cmd": "accept", "id": id}));
    bob.expect(|e| e["event"] == "file_progress" && e["done"].as_u64() > Some(0));
    (alice, bob, id)
}

fn done(p: &mut Proc, id: &str) -> Value {
    let e = p.expect(|e| e["event"] == "file_done" && e["id"] == id);
    e["bytes"].as_u64().unwrap();
    e
}

#[test]
fn a_download_resumes_after_the_receiver_is_killed() {
    let s = setup();
    let (mut alice, bob, id) = start_transfer(&s);
    bob.kill();
    let partial = s.downloads.join("big.bin.part");
    let kept = len_of(&partial);
    assert!(
        kept > 0 && kept < SIZE,
        "the kill should land mid-transfer: {kept} bytes kept"
    );
    // Bob again, on the same data dir: it picks the transfer up when Alice is online.
    let mut bob = Proc::start(&s.bob_dir, "bob");
    bob.send(json!({"cmd": "add", "addr": alice.addr}));
    let got = done(&mut bob, &id);
    let at = PathBuf::from(got["path"].as_str().unwrap());
    assert_eq!(at, s.downloads.join("big.bin"));
    assert!(same_bytes(&at, &s.source), "the file arrives byte for byte");
    assert!(!partial.exists());
    // Alice sent about the file once: what Bob had kept was not sent again.
    let sent = done(&mut alice, &id)["bytes"].as_u64().unwrap();
    eprintln!("receiver killed at {kept} bytes; sender sent {sent} bytes for {SIZE}");
    assert!(sent >= SIZE - kept, "{sent}");
    assert!(
        sent <= SIZE + SLACK,
        "{sent} bytes sent for a {SIZE}-byte file"
    );
}

#[test]
fn a_download_resumes_after_the_sender_is_killed() {
    let s = setup();
    let (alice, mut bob, id) = start_transfer(&s);
    alice.kill();
    let failed = bob.expect(|e| e["event"] == "file_failed" && e["id"] == id.as_str());
    let partial = s.downloads.join("big.bin.part");
    let kept = len_of(&partial);
    eprintln!("bob: {failed}, {kept} bytes kept");
    assert!(
        kept > 0 && kept < SIZE,
        "the kill should land mid-transfer: {kept} bytes kept"
    );
    // Alice again, on the same data dir: she offers the file again, from her new port.
    let mut alice = Proc::start(&s.alice_dir, "alice");
    alice.send(json!({"cmd": "add", "addr": bob.addr}));
    let got = done(&mut bob, &id);
    let at = PathBuf::from(got["path"].as_str().unwrap());
    assert!(same_bytes(&at, &s.source), "the file arrives byte for byte");
    let received = got["bytes"].as_u64().unwrap();
    let sent = done(&mut alice, &id)["bytes"].as_u64().unwrap();
    eprintln!("sender killed at {kept} bytes kept; then received {received}, sent {sent}");
    assert!(received <= SIZE - kept + SLACK, "{received}");
    assert!(sent <= SIZE - kept + SLACK, "{sent}");
    assert!(kept + received >= SIZE);
}
