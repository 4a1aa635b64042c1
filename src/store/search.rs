//! Substring search over all messages.
//!
//! Queries of 3 or more characters go through the FTS5 trigram index as one quoted phrase,
//! which is an exact (case-insensitive) substring match. The trigram index cannot answer
//! shorter queries, and most Chinese words are two characters (吃饭, 天气), so 1-2 character
//! queries scan the newest [`SHORT_QUERY_SCAN`] messages with an escaped `LIKE`, newest first,
//! stopping at `limit` hits.

use super::{At, Store, StoreError, col_author, col_conversation, col_msg_id, sql_limit};
use crate::message::Hit;
use std::ops::Range;

/// How many of the newest messages a 1-2 character query looks at, at most.
pub const SHORT_QUERY_SCAN: i64 = 1_000_000;

const HIT_COLUMNS: &str = "m.seq, c.key, m.id, a.key, m.received_at_ms, m.text";

impl Store {
    /// Messages containing `query` (trimmed; ASCII case-insensitive), newest first, across
    /// all conversations. The query is plain text: quotes, `%`, `_`, `*` and FTS5 operators
    /// such as `AND` or `NEAR(` are matched literally.
    pub fn search(&self, query: &str, limit: usize) -> Result<Vec<Hit>, StoreError> {
        let query = query.trim();
        let chars = query.chars().count();
        // SQLite reads LIKE patterns and FTS5 queries as C strings: a NUL would cut the query
        // short (and over-match). Typed text never has one.
        if chars == 0 || limit == 0 || query.contains('\0') {
            return Ok(Vec::new());
        }
        let path = &self.path;
        let pattern = format!("%{}%", escape_like(query));
        let mut hits = if chars >= 3 {
            // Messages not in the index yet (the newest; see `Store::defer_indexing`) are
            // scanned, the rest found through the index.
            let indexed = self.number("SELECT indexed_seq FROM search_mark")?;
            let mut hits = self.scan(indexed, &pattern, limit)?;
            // One FTS5 string: everything inside double quotes is literal, `"` is doubled.
            let phrase = format!("\"{}\"", query.replace('"', "\"\""));
            let mut stmt = self
                .conn
                .prepare_cached(&format!(
                    "SELECT {HIT_COLUMNS}
                     FROM (SELECT rowid AS seq FROM messages_fts WHERE messages_fts MATCH ?1
                           ORDER BY rowid DESC LIMIT ?2) h
                     CROSS JOIN messages m ON m.seq = h.seq
                     CROSS JOIN conversations c ON c.cid = m.conversation
                     CROSS JOIN authors a ON a.aid = m.author
                     ORDER BY h.seq DESC"
                ))
                .at(path)?;
            let rows = stmt
                .query_map(
                    rusqlite::params![phrase, sql_limit(limit - hits.len())],
                    hit_from_row,
                )
                .at(path)?;
            hits.extend(rows.collect::<rusqlite::Result<Vec<_>>>().at(path)?);
            hits
        } else {
            let newest = self.number("SELECT coalesce(max(seq), 0) FROM messages")?;
            self.scan(newest - SHORT_QUERY_SCAN, &pattern, limit)?
        };
        for hit in &mut hits {
            hit.matches = find_matches(&hit.text, query);
        }
        Ok(hits)
    }
}

impl Store {
    /// Messages after `after_seq` whose text is `LIKE` the escaped `pattern`, newest first,
    /// at most `limit`.
    fn scan(&self, after_seq: i64, pattern: &str, limit: usize) -> Result<Vec<Hit>, StoreError> {
        let path = &self.path;
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {HIT_COLUMNS}
                 FROM messages m
                 CROSS JOIN conversations c ON c.cid = m.conversation
                 CROSS JOIN authors a ON a.aid = m.author
                 WHERE m.seq > ?3 AND m.text LIKE ?1 ESCAPE '\\'
                 ORDER BY m.seq DESC LIMIT ?2"
            ))
            .at(path)?;
        let rows = stmt
            .query_map(
                rusqlite::params![pattern, sql_limit(limit), after_seq],
                hit_from_row,
            )
            .at(path)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().at(path)
    }

    fn number(&self, sql: &str) -> Result<i64, StoreError> {
        self.conn
            .prepare_cached(sql)
            .at(&self.path)?
            .query_row([], |r| r.get(0))
            .at(&self.path)
    }
}

fn hit_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Hit> {
    Ok(Hit {
        seq: r.get(0)?,
        conversation: col_conversation(r, 1)?,
        id: col_msg_id(r, 2)?,
        author: col_author(r, 3)?,
        time_ms: r.get(4)?,
        text: r.get(5)?,
        matches: Vec::new(),
    })
}

/// `LIKE` treats `%` and `_` as wildcards; with `ESCAPE '\'` a backslash makes them literal.
fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// One character compared case-insensitively (where lower-casing gives a single character,
/// which covers ASCII and most scripts with case).
fn fold(c: char) -> char {
    let mut lower = c.to_lowercase();
    match (lower.next(), lower.next()) {
        (Some(l), None) => l,
        _ => c,
    }
}

/// Byte ranges of the non-overlapping occurrences of `query` in `text`, case-insensitively.
pub(crate) fn find_matches(text: &str, query: &str) -> Vec<Range<usize>> {
    let needle: Vec<char> = query.chars().map(fold).collect();
    let mut out = Vec::new();
    if needle.is_empty() {
        return out;
    }
    let mut skip_until = 0;
    for (start, _) in text.char_indices() {
        if start < skip_until {
            continue;
        }
        let mut end = start;
        let mut matched = 0;
        for (i, c) in text.get(start..).unwrap_or("").char_indices() {
            if needle.get(matched) != Some(&fold(c)) {
                break;
            }
            matched += 1;
            if matched == needle.len() {
                end = start + i + c.len_utf8();
                break;
            }
        }
        if matched == needle.len() {
            out.push(start..end);
            skip_until = end;
        }
    }
    out
}
