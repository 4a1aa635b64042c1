//! The model through its front door: key and network messages in, state and effects out.
//! Time is always passed in explicitly; nothing here sleeps or reads a clock.

#![allow(clippy::unwrap_used, clippy::expect_used)]
// These tests drive the model and look at its state; where they want the effects they
// assert them, and elsewhere leaving them is the point (no runtime here).
#![allow(unused_must_use)]

use super::*;
use crate::i18n::Lang;
use crate::proto::{Event, PeerView};

const LISTEN: &str = "127.0.0.1:47475";
/// Longest message to a lanchat peer and to a plain-text peer: the only place these tests
/// name the limits.
const PEER_LIMIT: usize = proto::wire::MAX_MESSAGE_BYTES;
const RAW_LIMIT: usize = proto::wire::MAX_MESSAGE_BYTES;
/// 2024-01-01 10:00:00 UTC.
const T0: i64 = 1_704_103_200_000;

fn me() -> Me {
    Me {
        id: NodeId([0xEE; 32]),
        name: "me".into(),
        listen: LISTEN.parse().unwrap(),
        discovery: true,
    }
}

fn new_app() -> App {
    App::new(me(), 7)
}

fn node(n: u8) -> NodeId {
    NodeId([n; 32])
}

fn peer(n: u8) -> ConversationId {
    ConversationId::Peer(node(n))
}

fn raw_addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn view(n: u8, name: &str, online: bool) -> PeerView {
    PeerView {
        id: node(n),
        name: name.into(),
        addr: format!("10.0.0.{n}:47475").parse().unwrap(),
        online,
    }
}

fn key(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn ctrl(c: char) -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL))
}

fn press(app: &mut App, now: i64, code: KeyCode) -> Vec<Effect> {
    app.update(now, key(code))
}

fn type_text(app: &mut App, now: i64, s: &str) {
    for c in s.chars() {
        let effects = app.update(now, key(KeyCode::Char(c)));
        assert!(effects.is_empty(), "typing {c:?} gave {effects:?}");
    }
}

fn peer_up(app: &mut App, now: i64, n: u8, name: &str) {
    let effects = app.update(now, Msg::Net(Event::PeerUp(view(n, name, true))));
    assert!(effects.is_empty());
}

fn peer_down(app: &mut App, now: i64, n: u8, name: &str) {
    let effects = app.update(
        now,
        Msg::Net(Event::PeerDown {
            peer: view(n, name, false),
            reason: PeerDownReason::Goodbye,
        }),
    );
    // Moving the selection may report the newly shown messages as read; nothing else.
    assert!(
        effects.iter().all(|e| matches!(e, Effect::MarkRead { .. })),
        "{effects:?}"
    );
}

/// A message arriving, and what the app asks for because of it.
fn incoming_msg(now: i64, conversation: ConversationId, id: u64, text: &str) -> Msg {
    Msg::Net(Event::Message {
        conversation,
        id: MsgId(id),
        sent_at_ms: Some(now - 5),
        text: text.into(),
        quote: None,
    })
}

fn incoming_effects(
    app: &mut App,
    now: i64,
    conversation: ConversationId,
    id: u64,
    text: &str,
) -> Vec<Effect> {
    app.update(now, incoming_msg(now, conversation, id, text))
}

/// Takes the bell out of a list of effects: whether it rang.
fn rang(effects: &mut Vec<Effect>) -> bool {
    let before = effects.len();
    effects.retain(|e| *e != Effect::Bell);
    effects.len() < before
}

/// A message arriving, asking for nothing but its read receipt when its chat is open.
fn incoming(app: &mut App, now: i64, conversation: ConversationId, id: u64, text: &str) {
    let effects = incoming_effects(app, now, conversation, id, text);
    // A message that lands in the open conversation is reported read; nothing else.
    let read_expected =
        app.selected == Some(conversation) && matches!(conversation, ConversationId::Peer(_));
    let want: Vec<Effect> = match conversation {
        ConversationId::Peer(peer) if read_expected => vec![Effect::MarkRead {
            peer,
            ids: vec![MsgId(id)],
        }],
        _ => Vec::new(),
    };
    assert_eq!(effects, want);
}

fn order(app: &App) -> Vec<ConversationId> {
    app.conversations.iter().map(|c| c.id).collect()
}

fn unread(app: &App, id: ConversationId) -> u32 {
    app.conversation(&id).unwrap().unread
}

fn texts(app: &App, id: ConversationId) -> Vec<String> {
    app.conversation(&id)
        .unwrap()
        .messages
        .iter()
        .map(|m| m.text.clone())
        .collect()
}

fn is_error(app: &App) -> bool {
    matches!(app.notice, Some(Notice::Error(_)))
}

fn error_text(app: &App) -> String {
    match &app.notice {
        Some(Notice::Error(e)) => e.clone(),
        other => panic!("expected an error notice, got {other:?}"),
    }
}

/// Sends `text` from the input box and returns the one effect it must give.
fn send(app: &mut App, now: i64, text: &str) -> Effect {
    app.input.set(text);
    let mut effects = press(app, now, KeyCode::Enter);
    assert_eq!(effects.len(), 1, "{effects:?}");
    effects.remove(0)
}

// ---------------------------------------------------------------------------------------
// Conversations and the sidebar

#[test]
fn first_peer_up_creates_and_selects_its_conversation() {
    let mut app = new_app();
    assert!(app.conversations.is_empty());
    assert_eq!(app.selected, None);

    peer_up(&mut app, T0, 1, "alice");
    assert_eq!(order(&app), vec![peer(1)]);
    assert_eq!(app.selected, Some(peer(1)));
    assert_eq!(
        app.peers.get(&node(1)),
        Some(&PeerInfo {
            name: "alice".into(),
            addr: raw_addr("10.0.0.1:47475"),
            online: true,
            last_seen_ms: Some(T0),
        })
    );
    assert_eq!(app.title(&peer(1)), "alice");

    // A second peer appears but does not take the selection.
    peer_up(&mut app, T0 + 1, 2, "bob");
    assert_eq!(app.conversations.len(), 2);
    assert_eq!(app.selected, Some(peer(1)));
    assert_eq!(app.online_peers(), 2);

    // The same peer coming up again does not duplicate its conversation.
    peer_up(&mut app, T0 + 2, 2, "bob");
    assert_eq!(app.conversations.len(), 2);
}

#[test]
fn sidebar_is_most_recent_first_and_by_name_without_messages() {
    let mut app = new_app();
    peer_up(&mut app, T0, 3, "carol");
    peer_up(&mut app, T0, 2, "Bob");
    peer_up(&mut app, T0, 1, "alice");
    // No messages anywhere: by name, ignoring case.
    assert_eq!(order(&app), vec![peer(1), peer(2), peer(3)]);

    // A message in carol's conversation (not selected) puts it on top.
    incoming(&mut app, T0 + 1_000, peer(3), 31, "hi");
    assert_eq!(order(&app), vec![peer(3), peer(1), peer(2)]);

    // Then one from Bob, later: Bob first, carol second, alice (silent) last.
    incoming(&mut app, T0 + 2_000, peer(2), 21, "yo");
    assert_eq!(order(&app), vec![peer(2), peer(3), peer(1)]);

    // My reply in the older conversation moves it back to the top.
    app.select(peer(3));
    let effect = send(&mut app, T0 + 3_000, "hey carol");
    assert!(matches!(effect, Effect::Send { to, .. } if to == peer(3)));
    assert_eq!(order(&app), vec![peer(3), peer(2), peer(1)]);
    assert_eq!(
        app.conversation(&peer(3)).unwrap().last_activity_ms,
        T0 + 3_000
    );
}

#[test]
fn renamed_peer_is_resorted_by_its_new_name() {
    let mut app = new_app();
    peer_up(&mut app, T0, 1, "bob");
    peer_up(&mut app, T0, 2, "carol");
    assert_eq!(order(&app), vec![peer(1), peer(2)]);
    app.update(T0 + 1, Msg::Net(Event::PeerUpdated(view(2, "alice", true))));
    assert_eq!(app.title(&peer(2)), "alice");
    assert_eq!(order(&app), vec![peer(2), peer(1)]);
}

// ---------------------------------------------------------------------------------------
// Sending

#[test]
fn typing_and_enter_sends_exactly_one_message() {
    let mut app = new_app();
    peer_up(&mut app, T0, 1, "alice");
    type_text(&mut app, T0, "hello there");
    assert_eq!(app.input.text(), "hello there");

    let effects = press(&mut app, T0 + 10, KeyCode::Enter);
    assert_eq!(effects.len(), 1, "{effects:?}");
    let Effect::Send {
        to,
        id,
        sent_at_ms,
        text,
        quote: None,
    } = effects[0].clone()
    else {
        panic!("expected a send, got {effects:?}");
    };
    assert_eq!(to, peer(1));
    assert_eq!(sent_at_ms, T0 + 10);
    assert_eq!(text, "hello there");
    assert_ne!(id, MsgId(0));

    assert!(app.input.is_empty());
    assert_eq!(app.input.cursor(), 0);
    let conv = app.conversation(&peer(1)).unwrap();
    assert_eq!(
        conv.messages.iter().cloned().collect::<Vec<_>>(),
        vec![Message {
            id,
            author: Author::Me,
            time_ms: T0 + 10,
            text: "hello there".into(),
            state: Some(DeliveryState::Sending),
            seq: None,
            quote: None,
            quote_found: false,
            recalled: false,
            file: None,
        }]
    );
    assert_eq!(conv.unread, 0);
    assert_eq!(app.notice, None);

    // A second message gets a different id.
    let Effect::Send { id: id2, .. } = send(&mut app, T0 + 20, "again") else {
        panic!("expected a send");
    };
    assert_ne!(id, id2);
}

#[test]
fn delivery_state_events_update_my_message() {
    let mut app = new_app();
    peer_up(&mut app, T0, 1, "alice");
    let Effect::Send { id, .. } = send(&mut app, T0, "one") else {
        panic!("expected a send");
    };
    let state = |app: &App| app.conversation(&peer(1)).unwrap().messages[0].state;

    app.update(
        T0 + 1,
        Msg::Net(Event::State {
            id,
            state: DeliveryState::Queued,
        }),
    );
    assert_eq!(state(&app), Some(DeliveryState::Queued));
    app.update(
        T0 + 2,
        Msg::Net(Event::State {
            id,
            state: DeliveryState::Delivered,
        }),
    );
    assert_eq!(state(&app), Some(DeliveryState::Delivered));

    // A state for an id that is not mine (or no longer pending) changes nothing.
    app.update(
        T0 + 3,
        Msg::Net(Event::State {
            id: MsgId(id.0 ^ 1),
            state: DeliveryState::Failed,
        }),
    );
    app.update(
        T0 + 4,
        Msg::Net(Event::State {
            id,
            state: DeliveryState::Failed,
        }),
    );
    assert_eq!(state(&app), Some(DeliveryState::Delivered));
}

#[test]
fn send_failed_marks_the_message_failed_and_says_why() {
    let mut app = new_app();
    peer_up(&mut app, T0, 1, "alice");
    let Effect::Send { id, .. } = send(&mut app, T0, "doomed") else {
        panic!("expected a send");
    };
    app.update(
        T0 + 1,
        Msg::SendFailed {
            id,
            error: "the outbox for this peer is full".into(),
        },
    );
    let m = &app.conversation(&peer(1)).unwrap().messages[0];
    assert_eq!(m.state, Some(DeliveryState::Failed));
    assert!(
        error_text(&app).contains("the outbox for this peer is full"),
        "{:?}",
        app.notice
    );
}

#[test]
fn enter_on_empty_or_blank_input_does_nothing() {
    let mut app = new_app();
    peer_up(&mut app, T0, 1, "alice");
    for blank in ["", "   ", " \n\t "] {
        app.input.set(blank);
        assert_eq!(press(&mut app, T0, KeyCode::Enter), vec![]);
        assert_eq!(app.notice, None, "for {blank:?}");
        assert!(app.conversation(&peer(1)).unwrap().messages.is_empty());
    }
}

#[test]
fn enter_without_a_conversation_keeps_the_input_and_says_so() {
    let mut app = new_app();
    type_text(&mut app, T0, "anyone?");
    assert_eq!(press(&mut app, T0, KeyCode::Enter), vec![]);
    assert!(is_error(&app));
    assert_eq!(app.input.text(), "anyone?");
    assert!(app.conversations.is_empty());
}

#[test]
fn too_long_for_a_peer_is_refused_and_kept() {
    let max = PEER_LIMIT;
    let mut app = new_app();
    peer_up(&mut app, T0, 1, "alice");

    let long = "x".repeat(max + 1);
    app.update(T0, Msg::Paste(long.clone()));
    assert_eq!(press(&mut app, T0, KeyCode::Enter), vec![]);
    assert!(error_text(&app).contains("too long"), "{:?}", app.notice);
    assert_eq!(app.input.text(), long);
    assert!(app.conversation(&peer(1)).unwrap().messages.is_empty());

    // Exactly the limit goes out.
    let fits = "x".repeat(max);
    let Effect::Send { text, .. } = send(&mut app, T0, &fits) else {
        panic!("expected a send");
    };
    assert_eq!(text.len(), max);

    // The limit counts bytes, not characters.
    let wide = "字".repeat(max / 3 + 1);
    app.input.set(&wide);
    assert_eq!(press(&mut app, T0, KeyCode::Enter), vec![]);
    assert_eq!(app.input.text(), wide);
}

#[test]
fn plain_text_peers_have_their_own_limit() {
    let addr = raw_addr("192.168.1.9:5000");
    let mut app = new_app();
    incoming(&mut app, T0, ConversationId::Raw(addr), 1, "hello");
    let fits = "y".repeat(RAW_LIMIT);
    let Effect::Send { to, text, .. } = send(&mut app, T0, &fits) else {
        panic!("expected a send");
    };
    assert_eq!((to, text.len()), (ConversationId::Raw(addr), RAW_LIMIT));

    let too_long = "y".repeat(RAW_LIMIT + 1);
    app.input.set(&too_long);
    assert_eq!(press(&mut app, T0, KeyCode::Enter), vec![]);
    assert!(is_error(&app));
    assert_eq!(app.input.text(), too_long);
}

#[test]
fn double_slash_sends_text_starting_with_a_slash() {
    let mut app = new_app();
    peer_up(&mut app, T0, 1, "alice");
    type_text(&mut app, T0, "//text");
    let effects = press(&mut app, T0, KeyCode::Enter);
    assert!(
        matches!(&effects[..], [Effect::Send { text, .. }] if text == "/text"),
        "{effects:?}"
    );
    assert_eq!(texts(&app, peer(1)), vec!["/text"]);
    assert!(app.input.is_empty());

    // The limit applies to what is sent, after the extra slash is taken off.
    let at_limit = format!("/{}", "/".repeat(PEER_LIMIT));
    let Effect::Send { text, .. } = send(&mut app, T0, &at_limit) else {
        panic!("expected a send");
    };
    assert_eq!(text.len(), PEER_LIMIT);
}

