//! JSON Lines writers: one JSON value per line, for output records, output changes and late records.
//! `name` names the destination in errors (a path, or `stdout`).

use crate::context::LateRecord;
use crate::error::Error;
use crate::runtime::{Change, Output};
use serde::Serialize;
use std::fmt::Debug;
use std::io::Write;

/// Writes `value` as one line of JSON.
pub fn write_json<T: Serialize>(out: &mut dyn Write, value: &T, name: &str) -> Result<(), Error> {
    serde_json::to_writer(&mut *out, value)
        .map_err(|e| Error::io(name, std::io::Error::other(e)))?;
    out.write_all(b"\n").map_err(|e| Error::io(name, e))
}

/// Writes every change as `{"record": .., "watermark": .., "step": .., "diff": ..}`.
pub fn write_changes<O: Serialize>(
    out: &mut dyn Write,
    changes: &[Change<O>],
    name: &str,
) -> Result<(), Error> {
    changes
        .iter()
        .try_for_each(|change| write_json(out, change, name))
}

/// Bytes of formatted output gathered before one write: output is formatted into a buffer, without
/// a call through `out` per token, and written in large writes.
const WRITE_BYTES: usize = 1 << 20;

/// Writes the consolidated output records of `pipeline`, each as often as its multiplicity says. A
/// record with a negative multiplicity (a retraction of something never added) is reported, not
/// written.
pub fn write_records<O: Serialize + Debug>(
    out: &mut dyn Write,
    output: &Output<O>,
    pipeline: &str,
    name: &str,
) -> Result<(), Error> {
    warn_negative(&output.records, pipeline);
    let mut buffer = Vec::with_capacity(WRITE_BYTES + (WRITE_BYTES >> 2));
    format_records(&output.records, name, &mut buffer, &mut |full: &mut Vec<
        u8,
    >| {
        out.write_all(full).map_err(|e| Error::io(name, e))?;
        full.clear();
        Ok(())
    })?;
    out.write_all(&buffer).map_err(|e| Error::io(name, e))
}

/// [`write_records`] with the records formatted by `threads` threads at once, each a contiguous
/// part of them into a buffer of its own, written in order: the same bytes, sooner.
pub fn write_records_in_parallel<O: Serialize + Debug + Send>(
    out: &mut dyn Write,
    output: &mut Output<O>,
    pipeline: &str,
    name: &str,
    threads: usize,
) -> Result<(), Error> {
    if threads <= 1 || output.records.len() < 1 << 12 {
        return write_records(out, output, pipeline, name);
    }
    warn_negative(&output.records, pipeline);
    let per_thread = output.records.len().div_ceil(threads);
    let buffers: Vec<Result<Vec<u8>, Error>> = std::thread::scope(|scope| {
        let parts: Vec<_> = output
            .records
            .chunks_mut(per_thread)
            .map(|part| {
                scope.spawn(move || {
                    let mut buffer = Vec::new();
                    format_records(part, name, &mut buffer, &mut |_| Ok(()))?;
                    Ok(buffer)
                })
            })
            .collect();
        parts
            .into_iter()
            .map(|part| {
                part.join().unwrap_or_else(|_| {
                    Err(Error::io(name, std::io::Error::other("formatting failed")))
                })
            })
            .collect()
    });
    for buffer in buffers {
        out.write_all(&buffer?).map_err(|e| Error::io(name, e))?;
    }
    Ok(())
}

/// Reports records with a negative multiplicity, which are not written.
fn warn_negative<O: Debug>(records: &[(O, isize)], pipeline: &str) {
    for (record, diff) in records.iter().filter(|(_, diff)| *diff < 0) {
        tracing::warn!("{pipeline}: output record with negative multiplicity {diff}: {record:?}");
    }
}

/// Formats `records` into `buffer`, one JSON line per copy, handing it to `full` whenever it holds
/// [`WRITE_BYTES`] or more.
fn format_records<O: Serialize>(
    records: &[(O, isize)],
    name: &str,
    buffer: &mut Vec<u8>,
    full: &mut dyn FnMut(&mut Vec<u8>) -> Result<(), Error>,
) -> Result<(), Error> {
    for (record, diff) in records {
        for _ in 0..(*diff).max(0) {
            serde_json::to_writer(&mut *buffer, record)
                .map_err(|e| Error::io(name, std::io::Error::other(e)))?;
            buffer.push(b'\n');
            if buffer.len() >= WRITE_BYTES {
                full(buffer)?;
            }
        }
    }
    Ok(())
}

/// Writes late records; `labelled` prefixes each with `late: ` (when they share standard error with
/// other messages).
pub fn write_late(
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
