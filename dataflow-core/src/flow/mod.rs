//! The typed graph builder the `#[pipeline]` macro writes its code against.
//!
//! A [`Flow`] is a differential collection plus a chain of stateless stages that have not been turned
//! into an operator yet. `map`, `filter`, `filter_map`, `flat_map` and `key` only extend the chain; the
//! first stateful stage (an aggregate, `reduce`, `join`, `distinct`, `union`, a window) turns the whole
//! chain into **one** timely operator, so a run of stateless stages costs one pass over the records with
//! every user closure inlined, as if written by hand:
//!
//! ```text
//!   input ─▶ [ map ─▶ filter ─▶ key ]  ─▶ hash_aggregate ─▶ [ map ] ─▶ output
//!            └──── one fused operator ┘   exchange by key     fused
//! ```
//!
//! Every method takes the stage's node id in the plan first, so that a panicking closure is reported
//! with its stage. Users do not call these methods: they write the same names in a `#[pipeline]` body.
//! After an `event_time` stage the builder is a [`TimedFlow`] (see [`timed`]); both offer the same
//! stateless stages, declared once by `stateless_stages!`, and keyed flows and windows the same
//! aggregates, declared once by `aggregates!`.

use crate::accumulators::{
    Accumulator, AggregateBuilder, Count, Max, Mean, Min, Presence, Sum, Summable,
};
use crate::context::Context;
use crate::operators::fused::{
    FilterMapStage, FilterStage, FlatMapStage, Identity, KeyByStage, KeyStage, MapStage, Stage,
    Then, Unsequence, bare,
};
use crate::operators::hash_aggregate::hash_aggregate;
use crate::record::{F64, Record, Rows};
use crate::time::clock::Time;
use crate::user_code::catch_user;
use differential_dataflow::VecCollection;

/// The stateless stages of a flow type, written once for [`Flow`] and [`TimedFlow`]: `$record` is the
/// record a closure sees and `$wrap` how a stage is applied to the flow's items (as it is, or lifted
/// over an event-time stamp).
macro_rules! stateless_stages {
    ($flow:ident, $record:ty, $wrap:ident, $wrap_fn:path) => {
        /// `map(|record| ..)`: one output per record.
        pub fn map<O, F: FnMut($record) -> O + 'static>(
            self,
            id: usize,
            f: F,
        ) -> $flow<'scope, D, Then<S, $wrap<MapStage<F>>>> {
            self.then(id, $wrap_fn(MapStage::new(f, id)))
        }

        /// `filter(|record| ..)`: keeps the records for which the predicate is true.
        pub fn filter<F: FnMut(&$record) -> bool + 'static>(
            self,
            id: usize,
            f: F,
        ) -> $flow<'scope, D, Then<S, $wrap<FilterStage<F>>>> {
            self.then(id, $wrap_fn(FilterStage::new(f, id)))
        }

        /// `filter_map(|record| ..)`: maps each record to an `Option`, keeping the `Some`s.
        pub fn filter_map<O, F: FnMut($record) -> Option<O> + 'static>(
            self,
            id: usize,
            f: F,
        ) -> $flow<'scope, D, Then<S, $wrap<FilterMapStage<F>>>> {
            self.then(id, $wrap_fn(FilterMapStage::new(f, id)))
        }

        /// `flat_map(|record| ..)`: maps each record to any number of records.
        pub fn flat_map<It: IntoIterator, F: FnMut($record) -> It + 'static>(
            self,
            id: usize,
            f: F,
        ) -> $flow<'scope, D, Then<S, $wrap<FlatMapStage<F>>>> {
            self.then(id, $wrap_fn(FlatMapStage::new(f, id)))
        }

        /// `key(|record| ..)`: pairs each record with its key, giving `(key, record)`.
        pub fn key<K, F: FnMut(&$record) -> K + 'static>(
            self,
            id: usize,
            f: F,
        ) -> $flow<'scope, D, Then<S, $wrap<KeyStage<F>>>> {
            self.then(id, $wrap_fn(KeyStage::new(f, id)))
        }

        /// `key_by(|record| (key, value))`: splits each record into a key and a value, consuming it.
        pub fn key_by<K, V, F: FnMut($record) -> (K, V) + 'static>(
            self,
            id: usize,
            f: F,
        ) -> $flow<'scope, D, Then<S, $wrap<KeyByStage<F>>>> {
            self.then(id, $wrap_fn(KeyByStage::new(f, id)))
        }
    };
}

