//! What the user decided about keys, and what the application was told about them.
//!
//! - **A key becomes known only from a proven handshake or from the user.** A line of
//!   `known_peers` is made by [`TrustBook::on_established`] (a handshake whose return path
//!   `secure` proved) or by the user's [`accept`](TrustBook::accept) and
//!   [`block`](TrustBook::block). Its name and IP are those of its latest proven handshake;
//!   nothing else renames or moves it.
//! - **A new key in a known peer's place is held.** A key never seen, proven from the IP
//!   where a known, unblocked key had the same name while that key has no session, is held
//!   ([`Trust::Changed`]) instead of known: maybe a reinstall, maybe an impostor. While it is
//!   held the endpoint seals nothing to it but handshakes, takes no frame from it and
//!   ignores its beacons. Only the user ends a hold: `accept` (the new key takes the old
//!   one's place, and the old one is forgotten, as SSH forgets a replaced host key) or
//!   `block`.
//! - **Blocked stays blocked until the user accepts the key.** Its beacons are ignored, and
//!   the endpoint has `secure` refuse its handshakes.
//! - **Verified comes only from the user** ([`verify`](TrustBook::verify)), only from
//!   unverified, and never while the key is held.
//! - **The application hears of a change once.** An [`Event::Trust`] goes out when a key's
//!   trust or its same-name warning differs from what was last told, and only then.
//! - Every change to a key's line is noted for [`take_changes`](TrustBook::take_changes), so
//!   the file is appended, never rewritten.
//!
//! State changes only through the methods above: proven handshakes and the user's
//! decisions. The book knows nothing of sessions or the peer table: the endpoint passes what
//! it needs (who has a session, what the peer table knows of a key).

use super::super::NodeId;
use super::{Event, PeerView};
use std::collections::HashMap;
use std::net::IpAddr;

/// What the user decided about a key, as kept in `known_peers`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TrustLevel {
    /// Accepted on first contact (SSH's accept-new); nobody compared fingerprints.
    Unverified,
    /// The user compared the verification code with the peer.
    Verified,
    /// Refused: its handshakes and frames are dropped.
    Blocked,
}

impl TrustLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            TrustLevel::Unverified => "unverified",
            TrustLevel::Verified => "verified",
            TrustLevel::Blocked => "blocked",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "unverified" => Some(TrustLevel::Unverified),
            "verified" => Some(TrustLevel::Verified),
            "blocked" => Some(TrustLevel::Blocked),
            _ => None,
        }
    }
}

/// A key met before: one line of `known_peers`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownPeer {
    pub id: NodeId,
    /// The name it gave in its last handshake.
    pub name: String,
    /// Where its last handshake came from.
    pub ip: Option<IpAddr>,
    pub level: TrustLevel,
}

/// Where a peer stands, as shown to the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trust {
    Unverified,
    Verified,
    Blocked,
    /// A new key using the name and address of `previous`, a key we know: maybe a
    /// reinstall, maybe an impostor. Nothing goes to it or comes from it until the user
    /// trusts or blocks it.
    Changed {
        previous: NodeId,
    },
}

#[derive(Debug, Default)]
pub(super) struct TrustBook {
    known: HashMap<NodeId, KnownPeer>,
    /// New keys that took a known peer's name and address: new → the known one.
    held: HashMap<NodeId, NodeId>,
    /// The trust last told to the application, per key.
    told: HashMap<NodeId, (Trust, Option<NodeId>)>,
    /// Keys whose line changed since [`take_changes`](Self::take_changes).
    changed: Vec<NodeId>,
}

impl TrustBook {
    /// The keys of `known_peers`, as the user left them.
    pub(super) fn new(known_peers: &[KnownPeer]) -> Self {
        let known = known_peers.iter().map(|k| (k.id, k.clone())).collect();
        Self {
            known,
            ..Self::default()
        }
    }

    /// Where `peer` stands now (None for a key never proven).
    pub(super) fn trust(&self, peer: &NodeId) -> Option<Trust> {
        if let Some(previous) = self.held.get(peer) {
            return Some(Trust::Changed {
                previous: *previous,
            });
        }
        self.known.get(peer).map(|k| match k.level {
            TrustLevel::Unverified => Trust::Unverified,
            TrustLevel::Verified => Trust::Verified,
            TrustLevel::Blocked => Trust::Blocked,
        })
    }

