//! Files in the model (issue 15): file bubbles and what they show, the transfers under way
//! (for the sidebar and the status line), `/send`, `/accept`, `/decline`, `/cancel` and
//! `/open`, the picked bubble's keys, a pasted path, and Tab completion of paths.
//!
//! The model does no IO: the runtime moves the files, reads directories for completion and
//! checks a pasted path, and tells the model what happened as [`FileNews`]. A file's name is
//! the peer's word: it reaches the screen only through `text::sanitize`, and is never a path
//! here.

use super::{App, Author, Effect, Message, Notice};
use crate::message::FileCard;
use crate::proto::files::{Direction, Problem, TransferId, TransferState};
use crate::proto::{ConversationId, NodeId};
use crate::tr;
use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;

/// How far back the rate looks (a moving window of progress reports).
pub const RATE_WINDOW_MS: i64 = 5_000;
/// Progress reports kept per transfer for the rate (they come at most twice a second).
const RATE_SAMPLES: usize = 16;
/// Transfers followed at once for the sidebar and the status line, at most.
pub const MAX_LIVE: usize = 512;
/// Paths `/send` takes at once, at most.
pub const MAX_SEND_PATHS: usize = 32;
/// Candidates listed after a Tab that matched many, at most.
const LISTED_CANDIDATES: usize = 8;
/// Pictures of one page of history whose previews are asked for, at most (the newest).
const PREVIEWS_PER_PAGE: usize = 8;
/// Pictures whose previews were asked for in a run, at most (the runtime keeps fewer
/// decoded; beyond this a picture stays a plain bubble).
pub const MAX_PREVIEWS_ASKED: usize = 4096;
/// The largest preview, in cells.
pub const PREVIEW_COLS: u16 = 36;
pub const PREVIEW_ROWS: u16 = 10;

/// What the runtime tells the model about a transfer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileNews {
    pub id: TransferId,
    /// Its peer and direction, when the runtime still knows them (a finished transfer is
    /// found by its bubble).
    pub about: Option<(NodeId, Direction)>,
    pub change: FileChange,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileChange {
    /// `done` bytes of `size` are through.
    Progress { done: u64, size: u64 },
    /// It moved to `state` (or has a new `problem`); `path`: where an accepted file goes.
    State {
        state: TransferState,
        problem: Option<Problem>,
        path: Option<PathBuf>,
    },
    /// Received and verified at `path`, or received whole by the peer.
    Done { path: PathBuf },
    /// It stopped. Shown on its bubble by the state that comes with it; a transfer with no
    /// bubble (a file that could not be read for an offer, an offer refused at once) is a
    /// notice.
    Failed { problem: Problem },
    /// My `/send` of `name` is being prepared: the file is hashed before it is offered,
    /// `done` bytes of `size` so far.
    Preparing { name: String, done: u64, size: u64 },
}

/// A transfer under way, as the sidebar and the status line count it.
#[derive(Debug, Clone, PartialEq)]
pub struct Live {
    pub conversation: ConversationId,
    pub direction: Direction,
    pub state: TransferState,
    pub size: u64,
    pub done: u64,
    /// `(time, done)` reports inside [`RATE_WINDOW_MS`], oldest first.
    samples: VecDeque<(i64, u64)>,
}

impl Live {
    fn new(conversation: ConversationId, card: &FileCard) -> Live {
        Live {
            conversation,
            direction: card.direction,
            state: card.state,
            size: card.size,
            done: card.done,
            samples: VecDeque::new(),
        }
    }

    fn report(&mut self, now_ms: i64, done: u64, size: u64) {
        self.done = done.min(size);
        self.size = size;
        if self.samples.back().is_some_and(|&(_, d)| d > done) {
            // It started again from less (a partial file was discarded): a new rate.
            self.samples.clear();
        }
        self.samples.push_back((now_ms, self.done));
        while self.samples.len() > RATE_SAMPLES
            || self
                .samples
                .front()
                .is_some_and(|&(t, _)| now_ms - t > RATE_WINDOW_MS && self.samples.len() > 2)
        {
            self.samples.pop_front();
        }
    }

