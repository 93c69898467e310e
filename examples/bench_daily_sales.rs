//! Benchmark of the `daily_sales` pipeline against hand-written versions of the same job.
//!
//! Four implementations compute revenue and transaction count per (product, day) over the same
//! deterministic, in-memory input:
//!
//! - **generated**: the `#[pipeline]` function [`dataflow_examples::sales::daily_sales`], run as one
//!   batch with `Runner::<DailySales>::new().workers(w).batch(rows)`;
//! - **differential**: the job written directly on differential dataflow as one would write it for speed:
//!   each sale becomes an update of its `(product, date)` key whose *difference* is the pair
//!   (revenue, count), and `count_total` accumulates those differences per key;
//! - **timely**: a timely `unary_frontier` operator, its input exchanged by key, keeping a
//!   `HashMap<(String, NaiveDate), (Decimal, u64)>` per open time and emitting it once the frontier
//!   has passed that time;
//! - **loop**: a plain single-threaded `for` loop into a `HashMap` (the COST baseline).
//!
//! Every implementation gets its own copy of the input (copied before the clock starts) and is timed
//! from graph construction to a sorted `Vec<DailyTotal>` in hand, worker start-up and output capture
//! included. The answers of all four must be identical or the program stops without printing figures.
//!
//! ```text
//! cargo run --release --example bench_daily_sales -- [--rows N] [--products P] [--days D] [--workers W]
//! ```
//!
//! `--runs` sets how often each implementation runs (the best run counts); by default three times, or
//! once above 20 million rows. `--differential-variants` also times two slower differential forms
//! (`count` through `reduce_abelian`, and a plain `reduce`), once each: `count` costs about the same
//! as `count_total` (both are dominated by arranging the updates), `reduce` several times more. The hand-written drivers step their worker every `--feed-chunk` records
//! (0: insert everything first, as the runner does). `--only generated|differential|timely` times one
//! implementation (plus the loop, whose answer is the reference), which is handy under a profiler.

use chrono::NaiveDate;
use clap::Parser;
use dataflow_core::Runner;
use dataflow_core::decimal::Decimal;
use dataflow_examples::baseline::{capture, execute};
use dataflow_examples::{DailySales, DailyTotal, Sale};
use differential_dataflow::difference::{Abelian, IsZero, Monoid, Multiply, Semigroup};
use differential_dataflow::input::{Input as _, InputSession};
use differential_dataflow::operators::CountTotal;
use differential_dataflow::{Hashable, VecCollection};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::{Duration, Instant};
use timely::container::CapacityContainerBuilder;
use timely::dataflow::Scope;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::{Capability, Input as _};

#[path = "common/mod.rs"]
mod common;
use common::sales::generate;

/// Command line.
#[derive(Parser, Debug)]
#[command(about = "Times the generated daily_sales pipeline against hand-written versions of it")]
struct Args {
    /// Number of sales to generate.
    #[arg(long, default_value_t = 10_000_000)]
    rows: usize,
    /// Number of distinct products.
    #[arg(long, default_value_t = 1000)]
    products: usize,
    /// Number of distinct days.
    #[arg(long, default_value_t = 100)]
    days: usize,
    /// Also run every dataflow implementation with this many worker threads.
    #[arg(long, default_value_t = 1)]
    workers: usize,
    /// Runs per implementation (the best counts); default 3, or 1 above 20 million rows.
    #[arg(long)]
    runs: Option<usize>,
    /// Seed of the input generator.
    #[arg(long, default_value_t = 0x5eed)]
    seed: u64,
    /// Also time the slower differential forms (`count`, `reduce`), once each.
    #[arg(long)]
    differential_variants: bool,
    /// Records the hand-written drivers insert between steps of their worker; 0 inserts a worker's
    /// whole share before the first step, as the runner does.
    #[arg(long, default_value_t = 1 << 16)]
    feed_chunk: usize,
    /// Time only this implementation (and the loop, whose answer is the reference); for profiling.
    #[arg(long, value_enum)]
    only: Option<Implementation>,
}

