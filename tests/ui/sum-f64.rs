use dataflow_core::prelude::*;

#[pipeline]
fn revenue(orders: Stream<(String, u64)>) -> Stream<(String, f64)> {
    orders.key(|o| o.0.clone()).sum(|o| o.1 as f64 * 0.01)
}

fn main() {}
