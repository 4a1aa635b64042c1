//! Exact-buffer tests of the drawing, and properties of the text wrapping.
//!
//! Screens are compared row by row as text. A row is read cell by cell, skipping the cells a
//! wide character covers (ratatui resets those), so an expected row reads like the text a
//! person sees, and its width in columns is always the terminal's width.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::app::{Me, Msg};
use crate::proto::{Event, MsgId, NodeId, PeerView};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use proptest::prelude::*;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Cell;

/// 2024-01-01 10:00:00 UTC.
const T0: i64 = 1_704_103_200_000;
const MINUTE: i64 = 60_000;

fn me(name: &str) -> Me {
    Me {
        id: NodeId([0xEE; 32]),
        name: name.into(),
        listen: "127.0.0.1:47475".parse().unwrap(),
        discovery: true,
    }
}

fn new_app() -> App {
    let mut app = App::new(me("me"), 1);
    app.utc_offset_s = 0;
    app
}

fn node(n: u8) -> NodeId {
    NodeId([n; 32])
}

fn peer(n: u8) -> ConversationId {
    ConversationId::Peer(node(n))
}

fn peer_up(app: &mut App, now: i64, n: u8, name: &str, online: bool) {
    app.update(
        now,
        Msg::Net(Event::PeerUp(PeerView {
            id: node(n),
            name: name.into(),
            addr: format!("10.0.0.{n}:47475").parse().unwrap(),
            online,
        })),
    );
}

fn incoming(app: &mut App, now: i64, conversation: ConversationId, id: u64, text: &str) {
    app.update(
        now,
        Msg::Net(Event::Message {
            conversation,
            id: MsgId(id),
            sent_at_ms: None,
            text: text.into(),
        }),
    );
}

/// Sends `text` to the selected conversation and returns the new message's id.
fn send(app: &mut App, now: i64, text: &str) -> MsgId {
    app.input.set(text);
    let effects = app.update(
        now,
        Msg::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)),
    );
    match &effects[..] {
        [crate::app::Effect::Send { id, .. }] => *id,
        other => panic!("expected one send, got {other:?}"),
    }
}

fn terminal(width: u16, height: u16) -> Terminal<TestBackend> {
    Terminal::new(TestBackend::new(width, height)).unwrap()
}

fn render(app: &App, width: u16, height: u16) -> Terminal<TestBackend> {
    let mut t = terminal(width, height);
    t.draw(|f| draw(f, app)).unwrap();
    t
}

/// The screen as text, one string per row (see the module docs).
fn rows(t: &Terminal<TestBackend>) -> Vec<String> {
    let buf = t.backend().buffer();
    let mut out = Vec::new();
    for y in buf.area.top()..buf.area.bottom() {
        let mut row = String::new();
        let mut covered = 0;
        for x in buf.area.left()..buf.area.right() {
            if covered > 0 {
                covered -= 1;
                continue;
            }
            let symbol = buf[(x, y)].symbol();
            covered = text::width(symbol).saturating_sub(1);
            row.push_str(symbol);
        }
        assert_eq!(
            text::width(&row),
            usize::from(buf.area.width),
            "row {y} is not exactly the screen's width: {row:?}"
        );
        out.push(row);
    }
    out
}

#[track_caller]
fn assert_screen(t: &Terminal<TestBackend>, expected: &[&str]) {
    let actual = rows(t);
    assert_eq!(
        actual,
        expected.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        "\nactual screen:\n{}\n",
        actual.join("\n")
    );
}

/// Row `y` without the blank columns and border at its right end.
fn rows_of(t: &Terminal<TestBackend>, y: usize) -> String {
    rows(t)[y].trim_end_matches([' ', '│']).to_owned()
}

fn screen_text(t: &Terminal<TestBackend>) -> String {
    rows(t).join("\n")
}

fn cursor(t: &mut Terminal<TestBackend>) -> Position {
    t.get_cursor_position().unwrap()
}

/// One online peer, alice, with one message of mine (delivered) and one of hers.
fn chat_with_alice() -> App {
    let mut app = new_app();
    peer_up(&mut app, T0, 1, "alice", true);
    let id = send(&mut app, T0, "hello alice");
    app.update(
        T0 + 1,
        Msg::Net(Event::State {
            id,
            state: DeliveryState::Delivered,
        }),
    );
    incoming(&mut app, T0 + MINUTE, peer(1), 77, "hi me");
    app
}

// ---------------------------------------------------------------------------------------
// Whole screens

