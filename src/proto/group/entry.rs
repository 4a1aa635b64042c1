//! Group entries: the signed, immutable facts a group is made of, byte by byte.
//!
//! An entry is one member's act in one group: a membership change or a message. It names
//! its author, the author's sequence number in the group, a Lamport clock, and the hash of
//! the author's previous entry, and it is signed by the author ([`super::sign`]). All
//! integers are big-endian.
//!
//! ```text
//! entry     version:u8 group[16] author[32] seq:u64 lamport:u64 prev[32] sent_at_ms:i64
//!           kind:u8 body sig[64]
//!           group: zero in a create (the group's id is the create's hash, see below)
//!           seq: 1, 2, 3… per author and group; prev: hash of the author's entry seq-1
//!           (zero for seq 1); lamport: 1 ≤ lamport < MAX_LAMPORT; sig: XEdDSA by author
//!           of DOMAIN ‖ every byte before sig
//! kind 1 create    nonce[16] name_len:u8 name count:u8 member[32]*count
//!                  (seq 1, lamport 1; members: the others, distinct, not the author)
//! kind 2 invite    count:u8 member[32]*count             (1..=MAX_INVITE, distinct)
//! kind 3 leave     (nothing)
//! kind 4 remove    member[32] upto:u64   (the owner removes `member`; its entries with seq
//!                                         above `upto` that the remove does not follow
//!                                         are void)
//! kind 5 rename    name_len:u8 name                       (1..=MAX_NAME_BYTES, UTF-8)
//! kind 6 handover  member[32]                             (the owner hands ownership on)
//! kind 16 text     flags:u8 count:u8 mention[32]*count text
//! kind 17 reply    flags:u8 count:u8 mention[32]*count quoted_id:u64 quoted_author[32]
//!                  excerpt_len:u8 excerpt text
//!                  flags: 1 = @all (the owner's only); mentions distinct, at most
//!                  MAX_MENTIONS; text UTF-8, 1..=MAX_TEXT_BYTES; excerpt ≤ MAX_EXCERPT_BYTES
//! kind 18 recall   target:u64      (the author's own message, within RECALL_WINDOW_MS of
//!                                   its sent_at_ms, by the author's clock)
//! ```
//!
//! An entry's hash is BLAKE3 of its bytes without the signature; the group id is the first
//! 16 bytes of its create's hash (so nobody can make another create for the same id), and a
//! message's [`MsgId`] is the first 8 bytes of its hash. The signature is not hashed: two
//! signatures of the same entry are the same entry.

use super::super::wire::{MAX_EXCERPT_BYTES, Quote};
use super::super::{MsgId, NodeId};
use super::sign::{self, SIGNATURE_BYTES, Signer};
use thiserror::Error;

pub const VERSION: u8 = 1;
/// Members a group may have, owner included.
pub const MAX_MEMBERS: usize = 256;
/// Keys one invite names.
pub const MAX_INVITE: usize = MAX_MEMBERS - 1;
/// A group's name, in bytes of UTF-8.
pub const MAX_NAME_BYTES: usize = 64;
/// A group message's text, in bytes of UTF-8.
pub const MAX_TEXT_BYTES: usize = 16 * 1024;
/// Members one message mentions by key.
pub const MAX_MENTIONS: usize = 32;
/// Lamport clocks stay below this (so that nobody can run a group's clock out).
pub const MAX_LAMPORT: u64 = 1 << 48;
/// The author may recall a message this long after writing it (by the author's clock).
pub const RECALL_WINDOW_MS: i64 = 2 * 60 * 1000;
/// Bytes before the kind: version, group, author, seq, lamport, prev, sent_at.
pub const HEAD_BYTES: usize = 1 + 16 + 32 + 8 + 8 + 32 + 8;
/// The largest entry: a reply with every field at its largest.
pub const MAX_ENTRY_BYTES: usize = HEAD_BYTES
    + 1
    + 2
    + 32 * MAX_MENTIONS
    + 8
    + 32
    + 1
    + MAX_EXCERPT_BYTES
    + MAX_TEXT_BYTES
    + SIGNATURE_BYTES;

