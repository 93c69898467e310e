//! Example pipelines: the systems of the batch-versus-stream article, each declared once with
//! `#[pipeline]` and run as a batch job, a stream, or a replay of the event log.
//!
//! Each pipeline here has an executable under `examples/` that runs it with the common command line
//! (`dataflow_core::cli`), and tests under `tests/` that check batch, stream and multi-worker runs agree.

// Doctests name this crate where they use it; the guide's allocator example must not link it (two
// global allocators).
#![doc(test(no_crate_inject))]

/// Every program linking the examples (the executables under `examples/`, the benchmarks, the tests)
/// allocates with mimalloc. A batch run parses records on one thread while a worker drops them on
/// another, and glibc's allocator serialises those frees: on 2 M rows, one worker,
/// `examples/bench_modes.rs` measured `windowed_sales` in batch mode at 1.45 s wall and 2.11 s CPU
/// with glibc's allocator and 0.86 s and 1.22 s with mimalloc (`daily_sales`: 1.95 s and 1.25 s). A
/// pipeline's own executable does the same with these two lines (see `docs/guide.md`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub mod baseline;
pub mod fraud;
pub mod kappa_reports;
pub mod log_schemas;
pub mod nexmark;
pub mod orders;
pub mod sales;
pub mod windowed;
pub mod words;

pub use fraud::{Alert, FraudDetection, Transaction};
pub use orders::{CountryRevenue, CountryTotal, Customer, Order};
pub use sales::{DailySales, DailyTotal, LargeSales, Sale};
pub use windowed::{TimedSale, WindowTotal, WindowedSales};
pub use words::{Line, WordCount, WordFrequency};

/// The guide (`docs/guide.md`): its Rust blocks run as doctests, so the guide stays true.
#[cfg(doctest)]
#[doc = include_str!("../docs/guide.md")]
pub struct Guide;
