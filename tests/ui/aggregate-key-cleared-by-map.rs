use dataflow_core::prelude::*;

#[pipeline]
fn totals(sales: Stream<(String, u64)>) -> Stream<(String, u64)> {
    sales.key(|s| s.0.clone()).map(|(k, s)| (k, s.1)).count()
}

fn main() {}