#[test]
fn whole_small_screen_is_exact() {
    let app = chat_with_alice();
    let mut t = render(&app, 60, 12);
    assert_screen(
        &t,
        &[
            "┌ Chats ──────┐┌ alice · online · 10.0.0.1:47475 ──────────┐",
            "│● alice      ││me  10:00  ✓ delivered                     │",
            "│             ││  hello alice                              │",
            "│             ││alice  10:01                               │",
            "│             ││  hi me                                    │",
            "│             ││                                           │",
            "│             ││                                           │",
            "└─────────────┘└───────────────────────────────────────────┘",
            "┌ To alice ────────────────────────────────────────────────┐",
            "│                                                          │",
            "└──────────────────────────────────────────────────────────┘",
            " me · 127.0.0.1:47475 · 1 online                            ",
        ],
    );
    // The cursor waits at the start of the empty input box.
    assert_eq!(cursor(&mut t), Position::new(1, 9));
    // Colours that carry meaning: my name green, theirs cyan, delivered green, online dot
    // green.
    let buf = t.backend().buffer();
    assert_eq!(buf[(16, 1)].fg, Color::Green);
    assert_eq!(buf[(16, 3)].fg, Color::Cyan);
    assert_eq!(buf[(27, 1)].symbol(), "✓");
    assert_eq!(buf[(27, 1)].fg, Color::Green);
    assert_eq!(buf[(1, 1)].fg, Color::Green);
}

#[test]
fn wide_screen_status_line_has_the_key_hints() {
    let mut app = chat_with_alice();
    app.update(T0 + MINUTE, Msg::Error("no route to host".into()));
    let t = render(&app, 100, 12);
    let status = rows(&t).pop().unwrap();
    assert_eq!(
        status,
        format!(
            " me · 127.0.0.1:47475 · 1 online · ⚠ no route to host{}Tab chats · ^S search · \
             F1 help · ^C quit ",
            " ".repeat(100 - 53 - 42)
        )
    );
    assert_eq!(t.backend().buffer()[(40, 11)].fg, Color::Red);
}

#[test]
fn empty_state_guides_the_user() {
    let app = new_app();
    let t = render(&app, 80, 24);
    let rows = rows(&t);
    assert_eq!(
        rows[0],
        format!("┌ Chats ───────────┐┌ lanchat {}┐", "─".repeat(49))
    );
    // The sidebar is 20 wide: the hint exactly fills its 18 inner columns.
    assert!(rows[1].starts_with("│Looking for peers…││No conversations yet."));
    assert!(rows[1].ends_with("│"));
    assert!(
        rows[3].starts_with("│                  ││Peers running lanchat on your network appear")
    );
    assert!(screen_text(&t).contains("/add HOST:PORT"));
    assert_eq!(rows[21], format!("│{}│", " ".repeat(78)));
    assert_eq!(rows[20], format!("┌ Message {}┐", "─".repeat(69)));
}

#[test]
fn empty_state_nc_hint_is_a_working_command() {
    let t = render(&new_app(), 120, 24);
    let screen = screen_text(&t);
    assert!(screen.contains("nc -u 127.0.0.1 47475"), "{screen}");
}

#[test]
fn conversation_without_messages_says_hello() {
    let mut app = new_app();
    peer_up(&mut app, T0, 1, "bob", false);
    let t = render(&app, 60, 12);
    let rows = rows(&t);
    assert_eq!(
        rows[0],
        "┌ Chats ──────┐┌ bob · offline · last at 10.0.0.1:47475 ───┐"
    );
    assert_eq!(
        rows[1],
        "│○ bob        ││Say hello to bob.                          │"
    );
}

// ---------------------------------------------------------------------------------------
// Wide characters

#[test]
fn cjk_and_emoji_wrap_exactly_in_a_narrow_pane() {
    let mut app = new_app();
    peer_up(&mut app, T0, 1, "alice", true);
    // 1 + 10×2 = 21 columns, then a wide character that would need 23 of the 22 a line
    // of text has (24 inside the pane, less the indent of 2).
    let family = "👨\u{200D}👩\u{200D}👧";
    let msg = format!("a你好世界这是一个很长的中文消息🎉👍🏽{family} ok");
    incoming(&mut app, T0, peer(1), 1, &msg);
    // 40×10: the sidebar takes 14 columns, the pane 26 (24 inside its border).
    let t = render(&app, 40, 10);
    assert_screen(
        &t,
        &[
            "┌ Chats ─────┐┌ alice · online · 10.0… ┐",
            "│● alice     ││alice  10:00            │",
            "│            ││  a你好世界这是一个很长 │",
            format!("│            ││  的中文消息🎉👍🏽{family} ok   │").as_str(),
            "│            ││                        │",
            "└────────────┘└────────────────────────┘",
            "┌ To alice ────────────────────────────┐",
            "│                                      │",
            "└──────────────────────────────────────┘",
            " me · 127.0.0.1:47475 · 1 online        ",
        ],
    );

    let buf = t.backend().buffer();
    // Each wide character takes its cell and resets the one after it.
    assert_eq!(buf[(17, 2)].symbol(), "a");
    assert_eq!(buf[(18, 2)].symbol(), "你");
    assert_eq!(buf[(19, 2)], Cell::EMPTY);
    assert_eq!(buf[(19, 2)].symbol(), " ");
    assert_eq!(buf[(20, 2)].symbol(), "好");
    assert_eq!(buf[(36, 2)].symbol(), "长");
    assert_eq!(buf[(37, 2)], Cell::EMPTY);
    assert_eq!(buf[(38, 2)].symbol(), " ", "the 24th column stays empty");
    // Emoji clusters (a skin tone, a ZWJ family) are one cell each, not pieces.
    assert_eq!(buf[(27, 3)].symbol(), "🎉");
    assert_eq!(buf[(29, 3)].symbol(), "👍🏽");
    assert_eq!(buf[(30, 3)], Cell::EMPTY);
    assert_eq!(buf[(31, 3)].symbol(), family);
    // The right border is intact on every row of the pane.
    assert_eq!(buf[(39, 0)].symbol(), "┐");
    for y in 1..5 {
        assert_eq!(buf[(39, y)].symbol(), "│", "row {y}");
        assert_eq!(buf[(14, y)].symbol(), "│", "row {y}");
    }
    assert_eq!(buf[(39, 5)].symbol(), "┘");
    // And what the model says it takes is what was drawn.
    let conv = app.conversation(&peer(1)).unwrap();
    assert_eq!(conversation_height(&app, conv, 24), 3);
    for line in message_lines(&app, &conv.messages[0], 24) {
        let line: String = line.spans.iter().map(|s| s.content.as_ref()).collect();
        assert!(text::width(&line) <= 24, "{line:?}");
    }
}

