//! IP Messenger (iptux, FeiQ) in virtual time: presence, acks, retries, duplicates, a peer
//! that never acks, absence, encodings per peer, and the attacks an unauthenticated
//! protocol invites (entry floods, spoofed exits and acks).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod sim;

use lanchat::proto::ipmsg::{
    self, ABSENCEOPT, ANSENTRY, AUTORETOPT, BR_ABSENCE, BR_ENTRY, BR_EXIT, BROADCASTOPT,
    CAPUTF8OPT, Charset, GETABSENCEINFO, Packet, RECVMSG, SENDABSENCEINFO, SENDCHECKOPT, SENDMSG,
    UTF8OPT,
};
use lanchat::proto::{
    ConversationId, DeliveryState, EndpointConfig, Event, IpmsgClient, IpmsgConfig, MsgId,
    SendError,
};
use sim::{Network, addr, ipmsg_addr, secs};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

fn local(nick: &str) -> ipmsg::Local {
    ipmsg::Local {
        version: "1_lanchat test".into(),
        user: nick.to_lowercase(),
        host: format!("{}-pc", nick.to_lowercase()),
        nick: nick.into(),
        group: "dev".into(),
    }
}

/// IP Messenger on, packet numbers from 1000.
fn with_ipmsg(nick: &'static str) -> impl FnOnce(&mut EndpointConfig) {
    move |cfg| cfg.ipmsg = Some(IpmsgConfig::new(local(nick), 1000))
}

/// A scripted peer at 10.0.0.9:2425 (no endpoint: the test writes its packets).
fn script() -> SocketAddr {
    SocketAddr::from(([10, 0, 0, 9], 2425))
}

fn script_ip() -> Ipv4Addr {
    Ipv4Addr::new(10, 0, 0, 9)
}

/// A packet as a client would write it.
fn packet(version: &str, no: u64, command: u32, extra: &[u8]) -> Vec<u8> {
    let mut out = format!("{version}:{no}:bob:bob-pc:{command}:").into_bytes();
    out.extend_from_slice(extra);
    out
}

const IPTUX: &str = "1_iptux 0.8.3";
const FEIQ: &str = "1_lbt6_0#128#000C29D6E5D1#0#0#0#4001#9";

fn gbk(text: &str) -> Vec<u8> {
    encoding_rs::GB18030.encode(text).0.into_owned()
}

/// What node `i` sent to `to` since the log began, decoded.
fn sent_to(net: &Network, i: usize, to: SocketAddr) -> Vec<Packet> {
    let from = ipmsg_addr(net.nodes[i].addr);
    net.log
        .as_ref()
        .expect("log on")
        .iter()
        .filter(|(f, t, _)| *f == from && *t == to)
        .filter_map(|(_, _, bytes)| Packet::decode(bytes).ok())
        .collect()
}

fn modes(packets: &[Packet]) -> Vec<u32> {
    packets.iter().map(Packet::mode).collect()
}

fn states(events: &[(Duration, Event)], id: MsgId) -> Vec<(Duration, DeliveryState)> {
    events
        .iter()
        .filter_map(|(t, e)| match e {
            Event::State { id: i, state } if *i == id => Some((*t, *state)),
            _ => None,
        })
        .collect()
}

fn messages(events: &[(Duration, Event)]) -> Vec<(ConversationId, String)> {
    events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::Message {
                conversation, text, ..
            } => Some((*conversation, text.clone())),
            _ => None,
        })
        .collect()
}

/// A network with one lanchat node speaking IP Messenger, the log on, and the iptux-like
/// script known to it (its entry answered).
fn with_script(version: &str, entry_extra: &[u8], command: u32) -> (Network, usize) {
    let mut net = Network::new();
    net.log = Some(Vec::new());
    let a = net.add(1, "alice", with_ipmsg("Alice"));
    net.inject_ipmsg(a, script(), &packet(version, 1, command, entry_extra));
    (net, a)
}

