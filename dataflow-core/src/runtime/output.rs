//! What a run produces: output changes ([`Change`]), the consolidated output of a finished run
//! ([`Output`]) with its [`Summary`], and the consolidated output a running pipeline keeps.

use crate::context::LateRecord;
use crate::record::{consolidate, consolidate_in_parallel};
use crate::time::clock::{self, Time};
use serde::Serialize;
use serde::ser::{SerializeStruct, Serializer};
use std::time::Duration;

/// One change of a pipeline's output: `record` gained (`diff > 0`) or lost (`diff < 0`) `diff` copies
/// at logical `time`.
///
/// Written as JSON (`--changes`) as `{"record": .., "watermark": ms, "step": n, "diff": ..}`: the
/// watermark in the user's milliseconds (0 for pipelines without event time) and the step taken at it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Change<O> {
    /// The output record.
    pub record: O,
    /// The logical time of the change (see [`crate::time::clock`]).
    pub time: Time,
    /// How many copies were added (positive) or removed (negative).
    pub diff: isize,
}

impl<O> Change<O> {
    /// The watermark (event time, ms) at which the change happened; 0 without event time.
    pub fn watermark(&self) -> u64 {
        clock::watermark(self.time)
    }

    /// The step at [`Change::watermark`] that produced the change (for pipelines without event time,
    /// the step of the whole run).
    pub fn step(&self) -> u64 {
        clock::substep(self.time)
    }
}

impl<O: Serialize> Serialize for Change<O> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut change = serializer.serialize_struct("Change", 4)?;
        change.serialize_field("record", &self.record)?;
        change.serialize_field("watermark", &self.watermark())?;
        change.serialize_field("step", &self.step())?;
        change.serialize_field("diff", &self.diff)?;
        change.end()
    }
}

/// What a finished run produced.
#[derive(Clone, Debug, PartialEq)]
pub struct Output<O> {
    /// The consolidated output, sorted: every record with its multiplicity.
    ///
    /// Except for the batch output of an insert-only plan ([`dataflow_plan::Plan::is_insert_only`]:
    /// stateless stages only, so nothing is ever retracted), which is handed over without the
    /// consolidation sort: the same multiset, every output copy once with multiplicity 1, in the
    /// order the workers produced them. [`Output::sort`] gives the sorted, consolidated form.
    pub records: Vec<(O, isize)>,
    /// Changes that appeared only when the input closed (such as windows completed by the end of input).
    pub closing_changes: Vec<Change<O>>,
    /// Records that arrived too late for their windows and were not taken by [`Running::take_late`](crate::Running::take_late).
    pub late: Vec<LateRecord>,
    /// Counts and timings of the run.
    pub summary: Summary,
}

impl<O> Output<O> {
    /// The output records, each repeated as often as its (positive) multiplicity says.
    pub fn iter_expanded(&self) -> impl Iterator<Item = &O> + '_ {
        self.records
            .iter()
            .flat_map(|(record, diff)| std::iter::repeat_n(record, (*diff).max(0) as usize))
    }
}

impl<O: Ord> Output<O> {
    /// Sorts and consolidates [`Output::records`] (a no-op on output that already is).
    pub fn sort(&mut self) {
        consolidate(&mut self.records);
    }
}

impl<O: Clone> Output<O> {
    /// The output records, each repeated as often as its multiplicity says.
    pub fn expanded(&self) -> Vec<O> {
        self.iter_expanded().cloned().collect()
    }
}

/// Counts and timings of a run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Records pushed into the pipeline by this process.
    pub input_records: u64,
    /// Steps (logical times) pushed.
    pub steps: u64,
    /// Distinct output records in the final result.
    pub output_records: u64,
    /// Records that arrived too late for their windows (the late side output).
    pub late_records: u64,
    /// With late records: the smallest `max_delay` (ms) that would have kept all of them in time
    /// (an upper bound: the run's delay plus the most any of them was behind the watermark).
    pub max_delay_needed: Option<u64>,
    /// Wall-clock time from start to finish.
    pub elapsed: Duration,
}

/// Consolidates raw output updates into changes sorted by time, then record, without zeros.
pub(crate) fn consolidate_changes<O: Ord>(updates: Vec<(O, Time, isize)>) -> Vec<Change<O>> {
    let mut keyed: Vec<((Time, O), isize)> = updates
        .into_iter()
        .map(|(record, time, diff)| ((time, record), diff))
        .collect();
    consolidate(&mut keyed);
    keyed
        .into_iter()
        .map(|((time, record), diff)| Change { record, time, diff })
        .collect()
}

