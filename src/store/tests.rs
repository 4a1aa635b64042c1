#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::single_range_in_vec_init
)]

use super::export::iso_utc;
use super::search::find_matches;
use super::*;
use crate::message::Hit;
use std::time::Instant;

fn node(n: u8) -> NodeId {
    NodeId([n; 32])
}

fn peer_conv(n: u8) -> ConversationId {
    ConversationId::Peer(node(n))
}

fn raw_addr() -> SocketAddr {
    "192.168.1.20:9999".parse().unwrap()
}

fn msg(conv: ConversationId, author: Author, id: u64, t: i64, text: &str) -> NewMessage {
    NewMessage {
        conversation: conv,
        id: MsgId(id),
        author,
        sent_at_ms: t - 5,
        received_at_ms: t,
        text: text.to_owned(),
        state: (author == Author::Me).then_some(DeliveryState::Sending),
        quote: None,
    }
}

/// A peer conversation with `n` messages from the peer, ids 1..=n, times 1000, 2000, ...
fn filled(store: &mut Store, p: u8, n: u64) -> Vec<i64> {
    let c = peer_conv(p);
    let ms: Vec<NewMessage> = (1..=n)
        .map(|i| {
            msg(
                c,
                Author::Peer(node(p)),
                i,
                i as i64 * 1000,
                &format!("m{i}"),
            )
        })
        .collect();
    store.insert_messages(&ms).unwrap();
    store
        .oldest(&c, n as usize)
        .unwrap()
        .iter()
        .map(|m| m.seq)
        .collect()
}

fn seqs(ms: &[StoredMessage]) -> Vec<i64> {
    ms.iter().map(|m| m.seq).collect()
}

fn texts(ms: &[StoredMessage]) -> Vec<&str> {
    ms.iter().map(|m| m.text.as_str()).collect()
}

#[test]
fn round_trip_of_every_field() {
    let mut s = Store::open_in_memory().unwrap();
    let raw = ConversationId::Raw(raw_addr());
    let v6: SocketAddr = "[fe80::1]:47475".parse().unwrap();
    let input = vec![
        NewMessage {
            conversation: peer_conv(1),
            id: MsgId(u64::MAX),
            author: Author::Peer(node(1)),
            sent_at_ms: i64::MIN,
            received_at_ms: i64::MAX,
            text: "第一行\nline two \u{1b}[31m 😀".to_owned(),
            state: None,
            quote: None,
        },
        NewMessage {
            conversation: peer_conv(1),
            id: MsgId(1),
            author: Author::Me,
            sent_at_ms: 1_700_000_000_000,
            received_at_ms: 1_700_000_000_001,
            text: String::new(),
            state: Some(DeliveryState::Queued),
            quote: None,
        },
        NewMessage {
            conversation: raw,
            id: MsgId(0x8000_0000_0000_0000),
            author: Author::Raw(raw_addr()),
            sent_at_ms: -1,
            received_at_ms: 0,
            text: "plain".to_owned(),
            state: None,
            quote: None,
        },
        NewMessage {
            conversation: ConversationId::Raw(v6),
            id: MsgId(7),
            author: Author::Raw(v6),
            sent_at_ms: 5,
            received_at_ms: 6,
            text: "v6".to_owned(),
            state: None,
            quote: None,
        },
    ];
    let mut all = input.clone();
    for (i, state) in [
        DeliveryState::Sending,
        DeliveryState::Sent,
        DeliveryState::Delivered,
        DeliveryState::Read,
        DeliveryState::Failed,
    ]
    .into_iter()
    .enumerate()
    {
        all.push(NewMessage {
            conversation: raw,
            id: MsgId(100 + i as u64),
            author: Author::Me,
            sent_at_ms: 10,
            received_at_ms: 10,
            text: state.as_str().to_owned(),
            state: Some(state),
            quote: None,
        });
    }
    assert_eq!(s.insert_messages(&all).unwrap(), vec![true; all.len()]);

    let mut got = s.latest(&peer_conv(1), 10).unwrap();
    got.extend(s.latest(&raw, 10).unwrap());
    got.extend(s.latest(&ConversationId::Raw(v6), 10).unwrap());
    let mut expected = vec![all[0].clone(), all[1].clone(), all[2].clone()];
    expected.extend(all[4..].iter().cloned());
    expected.push(all[3].clone());
    assert_eq!(got.len(), expected.len());
    for (g, e) in got.iter().zip(&expected) {
        assert_eq!(g.conversation, e.conversation);
        assert_eq!(g.id, e.id);
        assert_eq!(g.author, e.author);
        assert_eq!(g.sent_at_ms, e.sent_at_ms);
        assert_eq!(g.received_at_ms, e.received_at_ms);
        assert_eq!(g.text, e.text);
        assert_eq!(g.state, e.state);
        assert_eq!(g.read, g.author == Author::Me);
    }
    // seq is the order of arrival.
    assert!(got[0].seq < got[1].seq);
    assert!(got[2].seq > got[1].seq);
}

#[test]
fn keys_round_trip() {
    for c in [
        peer_conv(0xab),
        ConversationId::Raw(raw_addr()),
        ConversationId::Raw("[::1]:5".parse().unwrap()),
    ] {
        assert_eq!(conversation_from_key(&conversation_key(&c)), Some(c));
    }
    for a in [Author::Me, Author::Peer(node(3)), Author::Raw(raw_addr())] {
        assert_eq!(Author::from_key(&a.key()), Some(a));
    }
    assert_eq!(Author::Peer(node(0xab)).key(), "ab".repeat(32));
    assert_eq!(Author::from_key("garbage"), None);
}

#[test]
fn a_message_received_twice_is_stored_once() {
    let mut s = Store::open_in_memory().unwrap();
    let c = peer_conv(1);
    let a = msg(c, Author::Peer(node(1)), 42, 1000, "hello");
    let mut again = a.clone();
    again.text = "hello (resent)".to_owned();
    again.received_at_ms = 9000;
    assert_eq!(
        s.insert_messages(&[a.clone(), again.clone()]).unwrap(),
        vec![true, false]
    );
    assert_eq!(s.insert_messages(&[again]).unwrap(), vec![false]);
    // The same id from another author, or from me, is another message.
    let other = msg(c, Author::Peer(node(2)), 42, 2000, "other author");
    let mine = msg(c, Author::Me, 42, 3000, "mine");
    assert_eq!(s.insert_messages(&[other, mine]).unwrap(), vec![true, true]);
    let got = s.latest(&c, 10).unwrap();
    assert_eq!(texts(&got), ["hello", "other author", "mine"]);
    let conv = &s.conversations().unwrap()[0];
    assert_eq!(conv.unread, 2, "the duplicate is not counted as unread");
    assert_eq!(conv.last_activity_ms, 3000);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]

    /// A batch goes in as multi-row statements (64, 32, ... rows); whatever its size and
    /// however many copies it holds (of stored messages or of each other), the outcome is
    /// that of inserting its messages one at a time: the same flags, seqs, rows and counts.
    #[test]
    fn a_batch_is_stored_as_one_at_a_time_would_be(
        stored_first in proptest::collection::vec((0u8..3, 0u64..40), 0..20),
        batch in proptest::collection::vec((0u8..3, 0u64..40, 0u8..2), 0..150),
    ) {
        let make = |(who, id, conv): (u8, u64, u8)| {
            let author = if who == 0 { Author::Me } else { Author::Peer(node(who)) };
            let mut m = msg(peer_conv(conv + 1), author, id, id as i64 * 10, &format!("{who}/{id}"));
            if id % 7 == 3 {
                m.quote = Some(Quote {
                    id: MsgId(id - 1),
                    author: node(who.max(1)),
                    excerpt: format!("quoted {id}"),
                });
            }
            m
        };
        let first: Vec<NewMessage> = stored_first.iter().map(|&(w, i)| make((w, i, 0))).collect();
        let batch: Vec<NewMessage> = batch.into_iter().map(make).collect();

        let mut together = Store::open_in_memory().unwrap();
        let mut one_by_one = Store::open_in_memory().unwrap();
        together.set_me(node(99));
        one_by_one.set_me(node(99));
        together.insert_messages_with_seq(&first).unwrap();
        for m in &first {
            one_by_one.insert_messages_with_seq(std::slice::from_ref(m)).unwrap();
        }
        let got = together.insert_messages_with_seq(&batch).unwrap();
        let want: Vec<Option<i64>> = batch
            .iter()
            .map(|m| one_by_one.insert_messages_with_seq(std::slice::from_ref(m)).unwrap()[0])
            .collect();
        proptest::prop_assert_eq!(&got, &want);
        let new_seqs: Vec<i64> = got.iter().flatten().copied().collect();
        proptest::prop_assert!(new_seqs.windows(2).all(|w| w[0] < w[1]), "seqs in batch order");
        for conv in [peer_conv(1), peer_conv(2)] {
            proptest::prop_assert_eq!(
                together.oldest(&conv, 1000).unwrap(),
                one_by_one.oldest(&conv, 1000).unwrap()
            );
        }
        proptest::prop_assert_eq!(together.conversations().unwrap(), one_by_one.conversations().unwrap());
    }
}

#[test]
fn a_failed_batch_stores_nothing() {
    let mut s = Store::open_in_memory().unwrap();
    // Make the second insert fail inside the transaction.
    s.conn
        .execute_batch(
            "CREATE TRIGGER refuse BEFORE INSERT ON messages WHEN new.text = 'bad'
             BEGIN SELECT RAISE(ABORT, 'refused'); END;",
        )
        .unwrap();
    let c = peer_conv(1);
    let batch = [
        msg(c, Author::Peer(node(1)), 1, 1, "ok"),
        msg(c, Author::Peer(node(1)), 2, 2, "bad"),
    ];
    let err = s.insert_messages(&batch).unwrap_err();
    assert!(err.to_string().contains("refused"), "{err}");
    assert!(s.latest(&c, 10).unwrap().is_empty());
    assert_eq!(s.insert_messages(&batch[..1]).unwrap(), vec![true]);
}

