//! The names users bring from Flink, Spark, Kafka Streams, Beam and Rust iterators, each with the
//! stage (or stages) that does its job here, so that an unknown stage can say what to write instead.

/// A name from another dataflow API and what to write instead.
#[derive(Clone, Copy, Debug)]
pub struct Foreign {
    /// The names as written elsewhere. They are matched ignoring case and underscores, so
    /// `group_by` also stands for `groupBy` and `GroupBy`.
    pub names: &'static [&'static str],
    /// The stage that does the job, which [`super::lookup`] knows; `None` when no stage does (a
    /// sink, `collect`).
    pub stage: Option<&'static str>,
    /// What to write instead, as a sentence with an example.
    pub hint: &'static str,
}

/// Every known foreign name, grouped by the stage that replaces it.
pub const FOREIGN: &[Foreign] = &[
    Foreign {
        names: &["group_by", "partition_by", "shuffle_by"],
        stage: Some("key"),
        hint: "key the records, then aggregate per key: `.key(|r| r.url.clone()).count()`",
    },
    Foreign {
        names: &["keyBy"],
        stage: Some("key"),
        hint: "`.key(|r| r.url.clone())` pairs each record with its key, as Flink's `keyBy` does; `.key_by(|r| (r.url, r.ms))` splits a record into a key and a value",
    },
    Foreign {
        names: &["group_by_key", "group_by_key_and_window"],
        stage: Some("key"),
        hint: "records are grouped by the `key` stage: `.key(|r| r.url.clone())`, then an aggregate such as `.count()` or `.reduce(|key, rows| ..)`",
    },
    Foreign {
        names: &[
            "reduce_by_key",
            "combine_by_key",
            "fold_by_key",
            "combine_per_key",
        ],
        stage: Some("reduce"),
        hint: "key the records, then reduce each key's records: `.key(|r| r.url.clone()).reduce(|key, rows| rows.len())`, or `.sum(|r| r.n)` for a sum",
    },
    Foreign {
        names: &["aggregate_by_key", "agg", "aggregate_by"],
        stage: Some("aggregate"),
        hint: "key the records, then aggregate: `.key(|r| r.country.clone()).aggregate(|a| (a.sum(|r| r.cents), a.count()))`",
    },
    Foreign {
        names: &["fold", "try_fold"],
        stage: Some("reduce"),
        hint: "a fold over a key's records is a `reduce`: `.key(|r| r.id).reduce(|key, rows| rows.iter().map(|r| r.n).sum::<u64>())`; for a running fold in event-time order, `.scan(init, |state, r, emit| ..)`",
    },
    Foreign {
        names: &["sum_by", "sum_by_key", "sum_per_key"],
        stage: Some("sum"),
        hint: "key the records, then sum: `.key(|r| r.country.clone()).sum(|r| r.cents)`",
    },
    Foreign {
        names: &[
            "count_by_key",
            "count_by",
            "count_by_value",
            "count_per_key",
            "count_per_element",
            "value_counts",
        ],
        stage: Some("count"),
        hint: "key the records, then count: `.key(|r| r.url.clone()).count()`",
    },
    Foreign {
        names: &["average", "avg", "mean_by_key"],
        stage: Some("mean"),
        hint: "key the records, then average: `.key(|r| r.url.clone()).mean(|r| r.ms)`",
    },
    Foreign {
        names: &["min_by", "min_by_key", "minimum"],
        stage: Some("min"),
        hint: "key the records, then take the least value: `.key(|r| r.url.clone()).min(|r| r.ms)`",
    },
    Foreign {
        names: &["max_by", "max_by_key", "maximum"],
        stage: Some("max"),
        hint: "key the records, then take the greatest value: `.key(|r| r.url.clone()).max(|r| r.ms)`",
    },
    Foreign {
        names: &["collect", "to_vec", "collect_vec", "to_list"],
        stage: None,
        hint: "a pipeline returns its stream: end the body with the chain of stages, without `collect`; the records are collected when it runs (`Runner::batch` returns them)",
    },
    Foreign {
        names: &[
            "for_each", "sink", "print", "println", "add_sink", "sink_to", "to", "write", "output",
            "inspect", "dbg",
        ],
        stage: None,
        hint: "a pipeline has no sinks: its output is the stream its body returns, and the runner writes it (`cli::main` prints JSON Lines, `Runner::batch` returns the records)",
    },
    Foreign {
        names: &["window_all", "global_window", "window_into"],
        stage: Some("window"),
        hint: "windows are per key: `.key(|r| r.url.clone()).window(Window::tumbling(Duration::from_secs(60))).count()`; for one key over all records, `.key(|_| ())`",
    },
    Foreign {
        names: &[
            "tumble",
            "tumbling_window",
            "time_window",
            "sliding_window",
            "session_window",
            "window_by",
        ],
        stage: Some("window"),
        hint: "`.window(Window::tumbling(Duration::from_secs(60)))` after `.event_time(..)` and `.key(..)`, then an aggregate such as `.count()`",
    },
    Foreign {
        names: &[
            "assign_timestamps",
            "assign_timestamps_and_watermarks",
            "with_timestamps",
            "with_timestamp",
            "timestamp",
            "with_watermark",
            "watermark",
        ],
        stage: Some("event_time"),
        hint: "`.event_time(|r| r.ts)` right after an input: time comes from the data, and `--max-delay` bounds the lateness",
    },
    Foreign {
        names: &[
            "select",
            "with_column",
            "map_values",
            "map_to_pair",
            "map_elements",
        ],
        stage: Some("map"),
        hint: "`.map(|r| (r.url, r.ms))`",
    },
    Foreign {
        names: &["filter_not", "retain", "take_while"],
        stage: Some("filter"),
        hint: "`.filter(|r| r.ms > 100)`",
    },
    Foreign {
        names: &["flat_map_values", "flatten", "explode", "flat_map_elements"],
        stage: Some("flat_map"),
        hint: "`.flat_map(|line| line.split(' ').map(String::from).collect::<Vec<_>>())`",
    },
    Foreign {
        names: &["map_to_key_value", "select_key", "with_key", "key_by_value"],
        stage: Some("key_by"),
        hint: "`.key_by(|r| (r.url, r.ms))` splits each record into a key and a value; `.key(|r| r.url.clone())` keeps the whole record",
    },
    Foreign {
        names: &["dedup", "unique", "drop_duplicates", "distinct_by"],
        stage: Some("distinct"),
        hint: "`.distinct()` keeps every distinct record once",
    },
    Foreign {
        names: &["concat", "merge", "chain", "union_all", "flatten_streams"],
        stage: Some("union"),
        hint: "`.union(other)`, where `other` is a chain from another input or a `let` binding",
    },
    Foreign {
        names: &[
            "inner_join",
            "join_with",
            "cogroup",
            "interval_join",
            "join_on",
        ],
        stage: Some("join"),
        hint: "key both sides, then join: `orders.key(|o| o.customer).join(customers.key(|c| c.id))`",
    },
    Foreign {
        names: &[
            "process",
            "map_with_state",
            "flat_map_with_state",
            "update_state_by_key",
            "map_groups_with_state",
            "transform",
            "scan_by_key",
        ],
        stage: Some("scan"),
        hint: "per-key state in event-time order: `.event_time(|r| r.ts).key(|r| r.user.clone()).scan(State::default(), |state, r, emit| ..)`",
    },
];

