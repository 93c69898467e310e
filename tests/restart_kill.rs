//! Checkpoints and restart: a replaying example process is killed with SIGKILL at random moments and
//! started again with the same arguments, several times; its output file ends up byte for byte equal
//! to an uninterrupted run's. `RESTART_KILLS=N` kills it N times per pipeline (default 6).

use dataflow_core::kappa::Checkpoint;
use dataflow_examples::{DailyTotal, WindowTotal};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::example;

struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
}

const PRODUCTS: [&str; 6] = ["tea", "espresso", "latte", "bagel", "croissant", "scone"];

fn daily_sales_csv(rng: &mut Lcg, rows: usize) -> String {
    let mut csv = String::from("product,quantity,price,date\n");
    for _ in 0..rows {
        csv.push_str(&format!(
            "{},{},{}.{:02},2026-11-{:02}\n",
            PRODUCTS[(rng.next() % 6) as usize],
            1 + rng.next() % 5,
            1 + rng.next() % 4,
            rng.next() % 100,
            1 + rng.next() % 20
        ));
    }
    csv
}

/// Sales over a few hours of event time, up to a minute out of order.
fn timed_sales_csv(rng: &mut Lcg, rows: usize) -> String {
    let mut csv = String::from("product,quantity,price,ts\n");
    let start = 1_764_000_000_000u64;
    for i in 0..rows as u64 {
        let ts = start + i * 5_000 - rng.next() % 60_000;
        csv.push_str(&format!(
            "{},{},{}.{:02},{ts}\n",
            PRODUCTS[(rng.next() % 6) as usize],
            1 + rng.next() % 5,
            1 + rng.next() % 4,
            rng.next() % 100,
        ));
    }
    csv
}

fn run_to_end(name: &str, args: &[String]) {
    let output = Command::new(example(name)).args(args).output().unwrap();
    assert!(
        output.status.success(),
        "{name} {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn kills() -> usize {
    std::env::var("RESTART_KILLS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(6)
}

/// Ingests `csv`, runs an uninterrupted replay, then kills and restarts a replay `kills()` times
/// before letting it finish; returns (uninterrupted output, restarted output, checkpoint offsets seen
/// after kills, log head).
fn kill_and_restart<O>(name: &str, csv: &str, extra: &[&str]) -> (String, String, Vec<u64>, u64)
where
    O: serde::Serialize + serde::de::DeserializeOwned,
{
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input.csv");
    std::fs::write(&input, csv).unwrap();
    let log = dir.path().join("log");
    let ingest = Command::new(example(name))
        .args(["ingest", "--input"])
        .arg(&input)
        .arg("--log")
        .arg(&log)
        .output()
        .unwrap();
    assert!(ingest.status.success());
    let head = csv.lines().count() as u64 - 1;

    let args = |output: &Path, checkpoint: &Path| -> Vec<String> {
        let mut args: Vec<String> = [
            "--mode",
            "replay",
            "--step-size",
            "10",
            "--changes",
            "--checkpoint-every",
            "3",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.extend(extra.iter().map(|s| s.to_string()));
        for (flag, path) in [
            ("--log", log.as_path()),
            ("--output", output),
            ("--checkpoint", checkpoint),
        ] {
            args.push(flag.to_string());
            args.push(path.display().to_string());
        }
        args
    };
    let reference = dir.path().join("reference.jsonl");
    let started = Instant::now();
    run_to_end(
        name,
        &args(&reference, &dir.path().join("reference.checkpoint")),
    );
    let full = started.elapsed();

    let output = dir.path().join("output.jsonl");
    let checkpoint = dir.path().join("output.checkpoint");
    let mut rng = Lcg(std::process::id() as u64);
    let mut offsets = Vec::new();
    for _ in 0..kills() {
        let mut child = Command::new(example(name))
            .args(args(&output, &checkpoint))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Within the first 60% of an uninterrupted run's time, so that kills land mid-run even when
        // this run is faster than the reference was.
        let delay = full.as_micros() as u64 * (rng.next() % 600) / 1000;
        std::thread::sleep(Duration::from_micros(delay));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        if let Some(saved) = Checkpoint::<O>::load(&checkpoint).unwrap() {
            offsets.push(saved.offset);
        }
    }
    run_to_end(name, &args(&output, &checkpoint));
    (
        std::fs::read_to_string(&reference).unwrap(),
        std::fs::read_to_string(&output).unwrap(),
        offsets,
        head,
    )
}

#[test]
fn killed_daily_sales_replays_resume_to_the_uninterrupted_output() {
    let csv = daily_sales_csv(&mut Lcg(3), 3000);
    let (reference, restarted, offsets, head) =
        kill_and_restart::<DailyTotal>("daily_sales", &csv, &[]);
    assert!(
        reference.lines().count() > 3000,
        "a change per step and key"
    );
    assert_eq!(restarted, reference);
    assert!(
        offsets.iter().any(|&o| 0 < o && o < head),
        "some kill landed in the middle of a run: {offsets:?}"
    );
}

#[test]
fn killed_event_time_replays_resume_to_the_uninterrupted_output() {
    let csv = timed_sales_csv(&mut Lcg(5), 3000);
    let (reference, restarted, offsets, head) = kill_and_restart::<WindowTotal>(
        "windowed_sales",
        &csv,
        &["--max-delay", "30s", "--late", "/dev/null"],
    );
    assert!(!reference.is_empty());
    assert_eq!(restarted, reference);
    assert!(
        offsets.iter().any(|&o| 0 < o && o < head),
        "some kill landed in the middle of a run: {offsets:?}"
    );
}
