//! Groups in the model: news in (members, messages in the group's order, receipts), acts
//! out (commands, messages with their mentions, read marks, who has read mine).

use super::groups::{GroupAct, GroupInfo, GroupNews, ReadByAnswer};
use super::*;
use crate::message::{Change, GroupOrder, GroupPart, Tally};
use crate::proto::group::GroupId;

fn gid(n: u8) -> GroupId {
    GroupId([n; 16])
}

fn group(n: u8) -> ConversationId {
    ConversationId::Group(gid(n))
}

/// Group `g` with me, 1 (alice) and 2 (bob); `owner` owns it.
fn info(owner: NodeId, extra: &[u8]) -> GroupInfo {
    let mut members = vec![me().id, node(1), node(2)];
    members.extend(extra.iter().map(|n| node(*n)));
    GroupInfo {
        name: "午饭群".into(),
        members,
        owner: Some(owner),
        member: true,
    }
}

fn with_group(owner: NodeId) -> App {
    let mut app = new_app();
    peer_up(&mut app, T0, 1, "alice");
    peer_up(&mut app, T0, 2, "bob");
    app.update(
        T0,
        Msg::Group(GroupNews::Info {
            group: gid(1),
            info: info(owner, &[]),
        }),
    );
    app
}

/// A group message by `author` (0: me) at clock `lamport`, stored at `seq`.
fn gmsg(author: u8, lamport: u64, id: u64, seq: i64, text: &str) -> Message {
    let who = if author == 0 { me().id } else { node(author) };
    let mut m = Message::new(
        MsgId(id),
        if author == 0 {
            Author::Me
        } else {
            Author::Peer(who)
        },
        T0 + lamport as i64 * 1000,
        text.into(),
    );
    m.seq = Some(seq);
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

fn shown(app: &mut App, m: Message) -> Vec<Effect> {
    app.update(
        T0 + 100_000,
        Msg::Group(GroupNews::Shown {
            group: gid(1),
            message: m,
        }),
    )
}

fn group_acts(effects: &[Effect]) -> Vec<GroupAct> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Group(a) => Some(a.clone()),
            _ => None,
        })
        .collect()
}

fn submit(app: &mut App, text: &str) -> Vec<Effect> {
    type_text(app, T0 + 1000, text);
    press(app, T0 + 1000, KeyCode::Enter)
}

#[test]
fn a_group_sits_in_the_sidebar_under_its_name_and_counts_only_what_others_wrote() {
    let mut app = with_group(node(1));
    assert!(app.conversation(&group(1)).is_some());
    assert_eq!(app.title(&group(1)), "午饭群");
    // Open a peer: the group's news count as unread there.
    app.select(peer(1));
    let mut created = gmsg(1, 1, 10, 1, "");
    created.group.as_mut().unwrap().change = Some(Change::Created {
        name: "午饭群".into(),
        members: vec![me().id, node(2)],
    });
    shown(&mut app, created);
    shown(&mut app, gmsg(2, 2, 11, 2, "hello all"));
    shown(&mut app, gmsg(0, 3, 12, 3, "mine"));
    let c = app.conversation(&group(1)).unwrap();
    assert_eq!(c.unread, 1, "the change and mine are not unread");
    assert!(!c.mentioned);
    // A mention of me by name, and the owner's @all, mark it.
    shown(&mut app, gmsg(2, 4, 13, 4, "@me lunch?"));
    assert!(app.conversation(&group(1)).unwrap().mentioned);
    app.select(group(1));
    assert!(!app.conversation(&group(1)).unwrap().mentioned);
    app.select(peer(1));
    let mut all = gmsg(1, 5, 14, 5, "@all noon");
    all.group.as_mut().unwrap().all = true;
    shown(&mut app, all);
    assert!(app.conversation(&group(1)).unwrap().mentioned);
}

