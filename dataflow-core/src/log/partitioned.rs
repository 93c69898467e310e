//! Positions in a partitioned log: one offset per partition, and the shape of a step read from
//! several partitions, which a checkpoint's journal keeps so that a restart rebuilds the same steps.
//!
//! ```text
//!  partition 0: [0 1 2 3 4 5 ▏6 7]      Offsets([6, 3, 0])
//!  partition 1: [0 1 2 ▏3]              every record before each offset has been read
//!  partition 2: ▏(empty)
//! ```

use serde::{Deserialize, Serialize};
use std::fmt;

/// Where a reader stands in a partitioned log: the offset of the next record of each partition.
/// A partition without an entry (the default, `Offsets(vec![])`, is the start of any log) stands at
/// offset 0.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Offsets(pub Vec<u64>);

impl Offsets {
    /// `partitions` partitions, each at offset 0.
    pub fn start(partitions: usize) -> Self {
        Offsets(vec![0; partitions])
    }

    /// The offset of the next record of `partition`.
    pub fn get(&self, partition: usize) -> u64 {
        self.0.get(partition).copied().unwrap_or(0)
    }

    /// The number of partitions this position names (0 for the start of any log).
    pub fn partitions(&self) -> usize {
        self.0.len()
    }

    /// The records between `self` and `later`, over every partition.
    pub fn records_until(&self, later: &Offsets) -> u64 {
        (0..self.partitions().max(later.partitions()))
            .map(|p| later.get(p).saturating_sub(self.get(p)))
            .sum()
    }

    /// Parses `5,0,12` (one offset per partition, in partition order).
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim().trim_start_matches('[').trim_end_matches(']');
        if text.trim().is_empty() {
            return Ok(Offsets::default());
        }
        text.split(',')
            .map(|part| {
                part.trim().parse::<u64>().map_err(|e| {
                    format!("`{part}` is not an offset ({e}): write one offset per partition, as in 5,0,12")
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Offsets)
    }
}

impl fmt::Display for Offsets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (partition, offset) in self.0.iter().enumerate() {
            if partition > 0 {
                f.write_str(",")?;
            }
            write!(f, "{offset}")?;
        }
        f.write_str("]")
    }
}

impl super::Position for Offsets {
    /// Every partition's offset is at least `other`'s.
    fn covers(&self, other: &Self) -> bool {
        (0..self.partitions().max(other.partitions())).all(|p| self.get(p) >= other.get(p))
    }

    fn records(&self) -> u64 {
        self.0.iter().sum()
    }

    fn join(&self, other: &Self) -> Self {
        Offsets(
            (0..self.partitions().max(other.partitions()))
                .map(|p| self.get(p).max(other.get(p)))
                .collect(),
        )
    }
}

/// What one read of a partitioned log took: how many records of each partition (the step holds
/// them partition by partition, in partition order), and the event-time floor after it: the least,
/// over the partitions that are not idle, of the greatest event time read from each (`None` when
/// every partition is idle). The watermark of an event-time pipeline never passes the floor minus
/// the maximum delay, so a slow partition holds it back and an idle one does not.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Split {
    /// Records taken from each partition.
    pub counts: Vec<u64>,
    /// The event-time floor after the read, ms.
    pub floor: Option<u64>,
}

impl Split {
    /// The records the read took over every partition.
    pub fn len(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Whether the read took no record.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::Position;

    #[test]
    fn offsets_cover_partition_by_partition() {
        let a = Offsets(vec![5, 3]);
        assert!(a.covers(&Offsets(vec![5, 2])));
        assert!(a.covers(&Offsets::default()));
        assert!(!a.covers(&Offsets(vec![4, 4])));
        assert!(!a.covers(&Offsets(vec![5, 3, 1])));
        assert!(Offsets(vec![0, 0]).covers(&Offsets::default()));
        assert_eq!(Offsets::default().records_until(&a), 8);
        assert_eq!(a.join(&Offsets(vec![2, 7, 1])), Offsets(vec![5, 7, 1]));
        assert_eq!(Offsets::default().join(&a), a);
    }

    #[test]
    fn offsets_print_and_parse() {
        let a = Offsets(vec![5, 0, 12]);
        assert_eq!(a.to_string(), "[5,0,12]");
        assert_eq!(Offsets::parse("5,0,12").unwrap(), a);
        assert_eq!(Offsets::parse("[5,0,12]").unwrap(), a);
        assert_eq!(Offsets::parse("").unwrap(), Offsets::default());
        assert!(
            Offsets::parse("5,x")
                .unwrap_err()
                .contains("`x` is not an offset")
        );
    }
}
