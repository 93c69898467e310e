//! Batch against stream: every example pipeline's command line run over the same generated input as
//! one bounded batch (`--mode batch`) and as a stream of steps (`--mode stream`, the default step size
//! unless `--step-size` says otherwise), each as its own process; then every Nexmark query in this
//! process, `Runner::batch` of the generated events against the same events pushed in steps of
//! 10,000 (`Running::push`), both to the consolidated output in hand.
//!
//! ```text
//! cargo build --release --examples
//! target/release/examples/bench_modes [--rows 1000000] [--runs 3] [--step-size 1000]
//!     [--pipelines daily_sales,large_sales,windowed_sales,fraud_detection,word_count,country_revenue]
//!     [--nexmark-events 2000000] [--queries q0,q1,...] [--dir target/bench-modes]
//! ```
//!
//! Event-time inputs are out of order by at most 20 s and the stream runs with `--max-delay 20s`, the
//! bound under which a stream's answer equals the batch's. Before any figure is printed, each stream
//! output is checked equal, as a set of lines, to its batch output, and the batch output is checked
//! not empty. The median of `--runs` runs counts; wall clock per process, CPU time (user + system) and
//! peak resident memory from `/usr/bin/time` when installed.

use clap::Parser;
use dataflow_core::{Pipeline, Runner};
use dataflow_examples::nexmark::{self, Event, GeneratorConfig};
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

#[path = "common/mod.rs"]
mod common;
use common::rng::SplitMix64;
use common::timed::{self, Timed, median, run_timed};

/// Every example pipeline this benchmark knows how to feed.
const PIPELINES: &[&str] = &[
    "daily_sales",
    "large_sales",
    "windowed_sales",
    "fraud_detection",
    "word_count",
    "country_revenue",
];

/// How far out of order the generated event times are, ms (and the stream's `--max-delay`).
const DISORDER_MS: u64 = 20_000;

/// Command line.
#[derive(Parser, Debug)]
#[command(about = "Every example pipeline in batch mode against stream mode, on the same input")]
struct Args {
    /// Input records per pipeline (lines for word_count, orders for country_revenue).
    #[arg(long, default_value_t = 1_000_000)]
    rows: usize,
    /// Runs per measurement; the median counts.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Records per step of the stream runs (the command line's default when omitted).
    #[arg(long)]
    step_size: Option<usize>,
    /// Pipelines to measure, comma separated.
    #[arg(long, value_delimiter = ',', default_values_t = PIPELINES.iter().map(|p| p.to_string()))]
    pipelines: Vec<String>,
    /// Nexmark events for the in-process comparison (0 skips it).
    #[arg(long, default_value_t = 2_000_000)]
    nexmark_events: u64,
    /// Nexmark queries, comma separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "q0,q1,q2,q3,q4,q5,q6,q7,q8,q12"
    )]
    queries: Vec<String>,
    /// Nexmark runs to time: `both` (and compare their outputs), or `batch` or `stream` alone (to
    /// profile one).
    #[arg(long, default_value = "both", value_parser = ["both", "batch", "stream"])]
    nexmark_mode: String,
    /// Where the inputs and outputs go.
    #[arg(long, default_value = "target/bench-modes")]
    dir: PathBuf,
    /// Seed of the generator.
    #[arg(long, default_value_t = 0x5eed)]
    seed: u64,
}

/// Writes a generated file line by line (`header` first), unless it is already there.
fn write_file(
    path: &Path,
    header: Option<&str>,
    rows: usize,
    mut line: impl FnMut(usize, &mut String),
) -> Result<(), String> {
    if path.exists() {
        return Ok(());
    }
    let partial = path.with_extension("partial");
    let file =
        std::fs::File::create(&partial).map_err(|e| format!("{}: {e}", partial.display()))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let mut text = String::new();
    if let Some(header) = header {
        writeln!(out, "{header}").map_err(|e| e.to_string())?;
    }
    for i in 0..rows {
        text.clear();
        line(i, &mut text);
        text.push('\n');
        out.write_all(text.as_bytes()).map_err(|e| e.to_string())?;
    }
    out.flush().map_err(|e| e.to_string())?;
    drop(out);
    std::fs::rename(&partial, path).map_err(|e| format!("{}: {e}", path.display()))
}

/// Event time of record `i` of `rows` spread over 30 days from 2024-01-01, out of order by at most
/// [`DISORDER_MS`].
fn event_time(i: usize, rows: usize, rng: &mut SplitMix64) -> u64 {
    const START: u64 = 1_704_067_200_000;
    const SPAN: u64 = 30 * 86_400_000;
    let base = START + DISORDER_MS + (i as u64) * SPAN / rows.max(1) as u64;
    base + rng.below(DISORDER_MS as usize + 1) as u64 - DISORDER_MS / 2
}

