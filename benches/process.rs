//! The whole program, measured from outside: the release `lanchat` binary in a
//! pseudo-terminal (portable-pty), its screen read back through a terminal emulator (vt100),
//! its threads through /proc.
//!
//! - Start: from spawning the process to its first frame on the terminal (the status line
//!   drawn), with an empty data dir and with a 1,000,000-message history; for the latter also
//!   until the latest message is on screen.
//! - Memory: peak RSS (VmHWM) after opening that history, jumping to its first message,
//!   paging down through the store and jumping back to the latest.
//! - Start after a plain-text flood: a client receives 100,000 plain-text datagrams, each
//!   from another loopback address and port (each a would-be conversation), and quits; then
//!   the time from spawning it again on that data dir to its first frame.
//! - Idle: wake-ups per second of a client with one peer online and nothing happening
//!   (voluntary context switches of all its threads; each wake-up from sleep is one), over
//!   `LANCHAT_BENCH_IDLE_SECS` seconds (default 30), beacons and keep-alives included.
//! - Flood: 100,000 datagrams (a third random bytes, a third lanchat-framed garbage, a third
//!   plain-text chat lines, which are stored and shown) sent at the client as fast as one
//!   socket can, and all the while a lanchat peer (a `Node` in this process, over a Noise
//!   session) sending it real messages as fast as its window lets it, while keys are typed (each 10 ms after the last showed): the time from writing each key to the pty
//!   to the frame that shows it, against the same without the flood.
//!
//! Every instance binds 127.0.0.1, port 0, with discovery off and a data dir of its own.
//! Run: `cargo bench --bench process` (part of `cargo bench`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/support/history.rs"]
mod history;
mod support;

use lanchat::proto::NodeId;
use portable_pty::{Child, CommandBuilder, MasterPty, PtySize, native_pty_system};
use std::io::{Read, Write};
use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};
use support::{Row, median, ms, print_rows, quantile};

const COLS: u16 = 200;
const ROWS: u16 = 50;
const PATIENCE: Duration = Duration::from_secs(30);

/// One `lanchat` in its own pseudo-terminal. Dropping it kills the process.
struct Proc {
    spawned: Instant,
    pid: u32,
    parser: vt100::Parser,
    /// Output chunks, stamped when the reader thread got them.
    rx: mpsc::Receiver<(Instant, Vec<u8>)>,
    writer: Box<dyn Write + Send>,
    child: Box<dyn Child + Send + Sync>,
    _master: Box<dyn MasterPty + Send>,
}

impl Proc {
    fn spawn(name: &str, dir: &Path, extra: &[String]) -> Proc {
        let pty = native_pty_system()
            .openpty(PtySize {
                rows: ROWS,
                cols: COLS,
                pixel_width: 0,
                pixel_height: 0,
            })
            .unwrap();
        let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_lanchat"));
        cmd.args(["--bind", "127.0.0.1", "--port", "0", "--no-discovery"]);
        cmd.args(["--name", name, "--data-dir"]);
        cmd.arg(dir);
        cmd.args(extra);
        cmd.cwd(dir);
        cmd.env("TERM", "xterm-256color");
        cmd.env_remove("LANCHAT_DATA_DIR");
        cmd.env_remove("LANCHAT_CONFIG");
        cmd.env_remove("LANCHAT_LOG");
        let spawned = Instant::now();
        let child = pty.slave.spawn_command(cmd).unwrap();
        drop(pty.slave);
        let pid = child.process_id().unwrap();
        let mut reader = pty.master.try_clone_reader().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 65_536];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 || tx.send((Instant::now(), buf[..n].to_vec())).is_err() {
                    break;
                }
            }
        });
        let writer = pty.master.take_writer().unwrap();
        Proc {
            spawned,
            pid,
            parser: vt100::Parser::new(ROWS, COLS, 0),
            rx,
            writer,
            child,
            _master: pty.master,
        }
    }

    fn screen(&self) -> String {
        self.parser.screen().contents()
    }

    /// Reads output until the screen satisfies `cond` (at once if it does already); returns
    /// when the output that made it so arrived.
    fn wait(&mut self, what: &str, cond: impl Fn(&str) -> bool) -> Instant {
        if cond(&self.screen()) {
            return Instant::now();
        }
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok((at, bytes)) => {
                    self.parser.process(&bytes);
                    if cond(&self.screen()) {
                        return at;
                    }
                }
                Err(_) => panic!("never saw {what}:\n{}", self.screen()),
            }
        }
    }

    /// Takes whatever output is there without waiting.
    fn pump(&mut self) {
        while let Ok((_, bytes)) = self.rx.try_recv() {
            self.parser.process(&bytes);
        }
    }

    fn type_bytes(&mut self, bytes: &[u8]) -> Instant {
        let at = Instant::now();
        self.writer.write_all(bytes).unwrap();
        self.writer.flush().unwrap();
        at
    }

    /// The address in the status line (`127.0.0.1:PORT`).
    fn listen_addr(&mut self) -> SocketAddr {
        let at = |s: &str| {
            let i = s.find("127.0.0.1:")?;
            let port: String = s[i + 10..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            format!("127.0.0.1:{port}").parse::<SocketAddr>().ok()
        };
        self.wait("the listen address", |s| at(s).is_some());
        at(&self.screen()).unwrap()
    }

    /// Ctrl-C, and waits for the process to end.
    fn quit(mut self) {
        self.type_bytes(b"\x03");
        let deadline = Instant::now() + PATIENCE;
        while self.child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "lanchat did not quit");
            self.pump();
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The first frame: the status line with the user's name.
fn first_frame(p: &mut Proc, name: &str) -> Duration {
    let needle = format!(" {name} · ");
    p.wait("the first frame", |s| s.contains(&needle)) - p.spawned
}

fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which is in parentheses): utime is 14th, stime 15th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0)
}

