//! Kappa reprocessing, end to end: sales go into an event log; version 1 of a product report serves a
//! view; version 2, with fixed logic, replays the whole log while version 1 keeps serving and new
//! sales keep arriving, then takes the view over atomically and version 1 retires.
//!
//! `cargo run --release --example kappa_reprocess -- [--history N] [--step N]`

use chrono::NaiveDate;
use clap::Parser;
use dataflow_core::decimal::Decimal;
use dataflow_core::io::{FileSource, Format};
use dataflow_core::kappa::{
    self, DeployOptions, EventLog, FsyncPolicy, LogOptions, Phase, ServedView,
};
use dataflow_core::prelude::*;
use dataflow_examples::Sale;
use dataflow_examples::kappa_reports::{ProductReport, ProductReportV1, ProductReportV2};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

#[derive(Parser)]
struct Args {
    /// Generated sales appended after the sample data, so that reprocessing has history to replay.
    #[arg(long, default_value_t = 200_000)]
    history: u64,
    /// Records per step.
    #[arg(long, default_value_t = 5_000)]
    step: usize,
    /// Sales appended per batch while the versions run (one batch every 2 ms).
    #[arg(long, default_value_t = 20)]
    batch: u64,
}

const PRODUCTS: [&str; 6] = ["tea", "espresso", "latte", "bagel", "croissant", "scone"];

/// A small deterministic generator of sales.
struct Generator(u64);

impl Generator {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    fn sale(&mut self) -> Sale {
        Sale {
            product: PRODUCTS[(self.next() % 6) as usize].to_string(),
            quantity: 1 + (self.next() % 4) as i64,
            price: Decimal::new(150 + (self.next() % 300) as i64, 2),
            date: NaiveDate::from_ymd_opt(2026, 11, 1 + (self.next() % 28) as u32)
                .unwrap_or_default(),
        }
    }
}

/// The sale's day as event time, ms since the Unix epoch.
fn event_time(sale: &Sale) -> u64 {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    u64::try_from((sale.date - epoch).num_milliseconds()).unwrap_or(0)
}

