//! [figment](https://docs.rs/figment): resolve the references of a layered configuration
//! (files, environment variables) and name, in every failure, where its value came from.
//!
//! - [`extract`]: deserialize and resolve in one call; failures carry figment's origin of
//!   the value (`TOML file app.toml`, ``key DATABASE.PASSWORD in `APP_` environment
//!   variable(s)``).
//! - [`origins`]: the same origins for [`Error::with_origins`], when you extract first and
//!   resolve later.
//! - `From<figment::Error> for Error`: figment's own errors (a missing field, a wrong type, a
//!   file that does not parse) as failures with their path and origin, all of them, and
//!   without the values figment quotes (`found string "hunter2"`), since a value in a
//!   configuration may be a literal password. [`Error::from_format`], and so
//!   [`Resolver::scope`], convert them the same way.
//!
//! The origin is what figment records, in its words: a file provider's name and path, and
//! for a provider without a file (such as `Env`) the key as the provider writes it and the
//! provider's name. figment's `Env` writes the key as the nested path in capitals
//! (`DATABASE.PASSWORD`), not as the variable's name, which it does not keep.
//!
//! ```
//! use figment::Figment;
//! use figment::providers::{Env, Format, Toml};
//! use secret_ref::vault::env::EnvVault;
//! use secret_ref::{ResolveSecrets, Resolver, Secret};
//! use serde::Deserialize;
//!
//! #[derive(Debug, Deserialize, ResolveSecrets)]
//! struct Database { host: String, password: Secret<String> }
//!
//! #[derive(Debug, Deserialize, ResolveSecrets)]
//! struct App { database: Database }
//!
//! let figment = Figment::new()
//!     .merge(Toml::string(r#"
//!         [database]
//!         host = "db.internal"
//!         password = "{vault://env/pg-password}"
//!     "#))
//!     .merge(Env::prefixed("DOC_FIGMENT_APP_").split("__"));
//! let resolver = Resolver::builder()
//!     .vault("env", EnvVault::from_vars([("PG_PASSWORD", "opensesame")]))
//!     .build()?;
//!
//! let app: App = secret_ref::figment::extract(&figment, &resolver)?;
//! assert_eq!(app.database.password.expose_secret(), "opensesame");
//!
//! let err = secret_ref::figment::extract::<App>(&figment, &Resolver::new()).unwrap_err();
//! assert_eq!(err.failures()[0].path(), Some("database.password"));
//! assert_eq!(err.failures()[0].origin(), Some("TOML source string"));
//! # Ok::<(), secret_ref::Error>(())
//! ```

use std::borrow::Cow;

use ::figment::error::{Actual, Kind, OneOf};
use ::figment::value::Value;
use ::figment::{Figment, Metadata, Profile};
use serde::de::{DeserializeOwned, Unexpected};

use crate::convert;
use crate::error::{Error, ErrorKind, Failure};
use crate::layered::{self, Step};
use crate::resolve::ResolveSecrets;
use crate::resolver::Resolver;

/// Deserializes `T` from `figment` and resolves every reference in it, as
/// [`Resolver::scope`] does; every failure, of figment or of a reference, names its field
/// path and, where figment knows it, where the value came from.
///
/// ```
/// use figment::Figment;
/// use figment::providers::{Format, Toml};
/// use secret_ref::{ResolveSecrets, Resolver, Secret};
/// use serde::Deserialize;
///
/// #[derive(Debug, Deserialize, ResolveSecrets)]
/// struct App { port: u16, password: Secret<String> }
///
/// let figment = Figment::new().merge(Toml::string(r#"
///     port = "hunter2"
///     password = "{vault://env/doc-unset}"
/// "#));
/// let err = secret_ref::figment::extract::<App>(&figment, &Resolver::new()).unwrap_err();
/// assert_eq!(err.failures()[0].path(), Some("port"));
/// assert_eq!(err.failures()[0].origin(), Some("TOML source string"));
/// assert_eq!(err.failures()[0].message(), "invalid type: found a string, expected u16");
/// assert!(!err.to_string().contains("hunter2")); // the value is never quoted
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "figment")))]
pub fn extract<T>(figment: &Figment, resolver: &Resolver) -> Result<T, Error>
where
    T: DeserializeOwned + ResolveSecrets,
{
    resolver
        .scope(|| figment.extract::<T>().map_err(Error::from))
        .map_err(|err| err.with_origins(origins(figment)))
}

/// Where each field path's value came from in `figment`, for [`Error::with_origins`]: the
/// provider of the value at that path, or else of the nearest parent that has one.
///
/// ```
/// use figment::Figment;
/// use figment::providers::{Format, Toml};
/// use secret_ref::{ResolveSecrets, Resolver, Secret};
/// use serde::Deserialize;
///
/// #[derive(Deserialize, ResolveSecrets)]
/// struct App { api_key: Secret<String> }
///
/// let figment = Figment::new().merge(Toml::string(r#"api_key = "{vault://env/doc-unset}""#));
/// let mut app: App = figment.extract().map_err(secret_ref::Error::from)?;
/// let err = app
///     .resolve_secrets(&Resolver::new())
///     .map_err(|err| err.with_origins(secret_ref::figment::origins(&figment)))
///     .unwrap_err();
/// assert_eq!(err.failures()[0].origin(), Some("TOML source string"));
/// # Ok::<(), secret_ref::Error>(())
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "figment")))]
pub fn origins(figment: &Figment) -> impl FnMut(&str) -> Option<String> + '_ {
    // The merged tree is built once, on the first failure, and only if there is one.
    let mut root: Option<Option<Value>> = None;
    move |path| {
        let root = root.get_or_insert_with(|| figment.find_value("").ok());
        origin_at(figment, root.as_ref()?, path)
    }
}

