//! The only part that touches the world: the clock, the sockets, the terminal, signals.
//!
//! A [`Node`] owns the sockets and the sans-IO endpoint. The terminal front end ([`tui`]) and
//! the JSON-lines front end ([`pipe`]) each run one `select!` loop that feeds the node and
//! their model, carries out effects and draws or prints. The store's replies reach both
//! through [`Node::settle`], which does the node's part and says what is left to show.

pub mod doctor;
pub mod export;
pub mod files;
pub mod ipmsg_files;
pub mod net;
mod node_groups;
pub mod pipe;
pub mod preview;
pub mod storage;
pub mod terminal;
pub mod transfer;
pub mod tui;
pub mod tui_files;
pub mod tui_groups;

pub use node_groups::{group_info, group_message};

use crate::config::Settings;
use crate::i18n::Lang;
use crate::proto::{
    self, Body, ConversationId, DeliveryState, Endpoint, EndpointConfig, Identity, MsgId, NodeId,
    Quote,
};
use crate::store::{self, ConversationRow, NewMessage, OutboxRow, PeerRow, Store};
use crate::tr;
use net::{Batch, Net, NetConfig};
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use storage::{StoreEvent, StoreHandle};
use tokio::sync::mpsc;

/// The history database, in the data dir.
pub const DATABASE_FILE: &str = "history.db";

/// How long after sending a message its author may recall it.
pub const RECALL_WINDOW_MS: i64 = crate::app::RECALL_WINDOW_MS;

/// Datagrams handled in one loop turn before input gets another look (whole receive
/// batches, so a turn may take up to [`net::RECV_SLOTS`] coalesced runs more).
const BATCH: usize = 256;

/// Plain-text messages handed to the store and not written yet, at most. Beyond this, more
/// plain text is dropped until the store catches up. Anyone can send plain text from any
/// address, faster than it can be stored (about 37,000 a second from new addresses, release
/// build); a lanchat peer's message waits in the same queue, so this bounds how long a flood
/// can hold it up (about 30 ms of the store's time), and the work a flood costs.
const MAX_PLAIN_BACKLOG: usize = 1024;

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
        result: Result<SocketAddr, ResolveError>,
    },
}

/// Why `HOST:PORT` gave no address to probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolveError {
    /// The name has addresses, none of them IPv4.
    NoIpv4 { query: String },
    /// The lookup failed; `detail` is what the system said.
    Lookup { query: String, detail: String },
}

impl ResolveError {
    /// The reason in `lang` (the pipe's JSON takes English).
    pub fn text(&self, lang: Lang) -> String {
        match self {
            ResolveError::NoIpv4 { query } => tr!(lang, "runtime-no-ipv4", query = query.clone()),
            ResolveError::Lookup { query, detail } => format!("{query}: {detail}"),
        }
    }
}

/// A problem of the node's to show the user: the full-screen front end tells it in the
/// app's language, the pipe in English (its JSON is for programs). What the system said
/// (`detail`, an `io::Error`) stays as it said it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeNotice {
    /// Discovery could not start; the chat goes on without it.
    DiscoveryOff {
        port: u16,
        detail: String,
    },
    SendFailed(String),
    KnownPeersNotSaved(String),
    /// The store is far behind (or gone): received messages are refused for now.
    StoreBehind,
    /// Plain text arrives faster than it is stored: some is dropped.
    PlainFlood,
    /// IP Messenger could not start (its port is taken); the chat goes on without it.
    IpmsgOff {
        port: u16,
        detail: String,
    },
}

impl NodeNotice {
    pub fn text(&self, lang: Lang) -> String {
        match self {
            NodeNotice::DiscoveryOff { port, detail } => tr!(
                lang,
                "runtime-discovery-off",
                port = port.to_string(),
                detail = detail.clone()
            ),
            NodeNotice::SendFailed(detail) => {
                tr!(lang, "runtime-send-failed", detail = detail.clone())
            }
            NodeNotice::KnownPeersNotSaved(detail) => {
                tr!(
                    lang,
                    "runtime-known-peers-not-saved",
                    detail = detail.clone()
                )
            }
            NodeNotice::StoreBehind => tr!(lang, "runtime-store-behind"),
            NodeNotice::PlainFlood => tr!(lang, "runtime-plain-flood"),
            NodeNotice::IpmsgOff { port, detail } => tr!(
                lang,
                "ipmsg-off",
                port = port.to_string(),
                detail = detail.clone()
            ),
        }
    }
}

