//! The model and its update function: messages in, state changes and effects out.
//!
//! Nothing here reads a clock, touches a socket or a file, or draws: the runtime passes the
//! wall-clock time in with every message and carries out the [`Effect`]s that come back.

pub mod commands;
mod conversations;
mod editor;
pub mod files;
pub mod groups;
mod history;
mod ipmsg;
pub mod keymap;
mod reply;
mod search;
mod switcher;
mod trust;
mod view;

pub use trust::Changed;

pub use view::short_fp;

pub use conversations::Conversations;

pub use switcher::Switcher;

pub use search::{SEARCH_LIMIT, SearchView};

pub use history::{ConversationSummary, PAGE};

pub use crate::message::{Author, Hit, Message, Page};

pub use editor::{Editor, MAX_INPUT_BYTES};

pub use reply::{RECALL_WINDOW_MS, Replying, mention_ranges, mentions};

use crate::layout;
use crate::proto::files::TransferId;
use crate::proto::{
    self, ConversationId, DeliveryState, MsgId, NodeId, PeerDownReason, PeerView, Quote,
};
use crate::rng::Rng;
use crate::tr;
use commands::Command;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use keymap::{Action, HelpSection, Keymap, Mode, ModeKeymaps, Unbound};
use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;

/// Messages kept in memory per conversation. The store holds the rest: scrolling past the
/// edge of what is loaded asks it for the next page.
pub const MAX_MESSAGES_IN_MEMORY: usize = 1000;
/// How long nobody may be online before the status line suggests `lanchat doctor`: two
/// beacon rounds and then some, so a slow start does not raise it.
pub const ALONE_HINT_AFTER_MS: i64 = 90_000;
/// Conversations kept at most. Plain-text peers can be anyone (and any spoofed address), so
/// beyond this the least recent plain-text conversation is forgotten (strangers first).
pub const MAX_CONVERSATIONS: usize = 512;
/// A stranger is a plain-text address I never wrote to, not pinned and not renamed (see
/// [`Conversation::is_stranger`]). Beyond this many, the sidebar folds them into one
/// "Strangers" row, and they stop ringing and notifying.
pub const STRANGER_FOLD: usize = 16;
/// Stranger conversations kept in memory at most; beyond this the least recent one (not the
/// open one) is forgotten. The store keeps the same number (`store::MAX_STRANGERS`).
pub const MAX_STRANGERS: usize = 256;
/// Messages kept in memory per stranger conversation: the newest.
pub const MAX_STRANGER_MESSAGES: usize = 100;
/// Things I sent that Up/Down can bring back.
const MAX_SENT_HISTORY: usize = 200;
/// Read receipts waiting per conversation, at most (the oldest are let go).
const MAX_UNREPORTED: usize = 1000;

#[derive(Debug, Clone)]
pub struct Me {
    pub id: NodeId,
    pub name: String,
    pub listen: SocketAddr,
    pub discovery: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerInfo {
    pub name: String,
    pub addr: SocketAddr,
    pub online: bool,
    /// When it was last heard from (this machine's clock), if ever.
    pub last_seen_ms: Option<i64>,
}

/// Where a peer's key stands (see [`proto::Trust`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerTrust {
    pub trust: proto::Trust,
    /// Another known key uses the same name.
    pub same_name_as: Option<NodeId>,
}

#[derive(Debug, Clone)]
pub struct Conversation {
    pub id: ConversationId,
    /// A window onto the conversation's history, oldest first.
    pub messages: VecDeque<Message>,
    pub unread: u32,
    pub last_activity_ms: i64,
    /// The store holds messages older than the oldest in the window.
    pub has_older: bool,
    /// The store holds messages newer than the newest in the window.
    pub has_newer: bool,
    /// A page request is on its way.
    pub loading: bool,
    /// Kept at the top of the sidebar.
    pub pinned: bool,
    /// No bell, and a dot instead of a count.
    pub muted: bool,
    /// My own name for this conversation, shown instead of the peer's.
    pub alias: Option<String>,
    /// The newest message (for the sidebar preview), even when the window is elsewhere or
    /// nothing is loaded yet; its text cut to a preview.
    pub last: Option<Message>,
    /// An unread message mentions me.
    pub mentioned: bool,
    /// I have written in it (a plain-text conversation I wrote in is no stranger).
    pub wrote: bool,
}

impl Conversation {
    /// An empty conversation, nothing known of it yet.
    pub fn new(id: ConversationId) -> Conversation {
        Conversation {
            id,
            messages: VecDeque::new(),
            unread: 0,
            last_activity_ms: 0,
            has_older: false,
            has_newer: false,
            loading: false,
            pinned: false,
            muted: false,
            alias: None,
            last: None,
            mentioned: false,
            wrote: false,
        }
    }

    /// A plain-text address I never wrote to, not pinned and not renamed: anyone can send
    /// from any address, so these are bounded (see [`STRANGER_FOLD`], [`MAX_STRANGERS`]).
    pub fn is_stranger(&self) -> bool {
        matches!(self.id, ConversationId::Raw(_) | ConversationId::Ipmsg(_))
            && !self.wrote
            && !self.pinned
            && self.alias.is_none()
    }
}

/// A row of the sidebar: a conversation, or all the strangers folded into one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Row {
    Conversation(ConversationId),
    /// More than [`STRANGER_FOLD`] strangers, in one row; opening it lists them.
    Strangers,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    Info(String),
    Error(String),
}

/// Inputs to [`App::update`].
#[derive(Debug, Clone)]
pub enum Msg {
    Key(KeyEvent),
    Paste(String),
    Resize {
        width: u16,
        height: u16,
    },
    /// A mouse event (only when mouse support is on).
    Mouse(crossterm::event::MouseEvent),
    Net(proto::Event),
    /// The protocol refused a message the app handed it.
    SendFailed {
        id: MsgId,
        error: String,
    },
    Error(String),
    Info(String),
    /// What the store remembers, at start.
    Restore {
        peers: Vec<(NodeId, PeerInfo)>,
        conversations: Vec<ConversationSummary>,
    },
    /// A page of history from the store.
    History {
        conversation: ConversationId,
        page: Page,
        messages: Vec<Message>,
        /// The store has more in that direction.
        more: bool,
    },
    /// A message received, stored, and new (not a copy of one already stored).
    Received(Message, ConversationId),
    /// `author` took back its message `target` (stored so).
    Recalled {
        conversation: ConversationId,
        author: Author,
        target: MsgId,
    },
    /// Search results for a query.
    SearchResults {
        query: String,
        hits: Vec<Hit>,
    },
    /// What the store found of the message a reply quotes: the start of the original's
    /// text (empty if recalled), or `None` when this conversation holds no such message.
    QuoteChecked {
        conversation: ConversationId,
        /// The reply, and who wrote it.
        reply: MsgId,
        author: Author,
        excerpt: Option<String>,
    },
    /// My message is stored at this position.
    Stored {
        id: MsgId,
        seq: i64,
    },
    /// The store could not keep something; `id` names my message if it was one.
    StoreFailed {
        id: Option<MsgId>,
        error: String,
    },
    /// This machine's offset from UTC now, for showing times (the runtime sends it at
    /// start and whenever it changes).
    Clock {
        utc_offset_s: i32,
    },
    /// A file bubble, either way, took its place in the history.
    FileMessage {
        conversation: ConversationId,
        message: Message,
    },
    /// A transfer moved on.
    File(files::FileNews),
    /// Something happened in a group (see [`groups`]).
    Group(groups::GroupNews),
    /// What was pasted names a file that exists (the runtime looked).
    PastedFile(String),
    /// The preview of picture `id` is ready: `rows` lines under its bubble.
    PreviewReady {
        id: TransferId,
        rows: u16,
    },
    /// What the path before the cursor (`word`, starting at byte `start` of the input) may
    /// complete to: full paths, directories ending in `/`.
    PathCompletions {
        start: usize,
        word: String,
        candidates: Vec<String>,
    },
}

