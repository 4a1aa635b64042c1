//! Group frames: what members send each other to spread entries, byte by byte.
//!
//! A frame travels from one member to another inside their encrypted per-peer session
//! (the transport says who sent it); entries inside it are signed by their authors, so a
//! member relays other members' entries without being able to change them.
//!
//! ```text
//! frame     version:u8 kind:u8 group[16] flags:u8 ...
//! kind 1 push     count:u8 (len:u16 entry)*count
//!                 flags: 1 = more to come (ask again at once)
//!                 count 1..=MAX_PUSH_ENTRIES; each entry ≤ entry::MAX_ENTRY_BYTES
//! kind 2 summary  [read_lamport:u64 read_author[8]] count:u16 have*count
//!                 flags: 1 = a reply (push, but do not answer with a summary),
//!                        2 = a read mark is present
//!   have   author[8] floor:u64 hi:u64 gaps:u8 (lo:u64 hi:u64)*gaps
//!          what the sender holds of one author's entries: every seq in floor+1..=hi
//!          but the gaps (inclusive ranges, highest first, not touching, inside it);
//!          seqs up to floor are not wanted. Authors by the first 8 bytes of their key,
//!          distinct, at most MAX_SUMMARY_AUTHORS; an author not listed: nothing held.
//!   read   everything up to (lamport, author) in the group's order is read
//! ```
//!
//! A whole frame is at most [`MAX_FRAME_BYTES`], so it fits one chat message of the
//! per-peer stream.

use super::entry::{EntryError, GroupId, MAX_ENTRY_BYTES, Reader};
use thiserror::Error;

pub const VERSION: u8 = 1;
/// Entries one push carries at most.
pub const MAX_PUSH_ENTRIES: usize = 64;
/// A frame's bytes at most: inside one message of the per-peer stream (64 KiB).
pub const MAX_FRAME_BYTES: usize = 60 * 1024;
/// Authors one summary lists at most.
pub const MAX_SUMMARY_AUTHORS: usize = 512;
/// Gaps listed per author at most (the highest ones).
pub const MAX_GAPS: usize = 4;
/// Bytes of a frame before its kind's fields.
pub const FRAME_HEAD: usize = 1 + 1 + 16 + 1;

const KIND_PUSH: u8 = 1;
const KIND_SUMMARY: u8 = 2;
const FLAG_MORE: u8 = 1;
const FLAG_REPLY: u8 = 1;
const FLAG_READ: u8 = 2;

/// An author as a summary names it: the first 8 bytes of its key.
pub type AuthorTag = [u8; 8];

pub fn tag(key: &super::super::NodeId) -> AuthorTag {
    let mut t = [0u8; 8];
    t.copy_from_slice(&key.0[..8]);
    t
}

/// A position in a group's order, as a read mark carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Mark {
    pub lamport: u64,
    pub author: AuthorTag,
}

/// What one member holds of one author's entries.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Have {
    pub author: AuthorTag,
    pub floor: u64,
    pub hi: u64,
    /// Inclusive, highest first, not touching, inside `floor+1..=hi`.
    pub gaps: Vec<(u64, u64)>,
}

