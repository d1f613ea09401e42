//! [config-rs](https://docs.rs/config) (the `config` crate): resolve the references of a
//! layered configuration and name, in every failure, where its value came from.
//!
//! - [`extract`]: deserialize and resolve in one call; failures carry config-rs's origin of
//!   the value.
//! - [`origins`]: the same origins for [`Error::with_origins`], when you deserialize first and
//!   resolve later.
//! - `From<config::ConfigError> for Error`: config-rs's own errors as a failure with its path
//!   and origin, without the value config-rs quotes (`invalid type: string "hunter2"`), since
//!   a value in a configuration may be a literal password, nor the line of a file that does
//!   not parse. [`Error::from_format`], and so [`Resolver::scope`], convert them the same way.
//!
//! The origin is config-rs's [`Value::origin`](::config::Value::origin): the file's path
//! (relative to the working directory when shorter) for a file, and `the environment` for
//! every value of `Environment`, which does not record the variable's name. config-rs stops at
//! the first error of a deserialization, so a failure of its own comes alone; failures of
//! references are all reported.
//!
//! ```
//! use config::{Config, Environment, File, FileFormat};
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
//! let config = Config::builder()
//!     .add_source(File::from_str(
//!         "[database]\nhost = \"db.internal\"\npassword = \"{vault://env/pg-password}\"",
//!         FileFormat::Toml,
//!     ))
//!     .add_source(
//!         Environment::with_prefix("APP")
//!             .separator("__")
//!             .source(Some([("APP__DATABASE__HOST".into(), "db.example".into())].into())),
//!     )
//!     .build()?;
//! let resolver = Resolver::builder()
//!     .vault("env", EnvVault::from_vars([("PG_PASSWORD", "opensesame")]))
//!     .build()?;
//!
//! let app: App = secret_ref::config_rs::extract(&config, &resolver)?;
//! assert_eq!(app.database.host, "db.example");
//! assert_eq!(app.database.password.expose_secret(), "opensesame");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use ::config::{Config, ConfigError, Value, ValueKind};
use serde::de::DeserializeOwned;

use crate::error::{Error, ErrorKind, Failure};
use crate::layered::{self, Step};
use crate::resolve::ResolveSecrets;
use crate::resolver::Resolver;

/// Deserializes `T` from `config` and resolves every reference in it, as [`Resolver::scope`]
/// does; every failure names its field path and, where config-rs knows it, where the value
/// came from.
///
/// ```
/// use config::{Config, Environment};
/// use secret_ref::{ResolveSecrets, Resolver, Secret};
/// use serde::Deserialize;
///
/// #[derive(Debug, Deserialize, ResolveSecrets)]
/// struct App { api_key: Secret<String> }
///
/// let env = [("APP__API_KEY".to_owned(), "{vault://env/doc-unset}".to_owned())];
/// let config = Config::builder()
///     .add_source(Environment::with_prefix("APP").separator("__").source(Some(env.into())))
///     .build()?;
/// let err = secret_ref::config_rs::extract::<App>(&config, &Resolver::new()).unwrap_err();
/// assert_eq!(err.failures()[0].path(), Some("api_key"));
/// assert_eq!(err.failures()[0].origin(), Some("the environment"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "config")))]
pub fn extract<T>(config: &Config, resolver: &Resolver) -> Result<T, Error>
where
    T: DeserializeOwned + ResolveSecrets,
{
    resolver
        .scope(|| T::deserialize(config.cache.clone()).map_err(Error::from))
        .map_err(|err| err.with_origins(origins(config)))
}

/// Where each field path's value came from in `config`, for [`Error::with_origins`]: the
/// origin of the value at that path, or else of the nearest parent that has one.
///
/// ```
/// use config::{Config, File, FileFormat};
/// use secret_ref::{ResolveSecrets, Resolver, Secret};
/// use serde::Deserialize;
///
/// #[derive(Deserialize, ResolveSecrets)]
/// struct Replica { password: Secret<String> }
///
/// #[derive(Deserialize, ResolveSecrets)]
/// struct App { replicas: Vec<Replica> }
///
/// let yaml = "replicas:\n  - password: literal\n  - password: '{vault://env/doc-unset}'\n";
/// let config = Config::builder().add_source(File::from_str(yaml, FileFormat::Yaml)).build()?;
/// let mut app: App = config.clone().try_deserialize().map_err(secret_ref::Error::from)?;
/// let err = app
///     .resolve_secrets(&Resolver::new())
///     .map_err(|err| err.with_origins(secret_ref::config_rs::origins(&config)))
///     .unwrap_err();
/// assert_eq!(err.failures()[0].path(), Some("replicas[1].password"));
/// // A string source has no origin; a `File::with_name("app.yaml")` has its path.
/// assert_eq!(err.failures()[0].origin(), None);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "config")))]
pub fn origins(config: &Config) -> impl FnMut(&str) -> Option<String> + '_ {
    |path| origin_at(&config.cache, path)
}

/// The origin of the deepest value on `path` that has one.
fn origin_at(root: &Value, path: &str) -> Option<String> {
    let mut at = root;
    let mut found = at.origin();
    for step in layered::steps(path) {
        let next = match (&at.kind, step) {
            (ValueKind::Table(table), Step::Key(key)) => table.get(key.as_ref()),
            (ValueKind::Array(array), Step::Index(i)) => array.get(i),
            _ => None,
        };
        let Some(next) = next else { break };
        at = next;
        found = at.origin().or(found);
    }
    found.map(str::to_owned)
}

/// config-rs's error as a failure with its key as the field path, its origin, and a message
/// that names the kind of a value, never the value.
#[cfg_attr(docsrs, doc(cfg(feature = "config")))]
impl From<ConfigError> for Error {
    fn from(err: ConfigError) -> Self {
        match err {
            ConfigError::Type {
                origin,
                unexpected,
                expected,
                key,
            } => failure(
                &format!("invalid type: {unexpected}, expected {expected}"),
                key,
                origin,
            ),
            ConfigError::At { error, origin, key } => {
                let inner = Error::from(*error);
                let inner = match key {
                    Some(key) if inner.failures().iter().all(|f| f.path().is_none()) => {
                        inner.within(&key)
                    }
                    _ => inner,
                };
                inner.with_origins(|_| origin.clone())
            }
            ConfigError::NotFound(key) => failure("missing configuration field", Some(key), None),
            ConfigError::FileParse { uri, cause } => failure(&cause.to_string(), None, uri),
            // `Environment` quotes a variable's value that is not Unicode: keep the name only.
            ConfigError::Message(message) => match message.split_once(" contains non-Unicode data")
            {
                Some((name, _)) => {
                    failure(&format!("{name} contains non-Unicode data"), None, None)
                }
                None => failure(&message, None, None),
            },
            // An error of this crate that went through config-rs comes back as it was.
            ConfigError::Foreign(cause) => match cause.downcast::<Error>() {
                Ok(ours) => *ours,
                Err(other) => failure(&other.to_string(), None, None),
            },
            other => failure(&other.to_string(), None, None),
        }
    }
}

fn failure(message: &str, key: Option<String>, origin: Option<String>) -> Error {
    let mut failure = Failure::new(ErrorKind::Deserialize, layered::without_values(message));
    if let Some(key) = key.filter(|k| !k.is_empty()) {
        failure = failure.with_path(key);
    }
    if let Some(origin) = origin {
        failure = failure.with_origin(origin);
    }
    Error::single(failure)
}
