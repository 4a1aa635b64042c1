//! Reliable, ordered messages over lossy datagrams: one [`SendStream`] and one
//! [`RecvStream`] per peer.
//!
//! Messages are numbered (`msn`) and cut into fragments; every data packet gets a fresh packet
//! number (`pn`), retransmissions included, so each ack gives an unambiguous round-trip
//! sample. The receiver acknowledges packet numbers in ranges (cumulative and selective at
//! once): at once for the last packet of a burst or on a gap, otherwise a little late so
//! acks batch. The sender retransmits a
//! fragment when later packets are acknowledged and it is not (fast retransmit) or when its
//! timer runs out (RTO from smoothed RTT, doubled on every timeout without progress). The
//! receiver puts fragments together and hands messages up in `msn` order.

use super::MsgId;
use super::wire::{self, Ack, Content, Data};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};

/// Retransmission timeout before any round trip was measured.
pub const INITIAL_RTO: Duration = Duration::from_secs(1);
pub const MIN_RTO: Duration = Duration::from_millis(200);
pub const MAX_RTO: Duration = Duration::from_secs(8);
/// How long the receiver may hold an ack back to batch it.
pub const ACK_DELAY: Duration = Duration::from_millis(25);
/// Acknowledge at once after this many unacknowledged data packets.
pub const ACK_EVERY: usize = 4;
/// Data packets in flight per peer. With durable acks a message is acknowledged once
/// stored, so the window is what one store transaction can batch: 64 held ingest to 39k
/// messages/s, 256 lets it reach ~100k (benches/ingest.rs).
pub const WINDOW: usize = 256;
/// How far past the oldest unsettled message the sender may run ahead (and the receiver
/// buffers). Twice the window: were it equal, each ack of the oldest message would open
/// one slot and a burst would go out one packet per ack (2 datagrams per message instead
/// of 1.25, benches/delivery.rs).
pub const MAX_AHEAD: u64 = 512;
/// A fragment counts as lost once this many later packets were acknowledged.
const REORDER_THRESHOLD: u64 = 3;
/// Packet-number ranges the receiver remembers for acks.
const MAX_RANGES: usize = 32;
/// Bytes of incomplete or out-of-order messages held per peer. The message the receiver is
/// waiting for is always accepted, so this can slow a peer down but never wedge it.
pub const MAX_BUFFERED_BYTES: usize = 1 << 20;
/// With durable acks: messages handed up but not yet stored, at most. Beyond this new data
/// is refused until the store catches up.
pub const MAX_UNCONFIRMED: usize = 4096;
/// Bytes a fragment slot is charged against the buffer budget, whatever it holds.
const SLOT_COST: usize = 32;
/// Held packet numbers kept per message (copies beyond are simply not acknowledged).
const MAX_HELD_PER_MESSAGE: usize = 64;
/// Incomplete messages are dropped after this (the sender gives up well before).
pub const REASSEMBLY_TIMEOUT: Duration = Duration::from_secs(60);

/// A set of packet numbers as sorted, non-touching inclusive ranges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RangeSet {
    /// Ascending.
    ranges: Vec<(u64, u64)>,
}

impl RangeSet {
    pub fn contains(&self, v: u64) -> bool {
        let i = self.ranges.partition_point(|(_, e)| *e < v);
        self.ranges.get(i).is_some_and(|(s, _)| *s <= v)
    }

    /// Adds `v`; false if it was already there.
    pub fn insert(&mut self, v: u64) -> bool {
        let i = self
            .ranges
            .partition_point(|(_, e)| e.saturating_add(1) < v);
        match self.ranges.get(i).copied() {
            Some((s, e)) if s <= v && v <= e => return false,
            Some((s, e)) if v.checked_add(1) == Some(s) || e.checked_add(1) == Some(v) => {
                let r = &mut self.ranges[i];
                r.0 = r.0.min(v);
                r.1 = r.1.max(v);
                // Merge with the next range if they now touch.
                if let Some(next) = self.ranges.get(i + 1).copied()
                    && self.ranges[i].1.checked_add(1) == Some(next.0)
                {
                    self.ranges[i].1 = next.1;
                    self.ranges.remove(i + 1);
                }
            }
            _ => self.ranges.insert(i, (v, v)),
        }
        if self.ranges.len() > MAX_RANGES {
            self.ranges.remove(0);
        }
        true
    }

    pub fn max(&self) -> Option<u64> {
        self.ranges.last().map(|(_, e)| *e)
    }

    /// Up to `n` ranges, highest first.
    pub fn highest(&self, n: usize) -> Vec<(u64, u64)> {
        self.ranges.iter().rev().take(n).copied().collect()
    }

    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }
}

/// Smoothed round-trip time and the retransmission timeout (RFC 6298).
#[derive(Debug, Clone, Default)]
pub struct Rtt {
    srtt: Option<Duration>,
    rttvar: Duration,
}

impl Rtt {
    pub fn sample(&mut self, rtt: Duration) {
        match self.srtt {
            None => {
                self.srtt = Some(rtt);
                self.rttvar = rtt / 2;
            }
            Some(srtt) => {
                let diff = srtt.abs_diff(rtt);
                self.rttvar = self.rttvar * 3 / 4 + diff / 4;
                self.srtt = Some(srtt * 7 / 8 + rtt / 8);
            }
        }
    }

    pub fn srtt(&self) -> Option<Duration> {
        self.srtt
    }

    pub fn rto(&self) -> Duration {
        match self.srtt {
            None => INITIAL_RTO,
            Some(srtt) => {
                (srtt + (self.rttvar * 4).max(Duration::from_millis(1))).clamp(MIN_RTO, MAX_RTO)
            }
        }
    }
}

