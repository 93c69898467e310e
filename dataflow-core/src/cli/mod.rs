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
//!        <example> serve --log DIR [--listen ADDR] [--architecture kappa|lambda] [--batch-every DUR]
//! ```
//!
//! `serve` (feature `serve`) serves the pipeline's output over HTTP while it follows the log: see
//! `dataflow_core::serve`.
//!
//! * `--mode batch` (default) reads the whole input, runs it as one batch and prints the result as JSON
//!   Lines. `--mode stream` reads the input record by record as an unbounded source, `--step-size`
//!   records per step, and at the end prints the same consolidated result; with `--changes` it prints
//!   every output change instead, as `{"record": .., "watermark": ms, "step": n, "diff": ±n}`.
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
//!   `--explain=json` for the serialized plan, `--explain=svg` for a picture) and exits.
//! * `--metrics ADDR` serves the run's metrics at `http://ADDR/metrics` while it runs (see
//!   [`crate::observe`]); `RUST_LOG` filters the logs on standard error (warnings by default).

mod args;
mod entries;
mod event_time;
mod feed;
mod ingest;
#[cfg(feature = "kafka")]
mod ingest_kafka;
mod inputs;
mod metrics;
mod peers;
pub(crate) mod progress;
mod replay;

#[cfg(feature = "serve")]
pub(crate) use args::parse_param;
pub use args::{Args, Command, EmitArg, Explain, FormatArg, IngestArgs, Mode};
pub use inputs::{CliInputs, ReadState};

use crate::error::Error;
use crate::io::Format;
use crate::log::Schema;
use crate::params::Params;
use crate::pipeline::Pipeline;
use crate::record::Record;
use crate::runtime::{Cluster, Runner, Summary};
use crate::time::{Emit, WindowOverrides, format_millis};
use clap::{CommandFactory, FromArgMatches};
use dataflow_plan::{Plan, StageKind};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::ExitCode;

/// Runs pipeline `P` with the command line of this process and returns the exit code.
pub fn main<P, I>() -> ExitCode
where
    P: Pipeline,
    P::Inputs: CliInputs<Entry = I>,
    I: Record + Schema,
{
    crate::observe::init_logging();
    let matches = command::<P, I>().get_matches();
    let args = match Args::from_arg_matches(&matches) {
        Ok(args) => args,
        Err(error) => error.exit(),
    };
    match run::<P, I>(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}: {error}", P::NAME);
            ExitCode::FAILURE
        }
    }
}

/// The command line of pipeline `P`: the shared flags, under the pipeline's name, with its doc comment
/// and a description of its input and the fields a record of it has.
pub fn command<P, I>() -> clap::Command
where
    P: Pipeline,
    P::Inputs: CliInputs<Entry = I>,
    I: Record + Schema,
{
    let about = if P::DOC.is_empty() {
        format!("The `{}` pipeline (version {}).", P::NAME, P::version())
    } else {
        format!("{}\n\nVersion {}.", P::DOC, P::version())
    };
    let names = inputs::input_names::<P>();
    let described: Vec<String> = names
        .iter()
        .zip(<P::Inputs as CliInputs>::fields())
        .map(|(input, fields)| match fields {
            Some((name, fields)) => format!(
                "`{input}`: {name} records with the fields {}",
                fields.join(", ")
            ),
            None => format!("`{input}`: one value per line"),
        })
        .collect();
    let fields = if names.len() == 1 {
        format!(
            "{}: a CSV file whose header names them, or JSON Lines with one object per line \
             holding them.",
            described[0]
        )
    } else {
        format!(
            "one --input NAME=PATH for each of {}. Each is a CSV file whose header names its \
             fields, or JSON Lines with one object per line; stream mode reads them in turn, \
             --step-size records of each per step.",
            described.join("; ")
        )
    };
    let event_time = if P::EVENT_TIME {
        "\n\nEvent time comes from the records. A stream's answer equals the batch's for input out \
         of order by at most --max-delay (0 by default): raise it for out-of-order input."
    } else {
        ""
    };
    let params = if P::plan().params.is_empty() {
        String::new()
    } else {
        let described: Vec<String> = P::plan()
            .params
            .iter()
            .map(|p| match &p.default {
                Some(default) => format!("`{}`: {} (default {default})", p.name, p.type_name),
                None => format!("`{}`: {} (required)", p.name, p.type_name),
            })
            .collect();
        format!(
            "\n\nParameters, given as --param NAME=VALUE: {}. Each value is part of the version.",
            described.join("; ")
        )
    };
    Args::command()
        .name(P::NAME)
        .about(about)
        .after_help(format!("Input: {fields}{params}{event_time}"))
}

