//! `Secret<T>`: a field that holds a literal or a vault reference and resolves to a `T`.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use once_cell::race::OnceBox;
use serde::de::{self, DeserializeOwned, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::{Zeroize, Zeroizing};

use crate::convert::{self, ConvertError};
use crate::error::{Error, ErrorKind, Failure};
use crate::reference::{Redacted, Reference, is_reference, near_miss};
use crate::secret_value::SecretValue;

/// A secret value of type `T`, written in configuration either as a literal or as a vault
/// reference such as `{vault://env/pg-password}`.
///
/// - The only way to the value is [`expose_secret`](Secret::expose_secret), so every use is
///   greppable.
/// - `Debug` prints `Secret([REDACTED])`, or the reference while unresolved; there is no
///   `Display`.
/// - The value is zeroized when the secret is dropped.
/// - Serializing writes the reference back, never a resolved value. A literal refuses to
///   serialize unless the field opts in with [`ser::expose_literal`](crate::ser::expose_literal)
///   or [`ser::redact_literal`](crate::ser::redact_literal).
/// - `Clone` is opt-in through [`CloneableSecret`], because every clone is one more copy of
///   the secret in memory.
///
/// Deserializing reads a reference or a literal `T`. A reference is only recognized here (as
/// cheaply as Kong's `is_reference`); it is parsed and resolved by
/// [`ResolveSecrets::resolve_secrets`](crate::ResolveSecrets::resolve_secrets), or at once when
/// deserializing inside [`Resolver::scope`](crate::Resolver::scope). For `T` other than
/// `String`, the resolved text is converted: numbers and booleans are parsed, structs and maps
/// read as JSON. `Secret<T>` needs a self-describing format (JSON, TOML, YAML, kong.conf...).
///
/// ```
/// use secret_ref::{Resolver, ResolveSecrets, Secret};
/// use serde::Deserialize;
///
/// #[derive(Deserialize, ResolveSecrets)]
/// struct Pg {
///     user: String,
///     password: Secret<String>,
///     port: Secret<u16>,
/// }
///
/// # unsafe { std::env::set_var("DOC_PG_PASSWORD", "opensesame") };
/// let mut pg: Pg = serde_json::from_str(r#"{
///     "user": "kong",
///     "password": "{vault://env/doc-pg-password}",
///     "port": 5432
/// }"#)?;
/// assert_eq!(format!("{:?}", pg.password), "Secret({vault://env/doc-pg-password})");
///
/// pg.resolve_secrets(&Resolver::new())?;
/// assert_eq!(pg.password.expose_secret(), "opensesame");
/// assert_eq!(*pg.port.expose_secret(), 5432);
/// assert_eq!(format!("{:?}", pg.password), "Secret([REDACTED])");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Secret<T> {
    value: Option<T>,
    source: Option<Source>,
    /// `T::zeroize`, captured by every constructor (they all require `T: Zeroize`). Keeping
    /// the bound off the struct spares generic code a `T: Zeroize` on every type that holds
    /// a `Secret<T>`, while drop still wipes the value.
    wipe: fn(&mut T),
}

/// Where a secret's value comes from when it is a reference. Deserialization only stores
/// the text (the `String` the format produced, without a copy); the resolver parses it in
/// place, and an owned [`Reference`] is built only if [`Secret::reference`] asks for one.
///
/// The cache is a `OnceBox` (one pointer) rather than a `OnceLock`, to keep `Secret<String>`
/// small: its size is what deserialization moves around.
struct Source {
    raw: Box<str>,
    parsed: OnceBox<Option<Reference>>,
}

impl Clone for Source {
    fn clone(&self) -> Self {
        Source::text(self.raw.clone())
    }
}

impl Source {
    fn text(raw: Box<str>) -> Self {
        Source {
            raw,
            parsed: OnceBox::new(),
        }
    }

    fn reference(&self) -> Option<&Reference> {
        self.parsed
            .get_or_init(|| Box::new(Reference::parse(&self.raw).ok()))
            .as_ref()
    }
}

