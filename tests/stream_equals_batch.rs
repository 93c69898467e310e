//! The central promise, checked on random inputs for every example pipeline: the batch output equals a
//! brute-force oracle, consolidating a stream's changes (any split into steps) gives the batch output,
//! and two workers give what one worker gives.

use dataflow_core::decimal::Decimal;
use dataflow_core::prelude::pipeline;
use dataflow_core::{Change, Pipeline, Runner};
use dataflow_examples::sales::{DailySales, DailyTotal, Sale};
use dataflow_examples::words::{Line, WordCount, WordFrequency, words};
use proptest::prelude::*;
use std::collections::BTreeMap;

/// Runs `input` as a stream split at `cuts`, checks each step's changes, and returns the
/// accumulated output.
fn run_stream<P, I>(input: Vec<I>, cuts: &[usize], workers: usize) -> Vec<(P::Output, isize)>
where
    P: Pipeline<Inputs = (I,)>,
    I: dataflow_core::Record,
{
    let mut running = Runner::<P>::new().workers(workers).start().unwrap();
    let mut rest = input;
    let mut accumulated: BTreeMap<P::Output, isize> = BTreeMap::new();
    let mut positions: Vec<usize> = cuts.iter().map(|c| c % (rest.len() + 1)).collect();
    positions.sort();
    let mut taken = 0;
    for position in positions {
        let step: Vec<I> = rest.drain(..position - taken).collect();
        taken = position;
        let changes: Vec<Change<P::Output>> = running.push(step).unwrap();
        for change in &changes {
            assert_ne!(change.diff, 0, "consolidated changes have no zero diffs");
            *accumulated.entry(change.record.clone()).or_default() += change.diff;
        }
    }
    for change in running.push(rest).unwrap() {
        *accumulated.entry(change.record.clone()).or_default() += change.diff;
    }
    let view = running.consolidated();
    let finished = running.finish().unwrap();
    accumulated.retain(|_, diff| *diff != 0);
    let accumulated: Vec<(P::Output, isize)> = accumulated.into_iter().collect();
    assert_eq!(
        accumulated, view,
        "accumulated changes equal the running view"
    );
    assert_eq!(
        accumulated, finished.records,
        "accumulated changes equal the final output"
    );
    accumulated
}

/// Joins each key's running count, which retracts its old value whenever it changes, with the key's
/// values: a join fed retractions on one side and insertions on the other.
#[pipeline]
fn counted_join(pairs: Stream<(u8, u8)>) -> Stream<(u8, (u64, u8))> {
    let counts = pairs.key(|p| p.0).count();
    counts.key_by(|c| c).join(pairs.key_by(|p| p))
}

/// A consolidated output of `counted_join`.
type Joined = Vec<((u8, (u64, u8)), isize)>;

fn counted_join_oracle(pairs: &[(u8, u8)]) -> Joined {
    let mut counts: BTreeMap<u8, u64> = BTreeMap::new();
    for (key, _) in pairs {
        *counts.entry(*key).or_default() += 1;
    }
    let mut out: BTreeMap<(u8, (u64, u8)), isize> = BTreeMap::new();
    for (key, value) in pairs {
        *out.entry((*key, (counts[key], *value))).or_default() += 1;
    }
    out.into_iter().collect()
}

fn sale() -> impl Strategy<Value = Sale> {
    (
        prop::sample::select(vec!["tea", "jam", "bagel", "latte"]),
        -2i64..6,
        prop::sample::select(vec![150i64, 199, 250, 1000, 5]),
        0u32..4,
    )
        .prop_map(|(product, quantity, cents, day)| Sale {
            product: product.to_string(),
            quantity,
            price: Decimal::new(cents, 2),
            date: chrono::NaiveDate::from_ymd_opt(2026, 11, 1 + day).unwrap(),
        })
}

fn daily_sales_oracle(sales: &[Sale]) -> Vec<(DailyTotal, isize)> {
    let mut totals: BTreeMap<(String, chrono::NaiveDate), (Decimal, u64)> = BTreeMap::new();
    for s in sales {
        let entry = totals.entry((s.product.clone(), s.date)).or_default();
        entry.0 += Decimal::from(s.quantity) * s.price;
        entry.1 += 1;
    }
    let mut out: Vec<(DailyTotal, isize)> = totals
        .into_iter()
        .map(|((product, date), (total_revenue, transaction_count))| {
            (
                DailyTotal {
                    product,
                    date,
                    total_revenue,
                    transaction_count,
                },
                1,
            )
        })
        .collect();
    out.sort();
    out
}

fn word_count_oracle(lines: &[Line]) -> Vec<(WordFrequency, isize)> {
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    for line in lines {
        for word in words(&line.text) {
            *counts.entry(word).or_default() += 1;
        }
    }
    counts
        .into_iter()
        .map(|(word, count)| (WordFrequency { word, count }, 1))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn daily_sales_stream_equals_batch(
        sales in prop::collection::vec(sale(), 0..120),
        cuts in prop::collection::vec(0usize..1000, 0..6),
    ) {
        let expected = daily_sales_oracle(&sales);
        let batch = Runner::<DailySales>::new().batch(sales.clone()).unwrap();
        prop_assert_eq!(&batch.records, &expected);
        let two = Runner::<DailySales>::new().workers(2).batch(sales.clone()).unwrap();
        prop_assert_eq!(&two.records, &expected);
        prop_assert_eq!(&run_stream::<DailySales, _>(sales.clone(), &cuts, 1), &expected);
        prop_assert_eq!(&run_stream::<DailySales, _>(sales, &cuts, 2), &expected);
    }

    #[test]
    fn word_count_stream_equals_batch(
        texts in prop::collection::vec("[a-d ,.!]{0,24}", 0..40),
        cuts in prop::collection::vec(0usize..1000, 0..6),
    ) {
        let lines: Vec<Line> = texts.into_iter().map(|text| Line { text }).collect();
        let expected = word_count_oracle(&lines);
        let batch = Runner::<WordCount>::new().batch(lines.clone()).unwrap();
        prop_assert_eq!(&batch.records, &expected);
        let two = Runner::<WordCount>::new().workers(2).batch(lines.clone()).unwrap();
        prop_assert_eq!(&two.records, &expected);
        prop_assert_eq!(&run_stream::<WordCount, _>(lines.clone(), &cuts, 1), &expected);
        prop_assert_eq!(&run_stream::<WordCount, _>(lines, &cuts, 2), &expected);
    }

    #[test]
    fn a_join_fed_retractions_streams_to_the_batch_answer(
        pairs in prop::collection::vec((0u8..5, 0u8..4), 0..80),
        cuts in prop::collection::vec(0usize..1000, 0..8),
    ) {
        let expected = counted_join_oracle(&pairs);
        let batch = Runner::<CountedJoin>::new().batch(pairs.clone()).unwrap();
        prop_assert_eq!(&batch.records, &expected);
        let two = Runner::<CountedJoin>::new().workers(2).batch(pairs.clone()).unwrap();
        prop_assert_eq!(&two.records, &expected);
        prop_assert_eq!(&run_stream::<CountedJoin, _>(pairs.clone(), &cuts, 1), &expected);
        prop_assert_eq!(&run_stream::<CountedJoin, _>(pairs, &cuts, 2), &expected);
    }
}
