//! Searching the history: `/search TEXT` (or Ctrl-F), a list of hits, Enter jumps to one.

use super::keymap::Action;
use super::{App, Effect, Hit, Notice, Page};
use crate::tr;

/// Hits fetched per search.
pub const SEARCH_LIMIT: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchView {
    pub query: String,
    /// `None` while the store is looking.
    pub hits: Option<Vec<Hit>>,
    pub selected: usize,
}

impl App {
    pub(super) fn start_search(&mut self, query: &str) -> Vec<Effect> {
        let query = query.trim();
        if query.is_empty() {
            self.input.set("/search ");
            self.notice = Some(Notice::Info(tr!(self.lang, "app-search-prompt")));
            return Vec::new();
        }
        self.search = Some(SearchView {
            query: query.to_owned(),
            hits: None,
            selected: 0,
        });
        vec![Effect::Search {
            query: query.to_owned(),
            limit: SEARCH_LIMIT,
        }]
    }

    pub(super) fn search_results(&mut self, query: String, hits: Vec<Hit>) {
        if let Some(view) = self.search.as_mut()
            && view.query == query
        {
            view.hits = Some(hits);
            view.selected = 0;
        }
    }

    /// An action while the results are open: choose a hit, open it, or open the help.
    pub(super) fn search_action(&mut self, action: Action) -> Vec<Effect> {
        let Some(view) = self.search.as_mut() else {
            return Vec::new();
        };
        let count = view.hits.as_ref().map_or(0, Vec::len);
        match action {
            Action::Up => view.selected = view.selected.saturating_sub(1),
            Action::Down => view.selected = (view.selected + 1).min(count.saturating_sub(1)),
            Action::PageUp => view.selected = view.selected.saturating_sub(10),
            Action::PageDown => view.selected = (view.selected + 10).min(count.saturating_sub(1)),
            Action::Open => {
                let hit = view
                    .hits
                    .as_ref()
                    .and_then(|h| h.get(view.selected))
                    .cloned();
                self.search = None;
                if let Some(hit) = hit {
                    return self.open_hit(hit);
                }
            }
            _ => {}
        }
        Vec::new()
    }

    /// Shows a hit in its context: its conversation, the page around it, marked.
    fn open_hit(&mut self, hit: Hit) -> Vec<Effect> {
        self.ensure_conversation(hit.conversation);
        self.select(hit.conversation);
        self.highlight = Some(hit.id);
        if let Some(c) = self.conversation_mut(&hit.conversation) {
            c.loading = true;
        }
        vec![Effect::Load {
            conversation: hit.conversation,
            page: Page::Around(hit.seq),
        }]
    }
}
