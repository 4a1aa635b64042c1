//! Issue 12, "trust the key, not the packet", as the attacks: someone on the LAN forges
//! beacons, goodbyes, plain text and handshake initiations from any source address, in
//! virtual time. A peer's name, address and presence may change only through authenticated
//! packets with a proven return path; floods cost bounded work; nothing is amplified.
//!
//! The attacker's datagrams are written with `wire::Frame` (beacons, goodbyes) or built by
//! the real handshake code (`sim::initiation_as`), as any attacker who knows the public key
//! of its target can. Addresses: real nodes are 10.0.0.n; spoofed sources 10.100.x.y
//! (`sim::spoofed`) or a node number nobody uses (10.0.0.66 for mallory).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod sim;

use lanchat::proto::wire::{self, Frame};
use lanchat::proto::{
    ConversationId, Endpoint, EndpointConfig, Event, Identity, MsgId, NodeId, PeerView, Trust,
};
use lanchat::rng::Rng;
use lanchat::runtime::pipe::resolve_target;
use sim::{
    Network, addr, beacon, delivered, goodbye, identity, initiation_as, kind, node_id, run_for,
    secs, send, spoofed, texts, trust_events,
};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// Mallory's own address: a machine on the LAN that is not a lanchat node.
fn mallory_addr(port: u16) -> SocketAddr {
    SocketAddr::from(([10, 0, 0, 66], port))
}

/// Alice (node 1) and bob (node 2), found each other, one message exchanged, events taken.
fn pair() -> (Network, usize, usize) {
    let mut net = Network::new();
    let a = net.add(1, "alice", |_| {});
    let b = net.add(2, "bob", |_| {});
    net.run_until(secs(1.0));
    send(&mut net, a, node_id(2), 1, "hi bob");
    // Past the start-up beacons (0, 1 and 3 s): the next ones come ~30 s later.
    net.run_until(secs(4.0));
    assert_eq!(texts(&net.take_events(b)), vec!["hi bob"]);
    assert!(delivered(&net.take_events(a), 1));
    (net, a, b)
}

/// PeerUp, PeerUpdated and PeerDown events, as (kind, view).
fn presence(events: &[(Duration, Event)]) -> Vec<(&'static str, PeerView)> {
    events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::PeerUp(p) => Some(("up", p.clone())),
            Event::PeerUpdated(p) => Some(("updated", p.clone())),
            Event::PeerDown { peer, .. } => Some(("down", peer.clone())),
            _ => None,
        })
        .collect()
}

/// Every datagram logged since the log was last taken, as (from, to, bytes); logging
/// goes on.
fn take_log(net: &mut Network) -> Vec<(SocketAddr, SocketAddr, Vec<u8>)> {
    net.log.replace(Vec::new()).expect("logging is on")
}

/// One of the addresses of `sim::spoofed`.
fn is_spoofed(a: &SocketAddr) -> bool {
    matches!(a.ip(), IpAddr::V4(v4) if v4.octets()[0] == 10 && v4.octets()[1] >= 100)
}

/// A key nobody holds: 32 random bytes (a beacon is never checked against anything).
fn random_key(rng: &mut Rng) -> NodeId {
    let mut k = [0u8; 32];
    for chunk in k.chunks_mut(8) {
        chunk.copy_from_slice(&rng.next_u64().to_be_bytes());
    }
    NodeId(k)
}

/// A fresh key pair, as an attacker makes them by the thousand.
fn random_identity(rng: &mut Rng) -> Identity {
    Identity::from_secret(random_key(rng).0)
}

// ---------------------------------------------------------------------------------------
// 1. Redirect
// ---------------------------------------------------------------------------------------

