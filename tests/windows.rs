//! Event-time windows against brute-force oracles: every window kind and both emit modes, on random
//! inputs shuffled within the out-of-orderness bound, in batch, in stream steps and on two workers; and
//! late data, step by step, with a scripted watermark.

use dataflow_core::prelude::*;
use dataflow_core::testing::TestStream;
use dataflow_core::time::WindowOverrides;
use proptest::prelude::*;
use std::collections::BTreeMap;

/// A keyed value at an event time.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Event {
    key: u8,
    value: i64,
    ts: u64,
}

const SIZE: u64 = 10;
const SLIDE: u64 = 4;
const GAP: u64 = 7;

#[pipeline]
fn tumbling_sums(events: Stream<Event>) -> Stream<((u8, TimeWindow), (i64, u64))> {
    events
        .event_time(|e| e.ts)
        .key(|e| e.key)
        .window(Window::tumbling(Duration::from_millis(SIZE)))
        .aggregate(|a| (a.sum(|e| e.value), a.count()))
}

#[pipeline]
fn sliding_maxima(events: Stream<Event>) -> Stream<((u8, TimeWindow), i64)> {
    events
        .event_time(|e| e.ts)
        .key(|e| e.key)
        .window(Window::sliding(
            Duration::from_millis(SIZE),
            Duration::from_millis(SLIDE),
        ))
        .max(|e| e.value)
}

#[pipeline]
fn session_counts(events: Stream<Event>) -> Stream<((u8, TimeWindow), (u64, i64))> {
    events
        .event_time(|e| e.ts)
        .key(|e| e.key)
        .window(Window::session(Duration::from_millis(GAP)))
        .aggregate(|a| (a.count(), a.min(|e| e.value)))
}

#[pipeline]
fn global_minima(events: Stream<Event>) -> Stream<((u8, TimeWindow), i64)> {
    events
        .event_time(|e| e.ts)
        .key(|e| e.key)
        .window(Window::global())
        .min(|e| e.value)
}

#[pipeline]
fn updating_counts(events: Stream<Event>) -> Stream<((u8, TimeWindow), u64)> {
    events
        .event_time(|e| e.ts)
        .key(|e| e.key)
        .window(Window::tumbling(Duration::from_millis(SIZE)).emit(Emit::Updating))
        .count()
}

type Row<V> = (((u8, TimeWindow), V), isize);
type Keyed<V> = Vec<Row<V>>;

fn fixed_windows(ts: u64, size: u64, slide: u64) -> Vec<TimeWindow> {
    (0..=ts)
        .filter(|start| start % slide == 0 && start + size > ts)
        .map(|start| TimeWindow {
            start,
            end: start + size,
        })
        .collect()
}

fn oracle_fixed<V: Ord + Clone>(
    events: &[Event],
    size: u64,
    slide: u64,
    fold: impl Fn(&[&Event]) -> V,
) -> Keyed<V> {
    let mut groups: BTreeMap<(u8, TimeWindow), Vec<&Event>> = BTreeMap::new();
    for e in events {
        for w in fixed_windows(e.ts, size, slide) {
            groups.entry((e.key, w)).or_default().push(e);
        }
    }
    groups
        .into_iter()
        .map(|(k, es)| ((k, fold(&es)), 1))
        .collect()
}

fn oracle_sessions(events: &[Event]) -> Keyed<(u64, i64)> {
    let mut by_key: BTreeMap<u8, Vec<&Event>> = BTreeMap::new();
    for e in events {
        by_key.entry(e.key).or_default().push(e);
    }
    let mut out = Vec::new();
    for (key, mut es) in by_key {
        es.sort_by_key(|e| e.ts);
        let mut current: Option<(TimeWindow, Vec<&Event>)> = None;
        for e in es {
            let w = TimeWindow {
                start: e.ts,
                end: e.ts + GAP,
            };
            current = match current {
                Some((open, mut members)) if w.start <= open.end => {
                    members.push(e);
                    let merged = TimeWindow {
                        start: open.start,
                        end: open.end.max(w.end),
                    };
                    Some((merged, members))
                }
                Some((closed, members)) => {
                    out.push(session_result(key, closed, &members));
                    Some((w, vec![e]))
                }
                None => Some((w, vec![e])),
            };
        }
        if let Some((closed, members)) = current {
            out.push(session_result(key, closed, &members));
        }
    }
    out.sort();
    out
}

