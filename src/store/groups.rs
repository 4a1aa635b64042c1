//! Groups in the history (issue 14): their messages as rows of `messages` in the group's
//! order, the signed entries that make them (to rebuild the groups at start and serve
//! other members), the members as of the last change, my read mark, and the members'
//! receipts. See schema step 8.
//!
//! A group's message is an ordinary row (its conversation is the group, its author the
//! member who wrote it or `me`, its id the entry's), so unread counts, drafts, pin, mute,
//! search and export treat it as any other. What is special: `ord`, its place in the
//! group's order, by which a group's pages go (a message that arrives late is placed where
//! it belongs); `change`, set on a membership change (a system line, never unread); and
//! `at_all`, the owner's @all.

use super::{
    At, Author, ConversationId, MESSAGE_COLUMNS, MESSAGE_FROM, MsgId, NodeId, Quote, Store,
    StoreError, bad, ensure_author, ensure_conversation, index_after_mark, quote_author_key,
    sql_id, write_tx,
};
use crate::message::{Change, GroupOrder, GroupPart, Message};
use crate::proto::group::{GroupId, entry};
use rusqlite::{OptionalExtension, Row, params};
use std::collections::HashMap;

/// Message entries kept beyond the newest `max_held` before the oldest go (so that the
/// trimming runs once per this many, not on every insert).
const ENTRY_SLACK: usize = 512;

/// A group's message or membership change to store, as the group shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewGroupMessage {
    pub group: GroupId,
    pub id: MsgId,
    /// A member (`Peer`), or `Me`.
    pub author: Author,
    /// The author's clock.
    pub sent_at_ms: i64,
    /// What the screen shows as its time (see `runtime`: the author's clock, never later
    /// than when it arrived).
    pub received_at_ms: i64,
    /// The text; a new name for a create or a rename; empty for other changes.
    pub text: String,
    pub quote: Option<Quote>,
    pub order: GroupOrder,
    pub change: Option<Change>,
    pub all: bool,
}

impl NewGroupMessage {
    /// The message as the app shows it once stored at `seq`.
    pub fn stored(self, seq: i64) -> Message {
        self.message(Some(seq))
    }

    /// The message as the app shows it (`seq`: where it is stored, if it is).
    pub fn message(self, seq: Option<i64>) -> Message {
        Message {
            seq,
            quote: self.quote,
            group: Some(Box::new(GroupPart {
                order: self.order,
                change: self.change,
                all: self.all,
                tally: None,
            })),
            ..Message::new(self.id, self.author, self.received_at_ms, self.text)
        }
    }
}

/// A group's members, owner and name, as of its last change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupInfoRow {
    pub group: GroupId,
    pub name: String,
    pub owner: Option<NodeId>,
    pub members: Vec<NodeId>,
    /// I am one of them.
    pub member: bool,
}

/// What one turn of a node's groups leaves to keep, written in one transaction (so that a
/// message is never stored without the entry it came in, nor the other way round).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupBatch {
    /// Signed entries, as they travel.
    pub entries: Vec<(GroupId, Vec<u8>)>,
    pub messages: Vec<NewGroupMessage>,
    /// `author` took back its message.
    pub recalled: Vec<(GroupId, Author, MsgId)>,
    /// Entries that counted and no longer do (a late removal voided them).
    pub withdrawn: Vec<(GroupId, Author, MsgId)>,
    pub infos: Vec<GroupInfoRow>,
    /// A member's receipt (`Groups::receipt_bytes`).
    pub receipts: Vec<(GroupId, NodeId, Vec<u8>)>,
    /// My read mark (`Groups::read_mark_bytes`).
    pub read_marks: Vec<(GroupId, Vec<u8>)>,
    /// When (this machine's clock), for `groups.updated_ms`.
    pub now_ms: i64,
}

impl GroupBatch {
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
            && self.messages.is_empty()
            && self.recalled.is_empty()
            && self.withdrawn.is_empty()
            && self.infos.is_empty()
            && self.receipts.is_empty()
            && self.read_marks.is_empty()
    }
}