/// What the runtime must do on the app's behalf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    Send {
        to: ConversationId,
        id: MsgId,
        sent_at_ms: i64,
        text: String,
        /// The message this one replies to.
        quote: Option<Quote>,
    },
    /// Take back my message `target`: tell the peer (a message of its own, `id`) and
    /// forget its text.
    Recall {
        to: ConversationId,
        id: MsgId,
        target: MsgId,
        sent_at_ms: i64,
    },
    /// A desktop notification (OSC 9 / 777) with this text, built from sanitised names
    /// only: never a peer's message text.
    Notify(String),
    /// Resolve this `HOST:PORT` and probe it.
    AddPeer(String),
    /// Tell the peer these messages of theirs were seen.
    MarkRead {
        peer: NodeId,
        ids: Vec<MsgId>,
    },
    /// Fetch a page of history.
    Load {
        conversation: ConversationId,
        page: Page,
    },
    /// Remember a conversation's pin, mute or local name.
    Pin {
        conversation: ConversationId,
        on: bool,
    },
    Mute {
        conversation: ConversationId,
        on: bool,
    },
    Rename {
        conversation: ConversationId,
        alias: Option<String>,
    },
    /// Accept this key (after an identity change: in place of the one it replaced).
    TrustPeer(NodeId),
    /// Refuse this key.
    BlockPeer(NodeId),
    /// The user compared the verification code: mark the key verified.
    VerifyPeer(NodeId),
    /// The user names `addr` as a plain-text peer (`allowed`), or takes that back: text to
    /// it goes in the clear even where a lanchat key answers.
    PlainPeer {
        addr: SocketAddr,
        allowed: bool,
    },
    /// Put this text on the clipboard (OSC 52, which works over SSH): only ever text the
    /// user picked.
    Copy(String),
    /// Keep a conversation's half-typed text (empty: none).
    SaveDraft {
        conversation: ConversationId,
        text: String,
    },
    /// Look through the history.
    Search {
        query: String,
        limit: usize,
    },
    /// Remember that the conversation was read up to this position.
    ReadUpTo {
        conversation: ConversationId,
        seq: i64,
    },
    /// Look in the store for the message a reply in `conversation` quotes (the answer is
    /// [`Msg::QuoteChecked`]); until found, the quote shows as the sender's claim.
    CheckQuote {
        conversation: ConversationId,
        reply: MsgId,
        author: Author,
        quote: Quote,
    },
    /// Ring the terminal bell: something arrived out of view (once per batch).
    Bell,
    /// Show this many unread messages (not muted) in the window title; sent when it changes.
    Title(u32),
    /// Offer these files (paths as typed: `~` and relative paths are the runtime's to
    /// resolve) to `to`.
    SendFiles {
        to: ConversationId,
        paths: Vec<String>,
    },
    /// Take the file offered as `id`, into `dir` (else the download directory).
    AcceptFile {
        id: TransferId,
        dir: Option<String>,
    },
    DeclineFile(TransferId),
    CancelFile(TransferId),
    /// Open this file with the system's opener.
    OpenFile(std::path::PathBuf),
    /// Make a preview of the picture at `path` (a verified download, or my own file),
    /// answered with [`Msg::PreviewReady`] when there is one.
    Preview {
        id: TransferId,
        path: std::path::PathBuf,
    },
    /// List what the path `word` (at byte `start` of the input) may complete to: answered
    /// with [`Msg::PathCompletions`].
    CompletePath {
        start: usize,
        word: String,
    },
    /// An act in a group (see [`groups::GroupAct`]).
    Group(groups::GroupAct),
    /// Away with this text (IP Messenger peers are told and get it as an auto-reply), or
    /// back with `None`.
    Away(Option<String>),
    Quit,
}

pub struct App {
    pub me: Me,
    pub peers: HashMap<NodeId, PeerInfo>,
    /// The groups I am in or was in: members, owner, name (see [`groups`]).
    pub groups: HashMap<proto::group::GroupId, groups::GroupInfo>,
    /// Who has and has not read my picked group message, while the overlay shows it.
    pub read_by: Option<groups::ReadBy>,
    /// How far each group was reported read (the newest message in view then).
    group_read: HashMap<proto::group::GroupId, crate::message::GroupOrder>,
    /// What the handshakes and the user's decisions say of each peer's key.
    pub trust: HashMap<NodeId, PeerTrust>,
    /// Every conversation in memory, in sidebar order: pinned, then most recent activity.
    pub conversations: Conversations,
    /// What the sidebar shows, in order: the conversations, with the strangers folded into
    /// one row when there are more than [`STRANGER_FOLD`] of them.
    pub sidebar: Vec<Row>,
    /// Strangers the Strangers row stands for (as of the last sort; see [`App::folds`]).
    pub strangers: usize,
    /// The order is out of date: sorted once at the end of the update.
    unsorted: bool,
    /// Which known lanchat key is at an address (see [`App::lanchat_owner`]).
    peer_at: HashMap<SocketAddr, NodeId>,
    /// Plain-text conversations at a lanchat peer's address where the user chose, with
    /// `/plain`, to send unencrypted anyway (this run only).
    pub plain_ok: HashSet<ConversationId>,
    /// Quotes to look up in the store, waiting to go out as effects.
    quote_checks: Vec<Effect>,
    pub selected: Option<ConversationId>,
    pub input: Editor,
    /// How many lines the message pane is scrolled up from the latest message.
    pub scroll: usize,
    /// Messages that arrived below the view while it was scrolled up.
    pub new_below: usize,
    /// Half-typed text of the conversations not open now.
    pub drafts: HashMap<ConversationId, String>,
    /// Drafts changed since the last update, to be saved.
    draft_saves: Vec<(ConversationId, String)>,
    /// Something arrived out of view and the bell has not rung for it yet.
    pub(super) bell: bool,
    /// The unread count the window title was last told (see [`Effect::Title`]); the
    /// terminal starts with no unread messages in its title.
    title_unread: u32,
    pub size: (u16, u16),
    pub notice: Option<Notice>,
    pub show_help: bool,
    /// Search results on screen, if any.
    pub search: Option<SearchView>,
    /// A message to mark in the view (a search hit just opened).
    pub highlight: Option<MsgId>,
    /// Draw in colour (off when NO_COLOR is set).
    pub color: bool,
    /// The quick switcher, when open.
    pub switcher: Option<Switcher>,
    /// What I sent (and commands I ran), oldest first, for Up/Down.
    sent: VecDeque<String>,
    /// Where Up/Down is in `sent`, and what was in the input before browsing began.
    browsing: Option<(usize, String)>,
    /// The peer info overlay is open.
    pub show_info: bool,
    /// The verify overlay is open for this key.
    pub verify: Option<NodeId>,
    /// The keys in effect on the main screen.
    pub keymap: Keymap,
    /// The keys in effect in each mode over it (see [`App::mode`]).
    pub modes: ModeKeymaps,
    /// Colours.
    pub theme: crate::config::Theme,
    /// The interface language: every word the model and the view produce is in it.
    pub lang: crate::i18n::Lang,
    /// The conversation list: shown beside the messages when there is room; on a narrow
    /// terminal, over them when asked for.
    pub show_sidebar: bool,
    /// On a narrow terminal: the conversation list is shown over the messages.
    pub sidebar_overlay: bool,
    /// Lines the help overlay is scrolled down.
    pub help_scroll: usize,
    /// A message picked in the open conversation (Alt-Up), to copy, reply to or recall.
    pub picked: Option<MsgId>,
    /// The message the next one I send replies to.
    pub replying: Option<Replying>,
    /// Notifications waiting to go out (see [`Effect::Notify`]).
    notifications: Vec<String>,
    /// Desktop notifications are wanted (config `notify`).
    pub notify: bool,
    /// The bell is wanted for what arrives out of view (config `bell`): [`Effect::Bell`].
    pub ring: bool,
    /// The unread count is wanted in the window title (config `title`): [`Effect::Title`].
    pub unread_title: bool,
    /// This machine's offset from UTC, for showing times (from [`Msg::Clock`]).
    pub utc_offset_s: i32,
    /// The wall-clock time of the latest update, Unix milliseconds ("today" for the view).
    pub clock_ms: i64,
    /// Since when no peer has been online (`None` while one is).
    pub alone_since_ms: Option<i64>,
    pub running: bool,
    /// Where each of my not-yet-settled messages lives, to apply state changes.
    outgoing: HashMap<MsgId, ConversationId>,
    /// IP Messenger peers as their last packets described them (see `app/ipmsg.rs`).
    pub ipmsg_peers: HashMap<std::net::Ipv4Addr, proto::IpmsgPeerView>,
    /// Away (`/away`): IP Messenger peers are told.
    pub away: bool,
    /// Peer messages received while running, not yet reported read, per conversation.
    unreported: HashMap<ConversationId, Vec<MsgId>>,
    /// How far each conversation was recorded read in the store.
    read_seq_marks: HashMap<ConversationId, i64>,
    rng: Rng,
    dirty: bool,
    /// Message heights by text and width, for scrolling and drawing (see [`layout`]).
    pub heights: layout::HeightCache,
    /// Transfers under way, for the sidebar and the status line.
    transfers: HashMap<TransferId, files::Live>,
    /// My offers being prepared, and the notice that says so (cleared once made).
    preparing: HashMap<TransferId, String>,
    /// Pictures whose preview was asked for (each once), and the asks waiting to go out.
    previews_asked: HashSet<TransferId>,
    preview_asks: Vec<Effect>,
}

