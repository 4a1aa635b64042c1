//! `lanchat doctor` in network namespaces the tests make: a port held by another process, a
//! network without a multicast route, a host alone on its link, and one that hears a peer.
//!
//! Everything runs inside private namespaces (`unshare -n`, and for the peer a named
//! namespace removed afterwards), so no datagram reaches a real network and the default
//! ports are free to use. Without root, `ip` or `unshare`, the tests say so and pass.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;

/// Whether this host can make network namespaces; prints why not when it cannot.
fn namespaces_available() -> bool {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("skipped: needs root to make network namespaces");
        return false;
    }
    let works = Command::new("unshare")
        .args(["-n", "ip", "link", "show", "lo"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !works {
        eprintln!("skipped: `unshare -n` or `ip` is missing or not permitted here");
    }
    works
}

/// What a shell script run in a fresh network namespace printed, and its own exit code.
/// `$BIN` is the lanchat binary and `$DIR` a temporary directory.
fn in_namespace(dir: &Path, script: &str) -> String {
    let out = Command::new("unshare")
        .args(["-n", "sh", "-c", script])
        .env("BIN", env!("CARGO_BIN_EXE_lanchat"))
        .env("DIR", dir)
        .env_remove("LANCHAT_DATA_DIR")
        .env_remove("LANCHAT_CONFIG")
        .env_remove("LANCHAT_CONFIG_DIR")
        .env("LC_ALL", "C")
        .output()
        .expect("unshare runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    eprintln!("{text}\n{}", String::from_utf8_lossy(&out.stderr));
    text
}

/// A value the script printed as `key=value`.
fn printed(text: &str, key: &str) -> String {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("no {key}= in\n{text}"))
        .to_owned()
}

/// Starts `$1` (a copy of lanchat) in pipe mode on the unicast port 47475, kept alive by a
/// FIFO the shell holds open, and waits until the port is bound.
const HOLD_PORT: &str = r#"
ip link set lo up
mkfifo "$DIR/fifo"
"$HOLDER" pipe --data-dir "$DIR/holder" --port 47475 --no-discovery < "$DIR/fifo" > /dev/null 2>&1 &
H=$!
exec 3> "$DIR/fifo"
for i in $(seq 200); do grep -qi ':B973 ' /proc/net/udp && break; sleep 0.05; done
echo "holder=$H"
"$BIN" --data-dir "$DIR/doctor" doctor --listen 0.3
echo "rc=$?"
kill $H
"#;

#[test]
fn a_port_held_by_another_program_is_named_with_its_pid() {
    if !namespaces_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let holder = dir.path().join("portholder");
    std::fs::copy(env!("CARGO_BIN_EXE_lanchat"), &holder).unwrap();
    let script = format!("HOLDER='{}'\n{HOLD_PORT}", holder.display());
    let out = in_namespace(dir.path(), &script);
    let pid = printed(&out, "holder");
    assert!(
        out.contains(&format!(
            "UDP port 47475 (this lanchat) is in use by portholder (PID {pid})"
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!("stop portholder (kill {pid})")),
        "{out}"
    );
    assert_eq!(printed(&out, "rc"), "1", "a problem makes a non-zero exit");
}

#[test]
fn a_second_lanchat_on_the_port_is_called_out() {
    if !namespaces_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let script = format!("HOLDER=\"$BIN\"\n{HOLD_PORT}");
    let out = in_namespace(dir.path(), &script);
    let pid = printed(&out, "holder");
    assert!(
        out.contains(&format!(
            "Another lanchat holds port 47475 (lanchat (PID {pid}))"
        )),
        "{out}"
    );
    assert!(out.contains("--data-dir"), "{out}");
    assert_eq!(printed(&out, "rc"), "1");
}

/// A namespace with a veth pair and an address on one end, nobody on the other, and no
/// route but the link's own; `extra`: commands to run before the doctor.
fn lonely_link(extra: &str) -> String {
    format!(
        r#"
ip link set lo up
ip link add v0 type veth peer name v1
ip addr add 10.77.0.1/24 brd + dev v0
ip link set v0 up
ip link set v1 up
{extra}
"$BIN" --data-dir "$DIR/doctor" doctor --listen 0.5
echo "rc=$?"
"#
    )
}

#[test]
fn no_multicast_route_is_reported_with_the_command_that_adds_one() {
    if !namespaces_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = in_namespace(dir.path(), &lonely_link(""));
    assert!(out.contains("multicast (224.0.0.0/4): no route"), "{out}");
    assert!(
        out.contains("sudo ip route add 224.0.0.0/4 dev v0"),
        "the fix names the interface: {out}"
    );
    // lanchat sends its beacons on each interface by name: they still leave and come back.
    assert!(
        out.contains("multicast 239.255.76.67 from 10.77.0.1: left and came back"),
        "{out}"
    );

    let dir = tempfile::tempdir().unwrap();
    let out = in_namespace(dir.path(), &lonely_link("ip route add 224.0.0.0/4 dev v0"));
    assert!(out.contains("multicast (224.0.0.0/4): through v0"), "{out}");
    assert!(!out.contains("sudo ip route add"), "{out}");
}

#[test]
fn alone_on_a_link_nobody_is_heard_and_with_only_loopback_there_is_no_network() {
    if !namespaces_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = in_namespace(dir.path(), &lonely_link(""));
    assert!(
        out.contains("broadcast 10.77.0.255: left and came back"),
        "{out}"
    );
    assert!(out.contains("heard nobody else"), "{out}");
    assert!(out.contains("no other host was heard"), "{out}");
    assert_eq!(printed(&out, "rc"), "0", "a hint alone is not a failure");

    let dir = tempfile::tempdir().unwrap();
    let out = in_namespace(
        dir.path(),
        "ip link set lo up\n\"$BIN\" --data-dir \"$DIR/doctor\" doctor --listen 0.3\necho \"rc=$?\"",
    );
    assert!(
        out.contains("This host has no network interface but loopback"),
        "{out}"
    );
    assert!(
        out.contains("broadcast 127.255.255.255: left and came back"),
        "{out}"
    );
    assert!(!out.contains("no other host was heard"), "{out}");
    assert_eq!(printed(&out, "rc"), "1");
}

/// Removes a named namespace when dropped.
struct NamedNs(String);

impl Drop for NamedNs {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

#[test]
fn a_peer_on_the_link_is_heard_and_nothing_is_blamed() {
    if !namespaces_available() {
        return;
    }
    let name = format!("lanchat-doctor-{}", std::process::id());
    let made = Command::new("ip")
        .args(["netns", "add", &name])
        .status()
        .is_ok_and(|s| s.success());
    if !made {
        eprintln!("skipped: `ip netns add` is not permitted here");
        return;
    }
    let _ns = NamedNs(name.clone());
    let dir = tempfile::tempdir().unwrap();
    // The peer: a lanchat in the other namespace, beaconing at start (at 0, 1 and 3 s).
    let script = format!(
        r#"
ip link set lo up
ip link add v0 type veth peer name v1
ip link set v1 netns {name}
ip addr add 10.78.0.1/24 brd + dev v0
ip link set v0 up
ip -n {name} addr add 10.78.0.2/24 brd + dev v1
ip -n {name} link set v1 up
ip -n {name} link set lo up
mkfifo "$DIR/fifo"
ip netns exec {name} "$BIN" pipe --data-dir "$DIR/peer" < "$DIR/fifo" > /dev/null 2>&1 &
P=$!
exec 3> "$DIR/fifo"
LC_ALL=zh_CN.UTF-8 "$BIN" --data-dir "$DIR/doctor" doctor --listen 2.5
echo "rc=$?"
kill $P
"#
    );
    let out = in_namespace(dir.path(), &script);
    assert!(out.contains("收到 lanchat：10.78.0.2:47474"), "{out}");
    assert!(out.contains("未发现问题"), "{out}");
    assert_eq!(printed(&out, "rc"), "0");
}