/// What a batch changed in the history.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupApplied {
    /// Each message, and its position if it was new (`None`: stored before).
    pub messages: Vec<(NewGroupMessage, Option<i64>)>,
    /// The recalls that took a message back.
    pub recalled: Vec<(GroupId, Author, MsgId)>,
    /// The rows that went.
    pub withdrawn: Vec<(GroupId, Author, MsgId)>,
}

/// What the store keeps of the groups, to rebuild them at start.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupRestore {
    /// Every entry kept: membership changes first, then messages, each in the group's order.
    pub entries: Vec<Vec<u8>>,
    pub read_marks: Vec<(GroupId, Vec<u8>)>,
    pub receipts: Vec<(GroupId, NodeId, Vec<u8>)>,
    pub infos: Vec<GroupInfoRow>,
}

/// A membership change as the `change` column keeps it: a word, then the keys it names
/// (64 hex digits each, space separated). A name goes in the row's text.
fn change_to_sql(c: &Change) -> (String, Option<&str>) {
    let keys = |word: &str, ks: &[NodeId]| {
        std::iter::once(word.to_owned())
            .chain(ks.iter().map(NodeId::to_hex))
            .collect::<Vec<_>>()
            .join(" ")
    };
    match c {
        Change::Created { name, members } => (keys("created", members), Some(name)),
        Change::Invited(ks) => (keys("added", ks), None),
        Change::Left => ("left".into(), None),
        Change::Removed(k) => (keys("removed", &[*k]), None),
        Change::Renamed(name) => ("renamed".into(), Some(name)),
        Change::Handover(k) => (keys("owner", &[*k]), None),
    }
}

fn change_from_sql(s: &str, text: &str) -> Option<Change> {
    let mut words = s.split(' ');
    let word = words.next()?;
    let keys: Option<Vec<NodeId>> = words.map(NodeId::from_hex).collect();
    let keys = keys?;
    let one = || match keys.as_slice() {
        [k] => Some(*k),
        _ => None,
    };
    Some(match word {
        "created" => Change::Created {
            name: text.to_owned(),
            members: keys.clone(),
        },
        "added" => Change::Invited(keys.clone()),
        "left" => Change::Left,
        "removed" => Change::Removed(one()?),
        "renamed" => Change::Renamed(text.to_owned()),
        "owner" => Change::Handover(one()?),
        _ => return None,
    })
}

/// A group message's part from three columns (`ord`, `change`, `at_all`) starting at `idx`,
/// with the row's text at `text_idx` (a create's or rename's name); `None` when `ord` is
/// NULL (not a group's message).
pub(crate) fn col_group(
    row: &Row<'_>,
    idx: usize,
    text_idx: usize,
) -> rusqlite::Result<Option<Box<GroupPart>>> {
    let Some(ord) = row.get::<_, Option<Vec<u8>>>(idx)? else {
        return Ok(None);
    };
    let order =
        GroupOrder::from_bytes(&ord).ok_or_else(|| bad(idx, "bad group order".to_owned()))?;
    let change = match row.get::<_, Option<String>>(idx + 1)? {
        None => None,
        Some(c) => {
            let text: String = row.get::<_, Option<String>>(text_idx)?.unwrap_or_default();
            Some(
                change_from_sql(&c, &text)
                    .ok_or_else(|| bad(idx + 1, format!("bad change {c:?}")))?,
            )
        }
    };
    Ok(Some(Box::new(GroupPart {
        order,
        change,
        all: row.get(idx + 2)?,
        tally: None,
    })))
}

/// The SQL of a page of a group, in its order: `op` and `order` as for a peer's pages, the
/// anchor a message's `seq` whose place the page starts from (none for the newest or oldest
/// page: then `?3` is bound but unused).
pub(crate) fn page_sql(op: &str, order: &str, no_anchor: bool) -> String {
    let anchor = if no_anchor {
        "?3 = ?3".to_owned()
    } else {
        format!("m.ord {op} (SELECT ord FROM messages WHERE seq = ?3)")
    };
    format!(
        "SELECT {MESSAGE_COLUMNS} FROM {MESSAGE_FROM}
         WHERE m.conversation = ?1 AND m.ord IS NOT NULL AND {anchor}
         ORDER BY m.ord {order} LIMIT ?2"
    )
}

