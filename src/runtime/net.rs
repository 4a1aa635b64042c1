//! The sockets: one unicast socket per instance, and the discovery socket that every local
//! instance shares (SO_REUSEADDR + SO_REUSEPORT) to hear multicast and broadcast beacons:
//! on 0.0.0.0 by default, and only where the bind address is when there is one (see
//! `discovery_sockets`).
//!
//! Both ways go in batches where Linux allows: the receive tasks take up to [`RECV_SLOTS`]
//! datagrams per system call (`recvmmsg`), and the unicast socket asks for coalesced
//! receives (`UDP_GRO`: a run of equal-sized datagrams from one sender arrives as one
//! buffer). Runs of equal-sized datagrams to one peer leave in one `sendmsg` with
//! segmentation offload (`UDP_SEGMENT`): the kernel (or the network card) cuts them into the
//! same datagrams a loop of `sendto` would have sent. Where the kernel refuses that, sending
//! falls back to one datagram at a time for good.

use crate::proto::{self, Destination, Transmit};
use nix::errno::Errno;
use nix::sys::socket::{
    ControlMessage, ControlMessageOwned, MsgFlags, MultiHeaders, SockaddrIn, SockaddrStorage,
    recvmmsg, sendmsg, setsockopt, sockopt,
};
use socket2::{Domain, Protocol, SockRef, Socket, Type};
use std::io::{self, IoSlice, IoSliceMut};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::io::Interest;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

/// Batches queued between the receive tasks and the loop. When the loop falls behind, the
/// tasks wait and the kernel drops the excess: memory stays bounded under a flood (at most
/// this many batches of at most [`RECV_SLOTS`] × 64 KiB).
const CHANNEL_BATCHES: usize = 64;
const RECV_BUFFER_BYTES: usize = 1 << 20;
/// Datagrams (or coalesced runs of them) one receive system call takes at most.
pub const RECV_SLOTS: usize = 16;
/// Room per slot: the largest UDP payload, so nothing is ever cut short, and a coalesced
/// run (which the kernel keeps under 64 KiB) fits whole.
const SLOT_BYTES: usize = 1 << 16;
/// Datagrams one segmentation-offload send carries at most (the kernel's `UDP_MAX_SEGMENTS`
/// on older kernels; newer ones take 128).
const MAX_SEGMENTS: usize = 64;
/// Bytes one segmentation-offload send carries at most (an IPv4 datagram's payload limit).
const MAX_SEGMENTED_BYTES: usize = 65_507;

/// Datagrams one receive call took, packed into one buffer: each has its source and its
/// bytes. (One allocation per batch instead of one per datagram.)
#[derive(Debug, Default)]
pub struct Batch {
    data: Vec<u8>,
    items: Vec<(SocketAddr, usize, usize)>,
}

impl Batch {
    fn push(&mut self, src: SocketAddr, bytes: &[u8]) {
        let start = self.data.len();
        self.data.extend_from_slice(bytes);
        self.items.push((src, start, bytes.len()));
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Each datagram: where it came from, and its bytes.
    pub fn iter(&self) -> impl Iterator<Item = (SocketAddr, &[u8])> {
        self.items
            .iter()
            .map(|&(src, start, len)| (src, &self.data[start..start + len]))
    }
}

#[derive(Debug, Clone)]
pub struct NetConfig {
    pub bind: IpAddr,
    /// `None`: [`proto::DEFAULT_PORT`] if free, else any.
    pub port: Option<u16>,
    pub discovery: bool,
    pub discovery_port: u16,
    /// Send runs of equal-sized datagrams with segmentation offload (on unless a benchmark
    /// turns it off to measure without it).
    pub segmentation_offload: bool,
}

/// Where discovery beacons go: a destination, and for multicast the interface to send on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Target {
    pub(super) dst: SocketAddrV4,
    pub(super) multicast_if: Option<Ipv4Addr>,
}