const KIND_CREATE: u8 = 1;
const KIND_INVITE: u8 = 2;
const KIND_LEAVE: u8 = 3;
const KIND_REMOVE: u8 = 4;
const KIND_RENAME: u8 = 5;
const KIND_HANDOVER: u8 = 6;
const KIND_TEXT: u8 = 16;
const KIND_REPLY: u8 = 17;
const KIND_RECALL: u8 = 18;
const FLAG_ALL: u8 = 1;

/// A group's id: the first 16 bytes of its create entry's hash.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupId(pub [u8; 16]);

impl GroupId {
    pub fn to_hex(&self) -> String {
        crate::proto::files::to_hex(&self.0)
    }

    /// Exactly 32 hex digits (surrounding blanks allowed).
    pub fn from_hex(s: &str) -> Option<Self> {
        crate::proto::files::from_hex::<16>(s.trim()).map(Self)
    }

    /// The first 8 hex digits.
    pub fn short(&self) -> String {
        self.to_hex()[..8].to_string()
    }
}

impl std::fmt::Debug for GroupId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GroupId({})", self.short())
    }
}

impl std::fmt::Display for GroupId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// An entry's hash: BLAKE3 of its bytes without the signature.
pub type Hash = [u8; 32];

/// Who a message mentions.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Mentions {
    /// `@all`: everyone (the owner's only).
    pub all: bool,
    /// Members by key: distinct, at most [`MAX_MENTIONS`].
    pub keys: Vec<NodeId>,
}

/// What an entry does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Makes the group: the author is its owner and first member.
    Create {
        nonce: [u8; 16],
        name: String,
        /// The other first members.
        members: Vec<NodeId>,
    },
    Invite(Vec<NodeId>),
    Leave,
    /// The owner removes `member`, whose entries up to `upto` it had seen.
    Remove {
        member: NodeId,
        upto: u64,
    },
    Rename(String),
    /// The owner makes `member` the owner.
    Handover(NodeId),
    Text {
        text: String,
        mentions: Mentions,
    },
    Reply {
        quote: Quote,
        text: String,
        mentions: Mentions,
    },
    /// The author takes back its message `target`.
    Recall(MsgId),
}

impl Op {
    /// A membership change (as opposed to a message or a recall).
    pub fn is_membership(&self) -> bool {
        matches!(
            self,
            Op::Create { .. }
                | Op::Invite(_)
                | Op::Leave
                | Op::Remove { .. }
                | Op::Rename(_)
                | Op::Handover(_)
        )
    }

    pub fn mentions(&self) -> Option<&Mentions> {
        match self {
            Op::Text { mentions, .. } | Op::Reply { mentions, .. } => Some(mentions),
            _ => None,
        }
    }
}

/// An entry before it is signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Zero in a create.
    pub group: GroupId,
    pub author: NodeId,
    pub seq: u64,
    pub lamport: u64,
    /// The hash of the author's entry `seq - 1`; zero for `seq` 1.
    pub prev: Hash,
    /// The author's wall clock, Unix ms: shown, and the recall window.
    pub sent_at_ms: i64,
    pub op: Op,
}

/// A verified entry: its bytes as they travel, its hash and its decoded content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    pub entry: Entry,
    pub hash: Hash,
    /// The whole encoding, signature included.
    pub bytes: Vec<u8>,
}

impl Signed {
    /// The id the app knows this entry by.
    pub fn id(&self) -> MsgId {
        msg_id(&self.hash)
    }

    /// The group this entry belongs to (a create's own id for a create).
    pub fn group(&self) -> GroupId {
        if matches!(self.entry.op, Op::Create { .. }) {
            group_id(&self.hash)
        } else {
            self.entry.group
        }
    }
}

/// A message's id from its entry's hash: never zero.
pub fn msg_id(hash: &Hash) -> MsgId {
    let mut b = [0u8; 8];
    b.copy_from_slice(&hash[..8]);
    MsgId(u64::from_be_bytes(b).max(1))
}

