//! File data over TCP (issue 15): the sender's listener ([`serve`]) and the receiver's
//! download ([`fetch`]). The byte formats and every check on peer bytes are in
//! `proto::filedata`; this module moves them between sockets and files.
//!
//! - Each connection runs on a blocking thread (`spawn_blocking`) with plain `std` sockets
//!   and files: one `read`, one seal and one `write` per 64 KiB chunk, buffers of a fixed
//!   size, so memory does not grow with the file (see BENCHMARKS.md, "Files").
//! - Every blocking call has a deadline ([`Limits`]): a peer that stops answering costs a
//!   thread for at most that long. Connections are capped ([`Limits::max_connections`]);
//!   one over the cap is closed before any handshake work.
//! - The receiver appends to its partial file from the file's current length, writing in
//!   order only, so the partial file's length is always the resume point, after a lost
//!   link, a cancel or a `kill -9` alike. BLAKE3 runs over the partial file's existing
//!   bytes (read back from the disk) and then over each chunk as it is written; at the end
//!   the file is fsynced and kept (renamed into place, never over an existing file) only
//!   if the whole matches the offer's hash. A mismatch deletes the partial file: the next
//!   attempt starts from zero, and nothing corrupt is ever kept. There is no fsync before
//!   the end: after a power cut, whatever the disk lost shows as a mismatch and costs one
//!   more download, never a silently corrupt file.
//! - The sender checks every [`STAT_EVERY`] bytes that the source is still at its path (an
//!   open file can be read after it is deleted) and stops with "source gone" if not.
//! - Errors are told to the other side in an Error frame before closing, so both sides
//!   show the same cause ([`TransferError`]); the peer's free-text reason is untrusted.

use crate::proto::NodeId;
use crate::proto::filedata::{
    Channel, Cursor, DataBuf, ErrorCode, Frame, FrameError, HELLO_LEN, Initiator, LEN_BYTES,
    MAX_CHUNK, MAX_MESSAGE, REPLY_LEN, Request, Responder, SEALED_MAX, Status, Suite, TransferId,
    message_len,
};
use crate::proto::files::Problem;
use crate::proto::secure::Identity;
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, ErrorKind, Read, Seek, SeekFrom, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// The sender checks that its source is still at its path after this many bytes.
pub const STAT_EVERY: u64 = 4 << 20;
/// The sender looks for an Error frame from the receiver after this many bytes.
const POLL_EVERY: u64 = 1 << 20;
/// Progress is reported at most this often (and once at the end).
pub const PROGRESS_EVERY: Duration = Duration::from_millis(100);
/// The receiver's socket buffer (what it reads frames through).
const READ_BUFFER: usize = 256 << 10;
/// Received frames waiting for the writer thread, at most (64 KiB each).
const WRITE_QUEUE: usize = 8;

/// The buffer that reads back a partial file to hash it.
const HASH_BUFFER: usize = 256 << 10;

/// Deadlines and caps.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// For the TCP connect and for each handshake message.
    pub handshake: Duration,
    /// For any read or write once data flows: a peer silent this long is gone.
    pub idle: Duration,
    /// For the receiver's verdict after the sender's End (it fsyncs a whole file).
    pub verdict: Duration,
    /// Connections the sender serves at once.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            handshake: Duration::from_secs(10),
            idle: Duration::from_secs(30),
            verdict: Duration::from_secs(120),
            max_connections: 16,
        }
    }
}

/// Why a transfer stopped. Variants say whose side the cause is on, so that both sides
/// can show it. English here is for the log; the interface shows its own text per variant.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TransferError {
    /// The receiver's disk (or quota) is full. Receiver side.
    #[error("no space left on the disk for the file")]
    DiskFull,
    /// The sender's side was told the receiver's disk is full.
    #[error("the receiver's disk is full")]
    PeerDiskFull,
    /// This side may not write (receiver) or read (sender) this path.
    #[error("permission denied: {0}")]
    Permission(PathBuf),
    /// The receiver was told the sender may not read its file.
    #[error("the sender cannot read the file")]
    SourceUnreadable,
    /// The receiver may not write its file, the sender was told.
    #[error("the receiver may not write the file")]
    PeerPermission,
    /// The source file is no longer at its path. Both sides.
    #[error("the file is no longer there to send")]
    SourceGone,
    /// The source file is not what was offered any more (its size changed). Both sides.
    #[error("the file changed since it was offered")]
    SourceChanged,
    /// The sender offers no such transfer to us.
    #[error("the sender does not offer this transfer")]
    Unknown,
    /// The sender has too many transfers running.
    #[error("the sender is busy")]
    Busy,
    /// The whole file did not match the offer's hash; the partial file was deleted. Both
    /// sides (the receiver tells the sender).
    #[error("the file did not match its hash and was discarded")]
    HashMismatch,
    /// The user cancelled here.
    #[error("cancelled")]
    Cancelled,
    /// The other side cancelled.
    #[error("cancelled by the peer")]
    PeerCancelled,
    /// Another error from the peer. `reason` is the peer's text: untrusted.
    #[error("the peer stopped: {code:?} ({reason})")]
    Peer { code: ErrorCode, reason: String },
    /// The connection failed or broke.
    #[error("connection lost: {0}")]
    ConnectionLost(String),
    /// The peer was silent past a deadline.
    #[error("the peer stopped answering")]
    TimedOut,
    /// The peer broke the protocol (or is not who it should be).
    #[error("protocol error: {0}")]
    Protocol(FrameError),
    /// The verified file could not be kept: something already has its name.
    #[error("{0} already exists")]
    DestinationExists(PathBuf),
    /// Another local IO error.
    #[error("{0}")]
    Io(String),
}

