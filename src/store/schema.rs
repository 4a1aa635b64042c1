//! Opening, checking and migrating the database.
//!
//! `PRAGMA user_version` is the number of [`MIGRATIONS`] applied; each step runs in a
//! transaction of its own together with the version bump. To change the schema, append a
//! step; never edit one that has shipped.

use super::StoreError;
use rusqlite::{Connection, OpenFlags, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// `PRAGMA application_id` of a lanchat history database: "LnCh".
pub const APPLICATION_ID: i32 = 0x4C6E_4368;

/// How long a statement waits for a lock held by another connection (another lanchat
/// process on the same file) before failing with "database is locked".
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The schema, one step per version. Step `i` takes the database from version `i` to `i + 1`.
pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: conversations, authors, messages with their FTS5 trigram index, peers, outbox.
    r#"
    PRAGMA application_id = 1282294632;

    CREATE TABLE conversations (
        cid              INTEGER PRIMARY KEY,
        -- 64 lower-case hex digits (a peer's key) or "ip:port" (a plain-text peer).
        key              TEXT NOT NULL UNIQUE,
        alias            TEXT,
        pinned           INTEGER NOT NULL DEFAULT 0 CHECK (pinned IN (0, 1)),
        muted            INTEGER NOT NULL DEFAULT 0 CHECK (muted IN (0, 1)),
        draft            TEXT NOT NULL DEFAULT '',
        last_read_seq    INTEGER NOT NULL DEFAULT 0,
        -- Kept by insert_messages, the delete trigger and mark_read.
        unread           INTEGER NOT NULL DEFAULT 0,
        last_activity_ms INTEGER NOT NULL DEFAULT 0
    ) STRICT;

    -- Who wrote a message: aid 0 is 'me', others are 64 hex digits or "ip:port".
    CREATE TABLE authors (
        aid INTEGER PRIMARY KEY,
        key TEXT NOT NULL UNIQUE
    ) STRICT;
    INSERT INTO authors (aid, key) VALUES (0, 'me');

    CREATE TABLE messages (
        -- Order of arrival; AUTOINCREMENT so that a seq is never reused.
        seq            INTEGER PRIMARY KEY AUTOINCREMENT,
        conversation   INTEGER NOT NULL REFERENCES conversations (cid) ON DELETE CASCADE,
        author         INTEGER NOT NULL REFERENCES authors (aid),
        -- The sender's u64 message id, stored as the i64 with the same bits.
        id             INTEGER NOT NULL,
        sent_at_ms     INTEGER NOT NULL,
        received_at_ms INTEGER NOT NULL,
        text           TEXT NOT NULL,
        state          TEXT CHECK (state IN
                           ('queued', 'sending', 'sent', 'delivered', 'read', 'failed')),
        UNIQUE (author, id)
    ) STRICT;
    CREATE INDEX messages_by_conversation ON messages (conversation, seq);

    CREATE VIRTUAL TABLE messages_fts USING fts5 (
        text,
        content = 'messages',
        content_rowid = 'seq',
        tokenize = 'trigram',
        columnsize = 0
    );

    -- Store::insert_messages indexes new rows and updates their conversations' unread and
    -- last_activity_ms itself, once per batch: from per-row triggers, every insert needed a
    -- statement journal and made FTS5 flush its pending terms to a new segment (10x slower on
    -- large batches). Deletes and edits are rare and are kept in sync by triggers.
    CREATE TRIGGER messages_after_delete AFTER DELETE ON messages BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.seq, old.text);
        UPDATE conversations SET unread = unread - 1
        WHERE cid = old.conversation AND old.author <> 0 AND old.seq > last_read_seq
          AND unread > 0;
    END;

    CREATE TRIGGER messages_after_update_text AFTER UPDATE OF text ON messages BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.seq, old.text);
        INSERT INTO messages_fts (rowid, text) VALUES (new.seq, new.text);
    END;

    CREATE TABLE peers (
        id           TEXT PRIMARY KEY,  -- 64 hex digits
        name         TEXT NOT NULL,
        addr         TEXT NOT NULL,     -- "ip:port"
        last_seen_ms INTEGER NOT NULL
    ) STRICT;

    CREATE TABLE outbox (
        ord        INTEGER PRIMARY KEY AUTOINCREMENT,
        id         INTEGER NOT NULL UNIQUE,
        to_peer    TEXT NOT NULL,       -- 64 hex digits
        sent_at_ms INTEGER NOT NULL,
        text       TEXT NOT NULL
    ) STRICT;
    "#,
    // 2: development builds of version 1 indexed and counted new messages from a trigger;
    // insert_messages does both now. Drop the trigger and recompute what it kept.
    r#"
    DROP TRIGGER IF EXISTS messages_after_insert;
    UPDATE conversations SET
        unread = (SELECT count(*) FROM messages m
                  WHERE m.conversation = conversations.cid
                    AND m.seq > conversations.last_read_seq AND m.author <> 0),
        last_activity_ms = coalesce((SELECT max(m.received_at_ms) FROM messages m
                                     WHERE m.conversation = conversations.cid), 0);
    INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');
    "#,
    // 3: quote-reply and recall. A reply keeps the quoted message's id, author (`me`, 64 hex
    // digits) and excerpt; a recalled message keeps its row with the text emptied. The
    // outbox keeps what a waiting message is: text, a reply, or a recall of `recall_of`.
    r#"
    ALTER TABLE messages ADD COLUMN quote_id INTEGER;
    ALTER TABLE messages ADD COLUMN quote_author TEXT;
    ALTER TABLE messages ADD COLUMN quote_excerpt TEXT;
    ALTER TABLE messages ADD COLUMN recalled INTEGER NOT NULL DEFAULT 0
        CHECK (recalled IN (0, 1));
    ALTER TABLE outbox ADD COLUMN quote_id INTEGER;
    ALTER TABLE outbox ADD COLUMN quote_author TEXT;
    ALTER TABLE outbox ADD COLUMN quote_excerpt TEXT;
    ALTER TABLE outbox ADD COLUMN recall_of INTEGER;
    "#,
    // 4: the search index may lag behind the messages. The store thread stores a burst of
    // incoming messages without indexing them (indexing is most of the cost of an insert,
    // and a message is acknowledged only once stored) and indexes them in large chunks when
    // it is idle; search scans the rows not indexed yet. `search_mark` says how far the
    // index goes: every row with `seq <= indexed_seq` is indexed, no other. Deletes and
    // edits touch the index only for indexed rows.
    r#"
    CREATE TABLE search_mark (
        only        INTEGER PRIMARY KEY CHECK (only = 0),
        indexed_seq INTEGER NOT NULL
    ) STRICT;
    INSERT INTO search_mark (only, indexed_seq) SELECT 0, coalesce(max(seq), 0) FROM messages;

    DROP TRIGGER messages_after_delete;
    CREATE TRIGGER messages_after_delete AFTER DELETE ON messages BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, text)
            SELECT 'delete', old.seq, old.text
            WHERE old.seq <= (SELECT indexed_seq FROM search_mark);
        UPDATE conversations SET unread = unread - 1
        WHERE cid = old.conversation AND old.author <> 0 AND old.seq > last_read_seq
          AND unread > 0;
    END;

    DROP TRIGGER messages_after_update_text;
    CREATE TRIGGER messages_after_update_text AFTER UPDATE OF text ON messages
    WHEN old.seq <= (SELECT indexed_seq FROM search_mark) BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.seq, old.text);
        INSERT INTO messages_fts (rowid, text) VALUES (new.seq, new.text);
    END;
    "#,
    // 5: strangers are bounded. `wrote` marks a conversation I have written in (kept by
    // insert_messages); a plain-text one (its key is `ip:port`) without it, not pinned and
    // not renamed, is a stranger, and only the newest strangers are kept (see
    // `Store::prune_strangers`). The index serves the start, which loads only the first
    // conversations in sidebar order.
    r#"
    ALTER TABLE conversations ADD COLUMN wrote INTEGER NOT NULL DEFAULT 0 CHECK (wrote IN (0, 1));
    UPDATE conversations SET wrote = EXISTS (SELECT 1 FROM messages m
                                             WHERE m.conversation = conversations.cid
                                               AND m.author = 0);
    CREATE INDEX conversations_in_order ON conversations (pinned DESC, last_activity_ms DESC, key);
    "#,
    // 6: files. A transfer either way, keyed by its id (32 hex digits), with the other side's
    // key in `peer` and the offer message's id in `msg_id`. `name` is the name as offered
    // (untrusted: shown sanitized, never a path); `local_path` is where an incoming file goes,
    // chosen by `proto::files::safe_name` when it is accepted; `source_path` is the file an
    // outgoing transfer offers. Paths are the bytes of the OS's path. `state` follows
    // `proto::files::TransferState`. The outbox keeps a file message as its kind
    // (`content`, the wire byte) and its wire bytes (`payload`), with `text` empty.
    r#"
    CREATE TABLE transfers (
        id          TEXT PRIMARY KEY,
        peer        TEXT NOT NULL,
        direction   TEXT NOT NULL CHECK (direction IN ('in', 'out')),
        msg_id      INTEGER NOT NULL,
        name        TEXT NOT NULL,
        size        INTEGER NOT NULL CHECK (size >= 0),
        hash        TEXT NOT NULL CHECK (length(hash) = 64),
        port        INTEGER NOT NULL CHECK (port BETWEEN 0 AND 65535),
        local_path  BLOB,
        source_path BLOB,
        state       TEXT NOT NULL CHECK (state IN
                        ('offered', 'accepted', 'declined', 'running', 'done', 'failed',
                         'cancelled')),
        bytes_done  INTEGER NOT NULL DEFAULT 0 CHECK (bytes_done BETWEEN 0 AND size),
        error       TEXT,
        created_ms  INTEGER NOT NULL,
        updated_ms  INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX transfers_unfinished ON transfers (created_ms)
        WHERE state IN ('offered', 'accepted', 'running');
    CREATE INDEX transfers_by_peer ON transfers (peer, created_ms);

    ALTER TABLE outbox ADD COLUMN content INTEGER;
    ALTER TABLE outbox ADD COLUMN payload BLOB;
    "#,
    // 7: file bubbles. A file offer, either way, is a message in its conversation (its text
    // is the offered name, so search finds it) that names its transfer (32 hex digits).
    r#"
    ALTER TABLE messages ADD COLUMN transfer TEXT;
    "#,
];

