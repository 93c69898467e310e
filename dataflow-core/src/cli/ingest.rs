//! `ingest`: appends an input file's records to the event log, with their event times.

use crate::cli::IngestArgs;
use crate::cli::{input_format, refuse_writing_the_input};
use crate::error::Error;
use crate::io::{DeadLetterSink, FileSource};
use crate::log::{EventLog, LogOptions, Schema};
use crate::pipeline::Pipeline;
use crate::record::Record;
use crate::user_code::{catch_user, panic_message};
use std::time::Instant;

/// `ingest`: appends the input's records to the log, with their event times.
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
