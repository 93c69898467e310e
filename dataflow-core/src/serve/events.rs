//! `POST /v1/events`: a body of records in the input's format, appended to the log with their event
//! times; malformed records are reported to the client and never appended.

use crate::error::Error;
use crate::io::{FileSource, Format};
use crate::log::{Log, Schema};
use crate::pipeline::Pipeline;
use crate::record::Record;
use crate::user_code::{catch_user, panic_message};
use serde::Serialize;

/// The most malformed records a post's answer lists (all are counted).
pub const MAX_LISTED_ERRORS: usize = 100;

/// The answer to a post.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Posted {
    /// Records appended to the log.
    pub appended: u64,
    /// The offset of the first appended record (the head when none was).
    pub from: u64,
    /// The offset after the last appended record: a read with `min_offset` = this sees them.
    pub to: u64,
    /// Malformed records, none of them appended.
    pub dead_lettered: u64,
    /// The first `MAX_LISTED_ERRORS` (100) malformed records: line (1-based, in the body) and reason.
    pub errors: Vec<PostError>,
}

/// A malformed record of a post.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PostError {
    /// Its line in the body, from 1.
    pub line: u64,
    /// Why it could not be read.
    pub reason: String,
}

/// Parses and appends a body.
pub(crate) type PostFn = Box<dyn Fn(Vec<u8>, Format) -> Result<Posted, Error> + Send + Sync>;

/// The post function for pipeline `P` over `log`.
pub(crate) fn post_fn<P, I, L>(log: L) -> PostFn
where
    P: Pipeline<Inputs = (I,)>,
    I: Record + Schema,
    L: Log<Position = u64>,
{
    Box::new(move |body, format| post::<P, I, L>(&log, body, format))
}

/// Reads `body` in `format` and appends its good records, with their event times, in one commit.
/// A body that cannot be read at all (a CSV text without its header) is an [`Error::Usage`].
pub(crate) fn post<P, I, L>(log: &L, body: Vec<u8>, format: Format) -> Result<Posted, Error>
where
    P: Pipeline<Inputs = (I,)>,
    I: Record + Schema,
    L: Log<Position = u64>,
{
    // A body that cannot be read as a whole is the client's mistake: a usage error (400).
    let bad_body = |e: Error| Error::Usage(e.to_string());
    let mut source = FileSource::<I>::from_bytes("request body", body, format).map_err(bad_body)?;
    let mut records = Vec::new();
    let mut posted = Posted::default();
    let reject = |posted: &mut Posted, line, reason| {
        posted.dead_lettered += 1;
        if posted.errors.len() < MAX_LISTED_ERRORS {
            posted.errors.push(PostError { line, reason });
        }
    };
    while let Some(item) = source.try_next().map_err(bad_body)? {
        match item {
            Ok(record) => match with_event_time::<P, I>(record) {
                Ok(timed) => records.push(timed),
                Err(reason) => {
                    let line = source.stats().read + u64::from(format == Format::Csv);
                    reject(&mut posted, line, reason);
                }
            },
            Err(letter) => reject(&mut posted, letter.line, letter.reason),
        }
    }
    if records.is_empty() {
        let head = log.head();
        posted.from = head;
        posted.to = head;
        return Ok(posted);
    }
    let (from, to) = log.append(&records)?;
    posted.appended = to - from;
    posted.from = from;
    posted.to = to;
    Ok(posted)
}

/// A record's event time for the log: what the pipeline's `event_time` stage says, or the time of
/// the post (ms since the Unix epoch) for a pipeline without one.
fn with_event_time<P, I>(record: I) -> Result<(u64, I), String>
where
    P: Pipeline<Inputs = (I,)>,
    I: Record,
{
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    };
    if !P::EVENT_TIME {
        return Ok((now(), record));
    }
    let mut batch = (vec![record],);
    let time = catch_user(|| P::max_event_time(&batch)).map_err(|payload| {
        format!(
            "the pipeline's event_time stage panicked: {}",
            panic_message(payload.as_ref())
        )
    })?;
    let record = batch
        .0
        .pop()
        .ok_or_else(|| "the event-time batch lost its record".to_string())?;
    Ok((time.unwrap_or_else(now), record))
}
