//! Writing settings as kong.conf text that reads back the same: a serde serializer, so that
//! anything [`from_str`](super::from_str) reads (a struct, a map) can be written back.

use std::fmt;

use serde::ser::{self, Impossible, Serialize};
use zeroize::Zeroizing;

use super::value::is_space;
use crate::error::{Error, ErrorKind, Failure};

/// Writes settings as kong.conf text, one `key = value` line each, escaping `#` as `\#`, so
/// that reading the text gives back the same settings. Like `serde_json::to_string`, it
/// takes any [`Serialize`] value: a struct, a map, or a list of `(key, value)` pairs (which
/// keeps their order).
///
/// Values are written as the reader reads them: text as it is, booleans as `on`/`off`,
/// numbers in decimal, lists as `a, b`, `None` as an empty value (unset), a unit enum
/// variant by its name, and a [`Secret`](crate::Secret) as its reference (a literal secret is
/// refused, unless its field opts in with [`ser`](crate::ser)).
///
/// What kong.conf cannot hold is an error, naming the key and never quoting the value,
/// with every problem reported at once: a value with a line break, with whitespace at
/// either end (values are trimmed), or ending with `\` (which continues a line); a list item
/// that is empty or holds a `,`; a nested map or struct. Keys must be letters, digits and
/// `_`.
///
/// ```
/// use std::collections::BTreeMap;
/// use secret_ref::{Secret, kong_conf};
/// use serde::{Deserialize, Serialize};
///
/// let settings = [("pg_port", "{vault://env/pg-port#2}"), ("motd", "we're #1")];
/// let text = kong_conf::to_string(&settings)?;
/// assert_eq!(text, "pg_port = {vault://env/pg-port\\#2}\nmotd = we're \\#1\n");
/// let back: BTreeMap<String, String> = kong_conf::from_str(&text)?;
/// assert_eq!(back["pg_port"], "{vault://env/pg-port#2}");
/// assert_eq!(back["motd"], "we're #1");
///
/// #[derive(Serialize, Deserialize)]
/// struct Pg {
///     pg_ssl: bool,
///     pg_schema: Option<String>,
///     proxy_listen: Vec<String>,
///     pg_password: Secret<String>,
/// }
/// let pg: Pg = kong_conf::from_str("
///     pg_ssl = on
///     proxy_listen = 0.0.0.0:8000, 0.0.0.0:8443 ssl
///     pg_password = {vault://env/pg-password}
/// ")?;
/// let text = kong_conf::to_string(&pg)?;
/// assert_eq!(
///     text,
///     "pg_ssl = on\npg_schema =\nproxy_listen = 0.0.0.0:8000, 0.0.0.0:8443 ssl\n\
///      pg_password = {vault://env/pg-password}\n"
/// );
///
/// let err = kong_conf::to_string(&[("motd", "two\nlines"), ("bad key", "x")]).unwrap_err();
/// assert_eq!(err.failures().len(), 2);
/// assert_eq!(err.failures()[0].to_string(), "motd: a value cannot hold a line break");
/// # Ok::<(), secret_ref::Error>(())
/// ```
pub fn to_string<T: Serialize + ?Sized>(value: &T) -> Result<String, Error> {
    let mut writer = Writer::default();
    value
        .serialize(Settings {
            writer: &mut writer,
        })
        .map_err(|e| {
            Error::single(Failure::new(
                ErrorKind::InvalidConfig,
                format!("cannot write kong.conf text: {e}"),
            ))
        })?;
    writer.finish()
}

/// The settings written so far, and the problems found.
#[derive(Default)]
struct Writer {
    /// Keys and unescaped values: the values may be passwords (a literal written on
    /// purpose), so each is wiped when dropped, and the text is built once at its final size.
    lines: Vec<(String, Zeroizing<String>)>,
    failures: Vec<Failure>,
}

impl Writer {
    fn add<V: Serialize + ?Sized>(&mut self, key: Result<String, WriteError>, value: &V) {
        let key = match key.and_then(checked_key) {
            Ok(key) => key,
            Err(WriteError { message, key }) => {
                let mut failure = Failure::new(ErrorKind::InvalidConfig, message);
                if let Some(key) = key.filter(|k| !k.is_empty()) {
                    failure = failure.with_path(key);
                }
                self.failures.push(failure);
                return;
            }
        };
        match value
            .serialize(ValueWriter { in_list: false })
            .and_then(checked_value)
        {
            Ok(text) => self.lines.push((key, text)),
            Err(e) => self
                .failures
                .push(Failure::new(ErrorKind::InvalidConfig, e.message).with_path(key.as_str())),
        }
    }

