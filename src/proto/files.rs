//! Files and pictures: what an offer says, and what a claimed name may become on this disk.
//!
//! No IO and no clock here: the runtime hashes, reads and writes; this module decides.
//!
//! A transfer goes like this. The sender hashes the whole file (BLAKE3) and sends a
//! [`FileOffer`] over the encrypted chat stream (`wire::Body::FileOffer`). Nothing is written
//! on the receiver's disk until the user accepts; then the receiver names the file with
//! [`safe_name`] and [`unique_name`], writes to [`partial_name`], fetches the data over TCP
//! (`proto::filedata`), checks the hash over the whole file, and only then renames the partial
//! file into place. Either side may cancel ([`CancelReason`]); the receiver may decline.
//!
//! Invariants, for everything a peer says about a file:
//! - **An offer is bounded.** The name is UTF-8 of 1 to [`MAX_NAME_BYTES`] bytes, the size at
//!   most [`MAX_FILE_BYTES`], the port not 0, the id not 0 (`wire` refuses anything else as
//!   malformed, counted and dropped like any bad frame).
//! - **A claimed name is never a path.** [`safe_name`] keeps the last component only and
//!   returns a name with no separator, no control, bidi or invisible character, no `..`, no
//!   leading dot, no trailing dot or space, no reserved device name, not empty, at most
//!   [`MAX_LOCAL_NAME_BYTES`]: joined to the download directory it names a file directly in
//!   it. [`unique_name`] never picks a name that exists, so nothing is overwritten.
//! - **Nothing counts until verified.** Data lands in the partial file; only a whole file whose
//!   BLAKE3 hash is the offer's is renamed to its name.
//! - **A signal counts only from the transfer's peer** and only where [`TransferState`]
//!   allows the move ([`TransferState::can_move_to`]): a stale or forged accept, decline or
//!   cancel cannot bring a finished transfer back.

use super::wire::clip_utf8;
use crate::text;
use std::fmt;
use std::str::FromStr;
use thiserror::Error;

/// Longest file name an offer carries, in bytes of UTF-8: what common file systems allow
/// for one name. (Its length travels in one byte.)
pub const MAX_NAME_BYTES: usize = 255;
/// Longest name [`safe_name`] and [`unique_name`] give, in bytes of UTF-8.
pub const MAX_LOCAL_NAME_BYTES: usize = 255;
/// Largest file an offer may name (1 TiB): anything larger is a malformed offer.
pub const MAX_FILE_BYTES: u64 = 1 << 40;
/// Largest file accepted unless the settings say otherwise (8 GiB).
pub const DEFAULT_MAX_FILE_BYTES: u64 = 8 << 30;
/// How many ` (n)` names [`unique_name`] tries before giving up.
pub const MAX_UNIQUE_TRIES: u32 = 1000;
/// Longest extension kept apart when a name is cut or numbered, dot included.
const MAX_EXT_BYTES: usize = 32;
/// What the partial file adds to the final name.
const PARTIAL_SUFFIX: &str = ".part";
/// What a name with nothing safe left in it becomes.
const FALLBACK_NAME: &str = "file";

/// A transfer's name, chosen at random by the sender. Never zero. Shown as 32 hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TransferId(pub [u8; 16]);

impl TransferId {
    pub fn is_zero(&self) -> bool {
        self.0 == [0; 16]
    }

    /// Lower-case hex, 32 characters.
    pub fn to_hex(&self) -> String {
        to_hex(&self.0)
    }

    /// 32 hex digits, not all zero.
    pub fn from_hex(s: &str) -> Option<Self> {
        from_hex(s).map(Self).filter(|id| !id.is_zero())
    }
}

impl fmt::Display for TransferId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for TransferId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TransferId({})", self.to_hex())
    }
}

#[derive(Debug, Error, PartialEq, Eq)]
#[error("not a transfer id: 32 hex digits, not all zero")]
pub struct BadTransferId;

