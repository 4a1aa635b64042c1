//! The UI over a conversation of a million stored messages: it opens on the latest page,
//! jumps to the very first message and back, and pages up, with only a window in memory.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/history.rs"]
mod history;
#[path = "support/screen.rs"]
mod screen;

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use lanchat::config::Settings;
use lanchat::proto::{Identity, NodeId};
use lanchat::runtime::tui;
use screen::run_on_screen;
use std::time::Instant;

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
    let t = Instant::now();
    let (node, app, first) = tui::start_chat(&settings, Identity::from_secret([1; 32])).unwrap();
    eprintln!("opened the database in {:?}", t.elapsed());
    assert!(
        !first.is_empty(),
        "opening the conversation asks for its latest page"
    );
    let (screen, keys_tx, task) = run_on_screen(node, app, first, 80, 24);

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
