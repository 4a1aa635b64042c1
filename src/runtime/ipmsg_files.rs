//! Files with IP Messenger peers (iptux, FeiQ, IP Messenger) over TCP on their port (2425).
//!
//! - **Offers in**: a peer's SENDMSG with FILEATTACHOPT (`Event::IpmsgFiles`) becomes one
//!   incoming transfer per file, with a [`TransferId`] of ours. Nothing is written before
//!   the user accepts. Folders are refused (lanchat takes none yet), and files over
//!   `max_file_size` are declined.
//! - **Fetching**: a TCP connection to the peer's IP on the port it writes from, from our
//!   own IP (iptux refuses a requester it cannot match to a pal by its address), one
//!   GETFILEDATA (`offerPacketNo:fileID:offset`, hex), then exactly `size − offset` raw
//!   bytes. They go to a partial file in the download directory, under the peer's name made
//!   safe (`files::safe_name`), and are renamed to a unique name when whole. A download
//!   that stopped resumes from the partial file's length when accepted again.
//! - **Offers out**: one file per offer, file id 0, served on our TCP listener to a
//!   GETFILEDATA that names (offer, file id) and comes from the IP it was offered to (any
//!   loopback address for a loopback peer: offer numbers are easy to guess, so naming one
//!   is not enough); the offer goes when the peer releases it (RELEASEFILES) or the user
//!   cancels. Folders are refused.
//! - **Bounded**: at most [`MAX_OFFERS`] offers out, [`MAX_INCOMING`] offers in,
//!   [`MAX_CONNECTIONS`] connections served at once; a request line is read for at most
//!   [`REQUEST_TIMEOUT`] and [`MAX_REQUEST`] bytes.
//!
//! The peer is unauthenticated and the bytes are unencrypted: what arrives is what that IP
//! sent. Sizes are the peer's word; a longer stream is cut at the announced size.

use super::files::PROGRESS_GAP;
use crate::proto::files::{self, Problem, TransferId};
use crate::proto::ipmsg::{self, Attachment, FileRequest, Packet};
use crate::proto::{IpmsgFile, MsgId};
use std::collections::{HashMap, VecDeque};
use std::io::{Read, Seek, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::mpsc;

/// Offers out alive at once, at most.
pub const MAX_OFFERS: usize = 64;
/// Events waiting for the front end, at most.
pub const MAX_EVENTS: usize = 1024;
/// Offers in held at once, at most; more are declined.
pub const MAX_INCOMING: usize = 256;
/// Connections served at once, at most.
pub const MAX_CONNECTIONS: usize = 16;
/// How long a requester may take to send its GETFILEDATA line.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest request line read.
pub const MAX_REQUEST: usize = 1024;
/// A connection silent this long is given up.
const READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Bytes per read or write.
const CHUNK: usize = 256 * 1024;

/// What the front end is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IpmsgFileEvent {
    /// `from` offers a file; `name` is its word.
    Offer {
        id: TransferId,
        from: Ipv4Addr,
        name: String,
        size: u64,
    },
    /// My offer went out.
    Offered {
        id: TransferId,
        to: Ipv4Addr,
        name: String,
        size: u64,
    },
    Progress {
        id: TransferId,
        done: u64,
        size: u64,
    },
    /// Received whole at `path`, or sent whole (`path`: the source).
    Done {
        id: TransferId,
        path: PathBuf,
        bytes: u64,
    },
    Failed {
        id: TransferId,
        reason: String,
        problem: Problem,
    },
}

/// A file offered to us.
#[derive(Debug, Clone)]
struct Incoming {
    from: Ipv4Addr,
    /// Its TCP port: the one it writes UDP from (2425).
    port: u16,
    offer_no: u64,
    file_id: u64,
    name: String,
    size: u64,
    running: bool,
}

/// A file we offer.
#[derive(Debug, Clone)]
struct Served {
    id: TransferId,
    to: Ipv4Addr,
    path: PathBuf,
    size: u64,
}

type ServedTable = Arc<Mutex<HashMap<(u64, u64), Served>>>;
/// How a transfer ended: where the file is and the bytes moved, or why not.
type Outcome = Result<(PathBuf, u64), (Problem, String)>;

