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

use crate::HashMap;
use crate::aggregate::{Accumulator, AggregateBuilder, Count, Max, Mean, Min, Sum, Summable};
use crate::context::{Context, catch_user};
use crate::flow::{
    FilterMapStep, FilterStep, FlatMapStep, Flow, Identity, KeyByStep, KeyStep, MapStep, Step, Then,
};
use crate::window::{TimeWindow, Window, clock, window_aggregate};
use crate::{F64, Record, Stamp};
use differential_dataflow::{AsCollection, Hashable, VecCollection};
use std::cell::Cell;
use std::collections::BTreeMap;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::Capability;
use timely::dataflow::operators::generic::Operator;

/// Applies a stateless stage to the record of a `(record, stamp)` pair, keeping the stamp.
#[derive(Clone, Debug)]
pub struct Lift<B>(B);

impl<I, B: Step<I>> Step<(I, Stamp)> for Lift<B> {
    type Out = (B::Out, Stamp);
    #[inline(always)]
    fn push<E: FnMut(Self::Out)>(&mut self, item: (I, Stamp), stage: &Cell<usize>, emit: &mut E) {
        let (record, stamp) = item;
        self.0.push(record, stage, &mut |out| emit((out, stamp)));
    }
}

/// `event_time`: stamps each input record with its event time and input position.
#[derive(Clone, Debug)]
pub struct StampStep<F> {
    f: F,
    id: usize,
}

impl<A, F: FnMut(&A) -> u64 + 'static> Step<(A, u64)> for StampStep<F> {
    type Out = (A, Stamp);
    #[inline(always)]
    fn push<E: FnMut(Self::Out)>(&mut self, item: (A, u64), stage: &Cell<usize>, emit: &mut E) {
        stage.set(self.id);
        let (record, seq) = item;
        let time = (self.f)(&record);
        emit((record, Stamp { time, seq }))
    }
}

impl<'scope, A: Record> Flow<'scope, (A, u64), crate::flow::Unsequence> {
    /// `event_time(|record| ..)`: the record's event time in milliseconds, taken from the data.
    pub fn event_time<F: FnMut(&A) -> u64 + 'static>(
        self,
        id: usize,
        f: F,
    ) -> TimedFlow<'scope, (A, u64), StampStep<F>> {
        let (ctx, collection) = self.into_parts();
        TimedFlow {
            ctx,
            collection,
            steps: StampStep { f, id },
            first_stage: id,
        }
    }
}

/// A stream whose records carry their event time. See the [module docs](self).
pub struct TimedFlow<'scope, D: Record, S> {
    ctx: Context,
    collection: VecCollection<'scope, u64, D, isize>,
    steps: S,
    first_stage: usize,
}

impl<D: Record, S: Clone> Clone for TimedFlow<'_, D, S> {
    fn clone(&self) -> Self {
        TimedFlow {
            ctx: self.ctx.clone(),
            collection: self.collection.clone(),
            steps: self.steps.clone(),
            first_stage: self.first_stage,
        }
    }
}

