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

use crate::aggregate::{self, Accumulator, AggregateBuilder, Count, Max, Mean, Min, Sum, Summable};
use crate::context::{Context, catch_user};
use crate::{F64, Record};
use differential_dataflow::{AsCollection, VecCollection};
use std::cell::Cell;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::Operator;

/// A differential collection of `D` followed by the not-yet-built stateless stages `S`.
pub struct Flow<'scope, D: Record, S = Identity> {
    ctx: Context,
    collection: VecCollection<'scope, u64, D, isize>,
    steps: S,
    first_stage: Option<usize>,
}

/// One stateless stage, or a chain of them, applied record by record.
pub trait Step<I>: 'static {
    /// The records the chain produces.
    type Out;
    /// Pushes one record through the chain, calling `emit` for each output. `stage` is set to the id of
    /// the stage whose closure is running, so that a panic can be attributed to it.
    fn push<E: FnMut(Self::Out)>(&mut self, item: I, stage: &Cell<usize>, emit: &mut E);

    /// Builds the chain into one timely operator over `input`, named `name`.
    fn build<'scope>(
        self,
        ctx: Context,
        input: VecCollection<'scope, u64, I, isize>,
        name: &str,
    ) -> VecCollection<'scope, u64, Self::Out, isize>
    where
        Self: Sized,
        I: Record,
        Self::Out: Record,
    {
        fuse(ctx, input, self, name)
    }
}

/// The empty chain.
#[derive(Clone, Copy, Debug, Default)]
pub struct Identity;

impl<I: 'static> Step<I> for Identity {
    type Out = I;
    #[inline(always)]
    fn push<E: FnMut(I)>(&mut self, item: I, _stage: &Cell<usize>, emit: &mut E) {
        emit(item)
    }

    /// The empty chain needs no operator.
    fn build<'scope>(
        self,
        _ctx: Context,
        input: VecCollection<'scope, u64, I, isize>,
        _name: &str,
    ) -> VecCollection<'scope, u64, I, isize> {
        input
    }
}

/// Two chains, one after the other.
#[derive(Clone, Debug)]
pub struct Then<A, B>(A, B);

impl<I, A: Step<I>, B: Step<A::Out>> Step<I> for Then<A, B> {
    type Out = B::Out;
    #[inline(always)]
    fn push<E: FnMut(Self::Out)>(&mut self, item: I, stage: &Cell<usize>, emit: &mut E) {
        let Then(first, second) = self;
        first.push(item, stage, &mut |x| second.push(x, stage, emit));
    }
}

/// `map`: one output per record.
#[derive(Clone, Debug)]
pub struct MapStep<F> {
    f: F,
    id: usize,
}

/// `key_by`: splits each record into a key and a value.
#[derive(Clone, Debug)]
pub struct KeyByStep<F> {
    f: F,
    id: usize,
}

impl<I, K, V, F: FnMut(I) -> (K, V) + 'static> Step<I> for KeyByStep<F> {
    type Out = (K, V);
    #[inline(always)]
    fn push<E: FnMut((K, V))>(&mut self, item: I, stage: &Cell<usize>, emit: &mut E) {
        stage.set(self.id);
        emit((self.f)(item))
    }
}

macro_rules! step_constructors {
    ($($step:ident),*) => {$(
        impl<F> $step<F> {
            pub(crate) fn new(f: F, id: usize) -> Self {
                $step { f, id }
            }
        }
    )*};
}
step_constructors!(
    MapStep,
    FilterStep,
    FilterMapStep,
    FlatMapStep,
    KeyStep,
    KeyByStep
);

/// Chains `second` after `first`.
pub(crate) fn then<A, B>(first: A, second: B) -> Then<A, B> {
    Then(first, second)
}

/// Drops the input position the runner numbers every input record with.
#[derive(Clone, Copy, Debug, Default)]
pub struct Unsequence;

