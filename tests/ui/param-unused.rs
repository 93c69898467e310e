use dataflow_core::prelude::*;

#[pipeline]
fn recent(views: Stream<(String, u64)>, min_ts: u64) -> Stream<(String, u64)> {
    views.filter(|v| v.1 > 0)
}

fn main() {}
