//! The file data path (issue 15) over real loopback TCP: `runtime::transfer::serve` and
//! `fetch` between two identities, with temp dirs, a relay that cuts or holds the link, and
//! a tmpfs that fills up.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use lanchat::proto::filedata::{HELLO_LEN, LEN_BYTES, MAX_CHUNK, REPLY_LEN, Suite, TransferId};
use lanchat::proto::{Identity, NodeId};
use lanchat::runtime::transfer::{
    Fetch, Fetched, Limits, Offered, Offers, Progress, ServeEvent, Server, TransferError, fetch,
    serve,
};
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Mutex, mpsc};

const PATIENCE: Duration = Duration::from_secs(30);
const MB: u64 = 1 << 20;

fn alice() -> Identity {
    Identity::from_secret([0xA1; 32])
}

fn bob() -> Identity {
    Identity::from_secret([0xB0; 32])
}

/// Writes `len` pseudo-random bytes (seeded) and returns the path and BLAKE3 hash.
fn make_file(dir: &Path, name: &str, len: u64, seed: u64) -> (PathBuf, [u8; 32]) {
    let path = dir.join(name);
    let mut f = std::fs::File::create(&path).unwrap();
    let mut hasher = blake3::Hasher::new();
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut block = vec![0u8; 1 << 20];
    let mut left = len;
    while left > 0 {
        for word in block.chunks_exact_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            word.copy_from_slice(&state.to_le_bytes());
        }
        let n = left.min(block.len() as u64) as usize;
        f.write_all(&block[..n]).unwrap();
        hasher.update(&block[..n]);
        left -= n as u64;
    }
    f.sync_all().unwrap();
    (path, *hasher.finalize().as_bytes())
}

fn hash_of(path: &Path) -> [u8; 32] {
    let mut f = std::fs::File::open(path).unwrap();
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).unwrap();
        if n == 0 {
            return *hasher.finalize().as_bytes();
        }
        hasher.update(&buf[..n]);
    }
}

