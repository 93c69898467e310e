//! The Nexmark benchmark: an online auction's events, a generator following the specification, the
//! standard queries 0–8 and 12 declared with `#[pipeline]`, and single-threaded reference
//! implementations of the same queries (the COST baseline).
//!
//! ```
//! use dataflow_core::Runner;
//! use dataflow_examples::nexmark::{GeneratorConfig, Q2, cost, generate};
//!
//! let events = generate(&GeneratorConfig { events: 10_000, ..GeneratorConfig::default() });
//! let mut output = Runner::<Q2>::new().batch(events.clone())?;
//! // A stateless plan's batch output comes in no particular order: sort it to compare.
//! output.sort();
//! assert_eq!(output.records, cost::q2(&events));
//! # Ok::<(), dataflow_core::Error>(())
//! ```

pub mod cost;
pub mod generator;
pub mod handwritten;
pub mod model;
pub mod queries;

pub use generator::{GeneratorConfig, event, generate};
pub use model::{
    Auction, Bid, BidderCount, Event, HighestBid, HotItem, NewSeller, Person, SellerAuction,
};
pub use queries::{Q0, Q1, Q2, Q3, Q4, Q5, Q6, Q7, Q8, Q12};