const CTRL_HOME: &[u8] = b"\x1b[1;5H";
const CTRL_END: &[u8] = b"\x1b[1;5F";
const PAGE_DOWN: &[u8] = b"\x1b[6~";

struct Start {
    empty: Vec<f64>,
    big_first: Vec<f64>,
    big_latest: Vec<f64>,
    rss_mb: Vec<f64>,
}

fn start_and_memory(runs: usize, big: &Path) -> Start {
    let mut s = Start {
        empty: vec![],
        big_first: vec![],
        big_latest: vec![],
        rss_mb: vec![],
    };
    for _ in 0..runs {
        let dir = tempfile::tempdir().unwrap();
        let mut p = Proc::spawn("me", dir.path(), &[]);
        s.empty.push(ms(first_frame(&mut p, "me")));
        p.quit();

        let mut p = Proc::spawn("me", big, &[]);
        s.big_first.push(ms(first_frame(&mut p, "me")));
        let latest = p.wait("the latest message", |s| s.contains("history line 999999 "));
        s.big_latest.push(ms(latest - p.spawned));
        // Scroll through: to the first message, down through pages of the store, back.
        p.type_bytes(CTRL_HOME);
        p.wait("the first message", |s| s.contains("history line 0 "));
        for _ in 0..60 {
            p.type_bytes(PAGE_DOWN);
            std::thread::sleep(Duration::from_millis(3));
            p.pump();
        }
        p.wait("paging down", |s| !s.contains("history line 0 "));
        p.type_bytes(CTRL_END);
        p.wait("the latest message again", |s| {
            s.contains("history line 999999 ")
        });
        let hwm = support::proc_status_kib(&p.pid.to_string(), "VmHWM").unwrap();
        s.rss_mb.push(hwm as f64 / 1024.0);
        p.quit();
    }
    s
}

/// Sends `datagrams` plain-text lines to `to`, each from a socket of its own: rounds of 500
/// fresh sockets, each round on another 127.x address, so every line comes from another
/// address and port, as a spoofer would send them.
fn plain_flood(to: SocketAddr, datagrams: usize) {
    const SOCKETS: usize = 500;
    for round in 0..datagrams.div_ceil(SOCKETS) {
        let from = std::net::Ipv4Addr::new(127, 1, (round / 250) as u8, (round % 250 + 1) as u8);
        let sockets: Vec<UdpSocket> = (0..SOCKETS.min(datagrams - round * SOCKETS))
            .map(|_| UdpSocket::bind((from, 0)).unwrap())
            .collect();
        for (i, s) in sockets.iter().enumerate() {
            let line = format!("stranger {round}/{i}: hello\n");
            let _ = s.send_to(line.as_bytes(), to);
        }
    }
}

