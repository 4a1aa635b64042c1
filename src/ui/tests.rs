//! Exact-buffer tests of the drawing, and properties of the text wrapping.
//!
//! Screens are compared row by row as text. A row is read cell by cell, skipping the cells a
//! wide character covers (ratatui resets those), so an expected row reads like the text a
//! person sees, and its width in columns is always the terminal's width.

#![allow(clippy::unwrap_used, clippy::expect_used)]
// These tests drive the model and look at its state; where they want the effects they
// assert them, and elsewhere leaving them is the point (no runtime here).
#![allow(unused_must_use)]

use super::*;
use crate::app::{Me, Msg};
use crate::proto::{Event, MsgId, NodeId, PeerView};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use proptest::prelude::*;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Cell;
use unicode_segmentation::UnicodeSegmentation;

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

fn resize(app: &mut App, width: u16, height: u16) {
    app.update(T0, Msg::Resize { width, height });
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
            quote: None,
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
            "┌ Chats ─────────┐┌ alice · online · 10.0.0.1:47475 ───────┐",
            "│● alice         ││                  ✓ delivered  10:00  me│",
            "│                ││                            hello alice │",
            "│                ││alice  10:01                            │",
            "│                ││ hi me                                  │",
            "│                ││                                        │",
            "│                ││                                        │",
            "└────────────────┘└────────────────────────────────────────┘",
            "┌ To alice ────────────────────────────────────────────────┐",
            "│                                                          │",
            "└──────────────────────────────────────────────────────────┘",
            " me · 127.0.0.1:47475 · 1 online    Ctrl-S search · F1 help ",
        ],
    );
    // The cursor waits at the start of the empty input box.
    assert_eq!(cursor(&mut t), Position::new(1, 9));
    // Colours that carry meaning: my name green, theirs cyan, delivered green, online dot
    // green; my bubble green, theirs grey, and nothing beside them.
    let buf = t.backend().buffer();
    assert_eq!(buf[(57, 1)].symbol(), "m");
    assert_eq!(buf[(57, 1)].fg, Color::LightGreen);
    assert_eq!(buf[(19, 3)].fg, Color::LightCyan);
    assert_eq!(buf[(37, 1)].symbol(), "✓");
    assert_eq!(buf[(37, 1)].fg, Color::Green);
    assert_eq!(buf[(1, 1)].fg, Color::LightGreen);
    // My bubble: 13 columns against the right border, " hello alice ".
    assert_eq!(buf[(45, 2)].bg, Color::Reset);
    for x in 46..59 {
        assert_eq!(buf[(x, 2)].bg, Color::Green, "x {x}");
    }
    assert_eq!(buf[(47, 2)].symbol(), "h");
    // Theirs: " hi me " from the left border.
    for x in 19..26 {
        assert_eq!(buf[(x, 4)].bg, Color::DarkGray, "x {x}");
    }
    assert_eq!(buf[(26, 4)].bg, Color::Reset);
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
            " me · 127.0.0.1:47475 · key {} · 1 online · ⚠ no route to host{}Ctrl-S search · \
             F1 help ",
            crate::app::short_fp(&app.me.id),
            " ".repeat(100 - 69 - 24)
        )
    );
    assert_eq!(t.backend().buffer()[(56, 11)].fg, Color::LightRed);
    // The hints name the keys as bound: rebinding search shows the new key.
    app.keymap = crate::app::keymap::Keymap::with(&[(
        crate::app::keymap::Action::Search,
        vec!["alt-s".parse().unwrap()],
    )]);
    let t = render(&app, 100, 12);
    assert!(rows(&t).pop().unwrap().ends_with("Alt-S search · F1 help "));
}

#[test]
fn empty_state_guides_the_user() {
    let app = new_app();
    let t = render(&app, 80, 24);
    let rows = rows(&t);
    assert_eq!(
        rows[0],
        format!("┌ Chats {}┐┌ lanchat {}┐", "─".repeat(15), "─".repeat(45))
    );
    // The sidebar is 24 wide: the hint takes 18 of its 22 inner columns.
    assert!(rows[1].starts_with("│Looking for peers…    ││No conversations yet."));
    assert!(rows[1].ends_with("│"));
    assert!(rows[3].starts_with("│                      ││Peers running lanchat on your network"));
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
        "┌ Chats ─────────┐┌ bob · offline · last at 10.0.0.1:47475 ┐"
    );
    assert_eq!(
        rows[1],
        "│○ bob           ││Say hello to bob.                       │"
    );
}

// ---------------------------------------------------------------------------------------
// Wide characters

#[test]
fn cjk_and_emoji_wrap_exactly_in_a_narrow_pane() {
    let mut app = new_app();
    peer_up(&mut app, T0, 1, "alice", true);
    // 40 columns is narrow: no sidebar, the pane has 38 inside its border, a bubble at
    // most 32 with 30 of text. 1 + 14×2 = 29 columns, then a wide character would need 31.
    let family = "👨\u{200D}👩\u{200D}👧";
    let msg = format!("a你好世界这是一个很长的中文消息🎉👍🏽{family} ok");
    incoming(&mut app, T0, peer(1), 1, &msg);
    let t = render(&app, 40, 10);
    assert_screen(
        &t,
        &[
            "┌ alice · online · 10.0.0.1:47475 ─────┐",
            "│alice  10:00                          │",
            "│ a你好世界这是一个很长的中文消        │",
            format!("│ 息🎉👍🏽{family} ok{}│", " ".repeat(26)).as_str(),
            "│                                      │",
            "└──────────────────────────────────────┘",
            "┌ To alice ────────────────────────────┐",
            "│                                      │",
            "└──────────────────────────────────────┘",
            " me · 127.0.0.1:47475 · 1 online        ",
        ],
    );

    let buf = t.backend().buffer();
    // Each wide character takes its cell and resets the one after it.
    assert_eq!(buf[(1, 2)].symbol(), " ", "the bubble's own margin");
    assert_eq!(buf[(2, 2)].symbol(), "a");
    assert_eq!(buf[(3, 2)].symbol(), "你");
    assert_eq!(buf[(4, 2)], Cell::EMPTY);
    assert_eq!(buf[(5, 2)].symbol(), "好");
    assert_eq!(buf[(29, 2)].symbol(), "消");
    assert_eq!(buf[(30, 2)].symbol(), " ");
    // The bubble is 31 wide (29 of text and a margin either side) on both of its rows,
    // whatever the second holds: its right edge is straight.
    for y in 2..4 {
        assert_eq!(buf[(31, y)].bg, Color::DarkGray, "row {y}");
        assert_eq!(buf[(32, y)].bg, Color::Reset, "row {y}");
    }
    // Emoji clusters (a skin tone, a ZWJ family) are one cell each, not pieces.
    assert_eq!(buf[(2, 3)].symbol(), "息");
    assert_eq!(buf[(4, 3)].symbol(), "🎉");
    assert_eq!(buf[(6, 3)].symbol(), "👍🏽");
    assert_eq!(buf[(8, 3)].symbol(), family);
    assert_eq!(buf[(11, 3)].symbol(), "o");
    // The right border is intact on every row of the pane.
    assert_eq!(buf[(39, 0)].symbol(), "┐");
    for y in 1..5 {
        assert_eq!(buf[(39, y)].symbol(), "│", "row {y}");
        assert_eq!(buf[(0, y)].symbol(), "│", "row {y}");
    }
    assert_eq!(buf[(39, 5)].symbol(), "┘");
    // And what the model says it takes is what was drawn.
    let conv = app.conversation(&peer(1)).unwrap();
    assert_eq!(
        layout::conversation_height(&app.heights, &conv.messages, 38, app.utc_offset_s),
        3
    );
    for line in message_lines(&app, &conv.messages[0], 38) {
        let line: String = line.spans.iter().map(|s| s.content.as_ref()).collect();
        assert!(text::width(&line) <= 38, "{line:?}");
    }
}