/// The entry for `name`, matched ignoring case and underscores (`reduceByKey`, `reduce_by_key`).
pub fn lookup(name: &str) -> Option<&'static Foreign> {
    let name = normalize(name);
    FOREIGN
        .iter()
        .find(|f| f.names.iter().any(|n| normalize(n) == name))
}

/// `name` in lower case without underscores: `keyBy` and `key_by` are both `keyby`.
fn normalize(name: &str) -> String {
    name.chars()
        .filter(|c| *c != '_')
        .flat_map(char::to_lowercase)
        .collect()
}

/// Tests of the table of foreign names.
#[cfg(test)]
mod tests {
    use super::*;

    /// Every entry names a stage that exists, and no foreign name is a stage of ours.
    #[test]
    fn entries_point_at_real_stages_and_shadow_none() {
        for foreign in FOREIGN {
            if let Some(stage) = foreign.stage {
                assert!(super::super::lookup(stage).is_some(), "{foreign:?}");
                assert!(foreign.hint.contains(&format!(".{stage}(")), "{foreign:?}");
            }
            for name in foreign.names {
                assert!(super::super::lookup(name).is_none(), "{name} is a stage");
            }
        }
    }

    /// Each foreign name appears once, however it is spelled.
    #[test]
    fn names_are_unique() {
        let mut names: Vec<String> = FOREIGN
            .iter()
            .flat_map(|f| f.names.iter().map(|n| normalize(n)))
            .collect();
        let count = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), count);
    }

    /// Names are found in snake and camel case.
    #[test]
    fn finds_names_in_any_case() {
        let stage = |name| lookup(name).map(|f| f.stage);
        assert_eq!(stage("keyBy"), Some(Some("key")));
        assert_eq!(stage("reduceByKey"), Some(Some("reduce")));
        assert_eq!(stage("group_by"), Some(Some("key")));
        assert_eq!(stage("GroupByKey"), Some(Some("key")));
        assert_eq!(stage("windowAll"), Some(Some("window")));
        assert_eq!(stage("for_each"), Some(None));
        assert_eq!(stage("counting"), None);
    }
}
