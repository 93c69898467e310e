//! The command line's arguments, as clap parses them.

use crate::io::Format;
use crate::log::{LogLocation, Offsets};
use crate::time::{Emit, Window, WindowKind, parse_duration};
use clap::{ArgAction, Parser, Subcommand, ValueEnum};
use std::net::SocketAddr;
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
    /// The plan graph as an SVG picture, fused stages inside their operator (laid out in Rust:
    /// no Graphviz needed).
    Svg,
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
    /// Input file (CSV with a header line, or JSON Lines): `--input PATH`, or one `--input NAME=PATH`
    /// per input of a pipeline with several.
    #[arg(long, value_name = "[NAME=]PATH")]
    pub input: Vec<String>,
    /// Input format; inferred from the file extension when omitted.
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
    /// Feed the input as one batch or as a stream of steps.
    #[arg(long, value_enum, default_value = "batch")]
    pub mode: Mode,
    /// Records per step in stream and replay mode [default: 1000].
    #[arg(long = "step-size", value_name = "N")]
    pub step_size_flag: Option<usize>,
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
    #[arg(short = 'H', long)]
    pub hostfile: Option<PathBuf>,
    /// In a cluster: a process not heard from for this long (it hangs, is stopped, or its host is
    /// unreachable) is lost, and the others exit naming it [default: 30s].
    #[arg(long = "peer-timeout", value_name = "DURATION", value_parser = parse_duration)]
    pub peer_timeout: Option<Duration>,
    /// Where to write the output (JSON Lines); standard output when omitted.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Where to write malformed records (JSON Lines); standard error when omitted.
    #[arg(long)]
    pub dead_letter: Option<PathBuf>,
    /// Event-time pipelines: bounded out-of-orderness; the watermark trails the greatest event time
    /// seen by this much (e.g. `500ms`, `30s`, `10m`, `1h`, `1d`) [default: 0]. A stream's answer
    /// equals the batch's for input out of order by at most this much; records later than that go to
    /// the late output, and the summary says which --max-delay would have kept them.
    #[arg(long, value_parser = parse_duration)]
    pub max_delay: Option<Duration>,
    /// Event-time pipelines: how long after a window's end records are still accepted.
    #[arg(long, value_parser = parse_duration)]
    pub lateness: Option<Duration>,
    /// Replaces every window stage's window: `tumbling:1h`, `sliding:1h:15m`, `session:30m`, `global`.
    #[arg(long, value_parser = Window::parse)]
    pub window: Option<WindowKind>,
    /// A value for one of the pipeline's runtime parameters (its function's parameters that are
    /// not streams), as `NAME=VALUE`; once per parameter. A value is part of the version.
    #[arg(long = "param", value_name = "NAME=VALUE", value_parser = parse_param)]
    pub params: Vec<(String, String)>,
    /// Replaces every window stage's emit mode.
    #[arg(long, value_enum)]
    pub emit: Option<EmitArg>,
    /// Where to write records that arrive too late for their windows (JSON Lines); standard error
    /// when omitted.
    #[arg(long)]
    pub late: Option<PathBuf>,
    /// Replay mode: the event log: its directory, or a Kafka topic as `kafka://HOST:PORT/TOPIC`.
    #[arg(long, value_name = "DIR|kafka://HOST:PORT/TOPIC", value_parser = LogLocation::parse)]
    pub log: Option<LogLocation>,
    /// Replay mode: the offset of the first record to replay [default: 0]; for a Kafka topic, one
    /// offset per partition (`5,0,12`).
    #[arg(long = "from", value_name = "OFFSET", value_parser = Offsets::parse)]
    pub from_flag: Option<Offsets>,
    /// Replay mode: after the head, go on reading records as they are committed.
    #[arg(long)]
    pub follow: bool,
    /// Replay mode with `--follow`: end (after moving the watermark of an event-time pipeline up to the
    /// greatest event time seen) once no record arrived for this long [default: 1s].
    #[arg(long = "idle-timeout", value_name = "DURATION", value_parser = parse_duration)]
    pub idle_timeout_flag: Option<Duration>,
    /// Replay mode: the checkpoint file to resume from and to write.
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// Replay mode: steps between checkpoints [default: 10].
    #[arg(long = "checkpoint-every", value_name = "STEPS")]
    pub checkpoint_every_flag: Option<u64>,
    /// Print the pipeline's plan and exit.
    #[arg(long, value_enum, num_args = 0..=1, default_missing_value = "all", require_equals = true)]
    pub explain: Option<Explain>,
    /// Print the pipeline's name and version and exit.
    #[arg(short = 'V', long)]
    pub version: bool,
    /// Serve the run's metrics (Prometheus text format) at http://ADDR/metrics while it runs, e.g.
    /// `127.0.0.1:9464` (port 0: any free port; the address is printed).
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<SocketAddr>,
    /// No progress and no summary line on standard error (errors and dead letters still go there).
    /// Progress is shown only when standard error is a terminal.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Print help.
    #[arg(short = 'h', long, action = ArgAction::Help)]
    pub help: Option<bool>,
}

