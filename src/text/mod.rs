//! The untrusted-text policy and all column math, in one place, below both the model and
//! the view.
//!
//! One list says what in peer text is dangerous ([`is_unsafe`]: C0 and C1 controls, DEL,
//! bidi controls, the Unicode line and paragraph separators) and one rule shows a control
//! visibly ([`push_visible_control`]: `^[` for C0 and DEL, `<9B>` for C1). Every way out uses
//! them:
//! - the screen (and the clipboard, and desktop notifications): [`sanitize`] /
//!   [`sanitize_line`], which also drop bidi controls and invisible junk and cap combining
//!   piles, so that what is laid out is what is drawn;
//! - the pipe's JSON lines and the exports: [`inert`] (JSON escapes each unsafe character,
//!   the human formats show each visibly).
//!
//! Every width comes from [`grapheme_width`], which is the rule ratatui's buffer uses, so
//! that what we measure is what gets drawn. Times and dates are in [`time`].

pub mod inert;
pub mod time;

use ratatui::buffer::CellWidth;
use unicode_segmentation::UnicodeSegmentation;

/// Combining marks (and other zero-width extenders) kept on one base character.
pub const MAX_COMBINING: usize = 4;
/// Zero-width joiners kept in one emoji sequence (a family of four needs three).
pub const MAX_ZWJ: usize = 4;
/// Tab stops every this many columns.
pub const TAB_WIDTH: usize = 4;

const ZWJ: char = '\u{200D}';

/// Bidirectional formatting characters: embeddings, overrides, isolates and marks. Any of
/// them can make text display in another order than it is stored. The screen drops them;
/// the exports show them (`<U+202E>`).
pub fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}'
    )
}

/// What must not reach a terminal as itself: C0 controls, DEL, C1 controls, bidi controls,
/// and the Unicode line and paragraph separators (which some readers take as line ends, so a
/// JSON line could be split by one).
pub fn is_unsafe(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') || is_bidi_control(c)
}

/// Invisible characters with no business in chat text.
fn is_invisible_junk(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{115F}'
            | '\u{1160}'
            | '\u{180E}'
            | '\u{200B}'
            | '\u{2060}'..='\u{2064}'
            | '\u{206A}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{E0001}'
    )
}

/// Characters that draw as nothing and mean nothing outside an emoji flag: the invisible
/// junk [`sanitize`] drops, and tag characters. File names lose them (`proto::files`).
pub fn is_invisible(c: char) -> bool {
    is_invisible_junk(c) || is_tag(c)
}

fn is_tag(c: char) -> bool {
    matches!(c, '\u{E0020}'..='\u{E007F}')
}

/// Zero-width characters that attach to the previous one: combining marks, variation
/// selectors, and the like. Counted against [`MAX_COMBINING`].
fn is_extender(c: char) -> bool {
    c != ZWJ && !is_tag(c) && unicode_width::UnicodeWidthChar::width(c) == Some(0)
}

/// Caret notation for C0 controls and DEL (`^[` for ESC), `<9B>` for C1 controls: how a
/// control character is shown, on the screen and in the human export formats alike.
pub fn push_visible_control(out: &mut String, c: char) {
    let v = c as u32;
    if v < 0x20 || v == 0x7F {
        out.push('^');
        out.push(char::from((v as u8) ^ 0x40));
    } else {
        out.push_str(&format!("<{v:02X}>"));
    }
}

