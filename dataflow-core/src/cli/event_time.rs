//! The event time a record is appended to the log with, shared by the file-log and Kafka ingests.

use crate::error::Error;
use crate::pipeline::{Inputs, Pipeline};
use crate::user_code::{catch_user, panic_message};

/// A record's event time for the log: what the pipeline's `event_time` stage says of `alone`, the
/// batch of the record alone, or the ingestion time (ms since the Unix epoch) for a pipeline
/// without one.
pub(crate) fn event_time_of<P: Pipeline>(
    alone: &<P::Inputs as Inputs>::Batch,
    name: impl FnOnce() -> String,
) -> Result<u64, Error> {
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    };
    if !P::EVENT_TIME {
        return Ok(now());
    }
    let time = catch_user(|| P::max_event_time(alone)).map_err(|payload| {
        Error::Source(format!(
            "{}: the pipeline's event_time stage panicked: {}",
            name(),
            panic_message(payload.as_ref())
        ))
    })?;
    Ok(time.unwrap_or_else(now))
}
