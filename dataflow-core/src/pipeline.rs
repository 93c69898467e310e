//! The [`Pipeline`] trait that `#[pipeline]` implements, and the [`Inputs`] it is fed through.

use crate::Record;
use crate::context::Context;
use crate::plan::Plan;
use differential_dataflow::VecCollection;
use differential_dataflow::input::{Input, InputSession};
use timely::dataflow::Scope;

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

    /// The pipeline's plan: every stage, its parameters and source text.
    fn plan() -> &'static Plan;

    /// Builds the pipeline's graph over its input collections inside a timely scope.
    fn build<'scope>(
        ctx: &Context,
        inputs: <Self::Inputs as Inputs>::Collections<'scope>,
    ) -> VecCollection<'scope, u64, Self::Output, isize>;

    /// The pipeline's version: the fingerprint of its plan.
    fn version() -> String {
        Self::plan().fingerprint()
    }

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
    /// Records numbered with their input position: `(Vec<(A, u64)>,)`, ...
    type Numbered: Send + 'static;
    /// The differential input sessions.
    type Handles;
    /// The input collections the pipeline's graph is built over.
    type Collections<'scope>;

    /// A batch without records.
    fn empty() -> Self::Batch;
    /// The number of records in a batch, over all inputs.
    fn len(batch: &Self::Batch) -> usize;
    /// The number of records in a numbered batch, over all inputs.
    fn numbered_len(batch: &Self::Numbered) -> usize;
    /// Numbers the records of `batch`, input `i` from `next[i]` on, and advances `next`.
    fn number(batch: Self::Batch, next: &mut [u64]) -> Self::Numbered;
    /// Creates the inputs in `scope`.
    fn create<'scope>(scope: Scope<'scope, u64>) -> (Self::Handles, Self::Collections<'scope>);
    /// Moves the inputs to `time`.
    fn advance_to(handles: &mut Self::Handles, time: u64);
    /// Inserts every record of `batch` at the inputs' current time.
    fn insert(handles: &mut Self::Handles, batch: Self::Numbered);
    /// Sends buffered records on.
    fn flush(handles: &mut Self::Handles);
    /// Splits a batch into `parts` batches of about equal size, keeping record order within each.
    fn split(batch: Self::Numbered, parts: usize) -> Vec<Self::Numbered>;
    /// The records of `batch` that belong to process `index` of `of`: those whose position is `index`
    /// modulo `of`.
    fn share(batch: Self::Numbered, index: usize, of: usize) -> Self::Numbered;
}

fn split_vec<T>(mut records: Vec<T>, parts: usize) -> Vec<Vec<T>> {
    let parts = parts.max(1);
    let size = records.len().div_ceil(parts);
    let mut out = Vec::with_capacity(parts);
    for part in (0..parts).rev() {
        let start = (part * size).min(records.len());
        out.push(records.split_off(start));
    }
    out.reverse();
    out
}

fn share_vec<T>(records: Vec<(T, u64)>, index: usize, of: usize) -> Vec<(T, u64)> {
    if of <= 1 {
        return records;
    }
    records
        .into_iter()
        .filter(|(_, position)| *position % of as u64 == index as u64)
        .collect()
}

fn number_vec<T>(records: Vec<T>, next: &mut u64) -> Vec<(T, u64)> {
    let first = *next;
    *next += records.len() as u64;
    records.into_iter().zip(first..).collect()
}

macro_rules! tuple_inputs {
    ($count:expr; $($t:ident $i:tt),+) => {
        impl<$($t: Record),+> Inputs for ($($t,)+) {
            const COUNT: usize = $count;
            type Batch = ($(Vec<$t>,)+);
            type Numbered = ($(Vec<($t, u64)>,)+);
            type Handles = ($(InputSession<u64, ($t, u64), isize>,)+);
            type Collections<'scope> = ($(VecCollection<'scope, u64, ($t, u64), isize>,)+);

            fn empty() -> Self::Batch {
                ($(Vec::<$t>::new(),)+)
            }
            fn len(batch: &Self::Batch) -> usize {
                0 $(+ batch.$i.len())+
            }
            fn numbered_len(batch: &Self::Numbered) -> usize {
                0 $(+ batch.$i.len())+
            }
            fn number(batch: Self::Batch, next: &mut [u64]) -> Self::Numbered {
                ($(number_vec(batch.$i, &mut next[$i]),)+)
            }
            fn create<'scope>(scope: Scope<'scope, u64>) -> (Self::Handles, Self::Collections<'scope>) {
                #[allow(non_snake_case)]
                let ($($t,)+) = ($(scope.new_collection::<($t, u64), isize>(),)+);
                (($($t.0,)+), ($($t.1,)+))
            }
            fn advance_to(handles: &mut Self::Handles, time: u64) {
                $( handles.$i.advance_to(time); )+
            }
            fn insert(handles: &mut Self::Handles, batch: Self::Numbered) {
                $( for record in batch.$i { handles.$i.insert(record); } )+
            }
            fn flush(handles: &mut Self::Handles) {
                $( handles.$i.flush(); )+
            }
            fn split(batch: Self::Numbered, parts: usize) -> Vec<Self::Numbered> {
                #[allow(non_snake_case)]
                let ($(mut $t,)+) = ($(split_vec(batch.$i, parts).into_iter(),)+);
                (0..parts.max(1))
                    .map(|_| ($($t.next().unwrap_or_default(),)+))
                    .collect()
            }
            fn share(batch: Self::Numbered, index: usize, of: usize) -> Self::Numbered {
                ($(share_vec(batch.$i, index, of),)+)
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

    #[test]
    fn split_keeps_every_record_in_order() {
        let parts = split_vec((0..10).collect::<Vec<u32>>(), 3);
        assert_eq!(parts, vec![vec![0, 1, 2, 3], vec![4, 5, 6, 7], vec![8, 9]]);
        let parts = split_vec(vec![1u8], 4);
        assert_eq!(parts.len(), 4);
        assert_eq!(parts.concat(), vec![1]);
    }

    #[test]
    fn shares_partition_the_batch() {
        let mut next = 0;
        let all = number_vec((10..20).collect::<Vec<u32>>(), &mut next);
        assert_eq!(next, 10);
        let a: Vec<u32> = share_vec(all.clone(), 0, 2)
            .into_iter()
            .map(|r| r.0)
            .collect();
        let b: Vec<u32> = share_vec(all, 1, 2).into_iter().map(|r| r.0).collect();
        assert_eq!(a, vec![10, 12, 14, 16, 18]);
        assert_eq!(b, vec![11, 13, 15, 17, 19]);
    }
}
