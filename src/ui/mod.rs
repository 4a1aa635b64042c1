//! Drawing: a pure function of the model.
//!
//! `draw(frame, &App)` lays out the sidebar, the message pane, the input box and the status
//! line. Width math and text cleaning live in [`text`]; nothing here changes the model.
//!
//! Colours are the 16 ANSI ones only (plus bold, dim, reverse), picked by [`Theme`]; with
//! `NO_COLOR` every cell is put back to the terminal's own colours after drawing.

mod files;
mod groups;

use crate::app::keymap::{Action, Mode};
use crate::app::short_fp;
use crate::app::{App, Author, Conversation, Hit, Message, Notice, Row, SearchView, Switcher};
use crate::config::Theme;
use crate::i18n::Lang;
use crate::layout;
use crate::proto::{ConversationId, DeliveryState, NodeId, Quote, Trust};
use crate::text::{self, time};
use crate::tr;
use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::{Position, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Widget};
use std::collections::VecDeque;

mod ipmsg;

pub use crate::layout::{MIN_HEIGHT, MIN_WIDTH, NARROW_WIDTH, input_cap, is_narrow};

pub mod picture;

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

/// Draws the screen, every picture as its file bubble.
pub fn draw(frame: &mut Frame, app: &App) {
    draw_with(frame, app, &mut picture::NoPictures);
}