    /// Is `peer` held back by an identity change, waiting for the user?
    pub(super) fn is_held(&self, peer: &NodeId) -> bool {
        self.held.contains_key(peer)
    }

    /// Held or blocked: its beacons lead nowhere.
    pub(super) fn is_refused(&self, peer: &NodeId) -> bool {
        self.is_held(peer)
            || self
                .known
                .get(peer)
                .is_some_and(|k| k.level == TrustLevel::Blocked)
    }

    /// Every key met, sorted.
    pub(super) fn known_peers(&self) -> Vec<KnownPeer> {
        let mut all: Vec<KnownPeer> = self.known.values().cloned().collect();
        all.sort_by_key(|k| k.id);
        all
    }

    /// The lines that changed since the last call: each key with its entry now, or `None`
    /// for a key forgotten (replaced by the key the user accepted in its place).
    pub(super) fn take_changes(&mut self) -> Vec<(NodeId, Option<KnownPeer>)> {
        let mut ids = std::mem::take(&mut self.changed);
        ids.sort();
        ids.dedup();
        ids.into_iter()
            .map(|id| (id, self.known.get(&id).cloned()))
            .collect()
    }

    /// The user accepts `peer`'s key (`met`: what the peer table knows of it). After an
    /// identity change it takes the place of the key it replaced, which is forgotten.
    pub(super) fn accept(&mut self, peer: NodeId, met: Option<PeerView>) -> Option<Event> {
        if let Some(previous) = self.held.remove(&peer) {
            self.known.remove(&previous);
            self.told.remove(&previous);
            self.changed.push(previous);
        }
        let entry = self.entry(peer, TrustLevel::Unverified, met);
        if entry.level == TrustLevel::Blocked {
            entry.level = TrustLevel::Unverified;
        }
        self.changed.push(peer);
        self.tell(peer)
    }

    /// The user refuses `peer`'s key.
    pub(super) fn block(&mut self, peer: NodeId, met: Option<PeerView>) -> Option<Event> {
        self.held.remove(&peer);
        self.entry(peer, TrustLevel::Blocked, met).level = TrustLevel::Blocked;
        self.changed.push(peer);
        self.tell(peer)
    }

    /// The user compared the verification code with `peer` and it matched.
    pub(super) fn verify(&mut self, peer: NodeId) -> Option<Event> {
        if self.held.contains_key(&peer) {
            return None; // decide on the identity change first
        }
        let k = self.known.get_mut(&peer)?;
        if k.level != TrustLevel::Unverified {
            return None;
        }
        k.level = TrustLevel::Verified;
        self.changed.push(peer);
        self.tell(peer)
    }

    /// `peer`'s line, made (at `level`, with what the peer table knows) if there is none.
    fn entry(&mut self, peer: NodeId, level: TrustLevel, met: Option<PeerView>) -> &mut KnownPeer {
        let ip = met.as_ref().map(|p| p.addr.ip());
        let name = met.map(|p| p.name).unwrap_or_default();
        self.known.entry(peer).or_insert(KnownPeer {
            id: peer,
            name,
            ip,
            level,
        })
    }

    /// A handshake proved `peer`'s key from `ip` under `name` (already clipped). A known
    /// key's line follows it; a new key is known at once, unless it looks like a known
    /// peer with a new key: same name, same IP, not blocked, and with no session now
    /// (`has_session`). Then it is held. Tell the application with [`tell`](Self::tell).
    pub(super) fn on_established(
        &mut self,
        peer: NodeId,
        ip: IpAddr,
        name: &str,
        has_session: impl Fn(&NodeId) -> bool,
    ) {
        if let Some(k) = self.known.get_mut(&peer) {
            if k.ip != Some(ip) || k.name != name {
                k.ip = Some(ip);
                k.name = name.to_owned();
                self.changed.push(peer);
            }
            return;
        }
        if self.held.contains_key(&peer) {
            return;
        }
        let previous = self
            .known
            .values()
            .filter(|k| k.name == name && k.ip == Some(ip) && k.level != TrustLevel::Blocked)
            .filter(|k| !has_session(&k.id))
            .map(|k| k.id)
            .min();
        match previous {
            Some(previous) => {
                self.held.insert(peer, previous);
            }
            None => {
                self.known.insert(
                    peer,
                    KnownPeer {
                        id: peer,
                        name: name.to_owned(),
                        ip: Some(ip),
                        level: TrustLevel::Unverified,
                    },
                );
                self.changed.push(peer);
            }
        }
    }

