//! Runtime parameters end to end: `large_sales` takes `min_revenue` from `--param`, its value changes
//! the output and the version, and a missing, unknown or unreadable value is refused before any
//! input is read.

use std::collections::BTreeMap;
use std::process::Command;

mod common;

use common::{example, parse_daily_totals, run, stderr, stdout};

/// Totals per (product, date) in cents from the CSV text, over the sales worth at least
/// `min_cents`, skipping the malformed rows.
fn expected(min_cents: i64) -> BTreeMap<(String, String), (i64, u64)> {
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
        let revenue =
            quantity * (units.parse::<i64>().unwrap() * 100 + cents.parse::<i64>().unwrap());
        if revenue < min_cents {
            continue;
        }
        let entry = totals
            .entry((product.to_string(), date.to_string()))
            .or_insert((0, 0));
        entry.0 += revenue;
        entry.1 += 1;
    }
    totals
}

fn large_sales(args: &[&str]) -> std::process::Output {
    let mut all = vec!["--input", "examples/data/sales.csv", "--quiet"];
    all.extend_from_slice(args);
    run("large_sales", &all)
}

#[test]
fn the_parameter_value_filters_as_the_declaration_says_in_every_mode() {
    // The default (0) keeps every sale: the daily-sales answer.
    let all = stdout(&large_sales(&[]));
    assert_eq!(parse_daily_totals(&all), expected(0));
    let daily = stdout(&run(
        "daily_sales",
        &["--input", "examples/data/sales.csv", "--quiet"],
    ));
    assert_eq!(all, daily);
    let large = stdout(&large_sales(&["--param", "min_revenue=10"]));
    assert_eq!(parse_daily_totals(&large), expected(1000));
    assert!(
        expected(1000).len() < expected(0).len(),
        "the threshold must filter something"
    );
    for mode in [
        &["--mode", "stream", "--step-size", "3"][..],
        &["--workers", "2"][..],
    ] {
        let mut args = vec!["--param", "min_revenue=10"];
        args.extend_from_slice(mode);
        assert_eq!(stdout(&large_sales(&args)), large, "with {mode:?}");
    }
}

#[test]
fn a_value_is_part_of_the_version() {
    let version = |args: &[&str]| {
        let mut all = vec!["--version"];
        all.extend_from_slice(args);
        stdout(&run("large_sales", &all)).trim().to_string()
    };
    let default = version(&[]);
    assert_eq!(default, version(&["--param", "min_revenue=0"]));
    let ten = version(&["--param", "min_revenue=10"]);
    assert_ne!(default, ten);
    // The summary names the version that ran.
    let summary = stderr(&run(
        "large_sales",
        &[
            "--input",
            "examples/data/sales.csv",
            "--param",
            "min_revenue=10",
        ],
    ));
    let fingerprint = ten.split(' ').nth(1).unwrap();
    assert!(
        summary.contains(&format!("(version {fingerprint})")),
        "{summary}"
    );
    // The plan explains the value.
    let plan = stdout(&run(
        "large_sales",
        &["--explain=text", "--param", "min_revenue=10"],
    ));
    assert!(plan.contains("param min_revenue: Decimal = 10"), "{plan}");
    assert!(plan.contains(fingerprint), "{plan}");
}

#[test]
fn bad_values_are_refused_before_any_input_is_read() {
    for (args, says) in [
        (
            &["--param", "min_revenu=10"][..],
            "has no parameter `min_revenu`: its parameters are min_revenue: Decimal",
        ),
        (
            &["--param", "min_revenue=ten"][..],
            "parameter `min_revenue`: cannot read \"ten\" as Decimal",
        ),
        (&["--param", "min_revenue"][..], "expected NAME=VALUE"),
    ] {
        let output = Command::new(example("large_sales"))
            .args(["--input", "examples/data/sales.csv"])
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap();
        assert!(!output.status.success(), "{args:?} succeeded");
        let err = stderr(&output);
        assert!(err.contains(says), "{args:?}: {err}");
        // Nothing was read: no dead letters, no output.
        assert!(!err.contains("dead letter"), "{args:?}: {err}");
        assert!(output.stdout.is_empty(), "{args:?}");
    }
    // A pipeline without parameters refuses one too.
    let output = Command::new(example("daily_sales"))
        .args(["--input", "examples/data/sales.csv", "--param", "x=1"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("pipeline daily_sales has no parameter `x`: it has none"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn help_lists_the_parameters() {
    let help = stdout(&run("large_sales", &["--help"]));
    assert!(
        help.contains(
            "Parameters, given as --param NAME=VALUE: `min_revenue`: Decimal (default 0)"
        ),
        "{help}"
    );
}
