use dataflow_core::prelude::*;

#[pipeline]
fn per_minute(clicks: Stream<(String, u64)>) -> Stream<(String, u64, u64)> {
    clicks
        .event_time(|c| c.1)
        .filter(|c| !c.0.is_empty())
        .key(|c| c.0.clone())
        .window(Window::tumbling(Duration::from_secs(60)))
        .count()
        .map(|((user, window), count)| (user, window.start, count))
}

#[pipeline]
fn running_totals(payments: Stream<(u32, u64)>) -> Stream<(u32, u64)> {
    payments
        .event_time(|p| p.1)
        .key(|p| p.0)
        .scan(0u64, |total, payment, emit| {
            *total += 1;
            emit.push((payment.0, *total));
        })
}

fn main() {
    let clicks = vec![("ann".to_string(), 1_000), ("ann".to_string(), 61_000), (String::new(), 5)];
    let out = Runner::<PerMinute>::new().batch(clicks).unwrap();
    assert_eq!(out.records, vec![(("ann".to_string(), 0, 1), 1), (("ann".to_string(), 60_000, 1), 1)]);
    let totals = Runner::<RunningTotals>::new().batch(vec![(7, 30), (7, 10), (8, 20)]).unwrap();
    assert_eq!(totals.records, vec![((7, 1), 1), ((7, 2), 1), ((8, 1), 1)]);
}
