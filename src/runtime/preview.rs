//! Picture previews (issue 15): the terminal's graphics, decoding off the loop, and a
//! bounded cache of what is ready to draw.
//!
//! [`detect`] asks the terminal once, at start, what it can draw: after the terminal is in
//! raw mode and before the thread that reads keys starts, so that the answers cannot reach
//! it. [`Previews`] turns a request for a transfer's file into a preview on a blocking
//! thread, reports it with [`Previews::next`], and draws it for the view
//! ([`crate::ui::picture::Pictures`]).
//!
//! What a picture from a peer can do, and what it cannot:
//! - Its bytes are decoded only if they are PNG, JPEG, GIF, WebP or BMP by their content
//!   (the name does not count), the file is at most [`MAX_FILE_BYTES`], and the header says
//!   at most [`MAX_SIDE`] pixels a side and [`MAX_DECODED_BYTES`] decoded. The header is read
//!   and checked before anything the size of the picture is allocated, and the decoders are
//!   held to the same limits.
//! - A bad picture is a failure with a reason ([`PreviewEvent::Failed`]), never a crash: a
//!   panic inside a decoder is caught (and the terminal's panic hook lets it pass,
//!   [`decoding`]).
//! - Decoding never runs on the loop: at most [`MAX_RUNNING`] at once on blocking threads,
//!   at most [`MAX_QUEUE`] waiting.
//! - At most [`MAX_PREVIEWS`] previews, and [`MAX_PREVIEW_BYTES`], are kept; the ones drawn
//!   least recently are dropped first, and made again when they are wanted.
//! - Nothing is written to the terminal but by ratatui's draw, except the one query at start.

use crate::config::PreviewMode;
use crate::i18n::Lang;
use crate::proto::files::TransferId;
use crate::tr;
use crate::ui::picture::Pictures;
use crossterm::terminal::{Clear, ClearType};
use image::{DynamicImage, ImageDecoder, ImageError, ImageFormat, ImageReader, Limits};
use ratatui::buffer::Buffer;
use ratatui::layout::{Position, Rect, Size};
use ratatui::widgets::Widget;
use ratatui_image::Image;
use ratatui_image::picker::cap_parser::{Parser, QueryStdioOptions, Response};
use ratatui_image::protocol::Protocol;
use ratatui_image::protocol::halfblocks::{HalfBlock, Halfblocks};
use ratatui_image::protocol::iterm2::Iterm2;
use ratatui_image::protocol::kitty::Kitty;
use ratatui_image::protocol::sixel::Sixel;
use ratatui_image::sliced::{SignedPosition, SlicedImage, SlicedProtocol};
use std::cell::Cell;
use std::collections::{HashMap, VecDeque};
use std::io::{self, Cursor, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::runtime::Handle;
use tokio::sync::mpsc;

/// Largest file looked at (a phone's photo is a few MiB).
pub const MAX_FILE_BYTES: u64 = 32 << 20;
/// Widest and tallest picture decoded, in pixels.
pub const MAX_SIDE: u32 = 16_384;
/// Most bytes a picture may take decoded (a 12-megapixel photo takes 36 MiB).
pub const MAX_DECODED_BYTES: u64 = 64 << 20;
/// Decodes running at once.
pub const MAX_RUNNING: usize = 2;
/// Requests waiting for a decoder at most; past that the oldest is dropped ("busy").
pub const MAX_QUEUE: usize = 256;
/// Previews kept ready to draw at most.
pub const MAX_PREVIEWS: usize = 32;
/// What the previews kept may take, about.
pub const MAX_PREVIEW_BYTES: usize = 64 << 20;
/// Transfers remembered (what was asked for each, and failures) at most.
const MAX_KNOWN: usize = 4096;
/// How long the terminal has to answer the query at start.
pub const QUERY_TIMEOUT: Duration = Duration::from_millis(500);
/// Bytes of answer read at most (a terminal that talks and talks is not answering).
const MAX_QUERY_BYTES: usize = 4096;
/// The formats decoded, told by their first bytes.
const FORMATS: [ImageFormat; 5] = [
    ImageFormat::Png,
    ImageFormat::Jpeg,
    ImageFormat::Gif,
    ImageFormat::WebP,
    ImageFormat::Bmp,
];

/// A terminal character cell's size in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CellPx {
    pub width: u16,
    pub height: u16,
}

impl CellPx {
    /// A half-block cell: one pixel wide, two high.
    const HALF_BLOCK: CellPx = CellPx {
        width: 1,
        height: 2,
    };