impl Have {
    /// Does the holder have `seq` (or not want it: at or below the floor)?
    pub fn covers(&self, seq: u64) -> bool {
        seq <= self.floor
            || (seq <= self.hi && !self.gaps.iter().any(|(lo, hi)| (*lo..=*hi).contains(&seq)))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub group: GroupId,
    /// Answers a summary: the receiver pushes what is missing but sends no summary back.
    pub reply: bool,
    pub read: Option<Mark>,
    pub have: Vec<Have>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    Push {
        group: GroupId,
        more: bool,
        /// Entries as their authors signed them (checked by the receiver).
        entries: Vec<Vec<u8>>,
    },
    Summary(Summary),
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum FrameError {
    #[error(transparent)]
    Read(#[from] EntryError),
    #[error("unsupported group frame version {0}")]
    Version(u8),
    #[error("unknown group frame kind {0}")]
    Kind(u8),
    #[error("invalid group frame: {0}")]
    Invalid(&'static str),
}

fn check_have(h: &Have) -> bool {
    let inside = h
        .gaps
        .iter()
        .all(|(lo, hi)| lo <= hi && *lo > h.floor && *hi < h.hi);
    let apart = h
        .gaps
        .windows(2)
        .all(|w| w[1].1.checked_add(1).is_some_and(|next| next < w[0].0));
    h.floor <= h.hi && h.gaps.len() <= MAX_GAPS && inside && apart
}

fn check_summary(s: &Summary) -> Result<(), &'static str> {
    if s.have.len() > MAX_SUMMARY_AUTHORS {
        return Err("too many authors");
    }
    if !s.have.iter().all(check_have) {
        return Err("have ranges");
    }
    let mut tags: Vec<AuthorTag> = s.have.iter().map(|h| h.author).collect();
    tags.sort();
    if tags.windows(2).any(|w| w[0] == w[1]) {
        return Err("an author listed twice");
    }
    Ok(())
}

fn check_push(entries: &[Vec<u8>]) -> Result<(), &'static str> {
    if entries.is_empty() || entries.len() > MAX_PUSH_ENTRIES {
        return Err("push entry count");
    }
    if entries
        .iter()
        .any(|e| e.is_empty() || e.len() > MAX_ENTRY_BYTES)
    {
        return Err("push entry length");
    }
    Ok(())
}

/// Bytes a push of entries of these lengths takes.
pub fn push_size(lens: impl IntoIterator<Item = usize>) -> usize {
    FRAME_HEAD + 1 + lens.into_iter().map(|l| 2 + l).sum::<usize>()
}

impl Frame {
    pub fn group(&self) -> GroupId {
        match self {
            Frame::Push { group, .. } => *group,
            Frame::Summary(s) => s.group,
        }
    }

    pub fn encode(&self) -> Result<Vec<u8>, FrameError> {
        let mut out = Vec::with_capacity(256);
        out.push(VERSION);
        match self {
            Frame::Push {
                group,
                more,
                entries,
            } => {
                check_push(entries).map_err(FrameError::Invalid)?;
                out.push(KIND_PUSH);
                out.extend_from_slice(&group.0);
                out.push(if *more { FLAG_MORE } else { 0 });
                out.push(entries.len() as u8);
                for e in entries {
                    out.extend_from_slice(&(e.len() as u16).to_be_bytes());
                    out.extend_from_slice(e);
                }
            }
            Frame::Summary(s) => {
                check_summary(s).map_err(FrameError::Invalid)?;
                out.push(KIND_SUMMARY);
                out.extend_from_slice(&s.group.0);
                let flags = if s.reply { FLAG_REPLY } else { 0 }
                    | if s.read.is_some() { FLAG_READ } else { 0 };
                out.push(flags);
                if let Some(m) = &s.read {
                    out.extend_from_slice(&m.lamport.to_be_bytes());
                    out.extend_from_slice(&m.author);
                }
                out.extend_from_slice(&(s.have.len() as u16).to_be_bytes());
                for h in &s.have {
                    out.extend_from_slice(&h.author);
                    out.extend_from_slice(&h.floor.to_be_bytes());
                    out.extend_from_slice(&h.hi.to_be_bytes());
                    out.push(h.gaps.len() as u8);
                    for (lo, hi) in &h.gaps {
                        out.extend_from_slice(&lo.to_be_bytes());
                        out.extend_from_slice(&hi.to_be_bytes());
                    }
                }
            }
        }
        if out.len() > MAX_FRAME_BYTES {
            return Err(FrameError::Invalid("frame too large"));
        }
        Ok(out)
    }

    /// Reads a frame. Strict: every length checked, nothing may trail. The entries of a
    /// push are only cut out here; the receiver verifies each.
    pub fn decode(bytes: &[u8]) -> Result<Frame, FrameError> {
        if bytes.len() > MAX_FRAME_BYTES {
            return Err(FrameError::Invalid("frame too large"));
        }
        let mut r = Reader { data: bytes };
        let version = r.u8()?;
        if version != VERSION {
            return Err(FrameError::Version(version));
        }
        let kind = r.u8()?;
        let group = GroupId(r.array()?);
        let flags = r.u8()?;
        let frame = match kind {
            KIND_PUSH => {
                if flags & !FLAG_MORE != 0 {
                    return Err(FrameError::Invalid("push flags"));
                }
                let count = usize::from(r.u8()?);
                let mut entries = Vec::with_capacity(count.min(MAX_PUSH_ENTRIES));
                for _ in 0..count {
                    let len = usize::from(r.u16()?);
                    entries.push(r.take(len)?.to_vec());
                }
                check_push(&entries).map_err(FrameError::Invalid)?;
                Frame::Push {
                    group,
                    more: flags & FLAG_MORE != 0,
                    entries,
                }
            }
            KIND_SUMMARY => {
                if flags & !(FLAG_REPLY | FLAG_READ) != 0 {
                    return Err(FrameError::Invalid("summary flags"));
                }
                let read = if flags & FLAG_READ != 0 {
                    Some(Mark {
                        lamport: r.u64()?,
                        author: r.array()?,
                    })
                } else {
                    None
                };
                let count = usize::from(r.u16()?);
                if count > MAX_SUMMARY_AUTHORS {
                    return Err(FrameError::Invalid("too many authors"));
                }
                let mut have = Vec::with_capacity(count);
                for _ in 0..count {
                    let author = r.array()?;
                    let floor = r.u64()?;
                    let hi = r.u64()?;
                    let n = usize::from(r.u8()?);
                    if n > MAX_GAPS {
                        return Err(FrameError::Invalid("have ranges"));
                    }
                    let mut gaps = Vec::with_capacity(n);
                    for _ in 0..n {
                        gaps.push((r.u64()?, r.u64()?));
                    }
                    have.push(Have {
                        author,
                        floor,
                        hi,
                        gaps,
                    });
                }
                let s = Summary {
                    group,
                    reply: flags & FLAG_REPLY != 0,
                    read,
                    have,
                };
                check_summary(&s).map_err(FrameError::Invalid)?;
                Frame::Summary(s)
            }
            other => return Err(FrameError::Kind(other)),
        };
        if !r.data.is_empty() {
            return Err(FrameError::Invalid("trailing bytes"));
        }
        Ok(frame)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn samples() -> Vec<Frame> {
        vec![
            Frame::Push {
                group: GroupId([1; 16]),
                more: true,
                entries: vec![vec![1, 2, 3], vec![4; 300]],
            },
            Frame::Summary(Summary {
                group: GroupId([2; 16]),
                reply: false,
                read: Some(Mark {
                    lamport: 7,
                    author: [3; 8],
                }),
                have: vec![
                    Have {
                        author: [1; 8],
                        floor: 0,
                        hi: 10,
                        gaps: vec![(8, 9), (2, 5)],
                    },
                    Have {
                        author: [2; 8],
                        floor: 4,
                        hi: 4,
                        gaps: vec![],
                    },
                ],
            }),
            Frame::Summary(Summary {
                group: GroupId([2; 16]),
                reply: true,
                read: None,
                have: vec![],
            }),
        ]
    }

    #[test]
    fn every_frame_round_trips_and_every_truncation_is_refused() {
        for f in samples() {
            let bytes = f.encode().unwrap();
            assert_eq!(Frame::decode(&bytes).unwrap(), f);
            for cut in 0..bytes.len() {
                assert!(Frame::decode(&bytes[..cut]).is_err());
            }
            let mut long = bytes.clone();
            long.push(0);
            assert!(Frame::decode(&long).is_err());
        }
    }

    #[test]
    fn inconsistent_frames_are_refused_both_ways() {
        let have = |floor, hi, gaps: Vec<(u64, u64)>| Have {
            author: [1; 8],
            floor,
            hi,
            gaps,
        };
        let summary = |have: Vec<Have>| {
            Frame::Summary(Summary {
                group: GroupId([2; 16]),
                reply: false,
                read: None,
                have,
            })
        };
        let bad = vec![
            Frame::Push {
                group: GroupId([1; 16]),
                more: false,
                entries: vec![],
            },
            Frame::Push {
                group: GroupId([1; 16]),
                more: false,
                entries: vec![vec![]],
            },
            Frame::Push {
                group: GroupId([1; 16]),
                more: false,
                entries: vec![vec![1]; MAX_PUSH_ENTRIES + 1],
            },
            summary(vec![have(5, 4, vec![])]),
            summary(vec![have(0, 10, vec![(5, 4)])]),
            summary(vec![have(0, 10, vec![(2, 3), (5, 6)])]),
            summary(vec![have(0, 10, vec![(5, 6), (4, 4)])]),
            summary(vec![have(0, 10, vec![(5, 10)])]),
            summary(vec![have(3, 10, vec![(3, 4)])]),
            summary(vec![have(
                0,
                20,
                vec![(18, 18), (15, 15), (12, 12), (9, 9), (6, 6)],
            )]),
            summary(vec![have(0, 1, vec![]), have(0, 2, vec![])]),
        ];
        for f in bad {
            assert!(f.encode().is_err(), "{f:?}");
            let bytes = force(&f);
            assert!(Frame::decode(&bytes).is_err(), "{f:?}");
        }
    }

    /// Writes a frame as a hostile peer would, without the checks.
    fn force(f: &Frame) -> Vec<u8> {
        let mut out = vec![VERSION];
        match f {
            Frame::Push { group, entries, .. } => {
                out.push(KIND_PUSH);
                out.extend_from_slice(&group.0);
                out.push(0);
                out.push(entries.len() as u8);
                for e in entries {
                    out.extend_from_slice(&(e.len() as u16).to_be_bytes());
                    out.extend_from_slice(e);
                }
            }
            Frame::Summary(s) => {
                out.push(KIND_SUMMARY);
                out.extend_from_slice(&s.group.0);
                out.push(0);
                out.extend_from_slice(&(s.have.len() as u16).to_be_bytes());
                for h in &s.have {
                    out.extend_from_slice(&h.author);
                    out.extend_from_slice(&h.floor.to_be_bytes());
                    out.extend_from_slice(&h.hi.to_be_bytes());
                    out.push(h.gaps.len() as u8);
                    for (lo, hi) in &h.gaps {
                        out.extend_from_slice(&lo.to_be_bytes());
                        out.extend_from_slice(&hi.to_be_bytes());
                    }
                }
            }
        }
        out
    }

    #[test]
    fn covers_says_what_is_held() {
        let h = Have {
            author: [1; 8],
            floor: 2,
            hi: 10,
            gaps: vec![(8, 9), (4, 5)],
        };
        let held: Vec<u64> = (0..13).filter(|s| h.covers(*s)).collect();
        assert_eq!(held, vec![0, 1, 2, 3, 6, 7, 10]);
    }

    fn arb_have() -> impl Strategy<Value = Have> {
        (
            any::<[u8; 8]>(),
            0u64..100,
            proptest::collection::btree_set(101u64..200, 0..=2 * MAX_GAPS),
            0u64..50,
        )
            .prop_map(|(author, floor, points, extra)| {
                let points: Vec<u64> = points.into_iter().collect();
                let mut gaps: Vec<(u64, u64)> = points
                    .chunks(2)
                    .filter(|c| c.len() == 2 && c[1] > c[0] + 1)
                    .map(|c| (c[0] + 1, c[1] - 1))
                    .collect();
                gaps.reverse();
                gaps.truncate(MAX_GAPS);
                Have {
                    author,
                    floor,
                    hi: 200 + extra,
                    gaps,
                }
            })
    }

    proptest! {
        #[test]
        fn summaries_round_trip(reply in any::<bool>(), read in proptest::option::of((any::<u64>(), any::<[u8; 8]>())), have in proptest::collection::vec(arb_have(), 0..5)) {
            let mut have = have;
            have.sort_by_key(|h| h.author);
            have.dedup_by_key(|h| h.author);
            let f = Frame::Summary(Summary {
                group: GroupId([4; 16]),
                reply,
                read: read.map(|(lamport, author)| Mark { lamport, author }),
                have,
            });
            let bytes = f.encode().unwrap();
            prop_assert_eq!(Frame::decode(&bytes).unwrap(), f);
        }

        #[test]
        fn pushes_round_trip(more in any::<bool>(), entries in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..200), 1..8)) {
            let f = Frame::Push { group: GroupId([5; 16]), more, entries };
            let bytes = f.encode().unwrap();
            prop_assert_eq!(Frame::decode(&bytes).unwrap(), f);
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..1500)) {
            let _ = Frame::decode(&bytes);
        }

        #[test]
        fn decode_never_panics_after_a_valid_head(kind in 0u8..4, flags in any::<u8>(), tail in proptest::collection::vec(any::<u8>(), 0..1500)) {
            let mut bytes = vec![VERSION, kind];
            bytes.extend_from_slice(&[0; 16]);
            bytes.push(flags);
            bytes.extend_from_slice(&tail);
            let _ = Frame::decode(&bytes);
        }
    }
}
