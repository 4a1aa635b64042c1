//! The native wire format: one frame per datagram.
//!
//! Every native datagram starts with [`MAGIC`] and a version byte. The first magic byte,
//! 0xFF, can begin neither UTF-8 nor GBK text, so one socket tells native frames from plain
//! text without guessing. All integers are big-endian; strings are length-prefixed UTF-8.
//!
//! ```text
//! FF 'L' 'C' version kind payload...
//! kind 1 beacon   node[32] port:u16 flags:u8 name_len:u8 name
//! kind 2 goodbye  node[32]
//! kind 3 message  from[32] id:u64 sent_at_ms:i64 text_len:u16 text
//! kind 4 ack      from[32] count:u8 id:u64 * count
//! ```

use super::{MsgId, NodeId};
use thiserror::Error;

pub const MAGIC: [u8; 3] = [0xFF, b'L', b'C'];
pub const VERSION: u8 = 1;
/// Largest UDP payload lanchat sends: safe under any real path MTU.
pub const MAX_DATAGRAM: usize = 1200;
/// Longest display name carried in a beacon, in bytes.
pub const MAX_NAME_BYTES: usize = 64;
const HEADER: usize = MAGIC.len() + 2;
const MESSAGE_FIXED: usize = HEADER + 32 + 8 + 8 + 2;
/// Longest message text that fits one datagram.
pub const MAX_TEXT_BYTES: usize = MAX_DATAGRAM - MESSAGE_FIXED;
/// Most message ids one ack frame carries.
pub const MAX_ACK_IDS: usize = 64;

