use dataflow_core::prelude::*;

#[pipeline]
fn totals(sales: Stream<(String, u64)>) -> Stream<(String, u64)> {
    sales.mapp(|s| s).key(|s| s.0.clone()).sum(|s| s.1)
}

fn main() {}
