//! Calendar dates in records, read and written as `YYYY-MM-DD` without a general-purpose date
//! parser on the hot path.
//!
//! Put `#[serde(with = "dataflow_core::date")]` on a `chrono::NaiveDate` field. The ten-character
//! form `YYYY-MM-DD` (years 0 to 9999) is read and written directly; any other text is read by
//! chrono's own parser and any other year written by chrono's own formatting, so what is accepted,
//! what is produced and every error message are exactly chrono's, only faster for the common form.
//! Every format (CSV, JSON, the event log) sees the same string as with chrono's own serde.
//!
//! ```
//! use chrono::NaiveDate;
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize)]
//! struct Sale {
//!     #[serde(with = "dataflow_core::date")]
//!     date: NaiveDate,
//! }
//!
//! let sale: Sale = serde_json::from_str(r#"{"date": "2026-11-04"}"#).unwrap();
//! assert_eq!(sale.date, NaiveDate::from_ymd_opt(2026, 11, 4).unwrap());
//! assert_eq!(serde_json::to_string(&sale).unwrap(), r#"{"date":"2026-11-04"}"#);
//! assert!(serde_json::from_str::<Sale>(r#"{"date": "2026-13-04"}"#).is_err());
//! ```

use chrono::{Datelike, NaiveDate};
use serde::de::{self, Visitor};
use serde::{Deserializer, Serializer};
use std::fmt;
use std::str::FromStr;

/// Writes `date` as `YYYY-MM-DD`, exactly as chrono's serde does.
pub fn serialize<S: Serializer>(date: &NaiveDate, serializer: S) -> Result<S::Ok, S::Error> {
    let year = date.year();
    if (0..=9999).contains(&year) {
        let (y, m, d) = (year as u32, date.month(), date.day());
        let digit = |n: u32| b'0' + (n % 10) as u8;
        let text = [
            digit(y / 1000),
            digit(y / 100),
            digit(y / 10),
            digit(y),
            b'-',
            digit(m / 10),
            digit(m),
            b'-',
            digit(d / 10),
            digit(d),
        ];
        // Only ASCII digits and dashes.
        serializer.serialize_str(std::str::from_utf8(&text).map_err(serde::ser::Error::custom)?)
    } else {
        serializer.collect_str(date)
    }
}

/// Reads a date from its text: `YYYY-MM-DD` directly, anything else through chrono.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<NaiveDate, D::Error> {
    deserializer.deserialize_str(DateVisitor)
}

/// Parses `text` as chrono's `NaiveDate::from_str` does, with a fast path for `YYYY-MM-DD`.
pub fn parse(text: &str) -> Result<NaiveDate, chrono::ParseError> {
    if let Some(date) = parse_plain(text.as_bytes()) {
        return Ok(date);
    }
    NaiveDate::from_str(text)
}

/// `YYYY-MM-DD` with ASCII digits and a valid day, or `None` (then chrono decides).
#[inline]
fn parse_plain(b: &[u8]) -> Option<NaiveDate> {
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let mut digits = [0u32; 8];
    for (slot, &byte) in digits
        .iter_mut()
        .zip(b[..4].iter().chain(&b[5..7]).chain(&b[8..]))
    {
        if !byte.is_ascii_digit() {
            return None;
        }
        *slot = u32::from(byte - b'0');
    }
    let [y0, y1, y2, y3, m0, m1, d0, d1] = digits;
    let year = (y0 * 1000 + y1 * 100 + y2 * 10 + y3) as i32;
    NaiveDate::from_ymd_opt(year, m0 * 10 + m1, d0 * 10 + d1)
}

struct DateVisitor;

impl Visitor<'_> for DateVisitor {
    type Value = NaiveDate;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a formatted date string")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<NaiveDate, E> {
        parse(text).map_err(E::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_plain_form_and_chrono_agree_and_errors_are_chronos() {
        for text in [
            "2024-01-01",
            "2024-02-29",
            "0000-01-01",
            "9999-12-31",
            "2023-02-29",
            "2024-13-01",
            "2024-00-10",
            "2024-1-5",
            "+2024-01-01",
            " 2024-01-01",
            "2024-01-0x",
            "20240101",
            "",
            "2024-04-31",
        ] {
            assert_eq!(
                parse(text).map_err(|e| e.to_string()),
                NaiveDate::from_str(text).map_err(|e| e.to_string()),
                "{text:?}"
            );
        }
    }

    proptest! {
        /// Every date chrono can represent is written as chrono writes it and read back.
        #[test]
        fn dates_round_trip_as_chronos(days in -800_000i32..3_000_000) {
            let date = NaiveDate::from_num_days_from_ce_opt(days).unwrap();
            let ours = serde_json::to_string(&Wrapped(date)).unwrap();
            let theirs = serde_json::to_string(&date).unwrap();
            prop_assert_eq!(&ours, &theirs);
            let back: Wrapped = serde_json::from_str(&ours).unwrap();
            prop_assert_eq!(back.0, date);
        }
    }

    #[derive(serde::Serialize, serde::Deserialize)]
    struct Wrapped(#[serde(with = "super")] NaiveDate);
}
