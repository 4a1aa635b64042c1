//! Encrypted, authenticated sessions in virtual time: handshakes through loss and
//! reordering, replays, tampering, rekeying, forgery and identity changes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod sim;

use lanchat::proto::secure::REKEY_AFTER;
use lanchat::proto::wire::{self, Frame};
use lanchat::proto::{Endpoint, EndpointConfig, MsgId, NodeId, Trust, TrustLevel};
use sim::{
    Chaos, Network, addr, delivered, identity, kind, node_id, secs, send, texts, trust_events,
};
use std::time::Duration;

/// Replaces node `i`'s endpoint with a fresh one (a restart), and lets it find its peers.
fn restart(net: &mut Network, i: usize, cfg: EndpointConfig, seed: u64) {
    net.nodes[i].endpoint = Endpoint::new(cfg, net.now, seed);
    net.nodes[i].endpoint.handle_timeout(net.now);
    net.flush(i);
    let settle = net.elapsed() + secs(0.5);
    net.run_until(settle);
}

/// The kinds of the datagrams logged since logging was last (re)started, which stops it.
fn logged_kinds(net: &mut Network) -> Vec<&'static str> {
    net.log
        .take()
        .unwrap()
        .iter()
        .map(|(_, _, d)| kind(d))
        .collect()
}

/// How many handshake replies were logged since logging was last (re)started, which
/// stops it.
fn replies_logged(net: &mut Network) -> usize {
    logged_kinds(net).iter().filter(|k| **k == "reply").count()
}

#[test]
fn first_contact_uses_xx_then_known_keys_use_ik_and_both_sides_learn_the_key() {
    let mut net = Network::new();
    net.log = Some(Vec::new());
    let a = net.add(1, "alice", |_| {});
    let b = net.add(2, "bob", |_| {});
    net.run_until(secs(1.0));
    let kinds: Vec<&str> = logged_kinds(&mut net);
    assert!(
        kinds.contains(&"init-xx") && kinds.contains(&"final"),
        "{kinds:?}"
    );
    assert!(!kinds.contains(&"init-ik"));
    assert!(!kinds.contains(&"packet"), "nothing travels in the clear");

    let now = net.now;
    assert!(net.nodes[a].endpoint.is_secured(now, &node_id(2)));
    assert!(net.nodes[b].endpoint.is_secured(now, &node_id(1)));
    assert_eq!(
        trust_events(&net.take_events(a)),
        vec![(node_id(2), Trust::Unverified, None)]
    );
    assert_eq!(
        trust_events(&net.take_events(b)),
        vec![(node_id(1), Trust::Unverified, None)]
    );
    let known = net.nodes[a].endpoint.known_peers();
    assert_eq!(known.len(), 1);
    assert_eq!(
        (
            known[0].id,
            known[0].name.as_str(),
            known[0].ip,
            known[0].level
        ),
        (
            node_id(2),
            "bob",
            Some(addr(2).ip()),
            TrustLevel::Unverified
        )
    );
    send(&mut net, a, node_id(2), 1, "hello over noise");
    send(&mut net, b, node_id(1), 2, "hello back");
    net.run_until(secs(2.0));
    assert_eq!(texts(&net.take_events(b)), vec!["hello over noise"]);
    assert_eq!(texts(&net.take_events(a)), vec!["hello back"]);

    // Alice restarts knowing bob: her handshake is IK, and the chat goes on.
    let known = net.nodes[a].endpoint.known_peers();
    let mut cfg = EndpointConfig::new(identity(1), "alice", 47475);
    cfg.known_peers = known;
    cfg.wall_clock_ms = 1_700_000_000_000 + net.elapsed().as_millis() as u64;
    net.log = Some(Vec::new());
    restart(&mut net, a, cfg, 7);
    send(&mut net, a, node_id(2), 3, "IK now");
    net.run_until(secs(4.0));
    let kinds: Vec<&str> = logged_kinds(&mut net);
    assert!(kinds.contains(&"init-ik"), "{kinds:?}");
    assert!(!kinds.contains(&"init-xx") && !kinds.contains(&"final"));
    assert_eq!(texts(&net.take_events(b)), vec!["IK now"]);

    // Alice restarts with her clock set back: bob refuses her IK initiations as replays
    // (their timestamps do not grow), and after two she falls back to XX and gets through.
    let replays = net.nodes[b].endpoint.secure_stats().replays;
    let mut cfg = EndpointConfig::new(identity(1), "alice", 47475);
    cfg.known_peers = net.nodes[a].endpoint.known_peers();
    cfg.wall_clock_ms = 1_600_000_000_000;
    net.log = Some(Vec::new());
    restart(&mut net, a, cfg, 8);
    // As the store does at start: bob is a peer met before, so a message to him waits for
    // the handshake (a beacon alone makes nobody a peer).
    net.nodes[a]
        .endpoint
        .remember_peer(node_id(2), "bob", addr(2));
    send(&mut net, a, node_id(2), 4, "clock went back");
    let until = net.elapsed() + secs(20.0);
    net.run_until(until);
    let kinds: Vec<&str> = logged_kinds(&mut net);
    let first_xx = kinds.iter().position(|k| *k == "init-xx");
    let iks_before = kinds[..first_xx.unwrap_or(kinds.len())]
        .iter()
        .filter(|k| **k == "init-ik")
        .count();
    assert!(first_xx.is_some() && iks_before >= 2, "{kinds:?}");
    assert!(net.nodes[b].endpoint.secure_stats().replays >= replays + 2);
    assert_eq!(texts(&net.take_events(b)), vec!["clock went back"]);
}

