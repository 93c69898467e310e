//! Versioned payloads: the [`Schema`] trait and the records readers hand out.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{DecodeError, LogError};

/// A payload type stored in the log, with the schema version it is written as.
///
/// Payloads are encoded with postcard, which is positional: a field added, removed or
/// reordered changes how bytes are read. Every record therefore stores the
/// [`VERSION`](Schema::VERSION) it was written with, and reading a record written with an
/// older version goes through [`upgrade`](Schema::upgrade). Keep the old type around
/// (with its old layout) and convert; [`upgrade_from`] makes that one line.
///
/// # Examples
///
/// ```
/// use dataflow_log::{DecodeError, Schema, upgrade_from};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize)]
/// struct SaleV1 {
///     item: String,
///     cents: u64,
/// }
/// impl Schema for SaleV1 {
///     const VERSION: u32 = 1;
/// }
///
/// #[derive(Serialize, Deserialize, Debug, PartialEq)]
/// struct Sale {
///     item: String,
///     cents: u64,
///     store: u32,
/// }
/// impl From<SaleV1> for Sale {
///     fn from(old: SaleV1) -> Self {
///         Sale { item: old.item, cents: old.cents, store: 0 }
///     }
/// }
/// impl Schema for Sale {
///     const VERSION: u32 = 2;
///     fn upgrade(version: u32, payload: &[u8]) -> Result<Self, DecodeError> {
///         match version {
///             1 => upgrade_from::<SaleV1, Self>(payload),
///             other => Err(DecodeError::unsupported(other, Self::VERSION)),
///         }
///     }
/// }
///
/// let old = postcard::to_stdvec(&SaleV1 { item: "tea".into(), cents: 250 }).unwrap();
/// assert_eq!(
///     Sale::upgrade(1, &old).unwrap(),
///     Sale { item: "tea".into(), cents: 250, store: 0 }
/// );
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be stored in the event log: it does not implement `Schema`",
    label = "`{Self}` has no schema version",
    note = "add `#[record]` (from `dataflow_core::prelude`) above the declaration of `{Self}`: it derives the serde traits and declares schema version 1",
    note = "or implement it by hand: `impl Schema for {Self} {{ const VERSION: u32 = 1; }}`"
)]
pub trait Schema: Serialize + DeserializeOwned {
    /// The schema version this type writes. Bump it whenever the serialized layout changes.
    const VERSION: u32;

    /// The type's shape as declared: its name, and its fields' names and types as written, such as
    /// `struct Sale { item: String, cents: u64 }`. `None` (the default) when the type does not
    /// declare it; `#[record]` in `dataflow-core` writes it. Two layouts under one
    /// [`VERSION`](Schema::VERSION) have different shapes, so a reader can tell them apart.
    const SHAPE: Option<&'static str> = None;

    /// A 64-bit fingerprint of [`SHAPE`](Schema::SHAPE) ([`shape_fingerprint`]), computed at compile
    /// time; `None` when the shape is not declared.
    const SHAPE_FINGERPRINT: Option<u64> = match Self::SHAPE {
        Some(shape) => Some(shape_fingerprint(shape)),
        None => None,
    };

    /// Reads a payload written with an older `version` (`version < Self::VERSION`).
    ///
    /// The default knows no older versions and returns
    /// [`DecodeError::UnsupportedVersion`].
    fn upgrade(version: u32, payload: &[u8]) -> Result<Self, DecodeError> {
        let _ = payload;
        Err(DecodeError::unsupported(version, Self::VERSION))
    }

    /// Reads a payload written with `version`: as this type at [`VERSION`](Schema::VERSION),
    /// through [`upgrade`](Schema::upgrade) for older versions. Envelope types that hold a payload
    /// of another type override it to report the inner payload's own error.
    fn decode(version: u32, payload: &[u8]) -> Result<Self, DecodeError> {
        if version == Self::VERSION {
            decode_exact::<Self>(version, payload)
        } else if version < Self::VERSION {
            Self::upgrade(version, payload)
        } else {
            Err(DecodeError::unsupported(version, Self::VERSION))
        }
    }
}