fn by_product(report: &ProductReport) -> (String, (u64, Decimal)) {
    (report.product.clone(), (report.sales, report.revenue))
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    let at = || format!("{:>7.3}s", started.elapsed().as_secs_f64());
    let dir = tempfile::tempdir()?;
    let log = EventLog::open(
        dir.path(),
        LogOptions::default().fsync(FsyncPolicy::EveryN(10_000)),
    )?;

    // 1. The sample sales, then generated history.
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data/sales.csv");
    let mut source = FileSource::<Sale>::open(path, Format::Csv)?;
    let mut batch = log.batch();
    for sale in source.by_ref().flatten() {
        batch.push(event_time(&sale), &sale)?;
    }
    batch.commit()?;
    let sample = source.stats();
    let mut generator = Generator(2026);
    let mut batch = log.batch();
    for _ in 0..args.history {
        let sale = generator.sale();
        batch.push(event_time(&sale), &sale)?;
        if batch.len() >= 10_000 {
            batch.commit()?;
        }
    }
    batch.commit()?;
    println!(
        "{} ingested {} sales from examples/data/sales.csv ({} malformed rows left out) and {} generated: offsets 0..{}",
        at(),
        sample.ok,
        sample.dead,
        args.history,
        log.head()
    );

    // 2. Version 1 serves the view.
    let view = ServedView::<String, (u64, Decimal)>::new();
    let options = DeployOptions {
        step: args.step,
        ..DeployOptions::default()
    };
    let timeout = Duration::from_secs(600);
    let v1 = kappa::deploy::<ProductReportV1, Sale, _, _, _, _>(
        Runner::new(),
        &log,
        &view,
        by_product,
        options,
    )?;
    let serving = v1.wait_until(|p| p.phase == Phase::Serving, timeout)?;
    let switch = serving
        .switch
        .clone()
        .ok_or("version 1 serves without a recorded switch")?;
    println!(
        "{} version 1 ({}) serving: replayed offsets 0..{} in {:.3} s",
        at(),
        ProductReportV1::version(),
        switch.offset,
        switch.after.as_secs_f64()
    );

    // 3. New sales keep arriving from here on.
    let appending = Arc::new(AtomicBool::new(true));
    let appender = {
        let (log, appending, per_batch) = (log.clone(), Arc::clone(&appending), args.batch);
        std::thread::spawn(move || -> Result<u64, kappa::LogError> {
            let mut generator = Generator(7);
            let mut appended = 0;
            while appending.load(Ordering::SeqCst) {
                let mut batch = log.batch();
                for _ in 0..per_batch {
                    let sale = generator.sale();
                    batch.push(event_time(&sale), &sale)?;
                }
                appended += batch.commit()?.count() as u64;
                std::thread::sleep(Duration::from_millis(2));
            }
            Ok(appended)
        })
    };
    std::thread::sleep(Duration::from_millis(200));
    let tea = view.get(&"tea".to_string());
    println!(
        "{} new sales arriving; the view (version 1, offset {}) says tea = {:?}",
        at(),
        view.offset(),
        tea
    );

    // 4. Version 2 replays the log from offset 0 while version 1 serves, then takes over.
    let v2 = kappa::deploy::<ProductReportV2, Sale, _, _, _, _>(
        Runner::new(),
        &log,
        &view,
        by_product,
        options,
    )?;
    let head_at_deploy = v2.progress().head_at_start;
    println!(
        "{} version 2 ({}) deployed at head {head_at_deploy}: catching up from offset 0",
        at(),
        ProductReportV2::version()
    );
    let switched = v2.wait_until(|p| p.phase == Phase::Serving, timeout)?;
    let switch = switched
        .switch
        .clone()
        .ok_or("version 2 serves without a recorded switch")?;
    println!(
        "{} version 2 caught up and switched at offset {} after {:.3} s ({:.0} events/s; {} events appended during the catch-up)",
        at(),
        switch.offset,
        switch.after.as_secs_f64(),
        switch.offset as f64 / switch.after.as_secs_f64(),
        switch.offset - head_at_deploy
    );
    let v1 = v1.join()?;
    println!(
        "{} version 1 retired at offset {}",
        at(),
        v1.progress.retired_at.unwrap_or(v1.replayed.to)
    );

    // 5. Appends go on for a moment, then stop; version 2 follows to the head.
    std::thread::sleep(Duration::from_millis(300));
    appending.store(false, Ordering::SeqCst);
    let appended = appender
        .join()
        .map_err(|_| "the appending thread panicked")??;
    let head = log.head();
    v2.wait_until(|p| p.position == head, timeout)?;
    println!(
        "{} appends stopped after {appended} new sales; version 2 serves offset {}",
        at(),
        view.offset()
    );

    // 6. Both versions' results.
    let served = view.snapshot();
    let v1_results: Vec<(String, (u64, Decimal))> = v1
        .replayed
        .output
        .records
        .iter()
        .map(|(report, _)| by_product(report))
        .collect();
    println!(
        "\n{:<10} {:>28} {:>28}",
        "product",
        format!("v1 @ {}: sales, revenue", v1.replayed.to),
        format!("v2 @ {}: sales, revenue", served.offset())
    );
    for (product, (sales, revenue)) in &v1_results {
        let (sales2, revenue2) = served.get(product).cloned().unwrap_or_default();
        println!(
            "{product:<10} {:>28} {:>28}",
            format!("{sales}, {revenue}"),
            format!("{sales2}, {revenue2}")
        );
    }
    let counted: u64 = served.entries().values().map(|(sales, _)| sales).sum();
    println!(
        "\nsales counted by the served view: {counted}; records in the log: {head} ({})",
        if counted == head {
            "every event counted once"
        } else {
            "MISMATCH"
        }
    );
    v2.stop()?;
    if counted != head {
        return Err("the served view does not count every event exactly once".into());
    }
    Ok(())
}
