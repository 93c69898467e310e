//! The one driver of keyed, time-ordered operator state: the frontier loop, the capabilities, the
//! updates buffered by logical time and the catching of user panics, written once for every stateful
//! operator (hash aggregate, window aggregate, keyed scan). An operator supplies only its state logic,
//! as a [`KeyedState`].
//!
//! ```text
//!  input (exchanged by key) ─▶ updates at the least open time ──▶ apply ─┐
//!                           └▶ later times: pending, by time ─▶ (when least) apply
//!  frontier passes a time ─▶ emit(time) ─▶ advance(frontier) ─▶ output
//! ```
//!
//! Updates of the least open logical time are applied as they arrive, so a batch run holds one state
//! per key and never buffers its input; updates of later times wait, in time order, until their time
//! is the least open one. A time is emitted once the input frontier has passed it.

use crate::context::Context;
use crate::record::Record;
use crate::time::clock::Time;
use crate::user_code::catch_user;
use differential_dataflow::{AsCollection, VecCollection};
use std::collections::BTreeMap;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::Capability;
use timely::dataflow::operators::generic::{Operator, OutputBuilderSession};

/// The output handle a [`KeyedState`] emits its changes to.
pub(crate) type Emitter<'a, O> =
    OutputBuilderSession<'a, Time, CapacityContainerBuilder<Vec<(O, Time, isize)>>>;

/// The state logic of a keyed operator, driven by [`keyed_operator`].
pub(crate) trait KeyedState: 'static {
    /// The input records.
    type In: Record;
    /// The output records.
    type Out: Record;

    /// Applies one update that arrived at the logical time of `capability`. User code runs here;
    /// a panic is caught by the driver, reported with the operator's stage, and the next update goes on.
    fn apply(&mut self, record: Self::In, diff: isize, capability: &Capability<Time>);

    /// The logical time of `capability` is complete: emits the changes its updates made, at that time.
    fn emit(&mut self, _capability: &Capability<Time>, _output: &mut Emitter<'_, Self::Out>) {}

    /// Event time moved: the input frontier is now `frontier` (`None` once the input has ended), or the
    /// updates of logical time `frontier` are about to be applied. Releases (and emits) what that
    /// completes, such as closed windows.
    fn advance(&mut self, _frontier: Option<Time>, _output: &mut Emitter<'_, Self::Out>) {}
}

/// Updates of a later time, with the capability to emit at that time.
type Pending<D> = (Capability<Time>, Vec<(D, isize)>);

/// Applies `updates` to `state`, reporting every panic of user code with stage `id` and going on with
/// the next update.
fn apply_all<S: KeyedState>(
    state: &mut S,
    ctx: &Context,
    id: usize,
    updates: &mut impl Iterator<Item = (S::In, isize)>,
    capability: &Capability<Time>,
) {
    while let Err(payload) = catch_user(|| {
        for (record, diff) in &mut *updates {
            state.apply(record, diff, capability);
        }
    }) {
        ctx.report_panic(id, payload);
    }
}

/// Runs `state` as the operator of stage `id` over `input`, whose records are exchanged by `route`
/// (the hash of their key), and returns its output.
pub(crate) fn keyed_operator<'scope, S: KeyedState>(
    ctx: &Context,
    id: usize,
    input: VecCollection<'scope, Time, S::In, isize>,
    route: impl Fn(&S::In) -> u64 + 'static,
    mut state: S,
) -> VecCollection<'scope, Time, S::Out, isize> {
    let name = ctx.operator_name(id);
    let ctx = ctx.clone();
    let pact = Exchange::new(move |(record, _time, _diff): &(S::In, Time, isize)| route(record));
    input
        .inner
        .unary_frontier::<CapacityContainerBuilder<Vec<(S::Out, Time, isize)>>, _, _, _>(
            pact,
            &name,
            move |_capability, _info| {
                // The least open time, whose updates are applied as they arrive.
                let mut open: Option<Capability<Time>> = None;
                // Later times, buffered until they become the least open time.
                let mut pending: BTreeMap<Time, Pending<S::In>> = BTreeMap::new();
                move |(input, frontier), output| {
                    let least = frontier.frontier().iter().next().copied();
                    let complete = |time: Time| least.is_none_or(|least| time < least);
                    // The open time is done: emit its changes.
                    if let Some(capability) = open.take_if(|cap| complete(*cap.time())) {
                        state.emit(&capability, output);
                    }
                    // Buffered times that are complete, in order.
                    while let Some(entry) = pending.first_entry() {
                        let time = *entry.key();
                        if !complete(time) {
                            break;
                        }
                        let (capability, updates) = entry.remove();
                        state.advance(Some(time), output);
                        apply_all(&mut state, &ctx, id, &mut updates.into_iter(), &capability);
                        state.emit(&capability, output);
                    }
                    state.advance(least, output);
                    // The least open time takes over its buffered updates.
                    if let Some(least) = least
                        && let Some((capability, updates)) = pending.remove(&least)
                    {
                        let held = open.get_or_insert(capability);
                        apply_all(&mut state, &ctx, id, &mut updates.into_iter(), held);
                    }
                    input.for_each(|capability, data| {
                        let Some(&time) = capability.least() else {
                            return;
                        };
                        if Some(time) == least {
                            if open.is_none() {
                                open = capability.retain_least(0);
                            }
                            let Some(held) = open.as_ref() else {
                                return;
                            };
                            let mut updates =
                                data.drain(..).map(|(record, _, diff)| (record, diff));
                            apply_all(&mut state, &ctx, id, &mut updates, held);
                        } else {
                            let slot = pending
                                .entry(time)
                                .or_insert_with(|| (capability.delayed(&time, 0), Vec::new()));
                            slot.1
                                .extend(data.drain(..).map(|(record, _time, diff)| (record, diff)));
                        }
                    });
                }
            },
        )
        .as_collection()
}

/// The state of one group (a key, or one window of a key): its accumulator, how many records it
/// holds, the result last emitted for it, and whether it changed since.
pub(crate) struct Group<S, O> {
    /// The accumulator.
    pub(crate) state: S,
    /// Records in the group, counting multiplicities.
    pub(crate) count: isize,
    /// The result last emitted.
    pub(crate) emitted: Option<O>,
    /// Whether the group changed since its result was last emitted.
    pub(crate) dirty: bool,
}

impl<S: Default, O> Default for Group<S, O> {
    fn default() -> Self {
        Group {
            state: S::default(),
            count: 0,
            emitted: None,
            dirty: false,
        }
    }
}

impl<S, O> Group<S, O> {
    /// Marks the group changed; returns whether it was clean before (so the caller notes it once).
    #[inline]
    pub(crate) fn touch(&mut self) -> bool {
        !std::mem::replace(&mut self.dirty, true)
    }
}

impl<S, O: PartialEq + Clone> Group<S, O> {
    /// Retract-old, emit-new: when `result` differs from what was emitted last, gives the retraction
    /// of the old result and the new result, and remembers the new one.
    #[inline]
    pub(crate) fn emit(&mut self, result: Option<O>, mut give: impl FnMut(O, isize)) {
        self.dirty = false;
        if result != self.emitted {
            if let Some(old) = self.emitted.take() {
                give(old, -1);
            }
            if let Some(new) = &result {
                give(new.clone(), 1);
            }
            self.emitted = result;
        }
    }
}
