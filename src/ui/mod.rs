//! Drawing: a pure function of the model.
//!
//! `draw(frame, &App)` lays out the sidebar, the message pane, the input box and the status
//! line. Width math and text cleaning live in [`text`]; nothing here changes the model.

pub mod text;
pub mod time;

use crate::app::keymap;
use crate::app::{App, Author, Conversation, Hit, Message, Notice, SearchView, Switcher};
use crate::proto::{ConversationId, DeliveryState};
use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::{Position, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Widget};
use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use unicode_segmentation::UnicodeSegmentation;

/// Below this the screen shows a "too small" notice instead of the chat.
pub const MIN_WIDTH: u16 = 40;
pub const MIN_HEIGHT: u16 = 10;
const INPUT_HEIGHT: u16 = 3;
const STATUS_HEIGHT: u16 = 1;
/// Message text is indented this much under its header line.
const INDENT: u16 = 2;

struct Areas {
    sidebar: Rect,
    messages: Rect,
    input: Rect,
    status: Rect,
}

fn areas(area: Rect) -> Option<Areas> {
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        return None;
    }
    let main_h = area.height - INPUT_HEIGHT - STATUS_HEIGHT;
    let sidebar_w = (area.width / 4).clamp(14, 28);
    Some(Areas {
        sidebar: Rect::new(area.x, area.y, sidebar_w, main_h),
        messages: Rect::new(area.x + sidebar_w, area.y, area.width - sidebar_w, main_h),
        input: Rect::new(area.x, area.y + main_h, area.width, INPUT_HEIGHT),
        status: Rect::new(
            area.x,
            area.y + main_h + INPUT_HEIGHT,
            area.width,
            STATUS_HEIGHT,
        ),
    })
}

fn inner(r: Rect) -> Rect {
    Block::default().borders(Borders::ALL).inner(r)
}

/// The index of the first conversation the sidebar shows, keeping the selected one in view.
fn sidebar_first_row(app: &App, rows: usize) -> usize {
    let selected = app
        .selected
        .and_then(|id| app.conversations.iter().position(|c| c.id == id));
    selected.map_or(0, |s| s.saturating_sub(rows.saturating_sub(1)))
}

/// Where a mouse event at (column, row) landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spot {
    /// The sidebar row of this conversation (its index in `app.conversations`).
    Conversation(usize),
    Messages,
    Elsewhere,
}

/// What is at (column, row) of a terminal of the app's size.
pub fn spot_at(app: &App, column: u16, row: u16) -> Spot {
    let Some(a) = areas(Rect::new(0, 0, app.size.0, app.size.1)) else {
        return Spot::Elsewhere;
    };
    let at = Position::new(column, row);
    let side = inner(a.sidebar);
    if side.contains(at) {
        let index = sidebar_first_row(app, usize::from(side.height)) + usize::from(row - side.y);
        return if index < app.conversations.len() {
            Spot::Conversation(index)
        } else {
            Spot::Elsewhere
        };
    }
    if a.messages.contains(at) {
        return Spot::Messages;
    }
    Spot::Elsewhere
}

/// Columns and rows inside the message pane for a terminal of this size (0×0 if too small).
pub fn message_pane_size(width: u16, height: u16) -> (u16, u16) {
    areas(Rect::new(0, 0, width, height)).map_or((0, 0), |a| {
        let r = inner(a.messages);
        (r.width, r.height)
    })
}

/// Lines one message takes in a message pane `width` columns wide: its header and its
/// wrapped text (the same as [`message_lines`] gives, without building them). Remembered in
/// the app's [`HeightCache`].
pub fn message_height(app: &App, m: &Message, width: u16) -> usize {
    app.heights.get(&m.text, width, || {
        let body_width = usize::from(width.saturating_sub(INDENT));
        1 + text::wrapped_height(&text::sanitize(&m.text), body_width)
    })
}

/// The heights of messages, remembered by text and width. Scrolling clamps against the
/// height of the whole window (up to 1,000 messages) on every key, and a frame scrolled
/// up must know the height of everything below the view: sanitising and wrapping each
/// message every time took milliseconds per key.
#[derive(Debug, Default)]
pub struct HeightCache(RefCell<HashMap<(u64, u16), usize>>);

/// Entries kept at most; beyond this the cache starts again (a few windows' worth).
const HEIGHT_CACHE_MAX: usize = 8192;

