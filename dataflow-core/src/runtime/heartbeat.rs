//! Heartbeats between the processes of a cluster. Timely has no failure detection: a peer that
//! exits breaks its connections (and [`cli`](crate::cli)'s peer watch reports it), but a peer that
//! hangs, is stopped, or sits behind a silent network partition keeps its connections open, and the
//! others would wait for it forever. So the first worker of every process sends every other process
//! a beat through timely each [`INTERVAL`], and every process records when it last heard from each
//! peer; a peer silent for longer than a timeout is lost ([`silent_peer`]).
//!
//! A process whose pipeline is complete says so with a last beat and is not waited for after it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};
use timely::container::CapacityContainerBuilder;
use timely::dataflow::InputHandle;
use timely::dataflow::channels::pact::Pipeline as PipelinePact;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::{Exchange, Input};

/// How often each process beats.
pub const INTERVAL: Duration = Duration::from_millis(500);

/// What this process heard from each peer.
struct Heard {
    started: Instant,
    /// When each process was last heard from, ms since `started`.
    last: Vec<AtomicU64>,
    /// Whether each process said its pipeline is complete.
    done: Vec<AtomicBool>,
}

static HEARD: OnceLock<Mutex<Option<&'static Heard>>> = OnceLock::new();

fn heard() -> Option<&'static Heard> {
    *HEARD.get_or_init(|| Mutex::new(None)).lock().ok()?
}

/// Starts listening for `processes` peers, each heard from now (a cluster's pipeline starts).
pub(crate) fn listen(processes: usize) {
    // One small table per started cluster run, kept for the process's life.
    let table: &'static Heard = Box::leak(Box::new(Heard {
        started: Instant::now(),
        last: (0..processes).map(|_| AtomicU64::new(0)).collect(),
        done: (0..processes).map(|_| AtomicBool::new(false)).collect(),
    }));
    if let Ok(mut slot) = HEARD.get_or_init(|| Mutex::new(None)).lock() {
        *slot = Some(table);
    }
}

fn note(process: usize, done: bool) {
    if let Some(heard) = heard() {
        let now = heard.started.elapsed().as_millis() as u64;
        if let Some(last) = heard.last.get(process) {
            last.fetch_max(now, Ordering::Relaxed);
        }
        if done && let Some(flag) = heard.done.get(process) {
            flag.store(true, Ordering::Relaxed);
        }
    }
}

/// The peer of process `me` not heard from for longer than `timeout` (and not complete), with how
/// long it has been silent; `None` while every peer beats (or outside a cluster run).
pub fn silent_peer(me: usize, timeout: Duration) -> Option<(usize, Duration)> {
    let heard = heard()?;
    let now = heard.started.elapsed();
    (0..heard.last.len())
        .filter(|&peer| peer != me && !heard.done[peer].load(Ordering::Relaxed))
        .map(|peer| {
            let last = Duration::from_millis(heard.last[peer].load(Ordering::Relaxed));
            (peer, now.saturating_sub(last))
        })
        .find(|(_, silent)| *silent > timeout)
}

/// A beat: the worker it is for, the process it is from, and whether that process is complete.
type Beat = (usize, usize, bool);

/// A worker's end of the heartbeat dataflow: the first worker of each process beats, every worker
/// records the beats it receives.
pub(crate) struct Beats {
    input: InputHandle<u64, CapacityContainerBuilder<Vec<Beat>>>,
    process: usize,
    /// The index of each process's first worker.
    leaders: Vec<usize>,
    leader: bool,
    last: Instant,
}

impl Beats {
    /// Builds the heartbeat dataflow in `worker` of process `process` (`workers` per process).
    pub(crate) fn new(
        worker: &mut timely::worker::Worker,
        process: usize,
        processes: usize,
        workers: usize,
        leader: bool,
    ) -> Beats {
        let input = worker.dataflow::<u64, _, _>(|scope| {
            let (input, beats) = scope.new_input::<Vec<Beat>>();
            beats.exchange(|(target, _, _)| *target as u64).sink(
                PipelinePact,
                "Heartbeat",
                |(input, _frontier)| {
                    input.for_each(|_, data| {
                        for &(_, from, done) in data.iter() {
                            note(from, done);
                        }
                    });
                },
            );
            input
        });
        Beats {
            input,
            process,
            leaders: (0..processes).map(|p| p * workers).collect(),
            leader,
            last: Instant::now() - INTERVAL,
        }
    }

    /// Beats if this is its process's first worker and the last beat is an interval old.
    pub(crate) fn tick(&mut self) {
        if self.leader && self.last.elapsed() >= INTERVAL {
            self.send(false);
        }
    }

    fn send(&mut self, done: bool) {
        for (process, &target) in self.leaders.iter().enumerate() {
            if process != self.process {
                self.input.send((target, self.process, done));
            }
        }
        self.input.flush();
        self.last = Instant::now();
    }

    /// The pipeline is complete here: a last beat says so, and the heartbeat dataflow closes.
    pub(crate) fn finish(mut self) {
        if self.leader {
            self.send(true);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_silent_peer_is_named_and_a_complete_one_is_not_waited_for() {
        listen(3);
        assert_eq!(silent_peer(0, Duration::from_secs(5)), None);
        std::thread::sleep(Duration::from_millis(30));
        note(1, false);
        let silent = silent_peer(0, Duration::from_millis(20));
        assert_eq!(silent.map(|(peer, _)| peer), Some(2));
        note(2, true);
        assert_eq!(silent_peer(0, Duration::from_millis(20)), None);
        // Process 2 waits for process 0, never for itself.
        assert_eq!(
            silent_peer(2, Duration::from_millis(20)).map(|(peer, _)| peer),
            Some(0)
        );
    }
}
