//! The input line: a string and a cursor that moves by grapheme cluster.

use unicode_segmentation::UnicodeSegmentation;

/// Most bytes the input holds; a paste beyond this is cut (and the app says so).
pub const MAX_INPUT_BYTES: usize = 256 * 1024;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Editor {
    text: String,
    /// Byte offset, always on a grapheme boundary.
    cursor: usize,
    /// The text the last kill removed, for Ctrl-Y.
    killed: String,
}

impl Editor {
    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn cursor(&self) -> usize {
        self.cursor
    }

    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// Empties the editor and returns what it held.
    pub fn take(&mut self) -> String {
        self.cursor = 0;
        std::mem::take(&mut self.text)
    }

    pub fn set(&mut self, text: &str) {
        self.text = text.to_owned();
        self.cursor = self.text.len();
    }

    /// Inserts at the cursor. Returns false if the text had to be cut to fit
    /// [`MAX_INPUT_BYTES`].
    pub fn insert(&mut self, s: &str) -> bool {
        let room = MAX_INPUT_BYTES.saturating_sub(self.text.len());
        let mut cut = s.len().min(room);
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        self.text.insert_str(self.cursor, &s[..cut]);
        self.cursor += cut;
        self.snap();
        cut == s.len()
    }

    pub fn insert_char(&mut self, c: char) -> bool {
        let mut buf = [0u8; 4];
        self.insert(c.encode_utf8(&mut buf))
    }

    /// After an insertion the cursor may sit inside a cluster that the new text joined
    /// (a combining mark typed after a letter); move it to the cluster's end.
    fn snap(&mut self) {
        if !self.boundaries().any(|b| b == self.cursor) {
            self.cursor = self.next_boundary(self.cursor);
        }
    }

