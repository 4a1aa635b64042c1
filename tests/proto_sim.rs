//! The sans-IO endpoint in virtual time: discovery, expiry, goodbye, delivery, plain text.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod sim;

use lanchat::proto::{
    ConversationId, DeliveryState, Destination, Endpoint, EndpointConfig, Event, MsgId,
    PeerDownReason, wire,
};
use sim::{Network, addr, node_id, secs, texts as messages};
use std::time::Duration;

fn peer_ups(events: &[(Duration, Event)]) -> Vec<(Duration, String)> {
    events
        .iter()
        .filter_map(|(t, e)| match e {
            Event::PeerUp(p) => Some((*t, p.name.clone())),
            _ => None,
        })
        .collect()
}

fn states(events: &[(Duration, Event)], id: MsgId) -> Vec<(Duration, DeliveryState)> {
    events
        .iter()
        .filter_map(|(t, e)| match e {
            Event::State { id: i, state } if *i == id => Some((*t, *state)),
            _ => None,
        })
        .collect()
}

#[test]
fn peers_find_each_other_at_once_even_when_started_apart() {
    let mut net = Network::new();
    let a = net.add(1, "alice", |_| {});
    net.run_until(secs(10.0));
    assert!(net.take_events(a).is_empty(), "alone, alice sees nobody");

    let b = net.add(2, "bob", |_| {});
    net.run_until(secs(10.1));
    let seen_by_a = peer_ups(&net.take_events(a));
    let seen_by_b = peer_ups(&net.take_events(b));
    assert_eq!(seen_by_a.len(), 1);
    assert_eq!(seen_by_a[0].1, "bob");
    assert_eq!(seen_by_b.len(), 1);
    assert_eq!(seen_by_b[0].1, "alice");
    // Bob's first beacon reaches alice after one latency and is only a hint: she starts a
    // handshake at once (no waiting for anyone's next periodic beacon). Bob is a peer for
    // her when his reply proves his key (XX, first contact), and she is one for him when
    // her final message proves hers.
    assert_eq!(seen_by_a[0].0, secs(10.015));
    assert_eq!(seen_by_b[0].0, secs(10.020));
}

#[test]
fn a_silent_peer_expires_and_a_leaving_one_says_goodbye() {
    let mut net = Network::new();
    let a = net.add(1, "alice", |_| {});
    let b = net.add(2, "bob", |_| {});
    let c = net.add(3, "carol", |_| {});
    net.run_until(secs(100.0));
    let ups = peer_ups(&net.take_events(a));
    assert_eq!(ups.len(), 2);

    // Carol leaves politely: gone from alice's view one latency later.
    {
        let now = net.now;
        net.nodes[c].endpoint.shutdown(now);
    }
    net.flush(c);
    net.nodes[c].down = true;
    net.run_until(secs(100.5));
    let events = net.take_events(a);
    let down: Vec<_> = events
        .iter()
        .filter_map(|(t, e)| match e {
            Event::PeerDown { peer, reason } => Some((*t, peer.name.clone(), *reason)),
            _ => None,
        })
        .collect();
    assert_eq!(
        down,
        vec![(secs(100.005), "carol".to_string(), PeerDownReason::Goodbye)]
    );

    // Bob crashes: no goodbye. Alice notices after the 90 s timeout since his last beacon.
    net.nodes[b].down = true;
    let crashed_at = net.elapsed();
    net.run_until(secs(400.0));
    let down: Vec<_> = net
        .take_events(a)
        .into_iter()
        .filter_map(|(t, e)| match e {
            Event::PeerDown { peer, reason } => Some((t, peer.name, reason)),
            _ => None,
        })
        .collect();
    assert_eq!(down.len(), 1, "{down:?}");
    let (t, name, reason) = &down[0];
    assert_eq!((name.as_str(), *reason), ("bob", PeerDownReason::Timeout));
    // His last beacon was at most one interval (30 s + 20% jitter) before the crash.
    assert!(*t > crashed_at + secs(90.0) - secs(36.0), "{t:?}");
    assert!(*t <= crashed_at + secs(90.0) + secs(0.01), "{t:?}");
}

#[test]
fn an_idle_pair_sends_a_beacon_about_every_half_minute() {
    let mut net = Network::new();
    let a = net.add(1, "alice", |_| {});
    let b = net.add(2, "bob", |_| {});
    net.run_until(secs(600.0));
    // Start-up burst of 3, then ~19 beacons over ten minutes; a keepalive every 30 s (an
    // idle peer shows it is there only through authenticated traffic), and with it a new
    // session (two or three handshake datagrams) every two minutes.
    for i in [a, b] {
        assert!(
            (35..=70).contains(&net.sent[i]),
            "node {i} sent {}",
            net.sent[i]
        );
    }
    // And they never lost sight of each other.
    for i in [a, b] {
        let events = net.take_events(i);
        assert!(
            !events
                .iter()
                .any(|(_, e)| matches!(e, Event::PeerDown { .. }))
        );
    }
}

