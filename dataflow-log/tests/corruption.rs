//! Property tests: random damage to a log's files (flipped bytes, truncation, huge length
//! fields) gives either an error or a prefix of the records written, never a panic,
//! never wrong data and never an allocation beyond what the files hold.

// The allocation bound is checked with a counting global allocator, which needs an
// `unsafe impl GlobalAlloc`; it only delegates to the system allocator.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::fs;
use std::path::Path;

use dataflow_log::{EventLog, LogOptions, LogRecord, RECORD_HEADER_LEN, SEGMENT_HEADER_LEN};
use proptest::prelude::*;

struct CountingAlloc;

thread_local! {
    static TRACKING: Cell<bool> = const { Cell::new(false) };
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    let _ = TRACKING.try_with(|tracking| {
        if tracking.get() {
            let _ = LARGEST.try_with(|largest| largest.set(largest.get().max(size)));
        }
    });
}

unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// Runs `f` and returns its result with the largest single allocation it made.
fn largest_allocation<R>(f: impl FnOnce() -> R) -> (R, usize) {
    LARGEST.with(|l| l.set(0));
    TRACKING.with(|t| t.set(true));
    let result = f();
    TRACKING.with(|t| t.set(false));
    (result, LARGEST.with(Cell::get))
}

/// The reader's buffer may reach 256 KiB; the rest is bounded by the files' size.
const ALLOCATION_BOUND: usize = 1 << 20;

fn options() -> LogOptions {
    LogOptions::default()
        .segment_bytes(2048)
        .index_interval_bytes(200)
}

/// Writes `payloads` to a fresh log and returns the records as committed.
fn write_log(dir: &Path, payloads: &[Vec<u8>]) -> Vec<LogRecord> {
    let log = EventLog::open(dir, options()).unwrap();
    let mut batch = log.batch();
    for (i, payload) in payloads.iter().enumerate() {
        batch
            .push_raw(i as u64 * 7, 1 + (i % 3) as u32, payload)
            .unwrap();
        if i % 5 == 4 {
            batch.commit().unwrap();
        }
    }
    batch.commit().unwrap();
    log.read_from(0).unwrap().map(Result::unwrap).collect()
}

/// Reads everything a log in `dir` returns: the records until the first error.
fn read_back(dir: &Path, writable: bool) -> Result<Vec<LogRecord>, Vec<LogRecord>> {
    let log = if writable {
        EventLog::open(dir, options())
    } else {
        EventLog::open_read_only(dir)
    };
    let Ok(log) = log else {
        return Err(Vec::new());
    };
    let mut records = Vec::new();
    let Ok(reader) = log.read_from(0) else {
        return Err(records);
    };
    for record in reader {
        match record {
            Ok(record) => records.push(record),
            Err(e) => {
                // The error must name a segment or be about I/O, never be empty.
                assert!(!e.to_string().is_empty());
                return Err(records);
            }
        }
    }
    let _ = log.verify();
    Ok(records)
}

fn files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "seg" || e == "idx")
                || p.file_name().is_some_and(|n| n == "HEAD")
        })
        .collect();
    files.sort();
    files
}

fn assert_prefix(found: &[LogRecord], written: &[LogRecord]) {
    assert!(found.len() <= written.len());
    assert_eq!(found, &written[..found.len()]);
}

#[derive(Debug, Clone)]
enum Damage {
    /// XOR a byte at a fraction of the file length.
    Flip { at: f64, mask: u8 },
    /// Cut the file at a fraction of its length.
    Truncate { at: f64 },
    /// Overwrite a record's length field with a large value.
    HugeLength { record: usize, len: u32 },
    /// Overwrite bytes with garbage at a fraction of the file length.
    Garbage { at: f64, bytes: Vec<u8> },
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        (0.0..1.0f64, 1..=255u8).prop_map(|(at, mask)| Damage::Flip { at, mask }),
        (0.0..1.0f64).prop_map(|at| Damage::Truncate { at }),
        (
            0..40usize,
            prop_oneof![Just(u32::MAX), 0x1000..u32::MAX, Just(1 << 30)]
        )
            .prop_map(|(record, len)| Damage::HugeLength { record, len }),
        (0.0..1.0f64, prop::collection::vec(any::<u8>(), 1..64))
            .prop_map(|(at, bytes)| Damage::Garbage { at, bytes }),
    ]
}