impl<A: 'static> Step<(A, u64)> for Unsequence {
    type Out = A;
    #[inline(always)]
    fn push<E: FnMut(A)>(&mut self, item: (A, u64), _stage: &Cell<usize>, emit: &mut E) {
        emit(item.0)
    }
}

impl<I, O, F: FnMut(I) -> O + 'static> Step<I> for MapStep<F> {
    type Out = O;
    #[inline(always)]
    fn push<E: FnMut(O)>(&mut self, item: I, stage: &Cell<usize>, emit: &mut E) {
        stage.set(self.id);
        emit((self.f)(item))
    }
}

/// `filter`: keeps the records the predicate accepts.
#[derive(Clone, Debug)]
pub struct FilterStep<F> {
    f: F,
    id: usize,
}

impl<I, F: FnMut(&I) -> bool + 'static> Step<I> for FilterStep<F> {
    type Out = I;
    #[inline(always)]
    fn push<E: FnMut(I)>(&mut self, item: I, stage: &Cell<usize>, emit: &mut E) {
        stage.set(self.id);
        if (self.f)(&item) {
            emit(item)
        }
    }
}

/// `filter_map`: maps, keeping the `Some` results.
#[derive(Clone, Debug)]
pub struct FilterMapStep<F> {
    f: F,
    id: usize,
}

impl<I, O, F: FnMut(I) -> Option<O> + 'static> Step<I> for FilterMapStep<F> {
    type Out = O;
    #[inline(always)]
    fn push<E: FnMut(O)>(&mut self, item: I, stage: &Cell<usize>, emit: &mut E) {
        stage.set(self.id);
        if let Some(out) = (self.f)(item) {
            emit(out)
        }
    }
}

/// `flat_map`: any number of outputs per record.
#[derive(Clone, Debug)]
pub struct FlatMapStep<F> {
    f: F,
    id: usize,
}

impl<I, It: IntoIterator, F: FnMut(I) -> It + 'static> Step<I> for FlatMapStep<F> {
    type Out = It::Item;
    #[inline(always)]
    fn push<E: FnMut(It::Item)>(&mut self, item: I, stage: &Cell<usize>, emit: &mut E) {
        stage.set(self.id);
        for out in (self.f)(item) {
            emit(out)
        }
    }
}

/// `key`: pairs each record with its key.
#[derive(Clone, Debug)]
pub struct KeyStep<F> {
    f: F,
    id: usize,
}

impl<I, K, F: FnMut(&I) -> K + 'static> Step<I> for KeyStep<F> {
    type Out = (K, I);
    #[inline(always)]
    fn push<E: FnMut((K, I))>(&mut self, item: I, stage: &Cell<usize>, emit: &mut E) {
        stage.set(self.id);
        let key = (self.f)(&item);
        emit((key, item))
    }
}

impl<'scope, D: Record> Flow<'scope, D, Identity> {
    /// A flow over `collection`, the records of a pipeline input.
    pub fn new(ctx: &Context, collection: VecCollection<'scope, u64, D, isize>) -> Self {
        Flow {
            ctx: ctx.clone(),
            collection,
            steps: Identity,
            first_stage: None,
        }
    }
}

impl<'scope, A: Record> Flow<'scope, (A, u64), Unsequence> {
    /// A flow over a pipeline input, whose records the runner numbered with their input position.
    pub fn input(ctx: &Context, collection: VecCollection<'scope, u64, (A, u64), isize>) -> Self {
        Flow {
            ctx: ctx.clone(),
            collection,
            steps: Unsequence,
            first_stage: None,
        }
    }

    pub(crate) fn into_parts(self) -> (Context, VecCollection<'scope, u64, (A, u64), isize>) {
        (self.ctx, self.collection)
    }
}

impl<D: Record, S: Clone> Clone for Flow<'_, D, S> {
    fn clone(&self) -> Self {
        Flow {
            ctx: self.ctx.clone(),
            collection: self.collection.clone(),
            steps: self.steps.clone(),
            first_stage: self.first_stage,
        }
    }
}

