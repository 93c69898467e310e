//! `ingest`: appends an input file's records to the event log, with their event times.

use crate::cli::entries::{EntryReader, LoggedEntry};
use crate::cli::inputs::{CliInputs, input_paths, total_bytes};
use crate::cli::metrics::RunMetrics;
use crate::cli::progress::Progress;
use crate::cli::{IngestArgs, input_format, refuse_writing_the_input};
use crate::error::Error;
use crate::io::DeadLetterSink;
use crate::kappa::write_atomically;
use crate::log::{EventLog, LogLocation, LogOptions, Schema};
use crate::pipeline::Pipeline;
use crate::record::Record;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How far an ingest of one set of inputs into one log got, kept beside the log's segments
/// (`ingest-<hash>.progress`, JSON) and rewritten atomically after every commit, so that an
/// interrupted ingest can be continued exactly with `--resume`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Ingested {
    /// The input files, as absolute paths, in the declaration's order.
    inputs: Vec<String>,
    /// Their lengths in bytes when the ingest started.
    input_bytes: Vec<u64>,
    /// Records per commit (and, with several inputs, per input per turn): a resumed ingest of
    /// several inputs reads them in the same turns, so the records it skips are the ones that were
    /// appended.
    batch_size: usize,
    /// The log offset of the first record this ingest appended.
    first_offset: u64,
    /// The log offset after the last record acknowledged so far.
    next_offset: u64,
    /// Whether the whole input was ingested.
    done: bool,
}

fn progress_path(log: &Path, inputs: &[String]) -> PathBuf {
    // FNV-1a of the inputs' paths: a stable name without another dependency.
    let hash = inputs
        .join("\n")
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
    log.join(format!("ingest-{hash:016x}.progress"))
}

fn load_progress(path: &Path) -> Result<Option<Ingested>, Error> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            Error::Source(format!(
                "{} is damaged ({e}): remove it to ingest from the start",
                path.display()
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(path, e)),
    }
}

fn save_progress(path: &Path, progress: &Ingested) -> Result<(), Error> {
    let bytes = serde_json::to_vec_pretty(progress)
        .map_err(|e| Error::Source(format!("cannot encode the ingest progress: {e}")))?;
    write_atomically(path, &bytes)
}

