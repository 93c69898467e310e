//! One command line for every pipeline, so that an example's `main` is one line:
//!
//! ```no_run
//! # use dataflow_core::prelude::*;
//! # #[pipeline]
//! # fn word_count(words: Stream<String>) -> Stream<(String, u64)> { words.key(|w| w.clone()).count() }
//! fn main() -> std::process::ExitCode {
//!     dataflow_core::cli::main::<WordCount, _>()
//! }
//! ```
//!
//! ```text
//! USAGE: <example> --input PATH [--format csv|jsonl] [--mode batch|stream] [--step-size N] [--changes]
//!                  [-w N] [-n N -p I [-h HOSTFILE]] [--output PATH] [--dead-letter PATH] [--explain[=FORMAT]]
//! ```
//!
//! * `--mode batch` (default) reads the whole input, runs it as one batch and prints the result as JSON
//!   Lines. `--mode stream` reads the input record by record as an unbounded source, `--step-size`
//!   records per step, and at the end prints the same consolidated result; with `--changes` it prints
//!   every output change instead, as `{"record": .., "time": step, "diff": ±n}`.
//! * Malformed lines go to the dead-letter output (standard error unless `--dead-letter PATH`) with their
//!   line number and reason; the good lines are still processed, and a summary line on standard error
//!   gives the counts.
//! * `-w` worker threads, `-n` processes, `-p` this process's index and `-h` a host file are timely's own
//!   cluster flags; process 0 prints the results.
//! * Event-time pipelines take `--max-delay` (bounded out-of-orderness of the watermark),
//!   `--lateness`, `--window` and `--emit` (which replace those of every window stage); records too
//!   late for their window go to the late output (standard error unless `--late PATH`) and are counted.
//! * `--explain` prints the plan as text and as a Mermaid graph (`--explain=dot` for Graphviz,
//!   `--explain=json` for the serialized plan) and exits.

use crate::LateRecord;
use crate::Record;
use crate::error::Error;
use crate::pipeline::Pipeline;
use crate::runner::{Change, Cluster, Runner};
use crate::source::{DeadLetterSink, FileSource, Format, SourceStats};
use crate::window::{Emit, Window, WindowKind, WindowOverrides, parse_duration};
use clap::{ArgAction, Parser, ValueEnum};
use serde::Serialize;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;
use std::time::Instant;

/// How the input is fed to the pipeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// The whole input as one bounded batch.
    Batch,
    /// The input as an unbounded stream, in steps.
    Stream,
}

/// What `--explain` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Explain {
    /// The plan as text followed by a Mermaid graph.
    All,
    /// The plan as indented text.
    Text,
    /// A Mermaid flowchart.
    Mermaid,
    /// A Graphviz DOT digraph.
    Dot,
    /// The serialized plan.
    Json,
}

/// The command line shared by every pipeline.
#[derive(Debug, Parser)]
#[command(disable_help_flag = true)]
pub struct Args {
    /// Input file (CSV with a header line, or JSON Lines).
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// Input format; inferred from the file extension when omitted.
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Feed the input as one batch or as a stream of steps.
    #[arg(long, value_enum, default_value = "batch")]
    pub mode: Mode,
    /// Records per step in stream mode.
    #[arg(long, default_value_t = 1000)]
    pub step_size: usize,
    /// In stream mode, print every output change instead of the final result.
    #[arg(long)]
    pub changes: bool,
    /// Worker threads per process.
    #[arg(short = 'w', long, default_value_t = 1)]
    pub workers: usize,
    /// Number of processes in the cluster.
    #[arg(short = 'n', long, default_value_t = 1)]
    pub processes: usize,
    /// This process's index in the cluster.
    #[arg(short = 'p', long, default_value_t = 0)]
    pub process: usize,
    /// File with one `host:port` per process.
    #[arg(short = 'h', long)]
    pub hostfile: Option<PathBuf>,
    /// Where to write the output (JSON Lines); standard output when omitted.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Where to write malformed records (JSON Lines); standard error when omitted.
    #[arg(long)]
    pub dead_letter: Option<PathBuf>,
    /// Event-time pipelines: bounded out-of-orderness; the watermark trails the greatest event time
    /// seen by this much (e.g. `500ms`, `30s`, `10m`, `1h`, `1d`).
    #[arg(long, value_parser = parse_duration)]
    pub max_delay: Option<Duration>,
    /// Event-time pipelines: how long after a window's end records are still accepted.
    #[arg(long, value_parser = parse_duration)]
    pub lateness: Option<Duration>,
    /// Replaces every window stage's window: `tumbling:1h`, `sliding:1h:15m`, `session:30m`, `global`.
    #[arg(long, value_parser = Window::parse)]
    pub window: Option<WindowKind>,
    /// Replaces every window stage's emit mode.
    #[arg(long, value_enum)]
    pub emit: Option<Emit>,
    /// Where to write records that arrive too late for their windows (JSON Lines); standard error
    /// when omitted.
    #[arg(long)]
    pub late: Option<PathBuf>,
    /// Print the pipeline's plan and exit.
    #[arg(long, value_enum, num_args = 0..=1, default_missing_value = "all", require_equals = true)]
    pub explain: Option<Explain>,
    /// Print help.
    #[arg(long, action = ArgAction::Help)]
    pub help: Option<bool>,
}

