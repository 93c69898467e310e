//! The `dflog` tool against a real log directory.

use std::fs::OpenOptions;
use std::io::{Seek, SeekFrom, Write};
use std::process::{Command, Output};

use dataflow_log::{EventLog, LogOptions, RECORD_HEADER_LEN, SEGMENT_HEADER_LEN};

fn dflog(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dflog"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn info_verify_and_dump_then_report_corruption() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_str().unwrap();
    let log = EventLog::open(dir.path(), LogOptions::default()).unwrap();
    let mut batch = log.batch();
    for i in 0..10u64 {
        batch
            .push_raw(1000 + i, 1 + (i % 2) as u32, &[i as u8; 4])
            .unwrap();
    }
    batch.commit().unwrap();
    drop(log);

    let verify = dflog(&["verify", path]);
    assert!(verify.status.success());
    assert_eq!(
        String::from_utf8_lossy(&verify.stdout),
        "ok: 1 segments, 10 records, every checksum valid\n"
    );

    let info = String::from_utf8(dflog(&["info", path]).stdout).unwrap();
    let bytes = SEGMENT_HEADER_LEN + 10 * (RECORD_HEADER_LEN as u64 + 4);
    let row: Vec<&str> = info.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(
        row,
        vec![
            "00000000000000000000.seg",
            "0",
            "10",
            &bytes.to_string(),
            "1,2",
            "1000..=1009"
        ]
    );

    let dump =
        String::from_utf8(dflog(&["dump", path, "--from", "3", "--limit", "2"]).stdout).unwrap();
    let rows: Vec<Vec<&str>> = dump
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows,
        vec![
            vec!["3", "1003", "2", "4", "03030303"],
            vec!["4", "1004", "1", "4", "04040404"],
        ]
    );

    // Damage the payload of record 1, which intact records follow.
    let position = SEGMENT_HEADER_LEN + RECORD_HEADER_LEN as u64 + 4 + RECORD_HEADER_LEN as u64;
    let mut file = OpenOptions::new()
        .write(true)
        .open(dir.path().join("00000000000000000000.seg"))
        .unwrap();
    file.seek(SeekFrom::Start(position)).unwrap();
    file.write_all(&[0xff]).unwrap();
    drop(file);
    let verify = dflog(&["verify", path]);
    assert_eq!(verify.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&verify.stderr);
    assert!(
        stderr.starts_with(&format!(
            "dflog: corrupt record in segment 00000000000000000000.seg at offset 1 (byte {}): checksum mismatch",
            position - RECORD_HEADER_LEN as u64
        )),
        "{stderr}"
    );
}

#[test]
fn verify_refuses_a_directory_that_is_not_a_log() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("passwd"), b"root:x:0:0").unwrap();
    let verify = dflog(&["verify", dir.path().to_str().unwrap()]);
    assert_eq!(verify.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&verify.stderr);
    assert!(
        stderr.starts_with("dflog: not an event log directory: "),
        "{stderr}"
    );
    let missing = dir.path().join("nothing-here");
    let verify = dflog(&["verify", missing.to_str().unwrap()]);
    assert_eq!(verify.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&verify.stderr);
    assert!(stderr.starts_with("dflog: no event log at "), "{stderr}");
}

#[test]
fn verify_reports_a_damaged_last_record_and_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_str().unwrap();
    let log = EventLog::open(dir.path(), LogOptions::default()).unwrap();
    let mut batch = log.batch();
    for i in 0..3u64 {
        batch.push_raw(i, 1, &[i as u8; 4]).unwrap();
    }
    batch.commit().unwrap();
    drop(log);
    let segment = dir.path().join("00000000000000000000.seg");
    let len = std::fs::metadata(&segment).unwrap().len();

    // Half a record after the last flush: reported, not an error.
    let mut file = OpenOptions::new().append(true).open(&segment).unwrap();
    file.write_all(&[1, 2, 3, 4, 5]).unwrap();
    drop(file);
    let verify = dflog(&["verify", path]);
    assert!(verify.status.success());
    assert_eq!(
        String::from_utf8_lossy(&verify.stdout),
        format!(
            "ok: 1 segments, 3 records, every checksum valid\n\
             torn tail of 5 bytes at offset 3 (byte {len}) of segment 00000000000000000000.seg \
             (ignored; the next writer truncates it)\n"
        )
    );

    // A flipped byte in the last committed record: corruption, named.
    OpenOptions::new()
        .write(true)
        .open(&segment)
        .unwrap()
        .set_len(len)
        .unwrap();
    let mut file = OpenOptions::new().write(true).open(&segment).unwrap();
    file.seek(SeekFrom::Start(len - 2)).unwrap();
    file.write_all(&[0xff]).unwrap();
    drop(file);
    let verify = dflog(&["verify", path]);
    assert_eq!(verify.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&verify.stderr);
    assert!(
        stderr.starts_with("dflog: corrupt record in segment 00000000000000000000.seg at offset 2"),
        "{stderr}"
    );
}