/// Alice and bob have met (1 s in), their events so far taken.
fn met() -> (Network, usize, usize) {
    let mut net = Network::new();
    let a = net.add(1, "alice", |_| {});
    let b = net.add(2, "bob", |_| {});
    net.run_until(secs(1.0));
    net.take_events(a);
    net.take_events(b);
    (net, a, b)
}

#[test]
fn message_is_delivered_once_despite_a_lost_datagram_and_a_lost_ack() {
    let (mut net, a, b) = met();

    // Drop the first copy of the message and the first ack.
    let mut dropped_msg = false;
    let mut dropped_ack = false;
    net.filter = Box::new(move |_, _, payload| {
        let Ok(wire::Frame::Packet(p)) = wire::Frame::decode(payload) else {
            return true;
        };
        if p.data.is_some() && !dropped_msg {
            dropped_msg = true;
            return false;
        }
        if p.ack.is_some() && !dropped_ack {
            dropped_ack = true;
            return false;
        }
        true
    });
    let id = MsgId(77);
    net.nodes[a]
        .endpoint
        .send_message(
            net.now,
            ConversationId::Peer(node_id(2)),
            id,
            1,
            "hi bob 你好",
        )
        .expect("sends");
    net.flush(a);
    net.run_until(secs(10.0));
    let a_events = net.take_events(a);
    let got = states(&a_events, id);
    // Sent at 1 s and lost; resent when the 1 s timer runs out, arriving at 2.005; bob's
    // ack (at once: nothing else is arriving) is lost; the timer, doubled, resends at 4 s,
    // and that ack arrives at 4.010.
    assert_eq!(
        got,
        vec![
            (secs(1.0), DeliveryState::Sending),
            (secs(4.010), DeliveryState::Delivered)
        ]
    );
    assert_eq!(messages(&net.take_events(b)), vec!["hi bob 你好"]);
    assert_eq!(net.nodes[a].endpoint.stats().retransmits, 2);
}

#[test]
fn a_message_to_a_peer_that_never_answers_fails_at_the_give_up_time() {
    let mut net = Network::new();
    let a = net.add(1, "alice", |_| {});
    let b = net.add(2, "bob", |_| {});
    net.run_until(secs(1.0));
    net.nodes[b].down = true;
    let id = MsgId(5);
    net.nodes[a]
        .endpoint
        .send_message(net.now, ConversationId::Peer(node_id(2)), id, 1, "anyone?")
        .expect("sends");
    net.flush(a);
    net.run_until(secs(60.0));
    let got = states(&net.take_events(a), id);
    assert_eq!(
        got,
        vec![
            (secs(1.0), DeliveryState::Sending),
            (secs(31.0), DeliveryState::Failed)
        ]
    );
}

/// Alice and bob meet; at 1 s bob says goodbye and goes down. Runs to `until`.
fn bob_left(until: f64) -> (Network, usize, usize) {
    let mut net = Network::new();
    let a = net.add(1, "alice", |_| {});
    let b = net.add(2, "bob", |_| {});
    net.run_until(secs(1.0));
    {
        let now = net.now;
        net.nodes[b].endpoint.shutdown(now);
    }
    net.flush(b);
    net.nodes[b].down = true;
    net.run_until(secs(until));
    (net, a, b)
}

#[test]
fn the_outbox_waits_for_an_offline_peer_and_flushes_when_it_returns() {
    let (mut net, a, b) = bob_left(2.0);

    let id = MsgId(9);
    net.nodes[a]
        .endpoint
        .send_message(
            net.now,
            ConversationId::Peer(node_id(2)),
            id,
            1,
            "see you later",
        )
        .expect("queues");
    net.flush(a);
    net.run_until(secs(50.0));
    assert_eq!(
        states(&net.take_events(a), id),
        vec![(secs(2.0), DeliveryState::Queued)]
    );

    // Bob restarts (a new endpoint, same identity).
    net.nodes[b].endpoint = Endpoint::new(
        EndpointConfig::new(sim::identity(2), "bob", 47475),
        net.now,
        99,
    );
    net.nodes[b].down = false;
    net.nodes[b].endpoint.handle_timeout(net.now);
    net.flush(b);
    net.run_until(secs(51.0));
    let got = states(&net.take_events(a), id);
    assert_eq!(
        got,
        vec![
            // Bob's beacon is a hint: alice shakes hands (IK: bob's key is known), and
            // bob is back for her once his reply proves it.
            (secs(50.015), DeliveryState::Sending),
            // Then the message, which as a lone message is acknowledged at once (its
            // arrival also proves the new session to bob).
            (secs(50.025), DeliveryState::Delivered)
        ]
    );
    assert_eq!(messages(&net.take_events(b)), vec!["see you later"]);
}

