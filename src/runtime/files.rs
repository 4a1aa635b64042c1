//! File transfers for the node (issue 15): offers, answers and downloads, wired between the
//! chat stream (`Event::File`, `Body::File*`), the store (`store/transfers.rs`) and the TCP
//! data path ([`super::transfer`]).
//!
//! - The node listens on TCP on the UDP socket's IP (the same port number if free) and
//!   serves the files it offers ([`Offers`]); a receiver connects to the port in the offer.
//! - Everything a peer says is a claim: a signal counts only from the transfer's peer, an
//!   offer's size is held to `max_file_size`, its name reaches the disk only through
//!   `files::safe_name` and `files::unique_name` inside the download directory, and nothing
//!   is written before the user accepts.
//! - Bounded: at most [`MAX_OFFERS`] live outgoing offers, [`MAX_INCOMING`] incoming ones,
//!   `max_transfers` downloads at once (more wait in a queue), [`MAX_EVENTS`] events for the
//!   front end.
//! - Progress is written to the store and shown at most every [`PROGRESS_GAP`].
//! - A download that failed in a way that may resume is tried again when its peer is next
//!   online, or offers the file again (after a restart, from a new port); the partial file's
//!   length is the resume point. At start, unfinished transfers are picked up from the store.

use super::storage::{Request, TransferOp};
use super::transfer::{
    self, Fetch, Fetched, Limits, Offered, Offers, Progress, ServeEvent, Server, TransferError,
};
use super::{Node, mono_now, wall_now_ms};
use crate::config::Settings;
use crate::proto::filedata::Suite;
use crate::proto::files::{
    self, CancelReason, Direction, FileKind, FileOffer, FileSignal, Problem, TransferId,
    TransferState,
};
use crate::proto::{Body, ConversationId, Identity, MsgId, NodeId, Trust};
use crate::rng::Rng;
use crate::store::TransferRow;
use std::collections::{HashMap, VecDeque};
use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Outgoing offers alive at once (offered, accepted or running), at most.
pub const MAX_OFFERS: usize = 64;
/// Incoming transfers held at once (not final), at most; more offers are declined.
pub const MAX_INCOMING: usize = 256;
/// Events waiting for the front end, at most (progress is dropped first).
pub const MAX_EVENTS: usize = 1024;
/// Progress is written down and shown at most this often per transfer (and at the end).
pub const PROGRESS_GAP: Duration = Duration::from_millis(500);
/// A download whose connection broke while its peer stayed online is tried again after
/// this, doubling with each failure in a row up to [`RETRY_MAX`].
pub const RETRY_FIRST: Duration = Duration::from_secs(2);
pub const RETRY_MAX: Duration = Duration::from_secs(60);

/// What the front end is told about files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileEvent {
    /// My offer of `name` went out to `to` (the file is hashed).
    Offered {
        id: TransferId,
        to: NodeId,
        name: String,
        size: u64,
    },
    /// My offer of `name` is being prepared: `done` bytes of `size` hashed.
    Hashing {
        id: TransferId,
        name: String,
        done: u64,
        size: u64,
    },
    /// `from` offers me a file. `name` is the peer's word: untrusted.
    Offer {
        id: TransferId,
        from: NodeId,
        name: String,
        size: u64,
        kind: FileKind,
    },
    /// `done` bytes of `size` are through.
    Progress {
        id: TransferId,
        done: u64,
        size: u64,
    },
    /// Received and verified at `path` (incoming), or received whole by the peer (outgoing,
    /// `path` is the source). `bytes`: the file's bytes that crossed the network for it
    /// since this node started (received by the last download, or sent over every
    /// connection): with resuming, about what was missing rather than the whole file again.
    Done {
        id: TransferId,
        path: PathBuf,
        bytes: u64,
    },
    /// Stopped: declined, cancelled, or failed (`reason`, in English for the pipe;
    /// `problem` for the screen). A download that may resume is tried again when its peer
    /// is next online.
    Failed {
        id: TransferId,
        reason: String,
        problem: Problem,
    },
    /// The transfer moved to `state` (or stays, with a new `problem`): what its bubble
    /// shows. `path`: where an accepted file goes.
    State {
        id: TransferId,
        state: TransferState,
        problem: Option<Problem>,
        path: Option<PathBuf>,
    },
}

/// The file settings the node needs.
#[derive(Debug, Clone)]
pub struct FileSettings {
    pub download_dir: PathBuf,
    pub max_file_size: u64,
    pub max_transfers: usize,
    pub auto_accept_verified: u64,
}

