//! The full-screen front end's loop. Generic over the ratatui backend and the key stream,
//! so a test can script keys, draw to a `TestBackend` and still talk real UDP.

use super::preview::{self, PreviewEvent, Previews};
use super::storage::{Reply, Request, StoreEvent};
use super::{
    Aux, Node, Restored, Wake, terminal, tui_files, tui_groups, utc_offset_s, wall_now_ms,
};
use crate::app::files::{PREVIEW_COLS, PREVIEW_ROWS};
use crate::app::{App, ConversationSummary, Effect, Me, Msg, PAGE, PeerInfo};
use crate::config::Settings;
use crate::proto::{Body, ConversationId, Identity, NodeId};
use crate::tr;
use crate::ui;
use anyhow::Context;
use crossterm::event::{Event, KeyEventKind};
use futures_util::{Stream, StreamExt};
use ratatui::Terminal;
use ratatui::backend::Backend;
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::io;
use std::task::Poll;
use std::time::Duration;
use tokio::time::Instant;

/// Keys taken in one turn before the screen is redrawn (typing fast, pasting without
/// bracketed paste).
const KEY_BATCH: usize = 64;
/// Terminal events read ahead of the loop at most.
const KEY_CHANNEL: usize = 1024;

/// Frames are drawn at most this often: a burst of datagrams, each turn of the loop taking
/// a few, would otherwise redraw the whole screen for every few messages (a fifth of the
/// time of a 100k-message burst went to drawing). The first change after a quiet spell is
/// drawn at once, and so is what a key did: typing never waits for the interval.
const FRAME_INTERVAL: Duration = Duration::from_millis(10);

/// Everything the chat needs before its loop: the history database, the node with the
/// store attached, and the app with what the store remembered. Returns the effects the
/// app asked for at start (its first page of history), for [`run_with`].
pub fn start_chat(
    settings: &Settings,
    identity: Identity,
) -> anyhow::Result<(Node, App, Vec<Effect>)> {
    let lang = settings.language;
    let store = Node::open_store(settings)
        .map_err(|e| anyhow::anyhow!(e.text(lang)))
        .context(tr!(lang, "runtime-open-history"))?;
    let id = identity.public();
    let mut node = Node::start(settings, identity)?;
    node.store_lang = lang;
    let restored = node
        .attach_store(store)
        .context(tr!(lang, "runtime-start-history"))?;
    let mut app = App::new(
        Me {
            id,
            name: settings.name.clone(),
            listen: node.local_addr(),
            discovery: node.discovery,
        },
        super::random_seed(),
    );
    app.keymap = crate::app::keymap::Keymap::with(&settings.keys);
    app.modes = crate::app::keymap::ModeKeymaps::with(&settings.mode_keys);
    app.theme = settings.theme;
    app.lang = settings.language;
    app.notify = settings.notify != crate::config::Notify::Off;
    app.ring = settings.bell;
    app.unread_title = settings.title;
    let mut effects = app.update(wall_now_ms(), restore_msg(restored, &settings.name));
    effects.extend(app.update_all(wall_now_ms(), tui_groups::infos(&node)));
    Ok((node, app, effects))
}

/// Opens the chat on this terminal and runs it until the user quits or a signal arrives.
pub async fn run_terminal(settings: Settings, id: Identity) -> anyhow::Result<()> {
    // Before the terminal is changed: from then on, a signal must find its handler.
    let stop = terminal::stop_signal();
    let (node, mut app, effects) = start_chat(&settings, id)?;
    // https://no-color.org: present and not empty.
    app.color = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let lang = settings.language;
    let (mut term, _guard) =
        terminal::init(settings.mouse).context(tr!(lang, "runtime-terminal-setup"))?;
    let in_tmux = std::env::var_os("TMUX").is_some_and(|v| !v.is_empty());
    terminal::enable_attention(settings.bell, settings.title, settings.notify, in_tmux);
    // The app starts out believing the title shows no unread messages; make it so. From
    // here on the title changes only by `Effect::Title`.
    terminal::set_unread_title(0);
    // Before the thread that reads keys: the terminal's answers to the graphics query
    // must not reach it.
    let mut graphics = preview::detect(settings.previews, |name| std::env::var(name).ok());
    if !app.color {
        graphics = graphics.without_color();
    }
    run_with_previews(
        &mut term,
        terminal_events().context(tr!(lang, "runtime-terminal-read"))?,
        node,
        app,
        effects,
        stop,
        Previews::new(graphics, lang),
    )
    .await
}

