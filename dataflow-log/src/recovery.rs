//! Opening a log directory: telling a log from other directories, reading the commit
//! marker, listing segments and checking that none is missing, checking sealed segments
//! against their index files, and recovering the last segment (truncating a torn tail,
//! refusing damage to committed records).

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use crate::error::{CorruptReason, LogError, io_err};
use crate::format::{
    self, Durable, IndexSummary, LOCK_NAME, MARKER_NAME, Marker, SEGMENT_HEADER_LEN,
};
use crate::scan::{Scan, check_header, scan_segment};
use crate::shared::SegmentMeta;

/// A torn tail found when a log was opened: the bytes after the last whole record of the
/// last segment, which a writable open truncates and a read-only open ignores.
///
/// See the crate documentation ("Crash recovery") for what counts as a torn tail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Truncation {
    /// The segment file name, for example `00000000000000000000.seg`.
    pub segment: String,
    /// The offset the first torn record would have had: the head after recovery.
    pub offset: u64,
    /// The byte position in the segment file where the torn tail starts.
    pub position: u64,
    /// The number of bytes in the torn tail.
    pub bytes: u64,
}

impl std::fmt::Display for Truncation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "torn tail of {} bytes at offset {} (byte {}) of segment {}",
            self.bytes, self.offset, self.position, self.segment
        )
    }
}

/// What a directory holds, as far as opening a log in it is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DirKind {
    /// The directory does not exist.
    Missing,
    /// It exists and holds nothing but (perhaps) a lock file: a log can be created.
    Empty,
    /// It holds a segment file or a commit marker.
    Log,
    /// It holds other files and no segment: not a log.
    NotALog,
}

/// Classifies `dir` by its entries.
pub(crate) fn classify_dir(dir: &Path) -> Result<DirKind, LogError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(DirKind::Missing),
        Err(e) => return Err(io_err("list", dir)(e)),
    };
    let mut other = false;
    for entry in entries {
        let name = entry.map_err(io_err("list", dir))?.file_name();
        let name = name.to_string_lossy();
        if name == MARKER_NAME || format::parse_segment_name(&name).is_some() {
            return Ok(DirKind::Log);
        }
        if name != LOCK_NAME {
            other = true;
        }
    }
    Ok(if other {
        DirKind::NotALog
    } else {
        DirKind::Empty
    })
}