#[test]
fn two_nodes_list_each_other_and_a_message_is_acked_once_shown_once() {
    let mut net = Network::new();
    let a = net.add(1, "alice", with_ipmsg("Alice"));
    let b = net.add(2, "bob", with_ipmsg("Bob"));
    net.run_until(secs(0.1));
    // Bob's entry reached Alice (broadcast), she answered; both list the other.
    let a_sees: Vec<_> = net.nodes[a].endpoint.ipmsg_peers();
    let b_sees: Vec<_> = net.nodes[b].endpoint.ipmsg_peers();
    assert_eq!(a_sees.len(), 1, "{a_sees:?}");
    assert_eq!(a_sees[0].name, "Bob");
    assert_eq!(a_sees[0].group, "dev");
    assert_eq!(a_sees[0].host, "bob-pc");
    assert!(a_sees[0].online);
    assert_eq!(b_sees.len(), 1);
    assert_eq!(b_sees[0].name, "Alice");

    let bob_ip = Ipv4Addr::new(10, 0, 0, 2);
    let now = net.now;
    net.nodes[a]
        .endpoint
        .send_message(now, ConversationId::Ipmsg(bob_ip), MsgId(7), 1, "你好 Bob")
        .unwrap();
    net.flush(a);
    net.run_until(secs(1.0));
    let got = messages(&net.take_events(b));
    assert_eq!(
        got,
        vec![(
            ConversationId::Ipmsg(Ipv4Addr::new(10, 0, 0, 1)),
            "你好 Bob".to_string()
        )]
    );
    let st = states(&net.take_events(a), MsgId(7));
    assert_eq!(
        st.iter().map(|(_, s)| *s).collect::<Vec<_>>(),
        vec![DeliveryState::Sending, DeliveryState::Delivered]
    );
}

#[test]
fn a_lost_message_is_sent_again_and_a_lost_ack_brings_a_duplicate_that_is_acked_not_shown() {
    let mut net = Network::new();
    let a = net.add(1, "alice", with_ipmsg("Alice"));
    let b = net.add(2, "bob", with_ipmsg("Bob"));
    net.run_until(secs(0.1));
    // The first SENDMSG and the first RECVMSG are lost.
    let mut lost_msg = false;
    let mut lost_ack = false;
    net.filter = Box::new(move |_, _, bytes| match Packet::decode(bytes) {
        Ok(p) if p.mode() == SENDMSG && !lost_msg => {
            lost_msg = true;
            false
        }
        Ok(p) if p.mode() == RECVMSG && !lost_ack => {
            lost_ack = true;
            false
        }
        _ => true,
    });
    net.log = Some(Vec::new());
    let now = net.now;
    net.nodes[a]
        .endpoint
        .send_message(
            now,
            ConversationId::Ipmsg(Ipv4Addr::new(10, 0, 0, 2)),
            MsgId(9),
            1,
            "hi",
        )
        .unwrap();
    net.flush(a);
    net.run_until(secs(5.0));
    let st = states(&net.take_events(a), MsgId(9));
    let delivered: Vec<_> = st
        .iter()
        .filter(|(_, s)| *s == DeliveryState::Delivered)
        .collect();
    assert_eq!(delivered.len(), 1, "{st:?}");
    // Sent at 0.1, lost; again at 1.1 (its ack lost); again at 2.1, acked.
    assert!(
        delivered[0].0 >= secs(2.1) && delivered[0].0 < secs(2.2),
        "{st:?}"
    );
    assert_eq!(messages(&net.take_events(b)).len(), 1, "shown once");
    let sends = sent_to(&net, a, ipmsg_addr(addr(2)));
    let numbers: Vec<u64> = sends
        .iter()
        .filter(|p| p.mode() == SENDMSG)
        .map(|p| p.packet_no)
        .collect();
    assert_eq!(numbers.len(), 3);
    assert!(numbers.iter().all(|n| *n == numbers[0]), "same PacketNo");
    let acks = sent_to(&net, b, ipmsg_addr(addr(1)));
    assert_eq!(
        modes(&acks),
        vec![RECVMSG, RECVMSG],
        "both copies that came acked"
    );
    assert_eq!(net.nodes[b].endpoint.ipmsg_stats().unwrap().duplicates, 1);
}

#[test]
fn a_peer_that_never_acks_gets_four_sends_then_the_message_fails() {
    let (mut net, a) = with_script(IPTUX, b"bob\0\0icon-tux.png\0utf-8\0", BR_ENTRY);
    let now = net.now;
    net.nodes[a]
        .endpoint
        .send_message(
            now,
            ConversationId::Ipmsg(script_ip()),
            MsgId(3),
            1,
            "anyone?",
        )
        .unwrap();
    net.flush(a);
    net.run_until(secs(10.0));
    let sends: Vec<Packet> = sent_to(&net, a, script())
        .into_iter()
        .filter(|p| p.mode() == SENDMSG)
        .collect();
    assert_eq!(sends.len(), 4, "iptux's count");
    assert!(sends.iter().all(|p| p.packet_no == sends[0].packet_no));
    assert!(sends.iter().all(|p| p.has(SENDCHECKOPT)));
    let st = states(&net.take_events(a), MsgId(3));
    assert_eq!(
        st,
        vec![
            (Duration::ZERO, DeliveryState::Sending),
            (secs(4.0), DeliveryState::Failed)
        ]
    );
}

