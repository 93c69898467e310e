//! What this process remembers of read-only scans: a read-only open of a directory this process
//! opened before resumes the scan of the last segment where the earlier open stopped, if the file is
//! the same one and only grew since.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use crate::format::{Durable, SEGMENT_HEADER_LEN};
use crate::scan::Resume;
use crate::shared::SegmentMeta;

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
