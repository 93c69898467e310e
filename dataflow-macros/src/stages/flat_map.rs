use super::*;

/// `flat_map(|line| line.split(' ').map(String::from).collect::<Vec<_>>())`
///
/// Transforms every record into any number of records (anything `IntoIterator`).
pub const FLAT_MAP: StageSpec = StageSpec {
    name: "flat_map",
    kind: StageKind::FlatMap,
    args: &[ArgSpec::Closure {
        params: 1,
        shape: "|record| iterator",
    }],
    needs_key: false,
    needs_event_time: false,
    time: TimeRule::Stateless,
    keyed_after: Keyed::Clear,
    example: "flat_map(|line| line.split(' ').map(String::from).collect::<Vec<_>>())",
};
