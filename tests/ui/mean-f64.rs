use dataflow_core::prelude::*;

#[pipeline]
fn average_price(prices: Stream<(String, u64)>) -> Stream<(String, F64)> {
    prices.key(|p| p.0.clone()).mean(|p| p.1 as f64 / 100.0)
}

fn main() {}
