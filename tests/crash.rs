//! Durability: a receiver killed with SIGKILL in the middle of a stream loses nothing the
//! sender saw as delivered, and its database is intact.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use lanchat::proto::{ConversationId, MsgId, NodeId};
use lanchat::store::Store;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::TestNode;

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn sigkill_mid_stream_loses_nothing_the_sender_saw_delivered() {
    let dir = tempfile::tempdir().unwrap();
    // Bob: the real binary in pipe mode, with its own data dir (and so its own database).
    let mut child = Killed(
        Command::new(env!("CARGO_BIN_EXE_lanchat"))
            .args([
                "pipe",
                "--name",
                "bob",
                "--bind",
                "127.0.0.1",
                "--port",
                "0",
            ])
            .arg("--no-discovery")
            .arg("--no-ipmsg")
            .arg("--data-dir")
            .arg(dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let stdout = child.0.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let ready: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(ready["event"], "ready");
    let bob_addr = ready["addr"].as_str().unwrap().to_owned();
    let bob_id = NodeId::from_hex(ready["id"].as_str().unwrap()).unwrap();
    // Keep draining bob's output so it never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines.by_ref() {});

    let mut alice = TestNode::start(51, "alice", |_| {}).await;
    alice.send(json!({"cmd": "add", "addr": bob_addr})).await;
    alice.expect(|e| e["event"] == "peer_up").await;

    const N: usize = 3000;
    for i in 0..N {
        alice
            .send(json!({"cmd": "send", "to": "bob", "text": format!("durable message {i}")}))
            .await;
    }
    // Kill bob after a good part of the stream was acknowledged, while the rest is in
    // flight.
    let mut delivered = HashSet::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while delivered.len() < N / 3 {
        assert!(
            Instant::now() < deadline,
            "only {} delivered",
            delivered.len()
        );
        let e = alice
            .expect(|e| {
                e["event"] == "state" && (e["state"] == "delivered" || e["state"] == "read")
            })
            .await;
        delivered.insert(e["id"].as_str().unwrap().to_owned());
    }
    child.0.kill().unwrap(); // SIGKILL
    child.0.wait().unwrap();
    // Whatever else alice saw delivered before the kill landed counts too.
    while let Ok(e) = tokio::time::timeout(
        Duration::from_millis(300),
        alice.expect(|e| e["event"] == "state" && e["state"] == "delivered"),
    )
    .await
    {
        delivered.insert(e["id"].as_str().unwrap().to_owned());
    }
    assert!(
        delivered.len() < N,
        "the kill came too late to test anything"
    );

    // Bob's database: intact, and every delivered message is in it.
    let mut store = Store::open(&dir.path().join("history.db")).unwrap();
    assert_eq!(store.integrity_check().unwrap(), "ok");
    let alice_id = NodeId::from_hex(&alice.id).unwrap();
    let stored: HashSet<String> = store
        .latest(&ConversationId::Peer(alice_id), N + 10)
        .unwrap()
        .into_iter()
        .map(|m| m.id.to_string())
        .collect();
    let missing: Vec<&String> = delivered
        .iter()
        .filter(|id| !stored.contains(*id))
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} delivered messages missing after the kill",
        missing.len(),
        delivered.len()
    );
    eprintln!(
        "delivered before the kill: {}, stored: {}",
        delivered.len(),
        stored.len()
    );
    let _ = (bob_id, MsgId(0));
}
