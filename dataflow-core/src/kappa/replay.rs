//! Replay: a pipeline fed from a [`Log`], step by step, with the one drive loop ([`Replay::drive`])
//! that [`replay`], deployments and the command line share, each with its own [`ReplayHooks`].

use crate::error::Error;
use crate::kappa::checkpoint::{Checkpoint, FeedMark, ProcessPart, note};
use crate::log::{EventLog, Log, LoggedInputs, Position, Schema, Split, Tail, partitions_of};
use crate::pipeline::{Inputs, Pipeline};
use crate::record::Record;
use crate::runtime::{Change, Output, Runner, Running};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// One step of a replay: the records from position `from` to `to` went into the pipeline and
/// produced `changes`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplayStep<O, Pos = u64> {
    /// The step's output changes, consolidated and sorted (see [`Running::push`]).
    pub changes: Vec<Change<O>>,
    /// The position of the step's first record.
    pub from: Pos,
    /// The position the pipeline covers after the step: every record before it has been pushed.
    pub to: Pos,
}

/// The step type of a replay of pipeline `P` over log `L`.
pub type StepOf<P, L> = ReplayStep<<P as Pipeline>::Output, <L as Log>::Position>;

/// What a finished replay produced, and which positions it covered.
#[derive(Clone, Debug, PartialEq)]
pub struct Replayed<O, Pos = u64> {
    /// The consolidated output, as [`Running::finish`] returns it.
    pub output: Output<O>,
    /// The position the replay started at.
    pub from: Pos,
    /// The position it covered: the records from `from` to `to` went into the pipeline.
    pub to: Pos,
}

/// Whether the drive loop goes on after a hook.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    /// Go on.
    Continue,
    /// At the head only: read on, records were committed meanwhile (the drive steps again before
    /// following).
    ReadOn,
    /// End the drive.
    Stop,
}

/// How [`Replay::drive`] follows the tail once it reached the head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Follow {
    /// How long to wait for new records before calling [`ReplayHooks::waiting`].
    pub poll: Duration,
    /// After no record arrived for this long, move an event-time pipeline's watermark up to the
    /// greatest event time seen ([`Running::idle`]), once per quiet period.
    pub idle_timeout: Option<Duration>,
    /// Whether a quiet log right after the head counts as a quiet period (or only after new records).
    pub idle_when_quiet_at_head: bool,
    /// End the drive after the first idle.
    pub end_when_idle: bool,
}

/// What a drive does at each point of a replay. Every hook but [`ReplayHooks::step`] has a default
/// that goes on.
pub trait ReplayHooks<P: Pipeline, I: Schema + 'static, L: Log> {
    /// A step was pushed.
    fn step(
        &mut self,
        replay: &mut Replay<P, I, L>,
        step: ReplayStep<P::Output, L::Position>,
    ) -> Result<Control, Error>;

    /// The replay reached the head: every record committed when it looked has been pushed.
    fn at_head(&mut self, _replay: &mut Replay<P, I, L>) -> Result<Control, Error> {
        Ok(Control::Continue)
    }

    /// A quiet period moved the watermark: `changes` are what that completed.
    fn idle(
        &mut self,
        _replay: &mut Replay<P, I, L>,
        _changes: Vec<Change<P::Output>>,
    ) -> Result<Control, Error> {
        Ok(Control::Continue)
    }

    /// Following, no record arrived within the poll interval.
    fn waiting(&mut self, _replay: &mut Replay<P, I, L>) -> Result<Control, Error> {
        Ok(Control::Continue)
    }
}

/// What a process of a cluster tells process 0 with each step: how it fed the step and where it
/// stands after it.
#[derive(Serialize, Deserialize)]
#[serde(bound(serialize = "Pos: Serialize", deserialize = "Pos: DeserializeOwned"))]
struct StepNote<Pos> {
    mark: FeedMark,
    position: Pos,
}

/// A pipeline fed from a log: [`Replay::step`] pushes the next records that are committed,
/// [`Replay::follow`] waits for new ones. See the [module docs](super).
///
/// In a cluster (a runner of several processes), every process replays its own share of the log's
/// partitions ([`partitions_of`]; the file log's one partition is process 0's), and process 0
/// collects the output and, from every process's notes, one checkpoint of the whole cluster.
pub struct Replay<P: Pipeline, I: Schema + 'static, L: Log = EventLog> {
    running: Running<P>,
    tail: L::Tail<I>,
    log: L,
    step: usize,
    from: L::Position,
    journal: Vec<FeedMark>,
    buffer: Vec<I>,
    /// This process's index in its cluster, and the number of processes.
    process: usize,
    processes: usize,
    /// Process 0 of a cluster: what each process has read, from the notes of its steps.
    parts: Vec<ProcessPart<L::Position>>,
}

