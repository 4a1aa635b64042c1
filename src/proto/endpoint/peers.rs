//! Per-peer delivery: the peer table, and for each peer its streams, its waiting messages
//! and the ids it already handed up.
//!
//! - **Only authenticated traffic makes, moves or wakes a peer.** The endpoint calls
//!   [`Peers::touch`] for a proven handshake (with the name it carried) and for an
//!   authenticated datagram (from the address it came from). A peer's name is the one of
//!   its latest proven handshake and its address the source of its latest authenticated
//!   datagram (roaming, as WireGuard does). It is online from then until `peer_timeout` of
//!   silence ([`Peers::timed_out`]) or a sealed goodbye, when the endpoint calls
//!   [`Peers::set_offline`]. [`Peers::remember`] adds a peer from an earlier run, offline.
//! - **The table is bounded** by `max_peers`. When it is full the offline peer heard from
//!   longest ago with nothing waiting for it is forgotten; when every peer is online or has
//!   messages waiting, a newcomer is ignored (and its packets are not acknowledged).
//! - **Receive buffers are bounded for all peers together**: `buffered_total` is always the
//!   sum of every peer's receive buffer, and a packet is taken only within what is left of
//!   [`MAX_BUFFERED_TOTAL`]. Outboxes and failed lists hold at most
//!   [`MAX_OUTBOX_PER_PEER`] messages each.
//! - **A message is handed up once.** The last [`SEEN_PER_PEER`] ids handed up are kept per
//!   peer; a copy is acknowledged, counted as a duplicate, and not shown again.
//! - **Nothing typed is lost without a word.** A chat message is queued while its peer is
//!   offline and sent when it comes online; going offline puts what was in flight back in
//!   the outbox. One not acknowledged within `give_up` is failed, and goes again when the
//!   peer is heard from anew. Queued and failed messages go out in the order they were
//!   typed. Every step is told as an [`Event::State`].
//!
//! Peers build packets ([`Peers::packets`]) but do not seal them: the endpoint seals them
//! through `secure`, and sends nothing to a key held back by an identity change. Methods
//! that return `true` (or `Ok(true)`) want the endpoint to pump that peer next.

use super::super::files::FileSignal;
use super::super::stream::{Received, RecvStream, SendOutcome, SendStream};
use super::super::wire::{self, Body, Content, Data};
use super::super::{ConversationId, MsgId, NodeId};
use super::{DeliveryState, Event, PeerDownReason, PeerView, SendError, Stats};
use crate::rng::Rng;
use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Message ids remembered per peer for duplicate suppression.
const SEEN_PER_PEER: usize = 4096;
/// Messages waiting for one peer (queued, and failed), each.
const MAX_OUTBOX_PER_PEER: usize = 1000;
/// Bytes of incomplete or out-of-order messages held for all peers together.
pub const MAX_BUFFERED_TOTAL: usize = 16 << 20;

/// What delivery needs to know of the endpoint's configuration.
#[derive(Debug, Clone, Copy)]
pub(super) struct Settings {
    /// Our key: the sender of every packet we build.
    pub me: NodeId,
    /// Chosen at start: tells peers that this is a new life with fresh numbering.
    pub epoch: u64,
    pub give_up: Duration,
    pub max_peers: usize,
    pub durable_acks: bool,
    pub read_receipts: bool,
}

pub(super) struct Peers {
    table: HashMap<NodeId, Peer>,
    settings: Settings,
    /// Sum of every peer's receive buffer.
    buffered_total: usize,
    /// Messages sent so far (gives each its place in the typing order).
    typed: u64,
    /// The typing order of my unsettled messages, to resend them in that order.
    order_of: HashMap<MsgId, u64>,
    /// Group frames received, with the key whose session they came in: for `proto::group`.
    group_in: VecDeque<(NodeId, Vec<u8>)>,
}

impl Peers {
    pub(super) fn new(settings: Settings) -> Self {
        Self {
            table: HashMap::new(),
            settings,
            buffered_total: 0,
            typed: 0,
            order_of: HashMap::new(),
            group_in: VecDeque::new(),
        }
    }

