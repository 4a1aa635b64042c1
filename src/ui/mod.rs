//! Drawing: a pure function of the model.
//!
//! `draw(frame, &App)` lays out the sidebar, the message pane, the input box and the status
//! line. Width math and text cleaning live in [`text`]; nothing here changes the model.
//!
//! Colours are the 16 ANSI ones only (plus bold, dim, reverse), picked by [`Theme`]; with
//! `NO_COLOR` every cell is put back to the terminal's own colours after drawing.

use crate::app::short_fp;
use crate::app::{App, Author, Conversation, Hit, Message, Notice, Row, SearchView, Switcher};
use crate::config::Theme;
use crate::layout;
use crate::proto::{ConversationId, DeliveryState, NodeId, Quote, Trust};
use crate::text::{self, time};
use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::{Position, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Widget};
use std::collections::VecDeque;

pub use crate::layout::{MIN_HEIGHT, MIN_WIDTH, NARROW_WIDTH, input_cap, is_narrow};

/// The colours of a theme.
struct Palette {
    dim: Color,
    border: Color,
    mine_name: Color,
    their_name: Color,
    raw_name: Color,
    mine_bubble: Style,
    their_bubble: Style,
    status: Style,
    accent: Color,
    badge: Color,
    online: Color,
}

fn palette(theme: Theme) -> Palette {
    match theme {
        Theme::Dark => Palette {
            dim: Color::DarkGray,
            border: Color::DarkGray,
            mine_name: Color::LightGreen,
            their_name: Color::LightCyan,
            raw_name: Color::Yellow,
            mine_bubble: Style::default().fg(Color::Black).bg(Color::Green),
            their_bubble: Style::default().fg(Color::White).bg(Color::DarkGray),
            status: Style::default().fg(Color::White).bg(Color::Blue),
            accent: Color::Yellow,
            badge: Color::LightRed,
            online: Color::LightGreen,
        },
        Theme::Light => Palette {
            dim: Color::DarkGray,
            border: Color::Gray,
            mine_name: Color::Green,
            their_name: Color::Blue,
            raw_name: Color::Magenta,
            mine_bubble: Style::default().fg(Color::Black).bg(Color::LightGreen),
            their_bubble: Style::default().fg(Color::Black).bg(Color::Gray),
            status: Style::default().fg(Color::Black).bg(Color::Gray),
            accent: Color::Magenta,
            badge: Color::Red,
            online: Color::Green,
        },
    }
}

fn pal(app: &App) -> Palette {
    palette(app.theme)
}

fn dim(app: &App) -> Style {
    Style::default().fg(pal(app).dim)
}

/// Lines one message takes at `width` (the layout's count, remembered in the app's cache).
fn message_height(app: &App, m: &Message, width: u16) -> usize {
    layout::message_height(&app.heights, m, width)
}

/// Whether message `i` of `conv` starts a new local day.
fn starts_day(app: &App, conv: &Conversation, i: usize) -> bool {
    layout::starts_day(&conv.messages, i, app.utc_offset_s)
}

/// A line of `width` with `s` in the middle.
fn centred(s: &str, width: u16, style: Style) -> Line<'static> {
    let s = text::truncate(s, usize::from(width));
    let pad = usize::from(width).saturating_sub(text::width(&s)) / 2;
    Line::from(vec![Span::raw(" ".repeat(pad)), Span::styled(s, style)])
}

/// "──── Yesterday ────", centred.
fn day_separator(app: &App, m: &Message, width: u16) -> Line<'static> {
    let label = format!(
        " {} ",
        time::day_label(app.lang, m.time_ms, app.clock_ms, app.utc_offset_s)
    );
    let w = usize::from(width);
    let side = w.saturating_sub(text::width(&label)) / 2;
    let right = w.saturating_sub(side + text::width(&label));
    Line::from(Span::styled(
        format!("{}{label}{}", "─".repeat(side), "─".repeat(right)),
        dim(app),
    ))
}

