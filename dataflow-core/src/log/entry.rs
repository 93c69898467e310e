//! How the records of a pipeline's inputs are stored in one log: a single input's records as they
//! are (so a one-input log is just that input's records), several inputs' records each tagged with
//! the input it belongs to ([`Entry2`], [`Entry3`]), in the order they were appended. Replaying such a
//! log splits each step back into one batch per input.
//!
//! ```text
//!  orders.csv ──┐                                   ┌─▶ orders    ┐
//!               ├─▶ ingest ─▶ [ A(o1) B(c1) A(o2) … ] ─▶ replay ─┤            ├─▶ one step
//!  customers.csv┘                                   └─▶ customers ┘
//! ```

use crate::pipeline::Inputs;
use crate::record::Record;
use dataflow_log::{DecodeError, Schema, decode_versioned};
use serde::de::{self, SeqAccess, Visitor};
use serde::ser::SerializeTuple;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// Inputs whose records one log can hold, and how a replayed step of log records becomes a batch.
pub trait LoggedInputs: Inputs {
    /// One log record: the input's own record for one input, a record tagged with its input for more.
    type Entry: Record + Schema;

    /// Splits a step of log records into one batch, each record to its input, in log order.
    fn batch(entries: Vec<Self::Entry>) -> Self::Batch;

    /// The log records of `batch`, input by input, each record with the batch of it alone (for its
    /// event time).
    fn entries(batch: Self::Batch) -> Vec<(Self::Batch, Self::Entry)>;
}

impl<A: Record + Schema> LoggedInputs for (A,) {
    type Entry = A;

    fn batch(entries: Vec<A>) -> (Vec<A>,) {
        (entries,)
    }

    fn entries(batch: (Vec<A>,)) -> Vec<((Vec<A>,), A)> {
        batch
            .0
            .into_iter()
            .map(|record| ((vec![record.clone()],), record))
            .collect()
    }
}

/// The envelope of a tagged entry: the input's index, the inner record's schema version, and the
/// inner record as its own schema writes it (postcard), so each input's records keep their own
/// versions and upgrades.
const ENTRY_VERSION: u32 = 1;

fn write_tagged<S: Serializer, T: Schema>(
    serializer: S,
    input: u8,
    record: &T,
) -> Result<S::Ok, S::Error> {
    let bytes = postcard::to_stdvec(record).map_err(serde::ser::Error::custom)?;
    let mut tuple = serializer.serialize_tuple(3)?;
    tuple.serialize_element(&input)?;
    tuple.serialize_element(&T::VERSION)?;
    tuple.serialize_element(&bytes)?;
    tuple.end()
}

/// Reads the envelope: `(input, version, payload)`.
struct Envelope;

impl<'de> Visitor<'de> for Envelope {
    type Value = (u8, u32, Vec<u8>);

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a tagged log entry (input, version, payload)")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let input = seq
            .next_element()?
            .ok_or_else(|| de::Error::invalid_length(0, &self))?;
        let version = seq
            .next_element()?
            .ok_or_else(|| de::Error::invalid_length(1, &self))?;
        let payload = seq
            .next_element()?
            .ok_or_else(|| de::Error::invalid_length(2, &self))?;
        Ok((input, version, payload))
    }
}

fn inner<T: Schema, E: de::Error>(input: u8, version: u32, payload: &[u8]) -> Result<T, E> {
    decode_versioned::<T>(version, payload)
        .map_err(|e: DecodeError| E::custom(format!("input {input}: {e}")))
}

