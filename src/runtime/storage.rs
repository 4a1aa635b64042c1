//! The store on its own thread: the loop sends requests over a bounded channel and gets
//! replies back on another, so the UI never waits on the disk.
//!
//! Inserts that queue up while a transaction runs are committed together in the next one,
//! which is what keeps a flood of incoming messages cheap.

use crate::i18n::Lang;
use crate::message::{Author, Hit, Message, Page};
use crate::proto::files::{TransferId, TransferState};
use crate::proto::{ConversationId, DeliveryState, MsgId, NodeId, Quote};
use crate::store::{NewMessage, OutboxRow, PeerRow, Store, StoreError, StoredMessage, TransferRow};
use crate::tr;
use std::path::PathBuf;
use std::sync::mpsc as std_mpsc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Requests queued for the store thread at most; senders wait beyond this.
const QUEUE: usize = 4096;
/// Requests taken in one turn (inserts among them share one transaction).
const BATCH: usize = 1024;
/// New messages are stored without their search index entries (most of the cost of an
/// insert, and acks wait on inserts); the index catches up once the store has had nothing
/// to do for this long, a chunk per transaction.
const INDEX_IDLE: Duration = Duration::from_millis(200);
const INDEX_CHUNK: usize = 2048;
/// ... or at once, a chunk after each batch, when this many messages are not indexed (so
/// that a search never scans more than about this many).
const MAX_INDEX_BACKLOG: i64 = 100_000;

#[derive(Debug)]
pub enum Request {
    Insert(Vec<NewMessage>),
    States(Vec<(MsgId, DeliveryState)>),
    /// A read receipt from `peer` (see [`Store::read_by`]): answered with [`Reply::Read`].
    Read {
        peer: NodeId,
        ids: Vec<MsgId>,
    },
    /// Find the message a reply quotes (see [`Store::original_excerpt`]): answered with
    /// [`Reply::QuoteChecked`].
    CheckQuote {
        conversation: ConversationId,
        reply: MsgId,
        author: Author,
        quote: Box<Quote>,
    },
    /// Bring the strangers within bounds (see [`Store::prune_strangers`]).
    PruneStrangers,
    Page {
        conversation: ConversationId,
        page: Page,
        limit: usize,
    },
    ReadUpTo {
        conversation: ConversationId,
        seq: i64,
    },
    Peer(PeerRow),
    Draft {
        conversation: ConversationId,
        text: String,
    },
    Pin {
        conversation: ConversationId,
        on: bool,
    },
    Mute {
        conversation: ConversationId,
        on: bool,
    },
    Alias {
        conversation: ConversationId,
        alias: Option<String>,
    },
    OutboxAdd(Box<OutboxRow>),
    OutboxRemove(Vec<MsgId>),
    /// Take back `author`'s message `target` (see [`Store::recall`]); `id` is the recall
    /// message's own id when a peer sent it (to acknowledge it once stored).
    Recall {
        conversation: ConversationId,
        author: Author,
        target: MsgId,
        within: Option<(i64, i64)>,
        id: Option<MsgId>,
    },
    Search {
        query: String,
        limit: usize,
    },
    /// A file transfer's row changes (`store/transfers.rs`). With `ack`, a peer's file
    /// message that is acknowledged once this is kept: answered with [`Reply::FileKept`].
    Transfer {
        op: TransferOp,
        ack: Option<(NodeId, MsgId)>,
    },
}

/// A change to a transfer's row.
#[derive(Debug)]
pub enum TransferOp {
    Insert(Box<TransferRow>),
    Accept {
        id: TransferId,
        path: PathBuf,
    },
    State {
        id: TransferId,
        state: TransferState,
        error: Option<String>,
    },
    Progress {
        id: TransferId,
        done: u64,
    },
    Port {
        id: TransferId,
        port: u16,
    },
}

