//! Reprocessing with switch-over: version 2 replays the log while version 1 serves, takes over the
//! served view atomically once it has caught up, and no event is missed or counted twice, while
//! another thread keeps appending throughout.

use dataflow_core::kappa::{self, DeployOptions, EventLog, FsyncPolicy, LogOptions, Phase, Schema};
use dataflow_core::kappa::{ServedView, ViewTable};
use dataflow_core::prelude::*;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// One event: a key and its position in the append order.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Event {
    key: u32,
    seq: u64,
}

impl Schema for Event {
    const VERSION: u32 = 1;
}

/// Events per key.
#[pipeline]
pub fn counts_v1(events: Stream<Event>) -> Stream<(u32, u64)> {
    events.key(|e| e.key).count()
}

/// Events per key, declared differently (another plan, so another version), counting the same.
#[pipeline]
pub fn counts_v2(events: Stream<Event>) -> Stream<(u32, u64)> {
    events
        .filter(|e| e.seq != u64::MAX)
        .key(|e| e.key)
        .aggregate(|a| (a.count(), a.max(|e| e.seq)))
        .map(|(key, (count, _latest))| (key, count))
}

const KEYS: u64 = 17;

/// A small deterministic generator, so that failures can be replayed.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
}

fn append(log: &EventLog, rng: &mut Lcg, seq: &mut u64, n: u64, counts: &mut BTreeMap<u32, u64>) {
    let mut batch = log.batch();
    for _ in 0..n {
        let key = (rng.next() % KEYS) as u32;
        batch.push(*seq, &Event { key, seq: *seq }).unwrap();
        *counts.entry(key).or_default() += 1;
        *seq += 1;
    }
    batch.commit().unwrap();
}

fn key(record: &(u32, u64)) -> (u32, u64) {
    *record
}

/// What a reader saw: every snapshot's counts must add up to the offset the snapshot covers.
#[derive(Default)]
struct Seen {
    snapshots: u64,
    labels: Vec<String>,
    violations: Vec<String>,
}

fn check(table: &ViewTable<u32, u64>, last_offset: &mut u64, seen: &mut Seen) {
    seen.snapshots += 1;
    let total: u64 = table.entries().values().sum();
    if total != table.offset() {
        seen.violations.push(format!(
            "{}: counts add up to {total} at offset {}",
            table.label(),
            table.offset()
        ));
    }
    if table.offset() < *last_offset {
        seen.violations.push(format!(
            "the view moved back from offset {last_offset} to {}",
            table.offset()
        ));
    }
    *last_offset = table.offset();
    if seen.labels.last().map(String::as_str) != Some(table.label()) {
        seen.labels.push(table.label().to_string());
    }
}

