//! A simulated network for sans-IO endpoints: a virtual clock, per-datagram latency, and a
//! hook that can drop datagrams. All endpoints share one broadcast domain for discovery.

#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(dead_code)]

use lanchat::proto::{Destination, Endpoint, EndpointConfig, Event, NodeId};
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

/// A datagram on its way: (arrival, sequence for ties, receiver index, sender, payload).
type InFlight = Reverse<(Instant, u64, usize, SocketAddr, Vec<u8>)>;
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
    /// Return false to drop a datagram (from, to, payload).
    pub filter: Filter,
    /// Random loss, duplication and reordering, applied after `filter`.
    pub chaos: Option<Chaos>,
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

pub fn node_id(n: u8) -> NodeId {
    NodeId([n; 32])
}

pub fn addr(n: u8) -> SocketAddr {
    SocketAddr::from(([10, 0, 0, n], 47475))
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
        }
    }

    /// Adds node `n` (id `[n; 32]`, address 10.0.0.n:47475) with the given tweaks.
    pub fn add(&mut self, n: u8, name: &str, tweak: impl FnOnce(&mut EndpointConfig)) -> usize {
        let mut cfg = EndpointConfig::new(node_id(n), name, 47475);
        tweak(&mut cfg);
        let endpoint = Endpoint::new(cfg, self.now, u64::from(n));
        self.nodes.push(SimNode {
            addr: addr(n),
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
        let from = self.nodes[i].addr;
        while let Some(t) = self.nodes[i].endpoint.poll_transmit() {
            if self.nodes[i].down {
                continue;
            }
            self.sent[i] += 1;
            let targets: Vec<usize> = match t.dst {
                Destination::Discovery => (0..self.nodes.len()).filter(|j| *j != i).collect(),
                Destination::Unicast(to) => (0..self.nodes.len())
                    .filter(|j| self.nodes[*j].addr == to)
                    .collect(),
            };
            for j in targets {
                let to = self.nodes[j].addr;
                if !(self.filter)(from, to, &t.payload) {
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
                    )));
                }
            }
        }
        let elapsed = self.elapsed();
        while let Some(e) = self.nodes[i].endpoint.poll_event() {
            self.nodes[i].events.push((elapsed, e));
        }
    }

    /// Runs the network until virtual time `until` (relative to the start).
    pub fn run_until(&mut self, until: Duration) {
        let end = self.start + until;
        loop {
            let next_delivery = self.queue.peek().map(|Reverse((at, ..))| *at);
            let next_timer = self
                .nodes
                .iter()
                .filter(|n| !n.down)
                .filter_map(|n| n.endpoint.poll_timeout())
                .min();
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
                if let Some(Reverse((_, _, j, from, payload))) = self.queue.pop()
                    && !self.nodes[j].down
                {
                    let now = self.now;
                    self.nodes[j].endpoint.handle_datagram(now, from, &payload);
                    self.flush(j);
                }
            } else {
                for i in 0..self.nodes.len() {
                    if self.nodes[i].down {
                        continue;
                    }
                    if self.nodes[i]
                        .endpoint
                        .poll_timeout()
                        .is_some_and(|t| t <= self.now)
                    {
                        self.nodes[i].endpoint.handle_timeout(self.now);
                        self.flush(i);
                    }
                }
            }
        }
        self.now = self.now.max(end);
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
