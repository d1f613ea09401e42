//! The resolver: finds each reference's vault, fetches each distinct secret once, converts it
//! into the field's type and reports every failure with its field path.

//!
//! Split by concern: [`fetch`] (one resolution), [`watch`] (live secrets and hooks),
//! [`builder`], [`scope`] and [`rotation`].

use std::borrow::Cow;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hashbrown::HashMap;

use crate::cache::{Cache, Text, Ttls};
use crate::digest::{Digest, DigestWriter};
use crate::error::{Error, Failure, VaultError};
use crate::live::Group;
use crate::reference::{RefView, Reference};
use crate::resolve::ResolveSecrets;
use crate::secret::Secret;
use crate::vault::{Vault, VaultConfig};

mod builder;
mod fetch;
mod nonblocking;
mod pool;
pub(crate) mod rotation;
mod scope;
mod watch;

pub use builder::ResolverBuilder;
pub use nonblocking::Resolving;
use rotation::Change;
pub(crate) use rotation::DEFAULT_INTERVAL as DEFAULT_ROTATION_INTERVAL;

/// Remote secrets fetched at once by one resolution, unless configured otherwise.
const DEFAULT_CONCURRENCY: usize = 8;

/// Resolves references: a set of vault backends, their settings, named vaults, and a cache
/// of what remote vaults returned.
///
/// A resolver is cheap to clone (clones share backends and cache) and can be shared across
/// threads.
///
/// ```
/// use secret_ref::Resolver;
///
/// use secret_ref::vault::memory::MemoryVault;
///
/// let vault = MemoryVault::new();
/// vault.set("api-token", "t0k3n");
/// // `env` (the process environment) is built in; more vaults plug in.
/// let resolver = Resolver::builder().vault("mem", vault).build()?;
/// let token = resolver.get("{vault://mem/api-token}")?;
/// assert_eq!(token.expose_secret(), "t0k3n");
/// # Ok::<(), secret_ref::Error>(())
/// ```
#[derive(Clone)]
pub struct Resolver {
    inner: Arc<Inner>,
}

struct Inner {
    backends: HashMap<String, Backend>,
    named: HashMap<String, Named>,
    cache: Cache<FetchKey, Arc<Effective>>,
    concurrency: usize,
    cache_capacity: usize,
    /// The option classes a reference may set, as [`OptionClass::bit`]s.
    reference_classes: u8,
    /// The insecure settings already reported, by vault name: each is reported once.
    warned: Mutex<Vec<(Box<str>, &'static str)>>,
    max_file_size: u64,
    on_warning: Option<WarningHook>,
    on_change: Option<ChangeHook>,
    /// The live secrets that follow each cached secret, as groups updated together; a
    /// group whose live secrets are all dropped is forgotten when another is added.
    groups: Mutex<HashMap<FetchKey, Arc<Group>>>,
    /// The threads the async API fetches on, started when it is first used.
    pool: pool::Pool,
}

/// Called when the rotation (or a refresh) changes the value of a live secret.
type ChangeHook = Arc<dyn Fn(&Change) + Send + Sync>;

/// What a remote fetch gave: the secret's whole text, shared by every reference to it.
type Fetched = Result<Text, VaultError>;

/// A fetch's outcome in one resolution.
#[derive(Clone)]
struct Fetch {
    result: Fetched,
    /// The failure that a resurrected value hides.
    resurrected: Option<VaultError>,
    /// Whether the vault was asked (false: from the cache).
    fetched: bool,
    duration: Duration,
}

/// Called with each failure that was papered over by serving a previous value.
type WarningHook = Arc<dyn Fn(&Failure) + Send + Sync>;

/// The remote results of one resolution (a `resolve` call, or a whole `scope`), so that a
/// secret is fetched once per resolution even when the cache does not keep failures.
#[derive(Default)]
pub(crate) struct Memo {
    results: HashMap<FetchKey, Fetched>,
    /// Fetches made ahead of the resolution, off the caller's thread (the async API): the
    /// resolution reads them instead of asking the vaults, and reports them as its own.
    prefetched: HashMap<FetchKey, Fetch>,
}

struct Backend {
    vault: Arc<dyn Vault>,
    config: Arc<Effective>,
}

struct Named {
    backend: String,
    config: Arc<Effective>,
}

/// A vault's effective configuration (its settings, overridden by a reference's options),
/// with what the resolver reads from it parsed once, when it is checked.
pub(crate) struct Effective {
    config: VaultConfig,
    ttls: Ttls,
    /// Names the configuration in cache keys without holding its credentials.
    digest: Digest,
}

impl Effective {
    fn new(backend: &str, vault: &dyn Vault, config: VaultConfig) -> Result<Self, VaultError> {
        vault.check_config(&config)?;
        let ttls = Ttls::from_config(&config)?;
        let mut digest = DigestWriter::new();
        digest.part(backend.as_bytes());
        for (name, value) in config.iter() {
            digest.part(name.as_bytes()).part(value.as_bytes());
        }
        Ok(Effective {
            digest: digest.finish(),
            config,
            ttls,
        })
    }
}

/// Identifies one fetch: remote secrets with equal keys are fetched once. The configuration
/// is named by its keyed digest, so that caches and memos hold no credential.
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) struct FetchKey {
    backend: Box<str>,
    config: Digest,
    resource: Box<str>,
    version: Option<u32>,
}

impl FetchKey {
    /// How events and warnings name a cached secret, which several references may share:
    /// `{vault://<backend>/<resource>#<version>}`.
    fn label(&self) -> String {
        match self.version {
            Some(v) => format!("{{vault://{}/{}#{v}}}", self.backend, self.resource),
            None => format!("{{vault://{}/{}}}", self.backend, self.resource),
        }
    }
}

