//! An embedded, durable, append-only event log: the source of truth of a Kappa
//! architecture. Pipelines replay it from any offset and then follow its tail.
//!
//! An [`EventLog`] lives in one directory. Every record gets an *offset* (dense, from 0),
//! carries an *event time* (milliseconds, by convention since the Unix epoch), the
//! *schema version* of its payload, the payload itself (serde-encoded with postcard) and a
//! CRC32 over all of it. Appends are grouped into batches that are written and flushed
//! together (group commit); readers see a record only once its batch is committed.
//!
//! # Files
//!
//! ```text
//! log-dir/
//!   LOCK                          exclusive write lock (held while a writer is open)
//!   HEAD                          commit marker: the durable head (see "Crash recovery")
//!   00000000000000000000.seg      records 0 .. 41_999
//!   00000000000000000000.idx      sparse offset index of the sealed segment above
//!   00000000000000042000.seg      records 42_000 .. head-1 (the active segment)
//! ```
//!
//! A segment file is named after the offset of its first record (its *base offset*,
//! twenty digits) and rolls over to a new segment when the next record would take it
//! past [`LogOptions::segment_bytes`]. Each segment starts with a 24-byte header,
//! followed by records back to back:
//!
//! ```text
//!  segment header (24 bytes)
//! +----------------+-----------+-----------+---------------+
//! | magic          | format    | reserved  | base offset   |
//! | "DFLOGSEG" (8) | u32 = 1   | u32 = 0   | u64           |
//! +----------------+-----------+-----------+---------------+
//!
//!  record (28-byte header + payload), all integers little-endian
//! +---------+---------+-----------+------------+-----------+-----------------+
//! | crc32   | len     | offset    | event time | schema    | payload         |
//! | u32     | u32     | u64       | u64 (ms)   | u32       | `len` bytes     |
//! +---------+---------+-----------+------------+-----------+-----------------+
//!            \__________________ covered by crc32 _________________________/
//! ```
//!
//! When a segment is sealed, its `.idx` file is written: one `(offset, byte position)`
//! entry every [`LogOptions::index_interval_bytes`] (4 KiB by default), a summary
//! (base offset, record count, segment length) and a CRC32. The active segment's index
//! is kept in memory and rebuilt when the log is opened. A seek therefore reads at most
//! one index interval of records; it never scans from the start of the log. An index
//! file is only a cache: if it is missing or does not match its segment, it is rebuilt
//! by scanning that one segment.
//!
//! # Durability: fsync policies
//!
//! [`Batch::commit`] writes the batch with one `write` call (one per segment if the
//! batch crosses a roll) and then flushes (`fdatasync`) according to the
//! [`FsyncPolicy`]:
//!
//! * [`FsyncPolicy::EveryCommit`]: flushed before `commit` returns. An acknowledged
//!   record survives a process crash, a kernel crash and a power failure.
//! * [`FsyncPolicy::EveryN(n)`](FsyncPolicy::EveryN): flushed once `n` records
//!   accumulated. A power failure may lose up to the last `n` acknowledged records.
//! * [`FsyncPolicy::Interval(d)`](FsyncPolicy::Interval): flushed on the first commit
//!   at least `d` after the previous flush. A power failure may lose the records
//!   acknowledged since the last flush.
//! * [`FsyncPolicy::Never`]: flushed on [`EventLog::sync`], when a segment is sealed,
//!   and when the last handle is dropped.
//!
//! Under every policy an acknowledged record survives the writing *process* crashing or
//! being killed (`SIGKILL`), since the data is in the operating system's cache once
//! `write` returned.
//!
//! # Crash recovery
//!
//! ## The commit marker
//!
//! After every flush of segment data the writer rewrites the 44-byte `HEAD` file (magic
//! `DFLOGHED`, format version, then the segment base, the head offset and the segment
//! length that were just flushed, and a CRC32). It is written *after* the flush and is
//! not flushed itself, so what is on disk may lag behind the flushed data but never runs
//! ahead of it. A missing or damaged marker (CRC mismatch) counts as no marker: logs
//! written before the marker existed open as before, and get one on their first writable
//! open.
//!
//! ## Torn tail or damage
//!
//! [`EventLog::open`] scans the last segment. A crash can leave a *torn tail* there: a
//! batch whose `write` was cut short (the file ends inside a record header, or before
//! the length a header declares), or, after a power failure, garbage the file system
//! exposes past the last flush. The first record of the last segment that is not
//! whole and valid, at byte position `p`, is judged by these rules, in order:
//!
//! 1. `p` is below the length the commit marker records as flushed: the record was
//!    committed and flushed, so this is **damage**, whatever is wrong with it.
//! 2. An intact record (valid checksum, plausible offset) follows it: **damage**.
//! 3. Bytes are missing (incomplete header, or declared length past the end of the
//!    file): a **torn tail**.
//! 4. All its bytes are there but the checksum fails (or it carries the wrong offset):
//!    a **torn tail** if the log has a commit marker (`p` is then past the flushed
//!    length, where a power failure can leave garbage), **damage** if it has none (a
//!    cut-short write never leaves a whole record with a bad checksum).
//!
//! A torn tail is truncated by a writable open, ignored by a read-only one, and in both
//! cases reported by [`EventLog::recovery`] as a [`Truncation`] (segment, offset, byte
//! position, bytes), and in [`SegmentReport::torn_tail_bytes`]; `dflog verify` prints
//! it. Damage is a [`LogError::Corrupt`] naming the segment file, the offset and the
//! byte position, and nothing is truncated, for example:
//!
//! ```text
//! corrupt record in segment 00000000000000000000.seg at offset 1234 (byte 56789): checksum mismatch (...)
//! ```
//!
//! A last segment shorter than the length the marker records as flushed is damage too
//! ([`CorruptReason::ShorterThanDurable`]). So is any damage in a sealed segment.
//!
//! What this guarantees: an offset whose record was flushed (every acknowledged offset
//! under [`FsyncPolicy::EveryCommit`]; under the other policies, every offset up to the
//! last flush) is never handed out again for a different record, and a crash of the
//! writing *process* never loses an acknowledged record under any policy. What it
//! cannot: after a *power failure* under a policy other than `EveryCommit`, records
//! acknowledged since the last flush may be lost, and their offsets are then given to
//! new records.
//!
//! ## Missing segments and other directories
//!
//! There is no trimming: the first segment starts at offset 0, each segment starts
//! where the one before it ends, and a sealed segment (one with an index file that
//! describes it whole) is always followed by another, since the writer creates the next
//! segment before it writes the index. Opening a log whose first segment is missing,
//! with a gap between segments, with a sealed last segment, or whose commit marker
//! names a later segment than the last one present is a [`LogError::MissingSegment`]
//! naming the missing file; a writer does not recreate it.
//!
//! A directory that holds files but no segment and no commit marker is not a log:
//! both opens refuse it with [`LogError::NotALog`] and write nothing into it. A missing
//! or empty directory gets a new log from [`EventLog::open`] and is a
//! [`LogError::NoLog`] for [`EventLog::open_read_only`].
//!
//! ## Checks
//!
//! Sealed segments are checked against their index summary when the log is opened and
//! record by record when read; [`EventLog::verify`] (and `dflog verify`) checks every
//! checksum. A length field is checked against the bytes left in the segment before
//! anything is allocated, so a damaged file cannot make a reader allocate more than the
//! file holds.
//!
//! # Schema versions
//!
//! A payload type implements [`Schema`], which names its [`Schema::VERSION`]. Records
//! keep the version they were written with. [`LogRecord::decode`] decodes the current
//! version directly, passes older versions to [`Schema::upgrade`] (see
//! [`upgrade_from`]) and reports newer or unknown versions as [`LogError::Decode`] with
//! the record's offset and version.
//!
//! # Readers
//!
//! [`EventLog::read_from`] reads from any offset up to the head at the time of the call;
//! [`EventLog::follow_from`] returns a [`Follower`] that, at the head, waits on a
//! condition variable for the next commit. The handle is `Clone + Send + Sync`, so
//! appends may run on other threads while readers replay. Another process can read a
//! log directory with [`EventLog::open_read_only`], which stops at the last whole record.
//! Such a handle picks up what the writing process appends with [`EventLog::refresh`],
//! and its [`Follower`]s do so by themselves every [`READ_ONLY_POLL`]; both read only
//! the bytes appended since they last looked. Reopening the same directory read-only in
//! the same process also resumes the scan of the last segment where the previous open
//! stopped, if that file only grew.
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//! use dataflow_log::{EventLog, FsyncPolicy, LogOptions, Schema};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize, Debug, PartialEq)]
//! struct Sale {
//!     item: String,
//!     cents: u64,
//! }
//! impl Schema for Sale {
//!     const VERSION: u32 = 1;
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let log = EventLog::open(
//!     dir.path(),
//!     LogOptions::default().fsync(FsyncPolicy::EveryCommit).segment_bytes(64 << 20),
//! )?;
//!
//! let mut batch = log.batch();
//! batch.push(1_000, &Sale { item: "tea".into(), cents: 250 })?;
//! batch.push(1_005, &Sale { item: "cake".into(), cents: 400 })?;
//! assert_eq!(batch.commit()?, 0..2);
//! assert_eq!(log.head(), 2);
//!
//! for record in log.read_from(1)? {
//!     let record = record?;
//!     let sale: Sale = record.decode()?;
//!     assert_eq!((record.offset, record.event_time), (1, 1_005));
//!     assert_eq!(sale, Sale { item: "cake".into(), cents: 400 });
//! }
//!
//! let mut tail = log.follow_from(2)?;
//! assert_eq!(tail.next_timeout(Duration::from_millis(10))?, None);
//! log.append(1_010, &Sale { item: "pie".into(), cents: 300 })?;
//! let record = tail.next_timeout(Duration::from_millis(10))?.expect("committed");
//! assert_eq!(record.offset, 2);
//!
//! let reports = log.verify()?;
//! assert_eq!(reports[0].records, 3);
//! # Ok(())
//! # }
//! ```

mod error;
mod format;
mod log;
mod memory;
mod options;
mod reader;
mod recovery;
mod scan;
mod schema;
mod shapes;
mod shared;
mod tail;
mod verify;

pub use error::{CorruptReason, DecodeError, LogError};
pub use format::{FORMAT_VERSION, MAX_PAYLOAD, RECORD_HEADER_LEN, SEGMENT_HEADER_LEN};
pub use log::{Batch, EventLog};
pub use options::{FsyncPolicy, LogOptions};
pub use reader::{Follower, LogReader, READ_ONLY_POLL};
pub use recovery::Truncation;
pub use schema::{LogRecord, RecordRef, Schema, decode_versioned, shape_fingerprint, upgrade_from};
pub use shapes::differences as shape_differences;
pub use verify::SegmentReport;

#[cfg(test)]
mod tests;
