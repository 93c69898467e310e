//! Reads the fuzz input as a CSV file through `FileSource`, as daily sales, windowed sales or word
//! count records, and checks the accounting: the source yields exactly one item (a record or a dead
//! letter) per CSV record of the file, the counts agree (read = ok + dead), dead letters name the
//! line their record starts on (checked exactly for files without quotes, as increasing line
//! numbers otherwise; `FUZZ_CSV_ORDERED_LINES=1` checks only the order), the only error of a
//! readable file is a missing header before the first record, and a record read is written out and
//! read back unchanged, its price exactly the decimal the field's text writes.
#![no_main]

#[path = "common/mod.rs"]
mod common;

use dataflow_core::io::{FileSource, Format};
use dataflow_examples::{Line, Sale, TimedSale};
use libfuzzer_sys::fuzz_target;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt::Debug;

/// Valid headers to put in front of the input, so that most inputs get past the header line.
const HEADERS: [&str; 4] = [
    "",
    "date,product,quantity,price\n",
    "product,quantity,price,ts\n",
    "text\n",
];

/// The line (1 + the newlines before it) on which each record of a CSV file without quotes starts,
/// the header's first: a record is a run of bytes between line terminators (`\n`, `\r`), and csv
/// skips empty lines.
fn record_lines(bytes: &[u8]) -> Vec<u64> {
    let mut lines = Vec::new();
    let mut line = 1;
    let mut start = None;
    for &byte in bytes {
        if byte == b'\n' || byte == b'\r' {
            lines.extend(start.take());
            if byte == b'\n' {
                line += 1;
            }
        } else if start.is_none() {
            start = Some(line);
        }
    }
    lines.extend(start);
    lines
}

/// The CSV records after the header, as the csv crate reads them with the source's settings: the
/// text of each record's `price` column where it has one; `None` when the header line itself cannot
/// be read.
fn prices_in(bytes: &[u8]) -> Option<Vec<Option<String>>> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let column = reader
        .headers()
        .ok()?
        .iter()
        .position(|name| name == "price");
    let mut record = csv::ByteRecord::new();
    let mut prices = Vec::new();
    // A record per iteration at most: the bound only guards the oracle itself.
    for _ in 0..=bytes.len() + 1 {
        match reader.read_byte_record(&mut record) {
            Ok(false) => return Some(prices),
            Ok(true) => prices.push(
                column
                    .and_then(|c| record.get(c))
                    .and_then(|text| std::str::from_utf8(text).ok())
                    .map(str::to_string),
            ),
            Err(_) => prices.push(None),
        }
    }
    panic!("the csv crate reads more records than bytes");
}

/// The number of CSV records after the header (see [`prices_in`]).
fn records_in(bytes: &[u8]) -> Option<u64> {
    prices_in(bytes).map(|prices| prices.len() as u64)
}

fn check<T>(data: &[u8])
where
    T: DeserializeOwned + Serialize + PartialEq + Debug + common::Priced,
{
    let path = common::input_file("input.csv", data);
    let Ok(mut source) = FileSource::<T>::open(&path, Format::Csv) else {
        assert!(
            records_in(data).is_none(),
            "the header line reads, but the source refused the file"
        );
        return;
    };
    let last_line = data.iter().filter(|&&b| b == b'\n').count() as u64 + 1;
    // Without quotes the record boundaries are plain: the line of each record, header first.
    let lines = (!data.contains(&b'"')).then(|| record_lines(data));
    if let Some(lines) = &lines {
        assert_eq!(
            Some(lines.len().saturating_sub(1) as u64),
            records_in(data),
            "records of an unquoted file: {lines:?}"
        );
    }
    let exact = lines.is_some() && std::env::var_os("FUZZ_CSV_ORDERED_LINES").is_none();
    let prices = prices_in(data).unwrap_or_default();
    let mut items = 0u64;
    let mut previous_line = 0u64;
    loop {
        let item = match source.try_next() {
            Ok(Some(item)) => item,
            Ok(None) => break,
            Err(e) => {
                // A file without a header line is refused at its first record, never later.
                assert_eq!(items, 0, "error after {items} records: {e}");
                assert!(e.to_string().contains("no header line"), "{e}");
                return;
            }
        };
        items += 1;
        assert!(
            items <= data.len() as u64 + 1,
            "more items than bytes in the file"
        );
        match item {
            Ok(record) => {
                let price = prices.get(items as usize - 1).cloned().flatten();
                if let Some(price) = price {
                    common::exact_price(&record, &price);
                }
                common::round_trips(&record);
            }
            Err(letter) => {
                if exact {
                    let line = lines
                        .as_ref()
                        .and_then(|lines| lines.get(items as usize).copied());
                    assert_eq!(Some(letter.line), line, "record {items}: {letter:?}");
                }
                assert!(
                    letter.line >= previous_line && letter.line >= 1 && letter.line <= last_line,
                    "dead letter on line {} after line {previous_line}, of {last_line}: {letter:?}",
                    letter.line
                );
                previous_line = letter.line;
                assert!(!letter.reason.is_empty(), "{letter:?}");
            }
        }
    }
    let stats = source.stats();
    assert_eq!(stats.read, items, "{stats:?}");
    assert_eq!(stats.read, stats.ok + stats.dead, "{stats:?}");
    assert_eq!(
        Some(stats.read),
        records_in(data),
        "every CSV record is read as a record or a dead letter"
    );
}

fuzz_target!(|data: &[u8]| {
    // The first byte picks a header to prepend and the record type.
    let Some((flag, rest)) = data.split_first() else {
        return;
    };
    let mut file = HEADERS[usize::from(flag & 3)].as_bytes().to_vec();
    file.extend_from_slice(rest);
    match (flag >> 2) % 3 {
        0 => check::<Sale>(&file),
        1 => check::<TimedSale>(&file),
        _ => check::<Line>(&file),
    }
});
