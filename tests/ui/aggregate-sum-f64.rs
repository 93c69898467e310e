use dataflow_core::prelude::*;

#[pipeline]
fn totals(prices: Stream<(String, u64)>) -> Stream<(String, (f64, u64))> {
    prices
        .key(|p| p.0.clone())
        .aggregate(|a| (a.sum(|p| p.1 as f64 / 100.0), a.count()))
}

fn main() {}
