//! What the endpoint knows about addresses, so that it is never a reflector and never
//! sends text in the clear by surprise.
//!
//! - **No amplification.** A lanchat datagram goes to an address only if that address
//!   proved it receives, the user named it, or the credit of its IP pays for it. An address
//!   is proven only by authenticated traffic from it ([`Guard::on_authenticated`]) or by
//!   being a peer's proven address in an earlier run ([`Guard::prove`]). Credit is earned
//!   only by bytes received from that IP ([`Guard::earn_credit`]) and spent by what
//!   [`Guard::may_send`] lets through, so what goes to an unproven address never exceeds
//!   what came from it. When the credit table is full it starts afresh, which only ever
//!   lowers what may be sent. Beacons and initiations are padded to one size (see `wire`),
//!   so one beacon pays for one beacon or initiation in answer. Plain text is not limited
//!   here: it goes only where the user writes.
//! - **No plain text by surprise.** An address is a lanchat one once a handshake frame came
//!   from it ([`Guard::saw_handshake`]) or authenticated traffic did; the endpoint then
//!   refuses to write text there in the clear unless the user named the address as plain
//!   ([`Guard::allow_plain`], the only way into that set).
//! - Everything is bounded: proven and lanchat addresses forget the oldest beyond
//!   [`MAX_ADDRESSES`], credit is kept for [`MAX_CREDIT_SOURCES`] IPs, plain addresses stop
//!   at [`MAX_PLAIN`].
//!
//! The guard knows nothing of keys or peers: the endpoint tells it what it saw and asks
//! before each datagram leaves.

use super::super::wire;
use std::collections::{HashMap, HashSet, VecDeque};
use std::net::{IpAddr, SocketAddr};

/// Source IPs whose byte credit is tracked (the table starts afresh when full, which only
/// ever lowers what may be sent).
const MAX_CREDIT_SOURCES: usize = 4096;
/// Addresses remembered as proven (they sent authenticated traffic) or as lanchat ones.
const MAX_ADDRESSES: usize = 4096;
/// Addresses the user named as plain-text peers.
const MAX_PLAIN: usize = 256;

#[derive(Debug, Default)]
pub(super) struct Guard {
    /// Per source IP: bytes received minus bytes sent in answer, while unproven.
    credit: HashMap<IpAddr, u64>,
    /// Addresses that sent authenticated traffic (they receive, so sending there is free),
    /// and the last proven addresses of peers met in earlier runs.
    proven: Bounded,
    /// Addresses that spoke a lanchat handshake: never sent plain text.
    lanchat: Bounded,
    /// Addresses the user named as plain-text peers.
    plain_ok: HashSet<SocketAddr>,
}

impl Guard {
    /// `bytes` arrived from `ip`: that much may go back to it before it proves anything.
    pub(super) fn earn_credit(&mut self, ip: IpAddr, bytes: usize) {
        if self.credit.len() >= MAX_CREDIT_SOURCES && !self.credit.contains_key(&ip) {
            self.credit.clear();
        }
        let credit = self.credit.entry(ip).or_insert(0);
        *credit = credit.saturating_add(bytes as u64);
    }

    /// May `payload` go to `addr`? Plain text goes (only where the user chose to write), and
    /// so does anything to a proven address or one the user `named`; anything else spends
    /// its size from the IP's credit, or is refused.
    ///
    /// Sealed frames go too: they only ever go where a session's key holder sent its own
    /// latest authenticated datagram from, and how much we send on a session follows what
    /// that key holder sends (acks, keepalives, messages the user typed).
    pub(super) fn may_send(&mut self, addr: SocketAddr, payload: &[u8], named: bool) -> bool {
        if !wire::is_native(payload)
            || wire::is_sealed(payload)
            || self.proven.contains(&addr)
            || named
        {
            return true;
        }
        match self.credit.get_mut(&addr.ip()) {
            Some(credit) if *credit >= payload.len() as u64 => {
                *credit -= payload.len() as u64;
                true
            }
            _ => false,
        }
    }

    /// Authenticated traffic came from `addr` (so a lanchat key is there), and a handshake
    /// proved that its key holder receives at `proven`. The source of a datagram proves
    /// nothing about receiving (a key holder can write any source on its sealed frames), so
    /// only `proven` is spared the credit rule.
    pub(super) fn on_authenticated(&mut self, addr: SocketAddr, proven: Option<SocketAddr>) {
        self.lanchat.insert(addr);
        if let Some(proven) = proven {
            self.proven.insert(proven);
            self.lanchat.insert(proven);
        }
    }

    /// `addr` was proven in an earlier run (a remembered peer's address), or in the clear
    /// for a benchmark: our own handshakes to it answer nothing, so they need no credit.
    pub(super) fn prove(&mut self, addr: SocketAddr) {
        self.proven.insert(addr);
    }

    /// A handshake frame came from `addr` (verified or not): a lanchat peer may be there.
    pub(super) fn saw_handshake(&mut self, addr: SocketAddr) {
        self.lanchat.insert(addr);
    }