    /// Whether a terminal's claim is believable (it sizes what is allocated).
    fn sane(self) -> bool {
        (2..=128).contains(&self.width) && (4..=256).contains(&self.height)
    }
}

/// What previews are drawn with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Graphics {
    /// No previews.
    Off,
    /// Coloured half-block characters: two pixels a cell, on any terminal.
    Halfblocks,
    /// The kitty graphics protocol, with Unicode placeholders (kitty, Ghostty).
    Kitty(CellPx),
    /// Sixels (foot, xterm -ti vt340, mlterm, Windows Terminal, ...).
    Sixel(CellPx),
    /// iTerm2's inline images (iTerm2, WezTerm).
    Iterm2(CellPx),
}

impl Graphics {
    /// What is left under `NO_COLOR`: the view then puts every cell back to the terminal's
    /// colours, which half-blocks are made of and kitty's placeholders name their picture
    /// by. Sixels and iTerm2's pictures are not cells: they stay.
    pub fn without_color(self) -> Graphics {
        match self {
            Graphics::Halfblocks | Graphics::Kitty(_) => Graphics::Off,
            other => other,
        }
    }
}

/// Whether `env` says we run inside a terminal multiplexer (tmux, screen, zellij), where
/// graphics need passthrough that may be off and do not survive switching panes.
pub fn multiplexed(env: &impl Fn(&str) -> Option<String>) -> bool {
    let set = |name: &str| env(name).is_some_and(|v| !v.is_empty());
    let term = env("TERM").unwrap_or_default();
    set("TMUX")
        || set("STY")
        || set("ZELLIJ")
        || term.starts_with("tmux")
        || term.starts_with("screen")
}

/// Whether the terminal is one that has no graphics and may show the query as text (the
/// Linux console, a dumb terminal): it is not asked.
fn never_asked(env: &impl Fn(&str) -> Option<String>) -> bool {
    let term = env("TERM").unwrap_or_default();
    term.is_empty() || term == "dumb" || term.starts_with("linux")
}

/// What to draw previews with, as the setting says; with "auto", as the terminal answers.
///
/// Asks the terminal (writes the query to stdout, reads the answers from `/dev/tty` for at
/// most [`QUERY_TIMEOUT`]): call it once the terminal is in raw mode on the alternate
/// screen, which it clears, and before anything else reads keys. Inside a multiplexer, on
/// the Linux console, when stdout is not a terminal, or when the terminal does not answer in
/// time, half-blocks.
pub fn detect(mode: PreviewMode, env: impl Fn(&str) -> Option<String>) -> Graphics {
    match mode {
        PreviewMode::Off => Graphics::Off,
        PreviewMode::Halfblocks => Graphics::Halfblocks,
        PreviewMode::Auto => {
            if multiplexed(&env) || never_asked(&env) || !io::stdout().is_terminal() {
                return Graphics::Halfblocks;
            }
            let answers = query_terminal(QUERY_TIMEOUT).unwrap_or_else(|e| {
                tracing::info!(%e, "graphics query failed");
                None
            });
            let cell = crossterm::terminal::window_size()
                .ok()
                .and_then(|w| cell_from_window(w.width, w.height, w.columns, w.rows));
            let graphics = choose(answers.as_deref(), &env, cell);
            tracing::info!(?graphics, ?answers, "picture previews");
            graphics
        }
    }
}

/// A cell's size from the window's size in pixels and in cells (`TIOCGWINSZ`).
pub fn cell_from_window(width: u16, height: u16, columns: u16, rows: u16) -> Option<CellPx> {
    if columns == 0 || rows == 0 {
        return None;
    }
    let cell = CellPx {
        width: width / columns,
        height: height / rows,
    };
    cell.sane().then_some(cell)
}

