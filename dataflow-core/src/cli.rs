//! One command line for every pipeline, so that an example's `main` is one line (the input type
//! implements [`Schema`] so that `ingest` and `--mode replay` can store and read it in the event log):
//!
//! ```no_run
//! # use dataflow_core::prelude::*;
//! # #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
//! # pub struct Word { text: String }
//! # impl dataflow_core::kappa::Schema for Word { const VERSION: u32 = 1; }
//! # #[pipeline]
//! # fn word_count(words: Stream<Word>) -> Stream<(String, u64)> { words.key(|w| w.text.clone()).count() }
//! fn main() -> std::process::ExitCode {
//!     dataflow_core::cli::main::<WordCount, _>()
//! }
//! ```
//!
//! ```text
//! USAGE: <example> --input PATH [--format csv|jsonl] [--mode batch|stream] [--step-size N] [--changes]
//!                  [-w N] [-n N -p I [-h HOSTFILE]] [--output PATH] [--dead-letter PATH] [--explain[=FORMAT]]
//!        <example> --mode replay --log DIR [--from OFFSET] [--follow [--idle-timeout DUR]]
//!                  [--checkpoint PATH [--checkpoint-every N]] [--step-size N] [--changes] [--output PATH] ..
//!        <example> ingest --input PATH --log DIR [--format csv|jsonl] [--dead-letter PATH]
//! ```
//!
//! * `--mode batch` (default) reads the whole input, runs it as one batch and prints the result as JSON
//!   Lines. `--mode stream` reads the input record by record as an unbounded source, `--step-size`
//!   records per step, and at the end prints the same consolidated result; with `--changes` it prints
//!   every output change instead, as `{"record": .., "time": step, "diff": ±n}`.
//! * `ingest` appends the input's records to the event log in `--log DIR` (created if needed), each with
//!   its event time when the pipeline has an `event_time` stage (the ingestion time otherwise), and
//!   prints how many records the log acknowledged. `--mode replay --log DIR` then feeds the pipeline
//!   from the log, from offset `--from` (default 0) to the head, `--step-size` records per step, and
//!   prints what `--mode stream` prints for the same records. With `--follow` it goes on reading
//!   records as they are committed (by another process, for example an `ingest`), and ends once none
//!   arrived for `--idle-timeout` (default 1s), after moving an event-time pipeline's watermark up to
//!   the greatest event time seen.
//! * `--checkpoint PATH` (replay mode) writes a checkpoint every `--checkpoint-every` steps (default
//!   10): the offset covered, the output so far and the length of the `--output` file. A run killed at
//!   any point and started again with the same arguments resumes from its checkpoint, and its output
//!   file ends up exactly as an uninterrupted run's (see [`crate::kappa`]). With `--changes` the output
//!   file is an append-only change log cut back to the checkpoint's length on restart; without it, the
//!   final result is written to the output file atomically at the end.
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
use crate::context::{catch_user, panic_message};
use crate::error::Error;
use crate::kappa::{Checkpoint, EventLog, FileSink, LogOptions, Replay, Schema};
use crate::pipeline::Pipeline;
use crate::runner::{Change, Cluster, Output, Runner};
use crate::source::{DeadLetterSink, FileSource, Format, SourceStats};
use crate::window::{Emit, Window, WindowKind, WindowOverrides, parse_duration};
use clap::{ArgAction, Parser, Subcommand, ValueEnum};
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
    /// The records of the event log in `--log`, from `--from` on, in steps.
    Replay,
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

