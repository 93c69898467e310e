//! Error types: [`LogError`] for everything the log does, [`CorruptReason`] for the
//! ways a record can be damaged, and [`DecodeError`] for payloads a [`Schema`](crate::Schema)
//! cannot read.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// Why a record (or the bytes where a record was expected) is unusable.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CorruptReason {
    /// The CRC32 stored in the record does not match the one computed over its bytes.
    ChecksumMismatch {
        /// The checksum stored in the record header.
        stored: u32,
        /// The checksum computed over the header fields and the payload.
        computed: u32,
    },
    /// The length field claims more bytes than the segment holds after the header.
    ImpossibleLength {
        /// The payload length read from the record header.
        len: u32,
        /// The bytes left in the segment after the record header.
        remaining: u64,
    },
    /// Fewer bytes are left in the segment than a record header needs.
    IncompleteHeader {
        /// The bytes left in the segment.
        remaining: u64,
    },
    /// The record is intact but carries another offset than its position implies.
    UnexpectedOffset {
        /// The offset stored in the record.
        found: u64,
    },
    /// The segment ended before the record count implied by the next segment.
    MissingRecords {
        /// The offset the next segment starts at.
        next_segment_base: u64,
    },
    /// The last segment is shorter than the length the commit marker records as
    /// flushed: committed records are gone.
    ShorterThanDurable {
        /// The segment length the commit marker records as flushed.
        durable_bytes: u64,
    },
}

impl fmt::Display for CorruptReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CorruptReason::ChecksumMismatch { stored, computed } => write!(
                f,
                "checksum mismatch (stored {stored:#010x}, computed {computed:#010x})"
            ),
            CorruptReason::ImpossibleLength { len, remaining } => write!(
                f,
                "impossible length {len} (only {remaining} bytes left in the segment)"
            ),
            CorruptReason::IncompleteHeader { remaining } => write!(
                f,
                "incomplete record header ({remaining} bytes left in the segment)"
            ),
            CorruptReason::UnexpectedOffset { found } => {
                write!(f, "record carries offset {found}")
            }
            CorruptReason::MissingRecords { next_segment_base } => write!(
                f,
                "segment ends before the next segment's base offset {next_segment_base}"
            ),
            CorruptReason::ShorterThanDurable { durable_bytes } => write!(
                f,
                "segment ends before byte {durable_bytes}, which the commit marker records as flushed"
            ),
        }
    }
}

/// A payload that a [`Schema`](crate::Schema) type cannot read.
///
/// [`LogRecord::decode`](crate::LogRecord::decode) wraps it in [`LogError::Decode`],
/// which adds the record's offset.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// The record was written with a schema version the reading type does not know how
    /// to upgrade from (or with a newer version than the reading type).
    UnsupportedVersion {
        /// The version stored in the record.
        version: u32,
        /// The version of the reading type, [`Schema::VERSION`](crate::Schema::VERSION).
        current: u32,
    },
    /// The payload bytes are not a valid postcard encoding of the expected type.
    Payload {
        /// The version the payload was decoded as.
        version: u32,
        /// What postcard reported.
        message: String,
    },
    /// The payload decoded but left bytes unread, so it was written by another type.
    TrailingBytes {
        /// The version the payload was decoded as.
        version: u32,
        /// How many bytes were left over.
        trailing: usize,
    },
}

