//! Groups in the model (issue 14): what the app knows of each group (members, owner, name),
//! its messages placed in the group's order, the slash commands that make and change
//! groups, mentions, and the receipts of my messages.
//!
//! The protocol (`proto::group`) decides what counts; the model only shows it and asks for
//! acts ([`Effect::Group`]). A group's message comes in once stored, with its place in the
//! group's order ([`GroupPart`](crate::message::GroupPart)); one that arrives late goes
//! where it belongs, and the view does not move under the reader: scrolled up, what comes
//! in below the view adds its lines to the scroll, and what comes in above it changes
//! nothing on screen.

use super::{App, Author, Effect, MAX_MESSAGES_IN_MEMORY, Message, Notice, mentions};
use crate::message::{GroupOrder, Tally};
use crate::proto::group::{GroupId, MAX_MEMBERS, entry::MAX_TEXT_BYTES};
use crate::proto::{ConversationId, MsgId, NodeId, Quote};
use crate::tr;

/// A group as the model knows it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GroupInfo {
    /// Its name, as its members gave it (peer text: sanitised on screen).
    pub name: String,
    /// Its members, me among them while I am one.
    pub members: Vec<NodeId>,
    pub owner: Option<NodeId>,
    /// I am a member (I may write in it).
    pub member: bool,
}

/// Who has and has not read my message `id` in `group`, while the overlay shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadBy {
    pub group: GroupId,
    pub id: MsgId,
    /// `None` until the runtime answers.
    pub answer: Option<ReadByAnswer>,
}

/// The runtime's answer: the other members now, and which of them hold and have read it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReadByAnswer {
    pub members: Vec<NodeId>,
    pub delivered: Vec<NodeId>,
    pub read: Vec<NodeId>,
}

/// What the runtime tells the model about groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupNews {
    /// The group's members, owner and name now (at start, and whenever they change).
    Info { group: GroupId, info: GroupInfo },
    /// A message or membership change that counts now: stored (with its `seq`), or as it
    /// came when there is no store. Its [`GroupPart`](crate::message::GroupPart) says
    /// where it goes.
    Shown { group: GroupId, message: Message },
    /// An entry that counted no longer does (a late removal voided it).
    Withdrawn {
        group: GroupId,
        author: Author,
        id: MsgId,
    },
    /// How many of the others hold my message and have read it.
    Tally {
        group: GroupId,
        id: MsgId,
        tally: Tally,
    },
    /// The answer to [`GroupAct::ReadBy`].
    ReadBy {
        group: GroupId,
        id: MsgId,
        answer: ReadByAnswer,
    },
    /// A group I just made: it opens.
    Created(GroupId),
    /// An act was refused: why, in the user's language.
    Refused(String),
}

/// What the model asks the runtime to do in a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupAct {
    Create {
        name: String,
        members: Vec<NodeId>,
    },
    Invite {
        group: GroupId,
        members: Vec<NodeId>,
    },
    Leave(GroupId),
    Remove {
        group: GroupId,
        member: NodeId,
    },
    Rename {
        group: GroupId,
        name: String,
    },
    Handover {
        group: GroupId,
        to: NodeId,
    },
    Send {
        group: GroupId,
        text: String,
        quote: Option<Quote>,
        mentions: Vec<NodeId>,
        all: bool,
    },
    Recall {
        group: GroupId,
        target: MsgId,
    },
    /// I have read the group up to this entry.
    Read {
        group: GroupId,
        author: NodeId,
        id: MsgId,
    },
    /// Who has and has not read my message `id`: answered with [`GroupNews::ReadBy`].
    ReadBy {
        group: GroupId,
        id: MsgId,
    },
}

/// The words that mention everyone in a group (the owner's only), in any language.
pub const ALL_WORDS: [&str; 2] = ["all", "所有人"];

/// Where a message goes among a group's, by its order (messages without one go last).
fn order_of(m: &Message) -> Option<GroupOrder> {
    m.group.as_ref().map(|g| g.order)
}

impl App {
    /// The group `id` as the model knows it.
    pub fn group(&self, id: &GroupId) -> Option<&GroupInfo> {
        self.groups.get(id)
    }

