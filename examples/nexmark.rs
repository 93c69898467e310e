//! The Nexmark benchmark: every query as a generated `#[pipeline]`, hand-written on timely or
//! differential dataflow, and as a single-threaded loop (COST), on the same generated events.
//!
//! ```text
//! cargo run --release --example nexmark -- [--events N] [--queries q0,q1,...] [--workers 1,2]
//!     [--runs R] [--latency-seconds S] [--no-latency] [--peers] [--peer-rows N] [--no-write]
//! ```
//!
//! Each measurement runs in a child process (this executable with `--child`), so that its peak
//! resident memory (`VmHWM`) is its own. The child generates the events before the clock starts
//! (generation is not measured), runs one implementation from graph construction to the consolidated,
//! sorted output in hand, and reports its time, its peak memory and a digest of its output. The parent
//! stops without printing figures unless every implementation's output equals the single-threaded
//! reference.
//!
//! Stream mode: per-event latency, open loop. The maximum sustained rate is measured first (the
//! generated pipeline, one worker, fed steps of 10,000 events as fast as it takes them); then events
//! are offered at 25 %, 50 % and 75 % of that rate for `--latency-seconds` each. Event `i` is due at
//! `start + i / rate`; whenever events are due the driver pushes all of them as one step, and each
//! event's latency is the time from when it was due until its step's output is complete. A slow step
//! therefore delays the events due meanwhile, and their waiting counts (no coordinated omission).
//!
//! `--peers` times the daily-sales group-by (10 M rows) against DuckDB and Polars when they are
//! installed (`scripts/install-peers.sh`).

use clap::Parser;
use dataflow_core::decimal::Decimal;
use dataflow_core::{Pipeline, Runner};
use dataflow_examples::nexmark::{self, Event, GeneratorConfig, cost, handwritten};
use dataflow_examples::{DailySales, Sale};
use hdrhistogram::Histogram;
use std::fmt::Write as _;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

#[path = "common/mod.rs"]
mod common;

/// Command line.
#[derive(Parser, Debug, Clone)]
#[command(about = "Nexmark: generated pipelines against hand-written timely/differential and COST")]
struct Args {
    /// Number of events.
    #[arg(long, default_value_t = 10_000_000)]
    events: u64,
    /// Queries to run, comma separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "q0,q1,q2,q3,q4,q5,q6,q7,q8,q12"
    )]
    queries: Vec<String>,
    /// Worker counts for the dataflow implementations, comma separated.
    #[arg(long, value_delimiter = ',', default_value = "1,2")]
    workers: Vec<usize>,
    /// Runs per measurement; the fastest counts.
    #[arg(long, default_value_t = 1)]
    runs: usize,
    /// Events per second of event time in the generated stream.
    #[arg(long, default_value_t = 10_000)]
    rate: u64,
    /// Seed of the generator.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Seconds of offered load per latency measurement.
    #[arg(long, default_value_t = 5.0)]
    latency_seconds: f64,
    /// Skip the stream-mode latency measurements.
    #[arg(long)]
    no_latency: bool,
    /// Also time the daily-sales group-by against DuckDB and Polars.
    #[arg(long)]
    peers: bool,
    /// Rows of the daily-sales group-by.
    #[arg(long, default_value_t = 10_000_000)]
    peer_rows: usize,
    /// Do not write docs/nexmark-results.md and docs/nexmark.svg.
    #[arg(long)]
    no_write: bool,
    /// Also time replay from the event log on disk against the batch run, per query (one worker).
    #[arg(long)]
    replay: bool,
    /// Also time ours (one worker) at these event counts, for the time per event (comma separated).
    #[arg(long, value_delimiter = ',')]
    scaling: Vec<u64>,
    /// Internal: run one measurement in this process (`throughput` or `latency`).
    #[arg(long, hide = true)]
    child: Option<String>,
    /// Internal: the query of a child measurement.
    #[arg(long, hide = true)]
    query: Option<String>,
    /// Internal: the implementation of a child measurement.
    #[arg(long, hide = true)]
    implementation: Option<String>,
    /// Internal: the worker count of a child measurement.
    #[arg(long, hide = true, default_value_t = 1)]
    child_workers: usize,
}

/// Peak resident memory of this process so far, KiB.
fn peak_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// An order-sensitive digest of a consolidated output.
fn digest<O: Hash>(records: &[(O, isize)]) -> u64 {
    let mut hasher = DefaultHasher::new();
    records.hash(&mut hasher);
    hasher.finish()
}

/// A query's single-threaded reference implementation.
type Reference<O> = fn(&[Event]) -> Vec<(O, isize)>;

/// A query's hand-written timely/differential implementation.
type Hand<O> = fn(Vec<Event>, usize) -> handwritten::Output<O>;