/// The choice, from the terminal's answers to the query (`None`: it did not finish
/// answering), the environment, and the cell size the window reports.
///
/// Graphics need the cell's size in pixels; without a believable one, half-blocks. kitty's
/// answer wins; then iTerm2's protocol where the environment names iTerm2 or WezTerm
/// (WezTerm's kitty placeholders and sixels fall short); then sixels. Konsole's kitty
/// support lacks placeholders and its sixels are unreliable: half-blocks.
pub fn choose(
    answers: Option<&[Response]>,
    env: &impl Fn(&str) -> Option<String>,
    window_cell: Option<CellPx>,
) -> Graphics {
    let Some(answers) = answers else {
        return Graphics::Halfblocks;
    };
    let answered_cell = answers.iter().find_map(|r| match r {
        Response::CellSize(Some((width, height))) => Some(CellPx {
            width: *width,
            height: *height,
        }),
        _ => None,
    });
    let Some(cell) = answered_cell.or(window_cell).filter(|c| c.sane()) else {
        return Graphics::Halfblocks;
    };
    let set = |name: &str| env(name).is_some_and(|v| !v.is_empty());
    let program = env("TERM_PROGRAM").unwrap_or_default();
    let wezterm = set("WEZTERM_EXECUTABLE") || program == "WezTerm";
    let iterm =
        program.contains("iTerm") || env("LC_TERMINAL").is_some_and(|t| t.contains("iTerm"));
    if set("KONSOLE_VERSION") {
        return Graphics::Halfblocks;
    }
    if !wezterm && answers.contains(&Response::Kitty) {
        Graphics::Kitty(cell)
    } else if wezterm || iterm {
        Graphics::Iterm2(cell)
    } else if answers.contains(&Response::Sixel) {
        Graphics::Sixel(cell)
    } else {
        Graphics::Halfblocks
    }
}

/// Writes the graphics query (kitty's, device attributes for sixels, the cell size, and a
/// status report every terminal answers) and reads the answers until the status report, at
/// most `timeout`. `None` if they did not come in time.
///
/// Reads only while `poll` says there is something, so that nothing is left blocked on the
/// terminal afterwards (a thread left reading would take the first keys typed).
fn query_terminal(timeout: Duration) -> io::Result<Option<Vec<Response>>> {
    use nix::errno::Errno;
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    use std::os::fd::AsFd;

    let tty = std::fs::File::open("/dev/tty")?;
    let query = Parser::query(false, QueryStdioOptions::default());
    let mut out = io::stdout().lock();
    out.write_all(query.as_bytes())?;
    // A clean screen again, whatever a terminal made of the query (the first frame
    // writes only the cells that are not blank).
    crossterm::queue!(out, Clear(ClearType::All))?;
    out.flush()?;
    drop(out);
    let deadline = Instant::now() + timeout;
    let mut parser = Parser::new();
    let mut answers = Vec::new();
    let mut read = 0;
    let mut chunk = [0u8; 256];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || read > MAX_QUERY_BYTES {
            return Ok(None);
        }
        let wait = PollTimeout::from(u16::try_from(left.as_millis()).unwrap_or(u16::MAX).max(1));
        let mut fds = [PollFd::new(tty.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, wait) {
            Ok(0) | Err(Errno::EINTR) => continue,
            Ok(_) => {}
            Err(e) => return Err(e.into()),
        }
        let n = (&tty).read(&mut chunk)?;
        if n == 0 {
            return Ok(None);
        }
        read += n;
        for &byte in chunk.iter().take(n) {
            for answer in parser.push(char::from(byte)) {
                if answer == Response::Status {
                    return Ok(Some(answers));
                }
                answers.push(answer);
            }
        }
    }
}

thread_local! {
    /// Set while this thread decodes a picture (see [`decoding`]).
    static DECODING: Cell<bool> = const { Cell::new(false) };
}

/// Whether this thread is decoding a picture now. The terminal's panic hook lets such a
/// panic pass (logged, not printed): it is caught, and the picture fails to preview.
pub fn decoding() -> bool {
    DECODING.with(Cell::get)
}

/// Runs `f` as a decode: a panic inside it is a [`Refusal::Failed`].
fn guarded<T>(f: impl FnOnce() -> Result<T, Refusal>) -> Result<T, Refusal> {
    let before = DECODING.with(|d| d.replace(true));
    let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    DECODING.with(|d| d.set(before));
    out.unwrap_or(Err(Refusal::Failed))
}

/// Why a picture has no preview.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Over [`MAX_SIDE`] or [`MAX_DECODED_BYTES`]; the size, if the header said.
    TooLarge(Option<(u32, u32)>),
    /// The file is over [`MAX_FILE_BYTES`].
    FileTooBig,
    /// Not one of the formats decoded.
    Unsupported,
    /// Cut short or damaged.
    Damaged,
    /// The file could not be read.
    Unreadable(String),
    /// Anything else (an encoder's error, a decoder's panic).
    Failed,
}