#[test]
fn lost_and_reordered_handshake_messages_only_delay_the_session() {
    for (lose, seed) in [("init-xx", 1), ("reply", 2), ("final", 3), ("sealed", 4)] {
        let mut net = Network::new();
        // Drop the first two datagrams of one handshake kind, whoever sends them.
        let dropped = std::rc::Rc::new(std::cell::Cell::new(0));
        let counter = dropped.clone();
        net.filter = Box::new(move |_, _, d| {
            // Sealed frames show up decrypted (as packets), or as sealed if not yet openable.
            let k = match kind(d) {
                "packet" => "sealed",
                k => k,
            };
            if k == lose && counter.get() < 2 {
                counter.set(counter.get() + 1);
                return false;
            }
            true
        });
        let a = net.add(1, "alice", |_| {});
        let b = net.add(2, "bob", |_| {});
        // Known from an earlier run: messages wait for the peers to show up.
        net.nodes[a]
            .endpoint
            .remember_peer(node_id(2), "bob", addr(2));
        net.nodes[b]
            .endpoint
            .remember_peer(node_id(1), "alice", addr(1));
        send(&mut net, a, node_id(2), 10, "through the storm");
        send(&mut net, b, node_id(1), 11, "and back");
        net.run_until(secs(30.0));
        assert_eq!(
            texts(&net.take_events(b)),
            vec!["through the storm"],
            "{lose}"
        );
        let a_events = net.take_events(a);
        assert_eq!(texts(&a_events), vec!["and back"], "{lose}");
        assert!(delivered(&a_events, 10), "{lose}");
        assert_eq!(dropped.get(), 2, "two {lose} datagrams were lost");

        // And with random loss, duplication and reordering from the first datagram.
        let mut net = Network::new();
        net.chaos = Some(Chaos::new(0.3, 0.2, 0.5, seed));
        let a = net.add(1, "alice", |_| {});
        let b = net.add(2, "bob", |_| {});
        net.nodes[a]
            .endpoint
            .remember_peer(node_id(2), "bob", addr(2));
        for i in 0..20 {
            send(&mut net, a, node_id(2), 100 + i, &format!("m{i}"));
        }
        net.run_until(secs(60.0));
        let want: Vec<String> = (0..20).map(|i| format!("m{i}")).collect();
        assert_eq!(texts(&net.take_events(b)), want, "seed {seed}");
    }
}

#[test]
fn replayed_sealed_frames_are_dropped_and_counted() {
    let mut net = Network::new();
    let a = net.add(1, "alice", |_| {});
    let b = net.add(2, "bob", |_| {});
    net.run_until(secs(1.0));
    net.log = Some(Vec::new());
    send(&mut net, a, node_id(2), 1, "only once");
    net.run_until(secs(2.0));
    assert_eq!(texts(&net.take_events(b)), vec!["only once"]);
    let to_bob: Vec<Vec<u8>> = net
        .log
        .take()
        .unwrap()
        .into_iter()
        .filter(|(_, to, d)| *to == addr(2) && kind(d) == "sealed")
        .map(|(_, _, d)| d)
        .collect();
    assert!(!to_bob.is_empty());
    let before = net.nodes[b].endpoint.secure_stats().replays;
    for d in &to_bob {
        net.inject(b, addr(1), d);
        // From another address too: a replay is a replay wherever it comes from.
        net.inject(b, addr(9), d);
    }
    net.run_until(secs(3.0));
    assert!(texts(&net.take_events(b)).is_empty(), "nothing shown twice");
    assert_eq!(
        net.nodes[b].endpoint.secure_stats().replays - before,
        2 * to_bob.len() as u64
    );
}

