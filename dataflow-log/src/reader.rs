//! Readers: [`LogReader`] reads committed records in order from any offset, and
//! [`Follower`] keeps reading as new records are committed.

use std::fs::File;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::{CorruptReason, LogError, io_err};
use crate::format::{
    self, IndexEntry, IndexSummary, RecordHeader, SEGMENT_HEADER_LEN, SegmentCursor, Step,
};
use crate::scan::check_header;
use crate::schema::{LogRecord, RecordRef};
use crate::shared::Shared;

/// How often a [`Follower`] of a log opened read-only looks for new records while it
/// waits in [`Follower::next_timeout`].
pub const READ_ONLY_POLL: Duration = Duration::from_millis(50);

/// A reader positioned in one segment.
struct OpenSegment {
    base: u64,
    cursor: SegmentCursor,
    /// The offset of the next record the cursor will return.
    expected: u64,
}

/// Reads committed records in offset order, with large buffered reads.
///
/// Created by [`EventLog::read_from`](crate::EventLog::read_from) (which stops at the
/// head at the time of the call) or inside a [`Follower`]. It is an [`Iterator`] of
/// owned [`LogRecord`]s; [`LogReader::next_ref`] avoids the copy of each payload. After
/// an error the reader ends.
pub struct LogReader {
    shared: Arc<Shared>,
    /// The next offset to return.
    next: u64,
    /// Where to stop, or `None` to read up to the moving head.
    stop: Option<u64>,
    /// The head as last seen (for a following reader).
    known_head: u64,
    segment: Option<OpenSegment>,
    failed: bool,
}

impl std::fmt::Debug for LogReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogReader")
            .field("next", &self.next)
            .field("stop", &self.stop)
            .finish()
    }
}

impl LogReader {
    pub(crate) fn new(shared: Arc<Shared>, offset: u64, stop: Option<u64>) -> Self {
        LogReader {
            shared,
            next: offset,
            stop,
            known_head: 0,
            segment: None,
            failed: false,
        }
    }

    /// The offset of the next record this reader returns.
    pub fn position(&self) -> u64 {
        self.next
    }

    /// Reads the next record without copying its payload; `Ok(None)` at the end.
    pub fn next_ref(&mut self) -> Result<Option<RecordRef<'_>>, LogError> {
        if self.failed {
            return Ok(None);
        }
        let header = match self.advance() {
            Ok(Some(header)) => header,
            Ok(None) => return Ok(None),
            Err(e) => {
                self.failed = true;
                self.segment = None;
                return Err(e);
            }
        };
        let Some(segment) = &self.segment else {
            return Ok(None);
        };
        Ok(Some(RecordRef {
            offset: header.offset,
            event_time: header.event_time,
            schema_version: header.version,
            payload: segment.cursor.payload(),
        }))
    }

    fn at_end(&mut self) -> bool {
        match self.stop {
            Some(stop) => self.next >= stop,
            None => {
                if self.next < self.known_head {
                    return false;
                }
                self.known_head = self.shared.head();
                self.next >= self.known_head
            }
        }
    }

    fn advance(&mut self) -> Result<Option<RecordHeader>, LogError> {
        if self.at_end() {
            // A follower of a read-only log looks for what another process appended.
            if self.stop.is_some() || !self.shared.read_only {
                return Ok(None);
            }
            crate::tail::refresh(&self.shared)?;
            if self.at_end() {
                return Ok(None);
            }
        }
        loop {
            let segment = match &mut self.segment {
                Some(segment) => segment,
                None => self
                    .segment
                    .insert(open_segment_at(&self.shared, self.next)?),
            };
            let position = segment.cursor.position();
            let base = segment.base;
            let name = move || format::segment_name(base);
            let step = segment
                .cursor
                .next_step()
                .map_err(|e| LogError::io(format!("read segment {}", name()), e))?;
            match step {
                Step::Record(header) => {
                    if header.offset != segment.expected {
                        return Err(LogError::Corrupt {
                            segment: name(),
                            offset: segment.expected,
                            position,
                            reason: CorruptReason::UnexpectedOffset {
                                found: header.offset,
                            },
                        });
                    }
                    segment.expected += 1;
                    if header.offset < self.next {
                        // Skipping from an index entry to the requested offset.
                        continue;
                    }
                    self.next += 1;
                    return Ok(Some(header));
                }
                Step::Bad { position, reason } => {
                    return Err(LogError::Corrupt {
                        segment: name(),
                        offset: segment.expected,
                        position,
                        reason,
                    });
                }
                Step::End => {
                    let (bytes, next_base) = segment_extent(&self.shared, segment.base);
                    if bytes > segment.cursor.limit() {
                        segment.cursor.extend_limit(bytes);
                        continue;
                    }
                    match next_base {
                        Some(base) if base == segment.expected => self.segment = None,
                        Some(base) => {
                            return Err(LogError::Corrupt {
                                segment: name(),
                                offset: segment.expected,
                                position,
                                reason: CorruptReason::MissingRecords {
                                    next_segment_base: base,
                                },
                            });
                        }
                        None => {
                            return Err(LogError::BadSegment {
                                segment: name(),
                                reason: format!(
                                    "ends at offset {} before the committed head",
                                    segment.expected
                                ),
                            });
                        }
                    }
                }
            }
        }
    }
}

