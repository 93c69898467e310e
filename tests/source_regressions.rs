//! Inputs the source fuzz targets (`fuzz/fuzz_targets/csv_source.rs`, `jsonl_source.rs`) found, kept
//! as tests of `io::FileSource`, minimised.

use dataflow_core::io::{DeadLetter, FileSource, Format};
use dataflow_examples::Sale;

/// Every item of the file `bytes` in `format`, read as sales, and the source's counts.
fn read(bytes: &[u8], format: Format) -> (Vec<Result<Sale, DeadLetter>>, (u64, u64, u64)) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("input");
    std::fs::write(&path, bytes).unwrap();
    let mut source = FileSource::<Sale>::open(&path, format).unwrap();
    let items: Vec<_> = std::iter::from_fn(|| source.try_next().unwrap()).collect();
    let stats = source.stats();
    (items, (stats.read, stats.ok, stats.dead))
}

fn dead_letter_lines(items: &[Result<Sale, DeadLetter>]) -> Vec<u64> {
    items
        .iter()
        .filter_map(|item| item.as_ref().err())
        .map(|letter| letter.line)
        .collect()
}

/// A CSV file with Windows line ends (`\r\n`, as spreadsheets write them): each dead letter names
/// its own line, not the line of the record before it.
#[test]
fn csv_dead_letters_name_their_lines_with_crlf_line_ends() {
    let (items, counts) = read(
        b"product,quantity,price,date\r\ntea,1,2.00,2026-11-03\r\njam,x,1.00,2026-11-03\r\nbun,2,lots,2026-11-03\r\n",
        Format::Csv,
    );
    assert_eq!(counts, (3, 1, 2), "{items:?}");
    assert_eq!(dead_letter_lines(&items), [3, 4], "{items:?}");
}

/// The first dead letter after a blank line names its own line, not the blank one.
#[test]
fn csv_dead_letters_name_their_lines_after_a_blank_line() {
    let (items, counts) = read(
        b"product,quantity,price,date\ntea,1,2.00,2026-11-03\n\njam,x,1.00,2026-11-03\nbun,2,lots,2026-11-03\n",
        Format::Csv,
    );
    assert_eq!(counts, (3, 1, 2), "{items:?}");
    assert_eq!(dead_letter_lines(&items), [4, 5], "{items:?}");
}

/// The same lines in JSON Lines are numbered right (the reference for the CSV cases above).
#[test]
fn json_lines_dead_letters_name_their_lines_with_crlf_and_blank_lines() {
    let (items, counts) = read(
        b"{\"product\":\"tea\",\"quantity\":1,\"price\":\"2.00\",\"date\":\"2026-11-03\"}\r\n\r\n{\"product\":\"jam\"}\r\nnot json\r\n",
        Format::Jsonl,
    );
    assert_eq!(counts, (3, 1, 2), "{items:?}");
    assert_eq!(dead_letter_lines(&items), [3, 4], "{items:?}");
}