#[test]
fn replayed_initiations_get_no_answer() {
    let mut net = Network::new();
    net.log = Some(Vec::new());
    let a = net.add(1, "alice", |_| {});
    let b = net.add(2, "bob", |_| {});
    net.run_until(secs(1.0));
    // An XX initiation from the first contact, and (after a restart that knows the key)
    // an IK one.
    let mut inits: Vec<(usize, Vec<u8>)> = Vec::new();
    let log = net.log.take().unwrap();
    for (from, _, d) in &log {
        if kind(d).starts_with("init") {
            let to = if *from == addr(1) { b } else { a };
            inits.push((to, d.clone()));
        }
    }
    let mut cfg = EndpointConfig::new(identity(1), "alice", 47475);
    cfg.known_peers = net.nodes[a].endpoint.known_peers();
    cfg.wall_clock_ms = 1_700_000_000_000 + net.elapsed().as_millis() as u64;
    net.log = Some(Vec::new());
    restart(&mut net, a, cfg, 8);
    send(&mut net, a, node_id(2), 5, "fresh");
    net.run_until(secs(3.0));
    for (_, to, d) in net.log.take().unwrap() {
        if kind(&d) == "init-ik" && to == addr(2) {
            inits.push((b, d));
        }
    }
    assert!(inits.iter().any(|(_, d)| kind(d) == "init-xx"));
    assert!(inits.iter().any(|(_, d)| kind(d) == "init-ik"));

    for (to, d) in inits {
        let from = if to == b { addr(1) } else { addr(2) };
        let before = net.nodes[to].endpoint.secure_stats().replays;
        net.log = Some(Vec::new());
        net.inject(to, from, &d);
        assert_eq!(
            replies_logged(&mut net),
            0,
            "a replayed {} was answered",
            kind(&d)
        );
        assert_eq!(net.nodes[to].endpoint.secure_stats().replays, before + 1);
    }
}

#[test]
fn a_changed_byte_anywhere_is_refused() {
    let mut net = Network::new();
    let a = net.add(1, "alice", |_| {});
    let b = net.add(2, "bob", |_| {});
    net.run_until(secs(1.0));
    net.log = Some(Vec::new());
    // Hold bob's copy back, so the tampered ones come first.
    net.filter = Box::new(|_, to, _| to != addr(2));
    send(&mut net, a, node_id(2), 1, "untouchable");
    net.filter = Box::new(|_, _, _| true);
    let original = net
        .log
        .take()
        .unwrap()
        .into_iter()
        .find(|(_, to, d)| *to == addr(2) && kind(d) == "sealed")
        .map(|(_, _, d)| d)
        .expect("a sealed data frame");
    for i in 0..original.len() {
        for bit in [0x01, 0x80] {
            let mut bad = original.clone();
            bad[i] ^= bit;
            net.inject(b, addr(1), &bad);
        }
    }
    assert!(texts(&net.take_events(b)).is_empty());
    let s = net.nodes[b].endpoint.secure_stats().clone();
    let st = net.nodes[b].endpoint.stats().clone();
    // Every copy was refused somewhere: not native, not a frame, no session, or no tag.
    assert_eq!(
        s.bad_auth + s.unknown_session + st.malformed + st.text_in,
        2 * original.len() as u64,
        "{s:?} {st:?}"
    );
    assert_eq!(st.text_in, 0, "no flipped copy passed for plain text");
    // The genuine frame still opens: refused copies did not move the replay window.
    net.inject(b, addr(1), &original);
    assert_eq!(texts(&net.take_events(b)), vec!["untouchable"]);

    // A tampered IK initiation gets no answer and makes no session, whatever byte of its
    // Noise message changed; and it does not spoil the genuine one.
    let init = sim::initiation(1, node_id(2), addr(2), net.now, true);
    let Ok(Frame::HandshakeInit { message, .. }) = Frame::decode(&init) else {
        panic!("an initiation");
    };
    // Where the Noise message starts in the datagram (after the frame's header).
    let header = init
        .windows(message.len())
        .position(|w| w == &message[..])
        .unwrap();
    for i in header..header + message.len() {
        let mut bad = init.clone();
        bad[i] ^= 0x10;
        // Far enough apart that the rate limit never decides.
        let next = net.elapsed() + secs(1.0);
        net.run_until(next);
        net.log = Some(Vec::new());
        net.inject(b, sim::addr(5), &bad);
        assert_eq!(
            replies_logged(&mut net),
            0,
            "byte {i} changed, still answered"
        );
    }
    net.log = Some(Vec::new());
    net.inject(b, sim::addr(5), &init);
    assert_eq!(
        replies_logged(&mut net),
        1,
        "the genuine initiation is answered"
    );
}