#[test]
fn paging_at_the_boundaries() {
    let mut s = Store::open_in_memory().unwrap();
    let c = peer_conv(1);
    // Interleave another conversation so that seqs have gaps.
    for i in 1..=10u64 {
        s.insert_messages(&[
            msg(c, Author::Peer(node(1)), i, i as i64, &format!("m{i}")),
            msg(peer_conv(2), Author::Peer(node(2)), i, i as i64, "x"),
        ])
        .unwrap();
    }
    let all = s.oldest(&c, 100).unwrap();
    assert_eq!(all.len(), 10);
    let q: Vec<i64> = seqs(&all);
    assert!(q.windows(2).all(|w| w[1] == w[0] + 2));

    assert_eq!(seqs(&s.latest(&c, 3).unwrap()), q[7..]);
    assert_eq!(seqs(&s.latest(&c, 100).unwrap()), q);
    assert!(s.latest(&c, 0).unwrap().is_empty());
    assert_eq!(seqs(&s.oldest(&c, 3).unwrap()), q[..3]);

    assert_eq!(seqs(&s.before(&c, q[5], 3).unwrap()), q[2..5]);
    assert_eq!(seqs(&s.before(&c, q[2], 3).unwrap()), q[..2]);
    assert!(s.before(&c, q[0], 3).unwrap().is_empty());
    // An anchor between two seqs (from the other conversation) works too.
    assert_eq!(seqs(&s.before(&c, q[5] + 1, 2).unwrap()), q[4..6]);

    assert_eq!(seqs(&s.after(&c, q[5], 3).unwrap()), q[6..9]);
    assert_eq!(seqs(&s.after(&c, q[7], 3).unwrap()), q[8..]);
    assert!(s.after(&c, q[9], 3).unwrap().is_empty());
    assert_eq!(seqs(&s.after(&c, 0, 2).unwrap()), q[..2]);

    assert_eq!(seqs(&s.around(&c, q[5], 4).unwrap()), q[3..7]);
    assert_eq!(seqs(&s.around(&c, q[5], 5).unwrap()), q[3..8]);
    assert_eq!(seqs(&s.around(&c, q[0], 4).unwrap()), q[..4]);
    assert_eq!(seqs(&s.around(&c, q[9], 4).unwrap()), q[6..]);
    assert_eq!(seqs(&s.around(&c, q[8], 4).unwrap()), q[6..]);
    assert_eq!(seqs(&s.around(&c, q[5], 100).unwrap()), q);
    assert!(s.around(&c, q[5], 0).unwrap().is_empty());
    assert_eq!(seqs(&s.around(&c, q[5], 1).unwrap()), q[5..6]);

    let nobody = peer_conv(9);
    assert!(s.latest(&nobody, 10).unwrap().is_empty());
    assert!(s.around(&nobody, 1, 10).unwrap().is_empty());
}

#[test]
fn unread_counts_and_mark_read() {
    let mut s = Store::open_in_memory().unwrap();
    let c = peer_conv(1);
    let q = filled(&mut s, 1, 5);
    s.insert_messages(&[msg(c, Author::Me, 99, 9000, "mine")])
        .unwrap();
    let unread = |s: &Store| s.conversations().unwrap()[0].unread;
    assert_eq!(unread(&s), 5, "my own message is not unread");

    s.mark_read(&c, q[2]).unwrap();
    assert_eq!(unread(&s), 2);
    let page = s.latest(&c, 10).unwrap();
    let read: Vec<bool> = page.iter().map(|m| m.read).collect();
    assert_eq!(read, [true, true, true, false, false, true]);

    // Never backwards.
    s.mark_read(&c, q[0]).unwrap();
    assert_eq!(unread(&s), 2);
    assert_eq!(s.conversations().unwrap()[0].last_read_seq, q[2]);

    // Past the end: clamped, so later messages are unread again.
    s.mark_read(&c, i64::MAX).unwrap();
    assert_eq!(unread(&s), 0);
    s.insert_messages(&[msg(c, Author::Peer(node(1)), 50, 10_000, "new")])
        .unwrap();
    assert_eq!(unread(&s), 1);
    assert!(!s.latest(&c, 1).unwrap()[0].read);

    // Marking an unknown conversation is a no-op.
    s.mark_read(&peer_conv(7), 5).unwrap();
    assert_eq!(s.conversations().unwrap().len(), 1);
}

#[test]
fn conversation_list_settings_and_order() {
    let mut s = Store::open_in_memory().unwrap();
    let (a, b, c) = (peer_conv(1), peer_conv(2), ConversationId::Raw(raw_addr()));
    s.insert_messages(&[
        msg(a, Author::Peer(node(1)), 1, 1000, "old"),
        msg(b, Author::Me, 2, 3000, &"long ".repeat(100)),
        msg(a, Author::Me, 3, 2000, "newer in a"),
    ])
    .unwrap();
    // Settings create the row.
    s.set_draft(&c, "half-typed").unwrap();
    let rows = s.conversations().unwrap();
    assert_eq!(
        rows.iter().map(|r| r.id).collect::<Vec<_>>(),
        [b, a, c],
        "most recent activity first"
    );
    assert_eq!(rows[1].last_preview.as_deref(), Some("newer in a"));
    assert_eq!(rows[1].last_activity_ms, 2000);
    assert_eq!(rows[1].unread, 1);
    assert_eq!(
        rows[0].last_preview.as_ref().unwrap().chars().count(),
        PREVIEW_CHARS as usize
    );
    assert_eq!(rows[2].last_preview, None);
    assert_eq!(rows[2].last_activity_ms, 0);
    assert_eq!(rows[2].draft, "half-typed");

    s.set_pinned(&c, true).unwrap();
    s.set_muted(&a, true).unwrap();
    s.set_alias(&a, Some("Alice".to_owned())).unwrap();
    let rows = s.conversations().unwrap();
    assert_eq!(rows.iter().map(|r| r.id).collect::<Vec<_>>(), [c, b, a]);
    assert!(rows[0].pinned && !rows[0].muted);
    assert!(rows[2].muted && !rows[2].pinned);
    assert_eq!(rows[2].alias.as_deref(), Some("Alice"));
    assert_eq!(rows[0].draft, "half-typed");

    s.set_alias(&a, None).unwrap();
    s.set_pinned(&c, false).unwrap();
    s.set_draft(&c, "").unwrap();
    let rows = s.conversations().unwrap();
    assert_eq!(rows[2].alias, None);
    assert!(!rows.iter().any(|r| r.pinned));
    assert_eq!(rows[2].draft, "");
}

#[test]
fn delivery_states_move_forward_only() {
    let mut s = Store::open_in_memory().unwrap();
    let c = peer_conv(1);
    s.insert_messages(&[
        msg(c, Author::Me, 1, 1, "a"),
        msg(c, Author::Me, 2, 2, "b"),
        msg(c, Author::Peer(node(1)), 1, 3, "theirs, same id"),
    ])
    .unwrap();
    let states = |s: &Store| -> Vec<Option<DeliveryState>> {
        s.latest(&c, 10).unwrap().iter().map(|m| m.state).collect()
    };
    use DeliveryState::*;
    s.set_states(&[(MsgId(1), Failed), (MsgId(2), Read), (MsgId(77), Sent)])
        .unwrap();
    assert_eq!(states(&s), [Some(Failed), Some(Read), None]);
    // Resending a failed one is fine; read never goes back.
    s.set_states(&[(MsgId(1), Sending), (MsgId(2), Delivered)])
        .unwrap();
    assert_eq!(states(&s), [Some(Sending), Some(Read), None]);
    s.set_states(&[(MsgId(1), Delivered)]).unwrap();
    s.set_states(&[(MsgId(1), Sending)]).unwrap();
    assert_eq!(states(&s), [Some(Delivered), Some(Read), None]);
    s.set_states(&[(MsgId(1), Read), (MsgId(2), Failed)])
        .unwrap();
    assert_eq!(states(&s), [Some(Read), Some(Read), None]);
}

#[test]
fn peers_round_trip() {
    let mut s = Store::open_in_memory().unwrap();
    let a = PeerRow {
        id: node(1),
        name: "alice 爱丽丝".to_owned(),
        addr: "10.0.0.1:47475".parse().unwrap(),
        last_seen_ms: 100,
    };
    let b = PeerRow {
        id: node(2),
        name: "bob".to_owned(),
        addr: "[::1]:5".parse().unwrap(),
        last_seen_ms: 200,
    };
    s.upsert_peer(&a).unwrap();
    s.upsert_peer(&b).unwrap();
    assert_eq!(s.peers().unwrap(), [b.clone(), a.clone()]);
    let a2 = PeerRow {
        name: "alice2".to_owned(),
        addr: "10.0.0.2:1".parse().unwrap(),
        last_seen_ms: 300,
        ..a
    };
    s.upsert_peer(&a2).unwrap();
    assert_eq!(s.peers().unwrap(), [a2, b]);
}

#[test]
fn outbox_round_trip() {
    let mut s = Store::open_in_memory().unwrap();
    let row = |id: u64, text: &str| OutboxRow {
        id: MsgId(id),
        to: node(id as u8),
        sent_at_ms: id as i64 * 10,
        body: Body::Text(text.to_owned()),
    };
    s.outbox_add(&row(u64::MAX, "first")).unwrap();
    s.outbox_add(&row(2, "second")).unwrap();
    s.outbox_add(&row(3, "third")).unwrap();
    assert_eq!(
        s.outbox().unwrap(),
        [row(u64::MAX, "first"), row(2, "second"), row(3, "third")]
    );
    // Adding again replaces in place.
    s.outbox_add(&row(2, "second, edited")).unwrap();
    s.outbox_remove(&[MsgId(u64::MAX), MsgId(12345)]).unwrap();
    assert_eq!(
        s.outbox().unwrap(),
        [row(2, "second, edited"), row(3, "third")]
    );
    s.outbox_remove(&[MsgId(3), MsgId(2)]).unwrap();
    assert_eq!(s.outbox().unwrap(), []);
}

#[test]
fn a_new_file_is_created_migrated_and_reopened() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/dir/history.db");
    {
        let mut s = Store::open(&path).unwrap();
        assert_eq!(s.schema_version().unwrap(), SCHEMA_VERSION);
        assert_eq!(s.integrity_check().unwrap(), "ok");
        let app: i64 = s
            .conn
            .pragma_query_value(None, "application_id", |r| r.get(0))
            .unwrap();
        assert_eq!(app, i64::from(APPLICATION_ID));
        let mode: String = s
            .conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let fk: i64 = s
            .conn
            .pragma_query_value(None, "foreign_keys", |r| r.get(0))
            .unwrap();
        assert_eq!(fk, 1);
        let sync: i64 = s
            .conn
            .pragma_query_value(None, "synchronous", |r| r.get(0))
            .unwrap();
        assert_eq!(sync, 1, "NORMAL");
        filled(&mut s, 1, 3);
        s.set_alias(&peer_conv(1), Some("A".into())).unwrap();
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "history is private");
    }
    let s = Store::open(&path).unwrap();
    assert_eq!(s.schema_version().unwrap(), SCHEMA_VERSION);
    assert_eq!(
        texts(&s.latest(&peer_conv(1), 10).unwrap()),
        ["m1", "m2", "m3"]
    );
    assert_eq!(s.conversations().unwrap()[0].alias.as_deref(), Some("A"));
}

#[test]
fn migrations_start_from_an_empty_file_or_empty_database() {
    let dir = tempfile::tempdir().unwrap();
    // A zero-length file.
    let empty = dir.path().join("empty.db");
    std::fs::write(&empty, b"").unwrap();
    assert_eq!(
        Store::open(&empty).unwrap().schema_version().unwrap(),
        SCHEMA_VERSION
    );
    // An SQLite database with nothing in it.
    let blank = dir.path().join("blank.db");
    rusqlite::Connection::open(&blank)
        .unwrap()
        .execute_batch("CREATE TABLE t (x); DROP TABLE t;")
        .unwrap();
    assert!(std::fs::metadata(&blank).unwrap().len() > 0);
    assert_eq!(
        Store::open(&blank).unwrap().schema_version().unwrap(),
        SCHEMA_VERSION
    );
    // Each step's version is what it says.
    let conn = rusqlite::Connection::open_in_memory().unwrap();
    for (i, step) in schema::MIGRATIONS.iter().enumerate() {
        conn.execute_batch(step).unwrap();
        conn.pragma_update(None, "user_version", i as i64 + 1)
            .unwrap();
    }
    let app: i64 = conn
        .pragma_query_value(None, "application_id", |r| r.get(0))
        .unwrap();
    assert_eq!(app, i64::from(APPLICATION_ID));
}