/// What one throughput child reports.
struct Throughput {
    seconds: f64,
    input_kib: u64,
    peak_kib: u64,
    outputs: usize,
    digest: u64,
}

/// Runs one implementation of query `P` on `events` and reports it (child side).
fn measure_one<P: Pipeline<Inputs = (Event,)>>(
    events: Vec<Event>,
    implementation: &str,
    workers: usize,
    reference: Reference<P::Output>,
    hand: Hand<P::Output>,
) -> Result<Throughput, String> {
    let input_kib = peak_kib();
    let started = Instant::now();
    let mut output = None;
    let records = match implementation {
        "ours" => {
            let out = Runner::<P>::new()
                .workers(workers)
                .batch(events)
                .map_err(|e| e.to_string())?;
            output = Some(out);
            Vec::new()
        }
        "hand" => hand(events, workers)?,
        "cost" => reference(&events),
        other => return Err(format!("unknown implementation {other}")),
    };
    let seconds = started.elapsed().as_secs_f64();
    // An insert-only plan's batch output comes unsorted (the same multiset): sorted after the clock,
    // only to compare it with the reference.
    let records = match output {
        Some(mut out) => {
            out.sort();
            out.records
        }
        None => records,
    };
    Ok(Throughput {
        seconds,
        input_kib,
        peak_kib: peak_kib(),
        outputs: records.len(),
        digest: digest(&records),
    })
}

/// Latency percentiles at one offered load.
struct Latency {
    fraction: f64,
    rate: f64,
    p50_us: u64,
    p99_us: u64,
    p999_us: u64,
    max_us: u64,
}

/// Stream mode, one worker: the maximum sustained rate, then open-loop latency at fractions of it.
fn latency_one<P: Pipeline<Inputs = (Event,)>>(
    events: Vec<Event>,
    seconds: f64,
) -> Result<(f64, Vec<Latency>), String> {
    let start_runner = || {
        Runner::<P>::new()
            .keep_output(false)
            .max_delay(Duration::ZERO)
            .start()
            .map_err(|e| e.to_string())
    };
    const STEP: usize = 10_000;
    let mut running = start_runner()?;
    let started = Instant::now();
    for step in events.chunks(STEP) {
        running.push(step.to_vec()).map_err(|e| e.to_string())?;
    }
    let max_rate = events.len() as f64 / started.elapsed().as_secs_f64();
    running.finish().map_err(|e| e.to_string())?;

    let mut out = Vec::new();
    for fraction in [0.25, 0.5, 0.75] {
        let rate = max_rate * fraction;
        let count = ((rate * seconds) as usize).min(events.len());
        let mut histogram =
            Histogram::<u64>::new_with_bounds(1, 600_000_000, 3).map_err(|e| e.to_string())?;
        let mut running = start_runner()?;
        let interval = 1.0 / rate;
        let t0 = Instant::now();
        let mut sent = 0usize;
        while sent < count {
            let elapsed = t0.elapsed().as_secs_f64();
            let due = ((elapsed / interval) as usize + 1).min(count);
            if due <= sent {
                let wait = sent as f64 * interval - elapsed;
                if wait > 100e-6 {
                    std::thread::sleep(Duration::from_secs_f64(wait - 50e-6));
                } else {
                    std::hint::spin_loop();
                }
                continue;
            }
            running
                .push(events[sent..due].to_vec())
                .map_err(|e| e.to_string())?;
            let done = t0.elapsed().as_secs_f64();
            for i in sent..due {
                let micros = ((done - i as f64 * interval) * 1e6).max(1.0) as u64;
                histogram.saturating_record(micros);
            }
            sent = due;
        }
        running.finish().map_err(|e| e.to_string())?;
        out.push(Latency {
            fraction,
            rate,
            p50_us: histogram.value_at_quantile(0.5),
            p99_us: histogram.value_at_quantile(0.99),
            p999_us: histogram.value_at_quantile(0.999),
            max_us: histogram.max(),
        });
    }
    Ok((max_rate, out))
}