#[test]
fn rekeying_under_traffic_loses_nothing() {
    let mut net = Network::new();
    net.chaos = Some(Chaos::new(0.1, 0.05, 0.2, 9));
    let a = net.add(1, "alice", |_| {});
    let b = net.add(2, "bob", |_| {});
    net.run_until(secs(1.0));
    let before = net.nodes[a].endpoint.secure_stats().handshakes;
    let mut sent = 0u64;
    // A message each way every 250 ms for 7 minutes: more than three rekeys.
    let end = net.elapsed() + REKEY_AFTER * 3 + Duration::from_secs(60);
    while net.elapsed() < end {
        send(&mut net, a, node_id(2), 1_000 + sent, &format!("a{sent}"));
        send(&mut net, b, node_id(1), 9_000 + sent, &format!("b{sent}"));
        sent += 1;
        let next = net.elapsed() + Duration::from_millis(250);
        net.run_until(next);
    }
    net.run_until(end + Duration::from_secs(60));
    let want_b: Vec<String> = (0..sent).map(|i| format!("a{i}")).collect();
    let want_a: Vec<String> = (0..sent).map(|i| format!("b{i}")).collect();
    assert!(
        texts(&net.take_events(b)) == want_b,
        "bob missed or reordered"
    );
    assert!(
        texts(&net.take_events(a)) == want_a,
        "alice missed or reordered"
    );
    let rekeys = net.nodes[a].endpoint.secure_stats().handshakes - before;
    assert!(rekeys >= 3, "{rekeys} handshakes in 7 minutes");
}

#[test]
fn a_forged_packet_from_a_known_address_is_dropped_and_counted() {
    let mut net = Network::new();
    let a = net.add(1, "alice", |_| {});
    let b = net.add(2, "bob", |_| {});
    net.run_until(secs(1.0));
    net.take_events(b);
    // Someone on the LAN writes alice's id and address on a packet, in the clear.
    let forged = Frame::Packet(wire::Packet {
        from: node_id(1),
        epoch: 1,
        ack: None,
        data: Some(wire::Data {
            pn: 0,
            msn: 0,
            base: 0,
            id: MsgId(66),
            content: wire::Content::Text,
            sent_at_ms: 0,
            frag_index: 0,
            frag_count: 1,
            ack_now: true,
            payload: b"send me your password".to_vec(),
        }),
    })
    .encode()
    .unwrap();
    net.inject(b, addr(1), &forged);
    // Or seals it with a session of its own, naming alice inside.
    let mut mallory = sim::HandPeer::new(66, addr(1), net.now);
    mallory.connect(&mut net, b);
    let Ok(Frame::Packet(mut p)) = Frame::decode(&forged) else {
        panic!()
    };
    p.epoch = 2;
    mallory.send(&mut net, b, Frame::Packet(p).encode().unwrap());
    net.run_until(secs(2.0));
    assert!(texts(&net.take_events(b)).is_empty());
    assert_eq!(net.nodes[b].endpoint.stats().unauthenticated, 2);
    // Alice's real messages still arrive.
    send(&mut net, a, node_id(2), 7, "it's really me");
    net.run_until(secs(3.0));
    assert_eq!(texts(&net.take_events(b)), vec!["it's really me"]);
}