impl HeightCache {
    fn get(&self, text: &str, width: u16, compute: impl FnOnce() -> usize) -> usize {
        let mut h = std::hash::DefaultHasher::new();
        text.hash(&mut h);
        let key = (h.finish(), width);
        if let Some(&n) = self.0.borrow().get(&key) {
            return n;
        }
        let n = compute();
        let mut map = self.0.borrow_mut();
        if map.len() >= HEIGHT_CACHE_MAX {
            map.clear();
        }
        map.insert(key, n);
        n
    }
}

/// Lines a conversation takes in a message pane `width` columns wide.
pub fn conversation_height(app: &App, conv: &Conversation, width: u16) -> usize {
    let messages: usize = conv
        .messages
        .iter()
        .map(|m| message_height(app, m, width))
        .sum();
    messages + day_changes(app, conv)
}

/// How many day separators a conversation shows (one where the local day changes between
/// two messages).
fn day_changes(app: &App, conv: &Conversation) -> usize {
    (1..conv.messages.len())
        .filter(|&i| starts_day(app, conv, i))
        .count()
}

/// "──── Yesterday ────", centred.
fn day_separator(app: &App, m: &Message, width: u16) -> Line<'static> {
    let label = format!(
        " {} ",
        time::day_label(m.time_ms, app.clock_ms, app.utc_offset_s)
    );
    let w = usize::from(width);
    let side = w.saturating_sub(text::width(&label)) / 2;
    let right = w.saturating_sub(side + text::width(&label));
    Line::from(Span::styled(
        format!("{}{label}{}", "─".repeat(side), "─".repeat(right)),
        Style::default().fg(Color::DarkGray),
    ))
}

pub fn draw(frame: &mut Frame, app: &App) {
    let area = frame.area();
    let Some(a) = areas(area) else {
        too_small(frame.buffer_mut(), area);
        return;
    };
    let buf = frame.buffer_mut();
    draw_sidebar(buf, a.sidebar, app);
    draw_messages(buf, a.messages, app);
    draw_status(buf, a.status, app);
    let cursor = draw_input(buf, a.input, app);
    if app.show_help {
        draw_help(buf, area);
    } else if let Some(search) = &app.search {
        draw_search(buf, area, app, search);
    } else if let Some(sw) = &app.switcher {
        draw_switcher(buf, area, app, sw);
    } else if app.show_info {
        draw_info(buf, area, app);
    }
    if !app.color {
        // NO_COLOR: the terminal's own colours only; bold and reverse still mark things.
        for cell in &mut buf.content {
            cell.fg = Color::Reset;
            cell.bg = Color::Reset;
        }
    }
    if !app.show_help
        && app.search.is_none()
        && app.switcher.is_none()
        && let Some(cursor) = cursor
    {
        frame.set_cursor_position(cursor);
    }
}

fn too_small(buf: &mut Buffer, area: Rect) {
    let msg = format!(
        "Terminal too small ({}×{}): lanchat needs {MIN_WIDTH}×{MIN_HEIGHT}",
        area.width, area.height
    );
    for (i, line) in text::wrap(&msg, usize::from(area.width)).iter().enumerate() {
        let Ok(dy) = u16::try_from(i) else { break };
        if dy >= area.height {
            break;
        }
        buf.set_stringn(
            area.x,
            area.y + dy,
            line,
            usize::from(area.width),
            Style::default(),
        );
    }
}

fn block(title: String) -> Block<'static> {
    Block::default()
        .borders(Borders::ALL)
        .border_style(Style::default().fg(Color::DarkGray))
        .title(Span::styled(
            title,
            Style::default().add_modifier(Modifier::BOLD),
        ))
}

/// A block title cut to fit its block, with a space either side.
fn title_for(s: &str, block_width: u16) -> String {
    let room = usize::from(block_width).saturating_sub(4);
    format!(" {} ", text::truncate(s, room))
}

