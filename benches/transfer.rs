//! Files (issue 15): a 1 GiB file over loopback through `runtime::transfer` (Noise over
//! TCP, BLAKE3, partial file, fsync, rename) against a plain TCP copy of the same file into
//! a file, in the same run. Sender and receiver run as two child processes (this program
//! again, in a role), so each reports its own peak RSS (VmHWM) and CPU time.
//!
//! Run: `cargo bench --bench transfer`. Knobs: `LANCHAT_BENCH_RUNS` (5),
//! `LANCHAT_BENCH_FILE_MB` (1024), `LANCHAT_BENCH_DIR` (the temp dir; the file and its
//! copies go there: 3× the file's size is needed).
//!
//! The plain copy is a `read`/`write` loop with a 64 KiB buffer on each side (the chunk
//! size of the encrypted path), and the receiver fsyncs at the end, as ours does before it
//! keeps a file; the sender does no `sendfile`. Both read a source that is in the page
//! cache (it was just written).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use lanchat::proto::Identity;
use lanchat::proto::filedata::{
    DataBuf, Initiator, MAX_CHUNK, MAX_MESSAGE, Request, Responder, SEALED_MAX, Status, Suite,
    TransferId,
};
use lanchat::runtime::transfer::{Fetch, Limits, Offered, Offers, ServeEvent, fetch, serve};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;
use support::{Row, median, print_rows, proc_status_kib, runs};

const ROLE: &str = "LANCHAT_BENCH_ROLE";
const ARGS: &str = "LANCHAT_BENCH_ARGS";
const ID: TransferId = TransferId([0x42; 16]);
const PLAIN_BUF: usize = 64 << 10;

fn sender_identity() -> Identity {
    Identity::from_secret([0xA1; 32])
}

fn receiver_identity() -> Identity {
    Identity::from_secret([0xB0; 32])
}

fn suite_named(s: &str) -> Suite {
    match s {
        "chacha" => Suite::ChaChaPoly,
        _ => Suite::AesGcm,
    }
}

/// This process's CPU time so far (user + system, all threads), seconds.
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = after.split(' ').collect();
    // Fields 14 and 15 of the whole line: utime, stime, in clock ticks (100 a second).
    let ticks: f64 = f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap();
    ticks / 100.0
}

fn report(secs: f64) {
    println!(
        "stats {secs} {} {}",
        proc_status_kib("self", "VmHWM").unwrap_or(0),
        cpu_secs()
    );
}

/// What a child reports: seconds (receivers), peak RSS in KiB, CPU seconds.
#[derive(Clone, Copy, Debug)]
struct Stats {
    secs: f64,
    rss_kib: u64,
    cpu: f64,
}

fn parse_stats(line: &str) -> Stats {
    let f: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(f[0], "stats", "unexpected child output: {line}");
    Stats {
        secs: f[1].parse().unwrap(),
        rss_kib: f[2].parse().unwrap(),
        cpu: f[3].parse().unwrap(),
    }
}

