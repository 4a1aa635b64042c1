//! Issue 12's measurements, over real loopback sockets:
//!
//! - Handshake flood: handshake initiations from 4,096 spoofed sources (UDP sockets bound to
//!   4,096 distinct 127.1.x.y addresses; loopback has all of 127/8, no root needed), each a
//!   genuine initiation made by the handshake code with a fresh ephemeral key (half XX, half
//!   IK with one attacker key per source), at `LANCHAT_BENCH_HS_RATE` per second (default
//!   10,000) for `LANCHAT_BENCH_HS_SECS` (default 10), at a node ("bob": a `Node` with its
//!   store, on a thread of its own). Measured: the CPU time of bob's thread per second of
//!   flood; the time from send to "delivered" of a message alice (connected before the
//!   flood) sends every 100 ms during it, against the same without the flood; how long a
//!   newcomer (carol) who starts half way through takes to get her first message
//!   delivered; and what the spoofed sources got back (answers, bytes).
//! - Many users on one host: 60 nodes in this process on 127.0.0.1 (ports of their own, no
//!   discovery). One of them (the largest key) knows the other 59 by address and writes each
//!   a first message at once: the time until all 59 have it, and until all 59 show
//!   "delivered" at the sender; then the same for a second message.
//!
//! Run: `cargo bench --bench trust`. Medians over `LANCHAT_BENCH_RUNS` (default 5) runs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use lanchat::config::Settings;
use lanchat::proto::secure::Secure;
use lanchat::proto::{ConversationId, DeliveryState, Event, Identity, MsgId, NodeId};
use lanchat::runtime::Node;
use std::collections::{HashMap, HashSet};
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use support::{Row, median, ms, print_rows};

const SOURCES: usize = 4096;
/// The name of bob's thread, to tell its CPU time apart (at most 15 characters).
const BOB_THREAD: &str = "trust-bob";
/// How often alice writes to bob while measuring.
const MESSAGE_EVERY: Duration = Duration::from_millis(100);
const QUIET_PHASE: Duration = Duration::from_secs(2);
/// How long after the end of a phase its messages may still be delivered (and counted).
const GRACE: Duration = Duration::from_secs(5);
/// How long the sixty nodes get for each message round.
const SIXTY_PATIENCE: Duration = Duration::from_secs(30);

fn bob_key() -> Identity {
    Identity::from_secret([2; 32])
}

/// Spoofed source `i`: 127.1.x.y, never 127.0.0.1.
fn source_ip(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(127, 1, (i / 250) as u8, (1 + i % 250) as u8)
}

/// Genuine initiations to bob, each with a fresh ephemeral key, in sending order: entry `i`
/// goes from source `i % SOURCES`. IK ones carry a timestamp that grows per attacker key.
fn initiations(n: usize, ik_share: f64) -> Vec<Vec<u8>> {
    let bob = bob_key().public();
    let nowhere = SocketAddr::from(([127, 0, 0, 1], 9));
    let now = Instant::now();
    let attackers: Vec<Identity> = (0..SOURCES)
        .map(|i| {
            let mut secret = [0xA5; 32];
            secret[..8].copy_from_slice(&(i as u64).to_be_bytes());
            Identity::from_secret(secret)
        })
        .collect();
    (0..n)
        .map(|i| {
            let ik = (i as f64 * ik_share).fract() + ik_share >= 1.0;
            let me = attackers[i % SOURCES].clone();
            let mut s = Secure::new(me, "x", now, 2_000_000_000_000 + i as u64, i as u64);
            if ik {
                s.pin(bob);
            }
            s.connect(now, bob, nowhere);
            s.poll_transmit().expect("an initiation").1
        })
        .collect()
}

/// Bob, on a thread of his own with his store, until told to stop.
struct Bob {
    addr: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    thread: std::thread::JoinHandle<(u64, u64, usize)>,
    _dir: tempfile::TempDir,
}

