//! Whole nodes over real loopback UDP, driven through the `pipe` front end in-process.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use lanchat::config::Settings;
use lanchat::proto::NodeId;
use lanchat::runtime::{Node, pipe};
use serde_json::{Value, json};
use std::net::UdpSocket;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, DuplexStream};
use tokio::sync::oneshot;

/// How long a test waits for something that should take milliseconds on loopback.
const PATIENCE: Duration = Duration::from_secs(10);

struct TestNode {
    input: DuplexStream,
    output: tokio::io::Lines<BufReader<DuplexStream>>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    _dir: tempfile::TempDir,
    addr: String,
    id: String,
}

impl TestNode {
    async fn start(n: u8, name: &str, tweak: impl FnOnce(&mut Settings)) -> TestNode {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = Settings::loopback(name, dir.path());
        tweak(&mut settings);
        let node = Node::start(&settings, NodeId([n; 32])).unwrap();
        let (input, node_in) = tokio::io::duplex(1 << 16);
        let (node_out, output) = tokio::io::duplex(1 << 16);
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
        };
        let ready = t.expect(|e| e["event"] == "ready").await;
        assert_eq!(ready["name"], name);
        t.addr = ready["addr"].as_str().unwrap().to_owned();
        t.id = ready["id"].as_str().unwrap().to_owned();
        t
    }

    async fn send(&mut self, command: Value) {
        let mut line = command.to_string();
        line.push('\n');
        self.input.write_all(line.as_bytes()).await.unwrap();
    }

    async fn send_raw(&mut self, line: &str) {
        self.input.write_all(line.as_bytes()).await.unwrap();
        self.input.write_all(b"\n").await.unwrap();
    }

    /// The next event that matches, skipping others; fails after [`PATIENCE`].
    async fn expect(&mut self, pred: impl Fn(&Value) -> bool) -> Value {
        let found = tokio::time::timeout(PATIENCE, async {
            loop {
                let line = self
                    .output
                    .next_line()
                    .await
                    .unwrap()
                    .expect("node output ended");
                let v: Value = serde_json::from_str(&line).expect("every output line is JSON");
                assert!(v["event"].is_string(), "every line has an event: {line}");
                if pred(&v) {
                    return v;
                }
            }
        })
        .await;
        found.expect("expected event did not arrive in time")
    }

    async fn quit(mut self) {
        self.send(json!({"cmd": "quit"})).await;
        let done = tokio::time::timeout(PATIENCE, &mut self.task).await;
        done.expect("node quits").unwrap().unwrap();
        drop(self.stop.take());
    }
}

/// A UDP port free on both 0.0.0.0 and 127.0.0.1 right now, for a test's own discovery
/// group (never a fixed port).
fn free_udp_port() -> u16 {
    loop {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = s.local_addr().unwrap().port();
        drop(s);
        if UdpSocket::bind(("0.0.0.0", port)).is_ok() {
            return port;
        }
    }
}

#[tokio::test]
async fn two_nodes_added_by_address_chat_both_ways() {
    let mut alice = TestNode::start(1, "alice", |_| {}).await;
    let mut bob = TestNode::start(2, "bob", |_| {}).await;

    alice.send(json!({"cmd": "add", "addr": bob.addr})).await;
    let up = alice.expect(|e| e["event"] == "peer_up").await;
    assert_eq!(up["name"], "bob");
    assert_eq!(up["id"], bob.id.as_str());
    assert_eq!(up["addr"], bob.addr.as_str());
    let up = bob.expect(|e| e["event"] == "peer_up").await;
    assert_eq!(up["name"], "alice");

    alice
        .send(json!({"cmd": "send", "to": "bob", "text": "hello bob 你好 👋"}))
        .await;
    let m = bob.expect(|e| e["event"] == "message").await;
    assert_eq!(m["text"], "hello bob 你好 👋");
    assert_eq!(m["sender"], "alice");
    assert_eq!(m["sender_id"], alice.id.as_str());
    assert_eq!(m["conversation"], alice.id.as_str());
    assert_eq!(m["kind"], "lanchat");
    let sending = alice.expect(|e| e["event"] == "state").await;
    assert_eq!(sending["state"], "sending");
    assert_eq!(sending["conversation"], bob.id.as_str());
    let delivered = alice.expect(|e| e["event"] == "state").await;
    assert_eq!(delivered["state"], "delivered");
    assert_eq!(delivered["id"], sending["id"]);
    assert_eq!(delivered["id"], m["id"]);

    // Reply by id prefix this time.
    bob.send(json!({"cmd": "send", "to": &alice.id[..10], "text": "hi alice"}))
        .await;
    let m = alice.expect(|e| e["event"] == "message").await;
    assert_eq!(m["text"], "hi alice");
    assert_eq!(m["sender"], "bob");

    // Alice leaves: bob hears the goodbye at once.
    alice.quit().await;
    let down = bob.expect(|e| e["event"] == "peer_down").await;
    assert_eq!(down["name"], "alice");
    assert_eq!(down["reason"], "goodbye");
    bob.quit().await;
}