/// Draws the screen with the previews `pictures` has ready (see [`picture`]).
pub fn draw_with(frame: &mut Frame, app: &App, pictures: &mut dyn picture::Pictures) {
    let area = frame.area();
    let screen = app.screen();
    let Some(a) = layout::areas(area, &screen) else {
        too_small(frame.buffer_mut(), area, app.lang);
        return;
    };
    let buf = frame.buffer_mut();
    if let Some(side) = a.sidebar {
        draw_sidebar(buf, side, app);
    }
    draw_messages(buf, a.messages, app, pictures);
    if a.sidebar.is_none()
        && let Some(list) = layout::list_area(&screen, &a)
    {
        clear(buf, list);
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
    pictures.frame_done(frame.buffer_mut());
}

fn too_small(buf: &mut Buffer, area: Rect, lang: Lang) {
    let msg = tr!(
        lang,
        "ui-too-small",
        width = area.width,
        height = area.height,
        min_width = MIN_WIDTH,
        min_height = MIN_HEIGHT
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

/// Clears `r` for what is drawn over the screen. A wide character just left of it would
/// have its second half under `r`, cut in two by `r`'s left edge: it is blanked instead.
fn clear(buf: &mut Buffer, r: Rect) {
    Clear.render(r, buf);
    let Some(left) = r.x.checked_sub(1) else {
        return;
    };
    for y in r.top()..r.bottom() {
        if let Some(cell) = buf.cell_mut(Position::new(left, y))
            && text::width(cell.symbol()) > 1
        {
            cell.set_symbol(" ");
        }
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
    let lang = app.lang;
    if let Some(c) = app.identity_change(&ConversationId::Peer(*id)) {
        let other = if c.new == *id { c.previous } else { c.new };
        return tr!(lang, "ui-enc-held", key = short_fp(&other));
    }
    match app.trust.get(id).map(|t| t.trust) {
        Some(Trust::Verified) => tr!(lang, "ui-enc-verified", noise = NOISE),
        Some(Trust::Unverified) => tr!(lang, "ui-enc-unverified", noise = NOISE),
        Some(Trust::Blocked) => tr!(lang, "ui-enc-blocked"),
        Some(Trust::Changed { .. }) | None => tr!(lang, "ui-enc-no-handshake"),
    }
}

/// The key that does `action` in `mode` now (the main screen's keys for [`Mode::Base`]),
/// as the hints name it; for closing, the main screen's dismiss key where the mode takes it
/// too ("Esc" rather than "?"). `None` when no key does it.
fn key_name(app: &App, mode: Mode, action: Action) -> Option<String> {
    let keys = match app.modes.get(mode) {
        Some(map) => map.keys_for(action, &app.keymap),
        None => app.keymap.keys_for(action),
    };
    let dismiss = app.keymap.keys_for(Action::Dismiss);
    let best = (action == Action::Close)
        .then(|| keys.iter().find(|k| dismiss.contains(k)))
        .flatten();
    best.or(keys.first()).map(ToString::to_string)
}

/// [`key_name`], or an empty string when unbound (for titles that name a key).
fn key_or_blank(app: &App, mode: Mode, action: Action) -> String {
    key_name(app, mode, action).unwrap_or_default()
}

/// `label` padded with spaces to `cols` columns (by width, so CJK labels line up too).
fn pad_to(label: &str, cols: usize) -> String {
    let pad = cols.saturating_sub(text::width(label));
    format!("{label}{}", " ".repeat(pad))
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
            .first_key(Action::ToggleSidebar)
            .unwrap_or_default();
        tr!(app.lang, "ui-sidebar-title-narrow", key = key)
    } else {
        tr!(app.lang, "ui-sidebar-title")
    };
    let b = block(app, title_for(&title, area.width));
    let inner = b.inner(area);
    b.render(area, buf);
    if inner.height == 0 {
        return;
    }
    if app.sidebar.is_empty() {
        let waiting = if app.me.discovery {
            tr!(app.lang, "ui-sidebar-looking")
        } else {
            tr!(app.lang, "ui-sidebar-no-discovery")
        };
        put_wrapped(buf, inner, &waiting, dim(app));
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
        ConversationId::Group(g) => groups::presence(app, &g),
        ConversationId::Ipmsg(ip) => ipmsg::presence(app, ip, p.raw_name, dim(app)),
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
        ConversationId::Raw(_) | ConversationId::Ipmsg(_) => {}
        ConversationId::Group(g) => out.extend(groups::marks(app, &g)),
    }
    if app.drafts.contains_key(&conv.id) {
        out.push(Span::styled("✎", Style::default().fg(Color::Magenta)));
    }
    if conv.pinned {
        out.push(Span::styled("▲", Style::default().fg(p.accent)));
    }
    out.extend(files::sidebar_mark(app, &conv.id));
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
            format!("{} ", tr!(app.lang, "ui-mention-mark")),
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
            tr!(
                app.lang,
                "ui-preview-draft",
                text = text::sanitize_line(draft)
            ),
            Style::default().fg(Color::Magenta),
        );
    }
    let Some(m) = conv.last.as_ref() else {
        let hint = match conv.id {
            ConversationId::Raw(_) => tr!(app.lang, "ui-preview-raw"),
            ConversationId::Ipmsg(_) => tr!(app.lang, "ipmsg-preview"),
            ConversationId::Peer(_) | ConversationId::Group(_) => {
                tr!(app.lang, "ui-preview-empty")
            }
        };
        return (hint, dim(app).add_modifier(Modifier::ITALIC));
    };
    if m.recalled {
        return (recalled_text(app, &m.author), dim(app));
    }
    if let Some(c) = m.change() {
        return (groups::change_text(app, &m.author, c), dim(app));
    }
    let body = match &m.file {
        Some(card) => tr!(
            app.lang,
            "files-preview",
            name = text::sanitize_line(&card.name)
        ),
        None => text::sanitize_line(&m.text),
    };
    let text = match m.author {
        Author::Me => tr!(app.lang, "ui-preview-mine", text = body),
        // In a group, who said it.
        Author::Peer(_) if matches!(conv.id, ConversationId::Group(_)) => tr!(
            app.lang,
            "group-preview",
            name = text::sanitize_line(&app.author_name(&m.author)),
            text = body
        ),
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
        Span::raw(tr!(app.lang, "ui-strangers", n = strangers.len())),
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
            tr!(app.lang, "ui-strangers-never-answered"),
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
    let lang = app.lang;
    match id {
        ConversationId::Peer(node) => match app.peers.get(node) {
            Some(p) if p.online => {
                tr!(
                    lang,
                    "ui-header-online",
                    name = name,
                    addr = p.addr.to_string()
                )
            }
            Some(p) => tr!(
                lang,
                "ui-header-offline",
                name = name,
                addr = p.addr.to_string()
            ),
            None => name,
        },
        ConversationId::Raw(_) if app.is_folded(id) => {
            tr!(lang, "ui-header-raw-folded", name = name, n = app.strangers)
        }
        ConversationId::Raw(_) => tr!(lang, "ui-header-raw", name = name),
        ConversationId::Group(g) => groups::header(app, g, name),
        ConversationId::Ipmsg(ip) => ipmsg::header(app, *ip, name),
    }
}

fn draw_messages(buf: &mut Buffer, area: Rect, app: &App, pictures: &mut dyn picture::Pictures) {
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
        let guide = [
            tr!(app.lang, "ui-guide-none"),
            if app.me.discovery {
                tr!(app.lang, "ui-guide-discovery")
            } else {
                tr!(app.lang, "ui-guide-no-discovery")
            },
            tr!(
                app.lang,
                "ui-guide-plain",
                host = host,
                port = app.me.listen.port().to_string()
            ),
        ]
        .join("\n\n");
        put_wrapped(buf, inner, &guide, dim(app));
        return;
    };
    if conv.messages.is_empty() {
        let hello = tr!(
            app.lang,
            "ui-say-hello",
            name = text::sanitize_line(&app.title(&conv.id))
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
    let (mut lines, mut slots) = view_lines(app, conv, top, need - below, inner.width);
    if lines.len() < need - below && below > 0 {
        // Scrolled further up than there is history: start from the bottom after all.
        below = 0;
        (lines, slots) = view_lines(app, conv, conv.messages.len(), need, inner.width);
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
    // Pictures over the rows their bubbles keep for them.
    for s in slots {
        let Some(at) = lines.len().checked_sub(s.from_end) else {
            continue;
        };
        let y = i32::from(inner.y) + at as i32 - start as i32;
        let width = pictures
            .size(&s.id)
            .map_or(crate::app::files::PREVIEW_COLS, |size| size.width)
            .min(inner.width.saturating_sub(2));
        let x = if s.mine {
            inner.right().saturating_sub(width + 1)
        } else {
            inner.x + 1
        };
        let slot = picture::Slot {
            x,
            y,
            width,
            height: s.rows,
        };
        if !picture::draw_preview(pictures, &s.id, slot, inner, buf) {
            let top = y.max(i32::from(inner.y));
            let bottom = (y + i32::from(s.rows)).min(i32::from(inner.bottom()));
            if top < bottom {
                let cells = |v: i32| u16::try_from(v).unwrap_or(0);
                let seen = Rect::new(x, cells(top), width, cells(bottom - top));
                picture::placeholder(seen, buf);
            }
        }
    }
    if app.scroll > 0 && (below > 0 || end < lines.len()) {
        let what = match app.new_below {
            0 => tr!(app.lang, "ui-more-below"),
            n => tr!(app.lang, "ui-new-below", n = n),
        };
        let hint = match app.keymap.first_key(Action::ScrollBottom) {
            Some(key) => format!(" {what} ({key}) "),
            None => format!(" {what} "),
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

/// Where a picture goes among the lines: its first row, counted from the end of the
/// lines, and its rows.
struct PreviewSlot {
    from_end: usize,
    id: crate::proto::files::TransferId,
    rows: u16,
    mine: bool,
}

/// The lines of the messages before `end`, built from the bottom up until there are `need`
/// (or no more messages), with day separators; and where their pictures go.
fn view_lines(
    app: &App,
    conv: &Conversation,
    end: usize,
    need: usize,
    width: u16,
) -> (VecDeque<Line<'static>>, Vec<PreviewSlot>) {
    let mut lines: VecDeque<Line<'static>> = VecDeque::with_capacity(need.min(1024));
    let mut slots = Vec::new();
    for (i, m) in conv.messages.iter().enumerate().take(end).rev() {
        if lines.len() >= need {
            break;
        }
        let own = message_lines(app, m, width);
        if let Some(card) = m.file.as_ref().filter(|c| c.preview_rows > 0) {
            // The preview's rows are the bubble's last.
            slots.push(PreviewSlot {
                from_end: lines.len() + usize::from(card.preview_rows),
                id: card.id,
                rows: card.preview_rows,
                mine: m.author == Author::Me,
            });
        }
        for line in own.into_iter().rev() {
            lines.push_front(line);
        }
        // A new day starts with this message: a separator above it.
        if starts_day(app, conv, i) {
            lines.push_front(day_separator(app, m, width));
        }
    }
    (lines, slots)
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

fn state_span(lang: Lang, state: DeliveryState) -> Span<'static> {
    let (label, style) = match state {
        DeliveryState::Queued => (
            tr!(lang, "ui-state-queued"),
            Style::default().fg(Color::Yellow),
        ),
        DeliveryState::Sending => (
            tr!(lang, "ui-state-sending"),
            Style::default().fg(Color::DarkGray),
        ),
        DeliveryState::Sent => (
            tr!(lang, "ui-state-sent"),
            Style::default().fg(Color::DarkGray),
        ),
        DeliveryState::Delivered => (
            tr!(lang, "ui-state-delivered"),
            Style::default().fg(Color::Green),
        ),
        DeliveryState::Read => (tr!(lang, "ui-state-read"), Style::default().fg(Color::Cyan)),
        DeliveryState::Failed => (
            tr!(lang, "ui-state-failed"),
            Style::default().fg(Color::Red),
        ),
    };
    Span::styled(label, style)
}

/// "You recalled a message" / "bob recalled a message".
fn recalled_text(app: &App, author: &Author) -> String {
    match author {
        Author::Me => tr!(app.lang, "ui-recalled-mine"),
        other => tr!(
            app.lang,
            "ui-recalled-theirs",
            name = text::sanitize_line(&app.author_name(other))
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
        tr!(app.lang, "ui-quote-recalled")
    } else {
        text::sanitize_line(&q.excerpt)
    };
    if m.quote_found || m.author == Author::Me {
        let who = if q.author == app.me.id {
            tr!(app.lang, "ui-quote-me")
        } else {
            text::sanitize_line(&app.author_name(&Author::Peer(q.author)))
        };
        let style = dim(app).add_modifier(Modifier::ITALIC);
        return (
            tr!(app.lang, "ui-quote", who = who, excerpt = excerpt),
            style,
        );
    }
    let sender = text::sanitize_line(&app.author_name(&m.author));
    let style = Style::default()
        .fg(pal(app).raw_name)
        .add_modifier(Modifier::ITALIC);
    (
        tr!(
            app.lang,
            "ui-quote-claimed",
            sender = sender,
            excerpt = excerpt
        ),
        style,
    )
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
    if let Some(line) = groups::system_line(app, m, width) {
        return vec![line];
    }
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
        Author::Raw(_) | Author::Ipmsg(_) => p.raw_name,
    };
    let name_style = Style::default().fg(name_color).add_modifier(Modifier::BOLD);
    let time = time::format_time(m.time_ms, app.clock_ms, app.utc_offset_s);
    // Mine in a group: how many hold it and have read it, in place of one peer's state.
    let state = groups::tally_span(app, m).or_else(|| m.state.map(|s| state_span(app.lang, s)));
    let marks = groups::author_marks(app, m);
    // The name gives way first: time and delivery state always show.
    let state_w = state.as_ref().map_or(0, |s| text::width(&s.content) + 2);
    let room = w.saturating_sub(text::width(&time) + 2 + state_w + spans_width(&marks));
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
        let mut spans = vec![Span::styled(name, name_style)];
        spans.extend(marks);
        spans.push(Span::raw("  "));
        spans.push(Span::styled(time, dim(app)));
        spans
    };
    let mut header = align(header_spans, mine, w);
    if app.highlight == Some(m.id) || app.picked == Some(m.id) {
        header = header.style(Style::default().add_modifier(Modifier::REVERSED));
    }
    let mut lines = vec![header];
    if let Some(card) = &m.file {
        lines.extend(files::bubble(app, m, card, width));
        return lines;
    }
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
        Some(id) => tr!(
            app.lang,
            "ui-input-to",
            name = text::sanitize_line(&app.title(&id))
        ),
        None => tr!(app.lang, "ui-input-none"),
    };
    let b = block(app, title_for(&title, area.width));
    let mut inner = b.inner(area);
    b.render(area, buf);
    if inner.width == 0 || inner.height == 0 {
        return None;
    }
    if let Some(r) = &app.replying {
        let who = match r.author {
            Author::Me => tr!(app.lang, "ui-reply-to-self"),
            other => text::sanitize_line(&app.author_name(&other)),
        };
        let line = tr!(
            app.lang,
            "ui-replying",
            who = who,
            excerpt = text::sanitize_line(&r.excerpt)
        );
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

/// Columns of who I am that the status line keeps when a hint needs the room.
const IDENTITY_MIN: usize = 8;

/// A hint for the status line: the key, and what it does there.
fn hint(lang: Lang, action: Action, key: String) -> String {
    match action {
        Action::ToggleHelp => tr!(lang, "ui-hint-help", key = key),
        Action::Search => tr!(lang, "ui-hint-search", key = key),
        Action::Quit => tr!(lang, "ui-hint-quit", key = key),
        Action::ToggleSidebar => tr!(lang, "ui-hint-chats", key = key),
        Action::Copy => tr!(lang, "ui-hint-copy", key = key),
        Action::Reply => tr!(lang, "ui-hint-reply", key = key),
        Action::Submit => tr!(lang, "ui-hint-send", key = key),
        Action::Newline => tr!(lang, "ui-hint-newline", key = key),
        Action::ResendFailed => tr!(lang, "ui-hint-resend", key = key),
        Action::Open => tr!(lang, "ui-hint-open", key = key),
        Action::Confirm => tr!(lang, "ui-hint-confirm", key = key),
        Action::Dismiss => tr!(lang, "ui-hint-cancel-reply", key = key),
        Action::AcceptFile => tr!(lang, "files-hint-accept", key = key),
        Action::StopFile => tr!(lang, "files-hint-stop", key = key),
        Action::OpenFile => tr!(lang, "files-hint-open", key = key),
        _ => tr!(lang, "ui-hint-close", key = key),
    }
}

/// The status line's hints, most needed first, each with its place in the line (`order`):
/// first what helps with what is on screen now (the open overlay's keys, a picked message's,
/// sending what is typed, resending what failed), then help, search and quit. Keys are
/// named as bound now; an action without a key gets no hint. Also says how many of them
/// are about what is on screen now.
fn status_hints(app: &App, narrow: bool) -> (Vec<(usize, String)>, usize) {
    let mode = app.mode();
    let mut wanted: Vec<(Mode, Action)> = Vec::new();
    // Overlays that cover the screen take only their own keys.
    let mut general = true;
    match mode {
        Mode::Help => {
            wanted.push((mode, Action::Close));
            general = false;
        }
        Mode::Search | Mode::Switcher | Mode::Strangers => {
            wanted.extend([(mode, Action::Open), (mode, Action::Close)]);
            general = false;
        }
        Mode::Verify => {
            wanted.extend([(mode, Action::Confirm), (mode, Action::Close)]);
            general = false;
        }
        Mode::Picked => match files::picked_card(app) {
            Some(card) => wanted.extend(
                files::picked_actions(card)
                    .iter()
                    .map(|a| (mode, *a))
                    .chain([(mode, Action::Close)]),
            ),
            None => wanted.extend([
                (mode, Action::Copy),
                (mode, Action::Reply),
                (mode, Action::Close),
            ]),
        },
        Mode::ChatList | Mode::PeerInfo => wanted.push((mode, Action::Close)),
        Mode::Base => {
            if !app.input.text().is_empty() {
                wanted.extend([(Mode::Base, Action::Submit), (Mode::Base, Action::Newline)]);
            } else if failed_in_view(app) {
                wanted.push((Mode::Base, Action::ResendFailed));
            }
            if app.replying.is_some() {
                wanted.push((Mode::Base, Action::Dismiss));
            }
        }
    }
    let mut hints: Vec<(usize, String)> = wanted
        .into_iter()
        .filter_map(|(m, a)| key_name(app, m, a).map(|k| hint(app.lang, a, k)))
        .enumerate()
        .collect();
    // Nobody online for a while, and nothing else going on: say what finds out why.
    if mode == Mode::Base && app.input.text().is_empty() && app.alone_too_long() {
        hints.push((hints.len(), tr!(app.lang, "ui-hint-doctor")));
    }
    let now = hints.len();
    if general {
        // In order of need; shown in the order of the keys (chats, search, help, quit).
        let mut rest = Vec::new();
        if narrow {
            rest.push((100, Action::ToggleSidebar));
        }
        rest.extend([
            (103, Action::ToggleHelp),
            (101, Action::Search),
            (104, Action::Quit),
        ]);
        hints.extend(rest.into_iter().filter_map(|(order, a)| {
            key_name(app, Mode::Base, a).map(|k| (order, hint(app.lang, a, k)))
        }));
    }
    (hints, now)
}

/// Whether the open conversation has a message of mine that failed (Ctrl-R sends it).
fn failed_in_view(app: &App) -> bool {
    app.selected_conversation().is_some_and(|c| {
        c.messages
            .iter()
            .any(|m| m.author == Author::Me && m.state == Some(DeliveryState::Failed))
    })
}

fn draw_status(buf: &mut Buffer, area: Rect, app: &App) {
    let lang = app.lang;
    // Everyone I can write to now: lanchat peers and IP Messenger ones.
    let online = app.online_peers() + app.ipmsg_online_count();
    let mut me = vec![text::sanitize_line(&app.me.name), app.me.listen.to_string()];
    // My key's short fingerprint where there is room for it (F2 and /verify show it all).
    if area.width >= 100 {
        me.push(tr!(lang, "ui-status-key", fp = short_fp(&app.me.id)));
    }
    me.push(tr!(lang, "ui-status-online", n = online));
    me.extend(files::status_summary(app));
    let mut spans = vec![Span::styled(
        format!(" {}", me.join(" · ")),
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
    let width = usize::from(area.width);
    let (wanted, now) = status_hints(app, is_narrow(area.width));
    // A hint about what is on screen now (a picked message, an overlay, typed text, a
    // failure to resend) always shows: who I am gives way to it first (down to a few
    // columns; F2 and /verify say it all), then a notice. The general hints only take
    // the room that is left.
    if now > 0 {
        let reserve = wanted.first().map_or(0, |(_, h)| text::width(h) + 3);
        let total: usize = spans.iter().map(|s| text::width(&s.content)).sum();
        let mut over = (total + reserve).saturating_sub(width);
        for (i, span) in spans.iter_mut().enumerate() {
            let w = text::width(&span.content);
            let keep = if i == 0 { w.min(IDENTITY_MIN) } else { 0 };
            let target = w.saturating_sub(over).max(keep);
            if target < w {
                span.content = text::truncate(&span.content, target).into();
                over -= w - text::width(&span.content);
            }
        }
    }
    spans.retain(|s| !s.content.is_empty());
    let used: usize = spans.iter().map(|s| text::width(&s.content)).sum();
    // Hints in order of need, as many as fit, shown in their order.
    let mut shown: Vec<(usize, String)> = Vec::new();
    for (order, hint) in wanted {
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
        spans.push(Span::raw(
            " ".repeat(width.saturating_sub(used + text::width(&hints))),
        ));
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
    clear(buf, r);
    let count = view.hits.as_ref().map(Vec::len);
    let query = text::sanitize_line(&view.query);
    let title = match count {
        None => tr!(app.lang, "ui-search-pending", query = query),
        Some(n) => tr!(
            app.lang,
            "ui-search-title",
            query = query,
            n = n,
            open = key_or_blank(app, Mode::Search, Action::Open),
            close = key_or_blank(app, Mode::Search, Action::Close)
        ),
    };
    let b = block(app, title_for(&title, w));
    let inner = b.inner(r);
    b.render(r, buf);
    let Some(hits) = &view.hits else {
        return;
    };
    if hits.is_empty() {
        put_wrapped(buf, inner, &tr!(app.lang, "ui-search-none"), dim(app));
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
    // Start up to a dozen characters before the first match, so it is in view; from the
    // beginning when the match is in the first half of the row anyway.
    let first = hit
        .matches
        .first()
        .map_or(0, |m| m.start.min(hit.text.len()));
    let before = hit.text.get(..first).unwrap_or("");
    let start = if text::width(&text::sanitize_line(before)) <= room / 2 {
        0
    } else {
        before
            .char_indices()
            .rev()
            .take(12)
            .last()
            .map_or(first, |(i, _)| i)
    };
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
    clear(buf, r);
    let b = block(app, title_for(title, w));
    let inner = b.inner(r);
    b.render(r, buf);
    inner
}

fn draw_switcher(buf: &mut Buffer, area: Rect, app: &App, sw: &Switcher) {
    let matches = app.switcher_list(sw);
    let filter = text::sanitize_line(&sw.filter);
    let title = if sw.strangers {
        tr!(
            app.lang,
            "ui-switcher-strangers",
            n = app.strangers,
            open = key_or_blank(app, Mode::Strangers, Action::Open),
            filter = filter
        )
    } else {
        tr!(app.lang, "ui-switcher-title", filter = filter)
    };
    // At least one row, for the line that says nothing matches.
    let rows = matches.len().clamp(1, 10) as u16;
    let inner = centred_box(buf, area, app, 50, rows + 2, &title);
    if matches.is_empty() {
        put_wrapped(buf, inner, &tr!(app.lang, "ui-switcher-none"), dim(app));
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
            groups::switcher_row(
                app,
                sw,
                conv,
                sidebar_row(app, conv, usize::from(inner.width)),
            )
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
    let lang = app.lang;
    let mut lines: Vec<Line<'static>> = vec![
        Line::from(format!(
            " {}",
            tr!(lang, "ui-verify-read", name = name.clone())
        )),
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
            Span::styled(
                format!(" {}", pad_to(&tr!(lang, "ui-verify-yours"), 13)),
                dim(app),
            ),
            Span::raw(crate::proto::fingerprint(&app.me.id)),
        ]),
        Line::from(vec![
            Span::styled(
                format!(" {}", pad_to(&tr!(lang, "ui-verify-theirs"), 13)),
                dim(app),
            ),
            Span::raw(crate::proto::fingerprint(peer)),
        ]),
        Line::from(""),
        Line::from(Span::styled(
            format!(
                " {}",
                tr!(
                    lang,
                    "ui-verify-keys",
                    confirm = key_or_blank(app, Mode::Verify, Action::Confirm),
                    close = key_or_blank(app, Mode::Verify, Action::Close)
                )
            ),
            dim(app),
        )),
    ]);
    let title = tr!(lang, "ui-verify-title", name = name);
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
    let lang = app.lang;
    let mut lines: Vec<(String, String)> = vec![(
        tr!(lang, "ui-info-shown-as"),
        text::sanitize_line(&app.title(&id)),
    )];
    match id {
        ConversationId::Peer(node) => {
            if let Some(p) = app.peers.get(&node) {
                lines.push((
                    tr!(lang, "ui-info-calls-itself"),
                    text::sanitize_line(&p.name),
                ));
                lines.push((tr!(lang, "ui-info-address"), p.addr.to_string()));
                let status = if p.online {
                    tr!(lang, "ui-info-online")
                } else {
                    tr!(lang, "ui-info-offline")
                };
                lines.push((tr!(lang, "ui-info-status"), status));
                let seen = match p.last_seen_ms {
                    _ if p.online => tr!(lang, "ui-info-now"),
                    Some(ms) => time::format_time(ms, app.clock_ms, app.utc_offset_s),
                    None => tr!(lang, "ui-info-never"),
                };
                lines.push((tr!(lang, "ui-info-last-seen"), seen));
            }
            let hex = node.to_hex();
            lines.push((tr!(lang, "ui-info-key"), hex[..32].to_string()));
            lines.push((String::new(), hex[32..].to_string()));
            lines.push((
                tr!(lang, "ui-info-fingerprint"),
                crate::proto::fingerprint(&node),
            ));
            lines.push((tr!(lang, "ui-info-encryption"), encryption_line(app, &node)));
        }
        ConversationId::Raw(addr) => {
            lines.push((tr!(lang, "ui-info-address"), addr.to_string()));
            lines.push((tr!(lang, "ui-info-encryption"), tr!(lang, "ui-enc-raw")));
        }
        ConversationId::Group(g) => return groups::draw_info(buf, area, app, &g),
        ConversationId::Ipmsg(ip) => lines.extend(ipmsg::info_lines(app, ip)),
    }
    let title = tr!(
        lang,
        "ui-info-title",
        close = key_or_blank(app, Mode::PeerInfo, Action::Close)
    );
    let inner = centred_box(buf, area, app, 64, lines.len() as u16 + 2, &title);
    for (row, (k, v)) in lines.iter().enumerate().take(usize::from(inner.height)) {
        let line = Line::from(vec![
            Span::styled(format!(" {}", pad_to(k, 13)), dim(app)),
            Span::raw(v.clone()),
        ]);
        buf.set_line(inner.x, inner.y + row as u16, &line, inner.width);
    }
}

fn draw_help(buf: &mut Buffer, area: Rect, app: &App) {
    let lines = app.help_lines();
    let (r, shown) = layout::help_box(&lines, area);
    let scroll = app.help_scroll.min(lines.len().saturating_sub(shown));
    clear(buf, r);
    let more = lines.len() > shown;
    let close = key_or_blank(app, Mode::Help, Action::Close);
    let title = if more {
        tr!(
            app.lang,
            "ui-help-title-scroll",
            from = scroll + 1,
            to = scroll + shown,
            total = lines.len(),
            close = close
        )
    } else {
        tr!(app.lang, "ui-help-title", close = close)
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
