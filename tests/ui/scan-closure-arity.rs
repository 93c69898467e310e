use dataflow_core::prelude::*;

#[pipeline]
fn running_totals(payments: Stream<(u32, u64)>) -> Stream<u64> {
    payments
        .event_time(|p| p.1)
        .key(|p| p.0)
        .scan(0u64, |total, payment| *total += payment.1)
}

fn main() {}
