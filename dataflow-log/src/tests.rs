use std::fs::{self, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;
use std::thread;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::format::segment_name;
use crate::{
    CorruptReason, DecodeError, EventLog, FsyncPolicy, LogError, LogOptions, RECORD_HEADER_LEN,
    SEGMENT_HEADER_LEN, Schema, upgrade_from,
};

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Tick {
    n: u64,
    label: String,
}

impl Schema for Tick {
    const VERSION: u32 = 1;
}

fn tick(n: u64) -> Tick {
    Tick {
        n,
        label: format!("tick-{n}"),
    }
}

fn append_ticks(log: &EventLog, range: std::ops::Range<u64>) {
    let mut batch = log.batch();
    for n in range.clone() {
        batch.push(n * 10, &tick(n)).unwrap();
    }
    assert_eq!(batch.commit().unwrap(), range);
}

fn read_all(log: &EventLog, from: u64) -> Vec<(u64, u64, Tick)> {
    log.read_from(from)
        .unwrap()
        .map(|r| {
            let r = r.unwrap();
            (r.offset, r.event_time, r.decode::<Tick>().unwrap())
        })
        .collect()
}

fn expected(range: std::ops::Range<u64>) -> Vec<(u64, u64, Tick)> {
    range.map(|n| (n, n * 10, tick(n))).collect()
}

fn segment_files(dir: &Path, ext: &str) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(ext))
        .collect();
    names.sort();
    names
}

#[test]
fn records_round_trip_with_offsets_times_and_versions() {
    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::open(dir.path(), LogOptions::default()).unwrap();
    assert_eq!(log.head(), 0);
    append_ticks(&log, 0..3);
    assert_eq!(log.append(99, &tick(3)).unwrap(), 3);
    assert_eq!(log.head(), 4);
    let records: Vec<_> = log.read_from(0).unwrap().map(Result::unwrap).collect();
    assert_eq!(records.len(), 4);
    assert_eq!(records[3].event_time, 99);
    assert_eq!(records[1].schema_version, 1);
    assert_eq!(records[1].payload, postcard::to_stdvec(&tick(1)).unwrap());
    let size = fs::metadata(dir.path().join(segment_name(0)))
        .unwrap()
        .len();
    let payloads: u64 = records.iter().map(|r| r.payload.len() as u64).sum();
    assert_eq!(
        size,
        SEGMENT_HEADER_LEN + 4 * RECORD_HEADER_LEN as u64 + payloads
    );
    drop(log);
    let log = EventLog::open(dir.path(), LogOptions::default()).unwrap();
    assert_eq!(log.head(), 4);
    let mut all = expected(0..3);
    all.push((3, 99, tick(3)));
    assert_eq!(read_all(&log, 0), all);
    assert_eq!(read_all(&log, 4), vec![]);
}

#[test]
fn empty_batch_and_out_of_range_reads() {
    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::open(dir.path(), LogOptions::default()).unwrap();
    append_ticks(&log, 0..2);
    assert_eq!(log.batch().commit().unwrap(), 2..2);
    match log.read_from(3) {
        Err(LogError::OffsetOutOfRange { requested, head }) => {
            assert_eq!((requested, head), (3, 2))
        }
        other => panic!("expected OffsetOutOfRange, got {other:?}"),
    }
    assert!(matches!(
        log.follow_from(5),
        Err(LogError::OffsetOutOfRange { .. })
    ));
}

#[test]
fn segments_roll_at_the_size_limit_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let options = LogOptions::default()
        .segment_bytes(1024)
        .index_interval_bytes(128);
    let log = EventLog::open(dir.path(), options.clone()).unwrap();
    for start in (0..200).step_by(25) {
        append_ticks(&log, start..start + 25);
    }
    let segments = segment_files(dir.path(), ".seg");
    assert!(segments.len() > 5, "{segments:?}");
    assert_eq!(segments[0], "00000000000000000000.seg");
    // Every sealed segment has an index, the active one not yet.
    assert_eq!(segment_files(dir.path(), ".idx").len(), segments.len() - 1);
    let reports = log.verify().unwrap();
    assert_eq!(reports.iter().map(|r| r.records).sum::<u64>(), 200);
    for pair in reports.windows(2) {
        assert_eq!(pair[0].base_offset + pair[0].records, pair[1].base_offset);
        assert!(pair[0].bytes <= 1024);
        assert_eq!(pair[1].file, segment_name(pair[1].base_offset));
    }
    assert_eq!(reports[0].schema_versions, vec![1]);
    assert_eq!(
        reports[0].event_time_range,
        Some((0, (reports[0].records - 1) * 10))
    );
    drop(log);
    let log = EventLog::open(dir.path(), options).unwrap();
    assert_eq!(log.head(), 200);
    assert_eq!(read_all(&log, 0), expected(0..200));
    append_ticks(&log, 200..210);
    assert_eq!(read_all(&log, 195), expected(195..210));
}

