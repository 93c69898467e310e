//! Runners: [`Runner`] starts a pipeline and [`Running`] feeds it step by step.

use crate::context::{Context, LateRecord};
use crate::error::Error;
use crate::params::Params;
use crate::pipeline::{Inputs, IntoBatch, Pipeline, Share};
use crate::runtime::cluster::Cluster;
use crate::runtime::output::{Change, Consolidated, Output, Summary, consolidate_changes};
use crate::runtime::worker::{CHUNK, Event, Feed, Place, Side, late_records, run_worker};
use crate::time::clock::Time;
use crate::time::{WindowOverrides, clock};
use crate::user_code::catch_user;
use dataflow_plan::{Plan, StageKind};
use std::cell::RefCell;
use std::marker::PhantomData;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::Thread;
use std::time::{Duration, Instant};
use timely::communication::WorkerGuards;

/// Chunks (of [`CHUNK`] records) a worker's feed holds before the runner waits for it: enough to keep
/// it busy, few enough that a batch read in parts never holds more than this many records per worker
/// in flight.
const FEED_CHUNKS: usize = 32;

/// With disjoint inputs in a cluster, process `p` numbers its input records from `p` shifted by
/// this many bits: room for 2^48 records per process.
const PROCESS_POSITION_BITS: u32 = 48;

/// Runners: one pipeline, fed as a batch, as a stream of steps, or from a replayed log.
///
/// A [`Runner`] starts the pipeline's timely workers (threads of this process, and optionally processes
/// on other hosts: timely's own cluster mode) and returns a [`Running`] handle. Every call to
/// [`Running::push`] is one *step*: its records enter at the next logical time, the workers run until
/// the pipeline's output for that time is complete, and the step's output changes come back consolidated.
/// A batch run is a single step.
///
/// ```text
///  push(step 0) ─▶ time 0 ─▶ changes at 0  ┐
///  push(step 1) ─▶ time 1 ─▶ changes at 1  ├─ accumulate ─▶ consolidated() == batch output of all steps
///  push(step 2) ─▶ time 2 ─▶ changes at 2  ┘
/// ```
///
/// Users never call timely's `advance_to` or `step`: the runner does.
///
/// # Examples
///
/// ```
/// use dataflow_core::prelude::*;
///
/// #[pipeline]
/// fn lengths(words: Stream<String>) -> Stream<(usize, u64)> {
///     words.key(|w| w.len()).count()
/// }
///
/// let batch = Runner::<Lengths>::new().batch(vec!["a".to_string(), "bb".into(), "cc".into()])?;
/// assert_eq!(batch.records, vec![((1, 1), 1), ((2, 2), 1)]);
///
/// let mut stream = Runner::<Lengths>::new().workers(2).start()?;
/// let first = stream.push(vec!["a".to_string()])?;
/// assert_eq!(first, vec![Change { record: (1, 1), time: 0, diff: 1 }]);
/// stream.push(vec!["b".to_string()])?;
/// let streamed = stream.finish()?;
/// assert_eq!(streamed.records, vec![((1, 2), 1)]);
/// # Ok::<(), dataflow_core::Error>(())
/// ```
pub struct Runner<P> {
    cluster: Cluster,
    max_delay: u64,
    manual_watermark: bool,
    keep_output: bool,
    windows: WindowOverrides,
    params: Params,
    /// In a cluster, each process is handed its own input (see [`Runner::disjoint_inputs`]).
    disjoint: bool,
    #[cfg(feature = "metrics")]
    metrics: Option<Arc<crate::observe::Metrics>>,
    _pipeline: PhantomData<fn() -> P>,
}

impl<P> Clone for Runner<P> {
    fn clone(&self) -> Self {
        Runner {
            cluster: self.cluster.clone(),
            max_delay: self.max_delay,
            manual_watermark: self.manual_watermark,
            keep_output: self.keep_output,
            windows: self.windows,
            params: self.params.clone(),
            disjoint: self.disjoint,
            #[cfg(feature = "metrics")]
            metrics: self.metrics.clone(),
            _pipeline: PhantomData,
        }
    }
}

