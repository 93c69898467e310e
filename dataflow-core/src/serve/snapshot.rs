//! Snapshots of a view, the ones retained for `as_of` and cursors, and the subscriptions to its
//! changes.
//!
//! The pipeline's driver owns a [`Table`]; after each step it publishes a [`Snapshot`] (an
//! immutable copy of the table at the offset the step covers) and the step's changes. Readers only
//! ever hold whole snapshots, so every answer is one offset's state.

use crate::serve::key::ViewKey;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// The current output records of one key, each as its JSON text, with its multiplicity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRows {
    /// The records (JSON text, as `--output` writes them) and their multiplicities (all positive).
    pub records: Vec<(Arc<str>, isize)>,
    /// The event-time window `[start, end)` of a windowed output's row.
    pub window: Option<(u64, u64)>,
}

/// A view at one offset: every key's rows, the offset covered and (for event-time pipelines) the
/// watermark. Immutable once published.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// Every record of the log before this offset went into the answer, none after it.
    pub offset: u64,
    /// Lambda: the batch layer's boundary `B` (the batch view covers `[0, B)`, the speed layer
    /// `[B, offset)`); `None` in Kappa.
    pub boundary: Option<u64>,
    /// The watermark, ms (event-time pipelines).
    pub watermark: Option<u64>,
    /// The rows, in key order.
    pub rows: BTreeMap<ViewKey, Arc<KeyRows>>,
}

/// One change of the view: a record of `key` added (`diff > 0`) or retracted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowChange {
    /// The record's key.
    pub key: ViewKey,
    /// The record as JSON text.
    pub record: Arc<str>,
    /// The record's window (windowed outputs).
    pub window: Option<(u64, u64)>,
    /// The change of its multiplicity.
    pub diff: isize,
}

/// The mutable table a driver keeps and publishes snapshots of.
#[derive(Clone, Debug, Default)]
pub struct Table {
    rows: BTreeMap<ViewKey, Arc<KeyRows>>,
}

impl Table {
    /// Applies `change`: the key's record gains `diff` in multiplicity; records at zero go, and a key
    /// without records goes.
    pub fn apply(&mut self, change: &RowChange) {
        let entry = self.rows.entry(change.key.clone()).or_insert_with(|| {
            Arc::new(KeyRows {
                records: Vec::new(),
                window: change.window,
            })
        });
        let rows = Arc::make_mut(entry);
        match rows.records.iter_mut().find(|(r, _)| *r == change.record) {
            Some((_, n)) => *n += change.diff,
            None => rows.records.push((change.record.clone(), change.diff)),
        }
        rows.records.retain(|(_, n)| *n != 0);
        rows.records.sort();
        if rows.records.is_empty() {
            self.rows.remove(&change.key);
        }
    }

    /// The rows of `key`.
    pub fn get(&self, key: &ViewKey) -> Option<&Arc<KeyRows>> {
        self.rows.get(key)
    }

    /// A snapshot of the table at `offset`.
    pub fn snapshot(&self, offset: u64, boundary: Option<u64>, watermark: Option<u64>) -> Snapshot {
        Snapshot {
            offset,
            boundary,
            watermark,
            rows: self.rows.clone(),
        }
    }
}

/// How long snapshots stay readable by `as_of` and cursors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    /// Keep each snapshot at least this long after it was published (while fewer than `max` are
    /// kept), and every snapshot a cursor names this long after the cursor was issued.
    pub period: Duration,
    /// Keep at most this many recent snapshots (besides those cursors name).
    pub max: usize,
    /// Keep at most this many snapshots named by cursors.
    pub max_pinned: usize,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            period: Duration::from_secs(60),
            max: 64,
            max_pinned: 256,
        }
    }
}

/// The snapshots kept for `as_of` and cursors.
#[derive(Debug)]
pub struct Retained {
    retention: Retention,
    recent: VecDeque<(Instant, Arc<Snapshot>)>,
    pinned: BTreeMap<u64, (Instant, Arc<Snapshot>)>,
}

impl Retained {
    /// An empty store keeping snapshots as `retention` says.
    pub fn new(retention: Retention) -> Retained {
        Retained {
            retention,
            recent: VecDeque::new(),
            pinned: BTreeMap::new(),
        }
    }

    /// Keeps a newly published snapshot and drops those past retention.
    pub fn push(&mut self, snapshot: Arc<Snapshot>) {
        let now = Instant::now();
        self.recent.push_back((now, snapshot));
        while self.recent.len() > self.retention.max.max(1)
            || (self.recent.len() > 1
                && self
                    .recent
                    .front()
                    .is_some_and(|(at, _)| now.duration_since(*at) > self.retention.period))
        {
            self.recent.pop_front();
        }
        self.pinned
            .retain(|_, (at, _)| now.duration_since(*at) <= self.retention.period);
    }

