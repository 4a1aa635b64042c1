//! Reliable delivery in virtual time: loss, duplication, reordering, lost fragments, restarts.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod sim;

use lanchat::proto::{ConversationId, DeliveryState, Endpoint, EndpointConfig, Event, MsgId, wire};
use sim::{Chaos, HandPeer, Network, node_id, secs, texts};
use std::collections::HashMap;
use std::time::Duration;

/// The last state of each message id.
fn final_states(events: &[(Duration, Event)]) -> HashMap<MsgId, (Duration, DeliveryState)> {
    let mut out = HashMap::new();
    for (t, e) in events {
        if let Event::State { id, state } = e {
            out.insert(*id, (*t, *state));
        }
    }
    out
}

fn pair(net: &mut Network) -> (usize, usize) {
    let a = net.add(1, "alice", |_| {});
    let b = net.add(2, "bob", |_| {});
    net.run_until(secs(1.0));
    net.take_events(a);
    net.take_events(b);
    (a, b)
}

fn send(net: &mut Network, from: usize, to: u8, id: u64, text: &str) {
    let now = net.now;
    net.nodes[from]
        .endpoint
        .send_message(now, ConversationId::Peer(node_id(to)), MsgId(id), 0, text)
        .expect("accepted");
    net.flush(from);
}

#[test]
fn ten_thousand_messages_each_way_through_loss_duplication_and_reordering() {
    const N: u64 = 10_000;
    let mut net = Network::new();
    let (a, b) = pair(&mut net);
    net.chaos = Some(Chaos::new(0.30, 0.10, 0.20, 42));
    let sent_before = (net.sent[a], net.sent[b]);
    let start = net.elapsed();
    for i in 0..N {
        send(&mut net, a, 2, 1_000_000 + i, &format!("a{i}"));
        send(&mut net, b, 1, 2_000_000 + i, &format!("b{i}"));
    }
    net.run_until(secs(600.0));
    let a_events = net.take_events(a);
    let b_events = net.take_events(b);

    // Exactly once, in order, both ways.
    let expect_at_b: Vec<String> = (0..N).map(|i| format!("a{i}")).collect();
    let expect_at_a: Vec<String> = (0..N).map(|i| format!("b{i}")).collect();
    assert!(texts(&b_events) == expect_at_b, "bob's view is wrong");
    assert!(texts(&a_events) == expect_at_a, "alice's view is wrong");

    // Every message ends delivered, none failed; note when the last one settled.
    let mut last = Duration::ZERO;
    for (events, base) in [(&a_events, 1_000_000), (&b_events, 2_000_000)] {
        let states = final_states(events);
        for i in 0..N {
            let (t, state) = states[&MsgId(base + i)];
            assert_eq!(state, DeliveryState::Delivered, "message {}", base + i);
            last = last.max(t);
        }
    }
    let took = last - start;
    let datagrams = (net.sent[a] - sent_before.0) + (net.sent[b] - sent_before.1);
    let per_message = datagrams as f64 / (2 * N) as f64;
    let dropped = net.chaos.as_ref().map_or(0, |c| c.dropped);
    eprintln!(
        "20000 messages: {took:?} virtual, {datagrams} datagrams ({per_message:.2} per message), \
         {dropped} dropped, retransmits a={} b={}",
        net.nodes[a].endpoint.stats().retransmits,
        net.nodes[b].endpoint.stats().retransmits
    );
    // With a 64-packet window and a 10 ms round trip this takes a few seconds (3.4 when
    // written), not minutes.
    assert!(took < secs(10.0), "took {took:?}");
    // Each message needs its data packet (1 / 0.7 tries on average) and a share of an ack;
    // more than 3 datagrams per message would be a retransmission storm.
    assert!(per_message < 3.0, "{per_message:.2} datagrams per message");
    assert!(per_message > 1.0);
}