impl FromStr for TransferId {
    type Err = BadTransferId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_hex(s).ok_or(BadTransferId)
    }
}

/// Lower-case hex of any bytes (a hash, an id).
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0xF)]));
    }
    s
}

/// Exactly `2 * N` hex digits, either case.
pub fn from_hex<const N: usize>(s: &str) -> Option<[u8; N]> {
    let s = s.as_bytes();
    if s.len() != 2 * N {
        return None;
    }
    let digit = |c: u8| {
        char::from(c)
            .to_digit(16)
            .and_then(|d| u8::try_from(d).ok())
    };
    let mut out = [0u8; N];
    for (byte, pair) in out.iter_mut().zip(s.chunks_exact(2)) {
        *byte = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    Some(out)
}

/// What a sender offers: travels as `wire::Body::FileOffer`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileOffer {
    pub id: TransferId,
    /// The sender's name for the file: untrusted. Shown through `text::sanitize`, written to
    /// disk only through [`safe_name`].
    pub name: String,
    /// Bytes, at most [`MAX_FILE_BYTES`].
    pub size: u64,
    /// BLAKE3 of the whole file.
    pub hash: [u8; 32],
    /// The sender's TCP port for the data (`proto::filedata`).
    pub port: u16,
}

/// Why a transfer was stopped (`wire::Body::FileCancel`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CancelReason {
    /// Someone pressed cancel.
    Cancelled,
    /// Reading or writing failed (a full disk, a lost file system).
    Failed,
    /// The data did not match the offer's hash.
    Corrupt,
    /// The sender's file changed or went away since it was offered.
    Changed,
}

impl CancelReason {
    pub const ALL: [CancelReason; 4] = [
        CancelReason::Cancelled,
        CancelReason::Failed,
        CancelReason::Corrupt,
        CancelReason::Changed,
    ];

    pub fn to_byte(self) -> u8 {
        match self {
            CancelReason::Cancelled => 1,
            CancelReason::Failed => 2,
            CancelReason::Corrupt => 3,
            CancelReason::Changed => 4,
        }
    }

    pub fn from_byte(b: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.to_byte() == b)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CancelReason::Cancelled => "cancelled",
            CancelReason::Failed => "failed",
            CancelReason::Corrupt => "corrupt",
            CancelReason::Changed => "changed",
        }
    }
}

/// A file message from a peer, as the endpoint hands it up (`Event::File`): the file bodies
/// of `wire::Body`, in one type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileSignal {
    Offer(FileOffer),
    Accept(TransferId),
    Decline(TransferId),
    Cancel {
        id: TransferId,
        reason: CancelReason,
    },
}

impl FileSignal {
    /// The transfer it is about.
    pub fn transfer(&self) -> TransferId {
        match self {
            FileSignal::Offer(offer) => offer.id,
            FileSignal::Accept(id) | FileSignal::Decline(id) | FileSignal::Cancel { id, .. } => *id,
        }
    }
}

/// Which way a transfer goes, seen from here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Offered to me.
    In,
    /// Offered by me.
    Out,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::In => "in",
            Direction::Out => "out",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Direction::In, Direction::Out]
            .into_iter()
            .find(|d| d.as_str() == s)
    }
}

/// Where a transfer stands. Done, declined and cancelled are final; a failed one may be
/// tried again (it resumes from what the partial file holds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransferState {
    /// Offered, not answered yet.
    Offered,
    /// The receiver said yes; the data has not started flowing (or stopped, to resume).
    Accepted,
    Declined,
    /// Data is flowing.
    Running,
    /// Whole and verified (receiver), or all sent and confirmed (sender).
    Done,
    Failed,
    Cancelled,
}