/// The consolidated output so far: a sorted, consolidated run plus changes not merged into it yet.
/// Changes are merged when they outnumber the run (or when the view is read), so each costs
/// O(log n) amortized instead of a tree insertion and a clone.
pub(crate) struct Consolidated<O> {
    merged: Vec<(O, isize)>,
    pending: Vec<(O, isize)>,
    /// The plan is insert-only ([`dataflow_plan::Plan::is_insert_only`]): a batch output (every
    /// change added unreported, by [`Consolidated::add`]) is handed over as it came, unsorted.
    insert_only: bool,
    /// Every pending change came from [`Consolidated::add`].
    only_added: bool,
    /// Threads that sort a large output (the workers of this process, idle by then).
    threads: usize,
}

impl<O> Default for Consolidated<O> {
    fn default() -> Self {
        Consolidated {
            merged: Vec::new(),
            pending: Vec::new(),
            insert_only: false,
            only_added: true,
            threads: 1,
        }
    }
}

impl<O> Consolidated<O> {
    /// An empty output of a plan that is insert-only or not.
    pub(crate) fn new(insert_only: bool, threads: usize) -> Self {
        Consolidated {
            insert_only,
            threads: threads.max(1),
            ..Consolidated::default()
        }
    }
}

impl<O: Ord + Send> Consolidated<O> {
    /// Adds a step's raw output updates, consolidated once when the view is read (a batch run reads it
    /// once, at the end: one sort, as a hand-written job does).
    pub(crate) fn add(&mut self, updates: Vec<(O, Time, isize)>) {
        self.pending.extend(
            updates
                .into_iter()
                .map(|(record, _time, diff)| (record, diff)),
        );
    }

    /// Adds consolidated changes.
    pub(crate) fn add_changes(&mut self, changes: impl Iterator<Item = (O, isize)>) {
        let before = self.pending.len();
        self.pending.extend(changes);
        self.only_added &= self.pending.len() == before;
        self.compact_if_due();
    }

    fn compact_if_due(&mut self) {
        if self.pending.len() > self.merged.len().max(1 << 16) {
            self.compact();
        }
    }

    /// Merges the pending changes into the consolidated run.
    pub(crate) fn compact(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let mut pending = std::mem::take(&mut self.pending);
        consolidate_in_parallel(&mut pending, self.threads);
        if self.merged.is_empty() {
            self.merged = pending;
            return;
        }
        let merged = std::mem::take(&mut self.merged);
        let mut out = Vec::with_capacity(merged.len() + pending.len());
        let (mut a, mut b) = (
            merged.into_iter().peekable(),
            pending.into_iter().peekable(),
        );
        loop {
            let next = match (a.peek(), b.peek()) {
                (Some(x), Some(y)) => match x.0.cmp(&y.0) {
                    std::cmp::Ordering::Less => a.next(),
                    std::cmp::Ordering::Greater => b.next(),
                    std::cmp::Ordering::Equal => {
                        let (record, diff) = a.next().expect("peeked");
                        let (_, more) = b.next().expect("peeked");
                        Some((record, diff + more))
                    }
                },
                (Some(_), None) => a.next(),
                (None, Some(_)) => b.next(),
                (None, None) => break,
            };
            if let Some(entry) = next.filter(|(_, diff)| *diff != 0) {
                out.push(entry);
            }
        }
        self.merged = out;
    }

    /// The consolidated records, sorted.
    pub(crate) fn records(&mut self) -> &[(O, isize)] {
        self.compact();
        &self.merged
    }

    /// The consolidated records, sorted; for the batch output of an insert-only plan, the records as
    /// they came (the same multiset, each copy with multiplicity 1), without a sort.
    pub(crate) fn into_records(mut self) -> Vec<(O, isize)> {
        if self.insert_only && self.only_added && self.merged.is_empty() {
            return self.pending;
        }
        self.compact();
        self.merged
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_insert_only_batch_is_handed_over_unsorted_and_a_stream_is_not() {
        let mut batch = Consolidated::new(true, 1);
        batch.add(vec![("b", 0, 1), ("a", 0, 1), ("b", 0, 1)]);
        assert_eq!(batch.into_records(), vec![("b", 1), ("a", 1), ("b", 1)]);
        let mut stream = Consolidated::new(true, 1);
        stream.add_changes(vec![("b", 1), ("a", 1)].into_iter());
        assert_eq!(stream.into_records(), vec![("a", 1), ("b", 1)]);
        let mut other = Consolidated::new(false, 2);
        other.add(vec![("b", 0, 1), ("a", 0, 1), ("b", 0, 1)]);
        assert_eq!(other.into_records(), vec![("a", 1), ("b", 2)]);
    }

    #[test]
    fn the_output_consolidates_across_compactions() {
        let mut view = Consolidated::default();
        view.add(vec![("b", 0, 1), ("a", 0, 1), ("b", 1, 1)]);
        view.compact();
        view.add_changes(vec![("a", -1), ("c", 2)].into_iter());
        assert_eq!(view.records(), &[("b", 2), ("c", 2)]);
        view.add_changes(vec![("b", -2), ("d", 1), ("d", -1)].into_iter());
        assert_eq!(view.into_records(), vec![("c", 2)]);
    }
}
