//! The README's screenshots, drawn by the real `ui::draw` on a test backend and written as SVG
//! (colours, bold, wide characters in their two columns) to `assets/screenshots/`.
//!
//! The test fails when a file there differs from what the code draws now, so the pictures
//! never go stale. `LANCHAT_BLESS=1 cargo test --test screenshots` rewrites them.

#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(unused_must_use)]

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use lanchat::app::{App, Me, Msg};
use lanchat::i18n::Lang;
use lanchat::proto::{ConversationId, DeliveryState, Event, MsgId, NodeId, PeerView, Trust};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier};
use std::fmt::Write as _;
use std::path::Path;
use unicode_width::UnicodeWidthStr;

/// 2026-12-02 09:00 in UTC+8 (01:00 UTC), a Wednesday morning.
const T0: i64 = 1_796_173_200_000;
const MINUTE: i64 = 60_000;

fn node(n: u8) -> NodeId {
    NodeId([n; 32])
}

fn peer_up(app: &mut App, now: i64, n: u8, name: &str, online: bool) {
    app.update(
        now,
        Msg::Net(Event::PeerUp(PeerView {
            id: node(n),
            name: name.into(),
            addr: format!("192.168.1.{n}:47475").parse().unwrap(),
            online,
        })),
    );
}

fn trust(app: &mut App, now: i64, n: u8, trust: Trust) {
    app.update(
        now,
        Msg::Net(Event::Trust {
            peer: node(n),
            trust,
            same_name_as: None,
        }),
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

fn key(app: &mut App, now: i64, code: KeyCode, mods: KeyModifiers) {
    app.update(now, Msg::Key(KeyEvent::new(code, mods)));
}

/// Sends `text` to the selected conversation, and says it reached `state`.
fn send(app: &mut App, now: i64, text: &str, state: DeliveryState) {
    app.input.set(text);
    let effects = app.update(
        now,
        Msg::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)),
    );
    let id = effects
        .iter()
        .find_map(|e| match e {
            lanchat::app::Effect::Send { id, .. } => Some(*id),
            _ => None,
        })
        .expect("a send");
    app.update(now, Msg::Net(Event::State { id, state }));
}

/// An afternoon in an office: a team on the LAN, one plain-text script, a conversation open.
fn office(lang: Lang, width: u16, height: u16) -> App {
    let mut app = App::new(
        Me {
            id: NodeId([0xEE; 32]),
            name: "lin".into(),
            listen: "192.168.1.10:47475".parse().unwrap(),
            discovery: true,
        },
        1,
    );
    app.lang = lang;
    app.update(
        T0,
        Msg::Clock {
            utc_offset_s: 8 * 3600,
        },
    );
    app.update(T0, Msg::Resize { width, height });
    let mut now = T0 - 26 * 60 * MINUTE;
    peer_up(&mut app, now, 21, "张伟", true);
    peer_up(&mut app, now, 22, "alice", true);
    peer_up(&mut app, now, 23, "王芳", false);
    peer_up(&mut app, now, 24, "bob", true);
    trust(&mut app, now, 21, Trust::Verified);
    trust(&mut app, now, 22, Trust::Verified);
    trust(&mut app, now, 23, Trust::Unverified);
    trust(&mut app, now, 24, Trust::Verified);
    let zhang = ConversationId::Peer(node(21));
    let alice = ConversationId::Peer(node(22));
    let wang = ConversationId::Peer(node(23));
    let bob = ConversationId::Peer(node(24));
    let script = ConversationId::Raw("192.168.1.77:9999".parse().unwrap());
    incoming(&mut app, now, wang, 1, "周五的会改到下午三点");
    now = T0 - 3 * 60 * MINUTE;
    incoming(&mut app, now, script, 2, "build #1432 passed");
    incoming(&mut app, now + MINUTE, bob, 3, "lunch at 12?");
    incoming(
        &mut app,
        now + 2 * MINUTE,
        alice,
        4,
        "the release notes are in the wiki",
    );
    now = T0 - 40 * MINUTE;
    incoming(&mut app, now, zhang, 5, "早！今天的站会几点开始？");
    // Open the conversation with 张伟 and answer.
    app.select(zhang);
    send(&mut app, now + MINUTE, "十点，老地方", DeliveryState::Read);
    incoming(
        &mut app,
        now + 2 * MINUTE,
        zhang,
        6,
        "好的，我把测试报告也带上",
    );
    send(
        &mut app,
        now + 3 * MINUTE,
        "Great, thanks! I'll bring the LAN diagram.",
        DeliveryState::Delivered,
    );
    incoming(&mut app, T0 - 5 * MINUTE, zhang, 7, "会议室B已经订好了");
    incoming(&mut app, T0 - MINUTE, bob, 8, "and coffee after?");
    app.update(
        T0,
        Msg::Clock {
            utc_offset_s: 8 * 3600,
        },
    );
    app
}

