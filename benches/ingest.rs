//! Ingest: how many messages per second one chat client takes in from a peer over loopback,
//! end to end: receive task, decode (and decrypt, once sessions are on), dedup, the store
//! thread writing them to SQLite with durable acks (a message is acknowledged only once
//! stored), the model update and the redraw of a 200×50 screen, all in the real loop
//! (`tui::run_with`). Counted at the sender: a message counts when the sender sees it
//! "delivered", which the receiver says only after storing it.
//!
//! Baseline, in the same run: a plain tokio `recv_from` loop on a socket set up the same way
//! (127.0.0.1, port 0, 1 MiB receive buffer), fed datagrams of the same size as fast as a
//! plain sender can send them.
//!
//! Latency, in the same run: one message at a time from a node with its own store to that
//! same chat loop, the time from `send` to "delivered" (p50, p99), against a plain UDP
//! ping-pong between two tokio sockets.
//!
//! Run: `cargo bench --bench ingest` (part of `cargo bench`). `LANCHAT_BENCH_RUNS` runs
//! (default 5), `LANCHAT_BENCH_INGEST` messages per run (default 100,000); medians.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/support/screen.rs"]
mod screen;
mod support;

use lanchat::config::Settings;
use lanchat::proto::wire::{Content, Data, Frame, Packet};
use lanchat::proto::{ConversationId, DeliveryState, Event, Identity, MsgId, NodeId};
use lanchat::runtime::storage::Reply;
use lanchat::runtime::{Node, Wake, tui};
use std::net::{SocketAddr, UdpSocket as StdUdpSocket};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use support::{Row, median, ms, print_rows, quantile};

fn alice_key() -> Identity {
    Identity::from_secret([1; 32])
}

fn bob_key() -> Identity {
    Identity::from_secret([2; 32])
}
/// What each message says.
const TEXT: &str = "a chat message of about sixty bytes, like people type";

/// Drives the sender until its peer is online.
async fn meet(a: &mut Node, peer: NodeId) {
    let deadline = Instant::now() + Duration::from_secs(10);
    // Online, and the Noise session up: the burst is timed, not the handshake.
    while a.endpoint.peer(&peer).is_none_or(|v| !v.online)
        || !a.endpoint.is_secured(Instant::now(), &peer)
    {
        assert!(Instant::now() < deadline, "peers never met");
        a.drain();
        let _ = tokio::time::timeout(Duration::from_millis(50), a.wake()).await;
    }
}

/// What one run through the real chat loop measured.
struct IngestRun {
    rate: f64,
    /// Datagrams per message the sender sent, and got back (acks, read receipts).
    out: f64,
    back: f64,
    /// CPU time per message, in µs: the sender (alice), bob's chat loop and bob's store
    /// thread.
    cpu_us: [f64; 3],
}

/// One run through the real chat loop. `offload`: whether both nodes send runs of
/// equal-sized datagrams with segmentation offload, as the program does (off, every datagram
/// is its own `sendto`, as in the plain baseline).
fn lanchat_run(n: u64, offload: bool) -> IngestRun {
    let dir_a = tempfile::tempdir().unwrap();
    let (bob_addr, receiver) = Receiver::start(offload);
    let rt = support::runtime();
    let result = rt.block_on(async {
        let mut settings = Settings::loopback("alice", dir_a.path());
        settings.segmentation_offload = offload;
        let mut a = Node::start(&settings, alice_key()).unwrap();
        a.add_peer(bob_addr);
        meet(&mut a, bob_key().public()).await;
        a.drain();
        let to = ConversationId::Peer(bob_key().public());
        let (in0, out0) = (
            a.endpoint.stats().datagrams_in,
            a.endpoint.stats().datagrams_out,
        );
        let mut delivered = vec![false; n as usize + 1];
        let mut count = 0u64;
        let deadline = Instant::now() + Duration::from_secs(120);
        let cpu0 = support::thread_cpu();
        let t0 = Instant::now();
        for i in 1..=n {
            a.send(to, MsgId(i), 1_700_000_000_000, TEXT).unwrap();
        }
        loop {
            for e in a.drain() {
                if let Event::State { id, state } = e
                    && matches!(state, DeliveryState::Delivered | DeliveryState::Read)
                    && let Some(seen) = delivered.get_mut(id.0 as usize)
                    && !*seen
                {
                    *seen = true;
                    count += 1;
                }
            }
            if count == n {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "ingest stalled at {count} of {n}"
            );
            a.wake().await;
        }
        let rate = n as f64 / t0.elapsed().as_secs_f64();
        let cpu1 = support::thread_cpu();
        let used = |name: &str| {
            let before = cpu0.get(name).copied().unwrap_or(0.0);
            cpu1.get(name).map_or(0.0, |after| after - before) * 1e6 / n as f64
        };
        let main = std::fs::read_to_string("/proc/thread-self/comm").unwrap_or_default();
        let main = main.trim_end();
        let stats = a.endpoint.stats();
        IngestRun {
            rate,
            back: (stats.datagrams_in - in0) as f64 / n as f64,
            out: (stats.datagrams_out - out0) as f64 / n as f64,
            cpu_us: [used(main), used(RECEIVER_THREAD), used("lanchat-store")],
        }
    });
    receiver.stop();
    result
}

