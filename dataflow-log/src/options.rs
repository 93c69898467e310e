//! How a log is opened: [`FsyncPolicy`] and [`LogOptions`].

use std::time::Duration;

use crate::format::SEGMENT_HEADER_LEN;

/// When appended records are flushed to stable storage (`fdatasync`).
///
/// Every policy writes a committed batch to the segment file (one `write` call per
/// segment touched) before [`Batch::commit`](crate::Batch::commit) returns, so an acknowledged batch survives
/// the writing process crashing or being killed: the data sits in the operating
/// system's page cache. The policies differ in what survives a power failure or kernel
/// crash:
///
/// | policy | an acknowledged record survives power loss once | may be lost on power loss |
/// |---|---|---|
/// | `EveryCommit` | `commit` returned | nothing acknowledged |
/// | `EveryN(n)` | `n` more records were committed after it | up to the last `n - 1` records, plus the batch that crossed the threshold if it was still in flight |
/// | `Interval(d)` | the first commit at least `d` after the previous flush returned | the records committed since the last flush |
/// | `Never` | [`EventLog::sync`](crate::EventLog::sync) returned, a segment rolled, or the last handle was dropped | everything since the last of those |
///
/// Sealing a segment (rolling to a new one) always flushes it, whatever the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// Flush before every commit returns: the slowest and the only policy under which
    /// an acknowledged record can never be lost.
    EveryCommit,
    /// Flush when at least this many records were committed since the last flush.
    EveryN(u64),
    /// Flush on the first commit that finds at least this much time passed since the
    /// last flush. No background thread: if appends stop, the last records stay
    /// unflushed until the next commit, [`EventLog::sync`](crate::EventLog::sync) or the last handle's drop.
    Interval(Duration),
    /// Leave flushing to the operating system (and to [`EventLog::sync`](crate::EventLog::sync)).
    Never,
}

/// How a log is opened: the fsync policy, the segment size and the index density.
#[derive(Debug, Clone)]
pub struct LogOptions {
    pub(crate) fsync: FsyncPolicy,
    pub(crate) segment_bytes: u64,
    pub(crate) index_interval_bytes: u64,
}

impl Default for LogOptions {
    /// [`FsyncPolicy::EveryCommit`], 64 MiB segments, one index entry per 4 KiB.
    fn default() -> Self {
        LogOptions {
            fsync: FsyncPolicy::EveryCommit,
            segment_bytes: 64 << 20,
            index_interval_bytes: 4096,
        }
    }
}

impl LogOptions {
    /// Sets the fsync policy.
    pub fn fsync(mut self, policy: FsyncPolicy) -> Self {
        self.fsync = policy;
        self
    }

    /// Sets the size at which a segment is sealed and a new one started. A segment never
    /// grows past it, except that a single record larger than the limit gets a segment
    /// of its own.
    pub fn segment_bytes(mut self, bytes: u64) -> Self {
        self.segment_bytes = bytes.max(SEGMENT_HEADER_LEN + 1);
        self
    }

    /// Sets the distance in bytes between two entries of the sparse offset index: a seek
    /// reads at most about this many bytes before reaching the requested record.
    pub fn index_interval_bytes(mut self, bytes: u64) -> Self {
        self.index_interval_bytes = bytes.max(1);
        self
    }

    /// The fsync policy.
    pub fn fsync_policy(&self) -> FsyncPolicy {
        self.fsync
    }

    /// The segment size limit in bytes.
    pub fn segment_limit(&self) -> u64 {
        self.segment_bytes
    }
}