/// Terminal events from a thread of their own that reads with crossterm's blocking
/// `event::read`, handed over a bounded channel (the thread waits while the loop is
/// behind).
///
/// Not crossterm's `EventStream`: it polls its source with a zero timeout, which returns
/// nothing while events sit parsed in the source's buffer, and its default source watches
/// the terminal edge-triggered but reads one buffer per wake-up. Keys typed ahead (8 KB
/// written at once) then stalled until more keys arrived, and a Ctrl-C behind them waited
/// with them (crossterm issue #813). A blocking read with the `use-dev-tty` source (level
/// triggered) returns every buffered event first and waits only when nothing is left.
fn terminal_events() -> io::Result<impl Stream<Item = io::Result<Event>> + Unpin> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<io::Result<Event>>(KEY_CHANNEL);
    std::thread::Builder::new()
        .name("terminal-input".into())
        .spawn(move || {
            loop {
                let event = crossterm::event::read();
                let failed = event.is_err();
                if tx.blocking_send(event).is_err() || failed {
                    break;
                }
            }
        })?;
    Ok(futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx)))
}

/// The loop: merge keys, datagrams, deadlines and background results; update; draw if dirty.
pub async fn run<B, K, F>(
    term: &mut Terminal<B>,
    keys: K,
    node: Node,
    app: App,
    stop: F,
) -> anyhow::Result<()>
where
    B: Backend,
    B::Error: std::error::Error + Send + Sync + 'static,
    K: Stream<Item = io::Result<Event>> + Unpin,
    F: Future<Output = ()>,
{
    run_with(term, keys, node, app, Vec::new(), stop).await
}

/// [`run`], first carrying out `effects` the app asked for before the loop started (such
/// as loading the conversation it restored).
pub async fn run_with<B, K, F>(
    term: &mut Terminal<B>,
    keys: K,
    node: Node,
    app: App,
    effects: Vec<Effect>,
    stop: F,
) -> anyhow::Result<()>
where
    B: Backend,
    B::Error: std::error::Error + Send + Sync + 'static,
    K: Stream<Item = io::Result<Event>> + Unpin,
    F: Future<Output = ()>,
{
    let previews = Previews::off(app.lang);
    run_with_previews(term, keys, node, app, effects, stop, previews).await
}