#[test]
fn a_long_message_survives_a_lost_fragment() {
    let mut net = Network::new();
    let (a, b) = pair(&mut net);
    let long: String = (0..wire::MAX_MESSAGE_BYTES / 4)
        .map(|i| ['中', 'a', '😀'][i % 3])
        .collect();
    assert!(long.len() > 10 * wire::FRAGMENT_BYTES);
    let mut seen = 0;
    net.filter = Box::new(move |_, _, payload| {
        if let Ok(wire::Frame::Packet(p)) = wire::Frame::decode(payload)
            && let Some(d) = p.data
            && d.frag_index == 5
        {
            seen += 1;
            return seen > 1; // the first copy of fragment 5 is lost
        }
        true
    });
    send(&mut net, a, 2, 7, &long);
    net.run_until(secs(10.0));
    assert_eq!(texts(&net.take_events(b)), vec![long]);
    let states = final_states(&net.take_events(a));
    assert_eq!(states[&MsgId(7)].1, DeliveryState::Delivered);
    assert_eq!(net.nodes[a].endpoint.stats().retransmits, 1);
}

#[test]
fn a_message_longer_than_the_limit_is_refused() {
    let mut net = Network::new();
    let (a, _) = pair(&mut net);
    let now = net.now;
    let err = net.nodes[a]
        .endpoint
        .send_message(
            now,
            ConversationId::Peer(node_id(2)),
            MsgId(1),
            0,
            &"x".repeat(wire::MAX_MESSAGE_BYTES + 1),
        )
        .expect_err("too long");
    assert!(err.to_string().contains("65536"), "{err}");
}

#[test]
fn lost_acks_cost_a_retransmission_and_never_a_duplicate() {
    let mut net = Network::new();
    let (a, b) = pair(&mut net);
    // Bob's acks are all lost for the first 3 seconds.
    let start = net.now;
    let clock = std::rc::Rc::new(std::cell::Cell::new(start));
    let c = clock.clone();
    net.filter = Box::new(move |_, _, payload| match wire::Frame::decode(payload) {
        Ok(wire::Frame::Packet(p)) if p.ack.is_some() && p.data.is_none() => {
            c.get() >= start + secs(3.0)
        }
        _ => true,
    });
    for i in 0..5 {
        send(&mut net, a, 2, 100 + i, &format!("m{i}"));
    }
    let mut t = 1.0;
    while t < 20.0 {
        t += 0.01;
        clock.set(net.start + secs(t));
        net.run_until(secs(t));
    }
    assert_eq!(
        texts(&net.take_events(b)),
        vec!["m0", "m1", "m2", "m3", "m4"]
    );
    let states = final_states(&net.take_events(a));
    for i in 0..5 {
        assert_eq!(states[&MsgId(100 + i)].1, DeliveryState::Delivered);
    }
    assert!(net.nodes[a].endpoint.stats().retransmits >= 5);
}

#[test]
fn a_receiver_that_restarts_mid_stream_gets_the_rest() {
    let mut net = Network::new();
    let (a, b) = pair(&mut net);
    // More than the sender's window, so that some wait behind it.
    const N: u64 = 1000;
    for i in 0..N {
        send(&mut net, a, 2, 5000 + i, &format!("m{i}"));
    }
    // Bob crashes after 8 ms: some messages reached him, some are in flight.
    net.run_until(secs(1.008));
    let before = texts(&net.take_events(b));
    assert!(
        !before.is_empty() && before.len() < N as usize,
        "{}",
        before.len()
    );
    net.nodes[b].down = true;
    net.run_until(secs(1.5));
    net.nodes[b].endpoint = Endpoint::new(
        EndpointConfig::new(sim::identity(2), "bob", 47475),
        net.now,
        77,
    );
    net.nodes[b].down = false;
    net.nodes[b].endpoint.handle_timeout(net.now);
    net.flush(b);
    net.run_until(secs(60.0));
    let after = texts(&net.take_events(b));
    // Nothing the old bob acknowledged is sent again; everything else arrives, in order.
    let all: Vec<String> = (0..N).map(|i| format!("m{i}")).collect();
    let mut joined = before.clone();
    joined.extend(after.iter().cloned());
    let mut sorted = joined.clone();
    sorted.sort_by_key(|s| s[1..].parse::<u32>().unwrap());
    sorted.dedup();
    assert_eq!(sorted, all, "every message reached one of bob's lives");
    let mut ordered = after.clone();
    ordered.sort_by_key(|s| s[1..].parse::<u32>().unwrap());
    assert_eq!(after, ordered, "in order after the restart");
    let states = final_states(&net.take_events(a));
    assert!(states.values().all(|(_, s)| *s == DeliveryState::Delivered));
}