    /// Did lanchat traffic come from `addr`?
    pub(super) fn is_lanchat(&self, addr: &SocketAddr) -> bool {
        self.lanchat.contains(addr)
    }

    /// The user names `addr` as a plain-text peer.
    pub(super) fn allow_plain(&mut self, addr: SocketAddr) {
        if self.plain_ok.len() < MAX_PLAIN {
            self.plain_ok.insert(addr);
        }
    }

    /// The user takes back [`allow_plain`](Self::allow_plain).
    pub(super) fn forbid_plain(&mut self, addr: SocketAddr) {
        self.plain_ok.remove(&addr);
    }

    /// Did the user name `addr` as a plain-text peer?
    pub(super) fn plain_allowed(&self, addr: &SocketAddr) -> bool {
        self.plain_ok.contains(addr)
    }
}

/// A set of addresses that forgets the oldest beyond [`MAX_ADDRESSES`].
#[derive(Debug, Default)]
struct Bounded {
    set: HashSet<SocketAddr>,
    order: VecDeque<SocketAddr>,
}

impl Bounded {
    fn insert(&mut self, addr: SocketAddr) {
        if !self.set.insert(addr) {
            return;
        }
        self.order.push_back(addr);
        if self.order.len() > MAX_ADDRESSES
            && let Some(old) = self.order.pop_front()
        {
            self.set.remove(&old);
        }
    }

    fn contains(&self, addr: &SocketAddr) -> bool {
        self.set.contains(addr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::wire::{Beacon, Frame};
    use crate::proto::{Identity, NodeId};
    use std::net::Ipv4Addr;

    fn addr(last: u8, port: u16) -> SocketAddr {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, last)), port)
    }

    fn beacon() -> Vec<u8> {
        let node: NodeId = Identity::from_secret([7; 32]).public();
        let frame = Frame::Beacon(Beacon {
            node,
            port: 1,
            want_reply: false,
            unicast: true,
            name: "a".into(),
        });
        frame.encode().unwrap_or_default()
    }

    #[test]
    fn an_unproven_address_gets_at_most_what_its_ip_sent() {
        let mut guard = Guard::default();
        let b = beacon();
        assert!(wire::is_native(&b));
        assert!(
            !guard.may_send(addr(1, 5), &b, false),
            "nothing received yet"
        );
        guard.earn_credit(addr(1, 9).ip(), b.len() * 2 - 1);
        // Credit belongs to the IP, whatever the port.
        assert!(guard.may_send(addr(1, 5), &b, false));
        assert!(!guard.may_send(addr(1, 6), &b, false), "one byte short");
        assert!(
            !guard.may_send(addr(2, 5), &b, false),
            "another IP earned nothing"
        );
        guard.earn_credit(addr(1, 9).ip(), 1);
        assert!(guard.may_send(addr(1, 6), &b, false));
        assert!(!guard.may_send(addr(1, 6), &b, false));
    }

    #[test]
    fn proven_named_and_plain_text_cost_no_credit() {
        let mut guard = Guard::default();
        let b = beacon();
        assert!(guard.may_send(addr(1, 5), &b, true), "the user named it");
        assert!(guard.may_send(addr(1, 5), b"hello\n", false), "plain text");
        guard.on_authenticated(addr(3, 9), Some(addr(3, 5)));
        assert!(
            !guard.may_send(addr(3, 9), &b, false),
            "a source proves nothing"
        );
        assert!(guard.may_send(addr(3, 5), &b, false));
        assert!(
            !guard.may_send(addr(3, 6), &b, false),
            "proof is per address"
        );
        guard.prove(addr(4, 5));
        assert!(guard.may_send(addr(4, 5), &b, false));
        assert!(
            !guard.is_lanchat(&addr(4, 5)),
            "a remembered address is not a lanchat one"
        );
        assert!(guard.is_lanchat(&addr(3, 5)));
    }

    #[test]
    fn a_full_credit_table_starts_afresh() {
        let mut guard = Guard::default();
        let b = beacon();
        guard.earn_credit(addr(1, 5).ip(), b.len());
        for i in 0..MAX_CREDIT_SOURCES as u32 {
            let ip = IpAddr::V4(Ipv4Addr::from(0x0b00_0000 + i));
            guard.earn_credit(ip, 1);
        }
        assert!(
            !guard.may_send(addr(1, 5), &b, false),
            "its credit was dropped"
        );
    }

    #[test]
    fn only_the_user_makes_an_address_plain() {
        let mut guard = Guard::default();
        guard.saw_handshake(addr(1, 5));
        assert!(guard.is_lanchat(&addr(1, 5)));
        assert!(!guard.plain_allowed(&addr(1, 5)));
        guard.allow_plain(addr(1, 5));
        assert!(guard.plain_allowed(&addr(1, 5)));
        for port in 0..2 * MAX_PLAIN as u16 {
            guard.allow_plain(addr(2, port));
        }
        assert_eq!(guard.plain_ok.len(), MAX_PLAIN);
    }
}