impl App {
    pub fn new(me: Me, seed: u64) -> Self {
        Self {
            me,
            peers: HashMap::new(),
            groups: HashMap::new(),
            read_by: None,
            group_read: HashMap::new(),
            trust: HashMap::new(),
            conversations: Conversations::default(),
            sidebar: Vec::new(),
            strangers: 0,
            unsorted: false,
            peer_at: HashMap::new(),
            plain_ok: HashSet::new(),
            quote_checks: Vec::new(),
            selected: None,
            input: Editor::default(),
            scroll: 0,
            new_below: 0,
            drafts: HashMap::new(),
            draft_saves: Vec::new(),
            bell: false,
            title_unread: 0,
            size: (80, 24),
            notice: None,
            show_help: false,
            search: None,
            highlight: None,
            color: true,
            switcher: None,
            picked: None,
            replying: None,
            notifications: Vec::new(),
            notify: false,
            ring: false,
            unread_title: false,
            sent: VecDeque::new(),
            browsing: None,
            show_info: false,
            verify: None,
            keymap: Keymap::default(),
            modes: ModeKeymaps::default(),
            theme: crate::config::Theme::Dark,
            lang: crate::i18n::Lang::En,
            show_sidebar: true,
            help_scroll: 0,
            sidebar_overlay: false,
            utc_offset_s: 0,
            clock_ms: 0,
            alone_since_ms: None,
            running: true,
            outgoing: HashMap::new(),
            ipmsg_peers: HashMap::new(),
            away: false,
            unreported: HashMap::new(),
            read_seq_marks: HashMap::new(),
            rng: Rng::new(seed),
            dirty: true,
            heights: layout::HeightCache::default(),
            transfers: HashMap::new(),
            preparing: HashMap::new(),
            previews_asked: HashSet::new(),
            preview_asks: Vec::new(),
        }
    }

    /// True once since the last call if anything visible changed.
    pub fn take_dirty(&mut self) -> bool {
        std::mem::take(&mut self.dirty)
    }

    pub fn conversation(&self, id: &ConversationId) -> Option<&Conversation> {
        self.conversations.by_id(id)
    }

    /// Whether the strangers are folded into one sidebar row.
    pub fn strangers_folded(&self) -> bool {
        self.strangers > STRANGER_FOLD
    }

    /// Whether `id` is a stranger folded into the sidebar's Strangers row.
    pub fn is_folded(&self, id: &ConversationId) -> bool {
        self.strangers_folded() && self.conversation(id).is_some_and(|c| self.folds(c))
    }

    /// Whether `c` goes into the Strangers row when they are folded: a stranger, unless it
    /// is plain text at a lanchat peer's address, which keeps its row and its warning.
    pub fn folds(&self, c: &Conversation) -> bool {
        c.is_stranger()
            && match c.id {
                ConversationId::Raw(addr) => self.lanchat_owner(&addr).is_none(),
                // Colleagues announced by their IP Messenger (FeiQ) presence keep their
                // rows; they stay strangers for the caps (the endpoint bounds them too).
                ConversationId::Ipmsg(_) | ConversationId::Peer(_) | ConversationId::Group(_) => {
                    false
                }
            }
    }

    /// The sidebar row of a conversation: its own, or the Strangers row.
    pub fn row_of(&self, id: &ConversationId) -> Option<usize> {
        let row = if self.is_folded(id) {
            Row::Strangers
        } else {
            Row::Conversation(*id)
        };
        self.sidebar.iter().position(|r| *r == row)
    }

    /// The known lanchat key whose (authenticated) address is `addr`, if any: a plain-text
    /// conversation there is a downgrade of that peer, not a new person.
    pub fn lanchat_owner(&self, addr: &SocketAddr) -> Option<NodeId> {
        self.peer_at
            .get(addr)
            .copied()
            .filter(|id| self.peers.get(id).is_some_and(|p| p.addr == *addr))
    }

    pub fn selected_conversation(&self) -> Option<&Conversation> {
        self.selected.as_ref().and_then(|id| self.conversation(id))
    }

    /// Unread messages in conversations that are not muted (for the window title).
    pub fn unread_total(&self) -> u32 {
        self.conversations
            .iter()
            .filter(|c| !c.muted)
            .map(|c| c.unread)
            .sum()
    }

    pub fn online_peers(&self) -> usize {
        self.peers.values().filter(|p| p.online).count()
    }

    /// The name a conversation is shown under (not yet sanitised: the UI does that), by the
    /// one rule of [`crate::message::display_name`].
    pub fn title(&self, id: &ConversationId) -> String {
        let alias = self.conversation(id).and_then(|c| c.alias.as_deref());
        let name = match id {
            ConversationId::Peer(node) => self.peers.get(node).map(|p| p.name.as_str()),
            ConversationId::Ipmsg(ip) => self.ipmsg_peers.get(ip).map(|p| p.name.as_str()),
            ConversationId::Raw(_) => None,
            ConversationId::Group(g) => self.groups.get(g).map(|i| i.name.as_str()),
        };
        crate::message::display_name(id, alias, name)
    }

    pub fn author_name(&self, author: &Author) -> String {
        match author.who() {
            None => self.me.name.clone(),
            Some(who) => self.title(&who),
        }
    }

    /// Handles one input. The effects returned are the runtime's to carry out, every one.
    #[must_use = "the runtime must carry out every effect the app asks for"]
    pub fn update(&mut self, now_ms: i64, msg: Msg) -> Vec<Effect> {
        self.update_all(now_ms, std::iter::once(msg))
    }

    /// Several messages at once (a batch of datagrams or stored messages): each is handled
    /// as by [`update`](Self::update), and what follows from all of them (the sidebar order,
    /// read receipts, loads) is worked out once at the end.
    #[must_use = "the runtime must carry out every effect the app asks for"]
    pub fn update_all(&mut self, now_ms: i64, msgs: impl IntoIterator<Item = Msg>) -> Vec<Effect> {
        let mut effects = Vec::new();
        for msg in msgs {
            effects.extend(self.handle(now_ms, msg));
        }
        self.sort_now();
        effects.append(&mut self.quote_checks);
        effects.append(&mut self.preview_asks);
        effects.extend(self.read_receipts());
        effects.extend(self.pending_group_read());
        effects.extend(self.pending_read_mark());
        effects.extend(self.pending_load());
        effects.extend(
            self.draft_saves
                .drain(..)
                .map(|(conversation, text)| Effect::SaveDraft { conversation, text }),
        );
        effects.extend(self.notifications.drain(..).map(Effect::Notify));
        self.note_company(now_ms);
        // The terminal's own business: a bell for what arrived out of view, the unread
        // count in the title.
        if std::mem::take(&mut self.bell) && self.ring {
            effects.push(Effect::Bell);
        }
        if self.unread_title {
            let unread = self.unread_total();
            if unread != self.title_unread {
                self.title_unread = unread;
                effects.push(Effect::Title(unread));
            }
        }
        effects
    }

