//! The timely operators a plan is built from. Stateless stages are fused into one operator
//! ([`fused`]); the stateful operators keep only their state logic and share one keyed-state driver
//! (`keyed`): the frontier loop, capabilities, updates pending by time, user-panic catching and the
//! retract-old-emit-new step.
//!
//! | operator | stages |
//! |---|---|
//! | [`fused`] | `map`, `filter`, `filter_map`, `flat_map`, `key`, `key_by`, `event_time` |
//! | `hash_aggregate` | `count`, `sum`, `min`, `max`, `mean`, `aggregate`, `distinct` |
//! | `window_aggregate` | an aggregate after `window(..)` |
//! | `keyed_scan` | `scan` |
//!
//! `reduce` and `join` are differential-dataflow's own operators.

pub mod fused;
pub(crate) mod hash_aggregate;
pub(crate) mod keyed;
pub(crate) mod keyed_scan;
pub(crate) mod stamp_buffer;
pub(crate) mod window_aggregate;