/// The window overrides `args` ask for.
fn window_overrides(args: &Args) -> WindowOverrides {
    WindowOverrides {
        kind: args.window,
        lateness: args
            .lateness
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        emit: args.emit.map(Emit::from),
    }
}

/// Prints `P`'s plan in `format` to `out`.
pub fn explain<P: Pipeline>(format: Explain, out: &mut dyn Write) -> std::io::Result<()> {
    explain_plan::<P>(P::plan(), format, out)
}

/// Prints `plan`, `P`'s plan as it runs (with any window overrides), in `format` to `out`.
fn explain_plan<P: Pipeline>(
    plan: &Plan,
    format: Explain,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let serving = format!(
        "  view key: {}\n  lambda: {}\n",
        if P::VIEW_KEY.is_empty() {
            "the whole record".to_string()
        } else {
            P::VIEW_KEY.join(", ")
        },
        plan.mergeability().to_text()
    );
    match format {
        Explain::All => {
            write!(out, "{}{serving}", plan.to_text())?;
            writeln!(out)?;
            write!(out, "{}", plan.to_mermaid())
        }
        Explain::Text => write!(out, "{}{serving}", plan.to_text()),
        Explain::Mermaid => write!(out, "{}", plan.to_mermaid()),
        Explain::Dot => write!(out, "{}", plan.to_dot()),
        Explain::Svg => writeln!(out, "{}", crate::observe::plan_svg(plan)),
        Explain::Json => {
            let mut json = serde_json::to_value(plan).map_err(std::io::Error::other)?;
            if let serde_json::Value::Object(fields) = &mut json {
                fields.insert("view_key".into(), P::VIEW_KEY.into());
                let mergeability = serde_json::to_value(plan.mergeability());
                fields.insert(
                    "mergeability".into(),
                    mergeability.map_err(std::io::Error::other)?,
                );
            }
            let json = serde_json::to_string_pretty(&json).map_err(std::io::Error::other)?;
            writeln!(out, "{json}")
        }
    }
}

/// Runs pipeline `P` as `args` say.
pub fn run<P, I>(args: &Args) -> Result<(), Error>
where
    P: Pipeline,
    P::Inputs: CliInputs<Entry = I>,
    I: Record + Schema,
{
    if let Some(Command::Ingest(ingest_args)) = &args.command {
        return ingest::ingest::<P, I>(ingest_args);
    }
    #[cfg(feature = "serve")]
    if let Some(Command::Serve(serve_args)) = &args.command {
        return <P::Inputs as CliInputs>::serve::<P>(serve_args);
    }
    refuse_flags_that_do_not_apply::<P>(args)?;
    let runner = runner_of::<P>(args, Cluster::default());
    let plan = runner.plan().into_owned();
    if args.explain.is_none() {
        // Before any input is read: a run with a parameter missing or unreadable does nothing.
        let params = params_of(args);
        params.check_names(P::plan())?;
        P::check_params(&params)?;
    }
    if args.version {
        println!("{} {}", P::NAME, plan.fingerprint());
        return Ok(());
    }
    if let Some(format) = args.explain {
        let stdout = std::io::stdout();
        return explain_plan::<P>(&plan, format, &mut stdout.lock())
            .map_err(|e| Error::io("stdout", e));
    }
    if args.step_size() == 0 {
        return Err(Error::Usage("--step-size must be at least 1".into()));
    }
    match args.mode {
        Mode::Replay => replay::replay::<P, I>(args),
        Mode::Batch | Mode::Stream => feed::feed::<P, I>(args),
    }
}

