//! Daily revenue per product from large sales only, with the threshold given at run time:
//! `cargo run --example large_sales -- --input examples/data/sales.csv --param min_revenue=10`.

fn main() -> std::process::ExitCode {
    dataflow_core::cli::main::<dataflow_examples::LargeSales, _>()
}