impl Bob {
    fn start() -> Bob {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_owned();
        let (addr_tx, addr_rx) = mpsc::channel();
        let (stop, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(BOB_THREAD.into())
            .spawn(move || {
                support::runtime().block_on(async move {
                    let settings = Settings::loopback("bob", &path);
                    let store = Node::open_store(&settings).unwrap();
                    let mut node = Node::start(&settings, bob_key()).unwrap();
                    node.attach_store(store).unwrap();
                    addr_tx.send(node.local_addr()).unwrap();
                    loop {
                        node.drain();
                        tokio::select! {
                            _ = &mut stop_rx => break,
                            wake = node.wake() => {
                                if let lanchat::runtime::Wake::Store(
                                    lanchat::runtime::storage::Reply::Inserted(list),
                                ) = wake
                                {
                                    node.stored(&list);
                                }
                            }
                        }
                    }
                    let s = node.endpoint.secure_stats();
                    (
                        s.handshakes,
                        s.rate_limited,
                        node.endpoint.known_peers().len(),
                    )
                })
            })
            .unwrap();
        let addr = addr_rx.recv().unwrap();
        Bob {
            addr,
            stop,
            thread,
            _dir: dir,
        }
    }

    /// Stops bob: his handshakes, initiations refused by rate limits, and known keys.
    fn stop(self) -> (u64, u64, usize) {
        let _ = self.stop.send(());
        self.thread.join().unwrap()
    }
}

/// Runs `nodes` until `until`: their events, stamped, by node index.
async fn run_nodes(nodes: &mut [&mut Node], until: Instant) -> Vec<(usize, Instant, Event)> {
    let mut out = Vec::new();
    loop {
        for (i, n) in nodes.iter_mut().enumerate() {
            for e in n.drain() {
                out.push((i, Instant::now(), e));
            }
        }
        let now = Instant::now();
        if now >= until {
            return out;
        }
        let wakes = nodes.iter_mut().map(|n| Box::pin(n.wake()));
        let _ = tokio::time::timeout(until - now, futures_util::future::select_all(wakes)).await;
    }
}

fn delivered(e: &Event) -> Option<MsgId> {
    match e {
        Event::State {
            id,
            state: DeliveryState::Delivered,
        } => Some(*id),
        _ => None,
    }
}

struct FloodRun {
    quiet_delays: Vec<Duration>,
    flood_delays: Vec<Duration>,
    /// Messages alice sent during the flood that were never delivered.
    undelivered: usize,
    cpu_quiet: f64,
    cpu_flood: f64,
    newcomer: Option<Duration>,
    sent: usize,
    answers: usize,
    answer_bytes: usize,
    sent_bytes: usize,
    bob: (u64, u64, usize),
}

/// One flood run: alice meets bob, writes during a quiet phase and then during the flood;
/// carol starts half way through the flood.
fn flood_run(
    sockets: &Arc<Vec<UdpSocket>>,
    pool: &Arc<Vec<Vec<u8>>>,
    rate: f64,
    flood: Duration,
) -> FloodRun {
    // Answers left over from an earlier run.
    drain_answers(sockets);
    let bob = Bob::start();
    let bob_addr = bob.addr;
    let bob_id = bob_key().public();
    let to_bob = ConversationId::Peer(bob_id);
    let rt = support::runtime();
    let dir_a = tempfile::tempdir().unwrap();
    let dir_c = tempfile::tempdir().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let mut run = rt.block_on(async {
        let mut alice = Node::start(
            &Settings::loopback("alice", dir_a.path()),
            Identity::from_secret([1; 32]),
        )
        .unwrap();
        alice.add_peer(bob_addr);
        let deadline = Instant::now() + Duration::from_secs(10);
        while alice.endpoint.peer(&bob_id).is_none_or(|p| !p.online)
            || !alice.endpoint.is_secured(Instant::now(), &bob_id)
        {
            assert!(Instant::now() < deadline, "alice never met bob");
            run_nodes(
                &mut [&mut alice],
                Instant::now() + Duration::from_millis(20),
            )
            .await;
        }
        // Alice writes every 100 ms for `phase`: send-to-delivered delays, and how many
        // never made it.
        let mut next_id = 1u64;
        let mut write = async |alice: &mut Node,
                               carol: &mut Option<(Node, Instant)>,
                               phase: Duration,
                               newcomer_at: Option<Duration>|
               -> (Vec<Duration>, usize, Option<Duration>) {
            let start = Instant::now();
            let mut sent_at: HashMap<MsgId, Instant> = HashMap::new();
            let mut delays = Vec::new();
            let mut newcomer = None;
            let mut tick = start;
            while start.elapsed() < phase + GRACE {
                if start.elapsed() < phase && Instant::now() >= tick {
                    let id = MsgId(next_id);
                    next_id += 1;
                    alice.send(to_bob, id, 0, "are you there, bob?").unwrap();
                    sent_at.insert(id, Instant::now());
                    tick += MESSAGE_EVERY;
                }
                if carol.is_none() && newcomer_at.is_some_and(|t| start.elapsed() >= t) {
                    let mut c = Node::start(
                        &Settings::loopback("carol", dir_c.path()),
                        Identity::from_secret([3; 32]),
                    )
                    .unwrap();
                    c.endpoint.remember_peer(bob_id, "bob", bob_addr);
                    c.add_peer(bob_addr);
                    c.send(to_bob, MsgId(1), 0, "hello bob, carol here")
                        .unwrap();
                    *carol = Some((c, Instant::now()));
                }
                let until = (Instant::now() + Duration::from_millis(10)).min(tick);
                let events = match carol.as_mut() {
                    Some((c, _)) => run_nodes(&mut [&mut *alice, c], until).await,
                    None => run_nodes(&mut [&mut *alice], until).await,
                };
                for (who, at, e) in events {
                    match (who, delivered(&e)) {
                        (0, Some(id)) => {
                            if let Some(t) = sent_at.remove(&id) {
                                delays.push(at - t);
                            }
                        }
                        (1, Some(MsgId(1))) if newcomer.is_none() => {
                            newcomer = carol.as_ref().map(|(_, t)| at - *t);
                        }
                        _ => {}
                    }
                }
            }
            delays.sort();
            (delays, sent_at.len(), newcomer)
        };
        let mut carol = None;
        let cpu0 = support::thread_cpu();
        let t0 = Instant::now();
        let (quiet_delays, _, _) = write(&mut alice, &mut carol, QUIET_PHASE, None).await;
        let cpu_quiet =
            cpu_of(&support::thread_cpu(), &cpu0) / t0.elapsed().as_secs_f64().max(1e-9);

        // The flood, on a thread of its own.
        let flooder = {
            let (sockets, pool, stop) = (sockets.clone(), pool.clone(), stop.clone());
            std::thread::Builder::new()
                .name("trust-flood".into())
                .spawn(move || send_flood(&sockets, &pool, bob_addr, rate, flood, &stop))
                .unwrap()
        };
        let cpu1 = support::thread_cpu();
        let t1 = Instant::now();
        let (flood_delays, undelivered, newcomer) =
            write(&mut alice, &mut carol, flood, Some(flood / 2)).await;
        stop.store(true, Ordering::Relaxed);
        let (sent, sent_bytes) = flooder.join().unwrap();
        let cpu_flood = cpu_of(&support::thread_cpu(), &cpu1) / t1.elapsed().as_secs_f64();
        alice.shutdown();
        if let Some((mut c, _)) = carol {
            c.shutdown();
        }
        FloodRun {
            quiet_delays,
            flood_delays,
            undelivered,
            cpu_quiet,
            cpu_flood,
            newcomer,
            sent,
            answers: 0,
            answer_bytes: 0,
            sent_bytes,
            bob: (0, 0, 0),
        }
    });
    (run.answers, run.answer_bytes) = drain_answers(sockets);
    run.bob = bob.stop();
    run
}

/// CPU seconds bob's thread used between two snapshots.
fn cpu_of(
    after: &std::collections::BTreeMap<String, f64>,
    before: &std::collections::BTreeMap<String, f64>,
) -> f64 {
    after.get(BOB_THREAD).copied().unwrap_or(0.0) - before.get(BOB_THREAD).copied().unwrap_or(0.0)
}

/// Sends the pool round robin from the spoofed sockets at `rate` per second for `secs`
/// (or until stopped): datagrams and bytes sent.
fn send_flood(
    sockets: &[UdpSocket],
    pool: &[Vec<u8>],
    to: SocketAddr,
    rate: f64,
    secs: Duration,
    stop: &AtomicBool,
) -> (usize, usize) {
    let start = Instant::now();
    let (mut sent, mut bytes) = (0usize, 0usize);
    while start.elapsed() < secs && !stop.load(Ordering::Relaxed) {
        let due = (start.elapsed().as_secs_f64() * rate) as usize;
        while sent < due {
            let d = &pool[sent % pool.len()];
            if sockets[sent % sockets.len()].send_to(d, to).is_ok() {
                bytes += d.len();
            }
            sent += 1;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    (sent, bytes)
}

/// Reads whatever reached the spoofed sockets: datagrams and bytes.
fn drain_answers(sockets: &[UdpSocket]) -> (usize, usize) {
    let mut buf = [0u8; 2048];
    let (mut n, mut bytes) = (0, 0);
    for s in sockets {
        while let Ok(len) = s.recv(&mut buf) {
            n += 1;
            bytes += len;
        }
    }
    (n, bytes)
}

struct SixtyRun {
    /// With discovery: from start until the writer saw all the others online.
    all_online: Option<Duration>,
    first_received: Option<Duration>,
    first_delivered: Option<Duration>,
    second_received: Option<Duration>,
    received: usize,
}

type Command = Box<dyn FnOnce(&mut Node)>;

/// Drives one of the sixty until its command channel closes.
async fn drive(
    k: usize,
    mut node: Node,
    mut commands: tokio::sync::mpsc::UnboundedReceiver<Command>,
    events: tokio::sync::mpsc::UnboundedSender<(usize, Instant, Event)>,
) {
    loop {
        for e in node.drain() {
            let _ = events.send((k, Instant::now(), e));
        }
        tokio::select! {
            c = commands.recv() => match c {
                Some(f) => f(&mut node),
                None => break,
            },
            _ = node.wake() => {}
        }
    }
    node.shutdown();
}

/// A UDP port free on 0.0.0.0 right now, for this run's own discovery group.
fn free_udp_port() -> u16 {
    loop {
        let port = UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if UdpSocket::bind(("0.0.0.0", port)).is_ok() {
            return port;
        }
    }
}

/// `n` nodes on 127.0.0.1; the one with the largest key writes to the other `n - 1`.
/// With `mesh`, all of them run discovery (on a port of this run's own), and the writer
/// writes as soon as it has seen all the others come online; without, the writer knows
/// the others by address only and writes at once (first contact).
async fn sixty(n: usize, seed: u8, mesh: bool) -> SixtyRun {
    let discovery_port = free_udp_port();
    let (ev_tx, mut ev_rx) = tokio::sync::mpsc::unbounded_channel();
    let mut commands = Vec::new();
    let mut who: Vec<(NodeId, SocketAddr)> = Vec::new();
    let mut dirs = Vec::new();
    for k in 0..n {
        let dir = tempfile::tempdir().unwrap();
        let mut secret = [seed; 32];
        // (Not byte 0: clamping clears its low three bits.)
        secret[1] = k as u8;
        let mut settings = Settings::loopback(&format!("user{k}"), dir.path());
        if mesh {
            settings.discovery = true;
            settings.discovery_port = discovery_port;
        }
        let node = Node::start(&settings, Identity::from_secret(secret)).unwrap();
        who.push((node.endpoint.node(), node.local_addr()));
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Command>();
        tokio::task::spawn_local(drive(k, node, rx, ev_tx.clone()));
        commands.push(tx);
        dirs.push(dir);
    }
    let sender = (0..n).max_by_key(|k| who[*k].0).unwrap();
    let others: Vec<(NodeId, SocketAddr)> =
        (0..n).filter(|k| *k != sender).map(|k| who[k]).collect();

    // With discovery the writer writes once it sees all the others online, as a user would.
    let started = Instant::now();
    let mut all_online = None;
    if mesh {
        let mut up: HashSet<NodeId> = HashSet::new();
        let deadline = started + SIXTY_PATIENCE;
        while let Ok(Some((k, at, e))) =
            tokio::time::timeout_at(deadline.into(), ev_rx.recv()).await
        {
            if let Event::PeerUp(p) = e
                && k == sender
                && up.insert(p.id)
                && up.len() == n - 1
            {
                all_online = Some(at - started);
                break;
            }
        }
    }
    let send_all = |round: u64| {
        let others = others.clone();
        commands[sender]
            .send(Box::new(move |node: &mut Node| {
                for (i, (id, addr)) in others.iter().enumerate() {
                    node.endpoint.remember_peer(*id, "someone", *addr);
                    if round == 1 && !mesh {
                        node.add_peer(*addr);
                    }
                    let msg = MsgId(round * 1000 + i as u64 + 1);
                    node.send(ConversationId::Peer(*id), msg, 0, "hello, neighbour")
                        .unwrap();
                }
            }))
            .unwrap();
    };
    // Time until all others got message `round` and the sender saw all delivered.
    let mut wait = async |round: u64, t0: Instant| -> (Option<Duration>, Option<Duration>, usize) {
        let mut got: HashSet<usize> = HashSet::new();
        let mut done: HashSet<MsgId> = HashSet::new();
        let (mut all_got, mut all_done) = (None, None);
        let deadline = t0 + SIXTY_PATIENCE;
        while all_got.is_none() || all_done.is_none() {
            let Ok(Some((k, at, e))) = tokio::time::timeout_at(deadline.into(), ev_rx.recv()).await
            else {
                break;
            };
            match &e {
                Event::Message { conversation, .. }
                    if k != sender
                        && *conversation == ConversationId::Peer(who[sender].0)
                        && got.insert(k)
                        && got.len() == n - 1 =>
                {
                    all_got = Some(at - t0);
                }
                Event::State {
                    id,
                    state: DeliveryState::Delivered,
                } if k == sender
                    && id.0 / 1000 == round
                    && done.insert(*id)
                    && done.len() == n - 1 =>
                {
                    all_done = Some(at - t0);
                }
                _ => {}
            }
        }
        (all_got, all_done, got.len())
    };
    let t0 = Instant::now();
    send_all(1);
    let (first_received, first_delivered, received) = wait(1, t0).await;
    let t1 = Instant::now();
    send_all(2);
    let (second_received, _, _) = wait(2, t1).await;
    drop(commands);
    // Let the nodes say goodbye.
    tokio::time::sleep(Duration::from_millis(50)).await;
    drop(dirs);
    SixtyRun {
        all_online,
        first_received,
        first_delivered,
        second_received,
        received,
    }
}

/// A time, or "more than `limit`" for one that never came.
fn fmt_ms(d: Option<Duration>, limit: Duration) -> String {
    d.map_or_else(
        || format!("> {} s", limit.as_secs()),
        |d| format!("{:.1} ms", ms(d)),
    )
}

/// A median of times in ms where infinity stands for "never".
fn fmt_median(v: f64, limit: Duration) -> String {
    if v.is_finite() {
        format!("{v:.1} ms")
    } else {
        format!("> {} s", limit.as_secs())
    }
}

fn main() {
    let runs = support::runs();
    let rate = support::env_usize("LANCHAT_BENCH_HS_RATE", 10_000) as f64;
    let secs = support::env_usize("LANCHAT_BENCH_HS_SECS", 10) as u64;
    let flood = Duration::from_secs(secs);
    let mut rows = Vec::new();

    let t = Instant::now();
    let sockets: Vec<UdpSocket> = (0..SOURCES)
        .map(|i| {
            let s = UdpSocket::bind((source_ip(i), 0))
                .unwrap_or_else(|e| panic!("binding spoofed source {i} ({}): {e}", source_ip(i)));
            s.set_nonblocking(true).unwrap();
            s
        })
        .collect();
    let sockets = Arc::new(sockets);
    let pool = Arc::new(initiations((rate * secs as f64) as usize, 0.5));
    println!(
        "trust: {runs} runs; handshake flood from {SOURCES} sources at {rate:.0}/s for {secs} s \
         ({} initiations made in {:.1} s)",
        pool.len(),
        t.elapsed().as_secs_f64()
    );

    let (mut cpu_q, mut cpu_f, mut p50_q, mut p50_f, mut max_f, mut newcomers) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    for run in 0..runs {
        let r = flood_run(&sockets, &pool, rate, flood);
        let p50 = |d: &[Duration]| d.get(d.len() / 2).map_or(f64::NAN, |d| ms(*d));
        let max = r.flood_delays.last().map_or(f64::NAN, |d| ms(*d));
        let worst = if r.undelivered > 0 {
            f64::INFINITY
        } else {
            max
        };
        println!(
            "  run {run}: bob CPU {:.3} s/s under flood ({:.3} quiet); alice's messages p50 {:.1} ms, \
             max {:.1} ms, {} undelivered (quiet p50 {:.1} ms); newcomer {}; flood sent {} \
             ({} bytes), answered {} ({} bytes); bob: {} handshakes, {} rate-limited, {} known keys",
            r.cpu_flood,
            r.cpu_quiet,
            p50(&r.flood_delays),
            max,
            r.undelivered,
            p50(&r.quiet_delays),
            fmt_ms(r.newcomer, flood / 2 + GRACE),
            r.sent,
            r.sent_bytes,
            r.answers,
            r.answer_bytes,
            r.bob.0,
            r.bob.1,
            r.bob.2,
        );
        cpu_q.push(r.cpu_quiet);
        cpu_f.push(r.cpu_flood);
        p50_q.push(p50(&r.quiet_delays));
        p50_f.push(p50(&r.flood_delays));
        max_f.push(worst);
        newcomers.push(r.newcomer.map_or(f64::INFINITY, ms));
    }
    let (cq, cf) = (median(cpu_q), median(cpu_f));
    rows.push(Row::new(
        format!("CPU of the node under a handshake flood from {SOURCES} sources, {rate:.0}/s"),
        format!("{cf:.3} s/s"),
        format!("{cq:.3} s/s (no flood)"),
        "—",
        "≤ 0.25 s/s",
        cf <= 0.25,
    ));
    let (pq, pf, mf) = (median(p50_q), median(p50_f), median(max_f));
    rows.push(Row::new(
        "send to delivered of a connected peer's messages during the flood, slowest (p50)",
        format!("{} (p50 {})", fmt_median(mf, GRACE), fmt_median(pf, GRACE)),
        format!("{pq:.1} ms (p50, no flood)"),
        format!("{:.1}", pf / pq),
        "≤ 1,000 ms",
        mf <= 1000.0,
    ));
    let nc = median(newcomers);
    rows.push(Row::new(
        "a newcomer's first message during the flood, start to delivered",
        fmt_median(nc, flood / 2 + GRACE),
        "—",
        "—",
        "≤ 5,000 ms",
        nc <= 5000.0,
    ));

    let rt = support::runtime();
    let n = 60;
    for mesh in [true, false] {
        let how = if mesh {
            format!("all {n} with discovery, written once all show online")
        } else {
            "by address, first contact".to_string()
        };
        let (mut first, mut first_d, mut second) = (vec![], vec![], vec![]);
        for run in 0..runs {
            let seed = 0x60 + run as u8 + if mesh { 0x10 } else { 0 };
            let r = rt.block_on(tokio::task::LocalSet::new().run_until(sixty(n, seed, mesh)));
            println!(
                "  run {run}: {n} nodes on 127.0.0.1 ({how}): first message to all {} others \
                 {} ({} got it), all delivered {}; second message {}; all online after {}",
                n - 1,
                fmt_ms(r.first_received, SIXTY_PATIENCE),
                r.received,
                fmt_ms(r.first_delivered, SIXTY_PATIENCE),
                fmt_ms(r.second_received, SIXTY_PATIENCE),
                if mesh {
                    fmt_ms(r.all_online, SIXTY_PATIENCE)
                } else {
                    "—".to_string()
                },
            );
            let f = |d: Option<Duration>| d.map_or(f64::INFINITY, ms);
            first.push(f(r.first_received));
            first_d.push(f(r.first_delivered));
            second.push(f(r.second_received));
        }
        let (f, fd, s) = (median(first), median(first_d), median(second));
        let target = if mesh { "≤ 1,000 ms" } else { "—" };
        rows.push(Row::new(
            format!(
                "one node's first message to {} others on one host ({how}), all received",
                n - 1
            ),
            fmt_median(f, SIXTY_PATIENCE),
            format!(
                "{} (second message, sessions up)",
                fmt_median(s, SIXTY_PATIENCE)
            ),
            format!("{:.1}", f / s),
            target,
            !mesh || f <= 1000.0,
        ));
        rows.push(Row::new(
            format!("the same, all {} shown delivered at the sender", n - 1),
            fmt_median(fd, SIXTY_PATIENCE),
            "—",
            "—",
            target,
            !mesh || fd <= 1000.0,
        ));
    }
    print_rows("Trust: floods and many users on one host", &rows);
}