    /// Keeps `snapshot` for a retention period from now, for a cursor that names it.
    pub fn pin(&mut self, snapshot: &Arc<Snapshot>) {
        self.pinned
            .insert(snapshot.offset, (Instant::now(), Arc::clone(snapshot)));
        while self.pinned.len() > self.retention.max_pinned.max(1) {
            let oldest = self
                .pinned
                .iter()
                .min_by_key(|(_, (at, _))| *at)
                .map(|(offset, _)| *offset);
            match oldest {
                Some(offset) => self.pinned.remove(&offset),
                None => break,
            };
        }
    }

    /// The retained snapshot at exactly `offset`.
    pub fn exact(&self, offset: u64) -> Option<Arc<Snapshot>> {
        if let Some((_, snapshot)) = self.pinned.get(&offset) {
            return Some(Arc::clone(snapshot));
        }
        self.recent
            .iter()
            .rev()
            .find(|(_, s)| s.offset == offset)
            .map(|(_, s)| Arc::clone(s))
    }

    /// The newest retained snapshot at or before `offset`, if one that old is still retained.
    pub fn at(&self, offset: u64) -> Option<Arc<Snapshot>> {
        let recent = self.recent.iter().rev().map(|(_, s)| s);
        let pinned = self.pinned.values().map(|(_, s)| s);
        recent
            .chain(pinned)
            .filter(|s| s.offset <= offset)
            .max_by_key(|s| s.offset)
            .cloned()
    }

    /// The oldest and newest retained offsets.
    pub fn span(&self) -> Option<(u64, u64)> {
        let offsets = self
            .recent
            .iter()
            .map(|(_, s)| s.offset)
            .chain(self.pinned.keys().copied());
        offsets.fold(None, |span, o| match span {
            None => Some((o, o)),
            Some((lo, hi)) => Some((lo.min(o), hi.max(o))),
        })
    }
}

/// The changes of one step, published after it: what changed and the offset covered after it.
#[derive(Clone, Debug, Default)]
pub struct StepChanges {
    /// The offset covered before the step.
    pub from: u64,
    /// The offset covered after it: its changes are in every snapshot at or after this offset.
    pub to: u64,
    /// The watermark after the step (event-time pipelines).
    pub watermark: Option<u64>,
    /// The step's changes.
    pub changes: Vec<RowChange>,
}

/// What a new subscription starts with, and the channel of what follows.
pub struct Subscription {
    /// Steps already published that the subscriber asked for, oldest first.
    pub backlog: Vec<Arc<StepChanges>>,
    /// The steps published from now on.
    pub receiver: mpsc::Receiver<Arc<StepChanges>>,
}

/// The recent steps' changes, and the subscribers to the next ones.
pub struct Hub {
    history: VecDeque<Arc<StepChanges>>,
    history_changes: usize,
    max_history_changes: usize,
    /// The history holds every step from this offset on.
    complete_from: u64,
    latest: Arc<Snapshot>,
    subscribers: Vec<mpsc::Sender<Arc<StepChanges>>>,
    buffer: usize,
    dropped: u64,
}

/// Why a subscription cannot start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SubscribeError {
    /// The changes from that offset are no longer kept; they are kept from `kept_from` on.
    Gone {
        /// The oldest offset changes are kept from.
        kept_from: u64,
    },
}

impl Hub {
    /// A hub keeping up to `max_history_changes` recent changes and buffering up to `buffer` steps
    /// per subscriber.
    pub fn new(max_history_changes: usize, buffer: usize) -> Hub {
        Hub {
            history: VecDeque::new(),
            history_changes: 0,
            max_history_changes,
            complete_from: 0,
            latest: Arc::new(Snapshot::default()),
            subscribers: Vec::new(),
            buffer: buffer.max(1),
            dropped: 0,
        }
    }