#[test]
fn a_late_message_goes_where_it_belongs_and_the_view_does_not_move() {
    let mut app = with_group(node(1));
    app.update(
        T0,
        Msg::Resize {
            width: 80,
            height: 24,
        },
    );
    app.select(group(1));
    for i in 0..30u64 {
        shown(
            &mut app,
            gmsg(1, 10 + 2 * i, 100 + i, i as i64 + 1, &format!("m{i}")),
        );
    }
    // Read up a little: the view stays on what it shows.
    app.scroll = 12;
    let texts_now = texts(&app, group(1));
    // A late message between m25 and m26 (below the view's bottom line): its lines go on
    // the scroll, so the lines in view stay where they were.
    let before = app.scroll;
    shown(&mut app, gmsg(2, 61, 200, 31, "late below"));
    let t = texts(&app, group(1));
    assert_eq!(t[26], "late below", "between m25 (clock 60) and m26 (62)");
    assert_eq!(app.scroll, before + 2, "its header and its line");
    assert_eq!(
        app.new_below, 0,
        "not new at the bottom: nothing to jump to"
    );
    // One far above the view: nothing on screen moves.
    let before = app.scroll;
    let effects = shown(&mut app, gmsg(2, 11, 201, 32, "late above"));
    // The store's read mark is the highest seq in view, not the last message's (m29's
    // seq is 30).
    assert!(
        effects.contains(&Effect::ReadUpTo {
            conversation: group(1),
            seq: 32
        }),
        "{effects:?}"
    );
    assert_eq!(texts(&app, group(1))[1], "late above");
    assert_eq!(app.scroll, before);
    assert_eq!(texts(&app, group(1)).len(), texts_now.len() + 2);
    // A new one at the bottom while scrolled up counts as new below.
    shown(&mut app, gmsg(2, 100, 202, 33, "newest"));
    assert_eq!(app.new_below, 1);
    // A copy changes nothing.
    let n = texts(&app, group(1)).len();
    shown(&mut app, gmsg(2, 100, 202, 33, "newest"));
    assert_eq!(texts(&app, group(1)).len(), n);
}

#[test]
fn sending_in_a_group_names_the_members_mentioned_and_only_the_owner_says_all() {
    let mut app = with_group(node(1));
    app.select(group(1));
    let effects = submit(&mut app, "@alice @Bob noodles?");
    assert_eq!(
        group_acts(&effects),
        [GroupAct::Send {
            group: gid(1),
            text: "@alice @Bob noodles?".into(),
            quote: None,
            mentions: vec![node(1), node(2)],
            all: false,
        }]
    );
    assert!(app.input.is_empty());
    // Not the owner: @all is refused, and what was typed stays.
    let effects = submit(&mut app, "@all lunch");
    assert!(group_acts(&effects).is_empty());
    assert!(is_error(&app));
    assert_eq!(app.input.text(), "@all lunch");
    // The owner may (in either language's word).
    let mut app = with_group(me().id);
    app.select(group(1));
    for word in ["@all", "@所有人"] {
        let effects = submit(&mut app, &format!("{word} lunch"));
        assert!(
            matches!(
                group_acts(&effects).as_slice(),
                [GroupAct::Send { all: true, .. }]
            ),
            "{effects:?}"
        );
    }
    // Not a member any more: nothing goes.
    app.update(
        T0,
        Msg::Group(GroupNews::Info {
            group: gid(1),
            info: GroupInfo {
                member: false,
                ..info(node(1), &[])
            },
        }),
    );
    let effects = submit(&mut app, "anyone?");
    assert!(group_acts(&effects).is_empty());
    assert_eq!(error_text(&app), "You are no longer in this group");
}

#[test]
fn a_reply_in_a_group_quotes_its_member_and_a_recall_goes_to_the_group() {
    let mut app = with_group(node(1));
    app.select(group(1));
    shown(&mut app, gmsg(2, 2, 11, 1, "noodles?"));
    app.update(T0 + 1000, alt(KeyCode::Up));
    press(&mut app, T0 + 1000, KeyCode::Char('r'));
    let effects = submit(&mut app, "yes");
    let acts = group_acts(&effects);
    let [GroupAct::Send { quote: Some(q), .. }] = acts.as_slice() else {
        panic!("{effects:?}");
    };
    assert_eq!((q.id, q.author), (MsgId(11), node(2)));
    assert_eq!(q.excerpt, "noodles?");
    // My message comes back from the store; I recall it.
    shown(&mut app, gmsg(0, 3, 12, 2, "yes"));
    let effects = submit(&mut app, "/recall");
    assert_eq!(
        group_acts(&effects),
        [GroupAct::Recall {
            group: gid(1),
            target: MsgId(12)
        }]
    );
    assert!(app.conversation(&group(1)).unwrap().messages[1].recalled);
}

