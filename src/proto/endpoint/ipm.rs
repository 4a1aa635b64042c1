//! The IP Messenger part of the endpoint (IP Messenger, iptux, FeiQ on UDP 2425): its peer
//! table, presence, and messages with their acks, retries and duplicates. The codec is
//! `proto::ipmsg`; this part decides what to answer and when.
//!
//! Rules (IPMSG.md §4), each kept here:
//! - **Unauthenticated, like plain text.** Nothing here is proven: a peer is whoever writes
//!   from an IP. What a packet can change is only what concerns its own source IP: its
//!   entry, its exit, its acks. An ack counts only from the IP the message went to, an exit
//!   only for the IP it came from.
//! - **Bounded.** One peer per IPv4 address (as iptux keeps them), at most
//!   [`MAX_PEERS`]; a newcomer beyond that takes the place of the peer heard from longest
//!   ago, offline ones first, never one with a message on its way. Per peer, the packet
//!   numbers kept for duplicates are bounded ([`RECENT`]). Messages on their way are
//!   bounded ([`MAX_OUTGOING`]).
//! - **Never a reflector.** Answers a peer did not ask for by name (entries answered,
//!   acks, absence and version answers, auto-replies, entries to unknown senders) are
//!   limited: an ANSENTRY at most once per [`ENTRY_ANSWER_GAP`] per IP, and all answers
//!   together at most [`ANSWER_BURST`] at once, refilled at [`ANSWERS_PER_SECOND`].
//! - **Acks as the protocol says.** A SENDMSG with SENDCHECKOPT and without BROADCASTOPT or
//!   AUTORETOPT is acked with RECVMSG every time it arrives, duplicates included, and shown
//!   once. A RECVMSG is never acked. An auto-reply or a broadcast is never auto-replied to.
//! - **Retries.** Each datagram of a message goes [`MAX_SENDS`] times at most, every
//!   [`RETRY_INTERVAL`], until its RECVMSG comes; the message is delivered when every datagram
//!   of it is acked, failed when one was sent [`MAX_SENDS`] times and the last wait ran out.
//! - **Encodings per peer.** Text is read in the packet's encoding (UTF8OPT, FeiQ = GB18030,
//!   else UTF-8 if valid, else GB18030; never UTF-16). What we write to a peer: GB18030 to
//!   FeiQ, UTF-8 to one that advertised CAPUTF8OPT, and otherwise what it last wrote to us
//!   that was not ASCII (iptux mirrors what it detects in us), UTF-8 for iptux until then
//!   and GB18030 for the rest.
//! - **Never an encryption option**: the codec refuses to write one.

use super::super::ipmsg::{
    self, ANSENTRY, AUTORETOPT, BR_ABSENCE, BR_ENTRY, BR_EXIT, BROADCASTOPT, CAPUTF8OPT, Charset,
    Client, DIALUPOPT, GETABSENCEINFO, GETINFO, Local, NOADDLISTOPT, Packet, RECVMSG, SENDMSG,
};
use super::super::{ConversationId, MsgId};
use super::types::{
    DeliveryState, Destination, Event, IpmsgClient, IpmsgFile, IpmsgPeerView, SendError,
};
use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::{Duration, Instant};

/// Peers kept at most.
pub const MAX_PEERS: usize = 512;
/// Packet numbers remembered per peer to drop duplicates.
pub const RECENT: usize = 64;
/// Messages on their way (not yet acked or failed) at most, for all peers together.
pub const MAX_OUTGOING: usize = 256;
/// Between two sends of one datagram (iptux: 1 s; IP Messenger for Windows: 0.75 s).
pub const RETRY_INTERVAL: Duration = Duration::from_secs(1);
/// Sends of one datagram at most (iptux's count).
pub const MAX_SENDS: u32 = 4;
/// One ANSENTRY per IP at most this often: a flood of entries earns one answer a second.
pub const ENTRY_ANSWER_GAP: Duration = Duration::from_secs(1);
/// Unasked-for answers at once at most …
pub const ANSWER_BURST: u32 = 64;
/// … and refilled at this rate.
pub const ANSWERS_PER_SECOND: u32 = 64;
/// An auto-reply (while away) to one peer at most this often.
pub const AUTO_REPLY_GAP: Duration = Duration::from_secs(30);
/// Longest name, group, user or host kept from a peer, in bytes (cut on a character).
pub const MAX_NAME_BYTES: usize = 64;
/// Longest message text kept from one datagram, in bytes of UTF-8.
pub const MAX_TEXT_BYTES: usize = 16 * 1024;

