//! The record types every part of the runtime shares: what a record must be ([`Record`]), an ordered
//! float ([`F64`]), a record's place in event time ([`Stamp`]), the rows a `reduce` sees ([`Rows`]), and
//! the hash map of keyed operator state.

use serde::{Deserialize, Serialize};

/// The hash map of keyed operator state: foldhash, a fast hasher with good quality for keys that are
/// not chosen by an adversary (the same family differential-dataflow uses to exchange records).
pub(crate) type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// What the records of a pipeline must be: cloneable, ordered, hashable, printable, serializable (so
/// that they can cross process boundaries) and `'static`. Derive
/// `Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize` on a struct to get it.
pub trait Record: differential_dataflow::ExchangeData + std::hash::Hash {}
impl<T: differential_dataflow::ExchangeData + std::hash::Hash> Record for T {}

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
