//! The endpoint's public vocabulary: its configuration, what it hands back (datagrams to
//! send, events) and its counters.

use super::super::files::FileSignal;
use super::super::secure::Identity;
use super::super::wire::{self, EncodeError, Quote};
use super::super::{ConversationId, MsgId, NodeId};
use super::{KnownPeer, Trust};
use std::net::SocketAddr;
use std::time::Duration;
use thiserror::Error;

#[derive(Debug, Clone)]
pub struct EndpointConfig {
    /// This node's key pair; its public half is the node id.
    pub identity: Identity,
    /// The wall clock (Unix ms) when the endpoint starts: handshake timestamps count from it.
    pub wall_clock_ms: u64,
    /// Keys met before (the `known_peers` file), with what the user decided about them.
    pub known_peers: Vec<KnownPeer>,
    /// Display name announced in beacons; cut to [`wire::MAX_NAME_BYTES`].
    pub name: String,
    /// Our unicast port, announced so that peers reply there and not to the shared
    /// discovery port the beacon may come from.
    pub port: u16,
    /// Send beacons to the discovery group (peers added by address are probed regardless).
    pub discovery: bool,
    /// Between periodic beacons; also the keepalive interval of an idle online peer.
    pub beacon_interval: Duration,
    /// A peer silent this long is offline.
    pub peer_timeout: Duration,
    /// Send read receipts, and show the ones peers send. Off is off both ways.
    pub read_receipts: bool,
    /// Acknowledge a message only once
    /// [`Endpoint::confirm_stored`](super::Endpoint::confirm_stored) says it is stored, so
    /// a crash can never lose a message its sender saw as delivered.
    pub durable_acks: bool,
    /// A message not acknowledged this long after it was first sent has failed.
    pub give_up: Duration,
    /// Peers remembered at most (offline ones are forgotten first).
    pub max_peers: usize,
    /// The latest IK handshake timestamp of each key, from the last run (see
    /// [`Endpoint::take_handshake_times`](super::Endpoint::take_handshake_times)).
    pub handshake_times: Vec<(NodeId, u64)>,
    /// Group sync: how often, how soon receipts go, how many groups.
    pub groups: crate::proto::group::GroupConfig,
    /// Speak IP Messenger (iptux, FeiQ) too: `None` leaves it off.
    pub ipmsg: Option<super::ipm::IpmsgConfig>,
    /// Packets travel in the clear and are taken in the clear: only so that a benchmark can
    /// measure what encryption costs. Exists only with the `bench-plaintext` feature.
    #[cfg(feature = "bench-plaintext")]
    #[doc(hidden)]
    pub plaintext_for_benchmarks: bool,
}

impl EndpointConfig {
    pub fn new(identity: Identity, name: &str, port: u16) -> Self {
        Self {
            identity,
            wall_clock_ms: 0,
            known_peers: Vec::new(),
            name: clip_name(name),
            port,
            discovery: true,
            beacon_interval: Duration::from_secs(30),
            peer_timeout: Duration::from_secs(90),
            read_receipts: true,
            durable_acks: false,
            give_up: Duration::from_secs(30),
            max_peers: 1024,
            handshake_times: Vec::new(),
            groups: crate::proto::group::GroupConfig::default(),
            ipmsg: None,
            #[cfg(feature = "bench-plaintext")]
            plaintext_for_benchmarks: false,
        }
    }
}

/// Cuts a name to what a beacon carries, on a character boundary.
pub(super) fn clip_name(name: &str) -> String {
    wire::clip_utf8(name, wire::MAX_NAME_BYTES).to_owned()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    Unicast(SocketAddr),
    /// Every discovery target the runtime knows (multicast group, broadcast addresses).
    Discovery,
    /// One address, from the IP Messenger socket (UDP 2425).
    Ipmsg(SocketAddr),
    /// The IP Messenger broadcast (255.255.255.255 and each interface's broadcast address,
    /// on the family's port), from the IP Messenger socket.
    IpmsgBroadcast,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    pub dst: Destination,
    pub payload: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerDownReason {
    Goodbye,
    Timeout,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    /// Waiting for the peer to come online.
    Queued,
    /// On the wire, not yet acknowledged.
    Sending,
    /// Sent to a plain-text peer, which cannot acknowledge.
    Sent,
    /// The peer acknowledged it.
    Delivered,
    /// The peer had the conversation open and saw it.
    Read,
    /// Not acknowledged within the give-up time.
    Failed,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Queued => "queued",
            DeliveryState::Sending => "sending",
            DeliveryState::Sent => "sent",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Read => "read",
            DeliveryState::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerView {
    pub id: NodeId,
    pub name: String,
    pub addr: SocketAddr,
    pub online: bool,
}

/// Which program an IP Messenger peer runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpmsgClient {
    FeiQ,
    Iptux,
    IpMsg,
}

impl IpmsgClient {
    /// Its name, the same in every language.
    pub fn as_str(self) -> &'static str {
        match self {
            IpmsgClient::FeiQ => "FeiQ",
            IpmsgClient::Iptux => "iptux",
            IpmsgClient::IpMsg => "IP Messenger",
        }
    }
}

/// One file of an IP Messenger peer's offer. The name is the peer's word (decoded in its
/// encoding, `::` made `:`): a path may hide in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpmsgFile {
    pub file_id: u64,
    pub name: String,
    pub size: u64,
    pub mtime: u64,
    /// A folder (lanchat takes none yet).
    pub dir: bool,
}