fn draw_sidebar(buf: &mut Buffer, area: Rect, app: &App) {
    let b = block(title_for("Chats", area.width));
    let inner = b.inner(area);
    b.render(area, buf);
    if inner.height == 0 {
        return;
    }
    if app.conversations.is_empty() {
        let hint = text::wrap("Looking for peers…", usize::from(inner.width));
        for (i, line) in hint.iter().take(usize::from(inner.height)).enumerate() {
            buf.set_stringn(
                inner.x,
                inner.y + i as u16,
                line,
                usize::from(inner.width),
                Style::default().fg(Color::DarkGray),
            );
        }
        return;
    }
    let rows = usize::from(inner.height);
    let first = sidebar_first_row(app, rows);
    for (row, conv) in app.conversations.iter().skip(first).take(rows).enumerate() {
        let y = inner.y + row as u16;
        let line = sidebar_row(app, conv, usize::from(inner.width));
        let is_selected = Some(conv.id) == app.selected;
        buf.set_line(inner.x, y, &line, inner.width);
        if is_selected {
            buf.set_style(
                Rect::new(inner.x, y, inner.width, 1),
                Style::default().add_modifier(Modifier::REVERSED),
            );
        }
    }
}

fn sidebar_row(app: &App, conv: &Conversation, width: usize) -> Line<'static> {
    let (dot, dot_style) = match conv.id {
        ConversationId::Peer(id) if app.peers.get(&id).is_some_and(|p| p.online) => {
            ("●", Style::default().fg(Color::Green))
        }
        ConversationId::Peer(_) => ("○", Style::default().fg(Color::DarkGray)),
        ConversationId::Raw(_) => ("≈", Style::default().fg(Color::Yellow)),
    };
    let draft = if app.drafts.contains_key(&conv.id) {
        "✎"
    } else {
        ""
    };
    let badge = match conv.unread {
        0 => String::new(),
        // A muted conversation shows that something is there, not how much.
        _ if conv.muted => " •".to_string(),
        n if n > 99 => " 99+".to_string(),
        n => format!(" {n}"),
    };
    let pin = if conv.pinned { "▲" } else { "" };
    let name_room =
        width.saturating_sub(2 + text::width(&badge) + text::width(draft) + text::width(pin));
    let name = text::truncate(&text::sanitize_line(&app.title(&conv.id)), name_room);
    let pad = name_room.saturating_sub(text::width(&name));
    let mut spans = vec![
        Span::styled(dot, dot_style),
        Span::raw(" "),
        Span::styled(
            name,
            if conv.unread > 0 {
                Style::default().add_modifier(Modifier::BOLD)
            } else {
                Style::default()
            },
        ),
        Span::raw(" ".repeat(pad)),
        Span::styled(draft, Style::default().fg(Color::Magenta)),
        Span::styled(pin, Style::default().fg(Color::Yellow)),
    ];
    if !badge.is_empty() {
        let style = if conv.muted {
            Style::default().fg(Color::DarkGray)
        } else {
            Style::default().fg(Color::Red).add_modifier(Modifier::BOLD)
        };
        spans.push(Span::styled(badge, style));
    }
    Line::from(spans)
}

fn conversation_header(app: &App, id: &ConversationId) -> String {
    let name = text::sanitize_line(&app.title(id));
    match id {
        ConversationId::Peer(node) => match app.peers.get(node) {
            Some(p) if p.online => format!("{name} · online · {}", p.addr),
            Some(p) => format!("{name} · offline · last at {}", p.addr),
            None => name,
        },
        ConversationId::Raw(_) => format!("{name} · plain UDP, unencrypted"),
    }
}