/// How the IP Messenger part runs.
#[derive(Debug, Clone)]
pub struct IpmsgConfig {
    /// Who we are on the wire (version, user, host, nick, group).
    pub local: Local,
    /// The first PacketNo (by convention the Unix time in seconds at start).
    pub first_packet_no: u64,
    /// Where broadcasts go, and the port peers are answered on unless their entry came from
    /// another (2425).
    pub port: u16,
    /// Between two entries of ours (broadcast, and unicast to peers added by address): every
    /// client answers one, which keeps the peer list fresh.
    pub refresh: Duration,
    /// A peer not heard from for this long is offline.
    pub peer_timeout: Duration,
}

impl IpmsgConfig {
    pub fn new(local: Local, first_packet_no: u64) -> IpmsgConfig {
        IpmsgConfig {
            local,
            first_packet_no,
            port: ipmsg::PORT,
            refresh: Duration::from_secs(60),
            peer_timeout: Duration::from_secs(200),
        }
    }
}

#[derive(Debug)]
struct Peer {
    /// Where it is answered: its IP on [`IpmsgConfig::port`], or the port its entry came
    /// from when that is another.
    addr: SocketAddr,
    client: Client,
    nick: String,
    user: String,
    host: String,
    group: String,
    absent: bool,
    online: bool,
    /// The entry's command: CAPUTF8OPT and the like.
    capabilities: u32,
    /// The encoding of the last packet from it that was not ASCII.
    heard_in: Option<Charset>,
    last_heard: Instant,
    /// Packet numbers of its messages seen lately (duplicates are acked, not shown).
    recent: VecDeque<u64>,
    /// When it last got an ANSENTRY, and an auto-reply.
    answered_entry: Option<Instant>,
    auto_replied: Option<Instant>,
}

impl Peer {
    /// What we write to it in. iptux reads each packet from us in the encoding it last
    /// detected in us, and a GB18030 guess sticks (GB18030 decodes nearly any bytes): so an
    /// iptux peer gets what it last wrote to us, else what our broadcast entries were in
    /// (GB18030 when our names are not ASCII, see [`Local::entry`]).
    fn charset(&self, names_ascii: bool) -> Charset {
        let entries = if names_ascii {
            Charset::Utf8
        } else {
            Charset::Gb18030
        };
        match self.client {
            Client::FeiQ { .. } => Charset::Gb18030,
            _ if self.capabilities & CAPUTF8OPT != 0 => Charset::Utf8,
            Client::Iptux => self.heard_in.unwrap_or(entries),
            Client::IpMsg => self.heard_in.unwrap_or(Charset::Gb18030),
        }
    }

    fn view(&self, ip: Ipv4Addr, names_ascii: bool) -> IpmsgPeerView {
        IpmsgPeerView {
            ip,
            addr: self.addr,
            name: self.nick.clone(),
            user: self.user.clone(),
            host: self.host.clone(),
            group: self.group.clone(),
            client: match self.client {
                Client::FeiQ { .. } => IpmsgClient::FeiQ,
                Client::Iptux => IpmsgClient::Iptux,
                Client::IpMsg => IpmsgClient::IpMsg,
            },
            absent: self.absent,
            online: self.online,
            charset: self.charset(names_ascii),
        }
    }
}

/// One datagram of a message on its way.
#[derive(Debug)]
struct Part {
    no: u64,
    bytes: Vec<u8>,
    sends: u32,
    next: Instant,
    acked: bool,
}

#[derive(Debug)]
struct Outgoing {
    id: MsgId,
    to: Ipv4Addr,
    addr: SocketAddr,
    parts: Vec<Part>,
}

/// Counters, for tests and the doctor.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IpmsgStats {
    pub packets_in: u64,
    /// Not a packet, or one we do not take (own, malformed).
    pub dropped: u64,
    pub duplicates: u64,
    /// Answers not sent: over the budget or the per-IP gap.
    pub answers_limited: u64,
    /// RECVMSGs that named no message of ours to that IP.
    pub stray_acks: u64,
    pub retransmits: u64,
    /// Peers pushed out of a full table.
    pub evicted: u64,
}