pub struct IpmsgFiles {
    download_dir: PathBuf,
    max_file_size: u64,
    /// Our address for outgoing connections (unspecified: the kernel's choice).
    local_ip: IpAddr,
    incoming: HashMap<TransferId, Incoming>,
    served: ServedTable,
    tx: mpsc::Sender<IpmsgFileEvent>,
    rx: mpsc::Receiver<IpmsgFileEvent>,
    events: VecDeque<IpmsgFileEvent>,
    rng: crate::rng::Rng,
}

impl IpmsgFiles {
    /// Listens on TCP at `addr` (the IP Messenger UDP socket's address) and serves what is
    /// offered. Must run inside a tokio runtime.
    pub fn start(
        addr: SocketAddr,
        download_dir: PathBuf,
        max_file_size: u64,
        seed: u64,
    ) -> std::io::Result<IpmsgFiles> {
        let socket = TcpSocket::new_v4()?;
        socket.set_reuseaddr(true)?;
        socket.bind(addr)?;
        let listener = socket.listen(64)?;
        let (tx, rx) = mpsc::channel(256);
        let served: ServedTable = Arc::default();
        tokio::spawn(serve(listener, served.clone(), tx.clone()));
        Ok(IpmsgFiles {
            download_dir,
            max_file_size,
            local_ip: addr.ip(),
            incoming: HashMap::new(),
            served,
            tx,
            rx,
            events: VecDeque::new(),
            rng: crate::rng::Rng::new(seed),
        })
    }

    fn new_id(&mut self) -> TransferId {
        let mut id = [0u8; 16];
        id[..8].copy_from_slice(&self.rng.nonzero_u64().to_be_bytes());
        id[8..].copy_from_slice(&self.rng.next_u64().to_be_bytes());
        TransferId(id)
    }

    /// Keeps at most [`MAX_EVENTS`] events for the front end (one that takes none, such as
    /// the full-screen one for now, loses the oldest).
    fn push_event(&mut self, e: IpmsgFileEvent) {
        if self.events.len() >= MAX_EVENTS {
            self.events.pop_front();
        }
        self.events.push_back(e);
    }

    /// An id for the message that carries an offer out (its state is the offer's ack).
    pub fn new_msg_id(&mut self) -> MsgId {
        MsgId(self.rng.nonzero_u64())
    }

    /// What happened since the last call.
    pub fn take_events(&mut self) -> Vec<IpmsgFileEvent> {
        self.events.drain(..).collect()
    }

    pub async fn next(&mut self) -> IpmsgFileEvent {
        match self.rx.recv().await {
            Some(w) => w,
            None => std::future::pending().await,
        }
    }

    /// A background task moved on (it reports progress, the end, or a failure).
    pub fn on_wake(&mut self, wake: IpmsgFileEvent) {
        match &wake {
            IpmsgFileEvent::Done { id, .. } => {
                self.incoming.remove(id);
            }
            IpmsgFileEvent::Failed { id, .. } => {
                if let Some(i) = self.incoming.get_mut(id) {
                    // May be accepted again: resumes where it stopped.
                    i.running = false;
                }
            }
            _ => {}
        }
        self.push_event(wake);
    }

    /// A peer's offer. Returns the offers to release at once (folders, too big, no room):
    /// (peer, offer number), each once.
    pub fn on_offer(
        &mut self,
        from: Ipv4Addr,
        addr: SocketAddr,
        offer_no: u64,
        list: Vec<IpmsgFile>,
    ) -> Vec<(Ipv4Addr, u64)> {
        let mut refused = false;
        for f in list {
            let id = self.new_id();
            let refusal = if f.dir {
                Some((
                    Problem::Folder,
                    "folders cannot be received from IP Messenger peers yet".to_owned(),
                ))
            } else if f.size > self.max_file_size {
                Some((
                    Problem::TooLarge,
                    format!(
                        "{} bytes is over max_file_size ({})",
                        f.size, self.max_file_size
                    ),
                ))
            } else if self.incoming.len() >= MAX_INCOMING {
                Some((Problem::TooMany, "too many offers waiting".to_owned()))
            } else {
                None
            };
            if let Some((problem, reason)) = refusal {
                refused = true;
                self.push_event(IpmsgFileEvent::Failed {
                    id,
                    reason,
                    problem,
                });
                continue;
            }
            self.incoming.insert(
                id,
                Incoming {
                    from,
                    port: addr.port(),
                    offer_no,
                    file_id: f.file_id,
                    name: f.name.clone(),
                    size: f.size,
                    running: false,
                },
            );
            self.push_event(IpmsgFileEvent::Offer {
                id,
                from,
                name: f.name,
                size: f.size,
            });
        }
        if refused {
            vec![(from, offer_no)]
        } else {
            Vec::new()
        }
    }

