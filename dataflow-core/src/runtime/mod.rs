//! The runtime: [`Runner`] starts a pipeline's timely workers ([`Cluster`]) and feeds them; each
//! worker runs the loop in `worker`; what comes out is in [`output`].

mod cluster;
pub mod heartbeat;
pub mod output;
mod runner;
mod worker;

pub use cluster::Cluster;
pub use output::{Change, Output, Summary};
pub use runner::{Runner, Running};