/// An alias for the common case.
pub type SecretString = Secret<String>;

impl<T: SecretValue> Secret<T> {
    /// A literal secret.
    ///
    /// ```
    /// use secret_ref::Secret;
    ///
    /// let s = Secret::new(String::from("hunter2"));
    /// assert_eq!(s.expose_secret(), "hunter2");
    /// assert!(s.reference().is_none());
    /// ```
    pub fn new(value: T) -> Self {
        Secret {
            value: Some(value),
            source: None,
            wipe: T::zeroize,
        }
    }

    /// An unresolved secret that will be read from `reference`.
    ///
    /// ```
    /// use secret_ref::{Reference, Resolver, Secret};
    ///
    /// # unsafe { std::env::set_var("DOC_FROM_REF", "v") };
    /// let mut s: Secret<String> = Secret::from_reference("{vault://env/doc-from-ref}".parse()?);
    /// assert!(!s.is_resolved());
    /// s.resolve(&Resolver::new())?;
    /// assert_eq!(s.expose_secret(), "v");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_reference(reference: Reference) -> Self {
        let source = Source {
            raw: reference.as_str().into(),
            parsed: OnceBox::with_value(Box::new(Some(reference))),
        };
        Secret {
            value: None,
            source: Some(source),
            wipe: T::zeroize,
        }
    }
}

impl<T> Secret<T> {
    /// The value. Reading a secret that holds an unresolved reference panics (with the
    /// reference, never a value) rather than yield something wrong; use
    /// [`try_expose_secret`](Secret::try_expose_secret) to handle that case.
    #[track_caller]
    pub fn expose_secret(&self) -> &T {
        match self.try_expose_secret() {
            Ok(v) => v,
            Err(e) => panic!("{e}"),
        }
    }

    /// The value, or an [`ErrorKind::Unresolved`] error naming the reference.
    ///
    /// ```
    /// use secret_ref::{ErrorKind, Secret};
    ///
    /// let s: Secret<String> = Secret::from_reference("{vault://env/x}".parse()?);
    /// assert_eq!(s.try_expose_secret().unwrap_err().kind(), ErrorKind::Unresolved);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_expose_secret(&self) -> Result<&T, Error> {
        match (&self.value, &self.source) {
            (Some(v), _) => Ok(v),
            (None, Some(source)) => Err(unresolved(&source.raw)),
            (None, None) => unreachable!("a secret has a value or a reference"),
        }
    }

    /// Mutable access to the value; same rules as [`expose_secret`](Secret::expose_secret).
    #[track_caller]
    pub fn expose_secret_mut(&mut self) -> &mut T {
        match (&mut self.value, &self.source) {
            (Some(v), _) => v,
            (None, Some(source)) => panic!("{}", unresolved(&source.raw)),
            (None, None) => unreachable!("a secret has a value or a reference"),
        }
    }

    /// The reference this secret comes from; `None` for a literal, or when the reference is
    /// malformed (resolution then reports why).
    pub fn reference(&self) -> Option<&Reference> {
        self.source.as_ref().and_then(Source::reference)
    }

    /// The reference exactly as written, even when malformed.
    pub fn reference_str(&self) -> Option<&str> {
        self.source.as_ref().map(|s| &*s.raw)
    }

    /// Whether a value is available: a literal, or a resolved reference.
    pub fn is_resolved(&self) -> bool {
        self.value.is_some()
    }

    /// Whether the secret was written as a literal rather than a reference.
    pub fn is_literal(&self) -> bool {
        self.source.is_none()
    }

    /// Resolves this one secret; see [`crate::Resolver::resolve`].
    pub fn resolve(&mut self, resolver: &crate::Resolver) -> Result<(), Error>
    where
        T: DeserializeOwned,
    {
        resolver.resolve(self)
    }
}

impl<T: Zeroize> Secret<T> {
    pub(crate) fn unresolved_from_raw(raw: Box<str>) -> Self {
        Secret {
            value: None,
            source: Some(Source::text(raw)),
            wipe: T::zeroize,
        }
    }

