//! Whole nodes over real loopback UDP, driven through the `pipe` front end in-process.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use lanchat::config::Settings;
use serde_json::json;
use std::net::UdpSocket;
use support::{PATIENCE, TestNode, free_udp_port};

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
    // Bob reads it; alice sees that.
    bob.send(json!({"cmd": "read", "to": "alice", "ids": [m["id"]]}))
        .await;
    let read = alice.expect(|e| e["event"] == "state").await;
    assert_eq!(read["state"], "read");
    assert_eq!(read["id"], m["id"]);

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

#[tokio::test]
async fn keys_are_proven_over_loopback_and_trust_is_reported() {
    let mut alice = TestNode::start(61, "alice", |_| {}).await;
    let mut bob = TestNode::start(62, "bob", |_| {}).await;
    alice.send(json!({"cmd": "add", "addr": bob.addr})).await;
    // Each side learns the other's key from a handshake, unverified at first.
    let t = alice.expect(|e| e["event"] == "trust").await;
    assert_eq!(t["peer"], bob.id.as_str());
    assert_eq!(t["trust"], "unverified");
    assert_eq!(t["previous"], serde_json::Value::Null);
    let fp = t["fingerprint"].as_str().unwrap().to_owned();
    assert_eq!(fp.split(' ').count(), 8, "{fp}");
    let t = bob.expect(|e| e["event"] == "trust").await;
    assert_eq!(t["peer"], alice.id.as_str());

    alice.send(json!({"cmd": "verify", "to": "bob"})).await;
    let t = alice.expect(|e| e["event"] == "trust").await;
    assert_eq!(
        (t["peer"].as_str(), t["trust"].as_str()),
        (Some(bob.id.as_str()), Some("verified"))
    );
    alice.send(json!({"cmd": "block", "to": "bob"})).await;
    let t = alice.expect(|e| e["event"] == "trust").await;
    assert_eq!(t["trust"], "blocked");
    // Blocked: whatever of bob's message reaches alice before she trusts him again is
    // dropped, so nothing shows before her trust event (that nothing gets through while
    // blocked, however long, is tested in virtual time in tests/secure.rs).
    bob.send(json!({"cmd": "send", "to": "alice", "text": "let me in"}))
        .await;
    alice.send(json!({"cmd": "trust", "to": "bob"})).await;
    let t = alice
        .expect(|e| {
            assert_ne!(
                e["event"], "message",
                "a blocked peer's message got through"
            );
            e["event"] == "trust"
        })
        .await;
    assert_eq!(t["trust"], "unverified");
    // Trusted again: bob's retry arrives.
    let m = alice.expect(|e| e["event"] == "message").await;
    assert_eq!(m["text"], "let me in");
    alice.quit().await;
    bob.quit().await;
}

/// An address added as a lanchat peer (`add`, `--peer`) never gets text in the clear before
/// its key answers: the send is refused and nothing but lanchat datagrams reach it. Named
/// plain (`"plain": true`), it gets the text as the user asked.
#[tokio::test]
async fn an_address_added_as_a_lanchat_peer_gets_no_plain_text_unless_named_plain() {
    let mut alice = TestNode::start(24, "alice", |_| {}).await;
    let listener = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let at = listener.local_addr().unwrap().to_string();
    alice.send(json!({"cmd": "add", "addr": at})).await;
    alice
        .send(json!({"cmd": "send", "to": at, "text": "secret plans"}))
        .await;
    let err = alice.expect(|e| e["event"] == "error").await;
    assert!(
        err["message"].as_str().unwrap().contains("lanchat peer"),
        "{err}"
    );
    alice
        .send(json!({"cmd": "send", "to": at, "text": "hello anyway", "plain": true}))
        .await;
    let mut buf = [0u8; 2048];
    let mut seen = Vec::new();
    loop {
        let (n, _) = tokio::time::timeout(PATIENCE, listener.recv_from(&mut buf))
            .await
            .expect("datagrams in time")
            .unwrap();
        let d = buf[..n].to_vec();
        if d == b"hello anyway" {
            break;
        }
        // Anything before it is a lanchat probe (starts with the magic), never text.
        assert_eq!(d.first(), Some(&0xFF), "{:?}", String::from_utf8_lossy(&d));
        seen.push(d);
    }
    assert!(
        !seen.iter().any(|d| d.windows(6).any(|w| w == b"secret")),
        "the refused text never left"
    );
    alice.quit().await;
}

/// What the trust rules keep across restarts goes through the node to its files: the key
/// met on first contact is appended to `known_peers`, and a node that answered an IK
/// handshake (the peer restarted, knowing its key) writes that handshake's time to
/// `handshake_times` by the time it quits, so a replay of it is refused after a restart.
#[tokio::test]
async fn keys_met_and_handshake_times_are_kept_on_disk() {
    let alice_dir = tempfile::tempdir().unwrap();
    let bob_dir = tempfile::tempdir().unwrap();
    let in_dir = |dir: &std::path::Path| {
        let dir = dir.to_owned();
        move |s: &mut Settings| s.config_dir = dir
    };
    let mut bob = TestNode::start(26, "bob", in_dir(bob_dir.path())).await;
    let mut alice = TestNode::start(25, "alice", in_dir(alice_dir.path())).await;
    alice.send(json!({"cmd": "add", "addr": bob.addr})).await;
    alice.expect(|e| e["event"] == "peer_up").await;
    bob.expect(|e| e["event"] == "peer_up").await;
    let known = std::fs::read_to_string(alice_dir.path().join("known_peers")).unwrap();
    assert!(known.contains(&bob.id), "{known}");
    assert!(
        !bob_dir.path().join("handshake_times").exists(),
        "first contact is XX: no IK time yet"
    );
    alice.quit().await;

    // Alice again, knowing bob's key: her handshake is IK, and bob records its time.
    let mut alice = TestNode::start(25, "alice", in_dir(alice_dir.path())).await;
    alice.send(json!({"cmd": "add", "addr": bob.addr})).await;
    alice.expect(|e| e["event"] == "peer_up").await;
    alice
        .send(json!({"cmd": "send", "to": "bob", "text": "back"}))
        .await;
    bob.expect(|e| e["event"] == "message").await;
    let alice_id = alice.id.clone();
    let bob_id = bob.id.clone();
    alice.quit().await;
    bob.quit().await;
    // Whichever side answered the IK handshake (bob probes alice as readily as she reaches
    // him) wrote the other's time.
    let read = |dir: &std::path::Path| {
        std::fs::read_to_string(dir.join("handshake_times")).unwrap_or_default()
    };
    let (at_bob, at_alice) = (read(bob_dir.path()), read(alice_dir.path()));
    assert!(
        at_bob.contains(&alice_id) || at_alice.contains(&bob_id),
        "no IK time kept: bob {at_bob:?}, alice {at_alice:?}"
    );
}
