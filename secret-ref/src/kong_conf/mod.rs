//! Kong's `kong.conf` format: a serde reader, layering with environment overrides, and vault
//! settings.
//!
//! ```text
//! # kong.conf
//! pg_host = 127.0.0.1
//! pg_port = 5432                    # trailing comments are stripped
//! pg_password = {vault://env/my-secret-postgres-password}
//! pg_ssl = on
//! proxy_listen = 0.0.0.0:8000, 0.0.0.0:8443 ssl
//! vault_env_prefix = SECRETS_       # vault settings, as in Kong
//! ```
//!
//! The rules are Kong's: `#` (or `;`) comment lines, trailing comments stripped, `\#` for a
//! literal `#` (so a version is written `{vault://env/pg-port\#2}`), a trailing `\` continues
//! a line, `key = value` split at the first `=`, values trimmed, `on`/`off`/`true`/`false` for
//! booleans, comma lists with items trimmed and empty items dropped, numbers by the target
//! type, and an empty value or `NONE` for "unset" (`None` in an `Option`). The value rules
//! live in [`value`], for reading [`KongConf::get`]'s raw values the same way.
//!
//! ```
//! use secret_ref::{ResolveSecrets, Secret, kong_conf};
//! use serde::Deserialize;
//!
//! #[derive(Debug, Deserialize, ResolveSecrets)]
//! struct PgConfig {
//!     pg_host: String,
//!     pg_port: u16,
//!     pg_ssl: bool,
//!     pg_password: Secret<String>,
//!     pg_schema: Option<String>,
//!     proxy_listen: Vec<String>,
//! }
//!
//! let config: PgConfig = kong_conf::from_str(r"
//!     pg_host = 127.0.0.1
//!     pg_port = 5432      # the default
//!     pg_ssl = on
//!     pg_password = {vault://env/pg-password\#2}
//!     pg_schema = NONE
//!     proxy_listen = 0.0.0.0:8000, 0.0.0.0:8443 ssl,
//! ")?;
//! assert_eq!(config.pg_port, 5432);
//! assert!(config.pg_ssl);
//! assert_eq!(config.pg_password.reference_str(), Some("{vault://env/pg-password#2}"));
//! assert_eq!(config.pg_schema, None);
//! assert_eq!(config.proxy_listen, ["0.0.0.0:8000", "0.0.0.0:8443 ssl"]);
//! # Ok::<(), secret_ref::Error>(())
//! ```
//!
//! Layers and vault settings go through a [`Loader`]: defaults < files < environment, with
//! `KONG_PG_PASSWORD` (or `APP_PG_PASSWORD` for a prefix of your own) overriding
//! `pg_password`. See [`KongConf`] for the vault settings a configuration carries.

mod de;
mod parse;
mod settings;
pub mod value;
mod write;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use hashbrown::HashMap;
use serde::de::DeserializeOwned;
use zeroize::Zeroizing;

use crate::error::{Error, ErrorKind, Failure};
use crate::{ResolveSecrets, Resolver, ResolverBuilder};

pub use write::to_string;

/// Deserializes kong.conf text into any `T`. References stay unresolved; resolve them with
/// [`ResolveSecrets::resolve_secrets`], or call this inside [`Resolver::scope`], or use
/// [`KongConf::extract`], which also applies the file's vault settings.
///
/// Into a map of strings each value comes back as written (comments stripped, `\#`
/// unescaped).
///
/// ```
/// use std::collections::BTreeMap;
/// use secret_ref::kong_conf;
///
/// let map: BTreeMap<String, String> = kong_conf::from_str("a = 1 # one\nb = x\\#y\nc =")?;
/// assert_eq!(map["a"], "1");
/// assert_eq!(map["b"], "x#y");
/// assert_eq!(map["c"], "");
///
/// let err = kong_conf::from_str::<BTreeMap<String, String>>("a = 1\nnot a setting\n").unwrap_err();
/// assert_eq!(err.to_string(), "kong.conf line 2: expected `key = value` (or a `#` comment)");
/// # Ok::<(), secret_ref::Error>(())
/// ```
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, Error> {
    KongConf::parse(text)?.extract_unresolved()
}

