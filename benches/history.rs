//! A million-message conversation: time to open it, to jump to its first message and back,
//! and the peak memory of the process doing so.
//!
//! Run: `cargo bench --bench history`. The database is generated first (in a child process
//! of its own, so the generator's memory does not count), then measured 5 times; medians.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/support/history.rs"]
mod history;
#[path = "../tests/support/screen.rs"]
mod screen;
mod support;

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use lanchat::config::Settings;
use lanchat::proto::{Identity, NodeId};
use lanchat::runtime::tui;
use screen::{Shared, run_on_screen};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const N: u64 = 1_000_000;
const PEER: NodeId = NodeId([9; 32]);

fn generate(dir: &Path) {
    history::fill(&dir.join("history.db"), PEER, N);
}

fn peak_rss_kib() -> u64 {
    support::proc_status_kib("self", "VmHWM").unwrap_or(0)
}

async fn wait(screen: &Shared, needle: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !screen.screen().contains(needle) {
        assert!(Instant::now() < deadline, "never showed {needle}");
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
}

/// One measurement, in this (fresh) process: prints "open_ms first_ms back_ms rss_kib".
async fn measure(dir: &Path) {
    let settings = Settings::loopback("me", dir);
    let t0 = Instant::now();
    let (node, app, first) = tui::start_chat(&settings, Identity::from_secret([1; 32])).unwrap();
    let (screen, tx, task) = run_on_screen(node, app, first, 200, 50);
    wait(&screen, "history line 999999 ").await;
    let open = t0.elapsed();
    let key = |code, mods| Ok(Event::Key(KeyEvent::new(code, mods)));
    let t1 = Instant::now();
    tx.send(key(KeyCode::Home, KeyModifiers::CONTROL))
        .await
        .unwrap();
    wait(&screen, "history line 0 ").await;
    let to_first = t1.elapsed();
    let t2 = Instant::now();
    tx.send(key(KeyCode::End, KeyModifiers::CONTROL))
        .await
        .unwrap();
    wait(&screen, "history line 999999 ").await;
    let back = t2.elapsed();
    tx.send(key(KeyCode::Char('c'), KeyModifiers::CONTROL))
        .await
        .unwrap();
    task.await.unwrap().unwrap();
    println!(
        "{:.3} {:.3} {:.3} {}",
        open.as_secs_f64() * 1e3,
        to_first.as_secs_f64() * 1e3,
        back.as_secs_f64() * 1e3,
        peak_rss_kib()
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    match args.get(1).map(String::as_str) {
        Some("generate") => generate(Path::new(&args[2])),
        Some("measure") => rt.block_on(measure(Path::new(&args[2]))),
        _ => {
            let dir = tempfile::tempdir().unwrap();
            let me = std::env::current_exe().unwrap();
            let t = Instant::now();
            let ok = Command::new(&me)
                .arg("generate")
                .arg(dir.path())
                .status()
                .unwrap();
            assert!(ok.success());
            println!(
                "generated {N} messages in {:.1} s",
                t.elapsed().as_secs_f64()
            );
            let mut cols: [Vec<f64>; 4] = Default::default();
            for _ in 0..5 {
                let out = Command::new(&me)
                    .arg("measure")
                    .arg(dir.path())
                    .output()
                    .unwrap();
                let text = String::from_utf8_lossy(&out.stdout);
                let nums: Vec<f64> = text
                    .split_whitespace()
                    .filter_map(|x| x.parse().ok())
                    .collect();
                assert_eq!(nums.len(), 4, "measure printed {text:?}");
                for (c, n) in cols.iter_mut().zip(nums) {
                    c.push(n);
                }
            }
            let [open, first, back, rss] = cols;
            println!("1,000,000-message conversation, 200x50 screen, 5 runs, medians:");
            println!(
                "  open to latest page drawn: {:.1} ms",
                support::median(open)
            );
            println!(
                "  jump to first message:     {:.1} ms",
                support::median(first)
            );
            println!(
                "  jump back to latest:       {:.1} ms",
                support::median(back)
            );
            println!(
                "  peak RSS:                  {:.1} MB",
                support::median(rss) / 1024.0
            );
        }
    }
}
