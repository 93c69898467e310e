//! The article's batch job, runnable in batch, stream and replay mode:
//! `cargo run --release --example daily_sales -- --input examples/data/sales.csv`.

fn main() -> std::process::ExitCode {
    dataflow_core::cli::main::<dataflow_examples::DailySales, _>()
}
