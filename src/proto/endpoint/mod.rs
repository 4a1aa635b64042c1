//! The sans-IO node: it takes datagrams, timeouts and the user's requests, routes each to
//! the part it concerns, and carries out what the parts decide.
//!
//! Who a peer is, where it is and whether it is there come only from authenticated traffic
//! (see `secure` for when a handshake counts as proven). Each rule lives with the part that
//! keeps the state it is about, and that part's doc states it:
//! - `peers`: the peer table (only authenticated traffic makes, moves or wakes a peer; a
//!   name comes from a proven handshake, an address from the latest authenticated
//!   datagram; online until `peer_timeout` of silence or a sealed goodbye; bounded) and
//!   per-peer delivery (queued, sending, failed and resent in typing order; each message
//!   handed up once; reassembly memory bounded for all peers together, [`MAX_BUFFERED_TOTAL`]);
//! - `discovery`: a beacon is a hint, never news: it starts at most one one-shot probe (a
//!   handshake) toward the address it names, or earns at most one beacon in reply; a peer
//!   with messages waiting is, besides, retried at its last proven address. Keys probed because of
//!   beacons are candidates, bounded and kept apart from the peer table, so they can never
//!   crowd out a peer;
//! - `trust`: what the user decided about keys (known, verified, blocked), new keys held
//!   after an identity change, and what the application was told;
//! - `guard`: no amplification (an address that has not proven it receives gets no more
//!   than its IP sent; the rest is dropped and counted, [`Stats::unproven_dropped`]) and no
//!   plain text by surprise ([`Endpoint::allow_plain`]).
//!
//! The endpoint keeps the rules that are about routing:
//! - A datagram in the clear is plain text from an address (a `Raw` conversation), a beacon
//!   (for `discovery`), or dropped and counted: a packet or a goodbye in the clear proves
//!   nothing about its sender ([`Stats::unauthenticated`]). A sealed frame counts only if it
//!   names its session's key.
//! - A key held by an identity change is sealed nothing but handshakes (no data, acks or
//!   keepalives), nothing it seals is taken ([`Stats::held`]), and its beacons lead nowhere.
//! - Every datagram, `secure`'s included, leaves through [`Endpoint::poll_transmit`], which
//!   asks the guard first.
//! - Group frames travel best effort on the per-peer streams (`wire` content 8) and go
//!   to [`Groups`] with the key of the session they came in, which is all a group frame's
//!   sender needs to prove: the entries inside are signed by their authors. The groups
//!   learn who is online from the peer table, and their frames go only to online peers.
//! - Parts never call each other. The endpoint asks one and tells another: for a beacon it
//!   asks `trust` whether the key is refused, `secure` whether it has a session and `peers`
//!   whether it is a peer, lets `discovery` decide, and carries the decision out.

mod discovery;
mod guard;
mod ipm;
mod peers;
mod trust;
mod types;

use super::group::Groups;
use super::ipmsg;
use super::rawtext;
use super::secure::{Opened, Secure, SecureStats};
use super::wire::{self, Beacon, Body, Frame};
use super::{ConversationId, MsgId, NodeId};
use crate::rng::Rng;
use discovery::{BeaconAction, Discovery, Standing};
use guard::Guard;
use ipm::Ipm;
use peers::{Peers, Settings};
use std::collections::{HashSet, VecDeque};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Instant;
use trust::TrustBook;
use types::clip_name;

pub use ipm::{IpmsgConfig, IpmsgStats};
pub use peers::MAX_BUFFERED_TOTAL;
pub use trust::{KnownPeer, Trust, TrustLevel};
pub use types::{
    DeliveryState, Destination, EndpointConfig, Event, IpmsgClient, IpmsgFile, IpmsgPeerView,
    PeerDownReason, PeerView, SendError, Stats, Transmit,
};

/// Plain-text addresses remembered as writing GBK (they get GBK back), at most; the set
/// starts afresh when full.
const MAX_GBK_PLAIN: usize = 1024;

