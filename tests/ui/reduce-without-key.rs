use dataflow_core::prelude::*;

#[pipeline]
fn totals(sales: Stream<(String, u64)>) -> Stream<u64> {
    sales.reduce(|_key, rows| rows.len() as u64)
}

fn main() {}