impl<P: Pipeline> Default for Runner<P> {
    fn default() -> Self {
        Self::new()
    }
}

impl<P: Pipeline> Runner<P> {
    /// Event-time pipelines: the bounded out-of-orderness, ms (see [`Runner::max_delay`]).
    pub fn max_delay_ms(&self) -> u64 {
        self.max_delay
    }

    /// A runner with one worker in this process.
    pub fn new() -> Self {
        Runner {
            cluster: Cluster::default(),
            max_delay: 0,
            manual_watermark: false,
            keep_output: true,
            windows: WindowOverrides::default(),
            params: Params::new(),
            disjoint: false,
            #[cfg(feature = "metrics")]
            metrics: None,
            _pipeline: PhantomData,
        }
    }

    /// In a cluster: each process is handed its own input, disjoint from the other processes',
    /// and deals all of it to its workers; the keyed stages exchange records between processes. A
    /// replay across processes reads its log this way: each process reads its share of the log's
    /// partitions (the file log's one partition is process 0's, and a process with no partition
    /// starts with [`Runner::start`] and calls [`Running::finish`] at once). Without it (the
    /// default) every process is handed the same input and keeps its own share.
    ///
    /// Each process steps at its own pace, so the pipeline's frontier is the least of theirs: for an
    /// event-time pipeline, the watermark is the least over the processes (each the least over its
    /// partitions). Process 0 collects the output of a step once every process has passed it.
    pub fn disjoint_inputs(mut self, yes: bool) -> Self {
        self.disjoint = yes;
        self
    }