    fn finish(self) -> Result<String, Error> {
        if !self.failures.is_empty() {
            return Err(Error::from_failures(self.failures));
        }
        // `key = value\n`, each `#` escaped as `\#`; `key =\n` for an empty value.
        let length: usize = self
            .lines
            .iter()
            .map(|(k, v)| k.len() + 3 + v.len() + v.matches('#').count() + 1)
            .sum();
        let mut out = String::with_capacity(length);
        for (key, value) in &self.lines {
            out.push_str(key);
            out.push_str(" =");
            if !value.is_empty() {
                out.push(' ');
                let mut rest = value.as_str();
                while let Some(i) = rest.find('#') {
                    out.push_str(&rest[..i]);
                    out.push_str("\\#");
                    rest = &rest[i + 1..];
                }
                out.push_str(rest);
            }
            out.push('\n');
        }
        Ok(out)
    }
}

fn checked_key(key: String) -> Result<String, WriteError> {
    if !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        Ok(key)
    } else {
        Err(WriteError {
            message: "a key must be letters, digits and `_`".into(),
            key: Some(key),
        })
    }
}

/// A value kong.conf can hold, or why not (never quoting it).
fn checked_value(value: Text) -> Result<Text, WriteError> {
    let problem = if value.contains(['\n', '\r']) {
        Some("a value cannot hold a line break")
    } else if value.starts_with(is_space) || value.ends_with(is_space) {
        Some("a value cannot start or end with whitespace (kong.conf trims it)")
    } else if value.ends_with('\\') {
        Some("a value cannot end with `\\` (kong.conf reads it as a continued line)")
    } else {
        None
    };
    match problem {
        Some(message) => Err(WriteError::new(message)),
        None => Ok(value),
    }
}

/// Why something cannot be written. Messages come from this module or from a type's
/// `Serialize` (such as a literal [`Secret`](crate::Secret)'s refusal), never from a value.
#[derive(Debug)]
struct WriteError {
    message: String,
    /// The key a problem with a key is about.
    key: Option<String>,
}

impl WriteError {
    fn new(message: impl Into<String>) -> Self {
        WriteError {
            message: message.into(),
            key: None,
        }
    }
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for WriteError {}

impl ser::Error for WriteError {
    fn custom<M: fmt::Display>(msg: M) -> Self {
        WriteError::new(msg.to_string())
    }
}

const NOT_SETTINGS: &str =
    "kong.conf text is a list of settings: write a struct, a map, or a list of (key, value) pairs";

/// The whole text: a struct, a map, or a list of pairs.
struct Settings<'a> {
    writer: &'a mut Writer,
}

macro_rules! refuse {
    ($message:expr; $($method:ident($($arg:ty),*)),* $(,)?) => {$(
        fn $method(self, $(_: $arg),*) -> Result<Self::Ok, Self::Error> {
            Err(WriteError::new($message))
        }
    )*};
}

impl<'a> ser::Serializer for Settings<'a> {
    type Ok = ();
    type Error = WriteError;
    type SerializeSeq = Pairs<'a>;
    type SerializeTuple = Pairs<'a>;
    type SerializeTupleStruct = Impossible<(), WriteError>;
    type SerializeTupleVariant = Impossible<(), WriteError>;
    type SerializeMap = Entries<'a>;
    type SerializeStruct = Fields<'a>;
    type SerializeStructVariant = Impossible<(), WriteError>;

    refuse! { NOT_SETTINGS;
        serialize_bool(bool), serialize_i8(i8), serialize_i16(i16), serialize_i32(i32),
        serialize_i64(i64), serialize_i128(i128), serialize_u8(u8), serialize_u16(u16),
        serialize_u32(u32), serialize_u64(u64), serialize_u128(u128), serialize_f32(f32),
        serialize_f64(f64), serialize_char(char), serialize_str(&str), serialize_bytes(&[u8]),
        serialize_none(), serialize_unit(), serialize_unit_struct(&'static str),
        serialize_unit_variant(&'static str, u32, &'static str),
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), WriteError> {
        value.serialize(self)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), WriteError> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<(), WriteError> {
        Err(WriteError::new(NOT_SETTINGS))
    }

    fn serialize_seq(self, _len: Option<usize>) -> Result<Pairs<'a>, WriteError> {
        Ok(Pairs {
            writer: self.writer,
        })
    }