impl<'scope, D: Record, S: Step<D>> Flow<'scope, D, S> {
    fn then<B: Step<S::Out>>(self, id: usize, step: B) -> Flow<'scope, D, Then<S, B>> {
        Flow {
            ctx: self.ctx,
            collection: self.collection,
            steps: Then(self.steps, step),
            first_stage: self.first_stage.or(Some(id)),
        }
    }

    /// `map(|record| ..)`: one output per record.
    pub fn map<O, F: FnMut(S::Out) -> O + 'static>(
        self,
        id: usize,
        f: F,
    ) -> Flow<'scope, D, Then<S, MapStep<F>>> {
        self.then(id, MapStep { f, id })
    }

    /// `filter(|record| ..)`: keeps the records for which the predicate is true.
    pub fn filter<F: FnMut(&S::Out) -> bool + 'static>(
        self,
        id: usize,
        f: F,
    ) -> Flow<'scope, D, Then<S, FilterStep<F>>> {
        self.then(id, FilterStep { f, id })
    }

    /// `filter_map(|record| ..)`: maps each record to an `Option`, keeping the `Some`s.
    pub fn filter_map<O, F: FnMut(S::Out) -> Option<O> + 'static>(
        self,
        id: usize,
        f: F,
    ) -> Flow<'scope, D, Then<S, FilterMapStep<F>>> {
        self.then(id, FilterMapStep { f, id })
    }

    /// `flat_map(|record| ..)`: maps each record to any number of records.
    pub fn flat_map<It: IntoIterator, F: FnMut(S::Out) -> It + 'static>(
        self,
        id: usize,
        f: F,
    ) -> Flow<'scope, D, Then<S, FlatMapStep<F>>> {
        self.then(id, FlatMapStep { f, id })
    }

    /// `key(|record| ..)`: pairs each record with its key, giving `(key, record)`.
    pub fn key<K, F: FnMut(&S::Out) -> K + 'static>(
        self,
        id: usize,
        f: F,
    ) -> Flow<'scope, D, Then<S, KeyStep<F>>> {
        self.then(id, KeyStep { f, id })
    }

    /// `key_by(|record| (key, value))`: splits each record into a key and a value, consuming it.
    pub fn key_by<K, V, F: FnMut(S::Out) -> (K, V) + 'static>(
        self,
        id: usize,
        f: F,
    ) -> Flow<'scope, D, Then<S, KeyByStep<F>>> {
        self.then(id, KeyByStep { f, id })
    }

    /// The context this flow's operators report to.
    pub fn context(&self) -> &Context {
        &self.ctx
    }

    /// Builds the pending stateless stages into one operator and returns the resulting collection.
    pub fn collection(self) -> VecCollection<'scope, u64, S::Out, isize>
    where
        S::Out: Record,
    {
        let name = match self.first_stage {
            Some(first) => format!("{} (fused)", self.ctx.operator_name(first)),
            None => "fused".to_string(),
        };
        self.steps.build(self.ctx, self.collection, &name)
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
        let out = aggregate::hash_aggregate(&ctx, id, pairs, aggregate::Presence);
        Flow::new(&ctx, out.map(|(record, ())| record))
    }

    /// `union(other)`: the records of both flows.
    pub fn union<D2: Record, S2: Step<D2, Out = S::Out>>(
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

impl<'scope, D: Record, K: Record, V: Record, S: Step<D, Out = (K, V)>> Flow<'scope, D, S> {
    fn aggregate_with<A: Accumulator<V>>(self, id: usize, acc: A) -> Flow<'scope, (K, A::Output)>
    where
        A::Output: Record,
    {
        let ctx = self.ctx.clone();
        let out = aggregate::hash_aggregate(&ctx, id, self.collection(), acc);
        Flow::new(&ctx, out)
    }

    /// `count()`: the number of records per key, as `(key, count)`.
    pub fn count(self, id: usize) -> Flow<'scope, (K, u64)> {
        self.aggregate_with(id, Count)
    }

    /// `sum(|record| ..)`: the sum of a value per key, as `(key, sum)`.
    pub fn sum<N: Summable + Record, F: FnMut(&V) -> N + 'static>(
        self,
        id: usize,
        f: F,
    ) -> Flow<'scope, (K, N)> {
        self.aggregate_with(id, Sum::new(f))
    }

    /// `min(|record| ..)`: the least value per key, as `(key, min)`.
    pub fn min<N: Record, F: FnMut(&V) -> N + 'static>(
        self,
        id: usize,
        f: F,
    ) -> Flow<'scope, (K, N)> {
        self.aggregate_with(id, Min::new(f))
    }

    /// `max(|record| ..)`: the greatest value per key, as `(key, max)`.
    pub fn max<N: Record, F: FnMut(&V) -> N + 'static>(
        self,
        id: usize,
        f: F,
    ) -> Flow<'scope, (K, N)> {
        self.aggregate_with(id, Max::new(f))
    }

    /// `mean(|record| ..)`: the arithmetic mean of a value per key, as `(key, mean)`.
    pub fn mean<N: Summable, F: FnMut(&V) -> N + 'static>(
        self,
        id: usize,
        f: F,
    ) -> Flow<'scope, (K, F64)> {
        self.aggregate_with(id, Mean::new(f))
    }

    /// `aggregate(|a| (a.sum(..), a.count(), ..))`: several aggregates per key in one pass, as
    /// `(key, (first, second, ..))`.
    pub fn aggregate<A: Accumulator<V>, B: FnOnce(AggregateBuilder<V>) -> A>(
        self,
        id: usize,
        build: B,
    ) -> Flow<'scope, (K, A::Output)>
    where
        A::Output: Record,
    {
        let acc = build(AggregateBuilder::new());
        self.aggregate_with(id, acc)
    }

    /// `reduce(|key, rows| ..)`: one output per key, computed from all of the key's records.
    pub fn reduce<O: Record, F: FnMut(&K, crate::Rows<'_, V>) -> O + 'static>(
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
                    f(key, crate::Rows::new(rows))
                }) {
                    Ok(result) => out.push((result, 1)),
                    Err(payload) => reporter.report_panic(id, payload),
                },
            )
            .map(|(_key, out)| out);
        Flow::new(&ctx, out)
    }

    /// `join(other)`: for every pair of records with equal keys, `(key, (left, right))`.
    pub fn join<D2: Record, V2: Record, S2: Step<D2, Out = (K, V2)>>(
        self,
        _id: usize,
        other: Flow<'scope, D2, S2>,
    ) -> Flow<'scope, (K, (V, V2))> {
        let ctx = self.ctx.clone();
        Flow::new(&ctx, self.collection().join(other.collection()))
    }
}

/// Builds `steps` into one timely operator over `collection`.
fn fuse<'scope, I: Record, S: Step<I>>(
    ctx: Context,
    collection: VecCollection<'scope, u64, I, isize>,
    mut steps: S,
    name: &str,
) -> VecCollection<'scope, u64, S::Out, isize>
where
    S::Out: Record,
{
    collection
        .inner
        .unary::<CapacityContainerBuilder<Vec<(S::Out, u64, isize)>>, _, _, _>(
            Pipeline,
            name,
            move |_capability, _info| {
                move |input, output| {
                    input.for_each(|capability, data| {
                        let mut session = output.session(&capability);
                        let stage = Cell::new(0);
                        let mut records = data.drain(..);
                        loop {
                            let finished = catch_user(|| {
                                for (record, time, diff) in &mut records {
                                    steps.push(record, &stage, &mut |out| {
                                        session.give((out, time, diff))
                                    });
                                }
                            });
                            match finished {
                                Ok(()) => break,
                                Err(payload) => ctx.report_panic(stage.get(), payload),
                            }
                        }
                    });
                }
            },
        )
        .as_collection()
}
