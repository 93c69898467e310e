//! Replay across timely processes (`-n 2 -p I -H hosts`): process 0 reads the log, the keyed stages
//! spread the work over both processes, and the output equals one process with one worker, byte for
//! byte, with and without a checkpoint. A killed process makes its peer exit non-zero naming it
//! within a bounded time, and a restart of both resumes from the one checkpoint.

mod common;

use common::cluster::{hostfile, spawn, strings, wait};
use common::{run, stdout, timed_sales_with_late};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn ingest(dir: &Path, rows: usize) -> PathBuf {
    ingest_with_late(dir, rows, None)
}

/// [`ingest`], with every `late_every`-th row two hours behind the others.
fn ingest_with_late(dir: &Path, rows: usize, late_every: Option<usize>) -> PathBuf {
    let input = dir.join("sales.csv");
    timed_sales_with_late(&input, rows, late_every);
    let log = dir.join("log");
    run(
        "windowed_sales",
        &[
            "ingest",
            "--input",
            input.to_str().unwrap(),
            "--log",
            log.to_str().unwrap(),
            "-q",
        ],
    );
    log
}

/// Waits (at most a minute) until `out` has something in it.
fn wait_for_output(out: &Path) {
    let started = Instant::now();
    while std::fs::metadata(out).map_or(0, |m| m.len()) == 0 {
        assert!(started.elapsed() < Duration::from_secs(60), "no output");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn two_processes_replay_the_file_log_as_one_worker_does() {
    let dir = tempfile::tempdir().unwrap();
    let log = ingest(dir.path(), 3000);
    let log = log.to_str().unwrap();
    let one = dir.path().join("one.jsonl");
    let base = |out: &Path| -> Vec<String> {
        strings(&[
            "--mode",
            "replay",
            "--log",
            log,
            "--step-size",
            "100",
            "--changes",
            "--max-delay",
            "10m",
            "-q",
            "--output",
            out.to_str().unwrap(),
        ])
    };
    run(
        "windowed_sales",
        &base(&one).iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let expected = std::fs::read_to_string(&one).unwrap();
    assert!(expected.lines().count() > 100, "{expected}");

    let hosts = hostfile(dir.path(), 2);
    let two = dir.path().join("two.jsonl");
    let second = spawn("windowed_sales", &base(&two), 1, &hosts);
    let first = spawn("windowed_sales", &base(&two), 0, &hosts);
    let (status0, err0) = wait(first, Duration::from_secs(120), "process 0");
    let (status1, err1) = wait(second, Duration::from_secs(120), "process 1");
    assert!(status0.success(), "{err0}");
    assert!(status1.success(), "{err1}");
    assert_eq!(std::fs::read_to_string(&two).unwrap(), expected);

    // The batch result too (process 0 writes it).
    let batch = stdout(&run(
        "windowed_sales",
        &["--mode", "replay", "--log", log, "-q"],
    ));
    let both = dir.path().join("both.jsonl");
    let mut args: Vec<String> = strings(&[
        "--mode", "replay", "--log", log, "-q", "-w", "2", "--output",
    ]);
    args.push(both.to_str().unwrap().to_string());
    let hosts = hostfile(dir.path(), 2);
    let second = spawn("windowed_sales", &args, 1, &hosts);
    let first = spawn("windowed_sales", &args, 0, &hosts);
    assert!(
        wait(first, Duration::from_secs(120), "process 0")
            .0
            .success()
    );
    assert!(
        wait(second, Duration::from_secs(120), "process 1")
            .0
            .success()
    );
    assert_eq!(std::fs::read_to_string(&both).unwrap(), batch);
}

#[test]
fn a_killed_process_stops_its_peer_by_name_and_a_restart_resumes_from_the_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let log = ingest(dir.path(), 20_000);
    let log = log.to_str().unwrap();
    let args = |out: &Path, checkpoint: &Path| -> Vec<String> {
        strings(&[
            "--mode",
            "replay",
            "--log",
            log,
            "--step-size",
            "50",
            "--changes",
            "--max-delay",
            "10m",
            "-q",
            "--checkpoint-every",
            "5",
            "--output",
            out.to_str().unwrap(),
            "--checkpoint",
            checkpoint.to_str().unwrap(),
        ])
    };
    let one = dir.path().join("one.jsonl");
    let one_checkpoint = dir.path().join("one.checkpoint");
    run(
        "windowed_sales",
        &args(&one, &one_checkpoint)
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    let expected = std::fs::read_to_string(&one).unwrap();

    let out = dir.path().join("two.jsonl");
    let checkpoint = dir.path().join("two.checkpoint");
    let hosts = hostfile(dir.path(), 2);
    let second = spawn("windowed_sales", &args(&out, &checkpoint), 1, &hosts);
    let first = spawn("windowed_sales", &args(&out, &checkpoint), 0, &hosts);
    // Kill process 1 once process 0 has written a checkpoint.
    let started = Instant::now();
    while !checkpoint.exists() {
        assert!(started.elapsed() < Duration::from_secs(60), "no checkpoint");
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut second = second;
    second.kill().unwrap();
    second.wait().unwrap();
    let killed = Instant::now();
    let (status, err) = wait(
        first,
        Duration::from_secs(30),
        "process 0 after its peer died",
    );
    let bound = killed.elapsed();
    if status.success() {
        // The run was over before the kill reached it: nothing to recover, the output is whole.
        assert_eq!(std::fs::read_to_string(&out).unwrap(), expected);
        return;
    }
    assert!(
        err.contains("lost its connection to process 1"),
        "process 0 names the lost process: {err}"
    );
    assert!(bound < Duration::from_secs(10), "exited after {bound:?}");

    // A restart of both resumes from the checkpoint: the same output, byte for byte.
    let hosts = hostfile(dir.path(), 2);
    let second = spawn("windowed_sales", &args(&out, &checkpoint), 1, &hosts);
    let first = spawn("windowed_sales", &args(&out, &checkpoint), 0, &hosts);
    let (status0, err0) = wait(first, Duration::from_secs(120), "restarted process 0");
    let (status1, err1) = wait(second, Duration::from_secs(120), "restarted process 1");
    assert!(status0.success(), "{err0}");
    assert!(status1.success(), "{err1}");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), expected);
}

#[test]
fn a_killed_process_zero_stops_its_peer_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let log = ingest(dir.path(), 20_000);
    let out = dir.path().join("out.jsonl");
    let args: Vec<String> = strings(&[
        "--mode",
        "replay",
        "--log",
        log.to_str().unwrap(),
        "--step-size",
        "20",
        "--changes",
        "-q",
        "--output",
        out.to_str().unwrap(),
    ]);
    let hosts = hostfile(dir.path(), 2);
    let second = spawn("windowed_sales", &args, 1, &hosts);
    let mut first = spawn("windowed_sales", &args, 0, &hosts);
    wait_for_output(&out);
    first.kill().unwrap();
    first.wait().unwrap();
    let (status, err) = wait(
        second,
        Duration::from_secs(10),
        "process 1 after process 0 died",
    );
    assert!(
        !status.success(),
        "process 1 cannot finish without process 0"
    );
    assert!(err.contains("lost its connection to process 0"), "{err}");
}

/// The late records of a run, one JSON object per line, sorted (the processes report theirs in
/// any order).
fn sorted_lines(path: &Path) -> Vec<String> {
    let mut lines: Vec<String> = std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    lines.sort();
    lines
}

#[test]
fn late_records_turned_away_on_any_process_reach_the_late_output() {
    let dir = tempfile::tempdir().unwrap();
    let log = ingest_with_late(dir.path(), 4000, Some(50));
    let args = |out: &Path, late: &Path| -> Vec<String> {
        strings(&[
            "--mode",
            "replay",
            "--log",
            log.to_str().unwrap(),
            "--step-size",
            "100",
            "--max-delay",
            "10m",
            "-q",
            "--output",
            out.to_str().unwrap(),
            "--late",
            late.to_str().unwrap(),
        ])
    };
    let (one, one_late) = (dir.path().join("one.jsonl"), dir.path().join("one.late"));
    run(
        "windowed_sales",
        &args(&one, &one_late)
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    let expected = sorted_lines(&one_late);
    assert!(expected.len() > 40, "{} late records", expected.len());

    let (two, two_late) = (dir.path().join("two.jsonl"), dir.path().join("two.late"));
    let hosts = hostfile(dir.path(), 2);
    let second = spawn("windowed_sales", &args(&two, &two_late), 1, &hosts);
    let first = spawn("windowed_sales", &args(&two, &two_late), 0, &hosts);
    let (status0, err0) = wait(first, Duration::from_secs(120), "process 0");
    let (status1, err1) = wait(second, Duration::from_secs(120), "process 1");
    assert!(status0.success(), "{err0}");
    assert!(status1.success(), "{err1}");
    assert_eq!(
        std::fs::read_to_string(&two).unwrap(),
        std::fs::read_to_string(&one).unwrap()
    );
    assert_eq!(sorted_lines(&two_late), expected);
}

#[test]
fn a_stopped_process_is_noticed_by_its_silence_within_the_peer_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let log = ingest(dir.path(), 20_000);
    let out = dir.path().join("out.jsonl");
    let args: Vec<String> = strings(&[
        "--mode",
        "replay",
        "--log",
        log.to_str().unwrap(),
        "--step-size",
        "10",
        "--changes",
        "-q",
        "--peer-timeout",
        "2s",
        "--output",
        out.to_str().unwrap(),
    ]);
    let hosts = hostfile(dir.path(), 2);
    let mut second = spawn("windowed_sales", &args, 1, &hosts);
    let first = spawn("windowed_sales", &args, 0, &hosts);
    wait_for_output(&out);
    // A stopped process keeps its connections open: only its silence tells.
    let stop = |signal: &str| {
        std::process::Command::new("kill")
            .args([signal, &second.id().to_string()])
            .status()
            .unwrap()
    };
    assert!(stop("-STOP").success());
    let stopped = Instant::now();
    let (status, err) = wait(
        first,
        Duration::from_secs(30),
        "process 0 while its peer is stopped",
    );
    let bound = stopped.elapsed();
    stop("-CONT");
    second.kill().ok();
    second.wait().ok();
    if status.success() {
        // The run was over before the stop reached it.
        return;
    }
    assert!(
        err.contains("has not heard from process 1 for") && err.contains("--peer-timeout is 2.0 s"),
        "{err}"
    );
    assert!(bound < Duration::from_secs(10), "exited after {bound:?}");
}
