//! A flood of spoofed plain text (issue 12, "Freeze"): 100,000 datagrams from as many
//! loopback addresses and ports at the real full-screen loop with its history database. What the app and
//! the store keep stays bounded, a real peer's message still shows, and the next start
//! loads a bounded number of conversations. (How fast: `cargo bench --bench process`.)

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/screen.rs"]
mod screen;
mod support;

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use lanchat::app::{MAX_CONVERSATIONS, MAX_STRANGERS, STRANGER_FOLD};
use lanchat::config::Settings;
use lanchat::proto::Identity;
use lanchat::runtime::tui;
use lanchat::store::Store;
use screen::{PATIENCE, run_on_screen};
use serde_json::json;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use support::TestNode;

const DATAGRAMS: usize = 100_000;
/// Sockets open at once. Each round binds a fresh set on another 127.x address, and each
/// socket sends one datagram: 100,000 different senders, as a spoofer would make them.
const SOCKETS: usize = 500;

/// Sends the flood to `to`. Returns how many datagrams went out.
fn flood(to: SocketAddr) -> usize {
    let mut sent = 0;
    for round in 0..DATAGRAMS / SOCKETS {
        let from = Ipv4Addr::new(127, 1, (round / 250) as u8, (round % 250 + 1) as u8);
        let sockets: Vec<UdpSocket> = (0..SOCKETS)
            .map(|_| UdpSocket::bind((from, 0)).unwrap())
            .collect();
        for (i, s) in sockets.iter().enumerate() {
            let line = format!("spoofed {round}/{i}: hello, click this\n");
            if s.send_to(line.as_bytes(), to).is_ok() {
                sent += 1;
            }
        }
    }
    sent
}

/// The count in the sidebar's "≈ Strangers (N)" row.
fn strangers_shown(screen: &str) -> Option<usize> {
    let at = screen.find("≈ Strangers (")? + "≈ Strangers (".len();
    screen[at..].split(')').next()?.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_text_flood_stays_bounded_and_a_real_peer_still_gets_through() {
    let mut bob = TestNode::start(2, "bob", |_| {}).await;
    let dir = tempfile::tempdir().unwrap();
    let mut settings = Settings::loopback("alice", dir.path());
    settings.peers = vec![bob.addr.clone()];
    let (node, app, effects) = tui::start_chat(&settings, Identity::from_secret([1; 32])).unwrap();
    let alice_addr = node.local_addr();
    let (screen, keys, task) = run_on_screen(node, app, effects, 100, 30);
    // Bob is online, and his conversation is the open one.
    screen.wait_for("● bob").await;
    bob.expect(|e| e["event"] == "peer_up").await;

    let flooder = std::thread::spawn(move || flood(alice_addr));
    bob.send(json!({"cmd": "send", "to": "alice", "text": "bob, during the flood"}))
        .await;
    screen.wait_for("bob, during the flood").await;
    let sent = flooder.join().unwrap();
    assert_eq!(sent, DATAGRAMS);
    // The flood folded into one row, and no more strangers are in memory than the cap.
    screen.wait_for("≈ Strangers (").await;
    let shown = strangers_shown(&screen.screen()).unwrap();
    assert!(
        (STRANGER_FOLD < shown) && (shown <= MAX_STRANGERS),
        "{shown} strangers:\n{}",
        screen.screen()
    );
    // After the flood, bob still gets through.
    bob.send(json!({"cmd": "send", "to": "alice", "text": "bob, after the flood"}))
        .await;
    screen.wait_for("bob, after the flood").await;

    keys.send(Ok(Event::Key(KeyEvent::new(
        KeyCode::Char('q'),
        KeyModifiers::CONTROL,
    ))))
    .await
    .unwrap();
    tokio::time::timeout(PATIENCE, task)
        .await
        .expect("alice quits")
        .unwrap()
        .unwrap();

    // On disk: the strangers within their cap, bob's conversation whole.
    let store = Store::open(&dir.path().join("history.db")).unwrap();
    let rows = store.conversations().unwrap();
    let strangers = rows
        .iter()
        .filter(|r| matches!(r.id, lanchat::proto::ConversationId::Raw(_)))
        .count();
    assert!(
        (STRANGER_FOLD < strangers) && (strangers <= lanchat::store::MAX_STRANGERS),
        "{strangers} stranger conversations stored"
    );
    assert_eq!(rows.len(), strangers + 1);
    let bobs = rows.iter().find(|r| r.id.to_string() == bob.id).unwrap();
    assert_eq!(
        store.latest(&bobs.id, 10).unwrap().len(),
        2,
        "both of bob's messages kept"
    );
    drop(store);

    // The next start loads no more than the app keeps.
    let (_node, app, _) = tui::start_chat(&settings, Identity::from_secret([1; 32])).unwrap();
    assert!(app.conversations.len() <= MAX_CONVERSATIONS);
    assert!(app.conversations.len() <= MAX_STRANGERS + 1);
    assert!(app.strangers_folded());
    bob.quit().await;
}