#[test]
fn peers_added_by_address_find_each_other_and_stay_without_discovery() {
    let mut net = Network::new();
    let a = net.add(1, "alice", |c| c.discovery = false);
    let b = net.add(2, "bob", |c| c.discovery = false);
    net.run_until(secs(5.0));
    assert!(peer_ups(&net.take_events(a)).is_empty());

    net.nodes[a].endpoint.add_peer(net.now, addr(2));
    net.flush(a);
    net.run_until(secs(600.0));
    let a_events = net.take_events(a);
    let b_events = net.take_events(b);
    // Alice's probe (a unicast beacon) is a hint to bob: he starts the handshake, and
    // sees alice when her reply proves her key; she sees him at his final message.
    assert_eq!(peer_ups(&a_events), vec![(secs(5.020), "bob".to_string())]);
    assert_eq!(
        peer_ups(&b_events),
        vec![(secs(5.015), "alice".to_string())]
    );
    for events in [&a_events, &b_events] {
        assert!(
            !events
                .iter()
                .any(|(_, e)| matches!(e, Event::PeerDown { .. }))
        );
    }
}

/// A peer added by address that leaves and comes back (a restart, no discovery on either
/// side, and it does not know where alice is) is found again within the probe interval for
/// unanswered addresses, not only at the next half-minute beacon.
#[test]
fn a_peer_added_by_address_is_found_again_after_it_restarts() {
    let mut net = Network::new();
    let a = net.add(1, "alice", |c| c.discovery = false);
    let b = net.add(2, "bob", |c| c.discovery = false);
    net.nodes[a].endpoint.add_peer(net.now, addr(2));
    net.flush(a);
    net.run_until(secs(40.0));
    assert_eq!(peer_ups(&net.take_events(a)).len(), 1, "met");
    // Bob leaves (a sealed goodbye) and is away for a while.
    {
        let now = net.now;
        net.nodes[b].endpoint.shutdown(now);
    }
    net.flush(b);
    net.nodes[b].down = true;
    net.run_until(secs(47.0));
    assert!(
        net.take_events(a)
            .iter()
            .any(|(_, e)| matches!(e, Event::PeerDown { .. }))
    );
    // Bob restarts: a new endpoint, same identity, no discovery, no address for alice.
    net.nodes[b].endpoint = Endpoint::new(
        {
            let mut cfg = EndpointConfig::new(sim::identity(2), "bob", 47475);
            cfg.discovery = false;
            cfg
        },
        net.now,
        99,
    );
    net.nodes[b].down = false;
    net.nodes[b].endpoint.handle_timeout(net.now);
    net.flush(b);
    net.run_until(secs(60.0));
    let back = peer_ups(&net.take_events(a));
    assert_eq!(back.len(), 1, "alice sees bob again: {back:?}");
    assert!(
        // Back up at 47 s; asked again within 5 s (the unanswered probe interval) and a
        // little jitter, where a peer that answered is asked only every 30 s.
        back[0].0 <= secs(53.0),
        "within the unanswered probe interval: {back:?}"
    );
}