    /// The group open now, if a group is open.
    pub fn open_group(&self) -> Option<GroupId> {
        match self.selected {
            Some(ConversationId::Group(g)) => Some(g),
            _ => None,
        }
    }

    /// Am I the owner of `g`?
    pub fn owns(&self, g: &GroupId) -> bool {
        self.group(g).is_some_and(|i| i.owner == Some(self.me.id))
    }

    pub(super) fn group_news(&mut self, now_ms: i64, news: GroupNews) {
        match news {
            GroupNews::Info { group, info } => {
                let id = ConversationId::Group(group);
                let member = info.member;
                self.groups.insert(group, info);
                if member {
                    self.ensure_conversation(id);
                }
                self.sort();
            }
            GroupNews::Shown { group, message } => self.group_shown(now_ms, group, message),
            GroupNews::Withdrawn { group, author, id } => {
                if let Some(c) = self.conversation_mut(&ConversationId::Group(group)) {
                    c.messages.retain(|m| !(m.id == id && m.author == author));
                }
                self.clamp_scroll();
            }
            GroupNews::Tally { group, id, tally } => {
                if let Some(c) = self.conversation_mut(&ConversationId::Group(group))
                    && let Some(m) = c
                        .messages
                        .iter_mut()
                        .rev()
                        .find(|m| m.id == id && m.author == Author::Me)
                    && let Some(g) = m.group.as_mut()
                {
                    g.tally = Some(tally);
                }
            }
            GroupNews::ReadBy { group, id, answer } => {
                if let Some(r) = self.read_by.as_mut()
                    && r.group == group
                    && r.id == id
                {
                    r.answer = Some(answer);
                }
            }
            GroupNews::Created(group) => {
                let id = ConversationId::Group(group);
                self.ensure_conversation(id);
                self.select(id);
            }
            GroupNews::Refused(why) => self.error(why),
        }
    }

    /// A group's message or change took its place: it goes where the group's order puts
    /// it, if that is inside the window in memory (else the store has it for when the
    /// view gets there).
    fn group_shown(&mut self, now_ms: i64, group: GroupId, message: Message) {
        let id = ConversationId::Group(group);
        let Some(order) = order_of(&message) else {
            return;
        };
        let is_change = message.change().is_some();
        let theirs = message.author != Author::Me;
        let maybe_older = message.seq.is_some() && self.conversation(&id).is_none();
        self.ensure_conversation(id);
        let selected = self.selected == Some(id);
        let mention = theirs
            && !is_change
            && (message.group.as_ref().is_some_and(|g| g.all)
                || mentions(&message.text, &self.me.name));
        if theirs && !is_change {
            let in_view = selected && self.scroll == 0;
            let muted = self.conversation(&id).is_some_and(|c| c.muted);
            if !in_view && (!muted || mention) {
                self.bell = true;
                self.notify(id, &message.author, mention);
            }
        }
        let mut message = message;
        if message.quote.is_some() {
            // Any member may quote any other: the quote shows as the original when the
            // original is here (the same check as a peer's reply).
            self.check_group_quote(id, &mut message);
        }
        let Some(c) = self.conversation_mut(&id) else {
            return;
        };
        if maybe_older {
            c.has_older = true;
        }
        if c.messages
            .iter()
            .any(|m| m.id == message.id && m.author == message.author)
        {
            return;
        }
        c.last_activity_ms = c.last_activity_ms.max(message.time_ms.min(now_ms));
        if c.last.as_ref().and_then(order_of).is_none_or(|o| o < order) {
            c.last = Some(super::reply::preview_of(&message));
        }
        if !theirs {
            c.wrote = true;
        }
        // Where it goes: after every message before it in the group's order.
        let at = c
            .messages
            .partition_point(|m| order_of(m).is_some_and(|o| o < order));
        let past_the_end = at == c.messages.len();
        let before_the_start = at == 0 && !c.messages.is_empty();
        let outside = (past_the_end && c.has_newer) || (before_the_start && c.has_older);
        if theirs && !is_change && !selected {
            c.unread = c.unread.saturating_add(1);
            c.mentioned |= mention;
        }
        if outside {
            self.sort();
            return;
        }
        c.messages.insert(at, message);
        let after = c.messages.len() - 1 - at;
        if selected {
            if !theirs && after == 0 {
                // I just wrote it: the view goes to it.
                self.scroll = 0;
                self.new_below = 0;
            } else if self.scroll > 0 {
                // Scrolled up: what comes in below the view's bottom line pushes nothing
                // under the reader; its lines are added to the scroll.
                let below = self.tail_lines(&id, after);
                if below < self.scroll {
                    let with = self.tail_lines(&id, after + 1);
                    self.scroll += with - below;
                    if after == 0 {
                        self.new_below += 1;
                    }
                }
            }
        }
        if let Some(c) = self.conversation_mut(&id) {
            while c.messages.len() > MAX_MESSAGES_IN_MEMORY {
                c.messages.pop_front();
                c.has_older = true;
            }
        }
        self.sort();
    }

