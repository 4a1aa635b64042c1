//! The sans-IO node: discovery, peers, trust, message delivery and plain-text peers.
//!
//! Who a peer is, where it is and whether it is there come only from authenticated
//! traffic (see `secure` for when a handshake counts as proven):
//! - the peer table holds keys that completed a proven handshake (or were met in an
//!   earlier run); its name is the one in the handshake, its address the source of its
//!   latest authenticated datagram (roaming as WireGuard does), and it is online while
//!   authenticated datagrams (data, acks, keepalives every `beacon_interval`) arrive, until
//!   `peer_timeout` of silence or a sealed goodbye;
//! - a beacon is a hint: from a key we have no session with it starts one handshake toward
//!   the address it names, and otherwise at most a beacon in reply. It never renames,
//!   moves, or marks anyone online or offline. A goodbye in the clear is ignored;
//! - keys probed because of beacons are candidates, kept apart from the peer table (at most
//!   [`MAX_CANDIDATES`], the oldest forgotten first), so they can never crowd out a peer;
//! - no amplification: a datagram to an address that has not proven it receives (no
//!   authenticated traffic from it, not added by the user) is sent only while the bytes
//!   sent to its IP stay within the bytes received from it; the rest is dropped and counted
//!   ([`Stats::unproven_dropped`]). Beacons and initiations are padded to one size, so one
//!   beacon pays for one beacon or initiation in answer;
//! - no plain text by surprise: text goes in the clear only to an address where no lanchat
//!   key is known or answers, unless the user named the address as plain
//!   ([`Endpoint::allow_plain`]).

mod discovery;
mod guard;
mod trust;

use super::rawtext;
use super::secure::{Identity, Opened, Secure, SecureStats};
use super::stream::{RecvStream, SendOutcome, SendStream};
use super::wire::{self, Beacon, Body, Content, EncodeError, Frame, Quote};
use super::{ConversationId, MsgId, NodeId};
use crate::rng::Rng;
use discovery::{BeaconAction, Discovery, Standing};
use guard::Guard;
use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use thiserror::Error;
use trust::TrustBook;
pub use trust::{KnownPeer, Trust, TrustLevel};

/// Message ids remembered per peer for duplicate suppression.
const SEEN_PER_PEER: usize = 4096;
const MAX_OUTBOX_PER_PEER: usize = 1000;
/// Bytes of incomplete or out-of-order messages held for all peers together.
pub const MAX_BUFFERED_TOTAL: usize = 16 << 20;

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
    /// Acknowledge a message only once [`Endpoint::confirm_stored`] says it is stored, so a
    /// crash can never lose a message its sender saw as delivered.
    pub durable_acks: bool,
    /// A message not acknowledged this long after it was first sent has failed.
    pub give_up: Duration,
    /// Peers remembered at most (offline ones are forgotten first).
    pub max_peers: usize,
    /// The latest IK handshake timestamp of each key, from the last run (see
    /// [`Endpoint::take_handshake_times`]).
    pub handshake_times: Vec<(NodeId, u64)>,
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
            #[cfg(feature = "bench-plaintext")]
            plaintext_for_benchmarks: false,
        }
    }
}

/// Cuts a name to what a beacon carries, on a character boundary.
fn clip_name(name: &str) -> String {
    wire::clip_utf8(name, wire::MAX_NAME_BYTES).to_owned()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    Unicast(SocketAddr),
    /// Every discovery target the runtime knows (multicast group, broadcast addresses).
    Discovery,
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
    State {
        id: MsgId,
        state: DeliveryState,
    },
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
    /// Text in the clear to an address where a lanchat key is known or answers.
    #[error("a lanchat peer answers at this address: write to it by name (encrypted)")]
    LanchatAddress(Option<NodeId>),
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
    /// did not pay for them (see the module doc: no amplification).
    pub unproven_dropped: u64,
}

/// A message waiting for its peer to come (back) online.
#[derive(Debug, Clone)]
struct Waiting {
    /// When it was typed, relative to the others (a counter).
    order: u64,
    id: MsgId,
    content: Content,
    sent_at_ms: i64,
    bytes: Vec<u8>,
}

#[derive(Debug)]
struct Peer {
    name: String,
    addr: SocketAddr,
    online: bool,
    last_seen: Instant,
    /// Ids of messages handed up recently: a resent message is never shown twice.
    seen: VecDeque<MsgId>,
    seen_set: HashSet<MsgId>,
    /// Messages waiting for this peer to come online (queued), oldest first.
    outbox: VecDeque<Waiting>,
    /// Messages that failed; sent again automatically when the peer is heard from anew.
    failed: VecDeque<Waiting>,
    send: SendStream,
    /// The receive side for the peer's current epoch.
    recv: Option<RecvStream>,
    /// The epoch of the peer's latest packet.
    peer_epoch: Option<u64>,
    /// When we last sealed something for it (a keepalive goes when idle this long).
    last_sent: Instant,
}