#[test]
fn group_commands_make_change_and_leave_groups() {
    let mut app = with_group(node(1));
    peer_up(&mut app, T0, 3, "carol");
    // /group NAME @a @b: the words without @ are its name.
    let effects = submit(&mut app, "/group 晚饭 @alice @carol");
    assert_eq!(
        group_acts(&effects),
        [GroupAct::Create {
            name: "晚饭".into(),
            members: vec![node(1), node(3)],
        }]
    );
    for bad in ["/group @alice", "/group nobody here", "/group x @dave"] {
        let effects = submit(&mut app, bad);
        assert!(group_acts(&effects).is_empty(), "{bad}");
        assert!(is_error(&app), "{bad}");
        app.input.take();
    }
    assert_eq!(error_text(&app), "Nobody called @dave");
    // The group I made opens.
    app.update(T0, Msg::Group(GroupNews::Created(gid(2))));
    assert_eq!(app.selected, Some(group(2)));
    // In a group: invite, leave; remove and owner are the owner's.
    app.select(group(1));
    let effects = submit(&mut app, "/invite @carol");
    assert_eq!(
        group_acts(&effects),
        [GroupAct::Invite {
            group: gid(1),
            members: vec![node(3)],
        }]
    );
    let effects = submit(&mut app, "/invite @alice");
    assert!(group_acts(&effects).is_empty());
    assert_eq!(error_text(&app), "They are in this group already");
    app.input.take();
    let effects = submit(&mut app, "/remove @bob");
    assert!(group_acts(&effects).is_empty());
    assert_eq!(error_text(&app), "Only the owner can do that");
    app.input.take();
    // /rename in a group renames it for everyone.
    let effects = submit(&mut app, "/rename 晚饭群");
    assert_eq!(
        group_acts(&effects),
        [GroupAct::Rename {
            group: gid(1),
            name: "晚饭群".into(),
        }]
    );
    assert_eq!(app.conversation(&group(1)).unwrap().alias, None);
    let effects = submit(&mut app, "/leave");
    assert_eq!(group_acts(&effects), [GroupAct::Leave(gid(1))]);
    // The owner removes and hands on.
    let mut app = with_group(me().id);
    app.select(group(1));
    let effects = submit(&mut app, "/remove @bob");
    assert_eq!(
        group_acts(&effects),
        [GroupAct::Remove {
            group: gid(1),
            member: node(2),
        }]
    );
    let effects = submit(&mut app, "/owner alice");
    assert_eq!(
        group_acts(&effects),
        [GroupAct::Handover {
            group: gid(1),
            to: node(1),
        }]
    );
    // Outside a group they say so, and /rename is my name for a peer as before.
    app.select(peer(1));
    let effects = submit(&mut app, "/leave");
    assert!(group_acts(&effects).is_empty());
    assert_eq!(error_text(&app), "Open a group first");
    app.input.take();
    let effects = submit(&mut app, "/rename Ally");
    assert!(matches!(effects.as_slice(), [Effect::Rename { .. }]));
}

#[test]
fn a_group_with_more_than_256_members_is_refused_with_a_clear_line() {
    let mut app = new_app();
    let mut line = String::from("/group big");
    for n in 0..=255u8 {
        line.push_str(&format!(" @p{n}"));
    }
    app.input.set(&line);
    let effects = press(&mut app, T0, KeyCode::Enter);
    assert!(group_acts(&effects).is_empty());
    assert_eq!(error_text(&app), "A group has at most 256 members");
    let mut app = with_group(node(1));
    app.update(
        T0,
        Msg::Group(GroupNews::Info {
            group: gid(1),
            info: info(node(1), &(3..=255).collect::<Vec<u8>>()),
        }),
    );
    app.select(group(1));
    peer_up(&mut app, T0, 0, "zed");
    let effects = submit(&mut app, "/invite @zed");
    assert!(group_acts(&effects).is_empty());
    assert_eq!(error_text(&app), "A group has at most 256 members");
}

#[test]
fn reading_a_group_tells_it_once_per_newest_message() {
    let mut app = with_group(node(1));
    shown(&mut app, gmsg(2, 2, 11, 1, "one"));
    // Not open: nothing said.
    app.select(peer(1));
    let effects = app.update_all(T0, []);
    assert!(group_acts(&effects).is_empty());
    app.select(group(1));
    let effects = app.update_all(T0, []);
    assert_eq!(
        group_acts(&effects),
        [GroupAct::Read {
            group: gid(1),
            author: node(2),
            id: MsgId(11),
        }]
    );
    let effects = app.update_all(T0, []);
    assert!(group_acts(&effects).is_empty(), "once");
    let effects = shown(&mut app, gmsg(1, 3, 12, 2, "two"));
    assert_eq!(
        group_acts(&effects),
        [GroupAct::Read {
            group: gid(1),
            author: node(1),
            id: MsgId(12),
        }]
    );
    // A late one, older than what was read, says nothing new.
    let effects = shown(&mut app, gmsg(2, 1, 13, 3, "late"));
    assert!(group_acts(&effects).is_empty());
}