    /// Bytes a second over the window, once two reports span some time.
    pub fn rate(&self) -> Option<f64> {
        let (&(t0, d0), &(t1, d1)) = (self.samples.front()?, self.samples.back()?);
        let ms = t1 - t0;
        (ms > 0 && d1 >= d0).then(|| (d1 - d0) as f64 * 1000.0 / ms as f64)
    }

    /// Seconds left at the current rate.
    pub fn eta_s(&self) -> Option<u64> {
        let rate = self.rate().filter(|r| *r >= 1.0)?;
        Some(((self.size.saturating_sub(self.done)) as f64 / rate).ceil() as u64)
    }

    /// Data is flowing.
    pub fn running(&self) -> bool {
        self.state == TransferState::Running
    }
}

/// All transfers under way, summed for the status line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Totals {
    pub running: usize,
    pub done: u64,
    pub size: u64,
    /// Bytes a second, all together (those with a rate).
    pub rate: f64,
}

/// What the picked (or newest fitting) bubble may have done to it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Want {
    /// An incoming offer waiting for an answer.
    Answer,
    /// Anything not finished, either way.
    Stop,
    /// A file there is to open: received, or mine.
    Open,
}

fn fits(card: &FileCard, want: Want) -> bool {
    match want {
        // An offer waiting, or a download that stopped and may be taken up again (an IP
        // Messenger peer's: it resumes by offset when accepted again).
        Want::Answer => {
            card.direction == Direction::In
                && (card.state == TransferState::Offered
                    || (card.state == TransferState::Failed
                        && card.problem().is_some_and(Problem::may_resume)))
        }
        Want::Stop => !card.state.is_final() && card.state != TransferState::Failed,
        Want::Open => {
            card.path.is_some()
                && (card.direction == Direction::Out || card.state == TransferState::Done)
        }
    }
}

impl App {
    /// A file bubble took its place in the history: an offer to me (shown like any message
    /// received), or mine.
    pub(super) fn file_message(&mut self, now_ms: i64, id: ConversationId, message: Message) {
        if let Some(card) = &message.file {
            self.follow(id, card);
            self.prepared(&card.id);
            self.want_preview(card);
        }
        if message.author == Author::Me {
            if let Some(c) = self.conversation_mut(&id) {
                c.wrote = true;
            }
            self.push_message(id, message, now_ms);
        } else {
            self.received(now_ms, id, message);
        }
    }

    /// My offer `id` is made (or failed): its "checking" notice goes.
    fn prepared(&mut self, id: &TransferId) {
        if let Some(text) = self.preparing.remove(id)
            && matches!(&self.notice, Some(Notice::Info(t)) if *t == text)
        {
            self.notice = None;
        }
    }

    /// A picture with a file to show (received and verified, or mine) gets its preview
    /// asked for, once.
    fn want_preview(&mut self, card: &FileCard) {
        let shown = card.direction == Direction::Out || card.state == TransferState::Done;
        let Some(path) = card.path.clone() else {
            return;
        };
        if card.kind() != crate::proto::files::FileKind::Image
            || !shown
            || self.previews_asked.len() >= MAX_PREVIEWS_ASKED
            || !self.previews_asked.insert(card.id)
        {
            return;
        }
        self.preview_asks
            .push(Effect::Preview { id: card.id, path });
    }

    /// The preview of `id` is ready: its bubbles grow by `rows`. A bubble below the view
    /// (scrolled up) grows without moving what is on screen.
    pub(super) fn preview_ready(&mut self, id: &TransferId, rows: u16) {
        let rows = rows.min(PREVIEW_ROWS);
        let (w, _) = self.message_pane_size();
        let selected = self.selected;
        let offset = self.utc_offset_s;
        let mut grow_below = 0;
        let scroll = self.scroll;
        for c in self.conversations.iter_mut() {
            let Some(at) = c
                .messages
                .iter()
                .position(|m| m.file.as_ref().is_some_and(|f| f.id == *id))
            else {
                continue;
            };
            let Some(card) = c.messages[at].file.as_mut() else {
                continue;
            };
            let added = rows.saturating_sub(card.preview_rows);
            card.preview_rows = rows.max(card.preview_rows);
            if Some(c.id) == selected && scroll > 0 && added > 0 {
                let below = crate::layout::tail_height(
                    &self.heights,
                    &c.messages,
                    c.messages.len() - at - 1,
                    w,
                    offset,
                );
                if below < scroll {
                    grow_below = usize::from(added);
                }
            }
        }
        self.scroll += grow_below;
    }

