use super::*;

/// `key_by(|r| (r.product, r.price))`
///
/// Splits every record into `(key, value)`, consuming it: the fast way to key when the record itself
/// is not needed afterwards (no clone of the key). Aggregates, `reduce`, `join` and `window` need a key.
pub const KEY_BY: StageSpec = StageSpec {
    name: "key_by",
    kind: StageKind::KeyBy,
    args: &[ArgSpec::Closure {
        params: 1,
        shape: "|record| (key, value)",
    }],
    needs_key: false,
    needs_event_time: false,
    time: TimeRule::Stateless,
    keyed_after: Keyed::Set,
    example: "key_by(|r| (r.product, r.price))",
};