/// Where a value came from.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Origin {
    /// A line of a file or text layer (named by its path, or by the name it was given).
    Line {
        /// The file's path or the layer's name.
        name: Arc<str>,
        /// The line number, from 1.
        line: usize,
    },
    /// An environment variable.
    Env {
        /// The variable's name.
        var: String,
    },
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Line { name, line } => write!(f, "{name} line {line}"),
            Origin::Env { var } => write!(f, "env {var}"),
        }
    }
}

/// One setting: its key, its value as written, and where it came from.
#[derive(Clone)]
pub struct Entry {
    key: String,
    value: Zeroizing<String>,
    origin: Origin,
}

impl Entry {
    /// The key, as Kong normalizes it (`pg-password` is `pg_password`).
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The value as written, trimmed, with comments stripped and `\#` unescaped (an
    /// environment variable's value is only trimmed). Read it as a typed field would with
    /// [`value`](mod@value)'s functions.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// Where the value came from.
    pub fn origin(&self) -> &Origin {
        &self.origin
    }
}

impl fmt::Debug for Entry {
    /// Values are configuration, but may be literal passwords: only references are shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value: &dyn fmt::Debug = if crate::is_reference(&self.value) {
            &crate::redact::Redacted::new(&self.value)
        } else {
            &"[REDACTED]"
        };
        f.debug_struct("Entry")
            .field("key", &self.key)
            .field("value", value)
            .field("origin", &self.origin)
            .finish()
    }
}

/// A loaded configuration: settings from defaults and files, with environment overrides on
/// top.
///
/// Besides the settings themselves, a configuration carries vault settings, as Kong's does:
///
/// - `vault_<vault>_<option> = value` configures a vault (`vault_env_prefix = SECRETS_` is
///   the `prefix` of the `env` vault; `-` in a vault name is written `_`);
/// - `vaults = bundled` (the default: every vault compiled in), `off`, or a list such as
///   `env, hcv`, selects the vaults;
/// - `vault_prefixes = ssl:env, aws-prod:aws` declares named vaults (Kong's vault entities,
///   which Kong keeps in its database): `{vault://ssl/cert}` then uses the `env` vault with
///   the options set by `vault_ssl_<option>` keys.
///
/// With an environment prefix, `<PREFIX>VAULT_ENV_PREFIX` sets `vault_env_prefix`, as
/// `KONG_VAULT_ENV_PREFIX` does for Kong.
///
/// ```
/// use secret_ref::{ResolveSecrets, Secret, kong_conf::Loader};
/// use serde::Deserialize;
///
/// #[derive(Deserialize, ResolveSecrets)]
/// struct App { pg_password: Secret<String>, tls_key: Secret<String> }
///
/// let conf = Loader::new()
///     .text("app.conf", "
///         pg_password = {vault://env/pg-password}
///         tls_key = {vault://ssl/key}
///         vault_prefixes = ssl:env
///         vault_ssl_prefix = TLS_
///     ")
///     .env_prefix("APP_")
///     .env_vars([
///         ("APP_VAULT_ENV_PREFIX", "SECRETS_"),
///         ("SECRETS_PG_PASSWORD", "opensesame"),
///         ("TLS_KEY", "-----BEGIN PRIVATE KEY-----"),
///     ])
///     .load()?;
/// let app: App = conf.extract()?;
/// assert_eq!(app.pg_password.expose_secret(), "opensesame");
/// assert_eq!(app.tls_key.expose_secret(), "-----BEGIN PRIVATE KEY-----");
/// # Ok::<(), secret_ref::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct KongConf {
    /// Defaults and files merged, later layers winning, in order of first appearance.
    entries: Vec<Entry>,
    index: HashMap<String, usize>,
    /// Environment overrides (keys lower-cased, prefix removed).
    env: Vec<Entry>,
    env_index: HashMap<String, usize>,
    /// The variables vaults read, when the loader was given a fixed environment.
    vault_env: Option<Arc<Vars>>,
}