/// Replay from the event log on disk against the batch run of the same events (child side): the
/// events are appended to a log first (not timed); then, in this process, `Runner::batch` of the
/// events in memory is timed against reading the log back into the pipeline as one step (read, CRC,
/// decode, `Running::insert`). The outputs must be equal. Returns both times, seconds.
fn replay_one<P: Pipeline<Inputs = (Event,)>>(
    events: Vec<Event>,
    _reference: Reference<P::Output>,
    _hand: Hand<P::Output>,
) -> Result<(f64, f64), String> {
    use dataflow_core::kappa::{EventLog, FsyncPolicy, LogOptions};
    use dataflow_core::log::{Log as _, Tail as _};
    let dir =
        std::env::temp_dir().join(format!("nexmark-replay-{}-{}", P::NAME, std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let log = EventLog::open(&dir, LogOptions::default().fsync(FsyncPolicy::Never))
        .map_err(|e| e.to_string())?;
    for chunk in events.chunks(1 << 16) {
        let records: Vec<(u64, Event)> = chunk.iter().map(|e| (e.date_time(), e.clone())).collect();
        dataflow_core::log::Log::append(&log, &records).map_err(|e| e.to_string())?;
    }
    log.sync().map_err(|e| e.to_string())?;
    let err = |e: dataflow_core::Error| e.to_string();
    let started = Instant::now();
    let mut batch = Runner::<P>::new().batch(events).map_err(err)?;
    let batch_seconds = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let mut running = Runner::<P>::new().start().map_err(err)?;
    let mut tail = log.tail::<Event>(0).map_err(err)?;
    loop {
        let mut part = Vec::with_capacity(1 << 16);
        if tail.read(1 << 16, &mut part).map_err(err)? == 0 {
            break;
        }
        running.insert((part,)).map_err(err)?;
    }
    running.complete().map_err(err)?;
    let mut replayed = running.finish().map_err(err)?;
    let replay_seconds = started.elapsed().as_secs_f64();
    let _ = std::fs::remove_dir_all(&dir);
    batch.sort();
    replayed.sort();
    if batch.records != replayed.records {
        return Err(format!(
            "{}: the replayed output differs from the batch output",
            P::NAME
        ));
    }
    Ok((batch_seconds, replay_seconds))
}

macro_rules! by_query {
    ($name:expr, $f:ident, $($arg:expr),*) => {
        match $name {
            "q0" => $f::<nexmark::Q0>($($arg),*, cost::q0, handwritten::q0),
            "q1" => $f::<nexmark::Q1>($($arg),*, cost::q1, handwritten::q1),
            "q2" => $f::<nexmark::Q2>($($arg),*, cost::q2, handwritten::q2),
            "q3" => $f::<nexmark::Q3>($($arg),*, cost::q3, handwritten::q3),
            "q4" => $f::<nexmark::Q4>($($arg),*, cost::q4, handwritten::q4),
            "q5" => $f::<nexmark::Q5>($($arg),*, cost::q5, handwritten::q5),
            "q6" => $f::<nexmark::Q6>($($arg),*, cost::q6, handwritten::q6),
            "q7" => $f::<nexmark::Q7>($($arg),*, cost::q7, handwritten::q7),
            "q8" => $f::<nexmark::Q8>($($arg),*, cost::q8, handwritten::q8),
            "q12" => $f::<nexmark::Q12>($($arg),*, cost::q12, handwritten::q12),
            other => Err(format!("unknown query {other}: use q0-q8 or q12")),
        }
    };
}

fn latency_dispatch<P: Pipeline<Inputs = (Event,)>>(
    events: Vec<Event>,
    seconds: f64,
    _reference: Reference<P::Output>,
    _hand: Hand<P::Output>,
) -> Result<(f64, Vec<Latency>), String> {
    latency_one::<P>(events, seconds)
}

fn generator(args: &Args) -> GeneratorConfig {
    GeneratorConfig {
        events: args.events,
        rate: args.rate,
        seed: args.seed,
        ..GeneratorConfig::default()
    }
}

/// Child side: one measurement, reported on standard output.
fn child(args: &Args, kind: &str) -> Result<(), String> {
    let query = args.query.clone().unwrap_or_default();
    let events = nexmark::generate(&generator(args));
    match kind {
        "throughput" => {
            let implementation = args.implementation.clone().unwrap_or_default();
            let t = by_query!(
                query.as_str(),
                measure_one,
                events,
                &implementation,
                args.child_workers
            )?;
            println!(
                "RESULT {} {} {} {} {}",
                t.seconds, t.input_kib, t.peak_kib, t.outputs, t.digest
            );
        }
        "replay" => {
            let (batch, replay) = by_query!(query.as_str(), replay_one, events)?;
            println!("REPLAY {batch} {replay}");
        }
        "latency" => {
            let (max_rate, points) = by_query!(
                query.as_str(),
                latency_dispatch,
                events,
                args.latency_seconds
            )?;
            println!("MAXRATE {max_rate}");
            for p in points {
                println!(
                    "LATENCY {} {} {} {} {} {}",
                    p.fraction, p.rate, p.p50_us, p.p99_us, p.p999_us, p.max_us
                );
            }
        }
        other => return Err(format!("unknown child kind {other}")),
    }
    Ok(())
}

/// Runs this executable as a child with `extra` arguments and returns its standard output.
fn spawn(args: &Args, extra: &[String]) -> Result<String, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let output = Command::new(exe)
        .args([
            "--events".to_string(),
            args.events.to_string(),
            "--rate".into(),
            args.rate.to_string(),
            "--seed".into(),
            args.seed.to_string(),
            "--latency-seconds".into(),
            args.latency_seconds.to_string(),
        ])
        .args(extra)
        .output()
        .map_err(|e| e.to_string())?;
    if !output.status.success() {
        return Err(format!(
            "child {extra:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// One implementation's measured throughput.
#[derive(Clone, Debug)]
struct Row {
    query: String,
    implementation: &'static str,
    workers: usize,
    seconds: f64,
    input_mib: f64,
    peak_mib: f64,
    outputs: usize,
    digest: u64,
}

fn throughput(
    args: &Args,
    query: &str,
    implementation: &'static str,
    workers: usize,
) -> Result<Row, String> {
    let mut best: Option<Row> = None;
    for _ in 0..args.runs.max(1) {
        let out = spawn(
            args,
            &[
                "--child".into(),
                "throughput".into(),
                "--query".into(),
                query.into(),
                "--implementation".into(),
                implementation.into(),
                "--child-workers".into(),
                workers.to_string(),
            ],
        )?;
        let line = out
            .lines()
            .find(|l| l.starts_with("RESULT "))
            .ok_or_else(|| format!("no result from {query} {implementation}: {out}"))?;
        let f: Vec<&str> = line.split_whitespace().skip(1).collect();
        let parse = |i: usize| {
            f.get(i)
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(f64::NAN)
        };
        let row = Row {
            query: query.to_string(),
            implementation,
            workers,
            seconds: parse(0),
            input_mib: parse(1) / 1024.0,
            peak_mib: parse(2) / 1024.0,
            outputs: parse(3) as usize,
            digest: f.get(4).and_then(|v| v.parse().ok()).unwrap_or(0),
        };
        eprintln!(
            "  {query:<4} {implementation:<5} w{workers}: {:>8.3} s  {:>7.2} M events/s  peak {:>7.1} MiB  outputs {}",
            row.seconds,
            args.events as f64 / row.seconds / 1e6,
            row.peak_mib,
            row.outputs
        );
        if best.as_ref().is_none_or(|b| row.seconds < b.seconds) {
            best = Some(row);
        }
    }
    best.ok_or_else(|| "no run".to_string())
}

/// One query's stream-mode figures.
struct StreamRow {
    query: String,
    max_rate: f64,
    points: Vec<(f64, f64, u64, u64, u64, u64)>,
}

fn stream_latency(args: &Args, query: &str) -> Result<StreamRow, String> {
    let out = spawn(
        args,
        &[
            "--child".into(),
            "latency".into(),
            "--query".into(),
            query.into(),
        ],
    )?;
    let mut row = StreamRow {
        query: query.to_string(),
        max_rate: 0.0,
        points: Vec::new(),
    };
    for line in out.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        match f.first() {
            Some(&"MAXRATE") => row.max_rate = f[1].parse().unwrap_or(0.0),
            Some(&"LATENCY") => {
                let n = |i: usize| f[i].parse::<f64>().unwrap_or(f64::NAN);
                row.points.push((
                    n(1),
                    n(2),
                    n(3) as u64,
                    n(4) as u64,
                    n(5) as u64,
                    n(6) as u64,
                ));
            }
            _ => {}
        }
    }
    eprintln!(
        "  {query:<4} stream: max {:.2} M events/s; {}",
        row.max_rate / 1e6,
        row.points
            .iter()
            .map(|p| format!(
                "{:.0}%: p50 {} µs p99 {} µs p99.9 {} µs",
                p.0 * 100.0,
                p.2,
                p.3,
                p.4
            ))
            .collect::<Vec<_>>()
            .join("; ")
    );
    Ok(row)
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .next()
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0.0, |kib| kib as f64 / 1024.0 / 1024.0);
    format!("{cpu}, {nproc} vCPUs, {mem:.0} GiB")
}

fn today() -> String {
    Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

fn rate(args: &Args, row: &Row) -> f64 {
    args.events as f64 / row.seconds
}

/// The results as Markdown.
fn markdown(args: &Args, rows: &[Row], streams: &[StreamRow], peers: &str) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# Nexmark results\n");
    let _ = writeln!(
        md,
        "Measured {} on {}, with `cargo run --release --example nexmark -- --events {} --queries {} --workers {}{}` \
         ({} events at {} events/s of event time, seed {}; best of {} run(s); every output checked equal \
         to the single-threaded reference before any figure was printed).\n",
        today(),
        machine(),
        args.events,
        args.queries.join(","),
        args.workers
            .iter()
            .map(|w| w.to_string())
            .collect::<Vec<_>>()
            .join(","),
        extra_flags(args),
        args.events,
        args.rate,
        args.seed,
        args.runs.max(1),
    );
    let _ = writeln!(md, "## Batch throughput\n");
    let _ = writeln!(
        md,
        "`ours` is the `#[pipeline]` query through `Runner::batch`; `hand` the same query hand-written on \
         timely (q0-q2, q5, q7, q12) or differential (q3, q4, q6, q8); `cost` a single-threaded loop. \
         Time from graph construction to the consolidated, sorted output in hand. Peak = the process's \
         VmHWM; input = VmHWM once the events were generated.\n"
    );
    let _ = writeln!(
        md,
        "| query | implementation | workers | seconds | M events/s | ours ÷ this | peak MiB | input MiB | outputs |"
    );
    let _ = writeln!(md, "|---|---|---:|---:|---:|---:|---:|---:|---:|");
    for row in rows {
        let ours = rows
            .iter()
            .find(|r| {
                r.query == row.query && r.implementation == "ours" && r.workers == row.workers
            })
            .or_else(|| {
                rows.iter()
                    .find(|r| r.query == row.query && r.implementation == "ours" && r.workers == 1)
            });
        let ratio = ours.map_or("-".into(), |o| {
            format!("{:.2}×", rate(args, o) / rate(args, row))
        });
        let _ = writeln!(
            md,
            "| {} | {} | {} | {:.3} | {:.2} | {} | {:.0} | {:.0} | {} |",
            row.query,
            row.implementation,
            row.workers,
            row.seconds,
            rate(args, row) / 1e6,
            ratio,
            row.peak_mib,
            row.input_mib,
            row.outputs
        );
    }
    if !streams.is_empty() {
        let _ = writeln!(md, "\n## Stream latency (one worker, open loop)\n");
        let _ = writeln!(
            md,
            "Maximum sustained rate: the generated pipeline fed steps of 10,000 events as fast as it takes \
             them. Then events offered at a fraction of it for {} s; latency = from when an event was due \
             until the output of the step holding it was complete (HDR histogram, µs).\n",
            args.latency_seconds
        );
        let _ = writeln!(
            md,
            "| query | max M events/s | load | offered M events/s | p50 µs | p99 µs | p99.9 µs | max µs |"
        );
        let _ = writeln!(md, "|---|---:|---:|---:|---:|---:|---:|---:|");
        for s in streams {
            for p in &s.points {
                let _ = writeln!(
                    md,
                    "| {} | {:.2} | {:.0}% | {:.2} | {} | {} | {} | {} |",
                    s.query,
                    s.max_rate / 1e6,
                    p.0 * 100.0,
                    p.1 / 1e6,
                    p.2,
                    p.3,
                    p.4,
                    p.5
                );
            }
        }
    }
    if !peers.is_empty() {
        let _ = writeln!(md, "\n## Batch peers: daily-sales group-by\n");
        md.push_str(peers);
    }
    md
}

/// The flags beyond the events, queries and workers that shaped a run, as its command line gives them.
fn extra_flags(args: &Args) -> String {
    let mut flags = String::new();
    if args.replay {
        flags.push_str(" --replay");
    }
    if !args.scaling.is_empty() {
        let sizes: Vec<String> = args.scaling.iter().map(u64::to_string).collect();
        let _ = write!(flags, " --scaling {}", sizes.join(","));
    }
    if args.peers {
        flags.push_str(" --peers");
    }
    if args.no_latency {
        flags.push_str(" --no-latency");
    }
    flags
}

/// The COST column (ours ÷ the single-threaded loop, one worker), the replay and the scaling tables.
fn extra_tables(
    args: &Args,
    rows: &[Row],
    replays: &[(String, f64, f64)],
    scaling: &[(String, u64, f64)],
) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "\n## Ours against COST and hand-written (one worker)\n");
    let _ = writeln!(
        md,
        "| query | ours M events/s | ours ÷ hand-written | single thread ÷ ours (COST) |"
    );
    let _ = writeln!(md, "|---|---:|---:|---:|");
    for query in &args.queries {
        let find = |imp: &str| {
            rows.iter()
                .find(|r| &r.query == query && r.implementation == imp && r.workers == 1)
        };
        if let (Some(ours), Some(hand), Some(cost)) = (find("ours"), find("hand"), find("cost")) {
            let _ = writeln!(
                md,
                "| {query} | {:.2} | {:.2}× | {:.1}× |",
                rate(args, ours) / 1e6,
                hand.seconds / ours.seconds,
                ours.seconds / cost.seconds
            );
        }
    }
    if !replays.is_empty() {
        let _ = writeln!(md, "\n## Replay from the event log on disk (one worker)\n");
        let _ = writeln!(
            md,
            "The events appended to an event log on local disk first (not timed; warm page cache); then, in \
             one process, `Runner::batch` of the events in memory against the log read back into the \
             pipeline as one step (read, CRC, decode, `Running::insert`); outputs checked equal.\n"
        );
        let _ = writeln!(md, "| query | batch s | replay s | replay ÷ batch |");
        let _ = writeln!(md, "|---|---:|---:|---:|");
        for (query, batch, replay) in replays {
            let _ = writeln!(
                md,
                "| {query} | {batch:.3} | {replay:.3} | {:.2} |",
                replay / batch
            );
        }
    }
    if !scaling.is_empty() {
        let mut sizes: Vec<u64> = scaling.iter().map(|s| s.1).collect();
        sizes.dedup();
        let _ = writeln!(md, "\n## Scaling: ours, one worker, ns per event\n");
        let header: Vec<String> = sizes
            .iter()
            .map(|n| format!("{} M events", n / 1_000_000))
            .collect();
        let _ = writeln!(md, "| query | {} | last ÷ first |", header.join(" | "));
        let _ = writeln!(md, "|---|{}---:|", "---:|".repeat(sizes.len()));
        for query in &args.queries {
            let per: Vec<f64> = sizes
                .iter()
                .filter_map(|n| {
                    scaling
                        .iter()
                        .find(|s| &s.0 == query && s.1 == *n)
                        .map(|s| s.2 / *n as f64 * 1e9)
                })
                .collect();
            if per.len() == sizes.len() {
                let cells: Vec<String> = per.iter().map(|v| format!("{v:.0}")).collect();
                let _ = writeln!(
                    md,
                    "| {query} | {} | {:.2} |",
                    cells.join(" | "),
                    per[per.len() - 1] / per[0]
                );
            }
        }
    }
    md
}

/// A grouped bar chart of one-worker throughput per query, as SVG.
fn svg(args: &Args, rows: &[Row]) -> String {
    let series: [(&str, &str); 3] = [
        ("ours", "#3b7dd8"),
        ("hand", "#e08a2c"),
        ("cost", "#6aa84f"),
    ];
    let queries: Vec<&String> = args.queries.iter().collect();
    let value = |q: &str, imp: &str| {
        rows.iter()
            .find(|r| r.query == q && r.implementation == imp && r.workers == 1)
            .map(|r| rate(args, r) / 1e6)
    };
    let max = rows
        .iter()
        .filter(|r| r.workers == 1)
        .map(|r| rate(args, r) / 1e6)
        .fold(0.0f64, f64::max)
        .max(1e-9);
    let (width, height, left, bottom, top) =
        (90.0 * queries.len() as f64 + 80.0, 360.0, 60.0, 40.0, 40.0);
    let plot = height - bottom - top;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"11\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{left}\" y=\"20\" font-size=\"13\">Nexmark, {} events, one worker: million events per second</text>\n",
        args.events
    );
    for tick in 0..=4 {
        let v = max * tick as f64 / 4.0;
        let y = top + plot - plot * tick as f64 / 4.0;
        let _ = writeln!(
            s,
            "<line x1=\"{left}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#ddd\"/><text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{v:.1}</text>",
            width - 10.0,
            left - 5.0,
            y + 4.0
        );
    }
    for (i, q) in queries.iter().enumerate() {
        let x0 = left + 10.0 + 90.0 * i as f64;
        for (j, (imp, color)) in series.iter().enumerate() {
            if let Some(v) = value(q, imp) {
                let h = plot * v / max;
                let x = x0 + 24.0 * j as f64;
                let _ = writeln!(
                    s,
                    "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"22\" height=\"{h:.1}\" fill=\"{color}\"><title>{q} {imp}: {v:.2} M/s</title></rect>",
                    top + plot - h
                );
            }
        }
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{q}</text>",
            x0 + 36.0,
            height - bottom + 16.0
        );
    }
    for (j, (imp, color)) in series.iter().enumerate() {
        let x = width - 230.0 + 75.0 * j as f64;
        let _ = writeln!(
            s,
            "<rect x=\"{x}\" y=\"28\" width=\"10\" height=\"10\" fill=\"{color}\"/><text x=\"{}\" y=\"37\">{imp}</text>",
            x + 14.0
        );
    }
    s.push_str("</svg>\n");
    s
}