#[test]
fn committed_data_survives_a_connection_that_never_closed() {
    // Like a SIGKILL: the connection is leaked, so there is no checkpoint on close and the
    // data is only in the -wal file.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.db");
    let mut s = Store::open(&path).unwrap();
    filled(&mut s, 1, 3);
    std::mem::forget(s);
    assert!(dir.path().join("h.db-wal").exists());
    let s = Store::open(&path).unwrap();
    assert_eq!(s.latest(&peer_conv(1), 10).unwrap().len(), 3);
}

/// Name, length and a hash of every file in `dir` but `-shm` files (SQLite's shared-memory
/// index, which every reader writes to and may create).
fn snapshot(dir: &Path) -> Vec<(String, usize, u64)> {
    use std::hash::{Hash, Hasher};
    let mut files: Vec<(String, usize, u64)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let bytes = std::fs::read(e.path()).unwrap();
            let mut h = std::collections::hash_map::DefaultHasher::new();
            bytes.hash(&mut h);
            (
                e.file_name().to_string_lossy().into_owned(),
                bytes.len(),
                h.finish(),
            )
        })
        .filter(|(name, _, _)| !name.ends_with("-shm"))
        .collect();
    files.sort();
    files
}

/// Opening `path` fails with an error naming the file and saying it was left untouched,
/// and the bytes of every file in its directory stay the same. With `sqlite_looked`, SQLite
/// had to open the file (read-only) to judge it, and may have created empty `-wal`/`-shm`
/// side files next to a WAL-mode database; otherwise no file may appear at all.
fn refused(path: &Path, sqlite_looked: bool) -> StoreError {
    let dir = path.parent().unwrap();
    let before = snapshot(dir);
    let err = Store::open(path).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    assert!(msg.contains("left untouched"), "{msg}");
    let mut after = snapshot(dir);
    if sqlite_looked {
        after.retain(|(name, len, _)| {
            !(name.ends_with("-wal") && *len == 0) || before.iter().any(|b| &b.0 == name)
        });
    }
    assert_eq!(after, before, "files changed by a failed open");
    err
}

#[test]
fn a_garbage_file_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    let garbage: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&path, &garbage).unwrap();
    let err = refused(&path, false);
    assert!(matches!(err, StoreError::NotLanchat { .. }), "{err:?}");
    assert!(err.to_string().contains("file is not a database"), "{err}");
    // Even a short text file.
    std::fs::write(&path, b"hello\n").unwrap();
    assert!(matches!(
        refused(&path, false),
        StoreError::NotLanchat { .. }
    ));
    // Or one with SQLite's magic and nothing valid after it: SQLite itself says no.
    let mut fake = b"SQLite format 3\0".to_vec();
    fake.resize(4096, 0xff);
    std::fs::write(&path, &fake).unwrap();
    let err = refused(&path, true);
    assert!(
        matches!(
            err,
            StoreError::NotLanchat { .. } | StoreError::Damaged { .. }
        ),
        "{err:?}"
    );
}

#[test]
fn another_programs_database_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         CREATE TABLE t (x); INSERT INTO t VALUES (1), (2);",
    )
    .unwrap();
    // Leave its -wal file behind: closing our connection must not checkpoint it into the file.
    std::mem::forget(conn);
    assert!(dir.path().join("other.db-wal").exists());
    let err = refused(&path, true);
    assert!(matches!(err, StoreError::NotLanchat { .. }), "{err:?}");

    let path = dir.path().join("other-app.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("PRAGMA application_id = 42;").unwrap();
    drop(conn);
    let err = refused(&path, false);
    assert!(err.to_string().contains("application_id 0x2a"), "{err}");
}

#[test]
fn a_newer_schema_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.db");
    let mut s = Store::open(&path).unwrap();
    filled(&mut s, 1, 2);
    s.conn
        .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .unwrap();
    drop(s);
    let err = refused(&path, false);
    assert!(
        matches!(err, StoreError::TooNew { found, known, .. } if found == SCHEMA_VERSION + 1 && known == SCHEMA_VERSION),
        "{err:?}"
    );
}

#[test]
fn a_damaged_database_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.db");
    let mut s = Store::open(&path).unwrap();
    filled(&mut s, 1, 2000);
    drop(s); // checkpoints everything into the file
    let mut bytes = std::fs::read(&path).unwrap();
    let page = 4096;
    assert!(bytes.len() > 8 * page);
    // Scribble over the middle of the file (keeping the header and the schema page).
    for b in &mut bytes[3 * page..6 * page] {
        *b = 0x55;
    }
    std::fs::write(&path, &bytes).unwrap();
    let err = refused(&path, true);
    assert!(matches!(err, StoreError::Damaged { .. }), "{err:?}");
}

#[test]
fn a_full_disk_is_an_error_and_the_store_stays_usable() {
    let mut s = Store::open_in_memory().unwrap();
    filled(&mut s, 1, 3);
    let pages: i64 = s
        .conn
        .pragma_query_value(None, "page_count", |r| r.get(0))
        .unwrap();
    s.conn
        .pragma_update(None, "max_page_count", pages + 2)
        .unwrap();
    let c = peer_conv(1);
    let big: Vec<NewMessage> = (100..400)
        .map(|i| msg(c, Author::Peer(node(1)), i, i as i64, &"x".repeat(1000)))
        .collect();
    let err = s.insert_messages(&big).unwrap_err();
    assert!(err.is_disk_full(), "{err:?}");
    assert!(err.to_string().contains("full"), "{err}");
    assert_eq!(s.latest(&c, 10).unwrap().len(), 3);
    assert_eq!(s.integrity_check().unwrap(), "ok");
}

fn search_store() -> Store {
    let mut s = Store::open_in_memory().unwrap();
    let (a, b) = (peer_conv(1), ConversationId::Raw(raw_addr()));
    let lines: &[(ConversationId, Author, &str)] = &[
        (a, Author::Peer(node(1)), "你吃饭了吗？"),
        (a, Author::Me, "吃饭了，今天天气不错"),
        (b, Author::Raw(raw_addr()), "Hello World, hello again"),
        (a, Author::Me, "我们 ok 去吃饭吧 OK?"),
        (b, Author::Me, "100% sure: a_b isn't abc * \"quoted\""),
        (a, Author::Peer(node(1)), "cats AND dogs, NEAR(x y) OR not"),
        (b, Author::Raw(raw_addr()), "band and candy"),
        (a, Author::Peer(node(1)), "饭"),
    ];
    let ms: Vec<NewMessage> = lines
        .iter()
        .enumerate()
        .map(|(i, (c, au, t))| msg(*c, *au, i as u64 + 1, 1000 * (i as i64 + 1), t))
        .collect();
    s.insert_messages(&ms).unwrap();
    s
}

fn hit_texts(hits: &[Hit]) -> Vec<&str> {
    hits.iter().map(|h| h.text.as_str()).collect()
}

#[test]
fn search_chinese_short_and_long() {
    let s = search_store();
    // Two characters: not reachable by the trigram index.
    let hits = s.search("吃饭", 10).unwrap();
    assert_eq!(
        hit_texts(&hits),
        [
            "我们 ok 去吃饭吧 OK?",
            "吃饭了，今天天气不错",
            "你吃饭了吗？"
        ],
        "newest first"
    );
    assert_eq!(hits[0].matches, [13..19]);
    assert_eq!(&hits[0].text[13..19], "吃饭");
    assert_eq!(hits[0].conversation, peer_conv(1));
    assert_eq!(hits[0].author, Author::Me);
    assert_eq!(hits[0].id, MsgId(4));
    assert_eq!(hits[0].time_ms, 4000);
    assert_eq!(s.latest(&peer_conv(1), 10).unwrap()[2].seq, hits[0].seq);
    assert_eq!(
        hit_texts(&s.search("天气", 10).unwrap()),
        ["吃饭了，今天天气不错"]
    );
    // One character.
    assert_eq!(s.search("饭", 10).unwrap().len(), 4);
    assert_eq!(s.search("饭", 2).unwrap().len(), 2);
    // Three or more: the trigram index.
    assert_eq!(
        hit_texts(&s.search("吃饭了", 10).unwrap()),
        ["吃饭了，今天天气不错", "你吃饭了吗？"]
    );
    assert_eq!(
        hit_texts(&s.search("今天天气不错", 10).unwrap()),
        ["吃饭了，今天天气不错"]
    );
    assert!(s.search("吃饭饭", 10).unwrap().is_empty());
}

#[test]
fn search_english_is_case_insensitive() {
    let s = search_store();
    let hits = s.search("HELLO", 10).unwrap();
    assert_eq!(hit_texts(&hits), ["Hello World, hello again"]);
    assert_eq!(hits[0].matches, [0..5, 13..18]);
    assert_eq!(hits[0].conversation, ConversationId::Raw(raw_addr()));
    assert_eq!(hits[0].author, Author::Raw(raw_addr()));
    assert_eq!(s.search("world, HEL", 10).unwrap().len(), 1);
    assert_eq!(s.search("  hello  ", 10).unwrap().len(), 1, "trimmed");
    // Short ASCII goes the LIKE way, also case-insensitive.
    let ok = s.search("oK", 10).unwrap();
    assert_eq!(hit_texts(&ok), ["我们 ok 去吃饭吧 OK?"]);
    assert_eq!(ok[0].matches, [7..9, 23..25]);
    assert!(s.search("", 10).unwrap().is_empty());
    assert!(s.search("   ", 10).unwrap().is_empty());
    assert!(s.search("hello", 0).unwrap().is_empty());
}

#[test]
fn search_mixed_text() {
    let s = search_store();
    assert_eq!(
        hit_texts(&s.search("ok 去吃", 10).unwrap()),
        ["我们 ok 去吃饭吧 OK?"]
    );
    assert_eq!(
        hit_texts(&s.search("饭吧 o", 10).unwrap()),
        ["我们 ok 去吃饭吧 OK?"]
    );
}