#[test]
fn an_iptux_message_sent_four_times_is_acked_four_times_and_shown_once() {
    let (mut net, a) = with_script(IPTUX, b"bob\0\0icon-tux.png\0utf-8\0", BR_ENTRY);
    for _ in 0..4 {
        net.inject_ipmsg(a, script(), &packet(IPTUX, 50, 288, b"hello lanchat\0"));
    }
    let sent = sent_to(&net, a, script());
    // Its entry answered, then one ack per copy, each naming PacketNo 50.
    assert_eq!(
        modes(&sent),
        vec![ANSENTRY, RECVMSG, RECVMSG, RECVMSG, RECVMSG]
    );
    for ack in &sent[1..] {
        assert_eq!(ack.referenced_packet_no(), Some(50));
        assert_eq!(ack.extra, b"50\0");
    }
    let events = net.take_events(a);
    assert_eq!(
        messages(&events),
        vec![(ConversationId::Ipmsg(script_ip()), "hello lanchat".into())]
    );
    let peer = net.nodes[a].endpoint.ipmsg_peer(script_ip()).unwrap();
    assert_eq!(peer.client, IpmsgClient::Iptux);
    // iptux always sets ABSENCEOPT: not a sign of absence.
    assert!(!peer.absent);
}

#[test]
fn acks_autoreplies_and_broadcasts_are_never_acked_or_answered() {
    let (mut net, a) = with_script(IPTUX, b"bob\0\0icon-tux.png\0utf-8\0", BR_ENTRY);
    net.nodes[a].endpoint.set_away(Some("out to lunch".into()));
    net.flush(a);
    net.log = Some(Vec::new());
    // iptux's RECVMSG carries 0x100: still not a request.
    net.inject_ipmsg(a, script(), &packet(IPTUX, 60, RECVMSG | 0x100, b"1234\0"));
    net.inject_ipmsg(
        a,
        script(),
        &packet(
            IPTUX,
            61,
            SENDMSG | SENDCHECKOPT | AUTORETOPT,
            b"I am away\0",
        ),
    );
    net.inject_ipmsg(
        a,
        script(),
        &packet(
            IPTUX,
            62,
            SENDMSG | SENDCHECKOPT | BROADCASTOPT,
            b"to all\0",
        ),
    );
    assert!(sent_to(&net, a, script()).is_empty(), "nothing answered");
    // The auto-reply and the broadcast are shown all the same.
    assert_eq!(messages(&net.take_events(a)).len(), 2);
}

#[test]
fn away_is_announced_answered_when_asked_and_auto_replied_once_in_a_while() {
    let (mut net, a) = with_script(IPTUX, b"bob\0\0icon-tux.png\0utf-8\0", BR_ENTRY);
    net.log = Some(Vec::new());
    net.nodes[a].endpoint.set_away(Some("在开会".into()));
    net.flush(a);
    let log = net.log.as_ref().unwrap();
    let absence = log
        .iter()
        .filter_map(|(_, _, b)| Packet::decode(b).ok())
        .find(|p| p.mode() == BR_ABSENCE)
        .expect("a BR_ABSENCE went out");
    assert!(absence.has(ABSENCEOPT));
    assert!(!absence.has(UTF8OPT), "entries never carry UTF8OPT");
    net.log = Some(Vec::new());
    net.inject_ipmsg(a, script(), &packet(IPTUX, 70, GETABSENCEINFO, b"\0"));
    net.inject_ipmsg(a, script(), &packet(IPTUX, 71, 288, b"are you there?\0"));
    net.inject_ipmsg(a, script(), &packet(IPTUX, 72, 288, b"hello?\0"));
    let sent = sent_to(&net, a, script());
    assert_eq!(
        modes(&sent),
        vec![SENDABSENCEINFO, RECVMSG, SENDMSG, RECVMSG],
        "one auto-reply for two messages"
    );
    assert_eq!(sent[0].text(), "在开会");
    assert!(sent[2].has(AUTORETOPT));
    assert!(!sent[2].has(SENDCHECKOPT), "an auto-reply asks for no ack");
    assert_eq!(sent[2].text(), "在开会");
    // Back: "Not absence mode".
    net.nodes[a].endpoint.set_away(None);
    net.flush(a);
    net.log = Some(Vec::new());
    net.inject_ipmsg(a, script(), &packet(IPTUX, 73, GETABSENCEINFO, b"\0"));
    assert_eq!(sent_to(&net, a, script())[0].text(), "Not absence mode");
}

