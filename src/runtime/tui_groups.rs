//! The terminal front end's side of groups (issue 14): the groups' events and the store's
//! answers as the model's news, and the model's acts carried out on the node's groups.
//!
//! With a store, a group's message reaches the model once stored (with its `seq`, so that
//! pages and read marks work as for a peer); without one, as it comes. My messages carry
//! their receipts ("delivered to 2/3 · read by 1"), worked out from what the members said.

use super::Node;
use super::node_groups::{author_of, group_info, group_message};
use crate::app::Msg;
use crate::app::groups::{GroupAct, GroupInfo, GroupNews, ReadByAnswer};
use crate::i18n::Lang;
use crate::message::{Author, Message, Tally};
use crate::proto::group::{GroupError, GroupEvent, GroupId, Groups, Mentions};
use crate::proto::{self, ConversationId, MsgId};
use crate::store::GroupInfoRow;
use crate::tr;

fn info(row: GroupInfoRow) -> GroupNews {
    GroupNews::Info {
        group: row.group,
        info: GroupInfo {
            name: row.name,
            members: row.members,
            owner: row.owner,
            member: row.member,
        },
    }
}

/// Every group the node is in (or was), for the model at start.
pub fn infos(node: &Node) -> Vec<Msg> {
    let groups = node.endpoint.groups();
    groups
        .ids()
        .iter()
        .filter_map(|g| group_info(groups, g))
        .map(|row| Msg::Group(info(row)))
        .collect()
}

/// My message `id`'s receipts in `group`, if it is mine there.
pub fn tally(groups: &Groups, group: &GroupId, id: MsgId) -> Option<Tally> {
    let (delivered, read) = groups.receipts(group, id)?;
    let of = groups
        .group(group)
        .map_or(0, |g| g.members().len().saturating_sub(1));
    Some(Tally {
        delivered: delivered.len(),
        read: read.len(),
        of,
    })
}

/// Fills in the receipts of my messages in a group's page or news.
pub fn fill_tallies(node: &Node, conversation: &ConversationId, messages: &mut [Message]) {
    let ConversationId::Group(g) = conversation else {
        return;
    };
    let groups = node.endpoint.groups();
    for m in messages.iter_mut() {
        if m.author == Author::Me
            && let Some(part) = m.group.as_mut()
            && part.change.is_none()
        {
            part.tally = tally(groups, g, m.id);
        }
    }
}

/// The node's events as the model's messages: the groups' as [`GroupNews`], the rest as
/// they are.
pub fn news(node: &Node, events: Vec<proto::Event>) -> Vec<Msg> {
    let me = node.endpoint.node();
    let stored = node.has_store();
    let groups = node.endpoint.groups();
    let now_ms = super::wall_now_ms();
    let mut out = Vec::with_capacity(events.len());
    for e in events {
        let proto::Event::Group(e) = e else {
            out.push(Msg::Net(e));
            continue;
        };
        match e {
            // Kept and shown by the store (`node_groups.rs`).
            GroupEvent::Keep { .. } => {}
            GroupEvent::Shown(p) if !stored => {
                let mut message = group_message(me, &p, now_ms).message(None);
                let conversation = ConversationId::Group(p.group);
                fill_tallies(node, &conversation, std::slice::from_mut(&mut message));
                out.push(Msg::Group(GroupNews::Shown {
                    group: p.group,
                    message,
                }));
            }
            GroupEvent::Recalled { group, author, id } if !stored => {
                out.push(Msg::Recalled {
                    conversation: ConversationId::Group(group),
                    author: author_of(me, author),
                    target: id,
                });
            }
            GroupEvent::Withdrawn { group, author, id } if !stored => {
                out.push(Msg::Group(GroupNews::Withdrawn {
                    group,
                    author: author_of(me, author),
                    id,
                }));
            }
            GroupEvent::Shown(_) | GroupEvent::Recalled { .. } | GroupEvent::Withdrawn { .. } => {}
            GroupEvent::Members { group, .. }
            | GroupEvent::Gone { group }
            | GroupEvent::Joined { group } => {
                out.extend(group_info(groups, &group).map(|row| Msg::Group(info(row))));
            }
            GroupEvent::Delivered { group, ids, .. } | GroupEvent::Read { group, ids, .. } => {
                for id in ids {
                    if let Some(t) = tally(groups, &group, id) {
                        out.push(Msg::Group(GroupNews::Tally {
                            group,
                            id,
                            tally: t,
                        }));
                    }
                }
            }
        }
    }
    out
}

