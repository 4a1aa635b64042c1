#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::super::{ExportFormat, SCHEMA_VERSION, schema};
use super::*;
use crate::proto::group::{GroupConfig, GroupEvent, Groups, Mentions};
use crate::proto::{Identity, MsgId};
use std::time::Instant;

fn node(n: u8) -> NodeId {
    NodeId([n; 32])
}

fn gid(n: u8) -> GroupId {
    GroupId([n; 16])
}

fn order(lamport: u64, author: u8, id: u64) -> GroupOrder {
    GroupOrder {
        lamport,
        author: node(author),
        id: MsgId(id),
    }
}

/// A group message by member `author` (0: me) at `lamport`, shown at time `t`.
fn gmsg(g: GroupId, author: u8, lamport: u64, id: u64, t: i64, text: &str) -> NewGroupMessage {
    NewGroupMessage {
        group: g,
        id: MsgId(id),
        author: if author == 0 {
            Author::Me
        } else {
            Author::Peer(node(author))
        },
        sent_at_ms: t,
        received_at_ms: t,
        text: text.to_owned(),
        quote: None,
        order: order(lamport, author, id),
        change: None,
        all: false,
    }
}

fn batch(messages: Vec<NewGroupMessage>) -> GroupBatch {
    GroupBatch {
        messages,
        ..GroupBatch::default()
    }
}

fn texts(ms: &[super::super::StoredMessage]) -> Vec<&str> {
    ms.iter().map(|m| m.text.as_str()).collect()
}

#[test]
fn a_group_pages_in_its_order_and_a_late_message_goes_where_it_belongs() {
    let mut s = Store::open_in_memory().unwrap();
    let g = gid(1);
    let conv = ConversationId::Group(g);
    // Arrival order: 1, 3, 4, then 2 (late), then 5.
    let mut arrivals = vec![
        gmsg(g, 1, 1, 11, 1000, "one"),
        gmsg(g, 2, 3, 13, 3000, "three"),
        gmsg(g, 0, 4, 14, 4000, "four"),
    ];
    s.apply_group_batch(&batch(arrivals.clone()), 100).unwrap();
    let late = gmsg(g, 3, 2, 12, 2000, "two");
    let applied = s
        .apply_group_batch(&batch(vec![late.clone()]), 100)
        .unwrap();
    let late_seq = applied.messages[0].1.unwrap();
    s.apply_group_batch(&batch(vec![gmsg(g, 1, 5, 15, 5000, "five")]), 100)
        .unwrap();
    arrivals.push(late);
    assert_eq!(
        texts(&s.latest(&conv, 10).unwrap()),
        ["one", "two", "three", "four", "five"]
    );
    // The late one arrived last but one: its seq is high, its place is second.
    let all = s.oldest(&conv, 10).unwrap();
    assert_eq!(all[1].seq, late_seq);
    assert!(all[1].seq > all[3].seq);
    // Pages from an anchor go by the order too.
    assert_eq!(texts(&s.before(&conv, late_seq, 10).unwrap()), ["one"]);
    assert_eq!(
        texts(&s.after(&conv, late_seq, 10).unwrap()),
        ["three", "four", "five"]
    );
    assert_eq!(texts(&s.latest(&conv, 2).unwrap()), ["four", "five"]);
    assert_eq!(
        texts(&s.around(&conv, late_seq, 3).unwrap()),
        ["one", "two", "three"]
    );
    // Each row says where it belongs and what it is.
    let part = all[1].group.clone().unwrap();
    assert_eq!(part.order, order(2, 3, 12));
    assert_eq!((part.change, part.all, part.tally), (None, false, None));
    // A copy is not stored twice.
    let again = s
        .apply_group_batch(&batch(vec![gmsg(g, 1, 1, 11, 1000, "one")]), 100)
        .unwrap();
    assert_eq!(again.messages[0].1, None);
    assert_eq!(s.latest(&conv, 10).unwrap().len(), 5);
}