    fn serialize_tuple(self, _len: usize) -> Result<Pairs<'a>, WriteError> {
        Ok(Pairs {
            writer: self.writer,
        })
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleStruct, WriteError> {
        Err(WriteError::new(NOT_SETTINGS))
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, WriteError> {
        Err(WriteError::new(NOT_SETTINGS))
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<Entries<'a>, WriteError> {
        Ok(Entries {
            writer: self.writer,
            key: None,
        })
    }

    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Fields<'a>, WriteError> {
        Ok(Fields {
            writer: self.writer,
        })
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, WriteError> {
        Err(WriteError::new(NOT_SETTINGS))
    }
}

struct Fields<'a> {
    writer: &'a mut Writer,
}

impl ser::SerializeStruct for Fields<'_> {
    type Ok = ();
    type Error = WriteError;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), WriteError> {
        self.writer.add(Ok(key.to_owned()), value);
        Ok(())
    }

    fn end(self) -> Result<(), WriteError> {
        Ok(())
    }
}

struct Entries<'a> {
    writer: &'a mut Writer,
    key: Option<Result<String, WriteError>>,
}

impl ser::SerializeMap for Entries<'_> {
    type Ok = ();
    type Error = WriteError;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), WriteError> {
        self.key = Some(key.serialize(KeyWriter));
        Ok(())
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), WriteError> {
        let key = self
            .key
            .take()
            .ok_or_else(|| WriteError::new("a map value came without its key"))?;
        self.writer.add(key, value);
        Ok(())
    }

    fn end(self) -> Result<(), WriteError> {
        Ok(())
    }
}

/// A list of `(key, value)` pairs, each serialized as a tuple of two.
struct Pairs<'a> {
    writer: &'a mut Writer,
}

impl ser::SerializeSeq for Pairs<'_> {
    type Ok = ();
    type Error = WriteError;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, pair: &T) -> Result<(), WriteError> {
        pair.serialize(Pair {
            writer: self.writer,
        })
    }

    fn end(self) -> Result<(), WriteError> {
        Ok(())
    }
}

impl ser::SerializeTuple for Pairs<'_> {
    type Ok = ();
    type Error = WriteError;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, pair: &T) -> Result<(), WriteError> {
        ser::SerializeSeq::serialize_element(self, pair)
    }

    fn end(self) -> Result<(), WriteError> {
        Ok(())
    }
}

const NOT_A_PAIR: &str = "a list of settings holds (key, value) pairs";

/// One `(key, value)` pair.
struct Pair<'a> {
    writer: &'a mut Writer,
}

impl<'a> ser::Serializer for Pair<'a> {
    type Ok = ();
    type Error = WriteError;
    type SerializeSeq = Impossible<(), WriteError>;
    type SerializeTuple = PairParts<'a>;
    type SerializeTupleStruct = Impossible<(), WriteError>;
    type SerializeTupleVariant = Impossible<(), WriteError>;
    type SerializeMap = Impossible<(), WriteError>;
    type SerializeStruct = Impossible<(), WriteError>;
    type SerializeStructVariant = Impossible<(), WriteError>;