#[test]
fn cjk_names_are_cut_on_whole_characters() {
    let mut app = new_app();
    peer_up(&mut app, T0, 1, "张伟的笔记本电脑", true);
    let t = render(&app, 60, 12);
    let rows = rows(&t);
    // 16 columns inside the sidebar: dot, space, then 14 columns of name: 6 characters
    // and the ellipsis, one column left over.
    assert_eq!(&rows[1][..rows[1].find("││").unwrap()], "│● 张伟的笔记本… ");
    assert_eq!(rows[9], format!("│{}│", " ".repeat(58)));
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
            "┌ Chats ───────────────┐┌ ev^[[2Jil^Ggnp.exe · online · 10.0.0.1:47475 ────────┐",
            "│● ev^[[2Jil^Ggn… 10:00││ev^[[2Jil^Ggnp.exe  10:00                             │",
            "│  ^[]0;pwned^G ^[[31m…││ ^[]0;pwned^G ^[[31mred<9B>2J^Mtxt                    │",
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
    // With room, the box grows to show both lines of what was pasted.
    let t = render(&app, 40, 24);
    assert_eq!(rows(&t)[19], format!("┌ To alice {}┐", "─".repeat(28)));
    assert_eq!(rows(&t)[20], format!("│a^[[Kb{}│", " ".repeat(32)));
    assert_eq!(rows(&t)[21], format!("│c→d{}│", " ".repeat(35)));
    // 10 rows high leaves room for one line: the cursor's.
    let t = render(&app, 40, 10);
    assert_eq!(rows(&t)[7], format!("│c→d{}│", " ".repeat(35)));
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
    assert!(rows(&t)[0].starts_with("┌ lanchat "));
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
fn long_input_wraps_grows_to_its_cap_and_scrolls_to_the_cursor() {
    let digits: String = (0..200)
        .map(|i| char::from(b'0' + (i % 10) as u8))
        .collect();
    let mut app = chat_with_alice();
    // 60×12: the box has 58 columns inside and grows to 2 lines of text at this height.
    assert_eq!(input_cap(12), 2);
    app.input.set(&digits[..100]);
    let mut t = render(&app, 60, 12);
    assert_eq!(rows(&t)[7], format!("┌ To alice {}┐", "─".repeat(48)));
    assert_eq!(rows(&t)[8], format!("│{}│", &digits[..58]));
    assert_eq!(
        rows(&t)[9],
        format!("│{}{}│", &digits[58..100], " ".repeat(16))
    );
    assert_eq!(cursor(&mut t), Position::new(1 + 42, 9));

    app.input.home();
    let mut t = render(&app, 60, 12);
    assert_eq!(cursor(&mut t), Position::new(1, 8));

    // Four lines' worth: the box stays at two and shows the cursor's lines.
    app.input.set(&digits);
    let mut t = render(&app, 60, 12);
    assert_eq!(rows(&t)[8], format!("│{}│", &digits[116..174]));
    assert_eq!(
        rows(&t)[9],
        format!("│{}{}│", &digits[174..], " ".repeat(32))
    );
    assert_eq!(cursor(&mut t), Position::new(1 + 26, 9));
    app.input.home();
    let t = render(&app, 60, 12);
    assert_eq!(rows(&t)[8], format!("│{}│", &digits[..58]));

    // Wide characters: 29 fit a line (58 columns), never half of one; the cursor lands
    // after the last on the right cell.
    let wide = "字".repeat(50);
    app.input.set(&wide);
    let mut t = render(&app, 60, 12);
    assert_eq!(rows(&t)[8], format!("│{}│", "字".repeat(29)));
    assert_eq!(
        rows(&t)[9],
        format!("│{}{}│", "字".repeat(21), " ".repeat(16))
    );
    assert_eq!(cursor(&mut t), Position::new(1 + 42, 9));
    // One left: before the last character, two columns back.
    app.input.left();
    let mut t = render(&app, 60, 12);
    assert_eq!(cursor(&mut t), Position::new(1 + 40, 9));

    // Wherever the cursor is, it stays inside the box.
    for _ in 0..50 {
        app.input.left();
        let mut t = render(&app, 60, 12);
        let c = cursor(&mut t);
        assert!((1..59).contains(&c.x), "{c:?}");
        assert!((8..10).contains(&c.y), "{c:?}");
    }
}

#[test]
fn multi_line_input_grows_the_box_up_to_five_lines_at_80x24() {
    let mut app = chat_with_alice();
    assert_eq!(input_cap(24), 5);
    for n in 1..=7usize {
        let text: Vec<String> = (1..=n).map(|i| format!("line {i}")).collect();
        app.input.set(&text.join("\n"));
        let mut t = render(&app, 80, 24);
        let shown = n.min(5);
        let top = 24 - 1 - shown - 2;
        let rows = rows(&t);
        assert!(rows[top].starts_with("┌ To alice"), "{n}: {}", rows[top]);
        // The last lines are in view, the cursor after the last.
        assert_eq!(rows[top + shown], format!("│line {n}{}│", " ".repeat(72)));
        assert_eq!(cursor(&mut t), Position::new(7, (top + shown) as u16));
        // The message pane gives up what the box takes.
        let (_, h) = {
            let mut a = chat_with_alice();
            a.input.set(&text.join("\n"));
            layout::message_pane_size(&a.screen())
        };
        assert_eq!(usize::from(h), 24 - 1 - (shown + 2) - 2);
    }
    // A newline at the very end puts the cursor on a fresh line.
    app.input.set("one\n");
    let mut t = render(&app, 80, 24);
    assert_eq!(cursor(&mut t), Position::new(1, 21));
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
            "│● bob          3",
            "│○ carol      99+",
            "│≈ 192.168.0.9… 1",
            "│● alice         ",
        ]
    );
    let buf = t.backend().buffer();
    // Dots: green online, grey offline, yellow plain-text.
    assert_eq!(
        (buf[(1, 1)].symbol(), buf[(1, 1)].fg),
        ("●", Color::LightGreen)
    );
    assert_eq!(
        (buf[(1, 2)].symbol(), buf[(1, 2)].fg),
        ("○", Color::DarkGray)
    );
    assert_eq!((buf[(1, 3)].symbol(), buf[(1, 3)].fg), ("≈", Color::Yellow));
    // Badges are red and bold, and unread names bold.
    assert_eq!(buf[(16, 1)].symbol(), "3");
    assert_eq!(buf[(16, 1)].fg, Color::LightRed);
    assert!(buf[(16, 1)].modifier.contains(Modifier::BOLD));
    assert!(buf[(3, 1)].modifier.contains(Modifier::BOLD));
    assert!(!buf[(3, 4)].modifier.contains(Modifier::BOLD));
    // Only alice's row, all of it, is reversed.
    for y in 1..7 {
        for x in 1..17 {
            assert_eq!(
                buf[(x, y)].modifier.contains(Modifier::REVERSED),
                y == 4,
                "cell ({x},{y})"
            );
        }
    }
    assert!(!buf[(0, 4)].modifier.contains(Modifier::REVERSED));
    assert!(!buf[(17, 4)].modifier.contains(Modifier::REVERSED));
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
            "│● peer3         ",
            "│● peer4         ",
            "│● peer5         ",
            "│● peer6         ",
            "│● peer7         ",
            "│● peer8         ",
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
    // 90 lines of help do not fit 24 rows: the box is 22 high (20 lines and a border),
    // 78 wide, and its title says where in the list it is.
    assert_eq!(
        rows[1],
        format!(
            "│┌ Keys and commands 1–20 of 106 · ↑↓ PgUp PgDn · Esc closes {}┐│",
            "─".repeat(17)
        )
    );
    assert_eq!(
        rows[2],
        format!(
            "││ Enter{}send, or run a /command{}││",
            " ".repeat(33),
            " ".repeat(14)
        )
    );
    assert_eq!(rows[22], format!("└└{}┘┘", "─".repeat(76)));
    // Scrolling shows the rest, a line or a page at a time, and stops at the end.
    let key = |app: &mut App, code| {
        app.update(
            T0 + MINUTE,
            Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)),
        )
    };
    let mut seen = screen_text(&t);
    key(&mut app, KeyCode::Down);
    assert_eq!(app.help_scroll, 1);
    t.draw(|f| draw(f, &app)).unwrap();
    assert!(rows_of(&t, 2).starts_with("││ Alt-Enter, Shift-Enter, Ctrl-J"));
    seen.push_str(&screen_text(&t));
    for _ in 0..5 {
        key(&mut app, KeyCode::PageDown);
        t.draw(|f| draw(f, &app)).unwrap();
        seen.push_str(&screen_text(&t));
    }
    assert_eq!(app.help_scroll, 86, "106 lines, 20 shown");
    assert!(screen_text(&t).contains("Keys and commands 87–106 of 106"));
    // The last mode is the help's own, and its last line is quitting.
    assert!(
        rows_of(&t, 21).starts_with("││ Ctrl-C, Ctrl-Q"),
        "{}",
        rows_of(&t, 21)
    );
    key(&mut app, KeyCode::Home);
    assert_eq!(app.help_scroll, 0);
    assert!(app.show_help, "scrolling keeps the help open");
    // Every action of every mode with its keys as bound now, and every command, was on
    // screen.
    for section in app.help() {
        if let Some(title) = section.title {
            assert!(seen.contains(&title), "{title}");
        }
        for (k, what) in section.rows {
            assert!(seen.contains(&k), "{k}");
            assert!(seen.contains(&what), "{what}");
        }
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
        "│● alice          10:01││                                ✓ delivered  10:00  me"
    );
}