impl Refusal {
    /// What to tell the user.
    pub fn text(&self, lang: Lang) -> String {
        match self {
            Refusal::TooLarge(Some((width, height))) => {
                tr!(lang, "picture-too-large", width = *width, height = *height)
            }
            Refusal::TooLarge(None) => tr!(lang, "picture-over-limits"),
            Refusal::FileTooBig => tr!(lang, "picture-file-too-big", max = MAX_FILE_BYTES >> 20),
            Refusal::Unsupported => tr!(lang, "picture-unsupported"),
            Refusal::Damaged => tr!(lang, "picture-damaged"),
            Refusal::Unreadable(error) => tr!(lang, "picture-unreadable", error = error.as_str()),
            Refusal::Failed => tr!(lang, "picture-failed"),
        }
    }

    fn from_image(e: ImageError) -> Refusal {
        match e {
            ImageError::Limits(_) => Refusal::TooLarge(None),
            ImageError::Unsupported(_) => Refusal::Unsupported,
            ImageError::Decoding(_) | ImageError::Parameter(_) => Refusal::Damaged,
            ImageError::IoError(e) if e.kind() == io::ErrorKind::UnexpectedEof => Refusal::Damaged,
            ImageError::IoError(e) => Refusal::Unreadable(e.to_string()),
            ImageError::Encoding(_) => Refusal::Failed,
        }
    }
}

/// The decoders' limits.
fn limits() -> Limits {
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODED_BYTES);
    limits
}

/// Whether a header's claim may be decoded: sides, and the bytes it takes decoded.
fn check_header(width: u32, height: u32, decoded_bytes: u64) -> Result<(), Refusal> {
    if width == 0 || height == 0 {
        return Err(Refusal::Damaged);
    }
    if width > MAX_SIDE || height > MAX_SIDE || decoded_bytes > MAX_DECODED_BYTES {
        return Err(Refusal::TooLarge(Some((width, height))));
    }
    Ok(())
}

/// Decodes a picture from untrusted bytes, within the bounds (the module's doc), turned
/// upright as its EXIF orientation says.
pub fn decode(bytes: &[u8]) -> Result<DynamicImage, Refusal> {
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| Refusal::Unreadable(e.to_string()))?;
    if !reader.format().is_some_and(|f| FORMATS.contains(&f)) {
        return Err(Refusal::Unsupported);
    }
    // The header first, with the memory limit only, so that a picture too large is told
    // by its size; then the decoder is held to all the limits.
    let mut header = Limits::default();
    header.max_alloc = Some(MAX_DECODED_BYTES);
    reader.limits(header);
    let mut decoder = reader.into_decoder().map_err(Refusal::from_image)?;
    let (width, height) = decoder.dimensions();
    check_header(width, height, decoder.total_bytes())?;
    decoder.set_limits(limits()).map_err(Refusal::from_image)?;
    let orientation = decoder.orientation().ok();
    let mut image = DynamicImage::from_decoder(decoder).map_err(Refusal::from_image)?;
    if let Some(orientation) = orientation {
        image.apply_orientation(orientation);
    }
    Ok(image)
}

/// How a picture of `width`×`height` pixels fits `max_cols`×`max_rows` cells of `cell`
/// pixels: never larger than it is, its aspect kept. Returns the thumbnail's pixels and the
/// cells it takes.
pub fn fit(width: u32, height: u32, max_cols: u16, max_rows: u16, cell: CellPx) -> Fit {
    let (w, h) = (u64::from(width.max(1)), u64::from(height.max(1)));
    let box_w = u64::from(max_cols.max(1)) * u64::from(cell.width.max(1));
    let box_h = u64::from(max_rows.max(1)) * u64::from(cell.height.max(1));
    let (px_w, px_h) = if w <= box_w && h <= box_h {
        (w, h)
    } else if w * box_h >= h * box_w {
        // Wider than the box: its width is the box's.
        (box_w, ((h * box_w + w / 2) / w).max(1))
    } else {
        (((w * box_h + h / 2) / h).max(1), box_h)
    };
    let cols = px_w.div_ceil(u64::from(cell.width.max(1)));
    let rows = px_h.div_ceil(u64::from(cell.height.max(1)));
    let narrow = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
    Fit {
        px_width: narrow(px_w),
        px_height: narrow(px_h),
        cols: u16::try_from(cols).unwrap_or(u16::MAX).min(max_cols.max(1)),
        rows: u16::try_from(rows).unwrap_or(u16::MAX).min(max_rows.max(1)),
    }
}

