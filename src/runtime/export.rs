//! `lanchat export`: write a conversation (or all) from the history database.

use super::Node;
use crate::config::Settings;
use crate::i18n::Lang;
use crate::proto::{ConversationId, NodeId};
use crate::store::ExportFormat;
use crate::tr;
use anyhow::{Context, bail};
use std::io::Write;

/// Which conversation `who` names: a peer's name or id (or a unique id prefix) as
/// remembered in the database, or a plain-text peer's `ip:port`. Mistakes are told in
/// `lang`.
pub fn find_conversation(
    store: &crate::store::Store,
    who: &str,
    lang: Lang,
) -> anyhow::Result<ConversationId> {
    if let Some(id) = NodeId::from_hex(who) {
        return Ok(ConversationId::Peer(id));
    }
    let peers = store.peers().context(tr!(lang, "runtime-read-peers"))?;
    let by_name: Vec<_> = peers.iter().filter(|p| p.name == who).collect();
    let lower = who.to_ascii_lowercase();
    let by_prefix: Vec<_> = peers
        .iter()
        .filter(|p| who.len() >= 4 && p.id.to_hex().starts_with(&lower))
        .collect();
    match (by_name.as_slice(), by_prefix.as_slice()) {
        ([p], _) | ([], [p]) => return Ok(ConversationId::Peer(p.id)),
        ([], []) => {}
        _ => bail!(tr!(
            lang,
            "runtime-export-ambiguous",
            who = format!("{who:?}")
        )),
    }
    if let Ok(addr) = who.parse() {
        return Ok(ConversationId::Raw(addr));
    }
    bail!(tr!(
        lang,
        "runtime-export-unknown",
        who = format!("{who:?}")
    ))
}

pub fn run(
    settings: &Settings,
    conversation: Option<&str>,
    format: ExportFormat,
    out: &mut dyn Write,
) -> anyhow::Result<usize> {
    let lang = settings.language;
    let store = Node::open_store(settings)
        .map_err(|e| anyhow::anyhow!(e.text(lang)))
        .context(tr!(lang, "runtime-open-history"))?;
    let conv = conversation
        .map(|who| find_conversation(&store, who, lang))
        .transpose()?;
    let n = store
        .export_in(conv.as_ref(), format, out, lang)
        .context(tr!(lang, "runtime-export-failed"))?;
    out.flush().context(tr!(lang, "runtime-export-write"))?;
    Ok(n)
}
