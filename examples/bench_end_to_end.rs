//! End to end: the daily-sales job from a CSV file to a JSON Lines file, as a user runs it, against
//! a naive single-threaded Rust program and DuckDB and Polars; and replay from the event log on disk
//! against the in-memory batch run of the same pipeline.
//!
//! ```text
//! cargo build --release --example daily_sales --example bench_end_to_end
//! target/release/examples/bench_end_to_end [--rows 2000000,10000000] [--runs 3] [--workers 1,2]
//!     [--products 1000] [--days 365] [--dir target/bench-end-to-end] [--no-peers] [--replay-rows N]
//! ```
//!
//! Every implementation runs as its own process, timed from its start to its exit (wall clock), with
//! its peak resident memory from `/usr/bin/time` when that is installed:
//!
//! - **ours**: `daily_sales --input sales.csv --output out.jsonl --workers W --quiet`, the example's
//!   command line, with 1 and 2 workers;
//! - **naive**: this executable as a plain single-threaded Rust program: the `csv` crate with serde,
//!   a `HashMap` keyed by `(product, date)`, the output sorted and written with `serde_json` through a
//!   `BufWriter`;
//! - **DuckDB** (`read_csv` + `GROUP BY` + `COPY TO` JSON, `SET threads` to 1 and to 2) and **Polars**
//!   (`scan_csv`, `group_by`, `sink_ndjson`), when `scripts/install-peers.sh` has installed them.
//!
//! Before any figure is printed, every output file is read back and checked equal, row for row, to a
//! reference computed in this process from the generated rows. The median of `--runs` runs counts.
//!
//! Replay: the same rows are appended to an event log on disk (not timed), then, in this process and
//! in the same run, the batch run of the rows in memory (`Runner::batch`) is timed against reading the
//! log back into the pipeline: as one step built from parts (`Running::insert`: read, CRC, decode,
//! push) and as `kappa::replay` in steps of `--replay-step` records (each step's changes consolidated).
//! The outputs must equal the batch output.

use chrono::NaiveDate;
use clap::Parser;
use dataflow_core::Runner;
use dataflow_core::decimal::Decimal;
use dataflow_core::kappa::{self, EventLog, FsyncPolicy, LogOptions};
use dataflow_core::log::{Log as _, Tail as _};
use dataflow_examples::{DailySales, DailyTotal, Sale};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

use common::timed::{self, median, run_timed};
#[path = "common/mod.rs"]
mod common;
use common::sales::generate;

/// Command line.
#[derive(Parser, Debug)]
#[command(about = "The daily-sales job file to file against a naive program, DuckDB and Polars")]
struct Args {
    /// Input sizes, rows, comma separated.
    #[arg(long, value_delimiter = ',', default_value = "2000000,10000000")]
    rows: Vec<usize>,
    /// Runs per measurement; the median counts.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Worker counts of ours, comma separated.
    #[arg(long, value_delimiter = ',', default_value = "1,2")]
    workers: Vec<usize>,
    /// Distinct products.
    #[arg(long, default_value_t = 1000)]
    products: usize,
    /// Distinct days.
    #[arg(long, default_value_t = 365)]
    days: usize,
    /// Seed of the generator.
    #[arg(long, default_value_t = 0x5eed)]
    seed: u64,
    /// Where the input, output and log files go.
    #[arg(long, default_value = "target/bench-end-to-end")]
    dir: PathBuf,
    /// Skip DuckDB and Polars even when installed.
    #[arg(long)]
    no_peers: bool,
    /// Rows of the replay measurement (0 skips it).
    #[arg(long, default_value_t = 2_000_000)]
    replay_rows: usize,
    /// Records per step of the stepped replay.
    #[arg(long, default_value_t = 100_000)]
    replay_step: usize,
    /// Internal: run the naive program on INPUT and OUTPUT.
    #[arg(long, hide = true, num_args = 2)]
    naive: Option<Vec<PathBuf>>,
}

/// Writes `rows` as CSV with a header.
fn write_csv(path: &Path, rows: &[Sale]) -> Result<(), String> {
    let file = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let mut line = String::new();
    writeln!(out, "product,quantity,price,date").map_err(|e| e.to_string())?;
    for s in rows {
        line.clear();
        let _ = writeln!(line, "{},{},{},{}", s.product, s.quantity, s.price, s.date);
        out.write_all(line.as_bytes()).map_err(|e| e.to_string())?;
    }
    out.flush().map_err(|e| e.to_string())
}

