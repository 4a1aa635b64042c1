//! Render: the time to draw one frame of a 200×50 screen (ratatui `TestBackend`: the whole
//! `ui::draw`, the buffer diff and the backend write), with a conversation of 100 messages
//! and with one of 1,000,000 (the app keeps a window of at most 1,000 of them in memory).
//! Also the time of a key that scrolls by a line plus the frame after it, which is what a
//! user feels when holding Ctrl-Up. The small case runs again with the interface in Chinese.
//!
//! The app is the real one, started by `tui::start_chat` on a real database; the pages it
//! asks for are read from that database as the store thread would read them.
//!
//! Run: `cargo bench --bench render` (part of `cargo bench`). `LANCHAT_BENCH_RUNS` runs of
//! `LANCHAT_BENCH_FRAMES` frames each (defaults 5 and 300); the median of the run medians.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/support/history.rs"]
mod history;
mod support;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use lanchat::app::{App, Effect, Msg, PAGE};
use lanchat::config::Settings;
use lanchat::proto::NodeId;
use lanchat::runtime::{storage, tui};
use lanchat::store::Store;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::path::Path;
use std::time::{Duration, Instant};
use support::{Row, median, print_rows};

const PEER: NodeId = NodeId([9; 32]);
const NOW_MS: i64 = 1_700_000_000_000 + 2_000_000;

/// Carries out the app's page loads from `store`, as the store thread would.
fn serve(app: &mut App, store: &Store, effects: Vec<Effect>) {
    let mut queue = effects;
    while let Some(effect) = queue.pop() {
        if let Effect::Load { conversation, page } = effect {
            let (messages, more) = storage::load_page(store, &conversation, page, PAGE).unwrap();
            queue.extend(app.update(
                NOW_MS,
                Msg::History {
                    conversation,
                    page,
                    messages,
                    more,
                },
            ));
        }
    }
}

fn key(code: KeyCode, mods: KeyModifiers) -> Msg {
    Msg::Key(KeyEvent::new(code, mods))
}

/// The app on the database in `dir`, its conversation open at the latest message, on a
/// 200×50 terminal.
fn open(dir: &Path) -> (App, Store, tokio::runtime::Runtime) {
    let rt = support::runtime();
    let (app, store) = rt.block_on(async {
        let settings = Settings::loopback("me", dir);
        let (_node, mut app, mut first) =
            tui::start_chat(&settings, lanchat::proto::Identity::from_secret([1; 32])).unwrap();
        let store = Store::open(&dir.join("history.db")).unwrap();
        first.extend(app.update(
            NOW_MS,
            Msg::Resize {
                width: 200,
                height: 50,
            },
        ));
        serve(&mut app, &store, first);
        (app, store)
    });
    (app, store, rt)
}

/// Median time of one frame, over `frames` frames: all of `ui::draw` into ratatui's buffer
/// and its diff against the last frame. Nothing changed in between, so next to nothing
/// reaches the backend; the key+frame case below is the one where cells change.
fn frame_time(term: &mut Terminal<TestBackend>, app: &App, frames: usize) -> Duration {
    let mut times = Vec::with_capacity(frames);
    for _ in 0..frames {
        let t = Instant::now();
        term.draw(|f| lanchat::ui::draw(f, app)).unwrap();
        times.push(t.elapsed());
    }
    times.sort();
    support::quantile(&times, 0.5)
}

/// Median time of a scroll key (one line, alternately up and down) plus the frame after it.
fn key_frame_time(term: &mut Terminal<TestBackend>, app: &mut App, frames: usize) -> Duration {
    let mut times = Vec::with_capacity(frames);
    for i in 0..frames {
        let code = if i % 2 == 0 {
            KeyCode::Up
        } else {
            KeyCode::Down
        };
        let t = Instant::now();
        let effects = app.update(NOW_MS, key(code, KeyModifiers::CONTROL));
        term.draw(|f| lanchat::ui::draw(f, app)).unwrap();
        times.push(t.elapsed());
        assert!(
            effects.iter().all(|e| !matches!(e, Effect::Load { .. })),
            "scrolling by a line asked for a page: the measurement would not be a frame"
        );
    }
    times.sort();
    support::quantile(&times, 0.5)
}

