//! History on disk: SQLite (rusqlite, bundled) with messages, conversations, peers, the
//! outbox, unread counts and full-text search.
//!
//! Everything here is synchronous. The runtime gives the [`Store`] to a thread of its own and
//! talks to it over channels; nothing in this module knows about the UI or the protocol
//! beyond the id types in [`crate::proto`].
//!
//! Layout (see [`schema`] for the SQL):
//! - `conversations`: one row per conversation, keyed by its text key (a peer's key as 64 hex
//!   digits, or a plain-text peer's `ip:port`), with alias, pinned, muted, draft, the read
//!   mark, and an unread count and last activity time kept up to date as messages come in.
//! - `authors`: the text keys of message authors (`me`, 64 hex digits, `ip:port`), interned so
//!   that a message row carries two small integers instead of two 64-character keys.
//! - `messages`: `seq` (the rowid, order of arrival) is what the UI pages by; `(author, id)` is
//!   unique, so a message received twice is stored once.
//! - `messages_fts`: FTS5 trigram index over the text (external content). New rows are indexed
//!   by [`Store::insert_messages`] in its transaction, one statement per batch, or later in
//!   large chunks by [`Store::index_pending`] (see [`Store::defer_indexing`]);
//!   `search_mark` says how far the index goes. Deletes and text updates of indexed rows are
//!   kept in sync by triggers.
//! - `peers`, `outbox` (a file message kept as its wire bytes).
//! - `transfers`: files either way, their state and progress (see [`TransferRow`]).

mod export;
mod groups;
mod schema;
mod search;
#[cfg(test)]
mod tests;
mod transfers;

pub use export::ExportFormat;
pub use groups::{GroupApplied, GroupBatch, GroupInfoRow, GroupRestore, NewGroupMessage};
pub use schema::{APPLICATION_ID, SCHEMA_VERSION};
pub use search::SHORT_QUERY_SCAN;
pub use transfers::TransferRow;

pub use crate::message::Author;
use crate::message::{FileCard, GroupPart, Message};
use crate::proto::wire::Content;
use crate::proto::{Body, ConversationId, DeliveryState, MsgId, NodeId, Quote};
use rusqlite::types::Type;
use rusqlite::{Connection, OptionalExtension, Row, params};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Characters of the last message that [`Store::conversations`] returns as its preview.
pub const PREVIEW_CHARS: i64 = 200;

/// Stranger conversations kept at most: plain-text addresses I never wrote to, not pinned
/// and not renamed (anyone can send from any address). Beyond this, the least recently
/// active go, messages and all. The app keeps as many in memory (`app::MAX_STRANGERS`).
pub const MAX_STRANGERS: usize = 256;
/// Messages kept per stranger conversation: the newest.
pub const MAX_STRANGER_MESSAGES: usize = 100;

/// The SQL condition (on `conversations`) for a stranger: a plain-text key (`ip:port`, the
/// only kind with a colon), nothing written by me, not pinned, no alias.
const STRANGER: &str = "instr(key, ':') > 0 AND wrote = 0 AND pinned = 0 AND alias IS NULL";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{}: not a lanchat history database ({reason}); the file was left untouched", path.display())]
    NotLanchat { path: PathBuf, reason: String },
    #[error(
        "{}: written by a newer lanchat (schema version {found}, this build knows up to {known}); the file was left untouched",
        path.display()
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error("{}: the database is damaged (quick_check: {detail}); the file was left untouched", path.display())]
    Damaged { path: PathBuf, detail: String },
    #[error("{}: cannot open the history database: {source}", path.display())]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: upgrading to schema version {version} failed: {source}", path.display())]
    Migrate {
        path: PathBuf,
        version: i64,
        source: rusqlite::Error,
    },
    #[error("{}: {source}", path.display())]
    Sqlite {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("writing the export failed: {0}")]
    Write(#[source] std::io::Error),
}

impl StoreError {
    /// The error as the user reads it in `lang` (in English, exactly its `Display`). What
    /// SQLite or the system says inside it stays as they say it.
    pub fn text(&self, lang: crate::i18n::Lang) -> String {
        use crate::tr;
        let p = |path: &PathBuf| path.display().to_string();
        match self {
            StoreError::NotLanchat { path, reason } => {
                tr!(
                    lang,
                    "store-not-lanchat",
                    path = p(path),
                    reason = reason.clone()
                )
            }
            StoreError::TooNew { path, found, known } => tr!(
                lang,
                "store-too-new",
                path = p(path),
                found = *found,
                known = *known
            ),
            StoreError::Damaged { path, detail } => {
                tr!(
                    lang,
                    "store-damaged",
                    path = p(path),
                    detail = detail.clone()
                )
            }
            StoreError::Open { path, source } => {
                tr!(
                    lang,
                    "store-open",
                    path = p(path),
                    detail = source.to_string()
                )
            }
            StoreError::Io { path, source } => {
                tr!(
                    lang,
                    "store-io",
                    path = p(path),
                    detail = source.to_string()
                )
            }
            StoreError::Sqlite { path, source } => {
                tr!(
                    lang,
                    "store-io",
                    path = p(path),
                    detail = source.to_string()
                )
            }
            StoreError::Migrate {
                path,
                version,
                source,
            } => tr!(
                lang,
                "store-migrate",
                path = p(path),
                version = *version,
                detail = source.to_string()
            ),
            StoreError::Write(e) => tr!(lang, "store-write", detail = e.to_string()),
        }
    }
}

impl StoreError {
    /// The disk (or the database's size limit) is full: the write was rolled back and the
    /// store is still usable once space is freed.
    pub fn is_disk_full(&self) -> bool {
        let sqlite = match self {
            StoreError::Sqlite { source, .. }
            | StoreError::Open { source, .. }
            | StoreError::Migrate { source, .. } => source,
            StoreError::Io { source, .. } | StoreError::Write(source) => {
                return source.kind() == std::io::ErrorKind::StorageFull;
            }
            _ => return false,
        };
        sqlite.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull)
    }
}

/// Attaches the database path to rusqlite errors.
trait At<T> {
    fn at(self, path: &Path) -> Result<T, StoreError>;
}

impl<T> At<T> for rusqlite::Result<T> {
    fn at(self, path: &Path) -> Result<T, StoreError> {
        self.map_err(|source| StoreError::Sqlite {
            path: path.to_path_buf(),
            source,
        })
    }
}

/// The text keys of authors, as the `authors` table holds them.
impl Author {
    /// The text key stored in the `authors` table: `me`, 64 hex digits, or `ip:port`.
    pub fn key(&self) -> String {
        match self {
            Author::Me => "me".to_owned(),
            Author::Peer(id) => id.to_hex(),
            Author::Raw(addr) => addr.to_string(),
            Author::Ipmsg(ip) => format!("ipmsg:{ip}"),
        }
    }

    pub fn from_key(s: &str) -> Option<Author> {
        if s == "me" {
            return Some(Author::Me);
        }
        conversation_from_key(s).and_then(Author::of)
    }
}