    fn boundaries(&self) -> impl Iterator<Item = usize> + '_ {
        self.text
            .grapheme_indices(true)
            .map(|(i, _)| i)
            .chain(std::iter::once(self.text.len()))
    }

    fn prev_boundary(&self, at: usize) -> usize {
        self.text[..at]
            .grapheme_indices(true)
            .next_back()
            .map_or(0, |(i, _)| i)
    }

    fn next_boundary(&self, at: usize) -> usize {
        self.boundaries()
            .find(|b| *b > at)
            .unwrap_or(self.text.len())
    }

    pub fn left(&mut self) {
        self.cursor = self.prev_boundary(self.cursor);
    }

    pub fn right(&mut self) {
        self.cursor = self.next_boundary(self.cursor);
    }

    pub fn home(&mut self) {
        self.cursor = 0;
    }

    pub fn end(&mut self) {
        self.cursor = self.text.len();
    }

    pub fn backspace(&mut self) {
        let start = self.prev_boundary(self.cursor);
        self.text.replace_range(start..self.cursor, "");
        self.cursor = start;
    }

    pub fn delete(&mut self) {
        let end = self.next_boundary(self.cursor);
        self.text.replace_range(self.cursor..end, "");
    }

    pub fn kill_to_start(&mut self) {
        self.killed = self.text[..self.cursor].to_owned();
        self.text.replace_range(..self.cursor, "");
        self.cursor = 0;
    }

    pub fn kill_to_end(&mut self) {
        self.killed = self.text[self.cursor..].to_owned();
        self.text.truncate(self.cursor);
    }

    /// Puts back what the last kill removed (readline's Ctrl-Y).
    pub fn yank(&mut self) -> bool {
        let killed = self.killed.clone();
        self.insert(&killed)
    }

    /// Deletes from the cursor to the end of the next word (readline's Alt-D).
    pub fn delete_word_forward(&mut self) {
        let end = self.word_end();
        self.killed = self.text[self.cursor..end].to_owned();
        self.text.replace_range(self.cursor..end, "");
    }

    /// The word just before the cursor (what completion works on) and where it starts.
    pub fn word_before_cursor(&self) -> (usize, &str) {
        let start = self.text[..self.cursor]
            .char_indices()
            .rev()
            .find(|(_, c)| c.is_whitespace())
            .map_or(0, |(i, c)| i + c.len_utf8());
        (start, &self.text[start..self.cursor])
    }

    /// Replaces `start..cursor` with `with` and puts the cursor after it.
    pub fn replace_before_cursor(&mut self, start: usize, with: &str) {
        self.text.replace_range(start..self.cursor, with);
        self.cursor = start + with.len();
    }

    /// Start of the word before the cursor (skipping spaces first), as readline's Ctrl-W.
    fn word_start(&self) -> usize {
        let before = &self.text[..self.cursor];
        let trimmed = before.trim_end();
        trimmed
            .char_indices()
            .rev()
            .find(|(_, c)| c.is_whitespace())
            .map_or(0, |(i, c)| i + c.len_utf8())
    }

    fn word_end(&self) -> usize {
        let after = &self.text[self.cursor..];
        let skipped = after.len() - after.trim_start().len();
        let rest = &after[skipped..];
        let word = rest.find(char::is_whitespace).unwrap_or(rest.len());
        self.cursor + skipped + word
    }

    pub fn delete_word_back(&mut self) {
        let start = self.word_start();
        self.killed = self.text[start..self.cursor].to_owned();
        self.text.replace_range(start..self.cursor, "");
        self.cursor = start;
    }

    pub fn word_left(&mut self) {
        self.cursor = self.word_start();
    }

    pub fn word_right(&mut self) {
        self.cursor = self.word_end();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ed(text: &str) -> Editor {
        let mut e = Editor::default();
        e.insert(text);
        e
    }

    #[test]
    fn moves_by_grapheme_over_wide_and_combining_text() {
        // "e" + combining acute, a CJK char, a family emoji (ZWJ sequence), a flag.
        let mut e = ed("e\u{301}中👨\u{200d}👩\u{200d}👧🇨🇳");
        e.home();
        let mut stops = vec![e.cursor()];
        for _ in 0..5 {
            e.right();
            stops.push(e.cursor());
        }
        assert_eq!(stops, vec![0, 3, 6, 24, 32, 32]);
        e.backspace();
        assert_eq!(e.text(), "e\u{301}中👨\u{200d}👩\u{200d}👧");
        e.left();
        e.backspace();
        assert_eq!(e.text(), "e\u{301}👨\u{200d}👩\u{200d}👧");
        e.home();
        e.delete();
        assert_eq!(e.text(), "👨\u{200d}👩\u{200d}👧");
    }

    #[test]
    fn combining_mark_typed_after_letter_keeps_cursor_on_boundary() {
        let mut e = ed("e");
        e.insert_char('\u{301}');
        assert_eq!(e.cursor(), e.text().len());
        e.left();
        assert_eq!(e.cursor(), 0);
    }

    #[test]
    fn readline_kills_and_words() {
        let mut e = ed("hello big world");
        e.delete_word_back();
        assert_eq!(e.text(), "hello big ");
        e.delete_word_back();
        assert_eq!(e.text(), "hello ");
        e.word_left();
        assert_eq!(e.cursor(), 0);
        e.word_right();
        assert_eq!(e.cursor(), 5);
        e.kill_to_end();
        assert_eq!(e.text(), "hello");
        e.left();
        e.kill_to_start();
        assert_eq!((e.text(), e.cursor()), ("o", 0));
        assert_eq!(e.take(), "o");
        assert!(e.is_empty());
    }

    #[test]
    fn insert_is_capped() {
        let mut e = Editor::default();
        assert!(!e.insert(&"字".repeat(MAX_INPUT_BYTES)));
        assert!(e.text().len() <= MAX_INPUT_BYTES);
        assert!(e.text().len() > MAX_INPUT_BYTES - 3);
    }
}
