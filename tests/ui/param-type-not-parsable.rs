use dataflow_core::prelude::*;

#[pipeline]
fn recent(views: Stream<(String, u64)>, max_age: std::time::Duration) -> Stream<(String, u64)> {
    views.filter(|v| v.1 < max_age.as_millis() as u64)
}

fn main() {}
