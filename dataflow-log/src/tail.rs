//! Following a log that another process appends to: a read-only handle picks up new
//! records by reading only the bytes appended since it last looked.

use std::fs::{self, File};
use std::path::Path;

use crate::error::{LogError, io_err};
use crate::format::Durable;
use crate::format::{self, SEGMENT_HEADER_LEN};
use crate::recovery::judge_tail;
use crate::scan::{Resume, check_header, scan_from};
use crate::shared::{SegmentMeta, Shared};

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