impl Args {
    /// Records per step (`--step-size`, 1000 by default).
    pub fn step_size(&self) -> usize {
        self.step_size_flag.unwrap_or(1000)
    }

    /// The first offset to replay (`--from`, 0 by default).
    pub fn from(&self) -> u64 {
        self.from_flag.as_ref().map_or(0, |from| from.get(0))
    }

    /// Replay mode: the position of the first record to replay in a partitioned log (`--from`).
    pub fn from_offsets(&self) -> Offsets {
        self.from_flag.clone().unwrap_or_default()
    }

    /// How long a followed log may be quiet before the run ends (`--idle-timeout`, 1 s by default).
    pub fn idle_timeout(&self) -> Duration {
        self.idle_timeout_flag.unwrap_or(Duration::from_secs(1))
    }

    /// Steps between checkpoints (`--checkpoint-every`, 10 by default).
    pub fn checkpoint_every(&self) -> u64 {
        self.checkpoint_every_flag.unwrap_or(10)
    }
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
    /// Input file (CSV with a header line, or JSON Lines): `--input PATH`, or one `--input NAME=PATH`
    /// per input of a pipeline with several.
    #[arg(long, value_name = "[NAME=]PATH", required = true)]
    pub input: Vec<String>,
    /// The event log: its directory (created if needed), or a Kafka topic as
    /// `kafka://HOST:PORT/TOPIC` (created with `--partitions` partitions if needed).
    #[arg(long, value_name = "DIR|kafka://HOST:PORT/TOPIC", value_parser = LogLocation::parse)]
    pub log: LogLocation,
    /// A Kafka topic's partitions: created with this many when it does not exist, and checked
    /// against it when it does [default when creating: 1].
    #[arg(long)]
    pub partitions: Option<usize>,
    /// Input format; inferred from the file extension when omitted.
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
    /// Where to write malformed records (JSON Lines); standard error when omitted.
    #[arg(long)]
    pub dead_letter: Option<PathBuf>,
    /// Records per commit (each commit is flushed to disk before it is acknowledged).
    #[arg(long, default_value_t = 1000)]
    pub batch_size: usize,
    /// Continue an interrupted ingest of the same input: skip what the log already acknowledged.
    #[arg(long)]
    pub resume: bool,
    /// Serve the ingest's metrics at http://ADDR/metrics while it runs.
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<SocketAddr>,
    /// No progress and no summary line on standard error.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Print help.
    #[arg(short = 'h', long, action = ArgAction::Help)]
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

/// `--param NAME=VALUE`.
pub(crate) fn parse_param(arg: &str) -> Result<(String, String), String> {
    let mut params = crate::params::Params::new();
    params.set_from_arg(arg).map_err(|e| e.to_string())?;
    let (name, value) = params.iter().next().expect("one value was set");
    Ok((name.to_string(), value.to_string()))
}
