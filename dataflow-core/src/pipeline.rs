//! The [`Pipeline`] trait that `#[pipeline]` implements, the [`Inputs`] it is fed through, and the
//! [`Stream`] type of its declaration.

use crate::context::Context;
use crate::record::Record;
use crate::time::clock::Time;
use dataflow_plan::Plan;
use differential_dataflow::{AsCollection, VecCollection};
use std::marker::PhantomData;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::operators::Input;
use timely::dataflow::{InputHandle, Scope};

/// The type of a pipeline's inputs and output in a `#[pipeline]` declaration: `Stream<Sale>` is a
/// stream (bounded or not) of `Sale` records. It only appears in declarations.
pub struct Stream<T>(PhantomData<T>);

impl<T> Stream<T> {
    /// The type of an input as declared, for the code `#[pipeline]` generates.
    #[doc(hidden)]
    pub const fn declared() -> Self {
        Stream(PhantomData)
    }
}

/// A pipeline declared with `#[pipeline]`: its name, its plan, and the code that builds its graph.
///
/// Users do not implement this trait by hand; the attribute generates the implementation from the
/// declared function. Runners ([`crate::Runner`]) feed a pipeline in batch, stream or replay mode.
pub trait Pipeline: 'static {
    /// The pipeline's inputs: a tuple with one record type per declared parameter, like `(Sale,)`.
    type Inputs: Inputs;
    /// The pipeline's output records.
    type Output: Record;
    /// The declared function's name.
    const NAME: &'static str;
    /// The declaration's doc comment (empty without one).
    const DOC: &'static str = "";

    /// The pipeline's plan: every stage, its parameters and source text.
    fn plan() -> &'static Plan;

    /// Builds the pipeline's graph over its input collections inside a timely scope.
    fn build<'scope>(
        ctx: &Context,
        inputs: <Self::Inputs as Inputs>::Collections<'scope>,
    ) -> VecCollection<'scope, Time, Self::Output, isize>;

    /// The pipeline's version: the fingerprint of its plan.
    fn version() -> String {
        Self::plan().fingerprint()
    }

    /// Checks the values `params` gives to the pipeline's runtime parameters (its function's
    /// parameters that are not streams): each parses as its declared type. Runners check the names
    /// against [`Plan::params`] first, then call this before they build anything.
    fn check_params(_params: &crate::params::Params) -> Result<(), crate::error::Error> {
        Ok(())
    }

    /// The output record's fields that identify a row of its served view, as declared with
    /// `#[pipeline(key(field, ..))]`; empty: the whole record is the key (see the `serve` module).
    const VIEW_KEY: &'static [&'static str] = &[];

    /// Whether the pipeline takes event time from its data (it has an `event_time` stage). Runners then
    /// drive its logical time by the watermark instead of by steps.
    const EVENT_TIME: bool = false;

    /// The greatest event time among the records of `batch`, for the watermark. `None` when the batch
    /// has no record with an event time.
    fn max_event_time(_batch: &<Self::Inputs as Inputs>::Batch) -> Option<u64> {
        None
    }
}

/// The inputs of a pipeline: implemented for tuples of one to three record types.
///
/// Runners number every input record with its position in the input (per input, counting from 0), so
/// that records with equal event times keep their input order; the collections carry `(record, position)`.
pub trait Inputs: 'static {
    /// How many inputs there are.
    const COUNT: usize;
    /// Records for every input: `(Vec<A>,)`, `(Vec<A>, Vec<B>)`, ...
    type Batch: Send + 'static;
    /// A chunk of numbered updates, ready for the timely inputs: `(Vec<((A, position), time, +1)>,)`, ...
    type Numbered: Send + 'static;
    /// The timely input handles.
    type Handles;
    /// The input collections the pipeline's graph is built over.
    type Collections<'scope>;

    /// A batch without records.
    fn empty() -> Self::Batch;
    /// The number of records in a batch, over all inputs.
    fn len(batch: &Self::Batch) -> usize;
    /// The number of records in a chunk, over all inputs.
    fn numbered_len(chunk: &Self::Numbered) -> usize;
    /// Deals the records of `batch` out to `workers` workers in one pass, moving each record once.
    ///
    /// Input `i` is numbered from `next[i]` on (and `next` advanced); its records are stamped with time
    /// `at`; a process keeps the records of its [`Share`]; worker `w` gets the `w`-th contiguous run of
    /// them, handed to `send(w, chunk)` in chunks of at most `chunk` records, in order. `send` returns
    /// `false` when the worker is gone, which stops the dealing.
    fn deal(
        batch: Self::Batch,
        next: &mut [u64],
        at: Time,
        share: Share,
        workers: usize,
        chunk: usize,
        send: &mut dyn FnMut(usize, Self::Numbered) -> bool,
    ) -> bool;
    /// Creates the inputs in `scope`.
    fn create<'scope>(scope: Scope<'scope, Time>) -> (Self::Handles, Self::Collections<'scope>);
    /// Moves the inputs to `time`.
    fn advance_to(handles: &mut Self::Handles, time: Time);
    /// Hands a chunk to the inputs (without copying its records).
    fn insert(handles: &mut Self::Handles, chunk: Self::Numbered);
}

