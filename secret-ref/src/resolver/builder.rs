//! `ResolverBuilder`: which vaults, their settings, named vaults, limits and hooks.

use std::sync::{Arc, Mutex};

use hashbrown::HashMap;
use zeroize::Zeroizing;

use super::{
    Backend, ChangeHook, DEFAULT_CONCURRENCY, Effective, Inner, Named, Resolver, WarningHook,
};
use crate::cache::Cache;
use crate::clock::{Clock, SystemClock};
use crate::error::{Error, ErrorKind, Failure};
use crate::rotation::Change;
use crate::vault::env::EnvVault;
use crate::vault::{self, OptionClass, Vault, VaultConfig};

/// Builds a [`Resolver`]: which vaults, their settings, and named vaults.
///
/// Errors are collected and reported together by [`build`](ResolverBuilder::build).
///
/// ```
/// use secret_ref::Resolver;
/// use secret_ref::vault::env::EnvVault;
///
/// let resolver = Resolver::builder()
///     .vault("env", EnvVault::from_vars([("SSL_CERT", "pem"), ("APP_TOKEN", "t")]))
///     // `{vault://ssl/cert}` reads SSL_CERT, like a Kong vault entity with a prefix.
///     .named_vault("ssl", "env", [("prefix", "SSL_")])
///     .named_vault("app", "env", [("prefix", "APP_")])
///     .build()?;
/// assert_eq!(resolver.get("{vault://ssl/cert}")?.expose_secret(), "pem");
/// assert_eq!(resolver.get("{vault://app/token}")?.expose_secret(), "t");
///
/// let err = Resolver::builder().named_vault("env", "env", [("prefix", "X_")]).build().unwrap_err();
/// assert!(err.to_string().contains("`env` is already a vault name"));
/// # Ok::<(), secret_ref::Error>(())
/// ```
pub struct ResolverBuilder {
    backends: Vec<(String, Arc<dyn Vault>)>,
    settings: Vec<(String, String, Zeroizing<String>)>,
    named: Vec<(String, String, VaultConfig)>,
    concurrency: usize,
    reference_classes: u8,
    max_file_size: u64,
    cache_capacity: usize,
    clock: Arc<dyn Clock>,
    on_warning: Option<WarningHook>,
    on_change: Option<ChangeHook>,
}

impl ResolverBuilder {
    /// The bundled vaults: `env`, and those compiled in by features. Constructing them does
    /// no I/O, so a resolver that never uses a vault pays nothing for it.
    pub(super) fn new() -> Self {
        let bundled: [Option<(&str, Arc<dyn Vault>)>; 7] = [
            Some(("env", Arc::new(EnvVault::new()))),
            #[cfg(feature = "fs")]
            Some(("fs", Arc::new(crate::vault::fs::FsVault::new()))),
            #[cfg(not(feature = "fs"))]
            None,
            #[cfg(feature = "hcv")]
            Some(("hcv", Arc::new(crate::vault::hcv::HcvVault::new()))),
            #[cfg(not(feature = "hcv"))]
            None,
            #[cfg(feature = "aws")]
            Some(("aws", Arc::new(crate::vault::aws::AwsVault::new()))),
            #[cfg(not(feature = "aws"))]
            None,
            #[cfg(feature = "azure")]
            Some(("azure", Arc::new(crate::vault::azure::AzureVault::new()))),
            #[cfg(not(feature = "azure"))]
            None,
            #[cfg(feature = "conjur")]
            Some(("conjur", Arc::new(crate::vault::conjur::ConjurVault::new()))),
            #[cfg(not(feature = "conjur"))]
            None,
            #[cfg(feature = "gcp")]
            Some(("gcp", Arc::new(crate::vault::gcp::GcpVault::new()))),
            #[cfg(not(feature = "gcp"))]
            None,
        ];
        let backends = bundled
            .into_iter()
            .flatten()
            .map(|(name, vault)| (name.to_owned(), vault))
            .collect();
        ResolverBuilder {
            backends,
            settings: Vec::new(),
            named: Vec::new(),
            concurrency: DEFAULT_CONCURRENCY,
            reference_classes: OptionClass::ALL
                .iter()
                .filter(|c| c.allowed_in_references())
                .fold(0, |bits, c| bits | c.bit()),
            max_file_size: crate::vault::DEFAULT_MAX_FILE_SIZE,
            cache_capacity: crate::cache::DEFAULT_CAPACITY,
            clock: Arc::new(SystemClock),
            on_warning: None,
            on_change: None,
        }
    }

    /// Called each time the rotation (or a refresh) gives a [`Live`](crate::Live) secret a
    /// new value: one call per live secret, with its reference. For the whole configuration,
    /// where [`Live::subscribe`](crate::Live::subscribe) is per secret. The hook runs for
    /// every secret a vault change touched before any subscriber is woken, outside every
    /// lock; a panic in it is caught and reported as a warning.
    pub fn on_change(mut self, hook: impl Fn(&Change) + Send + Sync + 'static) -> Self {
        self.on_change = Some(Arc::new(hook));
        self
    }

