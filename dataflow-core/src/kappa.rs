//! Kappa: the event log as the source of truth. Replay a pipeline from any offset, serve its output
//! as a view queryable while it runs, reprocess history with a new version and switch the served view
//! over to it atomically, and checkpoint so that a restarted process resumes without loss or
//! duplication.
//!
//! # Replay: the third way to feed a pipeline
//!
//! A pipeline reads the log's records from an offset, in steps of up to `step` records, through the
//! same [`Running::push`] that a stream uses, so it computes exactly what a stream with the same steps
//! would. [`replay`] runs from an offset to the head (and optionally follows the tail until the log has
//! been idle for a while); [`Replay`] is the handle to drive it step by step. Records are decoded with
//! [`Schema`]: records written by an older version of the input type are upgraded, and an unreadable
//! record is an error naming its offset, never a silent skip. Every step knows the offset it covers:
//! every record before it has been pushed, none after it.
//!
//! Event-time pipelines take event time from the data, as in batch and stream mode. While following
//! the tail, a log idle for the idle timeout moves the watermark up to the greatest event time seen
//! ([`Running::idle`]), so that idle periods do not hold windows open.
//!
//! # Serving and reprocessing with switch-over
//!
//! A [`ServedView`] holds the latest output value per key, queryable by key or range while pipelines
//! run. [`deploy`] starts a version of a pipeline on a background thread: it replays the log from
//! offset 0 into a private table while the current version keeps serving, and once it has caught up
//! with the head (its table covers at least the offset the served table covers) it swaps its table
//! into the view under the view's write lock. From then on it follows the tail and updates the view;
//! the old version notices that it no longer owns the view and retires.
//!
//! ```text
//!  log offsets  0 ─────────────────────────── h0 ─────── s ──────────────── ▶ (appends go on)
//!
//!  version 1    ════ serving: follows the tail, updates the view ═══╗ retired (its updates stop)
//!                                                                   ║
//!  version 2    ░░░░░░ replays 0..s privately (catch-up) ░░░░░░░░░░╚═ switch at s ═ serving ════ ▶
//!               ▲ deployed when the head is h0                       (one write-locked swap)
//!
//!  readers      get(k) / snapshot() at any time: a whole table of version 1 (covering some
//!               offset ≤ s) before the swap, a whole table of version 2 after it, never a mix
//! ```
//!
//! Each table is a function of the log prefix it covers, so a reader never sees an event missed or
//! counted twice: version 2's table covers exactly `0..s` when it is swapped in, and version 2 goes on
//! from `s`. The swap only happens when `s` is at least the offset version 1's table covers, so the
//! served view never moves back.
//!
//! # Checkpoints and restart
//!
//! A [`Checkpoint`] records the offset a run covers, the consolidated output view at that offset, the
//! length of its output sink (a [`FileSink`]) at that point, and the sequence of steps that got there.
//! It is written atomically (temporary file, fsync, rename, fsync of the directory).
//!
//! On restart, [`Replay::resume`] rebuilds the pipeline's operator state by replaying the log from
//! the checkpoint's starting offset up to its covered offset *in the same steps*, discarding the output
//! of those steps (the sink already holds it), checks that the rebuilt view equals the checkpointed
//! one, and goes on from there. The sink is truncated back to the length the checkpoint recorded, so
//! changes written after the checkpoint by the killed process are written again exactly once.
//!
//! Why rebuild instead of restoring operator state: the state lives inside timely and differential
//! operators (arrangements, hash aggregates, window buffers, per-key scan histories), which have no
//! snapshot format, and the output view alone does not determine it (a window still open, a scan's
//! history). Replaying the log is deterministic: the same records in the same steps give the same state
//! and the same logical times, so the output after the restart is byte for byte the output of an
//! uninterrupted run. The checked view turns any difference (a changed log, a non-deterministic stage)
//! into an error instead of a silently different output. The price is a replay of the prefix on
//! restart, at replay speed.
//!
//! # Examples
//!
//! ```
//! use dataflow_core::kappa::{self, EventLog, LogOptions, Schema, ServedView};
//! use dataflow_core::prelude::*;
//!
//! #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
//! pub struct Click { user: String }
//! impl Schema for Click {
//!     const VERSION: u32 = 1;
//! }
//!
//! /// Clicks per user.
//! #[pipeline]
//! pub fn clicks(clicks: Stream<Click>) -> Stream<(String, u64)> {
//!     clicks.key(|c| c.user.clone()).count()
//! }
//!
//! let dir = tempfile::tempdir().unwrap();
//! let log = EventLog::open(dir.path(), LogOptions::default()).unwrap();
//! let mut batch = log.batch();
//! for user in ["ann", "bob", "ann"] {
//!     batch.push(0, &Click { user: user.into() }).unwrap();
//! }
//! batch.commit().unwrap();
//!
//! // Replay from offset 0 to the head, two records per step: the batch result.
//! let replayed = kappa::replay::<Clicks, Click>(&Runner::new(), &log, 0, 2, None)?;
//! assert_eq!(replayed.to, 3);
//! assert_eq!(replayed.output.records, vec![(("ann".into(), 2), 1), (("bob".into(), 1), 1)]);
//!
//! // Serve the counts as a view, keyed by user.
//! let view = ServedView::new();
//! let deployment = kappa::deploy::<Clicks, Click, _, _, _>(
//!     Runner::new(), &log, &view, |(user, n): &(String, u64)| (user.clone(), *n), Default::default(),
//! )?;
//! deployment.wait_until(|p| p.position == 3 && p.phase == kappa::Phase::Serving, Duration::from_secs(30))?;
//! assert_eq!(view.get(&"ann".to_string()), Some(2));
//! log.append(0, &Click { user: "bob".into() }).unwrap();
//! deployment.wait_until(|p| p.position == 4, Duration::from_secs(30))?;
//! assert_eq!(view.get(&"bob".to_string()), Some(2));
//! deployment.stop()?;
//! # Ok::<(), dataflow_core::Error>(())
//! ```