/// Where beacons go for these interfaces: the group on each, and each one's broadcast
/// address.
pub(super) fn beacon_targets(ifaces: &[(Ipv4Addr, Option<Ipv4Addr>)], port: u16) -> Vec<Target> {
    let mut targets = Vec::new();
    for (ip, broadcast) in ifaces {
        targets.push(Target {
            dst: SocketAddrV4::new(proto::DISCOVERY_GROUP, port),
            multicast_if: Some(*ip),
        });
        if let Some(b) = broadcast {
            targets.push(Target {
                dst: SocketAddrV4::new(*b, port),
                multicast_if: None,
            });
        }
    }
    targets
}

/// Sends one beacon to one target from a discovery socket, without waiting.
pub(super) fn send_to_target(
    socket: SockRef<'_>,
    target: &Target,
    payload: &[u8],
) -> io::Result<()> {
    if let Some(ip) = target.multicast_if {
        socket.set_multicast_if_v4(&ip)?;
    }
    socket
        .send_to(payload, &SocketAddr::V4(target.dst).into())
        .map(|_| ())
}

pub struct Net {
    unicast: Arc<UdpSocket>,
    /// Whether runs of datagrams go out with segmentation offload; turned off for good the
    /// first time the kernel refuses it.
    segmenting: AtomicBool,
    discovery: Option<Arc<UdpSocket>>,
    targets: Vec<Target>,
    local: SocketAddr,
    /// Why discovery could not start, if it could not.
    pub discovery_error: Option<String>,
    /// The IP Messenger socket (UDP 2425), when on, and where its broadcasts go.
    ipmsg: Option<Arc<UdpSocket>>,
    ipmsg_targets: Vec<SocketAddrV4>,
}

/// Where IP Messenger broadcasts go for these interfaces, on `port`: 255.255.255.255 when
/// not bound to one address (what every client sends to), and each interface's own
/// broadcast address (loopback's too, so local clients hear it).
pub(super) fn ipmsg_targets(
    bind: IpAddr,
    ifaces: &[(Ipv4Addr, Option<Ipv4Addr>)],
    port: u16,
) -> Vec<SocketAddrV4> {
    let mut out = Vec::new();
    if bind.is_unspecified() {
        out.push(SocketAddrV4::new(Ipv4Addr::BROADCAST, port));
    }
    for b in ifaces.iter().filter_map(|(_, b)| *b) {
        let t = SocketAddrV4::new(b, port);
        if !out.contains(&t) {
            out.push(t);
        }
    }
    out
}

/// The IPv4 interfaces to announce and listen on, each with its broadcast address:
/// - bound to loopback: loopback alone (that is how tests run, and it keeps their beacons on
///   this host);
/// - bound to one IPv4 address: the interface with that address, and no other;
/// - bound to the unspecified address: every up interface, loopback included.
pub(super) fn interfaces(bind: IpAddr) -> Vec<(Ipv4Addr, Option<Ipv4Addr>)> {
    let lo = (Ipv4Addr::LOCALHOST, Some(Ipv4Addr::new(127, 255, 255, 255)));
    if bind.is_loopback() {
        return vec![lo];
    }
    let mut out: Vec<(Ipv4Addr, Option<Ipv4Addr>)> = if_addrs::get_if_addrs()
        .unwrap_or_default()
        .into_iter()
        .filter_map(|i| match i.addr {
            if_addrs::IfAddr::V4(v4) => Some((v4.ip, v4.broadcast)),
            if_addrs::IfAddr::V6(_) => None,
        })
        .filter(|(ip, _)| match bind {
            IpAddr::V4(b) if !b.is_unspecified() => *ip == b,
            _ => true,
        })
        .map(|(ip, bcast)| if ip.is_loopback() { lo } else { (ip, bcast) })
        .collect();
    if bind.is_unspecified() && !out.contains(&lo) {
        out.push(lo);
    }
    out.dedup();
    out
}

fn unicast_socket(bind: IpAddr, port: u16) -> io::Result<std::net::UdpSocket> {
    let socket = Socket::new(
        Domain::for_address(SocketAddr::new(bind, port)),
        Type::DGRAM,
        Some(Protocol::UDP),
    )?;
    // A bigger receive buffer rides out bursts; the kernel may cap it, which is fine.
    let _ = socket.set_recv_buffer_size(RECV_BUFFER_BYTES);
    socket.set_nonblocking(true)?;
    socket.bind(&SocketAddr::new(bind, port).into())?;
    Ok(socket.into())
}

