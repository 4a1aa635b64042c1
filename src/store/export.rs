//! Writing history out as Markdown, plain text or JSON lines.
//!
//! Messages are streamed from the database, never loaded all at once. Times are UTC,
//! ISO-8601, and `received_at_ms` (this machine's clock, what the UI shows). Names follow the
//! one rule of [`crate::message::display_name`] (alias, else the peer's announced name, else
//! the short key); mine are "me" ("我" in Chinese: the words of the human formats follow the
//! interface language, see [`Store::export_in`]). A recalled message is said to be so.
//! Peer text leaves inert, by one rule for all three formats ([`crate::text::inert`]): the
//! Markdown and text formats are for people, so control, C1 and bidi characters are shown
//! visibly (`^[`, `<9B>`, `<U+202E>`) and Markdown syntax in names and text is escaped; JSON
//! lines keep the text exactly, with those characters as `\uXXXX` escapes.

use super::{
    At, Author, MESSAGE_COLUMNS, MESSAGE_FROM, Store, StoreError, StoredMessage,
    conversation_from_key, conversation_key, message_from_row,
};
use crate::i18n::Lang;
use crate::message::{Change, chosen_name, display_name, short_id};
use crate::proto::{ConversationId, NodeId};
use crate::text::inert::{push_visible, visible};
pub(crate) use crate::text::time::iso_utc;
use crate::tr;
use std::collections::HashMap;
use std::io::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// `# title` per conversation, then a `**name** (time): text` paragraph per message.
    Markdown,
    /// `== title ==` per conversation, then `[time] name: text` per message; continuation
    /// lines of a message are indented by four spaces.
    Text,
    /// One JSON object per message: `conversation`, `id` (16 hex digits), `author` (`me`, 64
    /// hex digits or `ip:port`), `time`, `text`, `state` (or `null`).
    JsonLines,
}

#[derive(serde::Serialize)]
struct JsonMessage<'a> {
    conversation: &'a str,
    id: String,
    author: String,
    time: String,
    text: &'a str,
    state: Option<&'static str>,
    /// Its author took it back (the text is gone).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    recalled: bool,
}

/// Display names for the human formats.
struct Names {
    /// Conversation key to alias.
    aliases: HashMap<String, String>,
    /// Peer key (64 hex) to announced name.
    peers: HashMap<String, String>,
    /// The language of the words the export adds ("me", "recalled").
    lang: Lang,
}

impl Names {
    /// My alias for `who` and the name it gave, by the keys they are kept under.
    fn known(&self, who: &ConversationId) -> (Option<&str>, Option<&str>) {
        let key = conversation_key(who);
        (
            self.aliases.get(&key).map(String::as_str),
            self.peers.get(&key).map(String::as_str),
        )
    }

    fn title(&self, conv: &ConversationId) -> String {
        let (alias, name) = self.known(conv);
        let short = short_id(conv);
        match chosen_name(conv, alias, name) {
            Some(name) => format!("{name} ({short})"),
            None => short,
        }
    }

    fn author(&self, author: &Author) -> String {
        let Some(who) = author.who() else {
            return tr!(self.lang, "store-export-me");
        };
        let (alias, name) = self.known(&who);
        display_name(&who, alias, name)
    }
}

impl Store {
    /// Writes one conversation (or all, in the order they started) to `out`. Returns the
    /// number of messages written. Conversations without messages are left out.
    pub fn export(
        &self,
        conv: Option<&ConversationId>,
        format: ExportFormat,
        out: &mut dyn Write,
    ) -> Result<usize, StoreError> {
        self.export_in(conv, format, out, Lang::En)
    }

    /// [`Store::export`], with the words it adds to the human formats in `lang`.
    pub fn export_in(
        &self,
        conv: Option<&ConversationId>,
        format: ExportFormat,
        out: &mut dyn Write,
        lang: Lang,
    ) -> Result<usize, StoreError> {
        let path = &self.path;
        let names = self.names(lang)?;
        let convs: Vec<(i64, String)> = match conv {
            Some(c) => self
                .conn
                .prepare_cached("SELECT cid, key FROM conversations WHERE key = ?1")
                .at(path)?
                .query_map([conversation_key(c)], |r| Ok((r.get(0)?, r.get(1)?)))
                .at(path)?
                .collect::<rusqlite::Result<_>>()
                .at(path)?,
            None => self
                .conn
                .prepare_cached(
                    "SELECT c.cid, c.key FROM conversations c
                     WHERE EXISTS (SELECT 1 FROM messages m WHERE m.conversation = c.cid)
                     ORDER BY (SELECT min(m.seq) FROM messages m WHERE m.conversation = c.cid)",
                )
                .at(path)?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .at(path)?
                .collect::<rusqlite::Result<_>>()
                .at(path)?,
        };
        let mut by_seq = self
            .conn
            .prepare_cached(&format!(
                "SELECT {MESSAGE_COLUMNS} FROM {MESSAGE_FROM}
                 WHERE m.conversation = ?1 ORDER BY m.seq"
            ))
            .at(path)?;
        // A group's messages in the group's order, as its members see them.
        let mut by_order = self
            .conn
            .prepare_cached(&format!(
                "SELECT {MESSAGE_COLUMNS} FROM {MESSAGE_FROM}
                 WHERE m.conversation = ?1 ORDER BY m.ord, m.seq"
            ))
            .at(path)?;
        let mut written = 0;
        for (cid, key) in convs {
            let Some(conv) = conversation_from_key(&key) else {
                continue;
            };
            let title = names.title(&conv);
            let stmt = match conv {
                ConversationId::Group(_) => &mut by_order,
                _ => &mut by_seq,
            };
            let mut rows = stmt.query([cid]).at(path)?;
            let mut first = true;
            while let Some(row) = rows.next().at(path)? {
                let m = message_from_row(row, conv, 0, None).at(path)?;
                if first {
                    first = false;
                    match format {
                        ExportFormat::Markdown => write!(out, "# {}\n\n", md_inline(&title)),
                        ExportFormat::Text => writeln!(out, "== {} ==", visible(&title)),
                        ExportFormat::JsonLines => Ok(()),
                    }
                    .map_err(StoreError::Write)?;
                }
                write_message(out, format, &names, &key, &m).map_err(StoreError::Write)?;
                written += 1;
            }
            if !first && format == ExportFormat::Text {
                writeln!(out).map_err(StoreError::Write)?;
            }
        }
        out.flush().map_err(StoreError::Write)?;
        Ok(written)
    }

