use super::*;

/// `count()`
///
/// Counts the records of each key, giving `(key, count)`.
pub const COUNT: StageSpec = StageSpec {
    name: "count",
    kind: StageKind::Count,
    args: &[],
    needs_key: true,
    needs_event_time: false,
    time: TimeRule::Aggregate,
    keyed_after: Keyed::Clear,
    example: "count()",
};
