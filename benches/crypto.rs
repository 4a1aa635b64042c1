//! What encryption costs: Noise handshake time over loopback, and messages per second
//! between two endpoints over loopback sockets with encryption on and off, in the same run.
//!
//! Run: `cargo bench --features bench-plaintext --bench crypto`. The feature adds the
//! switch that turns encryption off; nothing else has it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use lanchat::proto::secure::Secure;
use lanchat::proto::wire::Frame;
use lanchat::proto::{
    ConversationId, DeliveryState, Destination, Endpoint, EndpointConfig, Event, Identity, MsgId,
};
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

const HANDSHAKES: usize = 300;
const MESSAGES: u64 = 20_000;

fn socket() -> (UdpSocket, SocketAddr) {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_nonblocking(true).unwrap();
    let a = s.local_addr().unwrap();
    (s, a)
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

/// One handshake between two fresh `Secure`s over real loopback sockets, timed from the
/// initiation to both sides holding the session.
fn handshake(ik: bool, seed: u8) -> Duration {
    let (sa, aa) = socket();
    let (sb, ab) = socket();
    let now = Instant::now();
    let ia = Identity::from_secret([seed; 32]);
    let ib = Identity::from_secret([seed.wrapping_add(1); 32]);
    let (ida, idb) = (ia.public(), ib.public());
    let mut a = Secure::new(ia, "alice", now, 1, 1);
    let mut b = Secure::new(ib, "bob", now, 1, 2);
    if ik {
        a.pin(idb);
    }
    let start = Instant::now();
    a.connect(start, idb, ab);
    let mut buf = [0u8; 2048];
    loop {
        let now = Instant::now();
        while let Some((to, d)) = a.poll_transmit() {
            sa.send_to(&d, to).unwrap();
        }
        while let Some((to, d)) = b.poll_transmit() {
            sb.send_to(&d, to).unwrap();
        }
        if a.has_session(now, &idb) && b.has_session(now, &ida) {
            return start.elapsed();
        }
        if let Ok((n, from)) = sb.recv_from(&mut buf) {
            b.open(now, from, Frame::decode(&buf[..n]).unwrap());
        }
        if let Ok((n, from)) = sa.recv_from(&mut buf) {
            a.open(now, from, Frame::decode(&buf[..n]).unwrap());
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "handshake stalled"
        );
        let _ = aa;
    }
}

/// Two endpoints on loopback sockets, driven in one thread.
struct Pair {
    a: Endpoint,
    b: Endpoint,
    sa: UdpSocket,
    sb: UdpSocket,
    ab: SocketAddr,
}

impl Pair {
    fn new(plaintext: bool) -> Pair {
        let (sa, aa) = socket();
        let (sb, ab) = socket();
        let now = Instant::now();
        let mut ca = EndpointConfig::new(Identity::from_secret([1; 32]), "alice", aa.port());
        let mut cb = EndpointConfig::new(Identity::from_secret([2; 32]), "bob", ab.port());
        for c in [&mut ca, &mut cb] {
            c.discovery = false;
            c.read_receipts = false;
            c.plaintext_for_benchmarks = plaintext;
        }
        let mut a = Endpoint::new(ca, now, 1);
        let b = Endpoint::new(cb, now, 2);
        a.add_peer(now, ab);
        let mut pair = Pair { a, b, sa, sb, ab };
        // Until each knows the other (and, encrypted, holds a session).
        let bob = Identity::from_secret([2; 32]).public();
        let start = Instant::now();
        while pair.a.peer(&bob).is_none_or(|p| !p.online)
            || (!plaintext && !pair.a.is_secured(Instant::now(), &bob))
        {
            pair.step(|_| {});
            assert!(start.elapsed() < Duration::from_secs(5), "no contact");
        }
        pair
    }

    /// Moves datagrams both ways once and runs due timers; `on_event` sees alice's events.
    fn step(&mut self, mut on_event: impl FnMut(Event)) {
        let now = Instant::now();
        let mut buf = [0u8; 2048];
        for _ in 0..64 {
            match self.sb.recv_from(&mut buf) {
                Ok((n, from)) => self.b.handle_datagram(now, from, &buf[..n]),
                Err(_) => break,
            }
        }
        for _ in 0..64 {
            match self.sa.recv_from(&mut buf) {
                Ok((n, from)) => self.a.handle_datagram(now, from, &buf[..n]),
                Err(_) => break,
            }
        }
        for (ep, sock) in [(&mut self.a, &self.sa), (&mut self.b, &self.sb)] {
            if ep.poll_timeout().is_some_and(|t| t <= now) {
                ep.handle_timeout(now);
            }
            while let Some(t) = ep.poll_transmit() {
                if let Destination::Unicast(to) = t.dst {
                    let _ = sock.send_to(&t.payload, to);
                }
            }
        }
        while self.b.poll_event().is_some() {}
        while let Some(e) = self.a.poll_event() {
            on_event(e);
        }
    }

    /// Sends `MESSAGES` from alice to bob as fast as the window allows; messages per second
    /// until the last is acknowledged.
    fn throughput(&mut self) -> f64 {
        let bob = ConversationId::Peer(Identity::from_secret([2; 32]).public());
        let text = "a chat message of ordinary length, say forty to sixty bytes";
        let start = Instant::now();
        let mut next = 0u64;
        let mut done = 0u64;
        while done < MESSAGES {
            // Keep a few hundred in flight: the stream's window paces the wire.
            while next < MESSAGES && next - done < 512 {
                next += 1;
                self.a
                    .send_message(Instant::now(), bob, MsgId(next), 0, text)
                    .unwrap();
            }
            self.step(|e| {
                if let Event::State {
                    state: DeliveryState::Delivered,
                    ..
                } = e
                {
                    done += 1;
                }
            });
            assert!(start.elapsed() < Duration::from_secs(120), "stalled");
        }
        let _ = self.ab;
        MESSAGES as f64 / start.elapsed().as_secs_f64()
    }
}

fn main() {
    for (name, ik) in [("XX (first contact)", false), ("IK (known key)", true)] {
        let mut times: Vec<f64> = (0..HANDSHAKES)
            .map(|i| handshake(ik, (i % 200) as u8 + 1).as_secs_f64() * 1e6)
            .collect();
        let p50 = support::median(times.clone());
        let p99 = percentile(&mut times, 0.99);
        println!("handshake {name}: median {p50:.0} µs, p99 {p99:.0} µs over {HANDSHAKES}");
    }

    // Alternate the two modes so that machine noise hits both alike.
    let mut on = Vec::new();
    let mut off = Vec::new();
    let runs = support::runs();
    for _ in 0..runs {
        on.push(Pair::new(false).throughput());
        off.push(Pair::new(true).throughput());
    }
    let (on, off) = (support::median(on), support::median(off));
    println!(
        "{MESSAGES} messages alice → bob over loopback, median of {runs} runs:\n  \
         encrypted {on:.0} msgs/s, plaintext {off:.0} msgs/s, ratio {:.2}",
        on / off
    );
}