#[test]
fn search_special_characters_are_literal() {
    let s = search_store();
    let only = |q: &str| -> Vec<String> {
        s.search(q, 10)
            .unwrap_or_else(|e| panic!("{q:?}: {e}"))
            .into_iter()
            .map(|h| h.text)
            .collect()
    };
    let quoted = "100% sure: a_b isn't abc * \"quoted\"";
    assert_eq!(only("%"), [quoted]);
    assert_eq!(only("0%"), [quoted]);
    assert_eq!(only("_"), [quoted]);
    assert_eq!(only("a_b"), [quoted]);
    assert!(only("a_c").is_empty(), "_ is not a wildcard");
    assert!(only("1%s").is_empty(), "% is not a wildcard");
    assert_eq!(only("*"), [quoted]);
    assert_eq!(only("c * \""), [quoted]);
    assert_eq!(only("\"quoted\""), [quoted]);
    assert_eq!(only("\""), [quoted]);
    assert_eq!(only("'"), [quoted]);
    assert_eq!(only("isn't"), [quoted]);
    assert!(only("ab*").is_empty(), "* is not a prefix operator");
    assert_eq!(
        only("AND"),
        ["band and candy", "cats AND dogs, NEAR(x y) OR not"]
    );
    assert_eq!(only("NEAR("), ["cats AND dogs, NEAR(x y) OR not"]);
    assert_eq!(only("x y) OR"), ["cats AND dogs, NEAR(x y) OR not"]);
    assert!(only("cats OR band").is_empty(), "OR is not an operator");
    assert!(only("cats dogs").is_empty(), "a phrase, not two words");
    for q in [
        "\\",
        "\\%",
        "^",
        "-",
        "--",
        "-x",
        ":",
        "a:b",
        "(",
        ")",
        "{",
        "}",
        "+",
        "NOT",
        "\"\"\"",
        "'\"",
        "%%%",
        "___",
        "text:",
        "*:*",
        "NEAR",
        ";",
        "\u{0}",
        "\u{0}\u{0}\u{0}",
    ] {
        s.search(q, 10).unwrap_or_else(|e| panic!("{q:?}: {e}"));
    }
}

#[test]
fn highlight_ranges() {
    assert_eq!(find_matches("aaaa", "aa"), [0..2, 2..4]);
    assert_eq!(find_matches("Straße STRASSE", "straße"), [0..7]);
    assert_eq!(find_matches("ÉCOLE école", "École"), [0..6, 7..13]);
    assert!(find_matches("abc", "").is_empty());
    assert!(find_matches("", "a").is_empty());
    assert_eq!(find_matches("吃吃饭", "吃饭"), [3..9]);
}

#[test]
fn iso_times() {
    assert_eq!(iso_utc(0, false), "1970-01-01T00:00:00Z");
    assert_eq!(iso_utc(-1, true), "1969-12-31T23:59:59.999Z");
    assert_eq!(iso_utc(1_709_164_805_123, true), "2024-02-29T00:00:05.123Z");
    assert_eq!(iso_utc(1_704_067_199_000, false), "2023-12-31T23:59:59Z");
    // No panic at the extremes.
    iso_utc(i64::MAX, true);
    iso_utc(i64::MIN, true);
}

/// 2024-01-01T12:00:00Z
const NOON: i64 = 1_704_110_400_000;

fn export_store() -> Store {
    let mut s = Store::open_in_memory().unwrap();
    let a = peer_conv(0xab);
    let r = ConversationId::Raw(raw_addr());
    s.upsert_peer(&PeerRow {
        id: node(0xab),
        name: "alice*".to_owned(),
        addr: "10.0.0.1:47475".parse().unwrap(),
        last_seen_ms: 0,
    })
    .unwrap();
    let mut m1 = msg(a, Author::Peer(node(0xab)), 0x1234, NOON, "hi _there_");
    m1.state = None;
    let mut m2 = msg(
        a,
        Author::Me,
        0xfedc_ba98_7654_3210,
        NOON + 5_250,
        "two\nlines\n- no list",
    );
    m2.state = Some(DeliveryState::Delivered);
    let m3 = msg(
        r,
        Author::Raw(raw_addr()),
        7,
        NOON + 60_000,
        "bell\u{7} \"q\"",
    );
    s.insert_messages(&[m1, m2, m3]).unwrap();
    s
}

fn export_to_string(s: &Store, conv: Option<&ConversationId>, f: ExportFormat) -> (usize, String) {
    let mut out = Vec::new();
    let n = s.export(conv, f, &mut out).unwrap();
    (n, String::from_utf8(out).unwrap())
}

#[test]
fn an_export_says_a_message_was_recalled_and_speaks_the_interface_language() {
    use crate::i18n::Lang;
    let mut s = export_store();
    let conv = peer_conv(0xab);
    assert!(
        s.recall(&conv, Author::Peer(node(0xab)), MsgId(0x1234), None)
            .unwrap()
    );
    let export = |lang, f| {
        let mut out = Vec::new();
        s.export_in(Some(&conv), f, &mut out, lang).unwrap();
        String::from_utf8(out).unwrap()
    };
    let md = export(Lang::En, ExportFormat::Markdown);
    assert!(md.contains("(2024-01-01T12:00:00Z): (recalled)"), "{md}");
    assert!(md.contains("**me** ("), "{md}");
    let txt = export(Lang::Zh, ExportFormat::Text);
    assert!(txt.contains("alice*: （已撤回）"), "{txt}");
    assert!(txt.contains("] 我: two"), "{txt}");
    // JSON lines are for programs: the text is gone, and a flag says why.
    let json = export(Lang::Zh, ExportFormat::JsonLines);
    let first: serde_json::Value = serde_json::from_str(json.lines().next().unwrap()).unwrap();
    assert_eq!(first["text"], "");
    assert_eq!(first["recalled"], true);
    let second: serde_json::Value = serde_json::from_str(json.lines().nth(1).unwrap()).unwrap();
    assert!(second.get("recalled").is_none(), "{second}");
}

#[test]
fn export_markdown() {
    let s = export_store();
    let (n, md) = export_to_string(&s, Some(&peer_conv(0xab)), ExportFormat::Markdown);
    assert_eq!(n, 2);
    assert_eq!(
        md,
        "# alice\\* (abababab)\n\
         \n\
         **alice\\*** (2024-01-01T12:00:00Z): hi \\_there\\_\n\
         \n\
         **me** (2024-01-01T12:00:05Z): two  \nlines  \n\\- no list\n\
         \n"
    );
}

#[test]
fn export_text_all_conversations() {
    let mut s = export_store();
    s.set_alias(&ConversationId::Raw(raw_addr()), Some("nc".into()))
        .unwrap();
    let (n, text) = export_to_string(&s, None, ExportFormat::Text);
    assert_eq!(n, 3);
    assert_eq!(
        text,
        "== alice* (abababab) ==\n\
         [2024-01-01T12:00:00Z] alice*: hi _there_\n\
         [2024-01-01T12:00:05Z] me: two\n    lines\n    - no list\n\
         \n\
         == nc (192.168.1.20:9999) ==\n\
         [2024-01-01T12:01:00Z] nc: bell^G \"q\"\n\
         \n"
    );
}

#[test]
fn export_json_lines() {
    let s = export_store();
    let (n, json) = export_to_string(&s, None, ExportFormat::JsonLines);
    assert_eq!(n, 3);
    let ab = "ab".repeat(32);
    assert_eq!(
        json,
        format!(
            "{{\"conversation\":\"{ab}\",\"id\":\"0000000000001234\",\"author\":\"{ab}\",\"time\":\"2024-01-01T12:00:00.000Z\",\"text\":\"hi _there_\",\"state\":null}}\n\
             {{\"conversation\":\"{ab}\",\"id\":\"fedcba9876543210\",\"author\":\"me\",\"time\":\"2024-01-01T12:00:05.250Z\",\"text\":\"two\\nlines\\n- no list\",\"state\":\"delivered\"}}\n\
             {{\"conversation\":\"192.168.1.20:9999\",\"id\":\"0000000000000007\",\"author\":\"192.168.1.20:9999\",\"time\":\"2024-01-01T12:01:00.000Z\",\"text\":\"bell\\u0007 \\\"q\\\"\",\"state\":null}}\n"
        )
    );
    // Each line is valid JSON.
    for line in json.lines() {
        serde_json::from_str::<serde_json::Value>(line).unwrap();
    }
    // Nothing for an unknown conversation.
    assert_eq!(
        export_to_string(&s, Some(&peer_conv(9)), ExportFormat::Markdown),
        (0, String::new())
    );
}

#[test]
fn export_write_errors_surface() {
    struct Broken;
    impl std::io::Write for Broken {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::new(
                std::io::ErrorKind::StorageFull,
                "disk full",
            ))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let s = export_store();
    for f in [
        ExportFormat::Markdown,
        ExportFormat::Text,
        ExportFormat::JsonLines,
    ] {
        let err = s.export(None, f, &mut Broken).unwrap_err();
        assert!(err.is_disk_full(), "{err:?}");
    }
}

fn timed<T>(label: &str, f: impl FnOnce() -> T) -> T {
    let t = Instant::now();
    let out = f();
    eprintln!("{label}: {:?}", t.elapsed());
    out
}

