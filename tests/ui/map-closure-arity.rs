use dataflow_core::prelude::*;

#[pipeline]
fn doubled(numbers: Stream<u64>) -> Stream<u64> {
    numbers.map(|a, b| a + b)
}

fn main() {}