    /// Keeps [`App::alone_since_ms`]: since when no peer has been online (from the first
    /// update, which is the start, or from the moment the last one went).
    fn note_company(&mut self, now_ms: i64) {
        if self.online_peers() > 0 {
            self.alone_since_ms = None;
        } else if self.alone_since_ms.is_none() {
            self.alone_since_ms = Some(now_ms);
        }
    }

    /// Whether nobody has been online for [`ALONE_HINT_AFTER_MS`]: the status line then
    /// suggests `lanchat doctor`.
    pub fn alone_too_long(&self) -> bool {
        self.alone_since_ms
            .is_some_and(|since| self.clock_ms - since >= ALONE_HINT_AFTER_MS)
    }

    /// When the view changes by time alone, with no input (the runtime wakes the model
    /// then): the moment being alone becomes worth a hint.
    pub fn wake_at(&self) -> Option<i64> {
        self.alone_since_ms
            .map(|since| since + ALONE_HINT_AFTER_MS)
            .filter(|at| *at > self.clock_ms)
    }

    /// Read receipts for peer messages received while running that are now in view (the
    /// open conversation). History loaded from the store was reported, or not, back then.
    fn read_receipts(&mut self) -> Option<Effect> {
        let id = self.selected?;
        let ConversationId::Peer(peer) = id else {
            return None;
        };
        let ids = self.unreported.remove(&id)?;
        (!ids.is_empty()).then_some(Effect::MarkRead { peer, ids })
    }

    fn handle(&mut self, now_ms: i64, msg: Msg) -> Vec<Effect> {
        self.dirty = true;
        self.clock_ms = now_ms;
        match msg {
            Msg::Key(key) => return self.on_key(now_ms, key),
            Msg::Paste(text) => {
                match self.mode() {
                    // An overlay covers the input: a paste does not go into it unseen.
                    Mode::Help | Mode::Search | Mode::Verify => return Vec::new(),
                    Mode::Switcher | Mode::Strangers => {
                        for c in text.chars().filter(|c| !c.is_control()) {
                            self.switcher_type(c);
                        }
                        return Vec::new();
                    }
                    Mode::Base | Mode::Picked | Mode::PeerInfo | Mode::ChatList => {}
                }
                return self.paste_text(text);
            }
            Msg::PastedFile(path) => {
                return match self.mode() {
                    Mode::Base | Mode::Picked => self.pasted_file(path),
                    _ => self.handle(now_ms, Msg::Paste(path)),
                };
            }
            Msg::FileMessage {
                conversation,
                message,
            } => self.file_message(now_ms, conversation, message),
            Msg::File(news) => self.file_news(now_ms, news),
            Msg::Group(news) => self.group_news(now_ms, news),
            Msg::PreviewReady { id, rows } => self.preview_ready(&id, rows),
            Msg::PathCompletions {
                start,
                word,
                candidates,
            } => self.path_completions(start, &word, candidates),
            Msg::Mouse(m) => return self.on_mouse(m),
            Msg::Resize { width, height } => {
                self.size = (width, height);
                self.clamp_scroll();
            }
            Msg::Net(event) => self.on_net(now_ms, event),
            Msg::SendFailed { id, error } => {
                self.set_state(id, DeliveryState::Failed);
                self.error(tr!(self.lang, "app-not-sent", error = error));
            }
            Msg::Error(text) => self.error(text),
            Msg::Info(text) => self.notice = Some(Notice::Info(text)),
            Msg::Restore {
                peers,
                conversations,
            } => return self.restore(peers, conversations),
            Msg::History {
                conversation,
                page,
                messages,
                more,
            } => {
                self.follow_page(conversation, &messages);
                self.history(conversation, page, messages, more);
            }
            Msg::Received(message, conversation) => self.received(now_ms, conversation, message),
            Msg::Recalled {
                conversation,
                author,
                target,
            } => self.recalled(conversation, author, target),
            Msg::QuoteChecked {
                conversation,
                reply,
                author,
                excerpt,
            } => self.quote_checked(conversation, reply, author, excerpt),
            Msg::Stored { id, seq } => self.stored(id, seq),
            Msg::SearchResults { query, hits } => self.search_results(query, hits),
            Msg::StoreFailed { id, error } => self.store_failed(id, error),
            Msg::Clock { utc_offset_s } => self.utc_offset_s = utc_offset_s,
        }
        Vec::new()
    }

    /// Pasted text goes into the input as is, newlines included: a paste never sends.
    fn paste_text(&mut self, text: String) -> Vec<Effect> {
        let text = text.replace("\r\n", "\n").replace('\r', "\n");
        if !self.input.insert(&text) {
            self.error(tr!(
                self.lang,
                "app-paste-cut",
                kib = MAX_INPUT_BYTES / 1024
            ));
        }
        Vec::new()
    }

    pub(super) fn error(&mut self, text: String) {
        self.notice = Some(Notice::Error(text));
    }

    /// Where keys go now: the overlay on top (as the screen draws them), else a picked
    /// message, else the main screen.
    pub fn mode(&self) -> Mode {
        if self.show_help {
            Mode::Help
        } else if self.search.is_some() {
            Mode::Search
        } else if let Some(sw) = &self.switcher {
            if sw.strangers {
                Mode::Strangers
            } else {
                Mode::Switcher
            }
        } else if self.verify.is_some() {
            Mode::Verify
        } else if self.sidebar_overlay && layout::is_narrow(self.size.0) {
            Mode::ChatList
        } else if self.picked.is_some() {
            Mode::Picked
        } else if self.show_info {
            Mode::PeerInfo
        } else {
            Mode::Base
        }
    }

    /// The help, made from the keys in effect in every mode and the command table: the
    /// main screen's keys, the commands, then each mode's keys under its heading.
    pub fn help(&self) -> Vec<HelpSection> {
        let mut sections = keymap::help(self.lang, &self.keymap, &self.modes);
        sections.insert(
            1,
            HelpSection {
                title: None,
                rows: commands::help(self.lang),
            },
        );
        sections
    }

    /// A key: the mode's table says what it does. A key the table does not bind is, in a
    /// mode that takes text, typed into it; else a typed character is dropped (it never
    /// reaches the input from a mode), and other keys go by the mode's [`Unbound`].
    fn on_key(&mut self, now_ms: i64, key: KeyEvent) -> Vec<Effect> {
        let mode = self.mode();
        let (Some(def), Some(map)) = (mode.def(), self.modes.get(mode)) else {
            return self.base_key(now_ms, key);
        };
        if let Some(action) = map.action_for(&key, &self.keymap) {
            return self.mode_action(mode, action, now_ms);
        }
        if let Some(c) = typed_char(&key) {
            if def.takes_text {
                self.switcher_type(c);
            }
            return Vec::new();
        }
        match def.unbound {
            Unbound::Ignore => Vec::new(),
            Unbound::PassOn => self.base_key(now_ms, key),
            Unbound::CloseAndPassOn => {
                self.close_mode(mode);
                self.base_key(now_ms, key)
            }
        }
    }

    /// Closes what `mode` stands for.
    fn close_mode(&mut self, mode: Mode) {
        match mode {
            Mode::Base => {}
            Mode::Picked => self.picked = None,
            Mode::Search => self.search = None,
            Mode::Switcher | Mode::Strangers => self.switcher = None,
            Mode::Verify => self.verify = None,
            Mode::PeerInfo => {
                self.show_info = false;
                self.read_by = None;
            }
            Mode::ChatList => self.sidebar_overlay = false,
            Mode::Help => {
                self.show_help = false;
                self.notice = None;
            }
        }
    }

