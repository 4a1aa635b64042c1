//! Running whole nodes in-process through the `pipe` front end, for tests over loopback.

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use lanchat::config::Settings;
use lanchat::proto::Identity;
use lanchat::runtime::{Node, pipe};
use serde_json::{Value, json};
use std::net::UdpSocket;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, DuplexStream};
use tokio::sync::oneshot;

/// How long a test waits for something that should take milliseconds on loopback.
pub const PATIENCE: Duration = Duration::from_secs(10);

pub struct TestNode {
    input: DuplexStream,
    output: tokio::io::Lines<BufReader<DuplexStream>>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    _dir: Option<tempfile::TempDir>,
    pub addr: String,
    pub id: String,
    /// The IP Messenger socket's address, when it is on (else empty).
    pub ipmsg: String,
}

impl TestNode {
    pub async fn start(n: u8, name: &str, tweak: impl FnOnce(&mut Settings)) -> TestNode {
        Self::launch(n, name, tweak, false).await
    }

    /// [`start`](Self::start), with the history database attached (as `lanchat pipe` runs).
    pub async fn start_stored(n: u8, name: &str, tweak: impl FnOnce(&mut Settings)) -> TestNode {
        Self::launch(n, name, tweak, true).await
    }

    /// A node with its history in `dir`, which outlives it: started again in the same
    /// `dir`, it is the same node with what it kept.
    pub async fn start_in(n: u8, name: &str, dir: &std::path::Path) -> TestNode {
        Self::launch_in(n, name, |_| {}, true, dir, None).await
    }

    async fn launch(
        n: u8,
        name: &str,
        tweak: impl FnOnce(&mut Settings),
        stored: bool,
    ) -> TestNode {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_path_buf();
        Self::launch_in(n, name, tweak, stored, &path, Some(dir)).await
    }

    async fn launch_in(
        n: u8,
        name: &str,
        tweak: impl FnOnce(&mut Settings),
        stored: bool,
        path: &std::path::Path,
        dir: Option<tempfile::TempDir>,
    ) -> TestNode {
        let mut settings = Settings::loopback(name, path);
        tweak(&mut settings);
        let mut node = Node::start(&settings, Identity::from_secret([n; 32])).unwrap();
        if stored {
            let store = Node::open_store(&settings).unwrap();
            node.attach_store(store).unwrap();
        }
        let (input, node_in) = tokio::io::duplex(1 << 22);
        let (node_out, output) = tokio::io::duplex(1 << 22);
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let task = tokio::spawn(pipe::run(
            node,
            BufReader::new(node_in),
            node_out,
            async {
                let _ = stop_rx.await;
            },
            u64::from(n),
        ));
        let mut t = TestNode {
            input,
            output: BufReader::new(output).lines(),
            stop: Some(stop_tx),
            task,
            _dir: dir,
            addr: String::new(),
            id: String::new(),
            ipmsg: String::new(),
        };
        let ready = t.expect(|e| e["event"] == "ready").await;
        assert_eq!(ready["name"], name);
        t.addr = ready["addr"].as_str().unwrap().to_owned();
        t.id = ready["id"].as_str().unwrap().to_owned();
        t.ipmsg = ready["ipmsg"].as_str().unwrap_or_default().to_owned();
        t
    }

    pub async fn send(&mut self, command: Value) {
        let mut line = command.to_string();
        line.push('\n');
        self.input.write_all(line.as_bytes()).await.unwrap();
    }

    pub async fn send_raw(&mut self, line: &str) {
        self.input.write_all(line.as_bytes()).await.unwrap();
        self.input.write_all(b"\n").await.unwrap();
    }

    /// The next event that matches, skipping others; fails after [`PATIENCE`].
    pub async fn expect(&mut self, pred: impl Fn(&Value) -> bool) -> Value {
        let found = tokio::time::timeout(PATIENCE, async {
            loop {
                let line = self
                    .output
                    .next_line()
                    .await
                    .unwrap()
                    .expect("node output ended");
                let v: Value = serde_json::from_str(&line).expect("every output line is JSON");
                if std::env::var_os("SHOW_EVENTS").is_some() {
                    eprintln!("{}: {line}", self.id.get(..4).unwrap_or("?"));
                }
                assert!(v["event"].is_string(), "every line has an event: {line}");
                if pred(&v) {
                    return v;
                }
            }
        })
        .await;
        found.expect("expected event did not arrive in time")
    }

    pub async fn quit(mut self) {
        self.send(json!({"cmd": "quit"})).await;
        let done = tokio::time::timeout(PATIENCE, &mut self.task).await;
        done.expect("node quits").unwrap().unwrap();
        drop(self.stop.take());
    }
}

/// A UDP port free on both 0.0.0.0 and 127.0.0.1 right now, for a test's own discovery
/// group (never a fixed port).
pub fn free_udp_port() -> u16 {
    loop {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = s.local_addr().unwrap().port();
        drop(s);
        if UdpSocket::bind(("0.0.0.0", port)).is_ok() {
            return port;
        }
    }
}
