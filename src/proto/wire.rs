//! The native wire format: one frame per datagram.
//!
//! Every native datagram starts with [`MAGIC`] and a version byte. The first magic byte,
//! 0xFF, can begin neither UTF-8 nor GBK text, so one socket tells native frames from plain
//! text without guessing. All integers are big-endian.
//!
//! ```text
//! FF 'L' 'C' version kind payload...
//! kind 1 beacon   node[32] port:u16 flags:u8 name_len:u8 name zero padding to INIT_DATAGRAM
//!                 flags: 1 want a reply, 2 sent from the unicast socket (the source
//!                 address is where to answer; otherwise the source IP with `port`)
//! kind 2 goodbye  node[32]
//!                 (only ever inside kind 7: a goodbye in the clear is ignored)
//! kind 3 packet   from[32] epoch:u64 flags:u8 [ack] [data]
//!                 (only ever inside kind 7: a packet in the clear is refused)
//! kind 4 hs-init  pattern:u8 sender:u32 len:u16 noise[len] zero padding to INIT_DATAGRAM
//!                 pattern | 0x80: the last COOKIE_BYTES of the padding are a cookie
//! kind 5 hs-reply sender:u32 receiver:u32 len:u16 noise[len]
//! kind 6 hs-final receiver:u32 len:u16 noise[len]
//! kind 7 sealed   receiver:u32 counter:u64 ciphertext (a kind 3 or kind 2 frame, or
//!                 empty: a keepalive, or the proof that a handshake's reply arrived)
//! kind 8 cookie   receiver:u32 cookie[COOKIE_BYTES]
//!   ack   acked_epoch:u64 delay_ms:u16 count:u8 (start:u64 end:u64) * count
//!         packet-number ranges, inclusive, highest first, not touching
//!   data  pn:u64 msn:u64 base:u64 id:u64 kind:u8 sent_at_ms:i64
//!         frag_index:u16 frag_count:u16 len:u16 bytes
//! ```
//!
//! A message's bytes (its fragments joined) by content `kind` ([`Body`]):
//!
//! ```text
//! 0 text    UTF-8
//! 1 read    id:u64 * n                 (read receipts)
//! 2 reply   quoted_id:u64 quoted_author[32] excerpt_len:u8 excerpt text
//!           (excerpt: UTF-8, at most MAX_EXCERPT_BYTES; text: UTF-8, not empty)
//! 3 recall  target_id:u64              (only the author's own recall counts)
//! 4 file-offer   transfer[16] size:u64 hash[32] port:u16 name_len:u8 name
//!                (transfer: not all zero; size: at most files::MAX_FILE_BYTES; hash: BLAKE3
//!                of the whole file; port: the sender's TCP port for the data, not 0; name:
//!                UTF-8, 1 to files::MAX_NAME_BYTES, untrusted: see files::safe_name)
//! 5 file-accept  transfer[16]
//! 6 file-decline transfer[16]
//! 7 file-cancel  transfer[16] reason:u8  (files::CancelReason: 1 cancelled, 2 failed,
//!                3 corrupt, 4 changed)
//! 8 group        a group frame (proto::group::frame), best effort like read receipts:
//!                group sync repairs what is lost; never stored or kept in an outbox
//! ```
//!
//! File messages say what may be fetched; the file's bytes go over TCP (`proto::filedata`).
//! A plain-text peer never gets one (`Endpoint::send_body`).
//!
//! A packet's `epoch` is chosen at random when a node starts, so a restarted peer's fresh
//! numbering is never mistaken for the old one. `pn` numbers every data packet sent
//! (retransmissions get new numbers, so acks time round trips without ambiguity); `msn`
//! numbers messages, which are shown in that order; `base` is the sender's lowest message not
//! yet settled, so the receiver never waits for one the sender gave up on.
//!
//! Kinds 4 to 7 carry Noise (see `proto::secure`): `sender` and `receiver` are the session
//! indexes each side picked, `counter` is the explicit nonce of a sealed frame. A handshake
//! initiation is padded to a fixed size larger than any reply, so answering one never
//! amplifies traffic towards a forged source address. Beacons are padded to the same size,
//! so that one beacon pays for exactly one beacon or initiation sent in answer.
//!
//! Kind 8 answers an initiation when the responder is under load: the initiator sends its
//! initiation again with the cookie, which proves that it receives at its address
//! (WireGuard's cookie reply). The cookie is a keyed hash of that address.

use super::files::{self, CancelReason, FileOffer, FileSignal, TransferId};
use super::{MsgId, NodeId};
use thiserror::Error;

pub const MAGIC: [u8; 3] = [0xFF, b'L', b'C'];
/// 2: beacons padded, goodbyes only sealed, cookies.
pub const VERSION: u8 = 2;
/// Largest UDP payload lanchat sends: safe under any real path MTU.
pub const MAX_DATAGRAM: usize = 1200;
/// Longest display name carried in a beacon, in bytes.
pub const MAX_NAME_BYTES: usize = 64;
/// Message bytes carried by one data packet.
pub const FRAGMENT_BYTES: usize = 1024;
/// Longest message, in bytes of UTF-8.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;
/// Fragments of the longest message.
pub const MAX_FRAGMENTS: usize = MAX_MESSAGE_BYTES.div_ceil(FRAGMENT_BYTES);
/// Most packet-number ranges one ack carries.
pub const MAX_ACK_RANGES: usize = 16;
/// Longest quoted excerpt a reply carries, in bytes of UTF-8.
pub const MAX_EXCERPT_BYTES: usize = 160;
/// Bytes of a reply's body before its excerpt and text.
pub const REPLY_OVERHEAD: usize = 8 + 32 + 1;
/// Bytes of a file offer's body before its name.
pub const OFFER_OVERHEAD: usize = 16 + 8 + 32 + 2 + 1;

const HEADER: usize = MAGIC.len() + 2;
/// Bytes a sealed frame adds around its plaintext: header, index, counter, AEAD tag.
pub const SEAL_OVERHEAD: usize = HEADER + 4 + 8 + 16;
/// Largest plaintext packet: what is left of a datagram once sealed.
pub const MAX_PLAINTEXT: usize = MAX_DATAGRAM - SEAL_OVERHEAD;
/// Every handshake initiation is exactly this long, padding included.
pub const INIT_DATAGRAM: usize = 256;
/// Longest Noise handshake message a frame carries: what fits the reply, whose header is
/// the largest, within an initiation's size. So no reply can outgrow an initiation.
pub const MAX_HANDSHAKE_MESSAGE: usize = INIT_DATAGRAM - (HEADER + 4 + 4 + 2);
/// Bytes of an address-proving cookie.
pub const COOKIE_BYTES: usize = 16;
/// Longest Noise message an initiation carries: room is left for a cookie.
pub const MAX_INIT_MESSAGE: usize = INIT_DATAGRAM - (HEADER + 1 + 4 + 2) - COOKIE_BYTES;
/// Bytes of a packet before its sections.
pub const PACKET_OVERHEAD: usize = HEADER + 32 + 8 + 1;
/// Bytes of a data section besides its payload.
pub const DATA_OVERHEAD: usize = 8 * 4 + 1 + 8 + 2 + 2 + 2;

/// Bytes an ack section with `ranges` ranges takes.
pub const fn ack_size(ranges: usize) -> usize {
    8 + 2 + 1 + 16 * ranges
}

const KIND_BEACON: u8 = 1;
const KIND_GOODBYE: u8 = 2;
const KIND_PACKET: u8 = 3;
const KIND_HS_INIT: u8 = 4;
const KIND_HS_REPLY: u8 = 5;
const KIND_HS_FINAL: u8 = 6;
const KIND_SEALED: u8 = 7;
const KIND_COOKIE: u8 = 8;
const FLAG_WANT_REPLY: u8 = 1;
const FLAG_UNICAST: u8 = 2;
const PATTERN_COOKIE: u8 = 0x80;
const FLAG_ACK: u8 = 1;
const FLAG_DATA: u8 = 2;
/// With FLAG_DATA: the sender has nothing more ready, so an ack is wanted now.
const FLAG_ACK_NOW: u8 = 4;

