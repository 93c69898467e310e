//! The key of a view row and its textual form.
//!
//! A row's key is made of **parts**: the values of the fields the pipeline names in
//! `#[pipeline(key(..))]`, in that order, or, for a pipeline without a declared key, every top-level
//! value of the output record (its fields in declaration order, a tuple's elements, or the value
//! itself). Keys are ordered part by part: `null` < booleans < numbers (by value) < strings (by
//! bytes) < nested values (by their JSON text).
//!
//! # Textual form
//!
//! The parts joined by commas. A string is written bare when that is unambiguous (it is not empty,
//! has no comma, quote, backslash, bracket or surrounding space, and does not read as a number,
//! `true`, `false` or `null`); otherwise it is written as a JSON string. Numbers, booleans and
//! `null` are written as in JSON, nested values as compact JSON:
//!
//! ```text
//!  ("tea", 2024-01-05)        tea,2024-01-05
//!  ("tea", window 3600000)    tea,3600000
//!  ("7", "a,b")               "7","a,b"
//! ```
//!
//! [`ViewKey::parse`] reads what [`ViewKey::to_text`] writes (and also accepts any part quoted), so
//! a key survives the round trip; in a URL path, percent-encode the text as usual.

use serde_json::Value;
use std::cmp::Ordering;
use std::fmt;
use std::sync::Arc;

/// One part of a key.
#[derive(Clone, Debug)]
pub enum KeyPart {
    /// JSON `null` (a `None`).
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i128),
    /// A number that is not an integer, ordered by [`f64::total_cmp`].
    Float(f64),
    /// A string.
    Str(String),
    /// An object or array, as compact JSON text.
    Nested(String),
}