#[test]
fn system_lines_and_my_messages_are_never_unread_and_the_sidebar_shows_the_newest_in_order() {
    let mut s = Store::open_in_memory().unwrap();
    let g = gid(2);
    let conv = ConversationId::Group(g);
    let created = NewGroupMessage {
        change: Some(Change::Created {
            name: "午饭群".into(),
            members: vec![node(1), node(2)],
        }),
        text: "午饭群".into(),
        ..gmsg(g, 1, 1, 21, 1000, "")
    };
    let left = NewGroupMessage {
        change: Some(Change::Left),
        ..gmsg(g, 2, 4, 24, 4000, "")
    };
    let renamed = NewGroupMessage {
        change: Some(Change::Renamed("晚饭群".into())),
        ..gmsg(g, 1, 5, 25, 5000, "晚饭群")
    };
    s.apply_group_batch(
        &batch(vec![
            created,
            gmsg(g, 2, 2, 22, 2000, "hello"),
            gmsg(g, 0, 3, 23, 3000, "mine"),
            left,
            renamed,
        ]),
        100,
    )
    .unwrap();
    // A late text message arrives after the rename but belongs before it.
    s.apply_group_batch(&batch(vec![gmsg(g, 1, 2, 26, 2500, "late")]), 100)
        .unwrap();
    let row = s
        .conversations()
        .unwrap()
        .into_iter()
        .find(|c| c.id == conv)
        .unwrap();
    assert_eq!(row.unread, 2, "hello and late; not mine, not the changes");
    assert!(row.wrote);
    let last = row.last_message().unwrap();
    assert_eq!(last.change(), Some(&Change::Renamed("晚饭群".into())));
    let rows = s.latest(&conv, 10).unwrap();
    assert_eq!(
        rows[0].group.as_ref().unwrap().change,
        Some(Change::Created {
            name: "午饭群".into(),
            members: vec![node(1), node(2)]
        })
    );
    assert_eq!(rows[4].group.as_ref().unwrap().change, Some(Change::Left));
    // Reading up to the newest counts nothing left, the changes included.
    let newest = rows.iter().map(|m| m.seq).max().unwrap();
    s.mark_read(&conv, newest).unwrap();
    let row = s.conversations().unwrap();
    assert_eq!(row.iter().find(|c| c.id == conv).unwrap().unread, 0);
    // Search finds group messages as any other.
    let hits = s.search("late", 10).unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].conversation, conv);
}

#[test]
fn recalls_and_withdrawals_change_only_their_own_rows() {
    let mut s = Store::open_in_memory().unwrap();
    let g = gid(3);
    let other = gid(4);
    let conv = ConversationId::Group(g);
    let mut reply = gmsg(g, 2, 3, 33, 3000, "re");
    reply.quote = Some(Quote {
        id: MsgId(31),
        author: node(1),
        excerpt: "secret".into(),
    });
    s.apply_group_batch(
        &batch(vec![
            gmsg(g, 1, 1, 31, 1000, "secret"),
            gmsg(g, 2, 2, 32, 2000, "void"),
            reply,
            gmsg(other, 1, 1, 41, 1000, "elsewhere"),
        ]),
        100,
    )
    .unwrap();
    let applied = s
        .apply_group_batch(
            &GroupBatch {
                // Member 2 cannot recall member 1's message; 1 recalls its own.
                recalled: vec![
                    (g, Author::Peer(node(2)), MsgId(31)),
                    (g, Author::Peer(node(1)), MsgId(31)),
                ],
                withdrawn: vec![(g, Author::Peer(node(2)), MsgId(32))],
                ..GroupBatch::default()
            },
            100,
        )
        .unwrap();
    assert_eq!(applied.recalled, [(g, Author::Peer(node(1)), MsgId(31))]);
    assert_eq!(applied.withdrawn, [(g, Author::Peer(node(2)), MsgId(32))]);
    let rows = s.latest(&conv, 10).unwrap();
    assert_eq!(texts(&rows), ["", "re"]);
    assert!(rows[0].recalled);
    assert_eq!(rows[1].quote.as_ref().unwrap().excerpt, "");
    assert_eq!(
        texts(&s.latest(&ConversationId::Group(other), 10).unwrap()),
        ["elsewhere"]
    );
}

