//! Where things go on the screen, below both the model and the view.
//!
//! The model needs the geometry of the screen to scroll, page and take a click (how tall the
//! message pane is, how many lines a message takes, which sidebar row is under the mouse);
//! the view needs the same geometry to draw. Both ask here, so the two cannot disagree, and
//! neither borrows from the other: everything in this module takes plain values (sizes,
//! flags, the text it lays out), never the app, and draws nothing.

use crate::text::{self, time};
use ratatui::layout::{Position, Rect};
use ratatui::widgets::{Block, Borders};
use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use unicode_segmentation::UnicodeSegmentation;

/// Below this the screen shows a "too small" notice instead of the chat.
pub const MIN_WIDTH: u16 = 40;
pub const MIN_HEIGHT: u16 = 10;
/// Below this many columns the conversation list is not shown beside the messages; a key
/// shows it over them.
pub const NARROW_WIDTH: u16 = 60;
const STATUS_HEIGHT: u16 = 1;
/// Columns kept free on the far side of a bubble, so mine and theirs stand apart.
const GUTTER: usize = 6;
/// Sidebar rows take two lines (name and time; preview and badges) from this inner height.
const TWO_LINE_SIDEBAR_FROM: u16 = 8;
/// Lines the banner over a conversation takes at most.
const MAX_BANNER_LINES: usize = 3;

/// What the screen's geometry depends on, as plain values (the model fills it in).
#[derive(Debug, Clone, Default)]
pub struct Screen<'a> {
    /// The terminal, columns × rows.
    pub size: (u16, u16),
    /// The conversation list is wanted beside the messages (when there is room).
    pub show_sidebar: bool,
    /// On a narrow terminal: the conversation list is shown over the messages.
    pub sidebar_overlay: bool,
    /// The input box's text and the cursor's byte offset in it.
    pub input: &'a str,
    pub cursor: usize,
    /// A reply is being written: the input box shows what it replies to on a line of its own.
    pub replying: bool,
    /// The banner over the open conversation, unwrapped (see [`banner_lines`]).
    pub banner: Option<String>,
}

/// The parts of the screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Areas {
    /// Beside the messages; `None` when narrow or hidden.
    pub sidebar: Option<Rect>,
    pub messages: Rect,
    pub input: Rect,
    pub status: Rect,
}

/// Is a terminal this wide too narrow for the list beside the messages?
pub fn is_narrow(width: u16) -> bool {
    width < NARROW_WIDTH
}

/// Text lines the input box shows at most for a terminal this high (5 at 24 rows).
pub fn input_cap(height: u16) -> usize {
    usize::from(height.saturating_sub(4) / 4).clamp(1, 10)
}

/// The parts of a screen of `area`, or `None` when it is too small to chat in.
pub fn areas(area: Rect, s: &Screen) -> Option<Areas> {
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        return None;
    }
    let input_h = input_height(s, area.width, area.height);
    let main_h = area.height - input_h - STATUS_HEIGHT;
    let sidebar_w = if is_narrow(area.width) || !s.show_sidebar {
        0
    } else {
        (area.width * 3 / 10).clamp(16, 32)
    };
    Some(Areas {
        sidebar: (sidebar_w > 0).then(|| Rect::new(area.x, area.y, sidebar_w, main_h)),
        messages: Rect::new(area.x + sidebar_w, area.y, area.width - sidebar_w, main_h),
        input: Rect::new(area.x, area.y + main_h, area.width, input_h),
        status: Rect::new(area.x, area.y + main_h + input_h, area.width, STATUS_HEIGHT),
    })
}

/// The inside of a bordered box.
pub fn inner(r: Rect) -> Rect {
    Block::default().borders(Borders::ALL).inner(r)
}

/// Where the conversation list is drawn: beside the messages, or (narrow, when asked for)
/// over the message pane.
pub fn list_area(s: &Screen, a: &Areas) -> Option<Rect> {
    match a.sidebar {
        Some(r) => Some(r),
        None if s.sidebar_overlay && is_narrow(s.size.0) => Some(a.messages),
        None => None,
    }
}

/// Lines per sidebar row (1 or 2), the index of the first row shown, and how many fit, for
/// a list of this inner height, keeping the `selected` row in view.
pub fn sidebar_layout(height: u16, selected: Option<usize>) -> (u16, usize, usize) {
    let row_h = if height >= TWO_LINE_SIDEBAR_FROM {
        2
    } else {
        1
    };
    let rows = usize::from(height / row_h).max(1);
    let first = selected.map_or(0, |s| s.saturating_sub(rows - 1));
    (row_h, first, rows)
}

