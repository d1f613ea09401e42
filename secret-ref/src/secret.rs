//! `Secret<T>`: a field that holds a literal or a vault reference and resolves to a `T`.

use std::fmt;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::{Zeroize, Zeroizing};

use crate::convert::{self, ConvertError};
use crate::error::Error;
use crate::redact::Redacted;
use crate::reference::Reference;
use crate::secret_value::SecretValue;
use crate::slot::{self, Deserialized, RefText, SecretSlot, unresolved};

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
/// - `T` must be [`Zeroize`] (see [`SecretValue`]; as with `secrecy`'s `SecretBox`), and the
///   bound is on the type itself: a value that cannot be wiped is refused where the field is
///   declared. A
///   `Secret<String>` is 40 bytes: the value and the reference's text.
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
/// # let resolver = secret_ref::Resolver::builder().vault("env", secret_ref::vault::env::EnvVault::from_vars([("DOC_PG_PASSWORD", "opensesame")])).build()?;
/// let mut pg: Pg = serde_json::from_str(r#"{
///     "user": "kong",
///     "password": "{vault://env/doc-pg-password}",
///     "port": 5432
/// }"#)?;
/// assert_eq!(format!("{:?}", pg.password), "Secret({vault://env/doc-pg-password})");
///
/// pg.resolve_secrets(&resolver)?;
/// assert_eq!(pg.password.expose_secret(), "opensesame");
/// assert_eq!(*pg.port.expose_secret(), 5432);
/// assert_eq!(format!("{:?}", pg.password), "Secret([REDACTED])");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Secret<T: SecretValue> {
    value: Option<T>,
    /// The reference this secret comes from; `None` for a literal.
    raw: Option<RefText>,
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
            raw: None,
        }
    }

    /// An unresolved secret that will be read from `reference`.
    ///
    /// ```
    /// use secret_ref::{Reference, Resolver, Secret};
    ///
    /// # let resolver = secret_ref::Resolver::builder().vault("env", secret_ref::vault::env::EnvVault::from_vars([("DOC_FROM_REF", "v")])).build()?;
    /// let mut s: Secret<String> = Secret::from_reference("{vault://env/doc-from-ref}".parse()?);
    /// assert!(!s.is_resolved());
    /// s.resolve(&resolver)?;
    /// assert_eq!(s.expose_secret(), "v");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_reference(reference: Reference) -> Self {
        Secret {
            value: None,
            raw: Some(RefText::new(reference.into_raw())),
        }
    }
}

impl<T: SecretValue> Secret<T> {
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

    /// The value, or an [`ErrorKind::Unresolved`](crate::ErrorKind::Unresolved) error naming the reference.
    ///
    /// ```
    /// use secret_ref::{ErrorKind, Secret};
    ///
    /// let s: Secret<String> = Secret::from_reference("{vault://env/x}".parse()?);
    /// assert_eq!(s.try_expose_secret().unwrap_err().kind(), ErrorKind::Unresolved);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_expose_secret(&self) -> Result<&T, Error> {
        match (&self.value, &self.raw) {
            (Some(v), _) => Ok(v),
            (None, Some(raw)) => Err(unresolved(raw.as_str())),
            (None, None) => unreachable!("a secret has a value or a reference"),
        }
    }

    /// Mutable access to the value; same rules as [`expose_secret`](Secret::expose_secret).
    #[track_caller]
    pub fn expose_secret_mut(&mut self) -> &mut T {
        match (&mut self.value, &self.raw) {
            (Some(v), _) => v,
            (None, Some(raw)) => panic!("{}", unresolved(raw.as_str())),
            (None, None) => unreachable!("a secret has a value or a reference"),
        }
    }

    /// The reference this secret comes from, parsed; `None` for a literal, or when the
    /// reference is malformed (resolution then reports why). The text is kept as written and
    /// parsed on each call: see [`reference_str`](Secret::reference_str).
    ///
    /// ```
    /// use secret_ref::Secret;
    ///
    /// let s: Secret<String> = serde_json::from_str(r#""{vault://env/pg-password#2}""#)?;
    /// assert_eq!(s.reference().unwrap().version(), Some(2));
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn reference(&self) -> Option<Reference> {
        self.raw.as_ref().and_then(RefText::reference)
    }

    /// The reference exactly as written, even when malformed.
    pub fn reference_str(&self) -> Option<&str> {
        self.raw.as_ref().map(RefText::as_str)
    }

    /// Whether a value is available: a literal, or a resolved reference.
    pub fn is_resolved(&self) -> bool {
        self.value.is_some()
    }

    /// Whether the secret was written as a literal rather than a reference.
    pub fn is_literal(&self) -> bool {
        self.raw.is_none()
    }
}