/// What a group's conversation key starts with (no colon: a key with one is a plain-text
/// peer's, see [`STRANGER`]).
pub const GROUP_KEY_PREFIX: &str = "group-";

/// The text key of a conversation: 64 hex digits for a peer, `ip:port` for a plain-text peer,
/// `group-` and 32 hex digits for a group.
pub fn conversation_key(c: &ConversationId) -> String {
    match c {
        ConversationId::Peer(id) => id.to_hex(),
        ConversationId::Raw(addr) => addr.to_string(),
        ConversationId::Group(g) => format!("{GROUP_KEY_PREFIX}{g}"),
        ConversationId::Ipmsg(ip) => format!("ipmsg:{ip}"),
    }
}

pub fn conversation_from_key(s: &str) -> Option<ConversationId> {
    if let Some(hex) = s.strip_prefix(GROUP_KEY_PREFIX) {
        crate::proto::group::GroupId::from_hex(hex).map(ConversationId::Group)
    } else if let Some(ip) = s.strip_prefix("ipmsg:") {
        ip.parse().ok().map(ConversationId::Ipmsg)
    } else if s.len() == 64 {
        NodeId::from_hex(s).map(ConversationId::Peer)
    } else {
        s.parse::<SocketAddr>().ok().map(ConversationId::Raw)
    }
}

fn state_from_str(s: &str) -> Option<DeliveryState> {
    Some(match s {
        "queued" => DeliveryState::Queued,
        "sending" => DeliveryState::Sending,
        "sent" => DeliveryState::Sent,
        "delivered" => DeliveryState::Delivered,
        "read" => DeliveryState::Read,
        "failed" => DeliveryState::Failed,
        _ => return None,
    })
}

/// A message to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    pub conversation: ConversationId,
    pub id: MsgId,
    pub author: Author,
    /// The sender's clock.
    pub sent_at_ms: i64,
    /// This machine's clock (for mine: when I sent it). What the UI shows and sorts by.
    pub received_at_ms: i64,
    pub text: String,
    /// Delivery state of my messages; `None` for received ones.
    pub state: Option<DeliveryState>,
    /// The message this one replies to.
    pub quote: Option<Quote>,
}

/// Unread messages per conversation searched for mentions at start (see
/// [`Store::unread_containing`]).
pub const MENTION_SCAN_DEPTH: i64 = 2000;

/// A message as the history holds it: a [`Message`] with the columns only the store needs
/// (its conversation, the sender's clock, whether it is read). The app gets the [`Message`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    /// Order of arrival, unique across all conversations, never reused.
    pub seq: i64,
    pub conversation: ConversationId,
    pub id: MsgId,
    pub author: Author,
    pub sent_at_ms: i64,
    pub received_at_ms: i64,
    pub text: String,
    pub state: Option<DeliveryState>,
    /// Mine, or at or below the conversation's read mark.
    pub read: bool,
    /// What it replies to. When `quote_found`, the author and the start of the text are the
    /// quoted message's own, looked up in this conversation; otherwise they are only what
    /// the sender claims.
    pub quote: Option<Quote>,
    pub quote_found: bool,
    /// Its author took it back; the text is gone.
    pub recalled: bool,
    /// The file it offers, if it is a file message.
    pub file: Option<FileCard>,
    /// A group's message: its place in the group's order, or a membership change.
    pub group: Option<Box<GroupPart>>,
}

impl From<StoredMessage> for Message {
    /// The message as the app shows it: this machine's clock, its place in the history.
    fn from(m: StoredMessage) -> Message {
        Message {
            id: m.id,
            author: m.author,
            time_ms: m.received_at_ms,
            text: m.text,
            state: m.state,
            seq: Some(m.seq),
            quote: m.quote,
            quote_found: m.quote_found,
            recalled: m.recalled,
            file: m.file,
            group: m.group,
        }
    }
}

