//! Turning a secret's text into the field's type `T`, without any error quoting the text.
//!
//! Serde's own errors quote the offending value (`invalid type: string "hunter2", expected
//! u16`). Every conversion here runs through deserializers whose error type is
//! [`ConvertError`], which keeps what was *expected* and the *kind* of what was found, and
//! drops the value itself. That holds by construction: the deserializers below and
//! `serde_value`'s are generic over the error type, so no serde error type that formats values
//! is ever involved.

use std::fmt;
use std::mem;

use serde::de::{self, DeserializeOwned, IntoDeserializer, Unexpected, Visitor};
use zeroize::Zeroizing;

/// A conversion error that never contains the value that failed to convert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConvertError(pub(crate) String);

impl fmt::Display for ConvertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConvertError {}

/// The kind of a value, without the value.
pub(crate) fn kind(unexp: &Unexpected<'_>) -> &'static str {
    match unexp {
        Unexpected::Bool(_) => "a boolean",
        Unexpected::Unsigned(_) | Unexpected::Signed(_) => "an integer",
        Unexpected::Float(_) => "a floating-point number",
        Unexpected::Char(_) => "a character",
        Unexpected::Str(_) => "a string",
        Unexpected::Bytes(_) => "bytes",
        Unexpected::Unit => "nothing",
        Unexpected::Option => "an optional value",
        Unexpected::NewtypeStruct => "a newtype struct",
        Unexpected::Seq => "a list",
        Unexpected::Map => "a map",
        Unexpected::Enum => "an enum",
        Unexpected::UnitVariant => "a unit variant",
        Unexpected::NewtypeVariant => "a newtype variant",
        Unexpected::TupleVariant => "a tuple variant",
        Unexpected::StructVariant => "a struct variant",
        Unexpected::Other(_) => "a value",
    }
}

impl de::Error for ConvertError {
    /// Custom messages come from arbitrary code (`FromStr` errors, `deserialize_with`
    /// helpers) and often quote their input, so they are replaced.
    fn custom<M: fmt::Display>(_msg: M) -> Self {
        ConvertError(
            "the value was rejected by the field's type \
             (the reason is withheld because it could quote the secret)"
                .into(),
        )
    }

    fn invalid_type(unexp: Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        ConvertError(format!("invalid type: {}, expected {exp}", kind(&unexp)))
    }

    fn invalid_value(unexp: Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        ConvertError(format!("invalid value: {}, expected {exp}", kind(&unexp)))
    }

    fn invalid_length(len: usize, exp: &dyn de::Expected) -> Self {
        ConvertError(format!("invalid length {len}, expected {exp}"))
    }

    /// The variant name is the secret's text, so only the expected names are kept.
    fn unknown_variant(_variant: &str, expected: &'static [&'static str]) -> Self {
        ConvertError(format!("unknown variant, expected {}", one_of(expected)))
    }

    /// A key of a secret JSON object may itself be sensitive, so only the expected names are kept.
    fn unknown_field(_field: &str, expected: &'static [&'static str]) -> Self {
        ConvertError(format!("unknown field, expected {}", one_of(expected)))
    }

    fn missing_field(field: &'static str) -> Self {
        ConvertError(format!("missing field `{field}`"))
    }

    fn duplicate_field(field: &'static str) -> Self {
        ConvertError(format!("duplicate field `{field}`"))
    }
}

fn one_of(names: &[&str]) -> String {
    match names {
        [] => "nothing".into(),
        [one] => format!("`{one}`"),
        many => {
            let list: Vec<String> = many.iter().map(|n| format!("`{n}`")).collect();
            format!("one of {}", list.join(", "))
        }
    }
}

/// Converts a secret's text into `T`. `String` takes the text as it is, without a copy;
/// numbers and booleans parse it; structs, maps and lists read it as JSON (lists also as a
/// comma-separated list, as kong.conf writes them).
pub(crate) fn from_text<T: DeserializeOwned>(text: Zeroizing<String>) -> Result<T, ConvertError> {
    T::deserialize(TextDeserializer { text })
}

/// Converts a value that a configuration format gave as something other than a string (a
/// number, a map) into `T`.
pub(crate) fn from_value<T: DeserializeOwned>(
    value: serde_value::Value,
) -> Result<T, ConvertError> {
    T::deserialize(serde_value::ValueDeserializer::<ConvertError>::new(value))
}

/// Parses JSON text into a value tree. serde_json's syntax errors carry only a position, but
/// the message is still written here from the category so that this holds by construction.
pub(crate) fn json_value(text: &str) -> Result<serde_value::Value, ConvertError> {
    serde_json::from_str::<serde_value::Value>(text).map_err(|e| json_error(&e))
}

pub(crate) fn json_error(e: &serde_json::Error) -> ConvertError {
    let what = match e.classify() {
        serde_json::error::Category::Eof => "the JSON ends too early",
        serde_json::error::Category::Io => "the JSON could not be read",
        serde_json::error::Category::Syntax | serde_json::error::Category::Data => {
            "the text is not valid JSON"
        }
    };
    // No line or column: in a secret's text, a position tells its length and layout.
    ConvertError(what.to_owned())
}

