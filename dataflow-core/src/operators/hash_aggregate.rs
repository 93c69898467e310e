//! The hash aggregate: one accumulator per key in a hash table, for `count`, `sum`, `min`, `max`,
//! `mean`, `aggregate` and `distinct` on streams without windows.
//!
//! Every built-in aggregate is *abelian*: its accumulator can take a record away as well as add it
//! (`min` and `max` keep a count per value to do so). That lets one operator keep one accumulator per
//! key and still produce exactly what differential-dataflow's `reduce` produces, retractions included:
//!
//! ```text
//!  time  input (key, value, diff)      accumulator      output (key, result, diff)
//!   0    (a, 3, +1) (a, 4, +1)         a: sum 7          (a, 7, +1)
//!   1    (a, 3, -1) (b, 1, +1)         a: 4, b: 1        (a, 7, -1) (a, 4, +1) (b, 1, +1)
//!   2    (a, 4, -1)                    a: gone           (a, 4, -1)
//! ```

use crate::accumulators::Accumulator;
use crate::context::Context;
use crate::operators::keyed::{Emitter, Group, KeyedState, keyed_operator};
use crate::record::{HashMap, Record};
use crate::time::clock::Time;
use differential_dataflow::{Hashable, VecCollection};
use std::marker::PhantomData;
use timely::dataflow::operators::Capability;

/// Keyed state of a hash aggregate: a group per key plus the keys changed in the open time.
struct Table<K, V, A: Accumulator<V>> {
    acc: A,
    groups: HashMap<K, Group<A::State, A::Output>>,
    dirty: Vec<K>,
    _v: PhantomData<fn(&V)>,
}

impl<K: Record, V: Record, A: Accumulator<V>> KeyedState for Table<K, V, A>
where
    A::Output: Record,
{
    type In = (K, V);
    type Out = (K, A::Output);

    #[inline]
    fn apply(&mut self, (key, value): (K, V), diff: isize, _capability: &Capability<Time>) {
        let group = match self.groups.get_mut(&key) {
            Some(group) => group,
            None => self.groups.entry(key.clone()).or_default(),
        };
        self.acc.update(&mut group.state, &value, diff);
        group.count += diff;
        if group.touch() {
            self.dirty.push(key);
        }
    }

    /// Emits, for every key changed in the time, the retraction of its old result and its new result.
    fn emit(&mut self, capability: &Capability<Time>, output: &mut Emitter<'_, Self::Out>) {
        let time = *capability.time();
        let mut session = output.session(capability);
        for key in self.dirty.drain(..) {
            let Some(group) = self.groups.get_mut(&key) else {
                continue;
            };
            let result = if group.count > 0 {
                self.acc.output(&group.state, group.count)
            } else {
                None
            };
            group.emit(result, |value, diff| {
                session.give(((key.clone(), value), time, diff))
            });
            if group.count == 0 {
                self.groups.remove(&key);
            }
        }
    }
}

/// Maintains `acc` per key of `input`, exchanging records by key, and outputs `(key, result)` changes.
pub(crate) fn hash_aggregate<'scope, K: Record, V: Record, A: Accumulator<V>>(
    ctx: &Context,
    id: usize,
    input: VecCollection<'scope, Time, (K, V), isize>,
    acc: A,
) -> VecCollection<'scope, Time, (K, A::Output), isize>
where
    A::Output: Record,
{
    let table = Table {
        acc,
        groups: HashMap::default(),
        dirty: Vec::new(),
        _v: PhantomData,
    };
    keyed_operator(ctx, id, input, |(key, _): &(K, V)| key.hashed(), table)
}
