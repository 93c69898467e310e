use dataflow_core::prelude::*;

#[pipeline]
fn named(orders: Stream<(u32, u64)>, customers: Stream<(String, String)>) -> Stream<(u32, (u64, String))> {
    orders
        .key(|o| o.0)
        .join(customers.key(|c| c.0.clone()))
        .map(|(k, (o, c))| (k, (o.1, c.1)))
}

fn main() {}