/// The schema version this build writes: the number of migrations.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

fn sqlite_err(path: &Path) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
    move |source| StoreError::Sqlite {
        path: path.to_path_buf(),
        source,
    }
}

fn open_err(path: &Path) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
    move |source| StoreError::Open {
        path: path.to_path_buf(),
        source,
    }
}

pub(crate) fn open_memory(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open_in_memory().map_err(open_err(path))?;
    configure(&conn, path, false)?;
    migrate(conn, path)
}

pub(crate) fn open_file(path: &Path) -> Result<Connection, StoreError> {
    open_file_checked(path, true)
}

/// [`open_file`], optionally without the `quick_check` pass over the whole file (1.3 s at a
/// million messages); the caller then runs [`verify`] before the first write.
pub(crate) fn open_file_checked(path: &Path, full_check: bool) -> Result<Connection, StoreError> {
    let io_err = |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io_err)?;
    }
    let has_content = match std::fs::metadata(path) {
        Ok(meta) => meta.len() > 0,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            create_private(path).map_err(io_err)?;
            false
        }
        Err(e) => return Err(io_err(e)),
    };
    if has_content {
        // Look before touching. First the raw header, without SQLite: garbage, another
        // program's database and a newer lanchat's are refused without opening them at all.
        peek_header(path)?;
        // Then SQLite, read-only: it cannot change the file (no journal rollback, no WAL
        // checkpoint on close), so whatever it is, it stays as it was. (On a WAL-mode file
        // SQLite may create the `-wal` and `-shm` side files if they are missing; they stay
        // empty of data.)
        let ro = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(open_err(path))?;
        ro.busy_timeout(BUSY_TIMEOUT).map_err(open_err(path))?;
        check_header(&ro, path)?;
        if full_check {
            quick_check(&ro, path)?;
        }
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(open_err(path))?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err(path))?;
    // Again on this connection: the file may have been replaced in between.
    check_header(&conn, path)?;
    configure(&conn, path, true)?;
    migrate(conn, path)
}

