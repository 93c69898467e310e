//! Reads the fuzz input as a JSON Lines file through `FileSource`, as word count's lines or as
//! windowed sales' timed sales, and checks the accounting line by line: every line that is not
//! blank is one item, a record or a dead letter naming that line and carrying its text; the counts
//! agree (read = ok + dead); a record read is written out and read back unchanged, and its price
//! (a JSON number or a string) is read exactly as the decimal its text writes.
#![no_main]

#[path = "common/mod.rs"]
mod common;

use dataflow_core::io::{FileSource, Format};
use dataflow_examples::{Line, TimedSale};
use libfuzzer_sys::fuzz_target;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt::Debug;

/// What one line of the input must give: `None` for a blank line, else the record or the reason-free
/// fact that it is a dead letter.
fn expected<T: DeserializeOwned>(line: &[u8]) -> Option<Option<T>> {
    match std::str::from_utf8(line) {
        Ok(text) if text.trim().is_empty() => None,
        Ok(text) => Some(serde_json::from_str::<T>(text.trim()).ok()),
        Err(_) => Some(None),
    }
}

fn check<T>(data: &[u8])
where
    T: DeserializeOwned + Serialize + PartialEq + Debug + common::Priced,
{
    let path = common::input_file("input.jsonl", data);
    let mut source = FileSource::<T>::open(&path, Format::Jsonl).expect("a file opens");

    // Lines as `read_until` splits them: a last line without a newline still counts.
    let mut lines: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    if lines.last().is_some_and(|last| last.is_empty()) {
        lines.pop();
    }
    let mut wanted = lines
        .iter()
        .enumerate()
        .filter_map(|(i, line)| expected::<T>(line).map(|e| (i as u64 + 1, *line, e)));

    let mut items = 0u64;
    loop {
        let item = source
            .try_next()
            .unwrap_or_else(|e| panic!("a regular file fails as a whole: {e}"));
        let Some(item) = item else { break };
        items += 1;
        let (number, line, want) = wanted
            .next()
            .unwrap_or_else(|| panic!("item {items} is more than the input's lines: {item:?}"));
        match (item, want) {
            (Ok(record), Some(want)) => {
                assert_eq!(record, want, "line {number}");
                // A price is read digit for digit, whether written as a number or a string.
                if let Ok(fields) = serde_json::from_slice::<
                    std::collections::BTreeMap<String, Box<serde_json::value::RawValue>>,
                >(line)
                    && let Some(price) = fields.get("price")
                {
                    let text = match serde_json::from_str::<String>(price.get()) {
                        Ok(string) => string,
                        Err(_) => price.get().to_string(),
                    };
                    common::exact_price(&record, &text);
                }
                common::round_trips(&record);
            }
            (Err(letter), None) => {
                assert_eq!(letter.line, number, "the dead letter names its line");
                assert!(!letter.reason.is_empty(), "line {number}: a reason");
                assert!(
                    !letter.raw.is_empty(),
                    "line {number}: the dead letter keeps its text"
                );
                if let Ok(text) = std::str::from_utf8(line) {
                    assert_eq!(letter.raw, text.trim(), "line {number}");
                }
            }
            (got, want) => panic!("line {number}: read as {got:?}, expected {want:?}"),
        }
    }
    let rest: Vec<u64> = wanted.map(|(number, _, _)| number).collect();
    assert!(rest.is_empty(), "lines never read: {rest:?}");
    let stats = source.stats();
    assert_eq!(stats.read, items, "{stats:?}");
    assert_eq!(stats.read, stats.ok + stats.dead, "{stats:?}");
}

fuzz_target!(|data: &[u8]| {
    // The first byte picks the record type.
    let Some((flag, rest)) = data.split_first() else {
        return;
    };
    if flag & 1 == 0 {
        check::<Line>(rest);
    } else {
        check::<TimedSale>(rest);
    }
});
