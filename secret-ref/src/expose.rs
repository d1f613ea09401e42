//! `ExposeSecret` and `ExposeSecretMut`: reading a secret, whatever holds it.

use std::ops::Deref;

use crate::live::{Live, LiveRef};
use crate::secret::Secret;
use crate::secret_value::SecretValue;

/// Read access to a secret's value, for code generic over where the secret lives: a
/// [`Secret<T>`] gives `&T`, a [`Live<T>`] a [`LiveRef`] guard (its value may rotate, so a
/// read holds the version it saw). Both deref to `T`.
///
/// Like the inherent `expose_secret` methods, this panics on a secret that was never
/// resolved (with its reference, never a value).
///
/// ```
/// use secret_ref::{ExposeSecret, Live, Secret};
///
/// fn password_len(password: &impl ExposeSecret<String>) -> usize {
///     password.expose_secret().len()
/// }
///
/// assert_eq!(password_len(&Secret::new(String::from("hunter2"))), 7);
/// assert_eq!(password_len(&Live::new(String::from("opensesame"))), 10);
/// ```
pub trait ExposeSecret<T> {
    /// What a read gives: `&T`, or a guard that derefs to `T`.
    type Exposed<'a>: Deref<Target = T>
    where
        Self: 'a,
        T: 'a;

    /// The value.
    fn expose_secret(&self) -> Self::Exposed<'_>;
}

/// Write access to a secret's value. Implemented by [`Secret<T>`] only: a [`Live<T>`] is
/// shared with the rotation, which replaces its value as a whole, so it has no `&mut T` to
/// give.
///
/// ```
/// use secret_ref::{ExposeSecret, ExposeSecretMut, Secret};
///
/// fn append_pepper(secret: &mut impl ExposeSecretMut<String>) {
///     secret.expose_secret_mut().push_str("-pepper");
/// }
///
/// let mut s = Secret::new(String::from("salt"));
/// append_pepper(&mut s);
/// assert_eq!(&*ExposeSecret::expose_secret(&s), "salt-pepper");
/// ```
pub trait ExposeSecretMut<T>: ExposeSecret<T> {
    /// The value, mutably.
    fn expose_secret_mut(&mut self) -> &mut T;
}

impl<T: SecretValue> ExposeSecret<T> for Secret<T> {
    type Exposed<'a>
        = &'a T
    where
        T: 'a;

    #[track_caller]
    fn expose_secret(&self) -> &T {
        Secret::expose_secret(self)
    }
}

impl<T: SecretValue> ExposeSecretMut<T> for Secret<T> {
    #[track_caller]
    fn expose_secret_mut(&mut self) -> &mut T {
        Secret::expose_secret_mut(self)
    }
}

impl<T> ExposeSecret<T> for Live<T> {
    type Exposed<'a>
        = LiveRef<'a, T>
    where
        T: 'a;

    #[track_caller]
    fn expose_secret(&self) -> LiveRef<'_, T> {
        Live::expose_secret(self)
    }
}