#[test]
fn a_batch_larger_than_a_segment_is_split_across_segments() {
    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::open(dir.path(), LogOptions::default().segment_bytes(512)).unwrap();
    append_ticks(&log, 0..100);
    let reports = log.verify().unwrap();
    assert!(reports.len() > 5);
    assert!(reports.iter().all(|r| r.bytes <= 512));
    assert_eq!(read_all(&log, 0), expected(0..100));
}

#[test]
fn seek_uses_the_index_instead_of_scanning_from_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let options = LogOptions::default()
        .segment_bytes(64 << 10)
        .index_interval_bytes(256);
    let log = EventLog::open(dir.path(), options.clone()).unwrap();
    append_ticks(&log, 0..5000);
    let first = dir.path().join(segment_name(0));
    // Damage the first record of the first (sealed) segment.
    let mut file = OpenOptions::new().write(true).open(&first).unwrap();
    file.seek(SeekFrom::Start(
        SEGMENT_HEADER_LEN + RECORD_HEADER_LEN as u64,
    ))
    .unwrap();
    file.write_all(b"XX").unwrap();
    drop(file);
    // A seek to the end of that segment jumps over the damage through the index ...
    let reports = log.verify();
    assert!(reports.is_err());
    let in_first = 40;
    assert_eq!(
        read_all(&log, in_first)[..3],
        expected(in_first..in_first + 3)[..]
    );
    assert_eq!(read_all(&log, 4990), expected(4990..5000));
    // ... while reading from offset 0 reports it.
    let err = log.read_from(0).unwrap().next().unwrap().unwrap_err();
    match &err {
        LogError::Corrupt {
            segment,
            offset,
            position,
            reason: CorruptReason::ChecksumMismatch { .. },
        } => {
            assert_eq!(
                (segment.as_str(), *offset, *position),
                ("00000000000000000000.seg", 0, 24)
            );
        }
        other => panic!("expected a checksum error, got {other:?}"),
    }
    assert!(
        err.to_string()
            .starts_with("corrupt record in segment 00000000000000000000.seg at offset 0 (byte 24): checksum mismatch"),
        "{err}"
    );
    // The active segment's in-memory index works the same way.
    drop(log);
    let log = EventLog::open_read_only(dir.path()).unwrap();
    assert_eq!(read_all(&log, 4321)[0], (4321, 43210, tick(4321)));
}

#[test]
fn follower_sees_records_appended_concurrently() {
    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::open(dir.path(), LogOptions::default().segment_bytes(2048)).unwrap();
    append_ticks(&log, 0..10);
    let mut tail = log.follow_from(5).unwrap();
    let writer = {
        let log = log.clone();
        thread::spawn(move || {
            for start in (10..300).step_by(10) {
                append_ticks(&log, start..start + 10);
                thread::sleep(Duration::from_millis(1));
            }
        })
    };
    let mut seen = Vec::new();
    while seen.len() < 295 {
        match tail.next_timeout(Duration::from_secs(5)).unwrap() {
            Some(record) => seen.push((record.offset, record.event_time, record.decode().unwrap())),
            None => panic!("timed out after {} records", seen.len()),
        }
    }
    writer.join().unwrap();
    assert_eq!(seen, expected(5..300));
    assert_eq!(tail.next_timeout(Duration::from_millis(20)).unwrap(), None);
    assert_eq!(tail.position(), 300);
}

#[test]
fn a_reader_stops_at_the_head_of_its_creation() {
    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::open(dir.path(), LogOptions::default()).unwrap();
    append_ticks(&log, 0..5);
    let reader = log.read_from(0).unwrap();
    append_ticks(&log, 5..8);
    assert_eq!(reader.count(), 5);
}

#[derive(Serialize, Deserialize, Debug)]
struct TickV1 {
    n: u64,
}

