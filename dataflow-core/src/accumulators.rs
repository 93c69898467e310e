//! Accumulators: the built-in aggregates (`count`, `sum`, `min`, `max`, `mean`, and tuples of them in
//! `aggregate`), which the hash and window aggregate operators maintain per key.
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
//!
//! Updates for a time are applied as they arrive when that time is the least one still open, so a
//! batch run holds one accumulator per key and never buffers its input; a time is emitted once the
//! input frontier has passed it.

use crate::record::F64;
use crate::record::consolidate;
use std::marker::PhantomData;

/// An abelian aggregate of values `V`: an accumulator that records can be added to and taken from.
pub trait Accumulator<V>: 'static {
    /// The per-key accumulator.
    type State: Default + 'static;
    /// The aggregate's result.
    type Output: 'static;
    /// Adds `value` to `state` `diff` times (a negative `diff` takes it away).
    fn update(&mut self, state: &mut Self::State, value: &V, diff: isize);
    /// The result for a key whose records number `count` (always positive); `None` if the
    /// accumulator holds no result (only possible when a closure gave different values for the same
    /// record when it was added and when it was taken away).
    fn output(&self, state: &Self::State, count: isize) -> Option<Self::Output>;
    /// Adds everything in `from` to `into` (used when session windows merge).
    fn merge(&self, into: &mut Self::State, from: Self::State);
    /// No update will ever take a value away: the aggregate's input is insert-only
    /// ([`dataflow_plan::Plan::receives_only_insertions`]), so the accumulator may keep less state
    /// (`min` and `max` keep only their extreme). By default nothing changes.
    fn insertions_only(&mut self) {}
}

/// Values that can be summed exactly: integers and decimals. Floating-point sums depend on the order
/// of the additions, which would let a stream's answer differ from a batch's, so `f64` is left out.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be summed exactly: `sum` and `mean` take integers or `Decimal`",
    label = "this gives `{Self}`",
    note = "floating-point sums depend on the order of the additions, so a stream's answer would differ from a batch's: sum integers (such as cents, `(p.price * 100.0).round() as i64`) or exact decimals (`rust_decimal::Decimal`, feature `decimal`)",
    note = "for the least or greatest value, `min` and `max` take an `F64`"
)]
pub trait Summable: Default + Clone + 'static {
    /// Adds `value` times `times` (which may be negative) to `self`.
    fn add_times(&mut self, value: &Self, times: isize);
    /// The value as a float, for `mean`.
    fn to_f64(&self) -> f64;
}

macro_rules! summable_int {
    ($($t:ty),*) => {$(
        impl Summable for $t {
            #[inline]
            fn add_times(&mut self, value: &Self, times: isize) {
                // Wrapping arithmetic keeps unsigned sums right under retractions.
                if times == 1 {
                    *self = self.wrapping_add(*value);
                } else {
                    *self = self.wrapping_add(value.wrapping_mul(times as $t));
                }
            }
            #[inline]
            fn to_f64(&self) -> f64 {
                *self as f64
            }
        }
    )*};
}
summable_int!(
    i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, u128, usize
);

#[cfg(feature = "decimal")]
impl Summable for rust_decimal::Decimal {
    #[inline]
    fn add_times(&mut self, value: &Self, times: isize) {
        match times {
            1 => *self += *value,
            -1 => *self -= *value,
            _ => *self += *value * rust_decimal::Decimal::from(times as i64),
        }
    }
    fn to_f64(&self) -> f64 {
        use rust_decimal::prelude::ToPrimitive;
        ToPrimitive::to_f64(self).unwrap_or(f64::NAN)
    }
}

/// `count()`: the number of records.
#[derive(Clone, Copy, Debug, Default)]
pub struct Count;

impl<V> Accumulator<V> for Count {
    type State = ();
    type Output = u64;
    #[inline]
    fn update(&mut self, _state: &mut (), _value: &V, _diff: isize) {}
    #[inline]
    fn output(&self, _state: &(), count: isize) -> Option<u64> {
        Some(count as u64)
    }
    #[inline]
    fn merge(&self, _into: &mut (), _from: ()) {}
}

/// Set semantics: the key is present while it has records. Used by `distinct`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Presence;

impl<V> Accumulator<V> for Presence {
    type State = ();
    type Output = ();
    #[inline]
    fn update(&mut self, _state: &mut (), _value: &V, _diff: isize) {}
    #[inline]
    fn output(&self, _state: &(), _count: isize) -> Option<()> {
        Some(())
    }
    #[inline]
    fn merge(&self, _into: &mut (), _from: ()) {}
}