#[test]
fn version_two_takes_over_without_missing_or_double_counting_an_event() {
    assert_ne!(CountsV1::version(), CountsV2::version());
    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::open(
        dir.path(),
        LogOptions::default()
            .fsync(FsyncPolicy::Never)
            .segment_bytes(256 << 10),
    )
    .unwrap();
    let mut rng = Lcg(7);
    let mut seq = 0;
    let mut expected = BTreeMap::new();
    for _ in 0..40 {
        append(&log, &mut rng, &mut seq, 500, &mut expected);
    }

    let view = ServedView::<u32, u64>::new();
    let options = DeployOptions {
        step: 700,
        ..DeployOptions::default()
    };
    let v1 = kappa::deploy::<CountsV1, Event, _, _, _, _>(Runner::new(), &log, &view, key, options)
        .unwrap();
    let timeout = Duration::from_secs(120);
    v1.wait_until(|p| p.phase == Phase::Serving, timeout)
        .unwrap();

    // A reader checks every snapshot it can take; an appender keeps appending.
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (view, stop) = (view.clone(), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut seen = Seen::default();
            let mut last_offset = 0;
            while !stop.load(Ordering::SeqCst) {
                check(&view.snapshot(), &mut last_offset, &mut seen);
            }
            check(&view.snapshot(), &mut last_offset, &mut seen);
            seen
        })
    };
    let appending = Arc::new(AtomicBool::new(true));
    let appender = {
        let (log, appending) = (log.clone(), Arc::clone(&appending));
        std::thread::spawn(move || {
            while appending.load(Ordering::SeqCst) {
                let n = 1 + rng.next() % 40;
                append(&log, &mut rng, &mut seq, n, &mut expected);
                std::thread::sleep(Duration::from_millis(1));
            }
            (expected, seq)
        })
    };

    std::thread::sleep(Duration::from_millis(100));
    let v2 = kappa::deploy::<CountsV2, Event, _, _, _, _>(Runner::new(), &log, &view, key, options)
        .unwrap();
    let switched = v2
        .wait_until(|p| p.phase == Phase::Serving, timeout)
        .unwrap();
    let switch = switched.switch.clone().unwrap();
    assert!(
        switch.offset > switched.head_at_start,
        "events appended during the catch-up are covered: {switched:?}"
    );
    assert_eq!(
        switch.replaced,
        format!("counts_v1 {}", CountsV1::version())
    );
    let retired = v1.join().unwrap();
    assert_eq!(retired.progress.phase, Phase::Retired);

    // Appends go on after the switch, then stop; version 2 catches up with the head.
    std::thread::sleep(Duration::from_millis(200));
    appending.store(false, Ordering::SeqCst);
    let (expected, appended) = appender.join().unwrap();
    assert_eq!(log.head(), appended);
    v2.wait_until(|p| p.position == appended, timeout).unwrap();
    stop.store(true, Ordering::SeqCst);
    let seen = reader.join().unwrap();

    let served = view.snapshot();
    assert_eq!(served.offset(), appended);
    assert_eq!(served.label(), format!("counts_v2 {}", CountsV2::version()));
    assert_eq!(
        served.entries(),
        &expected,
        "counts per key after the switch"
    );
    assert!(seen.violations.is_empty(), "{:?}", seen.violations);
    assert_eq!(
        seen.labels,
        vec![
            format!("counts_v1 {}", CountsV1::version()),
            format!("counts_v2 {}", CountsV2::version())
        ],
        "readers saw version 1, then version 2, and nothing else"
    );
    assert!(seen.snapshots > 10);

    // Version 2 keeps serving what is appended next.
    let mut more = BTreeMap::new();
    let mut seq = appended;
    append(&log, &mut Lcg(99), &mut seq, 300, &mut more);
    v2.wait_until(|p| p.position == seq, timeout).unwrap();
    let mut expected = expected;
    for (key, n) in more {
        *expected.entry(key).or_default() += n;
    }
    assert_eq!(view.snapshot().entries(), &expected);
    let report = v2.stop().unwrap();
    assert_eq!(report.replayed.to, seq);
    // The version's own output agrees with the served view.
    let output: BTreeMap<u32, u64> = report
        .replayed
        .output
        .records
        .iter()
        .map(|(record, diff)| {
            assert_eq!(*diff, 1);
            *record
        })
        .collect();
    assert_eq!(output, expected);
}

#[test]
fn a_served_view_answers_range_queries_for_the_served_version() {
    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::open(dir.path(), LogOptions::default()).unwrap();
    let mut expected = BTreeMap::new();
    append(&log, &mut Lcg(1), &mut 0, 200, &mut expected);
    let view = ServedView::new();
    let deployment = kappa::deploy::<CountsV1, Event, _, _, _, _>(
        Runner::new(),
        &log,
        &view,
        key,
        DeployOptions::default(),
    )
    .unwrap();
    deployment
        .wait_until(
            |p| p.phase == Phase::Serving && p.position == 200,
            Duration::from_secs(60),
        )
        .unwrap();
    let low: Vec<(u32, u64)> = expected.range(..5).map(|(k, v)| (*k, *v)).collect();
    assert_eq!(view.range(..5), low);
    assert_eq!(view.get(&3), expected.get(&3).copied());
    assert_eq!(view.get(&(KEYS as u32)), None);
    deployment.stop().unwrap();
}
