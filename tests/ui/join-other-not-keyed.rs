use dataflow_core::prelude::*;

#[pipeline]
fn matched(left: Stream<(u32, String)>, right: Stream<(u32, u64)>) -> Stream<(u32, ((u32, String), (u32, u64)))> {
    left.key(|l| l.0).join(right.filter(|r| r.1 > 0))
}

fn main() {}
