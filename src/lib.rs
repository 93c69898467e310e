//! Example pipelines: the systems of the batch-versus-stream article, each declared once with
//! `#[pipeline]` and run as a batch job, a stream, or a replay of the event log.
//!
//! Each pipeline here has an executable under `examples/` that runs it with the common command line
//! (`dataflow_core::cli`), and tests under `tests/` that check batch, stream and multi-worker runs agree.

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