    /// A group frame on `to`'s stream, if it is online (true: pump). Best effort: group
    /// sync repairs what is lost, so nothing waits in an outbox.
    pub(super) fn send_group(&mut self, to: NodeId, frame: &[u8], rng: &mut Rng) -> bool {
        let Some(peer) = self.table.get_mut(&to).filter(|p| p.online) else {
            return false;
        };
        peer.send
            .push(MsgId(rng.nonzero_u64()), Content::Group, 0, frame);
        true
    }

    /// The next group frame received, with its sender.
    pub(super) fn take_group_frame(&mut self) -> Option<(NodeId, Vec<u8>)> {
        self.group_in.pop_front()
    }

    /// Is `id` online?
    pub(super) fn online_ids(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.table
            .iter()
            .filter(|(_, p)| p.online)
            .map(|(id, _)| *id)
    }

    /// Affects streams from peers met from now on.
    pub(super) fn set_durable_acks(&mut self, on: bool) {
        self.settings.durable_acks = on;
    }

    pub(super) fn buffered_bytes(&self) -> usize {
        self.buffered_total
    }

    pub(super) fn contains(&self, id: &NodeId) -> bool {
        self.table.contains_key(id)
    }

    pub(super) fn is_online(&self, id: &NodeId) -> bool {
        self.table.get(id).is_some_and(|p| p.online)
    }

    pub(super) fn view(&self, id: &NodeId) -> Option<PeerView> {
        self.table.get(id).map(|p| p.view(*id))
    }