/// Runs pipeline `P` with the command line of this process and returns the exit code.
pub fn main<P, I>() -> ExitCode
where
    P: Pipeline<Inputs = (I,)>,
    I: Record,
{
    let args = Args::parse();
    match run::<P, I>(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}: {error}", P::NAME);
            ExitCode::FAILURE
        }
    }
}

/// Prints `P`'s plan in `format` to `out`.
pub fn explain<P: Pipeline>(format: Explain, out: &mut dyn Write) -> std::io::Result<()> {
    let plan = P::plan();
    match format {
        Explain::All => {
            write!(out, "{}", plan.to_text())?;
            writeln!(out)?;
            write!(out, "{}", plan.to_mermaid())
        }
        Explain::Text => write!(out, "{}", plan.to_text()),
        Explain::Mermaid => write!(out, "{}", plan.to_mermaid()),
        Explain::Dot => write!(out, "{}", plan.to_dot()),
        Explain::Json => {
            let json = serde_json::to_string_pretty(plan).map_err(std::io::Error::other)?;
            writeln!(out, "{json}")
        }
    }
}

/// Runs pipeline `P` as `args` say.
pub fn run<P, I>(args: &Args) -> Result<(), Error>
where
    P: Pipeline<Inputs = (I,)>,
    I: Record,
{
    if let Some(format) = args.explain {
        let stdout = std::io::stdout();
        return explain::<P>(format, &mut stdout.lock()).map_err(|e| Error::io("stdout", e));
    }
    let input = args
        .input
        .as_ref()
        .ok_or_else(|| Error::Usage("--input PATH is required (or --explain)".into()))?;
    let format = match args.format {
        Some(format) => format,
        None => Format::from_path(input).ok_or_else(|| {
            Error::Usage(format!(
                "cannot tell the format of {} from its extension: pass --format csv or --format jsonl",
                input.display()
            ))
        })?,
    };
    if args.step_size == 0 {
        return Err(Error::Usage("--step-size must be at least 1".into()));
    }
    let cluster = Cluster {
        workers: args.workers,
        processes: args.processes,
        process: args.process,
        addresses: match &args.hostfile {
            Some(path) => read_hostfile(path)?,
            None => Vec::new(),
        },
    };
    let leader = cluster.process == 0;
    let mut dead = match &args.dead_letter {
        Some(path) => DeadLetterSink::file(path)?,
        None => DeadLetterSink::stderr(),
    };
    let mut out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(BufWriter::new(
            File::create(path).map_err(|e| Error::io(path, e))?,
        )),
        None => Box::new(BufWriter::new(std::io::stdout())),
    };
    let out_name = args
        .output
        .as_ref()
        .map_or("stdout".to_string(), |p| p.display().to_string());
    let started = Instant::now();
    let mut source = FileSource::<I>::open(input, format)?;
    let mut late_out: Box<dyn Write> = match &args.late {
        Some(path) => Box::new(BufWriter::new(
            File::create(path).map_err(|e| Error::io(path, e))?,
        )),
        None => Box::new(std::io::stderr()),
    };
    let late_name = args
        .late
        .as_ref()
        .map_or("stderr".to_string(), |p| p.display().to_string());
    let mut runner = Runner::<P>::new()
        .cluster(cluster.clone())
        .windows(WindowOverrides {
            kind: args.window,
            lateness: args
                .lateness
                .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            emit: args.emit,
        });
    if let Some(delay) = args.max_delay {
        runner = runner.max_delay(delay);
    }

    let output = match args.mode {
        Mode::Batch => {
            let mut records = Vec::new();
            for item in source.by_ref() {
                match item {
                    Ok(record) => records.push(record),
                    Err(letter) if leader => dead.write(&letter)?,
                    Err(_) => {}
                }
            }
            runner.batch(records)?
        }
        Mode::Stream => {
            let mut running = runner.start()?;
            loop {
                let mut step = Vec::with_capacity(args.step_size);
                let mut exhausted = true;
                for item in source.by_ref() {
                    match item {
                        Ok(record) => step.push(record),
                        Err(letter) if leader => dead.write(&letter)?,
                        Err(_) => {}
                    }
                    if step.len() == args.step_size {
                        exhausted = false;
                        break;
                    }
                }
                if !step.is_empty() {
                    let changes = running.push(step)?;
                    if args.changes && leader {
                        write_changes(&mut out, &changes, &out_name)?;
                    }
                    write_late(
                        &mut late_out,
                        &running.take_late(),
                        &late_name,
                        args.late.is_none(),
                    )?;
                }
                if exhausted {
                    break;
                }
            }
            running.finish()?
        }
    };
    if leader {
        if args.changes && args.mode == Mode::Stream {
            write_changes(&mut out, &output.closing_changes, &out_name)?;
        } else {
            for (record, diff) in &output.records {
                if *diff < 0 {
                    eprintln!(
                        "warning: {}: output record with negative multiplicity {diff}: {record:?}",
                        P::NAME
                    );
                }
                for _ in 0..(*diff).max(0) {
                    write_json(&mut out, record, &out_name)?;
                }
            }
        }
    }
    write_late(&mut late_out, &output.late, &late_name, args.late.is_none())?;
    out.flush().map_err(|e| Error::io(&out_name, e))?;
    late_out.flush().map_err(|e| Error::io(&late_name, e))?;
    dead.flush()?;
    if leader {
        eprintln!(
            "{}",
            summary_line(
                P::NAME,
                &P::version(),
                args,
                source.stats(),
                &dead,
                output.summary.late_records,
                output.records.len(),
                started.elapsed().as_secs_f64()
            )
        );
    }
    Ok(())
}