/// Entries as a real group makes them: a create and `n` messages by me.
fn real_entries(n: usize) -> (GroupId, Vec<Vec<u8>>, Groups) {
    let me = Identity::from_secret([7; 32]);
    let mut groups = Groups::new(&me, GroupConfig::default(), 1);
    let now = Instant::now();
    let g = groups.create(now, 1000, "lunch", &[node(9)]).unwrap();
    for i in 0..n {
        groups
            .send(
                2000 + i as i64,
                g,
                &format!("m{i}"),
                None,
                Mentions::default(),
            )
            .unwrap();
    }
    let mut kept = Vec::new();
    while let Some(e) = groups.poll_event() {
        if let GroupEvent::Keep { bytes, .. } = e {
            kept.push(bytes);
        }
    }
    (g, kept, groups)
}

#[test]
fn entries_marks_receipts_and_members_are_kept_for_the_start_and_entries_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.db");
    let (g, entries, groups) = real_entries(30);
    assert_eq!(entries.len(), 31);
    let info = GroupInfoRow {
        group: g,
        name: "lunch".into(),
        owner: Some(groups.me()),
        members: vec![groups.me(), node(9)],
        member: true,
    };
    {
        let mut s = Store::open(&path).unwrap();
        let b = GroupBatch {
            entries: entries.iter().map(|e| (g, e.clone())).collect(),
            infos: vec![info.clone()],
            receipts: vec![(g, node(9), vec![1, 2, 3])],
            read_marks: vec![(g, vec![0; 16])],
            now_ms: 5,
            ..GroupBatch::default()
        };
        // Keep the newest 8 messages (and the slack), never a membership change.
        s.apply_group_batch(&b, 8).unwrap();
        // Again: nothing twice; a mark and a receipt are replaced.
        let b2 = GroupBatch {
            entries: entries.iter().map(|e| (g, e.clone())).collect(),
            read_marks: vec![(g, vec![1; 16])],
            ..GroupBatch::default()
        };
        s.apply_group_batch(&b2, 8).unwrap();
    }
    let s = Store::open(&path).unwrap();
    let r = s.group_restore().unwrap();
    assert_eq!(r.entries.len(), 31, "within the slack, nothing goes");
    // The create (a membership change) comes first.
    assert_eq!(r.entries[0], entries[0]);
    assert_eq!(r.read_marks, [(g, vec![1; 16])]);
    assert_eq!(r.receipts, [(g, node(9), vec![1, 2, 3])]);
    assert_eq!(r.infos, [info]);
    drop(s);
    // Past the slack, the oldest messages go and the newest stay, the create with them.
    let mut s = Store::open(&path).unwrap();
    let (g2, many, _) = real_entries(ENTRY_SLACK + 20);
    s.apply_group_batch(
        &GroupBatch {
            entries: many.iter().map(|e| (g2, e.clone())).collect(),
            ..GroupBatch::default()
        },
        8,
    )
    .unwrap();
    let kept: Vec<Vec<u8>> = s
        .group_restore()
        .unwrap()
        .entries
        .into_iter()
        .filter(|e| many.contains(e))
        .collect();
    assert_eq!(kept.len(), 1 + 8);
    assert_eq!(kept[0], many[0]);
    assert_eq!(&kept[1..], &many[many.len() - 8..]);
    // What was kept rebuilds the group: it holds what it held.
    let mut back = Groups::new(&Identity::from_secret([7; 32]), GroupConfig::default(), 2);
    back.restore(Instant::now(), &kept);
    let grp = back.group(&g2).unwrap();
    assert_eq!(grp.name(), "lunch");
    assert_eq!(grp.len(), 9);
}

