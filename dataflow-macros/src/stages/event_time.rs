use super::*;

/// `event_time(|r| r.ts)`
///
/// Declares the record's event time, in milliseconds since the Unix epoch, taken from the data. Windows and `scan` need it.
pub const EVENT_TIME: StageSpec = StageSpec {
    name: "event_time",
    kind: StageKind::EventTime,
    args: &[ArgSpec::Closure {
        params: 1,
        shape: "|record| milliseconds",
    }],
    needs_key: false,
    needs_event_time: false,
    time: TimeRule::Stamp,
    keyed_after: Keyed::Keep,
    example: "event_time(|r| r.ts)",
};