/// An entry's place in its group's order as bytes: Lamport clock, author, hash.
fn entry_order(e: &entry::Entry, hash: &entry::Hash) -> Vec<u8> {
    let mut out = Vec::with_capacity(72);
    out.extend_from_slice(&e.lamport.to_be_bytes());
    out.extend_from_slice(&e.author.0);
    out.extend_from_slice(hash);
    out
}

fn sql_members(ms: &[NodeId]) -> String {
    ms.iter().map(NodeId::to_hex).collect::<Vec<_>>().join(" ")
}

impl Store {
    /// Keeps what a turn of the groups left (see [`GroupBatch`]) in one transaction. Of
    /// each group's message entries only the newest `max_held` (and a little more) are kept,
    /// and each author's latest (so that, rebuilt, the group knows where each author's
    /// chain goes on): the groups hold no more (`proto::group::state::MAX_HELD_MESSAGES`);
    /// the messages themselves stay in the history.
    pub fn apply_group_batch(
        &mut self,
        b: &GroupBatch,
        max_held: usize,
    ) -> Result<GroupApplied, StoreError> {
        let path = &self.path;
        let me = self.me;
        let defer = self.defer_index;
        let tx = write_tx(&mut self.conn).at(path)?;
        let mut applied = GroupApplied::default();
        {
            let mut keep = tx
                .prepare_cached(
                    "INSERT INTO group_entries (grp, hash, ord, membership, bytes)
                     VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
                )
                .at(path)?;
            let mut grown: HashMap<GroupId, ()> = HashMap::new();
            for (g, bytes) in &b.entries {
                // Entries come from the groups, which checked them; one that does not
                // decode is not kept (the groups fetch it again if they need it).
                let Ok((e, hash, _)) = entry::decode(bytes) else {
                    tracing::warn!(group = %g, "an entry to keep did not decode");
                    continue;
                };
                let membership = e.op.is_membership();
                keep.execute(params![
                    g.to_hex(),
                    hash.as_slice(),
                    entry_order(&e, &hash),
                    membership,
                    bytes
                ])
                .at(path)?;
                if !membership {
                    grown.insert(*g, ());
                }
            }
            let mut trim = tx
                .prepare_cached(
                    "DELETE FROM group_entries WHERE grp = ?1 AND membership = 0
                       AND ord <= (SELECT ord FROM group_entries WHERE grp = ?1 AND membership = 0
                                   ORDER BY ord DESC LIMIT 1 OFFSET ?2)
                       AND (SELECT count(*) FROM group_entries
                            WHERE grp = ?1 AND membership = 0) > ?3
                       AND hash NOT IN (SELECT hash FROM (
                            SELECT hash, max(ord) FROM group_entries
                            WHERE grp = ?1 AND membership = 0 GROUP BY substr(ord, 9, 32)))",
                )
                .at(path)?;
            for g in grown.keys() {
                let held = i64::try_from(max_held).unwrap_or(i64::MAX);
                let over = held.saturating_add(ENTRY_SLACK as i64);
                trim.execute(params![g.to_hex(), held, over]).at(path)?;
            }

            let mut convs: HashMap<GroupId, i64> = HashMap::new();
            let mut authors: HashMap<Author, i64> = HashMap::new();
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO messages (conversation, author, id, sent_at_ms, received_at_ms,
                        text, state, quote_id, quote_author, quote_excerpt, ord, change, at_all)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL, ?7, ?8, ?9, ?10, ?11, ?12)
                     ON CONFLICT (author, id) DO NOTHING RETURNING seq",
                )
                .at(path)?;
            // cid -> (new unread, latest time, one of mine)
            let mut touched: HashMap<i64, (i64, i64, bool)> = HashMap::new();
            for m in &b.messages {
                let cid = match convs.get(&m.group) {
                    Some(c) => *c,
                    None => {
                        let c =
                            ensure_conversation(&tx, &ConversationId::Group(m.group)).at(path)?;
                        convs.insert(m.group, c);
                        c
                    }
                };
                let aid = match authors.get(&m.author) {
                    Some(a) => *a,
                    None => {
                        let a = ensure_author(&tx, &m.author).at(path)?;
                        authors.insert(m.author, a);
                        a
                    }
                };
                let (change, name) = match &m.change {
                    Some(c) => {
                        let (c, name) = change_to_sql(c);
                        (Some(c), name)
                    }
                    None => (None, None),
                };
                let text = name.unwrap_or(&m.text);
                let q = m.quote.as_ref();
                let seq: Option<i64> = insert
                    .query_row(
                        params![
                            cid,
                            aid,
                            sql_id(m.id),
                            m.sent_at_ms,
                            m.received_at_ms,
                            text,
                            q.map(|q| sql_id(q.id)),
                            q.map(|q| quote_author_key(q, me)),
                            q.map(|q| q.excerpt.as_str()),
                            m.order.to_bytes().as_slice(),
                            change,
                            m.all,
                        ],
                        |r| r.get(0),
                    )
                    .optional()
                    .at(path)?;
                if seq.is_some() {
                    let t = touched.entry(cid).or_insert((0, i64::MIN, false));
                    t.0 += i64::from(aid != 0 && m.change.is_none());
                    t.1 = t.1.max(m.received_at_ms);
                    t.2 |= aid == 0;
                }
                applied.messages.push((m.clone(), seq));
            }
            let mut update = tx
                .prepare_cached(
                    "UPDATE conversations SET unread = unread + ?2,
                        last_activity_ms = max(last_activity_ms, ?3),
                        wrote = max(wrote, ?4)
                     WHERE cid = ?1",
                )
                .at(path)?;
            for (&cid, &(unread, last, mine)) in &touched {
                update.execute(params![cid, unread, last, mine]).at(path)?;
            }