impl DecodeError {
    /// The error an [`upgrade`](crate::Schema::upgrade) function returns for a version
    /// it does not handle.
    pub fn unsupported(version: u32, current: u32) -> Self {
        DecodeError::UnsupportedVersion { version, current }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::UnsupportedVersion { version, current } if version > current => write!(
                f,
                "schema version {version} is newer than the reader's version {current}"
            ),
            DecodeError::UnsupportedVersion { version, current } => write!(
                f,
                "schema version {version} cannot be upgraded to version {current}"
            ),
            DecodeError::Payload { version, message } => {
                write!(
                    f,
                    "payload is not a valid version {version} value: {message}"
                )
            }
            DecodeError::TrailingBytes { version, trailing } => write!(
                f,
                "payload decoded as version {version} left {trailing} bytes unread"
            ),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Everything that can go wrong while opening, writing, reading or checking a log.
#[derive(Debug)]
#[non_exhaustive]
pub enum LogError {
    /// An operating-system error, with the file and the operation it came from.
    Io {
        /// What was being done, for example "write segment 00000000000000000000.seg".
        context: String,
        /// The underlying error.
        source: io::Error,
    },
    /// A damaged record that is not a torn tail.
    Corrupt {
        /// The segment file name, for example `00000000000000000000.seg`.
        segment: String,
        /// The offset of the damaged record (the offset expected at that position).
        offset: u64,
        /// The byte position of the damaged record in the segment file.
        position: u64,
        /// What is wrong with it.
        reason: CorruptReason,
    },
    /// A segment file does not start with a valid header, or the set of segment files
    /// is inconsistent.
    BadSegment {
        /// The segment file name.
        segment: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A record's payload could not be decoded into the requested type.
    Decode {
        /// The offset of the record.
        offset: u64,
        /// The schema version stored in the record.
        version: u32,
        /// Why decoding failed.
        source: DecodeError,
    },
    /// A value could not be serialized.
    Encode {
        /// What postcard reported.
        message: String,
    },
    /// A single payload is larger than the format allows.
    RecordTooLarge {
        /// The payload length.
        len: usize,
        /// The largest payload the format accepts.
        max: usize,
    },
    /// A read was requested past the head of the log.
    OffsetOutOfRange {
        /// The requested offset.
        requested: u64,
        /// The head (next offset to be written) at the time of the request.
        head: u64,
    },
    /// A read was requested before the first offset the log still holds.
    OffsetBeforeStart {
        /// The requested offset.
        requested: u64,
        /// The base offset of the oldest segment.
        start: u64,
    },
    /// Another handle (possibly in another process) holds the directory's write lock.
    Locked {
        /// The log directory.
        dir: PathBuf,
    },
    /// The log was opened with [`EventLog::open_read_only`](crate::EventLog::open_read_only).
    ReadOnly,
    /// An earlier write failed and could not be rolled back; the handle refuses further
    /// appends. Reopen the log to recover.
    Poisoned,
    /// A segment the log must hold is not there: the first segment (base offset 0), a
    /// segment between two others, or the segment after a sealed last segment.
    MissingSegment {
        /// The file name of the missing segment.
        segment: String,
        /// How its absence was detected.
        reason: String,
    },
    /// The directory holds files but no segment file and no commit marker: it is not a
    /// log, and opening it neither reads nor creates one.
    NotALog {
        /// The directory.
        dir: PathBuf,
    },
    /// A read-only open found no log: the directory does not exist or is empty.
    NoLog {
        /// The directory.
        dir: PathBuf,
    },
    /// Records of a schema version are written or read with another shape than the one the log
    /// holds them with ([`Schema::SHAPE`](crate::Schema::SHAPE)): the layout changed but the
    /// version did not.
    ShapeMismatch {
        /// The log directory.
        dir: PathBuf,
        /// The schema version.
        version: u32,
        /// The shape the log holds records of this version with.
        logged: String,
        /// The shape of the type being written or read.
        given: String,
        /// The fields that differ, in words.
        differences: Vec<String>,
        /// Whether the records were being read (else written).
        reading: bool,
    },
}

impl LogError {
    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Self {
        LogError::Io {
            context: context.into(),
            source,
        }
    }
}

impl fmt::Display for LogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LogError::Io { context, source } => {
                write!(f, "I/O error while trying to {context}: {source}")
            }
            LogError::Corrupt {
                segment,
                offset,
                position,
                reason,
            } => write!(
                f,
                "corrupt record in segment {segment} at offset {offset} (byte {position}): {reason}"
            ),
            LogError::BadSegment { segment, reason } => {
                write!(f, "bad segment {segment}: {reason}")
            }
            LogError::Decode {
                offset,
                version,
                source,
            } => write!(
                f,
                "cannot decode record at offset {offset} (schema version {version}): {source}"
            ),
            LogError::Encode { message } => write!(f, "cannot encode payload: {message}"),
            LogError::RecordTooLarge { len, max } => {
                write!(
                    f,
                    "payload of {len} bytes exceeds the maximum of {max} bytes"
                )
            }
            LogError::OffsetOutOfRange { requested, head } => {
                write!(f, "offset {requested} is past the head of the log ({head})")
            }
            LogError::OffsetBeforeStart { requested, start } => write!(
                f,
                "offset {requested} is before the first offset the log holds ({start})"
            ),
            LogError::Locked { dir } => write!(
                f,
                "log directory {} is already open for writing by another handle",
                dir.display()
            ),
            LogError::ReadOnly => write!(f, "the log was opened read-only"),
            LogError::Poisoned => write!(
                f,
                "an earlier write failed and could not be rolled back; reopen the log"
            ),
            LogError::MissingSegment { segment, reason } => {
                write!(f, "missing segment {segment}: {reason}")
            }
            LogError::NotALog { dir } => write!(
                f,
                "not an event log directory: {} holds files but no segment",
                dir.display()
            ),
            LogError::ShapeMismatch {
                dir,
                version,
                logged,
                given,
                differences,
                reading,
            } => write!(
                f,
                "the log {} holds version {version} records as `{logged}`, but {} `{given}` at version {version} ({}): a new layout needs a new version, as in `#[record(version = {}, upgrade = ..)]`",
                dir.display(),
                if *reading {
                    "they are read as"
                } else {
                    "these records are"
                },
                differences.join(", "),
                version + 1
            ),
            LogError::NoLog { dir } => write!(
                f,
                "no event log at {}: the directory is missing or empty",
                dir.display()
            ),
        }
    }
}

impl std::error::Error for LogError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LogError::Io { source, .. } => Some(source),
            LogError::Decode { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// An adapter for `map_err`: an I/O error while doing `action` on `path`.
pub(crate) fn io_err(action: &str, path: &Path) -> impl FnOnce(std::io::Error) -> LogError {
    let context = format!("{action} {}", path.display());
    move |source| LogError::io(context, source)
}