pub fn draw(frame: &mut Frame, app: &App) {
    let area = frame.area();
    let screen = app.screen();
    let Some(a) = layout::areas(area, &screen) else {
        too_small(frame.buffer_mut(), area);
        return;
    };
    let buf = frame.buffer_mut();
    if let Some(side) = a.sidebar {
        draw_sidebar(buf, side, app);
    }
    draw_messages(buf, a.messages, app);
    if a.sidebar.is_none()
        && let Some(list) = layout::list_area(&screen, &a)
    {
        Clear.render(list, buf);
        draw_sidebar(buf, list, app);
    }
    draw_status(buf, a.status, app);
    let cursor = draw_input(buf, a.input, app);
    if app.show_help {
        draw_help(buf, area, app);
    } else if let Some(search) = &app.search {
        draw_search(buf, area, app, search);
    } else if let Some(sw) = &app.switcher {
        draw_switcher(buf, area, app, sw);
    } else if let Some(peer) = app.verify {
        draw_verify(buf, area, app, &peer);
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
        && app.verify.is_none()
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

fn block(app: &App, title: String) -> Block<'static> {
    Block::default()
        .borders(Borders::ALL)
        .border_style(Style::default().fg(pal(app).border))
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

/// The marks a peer's key shows as: verified ✓, unverified ?, identity changed ⚠ (red),
/// blocked ⊘, and ! when another known key uses the same name.
fn trust_marks(app: &App, id: &NodeId) -> Vec<Span<'static>> {
    let p = pal(app);
    let mut out = Vec::new();
    let t = app.trust.get(id);
    let changed = app.identity_change(&ConversationId::Peer(*id)).is_some();
    let (glyph, style) = match t.map(|t| t.trust) {
        _ if changed => (
            "⚠",
            Style::default().fg(p.badge).add_modifier(Modifier::BOLD),
        ),
        Some(Trust::Verified) => ("✓", Style::default().fg(p.online)),
        Some(Trust::Unverified) => ("?", Style::default().fg(Color::Yellow)),
        Some(Trust::Blocked) => ("⊘", Style::default().fg(p.badge)),
        Some(Trust::Changed { .. }) | None => return out,
    };
    out.push(Span::styled(glyph, style));
    if t.is_some_and(|t| t.same_name_as.is_some()) {
        out.push(Span::styled("!", Style::default().fg(Color::Yellow)));
    }
    out
}

/// How a peer's traffic is protected, for the peer info overlay.
fn encryption_line(app: &App, id: &NodeId) -> String {
    const NOISE: &str = "Noise, ChaCha20-Poly1305";
    if let Some(c) = app.identity_change(&ConversationId::Peer(*id)) {
        let other = if c.new == *id { c.previous } else { c.new };
        return format!("held: identity changed (other key {})", short_fp(&other));
    }
    match app.trust.get(id).map(|t| t.trust) {
        Some(Trust::Verified) => format!("{NOISE} · verified"),
        Some(Trust::Unverified) => format!("{NOISE} · not verified (/verify)"),
        Some(Trust::Blocked) => "blocked: nothing sent or taken (/trust)".into(),
        Some(Trust::Changed { .. }) | None => "no handshake with this key yet".into(),
    }
}

fn banner_style() -> Style {
    Style::default()
        .fg(Color::Red)
        .add_modifier(Modifier::BOLD | Modifier::REVERSED)
}

fn draw_sidebar(buf: &mut Buffer, area: Rect, app: &App) {
    let title = if is_narrow(app.size.0) {
        let key = app
            .keymap
            .first_key(crate::app::keymap::Action::ToggleSidebar)
            .unwrap_or_default();
        format!("Chats · {key} closes")
    } else {
        "Chats".to_string()
    };
    let b = block(app, title_for(&title, area.width));
    let inner = b.inner(area);
    b.render(area, buf);
    if inner.height == 0 {
        return;
    }
    if app.sidebar.is_empty() {
        put_wrapped(buf, inner, "Looking for peers…", dim(app));
        return;
    }
    let selected = app.selected.and_then(|id| app.row_of(&id));
    let (row_h, first, rows) = layout::sidebar_layout(inner.height, selected);
    let width = usize::from(inner.width);
    for (row, entry) in app.sidebar.iter().enumerate().skip(first).take(rows) {
        let y = inner.y + (row - first) as u16 * row_h;
        let lines = match entry {
            Row::Conversation(id) => {
                let Some(conv) = app.conversation(id) else {
                    continue;
                };
                if row_h == 2 {
                    sidebar_rows(app, conv, width).to_vec()
                } else {
                    vec![sidebar_row(app, conv, width)]
                }
            }
            Row::Strangers => strangers_rows(app, width, usize::from(row_h)),
        };
        for (dy, line) in lines.iter().enumerate() {
            buf.set_line(inner.x, y + dy as u16, line, inner.width);
        }
        if Some(row) == selected {
            buf.set_style(
                Rect::new(inner.x, y, inner.width, row_h),
                Style::default().add_modifier(Modifier::REVERSED),
            );
        }
    }
}

/// The online dot (or the plain-text mark) of a conversation.
fn presence(app: &App, conv: &Conversation) -> Span<'static> {
    let p = pal(app);
    match conv.id {
        ConversationId::Peer(id) if app.peers.get(&id).is_some_and(|p| p.online) => {
            Span::styled("●", Style::default().fg(p.online))
        }
        ConversationId::Peer(_) => Span::styled("○", dim(app)),
        // Plain UDP text: unencrypted, and marked so.
        ConversationId::Raw(_) => Span::styled("≈", Style::default().fg(p.raw_name)),
    }
}