#[test]
fn a_version_7_database_gains_groups_and_keeps_its_history() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    for step in &schema::MIGRATIONS[..7] {
        conn.execute_batch(step).unwrap();
    }
    conn.execute_batch(&format!(
        "PRAGMA user_version = 7;
        INSERT INTO conversations (key, pinned, draft) VALUES ('{peer}', 1, 'half');
        INSERT INTO authors (key) VALUES ('{peer}');
        INSERT INTO messages (conversation, author, id, sent_at_ms, received_at_ms, text)
        VALUES (1, 1, 1, 10, 10, 'before groups'), (1, 0, 2, 20, 20, 'mine'),
               (1, 1, 3, 30, 30, 'unread one');
        UPDATE conversations SET unread = 2, last_read_seq = 0, last_activity_ms = 30;",
        peer = node(1).to_hex()
    ))
    .unwrap();
    drop(conn);
    let mut s = Store::open(&path).unwrap();
    assert_eq!(s.schema_version().unwrap(), SCHEMA_VERSION);
    let peer = ConversationId::Peer(node(1));
    assert_eq!(
        texts(&s.latest(&peer, 10).unwrap()),
        ["before groups", "mine", "unread one"]
    );
    let row = &s.conversations().unwrap()[0];
    assert_eq!(
        (row.unread, row.pinned, row.draft.as_str()),
        (2, true, "half")
    );
    assert_eq!(row.last_group, None);
    assert!(
        s.latest(&peer, 10)
            .unwrap()
            .iter()
            .all(|m| m.group.is_none())
    );
    assert_eq!(s.search("before", 10).unwrap().len(), 1);
    // Reading counts as before.
    s.mark_read(&peer, 2).unwrap();
    assert_eq!(s.conversations().unwrap()[0].unread, 1);
    // And a group goes in beside it.
    let g = gid(5);
    s.apply_group_batch(&batch(vec![gmsg(g, 1, 1, 51, 40, "group hello")]), 100)
        .unwrap();
    assert_eq!(
        texts(&s.latest(&ConversationId::Group(g), 10).unwrap()),
        ["group hello"]
    );
    assert_eq!(s.integrity_check().unwrap(), "ok");
}

#[test]
fn group_keys_and_changes_read_back_as_written() {
    let g = gid(0xab);
    let key = super::super::conversation_key(&ConversationId::Group(g));
    assert_eq!(key, format!("group-{}", "ab".repeat(16)));
    assert!(
        !key.contains(':'),
        "a key with a colon is a plain-text peer's"
    );
    assert_eq!(
        super::super::conversation_from_key(&key),
        Some(ConversationId::Group(g))
    );
    assert_eq!(
        Author::from_key(&key),
        None,
        "a group writes nothing itself"
    );
    for c in [
        Change::Created {
            name: "n".into(),
            members: vec![node(1), node(2)],
        },
        Change::Invited(vec![node(3)]),
        Change::Left,
        Change::Removed(node(4)),
        Change::Renamed("新名".into()),
        Change::Handover(node(5)),
    ] {
        let (sql, name) = change_to_sql(&c);
        assert_eq!(change_from_sql(&sql, name.unwrap_or("")), Some(c));
    }
    assert_eq!(change_from_sql("removed", ""), None);
    assert_eq!(change_from_sql("frobbed", ""), None);
    assert_eq!(change_from_sql("added zz", ""), None);
}

