use super::*;

/// `filter_map(|e| e.as_bid())`
///
/// Transforms every record into an `Option`, keeping the `Some` values.
pub const FILTER_MAP: StageSpec = StageSpec {
    name: "filter_map",
    kind: StageKind::FilterMap,
    args: &[ArgSpec::Closure {
        params: 1,
        shape: "|record| Some(new_record)",
    }],
    needs_key: false,
    needs_event_time: false,
    time: TimeRule::Stateless,
    keyed_after: Keyed::Clear,
    example: "filter_map(|e| e.as_bid())",
};