/// The name of bob's thread, to tell its CPU time apart.
const RECEIVER_THREAD: &str = "bob-chat-loop";

/// Bob: the real chat loop (`tui::run_with` on a 200×50 `TestBackend`, with the store) on
/// a thread of its own, as in the program.
struct Receiver {
    stop: tokio::sync::oneshot::Sender<()>,
    thread: std::thread::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl Receiver {
    fn start(offload: bool) -> (SocketAddr, Receiver) {
        let dir = tempfile::tempdir().unwrap();
        let (addr_tx, addr_rx) = mpsc::channel::<SocketAddr>();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let bob_dir = dir.path().to_owned();
        let thread = std::thread::Builder::new()
            .name(RECEIVER_THREAD.into())
            .spawn(move || {
                let rt = support::runtime();
                rt.block_on(async move {
                    let mut settings = Settings::loopback("bob", &bob_dir);
                    settings.segmentation_offload = offload;
                    let (node, app, first) = tui::start_chat(&settings, bob_key()).unwrap();
                    addr_tx.send(node.local_addr()).unwrap();
                    let mut term = ratatui::Terminal::new(screen::Shared::new(200, 50)).unwrap();
                    let keys =
                        futures_util::stream::pending::<std::io::Result<crossterm::event::Event>>();
                    tui::run_with(&mut term, keys, node, app, first, async {
                        let _ = stop_rx.await;
                    })
                    .await
                    .unwrap();
                });
            })
            .unwrap();
        let addr = addr_rx.recv().unwrap();
        (
            addr,
            Receiver {
                stop: stop_tx,
                thread,
                _dir: dir,
            },
        )
    }

    fn stop(self) {
        self.stop.send(()).unwrap();
        self.thread.join().unwrap();
    }
}

/// One message at a time from alice (a node with its own store, as in the program) to bob:
/// the time from `send` to alice seeing it "delivered" (bob stored it, then acknowledged).
fn latency_run(n: u64) -> Vec<Duration> {
    let dir_a = tempfile::tempdir().unwrap();
    let (bob_addr, receiver) = Receiver::start(true);
    let rt = support::runtime();
    let times = rt.block_on(async {
        let settings = Settings::loopback("alice", dir_a.path());
        let store = Node::open_store(&settings).unwrap();
        let mut a = Node::start(&settings, alice_key()).unwrap();
        a.attach_store(store).unwrap();
        a.add_peer(bob_addr);
        meet(&mut a, bob_key().public()).await;
        a.drain();
        let to = ConversationId::Peer(bob_key().public());
        let mut times = Vec::with_capacity(n as usize);
        let deadline = Instant::now() + Duration::from_secs(120);
        for i in 1..=n {
            let id = MsgId(i);
            let t0 = Instant::now();
            a.send(to, id, 1_700_000_000_000, "ping: how long until delivered?")
                .unwrap();
            'wait: loop {
                for e in a.drain() {
                    if let Event::State { id: got, state } = e
                        && got == id
                        && matches!(state, DeliveryState::Delivered | DeliveryState::Read)
                    {
                        break 'wait;
                    }
                }
                assert!(Instant::now() < deadline, "latency run stalled at {i}");
                if let Wake::Store(Reply::Inserted(list)) = a.wake().await {
                    a.stored(&list);
                }
            }
            times.push(t0.elapsed());
        }
        times
    });
    receiver.stop();
    times
}