fn draw_messages(buf: &mut Buffer, area: Rect, app: &App) {
    let title = app
        .selected
        .map_or_else(|| "lanchat".to_string(), |id| conversation_header(app, &id));
    let b = block(title_for(&title, area.width));
    let inner = b.inner(area);
    b.render(area, buf);
    if inner.width == 0 || inner.height == 0 {
        return;
    }
    let Some(conv) = app.selected_conversation() else {
        let host = if app.me.listen.ip().is_unspecified() {
            "HOST".to_string()
        } else {
            app.me.listen.ip().to_string()
        };
        let guide = format!(
            "No conversations yet.\n\nPeers running lanchat on your network appear on the left \
             by themselves. To reach one that discovery cannot see, type /add HOST:PORT.\n\n\
             Plain-text UDP works too: nc -u {host} {} sends straight into a chat here.",
            app.me.listen.port()
        );
        put_wrapped(buf, inner, &guide, Style::default().fg(Color::DarkGray));
        return;
    };
    if conv.messages.is_empty() {
        let hello = format!(
            "Say hello to {}.",
            text::sanitize_line(&app.title(&conv.id))
        );
        put_wrapped(buf, inner, &hello, Style::default().fg(Color::DarkGray));
        return;
    }
    let height = usize::from(inner.height);
    // Whole messages below the view are skipped by their (remembered) heights, so a view
    // scrolled to the top of a long window does not build the lines of all of it.
    let mut below = 0;
    let mut top = conv.messages.len();
    for (i, m) in conv.messages.iter().enumerate().rev() {
        let block = message_height(app, m, inner.width) + usize::from(starts_day(app, conv, i));
        if below + block > app.scroll {
            break;
        }
        below += block;
        top = i;
    }
    let need = height.saturating_add(app.scroll);
    let mut lines = view_lines(app, conv, top, need - below, inner.width);
    if lines.len() < need - below && below > 0 {
        // Scrolled further up than there is history: start from the bottom after all.
        below = 0;
        lines = view_lines(app, conv, conv.messages.len(), need, inner.width);
    }
    let scroll = app.scroll - below;
    // Scrolled further up than there is history: show the top.
    let end = lines
        .len()
        .saturating_sub(scroll)
        .max(height.min(lines.len()));
    let start = end.saturating_sub(height);
    for (row, line) in lines.range(start..end).enumerate() {
        buf.set_line(inner.x, inner.y + row as u16, line, inner.width);
    }
    if app.scroll > 0 && (below > 0 || end < lines.len()) {
        let hint = match app.new_below {
            0 => " ↓ more below (Ctrl-End) ".to_string(),
            1 => " 1 new message ↓ (Ctrl-End) ".to_string(),
            n => format!(" {n} new messages ↓ (Ctrl-End) "),
        };
        let hint = hint.as_str();
        let w = text::width(hint) as u16;
        if w < inner.width {
            buf.set_stringn(
                inner.right() - w,
                inner.bottom() - 1,
                hint,
                usize::from(w),
                Style::default().fg(Color::Black).bg(Color::Yellow),
            );
        }
    }
}

/// The lines of the messages before `end`, built from the bottom up until there are `need`
/// (or no more messages), with day separators.
fn view_lines(
    app: &App,
    conv: &Conversation,
    end: usize,
    need: usize,
    width: u16,
) -> VecDeque<Line<'static>> {
    let mut lines: VecDeque<Line<'static>> = VecDeque::with_capacity(need.min(1024));
    for (i, m) in conv.messages.iter().enumerate().take(end).rev() {
        if lines.len() >= need {
            break;
        }
        for line in message_lines(app, m, width).into_iter().rev() {
            lines.push_front(line);
        }
        // A new day starts with this message: a separator above it.
        if starts_day(app, conv, i) {
            lines.push_front(day_separator(app, m, width));
        }
    }
    lines
}

/// Whether message `i` is on another local day than the one before it.
fn starts_day(app: &App, conv: &Conversation, i: usize) -> bool {
    i > 0
        && conv
            .messages
            .get(i - 1)
            .zip(conv.messages.get(i))
            .is_some_and(|(a, b)| {
                time::local_day(a.time_ms, app.utc_offset_s)
                    != time::local_day(b.time_ms, app.utc_offset_s)
            })
}

fn put_wrapped(buf: &mut Buffer, area: Rect, s: &str, style: Style) {
    for (i, line) in text::wrap(s, usize::from(area.width))
        .iter()
        .take(usize::from(area.height))
        .enumerate()
    {
        buf.set_stringn(
            area.x,
            area.y + i as u16,
            line,
            usize::from(area.width),
            style,
        );
    }
}

fn state_span(state: DeliveryState) -> Span<'static> {
    let (label, style) = match state {
        DeliveryState::Queued => ("queued", Style::default().fg(Color::Yellow)),
        DeliveryState::Sending => ("sending…", Style::default().fg(Color::DarkGray)),
        DeliveryState::Sent => ("sent", Style::default().fg(Color::DarkGray)),
        DeliveryState::Delivered => ("✓ delivered", Style::default().fg(Color::Green)),
        DeliveryState::Read => ("✓✓ read", Style::default().fg(Color::Cyan)),
        DeliveryState::Failed => ("✗ failed", Style::default().fg(Color::Red)),
    };
    Span::styled(label, style)
}

