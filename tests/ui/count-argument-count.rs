use dataflow_core::prelude::*;

#[pipeline]
fn counts(words: Stream<String>) -> Stream<(String, u64)> {
    words.key(|w| w.clone()).count(1)
}

fn main() {}
