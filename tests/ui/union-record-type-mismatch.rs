use dataflow_core::prelude::*;

#[pipeline]
fn all(small: Stream<u32>, large: Stream<u64>) -> Stream<u32> {
    small.union(large)
}

fn main() {}
