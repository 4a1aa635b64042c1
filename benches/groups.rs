//! Groups over real loopback sockets, every node in this process (issue 14):
//!
//! 1. One message to a group of 101 (the sender and 100 members): the time until all 100
//!    hold it, and until the sender's receipts say "delivered to 100/100"; datagrams and
//!    bytes on the wire (all nodes, every kind: pushes, receipts, acks) per delivered copy.
//! 2. Catch-up: a member that missed 10,000 messages comes online (with its history
//!    database, as the program runs) and fetches them from the one member online: how long
//!    until it holds them all, and until they are all in its database; the process's peak
//!    memory while it happens; datagrams and bytes per message.
//!
//! Run: `cargo bench --bench groups`. Prints medians of `LANCHAT_BENCH_RUNS` runs (5).
//! `LANCHAT_BENCH_GROUP` sets the members of (1) (100), `LANCHAT_BENCH_CATCHUP` the
//! messages of (2) (10,000).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use futures_util::future::select_all;
use lanchat::config::Settings;
use lanchat::proto::group::entry::Entry;
use lanchat::proto::group::sign::Signer;
use lanchat::proto::group::{GroupEvent, GroupId, Mentions, Op};
use lanchat::proto::{Event, Identity, MsgId, NodeId};
use lanchat::runtime::Node;
use std::collections::HashSet;
use std::time::{Duration, Instant};

const STALL: Duration = Duration::from_secs(120);

fn settings(name: &str, dir: &std::path::Path) -> Settings {
    Settings::loopback(name, dir)
}

fn identity(n: u32) -> Identity {
    let mut secret = [7u8; 32];
    secret[..4].copy_from_slice(&n.to_be_bytes());
    Identity::from_secret(secret)
}

/// Drains every node, hands each event to `on` (with the node's index), and waits for the
/// next wake-up of any node, until `on` says it is done.
async fn run_until(nodes: &mut [Node], mut on: impl FnMut(usize, &Event) -> bool) {
    let deadline = Instant::now() + STALL;
    loop {
        let mut done = false;
        for (i, n) in nodes.iter_mut().enumerate() {
            for e in n.drain() {
                done |= on(i, &e);
            }
        }
        if done {
            return;
        }
        assert!(Instant::now() < deadline, "benchmark stalled");
        let wakes = nodes.iter_mut().map(|n| Box::pin(n.wake()));
        let _ = select_all(wakes).await;
    }
}

/// Runs every node for `d`, whatever happens.
async fn run_for(nodes: &mut [Node], d: Duration) {
    let end = tokio::time::Instant::now() + d;
    loop {
        for n in nodes.iter_mut() {
            n.drain();
        }
        if tokio::time::Instant::now() >= end {
            return;
        }
        let wakes = nodes.iter_mut().map(|n| Box::pin(n.wake()));
        tokio::select! {
            _ = select_all(wakes) => {}
            () = tokio::time::sleep_until(end) => {}
        }
    }
}

fn wire(nodes: &[Node]) -> (u64, u64) {
    nodes.iter().fold((0, 0), |(d, b), n| {
        let s = n.endpoint.stats();
        (d + s.datagrams_out, b + s.bytes_out)
    })
}

struct FanOut {
    hold_ms: f64,
    delivered_ms: f64,
    datagrams: f64,
    bytes: f64,
}