#[test]
fn a_sender_that_restarts_starts_a_fresh_stream() {
    let mut net = Network::new();
    let (a, b) = pair(&mut net);
    for i in 0..3 {
        send(&mut net, a, 2, 10 + i, &format!("old{i}"));
    }
    net.run_until(secs(2.0));
    // Alice restarts: a new epoch, numbering from zero again.
    net.nodes[a].endpoint = Endpoint::new(
        EndpointConfig::new(sim::identity(1), "alice", 47475),
        net.now,
        5,
    );
    net.nodes[a].endpoint.handle_timeout(net.now);
    net.flush(a);
    net.run_until(secs(3.0));
    for i in 0..3 {
        send(&mut net, a, 2, 20 + i, &format!("new{i}"));
    }
    net.run_until(secs(5.0));
    assert_eq!(
        texts(&net.take_events(b)),
        vec!["old0", "old1", "old2", "new0", "new1", "new2"]
    );
    let states = final_states(&net.take_events(a));
    for i in 0..3 {
        assert_eq!(states[&MsgId(20 + i)].1, DeliveryState::Delivered);
    }
}

#[test]
fn a_peer_that_never_returns_fails_and_a_returning_one_gets_the_retry() {
    let mut net = Network::new();
    let (a, b) = pair(&mut net);
    net.nodes[b].down = true; // vanished without a goodbye
    send(&mut net, a, 2, 1, "are you there?");
    net.run_until(secs(40.0));
    let states = final_states(&net.take_events(a));
    let (t, state) = states[&MsgId(1)];
    assert_eq!(state, DeliveryState::Failed);
    assert_eq!(t, secs(31.0), "fails at the 30 s give-up time");

    // Bob comes back (after being seen offline): the failed message goes again by itself.
    net.run_until(secs(200.0));
    net.nodes[b].endpoint = Endpoint::new(
        EndpointConfig::new(sim::identity(2), "bob", 47475),
        net.now,
        9,
    );
    net.nodes[b].down = false;
    net.nodes[b].endpoint.handle_timeout(net.now);
    net.flush(b);
    net.run_until(secs(205.0));
    let a_events = net.take_events(a);
    let states = final_states(&a_events);
    assert_eq!(states[&MsgId(1)].1, DeliveryState::Delivered);
    assert_eq!(texts(&net.take_events(b)), vec!["are you there?"]);
}

#[test]
fn read_receipts_travel_back_unless_switched_off() {
    for enabled in [true, false] {
        let mut net = Network::new();
        let a = net.add(1, "alice", |c| c.read_receipts = enabled);
        let b = net.add(2, "bob", |c| c.read_receipts = enabled);
        net.run_until(secs(1.0));
        send(&mut net, a, 2, 42, "did you read this?");
        net.run_until(secs(2.0));
        let now = net.now;
        net.nodes[b]
            .endpoint
            .mark_read(now, node_id(1), &[MsgId(42)]);
        net.flush(b);
        net.run_until(secs(3.0));
        let events = net.take_events(a);
        // The receipt says who read what; the app and the store decide what it may mark.
        let receipts: Vec<Event> = events
            .iter()
            .map(|(_, e)| e.clone())
            .filter(|e| matches!(e, Event::Read { .. }))
            .collect();
        let want = if enabled {
            vec![Event::Read {
                from: node_id(2),
                ids: vec![MsgId(42)],
            }]
        } else {
            Vec::new()
        };
        assert_eq!(receipts, want);
        assert_eq!(
            final_states(&events)[&MsgId(42)].1,
            DeliveryState::Delivered
        );
        // The receipt is not a chat message.
        assert_eq!(texts(&events), Vec::<String>::new());
    }
}

