//! Writes the fuzz input as a segment file and reads it back every way the log can:
//! read-only open, full read, verify, then a writable open (which may truncate a torn
//! tail) and another full read. Any panic, or a record that is not the next dense
//! offset, is a failure.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use dataflow_log::EventLog;
use libfuzzer_sys::fuzz_target;

/// A valid segment header for base offset 0, so most inputs get past the header check.
const HEADER: [u8; 24] = {
    let mut h = [0u8; 24];
    let magic = *b"DFLOGSEG";
    let mut i = 0;
    while i < 8 {
        h[i] = magic[i];
        i += 1;
    }
    h[8] = 1;
    h
};

fn dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| std::env::temp_dir().join(format!("dflog-fuzz-{}", std::process::id())))
}

fn read_all(log: &EventLog) {
    let Ok(reader) = log.read_from(0) else {
        return;
    };
    let mut expected = 0;
    for record in reader {
        match record {
            Ok(record) => {
                assert_eq!(record.offset, expected);
                expected += 1;
            }
            Err(e) => {
                assert!(!e.to_string().is_empty());
                return;
            }
        }
    }
    assert_eq!(expected, log.head());
    if let Ok(reports) = log.verify() {
        assert_eq!(reports.iter().map(|r| r.records).sum::<u64>(), log.head());
    }
}

fuzz_target!(|data: &[u8]| {
    let dir = dir();
    let _ = std::fs::remove_dir_all(dir);
    if std::fs::create_dir_all(dir).is_err() {
        return;
    }
    // The first input byte chooses whether to prepend a valid header.
    let mut file = Vec::with_capacity(data.len() + HEADER.len());
    match data.split_first() {
        Some((flag, rest)) if flag & 1 == 0 => {
            file.extend_from_slice(&HEADER);
            file.extend_from_slice(rest);
        }
        _ => file.extend_from_slice(data),
    }
    if std::fs::write(dir.join("00000000000000000000.seg"), &file).is_err() {
        return;
    }
    if let Ok(log) = EventLog::open_read_only(dir) {
        read_all(&log);
    }
    if let Ok(log) = EventLog::open(dir, Default::default()) {
        read_all(&log);
    }
});
