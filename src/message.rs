//! A message in a conversation's history, and what goes with it: who wrote it, which page of
//! history to fetch, a search hit, and the one rule for the name someone is shown under.
//!
//! This sits below both [`crate::app`] and [`crate::store`]: the store reads messages out as
//! these types and the app holds them as they are, so a received message keeps one type from
//! the store's reply to the model. It knows only the id types of [`crate::proto`].

use crate::proto::files::{self, Direction, FileKind, Problem, TransferId, TransferState};
use crate::proto::{ConversationId, DeliveryState, MsgId, NodeId, Quote};
use std::net::SocketAddr;
use std::ops::Range;
use std::path::PathBuf;

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Author {
    Me,
    Peer(NodeId),
    /// A plain-text peer, known only by its address.
    Raw(SocketAddr),
    /// An IP Messenger, iptux or FeiQ peer, known by its IPv4 address.
    Ipmsg(std::net::Ipv4Addr),
}

impl Author {
    /// The peer or address that wrote it; `None` for mine.
    pub fn who(&self) -> Option<ConversationId> {
        match self {
            Author::Me => None,
            Author::Peer(id) => Some(ConversationId::Peer(*id)),
            Author::Raw(addr) => Some(ConversationId::Raw(*addr)),
            Author::Ipmsg(ip) => Some(ConversationId::Ipmsg(*ip)),
        }
    }
}

impl From<ConversationId> for Author {
    /// The author of what arrives in a conversation: its peer.
    fn from(c: ConversationId) -> Author {
        match c {
            ConversationId::Peer(id) => Author::Peer(id),
            ConversationId::Raw(addr) => Author::Raw(addr),
            ConversationId::Ipmsg(ip) => Author::Ipmsg(ip),
        }
    }
}

/// A message as the app shows it and the store gives it back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub id: MsgId,
    pub author: Author,
    /// When it was sent (mine) or received (theirs), Unix milliseconds on this machine's
    /// clock. A peer's own timestamp is not trusted for display.
    pub time_ms: i64,
    pub text: String,
    /// Delivery state of my messages; `None` for received ones.
    pub state: Option<DeliveryState>,
    /// Position in the store (arrival order), once stored.
    pub seq: Option<i64>,
    /// The message this one replies to.
    pub quote: Option<Quote>,
    /// The quoted message was found in this conversation, so `quote` holds its real author
    /// and the start of its real text. Otherwise `quote` is only what the sender claims.
    pub quote_found: bool,
    /// Its author took it back: the text is gone.
    pub recalled: bool,
    /// A file offered in it, either way: the message is its bubble (and `text` its name).
    pub file: Option<FileCard>,
}

/// A file message's transfer, as its bubble shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileCard {
    pub id: TransferId,
    /// The name as offered: the peer's word when incoming (shown through
    /// `text::sanitize`, never used as a path).
    pub name: String,
    pub size: u64,
    pub direction: Direction,
    pub state: TransferState,
    /// Bytes through so far.
    pub done: u64,
    /// Incoming: where the file goes once accepted (where it is once done). Outgoing: the
    /// file offered.
    pub path: Option<PathBuf>,
    /// Why it stopped or waits: a [`Problem`] code, or older text.
    pub problem: Option<String>,
    /// A picture's preview is ready and takes this many rows under the bubble (the app
    /// sets it when the runtime made one; the store never keeps it).
    pub preview_rows: u16,
}

impl FileCard {
    /// What kind of file it is, from its name.
    pub fn kind(&self) -> FileKind {
        files::kind_of(&self.name)
    }

    pub fn problem(&self) -> Option<Problem> {
        self.problem.as_deref().and_then(Problem::parse)
    }
}

impl Message {
    /// A message with nothing but the essentials (no quote, not recalled, not stored).
    pub fn new(id: MsgId, author: Author, time_ms: i64, text: String) -> Message {
        Message {
            id,
            author,
            time_ms,
            text,
            state: None,
            seq: None,
            quote: None,
            quote_found: false,
            recalled: false,
            file: None,
        }
    }
}

/// Which page of a conversation to fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    /// The newest messages.
    Latest,
    /// The oldest messages.
    Oldest,
    /// Messages older than this position.
    Before(i64),
    /// Messages newer than this position.
    After(i64),
    /// Messages around this position (a search hit).
    Around(i64),
}

/// One search hit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub conversation: ConversationId,
    pub seq: i64,
    pub id: MsgId,
    pub author: Author,
    /// `received_at_ms`: this machine's clock, what the UI shows.
    pub time_ms: i64,
    pub text: String,
    /// Byte ranges of the query in `text` (case-insensitive), for highlighting.
    pub matches: Vec<Range<usize>>,
}

/// The short id of a peer (the first 8 hex digits of its key) or of a plain-text peer (its
/// address): what it is shown as when nothing better is known.
pub fn short_id(who: &ConversationId) -> String {
    match who {
        ConversationId::Peer(id) => id.short(),
        ConversationId::Raw(addr) => addr.to_string(),
        ConversationId::Ipmsg(ip) => ip.to_string(),
    }
}

/// The name chosen for `who`, if any: my alias for it, else the name it gave in its
/// handshake. Only a lanchat peer has a handshake, so `name` counts for one, and for an
/// IP Messenger peer, whose entry names it (unauthenticated, and marked so on screen).
pub fn chosen_name<'a>(
    who: &ConversationId,
    alias: Option<&'a str>,
    name: Option<&'a str>,
) -> Option<&'a str> {
    match who {
        ConversationId::Peer(_) => alias.or(name),
        ConversationId::Ipmsg(_) => alias.or(name),
        ConversationId::Raw(_) => alias,
    }
}

/// The name `who` is shown under, everywhere (the screen, notifications, the pipe, the
/// exports): my alias for it, else the name from its handshake, else its short id. Peer
/// text: the caller makes it safe to show.
pub fn display_name(who: &ConversationId, alias: Option<&str>, name: Option<&str>) -> String {
    chosen_name(who, alias, name).map_or_else(|| short_id(who), str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alias_then_handshake_name_then_short_id() {
        let peer = ConversationId::Peer(NodeId([0xab; 32]));
        assert_eq!(display_name(&peer, Some("Bob"), Some("bob-laptop")), "Bob");
        assert_eq!(display_name(&peer, None, Some("bob-laptop")), "bob-laptop");
        assert_eq!(display_name(&peer, None, None), "abababab");
        let raw = ConversationId::Raw("192.168.1.20:9999".parse().unwrap());
        assert_eq!(display_name(&raw, Some("printer"), None), "printer");
        // A plain-text peer has no handshake: a name for it is not its own.
        assert_eq!(
            display_name(&raw, None, Some("claimed")),
            "192.168.1.20:9999"
        );
        assert_eq!(chosen_name(&raw, None, Some("claimed")), None);
    }
}