/// The byte positions of the records in a segment file.
fn record_starts(bytes: &[u8]) -> Vec<usize> {
    let mut starts = Vec::new();
    let mut at = SEGMENT_HEADER_LEN as usize;
    while at + RECORD_HEADER_LEN <= bytes.len() {
        starts.push(at);
        let len = u32::from_le_bytes([bytes[at + 4], bytes[at + 5], bytes[at + 6], bytes[at + 7]]);
        at += RECORD_HEADER_LEN + len as usize;
    }
    starts
}

fn apply(path: &Path, damage: &Damage) {
    let mut bytes = fs::read(path).unwrap();
    let len = bytes.len();
    let pos = |at: f64| ((len as f64 * at) as usize).min(len.saturating_sub(1));
    match damage {
        Damage::Flip { at, mask } => {
            // An empty file has no byte to flip.
            if let Some(byte) = bytes.get_mut(pos(*at)) {
                *byte ^= mask;
            }
        }
        Damage::Truncate { at } => bytes.truncate(pos(*at)),
        Damage::HugeLength { record, len } => {
            let starts = record_starts(&bytes);
            if let Some(&start) = starts.get(record % starts.len().max(1)) {
                bytes[start + 4..start + 8].copy_from_slice(&len.to_le_bytes());
            }
        }
        Damage::Garbage { at, bytes: garbage } => {
            let start = pos(*at);
            let end = (start + garbage.len()).min(len);
            bytes[start..end].copy_from_slice(&garbage[..end - start]);
        }
    }
    fs::write(path, bytes).unwrap();
}

fn payloads() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop::collection::vec(prop::collection::vec(any::<u8>(), 0..120), 1..60)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(192))]

    #[test]
    fn damaged_files_give_an_error_or_a_prefix(
        payloads in payloads(),
        file_choice in any::<prop::sample::Index>(),
        damages in prop::collection::vec(damage(), 1..4),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let written = write_log(dir.path(), &payloads);
        let files = files(dir.path());
        let target = file_choice.get(&files);
        for d in &damages {
            apply(target, d);
        }
        for writable in [false, true] {
            let (result, largest) = largest_allocation(|| read_back(dir.path(), writable));
            prop_assert!(largest <= ALLOCATION_BOUND, "allocated {largest} bytes");
            match result {
                Ok(found) | Err(found) => assert_prefix(&found, &written),
            }
        }
    }

    #[test]
    fn a_truncated_last_segment_keeps_every_whole_record(
        payloads in payloads(),
        cut in 0.0..1.0f64,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let written = write_log(dir.path(), &payloads);
        let last = files(dir.path())
            .into_iter()
            .rfind(|p| p.extension().is_some_and(|e| e == "seg"))
            .unwrap();
        let bytes = fs::read(&last).unwrap();
        let cut = (bytes.len() as f64 * cut) as usize;
        let whole_in_last = record_starts(&bytes)
            .iter()
            .zip(record_starts(&bytes).iter().skip(1).map(|&s| s as u64).chain([bytes.len() as u64]))
            .filter(|&(_, end)| end <= cut as u64)
            .count();
        fs::write(&last, &bytes[..cut]).unwrap();
        // The commit marker records every record as flushed: losing some is damage,
        // never a torn tail, so their offsets are not handed out again.
        for writable in [false, true] {
            let found = read_back(dir.path(), writable);
            prop_assert!(found.is_err(), "writable {}: {:?}", writable, found.map(|f| f.len()));
        }
        // Without the marker (as after a crash in the middle of the write that the
        // marker never covered), every whole record is kept.
        fs::remove_file(dir.path().join("HEAD")).unwrap();
        let in_earlier = written.len() - record_starts(&bytes).len();
        let expected = &written[..in_earlier + whole_in_last];
        for writable in [false, true] {
            let found = read_back(dir.path(), writable);
            prop_assert_eq!(found.as_ref().map(Vec::len), Ok(expected.len()), "writable {}", writable);
            prop_assert_eq!(found.unwrap(), expected.to_vec());
        }
    }
}