#[test]
fn feiq_is_written_gbk_without_utf8opt_its_font_is_stripped_and_its_shake_shows() {
    let mut nick = gbk("张三");
    nick.push(0);
    let (mut net, a) = with_script(FEIQ, &nick, BR_ENTRY | 0x0060_0000);
    let peer = net.nodes[a].endpoint.ipmsg_peer(script_ip()).unwrap();
    assert_eq!(peer.client, IpmsgClient::FeiQ);
    assert_eq!(peer.name, "张三");
    assert_eq!(peer.charset, Charset::Gb18030);
    // FeiQ sends everything in GBK with a trailing NUL, and a font block.
    let mut text = gbk("你好{/font;-12;0;0;0;400;0;0;0;134;宋体}");
    text.push(0);
    net.inject_ipmsg(a, script(), &packet(FEIQ, 80, 288, &text));
    net.inject_ipmsg(a, script(), &packet(FEIQ, 81, ipmsg::FEIQ_KNOCK, b"\0"));
    let events = net.take_events(a);
    assert_eq!(
        messages(&events),
        vec![(ConversationId::Ipmsg(script_ip()), "你好".into())]
    );
    assert!(events.iter().any(|(_, e)| matches!(
        e,
        Event::Shake { conversation } if *conversation == ConversationId::Ipmsg(script_ip())
    )));
    net.log = Some(Vec::new());
    let now = net.now;
    net.nodes[a]
        .endpoint
        .send_message(now, ConversationId::Ipmsg(script_ip()), MsgId(5), 1, "收到")
        .unwrap();
    net.flush(a);
    let sent = sent_to(&net, a, script());
    assert_eq!(sent.len(), 1);
    assert!(!sent[0].has(UTF8OPT));
    assert_eq!(sent[0].extra, [gbk("收到"), vec![0]].concat());
    // And its ack arrives: delivered.
    let no = sent[0].packet_no.to_string();
    net.inject_ipmsg(a, script(), &packet(FEIQ, 82, RECVMSG, no.as_bytes()));
    let st = states(&net.take_events(a), MsgId(5));
    assert_eq!(st.last().map(|s| s.1), Some(DeliveryState::Delivered));
}

#[test]
fn each_peer_is_written_in_what_it_reads() {
    // IP Messenger with CAPUTF8OPT: UTF-8 and UTF8OPT.
    let (mut net, a) = with_script("1", b"bob\0dev\0", BR_ENTRY | CAPUTF8OPT);
    let sent = sent_to(&net, a, script());
    assert_eq!(modes(&sent), vec![ANSENTRY]);
    assert!(
        sent[0].has(UTF8OPT),
        "answered in UTF-8, as IP Messenger does"
    );
    let now = net.now;
    net.nodes[a]
        .endpoint
        .send_message(now, ConversationId::Ipmsg(script_ip()), MsgId(1), 1, "中文")
        .unwrap();
    net.flush(a);
    let sent = sent_to(&net, a, script());
    assert!(sent[1].has(UTF8OPT));
    assert_eq!(sent[1].text(), "中文");
    assert_eq!(sent[1].extra, "中文\0".as_bytes());

    // iptux that wrote to us in GBK (it took us for a GBK peer): GBK back.
    let (mut net, a) = with_script(IPTUX, b"bob\0\0icon-tux.png\0utf-8\0", BR_ENTRY);
    let mut text = gbk("来自 iptux 的消息");
    text.push(0);
    net.inject_ipmsg(a, script(), &packet(IPTUX, 90, 288, &text));
    assert_eq!(
        messages(&net.take_events(a))[0].1,
        "来自 iptux 的消息".to_string()
    );
    net.log = Some(Vec::new());
    let now = net.now;
    net.nodes[a]
        .endpoint
        .send_message(now, ConversationId::Ipmsg(script_ip()), MsgId(2), 1, "回复")
        .unwrap();
    net.flush(a);
    let sent = sent_to(&net, a, script());
    assert_eq!(sent[0].extra, [gbk("回复"), vec![0]].concat());
    // iptux in UTF-8: UTF-8 back.
    let (mut net, a) = with_script(IPTUX, "鲍勃\0\0icon-tux.png\0utf-8\0".as_bytes(), BR_ENTRY);
    let now = net.now;
    net.nodes[a]
        .endpoint
        .send_message(now, ConversationId::Ipmsg(script_ip()), MsgId(2), 1, "回复")
        .unwrap();
    net.flush(a);
    let sent = sent_to(&net, a, script());
    assert_eq!(sent.last().unwrap().extra, "回复\0".as_bytes());
}