#[derive(Debug)]
struct OutFragment {
    payload: Vec<u8>,
    acked: bool,
    /// The packet number it is in flight as, if it is.
    in_flight: Option<u64>,
    /// Waiting in the retransmit queue.
    queued: bool,
}

#[derive(Debug)]
struct OutMessage {
    id: MsgId,
    content: Content,
    sent_at_ms: i64,
    fragments: Vec<OutFragment>,
    unacked: usize,
    first_sent: Option<Instant>,
    /// Fragments not yet sent even once start here.
    next_fresh: usize,
}

#[derive(Debug, Clone, Copy)]
struct InFlight {
    msn: u64,
    frag: u16,
    sent: Instant,
}

/// What happened to messages on the send side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome {
    Delivered(MsgId, Content),
    /// Given up on; the message comes back (id, content, sent_at_ms, bytes) for a retry.
    Failed(MsgId, Content, i64, Vec<u8>),
}

#[derive(Debug)]
pub struct SendStream {
    epoch: u64,
    next_msn: u64,
    next_pn: u64,
    messages: BTreeMap<u64, OutMessage>,
    in_flight: BTreeMap<u64, InFlight>,
    retransmit: VecDeque<(u64, u16)>,
    rtt: Rtt,
    /// Timeouts in a row without an ack in between: the RTO is doubled this many times.
    backoff: u32,
    give_up: Duration,
    largest_acked: Option<u64>,
    /// No message below this has fragments that were never sent.
    fresh_cursor: u64,
    pub retransmissions: u64,
}

impl SendStream {
    pub fn new(epoch: u64, give_up: Duration) -> Self {
        Self {
            epoch,
            next_msn: 0,
            next_pn: 0,
            messages: BTreeMap::new(),
            in_flight: BTreeMap::new(),
            retransmit: VecDeque::new(),
            rtt: Rtt::default(),
            backoff: 0,
            give_up,
            largest_acked: None,
            fresh_cursor: 0,
            retransmissions: 0,
        }
    }

    /// Retransmission timeouts in a row without an ack in between.
    pub fn timeouts_in_a_row(&self) -> u32 {
        self.backoff
    }

    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    pub fn rtt(&self) -> &Rtt {
        &self.rtt
    }

    /// Messages not yet settled (delivered or failed).
    pub fn unsettled(&self) -> usize {
        self.messages.len()
    }

    /// Queues a message. The caller checked its size against [`wire::MAX_MESSAGE_BYTES`].
    pub fn push(&mut self, id: MsgId, content: Content, sent_at_ms: i64, bytes: &[u8]) {
        let fragments: Vec<OutFragment> = if bytes.is_empty() {
            vec![Vec::new()]
        } else {
            bytes
                .chunks(wire::FRAGMENT_BYTES)
                .map(<[u8]>::to_vec)
                .collect()
        }
        .into_iter()
        .map(|payload| OutFragment {
            payload,
            acked: false,
            in_flight: None,
            queued: false,
        })
        .collect();
        let msn = self.next_msn;
        self.next_msn += 1;
        self.messages.insert(
            msn,
            OutMessage {
                id,
                content,
                sent_at_ms,
                unacked: fragments.len(),
                fragments,
                first_sent: None,
                next_fresh: 0,
            },
        );
    }

    /// The oldest message not yet settled; everything below it is.
    pub fn base(&self) -> u64 {
        self.messages
            .keys()
            .next()
            .copied()
            .unwrap_or(self.next_msn)
    }

    fn rto_now(&self) -> Duration {
        (self.rtt.rto() * 2u32.saturating_pow(self.backoff)).min(MAX_RTO)
    }

    /// The next data packet to send, if the window allows one.
    pub fn poll_data(&mut self, now: Instant) -> Option<Data> {
        if self.in_flight.len() >= WINDOW {
            return None;
        }
        let (msn, frag) = self.next_to_send()?;
        let base = self.base();
        let pn = self.next_pn;
        self.next_pn += 1;
        let m = self.messages.get_mut(&msn)?;
        m.first_sent.get_or_insert(now);
        let frag_count = m.fragments.len() as u16;
        let f = m.fragments.get_mut(usize::from(frag))?;
        f.in_flight = Some(pn);
        f.queued = false;
        self.in_flight.insert(
            pn,
            InFlight {
                msn,
                frag,
                sent: now,
            },
        );
        let mut data = Data {
            pn,
            msn,
            base,
            id: m.id,
            content: m.content,
            sent_at_ms: m.sent_at_ms,
            frag_index: frag,
            frag_count,
            ack_now: false,
            payload: f.payload.clone(),
        };
        // The last packet of a burst asks for its ack now. (A full window does not: acks
        // come every ACK_EVERY packets anyway.)
        data.ack_now = !self.has_more();
        Some(data)
    }

    fn next_to_send(&mut self) -> Option<(u64, u16)> {
        while let Some((msn, frag)) = self.retransmit.pop_front() {
            let live = self
                .messages
                .get(&msn)
                .and_then(|m| m.fragments.get(usize::from(frag)))
                .is_some_and(|f| !f.acked && f.in_flight.is_none());
            if live {
                self.retransmissions += 1;
                return Some((msn, frag));
            }
        }
        let limit = self.base().saturating_add(MAX_AHEAD);
        let from = self.fresh_cursor;
        for (msn, m) in self.messages.range_mut(from..limit) {
            if m.next_fresh < m.fragments.len() {
                let frag = m.next_fresh as u16;
                m.next_fresh += 1;
                self.fresh_cursor = *msn;
                return Some((*msn, frag));
            }
        }
        None
    }

