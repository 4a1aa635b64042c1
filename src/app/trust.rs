//! Keys and trust in the app: the identity-change banner, `/trust`, `/block`, `/verify` and
//! its overlay. The decisions themselves are the endpoint's; this turns keys into effects.

use super::commands::Command;
use super::keymap::Action;
use super::{App, Effect, Notice};
use crate::proto::{ConversationId, NodeId, Trust};
use crate::tr;

/// An identity change waiting for the user: `new` took the name and address of `previous`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Changed {
    pub new: NodeId,
    pub previous: NodeId,
}

impl App {
    /// The identity change that concerns conversation `id`, if any: its peer is the new key,
    /// or the known key it replaced.
    pub fn identity_change(&self, id: &ConversationId) -> Option<Changed> {
        let ConversationId::Peer(peer) = id else {
            return None;
        };
        if let Some(t) = self.trust.get(peer)
            && let Trust::Changed { previous } = t.trust
        {
            return Some(Changed {
                new: *peer,
                previous,
            });
        }
        self.trust
            .iter()
            .filter_map(|(new, t)| match t.trust {
                Trust::Changed { previous } if previous == *peer => Some(Changed {
                    new: *new,
                    previous,
                }),
                _ => None,
            })
            .min_by_key(|c| c.new)
    }

    /// Sending is held in a conversation with an undecided identity change.
    pub(super) fn sending_held(&mut self, to: &ConversationId) -> bool {
        if self.identity_change(to).is_none() {
            return false;
        }
        self.error(tr!(self.lang, "app-identity-held"));
        true
    }

    /// Sending to `to` is refused because it is a plain-text conversation at the address
    /// of a known lanchat key (text there would go unencrypted to what may be that peer, or
    /// someone who spoofed its address), and the user has not chosen `/plain` there. Says
    /// what to do instead.
    pub(super) fn plain_refused(&mut self, to: &ConversationId) -> bool {
        let ConversationId::Raw(addr) = to else {
            return false;
        };
        let Some(owner) = self.lanchat_owner(addr) else {
            return false;
        };
        if self.plain_ok.contains(to) {
            return false;
        }
        let name = self.title(&ConversationId::Peer(owner));
        self.error(tr!(
            self.lang,
            "app-plain-refused",
            addr = addr.to_string(),
            name = name
        ));
        true
    }

    /// `/plain`: in a plain-text conversation at a lanchat peer's address, allow (or again
    /// refuse) sending unencrypted there, until lanchat quits.
    pub(super) fn plain_command(&mut self) -> Vec<Effect> {
        let Some(id) = self.selected else {
            self.error(tr!(self.lang, "app-open-first"));
            return Vec::new();
        };
        let ConversationId::Raw(addr) = id else {
            self.error(tr!(self.lang, "app-plain-encrypted-chat"));
            return Vec::new();
        };
        let allowed = !self.plain_ok.remove(&id);
        self.notice = Some(Notice::Info(if allowed {
            self.plain_ok.insert(id);
            tr!(self.lang, "app-plain-allowed", addr = addr.to_string())
        } else {
            tr!(self.lang, "app-plain-refused-again")
        }));
        vec![Effect::PlainPeer { addr, allowed }]
    }

    /// `/trust`, `/block` or `/verify`.
    pub(super) fn trust_command(&mut self, command: Command) -> Vec<Effect> {
        let Some(conversation) = self.selected else {
            self.error(tr!(self.lang, "app-open-first"));
            return Vec::new();
        };
        let ConversationId::Peer(peer) = conversation else {
            self.error(tr!(self.lang, "app-plain-peer-no-key"));
            return Vec::new();
        };
        let change = self.identity_change(&conversation);
        let trust = self.trust.get(&peer).map(|t| t.trust);
        match command {
            Command::Trust => {
                let target = match (change, trust) {
                    (Some(c), _) => c.new,
                    (None, Some(Trust::Blocked)) => peer,
                    (None, _) => {
                        self.error(tr!(self.lang, "app-trust-nothing"));
                        return Vec::new();
                    }
                };
                self.input.take();
                self.notice = Some(Notice::Info(tr!(self.lang, "app-key-accepted")));
                vec![Effect::TrustPeer(target)]
            }
            Command::Block => {
                let target = change.map_or(peer, |c| c.new);
                self.input.take();
                self.notice = Some(Notice::Info(tr!(self.lang, "app-key-blocked")));
                vec![Effect::BlockPeer(target)]
            }
            _ => {
                let target = change.map_or(peer, |c| c.new);
                if !self.trust.contains_key(&target) {
                    self.error(tr!(self.lang, "app-no-handshake"));
                    return Vec::new();
                }
                self.input.take();
                self.notice = None;
                self.verify = Some(target);
                Vec::new()
            }
        }
    }