/// Environment variables given to a [`Loader`] instead of the process's.
type Vars = Vec<(String, Zeroizing<String>)>;

impl fmt::Debug for KongConf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.entries()).finish()
    }
}

/// Reads a configuration file into a buffer sized from its length: the text may hold
/// passwords, and a buffer that grows while reading frees its old allocations unwiped.
fn read_text(path: &Path) -> std::io::Result<Zeroizing<String>> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let len = file.metadata().map_or(0, |m| m.len());
    // One byte more than the length, so that the read that finds the end needs no growth.
    let capacity = usize::try_from(len).unwrap_or(0).saturating_add(1);
    let mut bytes = Zeroizing::new(Vec::new());
    bytes
        .try_reserve_exact(capacity)
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::OutOfMemory))?;
    file.read_to_end(&mut bytes)?;
    match String::from_utf8(std::mem::take(&mut *bytes)) {
        Ok(text) => Ok(Zeroizing::new(text)),
        Err(e) => {
            zeroize::Zeroize::zeroize(&mut e.into_bytes());
            Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "the file is not UTF-8 text",
            ))
        }
    }
}

impl KongConf {
    /// Parses one kong.conf text (named `kong.conf` in errors).
    pub fn parse(text: &str) -> Result<KongConf, Error> {
        Loader::new().text("kong.conf", text).load()
    }

    /// Reads one kong.conf file.
    pub fn read(path: impl AsRef<Path>) -> Result<KongConf, Error> {
        Loader::new().file(path).load()
    }