    /// Whether `id` is one of these transfers.
    pub fn knows(&self, id: &TransferId) -> bool {
        self.incoming.contains_key(id) || self.served_id(id).is_some()
    }

    fn served_id(&self, id: &TransferId) -> Option<(u64, u64)> {
        let served = self.served.lock().ok()?;
        served.iter().find(|(_, s)| s.id == *id).map(|(k, _)| *k)
    }

    /// The peer will not fetch offer `offer_no`: it is forgotten.
    pub fn on_release(&mut self, from: Ipv4Addr, offer_no: u64) {
        let gone: Vec<Served> = match self.served.lock() {
            Ok(mut served) => {
                let keys: Vec<(u64, u64)> = served
                    .iter()
                    .filter(|((no, _), s)| *no == offer_no && s.to == from)
                    .map(|(k, _)| *k)
                    .collect();
                keys.iter().filter_map(|k| served.remove(k)).collect()
            }
            Err(_) => Vec::new(),
        };
        for s in gone {
            self.push_event(IpmsgFileEvent::Failed {
                id: s.id,
                reason: "declined".into(),
                problem: Problem::Declined,
            });
        }
    }

    /// What to offer for `path` (file id 0), or why not. The offer's number is known only
    /// once the endpoint sent it: then [`offered`](Self::offered).
    pub fn prepare(&mut self, path: &Path) -> Result<(Attachment, u64), String> {
        let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
        if meta.is_dir() {
            return Err("folders cannot be sent to IP Messenger peers yet".into());
        }
        if self.served.lock().map(|s| s.len()).unwrap_or(MAX_OFFERS) >= MAX_OFFERS {
            return Err("too many offers waiting".into());
        }
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .filter(|n| !n.is_empty())
            .ok_or_else(|| format!("{}: no file name", path.display()))?;
        let mtime = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_secs());
        Ok((
            Attachment {
                file_id: 0,
                name: name.into_bytes(),
                size: meta.len(),
                mtime,
                attr: ipmsg::FILE_REGULAR,
            },
            meta.len(),
        ))
    }

    /// The endpoint sent offer `offer_no` of `path` to `to`: it is served from now on.
    pub fn offered(&mut self, to: Ipv4Addr, offer_no: u64, path: PathBuf, size: u64) -> TransferId {
        let id = self.new_id();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if let Ok(mut served) = self.served.lock() {
            served.insert((offer_no, 0), Served { id, to, path, size });
        }
        self.push_event(IpmsgFileEvent::Offered { id, to, name, size });
        id
    }

    /// Where `id` would be fetched from and how: (peer, offer number, file id, offset), the
    /// offset being what a partial file of it already holds. `None` if unknown or running.
    pub fn request_for(&self, id: &TransferId, dir: Option<&Path>) -> Option<FileRequest> {
        let i = self.incoming.get(id).filter(|i| !i.running)?;
        let dir = dir.unwrap_or(&self.download_dir);
        let partial = dir.join(files::partial_name(&files::safe_name(&i.name)));
        let offset = std::fs::metadata(&partial)
            .map(|m| m.len())
            .unwrap_or(0)
            .min(i.size);
        Some(FileRequest::new(i.offer_no, i.file_id, offset))
    }

    /// Starts fetching `id` with the GETFILEDATA packet `request` (built by the endpoint
    /// from [`request_for`](Self::request_for)), into `dir` or the download directory.
    pub fn fetch(
        &mut self,
        id: TransferId,
        request: &FileRequest,
        packet: Vec<u8>,
        dir: Option<PathBuf>,
    ) -> Result<(), String> {
        let dir = dir.unwrap_or_else(|| self.download_dir.clone());
        let local_ip = self.local_ip;
        let tx = self.tx.clone();
        let i = self
            .incoming
            .get_mut(&id)
            .ok_or_else(|| format!("no offer {id}"))?;
        if i.running {
            return Err(format!("{id} is running"));
        }
        i.running = true;
        let job = Fetch {
            id,
            peer: SocketAddr::new(IpAddr::V4(i.from), i.port),
            local_ip,
            packet,
            dir,
            name: files::safe_name(&i.name),
            size: i.size,
            offset: request.offset,
        };
        tokio::task::spawn_blocking(move || {
            let id = job.id;
            let wake = match job.run(&tx) {
                Ok((path, bytes)) => IpmsgFileEvent::Done { id, path, bytes },
                Err((problem, reason)) => IpmsgFileEvent::Failed {
                    id,
                    reason,
                    problem,
                },
            };
            let _ = tx.blocking_send(wake);
        });
        Ok(())
    }

    /// The user says no to `id` (an offer in: the peer is to be told, so its offer is
    /// returned) or cancels an offer out.
    pub fn decline(&mut self, id: &TransferId) -> Option<(Ipv4Addr, u64)> {
        if let Some(i) = self.incoming.remove(id) {
            self.push_event(IpmsgFileEvent::Failed {
                id: *id,
                reason: "declined".into(),
                problem: Problem::Declined,
            });
            return Some((i.from, i.offer_no));
        }
        let removed = self.served_id(id).is_some_and(|key| {
            self.served
                .lock()
                .is_ok_and(|mut served| served.remove(&key).is_some())
        });
        if removed {
            self.push_event(IpmsgFileEvent::Failed {
                id: *id,
                reason: "cancelled".into(),
                problem: Problem::Cancelled,
            });
        }
        None
    }
}