fn session_result(key: u8, w: TimeWindow, es: &[&Event]) -> Row<(u64, i64)> {
    let min = es.iter().map(|e| e.value).min().unwrap_or_default();
    (((key, w), (es.len() as u64, min)), 1)
}

fn oracle_global(events: &[Event]) -> Keyed<i64> {
    let mut minima: BTreeMap<u8, i64> = BTreeMap::new();
    for e in events {
        let m = minima.entry(e.key).or_insert(e.value);
        *m = (*m).min(e.value);
    }
    minima
        .into_iter()
        .map(|(k, m)| {
            (
                (
                    (
                        k,
                        TimeWindow {
                            start: 0,
                            end: u64::MAX,
                        },
                    ),
                    m,
                ),
                1,
            )
        })
        .collect()
}

/// Runs `events` (in arrival order) as a stream of steps cut at `cuts`, with `delay` of allowed
/// out-of-orderness, and returns the consolidated output.
fn stream<P: Pipeline<Inputs = (Event,)>>(
    events: &[Event],
    cuts: &[usize],
    delay: u64,
    workers: usize,
) -> Vec<(P::Output, isize)> {
    let mut running = Runner::<P>::new()
        .workers(workers)
        .max_delay(Duration::from_millis(delay))
        .start()
        .unwrap();
    let mut positions: Vec<usize> = cuts.iter().map(|c| c % (events.len() + 1)).collect();
    positions.push(events.len());
    positions.sort();
    let mut from = 0;
    for to in positions {
        running.push(events[from..to].to_vec()).unwrap();
        from = to;
    }
    assert!(
        running.take_late().is_empty(),
        "nothing is late within the bound"
    );
    let out = running.finish().unwrap();
    assert_eq!(out.summary.late_records, 0);
    out.records
}

/// Events in arrival order: sorted by event time plus a random delay below `delay`, so that each
/// arrives at most `delay` behind the greatest event time seen.
fn arrivals(max_ts: u64, delay: u64) -> impl Strategy<Value = Vec<Event>> {
    prop::collection::vec((0u8..3, -50i64..50, 0..max_ts, 0..delay.max(1)), 0..60).prop_map(|raw| {
        let mut timed: Vec<(u64, Event)> = raw
            .into_iter()
            .map(|(key, value, ts, jitter)| (ts + jitter, Event { key, value, ts }))
            .collect();
        timed.sort_by_key(|(arrival, _)| *arrival);
        timed.into_iter().map(|(_, e)| e).collect()
    })
}

