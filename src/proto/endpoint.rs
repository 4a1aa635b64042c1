//! The sans-IO node: discovery, peers, message delivery and plain-text peers.

use super::rawtext;
use super::wire::{self, Beacon, ChatMessage, EncodeError, Frame};
use super::{ConversationId, MsgId, NodeId};
use crate::rng::Rng;
use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use thiserror::Error;

/// Beacon times after start, then every `beacon_interval` (± jitter).
const STARTUP_BEACONS: [Duration; 3] = [
    Duration::ZERO,
    Duration::from_secs(1),
    Duration::from_secs(3),
];
/// At most one beacon reply per source address in this time.
const REPLY_GAP: Duration = Duration::from_secs(1);
const MAX_RTO: Duration = Duration::from_secs(8);
/// Message ids remembered per peer for duplicate suppression.
const SEEN_PER_PEER: usize = 4096;
const MAX_MANUAL_PEERS: usize = 64;
const MAX_OUTBOX_PER_PEER: usize = 1000;

#[derive(Debug, Clone)]
pub struct EndpointConfig {
    pub node: NodeId,
    /// Display name announced in beacons; cut to [`wire::MAX_NAME_BYTES`].
    pub name: String,
    /// Our unicast port, announced so that peers reply there and not to the shared
    /// discovery port the beacon may come from.
    pub port: u16,
    /// Send beacons to the discovery group (peers added by address are probed regardless).
    pub discovery: bool,
    pub beacon_interval: Duration,
    /// A peer silent this long is offline.
    pub peer_timeout: Duration,
    /// Retransmission timeout before any round trip was measured.
    pub first_rto: Duration,
    /// A message not acknowledged this long after it was first sent has failed.
    pub give_up: Duration,
    /// Peers remembered at most (offline ones are forgotten first).
    pub max_peers: usize,
}

impl EndpointConfig {
    pub fn new(node: NodeId, name: &str, port: u16) -> Self {
        Self {
            node,
            name: clip_name(name),
            port,
            discovery: true,
            beacon_interval: Duration::from_secs(30),
            peer_timeout: Duration::from_secs(90),
            first_rto: Duration::from_secs(1),
            give_up: Duration::from_secs(30),
            max_peers: 1024,
        }
    }
}

/// Cuts a name to what a beacon carries, on a character boundary.
fn clip_name(name: &str) -> String {
    let mut cut = name.len().min(wire::MAX_NAME_BYTES);
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    name[..cut].to_owned()
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
    pub retransmits: u64,
    pub datagrams_out: u64,
}

/// When to send the next beacon: the start-up burst, then the interval with jitter.
#[derive(Debug, Clone)]
struct Schedule {
    start: Instant,
    step: usize,
    next: Instant,
}

impl Schedule {
    fn new(now: Instant) -> Self {
        Self {
            start: now,
            step: 0,
            next: now,
        }
    }

    fn advance(&mut self, now: Instant, interval: Duration, rng: &mut Rng) {
        self.step += 1;
        self.next = match STARTUP_BEACONS.get(self.step) {
            Some(offset) => self.start + *offset,
            None => {
                // ±20% jitter so that instances started together drift apart.
                let span = interval.as_millis() as u64 * 2 / 5;
                let low = interval - Duration::from_millis(span / 2);
                now + low + Duration::from_millis(rng.below(span + 1))
            }
        };
    }
}

#[derive(Debug)]
struct Peer {
    name: String,
    addr: SocketAddr,
    online: bool,
    last_seen: Instant,
    seen: VecDeque<MsgId>,
    seen_set: HashSet<MsgId>,
    /// Messages waiting for this peer to come online, oldest first.
    outbox: VecDeque<(MsgId, Vec<u8>)>,
}

impl Peer {
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
}

#[derive(Debug)]
struct Pending {
    to: NodeId,
    payload: Vec<u8>,
    first_sent: Instant,
    next_retry: Instant,
    rto: Duration,
}

#[derive(Debug)]
struct ManualPeer {
    addr: SocketAddr,
    schedule: Schedule,
}

pub struct Endpoint {
    cfg: EndpointConfig,
    rng: Rng,
    peers: HashMap<NodeId, Peer>,
    pending: HashMap<MsgId, Pending>,
    manual: Vec<ManualPeer>,
    discovery: Option<Schedule>,
    last_reply: HashMap<SocketAddr, Instant>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
    stats: Stats,
    closed: bool,
}

impl Endpoint {
    pub fn new(cfg: EndpointConfig, now: Instant, seed: u64) -> Self {
        let discovery = cfg.discovery.then(|| Schedule::new(now));
        Self {
            cfg,
            rng: Rng::new(seed),
            peers: HashMap::new(),
            pending: HashMap::new(),
            manual: Vec::new(),
            discovery,
            last_reply: HashMap::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            stats: Stats::default(),
            closed: false,
        }
    }

    pub fn node(&self) -> NodeId {
        self.cfg.node
    }