            // Recalls: the core decided (the author's own, within its window).
            let mut recall = tx
                .prepare_cached(
                    "UPDATE messages SET text = '', recalled = 1, quote_id = NULL,
                        quote_author = NULL, quote_excerpt = NULL
                     WHERE conversation = (SELECT cid FROM conversations WHERE key = ?1)
                       AND id = ?2 AND recalled = 0
                       AND author = (SELECT aid FROM authors WHERE key = ?3)",
                )
                .at(path)?;
            let mut unquote = tx
                .prepare_cached(
                    "UPDATE messages SET quote_excerpt = ''
                     WHERE conversation = (SELECT cid FROM conversations WHERE key = ?1)
                       AND quote_id = ?2 AND quote_author = ?3",
                )
                .at(path)?;
            for (g, author, target) in &b.recalled {
                let key = super::conversation_key(&ConversationId::Group(*g));
                let n = recall
                    .execute(params![key, sql_id(*target), author.key()])
                    .at(path)?;
                if n > 0 {
                    unquote
                        .execute(params![key, sql_id(*target), author.key()])
                        .at(path)?;
                    applied.recalled.push((*g, *author, *target));
                }
            }
            let mut withdraw = tx
                .prepare_cached(
                    "DELETE FROM messages
                     WHERE conversation = (SELECT cid FROM conversations WHERE key = ?1)
                       AND id = ?2 AND author = (SELECT aid FROM authors WHERE key = ?3)",
                )
                .at(path)?;
            for (g, author, id) in &b.withdrawn {
                let key = super::conversation_key(&ConversationId::Group(*g));
                if withdraw
                    .execute(params![key, sql_id(*id), author.key()])
                    .at(path)?
                    > 0
                {
                    applied.withdrawn.push((*g, *author, *id));
                }
            }