impl FileSettings {
    pub fn from_settings(s: &Settings) -> Self {
        Self {
            download_dir: s.download_dir.clone(),
            max_file_size: s.max_file_size.min(files::MAX_FILE_BYTES),
            max_transfers: s.max_transfers.max(1),
            auto_accept_verified: s.auto_accept_verified,
        }
    }
}

/// Background results for the loop.
#[derive(Debug)]
pub enum Work {
    /// A file being hashed for an offer got this far.
    Hashing {
        id: TransferId,
        name: String,
        done: u64,
        size: u64,
    },
    Hashed {
        id: TransferId,
        to: NodeId,
        path: PathBuf,
        name: String,
        result: Result<(u64, [u8; 32]), String>,
    },
    Fetched {
        id: TransferId,
        result: Result<Fetched, TransferError>,
    },
}

/// What woke the loop from the files' side.
#[derive(Debug)]
pub enum FileWake {
    Serve(ServeEvent),
    Progress(Progress),
    Work(Work),
    /// A broken download is due to be tried again.
    Retry,
}

/// One transfer in memory.
struct Live {
    row: TransferRow,
    /// When progress was last written and shown.
    reported: Option<Instant>,
    /// Incoming, accepted: start (or resume) it when the peer is next online.
    waiting: bool,
    /// Outgoing: file bytes sent over connections that ended.
    sent: u64,
    /// Incoming: asked to start again while a download of it was still ending (a new port
    /// came): it goes back in line when that one stops.
    again: bool,
    /// Incoming, waiting: when to try again though its peer never went offline (a link that
    /// broke under a chat that did not), and how many tries in a row failed.
    retry_at: Option<Instant>,
    failures: u32,
}

impl Live {
    fn new(row: TransferRow, waiting: bool) -> Live {
        Live {
            row,
            reported: None,
            waiting,
            sent: 0,
            again: false,
            retry_at: None,
            failures: 0,
        }
    }
}

/// How long to wait before try number `failures + 1`.
pub fn retry_delay(failures: u32) -> Duration {
    RETRY_FIRST
        .saturating_mul(1 << failures.saturating_sub(1).min(16))
        .min(RETRY_MAX)
}

/// The node's file transfers.
pub struct Files {
    me: Identity,
    cfg: FileSettings,
    offers: Offers,
    server: Server,
    serve_rx: mpsc::Receiver<ServeEvent>,
    work_tx: mpsc::Sender<Work>,
    work_rx: mpsc::Receiver<Work>,
    progress_tx: mpsc::Sender<Progress>,
    progress_rx: mpsc::Receiver<Progress>,
    live: HashMap<TransferId, Live>,
    running: HashMap<TransferId, tokio::task::JoinHandle<()>>,
    queue: VecDeque<TransferId>,
    /// Files being hashed for an offer.
    hashing: usize,
    events: VecDeque<FileEvent>,
    rng: Rng,
}

