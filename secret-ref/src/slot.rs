//! The resolver's port: what `Secret<T>` and `Live<T>` share and show the resolver, so that
//! neither names the resolver (nor each other).
//!
//! - [`RefText`]: the reference text as written, kept from deserialization to resolution and
//!   parsed in place when resolved;
//! - [`SecretSlot`]: a secret of any type, as the resolver fills it;
//! - [`deserialize`]: the one serde visitor of both, which only *recognizes* a reference
//!   (as cheaply as Kong's `is_reference`) and leaves its parsing to the resolver.

use std::fmt;
use std::marker::PhantomData;

use serde::Deserializer;
use serde::de::{self, DeserializeOwned, Visitor};
use zeroize::Zeroizing;

use crate::convert::{self, ConvertError};
use crate::error::{Error, ErrorKind, Failure};
use crate::reference::{Reference, is_reference, near_miss};

/// A reference as written in the configuration, even when malformed (the resolver reports
/// why, with the field path). Only the text is kept: a secret stays two words bigger than its
/// value, and the reference is parsed in place once per resolution.
#[derive(Clone)]
pub(crate) struct RefText(Box<str>);

impl RefText {
    pub(crate) fn new(raw: Box<str>) -> Self {
        RefText(raw)
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }

    /// The parsed reference, owned; `None` when malformed.
    pub(crate) fn reference(&self) -> Option<Reference> {
        Reference::parse(&self.0).ok()
    }
}

/// The error for reading a secret before it was resolved, naming its reference.
pub(crate) fn unresolved(raw: &str) -> Error {
    Error::single(
        Failure::new(
            ErrorKind::Unresolved,
            "read before it was resolved: call `resolve_secrets` on the configuration, \
             or deserialize it inside `Resolver::scope`",
        )
        .with_reference(raw),
    )
}

/// The type-erased view of a `Secret<T>` that the resolver works on, so one resolution can
/// hold secrets of many types at once.
pub(crate) trait SecretSlot {
    /// The reference as written; `None` for a literal.
    fn reference_str(&self) -> Option<&str>;
    /// Whether a value is present.
    fn has_value(&self) -> bool;
    /// Converts the resolved text into the value.
    fn accept(&mut self, text: Zeroizing<String>) -> Result<(), ConvertError>;
    /// The value's type, for error messages.
    fn type_name(&self) -> &'static str;
}

/// A secret as deserialized, before any resolution: a literal value or a reference's text.
pub(crate) struct Deserialized<T> {
    pub(crate) value: Option<T>,
    pub(crate) raw: Option<RefText>,
}

impl<T> Deserialized<T> {
    fn reference(raw: Box<str>) -> Self {
        Deserialized {
            value: None,
            raw: Some(RefText::new(raw)),
        }
    }
}

/// Reads a reference or a literal `T` (a self-describing format is needed: the text decides).
pub(crate) fn deserialize<'de, T, D>(deserializer: D) -> Result<Deserialized<T>, D::Error>
where
    T: DeserializeOwned,
    D: Deserializer<'de>,
{
    deserializer.deserialize_any(SecretVisitor::<T>(PhantomData))
}

struct SecretVisitor<T>(PhantomData<T>);

/// A reference, or text that looks like one that was meant (`{vault:/env/x}`): both are kept
/// as reference text, so that the resolver reports a near miss with its field path, in either
/// resolution mode, instead of the typo becoming the password.
fn meant_as_reference(text: &str) -> bool {
    is_reference(text) || near_miss(text).is_some()
}

fn literal<T, E: de::Error>(result: Result<T, ConvertError>) -> Result<Deserialized<T>, E> {
    result
        .map(|value| Deserialized {
            value: Some(value),
            raw: None,
        })
        .map_err(|e| E::custom(format_args!("invalid secret: {e}")))
}

fn buffered<T: DeserializeOwned, E: de::Error>(
    value: Result<serde_value::Value, E>,
) -> Result<Deserialized<T>, E> {
    literal(convert::from_value(value?))
}

/// A number, boolean or character: as itself (`Secret<u16>` from `5432`), or else as its
/// text, so that `Secret<String>` keeps `123456` when a layered configuration (figment,
/// config-rs) typed an environment value `APP_PG_PASSWORD=123456` as a number.
fn scalar<T: DeserializeOwned, E: de::Error>(
    value: Result<serde_value::Value, E>,
    text: impl FnOnce() -> String,
) -> Result<Deserialized<T>, E> {
    match convert::from_value(value?) {
        Ok(value) => literal(Ok(value)),
        Err(first) => match convert::from_text(Zeroizing::new(text())) {
            Ok(value) => literal(Ok(value)),
            Err(_) => literal(Err(first)),
        },
    }
}

macro_rules! buffer_scalars {
    ($($method:ident: $ty:ty),*) => {$(
        fn $method<E: de::Error>(self, v: $ty) -> Result<Self::Value, E> {
            scalar(serde_value::ValueVisitor.$method(v), || v.to_string())
        }
    )*};
}

impl<'de, T: DeserializeOwned> Visitor<'de> for SecretVisitor<T> {
    type Value = Deserialized<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a vault reference or a literal value")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        if meant_as_reference(v) {
            Ok(Deserialized::reference(v.into()))
        } else {
            literal(convert::from_text(Zeroizing::new(v.to_owned())))
        }
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        if meant_as_reference(&v) {
            Ok(Deserialized::reference(v.into_boxed_str()))
        } else {
            literal(convert::from_text(Zeroizing::new(v)))
        }
    }

    buffer_scalars!(
        visit_bool: bool, visit_i8: i8, visit_i16: i16, visit_i32: i32, visit_i64: i64,
        visit_u8: u8, visit_u16: u16, visit_u32: u32, visit_u64: u64,
        visit_f32: f32, visit_f64: f64, visit_char: char
    );

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Self::Value, E> {
        buffered(serde_value::ValueVisitor.visit_bytes(v))
    }

    fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Self::Value, E> {
        buffered(serde_value::ValueVisitor.visit_byte_buf(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        buffered(serde_value::ValueVisitor.visit_unit())
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        buffered(serde_value::ValueVisitor.visit_none())
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        // `Some("{vault://...}")` in formats that wrap options (RON): look inside.
        d.deserialize_any(self)
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        buffered(serde_value::ValueVisitor.visit_seq(seq))
    }

    fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        buffered(serde_value::ValueVisitor.visit_map(map))
    }
}
