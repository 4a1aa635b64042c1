//! A `TestBackend` shared between the runtime loop (which owns the terminal) and the test
//! (which reads the screen).

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use ratatui::backend::{Backend, ClearType, TestBackend, WindowSize};
use ratatui::buffer::Cell;
use ratatui::layout::{Position, Size};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const PATIENCE: Duration = Duration::from_secs(10);

/// A `TestBackend` the test can read while the loop owns the terminal.
#[derive(Clone)]
pub struct Shared(pub Arc<Mutex<TestBackend>>);

impl Shared {
    pub fn new(width: u16, height: u16) -> Self {
        Shared(Arc::new(Mutex::new(TestBackend::new(width, height))))
    }

    pub fn screen(&self) -> String {
        let backend = self.0.lock().unwrap();
        let buf = backend.buffer();
        let mut out = String::new();
        for y in 0..buf.area.height {
            let mut x = 0;
            while x < buf.area.width {
                let symbol = buf[(x, y)].symbol();
                out.push_str(symbol);
                // A wide character covers the next cell too.
                x += lanchat::text::width(symbol).max(1) as u16;
            }
            out.push('\n');
        }
        out
    }

    /// Waits until the screen contains `needle`, yielding to the loop between looks.
    pub async fn wait_for(&self, needle: &str) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while !self.screen().contains(needle) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "screen never showed {needle:?}:\n{}",
                self.screen()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

impl Backend for Shared {
    type Error = std::convert::Infallible;

    fn draw<'a, I>(&mut self, content: I) -> Result<(), Self::Error>
    where
        I: Iterator<Item = (u16, u16, &'a Cell)>,
    {
        self.0.lock().unwrap().draw(content)
    }
    fn hide_cursor(&mut self) -> Result<(), Self::Error> {
        self.0.lock().unwrap().hide_cursor()
    }
    fn show_cursor(&mut self) -> Result<(), Self::Error> {
        self.0.lock().unwrap().show_cursor()
    }
    fn get_cursor_position(&mut self) -> Result<Position, Self::Error> {
        self.0.lock().unwrap().get_cursor_position()
    }
    fn set_cursor_position<P: Into<Position>>(&mut self, p: P) -> Result<(), Self::Error> {
        self.0.lock().unwrap().set_cursor_position(p)
    }
    fn clear(&mut self) -> Result<(), Self::Error> {
        self.0.lock().unwrap().clear()
    }
    fn clear_region(&mut self, t: ClearType) -> Result<(), Self::Error> {
        self.0.lock().unwrap().clear_region(t)
    }
    fn size(&self) -> Result<Size, Self::Error> {
        self.0.lock().unwrap().size()
    }
    fn window_size(&mut self) -> Result<WindowSize, Self::Error> {
        self.0.lock().unwrap().window_size()
    }
    fn flush(&mut self) -> Result<(), Self::Error> {
        self.0.lock().unwrap().flush()
    }
}

/// Keys for a loop started with [`run_on_screen`].
pub type Keys = tokio::sync::mpsc::Sender<std::io::Result<crossterm::event::Event>>;

/// Runs the real loop (`tui::run_with`) on a `width`×`height` shared screen, with keys
/// from the returned sender.
pub fn run_on_screen(
    node: lanchat::runtime::Node,
    app: lanchat::app::App,
    effects: Vec<lanchat::app::Effect>,
    width: u16,
    height: u16,
) -> (Shared, Keys, tokio::task::JoinHandle<anyhow::Result<()>>) {
    let screen = Shared::new(width, height);
    let mut terminal = ratatui::Terminal::new(screen.clone()).unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::channel(16);
    let keys = Box::pin(futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx)));
    let task = tokio::spawn(async move {
        lanchat::runtime::tui::run_with(
            &mut terminal,
            keys,
            node,
            app,
            effects,
            std::future::pending(),
        )
        .await
    });
    (screen, tx, task)
}