/// Pin, draft and trust marks after a conversation's name.
fn marks(app: &App, conv: &Conversation) -> Vec<Span<'static>> {
    let p = pal(app);
    let mut out = Vec::new();
    match conv.id {
        ConversationId::Peer(id) => out.extend(trust_marks(app, &id)),
        // Plain text at a lanchat peer's address: a downgrade, marked loudly.
        ConversationId::Raw(addr) if app.lanchat_owner(&addr).is_some() => out.push(Span::styled(
            "⚠",
            Style::default().fg(p.badge).add_modifier(Modifier::BOLD),
        )),
        ConversationId::Raw(_) => {}
    }
    if app.drafts.contains_key(&conv.id) {
        out.push(Span::styled("✎", Style::default().fg(Color::Magenta)));
    }
    if conv.pinned {
        out.push(Span::styled("▲", Style::default().fg(p.accent)));
    }
    out
}

/// The unread badge: a count, or a dot when muted (it shows something is there, not
/// how much).
fn unread_badge(app: &App, conv: &Conversation) -> Option<Span<'static>> {
    let p = pal(app);
    let text = match conv.unread {
        0 => return None,
        _ if conv.muted => " •".to_string(),
        n if n > 99 => " 99+".to_string(),
        n => format!(" {n}"),
    };
    Some(if conv.muted {
        Span::styled(text, dim(app))
    } else {
        Span::styled(
            text,
            Style::default().fg(p.badge).add_modifier(Modifier::BOLD),
        )
    })
}

fn mention_mark(app: &App, conv: &Conversation) -> Option<Span<'static>> {
    conv.mentioned.then(|| {
        Span::styled(
            "@me ",
            Style::default()
                .fg(pal(app).badge)
                .add_modifier(Modifier::BOLD),
        )
    })
}

fn spans_width(spans: &[Span<'_>]) -> usize {
    spans.iter().map(|s| text::width(&s.content)).sum()
}

/// `left`, then `right` pushed to the right edge of `width`; `left`'s last span (the one
/// that may give way) is cut to make room.
fn justify(mut left: Vec<Span<'static>>, right: Vec<Span<'static>>, width: usize) -> Line<'static> {
    let right_w = spans_width(&right);
    let fixed: usize = spans_width(&left[..left.len().saturating_sub(1)]);
    if let Some(last) = left.last_mut() {
        let room = width.saturating_sub(fixed + right_w);
        last.content = text::truncate(&last.content, room).into();
    }
    let pad = width.saturating_sub(spans_width(&left) + right_w);
    left.push(Span::raw(" ".repeat(pad)));
    left.extend(right);
    Line::from(left)
}

/// The online dot and the name (bold while something is unread).
fn name_spans(app: &App, conv: &Conversation) -> Vec<Span<'static>> {
    let name_style = if conv.unread > 0 {
        Style::default().add_modifier(Modifier::BOLD)
    } else {
        Style::default()
    };
    vec![
        presence(app, conv),
        Span::raw(" "),
        Span::styled(text::sanitize_line(&app.title(&conv.id)), name_style),
    ]
}

/// One-line sidebar row: dot, name, marks, @me and the unread badge.
fn sidebar_row(app: &App, conv: &Conversation, width: usize) -> Line<'static> {
    let left = name_spans(app, conv);
    let mut right = marks(app, conv);
    if let Some(m) = mention_mark(app, conv) {
        right.push(Span::raw(" "));
        right.push(Span::styled("@", m.style));
    }
    right.extend(unread_badge(app, conv));
    justify(left, right, width)
}

/// What the sidebar says of a conversation's latest message (or its draft).
fn preview(app: &App, conv: &Conversation) -> (String, Style) {
    if let Some(draft) = app.drafts.get(&conv.id) {
        return (
            format!("[draft] {}", text::sanitize_line(draft)),
            Style::default().fg(Color::Magenta),
        );
    }
    let Some(m) = conv.last.as_ref() else {
        let hint = match conv.id {
            ConversationId::Raw(_) => "plain UDP, unencrypted",
            ConversationId::Peer(_) => "no messages yet",
        };
        return (hint.to_string(), dim(app).add_modifier(Modifier::ITALIC));
    };
    if m.recalled {
        return (recalled_text(app, &m.author), dim(app));
    }
    let body = text::sanitize_line(&m.text);
    let text = match m.author {
        Author::Me => format!("You: {body}"),
        _ => body,
    };
    (text, dim(app))
}

