//! Revenue per product per event-time window: `cargo run --example windowed_sales -- --input
//! examples/data/timed_sales.csv --window sliding:1h:15m --max-delay 10m`.

fn main() -> std::process::ExitCode {
    dataflow_core::cli::main::<dataflow_examples::WindowedSales, _>()
}