#[test]
fn a_forged_beacon_neither_renames_nor_moves_a_known_peer() {
    let (mut net, a, b) = pair();
    // Mallory announces bob's key under her own name, from her address, claiming a port
    // of her own; then the same from bob's IP with another port.
    net.inject(
        a,
        mallory_addr(40_000),
        &beacon(node_id(2), 40_000, true, "mallory"),
    );
    net.inject(
        a,
        SocketAddr::new(addr(2).ip(), 40_001),
        &beacon(node_id(2), 40_001, true, "mallory"),
    );
    run_for(&mut net, secs(0.1));
    let bob = net.nodes[a].endpoint.peer(&node_id(2)).expect("bob known");
    assert_eq!(bob.name, "bob", "renamed by a beacon");
    assert_eq!(bob.addr, addr(2), "moved by a beacon");
    assert!(bob.online);
    // And alice's next message goes to where bob really is.
    send(&mut net, a, node_id(2), 2, "still you?");
    run_for(&mut net, secs(0.5));
    assert_eq!(texts(&net.take_events(b)), vec!["still you?"]);
    let events = net.take_events(a);
    assert!(presence(&events).is_empty(), "{:?}", presence(&events));
    let bob = net.nodes[a].endpoint.peer(&node_id(2)).expect("bob known");
    assert_eq!((bob.name.as_str(), bob.addr), ("bob", addr(2)));
}

#[test]
fn a_lookalike_beacon_and_a_forged_goodbye_do_not_redirect_a_send_to_bob() {
    let (mut net, a, b) = pair();
    let mallory = node_id(66);
    // Mallory's own key, calling itself "bob", and a goodbye in bob's name from bob's
    // address: two datagrams in the clear.
    net.inject(
        a,
        mallory_addr(47475),
        &beacon(mallory, 47475, false, "bob"),
    );
    net.inject(a, addr(2), &goodbye(node_id(2)));
    run_for(&mut net, secs(1.0));

    // What the pipe's `send {"to": "bob"}` (and the TUI's /msg bob) picks.
    let peers: Vec<PeerView> = net.nodes[a].endpoint.peers().collect();
    assert_eq!(
        resolve_target(peers.clone(), "bob"),
        Ok(ConversationId::Peer(node_id(2))),
        "\"bob\" now means mallory's key: {peers:?}"
    );
    let bob = net.nodes[a].endpoint.peer(&node_id(2)).expect("bob known");
    assert!(bob.online, "an unauthenticated goodbye took bob offline");
    assert!(
        !peers.iter().any(|p| p.id == mallory && p.online),
        "a beacon alone put mallory's key online: {peers:?}"
    );
    let events = net.take_events(a);
    assert!(presence(&events).is_empty(), "{:?}", presence(&events));
    assert!(trust_events(&events).is_empty(), "{events:?}");

    // A send to bob's key reaches bob, at once.
    send(&mut net, a, node_id(2), 2, "for bob only");
    run_for(&mut net, secs(0.5));
    assert_eq!(texts(&net.take_events(b)), vec!["for bob only"]);
    assert!(delivered(&net.take_events(a), 2));
}

// ---------------------------------------------------------------------------------------
// 2. Silence
// ---------------------------------------------------------------------------------------

#[test]
fn forged_goodbyes_do_not_silence_a_peer() {
    let (mut net, a, b) = pair();
    let start = net.elapsed();
    let mut sent_at: HashMap<String, Duration> = HashMap::new();
    let mut lost_session = Vec::new();
    // For 30 s: a goodbye in bob's name from bob's address once a second, while alice
    // writes to bob every half second.
    for step in 0..60u64 {
        let t = start + Duration::from_millis(500 * step);
        net.run_until(t);
        if step % 2 == 0 {
            net.inject(a, addr(2), &goodbye(node_id(2)));
            if !net.nodes[a].endpoint.is_secured(net.now, &node_id(2)) {
                lost_session.push(step);
            }
        }
        let text = format!("m{step}");
        sent_at.insert(text.clone(), net.elapsed());
        send(&mut net, a, node_id(2), 100 + step, &text);
    }
    run_for(&mut net, secs(5.0));
    let at_bob = net.take_events(b);
    let got = texts(&at_bob);
    let want: Vec<String> = (0..60).map(|s| format!("m{s}")).collect();
    // How long each message took, in arrival order.
    let late: Vec<String> = at_bob
        .iter()
        .filter_map(|(t, e)| match e {
            Event::Message { text, .. } => Some((text, *t - sent_at[text])),
            _ => None,
        })
        .filter(|(_, took)| *took > secs(0.2))
        .map(|(text, took)| format!("{text} after {:.1} s", took.as_secs_f64()))
        .collect();
    assert!(late.is_empty(), "delayed by forged goodbyes: {late:?}");
    assert_eq!(got, want);
    let at_alice = net.take_events(a);
    assert!(presence(&at_alice).is_empty(), "{:?}", presence(&at_alice));
    assert!(
        lost_session.is_empty(),
        "the session was thrown away at steps {lost_session:?}"
    );
}

