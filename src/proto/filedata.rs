//! The file data stream (issue 15), sans-IO: how a file's bytes travel over a TCP
//! connection between two lanchat identities. The runtime (`runtime::transfer`) owns the
//! sockets and files; this module owns every byte format and every check on peer bytes.
//!
//! The receiver of a file connects to the port named in the offer and asks for (transfer
//! id, offset); the sender answers and streams the file from that offset. TCP gives the
//! kernel's congestion control and in-order delivery; Noise gives encryption and
//! authentication with the same identities as chat.
//!
//! ```text
//! every message on the stream:   len:u16 (big endian) | message[len]   (len <= 65,535,
//!                                Noise's own limit on a message, so u16 is exact)
//!
//! 1. receiver -> sender   Noise IK message 1 (HELLO_LEN bytes)
//!                         payload: transfer id [16] | offset:u64
//! 2. sender -> receiver   Noise IK message 2 (REPLY_LEN bytes)
//!                         payload: status:u8 | size:u64
//!                         any status but OK: the sender closes after it
//! 3. receiver -> sender   transport: Go
//! 4. sender -> receiver   transport: Data* then End, or Error
//! 5. receiver -> sender   transport: Verified (the whole file matched its hash), or Error
//!                         (either side may send Error at any time after 2, then stops)
//!
//! transport plaintexts (the first byte says which):
//!   0x01 Data      bytes [1..=MAX_CHUNK]   the next bytes of the file, in order
//!   0x02 End                               the file is complete (sender)
//!   0x03 Error     code:u8 | len:u8 | reason [len <= MAX_REASON], UTF-8
//!   0x04 Go                                the receiver holds its session: start (receiver)
//!   0x05 Verified                          the file matched its hash and is kept (receiver)
//! ```
//!
//! Invariants:
//! - The handshake is Noise IK with the prologue [`PROLOGUE`], which no chat handshake
//!   uses, so no chat message can be replayed here or the reverse. IK rather than KK: the
//!   sender serves many peers on one port and only learns who connects from message 1 (KK
//!   would need the initiator's key before reading it). The receiver knows the sender's
//!   key from the chat session, so it talks to nobody else; the sender takes the
//!   initiator's key from message 1 and answers OK only for a transfer it offered to
//!   exactly that key ([`Responder::read_hello`] hands back the key to check it against).
//!   Anything else (an unknown id, another peer's id) gets the same `Unknown`.
//! - A replayed message 1 gets a reply but no data: the sender streams only after `Go`,
//!   which only the holder of the initiator's ephemeral key can seal.
//! - Transport uses snow's stateful `TransportState`: TCP delivers in order, so the nonce
//!   is implicit; a reordered, dropped, replayed or altered message fails to open and ends
//!   the connection.
//! - Every length is checked before it is used; decoding never panics, and unknown frame
//!   types, statuses and trailing bytes are errors (proptests below). Error codes unknown
//!   to this version decode as [`ErrorCode::Other`], so a newer peer's errors still show.
//! - The error reason is the peer's text: untrusted, at most [`MAX_REASON`] bytes of UTF-8,
//!   and it goes through `text::sanitize` before it reaches a screen.
//! - A data stream never runs past the size the sender announced, and ends exactly there
//!   ([`Cursor`]).

use super::NodeId;
use super::secure::Identity;
use snow::resolvers::{DefaultResolver, FallbackResolver, RingResolver};
use snow::{Builder, HandshakeState, TransportState};

/// Bound into every file-data handshake. Chat handshakes use another prologue, so neither
/// can be replayed as the other.
pub const PROLOGUE: &[u8] = b"lanchat file data v1";

/// Noise's limit on one message, which is also what the u16 length prefix can say.
pub const MAX_MESSAGE: usize = 65_535;
/// The length prefix before each message.
pub const LEN_BYTES: usize = 2;
/// The AEAD tag on each transport message.
pub const TAG: usize = 16;
/// File bytes in one Data frame, at most: the whole Noise message less its tag and the
/// frame type. Bigger messages are not possible in Noise; smaller ones cost more per byte
/// (one AEAD call, one length prefix and about one syscall each; see BENCHMARKS.md).
pub const MAX_CHUNK: usize = MAX_MESSAGE - TAG - 1;
/// The most bytes of reason an Error frame carries.
pub const MAX_REASON: usize = 120;