impl Peer {
    fn new(addr: SocketAddr, now: Instant, epoch: u64, give_up: Duration) -> Self {
        Peer {
            name: String::new(),
            addr,
            online: false,
            last_seen: now,
            seen: VecDeque::new(),
            seen_set: HashSet::new(),
            outbox: VecDeque::new(),
            failed: VecDeque::new(),
            send: SendStream::new(epoch, give_up),
            recv: None,
            peer_epoch: None,
            last_sent: now,
        }
    }

    fn view(&self, id: NodeId) -> PeerView {
        PeerView {
            id,
            name: self.name.clone(),
            addr: self.addr,
            online: self.online,
        }
    }

    /// Records a message id; false if it was seen before.
    fn remember(&mut self, id: MsgId) -> bool {
        if !self.seen_set.insert(id) {
            return false;
        }
        self.seen.push_back(id);
        if self.seen.len() > SEEN_PER_PEER
            && let Some(old) = self.seen.pop_front()
        {
            self.seen_set.remove(&old);
        }
        true
    }

    fn deadline(&self) -> Option<Instant> {
        let recv = self.recv.as_ref();
        [
            self.send.next_deadline(),
            recv.and_then(RecvStream::ack_deadline),
            recv.and_then(RecvStream::next_expiry),
        ]
        .into_iter()
        .flatten()
        .min()
    }
}

pub struct Endpoint {
    cfg: EndpointConfig,
    secure: Secure,
    /// What the user decided about keys, and what the application was told.
    trust: TrustBook,
    rng: Rng,
    /// Chosen at start: tells peers that this is a new life with fresh numbering.
    epoch: u64,
    peers: HashMap<NodeId, Peer>,
    /// Beacons, manual peers, candidates.
    discovery: Discovery,
    /// No amplification, no plain text by surprise.
    guard: Guard,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
    stats: Stats,
    /// Sum of every peer's receive buffer.
    buffered_total: usize,
    /// Messages sent so far (gives each its place in the typing order).
    typed: u64,
    /// The typing order of my unsettled messages, to resend them in that order.
    order_of: HashMap<MsgId, u64>,
    /// When the endpoint was made.
    start: Instant,
    closed: bool,
}

