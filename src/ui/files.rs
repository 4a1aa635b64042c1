//! File bubbles: what a transfer looks like in the message pane, in the sidebar and on the
//! status line.
//!
//! A bubble is always [`layout::FILE_BUBBLE_LINES`] lines under its header, whatever its
//! state, so that the view never jumps as a transfer moves on: the name; the kind, size
//! and where it stands; and a progress bar or what can be done with it.

use super::{align, key_name, pal};
use crate::app::App;
use crate::app::files::{percent, problem_text};
use crate::app::keymap::{Action, Mode};
use crate::i18n::Lang;
use crate::layout;
use crate::message::{FileCard, Message};
use crate::proto::files::{Direction, FileKind, TransferState};
use crate::text;
use crate::tr;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};

/// Widest a file bubble gets (its text, padding not counted).
const MAX_BUBBLE_TEXT: usize = 44;

/// Bytes for people: `512 B`, `12.3 KB`, `4.0 GB` (powers of 1024, one decimal).
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["KB", "MB", "GB", "TB", "PB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut v = bytes as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    // 1023.96 KB would print as "1024.0 KB": call it the next unit.
    if v >= 1023.95 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

/// Seconds as `0:42`, `12:05` or `3:04:05`.
pub fn duration(s: u64) -> String {
    let (h, m, s) = (s / 3600, s / 60 % 60, s % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

fn kind_label(lang: Lang, kind: FileKind) -> String {
    match kind {
        FileKind::Image => tr!(lang, "files-kind-image"),
        FileKind::Video => tr!(lang, "files-kind-video"),
        FileKind::Audio => tr!(lang, "files-kind-audio"),
        FileKind::Archive => tr!(lang, "files-kind-archive"),
        FileKind::Document => tr!(lang, "files-kind-document"),
        FileKind::Other => tr!(lang, "files-kind-other"),
    }
}

/// The kind and the extension: `Document (PDF)`.
fn type_label(lang: Lang, card: &FileCard) -> String {
    let kind = kind_label(lang, card.kind());
    let ext =
        card.name.rsplit_once('.').map(|(_, e)| e).filter(|e| {
            !e.is_empty() && e.len() <= 8 && e.chars().all(|c| c.is_ascii_alphanumeric())
        });
    match ext {
        Some(e) => format!("{kind} ({})", e.to_ascii_uppercase()),
        None => kind,
    }
}

/// `[█████░░░░░]` of `width` columns.
fn bar(done: u64, size: u64, width: usize) -> String {
    let inner = width.saturating_sub(2);
    let full = if size == 0 {
        inner
    } else {
        (u128::from(done.min(size)) * inner as u128 / u128::from(size)) as usize
    };
    format!("[{}{}]", "█".repeat(full), "░".repeat(inner - full))
}

/// The keys of the picked-message mode for `action`, if bound.
fn picked_key(app: &App, action: Action) -> Option<String> {
    key_name(app, Mode::Picked, action)
}

/// The second and third lines of a bubble, and whether they tell of a problem.
fn status(app: &App, m: &Message, card: &FileCard, width: usize) -> (String, String, bool) {
    let lang = app.lang;
    let picked = app.picked == Some(m.id);
    let size = human_size(card.size);
    let meta = format!("{} · {size}", type_label(lang, card));
    let problem = card.problem().map(|p| problem_text(lang, p)).or_else(|| {
        // Text kept by an older build is shown as it is (it is ours, but sanitised anyway).
        card.problem.as_deref().map(text::sanitize_line)
    });
    let key_hint = |action: Action, id: &str| {
        picked_key(app, action).map(|k| tr!(lang, "files-key-hint", key = k, what = lang.text(id)))
    };
    match (card.state, card.direction) {
        (TransferState::Running, _) if card.size > 0 && card.done >= card.size => {
            // All through: the receiver makes it durable and checks the whole file.
            (meta, tr!(lang, "files-finishing"), false)
        }
        (TransferState::Running, _) => {
            let live = app.transfer_live(&card.id);
            // In order of need; each only if it still fits.
            let mut wanted = vec![format!("{}%", percent(card.done, card.size))];
            if let Some(rate) = live.and_then(|l| l.rate()) {
                wanted.push(tr!(lang, "files-rate", rate = human_size(rate as u64)));
            }
            if let Some(eta) = live.and_then(|l| l.eta_s()) {
                wanted.push(tr!(lang, "files-left", time = duration(eta)));
            }
            wanted.push(format!("{} / {size}", human_size(card.done)));
            let mut parts: Vec<String> = Vec::new();
            for part in wanted {
                let used: usize = parts.iter().map(|p| text::width(p) + 3).sum();
                if used + text::width(&part) <= width {
                    parts.push(part);
                }
            }
            (parts.join(" · "), bar(card.done, card.size, width), false)
        }
        (TransferState::Offered, Direction::In) => {
            let line = if picked {
                [
                    key_hint(Action::AcceptFile, "files-accept"),
                    key_hint(Action::StopFile, "files-decline"),
                ]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" · ")
            } else {
                tr!(lang, "files-waiting-for-you")
            };
            (meta, line, false)
        }
        (TransferState::Offered, Direction::Out) => {
            (meta, tr!(lang, "files-waiting-for-answer"), false)
        }
        (TransferState::Accepted, _) => match problem {
            Some(p) => (tr!(lang, "files-paused"), p, true),
            None if card.done > 0 => (
                meta,
                tr!(
                    lang,
                    "files-resumes",
                    percent = percent(card.done, card.size)
                ),
                false,
            ),
            None => (meta, tr!(lang, "files-starting"), false),
        },
        (TransferState::Done, Direction::In) => {
            let line = match (picked, picked_key(app, Action::OpenFile)) {
                (true, Some(k)) => tr!(
                    lang,
                    "files-key-hint",
                    key = k,
                    what = lang.text("files-open")
                ),
                _ => {
                    let place = card
                        .path
                        .as_ref()
                        .map(|p| text::sanitize_line(&p.to_string_lossy()))
                        .unwrap_or_default();
                    tr!(lang, "files-saved-to", path = place)
                }
            };
            (meta, line, false)
        }
        (TransferState::Done, Direction::Out) => (meta, tr!(lang, "files-sent"), false),
        (TransferState::Declined, Direction::In) => (meta, tr!(lang, "files-you-declined"), false),
        (TransferState::Declined, Direction::Out) => {
            (meta, tr!(lang, "files-problem-declined"), true)
        }
        (TransferState::Cancelled, _) => (
            meta,
            problem.unwrap_or_else(|| tr!(lang, "files-problem-cancelled")),
            true,
        ),
        (TransferState::Failed, _) => (
            meta,
            tr!(
                lang,
                "files-failed",
                problem = problem.unwrap_or_else(|| tr!(lang, "files-problem-io"))
            ),
            true,
        ),
    }
}

/// The lines of a file bubble under its header.
pub(super) fn bubble(app: &App, m: &Message, card: &FileCard, width: u16) -> Vec<Line<'static>> {
    let p = pal(app);
    let w = usize::from(width);
    let mine = card.direction == Direction::Out;
    let text_w = layout::bubble_text_width(width).min(MAX_BUBBLE_TEXT);
    let style = if mine { p.mine_bubble } else { p.their_bubble };
    let (second, third, trouble) = status(app, m, card, text_w);
    let name = text::truncate(&text::sanitize_line(&card.name), text_w);
    let row = |s: String, st: Style| {
        let s = text::truncate(&s, text_w);
        let fill = text_w - text::width(&s);
        align(
            vec![
                Span::styled(" ", style),
                Span::styled(s, st),
                Span::styled(" ".repeat(fill + 1), style),
            ],
            mine,
            w,
        )
    };
    let third_style = if trouble {
        style.fg(p.badge).add_modifier(Modifier::BOLD)
    } else {
        style
    };
    let mut lines = vec![
        row(name, style.add_modifier(Modifier::BOLD)),
        row(second, style),
        row(third, third_style),
    ];
    // Room for the picture (drawn over these rows by the message pane).
    lines.extend((0..card.preview_rows).map(|_| Line::raw("")));
    lines
}

/// The picked message's file bubble, if it is one.
pub(super) fn picked_card(app: &App) -> Option<&FileCard> {
    let picked = app.picked?;
    app.selected_conversation()?
        .messages
        .iter()
        .find(|m| m.id == picked)?
        .file
        .as_ref()
}

/// The keys worth showing for a picked bubble, by what can be done with it now.
pub(super) fn picked_actions(card: &FileCard) -> &'static [Action] {
    match (card.state, card.direction) {
        (TransferState::Offered, Direction::In) => &[Action::AcceptFile, Action::StopFile],
        (TransferState::Done, Direction::In) | (TransferState::Done, Direction::Out) => {
            &[Action::OpenFile, Action::Copy]
        }
        (s, _) if !s.is_final() && s != TransferState::Failed => &[Action::StopFile],
        _ => &[Action::Copy, Action::Reply],
    }
}

