//! Nexmark queries on a small generated stream: for every query the batch output equals the
//! single-threaded reference implementation, a stream fed in steps of random sizes consolidates to the
//! same output (with one and two workers), two workers give what one gives, and the hand-written
//! timely/differential versions agree.

use dataflow_core::testing::stream_in_steps;
use dataflow_core::{Pipeline, Runner};
use dataflow_examples::nexmark::{self, Event, GeneratorConfig, cost, handwritten};
use std::time::Duration;

/// 4,000 events at 100 events per second of event time: 40 s, several windows of every kind.
fn events() -> Vec<Event> {
    nexmark::generate(&GeneratorConfig {
        events: 4_000,
        rate: 100,
        seed: 7,
        ..GeneratorConfig::default()
    })
}

/// Step sizes from a small deterministic generator: between 1 and `max` records each.
fn step_sizes(seed: u64, total: usize, max: usize) -> Vec<usize> {
    let mut state = seed;
    let mut sizes = Vec::new();
    let mut left = total;
    while left > 0 {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let size = (1 + (state >> 33) as usize % max).min(left);
        sizes.push(size);
        left -= size;
    }
    sizes
}

/// Feeds `events` in steps of `sizes` and returns the consolidated output, checking that the changes
/// add up to it.
fn stream<P: Pipeline<Inputs = (Event,)>>(
    events: &[Event],
    sizes: &[usize],
    workers: usize,
) -> Vec<(P::Output, isize)> {
    let runner = Runner::<P>::new()
        .workers(workers)
        .max_delay(Duration::from_secs(1));
    let finished = stream_in_steps(&runner, events, sizes.iter().copied()).unwrap();
    assert!(finished.late.is_empty(), "no record is late");
    finished.records
}

/// The reference answer of a query.
type Reference<O> = fn(&[Event]) -> Vec<(O, isize)>;
/// A hand-written timely or differential version of a query.
type Handwritten<O> = fn(Vec<Event>, usize) -> Result<Vec<(O, isize)>, String>;

/// Checks query `P` against its reference answer in batch and stream mode, with one and two workers,
/// and the hand-written version of the query with one and two workers.
fn check<P: Pipeline<Inputs = (Event,)>>(
    reference: Reference<P::Output>,
    handwritten: Handwritten<P::Output>,
) {
    let events = events();
    let expected = reference(&events);
    for workers in [1, 2] {
        assert_eq!(
            handwritten(events.clone(), workers).unwrap(),
            expected,
            "{}: the hand-written version with {workers} workers equals the reference",
            P::NAME
        );
    }
    assert!(
        !expected.is_empty(),
        "{}: the test data exercises the query",
        P::NAME
    );
    let mut batch = Runner::<P>::new().batch(events.clone()).unwrap();
    if P::plan().is_insert_only() {
        // Without state, the batch output is the same multiset, handed over unsorted.
        assert_eq!(
            batch.records.len(),
            expected.iter().map(|(_, n)| *n as usize).sum::<usize>()
        );
        assert!(batch.records.iter().all(|(_, n)| *n == 1));
    }
    batch.sort();
    assert_eq!(
        batch.records,
        expected,
        "{}: batch equals the reference",
        P::NAME
    );
    let mut two = Runner::<P>::new().workers(2).batch(events.clone()).unwrap();
    two.sort();
    assert_eq!(two.records, expected, "{}: two workers equal one", P::NAME);
    for (seed, max) in [(1, 700), (2, 60)] {
        let sizes = step_sizes(seed, events.len(), max);
        assert_eq!(
            stream::<P>(&events, &sizes, 1),
            expected,
            "{}: stream equals batch (steps up to {max})",
            P::NAME
        );
    }
    let sizes = step_sizes(3, events.len(), 300);
    assert_eq!(
        stream::<P>(&events, &sizes, 2),
        expected,
        "{}: stream with two workers equals batch",
        P::NAME
    );
}

#[test]
fn q0_pass_through() {
    check::<nexmark::Q0>(cost::q0, handwritten::q0);
}

#[test]
fn q1_currency_conversion() {
    check::<nexmark::Q1>(cost::q1, handwritten::q1);
}

#[test]
fn q2_selection() {
    check::<nexmark::Q2>(cost::q2, handwritten::q2);
}

#[test]
fn q3_local_item_suggestion() {
    check::<nexmark::Q3>(cost::q3, handwritten::q3);
}

#[test]
fn q4_average_price_per_category() {
    check::<nexmark::Q4>(cost::q4, handwritten::q4);
}

#[test]
fn q5_hot_items() {
    check::<nexmark::Q5>(cost::q5, handwritten::q5);
}

#[test]
fn q6_average_selling_price_by_seller() {
    check::<nexmark::Q6>(cost::q6, handwritten::q6);
}

#[test]
fn q7_highest_bid() {
    check::<nexmark::Q7>(cost::q7, handwritten::q7);
}

#[test]
fn q8_new_users() {
    check::<nexmark::Q8>(cost::q8, handwritten::q8);
}

#[test]
fn q12_bids_per_bidder_window() {
    check::<nexmark::Q12>(cost::q12, handwritten::q12);
}

#[test]
fn reference_answers_have_the_expected_shape() {
    let events = events();
    // Query 1 converts every bid; query 2 keeps only bids on every 123rd auction.
    let bids = events.iter().filter(|e| matches!(e, Event::Bid(_))).count();
    assert_eq!(
        cost::q1(&events)
            .iter()
            .map(|(_, n)| *n as usize)
            .sum::<usize>(),
        bids
    );
    assert!(
        cost::q2(&events)
            .iter()
            .all(|((auction, _), _)| auction % 123 == 0)
    );
    // Query 4 has one average per category that had a closed auction, within the price range.
    let q4 = cost::q4(&events);
    assert!(!q4.is_empty() && q4.len() <= 5);
    assert!(
        q4.iter()
            .all(|((c, avg), _)| (10..15).contains(c) && avg.0 >= 100.0)
    );
    // Query 7: one highest bid per 10 s window, 40 s of events.
    assert!((4..=5).contains(&cost::q7(&events).len()));
}
