//! Two nodes that see each other only through a port-translating relay, as behind a NAT
//! (issue 12, finding 3): each sits on its own 127.x address, the relay on a third, and
//! every datagram reaches the other side from one of the relay's ports. The port a beacon
//! claims is passed on untouched, and at the relay's address nothing answers on it. The
//! relay loses, duplicates and reorders. Messages sent by name arrive once, in order, are
//! all delivered, and no text crosses the relay in the clear.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use lanchat::testkit::{Impairment, Relay, RelayOptions};
use serde_json::json;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::Ordering;
use std::time::Duration;
use support::TestNode;

const N: usize = 300;
/// How long the two may take to meet (less than `support::PATIENCE`, to say who failed).
const MEET: Duration = Duration::from_secs(8);
/// Every message text starts with this, so one search finds any text sent in the clear.
const MARKER: &str = "nat-secret-";

fn text(from: &str, i: usize) -> String {
    format!("{MARKER}{i:03}-from-{from}")
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Reads `node`'s events until it has `n` messages and a final state (delivered or
/// failed) for `n` of its own: (texts in order, final state by message id).
async fn collect(node: &mut TestNode, n: usize) -> (Vec<String>, HashMap<String, String>) {
    let mut texts = Vec::new();
    let mut states: HashMap<String, String> = HashMap::new();
    let settled = |s: &HashMap<String, String>| {
        s.values()
            .filter(|v| *v == "delivered" || *v == "failed")
            .count()
    };
    while texts.len() < n || settled(&states) < n {
        let e = node
            .expect(|e| e["event"] == "message" || e["event"] == "state")
            .await;
        if e["event"] == "message" {
            texts.push(e["text"].as_str().unwrap().to_owned());
        } else {
            states.insert(
                e["id"].as_str().unwrap().to_owned(),
                e["state"].as_str().unwrap().to_owned(),
            );
        }
    }
    (texts, states)
}

/// No message event is waiting: a duplicate shown would come before the peers list.
async fn nothing_more_shown(node: &mut TestNode) {
    node.send(json!({"cmd": "peers"})).await;
    let next = node
        .expect(|e| e["event"] == "peers" || e["event"] == "message")
        .await;
    assert_eq!(next["event"], "peers", "{next}");
}

#[tokio::test]
async fn nodes_behind_a_port_translating_relay_talk_by_name_encrypted_through_loss() {
    let on = |last: u8| IpAddr::V4(Ipv4Addr::new(127, 0, 0, last));
    let mut alice = TestNode::start(61, "alice", |s| s.bind = on(2)).await;
    let mut bob = TestNode::start(62, "bob", |s| s.bind = on(3)).await;
    let a: SocketAddr = alice.addr.parse().unwrap();
    let b: SocketAddr = bob.addr.parse().unwrap();
    assert_eq!((a.ip(), b.ip()), (on(2), on(3)));
    let relay = Relay::start_with(
        a,
        b,
        Impairment {
            loss: 0.2,
            duplicate: 0.1,
            reorder: 0.2,
            reorder_delay: Duration::from_millis(5),
            seed: 12,
        },
        RelayOptions::nat(on(4)),
    )
    .await
    .unwrap();
    // What a beacon claims, at the relay's address: taken, so that nobody else can answer
    // there, and never read.
    let _sinks: Vec<std::net::UdpSocket> = [a.port(), b.port()]
        .iter()
        .filter_map(|p| std::net::UdpSocket::bind((on(4), *p)).ok())
        .collect();

    // Alice knows bob only as the relay's address; bob sees alice only at the relay's.
    alice
        .send(json!({"cmd": "add", "addr": relay.for_a.to_string()}))
        .await;
    let up = tokio::time::timeout(MEET, alice.expect(|e| e["event"] == "peer_up"))
        .await
        .expect("alice never met bob through the relay");
    assert_eq!(up["name"], "bob", "{up}");
    let up = tokio::time::timeout(MEET, bob.expect(|e| e["event"] == "peer_up"))
        .await
        .expect("bob never met alice through the relay");
    assert_eq!(up["name"], "alice", "{up}");

    for i in 0..N {
        alice
            .send(json!({"cmd": "send", "to": "bob", "text": text("alice", i)}))
            .await;
        bob.send(json!({"cmd": "send", "to": "alice", "text": text("bob", i)}))
            .await;
    }
    let (at_bob, bob_states) = collect(&mut bob, N).await;
    let (at_alice, alice_states) = collect(&mut alice, N).await;
    let want_bob: Vec<String> = (0..N).map(|i| text("alice", i)).collect();
    let want_alice: Vec<String> = (0..N).map(|i| text("bob", i)).collect();
    assert_eq!(at_bob, want_bob);
    assert_eq!(at_alice, want_alice);
    for (who, states) in [("alice", &alice_states), ("bob", &bob_states)] {
        assert_eq!(states.len(), N, "{who}");
        assert!(
            states.values().all(|s| s == "delivered"),
            "{who}: {states:?}"
        );
    }
    nothing_more_shown(&mut alice).await;
    nothing_more_shown(&mut bob).await;

    // The relay really was lossy and duplicated, and everything went through it.
    assert!(relay.stats.dropped.load(Ordering::Relaxed) > 50);
    assert!(relay.stats.duplicated.load(Ordering::Relaxed) > 20);
    let seen = relay.seen.lock().unwrap().clone();
    assert!(seen.len() > 2 * N, "{} datagrams crossed", seen.len());
    let clear: Vec<&Vec<u8>> = seen
        .iter()
        .filter(|d| contains(d, MARKER.as_bytes()))
        .collect();
    let leaked: Vec<String> = want_bob
        .iter()
        .chain(&want_alice)
        .filter(|t| clear.iter().any(|d| contains(d, t.as_bytes())))
        .cloned()
        .collect();
    assert!(
        clear.is_empty() && leaked.is_empty(),
        "{} datagrams carried text in the clear: {leaked:?}",
        clear.len()
    );
    alice.quit().await;
    bob.quit().await;
}