#[tokio::test]
async fn nodes_discover_each_other_on_loopback() {
    let port = free_udp_port();
    let with_discovery = |s: &mut Settings| {
        s.discovery = true;
        s.discovery_port = port;
    };
    let mut alice = TestNode::start(11, "alice", with_discovery).await;
    let mut bob = TestNode::start(12, "bob", with_discovery).await;
    let up = alice.expect(|e| e["event"] == "peer_up").await;
    assert_eq!(up["name"], "bob");
    assert_eq!(up["addr"], bob.addr.as_str());
    let up = bob.expect(|e| e["event"] == "peer_up").await;
    assert_eq!(up["name"], "alice");
    assert_eq!(up["addr"], alice.addr.as_str());
    bob.quit().await;
    let down = alice.expect(|e| e["event"] == "peer_down").await;
    assert_eq!(down["reason"], "goodbye");
    alice.quit().await;
}

#[tokio::test]
async fn a_plain_udp_script_chats_with_a_node() {
    let mut alice = TestNode::start(21, "alice", |_| {}).await;
    // The tutorial's side: a bound socket, sendto and recvfrom.
    let script = UdpSocket::bind("127.0.0.1:0").unwrap();
    let script_addr = script.local_addr().unwrap().to_string();

    script
        .send_to("hello from the tutorial".as_bytes(), &alice.addr)
        .unwrap();
    // Garbage in between is dropped, not shown.
    script.send_to(&[0xFF, 0x00, 0x80], &alice.addr).unwrap();
    script.send_to("第二条\n".as_bytes(), &alice.addr).unwrap();

    let m = alice.expect(|e| e["event"] == "message").await;
    assert_eq!(m["text"], "hello from the tutorial");
    assert_eq!(m["conversation"], script_addr.as_str());
    assert_eq!(m["kind"], "plain");
    let m = alice.expect(|e| e["event"] == "message").await;
    assert_eq!(m["text"], "第二条");

    alice
        .send(json!({"cmd": "send", "to": script_addr, "text": "hi script 你好"}))
        .await;
    // Receive without blocking the test's runtime thread, which the node runs on too.
    script.set_nonblocking(true).unwrap();
    let script = tokio::net::UdpSocket::from_std(script).unwrap();
    let mut buf = [0u8; 1024];
    let (n, from) = tokio::time::timeout(PATIENCE, script.recv_from(&mut buf))
        .await
        .expect("reply in time")
        .unwrap();
    assert_eq!(std::str::from_utf8(&buf[..n]).unwrap(), "hi script 你好");
    assert_eq!(from.to_string(), alice.addr);
    let state = alice.expect(|e| e["event"] == "state").await;
    assert_eq!(state["state"], "sent");
    alice.quit().await;
}

#[tokio::test]
async fn bad_input_lines_get_an_error_and_the_node_keeps_running() {
    let mut alice = TestNode::start(31, "alice", |_| {}).await;
    alice.send_raw("this is not json").await;
    let e = alice.expect(|e| e["event"] == "error").await;
    assert!(
        e["message"].as_str().unwrap().contains("bad command"),
        "{e}"
    );
    alice.send(json!({"cmd": "fly"})).await;
    alice.expect(|e| e["event"] == "error").await;
    alice
        .send(json!({"cmd": "send", "to": "nobody", "text": "x"}))
        .await;
    let e = alice.expect(|e| e["event"] == "error").await;
    assert!(e["message"].as_str().unwrap().contains("nobody"), "{e}");
    alice.send(json!({"cmd": "peers"})).await;
    let p = alice.expect(|e| e["event"] == "peers").await;
    assert_eq!(p["peers"], json!([]));
    alice.quit().await;
}