#[test]
fn a_new_key_under_a_known_name_and_address_is_held_until_the_user_decides() {
    let mut net = Network::new();
    let a = net.add(1, "alice", |_| {});
    let b = net.add(2, "bob", |_| {});
    net.run_until(secs(1.0));
    send(&mut net, a, node_id(2), 1, "hi bob");
    net.run_until(secs(2.0));
    net.take_events(a);
    assert_eq!(texts(&net.take_events(b)), vec!["hi bob"]);

    // Bob's machine comes back with another key (a reinstall, or someone else): same name,
    // same address.
    {
        let now = net.now;
        net.nodes[b].endpoint.shutdown(now);
    }
    net.flush(b);
    net.run_until(secs(3.0));
    let new_bob = node_id(22);
    let mut cfg = EndpointConfig::new(identity(22), "bob", 47475);
    cfg.wall_clock_ms = 1_700_000_000_000;
    restart(&mut net, b, cfg, 22);
    send(&mut net, b, node_id(1), 50, "it's bob, new laptop");
    net.run_until(secs(10.0));
    let events = net.take_events(a);
    assert_eq!(
        trust_events(&events),
        vec![(
            new_bob,
            Trust::Changed {
                previous: node_id(2)
            },
            None
        )]
    );
    assert!(texts(&events).is_empty(), "held: nothing shown");
    assert!(net.nodes[a].endpoint.stats().held > 0);
    // Nothing goes to the new key either: a message typed now waits.
    net.log = Some(Vec::new());
    send(&mut net, a, new_bob, 2, "who are you?");
    net.run_until(secs(12.0));
    let sealed_to_b = net
        .log
        .take()
        .unwrap()
        .iter()
        .filter(|(_, to, d)| *to == addr(2) && kind(d) == "sealed")
        .count();
    assert_eq!(sealed_to_b, 0);
    let got = texts(&net.take_events(b));
    assert!(got.is_empty(), "{got:?}");

    // The user trusts the new key: it replaces the old one, and both messages flow.
    let now = net.now;
    net.nodes[a].endpoint.trust_peer(now, new_bob);
    net.flush(a);
    net.run_until(secs(20.0));
    let events = net.take_events(a);
    assert_eq!(
        trust_events(&events),
        vec![(new_bob, Trust::Unverified, None)]
    );
    assert_eq!(texts(&events), vec!["it's bob, new laptop"]);
    assert_eq!(texts(&net.take_events(b)), vec!["who are you?"]);
    let known: Vec<NodeId> = net.nodes[a]
        .endpoint
        .known_peers()
        .iter()
        .map(|k| k.id)
        .collect();
    assert_eq!(known, vec![new_bob]);
}

#[test]
fn blocking_a_changed_key_keeps_it_out_for_good() {
    let mut net = Network::new();
    let a = net.add(1, "alice", |_| {});
    let _b = net.add(2, "bob", |_| {});
    net.run_until(secs(1.0));
    // An impostor takes bob's name at bob's address while bob is away.
    {
        let now = net.now;
        net.nodes[1].endpoint.shutdown(now);
    }
    net.flush(1);
    net.run_until(secs(2.0));
    let mut cfg = EndpointConfig::new(identity(23), "bob", 47475);
    cfg.wall_clock_ms = 1_700_000_000_000;
    net.nodes[1].endpoint = Endpoint::new(cfg, net.now, 23);
    net.nodes[1].endpoint.handle_timeout(net.now);
    net.flush(1);
    net.run_until(secs(5.0));
    let impostor = node_id(23);
    assert_eq!(
        net.nodes[a].endpoint.trust(&impostor),
        Some(Trust::Changed {
            previous: node_id(2)
        })
    );
    net.nodes[a].endpoint.block_peer(impostor);
    net.take_events(a);
    send(&mut net, 1, node_id(1), 9, "let me in");
    net.run_until(secs(60.0));
    assert!(texts(&net.take_events(a)).is_empty());
    assert!(!net.nodes[a].endpoint.is_secured(net.now, &impostor));
    assert!(net.nodes[a].endpoint.secure_stats().blocked > 0);
    let known = net.nodes[a].endpoint.known_peers();
    assert!(
        known
            .iter()
            .any(|k| k.id == impostor && k.level == TrustLevel::Blocked)
    );
    assert!(known.iter().any(|k| k.id == node_id(2)), "old bob kept");
}

#[test]
fn a_new_key_with_a_known_name_elsewhere_is_a_different_peer_with_a_warning() {
    let mut net = Network::new();
    let a = net.add(1, "alice", |_| {});
    let _b = net.add(2, "bob", |_| {});
    net.run_until(secs(1.0));
    net.take_events(a);
    // Another "bob", at another address, while bob is online.
    let _c = net.add(3, "bob", |_| {});
    net.run_until(secs(3.0));
    let events = trust_events(&net.take_events(a));
    assert_eq!(
        events,
        vec![(node_id(3), Trust::Unverified, Some(node_id(2)))]
    );
}