impl TransferError {
    /// Whether trying again later may succeed as things are (or once the cause shown is
    /// fixed): everything but a transfer the sender does not know.
    pub fn may_resume(&self) -> bool {
        !matches!(self, TransferError::Unknown)
    }

    /// What the screen says of it.
    pub fn problem(&self) -> Problem {
        match self {
            TransferError::DiskFull => Problem::DiskFull,
            TransferError::PeerDiskFull => Problem::PeerDiskFull,
            TransferError::Permission(_) => Problem::Permission,
            TransferError::SourceUnreadable => Problem::SourceUnreadable,
            TransferError::PeerPermission => Problem::PeerPermission,
            TransferError::SourceGone => Problem::SourceGone,
            TransferError::SourceChanged => Problem::SourceChanged,
            TransferError::Unknown => Problem::Unknown,
            TransferError::Busy => Problem::Busy,
            TransferError::HashMismatch => Problem::HashMismatch,
            TransferError::Cancelled => Problem::Cancelled,
            TransferError::PeerCancelled => Problem::PeerCancelled,
            TransferError::Peer { code, .. } => match code {
                ErrorCode::DiskFull => Problem::PeerDiskFull,
                ErrorCode::Permission => Problem::PeerPermission,
                ErrorCode::SourceGone => Problem::SourceGone,
                ErrorCode::SourceChanged => Problem::SourceChanged,
                ErrorCode::Cancelled => Problem::PeerCancelled,
                ErrorCode::HashMismatch => Problem::HashMismatch,
                ErrorCode::Protocol => Problem::Protocol,
                ErrorCode::Io | ErrorCode::Other(_) => Problem::PeerFailed,
            },
            TransferError::ConnectionLost(_) => Problem::ConnectionLost,
            TransferError::TimedOut => Problem::TimedOut,
            TransferError::Protocol(_) => Problem::Protocol,
            TransferError::DestinationExists(_) => Problem::Exists,
            TransferError::Io(_) => Problem::Io,
        }
    }

    /// The text told to the peer with the code: never a local path or an OS message (they
    /// would tell the peer about this machine); the code says the rest.
    fn reason_for_peer(&self) -> String {
        match self {
            TransferError::Protocol(e) => e.to_string(),
            _ => String::new(),
        }
    }

    /// The code this error is told to the peer with.
    fn code(&self) -> ErrorCode {
        match self {
            TransferError::DiskFull => ErrorCode::DiskFull,
            TransferError::Permission(_) => ErrorCode::Permission,
            TransferError::SourceGone => ErrorCode::SourceGone,
            TransferError::SourceChanged => ErrorCode::SourceChanged,
            TransferError::HashMismatch => ErrorCode::HashMismatch,
            TransferError::Cancelled => ErrorCode::Cancelled,
            TransferError::Protocol(_) => ErrorCode::Protocol,
            _ => ErrorCode::Io,
        }
    }

    /// What the receiver makes of the sender's Error frame.
    fn from_sender(code: ErrorCode, reason: &str) -> Self {
        match code {
            ErrorCode::SourceGone => TransferError::SourceGone,
            ErrorCode::SourceChanged => TransferError::SourceChanged,
            ErrorCode::Permission => TransferError::SourceUnreadable,
            ErrorCode::Cancelled => TransferError::PeerCancelled,
            code => TransferError::Peer {
                code,
                reason: reason.to_owned(),
            },
        }
    }

    /// What the sender makes of the receiver's Error frame.
    fn from_receiver(code: ErrorCode, reason: &str) -> Self {
        match code {
            ErrorCode::DiskFull => TransferError::PeerDiskFull,
            ErrorCode::Permission => TransferError::PeerPermission,
            ErrorCode::HashMismatch => TransferError::HashMismatch,
            ErrorCode::Cancelled => TransferError::PeerCancelled,
            code => TransferError::Peer {
                code,
                reason: reason.to_owned(),
            },
        }
    }
}

impl From<FrameError> for TransferError {
    fn from(e: FrameError) -> Self {
        TransferError::Protocol(e)
    }
}