use crate::Record;
use crate::error::Error;
use crate::pipeline::Pipeline;
use crate::runner::{Change, Output, Runner, Running};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::marker::PhantomData;
use std::ops::RangeBounds;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use dataflow_log::{
    DecodeError, EventLog, FsyncPolicy, LogError, LogOptions, LogRecord, Schema, upgrade_from,
};

/// How often a reader of a log opened read-only (another process appends) looks for new records.
const READ_ONLY_POLL: Duration = Duration::from_millis(50);

/// An error of the log in `dir`, as a runner error.
fn log_error(dir: &Path, error: LogError) -> Error {
    Error::Source(format!("event log {}: {error}", dir.display()))
}

/// Reads records of type `I` from an event log, from an offset on, in steps: what is committed now,
/// or, following the tail, what is committed within a timeout.
///
/// Works on a log opened for writing in this process (waiting on its commits) and on a log opened
/// with [`EventLog::open_read_only`] while another process appends (looking for new records every
/// 50 ms).
pub struct LogTail<I> {
    log: EventLog,
    follower: dataflow_log::Follower,
    _record: PhantomData<fn() -> I>,
}

impl<I: Schema> LogTail<I> {
    /// A tail of `log` whose first record is the one at offset `from`.
    pub fn open(log: &EventLog, from: u64) -> Result<Self, Error> {
        let follower = log.follow_from(from).map_err(|e| log_error(log.dir(), e))?;
        Ok(LogTail {
            log: log.clone(),
            follower,
            _record: PhantomData,
        })
    }

    /// The offset of the next record: every record before it has been read.
    pub fn position(&self) -> u64 {
        self.follower.position()
    }

    /// The log's head as this tail sees it.
    pub fn head(&self) -> u64 {
        self.log.head()
    }

    /// Appends up to `max` committed records to `into` without waiting; returns how many.
    pub fn read(&mut self, max: usize, into: &mut Vec<I>) -> Result<usize, Error> {
        let mut count = 0;
        while count < max {
            let next = self.follower.reader().next_ref();
            match next {
                Ok(Some(record)) => {
                    let value = record
                        .decode::<I>()
                        .map_err(|e| log_error(self.log.dir(), e))?;
                    into.push(value);
                    count += 1;
                }
                Ok(None) => break,
                Err(e) => return Err(log_error(self.log.dir(), e)),
            }
        }
        Ok(count)
    }

    /// Waits up to `timeout` for at least one new record, then appends up to `max` committed records
    /// to `into`; returns how many (0 if none arrived in time).
    pub fn wait(
        &mut self,
        max: usize,
        timeout: Duration,
        into: &mut Vec<I>,
    ) -> Result<usize, Error> {
        let deadline = Instant::now() + timeout;
        loop {
            let read = self.read(max, into)?;
            if read > 0 || max == 0 {
                return Ok(read);
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(0);
            }
            let left = deadline - now;
            if self.log.is_read_only() {
                std::thread::sleep(left.min(READ_ONLY_POLL));
                self.reopen()?;
            } else {
                let record = self
                    .follower
                    .next_timeout(left)
                    .map_err(|e| log_error(self.log.dir(), e))?;
                if let Some(record) = record {
                    into.push(
                        record
                            .decode::<I>()
                            .map_err(|e| log_error(self.log.dir(), e))?,
                    );
                    let more = self.read(max - 1, into)?;
                    return Ok(1 + more);
                }
            }
        }
    }

    /// A read-only log never sees new commits: open it again to see what another process appended.
    fn reopen(&mut self) -> Result<(), Error> {
        let dir = self.log.dir().to_path_buf();
        let log = EventLog::open_read_only(&dir).map_err(|e| log_error(&dir, e))?;
        let position = self.position();
        if log.head() > position {
            self.follower = log.follow_from(position).map_err(|e| log_error(&dir, e))?;
            self.log = log;
        }
        Ok(())
    }
}

/// One entry of the record of how a replay fed its pipeline: steps of a number of records, or idle
/// periods. Replaying the same entries over the same log rebuilds the same state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
enum FeedMark {
    /// `count` consecutive steps of `size` records each.
    Steps { size: u64, count: u64 },
    /// `count` consecutive calls of [`Running::idle`].
    Idle { count: u64 },
}

fn note(journal: &mut Vec<FeedMark>, mark: FeedMark) {
    match (journal.last_mut(), mark) {
        (Some(FeedMark::Steps { size, count }), FeedMark::Steps { size: s, count: c })
            if *size == s =>
        {
            *count += c
        }
        (Some(FeedMark::Idle { count }), FeedMark::Idle { count: c }) => *count += c,
        _ => journal.push(mark),
    }
}

