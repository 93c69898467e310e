use super::*;

/// `union(other)`
///
/// All records of both streams, which must have the same record type.
pub const UNION: StageSpec = StageSpec {
    name: "union",
    kind: StageKind::Union,
    args: &[ArgSpec::Chain { keyed: false }],
    needs_key: false,
    needs_event_time: false,
    time: TimeRule::Untimed,
    keyed_after: Keyed::Keep,
    example: "union(other)",
};