/// Two-line sidebar row: dot, name, marks and time; then @me, the preview and the badge.
fn sidebar_rows(app: &App, conv: &Conversation, width: usize) -> [Line<'static>; 2] {
    let first = sidebar_row_top(app, conv, width);
    let (preview, style) = preview(app, conv);
    let mut left = vec![Span::raw("  ")];
    left.extend(mention_mark(app, conv));
    left.push(Span::styled(preview, style));
    let right: Vec<Span<'static>> = unread_badge(app, conv).into_iter().collect();
    [first, justify(left, right, width)]
}

fn sidebar_row_top(app: &App, conv: &Conversation, width: usize) -> Line<'static> {
    let left = name_spans(app, conv);
    let mut right = marks(app, conv);
    let when = conv
        .last
        .as_ref()
        .map(|m| m.time_ms)
        .or((conv.last_activity_ms > 0).then_some(conv.last_activity_ms));
    if let Some(ms) = when {
        right.push(Span::styled(
            format!(
                " {}",
                time::short_label(app.lang, ms, app.clock_ms, app.utc_offset_s)
            ),
            dim(app),
        ));
    }
    justify(left, right, width)
}

/// The Strangers row: how many, their unread messages (without the muted), the newest
/// one's time; on two lines, what they are.
fn strangers_rows(app: &App, width: usize, lines: usize) -> Vec<Line<'static>> {
    let p = pal(app);
    let strangers: Vec<&Conversation> = app.conversations.iter().filter(|c| app.folds(c)).collect();
    let unread: u32 = strangers
        .iter()
        .filter(|c| !c.muted)
        .map(|c| c.unread)
        .fold(0, u32::saturating_add);
    let badge = match unread {
        0 => None,
        n if n > 99 => Some(" 99+".to_string()),
        n => Some(format!(" {n}")),
    }
    .map(|t| Span::styled(t, Style::default().fg(p.badge).add_modifier(Modifier::BOLD)));
    let left = vec![
        Span::styled("≈", Style::default().fg(p.raw_name)),
        Span::raw(" "),
        Span::raw(format!("Strangers ({})", strangers.len())),
    ];
    if lines < 2 {
        return vec![justify(left, badge.into_iter().collect(), width)];
    }
    let newest = strangers
        .iter()
        .map(|c| c.last.as_ref().map_or(c.last_activity_ms, |m| m.time_ms))
        .max()
        .filter(|ms| *ms > 0);
    let right: Vec<Span<'static>> = newest
        .map(|ms| {
            Span::styled(
                format!(
                    " {}",
                    time::short_label(app.lang, ms, app.clock_ms, app.utc_offset_s)
                ),
                dim(app),
            )
        })
        .into_iter()
        .collect();
    let second = vec![
        Span::raw("  "),
        Span::styled(
            "never answered".to_string(),
            dim(app).add_modifier(Modifier::ITALIC),
        ),
    ];
    vec![
        justify(left, right, width),
        justify(second, badge.into_iter().collect(), width),
    ]
}

/// A stranger in the list of them: address, when it last wrote, what (cut to fit), and
/// its unread count.
fn stranger_row(app: &App, conv: &Conversation, width: usize) -> Line<'static> {
    let mut left = name_spans(app, conv);
    if let Some(m) = &conv.last {
        left.push(Span::styled(
            format!(
                "  {}  ",
                time::short_label(app.lang, m.time_ms, app.clock_ms, app.utc_offset_s)
            ),
            dim(app),
        ));
        left.push(Span::styled(preview(app, conv).0, dim(app)));
    }
    justify(left, unread_badge(app, conv).into_iter().collect(), width)
}

fn conversation_header(app: &App, id: &ConversationId) -> String {
    let name = text::sanitize_line(&app.title(id));
    match id {
        ConversationId::Peer(node) => match app.peers.get(node) {
            Some(p) if p.online => format!("{name} · online · {}", p.addr),
            Some(p) => format!("{name} · offline · last at {}", p.addr),
            None => name,
        },
        ConversationId::Raw(_) if app.is_folded(id) => format!(
            "{name} · plain UDP, unencrypted · one of {} strangers (/strangers)",
            app.strangers
        ),
        ConversationId::Raw(_) => format!("{name} · plain UDP, unencrypted"),
    }
}

