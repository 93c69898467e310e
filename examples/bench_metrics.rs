//! What metrics cost: the `daily_sales` pipeline with metrics off and on (per-operator metrics from
//! timely's and differential's logging, and the run's counters after every step, as `--metrics` and
//! `serve` do), in the same process, runs alternating, the best run of each counting.
//!
//! ```text
//! cargo run --release --example bench_metrics -- [--rows N] [--runs R] [--step-size S] [--workers W]
//! ```
//!
//! Two shapes of run: one batch (one step, as `--mode batch`), and a stream of steps of
//! `--step-size` records (as `--mode stream`, `--mode replay` and `serve`), where the counters are
//! updated after every step. Both answers must equal the run without metrics, or nothing is printed.

use clap::Parser;
use dataflow_core::Runner;
use dataflow_core::decimal::Decimal;
use dataflow_core::observe::Metrics;
use dataflow_core::pipeline::Pipeline;
use dataflow_examples::{DailySales, DailyTotal, Sale};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Command line.
#[derive(Parser, Debug)]
#[command(about = "Times daily_sales with metrics off and on, in the same process")]
struct Args {
    /// Number of sales to generate.
    #[arg(long, default_value_t = 2_000_000)]
    rows: usize,
    /// Runs of each variant (alternating; the best counts).
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Records per step of the stream runs.
    #[arg(long, default_value_t = 10_000)]
    step_size: usize,
    /// Worker threads.
    #[arg(long, default_value_t = 1)]
    workers: usize,
}

/// `rows` sales over 1,000 products and 100 days, the same every time (a linear congruential
/// sequence picks each field).
fn generate(rows: usize) -> Vec<Sale> {
    let first = chrono::NaiveDate::from_ymd_opt(2024, 1, 1).expect("a valid date");
    let mut state = 0x5eed_u64;
    let mut next = move |n: u64| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) % n
    };
    (0..rows)
        .map(|_| Sale {
            product: format!("product-{:04}", next(1000)),
            quantity: 1 + next(5) as i64,
            price: Decimal::new([99, 150, 499, 999, 1250][next(5) as usize], 2),
            date: first + chrono::Days::new(next(100)),
        })
        .collect()
}

/// One run: the pipeline over `rows` as one batch (`step == None`) or in steps, with `metrics` or
/// without; returns its time and its output.
fn run(
    rows: Vec<Sale>,
    step: Option<usize>,
    workers: usize,
    metrics: Option<Arc<Metrics>>,
) -> Result<(Duration, Vec<(DailyTotal, isize)>), dataflow_core::Error> {
    let started = Instant::now();
    let mut runner = Runner::<DailySales>::new().workers(workers);
    if let Some(metrics) = &metrics {
        runner = runner.metrics(Arc::clone(metrics));
    }
    let output = match step {
        None => {
            let records = rows.len() as u64;
            let output = runner.batch(rows)?;
            if let Some(metrics) = &metrics {
                metrics.record_step(records, output.records.len() as u64);
            }
            output
        }
        Some(size) => {
            let mut running = runner.start()?;
            let mut rows = rows.into_iter();
            loop {
                let step: Vec<Sale> = rows.by_ref().take(size).collect();
                if step.is_empty() {
                    break;
                }
                let records = step.len() as u64;
                let changes = running.push(step)?;
                if let Some(metrics) = &metrics {
                    metrics.record_step(records, changes.len() as u64);
                    metrics.add_late(running.take_late().len() as u64);
                    metrics.set_watermark(running.watermark(), running.max_event_time());
                }
            }
            running.finish()?
        }
    };
    Ok((started.elapsed(), output.records))
}

fn main() -> ExitCode {
    let args = Args::parse();
    let rows = generate(args.rows);
    println!(
        "daily_sales, {} rows, {} worker{}, best of {} alternating runs each",
        args.rows,
        args.workers,
        if args.workers == 1 { "" } else { "s" },
        args.runs
    );
    println!();
    println!("| run | metrics off | metrics on | rows/s off | rows/s on | on ÷ off |");
    println!("|---|---:|---:|---:|---:|---:|");
    let shapes = [
        ("batch (one step)".to_string(), None),
        (
            format!("stream, steps of {}", args.step_size),
            Some(args.step_size),
        ),
    ];
    for (name, step) in shapes {
        let mut best = [Duration::MAX, Duration::MAX];
        let mut answer = None;
        for _ in 0..args.runs {
            for (variant, on) in [false, true].into_iter().enumerate() {
                let metrics = on.then(|| {
                    Arc::new(Metrics::new(
                        DailySales::NAME,
                        &DailySales::version(),
                        "stream",
                        false,
                    ))
                });
                let input = rows.clone();
                let (time, output) = match run(input, step, args.workers, metrics.clone()) {
                    Ok(result) => result,
                    Err(error) => {
                        eprintln!("error: {error}");
                        return ExitCode::FAILURE;
                    }
                };
                if let Some(metrics) = &metrics
                    && !metrics
                        .encode()
                        .contains("dataflow_operator_records_in_total{")
                {
                    eprintln!("error: the run with metrics measured no operator");
                    return ExitCode::FAILURE;
                }
                match &answer {
                    None => answer = Some(output),
                    Some(expected) if *expected != output => {
                        eprintln!("error: {name}: the outputs with and without metrics differ");
                        return ExitCode::FAILURE;
                    }
                    Some(_) => {}
                }
                best[variant] = best[variant].min(time);
            }
        }
        let rate = |time: Duration| args.rows as f64 / time.as_secs_f64() / 1e6;
        println!(
            "| {name} | {:.3} s | {:.3} s | {:.2} M | {:.2} M | **{:.3}** |",
            best[0].as_secs_f64(),
            best[1].as_secs_f64(),
            rate(best[0]),
            rate(best[1]),
            best[1].as_secs_f64() / best[0].as_secs_f64()
        );
    }
    ExitCode::SUCCESS
}