    /// Measures every operator of the runs this runner starts (busy time, records in and out,
    /// arrangement sizes) into `metrics`, from timely's and differential's logging (feature
    /// `metrics`; see [`crate::observe`]).
    #[cfg(feature = "metrics")]
    pub fn metrics(mut self, metrics: Arc<crate::observe::Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Whether the handle keeps the consolidated output ([`Running::consolidated`], [`Output::records`]).
    /// An endless stream whose consumer takes each step's changes should not keep it, so that memory
    /// stays bounded; the default keeps it.
    pub fn keep_output(mut self, keep: bool) -> Self {
        self.keep_output = keep;
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

    /// Gives the runtime parameter `name` the value `value` (parsed from its text, as the command
    /// line's `--param name=value` is). A value is part of the run's version ([`Runner::version`]).
    pub fn param(mut self, name: &str, value: impl std::fmt::Display) -> Self {
        self.params.set(name, value);
        self
    }

    /// Gives the runtime parameters `params` (replacing any given before).
    pub fn params(mut self, params: Params) -> Self {
        self.params = params;
        self
    }

    /// Uses `workers` worker threads in this process.
    pub fn workers(mut self, workers: usize) -> Self {
        self.cluster.workers = workers;
        self
    }

    /// The cluster this runner starts its workers in.
    pub fn cluster_spec(&self) -> &Cluster {
        &self.cluster
    }

    /// Runs as one process of a cluster.
    pub fn cluster(mut self, cluster: Cluster) -> Self {
        self.cluster = cluster;
        self
    }

    /// Runs `input` as one bounded batch and returns the consolidated output.
    pub fn batch(&self, input: impl IntoBatch<P::Inputs>) -> Result<Output<P::Output>, Error> {
        let mut running = self.start()?;
        // Nobody reads the step's changes: they go straight to the consolidated output, consolidated once
        // at the end.
        running.push_step(input.into_batch(), false)?;
        running.finish()
    }

    /// [`Runner::batch`] for a batch of the pipeline's inputs as the runtime holds them (one `Vec` per
    /// input), for code generic over the number of inputs.
    pub fn batch_of(
        &self,
        batch: <P::Inputs as Inputs>::Batch,
    ) -> Result<Output<P::Output>, Error> {
        let mut running = self.start()?;
        running.push_step(batch, false)?;
        running.finish()
    }

    /// The plan this runner runs: the pipeline's, with the window overrides recorded on its window
    /// stages.
    pub fn plan(&self) -> std::borrow::Cow<'static, Plan> {
        let declared = P::plan();
        if self.windows.is_empty() && declared.params.is_empty() {
            return std::borrow::Cow::Borrowed(declared);
        }
        let mut plan = self.windows.apply_to_plan(declared);
        plan = plan.with_param_values(self.params.iter());
        std::borrow::Cow::Owned(plan)
    }

    /// The version of what this runner computes: [`Pipeline::version`], or with window overrides
    /// or parameter values the fingerprint of [`Runner::plan`], since another window or another
    /// value is another computation.
    pub fn version(&self) -> String {
        self.plan().fingerprint()
    }

    /// Starts the workers and returns a handle to push steps of input through.
    pub fn start(&self) -> Result<Running<P>, Error> {
        let config = self.cluster.timely_config()?;
        let local = self.cluster.workers;
        let plan = P::plan();
        self.params.check_names(plan)?;
        P::check_params(&self.params)?;
        let ctx = Context::for_run(plan, self.windows, self.params.clone());

        let mut feeds = Vec::with_capacity(local);
        let mut receivers = Vec::with_capacity(local);
        for _ in 0..local {
            // Bounded: a producer faster than the workers waits instead of piling records up.
            let (sender, receiver) =
                mpsc::sync_channel::<Feed<<P::Inputs as Inputs>::Numbered>>(FEED_CHUNKS);
            feeds.push(sender);
            receivers.push(Some(receiver));
        }
        let receivers = Arc::new(Mutex::new(receivers));
        let (event_sender, events) = mpsc::channel::<Event<P::Output>>();
        let (thread_sender, thread_receiver) = mpsc::channel::<(usize, Thread)>();
        let event_sender = Mutex::new(event_sender);
        let thread_sender = Mutex::new(thread_sender);
        let worker_ctx = ctx.clone();
        let in_cluster = self.cluster.processes > 1;
        let (process, processes) = (self.cluster.process, self.cluster.processes);

        #[cfg(feature = "metrics")]
        let metrics = self.metrics.clone();

        let guards = timely::execute(config, move |worker| {
            #[cfg(feature = "metrics")]
            if let Some(metrics) = &metrics {
                crate::observe::operators::attach(worker, metrics);
            }
            let local_index = worker.index() % local;
            let place = Place {
                process,
                processes,
                workers: local,
                cluster: in_cluster,
                leader: local_index == 0,
            };
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
            run_worker::<P>(worker, &worker_ctx, feed, events, place);
        })
        .map_err(Error::Timely)?;
        if in_cluster {
            // Every process is connected now: from here on each must be heard from.
            crate::runtime::heartbeat::listen(processes);
        }

        let mut threads: Vec<Option<Thread>> = vec![None; local];
        for _ in 0..local {
            match thread_receiver.recv_timeout(Duration::from_secs(60)) {
                Ok((index, thread)) => threads[index] = Some(thread),
                Err(_) => return Err(Error::Timely("workers did not start".into())),
            }
        }
        Ok(Running {
            version: self.version(),
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
            keep_output: self.keep_output,
            disjoint: self.disjoint,
            early: Vec::new(),
            notes: Vec::new(),
            floor: None,
            // Every input record is numbered; with disjoint inputs, each process numbers its own
            // from another base, so that no two records of a cluster share a number.
            positions: vec![
                if self.disjoint && self.cluster.processes > 1 {
                    (self.cluster.process as u64) << PROCESS_POSITION_BITS
                } else {
                    0
                };
                <P::Inputs as Inputs>::COUNT
            ],
            output: RefCell::new(Consolidated::new(plan.is_insert_only(), local)),
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

/// A running pipeline: push steps of input, read each step's output changes and the consolidated
/// output so far.
pub struct Running<P: Pipeline> {
    version: String,
    ctx: Context,
    cluster: Cluster,
    feeds: Vec<SyncSender<Feed<<P::Inputs as Inputs>::Numbered>>>,
    threads: Vec<Thread>,
    events: Receiver<Event<P::Output>>,
    guards: Option<WorkerGuards<()>>,
    /// The inputs' current logical time.
    time: Time,
    /// Event-time pipelines: the watermark, ms.
    watermark: u64,
    max_seen: Option<u64>,
    max_delay: u64,
    manual_watermark: bool,
    keep_output: bool,
    disjoint: bool,
    /// Output changes at times the open step has not reached: in a cluster with disjoint inputs,
    /// another process may run ahead. They belong to a later step.
    early: Vec<(P::Output, Time, isize)>,
    /// Process 0: the processes' notes, with the logical time each was sent at.
    notes: Vec<(Time, usize, Vec<u8>)>,
    /// The event-time floor of the step being pushed (see [`Running::push_batch_with_floor`]).
    floor: Option<u64>,
    /// The next input position of each input.
    positions: Vec<u64>,
    output: RefCell<Consolidated<P::Output>>,
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
        self.push_step(input.into_batch(), true)
    }

    /// [`Running::push`] for a batch of the pipeline's inputs as the runtime holds them (one `Vec`
    /// per input), for code generic over the number of inputs.
    pub fn push_batch(
        &mut self,
        batch: <P::Inputs as Inputs>::Batch,
    ) -> Result<Vec<Change<P::Output>>, Error> {
        self.push_step(batch, true)
    }

    /// [`Running::push_batch`] for a source that reads several partitions: the watermark does not
    /// pass `floor` minus the maximum delay, where `floor` is the least, over the partitions that
    /// are not idle, of the greatest event time read from each (`None`: no such bound).
    pub fn push_batch_with_floor(
        &mut self,
        batch: <P::Inputs as Inputs>::Batch,
        floor: Option<u64>,
    ) -> Result<Vec<Change<P::Output>>, Error> {
        self.floor = floor;
        let changes = self.push_step(batch, true);
        self.floor = None;
        changes
    }

    /// Inserts `batch` into the open step without completing it: a large step (a batch read from a
    /// file) can be built in parts, so that the workers aggregate each part while the next is read and
    /// no part has to be held in memory once dealt. The next [`Running::push`] (or
    /// [`Running::complete`]) completes the step with every part inserted, exactly as if all of them
    /// had been pushed together: for an event-time pipeline the watermark then moves by the greatest
    /// event time of all of them.
    pub fn insert(&mut self, batch: <P::Inputs as Inputs>::Batch) -> Result<(), Error> {
        if P::EVENT_TIME {
            match catch_user(|| P::max_event_time(&batch)) {
                Ok(Some(max)) => {
                    self.max_seen = Some(self.max_seen.map_or(max, |seen| seen.max(max)))
                }
                Ok(None) => {}
                Err(payload) => self.ctx.report_panic(event_time_stage(P::plan()), payload),
            }
        }
        self.summary.input_records += <P::Inputs as Inputs>::len(&batch) as u64;
        self.deal(batch)
    }

    /// Completes the open step (the parts given to [`Running::insert`]) without returning its
    /// changes: they only go to the consolidated output, consolidated once, as in a batch run.
    pub fn complete(&mut self) -> Result<(), Error> {
        self.push_step(<P::Inputs as Inputs>::empty(), false)
            .map(drop)
    }

    fn push_step(
        &mut self,
        batch: <P::Inputs as Inputs>::Batch,
        report: bool,
    ) -> Result<Vec<Change<P::Output>>, Error> {
        self.insert(batch)?;
        let target = if P::EVENT_TIME {
            let seen = match (self.manual_watermark, self.max_seen, self.floor) {
                (false, Some(seen), None) => seen,
                (false, Some(seen), Some(floor)) => seen.min(floor),
                _ => 0,
            };
            self.watermark.max(seen.saturating_sub(self.max_delay))
        } else {
            0
        };
        self.step(target, report)
    }

    /// Deals `batch` to the workers at the open step's logical time. Workers start on their first
    /// chunks while the rest are dealt.
    fn deal(&mut self, batch: <P::Inputs as Inputs>::Batch) -> Result<(), Error> {
        if <P::Inputs as Inputs>::len(&batch) == 0 {
            return Ok(());
        }
        let at = self.time;
        let share = if self.disjoint {
            Share::ALL
        } else {
            Share {
                index: self.cluster.process,
                of: self.cluster.processes,
            }
        };
        let (feeds, threads) = (&self.feeds, &self.threads);
        let dealt = <P::Inputs as Inputs>::deal(
            batch,
            &mut self.positions,
            at,
            share,
            feeds.len(),
            CHUNK,
            &mut |worker, chunk| {
                threads[worker].unpark();
                let sent = feeds[worker]
                    .send(Feed::Insert { at, batch: chunk })
                    .is_ok();
                threads[worker].unpark();
                sent
            },
        );
        if dealt {
            Ok(())
        } else {
            Err(Error::Timely("a worker stopped early".into()))
        }
    }

    /// Event-time pipelines: moves the watermark to `watermark` (ms) without new records, completing
    /// every window whose end plus lateness it passes. A watermark never moves back.
    pub fn advance_watermark(&mut self, watermark: u64) -> Result<Vec<Change<P::Output>>, Error> {
        let target = self.watermark.max(watermark);
        self.step(target, true)
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

    /// The version of what runs (see [`Runner::version`]).
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The current watermark, ms (event-time pipelines).
    pub fn watermark(&self) -> u64 {
        self.watermark
    }

    /// The greatest event time seen so far, ms (event-time pipelines; `None` before any record).
    pub fn max_event_time(&self) -> Option<u64> {
        self.max_seen
    }

    /// Takes the records that arrived too late for their windows since the last call. In a
    /// cluster, process 0 takes every process's: the others send theirs to it and take none here.
    pub fn take_late(&self) -> Vec<LateRecord> {
        if self.cluster.processes > 1 && self.cluster.process != 0 {
            return Vec::new();
        }
        self.ctx.take_late()
    }

    /// Completes the open step (its records were dealt by [`Running::deal`]). Its output changes are
    /// returned when `report` is set, else only kept in the consolidated output.
    fn step(&mut self, watermark: u64, report: bool) -> Result<Vec<Change<P::Output>>, Error> {
        let at = self.time;
        let until = if P::EVENT_TIME && clock::at(watermark) > at {
            self.watermark = watermark;
            clock::at(watermark)
        } else {
            at + 1
        };
        self.time = until;
        self.summary.steps += 1;
        let stopped = || Error::Timely("a worker stopped early".into());
        for (feed, thread) in self.feeds.iter().zip(&self.threads) {
            thread.unpark();
            feed.send(Feed::Advance { until }).map_err(|_| stopped())?;
            thread.unpark();
        }
        let mut changes = Vec::new();
        let runs_ahead = self.disjoint && self.cluster.processes > 1;
        if runs_ahead {
            let (due, later) = std::mem::take(&mut self.early)
                .into_iter()
                .partition(|(_, time, _)| *time < until);
            self.early = later;
            self.take_changes(due, report, &mut changes);
        }
        loop {
            match self.next_event()? {
                Event::Changes(mut batch) => {
                    if runs_ahead && batch.iter().any(|(_, time, _)| *time >= until) {
                        let (due, later): (Vec<_>, Vec<_>) =
                            batch.into_iter().partition(|(_, time, _)| *time < until);
                        self.early.extend(later);
                        batch = due;
                    }
                    self.take_changes(batch, report, &mut changes);
                }
                Event::Side(time, sides) => self.take_side(time, sides),
                Event::Done(done) if done == until => break,
                Event::Done(_) => {}
                Event::Finished => return Err(Error::Timely("the workers finished early".into())),
            }
        }
        Ok(if report {
            self.absorb(changes)
        } else {
            Vec::new()
        })
    }

    /// A step's raw output `batch`: into `changes` when they are reported, else into the
    /// consolidated output (when it is kept).
    fn take_changes(
        &mut self,
        batch: Vec<(P::Output, Time, isize)>,
        report: bool,
        changes: &mut Vec<(P::Output, Time, isize)>,
    ) {
        if report {
            changes.extend(batch);
        } else if self.keep_output {
            self.output.get_mut().add(batch);
        }
    }

    /// What a process sent on the side stream: notes are kept for [`Running::take_notes`], late
    /// records join this process's.
    fn take_side(&mut self, time: Time, sides: Vec<Side>) {
        for side in sides {
            match side {
                Side::Note { process, note } => self.notes.push((time, process, note)),
                Side::Late(lines) => self.ctx.absorb_late(late_records(&lines)),
            }
        }
    }

    /// Sends `note` to process 0 with the open step: it arrives there once process 0's steps have
    /// passed this one, and [`Running::take_notes`] returns it. A replay across processes notes
    /// what each step read, so that process 0 checkpoints every process's position at once.
    pub fn note(&mut self, note: Vec<u8>) -> Result<(), Error> {
        let at = self.time;
        let (Some(feed), Some(thread)) = (self.feeds.first(), self.threads.first()) else {
            return Err(Error::Timely("the pipeline has no worker".into()));
        };
        let sent = feed.send(Feed::Note { at, note }).is_ok();
        thread.unpark();
        if sent {
            Ok(())
        } else {
            Err(Error::Timely("a worker stopped early".into()))
        }
    }

    /// Process 0: takes the notes of every process (see [`Running::note`]) sent with the steps
    /// this process has completed, as `(process, note)`, in the order of their steps; each
    /// process's own notes in the order it sent them.
    pub fn take_notes(&mut self) -> Vec<(usize, Vec<u8>)> {
        let done = self.time;
        let (mut due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.notes)
            .into_iter()
            .partition(|(time, _, _)| *time < done);
        self.notes = later;
        due.sort_by_key(|(time, process, _)| (*time, *process));
        due.into_iter()
            .map(|(_, process, note)| (process, note))
            .collect()
    }

    /// The cluster this pipeline runs in.
    pub fn cluster(&self) -> &Cluster {
        &self.cluster
    }

    /// The consolidated output so far: every record with its multiplicity, sorted.
    pub fn consolidated(&self) -> Vec<(P::Output, isize)> {
        self.output.borrow_mut().records().to_vec()
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
        let mut closing = std::mem::take(&mut self.early);
        loop {
            match self.next_event() {
                Ok(Event::Changes(batch)) => closing.extend(batch),
                Ok(Event::Side(time, sides)) => self.take_side(time, sides),
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
        let records = std::mem::take(self.output.get_mut()).into_records();
        self.summary.output_records = records.len() as u64;
        self.summary.elapsed = self.started.elapsed();
        self.summary.late_records = self.ctx.late_count();
        self.summary.max_delay_needed = (self.summary.late_records > 0).then(|| {
            self.max_delay
                .saturating_add(self.ctx.late_behind())
                .saturating_add(1)
        });
        Ok(Output {
            records,
            closing_changes,
            late: self.take_late(),
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

    /// Consolidates a step's raw output into its changes, adding them to the consolidated output.
    fn absorb(&mut self, changes: Vec<(P::Output, Time, isize)>) -> Vec<Change<P::Output>> {
        let out = consolidate_changes(changes);
        if self.keep_output {
            self.output
                .get_mut()
                .add_changes(out.iter().map(|c| (c.record.clone(), c.diff)));
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