/// What message 1 carries: the transfer id and the offset to start from.
const HELLO_PAYLOAD: usize = 16 + 8;
/// IK message 1: e (32), s encrypted (32 + 16), payload encrypted.
pub const HELLO_LEN: usize = 32 + 32 + TAG + HELLO_PAYLOAD + TAG;
/// What message 2 carries: a status and the file's size.
const REPLY_PAYLOAD: usize = 1 + 8;
/// IK message 2: e (32), payload encrypted.
pub const REPLY_LEN: usize = 32 + REPLY_PAYLOAD + TAG;

const DATA: u8 = 0x01;
const END: u8 = 0x02;
const ERROR: u8 = 0x03;
const GO: u8 = 0x04;
const VERIFIED: u8 = 0x05;

/// The cipher of a session. Both ends must use the same one (it is part of the Noise
/// protocol name, so a mismatch fails the handshake rather than garbling data).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Suite {
    /// ChaCha20-Poly1305, as chat uses.
    ChaChaPoly,
    /// AES-256-GCM.
    AesGcm,
}

impl Suite {
    /// The suite lanchat uses for file data. AES-GCM: with AES-NI and carry-less multiply
    /// (every x86-64 CPU of the last decade) it seals and opens faster than ChaCha20-Poly1305
    /// here; see BENCHMARKS.md, "Files".
    pub const DEFAULT: Suite = Suite::AesGcm;

    fn params(self) -> &'static str {
        match self {
            Suite::ChaChaPoly => "Noise_IK_25519_ChaChaPoly_BLAKE2s",
            Suite::AesGcm => "Noise_IK_25519_AESGCM_BLAKE2s",
        }
    }
}

/// A transfer's name is the one the offer carries (`files::TransferId`).
pub use super::files::TransferId;

/// What the receiver asks for in message 1.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Request {
    pub id: TransferId,
    /// Bytes the receiver already holds: the sender starts here.
    pub offset: u64,
}

/// The sender's answer in message 2.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Status {
    /// The file follows from the asked offset; `size` is the whole file's.
    Ok,
    /// No such transfer for this peer (unknown id, or offered to someone else).
    Unknown,
    /// The source file is gone (moved or deleted since the offer).
    Gone,
    /// The source file is there but no longer what was offered (its size changed).
    Changed,
    /// The source file cannot be read (permissions).
    Unreadable,
    /// The offset is past the end of the file.
    BadOffset,
    /// The sender has too many transfers running; try again later.
    Busy,
}

impl Status {
    fn code(self) -> u8 {
        match self {
            Status::Ok => 0,
            Status::Unknown => 1,
            Status::Gone => 2,
            Status::Changed => 3,
            Status::Unreadable => 4,
            Status::BadOffset => 5,
            Status::Busy => 6,
        }
    }

    fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0 => Status::Ok,
            1 => Status::Unknown,
            2 => Status::Gone,
            3 => Status::Changed,
            4 => Status::Unreadable,
            5 => Status::BadOffset,
            6 => Status::Busy,
            _ => return None,
        })
    }
}

/// Why a side stopped, as told to the other side in an Error frame.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ErrorCode {
    /// The receiver's disk is full.
    DiskFull,
    /// The receiver may not write its file, or the sender may not read the source.
    Permission,
    /// The source file vanished while it was being sent.
    SourceGone,
    /// The source file changed while it was being sent (it became shorter, say).
    SourceChanged,
    /// Reading or writing a file failed for another reason.
    Io,
    /// The user cancelled.
    Cancelled,
    /// The whole file did not match the hash in the offer.
    HashMismatch,
    /// The other side broke the protocol.
    Protocol,
    /// A code this version does not know.
    Other(u8),
}

impl ErrorCode {
    pub fn code(self) -> u8 {
        match self {
            ErrorCode::DiskFull => 1,
            ErrorCode::Permission => 2,
            ErrorCode::SourceGone => 3,
            ErrorCode::SourceChanged => 4,
            ErrorCode::Io => 5,
            ErrorCode::Cancelled => 6,
            ErrorCode::HashMismatch => 7,
            ErrorCode::Protocol => 8,
            ErrorCode::Other(c) => c,
        }
    }