    /// What an action does in a mode over the main screen.
    fn mode_action(&mut self, mode: Mode, action: Action, now_ms: i64) -> Vec<Effect> {
        match (mode, action) {
            (_, Action::Quit) => return self.quit(),
            (_, Action::Close) => self.close_mode(mode),
            (Mode::Help, _) => self.help_action(action),
            (Mode::Picked, _) => return self.pick_action(action, now_ms),
            // The help opens over any other overlay, the same way from each.
            (_, Action::ToggleHelp) => self.open_help(),
            (Mode::Search, _) => return self.search_action(action),
            (Mode::Switcher | Mode::Strangers, _) => self.switcher_action(action),
            (Mode::Verify, _) => return self.verify_action(action),
            (Mode::ChatList, Action::Up) => self.cycle(-1),
            (Mode::ChatList, Action::Down) => self.cycle(1),
            _ => {}
        }
        Vec::new()
    }

    /// The main screen's keys: typing goes into the input.
    fn base_key(&mut self, now_ms: i64, key: KeyEvent) -> Vec<Effect> {
        let Some(action) = self.keymap.action_for(&key) else {
            if let Some(c) = typed_char(&key) {
                if c == '?' && self.input.is_empty() {
                    self.toggle_help();
                } else if !self.input.insert_char(c) {
                    self.error(tr!(self.lang, "app-input-full"));
                }
            }
            return Vec::new();
        };
        match action {
            Action::Submit => return self.submit(now_ms),
            Action::Quit => return self.quit(),
            Action::NextConversation => self.cycle(1),
            Action::PrevConversation => self.cycle(-1),
            Action::Jump(n) => {
                self.sort_now();
                if let Some(row) = self.sidebar.get(usize::from(n).saturating_sub(1)).copied() {
                    self.open_row(row);
                }
            }
            Action::NextUnread => self.next_unread(),
            Action::ScrollUp => return self.scroll_by(1),
            Action::ScrollDown => return self.scroll_by(-1),
            Action::PageUp => return self.scroll_by(self.page() as isize),
            Action::PageDown => return self.scroll_by(-(self.page() as isize)),
            Action::ScrollBottom => return self.jump_latest(),
            Action::ScrollTop => return self.jump_oldest(),
            Action::Left => self.input.left(),
            Action::Right => self.input.right(),
            Action::Home => self.input.home(),
            Action::End => self.input.end(),
            Action::WordLeft => self.input.word_left(),
            Action::WordRight => self.input.word_right(),
            Action::Backspace => self.input.backspace(),
            Action::Delete => self.input.delete(),
            Action::KillToStart => self.input.kill_to_start(),
            Action::HistoryPrev => self.history_step(-1),
            Action::HistoryNext => self.history_step(1),
            Action::Newline => {
                if !self.input.insert_char('\n') {
                    self.error(tr!(self.lang, "app-input-full"));
                }
            }
            Action::Yank => {
                if !self.input.yank() {
                    self.error(tr!(self.lang, "app-input-full"));
                }
            }
            Action::DeleteWordForward => self.input.delete_word_forward(),
            Action::Complete => return self.complete(),
            Action::Switcher => {
                if self.input.is_empty() {
                    self.switcher = Some(Switcher::default());
                } else {
                    self.input.kill_to_end();
                }
            }
            Action::PeerInfo => {
                self.show_info = !self.show_info;
                self.read_by = None;
            }
            Action::Pick => {
                self.picked = self
                    .selected_conversation()
                    .and_then(|c| c.messages.back())
                    .map(|m| m.id);
            }
            Action::DeleteWordBack => self.input.delete_word_back(),
            Action::ToggleHelp => self.toggle_help(),
            Action::ToggleSidebar => {
                if layout::is_narrow(self.size.0) {
                    self.sidebar_overlay = !self.sidebar_overlay;
                } else {
                    self.show_sidebar = !self.show_sidebar;
                }
            }
            Action::Search => return self.start_search(""),
            Action::ResendFailed => return self.resend_failed(),
            Action::Dismiss => {
                self.notice = None;
                self.replying = None;
            }
            // The modes' own actions: no main-screen key does them.
            Action::Close
            | Action::Up
            | Action::Down
            | Action::Top
            | Action::Open
            | Action::Copy
            | Action::Reply
            | Action::Recall
            | Action::AcceptFile
            | Action::StopFile
            | Action::OpenFile
            | Action::Confirm => {}
        }
        Vec::new()
    }

    fn toggle_help(&mut self) {
        self.show_help = !self.show_help;
        self.help_scroll = 0;
    }

    fn open_help(&mut self) {
        self.show_help = true;
        self.help_scroll = 0;
    }

    /// Scrolling the help.
    fn help_action(&mut self, action: Action) {
        let page = usize::from(self.size.1.saturating_sub(4)).max(1);
        match action {
            Action::Up => self.help_scroll = self.help_scroll.saturating_sub(1),
            Action::Down => self.help_scroll = self.help_scroll.saturating_add(1),
            Action::PageUp => self.help_scroll = self.help_scroll.saturating_sub(page),
            Action::PageDown => self.help_scroll = self.help_scroll.saturating_add(page),
            Action::Top => self.help_scroll = 0,
            _ => {}
        }
        self.help_scroll = self.help_scroll.min(self.help_max_scroll());
    }

    /// Sends every failed message of the open conversation again, with its own id, so the
    /// peer shows it once even if an earlier copy did arrive.
    fn resend_failed(&mut self) -> Vec<Effect> {
        let Some(to) = self.selected else {
            return Vec::new();
        };
        if self.plain_refused(&to) {
            return Vec::new();
        }
        let Some(conv) = self.conversations.by_id_mut(&to) else {
            return Vec::new();
        };
        let mut effects = Vec::new();
        for m in conv.messages.iter_mut() {
            if m.author == Author::Me && m.state == Some(DeliveryState::Failed) {
                m.state = Some(DeliveryState::Sending);
                self.outgoing.insert(m.id, to);
                effects.push(Effect::Send {
                    to,
                    id: m.id,
                    sent_at_ms: m.time_ms,
                    text: m.text.clone(),
                    quote: m.quote.clone(),
                });
            }
        }
        self.notice = Some(Notice::Info(tr!(
            self.lang,
            "app-resend",
            n = effects.len()
        )));
        effects
    }

    fn quit(&mut self) -> Vec<Effect> {
        self.running = false;
        // What was being typed is kept for next time.
        if let Some(id) = self.selected
            && !self.input.is_empty()
        {
            self.draft_saves.push((id, self.input.text().to_owned()));
        }
        vec![Effect::Quit]
    }

    /// Up/Down through what I sent: Up goes back, Down forward and finally to what was
    /// being typed before.
    fn history_step(&mut self, step: isize) {
        if self.sent.is_empty() {
            return;
        }
        let last = self.sent.len() - 1;
        let (pos, stash) = match self.browsing.take() {
            Some(b) => b,
            None if step < 0 => (last + 1, self.input.text().to_owned()),
            None => return,
        };
        let next = pos as isize + step;
        if next > last as isize {
            self.input.set(&stash);
            return;
        }
        let next = next.max(0) as usize;
        if let Some(text) = self.sent.get(next).cloned() {
            self.input.set(&text);
        }
        self.browsing = Some((next, stash));
    }

    fn remember_sent(&mut self, text: &str) {
        self.browsing = None;
        if self.sent.back().is_some_and(|t| t == text) {
            return;
        }
        self.sent.push_back(text.to_owned());
        if self.sent.len() > MAX_SENT_HISTORY {
            self.sent.pop_front();
        }
    }