// ---------------------------------------------------------------------------------------
// 3. Downgrade
// ---------------------------------------------------------------------------------------

/// Sends `text` to the plain-text conversation at `to`, and returns the result and every
/// datagram alice put on the wire to `to` that does not start with the lanchat magic.
fn send_plain(
    net: &mut Network,
    a: usize,
    to: SocketAddr,
    id: u64,
    text: &str,
) -> (bool, Vec<Vec<u8>>) {
    net.log = Some(Vec::new());
    let now = net.now;
    let result =
        net.nodes[a]
            .endpoint
            .send_message(now, ConversationId::Raw(to), MsgId(id), 0, text);
    net.flush(a);
    run_for(net, secs(1.0));
    let from = net.nodes[a].addr;
    let plain = net
        .log
        .take()
        .unwrap()
        .into_iter()
        .filter(|(f, t, d)| *f == from && *t == to && !d.starts_with(&wire::MAGIC))
        .map(|(_, _, d)| d)
        .collect();
    (result.is_err(), plain)
}

#[test]
fn a_send_to_a_lanchat_peers_address_never_goes_out_in_the_clear() {
    let (mut net, a, _b) = pair();
    // Mallory claims bob's key at her address, and writes plain text from bob's own
    // address, which opens a plain conversation at bob's ip:port.
    net.inject(
        a,
        mallory_addr(40_000),
        &beacon(node_id(2), 40_000, false, "bob"),
    );
    net.inject(a, addr(2), b"it's bob, my lanchat is broken, answer here");
    run_for(&mut net, secs(0.5));
    let (refused, plain) = send_plain(&mut net, a, addr(2), 500, "the password is hunter2");
    // Refused with SendError::LanchatAddress (any Err would do), here and in the next test.
    assert!(
        refused,
        "a send to bob's address as plain text was accepted"
    );
    assert!(plain.is_empty(), "went out in the clear: {plain:?}");
}

#[test]
fn a_send_to_an_address_probed_or_handshaking_never_goes_out_in_the_clear() {
    let mut net = Network::new();
    let a = net.add(1, "alice", |c| c.discovery = false);
    // A peer added by address (`--peer`, `/add`), not answering yet.
    let now = net.now;
    net.nodes[a].endpoint.add_peer(now, addr(3));
    net.flush(a);
    run_for(&mut net, secs(0.5));
    let (refused, plain) = send_plain(&mut net, a, addr(3), 501, "to the peer I added");
    assert!(refused, "a send to a probed lanchat address was accepted");
    assert!(plain.is_empty(), "went out in the clear: {plain:?}");

    // An address that spoke a lanchat handshake (and never finished it).
    let init = sim::initiation(4, node_id(1), addr(1), net.now, false);
    net.inject(a, addr(4), &init);
    run_for(&mut net, secs(0.5));
    let (refused, plain) = send_plain(&mut net, a, addr(4), 502, "to a handshaker");
    assert!(refused, "a send to a handshaking address was accepted");
    assert!(plain.is_empty(), "went out in the clear: {plain:?}");
}

// ---------------------------------------------------------------------------------------
// 5. Exhaust
// ---------------------------------------------------------------------------------------

/// Spoofed sources in the handshake flood.
const FLOOD_SOURCES: usize = 4096;
/// Noise handshakes (replies to initiations) a node may answer per second of flood, for
/// all sources together, with as many again for a first burst.
const HANDSHAKE_BUDGET_PER_SEC: usize = 300;