pub struct Endpoint {
    cfg: EndpointConfig,
    /// Sessions: handshakes, sealing and opening.
    secure: Secure,
    /// What the user decided about keys, and what the application was told.
    trust: TrustBook,
    /// Beacons, manual peers, candidates.
    discovery: Discovery,
    /// No amplification, no plain text by surprise.
    guard: Guard,
    /// The peer table and per-peer delivery.
    peers: Peers,
    /// This node's groups and their sync (`proto::group`).
    groups: Groups,
    /// IP Messenger, iptux and FeiQ peers, when on.
    ipm: Option<Ipm>,
    /// Plain-text addresses whose last text was GBK: they get GBK back.
    plain_gbk: HashSet<SocketAddr>,
    rng: Rng,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
    stats: Stats,
    /// When the endpoint was made.
    start: Instant,
    closed: bool,
}

impl Endpoint {
    pub fn new(cfg: EndpointConfig, now: Instant, seed: u64) -> Self {
        let discovery = Discovery::new(now, cfg.discovery);
        let mut rng = Rng::new(seed);
        // Chosen at start: tells peers that this is a new life with fresh numbering.
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
        let groups = Groups::new(&cfg.identity, cfg.groups.clone(), seed ^ 0x4752_4f55_5053);
        let peers = Peers::new(Settings {
            me: cfg.identity.public(),
            epoch,
            give_up: cfg.give_up,
            max_peers: cfg.max_peers,
            durable_acks: cfg.durable_acks,
            read_receipts: cfg.read_receipts,
        });
        let ipm = cfg.ipmsg.clone().map(|c| Ipm::new(c, now));
        Self {
            cfg,
            secure,
            trust,
            discovery,
            guard: Guard::default(),
            peers,
            groups,
            ipm,
            plain_gbk: HashSet::new(),
            rng,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            stats: Stats::default(),
            start: now,
            closed: false,
        }
    }