/// Which records of the input a process keeps: those whose position modulo `of` is `index`. Every
/// process of a cluster is handed the whole input and keeps its own share.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Share {
    /// This process's index.
    pub index: usize,
    /// The number of processes.
    pub of: usize,
}

impl Share {
    /// A single process keeps everything.
    pub const ALL: Share = Share { index: 0, of: 1 };

    /// How many positions in `first..first + len` belong to this share.
    fn count(self, first: u64, len: u64) -> u64 {
        let of = self.of.max(1) as u64;
        let index = self.index as u64;
        // Positions `p < n` with `p % of == index`.
        let below = |n: u64| n / of + u64::from(n % of > index);
        below(first + len) - below(first)
    }
}

/// One update of a timely input: a numbered record at a time, with multiplicity +1.
pub type Update<T> = ((T, u64), Time, isize);

fn deal_vec<T>(
    records: Vec<T>,
    next: &mut u64,
    at: Time,
    share: Share,
    workers: usize,
    chunk: usize,
    send: &mut dyn FnMut(usize, Vec<Update<T>>) -> bool,
) -> bool {
    let first = *next;
    *next += records.len() as u64;
    let workers = workers.max(1);
    let chunk = chunk.max(1);
    let per_worker = share
        .count(first, records.len() as u64)
        .div_ceil(workers as u64) as usize;
    let capacity = chunk.min(per_worker);
    let of = share.of.max(1) as u64;
    let index = share.index as u64;
    let (mut worker, mut dealt) = (0, 0);
    let mut current: Vec<Update<T>> = Vec::with_capacity(capacity);
    for (record, position) in records.into_iter().zip(first..) {
        if of > 1 && position % of != index {
            continue;
        }
        if dealt == per_worker || current.len() == chunk {
            if !current.is_empty()
                && !send(
                    worker,
                    std::mem::replace(&mut current, Vec::with_capacity(capacity)),
                )
            {
                return false;
            }
            if dealt == per_worker {
                worker += 1;
                dealt = 0;
            }
        }
        current.push(((record, position), at, 1));
        dealt += 1;
    }
    current.is_empty() || send(worker, current)
}

macro_rules! tuple_inputs {
    ($count:expr; $($t:ident $i:tt),+) => {
        impl<$($t: Record),+> Inputs for ($($t,)+) {
            const COUNT: usize = $count;
            type Batch = ($(Vec<$t>,)+);
            type Numbered = ($(Vec<Update<$t>>,)+);
            type Handles = ($(InputHandle<Time, CapacityContainerBuilder<Vec<Update<$t>>>>,)+);
            type Collections<'scope> = ($(VecCollection<'scope, Time, ($t, u64), isize>,)+);

            fn empty() -> Self::Batch {
                ($(Vec::<$t>::new(),)+)
            }
            fn len(batch: &Self::Batch) -> usize {
                0 $(+ batch.$i.len())+
            }
            fn numbered_len(chunk: &Self::Numbered) -> usize {
                0 $(+ chunk.$i.len())+
            }
            fn deal(
                batch: Self::Batch,
                next: &mut [u64],
                at: Time,
                share: Share,
                workers: usize,
                chunk: usize,
                send: &mut dyn FnMut(usize, Self::Numbered) -> bool,
            ) -> bool {
                true $(&& deal_vec(batch.$i, &mut next[$i], at, share, workers, chunk, &mut |worker, records| {
                    let mut numbered = <Self::Numbered as Default>::default();
                    numbered.$i = records;
                    send(worker, numbered)
                }))+
            }
            fn create<'scope>(scope: Scope<'scope, Time>) -> (Self::Handles, Self::Collections<'scope>) {
                #[allow(non_snake_case)]
                let ($($t,)+) = ($(scope.new_input::<Vec<Update<$t>>>(),)+);
                (($($t.0,)+), ($($t.1.as_collection(),)+))
            }
            fn advance_to(handles: &mut Self::Handles, time: Time) {
                $( if *handles.$i.time() < time { handles.$i.advance_to(time); } )+
            }
            fn insert(handles: &mut Self::Handles, mut chunk: Self::Numbered) {
                $( handles.$i.send_batch(&mut chunk.$i); )+
            }
        }
    };
}
tuple_inputs!(1; A 0);
tuple_inputs!(2; A 0, B 1);
tuple_inputs!(3; A 0, B 1, C 2);