    /// How many remote secrets one resolution fetches at once (default 8). Distinct secrets
    /// are fetched concurrently, each by one request however many references use it.
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// Lets references set options of these classes too, beyond selectors and tuning: Kong's
    /// permissive behaviour, for deployments whose configuration authors may already choose
    /// where credentials go. Each class widens what a configuration string can do with the
    /// resolver's credentials; see [`OptionClass`].
    ///
    /// ```
    /// use secret_ref::Resolver;
    /// use secret_ref::vault::OptionClass;
    /// use secret_ref::vault::env::EnvVault;
    ///
    /// let env = || EnvVault::from_vars([("SSL_CERT", "pem")]);
    /// // `prefix` is a selector: allowed by default.
    /// let strict = Resolver::builder().vault("env", env()).build()?;
    /// assert!(strict.get("{vault://env/cert?prefix=SSL_}").is_ok());
    ///
    /// // Everything, as Kong: only where every configuration author is trusted.
    /// let kong = Resolver::builder()
    ///     .vault("env", env())
    ///     .allow_in_references(OptionClass::ALL)
    ///     .build()?;
    /// assert!(kong.get("{vault://env/cert?prefix=SSL_}").is_ok());
    /// # Ok::<(), secret_ref::Error>(())
    /// ```
    pub fn allow_in_references(mut self, classes: impl IntoIterator<Item = OptionClass>) -> Self {
        for class in classes {
            self.reference_classes |= class.bit();
        }
        self
    }

    /// How many distinct secrets (and failures) the cache keeps, and the bound of every
    /// other cache the resolver and its backends hold (logins, HTTP agents, AWS credential
    /// providers). Past it, the least recently used go, except secrets that live secrets
    /// follow. The default, 1,000, is Kong's per-worker cache; a configuration rarely names
    /// more than a few dozen secrets.
    pub fn cache_capacity(mut self, entries: usize) -> Self {
        self.cache_capacity = entries.max(1);
        self
    }

    /// The clock the cache and the rotation read (the system's by default): a
    /// [`ManualClock`](crate::clock::ManualClock) makes `ttl`, `neg_ttl` and
    /// `resurrect_ttl` testable without sleeping.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use secret_ref::clock::ManualClock;
    /// use secret_ref::Resolver;
    ///
    /// let clock = Arc::new(ManualClock::new());
    /// let resolver = Resolver::builder().clock(clock.clone()).build()?;
    /// clock.advance(Duration::from_secs(60)); // every ttl of `resolver` is a minute closer
    /// # Ok::<(), secret_ref::Error>(())
    /// ```
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The largest file a backend reads, in bytes (default 1 MiB): an `fs` secret, a
    /// `ca_cert`, a token file. A larger file is refused, not truncated, so a setting that
    /// names `/dev/zero` or a log file cannot exhaust memory.
    pub fn max_file_size(mut self, bytes: u64) -> Self {
        self.max_file_size = bytes;
        self
    }

    /// Called when a vault fails but a previous value is served instead (within
    /// `resurrect_ttl`), with the failure: the resolution itself succeeds.
    pub fn on_warning(mut self, hook: impl Fn(&Failure) + Send + Sync + 'static) -> Self {
        self.on_warning = Some(Arc::new(hook));
        self
    }

    /// Registers a backend under `name` (replacing any backend of that name).
    pub fn vault(mut self, name: impl Into<String>, vault: impl Vault) -> Self {
        let name = name.into();
        self.backends.retain(|(n, _)| *n != name);
        self.backends.push((name, Arc::new(vault)));
        self
    }

    /// The registered backends, by name.
    pub(crate) fn backends(&self) -> impl Iterator<Item = (&str, &Arc<dyn Vault>)> {
        self.backends.iter().map(|(n, v)| (n.as_str(), v))
    }

    /// Removes a backend, as leaving it out of Kong's `vaults` setting does.
    pub fn without_vault(mut self, name: &str) -> Self {
        self.backends.retain(|(n, _)| n != name);
        self
    }

    /// Sets a backend option, as kong.conf's `vault_<name>_<option>` does
    /// (`.configure("env", "prefix", "SECRETS_")` is `vault_env_prefix = SECRETS_`).
    pub fn configure(
        mut self,
        vault: impl Into<String>,
        option: impl Into<String>,
        value: impl Into<String>,
    ) -> Self {
        self.settings
            .push((vault.into(), option.into(), Zeroizing::new(value.into())));
        self
    }

    /// Declares a named vault, as Kong's vault entities do: `{vault://<prefix>/...}` then
    /// means the backend `backend` with `config` (not merged with the backend's own settings).
    /// A prefix is lowercase letters, digits and `-`, starts with a letter, does not end with
    /// `-`, and is not a backend name.
    pub fn named_vault<K: Into<String>, V: Into<String>>(
        mut self,
        prefix: impl Into<String>,
        backend: impl Into<String>,
        config: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.named
            .push((prefix.into(), backend.into(), config.into_iter().collect()));
        self
    }

