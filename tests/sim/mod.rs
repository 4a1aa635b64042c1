//! A simulated network for sans-IO endpoints: a virtual clock, per-datagram latency, and a
//! hook that can drop datagrams. All endpoints share one broadcast domain for discovery.

#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(dead_code)]

use lanchat::proto::{
    ConversationId, DeliveryState, Destination, Endpoint, EndpointConfig, Event, Identity, MsgId,
    NodeId, Trust,
};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

pub struct SimNode {
    pub addr: SocketAddr,
    pub endpoint: Endpoint,
    pub events: Vec<(Duration, Event)>,
    /// Powered off: receives nothing, sends nothing, sets no deadlines.
    pub down: bool,
}

/// A datagram on its way: (arrival, sequence for ties, receiver index, sender, payload, to
/// the receiver's IP Messenger socket).
type InFlight = Reverse<(Instant, u64, usize, SocketAddr, Vec<u8>, bool)>;
/// Decides whether a datagram (from, to, payload) gets through.
pub type Filter = Box<dyn FnMut(SocketAddr, SocketAddr, &[u8]) -> bool>;

pub struct Network {
    pub start: Instant,
    pub now: Instant,
    pub nodes: Vec<SimNode>,
    pub latency: Duration,
    queue: BinaryHeap<InFlight>,
    seq: u64,
    /// Datagrams put on the wire, by sender index.
    pub sent: Vec<u64>,
    /// Return false to drop a datagram (from, to, payload). A sealed frame is shown to the
    /// filter as its plaintext packet.
    pub filter: Filter,
    /// Random loss, duplication and reordering, applied after `filter`.
    pub chaos: Option<Chaos>,
    /// When set, every datagram put on the wire, as sent: (from, to, bytes).
    pub log: Option<Vec<(SocketAddr, SocketAddr, Vec<u8>)>>,
}

/// Seeded network misbehaviour, the same in both directions.
pub struct Chaos {
    pub loss: f64,
    pub duplicate: f64,
    /// Share of datagrams held back by up to `reorder_delay` extra, so later ones overtake.
    pub reorder: f64,
    pub reorder_delay: Duration,
    pub rng: lanchat::rng::Rng,
    pub dropped: u64,
}

impl Chaos {
    pub fn new(loss: f64, duplicate: f64, reorder: f64, seed: u64) -> Self {
        Self {
            loss,
            duplicate,
            reorder,
            reorder_delay: Duration::from_millis(20),
            rng: lanchat::rng::Rng::new(seed),
            dropped: 0,
        }
    }

    fn chance(&mut self, p: f64) -> bool {
        (self.rng.next_u64() as f64 / u64::MAX as f64) < p
    }

    /// The extra delays of the copies of one datagram that get through.
    fn copies(&mut self) -> Vec<Duration> {
        if self.chance(self.loss) {
            self.dropped += 1;
            return Vec::new();
        }
        let mut out = vec![self.delay()];
        if self.chance(self.duplicate) {
            out.push(self.delay());
        }
        out
    }

    fn delay(&mut self) -> Duration {
        if self.chance(self.reorder) {
            let max = self.reorder_delay.as_micros() as u64;
            Duration::from_micros(self.rng.below(max + 1))
        } else {
            Duration::ZERO
        }
    }
}

/// Node `n`'s key pair: secret `[n; 32]`.
pub fn identity(n: u8) -> Identity {
    Identity::from_secret([n; 32])
}

/// Node `n`'s id: the public half of [`identity`].
pub fn node_id(n: u8) -> NodeId {
    identity(n).public()
}

pub fn addr(n: u8) -> SocketAddr {
    SocketAddr::from(([10, 0, 0, n], 47475))
}

/// Where a node's IP Messenger socket is: its IP, port 2425.
pub fn ipmsg_addr(at: SocketAddr) -> SocketAddr {
    SocketAddr::new(at.ip(), 2425)
}

impl Network {
    pub fn new() -> Self {
        let start = Instant::now();
        Self {
            start,
            now: start,
            nodes: Vec::new(),
            latency: Duration::from_millis(5),
            queue: BinaryHeap::new(),
            seq: 0,
            sent: Vec::new(),
            filter: Box::new(|_, _, _| true),
            chaos: None,
            log: None,
        }
    }

    /// Adds node `n` (id `[n; 32]`, address 10.0.0.n:47475) with the given tweaks.
    pub fn add(&mut self, n: u8, name: &str, tweak: impl FnOnce(&mut EndpointConfig)) -> usize {
        self.add_at(n, addr(n), name, tweak)
    }