/// Refuses flags that would be ignored: event-time and window flags on a pipeline without event
/// time or windows, stream flags in batch mode, replay flags outside replay mode.
fn refuse_flags_that_do_not_apply<P: Pipeline>(args: &Args) -> Result<(), Error> {
    let plan = P::plan();
    let has = |kind: StageKind| plan.nodes.iter().any(|n| n.kind == kind);
    let name = P::NAME;
    let refuse =
        |flag: &str, why: String| Err(Error::Usage(format!("{flag} does not apply: {why}")));
    let event_time_flags = [
        ("--max-delay", args.max_delay.is_some()),
        ("--late", args.late.is_some()),
        ("--lateness", args.lateness.is_some()),
        ("--window", args.window.is_some()),
        ("--emit", args.emit.is_some()),
    ];
    for (flag, given) in event_time_flags {
        if given && !P::EVENT_TIME {
            return refuse(flag, format!("{name} has no event_time stage"));
        }
    }
    if (args.window.is_some() || args.emit.is_some()) && !has(StageKind::Window) {
        let flag = if args.window.is_some() {
            "--window"
        } else {
            "--emit"
        };
        return refuse(flag, format!("{name} has no window stage"));
    }
    if args.lateness.is_some() && !has(StageKind::Window) && !has(StageKind::Scan) {
        return refuse("--lateness", format!("{name} has no window or scan stage"));
    }
    if args.mode == Mode::Batch && args.explain.is_none() && !args.version {
        if args.changes {
            return refuse(
                "--changes",
                "batch mode prints the result; a stream's changes need --mode stream or --mode replay"
                    .into(),
            );
        }
        if args.step_size_flag.is_some() {
            return refuse(
                "--step-size",
                "batch mode runs the whole input as one step; steps need --mode stream or --mode replay"
                    .into(),
            );
        }
    }
    if args.mode != Mode::Replay {
        let replay_flags = [
            ("--log", args.log.is_some()),
            ("--from", args.from_flag.is_some()),
            ("--follow", args.follow),
            ("--idle-timeout", args.idle_timeout_flag.is_some()),
            ("--checkpoint", args.checkpoint.is_some()),
            ("--checkpoint-every", args.checkpoint_every_flag.is_some()),
        ];
        for (flag, given) in replay_flags {
            if given {
                return refuse(flag, "it needs --mode replay".into());
            }
        }
    }
    if args.idle_timeout_flag.is_some() && !args.follow {
        return refuse("--idle-timeout", "it needs --follow".into());
    }
    if args.checkpoint_every_flag.is_some() && args.checkpoint.is_none() {
        return refuse("--checkpoint-every", "it needs --checkpoint PATH".into());
    }
    Ok(())
}

pub(crate) fn input_format(input: &Path, format: Option<FormatArg>) -> Result<Format, Error> {
    match format {
        Some(format) => Ok(format.into()),
        None => Format::from_path(input).ok_or_else(|| {
            Error::Usage(format!(
                "cannot tell the format of {} from its extension: pass --format csv or --format jsonl",
                input.display()
            ))
        }),
    }
}

