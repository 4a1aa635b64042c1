//! The UI over a conversation of a million stored messages: it opens on the latest page,
//! jumps to the very first message and back, and pages up, with only a window in memory.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/history.rs"]
mod history;
#[path = "support/screen.rs"]
mod screen;

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use lanchat::app::{App, Me};
use lanchat::config::Settings;
use lanchat::proto::NodeId;
use lanchat::runtime::{Node, tui};
use ratatui::Terminal;
use screen::Shared;
use std::time::Instant;
use tokio::sync::mpsc;

const N: u64 = 1_000_000;

fn key(code: KeyCode, mods: KeyModifiers) -> std::io::Result<Event> {
    Ok(Event::Key(KeyEvent::new(code, mods)))
}

#[tokio::test]
async fn a_million_message_conversation_opens_and_scrolls_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let peer = NodeId([9; 32]);
    let t = Instant::now();
    history::fill(&dir.path().join("history.db"), peer, N);
    eprintln!("generated {N} messages in {:?}", t.elapsed());

    let settings = Settings::loopback("me", dir.path());
    let me = NodeId([1; 32]);
    let mut node = Node::start(&settings, me).unwrap();
    let t = Instant::now();
    let store = Node::open_store(&settings).unwrap();
    let restored = node.attach_store(store).unwrap();
    eprintln!("opened the database in {:?}", t.elapsed());
    let mut app = App::new(
        Me {
            id: me,
            name: "me".into(),
            listen: node.local_addr(),
            discovery: false,
        },
        1,
    );
    let first = app.update(0, tui::restore_msg(restored));
    assert!(
        !first.is_empty(),
        "opening the conversation asks for its latest page"
    );

    let screen = Shared::new(80, 24);
    let mut terminal = Terminal::new(screen.clone()).unwrap();
    let (keys_tx, mut keys_rx) = mpsc::channel::<std::io::Result<Event>>(16);
    let keys = Box::pin(futures_util::stream::poll_fn(move |cx| {
        keys_rx.poll_recv(cx)
    }));
    let task = tokio::spawn(async move {
        tui::run_with(
            &mut terminal,
            keys,
            node,
            app,
            first,
            std::future::pending(),
        )
        .await
    });

    let t = Instant::now();
    screen.wait_for("history line 999999").await;
    eprintln!("latest page on screen after {:?}", t.elapsed());

    let t = Instant::now();
    keys_tx
        .send(key(KeyCode::Home, KeyModifiers::CONTROL))
        .await
        .unwrap();
    screen.wait_for("history line 0 ").await;
    eprintln!("first message on screen after {:?}", t.elapsed());
    assert!(!screen.screen().contains("history line 999999"));

    keys_tx
        .send(key(KeyCode::End, KeyModifiers::CONTROL))
        .await
        .unwrap();
    screen.wait_for("history line 999999").await;

    // Page up, a key at a time as a person would, until older pages have come from the
    // store (the latest page holds 200 messages).
    let deadline = Instant::now() + std::time::Duration::from_secs(20);
    while !screen.screen().contains("history line 999750 ") {
        assert!(
            Instant::now() < deadline,
            "never got there:\n{}",
            screen.screen()
        );
        keys_tx
            .send(key(KeyCode::PageUp, KeyModifiers::NONE))
            .await
            .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    keys_tx
        .send(key(KeyCode::Char('c'), KeyModifiers::CONTROL))
        .await
        .unwrap();
    task.await.unwrap().unwrap();
}