// ---------------------------------------------------------------------------------------
// Commands and global keys

#[test]
fn add_command_asks_the_runtime_to_probe() {
    let mut app = new_app();
    type_text(&mut app, T0, "/add 10.0.0.5:47475");
    assert_eq!(
        press(&mut app, T0, KeyCode::Enter),
        vec![Effect::AddPeer("10.0.0.5:47475".into())]
    );
    assert!(app.input.is_empty());
    assert!(matches!(app.notice, Some(Notice::Info(_))));
    // Extra spaces around the argument do not matter.
    app.input.set("/add   host.lan:9 ");
    assert_eq!(
        press(&mut app, T0, KeyCode::Enter),
        vec![Effect::AddPeer("host.lan:9".into())]
    );
}

#[test]
fn add_without_or_with_two_arguments_is_a_usage_error() {
    let mut app = new_app();
    for bad in ["/add", "/add   ", "/add a:1 b:2", "/add nohost"] {
        app.notice = None;
        app.input.set(bad);
        assert_eq!(press(&mut app, T0, KeyCode::Enter), vec![], "{bad:?}");
        assert!(error_text(&app).contains("/add HOST:PORT"), "{bad:?}");
        assert_eq!(app.input.text(), bad);
    }
}

#[test]
fn quit_command_and_quit_keys() {
    for how in ["/quit", "/q", "/exit"] {
        let mut app = new_app();
        app.input.set(how);
        assert_eq!(press(&mut app, T0, KeyCode::Enter), vec![Effect::Quit]);
        assert!(!app.running, "{how}");
        assert!(app.input.is_empty());
    }
    for c in ['c', 'q'] {
        let mut app = new_app();
        type_text(&mut app, T0, "draft");
        assert_eq!(app.update(T0, ctrl(c)), vec![Effect::Quit]);
        assert!(!app.running);
    }
}

#[test]
fn help_command_unknown_command() {
    let mut app = new_app();
    app.input.set("/help");
    assert_eq!(press(&mut app, T0, KeyCode::Enter), vec![]);
    assert!(app.show_help);
    assert!(app.input.is_empty());

    let mut app = new_app();
    peer_up(&mut app, T0, 1, "alice");
    app.input.set("/frobnicate now");
    assert_eq!(press(&mut app, T0, KeyCode::Enter), vec![]);
    assert!(error_text(&app).contains("/frobnicate"), "{:?}", app.notice);
    assert!(!app.show_help);
    // Not sent as a message either.
    assert!(app.conversation(&peer(1)).unwrap().messages.is_empty());
}

#[test]
fn f1_toggles_help_and_esc_closes_it_and_the_notice() {
    let mut app = new_app();
    press(&mut app, T0, KeyCode::F(1));
    assert!(app.show_help);
    press(&mut app, T0, KeyCode::F(1));
    assert!(!app.show_help);
    press(&mut app, T0, KeyCode::F(1));
    app.update(T0, Msg::Error("boom".into()));
    assert_eq!(app.notice, Some(Notice::Error("boom".into())));
    press(&mut app, T0, KeyCode::Esc);
    assert!(!app.show_help);
    assert_eq!(app.notice, None);
    // Esc with nothing open is harmless.
    press(&mut app, T0, KeyCode::Esc);
    assert!(!app.show_help);
}

#[test]
fn question_mark_toggles_help_only_on_an_empty_input() {
    let mut app = new_app();
    // Terminals may report '?' with or without Shift.
    app.update(
        T0,
        Msg::Key(KeyEvent::new(KeyCode::Char('?'), KeyModifiers::SHIFT)),
    );
    assert!(app.show_help);
    assert!(app.input.is_empty());
    press(&mut app, T0, KeyCode::Char('?'));
    assert!(!app.show_help);
    assert!(app.input.is_empty());

    type_text(&mut app, T0, "why?");
    assert_eq!(app.input.text(), "why?");
    assert!(!app.show_help);
}

#[test]
fn control_and_alt_letters_are_not_typed_but_shifted_ones_are() {
    let mut app = new_app();
    app.update(T0, ctrl('x'));
    app.update(
        T0,
        Msg::Key(KeyEvent::new(KeyCode::Char('x'), KeyModifiers::ALT)),
    );
    assert!(app.input.is_empty());
    app.update(
        T0,
        Msg::Key(KeyEvent::new(KeyCode::Char('A'), KeyModifiers::SHIFT)),
    );
    assert_eq!(app.input.text(), "A");
}

// ---------------------------------------------------------------------------------------
// Incoming messages, unread counts, selection

#[test]
fn incoming_counts_unread_only_when_not_selected() {
    let mut app = new_app();
    peer_up(&mut app, T0, 1, "alice");
    peer_up(&mut app, T0, 2, "bob");
    assert_eq!(app.selected, Some(peer(1)));

    incoming(&mut app, T0 + 1, peer(2), 10, "one");
    incoming(&mut app, T0 + 2, peer(2), 11, "two");
    incoming(&mut app, T0 + 3, peer(1), 12, "to the open one");
    assert_eq!(unread(&app, peer(2)), 2);
    assert_eq!(unread(&app, peer(1)), 0);

    let m = &app.conversation(&peer(2)).unwrap().messages[1];
    assert_eq!(
        m,
        &Message {
            id: MsgId(11),
            author: Author::Peer(node(2)),
            // The local clock, not the sender's.
            time_ms: T0 + 2,
            text: "two".into(),
            state: None,
            seq: None,
            quote: None,
            quote_found: false,
            recalled: false,
            file: None,
        }
    );
    assert_eq!(app.author_name(&m.author), "bob");

    // Selecting bob's conversation clears its count.
    press(&mut app, T0 + 4, KeyCode::Tab);
    assert_eq!(app.selected, Some(peer(2)));
    assert_eq!(unread(&app, peer(2)), 0);
}

#[test]
fn tab_ctrl_n_backtab_ctrl_p_cycle_and_wrap() {
    let mut app = new_app();
    peer_up(&mut app, T0, 1, "a");
    peer_up(&mut app, T0, 2, "b");
    peer_up(&mut app, T0, 3, "c");
    assert_eq!(order(&app), vec![peer(1), peer(2), peer(3)]);
    assert_eq!(app.selected, Some(peer(1)));

    press(&mut app, T0, KeyCode::Tab);
    assert_eq!(app.selected, Some(peer(2)));
    app.update(T0, ctrl('n'));
    assert_eq!(app.selected, Some(peer(3)));
    press(&mut app, T0, KeyCode::Tab);
    assert_eq!(app.selected, Some(peer(1)), "Tab wraps to the top");

    app.update(
        T0,
        Msg::Key(KeyEvent::new(KeyCode::BackTab, KeyModifiers::SHIFT)),
    );
    assert_eq!(app.selected, Some(peer(3)), "Shift-Tab wraps to the bottom");
    press(&mut app, T0, KeyCode::BackTab);
    assert_eq!(app.selected, Some(peer(2)));
    app.update(T0, ctrl('p'));
    assert_eq!(app.selected, Some(peer(1)));

    // Unread counts clear on whichever conversation becomes selected.
    incoming(&mut app, T0 + 1, peer(3), 1, "x");
    incoming(&mut app, T0 + 2, peer(2), 2, "y");
    // Order now: b (latest), c, a; a is selected.
    assert_eq!(order(&app), vec![peer(2), peer(3), peer(1)]);
    assert_eq!((unread(&app, peer(2)), unread(&app, peer(3))), (1, 1));
    press(&mut app, T0 + 3, KeyCode::Tab);
    assert_eq!(app.selected, Some(peer(2)));
    assert_eq!((unread(&app, peer(2)), unread(&app, peer(3))), (0, 1));
    app.update(T0 + 3, ctrl('n'));
    assert_eq!(app.selected, Some(peer(3)));
    assert_eq!(unread(&app, peer(3)), 0);
}

#[test]
fn cycling_with_no_conversations_is_harmless() {
    let mut app = new_app();
    press(&mut app, T0, KeyCode::Tab);
    press(&mut app, T0, KeyCode::BackTab);
    assert_eq!(app.selected, None);
}

#[test]
fn plain_text_message_opens_a_raw_conversation_and_replies_go_back_raw() {
    let addr = raw_addr("192.168.1.20:40000");
    let mut app = new_app();
    incoming(&mut app, T0, ConversationId::Raw(addr), 5, "hello from nc");
    assert_eq!(order(&app), vec![ConversationId::Raw(addr)]);
    // It was the first conversation, so it is open and nothing is unread.
    assert_eq!(app.selected, Some(ConversationId::Raw(addr)));
    assert_eq!(unread(&app, ConversationId::Raw(addr)), 0);
    let m = &app
        .conversation(&ConversationId::Raw(addr))
        .unwrap()
        .messages[0];
    assert_eq!(m.author, Author::Raw(addr));
    assert_eq!(app.title(&ConversationId::Raw(addr)), "192.168.1.20:40000");
    assert_eq!(app.online_peers(), 0);

    type_text(&mut app, T0 + 1, "hi nc");
    let effects = press(&mut app, T0 + 1, KeyCode::Enter);
    match &effects[..] {
        [
            Effect::Send {
                to,
                text,
                sent_at_ms,
                ..
            },
        ] => {
            assert_eq!(*to, ConversationId::Raw(addr));
            assert_eq!(text, "hi nc");
            assert_eq!(*sent_at_ms, T0 + 1);
        }
        other => panic!("expected one send, got {other:?}"),
    }
    assert_eq!(
        texts(&app, ConversationId::Raw(addr)),
        vec!["hello from nc", "hi nc"]
    );
}

// ---------------------------------------------------------------------------------------
// Peers going away

#[test]
fn peer_down_without_messages_removes_the_conversation_and_moves_selection() {
    let mut app = new_app();
    peer_up(&mut app, T0, 1, "alice");
    peer_up(&mut app, T0, 2, "bob");
    peer_up(&mut app, T0, 3, "carol");
    incoming(&mut app, T0 + 1, peer(3), 1, "hi");
    assert_eq!(app.selected, Some(peer(1)));
    assert_eq!(app.online_peers(), 3);

    peer_down(&mut app, T0 + 2, 1, "alice");
    assert_eq!(app.conversation(&peer(1)).map(|c| c.id), None);
    assert_eq!(order(&app), vec![peer(3), peer(2)]);
    assert_eq!(app.selected, Some(peer(3)), "selection moves to the top");
    assert_eq!(app.online_peers(), 2);
    assert!(!app.peers[&node(1)].online);

    // A peer with messages stays, marked offline.
    peer_down(&mut app, T0 + 3, 3, "carol");
    assert_eq!(order(&app), vec![peer(3), peer(2)]);
    assert!(!app.peers[&node(3)].online);
    assert_eq!(app.selected, Some(peer(3)));
    assert_eq!(app.online_peers(), 1);

    // Bob (not selected, no messages) leaves the sidebar; selection stays.
    peer_down(&mut app, T0 + 4, 2, "bob");
    assert_eq!(order(&app), vec![peer(3)]);
    assert_eq!(app.selected, Some(peer(3)));
    assert_eq!(app.online_peers(), 0);

    // Carol comes back: same conversation, online again.
    peer_up(&mut app, T0 + 5, 3, "carol");
    assert_eq!(order(&app), vec![peer(3)]);
    assert_eq!(app.online_peers(), 1);
    assert_eq!(texts(&app, peer(3)), vec!["hi"]);
}

#[test]
fn last_conversation_leaving_clears_the_selection() {
    let mut app = new_app();
    peer_up(&mut app, T0, 1, "alice");
    peer_down(&mut app, T0 + 1, 1, "alice");
    assert!(app.conversations.is_empty());
    assert_eq!(app.selected, None);
}

#[test]
fn selection_moved_by_peer_down_clears_unread() {
    let mut app = new_app();
    peer_up(&mut app, T0, 1, "alice");
    peer_up(&mut app, T0, 2, "bob");
    incoming(&mut app, T0 + 1, peer(2), 1, "are you there?");
    incoming(&mut app, T0 + 2, peer(2), 2, "hello?");
    assert_eq!(app.selected, Some(peer(1)));
    assert_eq!(unread(&app, peer(2)), 2);

    peer_down(&mut app, T0 + 3, 1, "alice");
    assert_eq!(app.selected, Some(peer(2)));
    assert_eq!(unread(&app, peer(2)), 0);
}

// ---------------------------------------------------------------------------------------
// The input line

#[test]
fn paste_inserts_newlines_and_never_sends() {
    let mut app = new_app();
    peer_up(&mut app, T0, 1, "alice");
    type_text(&mut app, T0, "[]");
    press(&mut app, T0, KeyCode::Left);
    let effects = app.update(T0, Msg::Paste("one\r\ntwo\rthree\nfour".into()));
    assert_eq!(effects, vec![]);
    assert_eq!(app.input.text(), "[one\ntwo\nthree\nfour]");
    assert_eq!(app.input.cursor(), "[one\ntwo\nthree\nfour".len());
    assert!(app.conversation(&peer(1)).unwrap().messages.is_empty());
    assert_eq!(app.notice, None);

    // Enter afterwards sends it all as one message, newlines included.
    let effects = press(&mut app, T0, KeyCode::Enter);
    assert!(
        matches!(&effects[..], [Effect::Send { text, .. }] if text == "[one\ntwo\nthree\nfour]"),
        "{effects:?}"
    );
}

#[test]
fn oversized_paste_is_cut_with_a_notice() {
    let mut app = new_app();
    app.update(T0, Msg::Paste("z".repeat(MAX_INPUT_BYTES + 10)));
    assert_eq!(app.input.text().len(), MAX_INPUT_BYTES);
    assert!(error_text(&app).contains("Paste cut"));
    press(&mut app, T0, KeyCode::Char('!'));
    assert!(error_text(&app).contains("full"));
    assert_eq!(app.input.text().len(), MAX_INPUT_BYTES);
}