/// The cluster `args` describe, checked (worker and process counts, process index, host file) before
/// any input is read.
pub(crate) fn cluster_of(args: &Args) -> Result<Cluster, Error> {
    if args.processes == 0 {
        return Err(Error::Usage(
            "the number of processes must be at least 1".into(),
        ));
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
    cluster.timely_config()?;
    if cluster.processes > 1 {
        let timeout = args.peer_timeout.unwrap_or(peers::PEER_TIMEOUT);
        if timeout.is_zero() {
            return Err(Error::Usage("--peer-timeout must be more than 0".into()));
        }
        peers::watch(cluster.process, cluster.processes, timeout);
    }
    Ok(cluster)
}

/// Refuses outputs (`(flag, path)`) that are the input file itself, under any name: opening one
/// for writing would truncate the input before it is read.
pub(crate) fn refuse_writing_the_input(
    input: &Path,
    outputs: &[(&str, Option<&Path>)],
) -> Result<(), Error> {
    for (flag, path) in outputs {
        if let Some(path) = path
            && same_file(input, path)
        {
            return Err(Error::Usage(format!(
                "{flag} {} is the input file {}: writing it would destroy the input before it is read; name another file",
                path.display(),
                input.display()
            )));
        }
    }
    Ok(())
}

/// Whether `a` and `b` are the same existing regular file (same device and inode on Unix).
fn same_file(a: &Path, b: &Path) -> bool {
    let (Ok(first), Ok(second)) = (std::fs::metadata(a), std::fs::metadata(b)) else {
        return false;
    };
    if !first.is_file() {
        return false;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        first.dev() == second.dev() && first.ino() == second.ino()
    }
    #[cfg(not(unix))]
    {
        let _ = second;
        matches!(
            (std::fs::canonicalize(a), std::fs::canonicalize(b)),
            (Ok(a), Ok(b)) if a == b
        )
    }
}

/// The summary's note on late records: how many, and the `--max-delay` that would have kept them.
pub(crate) fn late_note(summary: &Summary) -> String {
    match (summary.late_records, summary.max_delay_needed) {
        (0, _) => String::new(),
        (late, Some(needed)) => format!(
            ", {late} late (to the late output; --max-delay {} would have kept them)",
            format_millis(needed.div_ceil(1000).saturating_mul(1000))
        ),
        (late, None) => format!(", {late} late (to the late output)"),
    }
}

/// The summary's count of output records: the lines written (each record as often as its
/// multiplicity says) and the distinct records among them.
pub(crate) fn output_counts<O>(records: &[(O, isize)]) -> String {
    let written = records
        .iter()
        .map(|(_, diff)| (*diff).max(0) as u64)
        .sum::<u64>();
    let distinct = records.iter().filter(|(_, diff)| *diff > 0).count();
    format!("{written} output records ({distinct} distinct)")
}

/// The runtime parameter values `args` give (`--param NAME=VALUE`).
pub(crate) fn params_of(args: &Args) -> Params {
    let mut params = Params::new();
    for (name, value) in &args.params {
        params.set(name, value);
    }
    params
}

pub(crate) fn runner_of<P: Pipeline>(args: &Args, cluster: Cluster) -> Runner<P> {
    let runner = Runner::<P>::new()
        .cluster(cluster)
        .windows(window_overrides(args))
        .params(params_of(args));
    match args.max_delay {
        Some(delay) => runner.max_delay(delay),
        None => runner,
    }
}

/// Where the late records go (`--late` or standard error), and its name in messages. In a cluster,
/// only process 0 (the `leader`) writes them, every process's: the others open nothing.
pub(crate) fn late_output(args: &Args, leader: bool) -> Result<(Box<dyn Write>, String), Error> {
    if !leader {
        return Ok((Box::new(std::io::sink()), "process 0".to_string()));
    }
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

pub(crate) fn read_hostfile(path: &Path) -> Result<Vec<String>, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(String::from)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_counts_say_lines_written_and_distinct_records() {
        assert_eq!(
            output_counts(&[("a", 2), ("b", 1), ("c", -1), ("d", 0)]),
            "3 output records (2 distinct)"
        );
        assert_eq!(output_counts::<&str>(&[]), "0 output records (0 distinct)");
    }

    #[test]
    fn the_input_is_the_same_file_under_another_name() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.csv");
        std::fs::write(&input, "a\n").unwrap();
        let other = dir.path().join("out.csv");
        assert!(same_file(&input, &dir.path().join(".").join("in.csv")));
        assert!(!same_file(&input, &other));
        let refused = refuse_writing_the_input(&input, &[("--output", Some(&input))]);
        assert!(refused.unwrap_err().to_string().contains("--output"),);
        assert!(
            refuse_writing_the_input(&input, &[("--output", Some(&other)), ("--late", None)])
                .is_ok()
        );
    }
}
