//! End-to-end: `ingest` then `--mode replay` through the example executables prints what batch and
//! stream mode print on the same input, and `--follow` picks up what another process appends.

use std::path::Path;
use std::process::{Command, Output, Stdio};

mod common;

use common::{example, run, stderr, stdout};

fn ingest(name: &str, input: &str, log: &Path) -> Output {
    run(
        name,
        &["ingest", "--input", input, "--log", log.to_str().unwrap()],
    )
}

#[test]
fn daily_sales_replay_prints_the_batch_result() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let ingested = ingest("daily_sales", "examples/data/sales.csv", &log);
    assert!(
        stdout(&ingested).starts_with("ingested 40 records into "),
        "{}",
        stdout(&ingested)
    );
    assert!(stdout(&ingested).contains("offsets 0..40"));
    assert!(
        stderr(&ingested).contains("3 dead-lettered"),
        "{}",
        stderr(&ingested)
    );

    let batch = stdout(&run("daily_sales", &["--input", "examples/data/sales.csv"]));
    assert_eq!(batch.lines().count(), 14, "{batch}");
    let log = log.to_str().unwrap();
    for extra in [
        &[][..],
        &["--step-size", "1"][..],
        &["--step-size", "7", "--workers", "2"][..],
    ] {
        let mut args = vec!["--mode", "replay", "--log", log];
        args.extend_from_slice(extra);
        let replayed = run("daily_sales", &args);
        assert_eq!(stdout(&replayed), batch, "with {extra:?}");
        assert!(
            stderr(&replayed).contains("offsets 0..40"),
            "{}",
            stderr(&replayed)
        );
    }
}

#[test]
fn replaying_from_an_offset_covers_the_rest_of_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    ingest("word_count", "examples/data/lines.jsonl", &log);
    // A second ingest appends after the first: the log holds the lines twice.
    ingest("word_count", "examples/data/lines.jsonl", &log);
    let log = log.to_str().unwrap();
    let once = stdout(&run(
        "word_count",
        &["--input", "examples/data/lines.jsonl"],
    ));
    let second_half = run(
        "word_count",
        &["--mode", "replay", "--log", log, "--from", "6"],
    );
    assert_eq!(stdout(&second_half), once);
    assert!(stderr(&second_half).contains("offsets 6..12"));
    let whole = stdout(&run("word_count", &["--mode", "replay", "--log", log]));
    assert!(whole.contains(r#"{"word":"stream","count":6}"#), "{whole}");
    let past_head = Command::new(example("word_count"))
        .args(["--mode", "replay", "--log", log, "--from", "13"])
        .output()
        .unwrap();
    assert!(!past_head.status.success());
    assert!(
        stderr(&past_head).contains("offset 13 is past the head of the log (12)"),
        "{}",
        stderr(&past_head)
    );
}

#[test]
fn event_time_pipelines_replay_like_a_stream_with_the_same_steps() {
    let dir = tempfile::tempdir().unwrap();
    for (name, input, delay) in [
        ("windowed_sales", "examples/data/timed_sales.csv", "2m"),
        ("fraud_detection", "examples/data/transactions.csv", "30s"),
    ] {
        let log = dir.path().join(name);
        ingest(name, input, &log);
        let log = log.to_str().unwrap();
        for step in ["1", "4"] {
            let streamed = run(
                name,
                &[
                    "--input",
                    input,
                    "--max-delay",
                    delay,
                    "--mode",
                    "stream",
                    "--step-size",
                    step,
                    "--changes",
                ],
            );
            let replayed = run(
                name,
                &[
                    "--mode",
                    "replay",
                    "--log",
                    log,
                    "--max-delay",
                    delay,
                    "--step-size",
                    step,
                    "--changes",
                ],
            );
            assert_eq!(
                stdout(&replayed),
                stdout(&streamed),
                "{name}, steps of {step}"
            );
            assert!(!stdout(&replayed).is_empty());
        }
    }
}

#[test]
fn following_picks_up_records_another_process_appends() {
    let dir = tempfile::tempdir().unwrap();
    let data = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data/sales.csv"),
    )
    .unwrap();
    let lines: Vec<&str> = data.lines().collect();
    let (header, rows) = lines.split_first().unwrap();
    let first = dir.path().join("first.csv");
    let second = dir.path().join("second.csv");
    let part = |rows: &[&str]| format!("{header}\n{}\n", rows.join("\n"));
    std::fs::write(&first, part(&rows[..20])).unwrap();
    std::fs::write(&second, part(&rows[20..])).unwrap();
    let log = dir.path().join("log");
    ingest("daily_sales", first.to_str().unwrap(), &log);

    let follower = Command::new(example("daily_sales"))
        .args([
            "--mode",
            "replay",
            "--follow",
            "--idle-timeout",
            "3s",
            "--log",
        ])
        .arg(&log)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    ingest("daily_sales", second.to_str().unwrap(), &log);
    let followed = follower.wait_with_output().unwrap();
    assert!(followed.status.success(), "{}", stderr(&followed));
    let batch = stdout(&run("daily_sales", &["--input", "examples/data/sales.csv"]));
    assert_eq!(stdout(&followed), batch);
    assert!(
        stderr(&followed).contains("offsets 0..40"),
        "{}",
        stderr(&followed)
    );
}