/// The lines one message takes: a header (sender, time, state) and its wrapped text.
fn message_lines(app: &App, m: &Message, width: u16) -> Vec<Line<'static>> {
    let name_style = match m.author {
        Author::Me => Style::default().fg(Color::Green),
        Author::Peer(_) => Style::default().fg(Color::Cyan),
        Author::Raw(_) => Style::default().fg(Color::Yellow),
    }
    .add_modifier(Modifier::BOLD);
    let time = time::format_time(m.time_ms, app.clock_ms, app.utc_offset_s);
    let state = m.state.map(state_span);
    // The name gives way first: time and delivery state always show.
    let state_w = state.as_ref().map_or(0, |s| text::width(&s.content) + 2);
    let room = usize::from(width).saturating_sub(text::width(&time) + 2 + state_w);
    let name = text::truncate(&text::sanitize_line(&app.author_name(&m.author)), room);
    let mut header = vec![
        Span::styled(name, name_style),
        Span::styled(format!("  {time}"), Style::default().fg(Color::DarkGray)),
    ];
    if let Some(state) = state {
        header.push(Span::raw("  "));
        header.push(state);
    }
    let mut header = Line::from(header);
    if app.highlight == Some(m.id) || app.picked == Some(m.id) {
        header = header.style(Style::default().add_modifier(Modifier::REVERSED));
    }
    let mut lines = vec![header];
    let indent = " ".repeat(usize::from(INDENT));
    let body_width = usize::from(width.saturating_sub(INDENT));
    for l in text::wrap(&text::sanitize(&m.text), body_width) {
        lines.push(Line::from(format!("{indent}{l}")));
    }
    lines
}

/// Draws the input box and returns where the cursor goes.
fn draw_input(buf: &mut Buffer, area: Rect, app: &App) -> Option<Position> {
    let title = match app.selected {
        Some(id) => format!("To {}", text::sanitize_line(&app.title(&id))),
        None => "Message".to_string(),
    };
    let b = block(title_for(&title, area.width));
    let inner = b.inner(area);
    b.render(area, buf);
    if inner.width == 0 || inner.height == 0 {
        return None;
    }
    // Each grapheme of the input as it is shown: line breaks and controls made visible.
    let input = app.input.text();
    let mut cells: Vec<(String, usize, usize)> = Vec::new(); // (shown, width, byte offset)
    for (at, g) in input.grapheme_indices(true) {
        let shown = match g {
            "\n" | "\r\n" => "⏎".to_string(),
            "\t" => "→".to_string(),
            g => text::sanitize_line(g),
        };
        let w = text::width(&shown);
        cells.push((shown, w, at));
    }
    let cursor_col: usize = cells
        .iter()
        .take_while(|(_, _, at)| *at < app.input.cursor())
        .map(|(_, w, _)| w)
        .sum();
    let room = usize::from(inner.width).saturating_sub(1); // keep a cell for the cursor
    // Scroll horizontally so the cursor stays visible.
    let mut skip_width = 0;
    let mut skip = 0;
    while cursor_col - skip_width > room && skip < cells.len() {
        skip_width += cells[skip].1;
        skip += 1;
    }
    let mut x = inner.x;
    for (shown, w, _) in cells.iter().skip(skip) {
        if usize::from(x - inner.x) + w > usize::from(inner.width) {
            break;
        }
        let style = if shown == "⏎" || shown == "→" {
            Style::default().fg(Color::DarkGray)
        } else {
            Style::default()
        };
        buf.set_stringn(x, inner.y, shown, *w, style);
        x += *w as u16;
    }
    let cx = inner.x + (cursor_col - skip_width).min(usize::from(inner.width) - 1) as u16;
    Some(Position::new(cx, inner.y))
}

