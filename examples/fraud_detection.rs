//! The article's stream processor: `cargo run --example fraud_detection -- --input
//! examples/data/transactions.csv --mode stream --max-delay 30s`.

fn main() -> std::process::ExitCode {
    dataflow_core::cli::main::<dataflow_examples::FraudDetection, _>()
}