/// The sidebar's mark for a conversation with a transfer running: `↓42%` or `↑42%`.
pub(super) fn sidebar_mark(app: &App, id: &crate::proto::ConversationId) -> Option<Span<'static>> {
    let (direction, pct) = app.conversation_transfer(id)?;
    let arrow = match direction {
        Direction::In => '↓',
        Direction::Out => '↑',
    };
    Some(Span::styled(
        format!(" {arrow}{pct}%"),
        Style::default().fg(pal(app).accent),
    ))
}

/// What the status line says of all transfers running: how many, how far, how fast.
pub(super) fn status_summary(app: &App) -> Option<String> {
    let t = app.transfer_totals()?;
    Some(tr!(
        app.lang,
        "files-status",
        n = t.running,
        percent = percent(t.done, t.size),
        rate = human_size(t.rate as u64)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_a_person_would_say_them() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1023), "1023 B");
        assert_eq!(human_size(1024), "1.0 KB");
        assert_eq!(human_size(1536), "1.5 KB");
        assert_eq!(human_size(1024 * 1024 - 1), "1.0 MB");
        assert_eq!(human_size(10 * 1024 * 1024), "10.0 MB");
        assert_eq!(human_size(4 << 30), "4.0 GB");
        assert_eq!(human_size(u64::MAX), "16384.0 PB");
    }

    #[test]
    fn durations_and_bars() {
        assert_eq!(duration(0), "0:00");
        assert_eq!(duration(42), "0:42");
        assert_eq!(duration(725), "12:05");
        assert_eq!(duration(11045), "3:04:05");
        assert_eq!(bar(0, 100, 12), "[░░░░░░░░░░]");
        assert_eq!(bar(50, 100, 12), "[█████░░░░░]");
        assert_eq!(bar(100, 100, 12), "[██████████]");
        assert_eq!(bar(0, 0, 4), "[██]");
        assert_eq!(bar(u64::MAX, 1, 4), "[██]");
    }
}
