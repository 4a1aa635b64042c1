//! File transfers, either way, so that they survive a restart (the `transfers` table of
//! schema step 6).
//!
//! The store keeps what it is told, but never lets a transfer move where
//! [`TransferState::can_move_to`] forbids: a repeated or late signal cannot bring a finished
//! transfer back. It does not check who sent a signal: a signal counts only from the
//! transfer's [`TransferRow::peer`], which the caller compares first.

use super::{
    At, Author, NewMessage, Store, StoreError, bad, col_msg_id, col_node, sql_id, sql_limit,
    write_tx,
};
use crate::message::FileCard;
use crate::proto::files::{self, Direction, FileOffer, TransferId, TransferState};
use crate::proto::{ConversationId, MsgId, NodeId};
use rusqlite::{OptionalExtension, Row, params};
use std::path::{Path, PathBuf};

/// One transfer as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferRow {
    pub id: TransferId,
    /// The other side.
    pub peer: NodeId,
    pub direction: Direction,
    /// The offer message's id.
    pub msg_id: MsgId,
    /// The name as offered: untrusted (shown through `text::sanitize`; on disk only through
    /// `files::safe_name`, which chose `local_path`).
    pub name: String,
    pub size: u64,
    /// BLAKE3 of the whole file.
    pub hash: [u8; 32],
    /// The sender's TCP port for the data (0 when unknown).
    pub port: u16,
    /// Incoming: where the file goes, set when it is accepted.
    pub local_path: Option<PathBuf>,
    /// Outgoing: the file offered.
    pub source_path: Option<PathBuf>,
    pub state: TransferState,
    pub bytes_done: u64,
    /// Why it failed or was cancelled, for the user.
    pub error: Option<String>,
    pub created_ms: i64,
    pub updated_ms: i64,
}

impl TransferRow {
    /// A file `peer` offers me, not answered yet.
    pub fn incoming(peer: NodeId, msg_id: MsgId, offer: &FileOffer, now_ms: i64) -> TransferRow {
        TransferRow {
            id: offer.id,
            peer,
            direction: Direction::In,
            msg_id,
            name: offer.name.clone(),
            size: offer.size,
            hash: offer.hash,
            port: offer.port,
            local_path: None,
            source_path: None,
            state: TransferState::Offered,
            bytes_done: 0,
            error: None,
            created_ms: now_ms,
            updated_ms: now_ms,
        }
    }

    /// A file I offer `peer`, read from `source`.
    pub fn outgoing(
        peer: NodeId,
        msg_id: MsgId,
        offer: &FileOffer,
        source: PathBuf,
        now_ms: i64,
    ) -> TransferRow {
        TransferRow {
            direction: Direction::Out,
            source_path: Some(source),
            ..TransferRow::incoming(peer, msg_id, offer, now_ms)
        }
    }

    /// The offer it was made from (to send it again).
    pub fn offer(&self) -> FileOffer {
        FileOffer {
            id: self.id,
            name: self.name.clone(),
            size: self.size,
            hash: self.hash,
            port: self.port,
        }
    }
}

/// The columns every transfer query selects, in this order.
const TRANSFER_COLUMNS: &str = "id, peer, direction, msg_id, name, size, hash, port, local_path,
    source_path, state, bytes_done, error, created_ms, updated_ms";

fn path_bytes(path: &Path) -> Vec<u8> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        path.as_os_str().as_bytes().to_vec()
    }
    #[cfg(not(unix))]
    {
        path.to_string_lossy().as_bytes().to_vec()
    }
}

fn col_path(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<PathBuf>> {
    let Some(bytes) = row.get::<_, Option<Vec<u8>>>(idx)? else {
        return Ok(None);
    };
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStringExt;
        Ok(Some(PathBuf::from(std::ffi::OsString::from_vec(bytes))))
    }
    #[cfg(not(unix))]
    {
        String::from_utf8(bytes)
            .map(|s| Some(PathBuf::from(s)))
            .map_err(|_| bad(idx, "path is not UTF-8".into()))
    }
}

