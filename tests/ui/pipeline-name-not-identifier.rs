use dataflow_core::prelude::*;

#[pipeline(name = "revenue job")]
fn revenue(orders: Stream<(String, u64)>) -> Stream<(String, u64)> {
    orders.filter(|o| o.1 > 0)
}

fn main() {}
