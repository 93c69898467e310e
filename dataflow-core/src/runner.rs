//! Runners: one pipeline, fed as a batch, as a stream of steps, or from a replayed log.
//!
//! A [`Runner`] starts the pipeline's timely workers (threads of this process, and optionally processes
//! on other hosts: timely's own cluster mode) and returns a [`Running`] handle. Every call to
//! [`Running::push`] is one *step*: its records enter at the next logical time, the workers run until
//! the pipeline's output for that time is complete, and the step's output changes come back consolidated.
//! A batch run is a single step.
//!
//! ```text
//!  push(step 0) ─▶ time 0 ─▶ changes at 0  ┐
//!  push(step 1) ─▶ time 1 ─▶ changes at 1  ├─ accumulate ─▶ view() == batch output of all steps
//!  push(step 2) ─▶ time 2 ─▶ changes at 2  ┘
//! ```
//!
//! Users never call timely's `advance_to` or `step`: the runner does.
//!
//! # Examples
//!
//! ```
//! use dataflow_core::prelude::*;
//!
//! #[pipeline]
//! fn lengths(words: Stream<String>) -> Stream<(usize, u64)> {
//!     words.key(|w| w.len()).count()
//! }
//!
//! let batch = Runner::<Lengths>::new().batch(vec!["a".to_string(), "bb".into(), "cc".into()])?;
//! assert_eq!(batch.records, vec![((1, 1), 1), ((2, 2), 1)]);
//!
//! let mut stream = Runner::<Lengths>::new().workers(2).start()?;
//! let first = stream.push(vec!["a".to_string()])?;
//! assert_eq!(first, vec![Change { record: (1, 1), time: 0, diff: 1 }]);
//! stream.push(vec!["b".to_string()])?;
//! let streamed = stream.finish()?;
//! assert_eq!(streamed.records, vec![((1, 2), 1)]);
//! # Ok::<(), dataflow_core::Error>(())
//! ```

use crate::context::{Context, LateRecord, catch_user};
use crate::error::Error;
use crate::pipeline::{Inputs, IntoBatch, Pipeline};
use crate::plan::{Plan, StageKind};
use crate::window::{WindowOverrides, clock};
use serde::Serialize;
use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::sync::{Arc, Mutex};
use std::thread::Thread;
use std::time::{Duration, Instant};
use timely::communication::WorkerGuards;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::ProbeHandle;
use timely::dataflow::channels::pact::Pipeline as PipelinePact;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::{Exchange, Probe};
use timely::{CommunicationConfig, WorkerConfig};

/// Where a pipeline's workers run: threads in this process, and optionally several processes.
///
/// The flags mirror timely's own: `-w` workers per process, `-n` processes, `-p` this process's index,
/// `-h` a host file with one `host:port` per process (default: `localhost:2101`, `2102`, ...).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cluster {
    /// Worker threads in each process.
    pub workers: usize,
    /// Number of processes.
    pub processes: usize,
    /// This process's index, `0..processes`.
    pub process: usize,
    /// One `host:port` per process; empty means localhost ports from 2101.
    pub addresses: Vec<String>,
}

impl Default for Cluster {
    fn default() -> Self {
        Cluster {
            workers: 1,
            processes: 1,
            process: 0,
            addresses: Vec::new(),
        }
    }
}

impl Cluster {
    fn timely_config(&self) -> Result<timely::Config, Error> {
        if self.workers == 0 {
            return Err(Error::Usage(
                "the number of workers must be at least 1".into(),
            ));
        }
        if self.process >= self.processes {
            return Err(Error::Usage(format!(
                "process index {} is out of range for {} processes",
                self.process, self.processes
            )));
        }
        let communication = if self.processes > 1 {
            let addresses = if self.addresses.is_empty() {
                (0..self.processes)
                    .map(|index| format!("localhost:{}", 2101 + index))
                    .collect()
            } else if self.addresses.len() == self.processes {
                self.addresses.clone()
            } else {
                return Err(Error::Usage(format!(
                    "the host file names {} hosts for {} processes",
                    self.addresses.len(),
                    self.processes
                )));
            };
            CommunicationConfig::Cluster {
                threads: self.workers,
                process: self.process,
                addresses,
                report: false,
                zerocopy: false,
            }
        } else if self.workers > 1 {
            CommunicationConfig::Process(self.workers)
        } else {
            CommunicationConfig::Thread
        };
        Ok(timely::Config {
            communication,
            worker: WorkerConfig::default(),
        })
    }
}

