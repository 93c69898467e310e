use dataflow_core::prelude::*;

#[pipeline]
fn per_minute(views: Stream<(String, u64)>, offset: u64) -> Stream<(String, u64)> {
    views
        .event_time(|v| v.1 + offset)
        .key(|v| v.0.clone())
        .window(Window::tumbling(Duration::from_secs(60)))
        .count()
        .map(|((url, _window), n)| (url, n))
}

fn main() {}
