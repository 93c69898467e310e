use dataflow_core::prelude::*;

#[pipeline]
fn words(lines: Stream<String>) -> Stream<(String, u64)> {
    lines.key_by(|l| l).count()
}

fn main() {}
