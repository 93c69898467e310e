//! A two-input pipeline on the common command line, one `--input NAME=PATH` per input:
//! `cargo run --release --example country_revenue -- --input orders=examples/data/orders.csv
//! --input customers=examples/data/customers.csv`.

fn main() -> std::process::ExitCode {
    dataflow_core::cli::main::<dataflow_examples::CountryRevenue, _>()
}