/// The rows of a 60×12 screen from the message pane's left border on (sidebar cut off).
fn pane_rows(t: &Terminal<TestBackend>) -> Vec<String> {
    rows(t)
        .iter()
        .map(|r| r.chars().skip(18).collect())
        .collect()
}

#[test]
fn scrolled_pane_shows_older_lines_and_a_hint() {
    let mut app = new_app();
    peer_up(&mut app, T0, 1, "alice", true);
    for i in 0..10 {
        incoming(&mut app, T0 + i, peer(1), i as u64 + 1, &format!("msg {i}"));
    }
    resize(&mut app, 60, 12);
    // 20 lines, 6 rows: the latest three messages at the bottom.
    let t = render(&app, 60, 12);
    let rows_now = pane_rows(&t);
    assert_eq!(rows_now[1], format!("│{:<40}│", "alice  10:00"));
    assert_eq!(rows_now[6], format!("│{:<40}│", " msg 9 "));

    app.update(
        T0 + 10,
        Msg::Key(KeyEvent::new(KeyCode::PageUp, KeyModifiers::NONE)),
    );
    assert_eq!(app.scroll, 5);
    let t = render(&app, 60, 12);
    let rows_up = pane_rows(&t);
    assert_eq!(rows_up[1], format!("│{:<40}│", " msg 4 "));
    // The last row of the pane carries the way back.
    assert_eq!(
        rows_up[6],
        format!("│{:<15} ↓ more below (Ctrl-End) │", "alice  10:00")
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
    assert_eq!(rows_top[1], format!("│{:<40}│", "alice  10:00"));
    assert_eq!(rows_top[2], format!("│{:<40}│", " msg 0 "));

    // Something new arrives while reading old messages: the view stays, a marker counts it.
    incoming(&mut app, T0 + 11, peer(1), 99, "news");
    let t = render(&app, 60, 12);
    let rows_new = pane_rows(&t);
    assert_eq!(rows_new[2], format!("│{:<40}│", " msg 0 "));
    assert!(rows_new[6].starts_with("│ msg 2 "), "{}", rows_new[6]);
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
    // Chinese needs no space to break: the line fills up.
    assert_eq!(
        wrap_trimmed("see 一二三四五", 7),
        ["see 一", "二三四", "五"]
    );
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
            quote: None,
            quote_found: false,
            recalled: false,
            file: None,
            group: None,
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
fn the_switcher_says_when_nothing_matches() {
    for (lang, none) in [
        (Lang::En, "No conversation matches."),
        (Lang::Zh, "没有匹配的会话。"),
    ] {
        let mut app = chat_with_alice();
        app.lang = lang;
        app.update(
            T0,
            Msg::Key(KeyEvent::new(KeyCode::Char('k'), KeyModifiers::CONTROL)),
        );
        for c in "zzz".chars() {
            app.update(
                T0,
                Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)),
            );
        }
        let t = render(&app, 80, 24);
        assert_sound(&t);
        let screen = screen_text(&t);
        assert!(screen.contains(none), "{lang:?}: {screen}");
    }
}

