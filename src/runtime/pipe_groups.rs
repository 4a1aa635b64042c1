//! `lanchat pipe`'s group commands and events (issue 14). The commands are their own
//! JSON lines (`"cmd": "group_create"` …); a line that is none of them goes on to the
//! pipe's other commands. Events name groups by their 32-hex-digit id and members by key.

use super::{Output, Pipe};
use crate::proto::group::{Change, GroupEvent, GroupId, Mentions, What};
use crate::proto::{MsgId, NodeId, Quote};
use crate::runtime::{Node, mono_now, wall_now_ms};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncWrite, AsyncWriteExt};

#[derive(Debug, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case", deny_unknown_fields)]
pub(super) enum GroupCommand {
    /// A group named `name` with these members (keys, besides me).
    GroupCreate {
        name: String,
        members: Vec<String>,
    },
    GroupInvite {
        group: String,
        members: Vec<String>,
    },
    GroupLeave {
        group: String,
    },
    /// The owner removes `member`.
    GroupRemove {
        group: String,
        member: String,
    },
    GroupRename {
        group: String,
        name: String,
    },
    /// The owner makes `member` the owner.
    GroupHandover {
        group: String,
        member: String,
    },
    /// A message; `reply_to` (an id of the group's, with `reply_author`) makes it a reply;
    /// `mentions` are members' keys; `all` is @all (the owner's only).
    GroupSend {
        group: String,
        text: String,
        #[serde(default)]
        mentions: Vec<String>,
        #[serde(default)]
        all: bool,
        #[serde(default)]
        reply_to: Option<String>,
        #[serde(default)]
        reply_author: Option<String>,
    },
    /// I have read the group up to and including message `id` by `author`.
    GroupRead {
        group: String,
        author: String,
        id: String,
    },
    /// Take back my message `id` (within two minutes).
    GroupRecall {
        group: String,
        id: String,
    },
    /// My groups, their members, and the receipts of a message of mine.
    Groups,
    GroupReceipts {
        group: String,
        id: String,
    },
}

#[derive(Debug, Serialize)]
struct GroupJson {
    group: String,
    name: String,
    owner: Option<String>,
    members: Vec<String>,
    member: bool,
}

#[derive(Debug, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
enum GroupOutput {
    /// My act was taken (its id).
    GroupSent {
        group: String,
        id: String,
    },
    GroupCreated {
        group: String,
    },
    GroupJoined {
        group: String,
    },
    /// A message of the group, in the group's order (`lamport`, then `author`).
    GroupMessage {
        group: String,
        id: String,
        author: String,
        lamport: u64,
        sent_at: i64,
        text: String,
        mentions: Vec<String>,
        all: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        reply_to: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        quote: Option<String>,
    },
    /// A membership change, as the system line shows it.
    GroupChange {
        group: String,
        id: String,
        author: String,
        lamport: u64,
        /// created, invited, left, removed, renamed, handover
        change: &'static str,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        members: Vec<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
    /// Who is in the group now.
    GroupMembers(GroupJson),
    /// I am no longer in the group.
    GroupGone {
        group: String,
    },
    GroupWithdrawn {
        group: String,
        author: String,
        id: String,
    },
    GroupRecalled {
        group: String,
        author: String,
        id: String,
    },
    /// `member` holds these messages of mine.
    GroupDelivered {
        group: String,
        member: String,
        ids: Vec<String>,
    },
    /// `member` read these messages of mine.
    GroupRead {
        group: String,
        member: String,
        ids: Vec<String>,
    },
    Groups {
        groups: Vec<GroupJson>,
    },
    /// Of my message `id`: who holds it and who read it, out of `members` others.
    GroupReceipts {
        group: String,
        id: String,
        members: usize,
        delivered: Vec<String>,
        read: Vec<String>,
    },
}

fn key(s: &str) -> Result<NodeId, String> {
    NodeId::from_hex(s).ok_or_else(|| format!("not a key (64 hex digits): {s:?}"))
}

fn keys(v: &[String]) -> Result<Vec<NodeId>, String> {
    v.iter().map(|s| key(s)).collect()
}

fn group_id(s: &str) -> Result<GroupId, String> {
    GroupId::from_hex(s).ok_or_else(|| format!("not a group id (32 hex digits): {s:?}"))
}

fn msg_id(s: &str) -> Result<MsgId, String> {
    MsgId::from_hex(s).ok_or_else(|| format!("not a message id (16 hex digits): {s:?}"))
}

fn hexes(v: &[NodeId]) -> Vec<String> {
    v.iter().map(NodeId::to_hex).collect()
}

fn group_json(node: &Node, g: GroupId) -> Option<GroupJson> {
    let grp = node.endpoint.groups().group(&g)?;
    Some(GroupJson {
        group: g.to_hex(),
        name: grp.name().to_owned(),
        owner: grp.owner().map(|o| o.to_hex()),
        members: hexes(&grp.members()),
        member: grp.is_member(&node.endpoint.node()),
    })
}

impl<W: AsyncWrite + Unpin> Pipe<W> {
    async fn emit_group(&mut self, o: &GroupOutput) -> std::io::Result<()> {
        let line = crate::text::inert::json_line(o)?;
        self.out.write_all(&line).await?;
        self.out.flush().await
    }

