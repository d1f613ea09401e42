//! Keep secrets out of configuration files: write a *vault reference* where a password would
//! go, as Kong Gateway does, and resolve it when the configuration loads.
//!
//! ```text
//! pg_password = {vault://env/my-secret-postgres-password}
//! ```
//!
//! # The pieces
//!
//! - [`Secret<T>`]: a field type that deserializes from a reference or a literal, resolves to
//!   a `T`, never shows its value in `Debug`, and is zeroized on drop.
//! - [`ResolveSecrets`] and `#[derive(ResolveSecrets)]`: resolve every reference of a
//!   configuration in one call and report every failure with its field path.
//! - [`Resolver`]: the vaults (the [`env`](vault::env) vault is built in; implement
//!   [`Vault`] for more), their settings, named vaults, and the cache.
//! - [`Reference`] and [`is_reference`]: Kong's grammar,
//!   `{vault://<vault>/<resource>[/<key>][?<options>][#<version>]}`.
//! - [`kong_conf`]: Kong's configuration format, layered with environment overrides, with
//!   vault settings.
//! - [`Live<T>`] and [`Resolver::start_rotation`]: secrets that follow their vault as it
//!   rotates them; [`Resolver::retry`]: Kong's `kong.vault.try`; [`audit`]: the `tracing`
//!   events of every fetch.
//! - Backends behind features: `fs`, `hcv` (HashiCorp Vault, OpenBao), `aws` (Secrets
//!   Manager), `gcp` (Secret Manager), `azure` (Key Vault), `conjur` (CyberArk Conjur); the
//!   `cli` feature builds the `secret-ref` command.
//! - [`cookbook`]: recipes for Docker secrets, Kubernetes with Vault, ECS or EKS, and local
//!   development, each a tested example program.
//! - Layered configuration crates behind features: `figment` (module `figment`) and `config`
//!   (config-rs, module `config_rs`), with failures that name the file or environment a value
//!   came from.
//!
//! # Two ways to resolve
//!
//! After deserialization, with the derive:
//!
//! ```
//! use secret_ref::{Resolver, ResolveSecrets, Secret};
//! use serde::Deserialize;
//!
//! #[derive(Debug, Deserialize, ResolveSecrets)]
//! struct Config {
//!     pg_host: String,
//!     pg_password: Secret<String>,
//! }
//!
//! // (`Resolver::new()` reads the process environment; this example gives it a fixed one.)
//! # let resolver = secret_ref::Resolver::builder().vault("env", secret_ref::vault::env::EnvVault::from_vars([("MY_SECRET_POSTGRES_PASSWORD", "opensesame")])).build()?;
//! let mut config: Config = serde_json::from_str(r#"{
//!     "pg_host": "db.internal",
//!     "pg_password": "{vault://env/my-secret-postgres-password}"
//! }"#)?;
//! config.resolve_secrets(&resolver)?;
//!
//! assert_eq!(config.pg_password.expose_secret(), "opensesame");
//! assert_eq!(
//!     format!("{config:?}"),
//!     r#"Config { pg_host: "db.internal", pg_password: Secret([REDACTED]) }"#
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Or as part of deserialization, with any serde format, with [`Resolver::scope`]:
//!
//! ```
//! # use secret_ref::{Resolver, ResolveSecrets, Secret};
//! # use serde::Deserialize;
//! # #[derive(Deserialize, ResolveSecrets)]
//! # struct Config { pg_password: Secret<String> }
//! # let resolver = secret_ref::Resolver::builder().vault("env", secret_ref::vault::env::EnvVault::from_vars([("MY_SECRET_POSTGRES_PASSWORD", "opensesame")])).build()?;
//! let config: Config = resolver.scope(|| {
//!     serde_json::from_str(r#"{"pg_password": "{vault://env/my-secret-postgres-password}"}"#)
//! })?;
//! assert_eq!(config.pg_password.expose_secret(), "opensesame");
//! # Ok::<(), secret_ref::Error>(())
//! ```
//!
//! # Errors
//!
//! Every failure names its field path, the reference (with credential-like options such as
//! `?token=` scrubbed), the vault and the cause, and one [`Error`] carries them all:
//!
//! ```
//! # use secret_ref::{Resolver, ResolveSecrets, Secret};
//! # use serde::Deserialize;
//! #[derive(Deserialize, ResolveSecrets)]
//! struct Replica { password: Secret<String> }
//!
//! #[derive(Deserialize, ResolveSecrets)]
//! struct Config { replicas: Vec<Replica>, port: Secret<u16> }
//!
//! # let resolver = secret_ref::Resolver::builder().vault("env", secret_ref::vault::env::EnvVault::from_vars([("DOC_LIB_PORT", "not-a-port")])).build()?;
//! let mut config: Config = serde_json::from_str(r#"{
//!     "replicas": [{"password": "{vault://env/doc-lib-unset}"}, {"password": "{vault://env/x#latest}"}],
//!     "port": "{vault://env/doc-lib-port}"
//! }"#)?;
//! let err = config.resolve_secrets(&resolver).unwrap_err();
//! assert_eq!(err.to_string(), "\
//! 3 secrets could not be resolved:
//!   replicas[0].password: {vault://env/doc-lib-unset} (vault `env`): environment variable DOC_LIB_UNSET is not set
//!   replicas[1].password: invalid reference {vault://env/x#latest}: the version after `#` must be a whole number, such as #2
//!   port: {vault://env/doc-lib-port} (vault `env`): the secret does not fit `u16`: invalid value: a string, expected u16");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! No error, panic or `Debug` output contains a secret value, not even a value that failed to
//! convert or to parse as JSON.
//!
//! These calls block while the vaults answer. In async code, use
//! [`ResolveSecrets::resolve_secrets_async`] and [`Resolver::get_async`]: they fetch on the
//! resolver's own threads and never block the executor, with no async runtime required.
//!
//! # Security model
//!
//! A reference is data, often written by someone with less power than the process that
//! resolves it, so a configuration string gets only the secret it names. A reference may
//! choose *which secret* (resource, key, version, and the vault's
//! [selector](vault::OptionClass::Selector) options such as hcv's `mount` or aws's `region`)
//! and [tune](vault::OptionClass::Tuning) caching and timeouts within bounds; it may never
//! choose where credentials go, whose identity is used, which local files are read or how
//! TLS is checked. Each backend declares its options' [classes](vault::OptionClass), and the
//! resolver enforces the rule for every backend:
//!
//! ```
//! use secret_ref::{ErrorKind, Resolver};
//!
//! let err = Resolver::new().get("{vault://env/x?prefix=APP_&ttl=60}").unwrap_err();
//! assert_eq!(err.kind(), ErrorKind::NotFound); // selectors and tuning: fine
//! # #[cfg(feature = "hcv")] {
//! let err = Resolver::new().get("{vault://hcv/db/password?host=evil.example}").unwrap_err();
//! assert_eq!(err.kind(), ErrorKind::OptionNotAllowed);
//! assert!(err.to_string().contains("vault_hcv_host"));
//! # }
//! ```
//!
//! [`ResolverBuilder::allow_in_references`] opts into Kong's permissive behaviour. Text that
//! looks like a reference but is not one (`{vault:/env/x}`, `{VAULT://env/x}`,
//! `{vault://env/x`) is an error, never a literal password; credentials are scrubbed from
//! every message, held in zeroizing storage, and never used as cache keys; files are read
//! without blocking, beneath their directory and through a size limit. The README's "Security
//! model" has the whole list.
//!
//! # Where this differs from Kong
//!
//! Kong's behaviour is the reference, except where it loses data or leaks:
//!
//! - A failed resolution is an error, never an empty string.
//! - No error contains a secret value (Kong's `unable to json decode value (<v>)` does).
//! - Path segments are percent-decoded once and `+` stays `+` (Kong decodes twice).
//! - A key that selects a number or boolean in a JSON secret yields its JSON text.
//! - Input Kong accepts but silently truncates is refused: `;params` in the path, `user@` or
//!   `:port` in the vault name, a repeated query option, an unknown query option, a version
//!   the `env` vault cannot serve (`#3`).
//! - A string that is not a reference is never quoted in an error, since it may be a secret.
//! - A reference may set only selector and tuning options (Kong takes every setting from the
//!   query, so a reference could send the vault's token to a host of its choosing), unless
//!   [`ResolverBuilder::allow_in_references`] says otherwise.
//! - Near misses (`{vault:/env/x}`, `{VAULT://env/x}`, `{vault://env/x`, and in kong.conf a
//!   reference cut short by an unescaped `#`) are errors; Kong takes them as literals.

