//! The terminal front end's side of files: the node's file events as the model's news, and
//! the IO the model asks for (offering typed paths, reading a directory to complete a path,
//! looking at a pasted path, opening a file with the system's opener).

use super::Node;
use super::files::FileEvent;
use super::ipmsg_files::IpmsgFileEvent;
use crate::app::Msg;
use crate::app::files::{FileChange, FileNews};
use crate::i18n::Lang;
use crate::message::{Author, FileCard, Message};
use crate::proto::files::{Direction, MAX_FILE_BYTES, Problem, TransferId, TransferState};
use crate::proto::{ConversationId, MsgId};
use crate::tr;
use std::path::{Path, PathBuf};

/// Directory entries read for one completion, at most (a huge directory stays quick).
pub const MAX_DIR_ENTRIES: usize = 4096;
/// Candidates handed to the model, at most.
pub const MAX_CANDIDATES: usize = 256;
/// Longest paste looked at as a path.
const MAX_PASTED_PATH: usize = 4096;

/// The node's file events as the model's messages.
pub fn news(node: &Node, events: Vec<FileEvent>) -> Vec<Msg> {
    events
        .into_iter()
        .map(|e| {
            let (id, change) = match e {
                // The bubble itself comes from the store (`StoreEvent::File`).
                FileEvent::Offered { id, .. } | FileEvent::Offer { id, .. } => (
                    id,
                    FileChange::State {
                        state: TransferState::Offered,
                        problem: None,
                        path: None,
                    },
                ),
                FileEvent::Progress { id, done, size } => (id, FileChange::Progress { done, size }),
                FileEvent::Hashing {
                    id,
                    name,
                    done,
                    size,
                } => (id, FileChange::Preparing { name, done, size }),
                FileEvent::Done { id, path, .. } => (id, FileChange::Done { path }),
                FileEvent::Failed { id, problem, .. } => (id, FileChange::Failed { problem }),
                FileEvent::State {
                    id,
                    state,
                    problem,
                    path,
                } => (
                    id,
                    FileChange::State {
                        state,
                        problem,
                        path,
                    },
                ),
            };
            Msg::File(FileNews {
                id,
                about: node.transfer_about(&id),
                change,
            })
        })
        .collect()
}

/// `~`, `~/…` and relative paths, as a shell would take them.
pub fn resolve(typed: &str) -> PathBuf {
    let home = || std::env::var_os("HOME").map(PathBuf::from);
    if typed == "~" {
        if let Some(h) = home() {
            return h;
        }
    } else if let Some(rest) = typed.strip_prefix("~/")
        && let Some(h) = home()
    {
        return h.join(rest);
    }
    PathBuf::from(typed)
}