    /// An [`Event::Trust`] if what the application knows of `peer` changed.
    pub(super) fn tell(&mut self, peer: NodeId) -> Option<Event> {
        let trust = self.trust(&peer)?;
        let name = self.known.get(&peer).map(|k| k.name.as_str());
        let same_name_as = name.and_then(|name| {
            self.known
                .values()
                .filter(|k| k.id != peer && k.name == name && k.level != TrustLevel::Blocked)
                .map(|k| k.id)
                .min()
        });
        if self.told.get(&peer) == Some(&(trust, same_name_as)) {
            return None;
        }
        self.told.insert(peer, (trust, same_name_as));
        Some(Event::Trust {
            peer,
            trust,
            same_name_as,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn node(n: u8) -> NodeId {
        NodeId([n; 32])
    }

    fn ip(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(10, 0, 0, last))
    }

    fn known(n: u8, name: &str, last: u8, level: TrustLevel) -> KnownPeer {
        KnownPeer {
            id: node(n),
            name: name.into(),
            ip: Some(ip(last)),
            level,
        }
    }

    #[test]
    fn a_new_key_in_a_known_peers_place_is_held_until_the_user_decides() {
        let mut book = TrustBook::new(&[known(1, "ann", 5, TrustLevel::Verified)]);
        // While the old key has a session, a newcomer with its name is someone else.
        book.on_established(node(2), ip(5), "ann", |_| true);
        assert_eq!(book.trust(&node(2)), Some(Trust::Unverified));
        book.on_established(node(3), ip(5), "ann", |_| false);
        let changed = Trust::Changed { previous: node(1) };
        assert_eq!(book.trust(&node(3)), Some(changed));
        assert!(book.is_held(&node(3)) && book.is_refused(&node(3)));
        assert_eq!(book.verify(node(3)), None, "no verifying a held key");
        let told = book.tell(node(3));
        assert!(matches!(told, Some(Event::Trust { trust, .. }) if trust == changed));
        assert_eq!(book.tell(node(3)), None, "told once");
        assert!(book.accept(node(3), None).is_some());
        assert_eq!(book.trust(&node(1)), None, "the replaced key is forgotten");
        assert_eq!(book.trust(&node(3)), Some(Trust::Unverified));
        let changes: Vec<(NodeId, bool)> = book
            .take_changes()
            .iter()
            .map(|(id, now)| (*id, now.is_some()))
            .collect();
        // The replaced key's line goes too: it is forgotten on disk as in memory.
        assert_eq!(
            changes,
            vec![(node(1), false), (node(2), true), (node(3), true)]
        );
        assert!(book.take_changes().is_empty());
    }

    #[test]
    fn a_blocked_key_is_refused_until_accepted_and_never_warned_about() {
        let mut book = TrustBook::new(&[
            known(1, "ann", 5, TrustLevel::Blocked),
            known(2, "ann", 6, TrustLevel::Unverified),
        ]);
        assert!(book.is_refused(&node(1)));
        let told = book.tell(node(2));
        let expected = Event::Trust {
            peer: node(2),
            trust: Trust::Unverified,
            same_name_as: None,
        };
        assert_eq!(told, Some(expected), "a blocked namesake is no warning");
        // A blocked key is no previous identity either.
        book.on_established(node(3), ip(5), "ann", |_| false);
        assert_eq!(book.trust(&node(3)), Some(Trust::Unverified));
        book.accept(node(1), None);
        assert!(!book.is_refused(&node(1)));
        assert_eq!(book.trust(&node(1)), Some(Trust::Unverified));
    }
}