/// Revenue and count per (product, day), sorted: the reference every output is checked against.
fn reference(rows: &[Sale]) -> Vec<DailyTotal> {
    let mut totals: HashMap<(&str, NaiveDate), (Decimal, u64)> = HashMap::new();
    for s in rows {
        let total = totals
            .entry((s.product.as_str(), s.date))
            .or_insert((Decimal::ZERO, 0));
        total.0 += Decimal::from(s.quantity) * s.price;
        total.1 += 1;
    }
    let mut out: Vec<DailyTotal> = totals
        .into_iter()
        .map(
            |((product, date), (total_revenue, transaction_count))| DailyTotal {
                product: product.to_string(),
                date,
                total_revenue,
                transaction_count,
            },
        )
        .collect();
    out.sort();
    out
}

/// The naive single-threaded program: csv + serde, a `HashMap`, sorted output through a `BufWriter`.
fn naive(input: &Path, output: &Path) -> Result<(), String> {
    let mut reader = csv::Reader::from_path(input).map_err(|e| e.to_string())?;
    let mut totals: HashMap<(String, NaiveDate), (Decimal, u64)> = HashMap::new();
    for sale in reader.deserialize::<Sale>() {
        let sale = sale.map_err(|e| e.to_string())?;
        let total = totals
            .entry((sale.product, sale.date))
            .or_insert((Decimal::ZERO, 0));
        total.0 += Decimal::from(sale.quantity) * sale.price;
        total.1 += 1;
    }
    let mut rows: Vec<DailyTotal> = totals
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
    rows.sort();
    let file = std::fs::File::create(output).map_err(|e| e.to_string())?;
    let mut out = BufWriter::new(file);
    for row in &rows {
        serde_json::to_writer(&mut out, row).map_err(|e| e.to_string())?;
        out.write_all(b"\n").map_err(|e| e.to_string())?;
    }
    out.flush().map_err(|e| e.to_string())
}

/// Reads a JSON Lines output back as daily totals, sorted.
fn read_output(path: &Path) -> Result<Vec<DailyTotal>, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut rows = Vec::new();
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| e.to_string())?;
        if line.trim().is_empty() {
            continue;
        }
        let row: DailyTotal = serde_json::from_str(&line)
            .map_err(|e| format!("{} line {}: {e}: {line}", path.display(), i + 1))?;
        rows.push(row);
    }
    rows.sort();
    Ok(rows)
}

/// The Python side of a peer: `ENGINE THREADS INPUT OUTPUT`.
const PEER_SCRIPT: &str = r#"
import sys
engine, threads, src, dst = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
if engine == "duckdb":
    import duckdb
    con = duckdb.connect()
    con.execute(f"SET threads TO {threads}")
    con.execute(f"""COPY (SELECT product, date, SUM(quantity * price) AS total_revenue,
        COUNT(*) AS transaction_count
        FROM read_csv('{src}', header=true, columns={{'product':'VARCHAR','quantity':'BIGINT','price':'DECIMAL(18,2)','date':'DATE'}})
        GROUP BY product, date) TO '{dst}' (FORMAT JSON)""")
else:
    import os
    os.environ["POLARS_MAX_THREADS"] = str(threads)
    import polars as pl
    (pl.scan_csv(src, schema={"product": pl.Utf8, "quantity": pl.Int64, "price": pl.Decimal(18, 2), "date": pl.Date})
       .group_by(["product", "date"])
       .agg((pl.col("quantity") * pl.col("price")).sum().alias("total_revenue"),
            pl.len().cast(pl.UInt64).alias("transaction_count"))
       .sink_ndjson(dst))
"#;

/// One implementation of the job.
struct Implementation {
    name: String,
    program: PathBuf,
    args: Vec<String>,
    /// Threads it may use (for the ratio against DuckDB with as many).
    threads: usize,
}

/// The measured row of one implementation on one input.
struct Row {
    rows: usize,
    name: String,
    threads: usize,
    seconds: f64,
    cpu: Option<f64>,
    peak_mib: Option<f64>,
}

