//! Finding peers: when our beacons go out, which addresses the user asked us to probe, and
//! what a beacon heard leads to.
//!
//! - **A beacon is a hint, never news.** [`Discovery::on_beacon`] decides only whether to
//!   start a handshake toward the address a beacon names, or to answer with one beacon of
//!   our own. It never renames, moves, or marks anyone online or offline: only the peer
//!   table does that, from authenticated traffic.
//! - **Candidates are kept apart from the peer table.** A key a beacon names, which is
//!   neither a peer nor linked, becomes a candidate; at most [`MAX_CANDIDATES`] are kept,
//!   the one hinted longest ago forgotten first (and returned, so that the endpoint drops
//!   its handshake too). A candidate leaves when a handshake proves its key
//!   ([`Discovery::proven`]). Candidates can never crowd out a peer.
//! - **At most one beacon reply per address per [`REPLY_GAP`]**, for all keys together.
//! - Manual peers come only from the user ([`Discovery::add_manual`], at most
//!   [`MAX_MANUAL_PEERS`]) and are never forgotten: they are probed on the start-up burst
//!   and then every beacon interval, so a peer is found whenever it starts.
//!
//! State changes only on a beacon heard, a timeout, a proven handshake and the user adding
//! an address. What a beacon's key is to us (refused, linked, a peer) is the endpoint's to
//! say: it passes a [`Standing`].

use super::super::NodeId;
use super::super::wire::Beacon;
use super::Destination;
use crate::rng::Rng;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// How often a manual address nobody answered at yet is probed (after the start-up burst).
pub(super) const UNANSWERED_PROBE: Duration = Duration::from_secs(5);

/// Beacon times after start, then every `beacon_interval` (± jitter).
const STARTUP_BEACONS: [Duration; 3] = [
    Duration::ZERO,
    Duration::from_secs(1),
    Duration::from_secs(3),
];
/// At most one beacon reply per source address in this time.
const REPLY_GAP: Duration = Duration::from_secs(1);
/// Addresses whose last reply time is kept (older ones are dropped when this is reached).
const MAX_REPLY_SOURCES: usize = 4096;
const MAX_MANUAL_PEERS: usize = 64;
/// Keys probed because a beacon named them, before any handshake proved them.
pub const MAX_CANDIDATES: usize = 256;

/// What the key a beacon names is to us, as the endpoint knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Standing {
    /// Blocked, or held back by an identity change: its beacons are ignored.
    Refused,
    /// We have a session with it.
    Linked,
    /// In the peer table, with no session.
    Peer,
    /// Never proven (or forgotten): a candidate.
    Stranger,
}

/// What a beacon leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum BeaconAction {
    Nothing,
    /// Send one beacon of ours (asking for nothing) to this address.
    Reply(SocketAddr),
    /// Start a handshake with the beacon's key toward `hint`. `evicted` is the candidate
    /// forgotten to make room for it, whose handshake should go too.
    Connect {
        hint: SocketAddr,
        evicted: Option<NodeId>,
    },
}

/// A beacon of ours that is due: `want_reply` asks whoever hears it to answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Due {
    pub dst: Destination,
    pub want_reply: bool,
}

#[derive(Debug)]
pub(super) struct Discovery {
    /// Beacons to the discovery group, when discovery is on.
    group: Option<Schedule>,
    /// Addresses the user added, probed by unicast.
    manual: Vec<ManualPeer>,
    /// When a beacon reply last went to each address.
    last_reply: HashMap<SocketAddr, Instant>,
    /// Keys probed because of a beacon, not proven yet: when each was last hinted.
    candidates: HashMap<NodeId, Instant>,
}

#[derive(Debug)]
struct ManualPeer {
    addr: SocketAddr,
    schedule: Schedule,
}

impl Discovery {
    /// `group`: send beacons to the discovery group, starting now.
    pub(super) fn new(now: Instant, group: bool) -> Self {
        Self {
            group: group.then(|| Schedule::new(now)),
            manual: Vec::new(),
            last_reply: HashMap::new(),
            candidates: HashMap::new(),
        }
    }