    /// The effective value of a key: the environment override if any, else the file's.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entry(key).map(Entry::value)
    }

    /// The effective entry of a key.
    pub fn entry(&self, key: &str) -> Option<&Entry> {
        match self.env_index.get(key) {
            Some(&i) => Some(&self.env[i]),
            None => self.index.get(key).map(|&i| &self.entries[i]),
        }
    }

    /// Every effective entry: file settings (with their overrides), then overrides of keys
    /// no file has.
    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.effective(None).into_iter()
    }

    /// The entries a target sees. Environment variables override keys the files have, and
    /// reach keys no file has only when the target asks for them (a struct field), or when
    /// they are vault settings (Kong's `vault_` namespace). A map target sees file keys and
    /// vault settings.
    fn effective(&self, fields: Option<&[&str]>) -> Vec<&Entry> {
        let mut out: Vec<&Entry> = self
            .entries
            .iter()
            .map(|e| match self.env_index.get(&e.key) {
                Some(&i) => &self.env[i],
                None => e,
            })
            .collect();
        for e in &self.env {
            let known = self.index.contains_key(&e.key);
            let wanted = match fields {
                Some(fields) => fields.contains(&e.key.as_str()),
                None => settings::is_vault_setting(&e.key),
            };
            if !known && wanted {
                out.push(e);
            }
        }
        if let Some(fields) = fields {
            // A struct does not see vault settings unless it declares them, so that
            // `deny_unknown_fields` structs can live in a file that configures vaults.
            out.retain(|e| !settings::is_vault_setting(&e.key) || fields.contains(&e.key.as_str()));
        }
        out
    }

    /// Deserializes the settings into `T`, without resolving references: resolve them later
    /// with [`ResolveSecrets::resolve_secrets`], or call this inside [`Resolver::scope`].
    ///
    /// ```
    /// use secret_ref::{ResolveSecrets, Resolver, Secret, kong_conf::KongConf};
    /// use serde::Deserialize;
    ///
    /// #[derive(Deserialize, ResolveSecrets)]
    /// struct App { pg_port: u16, pg_password: Secret<String> }
    ///
    /// let conf = KongConf::parse("pg_port = 5432\npg_password = {vault://env/pg-password}")?;
    /// let mut app: App = conf.extract_unresolved()?;
    /// assert_eq!(app.pg_port, 5432);
    /// assert!(!app.pg_password.is_resolved());
    ///
    /// let resolver = Resolver::builder()
    ///     .vault("env", secret_ref::vault::env::EnvVault::from_vars([("PG_PASSWORD", "opensesame")]))
    ///     .build()?;
    /// app.resolve_secrets(&resolver)?;
    /// assert_eq!(app.pg_password.expose_secret(), "opensesame");
    /// # Ok::<(), secret_ref::Error>(())
    /// ```
    pub fn extract_unresolved<T: DeserializeOwned>(&self) -> Result<T, Error> {
        T::deserialize(de::ConfDeserializer { conf: self }).map_err(de::DeError::into_error)
    }

    /// A resolver with this configuration's vault settings (`vaults`, `vault_*`,
    /// `vault_prefixes`), starting from [`Resolver::builder`].
    pub fn resolver(&self) -> Result<Resolver, Error> {
        self.apply_to(Resolver::builder())?.build()
    }

    /// Applies this configuration's vault settings to a builder, so that backends of your
    /// own can be added too (before, so that the settings can configure them).
    ///
    /// ```
    /// use secret_ref::{Resolver, kong_conf::KongConf, vault::env::EnvVault};
    ///
    /// let conf = KongConf::parse("vault_secrets_prefix = APP_")?;
    /// let builder = Resolver::builder().vault("secrets", EnvVault::from_vars([("APP_KEY", "k")]));
    /// let resolver = conf.apply_to(builder)?.build()?;
    /// assert_eq!(resolver.get("{vault://secrets/key}")?.expose_secret(), "k");
    /// # Ok::<(), secret_ref::Error>(())
    /// ```
    pub fn apply_to(&self, builder: ResolverBuilder) -> Result<ResolverBuilder, Error> {
        settings::apply_to(self, builder)
    }

    /// How often the rotation runs: `vault_rotation_interval` (Kong's
    /// `KONG_VAULT_ROTATION_INTERVAL`), in seconds; 60 when unset, as in Kong.
    ///
    /// ```
    /// use std::time::Duration;
    /// use secret_ref::kong_conf::KongConf;
    ///
    /// let conf = KongConf::parse("vault_rotation_interval = 5")?;
    /// assert_eq!(conf.rotation_interval()?, Duration::from_secs(5));
    /// assert_eq!(KongConf::parse("")?.rotation_interval()?, Duration::from_secs(60));
    /// # Ok::<(), secret_ref::Error>(())
    /// ```
    pub fn rotation_interval(&self) -> Result<std::time::Duration, Error> {
        settings::rotation_interval(self)
    }

    /// Deserializes into `T` and resolves every reference with this configuration's vault
    /// settings ([`resolver`](KongConf::resolver)). Failures name the field, and where its
    /// value came from. See [`KongConf`] for an example.
    pub fn extract<T: DeserializeOwned + ResolveSecrets>(&self) -> Result<T, Error> {
        let resolver = self.resolver()?;
        self.extract_with(&resolver)
    }

    /// Like [`extract`](KongConf::extract), with a resolver of your own (the file's vault
    /// settings are then not applied, unless the resolver was built with
    /// [`apply_to`](KongConf::apply_to)).
    ///
    /// ```
    /// use secret_ref::kong_conf::KongConf;
    /// use secret_ref::vault::memory::MemoryVault;
    /// use secret_ref::{ErrorKind, ResolveSecrets, Resolver, Secret};
    /// use serde::Deserialize;
    ///
    /// #[derive(Debug, Deserialize, ResolveSecrets)]
    /// struct App { pg_password: Secret<String>, api_key: Secret<String> }
    ///
    /// let vault = MemoryVault::new();
    /// vault.set("pg", "opensesame");
    /// let resolver = Resolver::builder().vault("mem", vault).build()?;
    ///
    /// let conf = KongConf::parse("pg_password = {vault://mem/pg}\napi_key = {vault://mem/api}")?;
    /// let err = conf.extract_with::<App>(&resolver).unwrap_err();
    /// assert_eq!(err.failures()[0].path(), Some("api_key"));
    /// assert_eq!(err.kind(), ErrorKind::NotFound);
    ///
    /// let conf = KongConf::parse("pg_password = {vault://mem/pg}\napi_key = literal")?;
    /// let app: App = conf.extract_with(&resolver)?;
    /// assert_eq!(app.pg_password.expose_secret(), "opensesame");
    /// # Ok::<(), secret_ref::Error>(())
    /// ```
    pub fn extract_with<T: DeserializeOwned + ResolveSecrets>(
        &self,
        resolver: &Resolver,
    ) -> Result<T, Error> {
        let mut value: T = self.extract_unresolved()?;
        match value.resolve_secrets(resolver) {
            Ok(()) => Ok(value),
            Err(err) => Err(self.with_origins(err)),
        }
    }

    /// Adds to each failure the origin of the setting its path starts with.
    pub(crate) fn with_origins(&self, err: Error) -> Error {
        err.with_origins(|path| {
            let key = path.split(['.', '[']).next().unwrap_or(path);
            self.entry(key).map(|entry| entry.origin.to_string())
        })
    }

    /// The variables vaults read, when the loader was given a fixed environment.
    pub(crate) fn vault_env(&self) -> Option<&[(String, Zeroizing<String>)]> {
        self.vault_env.as_deref().map(Vec::as_slice)
    }

    fn push(&mut self, key: String, value: Zeroizing<String>, origin: Origin) {
        let entry = Entry { key, value, origin };
        match self.index.get(&entry.key) {
            Some(&i) => self.entries[i] = entry,
            None => {
                self.index.insert(entry.key.clone(), self.entries.len());
                self.entries.push(entry);
            }
        }
    }
}

