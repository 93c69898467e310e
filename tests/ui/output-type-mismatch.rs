use dataflow_core::prelude::*;

#[pipeline]
fn lengths(words: Stream<String>) -> Stream<String> {
    words.map(|w| w.len())
}

fn main() {}