/// A socket for discovery on `addr`:`port`, shared with every local instance.
fn shared_socket(addr: Ipv4Addr, port: u16) -> io::Result<Socket> {
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&SocketAddr::new(IpAddr::V4(addr), port).into())?;
    Ok(socket)
}

/// The discovery sockets: the one that also sends the beacons, and others that only listen.
/// Where they listen follows the bind address:
/// - unspecified: one socket on 0.0.0.0, in the group on every interface of `ifaces`;
/// - one address (`ifaces` is then that address's interface, or loopback): one socket bound
///   to the group address itself, so it hears nothing sent to any unicast address of this
///   host, in the group on that interface only and with `IP_MULTICAST_ALL` off, so it hears
///   neither the group on other interfaces nor other groups; and one socket bound to that
///   interface's broadcast address, which only broadcasts on its subnet reach.
fn discovery_sockets(
    bind: IpAddr,
    port: u16,
    ifaces: &[(Ipv4Addr, Option<Ipv4Addr>)],
) -> io::Result<(UdpSocket, Vec<UdpSocket>)> {
    let (main, others) = discovery_sockets_std(bind, port, ifaces)?;
    let others = others
        .into_iter()
        .map(|s| UdpSocket::from_std(s.into()))
        .collect::<io::Result<Vec<_>>>()?;
    Ok((UdpSocket::from_std(main.into())?, others))
}

/// [`discovery_sockets`] as plain sockets (non-blocking), for use outside tokio.
pub(super) fn discovery_sockets_std(
    bind: IpAddr,
    port: u16,
    ifaces: &[(Ipv4Addr, Option<Ipv4Addr>)],
) -> io::Result<(Socket, Vec<Socket>)> {
    let everywhere = bind.is_unspecified();
    if !everywhere && ifaces.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::AddrNotAvailable,
            format!("no IPv4 interface has the address {bind}"),
        ));
    }
    let listen = if everywhere {
        Ipv4Addr::UNSPECIFIED
    } else {
        proto::DISCOVERY_GROUP
    };
    let main = shared_socket(listen, port)?;
    main.set_broadcast(true)?;
    main.set_multicast_loop_v4(true)?;
    main.set_multicast_ttl_v4(1)?;
    main.set_multicast_all_v4(false)?;
    for (ip, _) in ifaces {
        if let Err(e) = main.join_multicast_v4(&proto::DISCOVERY_GROUP, ip) {
            tracing::warn!(%ip, %e, "could not join the discovery group on this interface");
        }
    }
    let mut others = Vec::new();
    if !everywhere {
        for broadcast in ifaces.iter().filter_map(|(_, b)| *b) {
            others.push(shared_socket(broadcast, port)?);
        }
    }
    Ok((main, others))
}