fn check_all<P: Pipeline<Inputs = (Event,)>>(
    events: &[Event],
    cuts: &[usize],
    delay: u64,
    expected: &[(P::Output, isize)],
) -> Result<(), TestCaseError> {
    let batch = Runner::<P>::new().batch(events.to_vec()).unwrap();
    prop_assert_eq!(&batch.records[..], expected, "batch");
    prop_assert_eq!(&stream::<P>(events, cuts, delay, 1)[..], expected, "stream");
    prop_assert_eq!(
        &stream::<P>(events, cuts, delay, 2)[..],
        expected,
        "2 workers"
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 20, ..ProptestConfig::default() })]

    #[test]
    fn tumbling_windows_match_the_oracle(events in arrivals(100, 15), cuts in prop::collection::vec(0usize..100, 0..8)) {
        let expected = oracle_fixed(&events, SIZE, SIZE, |es| (es.iter().map(|e| e.value).sum(), es.len() as u64));
        check_all::<TumblingSums>(&events, &cuts, 15, &expected)?;
        let counts = oracle_fixed(&events, SIZE, SIZE, |es| es.len() as u64);
        check_all::<UpdatingCounts>(&events, &cuts, 15, &counts)?;
    }

    #[test]
    fn sliding_windows_match_the_oracle(events in arrivals(100, 15), cuts in prop::collection::vec(0usize..100, 0..8)) {
        let expected = oracle_fixed(&events, SIZE, SLIDE, |es| es.iter().map(|e| e.value).max().unwrap_or_default());
        check_all::<SlidingMaxima>(&events, &cuts, 15, &expected)?;
    }

    #[test]
    fn session_windows_match_the_oracle(events in arrivals(120, 15), cuts in prop::collection::vec(0usize..100, 0..8)) {
        check_all::<SessionCounts>(&events, &cuts, 15, &oracle_sessions(&events))?;
    }

    #[test]
    fn global_windows_match_the_oracle(events in arrivals(100, 15), cuts in prop::collection::vec(0usize..100, 0..8)) {
        check_all::<GlobalMinima>(&events, &cuts, 15, &oracle_global(&events))?;
    }
}

fn ev(key: u8, value: i64, ts: u64) -> Event {
    Event { key, value, ts }
}

fn w(start: u64, end: u64) -> TimeWindow {
    TimeWindow { start, end }
}

#[test]
fn late_records_go_to_the_side_output_and_are_counted() {
    let mut test = TestStream::<TumblingSums>::new().unwrap();
    assert!(
        test.add(vec![ev(1, 5, 3), ev(1, 7, 14)])
            .unwrap()
            .is_empty()
    );
    let closed = test.advance_watermark_to(10).unwrap();
    assert_eq!(closed.len(), 1);
    assert_eq!(closed[0].record, ((1, w(0, 10)), (5, 1)));
    assert_eq!(closed[0].diff, 1);
    // [0, 10) is complete: a record for it is late, reported with its time and the watermark.
    assert!(
        test.add(vec![ev(1, 100, 9), ev(1, 1, 19)])
            .unwrap()
            .is_empty()
    );
    let late = test.late();
    assert_eq!(late.len(), 1);
    assert_eq!((late[0].event_time, late[0].watermark), (9, 10));
    assert_eq!(
        late[0].record,
        serde_json::json!([1, {"key": 1, "value": 100, "ts": 9}])
    );
    let out = test.finish().unwrap();
    assert_eq!(out.summary.late_records, 1);
    assert_eq!(
        out.records,
        vec![(((1, w(0, 10)), (5, 1)), 1), (((1, w(10, 20)), (8, 2)), 1)]
    );
}

#[test]
fn allowed_lateness_keeps_windows_open_and_updates_them() {
    let lateness = WindowOverrides {
        lateness: Some(5),
        emit: Some(Emit::Updating),
        ..WindowOverrides::default()
    };
    let mut test = TestStream::<UpdatingCounts>::with_workers(2, lateness).unwrap();
    let first = test.add(vec![ev(2, 0, 1), ev(2, 0, 2)]).unwrap();
    assert_eq!(
        first[0].record,
        ((2, w(0, 10)), 2),
        "updating mode emits at once"
    );
    test.advance_watermark_to(12).unwrap();
    // Behind the watermark but within the lateness: the window is updated (retraction + new value).
    let update = test.add(vec![ev(2, 0, 8)]).unwrap();
    assert_eq!(
        update
            .iter()
            .map(|c| (c.record.1, c.diff))
            .collect::<Vec<_>>(),
        vec![(2, -1), (3, 1)]
    );
    test.advance_watermark_to(15).unwrap();
    // Now the window is closed and released: the record is late.
    assert!(test.add(vec![ev(2, 0, 9)]).unwrap().is_empty());
    assert_eq!(test.late().len(), 1);
    assert_eq!(test.consolidated(), vec![(((2, w(0, 10)), 3), 1)]);
}