/// One change of a pipeline's output: `record` gained (`diff > 0`) or lost (`diff < 0`) `diff` copies
/// at logical `time`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Change<O> {
    /// The output record.
    pub record: O,
    /// The logical time (the step) of the change.
    pub time: u64,
    /// How many copies were added (positive) or removed (negative).
    pub diff: isize,
}

/// What a finished run produced.
#[derive(Clone, Debug, PartialEq)]
pub struct Output<O> {
    /// The consolidated output, sorted: every record with its multiplicity.
    pub records: Vec<(O, isize)>,
    /// Changes that appeared only when the input closed (such as windows completed by the end of input).
    pub closing_changes: Vec<Change<O>>,
    /// Records that arrived too late for their windows and were not taken by [`Running::take_late`].
    pub late: Vec<LateRecord>,
    /// Counts and timings of the run.
    pub summary: Summary,
}

impl<O: Clone> Output<O> {
    /// The output records, each repeated as often as its multiplicity says.
    pub fn expanded(&self) -> Vec<O> {
        let mut out = Vec::new();
        for (record, diff) in &self.records {
            for _ in 0..(*diff).max(0) {
                out.push(record.clone());
            }
        }
        out
    }
}

/// Counts and timings of a run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Records pushed into the pipeline by this process.
    pub input_records: u64,
    /// Steps (logical times) pushed.
    pub steps: u64,
    /// Distinct output records in the final result.
    pub output_records: u64,
    /// Records that arrived too late for their windows (the late side output).
    pub late_records: u64,
    /// Wall-clock time from start to finish.
    pub elapsed: Duration,
}

enum Feed<B> {
    /// Insert `batch` at logical time `at`.
    Insert {
        at: u64,
        batch: B,
    },
    /// Advance the inputs to `until` and run until the output is complete up to it.
    Advance {
        until: u64,
    },
    End,
}

/// Records a worker inserts before it lets the dataflow run: large steps are fed in pieces, so that
/// records flow through the graph while the rest are inserted instead of piling up in memory.
const INSERT_PIECE: usize = 1 << 16;

enum Event<O> {
    Changes(Vec<(O, u64, isize)>),
    Done(u64),
    Finished,
}

/// Starts pipelines of type `P`. See the [module docs](self).
pub struct Runner<P> {
    cluster: Cluster,
    max_delay: u64,
    manual_watermark: bool,
    keep_view: bool,
    windows: WindowOverrides,
    _pipeline: PhantomData<fn() -> P>,
}

impl<P: Pipeline> Default for Runner<P> {
    fn default() -> Self {
        Self::new()
    }
}

impl<P: Pipeline> Runner<P> {
    /// A runner with one worker in this process.
    pub fn new() -> Self {
        Runner {
            cluster: Cluster::default(),
            max_delay: 0,
            manual_watermark: false,
            keep_view: true,
            windows: WindowOverrides::default(),
            _pipeline: PhantomData,
        }
    }

    /// Whether the handle keeps the consolidated output ([`Running::view`], [`Output::records`]).
    /// An endless stream whose consumer takes each step's changes should not keep it, so that memory
    /// stays bounded; the default keeps it.
    pub fn keep_view(mut self, keep: bool) -> Self {
        self.keep_view = keep;
        self
    }

    /// For event-time pipelines: the bounded out-of-orderness. The watermark follows the greatest
    /// event time seen minus `max_delay`; records up to that far behind it are still in time.
    pub fn max_delay(mut self, max_delay: Duration) -> Self {
        self.max_delay = u64::try_from(max_delay.as_millis()).unwrap_or(u64::MAX);
        self
    }

    /// For event-time pipelines: the watermark moves only by [`Running::advance_watermark`] (and
    /// [`Running::idle`]), never by itself. This is how tests script exactly when windows complete.
    pub fn manual_watermark(mut self) -> Self {
        self.manual_watermark = true;
        self
    }

    /// Overrides every window stage's kind, lateness or emit mode.
    pub fn windows(mut self, windows: WindowOverrides) -> Self {
        self.windows = windows;
        self
    }

    /// Uses `workers` worker threads in this process.
    pub fn workers(mut self, workers: usize) -> Self {
        self.cluster.workers = workers;
        self
    }

    /// Runs as one process of a cluster.
    pub fn cluster(mut self, cluster: Cluster) -> Self {
        self.cluster = cluster;
        self
    }

    /// Runs `input` as one bounded batch and returns the consolidated output.
    pub fn batch(&self, input: impl IntoBatch<P::Inputs>) -> Result<Output<P::Output>, Error> {
        let mut running = self.start()?;
        running.push(input)?;
        running.finish()
    }

