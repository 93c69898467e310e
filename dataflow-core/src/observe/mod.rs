//! Seeing a run: metrics in the Prometheus text format (feature `metrics`), per operator from
//! timely's and differential's logging; the endpoint `--metrics ADDR` serves them on (feature
//! `serve`); the plan as an SVG picture and logs filtered by `RUST_LOG` (feature `cli`).
//!
//! A run is measured by giving its runner a [`Metrics`]:
//!
//! ```
//! use dataflow_core::observe::Metrics;
//! use dataflow_core::prelude::*;
//! use std::sync::Arc;
//!
//! #[pipeline]
//! fn lengths(words: Stream<String>) -> Stream<(usize, u64)> {
//!     words.key(|w| w.len()).count()
//! }
//!
//! let metrics = Arc::new(Metrics::new("lengths", &Lengths::version(), "batch", false));
//! let output = Runner::<Lengths>::new()
//!     .metrics(Arc::clone(&metrics))
//!     .batch(vec!["a".to_string(), "bb".into(), "cc".into()])?;
//! assert_eq!(output.records, vec![((1, 1), 1), ((2, 2), 1)]);
//! // The count's operator received the three keyed words.
//! let text = metrics.encode();
//! let count = text
//!     .lines()
//!     .find(|l| l.starts_with("dataflow_operator_records_in_total{operator=\"lengths/#2 count\""))
//!     .expect("the count operator is measured");
//! assert!(count.ends_with(" 3"), "{count}");
//! # Ok::<(), dataflow_core::Error>(())
//! ```

#[cfg(feature = "serve")]
pub mod exporter;
#[cfg(feature = "cli")]
mod logs;
#[cfg(feature = "metrics")]
mod metrics;
#[cfg(feature = "metrics")]
pub(crate) mod operators;
#[cfg(feature = "cli")]
mod plan_svg;
#[cfg(feature = "metrics")]
mod rate;

#[cfg(feature = "serve")]
pub use exporter::MetricsServer;
#[cfg(feature = "cli")]
pub use logs::init_logging;
#[cfg(feature = "metrics")]
pub use metrics::{EndpointLabels, Metrics, OperatorLabels, Point, RequestLabels, Stats};
#[cfg(feature = "cli")]
pub use plan_svg::{Operator, plan_operators, plan_svg};