/// Makes peer text safe and predictable to draw. Newlines are kept as line breaks;
/// everything else that could move the cursor, change the terminal, reorder text or hide
/// inside it is removed or shown visibly. See the module docs for the list.
pub fn sanitize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut col = 0usize; // columns since the last newline, for tab stops
    let mut extenders = 0usize;
    let mut zwjs = 0usize;
    let mut in_tag_sequence = false;
    let mut prev: Option<char> = None;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        let c = match c {
            '\r' if chars.peek() == Some(&'\n') => continue,
            '\u{2028}' | '\u{2029}' => '\n',
            c => c,
        };
        if c == '\n' {
            out.push('\n');
            col = 0;
            extenders = 0;
            zwjs = 0;
            in_tag_sequence = false;
            prev = Some('\n');
            continue;
        }
        if c == '\t' {
            let spaces = TAB_WIDTH - col % TAB_WIDTH;
            out.extend(std::iter::repeat_n(' ', spaces));
            col += spaces;
            extenders = 0;
            zwjs = 0;
            in_tag_sequence = false;
            prev = Some(' ');
            continue;
        }
        if c.is_control() {
            push_visible_control(&mut out, c);
            col += if (c as u32) < 0x80 { 2 } else { 4 };
            extenders = 0;
            zwjs = 0;
            in_tag_sequence = false;
            prev = Some('^');
            continue;
        }
        if is_bidi_control(c) || is_invisible_junk(c) {
            continue;
        }
        if is_tag(c) {
            // Tags only belong in subdivision flags (🏴 + tags + cancel tag).
            if in_tag_sequence {
                out.push(c);
            }
            continue;
        }
        let attaches_to_something = prev.is_some_and(|p| p != '\n' && p != ' ');
        if c == ZWJ {
            if attaches_to_something && prev != Some(ZWJ) && zwjs < MAX_ZWJ {
                out.push(c);
                zwjs += 1;
                prev = Some(c);
            }
            continue;
        }
        if is_extender(c) {
            if attaches_to_something && extenders < MAX_COMBINING {
                out.push(c);
                extenders += 1;
                prev = Some(c);
            }
            continue;
        }
        // A visible character starts a new cluster unless it follows a joiner.
        if prev != Some(ZWJ) {
            zwjs = 0;
        }
        extenders = 0;
        in_tag_sequence = c == '\u{1F3F4}';
        out.push(c);
        col += unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
        prev = Some(c);
    }
    cap_clusters(out)
}

/// Most characters kept in one grapheme cluster (the longest real emoji sequences have ten).
pub const MAX_CLUSTER_CHARS: usize = 16;

/// A terminal shows one cluster in at most two cells. A cluster that would take more (a
/// letter followed by a pile of skin-tone modifiers, a run of Hangul leading jamo) or that
/// is absurdly long is cut to what fits and marked with `…`, so it can neither break the
/// layout nor vanish.
fn cap_clusters(s: String) -> String {
    let oversized = |g: &str| g.chars().count() > MAX_CLUSTER_CHARS || grapheme_width(g) > 2;
    if !s.graphemes(true).any(oversized) {
        return s;
    }
    let mut out = String::with_capacity(s.len());
    for g in s.graphemes(true) {
        if !oversized(g) {
            out.push_str(g);
            continue;
        }
        let mut kept = String::new();
        for c in g.chars().take(MAX_CLUSTER_CHARS) {
            kept.push(c);
            if grapheme_width(&kept) > 2 {
                kept.pop();
                break;
            }
        }
        out.push_str(&kept);
        out.push('…');
    }
    out
}

/// [`sanitize`] for one-line places (names, previews, titles): line breaks become spaces.
pub fn sanitize_line(s: &str) -> String {
    sanitize(s).replace('\n', " ")
}

/// Columns one grapheme cluster takes, the way ratatui's buffer counts them.
pub fn grapheme_width(g: &str) -> usize {
    if g.contains(char::is_control) {
        return 0; // ratatui skips these; sanitised text has none
    }
    usize::from(g.cell_width())
}

/// Columns a (sanitised, single-line) string takes.
pub fn width(s: &str) -> usize {
    s.graphemes(true).map(grapheme_width).sum()
}

/// Cuts a single-line string to `max` columns, ending in `…` if anything was cut.
pub fn truncate(s: &str, max: usize) -> String {
    if width(s) <= max {
        return s.to_owned();
    }
    if max == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut used = 0;
    for g in s.graphemes(true) {
        let w = grapheme_width(g);
        if used + w > max - 1 {
            break;
        }
        out.push_str(g);
        used += w;
    }
    out.push('…');
    out
}