#[test]
fn my_messages_show_their_receipts_and_f2_on_one_says_who_has_read_it() {
    let mut app = with_group(node(1));
    app.select(group(1));
    shown(&mut app, gmsg(2, 1, 11, 1, "theirs"));
    shown(&mut app, gmsg(0, 2, 12, 2, "mine"));
    let tally = Tally {
        delivered: 2,
        read: 1,
        of: 2,
    };
    app.update(
        T0,
        Msg::Group(GroupNews::Tally {
            group: gid(1),
            id: MsgId(12),
            tally,
        }),
    );
    let m = &app.conversation(&group(1)).unwrap().messages[1];
    assert_eq!(m.group.as_ref().unwrap().tally, Some(tally));
    // Picked (Alt-Up) and F2: the runtime is asked; the overlay waits for it.
    app.update(T0, alt(KeyCode::Up));
    assert_eq!(app.picked, Some(MsgId(12)));
    let effects = press(&mut app, T0, KeyCode::F(2));
    assert_eq!(
        group_acts(&effects),
        [GroupAct::ReadBy {
            group: gid(1),
            id: MsgId(12),
        }]
    );
    assert_eq!(app.mode(), keymap::Mode::PeerInfo);
    let answer = ReadByAnswer {
        members: vec![node(1), node(2)],
        delivered: vec![node(1), node(2)],
        read: vec![node(2)],
    };
    app.update(
        T0,
        Msg::Group(GroupNews::ReadBy {
            group: gid(1),
            id: MsgId(12),
            answer: answer.clone(),
        }),
    );
    assert_eq!(app.read_by.as_ref().unwrap().answer, Some(answer));
    press(&mut app, T0, KeyCode::Esc);
    assert!(app.read_by.is_none() && !app.show_info);
    // On someone else's message, `i` asks nothing and says why.
    app.update(T0, alt(KeyCode::Up));
    press(&mut app, T0, KeyCode::Up);
    let effects = press(&mut app, T0, KeyCode::Char('i'));
    assert!(group_acts(&effects).is_empty());
    assert!(app.read_by.is_none());
}

#[test]
fn tab_offers_the_groups_members_and_all_to_its_owner() {
    let mut app = with_group(node(1));
    peer_up(&mut app, T0, 3, "alfred");
    app.select(group(1));
    type_text(&mut app, T0, "hi @al");
    press(&mut app, T0, KeyCode::Tab);
    assert_eq!(app.input.text(), "hi @alice ", "alfred is not in the group");
    let mut app = with_group(me().id);
    app.select(group(1));
    type_text(&mut app, T0, "@a");
    press(&mut app, T0, KeyCode::Tab);
    // alice and all: their common start.
    assert_eq!(app.input.text(), "@al");
    // In /group's argument, Tab completes any peer's name.
    let mut app = with_group(node(1));
    peer_up(&mut app, T0, 3, "carol");
    type_text(&mut app, T0, "/group x @ca");
    press(&mut app, T0, KeyCode::Tab);
    assert_eq!(app.input.text(), "/group x @carol ");
}

#[test]
fn withdrawn_entries_leave_and_refusals_are_said() {
    let mut app = with_group(node(1));
    app.select(group(1));
    shown(&mut app, gmsg(2, 1, 11, 1, "void"));
    shown(&mut app, gmsg(1, 2, 12, 2, "stays"));
    app.update(
        T0,
        Msg::Group(GroupNews::Withdrawn {
            group: gid(1),
            author: Author::Peer(node(2)),
            id: MsgId(11),
        }),
    );
    assert_eq!(texts(&app, group(1)), ["stays"]);
    app.update(T0, Msg::Group(GroupNews::Refused("no".into())));
    assert_eq!(error_text(&app), "no");
}

#[test]
fn the_switcher_marks_peers_for_a_new_group() {
    let mut app = with_group(node(1));
    app.select(peer(1));
    app.update(T0, ctrl('k'));
    assert_eq!(app.mode(), keymap::Mode::Switcher);
    type_text(&mut app, T0, "ali");
    press(&mut app, T0, KeyCode::Tab);
    for _ in 0..3 {
        press(&mut app, T0, KeyCode::Backspace);
    }
    type_text(&mut app, T0, "bob");
    press(&mut app, T0, KeyCode::Tab);
    assert_eq!(app.switcher.as_ref().unwrap().marked, [node(1), node(2)]);
    // Tab again takes a mark back; a group cannot be marked.
    press(&mut app, T0, KeyCode::Tab);
    press(&mut app, T0, KeyCode::Tab);
    for _ in 0..3 {
        press(&mut app, T0, KeyCode::Backspace);
    }
    type_text(&mut app, T0, "午饭");
    press(&mut app, T0, KeyCode::Tab);
    assert_eq!(app.switcher.as_ref().unwrap().marked, [node(1), node(2)]);
    press(&mut app, T0, KeyCode::Enter);
    assert!(app.switcher.is_none());
    assert_eq!(app.input.text(), "/group @alice @bob ");
    let effects = submit(&mut app, "lunch");
    assert_eq!(
        group_acts(&effects),
        [GroupAct::Create {
            name: "lunch".into(),
            members: vec![node(1), node(2)],
        }]
    );
}