pub fn group_id(hash: &Hash) -> GroupId {
    let mut b = [0u8; 16];
    b.copy_from_slice(&hash[..16]);
    GroupId(b)
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum EntryError {
    #[error("entry truncated")]
    Truncated,
    #[error("entry has {0} bytes after it")]
    Trailing(usize),
    #[error("unsupported entry version {0}")]
    Version(u8),
    #[error("unknown entry kind {0}")]
    Kind(u8),
    #[error("text is not valid UTF-8")]
    Utf8,
    #[error("invalid entry: {0}")]
    Invalid(&'static str),
    #[error("entry is {0} bytes; at most {max}", max = MAX_ENTRY_BYTES)]
    TooLarge(usize),
    #[error("bad signature")]
    Signature,
}

fn distinct(keys: &[NodeId]) -> bool {
    let mut sorted = keys.to_vec();
    sorted.sort();
    sorted.windows(2).all(|w| w[0] != w[1])
}

fn check_name(name: &str) -> Result<(), &'static str> {
    if name.trim().is_empty() || name.len() > MAX_NAME_BYTES {
        return Err("group name length");
    }
    Ok(())
}

fn check_mentions(m: &Mentions) -> Result<(), &'static str> {
    if m.keys.len() > MAX_MENTIONS || !distinct(&m.keys) {
        return Err("mentions");
    }
    Ok(())
}

fn check_text(text: &str) -> Result<(), &'static str> {
    if text.is_empty() || text.len() > MAX_TEXT_BYTES {
        return Err("text length");
    }
    Ok(())
}

/// What makes an entry malformed, either way: checked before encoding and after decoding.
pub fn check_entry(e: &Entry) -> Result<(), &'static str> {
    if e.seq == 0 {
        return Err("seq 0");
    }
    if e.lamport == 0 || e.lamport >= MAX_LAMPORT {
        return Err("lamport");
    }
    if (e.seq == 1) != (e.prev == [0; 32]) {
        return Err("prev hash");
    }
    match &e.op {
        Op::Create { name, members, .. } => {
            if e.group.0 != [0; 16] || e.seq != 1 || e.lamport != 1 {
                return Err("create must open the group");
            }
            check_name(name)?;
            if members.len() > MAX_MEMBERS - 1 || !distinct(members) || members.contains(&e.author)
            {
                return Err("create members");
            }
        }
        Op::Invite(keys) => {
            if keys.is_empty() || keys.len() > MAX_INVITE || !distinct(keys) {
                return Err("invite");
            }
        }
        Op::Leave => {}
        Op::Remove { member, .. } | Op::Handover(member) => {
            if *member == e.author {
                return Err("names its own author");
            }
        }
        Op::Rename(name) => check_name(name)?,
        Op::Text { text, mentions } => {
            check_text(text)?;
            check_mentions(mentions)?;
        }
        Op::Reply {
            quote,
            text,
            mentions,
        } => {
            check_text(text)?;
            check_mentions(mentions)?;
            if quote.id.0 == 0 || quote.excerpt.len() > MAX_EXCERPT_BYTES {
                return Err("quote");
            }
        }
        Op::Recall(target) => {
            if target.0 == 0 {
                return Err("recall of id 0");
            }
        }
    }
    if e.group.0 == [0; 16] && !matches!(e.op, Op::Create { .. }) {
        return Err("group id 0");
    }
    Ok(())
}

impl Entry {
    /// The bytes that are hashed and signed.
    pub fn encode_unsigned(&self) -> Result<Vec<u8>, EntryError> {
        check_entry(self).map_err(EntryError::Invalid)?;
        let out = self.write();
        if out.len() + SIGNATURE_BYTES > MAX_ENTRY_BYTES {
            return Err(EntryError::TooLarge(out.len() + SIGNATURE_BYTES));
        }
        Ok(out)
    }