/// What a message carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Content {
    /// Chat text, UTF-8.
    Text,
    /// Read receipts: the ids (u64 each) of messages the reader has seen.
    Read,
    /// Chat text that quotes an earlier message ([`Body::Reply`]).
    Reply,
    /// The author takes back one of their messages ([`Body::Recall`]).
    Recall,
    /// A file offered ([`Body::FileOffer`]).
    FileOffer,
    /// The receiver takes an offered file ([`Body::FileAccept`]).
    FileAccept,
    /// The receiver does not want it ([`Body::FileDecline`]).
    FileDecline,
    /// Either side stops a transfer ([`Body::FileCancel`]).
    FileCancel,
    /// A group frame (`proto::group`): handed to the groups, not a chat message.
    Group,
}

impl Content {
    /// Every kind, in the order of their bytes.
    pub const ALL: [Content; 9] = [
        Content::Text,
        Content::Read,
        Content::Reply,
        Content::Recall,
        Content::FileOffer,
        Content::FileAccept,
        Content::FileDecline,
        Content::FileCancel,
        Content::Group,
    ];

    /// The kind's byte on the wire (and in the store's outbox).
    pub fn to_byte(self) -> u8 {
        match self {
            Content::Text => 0,
            Content::Read => 1,
            Content::Reply => 2,
            Content::Recall => 3,
            Content::FileOffer => 4,
            Content::FileAccept => 5,
            Content::FileDecline => 6,
            Content::FileCancel => 7,
            Content::Group => 8,
        }
    }

    pub fn from_byte(b: u8) -> Option<Self> {
        Self::ALL.get(usize::from(b)).copied()
    }

    /// A file offer, accept, decline or cancel.
    pub fn is_file(self) -> bool {
        matches!(
            self,
            Content::FileOffer | Content::FileAccept | Content::FileDecline | Content::FileCancel
        )
    }

    /// Something the user sent: tracked to delivered or failed, kept for a peer that is
    /// away, stored by the receiver. (Read receipts are best effort.)
    pub fn is_chat(self) -> bool {
        !matches!(self, Content::Read | Content::Group)
    }
}

/// The message a reply quotes: its id, its author, and the start of its text, so the
/// receiver can show the quote even without the original.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quote {
    pub id: MsgId,
    pub author: NodeId,
    /// At most [`MAX_EXCERPT_BYTES`]; one line.
    pub excerpt: String,
}

impl Quote {
    /// A quote of `text`: its first line, cut on a character boundary to what a reply
    /// carries.
    pub fn of(id: MsgId, author: NodeId, text: &str) -> Quote {
        Quote {
            id,
            author,
            excerpt: excerpt(text).to_owned(),
        }
    }
}

/// What a quote of `text` carries: its first line, cut on a character boundary.
pub fn excerpt(text: &str) -> &str {
    let line = text.trim().lines().next().unwrap_or("");
    clip_utf8(line, MAX_EXCERPT_BYTES)
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
pub fn clip_utf8(s: &str, max: usize) -> &str {
    let mut cut = s.len().min(max);
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    &s[..cut]
}

/// What a chat message's bytes say, by its [`Content`] kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    Text(String),
    Reply {
        quote: Quote,
        text: String,
    },
    /// Take back my message with this id.
    Recall(MsgId),
    /// A file I offer.
    FileOffer(FileOffer),
    /// I take the file offered as `id`: the data may flow.
    FileAccept {
        id: TransferId,
    },
    /// I do not want the file offered as this id.
    FileDecline(TransferId),
    /// I stop transfer `id`, for `reason`.
    FileCancel {
        id: TransferId,
        reason: CancelReason,
    },
}

impl From<FileSignal> for Body {
    fn from(signal: FileSignal) -> Body {
        match signal {
            FileSignal::Offer(offer) => Body::FileOffer(offer),
            FileSignal::Accept(id) => Body::FileAccept { id },
            FileSignal::Decline(id) => Body::FileDecline(id),
            FileSignal::Cancel { id, reason } => Body::FileCancel { id, reason },
        }
    }
}

impl TryFrom<Body> for FileSignal {
    /// Not a file message: the body back.
    type Error = Body;

    fn try_from(body: Body) -> Result<FileSignal, Body> {
        match body {
            Body::FileOffer(offer) => Ok(FileSignal::Offer(offer)),
            Body::FileAccept { id } => Ok(FileSignal::Accept(id)),
            Body::FileDecline(id) => Ok(FileSignal::Decline(id)),
            Body::FileCancel { id, reason } => Ok(FileSignal::Cancel { id, reason }),
            other => Err(other),
        }
    }
}

/// What makes an offer malformed, either way.
fn check_offer(offer: &FileOffer) -> Result<(), &'static str> {
    if offer.id.is_zero() {
        return Err("transfer id 0");
    }
    if offer.name.is_empty() || offer.name.len() > files::MAX_NAME_BYTES {
        return Err("file name length");
    }
    if offer.size > files::MAX_FILE_BYTES {
        return Err("file too large");
    }
    if offer.port == 0 {
        return Err("port 0");
    }
    Ok(())
}

impl Body {
    pub fn content(&self) -> Content {
        match self {
            Body::Text(_) => Content::Text,
            Body::Reply { .. } => Content::Reply,
            Body::Recall(_) => Content::Recall,
            Body::FileOffer(_) => Content::FileOffer,
            Body::FileAccept { .. } => Content::FileAccept,
            Body::FileDecline(_) => Content::FileDecline,
            Body::FileCancel { .. } => Content::FileCancel,
        }
    }

