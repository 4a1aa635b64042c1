//! What the screen's geometry needs of the model, as the plain values [`crate::layout`]
//! takes: the model scrolls and takes clicks by the same layout the view draws with.

use super::{App, Message};
use crate::layout::{self, Screen, Shape, Shaped};
use crate::proto::{ConversationId, NodeId};
use crate::text;
use crate::tr;

impl Shaped for Message {
    fn shape(&self) -> Shape<'_> {
        Shape {
            text: &self.text,
            quoted: self.quote.is_some(),
            // A group's membership change is one line, as a recall is.
            recalled: self.recalled || self.change().is_some(),
            time_ms: self.time_ms,
            file: self.file.is_some(),
            preview_rows: self.file.as_ref().map_or(0, |f| f.preview_rows),
        }
    }
}

/// The first two groups of a key's fingerprint: enough to tell keys apart at a glance.
pub fn short_fp(id: &NodeId) -> String {
    let fp = crate::proto::fingerprint(id);
    fp.split(' ').take(2).collect::<Vec<_>>().join(" ")
}

impl App {
    /// The screen as the layout sees it.
    pub fn screen(&self) -> Screen<'_> {
        Screen {
            size: self.size,
            show_sidebar: self.show_sidebar,
            sidebar_overlay: self.sidebar_overlay,
            input: self.input.text(),
            cursor: self.input.cursor(),
            replying: self.replying.is_some(),
            banner: self.banner(),
        }
    }

    /// Columns and rows of the message pane, under the banner.
    pub fn message_pane_size(&self) -> (u16, u16) {
        layout::message_pane_size(&self.screen())
    }

    /// The banner over the open conversation (unwrapped): an identity change waiting for a
    /// decision, or plain text at a lanchat peer's address; `None` when neither.
    pub fn banner(&self) -> Option<String> {
        let id = self.selected?;
        if let Some(c) = self.identity_change(&id) {
            let name = text::sanitize_line(&self.title(&ConversationId::Peer(c.previous)));
            return Some(tr!(
                self.lang,
                "app-banner-key-changed",
                name = name,
                new = short_fp(&c.new),
                old = short_fp(&c.previous)
            ));
        }
        let ConversationId::Raw(addr) = id else {
            return None;
        };
        let owner = self.lanchat_owner(&addr)?;
        let name = text::sanitize_line(&self.title(&ConversationId::Peer(owner)));
        let addr = addr.to_string();
        Some(if self.plain_ok.contains(&id) {
            tr!(
                self.lang,
                "app-banner-plain-chosen",
                addr = addr,
                name = name
            )
        } else {
            tr!(
                self.lang,
                "app-banner-plain-other",
                addr = addr,
                name = name
            )
        })
    }

    /// The help's lines, made from the keys in effect and the command table
    /// ([`App::help`]): the main screen's keys and the commands, then each mode under its
    /// heading.
    pub fn help_lines(&self) -> Vec<String> {
        let help = self.help();
        let key_w = help
            .iter()
            .flat_map(|s| &s.rows)
            .map(|(k, _)| text::width(k))
            .max()
            .unwrap_or(0);
        let mut lines: Vec<String> = Vec::new();
        for section in &help {
            if let Some(title) = &section.title {
                lines.push(String::new());
                lines.push(tr!(self.lang, "app-help-heading", title = title.as_str()));
            }
            for (k, what) in &section.rows {
                let pad = key_w.saturating_sub(text::width(k));
                lines.push(format!("{k}{}  {what}", " ".repeat(pad)));
            }
        }
        lines
    }

    /// How far the help can scroll on this terminal.
    pub fn help_max_scroll(&self) -> usize {
        layout::help_max_scroll(&self.help_lines(), self.size)
    }
}