#[derive(Debug)]
pub enum Reply {
    /// Each message, and its position if it was new (`None`: a copy of one already stored).
    Inserted(Vec<(NewMessage, Option<i64>)>),
    Page {
        conversation: ConversationId,
        page: Page,
        messages: Vec<Message>,
        more: bool,
    },
    Search {
        query: String,
        hits: Vec<Hit>,
    },
    /// A read receipt from `peer` marked these of my messages to it read.
    Read {
        peer: NodeId,
        ids: Vec<MsgId>,
    },
    /// The start of the text a reply quotes, if the quoted message is in its conversation.
    QuoteChecked {
        conversation: ConversationId,
        reply: MsgId,
        author: Author,
        excerpt: Option<String>,
    },
    /// A recall was applied (`Ok(true)`), matched nothing (`Ok(false)`), or failed.
    Recalled {
        conversation: ConversationId,
        author: Author,
        target: MsgId,
        id: Option<MsgId>,
        result: Result<bool, String>,
    },
    /// A transfer change was kept (`ok`) or not. `ack`: the peer's file message to
    /// acknowledge, or let its peer send again. `shown`: a new transfer's bubble, now in its
    /// conversation's history.
    FileKept {
        ack: Option<(NodeId, MsgId)>,
        ok: bool,
        shown: Option<Box<(ConversationId, Message)>>,
    },
    /// Something could not be stored; `messages` lists the ones affected.
    Failed {
        error: String,
        messages: Vec<NewMessage>,
    },
}

/// What a store reply leaves for a front end once the node has done its part (see
/// [`Node::settle`](super::Node::settle)). Both front ends read the store's replies only as
/// these, each showing them its own way.
#[derive(Debug)]
pub enum StoreEvent {
    /// A received message, in the history for the first time (a copy of one stored before is
    /// acknowledged and not shown again). `sent_at_ms` is the sender's clock, or the time it
    /// arrived if the sender gave none.
    Received {
        conversation: ConversationId,
        message: Message,
        sent_at_ms: i64,
    },
    /// A file message, either way, took its place in the history: its bubble.
    File {
        conversation: ConversationId,
        message: Message,
    },
    /// One of my messages took its place in the history.
    Mine {
        id: MsgId,
        seq: i64,
    },
    Page {
        conversation: ConversationId,
        page: Page,
        messages: Vec<Message>,
        more: bool,
    },
    Search {
        query: String,
        hits: Vec<Hit>,
    },
    /// A read receipt from `peer`, checked by the store: these of my messages to it are read.
    Read {
        peer: NodeId,
        ids: Vec<MsgId>,
    },
    /// The start of the text a reply quotes, if the quoted message is in its conversation.
    QuoteChecked {
        conversation: ConversationId,
        reply: MsgId,
        author: Author,
        excerpt: Option<String>,
    },
    /// `author`'s message `target` was taken back.
    Recalled {
        conversation: ConversationId,
        author: Author,
        target: MsgId,
    },
    /// A recall could not be stored.
    RecallFailed {
        error: String,
    },
    /// Messages could not be stored; `mine` are my own among them.
    Failed {
        error: String,
        mine: Vec<MsgId>,
    },
}

/// The loop's end of the store thread.
pub struct StoreHandle {
    tx: std_mpsc::SyncSender<Request>,
}

impl StoreHandle {
    /// Moves `store` onto its own thread. Replies arrive on the returned receiver.
    /// What goes wrong is said in `lang`.
    pub fn spawn(
        store: Store,
        lang: Lang,
    ) -> std::io::Result<(StoreHandle, mpsc::UnboundedReceiver<Reply>)> {
        let (tx, rx) = std_mpsc::sync_channel(QUEUE);
        // Replies are never more than the requests, which are bounded.
        let (reply_tx, reply_rx) = mpsc::unbounded_channel();
        std::thread::Builder::new()
            .name("lanchat-store".into())
            .spawn(move || run(store, rx, reply_tx, lang))?;
        Ok((StoreHandle { tx }, reply_rx))
    }