    /// Starts the workers and feeds them from `log`, from offset `from` on, `step` records at a time:
    /// the third way to feed a pipeline, next to [`Runner::batch`] and [`Runner::start`]. See
    /// [`crate::kappa::Replay`].
    pub fn replay<I>(
        &self,
        log: &crate::kappa::EventLog,
        from: u64,
        step: usize,
    ) -> Result<crate::kappa::Replay<P, I>, Error>
    where
        P: Pipeline<Inputs = (I,)>,
        I: crate::Record + crate::kappa::Schema,
    {
        crate::kappa::Replay::start(self, log, from, step)
    }

    /// Starts the workers and returns a handle to push steps of input through.
    pub fn start(&self) -> Result<Running<P>, Error> {
        let config = self.cluster.timely_config()?;
        let local = self.cluster.workers;
        let plan = P::plan();
        let ctx = Context::with_windows(plan, self.windows);

        let mut feeds = Vec::with_capacity(local);
        let mut receivers = Vec::with_capacity(local);
        for _ in 0..local {
            let (sender, receiver) = mpsc::channel::<Feed<<P::Inputs as Inputs>::Numbered>>();
            feeds.push(sender);
            receivers.push(Some(receiver));
        }
        let receivers = Arc::new(Mutex::new(receivers));
        let (event_sender, events) = mpsc::channel::<Event<P::Output>>();
        let (thread_sender, thread_receiver) = mpsc::channel::<(usize, Thread)>();
        let event_sender = Mutex::new(event_sender);
        let thread_sender = Mutex::new(thread_sender);
        let worker_ctx = ctx.clone();

        let guards = timely::execute(config, move |worker| {
            let local_index = worker.index() % local;
            let leader = local_index == 0;
            let feed = receivers
                .lock()
                .ok()
                .and_then(|mut slots| slots.get_mut(local_index).and_then(Option::take));
            let events = event_sender.lock().map(|s| s.clone()).ok();
            if let Ok(sender) = thread_sender.lock() {
                let _ = sender.send((local_index, std::thread::current()));
            }
            let (Some(feed), Some(events)) = (feed, events) else {
                return;
            };
            run_worker::<P>(worker, &worker_ctx, feed, events, leader);
        })
        .map_err(Error::Timely)?;

        let mut threads: Vec<Option<Thread>> = vec![None; local];
        for _ in 0..local {
            match thread_receiver.recv_timeout(Duration::from_secs(60)) {
                Ok((index, thread)) => threads[index] = Some(thread),
                Err(_) => return Err(Error::Timely("workers did not start".into())),
            }
        }
        Ok(Running {
            ctx,
            cluster: self.cluster.clone(),
            feeds,
            threads: threads.into_iter().flatten().collect(),
            events,
            guards: Some(guards),
            time: 0,
            watermark: 0,
            max_seen: None,
            max_delay: self.max_delay,
            manual_watermark: self.manual_watermark,
            keep_view: self.keep_view,
            positions: vec![0; <P::Inputs as Inputs>::COUNT],
            view: BTreeMap::new(),
            summary: Summary::default(),
            started: Instant::now(),
        })
    }
}

/// The id of the pipeline's first `event_time` stage, to report its panics.
fn event_time_stage(plan: &Plan) -> usize {
    plan.nodes
        .iter()
        .find(|node| node.kind == StageKind::EventTime)
        .map_or(0, |node| node.id)
}

/// The loop each worker runs: take steps from its feed, run them to completion, report to the runner.
fn run_worker<P: Pipeline>(
    worker: &mut timely::worker::Worker,
    ctx: &Context,
    feed: Receiver<Feed<<P::Inputs as Inputs>::Numbered>>,
    events: Sender<Event<P::Output>>,
    leader: bool,
) {
    let probe = ProbeHandle::<u64>::new();
    let capture = events.clone();
    let mut handles = worker.dataflow::<u64, _, _>(|scope| {
        let (handles, collections) = <P::Inputs as Inputs>::create(scope);
        P::build(ctx, collections)
            .inner
            .exchange(|_| 0)
            .unary::<CapacityContainerBuilder<Vec<()>>, _, _, _>(
                PipelinePact,
                "Capture",
                move |_capability, _info| {
                    move |input, _output| {
                        input.for_each(|_capability, data| {
                            if !data.is_empty() {
                                let _ = capture.send(Event::Changes(std::mem::take(data)));
                            }
                        });
                    }
                },
            )
            .probe_with(&probe);
        handles
    });
    loop {
        match feed.try_recv() {
            Ok(Feed::Insert { at, batch }) => {
                <P::Inputs as Inputs>::advance_to(&mut handles, at);
                <P::Inputs as Inputs>::insert(&mut handles, batch);
                <P::Inputs as Inputs>::flush(&mut handles);
                worker.step();
            }
            Ok(Feed::Advance { until }) => {
                <P::Inputs as Inputs>::advance_to(&mut handles, until);
                <P::Inputs as Inputs>::flush(&mut handles);
                while probe.less_than(&until) {
                    worker.step_or_park(None);
                }
                if leader {
                    let _ = events.send(Event::Done(until));
                }
            }
            Ok(Feed::End) | Err(TryRecvError::Disconnected) => break,
            Err(TryRecvError::Empty) => {
                worker.step_or_park(None);
            }
        }
    }
    drop(handles);
    while worker.step_or_park(None) {}
    if leader {
        let _ = events.send(Event::Finished);
    }
}