#[test]
fn plain_text_peers_and_garbage() {
    let mut net = Network::new();
    let a = net.add(1, "alice", |_| {});
    net.take_events(a);
    let script = "192.168.1.9:40000".parse().expect("addr");
    let ep = &mut net.nodes[a].endpoint;
    ep.handle_datagram(net.now, script, "hello from python\n".as_bytes());
    ep.handle_datagram(net.now, script, &[0xC4, 0xE3, 0xBA, 0xC3]); // GBK
    ep.handle_datagram(net.now, script, &[0x00, 0xFF, 0x80, 0x81]); // binary
    ep.handle_datagram(net.now, script, &[0xFF, b'L', b'C', 1, 3, 0]); // truncated frame
    ep.handle_datagram(net.now, script, &[0xFF, b'L', b'C', 7]); // unknown version
    assert_eq!(ep.stats().malformed, 3);
    assert_eq!(ep.stats().text_in, 2);
    net.flush(a);
    let events = net.take_events(a);
    let texts: Vec<_> = events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::Message {
                conversation: ConversationId::Raw(from),
                text,
                sent_at_ms: None,
                ..
            } if *from == script => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(texts, vec!["hello from python", "你好"]);

    // Replies go out in what the script wrote last (GBK here: it gets GBK back), in pieces
    // the tutorial's recvfrom(1024) can hold.
    let ep = &mut net.nodes[a].endpoint;
    let long = "字".repeat(800);
    ep.send_message(net.now, ConversationId::Raw(script), MsgId(3), 0, &long)
        .expect("sends");
    let mut sent = Vec::new();
    while let Some(t) = ep.poll_transmit() {
        if t.dst == Destination::Unicast(script) {
            assert!(t.payload.len() <= 1024);
            let (text, _, bad) = encoding_rs::GBK.decode(&t.payload);
            assert!(!bad, "GBK");
            sent.push(text.into_owned());
        }
    }
    assert_eq!(sent.concat(), long);
    assert_eq!(sent.len(), 2);
    let state = std::iter::from_fn(|| ep.poll_event()).find_map(|e| match e {
        Event::State {
            id: MsgId(3),
            state,
        } => Some(state),
        _ => None,
    });
    assert_eq!(state, Some(DeliveryState::Sent));
}

#[test]
fn oversized_text_and_unknown_peers_are_refused() {
    let mut net = Network::new();
    let a = net.add(1, "alice", |_| {});
    let b = net.add(2, "bob", |_| {});
    net.run_until(secs(1.0));
    let _ = b;
    let ep = &mut net.nodes[a].endpoint;
    let too_long = "x".repeat(wire::MAX_MESSAGE_BYTES + 1);
    assert!(
        ep.send_message(
            net.now,
            ConversationId::Peer(node_id(2)),
            MsgId(1),
            0,
            &too_long
        )
        .is_err()
    );
    assert!(
        ep.send_message(
            net.now,
            ConversationId::Peer(node_id(42)),
            MsgId(2),
            0,
            "hi"
        )
        .is_err()
    );
    assert!(
        ep.send_message(net.now, ConversationId::Peer(node_id(2)), MsgId(3), 0, "")
            .is_err()
    );
}

#[test]
fn the_peer_table_is_bounded_and_beacons_never_enter_it() {
    let mut net = Network::new();
    let a = net.add(1, "alice", |c| c.max_peers = 8);
    for n in 0..50u8 {
        let beacon = wire::Frame::Beacon(wire::Beacon {
            node: node_id(100 + n),
            port: 1000,
            want_reply: false,
            unicast: false,
            name: format!("p{n}"),
        })
        .encode()
        .expect("encodes");
        let from = std::net::SocketAddr::from(([10, 1, 0, n], 1000));
        net.nodes[a]
            .endpoint
            .handle_datagram(net.now, from, &beacon);
    }
    // Beacons are hints: nobody is a peer before a handshake proves its key.
    assert_eq!(net.nodes[a].endpoint.peers().count(), 0);
    for n in 0..50u8 {
        let from = std::net::SocketAddr::from(([10, 1, 0, n], 1000));
        net.nodes[a]
            .endpoint
            .remember_peer(node_id(100 + n), &format!("p{n}"), from);
    }
    assert_eq!(net.nodes[a].endpoint.peers().count(), 8);
}

