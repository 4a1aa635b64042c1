//! Test and benchmark support that needs real sockets: a lossy UDP relay.
//!
//! The relay stands between two nodes on loopback and drops, duplicates and delays
//! datagrams at seeded random, like a bad Wi-Fi link. Node A talks to [`Relay::for_a`] as
//! if it were B, and B to [`Relay::for_b`] as if it were A. By default beacons are
//! rewritten on the way through so that each side answers the relay, not the other node
//! directly. As a NAT ([`RelayOptions::nat`]) it translates addresses and ports only: the
//! port a beacon claims is passed on as it is, and nothing answers there.

use crate::proto::wire::Frame;
use crate::rng::Rng;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::UdpSocket;

#[derive(Debug, Clone)]
pub struct Impairment {
    pub loss: f64,
    pub duplicate: f64,
    pub reorder: f64,
    /// A reordered datagram is held back by up to this long.
    pub reorder_delay: Duration,
    pub seed: u64,
}

impl Impairment {
    pub fn none() -> Self {
        Self {
            loss: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
            reorder_delay: Duration::ZERO,
            seed: 0,
        }
    }
}

#[derive(Debug, Default)]
pub struct RelayStats {
    pub forwarded: AtomicU64,
    pub dropped: AtomicU64,
    pub duplicated: AtomicU64,
}

/// Where the relay sits and what it does besides forwarding.
#[derive(Debug, Clone)]
pub struct RelayOptions {
    /// The address both relay sockets bind (each on a port of its own).
    pub bind: IpAddr,
    /// Rewrite the port beacons claim to the relay's own, so that each side answers the
    /// relay. A NAT does not.
    pub rewrite_beacons: bool,
    /// Keep a copy of every datagram that reaches the relay, from either side, in
    /// [`Relay::seen`] (before loss), to check what crossed it.
    pub record: bool,
}

impl Default for RelayOptions {
    fn default() -> Self {
        Self {
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            rewrite_beacons: true,
            record: false,
        }
    }
}

impl RelayOptions {
    /// A port-translating relay (as a NAT) at `bind`, recording what crosses it.
    pub fn nat(bind: IpAddr) -> Self {
        Self {
            bind,
            rewrite_beacons: false,
            record: true,
        }
    }
}

pub struct Relay {
    pub for_a: SocketAddr,
    pub for_b: SocketAddr,
    pub stats: Arc<RelayStats>,
    /// What reached the relay, with [`RelayOptions::record`].
    pub seen: Arc<Mutex<Vec<Vec<u8>>>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Relay {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl Relay {
    /// Starts relaying between the nodes at `a` and `b` (both on loopback), on 127.0.0.1,
    /// rewriting beacons.
    pub async fn start(a: SocketAddr, b: SocketAddr, imp: Impairment) -> io::Result<Relay> {
        Self::start_with(a, b, imp, RelayOptions::default()).await
    }

    /// Starts relaying between the nodes at `a` and `b` as `opts` says.
    pub async fn start_with(
        a: SocketAddr,
        b: SocketAddr,
        imp: Impairment,
        opts: RelayOptions,
    ) -> io::Result<Relay> {
        let for_a = Arc::new(UdpSocket::bind(SocketAddr::new(opts.bind, 0)).await?);
        let for_b = Arc::new(UdpSocket::bind(SocketAddr::new(opts.bind, 0)).await?);
        let stats = Arc::new(RelayStats::default());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let addr_a = for_a.local_addr()?;
        let addr_b = for_b.local_addr()?;
        let record = opts.record.then(|| seen.clone());
        let tasks = vec![
            // A -> (for_a) relay (for_b) -> B, beacons re-announced as for_b.
            tokio::spawn(pump(
                for_a.clone(),
                for_b.clone(),
                b,
                opts.rewrite_beacons.then_some(addr_b.port()),
                imp.clone(),
                stats.clone(),
                record.clone(),
            )),
            tokio::spawn(pump(
                for_b.clone(),
                for_a.clone(),
                a,
                opts.rewrite_beacons.then_some(addr_a.port()),
                Impairment {
                    seed: imp.seed ^ 0x5555,
                    ..imp
                },
                stats.clone(),
                record,
            )),
        ];
        Ok(Relay {
            for_a: addr_a,
            for_b: addr_b,
            stats,
            seen,
            tasks,
        })
    }
}

fn chance(rng: &mut Rng, p: f64) -> bool {
    (rng.next_u64() as f64 / u64::MAX as f64) < p
}

async fn pump(
    from: Arc<UdpSocket>,
    to_socket: Arc<UdpSocket>,
    to: SocketAddr,
    announce_port: Option<u16>,
    imp: Impairment,
    stats: Arc<RelayStats>,
    record: Option<Arc<Mutex<Vec<Vec<u8>>>>>,
) {
    let mut rng = Rng::new(imp.seed);
    let mut buf = vec![0u8; 65_536];
    loop {
        let Ok((n, _src)) = from.recv_from(&mut buf).await else {
            continue;
        };
        let mut data = buf[..n].to_vec();
        if let Some(seen) = &record
            && let Ok(mut seen) = seen.lock()
        {
            seen.push(data.clone());
        }
        if let Some(port) = announce_port
            && let Ok(Frame::Beacon(mut b)) = Frame::decode(&data)
        {
            b.port = port;
            if let Ok(bytes) = Frame::Beacon(b).encode() {
                data = bytes;
            }
        }
        if chance(&mut rng, imp.loss) {
            stats.dropped.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        let copies = if chance(&mut rng, imp.duplicate) {
            stats.duplicated.fetch_add(1, Ordering::Relaxed);
            2
        } else {
            1
        };
        for _ in 0..copies {
            stats.forwarded.fetch_add(1, Ordering::Relaxed);
            if chance(&mut rng, imp.reorder) && !imp.reorder_delay.is_zero() {
                let delay = imp.reorder_delay.mul_f64(rng.below(1000) as f64 / 1000.0);
                let socket = to_socket.clone();
                let data = data.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    let _ = socket.send_to(&data, to).await;
                });
            } else {
                let _ = to_socket.send_to(&data, to).await;
            }
        }
    }
}
