//! With the `secrecy` feature: our secrets where code expects the `secrecy` crate's.
//!
//! - `Secret<T>` implements [`secrecy::ExposeSecret<T>`], so a function generic over it takes
//!   our secrets as they are.
//! - `secrecy::SecretString: From<Secret<String>>` moves the value over, leaving no unwiped
//!   copy behind; `Secret<String>: From<secrecy::SecretString>` goes the other way.
//!
//! A [`Live<T>`](crate::Live) implements neither: a read of a live secret is a guard that
//! keeps the version it saw, and `secrecy::ExposeSecret` must hand out a plain `&T` that
//! outlives any guard. Read it with [`crate::ExposeSecret`] instead.
//!
//! A `secrecy::SecretString` *field* holds a literal only. The derive checks it as it checks a
//! plain `String`: a reference written there is reported (with its field path), never taken
//! as the password. Declare the field `Secret<String>` to resolve it, and convert after.
//!
//! ```
//! use secret_ref::Secret;
//! use secrecy::ExposeSecret;
//!
//! fn password_len(password: &impl ExposeSecret<String>) -> usize {
//!     password.expose_secret().len()
//! }
//!
//! let ours = Secret::new(String::from("hunter2"));
//! assert_eq!(password_len(&ours), 7);
//!
//! let theirs: secrecy::SecretString = ours.into();
//! assert_eq!(theirs.expose_secret(), "hunter2");
//! ```

use zeroize::Zeroize;

use crate::resolve::{ResolveSecrets, Shape, Walker};
use crate::secret::Secret;
use crate::secret_value::SecretValue;

#[cfg_attr(docsrs, doc(cfg(feature = "secrecy")))]
impl<T: SecretValue> secrecy::ExposeSecret<T> for Secret<T> {
    /// The value; panics (with the reference, never a value) if it was never resolved, as
    /// [`Secret::expose_secret`] does.
    #[track_caller]
    fn expose_secret(&self) -> &T {
        Secret::expose_secret(self)
    }
}

#[cfg_attr(docsrs, doc(cfg(feature = "secrecy")))]
impl From<Secret<String>> for secrecy::SecretString {
    /// Moves the value into a `secrecy::SecretString`. Panics (with the reference, never a
    /// value) if the secret was never resolved: resolve first.
    ///
    /// `secrecy` keeps a `Box<str>`. When the `String` has spare capacity, turning it into a
    /// box would reallocate and leave the old buffer unwiped; the text is then copied into an
    /// exact-size box and the `String` wiped instead.
    #[track_caller]
    fn from(secret: Secret<String>) -> Self {
        let mut value = match secret.into_value() {
            Ok(value) => value,
            Err(err) => panic!("{err}"),
        };
        let boxed: Box<str> = if value.len() == value.capacity() {
            value.into_boxed_str()
        } else {
            let exact = Box::from(value.as_str());
            value.zeroize();
            exact
        };
        secrecy::SecretString::from(boxed)
    }
}

#[cfg_attr(docsrs, doc(cfg(feature = "secrecy")))]
impl From<secrecy::SecretString> for Secret<String> {
    /// Takes a `secrecy::SecretString`'s value as a resolved literal secret.
    ///
    /// secrecy offers no way to move its box out, so the text is copied into an exact-size
    /// `String` (wiped when the `Secret` drops) and the `SecretString` is dropped here, which
    /// wipes its own copy.
    ///
    /// ```
    /// use secret_ref::Secret;
    ///
    /// let theirs = secrecy::SecretString::from("hunter2");
    /// let ours: Secret<String> = theirs.into();
    /// assert_eq!(ours.expose_secret(), "hunter2");
    /// assert_eq!(format!("{ours:?}"), "Secret([REDACTED])");
    /// ```
    fn from(theirs: secrecy::SecretString) -> Self {
        let text = String::from(secrecy::ExposeSecret::expose_secret(&theirs));
        drop(theirs);
        Secret::new(text)
    }
}

/// A literal to the derive: its text is checked as a plain string's, so that a reference
/// written in a `secrecy::SecretString` field is an error rather than the password.
#[cfg_attr(docsrs, doc(cfg(feature = "secrecy")))]
impl ResolveSecrets for secrecy::SecretString {
    const SHAPE: Shape = Shape::Plain;

    fn visit_secrets<'a>(&'a mut self, walker: &mut Walker<'a>) {
        walker.plain_str(secrecy::ExposeSecret::expose_secret(self));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret as _;

    // Both paths: an exact-size `String` moves as it is; one with spare capacity is copied
    // into an exact box and wiped.
    #[test]
    fn an_exact_string_moves_over() {
        let theirs: secrecy::SecretString = Secret::new(String::from("canary-exact")).into();
        assert_eq!(theirs.expose_secret(), "canary-exact");
    }

    #[test]
    fn a_string_with_spare_capacity_moves_over() {
        let mut text = String::with_capacity(64);
        text.push_str("canary-7f3a");
        let theirs: secrecy::SecretString = Secret::new(text).into();
        assert_eq!(theirs.expose_secret(), "canary-7f3a");
    }

    #[test]
    fn a_secrecy_string_converts_back() {
        let ours: Secret<String> = secrecy::SecretString::from("canary-back").into();
        assert_eq!(ours.expose_secret(), "canary-back");
        assert!(ours.is_literal());
        assert!(!format!("{ours:?}").contains("canary"));
    }

    #[test]
    fn a_reference_in_a_secrecy_field_is_reported() {
        let mut field = secrecy::SecretString::from("{vault://env/pg-password}");
        let err = crate::Resolver::new().resolve(&mut field).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::ReferenceInPlainField);
        let mut literal = secrecy::SecretString::from("canary-literal");
        crate::Resolver::new().resolve(&mut literal).unwrap();
    }

    #[test]
    #[should_panic(expected = "{vault://env/x}")]
    fn an_unresolved_secret_is_refused_by_reference() {
        let s: Secret<String> = Secret::from_reference("{vault://env/x}".parse().unwrap());
        let _: secrecy::SecretString = s.into();
    }
}
