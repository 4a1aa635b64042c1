//! One group as this member knows it: the entries held, and everything derived from them.
//!
//! What a group *is* (its members, owner and name, and which messages count) is a function
//! of the set of entries held, computed the same way by every member. Two members holding
//! the same entries agree on everything, whatever order the entries came in.
//!
//! - **Order.** Entries are ordered by [`Key`]: Lamport clock, then author, then hash. An
//!   author's clock only grows along its own sequence numbers (below).
//! - **Chains.** An author's entries are numbered 1, 2, 3… and each names the previous one's
//!   hash. An entry is void when an entry of the same author with a lower number has a
//!   Lamport clock at least as high (a back-dated entry), when its predecessor is held and
//!   is not the one it names, or when its author signed two entries with the same number
//!   (both are void). So nobody can place an entry of theirs before one they wrote earlier:
//!   a former owner cannot back-date a removal to before its handover, a member cannot
//!   back-date a message to before its own leave.
//! - **Membership.** The membership changes that are not void are applied in order from
//!   the create, each checked against the state just before it: the author must be a
//!   member; only the owner removes and hands over; an invite may not take the group past
//!   [`MAX_MEMBERS`]; an owner who leaves hands ownership to the member who joined
//!   earliest (ties by key). A removal names the removed member's last entry its author
//!   had seen (`upto`); the removed member's entries with higher numbers are void even if
//!   their clocks place them before the removal (they were written without seeing it,
//!   or back-dated), membership changes included (found by iterating to a fixed point, at
//!   most [`FIXPOINT_ROUNDS`] rounds, so the result is still a function of the set).
//! - **Messages** count when their author is a member at their place in the order (and,
//!   for `@all`, the owner). A recall counts when it is the author's own, later in its
//!   chain than the message, and within [`RECALL_WINDOW_MS`] by the author's clock.
//! - **Bounds.** At most [`MAX_HELD_MESSAGES`] messages are held per group: beyond that the
//!   oldest (in the group's order) are dropped, and each author's floor (the highest
//!   number dropped, and its clock) is kept so that nothing below it is fetched again or
//!   placed before it. Entries by keys that were never members are held up to
//!   [`MAX_STRANGER_ENTRIES`] (an invite may still make them count); membership changes
//!   up to [`MAX_MEMBERSHIP_OPS`].

use super::super::wire::Quote;
use super::super::{MsgId, NodeId};
use super::GroupId;
use super::entry::{Hash, MAX_MEMBERS, Mentions, Op, RECALL_WINDOW_MS, Signed, group_id};
use super::frame::{Have, MAX_GAPS, Mark, tag};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// Messages held per group; older ones are dropped (the catch-up window).
pub const MAX_HELD_MESSAGES: usize = 10_000;
/// Membership changes held per group.
pub const MAX_MEMBERSHIP_OPS: usize = 4096;
/// Entries held per group from keys that were never members.
pub const MAX_STRANGER_ENTRIES: usize = 256;
/// Entries held for one (author, number): a second one is the evidence that voids both.
const MAX_PER_SEQ: usize = 2;
/// Rounds of the removal fixed point.
pub const FIXPOINT_ROUNDS: usize = 8;

/// An entry's place in the group's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    pub lamport: u64,
    pub author: NodeId,
    pub hash: Hash,
}

impl Key {
    pub fn of(s: &Signed) -> Key {
        Key {
            lamport: s.entry.lamport,
            author: s.entry.author,
            hash: s.hash,
        }
    }

    pub fn mark(&self) -> Mark {
        Mark {
            lamport: self.lamport,
            author: tag(&self.author),
        }
    }

    /// Is this entry at or before `mark`?
    pub fn within(&self, mark: &Mark) -> bool {
        self.mark() <= *mark
    }
}

/// A membership change, as shown ("alice added bob").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Created { name: String, members: Vec<NodeId> },
    Invited(Vec<NodeId>),
    Left,
    Removed(NodeId),
    Renamed(String),
    Handover(NodeId),
}

