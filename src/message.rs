//! A message in a conversation's history, and what goes with it: who wrote it, which page of
//! history to fetch, a search hit, and the one rule for the name someone is shown under.
//!
//! This sits below both [`crate::app`] and [`crate::store`]: the store reads messages out as
//! these types and the app holds them as they are, so a received message keeps one type from
//! the store's reply to the model. It knows only the id types of [`crate::proto`].

use crate::proto::files::{self, Direction, FileKind, Problem, TransferId, TransferState};
pub use crate::proto::group::Change;
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

impl Author {
    /// The author of what arrives in a conversation with one peer: that peer. A group has
    /// no one author (its messages name theirs).
    pub fn of(c: ConversationId) -> Option<Author> {
        match c {
            ConversationId::Peer(id) => Some(Author::Peer(id)),
            ConversationId::Raw(addr) => Some(Author::Raw(addr)),
            ConversationId::Ipmsg(ip) => Some(Author::Ipmsg(ip)),
            ConversationId::Group(_) => None,
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
    /// A group's message or membership change: its place in the group's order, and more.
    /// (Boxed: most messages are not a group's, and the window holds a thousand.)
    pub group: Option<Box<GroupPart>>,
}

/// What a message in a group has beyond a one-to-one message (issue 14).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupPart {
    /// Its place in the group's order, the same for every member (not the order it
    /// arrived in: a late message goes where it belongs).
    pub order: GroupOrder,
    /// A membership change ("alice added bob"), shown as a system line; `None` for text.
    pub change: Option<Change>,
    /// The owner's `@all` (the group's rules let nobody else send one).
    pub all: bool,
    /// Of my messages: how many of the others hold it and have read it.
    pub tally: Option<Tally>,
}

/// A place in a group's order: the Lamport clock, then the author, then the id (an author
/// never has two entries that count at one clock, so the id only keeps it total).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GroupOrder {
    pub lamport: u64,
    pub author: NodeId,
    pub id: MsgId,
}

/// Bytes of [`GroupOrder::to_bytes`].
pub const GROUP_ORDER_BYTES: usize = 8 + 32 + 8;

impl GroupOrder {
    /// Big-endian, so that bytes compare as the order does (the store sorts by them).
    pub fn to_bytes(&self) -> [u8; GROUP_ORDER_BYTES] {
        let mut out = [0u8; GROUP_ORDER_BYTES];
        out[..8].copy_from_slice(&self.lamport.to_be_bytes());
        out[8..40].copy_from_slice(&self.author.0);
        out[40..].copy_from_slice(&self.id.0.to_be_bytes());
        out
    }

    pub fn from_bytes(b: &[u8]) -> Option<GroupOrder> {
        if b.len() != GROUP_ORDER_BYTES {
            return None;
        }
        let mut lamport = [0u8; 8];
        lamport.copy_from_slice(&b[..8]);
        let mut author = [0u8; 32];
        author.copy_from_slice(&b[8..40]);
        let mut id = [0u8; 8];
        id.copy_from_slice(&b[40..]);
        Some(GroupOrder {
            lamport: u64::from_be_bytes(lamport),
            author: NodeId(author),
            id: MsgId(u64::from_be_bytes(id)),
        })
    }
}

/// Of my group message: the others that hold it and have read it, out of how many.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tally {
    pub delivered: usize,
    pub read: usize,
    pub of: usize,
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
            group: None,
        }
    }

    /// A group's membership change, shown as a system line.
    pub fn change(&self) -> Option<&Change> {
        self.group.as_ref().and_then(|g| g.change.as_ref())
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
        ConversationId::Group(g) => g.short(),
        ConversationId::Ipmsg(ip) => ip.to_string(),
    }
}

/// The name chosen for `who`, if any: my alias for it, else the name it gave in its
/// handshake. Only a lanchat peer has a handshake, so `name` counts for one, and for an
/// IP Messenger peer, whose entry names it (unauthenticated, and marked so on screen). A
/// group's `name` is the one its members gave it (signed, the same for every member).
pub fn chosen_name<'a>(
    who: &ConversationId,
    alias: Option<&'a str>,
    name: Option<&'a str>,
) -> Option<&'a str> {
    match who {
        ConversationId::Peer(_) | ConversationId::Group(_) => alias.or(name),
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