impl Files {
    /// Binds the TCP listener on `udp`'s IP (its port number if free, else any) and starts
    /// serving. `None` (logged) outside a tokio runtime or if nothing can be bound.
    pub fn start(settings: &Settings, me: Identity, udp: SocketAddr, seed: u64) -> Option<Files> {
        tokio::runtime::Handle::try_current().ok()?;
        let bind = |port: u16| -> std::io::Result<tokio::net::TcpListener> {
            let std = std::net::TcpListener::bind(SocketAddr::new(udp.ip(), port))?;
            std.set_nonblocking(true)?;
            tokio::net::TcpListener::from_std(std)
        };
        let listener = match bind(udp.port()).or_else(|_| bind(0)) {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(%e, "no TCP listener: files cannot be sent");
                return None;
            }
        };
        let offers = Offers::default();
        let (serve_tx, serve_rx) = mpsc::channel(256);
        let server = match transfer::serve(
            listener,
            me.clone(),
            Suite::DEFAULT,
            Limits::default(),
            offers.clone(),
            serve_tx,
        ) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(%e, "cannot serve files");
                return None;
            }
        };
        let (work_tx, work_rx) = mpsc::channel(256);
        let (progress_tx, progress_rx) = mpsc::channel(256);
        Some(Files {
            me,
            cfg: FileSettings::from_settings(settings),
            offers,
            server,
            serve_rx,
            work_tx,
            work_rx,
            progress_tx,
            progress_rx,
            live: HashMap::new(),
            running: HashMap::new(),
            queue: VecDeque::new(),
            hashing: 0,
            events: VecDeque::new(),
            rng: Rng::new(seed),
        })
    }

    /// The TCP port offers name.
    pub fn port(&self) -> u16 {
        self.server.local_addr().port()
    }

    /// The next background result, or the moment a broken download is due to be tried
    /// again. Cancel-safe.
    pub async fn next(&mut self) -> FileWake {
        let retry = self.live.values().filter_map(|l| l.retry_at).min();
        tokio::select! {
            Some(e) = self.serve_rx.recv() => FileWake::Serve(e),
            Some(p) = self.progress_rx.recv() => FileWake::Progress(p),
            Some(w) = self.work_rx.recv() => FileWake::Work(w),
            () = async {
                match retry {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending().await,
                }
            } => FileWake::Retry,
        }
    }

    fn push(&mut self, e: FileEvent) {
        if self.events.len() >= MAX_EVENTS {
            if matches!(e, FileEvent::Progress { .. }) {
                return;
            }
            self.events.pop_front();
        }
        self.events.push_back(e);
    }

    fn new_id(&mut self) -> TransferId {
        loop {
            let mut b = [0u8; 16];
            b[..8].copy_from_slice(&self.rng.next_u64().to_le_bytes());
            b[8..].copy_from_slice(&self.rng.next_u64().to_le_bytes());
            let id = TransferId(b);
            if !id.is_zero() && !self.live.contains_key(&id) {
                return id;
            }
        }
    }

    fn count(&self, direction: Direction) -> usize {
        self.live
            .values()
            .filter(|l| l.row.direction == direction)
            .count()
    }

    /// Ends a download running or queued (the partial file stays).
    fn stop_fetch(&mut self, id: &TransferId) {
        if let Some(task) = self.running.remove(id) {
            task.abort();
        }
        self.queue.retain(|q| q != id);
    }
}

/// Bytes hashed between two reports of how far hashing got.
const HASH_REPORT_BYTES: u64 = 64 << 20;

/// BLAKE3 of the file at `path`, and its length; `report(done)` every
/// [`HASH_REPORT_BYTES`].
fn hash_file(path: &Path, mut report: impl FnMut(u64)) -> std::io::Result<(u64, [u8; 32])> {
    let mut f = std::fs::File::open(path)?;
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; 256 << 10];
    let mut len = 0u64;
    let mut reported = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            return Ok((len, *hasher.finalize().as_bytes()));
        }
        hasher.update(&buf[..n]);
        len += n as u64;
        if len - reported >= HASH_REPORT_BYTES {
            reported = len;
            report(len);
        }
    }
}

impl Node {
    /// The node's file events since last asked (the front end shows them).
    pub fn take_file_events(&mut self) -> Vec<FileEvent> {
        self.files
            .as_mut()
            .map(|f| f.events.drain(..).collect())
            .unwrap_or_default()
    }

    /// The peer and direction of transfer `id`, while it is not finished.
    pub fn transfer_about(&self, id: &TransferId) -> Option<(NodeId, Direction)> {
        let live = self.files.as_ref()?.live.get(id)?;
        Some((live.row.peer, live.row.direction))
    }

    /// Writes a transfer change down; `ack` (a peer's file message) is acknowledged once it
    /// is kept (at once without a store).
    fn keep(&mut self, op: TransferOp, ack: Option<(NodeId, MsgId)>) {
        if self.store.is_some() {
            self.store(Request::Transfer { op, ack });
        } else if let Some((peer, id)) = ack {
            self.endpoint.confirm_stored(mono_now(), peer, &[id]);
        }
    }

    fn ack_now(&mut self, peer: NodeId, id: MsgId) {
        self.endpoint.confirm_stored(mono_now(), peer, &[id]);
    }

    /// Writes down that transfer `id` moved to `state` (or has a new `problem`) and shows
    /// it.
    fn keep_state(
        &mut self,
        id: TransferId,
        state: TransferState,
        problem: Option<Problem>,
        ack: Option<(NodeId, MsgId)>,
    ) {
        if let Some(files) = self.files.as_mut() {
            files.push(FileEvent::State {
                id,
                state,
                problem,
                path: None,
            });
        }
        let error = problem.map(|p| p.as_str().to_owned());
        self.keep(TransferOp::State { id, state, error }, ack);
    }