    /// A group reply's quote is its sender's claim until the original is found here.
    fn check_group_quote(&mut self, id: ConversationId, message: &mut Message) {
        let Some(q) = message.quote.as_mut() else {
            return;
        };
        let me = self.me.id;
        let original = self.conversation(&id).and_then(|c| {
            c.messages.iter().rev().find(|m| {
                m.id == q.id
                    && match m.author {
                        Author::Me => q.author == me,
                        Author::Peer(n) => q.author == n,
                        Author::Raw(_) | Author::Ipmsg(_) => false,
                    }
            })
        });
        match original {
            Some(m) => {
                q.excerpt = if m.recalled {
                    String::new()
                } else {
                    crate::proto::wire::excerpt(&m.text).to_owned()
                };
                message.quote_found = true;
            }
            None => {
                message.quote_found = false;
                self.quote_checks.push(Effect::CheckQuote {
                    conversation: id,
                    reply: message.id,
                    author: message.author,
                    quote: q.clone(),
                });
            }
        }
    }

    /// Tells the group how far I have read it: the newest message in view, once per
    /// message, while the group is open and its newest messages are in memory.
    pub(super) fn pending_group_read(&mut self) -> Option<Effect> {
        let g = self.open_group()?;
        if !self.group(&g).is_some_and(|i| i.member) {
            return None;
        }
        let c = self.conversation(&ConversationId::Group(g))?;
        if c.has_newer {
            return None;
        }
        let newest = c.messages.iter().rev().find_map(order_of)?;
        if self.group_read.get(&g).is_some_and(|o| *o >= newest) {
            return None;
        }
        self.group_read.insert(g, newest);
        Some(Effect::Group(GroupAct::Read {
            group: g,
            author: newest.author,
            id: newest.id,
        }))
    }

    /// The members (or peers) `@name`s stand for: by the name they are shown under or
    /// call themselves, or by key (its first 8 hex digits will do). `among` limits the
    /// search (a group's members); errors name what was not found or is ambiguous.
    pub(super) fn resolve_names(
        &self,
        names: &[&str],
        among: Option<&[NodeId]>,
    ) -> Result<Vec<NodeId>, String> {
        let mut candidates: Vec<NodeId> = match among {
            Some(ms) => ms.to_vec(),
            None => self.peers.keys().copied().collect(),
        };
        candidates.retain(|k| *k != self.me.id);
        candidates.sort();
        let mut out = Vec::new();
        for raw in names {
            let name = raw.trim_start_matches('@');
            let lower = name.to_lowercase();
            let hits: Vec<NodeId> = candidates
                .iter()
                .filter(|k| {
                    let shown = self.title(&ConversationId::Peer(**k)).to_lowercase();
                    let own = self.peers.get(k).map(|p| p.name.to_lowercase());
                    shown == lower
                        || own.as_deref() == Some(lower.as_str())
                        || (lower.len() >= 8 && k.to_hex().starts_with(&lower))
                })
                .copied()
                .collect();
            match hits.as_slice() {
                [one] => {
                    if !out.contains(one) {
                        out.push(*one);
                    }
                }
                [] => return Err(tr!(self.lang, "group-no-such", name = name)),
                _ => return Err(tr!(self.lang, "group-ambiguous", name = name)),
            }
        }
        Ok(out)
    }

