//! Sequential scans of a segment file: the header check and the record-by-record walk
//! that opening, verifying and following a log build on.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use crate::error::{CorruptReason, LogError, io_err};
use crate::format::{self, IndexEntry, SEGMENT_HEADER_LEN, SegmentCursor, Step};

/// Statistics gathered by a full scan of a segment.
#[derive(Debug, Clone, Default)]
pub(crate) struct ScanStats {
    pub versions: Vec<u32>,
    pub event_times: Option<(u64, u64)>,
}

/// Where a scan starts: the first record of the segment, or where an earlier scan of
/// the same file stopped.
#[derive(Debug, Clone)]
pub(crate) struct Resume {
    /// The byte position of the next record.
    pub position: u64,
    /// The records before `position`.
    pub records: u64,
    /// The index entries of the records before `position`.
    pub index: Vec<IndexEntry>,
}

impl Resume {
    /// The start of a segment.
    pub fn start() -> Self {
        Resume {
            position: SEGMENT_HEADER_LEN,
            records: 0,
            index: Vec::new(),
        }
    }
}

/// The result of scanning a segment.
pub(crate) struct Scan {
    pub records: u64,
    /// Byte position after the last whole, valid record.
    pub end_pos: u64,
    pub index: Vec<IndexEntry>,
    /// The first damaged record: (expected offset, byte position, reason).
    pub bad: Option<(u64, u64, CorruptReason)>,
    pub stats: ScanStats,
    /// The length of the file when the scan started.
    pub file_len: u64,
}

#[cfg(test)]
thread_local! {
    /// Bytes of records scanned by this thread, for tests that check a scan is incremental.
    pub(crate) static SCANNED_BYTES: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Reads and checks the header of a segment file.
pub(crate) fn check_header(file: &mut File, path: &Path, base: u64) -> Result<(), LogError> {
    let mut header = Vec::with_capacity(SEGMENT_HEADER_LEN as usize);
    Read::by_ref(file)
        .take(SEGMENT_HEADER_LEN)
        .read_to_end(&mut header)
        .map_err(io_err("read", path))?;
    format::check_segment_header(&header, base).map_err(|reason| LogError::BadSegment {
        segment: format::segment_name(base),
        reason,
    })
}

/// Scans the segment at `path` from its first record up to byte `limit` (or the file
/// length), stopping at the first damaged record or after `max_records` records.
pub(crate) fn scan_segment(
    path: &Path,
    base: u64,
    limit: Option<u64>,
    max_records: Option<u64>,
    index_interval: u64,
    with_stats: bool,
) -> Result<Scan, LogError> {
    let mut file = File::open(path).map_err(io_err("open", path))?;
    check_header(&mut file, path, base)?;
    scan_from(
        file,
        path,
        base,
        Resume::start(),
        limit,
        max_records,
        index_interval,
        with_stats,
    )
}

/// Scans the already opened segment `file` from `from` on; see [`scan_segment`].
#[allow(clippy::too_many_arguments)]
pub(crate) fn scan_from(
    file: File,
    path: &Path,
    base: u64,
    from: Resume,
    limit: Option<u64>,
    max_records: Option<u64>,
    index_interval: u64,
    with_stats: bool,
) -> Result<Scan, LogError> {
    let len = file.metadata().map_err(io_err("stat", path))?.len();
    let limit = limit.map_or(len, |l| l.min(len));
    let mut cursor = SegmentCursor::new(file, from.position, limit.max(from.position))
        .map_err(io_err("seek", path))?;
    let mut last_indexed = from
        .index
        .last()
        .map_or(SEGMENT_HEADER_LEN, |entry| entry.position);
    let mut scan = Scan {
        records: from.records,
        end_pos: from.position,
        index: from.index,
        bad: None,
        stats: ScanStats::default(),
        file_len: len,
    };
    while max_records.is_none_or(|max| scan.records < max) {
        let position = cursor.position();
        let expected = base + scan.records;
        match cursor.next_step().map_err(io_err("read", path))? {
            Step::End => break,
            Step::Bad { position, reason } => {
                scan.bad = Some((expected, position, reason));
                break;
            }
            Step::Record(header) => {
                if header.offset != expected {
                    scan.bad = Some((
                        expected,
                        position,
                        CorruptReason::UnexpectedOffset {
                            found: header.offset,
                        },
                    ));
                    break;
                }
                if position - last_indexed >= index_interval {
                    scan.index.push(IndexEntry {
                        offset: expected,
                        position,
                    });
                    last_indexed = position;
                }
                if with_stats {
                    if !scan.stats.versions.contains(&header.version) {
                        scan.stats.versions.push(header.version);
                    }
                    let t = header.event_time;
                    scan.stats.event_times = Some(match scan.stats.event_times {
                        None => (t, t),
                        Some((lo, hi)) => (lo.min(t), hi.max(t)),
                    });
                }
                scan.records += 1;
                scan.end_pos = cursor.position();
            }
        }
    }
    #[cfg(test)]
    SCANNED_BYTES.with(|b| b.set(b.get() + (cursor.position() - from.position)));
    scan.stats.versions.sort_unstable();
    Ok(scan)
}