    /// Checks everything and builds the resolver.
    pub fn build(self) -> Result<Resolver, Error> {
        let mut failures = Vec::new();
        let mut configs: HashMap<String, (Arc<dyn Vault>, VaultConfig)> = self
            .backends
            .into_iter()
            .map(|(name, vault)| {
                // Every scrubber learns which of this backend's options it may show.
                crate::redact::declare_options(vault.options());
                (name, (vault, VaultConfig::new()))
            })
            .collect();

        for (vault, option, mut value) in self.settings {
            let Some((backend_vault, config)) = configs.get_mut(&vault) else {
                failures.push(
                    Failure::new(
                        ErrorKind::UnknownVault,
                        format!(
                            "cannot configure `{option}` of vault `{vault}`: no such vault{}",
                            crate::vault::not_built(&vault)
                        ),
                    )
                    .with_vault(&vault),
                );
                continue;
            };
            if !vault::accepts(backend_vault.as_ref(), &option) {
                failures.push(
                    Failure::from_vault(vault::unknown_option(
                        &vault,
                        backend_vault.as_ref(),
                        &option,
                    ))
                    .with_vault(&vault),
                );
                continue;
            }
            // Moved, not copied: the builder's copy is wiped as it goes.
            config.set(option, std::mem::take(&mut *value));
        }
        // Every installed backend, whether its settings are valid or not, for the named
        // vaults' checks (so that one bad setting is reported once, not once per named vault).
        let installed: HashMap<String, Arc<dyn Vault>> = configs
            .iter()
            .map(|(name, (vault, _))| (name.clone(), vault.clone()))
            .collect();
        let mut backends: HashMap<String, Backend> = HashMap::new();
        for (name, (vault, config)) in configs {
            match Effective::new(&name, vault.as_ref(), config) {
                Ok(effective) => {
                    backends.insert(
                        name,
                        Backend {
                            vault,
                            config: Arc::new(effective),
                        },
                    );
                }
                Err(e) => failures.push(Failure::from_vault(e).with_vault(&name)),
            }
        }

        let mut named = HashMap::new();
        for (prefix, backend, config) in self.named {
            let problem = if !valid_prefix(&prefix) {
                Some(format!(
                    "vault prefix `{prefix}` is not valid: use lowercase letters, digits and \
                     `-`, starting with a letter and not ending with `-`"
                ))
            } else if installed.contains_key(&prefix) {
                Some(format!(
                    "vault prefix `{prefix}`: `{prefix}` is already a vault name"
                ))
            } else if named.contains_key(&prefix) {
                Some(format!("vault prefix `{prefix}` is declared twice"))
            } else {
                None
            };
            if let Some(message) = problem {
                failures.push(Failure::new(ErrorKind::InvalidConfig, message).with_vault(&prefix));
                continue;
            }
            let Some(b) = installed.get(&backend) else {
                failures.push(
                    Failure::new(
                        ErrorKind::UnknownVault,
                        format!(
                            "vault prefix `{prefix}` uses vault `{backend}`, which is not \
                             installed{}",
                            crate::vault::not_built(&backend)
                        ),
                    )
                    .with_vault(&prefix),
                );
                continue;
            };
            let unknown: Vec<&str> = config
                .iter()
                .map(|(k, _)| k)
                .filter(|k| !vault::accepts(b.as_ref(), k))
                .collect();
            if let Some(option) = unknown.first() {
                failures.push(
                    Failure::from_vault(vault::unknown_option(&backend, b.as_ref(), option))
                        .with_vault(&prefix),
                );
                continue;
            }
            match Effective::new(&backend, b.as_ref(), config) {
                Ok(effective) => {
                    named.insert(
                        prefix,
                        Named {
                            backend,
                            config: Arc::new(effective),
                        },
                    );
                }
                Err(e) => failures.push(Failure::from_vault(e).with_vault(&prefix)),
            }
        }

        if !failures.is_empty() {
            return Err(Error::from_failures(failures));
        }
        Ok(Resolver {
            inner: Arc::new(Inner {
                backends,
                named,
                cache: Cache::new(self.cache_capacity, self.clock),
                cache_capacity: self.cache_capacity,
                concurrency: self.concurrency,
                reference_classes: self.reference_classes,
                warned: Mutex::new(Vec::new()),
                max_file_size: self.max_file_size,
                on_warning: self.on_warning,
                on_change: self.on_change,
                groups: Mutex::new(HashMap::new()),
                pool: super::pool::Pool::new(self.concurrency),
            }),
        })
    }
}

/// Kong's vault entity prefix: `^[a-z][a-z%d-]-[a-z%d]+$`.
fn valid_prefix(prefix: &str) -> bool {
    let b = prefix.as_bytes();
    b.len() >= 2
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[b.len() - 1] != b'-'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes() {
        for ok in ["my-env", "ab", "a1", "test-env"] {
            assert!(valid_prefix(ok), "{ok}");
        }
        for bad in ["a", "my-", "1a", "My", "a_b", ""] {
            assert!(!valid_prefix(bad), "{bad}");
        }
    }
}
