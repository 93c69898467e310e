use dataflow_core::prelude::*;

#[pipeline]
fn recent(views: Stream<(String, u64)>) -> Stream<(String, u64)> {
    let min_ts = 1_000;
    views.filter(|v| v.1 >= min_ts)
}

fn main() {}