    /// Adds node `n` (id `[n; 32]`) at `at`, which may share its IP with other nodes (many
    /// users on one host): the endpoint announces `at`'s port.
    pub fn add_at(
        &mut self,
        n: u8,
        at: SocketAddr,
        name: &str,
        tweak: impl FnOnce(&mut EndpointConfig),
    ) -> usize {
        let mut cfg = EndpointConfig::new(identity(n), name, at.port());
        // Handshake timestamps grow across restarts, as the wall clock does.
        cfg.wall_clock_ms = 1_700_000_000_000 + self.elapsed().as_millis() as u64;
        tweak(&mut cfg);
        let endpoint = Endpoint::new(cfg, self.now, u64::from(n));
        self.nodes.push(SimNode {
            addr: at,
            endpoint,
            events: Vec::new(),
            down: false,
        });
        self.sent.push(0);
        let i = self.nodes.len() - 1;
        self.nodes[i].endpoint.handle_timeout(self.now);
        self.flush(i);
        i
    }

    pub fn elapsed(&self) -> Duration {
        self.now - self.start
    }

    /// Moves queued transmits and events out of node `i`.
    pub fn flush(&mut self, i: usize) {
        while let Some(t) = self.nodes[i].endpoint.poll_transmit() {
            if self.nodes[i].down {
                continue;
            }
            let ipmsg = matches!(t.dst, Destination::Ipmsg(_) | Destination::IpmsgBroadcast);
            let from = if ipmsg {
                ipmsg_addr(self.nodes[i].addr)
            } else {
                self.nodes[i].addr
            };
            self.sent[i] += 1;
            if let (Some(log), Destination::Unicast(to) | Destination::Ipmsg(to)) =
                (self.log.as_mut(), &t.dst)
                && !self
                    .nodes
                    .iter()
                    .any(|n| n.addr == *to || ipmsg_addr(n.addr) == *to)
            {
                // Addressed to nobody in the simulation: logged all the same.
                log.push((from, *to, t.payload.clone()));
            }
            if let (Some(log), Destination::IpmsgBroadcast) = (self.log.as_mut(), &t.dst) {
                // The broadcast itself, as it goes on the wire.
                log.push((from, SocketAddr::from(([255; 4], 2425)), t.payload.clone()));
            }
            let targets: Vec<usize> = match t.dst {
                Destination::Discovery => (0..self.nodes.len()).filter(|j| *j != i).collect(),
                Destination::IpmsgBroadcast => (0..self.nodes.len())
                    .filter(|j| *j != i && self.nodes[*j].endpoint.ipmsg_on())
                    .collect(),
                Destination::Unicast(to) => (0..self.nodes.len())
                    .filter(|j| self.nodes[*j].addr == to)
                    .collect(),
                Destination::Ipmsg(to) => (0..self.nodes.len())
                    .filter(|j| ipmsg_addr(self.nodes[*j].addr) == to)
                    .collect(),
            };
            for j in targets {
                let to = if ipmsg {
                    ipmsg_addr(self.nodes[j].addr)
                } else {
                    self.nodes[j].addr
                };
                if let Some(log) = self.log.as_mut() {
                    log.push((from, to, t.payload.clone()));
                }
                // Filters see packets as the receiver will, decrypted.
                let seen = self.nodes[j].endpoint.peek(&t.payload);
                if !(self.filter)(from, to, seen.as_deref().unwrap_or(&t.payload)) {
                    continue;
                }
                let delays = match self.chaos.as_mut() {
                    Some(chaos) => chaos.copies(),
                    None => vec![Duration::ZERO],
                };
                for extra in delays {
                    self.seq += 1;
                    self.queue.push(Reverse((
                        self.now + self.latency + extra,
                        self.seq,
                        j,
                        from,
                        t.payload.clone(),
                        ipmsg,
                    )));
                }
            }
        }
        let elapsed = self.elapsed();
        while let Some(e) = self.nodes[i].endpoint.poll_event() {
            self.nodes[i].events.push((elapsed, e));
        }
    }

    /// Hands node `j` a datagram from `from` now, as if it had just arrived.
    pub fn inject(&mut self, j: usize, from: SocketAddr, payload: &[u8]) {
        let now = self.now;
        self.nodes[j].endpoint.handle_datagram(now, from, payload);
        self.flush(j);
    }

    /// Hands node `j`'s IP Messenger socket a datagram from `from` now.
    pub fn inject_ipmsg(&mut self, j: usize, from: SocketAddr, payload: &[u8]) {
        let now = self.now;
        self.nodes[j].endpoint.handle_ipmsg(now, from, payload);
        self.flush(j);
    }