#[test]
fn cjk_names_are_cut_on_whole_characters() {
    let mut app = new_app();
    peer_up(&mut app, T0, 1, "张伟的笔记本电脑", true);
    let t = render(&app, 40, 10);
    let rows = rows(&t);
    // 12 columns inside the sidebar: dot, space, then 10 columns of name: 4 characters
    // and the ellipsis, one column left over.
    assert_eq!(&rows[1][..rows[1].find("││").unwrap()], "│● 张伟的笔… ");
    assert_eq!(rows[7], "│                                      │");
}

#[test]
fn an_over_wide_cluster_is_still_shown() {
    let mut app = new_app();
    peer_up(&mut app, T0, 1, "mallory", true);
    let wide = format!("a{}", "🏽".repeat(20)); // one cluster, 41 columns
    assert_eq!(wide.graphemes(true).count(), 1);
    incoming(&mut app, T0, peer(1), 1, &wide);
    let t = render(&app, 40, 10);
    let rows = rows(&t);
    assert!(rows[2].contains('a'), "the message vanished: {:?}", rows[2]);
    for line in text::wrap(&text::sanitize(&wide), 22) {
        assert!(text::width(&line) <= 22, "{line:?}");
    }
}

#[test]
fn delivery_state_is_never_cut_off() {
    let mut app = new_app();
    peer_up(&mut app, T0, 1, "alice", true);
    let id = send(&mut app, T0, "did this arrive?");
    app.update(
        T0 + 1,
        Msg::SendFailed {
            id,
            error: "no route".into(),
        },
    );
    // The next day the header reads "me  01-01 10:00  ✗ failed": 25 columns, the pane has 24.
    app.update(T0 + 24 * 60 * MINUTE, Msg::Info(String::new()));
    let t = render(&app, 40, 10);
    let rows = rows(&t);
    assert!(rows[1].contains("✗ failed"), "{:?}", rows[1]);
}

// ---------------------------------------------------------------------------------------
// Hostile text