fn looks_like_json(text: &str, open: char) -> bool {
    text.trim_start().starts_with(open)
}

struct TextDeserializer {
    text: Zeroizing<String>,
}

impl TextDeserializer {
    fn take(&mut self) -> String {
        // Moving the `String` out leaves nothing behind to zeroize; the empty `String` left in
        // the wrapper owns no allocation.
        mem::take(&mut *self.text)
    }

    fn trimmed(&self) -> &str {
        crate::kong_conf::value::trim(&self.text)
    }

    fn json<'de, V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ConvertError> {
        let value = json_value(&self.text)?;
        de::Deserializer::deserialize_any(
            serde_value::ValueDeserializer::<ConvertError>::new(value),
            visitor,
        )
    }
}

/// The scalar methods of a text deserializer (booleans, numbers, `char`), shared by secret
/// texts and kong.conf values so both read `on`/`off`, numbers and characters alike, by the
/// rules of `kong_conf::value`. The deserializer needs a `text` field that derefs to `str`
/// and a `trimmed()` method (`kong_conf::value::trim`). No error quotes the text: it may be
/// a secret or a literal password.
macro_rules! text_scalars {
    ($error:ty) => {
        fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, $error> {
            match $crate::kong_conf::value::parse_bool(&self.text) {
                Some(b) => visitor.visit_bool(b),
                None => Err(de::Error::invalid_value(
                    Unexpected::Str(""),
                    &$crate::kong_conf::value::BOOLEANS,
                )),
            }
        }

        fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, $error> {
            let mut chars = self.text.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => visitor.visit_char(c),
                _ => Err(de::Error::invalid_value(Unexpected::Str(""), &visitor)),
            }
        }

        $crate::convert::text_scalars! { @numbers $error;
            deserialize_i8 => visit_i8: i8,
            deserialize_i16 => visit_i16: i16,
            deserialize_i32 => visit_i32: i32,
            deserialize_i64 => visit_i64: i64,
            deserialize_i128 => visit_i128: i128,
            deserialize_u8 => visit_u8: u8,
            deserialize_u16 => visit_u16: u16,
            deserialize_u32 => visit_u32: u32,
            deserialize_u64 => visit_u64: u64,
            deserialize_u128 => visit_u128: u128,
            deserialize_f32 => visit_f32: f32,
            deserialize_f64 => visit_f64: f64,
        }
    };
    (@numbers $error:ty; $($method:ident => $visit:ident: $ty:ty,)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, $error> {
            match self.trimmed().parse::<$ty>() {
                Ok(v) => visitor.$visit(v),
                Err(_) => Err(de::Error::invalid_value(Unexpected::Str(""), &visitor)),
            }
        }
    )*};
}
pub(crate) use text_scalars;

impl<'de> de::Deserializer<'de> for TextDeserializer {
    type Error = ConvertError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ConvertError> {
        if looks_like_json(&self.text, '{') || looks_like_json(&self.text, '[') {
            self.json(visitor)
        } else {
            self.deserialize_string(visitor)
        }
    }

    text_scalars!(ConvertError);

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ConvertError> {
        self.deserialize_string(visitor)
    }