struct Fetch {
    id: TransferId,
    peer: SocketAddr,
    local_ip: IpAddr,
    packet: Vec<u8>,
    dir: PathBuf,
    name: String,
    size: u64,
    offset: u64,
}

impl Fetch {
    /// On a blocking thread, with plain `std` sockets and files (as `transfer.rs` does).
    fn run(self, tx: &mpsc::Sender<IpmsgFileEvent>) -> Outcome {
        let io = |e: std::io::Error| (Problem::Io, e.to_string());
        let net = |e: std::io::Error| (Problem::ConnectionLost, e.to_string());
        std::fs::create_dir_all(&self.dir).map_err(io)?;
        let partial = self.dir.join(files::partial_name(&self.name));
        let socket =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).map_err(io)?;
        // From our own address: iptux matches the requester to a pal by it.
        if !self.local_ip.is_unspecified() {
            socket
                .bind(&SocketAddr::new(self.local_ip, 0).into())
                .map_err(net)?;
        }
        socket
            .connect_timeout(&self.peer.into(), REQUEST_TIMEOUT)
            .map_err(net)?;
        let mut stream: std::net::TcpStream = socket.into();
        stream.set_read_timeout(Some(READ_TIMEOUT)).map_err(io)?;
        stream.write_all(&self.packet).map_err(io)?;
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&partial)
            .map_err(io)?;
        let want = self.size - self.offset;
        let mut got = 0u64;
        let mut buf = vec![0u8; CHUNK];
        let mut shown = Instant::now();
        while got < want {
            let room = usize::try_from(want - got).unwrap_or(CHUNK).min(CHUNK);
            let n = stream.read(&mut buf[..room]).map_err(net)?;
            if n == 0 {
                file.flush().map_err(io)?;
                return Err((
                    Problem::ConnectionLost,
                    format!(
                        "the connection closed at {} of {} bytes (accept again to resume)",
                        self.offset + got,
                        self.size
                    ),
                ));
            }
            file.write_all(&buf[..n]).map_err(io)?;
            got += n as u64;
            if shown.elapsed() >= PROGRESS_GAP {
                shown = Instant::now();
                let _ = tx.try_send(IpmsgFileEvent::Progress {
                    id: self.id,
                    done: self.offset + got,
                    size: self.size,
                });
            }
        }
        file.sync_all().map_err(io)?;
        drop(file);
        let dir = self.dir.clone();
        let name = files::unique_name(&self.name, |n| dir.join(n).exists())
            .ok_or_else(|| (Problem::Exists, format!("no free name for {}", self.name)))?;
        let path = self.dir.join(name);
        std::fs::rename(&partial, &path).map_err(io)?;
        let _ = tx.try_send(IpmsgFileEvent::Progress {
            id: self.id,
            done: self.size,
            size: self.size,
        });
        Ok((path, got))
    }
}