    /// `/group NAME @a @b …`: a new group with these members. The words without `@` are
    /// its name.
    pub(super) fn group_command(&mut self, arg: &str, usage: String) -> Vec<Effect> {
        let (people, words): (Vec<&str>, Vec<&str>) =
            arg.split_whitespace().partition(|w| w.starts_with('@'));
        let name = words.join(" ");
        if name.is_empty() || people.is_empty() {
            self.error(tr!(self.lang, "app-usage", usage = usage));
            return Vec::new();
        }
        if people.len() >= MAX_MEMBERS {
            self.error(tr!(self.lang, "group-too-many", max = MAX_MEMBERS));
            return Vec::new();
        }
        let members = match self.resolve_names(&people, None) {
            Ok(m) => m,
            Err(e) => {
                self.error(e);
                return Vec::new();
            }
        };
        self.input.take();
        vec![Effect::Group(GroupAct::Create { name, members })]
    }

    /// The open group, for a command that acts in one; the reason it cannot, said.
    fn acting_group(&mut self, owner_only: bool) -> Option<(GroupId, GroupInfo)> {
        let Some(g) = self.open_group() else {
            self.error(tr!(self.lang, "group-open-first"));
            return None;
        };
        let info = self.group(&g).cloned().unwrap_or_default();
        if !info.member {
            self.error(tr!(self.lang, "group-not-member"));
            return None;
        }
        if owner_only && info.owner != Some(self.me.id) {
            self.error(tr!(self.lang, "group-only-owner"));
            return None;
        }
        Some((g, info))
    }

    /// `/invite @x`, `/remove @x`, `/owner @x`, `/leave`, and `/rename NAME` in a group.
    pub(super) fn group_member_command(
        &mut self,
        command: super::commands::Command,
        arg: &str,
        usage: String,
    ) -> Vec<Effect> {
        use super::commands::Command;
        let owner_only = matches!(command, Command::Remove | Command::Owner);
        let Some((group, info)) = self.acting_group(owner_only) else {
            return Vec::new();
        };
        let words: Vec<&str> = arg.split_whitespace().collect();
        let act = match command {
            Command::Leave => GroupAct::Leave(group),
            Command::Rename => {
                if arg.is_empty() {
                    self.error(tr!(self.lang, "app-usage", usage = usage));
                    return Vec::new();
                }
                GroupAct::Rename {
                    group,
                    name: arg.to_owned(),
                }
            }
            _ => {
                if words.is_empty() {
                    self.error(tr!(self.lang, "app-usage", usage = usage));
                    return Vec::new();
                }
                let among = (command != Command::Invite).then_some(info.members.as_slice());
                let keys = match self.resolve_names(&words, among) {
                    Ok(k) => k,
                    Err(e) => {
                        self.error(e);
                        return Vec::new();
                    }
                };
                match (command, keys.as_slice()) {
                    (Command::Invite, _) => {
                        let fresh: Vec<NodeId> = keys
                            .into_iter()
                            .filter(|k| !info.members.contains(k))
                            .collect();
                        if fresh.is_empty() {
                            self.error(tr!(self.lang, "group-already-in"));
                            return Vec::new();
                        }
                        if info.members.len() + fresh.len() > MAX_MEMBERS {
                            self.error(tr!(self.lang, "group-too-many", max = MAX_MEMBERS));
                            return Vec::new();
                        }
                        GroupAct::Invite {
                            group,
                            members: fresh,
                        }
                    }
                    (Command::Remove, [one]) => GroupAct::Remove {
                        group,
                        member: *one,
                    },
                    (Command::Owner, [one]) => GroupAct::Handover { group, to: *one },
                    _ => {
                        self.error(tr!(self.lang, "app-usage", usage = usage));
                        return Vec::new();
                    }
                }
            }
        };
        self.input.take();
        vec![Effect::Group(act)]
    }