fn col_u64(row: &Row<'_>, idx: usize) -> rusqlite::Result<u64> {
    let v: i64 = row.get(idx)?;
    u64::try_from(v).map_err(|_| bad(idx, format!("negative count {v}")))
}

fn sql_u64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn transfer_row(r: &Row<'_>) -> rusqlite::Result<TransferRow> {
    let id: String = r.get(0)?;
    let direction: String = r.get(2)?;
    let hash: String = r.get(6)?;
    let state: String = r.get(10)?;
    Ok(TransferRow {
        id: TransferId::from_hex(&id).ok_or_else(|| bad(0, format!("bad transfer id {id:?}")))?,
        peer: col_node(r, 1)?,
        direction: Direction::parse(&direction)
            .ok_or_else(|| bad(2, format!("bad direction {direction:?}")))?,
        msg_id: col_msg_id(r, 3)?,
        name: r.get(4)?,
        size: col_u64(r, 5)?,
        hash: files::from_hex(&hash).ok_or_else(|| bad(6, format!("bad hash {hash:?}")))?,
        port: u16::try_from(r.get::<_, i64>(7)?).map_err(|_| bad(7, "bad port".into()))?,
        local_path: col_path(r, 8)?,
        source_path: col_path(r, 9)?,
        state: TransferState::parse(&state)
            .ok_or_else(|| bad(10, format!("bad transfer state {state:?}")))?,
        bytes_done: col_u64(r, 11)?,
        error: r.get(12)?,
        created_ms: r.get(13)?,
        updated_ms: r.get(14)?,
    })
}

/// The file card of a message from nine columns starting at `idx` (the transfer's id, name,
/// size, direction, state, bytes_done, local_path, source_path, error); `None` when the
/// message names no transfer (or one not kept).
pub(super) fn col_card(r: &Row<'_>, idx: usize) -> rusqlite::Result<Option<FileCard>> {
    let Some(id) = r.get::<_, Option<String>>(idx)? else {
        return Ok(None);
    };
    let direction: String = r.get(idx + 3)?;
    let direction = Direction::parse(&direction)
        .ok_or_else(|| bad(idx + 3, format!("bad direction {direction:?}")))?;
    let state: String = r.get(idx + 4)?;
    let local = col_path(r, idx + 6)?;
    let source = col_path(r, idx + 7)?;
    Ok(Some(FileCard {
        id: TransferId::from_hex(&id).ok_or_else(|| bad(idx, format!("bad transfer id {id:?}")))?,
        name: r.get(idx + 1)?,
        size: col_u64(r, idx + 2)?,
        direction,
        state: TransferState::parse(&state)
            .ok_or_else(|| bad(idx + 4, format!("bad transfer state {state:?}")))?,
        done: col_u64(r, idx + 5)?,
        path: match direction {
            Direction::In => local,
            Direction::Out => source,
        },
        problem: r.get(idx + 8)?,
        preview_rows: 0,
    }))
}

impl TransferRow {
    /// The message that is its bubble in the conversation with its peer: by the peer (or by
    /// me), its text the offered name, at `now_ms` on this machine's clock.
    pub fn message(&self, now_ms: i64) -> NewMessage {
        let author = match self.direction {
            Direction::In => Author::Peer(self.peer),
            Direction::Out => Author::Me,
        };
        NewMessage {
            conversation: ConversationId::Peer(self.peer),
            id: self.msg_id,
            author,
            sent_at_ms: now_ms,
            received_at_ms: now_ms,
            text: self.name.clone(),
            // The bubble says where the transfer stands; a delivery mark would only repeat
            // it (or contradict it, arriving before the bubble).
            state: None,
            quote: None,
        }
    }

