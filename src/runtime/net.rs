//! The sockets: one unicast socket per instance, and the discovery socket that every local
//! instance shares (SO_REUSEADDR + SO_REUSEPORT) to hear multicast and broadcast beacons.

use crate::proto::{self, Destination, Transmit};
use socket2::{Domain, Protocol, SockRef, Socket, Type};
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

/// Datagrams queued between the receive tasks and the loop. When the loop falls behind, the
/// tasks wait and the kernel drops the excess: memory stays bounded under a flood.
const CHANNEL_DATAGRAMS: usize = 1024;
const RECV_BUFFER_BYTES: usize = 1 << 20;

#[derive(Debug)]
pub struct Datagram {
    pub src: SocketAddr,
    pub data: Vec<u8>,
}

#[derive(Debug, Clone)]
pub struct NetConfig {
    pub bind: IpAddr,
    /// `None`: [`proto::DEFAULT_PORT`] if free, else any.
    pub port: Option<u16>,
    pub discovery: bool,
    pub discovery_port: u16,
}

/// Where discovery beacons go: a destination, and for multicast the interface to send on.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Target {
    dst: SocketAddrV4,
    multicast_if: Option<Ipv4Addr>,
}

pub struct Net {
    unicast: Arc<UdpSocket>,
    discovery: Option<Arc<UdpSocket>>,
    targets: Vec<Target>,
    local: SocketAddr,
    /// Why discovery could not start, if it could not.
    pub discovery_error: Option<String>,
}

/// The IPv4 interfaces to announce on: loopback alone when bound to loopback (that is how
/// tests run, and it keeps their beacons on this host), else every up interface.
fn interfaces(bind: IpAddr) -> Vec<(Ipv4Addr, Option<Ipv4Addr>)> {
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
            IpAddr::V4(b) if !b.is_unspecified() => *ip == b || ip.is_loopback(),
            _ => true,
        })
        .map(|(ip, bcast)| if ip.is_loopback() { lo } else { (ip, bcast) })
        .collect();
    if !out.contains(&lo) {
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

fn discovery_socket(
    port: u16,
    ifaces: &[(Ipv4Addr, Option<Ipv4Addr>)],
) -> io::Result<std::net::UdpSocket> {
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.set_broadcast(true)?;
    socket.set_multicast_loop_v4(true)?;
    socket.set_multicast_ttl_v4(1)?;
    socket.set_nonblocking(true)?;
    socket.bind(&SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port).into())?;
    for (ip, _) in ifaces {
        if let Err(e) = socket.join_multicast_v4(&proto::DISCOVERY_GROUP, ip) {
            tracing::warn!(%ip, %e, "could not join the discovery group on this interface");
        }
    }
    Ok(socket.into())
}

impl Net {
    /// Binds the sockets and starts one receive task per socket. Must run inside a tokio
    /// runtime.
    pub fn bind(cfg: &NetConfig) -> io::Result<(Net, mpsc::Receiver<Datagram>)> {
        let std_unicast = match cfg.port {
            Some(port) => unicast_socket(cfg.bind, port)?,
            None => unicast_socket(cfg.bind, proto::DEFAULT_PORT)
                .or_else(|_| unicast_socket(cfg.bind, 0))?,
        };
        let unicast = Arc::new(UdpSocket::from_std(std_unicast)?);
        let local = unicast.local_addr()?;
        let (tx, rx) = mpsc::channel(CHANNEL_DATAGRAMS);
        tokio::spawn(receive(unicast.clone(), tx.clone()));

        let mut targets = Vec::new();
        let mut discovery_error = None;
        let discovery = if cfg.discovery {
            let ifaces = interfaces(cfg.bind);
            match discovery_socket(cfg.discovery_port, &ifaces).and_then(UdpSocket::from_std) {
                Ok(socket) => {
                    let socket = Arc::new(socket);
                    for (ip, broadcast) in &ifaces {
                        targets.push(Target {
                            dst: SocketAddrV4::new(proto::DISCOVERY_GROUP, cfg.discovery_port),
                            multicast_if: Some(*ip),
                        });
                        if let Some(b) = broadcast {
                            targets.push(Target {
                                dst: SocketAddrV4::new(*b, cfg.discovery_port),
                                multicast_if: None,
                            });
                        }
                    }
                    tokio::spawn(receive(socket.clone(), tx));
                    Some(socket)
                }
                // Chat still works without discovery (peers by address, plain text), so
                // this is reported rather than fatal.
                Err(e) => {
                    tracing::warn!(%e, port = cfg.discovery_port, "discovery unavailable");
                    discovery_error = Some(format!(
                        "discovery is off: cannot use port {}: {e}",
                        cfg.discovery_port
                    ));
                    None
                }
            }
        } else {
            None
        };
        Ok((
            Net {
                unicast,
                discovery_error,
                discovery,
                targets,
                local,
            },
            rx,
        ))
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Sends without waiting. UDP may drop: a full socket buffer is a loss like any other,
    /// and the protocol retransmits. Returns the first error, if any, for the status line.
    pub fn send(&self, t: &Transmit) -> io::Result<()> {
        match &t.dst {
            Destination::Unicast(addr) => send_now(&self.unicast, &t.payload, *addr),
            Destination::Discovery => {
                let Some(socket) = &self.discovery else {
                    return Ok(());
                };
                let mut first_err = None;
                let mut any_ok = false;
                for target in &self.targets {
                    let r = match target.multicast_if {
                        Some(ip) => SockRef::from(socket.as_ref())
                            .set_multicast_if_v4(&ip)
                            .and_then(|_| send_now(socket, &t.payload, target.dst.into())),
                        None => send_now(socket, &t.payload, target.dst.into()),
                    };
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

/// A non-blocking `sendto` straight to the kernel. (tokio's `try_send_to` answers
/// WouldBlock until its reactor has seen the socket writable once, which would lose the
/// first beacons after start.)
fn send_now(socket: &UdpSocket, payload: &[u8], to: SocketAddr) -> io::Result<()> {
    SockRef::from(socket)
        .send_to(payload, &to.into())
        .map(|_| ())
}

async fn receive(socket: Arc<UdpSocket>, tx: mpsc::Sender<Datagram>) {
    let mut buf = vec![0u8; 65_536];
    loop {
        match socket.recv_from(&mut buf).await {
            Ok((n, src)) => {
                let data = buf[..n].to_vec();
                if tx.send(Datagram { src, data }).await.is_err() {
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
