//! Groups on the screen: the sidebar's mark, the header, system lines, receipts on my
//! messages, members (F2) and who has read a picked message, in both languages at 80×24.

use super::*;
use crate::app::PeerTrust;
use crate::app::groups::{GroupInfo, GroupNews, ReadByAnswer};
use crate::i18n::Lang;
use crate::message::{Change, GroupOrder, GroupPart, Tally};
use crate::proto::Trust;
use crate::proto::group::GroupId;

fn gid() -> GroupId {
    GroupId([0x42; 16])
}

fn gmsg(author: Author, who: NodeId, lamport: u64, id: u64, t: i64, text: &str) -> Message {
    let mut m = Message::new(MsgId(id), author, t, text.into());
    m.seq = Some(id as i64);
    m.group = Some(Box::new(GroupPart {
        order: GroupOrder {
            lamport,
            author: who,
            id: MsgId(id),
        },
        change: None,
        all: false,
        tally: None,
    }));
    m
}

fn show(app: &mut App, m: Message) {
    app.update(
        T0 + 5 * MINUTE,
        Msg::Group(GroupNews::Shown {
            group: gid(),
            message: m,
        }),
    );
}

/// Me, alice (online, verified), bob (online, unverified) and carol (offline, her key
/// changed) in 午饭群, which alice made; a few messages and changes.
fn lunch(lang: Lang) -> App {
    let mut app = new_app();
    app.lang = lang;
    peer_up(&mut app, T0, 1, "alice", true);
    peer_up(&mut app, T0, 2, "bob", true);
    peer_up(&mut app, T0, 3, "carol", false);
    app.trust.insert(
        node(1),
        PeerTrust {
            trust: Trust::Verified,
            same_name_as: None,
        },
    );
    app.trust.insert(
        node(2),
        PeerTrust {
            trust: Trust::Unverified,
            same_name_as: None,
        },
    );
    // Carol's key is new: the one she had before was 9's.
    app.trust.insert(
        node(3),
        PeerTrust {
            trust: Trust::Changed { previous: node(9) },
            same_name_as: None,
        },
    );
    app.update(
        T0,
        Msg::Group(GroupNews::Info {
            group: gid(),
            info: GroupInfo {
                name: "午饭群".into(),
                members: vec![node(1), node(2), node(3), app.me.id],
                owner: Some(node(1)),
                member: true,
            },
        }),
    );
    app.select(ConversationId::Group(gid()));
    let me = app.me.id;
    let mut created = gmsg(Author::Peer(node(1)), node(1), 1, 1, T0, "午饭群");
    created.group.as_mut().unwrap().change = Some(Change::Created {
        name: "午饭群".into(),
        members: vec![node(2), me],
    });
    show(&mut app, created);
    let mut added = gmsg(Author::Peer(node(1)), node(1), 2, 2, T0 + MINUTE, "");
    added.group.as_mut().unwrap().change = Some(Change::Invited(vec![node(3)]));
    show(&mut app, added);
    show(
        &mut app,
        gmsg(
            Author::Peer(node(2)),
            node(2),
            3,
            3,
            T0 + 2 * MINUTE,
            "noodles?",
        ),
    );
    let mut mine = gmsg(Author::Me, me, 4, 4, T0 + 3 * MINUTE, "yes, at noon");
    mine.group.as_mut().unwrap().tally = Some(Tally {
        delivered: 2,
        read: 1,
        of: 3,
    });
    show(&mut app, mine);
    app
}

