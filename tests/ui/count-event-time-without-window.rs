use dataflow_core::prelude::*;

#[pipeline]
fn counts(clicks: Stream<(String, u64)>) -> Stream<(String, u64)> {
    clicks.event_time(|c| c.1).key(|c| c.0.clone()).count()
}

fn main() {}
