//! Exact decimal amounts that print as JSON numbers.
//!
//! Amounts are [`Decimal`]s, so sums are exact and a stream's total equals a batch's whatever the order
//! of the additions. In human-readable formats (JSON) they are written as plain numbers; in binary formats
//! (timely's exchange between processes) they keep their exact decimal text.

pub use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Serializes a decimal as a JSON number in human-readable formats, exactly otherwise.
pub fn serialize<S: Serializer>(value: &Decimal, serializer: S) -> Result<S::Ok, S::Error> {
    if serializer.is_human_readable() {
        match value.normalize().to_f64() {
            Some(number) => serializer.serialize_f64(number),
            None => Serialize::serialize(value, serializer),
        }
    } else {
        Serialize::serialize(value, serializer)
    }
}

/// Reads a decimal from a number or a string.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Decimal, D::Error> {
    <Decimal as Deserialize>::deserialize(deserializer)
}
