//! Following a log that another process appends to: a read-only handle picks up new
//! records by reading only the bytes appended since it last looked, and a read-only
//! open of a directory this process opened before resumes the scan of the last segment
//! where the earlier open stopped instead of reading the whole segment again.

use std::collections::HashMap;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use crate::error::{LogError, io_err};
use crate::format::{self, SEGMENT_HEADER_LEN};
use crate::recovery::{Durable, judge_tail};
use crate::scan::{Resume, check_header, scan_from};
use crate::shared::{SegmentMeta, Shared};

/// How many bytes before the end of the scanned part are kept to recognize the file.
const FINGERPRINT_LEN: u64 = 64;
/// How many last segments the process remembers.
const REMEMBERED: usize = 64;

/// Where a read-only scan of a segment file stopped.
struct Scanned {
    /// The file's identity (device and inode), so a replaced file is not mistaken for it.
    id: (u64, u64),
    meta: SegmentMeta,
    /// The bytes just before `meta.bytes`, to notice a rewritten file.
    fingerprint: Vec<u8>,
}

static SCANNED: Mutex<Option<HashMap<PathBuf, Scanned>>> = Mutex::new(None);

#[cfg(unix)]
fn file_id(file: &File) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let meta = file.metadata().ok()?;
    Some((meta.dev(), meta.ino()))
}

#[cfg(not(unix))]
fn file_id(_file: &File) -> Option<(u64, u64)> {
    None
}

fn read_at(file: &File, position: u64, len: u64) -> Option<Vec<u8>> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = file.try_clone().ok()?;
    file.seek(SeekFrom::Start(position)).ok()?;
    let mut bytes = Vec::new();
    file.take(len).read_to_end(&mut bytes).ok()?;
    (bytes.len() as u64 == len).then_some(bytes)
}

fn fingerprint(file: &File, end: u64) -> Option<Vec<u8>> {
    let start = end.saturating_sub(FINGERPRINT_LEN).max(SEGMENT_HEADER_LEN);
    read_at(file, start, end - start)
}

/// Where to resume scanning the segment file at `path` (open as `file`), if this
/// process scanned it before and it only grew since.
pub(crate) fn resume_point(path: &Path, file: &File, durable: Durable) -> Option<Resume> {
    let id = file_id(file)?;
    let len = file.metadata().ok()?.len();
    let guard = SCANNED.lock().unwrap_or_else(PoisonError::into_inner);
    let scanned = guard.as_ref()?.get(path)?;
    let meta = &scanned.meta;
    if scanned.id != id || len < meta.bytes || meta.bytes < SEGMENT_HEADER_LEN {
        return None;
    }
    if let Durable::UpTo(durable) = durable
        && durable > len
    {
        // Let the full scan report what is missing.
        return None;
    }
    if fingerprint(file, meta.bytes)? != scanned.fingerprint {
        return None;
    }
    Some(Resume {
        position: meta.bytes,
        records: meta.end - meta.base,
        index: meta.index.clone(),
    })
}

/// Remembers how far a read-only scan of the segment file at `path` got.
pub(crate) fn remember(path: &Path, file: &File, meta: &SegmentMeta) {
    let (Some(id), Some(fingerprint)) = (file_id(file), fingerprint(file, meta.bytes)) else {
        return;
    };
    let mut guard = SCANNED.lock().unwrap_or_else(PoisonError::into_inner);
    let map = guard.get_or_insert_with(HashMap::new);
    if map.len() >= REMEMBERED && !map.contains_key(path) {
        map.clear();
    }
    map.insert(
        path.to_path_buf(),
        Scanned {
            id,
            meta: meta.clone(),
            fingerprint,
        },
    );
}

/// Brings a read-only log up to date with what another process appended: reads the
/// bytes added to the last segment since the last look (a `stat` when nothing was), and
/// moves on to the segments the writer started since. Returns the new head.
pub(crate) fn refresh(shared: &Shared) -> Result<u64, LogError> {
    let interval = shared.options.index_interval_bytes;
    let mut state = shared.state();
    let before = state.head;
    while let Some(last) = state.segments.last_mut() {
        grow(&shared.dir, last, interval, false)?;
        if last.end == last.base {
            break;
        }
        let next = format::segment_name(last.end);
        if !shared.dir.join(&next).exists() {
            break;
        }
        // The writer flushes a segment before starting the next: what is in it now is
        // all it will hold.
        grow(&shared.dir, last, interval, true)?;
        last.sealed = true;
        last.index.clear();
        let base = last.end;
        state.segments.push(SegmentMeta {
            base,
            end: base,
            bytes: 0,
            sealed: false,
            index: Vec::new(),
        });
    }
    let head = state.segments.last().map_or(0, |s| s.end);
    state.head = head;
    drop(state);
    if head > before {
        shared.notify_head_moved();
    }
    Ok(head)
}

/// Reads the records appended to the segment `meta` describes since it was scanned.
/// `sealed`: the segment is complete, so a damaged record at its end is an error.
fn grow(dir: &Path, meta: &mut SegmentMeta, interval: u64, sealed: bool) -> Result<(), LogError> {
    let path = dir.join(format::segment_name(meta.base));
    let len = fs::metadata(&path).map_err(io_err("stat", &path))?.len();
    if len < SEGMENT_HEADER_LEN || len <= meta.bytes {
        // Nothing new (or the segment's header is still being written).
        return Ok(());
    }
    let mut file = File::open(&path).map_err(io_err("open", &path))?;
    if meta.bytes < SEGMENT_HEADER_LEN {
        check_header(&mut file, &path, meta.base)?;
        meta.bytes = SEGMENT_HEADER_LEN;
    }
    let from = Resume {
        position: meta.bytes,
        records: meta.end - meta.base,
        index: std::mem::take(&mut meta.index),
    };
    let reader = file.try_clone().map_err(io_err("open", &path))?;
    let scan = scan_from(reader, &path, meta.base, from, None, None, interval, false)?;
    let torn = judge_tail(&mut file, &path, meta.base, &scan, Durable::UpTo(0));
    meta.end = meta.base + scan.records;
    meta.bytes = scan.end_pos;
    meta.index = scan.index;
    match torn {
        Err(e) => Err(e),
        Ok(Some(t)) if sealed => Err(LogError::BadSegment {
            segment: t.segment.clone(),
            reason: format!("a later segment exists, but this one ends with a {t}"),
        }),
        Ok(_) => Ok(()),
    }
}
