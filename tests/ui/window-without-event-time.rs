use dataflow_core::prelude::*;

#[pipeline]
fn windowed(clicks: Stream<(String, u64)>) -> Stream<(String, u64)> {
    clicks.key(|c| c.0.clone()).window(60_000).count()
}

fn main() {}
