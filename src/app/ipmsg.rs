//! IP Messenger, iptux and FeiQ peers in the model: the table of what their packets say,
//! their conversations (unauthenticated, bounded like plain-text strangers), FeiQ's window
//! shake, and `/away`.

use super::{App, Effect, Notice};
use crate::message::Message;
use crate::proto::{self, ConversationId, MsgId};
use crate::tr;

/// IP Messenger peers the model remembers at most, offline ones beyond it forgotten first.
pub const MAX_IPMSG_PEERS: usize = 1024;

impl App {
    /// An IP Messenger peer appeared, changed or went.
    pub(super) fn on_ipmsg_peer(&mut self, view: proto::IpmsgPeerView) {
        let id = ConversationId::Ipmsg(view.ip);
        if view.online {
            if self.ipmsg_peers.len() >= MAX_IPMSG_PEERS && !self.ipmsg_peers.contains_key(&view.ip)
            {
                let gone = self
                    .ipmsg_peers
                    .iter()
                    .find(|(ip, p)| {
                        !p.online && self.conversation(&ConversationId::Ipmsg(**ip)).is_none()
                    })
                    .map(|(ip, _)| *ip);
                match gone {
                    Some(ip) => {
                        self.ipmsg_peers.remove(&ip);
                    }
                    None => return,
                }
            }
            self.ipmsg_peers.insert(view.ip, view);
            self.ensure_conversation(id);
            self.sort();
        } else {
            // Gone without a word exchanged: out of the sidebar, and forgotten.
            if self
                .conversation(&id)
                .is_some_and(|c| c.messages.is_empty() && !c.pinned && c.alias.is_none())
            {
                self.remove_conversation(&id);
                self.ipmsg_peers.remove(&view.ip);
            } else {
                self.ipmsg_peers.insert(view.ip, view);
            }
        }
    }

    /// Whether the IP Messenger peer at this conversation is online.
    pub fn ipmsg_online(&self, id: &ConversationId) -> bool {
        match id {
            ConversationId::Ipmsg(ip) => self.ipmsg_peers.get(ip).is_some_and(|p| p.online),
            _ => false,
        }
    }

    /// A FeiQ peer shook the window: a line in its conversation (not kept in the history).
    pub(super) fn on_shake(&mut self, now_ms: i64, conversation: ConversationId) {
        let ConversationId::Ipmsg(_) = conversation else {
            return;
        };
        let text = tr!(self.lang, "ipmsg-shake");
        let id = MsgId(self.rng.nonzero_u64());
        let message = Message::new(id, conversation.into(), now_ms, text);
        self.received(now_ms, conversation, message);
    }

    /// `/away [TEXT]`: away with this text (a default one if none); `/away` while away
    /// comes back.
    pub(super) fn away_command(&mut self, arg: &str) -> Vec<Effect> {
        let text = arg.trim();
        let away = if text.is_empty() && self.away {
            None
        } else if text.is_empty() {
            Some(tr!(self.lang, "ipmsg-away-default"))
        } else {
            Some(text.to_owned())
        };
        self.away = away.is_some();
        self.notice = Some(Notice::Info(match &away {
            Some(t) => tr!(self.lang, "ipmsg-away-on", text = t.clone()),
            None => tr!(self.lang, "ipmsg-away-off"),
        }));
        vec![Effect::Away(away)]
    }
}
