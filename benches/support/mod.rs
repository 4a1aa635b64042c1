//! What the benchmarks share: medians and percentiles, the number of runs, the peak memory,
//! context switches and per-thread CPU time of a process, and the results table.

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::time::Duration;

/// Runs per measurement, from `LANCHAT_BENCH_RUNS` (default 5). Medians are quoted.
pub fn runs() -> usize {
    env_usize("LANCHAT_BENCH_RUNS", 5).max(1)
}

/// A current-thread tokio runtime with IO and time, as the program runs on.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

pub fn env_usize(key: &str, default: usize) -> usize {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

pub fn median(mut xs: Vec<f64>) -> f64 {
    assert!(!xs.is_empty(), "median of nothing");
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}

/// The `p`-quantile (0..=1) of sorted samples, nearest rank.
pub fn quantile(sorted: &[Duration], p: f64) -> Duration {
    assert!(!sorted.is_empty(), "quantile of nothing");
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Reads a `Key:  123 kB` line of `/proc/<pid>/status` (`pid` "self" for this process).
pub fn proc_status_kib(pid: &str, key: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Context switches of every thread of a process so far: (voluntary, involuntary). A
/// voluntary switch is a thread going to sleep, so each wake-up of an idle process adds one.
pub fn context_switches(pid: u32) -> (u64, u64) {
    let mut vol = 0;
    let mut invol = 0;
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return (0, 0);
    };
    for task in tasks.flatten() {
        let Ok(status) = std::fs::read_to_string(task.path().join("status")) else {
            continue; // the thread ended meanwhile
        };
        for line in status.lines() {
            if let Some(v) = line.strip_prefix("voluntary_ctxt_switches:") {
                vol += v.trim().parse::<u64>().unwrap_or(0);
            } else if let Some(v) = line.strip_prefix("nonvoluntary_ctxt_switches:") {
                invol += v.trim().parse::<u64>().unwrap_or(0);
            }
        }
    }
    (vol, invol)
}

/// A row of the summary every bench prints at its end, in the shape of BENCHMARKS.md.
pub struct Row {
    pub what: String,
    pub median: String,
    pub baseline: String,
    pub ratio: String,
    pub target: String,
    pub met: bool,
}

impl Row {
    pub fn new(
        what: impl Into<String>,
        median: impl Into<String>,
        baseline: impl Into<String>,
        ratio: impl Into<String>,
        target: &str,
        met: bool,
    ) -> Row {
        Row {
            what: what.into(),
            median: median.into(),
            baseline: baseline.into(),
            ratio: ratio.into(),
            target: target.into(),
            met,
        }
    }
}

pub fn print_rows(title: &str, rows: &[Row]) {
    println!();
    println!("## {title}");
    println!("| measurement | median | baseline | ratio | target | met |");
    println!("|---|---|---|---|---|---|");
    for r in rows {
        println!(
            "| {} | {} | {} | {} | {} | {} |",
            r.what,
            r.median,
            r.baseline,
            r.ratio,
            r.target,
            if r.met { "yes" } else { "NO" }
        );
    }
}

/// CPU time (user + system) each live thread of this process has used so far, by thread
/// name (threads of one name summed). From `/proc/self/task/*/stat`, in clock ticks turned
/// into seconds.
pub fn thread_cpu() -> std::collections::BTreeMap<String, f64> {
    let mut out = std::collections::BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return out;
    };
    for task in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue; // the thread ended meanwhile
        };
        // "tid (comm) state ppid ...": the name may hold spaces, so split after its ')'.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let name = stat[open + 1..close].to_string();
        let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        // After the name: state is field 3 of stat(5), utime 14 and stime 15.
        let ticks = |i: usize| fields.get(i - 3).and_then(|v| v.parse::<u64>().ok());
        if let (Some(u), Some(s)) = (ticks(14), ticks(15)) {
            *out.entry(name).or_insert(0.0) += (u + s) as f64 / 100.0;
        }
    }
    out
}