/// One step of a replay: the records of offsets `from..to` went into the pipeline and produced
/// `changes`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplayStep<O> {
    /// The step's output changes, consolidated and sorted (see [`Running::push`]).
    pub changes: Vec<Change<O>>,
    /// The offset of the step's first record.
    pub from: u64,
    /// The offset the pipeline covers after the step: every record before it has been pushed.
    pub to: u64,
}

/// What a finished replay produced, and which offsets it covered.
#[derive(Clone, Debug, PartialEq)]
pub struct Replayed<O> {
    /// The consolidated output, as [`Running::finish`] returns it.
    pub output: Output<O>,
    /// The offset the replay started at.
    pub from: u64,
    /// The offset it covered: the records `from..to` went into the pipeline.
    pub to: u64,
}

/// A pipeline fed from an event log: [`Replay::step`] pushes the next records that are committed,
/// [`Replay::follow`] waits for new ones. See the [module docs](self).
pub struct Replay<P: Pipeline, I> {
    running: Running<P>,
    tail: LogTail<I>,
    step: usize,
    from: u64,
    journal: Vec<FeedMark>,
    buffer: Vec<I>,
}

impl<P, I> Replay<P, I>
where
    P: Pipeline<Inputs = (I,)>,
    I: Record + Schema,
{
    /// Starts `runner`'s pipeline and positions it at offset `from` of `log`; steps take up to `step`
    /// records.
    pub fn start(
        runner: &Runner<P>,
        log: &EventLog,
        from: u64,
        step: usize,
    ) -> Result<Self, Error> {
        if step == 0 {
            return Err(Error::Usage(
                "a replay step must take at least 1 record".into(),
            ));
        }
        let tail = LogTail::open(log, from)?;
        let running = runner.start()?;
        Ok(Replay {
            running,
            tail,
            step,
            from,
            journal: Vec::new(),
            buffer: Vec::new(),
        })
    }

    /// Restarts from `checkpoint`: rebuilds the pipeline's state by replaying the log from the
    /// checkpoint's starting offset to the offset it covers, in the same steps as the run that wrote
    /// it, and checks that the rebuilt output view equals the checkpointed one. The output of the
    /// rebuilding steps is discarded: the checkpoint's sink already holds it.
    pub fn resume(
        runner: &Runner<P>,
        log: &EventLog,
        checkpoint: &Checkpoint<P::Output>,
        step: usize,
    ) -> Result<Self, Error> {
        if checkpoint.pipeline != P::NAME || checkpoint.version != P::version() {
            return Err(Error::Usage(format!(
                "the checkpoint was written by {} version {}, not by {} version {}: remove it to \
                 replay from the start",
                checkpoint.pipeline,
                checkpoint.version,
                P::NAME,
                P::version()
            )));
        }
        let mut replay = Replay::start(runner, log, checkpoint.from, step)?;
        for mark in &checkpoint.journal {
            match *mark {
                FeedMark::Steps { size, count } => {
                    for _ in 0..count {
                        let at = replay.position();
                        let want = usize::try_from(size).unwrap_or(usize::MAX);
                        let mut records = Vec::with_capacity(want.min(1 << 20));
                        let read = replay.tail.read(want, &mut records)?;
                        if read < want {
                            return Err(Error::Source(format!(
                                "the checkpoint covers offset {} but the log {} ends at offset {}",
                                checkpoint.offset,
                                log.dir().display(),
                                at + read as u64
                            )));
                        }
                        replay.push(records, at)?;
                    }
                }
                FeedMark::Idle { count } => {
                    for _ in 0..count {
                        replay.idle()?;
                    }
                }
            }
        }
        if replay.position() != checkpoint.offset {
            return Err(Error::Source(format!(
                "rebuilding from the checkpoint's steps reached offset {}, but the checkpoint covers \
                 offset {}: the checkpoint is damaged",
                replay.position(),
                checkpoint.offset
            )));
        }
        let view = replay.running.view();
        if view != checkpoint.view {
            let differing = view
                .iter()
                .zip(&checkpoint.view)
                .position(|(a, b)| a != b)
                .unwrap_or(view.len().min(checkpoint.view.len()));
            return Err(Error::Source(format!(
                "replaying offsets {}..{} of {} does not rebuild the checkpointed output ({} records \
                 rebuilt, {} checkpointed, first difference at record {differing}): the log or the \
                 pipeline changed since the checkpoint",
                checkpoint.from,
                checkpoint.offset,
                log.dir().display(),
                view.len(),
                checkpoint.view.len()
            )));
        }
        Ok(replay)
    }

    /// The offset the pipeline covers: every record before it has been pushed, none after it.
    pub fn position(&self) -> u64 {
        self.tail.position()
    }

    /// The offset the replay started at.
    pub fn from(&self) -> u64 {
        self.from
    }

    /// The log's head (as the replay's reader sees it).
    pub fn head(&self) -> u64 {
        self.tail.head()
    }

    /// The running pipeline, for its current [`Running::view`], [`Running::take_late`] or
    /// [`Running::watermark`].
    pub fn running(&self) -> &Running<P> {
        &self.running
    }

    /// Pushes the next step: up to `step` records that are committed now. `None` at the head.
    pub fn step(&mut self) -> Result<Option<ReplayStep<P::Output>>, Error> {
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
    pub fn follow(&mut self, timeout: Duration) -> Result<Option<ReplayStep<P::Output>>, Error> {
        let at = self.position();
        let mut records = std::mem::take(&mut self.buffer);
        self.tail.wait(self.step, timeout, &mut records)?;
        if records.is_empty() {
            self.buffer = records;
            return Ok(None);
        }
        self.push(records, at).map(Some)
    }

    fn push(&mut self, records: Vec<I>, at: u64) -> Result<ReplayStep<P::Output>, Error> {
        note(
            &mut self.journal,
            FeedMark::Steps {
                size: records.len() as u64,
                count: 1,
            },
        );
        let changes = self.running.push(records)?;
        Ok(ReplayStep {
            changes,
            from: at,
            to: self.position(),
        })
    }

    /// The log has been idle: moves an event-time pipeline's watermark up to the greatest event time
    /// seen ([`Running::idle`]) and returns the changes that completes.
    pub fn idle(&mut self) -> Result<Vec<Change<P::Output>>, Error> {
        note(&mut self.journal, FeedMark::Idle { count: 1 });
        self.running.idle()
    }

    /// A checkpoint of this replay at its current position, recording that its output sink was
    /// `sink` bytes long (0 when there is no sink).
    pub fn checkpoint(&self, sink: u64) -> Checkpoint<P::Output> {
        Checkpoint {
            pipeline: P::NAME.to_string(),
            version: P::version(),
            from: self.from,
            offset: self.position(),
            sink,
            view: self.running.view(),
            journal: self.journal.clone(),
        }
    }

    /// Closes the input (completing what the end of input completes) and returns the output and the
    /// offsets covered.
    pub fn finish(self) -> Result<Replayed<P::Output>, Error> {
        let to = self.position();
        let output = self.running.finish()?;
        Ok(Replayed {
            output,
            from: self.from,
            to,
        })
    }
}

/// Replays `log` from offset `from` to its head through `runner`'s pipeline, `step` records per step,
/// and returns the consolidated output and the offsets covered.
///
/// With `follow: Some(idle)` it then follows the tail: records committed meanwhile are pushed as they
/// come, and once no record arrived for `idle`, the watermark of an event-time pipeline moves up to
/// the greatest event time seen ([`Running::idle`]) and the replay ends. For an endless consumer, drive
/// a [`Replay`] (or a [`deploy`]ment) instead.
pub fn replay<P, I>(
    runner: &Runner<P>,
    log: &EventLog,
    from: u64,
    step: usize,
    follow: Option<Duration>,
) -> Result<Replayed<P::Output>, Error>
where
    P: Pipeline<Inputs = (I,)>,
    I: Record + Schema,
{
    let mut replay = Replay::<P, I>::start(runner, log, from, step)?;
    while replay.step()?.is_some() {}
    if let Some(idle) = follow {
        while replay.follow(idle)?.is_some() {}
        replay.idle()?;
    }
    replay.finish()
}

/// The state of a replay at an offset, enough to resume it exactly: see the [module docs](self).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(bound(serialize = "O: Serialize", deserialize = "O: DeserializeOwned"))]
pub struct Checkpoint<O> {
    /// The pipeline's name.
    pub pipeline: String,
    /// The pipeline's version (its plan's fingerprint).
    pub version: String,
    /// The offset the replay started at.
    pub from: u64,
    /// The offset covered: the records `from..offset` went into the pipeline, none after.
    pub offset: u64,
    /// The length of the output sink at this point, bytes.
    pub sink: u64,
    /// The consolidated output at `offset`.
    pub view: Vec<(O, isize)>,
    journal: Vec<FeedMark>,
}

/// The first bytes of a checkpoint file.
const CHECKPOINT_MAGIC: &[u8; 8] = b"DFCKPT\x00\x01";

impl<O: Serialize + DeserializeOwned> Checkpoint<O> {
    /// Writes the checkpoint to `path` atomically: to a temporary file next to it, flushed to disk,
    /// then renamed over `path`, and the directory flushed. A crash leaves the old checkpoint or the
    /// new one, never a mix.
    pub fn save(&self, path: &Path) -> Result<(), Error> {
        let payload = postcard::to_stdvec(self)
            .map_err(|e| Error::Source(format!("cannot encode a checkpoint: {e}")))?;
        let mut bytes = Vec::with_capacity(payload.len() + 20);
        bytes.extend_from_slice(CHECKPOINT_MAGIC);
        bytes.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
        bytes.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        bytes.extend_from_slice(&payload);
        write_atomically(path, &bytes)
    }

    /// Reads the checkpoint at `path`; `None` if there is none. A damaged file is an error.
    pub fn load(path: &Path) -> Result<Option<Self>, Error> {
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(path, e)),
        };
        let damaged = |why: &str| {
            Error::Source(format!(
                "checkpoint {} is damaged ({why}): remove it to replay from the start",
                path.display()
            ))
        };
        if bytes.len() < 20 || &bytes[..8] != CHECKPOINT_MAGIC {
            return Err(damaged("not a checkpoint file"));
        }
        let crc = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
        let mut len = [0u8; 8];
        len.copy_from_slice(&bytes[12..20]);
        let payload = &bytes[20..];
        if u64::from_le_bytes(len) != payload.len() as u64 {
            return Err(damaged("wrong length"));
        }
        if crc32fast::hash(payload) != crc {
            return Err(damaged("checksum mismatch"));
        }
        postcard::from_bytes(payload)
            .map(Some)
            .map_err(|e| damaged(&e.to_string()))
    }
}