    /// Queues a request without waiting. If the store is thousands of requests behind (or
    /// gone) the request comes back: the loop never waits on the disk.
    pub fn send(&self, r: Request) -> Result<(), Request> {
        self.tx.try_send(r).map_err(|e| match e {
            std_mpsc::TrySendError::Full(r) | std_mpsc::TrySendError::Disconnected(r) => r,
        })
    }
}

/// Whether the file passed its check.
enum Verified {
    Pending(std_mpsc::Receiver<Result<(), String>>),
    Ok,
    Damaged(String),
}

impl Verified {
    /// The check's verdict if it is in: `None` while it runs.
    fn poll(&mut self, lang: Lang) -> Option<Result<(), String>> {
        if let Verified::Pending(rx) = self {
            *self = match rx.try_recv() {
                Ok(Ok(())) => Verified::Ok,
                Ok(Err(e)) => Verified::Damaged(e),
                Err(std_mpsc::TryRecvError::Empty) => return None,
                Err(std_mpsc::TryRecvError::Disconnected) => {
                    Verified::Damaged(tr!(lang, "store-check-unfinished"))
                }
            };
        }
        match self {
            Verified::Damaged(e) => Some(Err(e.clone())),
            _ => Some(Ok(())),
        }
    }
}

fn is_write(r: &Request) -> bool {
    !matches!(
        r,
        Request::Page { .. } | Request::Search { .. } | Request::CheckQuote { .. }
    )
}

fn run(
    mut store: Store,
    rx: std_mpsc::Receiver<Request>,
    replies: mpsc::UnboundedSender<Reply>,
    lang: Lang,
) {
    // The whole file is checked for damage on a thread of its own (a second or so for a
    // big history) while reads go ahead; nothing is written until it passes, and nothing
    // ever is if it does not.
    let (check_tx, check_rx) = std_mpsc::channel();
    let path = store.path().to_path_buf();
    let spawned = std::thread::Builder::new()
        .name("lanchat-store-check".into())
        .spawn(move || {
            let _ = check_tx.send(Store::verify_file(&path).map_err(|e| e.text(lang)));
        });
    let mut verified = match spawned {
        Ok(_) => Verified::Pending(check_rx),
        Err(e) => Verified::Damaged(tr!(lang, "store-check-failed", detail = e.to_string())),
    };
    let mut reported = false;
    store.defer_indexing();
    let mut index_behind = store.search_backlog().is_ok_and(|n| n > 0);
    // Writes that arrived while the check runs, in order.
    let mut deferred: Vec<Request> = Vec::new();
    loop {
        let verdict = verified.poll(lang);
        let first = if verdict.is_none() {
            match rx.recv_timeout(std::time::Duration::from_millis(20)) {
                Ok(r) => Some(r),
                Err(std_mpsc::RecvTimeoutError::Timeout) => None,
                Err(std_mpsc::RecvTimeoutError::Disconnected) => return,
            }
        } else if deferred.is_empty() && index_behind && matches!(verdict, Some(Ok(()))) {
            match rx.recv_timeout(INDEX_IDLE) {
                Ok(r) => Some(r),
                Err(std_mpsc::RecvTimeoutError::Timeout) => {
                    index_behind = index_chunk(&mut store);
                    continue;
                }
                Err(std_mpsc::RecvTimeoutError::Disconnected) => return,
            }
        } else if deferred.is_empty() {
            match rx.recv() {
                Ok(r) => Some(r),
                Err(_) => return,
            }
        } else {
            None
        };
        let mut batch = std::mem::take(&mut deferred);
        batch.extend(first);
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        if batch.is_empty() {
            continue;
        }
        if verdict.is_none() {
            // Still checking: reads now, writes later.
            let (writes, reads): (Vec<Request>, Vec<Request>) =
                batch.into_iter().partition(is_write);
            deferred = writes;
            for r in reads {
                if let Some(reply) = handle(&mut store, r, lang)
                    && replies.send(reply).is_err()
                {
                    return;
                }
            }
            continue;
        }
        if let Some(Err(error)) = verdict
            && batch.iter().any(is_write)
        {
            if !reported {
                tracing::error!(%error, "history database damaged");
                reported = true;
            }
            // Serve the reads; refuse the writes, naming the messages that were not kept.
            let mut messages = Vec::new();
            let mut reads = Vec::new();
            let mut recalls = Vec::new();
            for r in batch {
                match r {
                    Request::Insert(ms) => messages.extend(ms),
                    Request::Recall {
                        conversation,
                        author,
                        target,
                        id,
                        ..
                    } => recalls.push(Reply::Recalled {
                        conversation,
                        author,
                        target,
                        id,
                        result: Err(error.clone()),
                    }),
                    r if !is_write(&r) => reads.push(r),
                    _ => {}
                }
            }
            for reply in recalls {
                if replies.send(reply).is_err() {
                    return;
                }
            }
            let failed = Reply::Failed {
                error: error.clone(),
                messages,
            };
            if replies.send(failed).is_err() {
                return;
            }
            for r in reads {
                if let Some(reply) = handle(&mut store, r, lang)
                    && replies.send(reply).is_err()
                {
                    return;
                }
            }
            continue;
        }
        // All inserts of the batch in one transaction, ahead of the rest: a page asked for
        // after a message arrived must include it.
        let mut inserts = Vec::new();
        let mut others = Vec::new();
        for r in batch {
            match r {
                Request::Insert(ms) => inserts.extend(ms),
                other => others.push(other),
            }
        }
        if !inserts.is_empty() {
            let reply = match store.insert_messages_with_seq(&inserts) {
                Ok(seqs) => Reply::Inserted(inserts.into_iter().zip(seqs).collect()),
                Err(e) => {
                    tracing::error!(%e, "could not store messages");
                    Reply::Failed {
                        error: e.text(lang),
                        messages: inserts,
                    }
                }
            };
            if replies.send(reply).is_err() {
                return;
            }
            index_behind = true;
            if store.search_backlog().is_ok_and(|n| n > MAX_INDEX_BACKLOG) {
                index_behind = index_chunk(&mut store);
            }
        }
        for r in others {
            if let Some(reply) = handle(&mut store, r, lang)
                && replies.send(reply).is_err()
            {
                return;
            }
        }
    }
}

