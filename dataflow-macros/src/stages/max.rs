use super::*;

/// `max(|r| r.price)`
///
/// The greatest value over the records of each key, giving `(key, max)`.
pub const MAX: StageSpec = StageSpec {
    name: "max",
    kind: StageKind::Max,
    args: &[ArgSpec::Closure {
        params: 1,
        shape: "|record| value",
    }],
    needs_key: true,
    needs_event_time: false,
    time: TimeRule::Aggregate,
    keyed_after: Keyed::Clear,
    example: "max(|r| r.price)",
};
