use dataflow_core::prelude::*;

#[pipeline]
fn doubled(numbers: Stream<u64>) -> Vec<u64> {
    numbers.map(|n| n * 2)
}

fn main() {}
