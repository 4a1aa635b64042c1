//! Reliable delivery over real sockets: a lossy relay on loopback between two nodes drops,
//! duplicates and reorders; every message still arrives once, in order.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use lanchat::testkit::{Impairment, Relay};
use serde_json::json;
use std::sync::atomic::Ordering;
use std::time::Duration;
use support::TestNode;

const N: usize = 300;

#[tokio::test]
async fn every_message_arrives_once_in_order_through_a_bad_link() {
    let mut alice = TestNode::start(41, "alice", |_| {}).await;
    let mut bob = TestNode::start(42, "bob", |_| {}).await;
    let relay = Relay::start(
        alice.addr.parse().unwrap(),
        bob.addr.parse().unwrap(),
        Impairment {
            loss: 0.2,
            duplicate: 0.1,
            reorder: 0.2,
            reorder_delay: Duration::from_millis(5),
            seed: 7,
        },
    )
    .await
    .unwrap();
    // Alice knows bob only as the relay's address; bob learns alice through it.
    alice
        .send(json!({"cmd": "add", "addr": relay.for_a.to_string()}))
        .await;
    alice.expect(|e| e["event"] == "peer_up").await;
    bob.expect(|e| e["event"] == "peer_up").await;

    for i in 0..N {
        alice
            .send(json!({"cmd": "send", "to": "bob", "text": format!("a{i}")}))
            .await;
        bob.send(json!({"cmd": "send", "to": "alice", "text": format!("b{i}")}))
            .await;
    }
    let mut at_bob = Vec::new();
    while at_bob.len() < N {
        let m = bob.expect(|e| e["event"] == "message").await;
        at_bob.push(m["text"].as_str().unwrap().to_owned());
    }
    // Alice's messages from bob, and the final states of her own, in one pass.
    let mut at_alice = Vec::new();
    let mut settled = std::collections::HashMap::new();
    while at_alice.len() < N || settled.len() < N {
        let e = alice
            .expect(|e| e["event"] == "message" || e["event"] == "state")
            .await;
        if e["event"] == "message" {
            at_alice.push(e["text"].as_str().unwrap().to_owned());
        } else if e["state"] != "sending" {
            settled.insert(e["id"].as_str().unwrap().to_owned(), e["state"].clone());
        }
    }
    let want_bob: Vec<String> = (0..N).map(|i| format!("a{i}")).collect();
    let want_alice: Vec<String> = (0..N).map(|i| format!("b{i}")).collect();
    assert_eq!(at_bob, want_bob);
    assert_eq!(at_alice, want_alice);
    // Every one of alice's messages was delivered, none failed.
    assert!(settled.values().all(|s| s == "delivered"), "{settled:?}");

    // The relay really was lossy, and duplicates really came through.
    assert!(relay.stats.dropped.load(Ordering::Relaxed) > 50);
    assert!(relay.stats.duplicated.load(Ordering::Relaxed) > 20);
    // No duplicate made it to either screen: the next message event would be a failure.
    alice.send(json!({"cmd": "peers"})).await;
    let next = alice
        .expect(|e| e["event"] == "peers" || e["event"] == "message")
        .await;
    assert_eq!(next["event"], "peers");
    alice.quit().await;
    bob.quit().await;
}
