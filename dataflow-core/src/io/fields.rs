//! The field names of a record type, as its `Deserialize` implementation declares them: what a CSV
//! header or a JSON object must hold, for help texts and error hints.

use serde::de::{self, DeserializeOwned, Visitor};
use std::cell::Cell;

/// The name and fields of `T` when it deserializes as a struct (`None` for other shapes, such as a
/// plain `String`).
///
/// ```
/// #[derive(serde::Deserialize)]
/// struct Sale { product: String, quantity: u32 }
/// assert_eq!(
///     dataflow_core::io::field_names::<Sale>(),
///     Some(("Sale", &["product", "quantity"][..]))
/// );
/// assert_eq!(dataflow_core::io::field_names::<String>(), None);
/// ```
pub fn field_names<T: DeserializeOwned>() -> Option<(&'static str, &'static [&'static str])> {
    let seen = Cell::new(None);
    let _ = T::deserialize(Probe { seen: &seen });
    seen.get()
}

/// A deserializer that only notes the struct it is asked for, then stops.
struct Probe<'a> {
    seen: &'a Cell<Option<(&'static str, &'static [&'static str])>>,
}

impl<'de> de::Deserializer<'de> for Probe<'_> {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("not a struct"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.seen.set(Some((name, fields)));
        Err(de::Error::custom("probed"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option
        unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
    }
}