    fn deserialize_string<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, ConvertError> {
        visitor.visit_string(self.take())
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ConvertError> {
        self.deserialize_byte_buf(visitor)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(
        mut self,
        visitor: V,
    ) -> Result<V::Value, ConvertError> {
        visitor.visit_byte_buf(self.take().into_bytes())
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ConvertError> {
        // An empty value is "no value", as Kong infers `""` to null.
        if self.text.is_empty() {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ConvertError> {
        if self.text.is_empty() {
            visitor.visit_unit()
        } else {
            Err(de::Error::invalid_type(Unexpected::Str(""), &visitor))
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ConvertError> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ConvertError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ConvertError> {
        if looks_like_json(&self.text, '[') {
            return self.json(visitor);
        }
        let items: Vec<TextDeserializer> = crate::kong_conf::value::items(&self.text)
            .map(|s| TextDeserializer {
                text: Zeroizing::new(s.to_owned()),
            })
            .collect();
        let mut seq = de::value::SeqDeserializer::new(items.into_iter());
        let value = visitor.visit_seq(&mut seq)?;
        seq.end()?;
        Ok(value)
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, ConvertError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, ConvertError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ConvertError> {
        if looks_like_json(&self.text, '{') {
            self.json(visitor)
        } else {
            Err(de::Error::invalid_type(Unexpected::Str(""), &visitor))
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ConvertError> {
        self.deserialize_map(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        mut self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ConvertError> {
        if looks_like_json(&self.text, '{') {
            let value = json_value(&self.text)?;
            return de::Deserializer::deserialize_enum(
                serde_value::ValueDeserializer::<ConvertError>::new(value),
                name,
                variants,
                visitor,
            );
        }
        let text = self.take();
        visitor.visit_enum(IntoDeserializer::<ConvertError>::into_deserializer(text))
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ConvertError> {
        self.deserialize_string(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(
        self,
        visitor: V,
    ) -> Result<V::Value, ConvertError> {
        visitor.visit_unit()
    }
}

impl<'de> IntoDeserializer<'de, ConvertError> for TextDeserializer {
    type Deserializer = Self;

    fn into_deserializer(self) -> Self {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use std::collections::BTreeMap;

    fn text<T: DeserializeOwned>(s: &str) -> Result<T, ConvertError> {
        from_text(Zeroizing::new(s.to_owned()))
    }

    #[derive(Deserialize, Debug, PartialEq)]
    struct Creds {
        user: String,
        port: u16,
    }

    #[derive(Deserialize, Debug, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Strict {
        user: String,
    }

    #[derive(Deserialize, Debug, PartialEq)]
    enum Mode {
        Fast,
        Slow,
    }

    #[test]
    fn converts_by_type() {
        assert_eq!(text::<String>(" a b ").unwrap(), " a b ");
        assert_eq!(text::<u16>("5432").unwrap(), 5432);
        assert_eq!(text::<u16>(" 5432\n").unwrap(), 5432);
        assert_eq!(text::<i64>("-3").unwrap(), -3);
        assert_eq!(text::<f64>("1.5").unwrap(), 1.5);
        assert!(text::<bool>("on").unwrap());
        assert!(!text::<bool>("false").unwrap());
        assert_eq!(text::<char>("x").unwrap(), 'x');
        assert_eq!(text::<Option<u16>>("").unwrap(), None);
        assert_eq!(text::<Option<u16>>("7").unwrap(), Some(7));
        assert_eq!(text::<Vec<u16>>("1, 2,,3").unwrap(), [1, 2, 3]);
        assert_eq!(text::<Vec<u16>>("[1,2]").unwrap(), [1, 2]);
        assert_eq!(
            text::<Creds>(r#"{"user":"u","port":1}"#).unwrap(),
            Creds {
                user: "u".into(),
                port: 1
            }
        );
        assert_eq!(text::<Mode>("Slow").unwrap(), Mode::Slow);
        assert_eq!(
            text::<BTreeMap<String, String>>(r#"{"a":"b"}"#).unwrap()["a"],
            "b"
        );
        assert_eq!(text::<serde_json::Value>(r#"{"a":1}"#).unwrap()["a"], 1);
        assert_eq!(text::<serde_json::Value>("plain").unwrap(), "plain");
    }

    /// Every failure below is given a canary; none may show up in the message.
    #[test]
    fn errors_never_quote_the_value() {
        const CANARY: &str = "c4n4ry-Zx9";
        let cases: Vec<(ConvertError, &str)> = vec![
            (
                text::<u16>(CANARY).unwrap_err(),
                "invalid value: a string, expected u16",
            ),
            (
                text::<u8>("70000").unwrap_err(),
                "invalid value: a string, expected u8",
            ),
            (
                text::<bool>(CANARY).unwrap_err(),
                "invalid value: a string, expected on, off, true or false",
            ),
            (
                text::<char>(CANARY).unwrap_err(),
                "invalid value: a string, expected a character",
            ),
            (
                text::<Mode>(CANARY).unwrap_err(),
                "unknown variant, expected one of `Fast`, `Slow`",
            ),
            (
                text::<Creds>(&format!(r#"{{"user":"{CANARY}","port":"{CANARY}"}}"#)).unwrap_err(),
                "invalid type: a string, expected u16",
            ),
            (
                text::<Strict>(&format!(r#"{{"user":"u","{CANARY}":1}}"#)).unwrap_err(),
                "unknown field, expected `user`",
            ),
            (
                text::<Creds>(&format!(r#"{{"user":"{CANARY}"#)).unwrap_err(),
                "the JSON ends too early",
            ),
            (
                text::<Creds>(CANARY).unwrap_err(),
                "invalid type: a string, expected struct Creds",
            ),
            (
                text::<Creds>(r#"{"user":"u"}"#).unwrap_err(),
                "missing field `port`",
            ),
            (
                text::<u16>(&format!("[{CANARY}]")).unwrap_err(),
                "invalid value: a string, expected u16",
            ),
        ];
        for (err, expected) in cases {
            let msg = err.to_string();
            assert!(!msg.contains(CANARY), "leaked: {msg}");
            if !expected.is_empty() {
                assert_eq!(msg, expected);
            }
        }
    }

    #[test]
    fn custom_messages_are_withheld() {
        #[derive(Debug)]
        struct Picky;
        impl<'de> Deserialize<'de> for Picky {
            fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Err(de::Error::custom(format!("bad value {s}")))
            }
        }
        let err = text::<Picky>("c4n4ry").unwrap_err();
        assert!(!err.to_string().contains("c4n4ry"));
    }

    #[test]
    fn from_value_redacts() {
        let err = from_value::<u8>(serde_value::Value::U64(123456)).unwrap_err();
        assert_eq!(err.to_string(), "invalid value: an integer, expected u8");
        let err = from_value::<String>(serde_value::Value::Bool(true)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid type: a boolean, expected a string"
        );
    }
}