/// A running pipeline: push steps of input, read each step's output changes and the current view.
pub struct Running<P: Pipeline> {
    ctx: Context,
    cluster: Cluster,
    feeds: Vec<Sender<Feed<<P::Inputs as Inputs>::Numbered>>>,
    threads: Vec<Thread>,
    events: Receiver<Event<P::Output>>,
    guards: Option<WorkerGuards<()>>,
    /// The inputs' current logical time.
    time: u64,
    /// Event-time pipelines: the watermark, ms.
    watermark: u64,
    max_seen: Option<u64>,
    max_delay: u64,
    manual_watermark: bool,
    keep_view: bool,
    /// The next input position of each input.
    positions: Vec<u64>,
    view: BTreeMap<P::Output, isize>,
    summary: Summary,
    started: Instant,
}

impl<P: Pipeline> Running<P> {
    /// Pushes one step of input and waits until its output is complete. Returns the step's output
    /// changes, consolidated and sorted.
    ///
    /// For an event-time pipeline the step also moves the watermark to the greatest event time seen
    /// minus the maximum delay, which completes the windows it passes.
    ///
    /// In a cluster every process pushes the same input; each keeps its own share. Output changes are
    /// collected by process 0; the other processes get empty lists.
    pub fn push(
        &mut self,
        input: impl IntoBatch<P::Inputs>,
    ) -> Result<Vec<Change<P::Output>>, Error> {
        let batch = input.into_batch();
        let target = if P::EVENT_TIME {
            match catch_user(|| P::max_event_time(&batch)) {
                Ok(Some(max)) => {
                    self.max_seen = Some(self.max_seen.map_or(max, |seen| seen.max(max)))
                }
                Ok(None) => {}
                Err(payload) => self.ctx.report_panic(event_time_stage(P::plan()), payload),
            }
            match (self.manual_watermark, self.max_seen) {
                (false, Some(seen)) => self.watermark.max(seen.saturating_sub(self.max_delay)),
                _ => self.watermark,
            }
        } else {
            0
        };
        self.summary.input_records += <P::Inputs as Inputs>::len(&batch) as u64;
        self.step(batch, target)
    }

    /// Event-time pipelines: moves the watermark to `watermark` (ms) without new records, completing
    /// every window whose end plus lateness it passes. A watermark never moves back.
    pub fn advance_watermark(&mut self, watermark: u64) -> Result<Vec<Change<P::Output>>, Error> {
        let target = self.watermark.max(watermark);
        self.step(<P::Inputs as Inputs>::empty(), target)
    }

    /// Event-time pipelines: the source has been idle, so no more out-of-order records are expected;
    /// the watermark moves up to the greatest event time seen (dropping the maximum delay). Sources call
    /// this after an idle timeout so that an idle source does not hold windows open forever.
    pub fn idle(&mut self) -> Result<Vec<Change<P::Output>>, Error> {
        match self.max_seen {
            Some(seen) => self.advance_watermark(seen),
            None => Ok(Vec::new()),
        }
    }

    /// The current watermark, ms (event-time pipelines).
    pub fn watermark(&self) -> u64 {
        self.watermark
    }

    /// Takes the records that arrived too late for their windows since the last call.
    pub fn take_late(&self) -> Vec<LateRecord> {
        self.ctx.take_late()
    }