    /// The bytes, unchecked.
    fn write(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEAD_BYTES + 64);
        out.push(VERSION);
        out.extend_from_slice(&self.group.0);
        out.extend_from_slice(&self.author.0);
        out.extend_from_slice(&self.seq.to_be_bytes());
        out.extend_from_slice(&self.lamport.to_be_bytes());
        out.extend_from_slice(&self.prev);
        out.extend_from_slice(&self.sent_at_ms.to_be_bytes());
        let mentions = |out: &mut Vec<u8>, m: &Mentions| {
            out.push(if m.all { FLAG_ALL } else { 0 });
            out.push(m.keys.len() as u8);
            for k in &m.keys {
                out.extend_from_slice(&k.0);
            }
        };
        match &self.op {
            Op::Create {
                nonce,
                name,
                members,
            } => {
                out.push(KIND_CREATE);
                out.extend_from_slice(nonce);
                out.push(name.len() as u8);
                out.extend_from_slice(name.as_bytes());
                out.push(members.len() as u8);
                for m in members {
                    out.extend_from_slice(&m.0);
                }
            }
            Op::Invite(keys) => {
                out.push(KIND_INVITE);
                out.push(keys.len() as u8);
                for k in keys {
                    out.extend_from_slice(&k.0);
                }
            }
            Op::Leave => out.push(KIND_LEAVE),
            Op::Remove { member, upto } => {
                out.push(KIND_REMOVE);
                out.extend_from_slice(&member.0);
                out.extend_from_slice(&upto.to_be_bytes());
            }
            Op::Rename(name) => {
                out.push(KIND_RENAME);
                out.push(name.len() as u8);
                out.extend_from_slice(name.as_bytes());
            }
            Op::Handover(member) => {
                out.push(KIND_HANDOVER);
                out.extend_from_slice(&member.0);
            }
            Op::Text { text, mentions: m } => {
                out.push(KIND_TEXT);
                mentions(&mut out, m);
                out.extend_from_slice(text.as_bytes());
            }
            Op::Reply {
                quote,
                text,
                mentions: m,
            } => {
                out.push(KIND_REPLY);
                mentions(&mut out, m);
                out.extend_from_slice(&quote.id.0.to_be_bytes());
                out.extend_from_slice(&quote.author.0);
                out.push(quote.excerpt.len() as u8);
                out.extend_from_slice(quote.excerpt.as_bytes());
                out.extend_from_slice(text.as_bytes());
            }
            Op::Recall(target) => {
                out.push(KIND_RECALL);
                out.extend_from_slice(&target.0.to_be_bytes());
            }
        }
        out
    }

    /// Signs the entry as `signer` (who must be its author).
    pub fn sign(self, signer: &mut Signer) -> Result<Signed, EntryError> {
        if self.author != signer.public() {
            return Err(EntryError::Invalid("author is not the signer"));
        }
        let mut bytes = self.encode_unsigned()?;
        let hash = *blake3::hash(&bytes).as_bytes();
        let sig = signer.sign(&bytes);
        bytes.extend_from_slice(&sig);
        Ok(Signed {
            entry: self,
            hash,
            bytes,
        })
    }
}

/// Reads an entry without checking its signature (see [`verify`]). Strict: every length is
/// checked, text must be UTF-8, nothing may trail.
pub fn decode(bytes: &[u8]) -> Result<(Entry, Hash, [u8; SIGNATURE_BYTES]), EntryError> {
    if bytes.len() > MAX_ENTRY_BYTES {
        return Err(EntryError::TooLarge(bytes.len()));
    }
    let split = bytes
        .len()
        .checked_sub(SIGNATURE_BYTES)
        .ok_or(EntryError::Truncated)?;
    let (unsigned, sig) = bytes.split_at(split);
    let mut s = [0u8; SIGNATURE_BYTES];
    s.copy_from_slice(sig);
    let mut r = Reader { data: unsigned };
    let version = r.u8()?;
    if version != VERSION {
        return Err(EntryError::Version(version));
    }
    let group = GroupId(r.array()?);
    let author = r.node()?;
    let seq = r.u64()?;
    let lamport = r.u64()?;
    let prev = r.array()?;
    let sent_at_ms = r.u64()? as i64;
    let utf8 = |b: &[u8]| {
        std::str::from_utf8(b)
            .map(str::to_owned)
            .map_err(|_| EntryError::Utf8)
    };
    let op = match r.u8()? {
        KIND_CREATE => {
            let nonce = r.array()?;
            let len = usize::from(r.u8()?);
            let name = utf8(r.take(len)?)?;
            let count = usize::from(r.u8()?);
            let members = r.nodes(count)?;
            Op::Create {
                nonce,
                name,
                members,
            }
        }
        KIND_INVITE => {
            let count = usize::from(r.u8()?);
            Op::Invite(r.nodes(count)?)
        }
        KIND_LEAVE => Op::Leave,
        KIND_REMOVE => Op::Remove {
            member: r.node()?,
            upto: r.u64()?,
        },
        KIND_RENAME => {
            let len = usize::from(r.u8()?);
            Op::Rename(utf8(r.take(len)?)?)
        }
        KIND_HANDOVER => Op::Handover(r.node()?),
        kind @ (KIND_TEXT | KIND_REPLY) => {
            let flags = r.u8()?;
            if flags & !FLAG_ALL != 0 {
                return Err(EntryError::Invalid("mention flags"));
            }
            let count = usize::from(r.u8()?);
            if count > MAX_MENTIONS {
                return Err(EntryError::Invalid("mentions"));
            }
            let mentions = Mentions {
                all: flags & FLAG_ALL != 0,
                keys: r.nodes(count)?,
            };
            if kind == KIND_TEXT {
                Op::Text {
                    text: utf8(std::mem::take(&mut r.data))?,
                    mentions,
                }
            } else {
                let id = MsgId(r.u64()?);
                let author = r.node()?;
                let len = usize::from(r.u8()?);
                if len > MAX_EXCERPT_BYTES {
                    return Err(EntryError::Invalid("quote"));
                }
                let excerpt = utf8(r.take(len)?)?;
                Op::Reply {
                    quote: Quote {
                        id,
                        author,
                        excerpt,
                    },
                    text: utf8(std::mem::take(&mut r.data))?,
                    mentions,
                }
            }
        }
        KIND_RECALL => Op::Recall(MsgId(r.u64()?)),
        other => return Err(EntryError::Kind(other)),
    };
    if !r.data.is_empty() {
        return Err(EntryError::Trailing(r.data.len()));
    }
    let entry = Entry {
        group,
        author,
        seq,
        lamport,
        prev,
        sent_at_ms,
        op,
    };
    check_entry(&entry).map_err(EntryError::Invalid)?;
    Ok((entry, *blake3::hash(unsigned).as_bytes(), s))
}