    /// Is anything waiting to be sent, window or not?
    fn has_more(&self) -> bool {
        if !self.retransmit.is_empty() {
            return true;
        }
        let limit = self.base().saturating_add(MAX_AHEAD);
        self.messages
            .range(self.fresh_cursor..limit)
            .any(|(_, m)| m.next_fresh < m.fragments.len())
    }

    /// Processes an ack for this stream. Returns messages now fully acknowledged.
    pub fn on_ack(&mut self, now: Instant, ack: &Ack) -> Vec<SendOutcome> {
        let mut done = Vec::new();
        if ack.epoch != self.epoch {
            return done; // for an earlier life of ours
        }
        let mut newly_acked_largest = None;
        // Lowest first, so messages settle in the order they were sent.
        for &(start, end) in ack.ranges.iter().rev() {
            let pns: Vec<u64> = self
                .in_flight
                .range(start..=end)
                .map(|(pn, _)| *pn)
                .collect();
            for pn in pns {
                let Some(f) = self.in_flight.remove(&pn) else {
                    continue;
                };
                newly_acked_largest = newly_acked_largest.max(Some((pn, f.sent)));
                let Some(m) = self.messages.get_mut(&f.msn) else {
                    continue;
                };
                if let Some(frag) = m.fragments.get_mut(usize::from(f.frag))
                    && !frag.acked
                {
                    frag.acked = true;
                    frag.in_flight = None;
                    m.unacked -= 1;
                }
                if m.unacked == 0 {
                    done.push(SendOutcome::Delivered(m.id, m.content));
                    self.messages.remove(&f.msn);
                }
            }
        }
        if let Some((pn, sent)) = newly_acked_largest {
            self.backoff = 0;
            self.largest_acked = self.largest_acked.max(Some(pn));
            // The highest packet the ack names is the one its delay refers to.
            if ack.ranges.first().is_some_and(|(_, e)| *e == pn) {
                let rtt = now.saturating_duration_since(sent);
                let delay = Duration::from_millis(u64::from(ack.delay_ms));
                self.rtt.sample(rtt.checked_sub(delay).unwrap_or(rtt));
            }
            self.detect_losses(now);
        }
        done
    }

    /// Fast retransmit: a fragment sent before a packet that was acknowledged is lost once
    /// several later packets were acknowledged too, or once it is older than a round trip
    /// and a bit (reordering no longer explains it). As in QUIC's loss detection.
    fn detect_losses(&mut self, now: Instant) {
        let Some(largest) = self.largest_acked else {
            return;
        };
        let threshold = largest.saturating_sub(REORDER_THRESHOLD);
        let max_age = self.rtt.srtt().unwrap_or(INITIAL_RTO) * 9 / 8;
        let lost: Vec<u64> = self
            .in_flight
            .range(..largest)
            .filter(|(pn, f)| **pn <= threshold || now.saturating_duration_since(f.sent) >= max_age)
            .map(|(pn, _)| *pn)
            .collect();
        for pn in lost {
            self.requeue(pn);
        }
    }

    fn requeue(&mut self, pn: u64) {
        if let Some(f) = self.in_flight.remove(&pn)
            && let Some(m) = self.messages.get_mut(&f.msn)
            && let Some(frag) = m.fragments.get_mut(usize::from(f.frag))
        {
            frag.in_flight = None;
            if !frag.queued {
                frag.queued = true;
                self.retransmit.push_back((f.msn, f.frag));
            }
        }
    }

    /// Runs timers: fragments whose retransmission timer ran out are queued again, and
    /// messages unacknowledged for the give-up time fail.
    pub fn on_timeout(&mut self, now: Instant) -> Vec<SendOutcome> {
        let rto = self.rto_now();
        let expired: Vec<u64> = self
            .in_flight
            .iter()
            .filter(|(_, f)| f.sent + rto <= now)
            .map(|(pn, _)| *pn)
            .collect();
        if !expired.is_empty() {
            self.backoff = self.backoff.saturating_add(1).min(16);
        }
        for pn in expired {
            self.requeue(pn);
        }
        // Messages are first sent in msn order, so the ones to fail are a prefix.
        let give_up = self.give_up;
        let failed: Vec<u64> = self
            .messages
            .iter()
            .take_while(|(_, m)| m.first_sent.is_some_and(|t| t + give_up <= now))
            .map(|(msn, _)| *msn)
            .collect();
        let mut out = Vec::new();
        for msn in failed {
            if let Some(m) = self.messages.remove(&msn) {
                let bytes = m.fragments.into_iter().flat_map(|f| f.payload).collect();
                out.push(SendOutcome::Failed(m.id, m.content, m.sent_at_ms, bytes));
            }
            self.in_flight.retain(|_, f| f.msn != msn);
        }
        out
    }

    /// When [`on_timeout`](Self::on_timeout) next has work.
    pub fn next_deadline(&self) -> Option<Instant> {
        let rto = self.rto_now();
        let retransmit = self.in_flight.values().map(|f| f.sent + rto).min();
        let give_up = self
            .messages
            .values()
            .next()
            .and_then(|m| m.first_sent)
            .map(|t| t + self.give_up);
        retransmit.into_iter().chain(give_up).min()
    }

    /// The peer restarted: whatever it acknowledged of unsettled messages is gone with its
    /// memory, so every fragment of them is sent again.
    pub fn peer_restarted(&mut self) {
        self.in_flight.clear();
        self.retransmit.clear();
        for (msn, m) in self.messages.iter_mut() {
            m.unacked = m.fragments.len();
            for (i, f) in m.fragments.iter_mut().enumerate() {
                f.acked = false;
                f.in_flight = None;
                if i < m.next_fresh {
                    f.queued = true;
                    self.retransmit.push_back((*msn, i as u16));
                } else {
                    f.queued = false;
                }
            }
        }
        self.largest_acked = None;
    }

