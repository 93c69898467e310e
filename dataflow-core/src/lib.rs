//! Declare a data pipeline once, run it as a batch job, as an incremental stream, or over a replayed
//! event log, and get the same answer.
//!
//! A pipeline is an ordinary Rust function marked `#[pipeline]`. Its parameters are its inputs, its
//! return type its output, and its body a chain of stages written in plain Rust:
//!
//! ```
//! use dataflow_core::prelude::*;
//!
//! #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
//! pub struct Sale { product: String, quantity: u64, cents: u64 }
//!
//! /// Revenue and number of sales per product.
//! #[pipeline]
//! pub fn revenue(sales: Stream<Sale>) -> Stream<(String, (u64, u64))> {
//!     sales
//!         .filter(|s| s.quantity > 0)
//!         .key(|s| s.product.clone())
//!         .aggregate(|a| (a.sum(|s| s.quantity * s.cents), a.count()))
//! }
//!
//! let sales = vec![
//!     Sale { product: "tea".into(), quantity: 2, cents: 150 },
//!     Sale { product: "tea".into(), quantity: 1, cents: 150 },
//!     Sale { product: "jam".into(), quantity: 0, cents: 400 },
//! ];
//! let output = Runner::<Revenue>::new().batch(sales)?;
//! assert_eq!(output.records, vec![(("tea".to_string(), (450, 2)), 1)]);
//! # Ok::<(), dataflow_core::Error>(())
//! ```
//!
//! The attribute checks the declaration's shape (unknown stages, an aggregate without a `key`, a closure
//! with the wrong number of parameters, ...) and reports every mistake at once, at the user's span. It
//! generates a type (here `Revenue`) implementing [`Pipeline`]: its [`Plan`](plan::Plan), the plan's
//! fingerprint as the pipeline's version, and the code that builds a timely/differential-dataflow graph
//! with the stage closures inlined.
//!
//! # Stages
//!
//! | stage | input | output | runs as |
//! |---|---|---|---|
//! | `map(\|r\| ..)`, `filter`, `filter_map`, `flat_map` | `T` | `U` | one fused operator |
//! | `key(\|r\| ..)` | `T` | `(K, T)` | fused |
//! | `key_by(\|r\| (k, v))` | `T` | `(K, V)` | fused, consuming the record |
//! | `count()`, `sum(\|r\| ..)`, `min`, `max`, `mean` | `(K, V)` | `(K, A)` | hash aggregate, exchanged by key |
//! | `aggregate(\|a\| (a.sum(..), a.count(), ..))` | `(K, V)` | `(K, (A, B, ..))` | hash aggregate |
//! | `reduce(\|key, rows\| ..)` | `(K, V)` | `O` | differential arrangement + reduce |
//! | `join(other)` | `(K, V)`, `(K, W)` | `(K, (V, W))` | differential arrangements + join |
//! | `distinct()` | `T` | `T` | hash aggregate |
//! | `union(other)` | `T`, `T` | `T` | concatenation |
//! | `event_time(\|r\| r.ts)` | `T` | event-time `T` | fused; directly on an input ([`flow::timed`]) |
//! | `window(spec)` + an aggregate | event-time `(K, V)` | `((K, TimeWindow), A)` | window aggregate ([`time`]) |
//! | `scan(init, \|state, r, emit\| ..)` | event-time `(K, V)` | `O` | ordered per-key state ([`flow::timed`]) |
//!
//! # Records
//!
//! A record is any type that is `Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash` and serializable
//! ([`Record`]). Mark a struct or enum `#[record]` (in the [`prelude`]) and it gets the serde derives,
//! without a `serde` dependency of your own, and a [`Schema`](kappa::Schema), so that it can be stored
//! in the event log that `ingest` and replay use: version 1, with the type's shape (field names and
//! types as written) in [`Schema::SHAPE`](kappa::Schema::SHAPE). Write it above the type's
//! `#[derive(..)]`, which it reads: serde derives already there are kept, and only the missing ones
//! are added.
//!
//! ```
//! use dataflow_core::prelude::*;
//! use dataflow_core::kappa::Schema;
//!
//! #[record]
//! #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
//! pub struct PageView { url: String, ts: u64 }
//!
//! assert_eq!(PageView::VERSION, 1);
//! assert_eq!(PageView::SHAPE, Some("struct PageView { url: String, ts: u64 }"));
//! fn is_serde<T: Serialize + for<'de> Deserialize<'de>>() {}
//! is_serde::<PageView>();
//! ```
//!
//! When the layout changes, declare the new version and a function reading the older ones
//! ([`Schema::upgrade`](kappa::Schema::upgrade); [`upgrade_from`](kappa::upgrade_from) makes it one
//! line per version):
//!
//! ```
//! use dataflow_core::prelude::*;
//! use dataflow_core::kappa::{DecodeError, Schema, upgrade_from};
//!
//! /// A page view as version 1 wrote it.
//! #[record]
//! pub struct PageViewV1 { url: String }
//!
//! #[record(version = 2, upgrade = read_page_view)]
//! #[derive(Debug, PartialEq)]
//! pub struct PageView { url: String, ts: u64 }
//!
//! impl From<PageViewV1> for PageView {
//!     fn from(old: PageViewV1) -> Self {
//!         PageView { url: old.url, ts: 0 }
//!     }
//! }
//!
//! fn read_page_view(version: u32, payload: &[u8]) -> Result<PageView, DecodeError> {
//!     match version {
//!         1 => upgrade_from::<PageViewV1, PageView>(payload),
//!         other => Err(DecodeError::unsupported(other, PageView::VERSION)),
//!     }
//! }
//!
//! assert_eq!(PageView::VERSION, 2);
//! assert_ne!(PageView::SHAPE_FINGERPRINT, PageViewV1::SHAPE_FINGERPRINT);
//! ```
//!
//! # Running
//!
//! [`Runner`] feeds a pipeline: [`Runner::batch`] runs a bounded input, [`Runner::start`] returns a
//! [`Running`] handle whose [`Running::push`] feeds one step at a time and returns the step's output
//! changes. Consolidating every change ever returned gives the batch output of all steps together:
//! that is the library's central promise, and property tests check it for every example pipeline.
//!
//! # Where things are
//!
//! [`record`](mod@record) (what a record is), [`pipeline`](mod@pipeline) (the trait the attribute implements), [`flow`] (the
//! typed builder the attribute writes against), [`operators`] (fused stages, hash and window
//! aggregates, the keyed scan, all on one keyed-state driver), [`time`] (watermark clock, windows),
//! [`accumulators`], [`runtime`] (runner, workers, output), [`log`] (the log abstraction), [`kappa`]
//! (replay, checkpoints, served views, deployments), [`io`] (sources, dead letters, JSON Lines) and
//! [`cli`] (the command line, behind the default `cli` feature). `ARCHITECTURE.md` at the top of
//! the repository draws the map.
//!
//! [`cli::main`] gives every pipeline the same command line: `--input`, `--mode batch|stream`,
//! `--workers`, `--explain`, and malformed input lines sent to a dead-letter output with their line
//! numbers.