/// The implementations that `--only` can select.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Implementation {
    /// The generated pipeline.
    Generated,
    /// The hand-written differential dataflow.
    Differential,
    /// The hand-written timely operator.
    Timely,
}

/// The revenue of one sale, as the pipeline computes it.
#[inline]
fn revenue(sale: &Sale) -> Decimal {
    Decimal::from(sale.quantity) * sale.price
}

/// Starts `workers` timely workers, hands worker `i` part `i` of `rows`, and collects what the workers
/// send on the channel they are given.
fn run_timely<O, F>(rows: Vec<Sale>, workers: usize, worker_logic: F) -> Result<Vec<O>, String>
where
    O: Send + 'static,
    F: Fn(&mut timely::worker::Worker, Vec<Sale>, mpsc::Sender<Vec<O>>) + Send + Sync + 'static,
{
    Ok(execute(rows, workers, worker_logic)?
        .into_iter()
        .flatten()
        .collect())
}

/// Revenue and number of sales, used as a differential *difference*: adding two updates of the same
/// key adds their revenues and counts, so accumulating a key's updates yields its daily total.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
struct RevenueCount {
    revenue: Decimal,
    count: i64,
}

impl IsZero for RevenueCount {
    #[inline]
    fn is_zero(&self) -> bool {
        self.count == 0 && self.revenue.is_zero()
    }
}

impl Semigroup for RevenueCount {
    #[inline]
    fn plus_equals(&mut self, rhs: &Self) {
        self.revenue += rhs.revenue;
        self.count += rhs.count;
    }
}

impl Monoid for RevenueCount {
    #[inline]
    fn zero() -> Self {
        Self::default()
    }
}

impl Abelian for RevenueCount {
    #[inline]
    fn negate(&mut self) {
        self.revenue = -self.revenue;
        self.count = -self.count;
    }
}

impl Multiply<isize> for RevenueCount {
    type Output = Self;
    #[inline]
    fn multiply(self, rhs: &isize) -> Self {
        if *rhs == 1 {
            return self;
        }
        RevenueCount {
            revenue: self.revenue * Decimal::from(*rhs as i64),
            count: self.count * *rhs as i64,
        }
    }
}

fn daily_total(key: (String, NaiveDate), total: RevenueCount) -> DailyTotal {
    DailyTotal {
        product: key.0,
        date: key.1,
        total_revenue: total.revenue,
        transaction_count: total.count as u64,
    }
}

/// Inserts the records of `part` into `input`, stepping the worker every `chunk` records, then
/// closes the input and runs the worker until its dataflows are complete.
fn feed<D, R>(
    worker: &mut timely::worker::Worker,
    mut input: InputSession<u64, D, R>,
    part: Vec<Sale>,
    chunk: usize,
    mut to_update: impl FnMut(Sale) -> (D, R),
) where
    D: differential_dataflow::Data,
    R: Semigroup + 'static,
{
    let chunk = if chunk == 0 { usize::MAX } else { chunk };
    let mut part = part.into_iter();
    loop {
        let mut any = false;
        for sale in part.by_ref().take(chunk) {
            let (data, diff) = to_update(sale);
            input.update(data, diff);
            any = true;
        }
        if !any {
            break;
        }
        worker.step();
    }
    input.close();
    while worker.step_or_park(None) {}
}

/// A sale's key and revenue, the records of the `reduce` form.
type KeyedRevenue = ((String, NaiveDate), Decimal);

/// Which form of the hand-written differential job to build.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DifferentialForm {
    /// Revenue and count in the difference, accumulated by `count_total`.
    CountTotal,
    /// Revenue and count in the difference, accumulated by `count` (`reduce_abelian`).
    Count,
    /// `((product, date), revenue)` records summed by `reduce`.
    Reduce,
}

