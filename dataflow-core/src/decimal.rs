//! Exact decimal amounts in records, written as JSON numbers with all their digits.
//!
//! Sums of [`Decimal`]s are exact, so a stream's total equals a batch's whatever the order of the
//! additions. Put `#[serde(with = "dataflow_core::decimal")]` on a `Decimal` field:
//!
//! * **JSON** (input and output): written as a plain number with every digit and its scale
//!   (`12345678.123456789`, `2.40`; never rounded through `f64`); read from a number or a string,
//!   digit for digit.
//! * **CSV**: read from the field's text, digit for digit (`5000000000000000000000000000` included).
//! * **Binary formats** (the event log, checkpoints, timely's exchange between processes): the exact
//!   decimal text.
//!
//! ```
//! use dataflow_core::decimal::Decimal;
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize)]
//! struct Price {
//!     #[serde(with = "dataflow_core::decimal")]
//!     amount: Decimal,
//! }
//!
//! let price: Price = serde_json::from_str(r#"{"amount": 1.00000000000000001}"#).unwrap();
//! assert_eq!(price.amount.to_string(), "1.00000000000000001");
//! assert_eq!(serde_json::to_string(&price).unwrap(), r#"{"amount":1.00000000000000001}"#);
//! ```

pub use rust_decimal::Decimal;
use serde::de::{self, MapAccess, Visitor};
use serde::ser::SerializeStruct;
use serde::{Deserializer, Serializer};
use std::fmt;
use std::str::FromStr;

/// The name by which `serde_json` (feature `raw_value`) recognises a value to be read or written as
/// its raw JSON text. Reading through it is how a JSON number reaches us with all its digits instead
/// of as an `f64`; other formats see an ordinary newtype or struct. `tests::the_raw_token_is_serde_jsons`
/// fails if `serde_json` ever renames it.
const RAW_JSON: &str = "$serde_json::private::RawValue";

/// Writes a decimal as a JSON number with every digit in human-readable formats, as exact text in
/// binary ones.
pub fn serialize<S: Serializer>(value: &Decimal, serializer: S) -> Result<S::Ok, S::Error> {
    let mut buffer = [0u8; TEXT_BYTES];
    let slow;
    let text = match format_plain(value, &mut buffer) {
        Some(text) => text,
        None => {
            slow = value.to_string();
            slow.as_str()
        }
    };
    if serializer.is_human_readable() {
        let mut raw = serializer.serialize_struct(RAW_JSON, 1)?;
        raw.serialize_field(RAW_JSON, text)?;
        raw.end()
    } else {
        serializer.serialize_str(text)
    }
}

/// Bytes of the longest text [`format_plain`] writes: a sign, 20 digits, a point and up to 28
/// leading zeros.
const TEXT_BYTES: usize = 64;

/// `value` as its `Display` writes it (every digit of its scale, `-` for a negative value, even a
/// negative zero) when its mantissa fits in 64 bits, without `Display`'s division of a 96-bit
/// number per digit; `None` otherwise.
#[inline]
fn format_plain<'a>(value: &Decimal, buffer: &'a mut [u8; TEXT_BYTES]) -> Option<&'a str> {
    let mantissa = u64::try_from(value.mantissa().unsigned_abs()).ok()?;
    let scale = value.scale() as usize;
    // The digits, least significant first, at least `scale` of them.
    let mut digits = [b'0'; 48];
    let mut len = 0;
    let mut rest = mantissa;
    while rest > 0 {
        digits[len] = b'0' + (rest % 10) as u8;
        rest /= 10;
        len += 1;
    }
    let len = len.max(scale);
    let whole = len - scale;
    let mut at = 0;
    let mut push = |byte: u8| {
        buffer[at] = byte;
        at += 1;
    };
    if value.is_sign_negative() {
        push(b'-');
    }
    if whole == 0 {
        push(b'0');
    }
    for index in (scale..len).rev() {
        push(digits[index]);
    }
    if scale > 0 {
        push(b'.');
        for index in (0..scale).rev() {
            push(digits[index]);
        }
    }
    std::str::from_utf8(&buffer[..at]).ok()
}

/// Reads a decimal from a number or a string, digit for digit.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Decimal, D::Error> {
    if deserializer.is_human_readable() {
        deserializer.deserialize_newtype_struct(RAW_JSON, DecimalVisitor)
    } else {
        deserializer.deserialize_str(DecimalVisitor)
    }
}

/// Parses decimal text: plain (`-12.50`) or scientific (`1.5e3`).
fn parse<E: de::Error>(text: &str) -> Result<Decimal, E> {
    let text = text.trim();
    Decimal::from_str(text)
        .or_else(|_| Decimal::from_scientific(text))
        .map_err(|_| {
            E::custom(format!(
                "`{text}` is not a decimal number (or is out of range)"
            ))
        })
}

struct DecimalVisitor;

