//! Recovery on open: what counts as a torn tail (and is truncated, and reported), what
//! is damage (and an error), missing segments, and directories that are not logs.

use std::fs::{self, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;

use dataflow_log::{
    CorruptReason, EventLog, LogError, LogOptions, RECORD_HEADER_LEN, SEGMENT_HEADER_LEN,
    Truncation,
};

const FIRST: &str = "00000000000000000000.seg";

fn write_records(dir: &Path, options: LogOptions, count: u64) -> EventLog {
    let log = EventLog::open(dir, options).unwrap();
    let mut batch = log.batch();
    for i in 0..count {
        batch.push_raw(i, 1, &[i as u8; 10]).unwrap();
    }
    batch.commit().unwrap();
    log
}

/// The byte position of record `n` in a segment of 10-byte payloads starting at 0.
fn position_of(n: u64) -> u64 {
    SEGMENT_HEADER_LEN + n * (RECORD_HEADER_LEN as u64 + 10)
}

fn poke(path: &Path, at: u64, bytes: &[u8]) {
    let mut file = OpenOptions::new().write(true).open(path).unwrap();
    file.seek(SeekFrom::Start(at)).unwrap();
    file.write_all(bytes).unwrap();
}

fn segments(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".seg"))
        .collect();
    names.sort();
    names
}

fn assert_corrupt_at(result: Result<EventLog, LogError>, offset: u64, position: u64) {
    match result {
        Err(LogError::Corrupt {
            segment,
            offset: o,
            position: p,
            ..
        }) => assert_eq!((segment.as_str(), o, p), (FIRST, offset, position)),
        other => panic!("expected a corrupt record at offset {offset}, got {other:?}"),
    }
}

#[test]
fn a_flipped_payload_byte_in_the_last_record_is_corruption_not_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    drop(write_records(dir.path(), LogOptions::default(), 10));
    let path = dir.path().join(FIRST);
    let len = fs::metadata(&path).unwrap().len();
    // One byte in the middle of the payload of record 9, the last bytes of the file.
    poke(
        &path,
        position_of(9) + RECORD_HEADER_LEN as u64 + 4,
        &[0x5A],
    );

    assert_corrupt_at(EventLog::open_read_only(dir.path()), 9, position_of(9));
    assert_corrupt_at(
        EventLog::open(dir.path(), LogOptions::default()),
        9,
        position_of(9),
    );
    // Nothing was truncated, so offset 9 cannot be handed to another record.
    assert_eq!(fs::metadata(&path).unwrap().len(), len);
}

#[test]
fn a_damaged_length_in_the_last_record_is_corruption_not_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    drop(write_records(dir.path(), LogOptions::default(), 10));
    let path = dir.path().join(FIRST);
    let len = fs::metadata(&path).unwrap().len();
    // The length field of record 9 now reaches past the end of the file.
    poke(&path, position_of(9) + 4, &200u32.to_le_bytes());
    assert_corrupt_at(
        EventLog::open(dir.path(), LogOptions::default()),
        9,
        position_of(9),
    );
    assert_eq!(fs::metadata(&path).unwrap().len(), len);
}

#[test]
fn without_a_commit_marker_a_complete_record_with_a_bad_checksum_is_corruption() {
    // A directory written before the commit marker existed: only a record whose bytes
    // are missing can be a torn write.
    let dir = tempfile::tempdir().unwrap();
    drop(write_records(dir.path(), LogOptions::default(), 10));
    let _ = fs::remove_file(dir.path().join("HEAD"));
    let path = dir.path().join(FIRST);
    poke(
        &path,
        position_of(9) + RECORD_HEADER_LEN as u64 + 4,
        &[0x5A],
    );
    assert_corrupt_at(
        EventLog::open(dir.path(), LogOptions::default()),
        9,
        position_of(9),
    );
}

#[test]
fn garbage_after_the_durable_head_is_a_torn_tail_and_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    drop(write_records(dir.path(), LogOptions::default(), 10));
    let path = dir.path().join(FIRST);
    let whole = fs::metadata(&path).unwrap().len();
    // What a power failure can expose after the last flush: a complete-length record
    // of garbage.
    let mut garbage = vec![0u8; RECORD_HEADER_LEN + 10];
    garbage[0..4].copy_from_slice(&0xDEAD_BEEFu32.to_le_bytes());
    garbage[4..8].copy_from_slice(&10u32.to_le_bytes());
    let mut file = OpenOptions::new().append(true).open(&path).unwrap();
    file.write_all(&garbage).unwrap();
    drop(file);
    let torn = Truncation {
        segment: FIRST.to_string(),
        offset: 10,
        position: whole,
        bytes: garbage.len() as u64,
    };

    let reader = EventLog::open_read_only(dir.path()).unwrap();
    assert_eq!(reader.head(), 10);
    assert_eq!(reader.recovery(), Some(&torn));
    assert_eq!(
        reader.verify().unwrap()[0].torn_tail_bytes,
        garbage.len() as u64
    );
    assert_eq!(
        fs::metadata(&path).unwrap().len(),
        whole + garbage.len() as u64
    );

    let log = EventLog::open(dir.path(), LogOptions::default()).unwrap();
    assert_eq!(log.head(), 10);
    assert_eq!(log.recovery(), Some(&torn));
    assert_eq!(fs::metadata(&path).unwrap().len(), whole);
    drop(log);
    let log = EventLog::open(dir.path(), LogOptions::default()).unwrap();
    assert_eq!(log.recovery(), None);
    assert_eq!(log.verify().unwrap()[0].torn_tail_bytes, 0);
}