#[test]
fn long_text_goes_in_datagrams_every_client_takes_and_is_delivered_when_all_are_acked() {
    let mut net = Network::new();
    let a = net.add(1, "alice", with_ipmsg("Alice"));
    let b = net.add(2, "bob", with_ipmsg("Bob"));
    net.run_until(secs(0.1));
    net.log = Some(Vec::new());
    let text = "长".repeat(5000) + &"x".repeat(5000);
    let now = net.now;
    net.nodes[a]
        .endpoint
        .send_message(
            now,
            ConversationId::Ipmsg(Ipv4Addr::new(10, 0, 0, 2)),
            MsgId(4),
            1,
            &text,
        )
        .unwrap();
    net.flush(a);
    net.run_until(secs(1.0));
    let log = net.log.as_ref().unwrap();
    let parts: Vec<&Vec<u8>> = log
        .iter()
        .filter(|(f, _, b)| {
            *f == ipmsg_addr(addr(1)) && Packet::decode(b).is_ok_and(|p| p.mode() == SENDMSG)
        })
        .map(|(_, _, b)| b)
        .collect();
    assert!(parts.len() >= 5, "{}", parts.len());
    assert!(parts.iter().all(|p| p.len() <= ipmsg::MAX_DATAGRAM));
    let got: String = messages(&net.take_events(b))
        .into_iter()
        .map(|(_, t)| t)
        .collect();
    assert_eq!(got, text);
    let st = states(&net.take_events(a), MsgId(4));
    assert_eq!(
        st.iter().map(|(_, s)| *s).collect::<Vec<_>>(),
        vec![DeliveryState::Sending, DeliveryState::Delivered]
    );
}

#[test]
fn our_exit_goes_to_everyone_and_a_peers_exit_takes_it_offline() {
    let mut net = Network::new();
    let a = net.add(1, "alice", with_ipmsg("Alice"));
    let b = net.add(2, "bob", with_ipmsg("Bob"));
    net.run_until(secs(0.1));
    net.take_events(a);
    let now = net.now;
    net.nodes[b].endpoint.shutdown(now);
    net.flush(b);
    net.run_until(secs(0.2));
    let peer = net.nodes[a]
        .endpoint
        .ipmsg_peer(Ipv4Addr::new(10, 0, 0, 2))
        .unwrap();
    assert!(!peer.online);
    assert!(
        net.take_events(a)
            .iter()
            .any(|(_, e)| matches!(e, Event::IpmsgPeer(v) if !v.online))
    );
}

#[test]
fn a_silent_peer_goes_offline_and_entries_keep_the_list_fresh() {
    let mut net = Network::new();
    let a = net.add(1, "alice", with_ipmsg("Alice"));
    let b = net.add(2, "bob", with_ipmsg("Bob"));
    // Entries every minute, answered: both stay online for ten minutes.
    net.run_until(secs(600.0));
    assert!(net.nodes[a].endpoint.ipmsg_peers()[0].online);
    assert!(net.nodes[b].endpoint.ipmsg_peers()[0].online);
    // Bob's machine loses power: no exit. Alice marks him offline after the timeout.
    net.nodes[b].down = true;
    net.run_until(secs(900.0));
    assert!(!net.nodes[a].endpoint.ipmsg_peers()[0].online);
}

// Attacks.

#[test]
fn an_entry_flood_from_one_address_keeps_one_peer_and_earns_one_answer_a_second() {
    let (mut net, a) = with_script(IPTUX, b"bob\0\0icon-tux.png\0utf-8\0", BR_ENTRY);
    net.log = Some(Vec::new());
    for i in 0..10_000u64 {
        let nick = format!("bob{i}\0\0");
        net.inject_ipmsg(
            a,
            script(),
            &packet(IPTUX, 100 + i, BR_ENTRY, nick.as_bytes()),
        );
        if i % 1000 == 999 {
            net.run_until(net.elapsed() + secs(0.5));
        }
    }
    assert_eq!(net.nodes[a].endpoint.ipmsg_peers().len(), 1);
    let answers = sent_to(&net, a, script());
    // Five virtual seconds passed: at most one ANSENTRY a second (and one at the start).
    assert!(answers.len() <= 6, "{} answers", answers.len());
}

#[test]
fn an_entry_flood_from_many_addresses_stays_within_the_table() {
    let mut net = Network::new();
    let a = net.add(1, "alice", with_ipmsg("Alice"));
    let _b = net.add(2, "bob", with_ipmsg("Bob"));
    net.run_until(secs(0.1));
    net.log = Some(Vec::new());
    let bob = Ipv4Addr::new(10, 0, 0, 2);
    let now = net.now;
    // A message on its way to Bob: he may not be pushed out meanwhile.
    net.nodes[a]
        .endpoint
        .send_message(now, ConversationId::Ipmsg(bob), MsgId(8), 1, "hold on")
        .unwrap();
    // Not flushed yet: the flood comes first.
    for i in 0..5_000u32 {
        let from = SocketAddr::from((Ipv4Addr::from(0x0b00_0000 + i), 2425));
        net.nodes[a]
            .endpoint
            .handle_ipmsg(now, from, &packet("1", 1, BR_ENTRY, b"x\0\0"));
    }
    net.flush(a);
    // Nor is Alice made a reflector: 5,000 spoofed entries get at most a burst of answers
    // (the shared limit on unrequested answers, 64), not 5,000.
    let from = ipmsg_addr(net.nodes[a].addr);
    let answers = net
        .log
        .as_ref()
        .expect("log on")
        .iter()
        .filter(|(f, t, _)| {
            *f == from && matches!(t.ip(), std::net::IpAddr::V4(ip) if ip.octets()[0] == 11)
        })
        .count();
    assert!(answers <= 64, "{answers} answers to spoofed senders");
    let peers = net.nodes[a].endpoint.ipmsg_peers();
    assert!(peers.len() <= 512, "{}", peers.len());
    assert!(peers.iter().any(|p| p.ip == bob), "Bob stays");
    net.run_until(secs(2.0));
    let st = states(&net.take_events(a), MsgId(8));
    assert_eq!(st.last().map(|s| s.1), Some(DeliveryState::Delivered));
}