impl<T: SecretValue + DeserializeOwned> SecretSlot for Secret<T> {
    fn reference_str(&self) -> Option<&str> {
        Secret::reference_str(self)
    }

    fn has_value(&self) -> bool {
        self.value.is_some()
    }

    fn accept(&mut self, text: Zeroizing<String>) -> Result<(), ConvertError> {
        let value = convert::from_text::<T>(text)?;
        if let Some(old) = &mut self.value {
            old.zeroize();
        }
        self.value = Some(value);
        Ok(())
    }

    fn type_name(&self) -> &'static str {
        std::any::type_name::<T>()
    }
}

impl<T: SecretValue> Drop for Secret<T> {
    fn drop(&mut self) {
        if let Some(v) = &mut self.value {
            v.zeroize();
        }
    }
}

impl<T: SecretValue> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.value, &self.raw) {
            (None, Some(raw)) => write!(f, "Secret({})", Redacted::new(raw.as_str())),
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
            raw: self.raw.clone(),
        }
    }
}

impl<T: SecretValue> Serialize for Secret<T> {
    /// Writes the reference back. A literal is an error: writing a password into a file
    /// should be a decision, made per field with [`crate::ser`].
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match &self.raw {
            Some(raw) => serializer.serialize_str(raw.as_str()),
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
        T: Serialize + SecretValue,
        S: Serializer,
    {
        match (&secret.raw, &secret.value) {
            (Some(raw), _) => serializer.serialize_str(raw.as_str()),
            (None, Some(value)) => value.serialize(serializer),
            (None, None) => unreachable!("a secret has a value or a reference"),
        }
    }

    /// Writes `[REDACTED]` for a literal (and a reference as its reference).
    pub fn redact_literal<T, S>(secret: &Secret<T>, serializer: S) -> Result<S::Ok, S::Error>
    where
        T: SecretValue,
        S: Serializer,
    {
        match &secret.raw {
            Some(raw) => serializer.serialize_str(raw.as_str()),
            None => serializer.serialize_str("[REDACTED]"),
        }
    }
}

impl<T: SecretValue> Secret<T> {
    /// The value, moved out (the caller now owns wiping it), or the `Unresolved` error.
    #[cfg_attr(not(feature = "secrecy"), allow(dead_code))]
    pub(crate) fn into_value(self) -> Result<T, Error> {
        let Deserialized { value, raw } = self.into_parts();
        value.ok_or_else(|| unresolved(raw.as_ref().map_or("", RefText::as_str)))
    }

    /// Takes the value and the reference text out (the value is not wiped: it moves).
    pub(crate) fn into_parts(self) -> Deserialized<T> {
        let mut this = std::mem::ManuallyDrop::new(self);
        Deserialized {
            value: this.value.take(),
            raw: this.raw.take(),
        }
    }
}

/// Only *recognizes* a reference (see [`crate::is_reference`]); parsing and resolving are
/// the resolver's, after deserialization, so that deserializing a `Secret<String>` costs
/// about what a `String` does.
impl<'de, T: SecretValue + DeserializeOwned> Deserialize<'de> for Secret<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let Deserialized { value, raw } = slot::deserialize(deserializer)?;
        Ok(Secret { value, raw })
    }
}

// What deserialization moves around: the value and the reference's text, nothing else.
#[cfg(target_pointer_width = "64")]
const _: () = assert!(std::mem::size_of::<Secret<String>>() == 40);