/// Writes `bytes` to `path` atomically: temporary file, fsync, rename, fsync of the directory.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    let temporary = path.with_file_name(name);
    let mut file = File::create(&temporary).map_err(|e| Error::io(&temporary, e))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| Error::io(&temporary, e))?;
    drop(file);
    std::fs::rename(&temporary, path).map_err(|e| Error::io(path, e))?;
    sync_parent(path)
}

fn sync_parent(path: &Path) -> Result<(), Error> {
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    // Directories can be opened and flushed on Unix; elsewhere the rename is as durable as it gets.
    if let Ok(dir) = File::open(parent) {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// An append-only output file whose length a [`Checkpoint`] records: reopened after a restart, it is
/// cut back to the checkpoint's length, so that what the restarted run writes again appears once.
pub struct FileSink {
    path: PathBuf,
    out: BufWriter<File>,
    len: u64,
}

impl FileSink {
    /// Opens `path` for appending after its first `len` bytes, cutting off anything after them: `0`
    /// for a fresh run, [`Checkpoint::sink`] for a resumed one. A file shorter than `len` is an error
    /// (the sink lost data the checkpoint says it held).
    pub fn open(path: &Path, len: u64) -> Result<Self, Error> {
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        let actual = file.metadata().map_err(|e| Error::io(path, e))?.len();
        if actual < len {
            return Err(Error::Source(format!(
                "{} is {actual} bytes long, shorter than the {len} bytes its checkpoint recorded",
                path.display()
            )));
        }
        file.set_len(len).map_err(|e| Error::io(path, e))?;
        file.seek(SeekFrom::Start(len))
            .map_err(|e| Error::io(path, e))?;
        Ok(FileSink {
            path: path.to_path_buf(),
            out: BufWriter::new(file),
            len,
        })
    }

    /// Appends one JSON value and a newline.
    pub fn write_json<T: Serialize>(&mut self, value: &T) -> Result<(), Error> {
        let mut line = serde_json::to_vec(value)
            .map_err(|e| Error::io(&self.path, std::io::Error::other(e)))?;
        line.push(b'\n');
        self.out
            .write_all(&line)
            .map_err(|e| Error::io(&self.path, e))?;
        self.len += line.len() as u64;
        Ok(())
    }

    /// The bytes written so far, including those still buffered.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing has been written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Flushes the buffer and the file to disk; returns the durable length, for a checkpoint.
    pub fn sync(&mut self) -> Result<u64, Error> {
        self.out.flush().map_err(|e| Error::io(&self.path, e))?;
        self.out
            .get_ref()
            .sync_data()
            .map_err(|e| Error::io(&self.path, e))?;
        Ok(self.len)
    }
}

/// Hands out the ids of view tables: each deployment's table is told apart from every other one.
static NEXT_TABLE: AtomicU64 = AtomicU64::new(1);

/// A table of the latest output value per key, with the label of the pipeline version that computed
/// it and the log offset it covers. A [`ServedView`] serves one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ViewTable<K, V> {
    id: u64,
    label: String,
    offset: u64,
    entries: BTreeMap<K, V>,
}

impl<K: Ord, V: PartialEq> ViewTable<K, V> {
    /// An empty table computed by `label` (for example a pipeline's name and version), covering
    /// offset 0.
    pub fn new(label: impl Into<String>) -> Self {
        ViewTable {
            id: NEXT_TABLE.fetch_add(1, Ordering::Relaxed),
            label: label.into(),
            offset: 0,
            entries: BTreeMap::new(),
        }
    }

    /// Applies one step's output changes, keyed by `key`, and records that the table covers `offset`.
    ///
    /// Within each logical time retractions apply before additions, so that a value replaced in a
    /// step (`-old`, `+new`) ends as `new`. A retraction removes its key only if the key still holds
    /// the retracted value. `key` should identify one output record at a time; if several current
    /// records share a key, the table holds the one added last.
    pub fn apply<O>(&mut self, changes: &[Change<O>], key: &impl Fn(&O) -> (K, V), offset: u64) {
        let mut start = 0;
        while start < changes.len() {
            let time = changes[start].time;
            let end = start
                + changes[start..]
                    .iter()
                    .take_while(|c| c.time == time)
                    .count();
            for change in changes[start..end].iter().filter(|c| c.diff < 0) {
                let (k, v) = key(&change.record);
                if self.entries.get(&k) == Some(&v) {
                    self.entries.remove(&k);
                }
            }
            for change in changes[start..end].iter().filter(|c| c.diff > 0) {
                let (k, v) = key(&change.record);
                self.entries.insert(k, v);
            }
            start = end;
        }
        self.offset = self.offset.max(offset);
    }

    /// The value of `key`.
    pub fn get(&self, key: &K) -> Option<&V> {
        self.entries.get(key)
    }

    /// Every key and value, in key order.
    pub fn entries(&self) -> &BTreeMap<K, V> {
        &self.entries
    }

    /// The label of the version that computed the table.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The offset the table covers: it reflects the log's records before it.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The table's id, unique in the process; [`ServedView::update`] takes it.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The number of keys.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the table has no keys.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// The latest output value per key of whichever pipeline version currently serves, queryable while
/// pipelines run: cheap to clone (clones share the table), safe to read from any thread.
///
/// Readers always see one whole table: the one version's state at one offset. [`ServedView::switch`]
/// replaces the table in one write-locked swap.
pub struct ServedView<K, V> {
    table: Arc<RwLock<ViewTable<K, V>>>,
}

impl<K, V> Clone for ServedView<K, V> {
    fn clone(&self) -> Self {
        ServedView {
            table: Arc::clone(&self.table),
        }
    }
}

impl<K: Ord + Clone, V: PartialEq + Clone> Default for ServedView<K, V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: Ord + Clone, V: PartialEq + Clone> ServedView<K, V> {
    /// An empty view that no version serves yet.
    pub fn new() -> Self {
        ServedView {
            table: Arc::new(RwLock::new(ViewTable::new(""))),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, ViewTable<K, V>> {
        self.table.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, ViewTable<K, V>> {
        self.table.write().unwrap_or_else(|p| p.into_inner())
    }

    /// The current value of `key`.
    pub fn get(&self, key: &K) -> Option<V> {
        self.read().get(key).cloned()
    }

    /// The keys in `range` with their values, in key order.
    pub fn range(&self, range: impl RangeBounds<K>) -> Vec<(K, V)> {
        self.read()
            .entries
            .range(range)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// A copy of the whole table: every key, the serving version's label and the offset covered, all
    /// from the same instant.
    pub fn snapshot(&self) -> ViewTable<K, V> {
        self.read().clone()
    }

    /// The label of the serving version (empty before the first switch).
    pub fn label(&self) -> String {
        self.read().label.clone()
    }

    /// The offset the served table covers.
    pub fn offset(&self) -> u64 {
        self.read().offset
    }

    /// The number of keys served.
    pub fn len(&self) -> usize {
        self.read().len()
    }

    /// Whether no key is served.
    pub fn is_empty(&self) -> bool {
        self.read().is_empty()
    }

    /// Whether the table with id `table` is the one served.
    pub fn is_served(&self, table: u64) -> bool {
        self.read().id == table
    }

    /// Serves `table` instead of the current one, in one atomic swap, if it covers at least the
    /// offset the current table covers (so that the view never moves back); returns the label of the
    /// table it replaced. Otherwise gives `table` back, to be brought further and offered again.
    pub fn switch(&self, table: ViewTable<K, V>) -> Result<String, Box<ViewTable<K, V>>> {
        let mut served = self.write();
        if table.offset < served.offset {
            return Err(Box::new(table));
        }
        let previous = std::mem::replace(&mut *served, table);
        Ok(previous.label)
    }

    /// Applies a step's changes to the served table, if it is still the table with id `table`;
    /// returns `false` (changing nothing) if another table has replaced it.
    pub fn update<O>(
        &self,
        table: u64,
        changes: &[Change<O>],
        key: &impl Fn(&O) -> (K, V),
        offset: u64,
    ) -> bool {
        let mut served = self.write();
        if served.id != table {
            return false;
        }
        served.apply(changes, key, offset);
        true
    }
}

/// Where a deployment stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Replaying the log into its own table while another version serves.
    CatchingUp,
    /// Its table is the one served; following the tail.
    Serving,
    /// Another version replaced its table; it stopped.
    Retired,
    /// Stopped by [`Deployment::stop`].
    Stopped,
    /// Stopped by an error, which [`Deployment::join`] returns.
    Failed,
}

/// The moment a deployment's table replaced the served one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Switch {
    /// The offset its table covered at the switch.
    pub offset: u64,
    /// The label of the table it replaced (empty if none was served).
    pub replaced: String,
    /// The time from the deployment's start to the switch: the catch-up time.
    pub after: Duration,
}

/// A deployment's progress, for timelines and for waiting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Progress {
    /// The deployment's label: the pipeline's name and version.
    pub label: String,
    /// Where it stands.
    pub phase: Phase,
    /// The offset its pipeline covers.
    pub position: u64,
    /// The log's head when it was deployed.
    pub head_at_start: u64,
    /// When its table started being served.
    pub switch: Option<Switch>,
    /// The offset its pipeline covered when it noticed it was replaced.
    pub retired_at: Option<u64>,
}

/// Options of a [`deploy`]ment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeployOptions {
    /// Records per step (default 1000).
    pub step: usize,
    /// How long a serving deployment waits for new records before it checks whether it was replaced
    /// or stopped (default 20 ms).
    pub poll: Duration,
    /// Event-time pipelines: after the log has been idle this long, move the watermark up to the
    /// greatest event time seen ([`Running::idle`]). `None` (the default) never does.
    pub idle_timeout: Option<Duration>,
}

impl Default for DeployOptions {
    fn default() -> Self {
        DeployOptions {
            step: 1000,
            poll: Duration::from_millis(20),
            idle_timeout: None,
        }
    }
}

/// What a deployment did, returned when it ends.
#[derive(Clone, Debug, PartialEq)]
pub struct DeploymentReport<O> {
    /// Its final progress.
    pub progress: Progress,
    /// Its pipeline's consolidated output and the offsets it covered.
    pub replayed: Replayed<O>,
}

struct Shared {
    progress: Mutex<Progress>,
    changed: Condvar,
    stop: AtomicBool,
}

impl Shared {
    fn update(&self, f: impl FnOnce(&mut Progress)) {
        let mut progress = self.progress.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut progress);
        self.changed.notify_all();
    }
}

/// A pipeline version running on its own thread, catching up with the log and then serving a view.
/// See [`deploy`].
pub struct Deployment<O> {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<Result<Replayed<O>, Error>>>,
}

impl<O> Deployment<O> {
    /// The current progress.
    pub fn progress(&self) -> Progress {
        self.shared
            .progress
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Waits until `condition` holds for the progress, or the deployment ends, or `timeout` passes;
    /// returns the progress then. Fails if the condition does not hold by then.
    pub fn wait_until(
        &self,
        condition: impl Fn(&Progress) -> bool,
        timeout: Duration,
    ) -> Result<Progress, Error> {
        let deadline = Instant::now() + timeout;
        let mut progress = self
            .shared
            .progress
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        loop {
            if condition(&progress) {
                return Ok(progress.clone());
            }
            let now = Instant::now();
            let ended = matches!(
                progress.phase,
                Phase::Retired | Phase::Stopped | Phase::Failed
            );
            if ended || now >= deadline {
                return Err(Error::Source(format!(
                    "deployment {} did not reach the awaited state (it is {:?} at offset {})",
                    progress.label, progress.phase, progress.position
                )));
            }
            progress = self
                .shared
                .changed
                .wait_timeout(progress, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// Stops the deployment and returns its report.
    pub fn stop(mut self) -> Result<DeploymentReport<O>, Error> {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.join_thread()
    }

    /// Waits for the deployment to end by itself (retired, or failed) and returns its report.
    pub fn join(mut self) -> Result<DeploymentReport<O>, Error> {
        self.join_thread()
    }

    fn join_thread(&mut self) -> Result<DeploymentReport<O>, Error> {
        let thread = self
            .thread
            .take()
            .ok_or_else(|| Error::Usage("the deployment was already joined".into()))?;
        let replayed = thread
            .join()
            .map_err(|_| Error::WorkerPanicked("a deployment thread panicked".into()))??;
        Ok(DeploymentReport {
            progress: self.progress(),
            replayed,
        })
    }
}

impl<O> Drop for Deployment<O> {
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            self.shared.stop.store(true, Ordering::SeqCst);
            let _ = thread.join();
        }
    }
}

/// Deploys `runner`'s pipeline to serve `view`, keyed by `key`.
///
/// A thread replays `log` from offset 0 into a private table while the version currently serving
/// `view` (if any) keeps serving. When the replay has caught up with the head, its table replaces the
/// served one atomically ([`ServedView::switch`]); it then follows the tail and keeps the view up to
/// date, until [`Deployment::stop`] or until another deployment replaces its table (it then retires).
pub fn deploy<P, I, K, V, F>(
    runner: Runner<P>,
    log: &EventLog,
    view: &ServedView<K, V>,
    key: F,
    options: DeployOptions,
) -> Result<Deployment<P::Output>, Error>
where
    P: Pipeline<Inputs = (I,)>,
    I: Record + Schema,
    K: Ord + Clone + Send + Sync + 'static,
    V: PartialEq + Clone + Send + Sync + 'static,
    F: Fn(&P::Output) -> (K, V) + Send + 'static,
{
    let label = format!("{} {}", P::NAME, P::version());
    let shared = Arc::new(Shared {
        progress: Mutex::new(Progress {
            label: label.clone(),
            phase: Phase::CatchingUp,
            position: 0,
            head_at_start: log.head(),
            switch: None,
            retired_at: None,
        }),
        changed: Condvar::new(),
        stop: AtomicBool::new(false),
    });
    let replay = Replay::<P, I>::start(&runner, log, 0, options.step)?;
    let thread_shared = Arc::clone(&shared);
    let view = view.clone();
    let thread = std::thread::Builder::new()
        .name(format!("deploy {}", P::NAME))
        .spawn(move || {
            let result = serve(replay, &view, &key, options, label, &thread_shared);
            if result.is_err() {
                thread_shared.update(|p| p.phase = Phase::Failed);
            }
            result
        })
        .map_err(|e| Error::Timely(format!("cannot start a deployment thread: {e}")))?;
    Ok(Deployment {
        shared,
        thread: Some(thread),
    })
}

/// A deployment's thread: catch up privately, switch, then follow and serve until replaced or stopped.
fn serve<P, I, K, V>(
    mut replay: Replay<P, I>,
    view: &ServedView<K, V>,
    key: &impl Fn(&P::Output) -> (K, V),
    options: DeployOptions,
    label: String,
    shared: &Shared,
) -> Result<Replayed<P::Output>, Error>
where
    P: Pipeline<Inputs = (I,)>,
    I: Record + Schema,
    K: Ord + Clone,
    V: PartialEq + Clone,
{
    let started = Instant::now();
    let mut table = ViewTable::new(label);
    let id = table.id();
    // Catch up: replay into the private table until it covers what is committed, then swap it in.
    loop {
        if shared.stop.load(Ordering::SeqCst) {
            shared.update(|p| p.phase = Phase::Stopped);
            return replay.finish();
        }
        match replay.step()? {
            Some(step) => {
                table.apply(&step.changes, key, step.to);
                shared.update(|p| p.position = step.to);
            }
            None => match view.switch(table) {
                Ok(replaced) => {
                    let offset = replay.position();
                    shared.update(|p| {
                        p.phase = Phase::Serving;
                        p.switch = Some(Switch {
                            offset,
                            replaced,
                            after: started.elapsed(),
                        });
                    });
                    break;
                }
                // The served table is ahead of what this replay had seen committed: read on.
                Err(back) => table = *back,
            },
        }
    }
    // Serve: follow the tail until stopped or replaced.
    let mut last_record = Instant::now();
    let mut idled = true;
    loop {
        if shared.stop.load(Ordering::SeqCst) {
            shared.update(|p| p.phase = Phase::Stopped);
            break;
        }
        match replay.follow(options.poll)? {
            Some(step) => {
                last_record = Instant::now();
                idled = false;
                if !view.update(id, &step.changes, key, step.to) {
                    shared.update(|p| {
                        p.phase = Phase::Retired;
                        p.retired_at = Some(step.to);
                        p.position = step.to;
                    });
                    break;
                }
                shared.update(|p| p.position = step.to);
            }
            None => {
                if !view.is_served(id) {
                    let at = replay.position();
                    shared.update(|p| {
                        p.phase = Phase::Retired;
                        p.retired_at = Some(at);
                    });
                    break;
                }
                if let Some(timeout) = options.idle_timeout
                    && !idled
                    && last_record.elapsed() >= timeout
                {
                    idled = true;
                    let changes = replay.idle()?;
                    view.update(id, &changes, key, replay.position());
                }
            }
        }
    }
    replay.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(record: (&'static str, u64), time: u64, diff: isize) -> Change<(&'static str, u64)> {
        Change { record, time, diff }
    }

    #[test]
    fn tables_apply_retractions_before_additions() {
        let key = |r: &(&'static str, u64)| (r.0, r.1);
        let mut table = ViewTable::new("v");
        table.apply(&[change(("a", 1), 0, 1), change(("b", 5), 0, 1)], &key, 2);
        // `a` goes from 1 to 2: sorted by record, the addition comes first in the list.
        table.apply(&[change(("a", 1), 1, -1), change(("a", 2), 1, 1)], &key, 3);
        table.apply(&[change(("b", 5), 2, -1)], &key, 4);
        assert_eq!(table.get(&"a"), Some(&2));
        assert_eq!(table.get(&"b"), None);
        assert_eq!(table.offset(), 4);
        // A stale retraction does not remove the newer value.
        table.apply(&[change(("a", 1), 3, -1)], &key, 5);
        assert_eq!(table.get(&"a"), Some(&2));
    }

    #[test]
    fn a_view_only_switches_forward_and_only_its_table_updates_it() {
        let key = |r: &(&'static str, u64)| (r.0, r.1);
        let view = ServedView::new();
        let mut first = ViewTable::new("v1");
        first.apply(&[change(("a", 1), 0, 1)], &key, 10);
        let first_id = first.id();
        assert_eq!(view.switch(first).unwrap(), "");
        let behind = ViewTable::new("v2");
        let mut behind = view.switch(behind).unwrap_err();
        assert_eq!(view.label(), "v1");
        behind.apply(&[change(("a", 7), 0, 1)], &key, 10);
        let behind_id = behind.id();
        assert_eq!(view.switch(*behind).unwrap(), "v1");
        assert!(!view.update(first_id, &[change(("z", 1), 1, 1)], &key, 11));
        assert!(view.update(behind_id, &[change(("b", 1), 1, 1)], &key, 11));
        assert_eq!(view.range(..), vec![("a", 7), ("b", 1)]);
        assert_eq!(view.offset(), 11);
    }

    #[test]
    fn journals_merge_equal_neighbours() {
        let mut journal = Vec::new();
        for mark in [
            FeedMark::Steps { size: 5, count: 1 },
            FeedMark::Steps { size: 5, count: 1 },
            FeedMark::Steps { size: 3, count: 1 },
            FeedMark::Idle { count: 1 },
            FeedMark::Idle { count: 1 },
        ] {
            note(&mut journal, mark);
        }
        assert_eq!(
            journal,
            vec![
                FeedMark::Steps { size: 5, count: 2 },
                FeedMark::Steps { size: 3, count: 1 },
                FeedMark::Idle { count: 2 },
            ]
        );
    }

    #[test]
    fn checkpoints_round_trip_and_damage_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cp");
        assert_eq!(Checkpoint::<String>::load(&path).unwrap(), None);
        let checkpoint = Checkpoint {
            pipeline: "p".into(),
            version: "v".into(),
            from: 0,
            offset: 9,
            sink: 123,
            view: vec![("x".to_string(), 1)],
            journal: vec![FeedMark::Steps { size: 9, count: 1 }],
        };
        checkpoint.save(&path).unwrap();
        assert_eq!(Checkpoint::<String>::load(&path).unwrap(), Some(checkpoint));
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        std::fs::write(&path, bytes).unwrap();
        let error = Checkpoint::<String>::load(&path).unwrap_err().to_string();
        assert!(error.contains("checksum mismatch"), "{error}");
    }

    #[test]
    fn sinks_cut_back_to_the_checkpointed_length() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.jsonl");
        let mut sink = FileSink::open(&path, 0).unwrap();
        sink.write_json(&1).unwrap();
        let kept = sink.sync().unwrap();
        sink.write_json(&2).unwrap();
        sink.sync().unwrap();
        drop(sink);
        let mut sink = FileSink::open(&path, kept).unwrap();
        sink.write_json(&3).unwrap();
        sink.sync().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "1\n3\n");
        let error = FileSink::open(&path, 100).err().unwrap().to_string();
        assert!(error.contains("shorter"), "{error}");
    }
}
