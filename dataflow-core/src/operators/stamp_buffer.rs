//! Records held until the watermark passes their stamps, given back in stamp order.
//!
//! The buffer keeps its records in runs of at most [`RUN`] records, in arrival order. A run is sorted
//! when records are taken from it; the ready records are a prefix of every sorted run, and the
//! prefixes are merged. No run is ever copied to grow beyond [`RUN`], so a batch that holds its whole
//! input until the end (every record is ready only then) costs its records and no more: one flat
//! vector would hold up to three times that while it doubles and while it sorts.
//!
//! ```text
//!  push ─▶ [run 0: 65536 records] [run 1: 65536] [run 2: 1200]     (arrival order)
//!  take ─▶ sort each run, cut each at the watermark, merge the prefixes ─▶ stamp order
//! ```

use crate::record::Stamp;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Records per run.
const RUN: usize = 1 << 16;

/// One run: records in arrival order, or sorted by stamp once taken from.
struct Run<T> {
    records: Vec<(Stamp, T)>,
    sorted: bool,
}

/// Records with stamps, taken in stamp order (records with equal stamps in arrival order).
pub(crate) struct StampBuffer<T> {
    runs: Vec<Run<T>>,
    /// The least event time held (meaningless when empty).
    earliest: u64,
}

impl<T> StampBuffer<T> {
    /// An empty buffer.
    pub(crate) fn new() -> Self {
        StampBuffer {
            runs: Vec::new(),
            earliest: 0,
        }
    }

    /// Whether the buffer holds no record.
    pub(crate) fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }

    /// Holds `record` at `stamp`.
    pub(crate) fn push(&mut self, stamp: Stamp, record: T) {
        if self.runs.is_empty() || stamp.time < self.earliest {
            self.earliest = stamp.time;
        }
        match self.runs.last_mut() {
            Some(run) if run.records.len() < RUN => {
                if run.records.last().is_some_and(|(last, _)| *last > stamp) {
                    run.sorted = false;
                }
                run.records.push((stamp, record));
            }
            last => {
                // The first run grows as it fills; later ones start at their full size.
                let capacity = if last.is_some() { RUN } else { 0 };
                let mut records = Vec::with_capacity(capacity);
                records.push((stamp, record));
                self.runs.push(Run {
                    records,
                    sorted: true,
                });
            }
        }
    }

    /// Takes every record whose event time is `ready` (a predicate true up to some time and false
    /// after it), in stamp order, and gives each to `take`.
    pub(crate) fn take_ready(
        &mut self,
        ready: impl Fn(u64) -> bool,
        mut take: impl FnMut(Stamp, T),
    ) {
        if self.runs.is_empty() || !ready(self.earliest) {
            return;
        }
        for run in &mut self.runs {
            if !run.sorted {
                // Stable, and quick on runs already nearly in order.
                run.records.sort_by_key(|(stamp, _)| *stamp);
                run.sorted = true;
            }
        }
        let mut prefixes: Vec<_> = self
            .runs
            .iter_mut()
            .filter_map(|run| {
                let cut = run.records.partition_point(|(stamp, _)| ready(stamp.time));
                (cut > 0).then(|| run.records.drain(..cut).peekable())
            })
            .collect();
        if let [only] = prefixes.as_mut_slice() {
            only.for_each(|(stamp, record)| take(stamp, record));
        } else {
            // Equal stamps come from the earlier run first: arrival order.
            let mut heads: BinaryHeap<Reverse<(Stamp, usize)>> = prefixes
                .iter_mut()
                .enumerate()
                .filter_map(|(i, prefix)| Some(Reverse((prefix.peek()?.0, i))))
                .collect();
            while let Some(Reverse((_, i))) = heads.pop() {
                if let Some((stamp, record)) = prefixes[i].next() {
                    take(stamp, record);
                }
                if let Some((next, _)) = prefixes[i].peek() {
                    heads.push(Reverse((*next, i)));
                }
            }
        }
        drop(prefixes);
        self.runs.retain(|run| !run.records.is_empty());
        // Every run is sorted now: its first record is its earliest.
        if let Some(earliest) = self
            .runs
            .iter()
            .filter_map(|run| run.records.first().map(|(stamp, _)| stamp.time))
            .min()
        {
            self.earliest = earliest;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn stamp(time: u64, seq: u64) -> Stamp {
        Stamp { time, seq }
    }

    proptest! {
        /// Whatever the arrival order and however the watermark moves, records come out once each,
        /// in stamp order, ties in arrival order, and only when ready.
        #[test]
        fn records_come_out_in_stamp_order_once_ready(
            times in proptest::collection::vec(0u64..50, 0..3000),
            watermarks in proptest::collection::vec(0u64..60, 0..6),
        ) {
            let mut buffer = StampBuffer::new();
            // Equal stamps for every tenth record, to check ties keep arrival order.
            let records: Vec<(Stamp, usize)> = times
                .iter()
                .enumerate()
                .map(|(i, &t)| (stamp(t, (i / 10) as u64), i))
                .collect();
            let mut taken = Vec::new();
            let mut cut = 0;
            let mut pushed = 0;
            for (round, &w) in watermarks.iter().chain([&u64::MAX]).enumerate() {
                let until = if w == u64::MAX { records.len() } else { (records.len() * (round + 1) / 7).min(records.len()) };
                for &(s, i) in &records[pushed..until.max(pushed)] {
                    buffer.push(s, i);
                }
                pushed = pushed.max(until);
                let bound = w.max(cut);
                cut = bound;
                let before = taken.len();
                buffer.take_ready(|t| bound == u64::MAX || t < bound, |s, i| taken.push((s, i)));
                prop_assert!(taken[before..].iter().all(|(s, _)| bound == u64::MAX || s.time < bound));
                prop_assert!(taken[before..].windows(2).all(|w| w[0] <= w[1]));
            }
            prop_assert!(buffer.is_empty());
            prop_assert_eq!(taken.len(), records.len());
            let mut ids: Vec<usize> = taken.iter().map(|&(_, i)| i).collect();
            ids.sort_unstable();
            prop_assert_eq!(ids, (0..records.len()).collect::<Vec<_>>());
        }
    }

    #[test]
    fn runs_are_merged_in_stamp_order() {
        let mut buffer = StampBuffer::new();
        let n = 3 * RUN + 17;
        for i in 0..n {
            // Descending within each run, so every run needs its sort.
            let time = (n - i) as u64 % 1000;
            buffer.push(stamp(time, i as u64), i);
        }
        let mut taken = Vec::new();
        buffer.take_ready(|t| t < 500, |s, _| taken.push(s));
        assert!(taken.windows(2).all(|w| w[0] <= w[1]));
        assert!(taken.iter().all(|s| s.time < 500));
        buffer.take_ready(|_| true, |s, _| taken.push(s));
        assert_eq!(taken.len(), n);
        assert!(buffer.is_empty());
    }
}