    fn submit(&mut self, now_ms: i64) -> Vec<Effect> {
        let text = self.input.text().to_owned();
        if text.trim().is_empty() {
            return Vec::new();
        }
        self.remember_sent(&text);
        if let Some(command) = text.strip_prefix('/')
            && !command.starts_with('/')
        {
            return self.command(now_ms, command.trim());
        }
        // "//text" sends "/text".
        let text = text
            .strip_prefix('/')
            .filter(|t| t.starts_with('/'))
            .unwrap_or(&text)
            .to_owned();
        let Some(to) = self.selected else {
            self.error(tr!(self.lang, "app-no-conversation"));
            return Vec::new();
        };
        if let ConversationId::Group(g) = to {
            return self.group_submit(g, text);
        }
        if self.sending_held(&to) || self.plain_refused(&to) {
            return Vec::new();
        }
        // A reply to a plain-text peer is plain text: the quote goes first, as mail does.
        let (text, quote) = self.reply_parts(to, text);
        let limit = proto::wire::MAX_MESSAGE_BYTES - quote.as_ref().map_or(0, reply::overhead);
        if text.len() > limit {
            self.error(tr!(
                self.lang,
                "app-too-long",
                bytes = text.len(),
                limit = limit
            ));
            return Vec::new();
        }
        self.input.take();
        self.notice = None;
        self.replying = None;
        let id = MsgId(self.rng.nonzero_u64());
        let message = Message {
            state: Some(DeliveryState::Sending),
            quote_found: quote.is_some(), // I picked it from this conversation
            quote: quote.clone(),
            ..Message::new(id, Author::Me, now_ms, text.clone())
        };
        self.outgoing.insert(id, to);
        self.push_message(to, message, now_ms);
        if let Some(c) = self.conversation_mut(&to) {
            c.wrote = true; // no stranger any more
        }
        self.scroll = 0;
        vec![Effect::Send {
            to,
            id,
            sent_at_ms: now_ms,
            text,
            quote,
        }]
    }

    fn command(&mut self, now_ms: i64, command: &str) -> Vec<Effect> {
        let (name, arg) = command
            .split_once(char::is_whitespace)
            .map_or((command, ""), |(n, a)| (n, a.trim()));
        let Some(def) = commands::find(name) else {
            self.error(tr!(self.lang, "app-unknown-command", name = name));
            return Vec::new();
        };
        match def.command {
            Command::Quit => {
                self.input.take();
                self.quit()
            }
            Command::Help => {
                self.input.take();
                self.open_help();
                Vec::new()
            }
            Command::Group => self.group_command(arg, def.usage(self.lang)),
            Command::Invite | Command::Leave | Command::Remove | Command::Owner => {
                self.group_member_command(def.command, arg, def.usage(self.lang))
            }
            // In a group, /rename renames it for everyone.
            Command::Rename if self.open_group().is_some() => {
                self.group_member_command(def.command, arg, def.usage(self.lang))
            }
            Command::Pin | Command::Mute | Command::Rename => {
                let Some(id) = self.selected else {
                    self.error(tr!(self.lang, "app-open-first"));
                    return Vec::new();
                };
                self.input.take();
                let Some(c) = self.conversation_mut(&id) else {
                    return Vec::new();
                };
                let effect = match def.command {
                    Command::Pin => {
                        c.pinned = !c.pinned;
                        Effect::Pin {
                            conversation: id,
                            on: c.pinned,
                        }
                    }
                    Command::Mute => {
                        c.muted = !c.muted;
                        Effect::Mute {
                            conversation: id,
                            on: c.muted,
                        }
                    }
                    _ => {
                        let alias = (!arg.is_empty()).then(|| arg.chars().take(64).collect());
                        c.alias = alias.clone();
                        Effect::Rename {
                            conversation: id,
                            alias,
                        }
                    }
                };
                self.sort();
                vec![effect]
            }
            Command::Trust | Command::Block | Command::Verify => self.trust_command(def.command),
            Command::Plain => {
                self.input.take();
                self.plain_command()
            }
            Command::Send => self.send_command(arg),
            Command::Accept => self.accept_command(arg),
            Command::Decline => self.decline_command(),
            Command::Cancel => self.cancel_command(),
            Command::Open => self.open_command(),
            Command::Away => {
                self.input.take();
                self.away_command(arg)
            }
            Command::Strangers => {
                self.input.take();
                self.open_strangers();
                Vec::new()
            }
            Command::Recall => {
                self.input.take();
                self.recall_last(now_ms)
            }
            Command::Search => {
                self.input.take();
                if arg.is_empty() {
                    return self.start_search("");
                }
                self.start_search(arg)
            }
            Command::Add => {
                // HOST:PORT: without a port there is nothing to look up.
                if arg.is_empty() || arg.contains(char::is_whitespace) || !arg.contains(':') {
                    self.error(tr!(self.lang, "app-usage", usage = def.usage(self.lang)));
                    return Vec::new();
                }
                self.input.take();
                self.notice = Some(Notice::Info(tr!(self.lang, "app-looking", addr = arg)));
                vec![Effect::AddPeer(arg.to_owned())]
            }
        }
    }

    fn on_net(&mut self, now_ms: i64, event: proto::Event) {
        match event {
            // The runtime hands groups' events over as `Msg::Group` (`runtime/tui_groups.rs`).
            proto::Event::Group(_) => {}
            proto::Event::Trust {
                peer,
                trust,
                same_name_as,
            } => {
                self.trust.insert(
                    peer,
                    PeerTrust {
                        trust,
                        same_name_as,
                    },
                );
                self.ensure_conversation(ConversationId::Peer(peer));
            }
            proto::Event::PeerUp(view) | proto::Event::PeerUpdated(view) => {
                // "Looking for a peer at …" has been answered.
                if matches!(self.notice, Some(Notice::Info(_))) {
                    self.notice = None;
                }
                self.upsert_peer(&view, now_ms);
                self.ensure_conversation(ConversationId::Peer(view.id));
                // A new name may move it among the conversations sorted by name.
                self.sort();
            }
            proto::Event::PeerDown { peer, reason } => {
                self.upsert_peer(&peer, now_ms);
                let id = ConversationId::Peer(peer.id);
                // A peer that leaves without a word exchanged leaves the sidebar too.
                if self
                    .conversation(&id)
                    .is_some_and(|c| c.messages.is_empty())
                {
                    self.remove_conversation(&id);
                }
                if reason == PeerDownReason::Timeout {
                    tracing::info!(peer = %peer.id, "peer timed out");
                }
            }
            proto::Event::Message {
                conversation,
                id,
                sent_at_ms: _,
                text,
                quote,
            } => {
                let Some(author) = Author::of(conversation) else {
                    return;
                };
                let message = Message {
                    quote,
                    ..Message::new(id, author, now_ms, text)
                };
                self.received(now_ms, conversation, message);
            }
            // Without a store (with one, the store applies it first and says so). The window
            // is measured on this machine's clock, from when the message arrived here: the
            // sender's clock says nothing.
            proto::Event::Recall { from, target, .. } => {
                let conversation = ConversationId::Peer(from);
                let author = Author::Peer(from);
                let in_window = self.conversation(&conversation).is_some_and(|c| {
                    c.messages.iter().rev().any(|m| {
                        m.id == target
                            && m.author == author
                            && now_ms.saturating_sub(m.time_ms) <= RECALL_WINDOW_MS
                    })
                });
                if in_window {
                    self.recalled(conversation, author, target);
                }
            }
            proto::Event::State { id, state } => self.set_state(id, state),
            // Wired in the files work.
            proto::Event::File { .. } => {}
            proto::Event::IpmsgPeer(view) => self.on_ipmsg_peer(view),
            proto::Event::Shake { conversation } => self.on_shake(now_ms, conversation),
            // The node acts on these (`runtime/ipmsg_files.rs`).
            proto::Event::IpmsgFiles { .. } | proto::Event::IpmsgRelease { .. } => {}
            proto::Event::Read { from, ids } => {
                for id in ids {
                    self.read_by(from, id);
                }
            }
        }
    }