#[test]
fn replies_and_recalls_travel_reliably_and_name_their_sender() {
    use lanchat::proto::{Body, Quote};
    let (mut net, a, b) = met();
    let to_bob = ConversationId::Peer(node_id(2));
    let quote = Quote {
        id: MsgId(5),
        author: node_id(2),
        excerpt: "你好 bob's line".into(),
    };
    let now = net.now;
    let ep = &mut net.nodes[a].endpoint;
    ep.send_body(
        now,
        to_bob,
        MsgId(10),
        1_000,
        &Body::Reply {
            quote: quote.clone(),
            text: "my answer".into(),
        },
    )
    .expect("reply sent");
    ep.send_body(now, to_bob, MsgId(11), 2_000, &Body::Recall(MsgId(10)))
        .expect("recall sent");
    net.flush(a);
    net.run_until(secs(2.0));
    let at_bob: Vec<Event> = net.take_events(b).into_iter().map(|(_, e)| e).collect();
    let chat: Vec<&Event> = at_bob
        .iter()
        .filter(|e| matches!(e, Event::Message { .. } | Event::Recall { .. }))
        .collect();
    assert_eq!(
        chat,
        vec![
            &Event::Message {
                conversation: ConversationId::Peer(node_id(1)),
                id: MsgId(10),
                sent_at_ms: Some(1_000),
                text: "my answer".into(),
                quote: Some(quote),
            },
            &Event::Recall {
                from: node_id(1),
                id: MsgId(11),
                target: MsgId(10),
                sent_at_ms: 2_000,
            },
        ]
    );
    // Both are tracked to delivered like text.
    let at_alice = net.take_events(a);
    for id in [MsgId(10), MsgId(11)] {
        let s: Vec<DeliveryState> = states(&at_alice, id).into_iter().map(|(_, s)| s).collect();
        assert_eq!(
            s,
            vec![DeliveryState::Sending, DeliveryState::Delivered],
            "{id:?}"
        );
    }
    // A plain-text peer gets text only.
    let script = "192.168.1.9:40000".parse().expect("addr");
    let ep = &mut net.nodes[a].endpoint;
    assert_eq!(
        ep.send_body(
            now,
            ConversationId::Raw(script),
            MsgId(12),
            0,
            &Body::Recall(MsgId(3))
        ),
        Err(lanchat::proto::SendError::PlainText)
    );
}

#[test]
fn file_messages_travel_reliably_and_never_to_a_plain_text_peer() {
    use lanchat::proto::Body;
    use lanchat::proto::files::{CancelReason, FileOffer, FileSignal, TransferId};
    let (mut net, a, b) = met();
    let offer = FileOffer {
        id: TransferId([0x11; 16]),
        name: "照片.jpg".into(),
        size: 2_000_000,
        hash: [3; 32],
        port: 41_000,
    };
    let signals = [
        FileSignal::Offer(offer.clone()),
        FileSignal::Accept(offer.id),
        FileSignal::Decline(offer.id),
        FileSignal::Cancel {
            id: offer.id,
            reason: CancelReason::Cancelled,
        },
    ];
    let now = net.now;
    for (n, signal) in signals.iter().enumerate() {
        let body = Body::from(signal.clone());
        net.nodes[a]
            .endpoint
            .send_body(
                now,
                ConversationId::Peer(node_id(2)),
                MsgId(30 + n as u64),
                n as i64,
                &body,
            )
            .expect("sent");
    }
    net.flush(a);
    net.run_until(secs(2.0));
    let got: Vec<Event> = net
        .take_events(b)
        .into_iter()
        .map(|(_, e)| e)
        .filter(|e| matches!(e, Event::File { .. }))
        .collect();
    let want: Vec<Event> = signals
        .iter()
        .enumerate()
        .map(|(n, signal)| Event::File {
            from: node_id(1),
            id: MsgId(30 + n as u64),
            sent_at_ms: n as i64,
            signal: signal.clone(),
        })
        .collect();
    assert_eq!(got, want);
    let at_alice = net.take_events(a);
    for n in 0..signals.len() as u64 {
        let s: Vec<DeliveryState> = states(&at_alice, MsgId(30 + n))
            .into_iter()
            .map(|(_, s)| s)
            .collect();
        assert_eq!(s, vec![DeliveryState::Sending, DeliveryState::Delivered]);
    }
    // A plain-text peer never gets a file message: refused, and not a byte goes out.
    net.log = Some(Vec::new());
    let script = "192.168.1.9:40000".parse().expect("addr");
    for signal in signals {
        let now = net.now;
        let r = net.nodes[a].endpoint.send_body(
            now,
            ConversationId::Raw(script),
            MsgId(40),
            0,
            &Body::from(signal),
        );
        assert_eq!(r, Err(lanchat::proto::SendError::PlainText));
    }
    net.flush(a);
    let log = net.log.take().unwrap_or_default();
    assert!(
        log.iter().all(|(_, to, _)| *to != script),
        "something went to the plain-text peer"
    );
}

#[test]
fn a_recall_for_an_offline_peer_waits_in_its_outbox() {
    use lanchat::proto::Body;
    let (mut net, a, _) = bob_left(1.5);
    net.take_events(a);
    let now = net.now;
    net.nodes[a]
        .endpoint
        .send_body(
            now,
            ConversationId::Peer(node_id(2)),
            MsgId(20),
            0,
            &Body::Recall(MsgId(7)),
        )
        .expect("queued");
    net.flush(a);
    let events = net.take_events(a);
    let s: Vec<DeliveryState> = states(&events, MsgId(20))
        .into_iter()
        .map(|(_, s)| s)
        .collect();
    assert_eq!(s, vec![DeliveryState::Queued]);
}
