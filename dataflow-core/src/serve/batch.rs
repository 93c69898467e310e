//! The batch architecture: the batch runner recomputes the whole view over the log prefix `[0, B)`
//! at start, every [`ServeOptions::batch_every`] and on `POST /v1/batch`; answers are the latest
//! batch view, at offset `B`. Records appended since are in the log but in no answer until the next
//! recompute: the article's nightly job, served.

use crate::error::Error;
use crate::pipeline::Pipeline;
use crate::runtime::Runner;
use crate::serve::driver::{row_of, watermark_of};
use crate::serve::lambda::BatchView;
use crate::serve::snapshot::{RowChange, Snapshot, StepChanges, Table};
use crate::serve::{ServeOptions, Shared};
use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError};

/// Publishes every batch view the batch layer hands over, until the server stops.
pub(crate) fn drive_batch<P: Pipeline>(
    runner: &Runner<P>,
    shared: &Shared,
    options: &ServeOptions,
    ready: Receiver<BatchView<P::Output>>,
) -> Result<(), Error> {
    let mut current = shared.latest();
    while !shared.stop.load(Ordering::SeqCst) {
        let view = match ready.recv_timeout(options.poll) {
            Ok(view) => view,
            Err(RecvTimeoutError::Timeout) => continue,
            // The batch layer ended: it recorded its failure, or the server is stopping.
            Err(RecvTimeoutError::Disconnected) => return Ok(()),
        };
        let mut table = Table::default();
        for (record, n) in &view.records {
            table.apply(&row_of(record, P::VIEW_KEY, *n)?);
        }
        let watermark = watermark_of::<P>(
            view.max_event_time
                .map_or(0, |t| t.saturating_sub(runner.max_delay_ms())),
        );
        let snapshot = table.snapshot(view.boundary, Some(view.boundary), watermark);
        let changes = replacement(&current, &snapshot);
        shared.publish(
            StepChanges {
                from: current.offset,
                to: snapshot.offset,
                watermark,
                changes,
            },
            snapshot,
        );
        current = shared.latest();
    }
    Ok(())
}

/// The changes that turn the view `old` into `new`: for every key whose rows differ, its old rows
/// retracted and its new rows added.
fn replacement(old: &Snapshot, new: &Snapshot) -> Vec<RowChange> {
    let keys: BTreeSet<_> = old.rows.keys().chain(new.rows.keys()).collect();
    let mut changes = Vec::new();
    for key in keys {
        let (before, after) = (old.rows.get(key), new.rows.get(key));
        if before == after {
            continue;
        }
        for (rows, sign) in [(before, -1), (after, 1)] {
            let Some(rows) = rows else { continue };
            for (record, n) in &rows.records {
                changes.push(RowChange {
                    key: key.clone(),
                    record: record.clone(),
                    window: rows.window,
                    diff: sign * n,
                });
            }
        }
    }
    changes
}