/// The office, with files in the chat with alice: one she sent, saved; one of mine on its
/// way; one she offers, waiting for an answer.
fn files(lang: Lang, width: u16, height: u16) -> App {
    use lanchat::app::files::{FileChange, FileNews};
    use lanchat::message::{Author, FileCard, Message};
    use lanchat::proto::files::{Direction, TransferId, TransferState};
    let mut app = office(lang, width, height);
    let alice = ConversationId::Peer(node(22));
    app.select(alice);
    let bubble = |app: &mut App, at: i64, id: u64, name: &str, size: u64, dir, state| {
        let author = match dir {
            Direction::In => Author::Peer(node(22)),
            Direction::Out => Author::Me,
        };
        let mut m = Message::new(MsgId(id), author, at, name.into());
        m.seq = Some(i64::try_from(id).unwrap());
        m.file = Some(FileCard {
            id: TransferId([u8::try_from(id).unwrap(); 16]),
            name: name.into(),
            size,
            direction: dir,
            state,
            done: if state == TransferState::Done {
                size
            } else {
                0
            },
            path: (state == TransferState::Done)
                .then(|| "/home/lin/Downloads/Q3 季度报告.pdf".into()),
            problem: None,
            preview_rows: 0,
        });
        app.update(
            at,
            Msg::FileMessage {
                conversation: alice,
                message: m,
            },
        );
    };
    bubble(
        &mut app,
        T0 - 30 * MINUTE,
        40,
        "Q3 季度报告.pdf",
        2_480_000,
        Direction::In,
        TransferState::Done,
    );
    bubble(
        &mut app,
        T0 - 3 * MINUTE,
        41,
        "lan-diagram.png",
        48_300_000,
        Direction::Out,
        TransferState::Accepted,
    );
    for (i, done) in [18_000_000u64, 30_400_000].into_iter().enumerate() {
        app.update(
            T0 - 2000 + 2000 * i as i64,
            Msg::File(FileNews {
                id: TransferId([41; 16]),
                about: Some((node(22), Direction::Out)),
                change: FileChange::Progress {
                    done,
                    size: 48_300_000,
                },
            }),
        );
    }
    bubble(
        &mut app,
        T0 - MINUTE,
        42,
        "team-offsite.mp4",
        734_003_200,
        Direction::In,
        TransferState::Offered,
    );
    app
}

/// The office, with a group: 午饭群, which 张伟 made with lin, alice, 王芳 and bob; a change,
/// a mention of lin, lin's answer with its receipts, and who has read it (F2 on it).
fn group(lang: Lang, width: u16, height: u16, read_by: bool) -> App {
    use lanchat::app::groups::{GroupInfo, GroupNews, ReadByAnswer};
    use lanchat::message::{Author, Change, GroupOrder, GroupPart, Message, Tally};
    use lanchat::proto::group::GroupId;
    let mut app = office(lang, width, height);
    let g = GroupId([0x5a; 16]);
    let me = app.me.id;
    app.update(
        T0,
        Msg::Group(GroupNews::Info {
            group: g,
            info: GroupInfo {
                name: "午饭群".into(),
                members: vec![node(21), node(22), node(23), node(24), me],
                owner: Some(node(21)),
                member: true,
            },
        }),
    );
    app.select(ConversationId::Group(g));
    let post = |app: &mut App, lamport: u64, by: NodeId, at: i64, text: &str, change| {
        let author = if by == me {
            Author::Me
        } else {
            Author::Peer(by)
        };
        let mut m = Message::new(MsgId(100 + lamport), author, at, text.into());
        m.seq = Some(100 + lamport as i64);
        m.group = Some(Box::new(GroupPart {
            order: GroupOrder {
                lamport,
                author: by,
                id: MsgId(100 + lamport),
            },
            change,
            all: false,
            tally: (by == me).then_some(Tally {
                delivered: 4,
                read: 2,
                of: 4,
            }),
        }));
        app.update(
            T0,
            Msg::Group(GroupNews::Shown {
                group: g,
                message: m,
            }),
        );
    };
    post(
        &mut app,
        1,
        node(21),
        T0 - 20 * MINUTE,
        "午饭群",
        Some(Change::Created {
            name: "午饭群".into(),
            members: vec![node(22), node(23), node(24), me],
        }),
    );
    post(
        &mut app,
        2,
        node(22),
        T0 - 18 * MINUTE,
        "noodles or dumplings?",
        None,
    );
    post(
        &mut app,
        3,
        node(21),
        T0 - 17 * MINUTE,
        "饺子！@lin 你呢？",
        None,
    );
    post(
        &mut app,
        4,
        me,
        T0 - 15 * MINUTE,
        "dumplings 👍 12:15 downstairs",
        None,
    );
    post(
        &mut app,
        5,
        node(23),
        T0 - 12 * MINUTE,
        "",
        Some(Change::Left),
    );
    if read_by {
        app.update(T0, Msg::Key(KeyEvent::new(KeyCode::Up, KeyModifiers::ALT)));
        app.update(T0, Msg::Key(KeyEvent::new(KeyCode::Up, KeyModifiers::NONE)));
        app.update(
            T0,
            Msg::Key(KeyEvent::new(KeyCode::F(2), KeyModifiers::NONE)),
        );
        app.update(
            T0,
            Msg::Group(GroupNews::ReadBy {
                group: g,
                id: MsgId(104),
                answer: ReadByAnswer {
                    members: vec![node(21), node(22), node(24)],
                    delivered: vec![node(21), node(22), node(24)],
                    read: vec![node(21), node(22)],
                },
            }),
        );
    }
    app
}