/// Where a mouse event at (column, row) landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spot {
    /// This sidebar row (its index in the list of rows).
    Row(usize),
    Messages,
    Elsewhere,
}

/// What is at (column, row) of the screen, with `rows` rows in the conversation list and
/// the `selected` one kept in view.
pub fn spot_at(s: &Screen, rows: usize, selected: Option<usize>, column: u16, row: u16) -> Spot {
    let Some(a) = areas(Rect::new(0, 0, s.size.0, s.size.1), s) else {
        return Spot::Elsewhere;
    };
    let at = Position::new(column, row);
    if let Some(list) = list_area(s, &a) {
        let side = inner(list);
        if side.contains(at) {
            let (row_h, first, _) = sidebar_layout(side.height, selected);
            let index = first + usize::from((row - side.y) / row_h);
            return if index < rows {
                Spot::Row(index)
            } else {
                Spot::Elsewhere
            };
        }
    }
    if a.messages.contains(at) {
        return Spot::Messages;
    }
    Spot::Elsewhere
}

/// The banner wrapped to `width` (at most three lines); empty when there is none.
pub fn banner_lines(banner: Option<&str>, width: u16) -> Vec<String> {
    let Some(msg) = banner else {
        return Vec::new();
    };
    let mut lines = text::wrap(msg, usize::from(width));
    lines.truncate(MAX_BANNER_LINES);
    lines
}

/// Columns and rows inside the message pane, under the banner (0×0 if too small).
pub fn message_pane_size(s: &Screen) -> (u16, u16) {
    areas(Rect::new(0, 0, s.size.0, s.size.1), s).map_or((0, 0), |a| {
        let r = inner(a.messages);
        let banner = banner_lines(s.banner.as_deref(), r.width).len() as u16;
        (r.width, r.height.saturating_sub(banner))
    })
}

/// Columns of text in a bubble, in a message pane `width` wide.
pub fn bubble_text_width(width: u16) -> usize {
    let w = usize::from(width);
    let bubble = if w > GUTTER + 12 { w - GUTTER } else { w };
    bubble.saturating_sub(2).max(2)
}

/// What the layout needs of a message.
#[derive(Debug, Clone, Copy)]
pub struct Shape<'a> {
    /// Its text, as received (sanitised here before it is measured).
    pub text: &'a str,
    /// A reply: a quoted line above its text.
    pub quoted: bool,
    /// Taken back: one line.
    pub recalled: bool,
    /// When, Unix milliseconds (for the day separators).
    pub time_ms: i64,
    /// A file bubble: [`FILE_BUBBLE_LINES`] lines, whatever its text, and `preview_rows`
    /// more for a picture's preview.
    pub file: bool,
    pub preview_rows: u16,
}

/// Lines a file bubble takes under its header, whatever its state (so the view does not
/// jump as a transfer moves on).
pub const FILE_BUBBLE_LINES: usize = 3;