/// The fingerprint of a type's shape text: 64-bit FNV-1a of its UTF-8 bytes. Stable across builds,
/// platforms and compiler versions, and usable in constants.
///
/// ```
/// use dataflow_log::{Schema, shape_fingerprint};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize)]
/// struct Sale {
///     item: String,
///     cents: u64,
/// }
/// impl Schema for Sale {
///     const VERSION: u32 = 1;
///     const SHAPE: Option<&'static str> = Some("struct Sale { item: String, cents: u64 }");
/// }
///
/// assert_eq!(Sale::SHAPE_FINGERPRINT, Some(shape_fingerprint("struct Sale { item: String, cents: u64 }")));
/// assert_ne!(shape_fingerprint("struct Sale { item: String, cents: u64 }"),
///            shape_fingerprint("struct Sale { cents: u64, item: String }"));
/// // The reference values of FNV-1a 64.
/// assert_eq!(shape_fingerprint(""), 0xcbf2_9ce4_8422_2325);
/// assert_eq!(shape_fingerprint("a"), 0xaf63_dc4c_8601_ec8c);
/// ```
pub const fn shape_fingerprint(shape: &str) -> u64 {
    let bytes = shape.as_bytes();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut index = 0;
    while index < bytes.len() {
        hash ^= bytes[index] as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        index += 1;
    }
    hash
}

/// Decodes `payload` as the older type `Old` and converts it into `New`: the body of a
/// typical [`Schema::upgrade`] arm. `Old` must be the type exactly as it was written.
pub fn upgrade_from<Old, New>(payload: &[u8]) -> Result<New, DecodeError>
where
    Old: Schema,
    New: From<Old>,
{
    decode_exact::<Old>(Old::VERSION, payload).map(New::from)
}

/// Decodes a payload written with schema `version` as `T`: directly at [`Schema::VERSION`], through
/// [`Schema::upgrade`] for older versions; a newer version is an error. This is what reading a record
/// does; envelopes that carry a payload of another type inside theirs (such as one log holding the
/// records of several inputs) use it for the inner payload.
pub fn decode_versioned<T: Schema>(version: u32, payload: &[u8]) -> Result<T, DecodeError> {
    T::decode(version, payload)
}

/// Decodes a payload as `T` and requires that every byte is used.
fn decode_exact<T: DeserializeOwned>(version: u32, payload: &[u8]) -> Result<T, DecodeError> {
    match postcard::take_from_bytes::<T>(payload) {
        Ok((value, [])) => Ok(value),
        Ok((_, rest)) => Err(DecodeError::TrailingBytes {
            version,
            trailing: rest.len(),
        }),
        Err(e) => Err(DecodeError::Payload {
            version,
            message: e.to_string(),
        }),
    }
}

/// Decodes the payload of the record at `offset` written with `version` as `T`.
pub(crate) fn decode_payload<T: Schema>(
    offset: u64,
    version: u32,
    payload: &[u8],
) -> Result<T, LogError> {
    decode_versioned::<T>(version, payload).map_err(|source| LogError::Decode {
        offset,
        version,
        source,
    })
}

/// A committed record, owning its payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    /// The record's position in the log (dense, from 0).
    pub offset: u64,
    /// The event time given when the record was appended (milliseconds, by convention
    /// since the Unix epoch).
    pub event_time: u64,
    /// The schema version the payload was written with.
    pub schema_version: u32,
    /// The postcard-encoded payload.
    pub payload: Vec<u8>,
}

impl LogRecord {
    /// Decodes the payload as `T`: directly when it was written with `T::VERSION`, through
    /// [`Schema::upgrade`] when it is older, and as [`LogError::Decode`] (naming the
    /// offset and version) when it is newer or unreadable.
    pub fn decode<T: Schema>(&self) -> Result<T, LogError> {
        decode_payload(self.offset, self.schema_version, &self.payload)
    }
}

/// A committed record borrowing its payload from a reader's buffer: the allocation-free
/// form returned by [`LogReader::next_ref`](crate::LogReader::next_ref).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordRef<'a> {
    /// The record's position in the log.
    pub offset: u64,
    /// The event time given when the record was appended.
    pub event_time: u64,
    /// The schema version the payload was written with.
    pub schema_version: u32,
    /// The postcard-encoded payload.
    pub payload: &'a [u8],
}

impl RecordRef<'_> {
    /// Decodes the payload as `T`; see [`LogRecord::decode`].
    pub fn decode<T: Schema>(&self) -> Result<T, LogError> {
        decode_payload(self.offset, self.schema_version, self.payload)
    }

    /// Copies the record into an owned [`LogRecord`].
    pub fn to_record(&self) -> LogRecord {
        LogRecord {
            offset: self.offset,
            event_time: self.event_time,
            schema_version: self.schema_version,
            payload: self.payload.to_vec(),
        }
    }
}
