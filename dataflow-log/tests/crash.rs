//! Crash test: a child process appends to a log in a loop, printing every acknowledged
//! offset, and is killed with SIGKILL at random moments. After each kill the log is
//! reopened and must hold every acknowledged record, in order, with the right payload.
//!
//! The test binary re-executes itself as the child (`DATAFLOW_CRASH_CHILD=<dir>`).
//! `DATAFLOW_CRASH_KILLS` sets the number of kills (default 20);
//! `DATAFLOW_CRASH_SEED` replays a run.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use dataflow_log::{EventLog, FsyncPolicy, LogOptions, Schema};
use serde::{Deserialize, Serialize};

const CHILD_ENV: &str = "DATAFLOW_CRASH_CHILD";

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Rec {
    n: u64,
    data: Vec<u8>,
}

impl Schema for Rec {
    const VERSION: u32 = 1;
}

/// The record every offset must hold: a function of the offset alone.
fn rec_for(n: u64) -> Rec {
    let len = (n % 41) as usize;
    Rec {
        n,
        data: (0..len)
            .map(|i| (n as u8).wrapping_mul(31).wrapping_add(i as u8))
            .collect(),
    }
}

fn options() -> LogOptions {
    LogOptions::default()
        .fsync(FsyncPolicy::EveryCommit)
        .segment_bytes(32 << 10)
        .index_interval_bytes(1024)
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The child: append batches of random size forever, acknowledging each on stdout.
fn child(dir: &Path, seed: u64) -> ExitCode {
    let log = match EventLog::open(dir, options()) {
        Ok(log) => log,
        Err(e) => {
            eprintln!("child: open failed: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut rng = Rng(seed | 1);
    let mut out = std::io::stdout().lock();
    let mut batch = log.batch();
    loop {
        let start = log.head();
        let size = 1 + rng.below(200);
        for n in start..start + size {
            if let Err(e) = batch.push(n * 3, &rec_for(n)) {
                eprintln!("child: push failed: {e}");
                return ExitCode::FAILURE;
            }
        }
        match batch.commit() {
            Ok(range) if range == (start..start + size) => {}
            Ok(range) => {
                eprintln!("child: expected {start}..{}, got {range:?}", start + size);
                return ExitCode::FAILURE;
            }
            Err(e) => {
                eprintln!("child: commit failed: {e}");
                return ExitCode::FAILURE;
            }
        }
        if writeln!(out, "ack {}", start + size)
            .and_then(|()| out.flush())
            .is_err()
        {
            return ExitCode::SUCCESS;
        }
    }
}

/// Reopens the log and checks every record against `rec_for`; returns the head.
fn check_log(dir: &Path, acked: u64) -> Result<u64, String> {
    let log = EventLog::open(dir, options()).map_err(|e| format!("reopen failed: {e}"))?;
    let head = log.head();
    if head < acked {
        return Err(format!(
            "head {head} is behind the acknowledged offset {acked}"
        ));
    }
    let mut expected = 0;
    for record in log.read_from(0).map_err(|e| e.to_string())? {
        let record = record.map_err(|e| format!("read failed: {e}"))?;
        if record.offset != expected || record.event_time != expected * 3 {
            return Err(format!(
                "record {expected}: got offset {} event time {}",
                record.offset, record.event_time
            ));
        }
        let rec: Rec = record.decode().map_err(|e| e.to_string())?;
        if rec != rec_for(expected) {
            return Err(format!("record {expected}: wrong payload {rec:?}"));
        }
        expected += 1;
    }
    if expected != head {
        return Err(format!("read {expected} records, head is {head}"));
    }
    log.verify().map_err(|e| format!("verify failed: {e}"))?;
    Ok(head)
}

/// The total size of the segment files in `dir`.
fn segment_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().ends_with(".seg"))
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

fn main() -> ExitCode {
    if let Some(dir) = std::env::var_os(CHILD_ENV) {
        let seed = std::env::var("DATAFLOW_CRASH_CHILD_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(1);
        return child(Path::new(&dir), seed);
    }
    let kills: u64 = std::env::var("DATAFLOW_CRASH_KILLS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let seed: u64 = std::env::var("DATAFLOW_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(7, |d| d.as_nanos() as u64)
        });
    println!("crash test: {kills} kills, DATAFLOW_CRASH_SEED={seed}");
    match run(kills, seed) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("crash test failed (DATAFLOW_CRASH_SEED={seed}): {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(kills: u64, seed: u64) -> Result<(), String> {
    let started = Instant::now();
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut rng = Rng(seed | 1);
    let mut acked = 0;
    let mut kills_with_progress = 0;
    let mut torn_tails = 0;
    for kill in 0..kills {
        let mut child = Command::new(&exe)
            .env(CHILD_ENV, dir.path())
            .env("DATAFLOW_CRASH_CHILD_SEED", rng.next().to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("spawn failed: {e}"))?;
        let stdout = child.stdout.take().ok_or("no child stdout")?;
        let last_ack = Arc::new(Mutex::new(None::<u64>));
        let reader = {
            let last_ack = Arc::clone(&last_ack);
            thread::spawn(move || {
                let mut lines = BufReader::new(stdout);
                let mut line = String::new();
                // Only whole lines count: a partial line was not acknowledged.
                while lines.read_line(&mut line).is_ok_and(|n| n > 0) && line.ends_with('\n') {
                    if let Some(n) = line
                        .trim()
                        .strip_prefix("ack ")
                        .and_then(|n| n.parse().ok())
                    {
                        *last_ack.lock().unwrap() = Some(n);
                    }
                    line.clear();
                }
            })
        };
        thread::sleep(Duration::from_millis(20 + rng.below(130)));
        // `Child::kill` sends SIGKILL on Unix.
        child.kill().map_err(|e| format!("kill failed: {e}"))?;
        child.wait().map_err(|e| format!("wait failed: {e}"))?;
        reader.join().map_err(|_| "stdout reader panicked")?;
        let seen = *last_ack.lock().unwrap();
        if let Some(n) = seen {
            if n < acked {
                return Err(format!(
                    "kill {kill}: acknowledgements went back from {acked} to {n}"
                ));
            }
            if n > acked {
                kills_with_progress += 1;
            }
            acked = n;
        }
        let before = segment_bytes(dir.path());
        let head = check_log(dir.path(), acked).map_err(|e| format!("kill {kill}: {e}"))?;
        let torn = before.saturating_sub(segment_bytes(dir.path()));
        if torn > 0 {
            torn_tails += 1;
        }
        println!(
            "kill {kill:>3}: acknowledged {acked:>8}, recovered head {head:>8}, torn tail {torn} bytes"
        );
    }
    if kills > 0 && kills_with_progress * 2 < kills {
        return Err(format!(
            "only {kills_with_progress} of {kills} runs acknowledged anything: the child is not appending"
        ));
    }
    println!(
        "crash test passed: {kills} kills ({torn_tails} left a torn tail), {acked} records \
         acknowledged and recovered in {:.1?}",
        started.elapsed()
    );
    Ok(())
}