fn draw_status(buf: &mut Buffer, area: Rect, app: &App) {
    let online = app.online_peers();
    let left = format!(
        " {} · {} · {} online",
        text::sanitize_line(&app.me.name),
        app.me.listen,
        online
    );
    let mut spans = vec![Span::styled(
        left,
        Style::default().add_modifier(Modifier::BOLD),
    )];
    match &app.notice {
        Some(Notice::Error(e)) => spans.push(Span::styled(
            format!(" · ⚠ {}", text::sanitize_line(e)),
            Style::default().fg(Color::Red),
        )),
        Some(Notice::Info(i)) => spans.push(Span::raw(format!(" · {}", text::sanitize_line(i)))),
        None => {}
    }
    let hints = "Tab chats · ^S search · F1 help · ^C quit ";
    let used: usize = spans.iter().map(|s| text::width(&s.content)).sum();
    let width = usize::from(area.width);
    if used + text::width(hints) + 2 <= width {
        spans.push(Span::raw(" ".repeat(width - used - text::width(hints))));
        spans.push(Span::styled(hints, Style::default().fg(Color::DarkGray)));
    }
    buf.set_style(area, Style::default().bg(Color::Black).fg(Color::White));
    buf.set_line(area.x, area.y, &Line::from(spans), area.width);
}

/// The search results: one line per hit (conversation, time, the text around the match
/// with the match highlighted), the selected one reversed.
fn draw_search(buf: &mut Buffer, area: Rect, app: &App, view: &SearchView) {
    let w = area.width.saturating_sub(4).max(10).min(area.width);
    let h = area.height.saturating_sub(4).max(3).min(area.height);
    let r = Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    );
    Clear.render(r, buf);
    let count = view.hits.as_ref().map(Vec::len);
    let title = match count {
        None => format!("Searching for “{}”…", text::sanitize_line(&view.query)),
        Some(n) => format!(
            "“{}”: {n} found · ↑↓ choose · Enter opens · Esc closes",
            text::sanitize_line(&view.query)
        ),
    };
    let b = block(title_for(&title, w));
    let inner = b.inner(r);
    b.render(r, buf);
    let Some(hits) = &view.hits else {
        return;
    };
    if hits.is_empty() {
        put_wrapped(
            buf,
            inner,
            "Nothing found.",
            Style::default().fg(Color::DarkGray),
        );
        return;
    }
    let rows = usize::from(inner.height);
    let first = view.selected.saturating_sub(rows.saturating_sub(1));
    for (row, (i, hit)) in hits.iter().enumerate().skip(first).take(rows).enumerate() {
        let y = inner.y + row as u16;
        let line = hit_line(app, hit, usize::from(inner.width));
        buf.set_line(inner.x, y, &line, inner.width);
        if i == view.selected {
            buf.set_style(
                Rect::new(inner.x, y, inner.width, 1),
                Style::default().add_modifier(Modifier::REVERSED),
            );
        }
    }
}

fn hit_line(app: &App, hit: &Hit, width: usize) -> Line<'static> {
    let who = text::truncate(&text::sanitize_line(&app.title(&hit.conversation)), 16);
    let time = time::format_time(hit.time_ms, app.clock_ms, app.utc_offset_s);
    let head = format!("{who}  {time}  ");
    let room = width.saturating_sub(text::width(&head));
    // Start up to a dozen characters before the first match, so it is in view.
    let first = hit
        .matches
        .first()
        .map_or(0, |m| m.start.min(hit.text.len()));
    let start = hit
        .text
        .get(..first)
        .and_then(|before| before.char_indices().rev().take(12).last())
        .map_or(first, |(i, _)| i);
    let mut spans = vec![Span::styled(head, Style::default().fg(Color::DarkGray))];
    if start > 0 {
        spans.push(Span::raw("…"));
    }
    let mut used = usize::from(start > 0);
    let mut at = start;
    let mut pieces: Vec<(usize, usize, bool)> = Vec::new();
    for m in &hit.matches {
        if m.start < at || m.end > hit.text.len() {
            continue;
        }
        pieces.push((at, m.start, false));
        pieces.push((m.start, m.end, true));
        at = m.end;
    }
    pieces.push((at, hit.text.len(), false));
    for (from, to, hot) in pieces {
        let Some(part) = hit.text.get(from..to) else {
            continue;
        };
        let clean = text::sanitize_line(part);
        let left = room.saturating_sub(used);
        if left == 0 {
            break;
        }
        let shown = text::truncate(&clean, left);
        used += text::width(&shown);
        let style = if hot {
            Style::default()
                .fg(Color::Yellow)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::default()
        };
        spans.push(Span::styled(shown, style));
    }
    Line::from(spans)
}

