//! What the benchmarks share: the input generator, the generated sales and whole-process timing.

pub mod rng;
pub mod sales;
pub mod timed;
