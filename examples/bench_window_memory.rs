//! Memory stays flat on an endless stream of bounded windows: streams N events (50 million by
//! default) through a keyed tumbling-window aggregate in steps, and reports resident and peak memory
//! at 10%, 50% and 100% of the run.
//!
//! ```text
//! cargo run --release --example bench_window_memory -- [--events 50000000] [--keys 1000] [--step 100000]
//! ```
//!
//! Event time advances 1 ms every `--per-ms` events, so windows keep closing behind the watermark;
//! their state must be released. The run fails (exit code 1) if the resident memory at 100% is more
//! than 1.5× the resident memory at 10%.

use dataflow_core::prelude::*;
use std::time::Instant;

/// One sensor reading.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Reading {
    sensor: u32,
    value: i64,
    ts: u64,
}

/// Sum and count of each sensor's readings per second of event time.
#[pipeline]
fn per_second(readings: Stream<Reading>) -> Stream<((u32, TimeWindow), (i64, u64))> {
    readings
        .event_time(|r| r.ts)
        .key(|r| r.sensor)
        .window(Window::tumbling(Duration::from_secs(1)))
        .aggregate(|a| (a.sum(|r| r.value), a.count()))
}

/// Resident and peak resident memory of this process, in MiB.
fn memory() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

fn main() -> std::process::ExitCode {
    let events = arg("--events", 50_000_000);
    let keys = arg("--keys", 1_000).max(1);
    let step = arg("--step", 100_000).max(1);
    let per_ms = arg("--per-ms", 10).max(1);
    let mut running = Runner::<PerSecond>::new()
        .max_delay(Duration::from_millis(100))
        .keep_output(false)
        .start()
        .expect("workers start");
    let started = Instant::now();
    let marks = [events / 10, events / 2, events];
    let mut next_mark = 0;
    let mut results = 0u64;
    let mut rows = Vec::new();
    let mut sent = 0u64;
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    while sent < events {
        let n = step.min(events - sent);
        let batch: Vec<Reading> = (sent..sent + n)
            .map(|i| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                Reading {
                    sensor: (state % keys) as u32,
                    value: (state >> 40) as i64 % 100,
                    ts: i / per_ms,
                }
            })
            .collect();
        sent += n;
        let changes = running.push(batch).expect("step runs");
        results += changes.iter().filter(|c| c.diff > 0).count() as u64;
        while next_mark < marks.len() && sent >= marks[next_mark] {
            let (rss, peak) = memory();
            rows.push((sent, rss, peak, results, started.elapsed().as_secs_f64()));
            next_mark += 1;
        }
    }
    let out = running.finish().expect("run finishes");
    println!("| progress | events | windows emitted | resident MiB | peak MiB | events/s |");
    println!("|---:|---:|---:|---:|---:|---:|");
    for (i, (sent, rss, peak, results, seconds)) in rows.iter().enumerate() {
        println!(
            "| {}% | {} | {} | {:.1} | {:.1} | {:.2} M |",
            [10, 50, 100][i],
            sent,
            results,
            rss,
            peak,
            *sent as f64 / seconds / 1e6
        );
    }
    let growth = rows[2].1 / rows[0].1;
    println!(
        "\n{} events, {} keys, 1 s tumbling windows, {} late; resident memory at 100% / at 10% = {growth:.2}",
        events, keys, out.summary.late_records
    );
    if growth > 1.5 {
        eprintln!("memory grew by {growth:.2}x: window state is not being released");
        return std::process::ExitCode::FAILURE;
    }
    std::process::ExitCode::SUCCESS
}