    refuse! { NOT_A_PAIR;
        serialize_bool(bool), serialize_i8(i8), serialize_i16(i16), serialize_i32(i32),
        serialize_i64(i64), serialize_i128(i128), serialize_u8(u8), serialize_u16(u16),
        serialize_u32(u32), serialize_u64(u64), serialize_u128(u128), serialize_f32(f32),
        serialize_f64(f64), serialize_char(char), serialize_str(&str), serialize_bytes(&[u8]),
        serialize_none(), serialize_unit(), serialize_unit_struct(&'static str),
        serialize_unit_variant(&'static str, u32, &'static str),
    }

    fn serialize_some<T: Serialize + ?Sized>(self, _value: &T) -> Result<(), WriteError> {
        Err(WriteError::new(NOT_A_PAIR))
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), WriteError> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<(), WriteError> {
        Err(WriteError::new(NOT_A_PAIR))
    }

    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq, WriteError> {
        Err(WriteError::new(NOT_A_PAIR))
    }

    fn serialize_tuple(self, len: usize) -> Result<PairParts<'a>, WriteError> {
        if len != 2 {
            return Err(WriteError::new(NOT_A_PAIR));
        }
        Ok(PairParts {
            writer: self.writer,
            key: None,
        })
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleStruct, WriteError> {
        Err(WriteError::new(NOT_A_PAIR))
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, WriteError> {
        Err(WriteError::new(NOT_A_PAIR))
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap, WriteError> {
        Err(WriteError::new(NOT_A_PAIR))
    }

    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStruct, WriteError> {
        Err(WriteError::new(NOT_A_PAIR))
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, WriteError> {
        Err(WriteError::new(NOT_A_PAIR))
    }
}

struct PairParts<'a> {
    writer: &'a mut Writer,
    key: Option<Result<String, WriteError>>,
}

impl ser::SerializeTuple for PairParts<'_> {
    type Ok = ();
    type Error = WriteError;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, part: &T) -> Result<(), WriteError> {
        match self.key.take() {
            None => self.key = Some(part.serialize(KeyWriter)),
            Some(key) => self.writer.add(key, part),
        }
        Ok(())
    }

    fn end(self) -> Result<(), WriteError> {
        Ok(())
    }
}

const NOT_A_KEY: &str = "a key must be text";

/// A map's key: text.
struct KeyWriter;

impl ser::Serializer for KeyWriter {
    type Ok = String;
    type Error = WriteError;
    type SerializeSeq = Impossible<String, WriteError>;
    type SerializeTuple = Impossible<String, WriteError>;
    type SerializeTupleStruct = Impossible<String, WriteError>;
    type SerializeTupleVariant = Impossible<String, WriteError>;
    type SerializeMap = Impossible<String, WriteError>;
    type SerializeStruct = Impossible<String, WriteError>;
    type SerializeStructVariant = Impossible<String, WriteError>;

