//! Property: arbitrary bytes and arbitrary event times through `ingest`, then `--mode replay`,
//! through the example executables. Every run ends (each is killed and fails the case after
//! [`LIMIT`]); every line read is either stored or dead-lettered (read = ok + dead-lettered, as many
//! dead letters written, as many records stored as were ok); and the replay prints what a batch run
//! over the same input prints, which is the pipeline's answer on the ok records. For event times in
//! arbitrary order, where a replay may turn records away as late, the replay prints (and turns away)
//! what a stream of the same file in the same steps does.
//!
//! 24 cases per property by default; `INGEST_REPLAY_CASES=N` runs N.

use proptest::prelude::*;
use std::path::Path;
use std::process::Output;
use std::time::Duration;

mod common;

use common::stdout;

/// How long one run may take.
const LIMIT: Duration = Duration::from_secs(20);

fn config() -> ProptestConfig {
    let cases = std::env::var("INGEST_REPLAY_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(24);
    ProptestConfig {
        cases,
        // A hanging case costs LIMIT per run: bound the time spent shrinking.
        max_shrink_time: 120_000,
        ..ProptestConfig::default()
    }
}

/// Runs example `name` with `args`; kills it and returns an error if it has not ended after [`LIMIT`].
fn run_bounded(name: &str, args: &[&str]) -> Result<Output, TestCaseError> {
    common::run_within(name, args, LIMIT)
        .ok_or_else(|| TestCaseError::fail(format!("{name} {args:?} did not end within {LIMIT:?}")))
}

fn errors(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// `(read, ok, dead-lettered)` from a run's summary line.
fn counts(output: &Output) -> Result<(u64, u64, u64), TestCaseError> {
    let text = errors(output);
    let parsed = text.rfind("read ").and_then(|start| {
        let numbers: Vec<u64> = text[start..]
            .split(';')
            .next()?
            .split(|c: char| !c.is_ascii_digit())
            .filter(|n| !n.is_empty())
            .take(3)
            .map(|n| n.parse().ok())
            .collect::<Option<_>>()?;
        <[u64; 3]>::try_from(numbers).ok()
    });
    match parsed {
        Some([read, ok, dead]) => Ok((read, ok, dead)),
        None => Err(TestCaseError::fail(format!("no summary in {text}"))),
    }
}

/// The records `ingest` reports it stored.
fn ingested(output: &Output) -> Result<u64, TestCaseError> {
    let text = stdout(output);
    text.strip_prefix("ingested ")
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| TestCaseError::fail(format!("no ingest report in {text}")))
}

fn lines_of(path: &Path) -> usize {
    std::fs::read_to_string(path)
        .map(|text| text.lines().count())
        .unwrap_or(0)
}

/// Ingests `input` into a fresh log under `dir` and checks the accounting; returns the log and
/// the ingest's counts.
fn ingest(
    name: &str,
    dir: &Path,
    input: &Path,
) -> Result<(std::path::PathBuf, (u64, u64, u64)), TestCaseError> {
    let log = dir.join("log");
    let dead = dir.join("dead.jsonl");
    let output = run_bounded(
        name,
        &[
            "ingest",
            "--input",
            input.to_str().unwrap(),
            "--log",
            log.to_str().unwrap(),
            "--dead-letter",
            dead.to_str().unwrap(),
        ],
    )?;
    let (read, ok, dead_lettered) = counts(&output)?;
    prop_assert_eq!(read, ok + dead_lettered, "read = ok + dead-lettered");
    prop_assert_eq!(ingested(&output)?, ok, "every ok record is stored");
    prop_assert_eq!(
        lines_of(&dead) as u64,
        dead_lettered,
        "one dead letter per record dead-lettered"
    );
    Ok((log, (read, ok, dead_lettered)))
}

/// A line of a JSON Lines input: a word-count line with any text, or any bytes.
#[derive(Clone, Debug)]
enum JsonLine {
    Text(String),
    Bytes(Vec<u8>),
}

fn json_line() -> impl Strategy<Value = JsonLine> {
    prop_oneof![
        3 => any::<String>().prop_map(JsonLine::Text),
        1 => "[a-z ]{0,12}".prop_map(JsonLine::Text),
        2 => proptest::collection::vec(any::<u8>(), 0..24).prop_map(JsonLine::Bytes),
    ]
}

/// An event time: ordinary millisecond times, times around the largest the clock holds, and any.
fn event_time() -> impl Strategy<Value = u64> {
    prop_oneof![
        4 => 1_700_000_000_000u64..1_800_000_000_000,
        1 => 0u64..10_000,
        1 => (1u64 << 44) - 4..(1u64 << 44) + 4,
        1 => u64::MAX - 4..=u64::MAX,
        1 => any::<u64>(),
    ]
}

/// A row of a timed-sales CSV input: a sale, or any bytes.
#[derive(Clone, Debug)]
enum SaleRow {
    Sale {
        product: String,
        quantity: i16,
        cents: u32,
        ts: u64,
    },
    Bytes(Vec<u8>),
}

fn sale_row() -> impl Strategy<Value = SaleRow> {
    prop_oneof![
        5 => ("[a-d]{1,3}", any::<i16>(), 0u32..100_000, event_time()).prop_map(
            |(product, quantity, cents, ts)| SaleRow::Sale { product, quantity, cents, ts }
        ),
        1 => proptest::collection::vec(any::<u8>(), 0..24).prop_map(SaleRow::Bytes),
    ]
}

fn word_count_case(lines: &[JsonLine], step: usize) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = Vec::new();
    for line in lines {
        match line {
            JsonLine::Text(text) => bytes.extend_from_slice(
                serde_json::to_string(&serde_json::json!({ "text": text }))
                    .unwrap()
                    .as_bytes(),
            ),
            JsonLine::Bytes(raw) => bytes.extend_from_slice(raw),
        }
        bytes.push(b'\n');
    }
    let input = dir.path().join("lines.jsonl");
    std::fs::write(&input, &bytes).unwrap();
    // Every line that is not blank is read: a record or a dead letter.
    let not_blank = bytes
        .split(|&b| b == b'\n')
        .filter(|line| std::str::from_utf8(line).map_or(true, |t| !t.trim().is_empty()))
        .count() as u64;
    let texts = lines
        .iter()
        .filter(|line| matches!(line, JsonLine::Text(_)))
        .count() as u64;

    let (log, (read, ok, dead)) = ingest("word_count", dir.path(), &input)?;
    prop_assert_eq!(read, not_blank, "every line is read");
    prop_assert!(ok >= texts, "{} text lines, {} ok", texts, ok);

    let batch = run_bounded("word_count", &["--input", input.to_str().unwrap()])?;
    prop_assert_eq!(
        counts(&batch)?,
        (read, ok, dead),
        "batch reads what ingest read"
    );
    let step = step.to_string();
    let replay = run_bounded(
        "word_count",
        &[
            "--mode",
            "replay",
            "--log",
            log.to_str().unwrap(),
            "--step-size",
            &step,
        ],
    )?;
    prop_assert_eq!(stdout(&replay), stdout(&batch), "replay == batch");
    Ok(())
}

