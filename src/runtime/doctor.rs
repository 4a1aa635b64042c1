//! `lanchat doctor`: why can't I see anyone?
//!
//! Three steps, kept apart so the middle one can be tested on made-up situations:
//! 1. [`probe`] looks at this host (interfaces, routes, ports and who holds them, a beacon
//!    self-test on the discovery port, firewall rules, what the data dir remembers) and
//!    writes it all down in a plain [`Findings`];
//! 2. [`diagnose`] decides from the findings alone what the likely [`Cause`]s are (pure);
//! 3. [`render`] writes findings and causes in the user's language, each cause with the one
//!    command or setting that fixes it.
//!
//! The probing degrades: whatever this user may not read (other users' sockets, firewall
//! rules) is reported as unknown, never guessed.

use super::net;
use crate::config::{self, Settings};
use crate::i18n::Lang;
use crate::proto::{self, wire};
use crate::text::sanitize_line;
use crate::tr;
use socket2::SockRef;
use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long the self-test listens for its own beacons, and for anyone else's, by default.
pub const DEFAULT_LISTEN: Duration = Duration::from_secs(1);
/// The IP Messenger port (FeiQ, iptux and the like), UDP and TCP.
pub const IPMSG_PORT: u16 = 2425;
/// Peers from the history shown at most.
const RECENT_PEERS: usize = 8;

/// One address of one interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    pub name: String,
    pub ip: IpAddr,
    pub broadcast: Option<Ipv4Addr>,
    pub loopback: bool,
    pub wireless: bool,
}

/// What the main routing table says about where beacons would go.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Routes {
    /// The interface of the default route, if there is one.
    pub default_dev: Option<String>,
    /// The default route goes through a VPN tunnel (tun, wg, ppp, ...).
    pub default_is_vpn: bool,
    /// The interface of a route made for multicast (one covering 224.0.0.0, other than the
    /// default route).
    pub multicast_dev: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// This instance's own port, where peers talk to it.
    Unicast,
    /// The port all local instances share for beacons.
    Discovery,
    /// IP Messenger's port.
    IpMsg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
}

/// A process that has a socket on a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub pid: u32,
    pub comm: String,
}