#[test]
fn a_spoofed_exit_or_ack_from_another_address_changes_nothing() {
    let (mut net, a) = with_script(IPTUX, b"bob\0\0icon-tux.png\0utf-8\0", BR_ENTRY);
    let mallory = SocketAddr::from(([10, 0, 0, 66], 2425));
    // Mallory says "bob" left, in bob's words, from her address.
    net.inject_ipmsg(a, mallory, &packet(IPTUX, 2, BR_EXIT, b"bob\0"));
    assert!(
        net.nodes[a]
            .endpoint
            .ipmsg_peer(script_ip())
            .unwrap()
            .online
    );
    // A message to Bob, which Bob never acks; Mallory acks it for him.
    net.log = Some(Vec::new());
    let now = net.now;
    net.nodes[a]
        .endpoint
        .send_message(
            now,
            ConversationId::Ipmsg(script_ip()),
            MsgId(6),
            1,
            "for bob",
        )
        .unwrap();
    net.flush(a);
    let no = sent_to(&net, a, script())[0].packet_no;
    for _ in 0..3 {
        net.inject_ipmsg(
            a,
            mallory,
            &packet(IPTUX, 3, RECVMSG, no.to_string().as_bytes()),
        );
    }
    net.run_until(secs(10.0));
    let st = states(&net.take_events(a), MsgId(6));
    assert_eq!(
        st.last().map(|s| s.1),
        Some(DeliveryState::Failed),
        "{st:?}"
    );
    assert_eq!(net.nodes[a].endpoint.ipmsg_stats().unwrap().stray_acks, 3);
}

#[test]
fn an_ipmsg_packet_never_becomes_plain_text() {
    // With IP Messenger off, a packet on lanchat's own socket is dropped, not shown.
    let mut net = Network::new();
    let a = net.add(1, "alice", |_| {});
    net.inject(
        a,
        script(),
        &packet(FEIQ, 1, 288, &[gbk("你好"), vec![0]].concat()),
    );
    assert!(messages(&net.take_events(a)).is_empty());
    assert_eq!(net.nodes[a].endpoint.stats().text_in, 0);
    assert_eq!(
        net.nodes[a].endpoint.send_message(
            net.now,
            ConversationId::Ipmsg(script_ip()),
            MsgId(1),
            1,
            "x"
        ),
        Err(SendError::IpmsgOff)
    );
    // With it on, the same packet on lanchat's socket is an IP Messenger message.
    let mut net = Network::new();
    let a = net.add(1, "alice", with_ipmsg("Alice"));
    net.inject(
        a,
        script(),
        &packet(FEIQ, 1, 288, &[gbk("你好"), vec![0]].concat()),
    );
    assert_eq!(
        messages(&net.take_events(a)),
        vec![(ConversationId::Ipmsg(script_ip()), "你好".into())]
    );
    assert_eq!(net.nodes[a].endpoint.stats().text_in, 0);
}

#[test]
fn a_plain_text_peer_that_writes_gbk_gets_gbk_back() {
    let mut net = Network::new();
    net.log = Some(Vec::new());
    let a = net.add(1, "alice", |_| {});
    let tutorial = SocketAddr::from(([10, 0, 0, 8], 9999));
    net.inject(a, tutorial, &gbk("你好，服务器"));
    assert_eq!(
        messages(&net.take_events(a)),
        vec![(ConversationId::Raw(tutorial), "你好，服务器".into())]
    );
    let now = net.now;
    net.nodes[a]
        .endpoint
        .send_message(
            now,
            ConversationId::Raw(tutorial),
            MsgId(1),
            1,
            "你好，客户端",
        )
        .unwrap();
    net.flush(a);
    let log = net.log.as_ref().unwrap();
    let sent: Vec<&Vec<u8>> = log
        .iter()
        .filter(|(_, t, _)| *t == tutorial)
        .map(|(_, _, b)| b)
        .collect();
    assert_eq!(sent, vec![&gbk("你好，客户端")]);
    // Once it writes UTF-8, it gets UTF-8.
    net.inject(a, tutorial, "hello".as_bytes());
    net.log = Some(Vec::new());
    net.nodes[a]
        .endpoint
        .send_message(now, ConversationId::Raw(tutorial), MsgId(2), 1, "你好")
        .unwrap();
    net.flush(a);
    let log = net.log.as_ref().unwrap();
    assert_eq!(log[0].2, "你好".as_bytes());
}

