use super::*;

/// `map(|r| r.price * r.quantity)`
///
/// Transforms every record into exactly one new record.
pub const MAP: StageSpec = StageSpec {
    name: "map",
    kind: StageKind::Map,
    args: &[ArgSpec::Closure {
        params: 1,
        shape: "|record| new_record",
    }],
    needs_key: false,
    needs_event_time: false,
    time: TimeRule::Stateless,
    keyed_after: Keyed::Clear,
    example: "map(|r| r.price * r.quantity)",
};