fn run(args: &Args) -> Result<(), String> {
    if args.workers.contains(&0) {
        return Err("--workers must be at least 1".into());
    }
    eprintln!("Nexmark: {} events, machine {}", args.events, machine());
    let mut rows: Vec<Row> = Vec::new();
    for query in &args.queries {
        let reference = throughput(args, query, "cost", 1)?;
        let mut measured = vec![reference.clone()];
        for &w in &args.workers {
            measured.push(throughput(args, query, "ours", w)?);
            measured.push(throughput(args, query, "hand", w)?);
        }
        for m in &measured {
            if m.digest != reference.digest || m.outputs != reference.outputs {
                return Err(format!(
                    "{query}: {} with {} workers gave {} records (digest {:x}), the reference {} (digest {:x})",
                    m.implementation,
                    m.workers,
                    m.outputs,
                    m.digest,
                    reference.outputs,
                    reference.digest
                ));
            }
        }
        rows.extend(measured);
    }
    let mut replays = Vec::new();
    if args.replay {
        for query in &args.queries {
            let out = spawn(
                args,
                &[
                    "--child".into(),
                    "replay".into(),
                    "--query".into(),
                    query.into(),
                ],
            )?;
            let line = out
                .lines()
                .find(|l| l.starts_with("REPLAY "))
                .ok_or_else(|| format!("no replay result from {query}: {out}"))?;
            let f: Vec<f64> = line
                .split_whitespace()
                .skip(1)
                .map(|v| v.parse().unwrap_or(f64::NAN))
                .collect();
            eprintln!(
                "  {query:<4} replay: batch {:.3} s, from the log {:.3} s, ÷ {:.2}",
                f[0],
                f[1],
                f[1] / f[0]
            );
            replays.push((query.clone(), f[0], f[1]));
        }
    }
    let mut scaling = Vec::new();
    for &events in &args.scaling {
        let sized = Args {
            events,
            ..args.clone()
        };
        for query in &args.queries {
            let row = throughput(&sized, query, "ours", 1)?;
            scaling.push((query.clone(), events, row.seconds));
        }
    }
    let mut streams = Vec::new();
    if !args.no_latency {
        for query in &args.queries {
            streams.push(stream_latency(args, query)?);
        }
    }
    let peers = if args.peers {
        peers(args)?
    } else {
        String::new()
    };
    let mut md = markdown(args, &rows, &streams, &peers);
    md.push_str(&extra_tables(args, &rows, &replays, &scaling));
    println!("{md}");
    if !args.no_write {
        std::fs::create_dir_all("docs").map_err(|e| e.to_string())?;
        std::fs::write("docs/nexmark-results.md", &md).map_err(|e| e.to_string())?;
        std::fs::write("docs/nexmark.svg", svg(args, &rows)).map_err(|e| e.to_string())?;
        eprintln!("wrote docs/nexmark-results.md and docs/nexmark.svg");
    }
    Ok(())
}