impl<'de> Visitor<'de> for DecimalVisitor {
    type Value = Decimal;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a decimal number")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Decimal, E> {
        parse(text)
    }

    /// JSON: the raw text of the value, a number (`1.10`) or a string (`"1.10"`).
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Decimal, A::Error> {
        let Some(_token) = map.next_key::<String>()? else {
            return Err(de::Error::custom(
                "expected a decimal number, found an empty map",
            ));
        };
        let raw: String = map.next_value()?;
        if raw.starts_with('"') {
            let text: String = serde_json::from_str(&raw).map_err(de::Error::custom)?;
            parse(&text)
        } else {
            parse(&raw)
        }
    }

    /// CSV and other text formats: the field's own text.
    fn visit_newtype_struct<D: Deserializer<'de>>(self, inner: D) -> Result<Decimal, D::Error> {
        inner.deserialize_str(DecimalVisitor)
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

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Row {
        name: String,
        #[serde(with = "super")]
        price: Decimal,
    }

    fn dec(text: &str) -> Decimal {
        Decimal::from_str(text).unwrap()
    }

    #[test]
    fn json_numbers_and_strings_read_exactly() {
        for (json, exact) in [
            ("3.80", "3.80"),
            ("\"3.80\"", "3.80"),
            ("12345678.123456789", "12345678.123456789"),
            ("\"1.00000000000000001\"", "1.00000000000000001"),
            ("1.00000000000000001", "1.00000000000000001"),
            (
                "5000000000000000000000000000",
                "5000000000000000000000000000",
            ),
            ("-7", "-7"),
            ("1.5e3", "1500"),
        ] {
            let amount: Amount = serde_json::from_str(json).unwrap();
            assert_eq!(amount.0, dec(exact), "{json}");
            assert_eq!(amount.0.to_string(), dec(exact).to_string(), "{json}");
        }
        let bad = serde_json::from_str::<Amount>("\"lots\"").unwrap_err();
        assert!(
            bad.to_string().contains("`lots` is not a decimal number"),
            "{bad}"
        );
        assert!(serde_json::from_str::<Amount>("true").is_err());
        assert!(serde_json::from_str::<Amount>("[1]").is_err());
    }

    proptest::proptest! {
        /// Decimals are written exactly as `Display` writes them, whatever their mantissa and scale.
        #[test]
        fn plain_text_is_displays(mantissa in proptest::num::i128::ANY, scale in 0u32..=28, small in proptest::bool::ANY) {
            let mantissa = if small { mantissa % (1 << 64) } else { mantissa % (1 << 96) };
            let value = Decimal::from_i128_with_scale(mantissa, scale);
            let mut buffer = [0u8; TEXT_BYTES];
            if let Some(text) = format_plain(&value, &mut buffer) {
                proptest::prop_assert_eq!(text, value.to_string());
            }
            let mut negative_zero = Decimal::new(0, scale);
            negative_zero.set_sign_negative(true);
            let mut buffer = [0u8; TEXT_BYTES];
            let expected = negative_zero.to_string();
            proptest::prop_assert_eq!(format_plain(&negative_zero, &mut buffer), Some(expected.as_str()));
        }
    }

    #[test]
    fn json_output_keeps_every_digit() {
        let sum = dec("123456789012345678") + Decimal::ONE;
        assert_eq!(
            serde_json::to_string(&Amount(sum)).unwrap(),
            "123456789012345679"
        );
        let row = Row {
            name: "tea".into(),
            price: dec("12345678.123456789"),
        };
        let json = serde_json::to_string(&row).unwrap();
        assert_eq!(json, r#"{"name":"tea","price":12345678.123456789}"#);
        assert_eq!(serde_json::from_str::<Row>(&json).unwrap(), row);
        // The scale is kept: an amount written with two decimals is read back with two.
        assert_eq!(
            serde_json::to_string(&Amount(dec("21.450"))).unwrap(),
            "21.450"
        );
    }

    #[test]
    fn csv_fields_read_exactly() {
        let data = "name,price\ntea,12345678.123456789\nbig,5000000000000000000000000000\n";
        let rows: Vec<Row> = csv::Reader::from_reader(data.as_bytes())
            .deserialize()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(rows[0].price, dec("12345678.123456789"));
        assert_eq!(rows[1].price, dec("5000000000000000000000000000"));
        let bad = csv::Reader::from_reader("name,price\ntea,abc\n".as_bytes())
            .deserialize::<Row>()
            .next()
            .unwrap()
            .unwrap_err();
        assert!(
            bad.to_string().contains("`abc` is not a decimal number"),
            "{bad}"
        );
    }

    #[test]
    fn binary_formats_carry_the_exact_text() {
        let amount = Amount(dec("0.000000000000000000000000001"));
        let bytes = postcard::to_allocvec(&amount).unwrap();
        assert_eq!(postcard::from_bytes::<Amount>(&bytes).unwrap(), amount);
    }

    #[test]
    fn the_raw_token_is_serde_jsons() {
        // serde_json writes a value through `RAW_JSON` verbatim only if the name is its own.
        let raw = serde_json::value::RawValue::from_string("1.5".into()).unwrap();
        let via_serde_json = serde_json::to_string(&raw).unwrap();
        assert_eq!(via_serde_json, "1.5");
        assert_eq!(
            serde_json::to_string(&Amount(dec("1.5"))).unwrap(),
            via_serde_json
        );
    }
}
