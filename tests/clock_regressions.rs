//! Inputs the clock fuzz target (`fuzz/fuzz_targets/clock.rs`) found, kept as tests: a windowed
//! stream over event times near the top of the clock's range must end, and count every record once
//! (in its window, or as late), as the batch of the same records does; or refuse the times with an
//! error naming them.

use dataflow_core::prelude::*;
use std::collections::BTreeMap;
use std::sync::mpsc;

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
        .window(Window::tumbling(Duration::from_secs(1)))
        .count()
}

/// How long a run of a few records may take.
const LIMIT: std::time::Duration = std::time::Duration::from_secs(30);

/// Streams `steps` (one push each) and batches the same records, each on a thread bounded by
/// [`LIMIT`]; checks that every record is counted once in the stream (in time or late) as in the
/// batch. An error must name an event time.
fn stream_and_batch(steps: Vec<Vec<u64>>) {
    let (sender, receiver) = mpsc::channel();
    let records: Vec<Event> = steps
        .iter()
        .flatten()
        .map(|&ts| Event { key: 1, ts })
        .collect();
    let total = records.len() as u64;
    let what = format!("steps of event times {steps:?}");
    // A hung run leaves its thread behind; the test fails and the process ends with it.
    std::thread::spawn(move || {
        let run = || -> Result<_, dataflow_core::Error> {
            let mut stream = Runner::<WindowCounts>::new().start()?;
            for step in steps {
                stream.push(
                    step.into_iter()
                        .map(|ts| Event { key: 1, ts })
                        .collect::<Vec<_>>(),
                )?;
            }
            let streamed = stream.finish()?;
            let batch = Runner::<WindowCounts>::new().batch(records)?;
            Ok((streamed, batch))
        };
        let _ = sender.send(run());
    });
    let (streamed, batch) = match receiver.recv_timeout(LIMIT) {
        Ok(Ok(outputs)) => outputs,
        Ok(Err(error)) => {
            let text = error.to_string();
            assert!(
                text.contains("event time"),
                "{what}: an error that does not name the time: {text}"
            );
            return;
        }
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("{what}: did not end within {LIMIT:?}"),
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("{what}: the run panicked"),
    };
    let counts = |output: &Output<((u8, TimeWindow), u64)>| -> BTreeMap<u64, u64> {
        output
            .records
            .iter()
            .map(|(((_, window), count), diff)| {
                assert_eq!(*diff, 1, "{what}");
                (window.start, *count)
            })
            .collect()
    };
    let mut streamed_counts = counts(&streamed);
    for late in &streamed.late {
        let start = Window::tumbling(Duration::from_secs(1))
            .assign(late.event_time)
            .next()
            .unwrap_or_else(|| panic!("{what}: late record in no window: {late:?}"))
            .start;
        *streamed_counts.entry(start).or_default() += 1;
    }
    assert_eq!(
        streamed_counts,
        counts(&batch),
        "{what}: stream + late != batch"
    );
    assert_eq!(
        counts(&batch).values().sum::<u64>(),
        total,
        "{what}: the batch counts every record"
    );
}

/// Microsecond timestamps taken for milliseconds (times ≥ 2^44 ms), a second apart, in steps.
#[test]
fn a_stream_of_times_past_two_to_the_44_ms_ends_and_counts_every_record() {
    let t = 1_764_000_041_404_000u64;
    stream_and_batch(vec![vec![t], vec![t + 1000], vec![t + 2000]]);
}

/// The first time the clock's encoding cannot hold, then the next one, in two steps.
#[test]
fn a_stream_across_the_largest_representable_time_ends_and_counts_every_record() {
    let edge = 1u64 << 44;
    stream_and_batch(vec![vec![edge - 1], vec![edge], vec![edge + 1]]);
}

/// The largest event time there is, twice (the second step's logical time overflowed).
#[test]
fn a_stream_at_the_largest_event_time_ends_and_counts_every_record() {
    stream_and_batch(vec![vec![u64::MAX], vec![u64::MAX], vec![0]]);
}

/// Records at the largest event time, in order, one step each: the second is not behind the
/// watermark (equal to its time), so it is in time, as in the batch. (Its window's end saturates at
/// `u64::MAX`, which the window then does not contain, and the window closed when the watermark
/// reached it.)
#[test]
fn records_in_order_at_the_largest_event_time_are_not_late() {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let run = || -> Result<_, dataflow_core::Error> {
            let mut stream = Runner::<WindowCounts>::new().start()?;
            for ts in [1_700_000_000_000, u64::MAX, u64::MAX] {
                stream.push(vec![Event { key: 1, ts }])?;
            }
            stream.finish()
        };
        let _ = sender.send(run());
    });
    let streamed = receiver
        .recv_timeout(LIMIT)
        .expect("the stream ends")
        .expect("the stream runs");
    assert!(
        streamed.late.is_empty(),
        "in event-time order, yet late: {:?}",
        streamed.late
    );
    let counted: u64 = streamed.records.iter().map(|((_, count), _)| *count).sum();
    assert_eq!(counted, 3, "{:?}", streamed.records);
}

/// Ordinary times still count exactly (the reference for the cases above).
#[test]
fn a_stream_of_ordinary_times_counts_every_record() {
    let t = 1_764_000_041_404u64;
    stream_and_batch(vec![
        vec![t],
        vec![t + 1000, t + 1],
        vec![t + 2000],
        vec![t - 5000],
    ]);
}
