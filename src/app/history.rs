//! The app's side of history: a window of each conversation in memory, pages fetched from
//! the store as the view moves, and what the store remembered at start.

use super::{
    App, Author, Conversation, Effect, MAX_CONVERSATIONS, MAX_MESSAGES_IN_MEMORY, MAX_STRANGERS,
    Message, Notice, Page, PeerInfo, mentions,
};
use crate::layout;
use crate::proto::{ConversationId, DeliveryState, MsgId, NodeId, wire};
use crate::tr;

/// Messages fetched per page.
pub const PAGE: usize = 200;

/// A conversation as the store remembers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationSummary {
    pub id: ConversationId,
    pub unread: u32,
    pub last_activity_ms: i64,
    pub has_messages: bool,
    /// Half-typed text left in it.
    pub draft: String,
    pub pinned: bool,
    pub muted: bool,
    pub alias: Option<String>,
    /// The newest message, its text cut to a preview.
    pub last: Option<Message>,
    /// An unread message mentions me.
    pub mentioned: bool,
    /// I have written in it.
    pub wrote: bool,
}

impl App {
    pub(super) fn restore(
        &mut self,
        peers: Vec<(NodeId, PeerInfo)>,
        conversations: Vec<ConversationSummary>,
    ) -> Vec<Effect> {
        for (id, mut info) in peers {
            info.online = false; // nobody is online until heard from
            if !self.peers.contains_key(&id) {
                self.note_peer_addr(id, info.addr);
                self.peers.insert(id, info);
            }
        }
        // The store gives them pinned and most recent first; whatever it gives, no more than
        // the caps come into memory.
        let mut strangers = self
            .conversations
            .iter()
            .filter(|c| c.is_stranger())
            .count();
        for summary in conversations {
            if self.conversations.len() >= MAX_CONVERSATIONS {
                break;
            }
            if self.conversation(&summary.id).is_some() {
                continue;
            }
            let c = Conversation {
                unread: summary.unread,
                last_activity_ms: summary.last_activity_ms,
                has_older: summary.has_messages,
                pinned: summary.pinned,
                muted: summary.muted,
                alias: summary.alias.clone(),
                mentioned: summary.unread > 0 && summary.mentioned,
                last: summary.last.clone(),
                wrote: summary.wrote,
                ..Conversation::new(summary.id)
            };
            if c.is_stranger() {
                if strangers >= MAX_STRANGERS {
                    continue;
                }
                strangers += 1;
            }
            if !summary.draft.is_empty() {
                self.drafts.insert(summary.id, summary.draft.clone());
            }
            self.conversations.push(c);
        }
        self.sort();
        self.sort_now();
        if self.selected.is_none()
            && let Some(first) = self.conversations.first().map(|c| c.id)
        {
            self.select(first);
            if let Some(draft) = self.drafts.remove(&first) {
                self.input.set(&draft);
                self.draft_saves.push((first, String::new()));
            }
        }
        Vec::new()
    }

    /// Loads the open conversation's latest page if nothing of it is in memory yet.
    pub(super) fn pending_load(&mut self) -> Option<Effect> {
        let id = self.selected?;
        let c = self.conversation_mut(&id)?;
        if !c.messages.is_empty() || !c.has_older || c.loading {
            return None;
        }
        c.loading = true;
        Some(Effect::Load {
            conversation: id,
            page: Page::Latest,
        })
    }

    /// Remembers how far the open conversation has been read.
    pub(super) fn pending_read_mark(&mut self) -> Option<Effect> {
        let id = self.selected?;
        let c = self.conversation(&id)?;
        if c.has_newer {
            return None; // the newest is not in view
        }
        // A group's window is in the group's order, not by arrival: the highest seq in it
        // (a message that came late is read once in view too).
        let seq = match id {
            ConversationId::Group(_) => c.messages.iter().filter_map(|m| m.seq).max()?,
            _ => c.messages.iter().rev().find_map(|m| m.seq)?,
        };
        if self.read_seq_marks.get(&id).is_some_and(|s| *s >= seq) {
            return None;
        }
        self.read_seq_marks.insert(id, seq);
        Some(Effect::ReadUpTo {
            conversation: id,
            seq,
        })
    }

    /// Lines the newest `n` messages of a conversation take on screen, with the day
    /// separators above them (what moves the view when they come or go below it).
    pub(super) fn tail_lines(&self, id: &ConversationId, n: usize) -> usize {
        let (w, _) = self.message_pane_size();
        self.conversation(id).map_or(0, |c| {
            layout::tail_height(&self.heights, &c.messages, n, w, self.utc_offset_s)
        })
    }

