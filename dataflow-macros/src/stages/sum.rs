use super::*;

/// `sum(|r| r.amount)`
///
/// Sums a value over the records of each key, exactly, giving `(key, sum)`.
pub const SUM: StageSpec = StageSpec {
    name: "sum",
    kind: StageKind::Sum,
    args: &[ArgSpec::Closure {
        params: 1,
        shape: "|record| value",
    }],
    needs_key: true,
    needs_event_time: false,
    time: TimeRule::Aggregate,
    keyed_after: Keyed::Clear,
    example: "sum(|r| r.amount)",
};