    /// Publishes a step and the snapshot after it. A subscriber whose buffer is full is dropped
    /// (its stream ends); nobody waits.
    pub fn publish(&mut self, step: Arc<StepChanges>, snapshot: Arc<Snapshot>) {
        self.latest = snapshot;
        let mut dropped = 0;
        self.subscribers
            .retain(|tx| match tx.try_send(Arc::clone(&step)) {
                Ok(()) => true,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    dropped += 1;
                    false
                }
                // The client went away.
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            });
        self.dropped += dropped;
        self.history_changes += step.changes.len();
        self.history.push_back(step);
        while self.history_changes > self.max_history_changes && self.history.len() > 1 {
            if let Some(old) = self.history.pop_front() {
                self.history_changes -= old.changes.len();
                self.complete_from = old.to;
            }
        }
    }

    /// A subscription to the changes of every step that ends after `from_offset`. From offset 0,
    /// when the oldest steps are no longer kept, the backlog starts with the current rows as
    /// additions at the current offset (what all changes so far add up to).
    pub fn subscribe(&mut self, from_offset: u64) -> Result<Subscription, SubscribeError> {
        let backlog = if from_offset >= self.complete_from {
            self.history
                .iter()
                .filter(|s| s.to > from_offset)
                .cloned()
                .collect()
        } else if from_offset == 0 {
            vec![Arc::new(rows_as_step(&self.latest))]
        } else {
            return Err(SubscribeError::Gone {
                kept_from: self.complete_from,
            });
        };
        let (tx, receiver) = mpsc::channel(self.buffer);
        self.subscribers.push(tx);
        Ok(Subscription { backlog, receiver })
    }

    /// Subscribers now, and how many were dropped for not reading.
    pub fn subscribers(&self) -> (usize, u64) {
        (self.subscribers.len(), self.dropped)
    }
}

/// A snapshot's rows as one step of additions from offset 0.
fn rows_as_step(snapshot: &Snapshot) -> StepChanges {
    let changes = snapshot
        .rows
        .iter()
        .flat_map(|(key, rows)| {
            rows.records.iter().map(|(record, n)| RowChange {
                key: key.clone(),
                record: Arc::clone(record),
                window: rows.window,
                diff: *n,
            })
        })
        .collect();
    StepChanges {
        from: 0,
        to: snapshot.offset,
        watermark: snapshot.watermark,
        changes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(key: &str, record: &str, diff: isize) -> RowChange {
        RowChange {
            key: ViewKey::parse(key).unwrap(),
            record: record.into(),
            window: None,
            diff,
        }
    }

    #[test]
    fn a_table_keeps_current_records_per_key() {
        let mut table = Table::default();
        table.apply(&change("a", "{\"n\":1}", 1));
        table.apply(&change("a", "{\"n\":2}", 1));
        table.apply(&change("a", "{\"n\":1}", -1));
        let a = ViewKey::parse("a").unwrap();
        assert_eq!(
            table.get(&a).unwrap().records,
            vec![("{\"n\":2}".into(), 1)]
        );
        table.apply(&change("a", "{\"n\":2}", -1));
        assert!(table.get(&a).is_none());
    }

    #[test]
    fn retention_keeps_the_newest_and_the_pinned() {
        let mut retained = Retained::new(Retention {
            period: Duration::from_secs(60),
            max: 2,
            max_pinned: 1,
        });
        let at = |offset| {
            Arc::new(Snapshot {
                offset,
                ..Snapshot::default()
            })
        };
        retained.push(at(0));
        retained.pin(&at(0));
        retained.push(at(5));
        retained.push(at(9));
        assert_eq!(retained.at(7).unwrap().offset, 5);
        assert_eq!(retained.exact(0).unwrap().offset, 0, "pinned");
        assert!(retained.exact(3).is_none());
        assert_eq!(retained.span(), Some((0, 9)));
        retained.pin(&at(5));
        assert!(retained.exact(0).is_none(), "only one pin kept");
    }

    #[test]
    fn a_subscriber_that_does_not_read_is_dropped_without_blocking() {
        let mut hub = Hub::new(1000, 2);
        let sub = hub.subscribe(0).unwrap();
        for to in 1..=5 {
            let step = Arc::new(StepChanges {
                from: to - 1,
                to,
                ..StepChanges::default()
            });
            hub.publish(step, Arc::new(Snapshot::default()));
        }
        assert_eq!(hub.subscribers(), (0, 1));
        drop(sub);
        let late = hub.subscribe(3).unwrap();
        assert_eq!(
            late.backlog.iter().map(|s| s.to).collect::<Vec<_>>(),
            vec![4, 5]
        );
    }

    #[test]
    fn history_past_its_bound_is_gone_except_from_the_start() {
        let mut hub = Hub::new(1, 4);
        for to in 1..=3 {
            let step = Arc::new(StepChanges {
                from: to - 1,
                to,
                changes: vec![change("a", &format!("{to}"), 1)],
                ..StepChanges::default()
            });
            let mut table = Table::default();
            table.apply(&change("a", &format!("{to}"), 1));
            hub.publish(step, Arc::new(table.snapshot(to, None, None)));
        }
        assert_eq!(
            hub.subscribe(1).err(),
            Some(SubscribeError::Gone { kept_from: 2 })
        );
        let from_start = hub.subscribe(0).unwrap();
        assert_eq!(from_start.backlog.len(), 1);
        assert_eq!(from_start.backlog[0].to, 3);
        assert_eq!(from_start.backlog[0].changes.len(), 1);
    }
}
