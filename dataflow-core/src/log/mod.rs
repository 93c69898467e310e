//! The log abstraction every replay goes through: append records with their event time and schema
//! version, read them from a position, know the head, wait for new records.
//!
//! Replay, follow, deployments and checkpoints ([`crate::kappa`]) are written against [`Log`] and
//! [`Tail`], so a second backend plugs in without touching them. The embedded file log of the
//! `dataflow-log` crate ([`EventLog`]) has one partition, whose position is a `u64` offset. The
//! Kafka-protocol backend (`KafkaLog`, feature `kafka`) reads a topic of several partitions; its
//! position is [`Offsets`], one offset per partition, and each step it reads has a [`Split`]. A
//! command line names either with [`LogLocation`]: a directory, or `kafka://HOST:PORT/TOPIC`.
//!
//! ```text
//!  ingest ─▶ Log::append ─▶ [ log: offsets 0 .. head ] ─▶ Log::tail(from) ─▶ Tail::read / wait ─▶ replay
//! ```

mod entry;
mod file;
#[cfg(feature = "kafka")]
mod kafka;
mod location;
mod partitioned;

pub use dataflow_log::{
    DecodeError, EventLog, FsyncPolicy, LogError, LogOptions, LogRecord, Schema, shape_fingerprint,
    upgrade_from,
};
pub use entry::{Entry2, Entry3, LoggedInputs};
pub use file::FileTail;
#[cfg(feature = "kafka")]
pub use kafka::{KafkaAddress, KafkaLog, KafkaOptions, KafkaTail, Partitioner};
pub use location::LogLocation;
pub use partitioned::{Offsets, Split};

use crate::error::Error;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt::{Debug, Display};
use std::time::Duration;

/// Where a reader stands in a log: every record before the position has been read, none after it.
/// The start of a log is `Position::default()`.
pub trait Position:
    Clone + Debug + Display + Default + Eq + Serialize + DeserializeOwned + Send + Sync + 'static
{
    /// Whether every record before `other` is also before `self` (for one partition: `self >= other`).
    fn covers(&self, other: &Self) -> bool;

    /// How many records lie before the position, over every partition (for progress).
    fn records(&self) -> u64;

    /// The least position that covers both `self` and `other` (partition by partition, the later
    /// offset): where a cluster stands when each process read its own partitions.
    fn join(&self, other: &Self) -> Self;
}

impl Position for u64 {
    fn covers(&self, other: &Self) -> bool {
        self >= other
    }

    fn records(&self) -> u64 {
        *self
    }

    fn join(&self, other: &Self) -> Self {
        (*self).max(*other)
    }
}

/// A durable, append-only log of events, each with an event time and a schema version.
pub trait Log: Clone + Send + Sync + 'static {
    /// A position in this log.
    type Position: Position;
    /// A reader of records of type `I` that can follow the tail.
    type Tail<I: Schema + 'static>: Tail<I, Position = Self::Position>;

    /// The log's name in messages: its directory, or its address.
    fn name(&self) -> String;

    /// The position after the last committed record.
    fn head(&self) -> Self::Position;

    /// A reader of the records from position `from` on.
    fn tail<I: Schema + 'static>(&self, from: Self::Position) -> Result<Self::Tail<I>, Error>;

    /// How many partitions the log has (the file log: one).
    fn partitions(&self) -> usize {
        1
    }

    /// A reader of only `partitions` (a process's share in a cluster), from `from` on: the other
    /// partitions are never read, and the reader's position keeps them at `from`. The default, for
    /// a log of one partition, reads it when it is named.
    fn tail_of<I: Schema + 'static>(
        &self,
        from: Self::Position,
        partitions: &[usize],
    ) -> Result<Self::Tail<I>, Error> {
        if partitions == [0] {
            self.tail(from)
        } else {
            Err(Error::Usage(format!(
                "{} has one partition; partitions {partitions:?} were asked for",
                self.name()
            )))
        }
    }

    /// Appends `records` (event time, record) and commits them durably as one batch; returns the
    /// positions before and after them.
    fn append<I: Schema>(
        &self,
        records: &[(u64, I)],
    ) -> Result<(Self::Position, Self::Position), Error>;
}

/// The partitions process `process` of `processes` reads in a cluster: every `processes`-th, from
/// its own index on (process 0 reads partition 0, the file log's only one).
pub fn partitions_of(process: usize, processes: usize, partitions: usize) -> Vec<usize> {
    (0..partitions)
        .filter(|partition| partition % processes.max(1) == process)
        .collect()
}

/// A reader of a [`Log`]'s records, in order, that can wait at the head for new ones.
pub trait Tail<I>: Send + 'static {
    /// A position in the log.
    type Position: Position;

    /// The position of the next record: every record before it has been read.
    fn position(&self) -> Self::Position;

    /// The log's head as this reader sees it.
    fn head(&self) -> Self::Position;

    /// Appends up to `max` committed records to `into` without waiting; returns how many.
    fn read(&mut self, max: usize, into: &mut Vec<I>) -> Result<usize, Error>;

    /// Waits up to `timeout` for at least one new record, then appends up to `max` committed records
    /// to `into`; returns how many (0 if none arrived in time).
    fn wait(&mut self, max: usize, timeout: Duration, into: &mut Vec<I>) -> Result<usize, Error>;

    /// A partitioned log: what the last [`Tail::read`] or [`Tail::wait`] took from each partition and
    /// the event-time floor after it. `None` for a log of one partition, whose reads are told apart
    /// by their sizes alone (the default).
    fn split(&self) -> Option<Split> {
        None
    }

    /// A partitioned log: reads exactly `split.counts[p]` records of each partition `p`, as the read
    /// that returned `split` did (a restart rebuilds a checkpointed step with it); returns how many.
    /// Fewer than `split.len()` means the log ends before them.
    fn read_split(&mut self, split: &Split, into: &mut Vec<I>) -> Result<usize, Error> {
        let max = usize::try_from(split.len()).unwrap_or(usize::MAX);
        self.read(max, into)
    }
}