/// Sockets plus endpoint: one lanchat node.
pub struct Node {
    pub endpoint: Endpoint,
    /// The language of what the store thread says went wrong (set before
    /// [`Node::attach_store`]; English by default, as the pipe's JSON wants).
    pub store_lang: Lang,
    /// Whether this node announces itself on the discovery port.
    pub discovery: bool,
    /// Pictures the model wants previews of (`Effect::Preview`), for the front end that
    /// makes them.
    pub preview_asks: Vec<(crate::proto::files::TransferId, std::path::PathBuf)>,
    net: Net,
    datagrams: mpsc::Receiver<Batch>,
    /// Datagrams from the IP Messenger socket, when it is on.
    ipmsg_datagrams: Option<mpsc::Receiver<Batch>>,
    aux_tx: mpsc::Sender<Aux>,
    aux_rx: mpsc::Receiver<Aux>,
    /// A network problem not yet shown to the user (a failed send, discovery unavailable).
    send_error: Option<NodeNotice>,
    /// History, outbox and peers on disk, when there is a store.
    store: Option<StoreHandle>,
    store_rx: Option<mpsc::UnboundedReceiver<storage::Reply>>,
    /// Where `known_peers` and the handshake times live.
    config_dir: std::path::PathBuf,
    /// Handshake times changed and not yet written, and when they last were.
    times: Option<Vec<(NodeId, u64)>>,
    times_written: Option<Instant>,
    /// Plain-text messages sent to the store and not answered yet (see
    /// [`MAX_PLAIN_BACKLOG`]), and whether plain text is being dropped for it now.
    plain_backlog: usize,
    shedding: bool,
    /// Plain-text messages dropped so in the current spell (logged when it ends).
    plain_dropped: u64,
    /// File transfers (`None` where no TCP listener could be had).
    files: Option<files::Files>,
    /// Group frames and entries dropped (malformed, forged, from strangers) as last
    /// logged, and when (see `node_groups.rs`).
    group_drops: (u64, Option<Instant>),
    /// Files with IP Messenger peers (`None` when it is off or its TCP port is taken).
    ipmsg_files: Option<ipmsg_files::IpmsgFiles>,
}

/// Handshake times are written at most this often (and at exit).
const TIMES_WRITE_GAP: Duration = Duration::from_secs(5);

/// What woke the loop, as far as the node is concerned.
pub enum Wake {
    Datagrams,
    Timeout,
    Aux(Aux),
    Store(storage::Reply),
    /// File transfers moved on ([`Node::take_file_events`] says what to show).
    Files,
}

/// What the store remembered at start, for the front end.
pub struct Restored {
    pub peers: Vec<PeerRow>,
    pub conversations: Vec<ConversationRow>,
    /// Unread messages with `@my-name` in them: (conversation, text).
    pub mentions: Vec<(ConversationId, String)>,
}

/// Who we are to IP Messenger peers: `1_lanchat <version>`, the login name, this machine's
/// name, our display name as the nickname, and the configured group.
fn ipmsg_local(settings: &Settings) -> proto::ipmsg::Local {
    let user = ["USER", "LOGNAME"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
        .unwrap_or_else(|| "lanchat".to_owned());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "lanchat".to_owned());
    proto::ipmsg::Local {
        version: format!("1_lanchat {}", env!("CARGO_PKG_VERSION")),
        user,
        host,
        nick: settings.name.clone(),
        group: settings.ipmsg_group.clone(),
    }
}

/// Unread messages looked at for mentions of me at start, at most.
const MAX_MENTION_SCAN: usize = 1000;

