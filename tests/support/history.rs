//! Filling a history database with generated messages, for the big-history test and bench.

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use lanchat::proto::{ConversationId, MsgId, NodeId};
use lanchat::store::{Author, NewMessage, Store};
use std::path::Path;

/// Writes `n` messages "history line {i} …" between me and `peer`, alternating authors, in
/// 20 transactions.
pub fn fill(path: &Path, peer: NodeId, n: u64) {
    let mut store = Store::open(path).unwrap();
    let conv = ConversationId::Peer(peer);
    for chunk in 0..20 {
        let batch: Vec<NewMessage> = (chunk * n / 20..(chunk + 1) * n / 20)
            .map(|i| NewMessage {
                conversation: conv,
                id: MsgId(i + 1),
                author: if i % 2 == 0 {
                    Author::Peer(peer)
                } else {
                    Author::Me
                },
                sent_at_ms: 1_700_000_000_000 + i as i64,
                received_at_ms: 1_700_000_000_000 + i as i64,
                text: format!("history line {i} with a little more text, as chat has"),
                state: None,
                quote: None,
            })
            .collect();
        store.insert_messages(&batch).unwrap();
    }
}