/// Paging stays instant on a conversation with a million messages.
#[test]
fn a_million_messages_page_instantly() {
    const N: u64 = 1_000_000;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.db");
    let mut s = Store::open(&path).unwrap();
    let c = peer_conv(1);
    let other = peer_conv(2);
    let ms: Vec<NewMessage> = (1..=N)
        .map(|i| {
            let (conv, author) = if i % 100 == 0 {
                (other, Author::Peer(node(2)))
            } else if i % 3 == 0 {
                (c, Author::Me)
            } else {
                (c, Author::Peer(node(1)))
            };
            let text = if i % 10_000 == 7 {
                format!("message {i} 我们去吃饭吧 rare-needle")
            } else {
                format!("message {i} hello world")
            };
            msg(conv, author, i, i as i64, &text)
        })
        .collect();
    let t = Instant::now();
    let new = s.insert_messages(&ms).unwrap();
    let insert = t.elapsed();
    eprintln!("insert {N} messages in one transaction: {insert:?}");
    assert!(new.iter().all(|n| *n));
    drop(ms);

    // Warm up the statement cache and page cache, then time each call.
    s.latest(&c, 50).unwrap();
    let latest = timed("latest(50)", || s.latest(&c, 50).unwrap());
    assert_eq!(latest.len(), 50);
    assert_eq!(latest[49].id, MsgId(N - 1));
    assert_eq!(latest[49].text, format!("message {} hello world", N - 1));
    let oldest = timed("oldest(50)", || s.oldest(&c, 50).unwrap());
    assert_eq!(oldest[0].id, MsgId(1));
    assert_eq!(oldest[0].seq, 1);
    // Seqs are 1..=N in insertion order; this one and its neighbours are in `c`.
    let mid = 500_005;
    let before = timed("before(mid, 50)", || s.before(&c, mid, 50).unwrap());
    assert_eq!(before.len(), 50);
    assert!(before.iter().all(|m| m.seq < mid && m.conversation == c));
    assert!(before.windows(2).all(|w| w[0].seq < w[1].seq));
    assert_eq!(before[49].seq, mid - 1);
    let after = timed("after(mid, 50)", || s.after(&c, mid, 50).unwrap());
    assert_eq!(after[0].seq, mid + 1);
    let around = timed("around(mid, 50)", || s.around(&c, mid, 50).unwrap());
    assert_eq!(around.len(), 50);
    assert_eq!(around[25].seq, mid);
    let page_times: Vec<std::time::Duration> = (0..100)
        .map(|i| {
            let t = Instant::now();
            s.before(&c, mid - i * 5000, 50).unwrap();
            t.elapsed()
        })
        .collect();
    let worst = page_times.iter().max().unwrap();
    eprintln!("before(.., 50) x100 at scattered anchors, worst: {worst:?}");

    let convs = timed("conversations()", || s.conversations().unwrap());
    assert_eq!(convs.iter().map(|r| r.id).collect::<Vec<_>>(), [other, c]);
    let unread = (1..=N).filter(|i| i % 100 != 0 && i % 3 != 0).count() as u32;
    assert_eq!(convs[1].unread, unread);
    assert_eq!(convs[0].unread, (N / 100) as u32);
    assert_eq!(
        convs[1].last_preview.as_deref(),
        Some("message 999999 hello world")
    );
    timed("mark_read(all)", || s.mark_read(&c, i64::MAX).unwrap());
    assert_eq!(s.conversations().unwrap()[1].unread, 0);

    let rare = timed("search 3+ chars, 100 hits", || {
        s.search("rare-needle", 1000).unwrap()
    });
    assert_eq!(rare.len(), 100);
    let common = timed("search 3+ chars, common, limit 50", || {
        s.search("hello world", 50).unwrap()
    });
    assert_eq!(common.len(), 50);
    let short = timed("search 2 chars, 100 hits (full scan)", || {
        s.search("吃饭", 1000).unwrap()
    });
    assert_eq!(short.len(), 100);
    let short_common = timed("search 2 chars, common, limit 50", || {
        s.search("lo", 50).unwrap()
    });
    assert_eq!(short_common.len(), 50);
    drop(s);
    let size = std::fs::metadata(&path).unwrap().len();
    eprintln!("file size: {} MB", size / 1_000_000);
    let s = timed("reopen (quick_check)", || Store::open(&path).unwrap());
    assert_eq!(s.latest(&c, 1).unwrap()[0].id, MsgId(N - 1));
    // What keeps paging instant however long the history (its time is a benchmark, not
    // an assertion here): a page is an index search, never a scan or a sort of the table.
    for (op, order) in [("<", "DESC"), (">", "ASC")] {
        let sql = format!(
            "EXPLAIN QUERY PLAN SELECT {MESSAGE_COLUMNS} FROM {MESSAGE_FROM}
             WHERE m.conversation = ?1 AND m.seq {op} ?3
             ORDER BY m.seq {order} LIMIT ?2"
        );
        let mut stmt = s.conn.prepare(&sql).unwrap();
        let plan: Vec<String> = stmt
            .query_map(rusqlite::params![c.to_string(), 50, mid], |r| {
                r.get::<_, String>(3)
            })
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let main = plan
            .iter()
            .find(|l| l.contains(" m "))
            .expect("the messages table");
        assert!(
            main.starts_with("SEARCH") && main.contains("INDEX"),
            "{plan:?}"
        );
        assert!(!plan.iter().any(|l| l.contains("TEMP B-TREE")), "{plan:?}");
    }
}

/// The FTS5 index matches the messages table, checked by FTS5 itself against the content.
fn assert_fts_consistent(s: &Store) {
    s.conn
        .execute(
            "INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', 1)",
            [],
        )
        .unwrap();
}

#[test]
fn the_search_index_follows_inserts_duplicates_deletes_and_edits() {
    let mut s = search_store();
    let c = peer_conv(1);
    // Duplicates are not indexed twice.
    s.insert_messages(&[msg(c, Author::Peer(node(1)), 1, 1, "你吃饭了吗？")])
        .unwrap();
    assert_fts_consistent(&s);
    let unread = |s: &Store| {
        s.conversations()
            .unwrap()
            .iter()
            .find(|r| r.id == c)
            .unwrap()
            .unread
    };
    let before = unread(&s);
    // Deleting (nothing in the API does yet; the triggers keep the index and counts right).
    s.conn
        .execute("DELETE FROM messages WHERE text = '你吃饭了吗？'", [])
        .unwrap();
    assert_fts_consistent(&s);
    assert_eq!(unread(&s), before - 1);
    assert!(s.search("吃饭了吗", 10).unwrap().is_empty());
    s.conn
        .execute(
            "UPDATE messages SET text = 'edited: cats only' WHERE text LIKE 'cats AND%'",
            [],
        )
        .unwrap();
    assert_fts_consistent(&s);
    assert!(s.search("NEAR(", 10).unwrap().is_empty());
    assert_eq!(s.search("edited", 10).unwrap().len(), 1);
    // Deleting a conversation cascades to its messages and their index entries.
    s.conn
        .execute(
            "DELETE FROM conversations WHERE key = ?1",
            [conversation_key(&c)],
        )
        .unwrap();
    assert_fts_consistent(&s);
    assert!(s.latest(&c, 10).unwrap().is_empty());
    assert!(s.search("饭", 10).unwrap().is_empty());
    assert_eq!(s.integrity_check().unwrap(), "ok");
}

#[test]
fn integrity_check_sees_an_index_out_of_step() {
    let mut s = search_store();
    assert_eq!(s.integrity_check().unwrap(), "ok");
    s.conn
        .execute(
            "INSERT INTO messages_fts (rowid, text) VALUES (999, 'ghost')",
            [],
        )
        .unwrap();
    let report = s.integrity_check().unwrap();
    assert!(report.starts_with("search index: "), "{report}");
    s.rebuild_search_index().unwrap();
    assert_eq!(s.integrity_check().unwrap(), "ok");
    assert!(s.search("ghost", 10).unwrap().is_empty());
}

#[test]
fn the_store_can_move_to_its_own_thread() {
    fn send<T: Send + 'static>() {}
    send::<Store>();
    send::<StoreError>();
}

#[test]
fn errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    // A directory where the file should be.
    let path = dir.path().join("history.db");
    std::fs::create_dir(&path).unwrap();
    let err = Store::open(&path).unwrap_err();
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
    assert!(path.is_dir());
}

#[test]
fn a_development_version_1_database_is_brought_up_to_date() {
    // Version 1 as some development builds wrote it: new messages indexed and counted by a
    // trigger.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(schema::MIGRATIONS[0]).unwrap();
    conn.execute_batch(
        "CREATE TRIGGER messages_after_insert AFTER INSERT ON messages BEGIN
            INSERT INTO messages_fts (rowid, text) VALUES (new.seq, new.text);
            UPDATE conversations SET
                unread = unread + (new.author <> 0 AND new.seq > last_read_seq),
                last_activity_ms = max(last_activity_ms, new.received_at_ms)
            WHERE cid = new.conversation;
        END;
        PRAGMA user_version = 1;
        INSERT INTO conversations (key) VALUES ('192.168.1.20:9999');
        INSERT INTO authors (key) VALUES ('192.168.1.20:9999');
        INSERT INTO messages (conversation, author, id, sent_at_ms, received_at_ms, text)
        VALUES (1, 1, 1, 10, 20, 'old hello'), (1, 0, 2, 30, 40, 'my reply');",
    )
    .unwrap();
    drop(conn);

    let mut s = Store::open(&path).unwrap();
    assert_eq!(s.schema_version().unwrap(), SCHEMA_VERSION);
    let raw = ConversationId::Raw(raw_addr());
    s.insert_messages(&[msg(raw, Author::Raw(raw_addr()), 3, 50, "new hello")])
        .unwrap();
    let row = &s.conversations().unwrap()[0];
    assert_eq!((row.unread, row.last_activity_ms), (2, 50), "counted once");
    assert_eq!(s.search("hello", 10).unwrap().len(), 2);
    assert_fts_consistent(&s);
    assert_eq!(s.integrity_check().unwrap(), "ok");
}

