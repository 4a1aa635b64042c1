//! The only part that touches the world: the clock, the sockets, the terminal, signals.
//!
//! A [`Node`] owns the sockets and the sans-IO endpoint. The terminal front end ([`tui`]) and
//! the JSON-lines front end ([`pipe`]) each run one `select!` loop that feeds the node and
//! their model, carries out effects and draws or prints.

pub mod net;
pub mod pipe;
pub mod terminal;
pub mod tui;

use crate::config::Settings;
use crate::proto::{self, ConversationId, Endpoint, EndpointConfig, MsgId, NodeId};
use net::{Datagram, Net, NetConfig};
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::net::SocketAddr;
use std::time::{Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;

/// Datagrams handled in one loop turn before input gets another look.
const BATCH: usize = 256;

/// The monotonic time for the protocol. Read through tokio so that paused-time tests
/// control it.
pub fn mono_now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// Wall-clock time, Unix milliseconds.
pub fn wall_now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// A seed from the OS's randomness (std's hasher keys are drawn from it).
pub fn random_seed() -> u64 {
    let mut h = RandomState::new().build_hasher();
    h.write_u64(wall_now_ms() as u64);
    h.finish()
}

/// The local UTC offset now, for showing times.
pub fn utc_offset_s() -> i32 {
    chrono::Local::now().offset().local_minus_utc()
}

/// Results that background work hands back to the loop.
#[derive(Debug)]
pub enum Aux {
    Resolved {
        query: String,
        result: Result<SocketAddr, String>,
    },
}

/// Sockets plus endpoint: one lanchat node.
pub struct Node {
    pub endpoint: Endpoint,
    /// Whether this node announces itself on the discovery port.
    pub discovery: bool,
    net: Net,
    datagrams: mpsc::Receiver<Datagram>,
    aux_tx: mpsc::Sender<Aux>,
    aux_rx: mpsc::Receiver<Aux>,
    /// A network problem not yet shown to the user (a failed send, discovery unavailable).
    send_error: Option<String>,
}

/// What woke the loop, as far as the node is concerned.
pub enum Wake {
    Datagrams,
    Timeout,
    Aux(Aux),
}

impl Node {
    /// Binds the sockets and starts the endpoint. Peers from the settings are resolved in
    /// the background and probed as soon as they resolve.
    pub fn start(settings: &Settings, id: NodeId) -> std::io::Result<Node> {
        let (net, datagrams) = Net::bind(&NetConfig {
            bind: settings.bind,
            port: settings.port,
            discovery: settings.discovery,
            discovery_port: settings.discovery_port,
        })?;
        let discovery = settings.discovery && net.discovery_error.is_none();
        let send_error = net.discovery_error.clone();
        let mut cfg = EndpointConfig::new(id, &settings.name, net.local_addr().port());
        cfg.discovery = discovery;
        cfg.read_receipts = settings.read_receipts;
        let endpoint = Endpoint::new(cfg, mono_now(), random_seed());
        let (aux_tx, aux_rx) = mpsc::channel(64);
        let node = Node {
            endpoint,
            discovery,
            net,
            datagrams,
            aux_tx,
            aux_rx,
            send_error,
        };
        for peer in &settings.peers {
            node.resolve(peer.clone());
        }
        Ok(node)
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.net.local_addr()
    }

    /// Looks up `HOST:PORT` off the loop; the answer comes back as [`Aux::Resolved`].
    pub fn resolve(&self, query: String) {
        let tx = self.aux_tx.clone();
        tokio::spawn(async move {
            let result = match tokio::net::lookup_host(query.as_str()).await {
                Ok(addrs) => {
                    let addrs: Vec<SocketAddr> = addrs.collect();
                    addrs
                        .iter()
                        .find(|a| a.is_ipv4())
                        .copied()
                        .ok_or_else(|| format!("{query}: no IPv4 address"))
                }
                Err(e) => Err(format!("{query}: {e}")),
            };
            let _ = tx.send(Aux::Resolved { query, result }).await;
        });
    }

    /// Waits for the next thing the node must handle. Cancel-safe, for use in `select!`.
    pub async fn wake(&mut self) -> Wake {
        let deadline = self.endpoint.poll_timeout();
        let sleep = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            Some(d) = self.datagrams.recv() => {
                let now = mono_now();
                self.endpoint.handle_datagram(now, d.src, &d.data);
                // Take what else is already queued, up to a batch.
                for _ in 1..BATCH {
                    match self.datagrams.try_recv() {
                        Ok(d) => self.endpoint.handle_datagram(now, d.src, &d.data),
                        Err(_) => break,
                    }
                }
                Wake::Datagrams
            }
            Some(aux) = self.aux_rx.recv() => Wake::Aux(aux),
            () = sleep => {
                self.endpoint.handle_timeout(mono_now());
                Wake::Timeout
            }
        }
    }

    /// Sends everything the endpoint queued and returns its events.
    pub fn drain(&mut self) -> Vec<proto::Event> {
        while let Some(t) = self.endpoint.poll_transmit() {
            if let Err(e) = self.net.send(&t) {
                tracing::warn!(%e, dst = ?t.dst, "send failed");
                self.send_error = Some(format!("send failed: {e}"));
            }
        }
        std::iter::from_fn(|| self.endpoint.poll_event()).collect()
    }

    pub fn take_send_error(&mut self) -> Option<String> {
        self.send_error.take()
    }

    pub fn add_peer(&mut self, addr: SocketAddr) {
        self.endpoint.add_peer(mono_now(), addr);
    }

    pub fn send(
        &mut self,
        to: ConversationId,
        id: MsgId,
        sent_at_ms: i64,
        text: &str,
    ) -> Result<(), proto::SendError> {
        self.endpoint
            .send_message(mono_now(), to, id, sent_at_ms, text)
    }

    pub fn mark_read(&mut self, peer: NodeId, ids: &[MsgId]) {
        self.endpoint.mark_read(mono_now(), peer, ids);
    }

    /// Says goodbye and flushes it out.
    pub fn shutdown(&mut self) {
        self.endpoint.shutdown();
        self.drain();
    }
}
