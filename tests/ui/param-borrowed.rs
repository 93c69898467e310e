use dataflow_core::prelude::*;

#[pipeline]
fn in_country(orders: Stream<(String, u64)>, country: &str) -> Stream<(String, u64)> {
    orders.filter(|o| o.0 == country)
}

fn main() {}