#[test]
fn replies_never_outgrow_initiations_and_floods_are_rate_limited() {
    let mut net = Network::new();
    net.log = Some(Vec::new());
    let _a = net.add(1, "alice", |_| {});
    let b = net.add(2, "bob", |_| {});
    net.run_until(secs(1.0));
    let log = net.log.take().unwrap();
    let init = log
        .iter()
        .find(|(_, _, d)| kind(d).starts_with("init"))
        .map(|(_, _, d)| d.clone())
        .expect("an initiation");
    for (_, _, d) in &log {
        if matches!(kind(d), "reply" | "final") {
            assert!(d.len() <= init.len(), "{} > {}", d.len(), init.len());
        }
    }
    // One source sends 100 fresh initiations at once: a burst is answered, the rest not.
    let mut replies = 0;
    for n in 0..100u8 {
        let d = sim::initiation(100 + n, node_id(2), addr(2), net.now, false);
        net.log = Some(Vec::new());
        net.inject(b, addr(77), &d);
        replies += replies_logged(&mut net);
    }
    assert!((1..=10).contains(&replies), "{replies} replies to 100");
    assert!(net.nodes[b].endpoint.secure_stats().rate_limited >= 90);
}

#[test]
fn a_known_key_from_a_new_address_is_the_same_peer() {
    let mut net = Network::new();
    let a = net.add(1, "alice", |_| {});
    let b = net.add(2, "bob", |_| {});
    net.run_until(secs(1.0));
    net.take_events(a);
    // Bob's laptop moves to another address, same key, same name.
    {
        let now = net.now;
        net.nodes[b].endpoint.shutdown(now);
    }
    net.flush(b);
    net.run_until(secs(2.0));
    net.nodes[b].addr = addr(9);
    let mut cfg = EndpointConfig::new(identity(2), "bob", 47475);
    cfg.wall_clock_ms = 1_700_000_000_000 + net.elapsed().as_millis() as u64;
    restart(&mut net, b, cfg, 12);
    send(&mut net, b, node_id(1), 20, "new desk, same me");
    net.run_until(secs(10.0));
    let events = net.take_events(a);
    assert!(
        !trust_events(&events)
            .iter()
            .any(|(_, t, _)| matches!(t, Trust::Changed { .. })),
        "{events:?}"
    );
    assert_eq!(texts(&events), vec!["new desk, same me"]);
    assert_eq!(
        net.nodes[a].endpoint.trust(&node_id(2)),
        Some(Trust::Unverified)
    );
    let known = net.nodes[a].endpoint.known_peers();
    assert_eq!(known.len(), 1);
    assert_eq!(
        known[0].ip,
        Some(addr(9).ip()),
        "the new address is remembered"
    );
    // And alice's answer goes to where bob is now.
    send(&mut net, a, node_id(2), 21, "welcome back");
    net.run_until(secs(12.0));
    assert_eq!(texts(&net.take_events(b)), vec!["welcome back"]);
}

#[test]
fn unanswered_initiations_are_retried_with_backoff() {
    let mut net = Network::new();
    // Bob hears nothing (so he starts no handshake of his own either): every initiation
    // of alice's goes unanswered.
    net.filter = Box::new(|_, to, _| to != addr(2));
    let a = net.add(1, "alice", |_| {});
    let _b = net.add(2, "bob", |_| {});
    // Alice has something for bob as soon as she sees him.
    net.nodes[a]
        .endpoint
        .remember_peer(node_id(2), "bob", addr(2));
    send(&mut net, a, node_id(2), 1, "anyone?");
    // When each initiation went out, to a quarter of a second.
    let mut sent: Vec<(f64, Vec<u8>)> = Vec::new();
    let mut t = net.elapsed().as_secs_f64();
    net.log = Some(Vec::new());
    while t < 40.0 {
        t += 0.25;
        net.run_until(secs(t));
        for (from, to, d) in net.log.replace(Vec::new()).unwrap() {
            if from == addr(1) && to == addr(2) && kind(&d).starts_with("init") {
                sent.push((t, d));
            }
        }
    }
    let gaps: Vec<f64> = sent.windows(2).map(|w| w[1].0 - w[0].0).collect();
    let want = [1.0, 2.0, 4.0, 8.0, 8.0, 8.0];
    assert!(gaps.len() >= want.len(), "{gaps:?}");
    for (got, want) in gaps.iter().zip(want) {
        assert!((got - want).abs() <= 0.25, "gaps {gaps:?}");
    }
    // Each retry is a fresh initiation: the same one again would be refused as a replay.
    let distinct: std::collections::HashSet<&[u8]> =
        sent.iter().map(|(_, d)| d.as_slice()).collect();
    assert_eq!(distinct.len(), sent.len());
}
