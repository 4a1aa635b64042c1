//! The node's side of groups (issue 14): what the groups leave to keep goes to the store
//! (entries, messages in the group's order, recalls, members, receipts, my read mark), and
//! at start the groups are rebuilt from it. Both front ends see the groups' events as
//! they come; the terminal shows a group's messages once stored (with their place), the
//! pipe at once.

use super::storage::{self, StoreEvent};
use super::{Node, mono_now, wall_now_ms};
use crate::message::{GroupOrder, Message};
use crate::proto::group::{GroupEvent, GroupId, Groups, Posted, What};
use crate::proto::{self, MsgId, NodeId};
use crate::store::{Author, GroupBatch, GroupInfoRow, NewGroupMessage, Store, StoreError};
use std::collections::HashSet;
use std::time::Duration;

/// Group drops are logged at most this often.
const DROPS_LOG_GAP: Duration = Duration::from_secs(5);

/// A group's message or change as the history keeps it. Its time on screen is the
/// author's clock, never later than now (a message that comes late shows when it was
/// written; nobody's clock puts one in the future).
pub fn group_message(me: NodeId, p: &Posted, now_ms: i64) -> NewGroupMessage {
    let author = author_of(me, p.author);
    let (text, quote, change, all) = match &p.what {
        What::Text { text, mentions } => (text.clone(), None, None, mentions.all),
        What::Reply {
            quote,
            text,
            mentions,
        } => (text.clone(), Some(quote.clone()), None, mentions.all),
        What::Change(c) => (String::new(), None, Some(c.clone()), false),
    };
    NewGroupMessage {
        group: p.group,
        id: p.id,
        author,
        sent_at_ms: p.sent_at_ms,
        received_at_ms: p.sent_at_ms.min(now_ms),
        text,
        quote,
        order: GroupOrder {
            lamport: p.key.lamport,
            author: p.author,
            id: p.id,
        },
        change,
        all,
    }
}

/// The group as the store and the model know it: its members, owner and name now.
pub fn group_info(groups: &Groups, g: &GroupId) -> Option<GroupInfoRow> {
    let grp = groups.group(g)?;
    Some(GroupInfoRow {
        group: *g,
        name: grp.name().to_owned(),
        owner: grp.owner(),
        members: grp.members(),
        member: grp.is_member(&groups.me()),
    })
}

/// Who wrote an entry, as the history names it.
pub(super) fn author_of(me: NodeId, who: NodeId) -> Author {
    if who == me {
        Author::Me
    } else {
        Author::Peer(who)
    }
}

impl Node {
    /// Rebuilds the groups from what the store kept (entries, my read marks, the members'
    /// receipts).
    pub(super) fn restore_groups(&mut self, store: &Store) -> Result<(), StoreError> {
        let r = store.group_restore()?;
        if r.entries.is_empty() {
            return Ok(());
        }
        self.endpoint.group_act(mono_now(), |groups, now| {
            groups.restore(now, &r.entries);
            for (g, mark) in &r.read_marks {
                groups.restore_read_mark(g, mark);
            }
            for (g, member, state) in &r.receipts {
                groups.restore_receipt(g, *member, state);
            }
        });
        Ok(())
    }

    /// Takes the groups' events out of `events`: what is to be kept goes to the store in
    /// one batch; entries to keep leave the list, everything else stays for the front end.
    /// Logs what the groups dropped (malformed, forged or unauthorized frames and entries:
    /// counted, never shown) when it grew, at most every [`DROPS_LOG_GAP`].
    fn log_group_drops(&mut self) {
        let s = self.endpoint.groups().stats();
        let total = s.malformed + s.bad_signature + s.unauthorized + s.refused + s.unsolicited;
        let (logged, at) = self.group_drops;
        let now = mono_now();
        if total > logged && at.is_none_or(|t| now.saturating_duration_since(t) >= DROPS_LOG_GAP) {
            tracing::warn!(
                malformed = s.malformed,
                bad_signature = s.bad_signature,
                unauthorized = s.unauthorized,
                refused = s.refused,
                unsolicited = s.unsolicited,
                "group frames or entries dropped"
            );
            self.group_drops = (total, Some(now));
        }
    }

    pub(super) fn keep_group_events(&mut self, events: &mut Vec<proto::Event>) {
        self.log_group_drops();
        let has_store = self.has_store();
        let me = self.endpoint.node();
        let now_ms = wall_now_ms();
        let mut batch = GroupBatch {
            now_ms,
            ..GroupBatch::default()
        };
        let mut receipts: HashSet<(GroupId, NodeId)> = HashSet::new();
        let mut infos: HashSet<GroupId> = HashSet::new();
        events.retain(|e| {
            let proto::Event::Group(e) = e else {
                return true;
            };
            match e {
                GroupEvent::Keep { group, bytes } => {
                    if has_store {
                        batch.entries.push((*group, bytes.clone()));
                    }
                    return false;
                }
                GroupEvent::Shown(p) => batch.messages.push(group_message(me, p, now_ms)),
                GroupEvent::Recalled { group, author, id } => {
                    batch.recalled.push((*group, author_of(me, *author), *id));
                }
                GroupEvent::Withdrawn { group, author, id } => {
                    batch.withdrawn.push((*group, author_of(me, *author), *id));
                }
                GroupEvent::Members { group, .. }
                | GroupEvent::Gone { group }
                | GroupEvent::Joined { group } => {
                    infos.insert(*group);
                }
                GroupEvent::Delivered { group, member, .. }
                | GroupEvent::Read { group, member, .. } => {
                    receipts.insert((*group, *member));
                }
            }
            true
        });
        if !has_store {
            return;
        }
        let groups = self.endpoint.groups();
        batch.infos = infos.iter().filter_map(|g| group_info(groups, g)).collect();
        batch.receipts = receipts
            .into_iter()
            .filter_map(|(g, m)| Some((g, m, groups.receipt_bytes(&g, &m)?)))
            .collect();
        if !batch.is_empty() {
            self.store(storage::Request::Group(Box::new(batch)));
        }
    }

    /// My act in a group (create, send, invite…), carried out now; what it leaves to keep
    /// is kept like anything the groups do.
    pub fn group_act<R>(&mut self, act: impl FnOnce(&mut Groups, std::time::Instant) -> R) -> R {
        self.endpoint.group_act(mono_now(), act)
    }

    /// I have read `group` up to `id` by `author`: the members who wrote it hear so, and
    /// the mark is kept.
    pub fn group_read(&mut self, group: GroupId, author: NodeId, id: MsgId) {
        let mark = self.group_act(|g, now| {
            g.mark_read(now, group, author, id);
            g.read_mark_bytes(&group)
        });
        if let Some(mark) = mark {
            self.store(storage::Request::Group(Box::new(GroupBatch {
                read_marks: vec![(group, mark)],
                now_ms: wall_now_ms(),
                ..GroupBatch::default()
            })));
        }
    }
}

/// The store's answer to a group batch, for the front ends.
pub(super) fn group_stored(applied: crate::store::GroupApplied) -> StoreEvent {
    StoreEvent::Group {
        shown: applied
            .messages
            .into_iter()
            .filter_map(|(m, seq)| Some((m.group, m.stored(seq?))))
            .collect::<Vec<(GroupId, Message)>>(),
        recalled: applied.recalled,
        withdrawn: applied.withdrawn,
    }
}