pub(super) struct Ipm {
    cfg: IpmsgConfig,
    next_no: u64,
    peers: HashMap<Ipv4Addr, Peer>,
    outgoing: Vec<Outgoing>,
    /// The absence text while away.
    away: Option<String>,
    /// Addresses the user added: entries go to them one by one too.
    manual: Vec<SocketAddr>,
    next_refresh: Instant,
    tokens: u32,
    refilled: Instant,
    stats: IpmsgStats,
    out: VecDeque<(Destination, Vec<u8>)>,
    closed: bool,
    /// Our nickname and group are ASCII (our broadcast entries then say nothing of our
    /// encoding).
    names_ascii: bool,
}

/// Cuts peer text to `max` bytes on a character boundary.
fn clip(s: &str, max: usize) -> String {
    crate::proto::wire::clip_utf8(s, max).to_owned()
}

fn v4(addr: SocketAddr) -> Option<Ipv4Addr> {
    match addr.ip() {
        IpAddr::V4(ip) => Some(ip),
        IpAddr::V6(v6) => v6.to_ipv4_mapped(),
    }
}

impl Ipm {
    pub(super) fn new(cfg: IpmsgConfig, now: Instant) -> Ipm {
        Ipm {
            names_ascii: cfg.local.nick.is_ascii() && cfg.local.group.is_ascii(),
            next_no: cfg.first_packet_no.max(1),
            cfg,
            peers: HashMap::new(),
            outgoing: Vec::new(),
            away: None,
            manual: Vec::new(),
            next_refresh: now,
            tokens: ANSWER_BURST,
            refilled: now,
            stats: IpmsgStats::default(),
            out: VecDeque::new(),
            closed: false,
        }
    }

    pub(super) fn stats(&self) -> &IpmsgStats {
        &self.stats
    }

    pub(super) fn poll_transmit(&mut self) -> Option<(Destination, Vec<u8>)> {
        self.out.pop_front()
    }

