use super::*;

/// `join(bids.key(|b| b.auction))`
///
/// Pairs the records of two keyed streams with equal keys, giving `(key, (left, right))`.
pub const JOIN: StageSpec = StageSpec {
    name: "join",
    kind: StageKind::Join,
    args: &[ArgSpec::Chain { keyed: true }],
    needs_key: true,
    needs_event_time: false,
    time: TimeRule::Untimed,
    keyed_after: Keyed::Set,
    example: "join(bids.key(|b| b.auction))",
};