    /// What I typed, sent to the open group: the `@name`s of members become its mentions,
    /// `@all` (`@所有人`) everyone's (the owner's only).
    pub(super) fn group_submit(&mut self, group: GroupId, text: String) -> Vec<Effect> {
        let Some(info) = self.group(&group).cloned() else {
            self.error(tr!(self.lang, "group-not-member"));
            return Vec::new();
        };
        if !info.member {
            self.error(tr!(self.lang, "group-not-member"));
            return Vec::new();
        }
        let all = ALL_WORDS.iter().any(|w| mentions(&text, w));
        if all && info.owner != Some(self.me.id) {
            self.error(tr!(self.lang, "group-all-owner"));
            return Vec::new();
        }
        let mut keys: Vec<NodeId> = info
            .members
            .iter()
            .filter(|m| **m != self.me.id)
            .filter(|m| {
                let shown = self.title(&ConversationId::Peer(**m));
                let own = self.peers.get(m).map(|p| p.name.clone());
                mentions(&text, &shown) || own.is_some_and(|n| mentions(&text, &n))
            })
            .copied()
            .collect();
        keys.truncate(crate::proto::group::entry::MAX_MENTIONS);
        if text.len() > MAX_TEXT_BYTES {
            self.error(tr!(
                self.lang,
                "app-too-long",
                bytes = text.len(),
                limit = MAX_TEXT_BYTES
            ));
            return Vec::new();
        }
        let quote = self.replying.as_ref().and_then(|r| {
            let author = self.node_of(&r.author)?;
            Some(Quote {
                id: r.id,
                author,
                excerpt: r.excerpt.clone(),
            })
        });
        self.input.take();
        self.notice = None;
        self.replying = None;
        self.scroll = 0;
        self.new_below = 0;
        vec![Effect::Group(GroupAct::Send {
            group,
            text,
            quote,
            mentions: keys,
            all,
        })]
    }

    /// The names Tab offers after `@`: in a group, its other members (and `all` to its
    /// owner); elsewhere every peer's.
    pub(super) fn mention_candidates(&self) -> Vec<String> {
        let mut names: Vec<String> = match self.open_group().and_then(|g| self.group(&g)) {
            Some(info) => {
                let mut v: Vec<String> = info
                    .members
                    .iter()
                    .filter(|m| **m != self.me.id)
                    .map(|m| self.title(&ConversationId::Peer(*m)))
                    .collect();
                if info.owner == Some(self.me.id) {
                    v.push(tr!(self.lang, "group-all"));
                }
                v
            }
            None => self.peers.values().map(|p| p.name.clone()).collect(),
        };
        names.retain(|n| !n.contains(char::is_whitespace));
        names.sort();
        names.dedup();
        names
    }

    /// Enter in the switcher with peers marked: the input becomes `/group @them ` for the
    /// group's name to be typed.
    pub(super) fn start_group_with(&mut self, peers: &[NodeId]) {
        let names: Vec<String> = peers
            .iter()
            .map(|p| {
                let shown = self.title(&ConversationId::Peer(*p));
                // A name the command would take apart (or take wrongly) goes by its key.
                let unique = self
                    .peers
                    .keys()
                    .filter(|k| self.title(&ConversationId::Peer(**k)) == shown)
                    .count()
                    == 1;
                if shown.contains(char::is_whitespace) || !unique {
                    format!("@{}", p.short())
                } else {
                    format!("@{shown}")
                }
            })
            .collect();
        self.input.set(&format!("/group {} ", names.join(" ")));
        self.notice = Some(Notice::Info(tr!(self.lang, "group-name-it")));
    }

    /// F2 on a picked message of mine in a group: who has and has not read it.
    pub(super) fn ask_read_by(&mut self, id: MsgId) -> Vec<Effect> {
        let Some(group) = self.open_group() else {
            return Vec::new();
        };
        let mine = self
            .conversation(&ConversationId::Group(group))
            .and_then(|c| c.messages.iter().find(|m| m.id == id))
            .is_some_and(|m| m.author == Author::Me && m.change().is_none());
        if !mine {
            self.notice = Some(Notice::Info(tr!(self.lang, "group-read-by-mine")));
            return Vec::new();
        }
        self.picked = None;
        self.show_info = true;
        self.read_by = Some(ReadBy {
            group,
            id,
            answer: None,
        });
        vec![Effect::Group(GroupAct::ReadBy { group, id })]
    }
}