    pub fn name(&self) -> &str {
        &self.cfg.name
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    pub fn peers(&self) -> impl Iterator<Item = PeerView> + '_ {
        self.peers.iter().map(|(id, p)| p.view(*id))
    }

    pub fn peer(&self, id: &NodeId) -> Option<PeerView> {
        self.peers.get(id).map(|p| p.view(*id))
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The earliest time at which [`handle_timeout`](Self::handle_timeout) has work to do.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.closed {
            return None;
        }
        let beacons = self
            .discovery
            .iter()
            .map(|s| s.next)
            .chain(self.manual.iter().map(|m| m.schedule.next));
        let retries = self.pending.values().map(|p| p.next_retry);
        let expiries = self
            .peers
            .values()
            .filter(|p| p.online)
            .map(|p| p.last_seen + self.cfg.peer_timeout);
        beacons.chain(retries).chain(expiries).min()
    }

    /// Probe a peer at an address that discovery may not reach. It is asked for a beacon now,
    /// after 1 and 3 seconds, then every beacon interval, so it is found whenever it starts.
    pub fn add_peer(&mut self, now: Instant, addr: SocketAddr) {
        if self.manual.iter().any(|m| m.addr == addr) || self.manual.len() >= MAX_MANUAL_PEERS {
            return;
        }
        self.manual.push(ManualPeer {
            addr,
            schedule: Schedule::new(now),
        });
        self.handle_timeout(now);
    }

    /// Sends a message typed by the user, with the id it was given when typed.
    pub fn send_message(
        &mut self,
        now: Instant,
        to: ConversationId,
        id: MsgId,
        sent_at_ms: i64,
        text: &str,
    ) -> Result<(), SendError> {
        if text.is_empty() {
            return Err(SendError::Empty);
        }
        match to {
            ConversationId::Raw(addr) => {
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
                let payload = Frame::Message(ChatMessage {
                    from: self.cfg.node,
                    id,
                    sent_at_ms,
                    text: text.to_owned(),
                })
                .encode()?;
                let peer = self.peers.get_mut(&node).ok_or(SendError::UnknownPeer)?;
                if peer.online {
                    let addr = peer.addr;
                    self.start_sending(now, node, id, payload, addr);
                } else {
                    if peer.outbox.len() >= MAX_OUTBOX_PER_PEER {
                        return Err(SendError::OutboxFull);
                    }
                    peer.outbox.push_back((id, payload));
                    self.events.push_back(Event::State {
                        id,
                        state: DeliveryState::Queued,
                    });
                }
                Ok(())
            }
        }
    }

    fn start_sending(
        &mut self,
        now: Instant,
        to: NodeId,
        id: MsgId,
        payload: Vec<u8>,
        addr: SocketAddr,
    ) {
        self.push(Destination::Unicast(addr), payload.clone());
        self.pending.insert(
            id,
            Pending {
                to,
                payload,
                first_sent: now,
                next_retry: now + self.cfg.first_rto,
                rto: self.cfg.first_rto,
            },
        );
        self.events.push_back(Event::State {
            id,
            state: DeliveryState::Sending,
        });
    }

