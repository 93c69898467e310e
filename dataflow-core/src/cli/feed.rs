//! Batch and stream mode: the input file fed as one batch, or as an unbounded stream of steps.

use crate::cli::inputs::{CliInputs, input_paths, read_parts, total_bytes};
use crate::cli::metrics::RunMetrics;
use crate::cli::progress::Progress;
use crate::cli::{
    Args, Mode, cluster_of, input_format, late_note, late_output, output_counts,
    refuse_writing_the_input, runner_of,
};
use crate::error::Error;
use crate::io::jsonl::{write_changes, write_late, write_records_in_parallel};
use crate::io::{DeadLetter, DeadLetterSink, SourceStats};
use crate::log::Schema;
use crate::pipeline::{Inputs, Pipeline};
use crate::record::Record;
use crate::runtime::Summary;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::time::Instant;

/// Runs the input files through pipeline `P` in batch or stream mode, as `args` say.
pub(crate) fn feed<P, I>(args: &Args) -> Result<(), Error>
where
    P: Pipeline,
    P::Inputs: CliInputs<Entry = I>,
    I: Record + Schema,
{
    let paths = input_paths::<P>(&args.input)?;
    for path in &paths {
        input_format(path, args.format)?;
    }
    let cluster = cluster_of(args)?;
    let leader = cluster.process == 0;
    for path in &paths {
        refuse_writing_the_input(
            path,
            &[
                ("--output", args.output.as_deref()),
                ("--dead-letter", args.dead_letter.as_deref()),
                ("--late", args.late.as_deref()),
            ],
        )?;
    }
    let started = Instant::now();
    let mut sources = <P::Inputs as CliInputs>::open(&paths, args.format)?;
    // In a cluster, process 0 writes the output, the dead letters and the late records; the others
    // open none of those files (on a shared host or file system they are process 0's).
    let mut dead = match &args.dead_letter {
        Some(path) if leader => DeadLetterSink::file(path)?,
        _ => DeadLetterSink::stderr(),
    };
    let mut out: Box<dyn Write> = match &args.output {
        _ if !leader => Box::new(std::io::sink()),
        Some(path) => Box::new(BufWriter::new(
            File::create(path).map_err(|e| Error::io(path, e))?,
        )),
        None => Box::new(BufWriter::new(std::io::stdout())),
    };
    let out_name = args
        .output
        .as_ref()
        .map_or("stdout".to_string(), |p| p.display().to_string());
    let (mut late_out, late_name) = late_output(args, leader)?;
    let runner = runner_of::<P>(args, cluster);
    let version = runner.version();
    let mode = if args.mode == Mode::Batch {
        "batch"
    } else {
        "stream"
    };
    let metrics = RunMetrics::start::<P>(args.metrics, &version, mode, args.quiet)?;
    let runner = metrics.runner(runner);

    let mut split_stats = None;
    let mut output = {
        // Only the leader reports dead letters: every process reads the whole input.
        let mut letters = |letter: DeadLetter| if leader { dead.write(&letter) } else { Ok(()) };
        match args.mode {
            Mode::Batch => {
                let progress = Progress::bytes("reading", total_bytes(&paths), args.quiet)
                    .on_set(metrics.bytes_gauge());
                // One step, built part by part while the workers already aggregate what was read.
                let mut running = runner.start()?;
                // A pipeline without event time does not depend on the order of its input, so a
                // single process reads it in parallel parts, one per worker, where it splits exactly.
                let split = if !P::EVENT_TIME && args.processes <= 1 && args.workers > 1 {
                    <P::Inputs as CliInputs>::read_split(
                        &paths,
                        args.format,
                        args.workers,
                        &mut |bytes| progress.set(bytes),
                        &mut letters,
                        &mut |part| running.insert(part),
                    )?
                } else {
                    None
                };
                if split.is_none() {
                    read_parts::<P>(&mut sources, &progress, &mut letters, &mut |part| {
                        running.insert(part)
                    })?;
                }
                split_stats = split;
                progress.note("running".into());
                running.complete()?;
                let output = running.finish()?;
                let stats = split.unwrap_or_else(|| <P::Inputs as CliInputs>::stats(&sources));
                let bytes = if split.is_some() {
                    total_bytes(&paths)
                } else {
                    <P::Inputs as CliInputs>::bytes_read(&sources)
                };
                metrics.sources(stats, bytes);
                metrics.step(
                    stats.ok,
                    output.records.len() as u64,
                    output.late.len() as u64,
                );
                output
            }
            // (Replay mode returned above.)
            Mode::Stream | Mode::Replay => {
                let progress = Progress::bytes("streaming", total_bytes(&paths), args.quiet);
                let mut running = runner.start()?;
                loop {
                    let mut step = <P::Inputs as Inputs>::empty();
                    let state = <P::Inputs as CliInputs>::read(
                        &mut sources,
                        args.step_size(),
                        &mut step,
                        &mut letters,
                    )?;
                    let bytes = <P::Inputs as CliInputs>::bytes_read(&sources);
                    progress.set(bytes);
                    metrics.sources(<P::Inputs as CliInputs>::stats(&sources), bytes);
                    let records = <P::Inputs as Inputs>::len(&step) as u64;
                    if records > 0 {
                        let changes = running.push_batch(step)?;
                        if args.changes && leader {
                            write_changes(&mut out, &changes, &out_name)?;
                        }
                        let late = running.take_late();
                        metrics.step(records, changes.len() as u64, late.len() as u64);
                        metrics.watermark(&running);
                        write_late(&mut late_out, &late, &late_name, args.late.is_none())?;
                    } else if state.waiting {
                        // A live input has nothing more for now: what was written so far is made
                        // visible before waiting.
                        out.flush().map_err(|e| Error::io(&out_name, e))?;
                        late_out.flush().map_err(|e| Error::io(&late_name, e))?;
                        <P::Inputs as CliInputs>::wait(&mut sources);
                    }
                    if state.ended {
                        break;
                    }
                }
                running.finish()?
            }
        }
    };
    // A batch of an insert-only plan comes unsorted (see `Output::records`); files are written in
    // one order whatever the worker count.
    if P::plan().is_insert_only() {
        output.sort();
    }
    let stats = split_stats.unwrap_or_else(|| <P::Inputs as CliInputs>::stats(&sources));
    if leader {
        if args.changes && args.mode == Mode::Stream {
            write_changes(&mut out, &output.closing_changes, &out_name)?;
        } else {
            // One formatting thread per worker: the workers are done.
            write_records_in_parallel(&mut out, &mut output, P::NAME, &out_name, args.workers)?;
        }
    }
    write_late(&mut late_out, &output.late, &late_name, args.late.is_none())?;
    out.flush().map_err(|e| Error::io(&out_name, e))?;
    late_out.flush().map_err(|e| Error::io(&late_name, e))?;
    dead.flush()?;
    if leader && !args.quiet {
        eprintln!(
            "{}",
            summary_line::<P>(
                args,
                stats,
                &dead,
                &output.summary,
                &version,
                &output_counts(&output.records),
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
    summary: &Summary,
    version: &str,
    outputs: &str,
    seconds: f64,
) -> String {
    let name = P::NAME;
    let mode = match args.mode {
        Mode::Batch => "batch".to_string(),
        Mode::Stream | Mode::Replay => format!("stream, steps of {}", args.step_size()),
    };
    let workers = args.workers * args.processes;
    let dead_note = if stats.dead > 0 {
        format!(" (to {})", dead.target())
    } else {
        String::new()
    };
    let late_note = late_note(summary);
    format!(
        "{name} (version {version}): {mode}, {workers} worker{}: read {} records, {} ok, {} dead-lettered{dead_note}{late_note}; {outputs} in {seconds:.3} s",
        if workers == 1 { "" } else { "s" },
        stats.read,
        stats.ok,
        stats.dead
    )
}