    /// The message's bytes; refused if they would not fit one message.
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        let bytes = match self {
            Body::Text(text) => text.as_bytes().to_vec(),
            Body::Reply { quote, text } => {
                if quote.excerpt.len() > MAX_EXCERPT_BYTES {
                    return Err(EncodeError::Invalid("quoted excerpt too long"));
                }
                if quote.id.0 == 0 || text.is_empty() {
                    return Err(EncodeError::Invalid("reply"));
                }
                let mut out = Vec::with_capacity(REPLY_OVERHEAD + quote.excerpt.len() + text.len());
                out.extend_from_slice(&quote.id.0.to_be_bytes());
                out.extend_from_slice(&quote.author.0);
                out.push(quote.excerpt.len() as u8);
                out.extend_from_slice(quote.excerpt.as_bytes());
                out.extend_from_slice(text.as_bytes());
                out
            }
            Body::Recall(target) => {
                if target.0 == 0 {
                    return Err(EncodeError::Invalid("recall of id 0"));
                }
                target.0.to_be_bytes().to_vec()
            }
            Body::FileOffer(offer) => {
                check_offer(offer).map_err(EncodeError::Invalid)?;
                let mut out = Vec::with_capacity(OFFER_OVERHEAD + offer.name.len());
                out.extend_from_slice(&offer.id.0);
                out.extend_from_slice(&offer.size.to_be_bytes());
                out.extend_from_slice(&offer.hash);
                out.extend_from_slice(&offer.port.to_be_bytes());
                out.push(offer.name.len() as u8);
                out.extend_from_slice(offer.name.as_bytes());
                out
            }
            Body::FileAccept { id } | Body::FileDecline(id) | Body::FileCancel { id, .. } => {
                if id.is_zero() {
                    return Err(EncodeError::Invalid("transfer id 0"));
                }
                let mut out = id.0.to_vec();
                if let Body::FileCancel { reason, .. } = self {
                    out.push(reason.to_byte());
                }
                out
            }
        };
        if bytes.len() > MAX_MESSAGE_BYTES {
            return Err(EncodeError::TooLong {
                len: bytes.len(),
                max: MAX_MESSAGE_BYTES,
            });
        }
        Ok(bytes)
    }

    /// Reads a chat message's bytes. Strict: every length is checked, text must be UTF-8,
    /// nothing may trail. Read receipts are not a body.
    pub fn decode(content: Content, bytes: &[u8]) -> Result<Body, DecodeError> {
        let utf8 = |b: &[u8]| {
            std::str::from_utf8(b)
                .map(str::to_owned)
                .map_err(|_| DecodeError::Utf8)
        };
        match content {
            Content::Text => Ok(Body::Text(utf8(bytes)?)),
            Content::Read => Err(DecodeError::Invalid("read receipts are not a message")),
            Content::Group => Err(DecodeError::Invalid("group frames are not a message")),
            Content::Reply => {
                let mut r = Reader { data: bytes };
                let id = MsgId(r.u64()?);
                let author = r.node()?;
                let len = usize::from(r.u8()?);
                if id.0 == 0 {
                    return Err(DecodeError::Invalid("reply to id 0"));
                }
                if len > MAX_EXCERPT_BYTES {
                    return Err(DecodeError::Invalid("quoted excerpt too long"));
                }
                let excerpt = utf8(r.take(len)?)?;
                let text = utf8(r.data)?;
                if text.is_empty() {
                    return Err(DecodeError::Invalid("empty reply"));
                }
                Ok(Body::Reply {
                    quote: Quote {
                        id,
                        author,
                        excerpt,
                    },
                    text,
                })
            }
            Content::Recall => {
                let mut r = Reader { data: bytes };
                let target = MsgId(r.u64()?);
                if !r.data.is_empty() {
                    return Err(DecodeError::Trailing(r.data.len()));
                }
                if target.0 == 0 {
                    return Err(DecodeError::Invalid("recall of id 0"));
                }
                Ok(Body::Recall(target))
            }
            Content::FileOffer => {
                let mut r = Reader { data: bytes };
                let id = TransferId(r.array()?);
                let size = r.u64()?;
                let hash = r.array()?;
                let port = r.u16()?;
                let len = usize::from(r.u8()?);
                let name = utf8(r.take(len)?)?;
                if !r.data.is_empty() {
                    return Err(DecodeError::Trailing(r.data.len()));
                }
                let offer = FileOffer {
                    id,
                    name,
                    size,
                    hash,
                    port,
                };
                check_offer(&offer).map_err(DecodeError::Invalid)?;
                Ok(Body::FileOffer(offer))
            }
            Content::FileAccept | Content::FileDecline | Content::FileCancel => {
                let mut r = Reader { data: bytes };
                let id = TransferId(r.array()?);
                let reason = match content {
                    Content::FileCancel => Some(
                        CancelReason::from_byte(r.u8()?)
                            .ok_or(DecodeError::Invalid("cancel reason"))?,
                    ),
                    _ => None,
                };
                if !r.data.is_empty() {
                    return Err(DecodeError::Trailing(r.data.len()));
                }
                if id.is_zero() {
                    return Err(DecodeError::Invalid("transfer id 0"));
                }
                Ok(match (content, reason) {
                    (Content::FileAccept, _) => Body::FileAccept { id },
                    (_, Some(reason)) => Body::FileCancel { id, reason },
                    _ => Body::FileDecline(id),
                })
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Beacon {
    pub node: NodeId,
    /// The sender's unicast port (beacons may come from the shared discovery port).
    pub port: u16,
    /// Ask the receiver to answer with its own beacon, unicast.
    pub want_reply: bool,
    /// Sent from the sender's unicast socket: its source address is where it listens
    /// (through NAT or a relay too), whatever `port` says.
    pub unicast: bool,
    /// What the sender calls itself: a hint for diagnostics only. A peer's name comes from
    /// its handshake.
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ack {
    /// The epoch of the stream being acknowledged (the receiver of this ack's own).
    pub epoch: u64,
    /// Time between receiving the highest packet and sending this ack.
    pub delay_ms: u16,
    /// Inclusive packet-number ranges, highest first, not touching each other.
    pub ranges: Vec<(u64, u64)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Data {
    pub pn: u64,
    pub msn: u64,
    pub base: u64,
    pub id: MsgId,
    pub content: Content,
    /// The sender's wall clock when the message was typed, Unix ms. Informational.
    pub sent_at_ms: i64,
    pub frag_index: u16,
    pub frag_count: u16,
    /// Nothing else follows right behind: acknowledge at once rather than batching.
    pub ack_now: bool,
    pub payload: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    pub from: NodeId,
    pub epoch: u64,
    pub ack: Option<Ack>,
    pub data: Option<Data>,
}

/// The Noise handshake pattern an initiation uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pattern {
    /// First contact: both static keys travel, encrypted, in messages 2 and 3.
    Xx,
    /// The initiator already knows the responder's key: two messages.
    Ik,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    Beacon(Beacon),
    Goodbye {
        node: NodeId,
    },
    Packet(Packet),
    HandshakeInit {
        pattern: Pattern,
        sender: u32,
        message: Vec<u8>,
        /// The responder's cookie for the initiator's address, when it asked for one.
        cookie: Option<[u8; COOKIE_BYTES]>,
    },
    HandshakeReply {
        sender: u32,
        receiver: u32,
        message: Vec<u8>,
    },
    HandshakeFinal {
        receiver: u32,
        message: Vec<u8>,
    },
    Sealed {
        receiver: u32,
        counter: u64,
        ciphertext: Vec<u8>,
    },
    /// A responder under load asks initiation `receiver` to come again with this cookie.
    Cookie {
        receiver: u32,
        cookie: [u8; COOKIE_BYTES],
    },
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("not a lanchat datagram")]
    NotNative,
    #[error("unsupported protocol version {0}")]
    Version(u8),
    #[error("unknown frame kind {0}")]
    Kind(u8),
    #[error("datagram truncated")]
    Truncated,
    #[error("datagram has {0} bytes after the frame")]
    Trailing(usize),
    #[error("text is not valid UTF-8")]
    Utf8,
    #[error("invalid field: {0}")]
    Invalid(&'static str),
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum EncodeError {
    #[error("message is {len} bytes; one message holds at most {max}")]
    TooLong { len: usize, max: usize },
    #[error("name is {len} bytes; at most {max}")]
    NameTooLong { len: usize, max: usize },
    #[error("invalid packet: {0}")]
    Invalid(&'static str),
}

/// Is this (native) datagram a sealed frame? (It may still fail to decode.)
pub fn is_sealed(data: &[u8]) -> bool {
    data.get(MAGIC.len() + 1) == Some(&KIND_SEALED)
}

/// Does this datagram claim to be ours? (It may still fail to decode.)
pub fn is_native(data: &[u8]) -> bool {
    data.first() == Some(&MAGIC[0])
}

fn check_ranges(ranges: &[(u64, u64)]) -> bool {
    let ordered = ranges.iter().all(|(s, e)| s <= e);
    // Highest first with a gap of at least one between neighbours.
    let apart = ranges
        .windows(2)
        .all(|w| w[1].1.checked_add(1).is_some_and(|next| next < w[0].0));
    ordered && apart && !ranges.is_empty() && ranges.len() <= MAX_ACK_RANGES
}

fn check_data(d: &Data) -> bool {
    let count = usize::from(d.frag_count);
    d.id.0 != 0
        && (1..=MAX_FRAGMENTS).contains(&count)
        && d.frag_index < d.frag_count
        && d.payload.len() <= FRAGMENT_BYTES
        && d.base <= d.msn
}

impl Frame {
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        let mut out = Vec::with_capacity(MAX_DATAGRAM);
        out.extend_from_slice(&MAGIC);
        out.push(VERSION);
        match self {
            Frame::Beacon(b) => {
                if b.name.len() > MAX_NAME_BYTES {
                    return Err(EncodeError::NameTooLong {
                        len: b.name.len(),
                        max: MAX_NAME_BYTES,
                    });
                }
                out.push(KIND_BEACON);
                out.extend_from_slice(&b.node.0);
                out.extend_from_slice(&b.port.to_be_bytes());
                let flags = if b.want_reply { FLAG_WANT_REPLY } else { 0 }
                    | if b.unicast { FLAG_UNICAST } else { 0 };
                out.push(flags);
                out.push(b.name.len() as u8);
                out.extend_from_slice(b.name.as_bytes());
                out.resize(INIT_DATAGRAM, 0);
            }
            Frame::Goodbye { node } => {
                out.push(KIND_GOODBYE);
                out.extend_from_slice(&node.0);
            }
            Frame::Packet(p) => {
                out.push(KIND_PACKET);
                out.extend_from_slice(&p.from.0);
                out.extend_from_slice(&p.epoch.to_be_bytes());
                let flags = if p.ack.is_some() { FLAG_ACK } else { 0 }
                    | match &p.data {
                        Some(d) if d.ack_now => FLAG_DATA | FLAG_ACK_NOW,
                        Some(_) => FLAG_DATA,
                        None => 0,
                    };
                if flags == 0 {
                    return Err(EncodeError::Invalid("empty packet"));
                }
                out.push(flags);
                if let Some(a) = &p.ack {
                    if !check_ranges(&a.ranges) {
                        return Err(EncodeError::Invalid("ack ranges"));
                    }
                    out.extend_from_slice(&a.epoch.to_be_bytes());
                    out.extend_from_slice(&a.delay_ms.to_be_bytes());
                    out.push(a.ranges.len() as u8);
                    for (s, e) in &a.ranges {
                        out.extend_from_slice(&s.to_be_bytes());
                        out.extend_from_slice(&e.to_be_bytes());
                    }
                }
                if let Some(d) = &p.data {
                    if !check_data(d) {
                        return Err(EncodeError::Invalid("data section"));
                    }
                    out.extend_from_slice(&d.pn.to_be_bytes());
                    out.extend_from_slice(&d.msn.to_be_bytes());
                    out.extend_from_slice(&d.base.to_be_bytes());
                    out.extend_from_slice(&d.id.0.to_be_bytes());
                    out.push(d.content.to_byte());
                    out.extend_from_slice(&d.sent_at_ms.to_be_bytes());
                    out.extend_from_slice(&d.frag_index.to_be_bytes());
                    out.extend_from_slice(&d.frag_count.to_be_bytes());
                    out.extend_from_slice(&(d.payload.len() as u16).to_be_bytes());
                    out.extend_from_slice(&d.payload);
                }
                if out.len() > MAX_PLAINTEXT {
                    return Err(EncodeError::Invalid("packet too large to seal"));
                }
            }
            Frame::HandshakeInit {
                pattern,
                sender,
                message,
                cookie,
            } => {
                out.push(KIND_HS_INIT);
                let pattern = match pattern {
                    Pattern::Xx => 1,
                    Pattern::Ik => 2,
                };
                out.push(pattern | if cookie.is_some() { PATTERN_COOKIE } else { 0 });
                out.extend_from_slice(&sender.to_be_bytes());
                if message.len() > MAX_INIT_MESSAGE {
                    return Err(EncodeError::Invalid("handshake message length"));
                }
                put_message(&mut out, message)?;
                out.resize(INIT_DATAGRAM - COOKIE_BYTES, 0);
                out.extend_from_slice(&cookie.unwrap_or([0; COOKIE_BYTES]));
            }
            Frame::HandshakeReply {
                sender,
                receiver,
                message,
            } => {
                out.push(KIND_HS_REPLY);
                out.extend_from_slice(&sender.to_be_bytes());
                out.extend_from_slice(&receiver.to_be_bytes());
                put_message(&mut out, message)?;
            }
            Frame::HandshakeFinal { receiver, message } => {
                out.push(KIND_HS_FINAL);
                out.extend_from_slice(&receiver.to_be_bytes());
                put_message(&mut out, message)?;
            }
            Frame::Sealed {
                receiver,
                counter,
                ciphertext,
            } => {
                out.push(KIND_SEALED);
                out.extend_from_slice(&receiver.to_be_bytes());
                out.extend_from_slice(&counter.to_be_bytes());
                out.extend_from_slice(ciphertext);
                if out.len() > MAX_DATAGRAM {
                    return Err(EncodeError::Invalid("sealed frame larger than a datagram"));
                }
            }
            Frame::Cookie { receiver, cookie } => {
                out.push(KIND_COOKIE);
                out.extend_from_slice(&receiver.to_be_bytes());
                out.extend_from_slice(cookie);
            }
        }
        Ok(out)
    }

    pub fn decode(data: &[u8]) -> Result<Frame, DecodeError> {
        let head = data.get(..MAGIC.len()).unwrap_or(data);
        if head.is_empty() || !MAGIC.starts_with(head) {
            return Err(DecodeError::NotNative);
        }
        let mut r = Reader { data };
        r.take(MAGIC.len())?;
        let version = r.u8()?;
        if version != VERSION {
            return Err(DecodeError::Version(version));
        }
        let frame = match r.u8()? {
            KIND_BEACON => {
                if data.len() != INIT_DATAGRAM {
                    return Err(DecodeError::Invalid("beacon not padded"));
                }
                let node = r.node()?;
                let port = r.u16()?;
                if port == 0 {
                    return Err(DecodeError::Invalid("port 0"));
                }
                let flags = r.u8()?;
                if flags & !(FLAG_WANT_REPLY | FLAG_UNICAST) != 0 {
                    return Err(DecodeError::Invalid("beacon flags"));
                }
                let len = usize::from(r.u8()?);
                if len > MAX_NAME_BYTES {
                    return Err(DecodeError::Invalid("name too long"));
                }
                let name = std::str::from_utf8(r.take(len)?)
                    .map_err(|_| DecodeError::Utf8)?
                    .to_owned();
                if r.data.iter().any(|b| *b != 0) {
                    return Err(DecodeError::Invalid("beacon padding"));
                }
                r.data = &[];
                Frame::Beacon(Beacon {
                    node,
                    port,
                    want_reply: flags & FLAG_WANT_REPLY != 0,
                    unicast: flags & FLAG_UNICAST != 0,
                    name,
                })
            }
            KIND_GOODBYE => Frame::Goodbye { node: r.node()? },
            KIND_PACKET => {
                let from = r.node()?;
                let epoch = r.u64()?;
                let flags = r.u8()?;
                let known = FLAG_ACK | FLAG_DATA | FLAG_ACK_NOW;
                let ack_now_alone = flags & FLAG_ACK_NOW != 0 && flags & FLAG_DATA == 0;
                if flags & !known != 0 || flags & (FLAG_ACK | FLAG_DATA) == 0 || ack_now_alone {
                    return Err(DecodeError::Invalid("packet flags"));
                }
                let ack = if flags & FLAG_ACK != 0 {
                    let epoch = r.u64()?;
                    let delay_ms = r.u16()?;
                    let count = usize::from(r.u8()?);
                    if count == 0 || count > MAX_ACK_RANGES {
                        return Err(DecodeError::Invalid("ack range count"));
                    }
                    let mut ranges = Vec::with_capacity(count);
                    for _ in 0..count {
                        ranges.push((r.u64()?, r.u64()?));
                    }
                    if !check_ranges(&ranges) {
                        return Err(DecodeError::Invalid("ack ranges"));
                    }
                    Some(Ack {
                        epoch,
                        delay_ms,
                        ranges,
                    })
                } else {
                    None
                };
                let data = if flags & FLAG_DATA != 0 {
                    let pn = r.u64()?;
                    let msn = r.u64()?;
                    let base = r.u64()?;
                    let id = MsgId(r.u64()?);
                    let content =
                        Content::from_byte(r.u8()?).ok_or(DecodeError::Invalid("content"))?;
                    let sent_at_ms = r.u64()? as i64;
                    let frag_index = r.u16()?;
                    let frag_count = r.u16()?;
                    let len = usize::from(r.u16()?);
                    if len > FRAGMENT_BYTES {
                        return Err(DecodeError::Invalid("fragment too long"));
                    }
                    let d = Data {
                        pn,
                        msn,
                        base,
                        id,
                        content,
                        sent_at_ms,
                        frag_index,
                        frag_count,
                        ack_now: flags & FLAG_ACK_NOW != 0,
                        payload: r.take(len)?.to_vec(),
                    };
                    if !check_data(&d) {
                        return Err(DecodeError::Invalid("data section"));
                    }
                    Some(d)
                } else {
                    None
                };
                Frame::Packet(Packet {
                    from,
                    epoch,
                    ack,
                    data,
                })
            }
            KIND_HS_INIT => {
                if data.len() != INIT_DATAGRAM {
                    return Err(DecodeError::Invalid("handshake initiation not padded"));
                }
                let byte = r.u8()?;
                let pattern = match byte & !PATTERN_COOKIE {
                    1 => Pattern::Xx,
                    2 => Pattern::Ik,
                    _ => return Err(DecodeError::Invalid("handshake pattern")),
                };
                let sender = r.u32()?;
                let message = r.message()?;
                if message.len() > MAX_INIT_MESSAGE {
                    return Err(DecodeError::Invalid("handshake message length"));
                }
                // The rest is padding, and padding is zeros, but for the cookie at its end.
                let at = r.data.len().checked_sub(COOKIE_BYTES);
                let (padding, tail) = r.data.split_at(at.ok_or(DecodeError::Truncated)?);
                let cookie = match <[u8; COOKIE_BYTES]>::try_from(tail) {
                    Ok(c) if byte & PATTERN_COOKIE != 0 => Some(c),
                    Ok(c) if c == [0; COOKIE_BYTES] => None,
                    _ => return Err(DecodeError::Invalid("handshake padding")),
                };
                if padding.iter().any(|b| *b != 0) {
                    return Err(DecodeError::Invalid("handshake padding"));
                }
                r.data = &[];
                Frame::HandshakeInit {
                    pattern,
                    sender,
                    message,
                    cookie,
                }
            }
            KIND_HS_REPLY => Frame::HandshakeReply {
                sender: r.u32()?,
                receiver: r.u32()?,
                message: r.message()?,
            },
            KIND_HS_FINAL => Frame::HandshakeFinal {
                receiver: r.u32()?,
                message: r.message()?,
            },
            KIND_SEALED => {
                let receiver = r.u32()?;
                let counter = r.u64()?;
                let ciphertext = std::mem::take(&mut r.data).to_vec();
                if ciphertext.len() < 16 {
                    return Err(DecodeError::Truncated);
                }
                if data.len() > MAX_DATAGRAM {
                    return Err(DecodeError::Invalid("sealed frame larger than a datagram"));
                }
                Frame::Sealed {
                    receiver,
                    counter,
                    ciphertext,
                }
            }
            KIND_COOKIE => Frame::Cookie {
                receiver: r.u32()?,
                cookie: r.array()?,
            },
            other => return Err(DecodeError::Kind(other)),
        };
        if !r.data.is_empty() {
            return Err(DecodeError::Trailing(r.data.len()));
        }
        Ok(frame)
    }
}

fn put_message(out: &mut Vec<u8>, message: &[u8]) -> Result<(), EncodeError> {
    if message.is_empty() || message.len() > MAX_HANDSHAKE_MESSAGE {
        return Err(EncodeError::Invalid("handshake message length"));
    }
    out.extend_from_slice(&(message.len() as u16).to_be_bytes());
    out.extend_from_slice(message);
    Ok(())
}

/// A cursor over peer bytes: every read checks the length first.
struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.data.len() < n {
            return Err(DecodeError::Truncated);
        }
        let (head, tail) = self.data.split_at(n);
        self.data = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.array::<1>()?[0])
    }

    fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    /// A length-prefixed handshake message.
    fn message(&mut self) -> Result<Vec<u8>, DecodeError> {
        let len = usize::from(self.u16()?);
        if len == 0 || len > MAX_HANDSHAKE_MESSAGE {
            return Err(DecodeError::Invalid("handshake message length"));
        }
        Ok(self.take(len)?.to_vec())
    }

    fn node(&mut self) -> Result<NodeId, DecodeError> {
        Ok(NodeId(self.array()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn node(b: u8) -> NodeId {
        NodeId([b; 32])
    }

    fn data(payload: Vec<u8>) -> Data {
        Data {
            pn: 7,
            msn: 3,
            base: 2,
            id: MsgId(42),
            content: Content::Text,
            sent_at_ms: 1_700_000_000_000,
            frag_index: 0,
            frag_count: 1,
            ack_now: true,
            payload,
        }
    }

    fn samples() -> Vec<Frame> {
        vec![
            Frame::Beacon(Beacon {
                node: node(1),
                port: 47475,
                want_reply: true,
                unicast: false,
                name: "李雷".into(),
            }),
            Frame::Beacon(Beacon {
                node: node(1),
                port: 9,
                want_reply: false,
                unicast: true,
                name: String::new(),
            }),
            Frame::Goodbye { node: node(2) },
            Frame::Packet(Packet {
                from: node(3),
                epoch: 9,
                ack: None,
                data: Some(data("hello 你好 👋".as_bytes().to_vec())),
            }),
            Frame::Packet(Packet {
                from: node(4),
                epoch: 10,
                ack: Some(Ack {
                    epoch: 11,
                    delay_ms: 25,
                    ranges: vec![(10, 12), (1, 5)],
                }),
                data: None,
            }),
            Frame::Packet(Packet {
                from: node(5),
                epoch: 12,
                ack: Some(Ack {
                    epoch: 13,
                    delay_ms: 0,
                    ranges: vec![(0, 0)],
                }),
                data: Some(data(vec![b'x'; FRAGMENT_BYTES])),
            }),
            Frame::HandshakeInit {
                pattern: Pattern::Ik,
                sender: 7,
                message: vec![3; 150],
                cookie: None,
            },
            Frame::HandshakeInit {
                pattern: Pattern::Xx,
                sender: 7,
                message: vec![3; MAX_INIT_MESSAGE],
                cookie: Some([0; COOKIE_BYTES]),
            },
            Frame::Cookie {
                receiver: 3,
                cookie: [9; COOKIE_BYTES],
            },
            Frame::HandshakeReply {
                sender: 8,
                receiver: 7,
                message: vec![4; 120],
            },
            Frame::HandshakeFinal {
                receiver: 8,
                message: vec![5; 100],
            },
            Frame::Sealed {
                receiver: 9,
                counter: u64::MAX - 1,
                ciphertext: vec![6; 40],
            },
        ]
    }

    #[test]
    fn every_frame_round_trips() {
        for frame in samples() {
            let bytes = frame.encode().expect("encodes");
            assert!(bytes.len() <= MAX_DATAGRAM);
            assert_eq!(Frame::decode(&bytes), Ok(frame));
        }
    }

    #[test]
    fn a_full_fragment_with_a_two_range_ack_fits_a_sealed_datagram() {
        let size = PACKET_OVERHEAD + ack_size(2) + DATA_OVERHEAD + FRAGMENT_BYTES;
        assert!(size <= MAX_PLAINTEXT, "{size}");
        assert!(size + SEAL_OVERHEAD <= MAX_DATAGRAM);
        let frame = Frame::Packet(Packet {
            from: node(1),
            epoch: 1,
            ack: Some(Ack {
                epoch: 2,
                delay_ms: 1,
                ranges: vec![(100, 110), (1, 2)],
            }),
            data: Some(data(vec![0; FRAGMENT_BYTES])),
        });
        assert_eq!(frame.encode().expect("fits").len(), size);
        let sealed = Frame::Sealed {
            receiver: 1,
            counter: 1,
            ciphertext: vec![0; size + 16],
        };
        assert_eq!(sealed.encode().expect("fits").len(), size + SEAL_OVERHEAD);
    }

    #[test]
    fn every_truncation_is_rejected() {
        for frame in samples() {
            let bytes = frame.encode().expect("encodes");
            for cut in 0..bytes.len() {
                let decoded = Frame::decode(&bytes[..cut]);
                if let Frame::Sealed {
                    receiver,
                    counter,
                    ciphertext,
                } = &frame
                    && cut >= bytes.len() - ciphertext.len() + 16
                {
                    // No length field: a cut sealed frame is the same frame with a shorter
                    // ciphertext, which then fails to authenticate.
                    let kept = ciphertext.len() - (bytes.len() - cut);
                    assert_eq!(
                        decoded,
                        Ok(Frame::Sealed {
                            receiver: *receiver,
                            counter: *counter,
                            ciphertext: ciphertext[..kept].to_vec(),
                        }),
                        "cut {cut}"
                    );
                    continue;
                }
                let err = decoded.expect_err("truncated must fail");
                let unpadded = DecodeError::Invalid("handshake initiation not padded");
                let beacon_unpadded = DecodeError::Invalid("beacon not padded");
                assert!(
                    matches!(err, DecodeError::Truncated | DecodeError::NotNative)
                        || (matches!(frame, Frame::HandshakeInit { .. }) && err == unpadded)
                        || (matches!(frame, Frame::Beacon(_)) && err == beacon_unpadded),
                    "cut {cut} of {frame:?}: {err:?}"
                );
            }
        }
    }

    #[test]
    fn trailing_bytes_and_bad_fields_are_rejected() {
        let goodbye = Frame::Goodbye { node: node(2) };
        let mut bytes = goodbye.encode().expect("encodes");
        bytes.push(0);
        assert_eq!(Frame::decode(&bytes), Err(DecodeError::Trailing(1)));
        // A beacon or initiation longer than its padded size, or with junk in its padding.
        for frame in [&samples()[0], &samples()[6]] {
            let mut bytes = frame.encode().expect("encodes");
            bytes.push(0);
            assert!(Frame::decode(&bytes).is_err(), "{frame:?}");
            bytes.pop();
            bytes[INIT_DATAGRAM - COOKIE_BYTES - 1] = 1;
            assert!(Frame::decode(&bytes).is_err(), "{frame:?}");
        }
        // A cookie where the pattern byte says there is none.
        let mut bytes = samples()[6].encode().expect("encodes");
        bytes[INIT_DATAGRAM - 1] = 1;
        assert!(Frame::decode(&bytes).is_err());

        let mut bytes = samples()[0].encode().expect("encodes");
        bytes[3] = 9;
        assert_eq!(Frame::decode(&bytes), Err(DecodeError::Version(9)));
        bytes[3] = VERSION;
        bytes[4] = 200;
        assert_eq!(Frame::decode(&bytes), Err(DecodeError::Kind(200)));

        // Unknown beacon flags (found by the fuzz target: they decoded, and re-encoded
        // differently).
        let mut bytes = samples()[0].encode().expect("encodes");
        bytes[5 + 32 + 2] |= 0x40;
        assert_eq!(
            Frame::decode(&bytes),
            Err(DecodeError::Invalid("beacon flags"))
        );

        assert_eq!(Frame::decode(b"hello"), Err(DecodeError::NotNative));
        assert_eq!(Frame::decode(&[0xFF, b'X']), Err(DecodeError::NotNative));
        assert_eq!(Frame::decode(&[0xFF, b'L']), Err(DecodeError::Truncated));
    }

    #[test]
    fn inconsistent_sections_are_refused_both_ways() {
        let bad_data = [
            Data {
                frag_index: 1,
                frag_count: 1,
                ..data(vec![1])
            },
            Data {
                frag_count: 0,
                ..data(vec![1])
            },
            Data {
                frag_count: MAX_FRAGMENTS as u16 + 1,
                ..data(vec![1])
            },
            Data {
                id: MsgId(0),
                ..data(vec![1])
            },
            Data {
                base: 4,
                msn: 3,
                ..data(vec![1])
            },
        ];
        for d in bad_data {
            let p = Frame::Packet(Packet {
                from: node(1),
                epoch: 1,
                ack: None,
                data: Some(d.clone()),
            });
            assert!(p.encode().is_err(), "{d:?}");
            // Hand-build the same bytes with a valid packet and patch the fields in.
            let good = Frame::Packet(Packet {
                from: node(1),
                epoch: 1,
                ack: None,
                data: Some(data(vec![1])),
            })
            .encode()
            .expect("encodes");
            let at = PACKET_OVERHEAD;
            let mut bytes = good.clone();
            bytes[at + 8..at + 16].copy_from_slice(&d.msn.to_be_bytes());
            bytes[at + 16..at + 24].copy_from_slice(&d.base.to_be_bytes());
            bytes[at + 24..at + 32].copy_from_slice(&d.id.0.to_be_bytes());
            bytes[at + 41..at + 43].copy_from_slice(&d.frag_index.to_be_bytes());
            bytes[at + 43..at + 45].copy_from_slice(&d.frag_count.to_be_bytes());
            assert!(Frame::decode(&bytes).is_err(), "{d:?}");
        }
        for ranges in [
            vec![],
            vec![(5, 4)],
            vec![(1, 2), (5, 6)],
            vec![(5, 6), (3, 4)],
        ] {
            let p = Frame::Packet(Packet {
                from: node(1),
                epoch: 1,
                ack: Some(Ack {
                    epoch: 1,
                    delay_ms: 0,
                    ranges: ranges.clone(),
                }),
                data: None,
            });
            assert!(p.encode().is_err(), "{ranges:?}");
        }
        let empty = Frame::Packet(Packet {
            from: node(1),
            epoch: 1,
            ack: None,
            data: None,
        });
        assert!(empty.encode().is_err());
    }

    #[test]
    fn magic_cannot_start_text() {
        let magic: &[u8] = &std::hint::black_box(MAGIC);
        assert!(std::str::from_utf8(magic).is_err());
        let (_, _, had_errors) = encoding_rs::GBK.decode(&MAGIC);
        assert!(had_errors, "0xFF must not be a GBK lead byte");
    }

    fn arb_data() -> impl Strategy<Value = Data> {
        (
            any::<u64>(),
            0u64..1000,
            0u64..1000,
            1u64..,
            any::<bool>(),
            any::<i64>(),
            1u16..=MAX_FRAGMENTS as u16,
            proptest::collection::vec(any::<u8>(), 0..=FRAGMENT_BYTES),
        )
            .prop_map(|(pn, a, b, id, _, at, count, payload)| Data {
                ack_now: pn % 2 == 0,
                pn,
                msn: a.max(b),
                base: a.min(b),
                id: MsgId(id),
                content: Content::from_byte((pn % 4) as u8).expect("0..4 are kinds"),
                sent_at_ms: at,
                frag_index: (pn % u64::from(count)) as u16,
                frag_count: count,
                payload,
            })
    }

    fn arb_ack() -> impl Strategy<Value = Ack> {
        (
            any::<u64>(),
            any::<u16>(),
            proptest::collection::btree_set(0u64..10_000, 1..=MAX_ACK_RANGES),
        )
            .prop_map(|(epoch, delay_ms, points)| {
                // Points spread at least 2 apart become single-packet ranges.
                let mut ranges: Vec<(u64, u64)> = Vec::new();
                for p in points.into_iter().rev() {
                    let p = p * 3;
                    ranges.push((p, p + 1));
                }
                Ack {
                    epoch,
                    delay_ms,
                    ranges,
                }
            })
    }

    fn quote() -> Quote {
        Quote {
            id: MsgId(77),
            author: node(6),
            excerpt: "原文 the original".into(),
        }
    }

    fn bodies() -> Vec<Body> {
        vec![
            Body::Text("你好 👋".into()),
            Body::Text(String::new()),
            Body::Reply {
                quote: quote(),
                text: "reply 回复".into(),
            },
            Body::Reply {
                quote: Quote {
                    excerpt: String::new(),
                    ..quote()
                },
                text: "x".into(),
            },
            Body::Recall(MsgId(u64::MAX)),
            Body::FileOffer(offer()),
            Body::FileOffer(FileOffer {
                name: "x".repeat(files::MAX_NAME_BYTES),
                size: files::MAX_FILE_BYTES,
                port: u16::MAX,
                ..offer()
            }),
            Body::FileOffer(FileOffer {
                name: "\u{1b}]0;pwn\u{7}../../.bashrc".into(),
                size: 0,
                ..offer()
            }),
            Body::FileAccept {
                id: TransferId([1; 16]),
            },
            Body::FileDecline(TransferId([2; 16])),
            Body::FileCancel {
                id: TransferId([3; 16]),
                reason: CancelReason::Corrupt,
            },
        ]
    }

    fn offer() -> FileOffer {
        FileOffer {
            id: TransferId([0xA5; 16]),
            name: "照片 2024.jpg".into(),
            size: 123_456,
            hash: [7; 32],
            port: 40_000,
        }
    }

    #[test]
    fn every_body_round_trips() {
        for body in bodies() {
            let bytes = body.encode().expect("encodes");
            assert_eq!(Body::decode(body.content(), &bytes), Ok(body));
        }
        // The exact layout of a reply: id, author, excerpt length, excerpt, text.
        let bytes = Body::Reply {
            quote: Quote {
                id: MsgId(0x0102),
                author: node(9),
                excerpt: "ab".into(),
            },
            text: "c".into(),
        }
        .encode()
        .expect("encodes");
        let mut want = vec![0, 0, 0, 0, 0, 0, 1, 2];
        want.extend([9; 32]);
        want.extend([2, b'a', b'b', b'c']);
        assert_eq!(bytes, want);
        assert_eq!(
            Body::Recall(MsgId(5)).encode().expect("encodes"),
            vec![0, 0, 0, 0, 0, 0, 0, 5]
        );
        // The exact layout of an offer: id, size, hash, port, name length, name.
        let bytes = Body::FileOffer(FileOffer {
            id: TransferId([1; 16]),
            name: "a.txt".into(),
            size: 0x0102,
            hash: [9; 32],
            port: 0x0304,
        })
        .encode()
        .expect("encodes");
        let mut want = vec![1; 16];
        want.extend([0, 0, 0, 0, 0, 0, 1, 2]);
        want.extend([9; 32]);
        want.extend([3, 4, 5]);
        want.extend(b"a.txt");
        assert_eq!(bytes.len(), OFFER_OVERHEAD + 5);
        assert_eq!(bytes, want);
        let cancel = Body::FileCancel {
            id: TransferId([4; 16]),
            reason: CancelReason::Cancelled,
        };
        let mut want = vec![4; 16];
        want.push(1);
        assert_eq!(cancel.encode().expect("encodes"), want);
        assert_eq!(
            Body::FileAccept {
                id: TransferId([4; 16])
            }
            .encode()
            .expect("encodes"),
            vec![4; 16]
        );
    }

    #[test]
    fn file_messages_convert_to_and_from_signals() {
        for body in bodies() {
            match FileSignal::try_from(body.clone()) {
                Ok(signal) => {
                    assert!(body.content().is_file());
                    assert_eq!(Body::from(signal), body);
                }
                Err(back) => {
                    assert!(!body.content().is_file());
                    assert_eq!(back, body);
                }
            }
        }
        for (i, c) in Content::ALL.into_iter().enumerate() {
            assert_eq!(usize::from(c.to_byte()), i);
            assert_eq!(Content::from_byte(c.to_byte()), Some(c));
        }
        assert_eq!(Content::from_byte(Content::ALL.len() as u8), None);
    }

    #[test]
    fn bad_file_messages_are_refused_both_ways() {
        let bad_offers = [
            (
                FileOffer {
                    id: TransferId([0; 16]),
                    ..offer()
                },
                "transfer id 0",
            ),
            (
                FileOffer {
                    name: String::new(),
                    ..offer()
                },
                "file name length",
            ),
            (
                FileOffer {
                    name: "x".repeat(files::MAX_NAME_BYTES + 1),
                    ..offer()
                },
                "file name length",
            ),
            (
                FileOffer {
                    size: files::MAX_FILE_BYTES + 1,
                    ..offer()
                },
                "file too large",
            ),
            (FileOffer { port: 0, ..offer() }, "port 0"),
        ];
        let good = Body::FileOffer(offer()).encode().expect("encodes");
        for (bad, why) in bad_offers {
            assert_eq!(
                Body::FileOffer(bad.clone()).encode(),
                Err(EncodeError::Invalid(why)),
                "{bad:?}"
            );
            // The same fields patched into good bytes are refused on the way in.
            let mut bytes = good[..OFFER_OVERHEAD - 1].to_vec();
            bytes[..16].copy_from_slice(&bad.id.0);
            bytes[16..24].copy_from_slice(&bad.size.to_be_bytes());
            bytes[56..58].copy_from_slice(&bad.port.to_be_bytes());
            // (A name longer than a length byte can say is cut by it: still a bad name.)
            let name = &bad.name.as_bytes()[..bad.name.len().min(255)];
            bytes.push(name.len() as u8);
            bytes.extend_from_slice(name);
            let r = Body::decode(Content::FileOffer, &bytes);
            if bad.name.len() > files::MAX_NAME_BYTES {
                // 255 bytes of name is a valid name: the wire cannot say more.
                assert!(r.is_ok());
                continue;
            }
            assert_eq!(r, Err(DecodeError::Invalid(why)), "{bad:?}");
        }
        // A name that is not UTF-8, a length past the end, bytes after the name.
        let mut bytes = good[..OFFER_OVERHEAD - 1].to_vec();
        bytes.extend([2, 0xC3, 0x28]);
        assert_eq!(
            Body::decode(Content::FileOffer, &bytes),
            Err(DecodeError::Utf8)
        );
        let mut bytes = good[..OFFER_OVERHEAD - 1].to_vec();
        bytes.extend([9, b'a']);
        assert_eq!(
            Body::decode(Content::FileOffer, &bytes),
            Err(DecodeError::Truncated)
        );
        let mut bytes = good.clone();
        bytes.push(b'x');
        assert_eq!(
            Body::decode(Content::FileOffer, &bytes),
            Err(DecodeError::Trailing(1))
        );
        // Accept, decline, cancel: id 0, an unknown reason, a tail, a short id.
        for content in [Content::FileAccept, Content::FileDecline] {
            assert_eq!(
                Body::decode(content, &[0; 16]),
                Err(DecodeError::Invalid("transfer id 0"))
            );
            assert_eq!(
                Body::decode(content, &[1; 17]),
                Err(DecodeError::Trailing(1))
            );
            assert_eq!(Body::decode(content, &[1; 15]), Err(DecodeError::Truncated));
        }
        let mut bytes = vec![1; 16];
        bytes.push(0);
        assert_eq!(
            Body::decode(Content::FileCancel, &bytes),
            Err(DecodeError::Invalid("cancel reason"))
        );
        bytes[16] = 200;
        assert_eq!(
            Body::decode(Content::FileCancel, &bytes),
            Err(DecodeError::Invalid("cancel reason"))
        );
        assert_eq!(
            Body::decode(Content::FileCancel, &[1; 16]),
            Err(DecodeError::Truncated)
        );
        let zero = TransferId([0; 16]);
        for body in [
            Body::FileAccept { id: zero },
            Body::FileDecline(zero),
            Body::FileCancel {
                id: zero,
                reason: CancelReason::Failed,
            },
        ] {
            assert_eq!(body.encode(), Err(EncodeError::Invalid("transfer id 0")));
        }
    }

    #[test]
    fn bad_bodies_are_refused_both_ways() {
        for body in bodies().into_iter().filter(|b| !matches!(b, Body::Text(_))) {
            let bytes = body.encode().expect("encodes");
            for cut in 0..bytes.len() {
                let r = Body::decode(body.content(), &bytes[..cut]);
                // A reply cut inside its text may still be a (shorter) valid reply.
                if let Ok(Body::Reply { text, .. }) = &r {
                    assert!(!text.is_empty() && cut > REPLY_OVERHEAD, "cut {cut}");
                    continue;
                }
                assert!(r.is_err(), "cut {cut} of {body:?}: {r:?}");
            }
        }
        let long = Quote {
            excerpt: "x".repeat(MAX_EXCERPT_BYTES + 1),
            ..quote()
        };
        let reply = |quote: Quote, text: &str| Body::Reply {
            quote,
            text: text.into(),
        };
        assert!(reply(long, "t").encode().is_err());
        assert!(reply(quote(), "").encode().is_err());
        assert!(
            reply(
                Quote {
                    id: MsgId(0),
                    ..quote()
                },
                "t"
            )
            .encode()
            .is_err()
        );
        assert!(Body::Recall(MsgId(0)).encode().is_err());
        assert!(
            Body::Text("x".repeat(MAX_MESSAGE_BYTES + 1))
                .encode()
                .is_err()
        );
        // Hand-made bytes: an excerpt longer than allowed, bad UTF-8, a recall with a tail.
        let mut bytes = vec![0, 0, 0, 0, 0, 0, 0, 1];
        bytes.extend([1; 32]);
        bytes.push(MAX_EXCERPT_BYTES as u8 + 1);
        bytes.extend(vec![b'a'; MAX_EXCERPT_BYTES + 2]);
        assert_eq!(
            Body::decode(Content::Reply, &bytes),
            Err(DecodeError::Invalid("quoted excerpt too long"))
        );
        let mut bytes = vec![0, 0, 0, 0, 0, 0, 0, 1];
        bytes.extend([1; 32]);
        bytes.extend([1, 0xFF, b'a']);
        assert_eq!(Body::decode(Content::Reply, &bytes), Err(DecodeError::Utf8));
        assert_eq!(
            Body::decode(Content::Recall, &[0, 0, 0, 0, 0, 0, 0, 1, 0]),
            Err(DecodeError::Trailing(1))
        );
        assert!(Body::decode(Content::Read, &[0; 8]).is_err());
        assert_eq!(Body::decode(Content::Text, &[0xC3]), Err(DecodeError::Utf8));
    }

    #[test]
    fn a_quote_is_one_line_cut_on_a_character_boundary() {
        let q = Quote::of(MsgId(1), node(1), "  first line\nsecond");
        assert_eq!(q.excerpt, "first line");
        let q = Quote::of(MsgId(1), node(1), &"字".repeat(100));
        assert!(q.excerpt.len() <= MAX_EXCERPT_BYTES);
        assert_eq!(q.excerpt, "字".repeat(MAX_EXCERPT_BYTES / 3));
    }

    fn arb_body() -> impl Strategy<Value = Body> {
        prop_oneof![
            "\\PC{0,40}".prop_map(Body::Text),
            (1u64.., any::<[u8; 32]>(), "\\PC{0,40}", "\\PC{1,40}").prop_map(
                |(id, author, excerpt, text)| Body::Reply {
                    quote: Quote::of(MsgId(id), NodeId(author), &excerpt),
                    text,
                }
            ),
            (1u64..).prop_map(|id| Body::Recall(MsgId(id))),
            arb_offer().prop_map(Body::FileOffer),
            arb_transfer().prop_map(|id| Body::FileAccept { id }),
            arb_transfer().prop_map(Body::FileDecline),
            (
                arb_transfer(),
                proptest::sample::select(CancelReason::ALL.to_vec())
            )
                .prop_map(|(id, reason)| Body::FileCancel { id, reason }),
        ]
    }

    fn arb_transfer() -> impl Strategy<Value = TransferId> {
        any::<[u8; 16]>()
            .prop_filter("not zero", |b| *b != [0; 16])
            .prop_map(TransferId)
    }

    fn arb_offer() -> impl Strategy<Value = FileOffer> {
        (
            arb_transfer(),
            // Any characters at all: the wire bounds names, `files::safe_name` makes them safe.
            ".{1,80}",
            0..=files::MAX_FILE_BYTES,
            any::<[u8; 32]>(),
            1u16..,
        )
            .prop_map(|(id, name, size, hash, port)| FileOffer {
                id,
                name: clip_utf8(&name, files::MAX_NAME_BYTES).to_owned(),
                size,
                hash,
                port,
            })
            .prop_filter("a name", |o| !o.name.is_empty())
    }

    proptest! {
        #[test]
        fn bodies_round_trip(body in arb_body()) {
            let bytes = body.encode().expect("encodes");
            prop_assert_eq!(Body::decode(body.content(), &bytes), Ok(body));
        }

        #[test]
        fn body_decode_never_panics(kind in 0u8..8, bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let content = Content::from_byte(kind).expect("a kind");
            if let Ok(body) = Body::decode(content, &bytes) {
                // Whatever decodes must encode back to the same bytes.
                prop_assert_eq!(body.content(), content);
                prop_assert_eq!(body.encode().expect("re-encodes"), bytes);
            }
        }

        #[test]
        fn file_message_decode_never_panics(
            kind in 4u8..8,
            head in proptest::collection::vec(any::<u8>(), 0..=OFFER_OVERHEAD),
            len in any::<u8>(),
            tail in proptest::collection::vec(any::<u8>(), 0..300),
        ) {
            // Shaped like an offer, so that more of them get past the first checks.
            let content = Content::from_byte(kind).expect("a kind");
            let mut bytes = head;
            if bytes.len() == OFFER_OVERHEAD {
                bytes[OFFER_OVERHEAD - 1] = len;
            }
            bytes.extend(tail);
            for cut in [bytes.len(), 17, 16] {
                let bytes = &bytes[..cut.min(bytes.len())];
                if let Ok(body) = Body::decode(content, bytes) {
                    prop_assert_eq!(body.content(), content);
                    prop_assert_eq!(body.encode().expect("re-encodes"), bytes.to_vec());
                }
            }
        }

        #[test]
        fn decode_never_panics(data in proptest::collection::vec(any::<u8>(), 0..1300)) {
            let _ = Frame::decode(&data);
        }

        #[test]
        fn decode_never_panics_after_magic(kind in 0u8..9, tail in proptest::collection::vec(any::<u8>(), 0..1300)) {
            let mut data = MAGIC.to_vec();
            data.push(VERSION);
            data.push(kind);
            data.extend(tail);
            if let Ok(frame) = Frame::decode(&data) {
                // Whatever decodes must encode back to the same bytes.
                prop_assert_eq!(frame.encode().expect("re-encodes"), data);
            }
        }

        #[test]
        fn packets_round_trip(epoch in any::<u64>(), ack in proptest::option::of(arb_ack()), data in proptest::option::of(arb_data())) {
            prop_assume!(ack.is_some() || data.is_some());
            let frame = Frame::Packet(Packet { from: node(9), epoch, ack: ack.clone(), data: data.clone() });
            match frame.encode() {
                Ok(bytes) => prop_assert_eq!(Frame::decode(&bytes), Ok(frame)),
                // Only a too-big combination may be refused.
                Err(e) => {
                    prop_assert_eq!(e, EncodeError::Invalid("packet too large to seal"));
                    let ranges = ack.map_or(0, |a| a.ranges.len());
                    let payload = data.map_or(0, |d| d.payload.len());
                    prop_assert!(PACKET_OVERHEAD + ack_size(ranges) + DATA_OVERHEAD + payload > MAX_PLAINTEXT);
                }
            }
        }

        #[test]
        fn handshake_and_sealed_frames_round_trip(
            sender in any::<u32>(),
            receiver in any::<u32>(),
            counter in any::<u64>(),
            message in proptest::collection::vec(any::<u8>(), 1..=MAX_HANDSHAKE_MESSAGE),
            ciphertext in proptest::collection::vec(any::<u8>(), 16..=MAX_DATAGRAM - SEAL_OVERHEAD + 16),
            ik in any::<bool>(),
            cookie in proptest::option::of(any::<[u8; COOKIE_BYTES]>()),
        ) {
            let pattern = if ik { Pattern::Ik } else { Pattern::Xx };
            let short = message[..message.len().min(MAX_INIT_MESSAGE)].to_vec();
            for frame in [
                Frame::HandshakeInit { pattern, sender, message: short, cookie },
                Frame::Cookie { receiver, cookie: cookie.unwrap_or_default() },
                Frame::HandshakeReply { sender, receiver, message: message.clone() },
                Frame::HandshakeFinal { receiver, message: message.clone() },
                Frame::Sealed { receiver, counter, ciphertext: ciphertext.clone() },
            ] {
                let bytes = frame.encode().expect("encodes");
                if let Frame::HandshakeInit { .. } = frame {
                    prop_assert_eq!(bytes.len(), INIT_DATAGRAM);
                } else {
                    // Nothing answers an initiation with more than it was sent.
                    let sealed = matches!(frame, Frame::Sealed { .. });
                    prop_assert!(sealed || bytes.len() <= INIT_DATAGRAM);
                }
                prop_assert_eq!(Frame::decode(&bytes), Ok(frame));
            }
        }

        #[test]
        fn beacons_round_trip(port in 1u16.., want in any::<bool>(), unicast in any::<bool>(), name in "\\PC{0,16}") {
            let frame = Frame::Beacon(Beacon { node: node(5), port, want_reply: want, unicast, name });
            let bytes = frame.encode().expect("encodes");
            prop_assert_eq!(bytes.len(), INIT_DATAGRAM);
            prop_assert_eq!(Frame::decode(&bytes), Ok(frame));
        }
    }
}
