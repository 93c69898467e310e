//! The clock and the watermark arithmetic, end to end.
//!
//! First the encoding itself (`time::clock`): every watermark and step count reads back from its
//! logical time, and logical time orders as (watermark, step) does. Then a windowed count run as a
//! stream of arbitrary steps (event times anywhere in `u64`, any maximum delay, lateness and window
//! size, watermark moves and idle calls between steps) and as one batch of the same records. The stream must end (a hang is a
//! libFuzzer timeout), and per key and window its count plus the records it turned away as late must
//! equal the batch's count: no record is lost or counted twice, whatever the times. Records that
//! come in event-time order (and not behind a watermark moved by hand) are never late.
#![no_main]

use dataflow_core::prelude::*;
use dataflow_core::time::clock::{self, Time};
use dataflow_core::time::{WindowKind, WindowOverrides};
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

fn check_encoding(probes: &[u64; 4]) {
    let [a, s, b, t] = *probes;
    // Every watermark and step count reads back from its logical time.
    let x = clock::at(a) + Time::from(s);
    let y = clock::at(b) + Time::from(t);
    assert_eq!((clock::watermark(x), clock::substep(x)), (a, s), "{x}");
    assert_eq!((clock::watermark(y), clock::substep(y)), (b, t), "{y}");
    // The encoding is monotone: logical time orders as (watermark, step) does, so no number of
    // steps reaches the next millisecond.
    assert_eq!(x.cmp(&y), (a, s).cmp(&(b, t)), "{x} against {y}");
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
    // Whether every record came no earlier than every record and watermark before it: then the
    // stream has no reason to turn any away as late.
    let mut in_order = true;
    let mut highest = 0u64;
    for m in case.moves.into_iter().take(12) {
        match m {
            Move::Push(records) => {
                let step: Vec<Event> = records
                    .into_iter()
                    .take(16)
                    .map(|(key, offset)| Event {
                        key: key % 4,
                        ts: case.base.saturating_add(u64::from(offset)),
                    })
                    .collect();
                for event in &step {
                    in_order &= event.ts >= highest;
                    highest = highest.max(event.ts);
                }
                all.extend(step.iter().cloned());
                stream.push(step).expect("a step runs");
            }
            Move::PushFar(records) => {
                let step: Vec<Event> = records
                    .into_iter()
                    .take(16)
                    .map(|(key, ts)| Event { key: key % 4, ts })
                    .collect();
                for event in &step {
                    in_order &= event.ts >= highest;
                    highest = highest.max(event.ts);
                }
                all.extend(step.iter().cloned());
                stream.push(step).expect("a step runs");
            }
            Move::Advance(watermark) => {
                highest = highest.max(watermark);
                stream
                    .advance_watermark(watermark)
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

    if in_order {
        assert!(
            streamed.late.is_empty(),
            "records in event-time order turned away as late: {:?}",
            streamed.late
        );
    }
    let mut expected = counts(&batch);
    let mut got = counts(&streamed);
    for late in &streamed.late {
        let (key, event): (u8, Event) = serde_json::from_value(late.record.clone())
            .unwrap_or_else(|e| panic!("late record {}: {e}", late.record));
        assert_eq!(key, event.key);
        assert_eq!(late.event_time, event.ts);
        // The window the pipeline assigns the record to (a saturated window can share its end
        // with the one before it, so the batch's windows do not say which).
        let window = windows
            .apply(Window::tumbling(Duration::from_millis(10)))
            .assign(event.ts)
            .next()
            .unwrap_or_else(|| panic!("late record {event:?} in no window"));
        *got.entry((key, window)).or_default() += 1;
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