    pub fn from_code(code: u8) -> Self {
        match code {
            1 => ErrorCode::DiskFull,
            2 => ErrorCode::Permission,
            3 => ErrorCode::SourceGone,
            4 => ErrorCode::SourceChanged,
            5 => ErrorCode::Io,
            6 => ErrorCode::Cancelled,
            7 => ErrorCode::HashMismatch,
            8 => ErrorCode::Protocol,
            c => ErrorCode::Other(c),
        }
    }
}

/// One opened transport message.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Frame<'a> {
    Data(&'a [u8]),
    End,
    Error { code: ErrorCode, reason: &'a str },
    Go,
    Verified,
}

/// What went wrong with bytes from the peer (or, for `Crypto`, with its keys).
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
pub enum FrameError {
    #[error("message has the wrong length")]
    Length,
    #[error("message does not decrypt or verify")]
    Crypto,
    #[error("unknown frame type {0}")]
    UnknownType(u8),
    #[error("unknown status {0}")]
    UnknownStatus(u8),
    #[error("error reason is too long or not UTF-8")]
    Reason,
    #[error("data past the announced size")]
    PastEnd,
    #[error("the stream ended before the announced size")]
    Short,
    #[error("an empty data frame")]
    EmptyData,
}

impl From<snow::Error> for FrameError {
    fn from(_: snow::Error) -> Self {
        FrameError::Crypto
    }
}

/// Ring's AEADs (hand-tuned assembly), and snow's own X25519 and BLAKE2s, which ring does
/// not offer in this form.
fn builder(suite: Suite) -> Result<Builder<'static>, FrameError> {
    let params = suite.params().parse().map_err(|_| FrameError::Crypto)?;
    let resolver = FallbackResolver::new(Box::new(RingResolver), Box::new(DefaultResolver));
    Ok(Builder::with_resolver(params, Box::new(resolver)).prologue(PROLOGUE)?)
}

/// The receiver's side of the handshake.
pub struct Initiator {
    hs: HandshakeState,
}

impl Initiator {
    /// Starts a handshake toward `peer` (the sender, whose key the chat session proved) and
    /// returns message 1, length prefix included, ready to write.
    pub fn start(
        me: &Identity,
        peer: &NodeId,
        request: Request,
        suite: Suite,
    ) -> Result<(Self, Vec<u8>), FrameError> {
        let mut hs = builder(suite)?
            .local_private_key(me.secret())?
            .remote_public_key(&peer.0)?
            .build_initiator()?;
        let mut payload = [0u8; HELLO_PAYLOAD];
        payload[..16].copy_from_slice(&request.id.0);
        payload[16..].copy_from_slice(&request.offset.to_be_bytes());
        let mut out = vec![0u8; LEN_BYTES + HELLO_LEN];
        let n = hs.write_message(&payload, &mut out[LEN_BYTES..])?;
        if n != HELLO_LEN {
            return Err(FrameError::Length);
        }
        out[..LEN_BYTES].copy_from_slice(&(n as u16).to_be_bytes());
        Ok((Self { hs }, out))
    }

    /// Reads message 2 (without its length prefix). On `Status::Ok` the session is open;
    /// on any other status the sender closes and there is no session.
    pub fn read_reply(mut self, msg: &[u8]) -> Result<(Status, u64, Option<Channel>), FrameError> {
        if msg.len() != REPLY_LEN {
            return Err(FrameError::Length);
        }
        let mut payload = [0u8; REPLY_LEN];
        let n = self.hs.read_message(msg, &mut payload)?;
        let payload = payload.get(..n).ok_or(FrameError::Length)?;
        let (status, size) = parse_reply(payload)?;
        if status != Status::Ok {
            return Ok((status, size, None));
        }
        let ts = self.hs.into_transport_mode()?;
        Ok((status, size, Some(Channel::new(ts))))
    }
}