    /// Its bubble as the store would give it back.
    pub fn card(&self) -> FileCard {
        FileCard {
            id: self.id,
            name: self.name.clone(),
            size: self.size,
            direction: self.direction,
            state: self.state,
            done: self.bytes_done,
            path: match self.direction {
                Direction::In => self.local_path.clone(),
                Direction::Out => self.source_path.clone(),
            },
            problem: self.error.clone(),
            preview_rows: 0,
        }
    }
}

impl Store {
    /// Keeps a new transfer with its bubble: the message [`TransferRow::message`] in its
    /// conversation, naming the transfer. Returns the message's position if it is new
    /// (`None`: the offer came again, and its bubble is there already).
    ///
    /// Safe to repeat after a crash between the steps: the message goes in once (its
    /// author and id are unique), the transfer once (its id), and the link is made only to
    /// a message that names no transfer yet and whose text is the offered name (a peer's
    /// offer reusing the id of one of its text messages does not turn that into a file).
    pub fn insert_file_message(
        &mut self,
        t: &TransferRow,
        now_ms: i64,
    ) -> Result<Option<i64>, StoreError> {
        let m = t.message(now_ms);
        let seq = self.insert_messages_with_seq(std::slice::from_ref(&m))?[0];
        self.insert_transfer(t)?;
        self.conn
            .prepare_cached(
                "UPDATE messages SET transfer = ?1
                 WHERE author = (SELECT aid FROM authors WHERE key = ?2) AND id = ?3
                   AND transfer IS NULL AND text = ?4
                   AND EXISTS (SELECT 1 FROM transfers
                               WHERE id = ?1 AND msg_id = ?3 AND peer = ?5)",
            )
            .at(&self.path)?
            .execute(params![
                t.id.to_hex(),
                m.author.key(),
                sql_id(t.msg_id),
                t.name,
                t.peer.to_hex()
            ])
            .at(&self.path)?;
        Ok(seq)
    }

    /// Keeps a new transfer. `false` (and nothing changes) if one with its id is already
    /// kept: an offer that came again, or an id that is taken.
    pub fn insert_transfer(&mut self, t: &TransferRow) -> Result<bool, StoreError> {
        let changed = self
            .conn
            .prepare_cached(
                "INSERT INTO transfers (id, peer, direction, msg_id, name, size, hash, port,
                    local_path, source_path, state, bytes_done, error, created_ms, updated_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
                 ON CONFLICT (id) DO NOTHING",
            )
            .at(&self.path)?
            .execute(params![
                t.id.to_hex(),
                t.peer.to_hex(),
                t.direction.as_str(),
                sql_id(t.msg_id),
                t.name,
                sql_u64(t.size),
                files::to_hex(&t.hash),
                i64::from(t.port),
                t.local_path.as_deref().map(path_bytes),
                t.source_path.as_deref().map(path_bytes),
                t.state.as_str(),
                sql_u64(t.bytes_done.min(t.size)),
                t.error,
                t.created_ms,
                t.updated_ms,
            ])
            .at(&self.path)?;
        Ok(changed == 1)
    }

