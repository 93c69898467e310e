//! `ingest`: appends an input file's records to the event log, with their event times.

use crate::cli::IngestArgs;
use crate::cli::{input_format, refuse_writing_the_input};
use crate::error::Error;
use crate::io::{DeadLetterSink, FileSource};
use crate::kappa::write_atomically;
use crate::log::{EventLog, LogOptions, Schema};
use crate::pipeline::Pipeline;
use crate::record::Record;
use crate::user_code::{catch_user, panic_message};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How far an ingest of one input into one log got, kept beside the log's segments
/// (`ingest-<hash>.progress`, JSON) and rewritten atomically after every commit, so that an
/// interrupted ingest can be continued exactly with `--resume`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Progress {
    /// The input file, as an absolute path.
    input: String,
    /// The input's length in bytes when the ingest started.
    input_bytes: u64,
    /// The log offset of the first record this ingest appended.
    first_offset: u64,
    /// The log offset after the last record acknowledged so far.
    next_offset: u64,
    /// Input records (good and dead-lettered) read up to the last acknowledged one.
    items_read: u64,
    /// Whether the whole input was ingested.
    done: bool,
}

fn progress_path(log: &Path, input: &str) -> PathBuf {
    // FNV-1a of the input's path: a stable name without another dependency.
    let hash = input.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    log.join(format!("ingest-{hash:016x}.progress"))
}

