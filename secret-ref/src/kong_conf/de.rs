//! serde's view of a kong.conf: the file is a map of keys to text values, and each value is
//! typed by the field that receives it (`on`/`off` for booleans, numbers, comma lists).

use std::fmt;

use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, Unexpected, Visitor};

use super::{Entry, KongConf, value};
use crate::error::{Error, ErrorKind, Failure};

/// A deserialization error, with the key and origin of the value it is about.
///
/// Values are never quoted: a plain field may hold a literal password, and `Secret<T>`
/// fields write their own redacted messages.
#[derive(Debug)]
pub(crate) struct DeError {
    message: String,
    key: Option<String>,
    origin: Option<String>,
}

impl DeError {
    fn at(mut self, entry: &Entry) -> Self {
        if self.key.is_none() {
            self.key = Some(entry.key.clone());
            self.origin = Some(entry.origin.to_string());
        }
        self
    }

    pub(crate) fn into_error(self) -> Error {
        let mut failure = Failure::new(ErrorKind::Deserialize, self.message);
        if let Some(key) = self.key {
            failure = failure.with_path(key);
        }
        if let Some(origin) = self.origin {
            failure = failure.with_origin(origin);
        }
        Error::single(failure)
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DeError {}

fn kind(unexp: &Unexpected<'_>) -> &'static str {
    match unexp {
        Unexpected::Str(_) => "text",
        Unexpected::Unsigned(_) | Unexpected::Signed(_) => "an integer",
        Unexpected::Float(_) => "a number",
        Unexpected::Bool(_) => "a boolean",
        Unexpected::Seq => "a list",
        Unexpected::Map => "a map",
        _ => "a value",
    }
}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError {
            message: msg.to_string(),
            key: None,
            origin: None,
        }
    }

    fn invalid_type(unexp: Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        Self::custom(format_args!("expected {exp}, found {}", kind(&unexp)))
    }

    fn invalid_value(unexp: Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        Self::custom(format_args!(
            "invalid value ({}), expected {exp}",
            kind(&unexp)
        ))
    }

    fn unknown_variant(_variant: &str, expected: &'static [&'static str]) -> Self {
        Self::custom(format_args!(
            "unknown value, expected one of: {}",
            expected.join(", ")
        ))
    }
}

/// The whole file: a map from keys to values.
pub(crate) struct ConfDeserializer<'a> {
    pub(crate) conf: &'a KongConf,
}

impl<'de> de::Deserializer<'de> for ConfDeserializer<'_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_map(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let entries = self.conf.effective(None);
        visitor.visit_map(Entries {
            entries: entries.into_iter(),
            current: None,
        })
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let entries = self.conf.effective(Some(fields));
        visitor.visit_map(Entries {
            entries: entries.into_iter(),
            current: None,
        })
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct enum identifier ignored_any
    }
}

struct Entries<'a> {
    entries: std::vec::IntoIter<&'a Entry>,
    current: Option<&'a Entry>,
}

impl<'de, 'a> MapAccess<'de> for Entries<'a> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        let Some(entry) = self.entries.next() else {
            return Ok(None);
        };
        self.current = Some(entry);
        seed.deserialize(entry.key.as_str().into_deserializer())
            .map(Some)
            .map_err(|e: DeError| e.at(entry))
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let entry = self.current.take().expect("a value follows its key");
        seed.deserialize(Value { text: &entry.value })
            .map_err(|e| e.at(entry))
    }
}

/// One value, typed by the field that receives it.
struct Value<'a> {
    text: &'a str,
}

impl Value<'_> {
    fn trimmed(&self) -> &str {
        value::trim(self.text)
    }

    /// Kong's "unset": an empty value, or the placeholder `NONE` of its defaults file.
    fn is_unset(&self) -> bool {
        value::is_unset(self.text)
    }
}

impl<'de> de::Deserializer<'de> for Value<'_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_str(self.text)
    }

    crate::convert::text_scalars!(DeError);

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_str(self.text)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_str(self.text)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_bytes(self.text.as_bytes())
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_bytes(self.text.as_bytes())
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        if self.is_unset() {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        if self.is_unset() {
            visitor.visit_unit()
        } else {
            Err(de::Error::invalid_type(Unexpected::Str(""), &visitor))
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    /// Kong's arrays: comma-separated, items trimmed, empty items dropped. `NONE` is an
    /// empty list.
    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let items: Vec<Value<'_>> = value::list(self.text).map(|text| Value { text }).collect();
        let mut seq = de::value::SeqDeserializer::new(items.into_iter());
        let value = visitor.visit_seq(&mut seq)?;
        seq.end()?;
        Ok(value)
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        Err(de::Error::invalid_type(Unexpected::Str(""), &visitor))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        Err(de::Error::invalid_type(Unexpected::Str(""), &visitor))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_enum(self.trimmed().into_deserializer())
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_str(self.text)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }
}

impl<'de, 'a> IntoDeserializer<'de, DeError> for Value<'a> {
    type Deserializer = Self;

    fn into_deserializer(self) -> Self {
        self
    }
}