impl TransferState {
    pub const ALL: [TransferState; 7] = [
        TransferState::Offered,
        TransferState::Accepted,
        TransferState::Declined,
        TransferState::Running,
        TransferState::Done,
        TransferState::Failed,
        TransferState::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TransferState::Offered => "offered",
            TransferState::Accepted => "accepted",
            TransferState::Declined => "declined",
            TransferState::Running => "running",
            TransferState::Done => "done",
            TransferState::Failed => "failed",
            TransferState::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// Nothing more happens to it, ever.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            TransferState::Done | TransferState::Declined | TransferState::Cancelled
        )
    }

    /// Still going, or waiting for an answer or a connection: what a restart picks up.
    pub fn is_unfinished(self) -> bool {
        matches!(
            self,
            TransferState::Offered | TransferState::Accepted | TransferState::Running
        )
    }

    /// May a transfer in this state move to `next`? Staying put is allowed (progress while
    /// running, a repeated signal); a final state never changes.
    pub fn can_move_to(self, next: TransferState) -> bool {
        use TransferState::*;
        if self == next {
            return true;
        }
        match self {
            Offered => matches!(next, Accepted | Declined | Cancelled | Failed),
            Accepted => matches!(next, Running | Done | Cancelled | Failed),
            Running => matches!(next, Accepted | Done | Cancelled | Failed),
            Failed => matches!(next, Accepted | Running | Cancelled),
            Done | Declined | Cancelled => false,
        }
    }
}

/// Why a transfer stopped or waits, as the store keeps it (`transfers.error`) and the screen
/// says it (each has a message in both languages). The pipe says it in English words of its
/// own. Codes are stable: they are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Problem {
    /// The receiver said no.
    Declined,
    /// Cancelled on this side.
    Cancelled,
    /// The other side cancelled.
    PeerCancelled,
    /// The other side stopped because reading or writing failed there.
    PeerFailed,
    /// No space left on this disk.
    DiskFull,
    /// The receiver's disk is full.
    PeerDiskFull,
    /// This side may not write (or read) the file.
    Permission,
    /// The receiver may not write the file.
    PeerPermission,
    /// The sender cannot read its file.
    SourceUnreadable,
    /// The file offered is no longer there.
    SourceGone,
    /// The file offered changed since it was offered.
    SourceChanged,
    /// The sender does not offer this transfer (any more).
    Unknown,
    /// The sender has too many transfers running.
    Busy,
    /// The whole file did not match the offer's hash: discarded.
    HashMismatch,
    /// The connection failed or broke.
    ConnectionLost,
    /// The other side stopped answering.
    TimedOut,
    /// The other side broke the protocol.
    Protocol,
    /// Something already has the file's name.
    Exists,
    /// Larger than `max_file_size`.
    TooLarge,
    /// Too many offers waiting already.
    TooMany,
    /// The offer could not be sent.
    NotSent,
    /// Another error reading or writing a file here.
    Io,
    /// A folder was offered (an IP Messenger peer can): not taken yet.
    Folder,
}

impl Problem {
    pub const ALL: [Problem; 23] = [
        Problem::Declined,
        Problem::Cancelled,
        Problem::PeerCancelled,
        Problem::PeerFailed,
        Problem::DiskFull,
        Problem::PeerDiskFull,
        Problem::Permission,
        Problem::PeerPermission,
        Problem::SourceUnreadable,
        Problem::SourceGone,
        Problem::SourceChanged,
        Problem::Unknown,
        Problem::Busy,
        Problem::HashMismatch,
        Problem::ConnectionLost,
        Problem::TimedOut,
        Problem::Protocol,
        Problem::Exists,
        Problem::TooLarge,
        Problem::TooMany,
        Problem::NotSent,
        Problem::Io,
        Problem::Folder,
    ];