fn parse_reply(p: &[u8]) -> Result<(Status, u64), FrameError> {
    if p.len() != REPLY_PAYLOAD {
        return Err(FrameError::Length);
    }
    let code = p[0];
    let status = Status::from_code(code).ok_or(FrameError::UnknownStatus(code))?;
    let mut size = [0u8; 8];
    size.copy_from_slice(&p[1..]);
    Ok((status, u64::from_be_bytes(size)))
}

/// The sender's side of the handshake, after message 1 verified.
pub struct Responder {
    hs: HandshakeState,
}

impl Responder {
    /// Reads message 1 (without its length prefix). On success, hands back who sent it (a
    /// key proven by the handshake, so far as message 1 goes: see the module's invariants)
    /// and what it asks for. The caller must check the transfer was offered to that key.
    pub fn read_hello(
        me: &Identity,
        msg: &[u8],
        suite: Suite,
    ) -> Result<(Self, NodeId, Request), FrameError> {
        if msg.len() != HELLO_LEN {
            return Err(FrameError::Length);
        }
        let mut hs = builder(suite)?
            .local_private_key(me.secret())?
            .build_responder()?;
        let mut payload = [0u8; HELLO_LEN];
        let n = hs.read_message(msg, &mut payload)?;
        let p = payload.get(..n).ok_or(FrameError::Length)?;
        if p.len() != HELLO_PAYLOAD {
            return Err(FrameError::Length);
        }
        let mut id = [0u8; 16];
        id.copy_from_slice(&p[..16]);
        let mut offset = [0u8; 8];
        offset.copy_from_slice(&p[16..]);
        let rs = hs.get_remote_static().ok_or(FrameError::Crypto)?;
        let mut key = [0u8; 32];
        key.copy_from_slice(rs.get(..32).ok_or(FrameError::Crypto)?);
        let request = Request {
            id: TransferId(id),
            offset: u64::from_be_bytes(offset),
        };
        Ok((Self { hs }, NodeId(key), request))
    }

    /// Writes message 2, length prefix included. With `Status::Ok` the session is open
    /// (the caller streams only after the peer's `Go`); otherwise there is none.
    pub fn reply(
        mut self,
        status: Status,
        size: u64,
    ) -> Result<(Vec<u8>, Option<Channel>), FrameError> {
        let mut payload = [0u8; REPLY_PAYLOAD];
        payload[0] = status.code();
        payload[1..].copy_from_slice(&size.to_be_bytes());
        let mut out = vec![0u8; LEN_BYTES + REPLY_LEN];
        let n = self.hs.write_message(&payload, &mut out[LEN_BYTES..])?;
        if n != REPLY_LEN {
            return Err(FrameError::Length);
        }
        out[..LEN_BYTES].copy_from_slice(&(n as u16).to_be_bytes());
        if status != Status::Ok {
            return Ok((out, None));
        }
        let ts = self.hs.into_transport_mode()?;
        Ok((out, Some(Channel::new(ts))))
    }
}

/// A buffer for one Data frame's plaintext: the frame type, then room for [`MAX_CHUNK`]
/// file bytes that the caller reads straight into [`DataBuf::space`], so nothing is copied
/// before it is sealed.
pub struct DataBuf {
    buf: Vec<u8>,
}

impl Default for DataBuf {
    fn default() -> Self {
        let mut buf = vec![0u8; 1 + MAX_CHUNK];
        buf[0] = DATA;
        Self { buf }
    }
}

impl DataBuf {
    /// Where the next chunk of the file goes.
    pub fn space(&mut self) -> &mut [u8] {
        &mut self.buf[1..]
    }
}

/// An open session: seals our frames and opens the peer's, in order.
pub struct Channel {
    ts: TransportState,
}

/// Room for one sealed message and its length prefix.
pub const SEALED_MAX: usize = LEN_BYTES + MAX_MESSAGE;

impl Channel {
    fn new(ts: TransportState) -> Self {
        Self { ts }
    }

    fn seal_plain(&mut self, plain: &[u8], out: &mut [u8]) -> Result<usize, FrameError> {
        let room = out.get_mut(LEN_BYTES..).ok_or(FrameError::Length)?;
        let n = self.ts.write_message(plain, room)?;
        let len = u16::try_from(n).map_err(|_| FrameError::Length)?;
        out[..LEN_BYTES].copy_from_slice(&len.to_be_bytes());
        Ok(LEN_BYTES + n)
    }

