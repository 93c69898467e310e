use dataflow_core::prelude::*;

#[pipeline]
fn averages(prices: Stream<(String, u64)>) -> Stream<f64> {
    prices
        .key(|p| p.0.clone())
        .reduce(|_key, rows| rows.iter().map(|p| p.1 as f64).sum::<f64>())
}

fn main() {}
