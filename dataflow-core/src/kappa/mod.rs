//! Kappa: the event log as the source of truth. Replay a pipeline from any offset, serve its output
//! as a view queryable while it runs, reprocess history with a new version and switch the served view
//! over to it atomically, and checkpoint so that a restarted process resumes without loss or
//! duplication.
//!
//! # Replay: the third way to feed a pipeline
//!
//! A pipeline reads the log's records from an offset, in steps of up to `step` records, through the
//! same [`Running::push`](crate::Running::push) that a stream uses, so it computes exactly what a stream with the same steps
//! would. [`replay`] runs from an offset to the head (and optionally follows the tail until the log has
//! been idle for a while); [`Replay`] is the handle to drive it step by step. Records are decoded with
//! [`Schema`]: records written by an older version of the input type are upgraded, and an unreadable
//! record is an error naming its offset, never a silent skip. Every step knows the offset it covers:
//! every record before it has been pushed, none after it.
//!
//! Event-time pipelines take event time from the data, as in batch and stream mode. While following
//! the tail, a log idle for the idle timeout moves the watermark up to the greatest event time seen
//! ([`Running::idle`](crate::Running::idle)), so that idle periods do not hold windows open.
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
//! A [`Checkpoint`] records the offset a run covers, the consolidated output at that offset, the
//! length of its output sink (a [`FileSink`]) at that point, and the sequence of steps that got there.
//! It is written atomically (temporary file, fsync, rename, fsync of the directory).
//!
//! On restart, [`Replay::resume`] rebuilds the pipeline's operator state by replaying the log from
//! the checkpoint's starting offset up to its covered offset *in the same steps*, discarding the output
//! of those steps (the sink already holds it), checks that the rebuilt output equals the checkpointed
//! one, and goes on from there. The sink is truncated back to the length the checkpoint recorded, so
//! changes written after the checkpoint by the killed process are written again exactly once.
//!
//! Why rebuild instead of restoring operator state: the state lives inside timely and differential
//! operators (arrangements, hash aggregates, window buffers, per-key scan histories), which have no
//! snapshot format, and the output alone does not determine it (a window still open, a scan's
//! history). Replaying the log is deterministic: the same records in the same steps give the same state
//! and the same logical times, so the output after the restart is byte for byte the output of an
//! uninterrupted run. The checked output turns any difference (a changed log, a non-deterministic stage)
//! into an error instead of a silently different output. The price is a replay of the prefix on
//! restart, at replay speed.
//!
//! Across the processes of a cluster, every process replays its own partitions and tells process 0,
//! with each step, how it fed it and where it stands ([`Running::note`](crate::Running::note)).
//! Process 0 writes one checkpoint, with a part per process cut at the logical time of its own last
//! complete step; at a restart, every process rebuilds its own part, and process 0 checks the output.
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
//! let deployment = kappa::deploy::<Clicks, Click, _, _, _, _>(
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

mod checkpoint;
mod deploy;
mod replay;
mod sink;
mod view;

pub use crate::log::{
    DecodeError, EventLog, FsyncPolicy, LogError, LogOptions, LogRecord, Schema, shape_fingerprint,
    upgrade_from,
};
pub use checkpoint::{Checkpoint, write_atomically};
pub use deploy::{DeployOptions, Deployment, DeploymentReport, Phase, Progress, Switch, deploy};
pub use replay::{Control, Follow, Replay, ReplayHooks, ReplayStep, Replayed, replay};
pub use sink::FileSink;
pub use view::{ServedView, ViewTable};