    pub(super) fn views(&self) -> impl Iterator<Item = PeerView> + '_ {
        self.table.iter().map(|(id, p)| p.view(*id))
    }

    pub(super) fn addr(&self, id: &NodeId) -> Option<SocketAddr> {
        self.table.get(id).map(|p| p.addr)
    }

    /// The peer at `addr` (the lowest key, if several are).
    pub(super) fn at(&self, addr: SocketAddr) -> Option<NodeId> {
        self.table
            .iter()
            .filter(|(_, p)| p.addr == addr)
            .map(|(id, _)| *id)
            .min()
    }

    /// Do queued or failed messages wait for `id`?
    pub(super) fn has_waiting(&self, id: &NodeId) -> bool {
        self.table
            .get(id)
            .is_some_and(|p| !p.outbox.is_empty() || !p.failed.is_empty())
    }

    /// The earliest stream deadline, silence timeout (`timeout`) or keepalive
    /// (`keepalive`) of any peer.
    pub(super) fn next_deadline(&self, timeout: Duration, keepalive: Duration) -> Option<Instant> {
        self.table
            .values()
            .flat_map(|p| {
                let expiry = p.online.then(|| p.last_seen + timeout);
                let ping = p.online.then(|| p.last_sent + keepalive);
                expiry.into_iter().chain(ping).chain(p.deadline())
            })
            .min()
    }

    /// Adds a peer known from an earlier run, offline, last seen `since`. False if it is
    /// there already or there is no room.
    pub(super) fn remember(
        &mut self,
        id: NodeId,
        name: String,
        addr: SocketAddr,
        since: Instant,
    ) -> bool {
        if self.table.contains_key(&id) || !self.make_room() {
            return false;
        }
        let mut peer = Peer::new(addr, since, self.settings);
        peer.name = name;
        self.table.insert(id, peer);
        true
    }

    /// Notes that `node` is alive at `addr`, as authenticated traffic just showed (and
    /// named `name`, for a proven handshake). True when it just came online: what waited
    /// for it is on its streams, to be pumped.
    #[must_use]
    pub(super) fn touch(
        &mut self,
        now: Instant,
        node: NodeId,
        addr: SocketAddr,
        name: Option<&str>,
        events: &mut VecDeque<Event>,
    ) -> bool {
        if !self.table.contains_key(&node) && !self.make_room() {
            return false;
        }
        let settings = self.settings;
        let peer = self
            .table
            .entry(node)
            .or_insert_with(|| Peer::new(addr, now, settings));
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
            events.push_back(Event::PeerUp(view));
            for w in waiting {
                events.push_back(Event::State {
                    id: w.id,
                    state: DeliveryState::Sending,
                });
            }
            return true;
        }
        if changed {
            events.push_back(Event::PeerUpdated(peer.view(node)));
        }
        false
    }

    /// Frees a slot in the table if it is full, forgetting the offline peer heard from
    /// longest ago with nothing waiting for it. False if there is none.
    fn make_room(&mut self) -> bool {
        if self.table.len() < self.settings.max_peers {
            return true;
        }
        let victim = self
            .table
            .iter()
            .filter(|(_, p)| !p.online && p.outbox.is_empty() && p.failed.is_empty())
            .min_by_key(|(_, p)| p.last_seen)
            .map(|(id, _)| *id);
        match victim {
            Some(id) => {
                if let Some(gone) = self.table.remove(&id) {
                    self.buffered_total -= gone.recv.map_or(0, |r| r.buffered_bytes());
                }
                true
            }
            None => false,
        }
    }

    /// A chat message typed for `node` (`bytes` is its encoded `content`): on its stream if
    /// the peer is online (`Ok(true)`: pump it), else queued.
    pub(super) fn send(
        &mut self,
        node: NodeId,
        id: MsgId,
        sent_at_ms: i64,
        content: Content,
        bytes: Vec<u8>,
        events: &mut VecDeque<Event>,
    ) -> Result<bool, SendError> {
        let peer = self.table.get_mut(&node).ok_or(SendError::UnknownPeer)?;
        peer.failed.retain(|w| w.id != id);
        self.typed += 1;
        let order = *self.order_of.entry(id).or_insert(self.typed);
        let waiting = Waiting {
            order,
            id,
            content,
            sent_at_ms,
            bytes,
        };
        if peer.online {
            peer.send.push(id, content, sent_at_ms, &waiting.bytes);
            events.push_back(Event::State {
                id,
                state: DeliveryState::Sending,
            });
            return Ok(true);
        }
        if peer.outbox.len() >= MAX_OUTBOX_PER_PEER {
            return Err(SendError::OutboxFull);
        }
        peer.outbox.push_back(waiting);
        events.push_back(Event::State {
            id,
            state: DeliveryState::Queued,
        });
        Ok(false)
    }

    /// The store could not keep message `id` from `peer`: it is never acknowledged, and
    /// is taken again when resent.
    pub(super) fn store_failed(&mut self, peer: NodeId, id: MsgId) {
        if let Some(p) = self.table.get_mut(&peer) {
            p.seen_set.remove(&id);
            if let Some(recv) = p.recv.as_mut() {
                recv.refuse(id);
            }
        }
    }

    /// Messages `ids` from `peer` are stored: they may be acknowledged (true: pump).
    pub(super) fn confirm_stored(&mut self, now: Instant, peer: NodeId, ids: &[MsgId]) -> bool {
        let Some(recv) = self.table.get_mut(&peer).and_then(|p| p.recv.as_mut()) else {
            return false;
        };
        for id in ids {
            recv.confirm(now, *id);
        }
        true
    }

    /// Read receipts for `ids` on `to`'s stream, if receipts are on and it is online
    /// (true: pump). Each receipt gets an id from `rng`.
    pub(super) fn mark_read(&mut self, to: NodeId, ids: &[MsgId], rng: &mut Rng) -> bool {
        if !self.settings.read_receipts || ids.is_empty() {
            return false;
        }
        let Some(peer) = self.table.get_mut(&to).filter(|p| p.online) else {
            return false;
        };
        for chunk in ids.chunks(wire::MAX_MESSAGE_BYTES / 8) {
            let bytes: Vec<u8> = chunk.iter().flat_map(|id| id.0.to_be_bytes()).collect();
            let id = MsgId(rng.nonzero_u64());
            peer.send.push(id, Content::Read, 0, &bytes);
        }
        true
    }

    /// The online peers and their addresses, by key.
    pub(super) fn online(&self) -> Vec<(NodeId, SocketAddr)> {
        let mut online: Vec<(NodeId, SocketAddr)> = self
            .table
            .iter()
            .filter(|(_, p)| p.online)
            .map(|(id, p)| (*id, p.addr))
            .collect();
        online.sort();
        online
    }

    /// Online peers nothing was sent to for `keepalive`, by key: each is noted as sent to
    /// now, and is owed a keepalive.
    pub(super) fn idle(&mut self, now: Instant, keepalive: Duration) -> Vec<(NodeId, SocketAddr)> {
        let mut idle: Vec<(NodeId, SocketAddr)> = self
            .table
            .iter()
            .filter(|(_, p)| p.online && now.saturating_duration_since(p.last_sent) >= keepalive)
            .map(|(id, p)| (*id, p.addr))
            .collect();
        idle.sort();
        for (id, _) in &idle {
            if let Some(p) = self.table.get_mut(id) {
                p.last_sent = now;
            }
        }
        idle
    }

    /// Peers with a stream deadline at or before `now`, by key.
    pub(super) fn due(&self, now: Instant) -> Vec<NodeId> {
        let mut ids: Vec<NodeId> = self
            .table
            .iter()
            .filter(|(_, p)| p.deadline().is_some_and(|d| d <= now))
            .map(|(id, _)| *id)
            .collect();
        ids.sort();
        ids
    }

    /// Runs `id`'s stream timers. True when its session is suspect: resent twice without
    /// an answer, maybe the peer restarted and lost it.
    pub(super) fn on_timeout(
        &mut self,
        now: Instant,
        id: NodeId,
        events: &mut VecDeque<Event>,
    ) -> bool {
        let Some(peer) = self.table.get_mut(&id) else {
            return false;
        };
        let outcomes = peer.send.on_timeout(now);
        let suspect = peer.send.timeouts_in_a_row() >= 2;
        if let Some(recv) = peer.recv.as_mut() {
            let before = recv.buffered_bytes();
            recv.expire(now);
            self.buffered_total -= before - recv.buffered_bytes();
        }
        self.settle(id, outcomes, events);
        suspect
    }

    /// Online peers silent for `timeout`, by key.
    pub(super) fn timed_out(&self, now: Instant, timeout: Duration) -> Vec<NodeId> {
        let mut gone: Vec<NodeId> = self
            .table
            .iter()
            .filter(|(_, p)| p.online && now.duration_since(p.last_seen) >= timeout)
            .map(|(id, _)| *id)
            .collect();
        gone.sort();
        gone
    }

    /// Marks a peer offline. What was on its way to it goes back to the outbox (queued),
    /// to be sent when it returns.
    pub(super) fn set_offline(
        &mut self,
        node: NodeId,
        reason: PeerDownReason,
        events: &mut VecDeque<Event>,
    ) {
        let Some(peer) = self.table.get_mut(&node) else {
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
        events.push_back(Event::PeerDown { peer: view, reason });
        for id in queued {
            events.push_back(Event::State {
                id,
                state: DeliveryState::Queued,
            });
        }
    }

    /// An authenticated packet from `p.from`, already touched: its ack settles what we
    /// sent, its data is taken within the buffer budget and handed up once.
    pub(super) fn on_packet(
        &mut self,
        now: Instant,
        p: wire::Packet,
        events: &mut VecDeque<Event>,
        stats: &mut Stats,
    ) {
        let Settings {
            durable_acks,
            read_receipts,
            ..
        } = self.settings;
        let from = p.from;
        let Some(peer) = self.table.get_mut(&from) else {
            return; // the peer table is full of online peers; not acknowledged
        };
        // A new epoch: the peer restarted and forgot what it had not stored. Whatever it
        // acknowledged of unsettled messages goes again, before this packet's ack counts.
        if peer.peer_epoch.is_some_and(|e| e != p.epoch) {
            peer.send.peer_restarted();
        }
        peer.peer_epoch = Some(p.epoch);
        let outcomes = match &p.ack {
            Some(ack) => peer.send.on_ack(now, ack),
            None => Vec::new(),
        };
        let received = match p.data {
            Some(data) => {
                let total = &mut self.buffered_total;
                peer.receive(now, p.epoch, data, durable_acks, total, stats)
            }
            None => Vec::new(),
        };
        // A packet proves the path works: messages that failed earlier go again.
        let retry: Vec<Waiting> = peer.failed.drain(..).collect();
        for w in &retry {
            peer.send.push(w.id, w.content, w.sent_at_ms, &w.bytes);
        }
        for r in received {
            if let Some(frame) = peer.hand_up(now, from, r, read_receipts, events, stats) {
                self.group_in.push_back((from, frame));
            }
        }
        for w in retry {
            events.push_back(Event::State {
                id: w.id,
                state: DeliveryState::Sending,
            });
        }
        self.settle(from, outcomes, events);
    }

    /// Turns send outcomes into events; failed chat messages wait for the peer's return.
    fn settle(&mut self, id: NodeId, outcomes: Vec<SendOutcome>, events: &mut VecDeque<Event>) {
        for outcome in outcomes {
            match outcome {
                SendOutcome::Delivered(msg, content) if content.is_chat() => {
                    self.order_of.remove(&msg);
                    events.push_back(Event::State {
                        id: msg,
                        state: DeliveryState::Delivered,
                    });
                }
                SendOutcome::Failed(msg, content, sent_at_ms, bytes) if content.is_chat() => {
                    if let Some(peer) = self.table.get_mut(&id)
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
                    events.push_back(Event::State {
                        id: msg,
                        state: DeliveryState::Failed,
                    });
                }
                // Read receipts are best effort: nobody waits on them.
                SendOutcome::Delivered(..) | SendOutcome::Failed(..) => {}
            }
        }
    }

    /// The packets peer `id`'s streams have ready, and where it is: data while the window
    /// allows (carrying any owed ack), else an ack on its own once it is due. None for an
    /// unknown peer.
    pub(super) fn packets(
        &mut self,
        now: Instant,
        id: NodeId,
        stats: &mut Stats,
    ) -> Option<(SocketAddr, Vec<wire::Packet>)> {
        let Settings {
            me: from, epoch, ..
        } = self.settings;
        let peer = self.table.get_mut(&id)?;
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
        stats.retransmits += peer.send.retransmissions - retransmitted_before;
        if !out.is_empty() {
            peer.last_sent = now;
        }
        Some((peer.addr, out))
    }
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
    fn new(addr: SocketAddr, now: Instant, settings: Settings) -> Self {
        Peer {
            name: String::new(),
            addr,
            online: false,
            last_seen: now,
            seen: VecDeque::new(),
            seen_set: HashSet::new(),
            outbox: VecDeque::new(),
            failed: VecDeque::new(),
            send: SendStream::new(settings.epoch, settings.give_up),
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

    /// Takes a data packet of the peer's `epoch`, within what `buffered_total` (every
    /// peer's receive buffers) leaves of [`MAX_BUFFERED_TOTAL`]; returns the messages it
    /// completed.
    fn receive(
        &mut self,
        now: Instant,
        epoch: u64,
        data: Data,
        durable_acks: bool,
        buffered_total: &mut usize,
        stats: &mut Stats,
    ) -> Vec<Received> {
        if self.recv.as_ref().is_none_or(|r| r.epoch() != epoch) {
            // First contact, or the peer restarted: its numbering starts afresh.
            let fresh = RecvStream::with_durable_acks(epoch, durable_acks);
            let old = self.recv.replace(fresh);
            *buffered_total -= old.map_or(0, |r| r.buffered_bytes());
        }
        let Some(recv) = self.recv.as_mut() else {
            return Vec::new();
        };
        let before = recv.buffered_bytes();
        let budget = MAX_BUFFERED_TOTAL.saturating_sub(*buffered_total - before);
        let result = recv.on_data_within(now, data, budget);
        *buffered_total = *buffered_total - before + recv.buffered_bytes();
        match result {
            Ok(messages) => messages,
            Err(refused) => {
                tracing::debug!(?refused, "data packet refused");
                stats.refused += 1;
                Vec::new()
            }
        }
    }

    /// Hands a completed message up once: chat as an event (to be stored, then
    /// acknowledged), read receipts as delivery states; anything else, and any copy, is
    /// settled here.
    fn hand_up(
        &mut self,
        now: Instant,
        from: NodeId,
        r: Received,
        read_receipts: bool,
        events: &mut VecDeque<Event>,
        stats: &mut Stats,
    ) -> Option<Vec<u8>> {
        // Only chat goes up to be stored; the rest is settled here.
        let copy = self.seen_set.contains(&r.id);
        let goes_up = r.content.is_chat() && !copy;
        if let Some(recv) = self.recv.as_mut() {
            if copy {
                recv.settle_copy(now, r.id, r.msn);
            } else if !goes_up {
                recv.confirm(now, r.id);
            }
        }
        if !self.remember(r.id) {
            stats.duplicates += 1;
            return None;
        }
        match r.content {
            content if content.is_chat() => match Body::decode(content, &r.bytes) {
                Ok(body) => events.push_back(chat_event(from, r.id, r.sent_at_ms, body)),
                Err(_) => {
                    stats.malformed += 1;
                    if let Some(recv) = self.recv.as_mut() {
                        recv.confirm(now, r.id);
                    }
                }
            },
            Content::Read if read_receipts => {
                let ids: Vec<MsgId> = r
                    .bytes
                    .chunks_exact(8)
                    .filter_map(|c| <[u8; 8]>::try_from(c).ok())
                    .map(|b| MsgId(u64::from_be_bytes(b)))
                    .collect();
                if !ids.is_empty() {
                    events.push_back(Event::Read { from, ids });
                }
            }
            Content::Group => return Some(r.bytes),
            _ => {}
        }
        None
    }
}

/// The event for a chat message from a peer.
fn chat_event(from: NodeId, id: MsgId, sent_at_ms: i64, body: Body) -> Event {
    let conversation = ConversationId::Peer(from);
    let file = |signal| Event::File {
        from,
        id,
        sent_at_ms,
        signal,
    };
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
        Body::FileOffer(offer) => file(FileSignal::Offer(offer)),
        Body::FileAccept { id } => file(FileSignal::Accept(id)),
        Body::FileDecline(id) => file(FileSignal::Decline(id)),
        Body::FileCancel { id, reason } => file(FileSignal::Cancel { id, reason }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr};

    fn node(n: u8) -> NodeId {
        NodeId([n; 32])
    }

    fn addr(n: u8) -> SocketAddr {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, n)), 4000)
    }

    fn peers(max_peers: usize) -> Peers {
        peers_of(node(0), max_peers)
    }

    fn peers_of(me: NodeId, max_peers: usize) -> Peers {
        Peers::new(Settings {
            me,
            epoch: 1,
            give_up: Duration::from_secs(30),
            max_peers,
            durable_acks: false,
            read_receipts: true,
        })
    }

    fn text(peers: &mut Peers, to: NodeId, id: u64, events: &mut VecDeque<Event>) -> bool {
        let body = Body::Text(format!("m{id}"));
        let bytes = body.encode().unwrap_or_default();
        let sent = peers.send(to, MsgId(id), 0, body.content(), bytes, events);
        sent.unwrap_or_default()
    }

    #[test]
    fn a_full_table_forgets_only_a_silent_peer_with_nothing_waiting() {
        let start = Instant::now();
        let later = |s| start + Duration::from_secs(s);
        let mut events = VecDeque::new();
        let mut table = peers(2);
        assert!(table.remember(node(1), "a".into(), addr(1), later(0)));
        assert!(table.remember(node(2), "b".into(), addr(2), later(1)));
        assert!(
            !text(&mut table, node(1), 7, &mut events),
            "queued, not sent"
        );
        // The table is full: the newcomer takes b's place, not a's (a message waits for a).
        assert!(table.touch(later(2), node(3), addr(3), Some("c"), &mut events));
        assert!(table.contains(&node(1)) && !table.contains(&node(2)));
        // Now every peer is online or awaited: a newcomer is ignored.
        assert!(!table.touch(later(3), node(4), addr(4), None, &mut events));
        assert!(!table.contains(&node(4)));
    }

    #[test]
    fn queued_messages_go_out_in_typing_order_when_the_peer_comes_online() {
        let now = Instant::now();
        let mut events = VecDeque::new();
        let mut stats = Stats::default();
        let mut table = peers(8);
        assert!(table.remember(node(1), "a".into(), addr(1), now));
        assert!(!text(&mut table, node(1), 5, &mut events));
        assert!(!text(&mut table, node(1), 6, &mut events));
        events.clear();
        assert!(table.touch(now, node(1), addr(9), None, &mut events));
        let states: Vec<MsgId> = events
            .iter()
            .filter_map(|e| match e {
                Event::State { id, state } if *state == DeliveryState::Sending => Some(*id),
                _ => None,
            })
            .collect();
        assert_eq!(states, vec![MsgId(5), MsgId(6)]);
        assert!(matches!(events.front(), Some(Event::PeerUp(v)) if v.addr == addr(9)));
        let (to, packets) = table
            .packets(now, node(1), &mut stats)
            .unwrap_or((addr(0), vec![]));
        assert_eq!(to, addr(9), "sent where it was last heard from");
        let ids: Vec<MsgId> = packets
            .iter()
            .filter_map(|p| p.data.as_ref())
            .map(|d| d.id)
            .collect();
        assert_eq!(ids, vec![MsgId(5), MsgId(6)]);
    }

    #[test]
    fn file_messages_come_up_as_file_events_and_malformed_ones_are_counted() {
        use crate::proto::files::{CancelReason, FileOffer, TransferId};
        let now = Instant::now();
        let mut events = VecDeque::new();
        let mut alice = peers_of(node(1), 8);
        let mut bob = peers_of(node(2), 8);
        assert!(alice.touch(now, node(2), addr(2), None, &mut events));
        assert!(bob.touch(now, node(1), addr(1), None, &mut events));
        let offer = FileOffer {
            id: TransferId([5; 16]),
            name: "../../.bashrc".into(),
            size: 10,
            hash: [1; 32],
            port: 4000,
        };
        let cancel = FileSignal::Cancel {
            id: offer.id,
            reason: CancelReason::Changed,
        };
        let good = Body::FileOffer(offer.clone()).encode().unwrap_or_default();
        // The same offer naming port 0: malformed.
        let mut bad = good.clone();
        bad[56..58].copy_from_slice(&[0, 0]);
        let cancel_bytes = Body::from(cancel.clone()).encode().unwrap_or_default();
        for (id, content, bytes) in [
            (1, Content::FileOffer, good),
            (2, Content::FileOffer, bad),
            (3, Content::FileCancel, cancel_bytes),
        ] {
            let sent = alice.send(
                node(2),
                MsgId(id),
                100 + id as i64,
                content,
                bytes,
                &mut events,
            );
            assert_eq!(sent, Ok(true));
        }
        let mut stats = Stats::default();
        let (_, packets) = alice
            .packets(now, node(2), &mut stats)
            .unwrap_or((addr(0), vec![]));
        assert!(!packets.is_empty());
        events.clear();
        let mut at_bob = Stats::default();
        for p in packets {
            bob.on_packet(now, p, &mut events, &mut at_bob);
        }
        let files: Vec<&Event> = events
            .iter()
            .filter(|e| matches!(e, Event::File { .. }))
            .collect();
        assert_eq!(
            files,
            [
                &Event::File {
                    from: node(1),
                    id: MsgId(1),
                    sent_at_ms: 101,
                    signal: FileSignal::Offer(offer),
                },
                &Event::File {
                    from: node(1),
                    id: MsgId(3),
                    sent_at_ms: 103,
                    signal: cancel,
                },
            ]
        );
        assert_eq!(at_bob.malformed, 1);
        assert_eq!(events.len(), 2, "nothing else came up: {events:?}");
    }
}
