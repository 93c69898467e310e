use dataflow_core::prelude::*;

#[pipeline]
fn prices(cents: Stream<u64>) -> Stream<f64> {
    cents.map(|c| c as f64 / 100.0)
}

fn main() {}