    /// Peer `from` read message `id`: it counts only if `id` is mine and in the
    /// conversation with `from` (anyone can name any id).
    fn read_by(&mut self, from: NodeId, id: MsgId) {
        let conversation = ConversationId::Peer(from);
        const LOOK_BACK: usize = 1000;
        let mine_there = self.outgoing.get(&id) == Some(&conversation)
            || self.conversation(&conversation).is_some_and(|c| {
                c.messages
                    .iter()
                    .rev()
                    .take(LOOK_BACK)
                    .any(|m| m.id == id && m.author == Author::Me)
            });
        if !mine_there {
            return;
        }
        self.outgoing.remove(&id);
        if let Some(c) = self.conversation_mut(&conversation)
            && let Some(m) = c
                .messages
                .iter_mut()
                .rev()
                .find(|m| m.id == id && m.author == Author::Me)
        {
            m.state = Some(DeliveryState::Read);
        }
    }

    fn upsert_peer(&mut self, view: &PeerView, now_ms: i64) {
        self.note_peer_addr(view.id, view.addr);
        self.peers.insert(
            view.id,
            PeerInfo {
                name: view.name.clone(),
                addr: view.addr,
                online: view.online,
                last_seen_ms: Some(now_ms),
            },
        );
    }

    /// Remembers that `peer` is at `addr` (for [`App::lanchat_owner`]).
    pub(super) fn note_peer_addr(&mut self, peer: NodeId, addr: SocketAddr) {
        if let Some(old) = self.peers.get(&peer).map(|p| p.addr)
            && old != addr
            && self.peer_at.get(&old) == Some(&peer)
        {
            self.peer_at.remove(&old);
        }
        self.peer_at.insert(addr, peer);
    }

    /// A state change of my unsettled message `id` (read receipts come as
    /// [`proto::Event::Read`], checked against the conversation they name).
    pub(super) fn set_state(&mut self, id: MsgId, state: DeliveryState) {
        let Some(conv) = self.outgoing.get(&id).copied() else {
            return;
        };
        // A failed or queued message may still go out; the rest are settled (a delivered
        // one may still be read, which is found without the index).
        if matches!(
            state,
            DeliveryState::Delivered | DeliveryState::Read | DeliveryState::Sent
        ) {
            self.outgoing.remove(&id);
        }
        if let Some(c) = self.conversation_mut(&conv)
            && let Some(m) = c.messages.iter_mut().rev().find(|m| m.id == id)
        {
            // Read outranks delivered; nothing goes back from read.
            if m.state != Some(DeliveryState::Read) {
                m.state = Some(state);
            }
        }
    }

    /// The conversation holding my recent message `id`, looking through the latest messages
    /// of each peer conversation.
    pub(super) fn find_mine(&self, id: MsgId) -> Option<ConversationId> {
        const LOOK_BACK: usize = 1000;
        self.conversations
            .iter()
            .filter(|c| matches!(c.id, ConversationId::Peer(_)))
            .find(|c| {
                c.messages
                    .iter()
                    .rev()
                    .take(LOOK_BACK)
                    .any(|m| m.id == id && m.author == Author::Me)
            })
            .map(|c| c.id)
    }

    pub(super) fn conversation_mut(&mut self, id: &ConversationId) -> Option<&mut Conversation> {
        self.conversations.by_id_mut(id)
    }

    pub(super) fn ensure_conversation(&mut self, id: ConversationId) {
        if !self.conversations.contains(&id) {
            self.make_room_for(&id);
            self.conversations.push(Conversation::new(id));
            self.sort();
        }
        if self.selected.is_none() {
            self.selected = Some(id);
        }
    }

    /// Before `id` comes in as a new conversation: a new plain-text address is a stranger,
    /// and past [`MAX_STRANGERS`] the least recent stranger goes; past [`MAX_CONVERSATIONS`]
    /// the least recent plain-text conversation goes, strangers first. Lanchat peers and
    /// the open conversation are never forgotten.
    fn make_room_for(&mut self, id: &ConversationId) {
        let strangers = self
            .conversations
            .iter()
            .filter(|c| c.is_stranger())
            .count();
        let unauthenticated =
            |id: &ConversationId| matches!(id, ConversationId::Raw(_) | ConversationId::Ipmsg(_));
        let victim = if unauthenticated(id) && strangers >= MAX_STRANGERS {
            self.least_recent(Conversation::is_stranger)
        } else if self.conversations.len() >= MAX_CONVERSATIONS {
            self.least_recent(Conversation::is_stranger)
                .or_else(|| self.least_recent(|c: &Conversation| unauthenticated(&c.id)))
        } else {
            None
        };
        if let Some(gone) = victim {
            self.forget(&gone);
        }
    }

    /// The least recently active conversation that `which` picks, other than the open one.
    fn least_recent(&self, which: impl Fn(&Conversation) -> bool) -> Option<ConversationId> {
        self.conversations
            .iter()
            .filter(|c| which(c) && Some(c.id) != self.selected)
            .min_by_key(|c| c.last_activity_ms)
            .map(|c| c.id)
    }

    /// Drops a conversation from memory (the store keeps what it keeps).
    fn forget(&mut self, id: &ConversationId) {
        self.conversations.remove(id);
        self.outgoing.retain(|_, c| c != id);
        self.unreported.remove(id);
        self.read_seq_marks.remove(id);
        self.plain_ok.remove(id);
        self.sort();
    }

    pub(super) fn remove_conversation(&mut self, id: &ConversationId) {
        self.forget(id);
        if self.selected == Some(*id) {
            self.selected = None;
            self.scroll = 0;
            self.sort_now();
            if let Some(row) = self.sidebar.first().copied() {
                self.open_row_quietly(row);
            }
        }
    }

    fn push_message(&mut self, id: ConversationId, message: Message, now_ms: i64) {
        self.ensure_conversation(id);
        // Scrolled up in this conversation: the view stays put, and a marker counts what
        // arrived below it.
        let hold_view = self.selected == Some(id) && self.scroll > 0;
        let Some(c) = self.conversation_mut(&id) else {
            return;
        };
        c.last = Some(reply::preview_of(&message));
        c.last_activity_ms = c.last_activity_ms.max(now_ms);
        // If the window is not at the newest end, the message waits in the store.
        let shown = !c.has_newer;
        if shown {
            c.messages.push_back(message);
        }
        if hold_view {
            if shown {
                // Its lines, and a day separator if it starts a day.
                self.scroll += self.tail_lines(&id, 1);
            }
            self.new_below += 1;
        }
        if let Some(c) = self.conversation_mut(&id) {
            let cap = if c.is_stranger() {
                MAX_STRANGER_MESSAGES
            } else {
                MAX_MESSAGES_IN_MEMORY
            };
            while c.messages.len() > cap {
                c.messages.pop_front();
                c.has_older = true;
            }
        }
        self.sort();
    }

    /// The sidebar order is out of date; it is sorted once, at the end of the update.
    pub(super) fn sort(&mut self) {
        self.unsorted = true;
    }

    /// Sorts the conversations if anything changed their order (pinned first, then most
    /// recent activity, then by name), and lays out the sidebar's rows. Each title is
    /// worked out once per sort.
    pub(super) fn sort_now(&mut self) {
        if !std::mem::take(&mut self.unsorted) {
            return;
        }
        let titles: HashMap<ConversationId, String> = self
            .conversations
            .iter()
            .map(|c| (c.id, self.title(&c.id).to_lowercase()))
            .collect();
        self.conversations.sort_by_cached_key(|c| {
            (
                std::cmp::Reverse(c.pinned),
                std::cmp::Reverse(c.last_activity_ms),
                titles.get(&c.id).cloned().unwrap_or_default(),
                c.id,
            )
        });
        self.strangers = self.conversations.iter().filter(|c| self.folds(c)).count();
        let fold = self.strangers_folded();
        let mut rows = Vec::with_capacity(self.conversations.len());
        let mut folded = false;
        for c in self.conversations.iter() {
            if fold && self.folds(c) {
                // The row sits where the most recent stranger would.
                if !std::mem::replace(&mut folded, true) {
                    rows.push(Row::Strangers);
                }
            } else {
                rows.push(Row::Conversation(c.id));
            }
        }
        self.sidebar = rows;
    }

