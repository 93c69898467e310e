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
use crate::runtime::{Change, Output, Runner, Running};
use crate::time::WindowOverrides;

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
    pub fn consolidated(&self) -> Vec<(P::Output, isize)> {
        self.running.consolidated()
    }

    /// Ends the input (completing every window) and returns the final output.
    pub fn finish(self) -> Result<Output<P::Output>, Error> {
        self.running.finish()
    }
}

/// Feeds `records` to `runner`'s pipeline as a stream, in consecutive steps of `sizes` records (what
/// is left after the sizes runs out goes in one last step), and checks the library's central promise on
/// the way: the changes of every step, plus those the end of input completes, add up to the run's
/// consolidated output. Returns the finished run's output; compare its `records` with a batch run or an
/// oracle.
///
/// ```
/// use dataflow_core::prelude::*;
/// use dataflow_core::testing::stream_in_steps;
///
/// #[pipeline]
/// fn lengths(words: Stream<String>) -> Stream<(usize, u64)> {
///     words.key(|w| w.len()).count()
/// }
///
/// let words: Vec<String> = ["a", "bb", "cc", "d"].iter().map(|w| w.to_string()).collect();
/// let streamed = stream_in_steps(&Runner::<Lengths>::new(), &words, [1, 2])?;
/// let batch = Runner::<Lengths>::new().batch(words)?;
/// assert_eq!(streamed.records, batch.records);
/// # Ok::<(), dataflow_core::Error>(())
/// ```
pub fn stream_in_steps<P, I>(
    runner: &Runner<P>,
    records: &[I],
    sizes: impl IntoIterator<Item = usize>,
) -> Result<Output<P::Output>, Error>
where
    P: Pipeline<Inputs = (I,)>,
    I: crate::record::Record,
{
    let mut running = runner.start()?;
    let mut changes = Vec::new();
    let mut rest = records;
    for size in sizes {
        if rest.is_empty() {
            break;
        }
        let (step, tail) = rest.split_at(size.clamp(1, rest.len()));
        rest = tail;
        changes.extend(running.push(step.to_vec())?);
    }
    if !rest.is_empty() {
        changes.extend(running.push(rest.to_vec())?);
    }
    let output = running.finish()?;
    changes.extend(output.closing_changes.iter().cloned());
    let mut accumulated: Vec<(P::Output, isize)> =
        changes.into_iter().map(|c| (c.record, c.diff)).collect();
    crate::record::consolidate(&mut accumulated);
    if accumulated != output.records {
        return Err(Error::Source(format!(
            "the stream's changes add up to {} records, but its consolidated output has {}",
            accumulated.len(),
            output.records.len()
        )));
    }
    Ok(output)
}