/// `rows` sales over 1,000 products and 100 days, as in `bench_daily_sales`.
fn sales(rows: usize, seed: u64) -> Vec<Sale> {
    common::sales::generate(rows, 1000, 100, seed)
}

/// The COST baseline of the group-by: revenue and count per (product, day) in a `HashMap`.
fn single_loop(
    rows: Vec<Sale>,
) -> std::collections::HashMap<(String, chrono::NaiveDate), (Decimal, u64)> {
    let mut totals = std::collections::HashMap::new();
    for sale in rows {
        let revenue = Decimal::from(sale.quantity) * sale.price;
        let total = totals
            .entry((sale.product, sale.date))
            .or_insert((Decimal::ZERO, 0u64));
        total.0 += revenue;
        total.1 += 1;
    }
    totals
}

/// The Python side of a peer: loads the CSV (timed apart), runs the group-by, prints
/// `PEER <load s> <query s> <groups> <total revenue>`.
const PEER_SCRIPT: &str = r#"
import sys, time
engine, path = sys.argv[1], sys.argv[2]
if engine.startswith("duckdb"):
    import duckdb
    con = duckdb.connect()
    if engine == "duckdb-1-thread":
        con.execute("SET threads TO 1")
    t = time.perf_counter()
    con.execute(f"CREATE TABLE sales AS SELECT * FROM read_csv('{path}', header=true, columns={{'product':'VARCHAR','quantity':'BIGINT','price':'DECIMAL(18,2)','date':'DATE'}})")
    load = time.perf_counter() - t
    t = time.perf_counter()
    rows = con.execute("SELECT product, date, SUM(quantity * price), COUNT(*) FROM sales GROUP BY product, date").fetchall()
    query = time.perf_counter() - t
    total = sum(r[2] for r in rows)