impl Node {
    /// Binds the sockets and starts the endpoint. Peers from the settings are resolved in
    /// the background and probed as soon as they resolve.
    pub fn start(settings: &Settings, identity: Identity) -> anyhow::Result<Node> {
        use anyhow::Context;
        let known_peers = crate::config::load_known_peers(&settings.config_dir)
            .map_err(|e| anyhow::anyhow!(e.text(settings.language)))?;
        let (net, datagrams) = Net::bind(&NetConfig {
            bind: settings.bind,
            port: settings.port,
            discovery: settings.discovery,
            discovery_port: settings.discovery_port,
            segmentation_offload: settings.segmentation_offload,
        })
        .with_context(|| {
            let lang = settings.language;
            match settings.port {
                Some(port) => tr!(
                    lang,
                    "runtime-no-sockets",
                    bind = settings.bind.to_string(),
                    port = port.to_string()
                ),
                None => tr!(
                    lang,
                    "runtime-no-sockets-default",
                    bind = settings.bind.to_string()
                ),
            }
        })?;
        let mut net = net;
        let discovery = settings.discovery && net.discovery_error.is_none();
        let mut send_error = net
            .discovery_error
            .clone()
            .map(|detail| NodeNotice::DiscoveryOff {
                port: settings.discovery_port,
                detail,
            });
        // IP Messenger beside lanchat's own ports; if its port is taken, said and skipped.
        let ipmsg_datagrams = if settings.ipmsg {
            match net.start_ipmsg(settings.bind, settings.ipmsg_port) {
                Ok(rx) => Some(rx),
                Err(e) => {
                    tracing::warn!(%e, port = settings.ipmsg_port, "IP Messenger unavailable");
                    send_error = Some(NodeNotice::IpmsgOff {
                        port: settings.ipmsg_port,
                        detail: e.to_string(),
                    });
                    None
                }
            }
        } else {
            None
        };
        let files =
            files::Files::start(settings, identity.clone(), net.local_addr(), random_seed());
        let mut cfg = EndpointConfig::new(identity, &settings.name, net.local_addr().port());
        cfg.known_peers = known_peers;
        cfg.handshake_times = crate::config::load_handshake_times(&settings.config_dir);
        cfg.wall_clock_ms = wall_now_ms().max(0) as u64;
        cfg.discovery = discovery;
        cfg.read_receipts = settings.read_receipts;
        if let Some(addr) = net.ipmsg_addr() {
            let mut ipmsg = proto::IpmsgConfig::new(
                ipmsg_local(settings),
                (wall_now_ms() / 1000).max(1) as u64,
            );
            ipmsg.port = addr.port();
            cfg.ipmsg = Some(ipmsg);
        }
        let ipmsg_files = net.ipmsg_addr().and_then(|addr| {
            ipmsg_files::IpmsgFiles::start(
                addr,
                settings.download_dir.clone(),
                settings.max_file_size.min(proto::files::MAX_FILE_BYTES),
                random_seed(),
            )
            .map_err(|e| tracing::warn!(%e, %addr, "no IP Messenger files: TCP port unavailable"))
            .ok()
        });
        let endpoint = Endpoint::new(cfg, mono_now(), random_seed());
        let (aux_tx, aux_rx) = mpsc::channel(64);
        let mut node = Node {
            store_lang: Lang::En,
            preview_asks: Vec::new(),
            endpoint,
            discovery,
            net,
            datagrams,
            ipmsg_datagrams,
            aux_tx,
            aux_rx,
            send_error,
            store: None,
            store_rx: None,
            config_dir: settings.config_dir.clone(),
            times: None,
            times_written: None,
            plain_backlog: 0,
            shedding: false,
            plain_dropped: 0,
            files,
            group_drops: (0, None),
            ipmsg_files,
        };
        for peer in &settings.peers {
            node.resolve(peer.clone());
        }
        Ok(node)
    }

    /// Opens (or creates) the history database in the data dir. A file that is not a
    /// lanchat database is reported and left alone.
    pub fn open_store(settings: &Settings) -> Result<Store, crate::store::StoreError> {
        // The full check of the file runs on the store thread, so a big history does not
        // hold up the first frame.
        Store::open_unverified(&settings.data_dir.join(DATABASE_FILE))
    }

    /// Attaches the store: what it remembers is loaded (peers, outbox), received messages
    /// are acknowledged only once stored, and everything sent, received and settled is
    /// written. Returns what the front end should show at start.
    pub fn attach_store(&mut self, mut store: Store) -> std::io::Result<Restored> {
        let io = |e: crate::store::StoreError| std::io::Error::other(e.to_string());
        store.set_me(self.endpoint.node());
        let peers = store.peers().map_err(io)?;
        // No more than the app keeps: a flood of plain-text strangers must not make the
        // start load (and sort) tens of thousands of conversations.
        let cap = crate::app::MAX_CONVERSATIONS;
        let conversations = store.first_conversations(cap).map_err(io)?;
        let outbox = store.outbox().map_err(io)?;
        self.restore_groups(&store).map_err(io)?;
        let transfers = store.unfinished_transfers().map_err(io)?;
        // Unread messages that may mention me (the app decides which really do).
        let needle = format!("@{}", self.endpoint.name());
        let mentions = store
            .unread_containing(&needle, MAX_MENTION_SCAN, cap)
            .map_err(io)?;
        let now = mono_now();
        for p in &peers {
            self.endpoint.remember_peer(p.id, &p.name, p.addr);
        }
        for row in &outbox {
            let to = ConversationId::Peer(row.to);
            if let Err(e) = self
                .endpoint
                .send_body(now, to, row.id, row.sent_at_ms, &row.body)
            {
                tracing::warn!(%e, id = %row.id, "outbox message not re-queued");
            }
        }
        self.endpoint.set_durable_acks(true);
        let (handle, rx) = StoreHandle::spawn(store, self.store_lang)?;
        self.store = Some(handle);
        self.store_rx = Some(rx);
        // Strangers beyond the bounds (left by an older version, or unpinned) go, on the
        // store's thread once the file is checked.
        self.store(storage::Request::PruneStrangers);
        self.restore_transfers(transfers);
        Ok(Restored {
            peers,
            conversations,
            mentions,
        })
    }

