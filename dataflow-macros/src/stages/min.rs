use super::*;

/// `min(|r| r.price)`
///
/// The least value over the records of each key, giving `(key, min)`.
pub const MIN: StageSpec = StageSpec {
    name: "min",
    kind: StageKind::Min,
    args: &[ArgSpec::Closure {
        params: 1,
        shape: "|record| value",
    }],
    needs_key: true,
    needs_event_time: false,
    time: TimeRule::Aggregate,
    keyed_after: Keyed::Clear,
    example: "min(|r| r.price)",
};