    pub(super) fn history(
        &mut self,
        id: ConversationId,
        page: Page,
        messages: Vec<Message>,
        more: bool,
    ) {
        let selected = self.selected == Some(id);
        let Some(c) = self.conversation_mut(&id) else {
            return;
        };
        c.loading = false;
        if messages.iter().any(|m| m.author == Author::Me) && !c.wrote {
            c.wrote = true;
            self.sort();
        }
        let Some(c) = self.conversation_mut(&id) else {
            return;
        };
        match page {
            Page::Latest => {
                // Keep messages sent or received since the request went out.
                let newest = messages.last().and_then(|m| m.seq);
                let live: Vec<Message> = c
                    .messages
                    .drain(..)
                    .filter(|m| m.seq.is_none_or(|s| newest.is_none_or(|n| s > n)))
                    .filter(|m| {
                        !messages
                            .iter()
                            .any(|x| x.id == m.id && x.author == m.author)
                    })
                    .collect();
                c.messages = messages.into_iter().chain(live).collect();
                // A group's window is in the group's order (what came meanwhile may belong
                // among the page's messages).
                if matches!(id, ConversationId::Group(_)) {
                    c.messages
                        .make_contiguous()
                        .sort_by_key(|m| m.group.as_ref().map(|g| g.order));
                }
                c.has_older = more;
                c.has_newer = false;
                if selected {
                    self.scroll = 0;
                }
            }
            Page::Oldest => {
                c.messages = messages.into();
                c.has_older = false;
                c.has_newer = more;
                if selected {
                    self.scroll = usize::MAX; // clamped to the top below
                }
            }
            Page::Around(seq) => {
                c.messages = messages.into();
                c.has_older = true;
                c.has_newer = true;
                if selected {
                    // Put the hit near the middle of the pane.
                    let newer = c
                        .messages
                        .iter()
                        .filter(|m| m.seq.is_some_and(|s| s > seq))
                        .count();
                    let below = self.tail_lines(&id, newer);
                    let (_, h) = self.message_pane_size();
                    self.scroll = below.saturating_sub(usize::from(h) / 2);
                }
            }
            Page::Before(_) => {
                c.has_older = more;
                for m in messages.into_iter().rev() {
                    c.messages.push_front(m);
                }
                // Too much in memory: let go of the newest (the view is far above them).
                let excess = c.messages.len().saturating_sub(MAX_MESSAGES_IN_MEMORY);
                if excess > 0 {
                    if selected {
                        let lines = self.tail_lines(&id, excess);
                        self.scroll = self.scroll.saturating_sub(lines);
                    }
                    if let Some(c) = self.conversation_mut(&id) {
                        c.messages.truncate(MAX_MESSAGES_IN_MEMORY);
                        c.has_newer = true;
                    }
                }
            }
            Page::After(_) => {
                c.has_newer = more;
                let added = messages.len();
                c.messages.extend(messages);
                if selected {
                    // The view stays where it was: the new lines are below it.
                    self.scroll = self.scroll.saturating_add(self.tail_lines(&id, added));
                }
                let Some(c) = self.conversation_mut(&id) else {
                    return;
                };
                // Too much in memory: let go of the oldest (the view is far below them).
                while c.messages.len() > MAX_MESSAGES_IN_MEMORY {
                    c.messages.pop_front();
                    c.has_older = true;
                }
            }
        }
        self.clamp_scroll();
    }

    /// A message from a peer, stored and new.
    pub(super) fn received(&mut self, now_ms: i64, id: ConversationId, mut message: Message) {
        // Out of view and not muted, or a mention of me even in a muted chat: ring, and
        // notify (the text names who, never what: peer text stays off the terminal). Folded
        // strangers stay quiet: a flood of them must not ring.
        let in_view = self.selected == Some(id) && self.scroll == 0;
        let muted = self.conversation(&id).is_some_and(|c| c.muted);
        let folded = self.strangers_folded()
            && match self.conversation(&id) {
                Some(c) => self.folds(c),
                None => self.folds(&Conversation::new(id)),
            };
        let mention = matches!(
            message.author,
            Author::Peer(_) | Author::Raw(_) | Author::Ipmsg(_)
        ) && mentions(&message.text, &self.me.name);
        if !in_view && (!muted || mention) && !folded {
            self.bell = true;
            self.notify(id, &message.author, mention);
        }
        self.check_quote(id, &mut message);

        if matches!(message.author, Author::Peer(_)) {
            let list = self.unreported.entry(id).or_default();
            list.push(message.id);
            if list.len() > super::MAX_UNREPORTED {
                list.remove(0);
            }
        }
        // A conversation new to memory may still have a history in the store (the start
        // loads only the first conversations): scrolling up asks for it.
        let maybe_older = message.seq.is_some() && self.conversation(&id).is_none();
        self.push_message(id, message, now_ms);
        if maybe_older && let Some(c) = self.conversation_mut(&id) {
            c.has_older = true;
        }
        if self.selected != Some(id)
            && let Some(c) = self.conversation_mut(&id)
        {
            c.unread = c.unread.saturating_add(1);
            c.mentioned |= mention;
        }
    }