fn load_progress(path: &Path) -> Result<Option<Progress>, Error> {
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

fn save_progress(path: &Path, progress: &Progress) -> Result<(), Error> {
    let bytes = serde_json::to_vec_pretty(progress)
        .map_err(|e| Error::Source(format!("cannot encode the ingest progress: {e}")))?;
    write_atomically(path, &bytes)
}

/// `ingest`: appends the input's records to the log, with their event times, reporting on standard
/// error what the log has acknowledged as it goes. With `--resume`, continues an interrupted ingest
/// of the same input after what the log acknowledged.
pub(crate) fn ingest<P, I>(args: &IngestArgs) -> Result<(), Error>
where
    P: Pipeline<Inputs = (I,)>,
    I: Record + Schema,
{
    let started = Instant::now();
    let format = input_format(&args.input, args.format)?;
    if args.batch_size == 0 {
        return Err(Error::Usage("--batch-size must be at least 1".into()));
    }
    refuse_writing_the_input(
        &args.input,
        &[("--dead-letter", args.dead_letter.as_deref())],
    )?;
    let mut source = FileSource::<I>::open(&args.input, format)?;
    let input = std::fs::canonicalize(&args.input)
        .unwrap_or_else(|_| args.input.clone())
        .display()
        .to_string();
    let input_bytes = std::fs::metadata(&args.input).map_or(0, |m| m.len());
    let log = EventLog::open(&args.log, LogOptions::default())
        .map_err(|e| Error::Source(format!("event log {}: {e}", args.log.display())))?;
    let progress_file = progress_path(&args.log, &input);
    let earlier = load_progress(&progress_file)?;
    let mut progress = match (&earlier, args.resume) {
        (Some(earlier), true) if earlier.done => {
            println!(
                "{input} was ingested completely into {} already (offsets {}..{}): nothing to do",
                args.log.display(),
                earlier.first_offset,
                earlier.next_offset
            );
            return Ok(());
        }
        (Some(earlier), true) => {
            if input_bytes < earlier.input_bytes {
                return Err(Error::Usage(format!(
                    "{input} is {input_bytes} bytes long, shorter than the {} bytes the interrupted \
                     ingest read from: it is not the same input",
                    earlier.input_bytes
                )));
            }
            earlier.clone()
        }
        (None, true) => {
            return Err(Error::Usage(format!(
                "there is no interrupted ingest of {input} into {} to resume",
                args.log.display()
            )));
        }
        (Some(earlier), false) if !earlier.done => {
            return Err(Error::Usage(format!(
                "an earlier ingest of {input} into {} stopped after offsets {}..{}: pass --resume \
                 to continue it without duplicates (or remove {} to append the whole input again)",
                args.log.display(),
                earlier.first_offset,
                earlier.next_offset,
                progress_file.display()
            )));
        }
        _ => Progress {
            input: input.clone(),
            input_bytes,
            first_offset: log.head(),
            next_offset: log.head(),
            items_read: 0,
            done: false,
        },
    };
    let mut dead = match &args.dead_letter {
        Some(path) => DeadLetterSink::file(path)?,
        None => DeadLetterSink::stderr(),
    };
    let log_name = args.log.display().to_string();
    // What the log holds after the error, so that the user knows what was stored.
    let stored = |progress: &Progress, e: String| {
        Error::Source(format!(
            "event log {log_name}: {e}; offsets {}..{} of {input} were acknowledged before it \
             (`ingest --resume` continues after them)",
            progress.first_offset, progress.next_offset
        ))
    };
    if args.resume {
        skip_ingested::<I>(&mut source, &log, &mut progress, &input)?;
    }
    let mut batch = log.batch();
    let mut ordinal = source.stats().ok;
    let mut reported = Instant::now();
    while let Some(item) = source.try_next()? {
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
        batch
            .push(event_time, &record)
            .map_err(|e| stored(&progress, e.to_string()))?;
        if batch.len() >= args.batch_size {
            let range = batch
                .commit()
                .map_err(|e| stored(&progress, e.to_string()))?;
            progress.next_offset = range.end;
            progress.items_read = source.stats().read;
            save_progress(&progress_file, &progress)?;
            if reported.elapsed() >= Duration::from_secs(1) {
                reported = Instant::now();
                eprintln!(
                    "ingest: offsets {}..{} acknowledged ({} input records read)",
                    progress.first_offset, progress.next_offset, progress.items_read
                );
            }
        }
    }
    if !batch.is_empty() {
        let range = batch
            .commit()
            .map_err(|e| stored(&progress, e.to_string()))?;
        progress.next_offset = range.end;
    }
    progress.items_read = source.stats().read;
    progress.done = true;
    save_progress(&progress_file, &progress)?;
    dead.flush()?;
    let acknowledged = progress.next_offset - progress.first_offset;
    println!(
        "ingested {acknowledged} records into {}: offsets {}..{}",
        args.log.display(),
        progress.first_offset,
        progress.next_offset
    );
    let stats = source.stats();
    let dead_note = if stats.dead > 0 {
        format!(" (to {})", dead.target())
    } else {
        String::new()
    };
    let resumed = if args.resume {
        format!(
            ", resumed after {} input records",
            earlier.map_or(0, |e| e.items_read)
        )
    } else {
        String::new()
    };
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

/// Resuming: skips the input records the interrupted ingest read up to its last saved progress, then
/// the records the log acknowledged after that save (a crash between a commit and the progress file
/// leaves some), checking that each is the input's next record, so nothing is appended twice.
fn skip_ingested<I>(
    source: &mut FileSource<I>,
    log: &EventLog,
    progress: &mut Progress,
    input: &str,
) -> Result<(), Error>
where
    I: Record + Schema,
{
    while source.stats().read < progress.items_read {
        if source.try_next()?.is_none() {
            return Err(Error::Usage(format!(
                "{input} has fewer records than the interrupted ingest read: it is not the same input"
            )));
        }
    }
    let head = log.head();
    if progress.next_offset == head {
        return Ok(());
    }
    let log_error = |e: dataflow_log::LogError| Error::Source(format!("event log: {e}"));
    let mut reader = log.read_from(progress.next_offset).map_err(log_error)?;
    while progress.next_offset < head {
        let Some(stored) = reader.next_ref().map_err(log_error)? else {
            break;
        };
        let stored: I = stored.decode().map_err(log_error)?;
        let next = loop {
            match source.try_next()? {
                Some(Ok(record)) => break Some(record),
                Some(Err(_)) => continue,
                None => break None,
            }
        };
        if next.as_ref() != Some(&stored) {
            return Err(Error::Usage(format!(
                "the log's record at offset {} is not the next record of {input}: the log was \
                 appended to by another writer since the interrupted ingest, so it cannot be resumed",
                progress.next_offset
            )));
        }
        progress.next_offset += 1;
    }
    progress.items_read = source.stats().read;
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
