//! Terminal lifecycle: raw mode, alternate screen and bracketed paste on the way in, and the
//! same undone on every way out: normal quit, error return, panic in any task, signals.

use crate::config::Notify;
use crossterm::cursor::Show;
use crossterm::event::{
    DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture,
};
use crossterm::execute;
use crossterm::style::Print;
use crossterm::terminal::SetTitle;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use std::io::{self, Stdout, stdout};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

pub type Tui = Terminal<CrosstermBackend<Stdout>>;

/// Puts the terminal back as it was. Safe to call more than once, and on a terminal that
/// is already gone (a dropped SSH link): errors are ignored.
pub fn restore() {
    let _ = disable_raw_mode();
    let _ = execute!(
        stdout(),
        DisableMouseCapture,
        DisableBracketedPaste,
        LeaveAlternateScreen,
        Show
    );
}

/// Bell, title and notifications are written only on a real terminal, and only if the
/// config allows.
static BELL: AtomicBool = AtomicBool::new(false);
static TITLE: AtomicBool = AtomicBool::new(false);
/// 0: no desktop notifications; else a [`Notify`] as u8.
static NOTIFY: AtomicU8 = AtomicU8::new(0);
/// Wrap escapes for tmux's passthrough (`$TMUX` set at start).
static TMUX: AtomicBool = AtomicBool::new(false);

pub fn enable_attention(bell: bool, title: bool, notify: Notify, in_tmux: bool) {
    BELL.store(bell, Ordering::Relaxed);
    TITLE.store(title, Ordering::Relaxed);
    NOTIFY.store(notify as u8, Ordering::Relaxed);
    TMUX.store(in_tmux, Ordering::Relaxed);
}

/// Notification text as it may go into an escape sequence: sanitised (no control
/// characters, no bidi or invisible tricks), no `;` (OSC 777 separates fields with it),
/// and short.
pub fn notification_text(s: &str) -> String {
    const MAX_CHARS: usize = 100;
    crate::text::sanitize_line(s)
        .chars()
        .filter(|c| !c.is_control())
        .map(|c| if c == ';' { ',' } else { c })
        .take(MAX_CHARS)
        .collect()
}

/// The escape sequence for a desktop notification, wrapped for tmux's passthrough
/// (`ESC P tmux; … ESC \`, every ESC inside doubled; tmux needs `allow-passthrough on`)
/// when `tmux`.
pub fn notification(kind: Notify, text: &str, tmux: bool) -> String {
    let text = notification_text(text);
    let seq = match kind {
        Notify::Off => return String::new(),
        Notify::Osc9 => format!("\x1b]9;{text}\x07"),
        Notify::Osc777 => format!("\x1b]777;notify;lanchat;{text}\x07"),
    };
    if tmux {
        format!("\x1bPtmux;{}\x1b\\", seq.replace('\x1b', "\x1b\x1b"))
    } else {
        seq
    }
}

/// Sends a desktop notification, if the config asks for them.
pub fn notify(text: &str) {
    let kind = match NOTIFY.load(Ordering::Relaxed) {
        1 => Notify::Osc9,
        2 => Notify::Osc777,
        _ => return,
    };
    let seq = notification(kind, text, TMUX.load(Ordering::Relaxed));
    let _ = execute!(stdout(), Print(seq));
}

/// Rings the terminal bell (tmux and SSH pass it on).
pub fn ring() {
    if BELL.load(Ordering::Relaxed) {
        let _ = execute!(stdout(), Print('\u{7}'));
    }
}

/// Base64 (standard alphabet, padded), for OSC 52.
fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18u32, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The OSC 52 sequence that puts `text` on the clipboard. The text travels base64-encoded,
/// so nothing in it can act on the terminal.
pub fn osc52(text: &str) -> String {
    format!("\x1b]52;c;{}\x07", base64(text.as_bytes()))
}

