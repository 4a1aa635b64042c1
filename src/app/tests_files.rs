//! File bubbles in the model: offers in and out, answers by command and by key, progress,
//! the sidebar and status totals, pasted paths and path completion.

use super::*;
use crate::app::files::{FileChange, FileNews};
use crate::message::FileCard;
use crate::proto::files::{Direction, Problem, TransferId, TransferState};
use std::path::PathBuf;

fn tid(n: u8) -> TransferId {
    TransferId([n; 16])
}

fn card(n: u8, direction: Direction, state: TransferState) -> FileCard {
    FileCard {
        id: tid(n),
        name: format!("file{n}.pdf"),
        size: 10_000_000,
        direction,
        state,
        done: 0,
        path: None,
        problem: None,
        preview_rows: 0,
    }
}

/// A file bubble arriving from the store, by peer `p` or by me.
fn bubble(app: &mut App, now: i64, p: u8, msg: u64, card: FileCard) -> Vec<Effect> {
    let author = match card.direction {
        Direction::In => Author::Peer(node(p)),
        Direction::Out => Author::Me,
    };
    let mut m = Message::new(MsgId(msg), author, now, card.name.clone());
    m.seq = Some(i64::try_from(msg).unwrap());
    m.file = Some(card);
    app.update(
        now,
        Msg::FileMessage {
            conversation: peer(p),
            message: m,
        },
    )
}

/// Alice online, her chat open, with one file bubble (message 10) in it.
fn alice_with(card: FileCard) -> App {
    let mut app = new_app();
    peer_up(&mut app, T0, 1, "alice");
    bubble(&mut app, T0, 1, 10, card);
    app
}

fn news(app: &mut App, now: i64, n: u8, about: Option<(u8, Direction)>, change: FileChange) {
    app.update(
        now,
        Msg::File(FileNews {
            id: tid(n),
            about: about.map(|(p, d)| (node(p), d)),
            change,
        }),
    );
}

/// A transfer moved to `state` (with `problem`, and where an accepted file goes).
fn state(
    app: &mut App,
    now: i64,
    n: u8,
    about: Option<(u8, Direction)>,
    state: TransferState,
    problem: Option<Problem>,
    path: Option<PathBuf>,
) {
    news(
        app,
        now,
        n,
        about,
        FileChange::State {
            state,
            problem,
            path,
        },
    );
}

fn shown_card(app: &App, p: u8, n: u8) -> FileCard {
    app.conversation(&peer(p))
        .unwrap()
        .messages
        .iter()
        .find_map(|m| m.file.clone().filter(|c| c.id == tid(n)))
        .expect("the bubble is in memory")
}

#[test]
fn an_offer_to_me_is_a_bubble_counted_unread_and_answered_by_command() {
    let mut app = new_app();
    app.ring = true;
    peer_up(&mut app, T0, 1, "alice");
    peer_up(&mut app, T0, 2, "bob");
    assert_eq!(app.selected, Some(peer(1)));
    // Out of view: unread, and the bell.
    let mut effects = bubble(
        &mut app,
        T0 + 1,
        2,
        10,
        card(1, Direction::In, TransferState::Offered),
    );
    assert!(rang(&mut effects));
    assert_eq!(unread(&app, peer(2)), 1);
    assert_eq!(texts(&app, peer(2)), ["file1.pdf"]);
    // Nothing to answer here (alice's chat), whatever is offered elsewhere.
    assert!(send_cmd(&mut app, T0 + 2, "/accept").is_empty());
    assert!(error_text(&app).contains("waiting for an answer"));
    app.input.take();
    app.update(
        T0 + 3,
        Msg::Key(KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE)),
    );
    assert_eq!(app.selected, Some(peer(2)));
    assert_eq!(
        send_cmd(&mut app, T0 + 4, "/accept ~/Downloads/in\\ here"),
        [Effect::AcceptFile {
            id: tid(1),
            dir: Some("~/Downloads/in here".into())
        }]
    );
    assert!(app.input.is_empty());
    assert_eq!(app.notice, None, "a success leaves no stale error");
    // A second offer: /decline answers the newest waiting one.
    bubble(
        &mut app,
        T0 + 5,
        2,
        11,
        card(2, Direction::In, TransferState::Offered),
    );
    assert_eq!(
        send_cmd(&mut app, T0 + 6, "/decline"),
        [Effect::DeclineFile(tid(2))]
    );
}

/// Types `text` and presses Enter: the effects.
fn send_cmd(app: &mut App, now: i64, text: &str) -> Vec<Effect> {
    app.input.set(text);
    press(app, now, KeyCode::Enter)
}

