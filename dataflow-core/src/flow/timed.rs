//! Event-time streams: what follows an `event_time` stage.
//!
//! `event_time(|r| r.ts)` pairs every record with a [`Stamp`]: its event time, taken from the data, and
//! its position in the input (which breaks ties between equal times). Stateless stages on a
//! [`TimedFlow`] keep the stamp; `window` groups keyed records into event-time windows
//! ([`Windowed`]); `scan` folds over each key's records in event-time order.
//!
//! ```text
//!  input ─▶ event_time ─▶ [map/filter/key ...] ─▶ window(..) ─▶ count/sum/aggregate ─▶ ((key, window), result)
//!                                             └─▶ scan(init, |state, record, emit| ..) ─▶ emitted records
//! ```

use crate::accumulators::{Accumulator, AggregateBuilder, Count, Max, Mean, Min, Sum, Summable};
use crate::context::Context;
use crate::flow::Flow;
use crate::operators::fused::{
    FilterMapStage, FilterStage, FlatMapStage, Identity, KeyByStage, KeyStage, Lift, MapStage,
    Stage, StampStage, Then, Unsequence,
};
use crate::operators::keyed_scan::keyed_scan;
use crate::operators::window_aggregate::window_aggregate;
use crate::record::{F64, Record, Stamp};
use crate::time::clock::Time;
use crate::time::{TimeWindow, Window};
use differential_dataflow::VecCollection;

impl<'scope, A: Record> Flow<'scope, (A, u64), Unsequence> {
    /// `event_time(|record| ..)`: the record's event time in milliseconds, taken from the data.
    pub fn event_time<F: FnMut(&A) -> u64 + 'static>(
        self,
        id: usize,
        f: F,
    ) -> TimedFlow<'scope, (A, u64), StampStage<F>> {
        let (ctx, collection) = self.into_parts();
        TimedFlow {
            ctx,
            collection,
            stages: StampStage::new(f, id),
            first_stage: id,
        }
    }
}

/// A stream whose records carry their event time. See the [module docs](self).
pub struct TimedFlow<'scope, D: 'static, S> {
    ctx: Context,
    collection: VecCollection<'scope, Time, D, isize>,
    stages: S,
    first_stage: usize,
}

impl<D: Record, S: Clone> Clone for TimedFlow<'_, D, S> {
    fn clone(&self) -> Self {
        TimedFlow {
            ctx: self.ctx.clone(),
            collection: self.collection.clone(),
            stages: self.stages.clone(),
            first_stage: self.first_stage,
        }
    }
}

impl<'scope, D: Record, T, S: Stage<D, Out = (T, Stamp)>> TimedFlow<'scope, D, S> {
    fn then<B: Stage<(T, Stamp)>>(self, _id: usize, stage: B) -> TimedFlow<'scope, D, Then<S, B>> {
        TimedFlow {
            ctx: self.ctx,
            collection: self.collection,
            stages: Then(self.stages, stage),
            first_stage: self.first_stage,
        }
    }

    stateless_stages!(TimedFlow, T, Lift, Lift);

    fn stamped(self) -> VecCollection<'scope, Time, (T, Stamp), isize>
    where
        T: Record,
    {
        let name = format!("{} (fused)", self.ctx.operator_name(self.first_stage));
        self.stages.build(self.ctx, self.collection, &name)
    }

    /// The records without their stamps.
    pub fn collection(self) -> VecCollection<'scope, Time, T, isize>
    where
        T: Record,
    {
        self.stamped().map(|(record, _stamp)| record)
    }

    /// Builds the pending stages, giving a flow that can be cloned and used more than once.
    pub fn materialize(self) -> TimedFlow<'scope, (T, Stamp), Identity>
    where
        T: Record,
    {
        let ctx = self.ctx.clone();
        let first_stage = self.first_stage;
        TimedFlow {
            ctx,
            collection: self.stamped(),
            stages: Identity,
            first_stage,
        }
    }
}

impl<'scope, D: Record, K: Record, V: Record, S: Stage<D, Out = ((K, V), Stamp)>>
    TimedFlow<'scope, D, S>
{
    /// `window(spec)`: groups each key's records into event-time windows; an aggregate follows.
    pub fn window(self, id: usize, spec: Window) -> Windowed<'scope, K, V> {
        let ctx = self.ctx.clone();
        let spec = ctx.window(spec);
        Windowed {
            ctx,
            id,
            spec,
            collection: self.stamped(),
        }
    }

    /// `scan(init, |state, record, emit| ..)`: folds over each key's records in event-time order (ties
    /// in input order), starting every key from a clone of `init`; `emit.push(..)` outputs records.
    pub fn scan<St, O, F>(self, id: usize, init: St, f: F) -> Flow<'scope, O>
    where
        St: Clone + 'static,
        O: Record,
        F: FnMut(&mut St, &V, &mut Vec<O>) + 'static,
    {
        let ctx = self.ctx.clone();
        let lateness = ctx.window(Window::global()).lateness;
        let out = keyed_scan(&ctx, id, self.stamped(), lateness, init, f);
        Flow::new(&ctx, out)
    }
}

/// Keyed records grouped into event-time windows, waiting for an aggregate.
pub struct Windowed<'scope, K: 'static, V: 'static> {
    ctx: Context,
    id: usize,
    spec: Window,
    collection: VecCollection<'scope, Time, ((K, V), Stamp), isize>,
}

impl<'scope, K: Record, V: Record> Windowed<'scope, K, V> {
    fn aggregate_with<A: Accumulator<V>>(
        self,
        _id: usize,
        mut acc: A,
    ) -> Flow<'scope, ((K, TimeWindow), A::Output)>
    where
        A::Output: Record,
    {
        if self.ctx.plan().receives_only_insertions(self.id) {
            acc.insertions_only();
        }
        let out = window_aggregate(&self.ctx, self.id, self.collection, self.spec, acc);
        Flow::new(&self.ctx, out)
    }

    aggregates!((K, TimeWindow));
}