    /// Seals the first `n` bytes of `buf`'s space as a Data frame into `out` (which needs
    /// [`SEALED_MAX`] bytes), length prefix included; returns the bytes to write.
    pub fn seal_data(
        &mut self,
        buf: &DataBuf,
        n: usize,
        out: &mut [u8],
    ) -> Result<usize, FrameError> {
        if n == 0 || n > MAX_CHUNK {
            return Err(FrameError::Length);
        }
        self.seal_plain(&buf.buf[..1 + n], out)
    }

    /// Seals any frame into a new buffer, length prefix included. Data frames are sealed
    /// with [`Channel::seal_data`] on the hot path; this is for the rest (and tests).
    pub fn seal(&mut self, frame: &Frame<'_>) -> Result<Vec<u8>, FrameError> {
        let plain = encode_plain(frame)?;
        let mut out = vec![0u8; LEN_BYTES + plain.len() + TAG];
        let n = self.seal_plain(&plain, &mut out)?;
        out.truncate(n);
        Ok(out)
    }

    /// Opens one message (without its length prefix) into `scratch` (which needs
    /// [`MAX_MESSAGE`] bytes) and decodes it. A message that fails to open ends the session:
    /// the nonces would no longer line up.
    pub fn open<'s>(&mut self, msg: &[u8], scratch: &'s mut [u8]) -> Result<Frame<'s>, FrameError> {
        if msg.len() <= TAG || msg.len() > MAX_MESSAGE || scratch.len() < msg.len() {
            return Err(FrameError::Length);
        }
        let n = self.ts.read_message(msg, scratch)?;
        decode_plain(scratch.get(..n).ok_or(FrameError::Length)?)
    }
}

/// A frame's plaintext.
pub fn encode_plain(frame: &Frame<'_>) -> Result<Vec<u8>, FrameError> {
    Ok(match frame {
        Frame::Data(bytes) => {
            if bytes.is_empty() || bytes.len() > MAX_CHUNK {
                return Err(FrameError::Length);
            }
            let mut v = Vec::with_capacity(1 + bytes.len());
            v.push(DATA);
            v.extend_from_slice(bytes);
            v
        }
        Frame::End => vec![END],
        Frame::Go => vec![GO],
        Frame::Verified => vec![VERIFIED],
        Frame::Error { code, reason } => {
            let reason = clip(reason, MAX_REASON);
            let mut v = Vec::with_capacity(3 + reason.len());
            v.push(ERROR);
            v.push(code.code());
            v.push(reason.len() as u8);
            v.extend_from_slice(reason.as_bytes());
            v
        }
    })
}

/// Decodes a frame's plaintext; anything but an exact, known frame is an error.
pub fn decode_plain(p: &[u8]) -> Result<Frame<'_>, FrameError> {
    let (&kind, rest) = p.split_first().ok_or(FrameError::Length)?;
    match kind {
        DATA => {
            if rest.is_empty() {
                Err(FrameError::EmptyData)
            } else if rest.len() > MAX_CHUNK {
                Err(FrameError::Length)
            } else {
                Ok(Frame::Data(rest))
            }
        }
        END | GO | VERIFIED => {
            if !rest.is_empty() {
                return Err(FrameError::Length);
            }
            Ok(match kind {
                END => Frame::End,
                GO => Frame::Go,
                _ => Frame::Verified,
            })
        }
        ERROR => {
            let (&code, rest) = rest.split_first().ok_or(FrameError::Length)?;
            let (&len, text) = rest.split_first().ok_or(FrameError::Length)?;
            let len = usize::from(len);
            if len > MAX_REASON || text.len() != len {
                return Err(FrameError::Reason);
            }
            let reason = std::str::from_utf8(text).map_err(|_| FrameError::Reason)?;
            Ok(Frame::Error {
                code: ErrorCode::from_code(code),
                reason,
            })
        }
        other => Err(FrameError::UnknownType(other)),
    }
}