    /// An action in the verify overlay: confirm that the codes matched, or open the help
    /// over it.
    pub(super) fn verify_action(&mut self, action: Action) -> Vec<Effect> {
        let Some(peer) = self.verify else {
            return Vec::new();
        };
        match action {
            Action::Confirm => {
                self.verify = None;
                if self.identity_change(&ConversationId::Peer(peer)).is_some() {
                    self.error(tr!(self.lang, "app-decide-first"));
                    return Vec::new();
                }
                self.notice = Some(Notice::Info(tr!(self.lang, "app-marked-verified")));
                vec![Effect::VerifyPeer(peer)]
            }
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    // These tests drive the model and look at its state; where they want the effects they
    // assert them, and elsewhere leaving them is the point (no runtime here).
    #![allow(unused_must_use)]

    use super::super::{Me, Msg};
    use super::*;
    use crate::proto::{Event, PeerView};
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

    const T0: i64 = 1_704_103_200_000;

    fn node(n: u8) -> NodeId {
        NodeId([n; 32])
    }

    fn app_with_bob() -> App {
        let mut app = App::new(
            Me {
                id: node(0xEE),
                name: "me".into(),
                listen: "127.0.0.1:47475".parse().unwrap(),
                discovery: true,
            },
            7,
        );
        for (n, name) in [(2, "bob"), (22, "bob")] {
            app.update(
                T0,
                Msg::Net(Event::PeerUp(PeerView {
                    id: node(n),
                    name: name.into(),
                    addr: "10.0.0.2:47475".parse().unwrap(),
                    online: true,
                })),
            );
        }
        app.update(T0, trust(2, Trust::Unverified));
        app
    }

    fn trust(n: u8, trust: Trust) -> Msg {
        Msg::Net(Event::Trust {
            peer: node(n),
            trust,
            same_name_as: None,
        })
    }

    fn type_line(app: &mut App, text: &str) -> Vec<Effect> {
        for c in text.chars() {
            app.update(
                T0,
                Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)),
            );
        }
        app.update(
            T0,
            Msg::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)),
        )
    }

    fn open(app: &mut App, n: u8) {
        app.select(ConversationId::Peer(node(n)));
    }

    #[test]
    fn an_identity_change_holds_sending_in_both_conversations_until_trusted() {
        let mut app = app_with_bob();
        let changed = Trust::Changed { previous: node(2) };
        app.update(T0, trust(22, changed));
        let want = Some(Changed {
            new: node(22),
            previous: node(2),
        });
        assert_eq!(app.identity_change(&ConversationId::Peer(node(2))), want);
        assert_eq!(app.identity_change(&ConversationId::Peer(node(22))), want);
        for n in [2, 22] {
            open(&mut app, n);
            assert_eq!(type_line(&mut app, "hello?"), Vec::new());
            assert!(matches!(&app.notice, Some(Notice::Error(e)) if e.contains("/trust")));
            assert_eq!(app.input.text(), "hello?", "the text stays in the input");
            app.input.take();
        }
        // /trust in the old conversation accepts the new key.
        open(&mut app, 2);
        assert_eq!(
            type_line(&mut app, "/trust"),
            vec![Effect::TrustPeer(node(22))]
        );
        app.update(T0, trust(22, Trust::Unverified));
        assert_eq!(app.identity_change(&ConversationId::Peer(node(2))), None);
        open(&mut app, 22);
        let sent = type_line(&mut app, "hi again");
        assert!(matches!(sent.as_slice(), [Effect::Send { text, .. }] if text == "hi again"));
    }

    #[test]
    fn block_refuses_the_new_key_or_the_open_peer() {
        let mut app = app_with_bob();
        app.update(T0, trust(22, Trust::Changed { previous: node(2) }));
        open(&mut app, 2);
        assert_eq!(
            type_line(&mut app, "/block"),
            vec![Effect::BlockPeer(node(22))]
        );
        app.update(T0, trust(22, Trust::Blocked));
        assert_eq!(app.identity_change(&ConversationId::Peer(node(2))), None);
        // With no change pending, /block blocks the peer itself, and /trust undoes it.
        assert_eq!(
            type_line(&mut app, "/block"),
            vec![Effect::BlockPeer(node(2))]
        );
        app.update(T0, trust(2, Trust::Blocked));
        assert_eq!(
            type_line(&mut app, "/trust"),
            vec![Effect::TrustPeer(node(2))]
        );
        app.update(T0, trust(2, Trust::Unverified));
        assert_eq!(type_line(&mut app, "/trust"), Vec::new());
        assert!(matches!(&app.notice, Some(Notice::Error(e)) if e.contains("already")));
    }

    #[test]
    fn verify_opens_an_overlay_that_y_confirms_and_esc_cancels() {
        let mut app = app_with_bob();
        open(&mut app, 2);
        assert_eq!(type_line(&mut app, "/verify"), Vec::new());
        assert_eq!(app.verify, Some(node(2)));
        let esc = app.update(
            T0,
            Msg::Key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE)),
        );
        assert_eq!((esc, app.verify), (Vec::new(), None));
        type_line(&mut app, "/verify");
        let y = app.update(
            T0,
            Msg::Key(KeyEvent::new(KeyCode::Char('y'), KeyModifiers::NONE)),
        );
        assert_eq!(y, vec![Effect::VerifyPeer(node(2))]);
        assert_eq!(app.verify, None);
        // No proven key yet: nothing to verify.
        open(&mut app, 22);
        assert_eq!(type_line(&mut app, "/verify"), Vec::new());
        assert_eq!(app.verify, None);
        assert!(matches!(&app.notice, Some(Notice::Error(e)) if e.contains("not proven")));
    }
}
