//! The loop each timely worker runs: build the pipeline's graph, take steps from the runner, run them
//! to completion, and send the output to the runner's process.
//!
//! Beside the output, every worker has a *side* stream to process 0: the runner's notes of what each
//! step read (a replay's journal, so that process 0 writes one checkpoint for the whole cluster), and
//! the late records the other processes' window stages turned away, so that nothing late is lost on a
//! process that writes no output. Both are timestamped like the data, so when process 0's step
//! completes at a time, every note and late record of earlier times has arrived.

use crate::context::{Context, LateRecord};
use crate::pipeline::{Inputs, Pipeline};
use crate::runtime::heartbeat::{Beats, INTERVAL};
use crate::time::clock::Time;
use serde::{Deserialize, Serialize};
use std::sync::mpsc::{Receiver, Sender, TryRecvError};
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Pipeline as PipelinePact;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::{Exchange, Input, Probe};
use timely::dataflow::{InputHandle, ProbeHandle};

/// What the runner tells a worker.
pub(crate) enum Feed<B> {
    /// Insert `batch` at logical time `at`.
    Insert { at: Time, batch: B },
    /// Advance the inputs to `until` and run until the output is complete up to it.
    Advance { until: Time },
    /// Send `note` to process 0 at logical time `at` (the leader worker only).
    Note { at: Time, note: Vec<u8> },
    /// The input is closed: finish.
    End,
}

/// Moves the side input to `time` (it only moves forward).
fn advance(side: &mut InputHandle<Time, CapacityContainerBuilder<Vec<Side>>>, time: Time) {
    if *side.time() < time {
        side.advance_to(time);
    }
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
    /// Process 0: notes and late records the processes sent at this logical time.
    Side(Time, Vec<Side>),
    /// The workers finished.
    Finished,
}

/// What travels on the side stream to process 0.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) enum Side {
    /// A note of process `process`'s runner (see [`Running::note`](crate::Running::note)).
    Note { process: usize, note: Vec<u8> },
    /// Late records another process's stages turned away, as JSON lines.
    Late(String),
}

/// Where a worker stands in its cluster.
#[derive(Clone, Copy)]
pub(crate) struct Place {
    /// This process's index.
    pub process: usize,
    /// The number of processes.
    pub processes: usize,
    /// Worker threads per process.
    pub workers: usize,
    /// Whether there are several processes.
    pub cluster: bool,
    /// Whether this worker is its process's first, which speaks for the process.
    pub leader: bool,
}

impl Place {
    /// Whether this worker sends its process's late records to process 0 rather than leaving them
    /// with the runner: the leader of every process but 0, in a cluster.
    fn forwards_late(self) -> bool {
        self.cluster && self.leader && self.process != 0
    }
}

/// Sends the late records reported in this process since the last call to process 0.
fn forward_late(ctx: &Context, side: &mut InputHandle<Time, CapacityContainerBuilder<Vec<Side>>>) {
    let late = ctx.take_late();
    if late.is_empty() {
        return;
    }
    let mut lines = String::new();
    for record in &late {
        if let Ok(line) = serde_json::to_string(record) {
            lines.push_str(&line);
            lines.push('\n');
        }
    }
    side.send(Side::Late(lines));
}

/// Process 0: the late records in a [`Side::Late`].
pub(crate) fn late_records(lines: &str) -> Vec<LateRecord> {
    lines
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}

/// The loop each worker runs: take steps from its feed, run them to completion, report to the runner.
pub(crate) fn run_worker<P: Pipeline>(
    worker: &mut timely::worker::Worker,
    ctx: &Context,
    feed: Receiver<Feed<<P::Inputs as Inputs>::Numbered>>,
    events: Sender<Event<P::Output>>,
    place: Place,
) {
    let Place {
        cluster, leader, ..
    } = place;
    let probe = ProbeHandle::<Time>::new();
    let side_probe = ProbeHandle::<Time>::new();
    let capture = events.clone();
    let side_capture = events.clone();
    let (handles, side) = worker.dataflow::<Time, _, _>(|scope| {
        let (handles, collections) = <P::Inputs as Inputs>::create(scope);
        let (side_input, side) = scope.new_input::<Vec<Side>>();
        side.exchange(|_| 0)
            .unary::<CapacityContainerBuilder<Vec<()>>, _, _, _>(
                PipelinePact,
                "Side",
                move |_capability, _info| {
                    move |input, _output| {
                        input.for_each(|capability, data| {
                            if let Some(&time) = capability.least()
                                && !data.is_empty()
                            {
                                let _ = side_capture.send(Event::Side(time, std::mem::take(data)));
                            }
                        });
                    }
                },
            )
            .probe_with(&side_probe);
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
        (handles, side_input)
    });
    let (mut handles, mut side) = (handles, side);
    // In a cluster, workers wake at least every heartbeat interval, and the first of each process
    // beats (see `heartbeat`).
    let mut beats = cluster.then(|| {
        Beats::new(
            worker,
            place.process,
            place.processes,
            place.workers,
            leader,
        )
    });
    let park = cluster.then_some(INTERVAL);
    let mut inserted = 0;
    loop {
        if let Some(beats) = beats.as_mut() {
            beats.tick();
        }
        match feed.try_recv() {
            Ok(Feed::Insert { at, batch }) => {
                <P::Inputs as Inputs>::advance_to(&mut handles, at);
                advance(&mut side, at);
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
                advance(&mut side, until);
                while probe.less_than(&until) || side_probe.less_than(&until) {
                    worker.step_or_park(park);
                    if let Some(beats) = beats.as_mut() {
                        beats.tick();
                    }
                }
                if place.forwards_late() {
                    forward_late(ctx, &mut side);
                }
                if leader {
                    let _ = events.send(Event::Done(until));
                }
            }
            Ok(Feed::Note { at, note }) => {
                advance(&mut side, at);
                side.send(Side::Note {
                    process: place.process,
                    note,
                });
            }
            Ok(Feed::End) | Err(TryRecvError::Disconnected) => break,
            Err(TryRecvError::Empty) => {
                inserted = 0;
                worker.step_or_park(park);
            }
        }
    }
    drop(handles);
    if place.forwards_late() {
        // The stages may turn records away until every process's input is closed and the output
        // frontier is empty: until then the side input follows the output's frontier (so that it
        // holds no step of process 0's back) and sends what is turned away as it comes.
        while !probe.done() {
            if let Some(time) = probe.with_frontier(|frontier| frontier.first().copied()) {
                advance(&mut side, time);
            }
            forward_late(ctx, &mut side);
            worker.step_or_park(park);
            if let Some(beats) = beats.as_mut() {
                beats.tick();
            }
        }
        forward_late(ctx, &mut side);
    }
    drop(side);
    if let Some(mut beats) = beats {
        // Beat until the pipeline is complete everywhere, then say so and close the heartbeat.
        while !(probe.done() && side_probe.done()) {
            worker.step_or_park(park);
            beats.tick();
        }
        beats.finish();
    }
    while worker.step_or_park(None) {}
    if leader {
        let _ = events.send(Event::Finished);
    }
}
