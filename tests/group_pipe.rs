//! Groups between whole nodes over loopback, through `lanchat pipe`'s JSON lines: three
//! nodes form a group and talk, one restarts and catches up from the others.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::{Value, json};
use support::TestNode;

async fn connect(a: &mut TestNode, b: &mut TestNode) {
    a.send(json!({"cmd": "add", "addr": b.addr})).await;
    let bid = b.id.clone();
    a.expect(|e| e["event"] == "peer_up" && e["id"] == bid.as_str())
        .await;
    let aid = a.id.clone();
    b.expect(|e| e["event"] == "peer_up" && e["id"] == aid.as_str())
        .await;
}

async fn message(node: &mut TestNode, text: &str) -> Value {
    node.expect(|e| e["event"] == "group_message" && e["text"] == text)
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_pipe_nodes_form_a_group_and_a_restarted_one_catches_up() {
    let mut alice = TestNode::start(31, "alice", |_| {}).await;
    let mut bob = TestNode::start(32, "bob", |_| {}).await;
    let mut carol = TestNode::start(33, "carol", |_| {}).await;
    connect(&mut alice, &mut bob).await;
    connect(&mut alice, &mut carol).await;
    connect(&mut bob, &mut carol).await;

    alice
        .send(json!({"cmd": "group_create", "name": "午饭群", "members": [bob.id, carol.id]}))
        .await;
    let created = alice.expect(|e| e["event"] == "group_created").await;
    let group = created["group"].as_str().unwrap().to_owned();
    for node in [&mut bob, &mut carol] {
        let g = group.clone();
        node.expect(|e| e["event"] == "group_joined" && e["group"] == g.as_str())
            .await;
        let members = node.expect(|e| e["event"] == "group_members").await;
        assert_eq!(members["name"], "午饭群");
        assert_eq!(members["members"].as_array().unwrap().len(), 3);
        assert_eq!(members["owner"], alice.id.as_str());
    }

    // Bob writes; everyone has it, and bob sees it delivered to both others.
    bob.send(json!({"cmd": "group_send", "group": group, "text": "noodles?"}))
        .await;
    let sent = bob.expect(|e| e["event"] == "group_sent").await;
    let id = sent["id"].as_str().unwrap().to_owned();
    let m = message(&mut alice, "noodles?").await;
    assert_eq!(m["author"], bob.id.as_str());
    assert_eq!(m["id"], id.as_str());
    message(&mut carol, "noodles?").await;
    let mut delivered_to = Vec::new();
    while delivered_to.len() < 2 {
        let i = id.clone();
        let d = bob
            .expect(|e| {
                e["event"] == "group_delivered"
                    && e["ids"].as_array().unwrap().iter().any(|x| x == i.as_str())
            })
            .await;
        delivered_to.push(d["member"].as_str().unwrap().to_owned());
    }
    delivered_to.sort();
    let mut expected = vec![alice.id.clone(), carol.id.clone()];
    expected.sort();
    assert_eq!(delivered_to, expected);
    // Carol reads it: bob is told.
    carol
        .send(json!({"cmd": "group_read", "group": group, "author": bob.id, "id": id}))
        .await;
    let r = bob.expect(|e| e["event"] == "group_read").await;
    assert_eq!(r["member"], carol.id.as_str());
    bob.send(json!({"cmd": "group_receipts", "group": group, "id": id}))
        .await;
    let receipts = bob.expect(|e| e["event"] == "group_receipts").await;
    assert_eq!(receipts["members"], 2);
    assert_eq!(receipts["delivered"].as_array().unwrap().len(), 2);
    assert_eq!(receipts["read"], json!([carol.id]));

    // A non-owner may not remove; the error says so.
    carol
        .send(json!({"cmd": "group_remove", "group": group, "member": bob.id}))
        .await;
    let err = carol.expect(|e| e["event"] == "error").await;
    assert!(err["message"].as_str().unwrap().contains("owner"), "{err}");

    // Carol goes away; alice writes and renames meanwhile; carol comes back (a fresh
    // start: nothing kept) and gets all of it from the others.
    let carol_id = carol.id.clone();
    carol.quit().await;
    alice
        .send(json!({"cmd": "group_send", "group": group, "text": "while carol was away"}))
        .await;
    alice
        .send(json!({"cmd": "group_rename", "group": group, "name": "lunch"}))
        .await;
    message(&mut bob, "while carol was away").await;
    let mut carol = TestNode::start(33, "carol", |_| {}).await;
    assert_eq!(carol.id, carol_id);
    // Alice alone brings carol back in: the membership, then what she missed (bob's
    // message too: any member serves any member's entries).
    connect(&mut carol, &mut alice).await;
    let g = group.clone();
    carol
        .expect(|e| e["event"] == "group_joined" && e["group"] == g.as_str())
        .await;
    let noodles = message(&mut carol, "noodles?").await;
    assert_eq!(noodles["author"], bob.id.as_str());
    message(&mut carol, "while carol was away").await;
    connect(&mut carol, &mut bob).await;
    carol.send(json!({"cmd": "groups"})).await;
    let groups = carol.expect(|e| e["event"] == "groups").await;
    let mine = &groups["groups"][0];
    assert_eq!(mine["name"], "lunch");
    assert_eq!(mine["member"], true);
    assert_eq!(mine["members"].as_array().unwrap().len(), 3);
    alice.send(json!({"cmd": "groups"})).await;
    let theirs = alice.expect(|e| e["event"] == "groups").await;
    assert_eq!(theirs["groups"][0], *mine);

    alice.quit().await;
    bob.quit().await;
    carol.quit().await;
}
