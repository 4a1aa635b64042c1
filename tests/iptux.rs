//! Against the real thing: Debian's iptux (its core library, driven without a screen by
//! `tests/iptux/driver.cpp`, built here) and `lanchat pipe`, each in a network namespace
//! the test makes, joined by a veth pair and nothing else: iptux's broadcasts to
//! 255.255.255.255 never leave the machine.
//!
//! Each side must list the other, a message each way must be acked (iptux says nothing of
//! "didn't receive", lanchat says "delivered"), each shown once, and the same again with
//! iptux taking lanchat for a GBK peer (a Chinese name makes our entries GB18030). Then a
//! 16 MiB file each way over TCP, byte for byte, with a Chinese name in the GBK run. The
//! times are printed (they are measurements, not assertions).
//!
//! Skipped, with the reason printed, without root, `ip`, a C++ compiler or iptux's core
//! library and headers (`.ci/run` installs them).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(30);
/// Each file moved each way: big enough to measure throughput.
const FILE_BYTES: usize = 16 << 20;

/// Bytes that are not all alike (so a shifted or repeated block would show).
fn pseudo_random(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Why this host cannot run the test, if it cannot.
fn missing() -> Option<String> {
    if !nix::unistd::Uid::effective().is_root() {
        return Some("needs root to make network namespaces".into());
    }
    for (tool, args) in [
        ("ip", &["-V"][..]),
        ("g++", &["--version"][..]),
        ("pkg-config", &["--version"][..]),
    ] {
        if !Command::new(tool)
            .args(args)
            .output()
            .is_ok_and(|o| o.status.success())
        {
            return Some(format!("`{tool}` is missing"));
        }
    }
    if !Command::new("pkg-config")
        .args(["--exists", "iptux-core"])
        .status()
        .is_ok_and(|s| s.success())
        || !Path::new("/usr/include/iptux-core/CoreThread.h").exists()
    {
        return Some("iptux's core library is missing (apt-get install iptux)".into());
    }
    None
}

/// Builds the driver once per test process.
fn driver(dir: &Path) -> Result<PathBuf, String> {
    let out = dir.join("iptux-driver");
    let flags = Command::new("pkg-config")
        .args(["--cflags", "--libs", "iptux-core"])
        .output()
        .map_err(|e| e.to_string())?;
    let flags = String::from_utf8_lossy(&flags.stdout).into_owned();
    let built = Command::new("g++")
        .args(["-std=c++17", "-O1", "-o"])
        .arg(&out)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/iptux/driver.cpp"
        ))
        .args(flags.split_whitespace())
        .output()
        .map_err(|e| e.to_string())?;
    if !built.status.success() {
        return Err(String::from_utf8_lossy(&built.stderr).into_owned());
    }
    Ok(out)
}

/// Two namespaces joined by a veth pair, removed when dropped.
struct Link {
    a: String,
    b: String,
}