    /// Keeps `card`'s transfer among those under way, or lets it go once finished.
    fn follow(&mut self, conversation: ConversationId, card: &FileCard) {
        if card.state.is_final() || card.state == TransferState::Failed {
            self.transfers.remove(&card.id);
        } else if let Some(live) = self.transfers.get_mut(&card.id) {
            live.state = card.state;
        } else if self.transfers.len() < MAX_LIVE {
            self.transfers
                .insert(card.id, Live::new(conversation, card));
        }
    }

    /// Bubbles in a page of history: their transfers still under way are followed.
    pub(super) fn follow_page(&mut self, conversation: ConversationId, messages: &[Message]) {
        for card in messages.iter().filter_map(|m| m.file.as_ref()) {
            self.follow(conversation, card);
        }
        let pictures: Vec<FileCard> = messages
            .iter()
            .rev()
            .filter_map(|m| m.file.clone())
            .filter(|c| c.kind() == crate::proto::files::FileKind::Image)
            .take(PREVIEWS_PER_PAGE)
            .collect();
        for card in &pictures {
            self.want_preview(card);
        }
    }

    /// The bubble of transfer `id`, wherever it is in memory.
    fn card_mut(&mut self, id: &TransferId) -> Option<(ConversationId, &mut FileCard)> {
        self.conversations.iter_mut().find_map(|c| {
            let conv = c.id;
            c.messages
                .iter_mut()
                .rev()
                .find_map(|m| m.file.as_mut().filter(|f| f.id == *id))
                .map(|card| (conv, card))
        })
    }

    /// What the runtime says happened to a transfer.
    pub(super) fn file_news(&mut self, now_ms: i64, news: FileNews) {
        let FileNews { id, about, change } = news;
        let conv_of_peer = about.map(|(peer, _)| ConversationId::Peer(peer));
        match change {
            FileChange::Preparing { name, done, size } => {
                let name = crate::text::sanitize_line(&name);
                let text = tr!(
                    self.lang,
                    "files-preparing",
                    name = name,
                    percent = percent(done, size)
                );
                self.notice = Some(Notice::Info(text.clone()));
                self.preparing.insert(id, text);
            }
            FileChange::Progress { done, size } => {
                if let Some((conv, card)) = self.card_mut(&id) {
                    card.done = done.min(card.size);
                    if card.state == TransferState::Accepted || card.state == TransferState::Offered
                    {
                        card.state = TransferState::Running;
                    }
                    card.problem = None;
                    let card = card.clone();
                    self.follow(conv, &card);
                } else if let (Some(conv), Some((_, direction))) = (conv_of_peer, about)
                    && !self.transfers.contains_key(&id)
                    && self.transfers.len() < MAX_LIVE
                {
                    // Its bubble is not in memory (its conversation is not loaded).
                    self.transfers.insert(
                        id,
                        Live {
                            conversation: conv,
                            direction,
                            state: TransferState::Running,
                            size,
                            done,
                            samples: VecDeque::new(),
                        },
                    );
                }
                if let Some(live) = self.transfers.get_mut(&id) {
                    live.state = TransferState::Running;
                    live.report(now_ms, done, size);
                }
            }
            FileChange::State {
                state,
                problem,
                path,
            } => {
                if let Some((conv, card)) = self.card_mut(&id) {
                    if card.state.can_move_to(state) {
                        card.state = state;
                    }
                    card.problem = problem.map(|p| p.as_str().to_owned());
                    if path.is_some() {
                        card.path = path;
                    }
                    let card = card.clone();
                    self.follow(conv, &card);
                } else if state.is_final() || state == TransferState::Failed {
                    self.transfers.remove(&id);
                } else if let Some(live) = self.transfers.get_mut(&id) {
                    live.state = state;
                }
                if state != TransferState::Running
                    && let Some(live) = self.transfers.get_mut(&id)
                {
                    live.samples.clear();
                }
            }
            FileChange::Done { path } => {
                let mut name = None;
                let mut done_card = None;
                if let Some((_, card)) = self.card_mut(&id) {
                    card.state = TransferState::Done;
                    card.done = card.size;
                    card.problem = None;
                    if card.direction == Direction::In {
                        card.path = Some(path);
                        name = Some(card.name.clone());
                    }
                    done_card = Some(card.clone());
                }
                if let Some(card) = done_card {
                    self.want_preview(&card);
                }
                self.transfers.remove(&id);
                if let Some(name) = name {
                    let name = crate::text::sanitize_line(&name);
                    self.notice = Some(Notice::Info(tr!(self.lang, "files-saved", name = name)));
                }
            }
            FileChange::Failed { problem } => {
                self.prepared(&id);
                if self.card_mut(&id).is_none() && !self.transfers.contains_key(&id) {
                    let reason = problem_text(self.lang, problem);
                    self.error(tr!(self.lang, "files-not-sent", reason = reason));
                }
            }
        }
    }

