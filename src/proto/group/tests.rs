//! The group rules, each checked by doing what they forbid.

use super::entry::{self, Entry, Hash, Op, Signed};
use super::frame::Frame;
use super::sign::Signer;
use super::state::Group;
use super::*;
use crate::proto::wire::Quote;
use crate::proto::{Identity, MsgId, NodeId};
use crate::rng::Rng;
use std::time::{Duration, Instant};

const T0: i64 = 1_700_000_000_000;

fn id(n: u8) -> Identity {
    Identity::from_secret([n; 32])
}

fn key(n: u8) -> NodeId {
    id(n).public()
}

/// Members 1..=n, all online to each other, frames delivered at once.
struct Mesh {
    now: Instant,
    nodes: Vec<Groups>,
    /// Frames in flight: (from index, to key, bytes).
    log: Vec<(usize, NodeId, Vec<u8>)>,
}

impl Mesh {
    fn new(n: u8) -> Mesh {
        let now = Instant::now();
        let mut nodes: Vec<Groups> = (1..=n)
            .map(|i| Groups::new(&id(i), GroupConfig::default(), u64::from(i)))
            .collect();
        for a in &mut nodes {
            for b in 1..=n {
                if key(b) != a.me() {
                    a.peer_up(key(b));
                }
            }
        }
        Mesh {
            now,
            nodes,
            log: Vec::new(),
        }
    }

    fn at(&self, k: NodeId) -> Option<usize> {
        self.nodes.iter().position(|n| n.me() == k)
    }

    /// Delivers every frame until nothing moves (ack timers included).
    fn run(&mut self) {
        for _ in 0..200 {
            let mut moved = false;
            for i in 0..self.nodes.len() {
                while let Some((to, bytes)) = self.nodes[i].poll_transmit() {
                    moved = true;
                    self.log.push((i, to, bytes.clone()));
                    let from = self.nodes[i].me();
                    if let Some(j) = self.at(to)
                        && self.nodes[j].is_online(&from)
                    {
                        let now = self.now;
                        self.nodes[j].handle_frame(now, from, &bytes);
                    }
                }
            }
            if !moved {
                self.now += Duration::from_millis(100);
                let now = self.now;
                for n in &mut self.nodes {
                    if n.poll_timeout().is_some_and(|t| t <= now) {
                        n.handle_timeout(now);
                        moved = true;
                    }
                }
                if !moved {
                    return;
                }
            }
        }
    }