/// The store's answer to a group batch, as the model's news.
pub fn stored(
    node: &Node,
    shown: Vec<(GroupId, Message)>,
    recalled: Vec<(GroupId, Author, MsgId)>,
    withdrawn: Vec<(GroupId, Author, MsgId)>,
) -> Vec<Msg> {
    let mut out = Vec::new();
    for (group, mut message) in shown {
        let conversation = ConversationId::Group(group);
        fill_tallies(node, &conversation, std::slice::from_mut(&mut message));
        out.push(Msg::Group(GroupNews::Shown { group, message }));
    }
    for (group, author, target) in recalled {
        out.push(Msg::Recalled {
            conversation: ConversationId::Group(group),
            author,
            target,
        });
    }
    for (group, author, id) in withdrawn {
        out.push(Msg::Group(GroupNews::Withdrawn { group, author, id }));
    }
    out
}

/// Why the groups refused an act, in `lang`.
pub fn refusal(lang: Lang, e: &GroupError) -> String {
    match e {
        GroupError::Unknown | GroupError::NotMember => tr!(lang, "group-not-member"),
        GroupError::NotOwner => tr!(lang, "group-only-owner"),
        GroupError::TooManyMembers => {
            tr!(lang, "group-too-many", max = proto::group::MAX_MEMBERS)
        }
        GroupError::TooManyGroups(n) => tr!(lang, "group-too-many-groups", max = *n),
        GroupError::CannotRecall => tr!(lang, "group-cannot-recall"),
        GroupError::Invalid(why) => tr!(lang, "group-refused", reason = why.to_string()),
        GroupError::Entry(e) => tr!(lang, "group-refused", reason = e.to_string()),
    }
}

/// Carries out the model's act in a group; what the model should hear back.
pub fn act(node: &mut Node, lang: Lang, act: GroupAct) -> Vec<Msg> {
    let wall = super::wall_now_ms();
    let refused = |e: GroupError| vec![Msg::Group(GroupNews::Refused(refusal(lang, &e)))];
    let done = |r: Result<MsgId, GroupError>| match r {
        Ok(_) => Vec::new(),
        Err(e) => refused(e),
    };
    match act {
        GroupAct::Create { name, members } => {
            match node.group_act(|g, now| g.create(now, wall, &name, &members)) {
                Ok(g) => vec![Msg::Group(GroupNews::Created(g))],
                Err(e) => refused(e),
            }
        }
        GroupAct::Invite { group, members } => {
            done(node.group_act(|g, _| g.invite(wall, group, &members)))
        }
        GroupAct::Leave(group) => done(node.group_act(|g, _| g.leave(wall, group))),
        GroupAct::Remove { group, member } => {
            done(node.group_act(|g, _| g.remove(wall, group, member)))
        }
        GroupAct::Rename { group, name } => {
            done(node.group_act(|g, _| g.rename(wall, group, &name)))
        }
        GroupAct::Handover { group, to } => {
            done(node.group_act(|g, _| g.handover(wall, group, to)))
        }
        GroupAct::Send {
            group,
            text,
            quote,
            mentions,
            all,
        } => {
            let mentions = Mentions {
                all,
                keys: mentions,
            };
            done(node.group_act(|g, _| g.send(wall, group, &text, quote, mentions)))
        }
        GroupAct::Recall { group, target } => {
            done(node.group_act(|g, _| g.recall(wall, group, target)))
        }
        GroupAct::Read { group, author, id } => {
            node.group_read(group, author, id);
            Vec::new()
        }
        GroupAct::ReadBy { group, id } => {
            let groups = node.endpoint.groups();
            let me = groups.me();
            let Some((delivered, read)) = groups.receipts(&group, id) else {
                return Vec::new();
            };
            let members = groups
                .group(&group)
                .map(|g| g.members().into_iter().filter(|m| *m != me).collect())
                .unwrap_or_default();
            vec![Msg::Group(GroupNews::ReadBy {
                group,
                id,
                answer: ReadByAnswer {
                    members,
                    delivered,
                    read,
                },
            })]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_said_in_the_users_language_with_their_limits() {
        let cases = [
            (
                GroupError::TooManyGroups(64),
                "You can be in at most 64 groups",
                "最多只能加入 64 个群聊",
            ),
            (
                GroupError::TooManyMembers,
                "A group has at most 256 members",
                "群聊最多 256 人",
            ),
            (
                GroupError::NotOwner,
                "Only the owner can do that",
                "只有群主可以这样做",
            ),
            (
                GroupError::CannotRecall,
                "Only your own messages, within 2 minutes",
                "只能撤回自己 2 分钟内的消息",
            ),
        ];
        for (e, en, zh) in cases {
            assert_eq!(refusal(Lang::En, &e), en);
            assert_eq!(refusal(Lang::Zh, &e), zh);
        }
    }
}