macro_rules! value_aggregates {
    ($($(#[$doc:meta])* $name:ident;)*) => {$(
        $(#[$doc])*
        pub struct $name<F, N> {
            f: F,
            /// See [`Accumulator::insertions_only`].
            insertions_only: bool,
            _n: PhantomData<fn() -> N>,
        }

        impl<F, N> $name<F, N> {
            /// The aggregate of the values `f` takes from the records.
            pub fn new(f: F) -> Self {
                $name { f, insertions_only: false, _n: PhantomData }
            }

            /// Whether it was told that its input is insert-only ([`Accumulator::insertions_only`]).
            pub fn insert_only(&self) -> bool {
                self.insertions_only
            }
        }
    )*};
}

value_aggregates! {
    /// `sum(|r| ..)`: the exact sum of a value.
    Sum;
    /// `mean(|r| ..)`: the arithmetic mean of a value, from its exact sum and count.
    Mean;
    /// `min(|r| ..)`: the least value. Keeps a count per distinct value so records can be retracted.
    Min;
    /// `max(|r| ..)`: the greatest value. Keeps a count per distinct value so records can be retracted.
    Max;
}

impl<V, N: Summable, F: FnMut(&V) -> N + 'static> Accumulator<V> for Sum<F, N> {
    type State = N;
    type Output = N;
    #[inline]
    fn update(&mut self, state: &mut N, value: &V, diff: isize) {
        state.add_times(&(self.f)(value), diff);
    }
    #[inline]
    fn output(&self, state: &N, _count: isize) -> Option<N> {
        Some(state.clone())
    }
    #[inline]
    fn merge(&self, into: &mut N, from: N) {
        into.add_times(&from, 1);
    }
}

impl<V, N: Summable, F: FnMut(&V) -> N + 'static> Accumulator<V> for Mean<F, N> {
    type State = N;
    type Output = F64;
    #[inline]
    fn update(&mut self, state: &mut N, value: &V, diff: isize) {
        state.add_times(&(self.f)(value), diff);
    }
    #[inline]
    fn output(&self, state: &N, count: isize) -> Option<F64> {
        Some(F64(state.to_f64() / count as f64))
    }
    #[inline]
    fn merge(&self, into: &mut N, from: N) {
        into.add_times(&from, 1);
    }
}

/// The state of `min` and `max`: the current extreme value with its count, and every other value with
/// its count in a bag that is consolidated (sorted, equal values summed) only when it has doubled since
/// it last was, or when the extreme is taken away. Adding a value costs an append instead of a tree
/// insertion; retractions stay exact, and memory stays within twice the distinct values.
#[derive(Debug)]
pub struct Extremum<N> {
    best: Option<(N, isize)>,
    rest: Vec<(N, isize)>,
    consolidated: usize,
}

impl<N> Default for Extremum<N> {
    fn default() -> Self {
        Extremum {
            best: None,
            rest: Vec::new(),
            consolidated: 0,
        }
    }
}

impl<N: Ord> Extremum<N> {
    /// Whether `a` is more extreme than `b`: greater for `max`, smaller for `min`.
    #[inline]
    fn better(a: &N, b: &N, max: bool) -> bool {
        if max { a > b } else { a < b }
    }

    /// Adds `value` `diff` times when no value will ever be taken away: only the extreme and its
    /// count matter then, so nothing else is kept.
    #[inline]
    fn insert(&mut self, value: N, diff: isize, max: bool) {
        match &mut self.best {
            Some((best, count)) if *best == value => *count += diff,
            Some((best, _)) if !Self::better(&value, best, max) => {}
            _ => self.best = Some((value, diff)),
        }
    }

    #[inline]
    fn update(&mut self, value: N, diff: isize, max: bool) {
        match &mut self.best {
            Some((best, count)) if *best == value => {
                *count += diff;
                if *count <= 0 {
                    if let Some(demoted) = self.best.take().filter(|(_, count)| *count != 0) {
                        self.rest.push(demoted);
                    }
                    self.promote(max);
                }
            }
            Some((best, _)) if diff > 0 && Self::better(&value, best, max) => {
                if let Some(old) = self.best.replace((value, diff)) {
                    self.push(old);
                }
            }
            None if diff > 0 && self.rest.is_empty() => self.best = Some((value, diff)),
            _ => {
                self.push((value, diff));
                if self.best.is_none() {
                    self.promote(max);
                }
            }
        }
    }