    pub(super) fn peers(&self) -> impl Iterator<Item = IpmsgPeerView> + '_ {
        self.peers
            .iter()
            .map(|(ip, p)| p.view(*ip, self.names_ascii))
    }

    pub(super) fn peer(&self, ip: Ipv4Addr) -> Option<IpmsgPeerView> {
        self.peers.get(&ip).map(|p| p.view(ip, self.names_ascii))
    }

    fn packet_no(&mut self) -> u64 {
        let no = self.next_no;
        self.next_no = self.next_no.wrapping_add(1).max(1);
        no
    }

    fn push(&mut self, dst: Destination, packet: &Packet) {
        match packet.encode() {
            Ok(bytes) => self.out.push_back((dst, bytes)),
            Err(e) => tracing::error!(%e, "could not encode an IP Messenger packet"),
        }
    }

    /// Whether an answer nobody asked us for by name may go now (see the module doc).
    fn may_answer(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.refilled);
        let earned = (elapsed.as_millis() as u64 * u64::from(ANSWERS_PER_SECOND) / 1000) as u32;
        if earned > 0 {
            self.tokens = self.tokens.saturating_add(earned).min(ANSWER_BURST);
            self.refilled = now;
        }
        if self.tokens == 0 {
            self.stats.answers_limited += 1;
            return false;
        }
        self.tokens -= 1;
        true
    }

    fn entry_packet(&mut self, mode: u32, options: u32, charset: Charset) -> Packet {
        let no = self.packet_no();
        let absent = self.away.is_some();
        self.cfg.local.entry(no, mode, absent, options, charset)
    }

    /// Our entry to everyone, and to each address the user added.
    fn announce(&mut self, mode: u32) {
        let p = self.entry_packet(mode, 0, Charset::Gb18030);
        self.push(Destination::IpmsgBroadcast, &p);
        for addr in self.manual.clone() {
            let p = self.entry_packet(mode, DIALUPOPT, Charset::Gb18030);
            self.push(Destination::Ipmsg(addr), &p);
        }
    }

    /// The user adds an IP Messenger peer by address: it gets our entry one by one now and
    /// at every refresh, and answers with its own.
    pub(super) fn add_peer(&mut self, addr: SocketAddr) {
        if !self.manual.contains(&addr) && self.manual.len() < 256 {
            self.manual.push(addr);
        }
        let p = self.entry_packet(BR_ENTRY, DIALUPOPT, Charset::Gb18030);
        self.push(Destination::Ipmsg(addr), &p);
    }

    /// Away with this text, or back (`None`): everyone is told with a BR_ABSENCE.
    pub(super) fn set_away(&mut self, text: Option<String>) {
        self.away = text.map(|t| clip(&t.replace('\0', ""), 1024));
        if !self.closed {
            self.announce(BR_ABSENCE);
        }
    }

    pub(super) fn away(&self) -> Option<&str> {
        self.away.as_deref()
    }

    /// Our exit, to everyone and to each peer online (as iptux does).
    pub(super) fn shutdown(&mut self) {
        if self.closed {
            return;
        }
        self.closed = true;
        let p = self.entry_packet(BR_EXIT, 0, Charset::Gb18030);
        self.push(Destination::IpmsgBroadcast, &p);
        let online: Vec<SocketAddr> = self
            .peers
            .values()
            .filter(|p| p.online)
            .map(|p| p.addr)
            .collect();
        for addr in online {
            let p = self.entry_packet(BR_EXIT, DIALUPOPT, Charset::Gb18030);
            self.push(Destination::Ipmsg(addr), &p);
        }
    }

    pub(super) fn next_deadline(&self) -> Option<Instant> {
        if self.closed {
            return None;
        }
        let retry = self
            .outgoing
            .iter()
            .flat_map(|o| o.parts.iter().filter(|p| !p.acked).map(|p| p.next))
            .min();
        let expiry = self
            .peers
            .values()
            .filter(|p| p.online)
            .map(|p| p.last_heard + self.cfg.peer_timeout)
            .min();
        [Some(self.next_refresh), retry, expiry]
            .into_iter()
            .flatten()
            .min()
    }

    pub(super) fn handle_timeout(&mut self, now: Instant, events: &mut VecDeque<Event>) {
        if self.closed {
            return;
        }
        if now >= self.next_refresh {
            self.next_refresh = now + self.cfg.refresh;
            self.announce(BR_ENTRY);
        }
        let timeout = self.cfg.peer_timeout;
        for (ip, p) in &mut self.peers {
            if p.online && now >= p.last_heard + timeout {
                p.online = false;
                events.push_back(Event::IpmsgPeer(p.view(*ip, self.names_ascii)));
            }
        }
        let mut resend = Vec::new();
        let mut failed = Vec::new();
        for (i, o) in self.outgoing.iter_mut().enumerate() {
            for part in o.parts.iter_mut().filter(|p| !p.acked && p.next <= now) {
                if part.sends >= MAX_SENDS {
                    failed.push(i);
                    break;
                }
                part.sends += 1;
                part.next = now + RETRY_INTERVAL;
                resend.push((o.addr, part.bytes.clone()));
            }
        }
        self.stats.retransmits += resend.len() as u64;
        for (addr, bytes) in resend {
            self.out.push_back((Destination::Ipmsg(addr), bytes));
        }
        for i in failed.into_iter().rev() {
            let o = self.outgoing.remove(i);
            events.push_back(Event::State {
                id: o.id,
                state: DeliveryState::Failed,
            });
        }
    }

    /// Sends `text` to the peer at `ip`, as one or more SENDMSGs that each wait for their
    /// RECVMSG. A peer not (yet) in the table is written to at its IP on the family's port.
    pub(super) fn send(
        &mut self,
        now: Instant,
        ip: Ipv4Addr,
        id: MsgId,
        text: &str,
        events: &mut VecDeque<Event>,
    ) -> Result<(), SendError> {
        if self.outgoing.len() >= MAX_OUTGOING {
            return Err(SendError::OutboxFull);
        }
        let (addr, charset) = match self.peers.get(&ip) {
            Some(p) => (p.addr, p.charset(self.names_ascii)),
            None => (
                SocketAddr::V4(SocketAddrV4::new(ip, self.cfg.port)),
                Charset::Utf8,
            ),
        };
        let first = self.next_no;
        let packets = self.cfg.local.messages(first, text, charset, 0);
        if packets.is_empty() {
            return Err(SendError::Empty);
        }
        self.next_no = first.wrapping_add(packets.len() as u64).max(1);
        let mut parts = Vec::with_capacity(packets.len());
        for p in &packets {
            let Ok(bytes) = p.encode() else {
                return Err(SendError::Empty);
            };
            self.out
                .push_back((Destination::Ipmsg(addr), bytes.clone()));
            parts.push(Part {
                no: p.packet_no,
                bytes,
                sends: 1,
                next: now + RETRY_INTERVAL,
                acked: false,
            });
        }
        self.outgoing.push(Outgoing {
            id,
            to: ip,
            addr,
            parts,
        });
        events.push_back(Event::State {
            id,
            state: DeliveryState::Sending,
        });
        Ok(())
    }

    /// Whether `p` is our own packet come back (our broadcast loops back to us): our
    /// version, user and host, and a packet number we used.
    fn is_own(&self, p: &Packet) -> bool {
        if p.packet_no < self.cfg.first_packet_no || p.packet_no >= self.next_no {
            return false;
        }
        [Charset::Gb18030, Charset::Utf8].into_iter().any(|cs| {
            let me = self.cfg.local.packet(0, 0, cs, Vec::new());
            me.version == p.version && me.user == p.user && me.host == p.host
        })
    }

    /// A datagram from the IP Messenger socket (or one that reads as an IP Messenger packet
    /// on lanchat's own).
    pub(super) fn handle(
        &mut self,
        now: Instant,
        src: SocketAddr,
        data: &[u8],
        events: &mut VecDeque<Event>,
    ) {
        if self.closed {
            return;
        }
        let (Some(ip), Ok(p)) = (v4(src), Packet::decode(data)) else {
            self.stats.dropped += 1;
            return;
        };
        if self.is_own(&p) {
            return;
        }
        self.stats.packets_in += 1;
        match p.mode() {
            BR_ENTRY | ANSENTRY | BR_ABSENCE => self.on_entry(now, ip, src, &p, events),
            BR_EXIT => {
                if let Some(peer) = self.peers.get_mut(&ip)
                    && peer.online
                {
                    peer.online = false;
                    events.push_back(Event::IpmsgPeer(peer.view(ip, self.names_ascii)));
                }
            }
            SENDMSG => self.on_message(now, ip, src, &p, events),
            RECVMSG => self.on_ack(ip, &p, events),
            ipmsg::RELEASEFILES => {
                if let Some(offer_no) = p.referenced_packet_no() {
                    events.push_back(Event::IpmsgRelease { from: ip, offer_no });
                }
                self.heard(now, ip, &p, events);
            }
            GETABSENCEINFO => {
                if self.may_answer(now) {
                    let charset = self.charset_for(ip, &p);
                    let no = self.packet_no();
                    let answer = self
                        .cfg
                        .local
                        .absence_info(no, self.away.as_deref(), charset);
                    let addr = self.reply_addr(ip, src);
                    self.push(Destination::Ipmsg(addr), &answer);
                }
                self.heard(now, ip, &p, events);
            }
            GETINFO => {
                if self.may_answer(now) {
                    let no = self.packet_no();
                    let answer = self.cfg.local.info(no);
                    let addr = self.reply_addr(ip, src);
                    self.push(Destination::Ipmsg(addr), &answer);
                }
                self.heard(now, ip, &p, events);
            }
            ipmsg::FEIQ_KNOCK => {
                self.heard(now, ip, &p, events);
                events.push_back(Event::Shake {
                    conversation: ConversationId::Ipmsg(ip),
                });
            }
            // Typing notices, sealed-message receipts, file releases, keys (we never offer
            // encryption), host lists, FeiQ's own: nothing to do but note the peer is there.
            _ => self.heard(now, ip, &p, events),
        }
    }

    /// Where to answer `ip`: its known address, or the source of this packet.
    fn reply_addr(&self, ip: Ipv4Addr, src: SocketAddr) -> SocketAddr {
        self.peers.get(&ip).map_or(src, |p| p.addr)
    }

    fn charset_for(&self, ip: Ipv4Addr, p: &Packet) -> Charset {
        self.peers
            .get(&ip)
            .map_or_else(|| p.charset(), |p| p.charset(self.names_ascii))
    }

    /// Any packet from a known peer: it is there.
    fn heard(&mut self, now: Instant, ip: Ipv4Addr, p: &Packet, events: &mut VecDeque<Event>) {
        if let Some(peer) = self.peers.get_mut(&ip) {
            peer.last_heard = now;
            if !is_ascii_packet(p) {
                peer.heard_in = Some(p.charset());
            }
            if !peer.online {
                peer.online = true;
                events.push_back(Event::IpmsgPeer(peer.view(ip, self.names_ascii)));
            }
        }
    }

    /// Makes room for one more peer; false if the table is full of peers that cannot go.
    fn make_room(&mut self, events: &mut VecDeque<Event>) -> bool {
        if self.peers.len() < MAX_PEERS {
            return true;
        }
        let busy: Vec<Ipv4Addr> = self.outgoing.iter().map(|o| o.to).collect();
        let victim = self
            .peers
            .iter()
            .filter(|(ip, _)| !busy.contains(ip))
            .min_by_key(|(_, p)| (p.online, p.last_heard))
            .map(|(ip, _)| *ip);
        let Some(ip) = victim else {
            return false;
        };
        if let Some(mut p) = self.peers.remove(&ip) {
            self.stats.evicted += 1;
            if p.online {
                p.online = false;
                events.push_back(Event::IpmsgPeer(p.view(ip, self.names_ascii)));
            }
        }
        true
    }

    /// Adds or updates the peer at `ip` from what `p` says of its sender. Returns false if
    /// there was no room for it.
    fn learn(
        &mut self,
        now: Instant,
        ip: Ipv4Addr,
        src: SocketAddr,
        p: &Packet,
        entry: bool,
        events: &mut VecDeque<Event>,
    ) -> bool {
        let (user, host) = p.user_host();
        let (nick, group, absent) = if entry {
            let e = p.entry();
            (e.nick, e.group, e.absent)
        } else {
            (user.clone(), String::new(), false)
        };
        let nick = if nick.trim().is_empty() {
            user.clone()
        } else {
            nick
        };
        // Answered where its entry came from (iptux writes from 2425; IP Messenger for
        // Windows and feiq-cli answer the port they are written from); a message does not
        // move a known peer.
        let addr = match self.peers.get(&ip) {
            Some(known) if !entry => known.addr,
            _ => src,
        };
        let ascii = is_ascii_packet(p);
        if !self.peers.contains_key(&ip) && !self.make_room(events) {
            return false;
        }
        let fresh = !self.peers.contains_key(&ip);
        let peer = self.peers.entry(ip).or_insert_with(|| Peer {
            addr,
            client: p.client(),
            nick: String::new(),
            user: String::new(),
            host: String::new(),
            group: String::new(),
            absent: false,
            online: false,
            capabilities: 0,
            heard_in: None,
            last_heard: now,
            recent: VecDeque::new(),
            answered_entry: None,
            auto_replied: None,
        });
        let before = (
            peer.addr,
            peer.nick.clone(),
            peer.group.clone(),
            peer.absent,
            peer.online,
            peer.user.clone(),
            peer.host.clone(),
            peer.charset(self.names_ascii),
        );
        if entry || fresh {
            peer.addr = addr;
            peer.client = p.client();
            peer.nick = clip(&nick, MAX_NAME_BYTES);
            peer.group = clip(&group, MAX_NAME_BYTES);
            peer.absent = absent;
            peer.user = clip(&user, MAX_NAME_BYTES);
            peer.host = clip(&host, MAX_NAME_BYTES);
        }
        if entry {
            peer.capabilities = p.command;
        }
        if !ascii {
            peer.heard_in = Some(p.charset());
        }
        peer.last_heard = now;
        peer.online = true;
        let after = (
            peer.addr,
            peer.nick.clone(),
            peer.group.clone(),
            peer.absent,
            peer.online,
            peer.user.clone(),
            peer.host.clone(),
            peer.charset(self.names_ascii),
        );
        if fresh || before != after {
            events.push_back(Event::IpmsgPeer(peer.view(ip, self.names_ascii)));
        }
        true
    }

    fn on_entry(
        &mut self,
        now: Instant,
        ip: Ipv4Addr,
        src: SocketAddr,
        p: &Packet,
        events: &mut VecDeque<Event>,
    ) {
        if !self.learn(now, ip, src, p, true, events) {
            return;
        }
        if p.mode() != BR_ENTRY {
            return;
        }
        // Answer, at most once a gap per IP and within the budget.
        let recently = self
            .peers
            .get(&ip)
            .and_then(|peer| peer.answered_entry)
            .is_some_and(|at| now.saturating_duration_since(at) < ENTRY_ANSWER_GAP);
        if recently {
            self.stats.answers_limited += 1;
            return;
        }
        if !self.may_answer(now) {
            return;
        }
        let (addr, charset) = match self.peers.get_mut(&ip) {
            Some(peer) => {
                peer.answered_entry = Some(now);
                (peer.addr, peer.charset(self.names_ascii))
            }
            None => return,
        };
        let charset = if p.has(CAPUTF8OPT) {
            Charset::Utf8
        } else {
            charset
        };
        let answer = self.entry_packet(ANSENTRY, 0, charset);
        self.push(Destination::Ipmsg(addr), &answer);
    }

    fn on_message(
        &mut self,
        now: Instant,
        ip: Ipv4Addr,
        src: SocketAddr,
        p: &Packet,
        events: &mut VecDeque<Event>,
    ) {
        let known = self.peers.contains_key(&ip);
        let learned = self.learn(now, ip, src, p, false, events);
        let addr = self.reply_addr(ip, src);
        // The ack first, for every copy (its sender may have missed our last one).
        if p.wants_ack() && self.may_answer(now) {
            let no = self.packet_no();
            let ack = self.cfg.local.about(no, RECVMSG, p.packet_no);
            self.push(Destination::Ipmsg(addr), &ack);
        }
        if let Some(peer) = self.peers.get_mut(&ip) {
            if peer.recent.contains(&p.packet_no) {
                self.stats.duplicates += 1;
                return;
            }
            if peer.recent.len() == RECENT {
                peer.recent.pop_front();
            }
            peer.recent.push_back(p.packet_no);
        }
        // An unknown sender is asked who it is, unless it said not to add it.
        if !known && learned && !p.has(NOADDLISTOPT) && self.may_answer(now) {
            let entry = self.entry_packet(BR_ENTRY, DIALUPOPT, Charset::Gb18030);
            self.push(Destination::Ipmsg(addr), &entry);
        }
        let text = clip(&p.text(), MAX_TEXT_BYTES);
        // An offer: its files for the runtime to fetch, and their names in the chat.
        // Worked out once: it looks over the whole packet, and an offer may list many files.
        let charset = p.charset();
        let files: Vec<IpmsgFile> = p
            .attachments()
            .unwrap_or_default()
            .iter()
            .map(|a| IpmsgFile {
                file_id: a.file_id,
                name: clip(&charset.decode(&a.name), MAX_TEXT_BYTES),
                size: a.size,
                mtime: a.mtime,
                dir: a.kind() == ipmsg::FILE_DIR,
            })
            .collect();
        let text = if files.is_empty() {
            text
        } else {
            let list = files
                .iter()
                .map(|f| f.name.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            events.push_back(Event::IpmsgFiles {
                from: ip,
                addr,
                offer_no: p.packet_no,
                files,
            });
            if text.is_empty() {
                format!("[{list}]")
            } else {
                format!("{text}\n[{list}]")
            }
        };
        if !text.is_empty() {
            events.push_back(Event::Message {
                conversation: ConversationId::Ipmsg(ip),
                id: MsgId(message_id(ip, p.packet_no)),
                sent_at_ms: None,
                text,
                quote: None,
            });
        }
        // Away: one auto-reply, never to an auto-reply or a broadcast.
        if self.away.is_some() && !p.has(AUTORETOPT) && !p.has(BROADCASTOPT) {
            self.auto_reply(now, ip, addr);
        }
    }

    fn auto_reply(&mut self, now: Instant, ip: Ipv4Addr, addr: SocketAddr) {
        let Some(away) = self.away.clone() else {
            return;
        };
        let charset = match self.peers.get(&ip) {
            Some(peer)
                if peer
                    .auto_replied
                    .is_none_or(|at| now.saturating_duration_since(at) >= AUTO_REPLY_GAP) =>
            {
                peer.charset(self.names_ascii)
            }
            _ => return,
        };
        if !self.may_answer(now) {
            return;
        }
        if let Some(peer) = self.peers.get_mut(&ip) {
            peer.auto_replied = Some(now);
        }
        let no = self.next_no;
        let replies = self.cfg.local.messages(no, &away, charset, AUTORETOPT);
        self.next_no = no.wrapping_add(replies.len() as u64).max(1);
        for mut r in replies {
            // An auto-reply asks for no ack.
            r.command &= !ipmsg::SENDCHECKOPT;
            self.push(Destination::Ipmsg(addr), &r);
        }
    }

    /// Offers `files` to the peer at `ip`: one SENDMSG with FILEATTACHOPT, retried and
    /// acked like a message (`id` is delivered when acked). Returns its PacketNo, which
    /// GETFILEDATA names. File ids should be 0 to 9 (the same in decimal and hex). Names
    /// are given in UTF-8 and written in the peer's encoding.
    pub(super) fn offer(
        &mut self,
        now: Instant,
        ip: Ipv4Addr,
        id: MsgId,
        text: &str,
        files: &[ipmsg::Attachment],
        events: &mut VecDeque<Event>,
    ) -> Result<u64, SendError> {
        if self.outgoing.len() >= MAX_OUTGOING {
            return Err(SendError::OutboxFull);
        }
        let (addr, charset) = match self.peers.get(&ip) {
            Some(p) => (p.addr, p.charset(self.names_ascii)),
            None => (
                SocketAddr::V4(SocketAddrV4::new(ip, self.cfg.port)),
                Charset::Utf8,
            ),
        };
        // The names come in UTF-8 and go in what the peer reads.
        let files: Vec<ipmsg::Attachment> = files
            .iter()
            .map(|a| ipmsg::Attachment {
                name: charset.encode(&String::from_utf8_lossy(&a.name)),
                ..a.clone()
            })
            .collect();
        let no = self.next_no;
        let packet = self
            .cfg
            .local
            .offer(no, text, &files, charset)
            .map_err(encode_error)?;
        let bytes = packet.encode().map_err(encode_error)?;
        self.packet_no();
        self.out
            .push_back((Destination::Ipmsg(addr), bytes.clone()));
        self.outgoing.push(Outgoing {
            id,
            to: ip,
            addr,
            parts: vec![Part {
                no,
                bytes,
                sends: 1,
                next: now + RETRY_INTERVAL,
                acked: false,
            }],
        });
        events.push_back(Event::State {
            id,
            state: DeliveryState::Sending,
        });
        Ok(no)
    }

    /// Tells the peer at `ip` that we will not fetch offer `offer_no` (RELEASEFILES).
    pub(super) fn release(&mut self, ip: Ipv4Addr, offer_no: u64) {
        let addr = self
            .peers
            .get(&ip)
            .map_or(SocketAddr::V4(SocketAddrV4::new(ip, self.cfg.port)), |p| {
                p.addr
            });
        let no = self.packet_no();
        let p = self.cfg.local.about(no, ipmsg::RELEASEFILES, offer_no);
        self.push(Destination::Ipmsg(addr), &p);
    }

    /// The GETFILEDATA packet that asks for `request` over TCP, numbered as ours.
    pub(super) fn file_request(&mut self, request: &ipmsg::FileRequest) -> Vec<u8> {
        let no = self.packet_no();
        let mut bytes = self
            .cfg
            .local
            .get_file_data(no, request)
            .encode()
            .unwrap_or_default();
        if !bytes.ends_with(&[0]) {
            bytes.push(0);
        }
        bytes
    }

    fn on_ack(&mut self, ip: Ipv4Addr, p: &Packet, events: &mut VecDeque<Event>) {
        let Some(no) = p.referenced_packet_no() else {
            self.stats.stray_acks += 1;
            return;
        };
        let Some(i) = self
            .outgoing
            .iter()
            .position(|o| o.to == ip && o.parts.iter().any(|part| part.no == no))
        else {
            self.stats.stray_acks += 1;
            return;
        };
        let o = &mut self.outgoing[i];
        for part in o.parts.iter_mut().filter(|part| part.no == no) {
            part.acked = true;
        }
        if o.parts.iter().all(|part| part.acked) {
            let o = self.outgoing.remove(i);
            events.push_back(Event::State {
                id: o.id,
                state: DeliveryState::Delivered,
            });
        }
        if let Some(peer) = self.peers.get_mut(&ip)
            && !peer.online
        {
            peer.online = true;
            events.push_back(Event::IpmsgPeer(peer.view(ip, self.names_ascii)));
        }
    }
}

