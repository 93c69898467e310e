//! End-to-end: awkward inputs and arguments through the example executables: invalid UTF-8, a
//! directory, `/dev/null` or an empty file as input, an output naming the input, huge step sizes, bad
//! cluster flags, a CSV without a header, a bad date, and the summary's output counts.

use std::path::Path;
use std::process::Output;
use std::time::Duration;

mod common;

use common::{run, stderr, stdout};

/// Runs example `name` with `args` in the workspace directory, killing it and failing the test if it
/// has not ended after 30 seconds. Success or failure is the caller's to check.
fn run_bounded(name: &str, args: &[&str]) -> Output {
    common::run_within(name, args, Duration::from_secs(30))
        .unwrap_or_else(|| panic!("{name} {args:?} did not end within 30 s"))
}

fn lossy_stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn dead_letters(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn words_with_invalid_utf8(dir: &Path) -> std::path::PathBuf {
    let input = dir.join("words.jsonl");
    let mut bytes = b"{\"text\":\"alpha\"}\n".to_vec();
    bytes.extend_from_slice(&[0xff, 0xfe, b'\n']);
    bytes.extend_from_slice(b"{\"text\":\"beta\"}\n{\"text\":\"gamma\"}\n");
    std::fs::write(&input, bytes).unwrap();
    input
}

#[test]
fn invalid_utf8_in_json_lines_is_one_dead_letter_and_the_next_line_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let input = words_with_invalid_utf8(dir.path());
    let dead = dir.path().join("dead.jsonl");
    let output = run(
        "word_count",
        &[
            "--input",
            input.to_str().unwrap(),
            "--dead-letter",
            dead.to_str().unwrap(),
        ],
    );
    let out = stdout(&output);
    for word in ["alpha", "beta", "gamma"] {
        assert!(
            out.contains(&format!(r#"{{"word":"{word}","count":1}}"#)),
            "{out}"
        );
    }
    let summary = stderr(&output);
    assert!(
        summary.contains("read 4 records, 3 ok, 1 dead-lettered"),
        "{summary}"
    );
    let letters = dead_letters(&dead);
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert_eq!(letters[0]["line"], 2);
    assert_eq!(letters[0]["raw"], "\u{fffd}\u{fffd}");
    assert!(
        letters[0]["reason"].as_str().unwrap().contains("UTF-8"),
        "{letters:?}"
    );
}

#[test]
fn ingest_reads_every_line_around_invalid_utf8() {
    let dir = tempfile::tempdir().unwrap();
    let input = words_with_invalid_utf8(dir.path());
    let log = dir.path().join("log");
    let dead = dir.path().join("dead.jsonl");
    let output = run(
        "word_count",
        &[
            "ingest",
            "--input",
            input.to_str().unwrap(),
            "--log",
            log.to_str().unwrap(),
            "--dead-letter",
            dead.to_str().unwrap(),
        ],
    );
    assert!(
        stdout(&output).starts_with("ingested 3 records"),
        "{}",
        stdout(&output)
    );
    let letters = dead_letters(&dead);
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert_eq!(letters[0]["line"], 2);
}

/// Each example with the extension and format of its input.
const EXAMPLES: [(&str, &str, &str); 4] = [
    ("word_count", "jsonl", "jsonl"),
    ("daily_sales", "csv", "csv"),
    ("fraud_detection", "csv", "csv"),
    ("windowed_sales", "csv", "csv"),
];

#[test]
fn every_example_refuses_a_directory_as_input_at_once() {
    let dir = tempfile::tempdir().unwrap();
    for (name, extension, format) in EXAMPLES {
        let input = dir.path().join(format!("input.{extension}"));
        std::fs::create_dir_all(&input).unwrap();
        let output = run_bounded(
            name,
            &["--input", input.to_str().unwrap(), "--format", format],
        );
        let errors = lossy_stderr(&output);
        assert!(!output.status.success(), "{name}: {errors}");
        assert!(
            errors.contains(input.to_str().unwrap()) && errors.contains("is a directory"),
            "{name}: {errors}"
        );
        assert_eq!(
            errors.lines().count(),
            1,
            "{name}: one error, no dead letters: {errors}"
        );
        let log = dir.path().join(format!("log-{name}"));
        let ingested = run_bounded(
            name,
            &[
                "ingest",
                "--input",
                input.to_str().unwrap(),
                "--log",
                log.to_str().unwrap(),
                "--format",
                format,
            ],
        );
        let errors = lossy_stderr(&ingested);
        assert!(!ingested.status.success(), "{name} ingest: {errors}");
        assert!(errors.contains("is a directory"), "{name} ingest: {errors}");
    }
}

#[test]
fn every_example_gives_an_empty_result_for_dev_null_and_an_empty_file() {
    let dir = tempfile::tempdir().unwrap();
    for (name, extension, format) in EXAMPLES {
        let empty = dir.path().join(format!("empty.{extension}"));
        std::fs::write(&empty, "").unwrap();
        for input in [Path::new("/dev/null"), &empty] {
            for mode in ["batch", "stream"] {
                let output = run_bounded(
                    name,
                    &[
                        "--input",
                        input.to_str().unwrap(),
                        "--format",
                        format,
                        "--mode",
                        mode,
                    ],
                );
                let errors = lossy_stderr(&output);
                assert!(output.status.success(), "{name} {input:?} {mode}: {errors}");
                assert!(stdout(&output).is_empty(), "{name} {input:?} {mode}");
                assert!(
                    errors.contains("read 0 records, 0 ok, 0 dead-lettered"),
                    "{name} {input:?} {mode}: {errors}"
                );
            }
        }
    }
}

#[test]
fn an_output_naming_the_input_is_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("sales.csv");
    let original = std::fs::read("examples/data/timed_sales.csv").unwrap();
    std::fs::write(&input, &original).unwrap();
    let other = dir.path().join("out.jsonl");
    // The same file under another spelling and through a hard link.
    let spelled = dir.path().join(".").join("sales.csv");
    let linked = dir.path().join("linked.csv");
    std::fs::hard_link(&input, &linked).unwrap();
    for flag in ["--output", "--dead-letter", "--late"] {
        for same in [&input, &spelled, &linked] {
            let mut args = vec![
                "--input",
                input.to_str().unwrap(),
                flag,
                same.to_str().unwrap(),
            ];
            if flag != "--output" {
                args.extend_from_slice(&["--output", other.to_str().unwrap()]);
            }
            let output = run_bounded("windowed_sales", &args);
            let errors = lossy_stderr(&output);
            assert!(!output.status.success(), "{flag} {same:?}: {errors}");
            assert!(
                errors.contains(flag) && errors.contains("is the input file"),
                "{flag} {same:?}: {errors}"
            );
            assert_eq!(std::fs::read(&input).unwrap(), original, "{flag} {same:?}");
            assert!(!other.exists(), "nothing is opened for writing: {flag}");
        }
    }
    let log = dir.path().join("log");
    let ingested = run_bounded(
        "windowed_sales",
        &[
            "ingest",
            "--input",
            input.to_str().unwrap(),
            "--log",
            log.to_str().unwrap(),
            "--dead-letter",
            linked.to_str().unwrap(),
        ],
    );
    let errors = lossy_stderr(&ingested);
    assert!(!ingested.status.success(), "{errors}");
    assert!(errors.contains("--dead-letter") && errors.contains("is the input file"));
    assert_eq!(std::fs::read(&input).unwrap(), original);
}

#[test]
fn a_huge_step_size_runs_like_any_other() {
    let batch = stdout(&run("daily_sales", &["--input", "examples/data/sales.csv"]));
    let output = run_bounded(
        "daily_sales",
        &[
            "--input",
            "examples/data/sales.csv",
            "--mode",
            "stream",
            "--step-size",
            "1099511627776",
        ],
    );
    assert!(output.status.success(), "{}", lossy_stderr(&output));
    assert_eq!(stdout(&output), batch);
}

#[test]
fn bad_cluster_flags_are_refused_before_the_input_is_opened() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let missing = dir.path().join("missing.csv");
    for (flags, message) in [
        (&["-w", "0"][..], "workers must be at least 1"),
        (&["-n", "0"][..], "processes must be at least 1"),
        (&["-n", "2", "-p", "2"][..], "out of range for 2 processes"),
    ] {
        let mut args = vec![
            "--input",
            missing.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(flags);
        let output = run_bounded("daily_sales", &args);
        let errors = lossy_stderr(&output);
        assert!(!output.status.success(), "{flags:?}: {errors}");
        assert!(errors.contains(message), "{flags:?}: {errors}");
        assert!(!out.exists(), "{flags:?}: the output was created");
    }
}

#[test]
fn a_csv_without_a_header_is_an_error_that_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("sales.csv");
    std::fs::write(&input, "tea,2,2.10,2026-11-03\njam,1,3.00,2026-11-04\n").unwrap();
    let output = run_bounded("daily_sales", &["--input", input.to_str().unwrap()]);
    let errors = lossy_stderr(&output);
    assert!(!output.status.success(), "{errors}");
    assert!(
        errors.contains("has no header line") && errors.contains(input.to_str().unwrap()),
        "{errors}"
    );
}