fn windowed_sales_case(rows: &[SaleRow], sorted: bool, step: usize) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let mut rows = rows.to_vec();
    if sorted {
        // Sales in event-time order (other rows stay where they are): nothing is late in a stream.
        let mut times: Vec<u64> = rows
            .iter()
            .filter_map(|row| match row {
                SaleRow::Sale { ts, .. } => Some(*ts),
                SaleRow::Bytes(_) => None,
            })
            .collect();
        times.sort_unstable();
        let mut times = times.into_iter();
        for row in &mut rows {
            if let SaleRow::Sale { ts, .. } = row {
                *ts = times.next().unwrap();
            }
        }
    }
    let mut bytes = b"product,quantity,price,ts\n".to_vec();
    for row in &rows {
        match row {
            SaleRow::Sale {
                product,
                quantity,
                cents,
                ts,
            } => bytes.extend_from_slice(
                format!(
                    "{product},{quantity},{}.{:02},{ts}",
                    cents / 100,
                    cents % 100
                )
                .as_bytes(),
            ),
            SaleRow::Bytes(raw) => bytes.extend_from_slice(raw),
        }
        bytes.push(b'\n');
    }
    let input = dir.path().join("sales.csv");
    std::fs::write(&input, &bytes).unwrap();

    let (log, (read, ok, dead)) = ingest("windowed_sales", dir.path(), &input)?;
    let step = step.to_string();
    let late = dir.path().join("late.jsonl");
    let replay = run_bounded(
        "windowed_sales",
        &[
            "--mode",
            "replay",
            "--log",
            log.to_str().unwrap(),
            "--step-size",
            &step,
            "--late",
            late.to_str().unwrap(),
        ],
    )?;
    prop_assert!(
        errors(&replay).contains(&format!(": {ok} records")),
        "the replay reads the {} records stored: {}",
        ok,
        errors(&replay)
    );
    let input = input.to_str().unwrap();
    let (reference, what) = if sorted {
        let batch = run_bounded("windowed_sales", &["--input", input])?;
        prop_assert_eq!(lines_of(&late), 0, "nothing is late in event-time order");
        (batch, "batch")
    } else {
        let stream_late = dir.path().join("stream-late.jsonl");
        let stream = run_bounded(
            "windowed_sales",
            &[
                "--input",
                input,
                "--mode",
                "stream",
                "--step-size",
                &step,
                "--late",
                stream_late.to_str().unwrap(),
            ],
        )?;
        prop_assert_eq!(
            std::fs::read_to_string(&late).unwrap_or_default(),
            std::fs::read_to_string(&stream_late).unwrap_or_default(),
            "the replay turns away what the stream turns away"
        );
        (stream, "stream")
    };
    prop_assert_eq!(
        counts(&reference)?,
        (read, ok, dead),
        "{} reads what ingest read",
        what
    );
    prop_assert_eq!(stdout(&replay), stdout(&reference), "replay == {}", what);
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn word_count_ingest_then_replay_is_the_batch(
        lines in proptest::collection::vec(json_line(), 0..12),
        step in 1usize..6,
    ) {
        word_count_case(&lines, step)?;
    }

    #[test]
    fn windowed_sales_ingest_then_replay_is_the_batch_or_the_stream(
        rows in proptest::collection::vec(sale_row(), 0..10),
        sorted in any::<bool>(),
        step in 1usize..4,
    ) {
        windowed_sales_case(&rows, sorted, step)?;
    }
}