/// Serves the files offered, one GETFILEDATA per connection, each on a blocking thread.
async fn serve(listener: TcpListener, served: ServedTable, tx: mpsc::Sender<IpmsgFileEvent>) {
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok((stream, from)) = listener.accept().await else {
            if tx.is_closed() {
                return;
            }
            tokio::task::yield_now().await;
            continue;
        };
        if tx.is_closed() {
            return;
        }
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            continue; // over the bound: dropped
        };
        let Ok(stream) = stream.into_std() else {
            continue;
        };
        let served = served.clone();
        let tx = tx.clone();
        tokio::task::spawn_blocking(move || {
            if let Some((id, result)) = serve_one(stream, from, &served, &tx) {
                let wake = match result {
                    Ok((path, bytes)) => IpmsgFileEvent::Done { id, path, bytes },
                    Err((problem, reason)) => IpmsgFileEvent::Failed {
                        id,
                        reason,
                        problem,
                    },
                };
                let _ = tx.blocking_send(wake);
            }
            drop(permit);
        });
    }
}

/// Reads one request line: up to its NUL, the bound, or the timeout (some FeiQ versions
/// send no NUL).
fn read_request(stream: &mut std::net::TcpStream) -> Vec<u8> {
    let mut buf = Vec::new();
    let deadline = Instant::now() + REQUEST_TIMEOUT;
    let mut chunk = [0u8; 256];
    while buf.len() < MAX_REQUEST && !buf.contains(&0) {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            break;
        }
        match stream.read(&mut chunk) {
            Ok(n) if n > 0 => buf.extend_from_slice(&chunk[..n]),
            _ => break,
        }
    }
    buf.truncate(MAX_REQUEST);
    if let Some(nul) = buf.iter().position(|&b| b == 0) {
        buf.truncate(nul);
    }
    buf
}

fn serve_one(
    mut stream: std::net::TcpStream,
    from: SocketAddr,
    served: &ServedTable,
    tx: &mpsc::Sender<IpmsgFileEvent>,
) -> Option<(TransferId, Outcome)> {
    let _ = stream.set_nonblocking(false);
    let line = read_request(&mut stream);
    let packet = Packet::decode(&line).ok()?;
    if packet.mode() != ipmsg::GETFILEDATA {
        return None; // folders (GETDIRFILES) and anything else: closed
    }
    let request = FileRequest::parse(&packet.extra).ok()?;
    let found = {
        let table = served.lock().ok()?;
        request
            .file_ids()
            .find_map(|fid| table.get(&(request.offer_no, fid)).cloned())
    }?;
    // Only the peer it was offered to gets it: offer numbers are easy to guess. (On
    // loopback any address will do: iptux bound to 127.0.0.2 connects from 127.0.0.1.)
    let from_ip = from.ip();
    if from_ip != IpAddr::V4(found.to) && !(from_ip.is_loopback() && found.to.is_loopback()) {
        tracing::warn!(%from, to = %found.to, "an IP Messenger file asked for from another address: refused");
        return None;
    }
    let result = send_file(&mut stream, &found, request.offset, tx);
    Some((found.id, result.map(|bytes| (found.path.clone(), bytes))))
}

fn send_file(
    stream: &mut std::net::TcpStream,
    s: &Served,
    offset: u64,
    tx: &mpsc::Sender<IpmsgFileEvent>,
) -> Result<u64, (Problem, String)> {
    let io = |e: std::io::Error| (Problem::SourceUnreadable, e.to_string());
    let net = |e: std::io::Error| (Problem::ConnectionLost, e.to_string());
    if offset > s.size {
        return Err((
            Problem::Protocol,
            format!("asked from {offset}, past the end ({})", s.size),
        ));
    }
    let _ = stream.set_write_timeout(Some(READ_TIMEOUT));
    let mut file = std::fs::File::open(&s.path).map_err(io)?;
    file.seek(std::io::SeekFrom::Start(offset)).map_err(io)?;
    let want = s.size - offset;
    let mut sent = 0u64;
    let mut buf = vec![0u8; CHUNK];
    let mut shown = Instant::now();
    while sent < want {
        let room = usize::try_from(want - sent).unwrap_or(CHUNK).min(CHUNK);
        let n = file.read(&mut buf[..room]).map_err(io)?;
        if n == 0 {
            return Err((Problem::SourceChanged, "the file got shorter".into()));
        }
        stream.write_all(&buf[..n]).map_err(net)?;
        sent += n as u64;
        if shown.elapsed() >= PROGRESS_GAP {
            shown = Instant::now();
            let _ = tx.try_send(IpmsgFileEvent::Progress {
                id: s.id,
                done: offset + sent,
                size: s.size,
            });
        }
    }
    stream.flush().map_err(net)?;
    let _ = stream.shutdown(std::net::Shutdown::Write);
    Ok(sent)
}