#[test]
fn hostile_name_and_text_render_visibly_and_inertly() {
    let mut app = new_app();
    let evil_name = "ev\x1b[2Jil\x07\u{202E}gnp.exe";
    peer_up(&mut app, T0, 1, evil_name, true);
    incoming(
        &mut app,
        T0,
        peer(1),
        1,
        "\x1b]0;pwned\x07 \x1b[31mred\u{9b}2J\r\u{202E}txt",
    );
    let t = render(&app, 80, 14);
    let screen = screen_text(&t);
    let rows = rows(&t);

    // Sidebar, pane title, message header and input title all show the name with its
    // controls in caret notation and the RLO gone.
    assert_eq!(
        rows[..3],
        [
            "┌ Chats ───────────┐┌ ev^[[2Jil^Ggnp.exe · online · 10.0.0.1:47475 ────────────┐",
            "│● ev^[[2Jil^Ggnp.…││ev^[[2Jil^Ggnp.exe  10:00                                 │",
            "│                  ││  ^[]0;pwned^G ^[[31mred<9B>2J^Mtxt                       │",
        ],
        "\n{screen}"
    );
    assert_eq!(
        rows[10],
        format!("┌ To ev^[[2Jil^Ggnp.exe {}┐", "─".repeat(55))
    );

    let buf = t.backend().buffer();
    for y in 0..buf.area.height {
        for x in 0..buf.area.width {
            let s = buf[(x, y)].symbol();
            assert!(
                !s.chars().any(|c| c.is_control()
                    || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')),
                "cell ({x},{y}) holds {s:?}"
            );
        }
    }
}

#[test]
fn hostile_input_is_shown_visibly_in_the_box() {
    let mut app = new_app();
    peer_up(&mut app, T0, 1, "alice", true);
    app.update(T0, Msg::Paste("a\x1b[Kb\nc\td".into()));
    let t = render(&app, 40, 10);
    assert_eq!(rows(&t)[7], "│a^[[Kb⏎c→d                            │");
}

// ---------------------------------------------------------------------------------------
// Small terminals

#[test]
fn tiny_terminals_draw_without_panic() {
    let app = chat_with_alice();
    for (w, h) in [
        (39, 9),
        (40, 9),
        (39, 10),
        (10, 3),
        (1, 1),
        (0, 0),
        (1, 40),
        (200, 1),
    ] {
        let t = render(&app, w, h);
        if w > 0 && h > 0 {
            let rows = rows(&t);
            assert_eq!(rows.len(), usize::from(h));
            assert!(rows[0].starts_with(&"Terminal too small"[..usize::from(w).min(8)]));
        }
    }
    // The help overlay too.
    let mut app = chat_with_alice();
    app.show_help = true;
    for (w, h) in [(40, 10), (41, 11), (39, 9)] {
        render(&app, w, h);
    }
}

#[test]
fn too_small_says_so_exactly() {
    let app = new_app();
    let t = render(&app, 40, 3);
    assert_screen(
        &t,
        &[
            "Terminal too small (40×3): lanchat needs",
            "40×10                                   ",
            "                                        ",
        ],
    );
    let t = render(&app, 39, 9);
    assert_screen(
        &t,
        &[
            "Terminal too small (39×9): lanchat     ",
            "needs 40×10                            ",
            "                                       ",
            "                                       ",
            "                                       ",
            "                                       ",
            "                                       ",
            "                                       ",
            "                                       ",
        ],
    );
    // The minimum itself draws the chat.
    let t = render(&app, MIN_WIDTH, MIN_HEIGHT);
    assert!(rows(&t)[0].starts_with("┌ Chats "));
}

// ---------------------------------------------------------------------------------------
// The input box

#[test]
fn cursor_sits_after_wide_characters() {
    let mut app = chat_with_alice();
    app.input.set("你好ab");
    app.input.left();
    app.input.left();
    assert_eq!(app.input.cursor(), "你好".len());
    let mut t = render(&app, 60, 12);
    // Inner left edge of the input box is x = 1; "你好" takes 4 columns.
    assert_eq!(cursor(&mut t), Position::new(1 + 4, 9));
    assert_eq!(rows(&t)[9], format!("│你好ab{}│", " ".repeat(52)));
}

#[test]
fn long_input_scrolls_to_keep_the_cursor_in_the_box() {
    let digits: String = (0..100)
        .map(|i| char::from(b'0' + (i % 10) as u8))
        .collect();
    let mut app = chat_with_alice();
    app.input.set(&digits);
    // 60 wide: the box has 58 columns inside (x 1..=58), one kept for the cursor.
    let mut t = render(&app, 60, 12);
    let c = cursor(&mut t);
    assert_eq!(c, Position::new(58, 9));
    assert_eq!(rows(&t)[9], format!("│{} │", &digits[43..]));

    app.input.home();
    let mut t = render(&app, 60, 12);
    assert_eq!(cursor(&mut t), Position::new(1, 9));
    assert_eq!(rows(&t)[9], format!("│{}│", &digits[..58]));

    // Wide characters: 50 of them are 100 columns; the last 28 show, cursor after them.
    let wide = "字".repeat(50);
    app.input.set(&wide);
    let mut t = render(&app, 60, 12);
    assert_eq!(cursor(&mut t), Position::new(57, 9));
    assert_eq!(rows(&t)[9], format!("│{}  │", "字".repeat(28)));

    // Wherever the cursor is, it stays inside the box.
    for _ in 0..50 {
        app.input.left();
        let mut t = render(&app, 60, 12);
        let c = cursor(&mut t);
        assert!((1..59).contains(&c.x), "{c:?}");
        assert_eq!(c.y, 9);
    }
}

// ---------------------------------------------------------------------------------------
// Sidebar

#[test]
fn sidebar_shows_unread_badges_online_dots_and_the_selection() {
    let mut app = new_app();
    peer_up(&mut app, T0, 1, "alice", true);
    peer_up(&mut app, T0, 2, "bob", true);
    peer_up(&mut app, T0, 3, "carol", false);
    for i in 0..3 {
        incoming(&mut app, T0 + i, peer(2), 10 + i as u64, "ping");
    }
    for i in 0..120 {
        incoming(&mut app, T0 - 1000 + i, peer(3), 100 + i as u64, "old");
    }
    incoming(
        &mut app,
        T0 - 2000,
        ConversationId::Raw("192.168.0.9:5000".parse().unwrap()),
        1,
        "plain",
    );
    // Order: bob (latest), carol, the raw one, alice (no messages); alice selected. The
    // address is cut to leave room for the badge.
    let t = render(&app, 60, 12);
    let rows = rows(&t);
    let side: Vec<&str> = rows[1..5]
        .iter()
        .map(|r| &r[..r.find("││").unwrap()])
        .collect();
    assert_eq!(
        side,
        [
            "│● bob       3",
            "│○ carol   99+",
            "│≈ 192.168.… 1",
            "│● alice      ",
        ]
    );
    let buf = t.backend().buffer();
    // Dots: green online, grey offline, yellow plain-text.
    assert_eq!((buf[(1, 1)].symbol(), buf[(1, 1)].fg), ("●", Color::Green));
    assert_eq!(
        (buf[(1, 2)].symbol(), buf[(1, 2)].fg),
        ("○", Color::DarkGray)
    );
    assert_eq!((buf[(1, 3)].symbol(), buf[(1, 3)].fg), ("≈", Color::Yellow));
    // Badges are red and bold, and unread names bold.
    assert_eq!(buf[(13, 1)].symbol(), "3");
    assert_eq!(buf[(13, 1)].fg, Color::Red);
    assert!(buf[(13, 1)].modifier.contains(Modifier::BOLD));
    assert!(buf[(3, 1)].modifier.contains(Modifier::BOLD));
    assert!(!buf[(3, 4)].modifier.contains(Modifier::BOLD));
    // Only alice's row, all of it, is reversed.
    for y in 1..7 {
        for x in 1..14 {
            assert_eq!(
                buf[(x, y)].modifier.contains(Modifier::REVERSED),
                y == 4,
                "cell ({x},{y})"
            );
        }
    }
    assert!(!buf[(0, 4)].modifier.contains(Modifier::REVERSED));
    assert!(!buf[(14, 4)].modifier.contains(Modifier::REVERSED));
}

#[test]
fn sidebar_keeps_the_selected_row_in_view() {
    let mut app = new_app();
    for n in 0..10u8 {
        peer_up(&mut app, T0, n + 1, &format!("peer{n}"), true);
    }
    app.select(peer(9)); // "peer8", the ninth row
    let t = render(&app, 60, 12);
    let rows = rows(&t);
    let side: Vec<&str> = rows[1..7]
        .iter()
        .map(|r| &r[..r.find("││").unwrap()])
        .collect();
    assert_eq!(
        side,
        [
            "│● peer3      ",
            "│● peer4      ",
            "│● peer5      ",
            "│● peer6      ",
            "│● peer7      ",
            "│● peer8      ",
        ]
    );
    assert!(
        t.backend().buffer()[(1, 6)]
            .modifier
            .contains(Modifier::REVERSED)
    );
}

// ---------------------------------------------------------------------------------------
// Overlays and scrolling

#[test]
fn f1_shows_the_help_overlay_and_hides_the_cursor() {
    let mut app = chat_with_alice();
    let mut t = terminal(80, 24);
    t.draw(|f| draw(f, &app)).unwrap();
    assert!(t.backend().cursor_visible());

    app.update(
        T0 + MINUTE,
        Msg::Key(KeyEvent::new(KeyCode::F(1), KeyModifiers::NONE)),
    );
    assert!(app.show_help);
    t.draw(|f| draw(f, &app)).unwrap();
    assert!(!t.backend().cursor_visible());
    let rows = rows(&t);
    // 19 lines of help and a border: 21 rows, centred; 78 columns wide (the widest line).
    assert_eq!(
        rows[1],
        format!("│┌ Keys and commands · Esc closes {}┐│", "─".repeat(44))
    );
    assert_eq!(
        rows[2],
        format!(
            "││ Enter{}send the message, or run a /command ││",
            " ".repeat(34)
        )
    );
    // (Its bottom edge lies over the input box.)
    assert_eq!(rows[21], format!("│└{}┘│", "─".repeat(76)));
    let screen = rows.join("\n");
    for (k, what) in keymap::HELP {
        assert!(screen.contains(k), "{k}");
        assert!(screen.contains(what), "{what}");
    }

    app.update(
        T0 + MINUTE,
        Msg::Key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE)),
    );
    t.draw(|f| draw(f, &app)).unwrap();
    assert!(t.backend().cursor_visible());
    assert!(!screen_text(&t).contains("Keys and commands"));
    assert_eq!(
        rows_of(&t, 1),
        "│● alice           ││me  10:00  ✓ delivered"
    );
}