impl Link {
    /// `a` at 10.79.N.1, `b` at 10.79.N.2; a default route on the link in each, so that
    /// 255.255.255.255 goes there (and only there).
    fn new(tag: &str, n: u8) -> Result<Link, String> {
        let id = std::process::id();
        let link = Link {
            a: format!("lc-ipt-{tag}-a-{id}"),
            b: format!("lc-ipt-{tag}-b-{id}"),
        };
        let (a, b) = (&link.a, &link.b);
        let script = format!(
            "set -e
ip netns add {a}
ip netns add {b}
ip -n {a} link add va type veth peer name vb netns {b}
ip -n {a} addr add 10.79.{n}.1/24 brd + dev va
ip -n {b} addr add 10.79.{n}.2/24 brd + dev vb
for ns in {a} {b}; do ip -n $ns link set lo up; done
ip -n {a} link set va up
ip -n {b} link set vb up
ip -n {a} route add default dev va
ip -n {b} route add default dev vb
"
        );
        let out = Command::new("sh")
            .args(["-c", &script])
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        Ok(link)
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        for ns in [&self.a, &self.b] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

/// A child whose stdout lines arrive on a channel; killed when dropped.
struct Proc {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
    /// Every line so far, for the transcript and for "never" checks.
    seen: Vec<String>,
    label: &'static str,
}

impl Proc {
    fn spawn(label: &'static str, mut cmd: Command) -> Proc {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawns");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Proc {
            child,
            stdin,
            lines,
            seen: Vec::new(),
            label,
        }
    }

    fn say(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").expect("writes");
        self.stdin.flush().unwrap();
    }

    /// Waits for a line that `want` accepts; panics with the transcript after [`WAIT`].
    fn wait_for(&mut self, what: &str, want: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    eprintln!("{}> {line}", self.label);
                    self.seen.push(line.clone());
                    if want(&line) {
                        return line;
                    }
                }
                Err(_) => panic!("{}: no {what} within {WAIT:?}", self.label),
            }
        }
    }

    /// Takes in what has arrived by now, for a while, without waiting for anything.
    fn settle(&mut self, d: Duration) {
        let until = Instant::now() + d;
        while let Ok(line) = self
            .lines
            .recv_timeout(until.saturating_duration_since(Instant::now()))
        {
            eprintln!("{}> {line}", self.label);
            self.seen.push(line);
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn json(line: &str) -> Value {
    serde_json::from_str(line).unwrap_or(Value::Null)
}

fn fields(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\t' => out.push(std::mem::take(&mut cur)),
            '\\' => match chars.next() {
                Some('t') => cur.push('\t'),
                Some('n') => cur.push('\n'),
                Some(o) => cur.push(o),
                None => {}
            },
            c => cur.push(c),
        }
    }
    out.push(cur);
    out
}