impl Schema for TickV1 {
    const VERSION: u32 = 1;
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct TickV2 {
    n: u64,
    label: String,
}

impl From<TickV1> for TickV2 {
    fn from(old: TickV1) -> Self {
        TickV2 {
            n: old.n,
            label: "upgraded".to_string(),
        }
    }
}

impl Schema for TickV2 {
    const VERSION: u32 = 2;
    fn upgrade(version: u32, payload: &[u8]) -> Result<Self, DecodeError> {
        match version {
            1 => upgrade_from::<TickV1, Self>(payload),
            other => Err(DecodeError::unsupported(other, Self::VERSION)),
        }
    }
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct TickV3 {
    n: u64,
}

impl Schema for TickV3 {
    const VERSION: u32 = 3;
}

#[test]
fn older_versions_are_upgraded_and_unreadable_ones_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::open(dir.path(), LogOptions::default()).unwrap();
    let mut batch = log.batch();
    batch.push(1, &TickV1 { n: 7 }).unwrap();
    batch
        .push(
            2,
            &TickV2 {
                n: 8,
                label: "new".to_string(),
            },
        )
        .unwrap();
    batch.push(3, &TickV3 { n: 9 }).unwrap();
    batch.commit().unwrap();
    let records: Vec<_> = log.read_from(0).unwrap().map(Result::unwrap).collect();
    assert_eq!(
        records.iter().map(|r| r.schema_version).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert_eq!(
        records[0].decode::<TickV2>().unwrap(),
        TickV2 {
            n: 7,
            label: "upgraded".to_string()
        }
    );
    assert_eq!(
        records[1].decode::<TickV2>().unwrap(),
        TickV2 {
            n: 8,
            label: "new".to_string()
        }
    );
    let newer = records[2].decode::<TickV2>().unwrap_err();
    assert_eq!(
        newer.to_string(),
        "cannot decode record at offset 2 (schema version 3): schema version 3 is newer than the reader's version 2"
    );
    // TickV3 has no upgrade function: versions 1 and 2 are unreadable to it.
    let older = records[0].decode::<TickV3>().unwrap_err();
    assert!(matches!(
        older,
        LogError::Decode {
            offset: 0,
            version: 1,
            source: DecodeError::UnsupportedVersion {
                version: 1,
                current: 3
            }
        }
    ));
    assert_eq!(
        older.to_string(),
        "cannot decode record at offset 0 (schema version 1): schema version 1 cannot be upgraded to version 3"
    );
    // A payload of the right version but the wrong shape is an error, not garbage.
    let wrong = records[1].decode::<TickV1>();
    assert!(
        matches!(wrong, Err(LogError::Decode { offset: 1, .. })),
        "{wrong:?}"
    );
}

fn append_raw_bytes(path: &Path, bytes: &[u8]) {
    let mut file = OpenOptions::new().append(true).open(path).unwrap();
    file.write_all(bytes).unwrap();
}

#[test]
fn a_torn_tail_is_truncated_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::open(dir.path(), LogOptions::default()).unwrap();
    append_ticks(&log, 0..10);
    drop(log);
    let path = dir.path().join(segment_name(0));
    let whole = fs::metadata(&path).unwrap().len();
    // Half of a record: a header promising 100 payload bytes, and 10 of them.
    let mut torn = vec![0u8; RECORD_HEADER_LEN];
    torn[4..8].copy_from_slice(&100u32.to_le_bytes());
    torn.extend_from_slice(&[7u8; 10]);
    append_raw_bytes(&path, &torn);

    // A reader in another process sees the whole records and leaves the file alone.
    let reader = EventLog::open_read_only(dir.path()).unwrap();
    assert_eq!(reader.head(), 10);
    assert_eq!(read_all(&reader, 0), expected(0..10));
    assert_eq!(
        fs::metadata(&path).unwrap().len(),
        whole + torn.len() as u64
    );

    let log = EventLog::open(dir.path(), LogOptions::default()).unwrap();
    assert_eq!(log.head(), 10);
    assert_eq!(fs::metadata(&path).unwrap().len(), whole);
    append_ticks(&log, 10..12);
    assert_eq!(read_all(&log, 0), expected(0..12));
}

#[test]
fn a_whole_but_damaged_last_record_is_corruption_not_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::open(dir.path(), LogOptions::default()).unwrap();
    append_ticks(&log, 0..10);
    drop(log);
    let path = dir.path().join(segment_name(0));
    let len = fs::metadata(&path).unwrap().len();
    let mut file = OpenOptions::new().write(true).open(&path).unwrap();
    file.seek(SeekFrom::Start(len - 1)).unwrap();
    file.write_all(&[0xEE]).unwrap();
    drop(file);
    // Record 9 was committed and flushed: its bytes are all there, its checksum fails.
    match EventLog::open(dir.path(), LogOptions::default()) {
        Err(LogError::Corrupt {
            offset: 9,
            reason: CorruptReason::ChecksumMismatch { .. },
            ..
        }) => {}
        other => panic!("expected record 9 to be reported corrupt, got {other:?}"),
    }
    assert_eq!(fs::metadata(&path).unwrap().len(), len);
}