impl Holder {
    pub fn is_lanchat(&self) -> bool {
        self.comm == "lanchat"
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortState {
    /// Could be bound.
    Free,
    /// Could not be bound: in use.
    Busy,
    /// Could not be bound for another reason.
    Failed(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortCheck {
    pub service: Service,
    pub transport: Transport,
    pub port: u16,
    pub state: PortState,
    /// The processes seen holding it (for the discovery port, also when it could be
    /// shared).
    pub holders: Vec<Holder>,
    /// Sockets on the port whose process this user cannot see.
    pub hidden: usize,
}

/// One beacon sent by the self-test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    pub to: Ipv4Addr,
    /// For multicast: the interface address it was sent from.
    pub via: Option<Ipv4Addr>,
    /// Why it could not be sent, if it could not.
    pub error: Option<String>,
    /// It came back to the discovery socket.
    pub back: bool,
}

impl Probe {
    pub fn multicast(&self) -> bool {
        self.to.is_multicast()
    }
}

/// A datagram on the discovery port that was not one of ours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heard {
    pub from: SocketAddr,
    /// It looks like lanchat (a native frame).
    pub lanchat: bool,
    /// It came from an address of this host.
    pub this_host: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SelfTest {
    /// Why it could not run (the discovery sockets could not be opened), if it could not.
    pub error: Option<String>,
    pub probes: Vec<Probe>,
    pub heard: Vec<Heard>,
    pub listened: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FirewallCheck {
    /// Neither nft nor iptables is installed.
    NoTool,
    /// A tool is there but its rules could not be read (usually: not root).
    Unreadable(String),
    /// Rules were read; these lines drop or reject lanchat's ports.
    Read { tool: String, drops: Vec<String> },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Firewall {
    pub checks: Vec<FirewallCheck>,
    /// `ufw` is installed (its command is the simplest fix).
    pub ufw: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenPeer {
    pub name: String,
    pub addr: String,
    /// Milliseconds since the Unix epoch; `None` for known keys (no time is kept).
    pub last_seen_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HistoryState {
    /// No history database yet.
    Missing,
    /// Not opened: another instance holds the data dir.
    Locked,
    Read(Vec<SeenPeer>),
    Failed(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataDir {
    /// Another lanchat holds the data dir's lock: `Some(pid)` (the pid if it wrote one).
    pub locked_by: Option<Option<String>>,
    /// The keys met so far (name, last address), or why they could not be read.
    pub known: Result<Vec<SeenPeer>, String>,
    pub history: HistoryState,
}

/// Everything the probes found, as plain data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Findings {
    pub bind: IpAddr,
    pub discovery: bool,
    pub unicast_port: u16,
    pub discovery_port: u16,
    pub interfaces: Vec<Interface>,
    /// `None`: the routing table could not be read.
    pub routes: Option<Routes>,
    pub ports: Vec<PortCheck>,
    pub self_test: SelfTest,
    pub firewall: Firewall,
    pub data: DataDir,
    /// When the findings were made, in milliseconds since the Unix epoch.
    pub now_ms: i64,
}

/// How sure the doctor is that a cause keeps peers apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// It does: fix it.
    Problem,
    /// It may: check it.
    Hint,
}

/// A likely reason for not seeing anyone, with what it takes to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cause {
    /// Discovery is turned off in config.toml or by `--no-discovery`.
    DiscoveryOff,
    /// Bound to loopback: nobody on the network can reach this instance.
    BoundToLoopback { bind: IpAddr },
    /// No IPv4 interface but loopback.
    OnlyLoopback,
    /// Another lanchat already uses this data dir.
    DataDirLocked { pid: Option<String> },
    /// Another lanchat holds the unicast port: peers who know this host reach that one.
    SecondInstance { port: u16, holders: Vec<Holder> },
    /// Something else holds a port lanchat needs.
    PortHeld {
        service: Service,
        transport: Transport,
        port: u16,
        holders: Vec<Holder>,
        hidden: usize,
    },
    /// A port could not be bound for a reason other than being in use.
    PortError { port: u16, error: String },
    /// The self-test could not open the discovery sockets (for a reason besides the port
    /// being held, which [`Cause::PortHeld`] says).
    SelfTestFailed { error: String },
    /// Beacons to the group did not come back, and no route is meant for multicast.
    NoMulticastRoute { dev: String },
    /// Some beacons could not be sent or did not come back.
    BeaconsLost { lost: Vec<Probe> },
    /// Firewall rules drop lanchat's ports.
    Firewall {
        tool: String,
        lines: Vec<String>,
        ufw: bool,
    },
    /// The default route goes through a VPN, which may keep the LAN out of reach.
    VpnRoute { dev: String },
    /// Beacons leave and come back, but no other host was heard.
    NobodyHeard { wireless: Option<String> },
}

impl Cause {
    pub fn severity(&self) -> Severity {
        match self {
            Cause::VpnRoute { .. } | Cause::NobodyHeard { .. } => Severity::Hint,
            _ => Severity::Problem,
        }
    }
}

/// The likely causes, the sure ones first.
pub fn diagnose(f: &Findings) -> Vec<Cause> {
    let mut causes = Vec::new();
    if !f.discovery {
        causes.push(Cause::DiscoveryOff);
    }
    if f.bind.is_loopback() {
        causes.push(Cause::BoundToLoopback { bind: f.bind });
    }
    let has_network = f.interfaces.iter().any(|i| !i.loopback && i.ip.is_ipv4());
    if !has_network && !f.bind.is_loopback() {
        causes.push(Cause::OnlyLoopback);
    }
    if let Some(pid) = &f.data.locked_by {
        causes.push(Cause::DataDirLocked { pid: pid.clone() });
    }
    let mut discovery_held = false;
    for p in &f.ports {
        if p.service == Service::IpMsg {
            continue; // lanchat does not use it; shown among the findings only
        }
        match &p.state {
            PortState::Free => {}
            PortState::Busy => {
                if p.service == Service::Discovery {
                    discovery_held = true;
                }
                if p.service == Service::Unicast && p.holders.iter().any(Holder::is_lanchat) {
                    causes.push(Cause::SecondInstance {
                        port: p.port,
                        holders: p.holders.clone(),
                    });
                } else {
                    causes.push(Cause::PortHeld {
                        service: p.service,
                        transport: p.transport,
                        port: p.port,
                        holders: p.holders.clone(),
                        hidden: p.hidden,
                    });
                }
            }
            PortState::Failed(error) => causes.push(Cause::PortError {
                port: p.port,
                error: error.clone(),
            }),
        }
    }
    let t = &f.self_test;
    if let Some(error) = &t.error
        && !discovery_held
    {
        causes.push(Cause::SelfTestFailed {
            error: error.clone(),
        });
    }
    for check in &f.firewall.checks {
        if let FirewallCheck::Read { tool, drops } = check
            && !drops.is_empty()
        {
            causes.push(Cause::Firewall {
                tool: tool.clone(),
                lines: drops.clone(),
                ufw: f.firewall.ufw,
            });
        }
    }
    // Probes on loopback say little about the network; those on real interfaces count.
    let on_network = |p: &&Probe| match p.via {
        Some(via) => !via.is_loopback(),
        None => !p.to.is_loopback() && !Ipv4Addr::new(127, 255, 255, 255).eq(&p.to),
    };
    let came_back = |p: &Probe| p.back && p.error.is_none();
    let lost: Vec<Probe> = t.probes.iter().filter(|p| !came_back(p)).cloned().collect();
    let multicast_lost: Vec<&Probe> = lost
        .iter()
        .filter(|p| p.multicast())
        .filter(on_network)
        .collect();
    let routes = f.routes.clone().unwrap_or_default();
    let mut explained = false;
    if !multicast_lost.is_empty() && routes.default_dev.is_none() && routes.multicast_dev.is_none()
    {
        let dev = multicast_lost
            .iter()
            .find_map(|p| {
                let via = p.via?;
                f.interfaces
                    .iter()
                    .find(|i| i.ip == IpAddr::V4(via))
                    .map(|i| i.name.clone())
            })
            .unwrap_or_else(|| "eth0".to_owned());
        causes.push(Cause::NoMulticastRoute { dev });
        explained = lost.iter().all(|p| p.multicast());
    }
    if !lost.is_empty() && !explained {
        causes.push(Cause::BeaconsLost { lost });
    }
    if routes.default_is_vpn
        && let Some(dev) = &routes.default_dev
    {
        causes.push(Cause::VpnRoute { dev: dev.clone() });
    }
    // Beacons went out on a real network and came back, yet nobody else answered.
    let network_probes_back = t.probes.iter().filter(on_network).any(came_back);
    let others = t.heard.iter().any(|h| !h.this_host);
    if t.error.is_none() && has_network && network_probes_back && !others {
        let wireless = f
            .interfaces
            .iter()
            .find(|i| i.wireless && !i.loopback)
            .map(|i| i.name.clone());
        causes.push(Cause::NobodyHeard { wireless });
    }
    causes.sort_by_key(Cause::severity);
    causes
}

// ---------------------------------------------------------------------------------------
// Probing

/// Looks at everything, listening for `listen` on the discovery port.
pub fn probe(settings: &Settings, listen: Duration) -> Findings {
    let unicast_port = settings.port.unwrap_or(proto::DEFAULT_PORT);
    let mut ports = Vec::new();
    if unicast_port != 0 {
        ports.push(check_port(
            Service::Unicast,
            Transport::Udp,
            settings.bind,
            unicast_port,
            false,
        ));
    }
    let discovery_bind = if settings.bind.is_unspecified() || !settings.bind.is_ipv4() {
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    } else {
        IpAddr::V4(proto::DISCOVERY_GROUP)
    };
    let discovery = check_port(
        Service::Discovery,
        Transport::Udp,
        discovery_bind,
        settings.discovery_port,
        true,
    );
    let discovery_busy = discovery.state == PortState::Busy;
    ports.push(discovery);
    let any = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
    ports.push(check_port(
        Service::IpMsg,
        Transport::Udp,
        any,
        IPMSG_PORT,
        false,
    ));
    ports.push(check_port(
        Service::IpMsg,
        Transport::Tcp,
        any,
        IPMSG_PORT,
        false,
    ));
    let self_test = if discovery_busy {
        SelfTest {
            error: Some(io::Error::from(io::ErrorKind::AddrInUse).to_string()),
            ..SelfTest::default()
        }
    } else {
        self_test(settings.bind, settings.discovery_port, listen)
    };
    Findings {
        bind: settings.bind,
        discovery: settings.discovery,
        unicast_port,
        discovery_port: settings.discovery_port,
        interfaces: interfaces(),
        routes: std::fs::read_to_string("/proc/net/route")
            .ok()
            .map(|t| parse_routes(&t, is_vpn)),
        ports,
        self_test,
        firewall: firewall(&[settings.discovery_port, unicast_port]),
        data: data_dir(settings),
        now_ms: now_ms(),
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn interfaces() -> Vec<Interface> {
    let mut out: Vec<Interface> = if_addrs::get_if_addrs()
        .unwrap_or_default()
        .into_iter()
        .map(|i| {
            let broadcast = match &i.addr {
                if_addrs::IfAddr::V4(v4) => v4.broadcast,
                if_addrs::IfAddr::V6(_) => None,
            };
            Interface {
                wireless: is_wireless(&i.name),
                loopback: i.is_loopback(),
                ip: i.ip(),
                broadcast,
                name: i.name,
            }
        })
        .collect();
    out.sort_by(|a, b| (a.ip.is_ipv6(), &a.name).cmp(&(b.ip.is_ipv6(), &b.name)));
    out
}

fn sys_class_net(dev: &str, what: &str) -> bool {
    !dev.contains('/') && Path::new("/sys/class/net").join(dev).join(what).exists()
}

fn is_wireless(dev: &str) -> bool {
    sys_class_net(dev, "wireless") || sys_class_net(dev, "phy80211")
}

fn is_vpn(dev: &str) -> bool {
    const PREFIXES: [&str; 9] = [
        "tun",
        "tap",
        "wg",
        "ppp",
        "tailscale",
        "zt",
        "nordlynx",
        "proton",
        "utun",
    ];
    PREFIXES.iter().any(|p| dev.starts_with(p)) || sys_class_net(dev, "tun_flags")
}

/// The main table's routes (`/proc/net/route`): the default route, and a route that covers
/// 224.0.0.0 other than the default. `vpn` says whether a device is a tunnel.
pub fn parse_routes(text: &str, vpn: impl Fn(&str) -> bool) -> Routes {
    let mut routes = Routes::default();
    let hex = |s: &str| {
        u32::from_str_radix(s, 16)
            .ok()
            .map(|v| Ipv4Addr::from(v.to_le_bytes()))
    };
    for line in text.lines().skip(1) {
        let cols: Vec<&str> = line.split_whitespace().collect();
        let (Some(dev), Some(dst), Some(flags), Some(mask)) = (
            cols.first(),
            cols.get(1).and_then(|s| hex(s)),
            cols.get(3).and_then(|s| u16::from_str_radix(s, 16).ok()),
            cols.get(7).and_then(|s| hex(s)),
        ) else {
            continue;
        };
        const RTF_UP: u16 = 1;
        if flags & RTF_UP == 0 {
            continue;
        }
        if mask.is_unspecified() {
            if routes.default_dev.is_none() {
                routes.default_dev = Some((*dev).to_owned());
                routes.default_is_vpn = vpn(dev);
            }
        } else if (u32::from(Ipv4Addr::new(224, 0, 0, 0)) & u32::from(mask)) == u32::from(dst)
            && routes.multicast_dev.is_none()
        {
            routes.multicast_dev = Some((*dev).to_owned());
        }
    }
    routes
}

/// Binds `port` as lanchat would (`shared`: with SO_REUSEADDR and SO_REUSEPORT, like the
/// discovery socket), then looks for who holds it.
fn check_port(
    service: Service,
    transport: Transport,
    bind: IpAddr,
    port: u16,
    shared: bool,
) -> PortCheck {
    let state = match try_bind(transport, bind, port, shared) {
        Ok(()) => PortState::Free,
        Err(e) if e.kind() == io::ErrorKind::AddrInUse => PortState::Busy,
        Err(e) => PortState::Failed(e.to_string()),
    };
    let (holders, hidden) = holders(transport, port);
    PortCheck {
        service,
        transport,
        port,
        state,
        holders,
        hidden,
    }
}

fn try_bind(transport: Transport, bind: IpAddr, port: u16, shared: bool) -> io::Result<()> {
    use socket2::{Domain, Protocol, Socket, Type};
    let addr = SocketAddr::new(bind, port);
    let (ty, proto) = match transport {
        Transport::Udp => (Type::DGRAM, Protocol::UDP),
        Transport::Tcp => (Type::STREAM, Protocol::TCP),
    };
    let socket = Socket::new(Domain::for_address(addr), ty, Some(proto))?;
    if shared {
        socket.set_reuse_address(true)?;
        socket.set_reuse_port(true)?;
    }
    socket.bind(&addr.into())?;
    if transport == Transport::Tcp {
        socket.listen(1)?;
    }
    Ok(())
}

/// The socket inodes bound to local `port` in a `/proc/net/{udp,tcp}[6]` table.
pub fn socket_inodes(table: &str, port: u16) -> Vec<u64> {
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let local_port = cols.get(1)?.rsplit(':').next()?;
            let inode = cols.get(9)?.parse::<u64>().ok()?;
            (u16::from_str_radix(local_port, 16).ok()? == port && inode != 0).then_some(inode)
        })
        .collect()
}

/// The processes with a socket on `port`, and how many such sockets belong to processes
/// this user cannot look into. This process is left out.
fn holders(transport: Transport, port: u16) -> (Vec<Holder>, usize) {
    let tables = match transport {
        Transport::Udp => ["/proc/net/udp", "/proc/net/udp6"],
        Transport::Tcp => ["/proc/net/tcp", "/proc/net/tcp6"],
    };
    let mut inodes: Vec<u64> = tables
        .iter()
        .filter_map(|t| std::fs::read_to_string(t).ok())
        .flat_map(|t| socket_inodes(&t, port))
        .collect();
    inodes.sort_unstable();
    inodes.dedup();
    if inodes.is_empty() {
        return (Vec::new(), 0);
    }
    let me = std::process::id();
    let mut found: Vec<u64> = Vec::new();
    let mut holders = Vec::new();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return (Vec::new(), inodes.len());
    };
    for entry in procs.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue; // not ours to look at
        };
        let mut holds = false;
        for fd in fds.flatten() {
            let Ok(link) = std::fs::read_link(fd.path()) else {
                continue;
            };
            let inode = link
                .to_str()
                .and_then(|l| l.strip_prefix("socket:["))
                .and_then(|l| l.strip_suffix(']'))
                .and_then(|l| l.parse::<u64>().ok());
            if let Some(inode) = inode
                && inodes.contains(&inode)
            {
                found.push(inode);
                holds = true;
            }
        }
        if holds && pid != me {
            let comm = std::fs::read_to_string(entry.path().join("comm"))
                .map(|c| c.trim().to_owned())
                .unwrap_or_default();
            holders.push(Holder { pid, comm });
        }
    }
    found.sort_unstable();
    found.dedup();
    holders.sort_by_key(|h| h.pid);
    (holders, inodes.len() - found.len())
}

/// The self-test's datagram: a native magic with version 0, which every lanchat drops as
/// malformed, then a mark, a nonce and which probe it is.
fn probe_payload(nonce: u64, index: u16) -> Vec<u8> {
    let mut p = wire::MAGIC.to_vec();
    p.push(0);
    p.extend_from_slice(b"doctor");
    p.extend_from_slice(&nonce.to_be_bytes());
    p.extend_from_slice(&index.to_be_bytes());
    p
}

/// Sends a probe to every place beacons go, from sockets opened as the runtime opens them,
/// and listens for `listen`.
fn self_test(bind: IpAddr, port: u16, listen: Duration) -> SelfTest {
    let mut test = SelfTest {
        listened: listen,
        ..SelfTest::default()
    };
    if let IpAddr::V6(v6) = bind
        && !v6.is_unspecified()
        && !v6.is_loopback()
    {
        test.error = Some("discovery is IPv4 only".to_owned());
        return test;
    }
    let ifaces = net::interfaces(bind);
    let (main, others) = match net::discovery_sockets_std(bind, port, &ifaces) {
        Ok(s) => s,
        Err(e) => {
            test.error = Some(e.to_string());
            return test;
        }
    };
    let own: Vec<IpAddr> = if_addrs::get_if_addrs()
        .unwrap_or_default()
        .iter()
        .map(if_addrs::Interface::ip)
        .collect();
    let nonce = now_ms().cast_unsigned() ^ (u64::from(std::process::id()) << 40);
    let targets = net::beacon_targets(&ifaces, port);
    for (i, target) in targets.iter().enumerate() {
        let index = u16::try_from(i).unwrap_or(u16::MAX);
        let sent = net::send_to_target(SockRef::from(&main), target, &probe_payload(nonce, index));
        test.probes.push(Probe {
            to: *target.dst.ip(),
            via: target.multicast_if,
            error: sent.err().map(|e| e.to_string()),
            back: false,
        });
    }
    let sockets: Vec<std::net::UdpSocket> = std::iter::once(main)
        .chain(others)
        .map(Into::into)
        .collect();
    let mark = probe_payload(nonce, 0);
    let mark = &mark[..mark.len() - 2];
    let deadline = Instant::now() + listen;
    let mut buf = vec![0u8; 2048];
    while Instant::now() < deadline {
        for s in &sockets {
            while let Ok((n, from)) = s.recv_from(&mut buf) {
                let data = &buf[..n];
                if let Some(rest) = data.strip_prefix(mark) {
                    if let Ok(index) = <[u8; 2]>::try_from(rest) {
                        let index = usize::from(u16::from_be_bytes(index));
                        if let Some(p) = test.probes.get_mut(index) {
                            p.back = true;
                        }
                    }
                    continue;
                }
                if !test.heard.iter().any(|h| h.from == from) {
                    test.heard.push(Heard {
                        from,
                        lanchat: wire::is_native(data),
                        this_host: own.contains(&from.ip()),
                    });
                }
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    test
}

/// Runs a firewall tool; `None` if it is not installed.
fn run_tool(tool: &str, args: &[&str]) -> Option<Result<String, String>> {
    match std::process::Command::new(tool)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
    {
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => Some(Err(e.to_string())),
        Ok(out) if out.status.success() => Some(Ok(String::from_utf8_lossy(&out.stdout).into())),
        Ok(out) => Some(Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())),
    }
}

fn firewall(ports: &[u16]) -> Firewall {
    let mut checks = Vec::new();
    for (tool, args) in [("nft", &["list", "ruleset"][..]), ("iptables", &["-S"][..])] {
        match run_tool(tool, args) {
            None => {}
            Some(Ok(text)) => checks.push(FirewallCheck::Read {
                tool: tool.to_owned(),
                drops: firewall_drops(&text, ports),
            }),
            Some(Err(e)) => checks.push(FirewallCheck::Unreadable(format!("{tool}: {e}"))),
        }
    }
    if checks.is_empty() {
        checks.push(FirewallCheck::NoTool);
    }
    let ufw = std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|d| d.join("ufw").is_file()));
    Firewall { checks, ufw }
}

/// The lines of a ruleset (`nft list ruleset` or `iptables -S`) that drop or reject one of
/// `ports`, and an input policy of drop that no line accepting one of them makes up for.
pub fn firewall_drops(text: &str, ports: &[u16]) -> Vec<String> {
    let numbers = |line: &str| -> Vec<u16> {
        line.split(|c: char| !c.is_ascii_digit())
            .filter_map(|n| n.parse().ok())
            .collect()
    };
    let mentions =
        |line: &str| line.contains("dport") && numbers(line).iter().any(|n| ports.contains(n));
    let lower = |line: &str| line.to_ascii_lowercase();
    let mut out = Vec::new();
    let mut accepted = false;
    let mut policy = None;
    for line in text.lines().map(str::trim) {
        let l = lower(line);
        let drops = l.contains("drop") || l.contains("reject");
        if mentions(line) && drops {
            out.push(line.to_owned());
        }
        if mentions(line) && l.contains("accept") {
            accepted = true;
        }
        if l.starts_with("-p input drop") || (l.contains("hook input") && l.contains("policy drop"))
        {
            policy.get_or_insert_with(|| line.to_owned());
        }
    }
    if let Some(p) = policy
        && !accepted
    {
        out.push(p);
    }
    out
}

/// Whether `dir`'s lock is held by another process, and its pid if it wrote one. Nothing is
/// created: with no lock file, nobody holds it.
fn lock_holder(dir: &Path) -> Option<Option<String>> {
    let path = dir.join(config::LOCK_FILE);
    let file = std::fs::File::open(&path).ok()?;
    match file.try_lock() {
        Ok(()) => None,
        Err(std::fs::TryLockError::WouldBlock) => {
            let pid = std::fs::read_to_string(&path)
                .map(|p| p.trim().to_owned())
                .unwrap_or_default();
            Some((!pid.is_empty()).then_some(pid))
        }
        Err(std::fs::TryLockError::Error(_)) => None,
    }
}

fn data_dir(settings: &Settings) -> DataDir {
    let locked_by = lock_holder(&settings.data_dir);
    let known = config::load_known_peers(&settings.config_dir)
        .map(|peers| {
            peers
                .into_iter()
                .rev()
                .map(|p| SeenPeer {
                    name: p.name,
                    addr: p.ip.map_or_else(|| "-".to_owned(), |ip| ip.to_string()),
                    last_seen_ms: None,
                })
                .collect()
        })
        .map_err(|e| e.to_string());
    let db = settings.data_dir.join(super::DATABASE_FILE);
    let history = if locked_by.is_some() {
        HistoryState::Locked
    } else if !db.exists() {
        HistoryState::Missing
    } else {
        match crate::store::Store::open_unverified(&db).and_then(|s| s.peers()) {
            Ok(rows) => HistoryState::Read(
                rows.into_iter()
                    .take(RECENT_PEERS)
                    .map(|r| SeenPeer {
                        name: r.name,
                        addr: r.addr.to_string(),
                        last_seen_ms: Some(r.last_seen_ms),
                    })
                    .collect(),
            ),
            Err(e) => HistoryState::Failed(e.to_string()),
        }
    };
    DataDir {
        locked_by,
        known,
        history,
    }
}

// ---------------------------------------------------------------------------------------
// Rendering

fn service_name(lang: Lang, s: Service) -> String {
    match s {
        Service::Unicast => tr!(lang, "doctor-service-unicast"),
        Service::Discovery => tr!(lang, "doctor-service-discovery"),
        Service::IpMsg => tr!(lang, "doctor-service-ipmsg"),
    }
}

fn transport_name(t: Transport) -> &'static str {
    match t {
        Transport::Udp => "UDP",
        Transport::Tcp => "TCP",
    }
}

fn holders_text(lang: Lang, holders: &[Holder], hidden: usize) -> String {
    let mut parts: Vec<String> = holders
        .iter()
        .map(|h| {
            tr!(
                lang,
                "doctor-holder",
                comm = sanitize_line(&h.comm),
                pid = h.pid
            )
        })
        .collect();
    if hidden > 0 {
        parts.push(tr!(lang, "doctor-holder-hidden", n = hidden));
    }
    if parts.is_empty() {
        tr!(lang, "doctor-holder-unknown")
    } else {
        parts.join(", ")
    }
}

fn ago(lang: Lang, now_ms: i64, then_ms: i64) -> String {
    let mins = (now_ms - then_ms).max(0) / 60_000;
    if mins < 60 {
        tr!(lang, "doctor-ago-minutes", n = mins)
    } else if mins < 48 * 60 {
        tr!(lang, "doctor-ago-hours", n = mins / 60)
    } else {
        tr!(lang, "doctor-ago-days", n = mins / (24 * 60))
    }
}

fn render_peer(lang: Lang, now_ms: i64, p: &SeenPeer) -> String {
    let name = sanitize_line(&p.name);
    let addr = sanitize_line(&p.addr);
    match p.last_seen_ms {
        Some(t) => tr!(
            lang,
            "doctor-peer-seen",
            name = name,
            addr = addr,
            ago = ago(lang, now_ms, t)
        ),
        None => tr!(lang, "doctor-peer-known", name = name, addr = addr),
    }
}

/// Writes what was found and what it means.
pub fn render(lang: Lang, f: &Findings, causes: &[Cause], out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "{}", tr!(lang, "doctor-title"))?;
    writeln!(out)?;

    writeln!(out, "{}", tr!(lang, "doctor-section-interfaces"))?;
    if f.interfaces.is_empty() {
        writeln!(out, "  {}", tr!(lang, "doctor-no-interfaces"))?;
    }
    for i in &f.interfaces {
        let mut line = format!("  {:<10} {}", sanitize_line(&i.name), i.ip);
        if let Some(b) = i.broadcast {
            line.push_str(&format!(
                "  {}",
                tr!(lang, "doctor-broadcast", addr = b.to_string())
            ));
        }
        if i.loopback {
            let tag = tr!(lang, "doctor-loopback");
            line.push_str(&format!("  {}", tr!(lang, "doctor-tag", tag = tag)));
        }
        if i.wireless {
            let tag = tr!(lang, "doctor-wireless");
            line.push_str(&format!("  {}", tr!(lang, "doctor-tag", tag = tag)));
        }
        writeln!(out, "{line}")?;
    }
    writeln!(
        out,
        "  {}",
        tr!(lang, "doctor-bind", addr = f.bind.to_string())
    )?;
    writeln!(out)?;

    writeln!(out, "{}", tr!(lang, "doctor-section-routes"))?;
    match &f.routes {
        None => writeln!(out, "  {}", tr!(lang, "doctor-routes-unreadable"))?,
        Some(r) => {
            let default = match &r.default_dev {
                Some(dev) if r.default_is_vpn => {
                    tr!(lang, "doctor-route-default-vpn", dev = sanitize_line(dev))
                }
                Some(dev) => tr!(lang, "doctor-route-default", dev = sanitize_line(dev)),
                None => tr!(lang, "doctor-route-no-default"),
            };
            writeln!(out, "  {default}")?;
            let multicast = match (&r.multicast_dev, &r.default_dev) {
                (Some(dev), _) => tr!(lang, "doctor-route-multicast", dev = sanitize_line(dev)),
                (None, Some(_)) => tr!(lang, "doctor-route-multicast-default"),
                (None, None) => tr!(lang, "doctor-route-multicast-none"),
            };
            writeln!(out, "  {multicast}")?;
            if r.multicast_dev.is_none() && r.default_dev.is_none() {
                let dev = f
                    .interfaces
                    .iter()
                    .find(|i| !i.loopback && i.ip.is_ipv4())
                    .map_or_else(|| "eth0".to_owned(), |i| sanitize_line(&i.name));
                writeln!(
                    out,
                    "    {}",
                    tr!(lang, "doctor-route-multicast-note", dev = dev)
                )?;
            }
        }
    }
    writeln!(out)?;

    writeln!(out, "{}", tr!(lang, "doctor-section-ports"))?;
    for p in &f.ports {
        let (transport, service) = (transport_name(p.transport), service_name(lang, p.service));
        let state = match &p.state {
            PortState::Free if p.holders.is_empty() => tr!(lang, "doctor-port-free"),
            PortState::Free => tr!(
                lang,
                "doctor-port-shared",
                who = holders_text(lang, &p.holders, 0)
            ),
            PortState::Busy => tr!(
                lang,
                "doctor-port-busy",
                who = holders_text(lang, &p.holders, p.hidden)
            ),
            PortState::Failed(e) => tr!(lang, "doctor-port-failed", error = e.clone()),
        };
        let line = tr!(
            lang,
            "doctor-port-line",
            transport = transport,
            port = p.port,
            service = service,
            state = state
        );
        writeln!(out, "  {line}")?;
    }
    writeln!(out)?;

    let t = &f.self_test;
    writeln!(
        out,
        "{}",
        tr!(
            lang,
            "doctor-section-selftest",
            port = f.discovery_port,
            ms = u64::try_from(t.listened.as_millis()).unwrap_or(u64::MAX)
        )
    )?;
    if let Some(e) = &t.error {
        writeln!(
            out,
            "  {}",
            tr!(lang, "doctor-selftest-error", error = e.clone())
        )?;
    }
    for p in &t.probes {
        let to = match p.via {
            Some(via) => tr!(
                lang,
                "doctor-probe-multicast",
                group = p.to.to_string(),
                via = via.to_string()
            ),
            None => tr!(lang, "doctor-probe-broadcast", addr = p.to.to_string()),
        };
        let result = match (&p.error, p.back) {
            (Some(e), _) => tr!(lang, "doctor-probe-not-sent", error = e.clone()),
            (None, true) => tr!(lang, "doctor-probe-back"),
            (None, false) => tr!(lang, "doctor-probe-lost"),
        };
        writeln!(
            out,
            "  {}",
            tr!(lang, "doctor-probe-result", to = to, result = result)
        )?;
    }
    if t.error.is_none() {
        if t.heard.is_empty() {
            writeln!(out, "  {}", tr!(lang, "doctor-heard-nobody"))?;
        }
        for h in &t.heard {
            let from = h.from.to_string();
            let line = match (h.this_host, h.lanchat) {
                (true, _) => tr!(lang, "doctor-heard-this-host", from = from),
                (false, true) => tr!(lang, "doctor-heard-lanchat", from = from),
                (false, false) => tr!(lang, "doctor-heard-other", from = from),
            };
            writeln!(out, "  {line}")?;
        }
    }
    writeln!(out)?;

    writeln!(out, "{}", tr!(lang, "doctor-section-firewall"))?;
    for c in &f.firewall.checks {
        let line = match c {
            FirewallCheck::NoTool => tr!(lang, "doctor-firewall-no-tool"),
            FirewallCheck::Unreadable(e) => {
                tr!(lang, "doctor-firewall-unreadable", error = sanitize_line(e))
            }
            FirewallCheck::Read { tool, drops } if drops.is_empty() => {
                tr!(lang, "doctor-firewall-clear", tool = tool.clone())
            }
            FirewallCheck::Read { tool, drops } => tr!(
                lang,
                "doctor-firewall-drops",
                tool = tool.clone(),
                n = drops.len()
            ),
        };
        writeln!(out, "  {line}")?;
    }
    writeln!(out)?;

    writeln!(out, "{}", tr!(lang, "doctor-section-peers"))?;
    match &f.data.known {
        Ok(peers) if peers.is_empty() => writeln!(out, "  {}", tr!(lang, "doctor-known-none"))?,
        Ok(peers) => {
            writeln!(out, "  {}", tr!(lang, "doctor-known", n = peers.len()))?;
            for p in peers.iter().take(RECENT_PEERS) {
                writeln!(out, "    {}", render_peer(lang, f.now_ms, p))?;
            }
        }
        Err(e) => writeln!(
            out,
            "  {}",
            tr!(lang, "doctor-known-failed", error = sanitize_line(e))
        )?,
    }
    match &f.data.history {
        HistoryState::Missing => writeln!(out, "  {}", tr!(lang, "doctor-history-missing"))?,
        HistoryState::Locked => writeln!(out, "  {}", tr!(lang, "doctor-history-locked"))?,
        HistoryState::Failed(e) => writeln!(
            out,
            "  {}",
            tr!(lang, "doctor-history-failed", error = sanitize_line(e))
        )?,
        HistoryState::Read(peers) if peers.is_empty() => {
            writeln!(out, "  {}", tr!(lang, "doctor-history-none"))?;
        }
        HistoryState::Read(peers) => {
            writeln!(out, "  {}", tr!(lang, "doctor-history"))?;
            for p in peers {
                writeln!(out, "    {}", render_peer(lang, f.now_ms, p))?;
            }
        }
    }
    writeln!(out)?;

    if causes.is_empty() {
        writeln!(out, "{}", tr!(lang, "doctor-all-good"))?;
        return Ok(());
    }
    writeln!(out, "{}", tr!(lang, "doctor-section-causes"))?;
    for (n, c) in causes.iter().enumerate() {
        let (what, fix) = cause_text(lang, f, c);
        let mark = match c.severity() {
            Severity::Problem => tr!(lang, "doctor-problem"),
            Severity::Hint => tr!(lang, "doctor-hint"),
        };
        writeln!(
            out,
            "{}",
            tr!(
                lang,
                "doctor-cause-item",
                n = n + 1,
                mark = mark,
                what = what
            )
        )?;
        writeln!(out, "   {}", tr!(lang, "doctor-fix", fix = fix))?;
    }
    Ok(())
}

/// A cause in words, and its fix.
fn cause_text(lang: Lang, f: &Findings, c: &Cause) -> (String, String) {
    let ports = [f.discovery_port, f.unicast_port]
        .iter()
        .filter(|&&p| p != 0)
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(",");
    match c {
        Cause::DiscoveryOff => (
            tr!(lang, "doctor-cause-discovery-off"),
            tr!(lang, "doctor-fix-discovery-off"),
        ),
        Cause::BoundToLoopback { bind } => (
            tr!(lang, "doctor-cause-loopback", addr = bind.to_string()),
            tr!(lang, "doctor-fix-loopback"),
        ),
        Cause::OnlyLoopback => (
            tr!(lang, "doctor-cause-only-loopback"),
            tr!(lang, "doctor-fix-only-loopback"),
        ),
        Cause::DataDirLocked { pid } => (
            tr!(
                lang,
                "doctor-cause-locked",
                pid = pid.clone().unwrap_or_else(|| "?".to_owned())
            ),
            tr!(lang, "doctor-fix-second-instance"),
        ),
        Cause::SecondInstance { port, holders } => (
            tr!(
                lang,
                "doctor-cause-second-instance",
                port = *port,
                who = holders_text(lang, holders, 0)
            ),
            tr!(lang, "doctor-fix-second-instance"),
        ),
        Cause::PortHeld {
            service,
            transport,
            port,
            holders,
            hidden,
        } => (
            tr!(
                lang,
                "doctor-cause-port-held",
                transport = transport_name(*transport),
                port = *port,
                service = service_name(lang, *service),
                who = holders_text(lang, holders, *hidden)
            ),
            match (service, holders.first()) {
                (Service::Discovery, _) => tr!(lang, "doctor-fix-discovery-port"),
                (_, Some(h)) => tr!(
                    lang,
                    "doctor-fix-port-held",
                    pid = h.pid,
                    comm = sanitize_line(&h.comm)
                ),
                (_, None) => tr!(lang, "doctor-fix-port-other"),
            },
        ),
        Cause::PortError { port, error } => (
            tr!(
                lang,
                "doctor-cause-port-error",
                port = *port,
                error = error.clone()
            ),
            tr!(lang, "doctor-fix-port-other"),
        ),
        Cause::SelfTestFailed { error } => (
            tr!(lang, "doctor-cause-selftest", error = error.clone()),
            tr!(lang, "doctor-fix-selftest"),
        ),
        Cause::NoMulticastRoute { dev } => (
            tr!(lang, "doctor-cause-no-multicast-route"),
            tr!(lang, "doctor-fix-multicast-route", dev = sanitize_line(dev)),
        ),
        Cause::BeaconsLost { lost } => (
            tr!(
                lang,
                "doctor-cause-beacons-lost",
                list = lost
                    .iter()
                    .map(|p| p.to.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            firewall_fix(lang, f.firewall.ufw, &ports),
        ),
        Cause::Firewall { tool, lines, ufw } => (
            tr!(
                lang,
                "doctor-cause-firewall",
                tool = tool.clone(),
                rules = lines
                    .iter()
                    .map(|l| sanitize_line(l))
                    .collect::<Vec<_>>()
                    .join(" | ")
            ),
            firewall_fix(lang, *ufw, &ports),
        ),
        Cause::VpnRoute { dev } => (
            tr!(lang, "doctor-cause-vpn", dev = sanitize_line(dev)),
            tr!(lang, "doctor-fix-vpn"),
        ),
        Cause::NobodyHeard {
            wireless: Some(dev),
        } => (
            tr!(lang, "doctor-cause-isolation", dev = sanitize_line(dev)),
            tr!(lang, "doctor-fix-isolation"),
        ),
        Cause::NobodyHeard { wireless: None } => (
            tr!(lang, "doctor-cause-nobody-heard"),
            tr!(lang, "doctor-fix-nobody-heard"),
        ),
    }
}

fn firewall_fix(lang: Lang, ufw: bool, ports: &str) -> String {
    if ufw {
        tr!(lang, "doctor-fix-firewall-ufw", ports = ports.to_owned())
    } else {
        tr!(
            lang,
            "doctor-fix-firewall-iptables",
            ports = ports.to_owned()
        )
    }
}

/// `lanchat doctor`: probes, diagnoses and writes the report. Returns the causes found.
pub fn run(settings: &Settings, lang: Lang, out: &mut impl Write) -> anyhow::Result<Vec<Cause>> {
    run_with(settings, lang, DEFAULT_LISTEN, out)
}

/// [`run`], listening `listen` for beacons (the runtime beacons every 30 s, so listening
/// longer hears peers that are up).
pub fn run_with(
    settings: &Settings,
    lang: Lang,
    listen: Duration,
    out: &mut impl Write,
) -> anyhow::Result<Vec<Cause>> {
    let findings = probe(settings, listen);
    let causes = diagnose(&findings);
    render(lang, &findings, &causes, out)?;
    out.flush()?;
    Ok(causes)
}

#[cfg(test)]
mod tests;