/// The origin of the deepest value on `path` that figment has metadata for.
fn origin_at(figment: &Figment, root: &Value, path: &str) -> Option<String> {
    let mut keys: Vec<Cow<'_, str>> = Vec::new();
    let mut at = root;
    let mut found = figment.get_metadata(at.tag()).map(|md| (md, at, 0));
    for step in layered::steps(path) {
        let next = match &step {
            Step::Key(key) => at.as_dict().and_then(|dict| dict.get(key.as_ref())),
            Step::Index(i) => at.as_array().and_then(|array| array.get(*i)),
        };
        let Some(next) = next else { break };
        keys.push(match step {
            Step::Key(key) => key,
            Step::Index(i) => Cow::Owned(i.to_string()),
        });
        at = next;
        if let Some(md) = figment.get_metadata(at.tag()) {
            found = Some((md, at, keys.len()));
        }
    }
    let (md, value, depth) = found?;
    let profile = value
        .tag()
        .profile()
        .unwrap_or_else(|| figment.profile().clone());
    Some(describe(md, &profile, &keys[..depth]))
}

/// A provider's origin as figment tells it: `TOML file app.toml`, or, for a provider without
/// a file or code location, with the key as the provider writes it when that tells more than
/// the field path (`Env`: ``key DATABASE.PASSWORD in `APP_` environment variable(s)``).
fn describe<K: AsRef<str>>(md: &Metadata, profile: &Profile, keys: &[K]) -> String {
    if let Some(source) = &md.source {
        return format!("{} {source}", md.name);
    }
    let key = md.interpolate(profile, keys);
    let dotted = keys.iter().map(AsRef::as_ref).collect::<Vec<_>>().join(".");
    // figment's default interpolation (`default.database.password`) adds nothing.
    if keys.is_empty() || key == dotted || key == format!("{profile}.{dotted}") {
        md.name.to_string()
    } else {
        format!("key {key} in {}", md.name)
    }
}

/// figment's errors, one failure each (figment chains them, so all are reported), with the
/// field path, the origin, and a message that names the kind of a value, never the value.
#[cfg_attr(docsrs, doc(cfg(feature = "figment")))]
impl From<::figment::Error> for Error {
    fn from(err: ::figment::Error) -> Self {
        Error::from_failures(err.into_iter().map(failure).collect())
    }
}

fn failure(err: ::figment::Error) -> Failure {
    let mut failure = Failure::new(ErrorKind::Deserialize, message(&err.kind));
    if !err.path.is_empty() {
        failure = failure.with_path(layered::path_of(&err.path));
    }
    if let Some(md) = &err.metadata {
        let profile = err.profile.clone().unwrap_or(Profile::Default);
        failure = failure.with_origin(describe(md, &profile, &err.path));
    }
    failure
}

fn message(kind: &Kind) -> String {
    match kind {
        Kind::Message(text) => layered::without_values(text),
        Kind::InvalidType(actual, expected) => {
            format!("invalid type: found {}, expected {expected}", of(actual))
        }
        Kind::InvalidValue(actual, expected) => {
            format!("invalid value: found {}, expected {expected}", of(actual))
        }
        Kind::UnknownVariant(_, expected) => {
            format!("unknown variant, expected {}", OneOf(expected))
        }
        Kind::ISizeOutOfRange(_) | Kind::USizeOutOfRange(_) => {
            "integer out of range of every integer type".to_owned()
        }
        Kind::Unsupported(actual) => format!("unsupported type: {}", of(actual)),
        Kind::UnsupportedKey(actual, expected) => {
            format!(
                "unsupported type {} for a key, expected {expected}",
                of(actual)
            )
        }
        // Names and lengths only.
        Kind::InvalidLength(..)
        | Kind::UnknownField(..)
        | Kind::MissingField(_)
        | Kind::DuplicateField(_) => kind.to_string(),
    }
}

/// The kind of a value figment found, in the words `Secret<T>` uses (`a string`).
fn of(actual: &Actual) -> &'static str {
    convert::kind(&match actual {
        Actual::Bool(_) => Unexpected::Bool(false),
        Actual::Unsigned(_) => Unexpected::Unsigned(0),
        Actual::Signed(_) => Unexpected::Signed(0),
        Actual::Float(_) => Unexpected::Float(0.0),
        Actual::Char(_) => Unexpected::Char(' '),
        Actual::Str(_) => Unexpected::Str(""),
        Actual::Bytes(_) => Unexpected::Bytes(&[]),
        Actual::Unit => Unexpected::Unit,
        Actual::Option => Unexpected::Option,
        Actual::NewtypeStruct => Unexpected::NewtypeStruct,
        Actual::Seq => Unexpected::Seq,
        Actual::Map => Unexpected::Map,
        Actual::Enum => Unexpected::Enum,
        Actual::UnitVariant => Unexpected::UnitVariant,
        Actual::NewtypeVariant => Unexpected::NewtypeVariant,
        Actual::TupleVariant => Unexpected::TupleVariant,
        Actual::StructVariant => Unexpected::StructVariant,
        Actual::Other(_) => Unexpected::Other(""),
    })
}
