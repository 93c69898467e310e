//! Fraud detection against a brute-force oracle: each user's transactions sorted by (event time, input
//! position) and checked one by one; the pipeline must agree in batch, in stream steps with the input
//! shuffled within the out-of-orderness bound, and on two workers.

use dataflow_core::decimal::Decimal;
use dataflow_core::prelude::*;
use dataflow_examples::fraud::{Alert, FraudDetection, History, Transaction};
use proptest::prelude::*;
use std::collections::BTreeMap;

fn oracle(transactions: &[Transaction]) -> Vec<(Alert, isize)> {
    let mut by_user: BTreeMap<&str, Vec<(u64, usize, &Transaction)>> = BTreeMap::new();
    for (position, tx) in transactions.iter().enumerate() {
        by_user
            .entry(&tx.user_id)
            .or_default()
            .push((tx.ts, position, tx));
    }
    let mut alerts: BTreeMap<Alert, isize> = BTreeMap::new();
    for (_, mut txs) in by_user {
        txs.sort_by_key(|(ts, position, _)| (*ts, *position));
        let mut history = History::default();
        for (_, _, tx) in txs {
            if let Some(alert) = history.check(tx) {
                *alerts.entry(alert).or_default() += 1;
            }
        }
    }
    alerts.into_iter().collect()
}

const DELAY: u64 = 20_000;

fn transactions() -> impl Strategy<Value = Vec<Transaction>> {
    prop::collection::vec(
        (
            prop::sample::select(vec!["ann", "bob", "cy"]),
            prop::sample::select(vec![100i64, 250, 990, 4_000, 60_000]),
            // Times in 5 s steps, so that ties and bursts are common.
            (0u64..60).prop_map(|t| t * 5_000),
            0..DELAY,
        ),
        0..80,
    )
    .prop_map(|raw| {
        let mut arriving: Vec<(u64, Transaction)> = raw
            .into_iter()
            .map(|(user, cents, ts, jitter)| {
                (
                    ts + jitter,
                    Transaction {
                        user_id: user.to_string(),
                        amount: Decimal::new(cents, 2),
                        ts,
                    },
                )
            })
            .collect();
        arriving.sort_by_key(|(arrival, _)| *arrival);
        arriving.into_iter().map(|(_, tx)| tx).collect()
    })
}

fn streamed(transactions: &[Transaction], step: usize, workers: usize) -> Vec<(Alert, isize)> {
    let mut running = Runner::<FraudDetection>::new()
        .workers(workers)
        .max_delay(Duration::from_millis(DELAY))
        .start()
        .unwrap();
    for chunk in transactions.chunks(step.max(1)) {
        running.push(chunk.to_vec()).unwrap();
    }
    let out = running.finish().unwrap();
    assert_eq!(
        out.summary.late_records, 0,
        "nothing is late within the bound"
    );
    out.records
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn alerts_match_the_oracle_in_every_mode(txs in transactions(), step in 1usize..12) {
        let expected = oracle(&txs);
        let batch = Runner::<FraudDetection>::new().batch(txs.clone()).unwrap();
        prop_assert_eq!(&batch.records, &expected);
        prop_assert_eq!(&streamed(&txs, step, 1), &expected);
        prop_assert_eq!(&streamed(&txs, step, 2), &expected);
    }
}

fn tx(user: &str, cents: i64, ts: u64) -> Transaction {
    Transaction {
        user_id: user.to_string(),
        amount: Decimal::new(cents, 2),
        ts,
    }
}

#[test]
fn the_rules_follow_the_definition() {
    let txs = vec![
        tx("a", 1_000, 0),
        tx("a", 10_001, 1_000), // 100.01 > 10 × 10.00: amount
        tx("a", 10_000, 2_000), // 100.00 is not > 10 × mean(10.00, 100.01)
        tx("b", 100, 0),
        tx("b", 100, 10_000),
        tx("b", 100, 20_000),
        tx("b", 100, 30_000),
        tx("b", 100, 40_000),
        tx("b", 100, 50_000),    // sixth within (t - 60 s, t]: velocity
        tx("b", 100, 60_000),    // the one at 0 is outside (0, 60000]: still six: velocity
        tx("b", 50_000, 61_000), // both rules: one alert, "amount"
    ];
    let out = Runner::<FraudDetection>::new().batch(txs).unwrap();
    let alerts: Vec<(String, u64, String)> = out
        .records
        .into_iter()
        .map(|(a, _)| (a.user_id, a.ts, a.reason))
        .collect();
    assert_eq!(
        alerts,
        vec![
            ("a".into(), 1_000, "amount".into()),
            ("b".into(), 50_000, "velocity".into()),
            ("b".into(), 60_000, "velocity".into()),
            ("b".into(), 61_000, "amount".into()),
        ]
    );
}

#[test]
fn ties_are_broken_by_input_order() {
    // Two transactions at the same time: the first in the input counts as the earlier one.
    let smaller_first = vec![tx("t", 1_000, 0), tx("t", 12_000, 5), tx("t", 100_000, 5)];
    let larger_first = vec![tx("t", 1_000, 0), tx("t", 100_000, 5), tx("t", 12_000, 5)];
    for workers in [1, 2] {
        let a = Runner::<FraudDetection>::new()
            .workers(workers)
            .batch(smaller_first.clone())
            .unwrap();
        let b = Runner::<FraudDetection>::new()
            .workers(workers)
            .batch(larger_first.clone())
            .unwrap();
        // 120 > 10 × 10, then 1000 > 10 × mean(10, 120): two alerts.
        assert_eq!(a.records.len(), 2);
        // 1000 > 10 × 10, then 120 is not > 10 × mean(10, 1000): one alert.
        assert_eq!(b.records.len(), 1);
        assert_eq!(b.records[0].0.amount, Decimal::new(100_000, 2));
    }
}
