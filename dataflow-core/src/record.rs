//! The record types every part of the runtime shares: what a record must be ([`Record`]), an ordered
//! float ([`F64`]), a record's place in event time ([`Stamp`]), the rows a `reduce` sees ([`Rows`]), and
//! the hash map of keyed operator state.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The hash map of keyed operator state: foldhash, a fast hasher with good quality for keys that are
/// not chosen by an adversary (the same family differential-dataflow uses to exchange records).
pub(crate) type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// What the records of a pipeline must be: cloneable, ordered, hashable, printable, serializable (so
/// that they can cross process boundaries) and `'static`. Derive
/// `Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash` and add `#[record]` on a struct to get it.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a record: a record is `Clone + Debug + Ord + Hash`, serializable and owns its data",
    label = "`{Self}` is not a record",
    note = "for a struct or enum of your own, derive `Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash` and add `#[record]`",
    note = "`f64` is neither `Ord` nor `Hash`: use `F64` (an `f64` ordered by `total_cmp`), an exact `Decimal`, or integers such as cents",
    note = "a reference such as `&String` borrows from another record: clone it, as in `v.url.clone()`"
)]
pub trait Record:
    Clone + std::fmt::Debug + Ord + std::hash::Hash + Send + Serialize + DeserializeOwned + 'static
{
}
#[diagnostic::do_not_recommend]
impl<
    T: Clone + std::fmt::Debug + Ord + std::hash::Hash + Send + Serialize + DeserializeOwned + 'static,
> Record for T
{
}

/// An `f64` that can be part of a record: ordered by [`f64::total_cmp`], hashed by its bits, and
/// serialized as a plain number. `mean` returns it.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct F64(pub f64);

impl PartialEq for F64 {
    fn eq(&self, other: &Self) -> bool {
        self.0.total_cmp(&other.0).is_eq()
    }
}
impl Eq for F64 {}
impl PartialOrd for F64 {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for F64 {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}
impl std::hash::Hash for F64 {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.to_bits().hash(state)
    }
}

/// Where a record stands in event time: its event time (ms, from the data) and its position in the
/// input, which orders records with equal times.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Stamp {
    /// Event time, milliseconds since the Unix epoch.
    pub time: u64,
    /// Position in the input.
    pub seq: u64,
}

/// The records of one key, as a `reduce` stage sees them: each value with its multiplicity.
#[derive(Clone, Copy, Debug)]
pub struct Rows<'a, V> {
    rows: &'a [(&'a V, isize)],
}

impl<'a, V> Rows<'a, V> {
    pub(crate) fn new(rows: &'a [(&'a V, isize)]) -> Self {
        Rows { rows }
    }

    /// Every record, repeated as often as it occurs, in ascending order.
    pub fn iter(&self) -> impl Iterator<Item = &'a V> + 'a {
        self.rows
            .iter()
            .flat_map(|(value, count)| std::iter::repeat_n(*value, (*count).max(0) as usize))
    }

    /// Each distinct record with the number of times it occurs, in ascending order.
    pub fn counts(&self) -> impl Iterator<Item = (&'a V, isize)> + 'a {
        self.rows.iter().map(|(value, count)| (*value, *count))
    }

    /// The number of records, counting repeats.
    pub fn len(&self) -> usize {
        self.rows
            .iter()
            .map(|(_, count)| (*count).max(0) as usize)
            .sum()
    }

    /// Whether there are no records.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<'a, V> IntoIterator for Rows<'a, V> {
    type Item = &'a V;
    type IntoIter = Box<dyn Iterator<Item = &'a V> + 'a>;
    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
    }
}