#[test]
fn replies_keep_their_quote_and_only_the_author_can_recall() {
    let mut s = Store::open_in_memory().unwrap();
    let me = node(0xEE);
    s.set_me(me);
    let c = peer_conv(1);
    let bob = Author::Peer(node(1));
    let mine_quote = Quote {
        id: MsgId(1),
        author: me,
        excerpt: "my first".into(),
    };
    let their_quote = Quote {
        id: MsgId(2),
        author: node(1),
        excerpt: "bob's".into(),
    };
    let ms = [
        msg(c, Author::Me, 1, 1_000, "my first"),
        msg(c, bob, 2, 2_000, "bob's"),
        NewMessage {
            quote: Some(mine_quote.clone()),
            ..msg(c, bob, 3, 3_000, "bob answers me")
        },
        NewMessage {
            quote: Some(their_quote.clone()),
            ..msg(c, Author::Me, 4, 4_000, "I answer bob")
        },
    ];
    s.insert_messages(&ms).unwrap();
    let got = s.latest(&c, 10).unwrap();
    let quotes: Vec<Option<Quote>> = got.iter().map(|m| m.quote.clone()).collect();
    assert_eq!(
        quotes,
        vec![None, None, Some(mine_quote), Some(their_quote.clone())]
    );
    // The quote of my message is stored as 'me', not as my key.
    let key: String = s
        .conn
        .query_row("SELECT quote_author FROM messages WHERE id = 3", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(key, "me");

    // Bob cannot recall my message, nor one of his from outside the window; he can
    // recall his own within it.
    assert!(!s.recall(&c, bob, MsgId(1), Some((1_100, 120_000))).unwrap());
    assert!(
        !s.recall(&c, bob, MsgId(2), Some((2_000 + 120_006, 120_000)))
            .unwrap()
    );
    assert!(!s.recall(&peer_conv(9), bob, MsgId(2), None).unwrap());
    assert!(
        s.recall(&c, bob, MsgId(2), Some((2_000 + 60_000, 120_000)))
            .unwrap()
    );
    assert!(!s.recall(&c, bob, MsgId(2), None).unwrap(), "only once");
    let got = s.latest(&c, 10).unwrap();
    assert!(got[1].recalled && got[1].text.is_empty());
    assert!(!got[0].recalled && got[0].text == "my first");
    // My reply that quoted it keeps the reference but not the text.
    assert_eq!(
        got[3].quote,
        Some(Quote {
            excerpt: String::new(),
            ..their_quote
        })
    );
    // Gone from search too.
    assert!(s.search("bob's", 10).unwrap().is_empty());
    // I recall mine.
    assert!(s.recall(&c, Author::Me, MsgId(4), None).unwrap());
    let got = s.latest(&c, 10).unwrap();
    assert!(got[3].recalled && got[3].quote.is_none());
    let row = &s.conversations().unwrap()[0];
    assert_eq!(
        (row.last_id, row.last_author, row.last_recalled),
        (Some(MsgId(4)), Some(Author::Me), true)
    );
    assert_eq!(s.integrity_check().unwrap(), "ok");
}

#[test]
fn deferred_indexing_still_finds_everything_and_catches_up_in_chunks() {
    let mut s = Store::open_in_memory().unwrap();
    let c = peer_conv(1);
    let peer = Author::Peer(node(1));
    s.insert_messages(&[msg(c, peer, 1, 1000, "indexed at once: pancakes")])
        .unwrap();
    assert_eq!(s.search_backlog().unwrap(), 0);
    s.defer_indexing();
    s.insert_messages(&[
        msg(c, peer, 2, 2000, "waiting for the index: pancakes"),
        msg(c, peer, 3, 3000, "waiting too: PANCAKES and 吃饭"),
        msg(c, peer, 4, 4000, "to be deleted: pancakes"),
        msg(c, peer, 5, 5000, "to be edited: waffles"),
    ])
    .unwrap();
    assert_eq!(s.search_backlog().unwrap(), 4);
    // Search sees the messages the index does not have yet, newest first, and the limit
    // holds across both parts.
    let ids = |hits: Vec<Hit>| hits.iter().map(|h| h.id.0).collect::<Vec<_>>();
    assert_eq!(ids(s.search("pancakes", 10).unwrap()), [4, 3, 2, 1]);
    assert_eq!(ids(s.search("pancakes", 2).unwrap()), [4, 3]);
    assert_eq!(ids(s.search("吃饭", 10).unwrap()), [3]);
    // Deleting or editing a message not indexed yet does not touch the index (FTS5's check
    // below, once caught up, would see an entry deleted that was never added).
    s.conn
        .execute("DELETE FROM messages WHERE id = 4", [])
        .unwrap();
    s.conn
        .execute(
            "UPDATE messages SET text = 'edited: crepes' WHERE id = 5",
            [],
        )
        .unwrap();
    assert_eq!(s.index_pending(1).unwrap(), 1);
    assert_eq!(s.search_backlog().unwrap(), 3);
    assert_eq!(ids(s.search("pancakes", 10).unwrap()), [3, 2, 1]);
    assert_eq!(s.index_pending(10).unwrap(), 2);
    assert_eq!(s.index_pending(10).unwrap(), 0);
    assert_eq!(s.search_backlog().unwrap(), 0);
    assert_fts_consistent(&s);
    assert_eq!(ids(s.search("pancakes", 10).unwrap()), [3, 2, 1]);
    assert_eq!(ids(s.search("crepes", 10).unwrap()), [5]);
    assert!(s.search("waffles", 10).unwrap().is_empty());
    // Now indexed: deletes and edits go through the index's triggers.
    s.conn
        .execute("DELETE FROM messages WHERE id = 2", [])
        .unwrap();
    s.conn
        .execute(
            "UPDATE messages SET text = 'edited again: toast' WHERE id = 5",
            [],
        )
        .unwrap();
    assert_fts_consistent(&s);
    assert_eq!(ids(s.search("pancakes", 10).unwrap()), [3, 1]);
    assert_eq!(ids(s.search("toast", 10).unwrap()), [5]);
    assert_eq!(s.integrity_check().unwrap(), "ok");
}

#[test]
fn recalls_survive_a_reopen_and_the_outbox_keeps_what_kind_a_message_is() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.db");
    let c = peer_conv(1);
    let quote = Quote {
        id: MsgId(9),
        author: node(1),
        excerpt: "q".into(),
    };
    let rows = [
        OutboxRow {
            id: MsgId(1),
            to: node(1),
            sent_at_ms: 10,
            body: Body::Text("plain".into()),
        },
        OutboxRow {
            id: MsgId(2),
            to: node(1),
            sent_at_ms: 20,
            body: Body::Reply {
                quote: quote.clone(),
                text: "re".into(),
            },
        },
        OutboxRow {
            id: MsgId(3),
            to: node(1),
            sent_at_ms: 30,
            body: Body::Recall(MsgId(1)),
        },
    ];
    {
        let mut s = Store::open(&path).unwrap();
        s.insert_messages(&[msg(c, Author::Peer(node(1)), 5, 100, "secret")])
            .unwrap();
        assert!(s.recall(&c, Author::Peer(node(1)), MsgId(5), None).unwrap());
        for r in &rows {
            s.outbox_add(r).unwrap();
        }
    }
    let s = Store::open(&path).unwrap();
    let got = s.latest(&c, 10).unwrap();
    assert!(got[0].recalled);
    assert_eq!(got[0].text, "");
    assert_eq!(s.outbox().unwrap(), rows);
}

#[test]
fn unread_mentions_are_found_at_start() {
    let mut s = Store::open_in_memory().unwrap();
    let c = peer_conv(1);
    let d = peer_conv(2);
    s.insert_messages(&[
        msg(c, Author::Peer(node(1)), 1, 1, "hi @Me there"),
        msg(d, Author::Peer(node(2)), 2, 2, "nothing"),
        msg(d, Author::Me, 3, 3, "@me by me"),
    ])
    .unwrap();
    let found = s.unread_containing("@me", 10, 10).unwrap();
    assert_eq!(found, vec![(c, "hi @Me there".to_string())]);
    let seq = s.latest(&c, 1).unwrap()[0].seq;
    s.mark_read(&c, seq).unwrap();
    assert!(s.unread_containing("@me", 10, 10).unwrap().is_empty());
}

#[test]
fn integrity_check_indexes_the_backlog_first() {
    let mut s = Store::open_in_memory().unwrap();
    s.defer_indexing();
    let c = peer_conv(1);
    s.insert_messages(&[msg(c, Author::Peer(node(1)), 1, 1000, "not indexed yet")])
        .unwrap();
    assert_eq!(s.search_backlog().unwrap(), 1);
    assert_eq!(s.integrity_check().unwrap(), "ok");
    assert_eq!(s.search_backlog().unwrap(), 0);
}

// ---------------------------------------------------------------------------------------
// Issue 12: bounded strangers, receipts from the right peer, the receiver's clock, quotes

/// The `i`-th plain-text sender of a flood.
fn stranger(i: usize) -> ConversationId {
    ConversationId::Raw(SocketAddr::from((
        [10, 7, (i / 256) as u8, (i % 256) as u8],
        4000,
    )))
}

fn stranger_msg(i: usize, id: u64, t: i64) -> NewMessage {
    let c = stranger(i);
    let ConversationId::Raw(addr) = c else {
        unreachable!()
    };
    msg(c, Author::Raw(addr), id, t, "flood")
}