/// Wraps sanitised text into lines of at most `max` columns. Lines break at spaces where
/// possible, and beside a wide (CJK) character, which needs no space to break (Chinese has
/// none): but never before closing punctuation such as `，` `。` `）` or after opening
/// punctuation such as `（` `「`. Inside a word a line breaks only when the word alone is
/// too long (a long URL); a grapheme cluster is never split. `\n` always breaks. Empty text
/// gives one empty line.
pub fn wrap(s: &str, max: usize) -> Vec<String> {
    let max = max.max(2); // room for one wide character
    let mut lines = Vec::new();
    for paragraph in s.split('\n') {
        wrap_paragraph(paragraph, max, &mut lines);
    }
    lines
}

fn wrap_paragraph(p: &str, max: usize, lines: &mut Vec<String>) {
    let mut line = String::new();
    let mut line_width = 0usize;
    // Byte offset in `line` just after the last space, and the width up to there.
    let mut last_break: Option<(usize, usize)> = None;
    for g in p.graphemes(true) {
        let w = grapheme_width(g);
        if line_width + w > max && !line.is_empty() && g == " " {
            // A space at the edge is the break itself.
            lines.push(std::mem::take(&mut line));
            line_width = 0;
            last_break = None;
            continue;
        }
        // A break may come before `g`, between it and a wide neighbour.
        if let Some(prev) = line.graphemes(true).next_back()
            && (w == 2 || grapheme_width(prev) == 2)
            && !closes(g)
            && !opens(prev)
            && prev != " "
        {
            last_break = Some((line.len(), line_width));
        }
        while line_width + w > max && !line.is_empty() {
            match last_break.take() {
                Some((at, at_width)) if at < line.len() => {
                    let rest = line.split_off(at);
                    // Breaking after leading spaces would leave an empty line: drop them.
                    if !line.trim().is_empty() {
                        lines.push(line.trim_end_matches(' ').to_owned());
                    }
                    line = rest;
                    line_width -= at_width;
                }
                _ => {
                    lines.push(std::mem::take(&mut line));
                    line_width = 0;
                }
            }
        }
        line.push_str(g);
        line_width += w;
        if g == " " {
            last_break = Some((line.len(), line_width));
        }
    }
    lines.push(line);
}

/// Punctuation that does not start a line (it closes what comes before it).
fn closes(g: &str) -> bool {
    g.chars()
        .next()
        .is_some_and(|c| "，。、．：；！？）」』】〕〉》”’…—～·%,.;:!?)]}>".contains(c))
}

/// Punctuation that does not end a line (it opens what comes after it).
fn opens(g: &str) -> bool {
    g.chars()
        .next()
        .is_some_and(|c| "（「『【〔〈《“‘([{<".contains(c))
}