    pub(crate) fn resolved(value: T, reference: Reference) -> Self {
        let mut s = Secret::from_reference(reference);
        s.value = Some(value);
        s
    }
}

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
    /// For a live secret, what the rotation updates.
    fn live(&self) -> Option<Arc<dyn crate::live::LiveSink>> {
        None
    }
}

// No `Zeroize` bound: every `Secret` was built with its `wipe`, so a missing `Zeroize` is
// reported where a secret is made or deserialized, not again where it is resolved.
impl<T: DeserializeOwned> SecretSlot for Secret<T> {
    fn reference_str(&self) -> Option<&str> {
        Secret::reference_str(self)
    }

    fn has_value(&self) -> bool {
        self.value.is_some()
    }

    fn accept(&mut self, text: Zeroizing<String>) -> Result<(), ConvertError> {
        let value = convert::from_text::<T>(text)?;
        if let Some(old) = &mut self.value {
            (self.wipe)(old);
        }
        self.value = Some(value);
        Ok(())
    }

    fn type_name(&self) -> &'static str {
        std::any::type_name::<T>()
    }
}

impl<T> Drop for Secret<T> {
    fn drop(&mut self) {
        if let Some(v) = &mut self.value {
            (self.wipe)(v);
        }
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.value, &self.source) {
            (None, Some(source)) => write!(f, "Secret({})", Redacted(&source.raw)),
            _ => f.write_str("Secret([REDACTED])"),
        }
    }
}

impl<T: SecretValue> From<T> for Secret<T> {
    fn from(value: T) -> Self {
        Secret::new(value)
    }
}

impl<T: SecretValue + Default> Default for Secret<T> {
    fn default() -> Self {
        Secret::new(T::default())
    }
}

/// Marks a secret type as safe to clone, which makes `Secret<T>` `Clone`.
///
/// Cloning is opt-in (as in `secrecy`) because each clone is another copy of the secret that
/// lives until dropped. Implemented for `String`, `Vec<u8>`, numbers and `bool`; implement it
/// for your own types if you accept that trade-off.
///
/// ```
/// use secret_ref::Secret;
///
/// let a = Secret::new(String::from("x"));
/// let b = a.clone();
/// assert_eq!(b.expose_secret(), "x");
/// ```
pub trait CloneableSecret: Clone + Zeroize {}

macro_rules! cloneable {
    ($($t:ty),*) => { $(impl CloneableSecret for $t {})* };
}
cloneable!(
    String,
    Vec<u8>,
    bool,
    char,
    u8,
    u16,
    u32,
    u64,
    u128,
    usize,
    i8,
    i16,
    i32,
    i64,
    i128,
    isize,
    f32,
    f64
);

impl<T: CloneableSecret> Clone for Secret<T> {
    fn clone(&self) -> Self {
        Secret {
            value: self.value.clone(),
            wipe: self.wipe,
            source: self.source.clone(),
        }
    }
}

impl<T> Serialize for Secret<T> {
    /// Writes the reference back. A literal is an error: writing a password into a file
    /// should be a decision, made per field with [`crate::ser`].
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match &self.source {
            Some(source) => serializer.serialize_str(&source.raw),
            None => Err(crate::serialize::literal_refused()),
        }
    }
}