/// The rows of a 60×12 screen from the message pane's left border on (sidebar cut off).
fn pane_rows(t: &Terminal<TestBackend>) -> Vec<String> {
    rows(t)
        .iter()
        .map(|r| r.chars().skip(15).collect())
        .collect()
}

#[test]
fn scrolled_pane_shows_older_lines_and_a_hint() {
    let mut app = new_app();
    peer_up(&mut app, T0, 1, "alice", true);
    for i in 0..10 {
        incoming(&mut app, T0 + i, peer(1), i as u64 + 1, &format!("msg {i}"));
    }
    app.update(
        T0 + 10,
        Msg::Resize {
            width: 60,
            height: 12,
        },
    );
    // 20 lines, 6 rows: the latest three messages at the bottom.
    let t = render(&app, 60, 12);
    let rows_now = pane_rows(&t);
    assert_eq!(rows_now[1], format!("│{:<43}│", "alice  10:00"));
    assert_eq!(rows_now[6], format!("│{:<43}│", "  msg 9"));

    app.update(
        T0 + 10,
        Msg::Key(KeyEvent::new(KeyCode::PageUp, KeyModifiers::NONE)),
    );
    assert_eq!(app.scroll, 5);
    let t = render(&app, 60, 12);
    let rows_up = pane_rows(&t);
    assert_eq!(rows_up[1], format!("│{:<43}│", "  msg 4"));
    // The last row of the pane carries the way back.
    assert_eq!(
        rows_up[6],
        format!("│{:<18} ↓ more below (Ctrl-End) │", "alice  10:00")
    );
    assert_eq!(t.backend().buffer()[(34, 6)].bg, Color::Yellow);

    for _ in 0..10 {
        app.update(
            T0 + 10,
            Msg::Key(KeyEvent::new(KeyCode::PageUp, KeyModifiers::NONE)),
        );
    }
    assert_eq!(app.scroll, 14);
    let t = render(&app, 60, 12);
    let rows_top = pane_rows(&t);
    assert_eq!(rows_top[1], format!("│{:<43}│", "alice  10:00"));
    assert_eq!(rows_top[2], format!("│{:<43}│", "  msg 0"));

    // Something new arrives while reading old messages: the view stays, a marker counts it.
    incoming(&mut app, T0 + 11, peer(1), 99, "news");
    let t = render(&app, 60, 12);
    let rows_new = pane_rows(&t);
    assert_eq!(rows_new[2], format!("│{:<43}│", "  msg 0"));
    assert!(rows_new[6].starts_with("│  msg 2 "), "{}", rows_new[6]);
    assert!(
        rows_new[6].ends_with(" 1 new message ↓ (Ctrl-End) │"),
        "{}",
        rows_new[6]
    );
}