/// Puts text on the clipboard through the terminal (works over SSH; tmux needs
/// `set -g set-clipboard on`).
pub fn copy(text: &str) {
    let _ = execute!(stdout(), Print(osc52(text)));
}

/// Puts the unread count in the window title. The title never holds text a peer chose.
pub fn set_unread_title(unread: u32) {
    if TITLE.load(Ordering::Relaxed) {
        let title = match unread {
            0 => "lanchat".to_string(),
            n => format!("lanchat ({n})"),
        };
        let _ = execute!(stdout(), SetTitle(title));
    }
}

/// Restores the terminal when dropped, so an early `?` return cannot leave it raw.
pub struct RestoreGuard;

impl Drop for RestoreGuard {
    fn drop(&mut self) {
        restore();
    }
}

/// A panic anywhere (a tokio task included) restores the terminal, reports, and ends the
/// process, so that nothing keeps drawing on a cooked terminal. Except in a picture's
/// decoder: that panic is caught there (the picture gets no preview), so it is only logged.
fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if super::preview::decoding() {
            tracing::error!(%info, "a picture's decoder panicked");
            return;
        }
        restore();
        previous(info);
        std::process::exit(101);
    }));
}

/// Enters full-screen mode. The returned guard restores the terminal when dropped.
/// With `mouse`, clicks and the wheel come to lanchat (and the terminal's own text
/// selection needs Shift); without, the terminal keeps them.
pub fn init(mouse: bool) -> io::Result<(Tui, RestoreGuard)> {
    install_panic_hook();
    let guard = RestoreGuard;
    enable_raw_mode()?;
    execute!(stdout(), EnterAlternateScreen, EnableBracketedPaste)?;
    if mouse {
        execute!(stdout(), EnableMouseCapture)?;
    }
    let terminal = Terminal::new(CrosstermBackend::new(stdout()))?;
    Ok((terminal, guard))
}

/// Resolves on SIGTERM, SIGHUP (the SSH link dropped) or SIGINT.
///
/// The handlers are installed here, when this is called, not when the future is first
/// polled: the loop draws its first frame before it polls, and a signal in between would
/// otherwise end the process the default way, with the terminal left as the chat set it.
/// Must be called within the tokio runtime.
pub fn stop_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    let streams = (
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
        signal(SignalKind::interrupt()),
    );
    async move {
        let (Ok(mut term), Ok(mut hup), Ok(mut int)) = streams else {
            return std::future::pending().await;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = hup.recv() => {}
            _ = int.recv() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc_4648() {
        for (plain, coded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), coded);
        }
    }

    #[test]
    fn notifications_hold_no_control_bytes_and_pass_through_tmux() {
        let hostile = "eve\x1b]0;pwned\x07\u{9b}2J;x\u{202e}";
        let plain = notification(Notify::Osc9, hostile, false);
        let body = &plain[4..plain.len() - 1];
        assert_eq!(&plain[..4], "\x1b]9;");
        assert!(!body.chars().any(char::is_control), "{body:?}");
        assert_eq!(body, "eve^[]0,pwned^G<9B>2J,x");
        let osc777 = notification(Notify::Osc777, "bob: new message", false);
        assert_eq!(osc777, "\x1b]777;notify;lanchat;bob: new message\x07");
        let wrapped = notification(Notify::Osc9, "bob", true);
        assert_eq!(wrapped, "\x1bPtmux;\x1b\x1b]9;bob\x07\x1b\\");
        assert_eq!(notification(Notify::Off, "bob", false), "");
        assert_eq!(notification_text(&"字".repeat(500)).chars().count(), 100);
    }

    #[test]
    fn osc52_carries_hostile_text_inertly() {
        let seq = osc52("你好\x1b]0;pwned\x07");
        assert!(seq.starts_with("\x1b]52;c;") && seq.ends_with('\x07'));
        let body = &seq[7..seq.len() - 1];
        assert!(
            body.chars()
                .all(|c| c.is_ascii_alphanumeric() || "+/=".contains(c))
        );
    }
}