/// Opt-in serialization of literal secrets, for `#[serde(serialize_with = "...")]`.
///
/// ```
/// use secret_ref::Secret;
/// use serde::Serialize;
///
/// #[derive(Serialize)]
/// struct Config {
///     #[serde(serialize_with = "secret_ref::ser::redact_literal")]
///     api_key: Secret<String>,
///     #[serde(serialize_with = "secret_ref::ser::expose_literal")]
///     seed: Secret<String>,
///     pg_password: Secret<String>,
/// }
///
/// let config = Config {
///     api_key: Secret::new("k".into()),
///     seed: Secret::new("s".into()),
///     pg_password: Secret::from_reference("{vault://env/pg-password}".parse()?),
/// };
/// assert_eq!(
///     serde_json::to_string(&config)?,
///     r#"{"api_key":"[REDACTED]","seed":"s","pg_password":"{vault://env/pg-password}"}"#
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub mod ser {
    use super::*;

    pub use crate::serialize::serialize;

    /// Writes a literal's value (and a reference as its reference).
    pub fn expose_literal<T, S>(secret: &Secret<T>, serializer: S) -> Result<S::Ok, S::Error>
    where
        T: Serialize,
        S: Serializer,
    {
        match (&secret.source, &secret.value) {
            (Some(source), _) => serializer.serialize_str(&source.raw),
            (None, Some(value)) => value.serialize(serializer),
            (None, None) => unreachable!("a secret has a value or a reference"),
        }
    }

    /// Writes `[REDACTED]` for a literal (and a reference as its reference).
    pub fn redact_literal<T, S>(secret: &Secret<T>, serializer: S) -> Result<S::Ok, S::Error>
    where
        S: Serializer,
    {
        match &secret.source {
            Some(source) => serializer.serialize_str(&source.raw),
            None => serializer.serialize_str("[REDACTED]"),
        }
    }
}

/// A secret's value (for a literal) and its reference text.
pub(crate) type Parts<T> = (Option<T>, Option<Box<str>>);

/// A secret's parts as deserialized, before any resolution. Shared by `Secret<T>` and
/// `Live<T>`.
pub(crate) fn deserialize_parts<'de, T, D>(deserializer: D) -> Result<Parts<T>, D::Error>
where
    T: Zeroize + DeserializeOwned,
    D: Deserializer<'de>,
{
    Ok(deserializer
        .deserialize_any(SecretVisitor::<T>(PhantomData))?
        .into_parts())
}

impl<T> Secret<T> {
    /// Takes the value and the reference text out (the value is not wiped: it moves).
    pub(crate) fn into_parts(self) -> Parts<T> {
        let mut this = std::mem::ManuallyDrop::new(self);
        let value = this.value.take();
        let raw = this.source.take().map(|s| s.raw);
        // Nothing else in `this` owns memory: `wipe` is a function pointer.
        (value, raw)
    }
}

impl<'de, T: SecretValue + DeserializeOwned> Deserialize<'de> for Secret<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut secret = deserializer.deserialize_any(SecretVisitor(PhantomData))?;
        if secret.value.is_none() && crate::resolver::in_scope() {
            crate::resolver::resolve_in_scope(&mut secret);
        }
        Ok(secret)
    }
}

struct SecretVisitor<T>(PhantomData<T>);

/// A reference, or text that looks like one that was meant (`{vault:/env/x}`): both are kept
/// as reference text, so that the resolver reports a near miss with its field path, in either
/// resolution mode, instead of the typo becoming the password.
fn meant_as_reference(text: &str) -> bool {
    is_reference(text) || near_miss(text).is_some()
}

fn literal<T: DeserializeOwned + Zeroize, E: de::Error>(
    result: Result<T, ConvertError>,
) -> Result<Secret<T>, E> {
    result
        .map(Secret::new)
        .map_err(|e| E::custom(format_args!("invalid secret: {e}")))
}

fn buffered<T: DeserializeOwned + Zeroize, E: de::Error>(
    value: Result<serde_value::Value, E>,
) -> Result<Secret<T>, E> {
    literal(convert::from_value(value?))
}

macro_rules! buffer_scalars {
    ($($method:ident: $ty:ty),*) => {$(
        fn $method<E: de::Error>(self, v: $ty) -> Result<Self::Value, E> {
            buffered(serde_value::ValueVisitor.$method(v))
        }
    )*};
}

impl<'de, T: DeserializeOwned + Zeroize> Visitor<'de> for SecretVisitor<T> {
    type Value = Secret<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a vault reference or a literal value")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        if meant_as_reference(v) {
            Ok(Secret::unresolved_from_raw(v.into()))
        } else {
            literal(convert::from_text(Zeroizing::new(v.to_owned())))
        }
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        if meant_as_reference(&v) {
            Ok(Secret::unresolved_from_raw(v.into_boxed_str()))
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
