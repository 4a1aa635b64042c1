//! Content claims over real loopback UDP (issue 12): a read receipt counts only from the
//! peer of the conversation it names, with or without a history database.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::{Value, json};
use support::TestNode;

/// Alice meets `other` (added by address) and both see each other online.
async fn meet(alice: &mut TestNode, other: &mut TestNode) {
    alice.send(json!({"cmd": "add", "addr": other.addr})).await;
    let id = other.id.clone();
    alice
        .expect(move |e| e["event"] == "peer_up" && e["id"] == id.as_str())
        .await;
    other.expect(|e| e["event"] == "peer_up").await;
}

#[tokio::test]
async fn a_read_receipt_from_another_peer_does_not_mark_my_message_read() {
    for stored in [false, true] {
        let mut alice = if stored {
            TestNode::start_stored(1, "alice", |_| {}).await
        } else {
            TestNode::start(1, "alice", |_| {}).await
        };
        let mut bob = TestNode::start(2, "bob", |_| {}).await;
        let mut mallory = TestNode::start(3, "mallory", |_| {}).await;
        meet(&mut alice, &mut bob).await;
        meet(&mut alice, &mut mallory).await;

        alice
            .send(json!({"cmd": "send", "to": "bob", "text": "for bob only"}))
            .await;
        let m = bob.expect(|e| e["event"] == "message").await;
        let id = m["id"].clone();
        let delivered = {
            let id = id.clone();
            alice
                .expect(move |e| {
                    e["event"] == "state" && e["id"] == id && e["state"] == "delivered"
                })
                .await
        };
        assert_eq!(delivered["conversation"], bob.id.as_str());

        // Mallory (a proven key, but not bob) says he read it, then says something, which
        // alice shows only after the receipt was handled: nothing may say "read" meanwhile.
        mallory
            .send(json!({"cmd": "read", "to": "alice", "ids": [id]}))
            .await;
        mallory
            .send(json!({"cmd": "send", "to": "alice", "text": "read it!"}))
            .await;
        let seen: std::sync::Arc<std::sync::Mutex<Vec<Value>>> = Default::default();
        let log = seen.clone();
        alice
            .expect(move |e| {
                log.lock().unwrap().push(e.clone());
                e["event"] == "message" && e["text"] == "read it!"
            })
            .await;
        let reads: Vec<Value> = seen
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e["event"] == "state" && e["state"] == "read")
            .cloned()
            .collect();
        assert!(
            reads.is_empty(),
            "stored: {stored}; mallory's receipt counted: {reads:?}"
        );

        // Bob's own receipt counts.
        bob.send(json!({"cmd": "read", "to": "alice", "ids": [id]}))
            .await;
        let read = {
            let id = id.clone();
            alice
                .expect(move |e| e["event"] == "state" && e["id"] == id && e["state"] == "read")
                .await
        };
        assert_eq!(read["conversation"], bob.id.as_str(), "stored: {stored}");
        alice.quit().await;
        bob.quit().await;
        mallory.quit().await;
    }
}