impl super::Node {
    /// Sends what the endpoint queued (for what is done outside `drain`).
    fn flush_ipmsg(&mut self) {
        let outgoing: Vec<crate::proto::Transmit> =
            std::iter::from_fn(|| self.endpoint.poll_transmit()).collect();
        if let Err(e) = self.net.send_all(&outgoing) {
            tracing::warn!(%e, "send failed");
        }
    }

    /// An IP Messenger peer's offer: held until the user answers; refused at once (and
    /// released) if it is a folder, too big, or over the bound.
    pub(super) fn on_ipmsg_offer(
        &mut self,
        from: Ipv4Addr,
        addr: SocketAddr,
        offer_no: u64,
        list: Vec<IpmsgFile>,
    ) {
        let Some(f) = self.ipmsg_files.as_mut() else {
            return;
        };
        for (ip, no) in f.on_offer(from, addr, offer_no, list) {
            self.endpoint.ipmsg_release(ip, no);
        }
        self.flush_ipmsg();
    }

    /// Whether transfer `id` is one with an IP Messenger peer.
    pub fn is_ipmsg_transfer(&self, id: &TransferId) -> bool {
        self.ipmsg_files.as_ref().is_some_and(|f| f.knows(id))
    }

    /// Offers the file at `path` to the IP Messenger peer at `ip`.
    pub fn ipmsg_send_file(&mut self, ip: Ipv4Addr, path: &Path) -> Result<TransferId, String> {
        let f = self
            .ipmsg_files
            .as_mut()
            .ok_or("IP Messenger files are off (TCP port unavailable)")?;
        let (attachment, size) = f.prepare(path)?;
        let msg = f.new_msg_id();
        let offer_no = self
            .endpoint
            .ipmsg_offer(super::mono_now(), ip, msg, &[attachment])
            .map_err(|e| e.to_string())?;
        self.flush_ipmsg();
        let f = self
            .ipmsg_files
            .as_mut()
            .ok_or("IP Messenger files are off")?;
        Ok(f.offered(ip, offer_no, path.to_owned(), size))
    }

    /// Fetches the file an IP Messenger peer offered as `id` (from where a partial copy
    /// stopped, if there is one), into `dir` or the download directory.
    pub fn ipmsg_accept(&mut self, id: TransferId, dir: Option<PathBuf>) -> Result<(), String> {
        let f = self
            .ipmsg_files
            .as_mut()
            .ok_or("IP Messenger files are off")?;
        let request = f
            .request_for(&id, dir.as_deref())
            .ok_or_else(|| format!("no waiting offer {id}"))?;
        let packet = self.endpoint.ipmsg_file_request(&request);
        let f = self
            .ipmsg_files
            .as_mut()
            .ok_or("IP Messenger files are off")?;
        f.fetch(id, &request, packet, dir)
    }

    /// Says no to an IP Messenger peer's offer (it is told), or cancels one of mine.
    pub fn ipmsg_decline(&mut self, id: TransferId) {
        let Some(f) = self.ipmsg_files.as_mut() else {
            return;
        };
        if let Some((ip, offer_no)) = f.decline(&id) {
            self.endpoint.ipmsg_release(ip, offer_no);
            self.flush_ipmsg();
        }
    }

    /// What happened to IP Messenger files since the last call.
    pub fn take_ipmsg_file_events(&mut self) -> Vec<IpmsgFileEvent> {
        self.ipmsg_files
            .as_mut()
            .map(IpmsgFiles::take_events)
            .unwrap_or_default()
    }
}
