//! The Kappa driver: one pipeline replays the log from offset 0 and follows its tail; after every
//! step the view's table is updated and a snapshot published.

use crate::error::Error;
use crate::kappa::Replay;
use crate::log::{Log, Schema};
use crate::pipeline::Pipeline;
use crate::record::Record;
use crate::runtime::{Change, Runner};
use crate::serve::key::{Fields, ViewKey};
use crate::serve::snapshot::{RowChange, StepChanges, Table};
use crate::serve::{ServeOptions, Shared};
use serde::Serialize;
use std::sync::atomic::Ordering;

/// A change of `diff` of an output record as a view change: the record's JSON text (as `--output`
/// writes it), its key and its window.
pub(crate) fn row_of<O: Serialize>(
    record: &O,
    key: &[&str],
    diff: isize,
) -> Result<RowChange, Error> {
    let text = serde_json::to_string(record)
        .map_err(|e| Error::Source(format!("cannot write an output record as JSON: {e}")))?;
    let fields = Fields::of_json(&text)
        .map_err(|e| Error::Source(format!("cannot read an output record's fields: {e}")))?;
    let view_key = ViewKey::of_record(&fields, key).ok_or_else(|| {
        Error::Source(format!(
            "the output record {text} lacks a field of the view key ({}): the key names the \
             fields as the record is serialized",
            key.join(", ")
        ))
    })?;
    Ok(RowChange {
        key: view_key,
        record: text.into(),
        window: fields.window(),
        diff,
    })
}

/// A step's output changes as view changes.
pub(crate) fn row_changes<O: Serialize>(
    changes: &[Change<O>],
    key: &[&str],
) -> Result<Vec<RowChange>, Error> {
    changes
        .iter()
        .map(|change| row_of(&change.record, key, change.diff))
        .collect()
}

/// The watermark of a running pipeline, for event-time pipelines.
pub(crate) fn watermark_of<P: Pipeline>(watermark: u64) -> Option<u64> {
    P::EVENT_TIME.then_some(watermark)
}

/// Replays `log` into `runner`'s pipeline from offset 0 and follows the tail until told to stop,
/// publishing a snapshot after every step.
pub(crate) fn drive_kappa<P, I, L>(
    runner: &Runner<P>,
    log: &L,
    shared: &Shared,
    options: &ServeOptions,
) -> Result<(), Error>
where
    P: Pipeline<Inputs = (I,)>,
    I: Record + Schema,
    L: Log<Position = u64>,
{
    let mut replay = Replay::<P, I, L>::start(runner, log, 0, options.step)?;
    let mut table = Table::default();
    while !shared.stop.load(Ordering::SeqCst) {
        let step = match replay.step()? {
            Some(step) => step,
            None => match replay.follow(options.poll)? {
                Some(step) => step,
                None => continue,
            },
        };
        let changes = row_changes(&step.changes, P::VIEW_KEY)?;
        for change in &changes {
            table.apply(change);
        }
        let late = replay.running().take_late().len() as u64;
        shared.late.fetch_add(late, Ordering::Relaxed);
        shared.metrics.add_late(late);
        let running = replay.running();
        shared
            .metrics
            .set_watermark(running.watermark(), running.max_event_time());
        let watermark = watermark_of::<P>(replay.running().watermark());
        let snapshot = table.snapshot(step.to, None, watermark);
        shared.publish(
            StepChanges {
                from: step.from,
                to: step.to,
                watermark,
                changes,
            },
            snapshot,
        );
    }
    Ok(())
}