    /// Bytes held in receive buffers for all peers.
    pub fn buffered_bytes(&self) -> usize {
        self.peers.buffered_bytes()
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

    /// The `known_peers` lines that changed since the last call, to append to the file:
    /// each key with its entry now, or `None` for a key forgotten.
    pub fn take_known_changes(&mut self) -> Vec<(NodeId, Option<KnownPeer>)> {
        self.trust.take_changes()
    }

    /// The latest IK timestamp of each key (see [`take_handshake_times`](Self::take_handshake_times)).
    pub fn handshake_times(&self) -> Vec<(NodeId, u64)> {
        self.secure.handshake_times()
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

    /// Takes back [`allow_plain`](Self::allow_plain).
    pub fn forbid_plain(&mut self, addr: SocketAddr) {
        self.guard.forbid_plain(addr);
    }

    /// The lanchat peer at `addr`, if a lanchat key is known or answers there: `Some(None)`
    /// when a handshake came from there, or the user added it as a lanchat peer, but no key
    /// is confirmed at it.
    pub fn lanchat_at(&self, addr: SocketAddr) -> Option<Option<NodeId>> {
        if let Some(id) = self.peers.at(addr) {
            return Some(Some(id));
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
        let told = self.trust.accept(peer, self.peers.view(&peer));
        self.secure.unblock(&peer);
        self.secure.pin(peer);
        self.events.extend(told);
        if let Some(addr) = self.peers.addr(&peer) {
            self.secure.connect(now, peer, addr);
        }
        self.pump(now, peer);
    }

    /// The user refuses `peer`'s key: nothing more is sent to it or taken from it.
    pub fn block_peer(&mut self, peer: NodeId) {
        let told = self.trust.block(peer, self.peers.view(&peer));
        self.secure.block(peer);
        self.events.extend(told);
    }

    /// The user compared the verification code with `peer` and it matched.
    pub fn verify_peer(&mut self, peer: NodeId) {
        let told = self.trust.verify(peer);
        self.events.extend(told);
    }

    pub fn peers(&self) -> impl Iterator<Item = PeerView> + '_ {
        self.peers.views()
    }

    pub fn peer(&self, id: &NodeId) -> Option<PeerView> {
        self.peers.view(id)
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        if let Some((dst, payload)) = self.ipm.as_mut().and_then(Ipm::poll_transmit) {
            self.stats.datagrams_out += 1;
            return Some(Transmit { dst, payload });
        }
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
                self.stats.bytes_out += t.payload.len() as u64;
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
        let peers = self.peers.next_deadline(timeout, keepalive);
        let ipm = self.ipm.as_ref().and_then(Ipm::next_deadline);
        [
            beacons,
            peers,
            self.secure.poll_timeout(),
            self.groups.poll_timeout(),
            ipm,
        ]
        .into_iter()
        .flatten()
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
            ConversationId::Group(_) => Err(SendError::Group),
            ConversationId::Raw(addr) => {
                let Body::Text(text) = body else {
                    return Err(SendError::PlainText);
                };
                self.send_plain(addr, id, text)
            }
            ConversationId::Ipmsg(ip) => {
                // Text only; a reply goes as quoted text.
                let text = match body {
                    Body::Text(text) => text.clone(),
                    Body::Reply { quote, text } => quoted(&quote.excerpt, text),
                    _ => return Err(SendError::IpmsgText),
                };
                let ipm = self.ipm.as_mut().ok_or(SendError::IpmsgOff)?;
                ipm.send(now, ip, id, &text, &mut self.events)
            }
            ConversationId::Peer(node) => {
                let events = &mut self.events;
                if self
                    .peers
                    .send(node, id, sent_at_ms, content, bytes, events)?
                {
                    self.pump(now, node);
                }
                Ok(())
            }
        }
    }

    /// Text in the clear to `addr`: only where no lanchat key is known or answers, unless
    /// the user named the address as plain.
    fn send_plain(&mut self, addr: SocketAddr, id: MsgId, text: &str) -> Result<(), SendError> {
        if !self.guard.plain_allowed(&addr)
            && let Some(peer) = self.lanchat_at(addr)
        {
            return Err(SendError::LanchatAddress(peer));
        }
        let gbk = self.plain_gbk.contains(&addr);
        for payload in rawtext::encode_in(text, gbk) {
            self.push(Destination::Unicast(addr), payload);
        }
        self.events.push_back(Event::State {
            id,
            state: DeliveryState::Sent,
        });
        Ok(())
    }

    /// With durable acks: the store could not keep message `id` from `peer`. It is never
    /// acknowledged; the sender gives up on it and resends later, and then it is offered to
    /// the store again.
    pub fn store_failed(&mut self, peer: NodeId, id: MsgId) {
        self.peers.store_failed(peer, id);
    }

    /// Turns durable acks on or off (see [`EndpointConfig::durable_acks`]); affects streams
    /// from peers met from now on.
    pub fn set_durable_acks(&mut self, on: bool) {
        self.cfg.durable_acks = on;
        self.peers.set_durable_acks(on);
    }

    /// Adds a peer known from an earlier run, offline until heard from, so that messages
    /// to it can wait in its outbox.
    pub fn remember_peer(&mut self, id: NodeId, name: &str, addr: SocketAddr) {
        if id == self.cfg.identity.public() {
            return;
        }
        if self.peers.remember(id, clip_name(name), addr, self.start) {
            // Where the key was proven last time: our own handshakes to it (for its outbox)
            // are not answers to anything, so they need no credit.
            self.guard.prove(addr);
        }
    }

    /// With [`EndpointConfig::durable_acks`]: messages `ids` from `peer` (handed up as
    /// [`Event::Message`]) is safely stored, so it may be acknowledged now.
    pub fn confirm_stored(&mut self, now: Instant, peer: NodeId, ids: &[MsgId]) {
        if self.peers.confirm_stored(now, peer, ids) {
            // One ack for the whole batch.
            self.pump(now, peer);
        }
    }

    /// Tells a peer that these messages of theirs were seen (if read receipts are on).
    pub fn mark_read(&mut self, now: Instant, to: NodeId, ids: &[MsgId]) {
        if self.peers.mark_read(to, ids, &mut self.rng) {
            self.pump(now, to);
        }
    }

    /// Says goodbye, sealed, to every online peer we hold a session with (a goodbye in the
    /// clear would prove nothing, and is ignored). After this the endpoint sets no more
    /// deadlines.
    pub fn shutdown(&mut self, now: Instant) {
        if self.closed {
            return;
        }
        self.closed = true;
        if let Some(ipm) = self.ipm.as_mut() {
            ipm.shutdown();
        }
        let Ok(bye) = (Frame::Goodbye {
            node: self.cfg.identity.public(),
        })
        .encode() else {
            return;
        };
        let secure = &self.secure;
        let online: Vec<(NodeId, SocketAddr)> = (self.peers.online().into_iter())
            .filter(|(id, _)| secure.has_session(now, id))
            .collect();
        for (id, addr) in online {
            self.secure.seal(now, id, addr, bye.clone());
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if self.closed {
            return;
        }
        if let Some(ipm) = self.ipm.as_mut() {
            ipm.handle_timeout(now, &mut self.events);
        }
        self.secure.handle_timeout(now);
        let interval = self.cfg.beacon_interval;
        let peers = &self.peers;
        let dues = self.discovery.due(now, interval, &mut self.rng, |a| {
            peers.at(*a).is_some_and(|id| peers.is_online(&id))
        });
        for due in dues {
            let beacon = self.beacon(due.want_reply, &due.dst);
            self.push(due.dst, beacon);
        }
        // Idle online peers get a keepalive: presence is only what authenticated traffic
        // says.
        for (id, addr) in self.peers.idle(now, self.cfg.beacon_interval) {
            if !self.trust.is_held(&id) {
                self.secure.seal(now, id, addr, Vec::new());
            }
        }
        for id in self.peers.due(now) {
            if self.peers.on_timeout(now, id, &mut self.events) {
                // Resent twice without an answer: maybe the peer restarted and lost our
                // session.
                self.secure.suspect(now, id);
            }
            self.pump(now, id);
        }
        for id in self.peers.timed_out(now, self.cfg.peer_timeout) {
            self.set_offline(now, id, PeerDownReason::Timeout);
        }
        self.groups.handle_timeout(now);
        self.drive_groups(now);
    }

    /// This node's groups, to read.
    pub fn groups(&self) -> &Groups {
        &self.groups
    }

    /// Acts on this node's groups (create, send, invite…), then sends what that takes.
    pub fn group_act<R>(&mut self, now: Instant, act: impl FnOnce(&mut Groups, Instant) -> R) -> R {
        self.drive_groups(now);
        let r = act(&mut self.groups, now);
        self.drive_groups(now);
        r
    }

    /// Brings the groups up to date with the peer table, hands them the frames received,
    /// and puts what they send on the peers' streams and what they say among the events.
    fn drive_groups(&mut self, now: Instant) {
        let online: std::collections::HashSet<NodeId> = self.peers.online_ids().collect();
        self.groups.set_online(&online);
        while let Some((from, frame)) = self.peers.take_group_frame() {
            self.groups.handle_frame(now, from, &frame);
        }
        let mut touched = Vec::new();
        while let Some((to, frame)) = self.groups.poll_transmit() {
            if self.peers.send_group(to, &frame, &mut self.rng) && !touched.contains(&to) {
                touched.push(to);
            }
        }
        for to in touched {
            self.pump(now, to);
        }
        while let Some(e) = self.groups.poll_event() {
            self.events.push_back(Event::Group(e));
        }
    }

    pub fn handle_datagram(&mut self, now: Instant, src: SocketAddr, data: &[u8]) {
        if self.closed {
            return;
        }
        self.stats.datagrams_in += 1;
        self.guard.earn_credit(src.ip(), data.len());
        if !wire::is_native(data) {
            if ipmsg::is_ipmsg(data) {
                // Never plain text: the IP Messenger part takes it, or nobody.
                self.on_ipmsg(now, src, data);
            } else {
                self.on_text(src, data);
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
                    self.drive_groups(now);
                }
            }
        }
    }

    /// A datagram from the IP Messenger socket (UDP 2425). Only IP Messenger packets are
    /// taken there: neither lanchat frames nor plain text.
    pub fn handle_ipmsg(&mut self, now: Instant, src: SocketAddr, data: &[u8]) {
        if self.closed {
            return;
        }
        self.stats.datagrams_in += 1;
        self.on_ipmsg(now, src, data);
    }

    fn on_ipmsg(&mut self, now: Instant, src: SocketAddr, data: &[u8]) {
        match self.ipm.as_mut() {
            Some(ipm) => ipm.handle(now, src, data, &mut self.events),
            None => self.stats.malformed += 1,
        }
    }

    /// The IP Messenger peers known.
    pub fn ipmsg_peers(&self) -> Vec<IpmsgPeerView> {
        self.ipm
            .as_ref()
            .map(|ipm| ipm.peers().collect())
            .unwrap_or_default()
    }

    pub fn ipmsg_peer(&self, ip: Ipv4Addr) -> Option<IpmsgPeerView> {
        self.ipm.as_ref().and_then(|ipm| ipm.peer(ip))
    }

    pub fn ipmsg_stats(&self) -> Option<&IpmsgStats> {
        self.ipm.as_ref().map(Ipm::stats)
    }

    /// Whether IP Messenger is on.
    pub fn ipmsg_on(&self) -> bool {
        self.ipm.is_some()
    }

    /// Sends our IP Messenger entry to `addr` (a peer on another subnet, or a test's), now
    /// and at every refresh.
    pub fn add_ipmsg_peer(&mut self, addr: SocketAddr) {
        if let Some(ipm) = self.ipm.as_mut() {
            ipm.add_peer(addr);
        }
    }

    /// Away with this text (IP Messenger peers are told, get it as an auto-reply and when
    /// they ask), or back with `None`.
    pub fn set_away(&mut self, text: Option<String>) {
        if let Some(ipm) = self.ipm.as_mut() {
            ipm.set_away(text);
        }
    }

    /// Offers `files` to the IP Messenger peer at `ip` (see `ipm`); its PacketNo, which
    /// the peer's GETFILEDATA names, or why not.
    pub fn ipmsg_offer(
        &mut self,
        now: Instant,
        ip: Ipv4Addr,
        id: MsgId,
        files: &[ipmsg::Attachment],
    ) -> Result<u64, SendError> {
        let ipm = self.ipm.as_mut().ok_or(SendError::IpmsgOff)?;
        ipm.offer(now, ip, id, "", files, &mut self.events)
    }

    /// Tells the IP Messenger peer at `ip` we will not fetch offer `offer_no`.
    pub fn ipmsg_release(&mut self, ip: Ipv4Addr, offer_no: u64) {
        if let Some(ipm) = self.ipm.as_mut() {
            ipm.release(ip, offer_no);
        }
    }

    /// The GETFILEDATA packet (with its final NUL) that asks an IP Messenger peer for
    /// `request` over TCP; empty when IP Messenger is off.
    pub fn ipmsg_file_request(&mut self, request: &ipmsg::FileRequest) -> Vec<u8> {
        self.ipm
            .as_mut()
            .map(|ipm| ipm.file_request(request))
            .unwrap_or_default()
    }

    pub fn away(&self) -> Option<&str> {
        self.ipm.as_ref().and_then(Ipm::away)
    }

    /// A datagram that is not lanchat's: text from a plain-text peer, or nothing.
    fn on_text(&mut self, src: SocketAddr, data: &[u8]) {
        match rawtext::decode_with_charset(data) {
            Some((text, gbk)) => {
                self.stats.text_in += 1;
                if gbk {
                    if self.plain_gbk.len() >= MAX_GBK_PLAIN {
                        self.plain_gbk.clear();
                    }
                    self.plain_gbk.insert(src);
                } else {
                    self.plain_gbk.remove(&src);
                }
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
    }

    /// Authenticated news from a key: a proven handshake, a sealed frame, or a keepalive.
    fn on_opened(&mut self, now: Instant, o: Opened) {
        let Opened {
            peer,
            addr,
            established,
            plaintext,
            proven,
        } = o;
        self.guard.on_authenticated(addr, proven);
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
            if self.peers.contains(&peer) {
                self.touch(now, peer, addr, None);
            }
            return;
        }
        match Frame::decode(&plaintext) {
            Ok(Frame::Packet(p)) if p.from == peer => self.on_packet(now, addr, p),
            Ok(Frame::Goodbye { node }) if node == peer => {
                if self.peers.is_online(&peer) {
                    self.set_offline(now, peer, PeerDownReason::Goodbye);
                }
            }
            _ => self.stats.unauthenticated += 1,
        }
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

    /// An authenticated packet from `src`.
    fn on_packet(&mut self, now: Instant, src: SocketAddr, p: wire::Packet) {
        let from = p.from;
        if from == self.cfg.identity.public() {
            return;
        }
        self.touch(now, from, src, None);
        self.peers
            .on_packet(now, p, &mut self.events, &mut self.stats);
        self.pump(now, from);
    }

    /// A beacon is a hint, never news: it names a key and where it might be, and
    /// `discovery` decides what it leads to. At most one probe (a one-shot handshake)
    /// toward that address, which proves the key and where it receives, or fails; or one
    /// beacon back to a key we have a session with that asks (its sender restarted and lost
    /// the session). Either costs at most the beacon's own size (see
    /// [`may_send`](Self::may_send)). A peer with messages waiting is also retried where it
    /// was last proven, which a beacon cannot move.
    fn on_beacon(&mut self, now: Instant, src: SocketAddr, b: Beacon) {
        if b.node == self.cfg.identity.public() {
            return; // our own beacon, looped back
        }
        self.stats.beacons += 1;
        let standing = if self.trust.is_refused(&b.node) {
            Standing::Refused
        } else if self.secure.has_session(now, &b.node) {
            Standing::Linked
        } else if self.peers.contains(&b.node) {
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
                // The hint gets one probe of its own: it neither holds up nor moves the
                // link's attempts, so forged hints cannot keep a peer away.
                let known_at = self.peers.addr(&b.node);
                if known_at != Some(hint) || !self.peers.has_waiting(&b.node) {
                    self.secure.probe(now, b.node, hint);
                }
                if let Some(at) = known_at
                    && self.peers.has_waiting(&b.node)
                {
                    // Messages wait for it: keep trying where it was last proven, while it
                    // is likely there (it just announced itself).
                    let until = now + self.cfg.peer_timeout;
                    self.secure.connect_until(now, b.node, at, until);
                }
            }
        }
    }

    /// Authenticated traffic showed `node` at `addr`: the peer table notes it, and if the
    /// peer just came online, what waited for it goes out.
    fn touch(&mut self, now: Instant, node: NodeId, addr: SocketAddr, name: Option<&str>) {
        if self.peers.touch(now, node, addr, name, &mut self.events) {
            self.pump(now, node);
        }
    }

    /// Marks a peer offline; whoever comes back under its key will shake hands anew.
    /// `node` is gone. If the user added its address, that address is asked again soon (as
    /// one nobody answers at), so a restart there is found without waiting a whole beacon
    /// interval.
    fn set_offline(&mut self, now: Instant, node: NodeId, reason: PeerDownReason) {
        self.secure.forget(&node);
        if let Some(addr) = self.peers.addr(&node) {
            self.discovery.unanswered(now, addr);
        }
        self.peers.set_offline(node, reason, &mut self.events);
    }

    /// Seals what peer `id`'s streams have ready. Nothing goes to a changed identity until
    /// the user decides.
    fn pump(&mut self, now: Instant, id: NodeId) {
        if self.trust.is_held(&id) {
            return;
        }
        let Some((addr, packets)) = self.peers.packets(now, id, &mut self.stats) else {
            return;
        };
        for packet in packets {
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
        // (IP Messenger packets leave through `ipm`'s own queue.)
        if payload.is_empty() {
            return;
        }
        self.transmits.push_back(Transmit { dst, payload });
    }
}

/// A reply for a peer that knows no quotes: the quoted text's first line after `> `, then
/// the reply.
fn quoted(excerpt: &str, text: &str) -> String {
    let first = excerpt.lines().next().unwrap_or_default();
    format!("> {first}\n{text}")
}