/// An IP Messenger peer as its packets describe it. Every string is the peer's word,
/// unauthenticated, cut to a bound; the screen sanitises it like any peer text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpmsgPeerView {
    pub ip: std::net::Ipv4Addr,
    /// Where it is answered.
    pub addr: SocketAddr,
    /// Its nickname (the user name when it gave none).
    pub name: String,
    pub user: String,
    pub host: String,
    pub group: String,
    pub client: IpmsgClient,
    pub absent: bool,
    pub online: bool,
    /// What we write to it in.
    pub charset: crate::proto::ipmsg::Charset,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A peer's key was proven by a handshake, or the user changed its trust.
    Trust {
        peer: NodeId,
        trust: Trust,
        /// Another known key uses the same name (elsewhere): shown as a warning.
        same_name_as: Option<NodeId>,
    },
    PeerUp(PeerView),
    /// An online peer's name or address changed.
    PeerUpdated(PeerView),
    PeerDown {
        peer: PeerView,
        reason: PeerDownReason,
    },
    Message {
        conversation: ConversationId,
        id: MsgId,
        /// The sender's clock, when it said; plain-text peers do not.
        sent_at_ms: Option<i64>,
        text: String,
        /// The message this one replies to.
        quote: Option<Quote>,
    },
    /// A peer takes back its message `target` (only ever its own: the store and the app
    /// match `target` among the messages `from` wrote).
    Recall {
        from: NodeId,
        /// The recall's own id (acknowledged once stored, like a message).
        id: MsgId,
        target: MsgId,
        /// The sender's clock when it recalled.
        sent_at_ms: i64,
    },
    /// A file offer, accept, decline or cancel from a lanchat peer (`proto::files`). Like a
    /// message, acknowledged (with durable acks) once the app confirms it is stored. It
    /// counts only for a transfer with `from`: anyone can name any transfer id.
    File {
        from: NodeId,
        /// The file message's own id.
        id: MsgId,
        /// The sender's clock when it sent it.
        sent_at_ms: i64,
        signal: FileSignal,
    },
    State {
        id: MsgId,
        state: DeliveryState,
    },
    /// An IP Messenger peer appeared, changed, or went (see `online`).
    IpmsgPeer(IpmsgPeerView),
    /// A FeiQ peer shook the window.
    Shake {
        conversation: ConversationId,
    },
    /// An IP Messenger peer offers files (a SENDMSG with FILEATTACHOPT). They are fetched
    /// over TCP from `addr` (its IP, the port it writes from) with GETFILEDATA.
    IpmsgFiles {
        from: std::net::Ipv4Addr,
        addr: SocketAddr,
        offer_no: u64,
        files: Vec<IpmsgFile>,
    },
    /// An IP Messenger peer will not fetch what offer `offer_no` of ours holds.
    IpmsgRelease {
        from: std::net::Ipv4Addr,
        offer_no: u64,
    },
    /// Peer `from` read these messages (a read receipt). They count only where they are
    /// mine and in the conversation with `from`: the app and the store check that.
    Read {
        from: NodeId,
        ids: Vec<MsgId>,
    },
    /// Something happened in a group (`proto::group`): a message or change that counts now,
    /// receipts, membership, an entry to keep.
    Group(crate::proto::group::GroupEvent),
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum SendError {
    #[error(transparent)]
    Encode(#[from] EncodeError),
    #[error("no such peer")]
    UnknownPeer,
    #[error("the outbox for this peer is full")]
    OutboxFull,
    #[error("nothing to send")]
    Empty,
    #[error("a plain-text peer gets text only")]
    PlainText,
    #[error("an IP Messenger peer gets text only")]
    IpmsgText,
    #[error("IP Messenger is off")]
    IpmsgOff,
    /// Text in the clear to an address where a lanchat key is known or answers.
    #[error("a lanchat peer answers at this address: write to it by name (encrypted)")]
    LanchatAddress(Option<NodeId>),
    /// A group's messages are its members' signed entries (`Groups`), not a peer's stream.
    #[error("a group's messages go through its members' entries")]
    Group,
}

/// Counters for the status line, the pipe and the network doctor.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub datagrams_in: u64,
    pub native_in: u64,
    pub text_in: u64,
    /// Datagrams that were neither a valid frame nor text: counted and dropped.
    pub malformed: u64,
    pub duplicates: u64,
    /// Data packets not taken (too far ahead, over budget, inconsistent): not acknowledged.
    pub refused: u64,
    /// Data packets sent again after a loss was detected or a timer ran out.
    pub retransmits: u64,
    pub datagrams_out: u64,
    /// UDP payload bytes of those datagrams.
    pub bytes_out: u64,
    /// Packets in the clear, or sealed frames that do not name their session's key: a
    /// forgery or a confused peer. Dropped.
    pub unauthenticated: u64,
    /// Frames from a key held back by an identity change, dropped until the user decides.
    pub held: u64,
    /// Beacons taken as hints.
    pub beacons: u64,
    /// Goodbyes in the clear: ignored (only a sealed goodbye counts).
    pub clear_goodbyes: u64,
    /// Datagrams not sent: their address never proved it receives, and what it sent us
    /// did not pay for them (no amplification: see the endpoint's `guard`).
    pub unproven_dropped: u64,
}