#[test]
fn keys_on_a_picked_bubble_accept_decline_cancel_and_open() {
    let mut app = alice_with(card(1, Direction::In, TransferState::Offered));
    let alt_up = Msg::Key(KeyEvent::new(KeyCode::Up, KeyModifiers::ALT));
    app.update(T0, alt_up.clone());
    assert_eq!(app.picked, Some(MsgId(10)));
    assert_eq!(
        press(&mut app, T0, KeyCode::Char('a')),
        [Effect::AcceptFile {
            id: tid(1),
            dir: None
        }]
    );
    assert_eq!(app.picked, None);
    // It runs now: x cancels it.
    state(
        &mut app,
        T0 + 1,
        1,
        Some((1, Direction::In)),
        TransferState::Accepted,
        None,
        Some(PathBuf::from("/dl/file1.pdf")),
    );
    state(
        &mut app,
        T0 + 1,
        1,
        Some((1, Direction::In)),
        TransferState::Running,
        None,
        Some(PathBuf::from("/dl/file1.pdf")),
    );
    app.update(T0 + 2, alt_up.clone());
    assert_eq!(
        press(&mut app, T0 + 2, KeyCode::Char('x')),
        [Effect::CancelFile(tid(1))]
    );
    // Done: o opens where it was saved.
    news(
        &mut app,
        T0 + 3,
        1,
        None,
        FileChange::Done {
            path: PathBuf::from("/dl/file1 (1).pdf"),
        },
    );
    app.update(T0 + 4, alt_up.clone());
    assert_eq!(
        press(&mut app, T0 + 4, KeyCode::Char('o')),
        [Effect::OpenFile(PathBuf::from("/dl/file1 (1).pdf"))]
    );
    // On a text message the file keys say so and do nothing.
    incoming(&mut app, T0 + 5, peer(1), 11, "hello");
    app.update(T0 + 6, alt_up);
    assert!(press(&mut app, T0 + 6, KeyCode::Char('a')).is_empty());
    assert!(is_error(&app));
}

#[test]
fn progress_moves_the_bubble_the_sidebar_and_the_totals_and_done_ends_it() {
    let mut app = alice_with(card(1, Direction::Out, TransferState::Offered));
    assert_eq!(app.conversation_transfer(&peer(1)), None, "not running yet");
    for (i, done) in [0u64, 2_000_000, 4_000_000].into_iter().enumerate() {
        news(
            &mut app,
            T0 + 1000 * i as i64,
            1,
            Some((1, Direction::Out)),
            FileChange::Progress {
                done,
                size: 10_000_000,
            },
        );
    }
    let c = shown_card(&app, 1, 1);
    assert_eq!((c.state, c.done), (TransferState::Running, 4_000_000));
    assert_eq!(
        app.conversation_transfer(&peer(1)),
        Some((Direction::Out, 40))
    );
    let live = app.transfer_live(&tid(1)).unwrap();
    assert_eq!(live.rate(), Some(2_000_000.0));
    assert_eq!(live.eta_s(), Some(3));
    let totals = app.transfer_totals().unwrap();
    assert_eq!(
        (totals.running, totals.done, totals.size),
        (1, 4_000_000, 10_000_000)
    );
    // The peer's disk fills: the bubble says so, and it waits.
    state(
        &mut app,
        T0 + 3000,
        1,
        Some((1, Direction::Out)),
        TransferState::Accepted,
        Some(Problem::PeerDiskFull),
        None,
    );
    let c = shown_card(&app, 1, 1);
    assert_eq!(c.problem(), Some(Problem::PeerDiskFull));
    assert_eq!(app.transfer_totals(), None, "nothing flows while it waits");
    news(
        &mut app,
        T0 + 4000,
        1,
        None,
        FileChange::Done {
            path: PathBuf::from("/src/file1.pdf"),
        },
    );
    let c = shown_card(&app, 1, 1);
    assert_eq!(
        (c.state, c.done, c.problem),
        (TransferState::Done, 10_000_000, None)
    );
    assert!(app.transfers().is_empty());
}

#[test]
fn a_transfer_whose_chat_is_not_loaded_still_shows_in_the_sidebar() {
    let mut app = new_app();
    peer_up(&mut app, T0, 1, "alice");
    news(
        &mut app,
        T0,
        9,
        Some((1, Direction::In)),
        FileChange::Progress { done: 5, size: 10 },
    );
    assert_eq!(
        app.conversation_transfer(&peer(1)),
        Some((Direction::In, 50))
    );
    state(
        &mut app,
        T0 + 1,
        9,
        None,
        TransferState::Cancelled,
        Some(Problem::PeerCancelled),
        None,
    );
    assert_eq!(app.conversation_transfer(&peer(1)), None);
}

