//! The real runtime loop, in-process: scripted keys in, a `TestBackend` screen out, real
//! UDP over loopback to a second node driven through the pipe front end.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use lanchat::app::{App, Me};
use lanchat::config::Settings;
use lanchat::proto::Identity;
use lanchat::runtime::{Node, pipe};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

#[path = "support/screen.rs"]
mod screen;
use screen::{PATIENCE, run_on_screen};

fn key(code: KeyCode) -> std::io::Result<Event> {
    Ok(Event::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

#[tokio::test]
async fn the_loop_sends_what_is_typed_and_draws_what_arrives() {
    // Bob: a pipe node.
    let bob_dir = tempfile::tempdir().unwrap();
    let bob = Node::start(
        &Settings::loopback("bob", bob_dir.path()),
        Identity::from_secret([2; 32]),
    )
    .unwrap();
    let bob_addr = bob.local_addr().to_string();
    let (mut bob_in, bob_node_in) = tokio::io::duplex(1 << 16);
    let (bob_node_out, bob_out) = tokio::io::duplex(1 << 16);
    let bob_task = tokio::spawn(pipe::run(
        bob,
        BufReader::new(bob_node_in),
        bob_node_out,
        std::future::pending(),
        2,
    ));
    let mut bob_out = BufReader::new(bob_out).lines();
    // Bob's next event of a kind, skipping others but messages: a message while waiting
    // for something else is one alice should not have sent.
    let mut next_bob_event = async move |kind: &str| -> Value {
        tokio::time::timeout(PATIENCE, async {
            loop {
                let line = bob_out.next_line().await.unwrap().unwrap();
                let v: Value = serde_json::from_str(&line).unwrap();
                if v["event"] == kind {
                    return v;
                }
                assert_ne!(v["event"], "message", "unexpected: {line}");
            }
        })
        .await
        .expect("bob's event in time")
    };

    // Alice: the full-screen loop on a test backend, with bob given by address.
    let alice_dir = tempfile::tempdir().unwrap();
    let mut settings = Settings::loopback("alice", alice_dir.path());
    settings.peers = vec![bob_addr.clone()];
    let alice = Identity::from_secret([1; 32]);
    let alice_id = alice.public();
    let node = Node::start(&settings, alice).unwrap();
    let app = App::new(
        Me {
            id: alice_id,
            name: "alice".into(),
            listen: node.local_addr(),
            discovery: false,
        },
        1,
    );
    let (screen, keys_tx, alice_task) = run_on_screen(node, app, Vec::new(), 80, 24);

    screen.wait_for("● bob").await;
    screen.wait_for("1 online").await;
    let up = next_bob_event("peer_up").await;
    assert_eq!(up["name"], "alice");

    for c in "hi bob 你好".chars() {
        keys_tx.send(key(KeyCode::Char(c))).await.unwrap();
    }
    screen.wait_for("│hi bob 你好").await; // typed text shows in the input box
    keys_tx.send(key(KeyCode::Enter)).await.unwrap();
    let m = next_bob_event("message").await;
    assert_eq!(m["text"], "hi bob 你好");
    screen.wait_for("✓ delivered").await;

    bob_in
        .write_all(
            format!(
                "{}\n",
                json!({"cmd":"send","to":"alice","text":"hello alice"})
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    screen.wait_for("hello alice").await;

    // A paste with a newline does not send; Ctrl-C quits and says goodbye.
    keys_tx
        .send(Ok(Event::Paste("two\nlines".into())))
        .await
        .unwrap();
    // The box grows to two lines; nothing was sent (bob gets no message before alice's
    // goodbye).
    screen.wait_for("│two   ").await;
    screen.wait_for("│lines   ").await;
    keys_tx
        .send(Ok(Event::Key(KeyEvent::new(
            KeyCode::Char('c'),
            KeyModifiers::CONTROL,
        ))))
        .await
        .unwrap();
    tokio::time::timeout(PATIENCE, alice_task)
        .await
        .expect("alice quits")
        .unwrap()
        .unwrap();
    let down = next_bob_event("peer_down").await;
    assert_eq!(down["reason"], "goodbye");
    bob_task.abort();
}