/// A local file error, by cause.
fn file_error(e: &io::Error, path: &Path) -> TransferError {
    match e.kind() {
        ErrorKind::StorageFull | ErrorKind::QuotaExceeded | ErrorKind::FileTooLarge => {
            TransferError::DiskFull
        }
        ErrorKind::PermissionDenied | ErrorKind::ReadOnlyFilesystem => {
            TransferError::Permission(path.to_path_buf())
        }
        _ => TransferError::Io(format!("{}: {e}", path.display())),
    }
}

/// A socket error, by cause.
fn net_error(e: &io::Error) -> TransferError {
    match e.kind() {
        ErrorKind::WouldBlock | ErrorKind::TimedOut => TransferError::TimedOut,
        _ => TransferError::ConnectionLost(e.to_string()),
    }
}

// ---------------------------------------------------------------------------------------
// The sender

/// A file offered to one peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Offered {
    pub path: PathBuf,
    pub size: u64,
    /// The only key that may fetch it.
    pub peer: NodeId,
}

/// The files on offer, shared between the runtime (which adds and withdraws offers) and
/// the listener. Bounded by what the runtime adds.
#[derive(Clone, Default, Debug)]
pub struct Offers {
    inner: Arc<Mutex<HashMap<TransferId, Offered>>>,
}

impl Offers {
    pub fn insert(&self, id: TransferId, offered: Offered) {
        if let Ok(mut map) = self.inner.lock() {
            map.insert(id, offered);
        }
    }

    pub fn remove(&self, id: &TransferId) -> Option<Offered> {
        self.inner.lock().ok()?.remove(id)
    }

    pub fn get(&self, id: &TransferId) -> Option<Offered> {
        self.inner.lock().ok()?.get(id).cloned()
    }

