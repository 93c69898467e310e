//! Opening a log directory: listing segments, checking sealed segments against their
//! index files, and recovering the last segment (truncating a torn tail).

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use crate::error::{CorruptReason, LogError, io_err};
use crate::format::{self, IndexEntry, IndexSummary, SEGMENT_HEADER_LEN, SegmentCursor, Step};
use crate::shared::SegmentMeta;

/// Statistics gathered by a full scan of a segment.
#[derive(Debug, Clone, Default)]
pub(crate) struct ScanStats {
    pub versions: Vec<u32>,
    pub event_times: Option<(u64, u64)>,
}

/// The result of scanning a segment from its first record.
pub(crate) struct Scan {
    pub records: u64,
    /// Byte position after the last whole, valid record.
    pub end_pos: u64,
    pub index: Vec<IndexEntry>,
    /// The first damaged record: (expected offset, byte position, reason).
    pub bad: Option<(u64, u64, CorruptReason)>,
    pub stats: ScanStats,
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
    let len = file.metadata().map_err(io_err("stat", path))?.len();
    let limit = limit.map_or(len, |l| l.min(len));
    let mut cursor =
        SegmentCursor::new(file, SEGMENT_HEADER_LEN, limit).map_err(io_err("seek", path))?;
    let mut scan = Scan {
        records: 0,
        end_pos: SEGMENT_HEADER_LEN,
        index: Vec::new(),
        bad: None,
        stats: ScanStats::default(),
    };
    let mut last_indexed = SEGMENT_HEADER_LEN;
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
    scan.stats.versions.sort_unstable();
    Ok(scan)
}

/// Lists the base offsets of the segment files in `dir`, sorted.
pub(crate) fn list_segments(dir: &Path) -> Result<Vec<u64>, LogError> {
    let mut bases = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_err("list", dir))? {
        let entry = entry.map_err(io_err("list", dir))?;
        if let Some(base) = entry
            .file_name()
            .to_str()
            .and_then(format::parse_segment_name)
        {
            bases.push(base);
        }
    }
    bases.sort_unstable();
    Ok(bases)
}

/// Creates an empty segment file starting at `base` and makes it durable.
pub(crate) fn create_segment(dir: &Path, base: u64) -> Result<File, LogError> {
    let path = dir.join(format::segment_name(base));
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(io_err("create", &path))?;
    file.write_all(&format::segment_header(base))
        .map_err(io_err("write", &path))?;
    file.sync_data().map_err(io_err("sync", &path))?;
    format::sync_dir(dir).map_err(io_err("sync directory", dir))?;
    Ok(file)
}

/// Checks a sealed segment (every segment but the last): its header, and that its index
/// file describes it. A missing or stale index is rebuilt by scanning the segment (and
/// written back when `writable`).
pub(crate) fn open_sealed(
    dir: &Path,
    base: u64,
    end: u64,
    index_interval: u64,
    writable: bool,
) -> Result<SegmentMeta, LogError> {
    let path = dir.join(format::segment_name(base));
    let mut file = File::open(&path).map_err(io_err("open", &path))?;
    check_header(&mut file, &path, base)?;
    let bytes = file.metadata().map_err(io_err("stat", &path))?.len();
    let summary = IndexSummary {
        base,
        records: end - base,
        segment_bytes: bytes,
    };
    let index_path = dir.join(format::index_name(base));
    if format::read_index_summary(&index_path) != Some(summary) {
        let scan = scan_segment(&path, base, None, Some(end - base), index_interval, false)?;
        let segment = format::segment_name(base);
        if let Some((offset, position, reason)) = scan.bad {
            return Err(LogError::Corrupt {
                segment,
                offset,
                position,
                reason,
            });
        }
        if scan.records < end - base {
            return Err(LogError::Corrupt {
                segment,
                offset: base + scan.records,
                position: scan.end_pos,
                reason: CorruptReason::MissingRecords {
                    next_segment_base: end,
                },
            });
        }
        if scan.end_pos != bytes {
            return Err(LogError::BadSegment {
                segment,
                reason: format!(
                    "holds {} bytes after its last record (offset {}) although the next \
                     segment starts at offset {end}",
                    bytes - scan.end_pos,
                    end - 1
                ),
            });
        }
        if writable {
            format::write_atomically(&index_path, &format::encode_index(summary, &scan.index))
                .map_err(io_err("write", &index_path))?;
        }
    }
    Ok(SegmentMeta {
        base,
        end,
        bytes,
        sealed: true,
        index: Vec::new(),
    })
}

/// Recovers the last segment: finds the last whole record, tells a torn tail from damage
/// in the middle, and (when `writable`) truncates the torn tail. Returns the segment and,
/// when writable, a file handle positioned at its end.
pub(crate) fn recover_last(
    dir: &Path,
    base: u64,
    index_interval: u64,
    writable: bool,
) -> Result<(SegmentMeta, Option<File>), LogError> {
    let path = dir.join(format::segment_name(base));
    let segment = format::segment_name(base);
    let mut file = OpenOptions::new()
        .read(true)
        .write(writable)
        .open(&path)
        .map_err(io_err("open", &path))?;
    let len = file.metadata().map_err(io_err("stat", &path))?.len();
    let empty = SegmentMeta {
        base,
        end: base,
        bytes: SEGMENT_HEADER_LEN,
        sealed: false,
        index: Vec::new(),
    };
    if len < SEGMENT_HEADER_LEN {
        // The segment was being created when the process stopped.
        if !writable {
            return Ok((
                SegmentMeta {
                    bytes: len,
                    ..empty
                },
                None,
            ));
        }
        file.set_len(0).map_err(io_err("truncate", &path))?;
        file.seek(SeekFrom::Start(0))
            .map_err(io_err("seek", &path))?;
        file.write_all(&format::segment_header(base))
            .map_err(io_err("write", &path))?;
        file.sync_data().map_err(io_err("sync", &path))?;
        return Ok((empty, Some(file)));
    }
    let scan = scan_segment(&path, base, None, None, index_interval, false)?;
    if let Some((offset, position, reason)) = scan.bad {
        // Torn tail or damage in the middle? A torn write leaves nothing intact behind it.
        let mut rest = Vec::new();
        file.seek(SeekFrom::Start(position + 1))
            .map_err(io_err("seek", &path))?;
        Read::by_ref(&mut file)
            .take(len - position - 1)
            .read_to_end(&mut rest)
            .map_err(io_err("read", &path))?;
        if format::intact_record_in(&rest, offset) {
            return Err(LogError::Corrupt {
                segment,
                offset,
                position,
                reason,
            });
        }
        if writable {
            file.set_len(scan.end_pos)
                .map_err(io_err("truncate", &path))?;
            file.sync_data().map_err(io_err("sync", &path))?;
        }
    }
    let meta = SegmentMeta {
        base,
        end: base + scan.records,
        bytes: scan.end_pos,
        sealed: false,
        index: scan.index,
    };
    if !writable {
        return Ok((meta, None));
    }
    file.seek(SeekFrom::Start(scan.end_pos))
        .map_err(io_err("seek", &path))?;
    Ok((meta, Some(file)))
}
