//! Served views: the latest output value per key of whichever pipeline version serves, queryable
//! while pipelines run, replaced by a new version in one atomic switch.

use crate::log::Position;
use crate::runtime::Change;
use std::collections::BTreeMap;
use std::ops::RangeBounds;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// Hands out the ids of view tables: each deployment's table is told apart from every other one.
static NEXT_TABLE: AtomicU64 = AtomicU64::new(1);

/// A table of the latest output value per key, with the label of the pipeline version that computed
/// it and the log offset it covers. A [`ServedView`] serves one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ViewTable<K, V, Pos = u64> {
    id: u64,
    label: String,
    offset: Pos,
    entries: BTreeMap<K, V>,
}

impl<K: Ord, V: PartialEq, Pos: Position> ViewTable<K, V, Pos> {
    /// An empty table computed by `label` (for example a pipeline's name and version), covering
    /// the start of the log.
    pub fn new(label: impl Into<String>) -> Self {
        ViewTable {
            id: NEXT_TABLE.fetch_add(1, Ordering::Relaxed),
            label: label.into(),
            offset: Pos::default(),
            entries: BTreeMap::new(),
        }
    }

    /// Applies one step's output changes, keyed by `key`, and records that the table covers `offset`.
    ///
    /// Within each logical time retractions apply before additions, so that a value replaced in a
    /// step (`-old`, `+new`) ends as `new`. A retraction removes its key only if the key still holds
    /// the retracted value. `key` should identify one output record at a time; if several current
    /// records share a key, the table holds the one added last.
    pub fn apply<O>(&mut self, changes: &[Change<O>], key: &impl Fn(&O) -> (K, V), offset: Pos) {
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
        if offset.covers(&self.offset) {
            self.offset = offset;
        }
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
    pub fn offset(&self) -> Pos {
        self.offset.clone()
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
pub struct ServedView<K, V, Pos = u64> {
    table: Arc<RwLock<ViewTable<K, V, Pos>>>,
}

impl<K, V, Pos> Clone for ServedView<K, V, Pos> {
    fn clone(&self) -> Self {
        ServedView {
            table: Arc::clone(&self.table),
        }
    }
}

impl<K: Ord + Clone, V: PartialEq + Clone, Pos: Position> Default for ServedView<K, V, Pos> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: Ord + Clone, V: PartialEq + Clone, Pos: Position> ServedView<K, V, Pos> {
    /// An empty view that no version serves yet.
    pub fn new() -> Self {
        ServedView {
            table: Arc::new(RwLock::new(ViewTable::new(""))),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, ViewTable<K, V, Pos>> {
        self.table.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, ViewTable<K, V, Pos>> {
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
    pub fn snapshot(&self) -> ViewTable<K, V, Pos> {
        self.read().clone()
    }

    /// The label of the serving version (empty before the first switch).
    pub fn label(&self) -> String {
        self.read().label.clone()
    }

    /// The offset the served table covers.
    pub fn offset(&self) -> Pos {
        self.read().offset.clone()
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
    #[allow(clippy::type_complexity)]
    pub fn switch(&self, table: ViewTable<K, V, Pos>) -> Result<String, Box<ViewTable<K, V, Pos>>> {
        let mut served = self.write();
        if !table.offset.covers(&served.offset) {
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
        offset: Pos,
    ) -> bool {
        let mut served = self.write();
        if served.id != table {
            return false;
        }
        served.apply(changes, key, offset);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::clock::Time;

    fn change(record: (&'static str, u64), time: Time, diff: isize) -> Change<(&'static str, u64)> {
        Change { record, time, diff }
    }

    #[test]
    fn tables_apply_retractions_before_additions() {
        let key = |r: &(&'static str, u64)| (r.0, r.1);
        let mut table: ViewTable<_, _> = ViewTable::new("v");
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
        let view: ServedView<_, _> = ServedView::new();
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
}
