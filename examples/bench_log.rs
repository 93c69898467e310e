//! The log backends measured in one run: ingest and replay of `daily_sales` records through a
//! Kafka-protocol broker on loopback against the embedded file log, with 1 and 2 workers and with 1
//! and 2 timely processes; and replay of Nexmark events from the file log across 2 processes
//! against 1.
//!
//! ```sh
//! sh scripts/install-kafka.sh      # the broker (tansu), cached after its first build
//! cargo run --release --example bench_log -- [--records 1000000] [--partitions 2]
//!     [--nexmark-events 1000000,10000000] [--queries q1,q4] [--runs 3]
//! ```
//!
//! The broker is `$DATAFLOW_KAFKA_BROKER` or the install script's cache path; it runs with memory
//! storage on a loopback port chosen at run time and is stopped at the end. Without a broker the
//! Kafka rows are left out (and said so). A run with several processes starts this executable once
//! per process (`--child`), as timely's cluster mode on loopback ports chosen at run time: process
//! p replays its share of the log (the file log: process 0 alone; a topic: every n-th partition from
//! p on), and the keyed stages exchange records between the processes.
//! Every replay's output is checked equal to `Runner::batch` of the same records in memory before a
//! figure is printed. Times are the best of `--runs`.

#[path = "common/mod.rs"]
mod common;

use clap::Parser;
use dataflow_core::kappa;
use dataflow_core::log::{
    EventLog, FsyncPolicy, KafkaAddress, KafkaLog, KafkaOptions, Log, LogOptions, Offsets, Schema,
};
use dataflow_core::runtime::{Cluster, Runner};
use dataflow_core::{Pipeline, Record};
use dataflow_examples::nexmark::{self, Event, GeneratorConfig};
use dataflow_examples::{DailySales, Sale};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

/// Command line.
#[derive(Parser, Debug)]
#[command(about = "Ingest and replay through a Kafka-protocol broker against the file log")]
struct Args {
    /// daily_sales records to ingest and replay.
    #[arg(long, default_value_t = 1_000_000)]
    records: usize,
    /// Partitions of the Kafka topic.
    #[arg(long, default_value_t = 2)]
    partitions: usize,
    /// Nexmark event counts replayed from the file log on 1 and 2 processes (comma separated).
    #[arg(long, value_delimiter = ',', default_value = "1000000,10000000")]
    nexmark_events: Vec<u64>,
    /// Nexmark queries replayed on 1 and 2 processes (comma separated).
    #[arg(long, value_delimiter = ',', default_value = "q1,q4")]
    queries: Vec<String>,
    /// Runs per measurement; the best counts.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Internal: replay as one process of a cluster: `PIPELINE LOG PROCESS ADDRESSES`.
    #[arg(long, hide = true, num_args = 4)]
    child: Option<Vec<String>>,
}

fn broker_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("DATAFLOW_KAFKA_BROKER") {
        return Some(PathBuf::from(path));
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(cache.join("dataflow/bin/tansu")).filter(|p| p.exists())
}

/// A broker on a loopback port chosen now, killed when dropped.
struct Broker(Child, String);