fn summary_line(
    name: &str,
    version: &str,
    args: &Args,
    stats: SourceStats,
    dead: &DeadLetterSink,
    late: u64,
    outputs: usize,
    seconds: f64,
) -> String {
    let mode = match args.mode {
        Mode::Batch => "batch".to_string(),
        Mode::Stream => format!("stream, steps of {}", args.step_size),
    };
    let workers = args.workers * args.processes;
    let dead_note = if stats.dead > 0 {
        format!(" (to {})", dead.target())
    } else {
        String::new()
    };
    let late_note = if late > 0 {
        format!(", {late} late (to the late output)")
    } else {
        String::new()
    };
    format!(
        "{name} (version {version}): {mode}, {workers} worker{}: read {} records, {} ok, {} dead-lettered{dead_note}{late_note}; {outputs} output records in {seconds:.3} s",
        if workers == 1 { "" } else { "s" },
        stats.read,
        stats.ok,
        stats.dead
    )
}

fn write_json<T: Serialize>(out: &mut dyn Write, value: &T, name: &str) -> Result<(), Error> {
    serde_json::to_writer(&mut *out, value)
        .map_err(|e| Error::io(name, std::io::Error::other(e)))?;
    out.write_all(b"\n").map_err(|e| Error::io(name, e))
}

fn write_changes<O: Serialize>(
    out: &mut dyn Write,
    changes: &[Change<O>],
    name: &str,
) -> Result<(), Error> {
    for change in changes {
        write_json(out, change, name)?;
    }
    Ok(())
}

fn write_late(
    out: &mut dyn Write,
    late: &[LateRecord],
    name: &str,
    labelled: bool,
) -> Result<(), Error> {
    for record in late {
        if labelled {
            out.write_all(b"late: ").map_err(|e| Error::io(name, e))?;
        }
        write_json(out, record, name)?;
    }
    Ok(())
}

fn read_hostfile(path: &Path) -> Result<Vec<String>, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(String::from)
        .collect())
}