    fn names(&self, lang: Lang) -> Result<Names, StoreError> {
        let path = &self.path;
        let aliases = self
            .conn
            .prepare_cached("SELECT key, alias FROM conversations WHERE alias IS NOT NULL")
            .at(path)?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .at(path)?
            .collect::<rusqlite::Result<_>>()
            .at(path)?;
        let mut peers: HashMap<String, String> = self
            .conn
            .prepare_cached("SELECT id, name FROM peers")
            .at(path)?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .at(path)?
            .collect::<rusqlite::Result<_>>()
            .at(path)?;
        // A group's name is its members' word, kept with it as a peer's is.
        let groups: Vec<(String, String)> = self
            .conn
            .prepare_cached("SELECT key, name FROM groups")
            .at(path)?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .at(path)?
            .collect::<rusqlite::Result<_>>()
            .at(path)?;
        peers.extend(groups);
        Ok(Names {
            aliases,
            peers,
            lang,
        })
    }
}

fn write_message(
    out: &mut dyn Write,
    format: ExportFormat,
    names: &Names,
    conv_key: &str,
    m: &StoredMessage,
) -> std::io::Result<()> {
    let recalled = tr!(names.lang, "store-export-recalled");
    let change = m
        .group
        .as_ref()
        .and_then(|g| g.change.as_ref())
        .map(|c| change_line(names, &m.author, c));
    let text = match &change {
        Some(line) => line,
        None if m.recalled => &recalled,
        None => &m.text,
    };
    match format {
        ExportFormat::Markdown => write!(
            out,
            "**{}** ({}): {}\n\n",
            md_inline(&names.author(&m.author)),
            iso_utc(m.received_at_ms, false),
            md_text(text)
        ),
        ExportFormat::Text => writeln!(
            out,
            "[{}] {}: {}",
            iso_utc(m.received_at_ms, false),
            visible(&names.author(&m.author)),
            visible(text).replace('\n', "\n    ")
        ),
        ExportFormat::JsonLines => {
            let line = JsonMessage {
                conversation: conv_key,
                id: m.id.to_string(),
                author: m.author.key(),
                time: iso_utc(m.received_at_ms, true),
                text: change.as_deref().unwrap_or(&m.text),
                state: m.state.map(|s| s.as_str()),
                recalled: m.recalled,
            };
            out.write_all(&crate::text::inert::json_line(&line)?)
        }
    }
}

/// A group's membership change as the export says it ("alice added bob"), in the
/// export's language.
fn change_line(names: &Names, author: &Author, c: &Change) -> String {
    let name = |k: &NodeId| names.author(&Author::Peer(*k));
    let list = |ks: &[NodeId]| ks.iter().map(name).collect::<Vec<_>>().join(", ");
    let who = names.author(author);
    let lang = names.lang;
    match c {
        Change::Created { name: n, .. } => {
            tr!(lang, "group-created", who = who, name = n.clone())
        }
        Change::Invited(ks) => tr!(lang, "group-added", who = who, whom = list(ks)),
        Change::Left => tr!(lang, "group-left", who = who),
        Change::Removed(k) => tr!(lang, "group-removed", who = who, whom = name(k)),
        Change::Renamed(n) => tr!(lang, "group-renamed", who = who, name = n.clone()),
        Change::Handover(k) => tr!(lang, "group-handover", who = who, whom = name(k)),
    }
}

/// Escapes the characters that Markdown (CommonMark + GFM) would take as inline syntax.
fn md_inline(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(
            c,
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '&' | '~' | '|'
        ) {
            out.push('\\');
        }
        push_visible(&mut out, c);
    }
    out
}

/// A message's text as one Markdown paragraph: inline syntax escaped, line breaks kept as
/// hard breaks, and continuation lines kept from starting a heading, list or rule.
fn md_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for (i, line) in s.split('\n').enumerate() {
        if i > 0 {
            out.push_str("  \n");
            let body = line.trim_start_matches(' ');
            out.push_str(&line[..line.len() - body.len()]);
            let digits = body.bytes().take_while(u8::is_ascii_digit).count();
            let marker = body.as_bytes().get(digits).copied();
            if digits == 0 && matches!(marker, Some(b'#' | b'-' | b'+' | b'=')) {
                out.push('\\');
                out.push_str(&md_inline(body));
            } else if digits > 0 && matches!(marker, Some(b'.' | b')')) {
                out.push_str(&body[..digits]);
                out.push('\\');
                out.push_str(&md_inline(&body[digits..]));
            } else {
                out.push_str(&md_inline(body));
            }
        } else {
            out.push_str(&md_inline(line));
        }
    }
    out
}