    /// A reply's quote is what its sender claims: it shows as the original only when the
    /// original is found in this conversation (in memory here, or else in the store, which
    /// answers with [`super::Msg::QuoteChecked`]).
    fn check_quote(&mut self, id: ConversationId, message: &mut Message) {
        let Some(q) = message.quote.as_mut() else {
            return;
        };
        message.quote_found = false;
        let original = self.conversation(&id).and_then(|c| {
            c.messages
                .iter()
                .rev()
                .find(|m| m.id == q.id && self.node_of(&m.author) == Some(q.author))
        });
        match original {
            Some(m) => {
                q.excerpt = if m.recalled {
                    String::new()
                } else {
                    wire::excerpt(&m.text).to_owned()
                };
                message.quote_found = true;
            }
            None => self.quote_checks.push(Effect::CheckQuote {
                conversation: id,
                reply: message.id,
                author: message.author,
                quote: q.clone(),
            }),
        }
    }

    /// The store's answer to [`Effect::CheckQuote`].
    pub(super) fn quote_checked(
        &mut self,
        conversation: ConversationId,
        reply: MsgId,
        author: Author,
        excerpt: Option<String>,
    ) {
        let Some(excerpt) = excerpt else {
            return; // not here: it stays the sender's claim
        };
        let Some(c) = self.conversation_mut(&conversation) else {
            return;
        };
        if let Some(m) = c
            .messages
            .iter_mut()
            .rev()
            .find(|m| m.id == reply && m.author == author)
            && let Some(q) = m.quote.as_mut()
        {
            q.excerpt = excerpt;
            m.quote_found = true;
        }
    }

    pub(super) fn stored(&mut self, id: MsgId, seq: i64) {
        let Some(conv) = self
            .outgoing
            .get(&id)
            .copied()
            .or_else(|| self.find_mine(id))
        else {
            return;
        };
        if let Some(c) = self.conversation_mut(&conv)
            && let Some(m) = c.messages.iter_mut().rev().find(|m| m.id == id)
        {
            m.seq = Some(seq);
        }
    }

    /// The store refused something. If it was a message I just sent, its text goes back
    /// into the input (when that is empty) so nothing typed is lost.
    pub(super) fn store_failed(&mut self, id: Option<MsgId>, error: String) {
        self.notice = Some(Notice::Error(tr!(
            self.lang,
            "app-not-saved",
            error = error
        )));
        // A page that was asked for is not coming: let the next scroll ask again.
        for c in self.conversations.iter_mut() {
            c.loading = false;
        }
        let Some(id) = id else {
            return;
        };
        let Some(conv) = self.outgoing.get(&id).copied() else {
            return;
        };
        let text = self
            .conversation(&conv)
            .and_then(|c| c.messages.iter().rev().find(|m| m.id == id))
            .filter(|m| m.author == Author::Me)
            .map(|m| m.text.clone());
        if let Some(text) = text
            && self.input.is_empty()
        {
            self.input.set(&text);
        }
        self.set_state(id, DeliveryState::Failed);
    }

    pub(super) fn scroll_by(&mut self, lines: isize) -> Vec<Effect> {
        self.scroll = self.scroll.saturating_add_signed(lines);
        self.clamp_scroll();
        let Some(id) = self.selected else {
            return Vec::new();
        };
        let at_top = self.scroll >= self.max_scroll();
        let at_bottom = self.scroll == 0;
        let Some(c) = self.conversation_mut(&id) else {
            return Vec::new();
        };
        if c.loading {
            return Vec::new();
        }
        let page = if lines > 0 && at_top && c.has_older {
            c.messages.front().and_then(|m| m.seq).map(Page::Before)
        } else if lines < 0 && at_bottom && c.has_newer {
            c.messages.iter().rev().find_map(|m| m.seq).map(Page::After)
        } else {
            None
        };
        match page {
            Some(page) => {
                c.loading = true;
                vec![Effect::Load {
                    conversation: id,
                    page,
                }]
            }
            None => Vec::new(),
        }
    }

    pub(super) fn jump_latest(&mut self) -> Vec<Effect> {
        self.scroll = 0;
        self.new_below = 0;
        let Some(id) = self.selected else {
            return Vec::new();
        };
        match self.conversation_mut(&id) {
            Some(c) if c.has_newer => {
                c.loading = true;
                vec![Effect::Load {
                    conversation: id,
                    page: Page::Latest,
                }]
            }
            _ => Vec::new(),
        }
    }

    pub(super) fn jump_oldest(&mut self) -> Vec<Effect> {
        let Some(id) = self.selected else {
            return Vec::new();
        };
        match self.conversation_mut(&id) {
            Some(c) if c.has_older => {
                c.loading = true;
                vec![Effect::Load {
                    conversation: id,
                    page: Page::Oldest,
                }]
            }
            _ => {
                self.scroll = usize::MAX;
                self.clamp_scroll();
                Vec::new()
            }
        }
    }

    fn max_scroll(&self) -> usize {
        let (w, h) = self.message_pane_size();
        let total = self.selected_conversation().map_or(0, |c| {
            layout::conversation_height(&self.heights, &c.messages, w, self.utc_offset_s)
        });
        total.saturating_sub(usize::from(h))
    }

    pub(super) fn clamp_scroll(&mut self) {
        self.scroll = self.scroll.min(self.max_scroll());
        if self.scroll == 0 {
            self.new_below = 0;
        }
    }
}