#[test]
fn an_export_of_a_group_names_it_keeps_its_order_and_says_its_changes() {
    use crate::i18n::Lang;
    let mut s = Store::open_in_memory().unwrap();
    let g = gid(6);
    s.upsert_peer(&super::super::PeerRow {
        id: node(1),
        name: "alice".into(),
        addr: "10.0.0.1:1".parse().unwrap(),
        last_seen_ms: 0,
    })
    .unwrap();
    let created = NewGroupMessage {
        change: Some(Change::Created {
            name: "lunch".into(),
            members: vec![node(2)],
        }),
        ..gmsg(g, 1, 1, 61, 1000, "lunch")
    };
    let added = NewGroupMessage {
        change: Some(Change::Invited(vec![node(3)])),
        ..gmsg(g, 1, 4, 64, 4000, "")
    };
    s.apply_group_batch(
        &GroupBatch {
            messages: vec![created, gmsg(g, 0, 3, 63, 3000, "third"), added],
            infos: vec![GroupInfoRow {
                group: g,
                name: "lunch".into(),
                owner: Some(node(1)),
                members: vec![node(1), node(2), node(3)],
                member: true,
            }],
            ..GroupBatch::default()
        },
        100,
    )
    .unwrap();
    // Arrives last, belongs second.
    s.apply_group_batch(&batch(vec![gmsg(g, 2, 2, 62, 2000, "second")]), 100)
        .unwrap();
    let mut out = Vec::new();
    let conv = ConversationId::Group(g);
    s.export_in(Some(&conv), ExportFormat::Text, &mut out, Lang::En)
        .unwrap();
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], format!("== lunch ({}) ==", g.short()));
    assert!(
        lines[1].ends_with("alice: alice created the group \"lunch\""),
        "{text}"
    );
    assert!(
        lines[2].ends_with(&format!("{}: second", node(2).short())),
        "{text}"
    );
    assert!(lines[3].ends_with("me: third"), "{text}");
    assert!(
        lines[4].ends_with(&format!("alice: alice added {}", node(3).short())),
        "{text}"
    );
    let mut out = Vec::new();
    s.export_in(Some(&conv), ExportFormat::JsonLines, &mut out, Lang::Zh)
        .unwrap();
    let json = String::from_utf8(out).unwrap();
    let first: serde_json::Value = serde_json::from_str(json.lines().next().unwrap()).unwrap();
    assert_eq!(first["conversation"], format!("group-{g}"));
    assert_eq!(first["text"], "alice 创建了群聊“lunch”");
    // All conversations: the group is among them.
    let mut out = Vec::new();
    let n = s
        .export_in(None, ExportFormat::Markdown, &mut out, Lang::En)
        .unwrap();
    assert_eq!(n, 4);
}

#[test]
fn each_authors_latest_entry_is_kept_however_old() {
    let mut s = Store::open_in_memory().unwrap();
    // Member 9 wrote once, long ago; then I wrote past the window.
    let me = Identity::from_secret([7; 32]);
    let mut groups = Groups::new(&me, GroupConfig::default(), 1);
    let now = Instant::now();
    let g = groups.create(now, 1000, "lunch", &[node(9)]).unwrap();
    let theirs = entry::Entry {
        group: g,
        author: Identity::from_secret([9; 32]).public(),
        seq: 1,
        lamport: 2,
        prev: [0; 32],
        sent_at_ms: 1500,
        op: entry::Op::Text {
            text: "once".into(),
            mentions: Mentions::default(),
        },
    }
    .sign(&mut crate::proto::group::sign::Signer::new(
        &Identity::from_secret([9; 32]),
        3,
    ))
    .unwrap();
    let mut kept = vec![theirs.bytes.clone()];
    for i in 0..ENTRY_SLACK + 20 {
        groups
            .send(
                2000 + i as i64,
                g,
                &format!("m{i}"),
                None,
                Mentions::default(),
            )
            .unwrap();
    }
    while let Some(e) = groups.poll_event() {
        if let GroupEvent::Keep { bytes, .. } = e {
            kept.push(bytes);
        }
    }
    s.apply_group_batch(
        &GroupBatch {
            entries: kept.iter().map(|e| (g, e.clone())).collect(),
            ..GroupBatch::default()
        },
        8,
    )
    .unwrap();
    let back = s.group_restore().unwrap().entries;
    assert_eq!(back.len(), 1 + 1 + 8, "the create, theirs, my newest");
    assert!(back.contains(&theirs.bytes));
}