/// Values a runner accepts as one step of input for pipelines with inputs `I`: the batch tuple itself,
/// or, for a single-input pipeline, a plain `Vec` of its records.
pub trait IntoBatch<I: Inputs> {
    /// The batch.
    fn into_batch(self) -> I::Batch;
}

impl<A: Record> IntoBatch<(A,)> for Vec<A> {
    fn into_batch(self) -> (Vec<A>,) {
        (self,)
    }
}

impl<A: Record> IntoBatch<(A,)> for (Vec<A>,) {
    fn into_batch(self) -> (Vec<A>,) {
        self
    }
}

impl<A: Record, B: Record> IntoBatch<(A, B)> for (Vec<A>, Vec<B>) {
    fn into_batch(self) -> (Vec<A>, Vec<B>) {
        self
    }
}

impl<A: Record, B: Record, C: Record> IntoBatch<(A, B, C)> for (Vec<A>, Vec<B>, Vec<C>) {
    fn into_batch(self) -> (Vec<A>, Vec<B>, Vec<C>) {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deals `records` and returns, per worker, its chunks' `(record, position)`s.
    fn dealt(
        records: Vec<u32>,
        first: u64,
        share: Share,
        workers: usize,
        chunk: usize,
    ) -> Vec<Vec<Vec<(u32, u64)>>> {
        let mut next = first;
        let mut out = vec![Vec::new(); workers];
        assert!(deal_vec(
            records,
            &mut next,
            7,
            share,
            workers,
            chunk,
            &mut |w, c| {
                assert!(c.iter().all(|(_, time, diff)| *time == 7 && *diff == 1));
                out[w].push(c.into_iter().map(|(r, _, _)| r).collect());
                true
            }
        ));
        out
    }

    #[test]
    fn workers_get_contiguous_runs_in_chunks() {
        let out = dealt((0..10).collect(), 0, Share::ALL, 3, 3);
        let flat: Vec<Vec<u32>> = out
            .iter()
            .map(|chunks| chunks.concat().into_iter().map(|r| r.0).collect())
            .collect();
        assert_eq!(flat, vec![vec![0, 1, 2, 3], vec![4, 5, 6, 7], vec![8, 9]]);
        assert!(out.iter().flatten().all(|c| c.len() <= 3 && !c.is_empty()));
        let one = dealt(vec![1], 0, Share::ALL, 4, 8);
        assert_eq!(one[0], vec![vec![(1, 0)]]);
        assert!(one[1..].iter().all(Vec::is_empty));
    }

    #[test]
    fn shares_partition_the_input_and_positions_continue() {
        let a = dealt((10..20).collect(), 5, Share { index: 0, of: 2 }, 1, 100);
        let b = dealt((10..20).collect(), 5, Share { index: 1, of: 2 }, 2, 100);
        let a: Vec<(u32, u64)> = a.concat().concat();
        let b: Vec<(u32, u64)> = b.concat().concat();
        assert_eq!(a, vec![(11, 6), (13, 8), (15, 10), (17, 12), (19, 14)]);
        assert_eq!(b, vec![(10, 5), (12, 7), (14, 9), (16, 11), (18, 13)]);
        for first in 0..7 {
            for len in 0..9 {
                for of in 1..4 {
                    let total: u64 = (0..of)
                        .map(|index| Share { index, of }.count(first, len))
                        .sum();
                    assert_eq!(total, len);
                }
            }
        }
    }
}
