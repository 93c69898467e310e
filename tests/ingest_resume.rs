//! End-to-end: an interrupted `ingest` is continued with `--resume`, exactly: killed at a random
//! moment, or stopped between a commit and its progress record, the resumed ingest leaves the log
//! holding every record of the input once, in order, and replay prints what batch prints.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::{example, run, stderr, stdout};

fn sales_csv(path: &Path, rows: usize) {
    let mut text = String::from("product,quantity,price,date\n");
    for i in 0..rows {
        if i % 997 == 13 {
            text.push_str("broken,row\n");
        }
        text.push_str(&format!(
            "p{},{},{}.25,2026-11-{:02}\n",
            i % 50,
            i % 7 + 1,
            i % 9,
            i % 28 + 1
        ));
    }
    std::fs::write(path, text).unwrap();
}

fn progress_file(log: &Path) -> Option<std::path::PathBuf> {
    std::fs::read_dir(log).ok()?.find_map(|entry| {
        let path = entry.ok()?.path();
        path.extension()
            .is_some_and(|e| e == "progress")
            .then_some(path)
    })
}

fn ingest(input: &Path, log: &Path, extra: &[&str]) -> std::process::Output {
    Command::new(example("daily_sales"))
        .arg("ingest")
        .arg("--input")
        .arg(input)
        .arg("--log")
        .arg(log)
        .args(extra)
        .output()
        .unwrap()
}

fn replayed(log: &Path) -> String {
    let output = run(
        "daily_sales",
        &["--mode", "replay", "--log", log.to_str().unwrap()],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    stdout(&output)
}

fn head(log: &Path) -> String {
    let output = Command::new(example("daily_sales"))
        .args(["--mode", "replay", "--from", "0", "--log"])
        .arg(log)
        .output()
        .unwrap();
    let text = stderr(&output);
    let range = text
        .split("offsets ")
        .nth(1)
        .unwrap_or("")
        .split(',')
        .next()
        .unwrap_or("");
    assert!(range.starts_with("0.."), "{text}");
    range.to_string()
}

#[test]
fn a_killed_ingest_resumes_without_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("sales.csv");
    sales_csv(&input, 60_000);
    let batch = stdout(&run("daily_sales", &["--input", input.to_str().unwrap()]));

    let log = dir.path().join("log");
    let mut child = Command::new(example("daily_sales"))
        .arg("ingest")
        .arg("--input")
        .arg(&input)
        .arg("--log")
        .arg(&log)
        .args(["--batch-size", "50", "--dead-letter", "/dev/null"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill it once it has acknowledged something (or let it finish on a fast machine).
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(30) && child.try_wait().unwrap().is_none() {
        if progress_file(&log).is_some() {
            std::thread::sleep(Duration::from_millis(30));
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().ok();
    child.wait().ok();
    let progress = progress_file(&log).expect("the ingest saved its progress");
    let interrupted = !std::fs::read_to_string(&progress)
        .unwrap()
        .contains("\"done\": true");
    if interrupted {
        // Without --resume, a second ingest would duplicate: it is refused and says what to do.
        let again = ingest(&input, &log, &[]);
        assert!(!again.status.success());
        assert!(
            stderr(&again).contains("pass --resume"),
            "{}",
            stderr(&again)
        );
    }
    let resumed = ingest(&input, &log, &["--resume", "--dead-letter", "/dev/null"]);
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    assert_eq!(replayed(&log), batch);
    // Resuming a finished ingest appends nothing.
    let before = head(&log);
    let done = ingest(&input, &log, &["--resume"]);
    assert!(done.status.success(), "{}", stderr(&done));
    assert!(stdout(&done).contains("nothing to do"), "{}", stdout(&done));
    assert_eq!(head(&log), before);
}

#[test]
fn records_acknowledged_after_the_last_progress_record_are_not_appended_again() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("sales.csv");
    sales_csv(&input, 3_000);
    let log = dir.path().join("log");
    let first = ingest(
        &input,
        &log,
        &["--batch-size", "100", "--dead-letter", "/dev/null"],
    );
    assert!(first.status.success(), "{}", stderr(&first));
    let batch = stdout(&run("daily_sales", &["--input", input.to_str().unwrap()]));
    assert_eq!(replayed(&log), batch);
    // As if the process died after committing offsets 1000.. but before recording them: the
    // progress file says the first 1000 records were done.
    let path = progress_file(&log).unwrap();
    let mut progress: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    progress["next_offset"] = 1000.into();
    progress["done"] = false.into();
    std::fs::write(&path, serde_json::to_string(&progress).unwrap()).unwrap();
    let before = head(&log);
    let resumed = ingest(&input, &log, &["--resume", "--dead-letter", "/dev/null"]);
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    assert_eq!(head(&log), before, "{}", stderr(&resumed));
    assert_eq!(replayed(&log), batch);
}