struct Case {
    name: &'static str,
    frame: Vec<f64>,
    key: Vec<f64>,
}

fn main() {
    let runs = support::runs();
    let frames = support::env_usize("LANCHAT_BENCH_FRAMES", 300);
    let small = tempfile::tempdir().unwrap();
    let big = tempfile::tempdir().unwrap();
    history::fill(&small.path().join("history.db"), PEER, 100);
    let t = Instant::now();
    history::fill(&big.path().join("history.db"), PEER, 1_000_000);
    println!(
        "render at 200x50: generated 1,000,000 messages in {:.1} s; {runs} runs of {frames} frames",
        t.elapsed().as_secs_f64()
    );

    let mut cases = [
        Case {
            name: "100 messages, at the latest",
            frame: vec![],
            key: vec![],
        },
        Case {
            name: "1,000,000 messages, at the latest",
            frame: vec![],
            key: vec![],
        },
        Case {
            name: "1,000,000 messages, 1,000 in the window, at its top",
            frame: vec![],
            key: vec![],
        },
        Case {
            name: "100 messages, at the latest, in Chinese",
            frame: vec![],
            key: vec![],
        },
    ];
    for _ in 0..runs {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let mut term = Terminal::new(TestBackend::new(200, 50)).unwrap();

        let (mut app, _store, _rt) = open(small.path());
        cases[0].frame.push(ms(frame_time(&mut term, &app, frames)));
        cases[0]
            .key
            .push(ms(key_frame_time(&mut term, &mut app, frames)));

        let (mut app, store, _rt) = open(big.path());
        let window = |app: &App| app.selected_conversation().map_or(0, |c| c.messages.len());
        cases[1].frame.push(ms(frame_time(&mut term, &app, frames)));
        cases[1]
            .key
            .push(ms(key_frame_time(&mut term, &mut app, frames)));

        // Page up until the window is full, then to its top.
        let mut guard = 0;
        while window(&app) < 1000 {
            let effects = app.update(NOW_MS, key(KeyCode::PageUp, KeyModifiers::NONE));
            serve(&mut app, &store, effects);
            guard += 1;
            assert!(guard < 10_000, "the window never filled");
        }
        // On to the top of the full window: the pages past it are not wanted here.
        for _ in 0..2_000 {
            let _ = app.update(NOW_MS, key(KeyCode::PageUp, KeyModifiers::NONE));
        }
        // One line down from the top, so the line keys below stay inside the window.
        let _ = app.update(NOW_MS, key(KeyCode::Down, KeyModifiers::CONTROL));
        assert_eq!(window(&app), 1000);
        cases[2].frame.push(ms(frame_time(&mut term, &app, frames)));
        cases[2]
            .key
            .push(ms(key_frame_time(&mut term, &mut app, frames)));

        // The same small case with every label, state and date in Chinese (the words come
        // through Fluent on every frame).
        let (mut app, _store, _rt) = open(small.path());
        app.lang = lanchat::i18n::Lang::Zh;
        cases[3].frame.push(ms(frame_time(&mut term, &app, frames)));
        cases[3]
            .key
            .push(ms(key_frame_time(&mut term, &mut app, frames)));
    }

    let base_frame = median(cases[0].frame.clone());
    let base_key = median(cases[0].key.clone());
    let mut rows = Vec::new();
    for (i, c) in cases.iter().enumerate() {
        let f = median(c.frame.clone());
        let k = median(c.key.clone());
        println!("  {:<52} frame {f:.3} ms   key+frame {k:.3} ms", c.name);
        for (what, value, base) in [
            ("frame", f, base_frame),
            ("scroll key + frame", k, base_key),
        ] {
            let first = i == 0;
            rows.push(Row {
                what: format!("render: {what}, {}", c.name),
                median: format!("{value:.3} ms"),
                baseline: if first {
                    "—".into()
                } else {
                    format!("{base:.3} ms (100 messages)")
                },
                ratio: if first {
                    "—".into()
                } else {
                    format!("{:.2}", value / base)
                },
                target: if first {
                    "≤ 1 ms".into()
                } else {
                    "≤ 1 ms, ≤ 1.5× of 100".into()
                },
                met: value <= 1.0 && (first || value / base <= 1.5),
            });
        }
    }
    print_rows("Render (200×50)", &rows);
}
