#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;

fn v4(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

fn iface(name: &str, ip: &str, broadcast: Option<&str>) -> Interface {
    let ip: IpAddr = ip.parse().unwrap();
    Interface {
        name: name.to_owned(),
        loopback: ip.is_loopback(),
        ip,
        broadcast: broadcast.map(v4),
        wireless: false,
    }
}

fn port(service: Service, transport: Transport, port: u16) -> PortCheck {
    PortCheck {
        service,
        transport,
        port,
        state: PortState::Free,
        holders: Vec::new(),
        hidden: 0,
    }
}

fn probe(to: &str, via: Option<&str>, back: bool) -> Probe {
    Probe {
        to: v4(to),
        via: via.map(v4),
        error: None,
        back,
    }
}

/// A host where everything works: a LAN interface, a default route, free ports, probes
/// that came back, and another lanchat heard.
fn healthy() -> Findings {
    Findings {
        bind: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        discovery: true,
        unicast_port: 47475,
        discovery_port: 47474,
        interfaces: vec![
            iface("lo", "127.0.0.1", Some("127.255.255.255")),
            iface("eth0", "192.168.1.5", Some("192.168.1.255")),
        ],
        routes: Some(Routes {
            default_dev: Some("eth0".to_owned()),
            default_is_vpn: false,
            multicast_dev: None,
        }),
        ports: vec![
            port(Service::Unicast, Transport::Udp, 47475),
            port(Service::Discovery, Transport::Udp, 47474),
            port(Service::IpMsg, Transport::Udp, 2425),
            port(Service::IpMsg, Transport::Tcp, 2425),
        ],
        self_test: SelfTest {
            error: None,
            probes: vec![
                probe("239.255.76.67", Some("127.0.0.1"), true),
                probe("127.255.255.255", None, true),
                probe("239.255.76.67", Some("192.168.1.5"), true),
                probe("192.168.1.255", None, true),
            ],
            heard: vec![Heard {
                from: "192.168.1.7:47474".parse().unwrap(),
                lanchat: true,
                this_host: false,
            }],
            listened: Duration::from_secs(1),
        },
        firewall: Firewall {
            checks: vec![FirewallCheck::NoTool],
            ufw: false,
        },
        data: DataDir {
            locked_by: None,
            known: Ok(Vec::new()),
            history: HistoryState::Missing,
        },
        now_ms: 1_000_000,
    }
}

#[test]
fn a_healthy_host_has_no_cause() {
    assert_eq!(diagnose(&healthy()), []);
}

#[test]
fn a_port_held_by_another_program_names_it() {
    let mut f = healthy();
    f.ports[0].state = PortState::Busy;
    f.ports[0].holders = vec![Holder {
        pid: 4242,
        comm: "nc".to_owned(),
    }];
    assert_eq!(
        diagnose(&f),
        [Cause::PortHeld {
            service: Service::Unicast,
            transport: Transport::Udp,
            port: 47475,
            holders: vec![Holder {
                pid: 4242,
                comm: "nc".to_owned()
            }],
            hidden: 0,
        }]
    );
}

#[test]
fn a_second_lanchat_on_the_unicast_port_is_its_own_cause() {
    let mut f = healthy();
    f.ports[0].state = PortState::Busy;
    let holder = Holder {
        pid: 77,
        comm: "lanchat".to_owned(),
    };
    f.ports[0].holders = vec![holder.clone()];
    assert_eq!(
        diagnose(&f),
        [Cause::SecondInstance {
            port: 47475,
            holders: vec![holder]
        }]
    );
}

#[test]
fn a_held_discovery_port_is_said_once_and_ipmsg_is_only_a_finding() {
    let mut f = healthy();
    f.ports[1].state = PortState::Busy;
    f.ports[1].hidden = 1;
    f.ports[3].state = PortState::Busy; // FeiQ on TCP 2425: not lanchat's business
    f.self_test = SelfTest {
        error: Some("Address in use".to_owned()),
        ..SelfTest::default()
    };
    assert_eq!(
        diagnose(&f),
        [Cause::PortHeld {
            service: Service::Discovery,
            transport: Transport::Udp,
            port: 47474,
            holders: Vec::new(),
            hidden: 1,
        }]
    );
}

#[test]
fn a_missing_multicast_route_matters_only_when_multicast_fails() {
    let mut f = healthy();
    f.routes = Some(Routes::default());
    // Beacons still came back (lanchat sends on each interface by name): no cause.
    assert_eq!(diagnose(&f), []);
    // The group probe on the LAN did not come back: the route is the suspect.
    f.self_test.probes[2].back = false;
    assert_eq!(
        diagnose(&f),
        [Cause::NoMulticastRoute {
            dev: "eth0".to_owned()
        }]
    );
    // With a default route, the same loss is a loss, not a routing matter.
    f.routes = healthy().routes;
    assert_eq!(
        diagnose(&f),
        [Cause::BeaconsLost {
            lost: vec![probe("239.255.76.67", Some("192.168.1.5"), false)]
        }]
    );
}

#[test]
fn a_probe_that_could_not_be_sent_is_lost() {
    let mut f = healthy();
    f.self_test.probes[3].error = Some("Network is unreachable".to_owned());
    let causes = diagnose(&f);
    assert!(
        matches!(&causes[..], [Cause::BeaconsLost { lost }] if lost.len() == 1 && lost[0].to == v4("192.168.1.255")),
        "{causes:?}"
    );
}

#[test]
fn nobody_heard_points_at_isolation_on_wifi() {
    let mut f = healthy();
    f.self_test.heard = vec![Heard {
        from: "192.168.1.5:47474".parse().unwrap(),
        lanchat: true,
        this_host: true, // another instance here does not count
    }];
    assert_eq!(diagnose(&f), [Cause::NobodyHeard { wireless: None }]);
    f.interfaces[1].name = "wlan0".to_owned();
    f.interfaces[1].wireless = true;
    assert_eq!(
        diagnose(&f),
        [Cause::NobodyHeard {
            wireless: Some("wlan0".to_owned())
        }]
    );
}

#[test]
fn only_loopback_is_a_problem_and_not_isolation() {
    let mut f = healthy();
    f.interfaces.truncate(1);
    f.routes = Some(Routes::default());
    f.self_test.probes.truncate(2);
    f.self_test.heard.clear();
    assert_eq!(diagnose(&f), [Cause::OnlyLoopback]);
}

#[test]
fn settings_that_keep_peers_away() {
    let mut f = healthy();
    f.bind = IpAddr::V4(Ipv4Addr::LOCALHOST);
    f.discovery = false;
    f.data.locked_by = Some(Some("99".to_owned()));
    assert_eq!(
        diagnose(&f),
        [
            Cause::DiscoveryOff,
            Cause::BoundToLoopback { bind: f.bind },
            Cause::DataDirLocked {
                pid: Some("99".to_owned())
            },
        ]
    );
}

#[test]
fn firewall_drops_and_vpn_routes_with_problems_before_hints() {
    let mut f = healthy();
    f.routes = Some(Routes {
        default_dev: Some("wg0".to_owned()),
        default_is_vpn: true,
        multicast_dev: None,
    });
    f.firewall = Firewall {
        checks: vec![FirewallCheck::Read {
            tool: "nft".to_owned(),
            drops: vec!["udp dport 47474 drop".to_owned()],
        }],
        ufw: true,
    };
    assert_eq!(
        diagnose(&f),
        [
            Cause::Firewall {
                tool: "nft".to_owned(),
                lines: vec!["udp dport 47474 drop".to_owned()],
                ufw: true
            },
            Cause::VpnRoute {
                dev: "wg0".to_owned()
            },
        ]
    );
}

#[test]
fn routes_are_read_from_proc_net_route() {
    let text = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
                wg0\t00000000\t00000000\t0001\t0\t0\t0\t00000000\t0\t0\t0\n\
                eth0\t0001A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n\
                eth0\t000000E0\t00000000\t0001\t0\t0\t0\t000000F0\t0\t0\t0\n";
    let r = parse_routes(text, |d| d.starts_with("wg"));
    assert_eq!(
        r,
        Routes {
            default_dev: Some("wg0".to_owned()),
            default_is_vpn: true,
            multicast_dev: Some("eth0".to_owned()),
        }
    );
    let none = parse_routes(
        "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\n\
         v0\t0000090A\t00000000\t0001\t0\t0\t0\t00FFFFFF\n",
        |_| false,
    );
    assert_eq!(none, Routes::default());
}

#[test]
fn socket_inodes_match_the_local_port_only() {
    let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n\
  1: 00000000:B973 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 31337 2 0000000000000000 0\n\
  2: 0100007F:0979 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 555 2 0000000000000000 0\n\
  3: 0100007F:1234 0100007F:B973 01 00000000:00000000 00:00000000 00000000     0        0 777 2 0000000000000000 0\n";
    assert_eq!(socket_inodes(table, 47475), [31337]);
    assert_eq!(socket_inodes(table, 2425), [555]);
    assert_eq!(socket_inodes(table, 9), Vec::<u64>::new());
}

#[test]
fn firewall_rules_that_drop_the_ports_are_found() {
    let ipt = "-P INPUT ACCEPT\n-A INPUT -p udp -m udp --dport 47475 -j DROP\n\
               -A INPUT -p tcp --dport 22 -j DROP\n";
    assert_eq!(
        firewall_drops(ipt, &[47474, 47475]),
        ["-A INPUT -p udp -m udp --dport 47475 -j DROP"]
    );
    let policy = "-P INPUT DROP\n-A INPUT -p tcp --dport 22 -j ACCEPT\n";
    assert_eq!(firewall_drops(policy, &[47474, 47475]), ["-P INPUT DROP"]);
    let allowed = "-P INPUT DROP\n-A INPUT -p udp -m multiport --dports 47474,47475 -j ACCEPT\n";
    assert_eq!(
        firewall_drops(allowed, &[47474, 47475]),
        Vec::<String>::new()
    );
    let nft = "table inet filter {\n chain input {\n  type filter hook input priority filter; policy accept;\n  udp dport { 47474, 47475 } reject\n }\n}\n";
    assert_eq!(
        firewall_drops(nft, &[47474, 47475]),
        ["udp dport { 47474, 47475 } reject"]
    );
}

/// Every cause, for the renderer.
fn every_cause() -> Vec<Cause> {
    vec![
        Cause::DiscoveryOff,
        Cause::BoundToLoopback {
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
        },
        Cause::OnlyLoopback,
        Cause::DataDirLocked { pid: None },
        Cause::SecondInstance {
            port: 47475,
            holders: vec![Holder {
                pid: 1,
                comm: "lanchat".to_owned(),
            }],
        },
        Cause::PortHeld {
            service: Service::Unicast,
            transport: Transport::Udp,
            port: 47475,
            holders: vec![Holder {
                pid: 2,
                comm: "evil\u{1b}[2J".to_owned(),
            }],
            hidden: 2,
        },
        Cause::PortError {
            port: 1,
            error: "x".to_owned(),
        },
        Cause::SelfTestFailed {
            error: "y".to_owned(),
        },
        Cause::NoMulticastRoute {
            dev: "eth0".to_owned(),
        },
        Cause::BeaconsLost {
            lost: vec![probe("192.168.1.255", None, false)],
        },
        Cause::Firewall {
            tool: "nft".to_owned(),
            lines: vec!["drop".to_owned()],
            ufw: false,
        },
        Cause::VpnRoute {
            dev: "tun0".to_owned(),
        },
        Cause::NobodyHeard { wireless: None },
        Cause::NobodyHeard {
            wireless: Some("wlan0".to_owned()),
        },
    ]
}

#[test]
fn every_cause_renders_in_both_languages_with_no_raw_id_or_escape() {
    let mut f = healthy();
    f.data.known = Ok(vec![SeenPeer {
        name: "bob\u{1b}]0;x\u{7}".to_owned(),
        addr: "192.168.1.7".to_owned(),
        last_seen_ms: None,
    }]);
    f.data.history = HistoryState::Read(vec![SeenPeer {
        name: "carol".to_owned(),
        addr: "192.168.1.8:47475".to_owned(),
        last_seen_ms: Some(1_000_000 - 3 * 3_600_000),
    }]);
    for lang in Lang::ALL {
        let mut out = Vec::new();
        render(lang, &f, &every_cause(), &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(!text.contains("doctor-"), "{lang}: a raw id in\n{text}");
        assert!(
            !text.contains('\u{1b}'),
            "{lang}: an escape reached the output"
        );
        assert!(text.contains("sudo ip route add 224.0.0.0/4 dev eth0"));
        assert!(text.contains("bind = \"0.0.0.0\""));
        assert!(text.contains("--data-dir"));
        assert!(text.contains("--dports 47474,47475"));
        assert!(text.contains("carol"));
    }
    let mut out = Vec::new();
    render(Lang::En, &f, &every_cause(), &mut out).unwrap();
    let en = String::from_utf8(out).unwrap();
    assert!(en.contains("3 hours ago"), "{en}");
    assert!(en.contains("in use by") || en.contains("(PID 2)"), "{en}");
}

#[test]
fn a_healthy_report_says_so() {
    let mut out = Vec::new();
    render(Lang::En, &healthy(), &[], &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("No problem found"), "{text}");
    assert!(
        text.contains("heard lanchat at 192.168.1.7:47474"),
        "{text}"
    );
}
