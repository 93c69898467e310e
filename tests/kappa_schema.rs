//! Schema evolution in the event log: records written by an older version of an input type are read
//! by today's pipeline through its upgrade function; a record of a version the reader does not know
//! is an error naming its offset, in the library and on the command line.

use chrono::NaiveDate;
use dataflow_core::decimal::Decimal;
use dataflow_core::kappa::{self, EventLog, LogOptions, Schema};
use dataflow_core::prelude::*;
use dataflow_examples::log_schemas::SaleV1;
use dataflow_examples::{DailySales, Sale};
use std::path::PathBuf;
use std::process::Command;

mod common;
use common::builds::{first_build, later_build};

/// A sale as a future version might write it, which today's reader cannot know.
#[derive(Serialize, Deserialize)]
struct SaleV9 {
    product: String,
    store: u32,
}

impl Schema for SaleV9 {
    const VERSION: u32 = 9;
}

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
}

fn old(product: &str, quantity: i64, price_cents: i64, d: u32) -> SaleV1 {
    SaleV1 {
        product: product.into(),
        quantity,
        price_cents,
        date: day(d),
    }
}

fn new(product: &str, quantity: i64, price: Decimal, d: u32) -> Sale {
    Sale {
        product: product.into(),
        quantity,
        price,
        date: day(d),
    }
}

#[test]
fn old_records_are_upgraded_and_give_the_batch_result() {
    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::open(dir.path(), LogOptions::default()).unwrap();
    // History written by version 1 of the type (price in cents), then by version 2.
    let mut batch = log.batch();
    batch.push(0, &old("tea", 2, 210, 3)).unwrap();
    batch.push(0, &old("latte", 1, 380, 3)).unwrap();
    batch.commit().unwrap();
    let mut batch = log.batch();
    batch
        .push(0, &new("tea", 1, Decimal::new(210, 2), 3))
        .unwrap();
    batch
        .push(0, &new("latte", 3, Decimal::new(4, 0), 4))
        .unwrap();
    batch.commit().unwrap();

    let first = log.read_from(0).unwrap().next().unwrap().unwrap();
    assert_eq!(first.schema_version, 1);
    assert_eq!(
        first.decode::<Sale>().unwrap(),
        new("tea", 2, Decimal::new(210, 2), 3)
    );

    let replayed = kappa::replay::<DailySales, Sale>(&Runner::new(), &log, 0, 3, None).unwrap();
    let batch = Runner::<DailySales>::new()
        .batch(vec![
            new("tea", 2, Decimal::new(210, 2), 3),
            new("latte", 1, Decimal::new(380, 2), 3),
            new("tea", 1, Decimal::new(210, 2), 3),
            new("latte", 3, Decimal::new(4, 0), 4),
        ])
        .unwrap();
    assert_eq!(replayed.output.records, batch.records);
    assert_eq!((replayed.from, replayed.to), (0, 4));
}

fn example(name: &str) -> PathBuf {
    let mut dir = std::env::current_exe().expect("test binary path");
    dir.pop();
    if dir.ends_with("deps") {
        dir.pop();
    }
    dir.join("examples").join(name)
}

#[test]
fn an_unknown_version_is_an_error_naming_the_record() {
    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::open(dir.path(), LogOptions::default()).unwrap();
    log.append(0, &new("tea", 1, Decimal::new(2, 0), 1))
        .unwrap();
    log.append(
        0,
        &SaleV9 {
            product: "tea".into(),
            store: 4,
        },
    )
    .unwrap();
    let error = kappa::replay::<DailySales, Sale>(&Runner::new(), &log, 0, 10, None)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("cannot decode record at offset 1 (schema version 9)")
            && error.contains("schema version 9 is newer than the reader's version 2"),
        "{error}"
    );
    // Replaying what comes before it works.
    let mut replay = kappa::Replay::<DailySales, Sale>::start(&Runner::new(), &log, 0, 1).unwrap();
    assert!(replay.step().unwrap().is_some());
    assert_eq!(replay.position(), 1);
    assert!(replay.step().is_err());
    drop(replay);
    drop(log);

    let output = Command::new(example("daily_sales"))
        .args(["--mode", "replay", "--log"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot decode record at offset 1 (schema version 9)"),
        "{stderr}"
    );
}

#[test]
fn a_log_written_with_another_layout_under_the_same_version_is_refused_naming_the_fields() {
    use dataflow_core::log::Log;
    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::open(dir.path(), LogOptions::default()).unwrap();
    Log::append(&log, &[(0, first_build::View { url: "/a".into() })]).unwrap();
    // Read back as the later build's type: refused before a record is decoded.
    let error = match Log::tail::<later_build::View>(&log, 0) {
        Ok(_) => panic!("the later build's reader was not refused"),
        Err(error) => error.to_string(),
    };
    assert!(
        error.contains("holds version 1 records as `struct View { url: String }`")
            && error.contains("`ts: u64` added"),
        "{error}"
    );
    // Written by the later build: refused, nothing appended.
    let error = Log::append(
        &log,
        &[(
            0,
            later_build::View {
                url: "/b".into(),
                ts: 1,
            },
        )],
    )
    .unwrap_err()
    .to_string();
    assert!(error.contains("`ts: u64` added"), "{error}");
    assert_eq!(Log::head(&log), 1);
    // The first build's reader reads it.
    assert!(Log::tail::<first_build::View>(&log, 0).is_ok());
}