            let mut info = tx
                .prepare_cached(
                    "INSERT INTO groups (key, name, owner, members, member, updated_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT (key) DO UPDATE SET name = excluded.name,
                        owner = excluded.owner, members = excluded.members,
                        member = excluded.member, updated_ms = excluded.updated_ms",
                )
                .at(path)?;
            for i in &b.infos {
                info.execute(params![
                    super::conversation_key(&ConversationId::Group(i.group)),
                    i.name,
                    i.owner.map(|o| o.to_hex()),
                    sql_members(&i.members),
                    i.member,
                    b.now_ms,
                ])
                .at(path)?;
            }
            let mut receipt = tx
                .prepare_cached(
                    "INSERT INTO group_receipts (grp, member, state) VALUES (?1, ?2, ?3)
                     ON CONFLICT (grp, member) DO UPDATE SET state = excluded.state",
                )
                .at(path)?;
            for (g, member, state) in &b.receipts {
                receipt
                    .execute(params![g.to_hex(), member.to_hex(), state])
                    .at(path)?;
            }
            let mut mark = tx
                .prepare_cached(
                    "INSERT INTO group_read (grp, mark) VALUES (?1, ?2)
                     ON CONFLICT (grp) DO UPDATE SET mark = excluded.mark",
                )
                .at(path)?;
            for (g, m) in &b.read_marks {
                mark.execute(params![g.to_hex(), m]).at(path)?;
            }
        }
        if !defer && applied.messages.iter().any(|(_, s)| s.is_some()) {
            index_after_mark(&tx, usize::MAX).at(path)?;
        }
        tx.commit().at(path)?;
        Ok(applied)
    }

    /// Everything kept of the groups, to rebuild them at start.
    pub fn group_restore(&self) -> Result<GroupRestore, StoreError> {
        let path = &self.path;
        let entries = self
            .conn
            .prepare_cached("SELECT bytes FROM group_entries ORDER BY grp, membership DESC, ord")
            .at(path)?
            .query_map([], |r| r.get::<_, Vec<u8>>(0))
            .at(path)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .at(path)?;
        let group = |r: &Row<'_>, i: usize| -> rusqlite::Result<GroupId> {
            let s: String = r.get(i)?;
            GroupId::from_hex(&s).ok_or_else(|| bad(i, format!("bad group id {s:?}")))
        };
        let node = |r: &Row<'_>, i: usize| -> rusqlite::Result<NodeId> {
            let s: String = r.get(i)?;
            NodeId::from_hex(&s).ok_or_else(|| bad(i, format!("bad key {s:?}")))
        };
        let read_marks = self
            .conn
            .prepare_cached("SELECT grp, mark FROM group_read")
            .at(path)?
            .query_map([], |r| Ok((group(r, 0)?, r.get(1)?)))
            .at(path)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .at(path)?;
        let receipts = self
            .conn
            .prepare_cached("SELECT grp, member, state FROM group_receipts")
            .at(path)?
            .query_map([], |r| Ok((group(r, 0)?, node(r, 1)?, r.get(2)?)))
            .at(path)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .at(path)?;
        Ok(GroupRestore {
            entries,
            read_marks,
            receipts,
            infos: self.group_infos()?,
        })
    }

    /// The groups' members, owners and names as last kept.
    pub fn group_infos(&self) -> Result<Vec<GroupInfoRow>, StoreError> {
        let path = &self.path;
        self.conn
            .prepare_cached("SELECT key, name, owner, members, member FROM groups ORDER BY key")
            .at(path)?
            .query_map([], |r| {
                let key: String = r.get(0)?;
                let Some(ConversationId::Group(group)) = super::conversation_from_key(&key) else {
                    return Err(bad(0, format!("bad group key {key:?}")));
                };
                let owner = match r.get::<_, Option<String>>(2)? {
                    Some(o) => Some(
                        NodeId::from_hex(&o).ok_or_else(|| bad(2, format!("bad owner {o:?}")))?,
                    ),
                    None => None,
                };
                let members: String = r.get(3)?;
                let members = members
                    .split_whitespace()
                    .map(|k| NodeId::from_hex(k).ok_or_else(|| bad(3, format!("bad member {k:?}"))))
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                Ok(GroupInfoRow {
                    group,
                    name: r.get(1)?,
                    owner,
                    members,
                    member: r.get(4)?,
                })
            })
            .at(path)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .at(path)
    }
}

#[cfg(test)]
#[path = "groups_tests.rs"]
mod tests;