#[test]
fn editor_keys_act_on_the_input() {
    let mut app = new_app();
    type_text(&mut app, T0, "hello world");
    for _ in 0..5 {
        press(&mut app, T0, KeyCode::Left);
    }
    assert_eq!(app.input.cursor(), 6);
    type_text(&mut app, T0, "big ");
    assert_eq!(app.input.text(), "hello big world");
    press(&mut app, T0, KeyCode::Right);
    assert_eq!(app.input.cursor(), 11);

    press(&mut app, T0, KeyCode::Home);
    type_text(&mut app, T0, ">");
    assert_eq!(app.input.text(), ">hello big world");
    press(&mut app, T0, KeyCode::End);
    assert_eq!(app.input.cursor(), app.input.text().len());
    press(&mut app, T0, KeyCode::Backspace);
    assert_eq!(app.input.text(), ">hello big worl");

    app.update(T0, ctrl('w'));
    assert_eq!(app.input.text(), ">hello big ");
    // Ctrl-A / Ctrl-E are Home / End too.
    app.update(T0, ctrl('a'));
    assert_eq!(app.input.cursor(), 0);
    press(&mut app, T0, KeyCode::Delete);
    assert_eq!(app.input.text(), "hello big ");
    app.update(T0, ctrl('e'));
    press(&mut app, T0, KeyCode::Left);
    press(&mut app, T0, KeyCode::Left);
    press(&mut app, T0, KeyCode::Left);
    press(&mut app, T0, KeyCode::Left);
    assert_eq!(app.input.cursor(), 6);

    app.update(T0, ctrl('k'));
    assert_eq!(app.input.text(), "hello ");
    press(&mut app, T0, KeyCode::Left);
    app.update(T0, ctrl('u'));
    assert_eq!((app.input.text(), app.input.cursor()), (" ", 0));
}

#[test]
fn cursor_keys_step_over_wide_characters_whole() {
    let mut app = new_app();
    type_text(&mut app, T0, "你好ab");
    press(&mut app, T0, KeyCode::Home);
    press(&mut app, T0, KeyCode::Right);
    assert_eq!(app.input.cursor(), 3);
    press(&mut app, T0, KeyCode::Right);
    press(&mut app, T0, KeyCode::Backspace);
    assert_eq!(app.input.text(), "你ab");
}

// ---------------------------------------------------------------------------------------
// Scrolling

/// An 80×24 terminal: a message pane 54 columns by 18 rows inside its border, so a page is
/// 17 lines. Fifty short messages take two lines each (header and text): 100 lines, so the
/// furthest one can scroll up is 100 - 18 = 82.
fn scrolled_app() -> App {
    let mut app = new_app();
    app.update(
        T0,
        Msg::Resize {
            width: 80,
            height: 24,
        },
    );
    assert_eq!(layout::message_pane_size(&app.screen()), (54, 18));
    peer_up(&mut app, T0, 1, "alice");
    for i in 0..50u64 {
        incoming(&mut app, T0 + i as i64, peer(1), i + 1, &format!("msg {i}"));
    }
    let c = app.conversation(&peer(1)).unwrap();
    assert_eq!(
        layout::conversation_height(&app.heights, &c.messages, 54, app.utc_offset_s),
        100
    );
    app
}

#[test]
fn page_up_scrolls_and_stops_at_the_top() {
    let mut app = scrolled_app();
    assert_eq!(app.scroll, 0);
    press(&mut app, T0, KeyCode::PageUp);
    assert_eq!(app.scroll, 17);
    press(&mut app, T0, KeyCode::PageUp);
    assert_eq!(app.scroll, 34);
    for _ in 0..10 {
        press(&mut app, T0, KeyCode::PageUp);
    }
    assert_eq!(app.scroll, 82, "clamped at the top");
    app.update(
        T0,
        Msg::Key(KeyEvent::new(KeyCode::Up, KeyModifiers::CONTROL)),
    );
    assert_eq!(app.scroll, 82);
    app.update(
        T0,
        Msg::Key(KeyEvent::new(KeyCode::Down, KeyModifiers::CONTROL)),
    );
    assert_eq!(app.scroll, 81);
    press(&mut app, T0, KeyCode::PageDown);
    assert_eq!(app.scroll, 64);

    app.update(
        T0,
        Msg::Key(KeyEvent::new(KeyCode::End, KeyModifiers::CONTROL)),
    );
    assert_eq!(app.scroll, 0);
    press(&mut app, T0, KeyCode::PageDown);
    app.update(
        T0,
        Msg::Key(KeyEvent::new(KeyCode::Down, KeyModifiers::CONTROL)),
    );
    assert_eq!(app.scroll, 0, "cannot scroll below the latest message");
}

#[test]
fn sending_and_switching_reset_the_scroll_and_resize_clamps_it() {
    let mut app = scrolled_app();
    press(&mut app, T0, KeyCode::PageUp);
    press(&mut app, T0, KeyCode::PageUp);
    assert_eq!(app.scroll, 34);
    send(&mut app, T0 + 100, "back to the bottom");
    assert_eq!(app.scroll, 0);

    for _ in 0..10 {
        press(&mut app, T0, KeyCode::PageUp);
    }
    // 51 messages now: 102 lines, 18 visible.
    assert_eq!(app.scroll, 84);
    // A taller terminal shows more, so there is less to scroll: 102 - (50 - 6) = 58.
    app.update(
        T0,
        Msg::Resize {
            width: 80,
            height: 50,
        },
    );
    assert_eq!(app.scroll, 58);

    peer_up(&mut app, T0, 2, "bob");
    press(&mut app, T0, KeyCode::Tab);
    assert_eq!(app.selected, Some(peer(2)));
    assert_eq!(app.scroll, 0);
}

// ---------------------------------------------------------------------------------------
// Bounds

/// The address of the `i`-th plain-text sender of a test.
fn sender(i: usize) -> SocketAddr {
    SocketAddr::from(([10, 1, (i / 256) as u8, (i % 256) as u8], 9000))
}

#[test]
fn strangers_are_capped_by_forgetting_the_least_recent() {
    let mut app = new_app();
    let extra = 10;
    for i in 0..MAX_STRANGERS + extra {
        incoming(
            &mut app,
            T0 + i as i64,
            ConversationId::Raw(sender(i)),
            i as u64 + 1,
            "spam",
        );
        assert!(app.conversations.len() <= MAX_STRANGERS);
    }
    assert_eq!(app.conversations.len(), MAX_STRANGERS);
    assert_eq!(app.strangers, MAX_STRANGERS);
    // The first one is selected and so kept; the next `extra` oldest were forgotten.
    assert_eq!(app.selected, Some(ConversationId::Raw(sender(0))));
    assert!(app.conversation(&ConversationId::Raw(sender(0))).is_some());
    for i in 1..=extra {
        assert!(
            app.conversation(&ConversationId::Raw(sender(i))).is_none(),
            "{i}"
        );
    }
    assert!(
        app.conversation(&ConversationId::Raw(sender(extra + 1)))
            .is_some()
    );
    let newest = ConversationId::Raw(sender(MAX_STRANGERS + extra - 1));
    assert_eq!(app.conversations[0].id, newest);
}

#[test]
fn raw_conversations_i_wrote_in_are_capped_overall_and_strangers_go_first() {
    let mut app = new_app();
    peer_up(&mut app, T0, 1, "alice");
    // Plain-text peers I answered: no strangers, so only the overall cap holds them.
    let answered = MAX_CONVERSATIONS + 3;
    for i in 0..answered {
        let id = ConversationId::Raw(sender(i));
        incoming(&mut app, T0 + i as i64, id, i as u64 + 1, "hello?");
        app.select(id);
        send(&mut app, T0 + i as i64, "hi");
        assert!(app.conversations.len() <= MAX_CONVERSATIONS);
    }
    assert_eq!(app.conversations.len(), MAX_CONVERSATIONS);
    assert_eq!(app.strangers, 0);
    // Alice said nothing and is the least recent of all, but a lanchat peer stays.
    assert!(app.conversation(&peer(1)).is_some());
    assert_eq!(app.conversations.last().map(|c| c.id), Some(peer(1)));
    // A stranger now pushes out the least recent answered one...
    let oldest_kept = order(&app)[MAX_CONVERSATIONS - 2];
    incoming(
        &mut app,
        T0 + 10_000,
        ConversationId::Raw(sender(9999)),
        99_999,
        "hi",
    );
    assert!(app.conversation(&oldest_kept).is_none());
    // ...and a second stranger pushes out the first, not another answered one.
    let answered_before = app.conversations.iter().filter(|c| c.wrote).count();
    incoming(
        &mut app,
        T0 + 10_001,
        ConversationId::Raw(sender(9998)),
        99_998,
        "hi",
    );
    assert_eq!(
        app.conversations.iter().filter(|c| c.wrote).count(),
        answered_before
    );
    assert!(
        app.conversation(&ConversationId::Raw(sender(9999)))
            .is_none()
    );
    assert_eq!(app.conversations.len(), MAX_CONVERSATIONS);
}

#[test]
fn messages_in_memory_are_capped_dropping_the_oldest() {
    let mut app = new_app();
    peer_up(&mut app, T0, 1, "alice");
    let extra = 7;
    for i in 0..MAX_MESSAGES_IN_MEMORY + extra {
        incoming(
            &mut app,
            T0 + i as i64,
            peer(1),
            i as u64 + 1,
            &format!("m{i}"),
        );
    }
    let c = app.conversation(&peer(1)).unwrap();
    assert_eq!(c.messages.len(), MAX_MESSAGES_IN_MEMORY);
    assert_eq!(c.messages.front().unwrap().text, format!("m{extra}"));
    assert_eq!(
        c.messages.back().unwrap().text,
        format!("m{}", MAX_MESSAGES_IN_MEMORY + extra - 1)
    );
}

#[test]
fn dirty_flag_is_set_by_updates_and_taken_once() {
    let mut app = new_app();
    assert!(app.take_dirty());
    assert!(!app.take_dirty());
    app.update(T0, Msg::Info("hi".into()));
    assert_eq!(app.notice, Some(Notice::Info("hi".into())));
    assert_eq!(app.clock_ms, T0);
    assert!(app.take_dirty());
    assert!(!app.take_dirty());
}

// ---------------------------------------------------------------------------------------
// Delivery states, read receipts and resending

fn state(app: &mut App, now: i64, id: MsgId, state: DeliveryState) {
    let effects = app.update(now, Msg::Net(Event::State { id, state }));
    assert!(effects.is_empty(), "{effects:?}");
}

fn my_state(app: &App, conv: ConversationId, id: MsgId) -> Option<DeliveryState> {
    app.conversation(&conv)
        .and_then(|c| c.messages.iter().find(|m| m.id == id))
        .and_then(|m| m.state)
}

#[test]
fn states_move_forward_and_read_is_never_undone() {
    let mut app = new_app();
    peer_up(&mut app, T0, 1, "alice");
    let Effect::Send { id, .. } = send(&mut app, T0, "hello") else {
        panic!("expected a send");
    };
    assert_eq!(my_state(&app, peer(1), id), Some(DeliveryState::Sending));
    state(&mut app, T0 + 1, id, DeliveryState::Queued);
    assert_eq!(my_state(&app, peer(1), id), Some(DeliveryState::Queued));
    state(&mut app, T0 + 2, id, DeliveryState::Delivered);
    let receipt = Event::Read {
        from: node(1),
        ids: vec![id],
    };
    assert!(app.update(T0 + 3, Msg::Net(receipt)).is_empty());
    assert_eq!(my_state(&app, peer(1), id), Some(DeliveryState::Read));
    // A late "delivered" (an ack overtaken by the receipt) does not demote it.
    state(&mut app, T0 + 4, id, DeliveryState::Delivered);
    assert_eq!(my_state(&app, peer(1), id), Some(DeliveryState::Read));
}

#[test]
fn opening_a_conversation_reports_its_unread_messages_read_once() {
    let mut app = new_app();
    peer_up(&mut app, T0, 1, "alice");
    peer_up(&mut app, T0, 2, "bob");
    assert_eq!(app.selected, Some(peer(1)));
    incoming(&mut app, T0 + 1, peer(2), 21, "one");
    incoming(&mut app, T0 + 2, peer(2), 22, "two");
    let effects = app.update(T0 + 3, ctrl('n'));
    assert_eq!(app.selected, Some(peer(2)));
    assert_eq!(
        effects,
        vec![Effect::MarkRead {
            peer: node(2),
            ids: vec![MsgId(21), MsgId(22)]
        }]
    );
    // Switching away and back reports nothing new; a new message in view is reported.
    assert!(app.update(T0 + 4, ctrl('p')).is_empty());
    assert!(app.update(T0 + 5, ctrl('n')).is_empty());
    incoming(&mut app, T0 + 6, peer(2), 23, "three");
}

#[test]
fn plain_text_conversations_get_no_read_receipts() {
    let mut app = new_app();
    let addr = raw_addr("192.168.1.9:4000");
    incoming(
        &mut app,
        T0,
        ConversationId::Raw(addr),
        5,
        "hello from a script",
    );
    assert_eq!(app.selected, Some(ConversationId::Raw(addr)));
    assert!(app.update(T0 + 1, ctrl('n')).is_empty());
}

#[test]
fn ctrl_r_resends_the_failed_messages_of_the_open_conversation_with_their_ids() {
    let mut app = new_app();
    peer_up(&mut app, T0, 1, "alice");
    let Effect::Send { id: a, .. } = send(&mut app, T0, "first") else {
        panic!("expected a send");
    };
    let Effect::Send { id: b, .. } = send(&mut app, T0 + 1, "second") else {
        panic!("expected a send");
    };
    state(&mut app, T0 + 2, a, DeliveryState::Failed);
    state(&mut app, T0 + 2, b, DeliveryState::Delivered);
    let effects = app.update(T0 + 3, ctrl('r'));
    assert_eq!(
        effects,
        vec![Effect::Send {
            to: peer(1),
            id: a,
            sent_at_ms: T0,
            text: "first".into(),
            quote: None,
        }]
    );
    assert_eq!(my_state(&app, peer(1), a), Some(DeliveryState::Sending));
    // The resent message's later states still land.
    state(&mut app, T0 + 4, a, DeliveryState::Delivered);
    assert_eq!(my_state(&app, peer(1), a), Some(DeliveryState::Delivered));
    // Nothing left to resend: a notice says so, no effect.
    assert!(app.update(T0 + 5, ctrl('r')).is_empty());
    assert_eq!(
        app.notice,
        Some(Notice::Info("No failed messages here".into()))
    );
}

// ---------------------------------------------------------------------------------------
// History: a window onto the store

fn stored_msg(n: i64, conv_peer: u8) -> Message {
    Message {
        id: MsgId(n as u64 + 1),
        author: Author::Peer(node(conv_peer)),
        time_ms: T0 + n,
        text: format!("message {n}"),
        state: None,
        seq: Some(n),
        quote: None,
        quote_found: false,
        recalled: false,
        file: None,
    }
}

fn page(from: i64, to: i64) -> Vec<Message> {
    (from..to).map(|n| stored_msg(n, 1)).collect()
}