impl Net {
    /// Binds the sockets and starts one receive task per socket. Must run inside a tokio
    /// runtime.
    pub fn bind(cfg: &NetConfig) -> io::Result<(Net, mpsc::Receiver<Batch>)> {
        let std_unicast = match cfg.port {
            Some(port) => unicast_socket(cfg.bind, port)?,
            None => unicast_socket(cfg.bind, proto::DEFAULT_PORT)
                .or_else(|_| unicast_socket(cfg.bind, 0))?,
        };
        let unicast = Arc::new(UdpSocket::from_std(std_unicast)?);
        // Coalesced receives are an optimisation: without them datagrams come one by one.
        if let Err(e) = setsockopt(unicast.as_ref(), sockopt::UdpGroSegment, &true) {
            tracing::debug!(%e, "no UDP_GRO on this system");
        }
        let local = unicast.local_addr()?;
        let (tx, rx) = mpsc::channel(CHANNEL_BATCHES);
        tokio::spawn(receive(unicast.clone(), tx.clone()));

        let mut targets = Vec::new();
        let mut discovery_error = None;
        let discovery = if cfg.discovery {
            let ifaces = interfaces(cfg.bind);
            let sockets = if let IpAddr::V6(v6) = cfg.bind
                && !v6.is_unspecified()
                && !v6.is_loopback()
            {
                // Beacons are IPv4, and a node bound to one IPv6 address cannot be reached
                // at the IPv4 address they would come from.
                Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    "discovery is IPv4 only; bound to one IPv6 address, use --peer",
                ))
            } else {
                discovery_sockets(cfg.bind, cfg.discovery_port, &ifaces)
            };
            match sockets {
                Ok((socket, listeners)) => {
                    let socket = Arc::new(socket);
                    for listener in listeners {
                        tokio::spawn(receive(Arc::new(listener), tx.clone()));
                    }
                    targets = beacon_targets(&ifaces, cfg.discovery_port);
                    tokio::spawn(receive(socket.clone(), tx));
                    Some(socket)
                }
                // Chat still works without discovery (peers by address, plain text), so
                // this is reported rather than fatal.
                Err(e) => {
                    tracing::warn!(%e, port = cfg.discovery_port, "discovery unavailable");
                    discovery_error = Some(e.to_string());
                    None
                }
            }
        } else {
            None
        };
        Ok((
            Net {
                unicast,
                segmenting: AtomicBool::new(cfg.segmentation_offload),
                discovery_error,
                discovery,
                targets,
                local,
                ipmsg: None,
                ipmsg_targets: Vec::new(),
            },
            rx,
        ))
    }

    /// Binds the IP Messenger socket (UDP `port` on the bind address, 2425 but in tests)
    /// and starts its receive task. Its datagrams come on their own channel, so they never
    /// meet lanchat's. Must run inside a tokio runtime.
    pub fn start_ipmsg(&mut self, bind: IpAddr, port: u16) -> io::Result<mpsc::Receiver<Batch>> {
        let socket = unicast_socket(bind, port)?;
        socket.set_broadcast(true)?;
        let socket = Arc::new(UdpSocket::from_std(socket)?);
        let local = socket.local_addr()?;
        self.ipmsg_targets = ipmsg_targets(bind, &interfaces(bind), local.port());
        let (tx, rx) = mpsc::channel(CHANNEL_BATCHES);
        tokio::spawn(receive(socket.clone(), tx));
        self.ipmsg = Some(socket);
        Ok(rx)
    }

    /// Where the IP Messenger socket is bound, when on.
    pub fn ipmsg_addr(&self) -> Option<SocketAddr> {
        self.ipmsg.as_ref().and_then(|s| s.local_addr().ok())
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Sends without waiting. UDP may drop: a full socket buffer is a loss like any other,
    /// and the protocol retransmits. Returns the first error, if any, for the status line.
    pub fn send(&self, t: &Transmit) -> io::Result<()> {
        match &t.dst {
            Destination::Unicast(addr) => send_now(&self.unicast, &t.payload, *addr),
            Destination::Ipmsg(addr) => match &self.ipmsg {
                Some(socket) => send_now(socket, &t.payload, *addr),
                None => Ok(()),
            },
            Destination::IpmsgBroadcast => {
                let Some(socket) = &self.ipmsg else {
                    return Ok(());
                };
                let mut result = Ok(());
                let mut any_ok = false;
                for to in &self.ipmsg_targets {
                    match send_now(socket, &t.payload, SocketAddr::V4(*to)) {
                        Ok(()) => any_ok = true,
                        Err(e) => {
                            tracing::debug!(dst = %to, %e, "IP Messenger broadcast not sent");
                            result = Err(e);
                        }
                    }
                }
                if any_ok { Ok(()) } else { result }
            }
            Destination::Discovery => {
                let Some(socket) = &self.discovery else {
                    return Ok(());
                };
                let mut first_err = None;
                let mut any_ok = false;
                for target in &self.targets {
                    let r = send_to_target(SockRef::from(socket.as_ref()), target, &t.payload);
                    match r {
                        Ok(_) => any_ok = true,
                        Err(e) => {
                            tracing::debug!(dst = %target.dst, %e, "beacon not sent");
                            first_err.get_or_insert(e);
                        }
                    }
                }
                // One unreachable interface is normal; fail only if none worked.
                match first_err {
                    Some(e) if !any_ok => Err(e),
                    _ => Ok(()),
                }
            }
        }
    }
}