    /// Takes back every message not yet settled (for an outbox), oldest first.
    pub fn drain_unsettled(&mut self) -> Vec<(MsgId, Content, i64, Vec<u8>)> {
        let messages = std::mem::take(&mut self.messages);
        self.in_flight.clear();
        self.retransmit.clear();
        messages
            .into_values()
            .map(|m| {
                let bytes = m.fragments.into_iter().flat_map(|f| f.payload).collect();
                (m.id, m.content, m.sent_at_ms, bytes)
            })
            .collect()
    }
}

#[derive(Debug)]
struct Partial {
    id: MsgId,
    content: Content,
    sent_at_ms: i64,
    fragments: Vec<Option<Vec<u8>>>,
    have: usize,
    bytes: usize,
    first_seen: Instant,
}

/// A message put back together, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// Its number in the stream.
    pub msn: u64,
    pub id: MsgId,
    pub content: Content,
    pub sent_at_ms: i64,
    pub bytes: Vec<u8>,
}

/// Why a data packet was not taken (it is then not acknowledged either).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Too far ahead of the message being waited for.
    TooFarAhead,
    /// Over the buffer budget.
    Busy,
    /// Fragment metadata disagrees with earlier fragments of the same message.
    Inconsistent,
}

#[derive(Debug)]
pub struct RecvStream {
    epoch: u64,
    /// The next message to hand up; `None` until the first packet says where to start.
    expected: Option<u64>,
    pending: BTreeMap<u64, Partial>,
    buffered: usize,
    received: RangeSet,
    largest: Option<(u64, Instant)>,
    unacked: usize,
    ack_at: Option<Instant>,
    /// Hold back acks for messages until they are confirmed stored.
    durable: bool,
    /// Packets (by message) whose ack waits for the message to be stored.
    held: HashMap<u64, Vec<u64>>,
    /// Messages handed up and not yet confirmed stored, by id (a resent message may have
    /// been handed up under two numbers).
    unconfirmed: HashMap<MsgId, Vec<u64>>,
    /// Message numbers whose store failed: never acknowledged.
    refused: std::collections::HashSet<u64>,
}

impl RecvStream {
    pub fn new(epoch: u64) -> Self {
        Self::with_durable_acks(epoch, false)
    }

    /// A stream whose acks for complete messages wait for [`confirm`](Self::confirm).
    pub fn with_durable_acks(epoch: u64, durable: bool) -> Self {
        Self {
            durable,
            held: HashMap::new(),
            unconfirmed: HashMap::new(),
            refused: std::collections::HashSet::new(),
            epoch,
            expected: None,
            pending: BTreeMap::new(),
            buffered: 0,
            received: RangeSet::default(),
            largest: None,
            unacked: 0,
            ack_at: None,
        }
    }

    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    pub fn buffered_bytes(&self) -> usize {
        self.buffered
    }

    /// Takes a data packet. Returns the messages that are now complete and next in order.
    /// A duplicate is acknowledged again and otherwise ignored.
    pub fn on_data(&mut self, now: Instant, d: Data) -> Result<Vec<Received>, Refused> {
        self.on_data_within(now, d, MAX_BUFFERED_BYTES)
    }

    /// [`on_data`](Self::on_data) with a tighter buffer budget for this peer (the endpoint
    /// passes what is left of its budget for all peers).
    pub fn on_data_within(
        &mut self,
        now: Instant,
        d: Data,
        budget: usize,
    ) -> Result<Vec<Received>, Refused> {
        let budget = budget.min(MAX_BUFFERED_BYTES);
        let expected = *self.expected.get_or_insert(d.base);
        if self.received.contains(d.pn) {
            self.ack_soon(now, true);
            return Ok(Vec::new());
        }
        // Where the receiver stands once it has heard what the sender settled.
        let head = expected.max(d.base);
        if self.refused.contains(&d.msn) {
            return Err(Refused::Busy); // its store failed: never acknowledge this message
        }
        let wanted = d.msn >= head;
        if wanted {
            if d.msn >= head.saturating_add(MAX_AHEAD) {
                return Err(Refused::TooFarAhead);
            }
            let cost = d.payload.len() + SLOT_COST * usize::from(d.frag_count);
            if d.msn != head && self.buffered + cost > budget {
                return Err(Refused::Busy);
            }
            if self.unconfirmed.len() >= MAX_UNCONFIRMED {
                return Err(Refused::Busy);
            }
            if let Some(p) = self.pending.get(&d.msn)
                && (p.id != d.id || p.fragments.len() != usize::from(d.frag_count))
            {
                return Err(Refused::Inconsistent);
            }
        }
        // Accepted: from here on the packet is acknowledged (or, if durable acks hold it
        // back, will be once its message is stored).
        let urgent = d.ack_now
            || self
                .received
                .max()
                .is_some_and(|m| m.checked_add(1).is_some_and(|next| d.pn > next));
        let mut out = Vec::new();
        if d.base > expected {
            self.skip_to(d.base, &mut out);
        }
        let hold = if wanted {
            if !self.pending.contains_key(&d.msn) {
                // The slots count against the budget too, so empty fragments cost something.
                let slots = SLOT_COST * usize::from(d.frag_count);
                self.buffered += slots;
                self.pending.insert(
                    d.msn,
                    Partial {
                        id: d.id,
                        content: d.content,
                        sent_at_ms: d.sent_at_ms,
                        fragments: vec![None; usize::from(d.frag_count)],
                        have: 0,
                        bytes: slots,
                        first_seen: now,
                    },
                );
            }
            let Some(p) = self.pending.get_mut(&d.msn) else {
                return Ok(out);
            };
            if let Some(slot) = p.fragments.get_mut(usize::from(d.frag_index))
                && slot.is_none()
            {
                p.bytes += d.payload.len();
                self.buffered += d.payload.len();
                *slot = Some(d.payload);
                p.have += 1;
            }
            // The packet that completes a message, and any copy after it, is held back
            // until the message is stored: the sender sees "delivered" only then.
            self.durable && p.have == p.fragments.len()
        } else {
            self.durable && self.held.contains_key(&d.msn)
        };
        if hold {
            let held = self.held.entry(d.msn).or_default();
            if !held.contains(&d.pn) && held.len() < MAX_HELD_PER_MESSAGE {
                held.push(d.pn);
            }
        } else {
            self.accept_pn(now, d.pn, urgent);
        }
        self.deliver_ready(&mut out);
        Ok(out)
    }