    /// When the next beacon or probe is due.
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        self.group
            .iter()
            .map(|s| s.next)
            .chain(self.manual.iter().map(|m| m.schedule.next))
            .min()
    }

    /// The user adds `addr`: probe it from now on. False if it was there already or the
    /// list is full.
    pub(super) fn add_manual(&mut self, now: Instant, addr: SocketAddr) -> bool {
        if self.is_manual(&addr) || self.manual.len() >= MAX_MANUAL_PEERS {
            return false;
        }
        self.manual.push(ManualPeer {
            addr,
            schedule: Schedule::new(now),
        });
        true
    }

    /// Did the user add `addr`?
    /// The peer that answered at manual address `addr` is gone: ask there again within
    /// [`UNANSWERED_PROBE`] (and every so often after, while nobody answers).
    pub(super) fn unanswered(&mut self, now: Instant, addr: SocketAddr) {
        if let Some(m) = self.manual.iter_mut().find(|m| m.addr == addr) {
            m.schedule.next = m.schedule.next.min(now + UNANSWERED_PROBE);
        }
    }

    pub(super) fn is_manual(&self, addr: &SocketAddr) -> bool {
        self.manual.iter().any(|m| m.addr == *addr)
    }

    /// The beacons due at `now`, group first, then the manual probes in the order they
    /// were added; each schedule moves on.
    ///
    /// A manual address where no key has answered yet (`answered` says) is asked again every
    /// [`UNANSWERED_PROBE`] rather than every `interval`: the user named it, and on a lossy
    /// link the first few handshakes it leads to may be lost.
    pub(super) fn due(
        &mut self,
        now: Instant,
        interval: Duration,
        rng: &mut Rng,
        answered: impl Fn(&SocketAddr) -> bool,
    ) -> Vec<Due> {
        let mut due = Vec::new();
        if let Some(schedule) = self.group.as_mut()
            && schedule.next <= now
        {
            // The start-up burst asks everyone to answer, so a (re)started node learns
            // its peers at once rather than at their next periodic beacon.
            due.push(Due {
                dst: Destination::Discovery,
                want_reply: schedule.step < STARTUP_BEACONS.len(),
            });
            schedule.advance(now, interval, rng);
        }
        for m in &mut self.manual {
            if m.schedule.next <= now {
                due.push(Due {
                    dst: Destination::Unicast(m.addr),
                    want_reply: true,
                });
                let every = if answered(&m.addr) {
                    interval
                } else {
                    interval.min(UNANSWERED_PROBE)
                };
                m.schedule.advance(now, every, rng);
            }
        }
        due
    }

    /// A handshake proved `peer`: it is no longer a candidate.
    pub(super) fn proven(&mut self, peer: &NodeId) {
        self.candidates.remove(peer);
    }

    /// A beacon `b` (not ours) came from `src`, naming a key that is `standing` to us.
    ///
    /// Its hint is `src` for a beacon sent by unicast, else `src`'s IP at the port it
    /// names. A refused key gets nothing. A linked one gets one beacon back if it asks
    /// (its sender restarted and lost the session) and no reply went to the hint within
    /// [`REPLY_GAP`]. Any other key gets a handshake toward the hint, and becomes a
    /// candidate unless it is a peer.
    pub(super) fn on_beacon(
        &mut self,
        now: Instant,
        src: SocketAddr,
        b: &Beacon,
        standing: Standing,
    ) -> BeaconAction {
        let hint = if b.unicast {
            src
        } else {
            SocketAddr::new(src.ip(), b.port)
        };
        match standing {
            Standing::Refused => BeaconAction::Nothing,
            Standing::Linked if b.want_reply && self.may_reply(now, hint) => {
                BeaconAction::Reply(hint)
            }
            Standing::Linked => BeaconAction::Nothing,
            Standing::Peer => BeaconAction::Connect {
                hint,
                evicted: None,
            },
            Standing::Stranger => BeaconAction::Connect {
                hint,
                evicted: self.hinted(now, b.node),
            },
        }
    }

    /// Notes a reply to `addr` now, unless one went there within [`REPLY_GAP`].
    fn may_reply(&mut self, now: Instant, addr: SocketAddr) -> bool {
        if let Some(last) = self.last_reply.get(&addr)
            && now.duration_since(*last) < REPLY_GAP
        {
            return false;
        }
        if self.last_reply.len() >= MAX_REPLY_SOURCES {
            self.last_reply
                .retain(|_, t| now.duration_since(*t) < REPLY_GAP);
        }
        self.last_reply.insert(addr, now);
        true
    }

    /// `node` is a candidate hinted now; returns the candidate forgotten to make room.
    fn hinted(&mut self, now: Instant, node: NodeId) -> Option<NodeId> {
        let mut evicted = None;
        if !self.candidates.contains_key(&node) && self.candidates.len() >= MAX_CANDIDATES {
            evicted = self
                .candidates
                .iter()
                .min_by_key(|(id, t)| (**t, **id))
                .map(|(id, _)| *id);
            if let Some(old) = evicted {
                self.candidates.remove(&old);
            }
        }
        self.candidates.insert(node, now);
        evicted
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr};

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), port)
    }

    fn node(n: u16) -> NodeId {
        let mut key = [0u8; 32];
        key[..2].copy_from_slice(&n.to_be_bytes());
        NodeId(key)
    }

    fn beacon(n: u16, unicast: bool, want_reply: bool) -> Beacon {
        Beacon {
            node: node(n),
            port: 4000,
            want_reply,
            unicast,
            name: String::new(),
        }
    }

    #[test]
    fn a_beacon_leads_to_a_handshake_toward_its_hint() {
        let now = Instant::now();
        let mut d = Discovery::new(now, true);
        // Multicast beacons come from the shared port: the hint is the port they name.
        let b = beacon(1, false, false);
        let action = d.on_beacon(now, addr(47474), &b, Standing::Stranger);
        let hint = addr(4000);
        let expected = BeaconAction::Connect {
            hint,
            evicted: None,
        };
        assert_eq!(action, expected);
        let b = beacon(1, true, false);
        let action = d.on_beacon(now, addr(5000), &b, Standing::Peer);
        let hint = addr(5000);
        let expected = BeaconAction::Connect {
            hint,
            evicted: None,
        };
        assert_eq!(action, expected);
        let action = d.on_beacon(now, addr(5000), &b, Standing::Refused);
        assert_eq!(action, BeaconAction::Nothing);
    }

    #[test]
    fn a_linked_key_gets_one_reply_per_gap_and_only_if_it_asks() {
        let now = Instant::now();
        let mut d = Discovery::new(now, true);
        let quiet = beacon(1, true, false);
        let asking = beacon(1, true, true);
        let linked = Standing::Linked;
        assert_eq!(
            d.on_beacon(now, addr(5000), &quiet, linked),
            BeaconAction::Nothing
        );
        let reply = BeaconAction::Reply(addr(5000));
        assert_eq!(d.on_beacon(now, addr(5000), &asking, linked), reply);
        let soon = now + REPLY_GAP - Duration::from_millis(1);
        assert_eq!(
            d.on_beacon(soon, addr(5000), &asking, linked),
            BeaconAction::Nothing
        );
        // Another key at the same address shares the gap; another address does not.
        let other = beacon(2, true, true);
        assert_eq!(
            d.on_beacon(soon, addr(5000), &other, linked),
            BeaconAction::Nothing
        );
        let reply_other = BeaconAction::Reply(addr(5001));
        assert_eq!(d.on_beacon(soon, addr(5001), &other, linked), reply_other);
        assert_eq!(
            d.on_beacon(now + REPLY_GAP, addr(5000), &asking, linked),
            reply
        );
    }

    #[test]
    fn candidates_are_bounded_and_the_oldest_goes_first() {
        let start = Instant::now();
        let mut d = Discovery::new(start, false);
        for n in 0..MAX_CANDIDATES as u16 {
            let at = start + Duration::from_millis(u64::from(n));
            let action = d.on_beacon(at, addr(5000), &beacon(n, true, false), Standing::Stranger);
            assert!(matches!(
                action,
                BeaconAction::Connect { evicted: None, .. }
            ));
        }
        // Hinted again, key 0 is no longer the oldest: key 1 is.
        let later = start + Duration::from_secs(10);
        d.on_beacon(
            later,
            addr(5000),
            &beacon(0, true, false),
            Standing::Stranger,
        );
        let newcomer = beacon(1000, true, false);
        let action = d.on_beacon(later, addr(5000), &newcomer, Standing::Stranger);
        let expected = BeaconAction::Connect {
            hint: addr(5000),
            evicted: Some(node(1)),
        };
        assert_eq!(action, expected);
        assert_eq!(d.candidates.len(), MAX_CANDIDATES);
        // A proven key leaves, making room without evicting anyone.
        d.proven(&node(2));
        let action = d.on_beacon(
            later,
            addr(5000),
            &beacon(1001, true, false),
            Standing::Stranger,
        );
        assert!(matches!(
            action,
            BeaconAction::Connect { evicted: None, .. }
        ));
        // A peer never becomes a candidate, so it evicts nobody.
        let action = d.on_beacon(
            later,
            addr(5000),
            &beacon(1002, true, false),
            Standing::Peer,
        );
        assert!(matches!(
            action,
            BeaconAction::Connect { evicted: None, .. }
        ));
        assert!(!d.candidates.contains_key(&node(1002)));
    }

    #[test]
    fn beacons_go_in_a_start_up_burst_that_asks_for_replies_then_by_interval() {
        let start = Instant::now();
        let interval = Duration::from_secs(30);
        let mut rng = Rng::new(7);
        let mut d = Discovery::new(start, true);
        assert!(d.add_manual(start, addr(6000)));
        assert!(!d.add_manual(start, addr(6000)), "added once");
        let mut asked = Vec::new();
        let mut probes = Vec::new();
        let mut now = start;
        // Nobody answers at the manual address for the first 60 s.
        let answered_after = start + Duration::from_secs(60);
        while now < start + Duration::from_secs(200) {
            for due in d.due(now, interval, &mut rng, |_| now >= answered_after) {
                if due.dst == Destination::Discovery {
                    asked.push((now - start, due.want_reply));
                } else {
                    assert_eq!(due.dst, Destination::Unicast(addr(6000)));
                    assert!(due.want_reply, "a probe always asks for an answer");
                    probes.push(now - start);
                }
            }
            now = d
                .next_deadline()
                .unwrap_or(now)
                .max(now + Duration::from_millis(1));
        }
        let burst: Vec<_> = asked.iter().take(3).copied().collect();
        let expected: Vec<_> = STARTUP_BEACONS.iter().map(|t| (*t, true)).collect();
        assert_eq!(burst, expected);
        for pair in asked[2..].windows(2) {
            let gap = pair[1].0 - pair[0].0;
            assert!(!pair[1].1, "periodic beacons ask for nothing");
            assert!(
                gap >= interval * 4 / 5 && gap <= interval * 6 / 5,
                "{gap:?}"
            );
        }
        assert!(asked.len() > 5);
        // The manual address: the same burst, then every 5 s while nobody answers there,
        // then by the interval.
        let gaps: Vec<Duration> = probes.windows(2).map(|w| w[1] - w[0]).collect();
        let unanswered = probes
            .iter()
            .filter(|t| **t < Duration::from_secs(60))
            .count();
        assert!(unanswered >= 12, "{probes:?}");
        for (t, gap) in probes[1..].iter().zip(&gaps) {
            if *t > Duration::from_secs(4) && *t <= Duration::from_secs(60) {
                assert!(
                    *gap <= UNANSWERED_PROBE + Duration::from_secs(1),
                    "{probes:?}"
                );
            }
            if *t > Duration::from_secs(100) {
                assert!(*gap >= interval * 4 / 5, "{probes:?}");
            }
        }
    }
}
