use super::*;

/// `aggregate(|a| (a.sum(|r| r.amount), a.count()))`
///
/// Several built-in aggregates per key in one pass, giving `(key, (first, second, ..))`.
pub const AGGREGATE: StageSpec = StageSpec {
    name: "aggregate",
    kind: StageKind::Aggregate,
    args: &[ArgSpec::Closure {
        params: 1,
        shape: "|a| (a.sum(|r| r.amount), a.count())",
    }],
    needs_key: true,
    needs_event_time: false,
    time: TimeRule::Aggregate,
    keyed_after: Keyed::Clear,
    example: "aggregate(|a| (a.sum(|r| r.amount), a.count()))",
};