/// The hand-written differential dataflow version.
fn differential(
    rows: Vec<Sale>,
    workers: usize,
    form: DifferentialForm,
    chunk: usize,
) -> Result<Vec<DailyTotal>, String> {
    let mut out = run_timely(rows, workers, move |worker, part, sender| match form {
        DifferentialForm::CountTotal | DifferentialForm::Count => {
            // The input carries the keyed update directly: the sale's (revenue, 1) is its difference.
            let input = worker.dataflow::<u64, _, _>(|scope: Scope<'_, u64>| {
                let (input, keyed) = scope.new_collection::<(String, NaiveDate), RevenueCount>();
                let totals = match form {
                    DifferentialForm::CountTotal => keyed.count_total(),
                    _ => keyed.count(),
                };
                capture(
                    totals.map(|(key, total)| daily_total(key, total)).inner,
                    sender,
                );
                input
            });
            feed(worker, input, part, chunk, |sale| {
                let diff = RevenueCount {
                    revenue: revenue(&sale),
                    count: 1,
                };
                ((sale.product, sale.date), diff)
            });
        }
        DifferentialForm::Reduce => {
            let input = worker.dataflow::<u64, _, _>(|scope: Scope<'_, u64>| {
                let (input, keyed): (_, VecCollection<'_, u64, KeyedRevenue>) =
                    scope.new_collection();
                let totals = keyed.reduce(
                    |_key, values: &[(&Decimal, isize)], out: &mut Vec<(RevenueCount, isize)>| {
                        let mut total = RevenueCount::default();
                        for (value, count) in values {
                            total.revenue += **value * Decimal::from(*count as i64);
                            total.count += *count as i64;
                        }
                        out.push((total, 1));
                    },
                );
                capture(
                    totals.map(|(key, total)| daily_total(key, total)).inner,
                    sender,
                );
                input
            });
            feed(worker, input, part, chunk, |sale| {
                (((sale.product.clone(), sale.date), revenue(&sale)), 1)
            });
        }
    })?;
    // Each output record carries (data, time, diff); a batch run must produce every total exactly once.
    let mut totals = Vec::with_capacity(out.len());
    out.sort_unstable();
    for (total, _time, diff) in out {
        if diff != 1 {
            return Err(format!(
                "differential produced {total:?} with multiplicity {diff}"
            ));
        }
        totals.push(total);
    }
    Ok(totals)
}

/// Daily totals of one logical time, kept by the hand-written timely operator.
type Totals = HashMap<(String, NaiveDate), (Decimal, u64)>;

/// The hand-written timely version: one hash-table operator exchanged by key.
fn timely_operator(
    rows: Vec<Sale>,
    workers: usize,
    chunk: usize,
) -> Result<Vec<DailyTotal>, String> {
    let chunk = if chunk == 0 { usize::MAX } else { chunk };
    let mut out = run_timely(rows, workers, move |worker, part, sender| {
        let mut input = worker.dataflow::<u64, _, _>(|scope: Scope<'_, u64>| {
            let (input, sales) = scope.new_input::<Vec<Sale>>();
            let pact = Exchange::new(|sale: &Sale| (sale.product.as_str(), sale.date).hashed());
            let totals = sales
                .unary_frontier::<CapacityContainerBuilder<Vec<DailyTotal>>, _, _, _>(
                    pact,
                    "DailyTotals",
                    |_capability, _info| {
                        let mut open: BTreeMap<u64, (Capability<u64>, Totals)> = BTreeMap::new();
                        move |(input, frontier), output| {
                            input.for_each(|capability, data| {
                                let Some(&time) = capability.least() else {
                                    return;
                                };
                                let (_, totals) = open.entry(time).or_insert_with(|| {
                                    (capability.delayed(&time, 0), HashMap::new())
                                });
                                for sale in data.drain(..) {
                                    let revenue = revenue(&sale);
                                    let total = totals
                                        .entry((sale.product, sale.date))
                                        .or_insert((Decimal::ZERO, 0));
                                    total.0 += revenue;
                                    total.1 += 1;
                                }
                            });
                            while let Some(entry) = open.first_entry() {
                                if frontier.less_equal(entry.key()) {
                                    break;
                                }
                                let (capability, totals) = entry.remove();
                                let mut session = output.session(&capability);
                                for ((product, date), (total_revenue, transaction_count)) in totals
                                {
                                    session.give(DailyTotal {
                                        product,
                                        date,
                                        total_revenue,
                                        transaction_count,
                                    });
                                }
                            }
                        }
                    },
                );
            capture(totals, sender);
            input
        });
        let mut part = part.into_iter();
        loop {
            let mut chunk: Vec<Sale> = part.by_ref().take(chunk).collect();
            if chunk.is_empty() {
                break;
            }
            input.send_batch(&mut chunk);
            worker.step();
        }
        input.close();
        while worker.step_or_park(None) {}
    })?;
    out.sort_unstable();
    Ok(out)
}