#[test]
fn a_search_hit_starts_at_the_beginning_when_its_match_is_in_view_anyway() {
    let app = chat_with_alice();
    let hit = |text: &str, at: usize| Hit {
        conversation: peer(1),
        seq: 1,
        id: MsgId(1),
        author: Author::Me,
        time_ms: T0,
        text: text.into(),
        matches: std::iter::once(at..at + 3).collect(),
    };
    let line = |h: &Hit| -> String {
        hit_line(&app, h, 70)
            .spans
            .iter()
            .map(|s| s.content.as_ref())
            .collect()
    };
    // "吃" is the 16th character: in the first half of the row, so nothing is cut.
    let short = "hello @张伟 咱们去吃火锅";
    let shown = line(&hit(short, short.find('吃').unwrap()));
    assert!(shown.ends_with("hello @张伟 咱们去吃火锅"), "{shown}");
    // Far along a long text, the row starts a dozen characters before the match.
    let long = format!("{}吃火锅", "很".repeat(60));
    let shown = line(&hit(&long, long.find('吃').unwrap()));
    assert!(
        shown.contains(&format!("…{}吃火锅", "很".repeat(12))),
        "{shown}"
    );
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
    assert_eq!(
        layout::conversation_height(&app.heights, &c.messages, 43, app.utc_offset_s),
        2 + 2 + 1
    );
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
    resize(&mut app, w, h);
    let (pw, ph) = layout::message_pane_size(&app.screen());
    let conv = app.conversation(&peer(1)).unwrap();
    let (all, _) = super::view_lines(&app, conv, conv.messages.len(), usize::MAX, pw);
    let all: Vec<String> = all
        .iter()
        .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
        .collect();
    assert_eq!(
        all.len(),
        layout::conversation_height(&app.heights, &conv.messages, pw, app.utc_offset_s)
    );
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

fn key_at(app: &mut App, now: i64, code: KeyCode, mods: KeyModifiers) {
    app.update(now, Msg::Key(KeyEvent::new(code, mods)));
}

fn command(app: &mut App, now: i64, text: &str) {
    app.input.set(text);
    key_at(app, now, KeyCode::Enter, KeyModifiers::NONE);
}

/// Replies both ways, a recall each way, a mention of me, and every sidebar state: pinned,
/// muted with unread, a draft, @me, plain text, offline.
fn features() -> App {
    let mut app = new_app();
    peer_up(&mut app, T0, 1, "alice", true);
    peer_up(&mut app, T0, 2, "bob", true);
    peer_up(&mut app, T0, 3, "carol", false);
    peer_up(&mut app, T0, 4, "dave", true);
    incoming(&mut app, T0, peer(1), 1, "lunch at 12? 🍜");
    // I reply to it.
    key_at(&mut app, T0 + 1, KeyCode::Up, KeyModifiers::ALT);
    key_at(&mut app, T0 + 1, KeyCode::Char('r'), KeyModifiers::NONE);
    let mine = send(&mut app, T0 + MINUTE, "yes, 12 works 好的");
    app.update(
        T0 + MINUTE,
        Msg::Net(Event::State {
            id: mine,
            state: DeliveryState::Read,
        }),
    );
    // She replies to mine, mentioning me.
    app.update(
        T0 + 2 * MINUTE,
        Msg::Net(Event::Message {
            conversation: peer(1),
            id: MsgId(2),
            sent_at_ms: None,
            text: "great, @me see you there".into(),
            quote: Some(crate::proto::Quote {
                id: mine,
                author: app.me.id,
                excerpt: "yes, 12 works 好的".into(),
            }),
        }),
    );
    // She sends and recalls one; I send and recall one.
    incoming(&mut app, T0 + 3 * MINUTE, peer(1), 3, "oops, wrong chat");
    app.update(
        T0 + 3 * MINUTE,
        Msg::Net(Event::Recall {
            from: node(1),
            id: MsgId(4),
            target: MsgId(3),
            sent_at_ms: T0,
        }),
    );
    send(&mut app, T0 + 4 * MINUTE, "typo");
    command(&mut app, T0 + 4 * MINUTE, "/recall");
    // Bob: pinned. Carol: muted, with unread. Dave: a draft. A plain-text peer.
    app.select(peer(2));
    command(&mut app, T0 + 5 * MINUTE, "/pin");
    app.select(peer(3));
    command(&mut app, T0 + 5 * MINUTE, "/mute");
    app.select(peer(4));
    app.input.set("half-typed thought");
    app.select(peer(1));
    incoming(
        &mut app,
        T0 + 6 * MINUTE,
        peer(3),
        10,
        "carol talks quietly",
    );
    incoming(
        &mut app,
        T0 + 7 * MINUTE,
        peer(2),
        11,
        "hey @me, the build is green",
    );
    let raw = ConversationId::Raw("192.168.1.9:40000".parse().unwrap());
    incoming(&mut app, T0 + 8 * MINUTE, raw, 20, "ping from nc");
    app.notice = None;
    app
}

#[test]
fn snapshot_features() {
    let app = features();
    insta::assert_snapshot!("features_80x24", snapshot(&app, 80, 24));
    insta::assert_snapshot!("features_120x40", snapshot(&app, 120, 40));
    // Narrow: no sidebar; the sidebar key shows it over the messages.
    let mut narrow = features();
    resize(&mut narrow, 50, 20);
    insta::assert_snapshot!("features_narrow_50x20", snapshot(&narrow, 50, 20));
    key_at(
        &mut narrow,
        T0 + 9 * MINUTE,
        KeyCode::F(3),
        KeyModifiers::NONE,
    );
    insta::assert_snapshot!("features_narrow_list_50x20", snapshot(&narrow, 50, 20));
    // Replying: the box says to what.
    let mut replying = features();
    key_at(
        &mut replying,
        T0 + 9 * MINUTE,
        KeyCode::Up,
        KeyModifiers::ALT,
    );
    key_at(
        &mut replying,
        T0 + 9 * MINUTE,
        KeyCode::Up,
        KeyModifiers::NONE,
    );
    key_at(
        &mut replying,
        T0 + 9 * MINUTE,
        KeyCode::Up,
        KeyModifiers::NONE,
    );
    key_at(
        &mut replying,
        T0 + 9 * MINUTE,
        KeyCode::Char('r'),
        KeyModifiers::NONE,
    );
    replying.input.set("on my way\nreally");
    insta::assert_snapshot!("replying_80x24", snapshot(&replying, 80, 24));
    // The help at its end.
    let mut help = features();
    key_at(&mut help, T0, KeyCode::F(1), KeyModifiers::NONE);
    for _ in 0..10 {
        key_at(&mut help, T0, KeyCode::PageDown, KeyModifiers::NONE);
    }
    insta::assert_snapshot!("help_end_80x24", snapshot(&help, 80, 24));
}

#[test]
fn features_draw_what_they_say() {
    let app = features();
    let t = render(&app, 80, 24);
    let screen = screen_text(&t);
    for needle in [
        "↱ alice: lunch at 12? 🍜",
        "↱ You: yes, 12 works 好的",
        "alice recalled a message",
        "You recalled a message",
        "@me ",
        "[draft] half-typed",
        "▲",
    ] {
        assert!(screen.contains(needle), "{needle:?} missing:\n{screen}");
    }
    assert!(!screen.contains("oops, wrong chat") && !screen.contains("typo"));
    let buf = t.backend().buffer();
    // The mention of me stands out: black on the accent colour, bold.
    let (x, y) = find(&t, "@me see").unwrap();
    assert_eq!(buf[(x, y)].bg, Color::Yellow);
    assert!(buf[(x, y)].modifier.contains(Modifier::BOLD));
    // Muted carol shows a dot, not a count.
    let carol = rows(&t)
        .into_iter()
        .position(|r| r.contains("○ carol"))
        .unwrap();
    assert!(rows(&t)[carol + 1].contains('•'));
    // The light theme swaps colours, still from the 16.
    let mut light = features();
    light.theme = Theme::Light;
    let t = render(&light, 80, 24);
    let buf = t.backend().buffer();
    let (x, y) = find(&t, "yes, 12 works").unwrap();
    assert_eq!(buf[(x, y)].bg, Color::LightGreen);
    for cell in &buf.content {
        for c in [cell.fg, cell.bg] {
            assert!(!matches!(c, Color::Rgb(..) | Color::Indexed(_)), "{c:?}");
        }
    }
}

/// Where `needle` starts on screen (column, row), by cells.
fn find(t: &Terminal<TestBackend>, needle: &str) -> Option<(u16, u16)> {
    let buf = t.backend().buffer();
    for y in 0..buf.area.height {
        let mut line = String::new();
        let mut xs = Vec::new();
        for x in 0..buf.area.width {
            let s = buf[(x, y)].symbol();
            for _ in s.chars() {
                xs.push(x);
            }
            line.push_str(s);
        }
        if let Some(at) = line.find(needle) {
            let idx = line[..at].chars().count();
            return xs.get(idx).map(|x| (*x, y));
        }
    }
    None
}

fn trust(app: &mut App, n: u8, trust: crate::proto::Trust, same_name_as: Option<u8>) {
    app.update(
        T0,
        Msg::Net(Event::Trust {
            peer: node(n),
            trust,
            same_name_as: same_name_as.map(node),
        }),
    );
}

/// Every key state in the sidebar; an identity change with its banner; the verify overlay
/// and the peer info of a verified peer.
#[test]
fn snapshot_trust() {
    use crate::proto::Trust;
    let mut app = new_app();
    for (n, name) in [
        (1, "alice"),
        (2, "bob"),
        (3, "carol"),
        (4, "dave"),
        (5, "bob"),
    ] {
        peer_up(&mut app, T0, n, name, true);
    }
    trust(&mut app, 1, Trust::Verified, None);
    trust(&mut app, 2, Trust::Unverified, None);
    trust(&mut app, 3, Trust::Blocked, None);
    trust(&mut app, 5, Trust::Unverified, Some(2));
    incoming(&mut app, T0 + MINUTE, peer(4), 1, "hi, it's dave");
    // Dave comes back with another key at his address: node 6 holds, and so does dave.
    peer_up(&mut app, T0 + 2 * MINUTE, 6, "dave", true);
    trust(&mut app, 4, Trust::Unverified, None);
    trust(&mut app, 6, Trust::Changed { previous: node(4) }, None);
    app.select(peer(4));
    insta::assert_snapshot!("trust_80x24", snapshot(&app, 80, 24));
    // The banner takes the top of the pane, and sending is held.
    let t = render(&app, 80, 24);
    assert!(
        rows(&t)[1].contains("⚠ dave's key changed"),
        "{}",
        screen_text(&t)
    );
    assert!(
        t.backend().buffer()[(21, 1)]
            .modifier
            .contains(Modifier::REVERSED)
    );
    command(&mut app, T0 + 3 * MINUTE, "are you dave?");
    assert_eq!(app.input.text(), "are you dave?");

    app.input.take();
    app.select(peer(1));
    command(&mut app, T0 + 3 * MINUTE, "/verify");
    insta::assert_snapshot!("verify_80x24", snapshot(&app, 80, 24));
    let t = render(&app, 80, 24);
    let code = crate::proto::verification_code(&app.me.id, &node(1));
    assert!(screen_text(&t).contains(&code));
    assert!(app.verify.is_some() && !t.backend().cursor_visible());
    key_at(&mut app, T0, KeyCode::Esc, KeyModifiers::NONE);
    key_at(&mut app, T0, KeyCode::F(2), KeyModifiers::NONE);
    insta::assert_snapshot!("peer_info_verified_80x24", snapshot(&app, 80, 24));
}

#[test]
fn mentions_are_highlighted_by_the_rules_that_decide_a_mention() {
    let base = Style::default();
    let marked = |line: &str, names: &[&str]| -> Vec<String> {
        with_mentions(line, names, base, Color::Yellow)
            .into_iter()
            .filter(|s| s.style != base)
            .map(|s| s.content.into_owned())
            .collect()
    };
    // Not mentions of bob (crate::app::mentions says no), so nothing stands out.
    assert!(marked("mail bob@bob.org or @bob.smith", &["bob"]).is_empty());
    assert_eq!(
        marked("hi @Bob! and @alice, @bob.", &["bob", "alice"]),
        ["@Bob", "@alice", "@bob"]
    );
    // The whole line survives, highlighted or not.
    let all: String = with_mentions("a @bob b", &["bob"], base, Color::Yellow)
        .into_iter()
        .map(|s| s.content.into_owned())
        .collect();
    assert_eq!(all, "a @bob b");
}

#[test]
fn a_reply_to_a_recalled_message_says_so() {
    let mut app = new_app();
    peer_up(&mut app, T0, 1, "alice", true);
    incoming(&mut app, T0, peer(1), 1, "a hasty thought");
    app.update(
        T0 + 1,
        Msg::Net(Event::Message {
            conversation: peer(1),
            id: MsgId(2),
            sent_at_ms: None,
            text: "about that".into(),
            quote: Some(crate::proto::Quote {
                id: MsgId(1),
                author: node(1),
                excerpt: "a hasty thought".into(),
            }),
        }),
    );
    let screen = |app: &App| screen_text(&render(app, 80, 24));
    assert!(screen(&app).contains("↱ alice: a hasty thought"));
    app.update(
        T0 + 2,
        Msg::Net(Event::Recall {
            from: node(1),
            id: MsgId(3),
            target: MsgId(1),
            sent_at_ms: T0,
        }),
    );
    let after = screen(&app);
    assert!(after.contains("↱ alice: (a recalled message)"), "{after}");
    assert!(!after.contains("a hasty thought"), "{after}");
}

#[test]
fn scrolled_up_the_view_stays_put_when_a_message_starts_a_new_day_below() {
    let mut app = new_app();
    resize(&mut app, 80, 24);
    peer_up(&mut app, T0, 1, "alice", true);
    for i in 0..40 {
        incoming(
            &mut app,
            T0 + i,
            peer(1),
            100 + i as u64,
            &format!("msg-{i:02}"),
        );
    }
    app.update(
        T0 + 50,
        Msg::Key(KeyEvent::new(KeyCode::PageUp, KeyModifiers::NONE)),
    );
    assert!(app.scroll > 0);
    let before = render(&app, 80, 24);
    let visible: Vec<(String, (u16, u16))> = (0..40)
        .map(|i| format!("msg-{i:02}"))
        .filter_map(|s| find(&before, &s).map(|at| (s, at)))
        // In the message pane (the sidebar previews the newest).
        .filter(|(_, (x, _))| *x > 24)
        .collect();
    assert!(!visible.is_empty());
    // The next day (a separator line above it), then the same day again.
    let day = 24 * 60 * MINUTE;
    incoming(&mut app, T0 + day, peer(1), 500, "tomorrow");
    incoming(
        &mut app,
        T0 + day + 1,
        peer(1),
        501,
        "tomorrow again\ntwo lines",
    );
    let after = render(&app, 80, 24);
    for (s, at) in &visible {
        assert_eq!(
            find(&after, s),
            Some(*at),
            "{s} moved:\n{}",
            screen_text(&after)
        );
    }
}

/// The verify overlay shows every digit of the code, whole groups in order, at every size
/// the screen is drawn at (40x10 is the smallest); given less room than that, the code goes
/// over more lines, never cut.
#[test]
fn the_whole_verification_code_fits_at_any_width() {
    use crate::proto::Trust;
    let mut app = new_app();
    peer_up(&mut app, T0, 1, "alice", true);
    trust(&mut app, 1, Trust::Unverified, None);
    app.select(peer(1));
    command(&mut app, T0, "/verify");
    let code = crate::proto::verification_code(&app.me.id, &node(1));
    let groups: Vec<&str> = code.split(' ').collect();
    for (width, height) in [(80, 24), (60, 20), (44, 16), (41, 12), (40, 10)] {
        resize(&mut app, width, height);
        let t = render(&app, width, height);
        // The code's rows, read in order: the groups, each whole, in the code's order.
        let seen: Vec<String> = rows(&t)
            .iter()
            .flat_map(|row| {
                row.split(|c: char| !c.is_ascii_digit())
                    .filter(|w| w.len() == 5 && groups.contains(w))
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(seen, groups, "at {width}x{height}:\n{}", screen_text(&t));
    }
    for width in [36, 24, 12, 6, 0] {
        let lines = code_lines(&code, width);
        assert_eq!(
            lines.join(" ").split_whitespace().collect::<Vec<_>>(),
            groups
        );
        assert!(
            lines.iter().all(|l| l.len() <= width.max(1 + 5)),
            "{width}: {lines:?}"
        );
    }
}

/// Issue 12 on screen: a quote only the sender vouches for, plain text at a lanchat peer's
/// address, and a crowd of strangers in one row.
#[test]
fn snapshot_claims_downgrades_and_strangers() {
    let mut app = new_app();
    peer_up(&mut app, T0, 1, "alice", true);
    peer_up(&mut app, T0, 2, "mallory", true);
    app.select(peer(1));
    let mine = send(&mut app, T0, "lunch at 12?");
    // Alice quotes what I said (in other words: the original's are shown).
    app.update(
        T0 + MINUTE,
        Msg::Net(Event::Message {
            conversation: peer(1),
            id: MsgId(2),
            sent_at_ms: None,
            text: "sure".into(),
            quote: Some(crate::proto::Quote {
                id: mine,
                author: app.me.id,
                excerpt: "lunch at 3?".into(),
            }),
        }),
    );
    // Mallory "quotes" me saying what I never said.
    app.update(
        T0 + 2 * MINUTE,
        Msg::Net(Event::Message {
            conversation: peer(2),
            id: MsgId(3),
            sent_at_ms: None,
            text: "deal, see you in court".into(),
            quote: Some(crate::proto::Quote {
                id: MsgId(99),
                author: app.me.id,
                excerpt: "I agree to pay mallory 1000 EUR".into(),
            }),
        }),
    );
    let t = render(&app, 80, 24);
    assert!(
        find(&t, "↱ You: lunch at 12?").is_some(),
        "{}",
        screen_text(&t)
    );
    assert!(find(&t, "lunch at 3?").is_none());
    app.select(peer(2));
    insta::assert_snapshot!("claims_80x24", snapshot(&app, 80, 24));
    let t = render(&app, 80, 24);
    let screen = screen_text(&t);
    assert!(!screen.contains("You: I agree"), "{screen}");
    let (x, y) = find(&t, "↱ mallory quotes: I agree to pay").unwrap();
    let cell = &t.backend().buffer()[(x, y)];
    assert_eq!(
        cell.fg,
        Color::Yellow,
        "a claim stands out from a checked quote"
    );

    // Plain text from mallory's own address: a warning in the sidebar and over the pane.
    let spoofed = ConversationId::Raw("10.0.0.2:47475".parse().unwrap());
    incoming(
        &mut app,
        T0 + 3 * MINUTE,
        spoofed,
        4,
        "write here, lanchat is broken",
    );
    app.select(spoofed);
    insta::assert_snapshot!("downgrade_80x24", snapshot(&app, 80, 24));
    let t = render(&app, 80, 24);
    assert!(
        rows(&t)[1].contains("⚠ 10.0.0.2:47475 is mallory's encrypted lanchat"),
        "{}",
        screen_text(&t)
    );
    let sidebar_row = &rows(&t)[1][..rows(&t)[1].find("││").unwrap()];
    assert!(
        sidebar_row.starts_with("│≈ 10.0.0.2:") && sidebar_row.contains('⚠'),
        "{sidebar_row}"
    );

    // Twenty strangers: one row, and /strangers lists them.
    for i in 0..20u8 {
        let addr = format!("192.168.7.{i}:5000").parse().unwrap();
        incoming(
            &mut app,
            T0 + 4 * MINUTE + i64::from(i),
            ConversationId::Raw(addr),
            100 + u64::from(i),
            "hey",
        );
    }
    app.select(peer(1));
    insta::assert_snapshot!("strangers_80x24", snapshot(&app, 80, 24));
    let t = render(&app, 80, 24);
    // Twenty: the plain text at mallory's address keeps its own row and warning.
    assert!(
        find(&t, "≈ Strangers (20)").is_some(),
        "{}",
        screen_text(&t)
    );
    assert!(find(&t, "⚠").is_some(), "{}", screen_text(&t));
    assert!(find(&t, "192.168.7.").is_none(), "folded away");
    command(&mut app, T0 + 5 * MINUTE, "/strangers");
    insta::assert_snapshot!("strangers_list_80x24", snapshot(&app, 80, 24));
}

#[test]
fn in_chinese_days_and_list_times_are_chinese_dates() {
    const DAY: i64 = 24 * 60 * MINUTE;
    let mut app = new_app();
    app.lang = crate::i18n::Lang::Zh;
    peer_up(&mut app, T0, 1, "alice", true);
    peer_up(&mut app, T0, 2, "bob", true);
    peer_up(&mut app, T0, 3, "carol", true);
    // T0 is Monday 2024-01-01: three days before is a Friday, in 2023. (The first message
    // has no separator over it.)
    incoming(&mut app, T0 - 4 * DAY, peer(1), 5, "thursday");
    incoming(&mut app, T0 - 3 * DAY, peer(1), 1, "friday");
    incoming(&mut app, T0, peer(1), 2, "monday");
    incoming(&mut app, T0 - DAY, peer(2), 3, "sunday");
    incoming(&mut app, T0 - 10 * DAY, peer(3), 4, "long ago");
    app.select(peer(1));
    // The clock is the time of the latest input: now is T0.
    resize(&mut app, 80, 24);
    let t = render(&app, 80, 24);
    let rows = rows(&t);
    let screen = screen_text(&t);
    for separator in ["─ 星期五 ─", "─ 今天 ─"] {
        assert!(
            rows.iter().any(|r| r.contains(separator)),
            "{separator}: {screen}"
        );
    }
    let row = |name: &str| {
        rows.iter()
            .find(|r| r.contains(name))
            .unwrap_or_else(|| panic!("{name}: {screen}"))
            .clone()
    };
    assert!(row("● alice").contains(" 10:00│"), "{screen}");
    assert!(row("● bob").contains(" 昨天│"), "{screen}");
    assert!(row("● carol").contains(" 2023年│"), "{screen}");
}

// ---------------------------------------------------------------------------------------
// The status line's hints, and the screens in Chinese

/// The hints at the right of the status line (what follows the last run of 2+ spaces).
fn status_hints_of(t: &Terminal<TestBackend>) -> String {
    let status = rows(t).pop().unwrap();
    let status = status.trim_end();
    status
        .rfind("  ")
        .map_or(status, |i| &status[i..])
        .trim()
        .to_owned()
}

#[test]
fn the_status_line_leads_with_the_key_that_helps_now_in_both_languages() {
    use crate::i18n::Lang;
    let cases: [(Lang, [&str; 6]); 2] = [
        (
            Lang::En,
            [
                "Ctrl-S search · F1 help · Ctrl-C quit",
                "Ctrl-R resend · Ctrl-S search · F1 help · Ctrl-C quit",
                "Enter send · Alt-Enter newline · Ctrl-S search · F1 help",
                "y copy · r reply · Esc close · Ctrl-S search · F1 help · Ctrl-C quit",
                "Esc close",
                "Enter open · Esc close",
            ],
        ),
        (
            Lang::Zh,
            [
                "Ctrl-S 搜索 · F1 帮助 · Ctrl-C 退出",
                "Ctrl-R 重发 · Ctrl-S 搜索 · F1 帮助 · Ctrl-C 退出",
                "Enter 发送 · Alt-Enter 换行 · Ctrl-S 搜索 · F1 帮助 · Ctrl-C 退出",
                "y 复制 · r 回复 · Esc 关闭 · Ctrl-S 搜索 · F1 帮助 · Ctrl-C 退出",
                "Esc 关闭",
                "Enter 打开 · Esc 关闭",
            ],
        ),
    ];
    for (lang, [idle, failed, typing, picked, help, switcher]) in cases {
        // Nobody yet: the general keys.
        let mut app = new_app();
        app.lang = lang;
        assert_eq!(status_hints_of(&render(&app, 120, 24)), idle, "{lang}");
        // A failed message of mine in view: resending it comes first.
        let mut app = chat_with_alice();
        app.lang = lang;
        let id = send(&mut app, T0 + 2 * MINUTE, "lost");
        app.update(
            T0 + 2 * MINUTE,
            Msg::SendFailed {
                id,
                error: "no route".into(),
            },
        );
        app.notice = None;
        assert_eq!(status_hints_of(&render(&app, 120, 24)), failed, "{lang}");
        // Typing: how to send it and how to break a line.
        app.input.set("half a thought");
        assert_eq!(status_hints_of(&render(&app, 120, 24)), typing, "{lang}");
        app.input.set("");
        // A picked message: what can be done with it.
        key_at(&mut app, T0 + 3 * MINUTE, KeyCode::Up, KeyModifiers::ALT);
        assert!(app.picked.is_some());
        assert_eq!(status_hints_of(&render(&app, 120, 24)), picked, "{lang}");
        key_at(&mut app, T0 + 3 * MINUTE, KeyCode::Esc, KeyModifiers::NONE);
        // Overlays: their own keys only.
        key_at(&mut app, T0 + 3 * MINUTE, KeyCode::F(1), KeyModifiers::NONE);
        assert_eq!(status_hints_of(&render(&app, 120, 24)), help, "{lang}");
        key_at(&mut app, T0 + 3 * MINUTE, KeyCode::Esc, KeyModifiers::NONE);
        key_at(
            &mut app,
            T0 + 3 * MINUTE,
            KeyCode::Char('k'),
            KeyModifiers::CONTROL,
        );
        assert!(app.switcher.is_some());
        assert_eq!(status_hints_of(&render(&app, 120, 24)), switcher, "{lang}");
    }
}

#[test]
fn nobody_online_for_a_while_suggests_the_doctor_until_someone_comes() {
    use crate::app::ALONE_HINT_AFTER_MS;
    use crate::i18n::Lang;
    for (lang, hint) in [
        (Lang::En, "nobody here? run: lanchat doctor"),
        (Lang::Zh, "看不到别人？运行 lanchat doctor"),
    ] {
        let mut app = new_app();
        app.lang = lang;
        resize(&mut app, 100, 24);
        // Just started: too early to worry, and the model says when to look again.
        assert!(!status_line(&render(&app, 100, 24)).contains(hint));
        assert_eq!(app.wake_at(), Some(T0 + ALONE_HINT_AFTER_MS));
        app.update(T0 + ALONE_HINT_AFTER_MS, Msg::Clock { utc_offset_s: 0 });
        let status = status_line(&render(&app, 100, 24));
        assert!(status.contains(hint), "{lang}: {status}");
        assert_eq!(app.wake_at(), None, "nothing left to wake for");
        // Typing: the keys for that come first, the hint waits.
        app.input.set("hello?");
        assert!(!status_line(&render(&app, 100, 24)).contains(hint));
        app.input.set("");
        // Someone comes online: no hint, and none while they stay.
        peer_up(&mut app, T0 + ALONE_HINT_AFTER_MS + 1, 1, "alice", true);
        app.update(
            T0 + 10 * ALONE_HINT_AFTER_MS,
            Msg::Clock { utc_offset_s: 0 },
        );
        assert!(!status_line(&render(&app, 100, 24)).contains(hint));
        // They leave: the count starts again.
        peer_up(&mut app, T0 + 10 * ALONE_HINT_AFTER_MS, 1, "alice", false);
        assert!(!status_line(&render(&app, 100, 24)).contains(hint));
        app.update(
            T0 + 11 * ALONE_HINT_AFTER_MS,
            Msg::Clock { utc_offset_s: 0 },
        );
        assert!(status_line(&render(&app, 100, 24)).contains(hint), "{lang}");
    }
}

/// The status line (the last row) as text.
fn status_line(t: &Terminal<TestBackend>) -> String {
    rows(t).pop().unwrap()
}

#[test]
fn the_status_hints_follow_rebound_keys_and_always_show_the_first() {
    use crate::app::keymap::{Keymap, Mode, ModeKeymaps};
    let mut app = chat_with_alice();
    app.lang = crate::i18n::Lang::Zh;
    app.keymap = Keymap::with(&[
        (Action::ResendFailed, vec!["alt-r".parse().unwrap()]),
        (Action::Dismiss, vec!["ctrl-g".parse().unwrap()]),
    ]);
    app.modes = ModeKeymaps::with(&[(
        Mode::Picked,
        Action::Copy,
        vec![crate::keys::KeySpec::parse("c", true).unwrap()],
    )]);
    let id = send(&mut app, T0 + 2 * MINUTE, "lost");
    app.update(
        T0 + 2 * MINUTE,
        Msg::SendFailed {
            id,
            error: "no route to host, and a long story about why".into(),
        },
    );
    // 60 columns: the notice gives way to the first hint.
    let t = render(&app, 60, 12);
    let status = rows(&t).pop().unwrap();
    assert!(status.ends_with(" Alt-R 重发 "), "{status:?}");
    assert!(status.contains('…'), "{status:?}");
    key_at(&mut app, T0 + 3 * MINUTE, KeyCode::Up, KeyModifiers::ALT);
    app.notice = None;
    assert_eq!(
        status_hints_of(&render(&app, 120, 24)),
        "c 复制 · r 回复 · Ctrl-G 关闭 · Ctrl-S 搜索 · F1 帮助 · Ctrl-C 退出"
    );
    // Unbound: no hint for it at all.
    app.modes = ModeKeymaps::with(&[(Mode::Picked, Action::Reply, vec![])]);
    assert_eq!(
        status_hints_of(&render(&app, 120, 24)),
        "y 复制 · Ctrl-G 关闭 · Ctrl-S 搜索 · F1 帮助 · Ctrl-C 退出"
    );
}

/// The Chinese screen is sound: every row is exactly the width (checked by [`rows`]), no
/// wide character starts in the last column or runs over a box's right border, and each
/// box's corners are where they should be.
#[track_caller]
fn assert_sound(t: &Terminal<TestBackend>) {
    let buf = t.backend().buffer();
    let (w, h) = (buf.area.width, buf.area.height);
    let rows = rows(t);
    assert_eq!(rows.len(), usize::from(h));
    for y in 0..h {
        for x in 0..w {
            let sym = buf[(x, y)].symbol();
            let cw = text::width(sym);
            assert!(
                x + cw as u16 <= w,
                "row {y}: {sym:?} at column {x} is cut at the edge:\n{}",
                rows.join("\n")
            );
            // A box's right border is never the second half of a wide character.
            if cw == 2 {
                let next = buf[(x + 1, y)].symbol();
                assert!(
                    !matches!(next, "│" | "┐" | "┘"),
                    "row {y}: {sym:?} at column {x} covers a border:\n{}",
                    rows.join("\n")
                );
            }
        }
    }
}

/// The box whose top-left corner starts `needle` ("┌ 对": `find` reads the cell a wide
/// character covers as a space, so one character of the title) has its whole left and right
/// borders on screen: nothing wide drawn beside it runs over them.
#[track_caller]
fn assert_box_intact(t: &Terminal<TestBackend>, needle: &str) {
    let (x0, y0) = find(t, needle).unwrap_or_else(|| panic!("no {needle:?}"));
    let buf = t.backend().buffer();
    let x1 = (x0..buf.area.width)
        .find(|x| buf[(*x, y0)].symbol() == "┐")
        .expect("a top-right corner");
    let screen = rows(t).join("\n");
    let mut y = y0 + 1;
    while buf[(x0, y)].symbol() != "└" {
        for x in [x0, x1] {
            assert_eq!(buf[(x, y)].symbol(), "│", "({x}, {y}):\n{screen}");
        }
        y += 1;
        assert!(y < buf.area.height, "no bottom-left corner:\n{screen}");
    }
    assert_eq!(buf[(x1, y)].symbol(), "┘", "\n{screen}");
}

fn chinese(mut app: App) -> App {
    app.lang = crate::i18n::Lang::Zh;
    app
}

#[test]
fn the_chinese_main_screen_fits_at_80x24_and_120x40() {
    let mut app = chinese(showcase());
    // (The notice is the model's words; the rows below are the view's.)
    app.notice = None;
    let t = render(&app, 80, 24);
    assert_sound(&t);
    let r = rows(&t);
    assert_eq!(
        r[0],
        format!(
            "┌ 会话 {}┐┌ alice · 在线 · 10.0.0.1:47475 {}┐",
            "─".repeat(16),
            "─".repeat(23)
        )
    );
    assert_eq!(
        r[6],
        "│  我：this one did no…││ a link                                               │"
    );
    assert_eq!(
        r[8],
        "│  暂无消息            ││ s                                                    │"
    );
    assert_eq!(
        r[9],
        "│                      ││                                    发送中…  10:01  me│"
    );
    assert_eq!(
        r[11],
        "│                      ││                                 ✗ 发送失败  10:02  me│"
    );
    assert_eq!(r[20], format!("┌ 发给 alice {}┐", "─".repeat(66)));
    assert_eq!(
        r[23],
        format!(
            " me · 127.0.0.1:47475 · 2 人在线{}Ctrl-R 重发 · Ctrl-S 搜索 · F1 帮助 ",
            // 32 columns on the left, 36 of hints: quitting does not fit as well.
            " ".repeat(80 - 32 - 36)
        )
    );
    insta::assert_snapshot!("zh_chat_80x24", snapshot(&app, 80, 24));
    let t = render(&app, 120, 40);
    assert_sound(&t);
    let r = rows(&t);
    assert_eq!(
        r[39],
        format!(
            " me · 127.0.0.1:47475 · 密钥 {} · 2 人在线{}Ctrl-R 重发 · Ctrl-S 搜索 · F1 帮助 · Ctrl-C 退出 ",
            crate::app::short_fp(&app.me.id),
            " ".repeat(120 - 49 - 50)
        )
    );
    insta::assert_snapshot!("zh_chat_120x40", snapshot(&app, 120, 40));
    // Nobody yet: the guide wraps on whole characters.
    let t = render(&chinese(new_app()), 80, 24);
    assert_sound(&t);
    let r = rows(&t);
    assert_eq!(
        r[1],
        "│正在寻找附近的联系人… ││还没有会话。                                          │"
    );
    insta::assert_snapshot!("zh_empty_80x24", snapshot(&chinese(new_app()), 80, 24));
}

#[test]
fn the_chinese_overlays_fit_at_80x24_and_120x40() {
    for (w, h) in [(80, 24), (120, 40)] {
        let mut app = chinese(showcase());
        resize(&mut app, w, h);
        key_at(&mut app, T0 + 5 * MINUTE, KeyCode::F(1), KeyModifiers::NONE);
        let t = render(&app, w, h);
        assert_sound(&t);
        let text = screen_text(&t);
        assert!(text.contains("Esc 关闭"), "{text}");
        assert!(rows(&t).pop().unwrap().ends_with(" Esc 关闭 "));
        assert_box_intact(&t, "┌ 按");
        insta::assert_snapshot!(format!("zh_help_{w}x{h}"), snapshot(&app, w, h));
        key_at(&mut app, T0 + 5 * MINUTE, KeyCode::Esc, KeyModifiers::NONE);

        key_at(
            &mut app,
            T0 + 5 * MINUTE,
            KeyCode::Char('k'),
            KeyModifiers::CONTROL,
        );
        let t = render(&app, w, h);
        assert_sound(&t);
        assert!(screen_text(&t).contains("转到：▏"));
        assert_box_intact(&t, "┌ 转");
        insta::assert_snapshot!(format!("zh_switcher_{w}x{h}"), snapshot(&app, w, h));
        key_at(&mut app, T0 + 5 * MINUTE, KeyCode::Esc, KeyModifiers::NONE);

        key_at(&mut app, T0 + 5 * MINUTE, KeyCode::F(2), KeyModifiers::NONE);
        let t = render(&app, w, h);
        assert_sound(&t);
        let r = rows(&t);
        // The labels line up by width: the values start in one column.
        let value_col = |label: &str| {
            let row = r.iter().find(|row| row.contains(label)).unwrap();
            let at = row.find(label).unwrap();
            text::width(&row[..at + label.len()])
                + row[at + label.len()..]
                    .chars()
                    .take_while(|c| *c == ' ')
                    .count()
        };
        assert_eq!(value_col("显示为"), value_col("指纹"));
        assert_eq!(value_col("显示为"), value_col("最后在线"));
        assert!(screen_text(&t).contains("对方信息 · Esc 关闭"));
        assert_box_intact(&t, "┌ 对");
        insta::assert_snapshot!(format!("zh_peer_info_{w}x{h}"), snapshot(&app, w, h));
    }
}

#[test]
fn the_chinese_verify_strangers_and_search_overlays_fit_at_80x24() {
    let mut app = chinese(showcase());
    app.notice = None;
    // /verify: the code whole, the keys as bound.
    trust(&mut app, 1, crate::proto::Trust::Unverified, None);
    command(&mut app, T0 + 5 * MINUTE, "/verify");
    assert!(app.verify.is_some());
    let t = render(&app, 80, 24);
    assert_sound(&t);
    assert_box_intact(&t, "┌ 验");
    let text = screen_text(&t);
    let code = crate::proto::verification_code(&app.me.id, &node(1));
    assert!(text.contains(&code), "{text}");
    assert!(
        text.contains(" y：两边一致，标为已验证 · Esc：暂不"),
        "{text}"
    );
    assert!(rows(&t)[23].ends_with(" y 确认 · Esc 关闭 "), "{text}");
    key_at(&mut app, T0, KeyCode::Esc, KeyModifiers::NONE);

    // Search results, with a hit in Chinese cut on a whole character.
    app.search = Some(SearchView {
        query: "天气".into(),
        hits: Some(vec![Hit {
            conversation: peer(1),
            seq: 2,
            id: MsgId(2),
            author: Author::Peer(node(1)),
            time_ms: T0,
            text: "早上好！今天天气很好，我们去吃饭吧？".repeat(4),
            // "天气", bytes 18 to 24.
            matches: std::iter::once(18..24).collect(),
        }]),
        selected: 0,
    });
    let t = render(&app, 80, 24);
    assert_sound(&t);
    let text = screen_text(&t);
    assert!(
        text.contains("“天气”：找到 1 条 · ↑↓ 选择 · Enter 打开 · Esc 关闭"),
        "{text}"
    );
    assert!(rows(&t)[23].ends_with(" Enter 打开 · Esc 关闭 "), "{text}");
    app.search = None;

    // Twenty strangers fold into one row, and /strangers lists them.
    for i in 0..20u8 {
        let addr = format!("192.168.7.{i}:5000").parse().unwrap();
        incoming(
            &mut app,
            T0 + 6 * MINUTE + i64::from(i),
            ConversationId::Raw(addr),
            100 + u64::from(i),
            "你好",
        );
    }
    app.select(peer(1));
    let t = render(&app, 80, 24);
    assert_sound(&t);
    let text = screen_text(&t);
    assert!(text.contains("≈ 陌生人（21）"), "{text}");
    assert!(text.contains("  从未回复"), "{text}");
    command(&mut app, T0 + 7 * MINUTE, "/strangers");
    let t = render(&app, 80, 24);
    assert_sound(&t);
    assert_box_intact(&t, "┌ 陌");
    assert!(screen_text(&t).contains("陌生人（21）· Enter 打开 · ▏"));
}

#[test]
fn with_discovery_off_the_empty_screen_says_so_and_how_to_add_a_peer() {
    use crate::i18n::Lang;
    for (lang, sidebar, guide) in [
        (Lang::En, "Discovery is off", "/add HOST:PORT"),
        (Lang::Zh, "自动发现已关闭", "/add 主机:端口"),
    ] {
        let mut app = new_app();
        app.lang = lang;
        app.me.discovery = false;
        resize(&mut app, 100, 24);
        let screen = screen_text(&render(&app, 100, 24));
        assert!(screen.contains(sidebar), "{lang}: {screen}");
        assert!(screen.contains(guide), "{lang}: {screen}");
        assert!(!screen.contains("Looking for peers"), "{lang}: {screen}");
        // With discovery on, the list is looking.
        app.me.discovery = true;
        let screen = screen_text(&render(&app, 100, 24));
        assert!(!screen.contains(sidebar), "{lang}: {screen}");
    }
}

// ---------------------------------------------------------------------------------------
// File bubbles

fn file_card(state: crate::proto::files::TransferState, name: &str) -> crate::message::FileCard {
    crate::message::FileCard {
        id: crate::proto::files::TransferId([7; 16]),
        name: name.into(),
        size: 30_000_000,
        direction: crate::proto::files::Direction::In,
        state,
        done: 12_000_000,
        path: None,
        problem: None,
        preview_rows: 0,
    }
}

fn file_message(card: crate::message::FileCard) -> crate::app::Message {
    let mut m = crate::app::Message::new(
        MsgId(1),
        crate::app::Author::Peer(node(1)),
        T0,
        card.name.clone(),
    );
    m.file = Some(card);
    m
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    /// A bubble is as tall as the layout says in every state, whatever its name: the view
    /// never jumps as a transfer moves on.
    #[test]
    fn a_file_bubble_is_as_tall_as_the_layout_says(
        name in tricky_text(),
        width in 4u16..80,
        state in proptest::sample::select(crate::proto::files::TransferState::ALL.to_vec()),
    ) {
        let app = new_app();
        let m = file_message(file_card(state, &name));
        prop_assert_eq!(super::message_height(&app, &m, width), 1 + crate::layout::FILE_BUBBLE_LINES);
        prop_assert_eq!(super::message_lines(&app, &m, width).len(), 1 + crate::layout::FILE_BUBBLE_LINES);
    }
}

#[test]
fn a_file_bubble_shows_name_kind_size_and_where_it_stands_with_a_hostile_name_inert() {
    use crate::app::files::{FileChange, FileNews};
    use crate::proto::files::{Direction, TransferState};
    let mut app = chat_with_alice();
    let card = file_card(TransferState::Offered, "\u{1b}]0;pwn\u{7}x\u{202e}gpj.exe");
    app.update(
        T0 + 1,
        Msg::FileMessage {
            conversation: peer(1),
            message: file_message(card),
        },
    );
    let t = render(&app, 80, 16);
    let screen = screen_text(&t);
    assert!(screen.contains("File (EXE) · 28.6 MB"), "{screen}");
    assert!(
        screen.contains("Waiting for you: /accept or /decline"),
        "{screen}"
    );
    assert!(
        !screen.contains('\u{1b}') && !screen.contains('\u{202e}'),
        "{screen}"
    );
    // Running: percentage, rate and time left, and a bar; the sidebar and status line too.
    let id = crate::proto::files::TransferId([7; 16]);
    for (i, done) in [12_000_000u64, 15_000_000].into_iter().enumerate() {
        app.update(
            T0 + 1000 * (i as i64 + 1),
            Msg::File(FileNews {
                id,
                about: Some((node(1), Direction::In)),
                change: FileChange::Progress {
                    done,
                    size: 30_000_000,
                },
            }),
        );
    }
    let t = render(&app, 80, 16);
    let screen = screen_text(&t);
    assert!(screen.contains("50% · 2.9 MB/s · 0:05 left"), "{screen}");
    assert!(screen.contains("[███████"), "{screen}");
    assert!(screen.contains("↓50%"), "{screen}");
    assert!(screen.contains("1 file 50% · 2.9 MB/s"), "{screen}");
    // A problem says what and that it will go on.
    app.update(
        T0 + 3000,
        Msg::File(FileNews {
            id,
            about: None,
            change: FileChange::State {
                state: TransferState::Accepted,
                problem: Some(crate::proto::files::Problem::DiskFull),
                path: None,
            },
        }),
    );
    let screen = screen_text(&render(&app, 80, 16));
    assert!(screen.contains("Paused; it resumes by itself"), "{screen}");
    assert!(screen.contains("no space left on this disk"), "{screen}");
    // In Chinese.
    app.lang = crate::i18n::Lang::Zh;
    let screen = screen_text(&render(&app, 80, 16));
    assert!(screen.contains("已暂停，会自动继续"), "{screen}");
    assert!(screen.contains("本机磁盘已满"), "{screen}");
}

#[path = "tests_groups.rs"]
mod groups_tests;
/// A preview source for tests: every picture is `cols`×`rows` cells of `P`.
struct FakePictures {
    cols: u16,
    rows: u16,
    ready: bool,
}

impl super::picture::Pictures for FakePictures {
    fn size(&mut self, _: &crate::proto::files::TransferId) -> Option<ratatui::layout::Size> {
        self.ready
            .then_some(ratatui::layout::Size::new(self.cols, self.rows))
    }

    fn draw(
        &mut self,
        _: &crate::proto::files::TransferId,
        area: ratatui::layout::Rect,
        buf: &mut ratatui::buffer::Buffer,
    ) -> bool {
        for y in area.top()..area.top() + self.rows {
            for x in area.left()..area.left() + self.cols {
                buf[(x, y)].set_symbol("P");
            }
        }
        true
    }
}

#[test]
fn a_picture_is_drawn_under_its_bubble_in_the_rows_kept_for_it() {
    use crate::proto::files::{Direction, TransferState};
    let mut app = chat_with_alice();
    let mut card = file_card(TransferState::Done, "cat.png");
    card.direction = Direction::In;
    card.path = Some("/dl/cat.png".into());
    app.update(
        T0 + 2 * MINUTE,
        Msg::FileMessage {
            conversation: peer(1),
            message: file_message(card),
        },
    );
    app.update(
        T0 + 2 * MINUTE,
        Msg::PreviewReady {
            id: crate::proto::files::TransferId([7; 16]),
            rows: 3,
        },
    );
    let mut t = terminal(80, 20);
    let mut pictures = FakePictures {
        cols: 4,
        rows: 3,
        ready: true,
    };
    t.draw(|f| super::draw_with(f, &app, &mut pictures))
        .unwrap();
    let screen = rows(&t);
    let name_row = screen
        .iter()
        .position(|r| r.contains("││ cat.png"))
        .unwrap();
    // Name, kind, saved; then the picture, at the bubble's left, three rows.
    for dy in 3..6 {
        assert!(
            screen[name_row + dy].contains("│ PPPP "),
            "{}",
            screen.join("\n")
        );
    }
    assert!(!screen[name_row + 6].contains('P'));
    // Not ready (dropped, being made again): a neutral box holds its place.
    let mut none = FakePictures {
        cols: 4,
        rows: 3,
        ready: false,
    };
    t.draw(|f| super::draw_with(f, &app, &mut none)).unwrap();
    let screen = rows(&t);
    assert!(
        screen[name_row + 3].contains("░░░░"),
        "{}",
        screen.join("\n")
    );
}