fn restored_app() -> App {
    let mut app = new_app();
    app.update(
        T0,
        Msg::Resize {
            width: 80,
            height: 24,
        },
    );
    let effects = app.update(
        T0,
        Msg::Restore {
            peers: vec![(
                node(1),
                PeerInfo {
                    name: "alice".into(),
                    addr: "10.0.0.1:47475".parse().unwrap(),
                    online: true,
                    last_seen_ms: Some(T0 - 5000),
                },
            )],
            conversations: vec![ConversationSummary {
                id: peer(1),
                unread: 3,
                last_activity_ms: T0 - 1000,
                has_messages: true,
                draft: String::new(),
                pinned: false,
                muted: false,
                alias: None,
                last: Some(Message::new(
                    MsgId(9),
                    Author::Peer(node(1)),
                    T0 - 1000,
                    "last one".into(),
                )),
                mentioned: false,
                wrote: false,
            }],
        },
    );
    // Opening the remembered conversation asks for its latest page.
    assert_eq!(
        effects,
        vec![Effect::Load {
            conversation: peer(1),
            page: Page::Latest
        }]
    );
    // Restored peers are offline until heard from; the unread count is cleared on open.
    assert!(!app.peers[&node(1)].online);
    app
}

#[test]
fn restore_then_scroll_back_through_pages_and_jump_to_the_ends() {
    let mut app = restored_app();
    let effects = app.update(
        T0 + 1,
        Msg::History {
            conversation: peer(1),
            page: Page::Latest,
            messages: page(5000, 5200),
            more: true,
        },
    );
    // Seeing the newest message records the read position.
    assert_eq!(
        effects,
        vec![Effect::ReadUpTo {
            conversation: peer(1),
            seq: 5199
        }]
    );
    let c = app.conversation(&peer(1)).unwrap();
    assert_eq!(c.messages.len(), 200);
    assert!(c.has_older && !c.has_newer);

    // Page up until the top of what is loaded: the next older page is requested once.
    // (200 two-line messages over 19-line pages: 22 presses reach the top.)
    let mut loads = Vec::new();
    for _ in 0..30 {
        loads.extend(app.update(T0 + 2, key(KeyCode::PageUp)));
    }
    assert_eq!(
        loads,
        vec![Effect::Load {
            conversation: peer(1),
            page: Page::Before(5000)
        }]
    );
    let scroll_before = app.scroll;
    app.update(
        T0 + 3,
        Msg::History {
            conversation: peer(1),
            page: Page::Before(5000),
            messages: page(4800, 5000),
            more: true,
        },
    );
    // Prepending keeps the view where it was (the scroll counts from the bottom).
    assert_eq!(app.scroll, scroll_before);
    assert_eq!(
        app.conversation(&peer(1))
            .unwrap()
            .messages
            .front()
            .unwrap()
            .seq,
        Some(4800)
    );

    // Keep going back: memory stays bounded, the newest are let go.
    let mut before = 4800;
    for _ in 0..10 {
        for _ in 0..30 {
            app.update(T0 + 4, key(KeyCode::PageUp));
        }
        app.update(
            T0 + 5,
            Msg::History {
                conversation: peer(1),
                page: Page::Before(before),
                messages: page(before - 200, before),
                more: true,
            },
        );
        before -= 200;
    }
    let c = app.conversation(&peer(1)).unwrap();
    assert_eq!(c.messages.len(), MAX_MESSAGES_IN_MEMORY);
    assert!(c.has_newer);

    // A message arriving now is stored but not put into this old window.
    app.update(T0 + 6, Msg::Received(stored_msg(9999, 1), peer(1)));
    assert!(
        !app.conversation(&peer(1))
            .unwrap()
            .messages
            .iter()
            .any(|m| m.seq == Some(9999))
    );

    // Ctrl-End fetches the latest page again; Ctrl-Home the oldest.
    let end = app.update(
        T0 + 7,
        Msg::Key(KeyEvent::new(KeyCode::End, KeyModifiers::CONTROL)),
    );
    assert_eq!(
        end,
        vec![Effect::Load {
            conversation: peer(1),
            page: Page::Latest
        }]
    );
    app.update(
        T0 + 8,
        Msg::History {
            conversation: peer(1),
            page: Page::Latest,
            messages: page(9800, 10000),
            more: true,
        },
    );
    assert_eq!(app.scroll, 0);
    let c = app.conversation(&peer(1)).unwrap();
    assert!(!c.has_newer);
    assert_eq!(c.messages.back().unwrap().seq, Some(9999));
    let home = app.update(
        T0 + 9,
        Msg::Key(KeyEvent::new(KeyCode::Home, KeyModifiers::CONTROL)),
    );
    assert_eq!(
        home,
        vec![Effect::Load {
            conversation: peer(1),
            page: Page::Oldest
        }]
    );
    app.update(
        T0 + 10,
        Msg::History {
            conversation: peer(1),
            page: Page::Oldest,
            messages: page(0, 200),
            more: true,
        },
    );
    let c = app.conversation(&peer(1)).unwrap();
    assert!(!c.has_older && c.has_newer);
    assert!(app.scroll > 0, "the view is at the top");
    // Scrolling down to the bottom of this window asks for the next newer page.
    let mut loads = Vec::new();
    for _ in 0..30 {
        loads.extend(app.update(T0 + 11, key(KeyCode::PageDown)));
    }
    assert_eq!(
        loads,
        vec![Effect::Load {
            conversation: peer(1),
            page: Page::After(199)
        }]
    );
}

#[test]
fn a_store_failure_for_my_message_gives_its_text_back() {
    let mut app = new_app();
    peer_up(&mut app, T0, 1, "alice");
    let Effect::Send { id, .. } = send(&mut app, T0, "do not lose me") else {
        panic!("expected a send");
    };
    assert!(app.input.is_empty());
    app.update(
        T0 + 1,
        Msg::StoreFailed {
            id: Some(id),
            error: "database or disk is full".into(),
        },
    );
    assert_eq!(app.input.text(), "do not lose me");
    assert!(matches!(&app.notice, Some(Notice::Error(e)) if e.contains("disk is full")));
    let c = app.conversation(&peer(1)).unwrap();
    assert_eq!(
        c.messages.back().unwrap().state,
        Some(DeliveryState::Failed)
    );
}

#[test]
fn stored_positions_reach_my_messages() {
    let mut app = new_app();
    peer_up(&mut app, T0, 1, "alice");
    let Effect::Send { id, .. } = send(&mut app, T0, "hi") else {
        panic!("expected a send");
    };
    let effects = app.update(T0 + 1, Msg::Stored { id, seq: 42 });
    assert_eq!(
        app.conversation(&peer(1)).unwrap().messages[0].seq,
        Some(42)
    );
    assert_eq!(
        effects,
        vec![Effect::ReadUpTo {
            conversation: peer(1),
            seq: 42
        }]
    );
}

#[test]
fn new_messages_do_not_move_a_scrolled_up_view_and_are_counted() {
    let mut app = new_app();
    app.update(
        T0,
        Msg::Resize {
            width: 80,
            height: 24,
        },
    );
    peer_up(&mut app, T0, 1, "alice");
    for i in 0..40 {
        incoming(
            &mut app,
            T0 + i,
            peer(1),
            100 + i as u64,
            &format!("line {i}"),
        );
    }
    app.update(T0 + 50, key(KeyCode::PageUp));
    let scrolled = app.scroll;
    assert!(scrolled > 0);
    incoming(&mut app, T0 + 51, peer(1), 500, "new one");
    incoming(
        &mut app,
        T0 + 52,
        peer(1),
        501,
        "and another\nover two lines",
    );
    // Header + text lines of each: 2 and 3 more lines below the view, which stays put.
    assert_eq!(app.scroll, scrolled + 2 + 3);
    assert_eq!(app.new_below, 2);
    // At the bottom, new messages simply appear.
    app.update(
        T0 + 53,
        Msg::Key(KeyEvent::new(KeyCode::End, KeyModifiers::CONTROL)),
    );
    assert_eq!((app.scroll, app.new_below), (0, 0));
    incoming(&mut app, T0 + 54, peer(1), 502, "seen at once");
    assert_eq!((app.scroll, app.new_below), (0, 0));
}

#[test]
fn each_conversation_keeps_its_draft_and_the_store_hears_of_it() {
    let mut app = new_app();
    peer_up(&mut app, T0, 1, "alice");
    peer_up(&mut app, T0, 2, "bob");
    type_text(&mut app, T0, "half a thought");
    let effects = app.update(T0 + 1, ctrl('n'));
    assert_eq!(app.selected, Some(peer(2)));
    assert!(app.input.is_empty());
    assert_eq!(
        effects,
        vec![Effect::SaveDraft {
            conversation: peer(1),
            text: "half a thought".into()
        }]
    );
    assert!(app.drafts.contains_key(&peer(1)));
    // Back: the draft is in the input again, and the stored copy is cleared.
    let effects = app.update(T0 + 2, ctrl('p'));
    assert_eq!(app.input.text(), "half a thought");
    assert_eq!(
        effects,
        vec![Effect::SaveDraft {
            conversation: peer(1),
            text: String::new()
        }]
    );
    // Quitting keeps what is being typed.
    let effects = app.update(T0 + 3, ctrl('c'));
    assert!(effects.contains(&Effect::SaveDraft {
        conversation: peer(1),
        text: "half a thought".into()
    }));
}

#[test]
fn alt_digits_and_alt_a_jump() {
    let mut app = new_app();
    for (n, name) in [(1, "alice"), (2, "bob"), (3, "carol")] {
        peer_up(&mut app, T0, n, name);
    }
    let alt = |c| Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::ALT));
    app.update(T0 + 1, alt('3'));
    assert_eq!(app.selected, Some(app.conversations[2].id));
    app.update(T0 + 1, alt('9')); // no ninth: nothing happens
    assert_eq!(app.selected, Some(app.conversations[2].id));
    app.update(T0 + 1, alt('1'));
    let first = app.selected;
    incoming(&mut app, T0 + 2, peer(2), 7, "psst");
    app.update(T0 + 3, alt('a'));
    assert_eq!(app.selected, Some(peer(2)));
    assert_ne!(app.selected, first);
    app.update(T0 + 4, alt('a'));
    assert_eq!(app.notice, Some(Notice::Info("Nothing unread".into())));
}

#[test]
fn pin_mute_and_rename_change_the_sidebar_and_are_remembered() {
    let mut app = new_app();
    peer_up(&mut app, T0, 1, "alice");
    peer_up(&mut app, T0, 2, "bob");
    incoming(&mut app, T0 + 5, peer(1), 1, "newer activity");
    assert_eq!(app.conversations[0].id, peer(1));
    app.update(T0 + 6, ctrl('n'));
    assert_eq!(app.selected, Some(peer(2)));
    app.input.set("/pin");
    let effects = press(&mut app, T0 + 7, KeyCode::Enter);
    assert_eq!(
        effects,
        vec![Effect::Pin {
            conversation: peer(2),
            on: true
        }]
    );
    // Pinned goes first, whatever the activity.
    assert_eq!(app.conversations[0].id, peer(2));
    app.input.set("/rename Bobby Tables");
    let effects = press(&mut app, T0 + 8, KeyCode::Enter);
    assert_eq!(
        effects,
        vec![Effect::Rename {
            conversation: peer(2),
            alias: Some("Bobby Tables".into())
        }]
    );
    assert_eq!(app.title(&peer(2)), "Bobby Tables");
    app.input.set("/rename");
    press(&mut app, T0 + 9, KeyCode::Enter);
    assert_eq!(app.title(&peer(2)), "bob");
    // Muted: no bell, not in the title count.
    app.update(T0 + 10, ctrl('p'));
    app.input.set("/mute");
    let effects = press(&mut app, T0 + 11, KeyCode::Enter);
    assert_eq!(
        effects,
        vec![Effect::Mute {
            conversation: peer(1),
            on: true
        }]
    );
    app.update(T0 + 12, ctrl('n'));
    app.ring = true;
    app.unread_title = true;
    let effects = incoming_effects(&mut app, T0 + 13, peer(1), 2, "quietly");
    assert!(effects.is_empty(), "muted: no bell, no title: {effects:?}");
    assert_eq!(app.unread_total(), 0);
    assert_eq!(app.conversation(&peer(1)).unwrap().unread, 1);
}

#[test]
fn a_message_out_of_view_rings_once_and_counts_in_the_title() {
    let mut app = new_app();
    app.ring = true;
    app.unread_title = true;
    peer_up(&mut app, T0, 1, "alice");
    peer_up(&mut app, T0, 2, "bob");
    let mut effects = incoming_effects(&mut app, T0 + 1, peer(1), 1, "in view");
    assert!(
        !rang(&mut effects),
        "the open conversation at the bottom does not ring"
    );
    assert!(
        !effects.iter().any(|e| matches!(e, Effect::Title(_))),
        "{effects:?}"
    );
    // Two out of view in one batch (as the runtime hands over a burst of datagrams).
    let effects = app.update_all(
        T0 + 2,
        [
            incoming_msg(T0 + 2, peer(2), 2, "elsewhere"),
            incoming_msg(T0 + 2, peer(2), 3, "again"),
        ],
    );
    let bells = effects.iter().filter(|e| **e == Effect::Bell).count();
    assert_eq!(bells, 1, "once per batch: {effects:?}");
    assert_eq!(app.unread_total(), 2);
    assert!(effects.contains(&Effect::Title(2)), "{effects:?}");
    // The title is told again only when the count changes: opening bob's chat reads them.
    let mut effects = incoming_effects(&mut app, T0 + 3, peer(2), 4, "more");
    assert!(rang(&mut effects));
    assert!(effects.contains(&Effect::Title(3)), "{effects:?}");
    app.select(peer(2));
    let effects = app.update(T0 + 4, Msg::Info(String::new()));
    assert!(effects.contains(&Effect::Title(0)), "{effects:?}");
    let effects = app.update(T0 + 5, Msg::Info(String::new()));
    assert!(effects.is_empty(), "{effects:?}");
}

#[test]
fn a_click_opens_a_conversation_and_the_wheel_scrolls() {
    use crossterm::event::{MouseButton, MouseEvent, MouseEventKind};
    let mut app = new_app();
    app.update(
        T0,
        Msg::Resize {
            width: 80,
            height: 24,
        },
    );
    peer_up(&mut app, T0, 1, "alice");
    peer_up(&mut app, T0, 2, "bob");
    for i in 0..30 {
        incoming(&mut app, T0 + i, peer(1), 200 + i as u64, "x");
    }
    let mouse = |kind, column, row| {
        Msg::Mouse(MouseEvent {
            kind,
            column,
            row,
            modifiers: KeyModifiers::NONE,
        })
    };
    app.update(T0 + 40, mouse(MouseEventKind::ScrollUp, 40, 5));
    assert_eq!(app.scroll, 3);
    app.update(T0 + 41, mouse(MouseEventKind::ScrollDown, 40, 5));
    assert_eq!(app.scroll, 0);
    // Sidebar rows take two lines at 80×24: lines 1–2 inside the border are the first
    // conversation, 3–4 the second.
    let first = app.conversations[0].id;
    let second = app.conversations[1].id;
    app.update(
        T0 + 42,
        mouse(MouseEventKind::Down(MouseButton::Left), 3, 3),
    );
    assert_eq!(app.selected, Some(second));
    app.update(
        T0 + 42,
        mouse(MouseEventKind::Down(MouseButton::Left), 3, 2),
    );
    assert_eq!(app.selected, Some(first));
    app.update(
        T0 + 42,
        mouse(MouseEventKind::Down(MouseButton::Left), 3, 4),
    );
    assert_eq!(app.selected, Some(second));
    // A click below the last conversation does nothing.
    app.update(
        T0 + 43,
        mouse(MouseEventKind::Down(MouseButton::Left), 3, 15),
    );
    assert_eq!(app.selected, Some(second));
}

