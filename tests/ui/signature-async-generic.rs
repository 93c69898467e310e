use dataflow_core::prelude::*;

#[pipeline]
async fn doubled<T>(numbers: Stream<u64>) -> Stream<u64> {
    numbers.map(|n| n * 2)
}

fn main() {}
