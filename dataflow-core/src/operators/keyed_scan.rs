//! The keyed scan: folds over each key's records in event-time order (ties in input order), once the
//! watermark has passed them by the allowed lateness. Records that arrive after that point go to the
//! late side output.

use crate::context::Context;
use crate::operators::keyed::{Emitter, KeyedState, keyed_operator};
use crate::operators::stamp_buffer::StampBuffer;
use crate::record::{HashMap, Record, Stamp};
use crate::time::clock;
use crate::time::clock::Time;
use crate::user_code::catch_user;
use differential_dataflow::{Hashable, VecCollection};
use timely::dataflow::operators::Capability;

/// The state of a keyed scan on one worker.
struct Scan<K, V, St, O, F> {
    ctx: Context,
    id: usize,
    lateness: u64,
    init: St,
    f: F,
    states: HashMap<K, St>,
    /// The records the watermark has not passed yet, with their multiplicities (a batch holds its
    /// whole input here until the end).
    buffer: StampBuffer<(K, V, isize)>,
    /// While records are buffered, a capability at (at most) the input frontier, to emit their
    /// outputs once the watermark passes them.
    hold: Option<Capability<Time>>,
    emitted: Vec<O>,
}

impl<K, V, St, O, F> KeyedState for Scan<K, V, St, O, F>
where
    K: Record,
    V: Record,
    St: Clone + 'static,
    O: Record,
    F: FnMut(&mut St, &V, &mut Vec<O>) + 'static,
{
    type In = ((K, V), Stamp);
    type Out = O;

    fn apply(
        &mut self,
        ((key, value), stamp): Self::In,
        diff: isize,
        capability: &Capability<Time>,
    ) {
        let time = *capability.time();
        let arrival = clock::watermark(time);
        if stamp.time.saturating_add(self.lateness) < arrival {
            self.ctx
                .report_late(self.id, stamp.time, arrival, &(key, value));
        } else {
            self.buffer.push(stamp, (key, value, diff));
        }
        if self.hold.as_ref().is_none_or(|held| *held.time() > time) {
            self.hold = Some(capability.clone());
        }
    }

    fn advance(&mut self, frontier: Option<Time>, output: &mut Emitter<'_, O>) {
        let watermark = frontier.map(clock::watermark);
        let lateness = self.lateness;
        let ready = |time: u64| watermark.is_none_or(|w| time.saturating_add(lateness) < w);
        let Some(held) = self.hold.as_ref() else {
            return;
        };
        let at = match frontier {
            Some(frontier) => held.delayed(&frontier.max(*held.time())),
            None => held.clone(),
        };
        let mut session = output.session(&at);
        let (ctx, id, states, init) = (&self.ctx, self.id, &mut self.states, &self.init);
        let (f, emitted) = (&mut self.f, &mut self.emitted);
        self.buffer.take_ready(ready, |_stamp, (key, value, diff)| {
            if diff < 0 {
                ctx.report(id, "scan takes no retractions: a record was removed".into());
                return;
            }
            let state = match states.get_mut(&key) {
                Some(state) => state,
                None => states.entry(key).or_insert_with(|| init.clone()),
            };
            for _ in 0..diff {
                if let Err(payload) = catch_user(|| f(state, &value, emitted)) {
                    ctx.report_panic(id, payload);
                }
            }
            for out in emitted.drain(..) {
                session.give((out, *at.time(), 1));
            }
        });
        drop(session);
        // Hold no capability behind the input frontier, so that progress is not held up.
        self.hold = match frontier {
            Some(frontier) if !self.buffer.is_empty() => {
                Some(at.delayed(&frontier.max(*at.time())))
            }
            _ => None,
        };
    }
}

/// Folds `f` over each key's records of `input` in `(event time, input position)` order, starting
/// every key from a clone of `init`, once the watermark has passed them by `lateness`.
pub(crate) fn keyed_scan<'scope, K: Record, V: Record, St, O, F>(
    ctx: &Context,
    id: usize,
    input: VecCollection<'scope, Time, ((K, V), Stamp), isize>,
    lateness: u64,
    init: St,
    f: F,
) -> VecCollection<'scope, Time, O, isize>
where
    St: Clone + 'static,
    O: Record,
    F: FnMut(&mut St, &V, &mut Vec<O>) + 'static,
{
    let scan = Scan {
        ctx: ctx.clone(),
        id,
        lateness,
        init,
        f,
        states: HashMap::default(),
        buffer: StampBuffer::new(),
        hold: None,
        emitted: Vec::new(),
    };
    keyed_operator(
        ctx,
        id,
        input,
        |((key, _), _): &((K, V), Stamp)| key.hashed(),
        scan,
    )
}