/// A data dir whose client took a plain-text flood of `datagrams` from thousands of ports,
/// and the conversations it then held on disk.
fn flooded_dir(datagrams: usize) -> (tempfile::TempDir, usize) {
    let dir = tempfile::tempdir().unwrap();
    let mut p = Proc::spawn("me", dir.path(), &[]);
    let addr = p.listen_addr();
    plain_flood(addr, datagrams);
    p.wait("the strangers", |s| s.contains("≈ Strangers ("));
    // Let it store what reached it before it quits.
    std::thread::sleep(Duration::from_secs(1));
    p.pump();
    p.quit();
    let store = lanchat::store::Store::open(&dir.path().join("history.db")).unwrap();
    let n = store.conversations().unwrap().len();
    (dir, n)
}

/// Time to the first frame of a client started on `dir`, per run.
fn start_on(dir: &Path, runs: usize) -> Vec<f64> {
    (0..runs)
        .map(|_| {
            let mut p = Proc::spawn("me", dir, &[]);
            let t = ms(first_frame(&mut p, "me"));
            p.quit();
            t
        })
        .collect()
}

/// Wake-ups per second and CPU ticks per minute of an idle client with one peer online.
fn idle(secs: u64) -> (f64, f64) {
    let dir_b = tempfile::tempdir().unwrap();
    let mut b = Proc::spawn("bob", dir_b.path(), &[]);
    let b_addr = b.listen_addr();
    let dir_a = tempfile::tempdir().unwrap();
    let mut a = Proc::spawn(
        "alice",
        dir_a.path(),
        &["--peer".into(), b_addr.to_string()],
    );
    a.wait("bob online", |s| s.contains("1 online"));
    b.wait("alice online", |s| s.contains("1 online"));
    // Let the start-up burst of beacons and the first frames pass.
    std::thread::sleep(Duration::from_secs(5));
    a.pump();
    b.pump();
    let (v0, _) = support::context_switches(a.pid);
    assert!(v0 > 0, "no context switches read from /proc/{}", a.pid);
    let c0 = cpu_ticks(a.pid);
    let t0 = Instant::now();
    let end = t0 + Duration::from_secs(secs);
    while Instant::now() < end {
        std::thread::sleep(Duration::from_millis(500));
        a.pump();
        b.pump();
    }
    let (v1, _) = support::context_switches(a.pid);
    let c1 = cpu_ticks(a.pid);
    let took = t0.elapsed().as_secs_f64();
    assert!(
        a.screen().contains("1 online"),
        "bob went away:\n{}",
        a.screen()
    );
    a.quit();
    b.quit();
    ((v1 - v0) as f64 / took, (c1 - c0) as f64 / took * 60.0)
}

/// The time from each key written to the pty to the output that shows it, typing one key
/// 10 ms after the last one showed, for as long as `busy` says.
fn type_and_time(p: &mut Proc, typed: &mut String, busy: impl Fn() -> bool) -> Vec<Duration> {
    let mut times = Vec::new();
    let digits = b"0123456789";
    loop {
        let c = digits[typed.len() % 10];
        // The input box scrolls sideways past its width: start again with a fresh line.
        if typed.len() >= 140 {
            let old = typed.clone();
            p.type_bytes(b"\x15"); // Ctrl-U: delete to the start of the line
            p.wait("the input cleared", |s| !s.contains(&old));
            typed.clear();
            typed.push_str("zq");
            p.type_bytes(b"zq");
            p.wait("the input", |s| s.contains("zq"));
        }
        typed.push(c as char);
        let want = typed.clone();
        let at = p.type_bytes(&[c]);
        let shown = p.wait("the key", |s| s.contains(&want));
        times.push(shown.saturating_duration_since(at));
        std::thread::sleep(Duration::from_millis(10));
        if !busy() {
            return times;
        }
    }
}

struct Flood {
    quiet: Vec<Duration>,
    flooded: Vec<Duration>,
    flood_secs: f64,
    /// Encrypted messages the peer saw delivered (stored by the flooded client) meanwhile.
    delivered: u64,
}

