//! A test harness in the style of Beam's `TestStream`: push records, move the watermark, and assert
//! the output changes and the late side output after every step, with no sleeping and no wall clock.
//!
//! # Examples
//!
//! ```
//! use dataflow_core::prelude::*;
//! use dataflow_core::testing::TestStream;
//!
//! #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
//! pub struct Click { user: u32, ts: u64 }
//!
//! #[pipeline]
//! fn clicks_per_10ms(clicks: Stream<Click>) -> Stream<((u32, TimeWindow), u64)> {
//!     clicks
//!         .event_time(|c| c.ts)
//!         .key(|c| c.user)
//!         .window(Window::tumbling(Duration::from_millis(10)))
//!         .count()
//! }
//!
//! let mut test = TestStream::<ClicksPer10ms>::new()?;
//! assert!(test.add(vec![Click { user: 1, ts: 3 }, Click { user: 1, ts: 12 }])?.is_empty());
//! let closed = test.advance_watermark_to(10)?;          // [0, 10) is complete
//! assert_eq!(closed[0].record, ((1, TimeWindow { start: 0, end: 10 }), 1));
//! assert!(test.add(vec![Click { user: 1, ts: 4 }])?.is_empty());   // too late for [0, 10)
//! assert_eq!(test.late()[0].event_time, 4);
//! # Ok::<(), dataflow_core::Error>(())
//! ```

use crate::context::LateRecord;
use crate::error::Error;
use crate::pipeline::{IntoBatch, Pipeline};
use crate::runner::{Change, Output, Runner, Running};
use crate::window::WindowOverrides;

/// Drives an event-time pipeline step by step with a scripted watermark.
pub struct TestStream<P: Pipeline> {
    running: Running<P>,
}

impl<P: Pipeline> TestStream<P> {
    /// A test stream on one worker; the watermark starts at 0 and moves only when told to.
    pub fn new() -> Result<Self, Error> {
        Self::with(Runner::new())
    }

    /// A test stream on `workers` workers with window `overrides` (for example a lateness).
    pub fn with_workers(workers: usize, overrides: WindowOverrides) -> Result<Self, Error> {
        Self::with(Runner::new().workers(workers).windows(overrides))
    }

    fn with(runner: Runner<P>) -> Result<Self, Error> {
        Ok(TestStream {
            running: runner.manual_watermark().start()?,
        })
    }

    /// Adds records at the current watermark and returns the output changes they cause.
    pub fn add(
        &mut self,
        records: impl IntoBatch<P::Inputs>,
    ) -> Result<Vec<Change<P::Output>>, Error> {
        self.running.push(records)
    }

    /// Moves the watermark to `watermark` (ms) and returns the changes that completes.
    pub fn advance_watermark_to(
        &mut self,
        watermark: u64,
    ) -> Result<Vec<Change<P::Output>>, Error> {
        self.running.advance_watermark(watermark)
    }

    /// The records that arrived too late since the last call.
    pub fn late(&mut self) -> Vec<LateRecord> {
        self.running.take_late()
    }

    /// The consolidated output so far.
    pub fn view(&self) -> Vec<(P::Output, isize)> {
        self.running.view()
    }

    /// Ends the input (completing every window) and returns the final output.
    pub fn finish(self) -> Result<Output<P::Output>, Error> {
        self.running.finish()
    }
}
