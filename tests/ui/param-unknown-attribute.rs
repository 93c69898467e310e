use dataflow_core::prelude::*;

#[pipeline]
fn recent(
    views: Stream<(String, u64)>,
    #[param(defalt = 0)] min_ts: u64,
) -> Stream<(String, u64)> {
    views.filter(|v| v.1 >= min_ts)
}

fn main() {}