    #[inline]
    fn push(&mut self, entry: (N, isize)) {
        self.rest.push(entry);
        if self.rest.len() > 2 * self.consolidated + 32 {
            self.consolidate();
        }
    }

    /// Sorts the bag and sums the counts of equal values, dropping zeros.
    fn consolidate(&mut self) {
        if self.rest.len() == self.consolidated {
            // Nothing appended since the last consolidation: still sorted and consolidated.
            return;
        }
        consolidate(&mut self.rest);
        self.consolidated = self.rest.len();
    }

    /// Makes the most extreme value with a positive count the current one.
    fn promote(&mut self, max: bool) {
        self.consolidate();
        let found = if max {
            self.rest.iter().rposition(|(_, count)| *count > 0)
        } else {
            self.rest.iter().position(|(_, count)| *count > 0)
        };
        self.best = found.map(|index| self.rest.remove(index));
        self.consolidated = self.rest.len();
    }

    fn merge(&mut self, from: Extremum<N>, max: bool) {
        for (value, count) in from.best.into_iter().chain(from.rest) {
            self.update(value, count, max);
        }
    }
}

impl<V, N: Ord + Clone + 'static, F: FnMut(&V) -> N + 'static> Accumulator<V> for Min<F, N> {
    type State = Extremum<N>;
    type Output = N;
    #[inline]
    fn update(&mut self, state: &mut Self::State, value: &V, diff: isize) {
        if self.insertions_only && diff > 0 {
            state.insert((self.f)(value), diff, false);
        } else {
            state.update((self.f)(value), diff, false);
        }
    }
    fn insertions_only(&mut self) {
        self.insertions_only = true;
    }
    fn output(&self, state: &Self::State, _count: isize) -> Option<N> {
        state.best.as_ref().map(|(value, _)| value.clone())
    }
    fn merge(&self, into: &mut Self::State, from: Self::State) {
        into.merge(from, false);
    }
}

impl<V, N: Ord + Clone + 'static, F: FnMut(&V) -> N + 'static> Accumulator<V> for Max<F, N> {
    type State = Extremum<N>;
    type Output = N;
    #[inline]
    fn update(&mut self, state: &mut Self::State, value: &V, diff: isize) {
        if self.insertions_only && diff > 0 {
            state.insert((self.f)(value), diff, true);
        } else {
            state.update((self.f)(value), diff, true);
        }
    }
    fn insertions_only(&mut self) {
        self.insertions_only = true;
    }
    fn output(&self, state: &Self::State, _count: isize) -> Option<N> {
        state.best.as_ref().map(|(value, _)| value.clone())
    }
    fn merge(&self, into: &mut Self::State, from: Self::State) {
        into.merge(from, true);
    }
}

macro_rules! tuple_accumulator {
    ($($a:ident $i:tt),+) => {
        impl<V, $($a: Accumulator<V>),+> Accumulator<V> for ($($a,)+) {
            type State = ($($a::State,)+);
            type Output = ($($a::Output,)+);
            #[inline]
            fn update(&mut self, state: &mut Self::State, value: &V, diff: isize) {
                $( self.$i.update(&mut state.$i, value, diff); )+
            }
            #[inline]
            fn output(&self, state: &Self::State, count: isize) -> Option<Self::Output> {
                Some(($( self.$i.output(&state.$i, count)?, )+))
            }
            #[inline]
            fn merge(&self, into: &mut Self::State, from: Self::State) {
                $( self.$i.merge(&mut into.$i, from.$i); )+
            }
            fn insertions_only(&mut self) {
                $( self.$i.insertions_only(); )+
            }
        }
    };
}
tuple_accumulator!(A 0, B 1);
tuple_accumulator!(A 0, B 1, C 2);
tuple_accumulator!(A 0, B 1, C 2, D 3);
tuple_accumulator!(A 0, B 1, C 2, D 3, E 4);
tuple_accumulator!(A 0, B 1, C 2, D 3, E 4, G 5);

/// Builds the aggregates of an `aggregate(|a| (a.sum(..), a.count()))` stage, typed by the records `V`
/// of the keyed stream so that the closures need no annotations.
pub struct AggregateBuilder<V> {
    _v: PhantomData<fn(&V)>,
}