fn count(s: &Store, sql: &str) -> i64 {
    s.conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

#[test]
fn a_recall_claiming_an_old_message_with_a_forged_recent_sent_at_is_refused() {
    let mut s = Store::open_in_memory().unwrap();
    let c = peer_conv(1);
    let bob = Author::Peer(node(1));
    let minute = 60_000;
    // Received here at t = 1 min; bob's clock claims he sent it ten minutes later, so that a
    // recall "sent" then looks a second old.
    s.insert_messages(&[NewMessage {
        sent_at_ms: 11 * minute,
        ..msg(c, bob, 1, minute, "I owe you 100 EUR")
    }])
    .unwrap();
    // Ten minutes after it arrived (this machine's clock): too late.
    assert!(
        !s.recall(&c, bob, MsgId(1), Some((11 * minute, 2 * minute)))
            .unwrap()
    );
    assert_eq!(texts(&s.latest(&c, 1).unwrap()), ["I owe you 100 EUR"]);
    // Within two minutes of arriving it goes, whatever bob's clock said.
    s.insert_messages(&[NewMessage {
        sent_at_ms: 0,
        ..msg(c, bob, 2, 20 * minute, "typo")
    }])
    .unwrap();
    assert!(
        s.recall(&c, bob, MsgId(2), Some((22 * minute, 2 * minute)))
            .unwrap()
    );
}

#[test]
fn a_read_receipt_marks_only_my_messages_to_its_sender() {
    let mut s = Store::open_in_memory().unwrap();
    let (alice, bob) = (peer_conv(1), peer_conv(2));
    s.insert_messages(&[
        msg(alice, Author::Me, 1, 1000, "for alice"),
        msg(bob, Author::Me, 2, 2000, "for bob"),
        msg(bob, Author::Peer(node(2)), 3, 3000, "bob's own"),
    ])
    .unwrap();
    for (id, to) in [(1, node(1)), (2, node(2))] {
        s.outbox_add(&OutboxRow {
            id: MsgId(id),
            to,
            sent_at_ms: 0,
            body: Body::Text("x".into()),
        })
        .unwrap();
    }
    let state = |s: &Store, c: &ConversationId, id: u64| {
        s.latest(c, 10)
            .unwrap()
            .into_iter()
            .find(|m| m.id == MsgId(id))
            .unwrap()
            .state
    };
    // Bob names my message to alice, his own message, and mine to him: only the last counts.
    let read = s.read_by(node(2), &[MsgId(1), MsgId(3), MsgId(2)]).unwrap();
    assert_eq!(read, [MsgId(2)]);
    assert_eq!(state(&s, &alice, 1), Some(DeliveryState::Sending));
    assert_eq!(state(&s, &bob, 2), Some(DeliveryState::Read));
    assert_eq!(state(&s, &bob, 3), None);
    // The outbox still holds my message to alice for her.
    let waiting: Vec<MsgId> = s.outbox().unwrap().iter().map(|o| o.id).collect();
    assert_eq!(waiting, [MsgId(1)]);
    // Alice's own receipt counts, once.
    assert_eq!(s.read_by(node(1), &[MsgId(1)]).unwrap(), [MsgId(1)]);
    assert_eq!(
        s.read_by(node(1), &[MsgId(1)]).unwrap(),
        Vec::<MsgId>::new()
    );
    assert!(s.outbox().unwrap().is_empty());
}

#[test]
fn strangers_are_capped_with_their_messages_and_the_rest_is_kept() {
    let mut s = Store::open_in_memory().unwrap();
    s.defer_indexing();
    let peer = peer_conv(1);
    let answered = stranger(100_000);
    let pinned = stranger(100_001);
    s.insert_messages(&[
        msg(peer, Author::Peer(node(1)), 1, 1, "a real peer"),
        stranger_msg(100_000, 2, 2),
        msg(answered, Author::Me, 3, 3, "I wrote here"),
        stranger_msg(100_001, 4, 4),
    ])
    .unwrap();
    s.set_pinned(&pinned, true).unwrap();
    // A flood from many addresses, in batches as the store thread takes them, then one
    // address that keeps talking.
    let n = MAX_STRANGERS + 40;
    let mut id = 10;
    for batch in (0..n).collect::<Vec<_>>().chunks(64) {
        let ms: Vec<NewMessage> = batch
            .iter()
            .map(|&i| {
                id += 1;
                stranger_msg(i, id, 10 + i as i64)
            })
            .collect();
        s.insert_messages(&ms).unwrap();
    }
    let chatty: Vec<NewMessage> = (0..MAX_STRANGER_MESSAGES as u64 + 50)
        .map(|k| stranger_msg(n, 10_000 + k, 100_000 + k as i64))
        .collect();
    s.insert_messages(&chatty).unwrap();

    let strangers = count(
        &s,
        &format!("SELECT count(*) FROM conversations WHERE {STRANGER}"),
    );
    assert_eq!(strangers, MAX_STRANGERS as i64);
    // The least recent went, with their messages and author keys; the newest stayed.
    assert!(s.latest(&stranger(0), 10).unwrap().is_empty());
    assert_eq!(s.latest(&stranger(n - 1), 10).unwrap().len(), 1);
    assert_eq!(
        count(
            &s,
            "SELECT count(*) FROM authors WHERE key = '10.7.0.0:4000'"
        ),
        0
    );
    // The chatty one keeps its newest messages only.
    let kept = s.latest(&stranger(n), 1000).unwrap();
    assert_eq!(kept.len(), MAX_STRANGER_MESSAGES);
    assert_eq!(
        kept.last().unwrap().id,
        MsgId(10_000 + MAX_STRANGER_MESSAGES as u64 + 49)
    );
    // Nothing else was touched: a peer, a plain-text chat I wrote in, a pinned one.
    for c in [peer, answered, pinned] {
        assert_eq!(
            s.latest(&c, 10).unwrap().len(),
            1 + usize::from(c == answered)
        );
    }
    let rows = s.conversations().unwrap();
    assert_eq!(rows.len(), MAX_STRANGERS + 3);
    assert!(rows.iter().find(|r| r.id == answered).unwrap().wrote);
    assert!(!rows.iter().find(|r| r.id == pinned).unwrap().wrote);
    // Unread counts follow the deletions.
    let unread: i64 = rows.iter().map(|r| i64::from(r.unread)).sum();
    assert_eq!(
        unread,
        count(&s, "SELECT count(*) FROM messages WHERE author <> 0")
    );
    s.index_pending(usize::MAX).unwrap();
    assert_fts_consistent(&s);
    assert_eq!(s.integrity_check().unwrap(), "ok");
}

#[test]
fn strangers_left_over_are_pruned_and_the_start_reads_only_the_first_conversations() {
    let mut s = Store::open_in_memory().unwrap();
    // Pinned, they are not strangers and nothing prunes them...
    let n = MAX_STRANGERS + 30;
    for i in 0..n {
        s.set_pinned(&stranger(i), true).unwrap();
    }
    let ms: Vec<NewMessage> = (0..n)
        .map(|i| stranger_msg(i, i as u64 + 1, i as i64 + 1))
        .collect();
    s.insert_messages(&ms).unwrap();
    assert_eq!(s.conversations().unwrap().len(), n);
    // ...until they are unpinned (or were left by a version without bounds).
    for i in 0..n {
        s.set_pinned(&stranger(i), false).unwrap();
    }
    assert_eq!(s.conversations().unwrap().len(), n);
    s.prune_strangers().unwrap();
    let rows = s.conversations().unwrap();
    assert_eq!(rows.len(), MAX_STRANGERS);
    assert_eq!(rows[0].id, stranger(n - 1), "the newest stay");
    // The start asks for no more than it keeps, in sidebar order.
    let first = s.first_conversations(10).unwrap();
    assert_eq!(first, rows[..10]);
}

#[test]
fn a_quote_shows_the_stored_original_only_from_its_own_conversation() {
    let mut s = Store::open_in_memory().unwrap();
    let me = node(0xEE);
    s.set_me(me);
    let (alice, mallory) = (peer_conv(1), peer_conv(2));
    let quote = |excerpt: &str| Quote {
        id: MsgId(1),
        author: me,
        excerpt: excerpt.into(),
    };
    s.insert_messages(&[
        msg(
            alice,
            Author::Me,
            1,
            1000,
            "I will bring the cake\nand candles",
        ),
        // Alice quotes me in other words; mallory quotes the same id in his chat.
        NewMessage {
            quote: Some(quote("I will bring nothing")),
            ..msg(alice, Author::Peer(node(1)), 2, 2000, "great")
        },
        NewMessage {
            quote: Some(quote("I agree to pay mallory 1000 EUR")),
            ..msg(mallory, Author::Peer(node(2)), 3, 3000, "deal")
        },
    ])
    .unwrap();
    let reply = s.latest(&alice, 1).unwrap().remove(0);
    assert!(reply.quote_found);
    assert_eq!(reply.quote.unwrap().excerpt, "I will bring the cake");
    let claim = s.latest(&mallory, 1).unwrap().remove(0);
    assert!(!claim.quote_found);
    assert_eq!(
        claim.quote.unwrap().excerpt,
        "I agree to pay mallory 1000 EUR"
    );
    // The same lookup, for a reply the app has in memory.
    let q = quote("whatever");
    assert_eq!(
        s.original_excerpt(&alice, &q).unwrap().as_deref(),
        Some("I will bring the cake")
    );
    assert_eq!(s.original_excerpt(&mallory, &q).unwrap(), None);
    // Recalled, the original says nothing, and the reply shows that.
    assert!(s.recall(&alice, Author::Me, MsgId(1), None).unwrap());
    assert_eq!(s.original_excerpt(&alice, &q).unwrap().as_deref(), Some(""));
    let reply = s.latest(&alice, 1).unwrap().remove(0);
    assert!(reply.quote_found && reply.quote.unwrap().excerpt.is_empty());
}

#[test]
fn a_version_4_database_learns_where_i_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    for step in &schema::MIGRATIONS[..4] {
        conn.execute_batch(step).unwrap();
    }
    conn.execute_batch(
        "PRAGMA user_version = 4;
        INSERT INTO conversations (key) VALUES ('10.0.0.1:1'), ('10.0.0.2:2');
        INSERT INTO authors (key) VALUES ('10.0.0.1:1'), ('10.0.0.2:2');
        INSERT INTO messages (conversation, author, id, sent_at_ms, received_at_ms, text)
        VALUES (1, 1, 1, 10, 10, 'hi'), (1, 0, 2, 20, 20, 'hello'), (2, 2, 3, 30, 30, 'spam');",
    )
    .unwrap();
    drop(conn);
    let s = Store::open(&path).unwrap();
    let wrote: Vec<(String, bool)> = s
        .conversations()
        .unwrap()
        .iter()
        .map(|r| (r.id.to_string(), r.wrote))
        .collect();
    assert_eq!(
        wrote,
        [
            ("10.0.0.1:1".to_string(), true),
            ("10.0.0.2:2".to_string(), false)
        ]
    );
}

#[test]
fn store_errors_read_the_same_in_english_and_are_translated() {
    use crate::i18n::Lang;
    let path = PathBuf::from("/data/history.db");
    let errors = [
        StoreError::NotLanchat {
            path: path.clone(),
            reason: "no lanchat table".into(),
        },
        StoreError::TooNew {
            path: path.clone(),
            found: 9,
            known: 7,
        },
        StoreError::Damaged {
            path: path.clone(),
            detail: "page 4".into(),
        },
        StoreError::Io {
            path: path.clone(),
            source: std::io::Error::other("disk"),
        },
        StoreError::Write(std::io::Error::other("pipe")),
    ];
    for e in &errors {
        assert_eq!(e.text(Lang::En), e.to_string());
        let zh = e.text(Lang::Zh);
        assert_ne!(zh, e.to_string(), "{zh}");
    }
    assert!(errors[1].text(Lang::Zh).contains("文件原样保留"));
    assert!(errors[1].text(Lang::Zh).contains("/data/history.db"));
}

mod transfers {
    use super::*;
    use crate::proto::files::{CancelReason, Direction, FileOffer, TransferId, TransferState};

    fn offer(n: u8) -> FileOffer {
        FileOffer {
            id: TransferId([n; 16]),
            name: format!("\u{1b}]0;pwn\u{7}../photo {n}.jpg"),
            size: 1_000,
            hash: [n; 32],
            port: 40_000 + u16::from(n),
        }
    }

    #[test]
    fn a_transfer_round_trips_and_an_id_is_kept_once() {
        let mut s = Store::open_in_memory().unwrap();
        let incoming = TransferRow::incoming(node(1), MsgId(7), &offer(1), 100);
        assert!(s.insert_transfer(&incoming).unwrap());
        // The same offer again (a resend), or another with its id: nothing changes.
        assert!(!s.insert_transfer(&incoming).unwrap());
        let clash = TransferRow::incoming(node(2), MsgId(8), &offer(1), 200);
        assert!(!s.insert_transfer(&clash).unwrap());
        assert_eq!(s.transfer(offer(1).id).unwrap(), Some(incoming.clone()));
        assert_eq!(s.transfer(TransferId([9; 16])).unwrap(), None);

        // Non-UTF-8 bytes in a path survive (Linux paths are bytes).
        #[cfg(unix)]
        let source = {
            use std::os::unix::ffi::OsStringExt;
            PathBuf::from(std::ffi::OsString::from_vec(
                b"/home/me/\xFFpic.png".to_vec(),
            ))
        };
        #[cfg(not(unix))]
        let source = PathBuf::from("/home/me/pic.png");
        let outgoing = TransferRow {
            size: crate::proto::files::MAX_FILE_BYTES,
            ..TransferRow::outgoing(node(3), MsgId(9), &offer(2), source.clone(), 150)
        };
        assert!(s.insert_transfer(&outgoing).unwrap());
        let got = s.transfer(offer(2).id).unwrap().unwrap();
        assert_eq!(got, outgoing);
        assert_eq!(got.direction, Direction::Out);
        assert_eq!(got.source_path, Some(source));
        assert_eq!(
            got.offer(),
            FileOffer {
                size: crate::proto::files::MAX_FILE_BYTES,
                ..offer(2)
            }
        );
    }

    #[test]
    fn states_move_only_where_allowed_and_progress_is_bounded() {
        let mut s = Store::open_in_memory().unwrap();
        let id = offer(1).id;
        s.insert_transfer(&TransferRow::incoming(node(1), MsgId(1), &offer(1), 10))
            .unwrap();
        // No progress before it is accepted: nothing is written before the user says yes.
        assert!(!s.set_transfer_progress(id, 10, 11).unwrap());
        assert!(
            !s.set_transfer_state(id, TransferState::Running, None, 12)
                .unwrap()
        );
        let path = Path::new("/downloads/photo 1.jpg");
        assert!(s.accept_transfer(id, path, 13).unwrap());
        // Accepting chooses the path once.
        assert!(!s.accept_transfer(id, Path::new("/elsewhere"), 14).unwrap());
        assert!(
            s.set_transfer_state(id, TransferState::Running, None, 15)
                .unwrap()
        );
        assert!(s.set_transfer_progress(id, 600, 16).unwrap());
        // More than the file's size is refused.
        assert!(!s.set_transfer_progress(id, 1_001, 17).unwrap());
        let t = s.transfer(id).unwrap().unwrap();
        assert_eq!(
            (t.state, t.bytes_done, t.local_path.as_deref(), t.updated_ms),
            (TransferState::Running, 600, Some(path), 16)
        );
        // A failure keeps its reason; a retry clears it.
        assert!(
            s.set_transfer_state(id, TransferState::Failed, Some("disk full"), 18)
                .unwrap()
        );
        assert_eq!(
            s.transfer(id).unwrap().unwrap().error.as_deref(),
            Some("disk full")
        );
        assert!(
            s.set_transfer_state(id, TransferState::Running, None, 19)
                .unwrap()
        );
        assert!(s.set_transfer_progress(id, 1_000, 20).unwrap());
        assert!(
            s.set_transfer_state(id, TransferState::Done, None, 21)
                .unwrap()
        );
        // Done is done: a late cancel, a resend of the offer, more progress change nothing.
        assert!(
            !s.set_transfer_state(
                id,
                TransferState::Cancelled,
                Some(CancelReason::Cancelled.as_str()),
                22
            )
            .unwrap()
        );
        assert!(
            !s.set_transfer_state(id, TransferState::Offered, None, 23)
                .unwrap()
        );
        assert!(!s.set_transfer_progress(id, 5, 24).unwrap());
        let t = s.transfer(id).unwrap().unwrap();
        assert_eq!(
            (t.state, t.bytes_done, t.error),
            (TransferState::Done, 1_000, None)
        );
        // Unknown ids are no error.
        let unknown = TransferId([0xEE; 16]);
        assert!(
            !s.set_transfer_state(unknown, TransferState::Failed, None, 1)
                .unwrap()
        );
        assert!(!s.set_transfer_progress(unknown, 1, 1).unwrap());
        assert!(!s.accept_transfer(unknown, path, 1).unwrap());
        // An outgoing transfer is not accepted with a path of mine.
        let out = TransferRow::outgoing(node(2), MsgId(2), &offer(2), "/src".into(), 30);
        s.insert_transfer(&out).unwrap();
        assert!(!s.accept_transfer(out.id, path, 31).unwrap());
        assert!(
            s.set_transfer_state(out.id, TransferState::Accepted, None, 32)
                .unwrap()
        );
        assert_eq!(s.transfer(out.id).unwrap().unwrap().local_path, None);
    }