/// One price of a small list, as text with two decimals.
fn price(rng: &mut SplitMix64) -> &'static str {
    [
        "0.99", "1.50", "4.99", "9.99", "12.50", "29.99", "49.99", "199.99",
    ][rng.below(8)]
}

/// One pipeline's command: its input flags (files generated on first use) and extra flags.
struct Job {
    inputs: Vec<String>,
    extra: Vec<String>,
    /// Extra flags of the stream run only.
    stream_extra: Vec<String>,
}

fn job(args: &Args, pipeline: &str) -> Result<Job, String> {
    let rows = args.rows;
    let mut rng = SplitMix64(args.seed);
    let file = |name: &str| args.dir.join(format!("{name}-{rows}-{}", args.seed));
    let max_delay = vec!["--max-delay".to_string(), format!("{}ms", DISORDER_MS)];
    let job = match pipeline {
        "daily_sales" | "large_sales" => {
            let path = file("sales").with_extension("csv");
            write_file(&path, Some("product,quantity,price,date"), rows, |_, l| {
                let day = 1 + rng.below(28);
                let month = 1 + rng.below(12);
                let _ = write!(
                    l,
                    "product-{:04},{},{},2024-{month:02}-{day:02}",
                    rng.below(1000),
                    1 + rng.below(5),
                    price(&mut rng)
                );
            })?;
            let extra = if pipeline == "large_sales" {
                vec!["--param".into(), "min_revenue=10".into()]
            } else {
                Vec::new()
            };
            Job {
                inputs: vec!["--input".into(), path.display().to_string()],
                extra,
                stream_extra: Vec::new(),
            }
        }
        "windowed_sales" => {
            let path = file("timed-sales").with_extension("csv");
            write_file(&path, Some("product,quantity,price,ts"), rows, |i, l| {
                let ts = event_time(i, rows, &mut rng);
                let _ = write!(
                    l,
                    "product-{:03},{},{},{ts}",
                    rng.below(100),
                    1 + rng.below(5),
                    price(&mut rng)
                );
            })?;
            Job {
                inputs: vec!["--input".into(), path.display().to_string()],
                extra: Vec::new(),
                stream_extra: max_delay,
            }
        }
        "fraud_detection" => {
            let path = file("transactions").with_extension("csv");
            write_file(&path, Some("user_id,amount,ts"), rows, |i, l| {
                let ts = event_time(i, rows, &mut rng);
                let cents = if rng.below(200) == 0 {
                    100_000 + rng.below(100_000)
                } else {
                    100 + rng.below(9_900)
                };
                let _ = write!(
                    l,
                    "u{},{}.{:02},{ts}",
                    rng.below(10_000),
                    cents / 100,
                    cents % 100
                );
            })?;
            Job {
                inputs: vec!["--input".into(), path.display().to_string()],
                extra: Vec::new(),
                stream_extra: max_delay,
            }
        }
        "word_count" => {
            let path = file("lines").with_extension("jsonl");
            write_file(&path, None, rows, |_, l| {
                l.push_str("{\"text\":\"");
                for w in 0..8 {
                    if w > 0 {
                        l.push(' ');
                    }
                    // Roughly Zipf: small word numbers are much more frequent.
                    let bound = 1 + rng.below(20_000);
                    let word = rng.below(bound);
                    let _ = write!(l, "Word{word}");
                }
                l.push_str(".\"}");
            })?;
            Job {
                inputs: vec!["--input".into(), path.display().to_string()],
                extra: Vec::new(),
                stream_extra: Vec::new(),
            }
        }
        "country_revenue" => {
            let customers = (rows / 10).max(1);
            let orders_path = file("orders").with_extension("csv");
            let customers_path = file("customers").with_extension("csv");
            write_file(
                &customers_path,
                Some("customer_id,country"),
                customers,
                |i, l| {
                    let country = rng.below(60);
                    let _ = write!(l, "{i},C{country:02}");
                },
            )?;
            write_file(
                &orders_path,
                Some("order_id,customer_id,amount"),
                rows,
                |i, l| {
                    let _ = write!(l, "{i},{},{}", rng.below(customers), price(&mut rng));
                },
            )?;
            Job {
                inputs: vec![
                    "--input".into(),
                    format!("orders={}", orders_path.display()),
                    "--input".into(),
                    format!("customers={}", customers_path.display()),
                ],
                extra: Vec::new(),
                stream_extra: Vec::new(),
            }
        }
        other => {
            return Err(format!(
                "unknown pipeline `{other}`; known: {}",
                PIPELINES.join(", ")
            ));
        }
    };
    Ok(job)
}

/// The lines of an output file, as a set (the order of an insert-only batch output is not fixed).
fn lines(path: &Path) -> Result<BTreeSet<String>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(text.lines().map(str::to_string).collect())
}