/// See [`fit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fit {
    pub px_width: u32,
    pub px_height: u32,
    pub cols: u16,
    pub rows: u16,
}

/// A preview made, ready to draw.
struct Made {
    shown: Shown,
    size: Size,
    /// About what it takes in memory.
    bytes: usize,
}

/// A preview's form: cells that can be drawn cut (half-blocks, kitty's placeholders), or a
/// picture the terminal draws whole (sixel, iTerm2).
enum Shown {
    Cells(SlicedProtocol),
    Whole(Protocol),
}

/// Decodes `bytes` and makes the preview for `graphics` in at most `max_cols`×`max_rows`
/// cells. `kitty_id` names the picture in the terminal (kitty only).
fn make(
    bytes: &[u8],
    max_cols: u16,
    max_rows: u16,
    graphics: Graphics,
    kitty_id: u32,
) -> Result<Made, Refusal> {
    let cell = match graphics {
        Graphics::Off => return Err(Refusal::Failed),
        Graphics::Halfblocks => CellPx::HALF_BLOCK,
        Graphics::Kitty(cell) | Graphics::Sixel(cell) | Graphics::Iterm2(cell) => cell,
    };
    let image = decode(bytes)?;
    let fit = fit(image.width(), image.height(), max_cols, max_rows, cell);
    let thumb = if (image.width(), image.height()) == (fit.px_width, fit.px_height) {
        image
    } else {
        image.thumbnail_exact(fit.px_width, fit.px_height)
    };
    let size = Size::new(fit.cols, fit.rows);
    let failed = |_| Refusal::Failed;
    if graphics == Graphics::Halfblocks {
        let blocks = Halfblocks::new(thumb, size).map_err(failed)?;
        return Ok(Made {
            shown: Shown::Cells(SlicedProtocol::Halfblocks(blocks)),
            size,
            bytes: usize::from(size.width) * usize::from(size.height) * size_of::<HalfBlock>(),
        });
    }
    // The protocols place the picture by whole cells: it goes top left in a clear canvas
    // of exactly its cells.
    let (canvas_w, canvas_h) = (
        u32::from(fit.cols) * u32::from(cell.width),
        u32::from(fit.rows) * u32::from(cell.height),
    );
    let mut canvas = image::RgbaImage::new(canvas_w, canvas_h);
    image::imageops::overlay(&mut canvas, &thumb.to_rgba8(), 0, 0);
    drop(thumb);
    let canvas = DynamicImage::ImageRgba8(canvas);
    // Base64 of RGBA for kitty; sixel and iTerm2's PNG take less.
    let bytes =
        usize::try_from(u64::from(canvas_w) * u64::from(canvas_h) * 6).unwrap_or(usize::MAX);
    let shown = match graphics {
        Graphics::Kitty(_) => Shown::Cells(SlicedProtocol::Kitty(
            Kitty::new(canvas, size, kitty_id, false, false).map_err(failed)?,
        )),
        Graphics::Sixel(_) => Shown::Whole(Protocol::Sixel(
            Sixel::new(canvas, size, false).map_err(failed)?,
        )),
        _ => Shown::Whole(Protocol::ITerm2(
            Iterm2::new(canvas, size, false).map_err(failed)?,
        )),
    };
    Ok(Made { shown, size, bytes })
}

/// Reads the file (within [`MAX_FILE_BYTES`]) and makes its preview; see [`make`].
fn load(
    path: &Path,
    max_cols: u16,
    max_rows: u16,
    graphics: Graphics,
    kitty_id: u32,
) -> Result<Made, Refusal> {
    let unreadable = |e: io::Error| Refusal::Unreadable(e.to_string());
    let file = std::fs::File::open(path).map_err(unreadable)?;
    if file.metadata().map_err(unreadable)?.len() > MAX_FILE_BYTES {
        return Err(Refusal::FileTooBig);
    }
    let mut bytes = Vec::new();
    // The file may grow while it is read.
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(Refusal::FileTooBig);
    }
    make(&bytes, max_cols, max_rows, graphics, kitty_id)
}

/// What [`Previews::next`] reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PreviewEvent {
    /// The preview is ready to draw and takes `cols`×`rows` cells.
    Ready {
        id: TransferId,
        cols: u16,
        rows: u16,
    },
    /// No preview: the picture stays a file bubble. `reason` is in the user's language.
    Failed { id: TransferId, reason: String },
}