/// (1): a sender and `members` others, each its own node with its own socket.
async fn fan_out(members: usize, runs: usize) -> Vec<FanOut> {
    let dirs: Vec<tempfile::TempDir> = (0..=members)
        .map(|_| tempfile::tempdir().unwrap())
        .collect();
    let mut nodes: Vec<Node> = dirs
        .iter()
        .enumerate()
        .map(|(i, d)| {
            Node::start(&settings(&format!("n{i}"), d.path()), identity(i as u32)).unwrap()
        })
        .collect();
    let keys: Vec<NodeId> = nodes.iter().map(|n| n.endpoint.node()).collect();
    // Everyone reaches the sender (a session each; a node names at most 64 peers by
    // address itself).
    let sender = nodes[0].local_addr();
    for n in &mut nodes[1..] {
        n.add_peer(sender);
    }
    let mut up = HashSet::new();
    run_until(&mut nodes, |i, e| {
        if i == 0
            && let Event::PeerUp(p) = e
        {
            up.insert(p.id);
        }
        up.len() == members
    })
    .await;
    let others = keys[1..].to_vec();
    let g: GroupId = nodes[0]
        .group_act(|g, now| g.create(now, 1, "bench", &others))
        .unwrap();
    let mut joined = 0;
    run_until(&mut nodes, |i, e| {
        if i > 0 && matches!(e, Event::Group(GroupEvent::Joined { .. })) {
            joined += 1;
        }
        joined == members
    })
    .await;
    // Let the join's receipts and gossip settle.
    run_for(&mut nodes, Duration::from_millis(500)).await;

    let mut out = Vec::new();
    for run in 0..runs {
        let (d0, b0) = wire(&nodes);
        let t0 = Instant::now();
        let id: MsgId = nodes[0]
            .group_act(|x, _| {
                x.send(
                    2 + run as i64,
                    g,
                    "lunch at noon?",
                    None,
                    Mentions::default(),
                )
            })
            .unwrap();
        let mut held = HashSet::new();
        let mut delivered = HashSet::new();
        let (mut hold_at, mut delivered_at) = (None, None);
        run_until(&mut nodes, |i, e| {
            match e {
                Event::Group(GroupEvent::Shown(p)) if i > 0 && p.id == id => {
                    held.insert(i);
                    if held.len() == members {
                        hold_at.get_or_insert_with(Instant::now);
                    }
                }
                Event::Group(GroupEvent::Delivered { member, ids, .. })
                    if i == 0 && ids.contains(&id) =>
                {
                    delivered.insert(*member);
                    if delivered.len() == members {
                        delivered_at.get_or_insert_with(Instant::now);
                    }
                }
                _ => {}
            }
            hold_at.is_some() && delivered_at.is_some()
        })
        .await;
        // What the receipts set going (summaries answered) is part of the message's cost.
        run_for(&mut nodes, Duration::from_millis(200)).await;
        let (d1, b1) = wire(&nodes);
        let n = members as f64;
        out.push(FanOut {
            hold_ms: support::ms(hold_at.unwrap() - t0),
            delivered_ms: support::ms(delivered_at.unwrap() - t0),
            datagrams: (d1 - d0) as f64 / n,
            bytes: (b1 - b0) as f64 / n,
        });
        // The sender's own screen agrees: 100 of the 100 others hold it.
        let (d, _) = nodes[0].endpoint.groups().receipts(&g, id).unwrap();
        assert_eq!(d.len(), members);
    }
    for n in &mut nodes {
        n.shutdown();
    }
    out
}

struct CatchUp {
    hold_ms: f64,
    stored_ms: f64,
    peak_growth_kib: u64,
    peak_kib: u64,
    datagrams: f64,
    bytes: f64,
}

/// Resets this process's peak RSS (VmHWM) to its current RSS.
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// (2): alice holds `n` messages of a group bob is in but never saw; bob comes online.
async fn catch_up(n: usize) -> CatchUp {
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let alice_id = identity(1);
    let mut alice = Node::start(&settings("alice", da.path()), alice_id.clone()).unwrap();
    let bob_id = identity(2);
    let bob_key = bob_id.public();
    // Alice made the group with bob in it and wrote `n` messages while he was away (signed
    // here and handed to her groups at once: writing them one by one re-derives the group
    // each time).
    let g = alice
        .group_act(|x, now| x.create(now, 1, "catch-up", &[bob_key]))
        .unwrap();
    let (seq, prev, lamport) = alice
        .endpoint
        .groups()
        .group(&g)
        .unwrap()
        .head(&alice_id.public())
        .unwrap();
    let mut signer = Signer::new(&alice_id, 3);
    let mut prev = prev;
    let mut entries = Vec::with_capacity(n);
    for i in 0..n as u64 {
        let s = Entry {
            group: g,
            author: alice_id.public(),
            seq: seq + 1 + i,
            lamport: lamport + 1 + i,
            prev,
            sent_at_ms: 1000 + i as i64,
            op: Op::Text {
                text: format!("message {i}: what shall we have for lunch today?"),
                mentions: Mentions::default(),
            },
        }
        .sign(&mut signer)
        .unwrap();
        prev = s.hash;
        entries.push(s.bytes);
    }
    alice.group_act(|x, now| x.restore(now, &entries));
    assert_eq!(alice.endpoint.groups().group(&g).unwrap().len(), n + 1);
    alice.drain();

    // Bob, with his history database, as the program runs.
    let mut bob = Node::start(&settings("bob", db.path()), bob_id).unwrap();
    let store = Node::open_store(&settings("bob", db.path())).unwrap();
    bob.attach_store(store).unwrap();
    let mut nodes = vec![alice, bob];
    let (d0, b0) = wire(&nodes);
    reset_peak();
    let base = support::proc_status_kib("self", "VmRSS").unwrap_or(0);
    let t0 = Instant::now();
    let a = nodes[0].local_addr();
    nodes[1].add_peer(a);
    let mut shown = 0;
    let mut hold_at = None;
    // Held: each message shown (it counts); stored: the database has them all.
    let mut stored = 0;
    let stored_at;
    let deadline = Instant::now() + STALL;
    loop {
        for e in nodes[0].drain() {
            let _ = e;
        }
        for e in nodes[1].drain() {
            if let Event::Group(GroupEvent::Shown(p)) = e
                && matches!(p.what, lanchat::proto::group::What::Text { .. })
            {
                shown += 1;
                if shown == n {
                    hold_at.get_or_insert_with(Instant::now);
                }
            }
        }
        if hold_at.is_some() && stored == n {
            stored_at = Instant::now();
            break;
        }
        assert!(Instant::now() < deadline, "catch-up stalled at {shown}/{n}");
        let (first, second) = nodes.split_at_mut(1);
        tokio::select! {
            _ = first[0].wake() => {}
            w = second[0].wake() => {
                if let lanchat::runtime::Wake::Store(reply) = w {
                    for ev in second[0].settle(reply) {
                        if let lanchat::runtime::storage::StoreEvent::Group { shown, .. } = ev {
                            stored += shown.iter().filter(|(_, m)| m.change().is_none()).count();
                        }
                    }
                }
            }
        }
    }
    let peak = support::proc_status_kib("self", "VmHWM").unwrap_or(0);
    let (d1, b1) = wire(&nodes);
    for n in &mut nodes {
        n.shutdown();
    }
    CatchUp {
        hold_ms: support::ms(hold_at.unwrap() - t0),
        stored_ms: support::ms(stored_at - t0),
        peak_growth_kib: peak.saturating_sub(base),
        peak_kib: peak,
        datagrams: (d1 - d0) as f64 / n as f64,
        bytes: (b1 - b0) as f64 / n as f64,
    }
}