/// The baseline for latency: a datagram to a plain tokio echo loop on another thread and
/// back, one at a time.
fn ping_pong_run(n: u64) -> Vec<Duration> {
    let echo = plain_socket();
    let echo_addr = echo.local_addr().unwrap();
    let thread = std::thread::spawn(move || {
        let rt = support::runtime();
        rt.block_on(async move {
            let s = tokio::net::UdpSocket::from_std(echo).unwrap();
            let mut buf = vec![0u8; 2048];
            for _ in 0..n {
                let (len, from) = s.recv_from(&mut buf).await.unwrap();
                s.send_to(&buf[..len], from).await.unwrap();
            }
        });
    });
    let rt = support::runtime();
    let times = rt.block_on(async {
        let s = tokio::net::UdpSocket::from_std(plain_socket()).unwrap();
        let payload = vec![0x5au8; data_datagram_size()];
        let mut buf = vec![0u8; 2048];
        let mut times = Vec::with_capacity(n as usize);
        for _ in 0..n {
            let t0 = Instant::now();
            s.send_to(&payload, echo_addr).await.unwrap();
            s.recv_from(&mut buf).await.unwrap();
            times.push(t0.elapsed());
        }
        times
    });
    thread.join().unwrap();
    times
}

/// The size of the datagram that carries one message of [`TEXT`], sealed (the baseline
/// sends datagrams of this size).
fn data_datagram_size() -> usize {
    let frame = Frame::Packet(Packet {
        from: alice_key().public(),
        epoch: u64::MAX / 3,
        ack: None,
        data: Some(Data {
            pn: 50_000,
            msn: 50_000,
            base: 49_990,
            id: MsgId(50_000),
            content: Content::Text,
            sent_at_ms: 1_700_000_000_000,
            frag_index: 0,
            frag_count: 1,
            ack_now: false,
            payload: TEXT.as_bytes().to_vec(),
        }),
    });
    frame.encode().unwrap().len() + lanchat::proto::wire::SEAL_OVERHEAD
}

/// The receiving socket, set up as lanchat sets up its own.
fn plain_socket() -> StdUdpSocket {
    let s = socket2::Socket::new(
        socket2::Domain::IPV4,
        socket2::Type::DGRAM,
        Some(socket2::Protocol::UDP),
    )
    .unwrap();
    let _ = s.set_recv_buffer_size(1 << 20);
    s.set_nonblocking(true).unwrap();
    s.bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .unwrap();
    s.into()
}

/// One run of the baseline: a plain sender floods `n` datagrams of `size` bytes at a tokio
/// `recv_from` loop. Returns datagrams/s received (from the first to the last).
///
/// `segmented`: the sender hands the kernel 64 datagrams per `sendmsg` (segmentation
/// offload, as lanchat sends), so that it costs far less than the loop and the loop's own
/// limit shows; else one `sendto` per datagram.
fn plain_run(n: u64, size: usize, segmented: bool) -> f64 {
    let rt = support::runtime();
    rt.block_on(async {
        let socket = tokio::net::UdpSocket::from_std(plain_socket()).unwrap();
        let dst = socket.local_addr().unwrap();
        let sender = std::thread::spawn(move || {
            let s = StdUdpSocket::bind("127.0.0.1:0").unwrap();
            let payload = vec![0x5au8; size];
            if segmented {
                use nix::sys::socket::{ControlMessage, MsgFlags, SockaddrIn, sendmsg};
                use std::os::fd::AsRawFd;
                let SocketAddr::V4(v4) = dst else {
                    unreachable!("bound to 127.0.0.1")
                };
                let to = SockaddrIn::from(v4);
                let segment = u16::try_from(size).unwrap();
                let slices = vec![std::io::IoSlice::new(&payload); 64];
                for _ in 0..n.div_ceil(64) {
                    let _ = sendmsg(
                        s.as_raw_fd(),
                        &slices,
                        &[ControlMessage::UdpGsoSegments(&segment)],
                        MsgFlags::empty(),
                        Some(&to),
                    );
                }
            } else {
                for _ in 0..n {
                    let _ = s.send_to(&payload, dst);
                }
            }
        });
        let mut buf = vec![0u8; 65_536];
        let mut count = 0u64;
        let mut first = None;
        let mut last = Instant::now();
        while count < n {
            match tokio::time::timeout(Duration::from_millis(300), socket.recv_from(&mut buf)).await
            {
                Ok(Ok(_)) => {
                    last = Instant::now();
                    first.get_or_insert(last);
                    count += 1;
                }
                Ok(Err(_)) => {}
                Err(_) => break, // the sender is done; the rest was dropped by the kernel
            }
        }
        sender.join().unwrap();
        let first = first.expect("nothing received");
        (count - 1) as f64 / (last - first).as_secs_f64()
    })
}

