//! Groups without a server (issue 14), sans-IO: no clock, no sockets, no files.
//!
//! A group is a set of signed entries ([`entry`]): its create, membership changes and
//! messages. Members spread them to each other over their encrypted per-peer sessions
//! ([`frame`]), and each member derives the same group from the same entries
//! ([`state`]). [`Groups`] holds this node's groups and runs the sync ([`node`]).
//!
//! Who may do what, and why nobody can cheat:
//! - **Every entry is signed by its author** with the identity key peers already know
//!   (XEdDSA over the X25519 key, [`sign`]). Any member may relay any entry; a relay that
//!   changes a byte breaks the signature, and the entry is dropped and counted
//!   ([`GroupStats::bad_signature`]). An entry's place in the order (its Lamport clock,
//!   author and number) is inside what is signed, so nobody can re-order another
//!   member's entries either.
//! - **The group's id is its create's hash**: nobody can make another create for it.
//! - **Membership is derived, not told**: members, owner and name follow from the
//!   membership changes in the group's order, each checked against the state before it
//!   (the author a member; removal and handover by the owner only; at most
//!   [`MAX_MEMBERS`]). A change that fails is held but never counts, and never shown.
//! - **Messages count only from members** at their place in the order; `@all` only from
//!   the owner; a recall only from the author, within two minutes by its own clock. An
//!   author cannot back-date an entry before one it wrote earlier (chains, see
//!   [`state`]); a removed member's entries the remover had not seen are void.
//! - **Frames count only from members**: a frame is taken only from a key that is or was
//!   a member of its group ([`GroupStats::unauthorized`] otherwise); a push for an unknown
//!   group only if it holds the group's create and makes this node a member (an
//!   invitation), at most [`MAX_GROUPS`] groups.
//! - **A former member gets nothing written after it left or was removed**: members serve
//!   it only entries up to the change that ended its membership.
//! - **Bounded**: entries and frames have size limits ([`entry::MAX_ENTRY_BYTES`],
//!   [`frame::MAX_FRAME_BYTES`]); a push carries at most [`frame::MAX_PUSH_ENTRIES`]; a
//!   group holds at most [`state::MAX_HELD_MESSAGES`] messages (the catch-up window),
//!   [`state::MAX_STRANGER_ENTRIES`] from non-members and [`state::MAX_MEMBERSHIP_OPS`]
//!   changes.
//!
//! Sync (anti-entropy): an author pushes each new entry to the members online. Every
//! member sends a summary (what it holds of each author: numbers, and its read mark) to
//! one random online member per [`GroupConfig::gossip_every`], to a member that comes
//! online, and to the authors of entries it just received (its delivery receipt, after
//! [`GroupConfig::ack_delay`]). Whoever receives a summary pushes what the sender lacks
//! (at most one push; the receiver asks again at once while `more` is set), and answers
//! with its own summary if the sender holds something it lacks. So a member that was away
//! catches up from any member online, whether or not the authors are.

pub mod entry;
pub mod frame;
mod node;
pub mod sign;
pub mod state;
#[cfg(test)]
mod tests;

pub use entry::{GroupId, MAX_MEMBERS, Mentions, Op};
pub use node::{GroupConfig, GroupError, GroupEvent, GroupStats, Groups, MAX_GROUPS};
pub use state::{Change, Key, Posted, What};