/// Whether `python3` can import `module`.
fn has_python_module(module: &str) -> bool {
    Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn file_to_file(args: &Args, rows: usize, out: &mut Vec<Row>) -> Result<(), String> {
    let input = args.dir.join(format!(
        "sales-{rows}-{}x{}-{}.csv",
        args.products, args.days, args.seed
    ));
    let sales = generate(rows, args.products, args.days, args.seed);
    if !input.exists() {
        eprintln!("writing {} ...", input.display());
        write_csv(&input, &sales)?;
    }
    let expected = reference(&sales);
    drop(sales);
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let daily_sales = exe.with_file_name("daily_sales");
    if !daily_sales.exists() {
        return Err(format!(
            "{} is missing: cargo build --release --example daily_sales",
            daily_sales.display()
        ));
    }
    let output = args.dir.join("out.jsonl");
    let stats = args.dir.join("time.txt");
    let path = |p: &Path| p.display().to_string();
    let mut implementations = Vec::new();
    for &w in &args.workers {
        implementations.push(Implementation {
            name: format!("ours, {w} worker{}", if w == 1 { "" } else { "s" }),
            program: daily_sales.clone(),
            args: vec![
                "--input".into(),
                path(&input),
                "--output".into(),
                path(&output),
                "--workers".into(),
                w.to_string(),
                "--quiet".into(),
            ],
            threads: w,
        });
    }
    implementations.push(Implementation {
        name: "naive Rust (csv + HashMap + BufWriter)".into(),
        program: exe.clone(),
        args: vec!["--naive".into(), path(&input), path(&output)],
        threads: 1,
    });
    if !args.no_peers {
        for (engine, module) in [("duckdb", "duckdb"), ("polars", "polars")] {
            if !has_python_module(module) {
                eprintln!("  {engine}: skipped, not installed (scripts/install-peers.sh)");
                continue;
            }
            for threads in [1, 2] {
                implementations.push(Implementation {
                    name: format!(
                        "{engine}, {threads} thread{}",
                        if threads == 1 { "" } else { "s" }
                    ),
                    program: PathBuf::from("python3"),
                    args: vec![
                        "-c".into(),
                        PEER_SCRIPT.into(),
                        engine.into(),
                        threads.to_string(),
                        path(&input),
                        path(&output),
                    ],
                    threads,
                });
            }
        }
    }
    for implementation in implementations {
        let mut seconds = Vec::new();
        let mut cpus = Vec::new();
        let mut peaks = Vec::new();
        for _ in 0..args.runs.max(1) {
            let _ = std::fs::remove_file(&output);
            let program = if implementation.program.is_absolute() {
                implementation.program.clone()
            } else {
                which(&implementation.program)?
            };
            let timed = run_timed(&program, &implementation.args, &stats)?;
            let got = read_output(&output)?;
            if got != expected {
                let first = got
                    .iter()
                    .zip(&expected)
                    .position(|(a, b)| a != b)
                    .unwrap_or(got.len().min(expected.len()));
                return Err(format!(
                    "{} on {rows} rows: its output differs from the reference ({} rows, {} expected; \
                     first difference at row {first}: {:?} vs {:?})",
                    implementation.name,
                    got.len(),
                    expected.len(),
                    got.get(first),
                    expected.get(first)
                ));
            }
            seconds.push(timed.seconds);
            cpus.extend(timed.cpu);
            peaks.extend(timed.peak_mib);
        }
        let row = Row {
            rows,
            name: implementation.name,
            threads: implementation.threads,
            seconds: median(seconds),
            cpu: (!cpus.is_empty()).then(|| median(cpus)),
            peak_mib: (!peaks.is_empty()).then(|| median(peaks)),
        };
        eprintln!(
            "  {} rows, {}: {:.3} s, CPU {}, peak {}",
            rows,
            row.name,
            row.seconds,
            row.cpu.map_or("?".into(), |c| format!("{c:.3} s")),
            row.peak_mib.map_or("?".into(), |p| format!("{p:.0} MiB"))
        );
        out.push(row);
    }
    eprintln!(
        "  {} groups, every output equal to the reference",
        expected.len()
    );
    Ok(())
}

/// The full path of a program on `PATH`.
fn which(program: &Path) -> Result<PathBuf, String> {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
        .ok_or_else(|| format!("{} is not on PATH", program.display()))
}

/// The replay measurement: batch in memory, against the log read back as one step and in steps.
struct Replays {
    batch: f64,
    one_step: f64,
    stepped: f64,
}

fn replays(args: &Args) -> Result<Replays, String> {
    let rows = generate(args.replay_rows, args.products, args.days, args.seed);
    let dir = args
        .dir
        .join(format!("log-{}-{}", args.replay_rows, args.seed));
    let _ = std::fs::remove_dir_all(&dir);
    let log = EventLog::open(&dir, LogOptions::default().fsync(FsyncPolicy::Never))
        .map_err(|e| e.to_string())?;
    for chunk in rows.chunks(1 << 16) {
        let records: Vec<(u64, Sale)> = chunk.iter().map(|s| (0, s.clone())).collect();
        dataflow_core::log::Log::append(&log, &records).map_err(|e| e.to_string())?;
    }
    log.sync().map_err(|e| e.to_string())?;
    let err = |e: dataflow_core::Error| e.to_string();
    let mut batch = Vec::new();
    let mut one_step = Vec::new();
    let mut stepped = Vec::new();
    let mut expected = None;
    for _ in 0..args.runs.max(1) {
        let copy = rows.clone();
        let started = Instant::now();
        let output = Runner::<DailySales>::new().batch(copy).map_err(err)?;
        batch.push(started.elapsed().as_secs_f64());
        let expected = expected.get_or_insert(output.records);

        let started = Instant::now();
        let mut running = Runner::<DailySales>::new().start().map_err(err)?;
        let mut tail = log.tail::<Sale>(0).map_err(err)?;
        loop {
            let mut part = Vec::with_capacity(1 << 16);
            if tail.read(1 << 16, &mut part).map_err(err)? == 0 {
                break;
            }
            running.insert((part,)).map_err(err)?;
        }
        running.complete().map_err(err)?;
        let output = running.finish().map_err(err)?;
        one_step.push(started.elapsed().as_secs_f64());
        if output.records != *expected {
            return Err("the log read back as one step differs from the batch output".into());
        }

        let started = Instant::now();
        let replayed =
            kappa::replay::<DailySales, Sale>(&Runner::new(), &log, 0, args.replay_step, None)
                .map_err(err)?;
        stepped.push(started.elapsed().as_secs_f64());
        if replayed.output.records != *expected {
            return Err("the stepped replay differs from the batch output".into());
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(Replays {
        batch: median(batch),
        one_step: median(one_step),
        stepped: median(stepped),
    })
}

fn run(args: &Args) -> Result<(), String> {
    std::fs::create_dir_all(&args.dir).map_err(|e| format!("{}: {e}", args.dir.display()))?;
    let mut rows = Vec::new();
    for &n in &args.rows {
        file_to_file(args, n, &mut rows)?;
    }
    let replay = if args.replay_rows > 0 {
        Some(replays(args)?)
    } else {
        None
    };
    println!(
        "daily_sales, CSV file → JSON Lines file, {} products × {} days, median of {} runs, \
         wall clock and CPU time (user + system) per process; {}",
        args.products,
        args.days,
        args.runs,
        timed::machine()
    );
    println!();
    println!(
        "| rows | implementation | seconds | M rows/s | CPU s | peak MiB | this ÷ DuckDB (same threads) | naive ÷ this |"
    );
    println!("|---:|---|---:|---:|---:|---:|---:|---:|");
    for row in &rows {
        let duck = rows.iter().find(|r| {
            r.rows == row.rows && r.name.starts_with("duckdb") && r.threads == row.threads
        });
        let naive = rows
            .iter()
            .find(|r| r.rows == row.rows && r.name.starts_with("naive"));
        println!(
            "| {} | {} | {:.3} | {:.2} | {} | {} | {} | {} |",
            row.rows,
            row.name,
            row.seconds,
            row.rows as f64 / row.seconds / 1e6,
            row.cpu.map_or("?".into(), |c| format!("{c:.2}")),
            row.peak_mib.map_or("?".into(), |p| format!("{p:.0}")),
            duck.map_or("-".into(), |d| format!("{:.2}×", row.seconds / d.seconds)),
            naive.map_or("-".into(), |n| format!("{:.2}×", n.seconds / row.seconds)),
        );
    }
    if let (Some(&small), Some(&large)) = (args.rows.first(), args.rows.last())
        && small != large
    {
        println!();
        for &w in &args.workers {
            let peak = |n: usize| {
                rows.iter()
                    .find(|r| r.rows == n && r.name.starts_with("ours") && r.threads == w)
                    .and_then(|r| r.peak_mib)
            };
            if let (Some(a), Some(b)) = (peak(small), peak(large)) {
                println!(
                    "ours, {w} worker(s): peak memory {large} rows ÷ {small} rows = {:.2} ({b:.0} ÷ {a:.0} MiB)",
                    b / a
                );
            }
        }
    }
    if let Some(r) = replay {
        println!();
        println!(
            "replay of {} rows from the event log on disk (warm page cache), 1 worker, same process, median of {} runs:",
            args.replay_rows, args.runs
        );
        println!();
        println!("| run | seconds | ÷ batch |");
        println!("|---|---:|---:|");
        println!(
            "| batch, rows in memory (`Runner::batch`) | {:.3} | 1.00 |",
            r.batch
        );
        println!(
            "| log read back as one step (read, CRC, decode, `Running::insert`) | {:.3} | {:.2} |",
            r.one_step,
            r.one_step / r.batch
        );
        println!(
            "| `kappa::replay`, steps of {} records | {:.3} | {:.2} |",
            args.replay_step,
            r.stepped,
            r.stepped / r.batch
        );
    }
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    let result = match &args.naive {
        Some(paths) => naive(&paths[0], &paths[1]),
        None => run(&args),
    };
    common::exit::exit(result)
}
