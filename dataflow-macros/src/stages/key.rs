use super::*;

/// `key(|r| r.product.clone())`
///
/// Pairs every record with its key, giving `(key, record)`. Aggregates, `reduce`, `join` and `window` need it.
pub const KEY: StageSpec = StageSpec {
    name: "key",
    kind: StageKind::Key,
    args: &[ArgSpec::Closure {
        params: 1,
        shape: "|record| key",
    }],
    needs_key: false,
    needs_event_time: false,
    time: TimeRule::Stateless,
    keyed_after: Keyed::Set,
    example: "key(|r| r.product.clone())",
};