impl<'scope, D: Record, T, S: Step<D, Out = (T, Stamp)>> TimedFlow<'scope, D, S> {
    fn then<B: Step<T>>(self, step: B) -> TimedFlow<'scope, D, Then<S, Lift<B>>> {
        TimedFlow {
            ctx: self.ctx,
            collection: self.collection,
            steps: crate::flow::then(self.steps, Lift(step)),
            first_stage: self.first_stage,
        }
    }

    /// `map(|record| ..)`, keeping each record's event time.
    pub fn map<O, F: FnMut(T) -> O + 'static>(
        self,
        id: usize,
        f: F,
    ) -> TimedFlow<'scope, D, Then<S, Lift<MapStep<F>>>> {
        self.then(MapStep::new(f, id))
    }

    /// `filter(|record| ..)`.
    pub fn filter<F: FnMut(&T) -> bool + 'static>(
        self,
        id: usize,
        f: F,
    ) -> TimedFlow<'scope, D, Then<S, Lift<FilterStep<F>>>> {
        self.then(FilterStep::new(f, id))
    }

    /// `filter_map(|record| ..)`, keeping each record's event time.
    pub fn filter_map<O, F: FnMut(T) -> Option<O> + 'static>(
        self,
        id: usize,
        f: F,
    ) -> TimedFlow<'scope, D, Then<S, Lift<FilterMapStep<F>>>> {
        self.then(FilterMapStep::new(f, id))
    }

    /// `flat_map(|record| ..)`: every output keeps its input's event time.
    pub fn flat_map<It: IntoIterator, F: FnMut(T) -> It + 'static>(
        self,
        id: usize,
        f: F,
    ) -> TimedFlow<'scope, D, Then<S, Lift<FlatMapStep<F>>>> {
        self.then(FlatMapStep::new(f, id))
    }

    /// `key(|record| ..)`: `(key, record)`, keeping the event time.
    pub fn key<K, F: FnMut(&T) -> K + 'static>(
        self,
        id: usize,
        f: F,
    ) -> TimedFlow<'scope, D, Then<S, Lift<KeyStep<F>>>> {
        self.then(KeyStep::new(f, id))
    }

    /// `key_by(|record| (key, value))`, keeping the event time.
    pub fn key_by<K, V, F: FnMut(T) -> (K, V) + 'static>(
        self,
        id: usize,
        f: F,
    ) -> TimedFlow<'scope, D, Then<S, Lift<KeyByStep<F>>>> {
        self.then(KeyByStep::new(f, id))
    }

    fn stamped(self) -> VecCollection<'scope, u64, (T, Stamp), isize>
    where
        T: Record,
    {
        let name = format!("{} (fused)", self.ctx.operator_name(self.first_stage));
        self.steps.build(self.ctx, self.collection, &name)
    }

    /// The records without their stamps.
    pub fn collection(self) -> VecCollection<'scope, u64, T, isize>
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
            steps: Identity,
            first_stage,
        }
    }
}

impl<'scope, D: Record, K: Record, V: Record, S: Step<D, Out = ((K, V), Stamp)>>
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
pub struct Windowed<'scope, K: Record, V: Record> {
    ctx: Context,
    id: usize,
    spec: Window,
    collection: VecCollection<'scope, u64, ((K, V), Stamp), isize>,
}

impl<'scope, K: Record, V: Record> Windowed<'scope, K, V> {
    fn aggregate_with<A: Accumulator<V>>(
        self,
        _id: usize,
        acc: A,
    ) -> Flow<'scope, ((K, TimeWindow), A::Output)>
    where
        A::Output: Record,
    {
        let out = window_aggregate(&self.ctx, self.id, self.collection, self.spec, acc);
        Flow::new(&self.ctx, out)
    }

    /// `count()` per key and window: `((key, window), count)`.
    pub fn count(self, id: usize) -> Flow<'scope, ((K, TimeWindow), u64)> {
        self.aggregate_with(id, Count)
    }

    /// `sum(|record| ..)` per key and window.
    pub fn sum<N: Summable + Record, F: FnMut(&V) -> N + 'static>(
        self,
        id: usize,
        f: F,
    ) -> Flow<'scope, ((K, TimeWindow), N)> {
        self.aggregate_with(id, Sum::new(f))
    }

    /// `min(|record| ..)` per key and window.
    pub fn min<N: Record, F: FnMut(&V) -> N + 'static>(
        self,
        id: usize,
        f: F,
    ) -> Flow<'scope, ((K, TimeWindow), N)> {
        self.aggregate_with(id, Min::new(f))
    }

    /// `max(|record| ..)` per key and window.
    pub fn max<N: Record, F: FnMut(&V) -> N + 'static>(
        self,
        id: usize,
        f: F,
    ) -> Flow<'scope, ((K, TimeWindow), N)> {
        self.aggregate_with(id, Max::new(f))
    }

    /// `mean(|record| ..)` per key and window.
    pub fn mean<N: Summable, F: FnMut(&V) -> N + 'static>(
        self,
        id: usize,
        f: F,
    ) -> Flow<'scope, ((K, TimeWindow), F64)> {
        self.aggregate_with(id, Mean::new(f))
    }

    /// `aggregate(|a| (a.sum(..), a.count(), ..))` per key and window.
    pub fn aggregate<A: Accumulator<V>, B: FnOnce(AggregateBuilder<V>) -> A>(
        self,
        id: usize,
        build: B,
    ) -> Flow<'scope, ((K, TimeWindow), A::Output)>
    where
        A::Output: Record,
    {
        let acc = build(AggregateBuilder::new());
        self.aggregate_with(id, acc)
    }
}

