//! The state a log handle shares with its readers: the directory, the segment table,
//! the committed head and the condition variable that signals commits.
//!
//! The writer ([`crate::log`]), the readers ([`crate::reader`]) and the checks
//! ([`crate::verify`]) all work on this state; it depends on none of them.

use std::fs::File;
use std::path::PathBuf;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::format::IndexEntry;
use crate::options::LogOptions;

/// What the log knows about one segment.
#[derive(Debug, Clone)]
pub(crate) struct SegmentMeta {
    /// The offset of the segment's first record.
    pub base: u64,
    /// One past the offset of its last readable record.
    pub end: u64,
    /// Its readable length in bytes (header included).
    pub bytes: u64,
    /// Whether the segment is sealed (its index lives in its `.idx` file) or is the last
    /// segment (its index is `index`).
    pub sealed: bool,
    /// The in-memory sparse index of the last segment.
    pub index: Vec<IndexEntry>,
}

/// What readers need: the segments and the committed head.
pub(crate) struct State {
    pub segments: Vec<SegmentMeta>,
    pub head: u64,
}

/// The part of a log shared by every handle and reader of it.
pub(crate) struct Shared {
    pub dir: PathBuf,
    pub options: LogOptions,
    state: Mutex<State>,
    head_moved: Condvar,
    /// Whether the log was opened read-only (another process may be appending).
    pub read_only: bool,
    /// Holds the directory's write lock for as long as the log is open (writers only).
    _lock: Option<File>,
    /// The record shapes the log holds, once read (see `shapes`).
    pub shapes: Mutex<Option<crate::shapes::Shapes>>,
}

impl Shared {
    pub fn new(dir: PathBuf, options: LogOptions, state: State, lock: Option<File>) -> Self {
        Shared {
            dir,
            options,
            state: Mutex::new(state),
            head_moved: Condvar::new(),
            read_only: lock.is_none(),
            _lock: lock,
            shapes: Mutex::new(None),
        }
    }

    pub fn state(&self) -> MutexGuard<'_, State> {
        // State updates are single assignments under the lock; a panic elsewhere cannot
        // leave it half-updated.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn head(&self) -> u64 {
        self.state().head
    }

    /// Wakes every reader waiting in [`Shared::wait_past`]; call after moving the head.
    pub fn notify_head_moved(&self) {
        self.head_moved.notify_all();
    }

    /// Waits until the head passes `offset` or `timeout` expires; true if it passed.
    pub fn wait_past(&self, offset: u64, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut state = self.state();
        while state.head <= offset {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            state = self
                .head_moved
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        true
    }
}
