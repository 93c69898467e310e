//! What the hand-written baselines share: start `workers` timely workers in this process, hand worker
//! `i` the `i`-th contiguous part of the input (as the runner does), and collect what the workers send.

use std::sync::{Mutex, mpsc};
use timely::dataflow::StreamVec;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::Operator;

/// Splits `records` into `parts` contiguous parts of about equal size.
pub fn split<T>(mut records: Vec<T>, parts: usize) -> Vec<Vec<T>> {
    let parts = parts.max(1);
    let size = records.len().div_ceil(parts);
    let mut out: Vec<Vec<T>> = (0..parts)
        .rev()
        .map(|part| records.split_off((part * size).min(records.len())))
        .collect();
    out.reverse();
    out
}

/// Timely's configuration for `workers` threads in this process.
pub fn config(workers: usize) -> timely::Config {
    if workers > 1 {
        timely::Config::process(workers)
    } else {
        timely::Config::thread()
    }
}

/// Runs `logic` on `workers` workers, worker `i` with part `i` of `records` and a sender for what it
/// produces; returns everything the workers sent.
pub fn execute<T, M, F>(records: Vec<T>, workers: usize, logic: F) -> Result<Vec<M>, String>
where
    T: Send + 'static,
    M: Send + 'static,
    F: Fn(&mut timely::worker::Worker, Vec<T>, mpsc::Sender<M>) + Send + Sync + 'static,
{
    let parts = Mutex::new(
        split(records, workers)
            .into_iter()
            .map(Some)
            .collect::<Vec<_>>(),
    );
    let (sender, receiver) = mpsc::channel::<M>();
    let sender = Mutex::new(sender);
    let guards = timely::execute(config(workers), move |worker| {
        let part = parts
            .lock()
            .ok()
            .and_then(|mut parts| parts.get_mut(worker.index()).and_then(Option::take))
            .unwrap_or_default();
        let Some(sender) = sender.lock().ok().map(|s| s.clone()) else {
            return;
        };
        logic(worker, part, sender);
    })?;
    for result in guards.join() {
        result?;
    }
    Ok(receiver.try_iter().collect())
}

/// Sends every non-empty batch of `stream` on `sender`: the output capture of a hand-written dataflow.
pub fn capture<D: 'static>(stream: StreamVec<'_, u64, D>, sender: mpsc::Sender<Vec<D>>) {
    stream.sink(Pipeline, "Capture", move |(input, _frontier)| {
        input.for_each(|_capability, data| {
            if !data.is_empty() {
                let _ = sender.send(std::mem::take(data));
            }
        });
    });
}