/// What was asked for a transfer.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Want {
    path: PathBuf,
    max_cols: u16,
    max_rows: u16,
}

enum State {
    /// Waiting for a decoder.
    Queued,
    /// Being decoded.
    Running,
    Ready(Box<Ready>),
    /// Known, and not decoded now (dropped to make room): made again when wanted.
    Idle,
    Failed(String),
}

struct Ready {
    shown: Shown,
    size: Size,
    bytes: usize,
    /// Drawn once (kitty sends the picture with its first draw).
    drawn: bool,
}

struct Item {
    want: Want,
    /// Which request a decode's result answers.
    generation: u64,
    state: State,
    /// When it was last drawn or asked for, in [`Previews`]' own ticks.
    used: u64,
}

/// A decode's result, from its blocking thread.
struct Done {
    id: TransferId,
    generation: u64,
    result: Result<Made, Refusal>,
}

/// The previews: requests, decodes running and waiting, and the ones ready to draw. Owned
/// by the runtime; the view draws them through [`Pictures`].
pub struct Previews {
    graphics: Graphics,
    lang: Lang,
    /// Where decodes run (none outside a tokio runtime: requests then wait).
    handle: Option<Handle>,
    items: HashMap<TransferId, Item>,
    queue: VecDeque<TransferId>,
    running: usize,
    done_tx: mpsc::Sender<Done>,
    done_rx: mpsc::Receiver<Done>,
    /// Reports not yet handed out by [`Previews::next`].
    events: VecDeque<PreviewEvent>,
    tick: u64,
    generation: u64,
    /// Previews ready, and their bytes.
    ready: usize,
    ready_bytes: usize,
    max_previews: usize,
    max_bytes: usize,
    /// Kitty previews drawn for the first time this frame, and the cell their picture
    /// went out in (see [`Pictures::frame_done`]).
    first_drawn: Vec<(TransferId, Position)>,
}

impl Previews {
    /// Previews drawn with `graphics`, failures told in `lang`. Call within the tokio
    /// runtime: decodes run on its blocking threads.
    pub fn new(graphics: Graphics, lang: Lang) -> Self {
        let (done_tx, done_rx) = mpsc::channel(MAX_RUNNING);
        Self {
            graphics,
            lang,
            handle: Handle::try_current().ok(),
            items: HashMap::new(),
            queue: VecDeque::new(),
            running: 0,
            done_tx,
            done_rx,
            events: VecDeque::new(),
            tick: 0,
            generation: 0,
            ready: 0,
            ready_bytes: 0,
            max_previews: MAX_PREVIEWS,
            max_bytes: MAX_PREVIEW_BYTES,
            first_drawn: Vec::new(),
        }
    }

    /// No previews at all.
    pub fn off(lang: Lang) -> Self {
        Self::new(Graphics::Off, lang)
    }

    /// Keeps at most `previews` previews and about `bytes` of them (tests).
    pub fn with_room(mut self, previews: usize, bytes: usize) -> Self {
        self.max_previews = previews.max(1);
        self.max_bytes = bytes;
        self
    }

    /// Whether previews are made at all (else [`Previews::request`] does nothing).
    pub fn enabled(&self) -> bool {
        self.graphics != Graphics::Off
    }

    /// Asks for a preview of the picture at `path` (transfer `id`) in at most
    /// `max_cols`×`max_rows` cells. [`Previews::next`] answers once it is made or has
    /// failed; at once if it already was, with the same bounds. Asking again with other
    /// bounds makes it again.
    pub fn request(&mut self, id: TransferId, path: PathBuf, max_cols: u16, max_rows: u16) {
        if !self.enabled() {
            return;
        }
        let want = Want {
            path,
            max_cols,
            max_rows,
        };
        self.tick += 1;
        if let Some(item) = self.items.get_mut(&id)
            && item.want == want
        {
            item.used = self.tick;
            match &item.state {
                State::Ready(ready) => {
                    self.events.push_back(PreviewEvent::Ready {
                        id,
                        cols: ready.size.width,
                        rows: ready.size.height,
                    });
                    return;
                }
                State::Failed(reason) => {
                    self.events.push_back(PreviewEvent::Failed {
                        id,
                        reason: reason.clone(),
                    });
                    return;
                }
                State::Queued | State::Running => return,
                State::Idle => {
                    item.state = State::Queued;
                    self.enqueue(id);
                    return;
                }
            }
        }
        self.forget(&id);
        self.generation += 1;
        self.items.insert(
            id,
            Item {
                want,
                generation: self.generation,
                state: State::Queued,
                used: self.tick,
            },
        );
        self.enqueue(id);
        self.trim_known();
    }

