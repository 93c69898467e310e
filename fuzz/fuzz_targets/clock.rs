//! The clock and the watermark arithmetic, end to end.
//!
//! First the encoding itself (`time::clock`): monotone in the watermark, and a watermark that the
//! clock represents reads back unchanged. Then a windowed count run as a stream of arbitrary steps
//! (event times anywhere in `u64`, any maximum delay, lateness and window size, watermark moves and
//! idle calls between steps) and as one batch of the same records. The stream must end (a hang is a
//! libFuzzer timeout), and per key and window its count plus the records it turned away as late must
//! equal the batch's count: no record is lost or counted twice, whatever the times.
#![no_main]

use dataflow_core::prelude::*;
use dataflow_core::time::{WindowKind, WindowOverrides, clock};
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use std::collections::BTreeMap;

/// A keyed record at an event time.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Event {
    key: u8,
    ts: u64,
}

#[pipeline]
fn window_counts(events: Stream<Event>) -> Stream<((u8, TimeWindow), u64)> {
    events
        .event_time(|e| e.ts)
        .key(|e| e.key)
        .window(Window::tumbling(Duration::from_millis(10)))
        .count()
}

#[derive(Arbitrary, Debug)]
enum Move {
    /// Records at `base + offset`, so that one input's times are close together.
    Push(Vec<(u8, u16)>),
    /// Records anywhere.
    PushFar(Vec<(u8, u64)>),
    Advance(u64),
    Idle,
}

#[derive(Arbitrary, Debug)]
struct Case {
    probes: [u64; 4],
    base: u64,
    max_delay: u64,
    size: u64,
    lateness: u64,
    moves: Vec<Move>,
}

/// `FUZZ_CLOCK_MAX_MILLIS=N` caps every event time and watermark at N ms, to look past a known
/// failure at larger times; unset, times range over all of `u64`.
fn cap() -> u64 {
    static CAP: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *CAP.get_or_init(|| {
        std::env::var("FUZZ_CLOCK_MAX_MILLIS")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(u64::MAX)
    })
}

/// The greatest watermark whose logical time is not saturated.
const REPRESENTABLE: u64 = (u64::MAX - 1) >> clock::SUBSTEP_BITS;

fn check_encoding(probes: &[u64]) {
    for &m in probes {
        let t = clock::at(m);
        assert!(clock::watermark(t) <= m, "watermark({t}) > {m}");
        if m <= REPRESENTABLE {
            assert_eq!(clock::watermark(t), m, "at({m}) = {t}");
        }
    }
    for pair in probes.windows(2) {
        let (a, b) = (pair[0].min(pair[1]), pair[0].max(pair[1]));
        assert!(clock::at(a) <= clock::at(b), "at({a}) > at({b})");
        assert!(
            clock::watermark(a) <= clock::watermark(b),
            "watermark({a}) > watermark({b})"
        );
    }
}

fn counts(output: &Output<((u8, TimeWindow), u64)>) -> BTreeMap<(u8, TimeWindow), u64> {
    let mut counts = BTreeMap::new();
    for (((key, window), count), diff) in &output.records {
        assert_eq!(*diff, 1, "a final count is one record");
        let previous = counts.insert((*key, *window), *count);
        assert!(previous.is_none(), "two counts for one window");
    }
    counts
}

fuzz_target!(|case: Case| {
    check_encoding(&case.probes);

    let windows = WindowOverrides {
        kind: Some(WindowKind::Tumbling {
            size: case.size.max(1),
        }),
        lateness: Some(case.lateness),
        emit: None,
    };
    let runner = Runner::<WindowCounts>::new()
        .max_delay(Duration::from_millis(case.max_delay))
        .windows(windows);

    let mut stream = runner.start().expect("the stream starts");
    let mut all = Vec::new();
    for m in case.moves.into_iter().take(12) {
        match m {
            Move::Push(records) => {
                let step: Vec<Event> = records
                    .into_iter()
                    .take(16)
                    .map(|(key, offset)| Event {
                        key: key % 4,
                        ts: case.base.saturating_add(u64::from(offset)).min(cap()),
                    })
                    .collect();
                all.extend(step.iter().cloned());
                stream.push(step).expect("a step runs");
            }
            Move::PushFar(records) => {
                let step: Vec<Event> = records
                    .into_iter()
                    .take(16)
                    .map(|(key, ts)| Event {
                        key: key % 4,
                        ts: ts.min(cap()),
                    })
                    .collect();
                all.extend(step.iter().cloned());
                stream.push(step).expect("a step runs");
            }
            Move::Advance(watermark) => {
                stream
                    .advance_watermark(watermark.min(cap()))
                    .expect("the watermark moves");
            }
            Move::Idle => {
                stream.idle().expect("an idle step runs");
            }
        }
    }
    let streamed = stream.finish().expect("the stream ends");
    let batch = runner.batch(all.clone()).expect("the batch runs");
    assert!(batch.late.is_empty(), "a batch has no late records");

    let mut expected = counts(&batch);
    let mut got = counts(&streamed);
    for late in &streamed.late {
        let (key, event): (u8, Event) = serde_json::from_value(late.record.clone())
            .unwrap_or_else(|e| panic!("late record {}: {e}", late.record));
        assert_eq!(key, event.key);
        assert_eq!(late.event_time, event.ts);
        let TimeWindow { start, end } = batch
            .records
            .iter()
            .map(|(((k, w), _), _)| (*k, *w))
            .find(|(k, w)| {
                *k == key && w.start <= event.ts && (event.ts < w.end || w.end == u64::MAX)
            })
            .map(|(_, w)| w)
            .unwrap_or_else(|| panic!("late record {event:?} in no batch window"));
        *got.entry((key, TimeWindow { start, end })).or_default() += 1;
    }
    // Every record is counted once: in time in the stream, or late.
    expected.retain(|_, count| *count > 0);
    assert_eq!(
        got,
        expected,
        "stream + late != batch for {} records",
        all.len()
    );
    assert_eq!(
        streamed.summary.input_records,
        all.len() as u64,
        "every record pushed is an input record"
    );
});