    pub fn has_store(&self) -> bool {
        self.store.is_some()
    }

    /// Sends a request to the store, if there is one. If the store cannot take it (far
    /// behind, or gone), received messages in it are refused (their senders retry later)
    /// and the problem is shown.
    pub fn store(&mut self, r: storage::Request) {
        let Some(s) = &self.store else {
            return;
        };
        if let Err(r) = s.send(r) {
            tracing::error!("the store is not taking requests");
            self.send_error = Some(NodeNotice::StoreBehind);
            if let storage::Request::Insert(messages) = r {
                self.store_failed(&messages);
            }
        }
    }

    /// Messages the store could not keep: received ones are never acknowledged, so their
    /// senders keep them and try again.
    pub fn store_failed(&mut self, messages: &[NewMessage]) {
        self.plain_answered(messages.iter());
        for m in messages {
            if let store::Author::Peer(peer) = m.author {
                self.endpoint.store_failed(peer, m.id);
            }
        }
    }

    /// After messages were stored: received ones may be acknowledged now.
    pub fn stored(&mut self, inserted: &[(NewMessage, Option<i64>)]) {
        self.plain_answered(inserted.iter().map(|(m, _)| m));
        let now = mono_now();
        let mut by_peer: std::collections::HashMap<NodeId, Vec<MsgId>> = Default::default();
        for (m, _) in inserted {
            if let store::Author::Peer(peer) = m.author {
                by_peer.entry(peer).or_default().push(m.id);
            }
        }
        for (peer, ids) in by_peer {
            self.endpoint.confirm_stored(now, peer, &ids);
        }
    }

