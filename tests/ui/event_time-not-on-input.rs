use dataflow_core::prelude::*;

#[pipeline]
fn windowed(clicks: Stream<(String, u64)>) -> Stream<((String, TimeWindow), u64)> {
    clicks
        .map(|c| c)
        .event_time(|c| c.1)
        .key(|c| c.0.clone())
        .window(Window::tumbling(Duration::from_secs(60)))
        .count()
}

fn main() {}