/// [`run_with`], drawing pictures with `previews`.
pub async fn run_with_previews<B, K, F>(
    term: &mut Terminal<B>,
    mut keys: K,
    mut node: Node,
    mut app: App,
    effects: Vec<Effect>,
    stop: F,
    mut previews: Previews,
) -> anyhow::Result<()>
where
    B: Backend,
    B::Error: std::error::Error + Send + Sync + 'static,
    K: Stream<Item = io::Result<Event>> + Unpin,
    F: Future<Output = ()>,
{
    run_effects(&mut app, &mut node, effects);
    tokio::pin!(stop);
    let size = term.size()?;
    let effects = app.update_all(
        wall_now_ms(),
        [
            Msg::Clock {
                utc_offset_s: utc_offset_s(),
            },
            Msg::Resize {
                width: size.width,
                height: size.height,
            },
        ],
    );
    run_effects(&mut app, &mut node, effects);
    // When the last frame was drawn, and whether the model changed since.
    let mut last_frame: Option<Instant> = None;
    let mut changed = false;
    // Whether this turn handled the terminal's input (its effect is drawn at once).
    let mut input = false;
    loop {
        let now_ms = wall_now_ms();
        let events = node.drain();
        if !events.is_empty() {
            let effects = app.update_all(now_ms, tui_groups::news(&node, events));
            run_effects(&mut app, &mut node, effects);
        }
        if let Some(e) = node.take_send_error() {
            let effects = app.update(now_ms, Msg::Error(e.text(app.lang)));
            run_effects(&mut app, &mut node, effects);
        }
        let files = tui_files::pump(&mut node, now_ms);
        if !files.is_empty() {
            let effects = app.update_all(now_ms, files);
            run_effects(&mut app, &mut node, effects);
        }
        // Last of this turn's effects: every ask made above is taken now.
        for (id, path) in node.preview_asks.drain(..) {
            previews.request(id, path, PREVIEW_COLS, PREVIEW_ROWS);
        }
        if !app.running {
            break;
        }
        changed |= app.take_dirty();
        let now = Instant::now();
        if changed && frame_due(input, last_frame, now) {
            // Times are shown in the zone of the moment (a change of daylight saving time
            // shows at the next frame).
            let offset = utc_offset_s();
            if offset != app.utc_offset_s {
                let effects = app.update(
                    now_ms,
                    Msg::Clock {
                        utc_offset_s: offset,
                    },
                );
                run_effects(&mut app, &mut node, effects);
            }
            term.draw(|f| ui::draw_with(f, &app, &mut previews))?;
            last_frame = Some(now);
            changed = false;
        }
        input = false;
        // A change not drawn yet is drawn when the interval is up.
        let next_frame = last_frame.filter(|_| changed).map(|t| t + FRAME_INTERVAL);
        // The model's own moment to look again (a hint that time alone brings).
        let app_wake = app.wake_at().map(|at| {
            let wait = u64::try_from(at.saturating_sub(now_ms)).unwrap_or(0);
            tokio::time::Instant::now() + Duration::from_millis(wait)
        });
        tokio::select! {
            biased;
            () = &mut stop => break,
            event = keys.next() => {
                let Some(event) = event else { break };
                input = true;
                let lang = app.lang;
                let event = event.with_context(|| tr!(lang, "runtime-terminal-reading"))?;
                handle_terminal_event(&mut app, &mut node, event);
                for _ in 1..KEY_BATCH {
                    match ready_now(&mut keys).await {
                        Some(Some(event)) => {
                            let event =
                                event.with_context(|| tr!(lang, "runtime-terminal-reading"))?;
                            handle_terminal_event(&mut app, &mut node, event);
                        }
                        Some(None) => break,
                        None => break,
                    }
                }
            }
            wake = node.wake() => match wake {
                Wake::Aux(aux) => handle_aux(&mut app, &mut node, aux),
                Wake::Store(reply) => handle_store(&mut app, &mut node, reply),
                Wake::Datagrams | Wake::Timeout | Wake::Files => {}
            },
            made = previews.next() => match made {
                PreviewEvent::Ready { id, rows, .. } => {
                    let effects = app.update(wall_now_ms(), Msg::PreviewReady { id, rows });
                    run_effects(&mut app, &mut node, effects);
                }
                PreviewEvent::Failed { id, reason } => {
                    tracing::info!(%id, %reason, "no preview");
                }
            },
            () = async {
                match next_frame {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            } => {}
            () = async {
                match app_wake {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            } => {
                let offset = app.utc_offset_s;
                let effects = app.update(wall_now_ms(), Msg::Clock { utc_offset_s: offset });
                run_effects(&mut app, &mut node, effects);
            }
        }
    }
    node.shutdown();
    Ok(())
}

/// Whether a change is drawn now: what the terminal's input did always is; anything else
/// once [`FRAME_INTERVAL`] has passed since the last frame (at once after a quiet spell).
fn frame_due(input: bool, last_frame: Option<Instant>, now: Instant) -> bool {
    input || last_frame.is_none_or(|t| now >= t + FRAME_INTERVAL)
}

/// The stream's next item if it is ready now, without waiting. Polls with this task's own
/// waker: crossterm's `EventStream` keeps the first waker it is given while it waits, so a
/// throwaway waker (as `now_or_never` uses) would leave it unable to wake the loop again.
async fn ready_now<K: Stream + Unpin>(keys: &mut K) -> Option<Option<K::Item>> {
    std::future::poll_fn(|cx| {
        Poll::Ready(match keys.poll_next_unpin(cx) {
            Poll::Ready(item) => Some(item),
            Poll::Pending => None,
        })
    })
    .await
}

fn handle_terminal_event(app: &mut App, node: &mut Node, event: Event) {
    let msg = match event {
        Event::Key(key) if key.kind != KeyEventKind::Release => Msg::Key(key),
        Event::Paste(text) => match tui_files::pasted_path(&text) {
            Some(path) => Msg::PastedFile(path),
            None => Msg::Paste(text),
        },
        Event::Resize(width, height) => Msg::Resize { width, height },
        Event::Mouse(m) => Msg::Mouse(m),
        _ => return,
    };
    let effects = app.update(wall_now_ms(), msg);
    run_effects(app, node, effects);
}

fn handle_aux(app: &mut App, node: &mut Node, aux: Aux) {
    let msg = match aux {
        Aux::Resolved { query, result } => match result {
            Ok(addr) => {
                node.add_peer(addr);
                let shown = addr.to_string();
                Msg::Info(if shown == query {
                    tr!(app.lang, "runtime-probing-addr", addr = shown)
                } else {
                    tr!(app.lang, "runtime-probing", addr = shown, query = query)
                })
            }
            Err(e) => Msg::Error(tr!(
                app.lang,
                "runtime-add-peer-failed",
                error = e.text(app.lang)
            )),
        },
    };
    let effects = app.update(wall_now_ms(), msg);
    run_effects(app, node, effects);
}

/// What the store remembered, as the app's start-up message.
pub fn restore_msg(restored: Restored, my_name: &str) -> Msg {
    let mentioned: std::collections::HashSet<crate::proto::ConversationId> = restored
        .mentions
        .iter()
        .filter(|(_, text)| crate::app::mentions(text, my_name))
        .map(|(c, _)| *c)
        .collect();
    Msg::Restore {
        peers: restored
            .peers
            .into_iter()
            .map(|p| {
                (
                    p.id,
                    PeerInfo {
                        name: p.name,
                        addr: p.addr,
                        online: false,
                        last_seen_ms: Some(p.last_seen_ms),
                    },
                )
            })
            .collect(),
        conversations: restored
            .conversations
            .into_iter()
            .map(|c| ConversationSummary {
                id: c.id,
                unread: c.unread,
                last_activity_ms: c.last_activity_ms,
                has_messages: c.last_preview.is_some(),
                mentioned: mentioned.contains(&c.id),
                last: c.last_message(),
                draft: c.draft,
                pinned: c.pinned,
                muted: c.muted,
                alias: c.alias,
                wrote: c.wrote,
            })
            .collect(),
    }
}

/// What the store answered, once the node did its part, as the app's messages.
fn handle_store(app: &mut App, node: &mut Node, reply: Reply) {
    let mut msgs = Vec::new();
    for event in node.settle(reply) {
        match event {
            StoreEvent::Received {
                conversation,
                message,
                ..
            } => msgs.push(Msg::Received(message, conversation)),
            StoreEvent::File {
                conversation,
                message,
            } => msgs.push(Msg::FileMessage {
                conversation,
                message,
            }),
            StoreEvent::Mine { id, seq } => msgs.push(Msg::Stored { id, seq }),
            StoreEvent::Page {
                conversation,
                page,
                mut messages,
                more,
            } => {
                tui_groups::fill_tallies(node, &conversation, &mut messages);
                msgs.push(Msg::History {
                    conversation,
                    page,
                    messages,
                    more,
                });
            }
            StoreEvent::Search { query, hits } => msgs.push(Msg::SearchResults { query, hits }),
            // The app checked the receipt against the conversation itself.
            StoreEvent::Read { .. } => {}
            StoreEvent::QuoteChecked {
                conversation,
                reply,
                author,
                excerpt,
            } => msgs.push(Msg::QuoteChecked {
                conversation,
                reply,
                author,
                excerpt,
            }),
            StoreEvent::Recalled {
                conversation,
                author,
                target,
            } => msgs.push(Msg::Recalled {
                conversation,
                author,
                target,
            }),
            StoreEvent::Group {
                shown,
                recalled,
                withdrawn,
            } => msgs.extend(tui_groups::stored(node, shown, recalled, withdrawn)),
            StoreEvent::RecallFailed { error } => msgs.push(Msg::StoreFailed { id: None, error }),
            StoreEvent::Failed { error, mine } if mine.is_empty() => {
                msgs.push(Msg::StoreFailed { id: None, error });
            }
            StoreEvent::Failed { error, mine } => {
                msgs.extend(mine.into_iter().map(|id| Msg::StoreFailed {
                    id: Some(id),
                    error: error.clone(),
                }));
            }
        }
    }
    // The whole batch in one update: the sidebar is sorted once, not per message.
    let effects = coalesce(app.update_all(wall_now_ms(), msgs));
    run_effects(app, node, effects);
}

/// Folds the effects of a batch of stored messages: one read receipt per peer and one read
/// mark per conversation, rather than one of each per message (a burst of 256 messages in
/// view would otherwise put 256 receipts on the wire and 256 transactions on the store).
fn coalesce(effects: Vec<Effect>) -> Vec<Effect> {
    let mut out: Vec<Effect> = Vec::with_capacity(effects.len());
    let mut receipts: HashMap<NodeId, usize> = HashMap::new();
    let mut marks: HashMap<ConversationId, usize> = HashMap::new();
    for effect in effects {
        match effect {
            Effect::MarkRead { peer, ids } => match receipts.get(&peer) {
                Some(&i) => {
                    if let Some(Effect::MarkRead { ids: all, .. }) = out.get_mut(i) {
                        all.extend(ids);
                    }
                }
                None => {
                    receipts.insert(peer, out.len());
                    out.push(Effect::MarkRead { peer, ids });
                }
            },
            Effect::ReadUpTo { conversation, seq } => match marks.get(&conversation) {
                Some(&i) => {
                    if let Some(Effect::ReadUpTo { seq: highest, .. }) = out.get_mut(i) {
                        *highest = (*highest).max(seq);
                    }
                }
                None => {
                    marks.insert(conversation, out.len());
                    out.push(Effect::ReadUpTo { conversation, seq });
                }
            },
            other => out.push(other),
        }
    }
    out
}

/// Carries out every effect, and every effect of what they tell the app in turn (a send
/// that fails, a load or search without a store), in order.
fn run_effects(app: &mut App, node: &mut Node, effects: Vec<Effect>) {
    let mut queue: VecDeque<Effect> = effects.into();
    while let Some(effect) = queue.pop_front() {
        match effect {
            Effect::Send {
                to,
                id,
                sent_at_ms,
                text,
                quote,
            } => {
                let body = match quote {
                    Some(quote) => Body::Reply { quote, text },
                    None => Body::Text(text),
                };
                if let Err(e) = node.send_body(to, id, sent_at_ms, body) {
                    queue.extend(app.update(
                        wall_now_ms(),
                        Msg::SendFailed {
                            id,
                            error: e.to_string(),
                        },
                    ));
                }
            }
            Effect::Recall {
                to,
                id,
                target,
                sent_at_ms,
            } => {
                if let Err(e) = node.send_body(to, id, sent_at_ms, Body::Recall(target)) {
                    queue.extend(app.update(
                        wall_now_ms(),
                        Msg::Error(tr!(
                            app.lang,
                            "runtime-recall-not-sent",
                            error = e.to_string()
                        )),
                    ));
                }
            }
            Effect::Notify(text) => terminal::notify(&text),
            Effect::AddPeer(query) => node.resolve(query),
            Effect::Away(text) => node.set_away(text),
            Effect::MarkRead { peer, ids } => node.mark_read(peer, &ids),
            Effect::Load { conversation, page } if node.has_store() => {
                node.store(Request::Page {
                    conversation,
                    page,
                    limit: PAGE,
                });
            }
            // Without a store there is no history beyond what is in memory.
            Effect::Load { conversation, page } => {
                queue.extend(app.update(
                    wall_now_ms(),
                    Msg::History {
                        conversation,
                        page,
                        messages: Vec::new(),
                        more: false,
                    },
                ));
            }
            Effect::Search { query, limit } if node.has_store() => {
                node.store(Request::Search { query, limit });
            }
            Effect::Search { query, .. } => {
                queue.extend(app.update(
                    wall_now_ms(),
                    Msg::SearchResults {
                        query,
                        hits: Vec::new(),
                    },
                ));
            }
            Effect::Pin { conversation, on } => node.store(Request::Pin { conversation, on }),
            Effect::Mute { conversation, on } => node.store(Request::Mute { conversation, on }),
            Effect::Rename {
                conversation,
                alias,
            } => node.store(Request::Alias {
                conversation,
                alias,
            }),
            Effect::Copy(text) => terminal::copy(&text),
            Effect::TrustPeer(peer) => node.endpoint.trust_peer(super::mono_now(), peer),
            Effect::BlockPeer(peer) => node.endpoint.block_peer(peer),
            Effect::VerifyPeer(peer) => node.endpoint.verify_peer(peer),
            Effect::PlainPeer {
                addr,
                allowed: true,
            } => node.endpoint.allow_plain(addr),
            Effect::PlainPeer {
                addr,
                allowed: false,
            } => node.endpoint.forbid_plain(addr),
            Effect::SaveDraft { conversation, text } => {
                node.store(Request::Draft { conversation, text });
            }
            Effect::ReadUpTo { conversation, seq } => {
                node.store(Request::ReadUpTo { conversation, seq });
            }
            // Without a store, what is not in memory is not anywhere: the quote stays a claim.
            Effect::CheckQuote {
                conversation,
                reply,
                author,
                quote,
            } => node.store(Request::CheckQuote {
                conversation,
                reply,
                author,
                quote: Box::new(quote),
            }),
            Effect::Bell => terminal::ring(),
            Effect::Title(unread) => terminal::set_unread_title(unread),
            Effect::SendFiles { to, paths } => {
                let msgs = tui_files::send_files(node, app.lang, to, paths);
                queue.extend(app.update_all(wall_now_ms(), msgs));
            }
            Effect::AcceptFile { .. } | Effect::DeclineFile(_) | Effect::CancelFile(_) => {
                let (id, answer) = match effect {
                    Effect::AcceptFile { id, dir } => (id, tui_files::Answer::Accept(dir)),
                    Effect::DeclineFile(id) => (id, tui_files::Answer::Decline),
                    Effect::CancelFile(id) => (id, tui_files::Answer::Cancel),
                    _ => continue,
                };
                if let Some(msg) = tui_files::answer(node, app.lang, id, answer) {
                    queue.extend(app.update(wall_now_ms(), msg));
                }
            }
            Effect::OpenFile(path) => {
                if let Some(msg) = tui_files::open(&path, app.lang) {
                    queue.extend(app.update(wall_now_ms(), msg));
                }
            }
            // Made by the loop, which owns the previews (a bounded list: one per picture).
            Effect::Preview { id, path } => node.preview_asks.push((id, path)),
            Effect::CompletePath { start, word } => {
                let candidates = tui_files::completions(&word);
                queue.extend(app.update(
                    wall_now_ms(),
                    Msg::PathCompletions {
                        start,
                        word,
                        candidates,
                    },
                ));
            }
            Effect::Group(act) => {
                let msgs = tui_groups::act(node, app.lang, act);
                if !msgs.is_empty() {
                    queue.extend(app.update_all(wall_now_ms(), msgs));
                }
            }
            Effect::Quit => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::MsgId;

    #[test]
    fn keys_are_drawn_at_once_and_traffic_at_most_every_interval() {
        let t = Instant::now();
        let soon = t + FRAME_INTERVAL / 2;
        let later = t + FRAME_INTERVAL;
        // Nothing drawn yet, or a quiet spell: at once.
        assert!(frame_due(false, None, t));
        assert!(frame_due(false, Some(t), later));
        // Traffic inside the interval waits for it...
        assert!(!frame_due(false, Some(t), soon));
        // ...a key does not.
        assert!(frame_due(true, Some(t), soon));
        assert!(frame_due(true, Some(t), t));
    }

    #[test]
    fn a_stored_batch_gives_one_receipt_per_peer_and_one_read_mark_per_conversation() {
        let (p1, p2) = (NodeId([1; 32]), NodeId([2; 32]));
        let (c1, c2) = (ConversationId::Peer(p1), ConversationId::Peer(p2));
        let read = |peer, id| Effect::MarkRead {
            peer,
            ids: vec![MsgId(id)],
        };
        let mark = |conversation, seq| Effect::ReadUpTo { conversation, seq };
        let effects = vec![
            read(p1, 1),
            mark(c1, 10),
            Effect::AddPeer("somewhere:1".into()),
            read(p2, 7),
            read(p1, 2),
            mark(c1, 12),
            mark(c2, 5),
            mark(c1, 11),
            read(p1, 3),
        ];
        assert_eq!(
            coalesce(effects),
            vec![
                Effect::MarkRead {
                    peer: p1,
                    ids: vec![MsgId(1), MsgId(2), MsgId(3)],
                },
                mark(c1, 12),
                Effect::AddPeer("somewhere:1".into()),
                read(p2, 7),
                mark(c2, 5),
            ]
        );
    }
}