impl KeyPart {
    /// The part for a JSON value.
    pub fn of(value: &Value) -> KeyPart {
        match value {
            Value::Null => KeyPart::Null,
            Value::Bool(b) => KeyPart::Bool(*b),
            Value::Number(n) => match (n.as_i64(), n.as_u64()) {
                (Some(i), _) => KeyPart::Int(i128::from(i)),
                (_, Some(u)) => KeyPart::Int(i128::from(u)),
                _ => KeyPart::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            Value::String(s) => KeyPart::Str(s.clone()),
            nested => KeyPart::Nested(nested.to_string()),
        }
    }

    fn rank(&self) -> u8 {
        match self {
            KeyPart::Null => 0,
            KeyPart::Bool(_) => 1,
            KeyPart::Int(_) | KeyPart::Float(_) => 2,
            KeyPart::Str(_) => 3,
            KeyPart::Nested(_) => 4,
        }
    }

    fn write(&self, out: &mut String) {
        match self {
            KeyPart::Null => out.push_str("null"),
            KeyPart::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            KeyPart::Int(i) => out.push_str(&i.to_string()),
            KeyPart::Float(f) => out.push_str(&float_text(*f)),
            KeyPart::Str(s) if is_bare(s) => out.push_str(s),
            KeyPart::Str(s) => out.push_str(&Value::String(s.clone()).to_string()),
            KeyPart::Nested(json) => out.push_str(json),
        }
    }

    fn parse(text: &str) -> Result<KeyPart, String> {
        let first = text.chars().next();
        if matches!(first, Some('"' | '{' | '[')) {
            return serde_json::from_str::<Value>(text)
                .map(|v| KeyPart::of(&v))
                .map_err(|e| format!("`{text}` is not valid JSON: {e}"));
        }
        match serde_json::from_str::<Value>(text) {
            // Rust's own parser reads back exactly the float that was written.
            Ok(Value::Number(n)) if n.is_f64() => text
                .parse::<f64>()
                .map(KeyPart::Float)
                .map_err(|e| format!("`{text}`: {e}")),
            Ok(value @ (Value::Null | Value::Bool(_) | Value::Number(_))) => {
                Ok(KeyPart::of(&value))
            }
            _ if text.is_empty() => Err("an empty key part: write an empty string as \"\"".into()),
            _ if !is_bare(text) => Err(format!(
                "`{text}` must be quoted as a JSON string (it has a comma, quote, backslash, \
                 bracket or surrounding space)"
            )),
            _ => Ok(KeyPart::Str(text.to_string())),
        }
    }
}

/// A float as JSON writes it (non-finite values, which JSON has no form for, as `null`).
fn float_text(f: f64) -> String {
    serde_json::Number::from_f64(f).map_or_else(|| "null".into(), |n| n.to_string())
}

/// Whether a string can be written without quotes and read back as the same string.
fn is_bare(s: &str) -> bool {
    !s.is_empty()
        && s.trim() == s
        && !s.contains([',', '"', '\\', '{', '}', '[', ']'])
        && !matches!(
            serde_json::from_str::<Value>(s),
            Ok(Value::Null | Value::Bool(_) | Value::Number(_))
        )
}

impl PartialEq for KeyPart {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for KeyPart {}

impl PartialOrd for KeyPart {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for KeyPart {
    fn cmp(&self, other: &Self) -> Ordering {
        use KeyPart::*;
        match (self, other) {
            (Bool(a), Bool(b)) => a.cmp(b),
            (Int(a), Int(b)) => a.cmp(b),
            (Float(a), Float(b)) => a.total_cmp(b),
            // Integers and floats compare by value; an integer sorts before an equal float.
            (Int(a), Float(b)) => (*a as f64).total_cmp(b).then(Ordering::Less),
            (Float(a), Int(b)) => a.total_cmp(&(*b as f64)).then(Ordering::Greater),
            (Str(a), Str(b)) | (Nested(a), Nested(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

/// The key of a view row: its parts, cheap to clone.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ViewKey(Arc<[KeyPart]>);

impl ViewKey {
    /// A key of `parts`.
    pub fn new(parts: Vec<KeyPart>) -> ViewKey {
        ViewKey(parts.into())
    }

    /// The key's parts.
    pub fn parts(&self) -> &[KeyPart] {
        &self.0
    }

    /// The key's textual form (see the [module docs](self)).
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for (i, part) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            part.write(&mut out);
        }
        out
    }

    /// Reads a key's textual form.
    pub fn parse(text: &str) -> Result<ViewKey, String> {
        let pieces = split_parts(text)?;
        let parts = pieces
            .into_iter()
            .map(KeyPart::parse)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ViewKey::new(parts))
    }

    /// The key of an output record (its fields in order, see [`Fields`]): the values of the `named`
    /// fields, or every value when `named` is empty. `None` if a named field is missing.
    pub fn of_record(fields: &Fields, named: &[&str]) -> Option<ViewKey> {
        if named.is_empty() {
            return Some(ViewKey::new(
                fields.values().map(KeyPart::of).collect::<Vec<_>>(),
            ));
        }
        let parts = named
            .iter()
            .map(|name| fields.get(name).map(KeyPart::of))
            .collect::<Option<Vec<_>>>()?;
        Some(ViewKey::new(parts))
    }
}

impl fmt::Display for ViewKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_text())
    }
}

/// Splits a key's text at the commas outside quotes and brackets.
fn split_parts(text: &str) -> Result<Vec<&str>, String> {
    if text.is_empty() {
        return Err("the key is empty".into());
    }
    let mut parts = Vec::new();
    let (mut start, mut depth, mut quoted, mut escaped) = (0, 0i32, false, false);
    for (i, c) in text.char_indices() {
        if quoted {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => quoted = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => quoted = true,
            '{' | '[' => depth += 1,
            '}' | ']' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        if depth < 0 {
            return Err(format!("unbalanced bracket in the key `{text}`"));
        }
    }
    if quoted || depth != 0 {
        return Err(format!("unterminated quote or bracket in the key `{text}`"));
    }
    parts.push(&text[start..]);
    Ok(parts)
}

/// The top-level values of an output record in the order it serializes them: an object's fields, an
/// array's elements, or the value itself (named `""`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Fields(Vec<(String, Value)>);

impl Fields {
    /// The fields of `record`, read from its JSON text (which keeps the declaration order).
    pub fn of_json(text: &str) -> Result<Fields, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// The value of field `name`.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// Every value, in order.
    pub fn values(&self) -> impl Iterator<Item = &Value> {
        self.0.iter().map(|(_, v)| v)
    }

    /// The window `[start, end)` of a windowed output row: the fields `window_start` and
    /// `window_end`, or a field `window` with `start` and `end`.
    pub fn window(&self) -> Option<(u64, u64)> {
        if let (Some(start), Some(end)) = (self.get("window_start"), self.get("window_end")) {
            return Some((start.as_u64()?, end.as_u64()?));
        }
        let window = self.get("window")?;
        Some((window.get("start")?.as_u64()?, window.get("end")?.as_u64()?))
    }
}

impl<'de> serde::Deserialize<'de> for Fields {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Fields, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Fields;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an output record")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Fields, A::Error> {
                let mut fields = Vec::new();
                while let Some((name, value)) = map.next_entry::<String, Value>()? {
                    fields.push((name, value));
                }
                Ok(Fields(fields))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Fields, A::Error> {
                let mut fields = Vec::new();
                while let Some(value) = seq.next_element::<Value>()? {
                    fields.push((fields.len().to_string(), value));
                }
                Ok(Fields(fields))
            }
            fn visit_bool<E>(self, v: bool) -> Result<Fields, E> {
                Ok(Fields(vec![(String::new(), Value::Bool(v))]))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Fields, E> {
                Ok(Fields(vec![(String::new(), Value::from(v))]))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Fields, E> {
                Ok(Fields(vec![(String::new(), Value::from(v))]))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Fields, E> {
                Ok(Fields(vec![(String::new(), Value::from(v))]))
            }
            fn visit_str<E>(self, v: &str) -> Result<Fields, E> {
                Ok(Fields(vec![(String::new(), Value::from(v))]))
            }
            fn visit_unit<E>(self) -> Result<Fields, E> {
                Ok(Fields(vec![(String::new(), Value::Null)]))
            }
        }
        deserializer.deserialize_any(Visit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn part() -> impl Strategy<Value = KeyPart> {
        prop_oneof![
            Just(KeyPart::Null),
            any::<bool>().prop_map(KeyPart::Bool),
            any::<i64>().prop_map(|i| KeyPart::Int(i.into())),
            (-1e9f64..1e9).prop_map(KeyPart::Float),
            ".{0,8}".prop_map(KeyPart::Str),
            prop_oneof![
                Just("7".to_string()),
                Just("a,b".into()),
                Just("true".into())
            ]
            .prop_map(KeyPart::Str),
        ]
    }

    proptest! {
        #[test]
        fn the_textual_form_round_trips(parts in proptest::collection::vec(part(), 1..4)) {
            let key = ViewKey::new(parts);
            let text = key.to_text();
            let back = ViewKey::parse(&text).unwrap();
            prop_assert_eq!(&back, &key);
            prop_assert_eq!(back.to_text(), text);
        }
    }

    #[test]
    fn keys_of_records_follow_the_declared_fields() {
        let fields = Fields::of_json(r#"{"product":"tea","date":"2024-01-05","n":3}"#).unwrap();
        let key = ViewKey::of_record(&fields, &["product", "date"]).unwrap();
        assert_eq!(key.to_text(), "tea,2024-01-05");
        let whole = ViewKey::of_record(&fields, &[]).unwrap();
        assert_eq!(whole.to_text(), "tea,2024-01-05,3");
        assert!(ViewKey::of_record(&fields, &["missing"]).is_none());
        let tuple = Fields::of_json(r#"["7",2]"#).unwrap();
        assert_eq!(
            ViewKey::of_record(&tuple, &[]).unwrap().to_text(),
            "\"7\",2"
        );
    }

    #[test]
    fn keys_order_numbers_by_value_and_parse_quoted_parts() {
        let nine = ViewKey::parse("a,9").unwrap();
        let ten = ViewKey::parse("a,10").unwrap();
        assert!(nine < ten);
        assert_eq!(ViewKey::parse("\"a\",10").unwrap(), ten);
        assert!(ViewKey::parse("").is_err());
        assert!(ViewKey::parse("a,\"b").is_err());
        assert!(ViewKey::parse(" a").is_err());
    }

    #[test]
    fn windows_are_read_from_their_fields() {
        let flat = Fields::of_json(r#"{"p":"x","window_start":0,"window_end":10}"#).unwrap();
        assert_eq!(flat.window(), Some((0, 10)));
        let nested = Fields::of_json(r#"[["x",{"start":5,"end":6}],1]"#).unwrap();
        assert_eq!(nested.window(), None);
        let named = Fields::of_json(r#"{"window":{"start":5,"end":6}}"#).unwrap();
        assert_eq!(named.window(), Some((5, 6)));
    }
}