fn len_of(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// A sender (Alice) serving on loopback, and what it reports.
struct Sender {
    server: Server,
    offers: Offers,
    events: mpsc::Receiver<ServeEvent>,
}

impl Sender {
    async fn start(limits: Limits) -> Sender {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let offers = Offers::default();
        let (tx, events) = mpsc::channel(1024);
        let server = serve(
            listener,
            alice(),
            Suite::DEFAULT,
            limits,
            offers.clone(),
            tx,
        )
        .unwrap();
        Sender {
            server,
            offers,
            events,
        }
    }

    fn offer(&self, id: TransferId, path: &Path, peer: NodeId) {
        let size = len_of(path);
        self.offers.insert(
            id,
            Offered {
                path: path.to_path_buf(),
                size,
                peer,
            },
        );
    }

    /// The next event that is not progress.
    async fn outcome(&mut self) -> ServeEvent {
        loop {
            let e = tokio::time::timeout(PATIENCE, self.events.recv())
                .await
                .expect("a sender event in time")
                .expect("the sender's channel open");
            match e {
                ServeEvent::Progress { .. } | ServeEvent::Started { .. } => {}
                other => return other,
            }
        }
    }

    fn bytes_sent(&self) -> u64 {
        self.server.stats().bytes_sent.load(Ordering::Relaxed)
    }
}

fn job(
    addr: SocketAddr,
    id: TransferId,
    size: u64,
    hash: [u8; 32],
    dir: &Path,
    name: &str,
) -> Fetch {
    Fetch {
        me: bob(),
        peer: alice().public(),
        addr,
        id,
        size,
        hash,
        partial: dir.join(format!("{name}.part")),
        dest: dir.join(name),
        suite: Suite::DEFAULT,
        limits: Limits::default(),
    }
}

async fn fetch_in_time(job: Fetch) -> Result<Fetched, TransferError> {
    tokio::time::timeout(PATIENCE, fetch(job, None))
        .await
        .expect("the fetch ends in time")
}

/// A TCP relay between the receiver and the sender that can cut the link after a number
/// of bytes from the sender, or hold them back (stop reading) until released. It keeps
/// the first bytes the receiver sent (its hello).
#[derive(Clone)]
struct Relay {
    addr: SocketAddr,
    forwarded: Arc<AtomicU64>,
    hold: Arc<AtomicBool>,
    first_bytes: Arc<Mutex<Vec<u8>>>,
}

impl Relay {
    async fn start(to: SocketAddr, cut_after: Option<u64>, hold_at: Option<u64>) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let relay = Relay {
            addr: listener.local_addr().unwrap(),
            forwarded: Arc::new(AtomicU64::new(0)),
            hold: Arc::new(AtomicBool::new(hold_at.is_some())),
            first_bytes: Arc::new(Mutex::new(Vec::new())),
        };
        let r = relay.clone();
        tokio::spawn(async move {
            // One connection through; later ones go straight to the sender in the tests.
            let (client, _) = listener.accept().await.unwrap();
            let server = TcpStream::connect(to).await.unwrap();
            let (mut cr, mut cw) = client.into_split();
            let (mut sr, mut sw) = server.into_split();
            let first = r.first_bytes.clone();
            let up = tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                loop {
                    let n = match cr.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    {
                        let mut f = first.lock().await;
                        if f.len() < 4096 {
                            f.extend_from_slice(&buf[..n]);
                        }
                    }
                    if sw.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
                let _ = sw.shutdown().await;
            });
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                let done = r.forwarded.load(Ordering::Relaxed);
                if let Some(at) = hold_at
                    && done >= at
                {
                    while r.hold.load(Ordering::Relaxed) {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                }
                let room = match cut_after {
                    Some(cut) if done >= cut => break,
                    Some(cut) => (cut - done).min(buf.len() as u64) as usize,
                    None => buf.len(),
                };
                let room = match hold_at {
                    Some(at) if done < at => room.min((at - done) as usize),
                    _ => room,
                };
                let n = match sr.read(&mut buf[..room]).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                if cw.write_all(&buf[..n]).await.is_err() {
                    break;
                }
                r.forwarded.fetch_add(n as u64, Ordering::Relaxed);
            }
            // A cut: both connections simply vanish.
            up.abort();
        });
        relay
    }

    async fn wait_forwarded(&self, at_least: u64) {
        let start = Instant::now();
        while self.forwarded.load(Ordering::Relaxed) < at_least {
            assert!(
                start.elapsed() < PATIENCE,
                "the relay never forwarded enough"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    fn release(&self) {
        self.hold.store(false, Ordering::Relaxed);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_and_medium_files_arrive_identical_with_progress() {
    let dir = tempfile::tempdir().unwrap();
    let mut sender = Sender::start(Limits::default()).await;
    for (i, len) in [0u64, 1, 10 * 1000 * 1000].into_iter().enumerate() {
        let (src, hash) = make_file(dir.path(), &format!("src{i}"), len, 42 + i as u64);
        let id = TransferId([i as u8 + 1; 16]);
        sender.offer(id, &src, bob().public());
        let (tx, mut rx) = mpsc::channel::<Progress>(64);
        let job = job(
            sender.server.local_addr(),
            id,
            len,
            hash,
            dir.path(),
            &format!("got{i}"),
        );
        let dest = job.dest.clone();
        let partial = job.partial.clone();
        let got = tokio::time::timeout(PATIENCE, fetch(job, Some(tx)))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            got,
            Fetched {
                path: dest.clone(),
                resumed_from: 0,
                received: len
            }
        );
        assert_eq!(
            std::fs::read(&dest).unwrap(),
            std::fs::read(&src).unwrap(),
            "file {i}"
        );
        assert!(!partial.exists(), "the partial file is renamed away");
        let mut last = 0;
        let mut reports = 0;
        while let Ok(p) = rx.try_recv() {
            assert!(p.done >= last && p.done <= len && p.size == len);
            last = p.done;
            reports += 1;
        }
        assert!(reports >= 1 && last == len, "progress ends at the size");
        match sender.outcome().await {
            ServeEvent::Finished {
                id: got_id, sent, ..
            } => {
                assert_eq!((got_id, sent), (id, len));
            }
            other => panic!("expected Finished, got {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_200_mb_file_arrives_identical() {
    let dir = tempfile::tempdir().unwrap();
    let mut sender = Sender::start(Limits::default()).await;
    let len = 200 * 1000 * 1000;
    let (src, hash) = make_file(dir.path(), "big", len, 7);
    let id = TransferId([9; 16]);
    sender.offer(id, &src, bob().public());
    let job = job(
        sender.server.local_addr(),
        id,
        len,
        hash,
        dir.path(),
        "big.got",
    );
    let dest = job.dest.clone();
    let got = fetch_in_time(job).await.unwrap();
    assert_eq!(got.received, len);
    assert_eq!(len_of(&dest), len);
    assert_eq!(hash_of(&dest), hash);
    assert!(matches!(sender.outcome().await, ServeEvent::Finished { sent, .. } if sent == len));
}

/// Alice serving a file of `len` bytes made from `seed` (at `dir/src`), offered to Bob as
/// transfer `[seed; 16]`: the server, the file, its hash and the id.
async fn offering(dir: &Path, len: u64, seed: u8) -> (Sender, PathBuf, [u8; 32], TransferId) {
    let sender = Sender::start(Limits::default()).await;
    let (src, hash) = make_file(dir, "src", len, u64::from(seed));
    let id = TransferId([seed; 16]);
    sender.offer(id, &src, bob().public());
    (sender, src, hash, id)
}

/// What the receiver must hold after the relay forwarded `forwarded` bytes of frames:
/// every whole frame in them, so all but the last partial frame's worth of data.
fn least_kept(forwarded: u64) -> u64 {
    let frame = (LEN_BYTES + 1 + MAX_CHUNK + 16) as u64;
    (forwarded / frame).saturating_sub(1) * MAX_CHUNK as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_link_resumes_and_sends_only_the_remainder() {
    let dir = tempfile::tempdir().unwrap();
    let len = 32 * MB;
    let (mut sender, _, hash, id) = offering(dir.path(), len, 1).await;
    let cut = 8 * MB;
    let relay = Relay::start(sender.server.local_addr(), Some(cut), None).await;
    let first = job(relay.addr, id, len, hash, dir.path(), "got");
    let partial = first.partial.clone();
    let dest = first.dest.clone();
    let err = fetch_in_time(first).await.unwrap_err();
    assert!(
        matches!(err, TransferError::ConnectionLost(_)),
        "a cut link is a lost connection, got {err:?}"
    );
    assert!(err.may_resume());
    let kept = len_of(&partial);
    let forwarded = relay.forwarded.load(Ordering::Relaxed);
    assert!(
        kept >= least_kept(forwarded) && kept <= forwarded,
        "kept {kept} of {forwarded} forwarded"
    );
    assert!(!dest.exists());
    let cut_sent = match sender.outcome().await {
        ServeEvent::Failed { sent, .. } => sent,
        other => panic!("expected Failed, got {other:?}"),
    };

    let again = job(sender.server.local_addr(), id, len, hash, dir.path(), "got");
    let got = fetch_in_time(again).await.unwrap();
    assert_eq!(got.resumed_from, kept);
    assert_eq!(got.received, len - kept);
    assert_eq!(hash_of(&dest), hash);
    match sender.outcome().await {
        ServeEvent::Finished { sent, .. } => {
            assert_eq!(
                sent,
                len - kept,
                "the resumed connection sends only the rest"
            );
            assert_eq!(sender.bytes_sent(), cut_sent + sent);
            // What was sent twice is only what was in flight when the link broke.
            assert!(cut_sent + sent - len <= cut_sent - kept);
        }
        other => panic!("expected Finished, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_receiver_resumes_its_partial_file() {
    let dir = tempfile::tempdir().unwrap();
    let len = 24 * MB;
    let (mut sender, _, hash, id) = offering(dir.path(), len, 2).await;
    let relay = Relay::start(sender.server.local_addr(), None, Some(6 * MB)).await;
    let first = job(relay.addr, id, len, hash, dir.path(), "got");
    let partial = first.partial.clone();
    let dest = first.dest.clone();
    let (tx, mut progress) = mpsc::channel(64);
    let running = tokio::spawn(fetch(first, Some(tx)));
    relay.wait_forwarded(6 * MB).await;
    // Wait until the receiver wrote what came through, then stop it the hard way: drop
    // everything (the task, its identity, its socket).
    let start = Instant::now();
    while len_of(&partial) < least_kept(6 * MB) {
        assert!(start.elapsed() < PATIENCE);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    running.abort();
    let _ = running.await;
    // The relay lets the sender's backlog through to the closed receiver, so the sender
    // learns it is gone.
    relay.release();
    while progress.try_recv().is_ok() {}
    let kept = len_of(&partial);
    assert!(kept > 0 && kept < len);
    assert!(matches!(sender.outcome().await, ServeEvent::Failed { .. }));

    let again = job(sender.server.local_addr(), id, len, hash, dir.path(), "got");
    let got = fetch_in_time(again).await.unwrap();
    assert_eq!((got.resumed_from, got.received), (kept, len - kept));
    assert_eq!(hash_of(&dest), hash);
    assert!(
        matches!(sender.outcome().await, ServeEvent::Finished { sent, .. } if sent == len - kept)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_partial_file_is_caught_by_the_hash_and_never_kept() {
    let dir = tempfile::tempdir().unwrap();
    let len = 16 * MB;
    let (mut sender, _, hash, id) = offering(dir.path(), len, 3).await;
    let relay = Relay::start(sender.server.local_addr(), Some(4 * MB), None).await;
    let first = job(relay.addr, id, len, hash, dir.path(), "got");
    let partial = first.partial.clone();
    let dest = first.dest.clone();
    assert!(fetch_in_time(first).await.is_err());
    assert!(matches!(sender.outcome().await, ServeEvent::Failed { .. }));
    // Flip one byte of what arrived.
    let mut bytes = std::fs::read(&partial).unwrap();
    assert!(bytes.len() > 1000);
    bytes[1000] ^= 0x01;
    std::fs::write(&partial, &bytes).unwrap();

    let again = job(sender.server.local_addr(), id, len, hash, dir.path(), "got");
    assert_eq!(fetch_in_time(again).await, Err(TransferError::HashMismatch));
    assert!(!dest.exists(), "a corrupt file is never kept");
    assert!(!partial.exists(), "the corrupt partial file is removed");
    match sender.outcome().await {
        ServeEvent::Failed { error, .. } => assert_eq!(error, TransferError::HashMismatch),
        other => panic!("expected the receiver's mismatch, got {other:?}"),
    }

    // The next attempt starts over and succeeds.
    let third = job(sender.server.local_addr(), id, len, hash, dir.path(), "got");
    let got = fetch_in_time(third).await.unwrap();
    assert_eq!(got.resumed_from, 0);
    assert_eq!(hash_of(&dest), hash);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_that_does_not_match_the_offer_is_discarded() {
    // The sender's file is not what its offer's hash says (changed in place, same size).
    let dir = tempfile::tempdir().unwrap();
    let mut sender = Sender::start(Limits::default()).await;
    let (src, _) = make_file(dir.path(), "src", 3 * MB, 4);
    let (_, other_hash) = make_file(dir.path(), "other", 3 * MB, 5);
    let id = TransferId([4; 16]);
    sender.offer(id, &src, bob().public());
    let j = job(
        sender.server.local_addr(),
        id,
        3 * MB,
        other_hash,
        dir.path(),
        "got",
    );
    let (partial, dest) = (j.partial.clone(), j.dest.clone());
    assert_eq!(fetch_in_time(j).await, Err(TransferError::HashMismatch));
    assert!(!dest.exists() && !partial.exists());
    assert!(matches!(
        sender.outcome().await,
        ServeEvent::Failed {
            error: TransferError::HashMismatch,
            ..
        }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sender_refuses_an_unknown_id_and_another_peers_transfer() {
    let dir = tempfile::tempdir().unwrap();
    let mut sender = Sender::start(Limits::default()).await;
    let (src, hash) = make_file(dir.path(), "src", MB, 5);
    let carol = Identity::from_secret([0xC0; 32]);
    let id = TransferId([5; 16]);
    // Offered to Carol, not Bob.
    sender.offer(id, &src, carol.public());
    let j = job(sender.server.local_addr(), id, MB, hash, dir.path(), "got");
    let partial = j.partial.clone();
    assert_eq!(fetch_in_time(j).await, Err(TransferError::Unknown));
    assert!(!TransferError::Unknown.may_resume());
    assert_eq!(len_of(&partial), 0);
    assert!(matches!(
        sender.outcome().await,
        ServeEvent::Refused { peer, .. } if peer == bob().public()
    ));
    // An id never offered.
    let j = job(
        sender.server.local_addr(),
        TransferId([0xEE; 16]),
        MB,
        hash,
        dir.path(),
        "got2",
    );
    assert_eq!(fetch_in_time(j).await, Err(TransferError::Unknown));
    assert!(matches!(sender.outcome().await, ServeEvent::Refused { .. }));
    assert_eq!(sender.bytes_sent(), 0);
    // Carol gets it.
    let mut j = job(sender.server.local_addr(), id, MB, hash, dir.path(), "got3");
    j.me = carol;
    assert!(fetch_in_time(j).await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stranger_and_a_replayed_hello_get_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let limits = Limits {
        handshake: Duration::from_millis(500),
        ..Limits::default()
    };
    let mut sender = Sender::start(limits).await;
    let (src, hash) = make_file(dir.path(), "src", 2 * MB, 6);
    let id = TransferId([6; 16]);
    sender.offer(id, &src, bob().public());

    // Someone who takes another key for Alice's: the handshake does not open, no answer.
    let mut j = job(
        sender.server.local_addr(),
        id,
        2 * MB,
        hash,
        dir.path(),
        "x",
    );
    j.peer = Identity::from_secret([0xDD; 32]).public();
    let err = fetch_in_time(j).await.unwrap_err();
    assert!(matches!(err, TransferError::ConnectionLost(_)), "{err:?}");

    // Bob fetches through a relay that records his hello.
    let relay = Relay::start(sender.server.local_addr(), None, None).await;
    let j = job(relay.addr, id, 2 * MB, hash, dir.path(), "got");
    fetch_in_time(j).await.unwrap();
    assert!(matches!(
        sender.outcome().await,
        ServeEvent::Finished { .. }
    ));
    let sent_before = sender.bytes_sent();
    let hello = relay.first_bytes.lock().await[..LEN_BYTES + HELLO_LEN].to_vec();

    // The hello replayed by someone without Bob's keys: a reply, then nothing.
    let mut raw = TcpStream::connect(sender.server.local_addr())
        .await
        .unwrap();
    raw.write_all(&hello).await.unwrap();
    let mut got = Vec::new();
    tokio::time::timeout(PATIENCE, raw.read_to_end(&mut got))
        .await
        .expect("the sender closes")
        .ok();
    assert_eq!(got.len(), LEN_BYTES + REPLY_LEN, "only the handshake reply");
    assert_eq!(sender.bytes_sent(), sent_before);
    let stats = sender.server.stats();
    assert!(stats.bad_handshakes.load(Ordering::Relaxed) >= 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_removed_midway_is_source_gone_on_both_sides_and_resumes_when_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut sender = Sender::start(Limits::default()).await;
    let len = 64 * MB;
    let (src, hash) = make_file(dir.path(), "src", len, 8);
    let saved = std::fs::read(&src).unwrap();
    let id = TransferId([8; 16]);
    sender.offer(id, &src, bob().public());
    let relay = Relay::start(sender.server.local_addr(), None, Some(4 * MB)).await;
    let j = job(relay.addr, id, len, hash, dir.path(), "got");
    let (partial, dest) = (j.partial.clone(), j.dest.clone());
    let running = tokio::spawn(fetch(j, None));
    relay.wait_forwarded(4 * MB).await;
    std::fs::remove_file(&src).unwrap();
    relay.release();
    let err = tokio::time::timeout(PATIENCE, running)
        .await
        .unwrap()
        .unwrap()
        .unwrap_err();
    assert_eq!(err, TransferError::SourceGone, "the receiver is told");
    match sender.outcome().await {
        ServeEvent::Failed { error, .. } => assert_eq!(error, TransferError::SourceGone),
        other => panic!("expected Failed, got {other:?}"),
    }
    let kept = len_of(&partial);
    assert!(kept > 0 && !dest.exists());

    // Still gone when asked again: refused up front.
    let j = job(sender.server.local_addr(), id, len, hash, dir.path(), "got");
    assert_eq!(fetch_in_time(j).await, Err(TransferError::SourceGone));
    assert_eq!(len_of(&partial), kept);

    // Put back: the transfer resumes where it stopped.
    std::fs::write(&src, &saved).unwrap();
    let j = job(sender.server.local_addr(), id, len, hash, dir.path(), "got");
    let got = fetch_in_time(j).await.unwrap();
    assert_eq!(got.resumed_from, kept);
    assert_eq!(hash_of(&dest), hash);
}

/// The full-disk test runs its receiver in a child process (this same test binary, this
/// same test) inside a private mount namespace with a 4 MiB tmpfs, so nothing outside the
/// test sees the mount. These name what the child needs.
const CHILD_DIR: &str = "LANCHAT_TRANSFER_CHILD_DIR";
const CHILD_ARGS: &str = "LANCHAT_TRANSFER_CHILD_ARGS";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex<const N: usize>(s: &str) -> [u8; N] {
    let mut out = [0u8; N];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_is_told_on_both_sides_and_the_transfer_resumes_once_space_is_freed() {
    if let Ok(dir) = std::env::var(CHILD_DIR) {
        return full_disk_child(Path::new(&dir)).await;
    }
    let root = std::process::Command::new("unshare")
        .args(["-m", "--propagation", "private", "true"])
        .status()
        .is_ok_and(|s| s.success());
    if !root {
        eprintln!(
            "skipped: needs root and unshare(1) to mount a small tmpfs in a private namespace"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let len = 3 * MB;
    let (mut sender, _, hash, id) = offering(dir.path(), len, 10).await;
    let small = tempfile::tempdir().unwrap();
    let args = format!(
        "{} {} {} {}",
        sender.server.local_addr(),
        hex(&id.0),
        len,
        hex(&hash)
    );
    let exe = std::env::current_exe().unwrap();
    let mut child = std::process::Command::new("unshare");
    child
        .args(["-m", "--propagation", "private", "sh", "-c"])
        .arg("mount -t tmpfs -o size=4m lanchat-test \"$0\" && exec \"$@\"")
        .arg(small.path())
        .arg(&exe)
        .args([
            "--exact",
            "a_full_disk_is_told_on_both_sides_and_the_transfer_resumes_once_space_is_freed",
            "--nocapture",
        ])
        .env(CHILD_DIR, small.path())
        .env(CHILD_ARGS, args);
    let out = tokio::time::timeout(
        PATIENCE * 2,
        tokio::task::spawn_blocking(move || child.output()),
    )
    .await
    .unwrap()
    .unwrap()
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "child failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("child: disk full, then resumed"),
        "{stdout}"
    );
    match sender.outcome().await {
        ServeEvent::Failed { error, .. } => assert_eq!(error, TransferError::PeerDiskFull),
        other => panic!("expected the receiver's full disk, got {other:?}"),
    }
    assert!(matches!(
        sender.outcome().await,
        ServeEvent::Finished { .. }
    ));
    // The mount was the child's alone.
    assert!(std::fs::read_dir(small.path()).unwrap().next().is_none());
}

async fn full_disk_child(dir: &Path) {
    let args = std::env::var(CHILD_ARGS).unwrap();
    let parts: Vec<&str> = args.split(' ').collect();
    let addr: SocketAddr = parts[0].parse().unwrap();
    let id = TransferId(unhex::<16>(parts[1]));
    let len: u64 = parts[2].parse().unwrap();
    let hash = unhex::<32>(parts[3]);
    // 2 MiB of a 4 MiB disk taken: the 3 MiB file cannot fit.
    let filler = dir.join("filler");
    std::fs::write(&filler, vec![1u8; 2 << 20]).unwrap();
    let j = job(addr, id, len, hash, dir, "got");
    let (partial, dest) = (j.partial.clone(), j.dest.clone());
    assert_eq!(fetch_in_time(j).await, Err(TransferError::DiskFull));
    let kept = len_of(&partial);
    assert!(kept > 0 && kept < len, "kept {kept}");
    assert!(!dest.exists());
    std::fs::remove_file(&filler).unwrap();
    let j = job(addr, id, len, hash, dir, "got");
    let got = fetch_in_time(j).await.unwrap();
    assert_eq!(got.resumed_from, kept);
    assert_eq!(hash_of(&dest), hash);
    println!("child: disk full, then resumed from {kept}");
}