    pub fn len(&self) -> usize {
        self.inner.lock().map_or(0, |m| m.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What the sender's side reports, per connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServeEvent {
    /// A peer asked for a transfer it may have; data flows from `offset`.
    Started {
        id: TransferId,
        peer: NodeId,
        offset: u64,
    },
    /// `done` bytes of the file are sent (of `size`). At most every [`PROGRESS_EVERY`];
    /// dropped when the channel is full.
    Progress {
        id: TransferId,
        peer: NodeId,
        done: u64,
        size: u64,
    },
    /// The receiver has the whole file and it matched its hash. `sent` counts the file's
    /// bytes sent on this connection.
    Finished {
        id: TransferId,
        peer: NodeId,
        sent: u64,
    },
    /// The transfer stopped; `sent` as above.
    Failed {
        id: TransferId,
        peer: NodeId,
        sent: u64,
        error: TransferError,
    },
    /// A proven peer asked for something it was refused (an unknown id, a file that is
    /// gone...). Connections that fail the handshake are not reported.
    Refused {
        id: TransferId,
        peer: NodeId,
        status: Status,
    },
}

/// Counters for one listener.
#[derive(Debug, Default)]
pub struct ServeStats {
    /// File bytes sent, all connections together.
    pub bytes_sent: AtomicU64,
    /// Connections taken, over the cap, and whose handshake failed.
    pub accepted: AtomicU64,
    pub over_cap: AtomicU64,
    pub bad_handshakes: AtomicU64,
}

/// The sender's listener. Dropping it stops accepting; connections running end at their
/// next chunk.
pub struct Server {
    addr: SocketAddr,
    stats: Arc<ServeStats>,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn stats(&self) -> &ServeStats {
        &self.stats
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.task.abort();
    }
}

/// What a connection on the sender needs.
#[derive(Clone)]
struct ServeCtx {
    me: Identity,
    suite: Suite,
    limits: Limits,
    offers: Offers,
    events: mpsc::Sender<ServeEvent>,
    stats: Arc<ServeStats>,
    stop: Arc<AtomicBool>,
}

/// Serves the offered files on `listener` (bound by the runtime, to the port it puts in
/// its offers). Must be called within a tokio runtime.
pub fn serve(
    listener: tokio::net::TcpListener,
    me: Identity,
    suite: Suite,
    limits: Limits,
    offers: Offers,
    events: mpsc::Sender<ServeEvent>,
) -> io::Result<Server> {
    let addr = listener.local_addr()?;
    let stats = Arc::new(ServeStats::default());
    let stop = Arc::new(AtomicBool::new(false));
    let ctx = ServeCtx {
        me,
        suite,
        limits,
        offers,
        events,
        stats: stats.clone(),
        stop: stop.clone(),
    };
    let running = Arc::new(AtomicUsize::new(0));
    let task = tokio::spawn(async move {
        loop {
            let (stream, _) = match listener.accept().await {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of descriptors, say: wait a little rather than spin.
                    tracing::debug!("transfer accept: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            ctx.stats.accepted.fetch_add(1, Ordering::Relaxed);
            if running.load(Ordering::Relaxed) >= ctx.limits.max_connections {
                ctx.stats.over_cap.fetch_add(1, Ordering::Relaxed);
                drop(stream);
                continue;
            }
            let Ok(stream) = stream.into_std() else {
                continue;
            };
            running.fetch_add(1, Ordering::Relaxed);
            let ctx = ctx.clone();
            let running = running.clone();
            tokio::task::spawn_blocking(move || {
                serve_connection(&ctx, stream);
                running.fetch_sub(1, Ordering::Relaxed);
            });
        }
    });
    Ok(Server {
        addr,
        stats,
        stop,
        task,
    })
}

fn serve_connection(ctx: &ServeCtx, stream: TcpStream) {
    if stream.set_nonblocking(false).is_err() {
        return;
    }
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(ctx.limits.handshake));
    let _ = stream.set_write_timeout(Some(ctx.limits.handshake));
    let Ok(mut conn) = Conn::new(stream) else {
        return;
    };
    let hello = match conn.read_message() {
        Ok(m) if m.len() == HELLO_LEN => m,
        _ => {
            ctx.stats.bad_handshakes.fetch_add(1, Ordering::Relaxed);
            return;
        }
    };
    let Ok((responder, peer, request)) = Responder::read_hello(&ctx.me, &hello, ctx.suite) else {
        ctx.stats.bad_handshakes.fetch_add(1, Ordering::Relaxed);
        return;
    };
    let id = request.id;
    let (status, size, file, path) = match ctx.offers.get(&id) {
        Some(offered) if offered.peer == peer => {
            let (status, file) = open_source(&offered, request.offset);
            (status, offered.size, file, offered.path)
        }
        _ => (Status::Unknown, 0, None, PathBuf::new()),
    };
    let Ok((reply, channel)) = responder.reply(status, size) else {
        return;
    };
    if conn.stream.write_all(&reply).is_err() {
        return;
    }
    let (Some(channel), Some(file)) = (channel, file) else {
        let _ = ctx
            .events
            .try_send(ServeEvent::Refused { id, peer, status });
        let _ = conn.stream.shutdown(Shutdown::Write);
        return;
    };
    let mut send = Sending {
        ctx,
        conn,
        channel,
        id,
        peer,
        sent: 0,
    };
    // A replayed hello gets its reply and nothing more: data flows only after a Go sealed
    // with this session.
    match send.conn.read_message() {
        Ok(m) => {
            let mut scratch = vec![0u8; MAX_MESSAGE];
            match send.channel.open(&m, &mut scratch) {
                Ok(Frame::Go) => {}
                _ => {
                    ctx.stats.bad_handshakes.fetch_add(1, Ordering::Relaxed);
                    return;
                }
            }
        }
        Err(_) => {
            ctx.stats.bad_handshakes.fetch_add(1, Ordering::Relaxed);
            return;
        }
    }
    let _ = ctx.events.try_send(ServeEvent::Started {
        id,
        peer,
        offset: request.offset,
    });
    let result = send.stream_file(file, &path, request.offset, size);
    let event = match result {
        Ok(()) => ServeEvent::Finished {
            id,
            peer,
            sent: send.sent,
        },
        Err(error) => ServeEvent::Failed {
            id,
            peer,
            sent: send.sent,
            error,
        },
    };
    let _ = ctx.events.blocking_send(event);
}

/// Opens the offered file, positioned at `offset`, or says why not.
fn open_source(offered: &Offered, offset: u64) -> (Status, Option<File>) {
    let mut file = match File::open(&offered.path) {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::NotFound => return (Status::Gone, None),
        Err(_) => return (Status::Unreadable, None),
    };
    match file.metadata() {
        Ok(m) if m.is_file() && m.len() == offered.size => {}
        Ok(_) => return (Status::Changed, None),
        Err(_) => return (Status::Unreadable, None),
    }
    if offset > offered.size {
        return (Status::BadOffset, None);
    }
    if file.seek(SeekFrom::Start(offset)).is_err() {
        return (Status::Unreadable, None);
    }
    (Status::Ok, Some(file))
}

/// One connection's stream, and a buffer that frames are read into and opened from in
/// place (no copy between the socket's bytes and the cipher).
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl Conn {
    fn new(stream: TcpStream) -> io::Result<Self> {
        Ok(Self {
            stream,
            buf: vec![0u8; READ_BUFFER],
            start: 0,
            end: 0,
        })
    }

    /// Bytes read from the socket and not taken yet.
    fn buffered(&self) -> usize {
        self.end - self.start
    }

    /// Makes at least `want` bytes available at `start` (`want` <= the buffer).
    fn fill(&mut self, want: usize) -> io::Result<()> {
        if self.start + want > self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        while self.end - self.start < want {
            match self.stream.read(&mut self.buf[self.end..]) {
                Ok(0) => return Err(io::Error::from(ErrorKind::UnexpectedEof)),
                Ok(n) => self.end += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// The next message (without its prefix), borrowed from the buffer.
    fn next_message(&mut self) -> io::Result<&[u8]> {
        self.fill(LEN_BYTES)?;
        let prefix = [self.buf[self.start], self.buf[self.start + 1]];
        let len = message_len(prefix).map_err(|e| io::Error::new(ErrorKind::InvalidData, e))?;
        self.fill(LEN_BYTES + len)?;
        let at = self.start + LEN_BYTES;
        self.start = at + len;
        Ok(&self.buf[at..at + len])
    }

    /// Reads one message (without its prefix) into a new buffer.
    fn read_message(&mut self) -> io::Result<Vec<u8>> {
        self.next_message().map(<[u8]>::to_vec)
    }
}

struct Sending<'a> {
    ctx: &'a ServeCtx,
    conn: Conn,
    channel: Channel,
    id: TransferId,
    peer: NodeId,
    sent: u64,
}

impl Sending<'_> {
    fn stream_file(
        &mut self,
        mut file: File,
        path: &Path,
        offset: u64,
        size: u64,
    ) -> Result<(), TransferError> {
        let _ = self
            .conn
            .stream
            .set_write_timeout(Some(self.ctx.limits.idle));
        let identity = file.metadata().map(|m| (m.dev(), m.ino())).ok();
        let mut buf = DataBuf::default();
        let mut out = vec![0u8; SEALED_MAX];
        let mut pos = offset;
        let mut next_poll = pos.saturating_add(POLL_EVERY);
        let mut next_stat = pos.saturating_add(STAT_EVERY);
        let mut last_progress = Instant::now();
        while pos < size {
            if self.ctx.stop.load(Ordering::Relaxed) {
                return Err(self.fail(TransferError::Cancelled));
            }
            let want = usize::try_from((size - pos).min(MAX_CHUNK as u64)).unwrap_or(MAX_CHUNK);
            let n = match read_full(&mut file, &mut buf.space()[..want]) {
                Ok(n) => n,
                Err(e) => {
                    let error = file_error(&e, path);
                    return Err(self.fail(error));
                }
            };
            if n < want {
                // The file became shorter than offered, or went away.
                let error = source_state(path, identity).unwrap_or(TransferError::SourceChanged);
                return Err(self.fail(error));
            }
            let len = self.channel.seal_data(&buf, n, &mut out)?;
            if let Err(e) = self.conn.stream.write_all(&out[..len]) {
                return Err(self.after_write_error(&e));
            }
            pos += n as u64;
            self.sent += n as u64;
            self.ctx
                .stats
                .bytes_sent
                .fetch_add(n as u64, Ordering::Relaxed);
            if pos >= next_poll {
                next_poll = pos.saturating_add(POLL_EVERY);
                if let Some(error) = self.poll_peer()? {
                    return Err(error);
                }
            }
            if pos >= next_stat {
                next_stat = pos.saturating_add(STAT_EVERY);
                if let Some(error) = source_state(path, identity) {
                    return Err(self.fail(error));
                }
            }
            if last_progress.elapsed() >= PROGRESS_EVERY {
                last_progress = Instant::now();
                let _ = self.ctx.events.try_send(ServeEvent::Progress {
                    id: self.id,
                    peer: self.peer,
                    done: pos,
                    size,
                });
            }
        }
        // A file that grew, or was swapped, is not what was offered either.
        if let Some(error) = source_state(path, identity) {
            return Err(self.fail(error));
        }
        let end = self.channel.seal(&Frame::End)?;
        if let Err(e) = self.conn.stream.write_all(&end) {
            return Err(self.after_write_error(&e));
        }
        let _ = self.ctx.events.try_send(ServeEvent::Progress {
            id: self.id,
            peer: self.peer,
            done: size,
            size,
        });
        // The receiver's verdict, after it has fsynced and hashed.
        let _ = self
            .conn
            .stream
            .set_read_timeout(Some(self.ctx.limits.verdict));
        let msg = self.conn.read_message().map_err(|e| net_error(&e))?;
        let mut scratch = vec![0u8; MAX_MESSAGE];
        match self.channel.open(&msg, &mut scratch)? {
            Frame::Verified => Ok(()),
            Frame::Error { code, reason } => Err(TransferError::from_receiver(code, reason)),
            _ => Err(TransferError::Protocol(FrameError::UnknownType(0))),
        }
    }

    /// Tells the receiver why we stop, closes our half, and hands the error back.
    fn fail(&mut self, error: TransferError) -> TransferError {
        if let Ok(frame) = self.channel.seal(&Frame::Error {
            code: error.code(),
            reason: &error.reason_for_peer(),
        }) {
            let _ = self.conn.stream.write_all(&frame);
        }
        let _ = self.conn.stream.shutdown(Shutdown::Write);
        error
    }

    /// Checks, without waiting, whether the receiver sent anything (only an Error frame may
    /// come while we send).
    fn poll_peer(&mut self) -> Result<Option<TransferError>, TransferError> {
        if self.conn.buffered() == 0 {
            let mut probe = [0u8; 1];
            match nix::sys::socket::recv(
                self.conn.stream.as_raw_fd(),
                &mut probe,
                nix::sys::socket::MsgFlags::MSG_DONTWAIT | nix::sys::socket::MsgFlags::MSG_PEEK,
            ) {
                Ok(0) => return Ok(Some(TransferError::ConnectionLost("closed".into()))),
                Ok(_) => {}
                Err(nix::errno::Errno::EAGAIN) => return Ok(None),
                Err(e) => return Ok(Some(TransferError::ConnectionLost(e.to_string()))),
            }
        }
        Ok(Some(self.read_peer_error()))
    }

    /// Reads the receiver's Error frame (what a receiver sends while data flows), within
    /// a short deadline.
    fn read_peer_error(&mut self) -> TransferError {
        let _ = self
            .conn
            .stream
            .set_read_timeout(Some(Duration::from_secs(2)));
        let msg = match self.conn.read_message() {
            Ok(m) => m,
            Err(e) => return net_error(&e),
        };
        let mut scratch = vec![0u8; MAX_MESSAGE];
        match self.channel.open(&msg, &mut scratch) {
            Ok(Frame::Error { code, reason }) => TransferError::from_receiver(code, reason),
            Ok(_) => TransferError::Protocol(FrameError::UnknownType(0)),
            Err(e) => TransferError::Protocol(e),
        }
    }

    /// A write failed: the receiver may have said why before it closed.
    fn after_write_error(&mut self, e: &io::Error) -> TransferError {
        match net_error(e) {
            TransferError::TimedOut => TransferError::TimedOut,
            lost => match self.read_peer_error() {
                TransferError::ConnectionLost(_) | TransferError::TimedOut => lost,
                told => told,
            },
        }
    }
}

/// Reads until `buf` is full or the file ends; returns the bytes read.
fn read_full(file: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Whether the source is still the file we opened: `None` if so.
fn source_state(path: &Path, opened: Option<(u64, u64)>) -> Option<TransferError> {
    match std::fs::metadata(path) {
        Err(e) if e.kind() == ErrorKind::NotFound => Some(TransferError::SourceGone),
        Err(_) => Some(TransferError::Permission(path.to_path_buf())),
        Ok(m) if Some((m.dev(), m.ino())) != opened => Some(TransferError::SourceChanged),
        Ok(_) => None,
    }
}

// ---------------------------------------------------------------------------------------
// The receiver

/// One download.
#[derive(Clone, Debug)]
pub struct Fetch {
    pub me: Identity,
    /// The sender: its key (from the chat session) and the address of its listener.
    pub peer: NodeId,
    pub addr: SocketAddr,
    pub id: TransferId,
    /// From the offer.
    pub size: u64,
    pub hash: [u8; 32],
    /// Where the bytes go until verified, and the name the file is kept under.
    pub partial: PathBuf,
    pub dest: PathBuf,
    pub suite: Suite,
    pub limits: Limits,
}

/// How far a download is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    pub id: TransferId,
    pub done: u64,
    pub size: u64,
}

/// A download that finished: the file is verified and kept at `path`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fetched {
    pub path: PathBuf,
    /// Bytes that were already in the partial file (and were not fetched again).
    pub resumed_from: u64,
    /// Bytes fetched this time.
    pub received: u64,
}

/// Downloads a file, resuming from its partial file, and keeps it once verified. Progress
/// goes to `progress` at most every [`PROGRESS_EVERY`] (dropped when the channel is full).
/// Dropping the future cancels the download; the partial file stays for a later resume.
pub async fn fetch(
    job: Fetch,
    progress: Option<mpsc::Sender<Progress>>,
) -> Result<Fetched, TransferError> {
    let abort = Arc::new(Abort::default());
    let guard = AbortOnDrop(abort.clone());
    let result = tokio::task::spawn_blocking(move || fetch_blocking(&job, progress, &abort)).await;
    drop(guard);
    result.unwrap_or_else(|e| Err(TransferError::Io(format!("transfer task: {e}"))))
}

/// Stops a download from another thread: a flag checked per chunk, and the socket shut
/// down so a blocked read returns at once.
#[derive(Default)]
struct Abort {
    stop: AtomicBool,
    stream: Mutex<Option<TcpStream>>,
}

struct AbortOnDrop(Arc<Abort>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.stop.store(true, Ordering::Relaxed);
        if let Ok(guard) = self.0.stream.lock()
            && let Some(s) = guard.as_ref()
        {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

fn fetch_blocking(
    job: &Fetch,
    progress: Option<mpsc::Sender<Progress>>,
    abort: &Abort,
) -> Result<Fetched, TransferError> {
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&job.partial)
        .map_err(|e| file_error(&e, &job.partial))?;
    let mut have = file
        .metadata()
        .map_err(|e| file_error(&e, &job.partial))?
        .len();
    if have > job.size {
        // Longer than the file can be: not ours, or broken. Start over.
        file.set_len(0).map_err(|e| file_error(&e, &job.partial))?;
        have = 0;
    }
    // What is already there is hashed from the disk, so a partial file damaged while we
    // were away shows as a mismatch at the end.
    let mut hasher = blake3::Hasher::new();
    hash_prefix(&mut file, have, &mut hasher).map_err(|e| file_error(&e, &job.partial))?;
    file.seek(SeekFrom::Start(have))
        .map_err(|e| file_error(&e, &job.partial))?;

    let stream =
        TcpStream::connect_timeout(&job.addr, job.limits.handshake).map_err(|e| net_error(&e))?;
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(job.limits.handshake));
    let _ = stream.set_write_timeout(Some(job.limits.handshake));
    if let (Ok(mut slot), Ok(clone)) = (abort.stream.lock(), stream.try_clone()) {
        *slot = Some(clone);
    }
    if abort.stop.load(Ordering::Relaxed) {
        return Err(TransferError::Cancelled);
    }
    let mut conn = Conn::new(stream).map_err(|e| net_error(&e))?;
    let request = Request {
        id: job.id,
        offset: have,
    };
    let (initiator, hello) = Initiator::start(&job.me, &job.peer, request, job.suite)?;
    conn.stream.write_all(&hello).map_err(|e| net_error(&e))?;
    let reply = conn.read_message().map_err(|e| net_error(&e))?;
    if reply.len() != REPLY_LEN {
        return Err(TransferError::Protocol(FrameError::Length));
    }
    let (status, size, channel) = initiator.read_reply(&reply)?;
    let mut channel = match (status, channel) {
        (Status::Ok, Some(c)) if size == job.size => c,
        (Status::Ok, _) => return Err(TransferError::SourceChanged),
        (Status::Unknown, _) => return Err(TransferError::Unknown),
        (Status::Gone, _) => return Err(TransferError::SourceGone),
        (Status::Changed | Status::BadOffset, _) => return Err(TransferError::SourceChanged),
        (Status::Unreadable, _) => return Err(TransferError::SourceUnreadable),
        (Status::Busy, _) => return Err(TransferError::Busy),
    };
    let go = channel.seal(&Frame::Go)?;
    conn.stream.write_all(&go).map_err(|e| net_error(&e))?;
    let _ = conn.stream.set_read_timeout(Some(job.limits.idle));
    let _ = conn.stream.set_write_timeout(Some(job.limits.idle));

    let mut recv = Receiving {
        conn,
        channel,
        cursor: Cursor::new(have, job.size)?,
    };
    let result = recv.receive(job, &mut file, &mut hasher, progress.as_ref(), abort);
    match result {
        Ok(()) => {}
        Err(error) => return Err(recv.fail(error)),
    }
    // Complete: durable, then judged, then kept.
    file.sync_all()
        .map_err(|e| recv.fail(file_error(&e, &job.partial)))?;
    drop(file);
    if hasher.finalize().as_bytes() != &job.hash {
        let _ = std::fs::remove_file(&job.partial);
        return Err(recv.fail(TransferError::HashMismatch));
    }
    keep(&job.partial, &job.dest).map_err(|e| recv.fail(e))?;
    if let Ok(verified) = recv.channel.seal(&Frame::Verified) {
        let _ = recv.conn.stream.write_all(&verified);
    }
    let _ = recv.conn.stream.shutdown(Shutdown::Write);
    if let Some(tx) = &progress {
        let _ = tx.try_send(Progress {
            id: job.id,
            done: job.size,
            size: job.size,
        });
    }
    Ok(Fetched {
        path: job.dest.clone(),
        resumed_from: have,
        received: job.size - have,
    })
}

fn hash_prefix(file: &mut File, len: u64, hasher: &mut blake3::Hasher) -> io::Result<()> {
    file.seek(SeekFrom::Start(0))?;
    let mut buf = vec![0u8; HASH_BUFFER];
    let mut left = len;
    while left > 0 {
        let want = usize::try_from(left.min(HASH_BUFFER as u64)).unwrap_or(HASH_BUFFER);
        let n = read_full(file, &mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(
                ErrorKind::UnexpectedEof,
                "the partial file shrank",
            ));
        }
        hasher.update(&buf[..n]);
        left -= n as u64;
    }
    Ok(())
}

/// Moves the verified partial file to its name, never over an existing file, and makes the
/// new name durable.
fn keep(partial: &Path, dest: &Path) -> Result<(), TransferError> {
    match std::fs::hard_link(partial, dest) {
        Ok(()) => {
            std::fs::remove_file(partial).map_err(|e| file_error(&e, partial))?;
        }
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {
            return Err(TransferError::DestinationExists(dest.to_path_buf()));
        }
        // A file system without hard links: check, then rename.
        Err(_) => {
            if dest.exists() {
                return Err(TransferError::DestinationExists(dest.to_path_buf()));
            }
            std::fs::rename(partial, dest).map_err(|e| file_error(&e, dest))?;
        }
    }
    if let Some(dir) = dest.parent()
        && let Ok(d) = File::open(dir)
    {
        let _ = d.sync_all();
    }
    Ok(())
}

struct Receiving {
    conn: Conn,
    channel: Channel,
    cursor: Cursor,
}

impl Receiving {
    /// Reads frames to the end, writing and hashing the data on a second thread (the
    /// receiver's CPU was the limit: decrypting, writing and hashing one after another).
    /// Each frame is opened straight into a buffer from a small pool that goes to the
    /// writer and comes back, so the data is not copied again; at most [`WRITE_QUEUE`]
    /// buffers wait. What was received is written (and hashed) before this returns, even
    /// on an error, so the partial file holds all of it.
    fn receive(
        &mut self,
        job: &Fetch,
        file: &mut File,
        hasher: &mut blake3::Hasher,
        progress: Option<&mpsc::Sender<Progress>>,
        abort: &Abort,
    ) -> Result<(), TransferError> {
        let (to_writer, jobs) =
            std::sync::mpsc::sync_channel::<(Vec<u8>, usize, usize)>(WRITE_QUEUE);
        let (give_back, returned) = std::sync::mpsc::channel::<Vec<u8>>();
        std::thread::scope(|scope| {
            let writer = scope.spawn(move || -> io::Result<()> {
                for (buf, from, to) in jobs {
                    let data = &buf[from..to];
                    file.write_all(data)?;
                    hasher.update(data);
                    let _ = give_back.send(buf);
                }
                Ok(())
            });
            let read = self.read_frames(job, progress, abort, &to_writer, &returned);
            drop(to_writer);
            let written = writer
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("the file writer stopped")));
            // A write that failed says why, before whatever the reading then ran into.
            written.map_err(|e| file_error(&e, &job.partial))?;
            read
        })
    }

