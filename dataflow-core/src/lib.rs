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
//! | `event_time(\|r\| r.ts)` | `T` | event-time `T` | fused; directly on an input ([`timed`]) |
//! | `window(spec)` + an aggregate | event-time `(K, V)` | `((K, TimeWindow), A)` | window aggregate ([`window`]) |
//! | `scan(init, \|state, r, emit\| ..)` | event-time `(K, V)` | `O` | ordered per-key state ([`timed`]) |
//!
//! # Running
//!
//! [`Runner`] feeds a pipeline: [`Runner::batch`] runs a bounded input, [`Runner::start`] returns a
//! [`Running`] handle whose [`Running::push`] feeds one step at a time and returns the step's output
//! changes. Consolidating every change ever returned gives the batch output of all steps together:
//! that is the library's central promise, and property tests check it for every example pipeline.
//!
//! [`cli::main`] gives every pipeline the same command line: `--input`, `--mode batch|stream`,
//! `--workers`, `--explain`, and malformed input lines sent to a dead-letter output with their line
//! numbers.

#![deny(missing_docs)]

pub mod aggregate;
pub mod cli;
pub mod context;
mod error;
pub mod flow;
pub mod kappa;
pub mod pipeline;
pub mod runner;
pub mod source;
pub mod testing;
pub mod timed;
pub mod window;

pub use context::{Context, LateRecord, StageFailure};
pub use dataflow_macros::pipeline;
pub use dataflow_plan as plan;
pub use error::Error;
pub use pipeline::{Inputs, IntoBatch, Pipeline, Share, Update};
pub use runner::{Change, Cluster, Output, Runner, Running, Summary};

use serde::{Deserialize, Serialize};
use std::marker::PhantomData;

/// The hash map of keyed operator state: foldhash, a fast hasher with good quality for keys that are
/// not chosen by an adversary (the same family differential-dataflow uses to exchange records).
pub(crate) type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// What the records of a pipeline must be: cloneable, ordered, hashable, printable, serializable (so
/// that they can cross process boundaries) and `'static`. Derive
/// `Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize` on a struct to get it.
pub trait Record: differential_dataflow::ExchangeData + std::hash::Hash {}
impl<T: differential_dataflow::ExchangeData + std::hash::Hash> Record for T {}

/// The type of a pipeline's inputs and output in a `#[pipeline]` declaration: `Stream<Sale>` is a
/// stream (bounded or not) of `Sale` records. It only appears in declarations.
pub struct Stream<T>(PhantomData<T>);

/// An `f64` that can be part of a record: ordered by [`f64::total_cmp`], hashed by its bits, and
/// serialized as a plain number. `mean` returns it.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct F64(pub f64);

impl PartialEq for F64 {
    fn eq(&self, other: &Self) -> bool {
        self.0.total_cmp(&other.0).is_eq()
    }
}
impl Eq for F64 {}
impl PartialOrd for F64 {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for F64 {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}
impl std::hash::Hash for F64 {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.to_bits().hash(state)
    }
}

/// Where a record stands in event time: its event time (ms, from the data) and its position in the
/// input, which orders records with equal times.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Stamp {
    /// Event time, milliseconds since the Unix epoch.
    pub time: u64,
    /// Position in the input.
    pub seq: u64,
}

/// The records of one key, as a `reduce` stage sees them: each value with its multiplicity.
#[derive(Clone, Copy, Debug)]
pub struct Rows<'a, V> {
    rows: &'a [(&'a V, isize)],
}

impl<'a, V> Rows<'a, V> {
    pub(crate) fn new(rows: &'a [(&'a V, isize)]) -> Self {
        Rows { rows }
    }

    /// Every record, repeated as often as it occurs, in ascending order.
    pub fn iter(&self) -> impl Iterator<Item = &'a V> + 'a {
        self.rows
            .iter()
            .flat_map(|(value, count)| std::iter::repeat_n(*value, (*count).max(0) as usize))
    }

    /// Each distinct record with the number of times it occurs, in ascending order.
    pub fn counts(&self) -> impl Iterator<Item = (&'a V, isize)> + 'a {
        self.rows.iter().map(|(value, count)| (*value, *count))
    }

    /// The number of records, counting repeats.
    pub fn len(&self) -> usize {
        self.rows
            .iter()
            .map(|(_, count)| (*count).max(0) as usize)
            .sum()
    }

    /// Whether there are no records.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<'a, V> IntoIterator for Rows<'a, V> {
    type Item = &'a V;
    type IntoIter = Box<dyn Iterator<Item = &'a V> + 'a>;
    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
    }
}

/// Everything a pipeline declaration and its runner need, in one import.
pub mod prelude {
    pub use crate::runner::{Change, Cluster, Output, Runner, Running};
    pub use crate::window::{Emit, TimeWindow, Window};
    pub use crate::{F64, Pipeline, Record, Rows, Stream, pipeline};
    pub use serde::{Deserialize, Serialize};
    pub use std::time::Duration;
}

/// Items the code generated by `#[pipeline]` refers to. Not part of the public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::flow::Flow;
    pub use differential_dataflow::VecCollection;
    pub use serde_json;
    pub use std::sync::OnceLock;

    /// Pins the record type of an event-time closure so that it needs no annotation.
    pub fn event_time_of<T, F: FnMut(&T) -> u64>(f: F) -> F {
        f
    }

    /// Parses the plan the macro embedded as JSON.
    pub fn parse_plan(json: &str) -> crate::plan::Plan {
        match serde_json::from_str(json) {
            Ok(plan) => plan,
            Err(error) => {
                panic!("the embedded plan is not valid JSON ({error}): rebuild the crate")
            }
        }
    }
}