    /// Says goodbye to the discovery group and to every online peer. After this the endpoint
    /// sets no more deadlines.
    pub fn shutdown(&mut self) {
        if self.closed {
            return;
        }
        self.closed = true;
        let Ok(bye) = (Frame::Goodbye {
            node: self.cfg.node,
        })
        .encode() else {
            return;
        };
        if self.discovery.is_some() {
            self.push(Destination::Discovery, bye.clone());
        }
        let addrs: Vec<SocketAddr> = self
            .peers
            .values()
            .filter(|p| p.online)
            .map(|p| p.addr)
            .collect();
        for addr in addrs {
            self.push(Destination::Unicast(addr), bye.clone());
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if self.closed {
            return;
        }
        let interval = self.cfg.beacon_interval;
        if let Some(mut schedule) = self.discovery.take() {
            if schedule.next <= now {
                let beacon = self.beacon(false);
                self.push(Destination::Discovery, beacon);
                schedule.advance(now, interval, &mut self.rng);
            }
            self.discovery = Some(schedule);
        }
        let mut probes = Vec::new();
        for m in &mut self.manual {
            if m.schedule.next <= now {
                probes.push(m.addr);
                m.schedule.advance(now, interval, &mut self.rng);
            }
        }
        for addr in probes {
            let beacon = self.beacon(true);
            self.push(Destination::Unicast(addr), beacon);
        }

        let mut retry = Vec::new();
        let mut failed = Vec::new();
        for (id, p) in &mut self.pending {
            if p.next_retry > now {
                continue;
            }
            if now.duration_since(p.first_sent) >= self.cfg.give_up {
                failed.push(*id);
                continue;
            }
            p.rto = (p.rto * 2).min(MAX_RTO);
            p.next_retry = (now + p.rto).min(p.first_sent + self.cfg.give_up);
            if let Some(peer) = self.peers.get(&p.to).filter(|peer| peer.online) {
                retry.push((peer.addr, p.payload.clone()));
            }
        }
        for (addr, payload) in retry {
            self.stats.retransmits += 1;
            self.push(Destination::Unicast(addr), payload);
        }
        failed.sort();
        for id in failed {
            self.pending.remove(&id);
            self.events.push_back(Event::State {
                id,
                state: DeliveryState::Failed,
            });
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

    pub fn handle_datagram(&mut self, now: Instant, src: SocketAddr, data: &[u8]) {
        if self.closed {
            return;
        }
        self.stats.datagrams_in += 1;
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
            Frame::Goodbye { node } => {
                if self.peers.get(&node).is_some_and(|p| p.online) {
                    self.set_offline(node, PeerDownReason::Goodbye);
                }
            }
            Frame::Message(m) => self.on_message(now, src, m),
            Frame::Ack { from, ids } => {
                if from == self.cfg.node {
                    return;
                }
                if self.peers.contains_key(&from) {
                    self.touch(now, from, src, None);
                }
                for id in ids {
                    if self.pending.get(&id).is_some_and(|p| p.to == from) {
                        self.pending.remove(&id);
                        self.events.push_back(Event::State {
                            id,
                            state: DeliveryState::Delivered,
                        });
                    }
                }
            }
        }
    }

    fn on_beacon(&mut self, now: Instant, src: SocketAddr, b: Beacon) {
        if b.node == self.cfg.node {
            return; // our own beacon, looped back
        }
        let addr = SocketAddr::new(src.ip(), b.port);
        let is_new = self.touch(now, b.node, addr, Some(&b.name));
        if b.want_reply || is_new {
            self.reply_beacon(now, addr);
        }
    }

    fn on_message(&mut self, now: Instant, src: SocketAddr, m: ChatMessage) {
        if m.from == self.cfg.node {
            return;
        }
        let is_new = self.touch(now, m.from, src, None);
        if !self.peers.contains_key(&m.from) {
            return; // the peer table is full of online peers; not acknowledged
        }
        if is_new {
            // A peer we have not heard a beacon from: ask for one to learn its name.
            self.reply_beacon(now, src);
        }
        if let Ok(ack) = (Frame::Ack {
            from: self.cfg.node,
            ids: vec![m.id],
        })
        .encode()
        {
            self.push(Destination::Unicast(src), ack);
        }
        let Some(peer) = self.peers.get_mut(&m.from) else {
            return;
        };
        if !peer.remember(m.id) {
            self.stats.duplicates += 1;
            return;
        }
        self.events.push_back(Event::Message {
            conversation: ConversationId::Peer(m.from),
            id: m.id,
            sent_at_ms: Some(m.sent_at_ms),
            text: m.text,
        });
    }

    /// Notes that `node` is alive at `addr`. Returns true when it just came online.
    ///
    /// The address is only replaced while a peer is online if its port changed: a peer on
    /// this host may be heard through several interfaces, and flapping between them would
    /// help nobody.
    fn touch(&mut self, now: Instant, node: NodeId, addr: SocketAddr, name: Option<&str>) -> bool {
        if !self.peers.contains_key(&node) && !self.make_room() {
            return false;
        }
        let peer = self.peers.entry(node).or_insert_with(|| Peer {
            name: String::new(),
            addr,
            online: false,
            last_seen: now,
            seen: VecDeque::new(),
            seen_set: HashSet::new(),
            outbox: VecDeque::new(),
        });
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
        if peer.addr != addr && (!peer.online || peer.addr.port() != addr.port()) {
            peer.addr = addr;
            changed = true;
        }
        if !peer.online {
            peer.online = true;
            let view = peer.view(node);
            let outbox: Vec<(MsgId, Vec<u8>)> = peer.outbox.drain(..).collect();
            self.events.push_back(Event::PeerUp(view));
            for (id, payload) in outbox {
                self.start_sending(now, node, id, payload, addr);
            }
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
            .filter(|(_, p)| !p.online && p.outbox.is_empty())
            .min_by_key(|(_, p)| p.last_seen)
            .map(|(id, _)| *id);
        match victim {
            Some(id) => {
                self.peers.remove(&id);
                true
            }
            None => false,
        }
    }

    fn set_offline(&mut self, node: NodeId, reason: PeerDownReason) {
        if let Some(peer) = self.peers.get_mut(&node) {
            peer.online = false;
            let view = peer.view(node);
            self.events
                .push_back(Event::PeerDown { peer: view, reason });
        }
    }

    fn reply_beacon(&mut self, now: Instant, addr: SocketAddr) {
        if let Some(last) = self.last_reply.get(&addr)
            && now.duration_since(*last) < REPLY_GAP
        {
            return;
        }
        if self.last_reply.len() >= 4096 {
            self.last_reply
                .retain(|_, t| now.duration_since(*t) < REPLY_GAP);
        }
        self.last_reply.insert(addr, now);
        let beacon = self.beacon(false);
        self.push(Destination::Unicast(addr), beacon);
    }

    fn beacon(&self, want_reply: bool) -> Vec<u8> {
        Frame::Beacon(Beacon {
            node: self.cfg.node,
            port: self.cfg.port,
            want_reply,
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