#[test]
fn damage_before_intact_records_is_an_error_naming_segment_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::open(dir.path(), LogOptions::default()).unwrap();
    append_ticks(&log, 0..10);
    let third = read_all(&log, 0)
        .iter()
        .take(2)
        .map(|(_, _, t)| RECORD_HEADER_LEN as u64 + postcard::to_stdvec(t).unwrap().len() as u64)
        .sum::<u64>()
        + SEGMENT_HEADER_LEN;
    drop(log);
    let path = dir.path().join(segment_name(0));
    let mut file = OpenOptions::new().write(true).open(&path).unwrap();
    // Overwrite the length field of record 2 with a huge value.
    file.seek(SeekFrom::Start(third + 4)).unwrap();
    file.write_all(&u32::MAX.to_le_bytes()).unwrap();
    drop(file);
    let len = fs::metadata(&path).unwrap().len();
    for result in [
        EventLog::open(dir.path(), LogOptions::default()),
        EventLog::open_read_only(dir.path()),
    ] {
        let err = result.unwrap_err();
        match &err {
            LogError::Corrupt {
                segment,
                offset,
                position,
                reason: CorruptReason::ImpossibleLength { len: u32::MAX, .. },
            } => assert_eq!(
                (segment.as_str(), *offset, *position),
                ("00000000000000000000.seg", 2, third)
            ),
            other => panic!("expected an impossible length, got {other:?}"),
        }
        assert!(err.to_string().contains("at offset 2"), "{err}");
    }
    // Nothing was truncated.
    assert_eq!(fs::metadata(&path).unwrap().len(), len);
}

#[test]
fn a_second_writer_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::open(dir.path(), LogOptions::default()).unwrap();
    assert!(matches!(
        EventLog::open(dir.path(), LogOptions::default()),
        Err(LogError::Locked { .. })
    ));
    let reader = EventLog::open_read_only(dir.path()).unwrap();
    assert!(matches!(
        reader.append(0, &tick(0)),
        Err(LogError::ReadOnly)
    ));
    drop(log);
    EventLog::open(dir.path(), LogOptions::default()).unwrap();
}

#[test]
fn every_fsync_policy_keeps_committed_records() {
    for policy in [
        FsyncPolicy::EveryCommit,
        FsyncPolicy::EveryN(7),
        FsyncPolicy::Interval(Duration::from_millis(1)),
        FsyncPolicy::Never,
    ] {
        let dir = tempfile::tempdir().unwrap();
        let options = LogOptions::default().fsync(policy).segment_bytes(600);
        let log = EventLog::open(dir.path(), options.clone()).unwrap();
        for start in (0..40).step_by(4) {
            append_ticks(&log, start..start + 4);
        }
        log.sync().unwrap();
        drop(log);
        let log = EventLog::open(dir.path(), options).unwrap();
        assert_eq!(log.head(), 40, "{policy:?}");
        assert_eq!(read_all(&log, 0), expected(0..40), "{policy:?}");
    }
}

#[test]
fn a_missing_index_is_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let options = LogOptions::default()
        .segment_bytes(700)
        .index_interval_bytes(100);
    let log = EventLog::open(dir.path(), options.clone()).unwrap();
    append_ticks(&log, 0..60);
    drop(log);
    let idx = dir.path().join("00000000000000000000.idx");
    let original = fs::read(&idx).unwrap();
    fs::remove_file(&idx).unwrap();
    let log = EventLog::open(dir.path(), options.clone()).unwrap();
    assert_eq!(fs::read(&idx).unwrap(), original);
    assert_eq!(read_all(&log, 3), expected(3..60));
    drop(log);
    // A stale index (wrong summary) is ignored by readers and rebuilt on open.
    fs::write(&idx, b"DFLOGIDX garbage").unwrap();
    let reader = EventLog::open_read_only(dir.path()).unwrap();
    assert_eq!(read_all(&reader, 5), expected(5..60));
    EventLog::open(dir.path(), options).unwrap();
    assert_eq!(fs::read(&idx).unwrap(), original);
}