    /// The stored code (kebab-case, stable).
    pub fn as_str(self) -> &'static str {
        match self {
            Problem::Declined => "declined",
            Problem::Cancelled => "cancelled",
            Problem::PeerCancelled => "peer-cancelled",
            Problem::PeerFailed => "peer-failed",
            Problem::DiskFull => "disk-full",
            Problem::PeerDiskFull => "peer-disk-full",
            Problem::Permission => "permission",
            Problem::PeerPermission => "peer-permission",
            Problem::SourceUnreadable => "source-unreadable",
            Problem::SourceGone => "source-gone",
            Problem::SourceChanged => "source-changed",
            Problem::Unknown => "unknown",
            Problem::Busy => "busy",
            Problem::HashMismatch => "hash-mismatch",
            Problem::ConnectionLost => "connection-lost",
            Problem::TimedOut => "timed-out",
            Problem::Protocol => "protocol",
            Problem::Exists => "exists",
            Problem::TooLarge => "too-large",
            Problem::TooMany => "too-many",
            Problem::NotSent => "not-sent",
            Problem::Io => "io",
            Problem::Folder => "folder",
        }
    }

    /// The problem a stored code names. Text stored by older builds (English sentences) is
    /// no code: `None`, and it is shown as it is.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// What the peer's cancel reason means here.
    pub fn from_cancel(reason: CancelReason) -> Self {
        match reason {
            CancelReason::Cancelled => Problem::PeerCancelled,
            CancelReason::Failed => Problem::PeerFailed,
            CancelReason::Corrupt => Problem::HashMismatch,
            CancelReason::Changed => Problem::SourceChanged,
        }
    }

    /// Fixing the cause (freeing space, a permission) and trying again may help: the
    /// transfer waits to resume rather than ending.
    pub fn may_resume(self) -> bool {
        !matches!(
            self,
            Problem::Declined
                | Problem::Cancelled
                | Problem::PeerCancelled
                | Problem::Unknown
                | Problem::TooLarge
                | Problem::TooMany
                | Problem::Folder
        )
    }
}

/// What a file is, from its name: how its bubble looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileKind {
    Image,
    Video,
    Audio,
    Archive,
    Document,
    Other,
}

impl FileKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FileKind::Image => "image",
            FileKind::Video => "video",
            FileKind::Audio => "audio",
            FileKind::Archive => "archive",
            FileKind::Document => "document",
            FileKind::Other => "other",
        }
    }
}

/// The kind of file `name` is, by its extension (any case).
pub fn kind_of(name: &str) -> FileKind {
    let Some((_, ext)) = name.rsplit_once('.') else {
        return FileKind::Other;
    };
    if ext.len() > 8 {
        return FileKind::Other;
    }
    let ext = ext.to_ascii_lowercase();
    let table: [(FileKind, &[&str]); 5] = [
        (
            FileKind::Image,
            &[
                "png", "jpg", "jpeg", "gif", "webp", "bmp", "tif", "tiff", "heic", "heif", "avif",
                "svg", "ico",
            ],
        ),
        (
            FileKind::Video,
            &[
                "mp4", "mkv", "mov", "avi", "webm", "m4v", "wmv", "flv", "mpg", "mpeg", "3gp",
            ],
        ),
        (
            FileKind::Audio,
            &[
                "mp3", "wav", "flac", "ogg", "oga", "opus", "m4a", "aac", "wma", "aiff", "amr",
            ],
        ),
        (
            FileKind::Archive,
            &[
                "zip", "tar", "gz", "tgz", "bz2", "xz", "zst", "7z", "rar", "iso", "dmg", "deb",
                "rpm",
            ],
        ),
        (
            FileKind::Document,
            &[
                "pdf", "doc", "docx", "xls", "xlsx", "ppt", "pptx", "odt", "ods", "odp", "txt",
                "md", "rtf", "csv", "epub", "wps", "et", "dps",
            ],
        ),
    ];
    table
        .into_iter()
        .find(|(_, exts)| exts.contains(&ext.as_str()))
        .map_or(FileKind::Other, |(kind, _)| kind)
}

/// Characters Windows does not allow in a name: replaced, so that a name received here can
/// be copied anywhere.
const NOT_PORTABLE: [char; 7] = ['<', '>', ':', '"', '|', '?', '*'];

