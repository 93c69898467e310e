use dataflow_core::prelude::*;

#[pipeline]
fn doubled(numbers: Stream<u64>) -> Stream<u64> {
    let evens = numbers.filter(|n| n % 2 == 0);
    odds.map(|n| n * 2).union(evens)
}

fn main() {}