macro_rules! tagged_entry {
    ($(#[$doc:meta])* $name:ident; $($variant:ident $t:ident $i:tt),+) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name<$($t),+> {
            $(
                #[doc = concat!("A record of input ", stringify!($i), ".")]
                $variant($t),
            )+
        }

        impl<$($t: Schema),+> Serialize for $name<$($t),+> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                match self {
                    $( $name::$variant(record) => write_tagged(serializer, $i, record), )+
                }
            }
        }

        impl<'de, $($t: Schema),+> Deserialize<'de> for $name<$($t),+> {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let (input, version, payload) = deserializer.deserialize_tuple(3, Envelope)?;
                match input {
                    $( $i => inner::<$t, D::Error>(input, version, &payload).map($name::$variant), )+
                    other => Err(de::Error::custom(format!(
                        "the entry names input {other}, but the pipeline has {}",
                        [$($i),+].len()
                    ))),
                }
            }
        }

        #[diagnostic::do_not_recommend]
        impl<$($t: Schema),+> Schema for $name<$($t),+> {
            const VERSION: u32 = ENTRY_VERSION;

            /// Reads the envelope, then the inner record with its own schema version, reporting the
            /// inner record's error with the input it belongs to.
            fn decode(version: u32, payload: &[u8]) -> Result<Self, DecodeError> {
                if version != ENTRY_VERSION {
                    return Err(DecodeError::unsupported(version, ENTRY_VERSION));
                }
                let (input, inner, bytes): (u8, u32, Vec<u8>) = postcard::from_bytes(payload)
                    .map_err(|e| DecodeError::Payload {
                        version,
                        message: format!("not a tagged entry: {e}"),
                    })?;
                let within = |e: DecodeError| DecodeError::Payload {
                    version: inner,
                    message: format!("input {input}: {e}"),
                };
                match input {
                    $( $i => decode_versioned::<$t>(inner, &bytes).map($name::$variant).map_err(within), )+
                    other => Err(DecodeError::Payload {
                        version,
                        message: format!(
                            "the entry names input {other}, but the pipeline has {}",
                            [$($i),+].len()
                        ),
                    }),
                }
            }
        }

        impl<$($t: Record + Schema),+> LoggedInputs for ($($t,)+) {
            type Entry = $name<$($t),+>;

            fn batch(entries: Vec<Self::Entry>) -> Self::Batch {
                let mut batch = <Self as Inputs>::empty();
                for entry in entries {
                    match entry {
                        $( $name::$variant(record) => batch.$i.push(record), )+
                    }
                }
                batch
            }

            fn entries(batch: Self::Batch) -> Vec<(Self::Batch, Self::Entry)> {
                let mut entries = Vec::with_capacity(<Self as Inputs>::len(&batch));
                $(
                    for record in batch.$i {
                        let mut alone = <Self as Inputs>::empty();
                        alone.$i.push(record.clone());
                        entries.push((alone, $name::$variant(record)));
                    }
                )+
                entries
            }
        }
    };
}

tagged_entry!(
    /// A log record of a two-input pipeline: a record of its first or of its second input.
    Entry2; A A 0, B B 1
);
tagged_entry!(
    /// A log record of a three-input pipeline.
    Entry3; A A 0, B B 1, C C 2
);

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
    struct Order {
        id: u32,
        customer: u32,
    }
    impl Schema for Order {
        const VERSION: u32 = 2;
        fn upgrade(version: u32, payload: &[u8]) -> Result<Self, DecodeError> {
            match version {
                1 => {
                    let id: u32 =
                        postcard::from_bytes(payload).map_err(|e| DecodeError::Payload {
                            version,
                            message: e.to_string(),
                        })?;
                    Ok(Order { id, customer: 0 })
                }
                other => Err(DecodeError::unsupported(other, 2)),
            }
        }
    }
    #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
    struct Customer {
        id: u32,
        country: String,
    }
    impl Schema for Customer {
        const VERSION: u32 = 1;
    }

    #[test]
    fn tagged_entries_round_trip_and_split_into_a_batch() {
        let entries = vec![
            Entry2::A(Order { id: 1, customer: 7 }),
            Entry2::B(Customer {
                id: 7,
                country: "NL".into(),
            }),
            Entry2::A(Order { id: 2, customer: 7 }),
        ];
        for entry in &entries {
            let bytes = postcard::to_stdvec(entry).unwrap();
            assert_eq!(
                &postcard::from_bytes::<Entry2<Order, Customer>>(&bytes).unwrap(),
                entry
            );
        }
        let (orders, customers) = <(Order, Customer)>::batch(entries);
        assert_eq!(orders.iter().map(|o| o.id).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(customers.len(), 1);
    }

    #[test]
    fn each_input_keeps_its_own_schema_versions() {
        // An order written at version 1 (only its id) inside a tagged entry is upgraded on read.
        let old = postcard::to_stdvec(&(0u8, 1u32, postcard::to_stdvec(&5u32).unwrap())).unwrap();
        let entry: Entry2<Order, Customer> = postcard::from_bytes(&old).unwrap();
        assert_eq!(entry, Entry2::A(Order { id: 5, customer: 0 }));
        assert_eq!(
            <Entry2<Order, Customer> as Schema>::decode(1, &old).unwrap(),
            Entry2::A(Order { id: 5, customer: 0 })
        );
        let unknown = postcard::to_stdvec(&(0u8, 9u32, Vec::<u8>::new())).unwrap();
        let error = <Entry2<Order, Customer> as Schema>::decode(1, &unknown)
            .unwrap_err()
            .to_string();
        assert!(error.contains("input 0") && error.contains('9'), "{error}");
        let stray = postcard::to_stdvec(&(5u8, 1u32, Vec::<u8>::new())).unwrap();
        let error = <Entry2<Order, Customer> as Schema>::decode(1, &stray)
            .unwrap_err()
            .to_string();
        assert!(error.contains("names input 5"), "{error}");
    }
}