/// Where a reference goes: its backend and the effective configuration.
struct Target<'r> {
    backend: &'r str,
    vault: &'r Arc<dyn Vault>,
    config: Cow<'r, Arc<Effective>>,
}

impl Target<'_> {
    fn key(&self, r: &RefView<'_>) -> FetchKey {
        FetchKey {
            backend: self.backend.into(),
            config: self.config.digest,
            resource: r.resource().into(),
            version: r.version(),
        }
    }
}

impl Default for Resolver {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Resolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut backends: Vec<_> = self.inner.backends.keys().collect();
        backends.sort();
        let mut named: Vec<_> = self.inner.named.keys().collect();
        named.sort();
        f.debug_struct("Resolver")
            .field("vaults", &backends)
            .field("named_vaults", &named)
            .finish_non_exhaustive()
    }
}

impl Resolver {
    /// A resolver with the bundled vaults (`env`, and any compiled in by features) in their
    /// default settings.
    pub fn new() -> Self {
        Resolver::builder()
            .build()
            .expect("default settings are valid")
    }

    /// Configures a resolver: backends, their settings and named vaults.
    pub fn builder() -> ResolverBuilder {
        ResolverBuilder::new()
    }

    /// Resolves one reference to its text.
    ///
    /// ```
    /// use secret_ref::{ErrorKind, Resolver};
    ///
    /// let err = Resolver::new().get("{vault://env/doc-surely-unset}").unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::NotFound);
    /// assert_eq!(
    ///     err.to_string(),
    ///     "{vault://env/doc-surely-unset} (vault `env`): environment variable DOC_SURELY_UNSET is not set"
    /// );
    /// ```
    pub fn get(&self, reference: &str) -> Result<Secret<String>, Error> {
        let mut secret = Secret::from_reference(Reference::parse(reference)?);
        self.resolve(&mut secret)?;
        Ok(secret)
    }

    /// Resolves every unresolved secret in `value`, reporting all failures in one error,
    /// each with its field path. Secrets that resolve are filled in even when others fail.
    ///
    /// Identical fetches (same vault, configuration, resource and version) happen once, so
    /// `{vault://hcv/pg/user}` and `{vault://hcv/pg/password}` cost one request. Remote
    /// secrets come from the cache while their `ttl` lasts.
    pub fn resolve<T: ResolveSecrets + ?Sized>(&self, value: &mut T) -> Result<(), Error> {
        self.resolve_with(value, &mut Memo::default(), false)
    }

    /// Fetches every secret of `value` again, bypassing the cache, and updates them (and every
    /// [`Live`](crate::Live) secret that follows the same vault secrets). For when a value is
    /// known to be stale: a database just refused the password.
    pub fn refresh<T: ResolveSecrets + ?Sized>(&self, value: &mut T) -> Result<(), Error> {
        self.resolve_with(value, &mut Memo::default(), true)
    }

    /// Kong's `kong.vault.try`: runs `f` with the current values; if it fails, refreshes the
    /// secrets of `value` from their vaults and runs `f` once more, returning that result.
    /// A refresh that fails is reported to [`ResolverBuilder::on_warning`]; `f` still runs.
    ///
    /// ```
    /// use secret_ref::vault::memory::MemoryVault;
    /// use secret_ref::{Resolver, ResolveSecrets, Secret};
    /// use serde::Deserialize;
    ///
    /// #[derive(Deserialize, ResolveSecrets)]
    /// struct Db { password: Secret<String> }
    ///
    /// let vault = MemoryVault::new();
    /// vault.set("db", "old");
    /// let resolver = Resolver::builder().vault("v", vault.clone()).build()?;
    /// let mut db: Db = resolver.scope(|| serde_json::from_str(r#"{"password": "{vault://v/db}"}"#))?;
    ///
    /// vault.set("db", "new");   // rotated behind our back
    /// let mut attempts = 0;
    /// let session = resolver.retry(&mut db, |db| {
    ///     attempts += 1;
    ///     // The database accepts only the rotated password.
    ///     if db.password.expose_secret() == "new" { Ok("connected") } else { Err("auth failed") }
    /// });
    /// assert_eq!((session, attempts), (Ok("connected"), 2));
    /// # Ok::<(), secret_ref::Error>(())
    /// ```
    pub fn retry<T, R, E>(
        &self,
        value: &mut T,
        mut f: impl FnMut(&T) -> Result<R, E>,
    ) -> Result<R, E>
    where
        T: ResolveSecrets + ?Sized,
    {
        match f(value) {
            Ok(r) => Ok(r),
            Err(_) => {
                if let Err(err) = self.refresh(value) {
                    err.failures().iter().for_each(|f| self.warn(f));
                }
                f(value)
            }
        }
    }

    /// Forgets every cached secret and failure: the next resolution asks the vaults again.
    pub fn clear_cache(&self) {
        self.inner.cache.clear();
    }
}

impl<T: crate::SecretValue + serde::de::DeserializeOwned> Secret<T> {
    /// Resolves this one secret; see [`Resolver::resolve`].
    ///
    /// ```
    /// use secret_ref::{Resolver, Secret};
    /// use secret_ref::vault::env::EnvVault;
    ///
    /// let resolver = Resolver::builder().vault("env", EnvVault::from_vars([("PG_PORT", "5432")])).build()?;
    /// let mut port: Secret<u16> = Secret::from_reference("{vault://env/pg-port}".parse()?);
    /// port.resolve(&resolver)?;
    /// assert_eq!(*port.expose_secret(), 5432);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn resolve(&mut self, resolver: &Resolver) -> Result<(), Error> {
        resolver.resolve(self)
    }
}