#[test]
fn a_late_or_repeated_state_cannot_undo_a_finished_bubble() {
    let mut app = alice_with(card(1, Direction::In, TransferState::Done));
    state(
        &mut app,
        T0 + 1,
        1,
        Some((1, Direction::In)),
        TransferState::Running,
        None,
        None,
    );
    assert_eq!(shown_card(&app, 1, 1).state, TransferState::Done);
}

#[test]
fn send_goes_to_lanchat_peers_with_shell_like_paths() {
    let mut app = new_app();
    peer_up(&mut app, T0, 1, "alice");
    assert_eq!(
        send_cmd(
            &mut app,
            T0,
            r#"/send ~/a\ b.png "c d.txt" file:///tmp/e%20f"#
        ),
        [Effect::SendFiles {
            to: peer(1),
            paths: vec!["~/a b.png".into(), "c d.txt".into(), "/tmp/e f".into()],
        }]
    );
    assert!(send_cmd(&mut app, T0, "/send").is_empty());
    assert!(error_text(&app).contains("/send"));
    app.input.take();
    // Not to a plain-text peer: it could not take it, and nothing would be encrypted.
    incoming(
        &mut app,
        T0,
        ConversationId::Raw(raw_addr("10.0.0.9:5000")),
        1,
        "hi",
    );
    app.select(ConversationId::Raw(raw_addr("10.0.0.9:5000")));
    assert_eq!(
        app.selected,
        Some(ConversationId::Raw(raw_addr("10.0.0.9:5000")))
    );
    assert_eq!(send_cmd(&mut app, T0, "/send x"), []);
    assert!(error_text(&app).contains("lanchat peers"));
}

#[test]
fn a_pasted_file_path_becomes_a_send_to_confirm_and_otherwise_is_text() {
    let mut app = new_app();
    peer_up(&mut app, T0, 1, "alice");
    app.update(T0, Msg::PastedFile("/tmp/my photo.png".into()));
    assert_eq!(app.input.text(), r"/send /tmp/my\ photo.png");
    assert_eq!(
        press(&mut app, T0, KeyCode::Enter),
        [Effect::SendFiles {
            to: peer(1),
            paths: vec!["/tmp/my photo.png".into()],
        }]
    );
    // Mid-sentence it is just text.
    type_text(&mut app, T0, "see ");
    app.update(T0, Msg::PastedFile("/tmp/x.png".into()));
    assert_eq!(app.input.text(), "see /tmp/x.png");
}

#[test]
fn tab_in_a_path_asks_the_runtime_and_applies_only_a_fresh_answer() {
    let mut app = new_app();
    peer_up(&mut app, T0, 1, "alice");
    type_text(&mut app, T0, r"/send /tmp/my\ fi");
    assert_eq!(
        press(&mut app, T0, KeyCode::Tab),
        [Effect::CompletePath {
            start: 6,
            word: "/tmp/my fi".into()
        }]
    );
    app.update(
        T0,
        Msg::PathCompletions {
            start: 6,
            word: "/tmp/my fi".into(),
            candidates: vec!["/tmp/my files/".into()],
        },
    );
    assert_eq!(app.input.text(), r"/send /tmp/my\ files/");
    // Several: what they share, and a list.
    app.update(
        T0,
        Msg::PathCompletions {
            start: 6,
            word: "/tmp/my files/".into(),
            candidates: vec![
                "/tmp/my files/report-1.pdf".into(),
                "/tmp/my files/report-2.pdf".into(),
            ],
        },
    );
    assert_eq!(app.input.text(), r"/send /tmp/my\ files/report-");
    assert!(matches!(&app.notice, Some(Notice::Info(t)) if t == "report-1.pdf  report-2.pdf"));
    // An answer for what was typed before is dropped.
    type_text(&mut app, T0, "9");
    app.update(
        T0,
        Msg::PathCompletions {
            start: 6,
            word: "/tmp/my files/report-".into(),
            candidates: vec!["/tmp/my files/report-1.pdf".into()],
        },
    );
    assert_eq!(app.input.text(), r"/send /tmp/my\ files/report-9");
}