/// Number of lines [`wrap`] would give.
pub fn wrapped_height(s: &str, max: usize) -> usize {
    wrap(s, max).len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_strings_are_defused() {
        let table: &[(&str, &str)] = &[
            ("plain text", "plain text"),
            ("clear\x1b[2Jscreen", "clear^[[2Jscreen"),
            ("\x1b]0;pwned\x07title", "^[]0;pwned^Gtitle"),
            ("\x1b]52;c;aGk=\x07", "^[]52;c;aGk=^G"),
            (
                "\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\",
                "^[]8;;http://x^[\\link^[]8;;^[\\",
            ),
            ("up\x1b[5A", "up^[[5A"),
            ("\x1b[201~", "^[[201~"),
            ("c1\u{9b}31m", "c1<9B>31m"),
            ("a\u{202E}evil\u{202C}b", "aevilb"),
            ("zero\u{200B}width\u{FEFF}", "zerowidth"),
            ("nul\0bel\x07", "nul^@bel^G"),
            ("del\x7f", "del^?"),
            ("a\tb", "a   b"),
            ("ab\tc", "ab  c"),
            ("cr\r\nlf", "cr\nlf"),
            ("lone\rcr", "lone^Mcr"),
        ];
        for (input, expected) in table {
            assert_eq!(&sanitize(input), expected, "input {input:?}");
        }
    }

    #[test]
    fn combining_piles_are_capped() {
        let zalgo = format!("e{}", "\u{301}".repeat(200));
        let clean = sanitize(&zalgo);
        assert_eq!(clean, format!("e{}", "\u{301}".repeat(MAX_COMBINING)));
        // A mark with nothing to attach to is dropped.
        assert_eq!(sanitize("\u{301}x"), "x");
    }

    #[test]
    fn emoji_sequences_survive() {
        for s in [
            "👨\u{200D}👩\u{200D}👧\u{200D}👦",
            "🇨🇳",
            "👍🏽",
            "❤\u{FE0F}",
            "🏴\u{E0067}\u{E0062}\u{E0073}\u{E0063}\u{E0074}\u{E007F}",
        ] {
            assert_eq!(sanitize(s), s);
        }
        // Tags outside a flag are junk; so is a joiner chain longer than a family.
        assert_eq!(sanitize("a\u{E0041}b"), "ab");
        let chain = ["👨"; 10].join("\u{200D}");
        let clean = sanitize(&chain);
        let clusters: Vec<&str> = clean.graphemes(true).collect();
        assert_eq!(clusters.len(), 2, "{clusters:?}");
        for c in clusters {
            assert_eq!(c.matches('\u{200D}').count(), MAX_ZWJ);
        }
    }

    #[test]
    fn widths() {
        assert_eq!(width("abc"), 3);
        assert_eq!(width("你好"), 4);
        assert_eq!(width("e\u{301}"), 1);
        assert_eq!(width("🇨🇳"), 2);
        assert_eq!(width("👨\u{200D}👩\u{200D}👧"), 2);
    }

    #[test]
    fn truncate_respects_wide_chars() {
        assert_eq!(truncate("hello", 5), "hello");
        assert_eq!(truncate("hello world", 6), "hello…");
        assert_eq!(truncate("你好世界", 5), "你好…");
        assert_eq!(truncate("你好世界", 4), "你…");
        assert_eq!(truncate("abc", 0), "");
    }

    #[test]
    fn wrap_by_width() {
        assert_eq!(wrap("hello world foo", 11), vec!["hello world", "foo"]);
        assert_eq!(wrap("hello world", 5), vec!["hello", "world"]);
        assert_eq!(wrap("", 10), vec![""]);
        assert_eq!(wrap("a\nb", 10), vec!["a", "b"]);
        // CJK: 5 wide chars in 7 columns -> 3 + 2, never half a character.
        assert_eq!(wrap("一二三四五", 7), vec!["一二三", "四五"]);
        // A long URL is cut hard.
        assert_eq!(
            wrap("see https://example.com/abcdef", 10),
            vec!["see", "https://ex", "ample.com/", "abcdef"]
        );
        // Emoji and flags are kept whole.
        assert_eq!(wrap("🇨🇳🇨🇳🇨🇳", 5), vec!["🇨🇳🇨🇳", "🇨🇳"]);
        for line in wrap(&"中文 mixed 文字 text ".repeat(20), 13) {
            assert!(width(&line) <= 13, "{line:?}");
        }
    }

    #[test]
    fn chinese_breaks_between_characters_but_not_before_closing_punctuation() {
        // No spaces: the line fills up instead of moving the whole run down.
        assert_eq!(
            wrap("同一网络中运行 lanchat 的用户会自动出现在左侧。", 20),
            vec!["同一网络中运行", "lanchat 的用户会自动", "出现在左侧。"]
        );
        // "，" and "。" stay with the character before them; "（" with the one after.
        assert_eq!(wrap("一二三，四五", 6), vec!["一二", "三，四", "五"]);
        assert_eq!(wrap("一二（三四）", 6), vec!["一二", "（三", "四）"]);
        assert_eq!(wrap("你好。", 4), vec!["你", "好。"]);
        // Latin words beside Chinese still break at their spaces only.
        assert_eq!(wrap("中文abc def", 7), vec!["中文abc", "def"]);
        for line in wrap(&"今天天气很好，我们去吃饭吧！（好的）".repeat(10), 9) {
            assert!(width(&line) <= 9, "{line:?}");
            assert!(!line.starts_with(['，', '！', '）']), "{line:?}");
            assert!(!line.ends_with('（'), "{line:?}");
        }
    }
}
