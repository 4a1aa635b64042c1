//! End to end: the real `lanchat` binary in pseudo-terminals, read back through a terminal
//! emulator (vt100). Two instances find each other over loopback, chat, and one quits.
//!
//! Everything stays on this host: both instances bind 127.0.0.1 and share a discovery port
//! picked free for the run. Each wait polls the emulated screen against a deadline and, on
//! timeout, panics with the whole screen so a failure shows what the user would have seen.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use portable_pty::{Child, CommandBuilder, MasterPty, PtySize, native_pty_system};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// How long any one condition may take to appear.
const DEADLINE: Duration = Duration::from_secs(15);
/// How often the screen is looked at while waiting.
const POLL: Duration = Duration::from_millis(20);
/// A goodbye must take a peer offline well before the 90 s silence timeout would.
const GOODBYE_DEADLINE: Duration = Duration::from_secs(5);

/// The sequences that enter and leave the alternate screen (crossterm's
/// `EnterAlternateScreen` and `LeaveAlternateScreen`).
const ENTER_ALT_SCREEN: &[u8] = b"\x1b[?1049h";
const LEAVE_ALT_SCREEN: &[u8] = b"\x1b[?1049l";
/// Turns bracketed paste off again.
const DISABLE_BRACKETED_PASTE: &[u8] = b"\x1b[?2004l";

/// A UDP port free on both 127.0.0.1 and 0.0.0.0 (the discovery socket binds the latter).
fn free_udp_port() -> u16 {
    for _ in 0..50 {
        let lo = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
        let port = lo.local_addr().expect("local addr").port();
        drop(lo);
        if UdpSocket::bind((Ipv4Addr::UNSPECIFIED, port)).is_ok()
            && UdpSocket::bind((Ipv4Addr::LOCALHOST, port)).is_ok()
        {
            return port;
        }
    }
    panic!("no free UDP port found on loopback");
}

/// One `lanchat` running in its own pseudo-terminal. Dropping it kills the process.
struct Instance {
    name: &'static str,
    parser: Arc<Mutex<vt100::Parser>>,
    /// Every byte the program wrote to its terminal, in order.
    raw: Arc<Mutex<Vec<u8>>>,
    /// Set when the reader saw end of file (or an error): the terminal is closed.
    eof: Arc<AtomicBool>,
    writer: Box<dyn Write + Send>,
    child: Box<dyn Child + Send + Sync>,
    exited: bool,
    // Kept open so that the reader sees the program's output until it exits.
    _master: Box<dyn MasterPty + Send>,
    _dir: tempfile::TempDir,
}

impl Instance {
    fn spawn(name: &'static str, cols: u16, rows: u16, extra_args: &[String]) -> Instance {
        Instance::spawn_in("C.UTF-8", name, cols, rows, extra_args)
    }