    /// Sends a file message to `to` (kept in the outbox until delivered).
    fn send_file_body(&mut self, to: NodeId, body: Body) {
        let Some(files) = self.files.as_mut() else {
            return;
        };
        let id = MsgId(files.rng.nonzero_u64());
        if let Err(e) = self.send_body(ConversationId::Peer(to), id, wall_now_ms(), body) {
            tracing::warn!(%e, "file message not sent");
        }
    }

    /// Offers the file at `path` to the lanchat peer `to`. The file is hashed off the loop;
    /// the offer goes out then ([`FileEvent::Offered`], or [`FileEvent::Failed`]).
    pub fn send_file(&mut self, to: NodeId, path: &Path) -> Result<TransferId, String> {
        if self.endpoint.peer(&to).is_none() {
            return Err(format!("no lanchat peer {}", to.short()));
        }
        let Some(files) = self.files.as_mut() else {
            return Err("files cannot be sent: no TCP listener".into());
        };
        if files.count(Direction::Out) + files.hashing >= MAX_OFFERS {
            return Err(format!(
                "{MAX_OFFERS} files are on offer already: wait or cancel one"
            ));
        }
        let path = std::fs::canonicalize(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let meta = std::fs::metadata(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        if !meta.is_file() {
            return Err(format!("{} is not a file", path.display()));
        }
        if meta.len() > files::MAX_FILE_BYTES {
            return Err(format!("{} is too large to send", path.display()));
        }
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let name = crate::proto::wire::clip_utf8(&name, files::MAX_NAME_BYTES).to_owned();
        if name.is_empty() {
            return Err(format!("{} has no file name", path.display()));
        }
        let id = files.new_id();
        files.hashing += 1;
        let tx = files.work_tx.clone();
        let size = meta.len();
        tokio::task::spawn_blocking(move || {
            let report = |done| {
                // Dropped when the loop is behind: the next one says more.
                let _ = tx.try_send(Work::Hashing {
                    id,
                    name: name.clone(),
                    done,
                    size,
                });
            };
            let result = hash_file(&path, report).map_err(|e| format!("{}: {e}", path.display()));
            let _ = tx.blocking_send(Work::Hashed {
                id,
                to,
                path,
                name,
                result,
            });
        });
        Ok(id)
    }

    /// Takes the file `id` offered to me, into `dir` (else the download directory).
    pub fn accept_file(&mut self, id: TransferId, dir: Option<PathBuf>) -> Result<(), String> {
        let Some(files) = self.files.as_mut() else {
            return Err("files cannot be received: no TCP listener".into());
        };
        let dir = dir.unwrap_or_else(|| files.cfg.download_dir.clone());
        let Some(live) = files.live.get_mut(&id) else {
            return Err(format!("no file offer {id}"));
        };
        if live.row.direction != Direction::In || live.row.state != TransferState::Offered {
            return Err(format!("file {id} is not waiting for an answer"));
        }
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let name = files::safe_name(&live.row.name);
        let taken = |n: &str| {
            dir.join(n).symlink_metadata().is_ok()
                || dir.join(files::partial_name(n)).symlink_metadata().is_ok()
        };
        let Some(name) = files::unique_name(&name, taken) else {
            return Err(format!("no free name for the file in {}", dir.display()));
        };
        let path = dir.join(name);
        live.row.local_path = Some(path.clone());
        live.row.state = TransferState::Accepted;
        let peer = live.row.peer;
        files.push(FileEvent::State {
            id,
            state: TransferState::Accepted,
            problem: None,
            path: Some(path.clone()),
        });
        self.keep(TransferOp::Accept { id, path }, None);
        self.send_file_body(peer, Body::FileAccept { id });
        self.queue_fetch(id);
        Ok(())
    }

    /// Says no to the file `id` offered to me.
    pub fn decline_file(&mut self, id: TransferId) -> Result<(), String> {
        let Some(files) = self.files.as_mut() else {
            return Err(format!("no file offer {id}"));
        };
        match files.live.get(&id) {
            Some(l)
                if l.row.direction == Direction::In && l.row.state == TransferState::Offered => {}
            _ => return Err(format!("no file offer {id} waiting for an answer")),
        }
        let Some(live) = files.live.remove(&id) else {
            return Ok(());
        };
        self.keep_state(id, TransferState::Declined, Some(Problem::Declined), None);
        self.send_file_body(live.row.peer, Body::FileDecline(id));
        Ok(())
    }

    /// Stops transfer `id`, either way, and tells the peer.
    pub fn cancel_file(&mut self, id: TransferId) -> Result<(), String> {
        let Some(files) = self.files.as_mut() else {
            return Err(format!("no file transfer {id}"));
        };
        let Some(live) = files.live.remove(&id) else {
            return Err(format!("no file transfer {id} under way"));
        };
        files.stop_fetch(&id);
        files.offers.remove(&id);
        if live.row.direction == Direction::In
            && let Some(path) = &live.row.local_path
            && let (Some(dir), Some(name)) = (path.parent(), path.file_name())
        {
            let partial = dir.join(files::partial_name(&name.to_string_lossy()));
            let _ = std::fs::remove_file(partial);
        }
        self.keep_state(id, TransferState::Cancelled, Some(Problem::Cancelled), None);
        self.send_file_body(
            live.row.peer,
            Body::FileCancel {
                id,
                reason: CancelReason::Cancelled,
            },
        );
        Ok(())
    }

    /// A file message from a peer (`Event::File`).
    pub(super) fn on_file_signal(&mut self, from: NodeId, msg: MsgId, signal: FileSignal) {
        let ack = Some((from, msg));
        let Some(files) = self.files.as_mut() else {
            // Nothing to do it with: let it go, acknowledged, so it is not sent again.
            self.ack_now(from, msg);
            return;
        };
        let id = signal.transfer();
        // Anyone can name any id: only the transfer's peer counts.
        let known = files.live.get(&id).map(|l| (l.row.peer, l.row.direction));
        match (signal, known) {
            (FileSignal::Offer(offer), None) => self.on_offer(from, msg, offer),
            (FileSignal::Offer(offer), Some((peer, Direction::In))) if peer == from => {
                self.on_reoffer(from, msg, &offer);
            }
            (FileSignal::Accept(_), Some((peer, Direction::Out))) if peer == from => {
                if let Some(live) = files.live.get_mut(&id)
                    && live.row.state == TransferState::Offered
                {
                    live.row.state = TransferState::Accepted;
                    self.keep_state(id, TransferState::Accepted, None, ack);
                } else {
                    self.ack_now(from, msg);
                }
            }
            (FileSignal::Decline(_), Some((peer, Direction::Out))) if peer == from => {
                files.offers.remove(&id);
                files.live.remove(&id);
                files.push(FileEvent::Failed {
                    id,
                    reason: "declined".into(),
                    problem: Problem::Declined,
                });
                self.keep_state(id, TransferState::Declined, Some(Problem::Declined), ack);
            }
            (FileSignal::Cancel { reason, .. }, Some((peer, _))) if peer == from => {
                files.offers.remove(&id);
                files.stop_fetch(&id);
                files.live.remove(&id);
                let why = format!("cancelled by the peer ({})", reason.as_str());
                let problem = Problem::from_cancel(reason);
                files.push(FileEvent::Failed {
                    id,
                    reason: why,
                    problem,
                });
                self.keep_state(id, TransferState::Cancelled, Some(problem), ack);
            }
            (_, _) => {
                tracing::debug!(%id, "file message for no transfer of this peer's: ignored");
                self.ack_now(from, msg);
            }
        }
    }

    /// A new offer from `from`.
    fn on_offer(&mut self, from: NodeId, msg: MsgId, offer: FileOffer) {
        let verified = self.endpoint.trust(&from) == Some(Trust::Verified);
        let Some(files) = self.files.as_mut() else {
            return;
        };
        let refusal = if offer.size > files.cfg.max_file_size {
            Some((
                format!(
                    "offered file too large ({} bytes; the limit is {})",
                    offer.size, files.cfg.max_file_size
                ),
                Problem::TooLarge,
            ))
        } else if files.count(Direction::In) >= MAX_INCOMING {
            Some((
                format!("too many file offers ({MAX_INCOMING}) waiting"),
                Problem::TooMany,
            ))
        } else {
            None
        };
        if let Some((reason, problem)) = refusal {
            tracing::info!(id = %offer.id, %reason, "file offer declined");
            files.push(FileEvent::Failed {
                id: offer.id,
                reason,
                problem,
            });
            self.ack_now(from, msg);
            self.send_file_body(from, Body::FileDecline(offer.id));
            return;
        }
        let row = TransferRow::incoming(from, msg, &offer, wall_now_ms());
        let auto = files.cfg.auto_accept_verified > 0
            && verified
            && offer.size <= files.cfg.auto_accept_verified;
        files.live.insert(offer.id, Live::new(row.clone(), false));
        files.push(FileEvent::Offer {
            id: offer.id,
            from,
            kind: files::kind_of(&offer.name),
            name: offer.name,
            size: offer.size,
        });
        self.keep(TransferOp::Insert(Box::new(row)), Some((from, msg)));
        if auto && let Err(e) = self.accept_file(offer.id, None) {
            tracing::warn!(%e, "could not accept a file automatically");
        }
    }

    /// `from` offers a transfer it offered before: after its restart, from a new port.
    fn on_reoffer(&mut self, from: NodeId, msg: MsgId, offer: &FileOffer) {
        let Some(files) = self.files.as_mut() else {
            return;
        };
        let Some(live) = files.live.get_mut(&offer.id) else {
            return;
        };
        if live.row.hash != offer.hash || live.row.size != offer.size {
            // Not the same file: the id is taken.
            self.ack_now(from, msg);
            return;
        }
        let id = offer.id;
        live.row.port = offer.port;
        let resume = matches!(
            live.row.state,
            TransferState::Accepted | TransferState::Running | TransferState::Failed
        ) && live.row.local_path.is_some();
        self.keep(
            TransferOp::Port {
                id,
                port: offer.port,
            },
            Some((from, msg)),
        );
        if resume {
            self.queue_fetch(id);
        }
    }

    /// Puts download `id` in line and starts what may start.
    fn queue_fetch(&mut self, id: TransferId) {
        let Some(files) = self.files.as_mut() else {
            return;
        };
        if let Some(task) = files.running.get(&id) {
            if !task.is_finished() {
                if let Some(live) = files.live.get_mut(&id) {
                    live.again = true;
                }
                return;
            }
            files.running.remove(&id);
        }
        if !files.queue.contains(&id) {
            files.queue.push_back(id);
        }
        self.pump_fetches();
    }

    /// Starts queued downloads while fewer than `max_transfers` run. One whose peer is not
    /// online waits for it.
    fn pump_fetches(&mut self) {
        let mut starts = Vec::new();
        {
            let Some(files) = self.files.as_mut() else {
                return;
            };
            files.running.retain(|_, t| !t.is_finished());
            while files.running.len() + starts.len() < files.cfg.max_transfers {
                let Some(id) = files.queue.pop_front() else {
                    break;
                };
                let Some(live) = files.live.get_mut(&id) else {
                    continue;
                };
                let peer = self.endpoint.peer(&live.row.peer);
                let Some(peer) = peer.filter(|p| p.online) else {
                    live.waiting = true;
                    continue;
                };
                let Some(dest) = live.row.local_path.clone() else {
                    continue;
                };
                let (Some(dir), Some(name)) = (dest.parent(), dest.file_name()) else {
                    continue;
                };
                live.waiting = false;
                live.row.state = TransferState::Running;
                let partial = dir.join(files::partial_name(&name.to_string_lossy()));
                starts.push(Fetch {
                    me: files.me.clone(),
                    peer: live.row.peer,
                    addr: SocketAddr::new(peer.addr.ip(), live.row.port),
                    id,
                    size: live.row.size,
                    hash: live.row.hash,
                    partial,
                    dest,
                    suite: Suite::DEFAULT,
                    limits: Limits::default(),
                });
            }
        }
        for job in starts {
            let id = job.id;
            self.keep_state(id, TransferState::Running, None, None);
            let Some(files) = self.files.as_mut() else {
                return;
            };
            let tx = files.work_tx.clone();
            let progress = files.progress_tx.clone();
            let task = tokio::spawn(async move {
                let result = transfer::fetch(job, Some(progress)).await;
                let _ = tx.send(Work::Fetched { id, result }).await;
            });
            files.running.insert(id, task);
        }
    }

    /// `peer` is online: downloads from it that wait start, and my offers to it that were
    /// made before a restart are sent again (with the port in use now).
    pub(super) fn files_peer_up(&mut self, peer: NodeId) {
        let Some(files) = self.files.as_mut() else {
            return;
        };
        let waiting: Vec<TransferId> = files
            .live
            .iter()
            .filter(|(id, l)| l.row.peer == peer && l.waiting && !files.running.contains_key(id))
            .map(|(id, _)| *id)
            .collect();
        for id in waiting {
            self.queue_fetch(id);
        }
    }

    /// Tries again the downloads that are due: their link broke while their peer stayed
    /// online (one whose peer went offline waits for it to come back instead).
    fn retry_due(&mut self) {
        let now = Instant::now();
        let Some(files) = self.files.as_mut() else {
            return;
        };
        let due: Vec<TransferId> = files
            .live
            .iter_mut()
            .filter(|(_, l)| l.retry_at.is_some_and(|at| at <= now))
            .map(|(id, l)| {
                l.retry_at = None;
                *id
            })
            .collect();
        for id in due {
            self.queue_fetch(id);
        }
    }

    /// Handles a background result.
    pub(super) fn on_file_wake(&mut self, wake: FileWake) {
        match wake {
            FileWake::Work(Work::Hashed {
                id,
                to,
                path,
                name,
                result,
            }) => self.on_hashed(id, to, path, name, result),
            FileWake::Work(Work::Fetched { id, result }) => self.on_fetched(id, result),
            FileWake::Work(Work::Hashing {
                id,
                name,
                done,
                size,
            }) => {
                if let Some(files) = self.files.as_mut() {
                    files.push(FileEvent::Hashing {
                        id,
                        name,
                        done,
                        size,
                    });
                }
            }
            FileWake::Progress(p) => self.on_progress(p.id, p.done, p.size),
            FileWake::Serve(e) => self.on_serve(e),
            FileWake::Retry => self.retry_due(),
        }
    }

    fn on_hashed(
        &mut self,
        id: TransferId,
        to: NodeId,
        path: PathBuf,
        name: String,
        result: Result<(u64, [u8; 32]), String>,
    ) {
        let Some(files) = self.files.as_mut() else {
            return;
        };
        files.hashing = files.hashing.saturating_sub(1);
        let (size, hash) = match result {
            Ok(r) => r,
            Err(reason) => {
                files.push(FileEvent::Failed {
                    id,
                    reason,
                    problem: Problem::SourceUnreadable,
                });
                return;
            }
        };
        let offer = FileOffer {
            id,
            name: name.clone(),
            size,
            hash,
            port: files.port(),
        };
        let msg = MsgId(files.rng.nonzero_u64());
        let now = wall_now_ms();
        let row = TransferRow::outgoing(to, msg, &offer, path.clone(), now);
        files.offers.insert(
            id,
            Offered {
                path,
                size,
                peer: to,
            },
        );
        files.live.insert(id, Live::new(row.clone(), false));
        files.push(FileEvent::Offered { id, to, name, size });
        self.keep(TransferOp::Insert(Box::new(row)), None);
        if let Err(e) = self.send_body(ConversationId::Peer(to), msg, now, Body::FileOffer(offer)) {
            if let Some(files) = self.files.as_mut() {
                files.offers.remove(&id);
                files.live.remove(&id);
                files.push(FileEvent::Failed {
                    id,
                    reason: format!("offer not sent: {e}"),
                    problem: Problem::NotSent,
                });
            }
            self.keep_state(id, TransferState::Failed, Some(Problem::NotSent), None);
        }
    }

    fn on_progress(&mut self, id: TransferId, done: u64, size: u64) {
        let Some(files) = self.files.as_mut() else {
            return;
        };
        let Some(live) = files.live.get_mut(&id) else {
            return;
        };
        live.row.bytes_done = done;
        live.failures = 0;
        let now = Instant::now();
        if live
            .reported
            .is_some_and(|at| now.saturating_duration_since(at) < PROGRESS_GAP)
        {
            return;
        }
        live.reported = Some(now);
        files.push(FileEvent::Progress { id, done, size });
        self.keep(TransferOp::Progress { id, done }, None);
    }

    fn on_fetched(&mut self, id: TransferId, result: Result<Fetched, TransferError>) {
        let Some(files) = self.files.as_mut() else {
            return;
        };
        files.running.remove(&id);
        let Some(live) = files.live.get_mut(&id) else {
            return;
        };
        match result {
            Ok(fetched) => {
                let size = live.row.size;
                files.live.remove(&id);
                files.push(FileEvent::Progress {
                    id,
                    done: size,
                    size,
                });
                files.push(FileEvent::Done {
                    id,
                    path: fetched.path,
                    bytes: fetched.received,
                });
                self.keep(TransferOp::Progress { id, done: size }, None);
                self.keep_state(id, TransferState::Done, None, None);
            }
            Err(TransferError::Cancelled) => {}
            Err(e) => {
                let reason = e.to_string();
                let resumable = e.may_resume() && e != TransferError::PeerCancelled;
                // One that may resume waits, accepted, for the peer (across a restart too).
                let state = if resumable {
                    TransferState::Accepted
                } else {
                    TransferState::Failed
                };
                live.row.state = state;
                live.waiting = resumable;
                live.failures = live.failures.saturating_add(1);
                // A file that did not match its hash is not fetched again and again by
                // the clock (it would be whole each time): only when the peer comes back.
                let by_clock = resumable && e != TransferError::HashMismatch;
                live.retry_at = by_clock.then(|| Instant::now() + retry_delay(live.failures));
                let again = std::mem::take(&mut live.again) && resumable;
                if !resumable {
                    files.live.remove(&id);
                }
                if again {
                    files.queue.push_back(id);
                }
                let problem = e.problem();
                files.push(FileEvent::Failed {
                    id,
                    reason,
                    problem,
                });
                self.keep_state(id, state, Some(problem), None);
            }
        }
        self.pump_fetches();
    }

    fn on_serve(&mut self, e: ServeEvent) {
        let Some(files) = self.files.as_mut() else {
            return;
        };
        match e {
            ServeEvent::Started { id, .. } => {
                if let Some(live) = files.live.get_mut(&id) {
                    let was = live.row.state;
                    live.row.state = TransferState::Running;
                    if was == TransferState::Offered {
                        self.keep_state(id, TransferState::Accepted, None, None);
                    }
                    self.keep_state(id, TransferState::Running, None, None);
                }
            }
            ServeEvent::Progress { id, done, size, .. } => self.on_progress(id, done, size),
            ServeEvent::Finished { id, sent, .. } => {
                files.offers.remove(&id);
                if let Some(live) = files.live.remove(&id) {
                    let bytes = live.sent + sent;
                    let size = live.row.size;
                    files.push(FileEvent::Progress {
                        id,
                        done: size,
                        size,
                    });
                    if let Some(path) = live.row.source_path {
                        files.push(FileEvent::Done { id, path, bytes });
                    }
                    self.keep(TransferOp::Progress { id, done: size }, None);
                    self.keep_state(id, TransferState::Done, None, None);
                }
            }
            ServeEvent::Failed {
                id, error, sent, ..
            } => {
                // The receiver tries again (or says it stopped): the offer stays, and its
                // bubble says what went wrong (the receiver's full disk, say).
                if let Some(live) = files.live.get_mut(&id) {
                    live.sent += sent;
                    let state = live.row.state;
                    if error != TransferError::Cancelled {
                        self.keep_state(id, state, Some(error.problem()), None);
                    }
                }
                tracing::info!(%id, %error, "a file connection ended early");
            }
            ServeEvent::Refused { id, status, .. } => {
                tracing::info!(%id, ?status, "a file request was refused");
            }
        }
    }

    /// At start: picks up the transfers a previous run left unfinished.
    pub(super) fn restore_transfers(&mut self, rows: Vec<TransferRow>) {
        let Some(files) = self.files.as_mut() else {
            return;
        };
        let port = files.port();
        let mut gone = Vec::new();
        let mut reoffer = Vec::new();
        for mut row in rows {
            let id = row.id;
            match row.direction {
                Direction::Out => {
                    let source = row
                        .source_path
                        .clone()
                        .filter(|p| std::fs::metadata(p).is_ok_and(|m| m.len() == row.size));
                    let Some(path) = source else {
                        gone.push((id, row.peer));
                        continue;
                    };
                    if files.count(Direction::Out) >= MAX_OFFERS {
                        gone.push((id, row.peer));
                        continue;
                    }
                    row.port = port;
                    files.offers.insert(
                        id,
                        Offered {
                            path,
                            size: row.size,
                            peer: row.peer,
                        },
                    );
                    reoffer.push((row.peer, row.offer()));
                    files.live.insert(id, Live::new(row, false));
                }
                Direction::In => {
                    if files.count(Direction::In) >= MAX_INCOMING {
                        continue;
                    }
                    let waiting = row.state != TransferState::Offered;
                    if !waiting {
                        files.push(FileEvent::Offer {
                            id,
                            from: row.peer,
                            name: row.name.clone(),
                            size: row.size,
                            kind: files::kind_of(&row.name),
                        });
                    }
                    files.live.insert(id, Live::new(row, waiting));
                }
            }
        }
        for (id, peer) in gone {
            self.keep_state(id, TransferState::Failed, Some(Problem::SourceGone), None);
            self.send_file_body(
                peer,
                Body::FileCancel {
                    id,
                    reason: CancelReason::Changed,
                },
            );
        }
        // Sent again with the port in use now; the endpoint delivers it when the peer is up.
        for (peer, offer) in reoffer {
            self.send_file_body(peer, Body::FileOffer(offer));
        }
    }
}