/// One run: iptux in namespace a, lanchat (named `name`) in b; presence, then a message
/// each way. Returns iptux's idea of lanchat's encoding.
fn exchange(
    tag: &str,
    n: u8,
    name: &str,
    file_name: &str,
    to_lanchat: &str,
    to_iptux: &str,
) -> String {
    let dir = tempfile::tempdir().unwrap();
    let driver = match driver(dir.path()) {
        Ok(d) => d,
        Err(e) => panic!("the iptux driver does not build:\n{e}"),
    };
    let link = match Link::new(tag, n) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("skipped: cannot make network namespaces here: {e}");
            return String::new();
        }
    };
    let iptux_ip = format!("10.79.{n}.1");
    let lanchat_ip = format!("10.79.{n}.2");
    let home = dir.path().join("iptux-home");
    std::fs::create_dir_all(&home).unwrap();
    let config = dir.path().join("iptux.json");
    std::fs::write(
        &config,
        serde_json::json!({
            "nick_name": "iptux-pal",
            "belong_group": "QA",
            "archive_path": home,
            "record_log": false,
        })
        .to_string(),
    )
    .unwrap();

    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", &link.a])
        .arg(&driver)
        .arg(&config)
        .env("HOME", &home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_CACHE_HOME", home.join("cache"));
    let mut iptux = Proc::spawn("iptux", cmd);
    iptux.wait_for("ready", |l| l == "ready");

    let mut cmd = Command::new("ip");
    cmd.args([
        "netns",
        "exec",
        &link.b,
        env!("CARGO_BIN_EXE_lanchat"),
        "pipe",
    ])
    .args(["--name", name, "--no-discovery", "--data-dir"])
    .arg(dir.path().join("lanchat"))
    .env_remove("LANCHAT_CONFIG")
    .env_remove("LANCHAT_DATA_DIR")
    .env("LANCHAT_CONFIG_DIR", dir.path().join("lanchat-config"));
    let start = Instant::now();
    let mut lanchat = Proc::spawn("lanchat", cmd);

    // Presence: each lists the other.
    lanchat.wait_for("iptux in the list", |l| {
        let v = json(l);
        v["event"] == "ipmsg_peer" && v["ip"] == iptux_ip.as_str() && v["online"] == true
    });
    let lanchat_lists = start.elapsed();
    iptux.wait_for("lanchat in iptux's list", |l| {
        let f = fields(l);
        (f[0] == "online" || f[0] == "update") && f.get(1) == Some(&lanchat_ip) && f[2] == name
    });
    let iptux_lists = start.elapsed();
    iptux.say("list");
    let listed = iptux.wait_for("lanchat listed", |l| {
        let f = fields(l);
        f[0] == "pal" && f[1] == lanchat_ip && f[2] == "1"
    });
    let encoding = fields(&listed)[3].clone();
    assert!(listed.contains(name), "{listed}");

    // iptux → lanchat: shown once; iptux got its ack (no "didn't receive").
    let sent = Instant::now();
    iptux.say(&format!("send\t{lanchat_ip}\t{to_lanchat}"));
    lanchat.wait_for("iptux's message", |l| {
        let v = json(l);
        v["event"] == "message" && v["text"] == to_lanchat && v["kind"] == "ipmsg"
    });
    let shown_after = sent.elapsed();
    let done = iptux.wait_for("iptux's send to end", |l| l.starts_with("sent\t"));
    let iptux_send_ms = fields(&done)[2].clone();

    // lanchat → iptux: delivered, shown once.
    let sent = Instant::now();
    let cmd =
        serde_json::json!({"cmd": "send", "to": format!("ipmsg:{iptux_ip}"), "text": to_iptux});
    lanchat.say(&cmd.to_string());
    lanchat.wait_for("delivered", |l| json(l)["state"] == "delivered");
    let round_trip = sent.elapsed();
    iptux.wait_for("lanchat's message", |l| {
        let f = fields(l);
        f[0] == "msg" && f[2] == "pal" && f.get(3).map(String::as_str) == Some(to_iptux)
    });

    // Long enough for any retry (iptux resends after 1 s) to show up as a duplicate.
    iptux.settle(Duration::from_millis(2500));
    lanchat.settle(Duration::from_millis(500));
    let errors: Vec<&String> = iptux
        .seen
        .iter()
        .filter(|l| l.starts_with("msg\t") && fields(l)[2] == "error")
        .collect();
    assert!(errors.is_empty(), "iptux complained: {errors:?}");
    let shown: Vec<&String> = iptux
        .seen
        .iter()
        .filter(|l| l.starts_with("msg\t") && fields(l)[2] == "pal")
        .collect();
    assert_eq!(shown.len(), 1, "iptux shows our message once: {shown:?}");
    let got = lanchat
        .seen
        .iter()
        .filter(|l| json(l)["event"] == "message")
        .count();
    assert_eq!(got, 1, "lanchat shows iptux's message once");

    println!(
        "iptux interop ({tag}, lanchat {name:?}, iptux takes it for {encoding}): \
         lanchat lists iptux after {lanchat_lists:?}, iptux lists lanchat after \
         {iptux_lists:?}; iptux → lanchat shown after {shown_after:?} (iptux's send returned \
         after {iptux_send_ms} ms, acked); lanchat → iptux delivered after {round_trip:?}"
    );

    // Files, each way, over TCP 2425.
    let outbox = dir.path().join("outbox");
    let iptux_got = dir.path().join("iptux-got");
    let lanchat_got = dir.path().join("lanchat-got");
    for d in [&outbox, &iptux_got, &lanchat_got] {
        std::fs::create_dir_all(d).unwrap();
    }
    let content = pseudo_random(FILE_BYTES);

    // lanchat → iptux: offered, iptux fetches it.
    let ours = outbox.join(format!("{file_name}-from-lanchat.bin"));
    std::fs::write(&ours, &content).unwrap();
    let cmd =
        serde_json::json!({"cmd": "send_file", "to": format!("ipmsg:{iptux_ip}"), "path": ours});
    lanchat.say(&cmd.to_string());
    lanchat.wait_for("file_offered", |l| json(l)["event"] == "file_offered");
    let offer = iptux.wait_for("our offer at iptux", |l| l.starts_with("file\t"));
    let f = fields(&offer);
    assert_eq!(f[2], lanchat_ip);
    assert_eq!(f[3], FILE_BYTES.to_string());
    assert!(
        f[4].ends_with(&format!("{file_name}-from-lanchat.bin")),
        "{offer}"
    );
    let started = Instant::now();
    iptux.say(&format!("recv\t{}\t{}", f[1], iptux_got.display()));
    iptux.wait_for("iptux's download", |l| l.starts_with("recv_done"));
    let to_iptux = started.elapsed();
    lanchat.wait_for("our file_done", |l| json(l)["event"] == "file_done");
    let got = std::fs::read(iptux_got.join(format!("{file_name}-from-lanchat.bin")))
        .expect("iptux saved it under its name");
    assert!(
        got == content,
        "iptux got other bytes ({} of {})",
        got.len(),
        content.len()
    );

    // iptux → lanchat: offered, accepted, fetched.
    let theirs = outbox.join(format!("{file_name}-from-iptux.bin"));
    let mut reversed = content.clone();
    reversed.reverse();
    std::fs::write(&theirs, &reversed).unwrap();
    iptux.say(&format!("offer\t{lanchat_ip}\t{}", theirs.display()));
    let offer = lanchat.wait_for("iptux's offer", |l| json(l)["event"] == "file_offer");
    let offer = json(&offer);
    assert_eq!(offer["from"], format!("ipmsg:{iptux_ip}").as_str());
    assert_eq!(
        offer["name"],
        format!("{file_name}-from-iptux.bin").as_str()
    );
    assert_eq!(offer["size"], FILE_BYTES);
    let started = Instant::now();
    let cmd = serde_json::json!({"cmd": "accept", "id": offer["id"], "dir": lanchat_got});
    lanchat.say(&cmd.to_string());
    let done = lanchat.wait_for("our download", |l| {
        let v = json(l);
        v["event"] == "file_done" || v["event"] == "file_failed"
    });
    let from_iptux = started.elapsed();
    let done = json(&done);
    assert_eq!(done["event"], "file_done", "{done}");
    let path = PathBuf::from(done["path"].as_str().unwrap());
    assert_eq!(path.parent(), Some(lanchat_got.as_path()));
    assert!(
        std::fs::read(&path).unwrap() == reversed,
        "lanchat got other bytes"
    );
    let mib = FILE_BYTES as f64 / (1024.0 * 1024.0);
    println!(
        "iptux files ({tag}): {mib:.0} MiB lanchat → iptux in {to_iptux:?} ({:.0} MiB/s), \
         iptux → lanchat in {from_iptux:?} ({:.0} MiB/s)",
        mib / to_iptux.as_secs_f64(),
        mib / from_iptux.as_secs_f64()
    );

    // lanchat quits: iptux hears the exit.
    lanchat.say(r#"{"cmd":"quit"}"#);
    iptux.wait_for("lanchat's exit", |l| {
        let f = fields(l);
        f[0] == "offline" && f.get(1) == Some(&lanchat_ip)
    });
    iptux.say("quit");
    encoding
}

#[test]
fn iptux_and_lanchat_list_each_other_and_talk_both_ways_acked() {
    if let Some(why) = missing() {
        eprintln!("skipped: {why}");
        return;
    }
    let encoding = exchange(
        "utf8",
        1,
        "lanchat-user",
        "report",
        "hello lanchat, 来自 iptux",
        "hi iptux, 来自 lanchat",
    );
    if !encoding.is_empty() {
        assert_eq!(encoding, "utf-8");
    }
}

#[test]
fn iptux_taking_lanchat_for_a_gbk_peer_still_reads_and_is_read() {
    if let Some(why) = missing() {
        eprintln!("skipped: {why}");
        return;
    }
    let encoding = exchange(
        "gbk",
        2,
        "蓝聊用户",
        "报告",
        "你好，蓝聊",
        "收到，谢谢 iptux",
    );
    if !encoding.is_empty() {
        assert_eq!(encoding, "gb18030");
    }
}