/// Anything laid out as a message.
pub trait Shaped {
    fn shape(&self) -> Shape<'_>;
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
    /// The height of a message with this text (and a quoted line above it, if `quoted`) at
    /// `width`, computed once.
    fn get(&self, text: &str, quoted: bool, width: u16, compute: impl FnOnce() -> usize) -> usize {
        let mut h = std::hash::DefaultHasher::new();
        text.hash(&mut h);
        quoted.hash(&mut h);
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

/// Lines one message takes in a message pane `width` columns wide: its header, the quoted
/// line of a reply, and its wrapped text (what the view draws for it). Remembered in
/// `cache`.
pub fn message_height(cache: &HeightCache, m: &impl Shaped, width: u16) -> usize {
    let m = m.shape();
    if m.recalled {
        return 1;
    }
    if m.file {
        return 1 + FILE_BUBBLE_LINES + usize::from(m.preview_rows);
    }
    cache.get(m.text, m.quoted, width, || {
        let body = text::wrapped_height(&text::sanitize(m.text), bubble_text_width(width));
        1 + usize::from(m.quoted) + body
    })
}

/// Whether message `i` is on another local day than the one before it (a day separator
/// goes above it).
pub fn starts_day<M: Shaped>(messages: &VecDeque<M>, i: usize, utc_offset_s: i32) -> bool {
    i > 0
        && messages
            .get(i - 1)
            .zip(messages.get(i))
            .is_some_and(|(a, b)| {
                time::local_day(a.shape().time_ms, utc_offset_s)
                    != time::local_day(b.shape().time_ms, utc_offset_s)
            })
}

/// Lines a conversation's messages take in a message pane `width` columns wide, day
/// separators included.
pub fn conversation_height<M: Shaped>(
    cache: &HeightCache,
    messages: &VecDeque<M>,
    width: u16,
    utc_offset_s: i32,
) -> usize {
    let heights: usize = messages
        .iter()
        .map(|m| message_height(cache, m, width))
        .sum();
    let day_changes = (1..messages.len())
        .filter(|&i| starts_day(messages, i, utc_offset_s))
        .count();
    heights + day_changes
}

/// Lines the newest `n` messages take at `width`, with the day separators above them.
pub fn tail_height<M: Shaped>(
    cache: &HeightCache,
    messages: &VecDeque<M>,
    n: usize,
    width: u16,
    utc_offset_s: i32,
) -> usize {
    let len = messages.len();
    (len.saturating_sub(n)..len)
        .map(|i| {
            message_height(cache, &messages[i], width)
                + usize::from(starts_day(messages, i, utc_offset_s))
        })
        .sum()
}

/// One row of the input as drawn: (grapheme as shown, its width, its byte offset).
pub type InputRow = Vec<(String, usize, usize)>;

/// The input laid out in rows of at most `width` columns (a line break starts a row, and a
/// grapheme that would cross the edge goes to the next row whole), and the row and column
/// of byte offset `cursor`: before the grapheme there, or after the last one; after a
/// full last row, the start of the row below.
pub fn input_layout(input: &str, cursor: usize, width: usize) -> (Vec<InputRow>, (usize, usize)) {
    let width = width.max(2);
    let mut rows: Vec<InputRow> = vec![Vec::new()];
    let mut used = 0;
    let mut at_cursor = None;
    for (at, g) in input.grapheme_indices(true) {
        let newline = g == "\n" || g == "\r\n";
        let shown = match g {
            "\t" => "→".to_string(),
            g => text::sanitize_line(g),
        };
        let w = text::width(&shown);
        if !newline && used + w > width {
            rows.push(Vec::new());
            used = 0;
        }
        if at_cursor.is_none() && at >= cursor {
            at_cursor = Some((rows.len() - 1, used));
        }
        if newline {
            rows.push(Vec::new());
            used = 0;
            continue;
        }
        if let Some(row) = rows.last_mut() {
            row.push((shown, w, at));
        }
        used += w;
    }
    let end = if used >= width {
        (rows.len(), 0)
    } else {
        (rows.len() - 1, used)
    };
    (rows, at_cursor.unwrap_or(end))
}

/// Rows the input box shows (text, plus the reply line), borders excluded.
fn input_text_rows(s: &Screen, width: u16, height: u16) -> (usize, usize) {
    let w = usize::from(width.saturating_sub(2));
    let (rows, (cursor_row, _)) = input_layout(s.input, s.cursor, w);
    let needed = rows.len().max(cursor_row + 1);
    (needed.min(input_cap(height)), usize::from(s.replying))
}

fn input_height(s: &Screen, width: u16, height: u16) -> u16 {
    let (text, reply) = input_text_rows(s, width, height);
    (text + reply) as u16 + 2
}

/// A `w`×`h` rectangle in the middle of `area` (no bigger than it).
pub fn centred_rect(area: Rect, w: u16, h: u16) -> Rect {
    let (w, h) = (w.min(area.width), h.min(area.height));
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

/// How wide a centred box is drawn that would like to be `w` wide in `area`.
pub fn box_width(area: Rect, w: u16) -> u16 {
    w.min(area.width.saturating_sub(2)).max(1).min(area.width)
}

/// The help box for these lines on a terminal of `area`: its rectangle, and how many of
/// the lines fit.
pub fn help_box(lines: &[String], area: Rect) -> (Rect, usize) {
    let want_w = lines.iter().map(|l| text::width(l)).max().unwrap_or(0) as u16 + 4;
    let w = want_w.min(area.width.saturating_sub(2));
    let h = (lines.len() as u16 + 2).min(area.height.saturating_sub(2));
    let r = centred_rect(area, w, h);
    (r, usize::from(h.saturating_sub(2)))
}

/// How far the help (these lines) can scroll on a terminal of `size`.
pub fn help_max_scroll(lines: &[String], size: (u16, u16)) -> usize {
    let (_, shown) = help_box(lines, Rect::new(0, 0, size.0, size.1));
    lines.len().saturating_sub(shown)
}