impl NewMessage {
    /// The message as the app shows it once stored at `seq`. Its quote is not checked yet
    /// (the app checks it, against what it holds and then the store), and it is not recalled.
    pub fn stored(self, seq: i64) -> Message {
        Message {
            state: self.state,
            seq: Some(seq),
            quote: self.quote,
            ..Message::new(self.id, self.author, self.received_at_ms, self.text)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationRow {
    pub id: ConversationId,
    pub alias: Option<String>,
    pub pinned: bool,
    pub muted: bool,
    pub draft: String,
    pub last_read_seq: i64,
    /// Messages not by me with `seq > last_read_seq`.
    pub unread: u32,
    /// Largest `received_at_ms` of its messages; 0 when it has none.
    pub last_activity_ms: i64,
    /// The first [`PREVIEW_CHARS`] characters of the last message (by `seq`).
    pub last_preview: Option<String>,
    /// Who wrote the last message.
    pub last_author: Option<Author>,
    /// The last message was recalled.
    pub last_recalled: bool,
    pub last_id: Option<MsgId>,
    /// I have written in it.
    pub wrote: bool,
    /// The last message's place in its group, or the membership change it is.
    pub last_group: Option<Box<GroupPart>>,
}

impl ConversationRow {
    /// Its newest message, the text cut to the preview, for the sidebar.
    pub fn last_message(&self) -> Option<Message> {
        let (id, author) = (self.last_id?, self.last_author?);
        Some(Message {
            recalled: self.last_recalled,
            group: self.last_group.clone(),
            ..Message::new(
                id,
                author,
                self.last_activity_ms,
                self.last_preview.clone().unwrap_or_default(),
            )
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerRow {
    pub id: NodeId,
    pub name: String,
    pub addr: SocketAddr,
    pub last_seen_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRow {
    pub id: MsgId,
    pub to: NodeId,
    pub sent_at_ms: i64,
    pub body: Body,
}

pub struct Store {
    conn: Connection,
    /// For error messages; `:memory:` for an in-memory store.
    path: PathBuf,
    /// This node, so that a quote of my own message is stored as `me` and read back as
    /// this node's id (unset: such quotes read back with an all-zero id).
    me: Option<NodeId>,
    /// New messages are left out of the search index until [`Store::index_pending`] runs
    /// (see [`Store::defer_indexing`]).
    defer_index: bool,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

/// A decoding failure inside a row: surfaces as an error, never a panic.
#[derive(Debug)]
struct BadValue(String);

impl std::fmt::Display for BadValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadValue {}

fn bad(idx: usize, what: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, Box::new(BadValue(what)))
}

pub(crate) fn col_author(row: &Row<'_>, idx: usize) -> rusqlite::Result<Author> {
    let s: String = row.get(idx)?;
    Author::from_key(&s).ok_or_else(|| bad(idx, format!("bad author key {s:?}")))
}

pub(crate) fn col_conversation(row: &Row<'_>, idx: usize) -> rusqlite::Result<ConversationId> {
    let s: String = row.get(idx)?;
    conversation_from_key(&s).ok_or_else(|| bad(idx, format!("bad conversation key {s:?}")))
}

fn col_node(row: &Row<'_>, idx: usize) -> rusqlite::Result<NodeId> {
    let s: String = row.get(idx)?;
    NodeId::from_hex(&s).ok_or_else(|| bad(idx, format!("bad peer key {s:?}")))
}

fn col_addr(row: &Row<'_>, idx: usize) -> rusqlite::Result<SocketAddr> {
    let s: String = row.get(idx)?;
    s.parse()
        .map_err(|_| bad(idx, format!("bad socket address {s:?}")))
}

pub(crate) fn col_msg_id(row: &Row<'_>, idx: usize) -> rusqlite::Result<MsgId> {
    Ok(MsgId(row.get::<_, i64>(idx)?.cast_unsigned()))
}

fn col_state(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<DeliveryState>> {
    match row.get::<_, Option<String>>(idx)? {
        None => Ok(None),
        Some(s) => state_from_str(&s)
            .map(Some)
            .ok_or_else(|| bad(idx, format!("bad delivery state {s:?}"))),
    }
}

fn sql_id(id: MsgId) -> i64 {
    id.0.cast_signed()
}

fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// The columns every message query selects, in this order, from [`MESSAGE_FROM`]: the
/// message (`m`), its author's key (`a`), and the text of the message it quotes (`o`), if
/// that is in the same conversation.
const MESSAGE_COLUMNS: &str = "m.seq, m.id, a.key, m.sent_at_ms, m.received_at_ms, m.text, m.state, \
     m.quote_id, m.quote_author, m.quote_excerpt, m.recalled, o.text, o.recalled, \
     t.id, t.name, t.size, t.direction, t.state, t.bytes_done, t.local_path, t.source_path, \
     t.error, m.ord, m.change, m.at_all";

/// What [`MESSAGE_COLUMNS`] select from. CROSS JOIN keeps `messages` the outer loop (so the
/// (conversation, seq) index gives the order); the quoted original is found by its author
/// and id, the unique key, and must be in the reply's own conversation; a file message's
/// transfer by its id.
const MESSAGE_FROM: &str = "messages m CROSS JOIN authors a ON a.aid = m.author
     LEFT JOIN authors qa ON qa.key = m.quote_author
     LEFT JOIN messages o ON o.author = qa.aid AND o.id = m.quote_id
                         AND o.conversation = m.conversation
     LEFT JOIN transfers t ON t.id = m.transfer";

/// A quote from three columns (id, author key, excerpt) starting at `idx`; `None` if the id
/// is NULL. The author is `me` (this node, `me` given) or 64 hex digits.
fn col_quote(row: &Row<'_>, idx: usize, me: Option<NodeId>) -> rusqlite::Result<Option<Quote>> {
    let Some(id) = row.get::<_, Option<i64>>(idx)? else {
        return Ok(None);
    };
    let key: String = row.get(idx + 1)?;
    let author = match Author::from_key(&key) {
        Some(Author::Peer(node)) => node,
        Some(Author::Me) => me.unwrap_or(NodeId([0; 32])),
        _ => return Err(bad(idx + 1, format!("bad quote author {key:?}"))),
    };
    Ok(Some(Quote {
        id: MsgId(id.cast_unsigned()),
        author,
        excerpt: row.get::<_, Option<String>>(idx + 2)?.unwrap_or_default(),
    }))
}

/// The key a quote's author is stored under: `me` when it is this node.
fn quote_author_key(q: &Quote, me: Option<NodeId>) -> String {
    if Some(q.author) == me {
        Author::Me.key()
    } else {
        q.author.to_hex()
    }
}

fn message_from_row(
    row: &Row<'_>,
    conversation: ConversationId,
    last_read_seq: i64,
    me: Option<NodeId>,
) -> rusqlite::Result<StoredMessage> {
    let seq: i64 = row.get(0)?;
    let author = col_author(row, 2)?;
    let mut quote = col_quote(row, 7, me)?;
    // The quoted original, when it is here: its own words, not the sender's version.
    let original: Option<String> = row.get(11)?;
    let quote_found = quote.is_some() && original.is_some();
    if let (Some(q), Some(text)) = (quote.as_mut(), original) {
        q.excerpt = if row.get::<_, Option<bool>>(12)?.unwrap_or(false) {
            String::new()
        } else {
            crate::proto::wire::excerpt(&text).to_owned()
        };
    }
    Ok(StoredMessage {
        seq,
        conversation,
        id: col_msg_id(row, 1)?,
        author,
        sent_at_ms: row.get(3)?,
        received_at_ms: row.get(4)?,
        text: row.get(5)?,
        state: col_state(row, 6)?,
        read: author == Author::Me || seq <= last_read_seq,
        quote,
        quote_found,
        recalled: row.get(10)?,
        file: transfers::col_card(row, 13)?,
        group: groups::col_group(row, 22, 5)?,
    })
}

/// Which way a page goes from its anchor.
#[derive(Clone, Copy)]
enum Scan {
    Latest,
    Oldest,
    /// `seq < anchor`, newest of those first.
    Before(i64),
    /// `seq > anchor`.
    After(i64),
    /// `seq >= anchor`.
    From(i64),
}

impl Store {
    /// Opens (creating if missing) the history database at `path`, upgrading its schema.
    ///
    /// A file that is not SQLite, SQLite of another program, a newer lanchat's database, or a
    /// damaged one is refused and left exactly as it was.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let conn = schema::open_file(path)?;
        Ok(Store {
            conn,
            path: path.to_path_buf(),
            me: None,
            defer_index: false,
        })
    }

    /// [`open`](Self::open) without reading the whole file first, for a fast start: call
    /// [`verify`](Self::verify) (on the store's own thread) before writing anything.
    pub fn open_unverified(path: &Path) -> Result<Store, StoreError> {
        let conn = schema::open_file_checked(path, false)?;
        Ok(Store {
            conn,
            path: path.to_path_buf(),
            me: None,
            defer_index: false,
        })
    }

    /// Looks through the whole file for damage (`PRAGMA quick_check`).
    pub fn verify(&self) -> Result<(), StoreError> {
        schema::verify(&self.conn, &self.path)
    }

    /// [`verify`](Self::verify) on a read-only connection of its own, so it can run on
    /// another thread while this store keeps serving reads.
    pub fn verify_file(path: &Path) -> Result<(), StoreError> {
        let conn = rusqlite::Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .at(path)?;
        schema::verify(&conn, path)
    }

    pub fn open_in_memory() -> Result<Store, StoreError> {
        let path = PathBuf::from(":memory:");
        let conn = schema::open_memory(&path)?;
        Ok(Store {
            conn,
            path,
            me: None,
            defer_index: false,
        })
    }

    /// Tells the store which node it belongs to (see [`Store::me`]).
    pub fn set_me(&mut self, me: NodeId) {
        self.me = Some(me);
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// From now on, [`insert_messages`](Self::insert_messages) stores messages without
    /// adding them to the search index: indexing is most of the cost of an insert, and a
    /// received message is acknowledged only once stored. Whoever turns this on calls
    /// [`index_pending`](Self::index_pending) when there is time (the store thread does when
    /// idle). [`search`](Self::search) finds the messages not indexed yet all the same.
    pub fn defer_indexing(&mut self) {
        self.defer_index = true;
    }

    /// How many of the newest messages are not in the search index yet.
    pub fn search_backlog(&self) -> Result<i64, StoreError> {
        self.conn
            .prepare_cached(
                "SELECT (SELECT coalesce(max(seq), 0) FROM messages)
                      - (SELECT indexed_seq FROM search_mark)",
            )
            .at(&self.path)?
            .query_row([], |r| r.get(0))
            .at(&self.path)
    }

    /// Adds up to `limit` of the oldest messages not yet indexed to the search index, in
    /// one transaction. Returns how many it indexed (0: the index is complete).
    pub fn index_pending(&mut self, limit: usize) -> Result<usize, StoreError> {
        let path = &self.path;
        let tx = write_tx(&mut self.conn).at(path)?;
        let n = index_after_mark(&tx, limit).at(path)?;
        tx.commit().at(path)?;
        Ok(n)
    }

    /// `PRAGMA user_version`: the number of migrations applied.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        self.conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .at(&self.path)
    }

    /// `PRAGMA integrity_check`, plus FTS5's own check of the search index against the
    /// messages (which the pragma does not compare): `"ok"`, or the problems found, one per
    /// line. Reads the whole database, after indexing what was not indexed yet.
    pub fn integrity_check(&mut self) -> Result<String, StoreError> {
        self.index_pending(usize::MAX)?;
        let mut lines = Vec::new();
        self.conn
            .pragma_query(None, "integrity_check", |r| {
                lines.push(r.get::<_, String>(0)?);
                Ok(())
            })
            .at(&self.path)?;
        let fts = self.conn.execute(
            "INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', 1)",
            [],
        );
        match fts {
            Ok(_) => {}
            Err(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseCorrupt) => {
                if lines == ["ok"] {
                    lines.clear();
                }
                lines.push(format!("search index: {e}"));
            }
            Err(e) => return Err(e).at(&self.path),
        }
        Ok(lines.join("\n"))
    }

    /// Rebuilds the search index from the messages (after [`integrity_check`]
    /// (Self::integrity_check) found it out of step). Takes a while on a large history.
    pub fn rebuild_search_index(&mut self) -> Result<(), StoreError> {
        let path = &self.path;
        let tx = write_tx(&mut self.conn).at(path)?;
        tx.execute_batch(
            "INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');
             UPDATE search_mark SET indexed_seq = (SELECT coalesce(max(seq), 0) FROM messages);",
        )
        .at(path)?;
        tx.commit().at(path)
    }

    /// Stores messages in one transaction (all or none). Returns, per message, whether it was
    /// new: `(author, id)` is unique, so a message received again is not stored twice.
    pub fn insert_messages(&mut self, ms: &[NewMessage]) -> Result<Vec<bool>, StoreError> {
        Ok(self
            .insert_messages_with_seq(ms)?
            .iter()
            .map(Option::is_some)
            .collect())
    }

    /// [`insert_messages`](Self::insert_messages), returning each new message's `seq` (`None`
    /// for a copy of a message already stored).
    pub fn insert_messages_with_seq(
        &mut self,
        ms: &[NewMessage],
    ) -> Result<Vec<Option<i64>>, StoreError> {
        let path = &self.path;
        let me = self.me;
        let tx = write_tx(&mut self.conn).at(path)?;
        let mut out = Vec::with_capacity(ms.len());
        {
            let mut convs: HashMap<ConversationId, i64> = HashMap::new();
            // cid -> (new messages not by me, largest received_at_ms, one by me)
            let mut touched: HashMap<i64, (i64, i64, bool)> = HashMap::new();
            let mut authors: HashMap<Author, i64> = HashMap::new();
            // Conversation and author of each message, looked up once per batch.
            let mut keys = Vec::with_capacity(ms.len());
            for m in ms {
                let cid = match convs.get(&m.conversation) {
                    Some(cid) => *cid,
                    None => {
                        let cid = ensure_conversation(&tx, &m.conversation).at(path)?;
                        convs.insert(m.conversation, cid);
                        cid
                    }
                };
                let aid = match authors.get(&m.author) {
                    Some(aid) => *aid,
                    None => {
                        let aid = ensure_author(&tx, &m.author).at(path)?;
                        authors.insert(m.author, aid);
                        aid
                    }
                };
                keys.push((cid, aid));
            }
            // Many rows per statement: a statement's own cost (and AUTOINCREMENT's
            // bookkeeping) is paid once per chunk rather than once per message.
            let mut done = 0;
            while done < ms.len() {
                // The chunk sizes end with 1, so one always fits.
                let Some((rows, sql)) =
                    INSERT_SQL.iter().find(|(rows, _)| *rows <= ms.len() - done)
                else {
                    break;
                };
                let rows = *rows;
                let chunk = &ms[done..done + rows];
                let chunk_keys = &keys[done..done + rows];
                let mut insert = tx.prepare_cached(sql).at(path)?;
                for (r, (m, &(cid, aid))) in chunk.iter().zip(chunk_keys).enumerate() {
                    let quote = m.quote.as_ref();
                    let values: [&dyn rusqlite::ToSql; INSERT_COLUMNS] = [
                        &cid,
                        &aid,
                        &sql_id(m.id),
                        &m.sent_at_ms,
                        &m.received_at_ms,
                        &m.text,
                        &m.state.map(DeliveryState::as_str),
                        &quote.map(|q| sql_id(q.id)),
                        &quote.map(|q| quote_author_key(q, me)),
                        &quote.map(|q| q.excerpt.as_str()),
                    ];
                    for (c, value) in values.into_iter().enumerate() {
                        insert
                            .raw_bind_parameter(r * INSERT_COLUMNS + c + 1, value)
                            .at(path)?;
                    }
                }
                // (author, id) -> seq of the rows that went in; a copy of a stored message
                // (or of one earlier in the batch) does not come back.
                let mut inserted: HashMap<(i64, i64), i64> = HashMap::with_capacity(rows);
                let mut returned = insert.raw_query();
                while let Some(row) = returned.next().at(path)? {
                    inserted.insert(
                        (row.get(0).at(path)?, row.get(1).at(path)?),
                        row.get(2).at(path)?,
                    );
                }
                for (m, &(cid, aid)) in chunk.iter().zip(chunk_keys) {
                    let seq = inserted.remove(&(aid, sql_id(m.id)));
                    if seq.is_some() {
                        let t = touched.entry(cid).or_insert((0, i64::MIN, false));
                        t.0 += i64::from(aid != 0);
                        t.1 = t.1.max(m.received_at_ms);
                        t.2 |= aid == 0;
                    }
                    out.push(seq);
                }
                done += rows;
            }
            // New seqs are above any read mark (mark_read never passes the last message).
            let mut update = tx
                .prepare_cached(
                    "UPDATE conversations SET unread = unread + ?2,
                        last_activity_ms = max(last_activity_ms, ?3),
                        wrote = max(wrote, ?4)
                     WHERE cid = ?1",
                )
                .at(path)?;
            for (&cid, &(unread, last, mine)) in &touched {
                update.execute(params![cid, unread, last, mine]).at(path)?;
            }
            // Plain-text conversations that got messages from their peer: strangers among
            // them are kept within bounds (no other kind can be a stranger).
            let grown: Vec<i64> = convs
                .iter()
                .filter(|(c, _)| matches!(c, ConversationId::Raw(_)))
                .map(|(_, cid)| *cid)
                .filter(|cid| touched.get(cid).is_some_and(|t| t.0 > 0))
                .collect();
            if !grown.is_empty() {
                prune_strangers(&tx, &grown).at(path)?;
            }
        }
        if !self.defer_index && out.iter().any(Option::is_some) {
            index_after_mark(&tx, usize::MAX).at(path)?;
        }
        tx.commit().at(path)?;
        Ok(out)
    }

    /// Updates the state of my messages (unknown ids are ignored). A state never goes back
    /// from `read`, nor from `delivered` to anything but `read`.
    pub fn set_states(&mut self, changes: &[(MsgId, DeliveryState)]) -> Result<(), StoreError> {
        let path = &self.path;
        let tx = write_tx(&mut self.conn).at(path)?;
        {
            let mut update = tx
                .prepare_cached(
                    "UPDATE messages SET state = ?2
                     WHERE author = 0 AND id = ?1 AND state IS NOT ?2
                       AND (CASE state WHEN 'read' THEN 2 WHEN 'delivered' THEN 1 ELSE 0 END)
                        <= (CASE ?2 WHEN 'read' THEN 2 WHEN 'delivered' THEN 1 ELSE 0 END)",
                )
                .at(path)?;
            for (id, state) in changes {
                update
                    .execute(params![sql_id(*id), state.as_str()])
                    .at(path)?;
            }
        }
        tx.commit().at(path)
    }

    /// The newest `limit` messages, oldest first.
    pub fn latest(
        &self,
        conv: &ConversationId,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        self.page(conv, Scan::Latest, limit)
    }

    /// Up to `limit` messages just older than `seq`, oldest first.
    pub fn before(
        &self,
        conv: &ConversationId,
        seq: i64,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        self.page(conv, Scan::Before(seq), limit)
    }

    /// Up to `limit` messages just newer than `seq`, oldest first.
    pub fn after(
        &self,
        conv: &ConversationId,
        seq: i64,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        self.page(conv, Scan::After(seq), limit)
    }

    /// Up to `limit` messages with `seq` in the middle (the message at `seq`, if it is in this
    /// conversation, and `limit / 2` older ones; more on one side when the other runs out),
    /// oldest first. For jumping to a search hit.
    pub fn around(
        &self,
        conv: &ConversationId,
        seq: i64,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        let Some((cid, last_read)) = self.conversation_ids(conv)? else {
            return Ok(Vec::new());
        };
        // Both sides come back closest to `seq` first.
        let older = self.page_rows(cid, *conv, last_read, Scan::Before(seq), limit)?;
        let newer = self.page_rows(cid, *conv, last_read, Scan::From(seq), limit)?;
        let mut n_older = limit / 2;
        if newer.len() < limit - n_older {
            n_older = limit - newer.len();
        }
        let n_older = n_older.min(older.len());
        let n_newer = (limit - n_older).min(newer.len());
        let mut out: Vec<StoredMessage> = older.into_iter().take(n_older).collect();
        out.reverse();
        out.extend(newer.into_iter().take(n_newer));
        Ok(out)
    }

    /// The first `limit` messages, oldest first.
    pub fn oldest(
        &self,
        conv: &ConversationId,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        self.page(conv, Scan::Oldest, limit)
    }

    fn page(
        &self,
        conv: &ConversationId,
        scan: Scan,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        let Some((cid, last_read)) = self.conversation_ids(conv)? else {
            return Ok(Vec::new());
        };
        let mut rows = self.page_rows(cid, *conv, last_read, scan, limit)?;
        if matches!(scan, Scan::Latest | Scan::Before(_)) {
            rows.reverse();
        }
        Ok(rows)
    }

    /// Rows in the order the query walks the index: newest first for `Latest`/`Before`.
    fn page_rows(
        &self,
        cid: i64,
        conv: ConversationId,
        last_read: i64,
        scan: Scan,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let (op, order, anchor) = match scan {
            Scan::Latest => ("<=", "DESC", i64::MAX),
            Scan::Oldest => (">=", "ASC", i64::MIN),
            Scan::Before(s) => ("<", "DESC", s),
            Scan::After(s) => (">", "ASC", s),
            Scan::From(s) => (">=", "ASC", s),
        };
        // Only fixed fragments are spliced in; values are bound. CROSS JOIN keeps `messages`
        // the outer loop so the (conversation, seq) index gives the order. A group's pages
        // go by its order (`ord`); the anchor is still a message's `seq`.
        let sql = if matches!(conv, ConversationId::Group(_)) {
            groups::page_sql(op, order, matches!(scan, Scan::Latest | Scan::Oldest))
        } else {
            format!(
                "SELECT {MESSAGE_COLUMNS} FROM {MESSAGE_FROM}
                 WHERE m.conversation = ?1 AND m.seq {op} ?3
                 ORDER BY m.seq {order} LIMIT ?2"
            )
        };
        let mut stmt = self.conn.prepare_cached(&sql).at(&self.path)?;
        let rows = stmt
            .query_map(params![cid, sql_limit(limit), anchor], |r| {
                message_from_row(r, conv, last_read, self.me)
            })
            .at(&self.path)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().at(&self.path)
    }

    /// `(cid, last_read_seq)` of a conversation, if it has a row.
    fn conversation_ids(&self, conv: &ConversationId) -> Result<Option<(i64, i64)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT cid, last_read_seq FROM conversations WHERE key = ?1")
            .at(&self.path)?;
        stmt.query_row([conversation_key(conv)], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
            .at(&self.path)
    }

    /// All conversations: pinned first, then most recent activity first, then by key.
    pub fn conversations(&self) -> Result<Vec<ConversationRow>, StoreError> {
        self.first_conversations(usize::MAX)
    }

    /// The first `limit` conversations in that order: what the app shows at start (it
    /// keeps no more than its own cap in memory, whatever a flood left on disk).
    pub fn first_conversations(&self, limit: usize) -> Result<Vec<ConversationRow>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT c.key, c.alias, c.pinned, c.muted, c.draft, c.last_read_seq, c.unread,
                        c.last_activity_ms, substr(m.text, 1, ?1), a.key, m.recalled, m.id,
                        c.wrote, m.ord, m.change, m.at_all
                 FROM (SELECT * FROM conversations
                       ORDER BY pinned DESC, last_activity_ms DESC, key LIMIT ?2) c
                 LEFT JOIN messages m ON m.seq = coalesce(
                     (SELECT seq FROM messages WHERE conversation = c.cid AND ord IS NOT NULL
                      ORDER BY ord DESC LIMIT 1),
                     (SELECT max(seq) FROM messages WHERE conversation = c.cid))
                 LEFT JOIN authors a ON a.aid = m.author
                 ORDER BY c.pinned DESC, c.last_activity_ms DESC, c.key",
            )
            .at(&self.path)?;
        let rows = stmt
            .query_map(params![PREVIEW_CHARS, sql_limit(limit)], |r| {
                Ok(ConversationRow {
                    id: col_conversation(r, 0)?,
                    alias: r.get(1)?,
                    pinned: r.get(2)?,
                    muted: r.get(3)?,
                    draft: r.get(4)?,
                    last_read_seq: r.get(5)?,
                    unread: u32::try_from(r.get::<_, i64>(6)?.max(0)).unwrap_or(u32::MAX),
                    last_activity_ms: r.get(7)?,
                    last_preview: r.get(8)?,
                    last_author: match r.get::<_, Option<String>>(9)? {
                        Some(_) => Some(col_author(r, 9)?),
                        None => None,
                    },
                    last_recalled: r.get::<_, Option<bool>>(10)?.unwrap_or(false),
                    last_id: r
                        .get::<_, Option<i64>>(11)?
                        .map(|id| MsgId(id.cast_unsigned())),
                    wrote: r.get(12)?,
                    last_group: groups::col_group(r, 13, 8)?,
                })
            })
            .at(&self.path)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().at(&self.path)
    }

    /// Moves the read mark up to `up_to_seq` (never back, never past the conversation's last
    /// message) and recounts unread messages.
    pub fn mark_read(&mut self, conv: &ConversationId, up_to_seq: i64) -> Result<(), StoreError> {
        let path = &self.path;
        let tx = write_tx(&mut self.conn).at(path)?;
        {
            let key = conversation_key(conv);
            tx.prepare_cached(
                "UPDATE conversations SET last_read_seq = max(last_read_seq, min(?2,
                    coalesce((SELECT max(m.seq) FROM messages m
                              WHERE m.conversation = conversations.cid), 0)))
                 WHERE key = ?1",
            )
            .at(path)?
            .execute(params![key, up_to_seq])
            .at(path)?;
            tx.prepare_cached(
                "UPDATE conversations SET unread = (SELECT count(*) FROM messages m
                    WHERE m.conversation = conversations.cid
                      AND m.seq > conversations.last_read_seq AND m.author <> 0
                      AND m.change IS NULL)
                 WHERE key = ?1",
            )
            .at(path)?
            .execute([key])
            .at(path)?;
        }
        tx.commit().at(path)
    }

    pub fn set_pinned(&mut self, conv: &ConversationId, pinned: bool) -> Result<(), StoreError> {
        self.upsert_setting(
            conv,
            "INSERT INTO conversations (key, pinned) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET pinned = excluded.pinned",
            &pinned,
        )
    }

    pub fn set_muted(&mut self, conv: &ConversationId, muted: bool) -> Result<(), StoreError> {
        self.upsert_setting(
            conv,
            "INSERT INTO conversations (key, muted) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET muted = excluded.muted",
            &muted,
        )
    }

    pub fn set_alias(
        &mut self,
        conv: &ConversationId,
        alias: Option<String>,
    ) -> Result<(), StoreError> {
        self.upsert_setting(
            conv,
            "INSERT INTO conversations (key, alias) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET alias = excluded.alias",
            &alias,
        )
    }

    pub fn set_draft(&mut self, conv: &ConversationId, draft: &str) -> Result<(), StoreError> {
        self.upsert_setting(
            conv,
            "INSERT INTO conversations (key, draft) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET draft = excluded.draft",
            &draft,
        )
    }

    fn upsert_setting(
        &mut self,
        conv: &ConversationId,
        sql: &str,
        value: &dyn rusqlite::ToSql,
    ) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(sql)
            .at(&self.path)?
            .execute(params![conversation_key(conv), value])
            .at(&self.path)?;
        Ok(())
    }

    pub fn upsert_peer(&mut self, p: &PeerRow) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO peers (id, name, addr, last_seen_ms) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name, addr = excluded.addr,
                    last_seen_ms = excluded.last_seen_ms",
            )
            .at(&self.path)?
            .execute(params![
                p.id.to_hex(),
                p.name,
                p.addr.to_string(),
                p.last_seen_ms
            ])
            .at(&self.path)?;
        Ok(())
    }

