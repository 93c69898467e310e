//! What the benchmarks share: the input generator, the generated sales, whole-process timing and
//! how they exit.

pub mod exit;

pub mod rng;
pub mod sales;
pub mod timed;