#![deny(missing_docs)]

pub mod accumulators;
#[cfg(feature = "cli")]
pub mod cli;
pub mod context;
#[cfg(feature = "chrono")]
pub mod date;
#[cfg(feature = "decimal")]
pub mod decimal;
mod error;
pub mod flow;
pub mod io;
pub mod kappa;
pub mod log;
#[doc(hidden)]
pub mod macro_support;
#[cfg(any(feature = "metrics", feature = "cli"))]
pub mod observe;
pub mod operators;
pub mod params;
pub mod pipeline;
pub mod record;
pub mod runtime;
#[cfg(feature = "serve")]
pub mod serve;
pub mod testing;
pub mod time;
mod user_code;

pub use context::{Context, LateRecord};
pub use dataflow_macros::{pipeline, record};
pub use dataflow_plan as plan;
pub use error::{Error, StageFailure};
pub use params::Params;
pub use pipeline::{Inputs, IntoBatch, Pipeline, Share, Stream, Update};
pub use record::{F64, Record, Rows, Stamp};
pub use runtime::{Change, Cluster, Output, Runner, Running, Summary};
pub use time::clock::Time;

/// Everything a pipeline declaration and its runner need, in one import.
pub mod prelude {
    #[cfg(feature = "decimal")]
    pub use crate::decimal::Decimal;
    pub use crate::pipeline::{Pipeline, Stream};
    pub use crate::record::{F64, Record, Rows};
    pub use crate::runtime::{Change, Cluster, Output, Runner, Running};
    pub use crate::time::{Emit, TimeWindow, Window};
    pub use dataflow_macros::{pipeline, record};
    pub use serde::{Deserialize, Serialize};
    pub use std::time::Duration;
}

#[doc(hidden)]
pub use macro_support as __private;
