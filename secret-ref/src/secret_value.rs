//! `SecretValue`: the bound a secret's value type must meet, written so that a type that does
//! not meet it is reported in words that name the fix.

use zeroize::Zeroize;

/// A type a [`Secret`](crate::Secret) or a [`Live`](crate::Live) can hold: one that can be
/// wiped ([`Zeroize`]), since a secret wipes its value when it is dropped or replaced.
///
/// Every `Zeroize` type is a `SecretValue`: implement (or derive) `Zeroize`, never this
/// trait. It exists for the compiler's message: a `Secret<Creds>` whose `Creds` is not
/// `Zeroize` is reported as "`Creds` cannot be the value of a `Secret`", with the fix, rather
/// than as a missing `DefaultIsZeroes` (an internal of the `zeroize` crate).
///
/// ```
/// use secret_ref::zeroize::Zeroize;
/// use secret_ref::{ResolveSecrets, Resolver, Secret};
/// use secret_ref::vault::memory::MemoryVault;
/// use serde::Deserialize;
///
/// #[derive(Deserialize)]
/// struct Creds { user: String, password: String }
///
/// // With the `zeroize` crate's `derive` feature: `#[derive(Zeroize)]`.
/// impl Zeroize for Creds {
///     fn zeroize(&mut self) {
///         self.user.zeroize();
///         self.password.zeroize();
///     }
/// }
///
/// #[derive(Deserialize, ResolveSecrets)]
/// struct Config { db: Secret<Creds> }
///
/// let vault: MemoryVault = [("db", r#"{"user": "app", "password": "pw"}"#)].into_iter().collect();
/// let resolver = Resolver::builder().vault("mem", vault).build()?;
/// let config: Config = resolver.scope(|| serde_json::from_str(r#"{"db": "{vault://mem/db}"}"#))?;
/// assert_eq!(config.db.expose_secret().user, "app");
/// # Ok::<(), secret_ref::Error>(())
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be the value of a `Secret`: it does not implement `Zeroize`",
    label = "a secret's value must be `Zeroize`, so that it is wiped when dropped",
    note = "implement `Zeroize` for `{Self}`: `#[derive(Zeroize)]` (the `zeroize` crate, feature `derive`), or `impl secret_ref::zeroize::Zeroize for {Self}` wiping each field"
)]
pub trait SecretValue: Zeroize {}

// `do_not_recommend`: a type without `Zeroize` is then reported as not a `SecretValue`, with
// the message above, instead of the compiler following `zeroize`'s blanket impl down to a
// missing `DefaultIsZeroes`.
#[diagnostic::do_not_recommend]
impl<T: Zeroize + ?Sized> SecretValue for T {}