/// A box of `w`×`h` (at most the area) in the middle of `area`, cleared and framed.
fn centred_box(buf: &mut Buffer, area: Rect, w: u16, h: u16, title: &str) -> Rect {
    let w = w.min(area.width.saturating_sub(2)).max(1).min(area.width);
    let h = h.min(area.height.saturating_sub(2)).max(1).min(area.height);
    let r = Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    );
    Clear.render(r, buf);
    let b = block(title_for(title, w));
    let inner = b.inner(r);
    b.render(r, buf);
    inner
}

fn draw_switcher(buf: &mut Buffer, area: Rect, app: &App, sw: &Switcher) {
    let matches = app.switcher_matches(&sw.filter);
    let title = format!("Go to: {}▏", text::sanitize_line(&sw.filter));
    let inner = centred_box(buf, area, 50, matches.len().min(10) as u16 + 2, &title);
    if matches.is_empty() {
        put_wrapped(
            buf,
            inner,
            "No conversation matches.",
            Style::default().fg(Color::DarkGray),
        );
        return;
    }
    let rows = usize::from(inner.height);
    let first = sw.selected.saturating_sub(rows.saturating_sub(1));
    for (row, (i, id)) in matches
        .iter()
        .enumerate()
        .skip(first)
        .take(rows)
        .enumerate()
    {
        let Some(conv) = app.conversation(id) else {
            continue;
        };
        let y = inner.y + row as u16;
        buf.set_line(
            inner.x,
            y,
            &sidebar_row(app, conv, usize::from(inner.width)),
            inner.width,
        );
        if i == sw.selected {
            buf.set_style(
                Rect::new(inner.x, y, inner.width, 1),
                Style::default().add_modifier(Modifier::REVERSED),
            );
        }
    }
}

/// Who the open conversation is with: names, key, address, state.
fn draw_info(buf: &mut Buffer, area: Rect, app: &App) {
    let Some(id) = app.selected else {
        return;
    };
    let mut lines: Vec<(String, String)> =
        vec![("Shown as".into(), text::sanitize_line(&app.title(&id)))];
    match id {
        ConversationId::Peer(node) => {
            if let Some(p) = app.peers.get(&node) {
                lines.push(("Calls itself".into(), text::sanitize_line(&p.name)));
                lines.push(("Address".into(), p.addr.to_string()));
                lines.push((
                    "Status".into(),
                    if p.online { "online" } else { "offline" }.into(),
                ));
            }
            let hex = node.to_hex();
            lines.push(("Peer id".into(), hex[..32].to_string()));
            lines.push((String::new(), hex[32..].to_string()));
            lines.push((
                "Encryption".into(),
                "not yet: lanchat's own protocol, in the clear".into(),
            ));
        }
        ConversationId::Raw(addr) => {
            lines.push(("Address".into(), addr.to_string()));
            lines.push((
                "Encryption".into(),
                "none: a plain-text UDP peer (nc, scripts)".into(),
            ));
        }
    }
    let inner = centred_box(
        buf,
        area,
        64,
        lines.len() as u16 + 2,
        "Who is this · Esc closes",
    );
    for (row, (k, v)) in lines.iter().enumerate().take(usize::from(inner.height)) {
        let line = Line::from(vec![
            Span::styled(format!(" {k:<13}"), Style::default().fg(Color::DarkGray)),
            Span::raw(v.clone()),
        ]);
        buf.set_line(inner.x, inner.y + row as u16, &line, inner.width);
    }
}

fn draw_help(buf: &mut Buffer, area: Rect) {
    let key_w = keymap::HELP
        .iter()
        .map(|(k, _)| text::width(k))
        .max()
        .unwrap_or(0);
    let lines: Vec<String> = keymap::HELP
        .iter()
        .map(|(k, what)| format!("{k:<key_w$}  {what}"))
        .collect();
    let want_w = lines.iter().map(|l| text::width(l)).max().unwrap_or(0) as u16 + 4;
    let w = want_w.min(area.width.saturating_sub(2));
    let h = (lines.len() as u16 + 2).min(area.height.saturating_sub(2));
    let r = Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    );
    Clear.render(r, buf);
    let b = block(title_for("Keys and commands · Esc closes", w));
    let inner = b.inner(r);
    b.render(r, buf);
    for (i, line) in lines.iter().take(usize::from(inner.height)).enumerate() {
        buf.set_stringn(
            inner.x + 1,
            inner.y + i as u16,
            line,
            usize::from(inner.width.saturating_sub(1)),
            Style::default(),
        );
    }
}

#[cfg(test)]
mod tests;
