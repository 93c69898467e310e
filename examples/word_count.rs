//! Word count: `cargo run --example word_count -- --input examples/data/lines.jsonl`.

fn main() -> std::process::ExitCode {
    dataflow_core::cli::main::<dataflow_examples::WordCount, _>()
}