#[test]
fn an_open_that_truncates_a_half_written_record_reports_it() {
    let dir = tempfile::tempdir().unwrap();
    drop(write_records(dir.path(), LogOptions::default(), 4));
    let path = dir.path().join(FIRST);
    let whole = fs::metadata(&path).unwrap().len();
    let mut torn = vec![0u8; RECORD_HEADER_LEN];
    torn[4..8].copy_from_slice(&100u32.to_le_bytes());
    torn.extend_from_slice(&[7u8; 10]);
    let mut file = OpenOptions::new().append(true).open(&path).unwrap();
    file.write_all(&torn).unwrap();
    drop(file);
    let log = EventLog::open(dir.path(), LogOptions::default()).unwrap();
    assert_eq!(
        log.recovery(),
        Some(&Truncation {
            segment: FIRST.to_string(),
            offset: 4,
            position: whole,
            bytes: torn.len() as u64,
        })
    );
    assert_eq!(
        log.recovery().unwrap().to_string(),
        format!(
            "torn tail of {} bytes at offset 4 (byte {whole}) of segment {FIRST}",
            torn.len()
        )
    );
}

fn three_segments(dir: &Path) -> (LogOptions, Vec<String>) {
    let options = LogOptions::default().segment_bytes(300);
    drop(write_records(dir, options.clone(), 20));
    let names = segments(dir);
    assert!(names.len() >= 3, "{names:?}");
    (options, names)
}

fn assert_missing(result: Result<EventLog, LogError>, name: &str) {
    match result {
        Err(e @ LogError::MissingSegment { .. }) => {
            let LogError::MissingSegment { segment, .. } = &e else {
                unreachable!()
            };
            assert_eq!(segment, name);
            assert!(e.to_string().contains(name), "{e}");
        }
        other => panic!("expected segment {name} to be reported missing, got {other:?}"),
    }
}

#[test]
fn a_deleted_last_segment_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let (options, names) = three_segments(dir.path());
    let last = names.last().unwrap();
    fs::remove_file(dir.path().join(last)).unwrap();
    assert_missing(EventLog::open_read_only(dir.path()), last);
    assert_missing(EventLog::open(dir.path(), options), last);
    // The writer did not recreate it.
    assert!(!dir.path().join(last).exists());
}

#[test]
fn a_deleted_last_segment_is_an_error_even_without_the_commit_marker() {
    let dir = tempfile::tempdir().unwrap();
    let (options, names) = three_segments(dir.path());
    let last = names.last().unwrap();
    fs::remove_file(dir.path().join(last)).unwrap();
    let _ = fs::remove_file(dir.path().join("HEAD"));
    assert_missing(EventLog::open(dir.path(), options), last);
}

#[test]
fn a_deleted_first_segment_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let (options, names) = three_segments(dir.path());
    fs::remove_file(dir.path().join(&names[0])).unwrap();
    assert_missing(EventLog::open_read_only(dir.path()), FIRST);
    assert_missing(EventLog::open(dir.path(), options), FIRST);
}

#[test]
fn a_deleted_middle_segment_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let (options, names) = three_segments(dir.path());
    fs::remove_file(dir.path().join(&names[1])).unwrap();
    fs::remove_file(dir.path().join(names[0].replace(".seg", ".idx"))).unwrap();
    assert_missing(EventLog::open_read_only(dir.path()), &names[1]);
    assert_missing(EventLog::open(dir.path(), options), &names[1]);
}

#[test]
fn a_directory_that_is_not_a_log_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("notes.txt"), b"not a log").unwrap();
    for result in [
        EventLog::open_read_only(dir.path()),
        EventLog::open(dir.path(), LogOptions::default()),
    ] {
        match result {
            Err(e @ LogError::NotALog { .. }) => assert!(
                e.to_string().starts_with("not an event log directory: "),
                "{e}"
            ),
            other => panic!("expected NotALog, got {other:?}"),
        }
    }
    // Nothing was created in it.
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn a_read_only_open_of_a_missing_or_empty_directory_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    for path in [dir.path().to_path_buf(), dir.path().join("absent")] {
        match EventLog::open_read_only(&path) {
            Err(e @ LogError::NoLog { .. }) => {
                assert!(e.to_string().starts_with("no event log at "), "{e}")
            }
            other => panic!("expected NoLog, got {other:?}"),
        }
    }
    // Opening for writing creates a log in either.
    let absent = dir.path().join("absent");
    drop(EventLog::open(&absent, LogOptions::default()).unwrap());
    assert_eq!(EventLog::open_read_only(&absent).unwrap().head(), 0);
    let empty = tempfile::tempdir().unwrap();
    drop(EventLog::open(empty.path(), LogOptions::default()).unwrap());
    assert_eq!(EventLog::open_read_only(empty.path()).unwrap().head(), 0);
}

#[test]
fn damage_in_the_last_segment_is_still_reported_as_corrupt_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    drop(write_records(dir.path(), LogOptions::default(), 10));
    let path = dir.path().join(FIRST);
    poke(&path, position_of(9) + RECORD_HEADER_LEN as u64, &[0xFF]);
    match EventLog::open(dir.path(), LogOptions::default()) {
        Err(LogError::Corrupt {
            reason: CorruptReason::ChecksumMismatch { .. },
            ..
        }) => {}
        other => panic!("expected a checksum mismatch, got {other:?}"),
    }
}