impl<P, I, L> Replay<P, I, L>
where
    P: Pipeline,
    P::Inputs: LoggedInputs<Entry = I>,
    I: Record + Schema,
    L: Log,
{
    /// Starts `runner`'s pipeline and positions it at `from` in `log`; steps take up to `step`
    /// records.
    pub fn start(
        runner: &Runner<P>,
        log: &L,
        from: L::Position,
        step: usize,
    ) -> Result<Self, Error> {
        if step == 0 {
            return Err(Error::Usage(
                "a replay step must take at least 1 record".into(),
            ));
        }
        let cluster = runner.cluster_spec();
        let (process, processes) = (cluster.process, cluster.processes.max(1));
        let (tail, running) = if processes > 1 {
            let share = partitions_of(process, processes, log.partitions());
            if share.is_empty() {
                return Err(Error::Usage(format!(
                    "process {process} of {processes} has no partition of {} to read ({} in all):                      start its pipeline with Runner::start and finish it at once",
                    log.name(),
                    log.partitions()
                )));
            }
            let tail = log.tail_of(from.clone(), &share)?;
            (tail, runner.clone().disjoint_inputs(true).start()?)
        } else {
            (log.tail(from.clone())?, runner.start()?)
        };
        let parts = if processes > 1 && process == 0 {
            (0..processes)
                .map(|_| ProcessPart {
                    journal: Vec::new(),
                    offset: from.clone(),
                })
                .collect()
        } else {
            Vec::new()
        };
        Ok(Replay {
            running,
            tail,
            log: log.clone(),
            step,
            from,
            journal: Vec::new(),
            buffer: Vec::new(),
            process,
            processes,
            parts,
        })
    }

    /// Restarts from `checkpoint`: rebuilds the pipeline's state by replaying the log from the
    /// checkpoint's starting position to the position it covers, in the same steps as the run that
    /// wrote it, and checks that the rebuilt output equals the checkpointed one. The output of the
    /// rebuilding steps is discarded: the checkpoint's sink already holds it.
    pub fn resume(
        runner: &Runner<P>,
        log: &L,
        checkpoint: &Checkpoint<P::Output, L::Position>,
        step: usize,
    ) -> Result<Self, Error> {
        let version = runner.version();
        if checkpoint.pipeline != P::NAME || checkpoint.version != version {
            return Err(Error::Usage(format!(
                "the checkpoint was written by {} version {}, not by {} version {}: remove it to \
                 replay from the start",
                checkpoint.pipeline,
                checkpoint.version,
                P::NAME,
                version
            )));
        }
        let mut replay = Replay::start(runner, log, checkpoint.from.clone(), step)?;
        // A log of one partition is process 0's alone, so the checkpoint's own journal is its,
        // however many processes wrote or resume it.
        let one_reader = log.partitions() == 1 || checkpoint.processes.is_empty();
        let (journal, offset) = match (replay.processes, checkpoint.processes.len()) {
            _ if one_reader && (replay.processes == 1 || log.partitions() == 1) => {
                (checkpoint.journal.clone(), checkpoint.offset.clone())
            }
            (here, there) if here == there => {
                let part = &checkpoint.processes[replay.process];
                (part.journal.clone(), part.offset.clone())
            }
            (here, there) => {
                return Err(Error::Usage(format!(
                    "the checkpoint was written by a replay on {} process{}, and this one runs on                      {here}: resume with the same number of processes (-n {})",
                    there.max(1),
                    if there > 1 { "es" } else { "" },
                    there.max(1)
                )));
            }
        };
        for mark in &journal {
            match mark {
                &FeedMark::Steps { size, count } => {
                    for _ in 0..count {
                        let at = replay.position();
                        let want = usize::try_from(size).unwrap_or(usize::MAX);
                        let mut records = Vec::with_capacity(want.min(1 << 20));
                        let read = replay.tail.read(want, &mut records)?;
                        if read < want {
                            return Err(Error::Source(format!(
                                "the checkpoint covers offset {} but the log {} ends at offset {}",
                                checkpoint.offset,
                                log.name(),
                                replay.position()
                            )));
                        }
                        replay.push(records, at)?;
                    }
                }
                &FeedMark::Idle { count } => {
                    for _ in 0..count {
                        replay.idle()?;
                    }
                }
                FeedMark::Split { split, count } => {
                    for _ in 0..*count {
                        let at = replay.position();
                        let want = usize::try_from(split.len()).unwrap_or(usize::MAX);
                        let mut records = Vec::with_capacity(want.min(1 << 20));
                        let read = replay.tail.read_split(split, &mut records)?;
                        if read < want {
                            return Err(Error::Source(format!(
                                "the checkpoint covers {} but the log {} ends at {}",
                                checkpoint.offset,
                                log.name(),
                                replay.position()
                            )));
                        }
                        replay.push_split(records, at, Some(split.clone()))?;
                    }
                }
            }
        }
        if replay.position() != offset {
            return Err(Error::Source(format!(
                "rebuilding from the checkpoint's steps reached offset {}, but the checkpoint covers \
                 offset {offset}: the checkpoint is damaged",
                replay.position(),
            )));
        }
        // Only process 0 collects the output.
        let output = replay.running.consolidated();
        if replay.process == 0 && output != checkpoint.output {
            let differing = output
                .iter()
                .zip(&checkpoint.output)
                .position(|(a, b)| a != b)
                .unwrap_or(output.len().min(checkpoint.output.len()));
            return Err(Error::Source(format!(
                "replaying offsets {}..{} of {} does not rebuild the checkpointed output ({} records \
                 rebuilt, {} checkpointed, first difference at record {differing}): the log or the \
                 pipeline changed since the checkpoint",
                checkpoint.from,
                checkpoint.offset,
                log.name(),
                output.len(),
                checkpoint.output.len()
            )));
        }
        Ok(replay)
    }

    /// The position the pipeline covers: every record before it has been pushed, none after it.
    pub fn position(&self) -> L::Position {
        self.tail.position()
    }

    /// The position the replay started at.
    pub fn from(&self) -> L::Position {
        self.from.clone()
    }

    /// The log's head (as the replay's reader sees it).
    pub fn head(&self) -> L::Position {
        self.tail.head()
    }

    /// The log this replay reads.
    pub fn log(&self) -> &L {
        &self.log
    }

    /// The running pipeline, for its [`Running::consolidated`] output, [`Running::take_late`] or
    /// [`Running::watermark`].
    pub fn running(&self) -> &Running<P> {
        &self.running
    }

    /// Pushes the next step: up to `step` records that are committed now. `None` at the head.
    pub fn step(&mut self) -> Result<Option<StepOf<P, L>>, Error> {
        let at = self.position();
        let mut records = std::mem::take(&mut self.buffer);
        self.tail.read(self.step, &mut records)?;
        if records.is_empty() {
            self.buffer = records;
            return Ok(None);
        }
        self.push(records, at).map(Some)
    }

    /// Waits up to `timeout` for new records and pushes them as one step (up to `step` records).
    /// `None` if none were committed in time.
    pub fn follow(&mut self, timeout: Duration) -> Result<Option<StepOf<P, L>>, Error> {
        let at = self.position();
        let mut records = std::mem::take(&mut self.buffer);
        self.tail.wait(self.step, timeout, &mut records)?;
        if records.is_empty() {
            self.buffer = records;
            return Ok(None);
        }
        self.push(records, at).map(Some)
    }

    fn push(
        &mut self,
        records: Vec<I>,
        at: L::Position,
    ) -> Result<ReplayStep<P::Output, L::Position>, Error> {
        let split = self.tail.split();
        self.push_split(records, at, split)
    }

    /// Pushes a step that read `records`: as the partitioned log's `split` says, when it has one.
    fn push_split(
        &mut self,
        records: Vec<I>,
        at: L::Position,
        split: Option<Split>,
    ) -> Result<ReplayStep<P::Output, L::Position>, Error> {
        let batch = <P::Inputs as LoggedInputs>::batch(records);
        let changes = match split {
            Some(split) => {
                let floor = split.floor;
                self.note(FeedMark::Split { split, count: 1 })?;
                self.running.push_batch_with_floor(batch, floor)?
            }
            None => {
                self.note(FeedMark::Steps {
                    size: <P::Inputs as Inputs>::len(&batch) as u64,
                    count: 1,
                })?;
                self.running.push_batch(batch)?
            }
        };
        self.gather();
        Ok(ReplayStep {
            changes,
            from: at,
            to: self.position(),
        })
    }

    /// The log has been idle: moves an event-time pipeline's watermark up to the greatest event time
    /// seen ([`Running::idle`]) and returns the changes that completes.
    pub fn idle(&mut self) -> Result<Vec<Change<P::Output>>, Error> {
        self.note(FeedMark::Idle { count: 1 })?;
        let changes = self.running.idle()?;
        self.gather();
        Ok(changes)
    }

    /// Journals how the open step is fed; in a cluster, also tells process 0, with the position
    /// the step reaches.
    fn note(&mut self, mark: FeedMark) -> Result<(), Error> {
        if self.processes > 1 {
            let step = StepNote {
                mark: mark.clone(),
                position: self.position(),
            };
            let bytes = postcard::to_stdvec(&step)
                .map_err(|e| Error::Source(format!("cannot encode a step's note: {e}")))?;
            self.running.note(bytes)?;
        }
        note(&mut self.journal, mark);
        Ok(())
    }

    /// Process 0 of a cluster: takes in the processes' notes of the steps its own have passed.
    fn gather(&mut self) {
        for (process, bytes) in self.running.take_notes() {
            let (Some(part), Ok(step)) = (
                self.parts.get_mut(process),
                postcard::from_bytes::<StepNote<L::Position>>(&bytes),
            ) else {
                continue;
            };
            note(&mut part.journal, step.mark);
            part.offset = step.position;
        }
    }

    /// A checkpoint of this replay at its current position, recording that its output sink was
    /// `sink` bytes long (0 when there is no sink).
    pub fn checkpoint(&self, sink: u64) -> Checkpoint<P::Output, L::Position> {
        let offset = self
            .parts
            .iter()
            .fold(self.position(), |offset, part| offset.join(&part.offset));
        Checkpoint {
            pipeline: P::NAME.to_string(),
            version: self.running.version().to_string(),
            settings: Vec::new(),
            from: self.from.clone(),
            offset,
            sink,
            output: self.running.consolidated(),
            journal: self.journal.clone(),
            processes: self.parts.clone(),
        }
    }

    /// The one drive loop: pushes every committed record, step by step, then (with `follow`) follows
    /// the tail, calling `hooks` at each point, until a hook says stop or the log is quiet and
    /// `follow` ends on idle.
    pub fn drive(
        &mut self,
        follow: Option<Follow>,
        hooks: &mut impl ReplayHooks<P, I, L>,
    ) -> Result<(), Error> {
        loop {
            while let Some(step) = self.step()? {
                if hooks.step(self, step)? == Control::Stop {
                    return Ok(());
                }
            }
            match hooks.at_head(self)? {
                Control::Stop => return Ok(()),
                Control::ReadOn => continue,
                Control::Continue => break,
            }
        }
        let Some(follow) = follow else {
            return Ok(());
        };
        let mut last_record = Instant::now();
        let mut idled = !follow.idle_when_quiet_at_head;
        loop {
            match self.follow(follow.poll)? {
                Some(step) => {
                    last_record = Instant::now();
                    idled = false;
                    if hooks.step(self, step)? == Control::Stop {
                        return Ok(());
                    }
                }
                None => {
                    if let Some(timeout) = follow.idle_timeout
                        && !idled
                        && last_record.elapsed() >= timeout
                    {
                        idled = true;
                        let changes = self.idle()?;
                        if hooks.idle(self, changes)? == Control::Stop || follow.end_when_idle {
                            return Ok(());
                        }
                    }
                    if hooks.waiting(self)? == Control::Stop {
                        return Ok(());
                    }
                }
            }
        }
    }

    /// Closes the input (completing what the end of input completes) and returns the output and the
    /// positions covered.
    pub fn finish(self) -> Result<Replayed<P::Output, L::Position>, Error> {
        let to = self.position();
        let output = self.running.finish()?;
        Ok(Replayed {
            output,
            from: self.from,
            to,
        })
    }
}