    /// Forgets transfer `id`: its preview, its request, its failure. A decode running for
    /// it finishes unheard.
    pub fn forget(&mut self, id: &TransferId) {
        if let Some(item) = self.items.remove(id) {
            self.drop_ready(&item.state);
        }
    }

    /// Whether `id`'s preview is ready to draw.
    pub fn is_ready(&self, id: &TransferId) -> bool {
        self.items
            .get(id)
            .is_some_and(|i| matches!(i.state, State::Ready(_)))
    }

    /// The next report: a preview made, or a picture that has none. Waits while there is
    /// nothing to report (forever, with nothing asked). Cancel-safe: a report is taken only
    /// when it is returned.
    pub async fn next(&mut self) -> PreviewEvent {
        loop {
            if let Some(event) = self.events.pop_front() {
                return event;
            }
            // We hold a sender: this never ends with `None`.
            let Some(done) = self.done_rx.recv().await else {
                return std::future::pending().await;
            };
            self.running = self.running.saturating_sub(1);
            self.finish(done);
            self.pump();
        }
    }

    fn enqueue(&mut self, id: TransferId) {
        self.queue.push_back(id);
        while self.queue.len() > MAX_QUEUE {
            let Some(old) = self.queue.pop_front() else {
                break;
            };
            if let Some(item) = self.items.get_mut(&old)
                && matches!(item.state, State::Queued)
                && !self.queue.contains(&old)
            {
                item.state = State::Idle;
                self.events.push_back(PreviewEvent::Failed {
                    id: old,
                    reason: tr!(self.lang, "picture-busy"),
                });
            }
        }
        self.pump();
    }

    /// Starts waiting decodes while fewer than [`MAX_RUNNING`] run.
    fn pump(&mut self) {
        let Some(handle) = self.handle.clone() else {
            return;
        };
        while self.running < MAX_RUNNING {
            let Some(id) = self.queue.pop_front() else {
                return;
            };
            let Some(item) = self.items.get_mut(&id) else {
                continue;
            };
            if !matches!(item.state, State::Queued) {
                continue;
            }
            item.state = State::Running;
            self.running += 1;
            let (want, generation, graphics) = (item.want.clone(), item.generation, self.graphics);
            let kitty_id = kitty_id(&id, generation);
            let tx = self.done_tx.clone();
            handle.spawn_blocking(move || {
                let result =
                    guarded(|| load(&want.path, want.max_cols, want.max_rows, graphics, kitty_id));
                // Gone only when the previews are.
                let _ = tx.blocking_send(Done {
                    id,
                    generation,
                    result,
                });
            });
        }
    }

    fn finish(&mut self, done: Done) {
        let Some(item) = self.items.get_mut(&done.id) else {
            return;
        };
        if item.generation != done.generation || !matches!(item.state, State::Running) {
            return;
        }
        match done.result {
            Ok(made) => {
                self.tick += 1;
                item.used = self.tick;
                self.events.push_back(PreviewEvent::Ready {
                    id: done.id,
                    cols: made.size.width,
                    rows: made.size.height,
                });
                self.ready += 1;
                self.ready_bytes = self.ready_bytes.saturating_add(made.bytes);
                item.state = State::Ready(Box::new(Ready {
                    shown: made.shown,
                    size: made.size,
                    bytes: made.bytes,
                    drawn: false,
                }));
                self.make_room(&done.id);
            }
            Err(refusal) => {
                let reason = refusal.text(self.lang);
                tracing::debug!(id = %done.id.to_hex(), %reason, "no preview");
                item.state = State::Failed(reason.clone());
                self.events.push_back(PreviewEvent::Failed {
                    id: done.id,
                    reason,
                });
            }
        }
    }

    fn drop_ready(&mut self, state: &State) {
        if let State::Ready(ready) = state {
            self.ready -= 1;
            self.ready_bytes = self.ready_bytes.saturating_sub(ready.bytes);
        }
    }

    /// Drops the previews drawn least recently (never `keep`) until the rest are within
    /// bounds.
    fn make_room(&mut self, keep: &TransferId) {
        while self.ready > self.max_previews || self.ready_bytes > self.max_bytes {
            let oldest = self
                .items
                .iter()
                .filter(|(id, item)| *id != keep && matches!(item.state, State::Ready(_)))
                .min_by_key(|(_, item)| item.used)
                .map(|(id, _)| *id);
            let Some(id) = oldest else {
                return;
            };
            self.idle(&id);
        }
    }