    /// Runs the network until virtual time `until` (relative to the start).
    pub fn run_until(&mut self, until: Duration) {
        let end = self.start + until;
        // Each node's next deadline. Only what a node handles changes it, so it is asked
        // again only after that (with many nodes, asking all of them at every step is most
        // of the work).
        let mut timers: Vec<Option<Instant>> =
            (0..self.nodes.len()).map(|i| self.timer(i)).collect();
        loop {
            let next_delivery = self.queue.peek().map(|Reverse((at, ..))| *at);
            let next_timer = timers.iter().flatten().min().copied();
            let next = match (next_delivery, next_timer) {
                (Some(a), Some(b)) => a.min(b),
                (Some(a), None) | (None, Some(a)) => a,
                (None, None) => break,
            };
            if next > end {
                break;
            }
            self.now = self.now.max(next);
            if next_delivery == Some(next) {
                if let Some(Reverse((_, _, j, from, payload, ipmsg))) = self.queue.pop()
                    && !self.nodes[j].down
                {
                    let now = self.now;
                    if ipmsg {
                        self.nodes[j].endpoint.handle_ipmsg(now, from, &payload);
                    } else {
                        self.nodes[j].endpoint.handle_datagram(now, from, &payload);
                    }
                    self.flush(j);
                    timers[j] = self.timer(j);
                }
            } else {
                for (i, timer) in timers.iter_mut().enumerate() {
                    if timer.is_some_and(|t| t <= self.now) {
                        self.nodes[i].endpoint.handle_timeout(self.now);
                        self.flush(i);
                        *timer = self.timer(i);
                    }
                }
            }
        }
        self.now = self.now.max(end);
    }

    /// Node `i`'s next deadline (none while it is down).
    fn timer(&self, i: usize) -> Option<Instant> {
        let n = &self.nodes[i];
        if n.down {
            None
        } else {
            n.endpoint.poll_timeout()
        }
    }

    /// Events of node `i` since the last call.
    pub fn take_events(&mut self, i: usize) -> Vec<(Duration, Event)> {
        std::mem::take(&mut self.nodes[i].events)
    }
}

pub fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

/// Texts of messages handed up, in order.
pub fn texts(events: &[(Duration, Event)]) -> Vec<String> {
    events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::Message { text, .. } => Some(text.clone()),
            _ => None,
        })
        .collect()
}

/// A peer driven by hand: it shakes hands with one endpoint for real, then sends whatever
/// packets a test makes up, sealed as the endpoint expects. For feeding an endpoint what a
/// well-behaved peer never would.
pub struct HandPeer {
    pub id: NodeId,
    pub addr: SocketAddr,
    secure: lanchat::proto::secure::Secure,
}

impl HandPeer {
    pub fn new(n: u8, addr: SocketAddr, now: Instant) -> Self {
        let me = identity(n);
        Self {
            id: me.public(),
            addr,
            secure: lanchat::proto::secure::Secure::new(me, "hand", now, 1, u64::from(n)),
        }
    }

    /// Completes a handshake with `net.nodes[j]`, datagram by datagram, at `net.now`.
    pub fn connect(&mut self, net: &mut Network, j: usize) {
        let now = net.now;
        let target = net.nodes[j].endpoint.node();
        let target_addr = net.nodes[j].addr;
        self.secure.connect(now, target, target_addr);
        for _ in 0..4 {
            while let Some((_, bytes)) = self.secure.poll_transmit() {
                net.nodes[j]
                    .endpoint
                    .handle_datagram(now, self.addr, &bytes);
            }
            while let Some(t) = net.nodes[j].endpoint.poll_transmit() {
                if t.dst == Destination::Unicast(self.addr)
                    && let Ok(frame) = lanchat::proto::wire::Frame::decode(&t.payload)
                {
                    self.secure.open(now, target_addr, frame);
                }
            }
        }
        assert!(self.secure.has_session(now, &target), "handshake done");
    }

    /// `frame` (an encoded packet), sealed for `net.nodes[j]`, delivered at once.
    pub fn send(&mut self, net: &mut Network, j: usize, frame: Vec<u8>) {
        let now = net.now;
        let target = net.nodes[j].endpoint.node();
        self.secure.seal(now, target, net.nodes[j].addr, frame);
        while let Some((_, bytes)) = self.secure.poll_transmit() {
            net.nodes[j]
                .endpoint
                .handle_datagram(now, self.addr, &bytes);
        }
    }
}