impl Endpoint {
    pub fn new(cfg: EndpointConfig, now: Instant, seed: u64) -> Self {
        let discovery = Discovery::new(now, cfg.discovery);
        let mut rng = Rng::new(seed);
        let epoch = rng.next_u64();
        let mut secure = Secure::new(
            cfg.identity.clone(),
            &cfg.name,
            now,
            cfg.wall_clock_ms,
            rng.next_u64(),
        );
        secure.restore_handshake_times(&cfg.handshake_times);
        for k in &cfg.known_peers {
            match k.level {
                TrustLevel::Blocked => secure.block(k.id),
                _ => secure.pin(k.id),
            }
        }
        let trust = TrustBook::new(&cfg.known_peers);
        Self {
            cfg,
            secure,
            trust,
            rng,
            epoch,
            peers: HashMap::new(),
            discovery,
            guard: Guard::default(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            stats: Stats::default(),
            buffered_total: 0,
            typed: 0,
            order_of: HashMap::new(),
            start: now,
            closed: false,
        }
    }

    /// Bytes held in receive buffers for all peers.
    pub fn buffered_bytes(&self) -> usize {
        self.buffered_total
    }

    pub fn node(&self) -> NodeId {
        self.cfg.identity.public()
    }

    pub fn name(&self) -> &str {
        &self.cfg.name
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    pub fn secure_stats(&self) -> &SecureStats {
        self.secure.stats()
    }

    /// Every key met, for `known_peers`.
    pub fn known_peers(&self) -> Vec<KnownPeer> {
        self.trust.known_peers()
    }

    /// The `known_peers` lines that changed since the last call (to append to the file).
    pub fn take_known_changes(&mut self) -> Vec<KnownPeer> {
        self.trust.take_changes()
    }

    /// The latest IK timestamp of each key, when it changed since the last call: to keep
    /// for the next run ([`EndpointConfig::handshake_times`]), so that an initiation
    /// captured now is refused after a restart too.
    pub fn take_handshake_times(&mut self) -> Option<Vec<(NodeId, u64)>> {
        self.secure
            .take_times_changed()
            .then(|| self.secure.handshake_times())
    }

    /// The user names `addr` as a plain-text peer: text to it goes in the clear even if a
    /// lanchat key answered there.
    pub fn allow_plain(&mut self, addr: SocketAddr) {
        self.guard.allow_plain(addr);
    }

    /// The lanchat peer at `addr`, if a lanchat key is known or answers there: `Some(None)`
    /// when a handshake came from there, or the user added it as a lanchat peer, but no key
    /// is confirmed at it.
    pub fn lanchat_at(&self, addr: SocketAddr) -> Option<Option<NodeId>> {
        let mut at: Vec<NodeId> = self
            .peers
            .iter()
            .filter(|(_, p)| p.addr == addr)
            .map(|(id, _)| *id)
            .collect();
        at.sort();
        if let Some(id) = at.first() {
            return Some(Some(*id));
        }
        let named = self.discovery.is_manual(&addr);
        (named || self.guard.is_lanchat(&addr)).then_some(None)
    }

    /// Where `peer` stands now (None for a key never proven).
    pub fn trust(&self, peer: &NodeId) -> Option<Trust> {
        self.trust.trust(peer)
    }

    /// What a sealed datagram for this endpoint carries (an encoded packet), without taking
    /// it in. For tests and diagnostics; `None` for anything else.
    pub fn peek(&self, datagram: &[u8]) -> Option<Vec<u8>> {
        self.secure.peek(&Frame::decode(datagram).ok()?)
    }

    /// Is there an authenticated session with `peer` right now?
    pub fn is_secured(&self, now: Instant, peer: &NodeId) -> bool {
        self.secure.has_session(now, peer)
    }

    /// The user accepts `peer`'s key: after an identity change it takes the place of the
    /// key it replaced (which is forgotten, as SSH forgets a replaced host key).
    pub fn trust_peer(&mut self, now: Instant, peer: NodeId) {
        let met = self.peers.get(&peer).map(|p| p.view(peer));
        let told = self.trust.accept(peer, met);
        self.secure.unblock(&peer);
        self.secure.pin(peer);
        self.events.extend(told);
        if let Some(p) = self.peers.get(&peer) {
            let addr = p.addr;
            self.secure.connect(now, peer, addr);
        }
        self.pump(now, peer);
    }

    /// The user refuses `peer`'s key: nothing more is sent to it or taken from it.
    pub fn block_peer(&mut self, peer: NodeId) {
        let met = self.peers.get(&peer).map(|p| p.view(peer));
        let told = self.trust.block(peer, met);
        self.secure.block(peer);
        self.events.extend(told);
    }

    /// The user compared the verification code with `peer` and it matched.
    pub fn verify_peer(&mut self, peer: NodeId) {
        let told = self.trust.verify(peer);
        self.events.extend(told);
    }

    /// A handshake proved `peer`'s key from `addr`, under `name`, and that `addr` receives.
    fn on_established(&mut self, now: Instant, peer: NodeId, addr: SocketAddr, name: &str) {
        let name = clip_name(name);
        self.discovery.proven(&peer);
        let secure = &self.secure;
        self.trust
            .on_established(peer, addr.ip(), &name, |k| secure.has_session(now, k));
        self.touch(now, peer, addr, Some(&name));
        let told = self.trust.tell(peer);
        self.events.extend(told);
        self.pump(now, peer);
    }

    pub fn peers(&self) -> impl Iterator<Item = PeerView> + '_ {
        self.peers.iter().map(|(id, p)| p.view(*id))
    }

    pub fn peer(&self, id: &NodeId) -> Option<PeerView> {
        self.peers.get(id).map(|p| p.view(*id))
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        loop {
            let t = match self.transmits.pop_front() {
                Some(t) => t,
                None => {
                    let (addr, payload) = self.secure.poll_transmit()?;
                    Transmit {
                        dst: Destination::Unicast(addr),
                        payload,
                    }
                }
            };
            if self.may_send(&t) {
                self.stats.datagrams_out += 1;
                return Some(t);
            }
            self.stats.unproven_dropped += 1;
        }
    }

    /// No amplification: a lanchat datagram to an address that has not proven it receives
    /// (and that the user did not name) is paid for by what its IP sent us.
    fn may_send(&mut self, t: &Transmit) -> bool {
        let Destination::Unicast(addr) = t.dst else {
            return true;
        };
        let named = self.discovery.is_manual(&addr);
        self.guard.may_send(addr, &t.payload, named)
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The earliest time at which [`handle_timeout`](Self::handle_timeout) has work to do.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.closed {
            return None;
        }
        let beacons = self.discovery.next_deadline();
        let timeout = self.cfg.peer_timeout;
        let keepalive = self.cfg.beacon_interval;
        let peers = self.peers.values().flat_map(|p| {
            let expiry = p.online.then(|| p.last_seen + timeout);
            let ping = p.online.then(|| p.last_sent + keepalive);
            expiry.into_iter().chain(ping).chain(p.deadline())
        });
        beacons
            .into_iter()
            .chain(peers)
            .chain(self.secure.poll_timeout())
            .min()
    }

    /// Probe a peer at an address that discovery may not reach. It is asked for a beacon now,
    /// after 1 and 3 seconds, then every beacon interval, so it is found whenever it starts.
    pub fn add_peer(&mut self, now: Instant, addr: SocketAddr) {
        if self.discovery.add_manual(now, addr) {
            self.handle_timeout(now);
        }
    }

    /// Sends a message typed by the user, with the id it was given when typed. Sending the
    /// same id again (a resend) is fine: the receiver shows it once.
    pub fn send_message(
        &mut self,
        now: Instant,
        to: ConversationId,
        id: MsgId,
        sent_at_ms: i64,
        text: &str,
    ) -> Result<(), SendError> {
        self.send_body(now, to, id, sent_at_ms, &Body::Text(text.to_owned()))
    }

    /// [`send_message`](Self::send_message) for any chat body: text, a reply, a recall.
    /// A plain-text peer takes text only.
    pub fn send_body(
        &mut self,
        now: Instant,
        to: ConversationId,
        id: MsgId,
        sent_at_ms: i64,
        body: &Body,
    ) -> Result<(), SendError> {
        if matches!(body, Body::Text(t) if t.is_empty()) {
            return Err(SendError::Empty);
        }
        let bytes = body.encode()?;
        let content = body.content();
        match to {
            ConversationId::Raw(addr) => {
                let Body::Text(text) = body else {
                    return Err(SendError::PlainText);
                };
                if !self.guard.plain_allowed(&addr)
                    && let Some(peer) = self.lanchat_at(addr)
                {
                    return Err(SendError::LanchatAddress(peer));
                }
                for payload in rawtext::encode(text) {
                    self.push(Destination::Unicast(addr), payload);
                }
                self.events.push_back(Event::State {
                    id,
                    state: DeliveryState::Sent,
                });
                Ok(())
            }
            ConversationId::Peer(node) => {
                let peer = self.peers.get_mut(&node).ok_or(SendError::UnknownPeer)?;
                peer.failed.retain(|w| w.id != id);
                self.typed += 1;
                let order = *self.order_of.entry(id).or_insert(self.typed);
                let peer = self.peers.get_mut(&node).ok_or(SendError::UnknownPeer)?;
                let waiting = Waiting {
                    order,
                    id,
                    content,
                    sent_at_ms,
                    bytes,
                };
                if peer.online {
                    peer.send.push(id, content, sent_at_ms, &waiting.bytes);
                    self.events.push_back(Event::State {
                        id,
                        state: DeliveryState::Sending,
                    });
                    self.pump(now, node);
                } else {
                    if peer.outbox.len() >= MAX_OUTBOX_PER_PEER {
                        return Err(SendError::OutboxFull);
                    }
                    peer.outbox.push_back(waiting);
                    self.events.push_back(Event::State {
                        id,
                        state: DeliveryState::Queued,
                    });
                }
                Ok(())
            }
        }
    }

    /// With durable acks: the store could not keep message `id` from `peer`. It is never
    /// acknowledged; the sender gives up on it and resends later, and then it is offered to
    /// the store again.
    pub fn store_failed(&mut self, peer: NodeId, id: MsgId) {
        if let Some(p) = self.peers.get_mut(&peer) {
            p.seen_set.remove(&id);
            if let Some(recv) = p.recv.as_mut() {
                recv.refuse(id);
            }
        }
    }

    /// Turns durable acks on or off (see [`EndpointConfig::durable_acks`]); affects streams
    /// from peers met from now on.
    pub fn set_durable_acks(&mut self, on: bool) {
        self.cfg.durable_acks = on;
    }

    /// Adds a peer known from an earlier run, offline until heard from, so that messages
    /// to it can wait in its outbox.
    pub fn remember_peer(&mut self, id: NodeId, name: &str, addr: SocketAddr) {
        if id == self.cfg.identity.public() || self.peers.contains_key(&id) || !self.make_room() {
            return;
        }
        let mut peer = Peer::new(addr, self.start, self.epoch, self.cfg.give_up);
        peer.name = clip_name(name);
        self.peers.insert(id, peer);
        // Where the key was proven last time: our own handshakes to it (for its outbox) are
        // not answers to anything, so they need no credit.
        self.guard.prove(addr);
    }

    /// With [`EndpointConfig::durable_acks`]: messages `ids` from `peer` (handed up as
    /// [`Event::Message`]) is safely stored, so it may be acknowledged now.
    pub fn confirm_stored(&mut self, now: Instant, peer: NodeId, ids: &[MsgId]) {
        if let Some(recv) = self.peers.get_mut(&peer).and_then(|p| p.recv.as_mut()) {
            for id in ids {
                recv.confirm(now, *id);
            }
            // One ack for the whole batch.
            self.pump(now, peer);
        }
    }

    /// Tells a peer that these messages of theirs were seen (if read receipts are on).
    pub fn mark_read(&mut self, now: Instant, to: NodeId, ids: &[MsgId]) {
        if !self.cfg.read_receipts || ids.is_empty() {
            return;
        }
        let Some(peer) = self.peers.get_mut(&to).filter(|p| p.online) else {
            return;
        };
        for chunk in ids.chunks(wire::MAX_MESSAGE_BYTES / 8) {
            let bytes: Vec<u8> = chunk.iter().flat_map(|id| id.0.to_be_bytes()).collect();
            let id = MsgId(self.rng.nonzero_u64());
            peer.send.push(id, Content::Read, 0, &bytes);
        }
        self.pump(now, to);
    }

    /// Says goodbye, sealed, to every online peer we hold a session with (a goodbye in the
    /// clear would prove nothing, and is ignored). After this the endpoint sets no more
    /// deadlines.
    pub fn shutdown(&mut self, now: Instant) {
        if self.closed {
            return;
        }
        self.closed = true;
        let Ok(bye) = (Frame::Goodbye {
            node: self.cfg.identity.public(),
        })
        .encode() else {
            return;
        };
        let mut online: Vec<(NodeId, SocketAddr)> = self
            .peers
            .iter()
            .filter(|(id, p)| p.online && self.secure.has_session(now, id))
            .map(|(id, p)| (*id, p.addr))
            .collect();
        online.sort();
        for (id, addr) in online {
            self.secure.seal(now, id, addr, bye.clone());
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if self.closed {
            return;
        }
        self.secure.handle_timeout(now);
        let interval = self.cfg.beacon_interval;
        for due in self.discovery.due(now, interval, &mut self.rng) {
            let beacon = self.beacon(due.want_reply, &due.dst);
            self.push(due.dst, beacon);
        }

        // Idle online peers get a keepalive: presence is only what authenticated traffic
        // says.
        let keepalive = self.cfg.beacon_interval;
        let mut idle: Vec<(NodeId, SocketAddr)> = self
            .peers
            .iter()
            .filter(|(_, p)| p.online && now.saturating_duration_since(p.last_sent) >= keepalive)
            .map(|(id, p)| (*id, p.addr))
            .collect();
        idle.sort();
        for (id, addr) in idle {
            if let Some(p) = self.peers.get_mut(&id) {
                p.last_sent = now;
            }
            if !self.trust.is_held(&id) {
                self.secure.seal(now, id, addr, Vec::new());
            }
        }

        let mut ids: Vec<NodeId> = self
            .peers
            .iter()
            .filter(|(_, p)| p.deadline().is_some_and(|d| d <= now))
            .map(|(id, _)| *id)
            .collect();
        ids.sort();
        for id in ids {
            let Some(peer) = self.peers.get_mut(&id) else {
                continue;
            };
            let outcomes = peer.send.on_timeout(now);
            if peer.send.timeouts_in_a_row() >= 2 {
                // Resent twice without an answer: maybe the peer restarted and lost our
                // session.
                self.secure.suspect(now, id);
            }
            if let Some(recv) = peer.recv.as_mut() {
                let before = recv.buffered_bytes();
                recv.expire(now);
                self.buffered_total -= before - recv.buffered_bytes();
            }
            self.settle(id, outcomes);
            self.pump(now, id);
        }

        let timeout = self.cfg.peer_timeout;
        let mut gone: Vec<NodeId> = self
            .peers
            .iter()
            .filter(|(_, p)| p.online && now.duration_since(p.last_seen) >= timeout)
            .map(|(id, _)| *id)
            .collect();
        gone.sort();
        for id in gone {
            self.set_offline(id, PeerDownReason::Timeout);
        }
    }

    /// Turns send outcomes into events; failed text messages wait for the peer's return.
    fn settle(&mut self, id: NodeId, outcomes: Vec<SendOutcome>) {
        for outcome in outcomes {
            match outcome {
                SendOutcome::Delivered(msg, content) if content.is_chat() => {
                    self.order_of.remove(&msg);
                    self.events.push_back(Event::State {
                        id: msg,
                        state: DeliveryState::Delivered,
                    });
                }
                SendOutcome::Failed(msg, content, sent_at_ms, bytes) if content.is_chat() => {
                    if let Some(peer) = self.peers.get_mut(&id)
                        && peer.failed.len() < MAX_OUTBOX_PER_PEER
                    {
                        peer.failed.push_back(Waiting {
                            order: self.order_of.get(&msg).copied().unwrap_or(u64::MAX),
                            id: msg,
                            content,
                            sent_at_ms,
                            bytes,
                        });
                    }
                    self.events.push_back(Event::State {
                        id: msg,
                        state: DeliveryState::Failed,
                    });
                }
                // Read receipts are best effort: nobody waits on them.
                SendOutcome::Delivered(..) | SendOutcome::Failed(..) => {}
            }
        }
    }

    /// Sends what peer `id`'s streams have ready: data while the window allows (carrying
    /// any owed ack), else an ack on its own once it is due.
    fn pump(&mut self, now: Instant, id: NodeId) {
        let from = self.cfg.identity.public();
        let epoch = self.epoch;
        if self.trust.is_held(&id) {
            return; // nothing goes to a changed identity until the user decides
        }
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        let addr = peer.addr;
        let mut out = Vec::new();
        let retransmitted_before = peer.send.retransmissions;
        while let Some(data) = peer.send.poll_data(now) {
            let room = wire::MAX_PLAINTEXT
                - wire::PACKET_OVERHEAD
                - wire::DATA_OVERHEAD
                - data.payload.len();
            let max_ranges = room.saturating_sub(wire::ack_size(0)) / 16;
            let ack = match peer.recv.as_mut() {
                Some(recv) if recv.owes_ack() && max_ranges > 0 => recv.take_ack(now, max_ranges),
                _ => None,
            };
            out.push(wire::Packet {
                from,
                epoch,
                ack,
                data: Some(data),
            });
        }
        if let Some(recv) = peer.recv.as_mut()
            && recv.ack_deadline().is_some_and(|d| d <= now)
            && let Some(ack) = recv.take_ack(now, wire::MAX_ACK_RANGES)
        {
            out.push(wire::Packet {
                from,
                epoch,
                ack: Some(ack),
                data: None,
            });
        }
        self.stats.retransmits += peer.send.retransmissions - retransmitted_before;
        if !out.is_empty() {
            peer.last_sent = now;
        }
        for packet in out {
            match Frame::Packet(packet).encode() {
                #[cfg(feature = "bench-plaintext")]
                Ok(bytes) if self.cfg.plaintext_for_benchmarks => {
                    self.push(Destination::Unicast(addr), bytes);
                }
                Ok(bytes) => self.secure.seal(now, id, addr, bytes),
                Err(e) => tracing::error!(%e, "could not encode a packet"),
            }
        }
    }

    pub fn handle_datagram(&mut self, now: Instant, src: SocketAddr, data: &[u8]) {
        if self.closed {
            return;
        }
        self.stats.datagrams_in += 1;
        self.guard.earn_credit(src.ip(), data.len());
        if !wire::is_native(data) {
            match rawtext::decode(data) {
                Some(text) => {
                    self.stats.text_in += 1;
                    let id = MsgId(self.rng.nonzero_u64());
                    self.events.push_back(Event::Message {
                        conversation: ConversationId::Raw(src),
                        id,
                        sent_at_ms: None,
                        text,
                        quote: None,
                    });
                }
                None => self.stats.malformed += 1,
            }
            return;
        }
        let frame = match Frame::decode(data) {
            Ok(frame) => frame,
            Err(err) => {
                tracing::debug!(%src, %err, "dropping malformed datagram");
                self.stats.malformed += 1;
                return;
            }
        };
        self.stats.native_in += 1;
        match frame {
            Frame::Beacon(b) => self.on_beacon(now, src, b),
            Frame::Goodbye { .. } => {
                // Anyone can send this in anyone's name: only a sealed goodbye counts.
                self.stats.clear_goodbyes += 1;
                self.stats.unauthenticated += 1;
            }
            #[cfg(feature = "bench-plaintext")]
            Frame::Packet(p) if self.cfg.plaintext_for_benchmarks => {
                self.guard.prove(src);
                self.on_packet(now, src, p)
            }
            Frame::Packet(_) => {
                // Packets travel sealed; one in the clear proves nothing about its sender.
                self.stats.unauthenticated += 1;
            }
            other => {
                if matches!(
                    other,
                    Frame::HandshakeInit { .. }
                        | Frame::HandshakeReply { .. }
                        | Frame::HandshakeFinal { .. }
                ) {
                    self.guard.saw_handshake(src);
                }
                if let Some(opened) = self.secure.open(now, src, other) {
                    self.on_opened(now, opened);
                }
            }
        }
    }

    /// Authenticated news from a key: a proven handshake, a sealed frame, or a keepalive.
    fn on_opened(&mut self, now: Instant, o: Opened) {
        let Opened {
            peer,
            addr,
            established,
            plaintext,
        } = o;
        self.guard.on_authenticated(addr);
        if let Some(name) = established {
            self.on_established(now, peer, addr, &name);
        }
        if self.trust.is_held(&peer) {
            if !plaintext.is_empty() {
                self.stats.held += 1;
            }
            return;
        }
        if plaintext.is_empty() {
            // A keepalive or a handshake's confirmation: the peer is there, and there.
            if self.peers.contains_key(&peer) {
                self.touch(now, peer, addr, None);
            }
            return;
        }
        match Frame::decode(&plaintext) {
            Ok(Frame::Packet(p)) if p.from == peer => self.on_packet(now, addr, p),
            Ok(Frame::Goodbye { node }) if node == peer => {
                if self.peers.get(&peer).is_some_and(|p| p.online) {
                    self.set_offline(peer, PeerDownReason::Goodbye);
                }
            }
            _ => self.stats.unauthenticated += 1,
        }
    }

    fn on_packet(&mut self, now: Instant, src: SocketAddr, p: wire::Packet) {
        if p.from == self.cfg.identity.public() {
            return;
        }
        self.touch(now, p.from, src, None);
        let read_receipts = self.cfg.read_receipts;
        let Some(peer) = self.peers.get_mut(&p.from) else {
            return; // the peer table is full of online peers; not acknowledged
        };
        // A new epoch: the peer restarted and forgot what it had not stored. Whatever it
        // acknowledged of unsettled messages goes again, before this packet's ack counts.
        if peer.peer_epoch.is_some_and(|e| e != p.epoch) {
            peer.send.peer_restarted();
        }
        peer.peer_epoch = Some(p.epoch);
        let mut outcomes = Vec::new();
        if let Some(ack) = &p.ack {
            outcomes = peer.send.on_ack(now, ack);
        }
        let mut received = Vec::new();
        if let Some(data) = p.data {
            if peer.recv.as_ref().is_none_or(|r| r.epoch() != p.epoch) {
                // First contact, or the peer restarted: its numbering starts afresh.
                let fresh = RecvStream::with_durable_acks(p.epoch, self.cfg.durable_acks);
                let old = peer.recv.replace(fresh);
                self.buffered_total -= old.map_or(0, |r| r.buffered_bytes());
            }
            if let Some(recv) = peer.recv.as_mut() {
                let before = recv.buffered_bytes();
                let budget = MAX_BUFFERED_TOTAL.saturating_sub(self.buffered_total - before);
                let result = recv.on_data_within(now, data, budget);
                self.buffered_total = self.buffered_total - before + recv.buffered_bytes();
                match result {
                    Ok(messages) => received = messages,
                    Err(refused) => {
                        tracing::debug!(?refused, "data packet refused");
                        self.stats.refused += 1;
                    }
                }
            }
        }
        // A packet proves the path works: messages that failed earlier go again.
        let retry: Vec<Waiting> = peer.failed.drain(..).collect();
        for w in &retry {
            peer.send.push(w.id, w.content, w.sent_at_ms, &w.bytes);
        }
        for r in received {
            // Only chat goes up to be stored; the rest is settled here.
            let copy = peer.seen_set.contains(&r.id);
            let goes_up = r.content.is_chat() && !copy;
            if let Some(recv) = peer.recv.as_mut() {
                if copy {
                    recv.settle_copy(now, r.id, r.msn);
                } else if !goes_up {
                    recv.confirm(now, r.id);
                }
            }
            if !peer.remember(r.id) {
                self.stats.duplicates += 1;
                continue;
            }
            match r.content {
                content if content.is_chat() => match Body::decode(content, &r.bytes) {
                    Ok(body) => self
                        .events
                        .push_back(chat_event(p.from, r.id, r.sent_at_ms, body)),
                    Err(_) => {
                        self.stats.malformed += 1;
                        if let Some(recv) = peer.recv.as_mut() {
                            recv.confirm(now, r.id);
                        }
                    }
                },
                Content::Read if read_receipts => {
                    for chunk in r.bytes.chunks_exact(8) {
                        let mut b = [0u8; 8];
                        b.copy_from_slice(chunk);
                        self.events.push_back(Event::State {
                            id: MsgId(u64::from_be_bytes(b)),
                            state: DeliveryState::Read,
                        });
                    }
                }
                _ => {}
            }
        }
        for w in retry {
            self.events.push_back(Event::State {
                id: w.id,
                state: DeliveryState::Sending,
            });
        }
        self.settle(p.from, outcomes);
        self.pump(now, p.from);
    }

    /// A beacon is a hint, never news: it names a key and where it might be (see
    /// `discovery` for what it leads to). From a key we have no session with, it starts one
    /// handshake toward that address (which proves the key, and where it receives, or
    /// fails). Either costs at most the beacon's own size (see [`may_send`](Self::may_send)).
    fn on_beacon(&mut self, now: Instant, src: SocketAddr, b: Beacon) {
        if b.node == self.cfg.identity.public() {
            return; // our own beacon, looped back
        }
        self.stats.beacons += 1;
        let standing = if self.trust.is_refused(&b.node) {
            Standing::Refused
        } else if self.secure.is_linked(now, &b.node) {
            Standing::Linked
        } else if self.peers.contains_key(&b.node) {
            Standing::Peer
        } else {
            Standing::Stranger
        };
        match self.discovery.on_beacon(now, src, &b, standing) {
            BeaconAction::Nothing => {}
            BeaconAction::Reply(addr) => {
                let dst = Destination::Unicast(addr);
                let beacon = self.beacon(false, &dst);
                self.push(dst, beacon);
            }
            BeaconAction::Connect { hint, evicted } => {
                if let Some(old) = evicted {
                    self.secure.forget(&old);
                }
                let waiting = self
                    .peers
                    .get(&b.node)
                    .is_some_and(|p| !p.outbox.is_empty() || !p.failed.is_empty());
                if waiting {
                    // Messages wait for it: keep trying while it is likely there.
                    let until = now + self.cfg.peer_timeout;
                    self.secure.connect_until(now, b.node, hint, until);
                } else {
                    self.secure.connect(now, b.node, hint);
                }
            }
        }
    }

    /// Notes that `node` is alive at `addr`, as authenticated traffic just showed. Returns
    /// true when it just came online.
    fn touch(&mut self, now: Instant, node: NodeId, addr: SocketAddr, name: Option<&str>) -> bool {
        if !self.peers.contains_key(&node) && !self.make_room() {
            return false;
        }
        let epoch = self.epoch;
        let give_up = self.cfg.give_up;
        let peer = self
            .peers
            .entry(node)
            .or_insert_with(|| Peer::new(addr, now, epoch, give_up));
        peer.last_seen = now;
        let mut changed = false;
        if let Some(name) = name
            && peer.name != name
        {
            peer.name = name.to_owned();
            changed = true;
        }
        if peer.name.is_empty() {
            peer.name = node.short();
            changed = true;
        }
        if peer.addr != addr {
            // Roaming: the key proved itself from here.
            peer.addr = addr;
            changed = true;
        }
        if !peer.online {
            peer.online = true;
            let view = peer.view(node);
            // Queued and failed messages go out in the order they were typed.
            let mut waiting: Vec<Waiting> =
                peer.outbox.drain(..).chain(peer.failed.drain(..)).collect();
            waiting.sort_by_key(|w| w.order);
            for w in &waiting {
                peer.send.push(w.id, w.content, w.sent_at_ms, &w.bytes);
            }
            self.events.push_back(Event::PeerUp(view));
            for w in waiting {
                self.events.push_back(Event::State {
                    id: w.id,
                    state: DeliveryState::Sending,
                });
            }
            self.pump(now, node);
            return true;
        }
        if changed {
            let view = peer.view(node);
            self.events.push_back(Event::PeerUpdated(view));
        }
        false
    }

    /// Frees a slot in the peer table if it is full, forgetting the offline peer heard from
    /// longest ago. False if every peer is online (the newcomer is then ignored).
    fn make_room(&mut self) -> bool {
        if self.peers.len() < self.cfg.max_peers {
            return true;
        }
        let victim = self
            .peers
            .iter()
            .filter(|(_, p)| !p.online && p.outbox.is_empty() && p.failed.is_empty())
            .min_by_key(|(_, p)| p.last_seen)
            .map(|(id, _)| *id);
        match victim {
            Some(id) => {
                if let Some(gone) = self.peers.remove(&id) {
                    self.buffered_total -= gone.recv.map_or(0, |r| r.buffered_bytes());
                }
                true
            }
            None => false,
        }
    }

    /// Marks a peer offline. What was on its way to it goes back to the outbox (queued), to
    /// be sent when it returns.
    fn set_offline(&mut self, node: NodeId, reason: PeerDownReason) {
        // Whoever comes back under this key will shake hands anew.
        self.secure.forget(&node);
        let Some(peer) = self.peers.get_mut(&node) else {
            return;
        };
        peer.online = false;
        let view = peer.view(node);
        let back = peer.send.drain_unsettled();
        let mut queued = Vec::new();
        for (id, content, sent_at_ms, bytes) in back {
            if content.is_chat() && peer.outbox.len() < MAX_OUTBOX_PER_PEER {
                queued.push(id);
                peer.outbox.push_back(Waiting {
                    order: self.order_of.get(&id).copied().unwrap_or(u64::MAX),
                    id,
                    content,
                    sent_at_ms,
                    bytes,
                });
            }
        }
        self.events
            .push_back(Event::PeerDown { peer: view, reason });
        for id in queued {
            self.events.push_back(Event::State {
                id,
                state: DeliveryState::Queued,
            });
        }
    }

    /// Our beacon to `dst`: one to a single address leaves from the unicast socket.
    fn beacon(&self, want_reply: bool, dst: &Destination) -> Vec<u8> {
        Frame::Beacon(Beacon {
            node: self.cfg.identity.public(),
            port: self.cfg.port,
            want_reply,
            unicast: matches!(dst, Destination::Unicast(_)),
            name: self.cfg.name.clone(),
        })
        .encode()
        .unwrap_or_default()
    }

    fn push(&mut self, dst: Destination, payload: Vec<u8>) {
        if payload.is_empty() {
            return;
        }
        self.stats.datagrams_out += 1;
        self.transmits.push_back(Transmit { dst, payload });
    }
}

/// The event for a chat message from a peer.
fn chat_event(from: NodeId, id: MsgId, sent_at_ms: i64, body: Body) -> Event {
    let conversation = ConversationId::Peer(from);
    match body {
        Body::Text(text) => Event::Message {
            conversation,
            id,
            sent_at_ms: Some(sent_at_ms),
            text,
            quote: None,
        },
        Body::Reply { quote, text } => Event::Message {
            conversation,
            id,
            sent_at_ms: Some(sent_at_ms),
            text,
            quote: Some(quote),
        },
        Body::Recall(target) => Event::Recall {
            from,
            id,
            target,
            sent_at_ms,
        },
    }
}
