use dataflow_core::prelude::*;

#[pipeline]
fn highest_price(prices: Stream<(String, u64)>) -> Stream<(String, f64)> {
    prices.key(|p| p.0.clone()).max(|p| p.1 as f64 / 100.0)
}

fn main() {}
