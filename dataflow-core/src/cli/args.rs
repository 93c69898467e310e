//! The command line's arguments, as clap parses them.

use crate::io::Format;
use crate::time::{Emit, Window, WindowKind, parse_duration};
use clap::{ArgAction, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::time::Duration;

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
    /// A command instead of a run: `ingest` (or `serve`).
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Input file (CSV with a header line, or JSON Lines).
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// Input format; inferred from the file extension when omitted.
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
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
    pub emit: Option<EmitArg>,
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
    /// Serve the pipeline's output over HTTP while it follows the event log.
    #[cfg(feature = "serve")]
    Serve(crate::serve::ServeArgs),
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
    pub format: Option<FormatArg>,
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

/// `--format`: the input formats, as the command line names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// Comma-separated values with a header line.
    Csv,
    /// One JSON object per line.
    Jsonl,
}

impl From<FormatArg> for Format {
    fn from(format: FormatArg) -> Format {
        match format {
            FormatArg::Csv => Format::Csv,
            FormatArg::Jsonl => Format::Jsonl,
        }
    }
}

/// `--emit`: the emit modes, as the command line names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum EmitArg {
    /// One result per window, once it is complete.
    Final,
    /// Every change of a window's result as records arrive.
    Updating,
}

impl From<EmitArg> for Emit {
    fn from(emit: EmitArg) -> Emit {
        match emit {
            EmitArg::Final => Emit::Final,
            EmitArg::Updating => Emit::Updating,
        }
    }
}
