//! Peer text on its way out of lanchat other than through the screen: the JSON lines of
//! `lanchat pipe` and `export --format jsonl`, and the Markdown and text exports. Whatever
//! reads them may print them to a terminal, so no character that a terminal acts on, or that
//! reorders the text around it, leaves as itself.
//!
//! One list, [`is_unsafe`], for both ways out:
//! - JSON escapes each as `\uXXXX`: lossless (a JSON parser gives back the exact text) but
//!   inert on a terminal. serde_json alone escapes only C0 controls, so a C1 CSI (U+009B)
//!   or a bidi override would leave raw.
//! - The human formats show each visibly ([`push_visible`]): C0 controls and DEL in caret
//!   notation (`^[`), C1 controls as `<9B>` (the screen's rule,
//!   [`super::push_visible_control`]), and bidi and line
//!   separator controls as `<U+202E>`, so a reader sees that something was there and what.

use serde::Serialize;
use std::io::{self, Write};

pub use super::{is_bidi_control, is_unsafe};

/// Writes `value` as one line of JSON (no newline) with every [`is_unsafe`] character
/// escaped.
pub fn write_json<W: Write, T: Serialize + ?Sized>(out: W, value: &T) -> io::Result<()> {
    let mut ser = serde_json::Serializer::with_formatter(out, InertFormatter);
    value.serialize(&mut ser).map_err(io::Error::from)
}

/// [`write_json`] into a new buffer, with a newline: one JSON line.
pub fn json_line<T: Serialize + ?Sized>(value: &T) -> io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(128);
    write_json(&mut out, value)?;
    out.push(b'\n');
    Ok(out)
}

/// serde_json's compact format, but string contents are written with [`is_unsafe`]
/// characters as `\uXXXX`. (serde_json escapes quotes, backslashes and C0 controls itself
/// before it hands over a fragment; the rest of the list is escaped here.)
struct InertFormatter;

impl serde_json::ser::Formatter for InertFormatter {
    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            if is_unsafe(c) {
                writer.write_all(&fragment.as_bytes()[start..i])?;
                // Everything listed is in the Basic Multilingual Plane: four digits.
                write!(writer, "\\u{:04x}", u32::from(c))?;
                start = i + c.len_utf8();
            }
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }
}

/// Pushes `c` to `out` as the human formats show it: [`is_unsafe`] characters visibly (see
/// the module docs), newlines and tabs and everything else as themselves.
pub fn push_visible(out: &mut String, c: char) {
    match c {
        '\n' | '\t' => out.push(c),
        c if c.is_control() => super::push_visible_control(out, c),
        c if is_unsafe(c) => out.push_str(&format!("<U+{:04X}>", u32::from(c))),
        c => out.push(c),
    }
}

/// `s` with [`push_visible`] applied to each character.
pub fn visible(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        push_visible(&mut out, c);
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    const HOSTILE: &str = "a\u{9b}2Jb\u{1b}[2J\u{202e}evil\u{202c}\u{2066}x\u{2069}\u{200e}\u{200f}\u{61c}\u{85}\u{7f}\u{2028}\"\\ 张 🙂";

    #[test]
    fn json_escapes_every_unsafe_character_and_reads_back_exactly() {
        #[derive(Serialize)]
        struct M<'a> {
            text: &'a str,
            list: Vec<&'a str>,
        }
        let line = json_line(&M {
            text: HOSTILE,
            list: vec![HOSTILE],
        })
        .unwrap();
        let text = String::from_utf8(line.clone()).unwrap();
        assert!(text.ends_with('\n') && text.matches('\n').count() == 1);
        assert!(!text.chars().any(|c| is_unsafe(c) && c != '\n'), "{text:?}");
        for esc in [
            "\\u009b", "\\u001b", "\\u202e", "\\u202c", "\\u2066", "\\u2069", "\\u200e", "\\u200f",
            "\\u061c", "\\u0085", "\\u007f", "\\u2028",
        ] {
            assert!(text.contains(esc), "{esc} in {text}");
        }
        // Harmless text is left as it is.
        assert!(
            text.contains("张 🙂") && text.contains("\\\"\\\\"),
            "{text}"
        );
        let back: serde_json::Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(back["text"], HOSTILE);
        assert_eq!(back["list"][0], HOSTILE);
    }

    #[test]
    fn the_human_formats_show_each_unsafe_character() {
        assert_eq!(
            visible(HOSTILE),
            "a<9B>2Jb^[[2J<U+202E>evil<U+202C><U+2066>x<U+2069><U+200E><U+200F><U+061C><85>^?<U+2028>\"\\ 张 🙂"
        );
        assert_eq!(visible("two\n\tlines"), "two\n\tlines");
    }

    proptest::proptest! {
        #[test]
        fn any_text_round_trips_through_json_and_leaves_nothing_unsafe(s in "\\PC*|[\\u{0}-\\u{a0}\\u{2000}-\\u{2070}]*") {
            let line = json_line(&s).unwrap();
            let text = String::from_utf8(line).unwrap();
            proptest::prop_assert!(!text.trim_end_matches('\n').chars().any(is_unsafe));
            let back: String = serde_json::from_str(&text).unwrap();
            proptest::prop_assert_eq!(back, s.clone());
            proptest::prop_assert!(!visible(&s).chars().any(|c| is_unsafe(c) && c != '\n' && c != '\t'));
        }
    }
}