    /// The transfer with this id, if kept.
    pub fn transfer(&self, id: TransferId) -> Result<Option<TransferRow>, StoreError> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {TRANSFER_COLUMNS} FROM transfers WHERE id = ?1"
            ))
            .at(&self.path)?
            .query_row([id.to_hex()], transfer_row)
            .optional()
            .at(&self.path)
    }

    /// Transfers still offered, accepted or running, oldest first: what a restart picks up.
    pub fn unfinished_transfers(&self) -> Result<Vec<TransferRow>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {TRANSFER_COLUMNS} FROM transfers
                 WHERE state IN ('offered', 'accepted', 'running') ORDER BY created_ms, id"
            ))
            .at(&self.path)?;
        let rows = stmt.query_map([], transfer_row).at(&self.path)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().at(&self.path)
    }

    /// The newest `limit` transfers with `peer`, oldest first: the file bubbles of its
    /// conversation.
    pub fn transfers_with(
        &self,
        peer: &NodeId,
        limit: usize,
    ) -> Result<Vec<TransferRow>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT * FROM (SELECT {TRANSFER_COLUMNS} FROM transfers WHERE peer = ?1
                 ORDER BY created_ms DESC, id DESC LIMIT ?2) ORDER BY created_ms, id"
            ))
            .at(&self.path)?;
        let rows = stmt
            .query_map(params![peer.to_hex(), sql_limit(limit)], transfer_row)
            .at(&self.path)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().at(&self.path)
    }

    /// Moves transfer `id` to `state`, with `error` (kept, or cleared with `None`). `false`
    /// if it is not kept or may not move there ([`TransferState::can_move_to`]).
    pub fn set_transfer_state(
        &mut self,
        id: TransferId,
        state: TransferState,
        error: Option<&str>,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        self.move_transfer(id, state, error, None, now_ms)
    }

    /// The user accepted incoming transfer `id`, to be written to `local_path`. `false` if it
    /// is not kept, not incoming, or no longer offered.
    pub fn accept_transfer(
        &mut self,
        id: TransferId,
        local_path: &Path,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        self.move_transfer(id, TransferState::Accepted, None, Some(local_path), now_ms)
    }

    fn move_transfer(
        &mut self,
        id: TransferId,
        state: TransferState,
        error: Option<&str>,
        local_path: Option<&Path>,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let path = &self.path;
        let tx = write_tx(&mut self.conn).at(path)?;
        let now: Option<(String, String)> = tx
            .prepare_cached("SELECT state, direction FROM transfers WHERE id = ?1")
            .at(path)?
            .query_row([id.to_hex()], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
            .at(path)?;
        let Some((from, direction)) = now else {
            return Ok(false);
        };
        let allowed = TransferState::parse(&from).is_some_and(|from| match local_path {
            // Accepting chooses the path: only once, for a file coming in.
            Some(_) => from == TransferState::Offered && direction == Direction::In.as_str(),
            None => from.can_move_to(state),
        });
        if !allowed {
            return Ok(false);
        }
        tx.prepare_cached(
            "UPDATE transfers SET state = ?2, error = ?3,
                local_path = coalesce(?4, local_path), updated_ms = ?5 WHERE id = ?1",
        )
        .at(path)?
        .execute(params![
            id.to_hex(),
            state.as_str(),
            error,
            local_path.map(path_bytes),
            now_ms
        ])
        .at(path)?;
        tx.commit().at(path)?;
        Ok(true)
    }

    /// `bytes_done` bytes of transfer `id` are through (written and flushed, or sent and
    /// confirmed). `false` if it is not kept, not accepted or running, or `bytes_done` is
    /// more than its size.
    pub fn set_transfer_progress(
        &mut self,
        id: TransferId,
        bytes_done: u64,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let changed = self
            .conn
            .prepare_cached(
                "UPDATE transfers SET bytes_done = ?2, updated_ms = ?3
                 WHERE id = ?1 AND ?2 <= size AND state IN ('accepted', 'running')",
            )
            .at(&self.path)?
            .execute(params![id.to_hex(), sql_u64(bytes_done), now_ms])
            .at(&self.path)?;
        Ok(changed == 1)
    }

    /// The sender of incoming transfer `id` offered it again from a new TCP port (after a
    /// restart). `false` if it is not kept, not incoming or already final.
    pub fn set_transfer_port(
        &mut self,
        id: TransferId,
        port: u16,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let changed = self
            .conn
            .prepare_cached(
                "UPDATE transfers SET port = ?2, updated_ms = ?3
                 WHERE id = ?1 AND direction = 'in'
                   AND state NOT IN ('done', 'declined', 'cancelled')",
            )
            .at(&self.path)?
            .execute(params![id.to_hex(), i64::from(port), now_ms])
            .at(&self.path)?;
        Ok(changed == 1)
    }
}