fn child(role: &str) {
    let args = std::env::var(ARGS).unwrap_or_default();
    let a: Vec<&str> = args.split('\t').collect();
    match role {
        "plain-send" => {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            println!("addr {}", listener.local_addr().unwrap());
            std::io::stdout().flush().unwrap();
            let (mut sock, _) = listener.accept().unwrap();
            let start = Instant::now();
            let mut file = std::fs::File::open(a[0]).unwrap();
            let mut buf = vec![0u8; PLAIN_BUF];
            loop {
                let n = file.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                sock.write_all(&buf[..n]).unwrap();
            }
            sock.shutdown(std::net::Shutdown::Write).unwrap();
            let _ = sock.read(&mut buf);
            report(start.elapsed().as_secs_f64());
        }
        "plain-recv" => {
            let start = Instant::now();
            let mut sock = TcpStream::connect(a[0]).unwrap();
            let mut file = std::fs::File::create(a[1]).unwrap();
            let mut buf = vec![0u8; PLAIN_BUF];
            loop {
                let n = sock.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                file.write_all(&buf[..n]).unwrap();
            }
            file.sync_all().unwrap();
            report(start.elapsed().as_secs_f64());
        }
        "noise-send" => {
            let rt = support::runtime();
            rt.block_on(async {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                let offers = Offers::default();
                let size = std::fs::metadata(a[0]).unwrap().len();
                offers.insert(
                    ID,
                    Offered {
                        path: PathBuf::from(a[0]),
                        size,
                        peer: receiver_identity().public(),
                    },
                );
                let (tx, mut rx) = tokio::sync::mpsc::channel(64);
                let server = serve(
                    listener,
                    sender_identity(),
                    suite_named(a[1]),
                    Limits::default(),
                    offers,
                    tx,
                )
                .unwrap();
                println!("addr {}", server.local_addr());
                std::io::stdout().flush().unwrap();
                let start = Instant::now();
                loop {
                    match rx.recv().await.unwrap() {
                        ServeEvent::Finished { .. } => break,
                        ServeEvent::Failed { error, .. } => panic!("sender failed: {error}"),
                        _ => {}
                    }
                }
                report(start.elapsed().as_secs_f64());
            });
        }
        "noise-recv" => {
            let rt = support::runtime();
            let job = Fetch {
                me: receiver_identity(),
                peer: sender_identity().public(),
                addr: a[0].parse().unwrap(),
                id: ID,
                size: a[1].parse().unwrap(),
                hash: unhex(a[2]),
                partial: PathBuf::from(a[3]),
                dest: PathBuf::from(a[4]),
                suite: suite_named(a[5]),
                limits: Limits::default(),
            };
            let start = Instant::now();
            let got = rt.block_on(fetch(job, None)).unwrap();
            let secs = start.elapsed().as_secs_f64();
            assert_eq!(
                got.received + got.resumed_from,
                a[1].parse::<u64>().unwrap()
            );
            report(secs);
        }
        other => panic!("unknown role {other}"),
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
    }
    out
}

fn spawn(role: &str, args: &[String]) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .env(ROLE, role)
        .env(ARGS, args.join("\t"))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Runs a sender and a receiver child; returns (sender, receiver) stats.
fn pair(
    send: &str,
    send_args: Vec<String>,
    recv: &str,
    recv_args: impl FnOnce(SocketAddr) -> Vec<String>,
) -> (Stats, Stats) {
    let mut s = spawn(send, &send_args);
    let mut out = BufReader::new(s.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let addr: SocketAddr = line.trim().strip_prefix("addr ").unwrap().parse().unwrap();
    let r = spawn(recv, &recv_args(addr));
    let r_out = r.wait_with_output().unwrap();
    assert!(r_out.status.success(), "receiver failed");
    let r_stats = parse_stats(
        String::from_utf8_lossy(&r_out.stdout)
            .lines()
            .last()
            .unwrap(),
    );
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    assert!(s.wait().unwrap().success(), "sender failed");
    let s_stats = parse_stats(rest.lines().last().unwrap());
    (s_stats, r_stats)
}

fn make_file(path: &Path, len: u64) -> [u8; 32] {
    let mut f = std::fs::File::create(path).unwrap();
    let mut hasher = blake3::Hasher::new();
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut block = vec![0u8; 1 << 20];
    let mut left = len;
    while left > 0 {
        for w in block.chunks_exact_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            w.copy_from_slice(&state.to_le_bytes());
        }
        let n = left.min(block.len() as u64) as usize;
        f.write_all(&block[..n]).unwrap();
        hasher.update(&block[..n]);
        left -= n as u64;
    }
    f.sync_all().unwrap();
    *hasher.finalize().as_bytes()
}

