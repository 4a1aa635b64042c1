//! [`Groups`]: this node's groups, and the sync that makes every member hold the same
//! entries. Sans-IO: frames in (with the authenticated sender), frames out (to a member),
//! events up, and a deadline.

use super::super::secure::Identity;
use super::super::wire::Quote;
use super::super::{MsgId, NodeId};
use super::entry::{
    self, Entry, EntryError, GroupId, Hash, MAX_INVITE, MAX_MEMBERS, MAX_NAME_BYTES, Mentions, Op,
    RECALL_WINDOW_MS, Signed,
};
use super::frame::{
    Frame, Have, MAX_FRAME_BYTES, MAX_PUSH_ENTRIES, MAX_SUMMARY_AUTHORS, Mark, Summary, push_size,
    tag,
};
use super::sign::Signer;
use super::state::{Changes, Group, Key, Posted, Refusal};
use crate::rng::Rng;
use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};
use thiserror::Error;

/// Groups one node may be in (or be invited to) at once.
pub const MAX_GROUPS: usize = 64;

#[derive(Debug, Clone)]
pub struct GroupConfig {
    /// Between anti-entropy rounds: each group sends its summary to one online member.
    pub gossip_every: Duration,
    /// How long delivery receipts wait to be sent together.
    pub ack_delay: Duration,
    pub max_groups: usize,
}