/// A handshake initiation from a key made from `n`, to `target` at `target_addr`: XX, or IK
/// when `ik` (the initiator then knows the target's key).
pub fn initiation(
    n: u8,
    target: NodeId,
    target_addr: SocketAddr,
    now: Instant,
    ik: bool,
) -> Vec<u8> {
    initiation_as(
        &identity(n),
        "someone",
        u64::from(n),
        target,
        target_addr,
        now,
        ik,
    )
}

/// A handshake initiation from the key pair `me`, calling itself `name` (IK carries the
/// name in its first message), with a fresh ephemeral key drawn from `seed`. Built by the
/// real handshake code, so it is exactly what a lanchat node would send: an attacker on
/// the LAN can make as many as it likes (the responder's key is public).
pub fn initiation_as(
    me: &Identity,
    name: &str,
    seed: u64,
    target: NodeId,
    target_addr: SocketAddr,
    now: Instant,
    ik: bool,
) -> Vec<u8> {
    // A clock far ahead of the simulation's, so no timestamp of a real node is newer.
    let wall_ms = 2_000_000_000_000;
    let mut s = lanchat::proto::secure::Secure::new(me.clone(), name, now, wall_ms, seed);
    if ik {
        s.pin(target);
    }
    s.connect(now, target, target_addr);
    s.poll_transmit().expect("an initiation").1
}

/// A discovery beacon as anyone can write it: any key, any name, any claimed port.
pub fn beacon(node: NodeId, port: u16, want_reply: bool, name: &str) -> Vec<u8> {
    lanchat::proto::wire::Frame::Beacon(lanchat::proto::wire::Beacon {
        node,
        port,
        want_reply,
        unicast: false,
        name: name.to_owned(),
    })
    .encode()
    .expect("a beacon")
}

/// A goodbye in the clear, naming any key.
pub fn goodbye(node: NodeId) -> Vec<u8> {
    lanchat::proto::wire::Frame::Goodbye { node }
        .encode()
        .expect("a goodbye")
}

/// Spoofed source number `i` (0..65,536): 10.100.0.0/16 and up, never a simulated node's
/// address (those are 10.0.0.n).
pub fn spoofed(i: usize) -> SocketAddr {
    let i = i as u32;
    SocketAddr::from((
        [10, 100 + (i >> 16) as u8, (i >> 8) as u8, i as u8],
        40_000 + (i % 1000) as u16,
    ))
}

/// What a logged datagram is, by its frame kind (for tests that count what went where).
pub fn kind(bytes: &[u8]) -> &'static str {
    use lanchat::proto::wire::{self, Frame, Pattern};
    match Frame::decode(bytes) {
        Ok(Frame::HandshakeInit {
            pattern: Pattern::Xx,
            ..
        }) => "init-xx",
        Ok(Frame::HandshakeInit {
            pattern: Pattern::Ik,
            ..
        }) => "init-ik",
        Ok(Frame::HandshakeReply { .. }) => "reply",
        Ok(Frame::HandshakeFinal { .. }) => "final",
        Ok(Frame::Sealed { .. }) => "sealed",
        Ok(Frame::Packet(_)) => "packet",
        Ok(Frame::Beacon(_)) => "beacon",
        Ok(Frame::Goodbye { .. }) => "goodbye",
        Ok(Frame::Cookie { .. }) => "cookie",
        Err(_) if !wire::is_native(bytes) => "plain",
        Err(_) => "garbage",
    }
}

/// Node `from` sends `text` to key `to` as message `id`.
pub fn send(net: &mut Network, from: usize, to: NodeId, id: u64, text: &str) {
    let now = net.now;
    net.nodes[from]
        .endpoint
        .send_message(now, ConversationId::Peer(to), MsgId(id), 0, text)
        .expect("accepted");
    net.flush(from);
}

/// The trust events among `events`: (key, trust, same name as).
pub fn trust_events(events: &[(Duration, Event)]) -> Vec<(NodeId, Trust, Option<NodeId>)> {
    events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::Trust {
                peer,
                trust,
                same_name_as,
            } => Some((*peer, *trust, *same_name_as)),
            _ => None,
        })
        .collect()
}

/// Was my message `id` delivered, as `events` say?
pub fn delivered(events: &[(Duration, Event)], id: u64) -> bool {
    events.iter().any(|(_, e)| {
        matches!(e, Event::State { id: i, state: DeliveryState::Delivered } if *i == MsgId(id))
    })
}

/// Runs the network for `d` more virtual time.
pub fn run_for(net: &mut Network, d: Duration) {
    let until = net.elapsed() + d;
    net.run_until(until);
}