    /// Known peers, most recently seen first.
    pub fn peers(&self) -> Result<Vec<PeerRow>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, name, addr, last_seen_ms FROM peers ORDER BY last_seen_ms DESC, id",
            )
            .at(&self.path)?;
        let rows = stmt
            .query_map([], |r| {
                Ok(PeerRow {
                    id: col_node(r, 0)?,
                    name: r.get(1)?,
                    addr: col_addr(r, 2)?,
                    last_seen_ms: r.get(3)?,
                })
            })
            .at(&self.path)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().at(&self.path)
    }

    /// Adds a message waiting for its peer; adding an id again replaces the row in place.
    pub fn outbox_add(&mut self, r: &OutboxRow) -> Result<(), StoreError> {
        let mut payload = None;
        let (text, quote, recall_of) = match &r.body {
            Body::Text(text) => (text.as_str(), None, None),
            Body::Reply { quote, text } => (text.as_str(), Some(quote), None),
            Body::Recall(target) => ("", None, Some(sql_id(*target))),
            // A file message is kept as it travels.
            Body::FileOffer(_)
            | Body::FileAccept { .. }
            | Body::FileDecline(_)
            | Body::FileCancel { .. } => {
                let bytes = r
                    .body
                    .encode()
                    .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
                    .at(&self.path)?;
                payload = Some((i64::from(r.body.content().to_byte()), bytes));
                ("", None, None)
            }
        };
        let (content, payload) = payload.unzip();
        self.conn
            .prepare_cached(
                "INSERT INTO outbox (id, to_peer, sent_at_ms, text, quote_id, quote_author,
                    quote_excerpt, recall_of, content, payload)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                 ON CONFLICT (id) DO UPDATE SET to_peer = excluded.to_peer,
                    sent_at_ms = excluded.sent_at_ms, text = excluded.text,
                    quote_id = excluded.quote_id, quote_author = excluded.quote_author,
                    quote_excerpt = excluded.quote_excerpt, recall_of = excluded.recall_of,
                    content = excluded.content, payload = excluded.payload",
            )
            .at(&self.path)?
            .execute(params![
                sql_id(r.id),
                r.to.to_hex(),
                r.sent_at_ms,
                text,
                quote.map(|q| sql_id(q.id)),
                quote.map(|q| quote_author_key(q, self.me)),
                quote.map(|q| q.excerpt.as_str()),
                recall_of,
                content,
                payload,
            ])
            .at(&self.path)?;
        Ok(())
    }

    /// Takes back message `target` of `author` in `conv`: its text (and any quote it
    /// made) is emptied and it is marked recalled, and replies quoting it lose their
    /// excerpt. Only the author's own message matches, so a peer can recall nothing but
    /// what it wrote. With `within`, (now, a window in ms), a message received longer than
    /// the window before now is left alone: both times are this machine's clock, so the
    /// sender's clock (which it can set to anything) decides nothing. Returns whether a
    /// message was recalled.
    pub fn recall(
        &mut self,
        conv: &ConversationId,
        author: Author,
        target: MsgId,
        within: Option<(i64, i64)>,
    ) -> Result<bool, StoreError> {
        let path = &self.path;
        let me = self.me;
        let tx = write_tx(&mut self.conn).at(path)?;
        let Some(cid) = tx
            .prepare_cached("SELECT cid FROM conversations WHERE key = ?1")
            .at(path)?
            .query_row([conversation_key(conv)], |r| r.get::<_, i64>(0))
            .optional()
            .at(path)?
        else {
            return Ok(false);
        };
        let (at, window) = within.unwrap_or((i64::MAX, i64::MAX));
        let n = tx
            .prepare_cached(
                "UPDATE messages SET text = '', recalled = 1, quote_id = NULL,
                    quote_author = NULL, quote_excerpt = NULL
                 WHERE conversation = ?1 AND id = ?2 AND recalled = 0
                   AND author = (SELECT aid FROM authors WHERE key = ?3)
                   AND (?4 - received_at_ms) <= ?5",
            )
            .at(path)?
            .execute(params![cid, sql_id(target), author.key(), at, window])
            .at(path)?;
        if n > 0 {
            let author_key = match author {
                Author::Peer(node) if Some(node) != me => node.to_hex(),
                _ => Author::Me.key(),
            };
            tx.prepare_cached(
                "UPDATE messages SET quote_excerpt = ''
                 WHERE conversation = ?1 AND quote_id = ?2 AND quote_author = ?3",
            )
            .at(path)?
            .execute(params![cid, sql_id(target), author_key])
            .at(path)?;
        }
        tx.commit().at(path)?;
        Ok(n > 0)
    }

    /// Unread messages from peers in which `needle` occurs (in any case),
    /// newest first, at most `limit`: to find mentions of me at start. Only the newest
    /// [`MENTION_SCAN_DEPTH`] unread messages of each conversation are looked at, and only
    /// in the first `conversations` with unread messages (in sidebar order), so a history
    /// with a million unread messages, or a flood of strangers, still opens at once.
    pub fn unread_containing(
        &self,
        needle: &str,
        limit: usize,
        conversations: usize,
    ) -> Result<Vec<(ConversationId, String)>, StoreError> {
        let mut convs = self
            .conn
            .prepare_cached(
                "SELECT cid, key, last_read_seq FROM conversations WHERE unread > 0
                 ORDER BY pinned DESC, last_activity_ms DESC, key LIMIT ?1",
            )
            .at(&self.path)?;
        let convs = convs
            .query_map([sql_limit(conversations)], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    col_conversation(r, 1)?,
                    r.get::<_, i64>(2)?,
                ))
            })
            .at(&self.path)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .at(&self.path)?;
        let mut newest = self
            .conn
            .prepare_cached(
                "SELECT seq, text FROM messages
                 WHERE conversation = ?1 AND seq > ?2 AND author <> 0 AND recalled = 0
                 ORDER BY seq DESC LIMIT ?3",
            )
            .at(&self.path)?;
        let needle = needle.to_lowercase();
        let mut hits: Vec<(i64, ConversationId, String)> = Vec::new();
        for (cid, conv, last_read) in convs {
            let rows = newest
                .query_map(params![cid, last_read, MENTION_SCAN_DEPTH], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
                })
                .at(&self.path)?;
            for row in rows {
                let (seq, text) = row.at(&self.path)?;
                if text.to_lowercase().contains(&needle) {
                    hits.push((seq, conv, text));
                }
            }
        }
        hits.sort_by_key(|(seq, ..)| std::cmp::Reverse(*seq));
        hits.truncate(limit);
        Ok(hits.into_iter().map(|(_, c, t)| (c, t)).collect())
    }

    /// A read receipt from `peer`: marks read those of `ids` that are my messages in the
    /// conversation with `peer` (and takes them out of the outbox), and nothing else, so
    /// a receipt can never touch my messages to someone else. Returns the ids it marked
    /// read now.
    pub fn read_by(&mut self, peer: NodeId, ids: &[MsgId]) -> Result<Vec<MsgId>, StoreError> {
        let path = &self.path;
        let key = peer.to_hex();
        let tx = write_tx(&mut self.conn).at(path)?;
        let mut marked = Vec::new();
        {
            let mut update = tx
                .prepare_cached(
                    "UPDATE messages SET state = 'read'
                     WHERE author = 0 AND id = ?1 AND state IS NOT 'read'
                       AND conversation = (SELECT cid FROM conversations WHERE key = ?2)",
                )
                .at(path)?;
            let mut unqueue = tx
                .prepare_cached("DELETE FROM outbox WHERE id = ?1 AND to_peer = ?2")
                .at(path)?;
            for id in ids {
                if update.execute(params![sql_id(*id), key]).at(path)? > 0 {
                    marked.push(*id);
                }
                unqueue.execute(params![sql_id(*id), key]).at(path)?;
            }
        }
        tx.commit().at(path)?;
        Ok(marked)
    }

    /// The start of the message `quote` names, if it is in conversation `conv` by the
    /// author the quote names (empty if recalled): what a reply there may show as quoted.
    pub fn original_excerpt(
        &self,
        conv: &ConversationId,
        quote: &Quote,
    ) -> Result<Option<String>, StoreError> {
        self.conn
            .prepare_cached(
                "SELECT o.text, o.recalled FROM messages o
                 JOIN authors qa ON qa.aid = o.author
                 JOIN conversations c ON c.cid = o.conversation
                 WHERE qa.key = ?1 AND o.id = ?2 AND c.key = ?3",
            )
            .at(&self.path)?
            .query_row(
                params![
                    quote_author_key(quote, self.me),
                    sql_id(quote.id),
                    conversation_key(conv)
                ],
                |r| {
                    let text: String = r.get(0)?;
                    let recalled: bool = r.get(1)?;
                    Ok(if recalled {
                        String::new()
                    } else {
                        crate::proto::wire::excerpt(&text).to_owned()
                    })
                },
            )
            .optional()
            .at(&self.path)
    }

    /// Keeps the strangers within bounds (see [`MAX_STRANGERS`]): what a flood left from
    /// before the bounds, or from before a stranger was unpinned. Inserts keep them so as
    /// they go.
    pub fn prune_strangers(&mut self) -> Result<(), StoreError> {
        let path = &self.path;
        let tx = write_tx(&mut self.conn).at(path)?;
        let all: Vec<i64> = tx
            .prepare(&format!("SELECT cid FROM conversations WHERE {STRANGER}"))
            .at(path)?
            .query_map([], |r| r.get(0))
            .at(path)?
            .collect::<rusqlite::Result<_>>()
            .at(path)?;
        prune_strangers(&tx, &all).at(path)?;
        tx.commit().at(path)
    }

    /// Removes messages from the outbox, in one transaction; an unknown id is not an error.
    pub fn outbox_remove(&mut self, ids: &[MsgId]) -> Result<(), StoreError> {
        let path = &self.path;
        let tx = write_tx(&mut self.conn).at(path)?;
        {
            let mut delete = tx
                .prepare_cached("DELETE FROM outbox WHERE id = ?1")
                .at(path)?;
            for id in ids {
                delete.execute([sql_id(*id)]).at(path)?;
            }
        }
        tx.commit().at(path)
    }

    /// The outbox in the order messages were added.
    pub fn outbox(&self) -> Result<Vec<OutboxRow>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, to_peer, sent_at_ms, text, quote_id, quote_author, quote_excerpt,
                    recall_of, content, payload FROM outbox ORDER BY ord",
            )
            .at(&self.path)?;
        let me = self.me;
        let rows = stmt
            .query_map([], |r| {
                let text: String = r.get(3)?;
                let kept = r
                    .get::<_, Option<i64>>(8)?
                    .zip(r.get::<_, Option<Vec<u8>>>(9)?);
                let body = match (col_quote(r, 4, me)?, r.get::<_, Option<i64>>(7)?, kept) {
                    (_, _, Some((content, payload))) => u8::try_from(content)
                        .ok()
                        .and_then(Content::from_byte)
                        .and_then(|c| Body::decode(c, &payload).ok())
                        .ok_or_else(|| bad(9, format!("bad outbox message of kind {content}")))?,
                    (_, Some(target), None) => Body::Recall(MsgId(target.cast_unsigned())),
                    (Some(quote), None, None) => Body::Reply { quote, text },
                    (None, None, None) => Body::Text(text),
                };
                Ok(OutboxRow {
                    id: col_msg_id(r, 0)?,
                    to: col_node(r, 1)?,
                    sent_at_ms: r.get(2)?,
                    body,
                })
            })
            .at(&self.path)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().at(&self.path)
    }
}

