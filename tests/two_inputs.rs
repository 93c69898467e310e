//! End-to-end: a pipeline with two inputs (orders ⋈ customers) gets the whole command line: one
//! `--input NAME=PATH` per input, batch, stream, two workers, `ingest` of both inputs into one log
//! and replay of it, all with the same answer, which a direct computation checks.

use std::collections::BTreeMap;
use std::process::Command;

mod common;

use common::{example, run, stderr, stdout};

const INPUTS: [&str; 4] = [
    "--input",
    "orders=examples/data/orders.csv",
    "--input",
    "customers=examples/data/customers.csv",
];

/// Revenue (in cents) and order count per country, computed directly from the two files.
fn expected() -> BTreeMap<String, (i64, u64)> {
    let root = env!("CARGO_MANIFEST_DIR");
    let customers: BTreeMap<u64, String> =
        std::fs::read_to_string(format!("{root}/examples/data/customers.csv"))
            .unwrap()
            .lines()
            .skip(1)
            .filter_map(|line| {
                let (id, country) = line.split_once(',')?;
                Some((id.parse().ok()?, country.to_string()))
            })
            .collect();
    let mut totals = BTreeMap::new();
    for line in std::fs::read_to_string(format!("{root}/examples/data/orders.csv"))
        .unwrap()
        .lines()
        .skip(1)
    {
        let fields: Vec<&str> = line.split(',').collect();
        let (Ok(customer), Some((units, cents))) =
            (fields[1].parse::<u64>(), fields[2].split_once('.'))
        else {
            continue;
        };
        let (Ok(units), Ok(cents)) = (units.parse::<i64>(), cents.parse::<i64>()) else {
            continue;
        };
        if let Some(country) = customers.get(&customer) {
            let total = totals.entry(country.clone()).or_insert((0, 0));
            total.0 += units * 100 + cents;
            total.1 += 1;
        }
    }
    totals
}

fn parsed(output: &str) -> BTreeMap<String, (i64, u64)> {
    output
        .lines()
        .map(|line| {
            let row: serde_json::Value = serde_json::from_str(line).unwrap();
            let revenue = row["revenue"].to_string();
            let (units, cents) = revenue.split_once('.').unwrap_or((&revenue, "0"));
            let cents = format!("{cents:0<2}");
            (
                row["country"].as_str().unwrap().to_string(),
                (
                    units.parse::<i64>().unwrap() * 100 + cents.parse::<i64>().unwrap(),
                    row["orders"].as_u64().unwrap(),
                ),
            )
        })
        .collect()
}

#[test]
fn every_mode_gives_the_joined_answer() {
    let batch = run("country_revenue", &INPUTS);
    let answer = stdout(&batch);
    assert_eq!(parsed(&answer), expected());
    assert!(
        stderr(&batch).contains("read 82 records, 80 ok, 2 dead-lettered"),
        "{}",
        stderr(&batch)
    );
    for extra in [
        &["--mode", "stream", "--step-size", "1"][..],
        &["--mode", "stream", "--step-size", "7"][..],
        &["-w", "2"][..],
        &["--mode", "stream", "--step-size", "5", "-w", "2"][..],
    ] {
        let mut args = INPUTS.to_vec();
        args.extend_from_slice(extra);
        assert_eq!(stdout(&run("country_revenue", &args)), answer, "{extra:?}");
    }
    // The inputs in the other order on the command line, and the orders alone joined with nobody.
    let swapped = [INPUTS[2], INPUTS[3], INPUTS[0], INPUTS[1]];
    assert_eq!(stdout(&run("country_revenue", &swapped)), answer);
}

#[test]
fn both_inputs_go_into_one_log_and_replay_gives_the_batch_answer() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let mut args = vec!["ingest"];
    args.extend_from_slice(&INPUTS);
    args.extend_from_slice(&["--log", log.to_str().unwrap(), "--batch-size", "8"]);
    let ingested = run("country_revenue", &args);
    assert!(
        stdout(&ingested).starts_with("ingested 80 records into "),
        "{}",
        stdout(&ingested)
    );
    let batch = stdout(&run("country_revenue", &INPUTS));
    for step in ["1", "9", "1000"] {
        let replayed = run(
            "country_revenue",
            &[
                "--mode",
                "replay",
                "--log",
                log.to_str().unwrap(),
                "--step-size",
                step,
            ],
        );
        assert_eq!(stdout(&replayed), batch, "step size {step}");
    }
    let two_workers = run(
        "country_revenue",
        &[
            "--mode",
            "replay",
            "--log",
            log.to_str().unwrap(),
            "-w",
            "2",
        ],
    );
    assert_eq!(stdout(&two_workers), batch);
}

#[test]
fn inputs_must_be_named_once_each() {
    for (args, why) in [
        (
            &["--input", "examples/data/orders.csv"][..],
            "does not say which input it is",
        ),
        (
            &["--input", "orders=examples/data/orders.csv"][..],
            "no --input for customers",
        ),
        (
            &[
                "--input",
                "orders=examples/data/orders.csv",
                "--input",
                "clients=x.csv",
            ][..],
            "has no input `clients`; its inputs are orders, customers",
        ),
        (
            &[
                "--input",
                "orders=examples/data/orders.csv",
                "--input",
                "orders=examples/data/orders.csv",
            ][..],
            "given twice",
        ),
    ] {
        let output = Command::new(example("country_revenue"))
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap();
        assert!(!output.status.success(), "{args:?}");
        assert!(
            stderr(&output).contains(why),
            "{args:?}: {}",
            stderr(&output)
        );
    }
    let help = stdout(&run("country_revenue", &["--help"]));
    assert!(help.contains("one --input NAME=PATH for each of `orders`: Order records with the fields order_id, customer_id, amount; `customers`: Customer records"), "{help}");
}

#[test]
fn an_interrupted_ingest_of_two_inputs_resumes_in_the_same_turns() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let log = log.to_str().unwrap();
    let mut args = vec!["ingest"];
    args.extend_from_slice(&INPUTS);
    args.extend_from_slice(&["--log", log, "--batch-size", "8"]);
    run("country_revenue", &args);
    // As if it had stopped after the first 24 records: resuming appends none of them again.
    let progress = std::fs::read_dir(log)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "progress"))
        .unwrap();
    let mut state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&progress).unwrap()).unwrap();
    state["next_offset"] = 24.into();
    state["done"] = false.into();
    std::fs::write(&progress, state.to_string()).unwrap();
    let mut other_turns = args.clone();
    *other_turns.last_mut().unwrap() = "5";
    other_turns.push("--resume");
    let refused = Command::new(example("country_revenue"))
        .args(&other_turns)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        stderr(&refused).contains("resume with the same"),
        "{}",
        stderr(&refused)
    );
    args.push("--resume");
    let resumed = run("country_revenue", &args);
    assert!(
        stdout(&resumed).contains("ingested 0 records"),
        "{}",
        stdout(&resumed)
    );
    let replayed = run("country_revenue", &["--mode", "replay", "--log", log]);
    assert_eq!(stdout(&replayed), stdout(&run("country_revenue", &INPUTS)));
}