    fn texts(&self, i: usize, g: GroupId) -> Vec<String> {
        self.nodes[i]
            .group(&g)
            .map(|g| {
                g.shown()
                    .into_iter()
                    .filter_map(|p| match p.what {
                        What::Text { text, .. } | What::Reply { text, .. } => Some(text),
                        What::Change(_) => None,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn text(s: &str) -> (String, Option<Quote>, Mentions) {
    (s.to_owned(), None, Mentions::default())
}

fn say(mesh: &mut Mesh, i: usize, g: GroupId, s: &str) -> MsgId {
    let (t, q, m) = text(s);
    mesh.nodes[i].send(T0, g, &t, q, m).unwrap()
}

/// A group of `n` made by node 1 with everyone in it.
fn group_of(n: u8) -> (Mesh, GroupId) {
    let mut mesh = Mesh::new(n);
    let others: Vec<NodeId> = (2..=n).map(key).collect();
    let now = mesh.now;
    let g = mesh.nodes[0].create(now, T0, "lunch", &others).unwrap();
    mesh.run();
    (mesh, g)
}

/// Signs an entry by hand, as a hostile member would.
fn forge(author: u8, group: GroupId, seq: u64, lamport: u64, prev: Hash, op: Op) -> Signed {
    Entry {
        group,
        author: key(author),
        seq,
        lamport,
        prev,
        sent_at_ms: T0,
        op,
    }
    .sign(&mut Signer::new(&id(author), 77))
    .unwrap()
}

fn push_frame(g: GroupId, entries: &[&Signed]) -> Vec<u8> {
    Frame::Push {
        group: g,
        more: false,
        entries: entries.iter().map(|s| s.bytes.clone()).collect(),
    }
    .encode()
    .unwrap()
}

#[test]
fn a_group_is_made_joined_and_talked_in_by_everyone_alike() {
    let (mut mesh, g) = group_of(4);
    for i in 0..4 {
        let grp = mesh.nodes[i].group(&g).expect("joined");
        assert_eq!(grp.members().len(), 4);
        assert_eq!(grp.owner(), Some(key(1)));
        assert_eq!(grp.name(), "lunch");
    }
    say(&mut mesh, 1, g, "hello from 2");
    say(&mut mesh, 3, g, "hello from 4");
    mesh.run();
    let first = mesh.texts(0, g);
    assert_eq!(first.len(), 2);
    for i in 1..4 {
        assert_eq!(mesh.texts(i, g), first);
    }
    // Renames and an invite show as changes for everyone.
    mesh.nodes[2].rename(T0, g, "午饭群").unwrap();
    mesh.run();
    for i in 0..4 {
        assert_eq!(mesh.nodes[i].group(&g).unwrap().name(), "午饭群");
    }
}

#[test]
fn invite_leave_remove_and_handover_follow_the_rules() {
    let (mut mesh, g) = group_of(5);
    // Node 5 (index 4) leaves; node 1 removes node 4; a non-owner may not remove.
    assert_eq!(
        mesh.nodes[1].remove(T0, g, key(3)),
        Err(GroupError::NotOwner)
    );
    mesh.nodes[4].leave(T0, g).unwrap();
    mesh.nodes[0].remove(T0, g, key(4)).unwrap();
    mesh.run();
    let members = vec![key(1), key(2), key(3)];
    let mut sorted = members.clone();
    sorted.sort();
    for i in 0..3 {
        assert_eq!(mesh.nodes[i].group(&g).unwrap().members(), sorted);
    }
    // The removed member knows it was removed, and gets nothing written after.
    assert!(!mesh.nodes[3].group(&g).unwrap().is_member(&key(4)));
    say(&mut mesh, 1, g, "after the removal");
    mesh.run();
    assert!(!mesh.texts(3, g).contains(&"after the removal".to_owned()));
    assert!(!mesh.texts(4, g).contains(&"after the removal".to_owned()));
    // Handover: node 2 becomes owner and may remove; node 1 may not any more.
    mesh.nodes[0].handover(T0, g, key(2)).unwrap();
    mesh.run();
    assert_eq!(mesh.nodes[2].group(&g).unwrap().owner(), Some(key(2)));
    assert_eq!(
        mesh.nodes[0].remove(T0, g, key(3)),
        Err(GroupError::NotOwner)
    );
    mesh.nodes[1].remove(T0, g, key(3)).unwrap();
    mesh.run();
    assert_eq!(mesh.nodes[0].group(&g).unwrap().members(), {
        let mut v = vec![key(1), key(2)];
        v.sort();
        v
    });
    // Anyone may invite; the invitee gets the history.
    mesh.nodes[0].invite(T0, g, &[key(4)]).unwrap();
    mesh.run();
    assert!(mesh.nodes[3].group(&g).unwrap().is_member(&key(4)));
    assert_eq!(mesh.texts(3, g), mesh.texts(0, g));
}

#[test]
fn the_owner_leaving_hands_ownership_to_the_earliest_member() {
    let (mut mesh, g) = group_of(3);
    mesh.nodes[0].leave(T0, g).unwrap();
    mesh.run();
    // Nodes 2 and 3 joined together (the create): the lower key inherits.
    let heir = key(2).min(key(3));
    assert_eq!(mesh.nodes[1].group(&g).unwrap().owner(), Some(heir));
    assert_eq!(mesh.nodes[2].group(&g).unwrap().owner(), Some(heir));
}

#[test]
fn a_group_holds_at_most_256_members() {
    let mut mesh = Mesh::new(1);
    let now = mesh.now;
    let many: Vec<NodeId> = (0..255u16)
        .map(|i| {
            let mut k = [0u8; 32];
            k[..2].copy_from_slice(&i.to_be_bytes());
            k[31] = 9;
            NodeId(k)
        })
        .collect();
    let g = mesh.nodes[0].create(now, T0, "big", &many).unwrap();
    assert_eq!(mesh.nodes[0].group(&g).unwrap().members().len(), 256);
    assert_eq!(
        mesh.nodes[0].invite(T0, g, &[key(2)]),
        Err(GroupError::TooManyMembers)
    );
    let mut too_many = many.clone();
    too_many.push(key(2));
    assert_eq!(
        mesh.nodes[0].create(now, T0, "bigger", &too_many),
        Err(GroupError::TooManyMembers)
    );
    // A hand-made invite past the limit does not count.
    let head = mesh.nodes[0].group(&g).unwrap().head(&key(1)).unwrap();
    let over = forge(
        1,
        g,
        head.0 + 1,
        head.2 + 1,
        head.1,
        Op::Invite(vec![key(2)]),
    );
    let mut copy = Group::new(
        mesh.nodes[0]
            .group(&g)
            .unwrap()
            .ordered()
            .next()
            .unwrap()
            .clone(),
    )
    .unwrap();
    copy.insert(over).unwrap();
    copy.settle();
    assert_eq!(copy.members().len(), 256);
    assert!(!copy.is_member(&key(2)));
}

#[test]
fn a_stranger_posting_through_a_member_is_dropped_and_counted() {
    let (mut mesh, g) = group_of(3);
    // Node 9 never was a member; node 2 relays its entry.
    let post = forge(
        9,
        g,
        1,
        50,
        [0; 32],
        Op::Text {
            text: "spam".into(),
            mentions: Mentions::default(),
        },
    );
    let frame = push_frame(g, &[&post]);
    let now = mesh.now;
    mesh.nodes[0].handle_frame(now, key(2), &frame);
    mesh.run();
    assert!(!mesh.texts(0, g).contains(&"spam".to_owned()));
    assert_eq!(mesh.nodes[0].group(&g).unwrap().not_counting(), 1);
    // Straight from the stranger: refused as a frame.
    mesh.nodes[0].handle_frame(now, key(9), &frame);
    assert_eq!(mesh.nodes[0].stats().unauthorized, 1);
}

#[test]
fn only_the_owner_removes_and_only_the_owner_says_all() {
    let (mut mesh, g) = group_of(3);
    let grp = mesh.nodes[1].group(&g).unwrap();
    let (seq, prev, lamport) = grp.head(&key(2)).map_or((0, [0; 32], 0), |h| h);
    let top = grp.max_lamport();
    let _ = lamport;
    let remove = forge(
        2,
        g,
        seq + 1,
        top + 1,
        prev,
        Op::Remove {
            member: key(3),
            upto: 0,
        },
    );
    let all = forge(
        2,
        g,
        seq + 2,
        top + 2,
        remove.hash,
        Op::Text {
            text: "@all lunch".into(),
            mentions: Mentions {
                all: true,
                keys: vec![],
            },
        },
    );
    let now = mesh.now;
    mesh.nodes[0].handle_frame(now, key(2), &push_frame(g, &[&remove, &all]));
    mesh.run();
    let grp = mesh.nodes[0].group(&g).unwrap();
    assert!(grp.is_member(&key(3)), "a member's removal counted");
    assert!(!mesh.texts(0, g).contains(&"@all lunch".to_owned()));
    assert_eq!(
        mesh.nodes[1].send(
            T0,
            g,
            "@all",
            None,
            Mentions {
                all: true,
                keys: vec![]
            }
        ),
        Err(GroupError::NotOwner)
    );
    // The owner may.
    mesh.nodes[0]
        .send(
            T0,
            g,
            "@all owner",
            None,
            Mentions {
                all: true,
                keys: vec![],
            },
        )
        .unwrap();
    mesh.run();
    assert!(mesh.texts(2, g).contains(&"@all owner".to_owned()));
}

#[test]
fn a_former_owner_cannot_back_date_a_removal_before_its_handover() {
    let (mut mesh, g) = group_of(3);
    mesh.nodes[0].handover(T0, g, key(2)).unwrap();
    mesh.run();
    let grp = mesh.nodes[0].group(&g).unwrap();
    let (seq, prev, _) = grp.head(&key(1)).unwrap();
    // Clock 2: just after the create, long before the handover.
    let back = forge(
        1,
        g,
        seq + 1,
        2,
        prev,
        Op::Remove {
            member: key(3),
            upto: 0,
        },
    );
    let now = mesh.now;
    mesh.nodes[1].handle_frame(now, key(1), &push_frame(g, &[&back]));
    mesh.run();
    assert!(mesh.nodes[1].group(&g).unwrap().is_member(&key(3)));
    // Without the chain rule it would have counted: the same remove from a fresh
    // author-chain position (seq 2, right after the create) does count.
    let ok = forge(
        1,
        g,
        2,
        2,
        mesh.nodes[1].group(&g).unwrap().genesis(),
        Op::Remove {
            member: key(3),
            upto: 0,
        },
    );
    let mut copy = Group::new(
        mesh.nodes[1]
            .group(&g)
            .unwrap()
            .ordered()
            .next()
            .unwrap()
            .clone(),
    )
    .unwrap();
    copy.insert(ok).unwrap();
    copy.settle();
    assert!(!copy.is_member(&key(3)));
}

#[test]
fn a_removed_member_cannot_back_date_messages_before_its_removal() {
    let (mut mesh, g) = group_of(3);
    say(&mut mesh, 2, g, "before");
    mesh.run();
    mesh.nodes[0].remove(T0, g, key(3)).unwrap();
    mesh.run();
    let grp = mesh.nodes[2].group(&g).unwrap();
    let (seq, prev, lamport) = grp.head(&key(3)).unwrap();
    // Written after the removal, with a clock that places it before.
    let late = forge(
        3,
        g,
        seq + 1,
        lamport + 1,
        prev,
        Op::Text {
            text: "sneaky".into(),
            mentions: Mentions::default(),
        },
    );
    let now = mesh.now;
    mesh.nodes[1].handle_frame(now, key(3), &push_frame(g, &[&late]));
    mesh.run();
    assert!(mesh.texts(1, g).contains(&"before".to_owned()));
    assert!(!mesh.texts(1, g).contains(&"sneaky".to_owned()));
}

#[test]
fn a_relay_that_changes_an_entry_is_caught() {
    let (mut mesh, g) = group_of(3);
    let real = forge(
        2,
        g,
        1,
        10,
        [0; 32],
        Op::Text {
            text: "pay alice".into(),
            mentions: Mentions::default(),
        },
    );
    let mut bent = real.bytes.clone();
    let at = bent.len() - 64 - 5;
    bent[at] = b'X';
    let frame = Frame::Push {
        group: g,
        more: false,
        entries: vec![bent],
    }
    .encode()
    .unwrap();
    let now = mesh.now;
    mesh.nodes[0].handle_frame(now, key(3), &frame);
    assert_eq!(mesh.nodes[0].stats().bad_signature, 1);
    assert_eq!(mesh.texts(0, g).len(), 0);
}

#[test]
fn recall_is_the_authors_within_two_minutes() {
    let (mut mesh, g) = group_of(3);
    let m = say(&mut mesh, 1, g, "oops");
    mesh.run();
    assert_eq!(
        mesh.nodes[2].recall(T0, g, m),
        Err(GroupError::CannotRecall)
    );
    assert_eq!(
        mesh.nodes[1].recall(T0 + RECALL + 1, g, m),
        Err(GroupError::CannotRecall)
    );
    mesh.nodes[1].recall(T0 + 1000, g, m).unwrap();
    mesh.run();
    for i in 0..3 {
        assert!(mesh.nodes[i].group(&g).unwrap().is_recalled(&key(2), m));
    }
    // Another member's hand-made recall of it does nothing.
    let other = say(&mut mesh, 1, g, "keep");
    mesh.run();
    let grp = mesh.nodes[2].group(&g).unwrap();
    let (seq, prev, _) = grp.head(&key(3)).map_or((0, [0; 32], 0), |h| h);
    let top = grp.max_lamport();
    let fake = forge(3, g, seq + 1, top + 1, prev, Op::Recall(other));
    let now = mesh.now;
    mesh.nodes[0].handle_frame(now, key(3), &push_frame(g, &[&fake]));
    mesh.run();
    assert!(!mesh.nodes[0].group(&g).unwrap().is_recalled(&key(2), other));
}

const RECALL: i64 = entry::RECALL_WINDOW_MS;

#[test]
fn receipts_say_who_holds_and_who_read_my_message() {
    let (mut mesh, g) = group_of(4);
    let m = say(&mut mesh, 0, g, "receipt me");
    mesh.run();
    let (delivered, read) = mesh.nodes[0].receipts(&g, m).unwrap();
    assert_eq!(delivered.len(), 3);
    assert!(read.is_empty());
    let now = mesh.now;
    mesh.nodes[2].mark_read(now, g, key(1), m);
    mesh.run();
    let (_, read) = mesh.nodes[0].receipts(&g, m).unwrap();
    assert_eq!(read, vec![key(3)]);
    let mut events = Vec::new();
    while let Some(e) = mesh.nodes[0].poll_event() {
        events.push(e);
    }
    assert!(events.iter().any(|e| matches!(e, GroupEvent::Read { member, ids, .. } if *member == key(3) && ids == &vec![m])));
    let delivered_to: Vec<NodeId> = events
        .iter()
        .filter_map(|e| match e {
            GroupEvent::Delivered { member, ids, .. } if ids.contains(&m) => Some(*member),
            _ => None,
        })
        .collect();
    assert_eq!(delivered_to.len(), 3);
}

#[test]
fn the_same_entries_in_any_order_make_the_same_group() {
    // A history with concurrent changes: removals, handovers, invites, messages.
    let (mut mesh, g) = group_of(5);
    for i in 0..5 {
        say(&mut mesh, i, g, &format!("m{i}"));
    }
    // Concurrent: nobody hears anyone while these are made.
    for n in &mut mesh.nodes {
        for b in 1..=5 {
            n.peer_down(key(b));
        }
    }
    mesh.nodes[0].remove(T0, g, key(5)).unwrap();
    say(&mut mesh, 4, g, "while being removed");
    mesh.nodes[1].rename(T0, g, "a").unwrap();
    mesh.nodes[2].rename(T0, g, "b").unwrap();
    mesh.nodes[0].handover(T0, g, key(3)).unwrap();
    mesh.nodes[3].leave(T0, g).unwrap();
    let mut all: Vec<Signed> = Vec::new();
    for n in &mesh.nodes {
        for s in n.group(&g).unwrap().ordered() {
            if !all.iter().any(|a| a.hash == s.hash) {
                all.push(s.clone());
            }
        }
    }
    let create = all
        .iter()
        .find(|s| matches!(s.entry.op, Op::Create { .. }))
        .unwrap()
        .clone();
    let mut rng = Rng::new(3);
    let mut reference = None;
    for round in 0..30 {
        let mut shuffled = all.clone();
        for i in (1..shuffled.len()).rev() {
            let j = rng.below(i as u64 + 1) as usize;
            shuffled.swap(i, j);
        }
        let mut grp = Group::new(create.clone()).unwrap();
        // In several batches, settling in between.
        for chunk in shuffled.chunks(1 + round % 4) {
            for s in chunk {
                let _ = grp.insert(s.clone());
            }
            grp.settle();
        }
        let view = (
            grp.shown(),
            grp.members(),
            grp.owner(),
            grp.name().to_owned(),
        );
        match &reference {
            None => reference = Some(view),
            Some(r) => assert_eq!(&view, r, "round {round}"),
        }
    }
    let (shown, members, _, _) = reference.unwrap();
    assert!(!members.contains(&key(5)));
    assert!(!members.contains(&key(4)));
    // The message written while its author was being removed, without seeing it, is void.
    assert!(
        !shown
            .iter()
            .any(|p| matches!(&p.what, What::Text { text, .. } if text == "while being removed"))
    );
}

#[test]
fn an_invitation_needs_the_create_and_a_member_to_send_it() {
    let (mesh, g) = group_of(2);
    let create = mesh.nodes[0]
        .group(&g)
        .unwrap()
        .ordered()
        .next()
        .unwrap()
        .clone();
    // Node 3 is not in the group: a push of its create makes nothing.
    let mut outsider = Groups::new(&id(3), GroupConfig::default(), 3);
    outsider.handle_frame(mesh.now, key(1), &push_frame(g, &[&create]));
    assert!(outsider.group(&g).is_none());
    assert_eq!(outsider.stats().unsolicited, 1);
    // Node 2 is: the same push from node 1 makes it a member.
    let mut member = Groups::new(&id(2), GroupConfig::default(), 2);
    member.handle_frame(mesh.now, key(1), &push_frame(g, &[&create]));
    assert!(member.group(&g).is_some_and(|grp| grp.is_member(&key(2))));
    // A bystander (not a member) cannot hand a group to node 2 in someone's name... it can
    // relay the signed create, which is fine, but only from a key in the group.
    let mut third = Groups::new(&id(2), GroupConfig::default(), 5);
    third.handle_frame(mesh.now, key(7), &push_frame(g, &[&create]));
    assert!(third.group(&g).is_none());
}

/// A member whose messages all left the window (10,000 newer ones came) writes again: its
/// entry takes the number after its last, names it, and counts. (With the window's floor
/// forgotten, it reused a number, and the group refused it as below the floor.)
#[test]
fn a_member_whose_messages_all_left_the_window_writes_on() {
    let (mut mesh, g) = group_of(2);
    let now = mesh.now;
    mesh.nodes[0]
        .send(T0, g, "long ago", None, Mentions::default())
        .unwrap();
    mesh.run();
    let (mine, _, _) = mesh.nodes[0].group(&g).unwrap().head(&key(1)).unwrap();
    // Member 2 writes a window's worth, kept from an earlier run (one settle).
    let top = mesh.nodes[0].group(&g).unwrap().max_lamport();
    let mut prev = [0; 32];
    let mut signer = Signer::new(&id(2), 5);
    let mut entries = Vec::new();
    for i in 0..=state::MAX_HELD_MESSAGES as u64 {
        let s = Entry {
            group: g,
            author: key(2),
            seq: i + 1,
            lamport: top + 1 + i,
            prev,
            sent_at_ms: T0 + 1,
            op: Op::Text {
                text: format!("m{i}"),
                mentions: Mentions::default(),
            },
        }
        .sign(&mut signer)
        .unwrap();
        prev = s.hash;
        entries.push(s.bytes);
    }
    mesh.nodes[0].restore(now, &entries);
    let grp = mesh.nodes[0].group(&g).unwrap();
    assert_eq!(
        grp.name(),
        "lunch",
        "the create still counts below the floor"
    );
    assert!(grp.is_member(&key(1)) && grp.is_member(&key(2)));
    assert_eq!(grp.head(&key(1)).map(|h| h.0), Some(mine), "the floor");
    let id = mesh.nodes[0]
        .send(T0 + 2, g, "back again", None, Mentions::default())
        .unwrap();
    let grp = mesh.nodes[0].group(&g).unwrap();
    let s = grp.by_id(&key(1), id).unwrap();
    assert_eq!(s.entry.seq, mine + 1);
    assert!(grp.shown().iter().any(|p| p.id == id), "it counts");
}

/// A change that arrives from another member is reported as one (the members, owner and
/// name before it are compared with those after it, not with themselves).
#[test]
fn a_rename_from_another_member_is_reported_to_each() {
    let (mut mesh, g) = group_of(3);
    while mesh.nodes[1].poll_event().is_some() {}
    mesh.nodes[0].rename(T0 + 1, g, "dinner").unwrap();
    mesh.run();
    let mut told = false;
    while let Some(e) = mesh.nodes[1].poll_event() {
        if let GroupEvent::Members { name, members, .. } = e {
            assert_eq!(members.len(), 3);
            told |= name == "dinner";
        }
    }
    assert!(told, "the rename is reported");
}

/// Summaries that cross a push (a receipt, the next request, a greeting) get the entries
/// after it, not the same ones again: two requests from a member that missed 200 messages
/// get two different pushes. (Each crossing summary used to start another chain of the
/// same pushes: a catch-up of 10,000 sent each entry about twenty times.)
#[test]
fn requests_that_cross_a_push_get_the_next_entries_not_the_same_ones() {
    let (mut mesh, g) = group_of(2);
    let now = mesh.now;
    // Member 2 goes away; 1 writes 200.
    mesh.nodes[0].peer_down(key(2));
    for i in 0..200 {
        mesh.nodes[0]
            .send(T0 + i, g, &format!("m{i}"), None, Mentions::default())
            .unwrap();
    }
    while mesh.nodes[0].poll_transmit().is_some() {}
    mesh.nodes[0].peer_up(key(2));
    while mesh.nodes[0].poll_transmit().is_some() {}
    // It holds the create only; it asks twice before anything comes.
    let ask = Frame::Summary(frame::Summary {
        group: g,
        reply: false,
        read: None,
        have: vec![frame::Have {
            author: frame::tag(&key(1)),
            floor: 0,
            hi: 1,
            gaps: Vec::new(),
        }],
    })
    .encode()
    .unwrap();
    let mut pushes = Vec::new();
    for _ in 0..2 {
        mesh.nodes[0].handle_frame(now, key(2), &ask);
        while let Some((to, bytes)) = mesh.nodes[0].poll_transmit() {
            if to == key(2)
                && let Ok(Frame::Push { entries, more, .. }) = Frame::decode(&bytes)
            {
                assert!(more);
                pushes.push(entries);
            }
        }
    }
    assert_eq!(pushes.len(), 2);
    assert!(
        pushes[0].iter().all(|e| !pushes[1].contains(e)),
        "the second push repeats the first"
    );
    // Once the first is long past (lost, say), it may come again.
    let later = now + Duration::from_secs(3);
    mesh.nodes[0].handle_frame(later, key(2), &ask);
    let again = std::iter::from_fn(|| mesh.nodes[0].poll_transmit())
        .filter_map(|(_, b)| match Frame::decode(&b) {
            Ok(Frame::Push { entries, .. }) => Some(entries),
            _ => None,
        })
        .next()
        .unwrap();
    assert_eq!(again, pushes[0]);
}
