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

/// The messages of a group as the history database in `dir` keeps them, in the group's
/// order.
fn kept_texts(dir: &std::path::Path, group: &str) -> Vec<String> {
    let store = lanchat::store::Store::open(&dir.join(lanchat::runtime::DATABASE_FILE)).unwrap();
    let g = lanchat::proto::group::GroupId::from_hex(group).unwrap();
    store
        .latest(&lanchat::proto::ConversationId::Group(g), 100)
        .unwrap()
        .into_iter()
        .filter(|m| m.group.as_ref().is_some_and(|p| p.change.is_none()))
        .map(|m| m.text)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_member_keeps_its_groups_history_and_receipts_and_converges() {
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let mut alice = TestNode::start_in(41, "alice", dirs[0].path()).await;
    let mut bob = TestNode::start_in(42, "bob", dirs[1].path()).await;
    let mut carol = TestNode::start_in(43, "carol", dirs[2].path()).await;
    connect(&mut alice, &mut bob).await;
    connect(&mut alice, &mut carol).await;
    connect(&mut bob, &mut carol).await;
    alice
        .send(json!({"cmd": "group_create", "name": "午饭群", "members": [bob.id, carol.id]}))
        .await;
    let created = alice.expect(|e| e["event"] == "group_created").await;
    let group = created["group"].as_str().unwrap().to_owned();
    for node in [&mut bob, &mut carol] {
        node.expect(|e| e["event"] == "group_members").await;
    }
    bob.send(json!({"cmd": "group_send", "group": group, "text": "noodles?"}))
        .await;
    let id = bob.expect(|e| e["event"] == "group_sent").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    message(&mut alice, "noodles?").await;
    message(&mut carol, "noodles?").await;
    carol
        .send(json!({"cmd": "group_read", "group": group, "author": bob.id, "id": id}))
        .await;
    // Delivered to both, read by carol, in whatever order the receipts come.
    let (mut delivered, mut read) = (0, 0);
    while delivered < 2 || read < 1 {
        let e = bob
            .expect(|e| e["event"] == "group_delivered" || e["event"] == "group_read")
            .await;
        if e["event"] == "group_read" {
            read += 1;
        } else {
            delivered += 1;
        }
    }
    carol
        .send(json!({"cmd": "group_send", "group": group, "text": "yes"}))
        .await;
    message(&mut alice, "yes").await;
    message(&mut bob, "yes").await;

    // Carol and bob stop; alice writes and renames meanwhile.
    carol.quit().await;
    bob.quit().await;
    alice
        .send(json!({"cmd": "group_send", "group": group, "text": "while you were away"}))
        .await;
    alice
        .send(json!({"cmd": "group_rename", "group": group, "name": "lunch"}))
        .await;
    alice
        .expect(|e| e["event"] == "group_change" && e["change"] == "renamed")
        .await;
    // Kept on disk as they were when they stopped.
    assert_eq!(kept_texts(dirs[2].path(), &group), ["noodles?", "yes"]);

    // Back, before anyone is reachable: the group, its members and the receipts of bob's
    // message come from the history database, not from the others.
    let mut bob = TestNode::start_in(42, "bob", dirs[1].path()).await;
    let mut carol = TestNode::start_in(43, "carol", dirs[2].path()).await;
    carol.send(json!({"cmd": "groups"})).await;
    let groups = carol.expect(|e| e["event"] == "groups").await;
    let kept = &groups["groups"][0];
    assert_eq!(kept["group"], group.as_str());
    assert_eq!(kept["name"], "午饭群");
    assert_eq!(kept["member"], true);
    assert_eq!(kept["members"].as_array().unwrap().len(), 3);
    // Nothing was refused on the way (the counters of what would be dropped).
    for why in [
        "malformed",
        "bad_signature",
        "unauthorized",
        "refused",
        "unsolicited",
    ] {
        assert_eq!(groups["dropped"][why], 0, "{why}");
    }
    bob.send(json!({"cmd": "group_receipts", "group": group, "id": id}))
        .await;
    let receipts = bob.expect(|e| e["event"] == "group_receipts").await;
    assert_eq!(receipts["delivered"].as_array().unwrap().len(), 2);
    assert_eq!(receipts["read"], json!([carol.id]));

    // Connected again: only what they missed comes (the first message carol is shown
    // is the one written while she was away), and all three agree.
    connect(&mut carol, &mut alice).await;
    let first = carol.expect(|e| e["event"] == "group_message").await;
    assert_eq!(first["text"], "while you were away");
    connect(&mut bob, &mut alice).await;
    let first = bob.expect(|e| e["event"] == "group_message").await;
    assert_eq!(first["text"], "while you were away");
    connect(&mut bob, &mut carol).await;
    // The rename came with it (membership changes come first in a push).
    for node in [&mut alice, &mut bob, &mut carol] {
        let g = group.clone();
        node.send(json!({"cmd": "groups"})).await;
        let all = node.expect(|e| e["event"] == "groups").await;
        assert_eq!(all["groups"][0]["group"], g.as_str());
        assert_eq!(all["groups"][0]["name"], "lunch");
    }
    alice.quit().await;
    bob.quit().await;
    carol.quit().await;
    let expected = ["noodles?", "yes", "while you were away"];
    for d in &dirs {
        assert_eq!(kept_texts(d.path(), &group), expected);
    }
}