    /// Transfers under way in `conversation`: which way, and how far (0 to 100) the one
    /// furthest from done is.
    pub fn conversation_transfer(&self, id: &ConversationId) -> Option<(Direction, u8)> {
        self.transfers
            .values()
            .filter(|l| l.conversation == *id && l.running())
            .map(|l| (l.direction, percent(l.done, l.size)))
            .min_by_key(|(_, p)| *p)
    }

    /// Every transfer with data flowing, summed.
    pub fn transfer_totals(&self) -> Option<Totals> {
        let mut t = Totals {
            running: 0,
            done: 0,
            size: 0,
            rate: 0.0,
        };
        for l in self.transfers.values().filter(|l| l.running()) {
            t.running += 1;
            t.done += l.done;
            t.size += l.size;
            t.rate += l.rate().unwrap_or(0.0);
        }
        (t.running > 0).then_some(t)
    }

    /// The rate and time left of transfer `id`, if it runs.
    pub fn transfer_live(&self, id: &TransferId) -> Option<&Live> {
        self.transfers.get(id)
    }

    /// The bubble an answer, a stop or an open is for: the picked message if it is one that
    /// fits, else the newest that fits in the open conversation.
    fn target(&self, want: Want) -> Option<FileCard> {
        let conv = self.selected_conversation()?;
        if let Some(picked) = self.picked {
            let card = conv
                .messages
                .iter()
                .find(|m| m.id == picked)
                .and_then(|m| m.file.as_ref());
            if let Some(card) = card {
                return fits(card, want).then(|| card.clone());
            }
        }
        conv.messages
            .iter()
            .rev()
            .filter_map(|m| m.file.as_ref())
            .find(|c| fits(c, want))
            .cloned()
    }

    /// `/send PATH…`: offers files in the open conversation.
    pub(super) fn send_command(&mut self, arg: &str) -> Vec<Effect> {
        // A lanchat peer (encrypted) or an IP Messenger peer (its own file protocol);
        // never a plain-text one, which could not take it.
        let to = match self.selected {
            Some(to @ (ConversationId::Peer(_) | ConversationId::Ipmsg(_))) => to,
            Some(ConversationId::Raw(_)) => {
                self.error(tr!(self.lang, "files-not-to-plain"));
                return Vec::new();
            }
            Some(ConversationId::Group(_)) => {
                self.error(tr!(self.lang, "group-no-files"));
                return Vec::new();
            }
            None => {
                self.error(tr!(self.lang, "app-open-first"));
                return Vec::new();
            }
        };
        let paths = split_paths(arg);
        if paths.is_empty() {
            self.error(tr!(self.lang, "files-send-usage"));
            return Vec::new();
        }
        if paths.len() > MAX_SEND_PATHS {
            self.error(tr!(self.lang, "files-too-many-paths", max = MAX_SEND_PATHS));
            return Vec::new();
        }
        self.input.take();
        self.notice = None;
        vec![Effect::SendFiles { to, paths }]
    }

