use super::*;

/// `reduce(|key, rows| Total::of(key, rows))`
///
/// Computes one output per key from all of the key's records (`rows`, each with its multiplicity).
pub const REDUCE: StageSpec = StageSpec {
    name: "reduce",
    kind: StageKind::Reduce,
    args: &[ArgSpec::Closure {
        params: 2,
        shape: "|key, rows| output",
    }],
    needs_key: true,
    needs_event_time: false,
    time: TimeRule::Untimed,
    keyed_after: Keyed::Clear,
    example: "reduce(|key, rows| Total::of(key, rows))",
};
