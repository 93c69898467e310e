//! End-to-end: answers stay exact whatever the numbers: decimals keep every digit from input to
//! output, and event times of any size (microseconds by mistake included) run to the end in stream
//! mode with the batch's answer.

use std::path::Path;
use std::process::Output;
use std::time::Duration;

mod common;

use common::{stderr, stdout};

/// Runs example `name`, failing the test if it has not ended after 60 seconds.
fn run_bounded(name: &str, args: &[&str]) -> Output {
    common::run_within(name, args, Duration::from_secs(60))
        .unwrap_or_else(|| panic!("{name} {args:?} did not end within 60 s"))
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn event_times_beyond_the_old_clock_end_and_equal_batch() {
    let dir = tempfile::tempdir().unwrap();
    // Microsecond timestamps (≥ 2^44 ms) used to saturate the logical time and hang the stream.
    let input = write(
        dir.path(),
        "us.csv",
        "product,quantity,price,ts\ntea,1,2.00,1764000041404000\ntea,1,2.00,1764000041405000\ntea,1,2.00,1764000041406000\n",
    );
    let batch = run_bounded("windowed_sales", &["--input", &input]);
    assert!(batch.status.success(), "{}", stderr(&batch));
    assert!(!stdout(&batch).is_empty());
    for step in ["1", "2"] {
        let stream = run_bounded(
            "windowed_sales",
            &["--input", &input, "--mode", "stream", "--step-size", step],
        );
        assert!(stream.status.success(), "{}", stderr(&stream));
        assert_eq!(stdout(&stream), stdout(&batch), "step size {step}");
    }
    // The largest event time there is, too (after a small one: in the other order the small one
    // would rightly be late).
    let input = write(
        dir.path(),
        "max.csv",
        &format!(
            "product,quantity,price,ts\ntea,1,2.00,5\ntea,1,2.00,{}\n",
            u64::MAX
        ),
    );
    let batch = run_bounded("windowed_sales", &["--input", &input]);
    let stream = run_bounded(
        "windowed_sales",
        &["--input", &input, "--mode", "stream", "--step-size", "1"],
    );
    assert!(stream.status.success(), "{}", stderr(&stream));
    assert_eq!(stdout(&stream), stdout(&batch));
}

#[test]
fn csv_decimals_keep_every_digit() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(
        dir.path(),
        "sales.csv",
        "product,quantity,price,date\n\
         fine,1,12345678.123456789,2026-11-03\n\
         huge,1,5000000000000000000000000000,2026-11-03\n\
         sum,1,123456789012345678,2026-11-04\n\
         sum,1,1,2026-11-04\n\
         cents,2,1.10,2026-11-04\n",
    );
    let output = run_bounded("daily_sales", &["--input", &input]);
    assert!(output.status.success(), "{}", stderr(&output));
    let out = stdout(&output);
    for exact in [
        r#""total_revenue":12345678.123456789,"#,
        r#""total_revenue":5000000000000000000000000000,"#,
        r#""total_revenue":123456789012345679,"#,
        r#""total_revenue":2.20,"#,
    ] {
        assert!(out.contains(exact), "{exact} missing from\n{out}");
    }
    assert!(
        stderr(&output).contains("0 dead-lettered"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn json_decimals_keep_every_digit_as_numbers_or_strings() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(
        dir.path(),
        "sales.jsonl",
        "{\"product\":\"s\",\"quantity\":1,\"price\":\"1.00000000000000001\",\"date\":\"2026-11-03\"}\n\
         {\"product\":\"n\",\"quantity\":1,\"price\":1.00000000000000001,\"date\":\"2026-11-03\"}\n\
         {\"product\":\"c\",\"quantity\":3,\"price\":1.10,\"date\":\"2026-11-03\"}\n",
    );
    let output = run_bounded("daily_sales", &["--input", &input]);
    assert!(output.status.success(), "{}", stderr(&output));
    let out = stdout(&output);
    assert_eq!(
        out.matches(r#""total_revenue":1.00000000000000001,"#)
            .count(),
        2,
        "{out}"
    );
    assert!(
        out.contains(r#""product":"c","date":"2026-11-03","total_revenue":3.30,"#),
        "{out}"
    );
    // Replayed from the log, the digits survive the binary encoding too.
    let log = dir.path().join("log");
    let ingest = run_bounded(
        "daily_sales",
        &["ingest", "--input", &input, "--log", log.to_str().unwrap()],
    );
    assert!(ingest.status.success(), "{}", stderr(&ingest));
    let replay = run_bounded(
        "daily_sales",
        &["--mode", "replay", "--log", log.to_str().unwrap()],
    );
    assert!(replay.status.success(), "{}", stderr(&replay));
    assert_eq!(stdout(&replay), out);
}