#[test]
fn tab_completes_commands_and_names_and_otherwise_switches() {
    let mut app = new_app();
    peer_up(&mut app, T0, 1, "alice");
    peer_up(&mut app, T0, 2, "albert");
    type_text(&mut app, T0, "/se");
    press(&mut app, T0, KeyCode::Tab);
    // Two commands start so: what they share goes in, and both are listed.
    assert_eq!(app.input.text(), "/se");
    assert!(matches!(&app.notice, Some(Notice::Info(t)) if t == "/search  /send"));
    type_text(&mut app, T0, "a");
    press(&mut app, T0, KeyCode::Tab);
    assert_eq!(app.input.text(), "/search ");
    app.input.take();
    type_text(&mut app, T0, "/pi");
    press(&mut app, T0, KeyCode::Tab);
    assert_eq!(app.input.text(), "/pin ");
    app.input.take();
    // A unique prefix completes whole.
    type_text(&mut app, T0, "/qu");
    press(&mut app, T0, KeyCode::Tab);
    assert_eq!(app.input.text(), "/quit ");
    app.input.take();
    type_text(&mut app, T0, "hi @al");
    press(&mut app, T0, KeyCode::Tab);
    assert_eq!(app.input.text(), "hi @al");
    type_text(&mut app, T0, "i");
    press(&mut app, T0, KeyCode::Tab);
    assert_eq!(app.input.text(), "hi @alice ");
    // Nothing to complete: Tab goes to the next conversation.
    let before = app.selected;
    app.input.take();
    press(&mut app, T0, KeyCode::Tab);
    assert_ne!(app.selected, before);
}

#[test]
fn ctrl_k_on_an_empty_input_opens_the_switcher_and_kills_otherwise() {
    let mut app = new_app();
    for (n, name) in [(1, "alice"), (2, "bob"), (3, "carol")] {
        peer_up(&mut app, T0, n, name);
    }
    type_text(&mut app, T0, "keep this");
    press(&mut app, T0, KeyCode::Home);
    press(&mut app, T0, KeyCode::Right);
    press(&mut app, T0, KeyCode::Right);
    press(&mut app, T0, KeyCode::Right);
    press(&mut app, T0, KeyCode::Right);
    app.update(T0, ctrl('k'));
    assert_eq!(app.input.text(), "keep");
    app.update(T0, ctrl('y'));
    assert_eq!(app.input.text(), "keep this");
    app.input.take();
    app.update(T0, ctrl('k'));
    assert!(app.switcher.is_some());
    type_text(&mut app, T0, "RO");
    assert_eq!(app.switcher_matches("RO"), vec![peer(3)]);
    press(&mut app, T0, KeyCode::Enter);
    assert!(app.switcher.is_none());
    assert_eq!(app.selected, Some(peer(3)));
    // Esc closes without switching.
    app.update(T0, ctrl('k'));
    type_text(&mut app, T0, "b");
    press(&mut app, T0, KeyCode::Esc);
    assert!(app.switcher.is_none());
    assert_eq!(app.selected, Some(peer(3)));
}

#[test]
fn alt_d_deletes_the_next_word_and_f2_toggles_peer_info() {
    let mut app = new_app();
    peer_up(&mut app, T0, 1, "alice");
    type_text(&mut app, T0, "one two three");
    press(&mut app, T0, KeyCode::Home);
    app.update(
        T0,
        Msg::Key(KeyEvent::new(KeyCode::Char('d'), KeyModifiers::ALT)),
    );
    assert_eq!(app.input.text(), " two three");
    press(&mut app, T0, KeyCode::F(2));
    assert!(app.show_info);
    press(&mut app, T0, KeyCode::Esc);
    assert!(!app.show_info);
    // The overlay closes with whatever key dismisses, and Esc is then nothing special.
    let f9 = keymap::KeySpec {
        code: KeyCode::F(9),
        mods: KeyModifiers::NONE,
    };
    app.keymap = Keymap::with(&[(Action::Dismiss, vec![f9])]);
    press(&mut app, T0, KeyCode::F(2));
    press(&mut app, T0, KeyCode::Esc);
    assert!(app.show_info, "Esc no longer dismisses");
    press(&mut app, T0, KeyCode::F(9));
    assert!(!app.show_info);
}

#[test]
fn up_and_down_bring_back_what_i_sent_and_then_what_i_was_typing() {
    let mut app = new_app();
    peer_up(&mut app, T0, 1, "alice");
    send(&mut app, T0, "first");
    send(&mut app, T0 + 1, "second");
    type_text(&mut app, T0 + 2, "draft");
    press(&mut app, T0 + 3, KeyCode::Up);
    assert_eq!(app.input.text(), "second");
    press(&mut app, T0 + 3, KeyCode::Up);
    assert_eq!(app.input.text(), "first");
    press(&mut app, T0 + 3, KeyCode::Up);
    assert_eq!(app.input.text(), "first", "stops at the oldest");
    press(&mut app, T0 + 3, KeyCode::Down);
    assert_eq!(app.input.text(), "second");
    press(&mut app, T0 + 3, KeyCode::Down);
    assert_eq!(app.input.text(), "draft");
}

#[test]
fn alt_enter_and_ctrl_j_add_a_line_and_enter_sends_both_lines() {
    let mut app = new_app();
    peer_up(&mut app, T0, 1, "alice");
    type_text(&mut app, T0, "line one");
    app.update(
        T0,
        Msg::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::ALT)),
    );
    type_text(&mut app, T0, "two");
    app.update(T0, ctrl('j'));
    type_text(&mut app, T0, "three");
    let effects = press(&mut app, T0, KeyCode::Enter);
    assert!(matches!(
        effects.as_slice(),
        [Effect::Send { text, .. }] if text == "line one\ntwo\nthree"
    ));
}

#[test]
fn alt_up_picks_a_message_and_y_copies_exactly_it() {
    let mut app = new_app();
    peer_up(&mut app, T0, 1, "alice");
    incoming(&mut app, T0, peer(1), 1, "first 你好");
    incoming(&mut app, T0 + 1, peer(1), 2, "second");
    let alt_up = Msg::Key(KeyEvent::new(KeyCode::Up, KeyModifiers::ALT));
    app.update(T0 + 2, alt_up);
    assert_eq!(app.picked, Some(MsgId(2)));
    press(&mut app, T0 + 2, KeyCode::Up);
    assert_eq!(app.picked, Some(MsgId(1)));
    let effects = press(&mut app, T0 + 2, KeyCode::Char('y'));
    assert_eq!(effects, vec![Effect::Copy("first 你好".into())]);
    assert_eq!(app.picked, None);
    // Esc lets go without copying; other keys let go and do their job, but a typed
    // character is not typed into the input (nor does it let go): y, r and d are keys
    // here, so no letter is text.
    app.update(
        T0 + 3,
        Msg::Key(KeyEvent::new(KeyCode::Up, KeyModifiers::ALT)),
    );
    assert!(press(&mut app, T0 + 3, KeyCode::Esc).is_empty());
    assert_eq!(app.picked, None);
    app.update(
        T0 + 3,
        Msg::Key(KeyEvent::new(KeyCode::Up, KeyModifiers::ALT)),
    );
    press(&mut app, T0 + 3, KeyCode::Char('x'));
    assert_eq!((app.picked, app.input.text()), (Some(MsgId(2)), ""));
    press(&mut app, T0 + 3, KeyCode::F(1));
    assert_eq!((app.picked, app.show_help), (None, true));
}

// ---------------------------------------------------------------------------------------
// Quote-reply, recall, mentions, and the keys added with them

fn resize(app: &mut App, width: u16, height: u16) {
    app.update(T0, Msg::Resize { width, height });
}

fn alt(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::ALT))
}

/// Sends `text` in the open conversation and returns the Send effect's parts.
fn send_text(app: &mut App, now: i64, text: &str) -> (MsgId, String, Option<Quote>) {
    app.input.set(text);
    match press(app, now, KeyCode::Enter).as_slice() {
        [
            Effect::Send {
                id, text, quote, ..
            },
        ] => (*id, text.clone(), quote.clone()),
        other => panic!("expected one send, got {other:?}"),
    }
}

#[test]
fn r_in_pick_mode_replies_with_the_quote_and_esc_cancels() {
    let mut app = new_app();
    peer_up(&mut app, T0, 1, "alice");
    incoming(&mut app, T0, peer(1), 5, "first line of hers\nsecond");
    let (mine, _, _) = send_text(&mut app, T0 + 1, "mine");
    // Alt-Up picks my latest, Up moves to hers, r replies to it.
    app.update(T0 + 2, alt(KeyCode::Up));
    assert_eq!(app.picked, Some(mine));
    press(&mut app, T0 + 2, KeyCode::Up);
    assert!(press(&mut app, T0 + 2, KeyCode::Char('r')).is_empty());
    assert_eq!(app.picked, None);
    assert_eq!(
        app.replying,
        Some(Replying {
            id: MsgId(5),
            author: Author::Peer(node(1)),
            excerpt: "first line of hers".into(),
        })
    );
    let (id, text, quote) = send_text(&mut app, T0 + 3, "answer");
    assert_eq!(text, "answer");
    assert_eq!(
        quote,
        Some(Quote {
            id: MsgId(5),
            author: node(1),
            excerpt: "first line of hers".into(),
        })
    );
    assert_eq!(app.replying, None, "one reply per pick");
    let shown = app
        .conversation(&peer(1))
        .unwrap()
        .messages
        .back()
        .cloned()
        .unwrap();
    assert_eq!((shown.id, shown.quote), (id, quote));
    // Replying to my own message quotes me by my node id; Esc cancels.
    app.update(T0 + 4, alt(KeyCode::Up));
    press(&mut app, T0 + 4, KeyCode::Up);
    press(&mut app, T0 + 4, KeyCode::Char('r'));
    assert_eq!(app.replying.as_ref().map(|r| r.author), Some(Author::Me));
    press(&mut app, T0 + 4, KeyCode::Esc);
    assert_eq!(app.replying, None);
    let (_, _, quote) = send_text(&mut app, T0 + 5, "plain again");
    assert_eq!(quote, None);
    // Switching conversations drops a pending reply.
    app.update(T0 + 6, alt(KeyCode::Up));
    press(&mut app, T0 + 6, KeyCode::Char('r'));
    assert!(app.replying.is_some());
    peer_up(&mut app, T0 + 7, 2, "bob");
    app.update(T0 + 7, ctrl('n'));
    assert_eq!(app.replying, None);
}

#[test]
fn a_reply_to_a_plain_text_peer_is_plain_text_with_the_quote_on_top() {
    let mut app = new_app();
    let script = ConversationId::Raw(raw_addr("192.168.1.9:40000"));
    incoming(&mut app, T0, script, 1, "what time is it?");
    app.select(script);
    app.update(T0 + 1, alt(KeyCode::Up));
    press(&mut app, T0 + 1, KeyCode::Char('r'));
    let (_, text, quote) = send_text(&mut app, T0 + 2, "noon");
    assert_eq!(text, "> what time is it?\nnoon");
    assert_eq!(quote, None);
    // And recall is refused, with a reason.
    app.update(T0 + 3, alt(KeyCode::Up));
    assert!(press(&mut app, T0 + 3, KeyCode::Char('d')).is_empty());
    assert!(matches!(&app.notice, Some(Notice::Error(e)) if e.contains("plain-text")));
    app.input.set("/recall");
    assert!(press(&mut app, T0 + 3, KeyCode::Enter).is_empty());
    let last = app
        .conversation(&script)
        .unwrap()
        .messages
        .back()
        .cloned()
        .unwrap();
    assert!(!last.recalled);
}

#[test]
fn d_and_slash_recall_take_back_my_recent_message_only() {
    let mut app = new_app();
    peer_up(&mut app, T0, 1, "alice");
    incoming(&mut app, T0, peer(1), 5, "hers");
    let (old, _, _) = send_text(&mut app, T0, "old one");
    let (new, _, _) = send_text(&mut app, T0 + 100_000, "new one");
    let recall_effect = |effects: &[Effect]| match effects {
        [
            Effect::Recall {
                to,
                target,
                sent_at_ms,
                id,
            },
        ] => {
            assert_eq!(*to, peer(1));
            assert_ne!(id.0, 0);
            (*target, *sent_at_ms)
        }
        other => panic!("expected a recall, got {other:?}"),
    };
    // Two minutes and a bit after "old one": too late for it, in time for "new one".
    let now = T0 + RECALL_WINDOW_MS + 1;
    app.update(now, alt(KeyCode::Up));
    press(&mut app, now, KeyCode::Up);
    assert_eq!(app.picked, Some(old));
    assert!(press(&mut app, now, KeyCode::Char('d')).is_empty());
    assert!(matches!(&app.notice, Some(Notice::Error(e)) if e.contains("2 minutes")));
    // Hers is not mine to recall.
    app.update(now, alt(KeyCode::Up));
    press(&mut app, now, KeyCode::Up);
    press(&mut app, now, KeyCode::Up);
    assert!(press(&mut app, now, KeyCode::Char('d')).is_empty());
    assert!(matches!(&app.notice, Some(Notice::Error(e)) if e.contains("own")));
    // The new one goes.
    app.update(now, alt(KeyCode::Up));
    assert_eq!(app.picked, Some(new));
    let effects = press(&mut app, now, KeyCode::Char('d'));
    assert_eq!(recall_effect(&effects), (new, now));
    let c = app.conversation(&peer(1)).unwrap();
    let m = c.messages.iter().find(|m| m.id == new).unwrap();
    assert!(m.recalled && m.text.is_empty());
    assert!(c.last.as_ref().is_some_and(|l| l.recalled));
    // /recall: my latest not yet recalled, here the old one, now too old.
    app.input.set("/recall");
    assert!(press(&mut app, now, KeyCode::Enter).is_empty());
    assert!(matches!(&app.notice, Some(Notice::Error(e)) if e.contains("2 minutes")));
    let (third, _, _) = send_text(&mut app, now, "third");
    app.input.set("/recall");
    let effects = press(&mut app, now + 1, KeyCode::Enter);
    assert_eq!(recall_effect(&effects), (third, now + 1));
}