impl Drop for Broker {
    fn drop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

/// A free loopback port.
fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

fn start_broker(binary: &Path) -> Result<Broker, String> {
    let port = free_port()?;
    let url = format!("tcp://127.0.0.1:{port}");
    let child = Command::new(binary)
        .args([
            "broker",
            "--listener-url",
            &url,
            "--advertised-listener-url",
            &url,
        ])
        .args(["--storage-engine", "memory://tansu/"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("{}: {e}", binary.display()))?;
    let address = format!("127.0.0.1:{port}");
    let broker = Broker(child, address.clone());
    let started = Instant::now();
    while std::net::TcpStream::connect(&address).is_err() {
        if started.elapsed() > Duration::from_secs(30) {
            return Err("the broker does not listen after 30 s".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(broker)
}

fn sales(n: usize) -> Vec<(u64, Sale)> {
    let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 1).expect("a date");
    (0..n)
        .map(|i| {
            (
                i as u64,
                Sale {
                    product: format!("p{}", i % 1000),
                    quantity: 1 + (i % 7) as i64,
                    price: rust_decimal::Decimal::new(100 + (i % 900) as i64, 2),
                    date: day + chrono::Days::new((i % 30) as u64),
                },
            )
        })
        .collect()
}

/// An order-sensitive digest of a sorted output.
fn digest<O: Hash>(records: &[(O, isize)]) -> u64 {
    let mut hasher = DefaultHasher::new();
    records.hash(&mut hasher);
    hasher.finish()
}

/// The digest of `Runner::batch` of `records` in memory: what every replay must give.
fn reference<P: Pipeline<Inputs = (I,)>, I: Record>(records: Vec<I>) -> Result<u64, String> {
    let mut output = Runner::<P>::new()
        .batch(records)
        .map_err(|e| e.to_string())?;
    output.sort();
    Ok(digest(&output.records))
}

/// Appends `records` in batches of `batch`; returns the seconds taken.
fn ingest<L: Log, I: Schema>(log: &L, records: &[(u64, I)], batch: usize) -> Result<f64, String> {
    let started = Instant::now();
    for chunk in records.chunks(batch) {
        log.append(chunk).map_err(|e| e.to_string())?;
    }
    Ok(started.elapsed().as_secs_f64())
}

/// Replays `log` from `from` with `runner` in steps of 10,000 records; returns the seconds from
/// the start of the run to its finished output, and the output's digest (process 0 of a cluster
/// holds the whole output; the others give 0).
fn replay_once<P, I, L>(
    runner: &Runner<P>,
    log: &L,
    from: L::Position,
) -> Result<(f64, u64), String>
where
    P: Pipeline<Inputs = (I,)>,
    I: Record + Schema,
    L: Log,
{
    let err = |e: dataflow_core::Error| e.to_string();
    let started = Instant::now();
    let mut replay = kappa::Replay::<P, I, L>::start(runner, log, from, 10_000).map_err(err)?;
    while replay.step().map_err(err)?.is_some() {}
    let mut replayed = replay.finish().map_err(err)?;
    let seconds = started.elapsed().as_secs_f64();
    replayed.output.sort();
    Ok((seconds, digest(&replayed.output.records)))
}

/// The best of `runs` replays in this process with `workers` workers; every output must be `expected`.
fn replay_here<P, I, L>(
    log: &L,
    from: L::Position,
    workers: usize,
    runs: usize,
    expected: u64,
) -> Result<f64, String>
where
    P: Pipeline<Inputs = (I,)>,
    I: Record + Schema,
    L: Log,
{
    let mut best = f64::MAX;
    for _ in 0..runs.max(1) {
        let (seconds, got) =
            replay_once::<P, I, L>(&Runner::new().workers(workers), log, from.clone())?;
        if got != expected {
            return Err(format!(
                "{}: the replay of {} differs from the batch output",
                P::NAME,
                log.name()
            ));
        }
        best = best.min(seconds);
    }
    Ok(best)
}

/// The log a child replays: `kafka://HOST:PORT/TOPIC` or a directory.
fn child_replay<P, I>(log: &str, runner: Runner<P>) -> Result<(f64, u64), String>
where
    P: Pipeline<Inputs = (I,)>,
    I: Record + Schema,
{
    if let Some(rest) = log.strip_prefix("kafka://") {
        let (broker, topic) = rest
            .split_once('/')
            .ok_or_else(|| format!("{log}: not kafka://HOST:PORT/TOPIC"))?;
        let address = KafkaAddress {
            broker: broker.into(),
            topic: topic.into(),
        };
        let kafka =
            KafkaLog::connect(&address, KafkaOptions::default()).map_err(|e| e.to_string())?;
        replay_once::<P, I, KafkaLog>(&runner, &kafka, Offsets::default())
    } else {
        let file = EventLog::open_read_only(Path::new(log)).map_err(|e| e.to_string())?;
        replay_once::<P, I, EventLog>(&runner, &file, 0)
    }
}

/// Child side: one process of a cluster replays its share of `log`; process 0 prints `seconds
/// digest`.
fn child(spec: &[String]) -> Result<(), String> {
    let [pipeline, log, process, addresses] = spec else {
        return Err("--child PIPELINE LOG PROCESS ADDRESSES".into());
    };
    let process: usize = process.parse().map_err(|e| format!("process: {e}"))?;
    let addresses: Vec<String> = addresses.split(',').map(str::to_string).collect();
    let cluster = Cluster {
        workers: 1,
        processes: addresses.len(),
        process,
        addresses,
    };
    macro_rules! run {
        ($p:ty, $i:ty) => {{
            let runner = Runner::<$p>::new().cluster(cluster).disjoint_inputs(true);
            // Each process replays its own partitions: the file log's one is process 0's, and of
            // a topic's, process p reads every n-th from p on.
            if process == 0 || log.starts_with("kafka://") {
                child_replay::<$p, $i>(log, runner)
            } else {
                runner
                    .start()
                    .and_then(|running| running.finish())
                    .map(|_| (0.0, 0))
                    .map_err(|e| e.to_string())
            }
        }};
    }
    let (seconds, digest) = match pipeline.as_str() {
        "daily_sales" => run!(DailySales, Sale),
        "q1" => run!(nexmark::Q1, Event),
        "q3" => run!(nexmark::Q3, Event),
        "q4" => run!(nexmark::Q4, Event),
        "q5" => run!(nexmark::Q5, Event),
        "q7" => run!(nexmark::Q7, Event),
        "q8" => run!(nexmark::Q8, Event),
        other => {
            return Err(format!(
                "unknown pipeline {other}: daily_sales, q1, q3, q4, q5, q7, q8"
            ));
        }
    }?;
    if process == 0 {
        println!("{seconds} {digest}");
    }
    Ok(())
}

/// The best of `runs` replays of `log` by a cluster of `processes` processes of one worker each, as
/// child processes on loopback; every output must be `expected`.
fn replay_cluster(
    pipeline: &str,
    log: &str,
    processes: usize,
    runs: usize,
    expected: u64,
) -> Result<f64, String> {
    let program = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut best = f64::MAX;
    for _ in 0..runs.max(1) {
        let addresses = (0..processes)
            .map(|_| free_port().map(|port| format!("127.0.0.1:{port}")))
            .collect::<Result<Vec<_>, _>>()?
            .join(",");
        let children = (0..processes)
            .map(|process| {
                Command::new(&program)
                    .args(["--child", pipeline, log, &process.to_string(), &addresses])
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .map_err(|e| format!("{}: {e}", program.display()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut reported = None;
        for (process, child) in children.into_iter().enumerate() {
            let output = child.wait_with_output().map_err(|e| e.to_string())?;
            if !output.status.success() {
                return Err(format!(
                    "process {process} of {processes} replaying {pipeline} failed: {}",
                    String::from_utf8_lossy(&output.stderr)
                ));
            }
            if process == 0 {
                // The last line: timely's cluster set-up prints its own lines before it.
                let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
                reported = stdout.lines().last().map(str::to_string);
            }
        }
        let line = reported.unwrap_or_default();
        let (seconds, got) = line
            .split_once(' ')
            .and_then(|(s, d)| Some((s.parse::<f64>().ok()?, d.parse::<u64>().ok()?)))
            .ok_or_else(|| format!("process 0 reported `{line}`"))?;
        if got != expected {
            return Err(format!(
                "{pipeline}: the replay of {log} by {processes} processes differs from the batch output"
            ));
        }
        best = best.min(seconds);
    }
    Ok(best)
}

/// One row of the table: what, records, seconds on the file log, seconds on Kafka (if measured).
struct Row {
    what: String,
    records: u64,
    file: f64,
    kafka: Option<f64>,
}

fn run(args: &Args) -> Result<(), String> {
    let broker = match broker_binary() {
        Some(binary) => Some(start_broker(&binary)?),
        None => {
            eprintln!(
                "no broker: the Kafka rows are left out (run scripts/install-kafka.sh or set DATAFLOW_KAFKA_BROKER)"
            );
            None
        }
    };
    let records = args.records;
    let data = sales(records);
    let expected = reference::<DailySales, Sale>(data.iter().map(|(_, s)| s.clone()).collect())?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let file_dir = dir.path().join("sales");
    let file = EventLog::open(&file_dir, LogOptions::default()).map_err(|e| e.to_string())?;
    let kafka = match &broker {
        Some(broker) => {
            let address = KafkaAddress {
                broker: broker.1.clone(),
                topic: "bench".into(),
            };
            let log = KafkaLog::create(&address, args.partitions, KafkaOptions::default())
                .map_err(|e| e.to_string())?;
            Some((log, format!("kafka://{}/bench", broker.1)))
        }
        None => None,
    };
    let n = records as u64;
    let mut rows = vec![Row {
        what: "ingest (batches of 10,000)".into(),
        records: n,
        file: ingest(&file, &data, 10_000)?,
        kafka: kafka
            .as_ref()
            .map(|(log, _)| ingest(log, &data, 10_000))
            .transpose()?,
    }];
    drop(data);
    for workers in [1, 2] {
        rows.push(Row {
            what: format!("replay, 1 process × {workers} worker(s)"),
            records: n,
            file: replay_here::<DailySales, Sale, EventLog>(
                &file, 0, workers, args.runs, expected,
            )?,
            kafka: kafka
                .as_ref()
                .map(|(log, _)| {
                    replay_here::<DailySales, Sale, KafkaLog>(
                        log,
                        Offsets::default(),
                        workers,
                        args.runs,
                        expected,
                    )
                })
                .transpose()?,
        });
    }
    let file_name = file_dir.display().to_string();
    for processes in [1, 2] {
        rows.push(Row {
            what: format!("replay, {processes} process(es) × 1 worker (cluster mode)"),
            records: n,
            file: replay_cluster("daily_sales", &file_name, processes, args.runs, expected)?,
            kafka: kafka
                .as_ref()
                .map(|(_, name)| {
                    replay_cluster("daily_sales", name, processes, args.runs, expected)
                })
                .transpose()?,
        });
    }
    println!(
        "{records} daily_sales records, replayed in steps of 10,000; the file log on local disk against \
         tansu (memory storage) on loopback with {} partitions; best of {} runs; every output checked \
         equal to the batch output",
        args.partitions, args.runs
    );
    println!();
    println!("| what | file log records/s | Kafka records/s | Kafka ÷ file |");
    println!("|---|---:|---:|---:|");
    for row in &rows {
        let file_rate = row.records as f64 / row.file;
        let kafka = row.kafka.map(|k| row.records as f64 / k);
        println!(
            "| {} | {:.2} M | {} | {} |",
            row.what,
            file_rate / 1e6,
            kafka.map_or("-".into(), |k| format!("{:.2} M", k / 1e6)),
            kafka.map_or("-".into(), |k| format!("{:.2}", k / file_rate)),
        );
    }
    drop(broker);

    if args.nexmark_events.is_empty() || args.queries.is_empty() {
        return Ok(());
    }
    println!();
    println!(
        "Nexmark events replayed from the file log in steps of 10,000, 1 worker per process, best of {} runs; \
         every output checked equal to the batch output",
        args.runs
    );
    println!();
    println!(
        "| query | events | 1 process s | 2 processes s | 1 process M events/s | 2 processes M events/s | 2 ÷ 1 process time |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for &events in &args.nexmark_events {
        let config = GeneratorConfig {
            events,
            ..GeneratorConfig::default()
        };
        let generated = nexmark::generate(&config);
        let log_dir = dir.path().join(format!("nexmark-{events}"));
        let log = EventLog::open(&log_dir, LogOptions::default().fsync(FsyncPolicy::Never))
            .map_err(|e| e.to_string())?;
        for chunk in generated.chunks(1 << 16) {
            let records: Vec<(u64, Event)> =
                chunk.iter().map(|e| (e.date_time(), e.clone())).collect();
            Log::append(&log, &records).map_err(|e| e.to_string())?;
        }
        log.sync().map_err(|e| e.to_string())?;
        let name = log_dir.display().to_string();
        for query in &args.queries {
            let expected = match query.as_str() {
                "q1" => reference::<nexmark::Q1, Event>(generated.clone()),
                "q3" => reference::<nexmark::Q3, Event>(generated.clone()),
                "q4" => reference::<nexmark::Q4, Event>(generated.clone()),
                "q5" => reference::<nexmark::Q5, Event>(generated.clone()),
                "q7" => reference::<nexmark::Q7, Event>(generated.clone()),
                "q8" => reference::<nexmark::Q8, Event>(generated.clone()),
                other => Err(format!("unknown query {other}: q1, q3, q4, q5, q7, q8")),
            }?;
            let one = replay_cluster(query, &name, 1, args.runs, expected)?;
            let two = replay_cluster(query, &name, 2, args.runs, expected)?;
            println!(
                "| {query} | {events} | {one:.3} | {two:.3} | {:.2} | {:.2} | {:.2} |",
                events as f64 / one / 1e6,
                events as f64 / two / 1e6,
                two / one
            );
        }
        drop(log);
        let _ = std::fs::remove_dir_all(&log_dir);
    }
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    let result = match &args.child {
        Some(spec) => child(spec),
        None => run(&args),
    };
    common::exit::exit(result)
}