#[test]
fn a_bad_date_dead_letter_names_its_column() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("sales.csv");
    let dead = dir.path().join("dead.jsonl");
    std::fs::write(
        &input,
        "product,quantity,price,date\ntea,2,2.10,2026-11-03\ntea,1,2.10,2024-13-45\njam,x,1.00,2026-11-03\njam,1,lots,2026-11-03\n",
    )
    .unwrap();
    run(
        "daily_sales",
        &[
            "--input",
            input.to_str().unwrap(),
            "--dead-letter",
            dead.to_str().unwrap(),
        ],
    );
    let letters = dead_letters(&dead);
    let reasons: Vec<&str> = letters
        .iter()
        .map(|l| l["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert!(
        reasons[0].contains("field 4 (date)") && reasons[0].contains("out of range"),
        "{reasons:?}"
    );
    assert!(reasons[1].contains("field 2 (quantity)"), "{reasons:?}");
    assert!(
        reasons[2].contains("field 3 (price)") && reasons[2].contains("not a decimal"),
        "{reasons:?}"
    );
    assert_eq!(letters[0]["line"], 3);
}

#[test]
fn the_summary_counts_lines_written_and_distinct_records() {
    let output = run("word_count", &["--input", "examples/data/lines.jsonl"]);
    let written = stdout(&output).lines().count();
    let summary = stderr(&output);
    assert!(
        summary.contains(&format!("; {written} output records ({written} distinct)")),
        "{summary}"
    );
}