/// Offers each typed path to `to` (a lanchat peer, or an IP Messenger one over its own
/// protocol); what cannot be offered is said, in `lang`.
pub fn send_files(node: &mut Node, lang: Lang, to: ConversationId, paths: Vec<String>) -> Vec<Msg> {
    let mut out = Vec::new();
    for typed in paths {
        let path = resolve(&typed);
        let shown = crate::text::sanitize_line(&typed);
        let mut size = 0;
        let refusal = match std::fs::metadata(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Some(tr!(lang, "files-no-such-file", path = shown.clone()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                Some(tr!(lang, "files-cannot-read", path = shown.clone()))
            }
            Err(e) => Some(tr!(
                lang,
                "files-cannot-send",
                path = shown.clone(),
                reason = e.to_string()
            )),
            Ok(m) if m.is_dir() => Some(tr!(lang, "files-is-a-folder", path = shown.clone())),
            Ok(m) if !m.is_file() => {
                Some(tr!(lang, "files-not-a-regular-file", path = shown.clone()))
            }
            Ok(m) if m.len() > MAX_FILE_BYTES => {
                Some(tr!(lang, "files-too-large-to-send", path = shown.clone()))
            }
            Ok(m) => {
                size = m.len();
                None
            }
        };
        if let Some(text) = refusal {
            out.push(Msg::Error(text));
            continue;
        }
        let sent = match to {
            ConversationId::Peer(peer) => node.send_file(peer, &path),
            // Its bubble comes with the offer's event (nothing to hash first).
            ConversationId::Ipmsg(ip) => match node.ipmsg_send_file(ip, &path) {
                Ok(_) => continue,
                Err(e) => Err(e),
            },
            ConversationId::Raw(_) => Err(tr!(lang, "files-not-to-plain")),
            ConversationId::Group(_) => Err(tr!(lang, "group-no-files")),
        };
        match sent {
            Ok(id) => out.push(Msg::File(FileNews {
                id,
                about: None,
                change: FileChange::Preparing {
                    name: path
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                    done: 0,
                    size,
                },
            })),
            Err(reason) => out.push(Msg::Error(tr!(
                lang,
                "files-cannot-send",
                path = shown,
                reason = reason
            ))),
        }
    }
    out
}

/// Accepts, declines or cancels, saying in `lang` what could not be done.
pub fn answer(node: &mut Node, lang: Lang, id: TransferId, what: Answer) -> Option<Msg> {
    if node.is_ipmsg_transfer(&id) {
        return answer_ipmsg(node, lang, id, what);
    }
    let result = match what {
        Answer::Accept(dir) => node.accept_file(id, dir.as_deref().map(resolve)),
        Answer::Decline => node.decline_file(id),
        Answer::Cancel => node.cancel_file(id),
    };
    result
        .err()
        .map(|reason| Msg::Error(tr!(lang, "files-not-done", reason = reason)))
}

/// [`answer`] for a transfer with an IP Messenger peer: its bubble is told here, as the
/// IP Messenger side reports only progress and the end.
fn answer_ipmsg(node: &mut Node, lang: Lang, id: TransferId, what: Answer) -> Option<Msg> {
    let state = |state, problem| {
        Msg::File(FileNews {
            id,
            about: None,
            change: FileChange::State {
                state,
                problem,
                path: None,
            },
        })
    };
    match what {
        Answer::Accept(dir) => match node.ipmsg_accept(id, dir.as_deref().map(resolve)) {
            Ok(()) => Some(state(TransferState::Accepted, None)),
            Err(reason) => Some(Msg::Error(tr!(lang, "files-not-done", reason = reason))),
        },
        Answer::Decline => {
            node.ipmsg_decline(id);
            Some(state(TransferState::Declined, Some(Problem::Declined)))
        }
        Answer::Cancel => {
            node.ipmsg_decline(id);
            Some(state(TransferState::Cancelled, Some(Problem::Cancelled)))
        }
    }
}

/// The bubble's message id for a transfer with an IP Messenger peer (it has no message of
/// its own: the offer's text line is the peer's message).
fn ipmsg_bubble_id(id: &TransferId) -> MsgId {
    let mut b = [0u8; 8];
    b.copy_from_slice(&id.0[..8]);
    MsgId(u64::from_le_bytes(b) | 1)
}

/// What happened to files with IP Messenger peers, as the model's messages: an offer
/// either way is a bubble (in memory: across a restart the offer's text line stays), then
/// progress and the end.
pub fn ipmsg_news(events: Vec<IpmsgFileEvent>, now_ms: i64) -> Vec<Msg> {
    let bubble = |id: TransferId, ip, name: String, size, direction| {
        let author = match direction {
            Direction::In => Author::Ipmsg(ip),
            Direction::Out => Author::Me,
        };
        let mut m = Message::new(ipmsg_bubble_id(&id), author, now_ms, name.clone());
        m.file = Some(FileCard {
            id,
            name,
            size,
            direction,
            state: TransferState::Offered,
            done: 0,
            path: None,
            problem: None,
            preview_rows: 0,
        });
        Msg::FileMessage {
            conversation: ConversationId::Ipmsg(ip),
            message: m,
        }
    };
    let news = |id, change| {
        Msg::File(FileNews {
            id,
            about: None,
            change,
        })
    };
    let mut out = Vec::new();
    for e in events {
        match e {
            IpmsgFileEvent::Offer {
                id,
                from,
                name,
                size,
            } => out.push(bubble(id, from, name, size, Direction::In)),
            IpmsgFileEvent::Offered { id, to, name, size } => {
                out.push(bubble(id, to, name, size, Direction::Out));
            }
            IpmsgFileEvent::Progress { id, done, size } => {
                out.push(news(id, FileChange::Progress { done, size }));
            }
            IpmsgFileEvent::Done { id, path, .. } => out.push(news(id, FileChange::Done { path })),
            IpmsgFileEvent::Failed { id, problem, .. } => {
                let state = if problem.may_resume() {
                    TransferState::Failed
                } else {
                    TransferState::Cancelled
                };
                out.push(news(
                    id,
                    FileChange::State {
                        state,
                        problem: Some(problem),
                        path: None,
                    },
                ));
                out.push(news(id, FileChange::Failed { problem }));
            }
        }
    }
    out
}

/// What the user said to a transfer.
pub enum Answer {
    Accept(Option<String>),
    Decline,
    Cancel,
}

/// What a path typed so far may complete to: the entries of its directory that start with
/// its last part (hidden ones only when that part starts with a dot), directories ending in
/// `/`, sorted; bounded by [`MAX_DIR_ENTRIES`] and [`MAX_CANDIDATES`].
pub fn completions(word: &str) -> Vec<String> {
    let (dir_typed, prefix) = match word.rfind('/') {
        Some(i) => (&word[..=i], &word[i + 1..]),
        None => ("", word),
    };
    let dir = if dir_typed.is_empty() {
        PathBuf::from(".")
    } else {
        resolve(dir_typed)
    };
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut out: Vec<String> = entries
        .take(MAX_DIR_ENTRIES)
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            if !name.starts_with(prefix) || (name.starts_with('.') && !prefix.starts_with('.')) {
                return None;
            }
            // A link to a directory completes as one: only links need a second look.
            let is_dir = match e.file_type() {
                Ok(t) if t.is_symlink() => std::fs::metadata(e.path()).is_ok_and(|m| m.is_dir()),
                Ok(t) => t.is_dir(),
                Err(_) => false,
            };
            Some(format!(
                "{dir_typed}{name}{}",
                if is_dir { "/" } else { "" }
            ))
        })
        .collect();
    out.sort();
    out.truncate(MAX_CANDIDATES);
    out
}

