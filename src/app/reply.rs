//! Quote-reply, recall, and mentions of me.

use super::{App, Author, Effect, Message, Notice};
use crate::proto::{ConversationId, MsgId, NodeId, Quote, wire};
use crate::tr;

/// How long after sending a message I may recall it.
pub const RECALL_WINDOW_MS: i64 = 2 * 60 * 1000;
/// Characters of a message kept as the sidebar's preview of it.
const PREVIEW_CHARS: usize = 200;

/// The message the next one I send replies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replying {
    pub id: MsgId,
    pub author: Author,
    /// The start of its text (one line, cut to what a reply carries).
    pub excerpt: String,
}

/// Bytes a quote adds to a reply on the wire.
pub(super) fn overhead(q: &Quote) -> usize {
    wire::REPLY_OVERHEAD + q.excerpt.len()
}

/// Does `text` mention `name` as `@name` (any case), standing alone: not inside an e-mail
/// address, and not the start of a longer name?
pub fn mentions(text: &str, name: &str) -> bool {
    !mention_ranges(text, name).is_empty()
}

/// Where `text` mentions `name` by the rules of [`mentions`]: the byte ranges of each
/// `@name`, in order. (The screen highlights exactly these.)
pub fn mention_ranges(text: &str, name: &str) -> Vec<std::ops::Range<usize>> {
    let name = name.trim().to_lowercase();
    if name.is_empty() {
        return Vec::new();
    }
    let word = |c: char| c.is_alphanumeric() || c == '_' || c == '-';
    let mut found = Vec::new();
    for (at, _) in text.match_indices('@') {
        // Before: not part of a word or an address (`bob@bob`, `x.@bob`); CJK text runs
        // straight into a mention (`你好@bob`).
        let before = text[..at].chars().next_back();
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || "_-.@".contains(c)) {
            continue;
        }
        // The name, in any case: text after the `@` whose lower case is the name's.
        let mut lower = String::new();
        let mut end = at + 1;
        for c in text[at + 1..].chars() {
            if lower.len() >= name.len() {
                break;
            }
            lower.extend(c.to_lowercase());
            end += c.len_utf8();
        }
        if lower != name {
            continue;
        }
        // After: the name ends here; a full stop may end the sentence (`@bob.`), but not
        // continue the name (`@bob.smith`).
        let mut after = text[end..].chars();
        let alone = match after.next() {
            Some('.') => !after.next().is_some_and(word),
            Some(c) => !word(c),
            None => true,
        };
        if alone {
            found.push(at..end);
        }
    }
    found
}

/// A message as the sidebar keeps it: the text cut to a preview.
pub(super) fn preview_of(m: &Message) -> Message {
    let mut p = m.clone();
    if let Some((cut, _)) = p.text.char_indices().nth(PREVIEW_CHARS) {
        p.text.truncate(cut);
    }
    p.quote = None;
    p
}

impl App {
    /// The node that wrote a message, as a quote names it; `None` for a plain-text peer.
    pub(super) fn node_of(&self, author: &Author) -> Option<NodeId> {
        match author {
            Author::Me => Some(self.me.id),
            Author::Peer(node) => Some(*node),
            Author::Raw(_) | Author::Ipmsg(_) => None,
        }
    }

    /// Reply to the picked message (the `at`-th of the open conversation).
    pub(super) fn start_reply(&mut self, at: usize) -> Vec<Effect> {
        self.picked = None;
        let Some(m) = self
            .selected_conversation()
            .and_then(|c| c.messages.get(at))
        else {
            return Vec::new();
        };
        if m.recalled {
            self.error(tr!(self.lang, "app-reply-recalled"));
            return Vec::new();
        }
        // Any node id will do for the excerpt; the author is kept as the app knows it.
        let excerpt = wire::excerpt(&m.text).to_owned();
        self.replying = Some(Replying {
            id: m.id,
            author: m.author,
            excerpt,
        });
        self.notice = Some(Notice::Info(tr!(self.lang, "app-replying")));
        Vec::new()
    }

    /// The text and quote of a message about to go to `to`: to a lanchat peer the quote
    /// travels as such; to a plain-text peer it becomes a `> ` line above the text.
    pub(super) fn reply_parts(&self, to: ConversationId, text: String) -> (String, Option<Quote>) {
        let Some(r) = &self.replying else {
            return (text, None);
        };
        match (to, self.node_of(&r.author)) {
            (ConversationId::Peer(_) | ConversationId::Group(_), Some(author)) => (
                text,
                Some(Quote {
                    id: r.id,
                    author,
                    excerpt: r.excerpt.clone(),
                }),
            ),
            _ => (format!("> {}\n{text}", r.excerpt), None),
        }
    }