#[test]
fn final_mode_emits_each_window_once_when_complete() {
    let mut test = TestStream::<SessionCounts>::new().unwrap();
    assert!(test.add(vec![ev(0, 4, 0), ev(0, 3, 5)]).unwrap().is_empty());
    assert!(
        test.advance_watermark_to(11).unwrap().is_empty(),
        "session [0, 12) still open"
    );
    // A record touching the session's end extends it (sessions that touch merge).
    assert!(test.add(vec![ev(0, 9, 12)]).unwrap().is_empty());
    let done = test.advance_watermark_to(19).unwrap();
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].record, ((0, w(0, 19)), (3, 3)));
}

#[test]
fn an_idle_source_releases_the_watermark() {
    let mut running = Runner::<TumblingSums>::new()
        .max_delay(Duration::from_millis(50))
        .start()
        .unwrap();
    assert!(
        running
            .push(vec![ev(1, 1, 5), ev(1, 1, 30)])
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        running.watermark(),
        0,
        "30 - 50 saturates at 0: the windows wait"
    );
    let released = running.idle().unwrap();
    assert_eq!(running.watermark(), 30);
    assert_eq!(released.len(), 1, "[0, 10) completes without new data");
    assert_eq!(released[0].record, ((1, w(0, 10)), (1, 1)));
}

mod windowed_sales_example {
    use super::*;
    use dataflow_core::decimal::Decimal;
    use dataflow_examples::windowed::{TimedSale, WindowTotal, WindowedSales};

    const HOUR: u64 = 3_600_000;
    const DELAY: u64 = 600_000;

    fn oracle(sales: &[TimedSale]) -> Vec<(WindowTotal, isize)> {
        let mut totals: BTreeMap<(String, u64), (Decimal, u64)> = BTreeMap::new();
        for s in sales {
            let entry = totals
                .entry((s.product.clone(), s.ts - s.ts % HOUR))
                .or_default();
            entry.0 += Decimal::from(s.quantity) * s.price;
            entry.1 += 1;
        }
        let mut out: Vec<(WindowTotal, isize)> = totals
            .into_iter()
            .map(|((product, start), (total_revenue, transaction_count))| {
                let total = WindowTotal {
                    product,
                    window_start: start,
                    window_end: start + HOUR,
                    total_revenue,
                    transaction_count,
                };
                (total, 1)
            })
            .collect();
        out.sort();
        out
    }

    fn sales() -> impl Strategy<Value = Vec<TimedSale>> {
        prop::collection::vec(
            (
                prop::sample::select(vec!["tea", "jam"]),
                1i64..5,
                prop::sample::select(vec![150i64, 220]),
                0u64..(6 * HOUR),
                0..DELAY,
            ),
            0..60,
        )
        .prop_map(|raw| {
            let mut arriving: Vec<(u64, TimedSale)> = raw
                .into_iter()
                .map(|(product, quantity, cents, ts, jitter)| {
                    let sale = TimedSale {
                        product: product.to_string(),
                        quantity,
                        price: Decimal::new(cents, 2),
                        ts,
                    };
                    (ts + jitter, sale)
                })
                .collect();
            arriving.sort_by_key(|(arrival, _)| *arrival);
            arriving.into_iter().map(|(_, sale)| sale).collect()
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

        #[test]
        fn windowed_sales_batch_equals_stream(sales in sales(), step in 1usize..10) {
            let expected = oracle(&sales);
            let batch = Runner::<WindowedSales>::new().batch(sales.clone()).unwrap();
            prop_assert_eq!(&batch.records, &expected);
            for workers in [1, 2] {
                let mut running = Runner::<WindowedSales>::new()
                    .workers(workers)
                    .max_delay(Duration::from_millis(DELAY))
                    .start()
                    .unwrap();
                for chunk in sales.chunks(step) {
                    running.push(chunk.to_vec()).unwrap();
                }
                let out = running.finish().unwrap();
                prop_assert_eq!(out.summary.late_records, 0);
                prop_assert_eq!(&out.records, &expected);
            }
        }
    }
}