/// A paste that is one line naming an existing file (a plain path, `~/…`, or a
/// `file://` URI, perhaps quoted as a file manager does): its path as typed.
pub fn pasted_path(text: &str) -> Option<String> {
    let t = text.trim();
    if t.is_empty() || t.len() > MAX_PASTED_PATH || t.contains('\n') {
        return None;
    }
    let mut parts = crate::app::files::split_paths(t);
    if parts.len() != 1 {
        // One path with spaces, pasted bare.
        parts = vec![crate::app::files::from_file_uri(t).unwrap_or_else(|| t.to_owned())];
    }
    let typed = parts.pop()?;
    let looks_like_path =
        typed.starts_with('/') || typed.starts_with("~/") || typed.starts_with("./");
    (looks_like_path && std::fs::metadata(resolve(&typed)).is_ok_and(|m| m.is_file()))
        .then_some(typed)
}

/// Opens `path` with the desktop's opener (`xdg-open`, `open` on macOS), detached, its
/// output discarded. Over SSH there may be none: that is said, in `lang`.
pub fn open(path: &Path, lang: Lang) -> Option<Msg> {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    let spawned = std::process::Command::new(opener)
        .arg(path)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    match spawned {
        Ok(mut child) => {
            // Reaped off the loop so it leaves no zombie.
            std::thread::spawn(move || child.wait());
            let name = path
                .file_name()
                .map(|n| crate::text::sanitize_line(&n.to_string_lossy()))
                .unwrap_or_default();
            Some(Msg::Info(tr!(lang, "files-opening", name = name)))
        }
        Err(_) => Some(Msg::Error(tr!(
            lang,
            "files-no-opener",
            opener = opener,
            path = crate::text::sanitize_line(&path.to_string_lossy())
        ))),
    }
}