    /// An instance under the locale `locale` (as `LANG`, with `LC_ALL` and `LC_MESSAGES`
    /// unset, so the caller's own locale cannot pick the language).
    fn spawn_in(
        locale: &str,
        name: &'static str,
        cols: u16,
        rows: u16,
        extra_args: &[String],
    ) -> Instance {
        let dir = tempfile::tempdir().expect("temp dir");
        let pty = native_pty_system()
            .openpty(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("open pty");

        let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_lanchat"));
        cmd.args([
            "--bind",
            "127.0.0.1",
            "--port",
            "0",
            "--name",
            name,
            "--no-ipmsg",
        ]);
        cmd.arg("--data-dir");
        cmd.arg(dir.path());
        cmd.args(extra_args);
        cmd.cwd(dir.path());
        cmd.env("TERM", "xterm-256color");
        // Keep the run hermetic: nothing from the caller's environment picks other paths.
        cmd.env_remove("LANCHAT_DATA_DIR");
        cmd.env_remove("LANCHAT_CONFIG");
        cmd.env_remove("LANCHAT_LOG");
        cmd.env_remove("LC_ALL");
        cmd.env_remove("LC_MESSAGES");
        cmd.env("LANG", locale);

        let child = pty.slave.spawn_command(cmd).expect("spawn lanchat");
        // Only the child holds the slave side now, so the reader ends when the child does.
        drop(pty.slave);

        let parser = Arc::new(Mutex::new(vt100::Parser::new(rows, cols, 0)));
        let raw = Arc::new(Mutex::new(Vec::new()));
        let eof = Arc::new(AtomicBool::new(false));
        let mut reader = pty.master.try_clone_reader().expect("pty reader");
        {
            let parser = parser.clone();
            let raw = raw.clone();
            let eof = eof.clone();
            thread::Builder::new()
                .name(format!("pty-{name}"))
                .spawn(move || {
                    let mut buf = [0u8; 8192];
                    loop {
                        match reader.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => {
                                raw.lock().unwrap().extend_from_slice(&buf[..n]);
                                parser.lock().unwrap().process(&buf[..n]);
                            }
                        }
                    }
                    eof.store(true, Ordering::SeqCst);
                })
                .expect("reader thread");
        }
        let writer = pty.master.take_writer().expect("pty writer");
        Instance {
            name,
            parser,
            raw,
            eof,
            writer,
            child,
            exited: false,
            _master: pty.master,
            _dir: dir,
        }
    }

    fn screen(&self) -> String {
        self.parser.lock().unwrap().screen().contents()
    }