/// Hooks that only push: [`replay`]'s.
struct PushOnly;

impl<P: Pipeline, I: Schema + 'static, L: Log> ReplayHooks<P, I, L> for PushOnly {
    fn step(
        &mut self,
        _replay: &mut Replay<P, I, L>,
        _step: ReplayStep<P::Output, L::Position>,
    ) -> Result<Control, Error> {
        Ok(Control::Continue)
    }
}

/// Replays `log` from position `from` to its head through `runner`'s pipeline, `step` records per
/// step, and returns the consolidated output and the positions covered.
///
/// With `follow: Some(idle)` it then follows the tail: records committed meanwhile are pushed as they
/// come, and once no record arrived for `idle`, the watermark of an event-time pipeline moves up to
/// the greatest event time seen ([`Running::idle`]) and the replay ends. For an endless consumer, drive
/// a [`Replay`] (or a [`deploy`](crate::kappa::deploy)ment) instead.
pub fn replay<P, I>(
    runner: &Runner<P>,
    log: &impl Log<Position = u64>,
    from: u64,
    step: usize,
    follow: Option<Duration>,
) -> Result<Replayed<P::Output>, Error>
where
    P: Pipeline,
    P::Inputs: LoggedInputs<Entry = I>,
    I: Record + Schema,
{
    let mut replay = Replay::start(runner, log, from, step)?;
    let follow = follow.map(|idle| Follow {
        poll: idle,
        idle_timeout: Some(idle),
        idle_when_quiet_at_head: true,
        end_when_idle: true,
    });
    replay.drive(follow, &mut PushOnly)?;
    replay.finish()
}
