use dataflow_core::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Total {
    product: String,
    count: u64,
}

#[pipeline(key(produce))]
fn totals(sales: Stream<String>) -> Stream<Total> {
    sales
        .key(|s| s.clone())
        .count()
        .map(|(product, count)| Total { product, count })
}

fn main() {}