    /// Waits until `cond` holds for the screen's text, or panics with the screen.
    fn wait_until(&self, what: &str, deadline: Duration, cond: impl Fn(&str) -> bool) {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if cond(&screen) {
                return;
            }
            if start.elapsed() >= deadline {
                panic!(
                    "{}: timed out after {:?} waiting for {what}\n--- {}'s screen ---\n{screen}\n---",
                    self.name, deadline, self.name
                );
            }
            thread::sleep(POLL);
        }
    }

    /// Waits until the screen shows `needle`.
    fn wait_for(&self, needle: &str) {
        self.wait_until(&format!("{needle:?}"), DEADLINE, |s| s.contains(needle));
    }

    /// Waits until the status line (the bottom row) contains `needle`.
    fn wait_for_status(&self, needle: &str, deadline: Duration) {
        let me = self.name;
        self.wait_until(&format!("status line with {needle:?}"), deadline, |s| {
            s.lines()
                .any(|l| l.contains(&format!(" {me} · ")) && l.contains(needle))
        });
    }

    fn type_bytes(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).expect("write to pty");
        self.writer.flush().expect("flush pty");
    }

    /// Waits for the process to end and returns whether it exited successfully.
    fn wait_exit(&mut self, deadline: Duration) -> portable_pty::ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                self.exited = true;
                return status;
            }
            if start.elapsed() >= deadline {
                panic!(
                    "{}: still running {:?} after it was asked to quit\n--- screen ---\n{}\n---",
                    self.name,
                    deadline,
                    self.screen()
                );
            }
            thread::sleep(POLL);
        }
    }

    /// All bytes written to the terminal, once the program's side of it has closed (or the
    /// deadline passed).
    fn raw_output_after_exit(&self) -> Vec<u8> {
        let start = Instant::now();
        while !self.eof.load(Ordering::SeqCst) && start.elapsed() < DEADLINE {
            thread::sleep(POLL);
        }
        self.raw.lock().unwrap().clone()
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        if !self.exited && matches!(self.child.try_wait(), Ok(None)) {
            // SIGHUP, then SIGKILL if it is still alive after a short grace period.
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn last_index_of(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).rposition(|w| w == needle)
}

/// Asserts the program left the terminal as it found it: it entered the alternate screen,
/// and after the last time it did, it left it and turned bracketed paste off.
fn assert_terminal_restored(who: &str, raw: &[u8]) {
    let tail = String::from_utf8_lossy(&raw[raw.len().saturating_sub(200)..]).into_owned();
    let entered = last_index_of(raw, ENTER_ALT_SCREEN)
        .unwrap_or_else(|| panic!("{who} never entered the alternate screen"));
    let left = last_index_of(raw, LEAVE_ALT_SCREEN);
    assert!(
        left.is_some_and(|l| l > entered),
        "{who} did not leave the alternate screen on exit; last bytes: {tail:?}"
    );
    assert!(
        last_index_of(raw, DISABLE_BRACKETED_PASTE).is_some_and(|p| p > entered),
        "{who} did not turn bracketed paste off on exit; last bytes: {tail:?}"
    );
}

#[test]
fn two_instances_discover_chat_and_say_goodbye() {
    let started = Instant::now();
    let discovery = free_udp_port();
    let extra = ["--discovery-port".to_string(), discovery.to_string()];
    let mut alice = Instance::spawn("alice", 100, 30, &extra);
    let mut bob = Instance::spawn("bob", 100, 30, &extra);

    // Discovery over loopback: each sees the other in the sidebar, online, and selected.
    alice.wait_for("● bob");
    alice.wait_for_status("1 online", DEADLINE);
    alice.wait_for("To bob");
    bob.wait_for("● alice");
    bob.wait_for_status("1 online", DEADLINE);
    bob.wait_for("To alice");

    // Alice writes, with wide characters; the input box shows it before it is sent.
    let hello = "hello from alice 你好";
    alice.type_bytes(hello.as_bytes());
    alice.wait_for(hello);
    alice.type_bytes(b"\r");
    bob.wait_for(hello);
    // Bob has the conversation open, so the message goes from delivered to read.
    alice.wait_for("✓✓ read");

    // Bob answers.
    let reply = "hi alice, 收到了";
    bob.type_bytes(reply.as_bytes());
    bob.wait_for(reply);
    bob.type_bytes(b"\r");
    alice.wait_for(reply);
    bob.wait_until("his reply read too", DEADLINE, |s| {
        s.contains(reply) && s.contains("✓✓ read")
    });

    // Alice quits with Ctrl-C: a clean exit, the terminal restored, and bob told at once.
    alice.type_bytes(&[0x03]);
    let status = alice.wait_exit(DEADLINE);
    assert!(status.success(), "alice exited with {status:?}");
    bob.wait_for_status("0 online", GOODBYE_DEADLINE);

    assert_terminal_restored("alice", &alice.raw_output_after_exit());

    bob.type_bytes(&[0x03]);
    let status = bob.wait_exit(DEADLINE);
    assert!(status.success(), "bob exited with {status:?}");
    eprintln!("two-instance scenario took {:?}", started.elapsed());
}

/// Under a Chinese locale the screen speaks Chinese: the status line, the list's title, the
/// input's; and F1's help. The same binary under `C.UTF-8` (every other test here) speaks
/// English.
#[test]
fn a_chinese_locale_gives_a_chinese_screen() {
    let extra = ["--no-discovery".to_string()];
    let mut lin = Instance::spawn_in("zh_CN.UTF-8", "lin", 80, 24, &extra);
    lin.wait_for_status("0 人在线", DEADLINE);
    lin.wait_for_status("F1 帮助", DEADLINE);
    lin.wait_for("会话");
    // F1: the help in Chinese, key names as they are.
    lin.type_bytes(b"\x1bOP");
    lin.wait_for("按键与命令");
    lin.wait_for("在消息里换行");
    lin.wait_for_status("Esc 关闭", DEADLINE);
    lin.type_bytes(&[0x03]);
    let status = lin.wait_exit(DEADLINE);
    assert!(status.success(), "lin exited with {status:?}");
    assert_terminal_restored("lin", &lin.raw_output_after_exit());
}

#[test]
fn too_small_terminal_shows_a_notice_and_still_quits() {
    let started = Instant::now();
    let extra = ["--no-discovery".to_string()];
    let mut carol = Instance::spawn("carol", 30, 8, &extra);
    carol.wait_for("too small");
    carol.type_bytes(&[0x03]);
    let status = carol.wait_exit(DEADLINE);
    assert!(status.success(), "carol exited with {status:?}");
    assert_terminal_restored("carol", &carol.raw_output_after_exit());
    eprintln!("too-small scenario took {:?}", started.elapsed());
}

/// SIGTERM (a shutdown) and SIGHUP (the SSH link dropped) end lanchat cleanly, with the
/// terminal restored.
#[test]
fn sigterm_and_sighup_quit_cleanly_and_restore_the_terminal() {
    for signal in ["TERM", "HUP"] {
        let extra = ["--no-discovery".to_string()];
        let mut dave = Instance::spawn("dave", 80, 24, &extra);
        dave.wait_for("No conversations yet");
        let pid = dave.child.process_id().expect("a pid");
        let sent = std::process::Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(pid.to_string())
            .status()
            .expect("kill runs");
        assert!(sent.success());
        let status = dave.wait_exit(DEADLINE);
        assert!(status.success(), "SIG{signal}: exited with {status:?}");
        assert_terminal_restored("dave", &dave.raw_output_after_exit());
    }
}

/// A signal at the first byte lanchat writes (the terminal is changed from then on) still
/// finds its handler: the terminal is restored and the exit is clean. The handlers used to be
/// installed only after the first frame, and a SIGTERM in between ended the process the
/// default way, leaving the terminal in raw mode on the alternate screen.
#[test]
fn a_signal_right_at_start_still_restores_the_terminal() {
    for _ in 0..3 {
        let extra = ["--no-discovery".to_string()];
        let mut fay = Instance::spawn("fay", 80, 24, &extra);
        let started = Instant::now();
        while fay.raw.lock().unwrap().is_empty() {
            assert!(started.elapsed() < DEADLINE, "fay wrote nothing");
            thread::sleep(Duration::from_millis(1));
        }
        let pid = fay.child.process_id().expect("a pid");
        let sent = std::process::Command::new("kill")
            .arg("-TERM")
            .arg(pid.to_string())
            .status()
            .expect("kill runs");
        assert!(sent.success());
        let status = fay.wait_exit(DEADLINE);
        assert!(status.success(), "exited with {status:?}");
        assert_terminal_restored("fay", &fay.raw_output_after_exit());
    }
}

/// Hostile text from a plain UDP peer reaches the real terminal inert: shown visibly, and
/// the terminal's state (title, clipboard, screen, modes) is what lanchat set, not what the
/// peer asked for.
#[test]
fn hostile_text_from_a_peer_leaves_the_terminal_state_alone() {
    let extra = ["--no-discovery".to_string()];
    let mut erin = Instance::spawn("erin", 100, 30, &extra);
    let port_on = |screen: &str| -> Option<u16> {
        let rest = screen.split("127.0.0.1:").nth(1)?;
        let digits = rest.find(|c: char| !c.is_ascii_digit())?;
        rest[..digits].parse().ok()
    };
    // The whole frame: the address is on the status line, written after the guide.
    erin.wait_until("the guide and the listen address", DEADLINE, |s| {
        s.contains("No conversations yet") && port_on(s).is_some()
    });
    let screen = erin.screen();
    let port = port_on(&screen).unwrap_or_else(|| panic!("no listen address on screen:\n{screen}"));
    let before = erin.raw.lock().unwrap().len();

    let hostile: &[&str] = &[
        "clear\x1b[2Jscreen",
        "\x1b]0;pwned\x07title",
        "\x1b]52;c;aGk=\x07clip",
        "\x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\",
        "up\x1b[5A\x1b[Hhome",
        "paste\x1b[201~end",
        "c1\u{9b}2Jcsi",
        "a\u{202E}evil\u{202C}b",
        "zero\u{200B}width",
        "nul\0bel\x07",
        "\x1b[?1049lalt\x1b[?2004lmodes",
    ];
    let sock = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
    for h in hostile {
        sock.send_to(h.as_bytes(), (Ipv4Addr::LOCALHOST, port))
            .expect("send");
    }
    // Open the plain-text conversation and see the text, defused.
    erin.wait_for("unencrypted");
    erin.type_bytes(b"\t");
    erin.wait_for("^[]0;pwned^Gtitle");
    erin.wait_for("^[[?1049lalt^[[?2004lmodes");
    erin.wait_for("c1<9B>2Jcsi");
    erin.wait_for("aevilb");

    // The terminal's state once a frame is done: sampled mid-frame (the output arrives in
    // pieces), the cursor could be anywhere, so wait for a finished frame, up to the deadline.
    let state = || {
        let parser = erin.parser.lock().unwrap();
        let s = parser.screen();
        (
            s.alternate_screen(),
            s.bracketed_paste(),
            s.cursor_position(),
            s.contents().lines().next().unwrap_or("").to_string(),
        )
    };
    let started = Instant::now();
    let (alternate, paste, cursor, top) = loop {
        let now = state();
        if (now.2.0 >= 25 && now.3.starts_with("┌")) || started.elapsed() >= DEADLINE {
            break now;
        }
        thread::sleep(POLL);
    };
    assert!(alternate, "still on the alternate screen");
    assert!(paste, "bracketed paste still on");
    assert!(top.starts_with("┌"), "the frame is intact: {top:?}");
    assert!(cursor.0 >= 25, "the cursor is in the input box: {cursor:?}");

    // What lanchat wrote after the peer's text arrived holds none of the peer's sequences.
    let raw = erin.raw.lock().unwrap()[before..].to_vec();
    for bad in [
        &b"\x1b]0;pwned"[..],
        b"pwned\x07",
        b"\x1b]52;c;aGk=",
        b"\x1b]8;;http",
        b"\x1b[5A",
        b"\x1b[201~",
        b"\xc2\x9b",
        "\u{202E}".as_bytes(),
        "\u{200B}".as_bytes(),
        b"\0",
        b"\x1b[?1049l",
        b"\x1b[?2004l",
    ] {
        assert!(
            !raw.windows(bad.len()).any(|w| w == bad),
            "the terminal was sent {:?}",
            String::from_utf8_lossy(bad)
        );
    }
    erin.type_bytes(&[0x03]);
    assert!(erin.wait_exit(DEADLINE).success());
}

/// Alt-Up as xterm sends it.
const ALT_UP: &[u8] = b"\x1b[1;3A";

/// The `127.0.0.1:PORT` an instance listens on, read off its status line.
fn listen_addr(i: &Instance) -> std::net::SocketAddr {
    let screen = i.screen();
    let line = screen
        .lines()
        .find(|l| l.contains(&format!(" {} · 127.0.0.1:", i.name)))
        .unwrap_or_else(|| panic!("no status line:\n{screen}"));
    let start = line.find("127.0.0.1:").unwrap();
    let addr: String = line[start..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ':')
        .collect();
    addr.parse().unwrap()
}

#[test]
fn quote_reply_recall_paste_and_switching_between_two_real_instances() {
    let discovery = free_udp_port();
    let extra = ["--discovery-port".to_string(), discovery.to_string()];
    let mut alice = Instance::spawn("alice", 100, 30, &extra);
    let mut bob = Instance::spawn("bob", 100, 30, &extra);
    alice.wait_for("To bob");
    bob.wait_for("To alice");

    // A paste with a line break fills the box on two lines and sends nothing.
    alice.type_bytes(b"\x1b[200~pasted one\npasted two\x1b[201~");
    alice.wait_for("│pasted one ");
    alice.wait_for("│pasted two ");
    // Enter sends both lines as one message, and that is all bob gets: had the paste sent
    // anything on its own, he would show the lines twice.
    alice.type_bytes(b"\r");
    bob.wait_for(" pasted one ");
    bob.wait_for(" pasted two ");
    assert_eq!(
        // In the message pane (the sidebar's preview reads "│  pasted one pasted two").
        bob.screen().matches("│ pasted one ").count(),
        1,
        "a paste must not send:\n{}",
        bob.screen()
    );

    // Bob picks alice's message and replies to it: both sides show the quoted line.
    bob.type_bytes(ALT_UP);
    bob.type_bytes(b"r");
    bob.wait_for("Replying to alice: pasted one");
    bob.type_bytes("answer 回答".as_bytes());
    bob.type_bytes(b"\r");
    bob.wait_for("↱ alice: pasted one");
    alice.wait_for("answer 回答");
    alice.wait_for("↱ You: pasted one");

    // Bob takes his answer back: both sides say so, and the text is gone from both.
    bob.type_bytes(ALT_UP);
    bob.type_bytes(b"d");
    bob.wait_for("You recalled a message");
    alice.wait_for("bob recalled a message");
    alice.wait_until("the answer gone", DEADLINE, |s| !s.contains("answer 回答"));
    bob.wait_until("the answer gone", DEADLINE, |s| !s.contains("answer 回答"));

    // A plain-text peer writes to alice: a second conversation. Alt-2 and Ctrl-N switch.
    let script = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let script_addr = script.local_addr().unwrap();
    script
        .send_to("hello from a script".as_bytes(), listen_addr(&alice))
        .unwrap();
    alice.wait_for("hello from a script");
    // The newest conversation is first in the list: the script's.
    alice.type_bytes(b"\x1b1");
    alice.wait_for(&format!("To {script_addr}"));
    alice.type_bytes(&[0x0e]); // Ctrl-N
    alice.wait_for("To bob");
    // A recall is refused in a plain-text chat, and a reply there is plain text.
    alice.type_bytes(b"\x1b1");
    alice.wait_for(&format!("To {script_addr}"));
    alice.type_bytes(ALT_UP);
    alice.type_bytes(b"r");
    alice.type_bytes(b"noted\r");
    let mut buf = [0u8; 2048];
    script
        .set_read_timeout(Some(DEADLINE))
        .expect("read timeout");
    let (n, _) = script.recv_from(&mut buf).expect("the reply arrives");
    assert_eq!(
        std::str::from_utf8(&buf[..n]).unwrap(),
        "> hello from a script\nnoted"
    );
    // The pick starts at the newest message, alice's own "noted".
    alice.type_bytes(ALT_UP);
    alice.type_bytes(b"d");
    alice.wait_for("A plain-text peer cannot take a recall");
    alice.type_bytes(&[0x03]);
    assert!(alice.wait_exit(DEADLINE).success());
    bob.type_bytes(&[0x03]);
    assert!(bob.wait_exit(DEADLINE).success());
}

/// Keys typed ahead (a scripted or forwarded paste without bracketed paste: 8 KB written
/// at once) are all read, and a Ctrl-C behind them quits. crossterm's default event source
/// read one buffer per wake-up while the terminal was watched edge-triggered, so it stalled
/// with keys still queued (crossterm issue #813).
#[test]
fn eight_kilobytes_typed_ahead_are_all_read_and_ctrl_c_behind_them_quits() {
    // Lines of text joined by Alt-Enter (a new line in the message, never a send).
    let mut keys = Vec::new();
    let mut n = 0;
    while keys.len() < 8 * 1024 {
        keys.extend_from_slice(format!("line{n:04} typed ahead").as_bytes());
        keys.extend_from_slice(b"\x1b\r");
        n += 1;
    }
    let extra = ["--no-discovery".to_string()];
    let mut dan = Instance::spawn("dan", 100, 30, &extra);
    dan.wait_for_status("dan", DEADLINE);
    let mut all = keys.clone();
    all.extend_from_slice(b"THE-END");
    dan.type_bytes(&all);
    // A long input is slow to edit in a debug build on a busy machine: wait generously
    // (before the fix it never came, however long one waited).
    let slow = DEADLINE * 4;
    dan.wait_until("THE-END", slow, |s| s.contains("THE-END"));
    // The last full line before it is there too: nothing was dropped on the way.
    dan.wait_for(&format!("line{:04} typed ahead", n - 1));
    dan.type_bytes(&[0x03]);
    assert!(dan.wait_exit(DEADLINE).success());

    // Again, with Ctrl-C right behind the keys in the same write.
    let mut eve = Instance::spawn("eve", 100, 30, &extra);
    eve.wait_for_status("eve", DEADLINE);
    let mut all = keys;
    all.push(0x03);
    eve.type_bytes(&all);
    let status = eve.wait_exit(slow);
    assert!(status.success(), "eve exited with {status:?}");
    assert_terminal_restored("eve", &eve.raw_output_after_exit());
}

/// Issue 15 from the keyboard: alice pastes a file's path (the input becomes its `/send`),
/// bob picks the bubble and accepts it with `a`, both bubbles show the transfer moving (a
/// progress bar, with rate and time left) and then finished, and the file bob keeps is
/// alice's, byte for byte, with no partial file left.
#[test]
fn a_file_offered_from_one_tui_is_accepted_in_the_other_with_progress() {
    let files = tempfile::tempdir().unwrap();
    let downloads = files.path().join("downloads");
    let source = files.path().join("holiday video.mkv");
    // 1 GiB, mostly a hole (quick to make), with a distinct start and end: long enough to
    // be seen moving, however fast the machine.
    {
        let f = std::fs::File::create(&source).unwrap();
        f.set_len(1 << 30).unwrap();
        use std::os::unix::fs::FileExt;
        f.write_all_at(b"the start of the holiday", 0).unwrap();
        f.write_all_at(b"the end", (1 << 30) - 7).unwrap();
    }
    let config = files.path().join("bob.toml");
    std::fs::write(
        &config,
        format!("download_dir = {:?}\n", downloads.display().to_string()),
    )
    .unwrap();
    let discovery = free_udp_port();
    let extra = ["--discovery-port".to_string(), discovery.to_string()];
    let mut alice = Instance::spawn("alice", 100, 30, &extra);
    let mut bob_args = extra.to_vec();
    bob_args.extend(["--config".to_string(), config.display().to_string()]);
    let mut bob = Instance::spawn("bob", 100, 30, &bob_args);
    alice.wait_for("To bob");
    bob.wait_for("To alice");

    // A pasted path that names a file becomes the command that sends it.
    let paste = format!("\x1b[200~{}\x1b[201~", source.display());
    alice.type_bytes(paste.as_bytes());
    alice.wait_for(r"/send ");
    alice.wait_for(r"holiday\ video.mkv");
    alice.type_bytes(b"\r");
    alice.wait_for("Waiting for an answer");
    bob.wait_for("holiday video.mkv");
    bob.wait_for("Video (MKV) · 1.0 GB");
    bob.wait_for("Waiting for you");
    assert!(
        !downloads.exists() || std::fs::read_dir(&downloads).unwrap().next().is_none(),
        "nothing is written before bob says yes"
    );

    // Bob picks it: its keys show, and a accepts.
    bob.type_bytes(ALT_UP);
    bob.wait_for("a accept · x decline");
    bob.type_bytes(b"a");
    // Both sides see it move: the percentage and the bar, the sidebar's arrow.
    let moving = |s: &str| s.contains("% · ") && s.contains("[█");
    bob.wait_until("the transfer moving", DEADLINE, moving);
    bob.wait_until("the sidebar's arrow", DEADLINE, |s| s.contains("↓"));
    alice.wait_until("the transfer moving", DEADLINE, |s| {
        moving(s) || s.contains("Sent")
    });
    // And finished.
    let saved = downloads.join("holiday video.mkv");
    bob.wait_until("the file saved", Duration::from_secs(60), |s| {
        s.contains("Saved to ")
    });
    alice.wait_until("the file sent", Duration::from_secs(60), |s| {
        s.contains("Sent")
    });
    let meta = std::fs::metadata(&saved).unwrap();
    assert_eq!(meta.len(), 1 << 30);
    let f = std::fs::File::open(&saved).unwrap();
    use std::os::unix::fs::FileExt;
    let mut start = [0u8; 24];
    f.read_exact_at(&mut start, 0).unwrap();
    assert_eq!(&start, b"the start of the holiday");
    let mut end = [0u8; 7];
    f.read_exact_at(&mut end, (1 << 30) - 7).unwrap();
    assert_eq!(&end, b"the end");
    let left: Vec<_> = std::fs::read_dir(&downloads)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, [std::ffi::OsString::from("holiday video.mkv")]);

    alice.type_bytes(&[0x03]);
    assert!(alice.wait_exit(DEADLINE).success());
    bob.type_bytes(&[0x03]);
    assert!(bob.wait_exit(DEADLINE).success());
}