impl<V> AggregateBuilder<V> {
    pub(crate) fn new() -> Self {
        AggregateBuilder { _v: PhantomData }
    }

    /// The number of records.
    pub fn count(&self) -> Count {
        Count
    }

    /// The exact sum of `f` over the records.
    pub fn sum<N: Summable, F: FnMut(&V) -> N + 'static>(&self, f: F) -> Sum<F, N> {
        Sum::new(f)
    }

    /// The mean of `f` over the records.
    pub fn mean<N: Summable, F: FnMut(&V) -> N + 'static>(&self, f: F) -> Mean<F, N> {
        Mean::new(f)
    }

    /// The least value of `f` over the records.
    pub fn min<N: Ord + Clone + 'static, F: FnMut(&V) -> N + 'static>(&self, f: F) -> Min<F, N> {
        Min::new(f)
    }

    /// The greatest value of `f` over the records.
    pub fn max<N: Ord + Clone + 'static, F: FnMut(&V) -> N + 'static>(&self, f: F) -> Max<F, N> {
        Max::new(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    proptest! {
        /// On insert-only input, `min` and `max` told so give what they give keeping every value,
        /// also after merging (sessions) and with several aggregates in one tuple.
        #[test]
        fn insert_only_extremes_equal_the_full_ones(
            values in prop::collection::vec((0u8..40, 1isize..3), 1..300),
            split in 0usize..300,
        ) {
            let mut full = (Max::new(|v: &u8| *v), Min::new(|v: &u8| *v));
            let mut lean = (Max::new(|v: &u8| *v), Min::new(|v: &u8| *v));
            lean.insertions_only();
            prop_assert!(lean.0.insert_only() && lean.1.insert_only() && !full.0.insert_only());
            let (mut a, mut b) = (<(Extremum<u8>, Extremum<u8>)>::default(), <(Extremum<u8>, Extremum<u8>)>::default());
            let (mut c, mut d) = (<(Extremum<u8>, Extremum<u8>)>::default(), <(Extremum<u8>, Extremum<u8>)>::default());
            for (i, (value, diff)) in values.iter().enumerate() {
                if i < split {
                    full.update(&mut a, value, *diff);
                    lean.update(&mut c, value, *diff);
                } else {
                    full.update(&mut b, value, *diff);
                    lean.update(&mut d, value, *diff);
                }
                prop_assert_eq!(full.output(&a, 1), lean.output(&c, 1));
            }
            prop_assert!(c.0.rest.is_empty() && c.1.rest.is_empty(), "nothing but the extreme is kept");
            full.merge(&mut a, b);
            lean.merge(&mut c, d);
            prop_assert_eq!(full.output(&a, 1), lean.output(&c, 1));
        }

        /// `min` and `max` states agree with a multiset under any interleaving of additions and
        /// retractions of values that are present, and after merging two states.
        #[test]
        fn extremes_follow_a_multiset(
            ops in prop::collection::vec((0u8..40, any::<bool>()), 0..400),
            split in 0usize..400,
        ) {
            let mut multiset: BTreeMap<u8, isize> = BTreeMap::new();
            let (mut max, mut min) = (Extremum::default(), Extremum::default());
            let (mut max_b, mut min_b) = (Extremum::default(), Extremum::default());
            for (i, (value, add)) in ops.into_iter().enumerate() {
                let present = multiset.get(&value).copied().unwrap_or(0) > 0;
                let diff = if add || !present { 1 } else { -1 };
                *multiset.entry(value).or_default() += diff;
                multiset.retain(|_, count| *count != 0);
                if i < split {
                    max.update(value, diff, true);
                    min.update(value, diff, false);
                } else {
                    max_b.update(value, diff, true);
                    min_b.update(value, diff, false);
                }
                if i < split {
                    // Before the split every update went to the first pair.
                    prop_assert_eq!(max.best.as_ref().map(|b| b.0), multiset.keys().next_back().copied());
                    prop_assert_eq!(min.best.as_ref().map(|b| b.0), multiset.keys().next().copied());
                }
            }
            max.merge(max_b, true);
            min.merge(min_b, false);
            prop_assert_eq!(max.best.as_ref().map(|b| b.0), multiset.keys().next_back().copied());
            prop_assert_eq!(min.best.as_ref().map(|b| b.0), multiset.keys().next().copied());
            prop_assert!(max.rest.len() <= 2 * 40 + 33);
        }
    }
}