/// A page of a conversation's history as the app asks for it: the messages, oldest first,
/// and whether there are more beyond them (in the page's direction; always `true` for
/// [`Page::Around`]).
pub fn load_page(
    store: &Store,
    conversation: &ConversationId,
    page: Page,
    limit: usize,
) -> Result<(Vec<Message>, bool), StoreError> {
    // One more than asked tells whether there is more: the extra one is the oldest of a
    // page that goes back, the newest of one that goes forward.
    let going_back = |mut v: Vec<StoredMessage>| {
        let more = v.len() > limit;
        if more {
            v.remove(0);
        }
        (v, more)
    };
    let going_forward = |mut v: Vec<StoredMessage>| {
        let more = v.len() > limit;
        v.truncate(limit);
        (v, more)
    };
    let (rows, more) = match page {
        Page::Latest => store.latest(conversation, limit + 1).map(going_back),
        Page::Before(seq) => store.before(conversation, seq, limit + 1).map(going_back),
        Page::Oldest => store.oldest(conversation, limit + 1).map(going_forward),
        Page::After(seq) => store.after(conversation, seq, limit + 1).map(going_forward),
        Page::Around(seq) => store.around(conversation, seq, limit).map(|v| (v, true)),
    }?;
    Ok((rows.into_iter().map(Message::from).collect(), more))
}

/// Adds a chunk of the messages not yet indexed to the search index. Returns whether more
/// are left.
fn index_chunk(store: &mut Store) -> bool {
    match store.index_pending(INDEX_CHUNK) {
        Ok(n) => n == INDEX_CHUNK,
        Err(e) => {
            // Search still finds them (it scans what is not indexed); the next insert tries
            // again.
            tracing::warn!(%e, "could not index messages for search");
            false
        }
    }
}