#[test]
fn a_segment_created_but_not_written_is_recovered() {
    let dir = tempfile::tempdir().unwrap();
    let options = LogOptions::default().segment_bytes(700);
    let log = EventLog::open(dir.path(), options.clone()).unwrap();
    append_ticks(&log, 0..20);
    let head = log.head();
    drop(log);
    // A crash between creating the next segment and writing its header.
    fs::write(dir.path().join(segment_name(head)), b"DFLOG").unwrap();
    let reader = EventLog::open_read_only(dir.path()).unwrap();
    assert_eq!(reader.head(), 20);
    assert_eq!(reader.verify().unwrap().last().unwrap().records, 0);
    let log = EventLog::open(dir.path(), options).unwrap();
    assert_eq!(log.head(), 20);
    append_ticks(&log, 20..25);
    assert_eq!(read_all(&log, 0), expected(0..25));
}

#[test]
fn a_read_only_follower_sees_what_another_handle_appends_across_segments() {
    let dir = tempfile::tempdir().unwrap();
    let options = LogOptions::default().segment_bytes(400);
    let writer = EventLog::open(dir.path(), options).unwrap();
    append_ticks(&writer, 0..5);
    let reader = EventLog::open_read_only(dir.path()).unwrap();
    let mut follower = reader.follow_from(0).unwrap();
    for n in 0..5 {
        let record = follower.try_next().unwrap().unwrap();
        assert_eq!(record.offset, n);
    }
    assert_eq!(follower.try_next().unwrap(), None);
    // Enough to roll into new segments.
    append_ticks(&writer, 5..40);
    assert!(segment_files(dir.path(), ".seg").len() > 2);
    for n in 5..40 {
        let record = follower
            .next_timeout(Duration::from_secs(5))
            .unwrap()
            .unwrap_or_else(|| panic!("record {n} not seen"));
        assert_eq!(
            (record.offset, record.decode::<Tick>().unwrap()),
            (n, tick(n))
        );
    }
    assert_eq!(reader.head(), 40);
    assert_eq!(read_all(&reader, 0), expected(0..40));
    append_ticks(&writer, 40..42);
    assert_eq!(reader.refresh().unwrap(), 42);
    assert_eq!(
        follower
            .next_timeout(Duration::from_millis(1))
            .unwrap()
            .map(|r| r.offset),
        Some(40)
    );
}

fn scanned<R>(f: impl FnOnce() -> R) -> (R, u64) {
    crate::scan::SCANNED_BYTES.with(|b| b.set(0));
    let result = f();
    (
        result,
        crate::scan::SCANNED_BYTES.with(std::cell::Cell::get),
    )
}

#[test]
fn polling_an_idle_read_only_log_reads_only_new_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let writer = EventLog::open(dir.path(), LogOptions::default()).unwrap();
    let mut batch = writer.batch();
    for n in 0..1000u64 {
        batch.push_raw(n, 1, &[n as u8; 1000]).unwrap();
    }
    batch.commit().unwrap();
    let (first, bytes) = scanned(|| EventLog::open_read_only(dir.path()).unwrap());
    assert!(bytes > 1_000_000, "{bytes}");
    assert_eq!(first.head(), 1000);

    // Polling by reopening, as a process following another one's log does.
    let (again, bytes) = scanned(|| EventLog::open_read_only(dir.path()).unwrap());
    assert_eq!((again.head(), bytes), (1000, 0));
    // Polling a handle.
    let (head, bytes) = scanned(|| first.refresh().unwrap());
    assert_eq!((head, bytes), (1000, 0));

    writer.append(5, &tick(1000)).unwrap();
    let (again, bytes) = scanned(|| EventLog::open_read_only(dir.path()).unwrap());
    assert_eq!(again.head(), 1001);
    assert!(bytes < 100, "{bytes}");
    let (head, bytes) = scanned(|| first.refresh().unwrap());
    assert_eq!(head, 1001);
    assert!(bytes < 100, "{bytes}");
    assert_eq!(
        again
            .read_from(1000)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .offset,
        1000
    );
    // The reopened handle still checks what it reads.
    assert_eq!(again.verify().unwrap()[0].records, 1001);
}