    /// Counts a packet as received: it goes into the next ack.
    fn accept_pn(&mut self, now: Instant, pn: u64, urgent: bool) {
        self.received.insert(pn);
        if self.largest.is_none_or(|(largest, _)| pn > largest) {
            self.largest = Some((pn, now));
        }
        self.ack_soon(now, urgent);
    }

    /// With durable acks: message `id` (handed up earlier) is stored, so the packets that
    /// completed it may now be acknowledged. Unknown ids are ignored.
    pub fn confirm(&mut self, now: Instant, id: MsgId) {
        let Some(msns) = self.unconfirmed.remove(&id) else {
            return;
        };
        for msn in msns {
            for pn in self.held.remove(&msn).unwrap_or_default() {
                self.accept_pn(now, pn, true);
            }
        }
    }

    /// A copy of a message already handed up (a resend under the same id), as message
    /// number `msn`. If an earlier copy still waits for the store, this one waits with it
    /// (and is released by [`confirm`](Self::confirm)); otherwise it is acknowledged now.
    pub fn settle_copy(&mut self, now: Instant, id: MsgId, msn: u64) {
        let others_waiting = self
            .unconfirmed
            .get(&id)
            .is_some_and(|msns| msns.iter().any(|m| *m != msn));
        if others_waiting {
            return;
        }
        self.confirm(now, id);
    }

    /// The store could not keep message `id`: its packets are never acknowledged (the
    /// sender will give up and try again later, when it may be stored).
    pub fn refuse(&mut self, id: MsgId) {
        for msn in self.unconfirmed.remove(&id).unwrap_or_default() {
            self.held.remove(&msn);
            if self.refused.len() < MAX_UNCONFIRMED {
                self.refused.insert(msn);
            }
        }
    }

    /// Messages handed up and not yet confirmed stored.
    pub fn unconfirmed(&self) -> usize {
        self.unconfirmed.len()
    }

    /// Notes a message going up; with durable acks it now waits for [`confirm`](Self::confirm).
    fn hand_up(&mut self, msn: u64, p: Partial, out: &mut Vec<Received>) {
        if self.durable {
            self.unconfirmed.entry(p.id).or_default().push(msn);
        }
        out.push(assemble(msn, p));
    }

    /// The sender has settled everything below `base`: hand up what is complete there, drop
    /// what is not, and wait for `base` next.
    fn skip_to(&mut self, base: u64, out: &mut Vec<Received>) {
        let below: Vec<u64> = self.pending.range(..base).map(|(m, _)| *m).collect();
        for msn in below {
            if let Some(p) = self.pending.remove(&msn) {
                self.buffered -= p.bytes;
                if p.have == p.fragments.len() {
                    self.hand_up(msn, p, out);
                }
            }
        }
        self.expected = Some(base);
        self.refused.retain(|m| *m >= base);
        self.deliver_ready(out);
    }

    fn deliver_ready(&mut self, out: &mut Vec<Received>) {
        while let Some(expected) = self.expected {
            let complete = self
                .pending
                .get(&expected)
                .is_some_and(|p| p.have == p.fragments.len());
            if !complete {
                break;
            }
            if let Some(p) = self.pending.remove(&expected) {
                self.buffered -= p.bytes;
                self.hand_up(expected, p, out);
            }
            self.expected = Some(expected + 1);
        }
    }

    /// Schedules an ack: at once when asked (the sender has nothing more right behind), on a
    /// gap, or after [`ACK_EVERY`] packets; otherwise a little later, batched.
    fn ack_soon(&mut self, now: Instant, urgent: bool) {
        self.unacked += 1;
        if urgent || self.unacked >= ACK_EVERY {
            self.ack_at = Some(now);
        } else if self.ack_at.is_none() {
            self.ack_at = Some(now + ACK_DELAY);
        }
    }

    /// When an ack is due, if one is.
    pub fn ack_deadline(&self) -> Option<Instant> {
        self.ack_at
    }

    /// Is any ack owed (due now or later)? A data packet going the other way can carry it.
    pub fn owes_ack(&self) -> bool {
        self.ack_at.is_some()
    }

    /// Builds the ack (at most `max_ranges` ranges) and clears what is owed.
    pub fn take_ack(&mut self, now: Instant, max_ranges: usize) -> Option<Ack> {
        self.ack_at?;
        let (largest, at) = self.largest?;
        let ranges = self
            .received
            .highest(max_ranges.clamp(1, wire::MAX_ACK_RANGES));
        debug_assert_eq!(ranges.first().map(|r| r.1), Some(largest));
        self.ack_at = None;
        self.unacked = 0;
        let delay = now.saturating_duration_since(at).as_millis();
        Some(Ack {
            epoch: self.epoch,
            delay_ms: u16::try_from(delay).unwrap_or(u16::MAX),
            ranges,
        })
    }