/// `s` cut to at most `max` bytes, at a character boundary.
fn clip(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Reads a length prefix: the length of the message that follows, or an error for a
/// length no message of this protocol can have.
pub fn message_len(prefix: [u8; LEN_BYTES]) -> Result<usize, FrameError> {
    let len = usize::from(u16::from_be_bytes(prefix));
    if len <= TAG {
        return Err(FrameError::Length);
    }
    Ok(len)
}

/// Where the receiver is in the announced file: data never runs past its size, and the
/// End frame comes exactly at it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Cursor {
    pos: u64,
    size: u64,
}

impl Cursor {
    /// A stream that starts at `offset` of a file of `size` bytes.
    pub fn new(offset: u64, size: u64) -> Result<Self, FrameError> {
        if offset > size {
            return Err(FrameError::PastEnd);
        }
        Ok(Self { pos: offset, size })
    }

    pub fn pos(&self) -> u64 {
        self.pos
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Accounts for `len` more bytes of data, or refuses them if they run past the end.
    pub fn data(&mut self, len: usize) -> Result<(), FrameError> {
        if len == 0 {
            return Err(FrameError::EmptyData);
        }
        let next = self
            .pos
            .checked_add(len as u64)
            .ok_or(FrameError::PastEnd)?;
        if next > self.size {
            return Err(FrameError::PastEnd);
        }
        self.pos = next;
        Ok(())
    }

    /// The End frame: fine only at the end.
    pub fn end(&self) -> Result<(), FrameError> {
        if self.pos == self.size {
            Ok(())
        } else {
            Err(FrameError::Short)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ids() -> (Identity, Identity) {
        (
            Identity::from_secret([7; 32]),
            Identity::from_secret([9; 32]),
        )
    }

    fn session(suite: Suite) -> (Channel, Channel) {
        let (r, s) = ids();
        let req = Request {
            id: TransferId([3; 16]),
            offset: 5,
        };
        let (init, hello) = Initiator::start(&r, &s.public(), req, suite).expect("start");
        assert_eq!(hello.len(), LEN_BYTES + HELLO_LEN);
        assert_eq!(message_len([hello[0], hello[1]]), Ok(HELLO_LEN));
        let (resp, who, got) = Responder::read_hello(&s, &hello[2..], suite).expect("hello");
        assert_eq!(who, r.public());
        assert_eq!(got, req);
        let (reply, chan_s) = resp.reply(Status::Ok, 1000).expect("reply");
        assert_eq!(reply.len(), LEN_BYTES + REPLY_LEN);
        let (status, size, chan_r) = init.read_reply(&reply[2..]).expect("read reply");
        assert_eq!((status, size), (Status::Ok, 1000));
        (
            chan_r.expect("receiver session"),
            chan_s.expect("sender session"),
        )
    }

    #[test]
    fn a_session_carries_every_frame_both_ways_with_either_suite() {
        for suite in [Suite::ChaChaPoly, Suite::AesGcm] {
            let (mut r, mut s) = session(suite);
            let mut scratch = vec![0u8; MAX_MESSAGE];
            let go = r.seal(&Frame::Go).expect("go");
            assert_eq!(s.open(&go[2..], &mut scratch), Ok(Frame::Go));
            let mut buf = DataBuf::default();
            buf.space()[..MAX_CHUNK].fill(0xAB);
            let mut out = vec![0u8; SEALED_MAX];
            let n = s.seal_data(&buf, MAX_CHUNK, &mut out).expect("seal");
            assert_eq!(n, SEALED_MAX, "a full chunk fills a Noise message exactly");
            let len = message_len([out[0], out[1]]).expect("len");
            match r.open(&out[2..2 + len], &mut scratch) {
                Ok(Frame::Data(d)) => assert!(d.len() == MAX_CHUNK && d.iter().all(|b| *b == 0xAB)),
                other => panic!("expected data, got {other:?}"),
            }
            for frame in [
                Frame::End,
                Frame::Error {
                    code: ErrorCode::SourceGone,
                    reason: "gone",
                },
            ] {
                let m = s.seal(&frame).expect("seal");
                assert_eq!(r.open(&m[2..], &mut scratch), Ok(frame));
            }
            let v = r.seal(&Frame::Verified).expect("verified");
            assert_eq!(s.open(&v[2..], &mut scratch), Ok(Frame::Verified));
        }
    }

    #[test]
    fn a_refusal_opens_no_session() {
        let (r, s) = ids();
        let req = Request {
            id: TransferId([1; 16]),
            offset: 0,
        };
        let (init, hello) = Initiator::start(&r, &s.public(), req, Suite::DEFAULT).expect("start");
        let (resp, _, _) = Responder::read_hello(&s, &hello[2..], Suite::DEFAULT).expect("hello");
        let (reply, chan) = resp.reply(Status::Gone, 0).expect("reply");
        assert!(chan.is_none());
        let (status, _, chan) = init.read_reply(&reply[2..]).expect("read");
        assert_eq!(status, Status::Gone);
        assert!(chan.is_none());
    }

    #[test]
    fn a_hello_for_another_key_or_another_suite_or_a_chat_prologue_fails() {
        let (r, s) = ids();
        let other = Identity::from_secret([11; 32]);
        let req = Request {
            id: TransferId([1; 16]),
            offset: 0,
        };
        let (_, hello) = Initiator::start(&r, &s.public(), req, Suite::DEFAULT).expect("start");
        assert!(Responder::read_hello(&other, &hello[2..], Suite::DEFAULT).is_err());
        assert!(Responder::read_hello(&s, &hello[2..], Suite::ChaChaPoly).is_err());
        // The same handshake under chat's prologue does not open here.
        let params = Suite::DEFAULT.params().parse().expect("params");
        let spub = s.public();
        let mut chat = Builder::new(params)
            .prologue(b"lanchat v1")
            .and_then(|b| b.local_private_key(r.secret()))
            .and_then(|b| b.remote_public_key(&spub.0))
            .and_then(|b| b.build_initiator())
            .expect("chat-like initiator");
        let mut msg = vec![0u8; HELLO_LEN];
        let n = chat
            .write_message(&[0u8; HELLO_PAYLOAD], &mut msg)
            .expect("write");
        assert_eq!(n, HELLO_LEN);
        assert!(Responder::read_hello(&s, &msg, Suite::DEFAULT).is_err());
    }

    #[test]
    fn a_tampered_reordered_or_replayed_message_fails_to_open() {
        let (mut r, mut s) = session(Suite::DEFAULT);
        let mut scratch = vec![0u8; MAX_MESSAGE];
        let a = s.seal(&Frame::Data(b"first")).expect("a");
        let b = s.seal(&Frame::Data(b"second")).expect("b");
        // Out of order: b first.
        assert_eq!(r.open(&b[2..], &mut scratch), Err(FrameError::Crypto));
        let (mut r, mut s) = session(Suite::DEFAULT);
        let a2 = s.seal(&Frame::Data(b"first")).expect("a");
        let mut bad = a2.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert_eq!(r.open(&bad[2..], &mut scratch), Err(FrameError::Crypto));
        // A message from another session is not accepted either.
        let (mut r, _) = session(Suite::DEFAULT);
        assert_eq!(r.open(&a[2..], &mut scratch), Err(FrameError::Crypto));
    }

    #[test]
    fn the_cursor_refuses_data_past_the_end_and_an_early_end() {
        let mut c = Cursor::new(10, 20).expect("cursor");
        assert_eq!(c.end(), Err(FrameError::Short));
        assert_eq!(c.data(11), Err(FrameError::PastEnd));
        assert_eq!(c.data(0), Err(FrameError::EmptyData));
        c.data(10).expect("fits");
        assert_eq!(c.pos(), 20);
        assert_eq!(c.end(), Ok(()));
        assert_eq!(c.data(1), Err(FrameError::PastEnd));
        assert_eq!(Cursor::new(21, 20), Err(FrameError::PastEnd));
        let mut big = Cursor::new(u64::MAX - 1, u64::MAX).expect("cursor");
        assert_eq!(big.data(2), Err(FrameError::PastEnd));
    }

    #[test]
    fn a_long_reason_is_clipped_at_a_character_boundary() {
        let reason = "满".repeat(100);
        let plain = encode_plain(&Frame::Error {
            code: ErrorCode::Io,
            reason: &reason,
        })
        .expect("encode");
        match decode_plain(&plain) {
            Ok(Frame::Error { code, reason }) => {
                assert_eq!(code, ErrorCode::Io);
                assert_eq!(reason, "满".repeat(40));
            }
            other => panic!("expected an error frame, got {other:?}"),
        }
    }

    #[test]
    fn exact_frames_only() {
        assert_eq!(decode_plain(&[]), Err(FrameError::Length));
        assert_eq!(decode_plain(&[DATA]), Err(FrameError::EmptyData));
        assert_eq!(decode_plain(&[END, 0]), Err(FrameError::Length));
        assert_eq!(decode_plain(&[0x77]), Err(FrameError::UnknownType(0x77)));
        assert_eq!(decode_plain(&[ERROR, 1, 3, b'a']), Err(FrameError::Reason));
        assert_eq!(decode_plain(&[ERROR, 1, 1, 0xFF]), Err(FrameError::Reason));
        assert_eq!(
            decode_plain(&[ERROR, 200, 0]),
            Ok(Frame::Error {
                code: ErrorCode::Other(200),
                reason: ""
            })
        );
        assert_eq!(
            parse_reply(&[9, 0, 0, 0, 0, 0, 0, 0, 0]),
            Err(FrameError::UnknownStatus(9))
        );
        assert_eq!(message_len([0, 16]), Err(FrameError::Length));
        assert_eq!(message_len([0xFF, 0xFF]), Ok(MAX_MESSAGE));
    }

    fn frame_strategy() -> impl Strategy<Value = (u8, Vec<u8>, String)> {
        (
            0u8..5,
            proptest::collection::vec(any::<u8>(), 1..2000),
            ".{0,60}",
        )
    }

    proptest! {
        #[test]
        fn plaintexts_round_trip((kind, bytes, reason) in frame_strategy(), code in any::<u8>()) {
            let frame = match kind {
                0 => Frame::Data(&bytes),
                1 => Frame::End,
                2 => Frame::Go,
                3 => Frame::Verified,
                _ => Frame::Error { code: ErrorCode::from_code(code), reason: &reason },
            };
            let plain = encode_plain(&frame).expect("encode");
            let back = decode_plain(&plain).expect("decode");
            match (frame, back) {
                (Frame::Error { code: a, reason: ra }, Frame::Error { code: b, reason: rb }) => {
                    prop_assert_eq!(a.code(), b.code());
                    prop_assert!(ra.starts_with(rb));
                    prop_assert!(rb.len() <= MAX_REASON);
                }
                (a, b) => prop_assert_eq!(a, b),
            }
        }

        #[test]
        fn decoding_peer_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = decode_plain(&bytes);
            let _ = parse_reply(&bytes);
            if bytes.len() >= 2 {
                let _ = message_len([bytes[0], bytes[1]]);
            }
        }

        #[test]
        fn handshake_messages_of_any_shape_are_refused_not_panicked_on(
            bytes in proptest::collection::vec(any::<u8>(), 0..200),
        ) {
            let (r, s) = ids();
            prop_assert!(Responder::read_hello(&s, &bytes, Suite::DEFAULT).is_err());
            let req = Request { id: TransferId([1; 16]), offset: 0 };
            let (init, _) = Initiator::start(&r, &s.public(), req, Suite::DEFAULT).expect("start");
            prop_assert!(init.read_reply(&bytes).is_err());
        }

        #[test]
        fn sealed_garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let (mut r, _) = session(Suite::DEFAULT);
            let mut scratch = vec![0u8; MAX_MESSAGE];
            prop_assert!(r.open(&bytes, &mut scratch).is_err());
        }

        #[test]
        fn a_cursor_never_passes_its_size(offset in 0u64..1000, size in 0u64..1000, lens in proptest::collection::vec(0usize..300, 0..20)) {
            if let Ok(mut c) = Cursor::new(offset, size) {
                for len in lens {
                    let _ = c.data(len);
                    prop_assert!(c.pos() <= c.size());
                }
            } else {
                prop_assert!(offset > size);
            }
        }
    }
}