/// Set in the child process that runs one catch-up (so that its peak memory is its own).
const CHILD: &str = "LANCHAT_BENCH_GROUPS_CATCHUP_CHILD";

/// One catch-up in a process of its own: its numbers, as a line.
fn catch_up_in_child(missed: usize) -> CatchUp {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .env(CHILD, missed.to_string())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("CATCHUP "))
        .unwrap();
    let v: Vec<f64> = line.split(' ').map(|x| x.parse().unwrap()).collect();
    CatchUp {
        hold_ms: v[0],
        stored_ms: v[1],
        peak_growth_kib: v[2] as u64,
        peak_kib: v[3] as u64,
        datagrams: v[4],
        bytes: v[5],
    }
}

fn main() {
    let runs = support::runs();
    let members = support::env_usize("LANCHAT_BENCH_GROUP", 100);
    let missed = support::env_usize("LANCHAT_BENCH_CATCHUP", 10_000);
    let rt = support::runtime();
    if let Some(n) = std::env::var(CHILD).ok().and_then(|v| v.parse().ok()) {
        let c = rt.block_on(catch_up(n));
        println!(
            "CATCHUP {} {} {} {} {} {}",
            c.hold_ms, c.stored_ms, c.peak_growth_kib, c.peak_kib, c.datagrams, c.bytes
        );
        return;
    }

    let fan = rt.block_on(fan_out(members, runs));
    let med = |f: &dyn Fn(&FanOut) -> f64| support::median(fan.iter().map(f).collect());
    println!(
        "one message to a group of {} ({} members besides the sender), {runs} runs:",
        members + 1,
        members
    );
    for f in &fan {
        println!(
            "  all hold it {:7.2} ms, delivered to {members}/{members} {:7.2} ms, {:.2} datagrams and {:.0} bytes per delivered copy",
            f.hold_ms, f.delivered_ms, f.datagrams, f.bytes
        );
    }
    println!(
        "  median: all hold it {:.2} ms; delivered to {members}/{members} {:.2} ms; {:.2} datagrams, {:.0} bytes per delivered copy",
        med(&|f| f.hold_ms),
        med(&|f| f.delivered_ms),
        med(&|f| f.datagrams),
        med(&|f| f.bytes),
    );

    let cs: Vec<CatchUp> = (0..runs).map(|_| catch_up_in_child(missed)).collect();
    println!("catch-up of {missed} missed messages from one member online, {runs} runs:");
    for c in &cs {
        println!(
            "  all held {:8.1} ms, all stored {:8.1} ms, process peak RSS {} KiB (+{} KiB during the catch-up), {:.2} datagrams and {:.0} bytes per message",
            c.hold_ms, c.stored_ms, c.peak_kib, c.peak_growth_kib, c.datagrams, c.bytes
        );
    }
    let cmed = |f: &dyn Fn(&CatchUp) -> f64| support::median(cs.iter().map(f).collect());
    println!(
        "  median: all held {:.1} ms, all stored {:.1} ms, process peak RSS {:.0} KiB (+{:.0} KiB during it), {:.2} datagrams, {:.0} bytes per message",
        cmed(&|c| c.hold_ms),
        cmed(&|c| c.stored_ms),
        cmed(&|c| c.peak_kib as f64),
        cmed(&|c| c.peak_growth_kib as f64),
        cmed(&|c| c.datagrams),
        cmed(&|c| c.bytes),
    );
}
