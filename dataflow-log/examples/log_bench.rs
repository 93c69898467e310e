//! End-to-end benchmark of the event log against plain-file baselines measured in the
//! same run.
//!
//! ```text
//! cargo run --release -p dataflow-log --example log_bench -- [--records N] [--batch B] [--dir PATH]
//! ```
//!
//! * durable append: `EventLog` with `FsyncPolicy::EveryCommit`, one commit per batch,
//!   against writing the same bytes to a plain file with one `write` + `fdatasync` per
//!   batch;
//! * replay (warm page cache): `read_from(0)` + `decode` into a small struct, against
//!   reading a file of length-prefixed postcard payloads and decoding them in a loop.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use dataflow_log::{EventLog, FsyncPolicy, LogOptions, Schema};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Debug, Clone, Copy)]
struct Sale {
    id: u64,
    item: u32,
    cents: u64,
    store: u16,
}

impl Schema for Sale {
    const VERSION: u32 = 1;
}

fn sale(i: u64) -> Sale {
    Sale {
        id: i,
        item: (i % 1000) as u32,
        cents: 100 + i % 5000,
        store: (i % 17) as u16,
    }
}

struct Args {
    records: u64,
    batch: u64,
    dir: PathBuf,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        records: 2_000_000,
        batch: 1000,
        dir: std::env::temp_dir(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--records" => {
                args.records = value()?.parse().map_err(|e| format!("--records: {e}"))?
            }
            "--batch" => args.batch = value()?.parse().map_err(|e| format!("--batch: {e}"))?,
            "--dir" => args.dir = PathBuf::from(value()?),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if args.batch == 0 {
        return Err("--batch must be positive".to_string());
    }
    Ok(args)
}

/// Appends every record through the log; returns the elapsed time, the bytes written
/// and each batch's byte length.
fn log_append(
    dir: &Path,
    args: &Args,
) -> Result<(Duration, u64, Vec<usize>), Box<dyn std::error::Error>> {
    let _ = fs::remove_dir_all(dir);
    let log = EventLog::open(dir, LogOptions::default().fsync(FsyncPolicy::EveryCommit))?;
    let mut batch = log.batch();
    let mut batch_bytes = Vec::new();
    let start = Instant::now();
    let mut i = 0;
    while i < args.records {
        let end = (i + args.batch).min(args.records);
        for n in i..end {
            batch.push(n, &sale(n))?;
        }
        batch_bytes.push(batch.byte_len());
        batch.commit()?;
        i = end;
    }
    let elapsed = start.elapsed();
    let bytes = batch_bytes.iter().map(|&b| b as u64).sum();
    Ok((elapsed, bytes, batch_bytes))
}

/// Writes batches of the same sizes to a plain file, `write` + `fdatasync` per batch.
fn plain_append(path: &Path, batch_bytes: &[usize]) -> std::io::Result<Duration> {
    let largest = batch_bytes.iter().copied().max().unwrap_or(0);
    let data = vec![0x5a_u8; largest];
    let mut file = File::create(path)?;
    let start = Instant::now();
    for &len in batch_bytes {
        file.write_all(&data[..len])?;
        file.sync_data()?;
    }
    Ok(start.elapsed())
}

fn log_replay(log: &EventLog) -> Result<(Duration, u64), Box<dyn std::error::Error>> {
    let start = Instant::now();
    let mut sum = 0u64;
    for record in log.read_from(0)? {
        let sale: Sale = record?.decode()?;
        sum = sum.wrapping_add(sale.cents);
    }
    Ok((start.elapsed(), sum))
}

fn log_replay_ref(log: &EventLog) -> Result<(Duration, u64), Box<dyn std::error::Error>> {
    let start = Instant::now();
    let mut sum = 0u64;
    let mut reader = log.read_from(0)?;
    while let Some(record) = reader.next_ref()? {
        let sale: Sale = record.decode()?;
        sum = sum.wrapping_add(sale.cents);
    }
    Ok((start.elapsed(), sum))
}

/// Writes the payloads as `u32 length | postcard bytes` records to a plain file.
fn write_plain_records(path: &Path, records: u64) -> std::io::Result<()> {
    let mut out = Vec::new();
    for n in 0..records {
        let payload = postcard::to_stdvec(&sale(n)).map_err(std::io::Error::other)?;
        out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        out.extend_from_slice(&payload);
    }
    fs::write(path, out)
}