    /// `/accept [DIR]`: takes the picked file offer, or the newest one here.
    pub(super) fn accept_command(&mut self, arg: &str) -> Vec<Effect> {
        let dir = split_paths(arg).into_iter().next();
        self.answer(true, dir)
    }

    /// `/decline`.
    pub(super) fn decline_command(&mut self) -> Vec<Effect> {
        self.answer(false, None)
    }

    fn answer(&mut self, accept: bool, dir: Option<String>) -> Vec<Effect> {
        let Some(card) = self.target(Want::Answer) else {
            self.error(tr!(self.lang, "files-no-offer"));
            return Vec::new();
        };
        self.input.take();
        self.picked = None;
        self.notice = None;
        if accept {
            vec![Effect::AcceptFile { id: card.id, dir }]
        } else {
            vec![Effect::DeclineFile(card.id)]
        }
    }

    /// `/cancel`: stops the picked transfer (an offer to me is declined), or the newest one
    /// under way here.
    pub(super) fn cancel_command(&mut self) -> Vec<Effect> {
        let Some(card) = self.target(Want::Stop) else {
            self.error(tr!(self.lang, "files-nothing-to-cancel"));
            return Vec::new();
        };
        self.input.take();
        self.picked = None;
        self.notice = None;
        if fits(&card, Want::Answer) {
            vec![Effect::DeclineFile(card.id)]
        } else {
            vec![Effect::CancelFile(card.id)]
        }
    }

    /// `/open`: opens the picked file (or the newest received here) with the system's
    /// opener.
    pub(super) fn open_command(&mut self) -> Vec<Effect> {
        let Some(path) = self.target(Want::Open).and_then(|c| c.path) else {
            self.error(tr!(self.lang, "files-nothing-to-open"));
            return Vec::new();
        };
        self.input.take();
        self.picked = None;
        vec![Effect::OpenFile(path)]
    }

    /// A file key on the picked message: accept, decline or cancel, open.
    pub(super) fn pick_file_action(&mut self, action: crate::keys::Action) -> Vec<Effect> {
        use crate::keys::Action;
        let is_file = self
            .selected_conversation()
            .and_then(|c| c.messages.iter().find(|m| Some(m.id) == self.picked))
            .is_some_and(|m| m.file.is_some());
        if !is_file {
            self.error(tr!(self.lang, "files-not-a-file"));
            return Vec::new();
        }
        match action {
            Action::AcceptFile => self.answer(true, None),
            Action::StopFile => self.cancel_command(),
            Action::OpenFile => self.open_command(),
            _ => Vec::new(),
        }
    }

    /// A path was pasted that names a file (the runtime checked): with nothing typed in a
    /// lanchat conversation, the input becomes the `/send` of it, for Enter to confirm;
    /// otherwise it is pasted as text.
    pub(super) fn pasted_file(&mut self, path: String) -> Vec<Effect> {
        let to_peer = matches!(self.selected, Some(ConversationId::Peer(_)));
        if to_peer && self.input.text().trim().is_empty() {
            self.input.set(&format!("/send {}", escape_path(&path)));
            self.notice = Some(Notice::Info(tr!(self.lang, "files-paste-offer")));
            return Vec::new();
        }
        self.paste_text(path)
    }

    /// The word before the cursor is a path in `/send` or `/accept`: ask the runtime what
    /// it may complete to.
    pub(super) fn complete_path(&mut self) -> Vec<Effect> {
        let (start, word) = path_before_cursor(self.input.text(), self.input.cursor());
        vec![Effect::CompletePath {
            start,
            word: unescape(word),
        }]
    }