    /// The store answered for these messages: the plain-text ones leave the backlog.
    fn plain_answered<'a>(&mut self, messages: impl Iterator<Item = &'a NewMessage>) {
        let plain = messages
            .filter(|m| matches!(m.author, store::Author::Raw(_) | store::Author::Ipmsg(_)))
            .count();
        self.plain_backlog = self.plain_backlog.saturating_sub(plain);
        if self.shedding && self.plain_backlog <= MAX_PLAIN_BACKLOG / 2 {
            self.shedding = false;
            let dropped = std::mem::take(&mut self.plain_dropped);
            tracing::warn!(dropped, "plain text is stored again; dropped meanwhile");
        }
    }

    /// Whether a plain-text message may go to the store now (see [`MAX_PLAIN_BACKLOG`]).
    fn take_plain(&mut self) -> bool {
        if self.plain_backlog >= MAX_PLAIN_BACKLOG {
            self.plain_dropped += 1;
            if !std::mem::replace(&mut self.shedding, true) {
                tracing::warn!("plain text arrives faster than it is stored: dropping some");
                self.send_error = Some(NodeNotice::PlainFlood);
            }
            return false;
        }
        self.plain_backlog += 1;
        true
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.net.local_addr()
    }

    /// Looks up `HOST:PORT` off the loop; the answer comes back as [`Aux::Resolved`].
    pub fn resolve(&mut self, query: String) {
        // A literal address is a lanchat peer from this moment: no text goes to it in the
        // clear while the lookup below (a formality) is on its way.
        // (IPv4 only, as the lookup below: an IPv6 literal is refused there, not added here.)
        if let Ok(addr) = query.parse::<SocketAddr>()
            && addr.is_ipv4()
        {
            self.endpoint.add_peer(mono_now(), addr);
        }
        let tx = self.aux_tx.clone();
        tokio::spawn(async move {
            let result = match tokio::net::lookup_host(query.as_str()).await {
                Ok(addrs) => {
                    let addrs: Vec<SocketAddr> = addrs.collect();
                    addrs.iter().find(|a| a.is_ipv4()).copied().ok_or_else(|| {
                        ResolveError::NoIpv4 {
                            query: query.clone(),
                        }
                    })
                }
                Err(e) => Err(ResolveError::Lookup {
                    query: query.clone(),
                    detail: e.to_string(),
                }),
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
            Some(mut batch) = self.datagrams.recv() => {
                let now = mono_now();
                let mut handled = 0;
                loop {
                    for (src, data) in batch.iter() {
                        self.endpoint.handle_datagram(now, src, data);
                    }
                    handled += batch.len();
                    // Take what else is already queued, up to a turn's worth.
                    if handled >= BATCH {
                        break;
                    }
                    match self.datagrams.try_recv() {
                        Ok(next) => batch = next,
                        Err(_) => break,
                    }
                }
                Wake::Datagrams
            }
            Some(batch) = async {
                match self.ipmsg_datagrams.as_mut() {
                    Some(rx) => rx.recv().await,
                    None => std::future::pending().await,
                }
            } => {
                let now = mono_now();
                for (src, data) in batch.iter() {
                    self.endpoint.handle_ipmsg(now, src, data);
                }
                Wake::Datagrams
            }
            Some(aux) = self.aux_rx.recv() => Wake::Aux(aux),
            Some(reply) = async {
                match self.store_rx.as_mut() {
                    Some(rx) => rx.recv().await,
                    None => std::future::pending().await,
                }
            } => Wake::Store(reply),
            Some(w) = async {
                match self.files.as_mut() {
                    Some(f) => Some(f.next().await),
                    None => std::future::pending().await,
                }
            } => {
                self.on_file_wake(w);
                Wake::Files
            }
            Some(w) = async {
                match self.ipmsg_files.as_mut() {
                    Some(f) => Some(f.next().await),
                    None => std::future::pending().await,
                }
            } => {
                if let Some(f) = self.ipmsg_files.as_mut() {
                    f.on_wake(w);
                }
                Wake::Files
            }
            () = sleep => {
                self.endpoint.handle_timeout(mono_now());
                Wake::Timeout
            }
        }
    }

    /// Sends everything the endpoint queued and returns its events. With a store, received
    /// messages go to the store first and come back as [`Wake::Store`] once written;
    /// delivery states and peers are written along the way.
    pub fn drain(&mut self) -> Vec<proto::Event> {
        let mut pending_files = Vec::new();
        // All at once, so that runs to one peer can leave together.
        let outgoing: Vec<proto::Transmit> =
            std::iter::from_fn(|| self.endpoint.poll_transmit()).collect();
        if let Err(e) = self.net.send_all(&outgoing) {
            tracing::warn!(%e, "send failed");
            self.send_error = Some(NodeNotice::SendFailed(e.to_string()));
        }
        // File messages are the node's to act on (and to acknowledge once kept); a peer
        // coming up may let downloads resume.
        let mut events = Vec::new();
        while let Some(e) = self.endpoint.poll_event() {
            match e {
                proto::Event::File {
                    from, id, signal, ..
                } => pending_files.push((from, id, signal)),
                proto::Event::IpmsgFiles {
                    from,
                    addr,
                    offer_no,
                    files,
                } => self.on_ipmsg_offer(from, addr, offer_no, files),
                proto::Event::IpmsgRelease { from, offer_no } => {
                    if let Some(f) = self.ipmsg_files.as_mut() {
                        f.on_release(from, offer_no);
                    }
                }
                other => events.push(other),
            }
        }
        for (from, id, signal) in pending_files {
            self.on_file_signal(from, id, signal);
        }
        for e in &events {
            if let proto::Event::PeerUp(p) | proto::Event::PeerUpdated(p) = e
                && p.online
            {
                self.files_peer_up(p.id);
            }
        }
        // Only the lines that changed are appended; the endpoint says which.
        let changes = self.endpoint.take_known_changes();
        if !changes.is_empty()
            && let Err(e) = crate::config::record_known_peers(&self.config_dir, &changes)
        {
            tracing::error!(%e, "could not save known_peers");
            self.send_error = Some(NodeNotice::KnownPeersNotSaved(e.to_string()));
        }
        if let Some(times) = self.endpoint.take_handshake_times() {
            self.times = Some(times);
        }
        self.keep_group_events(&mut events);
        let due = self
            .times_written
            .is_none_or(|at| mono_now().saturating_duration_since(at) >= TIMES_WRITE_GAP);
        if self.times.is_some() && due {
            self.write_times();
        }
        if self.store.is_none() {
            return events;
        }
        let now_ms = wall_now_ms();
        let mut out = Vec::with_capacity(events.len());
        let mut inserts = Vec::new();
        let mut states = Vec::new();
        let mut settled = Vec::new();
        for e in events {
            match e {
                // Plain text beyond what the store can take is dropped (a flood of it must
                // not hold up what lanchat peers say, which queues behind it).
                proto::Event::Message {
                    conversation: ConversationId::Raw(_) | ConversationId::Ipmsg(_),
                    ..
                } if !self.take_plain() => {}
                proto::Event::Message {
                    conversation,
                    id,
                    sent_at_ms,
                    text,
                    quote,
                } => inserts.extend(store::Author::of(conversation).map(|author| NewMessage {
                    conversation,
                    id,
                    author,
                    sent_at_ms: sent_at_ms.unwrap_or(now_ms),
                    received_at_ms: now_ms,
                    text,
                    state: None,
                    quote,
                })),
                // Applied by the store first, then acknowledged and shown. The window is
                // measured on this machine's clock, from when the target arrived here: the
                // recall's own time is the sender's word.
                proto::Event::Recall {
                    from, id, target, ..
                } => self.store(storage::Request::Recall {
                    conversation: ConversationId::Peer(from),
                    author: store::Author::Peer(from),
                    target,
                    within: Some((now_ms, RECALL_WINDOW_MS)),
                    id: Some(id),
                }),
                // Only my messages to `from` can be read by `from`: the store checks, and so
                // does the app with the event.
                proto::Event::Read { from, ref ids } => {
                    self.store(storage::Request::Read {
                        peer: from,
                        ids: ids.clone(),
                    });
                    out.push(e);
                }
                proto::Event::State { id, state } => {
                    states.push((id, state));
                    if matches!(state, DeliveryState::Delivered | DeliveryState::Read) {
                        settled.push(id);
                    }
                    out.push(e);
                }
                proto::Event::PeerUp(ref p) | proto::Event::PeerUpdated(ref p) => {
                    self.store(storage::Request::Peer(PeerRow {
                        id: p.id,
                        name: p.name.clone(),
                        addr: p.addr,
                        last_seen_ms: now_ms,
                    }));
                    out.push(e);
                }
                other => out.push(other),
            }
        }
        if !inserts.is_empty() {
            self.store(storage::Request::Insert(inserts));
        }
        if !states.is_empty() {
            self.store(storage::Request::States(states));
        }
        if !settled.is_empty() {
            self.store(storage::Request::OutboxRemove(settled));
        }
        out
    }

    pub fn take_send_error(&mut self) -> Option<NodeNotice> {
        self.send_error.take()
    }

    pub fn add_peer(&mut self, addr: SocketAddr) {
        self.endpoint.add_peer(mono_now(), addr);
    }

    /// Sends our IP Messenger entry to `addr`, now and at every refresh.
    pub fn add_ipmsg_peer(&mut self, addr: SocketAddr) {
        self.endpoint.add_ipmsg_peer(addr);
    }

    /// Where the IP Messenger socket is bound, when on.
    pub fn ipmsg_addr(&self) -> Option<SocketAddr> {
        self.net.ipmsg_addr()
    }

    /// Away with this text, or back (`None`): IP Messenger peers are told.
    pub fn set_away(&mut self, text: Option<String>) {
        self.endpoint.set_away(text);
    }

    pub fn send(
        &mut self,
        to: ConversationId,
        id: MsgId,
        sent_at_ms: i64,
        text: &str,
    ) -> Result<(), proto::SendError> {
        self.send_body(to, id, sent_at_ms, Body::Text(text.to_owned()))
    }

    /// Sends text, a reply, or a recall of one of my messages, and writes it down: the
    /// message (or the recall's effect) in the history, and in the outbox until delivered.
    pub fn send_body(
        &mut self,
        to: ConversationId,
        id: MsgId,
        sent_at_ms: i64,
        body: Body,
    ) -> Result<(), proto::SendError> {
        self.endpoint
            .send_body(mono_now(), to, id, sent_at_ms, &body)?;
        if self.store.is_none() {
            return Ok(());
        }
        let mine = |text: &str, quote: Option<&Quote>| NewMessage {
            conversation: to,
            id,
            author: store::Author::Me,
            sent_at_ms,
            received_at_ms: sent_at_ms,
            text: text.to_owned(),
            state: Some(DeliveryState::Sending),
            quote: quote.cloned(),
        };
        match &body {
            Body::Text(text) => self.store(storage::Request::Insert(vec![mine(text, None)])),
            Body::Reply { quote, text } => {
                self.store(storage::Request::Insert(vec![mine(text, Some(quote))]));
            }
            Body::Recall(target) => self.store(storage::Request::Recall {
                conversation: to,
                author: store::Author::Me,
                target: *target,
                within: None,
                id: None,
            }),
            // Wired in the files work: a file message is no history row (the outbox below
            // keeps it until delivered).
            Body::FileOffer(_)
            | Body::FileAccept { .. }
            | Body::FileDecline(_)
            | Body::FileCancel { .. } => {}
        }
        if let ConversationId::Peer(peer) = to {
            self.store(storage::Request::OutboxAdd(Box::new(OutboxRow {
                id,
                to: peer,
                sent_at_ms,
                body,
            })));
        }
        Ok(())
    }

    /// After the store applied a recall from a peer: acknowledge it (or, if the store
    /// failed, let the peer send it again later).
    pub fn recall_stored(&mut self, author: store::Author, id: Option<MsgId>, ok: bool) {
        if let (store::Author::Peer(peer), Some(id)) = (author, id) {
            if ok {
                self.endpoint.confirm_stored(mono_now(), peer, &[id]);
            } else {
                self.endpoint.store_failed(peer, id);
            }
        }
    }

    /// Does the node's part of a store reply (received messages now stored are
    /// acknowledged, ones that could not be are let go so that their senders try again) and
    /// returns what is left for the front end to show. The one place both front ends take
    /// the store's replies from.
    pub fn settle(&mut self, reply: storage::Reply) -> Vec<StoreEvent> {
        use storage::Reply;
        match reply {
            Reply::Inserted(list) => {
                self.stored(&list);
                list.into_iter()
                    .filter_map(|(m, seq)| {
                        // `None`: a copy of a message already stored, shown once already.
                        let seq = seq?;
                        Some(if m.author == store::Author::Me {
                            StoreEvent::Mine { id: m.id, seq }
                        } else {
                            StoreEvent::Received {
                                conversation: m.conversation,
                                sent_at_ms: m.sent_at_ms,
                                message: m.stored(seq),
                            }
                        })
                    })
                    .collect()
            }
            Reply::Page {
                conversation,
                page,
                messages,
                more,
            } => vec![StoreEvent::Page {
                conversation,
                page,
                messages,
                more,
            }],
            Reply::Search { query, hits } => vec![StoreEvent::Search { query, hits }],
            Reply::Read { peer, ids } => vec![StoreEvent::Read { peer, ids }],
            Reply::QuoteChecked {
                conversation,
                reply,
                author,
                excerpt,
            } => vec![StoreEvent::QuoteChecked {
                conversation,
                reply,
                author,
                excerpt,
            }],
            Reply::Recalled {
                conversation,
                author,
                target,
                id,
                result,
            } => {
                self.recall_stored(author, id, result.is_ok());
                match result {
                    Ok(true) => vec![StoreEvent::Recalled {
                        conversation,
                        author,
                        target,
                    }],
                    Ok(false) => Vec::new(),
                    Err(error) => vec![StoreEvent::RecallFailed { error }],
                }
            }
            Reply::FileKept { ack, ok, shown } => {
                if let Some((peer, id)) = ack {
                    if ok {
                        self.endpoint.confirm_stored(mono_now(), peer, &[id]);
                    } else {
                        self.endpoint.store_failed(peer, id);
                    }
                }
                shown
                    .map(|shown| {
                        let (conversation, message) = *shown;
                        StoreEvent::File {
                            conversation,
                            message,
                        }
                    })
                    .into_iter()
                    .collect()
            }
            Reply::Group(applied) => vec![node_groups::group_stored(applied)],
            Reply::Failed { error, messages } => {
                self.store_failed(&messages);
                let mine = messages
                    .iter()
                    .filter(|m| m.author == store::Author::Me)
                    .map(|m| m.id)
                    .collect();
                vec![StoreEvent::Failed { error, mine }]
            }
        }
    }

    pub fn mark_read(&mut self, peer: NodeId, ids: &[MsgId]) {
        self.endpoint.mark_read(mono_now(), peer, ids);
    }

    /// Says goodbye and flushes it out.
    pub fn shutdown(&mut self) {
        self.endpoint.shutdown(mono_now());
        self.drain();
        self.write_times();
    }

    fn write_times(&mut self) {
        if let Some(times) = self.times.take() {
            self.times_written = Some(mono_now());
            if let Err(e) = crate::config::save_handshake_times(&self.config_dir, &times) {
                tracing::warn!(%e, "could not save handshake times");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{Author, Message};
    use storage::Reply;

    fn node() -> (Node, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let settings = Settings::loopback("me", dir.path());
        let node = Node::start(&settings, Identity::from_secret([1; 32])).unwrap();
        (node, dir)
    }

    #[test]
    fn node_notices_read_as_before_in_english_and_are_translated() {
        // English is what the pipe's JSON has always said.
        let cases = [
            (
                NodeNotice::DiscoveryOff {
                    port: 47474,
                    detail: "Address in use".into(),
                },
                "discovery is off: cannot use port 47474: Address in use",
                "自动发现已关闭：无法使用端口 47474：Address in use",
            ),
            (
                NodeNotice::SendFailed("Network is unreachable".into()),
                "send failed: Network is unreachable",
                "发送失败：Network is unreachable",
            ),
            (
                NodeNotice::KnownPeersNotSaved("disk full".into()),
                "could not save known peers: disk full",
                "无法保存已知联系人：disk full",
            ),
            (
                NodeNotice::StoreBehind,
                "history not saved: the store is behind or gone",
                "消息记录未保存：存储跟不上或已停止",
            ),
            (
                NodeNotice::PlainFlood,
                "plain text is arriving faster than it can be saved (a flood?): some is dropped",
                "明文消息来得比保存得快（遭遇刷屏？）：部分已丢弃",
            ),
        ];
        for (notice, en, zh) in cases {
            assert_eq!(notice.text(Lang::En), en);
            assert_eq!(notice.text(Lang::Zh), zh);
        }
        let no_v4 = ResolveError::NoIpv4 {
            query: "h:1".into(),
        };
        assert_eq!(no_v4.text(Lang::En), "h:1: no IPv4 address");
        assert_eq!(no_v4.text(Lang::Zh), "h:1：没有 IPv4 地址");
        let lookup = ResolveError::Lookup {
            query: "h:1".into(),
            detail: "failed to lookup".into(),
        };
        assert_eq!(lookup.text(Lang::Zh), "h:1: failed to lookup");
    }

    fn theirs(peer: NodeId, id: u64, text: &str) -> NewMessage {
        NewMessage {
            conversation: ConversationId::Peer(peer),
            id: MsgId(id),
            author: Author::Peer(peer),
            sent_at_ms: 900,
            received_at_ms: 1000,
            text: text.to_owned(),
            state: None,
            quote: Some(Quote {
                id: MsgId(50),
                author: peer,
                excerpt: "what they claim I said".into(),
            }),
        }
    }

    #[tokio::test]
    async fn a_stored_batch_shows_each_new_message_once_as_the_app_holds_it() {
        let (mut node, _dir) = node();
        let peer = NodeId([2; 32]);
        let first = theirs(peer, 1, "hello");
        let copy = theirs(peer, 2, "hello again");
        let mine = NewMessage {
            author: Author::Me,
            state: Some(DeliveryState::Sending),
            quote: None,
            ..theirs(peer, 3, "mine")
        };
        let events = node.settle(Reply::Inserted(vec![
            (first.clone(), Some(7)),
            (copy, None),
            (mine, Some(8)),
        ]));
        let [
            StoreEvent::Received {
                conversation,
                message,
                sent_at_ms,
            },
            StoreEvent::Mine { id, seq },
        ] = events.as_slice()
        else {
            panic!("expected one received and one of mine, got {events:?}");
        };
        assert_eq!(*conversation, ConversationId::Peer(peer));
        assert_eq!(*sent_at_ms, 900);
        // This machine's clock, its place in the history; the quote is still a claim.
        assert_eq!(
            *message,
            Message {
                seq: Some(7),
                quote: first.quote,
                ..Message::new(MsgId(1), Author::Peer(peer), 1000, "hello".into())
            }
        );
        assert_eq!((*id, *seq), (MsgId(3), 8));
    }

    #[tokio::test]
    async fn what_was_not_stored_names_my_messages_and_a_lost_recall_says_so() {
        let (mut node, _dir) = node();
        let peer = NodeId([2; 32]);
        let mine = NewMessage {
            author: Author::Me,
            ..theirs(peer, 3, "mine")
        };
        let events = node.settle(Reply::Failed {
            error: "disk full".into(),
            messages: vec![theirs(peer, 1, "theirs"), mine],
        });
        assert!(
            matches!(events.as_slice(), [StoreEvent::Failed { error, mine }]
                if error == "disk full" && mine == &[MsgId(3)]),
            "{events:?}"
        );
        let events = node.settle(Reply::Recalled {
            conversation: ConversationId::Peer(peer),
            author: Author::Peer(peer),
            target: MsgId(1),
            id: Some(MsgId(9)),
            result: Err("disk full".into()),
        });
        assert!(
            matches!(events.as_slice(), [StoreEvent::RecallFailed { error }] if error == "disk full"),
            "{events:?}"
        );
        // A recall that matched nothing shows nothing.
        let events = node.settle(Reply::Recalled {
            conversation: ConversationId::Peer(peer),
            author: Author::Peer(peer),
            target: MsgId(1),
            id: Some(MsgId(9)),
            result: Ok(false),
        });
        assert!(events.is_empty(), "{events:?}");
    }
}