fn draw_messages(buf: &mut Buffer, area: Rect, app: &App) {
    let title = app
        .selected
        .map_or_else(|| "lanchat".to_string(), |id| conversation_header(app, &id));
    let b = block(app, title_for(&title, area.width));
    let mut inner = b.inner(area);
    b.render(area, buf);
    if inner.width == 0 || inner.height == 0 {
        return;
    }
    let banner = layout::banner_lines(app.banner().as_deref(), inner.width);
    for (row, line) in banner.iter().enumerate().take(usize::from(inner.height)) {
        let y = inner.y + row as u16;
        buf.set_style(Rect::new(inner.x, y, inner.width, 1), banner_style());
        buf.set_stringn(inner.x, y, line, usize::from(inner.width), banner_style());
    }
    let taken = (banner.len() as u16).min(inner.height);
    inner.y += taken;
    inner.height -= taken;
    if inner.height == 0 {
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
        put_wrapped(buf, inner, &guide, dim(app));
        return;
    };
    if conv.messages.is_empty() {
        let hello = format!(
            "Say hello to {}.",
            text::sanitize_line(&app.title(&conv.id))
        );
        put_wrapped(buf, inner, &hello, dim(app));
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

/// "You recalled a message" / "bob recalled a message".
fn recalled_text(app: &App, author: &Author) -> String {
    match author {
        Author::Me => "You recalled a message".to_string(),
        other => format!(
            "{} recalled a message",
            text::sanitize_line(&app.author_name(other))
        ),
    }
}

/// The line above a reply, and its style. Found in this conversation (or a reply of mine):
/// who wrote what it quotes, and the start of that. Not found: only what the sender claims,
/// marked as such ("↱ bob quotes: …") and never as anyone's own words.
fn quote_line(app: &App, m: &Message, q: &Quote) -> (String, Style) {
    // A recall empties every quote of the message, in memory and in the store (and a
    // quote of text is never empty).
    let excerpt = if q.excerpt.is_empty() {
        "(a recalled message)".to_string()
    } else {
        text::sanitize_line(&q.excerpt)
    };
    if m.quote_found || m.author == Author::Me {
        let who = if q.author == app.me.id {
            "You".to_string()
        } else {
            text::sanitize_line(&app.author_name(&Author::Peer(q.author)))
        };
        let style = dim(app).add_modifier(Modifier::ITALIC);
        return (format!("↱ {who}: {excerpt}"), style);
    }
    let sender = text::sanitize_line(&app.author_name(&m.author));
    let style = Style::default()
        .fg(pal(app).raw_name)
        .add_modifier(Modifier::ITALIC);
    (format!("↱ {sender} quotes: {excerpt}"), style)
}

/// The names a message may mention: mine first, then every peer's.
fn mention_names(app: &App) -> Vec<&str> {
    let mut names = vec![app.me.name.as_str()];
    names.extend(app.peers.values().map(|p| p.name.as_str()));
    names
}

/// Splits a line of message text into spans with @mentions of known names picked out, by
/// the same rules that decide whether a message mentions me ([`crate::app::mentions`]); a
/// mention of me stands out most.
fn with_mentions(line: &str, names: &[&str], base: Style, accent: Color) -> Vec<Span<'static>> {
    // (range, mine?) of every mention, in order; where two overlap the first found wins.
    let mut found: Vec<(std::ops::Range<usize>, bool)> = names
        .iter()
        .enumerate()
        .flat_map(|(i, n)| {
            crate::app::mention_ranges(line, n)
                .into_iter()
                .map(move |r| (r, i == 0))
        })
        .collect();
    found.sort_by_key(|(r, _)| r.start);
    let mut spans = Vec::new();
    let mut done = 0;
    for (r, mine) in found {
        if r.start < done {
            continue;
        }
        if r.start > done {
            spans.push(Span::styled(line[done..r.start].to_owned(), base));
        }
        let style = if mine {
            base.fg(Color::Black)
                .bg(accent)
                .add_modifier(Modifier::BOLD)
        } else {
            base.add_modifier(Modifier::BOLD | Modifier::UNDERLINED)
        };
        spans.push(Span::styled(line[r.clone()].to_owned(), style));
        done = r.end;
    }
    if done < line.len() || spans.is_empty() {
        spans.push(Span::styled(line[done..].to_owned(), base));
    }
    spans
}

/// The lines one message takes: a header (sender and time, and delivery state on mine), the
/// line it quotes if it is a reply, and its text in a bubble: theirs on the left, mine on
/// the right. A recalled message is one quiet line in the middle.
fn message_lines(app: &App, m: &Message, width: u16) -> Vec<Line<'static>> {
    let p = pal(app);
    let w = usize::from(width);
    if m.recalled {
        let mut line = centred(&recalled_text(app, &m.author), width, dim(app));
        if app.picked == Some(m.id) {
            line = line.style(Style::default().add_modifier(Modifier::REVERSED));
        }
        return vec![line];
    }
    let mine = m.author == Author::Me;
    let name_color = match m.author {
        Author::Me => p.mine_name,
        Author::Peer(_) => p.their_name,
        Author::Raw(_) => p.raw_name,
    };
    let name_style = Style::default().fg(name_color).add_modifier(Modifier::BOLD);
    let time = time::format_time(m.time_ms, app.clock_ms, app.utc_offset_s);
    let state = m.state.map(state_span);
    // The name gives way first: time and delivery state always show.
    let state_w = state.as_ref().map_or(0, |s| text::width(&s.content) + 2);
    let room = w.saturating_sub(text::width(&time) + 2 + state_w);
    let name = text::truncate(&text::sanitize_line(&app.author_name(&m.author)), room);
    let header_spans = if mine {
        let mut spans = Vec::new();
        if let Some(state) = state {
            spans.push(state);
            spans.push(Span::raw("  "));
        }
        spans.push(Span::styled(time, dim(app)));
        spans.push(Span::raw("  "));
        spans.push(Span::styled(name, name_style));
        spans
    } else {
        vec![
            Span::styled(name, name_style),
            Span::raw("  "),
            Span::styled(time, dim(app)),
        ]
    };
    let mut header = align(header_spans, mine, w);
    if app.highlight == Some(m.id) || app.picked == Some(m.id) {
        header = header.style(Style::default().add_modifier(Modifier::REVERSED));
    }
    let mut lines = vec![header];
    let text_w = layout::bubble_text_width(width);
    if let Some(q) = &m.quote {
        let (quote, style) = quote_line(app, m, q);
        let quote = text::truncate(&quote, text_w + 2);
        lines.push(align(vec![Span::styled(quote, style)], mine, w));
    }
    let body = text::wrap(&text::sanitize(&m.text), text_w);
    let bubble_w = body.iter().map(|l| text::width(l)).max().unwrap_or(0) + 2;
    let style = if mine { p.mine_bubble } else { p.their_bubble };
    let names = mention_names(app);
    for l in body {
        let fill = bubble_w - 2 - text::width(&l);
        let mut spans = vec![Span::styled(" ", style)];
        spans.extend(with_mentions(&l, &names, style, p.accent));
        spans.push(Span::styled(" ".repeat(fill + 1), style));
        lines.push(align(spans, mine, w));
    }
    lines
}