#[test]
fn messages_to_a_peer_that_said_goodbye_wait_in_the_outbox() {
    let mut net = Network::new();
    let (a, b) = pair(&mut net);
    // Bob leaves while a message is in flight (its data never reaches him).
    net.filter = Box::new(|_, to, _| to != sim::addr(2));
    send(&mut net, a, 2, 3, "in flight");
    {
        let now = net.now;
        net.nodes[b].endpoint.shutdown(now);
    }
    net.flush(b);
    net.nodes[b].down = true;
    net.run_until(secs(2.0));
    let states = final_states(&net.take_events(a));
    assert_eq!(states[&MsgId(3)].1, DeliveryState::Queued);
    net.filter = Box::new(|_, _, _| true);
    net.run_until(secs(100.0));
    let states = final_states(&net.take_events(a));
    assert!(states.is_empty(), "queued messages do not fail: {states:?}");
}

#[test]
fn reassembly_memory_is_bounded_across_peers() {
    use lanchat::proto::MAX_BUFFERED_TOTAL;
    let mut net = Network::new();
    let a = net.add(1, "alice", |_| {});
    // Forty peers each send 63 of the 64 fragments of sixteen messages that cannot be
    // handed up (the first message never comes): a cheap way to pin 40 MiB, if it were
    // allowed.
    let mut pn = 0;
    let mut peers: Vec<HandPeer> = (0..40u8)
        .map(|n| {
            let src = std::net::SocketAddr::from(([10, 2, 0, n], 47475));
            let mut p = HandPeer::new(100 + n, src, net.now);
            p.connect(&mut net, a);
            p
        })
        .collect();
    for (n, msn) in (0..40u8).flat_map(|n| (1..=16u64).map(move |m| (n, m))) {
        let from = node_id(100 + n);
        for frag in 0..63u16 {
            pn += 1;
            let packet = wire::Frame::Packet(wire::Packet {
                from,
                epoch: 1,
                ack: None,
                data: Some(wire::Data {
                    pn,
                    msn,
                    base: 0,
                    id: MsgId(1000 * u64::from(n) + msn + 1),
                    content: wire::Content::Text,
                    sent_at_ms: 0,
                    frag_index: frag,
                    frag_count: 64,
                    ack_now: false,
                    payload: vec![b'x'; wire::FRAGMENT_BYTES],
                }),
            })
            .encode()
            .unwrap();
            peers[usize::from(n)].send(&mut net, a, packet);
        }
    }
    let ep = &net.nodes[a].endpoint;
    assert!(
        ep.buffered_bytes() <= MAX_BUFFERED_TOTAL,
        "{}",
        ep.buffered_bytes()
    );
    assert!(
        ep.buffered_bytes() > MAX_BUFFERED_TOTAL / 2,
        "{} {:?}",
        ep.buffered_bytes(),
        ep.stats()
    );
    assert!(ep.stats().refused > 0);
    // Incomplete messages expire, and the memory with them.
    net.run_until(secs(120.0));
    assert_eq!(net.nodes[a].endpoint.buffered_bytes(), 0);
}

