//! End-to-end: the example executables on their sample data, malformed lines included, in every mode.

use std::collections::BTreeMap;
use std::process::Command;

mod common;

use common::{example, parse_daily_totals, run, stderr, stdout};

/// Totals per (product, date) computed straight from the CSV text, in cents, skipping bad rows.
fn expected_daily_sales() -> BTreeMap<(String, String), (i64, u64)> {
    let text = std::fs::read_to_string("examples/data/sales.csv").unwrap();
    let mut totals = BTreeMap::new();
    for line in text.lines().skip(1) {
        let fields: Vec<&str> = line.split(',').collect();
        let [product, quantity, price, date] = fields[..] else {
            continue;
        };
        let (Ok(quantity), Some((units, cents))) = (quantity.parse::<i64>(), price.split_once('.'))
        else {
            continue;
        };
        if chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").is_err() {
            continue;
        }
        let price: i64 = units.parse::<i64>().unwrap() * 100 + cents.parse::<i64>().unwrap();
        let entry = totals
            .entry((product.to_string(), date.to_string()))
            .or_insert((0, 0));
        entry.0 += quantity * price;
        entry.1 += 1;
    }
    totals
}

#[test]
fn daily_sales_batch_matches_the_csv_and_dead_letters_bad_rows() {
    let dir = tempfile::tempdir().unwrap();
    let dead = dir.path().join("dead.jsonl");
    let output = run(
        "daily_sales",
        &[
            "--input",
            "examples/data/sales.csv",
            "--dead-letter",
            dead.to_str().unwrap(),
        ],
    );
    assert_eq!(parse_daily_totals(&stdout(&output)), expected_daily_sales());
    let summary = stderr(&output);
    assert!(
        summary.contains("read 43 records, 40 ok, 3 dead-lettered"),
        "{summary}"
    );
    let letters: Vec<serde_json::Value> = std::fs::read_to_string(&dead)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let lines: Vec<u64> = letters
        .iter()
        .map(|l| l["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, vec![10, 18, 26]);
    assert!(letters[0]["reason"].as_str().unwrap().contains("quantity"));
    assert!(
        letters[1]["reason"]
            .as_str()
            .unwrap()
            .contains("out of range")
    );
    assert_eq!(letters[1]["raw"], "bagel,1,1.95,2026-13-40");
    assert!(
        letters[2]["reason"]
            .as_str()
            .unwrap()
            .contains("expected 4 fields")
    );
    assert_eq!(letters[2]["raw"], "croissant,3,2.20");
}

#[test]
fn daily_sales_stream_and_two_workers_print_the_batch_result() {
    let batch = stdout(&run("daily_sales", &["--input", "examples/data/sales.csv"]));
    for args in [
        &["--mode", "stream", "--step-size", "1"][..],
        &["--mode", "stream", "--step-size", "7"][..],
        &["--workers", "2"][..],
        &["--mode", "stream", "--step-size", "5", "--workers", "2"][..],
    ] {
        let mut all = vec!["--input", "examples/data/sales.csv"];
        all.extend_from_slice(args);
        assert_eq!(stdout(&run("daily_sales", &all)), batch, "with {args:?}");
    }
}

#[test]
fn stream_changes_consolidate_to_the_batch_result() {
    let batch = stdout(&run("daily_sales", &["--input", "examples/data/sales.csv"]));
    let changes = stdout(&run(
        "daily_sales",
        &[
            "--input",
            "examples/data/sales.csv",
            "--mode",
            "stream",
            "--step-size",
            "4",
            "--changes",
        ],
    ));
    let mut view: BTreeMap<String, i64> = BTreeMap::new();
    let mut retractions = 0;
    for line in changes.lines() {
        let change: serde_json::Value = serde_json::from_str(line).unwrap();
        let diff = change["diff"].as_i64().unwrap();
        retractions += usize::from(diff < 0);
        *view.entry(change["record"].to_string()).or_default() += diff;
    }
    view.retain(|_, d| *d != 0);
    assert!(retractions > 0, "a growing total retracts its old value");
    let expected: BTreeMap<String, i64> = batch
        .lines()
        .map(|l| {
            (
                serde_json::from_str::<serde_json::Value>(l)
                    .unwrap()
                    .to_string(),
                1,
            )
        })
        .collect();
    assert_eq!(view, expected);
}

#[test]
fn two_processes_in_cluster_mode_print_the_batch_result() {
    let batch = stdout(&run("daily_sales", &["--input", "examples/data/sales.csv"]));
    let dir = tempfile::tempdir().unwrap();
    let hosts = dir.path().join("hosts");
    let ports: Vec<u16> = (0..2)
        .map(|_| {
            std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port()
        })
        .collect();
    std::fs::write(
        &hosts,
        ports
            .iter()
            .map(|p| format!("127.0.0.1:{p}\n"))
            .collect::<String>(),
    )
    .unwrap();
    // Timely reports connection progress on standard output, so results go to files.
    let out = |index: &str| dir.path().join(format!("out-{index}.jsonl"));
    let spawn = |index: &str| {
        Command::new(example("daily_sales"))
            .args([
                "--input",
                "examples/data/sales.csv",
                "-n",
                "2",
                "-p",
                index,
                "-H",
            ])
            .arg(&hosts)
            .arg("--output")
            .arg(out(index))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let second = spawn("1");
    let first = spawn("0");
    let first = first.wait_with_output().unwrap();
    let second = second.wait_with_output().unwrap();
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(second.status.success(), "{}", stderr(&second));
    assert_eq!(std::fs::read_to_string(out("0")).unwrap(), batch);
    // Process 0 writes the output; the others open no file (on one host, or a shared file system,
    // opening it would truncate process 0's).
    assert!(
        !out("1").exists(),
        "process 1 created {}",
        out("1").display()
    );
}

#[test]
fn explain_prints_the_plan_and_its_graphs() {
    let text = stdout(&run("daily_sales", &["--explain"]));
    assert!(
        text.starts_with("pipeline daily_sales -> DailyTotal (version "),
        "{text}"
    );
    assert!(
        text.contains(
            "#2 aggregate(|a| (a.sum(|revenue| *revenue), a.count())) <- #1 : HashAggregate"
        ),
        "{text}"
    );
    assert!(text.contains("flowchart TD"));
    let dot = stdout(&run("daily_sales", &["--explain=dot"]));
    assert!(dot.starts_with("digraph \"daily_sales\""));
    let json = stdout(&run("daily_sales", &["--explain=json"]));
    let plan: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(plan["nodes"].as_array().unwrap().len(), 4);
    let svg = stdout(&run("windowed_sales", &["--explain=svg"]));
    assert!(svg.contains("<svg ") && svg.trim_end().ends_with("</svg>"));
    assert!(svg.contains("<title>windowed_sales plan</title>"));
    // Fused stages are inside their operator: one box holds the operator and both its stages.
    let fused = svg.find("fused operator").unwrap();
    let event_time = svg.find("#1 event_time(|s| s.ts)").unwrap();
    let key = svg.find("#2 key(|s| s.product.clone())").unwrap();
    assert!(fused < event_time && event_time < key, "{svg}");
    // The picture in the README is this one.
    let committed = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/windowed_sales-plan.svg"
    ))
    .unwrap();
    assert_eq!(svg, committed);
}

#[test]
fn word_count_reads_json_lines_and_dead_letters_bad_ones() {
    let output = run("word_count", &["--input", "examples/data/lines.jsonl"]);
    let out = stdout(&output);
    assert!(out.contains(r#"{"word":"stream","count":3}"#), "{out}");
    assert!(out.contains(r#"{"word":"batch","count":2}"#), "{out}");
    let errors = stderr(&output);
    assert!(
        errors.contains(r#""line":5"#) && errors.contains(r#""line":7"#),
        "{errors}"
    );
    assert!(
        errors.contains("read 8 records, 6 ok, 2 dead-lettered"),
        "{errors}"
    );
}

#[test]
fn usage_errors_are_reported() {
    let output = Command::new(example("daily_sales"))
        .args(["--input", "examples/data/sales.txt"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(stderr(&output).contains("pass --format csv or --format jsonl"));
}

#[test]
fn fraud_detection_agrees_in_every_mode() {
    let args = [
        "--input",
        "examples/data/transactions.csv",
        "--max-delay",
        "30s",
    ];
    let batch = run("fraud_detection", &args);
    let alerts = stdout(&batch);
    assert!(
        alerts.contains(r#""user_id":"u1","ts":1764005000000,"amount":2500.00,"reason":"amount""#),
        "{alerts}"
    );
    assert!(alerts.contains(r#""reason":"velocity""#), "{alerts}");
    assert!(stderr(&batch).contains("2 dead-lettered"));
    for extra in [
        &["--mode", "stream", "--step-size", "1"][..],
        &["--mode", "stream", "--step-size", "9", "--workers", "2"][..],
    ] {
        let mut all = args.to_vec();
        all.extend_from_slice(extra);
        assert_eq!(
            stdout(&run("fraud_detection", &all)),
            alerts,
            "with {extra:?}"
        );
    }
}

#[test]
fn windowed_sales_windows_late_data_and_emit_modes() {
    let dir = tempfile::tempdir().unwrap();
    let late = dir.path().join("late.jsonl");
    let common = [
        "--input",
        "examples/data/timed_sales.csv",
        "--max-delay",
        "2m",
    ];
    let streamed = |extra: &[&str]| {
        let mut all = common.to_vec();
        all.extend_from_slice(&["--mode", "stream", "--step-size", "4"]);
        all.extend_from_slice(extra);
        run("windowed_sales", &all)
    };
    let hourly = streamed(&["--late", late.to_str().unwrap()]);
    let summary = stderr(&hourly);
    assert!(
        summary.contains("1 late (to the late output; --max-delay 10733s would have kept them)"),
        "{summary}"
    );
    let late_records = std::fs::read_to_string(&late).unwrap();
    assert_eq!(late_records.lines().count(), 1);
    assert!(
        late_records.contains(r#""event_time":1764010800000"#),
        "{late_records}"
    );
    let rows: Vec<serde_json::Value> = stdout(&hourly)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(rows.iter().all(|r| r["window_end"].as_u64().unwrap()
        - r["window_start"].as_u64().unwrap()
        == 3_600_000));
    // Updating mode and two workers consolidate to the same final result.
    assert_eq!(
        stdout(&streamed(&["--emit", "updating", "--workers", "2"])),
        stdout(&hourly)
    );
    // Batch mode has no late data: it aggregates the straggler too.
    let batch = stdout(&run("windowed_sales", &common));
    let total = |out: &str| -> u64 {
        out.lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["transaction_count"]
                    .as_u64()
                    .unwrap()
            })
            .sum()
    };
    assert_eq!(total(&batch), total(&stdout(&hourly)) + 1);
    // Sliding windows: each sale counts in size / slide windows.
    let sliding = stdout(&run(
        "windowed_sales",
        &[
            "--input",
            "examples/data/timed_sales.csv",
            "--window",
            "sliding:1h:15m",
        ],
    ));
    // (The sample data starts long after the epoch, so no window is cut off at its start.)
    assert_eq!(total(&sliding), 4 * total(&batch));
    // Sessions end at their last sale plus the gap.
    let sessions = stdout(&run(
        "windowed_sales",
        &[
            "--input",
            "examples/data/timed_sales.csv",
            "--window",
            "session:30m",
        ],
    ));
    assert_eq!(total(&sessions), total(&batch));
}

#[test]
fn help_names_the_pipeline_its_doc_and_its_input_fields() {
    for flag in ["-h", "--help"] {
        let output = run("windowed_sales", &[flag]);
        assert!(output.status.success(), "{}", stderr(&output));
        let help = stdout(&output);
        assert!(help.contains("Usage: windowed_sales"), "{help}");
        assert!(
            help.contains("Revenue and number of sales per product"),
            "{help}"
        );
        assert!(
            help.contains("TimedSale records with the fields product, quantity, price, ts"),
            "{help}"
        );
        assert!(help.contains("-H, --hostfile"), "{help}");
        assert!(
            help.contains("at most --max-delay (0 by default)"),
            "{help}"
        );
    }
}

#[test]
fn the_version_names_what_runs_window_overrides_included() {
    let plain = stdout(&run("windowed_sales", &["--version"]));
    let two_hours = stdout(&run(
        "windowed_sales",
        &["--version", "--window", "tumbling:2h"],
    ));
    assert!(plain.starts_with("windowed_sales "), "{plain}");
    assert_ne!(plain, two_hours, "another window is another version");
    assert_eq!(
        two_hours,
        stdout(&run("windowed_sales", &["-V", "--window", "tumbling:2h"]))
    );
    let explained = stdout(&run(
        "windowed_sales",
        &["--explain=text", "--window", "tumbling:2h"],
    ));
    assert!(explained.contains("tumbling:2h"), "{explained}");
    let summary = stderr(&run(
        "windowed_sales",
        &[
            "--input",
            "examples/data/timed_sales.csv",
            "--window",
            "tumbling:2h",
        ],
    ));
    let version = two_hours.trim().split(' ').nth(1).unwrap();
    assert!(
        summary.contains(&format!("(version {version})")),
        "{summary}"
    );
}

#[test]
fn flags_that_would_be_ignored_are_refused_with_the_reason() {
    for (name, args, why) in [
        (
            "daily_sales",
            &[
                "--input",
                "examples/data/sales.csv",
                "--window",
                "tumbling:1h",
            ][..],
            "has no event_time stage",
        ),
        (
            "daily_sales",
            &["--input", "examples/data/sales.csv", "--max-delay", "5s"][..],
            "has no event_time stage",
        ),
        (
            "fraud_detection",
            &[
                "--input",
                "examples/data/transactions.csv",
                "--window",
                "tumbling:1h",
            ][..],
            "has no window stage",
        ),
        (
            "daily_sales",
            &["--input", "examples/data/sales.csv", "--changes"][..],
            "--changes does not apply",
        ),
        (
            "daily_sales",
            &["--input", "examples/data/sales.csv", "--step-size", "5"][..],
            "--step-size does not apply",
        ),
        (
            "daily_sales",
            &["--input", "examples/data/sales.csv", "--follow"][..],
            "needs --mode replay",
        ),
        (
            "daily_sales",
            &[
                "--input",
                "examples/data/sales.csv",
                "--mode",
                "stream",
                "--from",
                "3",
            ][..],
            "needs --mode replay",
        ),
    ] {
        let output = std::process::Command::new(example(name))
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap();
        assert!(!output.status.success(), "{name} {args:?}");
        assert!(
            stderr(&output).contains(why),
            "{name} {args:?}: {}",
            stderr(&output)
        );
    }
}