    /// `/recall`: my latest message in the open conversation.
    pub(super) fn recall_last(&mut self, now_ms: i64) -> Vec<Effect> {
        let at = self.selected_conversation().and_then(|c| {
            c.messages
                .iter()
                .rposition(|m| m.author == Author::Me && !m.recalled)
        });
        match at {
            Some(at) => self.recall_at(now_ms, at),
            None => {
                self.error(tr!(self.lang, "app-recall-nothing"));
                Vec::new()
            }
        }
    }

    /// Recall the `at`-th message of the open conversation: mine, sent within the last
    /// two minutes, to a lanchat peer.
    pub(super) fn recall_at(&mut self, now_ms: i64, at: usize) -> Vec<Effect> {
        self.picked = None;
        let Some(to) = self.selected else {
            return Vec::new();
        };
        let Some(m) = self.conversation(&to).and_then(|c| c.messages.get(at)) else {
            return Vec::new();
        };
        let refusal = if m.author != Author::Me {
            Some(tr!(self.lang, "app-recall-not-mine"))
        } else if m.recalled {
            Some(tr!(self.lang, "app-recall-already"))
        } else if matches!(to, ConversationId::Raw(_)) {
            Some(tr!(self.lang, "app-recall-plain"))
        } else if matches!(to, ConversationId::Ipmsg(_)) {
            Some(tr!(self.lang, "ipmsg-recall"))
        } else if now_ms.saturating_sub(m.time_ms) > RECALL_WINDOW_MS {
            Some(tr!(self.lang, "app-recall-too-late"))
        } else {
            None
        };
        if let Some(why) = refusal {
            self.error(why);
            return Vec::new();
        }
        let target = m.id;
        self.recalled(to, Author::Me, target);
        self.notice = Some(Notice::Info(tr!(self.lang, "app-recalled")));
        if let ConversationId::Group(group) = to {
            return vec![Effect::Group(super::groups::GroupAct::Recall {
                group,
                target,
            })];
        }
        vec![Effect::Recall {
            to,
            id: MsgId(self.rng.nonzero_u64()),
            target,
            sent_at_ms: now_ms,
        }]
    }

    /// `author` took back `target`: it shows as recalled, and quotes of it lose their
    /// text. Only a message `author` wrote matches, so nobody recalls another's message.
    pub(super) fn recalled(&mut self, conversation: ConversationId, author: Author, target: MsgId) {
        let quoted_author = self.node_of(&author);
        if self
            .replying
            .as_ref()
            .is_some_and(|r| r.id == target && r.author == author)
        {
            self.replying = None;
        }
        let Some(c) = self.conversation_mut(&conversation) else {
            return;
        };
        let mine = |m: &Message| m.id == target && m.author == author;
        for m in c.messages.iter_mut().chain(c.last.as_mut()) {
            if mine(m) {
                m.recalled = true;
                m.text.clear();
                m.quote = None;
            } else if let Some(q) = m.quote.as_mut()
                && q.id == target
                && Some(q.author) == quoted_author
            {
                q.excerpt.clear();
            }
        }
    }

    /// Queues a desktop notification for a message from `author` in `conversation`.
    pub(super) fn notify(&mut self, conversation: ConversationId, author: &Author, mention: bool) {
        let who = self.author_name(author);
        let text = if mention {
            tr!(self.lang, "app-notify-mention", name = who)
        } else {
            match conversation {
                ConversationId::Raw(_) | ConversationId::Ipmsg(_) => {
                    tr!(self.lang, "app-notify-plain", name = who)
                }
                ConversationId::Peer(_) => tr!(self.lang, "app-notify-message", name = who),
                // Named by the group (its name is the members' word, made safe as a
                // peer's name is).
                ConversationId::Group(_) => {
                    let group = self.title(&conversation);
                    tr!(self.lang, "app-notify-message", name = group)
                }
            }
        };
        if self.notify && self.notifications.len() < 8 {
            self.notifications.push(text);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_stand_alone() {
        assert!(mentions("hi @bob", "bob"));
        assert!(mentions("@Bob, look", "bob"));
        assert!(mentions("@bob.", "bob"));
        assert!(mentions("你好@bob", "bob"));
        assert!(!mentions("mail bob@bob.org", "bob"));
        assert!(!mentions("hi @bobby", "bob"));
        assert!(!mentions("hi bob", "bob"));
        assert!(!mentions("@bob.smith", "bob"));
        assert!(mentions("@李雷 你好", "李雷"));
        assert!(!mentions("anything", ""));
    }

    #[test]
    fn mention_ranges_cover_each_at_name_in_the_text_as_written() {
        let text = "@BOB hi, @bob. and bob@bob.org, @bob.smith, 你好@Bob";
        let got: Vec<&str> = mention_ranges(text, "bob")
            .into_iter()
            .map(|r| &text[r])
            .collect();
        assert_eq!(got, ["@BOB", "@bob", "@Bob"]);
        assert!(
            mention_ranges("@bo", "bob").is_empty(),
            "the text ends first"
        );
    }
}
