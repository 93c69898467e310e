use dataflow_core::prelude::*;

#[pipeline(keys(word))]
fn words(words: Stream<String>) -> Stream<(String, u64)> {
    words.key(|w| w.clone()).count()
}

fn main() {}