fn handle(store: &mut Store, r: Request, lang: Lang) -> Option<Reply> {
    let failed = |e: crate::store::StoreError| {
        tracing::error!(%e, "store request failed");
        Some(Reply::Failed {
            error: e.text(lang),
            messages: Vec::new(),
        })
    };
    match r {
        Request::Insert(_) => None, // batched above
        Request::States(changes) => store.set_states(&changes).err().and_then(failed),
        Request::Read { peer, ids } => match store.read_by(peer, &ids) {
            Ok(ids) if ids.is_empty() => None,
            Ok(ids) => Some(Reply::Read { peer, ids }),
            Err(e) => failed(e),
        },
        Request::CheckQuote {
            conversation,
            reply,
            author,
            quote,
        } => match store.original_excerpt(&conversation, &quote) {
            Ok(excerpt) => Some(Reply::QuoteChecked {
                conversation,
                reply,
                author,
                excerpt,
            }),
            Err(e) => failed(e),
        },
        Request::PruneStrangers => store.prune_strangers().err().and_then(failed),
        Request::Transfer { op, ack } => {
            let now = crate::runtime::wall_now_ms();
            let mut shown = None;
            let result = match op {
                TransferOp::Insert(row) => store.insert_file_message(&row, now).map(|seq| {
                    shown = seq.map(|seq| {
                        let mut message = row.message(now).stored(seq);
                        message.file = Some(row.card());
                        Box::new((ConversationId::Peer(row.peer), message))
                    });
                }),
                TransferOp::Accept { id, path } => {
                    store.accept_transfer(id, &path, now).map(|_| ())
                }
                TransferOp::State { id, state, error } => store
                    .set_transfer_state(id, state, error.as_deref(), now)
                    .map(|_| ()),
                TransferOp::Progress { id, done } => {
                    store.set_transfer_progress(id, done, now).map(|_| ())
                }
                TransferOp::Port { id, port } => store.set_transfer_port(id, port, now).map(|_| ()),
            };
            if let Err(e) = &result {
                tracing::error!(%e, "could not store a file transfer");
            }
            (ack.is_some() || shown.is_some()).then(|| Reply::FileKept {
                ack,
                ok: result.is_ok(),
                shown,
            })
        }
        Request::ReadUpTo { conversation, seq } => {
            store.mark_read(&conversation, seq).err().and_then(failed)
        }
        Request::Peer(p) => store.upsert_peer(&p).err().and_then(failed),
        Request::Pin { conversation, on } => {
            store.set_pinned(&conversation, on).err().and_then(failed)
        }
        Request::Mute { conversation, on } => {
            store.set_muted(&conversation, on).err().and_then(failed)
        }
        Request::Alias {
            conversation,
            alias,
        } => store.set_alias(&conversation, alias).err().and_then(failed),
        Request::Draft { conversation, text } => {
            store.set_draft(&conversation, &text).err().and_then(failed)
        }
        Request::OutboxAdd(o) => store.outbox_add(&o).err().and_then(failed),
        Request::Recall {
            conversation,
            author,
            target,
            within,
            id,
        } => {
            let result = store
                .recall(&conversation, author, target, within)
                .map_err(|e| {
                    tracing::error!(%e, "could not recall a message");
                    e.text(lang)
                });
            Some(Reply::Recalled {
                conversation,
                author,
                target,
                id,
                result,
            })
        }
        Request::OutboxRemove(ids) => store.outbox_remove(&ids).err().and_then(failed),
        Request::Search { query, limit } => match store.search(&query, limit) {
            Ok(hits) => Some(Reply::Search { query, hits }),
            Err(e) => failed(e),
        },
        Request::Page {
            conversation,
            page,
            limit,
        } => {
            let result = load_page(store, &conversation, page, limit);
            match result {
                Ok((messages, more)) => Some(Reply::Page {
                    conversation,
                    page,
                    messages,
                    more,
                }),
                Err(e) => failed(e),
            }
        }
    }
}