// ---------------------------------------------------------------------------------------
// text::wrap properties

/// Text with the things that make wrapping hard: words and runs of spaces, CJK, emoji
/// sequences, combining marks, tabs, newlines and control characters.
fn tricky_text() -> impl Strategy<Value = String> {
    let piece = prop::sample::select(vec![
        "a",
        "word",
        "longerwordthanmost",
        " ",
        "  ",
        "\n",
        "\t",
        "你",
        "好世界",
        "，",
        "🎉",
        "👍🏽",
        "👨\u{200D}👩\u{200D}👧",
        "🇨🇳",
        "e\u{301}",
        "\u{301}",
        "\u{200D}",
        "\x1b[31m",
        "\x07",
        "\u{202E}",
        "https://example.com/a/b?c=d",
    ]);
    prop::collection::vec(piece, 0..40).prop_map(|v| v.concat())
}

fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        prop::collection::vec(any::<char>(), 0..80).prop_map(|v| v.into_iter().collect()),
        tricky_text(),
    ]
}

/// True if `output` is `input` with only some spaces and line breaks taken out.
fn only_spaces_dropped(input: &str, output: &str) -> bool {
    let mut rest = input.chars();
    'out: for c in output.chars() {
        for i in rest.by_ref() {
            if i == c {
                continue 'out;
            }
            if i != ' ' && i != '\n' {
                return false;
            }
        }
        return false;
    }
    rest.all(|c| c == ' ' || c == '\n')
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 512,
        // Same cases on every run; no regression files written into the source tree.
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x006c_616e_6368_6174),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn wrapped_lines_fit_the_width(s in tricky_text(), width in 0usize..60) {
        // Below two columns wrap keeps room for one wide character.
        let max = width.max(2);
        for line in text::wrap(&text::sanitize(&s), width) {
            prop_assert!(text::width(&line) <= max, "{:?} is wider than {}", line, max);
            prop_assert!(!line.contains('\n'));
        }
    }

    #[test]
    fn wrapped_lines_fit_the_width_for_any_text(s in any_text(), width in 0usize..60) {
        let max = width.max(2);
        for line in text::wrap(&text::sanitize(&s), width) {
            prop_assert!(text::width(&line) <= max, "{:?} is wider than {}", line, max);
        }
    }

    #[test]
    fn wrapping_loses_no_visible_text(s in any_text(), width in 0usize..60) {
        let clean = text::sanitize(&s);
        let lines = text::wrap(&clean, width);
        prop_assert!(!lines.is_empty());
        prop_assert!(lines.len() > clean.matches('\n').count());
        let joined = lines.concat();
        prop_assert!(
            only_spaces_dropped(&clean, &joined),
            "{:?} wrapped at {} gave {:?}", clean, width, lines
        );
        let visible = |s: &str| -> Vec<String> {
            s.split(['\n', ' '])
                .flat_map(|w| w.graphemes(true).map(str::to_owned).collect::<Vec<_>>())
                .collect()
        };
        prop_assert_eq!(visible(&clean), visible(&lines.join("\n")));
        prop_assert_eq!(text::wrapped_height(&clean, width), lines.len());
    }

    #[test]
    fn sanitized_text_has_no_controls_but_newlines(s in any_text()) {
        let clean = text::sanitize(&s);
        prop_assert!(!clean.chars().any(|c| c.is_control() && c != '\n'), "{:?}", clean);
        let line = text::sanitize_line(&s);
        prop_assert!(!line.chars().any(char::is_control), "{:?}", line);
        let rlo = '\u{202E}';
        prop_assert!(!line.contains(rlo), "{:?}", line);
    }
}

#[test]
fn wrap_after_a_leading_space_still_fits() {
    let lines = text::wrap(" abc你", 4);
    for line in &lines {
        assert!(text::width(line) <= 4, "{lines:?}");
    }
    // The same in a message pane: 22 columns of text, a leading space, 21 letters, a wide
    // character.
    let msg = format!(" {}你", "x".repeat(21));
    for line in text::wrap(&msg, 22) {
        assert!(text::width(&line) <= 22, "{line:?}");
    }
    // Two spaces at a break leave the next line starting with one.
    let lines = text::wrap("你  a你", 2);
    for line in &lines {
        assert!(text::width(line) <= 2, "{lines:?}");
    }
}