/// Puts spans at the left, or (mine) against the right edge of `width`.
fn align(spans: Vec<Span<'static>>, right: bool, width: usize) -> Line<'static> {
    if !right {
        return Line::from(spans);
    }
    let pad = width.saturating_sub(spans_width(&spans));
    let mut out = vec![Span::raw(" ".repeat(pad))];
    out.extend(spans);
    Line::from(out)
}

/// Draws the input box and returns where the cursor goes.
fn draw_input(buf: &mut Buffer, area: Rect, app: &App) -> Option<Position> {
    let title = match app.selected {
        Some(id) => format!("To {}", text::sanitize_line(&app.title(&id))),
        None => "Message".to_string(),
    };
    let b = block(app, title_for(&title, area.width));
    let mut inner = b.inner(area);
    b.render(area, buf);
    if inner.width == 0 || inner.height == 0 {
        return None;
    }
    if let Some(r) = &app.replying {
        let who = match r.author {
            Author::Me => "yourself".to_string(),
            other => text::sanitize_line(&app.author_name(&other)),
        };
        let line = format!("↱ Replying to {who}: {}", text::sanitize_line(&r.excerpt));
        buf.set_stringn(
            inner.x,
            inner.y,
            text::truncate(&line, usize::from(inner.width)),
            usize::from(inner.width),
            dim(app).add_modifier(Modifier::ITALIC),
        );
        inner.y += 1;
        inner.height = inner.height.saturating_sub(1);
        if inner.height == 0 {
            return None;
        }
    }
    let width = usize::from(inner.width);
    let (rows, (cursor_row, cursor_col)) =
        layout::input_layout(app.input.text(), app.input.cursor(), width);
    let shown = usize::from(inner.height);
    // Scroll so that the cursor's row is in view.
    let first = (cursor_row + 1).saturating_sub(shown);
    for (dy, row) in rows.iter().skip(first).take(shown).enumerate() {
        let mut x = inner.x;
        for (g, w, _) in row {
            let style = if g == "→" {
                dim(app)
            } else {
                Style::default()
            };
            buf.set_stringn(x, inner.y + dy as u16, g, *w, style);
            x += *w as u16;
        }
    }
    let cx = inner.x + cursor_col.min(width.saturating_sub(1)) as u16;
    let cy = inner.y + (cursor_row - first).min(shown - 1) as u16;
    Some(Position::new(cx, cy))
}

fn draw_status(buf: &mut Buffer, area: Rect, app: &App) {
    use crate::app::keymap::Action;
    let online = app.online_peers();
    // My key's short fingerprint where there is room for it (F2 and /verify show it all).
    let key = if area.width >= 100 {
        format!(" · key {}", short_fp(&app.me.id))
    } else {
        String::new()
    };
    let left = format!(
        " {} · {}{key} · {} online",
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
            Style::default()
                .fg(pal(app).badge)
                .add_modifier(Modifier::BOLD),
        )),
        Some(Notice::Info(i)) => spans.push(Span::raw(format!(" · {}", text::sanitize_line(i)))),
        None => {}
    }
    let key = |a: Action, what: &str| app.keymap.first_key(a).map(|k| format!("{k} {what}"));
    // Hints in order of need, as many as fit, shown in the order of the keys.
    let mut wanted = Vec::new();
    if is_narrow(area.width) {
        wanted.push((0, key(Action::ToggleSidebar, "chats")));
    }
    wanted.push((3, key(Action::ToggleHelp, "help")));
    wanted.push((1, key(Action::Search, "search")));
    wanted.push((4, key(Action::Quit, "quit")));
    let used: usize = spans.iter().map(|s| text::width(&s.content)).sum();
    let width = usize::from(area.width);
    let mut shown: Vec<(i32, String)> = Vec::new();
    for (order, hint) in wanted {
        let Some(hint) = hint else { continue };
        let mut trial = shown.clone();
        trial.push((order, hint));
        trial.sort();
        let text: Vec<&str> = trial.iter().map(|(_, h)| h.as_str()).collect();
        if used + text::width(&text.join(" · ")) + 3 <= width {
            shown = trial;
        }
    }
    if !shown.is_empty() {
        let text: Vec<&str> = shown.iter().map(|(_, h)| h.as_str()).collect();
        let hints = format!("{} ", text.join(" · "));
        spans.push(Span::raw(" ".repeat(width - used - text::width(&hints))));
        spans.push(Span::raw(hints));
    }
    buf.set_style(area, pal(app).status);
    buf.set_line(area.x, area.y, &Line::from(spans), area.width);
}