/// The medians of one mode's runs.
struct Measured {
    seconds: f64,
    cpu: Option<f64>,
    peak_mib: Option<f64>,
}

fn measure(runs: Vec<Timed>) -> Measured {
    let some = |values: Vec<Option<f64>>| values.into_iter().collect::<Option<Vec<f64>>>();
    Measured {
        seconds: median(runs.iter().map(|r| r.seconds).collect()),
        cpu: some(runs.iter().map(|r| r.cpu).collect()).map(median),
        peak_mib: some(runs.iter().map(|r| r.peak_mib).collect()).map(median),
    }
}

/// One pipeline's row of the table.
struct Row {
    pipeline: String,
    outputs: usize,
    batch: Measured,
    stream: Measured,
}

fn pipeline_row(args: &Args, pipeline: &str) -> Result<Row, String> {
    let program = std::env::current_exe()
        .map_err(|e| e.to_string())?
        .with_file_name(pipeline);
    if !program.exists() {
        return Err(format!(
            "{} is missing: build it first (`cargo build --release --examples`)",
            program.display()
        ));
    }
    let job = job(args, pipeline)?;
    let stats = args.dir.join(format!("{pipeline}.time"));
    let mut outputs = Vec::new();
    let mut timings = Vec::new();
    for mode in ["batch", "stream"] {
        let output = args.dir.join(format!("{pipeline}-{mode}.jsonl"));
        let mut flags = job.inputs.clone();
        flags.extend(job.extra.iter().cloned());
        flags.extend(["--mode".into(), mode.into(), "--quiet".into()]);
        flags.extend(["--output".into(), output.display().to_string()]);
        if mode == "stream" {
            flags.extend(job.stream_extra.iter().cloned());
            if let Some(n) = args.step_size {
                flags.extend(["--step-size".into(), n.to_string()]);
            }
        }
        let mut runs = Vec::new();
        for _ in 0..args.runs.max(1) {
            runs.push(run_timed(&program, &flags, &stats)?);
        }
        timings.push(measure(runs));
        outputs.push(lines(&output)?);
        let _ = std::fs::remove_file(&output);
    }
    if outputs[0].is_empty() {
        return Err(format!("{pipeline}: the batch output is empty"));
    }
    if outputs[0] != outputs[1] {
        let only_batch = outputs[0].difference(&outputs[1]).count();
        let only_stream = outputs[1].difference(&outputs[0]).count();
        return Err(format!(
            "{pipeline}: the stream output differs from the batch output \
             ({only_batch} lines only in batch, {only_stream} only in stream)"
        ));
    }
    let stream = timings.pop().expect("two modes");
    let batch = timings.pop().expect("two modes");
    Ok(Row {
        pipeline: pipeline.to_string(),
        outputs: outputs[0].len(),
        batch,
        stream,
    })
}

/// Nexmark events per stream step.
const NEXMARK_STEP: usize = 10_000;

/// One Nexmark query in this process, one worker: the best of `runs` batch runs and of `runs` stream
/// runs (steps of [`NEXMARK_STEP`] events), seconds; the outputs must be equal.
fn nexmark_query<P: Pipeline<Inputs = (Event,)>>(
    events: &[Event],
    runs: usize,
    mode: &str,
) -> Result<(f64, f64, usize), String> {
    let err = |e: dataflow_core::Error| e.to_string();
    let (mut batch_best, mut stream_best) = (f64::NAN, f64::NAN);
    let mut outputs = 0;
    for _ in 0..runs.max(1) {
        let mut batch = None;
        if mode != "stream" {
            let input = events.to_vec();
            let started = Instant::now();
            batch = Some(Runner::<P>::new().batch(input).map_err(err)?);
            batch_best = batch_best.min(started.elapsed().as_secs_f64());
        }
        let mut streamed = None;
        if mode != "batch" {
            let steps: Vec<Vec<Event>> =
                events.chunks(NEXMARK_STEP).map(<[Event]>::to_vec).collect();
            let started = Instant::now();
            let mut running = Runner::<P>::new().start().map_err(err)?;
            for step in steps {
                running.push(step).map_err(err)?;
            }
            streamed = Some(running.finish().map_err(err)?);
            stream_best = stream_best.min(started.elapsed().as_secs_f64());
        }
        if let (Some(mut batch), Some(mut streamed)) = (batch, streamed) {
            batch.sort();
            streamed.sort();
            if batch.records != streamed.records {
                return Err(format!(
                    "{}: the stream output differs from the batch output",
                    P::NAME
                ));
            }
            outputs = batch.records.len();
        }
    }
    Ok((batch_best, stream_best, outputs))
}