/// The command line shared by every pipeline: flags that run it, or the `ingest` command.
#[derive(Debug, Parser)]
#[command(
    disable_help_flag = true,
    disable_help_subcommand = true,
    args_conflicts_with_subcommands = true
)]
pub struct Args {
    /// A command instead of a run: `ingest`.
    #[command(subcommand)]
    pub command: Option<Command>,
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
    /// Replay mode: the event log's directory.
    #[arg(long)]
    pub log: Option<PathBuf>,
    /// Replay mode: the offset of the first record to replay.
    #[arg(long, default_value_t = 0)]
    pub from: u64,
    /// Replay mode: after the head, go on reading records as they are committed.
    #[arg(long)]
    pub follow: bool,
    /// Replay mode with `--follow`: end (after moving the watermark of an event-time pipeline up to the
    /// greatest event time seen) once no record arrived for this long.
    #[arg(long, value_parser = parse_duration, default_value = "1s")]
    pub idle_timeout: Duration,
    /// Replay mode: the checkpoint file to resume from and to write.
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// Replay mode: steps between checkpoints.
    #[arg(long, default_value_t = 10)]
    pub checkpoint_every: u64,
    /// Print the pipeline's plan and exit.
    #[arg(long, value_enum, num_args = 0..=1, default_missing_value = "all", require_equals = true)]
    pub explain: Option<Explain>,
    /// Print help.
    #[arg(long, action = ArgAction::Help)]
    pub help: Option<bool>,
}

/// Commands other than running the pipeline.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Append the input's records to an event log.
    Ingest(IngestArgs),
}

/// The arguments of `ingest`.
#[derive(Debug, clap::Args)]
pub struct IngestArgs {
    /// Input file (CSV with a header line, or JSON Lines).
    #[arg(long)]
    pub input: PathBuf,
    /// The event log's directory (created if needed).
    #[arg(long)]
    pub log: PathBuf,
    /// Input format; inferred from the file extension when omitted.
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Where to write malformed records (JSON Lines); standard error when omitted.
    #[arg(long)]
    pub dead_letter: Option<PathBuf>,
    /// Records per commit (each commit is flushed to disk before it is acknowledged).
    #[arg(long, default_value_t = 1000)]
    pub batch_size: usize,
    /// Print help.
    #[arg(long, action = ArgAction::Help)]
    pub help: Option<bool>,
}

/// Runs pipeline `P` with the command line of this process and returns the exit code.
pub fn main<P, I>() -> ExitCode
where
    P: Pipeline<Inputs = (I,)>,
    I: Record + Schema,
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

fn input_format(input: &Path, format: Option<Format>) -> Result<Format, Error> {
    match format {
        Some(format) => Ok(format),
        None => Format::from_path(input).ok_or_else(|| {
            Error::Usage(format!(
                "cannot tell the format of {} from its extension: pass --format csv or --format jsonl",
                input.display()
            ))
        }),
    }
}

fn cluster_of(args: &Args) -> Result<Cluster, Error> {
    Ok(Cluster {
        workers: args.workers,
        processes: args.processes,
        process: args.process,
        addresses: match &args.hostfile {
            Some(path) => read_hostfile(path)?,
            None => Vec::new(),
        },
    })
}

fn runner_of<P: Pipeline>(args: &Args, cluster: Cluster) -> Runner<P> {
    let runner = Runner::<P>::new()
        .cluster(cluster)
        .windows(WindowOverrides {
            kind: args.window,
            lateness: args
                .lateness
                .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            emit: args.emit,
        });
    match args.max_delay {
        Some(delay) => runner.max_delay(delay),
        None => runner,
    }
}

fn late_output(args: &Args) -> Result<(Box<dyn Write>, String), Error> {
    let out: Box<dyn Write> = match &args.late {
        Some(path) => Box::new(BufWriter::new(
            File::create(path).map_err(|e| Error::io(path, e))?,
        )),
        None => Box::new(std::io::stderr()),
    };
    let name = args
        .late
        .as_ref()
        .map_or("stderr".to_string(), |p| p.display().to_string());
    Ok((out, name))
}