/// Columns bound per row by [`insert_sql`].
const INSERT_COLUMNS: usize = 10;
/// Rows per INSERT statement, largest first, each with its SQL: a batch goes in as chunks
/// of these sizes (a prepared statement each, kept in the connection's cache).
static INSERT_SQL: std::sync::LazyLock<Vec<(usize, String)>> = std::sync::LazyLock::new(|| {
    [64, 32, 16, 8, 4, 2, 1]
        .into_iter()
        .map(|rows| (rows, insert_sql(rows)))
        .collect()
});

/// An INSERT of `rows` messages that skips copies of stored ones (`(author, id)` is unique)
/// and returns `author, id, seq` of each row it stored.
fn insert_sql(rows: usize) -> String {
    let mut sql = String::from(
        "INSERT INTO messages (conversation, author, id, sent_at_ms, received_at_ms, text, \
         state, quote_id, quote_author, quote_excerpt) VALUES ",
    );
    for r in 0..rows {
        let at = r * INSERT_COLUMNS;
        let params: Vec<String> = (1..=INSERT_COLUMNS)
            .map(|c| format!("?{}", at + c))
            .collect();
        if r > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        sql.push_str(&params.join(", "));
        sql.push(')');
    }
    sql.push_str(" ON CONFLICT (author, id) DO NOTHING RETURNING author, id, seq");
    sql
}