/// What a shown entry says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum What {
    Text {
        text: String,
        mentions: Mentions,
    },
    Reply {
        quote: Quote,
        text: String,
        mentions: Mentions,
    },
    Change(Change),
}

/// An entry that counts, as the app shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posted {
    pub group: GroupId,
    pub id: MsgId,
    pub author: NodeId,
    pub key: Key,
    pub seq: u64,
    pub sent_at_ms: i64,
    pub what: What,
}

/// What one settle changed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Changes {
    /// Entries that count now and did not before, in the group's order.
    pub shown: Vec<Posted>,
    /// Entries that counted and no longer do (a late removal voided them).
    pub withdrawn: Vec<(NodeId, MsgId)>,
    /// Messages recalled now, by (author, id).
    pub recalled: Vec<(NodeId, MsgId)>,
    /// The members, owner or name changed.
    pub membership: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Period {
    /// Member strictly after this entry…
    start: Key,
    /// …and strictly before this one.
    end: Option<Key>,
    /// Entries numbered above this are void in the period (a removal's `upto`).
    cutoff: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Timeline {
    periods: HashMap<NodeId, Vec<Period>>,
    /// The owner from each key on.
    owners: Vec<(Key, NodeId)>,
    valid_ops: BTreeSet<Key>,
    /// Current members and the change that made them members.
    members: BTreeMap<NodeId, Key>,
    owner: Option<NodeId>,
    name: String,
}

impl Timeline {
    fn period(&self, who: &NodeId, at: &Key) -> Option<&Period> {
        self.periods
            .get(who)?
            .iter()
            .find(|p| p.start < *at && p.end.is_none_or(|e| *at < e))
    }

    fn owner_at(&self, at: &Key) -> Option<NodeId> {
        let i = self.owners.partition_point(|(k, _)| k < at);
        i.checked_sub(1)
            .and_then(|i| self.owners.get(i))
            .map(|(_, o)| *o)
    }

    fn close(&mut self, who: &NodeId, at: Key, cutoff: Option<u64>) {
        self.members.remove(who);
        if let Some(p) = self
            .periods
            .get_mut(who)
            .and_then(|ps| ps.iter_mut().find(|p| p.end.is_none()))
        {
            p.end = Some(at);
            p.cutoff = cutoff;
        }
    }

    fn open(&mut self, who: NodeId, at: Key) {
        self.members.insert(who, at);
        self.periods.entry(who).or_default().push(Period {
            start: at,
            end: None,
            cutoff: None,
        });
    }
}

/// Why an entry was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Another group's entry, or a second create.
    WrongGroup,
    /// At or below its author's floor: dropped from the window.
    BelowFloor,
    /// A bound was reached (strangers, membership changes, numbers).
    Full,
}

#[derive(Debug)]
pub struct Group {
    pub id: GroupId,
    genesis: Hash,
    entries: HashMap<Hash, Signed>,
    order: BTreeSet<Key>,
    by_author: HashMap<NodeId, BTreeMap<u64, Vec<Hash>>>,
    membership_ops: BTreeSet<Key>,
    messages_held: usize,
    strangers_held: usize,
    /// Per author: the highest number dropped from the window, and its clock.
    floors: HashMap<NodeId, (u64, u64)>,
    /// (author, id) → the entry, for recalls and receipts.
    by_id: HashMap<(NodeId, MsgId), Hash>,
    /// (author, target) → recalls naming it.
    recalls: HashMap<(NodeId, MsgId), Vec<Hash>>,
    // Derived.
    void: HashSet<Hash>,
    timeline: Timeline,
    valid: HashSet<Hash>,
    recalled: HashSet<Hash>,
    // Since the last settle.
    new: Vec<Hash>,
    dirty_authors: HashSet<NodeId>,
    membership_dirty: bool,
}