#[test]
fn replay_usage_errors_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing");
    let output = Command::new(example("daily_sales"))
        .args(["--mode", "replay", "--log"])
        .arg(&missing)
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("there is no event log in"),
        "{}",
        stderr(&output)
    );
    let output = Command::new(example("daily_sales"))
        .args(["--mode", "replay"])
        .output()
        .unwrap();
    assert!(stderr(&output).contains("--mode replay needs --log DIR"));
}

#[test]
fn a_restart_with_other_settings_is_refused_before_any_file_is_touched() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    ingest("daily_sales", "examples/data/sales.csv", &log);
    let log = log.to_str().unwrap().to_string();
    let checkpoint = dir.path().join("run.checkpoint");
    let checkpoint = checkpoint.to_str().unwrap().to_string();
    let changes = dir.path().join("changes.jsonl");
    let changes = changes.to_str().unwrap().to_string();
    let base = [
        "--mode",
        "replay",
        "--log",
        &log,
        "--step-size",
        "5",
        "--checkpoint",
        &checkpoint,
        "--checkpoint-every",
        "1",
    ];
    let with = |extra: &[&str]| -> Vec<String> {
        base.iter().chain(extra).map(|s| s.to_string()).collect()
    };
    let first = run_args("daily_sales", &with(&["--changes", "--output", &changes]));
    assert!(first.status.success(), "{}", stderr(&first));

    // An unrelated file of the user's, longer than the checkpointed output.
    let other = dir.path().join("precious.jsonl");
    let precious = "keep me\n".repeat(10_000);
    std::fs::write(&other, &precious).unwrap();
    let other = other.to_str().unwrap().to_string();
    let refused = run_args("daily_sales", &with(&["--changes", "--output", &other]));
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("--output:"),
        "{}",
        stderr(&refused)
    );
    assert_eq!(std::fs::read_to_string(&other).unwrap(), precious);

    // Another mode; another log (a copy of the first); another file under the same name.
    let copy = dir.path().join("copy");
    ingest("daily_sales", "examples/data/sales.csv", &copy);
    let mut other_log = with(&["--changes", "--output", &changes]);
    let at = other_log.iter().position(|a| a == "--log").unwrap() + 1;
    other_log[at] = copy.to_str().unwrap().to_string();
    for args in [with(&["--output", changes.as_str()]), other_log] {
        let extra = args.clone();
        let refused = run_args("daily_sales", &args);
        assert!(!refused.status.success(), "{extra:?}");
        assert!(
            stderr(&refused).contains("other settings"),
            "{}",
            stderr(&refused)
        );
    }
    // A copy put in its place (while the original still exists, so it is surely another file).
    let written = std::fs::read(&changes).unwrap();
    let copy = format!("{changes}.copy");
    std::fs::write(&copy, &written).unwrap();
    std::fs::rename(&copy, &changes).unwrap();
    let replaced = run_args("daily_sales", &with(&["--changes", "--output", &changes]));
    assert!(!replaced.status.success());
    assert!(
        stderr(&replaced).contains("output file:"),
        "{}",
        stderr(&replaced)
    );
    assert_eq!(std::fs::read(&changes).unwrap(), written);

    // Another pipeline's checkpoint names the pipeline that wrote it.
    let windowed = run_args(
        "windowed_sales",
        &with(&["--changes", "--output", &changes]),
    );
    assert!(!windowed.status.success());
    let message = stderr(&windowed);
    assert!(
        message.contains("written by daily_sales version"),
        "{message}"
    );
    assert!(!message.contains("damaged"), "{message}");
}

fn run_args(name: &str, args: &[String]) -> Output {
    Command::new(example(name))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap()
}
