//! IP Messenger, iptux and FeiQ peers in the model: the table of what their packets say,
//! their conversations (unauthenticated, bounded like plain-text strangers), FeiQ's window
//! shake, and `/away`.

use super::{App, Effect, Notice};
use crate::message::{Author, Message};
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

    /// IP Messenger peers online now (the status line counts them with lanchat's).
    pub fn ipmsg_online_count(&self) -> usize {
        self.ipmsg_peers.values().filter(|p| p.online).count()
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
        let Some(author) = Author::of(conversation) else {
            return;
        };
        let message = Message::new(id, author, now_ms, text);
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::super::{App, Effect, Me, Msg, Notice};
    use crate::message::Author;
    use crate::proto::ipmsg::Charset;
    use crate::proto::{ConversationId, Event, IpmsgClient, IpmsgPeerView, MsgId, NodeId};
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use std::net::Ipv4Addr;

    const T0: i64 = 1_704_103_200_000;

    fn app() -> App {
        App::new(
            Me {
                id: NodeId([0xEE; 32]),
                name: "me".into(),
                listen: "127.0.0.1:47475".parse().unwrap(),
                discovery: true,
            },
            7,
        )
    }

    fn view(online: bool) -> IpmsgPeerView {
        IpmsgPeerView {
            ip: Ipv4Addr::new(10, 0, 0, 9),
            addr: "10.0.0.9:2425".parse().unwrap(),
            name: "张三".into(),
            user: "zhang".into(),
            host: "WIN10-PC".into(),
            group: "研发".into(),
            client: IpmsgClient::FeiQ,
            absent: false,
            online,
            charset: Charset::Gb18030,
        }
    }

    const ID: ConversationId = ConversationId::Ipmsg(Ipv4Addr::new(10, 0, 0, 9));

    fn type_and_enter(app: &mut App, text: &str) -> Vec<Effect> {
        app.input.set(text);
        app.update(
            T0,
            Msg::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)),
        )
    }

    #[test]
    fn a_peer_that_appears_gets_a_chat_named_by_its_entry_and_one_that_leaves_unspoken_goes() {
        let mut app = app();
        let _ = app.update(T0, Msg::Net(Event::IpmsgPeer(view(true))));
        assert!(app.conversation(&ID).is_some());
        assert_eq!(app.title(&ID), "张三");
        assert!(app.ipmsg_online(&ID));
        let _ = app.update(T0, Msg::Net(Event::IpmsgPeer(view(false))));
        assert!(app.conversation(&ID).is_none(), "nothing was said: gone");
        assert!(app.ipmsg_peers.is_empty());
        // With messages it stays, offline.
        let _ = app.update(T0, Msg::Net(Event::IpmsgPeer(view(true))));
        let _ = app.update(
            T0,
            Msg::Net(Event::Message {
                conversation: ID,
                id: MsgId(5),
                sent_at_ms: None,
                text: "你好".into(),
                quote: None,
            }),
        );
        let _ = app.update(T0, Msg::Net(Event::IpmsgPeer(view(false))));
        assert!(app.conversation(&ID).is_some());
        assert!(!app.ipmsg_online(&ID));
        let m = &app.conversation(&ID).unwrap().messages[0];
        assert_eq!(m.author, Author::Ipmsg(Ipv4Addr::new(10, 0, 0, 9)));
    }

    #[test]
    fn a_whole_office_of_feiq_users_keeps_its_rows() {
        let mut app = app();
        for i in 1..=40u8 {
            let v = IpmsgPeerView {
                ip: Ipv4Addr::new(10, 0, 1, i),
                name: format!("同事{i}"),
                ..view(true)
            };
            let _ = app.update(T0, Msg::Net(Event::IpmsgPeer(v)));
        }
        assert_eq!(app.conversations.len(), 40);
        assert!(!app.strangers_folded());
        assert_eq!(app.sidebar.len(), 40);
    }

    #[test]
    fn text_goes_out_recall_is_refused_with_a_line_and_a_shake_shows() {
        let mut app = app();
        let _ = app.update(T0, Msg::Net(Event::IpmsgPeer(view(true))));
        app.selected = Some(ID);
        let effects = type_and_enter(&mut app, "hello");
        assert!(
            matches!(effects.as_slice(), [Effect::Send { to, text, quote: None, .. }]
                if *to == ID && text == "hello"),
            "{effects:?}"
        );
        // Files go over IP Messenger's own protocol.
        let effects = type_and_enter(&mut app, "/send /etc/hosts");
        assert_eq!(
            effects,
            [Effect::SendFiles {
                to: ID,
                paths: vec!["/etc/hosts".into()]
            }]
        );
        let effects = type_and_enter(&mut app, "/recall");
        assert!(effects.is_empty(), "{effects:?}");
        assert!(matches!(&app.notice, Some(Notice::Error(e)) if e.contains("IP Messenger")));
        let _ = app.update(T0, Msg::Net(Event::Shake { conversation: ID }));
        let last = app.conversation(&ID).unwrap().messages.back().unwrap();
        assert_eq!(last.text, "(shook the window)");
    }

    #[test]
    fn away_with_text_then_back() {
        let mut app = app();
        assert_eq!(
            type_and_enter(&mut app, "/away 开会中"),
            vec![Effect::Away(Some("开会中".into()))]
        );
        assert!(app.away);
        assert_eq!(type_and_enter(&mut app, "/away"), vec![Effect::Away(None)]);
        assert!(!app.away);
        // Without text: a default one.
        assert!(matches!(
            type_and_enter(&mut app, "/away").as_slice(),
            [Effect::Away(Some(_))]
        ));
    }
}
