use super::*;

/// `filter(|r| r.quantity > 0)`
///
/// Keeps the records for which the predicate returns `true`. A keyed stream stays keyed.
pub const FILTER: StageSpec = StageSpec {
    name: "filter",
    kind: StageKind::Filter,
    args: &[ArgSpec::Closure {
        params: 1,
        shape: "|record| condition",
    }],
    needs_key: false,
    needs_event_time: false,
    time: TimeRule::Stateless,
    keyed_after: Keyed::Keep,
    example: "filter(|r| r.quantity > 0)",
};