/// Indexes up to `limit` messages past the search mark (oldest first, one statement) and
/// moves the mark past them. Returns how many.
fn index_after_mark(conn: &Connection, limit: usize) -> rusqlite::Result<usize> {
    let mark: i64 = conn
        .prepare_cached("SELECT indexed_seq FROM search_mark")?
        .query_row([], |r| r.get(0))?;
    let upto: Option<i64> = conn
        .prepare_cached(
            "SELECT max(seq) FROM (SELECT seq FROM messages WHERE seq > ?1 ORDER BY seq LIMIT ?2)",
        )?
        .query_row(params![mark, sql_limit(limit)], |r| r.get(0))?;
    let Some(upto) = upto else {
        return Ok(0);
    };
    let n = conn
        .prepare_cached(
            "INSERT INTO messages_fts (rowid, text)
             SELECT seq, text FROM messages WHERE seq > ?1 AND seq <= ?2 ORDER BY seq",
        )?
        .execute(params![mark, upto])?;
    conn.prepare_cached("UPDATE search_mark SET indexed_seq = ?1")?
        .execute([upto])?;
    Ok(n)
}

/// Write transactions take the write lock at once: a deferred one that read first could not
/// upgrade (SQLITE_BUSY, no waiting) if another process wrote in between.
fn write_tx(conn: &mut Connection) -> rusqlite::Result<rusqlite::Transaction<'_>> {
    conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
}