/// A lanchat peer that meets the client at `addr` (a Noise handshake), says so on `ready`,
/// then keeps sending it messages until `done`, at most `MAX_UNSETTLED` not yet delivered.
/// Returns how many were delivered.
fn encrypted_peer(
    addr: SocketAddr,
    ready: mpsc::Sender<()>,
    done: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> u64 {
    use lanchat::proto::{ConversationId, DeliveryState, Event, Identity, MsgId};
    const MAX_UNSETTLED: u64 = 400;
    let dir = tempfile::tempdir().unwrap();
    let rt = support::runtime();
    rt.block_on(async {
        let settings = lanchat::config::Settings::loopback("peer", dir.path());
        let mut node =
            lanchat::runtime::Node::start(&settings, Identity::from_secret([7; 32])).unwrap();
        node.add_peer(addr);
        let deadline = Instant::now() + PATIENCE;
        let to = loop {
            let secured = node
                .endpoint
                .peers()
                .find(|p| p.online && node.endpoint.is_secured(Instant::now(), &p.id))
                .map(|p| p.id);
            if let Some(id) = secured {
                break ConversationId::Peer(id);
            }
            assert!(Instant::now() < deadline, "the peer never met the client");
            node.drain();
            let _ = tokio::time::timeout(Duration::from_millis(20), node.wake()).await;
        };
        ready.send(()).unwrap();
        let (mut sent, mut delivered) = (0u64, 0u64);
        while !done.load(std::sync::atomic::Ordering::SeqCst) {
            while sent - delivered < MAX_UNSETTLED {
                sent += 1;
                let text = format!("encrypted message {sent} during the flood");
                if node
                    .send(to, MsgId(sent), 1_700_000_000_000, &text)
                    .is_err()
                {
                    sent -= 1;
                    break;
                }
            }
            for e in node.drain() {
                if let Event::State { state, .. } = e
                    && state == DeliveryState::Delivered
                {
                    delivered += 1;
                }
            }
            let _ = tokio::time::timeout(Duration::from_millis(10), node.wake()).await;
        }
        delivered
    })
}

fn flood(datagrams: usize) -> Flood {
    let dir = tempfile::tempdir().unwrap();
    let mut p = Proc::spawn("me", dir.path(), &[]);
    let addr = p.listen_addr();
    let mut typed = String::from("zq");
    p.type_bytes(b"zq");
    p.wait("the input", |s| s.contains("zq"));
    // Baseline: the same keys without the flood.
    let quiet_until = Instant::now() + Duration::from_millis(600);
    let quiet = type_and_time(&mut p, &mut typed, || Instant::now() < quiet_until);

    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (ready_tx, ready_rx) = mpsc::channel();
    let peer_done = done.clone();
    let peer = std::thread::spawn(move || encrypted_peer(addr, ready_tx, peer_done));
    ready_rx
        .recv_timeout(PATIENCE)
        .expect("the encrypted peer never got ready");
    let flag = done.clone();
    let t0 = Instant::now();
    let sender = std::thread::spawn(move || {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut rng: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let mut buf = Vec::with_capacity(1200);
        for i in 0..datagrams {
            buf.clear();
            match i % 3 {
                0 => {
                    let n = (next() % 1200) as usize + 1;
                    buf.extend((0..n).map(|_| next() as u8));
                }
                1 => {
                    buf.extend_from_slice(&[0xFF, b'L', b'C', 1]);
                    let n = (next() % 200) as usize;
                    buf.extend((0..n).map(|_| next() as u8));
                }
                _ => buf.extend_from_slice(format!("flood line {i}: hello there\n").as_bytes()),
            }
            let _ = s.send_to(&buf, addr);
        }
        flag.store(true, std::sync::atomic::Ordering::SeqCst);
    });
    let flooded = type_and_time(&mut p, &mut typed, || {
        !done.load(std::sync::atomic::Ordering::SeqCst)
    });
    let flood_secs = t0.elapsed().as_secs_f64();
    sender.join().unwrap();
    let delivered = peer.join().unwrap();
    assert!(
        p.child.try_wait().unwrap().is_none(),
        "lanchat died under the flood"
    );
    p.quit();
    Flood {
        quiet,
        flooded,
        flood_secs,
        delivered,
    }
}

fn main() {
    let runs = support::runs();
    let idle_secs = support::env_usize("LANCHAT_BENCH_IDLE_SECS", 30) as u64;
    let big = tempfile::tempdir().unwrap();
    let t = Instant::now();
    history::fill(&big.path().join("history.db"), NodeId([9; 32]), 1_000_000);
    println!(
        "the release binary in a {COLS}x{ROWS} pty; {runs} runs; generated 1,000,000 messages in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let mut rows = Vec::new();

    let s = start_and_memory(runs, big.path());
    let (empty, first, latest, rss) = (
        median(s.empty),
        median(s.big_first),
        median(s.big_latest),
        median(s.rss_mb),
    );
    println!(
        "  start: empty {empty:.1} ms; 1M history: first frame {first:.1} ms, latest message {latest:.1} ms; peak RSS {rss:.1} MB"
    );
    rows.push(Row::new(
        "start to first frame, empty data dir",
        format!("{empty:.1} ms"),
        "—",
        "—",
        "≤ 150 ms",
        empty <= 150.0,
    ));
    rows.push(Row::new(
        "start to first frame, 1,000,000-message history",
        format!("{first:.1} ms"),
        format!("{empty:.1} ms (empty)"),
        format!("{:.2}", first / empty),
        "≤ 150 ms",
        first <= 150.0,
    ));
    rows.push(Row::new(
        "start to latest message on screen, 1,000,000-message history",
        format!("{latest:.1} ms"),
        format!("{empty:.1} ms (empty, first frame)"),
        format!("{:.2}", latest / empty),
        "≤ 150 ms",
        latest <= 150.0,
    ));
    rows.push(Row::new(
        "peak RSS, 1,000,000 messages opened, to the top, paged, back",
        format!("{rss:.1} MB"),
        "—",
        "—",
        "≤ 64 MB",
        rss <= 64.0,
    ));

    let n = support::env_usize("LANCHAT_BENCH_FLOOD", 100_000);
    let (flooded_data, on_disk) = flooded_dir(n);
    let after = median(start_on(flooded_data.path(), runs));
    println!(
        "  start after a plain-text flood of {n} datagrams ({on_disk} conversations on disk): first frame {after:.1} ms"
    );
    rows.push(Row::new(
        format!("start to first frame after a plain-text flood of {n} datagrams, each from another address"),
        format!("{after:.1} ms ({on_disk} conversations kept)"),
        format!("{empty:.1} ms (empty)"),
        format!("{:.2}", after / empty),
        "≤ 150 ms",
        after <= 150.0,
    ));

    let mut quiet = Vec::new();
    let mut flooded = Vec::new();
    let mut worst = Vec::new();
    let mut secs = Vec::new();
    for _ in 0..runs.min(3) {
        let mut f = flood(n);
        f.quiet.sort();
        f.flooded.sort();
        quiet.push(ms(quantile(&f.quiet, 0.5)));
        flooded.push(ms(quantile(&f.flooded, 0.5)));
        worst.push(ms(*f.flooded.last().unwrap()));
        secs.push(f.flood_secs);
        println!(
            "  flood of {n} datagrams over {:.2} s, {} encrypted messages delivered meanwhile: {} keys, key to frame p50 {:.1} ms, max {:.1} ms (quiet p50 {:.1} ms)",
            f.flood_secs,
            f.delivered,
            f.flooded.len(),
            ms(quantile(&f.flooded, 0.5)),
            ms(*f.flooded.last().unwrap()),
            ms(quantile(&f.quiet, 0.5))
        );
    }
    let (q, fl, w) = (median(quiet), median(flooded), median(worst));
    rows.push(Row::new(
        format!(
            "key to frame under a flood of {n} datagrams (garbage, plain text) plus an encrypted peer sending, slowest key"
        ),
        format!("{w:.1} ms (p50 {fl:.1} ms)"),
        format!("{q:.1} ms (p50, no flood)"),
        format!("{:.2}", fl / q),
        "≤ 50 ms",
        w <= 50.0,
    ));

    let (wakeups, ticks) = idle(idle_secs);
    println!(
        "  idle with one peer online, {idle_secs} s: {wakeups:.2} wake-ups/s, {ticks:.1} CPU ticks/min"
    );
    rows.push(Row::new(
        format!("idle wake-ups, one peer online ({idle_secs} s)"),
        format!("{wakeups:.2} /s"),
        "—",
        "—",
        "≤ 1 /s",
        wakeups <= 1.0,
    ));
    print_rows("Whole process", &rows);
}