const PALETTE: [&str; 16] = [
    "#1e1e1e", "#cd3131", "#0dbc79", "#e5e510", "#2472c8", "#bc3fbc", "#11a8cd", "#e5e5e5",
    "#666666", "#f14c4c", "#23d18b", "#f5f543", "#3b8eea", "#d670d6", "#29b8db", "#ffffff",
];
const DEFAULT_FG: &str = "#d4d4d4";
const DEFAULT_BG: &str = "#1e1e1e";

fn colour(c: Color, default: &'static str) -> String {
    let i = match c {
        Color::Reset => return default.to_owned(),
        Color::Black => 0,
        Color::Red => 1,
        Color::Green => 2,
        Color::Yellow => 3,
        Color::Blue => 4,
        Color::Magenta => 5,
        Color::Cyan => 6,
        Color::Gray => 7,
        Color::DarkGray => 8,
        Color::LightRed => 9,
        Color::LightGreen => 10,
        Color::LightYellow => 11,
        Color::LightBlue => 12,
        Color::LightMagenta => 13,
        Color::LightCyan => 14,
        Color::White => 15,
        Color::Indexed(i) if i < 16 => usize::from(i),
        Color::Indexed(i) => {
            // The 6×6×6 cube and the grey ramp of the 256-colour palette.
            let (r, g, b) = if i >= 232 {
                let v = 8 + 10 * (i - 232);
                (v, v, v)
            } else {
                let i = i - 16;
                let level = |v: u8| if v == 0 { 0 } else { 55 + 40 * v };
                (level(i / 36), level(i / 6 % 6), level(i % 6))
            };
            return format!("#{r:02x}{g:02x}{b:02x}");
        }
        Color::Rgb(r, g, b) => return format!("#{r:02x}{g:02x}{b:02x}"),
    };
    PALETTE[i].to_owned()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The buffer as an SVG picture: one rectangle per background run, one `<text>` per cell,
/// placed on the cell grid so that a font's own widths cannot shift the columns.
fn svg(buf: &Buffer) -> String {
    const W: f32 = 8.4;
    const H: f32 = 17.0;
    let (cols, rows) = (buf.area.width, buf.area.height);
    let mut out = String::new();
    writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" \
         viewBox=\"0 0 {} {}\" font-family=\"'DejaVu Sans Mono','Noto Sans Mono CJK SC',\
         'Sarasa Mono SC',monospace\" font-size=\"14\">",
        f32::from(cols) * W,
        f32::from(rows) * H,
        f32::from(cols) * W,
        f32::from(rows) * H
    )
    .unwrap();
    writeln!(
        out,
        "<rect width=\"100%\" height=\"100%\" fill=\"{DEFAULT_BG}\"/>"
    )
    .unwrap();
    for y in 0..rows {
        // Each column's background; the column a wide character covers takes that
        // character's (ratatui resets the covered cell, a terminal paints both).
        let mut bgs = Vec::with_capacity(usize::from(cols));
        let mut x = 0;
        while x < cols {
            let cell = &buf[(x, y)];
            let width = cell.symbol().width().max(1) as u16;
            let bg = if cell.modifier.contains(Modifier::REVERSED) {
                colour(cell.fg, DEFAULT_FG)
            } else {
                colour(cell.bg, DEFAULT_BG)
            };
            for _ in 0..width.min(cols - x) {
                bgs.push(bg.clone());
            }
            x += width;
        }
        let mut start = 0;
        while start < bgs.len() {
            let mut end = start;
            while end < bgs.len() && bgs[end] == bgs[start] {
                end += 1;
            }
            if bgs[start] != DEFAULT_BG {
                writeln!(
                    out,
                    "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{H}\" fill=\"{}\"/>",
                    start as f32 * W,
                    f32::from(y) * H,
                    (end - start) as f32 * W,
                    bgs[start]
                )
                .unwrap();
            }
            start = end;
        }
    }
    for y in 0..rows {
        let mut x = 0;
        while x < cols {
            let cell = &buf[(x, y)];
            let symbol = cell.symbol();
            let width = symbol.width().max(1) as u16;
            if !symbol.trim().is_empty() {
                let mut fg = colour(cell.fg, DEFAULT_FG);
                let mut style = String::new();
                if cell.modifier.contains(Modifier::REVERSED) {
                    fg = colour(cell.bg, DEFAULT_BG);
                }
                if cell.modifier.contains(Modifier::BOLD) {
                    style.push_str(" font-weight=\"bold\"");
                }
                if cell.modifier.contains(Modifier::ITALIC) {
                    style.push_str(" font-style=\"italic\"");
                }
                if cell.modifier.contains(Modifier::UNDERLINED) {
                    style.push_str(" text-decoration=\"underline\"");
                }
                if cell.modifier.contains(Modifier::DIM) {
                    style.push_str(" opacity=\"0.6\"");
                }
                writeln!(
                    out,
                    "<text x=\"{:.1}\" y=\"{:.1}\" fill=\"{fg}\"{style} textLength=\"{:.1}\" \
                     lengthAdjust=\"spacingAndGlyphs\" xml:space=\"preserve\">{}</text>",
                    f32::from(x) * W,
                    f32::from(y) * H + 13.0,
                    f32::from(width) * W,
                    escape(symbol)
                )
                .unwrap();
            }
            x += width;
        }
    }
    out.push_str("</svg>\n");
    out
}