/// Layers: defaults < files < environment, as Kong loads its own configuration.
///
/// Every layer is read by [`load`](Loader::load), which reports all problems at once: every
/// bad line of every file, and files that cannot be read.
///
/// ```
/// use secret_ref::kong_conf::Loader;
///
/// let conf = Loader::new()
///     .defaults("pg_host = 127.0.0.1\npg_port = 5432\npg_user = kong")
///     .text("kong.conf", "pg_port = 6432")
///     .env_prefix("KONG_")
///     .env_vars([("KONG_PG_USER", "app"), ("KONG_PG_PASSWORD", "{vault://env/pg}")])
///     .load()?;
/// assert_eq!(conf.get("pg_host"), Some("127.0.0.1"));
/// assert_eq!(conf.get("pg_port"), Some("6432"));
/// assert_eq!(conf.get("pg_user"), Some("app"));
/// assert_eq!(conf.entry("pg_user").unwrap().origin().to_string(), "env KONG_PG_USER");
/// assert_eq!(conf.entry("pg_port").unwrap().origin().to_string(), "kong.conf line 1");
/// # Ok::<(), secret_ref::Error>(())
/// ```
#[derive(Default)]
pub struct Loader {
    layers: Vec<Layer>,
    env_prefix: Option<String>,
    env: Option<Vars>,
}

enum Layer {
    Text { name: Arc<str>, text: String },
    File(PathBuf),
}

impl Loader {
    /// No layers yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Default settings (named `defaults` in errors), such as Kong's `kong_defaults.conf`.
    pub fn defaults(self, text: &str) -> Self {
        self.text("defaults", text)
    }

    /// A layer of kong.conf text, named `name` in errors.
    pub fn text(mut self, name: &str, text: &str) -> Self {
        self.layers.push(Layer::Text {
            name: name.into(),
            text: text.to_owned(),
        });
        self
    }