/// The generated pipeline, through its runner.
fn generated(rows: Vec<Sale>, workers: usize) -> Result<Vec<DailyTotal>, String> {
    let output = Runner::<DailySales>::new()
        .workers(workers)
        .batch(rows)
        .map_err(|e| e.to_string())?;
    let mut totals = Vec::with_capacity(output.records.len());
    for (total, diff) in output.records {
        if diff != 1 {
            return Err(format!(
                "the pipeline produced {total:?} with multiplicity {diff}"
            ));
        }
        totals.push(total);
    }
    totals.sort_unstable();
    Ok(totals)
}

/// The single-threaded loop.
fn single_loop(rows: Vec<Sale>) -> Vec<DailyTotal> {
    let mut totals: Totals = HashMap::new();
    for sale in rows {
        let revenue = revenue(&sale);
        let total = totals
            .entry((sale.product, sale.date))
            .or_insert((Decimal::ZERO, 0));
        total.0 += revenue;
        total.1 += 1;
    }
    let mut out: Vec<DailyTotal> = totals
        .into_iter()
        .map(
            |((product, date), (total_revenue, transaction_count))| DailyTotal {
                product,
                date,
                total_revenue,
                transaction_count,
            },
        )
        .collect();
    out.sort_unstable();
    out
}

/// One implementation's measurements.
struct Measured {
    name: &'static str,
    workers: usize,
    runs: Vec<Duration>,
}

impl Measured {
    fn best(&self) -> Duration {
        self.runs.iter().copied().min().unwrap_or_default()
    }
}

/// Runs `job` on fresh copies of `input` `runs` times, checking every answer against `expected`.
fn measure(
    name: &'static str,
    workers: usize,
    runs: usize,
    input: &[Sale],
    expected: Option<&[DailyTotal]>,
    job: impl Fn(Vec<Sale>) -> Result<Vec<DailyTotal>, String>,
) -> Result<(Measured, Vec<DailyTotal>), String> {
    let mut times = Vec::with_capacity(runs);
    let mut answer = Vec::new();
    for run in 0..runs {
        let rows = input.to_vec();
        let started = Instant::now();
        let result = job(rows).map_err(|e| format!("{name} ({workers} workers) failed: {e}"))?;
        let elapsed = started.elapsed();
        if let Some(expected) = expected {
            check(name, workers, expected, &result)?;
        }
        eprintln!(
            "  {name:<24} workers {workers}  run {}: {:>8.3} s",
            run + 1,
            elapsed.as_secs_f64()
        );
        times.push(elapsed);
        answer = result;
    }
    Ok((
        Measured {
            name,
            workers,
            runs: times,
        },
        answer,
    ))
}

/// Fails unless `got` equals `expected` (both sorted).
fn check(
    name: &str,
    workers: usize,
    expected: &[DailyTotal],
    got: &[DailyTotal],
) -> Result<(), String> {
    if expected == got {
        return Ok(());
    }
    let first_difference = expected
        .iter()
        .zip(got)
        .position(|(a, b)| a != b)
        .unwrap_or(expected.len().min(got.len()));
    Err(format!(
        "{name} ({workers} workers) disagrees with the single-threaded loop: {} rows vs {} expected; \
         first difference at row {first_difference}: {:?} vs expected {:?}",
        got.len(),
        expected.len(),
        got.get(first_difference),
        expected.get(first_difference),
    ))
}