    /// What a path before the cursor may complete to (the runtime read the directory):
    /// one candidate is put in, several put in what they share and are listed.
    pub(super) fn path_completions(&mut self, start: usize, word: &str, candidates: Vec<String>) {
        let (now_start, now_word) = path_before_cursor(self.input.text(), self.input.cursor());
        if now_start != start || unescape(now_word) != word {
            return; // typed on meanwhile
        }
        let refs: Vec<&str> = candidates.iter().map(String::as_str).collect();
        match refs.as_slice() {
            [] => {}
            [one] => {
                let mut with = escape_path(one);
                if !one.ends_with('/') {
                    with.push(' ');
                }
                self.input.replace_before_cursor(start, &with);
            }
            many => {
                let prefix = super::switcher::common_prefix(many);
                if prefix.len() > word.len() {
                    self.input
                        .replace_before_cursor(start, &escape_path(prefix));
                }
                let names: Vec<String> = many
                    .iter()
                    .take(LISTED_CANDIDATES)
                    .map(|c| {
                        let trimmed = c.trim_end_matches('/');
                        let base = trimmed.rsplit('/').next().unwrap_or(trimmed);
                        let slash = if c.ends_with('/') { "/" } else { "" };
                        format!("{}{slash}", crate::text::sanitize_line(base))
                    })
                    .collect();
                let more = many.len().saturating_sub(LISTED_CANDIDATES);
                let mut list = names.join("  ");
                if more > 0 {
                    list.push_str(&tr!(self.lang, "files-more-candidates", n = more));
                }
                self.notice = Some(Notice::Info(list));
            }
        }
    }

    /// The transfers followed, by id (for tests and the view).
    pub fn transfers(&self) -> &HashMap<TransferId, Live> {
        &self.transfers
    }
}

/// How far along, 0 to 100.
pub fn percent(done: u64, size: u64) -> u8 {
    if size == 0 {
        return 100;
    }
    u8::try_from((u128::from(done.min(size)) * 100 / u128::from(size)).min(100)).unwrap_or(100)
}

/// A problem in words.
pub fn problem_text(lang: crate::i18n::Lang, p: Problem) -> String {
    match p {
        Problem::Declined => tr!(lang, "files-problem-declined"),
        Problem::Cancelled => tr!(lang, "files-problem-cancelled"),
        Problem::PeerCancelled => tr!(lang, "files-problem-peer-cancelled"),
        Problem::PeerFailed => tr!(lang, "files-problem-peer-failed"),
        Problem::DiskFull => tr!(lang, "files-problem-disk-full"),
        Problem::PeerDiskFull => tr!(lang, "files-problem-peer-disk-full"),
        Problem::Permission => tr!(lang, "files-problem-permission"),
        Problem::PeerPermission => tr!(lang, "files-problem-peer-permission"),
        Problem::SourceUnreadable => tr!(lang, "files-problem-source-unreadable"),
        Problem::SourceGone => tr!(lang, "files-problem-source-gone"),
        Problem::SourceChanged => tr!(lang, "files-problem-source-changed"),
        Problem::Unknown => tr!(lang, "files-problem-unknown"),
        Problem::Busy => tr!(lang, "files-problem-busy"),
        Problem::HashMismatch => tr!(lang, "files-problem-hash-mismatch"),
        Problem::ConnectionLost => tr!(lang, "files-problem-connection-lost"),
        Problem::TimedOut => tr!(lang, "files-problem-timed-out"),
        Problem::Protocol => tr!(lang, "files-problem-protocol"),
        Problem::Exists => tr!(lang, "files-problem-exists"),
        Problem::TooLarge => tr!(lang, "files-problem-too-large"),
        Problem::TooMany => tr!(lang, "files-problem-too-many"),
        Problem::NotSent => tr!(lang, "files-problem-not-sent"),
        Problem::Io => tr!(lang, "files-problem-io"),
        Problem::Folder => tr!(lang, "files-problem-folder"),
    }
}

/// The paths in a `/send` or `/accept` argument, as a shell would split them: spaces
/// separate, `'…'` and `"…"` quote, a backslash escapes the next character, and a
/// `file://` URI (what a file manager pastes) is decoded.
pub fn split_paths(arg: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut has = false;
    let mut quote: Option<char> = None;
    let mut chars = arg.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('"'), '\\') => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                has = true;
            }
            (None, '\\') => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                    has = true;
                }
            }
            (None, c) if c.is_whitespace() => {
                if has || !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                    has = false;
                }
            }
            (None, c) => cur.push(c),
        }
    }
    if has || !cur.is_empty() {
        out.push(cur);
    }
    out.into_iter()
        .map(|p| from_file_uri(&p).unwrap_or(p))
        .filter(|p| !p.is_empty())
        .collect()
}