    /// A kong.conf file, read by [`load`](Loader::load).
    pub fn file(mut self, path: impl AsRef<Path>) -> Self {
        self.layers.push(Layer::File(path.as_ref().to_owned()));
        self
    }

    /// Environment variables named `<prefix><UPPER(key)>` override settings, as
    /// `KONG_PG_PASSWORD` overrides `pg_password` (Kong's prefix is `KONG_`). As in Kong, no
    /// comment is stripped from their values (`#` is a `#`), but whitespace at either end is
    /// ([`value::trim`]).
    ///
    /// ```
    /// use secret_ref::kong_conf::Loader;
    ///
    /// let conf = Loader::new()
    ///     .env_prefix("APP_")
    ///     .env_vars([("APP_PG_USER", " app #1\n"), ("OTHER_PG_USER", "ignored")])
    ///     .load()?;
    /// assert_eq!(conf.get("pg_user"), Some("app #1"));
    /// # Ok::<(), secret_ref::Error>(())
    /// ```
    pub fn env_prefix(mut self, prefix: &str) -> Self {
        self.env_prefix = Some(prefix.to_owned());
        self
    }

    /// Reads these variables instead of the process environment, for the overrides and for
    /// the `env` vault of [`KongConf::resolver`] (for tests, mostly).
    pub fn env_vars<K: Into<String>, V: Into<String>>(
        mut self,
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.env = Some(
            vars.into_iter()
                .map(|(k, v)| (k.into(), Zeroizing::new(v.into())))
                .collect(),
        );
        self
    }

    /// Reads every layer.
    pub fn load(self) -> Result<KongConf, Error> {
        let mut conf = KongConf::default();
        let mut failures = Vec::new();
        for layer in self.layers {
            let (name, text) = match layer {
                Layer::Text { name, text } => (name, Zeroizing::new(text)),
                Layer::File(path) => match read_text(&path) {
                    Ok(text) => (Arc::from(path.display().to_string()), text),
                    Err(e) => {
                        failures.push(
                            Failure::new(
                                ErrorKind::Other,
                                format!("cannot read {}: {e}", path.display()),
                            )
                            .with_source(Arc::new(e)),
                        );
                        continue;
                    }
                },
            };
            match parse::parse(&name, &text) {
                Ok(lines) => {
                    for line in lines {
                        let origin = Origin::Line {
                            name: name.clone(),
                            line: line.number,
                        };
                        conf.push(line.key, line.value, origin);
                    }
                }
                Err(mut bad) => failures.append(&mut bad),
            }
        }
        if !failures.is_empty() {
            return Err(Error::from_failures(failures));
        }

        if let Some(prefix) = &self.env_prefix {
            let mut add = |var: &str, text: &str| {
                if let Some(rest) = var.strip_prefix(prefix.as_str())
                    && !rest.is_empty()
                {
                    let key = parse::normalize_key(&rest.to_ascii_lowercase());
                    let entry = Entry {
                        key: key.clone(),
                        // Kong strips every value, an environment variable's too.
                        value: Zeroizing::new(value::trim(text).to_owned()),
                        origin: Origin::Env {
                            var: var.to_owned(),
                        },
                    };
                    match conf.env_index.get(&key) {
                        Some(&i) => conf.env[i] = entry,
                        None => {
                            conf.env_index.insert(key, conf.env.len());
                            conf.env.push(entry);
                        }
                    }
                }
            };
            match &self.env {
                Some(vars) => vars.iter().for_each(|(k, v)| add(k, v)),
                None => {
                    for (k, v) in std::env::vars_os() {
                        // Names and values that are not Unicode cannot be settings.
                        if let (Some(k), Some(v)) = (k.to_str(), v.to_str()) {
                            add(k, v);
                        }
                    }
                }
            }
        }
        conf.vault_env = self.env.map(Arc::new);
        Ok(conf)
    }
}