    fn step(
        &mut self,
        batch: <P::Inputs as Inputs>::Batch,
        watermark: u64,
    ) -> Result<Vec<Change<P::Output>>, Error> {
        let at = self.time;
        let until = if P::EVENT_TIME && clock::at(watermark) > at {
            self.watermark = watermark;
            clock::at(watermark)
        } else {
            at + 1
        };
        self.time = until;
        let numbered = <P::Inputs as Inputs>::number(batch, &mut self.positions);
        let numbered =
            <P::Inputs as Inputs>::share(numbered, self.cluster.process, self.cluster.processes);
        self.summary.steps += 1;
        let parts = <P::Inputs as Inputs>::split(numbered, self.feeds.len());
        let stopped = |_| Error::Timely("a worker stopped early".into());
        for ((feed, thread), part) in self.feeds.iter().zip(&self.threads).zip(parts) {
            let pieces = <P::Inputs as Inputs>::numbered_len(&part).div_ceil(INSERT_PIECE);
            for piece in <P::Inputs as Inputs>::split(part, pieces.max(1)) {
                feed.send(Feed::Insert { at, batch: piece })
                    .map_err(stopped)?;
            }
            feed.send(Feed::Advance { until }).map_err(stopped)?;
            thread.unpark();
        }
        let mut changes = Vec::new();
        loop {
            match self.next_event()? {
                Event::Changes(batch) => changes.extend(batch),
                Event::Done(done) if done == until => break,
                Event::Done(_) => {}
                Event::Finished => return Err(Error::Timely("the workers finished early".into())),
            }
        }
        Ok(self.absorb(changes))
    }

    /// The consolidated output so far: every record with its multiplicity, sorted.
    pub fn view(&self) -> Vec<(P::Output, isize)> {
        self.view.iter().map(|(r, d)| (r.clone(), *d)).collect()
    }

    /// The context the pipeline's operators report to.
    pub fn context(&self) -> &Context {
        &self.ctx
    }

    /// Closes the input, waits for the workers to finish and returns the consolidated output.
    ///
    /// Fails if a stage's user code panicked, naming the stage.
    pub fn finish(mut self) -> Result<Output<P::Output>, Error> {
        self.close_feeds();
        let mut closing = Vec::new();
        loop {
            match self.next_event() {
                Ok(Event::Changes(batch)) => closing.extend(batch),
                Ok(Event::Done(_)) => {}
                Ok(Event::Finished) | Err(_) => break,
            }
        }
        let closing_changes = self.absorb(closing);
        if let Some(guards) = self.guards.take() {
            for result in guards.join() {
                result.map_err(Error::WorkerPanicked)?;
            }
        }
        if self.ctx.failure_count() > 0 {
            return Err(Error::StageFailed {
                count: self.ctx.failure_count(),
                failures: self.ctx.failures(),
            });
        }
        let records: Vec<(P::Output, isize)> = std::mem::take(&mut self.view).into_iter().collect();
        self.summary.output_records = records.len() as u64;
        self.summary.elapsed = self.started.elapsed();
        self.summary.late_records = self.ctx.late_count();
        Ok(Output {
            records,
            closing_changes,
            late: self.ctx.take_late(),
            summary: self.summary.clone(),
        })
    }

    fn next_event(&self) -> Result<Event<P::Output>, Error> {
        loop {
            match self.events.recv_timeout(Duration::from_millis(200)) {
                Ok(event) => return Ok(event),
                Err(RecvTimeoutError::Timeout) => {
                    if self.guards.as_ref().is_none() {
                        return Err(Error::Timely("the workers are gone".into()));
                    }
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(Error::Timely("the workers stopped".into()));
                }
            }
        }
    }

    fn absorb(&mut self, changes: Vec<(P::Output, u64, isize)>) -> Vec<Change<P::Output>> {
        let mut changes: Vec<Change<P::Output>> = changes
            .into_iter()
            .map(|(record, time, diff)| Change { record, time, diff })
            .collect();
        changes.sort_by(|a, b| (&a.time, &a.record).cmp(&(&b.time, &b.record)));
        let mut out: Vec<Change<P::Output>> = Vec::with_capacity(changes.len());
        for change in changes {
            match out.last_mut() {
                Some(last) if last.time == change.time && last.record == change.record => {
                    last.diff += change.diff
                }
                _ => out.push(change),
            }
        }
        out.retain(|c| c.diff != 0);
        if !self.keep_view {
            return out;
        }
        for change in &out {
            let entry = self.view.entry(change.record.clone()).or_insert(0);
            *entry += change.diff;
            if *entry == 0 {
                self.view.remove(&change.record);
            }
        }
        out
    }

    fn close_feeds(&mut self) {
        for (feed, thread) in self.feeds.iter().zip(&self.threads) {
            let _ = feed.send(Feed::End);
            thread.unpark();
        }
    }
}

impl<P: Pipeline> Drop for Running<P> {
    fn drop(&mut self) {
        if let Some(guards) = self.guards.take() {
            self.close_feeds();
            drop(guards);
        }
    }
}
