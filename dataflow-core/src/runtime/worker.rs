//! The loop each timely worker runs: build the pipeline's graph, take steps from the runner, run them
//! to completion, and send the output to the runner's process.

use crate::context::Context;
use crate::pipeline::{Inputs, Pipeline};
use crate::time::clock::Time;
use std::sync::mpsc::{Receiver, Sender, TryRecvError};
use timely::container::CapacityContainerBuilder;
use timely::dataflow::ProbeHandle;
use timely::dataflow::channels::pact::Pipeline as PipelinePact;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::{Exchange, Probe};

/// What the runner tells a worker.
pub(crate) enum Feed<B> {
    /// Insert `batch` at logical time `at`.
    Insert { at: Time, batch: B },
    /// Advance the inputs to `until` and run until the output is complete up to it.
    Advance { until: Time },
    /// The input is closed: finish.
    End,
}

/// Records a worker inserts before it lets the dataflow run: large steps are fed in pieces, so that
/// records flow through the graph while the rest are inserted instead of piling up in memory.
const INSERT_PIECE: usize = 1 << 16;

/// Records per chunk the runner hands a worker: each chunk becomes one timely message as it is.
pub(crate) const CHUNK: usize = 1 << 12;

/// What a worker tells the runner.
pub(crate) enum Event<O> {
    /// Output updates of the pipeline.
    Changes(Vec<(O, Time, isize)>),
    /// The output is complete up to this logical time.
    Done(Time),
    /// The workers finished.
    Finished,
}

/// The loop each worker runs: take steps from its feed, run them to completion, report to the runner.
pub(crate) fn run_worker<P: Pipeline>(
    worker: &mut timely::worker::Worker,
    ctx: &Context,
    feed: Receiver<Feed<<P::Inputs as Inputs>::Numbered>>,
    events: Sender<Event<P::Output>>,
    leader: bool,
    cluster: bool,
) {
    let probe = ProbeHandle::<Time>::new();
    let capture = events.clone();
    let mut handles = worker.dataflow::<Time, _, _>(|scope| {
        let (handles, collections) = <P::Inputs as Inputs>::create(scope);
        let output = P::build(ctx, collections).inner;
        // The runner's process collects the output. Workers of one process send theirs straight to
        // it (the probe passes a time only once every worker's capture has sent what it had for it);
        // in a cluster, process 0 collects everything through an exchange.
        let output = if cluster {
            output.exchange(|_| 0)
        } else {
            output
        };
        output
            .unary::<CapacityContainerBuilder<Vec<()>>, _, _, _>(
                PipelinePact,
                "Capture",
                move |_capability, _info| {
                    move |input, _output| {
                        input.for_each(|_capability, data| {
                            if !data.is_empty() {
                                let _ = capture.send(Event::Changes(std::mem::take(data)));
                            }
                        });
                    }
                },
            )
            .probe_with(&probe);
        handles
    });
    let mut inserted = 0;
    loop {
        match feed.try_recv() {
            Ok(Feed::Insert { at, batch }) => {
                <P::Inputs as Inputs>::advance_to(&mut handles, at);
                inserted += <P::Inputs as Inputs>::numbered_len(&batch);
                <P::Inputs as Inputs>::insert(&mut handles, batch);
                if inserted >= INSERT_PIECE {
                    inserted = 0;
                    worker.step();
                }
            }
            Ok(Feed::Advance { until }) => {
                inserted = 0;
                <P::Inputs as Inputs>::advance_to(&mut handles, until);
                while probe.less_than(&until) {
                    worker.step_or_park(None);
                }
                if leader {
                    let _ = events.send(Event::Done(until));
                }
            }
            Ok(Feed::End) | Err(TryRecvError::Disconnected) => break,
            Err(TryRecvError::Empty) => {
                inserted = 0;
                worker.step_or_park(None);
            }
        }
    }
    drop(handles);
    while worker.step_or_park(None) {}
    if leader {
        let _ = events.send(Event::Finished);
    }
}