#[test]
fn a_peer_recalls_only_its_own_messages() {
    let mut app = new_app();
    peer_up(&mut app, T0, 1, "alice");
    peer_up(&mut app, T0, 2, "bob");
    incoming(&mut app, T0, peer(1), 5, "hers");
    let (mine, _, _) = send_text(&mut app, T0, "mine");
    // A reply of mine quoting hers.
    app.update(T0, alt(KeyCode::Up));
    press(&mut app, T0, KeyCode::Up);
    press(&mut app, T0, KeyCode::Char('r'));
    send_text(&mut app, T0, "about hers");
    // Alice tries to recall my message: nothing happens. Bob tries to recall hers: nothing.
    for (from, target) in [(node(1), mine), (node(2), MsgId(5))] {
        app.update(
            T0 + 1,
            Msg::Net(Event::Recall {
                from,
                id: MsgId(900),
                target,
                sent_at_ms: T0,
            }),
        );
    }
    let texts = |app: &App| texts(app, peer(1));
    assert_eq!(texts(&app), vec!["hers", "mine", "about hers"]);
    // Alice recalls hers: gone, and my quote of it loses its text.
    app.update(
        T0 + 2,
        Msg::Net(Event::Recall {
            from: node(1),
            id: MsgId(901),
            target: MsgId(5),
            sent_at_ms: T0,
        }),
    );
    let c = app.conversation(&peer(1)).unwrap();
    assert!(c.messages[0].recalled && c.messages[0].text.is_empty());
    assert_eq!(
        c.messages[2].quote.as_ref().map(|q| q.excerpt.as_str()),
        Some("")
    );
    // The store's word (Msg::Recalled, after it applied a recall) does the same to a
    // message not recalled yet, and to replies quoting it.
    incoming(&mut app, T0 + 3, peer(1), 6, "second of hers");
    app.update(
        T0 + 3,
        Msg::Recalled {
            conversation: peer(1),
            author: Author::Peer(node(1)),
            target: MsgId(6),
        },
    );
    let c = app.conversation(&peer(1)).unwrap();
    let second = c.messages.iter().find(|m| m.id == MsgId(6)).unwrap();
    assert!(second.recalled && second.text.is_empty());
}

#[test]
fn a_mention_of_me_marks_the_chat_rings_even_muted_and_notifies_by_name_only() {
    let mut app = new_app();
    let said = incoming_effects;
    app.notify = true;
    peer_up(&mut app, T0, 1, "alice");
    peer_up(&mut app, T0, 2, "bob");
    // Bob's chat is muted and not open.
    app.select(peer(2));
    app.input.set("/mute");
    press(&mut app, T0, KeyCode::Enter);
    app.select(peer(1));
    app.ring = true;
    let effects = said(&mut app, T0 + 1, peer(2), 1, "no mention \x1b]0;x\x07");
    assert!(effects.is_empty(), "muted, no mention: quiet: {effects:?}");
    let mut effects = said(&mut app, T0 + 2, peer(2), 2, "hey @me, look \x1b[2J");
    assert!(rang(&mut effects), "a mention rings through mute");
    assert_eq!(effects, vec![Effect::Notify("bob mentioned you".into())]);
    // Below, the notifications alone.
    app.ring = false;
    assert!(app.conversation(&peer(2)).unwrap().mentioned);
    // Not muted, no mention: a plain notification naming the sender, never the text.
    let effects = said(
        &mut app,
        T0 + 3,
        ConversationId::Raw(raw_addr("10.1.1.1:9")),
        3,
        "secret text",
    );
    assert_eq!(
        effects,
        vec![Effect::Notify("10.1.1.1:9: new plain-text message".into())]
    );
    // Opening bob's chat clears the mark.
    app.select(peer(2));
    assert!(!app.conversation(&peer(2)).unwrap().mentioned);
    // With notifications off, nothing is queued.
    app.notify = false;
    app.select(peer(1));
    let effects = said(&mut app, T0 + 4, peer(2), 4, "@me again");
    assert!(effects.is_empty());
}

#[test]
fn the_sidebar_key_hides_the_list_or_shows_it_over_a_narrow_screen() {
    let mut app = new_app();
    peer_up(&mut app, T0, 1, "alice");
    peer_up(&mut app, T0, 2, "bob");
    resize(&mut app, 80, 24);
    assert!(app.show_sidebar);
    app.update(
        T0,
        Msg::Key(KeyEvent::new(KeyCode::F(3), KeyModifiers::NONE)),
    );
    assert!(!app.show_sidebar);
    assert_eq!(
        layout::message_pane_size(&app.screen()).0,
        78,
        "the pane takes the whole width"
    );
    app.update(T0, alt(KeyCode::Char('l')));
    assert!(app.show_sidebar);
    // Narrow: the key shows the list over the messages; Down/Up switch, Enter closes.
    resize(&mut app, 50, 20);
    assert_eq!(layout::message_pane_size(&app.screen()).0, 48);
    app.update(T0, alt(KeyCode::Char('l')));
    assert!(app.sidebar_overlay);
    let first = app.selected;
    press(&mut app, T0, KeyCode::Down);
    assert_ne!(app.selected, first);
    assert!(app.input.is_empty(), "keys go to the list, not the input");
    press(&mut app, T0, KeyCode::Up);
    assert_eq!(app.selected, first);
    assert!(
        press(&mut app, T0, KeyCode::Enter).is_empty(),
        "Enter closes, sends nothing"
    );
    assert!(!app.sidebar_overlay);
    // With it closed, Up is input history again, and Esc closes it too.
    app.update(T0, alt(KeyCode::Char('l')));
    press(&mut app, T0, KeyCode::Esc);
    assert!(!app.sidebar_overlay);
}

#[test]
fn help_scrolls_with_arrows_and_pages_and_closes_with_esc() {
    let mut app = new_app();
    resize(&mut app, 80, 24);
    app.update(
        T0,
        Msg::Key(KeyEvent::new(KeyCode::F(1), KeyModifiers::NONE)),
    );
    assert!(app.show_help);
    press(&mut app, T0, KeyCode::Down);
    press(&mut app, T0, KeyCode::Down);
    assert_eq!(app.help_scroll, 2);
    press(&mut app, T0, KeyCode::Up);
    assert_eq!(app.help_scroll, 1);
    for _ in 0..10 {
        press(&mut app, T0, KeyCode::PageDown);
    }
    assert_eq!(
        app.help_scroll,
        layout::help_max_scroll(&app.help_lines(), app.size)
    );
    assert!(app.help_scroll > 0);
    press(&mut app, T0, KeyCode::PageUp);
    assert!(app.help_scroll < layout::help_max_scroll(&app.help_lines(), app.size));
    press(&mut app, T0, KeyCode::Esc);
    assert!(!app.show_help);
    // ? on an empty input opens it at the top again.
    press(&mut app, T0, KeyCode::Char('?'));
    assert!(app.show_help);
    assert_eq!(app.help_scroll, 0);
}

#[test]
fn rebound_keys_do_their_new_job_and_free_the_old_one() {
    use keymap::KeySpec;
    let mut app = new_app();
    peer_up(&mut app, T0, 1, "alice");
    peer_up(&mut app, T0, 2, "bob");
    let f5: KeySpec = "f5".parse().unwrap();
    app.keymap = Keymap::with(&[(Action::NextConversation, vec![f5])]);
    let first = app.selected;
    app.update(T0, ctrl('n'));
    assert_eq!(app.selected, first, "Ctrl-N is no longer bound");
    press(&mut app, T0, KeyCode::F(5));
    assert_ne!(app.selected, first);
}

#[test]
fn every_default_binding_reaches_its_action() {
    // Each key of the default table does something observable from a known state.
    let base = || {
        let mut app = new_app();
        resize(&mut app, 80, 24);
        for n in 1..=10 {
            peer_up(&mut app, T0, n, &format!("peer{n:02}"));
        }
        for i in 0..40 {
            incoming(&mut app, T0 + i, peer(1), 100 + i as u64, "line");
        }
        // Something unread elsewhere, for Alt-A.
        incoming(&mut app, T0 + 50, peer(5), 99, "psst");
        send_text(&mut app, T0 + 60, "sent before");
        app.input.set("one two");
        app.input.left();
        app.notice = Some(Notice::Info("base".into()));
        app
    };
    // What a key may change, as one comparable value.
    let observe = |app: &App| {
        (
            app.notice.clone(),
            app.selected,
            app.input.clone(),
            app.scroll,
            (app.show_help, app.show_info, app.show_sidebar, app.running),
            app.picked,
            app.switcher.clone(),
        )
    };
    let keymap = Keymap::default();
    for (action, _) in keymap::ACTION_NAMES {
        for spec in keymap.keys_for(*action) {
            let mut app = base();
            match action {
                // Down goes forward through what Up brought back.
                Action::HistoryNext => {
                    app.update(T0 + 99, key(KeyCode::Up));
                }
                // Yank puts back what a kill took.
                Action::Yank => {
                    app.update(T0 + 99, ctrl('w'));
                }
                // Scrolling down needs to be scrolled up.
                Action::ScrollDown | Action::PageDown | Action::ScrollBottom => {
                    app.update(T0 + 99, key(KeyCode::PageUp));
                }
                _ => {}
            }
            let before = observe(&app);
            let effects = app.update(T0 + 100, Msg::Key(KeyEvent::new(spec.code, spec.mods)));
            let after = observe(&app);
            if let Action::Jump(n) = action {
                let nth = app.conversations[usize::from(*n) - 1].id;
                assert_eq!(app.selected, Some(nth), "{spec}");
                continue;
            }
            let changed = before != after || !effects.is_empty();
            assert!(changed, "{spec} ({}) did nothing", action.name());
        }
    }
}

// ---------------------------------------------------------------------------------------
// Issue 12: floods of strangers, claims in content, plain text at a lanchat address

/// A message from `conversation`'s peer replying to `quote`, and what the app asks for.
fn reply_from(
    app: &mut App,
    now: i64,
    conversation: ConversationId,
    id: u64,
    text: &str,
    quote: Quote,
) -> Vec<Effect> {
    app.update(
        now,
        Msg::Net(Event::Message {
            conversation,
            id: MsgId(id),
            sent_at_ms: Some(now),
            text: text.into(),
            quote: Some(quote),
        }),
    )
}

fn message(app: &App, conversation: ConversationId, id: MsgId) -> Message {
    app.conversation(&conversation)
        .and_then(|c| c.messages.iter().find(|m| m.id == id))
        .cloned()
        .unwrap()
}

#[test]
fn a_quote_of_words_i_never_wrote_stays_the_senders_claim() {
    let mut app = new_app();
    peer_up(&mut app, T0, 1, "alice");
    peer_up(&mut app, T0, 2, "mallory");
    app.select(peer(1));
    let (to_alice, _, _) = send_text(&mut app, T0, "see you at 5");
    app.select(peer(2));
    // Mallory "quotes" me saying what I never said, under my key.
    let fake = Quote {
        id: MsgId(777),
        author: app.me.id,
        excerpt: "I agree to pay mallory 1000 EUR".into(),
    };
    let effects = reply_from(&mut app, T0 + 1, peer(2), 50, "deal then", fake.clone());
    // Nothing like it here: the store is asked; until it answers, it is mallory's claim.
    let check = Effect::CheckQuote {
        conversation: peer(2),
        reply: MsgId(50),
        author: Author::Peer(node(2)),
        quote: fake.clone(),
    };
    assert!(effects.contains(&check), "{effects:?}");
    assert!(!message(&app, peer(2), MsgId(50)).quote_found);
    app.update(
        T0 + 2,
        Msg::QuoteChecked {
            conversation: peer(2),
            reply: MsgId(50),
            author: Author::Peer(node(2)),
            excerpt: None,
        },
    );
    let m = message(&app, peer(2), MsgId(50));
    assert!(!m.quote_found);
    assert_eq!(m.quote, Some(fake));
    // My real message to alice, quoted in mallory's chat: not found there either.
    let cross = Quote {
        id: to_alice,
        author: app.me.id,
        excerpt: "see you at 5".into(),
    };
    reply_from(&mut app, T0 + 3, peer(2), 51, "right?", cross);
    assert!(!message(&app, peer(2), MsgId(51)).quote_found);
}

#[test]
fn a_quote_found_in_the_conversation_shows_the_original_words() {
    let mut app = new_app();
    peer_up(&mut app, T0, 1, "alice");
    let (mine, _, _) = send_text(&mut app, T0, "yes, at 12");
    // Alice quotes it with other words: the original's are shown, and no store is asked.
    let altered = Quote {
        id: mine,
        author: app.me.id,
        excerpt: "yes, at 3".into(),
    };
    let effects = reply_from(&mut app, T0 + 1, peer(1), 60, "ok", altered);
    assert!(
        !effects
            .iter()
            .any(|e| matches!(e, Effect::CheckQuote { .. })),
        "{effects:?}"
    );
    let m = message(&app, peer(1), MsgId(60));
    assert!(m.quote_found);
    assert_eq!(m.quote.unwrap().excerpt, "yes, at 12");
    // An original only the store holds: found there, it replaces the claim.
    let old = Quote {
        id: MsgId(5),
        author: node(1),
        excerpt: "what alice says she said".into(),
    };
    let effects = reply_from(&mut app, T0 + 2, peer(1), 61, "as I said", old.clone());
    assert!(effects.contains(&Effect::CheckQuote {
        conversation: peer(1),
        reply: MsgId(61),
        author: Author::Peer(node(1)),
        quote: old,
    }));
    app.update(
        T0 + 3,
        Msg::QuoteChecked {
            conversation: peer(1),
            reply: MsgId(61),
            author: Author::Peer(node(1)),
            excerpt: Some("what alice said".into()),
        },
    );
    let m = message(&app, peer(1), MsgId(61));
    assert!(m.quote_found);
    assert_eq!(m.quote.unwrap().excerpt, "what alice said");
}

#[test]
fn a_read_receipt_counts_only_from_the_conversations_peer() {
    let mut app = new_app();
    peer_up(&mut app, T0, 1, "alice");
    peer_up(&mut app, T0, 2, "bob");
    peer_up(&mut app, T0, 3, "mallory");
    app.select(peer(1));
    let (to_alice, _, _) = send_text(&mut app, T0, "for alice");
    app.select(peer(2));
    let (to_bob, _, _) = send_text(&mut app, T0, "for bob");
    // Delivered: settled, so no longer indexed as outgoing.
    state(&mut app, T0 + 1, to_alice, DeliveryState::Delivered);
    let receipt = |from: u8, ids: Vec<MsgId>| {
        Msg::Net(Event::Read {
            from: node(from),
            ids,
        })
    };
    // Mallory, then bob, claim to have read my message to alice (and mallory bob's).
    app.update(T0 + 2, receipt(3, vec![to_alice, to_bob]));
    app.update(T0 + 3, receipt(2, vec![to_alice]));
    assert_eq!(
        my_state(&app, peer(1), to_alice),
        Some(DeliveryState::Delivered)
    );
    assert_eq!(
        my_state(&app, peer(2), to_bob),
        Some(DeliveryState::Sending)
    );
    // Each one's own receipt counts.
    app.update(T0 + 4, receipt(1, vec![to_alice]));
    app.update(T0 + 4, receipt(2, vec![to_bob]));
    assert_eq!(my_state(&app, peer(1), to_alice), Some(DeliveryState::Read));
    assert_eq!(my_state(&app, peer(2), to_bob), Some(DeliveryState::Read));
}