/// F2, as xterm sends it.
const F2: &[u8] = b"\x1bOQ";

/// Three real instances: alice makes a group from her TUI, everyone sees it, she writes,
/// bob answers, and alice's message shows who holds it and who read it.
#[test]
fn a_group_made_in_the_tui_talks_and_shows_its_receipts() {
    let discovery = free_udp_port();
    let extra = ["--discovery-port".to_string(), discovery.to_string()];
    let mut alice = Instance::spawn("alice", 100, 30, &extra);
    let mut bob = Instance::spawn("bob", 100, 30, &extra);
    let carol = Instance::spawn("carol", 100, 30, &extra);
    for (who, others) in [
        (&alice, ["bob", "carol"]),
        (&bob, ["alice", "carol"]),
        (&carol, ["alice", "bob"]),
    ] {
        for o in others {
            who.wait_for(&format!("● {o}"));
        }
    }

    // Alice makes it: it opens, with its first line.
    alice.type_bytes("/group 午饭 lunch @bob @carol\r".as_bytes());
    alice.wait_for("午饭 lunch · 3 members · 2 online");
    alice.wait_for("alice created the group \"午饭 lunch\"");
    for other in [&bob, &carol] {
        other.wait_for("# 午饭 lunch");
    }
    // Bob opens it (the newest chat is first in the list).
    bob.type_bytes(b"\x1b1");
    bob.wait_for("To 午饭 lunch");
    bob.wait_for("alice created the group \"午饭 lunch\"");

    alice.type_bytes("noodles? 面条？\r".as_bytes());
    bob.wait_for("noodles? 面条？");
    carol.wait_for("alice: noodles? 面条？");
    // Held by both; read by bob, who has the group open (carol has not opened it).
    alice.wait_for("delivered to 2/2 · read by 1");

    bob.type_bytes(b"yes\r");
    alice.wait_for(" yes ");
    bob.wait_until("bob's message held by both", DEADLINE, |s| {
        s.contains("delivered to 2/2")
    });

    // Alice picks her message and asks who read it: bob did, carol not yet.
    alice.type_bytes(ALT_UP);
    alice.type_bytes(ALT_UP_PLAIN);
    alice.type_bytes(F2);
    alice.wait_for("Who has read it");
    alice.wait_for("Read (1)");
    alice.wait_for("Not read (1)");
    let screen = alice.screen();
    let read_at = screen.lines().position(|l| l.contains("Read (1)")).unwrap();
    let unread_at = screen
        .lines()
        .position(|l| l.contains("Not read (1)"))
        .unwrap();
    let bob_at = screen.lines().position(|l| l.contains("│ ● bob")).unwrap();
    let carol_at = screen
        .lines()
        .position(|l| l.contains("│ ● carol"))
        .unwrap();
    assert!(
        read_at < bob_at && bob_at < unread_at && unread_at < carol_at,
        "{screen}"
    );
    alice.type_bytes(b"\x1b");
    alice.wait_until("the overlay closed", DEADLINE, |s| {
        !s.contains("Who has read it")
    });

    for mut i in [alice, bob, carol] {
        i.type_bytes(&[0x03]);
        assert!(i.wait_exit(DEADLINE).success());
    }
}

/// Up, as the picked message's mode takes it (to the message before).
const ALT_UP_PLAIN: &[u8] = b"\x1b[A";