/// Runs pipeline `P` as `args` say.
pub fn run<P, I>(args: &Args) -> Result<(), Error>
where
    P: Pipeline<Inputs = (I,)>,
    I: Record + Schema,
{
    if let Some(Command::Ingest(ingest_args)) = &args.command {
        return ingest::<P, I>(ingest_args);
    }
    if let Some(format) = args.explain {
        let stdout = std::io::stdout();
        return explain::<P>(format, &mut stdout.lock()).map_err(|e| Error::io("stdout", e));
    }
    if args.step_size == 0 {
        return Err(Error::Usage("--step-size must be at least 1".into()));
    }
    if args.mode == Mode::Replay {
        return replay::<P, I>(args);
    }
    let input = args
        .input
        .as_ref()
        .ok_or_else(|| Error::Usage("--input PATH is required (or --explain)".into()))?;
    let format = input_format(input, args.format)?;
    let cluster = cluster_of(args)?;
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
    let (mut late_out, late_name) = late_output(args)?;
    let runner = runner_of::<P>(args, cluster);

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
        // (Replay mode returned above.)
        Mode::Stream | Mode::Replay => {
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
            write_records::<P>(&mut out, &output, &out_name)?;
        }
    }
    write_late(&mut late_out, &output.late, &late_name, args.late.is_none())?;
    out.flush().map_err(|e| Error::io(&out_name, e))?;
    late_out.flush().map_err(|e| Error::io(&late_name, e))?;
    dead.flush()?;
    if leader {
        eprintln!(
            "{}",
            summary_line::<P>(
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

fn summary_line<P: Pipeline>(
    args: &Args,
    stats: SourceStats,
    dead: &DeadLetterSink,
    late: u64,
    outputs: usize,
    seconds: f64,
) -> String {
    let (name, version) = (P::NAME, P::version());
    let mode = match args.mode {
        Mode::Batch => "batch".to_string(),
        Mode::Stream | Mode::Replay => format!("stream, steps of {}", args.step_size),
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

/// Writes the consolidated output records, each as often as its multiplicity says.
fn write_records<P: Pipeline>(
    out: &mut dyn Write,
    output: &Output<P::Output>,
    name: &str,
) -> Result<(), Error> {
    for (record, diff) in &output.records {
        if *diff < 0 {
            eprintln!(
                "warning: {}: output record with negative multiplicity {diff}: {record:?}",
                P::NAME
            );
        }
        for _ in 0..(*diff).max(0) {
            write_json(out, record, name)?;
        }
    }
    Ok(())
}

/// `ingest`: appends the input's records to the log, with their event times.
fn ingest<P, I>(args: &IngestArgs) -> Result<(), Error>
where
    P: Pipeline<Inputs = (I,)>,
    I: Record + Schema,
{
    let started = Instant::now();
    let format = input_format(&args.input, args.format)?;
    if args.batch_size == 0 {
        return Err(Error::Usage("--batch-size must be at least 1".into()));
    }
    let mut source = FileSource::<I>::open(&args.input, format)?;
    let mut dead = match &args.dead_letter {
        Some(path) => DeadLetterSink::file(path)?,
        None => DeadLetterSink::stderr(),
    };
    let log = EventLog::open(&args.log, LogOptions::default())
        .map_err(|e| Error::Source(format!("event log {}: {e}", args.log.display())))?;
    let log_error = |e| Error::Source(format!("event log {}: {e}", args.log.display()));
    let first = log.head();
    let mut acknowledged = 0u64;
    let mut batch = log.batch();
    let mut ordinal = 0u64;
    for item in source.by_ref() {
        let record = match item {
            Ok(record) => record,
            Err(letter) => {
                dead.write(&letter)?;
                continue;
            }
        };
        ordinal += 1;
        let (event_time, record) = event_time_of::<P, I>(record, || {
            format!("{}: record {ordinal}", args.input.display())
        })?;
        batch.push(event_time, &record).map_err(log_error)?;
        if batch.len() >= args.batch_size {
            acknowledged += batch.commit().map_err(log_error)?.count() as u64;
        }
    }
    if !batch.is_empty() {
        acknowledged += batch.commit().map_err(log_error)?.count() as u64;
    }
    dead.flush()?;
    println!(
        "ingested {acknowledged} records into {}: offsets {first}..{}",
        args.log.display(),
        log.head()
    );
    let stats = source.stats();
    let dead_note = if stats.dead > 0 {
        format!(" (to {})", dead.target())
    } else {
        String::new()
    };
    eprintln!(
        "{} (version {}): ingest: read {} records, {} ok, {} dead-lettered{dead_note}; {acknowledged} acknowledged by the log in {:.3} s",
        P::NAME,
        P::version(),
        stats.read,
        stats.ok,
        stats.dead,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// A record's event time for the log: what the pipeline's `event_time` stage says, or the ingestion
/// time (ms since the Unix epoch) for a pipeline without one.
fn event_time_of<P, I>(record: I, name: impl FnOnce() -> String) -> Result<(u64, I), Error>
where
    P: Pipeline<Inputs = (I,)>,
    I: Record,
{
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    };
    if !P::EVENT_TIME {
        return Ok((now(), record));
    }
    let mut batch = (vec![record],);
    let time = catch_user(|| P::max_event_time(&batch)).map_err(|payload| {
        Error::Source(format!(
            "{}: the pipeline's event_time stage panicked: {}",
            name(),
            panic_message(payload.as_ref())
        ))
    })?;
    let record = batch
        .0
        .pop()
        .ok_or_else(|| Error::Source("the event-time batch lost its record".into()))?;
    Ok((time.unwrap_or_else(now), record))
}

/// Where replay mode writes: changes to an append-only sink (cut back to the checkpoint on
/// restart), or the final result to standard output or to a file written atomically at the end.
enum ReplayOut {
    Changes(FileSink),
    Stdout(BufWriter<std::io::Stdout>),
    Buffer(Vec<u8>, PathBuf),
}

impl ReplayOut {
    fn write_changes<O: Serialize>(&mut self, changes: &[Change<O>]) -> Result<(), Error> {
        match self {
            ReplayOut::Changes(sink) => changes.iter().try_for_each(|c| sink.write_json(c)),
            ReplayOut::Stdout(out) => write_changes(out, changes, "stdout"),
            ReplayOut::Buffer(out, path) => {
                write_changes(out, changes, &path.display().to_string())
            }
        }
    }

    /// Makes what was written durable; returns the sink's length for a checkpoint.
    fn sync(&mut self) -> Result<u64, Error> {
        match self {
            ReplayOut::Changes(sink) => sink.sync(),
            ReplayOut::Stdout(out) => out.flush().map(|()| 0).map_err(|e| Error::io("stdout", e)),
            ReplayOut::Buffer(..) => Ok(0),
        }
    }

    fn finish(mut self) -> Result<(), Error> {
        self.sync()?;
        if let ReplayOut::Buffer(bytes, path) = self {
            crate::kappa::write_atomically(&path, &bytes)?;
        }
        Ok(())
    }
}

/// `--mode replay`: feeds the pipeline from the event log, with checkpoints if asked.
fn replay<P, I>(args: &Args) -> Result<(), Error>
where
    P: Pipeline<Inputs = (I,)>,
    I: Record + Schema,
{
    let started = Instant::now();
    let dir = args
        .log
        .as_ref()
        .ok_or_else(|| Error::Usage("--mode replay needs --log DIR".into()))?;
    if args.input.is_some() {
        return Err(Error::Usage(
            "--mode replay reads --log, not --input: append the input with `ingest` first".into(),
        ));
    }
    if !dir.is_dir() {
        return Err(Error::Usage(format!(
            "there is no event log in {}: create it with `ingest --input PATH --log {}`",
            dir.display(),
            dir.display()
        )));
    }
    let cluster = cluster_of(args)?;
    let leader = cluster.process == 0;
    if args.checkpoint.is_some() && cluster.processes > 1 {
        return Err(Error::Usage(
            "--checkpoint works with one process (use -w for more workers)".into(),
        ));
    }
    if args.checkpoint.is_some() && args.changes && args.output.is_none() {
        return Err(Error::Usage(
            "--checkpoint with --changes needs --output PATH, which a restart cuts back to the checkpoint".into(),
        ));
    }
    if args.checkpoint_every == 0 {
        return Err(Error::Usage("--checkpoint-every must be at least 1".into()));
    }
    let log = EventLog::open_read_only(dir)
        .map_err(|e| Error::Source(format!("event log {}: {e}", dir.display())))?;
    let runner = runner_of::<P>(args, cluster);
    let checkpoint = match &args.checkpoint {
        Some(path) => Checkpoint::<P::Output>::load(path)?,
        None => None,
    };
    let mut replay = match &checkpoint {
        Some(checkpoint) if checkpoint.from != args.from => {
            return Err(Error::Usage(format!(
                "the checkpoint {} is of a replay from offset {}, not {}",
                args.checkpoint
                    .as_deref()
                    .unwrap_or(Path::new(""))
                    .display(),
                checkpoint.from,
                args.from
            )));
        }
        Some(checkpoint) => Replay::<P, I>::resume(&runner, &log, checkpoint, args.step_size)?,
        None => Replay::<P, I>::start(&runner, &log, args.from, args.step_size)?,
    };
    let resumed_at = checkpoint.as_ref().map(|c| c.offset);
    let mut out = match (&args.output, args.changes) {
        (Some(path), true) => ReplayOut::Changes(FileSink::open(
            path,
            checkpoint.as_ref().map_or(0, |c| c.sink),
        )?),
        (Some(path), false) => ReplayOut::Buffer(Vec::new(), path.clone()),
        (None, _) => ReplayOut::Stdout(BufWriter::new(std::io::stdout())),
    };
    let (mut late_out, late_name) = late_output(args)?;
    let mut since_checkpoint = 0u64;
    loop {
        let step = match replay.step()? {
            Some(step) => step,
            None if args.follow => match replay.follow(args.idle_timeout)? {
                Some(step) => step,
                None => {
                    let changes = replay.idle()?;
                    if args.changes && leader {
                        out.write_changes(&changes)?;
                    }
                    break;
                }
            },
            None => break,
        };
        if args.changes && leader {
            out.write_changes(&step.changes)?;
        }
        let late = replay.running().take_late();
        write_late(&mut late_out, &late, &late_name, args.late.is_none())?;
        since_checkpoint += 1;
        if let Some(path) = &args.checkpoint
            && since_checkpoint >= args.checkpoint_every
        {
            let sink = out.sync()?;
            replay.checkpoint(sink).save(path)?;
            since_checkpoint = 0;
        }
    }
    if let Some(path) = &args.checkpoint
        && since_checkpoint > 0
    {
        let sink = out.sync()?;
        replay.checkpoint(sink).save(path)?;
    }
    let replayed = replay.finish()?;
    if leader {
        if args.changes {
            out.write_changes(&replayed.output.closing_changes)?;
        } else {
            match &mut out {
                ReplayOut::Stdout(w) => write_records::<P>(w, &replayed.output, "stdout")?,
                ReplayOut::Buffer(bytes, path) => {
                    write_records::<P>(bytes, &replayed.output, &path.display().to_string())?
                }
                ReplayOut::Changes(_) => {}
            }
        }
    }
    write_late(
        &mut late_out,
        &replayed.output.late,
        &late_name,
        args.late.is_none(),
    )?;
    if leader {
        out.finish()?;
    }
    late_out.flush().map_err(|e| Error::io(&late_name, e))?;
    if leader {
        let workers = args.workers * args.processes;
        let resumed = resumed_at.map_or(String::new(), |offset| {
            format!(" (resumed from the checkpoint at offset {offset})")
        });
        let late = replayed.output.summary.late_records;
        let late_note = if late > 0 {
            format!(", {late} late (to the late output)")
        } else {
            String::new()
        };
        eprintln!(
            "{} (version {}): replay of {} offsets {}..{}{resumed}, steps of {}, {workers} worker{}: {} records{late_note}; {} output records in {:.3} s",
            P::NAME,
            P::version(),
            dir.display(),
            replayed.from,
            replayed.to,
            args.step_size,
            if workers == 1 { "" } else { "s" },
            replayed.output.summary.input_records,
            replayed.output.records.len(),
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
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