#[test]
fn an_unknown_sender_is_acked_shown_and_asked_who_it_is() {
    let mut net = Network::new();
    net.log = Some(Vec::new());
    let a = net.add(1, "alice", with_ipmsg("Alice"));
    net.inject_ipmsg(a, script(), &packet("1", 5, 288, b"hi\0"));
    let sent = sent_to(&net, a, script());
    assert_eq!(modes(&sent), vec![RECVMSG, BR_ENTRY]);
    assert!(sent[1].has(ipmsg::DIALUPOPT));
    let peer = net.nodes[a].endpoint.ipmsg_peer(script_ip()).unwrap();
    assert_eq!(peer.name, "bob", "named by its user until its entry comes");
    // With NOADDLISTOPT: acked, not asked.
    net.log = Some(Vec::new());
    let other = SocketAddr::from(([10, 0, 0, 10], 2425));
    net.inject_ipmsg(
        a,
        other,
        &packet("1", 6, 288 | ipmsg::NOADDLISTOPT, b"hi\0"),
    );
    assert_eq!(modes(&sent_to(&net, a, other)), vec![RECVMSG]);
}

#[test]
fn we_never_advertise_encryption() {
    let mut net = Network::new();
    net.log = Some(Vec::new());
    let a = net.add(1, "alice", with_ipmsg("Alice"));
    net.inject_ipmsg(
        a,
        script(),
        &packet(FEIQ, 1, BR_ENTRY | 0x0060_0000, b"x\0"),
    );
    let log = net.log.as_ref().unwrap();
    assert!(!log.is_empty());
    for (_, _, bytes) in log {
        let p = Packet::decode(bytes).unwrap();
        assert_eq!(p.command & ipmsg::NEVER_SENT, 0, "{p:?}");
    }
}

#[test]
fn with_a_chinese_name_our_entries_are_gbk_so_iptux_is_written_gbk_until_it_writes_utf8() {
    let mut net = Network::new();
    net.log = Some(Vec::new());
    let a = net.add(1, "alice", with_ipmsg("蓝聊"));
    // Our broadcast entry: the nickname in GB18030, without UTF8OPT.
    let entry = net
        .log
        .as_ref()
        .unwrap()
        .iter()
        .find_map(|(_, _, b)| Packet::decode(b).ok().filter(|p| p.mode() == BR_ENTRY))
        .expect("an entry at start");
    assert!(!entry.has(UTF8OPT));
    assert!(entry.extra.starts_with(&gbk("蓝聊")));
    // iptux, having read that, takes us for GB18030 (and its guess sticks): so GB18030 it
    // gets, answer to its entry included.
    net.log = Some(Vec::new());
    net.inject_ipmsg(
        a,
        script(),
        &packet(IPTUX, 1, BR_ENTRY, b"bob\0\0icon-tux.png\0utf-8\0"),
    );
    let peer = net.nodes[a].endpoint.ipmsg_peer(script_ip()).unwrap();
    assert_eq!(peer.charset, Charset::Gb18030);
    let sent = sent_to(&net, a, script());
    assert_eq!(modes(&sent), vec![ANSENTRY]);
    assert!(!sent[0].has(UTF8OPT));
    assert!(sent[0].extra.starts_with(&gbk("蓝聊")));
    // It writes UTF-8 after all: UTF-8 back.
    net.inject_ipmsg(a, script(), &packet(IPTUX, 2, 288, "好的\0".as_bytes()));
    let views: Vec<Charset> = net
        .take_events(a)
        .iter()
        .filter_map(|(_, e)| match e {
            Event::IpmsgPeer(v) => Some(v.charset),
            _ => None,
        })
        .collect();
    assert_eq!(views.last(), Some(&Charset::Utf8), "the change is told");
}

