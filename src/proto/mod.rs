//! The protocol, without sockets, tasks, clocks or files.
//!
//! [`Endpoint`] takes datagrams and the current [`Instant`](std::time::Instant) as inputs and
//! hands back datagrams to send ([`Transmit`]), [`Event`]s for the application, and the next
//! deadline at which it wants [`Endpoint::handle_timeout`] called. Everything that reads a
//! clock or touches the network lives in `runtime`; that is what lets the tests run the
//! protocol in virtual time.

mod endpoint;
pub mod filedata;
pub mod files;
pub mod group;
pub mod ipmsg;
pub mod rawtext;
pub mod secure;
pub mod stream;
pub mod wire;

pub use endpoint::{
    DeliveryState, Destination, Endpoint, EndpointConfig, Event, IpmsgClient, IpmsgConfig,
    IpmsgFile, IpmsgPeerView, IpmsgStats, KnownPeer, MAX_BUFFERED_TOTAL, PeerDownReason, PeerView,
    SendError, Stats, Transmit, Trust, TrustLevel,
};
pub use secure::{Identity, fingerprint, verification_code};
pub use wire::{Body, Quote};

use std::fmt;
use std::net::SocketAddr;

/// The UDP port every local instance shares for discovery beacons.
pub const DISCOVERY_PORT: u16 = 47474;
/// The unicast port an instance tries first (falls back to any free port).
pub const DEFAULT_PORT: u16 = 47475;
/// The multicast group discovery beacons go to (administratively scoped, TTL 1).
pub const DISCOVERY_GROUP: std::net::Ipv4Addr = std::net::Ipv4Addr::new(239, 255, 76, 67);

/// A node's identity on the wire: its X25519 public key. Peers are known by it, never by
/// address or name.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub [u8; 32]);

impl NodeId {
    /// Lower-case hex, 64 characters.
    pub fn to_hex(&self) -> String {
        let mut s = String::with_capacity(64);
        for b in self.0 {
            s.push_str(&format!("{b:02x}"));
        }
        s
    }

    /// The first 8 hex digits: enough to tell peers apart on screen.
    pub fn short(&self) -> String {
        self.to_hex()[..8].to_string()
    }

    pub fn from_hex(s: &str) -> Option<Self> {
        let s = s.trim();
        if s.len() != 64 || !s.is_ascii() {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(Self(out))
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeId({})", self.short())
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// A message id, chosen by the sender when the message is typed. Never zero.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct MsgId(pub u64);

impl fmt::Display for MsgId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl MsgId {
    pub fn from_hex(s: &str) -> Option<Self> {
        u64::from_str_radix(s, 16)
            .ok()
            .filter(|v| *v != 0)
            .map(Self)
    }
}

/// What a conversation is keyed by: a lanchat peer's identity, the address of a peer that
/// speaks plain text (the tutorial's scripts, `nc -u`), or a group (`proto::group`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub enum ConversationId {
    Peer(NodeId),
    Raw(SocketAddr),
    Group(group::GroupId),
    /// An IP Messenger, iptux or FeiQ peer, known by its IPv4 address (as they key each
    /// other): unauthenticated, like a plain-text peer.
    Ipmsg(std::net::Ipv4Addr),
}

impl fmt::Display for ConversationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConversationId::Peer(id) => write!(f, "{id}"),
            ConversationId::Raw(addr) => write!(f, "{addr}"),
            ConversationId::Group(g) => write!(f, "group-{g}"),
            ConversationId::Ipmsg(ip) => write!(f, "ipmsg:{ip}"),
        }
    }
}