#[test]
fn a_group_shows_its_mark_header_system_lines_and_my_receipts() {
    let app = lunch(Lang::En);
    let t = render(&app, 80, 24);
    let screen = screen_text(&t);
    // The sidebar: the group's mark and name; the header: members and who is online.
    assert!(screen.contains("# 午饭群"), "{screen}");
    assert!(screen.contains("午饭群 · 4 members · 2 online"), "{screen}");
    // Changes are lines of their own; names as shown.
    assert!(
        screen.contains("alice created the group \"午饭群\""),
        "{screen}"
    );
    assert!(screen.contains("alice added carol"), "{screen}");
    // Mine: how many hold it and read it, of the three others.
    assert!(screen.contains("delivered to 2/3 · read by 1"), "{screen}");
    // An unverified member is marked where it speaks; a verified one is not.
    assert!(screen.contains("bob ?  10:02"), "{screen}");
    // A member's key changed: the group is marked in the sidebar.
    let row = screen.lines().find(|l| l.contains("# 午饭群")).unwrap();
    assert!(row.contains('⚠'), "{screen}");
}

#[test]
fn a_group_fits_at_80x24_in_chinese() {
    let app = lunch(Lang::Zh);
    let screen = screen_text(&render(&app, 80, 24));
    assert!(screen.contains("午饭群 · 4 人 · 2 人在线"), "{screen}");
    assert!(screen.contains("alice 创建了群聊“午饭群”"), "{screen}");
    assert!(screen.contains("alice 邀请 carol 加入了群聊"), "{screen}");
    assert!(screen.contains("已送达 2/3 · 1 人已读"), "{screen}");
}

#[test]
fn f2_on_a_group_lists_its_members_online_verified_and_owner() {
    let mut app = lunch(Lang::En);
    app.update(
        T0,
        Msg::Key(KeyEvent::new(KeyCode::F(2), KeyModifiers::NONE)),
    );
    let screen = screen_text(&render(&app, 80, 24));
    assert!(screen.contains("Members"), "{screen}");
    let line = |name: &str| {
        screen
            .lines()
            .find(|l| l.contains(&format!("│ ● {name}")) || l.contains(&format!("│ ○ {name}")))
            .unwrap_or_else(|| panic!("no line for {name}:\n{screen}"))
            .to_owned()
    };
    assert!(line("alice").contains("● alice ✓ owner"), "{screen}");
    assert!(line("bob").contains("● bob ? unverified"), "{screen}");
    assert!(line("carol").contains("○ carol ⚠ key changed"), "{screen}");
    assert!(line("me").contains("(you)"), "{screen}");
}

#[test]
fn a_picked_message_of_mine_shows_who_has_read_it() {
    let mut app = lunch(Lang::En);
    app.update(T0, Msg::Key(KeyEvent::new(KeyCode::Up, KeyModifiers::ALT)));
    app.update(
        T0,
        Msg::Key(KeyEvent::new(KeyCode::F(2), KeyModifiers::NONE)),
    );
    let screen = screen_text(&render(&app, 80, 24));
    assert!(screen.contains("Who has read it"), "{screen}");
    assert!(screen.contains("asking…"), "{screen}");
    app.update(
        T0,
        Msg::Group(GroupNews::ReadBy {
            group: gid(),
            id: MsgId(4),
            answer: ReadByAnswer {
                members: vec![node(1), node(2), node(3)],
                delivered: vec![node(1), node(2)],
                read: vec![node(1)],
            },
        }),
    );
    let rows = rows(&render(&app, 80, 24));
    let at = |s: &str| {
        rows.iter()
            .position(|r| r.contains(s))
            .unwrap_or_else(|| panic!("no {s:?}:\n{}", rows.join("\n")))
    };
    let (read, unread) = (at("Read (1)"), at("Not read (2)"));
    assert!(read < at("│ ● alice") && at("│ ● alice") < unread);
    assert!(unread < at("│ ● bob") && !rows[at("│ ● bob")].contains("not delivered"));
    assert!(rows[at("│ ○ carol")].contains("not delivered"));
}

#[test]
fn the_sidebar_previews_a_group_by_who_said_what() {
    let mut app = lunch(Lang::En);
    app.select(peer(1));
    show(
        &mut app,
        gmsg(
            Author::Peer(node(2)),
            node(2),
            5,
            5,
            T0 + 4 * MINUTE,
            "see you",
        ),
    );
    let screen = screen_text(&render(&app, 80, 24));
    assert!(screen.contains("bob: see you"), "{screen}");
}
