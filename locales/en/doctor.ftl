## en: doctor

doctor-title = lanchat doctor: why can't I see anyone?
doctor-section-interfaces = Interfaces
doctor-no-interfaces = none found
doctor-broadcast = broadcast { $addr }
doctor-loopback = loopback
doctor-wireless = Wi-Fi
doctor-bind = lanchat listens on { $addr }
doctor-section-routes = Routes
doctor-routes-unreadable = cannot read the routing table (/proc/net/route)
doctor-route-default = default route: through { $dev }
doctor-route-default-vpn = default route: through { $dev } (a VPN tunnel)
doctor-route-no-default = default route: none
doctor-route-multicast = multicast (224.0.0.0/4): through { $dev }
doctor-route-multicast-default = multicast (224.0.0.0/4): follows the default route
doctor-route-multicast-none = multicast (224.0.0.0/4): no route
doctor-route-multicast-note = lanchat picks the interface for its beacons itself and needs no such route; other multicast programs may want: sudo ip route add 224.0.0.0/4 dev { $dev }
doctor-section-ports = Ports
doctor-service-unicast = this lanchat
doctor-service-discovery = discovery, shared
doctor-service-ipmsg = IP Messenger
doctor-port-free = free
doctor-port-line = { $transport } { $port } ({ $service }): { $state }
doctor-port-shared = can be shared; also open in { $who }
doctor-port-busy = in use by { $who }
doctor-port-failed = cannot be used: { $error }
doctor-holder = { $comm } (PID { $pid })
doctor-holder-hidden = { $n ->
    [one] 1 process of another user
   *[other] { $n } processes of other users
}
doctor-holder-unknown = a process this user cannot see (try with sudo)
doctor-section-selftest = Beacon self-test on port { $port } (listening { $ms } ms)
doctor-selftest-error = could not open the discovery port: { $error }
doctor-probe-multicast = multicast { $group } from { $via }
doctor-probe-broadcast = broadcast { $addr }
doctor-probe-back = left and came back
doctor-probe-lost = sent, did not come back
doctor-probe-not-sent = not sent: { $error }
doctor-heard-nobody = heard nobody else
doctor-heard-this-host = heard another lanchat on this host at { $from }
doctor-heard-lanchat = heard lanchat at { $from }
doctor-heard-other = heard something (not lanchat) from { $from }
doctor-section-firewall = Firewall
doctor-firewall-no-tool = not checked: neither nft nor iptables is installed
doctor-firewall-unreadable = cannot read the rules ({ $error }); run with sudo to check them
doctor-firewall-clear = { $tool }: no rule seen dropping lanchat's ports
doctor-firewall-drops = { $tool }: { $n ->
    [one] 1 rule drops
   *[other] { $n } rules drop
} lanchat's ports
doctor-section-peers = Peers seen before
doctor-known-none = no keys met yet
doctor-known = { $n ->
    [one] 1 key met, last address:
   *[other] { $n } keys met, last addresses:
}
doctor-known-failed = cannot read known_peers: { $error }
doctor-history-missing = no message history yet
doctor-history-locked = history not read: another lanchat is using this data dir
doctor-history-failed = cannot read the history: { $error }
doctor-history-none = no peer in the history
doctor-history = heard most recently:
doctor-peer-seen = { $name } at { $addr }, { $ago }
doctor-peer-known = { $name } at { $addr }
doctor-ago-minutes = { $n ->
    [one] 1 minute ago
   *[other] { $n } minutes ago
}
doctor-ago-hours = { $n ->
    [one] 1 hour ago
   *[other] { $n } hours ago
}
doctor-ago-days = { $n ->
    [one] 1 day ago
   *[other] { $n } days ago
}
doctor-all-good = No problem found. If you still see nobody, ask the others to run `lanchat doctor`, or add a peer by address: lanchat --peer HOST:47475
doctor-section-causes = Likely causes
doctor-problem = problem
doctor-hint = check
doctor-fix = Fix: { $fix }
doctor-cause-discovery-off = Discovery is off, so lanchat neither announces itself nor looks for others.
doctor-fix-discovery-off = remove `discovery = false` from config.toml (or drop --no-discovery), or add peers with --peer HOST:47475
doctor-cause-loopback = lanchat is bound to { $addr }: only this host can reach it.
doctor-fix-loopback = put `bind = "0.0.0.0"` in config.toml (or start with --bind 0.0.0.0)
doctor-cause-only-loopback = This host has no network interface but loopback: there is nobody to see.
doctor-fix-only-loopback = connect to a network (cable or Wi-Fi), or bring the interface up: sudo ip link set DEV up
doctor-cause-locked = Another lanchat (PID { $pid }) is already running with this data dir; a second one will not start with it.
doctor-cause-second-instance = Another lanchat holds port { $port } ({ $who }): peers who know this host talk to that one.
doctor-fix-second-instance = use the lanchat that is running, or give this one its own data dir: lanchat --data-dir ~/lanchat-2
doctor-cause-port-held = { $transport } port { $port } ({ $service }) is in use by { $who }.
doctor-fix-port-held = stop { $comm } (kill { $pid }), or pick another port: lanchat --port 0
doctor-fix-port-other = pick another port: lanchat --port 0
doctor-fix-discovery-port = stop that program: every lanchat on a network must share one discovery port (--discovery-port changes it for all of them)
doctor-cause-port-error = Port { $port } cannot be used: { $error }
doctor-cause-selftest = The discovery port could not be opened: { $error }
doctor-fix-selftest = check the `bind` setting and the interfaces above, or add peers with --peer HOST:47475
doctor-cause-no-multicast-route = Beacons to the multicast group did not come back, and no route carries multicast.
doctor-fix-multicast-route = sudo ip route add 224.0.0.0/4 dev { $dev }
doctor-cause-beacons-lost = Beacons to { $list } did not come back: something on this host drops them.
doctor-fix-firewall-ufw = sudo ufw allow { $ports }/udp
doctor-fix-firewall-iptables = sudo iptables -I INPUT -p udp -m multiport --dports { $ports } -j ACCEPT
doctor-cause-firewall = The { $tool } firewall drops lanchat's ports: { $rules }
doctor-cause-vpn = The default route goes through the VPN interface { $dev }; a VPN that blocks the local network keeps peers out of reach.
doctor-fix-vpn = allow local network access in the VPN's settings, or disconnect it; peers by address still work: lanchat --peer HOST:47475
doctor-cause-isolation = Beacons leave and come back, but no other host was heard: the Wi-Fi ({ $dev }) may keep its clients apart (client or AP isolation).
doctor-fix-isolation = turn off client isolation in the router (often "AP isolation"), or use another network; `lanchat doctor --listen 35` listens through a whole beacon round
doctor-cause-nobody-heard = Beacons leave and come back, but no other host was heard: nobody else runs lanchat here, or the network keeps hosts apart.
doctor-fix-nobody-heard = start lanchat on another host and run `lanchat doctor --listen 35` (beacons come every 30 s), or add a peer by address: lanchat --peer HOST:47475

## How lines are put together: a note after an interface, a self-test's result, an item of
## the list of causes.
doctor-tag = ({ $tag })
doctor-probe-result = { $to }: { $result }
doctor-cause-item = { $n }. [{ $mark }] { $what }