#[test]
fn a_file_offer_is_handed_up_with_its_files_and_a_release_names_its_offer() {
    let (mut net, a) = with_script(IPTUX, b"bob\0\0icon-tux.png\0utf-8\0", BR_ENTRY);
    // iptux's offer: no SENDCHECKOPT, empty text, a decimal id, a GBK name here.
    let mut extra = b"\0".to_vec();
    extra.extend(b"10000:");
    extra.extend(gbk("报告.txt"));
    extra.extend(b":20:6b0fb3bd:1:\x07\0");
    net.log = Some(Vec::new());
    net.inject_ipmsg(
        a,
        script(),
        &packet(IPTUX, 40, SENDMSG | ipmsg::FILEATTACHOPT, &extra),
    );
    assert!(
        sent_to(&net, a, script()).is_empty(),
        "no ack asked, none sent"
    );
    let events = net.take_events(a);
    let files = events
        .iter()
        .find_map(|(_, e)| match e {
            Event::IpmsgFiles {
                from,
                addr,
                offer_no,
                files,
            } => Some((*from, *addr, *offer_no, files.clone())),
            _ => None,
        })
        .expect("the offer");
    assert_eq!(files.0, script_ip());
    assert_eq!(files.1, script());
    assert_eq!(files.2, 40);
    assert_eq!(files.3.len(), 1);
    assert_eq!(files.3[0].file_id, 10000);
    assert_eq!(files.3[0].name, "报告.txt");
    assert_eq!(files.3[0].size, 0x20);
    assert!(!files.3[0].dir);
    // Our own offer: file names in the peer's encoding (given in UTF-8), SENDCHECKOPT, an id that reads the
    // same in hex; delivered when acked.
    let now = net.now;
    let offer_no = net.nodes[a]
        .endpoint
        .ipmsg_offer(
            now,
            script_ip(),
            MsgId(12),
            &[ipmsg::Attachment {
                file_id: 0,
                name: "说明.txt".as_bytes().to_vec(),
                size: 5,
                mtime: 0,
                attr: ipmsg::FILE_REGULAR,
            }],
        )
        .unwrap();
    net.flush(a);
    let sent = sent_to(&net, a, script());
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].packet_no, offer_no);
    assert!(sent[0].has(SENDCHECKOPT) && sent[0].has(ipmsg::FILEATTACHOPT));
    // It wrote GBK (its file name): GBK back.
    assert_eq!(sent[0].attachments().unwrap()[0].name, gbk("说明.txt"));
    net.inject_ipmsg(
        a,
        script(),
        &packet(IPTUX, 41, RECVMSG, offer_no.to_string().as_bytes()),
    );
    let st = states(&net.take_events(a), MsgId(12));
    assert_eq!(st.last().map(|s| s.1), Some(DeliveryState::Delivered));
    // It will not fetch it.
    net.inject_ipmsg(
        a,
        script(),
        &packet(
            IPTUX,
            42,
            ipmsg::RELEASEFILES,
            offer_no.to_string().as_bytes(),
        ),
    );
    assert!(net.take_events(a).iter().any(|(_, e)| matches!(
        e,
        Event::IpmsgRelease { from, offer_no: n } if *from == script_ip() && *n == offer_no
    )));
    // The GETFILEDATA we would send for iptux's file: ids in hex.
    let request = net.nodes[a]
        .endpoint
        .ipmsg_file_request(&ipmsg::FileRequest::new(40, 10000, 0));
    let p = Packet::decode(request.strip_suffix(&[0]).unwrap()).unwrap();
    assert_eq!(p.mode(), ipmsg::GETFILEDATA);
    assert_eq!(p.extra, b"28:2710:0", "one final NUL, stripped above");
}

mod never_panics {
    use super::*;
    use proptest::prelude::*;

    /// Header-like packets: any version, number and command (mode and options), and an
    /// Extra of NULs, bells, colons, digits and high bytes.
    fn packet_bytes() -> impl Strategy<Value = Vec<u8>> {
        (
            prop::sample::select(vec!["1", IPTUX, FEIQ, "1_lbt", "9"]),
            any::<u64>(),
            any::<u32>(),
            prop::collection::vec(
                prop::sample::select(vec![0u8, 7, b':', b'1', b'a', b'\n', 0xC4, 0xFF]),
                0..200,
            ),
        )
            .prop_map(|(v, no, command, extra)| {
                let mut out = format!("{v}:{no}:u:h:{command}:").into_bytes();
                out.extend(extra);
                out
            })
    }

    proptest! {
        #[test]
        fn the_endpoint_takes_any_packet_without_panicking(
            packets in prop::collection::vec(packet_bytes(), 1..40),
        ) {
            let (mut net, a) = with_script(IPTUX, b"bob\0\0", BR_ENTRY);
            for p in &packets {
                net.inject_ipmsg(a, script(), p);
                net.inject(a, script(), p);
            }
            net.run_until(secs(10.0));
            prop_assert!(net.nodes[a].endpoint.ipmsg_peers().len() <= 1);
        }
    }
}
