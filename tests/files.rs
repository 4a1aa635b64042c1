//! Files between whole nodes over loopback (issue 15), through the `pipe` front end:
//! offer, accept, progress, verified arrival; decline; cancel from either side; plain-text
//! peers get no offer; hostile names stay inside the download directory.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::{Value, json};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use support::TestNode;

/// Writes `len` pseudo-random bytes (seeded) to `dir/name`.
fn make_file(dir: &Path, name: &str, len: u64, seed: u64) -> PathBuf {
    let path = dir.join(name);
    let mut f = std::fs::File::create(&path).unwrap();
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
        left -= n as u64;
    }
    path
}

fn read(path: &Path) -> Vec<u8> {
    let mut v = Vec::new();
    std::fs::File::open(path)
        .unwrap()
        .read_to_end(&mut v)
        .unwrap();
    v
}

fn entries(dir: &Path) -> Vec<String> {
    let Ok(list) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = list
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Two nodes that know each other, Bob saving into `downloads`, with his settings changed
/// by `tweak`.
async fn pair_with(
    downloads: &Path,
    tweak: impl FnOnce(&mut lanchat::config::Settings),
) -> (TestNode, TestNode) {
    let mut alice = TestNode::start_stored(81, "alice", |_| {}).await;
    let dir = downloads.to_path_buf();
    let mut bob = TestNode::start_stored(82, "bob", move |s| {
        s.download_dir = dir;
        tweak(s);
    })
    .await;
    alice.send(json!({"cmd": "add", "addr": bob.addr})).await;
    alice.expect(|e| e["event"] == "peer_up").await;
    bob.expect(|e| e["event"] == "peer_up").await;
    (alice, bob)
}

/// A source directory for Alice's files, Bob's download directory, and the two nodes
/// ([`pair_with`], with Bob's settings changed by `tweak`).
async fn setup(
    tweak: impl FnOnce(&mut lanchat::config::Settings),
) -> (tempfile::TempDir, tempfile::TempDir, TestNode, TestNode) {
    let src = tempfile::tempdir().unwrap();
    let downloads = tempfile::tempdir().unwrap();
    let (alice, bob) = pair_with(downloads.path(), tweak).await;
    (src, downloads, alice, bob)
}

/// The next `event` about transfer `id` on `node`.
async fn expect_for(node: &mut TestNode, event: &str, id: &str) -> Value {
    node.expect(|e| e["event"] == event && e["id"] == id).await
}

/// Alice offers `path` to Bob; returns the offer as Bob sees it.
async fn offer(alice: &mut TestNode, bob: &mut TestNode, path: &Path) -> Value {
    alice
        .send(json!({"cmd": "send_file", "to": bob.id, "path": path}))
        .await;
    let offered = alice.expect(|e| e["event"] == "file_offered").await;
    let id = offered["id"].as_str().unwrap().to_owned();
    let got = bob
        .expect(|e| e["event"] == "file_offer" || e["event"] == "error")
        .await;
    assert_eq!(got["event"], "file_offer", "{got}");
    assert_eq!(got["id"], id.as_str());
    assert_eq!(got["from"], alice.id.as_str());
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_of_0_1_and_10mb_arrive_whole_after_accept() {
    let (src, downloads, mut alice, mut bob) = setup(|_| {}).await;
    for (i, (name, len)) in [("empty.bin", 0u64), ("one.txt", 1), ("big.jpg", 10 << 20)]
        .into_iter()
        .enumerate()
    {
        let path = make_file(src.path(), name, len, i as u64 + 1);
        let got = offer(&mut alice, &mut bob, &path).await;
        assert_eq!(got["name"], name);
        assert_eq!(got["size"], len);
        let id = got["id"].as_str().unwrap().to_owned();
        if name == "big.jpg" {
            assert_eq!(got["kind"], "image");
        }
        // Nothing is written before the user accepts.
        assert!(
            !entries(downloads.path())
                .iter()
                .any(|e| e.starts_with(name)),
            "{:?}",
            entries(downloads.path())
        );
        bob.send(json!({"cmd": "accept", "id": id})).await;
        let progress = expect_for(&mut bob, "file_progress", &id).await;
        assert_eq!(progress["size"], len);
        let done = bob
            .expect(|e| {
                (e["event"] == "file_done" || e["event"] == "file_failed") && e["id"] == id.as_str()
            })
            .await;
        assert_eq!(done["event"], "file_done", "{done}");
        let at = PathBuf::from(done["path"].as_str().unwrap());
        assert_eq!(at, downloads.path().join(name));
        assert_eq!(read(&at), read(&path), "{name} arrives byte for byte");
        let sent = alice
            .expect(|e| {
                (e["event"] == "file_done" || e["event"] == "file_failed") && e["id"] == id.as_str()
            })
            .await;
        assert_eq!(sent["event"], "file_done", "{sent}");
    }
    // Only the files: no partial file is left behind.
    assert_eq!(
        entries(downloads.path()),
        vec!["big.jpg", "empty.bin", "one.txt"]
    );
    alice.quit().await;
    bob.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declined_offer_writes_nothing_and_the_sender_hears_it() {
    let (src, downloads, mut alice, mut bob) = setup(|_| {}).await;
    let path = make_file(src.path(), "no.txt", 1000, 7);
    let got = offer(&mut alice, &mut bob, &path).await;
    let id = got["id"].as_str().unwrap().to_owned();
    bob.send(json!({"cmd": "decline", "id": id})).await;
    let failed = expect_for(&mut alice, "file_failed", &id).await;
    assert_eq!(failed["reason"], "declined");
    // Declined is final: accepting now is refused, and nothing was written.
    bob.send(json!({"cmd": "accept", "id": id})).await;
    let e = bob.expect(|e| e["event"] == "error").await;
    assert!(
        e["message"].as_str().unwrap().contains("no file offer"),
        "{e}"
    );
    assert!(entries(downloads.path()).is_empty());
    alice.quit().await;
    bob.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn either_side_may_cancel_and_the_other_hears_it() {
    let (src, downloads, mut alice, mut bob) = setup(|_| {}).await;
    // The sender takes back its offer before it is answered.
    let path = make_file(src.path(), "first.txt", 1000, 8);
    let got = offer(&mut alice, &mut bob, &path).await;
    let id = got["id"].as_str().unwrap().to_owned();
    alice.send(json!({"cmd": "cancel", "id": id})).await;
    let failed = expect_for(&mut bob, "file_failed", &id).await;
    assert!(
        failed["reason"].as_str().unwrap().contains("cancelled"),
        "{failed}"
    );
    bob.send(json!({"cmd": "accept", "id": id})).await;
    bob.expect(|e| e["event"] == "error").await;
    // The receiver cancels an offer it has not answered.
    let path = make_file(src.path(), "second.txt", 1000, 9);
    let got = offer(&mut alice, &mut bob, &path).await;
    let id = got["id"].as_str().unwrap().to_owned();
    bob.send(json!({"cmd": "cancel", "id": id})).await;
    let failed = expect_for(&mut alice, "file_failed", &id).await;
    assert!(
        failed["reason"].as_str().unwrap().contains("cancelled"),
        "{failed}"
    );
    assert!(entries(downloads.path()).is_empty());
    // A cancelled transfer cannot be cancelled again.
    alice.send(json!({"cmd": "cancel", "id": id})).await;
    alice.expect(|e| e["event"] == "error").await;
    alice.quit().await;
    bob.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_text_peer_gets_no_offer() {
    let src = tempfile::tempdir().unwrap();
    let mut alice = TestNode::start(83, "alice", |_| {}).await;
    let plain = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let at = plain.local_addr().unwrap().to_string();
    let path = make_file(src.path(), "secret.txt", 10, 1);
    alice
        .send(json!({"cmd": "send_file", "to": at, "path": path}))
        .await;
    let e = alice.expect(|e| e["event"] == "error").await;
    assert!(
        e["message"].as_str().unwrap().contains("plain-text peer"),
        "{e}"
    );
    // Nothing went to the plain-text address.
    plain
        .set_read_timeout(Some(std::time::Duration::from_millis(200)))
        .unwrap();
    let mut buf = [0u8; 2048];
    assert!(plain.recv_from(&mut buf).is_err());
    alice.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_names_are_saved_safely_inside_the_download_directory() {
    let (src, downloads, mut alice, mut bob) = setup(|_| {}).await;
    for (i, name) in ["CON", "\u{1b}]0;pwn\u{7}.txt", "a\\b:c*?.txt", ".bashrc"]
        .into_iter()
        .enumerate()
    {
        let path = make_file(src.path(), name, 5, i as u64);
        let got = offer(&mut alice, &mut bob, &path).await;
        let id = got["id"].as_str().unwrap().to_owned();
        bob.send(json!({"cmd": "accept", "id": id})).await;
        let done = bob
            .expect(|e| {
                (e["event"] == "file_done" || e["event"] == "file_failed") && e["id"] == id.as_str()
            })
            .await;
        assert_eq!(done["event"], "file_done", "{done}");
        let at = PathBuf::from(done["path"].as_str().unwrap());
        assert_eq!(at.parent().unwrap(), downloads.path(), "{}", at.display());
        let saved = at.file_name().unwrap().to_string_lossy().into_owned();
        assert!(!saved.starts_with('.'), "{saved:?}");
        assert!(!saved.chars().any(char::is_control), "{saved:?}");
        assert_ne!(saved.to_ascii_uppercase(), "CON");
        assert_eq!(read(&at), read(&path));
    }
    alice.quit().await;
    bob.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_file_commands_are_errors() {
    let mut alice = TestNode::start(84, "alice", |_| {}).await;
    alice.send(json!({"cmd": "accept", "id": "xyz"})).await;
    let e = alice.expect(|e| e["event"] == "error").await;
    assert!(
        e["message"].as_str().unwrap().contains("transfer id"),
        "{e}"
    );
    alice
        .send(json!({"cmd": "accept", "id": "0123456789abcdef0123456789abcdef"}))
        .await;
    let e = alice.expect(|e| e["event"] == "error").await;
    assert!(
        e["message"].as_str().unwrap().contains("no file offer"),
        "{e}"
    );
    alice
        .send(json!({"cmd": "send_file", "to": "nobody", "path": "/etc/hostname"}))
        .await;
    let e = alice.expect(|e| e["event"] == "error").await;
    assert!(e["message"].as_str().unwrap().contains("no peer"), "{e}");
    alice.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offer_over_the_size_limit_is_declined_unasked() {
    let (src, downloads, mut alice, mut bob) = setup(|s| s.max_file_size = 100).await;
    let path = make_file(src.path(), "large.bin", 101, 3);
    alice
        .send(json!({"cmd": "send_file", "to": bob.id, "path": path}))
        .await;
    let id = alice.expect(|e| e["event"] == "file_offered").await["id"].clone();
    let refused = bob.expect(|e| e["event"] == "file_failed").await;
    assert_eq!(refused["id"], id);
    assert!(
        refused["reason"].as_str().unwrap().contains("too large"),
        "{refused}"
    );
    let failed = alice
        .expect(|e| e["event"] == "file_failed" && e["id"] == id)
        .await;
    assert_eq!(failed["reason"], "declined");
    assert!(entries(downloads.path()).is_empty());
    alice.quit().await;
    bob.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_offers_from_a_verified_peer_may_be_taken_unasked() {
    let (src, downloads, mut alice, mut bob) = setup(|s| s.auto_accept_verified = 1000).await;
    // Not verified yet: asked.
    let path = make_file(src.path(), "asked.txt", 10, 4);
    let got = offer(&mut alice, &mut bob, &path).await;
    let asked = got["id"].as_str().unwrap().to_owned();
    // Verified: a small file comes without asking, a larger one is asked about.
    bob.send(json!({"cmd": "verify", "to": alice.id})).await;
    bob.expect(|e| e["event"] == "trust" && e["trust"] == "verified")
        .await;
    let path = make_file(src.path(), "small.txt", 1000, 5);
    let got = offer(&mut alice, &mut bob, &path).await;
    let id = got["id"].as_str().unwrap().to_owned();
    let done = expect_for(&mut bob, "file_done", &id).await;
    assert_eq!(read(Path::new(done["path"].as_str().unwrap())), read(&path));
    let path = make_file(src.path(), "larger.txt", 1001, 6);
    offer(&mut alice, &mut bob, &path).await;
    assert_eq!(entries(downloads.path()), vec!["small.txt"]);
    // The first one still waits for an answer.
    bob.send(json!({"cmd": "decline", "id": asked})).await;
    expect_for(&mut alice, "file_failed", &asked).await;
    alice.quit().await;
    bob.quit().await;
}

/// A third peer, Carol, who has learnt the id of Alice's offer to Bob, forges every file
/// message about it: a cancel and a decline and an accept in Alice's and Bob's direction, and
/// an offer of the same id pointing at a port of her own. Each is a real sealed message from
/// Carol's own key (she is a lanchat peer of both), so only the rule "a file message counts
/// only from the transfer's own peer" stands between her and the transfer. The offer stays
/// Bob's to answer and the file arrives whole, from Alice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_peer_cannot_cancel_answer_or_redirect_someone_elses_transfer() {
    use lanchat::proto::files::{CancelReason, FileOffer, TransferId};
    use lanchat::proto::{Body, ConversationId, Identity, MsgId, NodeId};
    use lanchat::runtime::Node;
    use tokio::sync::mpsc;

    let (src, _downloads, mut alice, mut bob) = setup(|_| {}).await;
    let path = make_file(src.path(), "report.pdf", 300_000, 11);
    let got = offer(&mut alice, &mut bob, &path).await;
    let id_hex = got["id"].as_str().unwrap().to_owned();
    let id = TransferId::from_hex(&id_hex).unwrap();

    // Carol: a whole node of her own, driven here, that sends whatever bodies she is given.
    let carol_dir = tempfile::tempdir().unwrap();
    let settings = lanchat::config::Settings::loopback("carol", carol_dir.path());
    let mut carol = Node::start(&settings, Identity::from_secret([83; 32])).unwrap();
    carol.add_peer(alice.addr.parse().unwrap());
    carol.add_peer(bob.addr.parse().unwrap());
    let (forge, mut forged) = mpsc::channel::<(NodeId, Body)>(16);
    let carol_task = tokio::spawn(async move {
        let mut n = 1_000;
        loop {
            tokio::select! {
                _ = carol.wake() => {}
                body = forged.recv() => match body {
                    Some((to, body)) => {
                        n += 1;
                        carol
                            .send_body(ConversationId::Peer(to), MsgId(n), 1_700_000_000_000, body)
                            .expect("carol sends");
                    }
                    None => break,
                },
            }
            let _ = carol.drain();
        }
        carol.shutdown();
    });
    let carol_id = Identity::from_secret([83; 32]).public();
    let is_carol = |e: &Value| e["event"] == "peer_up" && e["name"] == "carol";
    alice.expect(is_carol).await;
    bob.expect(is_carol).await;
    let alice_id = NodeId::from_hex(&alice.id).unwrap();
    let bob_id = NodeId::from_hex(&bob.id).unwrap();

    let to_bob = [
        Body::FileCancel {
            id,
            reason: CancelReason::Cancelled,
        },
        Body::FileOffer(FileOffer {
            id,
            name: "report.pdf".into(),
            size: 300_000,
            hash: [7; 32],
            port: 9,
        }),
        Body::Text("after the forgeries".into()),
    ];
    let to_alice = [
        Body::FileDecline(id),
        Body::FileAccept { id },
        Body::FileCancel {
            id,
            reason: CancelReason::Cancelled,
        },
        Body::Text("after the forgeries".into()),
    ];
    for body in to_bob {
        forge.send((bob_id, body)).await.unwrap();
    }
    for body in to_alice {
        forge.send((alice_id, body)).await.unwrap();
    }
    // A peer's messages arrive in order: once her text is there, so were her forgeries.
    let marker = |e: &Value| e["event"] == "message" && e["text"] == "after the forgeries";
    let seen = bob
        .expect(|e| marker(e) || (e["event"] == "file_failed" && e["id"] == id_hex.as_str()))
        .await;
    assert_eq!(seen["event"], "message", "bob took carol's word: {seen}");
    assert_eq!(seen["sender_id"], carol_id.to_hex());
    let seen = alice
        .expect(|e| marker(e) || (e["event"] == "file_failed" && e["id"] == id_hex.as_str()))
        .await;
    assert_eq!(seen["event"], "message", "alice took carol's word: {seen}");

    // The offer is still Bob's to answer, and it comes from Alice, whole.
    bob.send(json!({"cmd": "accept", "id": id_hex})).await;
    let done = bob
        .expect(|e| {
            (e["event"] == "file_done" || e["event"] == "file_failed") && e["id"] == id_hex.as_str()
        })
        .await;
    assert_eq!(done["event"], "file_done", "{done}");
    let saved = PathBuf::from(done["path"].as_str().unwrap());
    assert_eq!(read(&saved), read(&path));
    expect_for(&mut alice, "file_done", &id_hex).await;

    drop(forge);
    carol_task.await.unwrap();
    alice.quit().await;
    bob.quit().await;
}

/// The data link breaks while the chat does not (here: the sender's file is cut short, so
/// its server refuses, then put back): nobody goes offline, so nothing but a timer can try
/// again, and the download resumes by itself once the cause is fixed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_download_broken_while_both_stay_online_is_tried_again_by_itself() {
    let (src, downloads, mut alice, mut bob) = setup(|_| {}).await;
    let path = make_file(src.path(), "slides.pdf", 3 << 20, 21);
    let whole = read(&path);
    let got = offer(&mut alice, &mut bob, &path).await;
    let id = got["id"].as_str().unwrap().to_owned();
    // Cut short after the offer: what the sender has is no longer what it offered.
    std::fs::write(&path, &whole[..1000]).unwrap();
    bob.send(json!({"cmd": "accept", "id": id})).await;
    let failed = expect_for(&mut bob, "file_failed", &id).await;
    assert_eq!(failed["code"], "source-changed", "{failed}");
    // Put back: the next try (a timer's; both stayed online) gets it whole.
    std::fs::write(&path, &whole).unwrap();
    let done = expect_for(&mut bob, "file_done", &id).await;
    let saved = PathBuf::from(done["path"].as_str().unwrap());
    assert_eq!(read(&saved), whole);
    assert_eq!(entries(downloads.path()), ["slides.pdf"]);
    alice.quit().await;
    bob.quit().await;
}