const KIND_BEACON: u8 = 1;
const KIND_GOODBYE: u8 = 2;
const KIND_MESSAGE: u8 = 3;
const KIND_ACK: u8 = 4;
const FLAG_WANT_REPLY: u8 = 1;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Beacon {
    pub node: NodeId,
    /// The sender's unicast port (beacons may come from the shared discovery port).
    pub port: u16,
    /// Ask the receiver to answer with its own beacon, unicast.
    pub want_reply: bool,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage {
    pub from: NodeId,
    pub id: MsgId,
    /// The sender's wall clock, Unix milliseconds. Informational: peers' clocks lie.
    pub sent_at_ms: i64,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    Beacon(Beacon),
    Goodbye { node: NodeId },
    Message(ChatMessage),
    Ack { from: NodeId, ids: Vec<MsgId> },
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
    #[error("text is {len} bytes; one message holds at most {max}")]
    TextTooLong { len: usize, max: usize },
    #[error("name is {len} bytes; at most {max}")]
    NameTooLong { len: usize, max: usize },
    #[error("an ack carries at most {MAX_ACK_IDS} ids")]
    TooManyAcks,
}

/// Does this datagram claim to be ours? (It may still fail to decode.)
pub fn is_native(data: &[u8]) -> bool {
    data.first() == Some(&MAGIC[0])
}

impl Frame {
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        let mut out = Vec::with_capacity(64);
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
                out.push(if b.want_reply { FLAG_WANT_REPLY } else { 0 });
                out.push(b.name.len() as u8);
                out.extend_from_slice(b.name.as_bytes());
            }
            Frame::Goodbye { node } => {
                out.push(KIND_GOODBYE);
                out.extend_from_slice(&node.0);
            }
            Frame::Message(m) => {
                if m.text.len() > MAX_TEXT_BYTES {
                    return Err(EncodeError::TextTooLong {
                        len: m.text.len(),
                        max: MAX_TEXT_BYTES,
                    });
                }
                out.push(KIND_MESSAGE);
                out.extend_from_slice(&m.from.0);
                out.extend_from_slice(&m.id.0.to_be_bytes());
                out.extend_from_slice(&m.sent_at_ms.to_be_bytes());
                out.extend_from_slice(&(m.text.len() as u16).to_be_bytes());
                out.extend_from_slice(m.text.as_bytes());
            }
            Frame::Ack { from, ids } => {
                if ids.len() > MAX_ACK_IDS {
                    return Err(EncodeError::TooManyAcks);
                }
                out.push(KIND_ACK);
                out.extend_from_slice(&from.0);
                out.push(ids.len() as u8);
                for id in ids {
                    out.extend_from_slice(&id.0.to_be_bytes());
                }
            }
        }
        debug_assert!(out.len() <= MAX_DATAGRAM);
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
                let node = r.node()?;
                let port = r.u16()?;
                if port == 0 {
                    return Err(DecodeError::Invalid("port 0"));
                }
                let flags = r.u8()?;
                let len = usize::from(r.u8()?);
                if len > MAX_NAME_BYTES {
                    return Err(DecodeError::Invalid("name too long"));
                }
                let name = r.string(len)?;
                Frame::Beacon(Beacon {
                    node,
                    port,
                    want_reply: flags & FLAG_WANT_REPLY != 0,
                    name,
                })
            }
            KIND_GOODBYE => Frame::Goodbye { node: r.node()? },
            KIND_MESSAGE => {
                let from = r.node()?;
                let id = r.u64()?;
                if id == 0 {
                    return Err(DecodeError::Invalid("message id 0"));
                }
                let sent_at_ms = r.u64()? as i64;
                let len = usize::from(r.u16()?);
                if len > MAX_TEXT_BYTES {
                    return Err(DecodeError::Invalid("text too long"));
                }
                let text = r.string(len)?;
                Frame::Message(ChatMessage {
                    from,
                    id: MsgId(id),
                    sent_at_ms,
                    text,
                })
            }
            KIND_ACK => {
                let from = r.node()?;
                let count = usize::from(r.u8()?);
                if count == 0 || count > MAX_ACK_IDS {
                    return Err(DecodeError::Invalid("ack count"));
                }
                let mut ids = Vec::with_capacity(count);
                for _ in 0..count {
                    ids.push(MsgId(r.u64()?));
                }
                Frame::Ack { from, ids }
            }
            other => return Err(DecodeError::Kind(other)),
        };
        if !r.data.is_empty() {
            return Err(DecodeError::Trailing(r.data.len()));
        }
        Ok(frame)
    }
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

    fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    fn node(&mut self) -> Result<NodeId, DecodeError> {
        Ok(NodeId(self.array()?))
    }

    fn string(&mut self, len: usize) -> Result<String, DecodeError> {
        let bytes = self.take(len)?;
        std::str::from_utf8(bytes)
            .map(str::to_owned)
            .map_err(|_| DecodeError::Utf8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn node(b: u8) -> NodeId {
        NodeId([b; 32])
    }

    fn samples() -> Vec<Frame> {
        vec![
            Frame::Beacon(Beacon {
                node: node(1),
                port: 47475,
                want_reply: true,
                name: "李雷".into(),
            }),
            Frame::Goodbye { node: node(2) },
            Frame::Message(ChatMessage {
                from: node(3),
                id: MsgId(42),
                sent_at_ms: 1_700_000_000_000,
                text: "hello 你好 👋".into(),
            }),
            Frame::Ack {
                from: node(4),
                ids: vec![MsgId(1), MsgId(u64::MAX)],
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
    fn every_truncation_is_rejected() {
        for frame in samples() {
            let bytes = frame.encode().expect("encodes");
            for cut in 0..bytes.len() {
                let err = Frame::decode(&bytes[..cut]).expect_err("truncated must fail");
                assert!(
                    matches!(err, DecodeError::Truncated | DecodeError::NotNative),
                    "cut {cut} of {frame:?}: {err:?}"
                );
            }
        }
    }

    #[test]
    fn trailing_bytes_and_bad_fields_are_rejected() {
        let mut bytes = samples()[1].encode().expect("encodes");
        bytes.push(0);
        assert_eq!(Frame::decode(&bytes), Err(DecodeError::Trailing(1)));

        let mut bytes = samples()[0].encode().expect("encodes");
        bytes[3] = 9;
        assert_eq!(Frame::decode(&bytes), Err(DecodeError::Version(9)));
        bytes[3] = VERSION;
        bytes[4] = 200;
        assert_eq!(Frame::decode(&bytes), Err(DecodeError::Kind(200)));

        assert_eq!(Frame::decode(b"hello"), Err(DecodeError::NotNative));
        assert_eq!(Frame::decode(&[0xFF, b'X']), Err(DecodeError::NotNative));

        // A message whose text is not UTF-8.
        let mut bytes = samples()[2].encode().expect("encodes");
        let last = bytes.len() - 1;
        bytes[last] = 0xFF;
        assert_eq!(Frame::decode(&bytes), Err(DecodeError::Utf8));
    }

    #[test]
    fn oversized_fields_are_refused_on_encode() {
        let long = Frame::Message(ChatMessage {
            from: node(1),
            id: MsgId(1),
            sent_at_ms: 0,
            text: "x".repeat(MAX_TEXT_BYTES + 1),
        });
        assert!(matches!(
            long.encode(),
            Err(EncodeError::TextTooLong { .. })
        ));
        let fits = Frame::Message(ChatMessage {
            from: node(1),
            id: MsgId(1),
            sent_at_ms: 0,
            text: "x".repeat(MAX_TEXT_BYTES),
        });
        assert_eq!(fits.encode().expect("fits").len(), MAX_DATAGRAM);
    }

    #[test]
    fn magic_cannot_start_text() {
        let magic: &[u8] = &std::hint::black_box(MAGIC);
        assert!(std::str::from_utf8(magic).is_err());
        let (_, _, had_errors) = encoding_rs::GBK.decode(&MAGIC);
        assert!(had_errors, "0xFF must not be a GBK lead byte");
    }

    proptest! {
        #[test]
        fn decode_never_panics(data in proptest::collection::vec(any::<u8>(), 0..1300)) {
            let _ = Frame::decode(&data);
        }

        #[test]
        fn decode_never_panics_after_magic(tail in proptest::collection::vec(any::<u8>(), 0..1300)) {
            let mut data = MAGIC.to_vec();
            data.push(VERSION);
            data.extend(tail);
            if let Ok(frame) = Frame::decode(&data) {
                // Whatever decodes must encode back to the same bytes.
                prop_assert_eq!(frame.encode().expect("re-encodes"), data);
            }
        }

        #[test]
        fn messages_round_trip(id in 1u64.., at in any::<i64>(), text in "\\PC{0,200}") {
            let frame = Frame::Message(ChatMessage { from: node(9), id: MsgId(id), sent_at_ms: at, text });
            let bytes = frame.encode().expect("encodes");
            prop_assert_eq!(Frame::decode(&bytes), Ok(frame));
        }

        #[test]
        fn beacons_round_trip(port in 1u16.., want in any::<bool>(), name in "\\PC{0,16}") {
            let frame = Frame::Beacon(Beacon { node: node(5), port, want_reply: want, name });
            let bytes = frame.encode().expect("encodes");
            prop_assert_eq!(Frame::decode(&bytes), Ok(frame));
        }
    }
}
