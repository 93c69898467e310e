use super::*;

/// `distinct()`
///
/// Each distinct record once, however often it occurs.
pub const DISTINCT: StageSpec = StageSpec {
    name: "distinct",
    kind: StageKind::Distinct,
    args: &[],
    needs_key: false,
    needs_event_time: false,
    time: TimeRule::Untimed,
    keyed_after: Keyed::Keep,
    example: "distinct()",
};