/// The messages for the model when files moved on, with lanchat peers and IP Messenger
/// ones.
pub fn pump(node: &mut Node, now_ms: i64) -> Vec<Msg> {
    let events = node.take_file_events();
    let mut out = if events.is_empty() {
        Vec::new()
    } else {
        news(node, events)
    };
    out.extend(ipmsg_news(node.take_ipmsg_file_events(), now_ms));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completion_lists_a_directory_by_prefix_with_folders_marked() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("report.pdf"), b"x").unwrap();
        std::fs::write(dir.path().join("readme.txt"), b"x").unwrap();
        std::fs::write(dir.path().join(".hidden"), b"x").unwrap();
        std::fs::create_dir(dir.path().join("recent")).unwrap();
        let base = format!("{}/", dir.path().display());
        assert_eq!(
            completions(&format!("{base}re")),
            [
                format!("{base}readme.txt"),
                format!("{base}recent/"),
                format!("{base}report.pdf")
            ]
        );
        assert_eq!(
            completions(&format!("{base}rep")),
            [format!("{base}report.pdf")]
        );
        assert_eq!(
            completions(&format!("{base}.h")),
            [format!("{base}.hidden")]
        );
        assert!(!completions(&base).iter().any(|c| c.contains(".hidden")));
        assert!(completions(&format!("{base}nothing/")).is_empty());
    }

    #[test]
    fn an_ip_messenger_offer_is_a_bubble_in_its_chat_and_its_end_says_why() {
        use std::net::Ipv4Addr;
        let ip = Ipv4Addr::new(192, 168, 1, 50);
        let id = TransferId([5; 16]);
        let msgs = ipmsg_news(
            vec![
                IpmsgFileEvent::Offer {
                    id,
                    from: ip,
                    name: "报告.docx".into(),
                    size: 1234,
                },
                IpmsgFileEvent::Progress {
                    id,
                    done: 100,
                    size: 1234,
                },
                IpmsgFileEvent::Failed {
                    id,
                    reason: "gone".into(),
                    problem: Problem::ConnectionLost,
                },
            ],
            7,
        );
        let Msg::FileMessage {
            conversation,
            message,
        } = &msgs[0]
        else {
            panic!("{msgs:?}");
        };
        assert_eq!(*conversation, ConversationId::Ipmsg(ip));
        assert_eq!(message.author, Author::Ipmsg(ip));
        let card = message.file.as_ref().unwrap();
        assert_eq!(
            (card.id, card.direction, card.state, card.size),
            (id, Direction::In, TransferState::Offered, 1234)
        );
        assert!(matches!(
            &msgs[1],
            Msg::File(FileNews {
                change: FileChange::Progress { done: 100, .. },
                ..
            })
        ));
        // A broken download may be accepted again (it resumes by offset): failed, not over.
        assert!(matches!(
            &msgs[2],
            Msg::File(FileNews {
                change: FileChange::State {
                    state: TransferState::Failed,
                    problem: Some(Problem::ConnectionLost),
                    ..
                },
                ..
            })
        ));
    }

    #[test]
    fn a_pasted_path_counts_only_if_it_names_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("my photo.png");
        std::fs::write(&file, b"x").unwrap();
        let p = file.display().to_string();
        assert_eq!(pasted_path(&p), Some(p.clone()));
        assert_eq!(pasted_path(&format!("'{p}'\n")), Some(p.clone()));
        assert_eq!(
            pasted_path(&format!("file://{}", p.replace(' ', "%20"))),
            Some(p.clone())
        );
        assert_eq!(pasted_path(&dir.path().display().to_string()), None);
        assert_eq!(pasted_path("hello world"), None);
        assert_eq!(pasted_path(&format!("{p}\nsecond line")), None);
        assert_eq!(pasted_path("/no/such/file"), None);
    }
}
