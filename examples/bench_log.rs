//! Ingest and replay through a Kafka-protocol broker on loopback against the embedded file log, in
//! one run, with 1 and 2 workers: records/s and the ratio to the file log.
//!
//! ```sh
//! sh scripts/install-kafka.sh      # the broker (tansu), cached after its first build
//! cargo run --release --example bench_log -- --records 1000000
//! ```
//!
//! The broker is `$DATAFLOW_KAFKA_BROKER` or the install script's cache path; it runs with memory
//! storage on a loopback port chosen at run time and is stopped at the end.

use dataflow_core::kappa;
use dataflow_core::log::{
    EventLog, KafkaAddress, KafkaLog, KafkaOptions, Log, LogOptions, Offsets,
};
use dataflow_core::runtime::Runner;
use dataflow_examples::{DailySales, Sale};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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

fn start_broker(binary: &PathBuf) -> Broker {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
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
        .expect("the broker starts");
    let address = format!("127.0.0.1:{port}");
    let started = Instant::now();
    while std::net::TcpStream::connect(&address).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the broker does not listen"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Broker(child, address)
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

/// Appends `records` in batches of `batch`; returns the seconds taken.
fn ingest<L: Log>(log: &L, records: &[(u64, Sale)], batch: usize) -> f64 {
    let started = Instant::now();
    for chunk in records.chunks(batch) {
        log.append(chunk).expect("append");
    }
    started.elapsed().as_secs_f64()
}

/// Replays `log` from `from` with `workers` workers, best of `runs`; returns seconds and the
/// number of output records.
fn replay<L: Log>(log: &L, from: L::Position, workers: usize, runs: usize) -> (f64, usize) {
    let mut best = f64::MAX;
    let mut outputs = 0;
    for _ in 0..runs {
        let started = Instant::now();
        let mut replay = kappa::Replay::<DailySales, Sale, L>::start(
            &Runner::new().workers(workers),
            log,
            from.clone(),
            10_000,
        )
        .expect("replay starts");
        while replay.step().expect("step").is_some() {}
        let replayed = replay.finish().expect("replay");
        best = best.min(started.elapsed().as_secs_f64());
        outputs = replayed.output.records.len();
    }
    (best, outputs)
}

fn main() {
    let mut records = 200_000usize;
    let mut partitions = 2usize;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--records" => {
                records = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--records N")
            }
            "--partitions" => {
                partitions = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--partitions N")
            }
            other => {
                eprintln!("unknown argument {other}: --records N --partitions N");
                std::process::exit(2);
            }
        }
    }
    let Some(binary) = broker_binary() else {
        eprintln!("no broker: run scripts/install-kafka.sh (or set DATAFLOW_KAFKA_BROKER)");
        std::process::exit(2);
    };
    let broker = start_broker(&binary);
    let data = sales(records);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = EventLog::open(dir.path(), LogOptions::default()).expect("file log");
    let kafka = KafkaLog::create(
        &KafkaAddress {
            broker: broker.1.clone(),
            topic: "bench".into(),
        },
        partitions,
        KafkaOptions::default(),
    )
    .expect("topic");
    println!(
        "{records} daily_sales records, batches of 10000; file log vs tansu (memory storage) on loopback, {partitions} partitions"
    );
    let file_ingest = ingest(&file, &data, 10_000);
    let kafka_ingest = ingest(&kafka, &data, 10_000);
    let mut rows = vec![("ingest".to_string(), file_ingest, kafka_ingest)];
    for workers in [1, 2] {
        let (f, fo) = replay(&file, 0u64, workers, 3);
        let (k, ko) = replay(&kafka, Offsets::default(), workers, 3);
        assert_eq!(fo, ko, "both logs give the same output");
        rows.push((
            format!(
                "replay, {workers} worker{}",
                if workers == 1 { "" } else { "s" }
            ),
            f,
            k,
        ));
    }
    println!();
    println!("| what | file log records/s | Kafka records/s | Kafka ÷ file |");
    println!("|---|---:|---:|---:|");
    for (what, f, k) in rows {
        let (fr, kr) = (records as f64 / f, records as f64 / k);
        println!(
            "| {what} | {:.2} M | {:.2} M | {:.2} |",
            fr / 1e6,
            kr / 1e6,
            kr / fr
        );
    }
    drop(broker);
}
