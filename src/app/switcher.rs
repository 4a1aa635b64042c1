//! Getting around by typing: the quick switcher (Ctrl-K on an empty input) and Tab
//! completion of /commands and @names.

use super::App;
use super::commands::{self, COMMANDS, Completion};
use super::keymap::Action;
use crate::proto::ConversationId;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Switcher {
    pub filter: String,
    pub selected: usize,
    /// Lists only the strangers (the sidebar's Strangers row, opened).
    pub strangers: bool,
}

/// The longest prefix all `words` share.
pub(super) fn common_prefix<'a>(words: &[&'a str]) -> &'a str {
    let Some(first) = words.first() else {
        return "";
    };
    let mut len = first.len();
    for w in &words[1..] {
        len = first
            .char_indices()
            .zip(w.chars())
            .take_while(|((_, a), b)| a == b)
            .last()
            .map_or(0, |((i, a), _)| i + a.len_utf8())
            .min(len);
    }
    &first[..len]
}

impl App {
    /// Conversations whose name contains the filter (case-insensitively), in sidebar order.
    pub fn switcher_matches(&self, filter: &str) -> Vec<ConversationId> {
        let filter = filter.to_lowercase();
        self.conversations
            .iter()
            .filter(|c| self.title(&c.id).to_lowercase().contains(&filter))
            .map(|c| c.id)
            .collect()
    }

    /// What the switcher lists: every conversation matching its filter, or (opened from
    /// the Strangers row) only the strangers, most recent first.
    pub fn switcher_list(&self, sw: &Switcher) -> Vec<ConversationId> {
        let mut ids = self.switcher_matches(&sw.filter);
        if sw.strangers {
            ids.retain(|id| self.conversation(id).is_some_and(|c| self.folds(c)));
        }
        ids
    }

    /// An action while the switcher (or the list of strangers) is open.
    pub(super) fn switcher_action(&mut self, action: Action) {
        let Some(mut sw) = self.switcher.take() else {
            return;
        };
        let matches = self.switcher_list(&sw);
        match action {
            Action::Open => {
                if let Some(id) = matches.get(sw.selected).copied() {
                    self.select(id);
                }
                return;
            }
            Action::Up => sw.selected = sw.selected.saturating_sub(1),
            Action::Down => sw.selected = (sw.selected + 1).min(matches.len().saturating_sub(1)),
            Action::Backspace => {
                sw.filter.pop();
                sw.selected = 0;
            }
            _ => {}
        }
        self.switcher = Some(sw);
    }

    /// A character typed while the switcher is open: it goes into the filter.
    pub(super) fn switcher_type(&mut self, c: char) {
        if let Some(sw) = self.switcher.as_mut() {
            sw.filter.push(c);
            sw.selected = 0;
        }
    }

    /// Tab: completes a /command at the start of the input, or an @name before the cursor;
    /// with nothing to complete, goes to the next conversation.
    pub(super) fn complete(&mut self) -> Vec<super::Effect> {
        let (start, word) = self.input.word_before_cursor();
        let word = word.to_owned();
        if start == 0 && word.starts_with('/') && !word.starts_with("//") {
            let typed = &word[1..];
            let hits: Vec<&str> = COMMANDS
                .iter()
                .map(|c| c.name)
                .filter(|c| c.starts_with(typed))
                .collect();
            match hits.as_slice() {
                [] => {}
                [one] => self.input.replace_before_cursor(0, &format!("/{one} ")),
                many => {
                    let prefix = common_prefix(many);
                    self.input.replace_before_cursor(0, &format!("/{prefix}"));
                    self.notice = Some(super::Notice::Info(
                        many.iter()
                            .map(|c| format!("/{c}"))
                            .collect::<Vec<_>>()
                            .join("  "),
                    ));
                }
            }
            return Vec::new();
        }
        // In a command's argument, Tab completes what the command takes, and nothing else.
        let text = self.input.text();
        if text.starts_with('/') && !text.starts_with("//") {
            let name = text[1..].split(char::is_whitespace).next().unwrap_or("");
            if let Some(def) = commands::find(name) {
                match def.completes {
                    Completion::Nothing => {}
                    Completion::Path => return self.complete_path(),
                    Completion::PeerAddress => {
                        let mut addrs: Vec<String> =
                            self.peers.values().map(|p| p.addr.to_string()).collect();
                        addrs.sort();
                        addrs.dedup();
                        addrs.retain(|a| a.starts_with(&word));
                        let refs: Vec<&str> = addrs.iter().map(String::as_str).collect();
                        match refs.as_slice() {
                            [] => {}
                            [one] => self.input.replace_before_cursor(start, one),
                            many => {
                                let prefix = common_prefix(many);
                                self.input.replace_before_cursor(start, prefix);
                            }
                        }
                    }
                }
                return Vec::new();
            }
        }
        if let Some(typed) = word.strip_prefix('@') {
            let typed = typed.to_lowercase();
            let mut names: Vec<String> = self
                .peers
                .values()
                .map(|p| p.name.clone())
                .filter(|n| {
                    !n.contains(char::is_whitespace) && n.to_lowercase().starts_with(&typed)
                })
                .collect();
            names.sort();
            names.dedup();
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            match refs.as_slice() {
                [] => {}
                [one] => self.input.replace_before_cursor(start, &format!("@{one} ")),
                many => {
                    let prefix = common_prefix(many);
                    self.input
                        .replace_before_cursor(start, &format!("@{prefix}"));
                }
            }
            return Vec::new();
        }
        self.cycle(1);
        Vec::new()
    }
}