/// Creates an empty file readable by its owner only; SQLite gives the `-wal` and `-shm` files
/// the same permissions.
fn create_private(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// The 100-byte database header: magic, then (big-endian) `user_version` at 60 and
/// `application_id` at 68. The authoritative check is [`check_header`] through SQLite (after
/// a crash the newest header may still be in the `-wal` file); this one only lets the plainly
/// foreign be refused without SQLite ever opening the file.
fn peek_header(path: &Path) -> Result<(), StoreError> {
    use std::io::Read;
    let mut header = [0u8; 100];
    let mut file = std::fs::File::open(path).map_err(|source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut len = 0;
    while len < header.len() {
        match file.read(&mut header[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(source) => {
                return Err(StoreError::Io {
                    path: path.to_path_buf(),
                    source,
                });
            }
        }
    }
    let not_ours = |reason: String| StoreError::NotLanchat {
        path: path.to_path_buf(),
        reason,
    };
    if len < header.len() || !header.starts_with(b"SQLite format 3\0") {
        return Err(not_ours("file is not a database: no SQLite header".into()));
    }
    let be = |at: usize| {
        i32::from_be_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]])
    };
    let (version, app_id) = (i64::from(be(60)), be(68));
    if app_id == APPLICATION_ID && version > SCHEMA_VERSION {
        return Err(StoreError::TooNew {
            path: path.to_path_buf(),
            found: version,
            known: SCHEMA_VERSION,
        });
    }
    if app_id != APPLICATION_ID && app_id != 0 {
        return Err(not_ours(format!(
            "an SQLite database with application_id {app_id:#x}"
        )));
    }
    Ok(())
}

