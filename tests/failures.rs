//! A panicking user closure never takes the run down silently or hangs it: the run finishes, and
//! fails with an error naming the pipeline, the stage, its line and the panic message.

use dataflow_core::prelude::*;
use dataflow_core::{Error, StageFailure};

#[pipeline]
fn inverses(numbers: Stream<i64>) -> Stream<(bool, i64)> {
    numbers
        .map(|n| 100 / n)
        .key(|n| *n > 0)
        .reduce(|positive, rows| {
            assert!(*positive || rows.len() < 3, "too many negatives");
            rows.iter().sum::<i64>()
        })
        .map(|total| (total > 0, total))
}

fn failures(result: Result<Output<(bool, i64)>, Error>) -> (u64, Vec<StageFailure>) {
    match result {
        Err(Error::StageFailed { count, failures }) => (count, failures),
        other => panic!("expected a stage failure, got {other:?}"),
    }
}

#[test]
fn a_panicking_map_is_reported_with_its_stage() {
    for workers in [1, 2] {
        let (count, failures) = failures(
            Runner::<Inverses>::new()
                .workers(workers)
                .batch(vec![5, 0, 10, 0, 20]),
        );
        assert_eq!(count, 2, "both zeros are reported");
        let first = &failures[0];
        assert_eq!(first.pipeline, "inverses");
        assert_eq!(first.stage, 1);
        assert_eq!(first.kind, dataflow_core::plan::StageKind::Map);
        assert_eq!(first.source, "|n| 100 / n");
        assert!(
            first.message.contains("divide by zero"),
            "{}",
            first.message
        );
        let text = first.to_string();
        assert!(
            text.starts_with(
                "stage #1 `map` of pipeline `inverses` (line 10: `|n| 100 / n`) panicked"
            ),
            "{text}"
        );
    }
}

#[test]
fn a_panicking_reduce_is_reported_with_its_stage() {
    let (count, failures) = failures(Runner::<Inverses>::new().batch(vec![-1, -2, -3, 4]));
    assert_eq!(count, 1);
    assert_eq!(failures[0].kind, dataflow_core::plan::StageKind::Reduce);
    assert!(failures[0].message.contains("too many negatives"));
}

#[test]
fn good_input_runs_clean() {
    let output = Runner::<Inverses>::new().batch(vec![5, 10, -50]).unwrap();
    assert_eq!(output.records, vec![((false, -2), 1), ((true, 30), 1)]);
}