/// Cuts each stranger among `grown` (conversation ids) to its newest
/// [`MAX_STRANGER_MESSAGES`], then lets the least recently active strangers beyond
/// [`MAX_STRANGERS`] go: their messages, their row, and their author key (a plain-text
/// author writes only in its own conversation).
fn prune_strangers(conn: &Connection, grown: &[i64]) -> rusqlite::Result<()> {
    let mut trim = conn.prepare_cached(&format!(
        "DELETE FROM messages WHERE conversation = ?1
           AND seq <= (SELECT seq FROM messages WHERE conversation = ?1
                       ORDER BY seq DESC LIMIT 1 OFFSET ?2)
           AND EXISTS (SELECT 1 FROM conversations WHERE cid = ?1 AND {STRANGER})"
    ))?;
    let keep = sql_limit(MAX_STRANGER_MESSAGES);
    for cid in grown {
        trim.execute(params![cid, keep])?;
    }
    let victims: Vec<(i64, String)> = conn
        .prepare_cached(&format!(
            "SELECT cid, key FROM conversations WHERE {STRANGER}
             ORDER BY last_activity_ms DESC, cid DESC LIMIT -1 OFFSET ?1"
        ))?
        .query_map([sql_limit(MAX_STRANGERS)], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    if victims.is_empty() {
        return Ok(());
    }
    let mut messages = conn.prepare_cached("DELETE FROM messages WHERE conversation = ?1")?;
    let mut conversation = conn.prepare_cached("DELETE FROM conversations WHERE cid = ?1")?;
    let mut author = conn.prepare_cached(
        "DELETE FROM authors WHERE key = ?1
           AND NOT EXISTS (SELECT 1 FROM messages WHERE author = authors.aid)",
    )?;
    for (cid, key) in victims {
        messages.execute([cid])?;
        conversation.execute([cid])?;
        author.execute([key])?;
    }
    Ok(())
}

fn ensure_conversation(conn: &Connection, conv: &ConversationId) -> rusqlite::Result<i64> {
    let key = conversation_key(conv);
    conn.prepare_cached(
        "INSERT INTO conversations (key) VALUES (?1) ON CONFLICT (key) DO NOTHING",
    )?
    .execute([&key])?;
    conn.prepare_cached("SELECT cid FROM conversations WHERE key = ?1")?
        .query_row([&key], |r| r.get(0))
}

fn ensure_author(conn: &Connection, author: &Author) -> rusqlite::Result<i64> {
    if *author == Author::Me {
        return Ok(0);
    }
    let key = author.key();
    conn.prepare_cached("INSERT INTO authors (key) VALUES (?1) ON CONFLICT (key) DO NOTHING")?
        .execute([&key])?;
    conn.prepare_cached("SELECT aid FROM authors WHERE key = ?1")?
        .query_row([&key], |r| r.get(0))
}