/// Reads the commit marker; `None` if it is missing or damaged (then the rules for a
/// log without one apply).
pub(crate) fn read_marker(dir: &Path) -> Option<Marker> {
    let mut bytes = Vec::new();
    File::open(dir.join(MARKER_NAME))
        .ok()?
        .take(format::MARKER_LEN as u64 + 1)
        .read_to_end(&mut bytes)
        .ok()?;
    format::parse_marker(&bytes)
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

/// Lists the segments of `dir` and checks that none is missing at either end: the first
/// starts at offset 0, the commit marker names no later segment, and the last one is
/// not sealed (a sealed segment is always followed by another). Gaps between segments
/// are found by [`open_sealed`].
pub(crate) fn discover(dir: &Path, marker: Option<Marker>) -> Result<Vec<u64>, LogError> {
    // A writer may roll while this runs: a new segment then appears. Listing again
    // settles it; a segment that is really missing stays missing.
    let mut attempts = 0;
    loop {
        let bases = list_segments(dir)?;
        match check_ends(dir, &bases, marker) {
            Err(e @ LogError::MissingSegment { .. }) if attempts < 3 => {
                attempts += 1;
                if list_segments(dir)? == bases {
                    return Err(e);
                }
            }
            Err(e) => return Err(e),
            Ok(()) => return Ok(bases),
        }
    }
}

fn check_ends(dir: &Path, bases: &[u64], marker: Option<Marker>) -> Result<(), LogError> {
    let Some((&first, &last)) = bases.first().zip(bases.last()) else {
        return match marker {
            Some(m) if m.head > 0 => Err(LogError::MissingSegment {
                segment: format::segment_name(m.base),
                reason: format!(
                    "the commit marker records records up to offset {} as durable in it, \
                     and the directory holds no segment",
                    m.head
                ),
            }),
            _ => Ok(()),
        };
    };
    if first != 0 {
        return Err(LogError::MissingSegment {
            segment: format::segment_name(0),
            reason: format!(
                "the first segment present starts at offset {first}; a log starts at offset 0"
            ),
        });
    }
    if let Some(m) = marker
        && m.base > last
    {
        return Err(LogError::MissingSegment {
            segment: format::segment_name(m.base),
            reason: format!(
                "the commit marker records records up to offset {} as durable in it; the \
                 last segment present is {}",
                m.head,
                format::segment_name(last)
            ),
        });
    }
    // A valid index describing the whole last segment means it was sealed.
    let path = dir.join(format::segment_name(last));
    let len = fs::metadata(&path).map_err(io_err("stat", &path))?.len();
    if let Some(summary) = format::read_index_summary(&dir.join(format::index_name(last)))
        && summary.base == last
        && summary.segment_bytes == len
        && summary.records > 0
    {
        let next = last + summary.records;
        return Err(LogError::MissingSegment {
            segment: format::segment_name(next),
            reason: format!(
                "segment {} is sealed (its index holds offsets {last}..{next}), so a segment \
                 starting at offset {next} must follow it",
                format::segment_name(last)
            ),
        });
    }
    Ok(())
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
        if scan.records < end - base && scan.end_pos == bytes {
            // The segment is whole and ends early: the one after it is gone.
            let missing = base + scan.records;
            return Err(LogError::MissingSegment {
                segment: format::segment_name(missing),
                reason: format!(
                    "segment {segment} ends at offset {missing} and the next segment present \
                     starts at offset {end}"
                ),
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

/// Decides what the end of a scan of the last segment means: `Ok(None)` if every byte
/// of the file is a whole record, `Ok(Some(truncation))` for a torn tail, or the error
/// for damage that must not be truncated. `file` is the segment, for the look past a
/// damaged record.
pub(crate) fn judge_tail(
    file: &mut File,
    path: &Path,
    base: u64,
    scan: &Scan,
    durable: Durable,
) -> Result<Option<Truncation>, LogError> {
    let segment = format::segment_name(base);
    let Some((offset, position, reason)) = scan.bad.clone() else {
        if let Durable::UpTo(durable) = durable
            && scan.end_pos < durable
        {
            return Err(LogError::Corrupt {
                segment,
                offset: base + scan.records,
                position: scan.end_pos,
                reason: CorruptReason::ShorterThanDurable {
                    durable_bytes: durable,
                },
            });
        }
        return Ok(None);
    };
    let corrupt = |reason| LogError::Corrupt {
        segment: segment.clone(),
        offset,
        position,
        reason,
    };
    // A record that started before the durable point was flushed whole: damage.
    if let Durable::UpTo(durable) = durable
        && position < durable
    {
        return Err(corrupt(reason));
    }
    // Bytes missing (the file ends inside the header or before the declared length)
    // is what a write cut short leaves. A record whose bytes are all there but whose
    // checksum fails is only taken for a torn write past the durable point, where a
    // power failure can expose garbage; without a marker it is damage.
    let incomplete = matches!(
        reason,
        CorruptReason::IncompleteHeader { .. } | CorruptReason::ImpossibleLength { .. }
    );
    if !incomplete && durable == Durable::Unknown {
        return Err(corrupt(reason));
    }
    // A torn write leaves nothing intact behind it.
    let len = scan.file_len;
    let mut rest = Vec::new();
    file.seek(SeekFrom::Start(position + 1))
        .map_err(io_err("seek", path))?;
    Read::by_ref(file)
        .take(len.saturating_sub(position + 1))
        .read_to_end(&mut rest)
        .map_err(io_err("read", path))?;
    if format::intact_record_in(&rest, offset) {
        return Err(corrupt(reason));
    }
    Ok(Some(Truncation {
        segment,
        offset,
        position,
        bytes: len - position,
    }))
}

/// The last segment after recovery.
pub(crate) struct Recovered {
    pub meta: SegmentMeta,
    /// The segment opened for appending, positioned at its end (when writable).
    pub file: Option<File>,
    /// The torn tail found (and, when writable, truncated).
    pub torn: Option<Truncation>,
}

/// Recovers the last segment: finds the last whole record, tells a torn tail from damage
/// (see [`judge_tail`]), and (when `writable`) truncates the torn tail. A read-only
/// recovery resumes from where an earlier one in this process stopped, if the file is
/// the same and only grew.
pub(crate) fn recover_last(
    dir: &Path,
    base: u64,
    index_interval: u64,
    writable: bool,
    durable: Durable,
) -> Result<Recovered, LogError> {
    let path = dir.join(format::segment_name(base));
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
        if let Durable::UpTo(durable) = durable
            && durable > SEGMENT_HEADER_LEN
        {
            return Err(LogError::Corrupt {
                segment: format::segment_name(base),
                offset: base,
                position: 0,
                reason: CorruptReason::ShorterThanDurable {
                    durable_bytes: durable,
                },
            });
        }
        // The segment was being created when the process stopped.
        if !writable {
            let meta = SegmentMeta {
                bytes: len,
                ..empty
            };
            return Ok(Recovered {
                meta,
                file: None,
                torn: None,
            });
        }
        file.set_len(0).map_err(io_err("truncate", &path))?;
        file.seek(SeekFrom::Start(0))
            .map_err(io_err("seek", &path))?;
        file.write_all(&format::segment_header(base))
            .map_err(io_err("write", &path))?;
        file.sync_data().map_err(io_err("sync", &path))?;
        return Ok(Recovered {
            meta: empty,
            file: Some(file),
            torn: None,
        });
    }
    let resume = if writable {
        None
    } else {
        crate::memory::resume_point(&path, &file, durable)
    };
    let scan = match resume {
        Some(from) => {
            let reader = file.try_clone().map_err(io_err("open", &path))?;
            crate::scan::scan_from(reader, &path, base, from, None, None, index_interval, false)?
        }
        None => scan_segment(&path, base, None, None, index_interval, false)?,
    };
    let torn = judge_tail(&mut file, &path, base, &scan, durable)?;
    if writable && torn.is_some() {
        file.set_len(scan.end_pos)
            .map_err(io_err("truncate", &path))?;
        file.sync_data().map_err(io_err("sync", &path))?;
    }
    let meta = SegmentMeta {
        base,
        end: base + scan.records,
        bytes: scan.end_pos,
        sealed: false,
        index: scan.index,
    };
    if !writable {
        crate::memory::remember(&path, &file, &meta);
        return Ok(Recovered {
            meta,
            file: None,
            torn,
        });
    }
    file.seek(SeekFrom::Start(scan.end_pos))
        .map_err(io_err("seek", &path))?;
    Ok(Recovered {
        meta,
        file: Some(file),
        torn,
    })
}