/// Device names Windows reserves whatever the extension (`con.txt` is the console), in upper
/// case.
const RESERVED: [&str; 32] = [
    "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$", "COM0", "COM1", "COM2", "COM3", "COM4",
    "COM5", "COM6", "COM7", "COM8", "COM9", "COM¹", "COM²", "COM³", "LPT0", "LPT1", "LPT2", "LPT3",
    "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9", "LPT¹", "LPT²", "LPT³",
];

/// Is `name` (or its part before the first dot, trailing spaces ignored) a reserved device
/// name, in any case?
pub fn is_reserved(name: &str) -> bool {
    let stem = name.split('.').next().unwrap_or(name).trim_end();
    stem.len() <= 8 && RESERVED.contains(&stem.to_uppercase().as_str())
}

fn trim_edges(s: &str) -> &str {
    s.trim_matches(|c: char| c == '.' || c.is_whitespace())
}

fn trim_end(s: &str) -> &str {
    s.trim_end_matches(|c: char| c == '.' || c.is_whitespace())
}

/// A name split before its extension (dot included), where it has a short one: `a.txt` is
/// `("a", ".txt")`, `a.tar.gz` is `("a", ".tar.gz")`, `.profile` and `a` have none.
fn split_ext(name: &str) -> (&str, &str) {
    let Some(dot) = name.rfind('.').filter(|&i| i > 0) else {
        return (name, "");
    };
    let (stem, ext) = name.split_at(dot);
    if ext.len() > MAX_EXT_BYTES || ext.len() < 2 {
        return (name, "");
    }
    match stem.strip_suffix(".tar").filter(|s| !s.is_empty()) {
        Some(before) if ext.len() + 4 <= MAX_EXT_BYTES => name.split_at(before.len()),
        _ => (stem, ext),
    }
}

/// `stem` cut to `room` bytes (on a character boundary, without a dot or space left at its
/// end) joined to `tail`.
fn fit(stem: &str, room: usize, tail: &str) -> String {
    let stem = trim_end(clip_utf8(stem, room));
    format!("{stem}{tail}")
}

/// A name for `claimed` (a peer's word) that is safe to join to the download directory:
/// see the module's invariants. Deterministic, and `safe_name(safe_name(x)) == safe_name(x)`.
pub fn safe_name(claimed: &str) -> String {
    // A name is never a path: only what follows the last separator counts (`a/b` is `b`,
    // `../../.bashrc` is `.bashrc`, then `bashrc`).
    let base = claimed
        .rsplit(['/', '\\'])
        .find(|part| !trim_edges(part).is_empty())
        .unwrap_or("");
    let mut clean = String::with_capacity(base.len());
    let mut after_dot = false;
    for c in base.chars() {
        if text::is_unsafe(c) || text::is_invisible(c) {
            continue;
        }
        let c = if NOT_PORTABLE.contains(&c) { '_' } else { c };
        // Runs of dots become one: no `..` anywhere.
        if c == '.' && after_dot {
            continue;
        }
        after_dot = c == '.';
        clean.push(c);
    }
    let mut name = cap(trim_edges(&clean));
    if name.is_empty() {
        return FALLBACK_NAME.to_owned();
    }
    if is_reserved(&name) {
        // Starting with `_`, no cut of it is reserved.
        name = cap(&format!("_{name}"));
    }
    name
}

/// `name` cut to [`MAX_LOCAL_NAME_BYTES`], keeping a short extension.
fn cap(name: &str) -> String {
    if name.len() <= MAX_LOCAL_NAME_BYTES {
        return name.to_owned();
    }
    let (stem, ext) = split_ext(name);
    fit(stem, MAX_LOCAL_NAME_BYTES - ext.len(), ext)
}