#[test]
fn a_recall_of_an_old_message_with_a_forged_recent_time_is_refused() {
    let mut app = new_app();
    peer_up(&mut app, T0, 1, "alice");
    incoming(&mut app, T0, peer(1), 5, "I will pay you back on Friday");
    // Ten minutes later (on this machine's clock), a recall that claims to be sent a second
    // after the message.
    let later = T0 + 10 * 60 * 1000;
    app.update(
        later,
        Msg::Net(Event::Recall {
            from: node(1),
            id: MsgId(6),
            target: MsgId(5),
            sent_at_ms: T0 + 1000,
        }),
    );
    let m = message(&app, peer(1), MsgId(5));
    assert!(!m.recalled);
    assert_eq!(m.text, "I will pay you back on Friday");
    // Within two minutes of its arrival here, whatever the sender's clock says, it goes.
    incoming(&mut app, later, peer(1), 7, "typo");
    app.update(
        later + RECALL_WINDOW_MS,
        Msg::Net(Event::Recall {
            from: node(1),
            id: MsgId(8),
            target: MsgId(7),
            sent_at_ms: T0 - 3_600_000,
        }),
    );
    assert!(message(&app, peer(1), MsgId(7)).recalled);
}

#[test]
fn plain_text_at_a_lanchat_peers_address_is_not_sent_unless_the_user_says_plain() {
    let mut app = new_app();
    peer_up(&mut app, T0, 2, "bob");
    // Text "from" bob's own address, in the clear (anyone can spoof it).
    let bobs_addr = raw_addr("10.0.0.2:47475");
    let spoofed = ConversationId::Raw(bobs_addr);
    incoming(
        &mut app,
        T0,
        spoofed,
        1,
        "it's bob, my key broke, write here",
    );
    assert_eq!(app.lanchat_owner(&bobs_addr), Some(node(2)));
    app.select(spoofed);
    type_text(&mut app, T0, "the door code is 4711");
    assert_eq!(press(&mut app, T0, KeyCode::Enter), Vec::new());
    let e = error_text(&app);
    assert!(
        e.contains("bob") && e.contains("unencrypted") && e.contains("/plain"),
        "{e}"
    );
    assert_eq!(
        app.input.text(),
        "the door code is 4711",
        "nothing typed is lost"
    );
    assert_eq!(
        texts(&app, spoofed),
        vec!["it's bob, my key broke, write here"]
    );
    // Ctrl-R has nothing to resend either way, and says so without sending.
    assert!(app.update(T0, ctrl('r')).is_empty());
    // The user decides: /plain, and then it goes, unencrypted, as asked.
    app.input.take();
    type_text(&mut app, T0, "/plain");
    let ConversationId::Raw(at) = spoofed else {
        panic!("a plain-text conversation");
    };
    assert_eq!(
        press(&mut app, T0, KeyCode::Enter),
        vec![Effect::PlainPeer {
            addr: at,
            allowed: true
        }],
        "the endpoint is told once, as the user decides"
    );
    assert!(app.plain_ok.contains(&spoofed));
    let sent = send(&mut app, T0 + 1, "ok, plain then");
    assert!(matches!(sent, Effect::Send { to, .. } if to == spoofed));
    // /plain again: refused again.
    type_text(&mut app, T0, "/plain");
    assert_eq!(
        press(&mut app, T0, KeyCode::Enter),
        vec![Effect::PlainPeer {
            addr: at,
            allowed: false
        }]
    );
    type_text(&mut app, T0, "more");
    assert!(press(&mut app, T0, KeyCode::Enter).is_empty());
    assert!(is_error(&app));
    app.input.take();
    // A plain-text peer at an address no key is known at is written to as always.
    let script = ConversationId::Raw(raw_addr("10.9.9.9:5000"));
    incoming(&mut app, T0 + 2, script, 2, "hello from nc");
    app.select(script);
    assert!(matches!(send(&mut app, T0 + 3, "hi nc"), Effect::Send { to, .. } if to == script));
}

#[test]
fn y_copies_a_peers_text_only_as_the_screen_shows_it() {
    let mut app = new_app();
    peer_up(&mut app, T0, 1, "alice");
    // An OSC 52 that would set the clipboard again on paste into a terminal, a bidi
    // override, a screen clear and a zero-width space.
    let hostile = "pay \u{1b}]52;c;cm0gLXJmIH4=\u{7} now \u{202E}gnp.exe\u{1b}[2J\u{200B}";
    incoming(&mut app, T0, peer(1), 1, hostile);
    app.update(T0, alt(KeyCode::Up));
    let effects = press(&mut app, T0, KeyCode::Char('y'));
    let [Effect::Copy(copied)] = effects.as_slice() else {
        panic!("expected one copy, got {effects:?}");
    };
    for bad in ['\u{1b}', '\u{7}', '\u{202E}', '\u{200B}'] {
        assert!(
            !copied.contains(bad),
            "{bad:?} reached the clipboard: {copied:?}"
        );
    }
    assert_eq!(copied, &crate::text::sanitize(hostile));
    assert!(copied.contains("^[]52;c;"), "shown, harmless: {copied:?}");
    // My own words go as I wrote them.
    let (_, _, _) = send_text(&mut app, T0 + 1, "mine\tas typed");
    app.update(T0 + 1, alt(KeyCode::Up));
    assert_eq!(
        press(&mut app, T0 + 1, KeyCode::Char('y')),
        vec![Effect::Copy("mine\tas typed".into())]
    );
}

#[test]
fn many_strangers_fold_into_one_quiet_row_that_lists_them() {
    let mut app = new_app();
    app.notify = true;
    peer_up(&mut app, T0, 1, "alice");
    let stranger = |i: usize| ConversationId::Raw(sender(i));
    for i in 0..STRANGER_FOLD {
        let effects = incoming_effects(&mut app, T0 + i as i64, stranger(i), i as u64 + 1, "psst");
        assert!(
            matches!(effects.as_slice(), [Effect::Notify(_)]),
            "{effects:?}"
        );
    }
    // Up to the threshold, each has its own row.
    assert!(!app.strangers_folded());
    assert_eq!(app.sidebar.len(), STRANGER_FOLD + 1);
    app.ring = true;
    // More: one row for all, where the most recent of them would be.
    let n = STRANGER_FOLD + 4;
    for i in STRANGER_FOLD..n {
        let effects = incoming_effects(&mut app, T0 + i as i64, stranger(i), i as u64 + 1, "psst");
        if i == STRANGER_FOLD {
            assert!(
                effects.contains(&Effect::Bell),
                "the one that made them many still rang"
            );
        } else {
            // Folded strangers are quiet: no bell, no desktop notification.
            assert!(effects.is_empty(), "{effects:?}");
        }
    }
    assert!(app.strangers_folded());
    assert_eq!(app.strangers, n);
    assert_eq!(
        app.sidebar,
        vec![Row::Strangers, Row::Conversation(peer(1))]
    );
    assert_eq!(app.row_of(&stranger(3)), Some(0));
    // Alt-1 opens the list of strangers, most recent first; Enter opens one.
    app.update(
        T0 + 100,
        Msg::Key(KeyEvent::new(KeyCode::Char('1'), KeyModifiers::ALT)),
    );
    let sw = app.switcher.clone().unwrap();
    assert!(sw.strangers);
    let listed = app.switcher_list(&sw);
    assert_eq!(listed.len(), n);
    assert_eq!(listed[0], stranger(n - 1));
    press(&mut app, T0 + 100, KeyCode::Down);
    press(&mut app, T0 + 100, KeyCode::Enter);
    assert_eq!(app.selected, Some(stranger(n - 2)));
    assert_eq!(unread(&app, stranger(n - 2)), 0);
    // Tab leaves the Strangers row; Shift-Tab comes back to its most recent stranger.
    press(&mut app, T0 + 101, KeyCode::Tab);
    assert_eq!(app.selected, Some(peer(1)));
    press(&mut app, T0 + 101, KeyCode::BackTab);
    assert_eq!(app.selected, Some(stranger(n - 1)));
    // Answering one makes it a conversation of its own; the rest stay folded.
    send(&mut app, T0 + 102, "who is this?");
    assert!(!app.is_folded(&stranger(n - 1)));
    assert_eq!(
        app.sidebar,
        vec![
            Row::Conversation(stranger(n - 1)),
            Row::Strangers,
            Row::Conversation(peer(1))
        ]
    );
    assert_eq!(app.strangers, n - 1);
}

#[test]
fn strangers_says_so_when_there_are_none() {
    let mut app = new_app();
    peer_up(&mut app, T0, 1, "alice");
    type_text(&mut app, T0, "/strangers");
    press(&mut app, T0, KeyCode::Enter);
    assert_eq!(app.switcher, None);
    assert!(matches!(&app.notice, Some(Notice::Info(t)) if t.contains("No strangers")));
}

#[test]
fn restore_brings_back_no_more_than_the_caps() {
    let mut app = new_app();
    let summary =
        |id: ConversationId, activity: i64, pinned: bool, wrote: bool| ConversationSummary {
            id,
            unread: 1,
            last_activity_ms: activity,
            has_messages: true,
            draft: String::new(),
            pinned,
            muted: false,
            alias: None,
            last: None,
            mentioned: false,
            wrote,
        };
    // What an old store might give: pinned first, then a flood of strangers, then more.
    let mut rows = vec![summary(ConversationId::Raw(sender(0)), 1, true, false)];
    for i in 1..1000 {
        rows.push(summary(
            ConversationId::Raw(sender(i)),
            T0 - i as i64,
            false,
            i % 2 == 0,
        ));
    }
    app.update(
        T0,
        Msg::Restore {
            peers: Vec::new(),
            conversations: rows,
        },
    );
    assert_eq!(app.conversations.len(), MAX_CONVERSATIONS);
    assert_eq!(app.strangers, MAX_STRANGERS);
    assert_eq!(app.conversations[0].id, ConversationId::Raw(sender(0)));
    assert!(app.conversations[0].pinned);
}

#[test]
fn a_batch_ends_in_the_same_state_as_its_messages_one_by_one() {
    let batch: Vec<Msg> = (0..40u64)
        .map(|i| {
            Msg::Net(Event::Message {
                conversation: ConversationId::Raw(sender(i as usize % 25)),
                id: MsgId(i + 1),
                sent_at_ms: None,
                text: format!("m{i}"),
                quote: None,
            })
        })
        .collect();
    // One clock for both (a batch arrives at one time), so the same order is expected.
    let mut one_by_one = new_app();
    for m in &batch {
        let _ = one_by_one.update(T0 + 39, m.clone());
    }
    let mut together = new_app();
    let _ = together.update_all(T0 + 39, batch);
    assert_eq!(order(&together).len(), 25);
    assert_eq!(
        order(&together),
        order(&one_by_one),
        "the same sidebar order"
    );
    assert_eq!(together.sidebar, one_by_one.sidebar);
    assert_eq!(together.sidebar, vec![Row::Strangers]);
    assert_eq!(together.strangers, one_by_one.strangers);
    assert_eq!(together.strangers, 25);
    for id in order(&together) {
        let texts = |app: &App| -> Vec<String> {
            app.conversation(&id)
                .map(|c| c.messages.iter().map(|m| m.text.clone()).collect())
                .unwrap_or_default()
        };
        assert_eq!(texts(&together), texts(&one_by_one), "{id}");
    }
}

#[test]
fn a_conversation_the_start_did_not_load_still_scrolls_back_into_the_store() {
    // The start loads only the first conversations; a message in another one brings it
    // into memory, and its older history is still there to page through.
    let mut app = restored_app();
    let stored = Message {
        seq: Some(5000),
        ..Message::new(MsgId(77), Author::Peer(node(2)), T0, "remember me?".into())
    };
    app.update(T0, Msg::Received(stored, peer(2)));
    app.select(peer(2));
    let effects = press(&mut app, T0, KeyCode::PageUp);
    assert!(
        effects.contains(&Effect::Load {
            conversation: peer(2),
            page: Page::Before(5000)
        }),
        "{effects:?}"
    );
}

#[test]
fn a_plain_text_author_is_named_by_the_same_rule_as_its_conversation() {
    let mut app = new_app();
    let addr = raw_addr("10.0.0.9:9999");
    let conversation = ConversationId::Raw(addr);
    app.ensure_conversation(conversation);
    assert_eq!(app.author_name(&Author::Raw(addr)), "10.0.0.9:9999");
    if let Some(c) = app.conversation_mut(&conversation) {
        c.alias = Some("printer".into());
    }
    // My alias for the address, as its title (and the export) already showed it.
    assert_eq!(app.title(&conversation), "printer");
    assert_eq!(app.author_name(&Author::Raw(addr)), "printer");
}

#[test]
fn the_time_zone_comes_in_as_a_message_and_moves_the_day_separators() {
    let mut app = new_app();
    peer_up(&mut app, T0, 1, "alice");
    // 2024-01-01 23:30 UTC, and an hour later: past midnight in UTC.
    let late = 1_704_151_800_000;
    incoming(&mut app, late, peer(1), 1, "before midnight");
    incoming(&mut app, late + 3_600_000, peer(1), 2, "after");
    let height = |app: &App| {
        let c = app.conversation(&peer(1)).unwrap();
        layout::conversation_height(&app.heights, &c.messages, 40, app.utc_offset_s)
    };
    let in_utc = height(&app);
    let effects = app.update(
        late + 3_600_000,
        Msg::Clock {
            utc_offset_s: 2 * 3600,
        },
    );
    assert!(effects.is_empty(), "{effects:?}");
    assert_eq!(app.utc_offset_s, 2 * 3600);
    // At UTC+2 both are on January 2nd: no separator between them.
    assert_eq!(height(&app), in_utc - 1);
}

// ---------------------------------------------------------------------------------------
// Issue 13: a keymap per mode; typing in a mode never reaches the input

