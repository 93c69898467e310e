//! Batch and stream mode: the input file fed as one batch, or as an unbounded stream of steps.

use crate::cli::{
    Args, Mode, STEP_CAPACITY, cluster_of, input_format, late_note, late_output, output_counts,
    refuse_writing_the_input, runner_of,
};
use crate::error::Error;
use crate::io::jsonl::{write_changes, write_late, write_records};
use crate::io::{DeadLetterSink, FileSource, LiveSource, Next, SourceStats};
use crate::log::Schema;
use crate::pipeline::Pipeline;
use crate::record::Record;
use crate::runtime::Summary;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::time::Instant;

/// Runs the input file through pipeline `P` in batch or stream mode, as `args` say.
pub(crate) fn feed<P, I>(args: &Args) -> Result<(), Error>
where
    P: Pipeline<Inputs = (I,)>,
    I: Record + Schema,
{
    let input = args
        .input
        .as_ref()
        .ok_or_else(|| Error::Usage("--input PATH is required (or --explain)".into()))?;
    let format = input_format(input, args.format)?;
    let cluster = cluster_of(args)?;
    let leader = cluster.process == 0;
    refuse_writing_the_input(
        input,
        &[
            ("--output", args.output.as_deref()),
            ("--dead-letter", args.dead_letter.as_deref()),
            ("--late", args.late.as_deref()),
        ],
    )?;
    let started = Instant::now();
    let mut source = FileSource::<I>::open(input, format)?;
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
    let (mut late_out, late_name) = late_output(args)?;
    let runner = runner_of::<P>(args, cluster);
    let version = runner.version();

    let stats;
    let output = match args.mode {
        Mode::Batch => {
            let mut records = Vec::new();
            while let Some(item) = source.try_next()? {
                match item {
                    Ok(record) => records.push(record),
                    Err(letter) if leader => dead.write(&letter)?,
                    Err(_) => {}
                }
            }
            stats = source.stats();
            runner.batch(records)?
        }
        // (Replay mode returned above.)
        Mode::Stream | Mode::Replay => {
            let may_wait = source.may_wait();
            let mut live = LiveSource::new(source, may_wait);
            let mut running = runner.start()?;
            loop {
                let mut step = Vec::with_capacity(args.step_size().min(STEP_CAPACITY));
                let mut ended = false;
                loop {
                    match live.try_next()? {
                        Next::Item(Ok(record)) => {
                            step.push(record);
                            if step.len() == args.step_size() {
                                break;
                            }
                        }
                        Next::Item(Err(letter)) if leader => dead.write(&letter)?,
                        Next::Item(Err(_)) => {}
                        // A live input has nothing more for now: the step ends here, and once its
                        // output is out, what was written so far is made visible before waiting.
                        Next::Waiting if !step.is_empty() => break,
                        Next::Waiting => {
                            out.flush().map_err(|e| Error::io(&out_name, e))?;
                            late_out.flush().map_err(|e| Error::io(&late_name, e))?;
                            dead.flush()?;
                            live.wait();
                        }
                        Next::End => {
                            ended = true;
                            break;
                        }
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
                if ended {
                    break;
                }
            }
            stats = live.stats();
            running.finish()?
        }
    };
    if leader {
        if args.changes && args.mode == Mode::Stream {
            write_changes(&mut out, &output.closing_changes, &out_name)?;
        } else {
            write_records(&mut out, &output, P::NAME, &out_name)?;
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