    fn read_frames(
        &mut self,
        job: &Fetch,
        progress: Option<&mpsc::Sender<Progress>>,
        abort: &Abort,
        to_writer: &std::sync::mpsc::SyncSender<(Vec<u8>, usize, usize)>,
        returned: &std::sync::mpsc::Receiver<Vec<u8>>,
    ) -> Result<(), TransferError> {
        let mut last_progress = Instant::now();
        loop {
            if abort.stop.load(Ordering::Relaxed) {
                return Err(TransferError::Cancelled);
            }
            let msg = match self.conn.next_message() {
                Ok(msg) => msg,
                Err(_) if abort.stop.load(Ordering::Relaxed) => {
                    return Err(TransferError::Cancelled);
                }
                Err(e) => return Err(net_error(&e)),
            };
            let mut plain = returned
                .try_recv()
                .unwrap_or_else(|_| vec![0u8; MAX_MESSAGE]);
            let base = plain.as_ptr() as usize;
            let range = match self.channel.open(msg, &mut plain)? {
                Frame::Data(data) => {
                    self.cursor.data(data.len())?;
                    let from = data.as_ptr() as usize - base;
                    (from, from + data.len())
                }
                Frame::End => {
                    self.cursor.end()?;
                    return Ok(());
                }
                Frame::Error { code, reason } => {
                    return Err(TransferError::from_sender(code, reason));
                }
                Frame::Go | Frame::Verified => {
                    return Err(TransferError::Protocol(FrameError::UnknownType(0)));
                }
            };
            if to_writer.send((plain, range.0, range.1)).is_err() {
                // The writer stopped on an error: the caller says which.
                return Err(TransferError::Io("the file writer stopped".into()));
            }
            if let Some(tx) = progress
                && last_progress.elapsed() >= PROGRESS_EVERY
            {
                last_progress = Instant::now();
                let _ = tx.try_send(Progress {
                    id: job.id,
                    done: self.cursor.pos(),
                    size: job.size,
                });
            }
        }
    }