/// The search results: one line per hit (conversation, time, the text around the match
/// with the match highlighted), the selected one reversed.
fn draw_search(buf: &mut Buffer, area: Rect, app: &App, view: &SearchView) {
    let w = area.width.saturating_sub(4).max(10).min(area.width);
    let h = area.height.saturating_sub(4).max(3).min(area.height);
    let r = layout::centred_rect(area, w, h);
    Clear.render(r, buf);
    let count = view.hits.as_ref().map(Vec::len);
    let title = match count {
        None => format!("Searching for “{}”…", text::sanitize_line(&view.query)),
        Some(n) => format!(
            "“{}”: {n} found · ↑↓ choose · Enter opens · Esc closes",
            text::sanitize_line(&view.query)
        ),
    };
    let b = block(app, title_for(&title, w));
    let inner = b.inner(r);
    b.render(r, buf);
    let Some(hits) = &view.hits else {
        return;
    };
    if hits.is_empty() {
        put_wrapped(buf, inner, "Nothing found.", dim(app));
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
    let mut spans = vec![Span::styled(head, dim(app))];
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
                .fg(pal(app).accent)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::default()
        };
        spans.push(Span::styled(shown, style));
    }
    Line::from(spans)
}

fn centred_box(buf: &mut Buffer, area: Rect, app: &App, w: u16, h: u16, title: &str) -> Rect {
    let w = layout::box_width(area, w);
    let h = h.min(area.height.saturating_sub(2)).max(1).min(area.height);
    let r = layout::centred_rect(area, w, h);
    Clear.render(r, buf);
    let b = block(app, title_for(title, w));
    let inner = b.inner(r);
    b.render(r, buf);
    inner
}

fn draw_switcher(buf: &mut Buffer, area: Rect, app: &App, sw: &Switcher) {
    let matches = app.switcher_list(sw);
    let title = if sw.strangers {
        format!(
            "Strangers ({}) · Enter opens · {}▏",
            app.strangers,
            text::sanitize_line(&sw.filter)
        )
    } else {
        format!("Go to: {}▏", text::sanitize_line(&sw.filter))
    };
    let inner = centred_box(buf, area, app, 50, matches.len().min(10) as u16 + 2, &title);
    if matches.is_empty() {
        put_wrapped(buf, inner, "No conversation matches.", dim(app));
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
        let line = if sw.strangers {
            stranger_row(app, conv, usize::from(inner.width))
        } else {
            sidebar_row(app, conv, usize::from(inner.width))
        };
        buf.set_line(inner.x, y, &line, inner.width);
        if i == sw.selected {
            buf.set_style(
                Rect::new(inner.x, y, inner.width, 1),
                Style::default().add_modifier(Modifier::REVERSED),
            );
        }
    }
}

