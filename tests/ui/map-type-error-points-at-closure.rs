use dataflow_core::prelude::*;

#[pipeline]
fn lengths(words: Stream<String>) -> Stream<usize> {
    words.map(|w| w.len()).filter(|n| n.starts_with("a"))
}

fn main() {}