#![warn(missing_docs)]
// docs.rs (`[package.metadata.docs.rs]`) documents every feature and marks each gated item.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod audit;
pub mod bytes;
mod cache;
pub mod clock;
#[doc = include_str!("cookbook.md")]
pub mod cookbook {}
#[cfg(feature = "config")]
#[cfg_attr(docsrs, doc(cfg(feature = "config")))]
pub mod config_rs;
mod convert;
mod digest;
mod error;
mod expose;
#[cfg(feature = "figment")]
#[cfg_attr(docsrs, doc(cfg(feature = "figment")))]
pub mod figment;
#[cfg(any(
    feature = "hcv",
    feature = "aws",
    feature = "azure",
    feature = "conjur",
    feature = "gcp"
))]
mod http;
mod json_key;
pub mod kong_conf;
mod layered;
mod live;
mod plain;
mod redact;
mod reference;
mod resolve;
mod resolver;
pub mod rotation;
#[cfg(feature = "secrecy")]
mod secrecy_bridge;
mod secret;
mod secret_value;
mod serialize;
pub mod shape;
mod slot;
pub mod vault;

pub use error::{Error, ErrorKind, Failure, VaultError};
pub use expose::{ExposeSecret, ExposeSecretMut};
pub use live::{Live, LiveRef};
pub use redact::Redacted;
pub use reference::{NearMiss, Reference, ReferenceError, ReferenceProblem, is_reference};
pub use resolve::{ResolveSecrets, secret_paths};
pub use resolver::{Resolver, ResolverBuilder, Resolving};
pub use secret::{CloneableSecret, Secret, SecretString, ser};
pub use secret_value::SecretValue;
pub use vault::Vault;

/// Derives [`ResolveSecrets`]; see the trait for the attributes it takes.
#[cfg(feature = "derive")]
#[cfg_attr(docsrs, doc(cfg(feature = "derive")))]
pub use secret_ref_derive::ResolveSecrets;

/// Re-exported so that users can implement `Zeroize` for their secret types and name
/// `Zeroizing` without a second dependency line. (`#[derive(Zeroize)]` needs the `zeroize`
/// crate itself, with its `derive` feature: the derive writes `::zeroize` paths.)
pub use zeroize;

/// What generated code calls. Not public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::plain::Plain;
    pub use crate::resolve::{Field, Mark, Shape, Walker};
    pub use core;
}