fn plain_replay(path: &Path) -> Result<(Duration, u64), Box<dyn std::error::Error>> {
    let start = Instant::now();
    let bytes = fs::read(path)?;
    let mut sum = 0u64;
    let mut at = 0;
    while at + 4 <= bytes.len() {
        let len =
            u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]) as usize;
        let sale: Sale = postcard::from_bytes(&bytes[at + 4..at + 4 + len])?;
        sum = sum.wrapping_add(sale.cents);
        at += 4 + len;
    }
    Ok((start.elapsed(), sum))
}

fn best<T>(runs: impl IntoIterator<Item = (Duration, T)>) -> (Duration, T) {
    runs.into_iter()
        .min_by_key(|(d, _)| *d)
        .expect("at least one run")
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args()?;
    let root = args.dir.join(format!("dflog-bench-{}", std::process::id()));
    fs::create_dir_all(&root)?;
    let log_dir = root.join("log");
    let plain_file = root.join("plain.bin");
    let n = args.records as f64;

    // Durable append, two alternating rounds, best of each.
    let mut log_runs = Vec::new();
    let mut plain_runs = Vec::new();
    let mut total_bytes = 0;
    for _ in 0..2 {
        let (elapsed, bytes, batches) = log_append(&log_dir, &args)?;
        total_bytes = bytes;
        log_runs.push((elapsed, ()));
        plain_runs.push((plain_append(&plain_file, &batches)?, ()));
    }
    let (log_append_t, ()) = best(log_runs);
    let (plain_append_t, ()) = best(plain_runs);
    let mb = total_bytes as f64 / 1e6;

    // Replay with a warm cache: one untimed pass each, then the best of three.
    let log = EventLog::open_read_only(&log_dir)?;
    write_plain_records(&plain_file, args.records)?;
    log_replay(&log)?;
    plain_replay(&plain_file)?;
    let (log_replay_t, s1) = best(
        (0..3)
            .map(|_| log_replay(&log))
            .collect::<Result<Vec<_>, _>>()?,
    );
    let (ref_replay_t, s2) = best(
        (0..3)
            .map(|_| log_replay_ref(&log))
            .collect::<Result<Vec<_>, _>>()?,
    );
    let (plain_replay_t, s3) = best(
        (0..3)
            .map(|_| plain_replay(&plain_file))
            .collect::<Result<Vec<_>, _>>()?,
    );
    assert!(s1 == s2 && s2 == s3, "replays disagree");

    let per_sec = |d: Duration| n / d.as_secs_f64();
    println!(
        "records: {}, batch: {}, payload ~{} B, record bytes on disk: {:.1} MB",
        args.records,
        args.batch,
        postcard::to_stdvec(&sale(args.records / 2))?.len(),
        mb
    );
    println!(
        "{:<44} {:>10} {:>12} {:>14} {:>7}",
        "measurement", "time", "MB/s", "records/s", "ratio"
    );
    let row = |name: &str, d: Duration, bytes: f64, ratio: Option<f64>| {
        println!(
            "{:<44} {:>9.3}s {:>12.1} {:>14.0} {:>7}",
            name,
            d.as_secs_f64(),
            bytes / d.as_secs_f64(),
            per_sec(d),
            ratio.map_or(String::new(), |r| format!("{r:.2}"))
        );
    };
    row("plain write+fdatasync per batch", plain_append_t, mb, None);
    row(
        "EventLog append, group commit, EveryCommit",
        log_append_t,
        mb,
        Some(plain_append_t.as_secs_f64() / log_append_t.as_secs_f64()),
    );
    row(
        "plain read + postcard decode (warm)",
        plain_replay_t,
        mb,
        None,
    );
    row(
        "EventLog replay read_from + decode (warm)",
        log_replay_t,
        mb,
        Some(plain_replay_t.as_secs_f64() / log_replay_t.as_secs_f64()),
    );
    row(
        "EventLog replay next_ref + decode (warm)",
        ref_replay_t,
        mb,
        Some(plain_replay_t.as_secs_f64() / ref_replay_t.as_secs_f64()),
    );
    drop(log);
    fs::remove_dir_all(&root)?;
    Ok(())
}
