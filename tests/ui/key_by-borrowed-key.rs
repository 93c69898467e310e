use dataflow_core::prelude::*;

#[pipeline]
fn minutes_per_url(views: Stream<(String, u64)>) -> Stream<(String, u64)> {
    views.key_by(|v| (&v.0, v.1)).sum(|ms| *ms / 60_000)
}

fn main() {}
