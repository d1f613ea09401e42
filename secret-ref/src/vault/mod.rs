//! Vault backends: the [`Vault`] trait every backend implements, and the backends that ship
//! with this crate, each in its own module (and, for remote ones, behind its own feature).

use std::collections::BTreeMap;
use std::fmt;

use zeroize::Zeroizing;

use crate::error::VaultError;

#[cfg(feature = "aws")]
pub mod aws;
pub mod env;
#[cfg(any(feature = "fs", feature = "hcv", feature = "aws"))]
pub mod file;
#[cfg(feature = "fs")]
pub mod fs;
#[cfg(feature = "hcv")]
pub mod hcv;

/// Options that every vault takes, as in Kong; the resolver handles them, not the backend.
pub const COMMON_OPTIONS: &[&str] = &["ttl", "neg_ttl", "resurrect_ttl"];

/// A secret store that turns a resource (and optional version) into the secret's text.
///
/// A backend is registered under a name (see
/// [`ResolverBuilder::vault`](crate::ResolverBuilder::vault)); references then reach it with
/// `{vault://<name>/<resource>}`. The resolver does the rest: configuration merging, the JSON
/// key after the resource, caching, conversion into the field's type and error reporting.
///
/// ```
/// use secret_ref::vault::{Request, Vault};
/// use secret_ref::{Resolver, VaultError};
/// use zeroize::Zeroizing;
///
/// /// A vault that serves fixed values, handy in tests.
/// struct Fixed;
///
/// impl Vault for Fixed {
///     fn options(&self) -> &'static [&'static str] {
///         &["suffix"]
///     }
///
///     fn fetch(&self, request: &Request<'_>) -> Result<Zeroizing<String>, VaultError> {
///         match request.resource() {
///             "db" => {
///                 let suffix = request.config().get("suffix").unwrap_or("");
///                 Ok(Zeroizing::new(format!(r#"{{"user":"app{suffix}","password":"pw"}}"#)))
///             }
///             other => Err(VaultError::not_found(format!("no secret named `{other}`"))),
///         }
///     }
/// }
///
/// let resolver = Resolver::builder().vault("fixed", Fixed).build()?;
/// let user = resolver.get("{vault://fixed/db/user?suffix=-2}")?;
/// assert_eq!(user.expose_secret(), "app-2");
/// # Ok::<(), secret_ref::Error>(())
/// ```
pub trait Vault: Send + Sync + 'static {
    /// The configuration options this backend reads (besides [`COMMON_OPTIONS`]). Any other
    /// option, in the resolver's settings or in a reference's query, is an error.
    fn options(&self) -> &'static [&'static str];

    /// Checks a configuration before use: at registration for the base settings, and for
    /// each reference whose query overrides them. The default accepts everything.
    fn check_config(&self, config: &VaultConfig) -> Result<(), VaultError> {
        let _ = config;
        Ok(())
    }

    /// Fetches the whole secret named by `request.resource()` (the key after it, if any, is
    /// applied by the resolver). Errors must not contain secret values or credentials.
    fn fetch(&self, request: &Request<'_>) -> Result<Zeroizing<String>, VaultError>;

    /// Whether fetches leave the process. Remote results are cached per resolver and fetched
    /// concurrently; a local backend (such as `env`, which reads a snapshot) is asked
    /// directly, since a cache in front of it would only cost.
    fn is_remote(&self) -> bool {
        true
    }
}

/// One fetch, as the resolver hands it to a backend.
#[derive(Debug)]
pub struct Request<'a> {
    pub(crate) resource: &'a str,
    pub(crate) version: Option<u32>,
    pub(crate) config: &'a VaultConfig,
    pub(crate) max_file_size: u64,
}

/// The largest file a backend reads by default (a secret, a CA bundle, a token file): 1 MiB.
/// Secrets are small; a larger file is a mistake or an attack (`/dev/zero`).
pub const DEFAULT_MAX_FILE_SIZE: u64 = 1024 * 1024;

impl<'a> Request<'a> {
    /// A request, for calling a backend directly (in tests, for instance).
    pub fn new(resource: &'a str, version: Option<u32>, config: &'a VaultConfig) -> Self {
        Request {
            resource,
            version,
            config,
            max_file_size: DEFAULT_MAX_FILE_SIZE,
        }
    }

    /// The same request with another file size limit (see
    /// [`ResolverBuilder::max_file_size`](crate::ResolverBuilder::max_file_size)).
    pub fn with_max_file_size(mut self, bytes: u64) -> Self {
        self.max_file_size = bytes;
        self
    }

    /// The largest file the backend may read for this request, in bytes: files larger than
    /// this are refused, not truncated.
    pub fn max_file_size(&self) -> u64 {
        self.max_file_size
    }

    /// The secret's id, percent-decoded.
    pub fn resource(&self) -> &'a str {
        self.resource
    }

    /// The version from `#N`, if any.
    pub fn version(&self) -> Option<u32> {
        self.version
    }

    /// The effective configuration: the vault's settings overridden by the query options.
    pub fn config(&self) -> &'a VaultConfig {
        self.config
    }
}

/// A vault's configuration: option names to values, as written in settings and queries.
///
/// `Debug` scrubs credential-like options (`token`, `secret_id`, ...).
///
/// ```
/// use secret_ref::vault::VaultConfig;
///
/// let config: VaultConfig = [("prefix", "APP_"), ("token", "s.abc")].into_iter().collect();
/// assert_eq!(config.get("prefix"), Some("APP_"));
/// assert_eq!(format!("{config:?}"), r#"{"prefix": "APP_", "token": "***"}"#);
/// ```
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VaultConfig {
    entries: BTreeMap<String, String>,
}

impl VaultConfig {
    /// An empty configuration.
    pub fn new() -> Self {
        Self::default()
    }

    /// An option's value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.entries.get(name).map(String::as_str)
    }

    /// Sets an option.
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.entries.insert(name.into(), value.into());
    }

    /// Removes an option.
    pub fn remove(&mut self, name: &str) -> Option<String> {
        self.entries.remove(name)
    }

    /// All options, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Whether no option is set.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Reads an option as a number of seconds (`ttl`, `neg_ttl`, ...).
    pub fn seconds(&self, name: &str) -> Result<Option<f64>, VaultError> {
        match self.get(name) {
            None | Some("") => Ok(None),
            Some(v) => match v.trim().parse::<f64>() {
                Ok(n) if n.is_finite() && n >= 0.0 => Ok(Some(n)),
                _ => Err(VaultError::invalid_config(format!(
                    "option `{name}` must be a number of seconds"
                ))),
            },
        }
    }

    /// Reads an option as a boolean (`on`/`off`/`true`/`false`, as kong.conf writes them).
    pub fn flag(&self, name: &str) -> Result<Option<bool>, VaultError> {
        match self.get(name).map(str::trim) {
            None | Some("") => Ok(None),
            Some("on" | "true") => Ok(Some(true)),
            Some("off" | "false") => Ok(Some(false)),
            Some(_) => Err(VaultError::invalid_config(format!(
                "option `{name}` must be on, off, true or false"
            ))),
        }
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for VaultConfig {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        VaultConfig {
            entries: iter
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }
}

impl fmt::Debug for VaultConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.entries.iter().map(|(k, v)| {
                let shown = if crate::reference::is_sensitive_option(k) {
                    "***"
                } else {
                    v.as_str()
                };
                (k, shown)
            }))
            .finish()
    }
}