/// `wrap`, with trailing spaces taken off each line (it keeps the space it broke at when
/// that space ended the line, which is invisible).
fn wrap_trimmed(s: &str, width: usize) -> Vec<String> {
    text::wrap(s, width)
        .iter()
        .map(|l| l.trim_end_matches(' ').to_owned())
        .collect()
}

#[test]
fn wrap_examples() {
    assert_eq!(wrap_trimmed("ab 你好 de", 4), ["ab", "你好", "de"]);
    assert_eq!(wrap_trimmed("see 一二三四五", 7), ["see", "一二三", "四五"]);
    assert_eq!(wrap_trimmed("a你 b好", 4), ["a你", "b好"]);
    assert_eq!(wrap_trimmed("  two leading", 6), ["  two", "leadin", "g"]);
    // Spaces past the edge still open a (blank) line.
    assert_eq!(wrap_trimmed("trailing   ", 8), ["trailing", ""]);
    assert_eq!(wrap_trimmed("a\n\nb", 5), ["a", "", "b"]);
    assert_eq!(wrap_trimmed("你好", 0), ["你", "好"]);
}

#[test]
fn only_spaces_dropped_can_fail() {
    assert!(only_spaces_dropped("a b\nc", "abc"));
    assert!(!only_spaces_dropped("abc", "ab"));
    assert!(!only_spaces_dropped("abc", "abcd"));
    assert!(!only_spaces_dropped("a-b", "ab"));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn message_height_matches_the_lines_drawn(s in tricky_text(), width in 4u16..80) {
        let app = new_app();
        let m = crate::app::Message {
            id: MsgId(1),
            author: crate::app::Author::Me,
            time_ms: T0,
            text: s,
            state: None,
            seq: None,
        };
        prop_assert_eq!(super::message_height(&app, &m, width), super::message_lines(&app, &m, width).len());
    }
}

#[test]
fn no_color_leaves_only_the_terminals_colours_and_keeps_reverse() {
    let mut app = chat_with_alice();
    let t = render(&app, 60, 12);
    let coloured = t
        .backend()
        .buffer()
        .content
        .iter()
        .filter(|c| c.fg != Color::Reset || c.bg != Color::Reset)
        .count();
    assert!(coloured > 0, "the normal screen has colour");
    app.color = false;
    let t = render(&app, 60, 12);
    let buf = t.backend().buffer();
    assert!(
        buf.content
            .iter()
            .all(|c| c.fg == Color::Reset && c.bg == Color::Reset)
    );
    // The open conversation is still marked, by reverse video.
    assert!(buf[(2, 1)].modifier.contains(Modifier::REVERSED));
}

#[test]
fn the_switcher_and_the_peer_info_overlays_draw() {
    let mut app = chat_with_alice();
    app.update(
        T0,
        Msg::Key(KeyEvent::new(KeyCode::Char('k'), KeyModifiers::CONTROL)),
    );
    let screen = screen_text(&render(&app, 80, 24));
    assert!(screen.contains("Go to:"), "{screen}");
    assert!(screen.contains("● alice"), "{screen}");
    app.update(
        T0,
        Msg::Key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE)),
    );
    app.update(
        T0,
        Msg::Key(KeyEvent::new(KeyCode::F(2), KeyModifiers::NONE)),
    );
    let screen = screen_text(&render(&app, 80, 24));
    assert!(screen.contains("Who is this"), "{screen}");
    assert!(screen.contains(&NodeId([1; 32]).to_hex()[..32]), "{screen}");
    assert!(screen.contains("10.0.0.1:47475"), "{screen}");
}

#[test]
fn a_new_day_gets_a_separator_between_messages() {
    let mut app = new_app();
    app.utc_offset_s = 0;
    peer_up(&mut app, T0, 1, "alice", true);
    incoming(
        &mut app,
        T0 - 24 * 60 * MINUTE,
        peer(1),
        1,
        "yesterday's news",
    );
    incoming(&mut app, T0, peer(1), 2, "today's news");
    let t = render(&app, 60, 12);
    let screen = screen_text(&t);
    let rows = rows(&t);
    let sep = rows
        .iter()
        .position(|r| r.contains(" Today "))
        .expect("a Today separator");
    let before = rows
        .iter()
        .position(|r| r.contains("yesterday's news"))
        .expect("old");
    let after = rows
        .iter()
        .position(|r| r.contains("today's news"))
        .expect("new");
    assert!(before < sep && sep < after, "{screen}");
    assert!(rows[sep].contains("─── Today ───"), "{}", rows[sep]);
    // Heights count the separator, so scrolling reaches the top exactly.
    let c = app.conversation(&peer(1)).unwrap();
    assert_eq!(super::conversation_height(&app, c, 43), 2 + 2 + 1);
}