/// The aggregates of keyed records, written once for keyed [`Flow`]s and for [`timed::Windowed`]
/// records: `$key` is the key of the results (the key, or the key and its window). The type declares
/// `aggregate_with(id, accumulator)`.
macro_rules! aggregates {
    ($key:ty) => {
        /// `count()`: the number of records per key, as `(key, count)`.
        pub fn count(self, id: usize) -> Flow<'scope, ($key, u64)> {
            self.aggregate_with(id, Count)
        }

        /// `sum(|record| ..)`: the exact sum of a value per key, as `(key, sum)`.
        pub fn sum<N: Summable + Record, F: FnMut(&V) -> N + 'static>(
            self,
            id: usize,
            f: F,
        ) -> Flow<'scope, ($key, N)> {
            self.aggregate_with(id, Sum::new(f))
        }

        /// `min(|record| ..)`: the least value per key, as `(key, min)`.
        pub fn min<N: Record, F: FnMut(&V) -> N + 'static>(
            self,
            id: usize,
            f: F,
        ) -> Flow<'scope, ($key, N)> {
            self.aggregate_with(id, Min::new(f))
        }

        /// `max(|record| ..)`: the greatest value per key, as `(key, max)`.
        pub fn max<N: Record, F: FnMut(&V) -> N + 'static>(
            self,
            id: usize,
            f: F,
        ) -> Flow<'scope, ($key, N)> {
            self.aggregate_with(id, Max::new(f))
        }

        /// `mean(|record| ..)`: the arithmetic mean of a value per key, as `(key, mean)`.
        pub fn mean<N: Summable, F: FnMut(&V) -> N + 'static>(
            self,
            id: usize,
            f: F,
        ) -> Flow<'scope, ($key, F64)> {
            self.aggregate_with(id, Mean::new(f))
        }

        /// `aggregate(|a| (a.sum(..), a.count(), ..))`: several aggregates per key in one pass, as
        /// `(key, (first, second, ..))`.
        pub fn aggregate<A: Accumulator<V>, B: FnOnce(AggregateBuilder<V>) -> A>(
            self,
            id: usize,
            build: B,
        ) -> Flow<'scope, ($key, A::Output)>
        where
            A::Output: Record,
        {
            let acc = build(AggregateBuilder::new());
            self.aggregate_with(id, acc)
        }
    };
}

pub mod timed;

pub use timed::{TimedFlow, Windowed};

/// A differential collection of `D` followed by the not-yet-built stateless stages `S`.
pub struct Flow<'scope, D: 'static, S = Identity> {
    ctx: Context,
    collection: VecCollection<'scope, Time, D, isize>,
    stages: S,
    first_stage: Option<usize>,
}

impl<'scope, D: Record> Flow<'scope, D, Identity> {
    /// A flow over `collection`.
    pub fn new(ctx: &Context, collection: VecCollection<'scope, Time, D, isize>) -> Self {
        Flow {
            ctx: ctx.clone(),
            collection,
            stages: Identity,
            first_stage: None,
        }
    }
}

impl<'scope, A: Record> Flow<'scope, (A, u64), Unsequence> {
    /// A flow over a pipeline input, whose records the runner numbered with their input position.
    pub fn input(ctx: &Context, collection: VecCollection<'scope, Time, (A, u64), isize>) -> Self {
        Flow {
            ctx: ctx.clone(),
            collection,
            stages: Unsequence,
            first_stage: None,
        }
    }

    pub(crate) fn into_parts(self) -> (Context, VecCollection<'scope, Time, (A, u64), isize>) {
        (self.ctx, self.collection)
    }
}

impl<D: Record, S: Clone> Clone for Flow<'_, D, S> {
    fn clone(&self) -> Self {
        Flow {
            ctx: self.ctx.clone(),
            collection: self.collection.clone(),
            stages: self.stages.clone(),
            first_stage: self.first_stage,
        }
    }
}