    /// Drops `id`'s preview and keeps its request, to be made again when wanted.
    fn idle(&mut self, id: &TransferId) {
        if let Some(item) = self.items.get_mut(id) {
            let state = std::mem::replace(&mut item.state, State::Idle);
            self.drop_ready(&state);
        }
    }

    /// Forgets the requests used least recently, beyond [`MAX_KNOWN`], but none in work.
    fn trim_known(&mut self) {
        while self.items.len() > MAX_KNOWN {
            let oldest = self
                .items
                .iter()
                .filter(|(_, item)| matches!(item.state, State::Idle | State::Failed(_)))
                .min_by_key(|(_, item)| item.used)
                .map(|(id, _)| *id);
            let Some(id) = oldest else {
                return;
            };
            self.items.remove(&id);
        }
    }

    /// Counts a draw of a ready preview: when it was drawn, and kitty's first one.
    fn drawn(&mut self, id: &TransferId, at: Position) -> Option<&Ready> {
        self.tick += 1;
        let item = self.items.get_mut(id)?;
        item.used = self.tick;
        let State::Ready(ready) = &mut item.state else {
            return None;
        };
        if !ready.drawn {
            ready.drawn = true;
            if matches!(ready.shown, Shown::Cells(SlicedProtocol::Kitty(_))) {
                self.first_drawn.push((*id, at));
            }
        }
        Some(ready)
    }
}

/// The name kitty knows a preview by: random, never zero, and never the same twice
/// in practice (a transfer's id and the request's generation, should randomness fail).
fn kitty_id(id: &TransferId, generation: u64) -> u32 {
    let fallback = || {
        let [a, b, c, d, ..] = id.0;
        u32::from_le_bytes([a, b, c, d]) ^ (generation as u32)
    };
    getrandom::u32().unwrap_or_else(|_| fallback()).max(1)
}

impl Pictures for Previews {
    fn size(&mut self, id: &TransferId) -> Option<Size> {
        let item = self.items.get_mut(id)?;
        match &item.state {
            State::Ready(ready) => Some(ready.size),
            State::Idle => {
                item.state = State::Queued;
                self.enqueue(*id);
                None
            }
            _ => None,
        }
    }

    fn draw(&mut self, id: &TransferId, area: Rect, buf: &mut Buffer) -> bool {
        let Some(ready) = self.drawn(id, area.as_position()) else {
            return false;
        };
        if area.width < ready.size.width || area.height < ready.size.height {
            return false;
        }
        let area = Rect::new(area.x, area.y, ready.size.width, ready.size.height);
        match &ready.shown {
            Shown::Cells(cells) => {
                SlicedImage::new(cells, SignedPosition { x: 0, y: 0 }).render(area, buf)
            }
            Shown::Whole(whole) => Image::new(whole).render(area, buf),
        }
        true
    }

    fn draw_rows(&mut self, id: &TransferId, area: Rect, skip: u16, buf: &mut Buffer) -> bool {
        let cut = self.items.get(id).is_some_and(
            |item| matches!(&item.state, State::Ready(ready) if matches!(ready.shown, Shown::Cells(_))),
        );
        if !cut {
            return false;
        }
        let Some(ready) = self.drawn(id, area.as_position()) else {
            return false;
        };
        let Shown::Cells(cells) = &ready.shown else {
            return false;
        };
        let y = i16::try_from(skip).map_or(i16::MIN, |s| -s);
        let area = Rect::new(
            area.x,
            area.y,
            ready.size.width.min(area.width),
            area.height,
        );
        SlicedImage::new(cells, SignedPosition { x: 0, y }).render(area, buf);
        true
    }

    /// A kitty preview sends its picture with its first draw. If something drawn over it
    /// later in the frame (an overlay) took that cell, the picture never reaches the
    /// terminal: the preview is dropped, to be made (and sent) again when next wanted.
    fn frame_done(&mut self, buf: &Buffer) {
        for (id, at) in std::mem::take(&mut self.first_drawn) {
            let sent = buf
                .cell(at)
                .is_some_and(|cell| cell.symbol().contains("\x1b_G"));
            if !sent {
                self.idle(&id);
            }
        }
    }
}

#[cfg(test)]
mod tests;
