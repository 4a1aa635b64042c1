//! Delivery over real loopback sockets: throughput, time to "delivered", datagrams per
//! message; directly and through a relay that loses 10% each way.
//!
//! Run: `cargo bench --bench delivery`. Prints a table; quotes medians.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use lanchat::config::Settings;
use lanchat::proto::{ConversationId, DeliveryState, Event, Identity, MsgId};
use lanchat::runtime::Node;
use lanchat::testkit::{Impairment, Relay};
use std::collections::HashMap;
use std::time::{Duration, Instant};

struct Pair {
    a: Node,
    b: Node,
    _relay: Option<Relay>,
    _dirs: (tempfile::TempDir, tempfile::TempDir),
}

/// Runs both nodes until `done` says so (checked after every batch of events), collecting
/// alice's delivery states.
async fn drive(
    pair: &mut Pair,
    states: &mut HashMap<MsgId, Instant>,
    mut done: impl FnMut(&HashMap<MsgId, Instant>) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        for e in pair.a.drain() {
            if let Event::State { id, state } = e
                && matches!(state, DeliveryState::Delivered | DeliveryState::Read)
            {
                states.entry(id).or_insert_with(Instant::now);
            }
        }
        pair.b.drain();
        if done(states) {
            return;
        }
        assert!(Instant::now() < deadline, "benchmark stalled");
        tokio::select! {
            _ = pair.a.wake() => {}
            _ = pair.b.wake() => {}
        }
    }
}

/// Two nodes; with `loss`, through a relay that drops that share each way (which
/// datagrams: drawn from `seed`).
async fn pair(loss: f64, seed: u64) -> Pair {
    let da = tempfile::tempdir().expect("tempdir");
    let db = tempfile::tempdir().expect("tempdir");
    let mut a = Node::start(
        &Settings::loopback("alice", da.path()),
        Identity::from_secret([1; 32]),
    )
    .expect("a");
    let b = Node::start(
        &Settings::loopback("bob", db.path()),
        Identity::from_secret([2; 32]),
    )
    .expect("b");
    let relay = if loss > 0.0 {
        let r = Relay::start(
            a.local_addr(),
            b.local_addr(),
            Impairment {
                loss,
                seed,
                ..Impairment::none()
            },
        )
        .await
        .expect("relay");
        a.add_peer(r.for_a);
        Some(r)
    } else {
        a.add_peer(b.local_addr());
        None
    };
    let mut p = Pair {
        a,
        b,
        _relay: relay,
        _dirs: (da, db),
    };
    // Wait until they know each other.
    let deadline = Instant::now() + Duration::from_secs(10);
    while p
        .a
        .endpoint
        .peer(&Identity::from_secret([2; 32]).public())
        .is_none_or(|v| !v.online)
    {
        assert!(Instant::now() < deadline, "peers never met");
        tokio::select! {
            _ = p.a.wake() => {}
            _ = p.b.wake() => {}
        }
        p.a.drain();
        p.b.drain();
    }
    p
}

/// One message at a time: send, wait for "delivered", repeat.
async fn latency(loss: f64, seed: u64, n: u64) -> (Duration, Duration, f64) {
    let mut p = pair(loss, seed).await;
    let bob = ConversationId::Peer(Identity::from_secret([2; 32]).public());
    let out_before = p.a.endpoint.stats().datagrams_out + p.b.endpoint.stats().datagrams_out;
    let mut times = Vec::new();
    let mut states = HashMap::new();
    for i in 1..=n {
        let id = MsgId(i);
        let t0 = Instant::now();
        p.a.send(bob, id, 0, "ping: how long until delivered?")
            .expect("send");
        drive(&mut p, &mut states, |s| s.contains_key(&id)).await;
        times.push(states[&id] - t0);
    }
    let out = p.a.endpoint.stats().datagrams_out + p.b.endpoint.stats().datagrams_out - out_before;
    times.sort();
    (
        support::quantile(&times, 0.5),
        support::quantile(&times, 0.99),
        out as f64 / n as f64,
    )
}

/// A burst of `n` messages: how fast do they all get delivered?
async fn throughput(loss: f64, seed: u64, n: u64) -> (f64, f64) {
    let mut p = pair(loss, seed).await;
    let bob = ConversationId::Peer(Identity::from_secret([2; 32]).public());
    let out_before = p.a.endpoint.stats().datagrams_out + p.b.endpoint.stats().datagrams_out;
    let mut states = HashMap::new();
    let t0 = Instant::now();
    for i in 1..=n {
        p.a.send(
            bob,
            MsgId(i),
            0,
            "a burst of chat messages, each about sixty bytes long",
        )
        .expect("send");
    }
    drive(&mut p, &mut states, |s| s.len() as u64 == n).await;
    let took = t0.elapsed();
    let out = p.a.endpoint.stats().datagrams_out + p.b.endpoint.stats().datagrams_out - out_before;
    (n as f64 / took.as_secs_f64(), out as f64 / n as f64)
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let runs = support::runs();
    println!("lanchat delivery over loopback ({runs} runs each; medians)");
    println!(
        "{:<10} {:>12} {:>14} {:>12} {:>12} {:>14}",
        "link", "msgs/s", "dgrams/msg", "p50 deliv.", "p99 deliv.", "dgrams/msg(1)"
    );
    for loss in [0.0, 0.10] {
        let mut rates = Vec::new();
        let mut per_msg = Vec::new();
        let mut p50s = Vec::new();
        let mut p99s = Vec::new();
        let mut per_msg_1 = Vec::new();
        // Each run loses other datagrams: one pattern of losses can happen to cost a
        // timeout more or less than another, and the median should not hang on one.
        for run in 0..runs as u64 {
            let (rate, dpm) = rt.block_on(throughput(loss, run + 1, 20_000));
            rates.push(rate);
            per_msg.push(dpm);
            // With loss a message now and then waits for a 200 ms timeout or two: fewer of
            // them keep the suite short.
            let pings = if loss > 0.0 { 300 } else { 1_000 };
            let (p50, p99, dpm1) = rt.block_on(latency(loss, run + 1, pings));
            p50s.push(p50.as_secs_f64() * 1e3);
            p99s.push(p99.as_secs_f64() * 1e3);
            per_msg_1.push(dpm1);
        }
        println!(
            "{:<10} {:>12.0} {:>14.2} {:>10.3}ms {:>10.3}ms {:>14.2}",
            if loss > 0.0 { "10% loss" } else { "direct" },
            support::median(rates),
            support::median(per_msg),
            support::median(p50s),
            support::median(p99s),
            support::median(per_msg_1),
        );
    }
}