    /// Drops incomplete messages older than the reassembly timeout.
    pub fn expire(&mut self, now: Instant) {
        let old: Vec<u64> = self
            .pending
            .iter()
            .filter(|(_, p)| p.have < p.fragments.len() && p.first_seen + REASSEMBLY_TIMEOUT <= now)
            .map(|(m, _)| *m)
            .collect();
        for msn in old {
            if let Some(p) = self.pending.remove(&msn) {
                self.buffered -= p.bytes;
            }
        }
    }

    pub fn next_expiry(&self) -> Option<Instant> {
        self.pending
            .values()
            .filter(|p| p.have < p.fragments.len())
            .map(|p| p.first_seen + REASSEMBLY_TIMEOUT)
            .min()
    }
}

fn assemble(msn: u64, p: Partial) -> Received {
    Received {
        msn,
        id: p.id,
        content: p.content,
        sent_at_ms: p.sent_at_ms,
        bytes: p.fragments.into_iter().flatten().flatten().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_set_merges_and_bounds() {
        let mut r = RangeSet::default();
        for v in [5, 3, 4, 10, 1, 11, 12, 2] {
            assert!(r.insert(v));
        }
        assert!(!r.insert(4));
        assert_eq!(r.highest(10), vec![(10, 12), (1, 5)]);
        assert!(r.contains(1) && r.contains(12) && !r.contains(6) && !r.contains(0));
        r.insert(7);
        r.insert(6);
        r.insert(8);
        r.insert(9);
        assert_eq!(r.highest(10), vec![(1, 12)]);
        let mut many = RangeSet::default();
        for v in 0..200 {
            many.insert(v * 2);
        }
        assert_eq!(many.len(), MAX_RANGES);
        assert_eq!(many.max(), Some(398));
    }

    #[test]
    fn rto_follows_rfc6298_and_clamps() {
        let mut rtt = Rtt::default();
        assert_eq!(rtt.rto(), INITIAL_RTO);
        rtt.sample(Duration::from_millis(100));
        // srtt 100, rttvar 50: 100 + 200.
        assert_eq!(rtt.rto(), Duration::from_millis(300));
        for _ in 0..50 {
            rtt.sample(Duration::from_micros(50));
        }
        assert_eq!(rtt.rto(), MIN_RTO);
        let mut slow = Rtt::default();
        slow.sample(Duration::from_secs(5));
        assert_eq!(slow.rto(), MAX_RTO);
    }

    fn t0() -> Instant {
        Instant::now()
    }

    #[test]
    fn fragments_reassemble_in_order_whatever_order_they_come() {
        let now = t0();
        let mut tx = SendStream::new(1, Duration::from_secs(30));
        let long: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
        tx.push(MsgId(1), Content::Text, 0, &long);
        tx.push(MsgId(2), Content::Text, 0, b"short");
        let mut packets = Vec::new();
        while let Some(d) = tx.poll_data(now) {
            packets.push(d);
        }
        assert_eq!(packets.len(), 4);
        let mut rx = RecvStream::new(1);
        let order = [3, 2, 0, 1];
        let mut got = Vec::new();
        for i in order {
            got.extend(rx.on_data(now, packets[i].clone()).expect("taken"));
            if i != 1 {
                assert!(
                    got.is_empty(),
                    "nothing complete before the last missing piece"
                );
            }
        }
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].bytes, long);
        assert_eq!(got[1].bytes, b"short");
        assert_eq!(rx.buffered_bytes(), 0);
        // A duplicate gives nothing and asks for an ack at once.
        assert!(rx.on_data(now, packets[0].clone()).expect("dup").is_empty());
        assert_eq!(rx.ack_deadline(), Some(now));
    }

    #[test]
    fn acks_are_delayed_batched_and_immediate_on_a_gap() {
        let now = t0();
        let mut tx = SendStream::new(1, Duration::from_secs(30));
        for i in 1..=10 {
            tx.push(MsgId(i), Content::Text, 0, b"x");
        }
        let packets: Vec<Data> = std::iter::from_fn(|| tx.poll_data(now)).collect();
        // All ten went out in one burst: only the last asks for its ack at once.
        assert!(packets[..9].iter().all(|p| !p.ack_now));
        assert!(packets[9].ack_now);
        let mut rx = RecvStream::new(1);
        rx.on_data(now, packets[0].clone()).expect("taken");
        assert_eq!(rx.ack_deadline(), Some(now + ACK_DELAY));
        rx.on_data(now, packets[1].clone()).expect("taken");
        assert_eq!(rx.ack_deadline(), Some(now + ACK_DELAY));
        // Packet 2 is lost; 3 shows a gap.
        rx.on_data(now, packets[3].clone()).expect("taken");
        assert_eq!(rx.ack_deadline(), Some(now));
        let ack = rx.take_ack(now, 16).expect("due");
        assert_eq!(ack.ranges, vec![(3, 3), (0, 1)]);
        assert_eq!(rx.ack_deadline(), None);
        let done = tx.on_ack(now + Duration::from_millis(10), &ack);
        assert_eq!(
            done,
            vec![
                SendOutcome::Delivered(MsgId(1), Content::Text),
                SendOutcome::Delivered(MsgId(2), Content::Text),
                SendOutcome::Delivered(MsgId(4), Content::Text)
            ]
        );
        // Eight packets in a row ask for an ack without waiting.
        let mut rx = RecvStream::new(1);
        for p in packets.iter().take(ACK_EVERY - 1) {
            rx.on_data(now, p.clone()).expect("taken");
        }
        assert_eq!(rx.ack_deadline(), Some(now + ACK_DELAY));
        rx.on_data(now, packets[ACK_EVERY - 1].clone())
            .expect("taken");
        assert_eq!(rx.ack_deadline(), Some(now));
        // The burst's last packet asks for its ack at once.
        let mut rx = RecvStream::new(1);
        rx.on_data(now, packets[9].clone()).expect("taken");
        assert_eq!(rx.ack_deadline(), Some(now));
    }

    #[test]
    fn a_lost_fragment_is_resent_fast_once_later_ones_are_acked() {
        let now = t0();
        let mut tx = SendStream::new(1, Duration::from_secs(30));
        for i in 1..=6 {
            tx.push(MsgId(i), Content::Text, 0, b"x");
        }
        let packets: Vec<Data> = std::iter::from_fn(|| tx.poll_data(now)).collect();
        let later = now + Duration::from_secs(2);
        let ack = Ack {
            epoch: 1,
            delay_ms: 0,
            ranges: vec![(1, 5)],
        };
        tx.on_ack(later, &ack);
        let resent = tx.poll_data(later).expect("fast retransmit");
        assert_eq!((resent.msn, resent.pn), (packets[0].msn, 6));
        assert_eq!(tx.retransmissions, 1);
        assert_eq!(tx.base(), 0);
    }

    #[test]
    fn timeouts_back_off_and_messages_fail_at_the_give_up_time() {
        let now = t0();
        let mut tx = SendStream::new(1, Duration::from_secs(30));
        tx.push(MsgId(9), Content::Text, 0, b"anyone?");
        let first = tx.poll_data(now).expect("sent");
        assert_eq!(tx.next_deadline(), Some(now + INITIAL_RTO));
        let mut t = now;
        let mut sends = vec![(first.pn, Duration::ZERO)];
        let mut failed = Vec::new();
        while let Some(deadline) = tx.next_deadline() {
            t = deadline;
            failed.extend(tx.on_timeout(t));
            while let Some(d) = tx.poll_data(t) {
                sends.push((d.pn, t - now));
            }
        }
        let times: Vec<u64> = sends.iter().map(|(_, d)| d.as_secs()).collect();
        // 1 s, then doubling to the 8 s cap.
        assert_eq!(times, vec![0, 1, 3, 7, 15, 23]);
        assert_eq!(
            failed,
            vec![SendOutcome::Failed(
                MsgId(9),
                Content::Text,
                0,
                b"anyone?".to_vec()
            )]
        );
        assert_eq!(t - now, Duration::from_secs(30));
        assert_eq!(tx.base(), 1);
    }

    #[test]
    fn the_receiver_skips_what_the_sender_gave_up_on() {
        let now = t0();
        let mut tx = SendStream::new(1, Duration::from_secs(30));
        tx.push(MsgId(1), Content::Text, 0, b"lost forever");
        tx.push(MsgId(2), Content::Text, 0, b"arrives");
        let lost = tx.poll_data(now).expect("sent");
        let second = tx.poll_data(now).expect("sent");
        let mut rx = RecvStream::new(1);
        let second_pn = second.pn;
        assert!(rx.on_data(now, second).expect("taken").is_empty());
        let ack = Ack {
            epoch: 1,
            delay_ms: 0,
            ranges: vec![(second_pn, second_pn)],
        };
        assert_eq!(
            tx.on_ack(now, &ack),
            vec![SendOutcome::Delivered(MsgId(2), Content::Text)]
        );
        assert_eq!(tx.base(), 0, "message 1 is still unsettled");
        // The sender gives up on message 1; its next packet says so via `base`.
        let later = now + Duration::from_secs(31);
        tx.on_timeout(later);
        assert_eq!(tx.base(), 2);
        tx.push(MsgId(3), Content::Text, 0, b"next");
        let next = tx.poll_data(later).expect("sent");
        assert_eq!(next.base, 2);
        let got: Vec<Vec<u8>> = rx
            .on_data(later, next)
            .expect("taken")
            .into_iter()
            .map(|r| r.bytes)
            .collect();
        assert_eq!(got, vec![b"arrives".to_vec(), b"next".to_vec()]);
        // A late copy of the abandoned message is acknowledged but not shown.
        assert!(rx.on_data(later, lost).expect("taken").is_empty());
    }

    #[test]
    fn the_receiver_refuses_what_it_cannot_buffer() {
        let now = t0();
        let mut rx = RecvStream::new(1);
        let data = |pn: u64, msn: u64, id: u64, count: u16, len: usize| Data {
            pn,
            msn,
            base: 0,
            id: MsgId(id),
            content: Content::Text,
            sent_at_ms: 0,
            frag_index: 0,
            frag_count: count,
            ack_now: false,
            payload: vec![0; len],
        };
        assert_eq!(
            rx.on_data(now, data(0, 0, 1, 2, 10)).map(|v| v.len()),
            Ok(0)
        );
        assert_eq!(
            rx.on_data(now, data(1, MAX_AHEAD, 2, 1, 10)),
            Err(Refused::TooFarAhead)
        );
        assert_eq!(
            rx.on_data(now, data(2, 0, 99, 2, 10)),
            Err(Refused::Inconsistent)
        );
        // Fill the budget with incomplete later messages until one is refused.
        let mut pn = 10;
        let mut refused = None;
        'fill: for msn in 1..MAX_AHEAD {
            for frag in 0..63u16 {
                let mut d = data(pn, msn, 1000 + msn, 64, wire::FRAGMENT_BYTES);
                d.frag_index = frag;
                pn += 1;
                if let Err(e) = rx.on_data(now, d) {
                    refused = Some(e);
                    break 'fill;
                }
            }
        }
        assert_eq!(refused, Some(Refused::Busy));
        assert!(rx.buffered_bytes() <= MAX_BUFFERED_BYTES);
        // The awaited message is still taken.
        let mut second = data(pn + 1, 0, 1, 2, 10);
        second.frag_index = 1;
        let got = rx.on_data(now, second).expect("head of line always fits");
        assert_eq!(got.len(), 1);
        // Incomplete messages expire.
        rx.expire(now + REASSEMBLY_TIMEOUT);
        assert_eq!(rx.buffered_bytes(), 0);
    }

    #[test]
    fn durable_acks_wait_until_the_message_is_stored() {
        let now = t0();
        let mut tx = SendStream::new(1, Duration::from_secs(30));
        tx.push(MsgId(1), Content::Text, 0, &[7u8; 2000]); // two fragments
        tx.push(MsgId(2), Content::Text, 0, b"second");
        let packets: Vec<Data> = std::iter::from_fn(|| tx.poll_data(now)).collect();
        assert_eq!(packets.len(), 3);
        let mut rx = RecvStream::with_durable_acks(1, true);
        assert!(
            rx.on_data(now, packets[0].clone())
                .expect("taken")
                .is_empty()
        );
        // The first fragment alone is acknowledged: the message cannot be complete yet.
        let ack = rx.take_ack(now, 16).expect("due");
        assert_eq!(ack.ranges, vec![(0, 0)]);
        let got = rx.on_data(now, packets[1].clone()).expect("taken");
        assert_eq!(got.len(), 1);
        let got2 = rx.on_data(now, packets[2].clone()).expect("taken");
        assert_eq!(got2.len(), 1);
        // Both complete, neither stored: no ack for the packets that completed them.
        assert_eq!(rx.take_ack(now, 16), None);
        assert_eq!(rx.unconfirmed(), 2);
        // A retransmitted copy of a completing fragment is held as well.
        let mut copy = packets[1].clone();
        copy.pn = 10;
        assert!(rx.on_data(now, copy).expect("dup").is_empty());
        assert_eq!(rx.take_ack(now, 16), None);
        // Stored: acks go out at once, covering every copy.
        rx.confirm(now, MsgId(1));
        assert_eq!(
            rx.take_ack(now, 16).expect("due").ranges,
            vec![(10, 10), (0, 1)]
        );
        rx.confirm(now, MsgId(2));
        assert_eq!(
            rx.take_ack(now, 16).expect("due").ranges,
            vec![(10, 10), (0, 2)]
        );
        assert_eq!(rx.unconfirmed(), 0);
        // The sender sees both delivered only now.
        let ack = Ack {
            epoch: 1,
            delay_ms: 0,
            ranges: vec![(0, 2)],
        };
        assert_eq!(tx.on_ack(now, &ack).len(), 2);
    }

    #[test]
    fn a_receiver_restart_mid_message_sends_every_fragment_again() {
        let now = t0();
        let mut tx = SendStream::new(1, Duration::from_secs(30));
        tx.push(MsgId(1), Content::Text, 0, &[7u8; 2000]);
        let p0 = tx.poll_data(now).expect("fragment 0");
        let _lost = tx.poll_data(now).expect("fragment 1, lost");
        let mut rx = RecvStream::with_durable_acks(1, true);
        rx.on_data(now, p0).expect("taken");
        tx.on_ack(now, &rx.take_ack(now, 16).expect("fragment 0 acked"));
        // The receiver restarts, forgetting fragment 0; the sender learns of it (new epoch).
        tx.peer_restarted();
        let mut rx2 = RecvStream::with_durable_acks(1, true);
        let t = now + Duration::from_secs(1);
        let mut got = Vec::new();
        while let Some(d) = tx.poll_data(t) {
            got.extend(rx2.on_data(t, d).expect("taken"));
        }
        assert_eq!(got.len(), 1, "the whole message arrives again");
        // Not delivered until stored.
        let ack = rx2.take_ack(t, 16);
        let done = ack.map(|a| tx.on_ack(t, &a)).unwrap_or_default();
        assert!(done.is_empty(), "{done:?}");
        rx2.confirm(t, MsgId(1));
        let done = tx.on_ack(t, &rx2.take_ack(t, 16).expect("released"));
        assert_eq!(done, vec![SendOutcome::Delivered(MsgId(1), Content::Text)]);
    }

    #[test]
    fn a_resent_copy_waits_for_the_first_copy_to_be_stored() {
        let now = t0();
        let mut rx = RecvStream::with_durable_acks(1, true);
        let data = |pn: u64, msn: u64| Data {
            pn,
            msn,
            base: 0,
            id: MsgId(5),
            content: Content::Text,
            sent_at_ms: 0,
            frag_index: 0,
            frag_count: 1,
            ack_now: true,
            payload: b"same message".to_vec(),
        };
        assert_eq!(rx.on_data(now, data(0, 0)).expect("first").len(), 1);
        // The sender gave up on msn 0 and resent the message as msn 1.
        assert_eq!(rx.on_data(now, data(1, 1)).expect("copy").len(), 1);
        rx.settle_copy(now, MsgId(5), 1);
        assert_eq!(
            rx.take_ack(now, 16),
            None,
            "nothing stored yet: nothing acked"
        );
        rx.confirm(now, MsgId(5));
        assert_eq!(rx.take_ack(now, 16).expect("both").ranges, vec![(0, 1)]);
        // A store failure refuses a message for good.
        let mut rx = RecvStream::with_durable_acks(1, true);
        rx.on_data(now, data(0, 0)).expect("first");
        rx.refuse(MsgId(5));
        assert_eq!(rx.on_data(now, data(2, 0)), Err(Refused::Busy));
        assert_eq!(rx.take_ack(now, 16), None);
    }
}