impl Net {
    /// Sends a run of transmits, as [`send`](Self::send) would one by one, but runs of
    /// equal-sized datagrams to one address in one system call each. Returns the first
    /// error, if any.
    pub fn send_all(&self, ts: &[Transmit]) -> io::Result<()> {
        let mut first_err = None;
        let mut i = 0;
        while i < ts.len() {
            let (r, sent) = match self.segment_run(&ts[i..]) {
                Some((to, run)) => (self.send_segmented(to, &ts[i..i + run]), run),
                None => (self.send(&ts[i]), 1),
            };
            if let Err(e) = r {
                first_err.get_or_insert(e);
            }
            i += sent;
        }
        first_err.map_or(Ok(()), Err)
    }

    /// Where and how many transmits from the start of `ts` can leave as one segmented send
    /// (at least two): unicast to one IPv4 address, all the size of the first but the last,
    /// which may be shorter. `None`: the first goes alone.
    fn segment_run(&self, ts: &[Transmit]) -> Option<(SocketAddrV4, usize)> {
        let Some(Transmit {
            dst: Destination::Unicast(SocketAddr::V4(to)),
            payload: first,
        }) = ts.first()
        else {
            return None;
        };
        if !self.segmenting.load(Ordering::Relaxed) || first.is_empty() {
            return None;
        }
        let size = first.len();
        let mut run = 1;
        let mut bytes = size;
        for t in &ts[1..] {
            if run == MAX_SEGMENTS || t.dst != Destination::Unicast(SocketAddr::V4(*to)) {
                break;
            }
            let len = t.payload.len();
            if len > size || len == 0 || bytes + len > MAX_SEGMENTED_BYTES {
                break;
            }
            run += 1;
            bytes += len;
            if len < size {
                break; // only the last segment may be shorter
            }
        }
        (run > 1).then_some((*to, run))
    }

    /// `ts` (unicast to one address, equal sizes but the last) in one `sendmsg` with
    /// `UDP_SEGMENT`. If the kernel refuses (no checksum offload on the way out, a segment
    /// over the path's MTU...), sends them one by one and does not segment again.
    fn send_segmented(&self, to: SocketAddrV4, ts: &[Transmit]) -> io::Result<()> {
        let size = u16::try_from(ts[0].payload.len()).unwrap_or(u16::MAX);
        let slices: Vec<IoSlice<'_>> = ts.iter().map(|t| IoSlice::new(&t.payload)).collect();
        let r = sendmsg(
            self.unicast.as_raw_fd(),
            &slices,
            &[ControlMessage::UdpGsoSegments(&size)],
            MsgFlags::MSG_DONTWAIT,
            Some(&SockaddrIn::from(to)),
        );
        match r {
            Ok(_) => Ok(()),
            // What says this kernel, device or path cannot segment: never again.
            Err(
                e @ (Errno::EIO
                | Errno::EINVAL
                | Errno::EMSGSIZE
                | Errno::EOPNOTSUPP
                | Errno::ENOPROTOOPT),
            ) => {
                tracing::info!(%e, "segmentation offload refused; sending one datagram at a time");
                self.segmenting.store(false, Ordering::Relaxed);
                ts.iter().try_for_each(|t| self.send(t))
            }
            // A full send buffer and the like: lost like any datagram, and retransmitted.
            Err(e) => Err(e.into()),
        }
    }
}

/// A non-blocking `sendto` straight to the kernel. (tokio's `try_send_to` answers
/// WouldBlock until its reactor has seen the socket writable once, which would lose the
/// first beacons after start.)
fn send_now(socket: &UdpSocket, payload: &[u8], to: SocketAddr) -> io::Result<()> {
    SockRef::from(socket)
        .send_to(payload, &to.into())
        .map(|_| ())
}

async fn receive(socket: Arc<UdpSocket>, tx: mpsc::Sender<Batch>) {
    // Pages of these are only touched as datagrams fill them.
    let mut slots = vec![vec![0u8; SLOT_BYTES]; RECV_SLOTS];
    let fd = socket.as_raw_fd();
    loop {
        match socket
            .async_io(Interest::READABLE, || receive_batch(fd, &mut slots))
            .await
        {
            Ok(batch) => {
                if batch.is_empty() {
                    continue;
                }
                if tx.send(batch).await.is_err() {
                    return; // the loop is gone
                }
            }
            // ICMP errors from earlier sends surface here (connection refused); they say
            // nothing about this socket, which keeps working.
            Err(e) => {
                tracing::debug!(%e, "receive error");
                if tx.is_closed() {
                    return;
                }
                tokio::task::yield_now().await;
            }
        }
    }
}