fn shot(app: &App, width: u16, height: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(width, height)).unwrap();
    t.draw(|f| lanchat::ui::draw(f, app)).unwrap();
    svg(t.backend().buffer())
}

/// The screenshots the README shows: (file name, picture).
fn screenshots() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for lang in Lang::ALL {
        let tag = match lang {
            Lang::En => "en",
            Lang::Zh => "zh",
        };
        for (w, h) in [(80, 24), (120, 40)] {
            let app = office(lang, w, h);
            out.push((format!("chat-{tag}-{w}x{h}.svg"), shot(&app, w, h)));
        }
        let mut app = office(lang, 120, 40);
        key(&mut app, T0, KeyCode::F(1), KeyModifiers::NONE);
        out.push((format!("help-{tag}-120x40.svg"), shot(&app, 120, 40)));
        let mut app = office(lang, 120, 40);
        key(&mut app, T0, KeyCode::F(2), KeyModifiers::NONE);
        out.push((format!("peer-{tag}-120x40.svg"), shot(&app, 120, 40)));
        let app = files(lang, 120, 40);
        out.push((format!("files-{tag}-120x40.svg"), shot(&app, 120, 40)));
        let app = group(lang, 120, 40, false);
        out.push((format!("group-{tag}-120x40.svg"), shot(&app, 120, 40)));
        let app = group(lang, 120, 40, true);
        out.push((format!("group-read-{tag}-120x40.svg"), shot(&app, 120, 40)));
    }
    out
}

#[test]
fn the_screenshots_in_assets_are_what_the_code_draws() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/screenshots");
    let bless = std::env::var_os("LANCHAT_BLESS").is_some();
    let mut stale = Vec::new();
    for (name, picture) in screenshots() {
        let path = dir.join(&name);
        if bless {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &picture).unwrap();
            continue;
        }
        if std::fs::read_to_string(&path).ok().as_deref() != Some(picture.as_str()) {
            stale.push(name);
        }
    }
    assert!(
        stale.is_empty(),
        "stale screenshots in assets/screenshots: {stale:?}; look at the change, then \
         refresh them with `LANCHAT_BLESS=1 cargo test --test screenshots`"
    );
}

#[test]
fn a_picture_holds_every_character_of_the_screen_on_its_grid() {
    let app = office(Lang::Zh, 80, 24);
    let mut t = Terminal::new(TestBackend::new(80, 24)).unwrap();
    t.draw(|f| lanchat::ui::draw(f, &app)).unwrap();
    let picture = svg(t.backend().buffer());
    // The demo's Chinese text is on the screen and in the picture, each wide character at
    // twice a narrow one's width.
    assert!(picture.contains(">张</text>"), "the name is drawn");
    assert!(
        picture.contains("textLength=\"16.8\""),
        "wide cells are two columns"
    );
    assert!(picture.starts_with("<svg") && picture.ends_with("</svg>\n"));
}