    /// Tells the sender why we stop (unless it stopped first, or the link is gone), then
    /// reads on briefly so that our Error frame is not lost to a reset, and hands the error
    /// back.
    fn fail(&mut self, error: TransferError) -> TransferError {
        let tell = !matches!(
            error,
            TransferError::SourceGone
                | TransferError::SourceChanged
                | TransferError::SourceUnreadable
                | TransferError::PeerCancelled
                | TransferError::Peer { .. }
                | TransferError::ConnectionLost(_)
                | TransferError::TimedOut
        );
        if tell {
            if let Ok(frame) = self.channel.seal(&Frame::Error {
                code: error.code(),
                reason: &error.reason_for_peer(),
            }) {
                let _ = self.conn.stream.write_all(&frame);
            }
            let _ = self.conn.stream.shutdown(Shutdown::Write);
            // Drain until the sender closes (it stops at its next poll), at most a
            // little while.
            let _ = self
                .conn
                .stream
                .set_read_timeout(Some(Duration::from_millis(500)));
            let deadline = Instant::now() + Duration::from_secs(2);
            let mut sink = vec![0u8; 64 << 10];
            while Instant::now() < deadline {
                match self.conn.stream.read(&mut sink) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        }
        let _ = self.conn.stream.shutdown(Shutdown::Both);
        error
    }
}
