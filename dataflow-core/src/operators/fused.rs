//! Fused stateless stages: `map`, `filter`, `filter_map`, `flat_map`, `key`, `key_by` and
//! `event_time`, chained at compile time ([`Then`]) and run as **one** timely operator, so a run of
//! stateless stages costs one pass over the records with every user closure inlined:
//!
//! ```text
//!   input ─▶ [ map ─▶ filter ─▶ key ]  ─▶ stateful operator
//!            └──── one fused operator ┘
//! ```

use crate::context::Context;
use crate::record::{Record, Stamp};
use crate::time::clock::Time;
use crate::user_code::catch_user;
use differential_dataflow::{AsCollection, VecCollection};
use std::cell::Cell;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::Operator;

/// One stateless stage, or a chain of them, applied record by record.
pub trait Stage<I>: 'static {
    /// The records the chain produces.
    type Out;
    /// Pushes one record through the chain, calling `emit` for each output. `stage` is set to the id of
    /// the stage whose closure is running, so that a panic can be attributed to it.
    fn push<E: FnMut(Self::Out)>(&mut self, item: I, stage: &Cell<usize>, emit: &mut E);

    /// Builds the chain into one timely operator over `input`, named `name`.
    fn build<'scope>(
        self,
        ctx: Context,
        input: VecCollection<'scope, Time, I, isize>,
        name: &str,
    ) -> VecCollection<'scope, Time, Self::Out, isize>
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

impl<I: 'static> Stage<I> for Identity {
    type Out = I;
    #[inline(always)]
    fn push<E: FnMut(I)>(&mut self, item: I, _stage: &Cell<usize>, emit: &mut E) {
        emit(item)
    }

    /// The empty chain needs no operator.
    fn build<'scope>(
        self,
        _ctx: Context,
        input: VecCollection<'scope, Time, I, isize>,
        _name: &str,
    ) -> VecCollection<'scope, Time, I, isize> {
        input
    }
}

/// Two chains, one after the other.
#[derive(Clone, Debug)]
pub struct Then<A, B>(pub(crate) A, pub(crate) B);

impl<I, A: Stage<I>, B: Stage<A::Out>> Stage<I> for Then<A, B> {
    type Out = B::Out;
    #[inline(always)]
    fn push<E: FnMut(Self::Out)>(&mut self, item: I, stage: &Cell<usize>, emit: &mut E) {
        let Then(first, second) = self;
        first.push(item, stage, &mut |x| second.push(x, stage, emit));
    }
}

/// Drops the input position the runner numbers every input record with.
#[derive(Clone, Copy, Debug, Default)]
pub struct Unsequence;

impl<A: 'static> Stage<(A, u64)> for Unsequence {
    type Out = A;
    #[inline(always)]
    fn push<E: FnMut(A)>(&mut self, item: (A, u64), _stage: &Cell<usize>, emit: &mut E) {
        emit(item.0)
    }
}

/// A stage as it is, on a flow without event time.
#[inline(always)]
pub(crate) fn bare<B>(stage: B) -> B {
    stage
}

/// A stage applied to the record of a `(record, stamp)` pair, keeping the stamp.
#[derive(Clone, Debug)]
pub struct Lift<B>(pub(crate) B);

impl<I, B: Stage<I>> Stage<(I, Stamp)> for Lift<B> {
    type Out = (B::Out, Stamp);
    #[inline(always)]
    fn push<E: FnMut(Self::Out)>(&mut self, item: (I, Stamp), stage: &Cell<usize>, emit: &mut E) {
        let (record, stamp) = item;
        self.0.push(record, stage, &mut |out| emit((out, stamp)));
    }
}

/// Declares a stage that runs one user closure `f`: its struct (the closure and the stage's node id)
/// and its `Stage` implementation, whose body `$push` gets the record and the `emit` callback.
macro_rules! closure_stages {
    ($(
        $(#[$doc:meta])*
        $name:ident<$($g:ident $(: $gb:path)?),*>($input:ty) -> $out:ty where F: [$($bound:tt)+]
            = |$f:ident, $item:ident, $emit:ident| $push:block
    )*) => {$(
        $(#[$doc])*
        #[derive(Clone, Debug)]
        pub struct $name<F> {
            f: F,
            id: usize,
        }

        impl<F> $name<F> {
            pub(crate) fn new(f: F, id: usize) -> Self {
                $name { f, id }
            }
        }

        impl<$($g $(: $gb)?,)* F: $($bound)+ + 'static> Stage<$input> for $name<F> {
            type Out = $out;
            #[inline(always)]
            fn push<E: FnMut($out)>(&mut self, $item: $input, stage: &Cell<usize>, $emit: &mut E) {
                stage.set(self.id);
                let $f = &mut self.f;
                $push
            }
        }
    )*};
}

closure_stages! {
    /// `map`: one output per record.
    MapStage<I, O>(I) -> O where F: [FnMut(I) -> O] = |f, item, emit| { emit(f(item)) }
    /// `filter`: keeps the records the predicate accepts.
    FilterStage<I>(I) -> I where F: [FnMut(&I) -> bool] = |f, item, emit| {
        if f(&item) {
            emit(item)
        }
    }
    /// `filter_map`: maps, keeping the `Some` results.
    FilterMapStage<I, O>(I) -> O where F: [FnMut(I) -> Option<O>] = |f, item, emit| {
        if let Some(out) = f(item) {
            emit(out)
        }
    }
    /// `flat_map`: any number of outputs per record.
    FlatMapStage<I, It: IntoIterator>(I) -> It::Item where F: [FnMut(I) -> It] = |f, item, emit| {
        for out in f(item) {
            emit(out)
        }
    }
    /// `key`: pairs each record with its key.
    KeyStage<I, K>(I) -> (K, I) where F: [FnMut(&I) -> K] = |f, item, emit| {
        let key = f(&item);
        emit((key, item))
    }
    /// `key_by`: splits each record into a key and a value.
    KeyByStage<I, K, V>(I) -> (K, V) where F: [FnMut(I) -> (K, V)] = |f, item, emit| { emit(f(item)) }
    /// `event_time`: stamps each input record with its event time and input position.
    StampStage<A>((A, u64)) -> (A, Stamp) where F: [FnMut(&A) -> u64] = |f, item, emit| {
        let (record, seq) = item;
        let time = f(&record);
        emit((record, Stamp { time, seq }))
    }
}

/// Builds `stages` into one timely operator over `collection`.
fn fuse<'scope, I: Record, S: Stage<I>>(
    ctx: Context,
    collection: VecCollection<'scope, Time, I, isize>,
    mut stages: S,
    name: &str,
) -> VecCollection<'scope, Time, S::Out, isize>
where
    S::Out: Record,
{
    collection
        .inner
        .unary::<CapacityContainerBuilder<Vec<(S::Out, Time, isize)>>, _, _, _>(
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
                                    stages.push(record, &stage, &mut |out| {
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