#[test]
fn with_durable_acks_delivered_waits_for_the_store() {
    let mut net = Network::new();
    let a = net.add(1, "alice", |_| {});
    let b = net.add(2, "bob", |c| c.durable_acks = true);
    net.run_until(secs(1.0));
    net.take_events(a);
    send(&mut net, a, 2, 9, "keep me safe");
    net.run_until(secs(1.5));
    assert_eq!(texts(&net.take_events(b)), vec!["keep me safe"]);
    // Not stored yet: alice must not see it delivered, whatever retransmits happen.
    let states = final_states(&net.take_events(a));
    assert_eq!(states[&MsgId(9)].1, DeliveryState::Sending);
    // Bob's store commits; the ack goes out at once.
    let now = net.now;
    net.nodes[b]
        .endpoint
        .confirm_stored(now, node_id(1), &[MsgId(9)]);
    net.flush(b);
    net.run_until(secs(1.6));
    let states = final_states(&net.take_events(a));
    assert_eq!(states[&MsgId(9)], (secs(1.505), DeliveryState::Delivered));
    // Retransmitted copies were not shown again.
    assert!(texts(&net.take_events(b)).is_empty());
}

#[test]
fn a_long_outage_with_hundreds_queued_does_not_wedge_the_stream() {
    let mut net = Network::new();
    let (a, b) = pair(&mut net);
    send(&mut net, a, 2, 1, "hello");
    net.run_until(secs(2.0));
    assert_eq!(texts(&net.take_events(b)), vec!["hello"]);
    // Cut both ways; 300 messages fail, go back to the outbox, come round again.
    net.filter = Box::new(|_, _, _| false);
    for i in 0..300 {
        send(&mut net, a, 2, 100 + i, &format!("m{i}"));
    }
    net.run_until(secs(120.0));
    net.filter = Box::new(|_, _, _| true);
    net.run_until(secs(1000.0));
    let got = texts(&net.take_events(b));
    let want: Vec<String> = (0..300).map(|i| format!("m{i}")).collect();
    assert_eq!(got, want);
    let states = final_states(&net.take_events(a));
    for i in 0..300 {
        assert_eq!(states[&MsgId(100 + i)].1, DeliveryState::Delivered);
    }
}

#[test]
fn packet_numbers_at_the_edge_do_not_panic() {
    let mut net = Network::new();
    let a = net.add(1, "alice", |_| {});
    let src = std::net::SocketAddr::from(([10, 9, 9, 9], 47475));
    let mut peer = HandPeer::new(77, src, net.now);
    peer.connect(&mut net, a);
    for pn in [u64::MAX, 0, u64::MAX - 1] {
        let packet = wire::Frame::Packet(wire::Packet {
            from: node_id(77),
            epoch: 3,
            ack: None,
            data: Some(wire::Data {
                pn,
                msn: 0,
                base: 0,
                id: MsgId(pn | 1),
                content: wire::Content::Text,
                sent_at_ms: 0,
                frag_index: 0,
                frag_count: 1,
                ack_now: false,
                payload: b"edge".to_vec(),
            }),
        })
        .encode()
        .unwrap();
        peer.send(&mut net, a, packet);
    }
    net.flush(a);
    assert_eq!(texts(&net.take_events(a)), vec!["edge"]);
}

#[test]
fn a_batch_confirmed_stored_is_acknowledged_in_one_datagram() {
    let mut net = Network::new();
    let a = net.add(1, "alice", |_| {});
    let b = net.add(2, "bob", |c| c.durable_acks = true);
    net.run_until(secs(1.0));
    for i in 0..5 {
        send(&mut net, a, 2, 40 + i, &format!("batch {i}"));
    }
    net.run_until(secs(1.1));
    assert_eq!(texts(&net.take_events(b)).len(), 5);
    let now = net.now;
    let ids: Vec<MsgId> = (0..5).map(|i| MsgId(40 + i)).collect();
    let before = net.sent[b];
    net.nodes[b].endpoint.confirm_stored(now, node_id(1), &ids);
    net.flush(b);
    assert_eq!(net.sent[b] - before, 1, "one ack for the whole batch");
    net.run_until(secs(1.2));
    let states = final_states(&net.take_events(a));
    assert!(
        ids.iter()
            .all(|id| states[id].1 == DeliveryState::Delivered)
    );
}