#[test]
fn the_checking_notice_goes_when_the_offer_is_made_and_a_failed_one_says_why() {
    let mut app = new_app();
    peer_up(&mut app, T0, 1, "alice");
    news(
        &mut app,
        T0,
        1,
        None,
        FileChange::Preparing {
            name: "big.iso".into(),
            done: 0,
            size: 100,
        },
    );
    assert!(matches!(&app.notice, Some(Notice::Info(t)) if t.contains("big.iso")));
    bubble(
        &mut app,
        T0 + 1,
        1,
        10,
        card(1, Direction::Out, TransferState::Offered),
    );
    assert_eq!(app.notice, None);
    news(
        &mut app,
        T0 + 2,
        2,
        None,
        FileChange::Failed {
            problem: Problem::SourceUnreadable,
        },
    );
    assert!(error_text(&app).contains("cannot read"));
}

fn picture(n: u8, direction: Direction, state: TransferState) -> FileCard {
    FileCard {
        name: format!("photo{n}.png"),
        path: Some(PathBuf::from(format!("/pics/photo{n}.png"))),
        ..card(n, direction, state)
    }
}

#[test]
fn a_picture_is_previewed_once_it_is_here_and_its_bubble_grows_by_the_preview() {
    let mut app = new_app();
    peer_up(&mut app, T0, 1, "alice");
    // Offered to me: not on my disk yet, no preview.
    let effects = bubble(
        &mut app,
        T0,
        1,
        10,
        FileCard {
            path: None,
            ..picture(1, Direction::In, TransferState::Offered)
        },
    );
    assert!(!effects.iter().any(|e| matches!(e, Effect::Preview { .. })));
    // Received and verified: now it is asked for.
    let effects = app.update(
        T0 + 1,
        Msg::File(FileNews {
            id: tid(1),
            about: None,
            change: FileChange::Done {
                path: PathBuf::from("/dl/photo1.png"),
            },
        }),
    );
    assert_eq!(
        effects,
        [Effect::Preview {
            id: tid(1),
            path: PathBuf::from("/dl/photo1.png")
        }]
    );
    // Mine: previewed at once, from my own file. A document is not.
    let effects = bubble(
        &mut app,
        T0 + 3,
        1,
        11,
        picture(2, Direction::Out, TransferState::Offered),
    );
    assert!(effects.contains(&Effect::Preview {
        id: tid(2),
        path: PathBuf::from("/pics/photo2.png")
    }));
    let effects = bubble(
        &mut app,
        T0 + 4,
        1,
        12,
        FileCard {
            path: Some("/docs/a.pdf".into()),
            ..card(3, Direction::Out, TransferState::Offered)
        },
    );
    assert!(!effects.iter().any(|e| matches!(e, Effect::Preview { .. })));
    // Asked once only, however often it shows up again.
    let effects = app.update(
        T0 + 5,
        Msg::File(FileNews {
            id: tid(1),
            about: None,
            change: FileChange::Done {
                path: PathBuf::from("/dl/photo1.png"),
            },
        }),
    );
    assert!(effects.is_empty(), "{effects:?}");
    // Ready: the bubble keeps the preview's rows, within the bound.
    app.update(
        T0 + 7,
        Msg::PreviewReady {
            id: tid(1),
            rows: 99,
        },
    );
    assert_eq!(
        shown_card(&app, 1, 1).preview_rows,
        crate::app::files::PREVIEW_ROWS
    );
}

#[test]
fn a_preview_growing_below_the_view_does_not_move_what_is_read() {
    let mut app = new_app();
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
    bubble(
        &mut app,
        T0 + 50,
        1,
        10,
        picture(1, Direction::Out, TransferState::Offered),
    );
    incoming(&mut app, T0 + 51, peer(1), 200, "after the picture");
    // Scrolled up past the picture: it is below the view.
    app.scroll = 12;
    app.update(
        T0 + 60,
        Msg::PreviewReady {
            id: tid(1),
            rows: 6,
        },
    );
    assert_eq!(app.scroll, 18, "the view stays on the same lines");
    // Scrolled to the bottom, nothing to hold.
    app.scroll = 0;
    bubble(
        &mut app,
        T0 + 70,
        1,
        11,
        picture(2, Direction::Out, TransferState::Offered),
    );
    app.update(
        T0 + 71,
        Msg::PreviewReady {
            id: tid(2),
            rows: 6,
        },
    );
    assert_eq!(app.scroll, 0);
}

#[test]
fn files_go_to_ip_messenger_peers_too_over_their_own_protocol() {
    use std::net::Ipv4Addr;
    let mut app = new_app();
    let ip = Ipv4Addr::new(192, 168, 1, 50);
    let who = ConversationId::Ipmsg(ip);
    incoming(&mut app, T0, who, 1, "你好");
    app.select(who);
    assert_eq!(
        send_cmd(&mut app, T0, "/send /tmp/a.txt"),
        [Effect::SendFiles {
            to: who,
            paths: vec!["/tmp/a.txt".into()],
        }]
    );
}