fn main() {
    let runs = support::runs();
    let n = support::env_usize("LANCHAT_BENCH_INGEST", 100_000) as u64;
    println!("ingest over loopback: {n} messages per run, {runs} runs, medians");
    let size = data_datagram_size();
    // A first, unmeasured run warms up the disk cache and the allocator.
    lanchat_run(n.min(2_000), true);
    let mut ours = Vec::new();
    let mut unsegmented = Vec::new();
    let mut plain = Vec::new();
    let mut plain_fed = Vec::new();
    let report = |run: usize, what: &str, r: &IngestRun| {
        let [cpu_a, cpu_b, cpu_s] = r.cpu_us;
        println!(
            "  run {run}: {what} {:>7.0} msg/s ({:.2} datagrams/msg out, {:.3} back; CPU/msg: \
             sender {cpu_a:.1} µs, chat loop {cpu_b:.1} µs, store {cpu_s:.1} µs)",
            r.rate, r.out, r.back
        );
    };
    for run in 0..runs {
        let p = plain_run(n, size, false);
        let pf = plain_run(n, size, true);
        println!(
            "  run {run}: plain recv_from {p:>7.0} dgram/s; fed by a segmenting sender {pf:>7.0} dgram/s"
        );
        plain_fed.push(pf);
        let r = lanchat_run(n, true);
        report(run, "lanchat", &r);
        ours.push(r.rate);
        let r = lanchat_run(n, false);
        report(run, "lanchat, no send offload", &r);
        unsegmented.push(r.rate);
        plain.push(p);
    }
    let (o, u, p, pf) = (
        median(ours),
        median(unsegmented),
        median(plain),
        median(plain_fed),
    );

    let per_run = support::env_usize("LANCHAT_BENCH_PINGS", 1_000) as u64;
    let (mut p50, mut p99, mut b50, mut b99) = (vec![], vec![], vec![], vec![]);
    for run in 0..runs {
        let mut base = ping_pong_run(per_run);
        let mut ours = latency_run(per_run);
        base.sort();
        ours.sort();
        println!(
            "  run {run}: send to delivered p50 {:.3} ms p99 {:.3} ms   plain ping-pong p50 {:.3} ms p99 {:.3} ms",
            ms(quantile(&ours, 0.5)),
            ms(quantile(&ours, 0.99)),
            ms(quantile(&base, 0.5)),
            ms(quantile(&base, 0.99)),
        );
        p50.push(ms(quantile(&ours, 0.5)));
        p99.push(ms(quantile(&ours, 0.99)));
        b50.push(ms(quantile(&base, 0.5)));
        b99.push(ms(quantile(&base, 0.99)));
    }
    let (p50, p99, b50, b99) = (median(p50), median(p99), median(b50), median(b99));
    print_rows(
        "Ingest and latency",
        &[
            Row::new(
                format!(
                    "latency: send → \"delivered\" (stored by bob, acked), {per_run} one at a time, p50"
                ),
                format!("{p50:.3} ms"),
                format!("{b50:.3} ms (plain UDP ping-pong)"),
                format!("{:.2}", p50 / b50),
                "—",
                true,
            ),
            Row::new(
                "latency: send → \"delivered\", p99",
                format!("{p99:.3} ms"),
                format!("{b99:.3} ms (plain UDP ping-pong)"),
                format!("{:.2}", p99 / b99),
                "≤ 5 ms (with encryption)",
                p99 <= 5.0,
            ),
            Row::new(
                format!(
                    "ingest: loopback → decode → dedup → store (durable ack) → App::update, {size}-byte datagrams"
                ),
                format!("{o:.0} msg/s"),
                format!("{p:.0} dgram/s (plain tokio recv_from, fed one sendto per datagram)"),
                format!("{:.2}", o / p),
                "≥ 100,000 msg/s and ≥ 0.40",
                o >= 100_000.0 && o / p >= 0.4,
            ),
            Row::new(
                "ingest, both nodes sending every datagram with its own sendto (no segmentation offload)",
                format!("{u:.0} msg/s"),
                format!("{p:.0} dgram/s (plain tokio recv_from)"),
                format!("{:.2}", u / p),
                "— (shows what offload adds)",
                true,
            ),
            Row::new(
                "ingest (as in the program) against a recv_from loop fed by a segmenting sender",
                format!("{o:.0} msg/s"),
                format!("{pf:.0} dgram/s (plain tokio recv_from, cheap sender)"),
                format!("{:.2}", o / pf),
                "— (the loop's own limit as baseline)",
                true,
            ),
        ],
    );
}