    #[test]
    fn unfinished_transfers_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.db");
        {
            let mut s = Store::open(&path).unwrap();
            for (n, at) in [(1u8, 300), (2, 100), (3, 200), (4, 400), (5, 500)] {
                let mut t = TransferRow::incoming(node(1), MsgId(u64::from(n)), &offer(n), at);
                if n == 5 {
                    t.peer = node(2);
                }
                s.insert_transfer(&t).unwrap();
            }
            s.set_transfer_state(offer(3).id, TransferState::Declined, None, 250)
                .unwrap();
            s.accept_transfer(offer(4).id, Path::new("/d/x.jpg"), 410)
                .unwrap();
            s.set_transfer_state(offer(4).id, TransferState::Running, None, 420)
                .unwrap();
            s.set_transfer_progress(offer(4).id, 300, 430).unwrap();
            s.set_transfer_state(offer(1).id, TransferState::Cancelled, None, 440)
                .unwrap();
        }
        let s = Store::open(&path).unwrap();
        let ids: Vec<TransferId> = s
            .unfinished_transfers()
            .unwrap()
            .iter()
            .map(|t| t.id)
            .collect();
        assert_eq!(ids, [offer(2).id, offer(4).id, offer(5).id]);
        let running = s.transfer(offer(4).id).unwrap().unwrap();
        assert_eq!(
            (running.bytes_done, running.state),
            (300, TransferState::Running)
        );
        let with_1: Vec<TransferId> = s
            .transfers_with(&node(1), 3)
            .unwrap()
            .iter()
            .map(|t| t.id)
            .collect();
        assert_eq!(
            with_1,
            [offer(3).id, offer(1).id, offer(4).id],
            "newest 3, oldest first"
        );
    }

    #[test]
    fn the_outbox_keeps_file_messages_across_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.db");
        let bodies = [
            Body::FileOffer(offer(1)),
            Body::FileAccept { id: offer(2).id },
            Body::FileDecline(offer(3).id),
            Body::FileCancel {
                id: offer(4).id,
                reason: CancelReason::Corrupt,
            },
            Body::Text("and text".into()),
        ];
        let rows: Vec<OutboxRow> = bodies
            .into_iter()
            .enumerate()
            .map(|(i, body)| OutboxRow {
                id: MsgId(i as u64 + 1),
                to: node(1),
                sent_at_ms: i as i64,
                body,
            })
            .collect();
        {
            let mut s = Store::open(&path).unwrap();
            for r in &rows {
                s.outbox_add(r).unwrap();
            }
            // Adding an id again replaces the row, kind and all.
            s.outbox_add(&OutboxRow {
                body: Body::Text("was an offer".into()),
                ..rows[0].clone()
            })
            .unwrap();
            s.outbox_add(&rows[0]).unwrap();
            // A body that could not travel is not kept.
            let bad = OutboxRow {
                id: MsgId(99),
                body: Body::FileAccept {
                    id: TransferId([0; 16]),
                },
                ..rows[0].clone()
            };
            assert!(s.outbox_add(&bad).is_err());
        }
        let s = Store::open(&path).unwrap();
        assert_eq!(s.outbox().unwrap(), rows);
    }

    #[test]
    fn a_version_5_database_gains_transfers_and_keeps_its_history() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.db");
        let conn = rusqlite::Connection::open(&path).unwrap();
        for step in &schema::MIGRATIONS[..5] {
            conn.execute_batch(step).unwrap();
        }
        conn.execute_batch(&format!(
            "PRAGMA user_version = 5;
            INSERT INTO conversations (key) VALUES ('{peer}');
            INSERT INTO authors (key) VALUES ('{peer}');
            INSERT INTO messages (conversation, author, id, sent_at_ms, received_at_ms, text)
            VALUES (1, 1, 1, 10, 10, 'before files'), (1, 0, 2, 20, 20, 'mine');
            INSERT INTO outbox (id, to_peer, sent_at_ms, text, recall_of)
            VALUES (3, '{peer}', 30, 'waiting', NULL), (4, '{peer}', 40, '', 2);",
            peer = node(1).to_hex()
        ))
        .unwrap();
        drop(conn);
        let mut s = Store::open(&path).unwrap();
        assert_eq!(s.schema_version().unwrap(), SCHEMA_VERSION);
        assert_eq!(
            texts(&s.latest(&peer_conv(1), 10).unwrap()),
            ["before files", "mine"]
        );
        assert_eq!(s.search("before", 10).unwrap().len(), 1);
        assert_eq!(
            s.outbox().unwrap(),
            [
                OutboxRow {
                    id: MsgId(3),
                    to: node(1),
                    sent_at_ms: 30,
                    body: Body::Text("waiting".into()),
                },
                OutboxRow {
                    id: MsgId(4),
                    to: node(1),
                    sent_at_ms: 40,
                    body: Body::Recall(MsgId(2)),
                },
            ]
        );
        assert!(s.unfinished_transfers().unwrap().is_empty());
        let t = TransferRow::incoming(node(1), MsgId(5), &offer(1), 50);
        assert!(s.insert_transfer(&t).unwrap());
        assert_eq!(s.unfinished_transfers().unwrap(), [t]);
        assert_eq!(s.integrity_check().unwrap(), "ok");
    }

    #[test]
    fn damaged_transfer_rows_are_errors_not_panics() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.db");
        let mut s = Store::open(&path).unwrap();
        s.insert_transfer(&TransferRow::incoming(node(1), MsgId(1), &offer(1), 1))
            .unwrap();
        drop(s);
        let conn = rusqlite::Connection::open(&path).unwrap();
        // The schema refuses a hash of the wrong length; a bad id gets in, and reads back as
        // an error.
        conn.execute_batch("UPDATE transfers SET hash = printf('%064d', 0) || 'zz'")
            .unwrap_err();
        conn.execute_batch("UPDATE transfers SET id = 'nope'")
            .unwrap();
        drop(conn);
        let s = Store::open(&path).unwrap();
        assert!(s.unfinished_transfers().is_err());
    }

    /// A file offer is a message in its conversation (its bubble), once, whatever comes
    /// again; the page of history gives its card with the transfer's state.
    #[test]
    fn a_file_message_is_a_bubble_in_the_history_kept_once() {
        let mut s = Store::open_in_memory().unwrap();
        let row = TransferRow::incoming(node(1), MsgId(7), &offer(1), 100);
        let seq = s.insert_file_message(&row, 100).unwrap();
        assert!(seq.is_some());
        // The offer again (the peer did not hear my ack): no second bubble.
        assert_eq!(s.insert_file_message(&row, 200).unwrap(), None);
        let page = s.latest(&ConversationId::Peer(node(1)), 10).unwrap();
        assert_eq!(page.len(), 1);
        assert_eq!(page[0].seq, seq.unwrap());
        assert_eq!(page[0].author, Author::Peer(node(1)));
        assert_eq!(page[0].text, offer(1).name, "search finds it by its name");
        assert_eq!(page[0].file, Some(row.card()));
        // Its state shows on the card as it moves.
        let path = Path::new("/downloads/photo 1.jpg");
        s.accept_transfer(offer(1).id, path, 300).unwrap();
        let card = s.latest(&ConversationId::Peer(node(1)), 10).unwrap()[0]
            .file
            .clone()
            .unwrap();
        assert_eq!(card.state, TransferState::Accepted);
        assert_eq!(card.path.as_deref(), Some(path));
        // Mine: by me, in the peer's conversation, with the file offered.
        let mine = TransferRow::outgoing(
            node(1),
            MsgId(8),
            &offer(2),
            PathBuf::from("/home/me/a.jpg"),
            400,
        );
        s.insert_file_message(&mine, 400).unwrap();
        let page = s.latest(&ConversationId::Peer(node(1)), 10).unwrap();
        assert_eq!(page[1].author, Author::Me);
        assert_eq!(
            page[1].state, None,
            "the bubble, not a mark, says where it stands"
        );
        let card = page[1].file.clone().unwrap();
        assert_eq!(
            (card.direction, card.path.as_deref()),
            (Direction::Out, Some(Path::new("/home/me/a.jpg")))
        );
    }

    /// A peer cannot turn its own text message, or someone else's transfer, into a file:
    /// an offer reusing a text message's id, or a transfer id that another peer holds,
    /// links nothing.
    #[test]
    fn an_offer_reusing_an_id_does_not_turn_a_message_into_a_file() {
        let mut s = Store::open_in_memory().unwrap();
        s.insert_messages(&[NewMessage {
            conversation: ConversationId::Peer(node(1)),
            id: MsgId(7),
            author: Author::Peer(node(1)),
            sent_at_ms: 1,
            received_at_ms: 1,
            text: "hello".into(),
            state: None,
            quote: None,
        }])
        .unwrap();
        let row = TransferRow::incoming(node(1), MsgId(7), &offer(1), 100);
        assert_eq!(s.insert_file_message(&row, 100).unwrap(), None);
        let page = s.latest(&ConversationId::Peer(node(1)), 10).unwrap();
        assert_eq!(page.len(), 1);
        assert_eq!((page[0].text.as_str(), &page[0].file), ("hello", &None));
        // Carol offers with bob's transfer id: her bubble names no transfer.
        let bobs = TransferRow::incoming(node(2), MsgId(1), &offer(2), 100);
        s.insert_file_message(&bobs, 100).unwrap();
        let carols = TransferRow {
            name: "other.txt".into(),
            ..TransferRow::incoming(node(3), MsgId(1), &offer(2), 100)
        };
        s.insert_file_message(&carols, 100).unwrap();
        let page = s.latest(&ConversationId::Peer(node(3)), 10).unwrap();
        assert_eq!(page[0].file, None);
        assert_eq!(s.transfer(offer(2).id).unwrap().unwrap().peer, node(2));
    }
}
