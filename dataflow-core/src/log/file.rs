//! The embedded file log ([`EventLog`]) as a [`Log`]: one partition, positions are offsets.

use crate::error::Error;
use crate::log::{Log, Tail};
use dataflow_log::{EventLog, LogError, Schema};
use std::marker::PhantomData;
use std::path::Path;
use std::time::Duration;

/// An error of the log in `dir`, as a runner error.
pub(crate) fn log_error(dir: &Path, error: LogError) -> Error {
    Error::Source(format!("event log {}: {error}", dir.display()))
}

/// Reads records of type `I` from an event log, from an offset on, in steps: what is committed now,
/// or, following the tail, what is committed within a timeout.
///
/// Works on a log opened for writing in this process (waiting on its commits) and on a log opened
/// with [`EventLog::open_read_only`] while another process appends (looking for new records every
/// [`dataflow_log::READ_ONLY_POLL`]).
pub struct FileTail<I> {
    log: EventLog,
    follower: dataflow_log::Follower,
    _record: PhantomData<fn() -> I>,
}

impl<I: Schema> FileTail<I> {
    /// A tail of `log` whose first record is the one at offset `from`.
    pub fn open(log: &EventLog, from: u64) -> Result<Self, Error> {
        // A log written with another layout under the same version is refused, never decoded.
        log.check_shape::<I>()
            .map_err(|e| log_error(log.dir(), e))?;
        let follower = log.follow_from(from).map_err(|e| log_error(log.dir(), e))?;
        Ok(FileTail {
            log: log.clone(),
            follower,
            _record: PhantomData,
        })
    }

    /// The offset of the next record: every record before it has been read.
    fn position_now(&self) -> u64 {
        self.follower.position()
    }

    /// Appends up to `max` committed records to `into` without waiting; returns how many.
    fn read_now(&mut self, max: usize, into: &mut Vec<I>) -> Result<usize, Error> {
        let mut count = 0;
        while count < max {
            let next = self.follower.reader().next_ref();
            match next {
                Ok(Some(record)) => {
                    let value = record
                        .decode::<I>()
                        .map_err(|e| log_error(self.log.dir(), e))?;
                    into.push(value);
                    count += 1;
                }
                Ok(None) => break,
                Err(e) => return Err(log_error(self.log.dir(), e)),
            }
        }
        Ok(count)
    }

    /// Waits up to `timeout` for at least one new record, then appends up to `max` committed records
    /// to `into`; returns how many (0 if none arrived in time).
    fn wait_for(
        &mut self,
        max: usize,
        timeout: Duration,
        into: &mut Vec<I>,
    ) -> Result<usize, Error> {
        let read = self.read_now(max, into)?;
        if read > 0 || max == 0 {
            return Ok(read);
        }
        // The follower waits on this process's commits, or, on a log opened read-only, looks for
        // what another process appended every `dataflow_log::READ_ONLY_POLL`, reading only new bytes.
        let record = self
            .follower
            .next_timeout(timeout)
            .map_err(|e| log_error(self.log.dir(), e))?;
        let Some(record) = record else {
            return Ok(0);
        };
        into.push(
            record
                .decode::<I>()
                .map_err(|e| log_error(self.log.dir(), e))?,
        );
        let more = self.read_now(max - 1, into)?;
        Ok(1 + more)
    }
}

impl<I: Schema + 'static> Tail<I> for FileTail<I> {
    type Position = u64;

    fn position(&self) -> u64 {
        self.position_now()
    }

    fn head(&self) -> u64 {
        // A log opened read-only learns of another process's appends by looking again.
        self.log.refresh().unwrap_or_else(|_| self.log.head())
    }

    fn read(&mut self, max: usize, into: &mut Vec<I>) -> Result<usize, Error> {
        self.read_now(max, into)
    }

    fn wait(&mut self, max: usize, timeout: Duration, into: &mut Vec<I>) -> Result<usize, Error> {
        self.wait_for(max, timeout, into)
    }
}

impl Log for EventLog {
    type Position = u64;
    type Tail<I: Schema + 'static> = FileTail<I>;

    fn name(&self) -> String {
        self.dir().display().to_string()
    }

    fn head(&self) -> u64 {
        self.refresh().unwrap_or_else(|_| EventLog::head(self))
    }

    fn tail<I: Schema + 'static>(&self, from: u64) -> Result<FileTail<I>, Error> {
        FileTail::open(self, from)
    }

    fn append<I: Schema>(&self, records: &[(u64, I)]) -> Result<(u64, u64), Error> {
        let mut batch = self.batch();
        for (event_time, record) in records {
            batch
                .push(*event_time, record)
                .map_err(|e| log_error(self.dir(), e))?;
        }
        let range = batch.commit().map_err(|e| log_error(self.dir(), e))?;
        Ok((range.start, range.end))
    }
}
