use super::*;

/// `mean(|r| r.price)`
///
/// The arithmetic mean of a value over the records of each key, giving `(key, F64)`.
pub const MEAN: StageSpec = StageSpec {
    name: "mean",
    kind: StageKind::Mean,
    args: &[ArgSpec::Closure {
        params: 1,
        shape: "|record| value",
    }],
    needs_key: true,
    needs_event_time: false,
    time: TimeRule::Aggregate,
    keyed_after: Keyed::Clear,
    example: "mean(|r| r.price)",
};