impl Default for GroupConfig {
    fn default() -> Self {
        Self {
            gossip_every: Duration::from_secs(20),
            ack_delay: Duration::from_millis(50),
            max_groups: MAX_GROUPS,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupEvent {
    /// This node is in the group now (it made it, or was added).
    Joined { group: GroupId },
    /// An entry counts now: a message or a membership change, in the group's order.
    Shown(Posted),
    /// A shown entry no longer counts (a late removal voided it).
    Withdrawn {
        group: GroupId,
        author: NodeId,
        id: MsgId,
    },
    Recalled {
        group: GroupId,
        author: NodeId,
        id: MsgId,
    },
    /// The members, the owner or the name changed.
    Members {
        group: GroupId,
        members: Vec<NodeId>,
        owner: Option<NodeId>,
        name: String,
    },
    /// This node is no longer a member (it left or was removed).
    Gone { group: GroupId },
    /// `member` holds these messages of mine.
    Delivered {
        group: GroupId,
        member: NodeId,
        ids: Vec<MsgId>,
    },
    /// `member` has read these messages of mine.
    Read {
        group: GroupId,
        member: NodeId,
        ids: Vec<MsgId>,
    },
    /// An entry to keep (the store writes it; [`Groups::restore`] takes it back).
    Keep { group: GroupId, bytes: Vec<u8> },
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum GroupError {
    #[error("no such group")]
    Unknown,
    #[error("not a member of this group")]
    NotMember,
    #[error("only the owner may do that")]
    NotOwner,
    #[error("a group has at most {MAX_MEMBERS} members")]
    TooManyMembers,
    #[error("at most {0} groups")]
    TooManyGroups(usize),
    #[error("only your own messages, within 2 minutes")]
    CannotRecall,
    #[error("{0}")]
    Invalid(&'static str),
    #[error(transparent)]
    Entry(#[from] EntryError),
}

/// Counters: what came in and what was refused.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupStats {
    pub frames_in: u64,
    pub frames_out: u64,
    pub bytes_out: u64,
    pub entries_out: u64,
    /// Frames or entries that did not decode.
    pub malformed: u64,
    /// Entries whose signature did not verify.
    pub bad_signature: u64,
    /// Frames from keys that were never members of the group.
    pub unauthorized: u64,
    /// Entries refused by a bound or as another group's.
    pub refused: u64,
    /// Pushes for unknown groups that did not make this node a member, or came when full.
    pub unsolicited: u64,
}

/// What a member told us about itself.
#[derive(Debug, Clone, Default)]
struct Receipt {
    /// What it holds of my entries.
    mine: Have,
    read: Option<Mark>,
}

#[derive(Debug)]
struct Slot {
    group: Group,
    receipts: HashMap<NodeId, Receipt>,
    /// Members that have sent us something about this group (so they know it).
    heard: HashSet<NodeId>,
    next_gossip: Instant,
    my_read: Option<Mark>,
    /// Members owed a receipt (a summary) at the next ack time.
    acks: HashSet<NodeId>,
    was_member: bool,
    /// Entries pushed to each member in answer to its summaries, and when: not pushed
    /// again while on their way (see [`IN_FLIGHT`]).
    pushed: HashMap<NodeId, HashMap<Hash, Instant>>,
}

/// How long an entry pushed to a member in answer to its summary is taken to be on its way
/// (the per-peer stream is reliable): summaries that cross it (a receipt, the next request,
/// a greeting) get the entries after it, not it again. Without this, every summary that
/// crossed a push started another chain of the same pushes, and a catch-up of 10,000
/// messages sent each one about twenty times.
const IN_FLIGHT: Duration = Duration::from_secs(2);

pub struct Groups {
    me: NodeId,
    signer: Signer,
    cfg: GroupConfig,
    rng: Rng,
    groups: HashMap<GroupId, Slot>,
    online: HashSet<NodeId>,
    out: VecDeque<(NodeId, Vec<u8>)>,
    events: VecDeque<GroupEvent>,
    ack_at: Option<Instant>,
    stats: GroupStats,
}

impl Groups {
    pub fn new(identity: &Identity, cfg: GroupConfig, seed: u64) -> Self {
        Self {
            me: identity.public(),
            signer: Signer::new(identity, seed),
            cfg,
            rng: Rng::new(seed ^ 0x6772_6f75_7073),
            groups: HashMap::new(),
            online: HashSet::new(),
            out: VecDeque::new(),
            events: VecDeque::new(),
            ack_at: None,
            stats: GroupStats::default(),
        }
    }

    pub fn me(&self) -> NodeId {
        self.me
    }

    pub fn stats(&self) -> &GroupStats {
        &self.stats
    }

    pub fn group(&self, id: &GroupId) -> Option<&Group> {
        self.groups.get(id).map(|s| &s.group)
    }

    pub fn ids(&self) -> Vec<GroupId> {
        let mut v: Vec<GroupId> = self.groups.keys().copied().collect();
        v.sort();
        v
    }

    pub fn poll_transmit(&mut self) -> Option<(NodeId, Vec<u8>)> {
        self.out.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<GroupEvent> {
        self.events.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        let gossip = self
            .groups
            .values()
            .filter(|s| s.group.is_member(&self.me))
            .map(|s| s.next_gossip)
            .min();
        match (gossip, self.ack_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Entries kept from an earlier run (trusted: this node verified them when they came).
    pub fn restore(&mut self, now: Instant, entries: &[Vec<u8>]) {
        let mut touched = HashSet::new();
        let mut rest = Vec::new();
        for bytes in entries {
            let Ok((entry, hash, _)) = entry::decode(bytes) else {
                self.stats.malformed += 1;
                continue;
            };
            let s = Signed {
                entry,
                hash,
                bytes: bytes.clone(),
            };
            if matches!(s.entry.op, Op::Create { .. }) {
                let id = s.group();
                if !self.groups.contains_key(&id)
                    && let Some(g) = Group::new(s)
                {
                    let slot = self.slot(now, g);
                    self.groups.insert(id, slot);
                }
                touched.insert(id);
            } else {
                rest.push(s);
            }
        }
        for s in rest {
            if let Some(slot) = self.groups.get_mut(&s.entry.group) {
                let _ = slot.group.insert(s);
                touched.insert(slot.group.id);
            }
        }
        for id in touched {
            if let Some(slot) = self.groups.get_mut(&id) {
                let _ = slot.group.settle();
                slot.was_member = slot.group.is_member(&self.me);
            }
        }
    }

    /// What `member` told us of itself in `group` (what it holds of my entries, how far it
    /// has read), as bytes to keep: a summary frame of one author, so the frame's codec
    /// and checks guard what comes back in [`restore_receipt`](Self::restore_receipt).
    pub fn receipt_bytes(&self, group: &GroupId, member: &NodeId) -> Option<Vec<u8>> {
        let r = self.groups.get(group)?.receipts.get(member)?;
        Frame::Summary(Summary {
            group: *group,
            reply: false,
            read: r.read,
            have: vec![r.mine.clone()],
        })
        .encode()
        .ok()
    }

    /// A member's receipt kept by [`receipt_bytes`](Self::receipt_bytes) in an earlier run.
    /// Bytes that do not decode as this group's are ignored (and counted).
    pub fn restore_receipt(&mut self, group: &GroupId, member: NodeId, bytes: &[u8]) {
        let Some(slot) = self.groups.get_mut(group) else {
            return;
        };
        match Frame::decode(bytes) {
            Ok(Frame::Summary(s)) if s.group == *group && s.have.len() <= 1 => {
                let mine = s.have.into_iter().next().unwrap_or_default();
                slot.receipts.insert(member, Receipt { mine, read: s.read });
            }
            _ => self.stats.malformed += 1,
        }
    }

    /// How far I have read `group` (see [`mark_read`](Self::mark_read)), as bytes to keep:
    /// the clock (8 bytes) and the author's tag (8), big-endian.
    pub fn read_mark_bytes(&self, group: &GroupId) -> Option<Vec<u8>> {
        let mark = self.groups.get(group)?.my_read?;
        let mut out = mark.lamport.to_be_bytes().to_vec();
        out.extend_from_slice(&mark.author);
        Some(out)
    }

    /// My read mark kept by [`read_mark_bytes`](Self::read_mark_bytes) in an earlier run.
    pub fn restore_read_mark(&mut self, group: &GroupId, bytes: &[u8]) {
        let (Some(slot), Ok(b)) = (self.groups.get_mut(group), <[u8; 16]>::try_from(bytes)) else {
            self.stats.malformed += 1;
            return;
        };
        let mut lamport = [0u8; 8];
        lamport.copy_from_slice(&b[..8]);
        let mut author = [0u8; 8];
        author.copy_from_slice(&b[8..]);
        let mark = Mark {
            lamport: u64::from_be_bytes(lamport),
            author,
        };
        slot.my_read = slot.my_read.max(Some(mark));
    }

    fn slot(&mut self, now: Instant, group: Group) -> Slot {
        let jitter = self.jitter();
        Slot {
            group,
            receipts: HashMap::new(),
            heard: HashSet::new(),
            next_gossip: now + jitter,
            my_read: None,
            acks: HashSet::new(),
            was_member: false,
            pushed: HashMap::new(),
        }
    }

    fn jitter(&mut self) -> Duration {
        let ms = self.cfg.gossip_every.as_millis() as u64;
        Duration::from_millis(ms / 2 + self.rng.below(ms.max(1)))
    }

    // The user's acts.

    /// Makes a group named `name` with `members` (besides this node).
    pub fn create(
        &mut self,
        now: Instant,
        wall_ms: i64,
        name: &str,
        members: &[NodeId],
    ) -> Result<GroupId, GroupError> {
        if self.groups.len() >= self.cfg.max_groups {
            return Err(GroupError::TooManyGroups(self.cfg.max_groups));
        }
        let mut members: Vec<NodeId> = members.iter().filter(|m| **m != self.me).copied().collect();
        members.sort();
        members.dedup();
        if members.len() > MAX_MEMBERS - 1 {
            return Err(GroupError::TooManyMembers);
        }
        let mut nonce = [0u8; 16];
        nonce[..8].copy_from_slice(&self.rng.next_u64().to_be_bytes());
        nonce[8..].copy_from_slice(&self.rng.next_u64().to_be_bytes());
        let signed = Entry {
            group: GroupId([0; 16]),
            author: self.me,
            seq: 1,
            lamport: 1,
            prev: [0; 32],
            sent_at_ms: wall_ms,
            op: Op::Create {
                nonce,
                name: name.trim().to_owned(),
                members: members.clone(),
            },
        }
        .sign(&mut self.signer)?;
        let id = signed.group();
        let bytes = signed.bytes.clone();
        let group = Group::new(signed).ok_or(GroupError::Invalid("create"))?;
        let slot = self.slot(now, group);
        self.groups.insert(id, slot);
        self.events.push_back(GroupEvent::Keep { group: id, bytes });
        self.settle(id);
        for m in members {
            if self.online.contains(&m) {
                self.send_membership(id, m);
            }
        }
        Ok(id)
    }

    pub fn invite(
        &mut self,
        wall_ms: i64,
        group: GroupId,
        keys: &[NodeId],
    ) -> Result<MsgId, GroupError> {
        let g = self.member_group(&group)?;
        let mut fresh: Vec<NodeId> = keys.iter().filter(|k| !g.is_member(k)).copied().collect();
        fresh.sort();
        fresh.dedup();
        if fresh.is_empty() {
            return Err(GroupError::Invalid("already members"));
        }
        if fresh.len() > MAX_INVITE || g.members().len() + fresh.len() > MAX_MEMBERS {
            return Err(GroupError::TooManyMembers);
        }
        let id = self.author(wall_ms, group, Op::Invite(fresh.clone()))?;
        for k in fresh {
            if self.online.contains(&k) {
                self.send_membership(group, k);
            }
        }
        Ok(id)
    }

    pub fn leave(&mut self, wall_ms: i64, group: GroupId) -> Result<MsgId, GroupError> {
        self.member_group(&group)?;
        self.author(wall_ms, group, Op::Leave)
    }

    pub fn remove(
        &mut self,
        wall_ms: i64,
        group: GroupId,
        member: NodeId,
    ) -> Result<MsgId, GroupError> {
        let g = self.owned_other(&group, &member)?;
        let upto = g.head(&member).map_or(0, |(seq, _, _)| seq);
        let id = self.author(wall_ms, group, Op::Remove { member, upto })?;
        // The removed member learns it was removed (and gets nothing after).
        if self.online.contains(&member)
            && let Some(s) = self
                .groups
                .get(&group)
                .and_then(|s| s.group.by_id(&self.me, id))
        {
            let bytes = s.bytes.clone();
            self.push(member, group, false, vec![bytes]);
        }
        Ok(id)
    }

    pub fn rename(
        &mut self,
        wall_ms: i64,
        group: GroupId,
        name: &str,
    ) -> Result<MsgId, GroupError> {
        self.member_group(&group)?;
        let name = name.trim();
        if name.is_empty() || name.len() > MAX_NAME_BYTES {
            return Err(GroupError::Invalid("group name length"));
        }
        self.author(wall_ms, group, Op::Rename(name.to_owned()))
    }

    pub fn handover(
        &mut self,
        wall_ms: i64,
        group: GroupId,
        to: NodeId,
    ) -> Result<MsgId, GroupError> {
        self.owned_other(&group, &to)?;
        self.author(wall_ms, group, Op::Handover(to))
    }

    /// Sends a message; `quote` makes it a reply.
    pub fn send(
        &mut self,
        wall_ms: i64,
        group: GroupId,
        text: &str,
        quote: Option<Quote>,
        mentions: Mentions,
    ) -> Result<MsgId, GroupError> {
        let g = self.member_group(&group)?;
        if mentions.all && g.owner() != Some(self.me) {
            return Err(GroupError::NotOwner);
        }
        let text = text.to_owned();
        let op = match quote {
            Some(quote) => Op::Reply {
                quote,
                text,
                mentions,
            },
            None => Op::Text { text, mentions },
        };
        self.author(wall_ms, group, op)
    }

    pub fn recall(
        &mut self,
        wall_ms: i64,
        group: GroupId,
        target: MsgId,
    ) -> Result<MsgId, GroupError> {
        let g = self.member_group(&group)?;
        let t = g.by_id(&self.me, target).ok_or(GroupError::CannotRecall)?;
        let age = wall_ms.saturating_sub(t.entry.sent_at_ms);
        if !matches!(t.entry.op, Op::Text { .. } | Op::Reply { .. })
            || !(0..=RECALL_WINDOW_MS).contains(&age)
        {
            return Err(GroupError::CannotRecall);
        }
        self.author(wall_ms, group, Op::Recall(target))
    }

    /// I have read the group up to and including message `id` by `author`.
    pub fn mark_read(&mut self, now: Instant, group: GroupId, author: NodeId, id: MsgId) {
        let me = self.me;
        let Some(slot) = self.groups.get_mut(&group) else {
            return;
        };
        let Some(key) = slot.group.key_of(&author, id) else {
            return;
        };
        let mark = key.mark();
        if slot.my_read.is_some_and(|m| m >= mark) {
            return;
        }
        let old = slot.my_read;
        slot.my_read = Some(mark);
        // The authors of what was just read get a receipt.
        let authors: HashSet<NodeId> = slot
            .group
            .shown()
            .iter()
            .filter(|p| p.key.within(&mark) && old.is_none_or(|o| !p.key.within(&o)))
            .map(|p| p.author)
            .filter(|a| *a != me && self.online.contains(a))
            .collect();
        slot.acks.extend(authors);
        self.arm_ack(now);
    }

    fn member_group(&self, group: &GroupId) -> Result<&Group, GroupError> {
        let g = &self.groups.get(group).ok_or(GroupError::Unknown)?.group;
        if !g.is_member(&self.me) {
            return Err(GroupError::NotMember);
        }
        Ok(g)
    }

    /// A group I own, with `other` in it (not me): what removing a member or handing the
    /// group on needs.
    fn owned_other(&self, group: &GroupId, other: &NodeId) -> Result<&Group, GroupError> {
        let g = self.member_group(group)?;
        if g.owner() != Some(self.me) {
            return Err(GroupError::NotOwner);
        }
        if !g.is_member(other) || *other == self.me {
            return Err(GroupError::Invalid("not a member"));
        }
        Ok(g)
    }

    /// Signs `op` as my next entry in `group`, takes it, and pushes it to online members.
    fn author(&mut self, wall_ms: i64, group: GroupId, op: Op) -> Result<MsgId, GroupError> {
        let me = self.me;
        let slot = self.groups.get_mut(&group).ok_or(GroupError::Unknown)?;
        let (seq, prev, mine) = slot
            .group
            .head(&me)
            .map_or((1, [0; 32], 0), |(s, h, l)| (s + 1, h, l));
        let lamport = slot.group.max_lamport().max(mine) + 1;
        let signed = Entry {
            group,
            author: me,
            seq,
            lamport,
            prev,
            sent_at_ms: wall_ms,
            op,
        }
        .sign(&mut self.signer)?;
        let id = signed.id();
        let bytes = signed.bytes.clone();
        slot.group
            .insert(signed)
            .map_err(|_| GroupError::Invalid("refused by the group's bounds"))?;
        let members: Vec<NodeId> = slot.group.members();
        self.events.push_back(GroupEvent::Keep {
            group,
            bytes: bytes.clone(),
        });
        self.settle(group);
        for m in members {
            if m != me && self.online.contains(&m) {
                self.push(m, group, false, vec![bytes.clone()]);
            }
        }
        Ok(id)
    }

    // The network.

    pub fn peer_up(&mut self, peer: NodeId) {
        if !self.online.insert(peer) {
            return;
        }
        let groups: Vec<GroupId> = self
            .groups
            .iter()
            .filter(|(_, s)| s.group.is_member(&self.me) && s.group.is_member(&peer))
            .map(|(id, _)| *id)
            .collect();
        for g in groups {
            self.greet(g, peer);
        }
    }

    /// Brings the online set to `online`: peers that came up are greeted.
    pub fn set_online(&mut self, online: &HashSet<NodeId>) {
        let gone: Vec<NodeId> = self.online.difference(online).copied().collect();
        for p in gone {
            self.peer_down(p);
        }
        let came: Vec<NodeId> = online.difference(&self.online).copied().collect();
        for p in came {
            self.peer_up(p);
        }
    }

    pub fn peer_down(&mut self, peer: NodeId) {
        self.online.remove(&peer);
        // It may come back without what it knew (a restart): greet it from the start, and
        // whatever was on its way to it is not.
        for slot in self.groups.values_mut() {
            slot.heard.remove(&peer);
            slot.pushed.remove(&peer);
        }
    }

    pub fn is_online(&self, peer: &NodeId) -> bool {
        self.online.contains(peer)
    }

    /// Opens sync with `peer`: a summary, preceded by the membership changes that make it
    /// a member if it never said anything about the group (it may not know it yet).
    fn greet(&mut self, group: GroupId, peer: NodeId) {
        let heard = self
            .groups
            .get(&group)
            .is_some_and(|s| s.heard.contains(&peer));
        if !heard {
            self.send_membership(group, peer);
        }
        self.send_summary(group, peer, false);
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if self.ack_at.is_some_and(|t| t <= now) {
            self.ack_at = None;
            let mut due = Vec::new();
            for (id, slot) in &mut self.groups {
                for m in slot.acks.drain() {
                    due.push((*id, m));
                }
            }
            for (g, m) in due {
                if self.online.contains(&m) {
                    self.send_summary(g, m, true);
                }
            }
        }
        let due: Vec<GroupId> = self
            .groups
            .iter()
            .filter(|(_, s)| s.next_gossip <= now)
            .map(|(id, _)| *id)
            .collect();
        for g in due {
            let jitter = self.jitter();
            let Some(slot) = self.groups.get_mut(&g) else {
                continue;
            };
            slot.next_gossip = now + jitter;
            if !slot.group.is_member(&self.me) {
                continue;
            }
            let online: Vec<NodeId> = slot
                .group
                .members()
                .into_iter()
                .filter(|m| *m != self.me && self.online.contains(m))
                .collect();
            if online.is_empty() {
                continue;
            }
            let pick = online[self.rng.below(online.len() as u64) as usize];
            self.greet(g, pick);
        }
    }

    fn arm_ack(&mut self, now: Instant) {
        if self.ack_at.is_none() {
            self.ack_at = Some(now + self.cfg.ack_delay);
        }
    }

    /// A frame from `from` (the key its session proved).
    pub fn handle_frame(&mut self, now: Instant, from: NodeId, bytes: &[u8]) {
        self.stats.frames_in += 1;
        let frame = match Frame::decode(bytes) {
            Ok(f) => f,
            Err(_) => {
                self.stats.malformed += 1;
                return;
            }
        };
        match frame {
            Frame::Push {
                group,
                more,
                entries,
            } => self.on_push(now, from, group, more, &entries),
            Frame::Summary(s) => self.on_summary(now, from, s),
        }
    }

    fn verify_all(&mut self, entries: &[Vec<u8>], group: Option<GroupId>) -> Vec<Signed> {
        let known = group.and_then(|g| self.groups.get(&g)).map(|s| &s.group);
        let mut out = Vec::with_capacity(entries.len());
        let (mut bad, mut malformed) = (0, 0);
        for bytes in entries {
            // Already held: no need to check the signature again.
            if let (Some(g), Ok((_, hash, _))) = (known, entry::decode(bytes))
                && g.holds(&hash)
            {
                continue;
            }
            match entry::verify(bytes) {
                Ok(s) => out.push(s),
                Err(EntryError::Signature) => bad += 1,
                Err(_) => malformed += 1,
            }
        }
        self.stats.bad_signature += bad;
        self.stats.malformed += malformed;
        out
    }

    fn on_push(
        &mut self,
        now: Instant,
        from: NodeId,
        group: GroupId,
        more: bool,
        entries: &[Vec<u8>],
    ) {
        if !self.groups.contains_key(&group) {
            self.on_invitation(now, from, group, more, entries);
            return;
        }
        let from_member = self
            .groups
            .get(&group)
            .is_some_and(|s| s.group.ever_member(&from));
        if !from_member {
            self.stats.unauthorized += 1;
            return;
        }
        let signed = self.verify_all(entries, Some(group));
        let me = self.me;
        let Some(slot) = self.groups.get_mut(&group) else {
            return;
        };
        slot.heard.insert(from);
        let mut new_authors = HashSet::new();
        for s in signed {
            let author = s.entry.author;
            let bytes = s.bytes.clone();
            match slot.group.insert(s) {
                Ok(true) => {
                    new_authors.insert(author);
                    self.events.push_back(GroupEvent::Keep { group, bytes });
                }
                Ok(false) => {}
                Err(Refusal::BelowFloor) => {}
                Err(_) => self.stats.refused += 1,
            }
        }
        if !new_authors.is_empty() {
            let online = &self.online;
            slot.acks.extend(
                new_authors
                    .into_iter()
                    .filter(|a| *a != me && online.contains(a)),
            );
            self.arm_ack(now);
        }
        self.settle(group);
        if more {
            self.send_summary(group, from, true);
        }
    }

    /// A push for a group this node does not know: an invitation if it carries the
    /// group's create and makes this node a member.
    fn on_invitation(
        &mut self,
        now: Instant,
        from: NodeId,
        group: GroupId,
        more: bool,
        entries: &[Vec<u8>],
    ) {
        if self.groups.len() >= self.cfg.max_groups {
            self.stats.unsolicited += 1;
            return;
        }
        let signed = self.verify_all(entries, None);
        let Some(create) = signed
            .iter()
            .find(|s| matches!(s.entry.op, Op::Create { .. }) && s.group() == group)
            .cloned()
        else {
            self.stats.unsolicited += 1;
            return;
        };
        let Some(mut g) = Group::new(create) else {
            self.stats.unsolicited += 1;
            return;
        };
        for s in signed {
            let _ = g.insert(s);
        }
        let _ = g.settle();
        if !g.ever_member(&from) || !(g.is_member(&self.me) || more) {
            self.stats.unsolicited += 1;
            return;
        }
        let keep: Vec<Vec<u8>> = g.ordered().map(|s| s.bytes.clone()).collect();
        let mut slot = self.slot(now, g);
        slot.heard.insert(from);
        let member = slot.group.is_member(&self.me);
        self.groups.insert(group, slot);
        for bytes in keep {
            self.events.push_back(GroupEvent::Keep { group, bytes });
        }
        if member {
            self.announce(group);
        }
        self.send_summary(group, from, true);
    }

    /// Everything a just-joined group shows.
    fn announce(&mut self, group: GroupId) {
        let Some(slot) = self.groups.get_mut(&group) else {
            return;
        };
        slot.was_member = true;
        self.events.push_back(GroupEvent::Joined { group });
        for p in slot.group.shown() {
            self.events.push_back(GroupEvent::Shown(p));
        }
        self.events.push_back(GroupEvent::Members {
            group,
            members: slot.group.members(),
            owner: slot.group.owner(),
            name: slot.group.name().to_owned(),
        });
    }

    fn settle(&mut self, group: GroupId) {
        let me = self.me;
        let Some(slot) = self.groups.get_mut(&group) else {
            return;
        };
        let changes: Changes = slot.group.settle();
        let member = slot.group.is_member(&me);
        if member && !slot.was_member {
            // Joined through this settle (an invite arrived): show the whole group.
            self.announce(group);
            return;
        }
        if !slot.was_member {
            return;
        }
        for p in changes.shown {
            self.events.push_back(GroupEvent::Shown(p));
        }
        for (author, id) in changes.withdrawn {
            self.events
                .push_back(GroupEvent::Withdrawn { group, author, id });
        }
        for (author, id) in changes.recalled {
            self.events
                .push_back(GroupEvent::Recalled { group, author, id });
        }
        if changes.membership {
            self.events.push_back(GroupEvent::Members {
                group,
                members: slot.group.members(),
                owner: slot.group.owner(),
                name: slot.group.name().to_owned(),
            });
        }
        if !member {
            slot.was_member = false;
            self.events.push_back(GroupEvent::Gone { group });
        }
    }

    fn on_summary(&mut self, now: Instant, from: NodeId, s: Summary) {
        let me = self.me;
        let group = s.group;
        let Some(slot) = self.groups.get_mut(&group) else {
            return;
        };
        if !slot.group.ever_member(&from) || !slot.group.is_member(&me) {
            self.stats.unauthorized += u64::from(!slot.group.ever_member(&from));
            return;
        }
        slot.heard.insert(from);
        // Receipts: what it holds of mine, and how far it has read.
        if slot.group.is_member(&from) {
            let mine = s
                .have
                .iter()
                .find(|h| h.author == tag(&me))
                .cloned()
                .unwrap_or_default();
            let old = slot.receipts.get(&from).cloned().unwrap_or_default();
            let (delivered, read) = receipts_between(&slot.group, &me, &old, &mine, s.read);
            slot.receipts.insert(
                from,
                Receipt {
                    mine,
                    read: s.read.max(old.read),
                },
            );
            if !delivered.is_empty() {
                self.events.push_back(GroupEvent::Delivered {
                    group,
                    member: from,
                    ids: delivered,
                });
            }
            if !read.is_empty() {
                self.events.push_back(GroupEvent::Read {
                    group,
                    member: from,
                    ids: read,
                });
            }
        }
        let pushed = slot.pushed.entry(from).or_default();
        pushed.retain(|_, at| now.saturating_duration_since(*at) < IN_FLIGHT);
        let (entries, more) = missing_for(&slot.group, &from, &s.have, |h| pushed.contains_key(h));
        let entries: Vec<Vec<u8>> = entries
            .into_iter()
            .map(|(hash, bytes)| {
                pushed.insert(hash, now);
                bytes
            })
            .collect();
        let lack = lacks(&slot.group, &s.have);
        if !entries.is_empty() {
            self.push(from, group, more, entries);
        }
        if lack && !s.reply {
            self.send_summary(group, from, true);
        }
    }

    // Sending.

    fn push(&mut self, to: NodeId, group: GroupId, more: bool, entries: Vec<Vec<u8>>) {
        if entries.is_empty() {
            return;
        }
        let n = entries.len() as u64;
        let frame = Frame::Push {
            group,
            more,
            entries,
        };
        if let Ok(bytes) = frame.encode() {
            self.stats.entries_out += n;
            self.emit(to, bytes);
        }
    }

    fn emit(&mut self, to: NodeId, bytes: Vec<u8>) {
        self.stats.frames_out += 1;
        self.stats.bytes_out += bytes.len() as u64;
        self.out.push_back((to, bytes));
    }

    fn send_summary(&mut self, group: GroupId, to: NodeId, reply: bool) {
        let Some(slot) = self.groups.get(&group) else {
            return;
        };
        let mut have = slot.group.haves();
        have.truncate(MAX_SUMMARY_AUTHORS);
        let frame = Frame::Summary(Summary {
            group,
            reply,
            read: slot.my_read,
            have,
        });
        if let Ok(bytes) = frame.encode() {
            self.emit(to, bytes);
        }
    }

    /// The group's membership changes, for a member that may not know the group yet.
    fn send_membership(&mut self, group: GroupId, to: NodeId) {
        let Some(slot) = self.groups.get(&group) else {
            return;
        };
        let mut entries = Vec::new();
        let mut size = push_size([]);
        let mut more = false;
        for s in slot.group.membership_ops() {
            if entries.len() == MAX_PUSH_ENTRIES || size + 2 + s.bytes.len() > MAX_FRAME_BYTES {
                more = true;
                break;
            }
            size += 2 + s.bytes.len();
            entries.push(s.bytes.clone());
        }
        self.push(to, group, more, entries);
    }

    /// What `member` has and has not received and read of my message `id`: (delivered,
    /// read), each a list of members (not me).
    pub fn receipts(&self, group: &GroupId, id: MsgId) -> Option<(Vec<NodeId>, Vec<NodeId>)> {
        let slot = self.groups.get(group)?;
        let s = slot.group.by_id(&self.me, id)?;
        let key = Key::of(s);
        let mut delivered = Vec::new();
        let mut read = Vec::new();
        for m in slot.group.members() {
            if m == self.me {
                continue;
            }
            let Some(r) = slot.receipts.get(&m) else {
                continue;
            };
            let has_read = r.read.is_some_and(|mark| key.within(&mark));
            if r.mine.covers(s.entry.seq) || has_read {
                delivered.push(m);
            }
            if has_read {
                read.push(m);
            }
        }
        Some((delivered, read))
    }
}

/// My messages newly held and newly read by a member, from its old and new summary.
fn receipts_between(
    g: &Group,
    me: &NodeId,
    old: &Receipt,
    mine: &Have,
    read: Option<Mark>,
) -> (Vec<MsgId>, Vec<MsgId>) {
    let mut delivered = Vec::new();
    let mut newly_read = Vec::new();
    let lowest_gap = old.mine.gaps.iter().map(|(lo, _)| *lo).min();
    let from = lowest_gap.unwrap_or(old.mine.hi + 1).min(old.mine.hi + 1);
    for s in g.chain_from(me, from) {
        if !matches!(s.entry.op, Op::Text { .. } | Op::Reply { .. }) {
            continue;
        }
        if mine.covers(s.entry.seq) && !old.mine.covers(s.entry.seq) {
            delivered.push(s.id());
        }
    }
    if let Some(mark) = read
        && old.read.is_none_or(|o| o < mark)
    {
        // My chain's clocks grow with its numbers: walk back from the top.
        if let Some((top, _, _)) = g.head(me) {
            let mut seq = top;
            while seq > 0 {
                let Some(s) = g.chain_from(me, seq).next().filter(|s| s.entry.seq == seq) else {
                    seq -= 1;
                    continue;
                };
                let key = Key::of(s);
                if old.read.is_some_and(|o| key.within(&o)) {
                    break;
                }
                if key.within(&mark) && matches!(s.entry.op, Op::Text { .. } | Op::Reply { .. }) {
                    newly_read.push(s.id());
                }
                seq -= 1;
            }
            newly_read.reverse();
        }
    }
    (delivered, newly_read)
}

/// Does `have` list entries this group does not hold?
fn lacks(g: &Group, have: &[Have]) -> bool {
    let mine: HashMap<[u8; 8], Have> = g.haves().into_iter().map(|h| (h.author, h)).collect();
    have.iter().any(|theirs| match mine.get(&theirs.author) {
        None => theirs.hi > theirs.floor,
        Some(m) => {
            if theirs.hi > m.hi {
                return true;
            }
            m.gaps.iter().any(|(lo, hi)| holds_any(theirs, *lo, *hi))
        }
    })
}

/// Does `h` hold any number in `lo..=hi`?
fn holds_any(h: &Have, lo: u64, hi: u64) -> bool {
    let lo = lo.max(h.floor + 1);
    let hi = hi.min(h.hi);
    if lo > hi {
        return false;
    }
    // Walk the gaps upward: is some number in lo..=hi outside all of them?
    let mut gaps = h.gaps.clone();
    gaps.sort();
    let mut cursor = lo;
    for (glo, ghi) in gaps {
        if ghi < cursor {
            continue;
        }
        if glo > cursor {
            return true;
        }
        cursor = ghi.saturating_add(1);
        if cursor > hi {
            return false;
        }
    }
    cursor <= hi
}

/// The entries `peer` lacks, by its summary, that it may have: membership changes first,
/// then the rest in the group's order; at most one push. True if there are more.
fn missing_for(
    g: &Group,
    peer: &NodeId,
    have: &[Have],
    on_its_way: impl Fn(&Hash) -> bool,
) -> (Vec<(Hash, Vec<u8>)>, bool) {
    let theirs: HashMap<[u8; 8], &Have> = have.iter().map(|h| (h.author, h)).collect();
    // A former member gets nothing written after it left or was removed.
    let limit: Option<Key> = if g.is_member(peer) {
        None
    } else {
        match g.ended_at(peer) {
            Some(end) => Some(end),
            None => return (Vec::new(), false),
        }
    };
    let mut candidates: Vec<(bool, Key, &Signed)> = Vec::new();
    for author in g.authors() {
        let empty = Have::default();
        let h = theirs.get(&tag(author)).copied().unwrap_or(&empty);
        let mut ranges: Vec<(u64, u64)> = h.gaps.clone();
        ranges.push((h.hi.max(h.floor) + 1, u64::MAX));
        for (lo, hi) in ranges {
            for s in g.chain_from(author, lo) {
                if s.entry.seq > hi {
                    break;
                }
                let key = Key::of(s);
                if limit.is_some_and(|end| key > end) || on_its_way(&s.hash) {
                    continue;
                }
                candidates.push((!s.entry.op.is_membership(), key, s));
            }
        }
    }
    candidates.sort_by_key(|(late, key, _)| (*late, *key));
    let mut out = Vec::new();
    let mut size = push_size([]);
    for (_, _, s) in &candidates {
        if out.len() == MAX_PUSH_ENTRIES || size + 2 + s.bytes.len() > MAX_FRAME_BYTES {
            return (out, true);
        }
        size += 2 + s.bytes.len();
        out.push((s.hash, s.bytes.clone()));
    }
    (out, false)
}