/// Every Nexmark query asked for, batch against stream, as a table.
fn nexmark_table(args: &Args) -> Result<(), String> {
    let config = GeneratorConfig {
        events: args.nexmark_events,
        ..GeneratorConfig::default()
    };
    let events = nexmark::generate(&config);
    let mut rows = Vec::new();
    for query in &args.queries {
        eprintln!("nexmark {query} ...");
        let (batch, stream, outputs) = match query.as_str() {
            "q0" => nexmark_query::<nexmark::Q0>(&events, args.runs, &args.nexmark_mode),
            "q1" => nexmark_query::<nexmark::Q1>(&events, args.runs, &args.nexmark_mode),
            "q2" => nexmark_query::<nexmark::Q2>(&events, args.runs, &args.nexmark_mode),
            "q3" => nexmark_query::<nexmark::Q3>(&events, args.runs, &args.nexmark_mode),
            "q4" => nexmark_query::<nexmark::Q4>(&events, args.runs, &args.nexmark_mode),
            "q5" => nexmark_query::<nexmark::Q5>(&events, args.runs, &args.nexmark_mode),
            "q6" => nexmark_query::<nexmark::Q6>(&events, args.runs, &args.nexmark_mode),
            "q7" => nexmark_query::<nexmark::Q7>(&events, args.runs, &args.nexmark_mode),
            "q8" => nexmark_query::<nexmark::Q8>(&events, args.runs, &args.nexmark_mode),
            "q12" => nexmark_query::<nexmark::Q12>(&events, args.runs, &args.nexmark_mode),
            other => Err(format!("unknown query {other}: use q0-q8 or q12")),
        }?;
        rows.push((query.clone(), outputs, batch, stream));
    }
    println!();
    println!(
        "Nexmark, {} events in memory, 1 worker, in this process: `Runner::batch` against `Running::push` \
         in steps of {NEXMARK_STEP} events, both to the consolidated output in hand; best of {} runs; \
         outputs checked equal",
        args.nexmark_events, args.runs
    );
    println!();
    println!("| query | outputs | batch s | stream s | stream ÷ batch |");
    println!("|---|---:|---:|---:|---:|");
    for (query, outputs, batch, stream) in &rows {
        println!(
            "| {query} | {outputs} | {batch:.3} | {stream:.3} | {:.2} |",
            stream / batch
        );
    }
    let slower: Vec<&str> = rows
        .iter()
        .filter(|(_, _, batch, stream)| batch > stream)
        .map(|(query, ..)| query.as_str())
        .collect();
    println!();
    if slower.is_empty() {
        println!("batch is at least as fast as stream for every query measured");
    } else {
        println!("batch is slower than stream for: {}", slower.join(", "));
    }
    Ok(())
}

fn run(args: &Args) -> Result<(), String> {
    std::fs::create_dir_all(&args.dir).map_err(|e| format!("{}: {e}", args.dir.display()))?;
    let mut rows = Vec::new();
    for pipeline in args.pipelines.iter().filter(|p| !p.is_empty()) {
        eprintln!("{pipeline} ...");
        rows.push(pipeline_row(args, pipeline)?);
    }
    let cell = |v: Option<f64>, digits: usize| v.map_or("-".into(), |v| format!("{v:.digits$}"));
    let step = args
        .step_size
        .map_or("the default step size".to_string(), |n| {
            format!("steps of {n} records")
        });
    println!(
        "Batch against stream, every example's command line, {} input records, 1 worker, {step}, \
         median of {} runs; stream outputs checked equal to batch; {}",
        args.rows,
        args.runs,
        timed::machine()
    );
    println!();
    println!(
        "| pipeline | outputs | batch s | stream s | stream ÷ batch | batch CPU s | stream CPU s | batch peak MiB | stream peak MiB |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in &rows {
        println!(
            "| {} | {} | {:.3} | {:.3} | {:.2} | {} | {} | {} | {} |",
            r.pipeline,
            r.outputs,
            r.batch.seconds,
            r.stream.seconds,
            r.stream.seconds / r.batch.seconds,
            cell(r.batch.cpu, 2),
            cell(r.stream.cpu, 2),
            cell(r.batch.peak_mib, 0),
            cell(r.stream.peak_mib, 0),
        );
    }
    let slower: Vec<&str> = rows
        .iter()
        .filter(|r| r.batch.seconds > r.stream.seconds)
        .map(|r| r.pipeline.as_str())
        .collect();
    println!();
    if slower.is_empty() {
        println!("batch is at least as fast as stream for every pipeline measured");
    } else {
        println!("batch is slower than stream for: {}", slower.join(", "));
    }
    if args.nexmark_events > 0 && !args.queries.is_empty() {
        nexmark_table(args)?;
    }
    Ok(())
}

fn main() -> ExitCode {
    common::exit::exit(run(&Args::parse()))
}