else:
    import polars as pl
    t = time.perf_counter()
    df = pl.read_csv(path, schema={"product": pl.Utf8, "quantity": pl.Int64, "price": pl.Decimal(18, 2), "date": pl.Date})
    load = time.perf_counter() - t
    t = time.perf_counter()
    out = df.group_by(["product", "date"]).agg((pl.col("quantity") * pl.col("price")).sum().alias("revenue"), pl.len())
    query = time.perf_counter() - t
    rows = out.rows()
    total = out["revenue"].sum()
print("PEER", load, query, len(rows), total)
"#;

/// The daily-sales group-by: ours against DuckDB and Polars, as a Markdown section.
fn peers(args: &Args) -> Result<String, String> {
    let rows = sales(args.peer_rows, args.seed);
    let dir = std::path::Path::new("target/nexmark-peers");
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let path = dir.join(format!("sales-{}-{}.csv", args.peer_rows, args.seed));
    if !path.exists() {
        eprintln!("writing {} ...", path.display());
        let mut text = String::with_capacity(rows.len() * 40);
        text.push_str("product,quantity,price,date\n");
        for s in &rows {
            let _ = writeln!(text, "{},{},{},{}", s.product, s.quantity, s.price, s.date);
        }
        std::fs::write(&path, text).map_err(|e| e.to_string())?;
    }
    let started = Instant::now();
    let output = Runner::<DailySales>::new()
        .batch(rows)
        .map_err(|e| e.to_string())?;
    let ours = started.elapsed().as_secs_f64();
    let groups = output.records.len();
    let total: Decimal = output.records.iter().map(|(t, _)| t.total_revenue).sum();
    let rows = sales(args.peer_rows, args.seed);
    let started = Instant::now();
    let looped = single_loop(rows);
    let loop_seconds = started.elapsed().as_secs_f64();
    let loop_total: Decimal = looped.values().map(|t| t.0).sum();
    if looped.len() != groups || loop_total != total {
        return Err(format!(
            "the single-threaded loop disagrees: {} groups, total {loop_total}; ours {groups}, {total}",
            looped.len()
        ));
    }
    let mut md = String::new();
    let _ = writeln!(
        md,
        "Revenue and count per (product, day) over {} rows (1,000 products × 100 days), the input in memory \
         (peers: loaded from `{}` first, load timed apart). Our pipeline on one worker; DuckDB and Polars use \
         their default thread pools (all {} vCPUs) except `duckdb-1-thread` (`SET threads TO 1`); the \
         single-threaded loop folds the same rows into a `HashMap`. Ours ÷ this > 1 means ours is faster.\n",
        args.peer_rows,
        path.display(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let _ = writeln!(
        md,
        "| engine | load s | group-by s | M rows/s | ours ÷ this | groups | total revenue |"
    );
    let _ = writeln!(md, "|---|---:|---:|---:|---:|---:|---:|");
    let _ = writeln!(
        md,
        "| ours (`DailySales`, 1 worker) | - | {ours:.3} | {:.2} | 1.00× | {groups} | {total} |",
        args.peer_rows as f64 / ours / 1e6
    );
    let _ = writeln!(
        md,
        "| single-threaded loop (`HashMap`) | - | {loop_seconds:.3} | {:.2} | {:.2}× | {groups} | {total} |",
        args.peer_rows as f64 / loop_seconds / 1e6,
        loop_seconds / ours
    );
    eprintln!("  peers: ours {ours:.3} s, loop {loop_seconds:.3} s, {groups} groups");
    for engine in ["duckdb-1-thread", "duckdb", "polars"] {
        let out = Command::new("python3")
            .args(["-c", PEER_SCRIPT, engine, &path.display().to_string()])
            .output();
        let line = match &out {
            Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout)
                .lines()
                .find(|l| l.starts_with("PEER "))
                .map(str::to_string),
            _ => None,
        };
        let Some(line) = line else {
            let why = out.map_or_else(
                |e| e.to_string(),
                |o| {
                    String::from_utf8_lossy(&o.stderr)
                        .lines()
                        .last()
                        .unwrap_or("")
                        .to_string()
                },
            );
            eprintln!(
                "  peers: {engine} skipped ({why}); install it with scripts/install-peers.sh"
            );
            let _ = writeln!(
                md,
                "| {engine} | skipped: not installed (`scripts/install-peers.sh`) | | | | | |"
            );
            continue;
        };
        let f: Vec<&str> = line.split_whitespace().skip(1).collect();
        let load: f64 = f[0].parse().unwrap_or(f64::NAN);
        let query: f64 = f[1].parse().unwrap_or(f64::NAN);
        let peer_groups: usize = f[2].parse().unwrap_or(0);
        let peer_total = f[3];
        if peer_groups != groups || peer_total.parse::<Decimal>().ok() != Some(total) {
            return Err(format!(
                "{engine} disagrees: {peer_groups} groups, total {peer_total}; ours {groups}, {total}"
            ));
        }
        eprintln!("  peers: {engine} load {load:.3} s, group-by {query:.3} s");
        let _ = writeln!(
            md,
            "| {engine} | {load:.3} | {query:.3} | {:.2} | {:.2}× | {peer_groups} | {peer_total} |",
            args.peer_rows as f64 / query / 1e6,
            query / ours
        );
    }
    Ok(md)
}

fn main() -> ExitCode {
    let args = Args::parse();
    let result = match args.child.as_deref() {
        Some(kind) => child(&args, kind),
        None => run(&args),
    };
    common::exit::exit(result)
}