/// Sorts `updates` by record and sums the multiplicities of equal records, dropping those that sum to
/// zero: differential-dataflow's `consolidate`, with an unstable sort. Equal records are summed, so
/// their order does not matter, and an unstable sort needs no buffer; on the 10 M-record outputs of a
/// batch run it is markedly faster than the stable sort differential-dataflow uses.
pub(crate) fn consolidate<T: Ord>(updates: &mut Vec<(T, isize)>) {
    if updates.len() < 2 {
        updates.retain(|(_, diff)| *diff != 0);
        return;
    }
    updates.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let mut kept = 0;
    for index in 1..updates.len() {
        if updates[index].0 == updates[kept].0 {
            let diff = updates[index].1;
            updates[kept].1 += diff;
        } else {
            if updates[kept].1 != 0 {
                kept += 1;
            }
            updates.swap(kept, index);
        }
    }
    if updates[kept].1 != 0 {
        kept += 1;
    }
    updates.truncate(kept);
}

/// [`consolidate`] by `threads` threads: each sorts a contiguous part, then the sorted parts are
/// merged, summing equal records and dropping zeros. The same result, for large outputs sooner.
pub(crate) fn consolidate_in_parallel<T: Ord + Send>(
    updates: &mut Vec<(T, isize)>,
    threads: usize,
) {
    if threads <= 1 || updates.len() < 1 << 16 {
        consolidate(updates);
        return;
    }
    let per_thread = updates.len().div_ceil(threads);
    std::thread::scope(|scope| {
        for part in updates.chunks_mut(per_thread) {
            scope.spawn(move || part.sort_unstable_by(|a, b| a.0.cmp(&b.0)));
        }
    });
    let mut runs = Vec::with_capacity(threads);
    while updates.len() > per_thread {
        let at = (updates.len() - 1) / per_thread * per_thread;
        runs.push(updates.split_off(at));
    }
    runs.push(std::mem::take(updates));
    // Merge the sorted runs pairwise until one is left.
    while runs.len() > 1 {
        let a = runs.pop().expect("two runs");
        let b = runs.pop().expect("two runs");
        runs.push(merge_sorted(a, b));
    }
    let mut merged = runs.pop().unwrap_or_default();
    merged.retain(|(_, diff)| *diff != 0);
    *updates = merged;
}

/// Merges two runs sorted by record into one, summing the multiplicities of equal records.
fn merge_sorted<T: Ord>(a: Vec<(T, isize)>, b: Vec<(T, isize)>) -> Vec<(T, isize)> {
    let mut out: Vec<(T, isize)> = Vec::with_capacity(a.len() + b.len());
    let (mut a, mut b) = (a.into_iter().peekable(), b.into_iter().peekable());
    loop {
        let next = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) if x.0 <= y.0 => a.next(),
            (Some(_), Some(_)) => b.next(),
            (Some(_), None) => a.next(),
            (None, Some(_)) => b.next(),
            (None, None) => break,
        };
        let Some((record, diff)) = next else { break };
        match out.last_mut() {
            Some(last) if last.0 == record => last.1 += diff,
            _ => out.push((record, diff)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{consolidate, consolidate_in_parallel};

    #[test]
    fn parallel_consolidation_equals_consolidation() {
        let updates: Vec<(u32, isize)> = (0..200_000u32)
            .map(|i| {
                (
                    i.wrapping_mul(2_654_435_761) % 50_000,
                    if i % 7 == 0 { -1 } else { 1 },
                )
            })
            .collect();
        let mut one = updates.clone();
        consolidate(&mut one);
        for threads in [2, 3] {
            let mut many = updates.clone();
            consolidate_in_parallel(&mut many, threads);
            assert_eq!(many, one, "{threads} threads");
        }
    }

    #[test]
    fn consolidation_sums_equal_records_and_drops_zeros() {
        let mut updates = vec![("b", 1), ("a", 2), ("b", -1), ("c", 1), ("a", 1), ("d", 0)];
        consolidate(&mut updates);
        assert_eq!(updates, vec![("a", 3), ("c", 1)]);
        let mut zeros = vec![("x", 1), ("x", -1)];
        consolidate(&mut zeros);
        assert!(zeros.is_empty());
        let mut one = vec![("y", 0)];
        consolidate(&mut one);
        assert!(one.is_empty());
    }
}