/// `name` if nothing by that name `exists`, else the first free of `name (1).ext`,
/// `name (2).ext`, … (at most [`MAX_UNIQUE_TRIES`], each within [`MAX_LOCAL_NAME_BYTES`]).
/// `None` if all are taken. `name` should come from [`safe_name`]; so then does every
/// answer. `exists` should look for the [`partial_name`] of a candidate too.
pub fn unique_name(name: &str, exists: impl Fn(&str) -> bool) -> Option<String> {
    if !exists(name) {
        return Some(name.to_owned());
    }
    let (stem, ext) = split_ext(name);
    (1..=MAX_UNIQUE_TRIES)
        .map(|n| {
            let tail = format!(" ({n}){ext}");
            fit(stem, MAX_LOCAL_NAME_BYTES.saturating_sub(tail.len()), &tail)
        })
        .find(|candidate| !exists(candidate))
}

/// The name of the partial file a download to `name` is written to before it is verified:
/// `name.part`, cut to fit [`MAX_LOCAL_NAME_BYTES`].
pub fn partial_name(name: &str) -> String {
    fit(
        name,
        MAX_LOCAL_NAME_BYTES - PARTIAL_SUFFIX.len(),
        PARTIAL_SUFFIX,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Everything the module promises about a name on this disk.
    fn assert_safe(name: &str) {
        assert!(!name.is_empty(), "empty");
        assert!(name.len() <= MAX_LOCAL_NAME_BYTES, "{} bytes", name.len());
        assert!(!name.contains(['/', '\\']), "separator in {name:?}");
        assert!(!name.contains(".."), "`..` in {name:?}");
        assert!(!name.starts_with('.'), "hidden: {name:?}");
        assert!(
            !name.ends_with(|c: char| c == '.' || c.is_whitespace()),
            "trailing dot or space: {name:?}"
        );
        assert!(
            !name
                .chars()
                .any(|c| text::is_unsafe(c) || text::is_invisible(c) || NOT_PORTABLE.contains(&c)),
            "unsafe character in {name:?}"
        );
        assert!(!is_reserved(name), "reserved: {name:?}");
    }

    #[test]
    fn hostile_names_from_the_issue_become_safe() {
        let cases = [
            ("../../.bashrc", "bashrc"),
            ("CON", "_CON"),
            ("con.txt", "_con.txt"),
            ("Lpt9.tar.gz", "_Lpt9.tar.gz"),
            ("\x1b]0;pwn\x07.txt", "]0;pwn.txt"),
            ("/etc/passwd", "passwd"),
            ("..\\..\\windows\\system32\\evil.dll", "evil.dll"),
            ("..", "file"),
            ("", "file"),
            ("...", "file"),
            ("/", "file"),
            ("\u{202E}fdp.exe", "fdp.exe"),
            ("invoice\u{202E}fdp.exe", "invoicefdp.exe"),
            ("a\u{200B}b\u{FEFF}.txt", "ab.txt"),
            ("name.   ", "name"),
            ("  spaced  .txt", "spaced  .txt"),
            ("a..b...c.txt", "a.b.c.txt"),
            ("what?<yes>:no|\"x\"*.txt", "what__yes__no__x__.txt"),
            ("照片 2024.jpg", "照片 2024.jpg"),
            ("👨\u{200D}👩\u{200D}👧.png", "👨\u{200D}👩\u{200D}👧.png"),
            ("line\nbreak\r.txt", "linebreak.txt"),
            ("\u{0085}c1.txt", "c1.txt"),
            ("tab\tname", "tabname"),
            ("dir/", "dir"),
        ];
        for (claimed, want) in cases {
            let got = safe_name(claimed);
            assert_eq!(got, want, "{claimed:?}");
            assert_safe(&got);
        }
    }

    #[test]
    fn a_ten_thousand_character_name_is_cut_keeping_its_extension() {
        let long = format!("{}.jpg", "a".repeat(10_000));
        let got = safe_name(&long);
        assert_safe(&got);
        assert_eq!(got.len(), MAX_LOCAL_NAME_BYTES);
        assert!(got.ends_with("a.jpg"));
        // Three-byte characters: cut on a character boundary.
        let long = format!("{}.png", "图".repeat(10_000));
        let got = safe_name(&long);
        assert_safe(&got);
        assert!(got.ends_with("图.png") && got.len() > MAX_LOCAL_NAME_BYTES - 3);
        // No extension worth keeping.
        let got = safe_name(&"x".repeat(10_000));
        assert_eq!(got, "x".repeat(MAX_LOCAL_NAME_BYTES));
        // A cut that ends on a dot does not leave `..` or a trailing dot.
        let dotted = format!("{}.txt", "a.".repeat(400));
        assert_safe(&safe_name(&dotted));
        // A cut that leaves a reserved name once its spaces go.
        let got = safe_name(&format!("CON{}x", " ".repeat(300)));
        assert_safe(&got);
        assert_eq!(got, "_CON");
        // A reserved name with an extension at the cap: the prefix does not push it over.
        let got = safe_name(&format!("nul.{}", "e".repeat(300)));
        assert_safe(&got);
        assert!(got.starts_with("_nul."));
    }

    #[test]
    fn reserved_names_are_caught_in_any_case_and_with_any_extension() {
        for name in [
            "con",
            "CoN",
            "nul.tar.gz",
            "AUX .txt",
            "com1",
            "LPT3.md",
            "conin$",
        ] {
            assert!(is_reserved(name), "{name}");
            assert!(!is_reserved(&safe_name(name)), "{name}");
        }
        for name in ["console", "com10", "lpt", "icon.png", "null", "a.con"] {
            assert!(!is_reserved(name), "{name}");
            assert_eq!(safe_name(name), name);
        }
    }

    #[test]
    fn unique_names_count_up_before_the_extension() {
        let taken = ["a.txt", "a (1).txt", "a (2).txt", "b", "c.tar.gz"];
        let exists = |n: &str| taken.contains(&n);
        assert_eq!(unique_name("new.txt", exists).as_deref(), Some("new.txt"));
        assert_eq!(unique_name("a.txt", exists).as_deref(), Some("a (3).txt"));
        assert_eq!(unique_name("b", exists).as_deref(), Some("b (1)"));
        assert_eq!(
            unique_name("c.tar.gz", exists).as_deref(),
            Some("c (1).tar.gz")
        );
        // Everything taken: no name rather than an overwrite.
        assert_eq!(unique_name("a.txt", |_| true), None);
        // A name at the cap stays within it when numbered.
        let long = safe_name(&format!("{}.jpg", "a".repeat(300)));
        let numbered = unique_name(&long, |n| n == long).expect("a free name");
        assert_safe(&numbered);
        assert!(numbered.ends_with("a (1).jpg"), "{numbered}");
    }

    #[test]
    fn partial_names_fit_and_differ_from_the_final_name() {
        assert_eq!(partial_name("a.txt"), "a.txt.part");
        let long = "x".repeat(MAX_LOCAL_NAME_BYTES);
        let p = partial_name(&long);
        assert!(p.len() <= MAX_LOCAL_NAME_BYTES && p.ends_with(".part"));
        assert_safe(&p);
    }

    #[test]
    fn kinds_come_from_the_extension() {
        assert_eq!(kind_of("photo.JPG"), FileKind::Image);
        assert_eq!(kind_of("clip.mp4"), FileKind::Video);
        assert_eq!(kind_of("song.flac"), FileKind::Audio);
        assert_eq!(kind_of("backup.tar.gz"), FileKind::Archive);
        assert_eq!(kind_of("报告.docx"), FileKind::Document);
        assert_eq!(kind_of("README"), FileKind::Other);
        assert_eq!(kind_of("x.unknownext"), FileKind::Other);
        assert_eq!(kind_of("png"), FileKind::Other);
    }

    #[test]
    fn transfer_ids_read_and_write_hex() {
        let id = TransferId([0xAB; 16]);
        assert_eq!(id.to_string(), "ab".repeat(16));
        assert_eq!(id.to_string().parse(), Ok(id));
        assert_eq!("AB".repeat(16).parse(), Ok(id));
        assert_eq!("0".repeat(32).parse::<TransferId>(), Err(BadTransferId));
        assert_eq!("ab".repeat(15).parse::<TransferId>(), Err(BadTransferId));
        assert_eq!("zz".repeat(16).parse::<TransferId>(), Err(BadTransferId));
        assert_eq!(
            format!("{}+", "a".repeat(31)).parse::<TransferId>(),
            Err(BadTransferId)
        );
        assert_eq!(
            format!("{}é", "a".repeat(30)).parse::<TransferId>(),
            Err(BadTransferId)
        );
        assert_eq!(from_hex::<2>("0aFf"), Some([0x0A, 0xFF]));
    }

    #[test]
    fn finished_transfers_stay_finished() {
        use TransferState::*;
        for s in TransferState::ALL {
            assert_eq!(TransferState::parse(s.as_str()), Some(s));
            assert!(!(s.is_final() && s.is_unfinished()));
            for next in TransferState::ALL {
                if s.is_final() && next != s {
                    assert!(!s.can_move_to(next), "{s:?} -> {next:?}");
                }
            }
            assert!(!s.can_move_to(Offered) || s == Offered, "{s:?} -> Offered");
        }
        assert!(Offered.can_move_to(Accepted));
        assert!(Offered.can_move_to(Declined));
        assert!(!Offered.can_move_to(Running));
        assert!(!Offered.can_move_to(Done));
        assert!(Accepted.can_move_to(Running));
        assert!(Running.can_move_to(Done));
        assert!(Failed.can_move_to(Running));
        assert!(!Declined.can_move_to(Accepted));
        assert!(!Done.can_move_to(Failed));
        for r in CancelReason::ALL {
            assert_eq!(CancelReason::from_byte(r.to_byte()), Some(r));
        }
        assert_eq!(CancelReason::from_byte(0), None);
        for d in [Direction::In, Direction::Out] {
            assert_eq!(Direction::parse(d.as_str()), Some(d));
        }
    }

    proptest! {
        #[test]
        fn safe_name_is_always_safe(claimed in any::<String>()) {
            let name = safe_name(&claimed);
            assert_safe(&name);
            prop_assert_eq!(safe_name(&name), name);
        }

        #[test]
        fn safe_name_is_safe_on_hostile_pieces(
            parts in proptest::collection::vec(
                prop_oneof![
                    Just("."), Just(".."), Just("/"), Just("\\"), Just(" "), Just("\u{1b}"),
                    Just("\u{202E}"), Just("\u{200B}"), Just("\u{0}"), Just("\u{7F}"),
                    Just("\u{9B}"), Just("con"), Just("LPT1"), Just("a"), Just("图"),
                    Just(".txt"), Just("\u{E0041}"),
                ],
                0..200,
            )
        ) {
            let claimed: String = parts.concat();
            let name = safe_name(&claimed);
            assert_safe(&name);
            prop_assert_eq!(safe_name(&name), name);
        }

        #[test]
        fn unique_names_are_safe_and_new(claimed in any::<String>(), taken in 0usize..20) {
            let name = safe_name(&claimed);
            // The first `taken` candidates exist.
            let mut existing = vec![name.clone()];
            for n in 1..taken {
                let (stem, ext) = split_ext(&name);
                let tail = format!(" ({n}){ext}");
                existing.push(fit(stem, MAX_LOCAL_NAME_BYTES - tail.len(), &tail));
            }
            let exists = |n: &str| taken > 0 && existing.iter().any(|e| e == n);
            let got = unique_name(&name, exists).expect("a free name");
            assert_safe(&got);
            prop_assert!(!exists(&got));
            prop_assert_eq!(safe_name(&got), got.clone());
            assert_safe(&partial_name(&got));
        }

        #[test]
        fn ids_round_trip_through_hex(bytes in any::<[u8; 16]>()) {
            let id = TransferId(bytes);
            let parsed = id.to_string().parse::<TransferId>();
            if id.is_zero() {
                prop_assert_eq!(parsed, Err(BadTransferId));
            } else {
                prop_assert_eq!(parsed, Ok(id));
            }
        }
    }
}