impl<'scope, D: Record, S: Stage<D>> Flow<'scope, D, S> {
    fn then<B: Stage<S::Out>>(self, id: usize, stage: B) -> Flow<'scope, D, Then<S, B>> {
        Flow {
            ctx: self.ctx,
            collection: self.collection,
            stages: Then(self.stages, stage),
            first_stage: self.first_stage.or(Some(id)),
        }
    }

    stateless_stages!(Flow, S::Out, Bare, bare);

    /// The context this flow's operators report to.
    pub fn context(&self) -> &Context {
        &self.ctx
    }

    /// Builds the pending stateless stages into one operator and returns the resulting collection.
    pub fn collection(self) -> VecCollection<'scope, Time, S::Out, isize>
    where
        S::Out: Record,
    {
        let name = match self.first_stage {
            Some(first) => format!("{} (fused)", self.ctx.operator_name(first)),
            None => "fused".to_string(),
        };
        self.stages.build(self.ctx, self.collection, &name)
    }

    /// Builds the pending stages and returns a flow with an empty chain, which can be cloned and used
    /// more than once.
    pub fn materialize(self) -> Flow<'scope, S::Out, Identity>
    where
        S::Out: Record,
    {
        let ctx = self.ctx.clone();
        Flow::new(&ctx, self.collection())
    }

    /// `distinct()`: every distinct record once, however often it occurs.
    pub fn distinct(self, id: usize) -> Flow<'scope, S::Out, Identity>
    where
        S::Out: Record,
    {
        let ctx = self.ctx.clone();
        let pairs = self.collection().map(|record| (record, ()));
        let out = hash_aggregate(&ctx, id, pairs, Presence);
        Flow::new(&ctx, out.map(|(record, ())| record))
    }

    /// `union(other)`: the records of both flows.
    pub fn union<D2: Record, S2: Stage<D2, Out = S::Out>>(
        self,
        _id: usize,
        other: Flow<'scope, D2, S2>,
    ) -> Flow<'scope, S::Out, Identity>
    where
        S::Out: Record,
    {
        let ctx = self.ctx.clone();
        Flow::new(&ctx, self.collection().concat(other.collection()))
    }
}

/// A stage applied as it is (the `$wrap` of flows without event time).
pub type Bare<B> = B;

impl<'scope, D: Record, K: Record, V: Record, S: Stage<D, Out = (K, V)>> Flow<'scope, D, S> {
    fn aggregate_with<A: Accumulator<V>>(
        self,
        id: usize,
        mut acc: A,
    ) -> Flow<'scope, (K, A::Output)>
    where
        A::Output: Record,
    {
        let ctx = self.ctx.clone();
        if ctx.plan().receives_only_insertions(id) {
            acc.insertions_only();
        }
        let out = hash_aggregate(&ctx, id, self.collection(), acc);
        Flow::new(&ctx, out)
    }

    aggregates!(K);

    /// `reduce(|key, rows| ..)`: one output per key, computed from all of the key's records.
    pub fn reduce<O: Record, F: FnMut(&K, Rows<'_, V>) -> O + 'static>(
        self,
        id: usize,
        mut f: F,
    ) -> Flow<'scope, O> {
        let ctx = self.ctx.clone();
        let reporter = ctx.clone();
        let name = ctx.operator_name(id);
        let out = self
            .collection()
            .reduce_named(
                &name,
                move |key, rows, out: &mut Vec<(O, isize)>| match catch_user(|| {
                    f(key, Rows::new(rows))
                }) {
                    Ok(result) => out.push((result, 1)),
                    Err(payload) => reporter.report_panic(id, payload),
                },
            )
            .map(|(_key, out)| out);
        Flow::new(&ctx, out)
    }

    /// `join(other)`: for every pair of records with equal keys, `(key, (left, right))`.
    pub fn join<D2: Record, V2: Record, S2: Stage<D2, Out = (K, V2)>>(
        self,
        _id: usize,
        other: Flow<'scope, D2, S2>,
    ) -> Flow<'scope, (K, (V, V2))> {
        let ctx = self.ctx.clone();
        Flow::new(&ctx, self.collection().join(other.collection()))
    }
}
