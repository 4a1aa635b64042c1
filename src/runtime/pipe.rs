//! `lanchat pipe`: the node without a screen. JSON lines in on stdin, JSON lines out on
//! stdout, one object per line, for scripts, bots and tests.
//!
//! In: `{"cmd":"send","to":"<peer name, id or ip:port>","text":"..."}` (with `"plain":true`
//! an `ip:port` gets the text in the clear even where a lanchat key answers),
//! `{"cmd":"add","addr":"host:port"}`, `{"cmd":"peers"}`, `{"cmd":"quit"}`,
//! `{"cmd":"trust"|"block"|"verify","to":"<peer>"}`,
//! `{"cmd":"send_file","to":"<peer>","path":"..."}`, `{"cmd":"accept","id":"<transfer>"}`
//! (with `"dir"` to save elsewhere than the download directory),
//! `{"cmd":"decline"|"cancel","id":"<transfer>"}`.
//! IP Messenger (iptux, FeiQ): `"to":"ipmsg:<ip>"` or such a peer's name sends to one,
//! `{"cmd":"add_ipmsg","addr":"ip:port"}` sends our entry to an address,
//! `{"cmd":"ipmsg_peers"}` lists them, `{"cmd":"away","text":"..."}` (no text: back).
//! Out: objects with an `"event"` field: `ready`, `peer_up`, `peer_updated`, `peer_down`,
//! `message` (with `reply_to` and `quote` when it replies to another), `recall`, `state`,
//! `trust`, `peers`, `file_offered`, `file_offer`, `file_progress`, `file_done`,
//! `file_failed`, `ipmsg_peer`, `ipmsg_peers`, `shake`, `error`.
//!
//! Input lines are read with a bound ([`BoundedLines`], [`MAX_LINE_BYTES`]); output is
//! written by [`crate::text::inert`], so peer text is exact but carries no raw control, C1 or
//! bidi character to the terminal a script may print it on.

use super::files::FileEvent;
use super::ipmsg_files::IpmsgFileEvent;
use super::storage::StoreEvent;
use super::{Aux, Node, Wake, terminal, wall_now_ms};
use crate::config::Settings;
use crate::i18n::Lang;
use crate::message::{Author, display_name};
use crate::proto::files::{Problem, TransferId};
use crate::proto::{self, ConversationId, Identity, MsgId, NodeId, PeerView};
use crate::rng::Rng;
use anyhow::Context;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWrite, AsyncWriteExt};

#[path = "pipe_groups.rs"]
mod groups;

/// Longest input line accepted (without its newline). A longer line is reported as an
/// error once it passes this, and the rest of it is read and thrown away as it comes: it is
/// never held whole.
pub const MAX_LINE_BYTES: usize = 1 << 20;

#[derive(Debug, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case", deny_unknown_fields)]
enum Command {
    Send {
        to: String,
        text: String,
        /// Send in the clear to `to` (an `ip:port`) even if a lanchat key answers there:
        /// the user names it as a plain-text peer.
        #[serde(default)]
        plain: bool,
    },
    Add {
        addr: String,
    },
    /// Read receipts for messages of `to`'s, by id.
    Read {
        to: String,
        ids: Vec<String>,
    },
    Peers,
    Quit,
    /// Accept a peer's key (after an identity change, in place of the old one).
    Trust {
        to: String,
    },
    /// Refuse a peer's key.
    Block {
        to: String,
    },
    /// Mark a peer verified (its verification code was compared).
    Verify {
        to: String,
    },
    /// Offer the file at `path` to the lanchat peer `to`.
    SendFile {
        to: String,
        path: PathBuf,
    },
    /// Take the file offered as `id` (into `dir`, else the download directory).
    Accept {
        id: String,
        #[serde(default)]
        dir: Option<PathBuf>,
    },
    /// Say no to the file offered as `id`.
    Decline {
        id: String,
    },
    /// Stop transfer `id`, either way.
    Cancel {
        id: String,
    },
    /// Send our IP Messenger entry to `addr` (`ip:port`).
    AddIpmsg {
        addr: String,
    },
    /// List the IP Messenger peers.
    IpmsgPeers,
    /// Away with `text` (IP Messenger peers are told), or back without.
    Away {
        #[serde(default)]
        text: Option<String>,
    },
}