#[test]
fn a_handshake_flood_from_4096_sources_is_bounded_and_an_honest_newcomer_gets_through() {
    let mut net = Network::new();
    net.log = Some(Vec::new());
    let b = net.add(2, "bob", |_| {});
    let bob = node_id(2);
    let attacker = identity(0xAA);
    let tick = Duration::from_millis(10);
    // 41 initiations per 10 ms tick: 4,100 a second, each source about once a second.
    let per_tick = FLOOD_SOURCES.div_ceil(100);
    let alice_at = secs(2.0);
    let flood_for = alice_at + secs(5.0);
    let mut alice: Option<usize> = None;
    let mut seed = 1u64;
    let mut answered = 0usize;
    let mut sent_to_flood = 0usize;
    while net.elapsed() < flood_for {
        for _ in 0..per_tick {
            let src = spoofed(seed as usize % FLOOD_SOURCES);
            let init = initiation_as(&attacker, "x", seed, bob, addr(2), net.now, false);
            seed += 1;
            sent_to_flood += 1;
            net.inject(b, src, &init);
        }
        if alice.is_none() && net.elapsed() >= alice_at {
            // An honest newcomer, started during the flood, with a message for bob.
            let a = net.add(1, "alice", |_| {});
            net.nodes[a].endpoint.remember_peer(bob, "bob", addr(2));
            send(&mut net, a, bob, 7, "through the storm");
            alice = Some(a);
        }
        run_for(&mut net, tick);
        answered += take_log(&mut net)
            .iter()
            .filter(|(from, to, d)| *from == addr(2) && is_spoofed(to) && kind(d) == "reply")
            .count();
        let elapsed_secs = net.elapsed().as_secs_f64().ceil() as usize;
        assert!(
            answered <= HANDSHAKE_BUDGET_PER_SEC * (elapsed_secs + 1),
            "{answered} handshakes answered to spoofed sources by {:.2} s ({sent_to_flood} \
             initiations sent)",
            net.elapsed().as_secs_f64()
        );
    }
    let a = alice.expect("alice started");
    let at_bob = net.take_events(b);
    let got: Vec<(Duration, String)> = at_bob
        .iter()
        .filter_map(|(t, e)| match e {
            Event::Message { text, .. } => Some((*t, text.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].1, "through the storm");
    assert!(
        got[0].0 <= alice_at + secs(5.0),
        "the honest message took until {:?}",
        got[0].0
    );
    assert!(delivered(&net.take_events(a), 7));
}

/// Every beacon from a key with no session leads to a handshake, and building one costs a
/// key pair (IK, two DH more): 10,000 beacons in a second, each a fresh key from its own
/// spoofed address (each paying for its answer), may start only the probe budget's worth.
#[test]
fn a_beacon_flood_starts_a_bounded_number_of_handshakes() {
    let mut net = Network::new();
    let b = net.add(2, "bob", |c| c.discovery = false);
    net.run_until(secs(1.0));
    net.log = Some(Vec::new());
    let mut rng = Rng::new(13);
    for i in 0..10_000 {
        let src = spoofed(i);
        net.inject(
            b,
            src,
            &beacon(random_key(&mut rng), src.port(), false, "x"),
        );
        if i % 1000 == 999 {
            run_for(&mut net, secs(0.1));
        }
    }
    let inits = take_log(&mut net)
        .iter()
        .filter(|(f, _, d)| *f == addr(2) && kind(d).starts_with("init"))
        .count();
    // A burst of 128, then 32 a second: about 160 over the flood's second.
    assert!(
        inits <= 128 + 40,
        "{inits} handshakes started by 10,000 beacons"
    );
    assert!(inits >= 100, "the budget still lets hints through: {inits}");
}

#[test]
fn fake_beacons_cannot_lock_a_real_newcomer_out() {
    let mut net = Network::new();
    let b = net.add(2, "bob", |_| {});
    net.run_until(secs(1.0));
    let mut rng = Rng::new(12);
    // 1,024 beacons, each a fresh key from its own spoofed address.
    for i in 0..1024 {
        let src = spoofed(i);
        let key = random_key(&mut rng);
        net.inject(b, src, &beacon(key, src.port(), true, &format!("fake{i}")));
    }
    net.run_until(secs(3.0));
    // A real newcomer, who knows bob from an earlier run, writes to him.
    let c = net.add(3, "carol", |_| {});
    net.nodes[c]
        .endpoint
        .remember_peer(node_id(2), "bob", addr(2));
    send(&mut net, c, node_id(2), 30, "hello bob, carol here");
    net.run_until(secs(8.0));
    assert_eq!(
        texts(&net.take_events(b)),
        vec!["hello bob, carol here"],
        "a real newcomer was locked out by fake beacons"
    );
    assert!(delivered(&net.take_events(c), 30));
    send(&mut net, b, node_id(3), 31, "welcome, carol");
    net.run_until(secs(9.0));
    assert_eq!(texts(&net.take_events(c)), vec!["welcome, carol"]);
}

#[test]
fn unauthenticated_datagrams_are_never_amplified() {
    let mut net = Network::new();
    net.log = Some(Vec::new());
    let b = net.add(2, "bob", |_| {});
    net.run_until(secs(0.5));
    let bob = node_id(2);
    let mut rng = Rng::new(5);
    // What each spoofed address sent bob, in bytes.
    let mut received: Vec<(&str, IpAddr, usize)> = Vec::new();

    // A burst of initiations from one address: 50 XX, 50 IK, fresh keys each.
    let src = spoofed(2);
    let mut bytes = 0;
    for i in 0..100u64 {
        let me = random_identity(&mut rng);
        let init = initiation_as(&me, "x", i, bob, addr(2), net.now, i % 2 == 1);
        bytes += init.len();
        net.inject(b, src, &init);
        run_for(&mut net, secs(0.01));
    }
    received.push(("100 initiations", src.ip(), bytes));

    // Plain text.
    let src = spoofed(3);
    let text = b"hello?";
    net.inject(b, src, text);
    received.push(("plain text", src.ip(), text.len()));

    // One beacon with a fresh key, asking for a reply. The key is larger than bob's, so
    // that bob is the one to open a session with it. (Named like bob, same length, so that
    // an answering beacon of bob's alone is no larger.)
    let src = spoofed(1);
    let mut key = random_key(&mut rng);
    key.0[0] = 0xFF;
    assert!(key > bob);
    let d = beacon(key, src.port(), true, "eve");
    net.inject(b, src, &d);
    received.push(("one fresh-key beacon", src.ip(), d.len()));

    net.run_until(secs(120.0));
    let log = take_log(&mut net);
    let mut table = Vec::new();
    let mut amplified = false;
    for (what, ip, got) in &received {
        let sent: usize = log
            .iter()
            .filter(|(from, to, _)| *from == addr(2) && to.ip() == *ip)
            .map(|(_, _, d)| d.len())
            .sum();
        let kinds: Vec<&str> = log
            .iter()
            .filter(|(from, to, _)| *from == addr(2) && to.ip() == *ip)
            .map(|(_, _, d)| kind(d))
            .collect();
        amplified |= sent > *got;
        table.push(format!(
            "{what} from {ip}: {got} bytes in, {sent} bytes out ({kinds:?})"
        ));
    }
    assert!(!amplified, "amplified:\n{}", table.join("\n"));
}

// ---------------------------------------------------------------------------------------
// 6. Alarm and growth
// ---------------------------------------------------------------------------------------

#[test]
fn an_off_path_initiation_under_a_known_name_raises_no_alarm() {
    let (mut net, a, _b) = pair();
    let mallory = identity(66);
    // Two datagrams from bob's address, by someone who never sees the answers (they go to
    // bob, who drops them): a goodbye in bob's name, and an IK initiation with mallory's
    // key, calling itself "bob".
    net.inject(a, addr(2), &goodbye(node_id(2)));
    let init = initiation_as(&mallory, "bob", 66, node_id(1), addr(1), net.now, true);
    net.inject(a, addr(2), &init);
    run_for(&mut net, secs(5.0));
    let events = net.take_events(a);
    assert!(
        trust_events(&events).is_empty(),
        "an unproven handshake raised {:?}",
        trust_events(&events)
    );
    let endpoint = &net.nodes[a].endpoint;
    assert_eq!(endpoint.trust(&mallory.public()), None);
    assert_eq!(endpoint.trust(&node_id(2)), Some(Trust::Unverified));
    let known: Vec<NodeId> = endpoint.known_peers().iter().map(|k| k.id).collect();
    assert_eq!(known, vec![node_id(2)]);
    assert!(presence(&events).is_empty(), "{:?}", presence(&events));
    let bob = endpoint.peer(&node_id(2)).expect("bob known");
    assert_eq!((bob.addr, bob.online), (addr(2), true));
}

#[test]
fn fresh_keys_from_spoofed_sources_do_not_grow_known_peers() {
    let (mut net, a, _b) = pair();
    let before = net.nodes[a].endpoint.known_peers();
    let mut rng = Rng::new(6);
    for i in 0..200 {
        let me = random_identity(&mut rng);
        let init = initiation_as(
            &me,
            &format!("key{i}"),
            i as u64,
            node_id(1),
            addr(1),
            net.now,
            true,
        );
        net.inject(a, spoofed(i), &init);
    }
    run_for(&mut net, secs(5.0));
    let after = net.nodes[a].endpoint.known_peers();
    assert_eq!(
        after.len(),
        before.len(),
        "known_peers grew by {} keys that never proved a return path",
        after.len() - before.len()
    );
    assert_eq!(after, before);
    let events = net.take_events(a);
    assert!(trust_events(&events).is_empty());
    assert!(presence(&events).is_empty());
}

#[test]
fn a_captured_initiation_replayed_after_a_restart_moves_no_one() {
    let (mut net, a, b) = pair();
    // Alice restarts, knowing bob: her IK initiation goes on the wire, and mallory keeps a
    // copy.
    let mut cfg = EndpointConfig::new(identity(1), "alice", 47475);
    cfg.known_peers = net.nodes[a].endpoint.known_peers();
    cfg.wall_clock_ms = 1_700_000_000_000 + net.elapsed().as_millis() as u64;
    net.log = Some(Vec::new());
    net.nodes[a].endpoint = Endpoint::new(cfg, net.now, 11);
    net.nodes[a].endpoint.handle_timeout(net.now);
    net.flush(a);
    run_for(&mut net, secs(0.5));
    send(&mut net, a, node_id(2), 2, "back again");
    run_for(&mut net, secs(2.0));
    let captured = take_log(&mut net)
        .into_iter()
        .find(|(from, to, d)| *from == addr(1) && *to == addr(2) && kind(d) == "init-ik")
        .map(|(_, _, d)| d)
        .expect("alice's IK initiation");
    assert_eq!(texts(&net.take_events(b)), vec!["back again"]);
    // Past alice's start-up beacons (her next one comes ~30 s later): from here on nothing
    // legitimate reaches bob for a while.
    net.run_until(secs(8.0));

    // Bob restarts with what he keeps on disk.
    let kept = net.nodes[b].endpoint.known_peers();
    let mut cfg = EndpointConfig::new(identity(2), "bob", 47475);
    cfg.known_peers = kept;
    // The last IK timestamp per key, as the runtime keeps it in `handshake_times`.
    cfg.handshake_times = net.nodes[b].endpoint.handshake_times();
    // Alice is away, so that nothing of hers (a new handshake of her own) reaches him.
    net.nodes[a].down = true;
    cfg.wall_clock_ms = 1_700_000_000_000 + net.elapsed().as_millis() as u64;
    // Quiet, so that nothing but the replay reaches him.
    cfg.discovery = false;
    net.nodes[b].endpoint = Endpoint::new(cfg, net.now, 12);
    net.nodes[b].endpoint.handle_timeout(net.now);
    net.flush(b);
    net.take_events(b);

    // Mallory replays the captured initiation from another address.
    let elsewhere = addr(9);
    net.inject(b, elsewhere, &captured);
    run_for(&mut net, secs(3.0));
    let events = net.take_events(b);
    assert!(
        trust_events(&events).is_empty(),
        "a replay raised {:?}",
        trust_events(&events)
    );
    assert!(presence(&events).is_empty(), "{:?}", presence(&events));
    let endpoint = &net.nodes[b].endpoint;
    assert!(
        endpoint
            .peer(&node_id(1))
            .is_none_or(|p| p.addr != elsewhere),
        "alice moved to the replayer's address"
    );
    let alice = endpoint
        .known_peers()
        .into_iter()
        .find(|k| k.id == node_id(1))
        .expect("alice still known");
    assert_eq!(alice.ip, Some(addr(1).ip()));
    // The replay is known for one after the restart, and is not even answered.
    let answers: Vec<&str> = take_log(&mut net)
        .iter()
        .filter(|(from, to, _)| *from == addr(2) && *to == elsewhere)
        .map(|(_, _, d)| kind(d))
        .collect();
    assert!(
        !answers.contains(&"reply"),
        "a replayed initiation was answered after a restart: {answers:?}"
    );
}

// ---------------------------------------------------------------------------------------
// 9. Many users on one host
// ---------------------------------------------------------------------------------------

#[test]
fn sixty_nodes_on_one_host_get_a_first_message_from_one_of_them_within_a_second() {
    let host = [10, 0, 0, 200];
    let mut net = Network::new();
    let nodes: Vec<usize> = (1..=60u8)
        .map(|k| {
            let at = SocketAddr::from((host, 47475 + u16::from(k)));
            net.add_at(k, at, &format!("user{k}"), |_| {})
        })
        .collect();
    // Everyone has heard everyone's first beacon (at 0 s) long before this.
    net.run_until(secs(0.5));
    // The one who writes: the largest key (every other node is the smaller key of its pair
    // with it, whatever that decides).
    let sender = *nodes
        .iter()
        .max_by_key(|i| net.nodes[**i].endpoint.node())
        .unwrap();
    for &j in &nodes {
        net.take_events(j);
    }
    let others: Vec<usize> = nodes.iter().copied().filter(|j| *j != sender).collect();
    let t0 = net.elapsed();
    for &j in &others {
        let (id, at) = (net.nodes[j].endpoint.node(), net.nodes[j].addr);
        let now = net.now;
        // So that the send is accepted whatever the sender has learned of j by now.
        net.nodes[sender]
            .endpoint
            .remember_peer(id, &format!("user-{j}"), at);
        net.nodes[sender]
            .endpoint
            .send_message(
                now,
                ConversationId::Peer(id),
                MsgId(1000 + j as u64),
                0,
                &format!("first message to {j}"),
            )
            .expect("accepted");
        net.flush(sender);
    }
    net.run_until(t0 + secs(1.0));
    let missing: Vec<usize> = others
        .iter()
        .copied()
        .filter(|j| !texts(&net.take_events(*j)).contains(&format!("first message to {j}")))
        .collect();
    assert!(
        missing.is_empty(),
        "{} of 59 nodes on one host had no first message after 1 s",
        missing.len()
    );
    let events = net.take_events(sender);
    let undelivered = others
        .iter()
        .filter(|j| !delivered(&events, 1000 + **j as u64))
        .count();
    assert_eq!(undelivered, 0, "not delivered within 1 s");
}

// ---------------------------------------------------------------------------------------
// Found by an attacker's-eye review of the fix
// ---------------------------------------------------------------------------------------

/// Alice and bob restart (each remembers the other); mallory names each to the other at a
/// dead address twice a second. A hint only gets a probe of its own, so the real beacons
/// and the last proven address still bring them together and alice's message arrives.
#[test]
fn beacons_naming_peers_at_a_dead_address_do_not_keep_them_apart() {
    let mut net = Network::new();
    let a = net.add(1, "alice", |_| {});
    let b = net.add(2, "bob", |_| {});
    net.nodes[a]
        .endpoint
        .remember_peer(node_id(2), "bob", addr(2));
    net.nodes[b]
        .endpoint
        .remember_peer(node_id(1), "alice", addr(1));
    let dead = SocketAddr::from(([10, 0, 0, 66], 40_000));
    let mut t = 0.0;
    let mut sent = false;
    while t < 20.0 {
        net.inject(a, dead, &beacon(node_id(2), 40_000, false, "bob"));
        net.inject(b, dead, &beacon(node_id(1), 40_000, false, "alice"));
        if !sent && t >= 0.5 {
            let now = net.now;
            net.nodes[a]
                .endpoint
                .send_message(now, ConversationId::Peer(node_id(2)), MsgId(7), 0, "hi")
                .unwrap();
            net.flush(a);
            sent = true;
        }
        t += 0.5;
        net.run_until(secs(t));
    }
    assert_eq!(texts(&net.take_events(b)), vec!["hi"]);
    assert!(delivered(&net.take_events(a), 7));
}

/// Mallory holds a real key and session, and seals a keepalive with the victim's address as
/// its source: her session, and her place in the peer table, move there (a key holder may
/// roam). But the source of a sealed frame proves nothing about receiving, so the victim
/// does not become an address that handshakes may go to without credit. Alice then has a
/// message for mallory that goes unanswered: her attempts at a fresh handshake (after two
/// unanswered resends) would go to the victim; none may, beyond what the victim's address
/// paid for.
#[test]
fn a_key_holder_cannot_make_an_address_proven_and_reflect_handshakes_at_it() {
    let mut net = Network::new();
    let a = net.add(1, "alice", |c| c.discovery = false);
    net.run_until(secs(0.5));
    let mut m = sim::HandPeer::new(66, SocketAddr::from(([10, 0, 0, 66], 47475)), net.now);
    m.connect(&mut net, a);
    let victim = spoofed(7);
    net.log = Some(Vec::new());
    m.addr = victim;
    m.send(&mut net, a, Vec::new());
    let mallory = m.id;
    assert_eq!(
        net.nodes[a].endpoint.peer(&mallory).map(|p| p.addr),
        Some(victim),
        "the key holder roamed to the victim's address"
    );
    send(&mut net, a, mallory, 1, "are you there?");
    run_for(&mut net, secs(60.0));
    let inits = take_log(&mut net)
        .iter()
        .filter(|(f, t, d)| *f == addr(1) && t.ip() == victim.ip() && kind(d).starts_with("init"))
        .count();
    assert_eq!(inits, 0, "handshakes went to the victim without credit");
}

/// Anyone who saw an initiation's index on the wire can answer first with garbage: the
/// attempt survives it and takes the genuine reply.
#[test]
fn a_forged_reply_does_not_spoil_the_handshake_it_names() {
    use lanchat::proto::secure::Secure;
    let now = std::time::Instant::now();
    let mut alice = Secure::new(identity(1), "alice", now, 1, 1);
    let mut bob = Secure::new(identity(2), "bob", now, 1, 2);
    alice.connect(now, node_id(2), addr(2));
    let (_, init) = alice.poll_transmit().unwrap();
    let Ok(Frame::HandshakeInit { sender, .. }) = Frame::decode(&init) else {
        panic!("an initiation");
    };
    let forged = Frame::HandshakeReply {
        sender: 9,
        receiver: sender,
        message: vec![0; 80],
    };
    assert!(alice.open(now, addr(2), forged).is_none());
    bob.open(now, addr(1), Frame::decode(&init).unwrap());
    let (_, reply) = bob.poll_transmit().unwrap();
    let opened = alice.open(now, addr(2), Frame::decode(&reply).unwrap());
    assert!(
        opened.is_some_and(|o| o.established.is_some()),
        "the genuine reply was refused"
    );
}