    /// Handles a group command line; `None` if the line is not one.
    pub(super) async fn group_command(
        &mut self,
        node: &mut Node,
        line: &str,
    ) -> Option<std::io::Result<()>> {
        let command: GroupCommand = match serde_json::from_str(line) {
            Ok(c) => c,
            Err(e) => {
                // A group command gone wrong says so; anything else is not ours.
                let value: serde_json::Value = serde_json::from_str(line).ok()?;
                let cmd = value.get("cmd")?.as_str()?;
                if !cmd.starts_with("group") {
                    return None;
                }
                let message = format!("bad command: {e}");
                return Some(self.emit(&Output::Error { message }).await);
            }
        };
        Some(match self.run_group(node, command) {
            Ok(Some(out)) => self.emit_group(&out).await,
            Ok(None) => Ok(()),
            Err(message) => self.emit(&Output::Error { message }).await,
        })
    }

    fn run_group(
        &mut self,
        node: &mut Node,
        c: GroupCommand,
    ) -> Result<Option<GroupOutput>, String> {
        let now = mono_now();
        let wall = wall_now_ms();
        let sent = |group: GroupId, r: Result<MsgId, crate::proto::group::GroupError>| {
            r.map(|id| {
                Some(GroupOutput::GroupSent {
                    group: group.to_hex(),
                    id: id.to_string(),
                })
            })
            .map_err(|e| format!("group: {e}"))
        };
        let ep = &mut node.endpoint;
        match c {
            GroupCommand::GroupCreate { name, members } => {
                let members = keys(&members)?;
                let g = ep
                    .group_act(now, |g, now| g.create(now, wall, &name, &members))
                    .map_err(|e| format!("group: {e}"))?;
                Ok(Some(GroupOutput::GroupCreated { group: g.to_hex() }))
            }
            GroupCommand::GroupInvite { group, members } => {
                let (g, members) = (group_id(&group)?, keys(&members)?);
                sent(g, ep.group_act(now, |x, _| x.invite(wall, g, &members)))
            }
            GroupCommand::GroupLeave { group } => {
                let g = group_id(&group)?;
                sent(g, ep.group_act(now, |x, _| x.leave(wall, g)))
            }
            GroupCommand::GroupRemove { group, member } => {
                let (g, m) = (group_id(&group)?, key(&member)?);
                sent(g, ep.group_act(now, |x, _| x.remove(wall, g, m)))
            }
            GroupCommand::GroupRename { group, name } => {
                let g = group_id(&group)?;
                sent(g, ep.group_act(now, |x, _| x.rename(wall, g, &name)))
            }
            GroupCommand::GroupHandover { group, member } => {
                let (g, m) = (group_id(&group)?, key(&member)?);
                sent(g, ep.group_act(now, |x, _| x.handover(wall, g, m)))
            }
            GroupCommand::GroupSend {
                group,
                text,
                mentions,
                all,
                reply_to,
                reply_author,
            } => {
                let g = group_id(&group)?;
                let mentions = Mentions {
                    all,
                    keys: keys(&mentions)?,
                };
                let quote = match (reply_to, reply_author) {
                    (Some(id), Some(author)) => {
                        let (id, author) = (msg_id(&id)?, key(&author)?);
                        let grp = ep.groups().group(&g).ok_or("group: no such group")?;
                        let excerpt = match grp.by_id(&author, id).map(|s| &s.entry.op) {
                            Some(crate::proto::group::Op::Text { text, .. })
                            | Some(crate::proto::group::Op::Reply { text, .. }) => text.clone(),
                            _ => String::new(),
                        };
                        Some(Quote::of(id, author, &excerpt))
                    }
                    (None, None) => None,
                    _ => return Err("group_send: reply_to and reply_author go together".into()),
                };
                sent(
                    g,
                    ep.group_act(now, |x, _| x.send(wall, g, &text, quote, mentions)),
                )
            }
            GroupCommand::GroupRead { group, author, id } => {
                let (g, a, id) = (group_id(&group)?, key(&author)?, msg_id(&id)?);
                ep.group_act(now, |x, now| x.mark_read(now, g, a, id));
                Ok(None)
            }
            GroupCommand::GroupRecall { group, id } => {
                let (g, id) = (group_id(&group)?, msg_id(&id)?);
                sent(g, ep.group_act(now, |x, _| x.recall(wall, g, id)))
            }
            GroupCommand::Groups => {
                let ids = node.endpoint.groups().ids();
                let groups = ids
                    .into_iter()
                    .filter_map(|g| group_json(node, g))
                    .collect();
                Ok(Some(GroupOutput::Groups { groups }))
            }
            GroupCommand::GroupReceipts { group, id } => {
                let (g, id) = (group_id(&group)?, msg_id(&id)?);
                let groups = node.endpoint.groups();
                let (delivered, read) = groups
                    .receipts(&g, id)
                    .ok_or("group: no such message of mine")?;
                let members = groups
                    .group(&g)
                    .map_or(0, |grp| grp.members().len().saturating_sub(1));
                Ok(Some(GroupOutput::GroupReceipts {
                    group: g.to_hex(),
                    id: id.to_string(),
                    members,
                    delivered: hexes(&delivered),
                    read: hexes(&read),
                }))
            }
        }
    }

