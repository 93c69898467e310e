//! `ingest --log kafka://HOST:PORT/TOPIC`: appends an input file's records to a Kafka topic, each
//! with its event time and schema version in its headers, partitioned by the pipeline's key.

use crate::cli::entries::{EntryReader, LoggedEntry};
use crate::cli::inputs::{CliInputs, input_paths, total_bytes};
use crate::cli::progress::Progress;
use crate::cli::{IngestArgs, input_format, refuse_writing_the_input};
use crate::error::Error;
use crate::io::DeadLetterSink;
use crate::log::{KafkaAddress, KafkaLog, KafkaOptions, Offsets, Partitioner, Schema};
use crate::pipeline::{Inputs, Pipeline};
use crate::record::Record;
use std::time::{Duration, Instant};

/// The partition key of `entry`: the values of the fields of the pipeline's view key
/// (`#[pipeline(key(..))]`), as JSON text, when the record has them all.
fn partition_key(entry: &impl serde::Serialize, fields: &[&str]) -> Option<Vec<u8>> {
    if fields.is_empty() {
        return None;
    }
    let value = serde_json::to_value(entry).ok()?;
    let object = value.as_object()?;
    let key: Option<Vec<&serde_json::Value>> = fields.iter().map(|f| object.get(*f)).collect();
    serde_json::to_vec(&key?).ok()
}

/// How `ingest` partitions `P`'s records, judged on its first record.
fn partitioner<P: Pipeline>(first: Option<&impl serde::Serialize>) -> Partitioner {
    if P::VIEW_KEY.is_empty() {
        return Partitioner::RoundRobin(format!("{} declares no key", P::NAME));
    }
    match first {
        Some(entry) if partition_key(entry, P::VIEW_KEY).is_none() => {
            Partitioner::RoundRobin(format!(
                "the input records have no fields {}",
                P::VIEW_KEY.join(", ")
            ))
        }
        _ => Partitioner::ByKey(P::VIEW_KEY.iter().map(|f| f.to_string()).collect()),
    }
}

/// `ingest` into a Kafka topic: reads the inputs in batches of `--batch-size` records and appends
/// each batch, waiting for the broker's acknowledgement before reading on.
pub(crate) fn ingest<P, I>(args: &IngestArgs, broker: &str, topic: &str) -> Result<(), Error>
where
    P: Pipeline,
    P::Inputs: CliInputs<Entry = I>,
    I: Record + Schema,
{
    let started = Instant::now();
    if args.resume {
        return Err(Error::Usage(
            "--resume is for the file log, which records how far an ingest got; a Kafka topic \
             keeps no such record: ingest the rest of the input instead"
                .into(),
        ));
    }
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
    let address = KafkaAddress {
        broker: broker.to_string(),
        topic: topic.to_string(),
    };
    let log = KafkaLog::create(
        &address,
        args.partitions.unwrap_or(1),
        KafkaOptions::default(),
    )
    .or_else(|e| match (args.partitions, &e) {
        // An existing topic is taken as it is when no --partitions was asked for.
        (None, Error::Usage(message)) if message.contains("partitions, not") => {
            KafkaLog::connect(&address, KafkaOptions::default())
        }
        _ => Err(e),
    })?;
    let mut sources = <P::Inputs as CliInputs>::open(&paths, args.format)?;
    let named = paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(" and ");
    let mut dead = match &args.dead_letter {
        Some(path) => DeadLetterSink::file(path)?,
        None => DeadLetterSink::stderr(),
    };
    let shown = Progress::bytes("ingesting", total_bytes(&paths), args.quiet);
    let several_inputs = <P::Inputs as Inputs>::COUNT > 1;
    let mut how: Option<Partitioner> = None;
    let mut first: Option<Offsets> = None;
    let mut last = log.high_watermarks()?;
    let appended = std::cell::Cell::new(0u64);
    let mut reported = Instant::now();
    let mut pending: Vec<(u64, I, Option<Vec<u8>>)> = Vec::with_capacity(args.batch_size);
    let mut flush = |pending: &mut Vec<(u64, I, Option<Vec<u8>>)>| -> Result<(), Error> {
        if pending.is_empty() {
            return Ok(());
        }
        let refs: Vec<(u64, &I, Option<Vec<u8>>)> =
            pending.iter().map(|(t, r, k)| (*t, r, k.clone())).collect();
        let (before, after) = log.append_keyed(&refs).map_err(|e| {
            Error::Source(format!(
                "{e}; {} records of {named} were acknowledged before it",
                appended.get()
            ))
        })?;
        first.get_or_insert(before);
        appended.set(appended.get() + pending.len() as u64);
        last = after;
        pending.clear();
        Ok(())
    };
    let mut reader = EntryReader::<P>::new(&mut sources, args.batch_size, &named);
    while let Some(entries) = reader.next(&mut dead)? {
        for LoggedEntry { event_time, entry } in entries {
            let how = how.get_or_insert_with(|| {
                if several_inputs {
                    Partitioner::RoundRobin("records of several inputs".into())
                } else {
                    partitioner::<P>(Some(&entry))
                }
            });
            let key = match how {
                Partitioner::ByKey(_) => partition_key(&entry, P::VIEW_KEY),
                Partitioner::RoundRobin(_) => None,
            };
            pending.push((event_time, entry, key));
            if pending.len() >= args.batch_size {
                flush(&mut pending)?;
                if reported.elapsed() >= Duration::from_secs(1) {
                    reported = Instant::now();
                    shown.milestone(format!("ingest: {} records acknowledged", appended.get()));
                }
            }
        }
        shown.set(<P::Inputs as CliInputs>::bytes_read(reader.sources()));
    }
    flush(&mut pending)?;
    drop(shown);
    dead.flush()?;
    let how = how.unwrap_or_else(|| partitioner::<P>(None::<&I>));
    let appended = appended.get();
    let from = first.unwrap_or_else(|| last.clone());
    println!(
        "ingested {appended} records into {address} ({} partition{}, {how}): offsets {from}..{last}",
        log.partitions(),
        if log.partitions() == 1 { "" } else { "s" },
    );
    if args.quiet {
        return Ok(());
    }
    let stats = <P::Inputs as CliInputs>::stats(&sources);
    let dead_note = if stats.dead > 0 {
        format!(" (to {})", dead.target())
    } else {
        String::new()
    };
    eprintln!(
        "{} (version {}): ingest: read {} records, {} ok, {} dead-lettered{dead_note}; {appended} acknowledged by the broker in {:.3} s",
        P::NAME,
        P::version(),
        stats.read,
        stats.ok,
        stats.dead,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
