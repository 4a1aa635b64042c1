//! The conversations in memory: a list in sidebar order with an index by id, so that finding
//! one is O(1) however many there are.
//!
//! Invariant: `index[&c.id] == i` exactly for each `list[i] == c`. Every change of the list
//! goes through this type, which keeps the two in step; callers may change a conversation
//! in place but never its `id`. Reading it as a slice (`Deref`) gives the sidebar order.

use super::Conversation;
use crate::proto::ConversationId;
use std::collections::HashMap;

#[derive(Debug, Default)]
pub struct Conversations {
    list: Vec<Conversation>,
    index: HashMap<ConversationId, usize>,
}

impl std::ops::Deref for Conversations {
    type Target = [Conversation];

    fn deref(&self) -> &[Conversation] {
        &self.list
    }
}

impl Conversations {
    pub fn by_id(&self, id: &ConversationId) -> Option<&Conversation> {
        self.index.get(id).and_then(|&i| self.list.get(i))
    }

    pub fn by_id_mut(&mut self, id: &ConversationId) -> Option<&mut Conversation> {
        self.index.get(id).and_then(|&i| self.list.get_mut(i))
    }

    /// Where `id` is in the list.
    pub fn position(&self, id: &ConversationId) -> Option<usize> {
        self.index.get(id).copied()
    }

    pub fn contains(&self, id: &ConversationId) -> bool {
        self.index.contains_key(id)
    }

    /// Adds a conversation at the end; one with the same id takes the old one's place.
    pub fn push(&mut self, c: Conversation) {
        match self.index.get(&c.id) {
            Some(&i) => self.list[i] = c,
            None => {
                self.index.insert(c.id, self.list.len());
                self.list.push(c);
            }
        }
    }

    pub fn remove(&mut self, id: &ConversationId) -> Option<Conversation> {
        let i = self.index.remove(id)?;
        let gone = self.list.remove(i);
        for (j, c) in self.list.iter().enumerate().skip(i) {
            self.index.insert(c.id, j);
        }
        Some(gone)
    }

    /// Every conversation, to change in place (not their ids).
    pub fn iter_mut(&mut self) -> std::slice::IterMut<'_, Conversation> {
        self.list.iter_mut()
    }

    /// Sorts by a key computed once per conversation.
    pub fn sort_by_cached_key<K: Ord>(&mut self, key: impl FnMut(&Conversation) -> K) {
        self.list.sort_by_cached_key(key);
        self.reindex();
    }

    fn reindex(&mut self) {
        self.index.clear();
        for (i, c) in self.list.iter().enumerate() {
            self.index.insert(c.id, i);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use std::net::SocketAddr;

    fn raw(port: u16) -> ConversationId {
        ConversationId::Raw(SocketAddr::from(([10, 0, 0, 1], port)))
    }

    fn conv(port: u16, activity: i64) -> Conversation {
        Conversation {
            last_activity_ms: activity,
            ..Conversation::new(raw(port))
        }
    }

    /// The index says where each one is, and nothing more.
    fn assert_in_step(cs: &Conversations) {
        assert_eq!(cs.index.len(), cs.list.len());
        for (i, c) in cs.iter().enumerate() {
            assert_eq!(cs.position(&c.id), Some(i));
            assert_eq!(cs.by_id(&c.id).map(|x| x.id), Some(c.id));
        }
    }

    #[test]
    fn the_index_follows_pushes_removals_and_sorts() {
        let mut cs = Conversations::default();
        for (port, activity) in [(1, 10), (2, 30), (3, 20), (4, 40)] {
            cs.push(conv(port, activity));
        }
        assert_in_step(&cs);
        cs.sort_by_cached_key(|c| std::cmp::Reverse(c.last_activity_ms));
        let order: Vec<ConversationId> = cs.iter().map(|c| c.id).collect();
        assert_eq!(order, [raw(4), raw(2), raw(3), raw(1)]);
        assert_in_step(&cs);
        assert_eq!(cs.remove(&raw(2)).map(|c| c.id), Some(raw(2)));
        assert_eq!(cs.remove(&raw(2)).map(|c| c.id), None);
        assert_in_step(&cs);
        assert!(cs.by_id(&raw(2)).is_none() && !cs.contains(&raw(2)));
        // The same id again replaces, never duplicates.
        cs.push(conv(1, 99));
        assert_eq!(cs.len(), 3);
        assert_eq!(cs.by_id(&raw(1)).unwrap().last_activity_ms, 99);
        assert_in_step(&cs);
    }
}