/// An IP Messenger encoding error as the endpoint reports one.
fn encode_error(e: ipmsg::EncodeError) -> SendError {
    use super::super::wire::EncodeError as W;
    SendError::Encode(match e {
        ipmsg::EncodeError::TooLong { len, max } => W::TooLong { len, max },
        ipmsg::EncodeError::Invalid(what) => W::Invalid(what),
    })
}

/// Header and Extra all ASCII: says nothing about the sender's encoding.
fn is_ascii_packet(p: &Packet) -> bool {
    p.user.is_ascii() && p.host.is_ascii() && p.extra.is_ascii()
}

/// A message id for a received packet: the same for every copy of it (so the store keeps
/// one), never zero.
fn message_id(ip: Ipv4Addr, packet_no: u64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in u32::from(ip)
        .to_be_bytes()
        .iter()
        .chain(packet_no.to_be_bytes().iter())
    {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_are_stable_per_packet_and_never_zero() {
        let ip = Ipv4Addr::new(10, 0, 0, 1);
        assert_eq!(message_id(ip, 5), message_id(ip, 5));
        assert_ne!(message_id(ip, 5), message_id(ip, 6));
        assert_ne!(message_id(Ipv4Addr::new(10, 0, 0, 2), 5), message_id(ip, 5));
        assert_ne!(message_id(ip, 0), 0);
    }

    #[test]
    fn clip_cuts_on_a_character() {
        assert_eq!(clip("中文", 4), "中");
        assert_eq!(clip("abc", 10), "abc");
    }
}