/// `ingest`: appends the inputs' records to the log, with their event times, reporting on standard
/// error what the log has acknowledged as it goes. Several inputs are read in turn, `--batch-size`
/// records of each, and stored tagged with their input. With `--resume`, continues an interrupted
/// ingest of the same inputs after what the log acknowledged.
pub(crate) fn ingest<P, I>(args: &IngestArgs) -> Result<(), Error>
where
    P: Pipeline,
    P::Inputs: CliInputs<Entry = I>,
    I: Record + Schema,
{
    let dir = match &args.log {
        LogLocation::Dir(dir) => dir.clone(),
        #[cfg(feature = "kafka")]
        LogLocation::Kafka { broker, topic } => {
            return crate::cli::ingest_kafka::ingest::<P, I>(args, broker, topic);
        }
        #[cfg(not(feature = "kafka"))]
        LogLocation::Kafka { .. } => {
            return Err(Error::Usage(
                "this build has no Kafka support (dataflow-core's `kafka` feature)".into(),
            ));
        }
    };
    if let Some(partitions) = args.partitions {
        return Err(Error::Usage(format!(
            "--partitions {partitions} is for a Kafka topic: the file log {} has one partition",
            dir.display()
        )));
    }
    let started = Instant::now();
    let paths = input_paths::<P>(&args.input)?;
    for path in &paths {
        input_format(path, args.format)?;
    }
    if args.batch_size == 0 {
        return Err(Error::Usage("--batch-size must be at least 1".into()));
    }
    for path in &paths {
        refuse_writing_the_input(path, &[("--dead-letter", args.dead_letter.as_deref())])?;
    }
    let mut sources = <P::Inputs as CliInputs>::open(&paths, args.format)?;
    let inputs: Vec<String> = paths
        .iter()
        .map(|path| {
            std::fs::canonicalize(path)
                .unwrap_or_else(|_| path.clone())
                .display()
                .to_string()
        })
        .collect();
    let named = inputs.join(" and ");
    let input_bytes: Vec<u64> = paths
        .iter()
        .map(|path| std::fs::metadata(path).map_or(0, |m| m.len()))
        .collect();
    let log = EventLog::open(&dir, LogOptions::default())
        .map_err(|e| Error::Source(format!("event log {}: {e}", dir.display())))?;
    let progress_file = progress_path(&dir, &inputs);
    let earlier = load_progress(&progress_file)?;
    let mut progress = match (&earlier, args.resume) {
        (Some(earlier), true) if earlier.done => {
            println!(
                "{named} was ingested completely into {} already (offsets {}..{}): nothing to do",
                dir.display(),
                earlier.first_offset,
                earlier.next_offset
            );
            return Ok(());
        }
        (Some(earlier), true) => {
            let shorter = input_bytes
                .iter()
                .zip(&earlier.input_bytes)
                .any(|(now, then)| now < then);
            if shorter {
                return Err(Error::Usage(format!(
                    "{named} is shorter than when the interrupted ingest read it: it is not the \
                     same input"
                )));
            }
            // Several inputs are read in turns of --batch-size records: the same turns give the
            // same order of records in the log.
            if paths.len() > 1 && earlier.batch_size != args.batch_size {
                return Err(Error::Usage(format!(
                    "the interrupted ingest read with --batch-size {}: resume with the same",
                    earlier.batch_size
                )));
            }
            earlier.clone()
        }
        (None, true) => {
            return Err(Error::Usage(format!(
                "there is no interrupted ingest of {named} into {} to resume",
                dir.display()
            )));
        }
        (Some(earlier), false) if !earlier.done => {
            return Err(Error::Usage(format!(
                "an earlier ingest of {named} into {} stopped after offsets {}..{}: pass --resume \
                 to continue it without duplicates (or remove {} to append the whole input again)",
                dir.display(),
                earlier.first_offset,
                earlier.next_offset,
                progress_file.display()
            )));
        }
        _ => Ingested {
            inputs: inputs.clone(),
            input_bytes,
            batch_size: args.batch_size,
            first_offset: log.head(),
            next_offset: log.head(),
            done: false,
        },
    };
    let mut dead = match &args.dead_letter {
        Some(path) => DeadLetterSink::file(path)?,
        None => DeadLetterSink::stderr(),
    };
    let log_name = dir.display().to_string();
    // What the log holds after an error, so that the user knows what was stored.
    let stored = |progress: &Ingested, e: String| {
        Error::Source(format!(
            "event log {log_name}: {e}; offsets {}..{} of {named} were acknowledged before it \
             (`ingest --resume` continues after them)",
            progress.first_offset, progress.next_offset
        ))
    };
    let log_error = |e: dataflow_log::LogError| Error::Source(format!("event log {log_name}: {e}"));
    // Resuming: the records appended before the last saved progress are skipped; those the log
    // acknowledged after it (a crash between a commit and its progress record leaves some) are
    // checked against the input's next records and skipped too.
    let mut skip = progress.next_offset - progress.first_offset;
    let head = log.head();
    let mut overlap = match head > progress.next_offset {
        true => Some(log.read_from(progress.next_offset).map_err(log_error)?),
        false => None,
    };
    let mut batch = log.batch();
    let mut reported = Instant::now();
    let shown = Progress::bytes("ingesting", total_bytes(&paths), args.quiet);
    let version = P::version();
    let metrics = RunMetrics::start::<P>(args.metrics, &version, "ingest", args.quiet)?;
    let mut counted = 0;
    let mut reader = EntryReader::<P>::new(&mut sources, args.batch_size, &named);
    while let Some(entries) = reader.next(&mut dead)? {
        for LoggedEntry { event_time, entry } in entries {
            if skip > 0 {
                skip -= 1;
                continue;
            }
            if let Some(reader) = &mut overlap {
                if progress.next_offset < head {
                    let logged: I = match reader.next_ref().map_err(log_error)? {
                        Some(logged) => logged.decode().map_err(log_error)?,
                        None => {
                            return Err(Error::Source(format!(
                                "event log {log_name} ended at offset {} before its head",
                                progress.next_offset
                            )));
                        }
                    };
                    if logged != entry {
                        return Err(Error::Usage(format!(
                            "the log's record at offset {} is not the next record of {named}: the \
                             log was appended to by another writer since the interrupted ingest, \
                             so it cannot be resumed",
                            progress.next_offset
                        )));
                    }
                    progress.next_offset += 1;
                    continue;
                }
                overlap = None;
            }
            batch
                .push(event_time, &entry)
                .map_err(|e| stored(&progress, e.to_string()))?;
            if batch.len() >= args.batch_size {
                let range = batch
                    .commit()
                    .map_err(|e| stored(&progress, e.to_string()))?;
                progress.next_offset = range.end;
                save_progress(&progress_file, &progress)?;
                if reported.elapsed() >= Duration::from_secs(1) {
                    reported = Instant::now();
                    shown.milestone(format!(
                        "ingest: offsets {}..{} acknowledged",
                        progress.first_offset, progress.next_offset
                    ));
                }
            }
        }
        let bytes = <P::Inputs as CliInputs>::bytes_read(reader.sources());
        shown.set(bytes);
        let stats = <P::Inputs as CliInputs>::stats(reader.sources());
        metrics.sources(stats, bytes);
        metrics.step(stats.ok.saturating_sub(counted), 0, 0);
        counted = stats.ok;
        metrics.log(progress.next_offset, progress.next_offset);
    }
    drop(shown);
    if skip > 0 || progress.next_offset < head {
        return Err(Error::Usage(format!(
            "{named} has fewer records than the interrupted ingest appended: it is not the same input"
        )));
    }
    if !batch.is_empty() {
        let range = batch
            .commit()
            .map_err(|e| stored(&progress, e.to_string()))?;
        progress.next_offset = range.end;
    }
    progress.done = true;
    save_progress(&progress_file, &progress)?;
    dead.flush()?;
    // What this run appended: after the head it found (a resumed run skips what was there).
    let from = head.max(progress.first_offset);
    let acknowledged = progress.next_offset - from;
    let whole = if from > progress.first_offset {
        format!(
            " (the whole input: offsets {}..{})",
            progress.first_offset, progress.next_offset
        )
    } else {
        String::new()
    };
    println!(
        "ingested {acknowledged} records into {}: offsets {from}..{}{whole}",
        dir.display(),
        progress.next_offset
    );
    let stats = <P::Inputs as CliInputs>::stats(&sources);
    let dead_note = if stats.dead > 0 {
        format!(" (to {})", dead.target())
    } else {
        String::new()
    };
    let resumed = match &earlier {
        Some(earlier) if args.resume => format!(
            ", resumed after offsets {}..{}",
            earlier.first_offset, earlier.next_offset
        ),
        _ => String::new(),
    };
    if args.quiet {
        return Ok(());
    }
    eprintln!(
        "{} (version {}): ingest{resumed}: read {} records, {} ok, {} dead-lettered{dead_note}; {acknowledged} acknowledged by the log in {:.3} s",
        P::NAME,
        P::version(),
        stats.read,
        stats.ok,
        stats.dead,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