    /// The strangers the Strangers row stands for, most recent first.
    pub fn stranger_ids(&self) -> Vec<ConversationId> {
        self.conversations
            .iter()
            .filter(|c| self.folds(c))
            .map(|c| c.id)
            .collect()
    }

    /// Opens a sidebar row the user chose (a click, Alt-digit): a conversation, or the list
    /// of strangers to pick one from.
    fn open_row(&mut self, row: Row) {
        match row {
            Row::Conversation(id) => self.select(id),
            Row::Strangers => self.open_strangers(),
        }
    }

    /// Moves to a sidebar row without opening anything over the screen (Tab, and after the
    /// open conversation went away): the Strangers row opens the most recent stranger.
    fn open_row_quietly(&mut self, row: Row) {
        let id = match row {
            Row::Conversation(id) => Some(id),
            Row::Strangers => self.stranger_ids().first().copied(),
        };
        if let Some(id) = id {
            self.select(id);
        }
    }

    /// `/strangers`, or the Strangers row opened: the switcher, listing only them.
    pub(super) fn open_strangers(&mut self) {
        if self.stranger_ids().is_empty() {
            self.notice = Some(Notice::Info(tr!(self.lang, "app-no-strangers")));
            return;
        }
        self.switcher = Some(Switcher {
            strangers: true,
            ..Switcher::default()
        });
    }

    /// Wheel over the messages scrolls them; a click on a sidebar row opens it.
    fn on_mouse(&mut self, m: crossterm::event::MouseEvent) -> Vec<Effect> {
        use crossterm::event::{MouseButton, MouseEventKind};
        const WHEEL_LINES: isize = 3;
        match m.kind {
            MouseEventKind::ScrollUp => self.scroll_by(WHEEL_LINES),
            MouseEventKind::ScrollDown => self.scroll_by(-WHEEL_LINES),
            MouseEventKind::Down(MouseButton::Left) => {
                let selected = self.selected.and_then(|id| self.row_of(&id));
                let spot = layout::spot_at(
                    &self.screen(),
                    self.sidebar.len(),
                    selected,
                    m.column,
                    m.row,
                );
                if let layout::Spot::Row(i) = spot
                    && let Some(row) = self.sidebar.get(i).copied()
                {
                    self.open_row(row);
                    self.sidebar_overlay = false;
                }
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    /// What an action does to the picked message: Up/Down move the pick, copy, reply to
    /// or recall it.
    fn pick_action(&mut self, action: Action, now_ms: i64) -> Vec<Effect> {
        let Some(picked) = self.picked else {
            return Vec::new();
        };
        let Some(conv) = self.selected_conversation() else {
            self.picked = None;
            return Vec::new();
        };
        let Some(at) = conv.messages.iter().position(|m| m.id == picked) else {
            self.picked = None;
            return Vec::new();
        };
        match action {
            Action::Up => {
                if let Some(m) = at.checked_sub(1).and_then(|i| conv.messages.get(i)) {
                    self.picked = Some(m.id);
                }
            }
            Action::Down => {
                if let Some(m) = conv.messages.get(at + 1) {
                    self.picked = Some(m.id);
                }
            }
            Action::Reply => return self.start_reply(at),
            Action::Recall => return self.recall_at(now_ms, at),
            // On a picked message of mine in a group: who has read it.
            Action::PeerInfo if self.open_group().is_some() => return self.ask_read_by(picked),
            Action::PeerInfo => {
                self.picked = None;
                self.show_info = !self.show_info;
                self.read_by = None;
            }
            Action::AcceptFile | Action::StopFile | Action::OpenFile => {
                return self.pick_file_action(action);
            }
            Action::Copy => {
                let copied = conv.messages.get(at).map(copy_text);
                self.picked = None;
                return match copied {
                    Some(text) if !text.is_empty() => {
                        self.notice = Some(Notice::Info(tr!(self.lang, "app-copied")));
                        vec![Effect::Copy(text)]
                    }
                    _ => {
                        self.error(tr!(self.lang, "app-nothing-to-copy"));
                        Vec::new()
                    }
                };
            }
            _ => {}
        }
        Vec::new()
    }

    /// Opens the next conversation (in sidebar order, after the open one) with unread
    /// messages; the Strangers row counts as one, opening its most recent unread stranger.
    fn next_unread(&mut self) {
        self.sort_now();
        let unread_stranger = |app: &App| {
            app.conversations
                .iter()
                .find(|c| app.folds(c) && c.unread > 0 && Some(c.id) != app.selected)
                .map(|c| c.id)
        };
        // Among the strangers first, when one is open.
        if self.selected.is_some_and(|id| self.is_folded(&id))
            && let Some(id) = unread_stranger(self)
        {
            self.select(id);
            return;
        }
        let start = self
            .selected
            .and_then(|id| self.row_of(&id))
            .map_or(0, |i| i + 1);
        let n = self.sidebar.len();
        let found = (0..n).map(|k| (start + k) % n.max(1)).find_map(|i| {
            match self.sidebar.get(i).copied()? {
                Row::Conversation(id) => self
                    .conversation(&id)
                    .is_some_and(|c| c.unread > 0)
                    .then_some(id),
                Row::Strangers => unread_stranger(self),
            }
        });
        match found {
            Some(id) => self.select(id),
            None => self.notice = Some(Notice::Info(tr!(self.lang, "app-nothing-unread"))),
        }
    }

    pub(super) fn cycle(&mut self, step: isize) {
        self.sort_now();
        if self.sidebar.is_empty() {
            return;
        }
        let len = self.sidebar.len() as isize;
        let current = self.selected.and_then(|id| self.row_of(&id));
        let next = match current {
            Some(i) => (i as isize + step).rem_euclid(len) as usize,
            None if step > 0 => 0,
            None => self.sidebar.len() - 1,
        };
        if let Some(row) = self.sidebar.get(next).copied() {
            self.open_row_quietly(row);
        }
    }

    pub fn select(&mut self, id: ConversationId) {
        self.picked = None;
        if self.selected != Some(id) {
            self.replying = None;
        }
        // Each conversation keeps its own half-typed text.
        if let Some(old) = self.selected
            && old != id
        {
            let text = self.input.take();
            if text != self.drafts.get(&old).cloned().unwrap_or_default() {
                self.draft_saves.push((old, text.clone()));
            }
            if text.is_empty() {
                self.drafts.remove(&old);
            } else {
                self.drafts.insert(old, text);
            }
            // The draft moves into the input; the stored copy goes until it is left again.
            if let Some(draft) = self.drafts.remove(&id) {
                self.input.set(&draft);
                self.draft_saves.push((id, String::new()));
            }
        }
        self.selected = Some(id);
        self.scroll = 0;
        self.new_below = 0;
        if let Some(c) = self.conversation_mut(&id) {
            c.unread = 0;
            c.mentioned = false;
        }
    }

    fn page(&self) -> usize {
        let (_, h) = self.message_pane_size();
        usize::from(h).saturating_sub(1).max(1)
    }
}

/// The character a key types, if it types one (no Ctrl, no Alt; Shift is part of it).
fn typed_char(key: &KeyEvent) -> Option<char> {
    match key.code {
        KeyCode::Char(c)
            if !key
                .modifiers
                .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT) =>
        {
            Some(c)
        }
        _ => None,
    }
}

/// What `y` puts on the clipboard: my own text as I wrote it; a peer's text as the screen
/// shows it, through the same policy for untrusted text (control characters made visible,
/// bidi overrides and invisible characters removed), so nothing a peer chose can reach a
/// terminal or a shell through a paste.
fn copy_text(m: &Message) -> String {
    match m.author {
        Author::Me => m.text.clone(),
        Author::Peer(_) | Author::Raw(_) | Author::Ipmsg(_) => crate::text::sanitize(&m.text),
    }
}

#[cfg(test)]
mod tests;
