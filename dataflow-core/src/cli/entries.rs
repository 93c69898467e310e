//! The input files as the log's entries, read by both ingests (into the file log and into a
//! topic): every record in order, with its event time.

use crate::cli::inputs::CliInputs;
use crate::error::Error;
use crate::io::DeadLetterSink;
use crate::log::LoggedInputs;
use crate::pipeline::{Inputs, Pipeline};

/// One input record as the log takes it.
pub(crate) struct LoggedEntry<E> {
    /// Its event time, ms (the time it is read at, for a pipeline without event time).
    pub event_time: u64,
    /// The record, tagged with its input.
    pub entry: E,
}

/// The entries of one read of `P`'s inputs.
pub(crate) type Entries<P> = Vec<LoggedEntry<<<P as Pipeline>::Inputs as LoggedInputs>::Entry>>;

/// Reads `P`'s input files, `batch` records of each input per read, waiting for a live input.
pub(crate) struct EntryReader<'a, P: Pipeline>
where
    P::Inputs: CliInputs,
{
    sources: &'a mut <P::Inputs as CliInputs>::Sources,
    batch: usize,
    /// The inputs' names in messages.
    named: &'a str,
    ordinal: u64,
    ended: bool,
    /// The last read found a live input with nothing yet: the next one waits for it first.
    waiting: bool,
}

impl<'a, P: Pipeline> EntryReader<'a, P>
where
    P::Inputs: CliInputs,
{
    /// A reader of `sources` (named `named` in messages), `batch` records per input per read.
    pub(crate) fn new(
        sources: &'a mut <P::Inputs as CliInputs>::Sources,
        batch: usize,
        named: &'a str,
    ) -> Self {
        EntryReader {
            sources,
            batch,
            named,
            ordinal: 0,
            ended: false,
            waiting: false,
        }
    }

    /// The next read's entries (none at times, while a live input waits); `None` once every input
    /// ended. Malformed records go to `dead`.
    pub(crate) fn next(&mut self, dead: &mut DeadLetterSink) -> Result<Option<Entries<P>>, Error> {
        if self.ended {
            return Ok(None);
        }
        if self.waiting {
            <P::Inputs as CliInputs>::wait(self.sources);
        }
        let mut step = <P::Inputs as Inputs>::empty();
        let state =
            <P::Inputs as CliInputs>::read(self.sources, self.batch, &mut step, &mut |letter| {
                dead.write(&letter)
            })?;
        let mut entries = Vec::with_capacity(<P::Inputs as Inputs>::len(&step));
        for (alone, entry) in <P::Inputs as LoggedInputs>::entries(step) {
            self.ordinal += 1;
            let ordinal = self.ordinal;
            let event_time = crate::cli::event_time::event_time_of::<P>(&alone, || {
                format!("{}: record {ordinal}", self.named)
            })?;
            entries.push(LoggedEntry { event_time, entry });
        }
        self.ended = state.ended;
        self.waiting = state.waiting;
        Ok(Some(entries))
    }

    /// The inputs, for their counts and the bytes read.
    pub(crate) fn sources(&self) -> &<P::Inputs as CliInputs>::Sources {
        self.sources
    }
}