#[test]
fn every_scroll_position_shows_the_same_lines_as_the_whole_conversation_would() {
    // Messages of different heights across several days: the pane skips whole messages
    // below the view by their heights, and must show exactly the slice of all lines.
    let mut app = new_app();
    peer_up(&mut app, T0, 1, "alice", true);
    let day = 24 * 60 * MINUTE;
    for i in 0..40u64 {
        let text = "word ".repeat((i as usize * 7) % 23 + 1);
        let t = T0 - 3 * day + (i as i64 / 10) * day + i as i64;
        incoming(&mut app, t, peer(1), i + 1, &format!("{i}: {text}"));
    }
    let (w, h) = (60u16, 16u16);
    app.update(
        T0,
        Msg::Resize {
            width: w,
            height: h,
        },
    );
    let (pw, ph) = super::message_pane_size(w, h);
    let conv = app.conversation(&peer(1)).unwrap();
    let all = super::view_lines(&app, conv, conv.messages.len(), usize::MAX, pw);
    let all: Vec<String> = all
        .iter()
        .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
        .collect();
    assert_eq!(all.len(), super::conversation_height(&app, conv, pw));
    let max = all.len() - usize::from(ph);
    for scroll in 0..=max {
        app.scroll = scroll;
        let t = render(&app, w, h);
        let pane = pane_rows(&t);
        let end = all.len() - scroll;
        for (row, line) in all[end - usize::from(ph)..end].iter().enumerate() {
            let shown = &pane[row + 1];
            // The bottom row of a scrolled view carries the hint over its right end.
            let hint_row = scroll > 0 && row + 1 == usize::from(ph);
            let want: String = line
                .chars()
                .take(if hint_row { 10 } else { 1000 })
                .collect();
            assert!(
                shown.trim_start_matches('│').starts_with(want.as_str()),
                "scroll {scroll}, row {row}: {shown:?} should show {line:?}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// Whole screens, as snapshots (reviewed in src/ui/snapshots/; `cargo insta review` after a
// deliberate change)

/// A lively app: several conversations in different states, CJK, emoji and a long URL,
/// a day change, a failed message, a plain-text peer.
fn showcase() -> App {
    let mut app = new_app();
    app.utc_offset_s = 0;
    peer_up(&mut app, T0, 1, "alice", true);
    peer_up(&mut app, T0, 2, "张伟", true);
    peer_up(&mut app, T0, 3, "carol", false);
    let day = 24 * 60 * MINUTE;
    incoming(&mut app, T0 - day, peer(1), 1, "see you tomorrow 👋");
    incoming(
        &mut app,
        T0,
        peer(1),
        2,
        "早上好！今天天气很好，我们去吃饭吧？ 👨‍👩‍👧 🇨🇳 and a link https://example.com/a/very/long/path/that/wraps",
    );
    send(&mut app, T0 + MINUTE, "sounds good — 好的");
    let failed = send(&mut app, T0 + 2 * MINUTE, "this one did not make it");
    app.update(
        T0 + 2 * MINUTE,
        Msg::SendFailed {
            id: failed,
            error: "no route".into(),
        },
    );
    for i in 0..3 {
        incoming(
            &mut app,
            T0 + 3 * MINUTE + i,
            peer(2),
            10 + i as u64,
            "你好",
        );
    }
    let raw = ConversationId::Raw("192.168.1.9:40000".parse().unwrap());
    incoming(
        &mut app,
        T0 + 4 * MINUTE,
        raw,
        20,
        "hello from a python script",
    );
    app
}

fn snapshot(app: &App, width: u16, height: u16) -> String {
    let mut app_sized = rows(&render(app, width, height)).join("\n");
    app_sized.push('\n');
    app_sized
}

#[test]
fn snapshot_main_screens() {
    let app = showcase();
    insta::assert_snapshot!("chat_80x24", snapshot(&app, 80, 24));
    insta::assert_snapshot!("chat_120x40", snapshot(&app, 120, 40));
    insta::assert_snapshot!("empty_80x24", snapshot(&new_app(), 80, 24));
    insta::assert_snapshot!("narrow_40x12", snapshot(&app, 40, 12));
    insta::assert_snapshot!("too_small_30x8", snapshot(&app, 30, 8));
}

#[test]
fn snapshot_overlays() {
    let mut app = showcase();
    app.update(
        T0 + 5 * MINUTE,
        Msg::Key(KeyEvent::new(KeyCode::F(1), KeyModifiers::NONE)),
    );
    insta::assert_snapshot!("help_80x24", snapshot(&app, 80, 24));
    app.update(
        T0 + 5 * MINUTE,
        Msg::Key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE)),
    );
    app.update(
        T0 + 5 * MINUTE,
        Msg::Key(KeyEvent::new(KeyCode::Char('k'), KeyModifiers::CONTROL)),
    );
    insta::assert_snapshot!("switcher_80x24", snapshot(&app, 80, 24));
    app.update(
        T0 + 5 * MINUTE,
        Msg::Key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE)),
    );
    app.update(
        T0 + 5 * MINUTE,
        Msg::Key(KeyEvent::new(KeyCode::F(2), KeyModifiers::NONE)),
    );
    insta::assert_snapshot!("peer_info_80x24", snapshot(&app, 80, 24));
}