fn run(args: &Args) -> Result<(), String> {
    if args.products == 0 || args.days == 0 || args.workers == 0 {
        return Err("--products, --days and --workers must be at least 1".into());
    }
    let runs = args
        .runs
        .unwrap_or(if args.rows > 20_000_000 { 1 } else { 3 })
        .max(1);
    eprintln!(
        "generating {} sales over {} products x {} days ...",
        args.rows, args.products, args.days
    );
    let input = generate(args.rows, args.products, args.days, args.seed);

    let mut results: Vec<Measured> = Vec::new();
    let (measured, expected) =
        measure("loop", 1, runs, &input, None, |rows| Ok(single_loop(rows)))?;
    results.push(measured);

    let mut worker_counts = vec![1];
    if args.workers != 1 {
        worker_counts.push(args.workers);
    }
    for &w in &worker_counts {
        let exp = Some(expected.as_slice());
        let selected = |i: Implementation| args.only.is_none_or(|only| only == i);
        if selected(Implementation::Generated) {
            let (m, _) = measure("generated", w, runs, &input, exp, |rows| generated(rows, w))?;
            results.push(m);
        }
        if selected(Implementation::Differential) {
            let (m, _) = measure("differential", w, runs, &input, exp, |rows| {
                differential(rows, w, DifferentialForm::CountTotal, args.feed_chunk)
            })?;
            results.push(m);
        }
        if selected(Implementation::Timely) {
            let (m, _) = measure("timely", w, runs, &input, exp, |rows| {
                timely_operator(rows, w, args.feed_chunk)
            })?;
            results.push(m);
        }
        if args.differential_variants {
            let (m, _) = measure("differential (count)", w, 1, &input, exp, |rows| {
                differential(rows, w, DifferentialForm::Count, args.feed_chunk)
            })?;
            results.push(m);
            let (m, _) = measure("differential (reduce)", w, 1, &input, exp, |rows| {
                differential(rows, w, DifferentialForm::Reduce, args.feed_chunk)
            })?;
            results.push(m);
        }
    }

    print_table(args, runs, expected.len(), &results);
    Ok(())
}

fn print_table(args: &Args, runs: usize, keys: usize, results: &[Measured]) {
    let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "unknown".into());
    println!();
    println!(
        "Machine: nproc = {nproc}; 1-minute load average at the end = {load}; rows = {}; \
         keys (product, day) = {keys} ({} products x {} days); best of {runs} run(s) each",
        args.rows, args.products, args.days
    );
    println!();
    println!(
        "| implementation | workers | seconds (best) | runs (s) | rows/s (M/s) | generated ÷ this |"
    );
    println!("|---|---:|---:|---|---:|---:|");
    for m in results {
        let best = m.best().as_secs_f64();
        let rate = args.rows as f64 / best / 1e6;
        // Speed of the generated pipeline with the same number of workers (the loop: with one worker)
        // divided by the speed of this implementation.
        let generated = results
            .iter()
            .find(|g| g.name == "generated" && g.workers == m.workers)
            .map(|g| best / g.best().as_secs_f64());
        let runs: Vec<String> = m
            .runs
            .iter()
            .map(|d| format!("{:.3}", d.as_secs_f64()))
            .collect();
        println!(
            "| {} | {} | {best:.3} | {} | {rate:.2} | {} |",
            m.name,
            m.workers,
            runs.join(", "),
            generated.map_or("-".to_string(), |r| format!("{r:.2}×")),
        );
    }
    println!();
    println!(
        "\"generated ÷ this\" is the generated pipeline's rows/s divided by this implementation's, \
         at the same number of workers: above 1 means the generated pipeline is faster."
    );
}

fn main() -> ExitCode {
    let args = Args::parse();
    common::exit::exit(run(&args))
}