impl Iterator for LogReader {
    type Item = Result<LogRecord, LogError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.next_ref() {
            Ok(Some(record)) => Some(Ok(record.to_record())),
            Ok(None) => None,
            Err(e) => Some(Err(e)),
        }
    }
}

/// The committed length of the segment at `base` and the base of the segment after it.
fn segment_extent(shared: &Shared, base: u64) -> (u64, Option<u64>) {
    let state = shared.state();
    let i = state.segments.partition_point(|s| s.base <= base);
    let bytes = i
        .checked_sub(1)
        .and_then(|i| state.segments.get(i))
        .map_or(0, |s| s.bytes);
    (bytes, state.segments.get(i).map(|s| s.base))
}

/// Opens the segment holding `offset`, positioned at the nearest index entry at or
/// before it (never further than one index interval away).
fn open_segment_at(shared: &Shared, offset: u64) -> Result<OpenSegment, LogError> {
    let (base, end, bytes, sealed, entry) = {
        let state = shared.state();
        let i = state.segments.partition_point(|s| s.base <= offset);
        let Some(meta) = i.checked_sub(1).and_then(|i| state.segments.get(i)) else {
            return Err(LogError::OffsetBeforeStart {
                requested: offset,
                start: state.segments.first().map_or(0, |s| s.base),
            });
        };
        let entry = if meta.sealed {
            None
        } else {
            nearest(&meta.index, offset)
        };
        (meta.base, meta.end, meta.bytes, meta.sealed, entry)
    };
    let entry = if sealed {
        let summary = IndexSummary {
            base,
            records: end - base,
            segment_bytes: bytes,
        };
        // A missing or damaged index only costs a scan of this one segment.
        format::read_index(&shared.dir.join(format::index_name(base)), summary)
            .and_then(|index| nearest(&index, offset))
    } else {
        entry
    };
    let entry = entry.unwrap_or(IndexEntry {
        offset: base,
        position: SEGMENT_HEADER_LEN,
    });
    let path = shared.dir.join(format::segment_name(base));
    let mut file = File::open(&path).map_err(io_err("open", &path))?;
    check_header(&mut file, &path, base)?;
    let cursor = SegmentCursor::new(file, entry.position, bytes).map_err(io_err("seek", &path))?;
    Ok(OpenSegment {
        base,
        cursor,
        expected: entry.offset,
    })
}

/// The last index entry at or before `offset`.
fn nearest(index: &[IndexEntry], offset: u64) -> Option<IndexEntry> {
    let i = index.partition_point(|e| e.offset <= offset);
    i.checked_sub(1).map(|i| index[i])
}

/// Reads committed records from an offset on and then waits for new ones: the tail of
/// the log, as a Kappa pipeline consumes it.
///
/// Waiting blocks on a condition variable signalled by each commit; it does not spin.
/// A follower of a log opened read-only (another process appends) instead looks for new
/// records every [`READ_ONLY_POLL`] while it waits, reading only the bytes appended
/// since it last looked (see [`EventLog::refresh`](crate::EventLog::refresh)).
#[derive(Debug)]
pub struct Follower {
    reader: LogReader,
}

impl Follower {
    pub(crate) fn new(reader: LogReader) -> Self {
        Follower { reader }
    }

    /// The offset of the next record this follower returns.
    pub fn position(&self) -> u64 {
        self.reader.position()
    }

    /// Returns the next record if one is committed, without waiting.
    pub fn try_next(&mut self) -> Result<Option<LogRecord>, LogError> {
        Ok(self.reader.next_ref()?.map(|r| r.to_record()))
    }

    /// Returns the next record, waiting up to `timeout` for it to be committed;
    /// `Ok(None)` if none arrived in time.
    pub fn next_timeout(&mut self, timeout: Duration) -> Result<Option<LogRecord>, LogError> {
        if let Some(record) = self.try_next()? {
            return Ok(Some(record));
        }
        if self.reader.shared.read_only {
            let deadline = Instant::now() + timeout;
            loop {
                let now = Instant::now();
                if now >= deadline {
                    return Ok(None);
                }
                std::thread::sleep(READ_ONLY_POLL.min(deadline - now));
                if let Some(record) = self.try_next()? {
                    return Ok(Some(record));
                }
            }
        }
        if !self.reader.shared.wait_past(self.reader.next, timeout) {
            return Ok(None);
        }
        self.try_next()
    }

    /// The underlying reader, for allocation-free reads of what is already committed
    /// with [`LogReader::next_ref`].
    pub fn reader(&mut self) -> &mut LogReader {
        &mut self.reader
    }
}