/// The path a `file://` URI names (`file:///home/a%20b` is `/home/a b`), if it is one.
pub fn from_file_uri(s: &str) -> Option<String> {
    let rest = s.strip_prefix("file://")?;
    let path = if rest.starts_with('/') {
        rest
    } else {
        // file://localhost/path
        &rest[rest.find('/')?..]
    };
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = path.get(i + 1..i + 3)
            && let Ok(b) = u8::from_str_radix(hex, 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// A path as `/send` reads it back: spaces, quotes and backslashes escaped.
pub fn escape_path(p: &str) -> String {
    let mut out = String::with_capacity(p.len());
    for c in p.chars() {
        if c.is_whitespace() || matches!(c, '\\' | '\'' | '"') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Undoes [`escape_path`] (and quotes) for one word.
fn unescape(word: &str) -> String {
    split_paths(word).into_iter().next().unwrap_or_default()
}

/// The path before the cursor in a command's argument: from after the last unescaped
/// space, and where it starts.
fn path_before_cursor(text: &str, cursor: usize) -> (usize, &str) {
    let before = &text[..cursor];
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in before.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c.is_whitespace() {
            start = i + c.len_utf8();
        }
    }
    (start, &before[start..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_split_like_a_shell_and_file_uris_decode() {
        assert_eq!(split_paths("a b"), ["a", "b"]);
        assert_eq!(split_paths(r"my\ file.txt other"), ["my file.txt", "other"]);
        assert_eq!(split_paths("'/tmp/a b' \"c d\""), ["/tmp/a b", "c d"]);
        assert_eq!(
            split_paths("file:///home/me/a%20b.png"),
            ["/home/me/a b.png"]
        );
        assert_eq!(split_paths("file://localhost/x%2Fy"), ["/x/y"]);
        assert_eq!(split_paths("   "), Vec::<String>::new());
        assert_eq!(split_paths("''"), Vec::<String>::new());
        // Bad escapes are kept as they are.
        assert_eq!(split_paths("file:///a%zz"), ["/a%zz"]);
    }

    #[test]
    fn an_escaped_path_splits_back_to_itself() {
        for p in ["/tmp/a b/c'd\"e\\f.txt", "简单 文件.pdf", "plain"] {
            assert_eq!(split_paths(&escape_path(p)), [p]);
        }
    }

    #[test]
    fn the_path_before_the_cursor_skips_escaped_spaces() {
        let t = r"/send /tmp/my\ fi";
        assert_eq!(path_before_cursor(t, t.len()), (6, r"/tmp/my\ fi"));
        assert_eq!(unescape(r"/tmp/my\ fi"), "/tmp/my fi");
    }

    #[test]
    fn percent_is_bounded_and_exact_at_the_ends() {
        assert_eq!(percent(0, 0), 100);
        assert_eq!(percent(0, 10), 0);
        assert_eq!(percent(5, 10), 50);
        assert_eq!(percent(20, 10), 100);
        assert_eq!(percent(u64::MAX - 1, u64::MAX), 99);
    }

    #[test]
    fn the_rate_is_over_the_window_and_restarts_when_progress_goes_back() {
        let card = FileCard {
            id: TransferId([1; 16]),
            name: "a".into(),
            size: 10_000_000,
            direction: Direction::In,
            state: TransferState::Running,
            done: 0,
            path: None,
            problem: None,
            preview_rows: 0,
        };
        let mut l = Live::new(ConversationId::Peer(NodeId([1; 32])), &card);
        assert_eq!(l.rate(), None);
        l.report(0, 0, 10_000_000);
        l.report(1000, 1_000_000, 10_000_000);
        l.report(2000, 2_000_000, 10_000_000);
        assert_eq!(l.rate(), Some(1_000_000.0));
        assert_eq!(l.eta_s(), Some(8));
        // Old reports leave the window.
        l.report(10_000, 4_000_000, 10_000_000);
        assert_eq!(l.rate(), Some(2_000_000.0 * 1000.0 / 8000.0));
        l.report(11_000, 1000, 10_000_000);
        assert_eq!(l.rate(), None);
    }
}