/// Classifies an error met while looking at an existing file.
fn refusal(path: &Path) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
    move |e| match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::NotADatabase) => StoreError::NotLanchat {
            path: path.to_path_buf(),
            reason: e.to_string(),
        },
        Some(rusqlite::ErrorCode::DatabaseCorrupt) => StoreError::Damaged {
            path: path.to_path_buf(),
            detail: e.to_string(),
        },
        _ => StoreError::Open {
            path: path.to_path_buf(),
            source: e,
        },
    }
}

/// Refuses anything that is not an empty database or a lanchat one this build can read.
fn check_header(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    let not_ours = |reason: String| StoreError::NotLanchat {
        path: path.to_path_buf(),
        reason,
    };
    let read = |pragma: &str| -> Result<i64, StoreError> {
        conn.pragma_query_value(None, pragma, |r| r.get(0))
            .map_err(refusal(path))
    };
    let app_id = read("application_id")?;
    let version = read("user_version")?;
    if app_id == i64::from(APPLICATION_ID) {
        if version > SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                path: path.to_path_buf(),
                found: version,
                known: SCHEMA_VERSION,
            });
        }
        return Ok(());
    }
    if app_id != 0 {
        return Err(not_ours(format!(
            "an SQLite database with application_id {app_id:#x}"
        )));
    }
    let objects: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))
        .map_err(refusal(path))?;
    if objects > 0 || version != 0 {
        return Err(not_ours(format!(
            "an SQLite database of another program: {objects} schema objects, user_version {version}"
        )));
    }
    Ok(())
}

/// Reads the whole file looking for damage.
pub(crate) fn verify(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    quick_check(conn, path)
}

fn quick_check(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    let mut problems = Vec::new();
    conn.pragma_query(None, "quick_check", |r| {
        problems.push(r.get::<_, String>(0)?);
        Ok(())
    })
    .map_err(refusal(path))?;
    if problems.len() == 1 && problems[0] == "ok" {
        return Ok(());
    }
    problems.truncate(5);
    Err(StoreError::Damaged {
        path: path.to_path_buf(),
        detail: problems.join("; "),
    })
}

fn configure(conn: &Connection, path: &Path, file: bool) -> Result<(), StoreError> {
    let err = sqlite_err(path);
    // Every query is prepared once and kept (there are about 40).
    conn.set_prepared_statement_cache_capacity(64);
    if file {
        // WAL + synchronous=NORMAL: a commit survives the process being killed; only a power
        // loss can take back the last transactions, never corrupt the file.
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
            .map_err(&err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(path = %path.display(), %mode, "SQLite refused WAL mode");
        }
    }
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(&err)?;
    conn.pragma_update(None, "foreign_keys", "ON")
        .map_err(&err)?;
    // Statement journals (one per insert with a trigger) in memory: once one spilled to a
    // temporary file, every later row of a large batch wrote to it.
    conn.pragma_update(None, "temp_store", "MEMORY")
        .map_err(&err)?;
    Ok(())
}

/// Applies the missing migration steps, each in its own transaction.
fn migrate(mut conn: Connection, path: &Path) -> Result<Connection, StoreError> {
    let err = sqlite_err(path);
    loop {
        // IMMEDIATE: two processes opening at once migrate one after the other.
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&err)?;
        let version: i64 = tx
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(&err)?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                path: path.to_path_buf(),
                found: version,
                known: SCHEMA_VERSION,
            });
        }
        let Some(step) = usize::try_from(version)
            .ok()
            .and_then(|v| MIGRATIONS.get(v))
        else {
            break;
        };
        let next = version + 1;
        let migrate_err = |source| StoreError::Migrate {
            path: path.to_path_buf(),
            version: next,
            source,
        };
        tx.execute_batch(step).map_err(migrate_err)?;
        tx.pragma_update(None, "user_version", next)
            .map_err(migrate_err)?;
        tx.commit().map_err(migrate_err)?;
        tracing::info!(path = %path.display(), version = next, "history schema upgraded");
    }
    let app_id: i64 = conn
        .pragma_query_value(None, "application_id", |r| r.get(0))
        .map_err(&err)?;
    if app_id != i64::from(APPLICATION_ID) {
        return Err(StoreError::NotLanchat {
            path: PathBuf::from(path),
            reason: format!("application_id {app_id:#x} after migration"),
        });
    }
    Ok(conn)
}