/// One `recvmmsg` without waiting: up to [`RECV_SLOTS`] datagrams, coalesced runs cut back
/// into their datagrams. `WouldBlock` when there is nothing to read.
fn receive_batch(fd: RawFd, slots: &mut [Vec<u8>]) -> io::Result<Batch> {
    let mut iovs: Vec<[IoSliceMut<'_>; 1]> = slots
        .iter_mut()
        .map(|s| [IoSliceMut::new(s.as_mut_slice())])
        .collect();
    // Room for the one control message asked for: the segment size of a coalesced run.
    let mut headers: MultiHeaders<SockaddrStorage> =
        MultiHeaders::preallocate(iovs.len(), Some(nix::cmsg_space!(i32)));
    let received = recvmmsg(
        fd,
        &mut headers,
        iovs.iter_mut(),
        MsgFlags::MSG_DONTWAIT,
        None,
    )
    .map_err(io::Error::from)?;
    let mut batch = Batch::default();
    for msg in received {
        let Some(src) = msg.address.as_ref().and_then(socket_addr) else {
            continue; // not an IP datagram; cannot happen on these sockets
        };
        let Some(bytes) = msg.iovs().next() else {
            // An empty datagram: the endpoint counts it as malformed.
            batch.push(src, &[]);
            continue;
        };
        let stride = msg
            .cmsgs()
            .ok()
            .and_then(|mut cmsgs| {
                cmsgs.find_map(|c| match c {
                    ControlMessageOwned::UdpGroSegments(size) => usize::try_from(size).ok(),
                    _ => None,
                })
            })
            .filter(|&size| size > 0)
            .unwrap_or(bytes.len().max(1));
        for datagram in bytes.chunks(stride) {
            batch.push(src, datagram);
        }
    }
    Ok(batch)
}

fn socket_addr(a: &SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = a.as_sockaddr_in() {
        Some(SocketAddr::V4((*v4).into()))
    } else {
        a.as_sockaddr_in6().map(|v6| SocketAddr::V6((*v6).into()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use std::time::Duration;

    fn loopback() -> NetConfig {
        NetConfig {
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: Some(0),
            discovery: false,
            discovery_port: 0,
            segmentation_offload: true,
        }
    }

    fn to(addr: SocketAddr, payload: Vec<u8>) -> Transmit {
        Transmit {
            dst: Destination::Unicast(addr),
            payload,
        }
    }

    /// Distinct bytes per datagram, so that a mix-up or a cut in the wrong place shows.
    fn payload(i: usize, len: usize) -> Vec<u8> {
        (0..len).map(|j| (i * 31 + j) as u8).collect()
    }

    /// A plain socket to send to.
    fn plain_receiver() -> std::net::UdpSocket {
        let plain = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        plain
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        plain
    }

    /// What `plain` must get: each of `ts`, whole and in order, from `from`.
    fn expect_each(plain: &std::net::UdpSocket, ts: &[Transmit], from: SocketAddr) {
        let mut buf = vec![0u8; 1 << 16];
        for t in ts {
            let (n, src) = plain.recv_from(&mut buf).unwrap();
            assert_eq!(src, from);
            assert_eq!(&buf[..n], &t.payload[..]);
        }
    }

    async fn next_datagrams(
        rx: &mut mpsc::Receiver<Batch>,
        n: usize,
    ) -> Vec<(SocketAddr, Vec<u8>)> {
        let mut got = Vec::new();
        while got.len() < n {
            let batch = tokio::time::timeout(Duration::from_secs(5), rx.recv())
                .await
                .expect("datagrams did not arrive")
                .expect("receive task ended");
            got.extend(batch.iter().map(|(src, d)| (src, d.to_vec())));
        }
        got
    }

    #[tokio::test]
    async fn runs_are_cut_where_size_or_destination_changes() {
        let (net, _rx) = Net::bind(&loopback()).unwrap();
        let a: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let b: SocketAddr = "127.0.0.1:10".parse().unwrap();
        let ts = vec![
            to(a, vec![0; 100]),
            to(a, vec![0; 100]),
            to(a, vec![0; 60]), // a shorter last segment ends the run
            to(a, vec![0; 100]),
            to(b, vec![0; 100]), // another destination
            to(b, vec![0; 120]), // bigger than the first: a new run
            Transmit {
                dst: Destination::Discovery,
                payload: vec![0; 120],
            },
        ];
        let run = |ts: &[Transmit]| net.segment_run(ts).map_or(1, |(_, n)| n);
        let mut runs = Vec::new();
        let mut i = 0;
        while i < ts.len() {
            let n = run(&ts[i..]);
            runs.push(n);
            i += n;
        }
        assert_eq!(runs, [3, 1, 1, 1, 1]);
        assert_eq!(
            net.segment_run(&ts).map(|(dst, _)| dst),
            Some("127.0.0.1:9".parse().unwrap())
        );

        let many: Vec<Transmit> = (0..MAX_SEGMENTS + 5).map(|_| to(a, vec![0; 10])).collect();
        assert_eq!(run(&many), MAX_SEGMENTS);
        let big: Vec<Transmit> = (0..10).map(|_| to(a, vec![0; 20_000])).collect();
        assert_eq!(run(&big), 3, "no more than 65,507 bytes in one send");

        net.segmenting.store(false, Ordering::Relaxed);
        assert_eq!(run(&ts), 1, "one at a time once offload is off");
        net.segmenting.store(true, Ordering::Relaxed);
        let v6: SocketAddr = "[::1]:9".parse().unwrap();
        let to_v6: Vec<Transmit> = (0..3).map(|_| to(v6, vec![0; 10])).collect();
        assert_eq!(run(&to_v6), 1, "IPv6 goes one at a time");
    }

    #[tokio::test]
    async fn a_plain_socket_gets_each_datagram_of_a_segmented_run_whole() {
        let (net, _rx) = Net::bind(&loopback()).unwrap();
        let plain = plain_receiver();
        let dst = plain.local_addr().unwrap();
        let sizes = [300, 300, 300, 300, 120, 1200, 1200, 7];
        let ts: Vec<Transmit> = sizes
            .iter()
            .enumerate()
            .map(|(i, &len)| to(dst, payload(i, len)))
            .collect();
        net.send_all(&ts).unwrap();
        expect_each(&plain, &ts, net.local_addr());
    }

    #[tokio::test]
    async fn when_the_kernel_refuses_a_segmented_send_each_datagram_goes_alone() {
        let (net, _rx) = Net::bind(&loopback()).unwrap();
        let plain = plain_receiver();
        let dst = plain.local_addr().unwrap();
        // More bytes than one UDP datagram may carry: the kernel refuses the send, as it
        // would for a device without checksum offload or a segment over the path's MTU.
        let ts: Vec<Transmit> = (0..10).map(|i| to(dst, payload(i, 7_000))).collect();
        let SocketAddr::V4(dst4) = dst else {
            panic!("bound to 127.0.0.1")
        };
        net.send_segmented(dst4, &ts).unwrap();
        assert!(
            !net.segmenting.load(Ordering::Relaxed),
            "offload stays off after a refusal"
        );
        expect_each(&plain, &ts, net.local_addr());
    }

    #[tokio::test]
    async fn coalesced_receives_come_out_as_the_datagrams_sent() {
        let (a, _rx_a) = Net::bind(&loopback()).unwrap();
        let (b, mut rx_b) = Net::bind(&loopback()).unwrap();
        // 40 equal datagrams and a shorter last one: what the kernel may hand over as one
        // coalesced buffer to b, which must cut it back at the same places.
        let mut ts: Vec<Transmit> = (0..40)
            .map(|i| to(b.local_addr(), payload(i, 200)))
            .collect();
        ts.push(to(b.local_addr(), payload(40, 33)));
        // Then datagrams of other sizes, one by one.
        ts.push(to(b.local_addr(), payload(41, 1)));
        ts.push(to(b.local_addr(), payload(42, 999)));
        a.send_all(&ts).unwrap();
        let got = next_datagrams(&mut rx_b, ts.len()).await;
        assert_eq!(got.len(), ts.len());
        for ((src, data), t) in got.iter().zip(&ts) {
            assert_eq!(*src, a.local_addr());
            assert_eq!(data, &t.payload);
        }
    }

    #[tokio::test]
    async fn an_empty_datagram_is_passed_on_empty() {
        let (net, mut rx) = Net::bind(&loopback()).unwrap();
        let plain = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        plain.send_to(&[], net.local_addr()).unwrap();
        plain.send_to(b"after", net.local_addr()).unwrap();
        let got = next_datagrams(&mut rx, 2).await;
        assert_eq!(
            got,
            [
                (plain.local_addr().unwrap(), Vec::new()),
                (plain.local_addr().unwrap(), b"after".to_vec())
            ]
        );
    }

    /// A port free for discovery right now on both the wildcard and loopback.
    fn free_port() -> u16 {
        loop {
            let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            let port = s.local_addr().unwrap().port();
            drop(s);
            if std::net::UdpSocket::bind(("0.0.0.0", port)).is_ok() {
                return port;
            }
        }
    }

    #[tokio::test]
    async fn bound_to_loopback_discovery_hears_the_group_and_broadcast_and_no_unicast() {
        let port = free_port();
        let (net, mut rx) = Net::bind(&NetConfig {
            discovery: true,
            discovery_port: port,
            ..loopback()
        })
        .unwrap();
        assert_eq!(net.discovery_error, None);
        let heard_at = net.discovery.as_ref().unwrap().local_addr().unwrap();
        assert_eq!(heard_at, SocketAddr::from((proto::DISCOVERY_GROUP, port)));

        // Someone else on the host (or, for a real interface, on another network) aims at
        // the discovery port through addresses this node was told not to listen on.
        let stranger = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        stranger.set_broadcast(true).unwrap();
        for to in ["127.0.0.2", "127.0.0.1", "127.1.2.3"] {
            stranger.send_to(to.as_bytes(), (to, port)).unwrap();
        }
        // What discovery is for still arrives: the group on loopback, loopback's broadcast.
        let group = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).unwrap();
        group.set_multicast_if_v4(&Ipv4Addr::LOCALHOST).unwrap();
        group.set_multicast_loop_v4(true).unwrap();
        let group: std::net::UdpSocket = group.into();
        group
            .send_to(b"group", (proto::DISCOVERY_GROUP, port))
            .unwrap();
        stranger
            .send_to(b"broadcast", ("127.255.255.255", port))
            .unwrap();
        group
            .send_to(b"last", (proto::DISCOVERY_GROUP, port))
            .unwrap();
        // Loopback keeps order: by the time "last" is in, anything sent before it is too.
        let mut got = Vec::new();
        while !got.iter().any(|d: &Vec<u8>| d == b"last") {
            got.extend(next_datagrams(&mut rx, 1).await.into_iter().map(|(_, d)| d));
        }
        got.sort();
        assert_eq!(
            got,
            [b"broadcast".to_vec(), b"group".to_vec(), b"last".to_vec()],
            "{:?}",
            got.iter()
                .map(|d| String::from_utf8_lossy(d))
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn bound_to_one_address_discovery_uses_that_interface_alone() {
        assert_eq!(
            interfaces(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2))),
            [(Ipv4Addr::LOCALHOST, Some(Ipv4Addr::new(127, 255, 255, 255)))]
        );
        // An address of a real interface, if this host has one: that interface, not
        // loopback, and not the others.
        let real = if_addrs::get_if_addrs()
            .unwrap_or_default()
            .into_iter()
            .find_map(|i| match i.addr {
                if_addrs::IfAddr::V4(v4) if !v4.ip.is_loopback() => Some(v4.ip),
                _ => None,
            });
        if let Some(ip) = real {
            let got = interfaces(IpAddr::V4(ip));
            assert_eq!(got.iter().map(|(i, _)| *i).collect::<Vec<_>>(), [ip]);
        }
        // No interface has this address: nothing to listen on, and so an error.
        let nowhere = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 254));
        if interfaces(nowhere).is_empty() {
            assert!(discovery_sockets(nowhere, 0, &[]).is_err());
        }
    }
}