impl Group {
    /// A group from its create entry (already verified).
    pub fn new(create: Signed) -> Option<Group> {
        if !matches!(create.entry.op, Op::Create { .. }) {
            return None;
        }
        let id = group_id(&create.hash);
        let mut g = Group {
            id,
            genesis: create.hash,
            entries: HashMap::new(),
            order: BTreeSet::new(),
            by_author: HashMap::new(),
            membership_ops: BTreeSet::new(),
            messages_held: 0,
            strangers_held: 0,
            floors: HashMap::new(),
            by_id: HashMap::new(),
            recalls: HashMap::new(),
            void: HashSet::new(),
            timeline: Timeline::default(),
            valid: HashSet::new(),
            recalled: HashSet::new(),
            new: Vec::new(),
            dirty_authors: HashSet::new(),
            membership_dirty: false,
        };
        g.insert(create).ok()?;
        Some(g)
    }

    pub fn holds(&self, hash: &Hash) -> bool {
        self.entries.contains_key(hash)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Takes a verified entry. Call [`settle`](Self::settle) after a batch.
    pub fn insert(&mut self, s: Signed) -> Result<bool, Refusal> {
        if self.entries.contains_key(&s.hash) {
            return Ok(false);
        }
        let is_create = matches!(s.entry.op, Op::Create { .. });
        if s.group() != self.id || (is_create && s.hash != self.genesis) {
            return Err(Refusal::WrongGroup);
        }
        let author = s.entry.author;
        // The creator's first entry is the create.
        if !is_create
            && s.entry.seq == 1
            && self
                .entries
                .get(&self.genesis)
                .is_some_and(|g| g.entry.author == author)
        {
            return Err(Refusal::WrongGroup);
        }
        if let Some((floor, _)) = self.floors.get(&author)
            && s.entry.seq <= *floor
        {
            return Err(Refusal::BelowFloor);
        }
        let stranger = !is_create && !self.timeline.periods.contains_key(&author);
        if stranger && self.strangers_held >= MAX_STRANGER_ENTRIES {
            return Err(Refusal::Full);
        }
        let membership = s.entry.op.is_membership();
        if membership && self.membership_ops.len() >= MAX_MEMBERSHIP_OPS {
            return Err(Refusal::Full);
        }
        let slot = self
            .by_author
            .entry(author)
            .or_default()
            .entry(s.entry.seq)
            .or_default();
        if slot.len() >= MAX_PER_SEQ {
            return Err(Refusal::Full);
        }
        slot.push(s.hash);
        let key = Key::of(&s);
        self.order.insert(key);
        if membership {
            self.membership_ops.insert(key);
            self.membership_dirty = true;
        } else {
            self.messages_held += 1;
        }
        if stranger {
            self.strangers_held += 1;
        }
        self.by_id.insert((author, s.id()), s.hash);
        if let Op::Recall(target) = s.entry.op {
            self.recalls
                .entry((author, target))
                .or_default()
                .push(s.hash);
        }
        self.dirty_authors.insert(author);
        self.new.push(s.hash);
        self.entries.insert(s.hash, s);
        Ok(true)
    }

    /// Recomputes what the entries taken since the last settle change.
    pub fn settle(&mut self) -> Changes {
        let new: Vec<Hash> = std::mem::take(&mut self.new);
        let old_void = self.void.clone();
        for author in std::mem::take(&mut self.dirty_authors) {
            self.check_chain(&author);
        }
        let newly: HashSet<Hash> = new.iter().copied().collect();
        let void_changed_for_old = old_void
            .symmetric_difference(&self.void)
            .any(|h| !newly.contains(h));
        let void_touches_ops = old_void.symmetric_difference(&self.void).any(|h| {
            self.entries
                .get(h)
                .is_some_and(|s| s.entry.op.is_membership())
        });
        let mut timeline_changed = false;
        if self.membership_dirty || void_touches_ops {
            self.membership_dirty = false;
            let t = self.walk();
            timeline_changed = t != self.timeline;
            self.timeline = t;
        }
        let old_valid = self.valid.clone();
        let old_recalled = self.recalled.clone();
        let old_state = (
            self.timeline.members.keys().copied().collect::<Vec<_>>(),
            self.timeline.owner,
            self.timeline.name.clone(),
        );
        if timeline_changed || void_changed_for_old {
            self.revalidate_all();
        } else {
            for h in &new {
                self.revalidate(h);
            }
        }
        self.evict();
        let mut shown: Vec<Posted> = self
            .valid
            .difference(&old_valid)
            .filter_map(|h| self.posted(h))
            .collect();
        shown.sort_by_key(|p| p.key);
        let withdrawn = old_valid
            .difference(&self.valid)
            .filter_map(|h| self.entries.get(h))
            .map(|s| (s.entry.author, s.id()))
            .collect();
        let recalled = self
            .recalled
            .difference(&old_recalled)
            .filter_map(|h| self.entries.get(h))
            .map(|s| (s.entry.author, s.id()))
            .collect();
        let new_state = (
            self.timeline.members.keys().copied().collect::<Vec<_>>(),
            self.timeline.owner,
            self.timeline.name.clone(),
        );
        Changes {
            shown,
            withdrawn,
            recalled,
            membership: old_state != new_state,
        }
    }

    /// Marks the void entries of one author's chain.
    fn check_chain(&mut self, author: &NodeId) {
        let Some(chain) = self.by_author.get(author) else {
            return;
        };
        let (_, floor_lamport) = self.floors.get(author).copied().unwrap_or((0, 0));
        let mut max_lamport = floor_lamport;
        let mut prev: Option<(u64, Hash)> = None;
        let mut void = Vec::new();
        let mut fine = Vec::new();
        for (seq, hashes) in chain {
            let mut highest = 0;
            for h in hashes {
                let Some(e) = self.entries.get(h).map(|s| &s.entry) else {
                    continue;
                };
                let back_dated = e.lamport <= max_lamport;
                let wrong_prev = prev.is_some_and(|(ps, ph)| ps + 1 == *seq && ph != e.prev);
                if hashes.len() > 1 || back_dated || wrong_prev {
                    void.push(*h);
                } else {
                    fine.push(*h);
                }
                highest = highest.max(e.lamport);
            }
            max_lamport = max_lamport.max(highest);
            prev = match hashes.as_slice() {
                [one] => Some((*seq, *one)),
                _ => None,
            };
        }
        for h in fine {
            self.void.remove(&h);
        }
        self.void.extend(void);
    }

    /// The membership timeline: the changes applied in order, removals' cutoffs iterated to
    /// a fixed point.
    fn walk(&self) -> Timeline {
        let mut excluded: HashSet<Hash> = HashSet::new();
        let mut t = self.walk_once(&excluded);
        for _ in 0..FIXPOINT_ROUNDS {
            let mut next = HashSet::new();
            for (who, periods) in &t.periods {
                for p in periods {
                    let (Some(end), Some(cutoff)) = (p.end, p.cutoff) else {
                        continue;
                    };
                    for k in self.membership_ops.range(p.start..end) {
                        if k.author == *who
                            && self
                                .entries
                                .get(&k.hash)
                                .is_some_and(|s| s.entry.seq > cutoff)
                        {
                            next.insert(k.hash);
                        }
                    }
                }
            }
            if next == excluded {
                break;
            }
            excluded = next;
            t = self.walk_once(&excluded);
        }
        t
    }

    fn walk_once(&self, excluded: &HashSet<Hash>) -> Timeline {
        let mut t = Timeline::default();
        for key in &self.membership_ops {
            if excluded.contains(&key.hash) || self.void.contains(&key.hash) {
                continue;
            }
            let Some(s) = self.entries.get(&key.hash) else {
                continue;
            };
            let author = s.entry.author;
            if key.hash == self.genesis {
                if let Op::Create { name, members, .. } = &s.entry.op {
                    t.open(author, *key);
                    for m in members {
                        t.open(*m, *key);
                    }
                    t.owner = Some(author);
                    t.owners.push((*key, author));
                    t.name = name.clone();
                    t.valid_ops.insert(*key);
                }
                continue;
            }
            if t.owner.is_none() || !t.members.contains_key(&author) {
                continue;
            }
            let is_owner = t.owner == Some(author);
            match &s.entry.op {
                Op::Create { .. } => continue,
                Op::Invite(keys) => {
                    let fresh: Vec<NodeId> = keys
                        .iter()
                        .filter(|k| !t.members.contains_key(k))
                        .copied()
                        .collect();
                    if t.members.len() + fresh.len() > MAX_MEMBERS {
                        continue;
                    }
                    for k in fresh {
                        t.open(k, *key);
                    }
                }
                Op::Leave => {
                    t.close(&author, *key, None);
                    if is_owner {
                        let heir = t
                            .members
                            .iter()
                            .min_by_key(|(id, joined)| (**joined, **id))
                            .map(|(id, _)| *id);
                        if let Some(heir) = heir {
                            t.owner = Some(heir);
                            t.owners.push((*key, heir));
                        }
                    }
                }
                Op::Remove { member, upto } => {
                    if !is_owner || !t.members.contains_key(member) {
                        continue;
                    }
                    t.close(member, *key, Some(*upto));
                }
                Op::Rename(name) => t.name = name.clone(),
                Op::Handover(to) => {
                    if !is_owner || !t.members.contains_key(to) {
                        continue;
                    }
                    t.owner = Some(*to);
                    t.owners.push((*key, *to));
                }
                Op::Text { .. } | Op::Reply { .. } | Op::Recall(_) => continue,
            }
            t.valid_ops.insert(*key);
        }
        t
    }

    /// Does this message (not a membership change) count?
    fn message_counts(&self, s: &Signed) -> bool {
        let key = Key::of(s);
        if self.void.contains(&s.hash) {
            return false;
        }
        let Some(p) = self.timeline.period(&s.entry.author, &key) else {
            return false;
        };
        if p.cutoff.is_some_and(|c| s.entry.seq > c) {
            return false;
        }
        if s.entry.op.mentions().is_some_and(|m| m.all)
            && self.timeline.owner_at(&key) != Some(s.entry.author)
        {
            return false;
        }
        true
    }

    fn counts(&self, s: &Signed) -> bool {
        if s.entry.op.is_membership() {
            self.timeline.valid_ops.contains(&Key::of(s))
        } else {
            self.message_counts(s)
        }
    }

    /// The message this valid recall takes back, if it may.
    fn recall_target(&self, recall: &Signed) -> Option<Hash> {
        let Op::Recall(target) = recall.entry.op else {
            return None;
        };
        let h = self.by_id.get(&(recall.entry.author, target))?;
        let t = self.entries.get(h)?;
        let age = recall.entry.sent_at_ms.checked_sub(t.entry.sent_at_ms)?;
        let ok = matches!(t.entry.op, Op::Text { .. } | Op::Reply { .. })
            && t.entry.seq < recall.entry.seq
            && (0..=RECALL_WINDOW_MS).contains(&age);
        ok.then_some(*h)
    }

    fn revalidate(&mut self, h: &Hash) {
        let Some(s) = self.entries.get(h) else {
            return;
        };
        if self.counts(s) {
            self.valid.insert(*h);
            match s.entry.op {
                Op::Recall(_) => {
                    if let Some(t) = self.recall_target(s) {
                        self.recalled.insert(t);
                    }
                }
                Op::Text { .. } | Op::Reply { .. } => {
                    let by = (s.entry.author, s.id());
                    let recalls = self.recalls.get(&by).cloned().unwrap_or_default();
                    for r in recalls {
                        if self.valid.contains(&r)
                            && let Some(rs) = self.entries.get(&r)
                            && self.recall_target(rs) == Some(*h)
                        {
                            self.recalled.insert(*h);
                        }
                    }
                }
                _ => {}
            }
        } else {
            self.valid.remove(h);
        }
    }

    fn revalidate_all(&mut self) {
        self.valid = self
            .entries
            .values()
            .filter(|s| self.counts(s))
            .map(|s| s.hash)
            .collect();
        self.recalled = self
            .valid
            .iter()
            .filter_map(|h| self.entries.get(h))
            .filter_map(|s| self.recall_target(s))
            .filter(|t| self.valid.contains(t))
            .collect();
    }

    /// Drops the oldest messages beyond [`MAX_HELD_MESSAGES`].
    fn evict(&mut self) {
        while self.messages_held > MAX_HELD_MESSAGES {
            let Some(key) = self
                .order
                .iter()
                .find(|k| !self.membership_ops.contains(k))
                .copied()
            else {
                return;
            };
            self.order.remove(&key);
            self.messages_held -= 1;
            if let Some(s) = self.entries.remove(&key.hash) {
                let floor = self.floors.entry(s.entry.author).or_insert((0, 0));
                floor.0 = floor.0.max(s.entry.seq);
                floor.1 = floor.1.max(s.entry.lamport);
                if let Some(chain) = self.by_author.get_mut(&s.entry.author) {
                    let keep = chain.split_off(&(floor.0 + 1));
                    let dropped: Vec<Hash> = std::mem::replace(chain, keep)
                        .into_values()
                        .flatten()
                        .filter(|h| *h != key.hash)
                        .collect();
                    // Membership changes below the floor stay held; put them back.
                    for h in dropped {
                        if let Some(e) = self.entries.get(&h) {
                            chain.entry(e.entry.seq).or_default().push(h);
                        }
                    }
                }
                self.by_id.remove(&(s.entry.author, s.id()));
                self.valid.remove(&key.hash);
                self.recalled.remove(&key.hash);
                self.void.remove(&key.hash);
            }
        }
    }

    fn posted(&self, h: &Hash) -> Option<Posted> {
        let s = self.entries.get(h)?;
        let what = match &s.entry.op {
            Op::Create { name, members, .. } => What::Change(Change::Created {
                name: name.clone(),
                members: members.clone(),
            }),
            Op::Invite(keys) => What::Change(Change::Invited(keys.clone())),
            Op::Leave => What::Change(Change::Left),
            Op::Remove { member, .. } => What::Change(Change::Removed(*member)),
            Op::Rename(name) => What::Change(Change::Renamed(name.clone())),
            Op::Handover(to) => What::Change(Change::Handover(*to)),
            Op::Text { text, mentions } => What::Text {
                text: text.clone(),
                mentions: mentions.clone(),
            },
            Op::Reply {
                quote,
                text,
                mentions,
            } => What::Reply {
                quote: quote.clone(),
                text: text.clone(),
                mentions: mentions.clone(),
            },
            Op::Recall(_) => return None,
        };
        Some(Posted {
            group: self.id,
            id: s.id(),
            author: s.entry.author,
            key: Key::of(s),
            seq: s.entry.seq,
            sent_at_ms: s.entry.sent_at_ms,
            what,
        })
    }

    // Queries.

    /// Current members, by key.
    pub fn members(&self) -> Vec<NodeId> {
        self.timeline.members.keys().copied().collect()
    }

    pub fn is_member(&self, who: &NodeId) -> bool {
        self.timeline.members.contains_key(who)
    }

    /// Was `who` ever a member (current members included)?
    pub fn ever_member(&self, who: &NodeId) -> bool {
        self.timeline.periods.contains_key(who)
    }

    /// The change that ended `who`'s latest membership (None for a current member or a
    /// stranger).
    pub fn ended_at(&self, who: &NodeId) -> Option<Key> {
        if self.is_member(who) {
            return None;
        }
        self.timeline.periods.get(who)?.last()?.end
    }

    pub fn owner(&self) -> Option<NodeId> {
        self.timeline.owner
    }

    pub fn name(&self) -> &str {
        &self.timeline.name
    }

    /// Every entry that counts, in the group's order (recalls not included).
    pub fn shown(&self) -> Vec<Posted> {
        self.order
            .iter()
            .filter(|k| self.valid.contains(&k.hash))
            .filter_map(|k| self.posted(&k.hash))
            .collect()
    }

    pub fn is_recalled(&self, author: &NodeId, id: MsgId) -> bool {
        self.by_id
            .get(&(*author, id))
            .is_some_and(|h| self.recalled.contains(h))
    }

    /// Entries held that do not count (void, unauthorized, or waiting for a change that
    /// would make them count).
    pub fn not_counting(&self) -> usize {
        self.entries.len() - self.valid.len()
    }

    pub fn entry(&self, h: &Hash) -> Option<&Signed> {
        self.entries.get(h)
    }

    pub fn by_id(&self, author: &NodeId, id: MsgId) -> Option<&Signed> {
        self.entries.get(self.by_id.get(&(*author, id))?)
    }

    /// The highest Lamport clock among the entries that count.
    pub fn max_lamport(&self) -> u64 {
        self.order
            .iter()
            .rev()
            .find(|k| self.valid.contains(&k.hash))
            .map_or(0, |k| k.lamport)
    }

    /// `author`'s latest entry: (number, hash, clock).
    pub fn head(&self, author: &NodeId) -> Option<(u64, Hash, u64)> {
        let (seq, hashes) = self.by_author.get(author)?.iter().next_back()?;
        let h = *hashes.first()?;
        Some((*seq, h, self.entries.get(&h)?.entry.lamport))
    }

    /// The key of the entry `id` by `author`.
    pub fn key_of(&self, author: &NodeId, id: MsgId) -> Option<Key> {
        self.by_id(author, id).map(Key::of)
    }

    /// The entries in order, for the store or a test.
    pub fn ordered(&self) -> impl Iterator<Item = &Signed> {
        self.order.iter().filter_map(|k| self.entries.get(&k.hash))
    }

    /// Membership changes in order (all held, counting or not).
    pub fn membership_ops(&self) -> impl Iterator<Item = &Signed> {
        self.membership_ops
            .iter()
            .filter_map(|k| self.entries.get(&k.hash))
    }

    pub fn genesis(&self) -> Hash {
        self.genesis
    }

    // Sync.

    /// What this member holds, per author, for a summary.
    pub fn haves(&self) -> Vec<Have> {
        let mut out: Vec<Have> = self
            .by_author
            .iter()
            .map(|(author, chain)| {
                let floor = self.floors.get(author).map_or(0, |f| f.0);
                have_of(tag(author), floor, chain.keys().copied())
            })
            .collect();
        // Authors whose chain was dropped entirely still have a floor.
        for (author, (floor, _)) in &self.floors {
            if self.by_author.get(author).is_none_or(|c| c.is_empty()) {
                out.push(Have {
                    author: tag(author),
                    floor: *floor,
                    hi: *floor,
                    gaps: Vec::new(),
                });
            }
        }
        out.sort_by_key(|h| h.author);
        out.dedup_by_key(|h| h.author);
        out
    }

    /// The entries of `author` numbered `seq` and above (in number order).
    pub fn chain_from(&self, author: &NodeId, seq: u64) -> impl Iterator<Item = &Signed> {
        self.by_author
            .get(author)
            .into_iter()
            .flat_map(move |c| c.range(seq..))
            .flat_map(|(_, hs)| hs.iter())
            .filter_map(|h| self.entries.get(h))
    }

    /// Authors held, by their tag.
    pub fn authors(&self) -> impl Iterator<Item = &NodeId> {
        self.by_author.keys()
    }
}

/// A [`Have`] from the numbers held (ascending) above `floor`.
pub fn have_of(author: [u8; 8], floor: u64, seqs: impl Iterator<Item = u64>) -> Have {
    let mut hi = floor;
    let mut gaps: Vec<(u64, u64)> = Vec::new();
    for s in seqs {
        if s <= floor {
            continue;
        }
        if s > hi + 1 {
            gaps.push((hi + 1, s - 1));
        }
        hi = hi.max(s);
    }
    gaps.reverse();
    // Only the highest gaps are reported; lower ones read as held until those are filled,
    // and are asked for then.
    gaps.truncate(MAX_GAPS);
    Have {
        author,
        floor,
        hi,
        gaps,
    }
}
