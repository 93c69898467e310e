//! End-to-end: a live run's output is visible while it waits for input. In stream mode reading a
//! FIFO, and in `--mode replay --follow --changes`, each step's changes reach the output file before
//! the run waits for the next records, not at a checkpoint or at exit.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::example;

/// Waits up to 20 s for `path` to contain `needle`.
fn eventually_contains(path: &Path, needle: &str) -> bool {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(20) {
        if std::fs::read_to_string(path).is_ok_and(|text| text.contains(needle)) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// Ends `child` if it is still running, and says whether it had ended by itself.
fn ended_by_itself(child: &mut Child, within: Duration) -> bool {
    let started = Instant::now();
    while started.elapsed() < within {
        if child.try_wait().unwrap().is_some() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().ok();
    child.wait().ok();
    false
}

#[cfg(unix)]
#[test]
fn stream_mode_on_a_fifo_shows_each_step_while_waiting() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("lines.jsonl");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let out = dir.path().join("changes.jsonl");
    let mut child = Command::new(example("word_count"))
        .args(["--mode", "stream", "--changes", "--input"])
        .arg(&fifo)
        .arg("--output")
        .arg(&out)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut writer = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    writer.write_all(b"{\"text\":\"alpha beta\"}\n").unwrap();
    writer.flush().unwrap();
    // The writer stays open: the run waits for more, and the first step's changes are out already.
    let seen = eventually_contains(&out, "alpha");
    writer.write_all(b"{\"text\":\"gamma\"}\n").unwrap();
    writer.flush().unwrap();
    let seen_second = eventually_contains(&out, "gamma");
    drop(writer);
    let ended = ended_by_itself(&mut child, Duration::from_secs(20));
    assert!(seen, "no change visible while the FIFO's writer was quiet");
    assert!(seen_second, "the second step's change was not visible");
    assert!(ended, "the run did not end when the FIFO closed");
}

#[test]
fn replay_follow_changes_shows_each_appended_step_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let first = dir.path().join("first.csv");
    std::fs::write(
        &first,
        "product,quantity,price,date\ntea,1,2.00,2026-11-03\n",
    )
    .unwrap();
    let second = dir.path().join("second.csv");
    std::fs::write(
        &second,
        "product,quantity,price,date\ncoffee,2,3.00,2026-11-03\n",
    )
    .unwrap();
    let ingest = |input: &Path| {
        let status = Command::new(example("daily_sales"))
            .arg("ingest")
            .arg("--input")
            .arg(input)
            .arg("--log")
            .arg(&log)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
    };
    ingest(&first);
    let out = dir.path().join("changes.jsonl");
    let mut follower = Command::new(example("daily_sales"))
        .args([
            "--mode",
            "replay",
            "--follow",
            "--idle-timeout",
            "60s",
            "--changes",
        ])
        .arg("--log")
        .arg(&log)
        .arg("--output")
        .arg(&out)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let seen_first = eventually_contains(&out, "tea");
    ingest(&second);
    let seen_second = eventually_contains(&out, "coffee");
    follower.kill().ok();
    follower.wait().ok();
    assert!(
        seen_first,
        "the replayed change was not visible while following"
    );
    assert!(
        seen_second,
        "the appended record's change was not visible while following"
    );
}