/// Seal and open `total` bytes in memory with a suite: the cipher's cost alone, GB/s.
fn cipher_speed(suite: Suite, total: u64) -> f64 {
    let (r, s) = (receiver_identity(), sender_identity());
    let req = Request { id: ID, offset: 0 };
    let (init, hello) = Initiator::start(&r, &s.public(), req, suite).unwrap();
    let (resp, _, _) = Responder::read_hello(&s, &hello[2..], suite).unwrap();
    let (reply, tx) = resp.reply(Status::Ok, total).unwrap();
    let (_, _, rx) = init.read_reply(&reply[2..]).unwrap();
    let (mut tx, mut rx) = (tx.unwrap(), rx.unwrap());
    let mut buf = DataBuf::default();
    buf.space().fill(7);
    let mut out = vec![0u8; SEALED_MAX];
    let mut scratch = vec![0u8; MAX_MESSAGE];
    let start = Instant::now();
    let mut done = 0u64;
    while done < total {
        let n = tx.seal_data(&buf, MAX_CHUNK, &mut out).unwrap();
        rx.open(&out[2..n], &mut scratch).unwrap();
        done += MAX_CHUNK as u64;
    }
    done as f64 / start.elapsed().as_secs_f64() / 1e9
}

fn main() {
    if let Ok(role) = std::env::var(ROLE) {
        return child(&role);
    }
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let mb = support::env_usize("LANCHAT_BENCH_FILE_MB", 1024) as u64;
    let size = mb << 20;
    let gib = size as f64 / (1u64 << 30) as f64;
    let base =
        std::env::var("LANCHAT_BENCH_DIR").map_or_else(|_| std::env::temp_dir(), PathBuf::from);
    let dir = tempfile::tempdir_in(&base).unwrap();
    let src = dir.path().join("source");
    let t = Instant::now();
    let hash = make_file(&src, size);
    println!("made a {mb} MiB file in {:.1} s", t.elapsed().as_secs_f64());

    // The ciphers alone (seal + open, one thread).
    let mut chacha = Vec::new();
    let mut aes = Vec::new();
    for _ in 0..runs() {
        chacha.push(cipher_speed(Suite::ChaChaPoly, 256 << 20));
        aes.push(cipher_speed(Suite::AesGcm, 256 << 20));
    }
    let (chacha, aes) = (median(chacha), median(aes));
    println!(
        "cipher, seal + open in one thread: ChaChaPoly {chacha:.2} GB/s, AES-GCM {aes:.2} GB/s"
    );
    let blake = {
        let buf = vec![7u8; 1 << 20];
        let start = Instant::now();
        let mut h = blake3::Hasher::new();
        for _ in 0..512 {
            h.update(&buf);
        }
        let _ = h.finalize();
        (512u64 << 20) as f64 / start.elapsed().as_secs_f64() / 1e9
    };
    println!("BLAKE3, one thread: {blake:.2} GB/s");

    let dest = dir.path().join("dest");
    let partial = dir.path().join("dest.part");
    let clean = || {
        let _ = std::fs::remove_file(&dest);
        let _ = std::fs::remove_file(&partial);
    };
    let noise_args =
        |suite: &'static str, src: &Path| vec![src.display().to_string(), suite.to_string()];
    let recv_args = |suite: &'static str| {
        let (partial, dest) = (partial.clone(), dest.clone());
        move |addr: SocketAddr| {
            vec![
                addr.to_string(),
                size.to_string(),
                hex(&hash),
                partial.display().to_string(),
                dest.display().to_string(),
                suite.to_string(),
            ]
        }
    };

    let mut plain = Vec::new();
    let mut noise: Vec<(Stats, Stats)> = Vec::new();
    let mut noise_chacha: Vec<(Stats, Stats)> = Vec::new();
    let mut resumed: Vec<(Stats, Stats)> = Vec::new();
    for run in 0..runs() {
        clean();
        let d = dest.display().to_string();
        let p = pair(
            "plain-send",
            vec![src.display().to_string()],
            "plain-recv",
            |addr| vec![addr.to_string(), d.clone()],
        );
        clean();
        let n = pair(
            "noise-send",
            noise_args("aes", &src),
            "noise-recv",
            recv_args("aes"),
        );
        assert_eq!(std::fs::metadata(&dest).unwrap().len(), size);
        clean();
        let c = pair(
            "noise-send",
            noise_args("chacha", &src),
            "noise-recv",
            recv_args("chacha"),
        );
        clean();
        // Resume at 50 %: the first half already in the partial file.
        {
            let mut from = std::fs::File::open(&src).unwrap();
            let mut to = std::fs::File::create(&partial).unwrap();
            std::io::copy(&mut (&mut from).take(size / 2), &mut to).unwrap();
            to.sync_all().unwrap();
        }
        let r = pair(
            "noise-send",
            noise_args("aes", &src),
            "noise-recv",
            recv_args("aes"),
        );
        clean();
        println!(
            "run {run}: plain {:.3} s, lanchat (AES-GCM) {:.3} s, lanchat (ChaChaPoly) {:.3} s, resume at 50 % {:.3} s",
            p.1.secs, n.1.secs, c.1.secs, r.1.secs
        );
        plain.push(p);
        noise.push(n);
        noise_chacha.push(c);
        resumed.push(r);
    }

    let med = |v: &[(Stats, Stats)], f: &dyn Fn(&(Stats, Stats)) -> f64| {
        median(v.iter().map(f).collect())
    };
    let plain_s = med(&plain, &|p| p.1.secs);
    let noise_s = med(&noise, &|p| p.1.secs);
    let chacha_s = med(&noise_chacha, &|p| p.1.secs);
    let resume_s = med(&resumed, &|p| p.1.secs);
    let mbps = |secs: f64| size as f64 / secs / 1e6;
    let ratio = plain_s / noise_s;
    let peak = |v: &[(Stats, Stats)], recv: bool| {
        v.iter()
            .map(|p| if recv { p.1.rss_kib } else { p.0.rss_kib })
            .max()
            .unwrap_or(0) as f64
            / 1024.0
    };
    let rss_send = peak(&noise, false).max(peak(&resumed, false));
    let rss_recv = peak(&noise, true).max(peak(&resumed, true));
    let cpu_send = med(&noise, &|p| p.0.cpu) / gib;
    let cpu_recv = med(&noise, &|p| p.1.cpu) / gib;
    let plain_cpu_send = med(&plain, &|p| p.0.cpu) / gib;
    let plain_cpu_recv = med(&plain, &|p| p.1.cpu) / gib;
    let fresh_half = noise_s / 2.0;
    let rows = vec![
        Row::new(
            format!(
                "{mb} MiB over loopback, Noise (AES-GCM) + BLAKE3 + fsync + rename, receiver's time"
            ),
            format!("{noise_s:.3} s ({:.0} MB/s)", mbps(noise_s)),
            format!(
                "{plain_s:.3} s ({:.0} MB/s), plain TCP read/write loop + fsync",
                mbps(plain_s)
            ),
            format!("{ratio:.2}"),
            "≥ 0.7",
            ratio >= 0.7,
        ),
        Row::new(
            "the same with ChaCha20-Poly1305",
            format!("{chacha_s:.3} s ({:.0} MB/s)", mbps(chacha_s)),
            format!("{plain_s:.3} s"),
            format!("{:.2}", plain_s / chacha_s),
            "—",
            true,
        ),
        Row::new(
            "peak RSS (VmHWM), sender / receiver, any run",
            format!("{rss_send:.1} MB / {rss_recv:.1} MB"),
            format!(
                "{:.1} MB / {:.1} MB (plain)",
                peak(&plain, false),
                peak(&plain, true)
            ),
            "—",
            "< 64 MB",
            rss_send < 64.0 && rss_recv < 64.0,
        ),
        Row::new(
            "CPU per GiB, sender / receiver (user + system)",
            format!("{cpu_send:.2} s / {cpu_recv:.2} s"),
            format!("{plain_cpu_send:.2} s / {plain_cpu_recv:.2} s (plain)"),
            "—",
            "—",
            true,
        ),
        Row::new(
            "resume at 50 %: receiver's time (hashes the first half from disk, fetches the rest)",
            format!("{resume_s:.3} s"),
            format!("{fresh_half:.3} s (half a fresh transfer)"),
            format!("{:.2}", resume_s / fresh_half),
            "—",
            true,
        ),
        Row::new(
            "ciphers alone, seal + open, one thread",
            format!("AES-GCM {aes:.2} GB/s"),
            format!("ChaChaPoly {chacha:.2} GB/s"),
            format!("{:.2}", aes / chacha),
            "—",
            true,
        ),
    ];
    print_rows("Files (issue 15)", &rows);
}