/// An IP Messenger peer as the pipe shows it: every string is the peer's word.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct IpmsgPeerJson {
    pub conversation: String,
    pub ip: String,
    pub addr: String,
    pub name: String,
    pub user: String,
    pub host: String,
    pub group: String,
    pub client: &'static str,
    pub online: bool,
    pub absent: bool,
    pub encoding: &'static str,
}

impl From<&proto::IpmsgPeerView> for IpmsgPeerJson {
    fn from(p: &proto::IpmsgPeerView) -> Self {
        Self {
            conversation: ConversationId::Ipmsg(p.ip).to_string(),
            ip: p.ip.to_string(),
            addr: p.addr.to_string(),
            name: p.name.clone(),
            user: p.user.clone(),
            host: p.host.clone(),
            group: p.group.clone(),
            client: p.client.as_str(),
            online: p.online,
            absent: p.absent,
            encoding: match p.charset {
                proto::ipmsg::Charset::Utf8 => "utf-8",
                proto::ipmsg::Charset::Gb18030 => "gb18030",
            },
        }
    }
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct PeerJson {
    pub id: String,
    pub name: String,
    pub addr: String,
    pub online: bool,
}

impl From<&PeerView> for PeerJson {
    fn from(p: &PeerView) -> Self {
        Self {
            id: p.id.to_hex(),
            name: p.name.clone(),
            addr: p.addr.to_string(),
            online: p.online,
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
enum Output {
    Ready {
        name: String,
        id: String,
        addr: String,
        discovery: bool,
        /// The IP Messenger socket's address, when it is on.
        #[serde(skip_serializing_if = "Option::is_none")]
        ipmsg: Option<String>,
    },
    PeerUp(PeerJson),
    PeerUpdated(PeerJson),
    PeerDown {
        #[serde(flatten)]
        peer: PeerJson,
        reason: &'static str,
    },
    Message {
        id: String,
        conversation: String,
        /// "lanchat" (encrypted, from the key `sender_id`) or "plain" (raw UDP text, unencrypted).
        kind: &'static str,
        sender: String,
        sender_id: Option<String>,
        /// When it arrived here, Unix ms.
        time: i64,
        /// The sender's own clock, if it said.
        sent_at: Option<i64>,
        text: String,
        /// The id of the message this one replies to, and the start of its text.
        #[serde(skip_serializing_if = "Option::is_none")]
        reply_to: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        quote: Option<String>,
    },
    /// The peer of `conversation` took back its message `id`.
    Recall {
        conversation: String,
        id: String,
    },
    State {
        id: String,
        conversation: Option<String>,
        state: &'static str,
    },
    /// A key was proven by a handshake, or its trust changed.
    Trust {
        peer: String,
        /// unverified, verified, blocked or changed.
        trust: &'static str,
        /// With "changed": the known key this one took the name and address of.
        previous: Option<String>,
        /// Another known key with the same name.
        same_name_as: Option<String>,
        fingerprint: String,
    },
    Peers {
        peers: Vec<PeerJson>,
    },
    /// My offer went out (the file is hashed).
    FileOffered {
        id: String,
        to: String,
        name: String,
        size: u64,
    },
    /// A peer offers me a file. `name` is the peer's word.
    FileOffer {
        id: String,
        from: String,
        name: String,
        size: u64,
        kind: &'static str,
    },
    FileProgress {
        id: String,
        done: u64,
        size: u64,
    },
    FileDone {
        id: String,
        path: String,
        /// File bytes that crossed the network for it since this node started.
        bytes: u64,
    },
    FileFailed {
        id: String,
        reason: String,
        /// The reason as a stable code (`proto::files::Problem`).
        code: &'static str,
    },
    IpmsgPeer(IpmsgPeerJson),
    IpmsgPeers {
        peers: Vec<IpmsgPeerJson>,
    },
    /// A FeiQ peer shook the window.
    Shake {
        conversation: String,
    },
    Error {
        message: String,
    },
}

/// A transfer's progress, end and failure are told the same way whoever the peer is.
impl Output {
    fn file_progress(id: TransferId, done: u64, size: u64) -> Output {
        Output::FileProgress {
            id: id.to_hex(),
            done,
            size,
        }
    }

    fn file_done(id: TransferId, path: &std::path::Path, bytes: u64) -> Output {
        Output::FileDone {
            id: id.to_hex(),
            path: path.to_string_lossy().into_owned(),
            bytes,
        }
    }

    fn file_failed(id: TransferId, reason: String, problem: Problem) -> Output {
        Output::FileFailed {
            id: id.to_hex(),
            reason,
            code: problem.as_str(),
        }
    }
}

/// Runs `lanchat pipe` on stdin/stdout.
pub async fn run_stdio(settings: Settings, id: Identity) -> anyhow::Result<()> {
    let store = Node::open_store(&settings)
        .map_err(|e| anyhow::anyhow!(e.text(settings.language)))
        .context(crate::tr!(settings.language, "runtime-open-history"))?;
    let mut node = Node::start(&settings, id)?;
    node.attach_store(store)
        .context("cannot start the message history")?;
    let stdin = tokio::io::BufReader::new(tokio::io::stdin());
    run(
        node,
        stdin,
        tokio::io::stdout(),
        terminal::stop_signal(),
        super::random_seed(),
    )
    .await?;
    Ok(())
}

struct Pipe<W> {
    out: W,
    rng: Rng,
    /// Where my unsettled messages went, to label their state events.
    outgoing: HashMap<MsgId, ConversationId>,
    /// Messages on the wire and not yet acknowledged: at end of input the pipe waits for
    /// these before it quits, so `echo '{...}' | lanchat pipe` delivers.
    in_flight: HashSet<MsgId>,
}

impl<W: AsyncWrite + Unpin> Pipe<W> {
    /// Writes one event line. Peer text in it leaves inert: C1 and bidi controls are
    /// escaped as well as C0 ([`crate::text::inert`]).
    async fn emit(&mut self, o: &Output) -> std::io::Result<()> {
        let line = crate::text::inert::json_line(o)?;
        self.out.write_all(&line).await?;
        self.out.flush().await
    }

    async fn error(&mut self, message: String) -> std::io::Result<()> {
        self.emit(&Output::Error { message }).await
    }
}

/// The loop. Ends on `quit`, end of input, or `stop`.
pub async fn run<R, W, F>(
    mut node: Node,
    input: R,
    out: W,
    stop: F,
    seed: u64,
) -> std::io::Result<()>
where
    R: AsyncBufRead + Unpin,
    W: AsyncWrite + Unpin,
    F: Future<Output = ()>,
{
    tokio::pin!(stop);
    let mut pipe = Pipe {
        out,
        rng: Rng::new(seed),
        outgoing: HashMap::new(),
        in_flight: HashSet::new(),
    };
    pipe.emit(&Output::Ready {
        name: node.endpoint.name().to_owned(),
        id: node.endpoint.node().to_hex(),
        addr: node.local_addr().to_string(),
        discovery: node.discovery,
        ipmsg: node.ipmsg_addr().map(|a| a.to_string()),
    })
    .await?;
    let mut lines = BoundedLines::new(input, MAX_LINE_BYTES);
    let mut input_open = true;
    loop {
        for event in node.drain() {
            pipe.forward(&node, event).await?;
        }
        if let Some(e) = node.take_send_error() {
            pipe.error(e.text(Lang::En)).await?;
        }
        for event in node.take_file_events() {
            pipe.file(event).await?;
        }
        for event in node.take_ipmsg_file_events() {
            pipe.ipmsg_file(event).await?;
        }
        tokio::select! {
            biased;
            () = &mut stop => break,
            line = lines.next_line(), if input_open => match line {
                Ok(Some(InputLine::Text(line))) => {
                    if !pipe.command(&mut node, &line).await? {
                        break;
                    }
                }
                Ok(Some(InputLine::TooLong)) => {
                    pipe.error(format!(
                        "line longer than the limit of {MAX_LINE_BYTES} bytes: skipped"
                    ))
                    .await?;
                }
                Ok(Some(InputLine::NotUtf8)) => {
                    pipe.error("input line is not UTF-8 text: skipped".into()).await?;
                }
                Ok(None) => input_open = false,
                // Input that cannot be read is input that ended: what is on the wire still
                // settles before the pipe quits.
                Err(e) => {
                    pipe.error(format!("cannot read input: {e}")).await?;
                    input_open = false;
                }
            },
            wake = node.wake() => match wake {
                Wake::Aux(Aux::Resolved { query, result }) => match result {
                    Ok(addr) => node.add_peer(addr),
                    Err(e) => {
                        pipe.error(format!("cannot add peer {query}: {}", e.text(Lang::En)))
                            .await?;
                    }
                },
                Wake::Store(reply) => {
                    for event in node.settle(reply) {
                        pipe.stored(&node, event).await?;
                    }
                }
                Wake::Datagrams | Wake::Timeout | Wake::Files => {}
            },
        }
        if !input_open && pipe.in_flight.is_empty() {
            break;
        }
    }
    node.shutdown();
    Ok(())
}

impl<W: AsyncWrite + Unpin> Pipe<W> {
    /// Handles one input line. Returns false to quit.
    async fn command(&mut self, node: &mut Node, line: &str) -> std::io::Result<bool> {
        if line.trim().is_empty() {
            return Ok(true);
        }
        if let Some(done) = self.group_command(node, line).await {
            done?;
            return Ok(true);
        }
        let command: Command = match serde_json::from_str(line) {
            Ok(c) => c,
            Err(e) => {
                self.error(format!("bad command: {e}")).await?;
                return Ok(true);
            }
        };
        match command {
            Command::Quit => return Ok(false),
            Command::AddIpmsg { addr } => match addr.parse::<SocketAddr>() {
                Ok(addr) if node.endpoint.ipmsg_on() => node.add_ipmsg_peer(addr),
                Ok(_) => self.error("IP Messenger is off".into()).await?,
                Err(_) => {
                    self.error(format!("add_ipmsg needs an ip:port, not {addr:?}"))
                        .await?
                }
            },
            Command::IpmsgPeers => {
                let mut peers: Vec<IpmsgPeerJson> =
                    node.endpoint.ipmsg_peers().iter().map(Into::into).collect();
                peers.sort_by(|a, b| a.ip.cmp(&b.ip));
                self.emit(&Output::IpmsgPeers { peers }).await?;
            }
            Command::Away { text } => node.set_away(text),
            Command::Add { addr } => node.resolve(addr),
            Command::Peers => {
                let mut peers: Vec<PeerJson> = node.endpoint.peers().map(|p| (&p).into()).collect();
                peers.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
                self.emit(&Output::Peers { peers }).await?;
            }
            Command::Trust { to } => {
                if let Some(peer) = self.keyed_peer(node, &to, "it has no key").await? {
                    node.endpoint.trust_peer(super::mono_now(), peer);
                }
            }
            Command::Block { to } => {
                if let Some(peer) = self.keyed_peer(node, &to, "it has no key").await? {
                    node.endpoint.block_peer(peer);
                }
            }
            Command::Verify { to } => {
                if let Some(peer) = self.keyed_peer(node, &to, "it has no key").await? {
                    node.endpoint.verify_peer(peer);
                }
            }
            Command::Read { to, ids } => {
                let Some(peer) = self.keyed_peer(node, &to, "no receipts").await? else {
                    return Ok(true);
                };
                let parsed: Option<Vec<MsgId>> = ids.iter().map(|i| MsgId::from_hex(i)).collect();
                match parsed {
                    Some(ids) => node.mark_read(peer, &ids),
                    None => self.error("read: ids are 16 hex digits".into()).await?,
                }
            }
            Command::SendFile { to, path }
                if let Some(ConversationId::Ipmsg(ip)) =
                    resolve_target(node.endpoint.peers().collect(), &to)
                        .ok()
                        .or_else(|| resolve_ipmsg(&node.endpoint.ipmsg_peers(), &to)) =>
            {
                if let Err(e) = node.ipmsg_send_file(ip, &path) {
                    self.error(format!("file not sent to {to}: {e}")).await?;
                }
            }
            Command::SendFile { to, path } => {
                let why = "files go to lanchat peers only";
                if let Some(peer) = self.keyed_peer(node, &to, why).await?
                    && let Err(e) = node.send_file(peer, &path)
                {
                    self.error(format!("file not sent to {to}: {e}")).await?;
                }
            }
            Command::Accept { id, dir } => {
                if let Some(id) = self.transfer_id(&id).await? {
                    let result = if node.is_ipmsg_transfer(&id) {
                        node.ipmsg_accept(id, dir)
                    } else {
                        node.accept_file(id, dir)
                    };
                    if let Err(e) = result {
                        self.error(format!("accept: {e}")).await?;
                    }
                }
            }
            Command::Decline { id } => {
                if let Some(id) = self.transfer_id(&id).await? {
                    if node.is_ipmsg_transfer(&id) {
                        node.ipmsg_decline(id);
                    } else if let Err(e) = node.decline_file(id) {
                        self.error(format!("decline: {e}")).await?;
                    }
                }
            }
            Command::Cancel { id } => {
                if let Some(id) = self.transfer_id(&id).await? {
                    if node.is_ipmsg_transfer(&id) {
                        node.ipmsg_decline(id);
                    } else if let Err(e) = node.cancel_file(id) {
                        self.error(format!("cancel: {e}")).await?;
                    }
                }
            }
            Command::Send { to, text, plain } => {
                let target = if plain {
                    to.parse::<SocketAddr>()
                        .map(|addr| {
                            node.endpoint.allow_plain(addr);
                            ConversationId::Raw(addr)
                        })
                        .map_err(|_| format!("\"plain\" needs an ip:port, not {to:?}"))
                } else {
                    resolve_target(node.endpoint.peers().collect(), &to)
                        .or_else(|e| resolve_ipmsg(&node.endpoint.ipmsg_peers(), &to).ok_or(e))
                };
                let conversation = match target {
                    Ok(c) => c,
                    Err(e) => {
                        self.error(e).await?;
                        return Ok(true);
                    }
                };
                let id = MsgId(self.rng.nonzero_u64());
                self.outgoing.insert(id, conversation);
                if let Err(e) = node.send(conversation, id, wall_now_ms(), &text) {
                    self.outgoing.remove(&id);
                    self.error(format!("not sent to {to}: {e}")).await?;
                }
            }
        }
        Ok(true)
    }

    /// The lanchat peer `to` names; a plain-text peer (which has no key: `why`) or a name
    /// that resolves to nobody is reported as an error and gives `None`.
    async fn keyed_peer(
        &mut self,
        node: &Node,
        to: &str,
        why: &str,
    ) -> std::io::Result<Option<NodeId>> {
        match resolve_target(node.endpoint.peers().collect(), to) {
            Ok(ConversationId::Peer(peer)) => Ok(Some(peer)),
            Ok(ConversationId::Raw(_) | ConversationId::Ipmsg(_)) => {
                self.error(format!("{to} is a plain-text peer: {why}"))
                    .await?;
                Ok(None)
            }
            Ok(ConversationId::Group(_)) => {
                self.error(format!("{to} is a group: {why}")).await?;
                Ok(None)
            }
            Err(e) => {
                self.error(e).await?;
                Ok(None)
            }
        }
    }

    /// A transfer id from a command, or an error line and `None`.
    async fn transfer_id(&mut self, id: &str) -> std::io::Result<Option<TransferId>> {
        match TransferId::from_hex(id.trim()) {
            Some(id) => Ok(Some(id)),
            None => {
                self.error(format!("not a transfer id (32 hex digits): {id:?}"))
                    .await?;
                Ok(None)
            }
        }
    }

    /// A file event as an output line.
    async fn file(&mut self, event: FileEvent) -> std::io::Result<()> {
        let out = match event {
            FileEvent::Offered { id, to, name, size } => Output::FileOffered {
                id: id.to_hex(),
                to: to.to_hex(),
                name,
                size,
            },
            FileEvent::Offer {
                id,
                from,
                name,
                size,
                kind,
            } => Output::FileOffer {
                id: id.to_hex(),
                from: from.to_hex(),
                name,
                size,
                kind: kind.as_str(),
            },
            FileEvent::Progress { id, done, size } => Output::file_progress(id, done, size),
            FileEvent::Done { id, path, bytes } => Output::file_done(id, &path, bytes),
            FileEvent::Failed {
                id,
                reason,
                problem,
            } => Output::file_failed(id, reason, problem),
            // What a bubble or a notice shows; the events above say it here.
            FileEvent::State { .. } | FileEvent::Hashing { .. } => return Ok(()),
        };
        self.emit(&out).await
    }

    /// Files with IP Messenger peers, as the same events as lanchat files (the peer named
    /// `ipmsg:IP`).
    async fn ipmsg_file(&mut self, event: IpmsgFileEvent) -> std::io::Result<()> {
        let out = match event {
            IpmsgFileEvent::Offered { id, to, name, size } => Output::FileOffered {
                id: id.to_hex(),
                to: ConversationId::Ipmsg(to).to_string(),
                name,
                size,
            },
            IpmsgFileEvent::Offer {
                id,
                from,
                name,
                size,
            } => Output::FileOffer {
                id: id.to_hex(),
                from: ConversationId::Ipmsg(from).to_string(),
                kind: crate::proto::files::kind_of(&name).as_str(),
                name,
                size,
            },
            IpmsgFileEvent::Progress { id, done, size } => Output::file_progress(id, done, size),
            IpmsgFileEvent::Done { id, path, bytes } => Output::file_done(id, &path, bytes),
            IpmsgFileEvent::Failed {
                id,
                reason,
                problem,
            } => Output::file_failed(id, reason, problem),
        };
        self.emit(&out).await
    }

    /// `state: read` for each of `ids`, my messages in `conversation`, now read.
    async fn receipts(
        &mut self,
        conversation: ConversationId,
        ids: Vec<MsgId>,
    ) -> std::io::Result<()> {
        for id in ids {
            self.in_flight.remove(&id);
            self.outgoing.remove(&id);
            self.emit(&Output::State {
                id: id.to_string(),
                conversation: Some(conversation.to_string()),
                state: proto::DeliveryState::Read.as_str(),
            })
            .await?;
        }
        Ok(())
    }

    async fn forward(&mut self, node: &Node, event: proto::Event) -> std::io::Result<()> {
        let out = match event {
            // The node acts on these (see `take_file_events`).
            proto::Event::File { .. }
            | proto::Event::IpmsgFiles { .. }
            | proto::Event::IpmsgRelease { .. } => return Ok(()),
            proto::Event::IpmsgPeer(p) => Output::IpmsgPeer((&p).into()),
            proto::Event::Shake { conversation } => Output::Shake {
                conversation: conversation.to_string(),
            },
            proto::Event::Group(e) => return self.group_event(node, e).await,
            proto::Event::PeerUp(p) => Output::PeerUp((&p).into()),
            proto::Event::PeerUpdated(p) => Output::PeerUpdated((&p).into()),
            proto::Event::PeerDown { peer, reason } => Output::PeerDown {
                peer: (&peer).into(),
                reason: match reason {
                    proto::PeerDownReason::Goodbye => "goodbye",
                    proto::PeerDownReason::Timeout => "timeout",
                },
            },
            proto::Event::Message {
                conversation,
                id,
                sent_at_ms,
                text,
                quote,
            } => message(node, conversation, id, sent_at_ms, text, quote),
            proto::Event::Trust {
                peer,
                trust,
                same_name_as,
            } => Output::Trust {
                peer: peer.to_hex(),
                trust: match trust {
                    proto::Trust::Unverified => "unverified",
                    proto::Trust::Verified => "verified",
                    proto::Trust::Blocked => "blocked",
                    proto::Trust::Changed { .. } => "changed",
                },
                previous: match trust {
                    proto::Trust::Changed { previous } => Some(previous.to_hex()),
                    _ => None,
                },
                same_name_as: same_name_as.map(|p| p.to_hex()),
                fingerprint: proto::fingerprint(&peer),
            },
            // Without a store; with one, it is reported once stored (see the loop).
            proto::Event::Recall { from, target, .. } => Output::Recall {
                conversation: ConversationId::Peer(from).to_string(),
                id: target.to_string(),
            },
            // With a store, the store checks the receipt and the loop reports it. Without one,
            // only messages this pipe sent to that peer count.
            proto::Event::Read { from, ids } => {
                if node.has_store() {
                    return Ok(());
                }
                let conversation = ConversationId::Peer(from);
                let mine: Vec<MsgId> = ids
                    .into_iter()
                    .filter(|id| self.outgoing.get(id) == Some(&conversation))
                    .collect();
                return self.receipts(conversation, mine).await;
            }
            proto::Event::State { id, state } => {
                if state == proto::DeliveryState::Sending {
                    self.in_flight.insert(id);
                } else {
                    self.in_flight.remove(&id);
                }
                let conversation = self.outgoing.get(&id).map(|c| c.to_string());
                if matches!(
                    state,
                    proto::DeliveryState::Read | proto::DeliveryState::Sent
                ) {
                    self.outgoing.remove(&id);
                }
                Output::State {
                    id: id.to_string(),
                    conversation,
                    state: state.as_str(),
                }
            }
        };
        self.emit(&out).await
    }
}

impl<W: AsyncWrite + Unpin> Pipe<W> {
    /// What the store answered, once the node did its part.
    async fn stored(&mut self, node: &Node, event: StoreEvent) -> std::io::Result<()> {
        match event {
            StoreEvent::Received {
                conversation,
                message: m,
                sent_at_ms,
            } => {
                let out = message(node, conversation, m.id, Some(sent_at_ms), m.text, m.quote);
                self.emit(&out).await
            }
            StoreEvent::Recalled {
                conversation,
                author,
                target,
            } if author != Author::Me => {
                self.emit(&Output::Recall {
                    conversation: conversation.to_string(),
                    id: target.to_string(),
                })
                .await
            }
            // A read receipt, checked by the store: only my messages to that peer.
            StoreEvent::Read { peer, ids } => self.receipts(ConversationId::Peer(peer), ids).await,
            StoreEvent::RecallFailed { error } => {
                self.error(format!("recall not saved: {error}")).await
            }
            StoreEvent::Failed { error, .. } => self.error(format!("not saved: {error}")).await,
            // Group lines go out as the groups say them (`pipe_groups.rs`), not once stored.
            StoreEvent::Recalled { .. }
            | StoreEvent::Group { .. }
            | StoreEvent::File { .. }
            | StoreEvent::Mine { .. }
            | StoreEvent::Page { .. }
            | StoreEvent::Search { .. }
            | StoreEvent::QuoteChecked { .. } => Ok(()),
        }
    }
}

/// A received message as an output line. The sender is named by the one rule of
/// [`display_name`] (the pipe keeps no aliases).
fn message(
    node: &Node,
    conversation: ConversationId,
    id: MsgId,
    sent_at_ms: Option<i64>,
    text: String,
    quote: Option<proto::Quote>,
) -> Output {
    let name = match conversation {
        ConversationId::Peer(peer) => node.endpoint.peer(&peer).map(|p| p.name),
        ConversationId::Ipmsg(ip) => node.endpoint.ipmsg_peer(ip).map(|p| p.name),
        ConversationId::Raw(_) | ConversationId::Group(_) => None,
    };
    let (kind, sender_id) = match conversation {
        ConversationId::Peer(peer) => ("lanchat", Some(peer.to_hex())),
        ConversationId::Ipmsg(_) => ("ipmsg", None),
        ConversationId::Raw(_) => ("plain", None),
        // Group messages are `group_message` lines (`pipe_groups.rs`).
        ConversationId::Group(_) => ("group", None),
    };
    Output::Message {
        id: id.to_string(),
        conversation: conversation.to_string(),
        kind,
        sender: display_name(&conversation, None, name.as_deref()),
        sender_id,
        time: wall_now_ms(),
        sent_at: sent_at_ms,
        text,
        reply_to: quote.as_ref().map(|q| q.id.to_string()),
        quote: quote.map(|q| q.excerpt),
    }
}

/// One line of input, as [`BoundedLines`] reads it.
#[derive(Debug, PartialEq, Eq)]
pub enum InputLine {
    /// A line without its `\n` (or `\r\n`).
    Text(String),
    /// A line went past the limit: given once, as soon as it does; the rest of that line
    /// is thrown away as it arrives.
    TooLong,
    /// A line (within the limit) that is not UTF-8.
    NotUtf8,
}

/// Lines of at most `max` bytes from `input`, holding no more than `max` bytes of a line
/// (plus what the reader buffers) however long the line is. Cancel-safe, like tokio's
/// `Lines::next_line`: the state lives here, and input is taken from the reader only when
/// it has been handled.
pub struct BoundedLines<R> {
    input: R,
    max: usize,
    line: Vec<u8>,
    /// Inside a line that went past `max`, reading to its end.
    skipping: bool,
}

impl<R: AsyncBufRead + Unpin> BoundedLines<R> {
    pub fn new(input: R, max: usize) -> Self {
        Self {
            input,
            max,
            line: Vec::new(),
            skipping: false,
        }
    }

    /// The next line; `None` at the end of input.
    pub async fn next_line(&mut self) -> std::io::Result<Option<InputLine>> {
        loop {
            let chunk = self.input.fill_buf().await?;
            if chunk.is_empty() {
                // End of input: a last line without a newline still counts.
                if self.skipping || self.line.is_empty() {
                    self.skipping = false;
                    return Ok(None);
                }
                return Ok(Some(self.finish()));
            }
            let newline = chunk.iter().position(|&b| b == b'\n');
            let body = &chunk[..newline.unwrap_or(chunk.len())];
            let taken = newline.map_or(chunk.len(), |i| i + 1);
            if self.skipping {
                self.input.consume(taken);
                if newline.is_some() {
                    self.skipping = false;
                }
                continue;
            }
            // A `\r` before the newline is not part of the line, so it may sit on the limit.
            let room = self.max + 1 - self.line.len().min(self.max + 1);
            if body.len() > room {
                self.line.clear();
                self.skipping = newline.is_none();
                self.input.consume(taken);
                return Ok(Some(InputLine::TooLong));
            }
            self.line.extend_from_slice(body);
            self.input.consume(taken);
            if newline.is_some() {
                return Ok(Some(self.finish()));
            }
        }
    }

    /// The line gathered so far, which ended.
    fn finish(&mut self) -> InputLine {
        let mut line = std::mem::take(&mut self.line);
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        if line.len() > self.max {
            return InputLine::TooLong;
        }
        match String::from_utf8(line) {
            Ok(text) => InputLine::Text(text),
            Err(_) => InputLine::NotUtf8,
        }
    }
}

/// An IP Messenger peer `to` names: `ipmsg:IP`, or the name of exactly one such peer (the
/// online one if several share it).
pub fn resolve_ipmsg(peers: &[proto::IpmsgPeerView], to: &str) -> Option<ConversationId> {
    let to = to.trim();
    if let Some(ip) = to.strip_prefix("ipmsg:") {
        return ip.parse().ok().map(ConversationId::Ipmsg);
    }
    let named: Vec<&proto::IpmsgPeerView> = peers.iter().filter(|p| p.name == to).collect();
    let online: Vec<&&proto::IpmsgPeerView> = named.iter().filter(|p| p.online).collect();
    match (named.as_slice(), online.as_slice()) {
        ([one], _) => Some(ConversationId::Ipmsg(one.ip)),
        (_, [one]) => Some(ConversationId::Ipmsg(one.ip)),
        _ => None,
    }
}

/// Finds who `to` means: a full or unambiguous partial peer id, a peer name (online peers
/// first), or an `ip:port` (a lanchat peer at that address, else a plain-text peer).
pub fn resolve_target(peers: Vec<PeerView>, to: &str) -> Result<ConversationId, String> {
    let to = to.trim();
    if let Some(id) = NodeId::from_hex(to) {
        return Ok(ConversationId::Peer(id));
    }
    if to.len() >= 4 && to.chars().all(|c| c.is_ascii_hexdigit()) {
        let lower = to.to_ascii_lowercase();
        let hits: Vec<&PeerView> = peers
            .iter()
            .filter(|p| p.id.to_hex().starts_with(&lower))
            .collect();
        if let [one] = hits.as_slice() {
            return Ok(ConversationId::Peer(one.id));
        }
    }
    let named: Vec<&PeerView> = peers.iter().filter(|p| p.name == to).collect();
    let online: Vec<&&PeerView> = named.iter().filter(|p| p.online).collect();
    match (named.as_slice(), online.as_slice()) {
        ([one], _) => return Ok(ConversationId::Peer(one.id)),
        (_, [one]) => return Ok(ConversationId::Peer(one.id)),
        ([], _) => {}
        _ => {
            return Err(format!(
                "{} peers are named {to:?}; use an id: {}",
                named.len(),
                named
                    .iter()
                    .map(|p| p.id.short())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    if let Ok(addr) = to.parse::<SocketAddr>() {
        if let Some(p) = peers.iter().find(|p| p.addr == addr) {
            return Ok(ConversationId::Peer(p.id));
        }
        return Ok(ConversationId::Raw(addr));
    }
    Err(format!(
        "no peer called {to:?} (try a name, an id, or ip:port)"
    ))
}
