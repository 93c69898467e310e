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

/// Writes the consolidated output records of `pipeline`, each as often as its multiplicity says. A
/// record with a negative multiplicity (a retraction of something never added) is reported, not
/// written.
pub fn write_records<O: Serialize + Debug>(
    out: &mut dyn Write,
    output: &Output<O>,
    pipeline: &str,
    name: &str,
) -> Result<(), Error> {
    for (record, diff) in output.records.iter().filter(|(_, diff)| *diff < 0) {
        tracing::warn!("{pipeline}: output record with negative multiplicity {diff}: {record:?}");
    }
    output
        .iter_expanded()
        .try_for_each(|record| write_json(out, record, name))
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