/// Width the verify overlay would like: room for the fingerprints and the code on a line.
const VERIFY_WIDTH: u16 = 64;

/// A verification code (groups of digits split by spaces) as lines of whole groups that fit
/// `width` columns with a left margin: on one line where there is room, else on as many as
/// it takes, so that no digit is ever cut off.
fn code_lines(code: &str, width: usize) -> Vec<String> {
    let margin = if width >= code.len() + 5 { 5 } else { 1 };
    let room = width.saturating_sub(margin);
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for group in code.split(' ') {
        if !line.is_empty() && line.len() + 1 + group.len() > room {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(group);
    }
    lines.push(line);
    let pad = " ".repeat(margin);
    lines.into_iter().map(|l| format!("{pad}{l}")).collect()
}

/// `/verify`: both fingerprints and the code both screens show, to compare out of band.
fn draw_verify(buf: &mut Buffer, area: Rect, app: &App, peer: &NodeId) {
    let name = text::sanitize_line(&app.title(&ConversationId::Peer(*peer)));
    let code = crate::proto::verification_code(&app.me.id, peer);
    let bold = Style::default().add_modifier(Modifier::BOLD);
    let inner_width = usize::from(layout::box_width(area, VERIFY_WIDTH).saturating_sub(2));
    let mut lines: Vec<Line<'static>> = vec![
        Line::from(format!(" Read this code to {name} (in person, by phone):")),
        Line::from(""),
    ];
    lines.extend(
        code_lines(&code, inner_width)
            .into_iter()
            .map(|l| Line::from(Span::styled(l, bold))),
    );
    lines.extend([
        Line::from(""),
        Line::from(vec![
            Span::styled(" Your key     ".to_string(), dim(app)),
            Span::raw(crate::proto::fingerprint(&app.me.id)),
        ]),
        Line::from(vec![
            Span::styled(" Their key    ".to_string(), dim(app)),
            Span::raw(crate::proto::fingerprint(peer)),
        ]),
        Line::from(""),
        Line::from(Span::styled(
            " y: the same on both screens, mark verified · Esc: not now".to_string(),
            dim(app),
        )),
    ]);
    let title = format!("Verify {name}");
    let inner = centred_box(buf, area, app, VERIFY_WIDTH, lines.len() as u16 + 2, &title);
    for (row, line) in lines.iter().enumerate().take(usize::from(inner.height)) {
        buf.set_line(inner.x, inner.y + row as u16, line, inner.width);
    }
}

/// Who the open conversation is with: names, key, address, state, last seen.
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
                let seen = match p.last_seen_ms {
                    _ if p.online => "now".to_string(),
                    Some(ms) => time::format_time(ms, app.clock_ms, app.utc_offset_s),
                    None => "never".to_string(),
                };
                lines.push(("Last seen".into(), seen));
            }
            let hex = node.to_hex();
            lines.push(("Key".into(), hex[..32].to_string()));
            lines.push((String::new(), hex[32..].to_string()));
            lines.push(("Fingerprint".into(), crate::proto::fingerprint(&node)));
            lines.push(("Encryption".into(), encryption_line(app, &node)));
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
        app,
        64,
        lines.len() as u16 + 2,
        "Who is this · Esc closes",
    );
    for (row, (k, v)) in lines.iter().enumerate().take(usize::from(inner.height)) {
        let line = Line::from(vec![
            Span::styled(format!(" {k:<13}"), dim(app)),
            Span::raw(v.clone()),
        ]);
        buf.set_line(inner.x, inner.y + row as u16, &line, inner.width);
    }
}

fn draw_help(buf: &mut Buffer, area: Rect, app: &App) {
    let lines = app.help_lines();
    let (r, shown) = layout::help_box(&lines, area);
    let scroll = app.help_scroll.min(lines.len().saturating_sub(shown));
    Clear.render(r, buf);
    let more = lines.len() > shown;
    let title = if more {
        format!(
            "Keys and commands {}–{} of {} · ↑↓ PgUp PgDn · Esc closes",
            scroll + 1,
            scroll + shown,
            lines.len()
        )
    } else {
        "Keys and commands · Esc closes".to_string()
    };
    let b = block(app, title_for(&title, r.width));
    let inner = b.inner(r);
    b.render(r, buf);
    for (i, line) in lines.iter().skip(scroll).take(shown).enumerate() {
        buf.set_stringn(
            inner.x + 1,
            inner.y + i as u16,
            text::truncate(line, usize::from(inner.width.saturating_sub(1))),
            usize::from(inner.width.saturating_sub(1)),
            Style::default(),
        );
    }
}

#[cfg(test)]
mod tests;