/// Buffered records of a scan with one stamp: key, value and multiplicity.
type Buffered<K, V> = Vec<(K, V, isize)>;

/// Folds `f` over each key's records in `(event time, input position)` order, once the watermark has
/// passed them by `lateness`. Records that arrive after that point go to the late side output.
fn keyed_scan<'scope, K: Record, V: Record, St, O, F>(
    ctx: &Context,
    id: usize,
    input: VecCollection<'scope, u64, ((K, V), Stamp), isize>,
    lateness: u64,
    init: St,
    mut f: F,
) -> VecCollection<'scope, u64, O, isize>
where
    St: Clone + 'static,
    O: Record,
    F: FnMut(&mut St, &V, &mut Vec<O>) + 'static,
{
    let name = ctx.operator_name(id);
    let ctx = ctx.clone();
    let pact = Exchange::new(|(((key, _), _), _, _): &(((K, V), Stamp), u64, isize)| key.hashed());
    input
        .inner
        .unary_frontier::<CapacityContainerBuilder<Vec<(O, u64, isize)>>, _, _, _>(
            pact,
            &name,
            move |_capability, _info| {
                let mut states: HashMap<K, St> = HashMap::default();
                let mut buffer: BTreeMap<Stamp, Buffered<K, V>> = BTreeMap::new();
                // While records are buffered, a capability at (at most) the input frontier, to emit
                // their outputs once the watermark passes them.
                let mut hold: Option<Capability<u64>> = None;
                let mut emitted: Vec<O> = Vec::new();
                move |(input, frontier), output| {
                    input.for_each(|capability, data| {
                        let Some(&time) = capability.least() else {
                            return;
                        };
                        let arrival = clock::watermark(time);
                        for (((key, value), stamp), _, diff) in data.drain(..) {
                            if stamp.time.saturating_add(lateness) < arrival {
                                ctx.report_late(id, stamp.time, arrival, &(key, value));
                                continue;
                            }
                            buffer.entry(stamp).or_default().push((key, value, diff));
                        }
                        if hold.as_ref().is_none_or(|held| *held.time() > time) {
                            hold = capability.retain_least(0);
                        }
                    });
                    let least = frontier.frontier().iter().next().copied();
                    let watermark = least.map(clock::watermark);
                    let ready = |stamp: &Stamp| {
                        watermark.is_none_or(|w| stamp.time.saturating_add(lateness) < w)
                    };
                    let Some(held) = hold.as_ref() else {
                        return;
                    };
                    let at = match least {
                        Some(least) => held.delayed(&least.max(*held.time())),
                        None => held.clone(),
                    };
                    let mut session = output.session(&at);
                    while let Some(entry) = buffer.first_entry() {
                        if !ready(entry.key()) {
                            break;
                        }
                        for (key, value, diff) in entry.remove() {
                            if diff < 0 {
                                ctx.report(
                                    id,
                                    "scan takes no retractions: a record was removed".into(),
                                );
                                continue;
                            }
                            let state = match states.get_mut(&key) {
                                Some(state) => state,
                                None => states.entry(key).or_insert_with(|| init.clone()),
                            };
                            for _ in 0..diff {
                                if let Err(payload) = catch_user(|| f(state, &value, &mut emitted))
                                {
                                    ctx.report_panic(id, payload);
                                }
                            }
                            for out in emitted.drain(..) {
                                session.give((out, *at.time(), 1));
                            }
                        }
                    }
                    drop(session);
                    // Hold no capability behind the input frontier, so that progress is not held up.
                    hold = match least {
                        Some(least) if !buffer.is_empty() => {
                            Some(at.delayed(&least.max(*at.time())))
                        }
                        _ => None,
                    };
                }
            },
        )
        .as_collection()
}
