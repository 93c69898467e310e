//! Exact decimal amounts that print as JSON numbers.
//!
//! Amounts are [`Decimal`]s, so sums are exact and a stream's total equals a batch's whatever the order
//! of the additions. Use `#[serde(with = "dataflow_examples::money")]` on a `Decimal` field: in
//! human-readable formats (JSON, CSV) it is written as a plain number and read from a number or a string;
//! in binary formats (timely's exchange between processes) it travels as its exact decimal text.

pub use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::de::{self, Visitor};
use serde::{Deserializer, Serializer};
use std::fmt;
use std::str::FromStr;

/// Writes a decimal as a number in human-readable formats, as exact text otherwise.
pub fn serialize<S: Serializer>(value: &Decimal, serializer: S) -> Result<S::Ok, S::Error> {
    if serializer.is_human_readable()
        && let Some(number) = value.normalize().to_f64()
    {
        return serializer.serialize_f64(number);
    }
    serializer.collect_str(value)
}

/// Reads a decimal from a number or a string.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Decimal, D::Error> {
    if deserializer.is_human_readable() {
        deserializer.deserialize_any(DecimalVisitor)
    } else {
        deserializer.deserialize_str(DecimalVisitor)
    }
}

struct DecimalVisitor;

impl Visitor<'_> for DecimalVisitor {
    type Value = Decimal;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a decimal number")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Decimal, E> {
        Decimal::from_str(text.trim())
            .or_else(|_| Decimal::from_scientific(text.trim()))
            .map_err(|_| E::custom(format!("`{text}` is not a decimal number")))
    }

    fn visit_f64<E: de::Error>(self, number: f64) -> Result<Decimal, E> {
        self.visit_str(&number.to_string())
    }

    fn visit_i64<E: de::Error>(self, number: i64) -> Result<Decimal, E> {
        Ok(Decimal::from(number))
    }

    fn visit_u64<E: de::Error>(self, number: u64) -> Result<Decimal, E> {
        Ok(Decimal::from(number))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::{Deserialize, Serialize};

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Amount(#[serde(with = "super")] Decimal);

    #[test]
    fn json_numbers_and_strings_read_exactly() {
        let a: Amount = serde_json::from_str("3.80").unwrap();
        let b: Amount = serde_json::from_str("\"3.80\"").unwrap();
        assert_eq!(a.0, Decimal::new(38, 1));
        assert_eq!(b.0, Decimal::new(380, 2));
        assert_eq!(
            serde_json::to_string(&Amount(Decimal::new(2145, 2))).unwrap(),
            "21.45"
        );
        let bad: Result<Amount, _> = serde_json::from_str("\"lots\"");
        assert!(
            bad.unwrap_err()
                .to_string()
                .contains("`lots` is not a decimal number")
        );
    }
}