/// Decodes an entry and checks its author's signature.
pub fn verify(bytes: &[u8]) -> Result<Signed, EntryError> {
    let (entry, hash, sig) = decode(bytes)?;
    let unsigned = &bytes[..bytes.len() - SIGNATURE_BYTES];
    if !sign::verify(&entry.author, unsigned, &sig) {
        return Err(EntryError::Signature);
    }
    Ok(Signed {
        entry,
        hash,
        bytes: bytes.to_vec(),
    })
}

/// A cursor over peer bytes: every read checks the length first.
pub(super) struct Reader<'a> {
    pub(super) data: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(super) fn take(&mut self, n: usize) -> Result<&'a [u8], EntryError> {
        if self.data.len() < n {
            return Err(EntryError::Truncated);
        }
        let (head, tail) = self.data.split_at(n);
        self.data = tail;
        Ok(head)
    }

    pub(super) fn array<const N: usize>(&mut self) -> Result<[u8; N], EntryError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    pub(super) fn u8(&mut self) -> Result<u8, EntryError> {
        Ok(self.array::<1>()?[0])
    }

    pub(super) fn u16(&mut self) -> Result<u16, EntryError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    pub(super) fn u64(&mut self) -> Result<u64, EntryError> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    pub(super) fn node(&mut self) -> Result<NodeId, EntryError> {
        Ok(NodeId(self.array()?))
    }

    fn nodes(&mut self, count: usize) -> Result<Vec<NodeId>, EntryError> {
        if self.data.len() < count * 32 {
            return Err(EntryError::Truncated);
        }
        (0..count).map(|_| self.node()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::Identity;
    use proptest::prelude::*;

    fn key(n: u8) -> NodeId {
        NodeId([n; 32])
    }

    fn base(op: Op) -> Entry {
        Entry {
            group: GroupId([7; 16]),
            author: Identity::from_secret([1; 32]).public(),
            seq: 2,
            lamport: 5,
            prev: [3; 32],
            sent_at_ms: 1_700_000_000_000,
            op,
        }
    }

    fn ops() -> Vec<Op> {
        vec![
            Op::Invite(vec![key(2), key(3)]),
            Op::Leave,
            Op::Remove {
                member: key(2),
                upto: 9,
            },
            Op::Rename("午饭群".into()),
            Op::Handover(key(3)),
            Op::Text {
                text: "hi @bob".into(),
                mentions: Mentions {
                    all: false,
                    keys: vec![key(2)],
                },
            },
            Op::Text {
                text: "everyone".into(),
                mentions: Mentions {
                    all: true,
                    keys: vec![],
                },
            },
            Op::Reply {
                quote: Quote {
                    id: MsgId(4),
                    author: key(2),
                    excerpt: "earlier".into(),
                },
                text: "yes".into(),
                mentions: Mentions::default(),
            },
            Op::Recall(MsgId(99)),
        ]
    }

    fn create() -> Entry {
        Entry {
            group: GroupId([0; 16]),
            seq: 1,
            lamport: 1,
            prev: [0; 32],
            ..base(Op::Create {
                nonce: [9; 16],
                name: "lunch".into(),
                members: vec![key(2), key(3)],
            })
        }
    }

    fn signer() -> Signer {
        Signer::new(&Identity::from_secret([1; 32]), 3)
    }

    #[test]
    fn every_entry_round_trips_and_verifies() {
        let mut s = signer();
        let mut entries: Vec<Entry> = ops().into_iter().map(base).collect();
        entries.push(create());
        for e in entries {
            let signed = e.clone().sign(&mut s).unwrap();
            let back = verify(&signed.bytes).unwrap();
            assert_eq!(back, signed);
            assert_eq!(back.entry, e);
        }
    }

    #[test]
    fn a_create_names_its_group_by_its_hash() {
        let mut s = signer();
        let a = create().sign(&mut s).unwrap();
        assert_eq!(a.group(), group_id(&a.hash));
        let mut other = create();
        if let Op::Create { nonce, .. } = &mut other.op {
            nonce[0] ^= 1;
        }
        let b = other.sign(&mut s).unwrap();
        assert_ne!(a.group(), b.group());
        // A second signature of the same entry is the same entry.
        let again = create().sign(&mut s).unwrap();
        assert_ne!(again.bytes, a.bytes);
        assert_eq!(again.hash, a.hash);
    }

    #[test]
    fn any_changed_byte_breaks_the_signature_or_the_decoding() {
        let mut s = signer();
        let signed = base(ops()[5].clone()).sign(&mut s).unwrap();
        for i in 0..signed.bytes.len() {
            let mut bent = signed.bytes.clone();
            bent[i] ^= 0x01;
            assert!(
                verify(&bent).is_err(),
                "byte {i} changed and still verified"
            );
        }
    }

    #[test]
    fn another_key_cannot_sign_as_the_author() {
        let mut mallory = Signer::new(&Identity::from_secret([6; 32]), 1);
        assert!(base(Op::Leave).sign(&mut mallory).is_err());
        // Signed by mallory but naming the author: refused by verify.
        let e = base(Op::Leave);
        let mut bytes = e.encode_unsigned().unwrap();
        let sig = mallory.sign(&bytes);
        bytes.extend_from_slice(&sig);
        assert_eq!(verify(&bytes), Err(EntryError::Signature));
    }

    #[test]
    fn every_truncation_is_rejected() {
        let mut s = signer();
        let mut entries: Vec<Entry> = ops().into_iter().map(base).collect();
        entries.push(create());
        for e in entries {
            let signed = e.sign(&mut s).unwrap();
            for cut in 0..signed.bytes.len() {
                assert!(verify(&signed.bytes[..cut]).is_err());
            }
        }
    }

    #[test]
    fn bad_entries_are_refused_both_ways() {
        let mut bad = vec![
            Entry {
                seq: 0,
                ..base(Op::Leave)
            },
            Entry {
                lamport: 0,
                ..base(Op::Leave)
            },
            Entry {
                lamport: MAX_LAMPORT,
                ..base(Op::Leave)
            },
            Entry {
                prev: [0; 32],
                ..base(Op::Leave)
            },
            Entry {
                seq: 1,
                ..base(Op::Leave)
            },
            Entry {
                group: GroupId([0; 16]),
                ..base(Op::Leave)
            },
            base(Op::Invite(vec![])),
            base(Op::Invite(vec![key(2), key(2)])),
            base(Op::Invite((0..=255u8).map(key).collect())),
            base(Op::Rename(String::new())),
            base(Op::Rename("x".repeat(MAX_NAME_BYTES + 1))),
            base(Op::Handover(Identity::from_secret([1; 32]).public())),
            base(Op::Text {
                text: String::new(),
                mentions: Mentions::default(),
            }),
            base(Op::Text {
                text: "x".repeat(MAX_TEXT_BYTES + 1),
                mentions: Mentions::default(),
            }),
            base(Op::Text {
                text: "x".into(),
                mentions: Mentions {
                    all: false,
                    keys: vec![key(2), key(2)],
                },
            }),
            base(Op::Text {
                text: "x".into(),
                mentions: Mentions {
                    all: false,
                    keys: (0..33u8).map(key).collect(),
                },
            }),
            base(Op::Recall(MsgId(0))),
            base(Op::Reply {
                quote: Quote {
                    id: MsgId(0),
                    author: key(2),
                    excerpt: String::new(),
                },
                text: "x".into(),
                mentions: Mentions::default(),
            }),
        ];
        // A create that is not the first entry, or lists its author, or sits in a group.
        bad.push(Entry {
            seq: 2,
            prev: [1; 32],
            ..create()
        });
        bad.push(Entry {
            lamport: 2,
            ..create()
        });
        bad.push(Entry {
            group: GroupId([1; 16]),
            ..create()
        });
        let mut with_self = create();
        if let Op::Create { members, .. } = &mut with_self.op {
            members.push(with_self.author);
        }
        bad.push(with_self);
        for e in bad {
            assert!(e.encode_unsigned().is_err(), "encoded {e:?}");
            // Forced onto the wire past the check, the decoder refuses it too.
            let bytes = force_encode(&e);
            assert!(decode(&bytes).is_err(), "decoded {e:?}");
        }
    }

    /// Encodes without the checks, as a hostile peer would.
    fn force_encode(e: &Entry) -> Vec<u8> {
        let mut bytes = e.write();
        bytes.extend_from_slice(&[0; SIGNATURE_BYTES]);
        bytes
    }

    #[test]
    fn oversized_entries_are_refused_before_parsing() {
        let bytes = vec![VERSION; MAX_ENTRY_BYTES + 1];
        assert_eq!(
            decode(&bytes),
            Err(EntryError::TooLarge(MAX_ENTRY_BYTES + 1))
        );
        // The largest text fits.
        let mut s = signer();
        let e = base(Op::Text {
            text: "字".repeat(MAX_TEXT_BYTES / 3),
            mentions: Mentions::default(),
        });
        assert!(e.sign(&mut s).is_ok());
    }

    fn arb_op() -> impl Strategy<Value = Op> {
        let keys = proptest::collection::btree_set(any::<[u8; 32]>(), 0..4)
            .prop_map(|s| s.into_iter().map(NodeId).collect::<Vec<_>>());
        prop_oneof![
            keys.clone()
                .prop_filter("not empty", |k| !k.is_empty())
                .prop_map(Op::Invite),
            Just(Op::Leave),
            (any::<[u8; 32]>(), any::<u64>()).prop_map(|(m, upto)| Op::Remove {
                member: NodeId(m),
                upto
            }),
            "\\PC{1,20}".prop_map(Op::Rename),
            (keys.clone(), any::<bool>(), "\\PC{1,40}").prop_map(|(keys, all, text)| Op::Text {
                text,
                mentions: Mentions { all, keys }
            }),
            (keys, 1u64.., "\\PC{0,20}", "\\PC{1,40}").prop_map(|(keys, id, ex, text)| {
                Op::Reply {
                    quote: Quote::of(MsgId(id), NodeId([5; 32]), &ex),
                    text,
                    mentions: Mentions { all: false, keys },
                }
            }),
            (1u64..).prop_map(|t| Op::Recall(MsgId(t))),
        ]
    }

    proptest! {
        #[test]
        fn entries_round_trip(op in arb_op(), seq in 2u64.., lamport in 1u64..MAX_LAMPORT, at in any::<i64>()) {
            let mut s = signer();
            let e = Entry { seq, lamport, sent_at_ms: at, ..base(op) };
            if e.encode_unsigned().is_ok() {
                let signed = e.clone().sign(&mut s).unwrap();
                prop_assert_eq!(verify(&signed.bytes).unwrap().entry, e);
            }
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = verify(&bytes);
        }

        #[test]
        fn decode_never_panics_after_a_valid_head(kind in 0u8..20, tail in proptest::collection::vec(any::<u8>(), 0..600)) {
            let mut bytes = base(Op::Leave).encode_unsigned().unwrap();
            bytes.pop();
            bytes.push(kind);
            bytes.extend_from_slice(&tail);
            let _ = verify(&bytes);
        }
    }
}
