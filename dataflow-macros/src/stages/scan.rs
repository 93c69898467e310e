use super::*;

/// `scan(History::default(), |history, tx, emit| ..)`
///
/// Folds over each key's records in event-time order, keeping per-key state and emitting any number of outputs per record.
pub const SCAN: StageSpec = StageSpec {
    name: "scan",
    kind: StageKind::Scan,
    args: &[
        ArgSpec::Value {
            shape: "initial state",
        },
        ArgSpec::Closure {
            params: 3,
            shape: "|state, record, emit| ..",
        },
    ],
    needs_key: true,
    needs_event_time: true,
    time: TimeRule::Ordered,
    keyed_after: Keyed::Clear,
    example: "scan(History::default(), |history, tx, emit| ..)",
};