    /// A group event as a line (entries to keep are not shown).
    pub(super) async fn group_event(&mut self, node: &Node, e: GroupEvent) -> std::io::Result<()> {
        let out = match e {
            GroupEvent::Keep { .. } => return Ok(()),
            GroupEvent::Joined { group } => GroupOutput::GroupJoined {
                group: group.to_hex(),
            },
            GroupEvent::Shown(p) => {
                let (group, id, author, lamport) = (
                    p.group.to_hex(),
                    p.id.to_string(),
                    p.author.to_hex(),
                    p.key.lamport,
                );
                match p.what {
                    What::Text { text, mentions } => GroupOutput::GroupMessage {
                        group,
                        id,
                        author,
                        lamport,
                        sent_at: p.sent_at_ms,
                        text,
                        mentions: hexes(&mentions.keys),
                        all: mentions.all,
                        reply_to: None,
                        quote: None,
                    },
                    What::Reply {
                        quote,
                        text,
                        mentions,
                    } => GroupOutput::GroupMessage {
                        group,
                        id,
                        author,
                        lamport,
                        sent_at: p.sent_at_ms,
                        text,
                        mentions: hexes(&mentions.keys),
                        all: mentions.all,
                        reply_to: Some(quote.id.to_string()),
                        quote: Some(quote.excerpt),
                    },
                    What::Change(c) => {
                        let (change, members, name) = match c {
                            Change::Created { name, members } => ("created", members, Some(name)),
                            Change::Invited(m) => ("invited", m, None),
                            Change::Left => ("left", Vec::new(), None),
                            Change::Removed(m) => ("removed", vec![m], None),
                            Change::Renamed(name) => ("renamed", Vec::new(), Some(name)),
                            Change::Handover(m) => ("handover", vec![m], None),
                        };
                        GroupOutput::GroupChange {
                            group,
                            id,
                            author,
                            lamport,
                            change,
                            members: hexes(&members),
                            name,
                        }
                    }
                }
            }
            GroupEvent::Members { group, .. } => match group_json(node, group) {
                Some(j) => GroupOutput::GroupMembers(j),
                None => return Ok(()),
            },
            GroupEvent::Gone { group } => GroupOutput::GroupGone {
                group: group.to_hex(),
            },
            GroupEvent::Withdrawn { group, author, id } => GroupOutput::GroupWithdrawn {
                group: group.to_hex(),
                author: author.to_hex(),
                id: id.to_string(),
            },
            GroupEvent::Recalled { group, author, id } => GroupOutput::GroupRecalled {
                group: group.to_hex(),
                author: author.to_hex(),
                id: id.to_string(),
            },
            GroupEvent::Delivered { group, member, ids } => GroupOutput::GroupDelivered {
                group: group.to_hex(),
                member: member.to_hex(),
                ids: ids.iter().map(ToString::to_string).collect(),
            },
            GroupEvent::Read { group, member, ids } => GroupOutput::GroupRead {
                group: group.to_hex(),
                member: member.to_hex(),
                ids: ids.iter().map(ToString::to_string).collect(),
            },
        };
        self.emit_group(&out).await
    }
}