/// Every mode over the main screen, with how to open it (without touching the input) and
/// how to tell that it is open.
#[allow(clippy::type_complexity)]
fn modes_to_open() -> Vec<(&'static str, fn(&mut App), fn(&App) -> bool)> {
    vec![
        (
            "picked",
            |app| {
                app.update(T0 + 5, alt(KeyCode::Up));
            },
            |app| app.picked.is_some(),
        ),
        (
            "search",
            |app| {
                app.search = Some(SearchView {
                    query: "hello".into(),
                    hits: Some(Vec::new()),
                    selected: 0,
                });
            },
            |app| app.search.is_some(),
        ),
        (
            "switcher",
            |app| app.switcher = Some(Switcher::default()),
            |app| app.switcher.is_some(),
        ),
        (
            "strangers",
            |app| {
                app.switcher = Some(Switcher {
                    strangers: true,
                    ..Switcher::default()
                });
            },
            |app| app.switcher.is_some(),
        ),
        (
            "help",
            |app| {
                press(app, T0 + 5, KeyCode::F(1));
            },
            |app| app.show_help,
        ),
        (
            "verify",
            |app| app.verify = Some(node(1)),
            |app| app.verify.is_some(),
        ),
        (
            "peer_info",
            |app| {
                press(app, T0 + 5, KeyCode::F(2));
            },
            |app| app.show_info,
        ),
        (
            "chat_list",
            |app| {
                resize(app, 50, 20);
                app.update(T0 + 5, alt(KeyCode::Char('l')));
            },
            |app| app.sidebar_overlay,
        ),
    ]
}

#[test]
fn typing_in_any_mode_never_reaches_the_input() {
    // The issue's report: F1, `x y z`, Esc, and the input held `xyz`. Every mode is
    // tried with letters (lower and upper case), digits, punctuation, CJK and spaces that
    // no mode binds (y, for one, confirms in the verify overlay), then closed with Esc.
    let typed = "x w z X1!é 你";
    // Every mode over the main screen is tried: a new one must be added here.
    let mut tried: Vec<String> = modes_to_open()
        .iter()
        .map(|(name, ..)| format!("in_{name}"))
        .collect();
    let mut defined: Vec<String> = crate::keys::MODES
        .iter()
        .map(|d| d.name.to_owned())
        .collect();
    tried.sort();
    defined.sort();
    assert_eq!(tried, defined, "modes tried against modes defined");
    let mut failed = Vec::new();
    for (name, open, is_open) in modes_to_open() {
        let mut app = new_app();
        resize(&mut app, 80, 24);
        peer_up(&mut app, T0, 1, "alice");
        incoming(&mut app, T0 + 1, peer(1), 1, "hello");
        type_text(&mut app, T0 + 2, "draft");
        press(&mut app, T0 + 2, KeyCode::Left);
        let before = app.input.clone();
        open(&mut app);
        assert!(is_open(&app), "{name} did not open");
        for c in typed.chars() {
            let mods = if c.is_uppercase() {
                KeyModifiers::SHIFT
            } else {
                KeyModifiers::NONE
            };
            app.update(T0 + 6, Msg::Key(KeyEvent::new(KeyCode::Char(c), mods)));
        }
        let still_open = is_open(&app);
        press(&mut app, T0 + 7, KeyCode::Esc);
        if app.input != before || !still_open || is_open(&app) {
            failed.push(format!(
                "{name}: input {:?}, open after typing {still_open}, after Esc {}",
                app.input.text(),
                is_open(&app)
            ));
        }
    }
    assert!(failed.is_empty(), "{failed:#?}");
}

#[test]
fn text_typed_in_the_switcher_and_the_strangers_list_filters_them() {
    for strangers in [false, true] {
        let mut app = new_app();
        peer_up(&mut app, T0, 1, "alice");
        type_text(&mut app, T0, "draft");
        app.switcher = Some(Switcher {
            strangers,
            ..Switcher::default()
        });
        let mode = app.mode();
        assert_eq!(
            mode,
            if strangers {
                Mode::Strangers
            } else {
                Mode::Switcher
            }
        );
        type_text(&mut app, T0, "al i");
        app.update(T0, Msg::Paste("ce\n".into()));
        press(&mut app, T0, KeyCode::Backspace);
        assert_eq!(
            app.switcher.as_ref().map(|s| s.filter.as_str()),
            Some("al ic")
        );
        assert_eq!(app.input.text(), "draft");
    }
}

#[test]
fn a_paste_goes_nowhere_unseen() {
    let mut app = new_app();
    peer_up(&mut app, T0, 1, "alice");
    for (open, code) in [(true, KeyCode::F(1)), (false, KeyCode::F(2))] {
        press(&mut app, T0, code);
        app.update(T0, Msg::Paste("pasted".into()));
        // Under the help the input is hidden: nothing goes in; beside the peer info it
        // is in view, and the paste goes in as on the main screen.
        assert_eq!(app.input.is_empty(), open, "{code:?}");
        press(&mut app, T0, KeyCode::Esc);
    }
}

#[test]
fn the_mode_is_the_overlay_on_top_and_help_opens_over_the_others() {
    let mut app = new_app();
    peer_up(&mut app, T0, 1, "alice");
    assert_eq!(app.mode(), Mode::Base);
    app.verify = Some(node(1));
    assert_eq!(app.mode(), Mode::Verify);
    // F1 opens the help over the verify overlay, and Esc closes the help first.
    press(&mut app, T0, KeyCode::F(1));
    assert_eq!(app.mode(), Mode::Help);
    press(&mut app, T0, KeyCode::Esc);
    assert_eq!(app.mode(), Mode::Verify);
    // Ctrl-C quits from any mode that covers the screen.
    let effects = app.update(T0, ctrl('c'));
    assert_eq!(effects, vec![Effect::Quit]);
}

#[test]
fn mode_keys_are_rebindable_and_borrowed_keys_follow_the_main_screen() {
    use keymap::{KeySpec, ModeKeymaps};
    let mut app = new_app();
    peer_up(&mut app, T0, 1, "alice");
    incoming(&mut app, T0, peer(1), 1, "hello");
    // Copy moves to `k` in the picked mode: `y` is free (and dropped), `k` copies.
    let k = KeySpec::parse("k", true).unwrap();
    app.modes = ModeKeymaps::with(&[(Mode::Picked, Action::Copy, vec![k])]);
    app.update(T0, alt(KeyCode::Up));
    assert!(press(&mut app, T0, KeyCode::Char('y')).is_empty());
    assert_eq!(app.mode(), Mode::Picked);
    assert_eq!(
        press(&mut app, T0, KeyCode::Char('k')),
        vec![Effect::Copy("hello".into())]
    );
    // The help closes with whatever key dismisses on the main screen.
    let f9: KeySpec = "f9".parse().unwrap();
    app.keymap = Keymap::with(&[(Action::Dismiss, vec![f9])]);
    press(&mut app, T0, KeyCode::F(1));
    press(&mut app, T0, KeyCode::Esc);
    assert!(app.show_help, "Esc no longer closes");
    press(&mut app, T0, KeyCode::F(9));
    assert!(!app.show_help);
}

#[test]
fn help_lists_every_command_and_every_key_of_every_mode() {
    let mut app = new_app();
    // A changed binding shows in the help as it is now.
    let f9: keymap::KeySpec = "f9".parse().unwrap();
    app.keymap = Keymap::with(&[(Action::Dismiss, vec![f9])]);
    let help = app.help();
    let all: Vec<&(String, String)> = help.iter().flat_map(|s| &s.rows).collect();
    for c in commands::COMMANDS {
        let row = all
            .iter()
            .find(|(k, _)| k.split([' ', ',']).next() == Some(&format!("/{}", c.name)))
            .unwrap_or_else(|| panic!("/{} not in the help", c.name));
        assert_eq!(row.1, app.lang.text(c.help), "/{}", c.name);
        assert!(row.0.contains(&c.args(app.lang)), "/{}", c.name);
        for a in c.aliases {
            assert!(row.0.contains(&format!("/{a}")), "/{a}");
        }
    }
    // Every key of every mode appears in that mode's section, on the line of its action.
    let section = |title: Option<&str>| {
        help.iter()
            .find(|s| s.title.as_deref() == title)
            .map(|s| s.rows.clone())
            .unwrap()
    };
    let base = section(None);
    for (action, name) in keymap::ACTION_NAMES {
        // Alt-1 … Alt-9 is one line, by its ends.
        if matches!(action, Action::Jump(2..=8)) {
            continue;
        }
        for k in app.keymap.keys_for(*action) {
            assert!(
                base.iter().any(|(keys, _)| keys.contains(&k.to_string())),
                "{name}: {k}"
            );
        }
    }
    assert!(base.iter().any(|(keys, _)| keys.contains("F9")));
    for def in keymap::MODES {
        let rows = section(Some(&app.lang.text(def.title)));
        let map = app.modes.get(def.mode).unwrap();
        for action in map.bound_actions(&app.keymap) {
            let line = def
                .help
                .iter()
                .position(|(actions, _)| actions.contains(&action))
                .unwrap_or_else(|| panic!("{}: {action:?} has no line", def.name));
            for k in map.keys_for(action, &app.keymap) {
                assert!(
                    rows[line].0.contains(&k.to_string()),
                    "{}: {action:?} {k} not in {:?}",
                    def.name,
                    rows[line]
                );
            }
        }
        // Esc was rebound away from dismissing: no mode lists it as closing.
        let close = def
            .help
            .iter()
            .position(|(a, _)| a.contains(&Action::Close));
        if let Some(line) = close {
            assert!(
                !rows[line].0.contains("Esc"),
                "{}: {:?}",
                def.name,
                rows[line]
            );
            assert!(
                rows[line].0.contains("F9"),
                "{}: {:?}",
                def.name,
                rows[line]
            );
        }
    }
}

#[test]
fn tab_in_a_command_argument_completes_what_the_command_takes() {
    let mut app = new_app();
    peer_up(&mut app, T0, 1, "alice");
    peer_up(&mut app, T0, 2, "bob");
    let selected = app.selected;
    type_text(&mut app, T0, "/search al");
    press(&mut app, T0, KeyCode::Tab);
    assert_eq!(app.input.text(), "/search al", "nothing to complete");
    assert_eq!(app.selected, selected, "and no switching chats under it");
    app.input.take();
    let alice = app.peers[&node(1)].addr.to_string();
    type_text(&mut app, T0, &format!("/add {}", &alice[..alice.len() - 2]));
    press(&mut app, T0, KeyCode::Tab);
    assert_eq!(app.input.text(), format!("/add {alice}"));
}

// ---------------------------------------------------------------------------------------
// The interface in Simplified Chinese

#[test]
fn in_chinese_notices_and_notifications_are_chinese() {
    let mut app = new_app();
    app.lang = Lang::Zh;
    app.notify = true;
    peer_up(&mut app, T0, 1, "alice");
    peer_up(&mut app, T0, 2, "bob");
    app.input.set("/frobnicate now");
    press(&mut app, T0, KeyCode::Enter);
    assert_eq!(error_text(&app), "未知命令 /frobnicate；按 F1 查看命令列表");
    app.input.set("/add");
    press(&mut app, T0, KeyCode::Enter);
    assert_eq!(error_text(&app), "用法：/add 主机:端口");
    // A recall of my own message, and one refused with its reason.
    send(&mut app, T0, "hi");
    app.input.set("/recall");
    let effects = press(&mut app, T0 + 1, KeyCode::Enter);
    assert!(matches!(effects.as_slice(), [Effect::Recall { .. }]));
    assert_eq!(app.notice, Some(Notice::Info("你撤回了一条消息".into())));
    send(&mut app, T0, "again");
    app.input.set("/recall");
    press(&mut app, T0 + 3 * 60_000, KeyCode::Enter);
    assert_eq!(error_text(&app), "只能撤回 2 分钟内发送的消息");
    // A plural in English is none in Chinese.
    app.update(T0, ctrl('r'));
    assert_eq!(
        app.notice,
        Some(Notice::Info("这里没有发送失败的消息".into()))
    );
    // Notifications name the sender in Chinese words (the name itself is the peer's).
    let mut effects = incoming_effects(&mut app, T0 + 5, peer(2), 7, "hey @me");
    rang(&mut effects);
    assert_eq!(effects, vec![Effect::Notify("bob 提到了你".into())]);
    let mut effects = incoming_effects(&mut app, T0 + 6, peer(2), 8, "plain");
    rang(&mut effects);
    assert_eq!(effects, vec![Effect::Notify("bob：新消息".into())]);
}

#[test]
fn in_chinese_the_help_and_the_commands_are_translated_and_fit_80_columns() {
    let mut app = new_app();
    let en = app.help();
    let en_lines = app.help_lines();
    app.lang = Lang::Zh;
    let zh = app.help();
    let zh_lines = app.help_lines();
    let han = |s: &str| s.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c));
    // The same sections and rows, with the same keys, and every word in Chinese.
    assert_eq!(en.len(), zh.len());
    for (e, z) in en.iter().zip(&zh) {
        assert_eq!(e.title.is_some(), z.title.is_some());
        if let Some(title) = &z.title {
            assert!(han(title), "{title}");
        }
        assert_eq!(e.rows.len(), z.rows.len());
        for ((ek, ew), (zk, zw)) in e.rows.iter().zip(&z.rows) {
            assert!(han(zw), "not translated: {zw:?} ({ew:?})");
            // Keys are the same in both languages; only command arguments and //text
            // are words.
            if !zk.starts_with('/') {
                assert_eq!(ek, zk);
            }
        }
    }
    // Every line but the blank ones differs from its English twin.
    assert_eq!(en_lines.len(), zh_lines.len());
    for (e, z) in en_lines.iter().zip(&zh_lines) {
        if !e.is_empty() {
            assert_ne!(e, z);
        }
        // The help box at 80 columns has 74 for its text.
        assert!(
            crate::text::width(z) <= 74,
            "{} columns: {z}",
            crate::text::width(z)
        );
    }
    let pin = zh_lines
        .iter()
        .find(|l| l.starts_with("/pin "))
        .expect("/pin in the help");
    assert!(pin.ends_with("置顶此会话（再次执行即取消）"), "{pin}");
    assert!(zh_lines.iter().any(|l| l == "本帮助："), "{zh_lines:?}");
    assert!(zh_lines.iter().any(|l| l.starts_with("/add 主机:端口")));
}

#[test]
fn in_chinese_the_banner_over_a_changed_key_is_chinese() {
    let mut app = new_app();
    app.lang = Lang::Zh;
    peer_up(&mut app, T0, 1, "alice");
    app.update(
        T0,
        Msg::Net(Event::Trust {
            peer: node(2),
            trust: proto::Trust::Changed { previous: node(1) },
            same_name_as: None,
        }),
    );
    app.select(peer(1));
    let banner = app.banner().expect("a banner");
    assert!(
        banner.starts_with("⚠ alice 的密钥已变更：现为 "),
        "{banner}"
    );
    app.input.set("hi");
    press(&mut app, T0, KeyCode::Enter);
    assert!(error_text(&app).starts_with("对方身份已变更"));
}

#[path = "tests_files.rs"]
mod files;