    refuse! { NOT_A_KEY;
        serialize_bool(bool), serialize_i8(i8), serialize_i16(i16), serialize_i32(i32),
        serialize_i64(i64), serialize_i128(i128), serialize_u8(u8), serialize_u16(u16),
        serialize_u32(u32), serialize_u64(u64), serialize_u128(u128), serialize_f32(f32),
        serialize_f64(f64), serialize_bytes(&[u8]), serialize_none(), serialize_unit(),
        serialize_unit_struct(&'static str),
    }

    fn serialize_char(self, c: char) -> Result<String, WriteError> {
        Ok(c.to_string())
    }

    fn serialize_str(self, key: &str) -> Result<String, WriteError> {
        Ok(key.to_owned())
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<String, WriteError> {
        Ok(variant.to_owned())
    }

    fn serialize_some<T: Serialize + ?Sized>(self, key: &T) -> Result<String, WriteError> {
        key.serialize(self)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        key: &T,
    ) -> Result<String, WriteError> {
        key.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<String, WriteError> {
        Err(WriteError::new(NOT_A_KEY))
    }

    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq, WriteError> {
        Err(WriteError::new(NOT_A_KEY))
    }

    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple, WriteError> {
        Err(WriteError::new(NOT_A_KEY))
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleStruct, WriteError> {
        Err(WriteError::new(NOT_A_KEY))
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, WriteError> {
        Err(WriteError::new(NOT_A_KEY))
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap, WriteError> {
        Err(WriteError::new(NOT_A_KEY))
    }

    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStruct, WriteError> {
        Err(WriteError::new(NOT_A_KEY))
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, WriteError> {
        Err(WriteError::new(NOT_A_KEY))
    }
}

const NOT_A_VALUE: &str =
    "a kong.conf value cannot be a map, a struct or an enum variant with data";
const NOT_AN_ITEM: &str = "a list item must be a single value";

/// One setting's value, as the reader reads it back. Inside a list (`in_list`), only single
/// values.
struct ValueWriter {
    in_list: bool,
}

type Text = Zeroizing<String>;

fn text(value: impl fmt::Display) -> Result<Text, WriteError> {
    Ok(Zeroizing::new(value.to_string()))
}

impl ValueWriter {
    fn nested(&self) -> &'static str {
        if self.in_list {
            NOT_AN_ITEM
        } else {
            NOT_A_VALUE
        }
    }
}

impl ser::Serializer for ValueWriter {
    type Ok = Text;
    type Error = WriteError;
    type SerializeSeq = List;
    type SerializeTuple = List;
    type SerializeTupleStruct = List;
    type SerializeTupleVariant = Impossible<Text, WriteError>;
    type SerializeMap = Impossible<Text, WriteError>;
    type SerializeStruct = Impossible<Text, WriteError>;
    type SerializeStructVariant = Impossible<Text, WriteError>;

    /// As kong.conf writes booleans.
    fn serialize_bool(self, v: bool) -> Result<Text, WriteError> {
        text(if v { "on" } else { "off" })
    }

    fn serialize_i8(self, v: i8) -> Result<Text, WriteError> {
        text(v)
    }

    fn serialize_i16(self, v: i16) -> Result<Text, WriteError> {
        text(v)
    }

    fn serialize_i32(self, v: i32) -> Result<Text, WriteError> {
        text(v)
    }

    fn serialize_i64(self, v: i64) -> Result<Text, WriteError> {
        text(v)
    }

    fn serialize_i128(self, v: i128) -> Result<Text, WriteError> {
        text(v)
    }

    fn serialize_u8(self, v: u8) -> Result<Text, WriteError> {
        text(v)
    }

    fn serialize_u16(self, v: u16) -> Result<Text, WriteError> {
        text(v)
    }

    fn serialize_u32(self, v: u32) -> Result<Text, WriteError> {
        text(v)
    }

    fn serialize_u64(self, v: u64) -> Result<Text, WriteError> {
        text(v)
    }

    fn serialize_u128(self, v: u128) -> Result<Text, WriteError> {
        text(v)
    }

    /// Rust's shortest text that reads back as the same number.
    fn serialize_f32(self, v: f32) -> Result<Text, WriteError> {
        text(v)
    }

    fn serialize_f64(self, v: f64) -> Result<Text, WriteError> {
        text(v)
    }

    fn serialize_char(self, v: char) -> Result<Text, WriteError> {
        text(v)
    }

    fn serialize_str(self, v: &str) -> Result<Text, WriteError> {
        // Copied at its final size: a value may be a password written on purpose.
        let mut out = Zeroizing::new(String::with_capacity(v.len()));
        out.push_str(v);
        Ok(out)
    }

    fn serialize_bytes(self, _v: &[u8]) -> Result<Text, WriteError> {
        Err(WriteError::new("bytes cannot be written as kong.conf text"))
    }

    /// Unset: an empty value, which reads back as `None`.
    fn serialize_none(self) -> Result<Text, WriteError> {
        Ok(Zeroizing::new(String::new()))
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Text, WriteError> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<Text, WriteError> {
        Ok(Zeroizing::new(String::new()))
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<Text, WriteError> {
        Ok(Zeroizing::new(String::new()))
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<Text, WriteError> {
        text(variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<Text, WriteError> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<Text, WriteError> {
        Err(WriteError::new(self.nested()))
    }

    fn serialize_seq(self, len: Option<usize>) -> Result<List, WriteError> {
        if self.in_list {
            return Err(WriteError::new(NOT_AN_ITEM));
        }
        Ok(List {
            items: Vec::with_capacity(len.unwrap_or(0).min(64)),
        })
    }

    fn serialize_tuple(self, len: usize) -> Result<List, WriteError> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_struct(self, _name: &'static str, len: usize) -> Result<List, WriteError> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, WriteError> {
        Err(WriteError::new(self.nested()))
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap, WriteError> {
        Err(WriteError::new(self.nested()))
    }

    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStruct, WriteError> {
        Err(WriteError::new(self.nested()))
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, WriteError> {
        Err(WriteError::new(self.nested()))
    }
}

/// A list value: items joined with `, `, each one an item the reader gives back.
struct List {
    items: Vec<Text>,
}

impl ser::SerializeSeq for List {
    type Ok = Text;
    type Error = WriteError;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, item: &T) -> Result<(), WriteError> {
        let item = item.serialize(ValueWriter { in_list: true })?;
        let problem = if item.is_empty() {
            Some("a list item cannot be empty (kong.conf drops empty items)")
        } else if item.contains(',') {
            Some("a list item cannot hold `,` (kong.conf splits lists on it)")
        } else if item.starts_with(is_space) || item.ends_with(is_space) {
            Some("a list item cannot start or end with whitespace (kong.conf trims it)")
        } else {
            None
        };
        match problem {
            Some(message) => Err(WriteError::new(message)),
            None => {
                self.items.push(item);
                Ok(())
            }
        }
    }

    fn end(self) -> Result<Text, WriteError> {
        let separators = 2 * self.items.len().saturating_sub(1);
        let length = self.items.iter().map(|i| i.len()).sum::<usize>() + separators;
        let mut out = Zeroizing::new(String::with_capacity(length));
        for (i, item) in self.items.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            out.push_str(item);
        }
        Ok(out)
    }
}

impl ser::SerializeTuple for List {
    type Ok = Text;
    type Error = WriteError;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, item: &T) -> Result<(), WriteError> {
        ser::SerializeSeq::serialize_element(self, item)
    }

    fn end(self) -> Result<Text, WriteError> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeTupleStruct for List {
    type Ok = Text;
    type Error = WriteError;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, item: &T) -> Result<(), WriteError> {
        ser::SerializeSeq::serialize_element(self, item)
    }

    fn end(self) -> Result<Text, WriteError> {
        ser::SerializeSeq::end(self)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Serialize};

    use super::*;
    use crate::Secret;

    const CANARY: &str = "c4n4ry-Zx9";

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    enum Mode {
        Fast,
        Slow,
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Port(u16);

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Everything {
        pg_ssl: bool,
        pg_ssl_verify: bool,
        pg_port: Port,
        offset: i64,
        ratio: f64,
        tiny: f32,
        sep: char,
        pg_user: String,
        pg_schema: Option<String>,
        pg_ro_host: Option<String>,
        proxy_listen: Vec<String>,
        ports: Vec<u16>,
        trusted_ips: Vec<String>,
        pair: (u8, bool),
        mode: Mode,
        motd: String,
    }

    fn everything() -> Everything {
        Everything {
            pg_ssl: true,
            pg_ssl_verify: false,
            pg_port: Port(5432),
            offset: -3,
            ratio: 0.1,
            tiny: 1e-7,
            sep: ';',
            pg_user: "kong".into(),
            pg_schema: None,
            pg_ro_host: Some("replica".into()),
            proxy_listen: vec!["0.0.0.0:8000".into(), "0.0.0.0:8443 ssl".into()],
            ports: vec![1, 2, 3],
            trusted_ips: vec![],
            pair: (7, true),
            mode: Mode::Slow,
            motd: "we're #1 = best; {really}".into(),
        }
    }

    #[test]
    fn a_struct_is_written_as_the_reader_reads_it() {
        let text = to_string(&everything()).unwrap();
        assert_eq!(
            text,
            "pg_ssl = on\npg_ssl_verify = off\npg_port = 5432\noffset = -3\nratio = 0.1\n\
             tiny = 0.0000001\nsep = ;\npg_user = kong\npg_schema =\npg_ro_host = replica\n\
             proxy_listen = 0.0.0.0:8000, 0.0.0.0:8443 ssl\nports = 1, 2, 3\ntrusted_ips =\n\
             pair = 7, on\nmode = Slow\nmotd = we're \\#1 = best; {really}\n"
        );
        let back: Everything = super::super::from_str(&text).unwrap();
        assert_eq!(back, everything());
    }

    #[test]
    fn maps_and_pairs_keep_their_order() {
        let map: BTreeMap<&str, Option<u16>> = [("b", Some(2)), ("a", None)].into();
        assert_eq!(to_string(&map).unwrap(), "a =\nb = 2\n");
        let pairs = vec![("b".to_owned(), vec!["x", "y"]), ("a".to_owned(), vec![])];
        assert_eq!(to_string(&pairs).unwrap(), "b = x, y\na =\n");
        assert_eq!(to_string(&[["k", "v"]]).unwrap(), "k = v\n");
        assert_eq!(to_string(&BTreeMap::<String, String>::new()).unwrap(), "");
    }

    #[test]
    fn secrets_are_written_as_their_references_and_literals_refused() {
        #[derive(Serialize)]
        struct App {
            pg_password: Secret<String>,
            api_key: Secret<String>,
            #[serde(serialize_with = "crate::ser::redact_literal")]
            token: Secret<String>,
        }
        let app = App {
            pg_password: Secret::from_reference("{vault://env/pg-password#2}".parse().unwrap()),
            api_key: Secret::new(CANARY.into()),
            token: Secret::new(CANARY.into()),
        };
        let err = to_string(&app).unwrap_err();
        assert_eq!(err.failures().len(), 1);
        assert_eq!(err.failures()[0].path(), Some("api_key"));
        assert!(
            err.to_string()
                .contains("refusing to serialize a literal secret")
        );
        assert!(!err.to_string().contains(CANARY));

        let app = App {
            api_key: Secret::from_reference("{vault://env/key}".parse().unwrap()),
            ..app
        };
        assert_eq!(
            to_string(&app).unwrap(),
            "pg_password = {vault://env/pg-password\\#2}\napi_key = {vault://env/key}\n\
             token = [REDACTED]\n"
        );
    }

    #[test]
    fn every_problem_at_once_by_key_and_never_the_value() {
        #[derive(Serialize)]
        struct Bad {
            nested: BTreeMap<String, String>,
            comma: Vec<String>,
            empty_item: Vec<String>,
            spaced_item: Vec<String>,
            list_of_lists: Vec<Vec<String>>,
            line: String,
            spaced: String,
            continued: String,
            #[serde(with = "bytes")]
            raw: Vec<u8>,
            variant: Result<String, String>,
            fine: String,
        }
        mod bytes {
            pub fn serialize<S: serde::Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
                s.serialize_bytes(v)
            }
        }
        let c = || CANARY.to_owned();
        let bad = Bad {
            nested: [(c(), c())].into(),
            comma: vec![format!("{CANARY},{CANARY}")],
            empty_item: vec![c(), String::new()],
            spaced_item: vec![format!(" {CANARY}")],
            list_of_lists: vec![vec![c()]],
            line: format!("{CANARY}\n{CANARY}"),
            spaced: format!("{CANARY}\t"),
            continued: format!("{CANARY}\\"),
            raw: CANARY.as_bytes().to_vec(),
            variant: Ok(c()),
            fine: c(),
        };
        let err = to_string(&bad).unwrap_err();
        let got: Vec<(&str, &str)> = err
            .failures()
            .iter()
            .map(|f| (f.path().unwrap(), f.message()))
            .collect();
        assert_eq!(
            got,
            [
                ("nested", NOT_A_VALUE),
                (
                    "comma",
                    "a list item cannot hold `,` (kong.conf splits lists on it)"
                ),
                (
                    "empty_item",
                    "a list item cannot be empty (kong.conf drops empty items)"
                ),
                (
                    "spaced_item",
                    "a list item cannot start or end with whitespace (kong.conf trims it)"
                ),
                ("list_of_lists", NOT_AN_ITEM),
                ("line", "a value cannot hold a line break"),
                (
                    "spaced",
                    "a value cannot start or end with whitespace (kong.conf trims it)"
                ),
                (
                    "continued",
                    "a value cannot end with `\\` (kong.conf reads it as a continued line)"
                ),
                ("raw", "bytes cannot be written as kong.conf text"),
                ("variant", NOT_A_VALUE),
            ]
        );
        assert!(
            err.failures()
                .iter()
                .all(|f| f.kind() == ErrorKind::InvalidConfig)
        );
        assert!(!err.to_string().contains(CANARY), "{err}");
    }

    #[test]
    fn keys_are_names_and_the_whole_is_settings() {
        let map: BTreeMap<&str, &str> = [("pg-password", CANARY), ("", CANARY), ("ok", "v")].into();
        let err = to_string(&map).unwrap_err();
        let got: Vec<(Option<&str>, &str)> = err
            .failures()
            .iter()
            .map(|f| (f.path(), f.message()))
            .collect();
        assert_eq!(
            got,
            [
                (None, "a key must be letters, digits and `_`"),
                (Some("pg-password"), "a key must be letters, digits and `_`"),
            ]
        );
        let err = to_string(&BTreeMap::from([(1, "x")])).unwrap_err();
        assert_eq!(err.failures()[0].message(), NOT_A_KEY);

        for err in [
            to_string(CANARY).unwrap_err(),
            to_string(&5).unwrap_err(),
            to_string(&[CANARY]).unwrap_err(),
            to_string(&[(CANARY, CANARY, CANARY)]).unwrap_err(),
            to_string(&Some(Mode::Fast)).unwrap_err(),
        ] {
            assert_eq!(err.failures().len(), 1);
            assert_eq!(err.kind(), ErrorKind::InvalidConfig);
            assert!(
                err.to_string().starts_with("cannot write kong.conf text: "),
                "{err}"
            );
            assert!(!err.to_string().contains(CANARY), "{err}");
        }
    }
}
