//! The `memory` vault: secrets held in the process, set and changed by the code that owns
//! the vault. For tests, doctests and examples: no environment variable to set (which is
//! `unsafe` and process-wide), no hand-written [`Vault`] to repeat in every test file.
//!
//! A [`MemoryVault`] is a shared handle: register a clone with
//! [`ResolverBuilder::vault`](crate::ResolverBuilder::vault) and keep one to change what the
//! vault answers ([`set`](MemoryVault::set), [`unset`](MemoryVault::unset),
//! [`fail`](MemoryVault::fail)) and to count what it was asked
//! ([`fetches`](MemoryVault::fetches)).
//!
//! ```
//! use secret_ref::vault::memory::MemoryVault;
//! use secret_ref::{ResolveSecrets, Resolver, Secret};
//! use serde::Deserialize;
//!
//! #[derive(Deserialize, ResolveSecrets)]
//! struct Config {
//!     pg_password: Secret<String>,
//!     pg_port: Secret<u16>,
//! }
//!
//! let vault = MemoryVault::new();
//! vault.set("pg", r#"{"password": "opensesame", "port": 5432}"#);
//! let resolver = Resolver::builder().vault("mem", vault.clone()).build()?;
//!
//! let config: Config = resolver.scope(|| {
//!     serde_json::from_str(r#"{
//!         "pg_password": "{vault://mem/pg/password}",
//!         "pg_port": "{vault://mem/pg/port}"
//!     }"#)
//! })?;
//! assert_eq!(config.pg_password.expose_secret(), "opensesame");
//! assert_eq!(*config.pg_port.expose_secret(), 5432);
//! // Two references, one secret: the vault was asked once.
//! assert_eq!(vault.fetches_of("pg"), 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use zeroize::Zeroizing;

use super::{Request, Vault, VaultOption};
use crate::error::VaultError;

/// How many versions of a secret the vault keeps, as HashiCorp Vault's KV v2 keeps 10 by
/// default: a test that sets a secret in a loop (a soak, a rotation) stays bounded.
pub const MAX_VERSIONS: usize = 10;

/// How many distinct resources [`MemoryVault::fetches_of`] counts. Past it, fetches of new
/// names are still counted by [`MemoryVault::fetches`] but not by name, so a test that asks
/// for millions of distinct names keeps the vault bounded.
pub const MAX_COUNTED: usize = 10_000;

/// An in-memory vault whose secrets, failures and fetch counts the test controls.
///
/// - [`set`](MemoryVault::set) stores a new version of a secret, as a KV v2 store does:
///   `{vault://mem/db}` reads the latest, `{vault://mem/db#1}` the first.
/// - [`unset`](MemoryVault::unset) removes it: fetches are then
///   [`ErrorKind::NotFound`](crate::ErrorKind::NotFound).
/// - [`fail`](MemoryVault::fail) makes fetches of one secret fail with a chosen error, and
///   [`fail_all`](MemoryVault::fail_all) every fetch (the vault is down), until
///   [`recover`](MemoryVault::recover) or [`recover_all`](MemoryVault::recover_all).
/// - [`fetches`](MemoryVault::fetches) and [`fetches_of`](MemoryVault::fetches_of) count
///   what the resolver asked, failures included, so a test can tell a cache hit from a fetch.
///
/// It is [remote](Vault::is_remote) by default, like `hcv` and `aws`: the resolver caches its
/// answers (`ttl`, `neg_ttl`, `resurrect_ttl`), fetches distinct secrets concurrently and
/// each secret once however many references name it. [`local`](MemoryVault::local) makes it
/// behave like `env`: asked on every resolution.
///
/// Values are held in zeroizing storage and wiped when replaced, removed or dropped; `Debug`
/// shows the names of the secrets, never their values. Clones share everything.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use secret_ref::clock::ManualClock;
/// use secret_ref::vault::memory::MemoryVault;
/// use secret_ref::{ErrorKind, Resolver, VaultError};
///
/// let vault = MemoryVault::new();
/// vault.set("token", "t1");
/// let clock = Arc::new(ManualClock::new());
/// let resolver = Resolver::builder()
///     .vault("mem", vault.clone())
///     .configure("mem", "ttl", "60")
///     .clock(clock.clone())
///     .build()?;
///
/// assert_eq!(resolver.get("{vault://mem/token}")?.expose_secret(), "t1");
/// vault.set("token", "t2");
/// // Within the ttl the cached value is served: no fetch.
/// assert_eq!(resolver.get("{vault://mem/token}")?.expose_secret(), "t1");
/// assert_eq!(vault.fetches(), 1);
/// // Versions stay readable.
/// assert_eq!(resolver.get("{vault://mem/token#1}")?.expose_secret(), "t1");
///
/// vault.fail("token", VaultError::unreachable("connection refused"));
/// clock.advance(Duration::from_secs(61));
/// let err = resolver.get("{vault://mem/token}").unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::Unreachable);
///
/// vault.recover("token");
/// resolver.clear_cache();
/// assert_eq!(resolver.get("{vault://mem/token}")?.expose_secret(), "t2");
/// assert_eq!(format!("{vault:?}"), r#"MemoryVault { remote: true, secrets: ["token"], failing: [], fetches: 4 }"#);
/// # Ok::<(), secret_ref::Error>(())
/// ```
#[derive(Clone)]
pub struct MemoryVault {
    shared: Arc<Mutex<State>>,
    remote: bool,
    options: &'static [VaultOption],
}

#[derive(Default)]
struct State {
    /// Each secret's versions, oldest first: `(version, value)`, at most [`MAX_VERSIONS`].
    secrets: BTreeMap<Box<str>, VecDeque<(u32, Zeroizing<String>)>>,
    /// The last version number each name was given, so that a secret set again after
    /// [`MemoryVault::unset`] does not reuse the numbers of the values it had.
    last_version: BTreeMap<Box<str>, u32>,
    failing: BTreeMap<Box<str>, VaultError>,
    down: Option<VaultError>,
    fetches: usize,
    fetches_by_name: HashMap<Box<str>, usize>,
}

impl Default for MemoryVault {
    fn default() -> Self {
        MemoryVault::new()
    }
}

impl MemoryVault {
    /// An empty remote vault.
    pub fn new() -> Self {
        MemoryVault {
            shared: Arc::default(),
            remote: true,
            options: &[],
        }
    }

    /// The same vault, but local: the resolver asks it on every resolution instead of
    /// caching its answers, as it does the `env` vault (unless a reference or a setting gives
    /// a `ttl`).
    ///
    /// ```
    /// use secret_ref::Resolver;
    /// use secret_ref::vault::memory::MemoryVault;
    ///
    /// let vault = MemoryVault::new().local();
    /// vault.set("x", "1");
    /// let resolver = Resolver::builder().vault("mem", vault.clone()).build()?;
    /// resolver.get("{vault://mem/x}")?;
    /// vault.set("x", "2");
    /// assert_eq!(resolver.get("{vault://mem/x}")?.expose_secret(), "2");
    /// assert_eq!(vault.fetches(), 2);
    /// # Ok::<(), secret_ref::Error>(())
    /// ```
    pub fn local(mut self) -> Self {
        self.remote = false;
        self
    }

    /// The same vault, accepting these options (besides the common `ttl`, `neg_ttl` and
    /// `resurrect_ttl`), in settings and, by their [class](super::OptionClass), in
    /// references. Their values change nothing in what the vault answers; declaring them lets
    /// a test check how the resolver treats options: which a reference may set, which are
    /// scrubbed from messages, that distinct selectors are distinct cache entries.
    ///
    /// ```
    /// use secret_ref::vault::VaultOption;
    /// use secret_ref::vault::memory::MemoryVault;
    /// use secret_ref::{ErrorKind, Resolver};
    ///
    /// const OPTIONS: &[VaultOption] =
    ///     &[VaultOption::selector("region"), VaultOption::credential("api_key")];
    /// let vault = MemoryVault::new().with_options(OPTIONS);
    /// vault.set("db", "pw");
    /// let resolver = Resolver::builder().vault("mem", vault.clone()).build()?;
    ///
    /// resolver.get("{vault://mem/db?region=eu}")?;
    /// resolver.get("{vault://mem/db?region=us}")?;
    /// assert_eq!(vault.fetches(), 2, "one cache entry per region");
    ///
    /// let err = resolver.get("{vault://mem/db?api_key=c4n4ry}").unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::OptionNotAllowed);
    /// assert!(!err.to_string().contains("c4n4ry"));
    /// # Ok::<(), secret_ref::Error>(())
    /// ```
    pub fn with_options(mut self, options: &'static [VaultOption]) -> Self {
        self.options = options;
        self
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding the lock; a test that panicked elsewhere should still
        // be able to read the counts.
        self.shared.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stores a new version of the secret `resource` (a `String` is moved in, not copied);
    /// returns its version number, from 1. The oldest versions go past [`MAX_VERSIONS`].
    ///
    /// A failure set with [`fail`](MemoryVault::fail) stays until
    /// [`recover`](MemoryVault::recover): setting a value does not end it.
    pub fn set(&self, resource: impl Into<String>, value: impl Into<String>) -> u32 {
        let resource = resource.into().into_boxed_str();
        let value = Zeroizing::new(value.into());
        let mut state = self.state();
        let last = state.last_version.entry(resource.clone()).or_insert(0);
        *last = last.saturating_add(1);
        let version = *last;
        let versions = state.secrets.entry(resource).or_default();
        if versions.len() >= MAX_VERSIONS {
            // Dropped, and so wiped, here.
            versions.pop_front();
        }
        versions.push_back((version, value));
        version
    }

    /// Removes the secret `resource`, every version of it: fetches are then `NotFound`.
    /// Returns whether it was there.
    pub fn unset(&self, resource: &str) -> bool {
        self.state().secrets.remove(resource).is_some()
    }

    /// Makes every fetch of `resource` fail with `error` (whether it is set or not), until
    /// [`recover`](MemoryVault::recover). Like every vault error, the message must not
    /// contain a secret value.
    ///
    /// ```
    /// use secret_ref::vault::memory::MemoryVault;
    /// use secret_ref::{ErrorKind, Resolver, VaultError};
    ///
    /// let vault = MemoryVault::new();
    /// vault.set("db", "pw");
    /// vault.fail("db", VaultError::permission_denied("token expired"));
    /// let resolver = Resolver::builder().vault("mem", vault.clone()).build()?;
    /// let err = resolver.get("{vault://mem/db}").unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::PermissionDenied);
    /// assert_eq!(err.to_string(), "{vault://mem/db} (vault `mem`): token expired");
    /// # Ok::<(), secret_ref::Error>(())
    /// ```
    pub fn fail(&self, resource: impl Into<String>, error: VaultError) {
        self.state()
            .failing
            .insert(resource.into().into_boxed_str(), error);
    }

    /// Ends the failure [`fail`](MemoryVault::fail) set for `resource`.
    pub fn recover(&self, resource: &str) {
        self.state().failing.remove(resource);
    }

    /// Makes every fetch fail with `error`, as a vault that is down, until
    /// [`recover_all`](MemoryVault::recover_all).
    pub fn fail_all(&self, error: VaultError) {
        self.state().down = Some(error);
    }

    /// Ends the failure [`fail_all`](MemoryVault::fail_all) set, and every failure
    /// [`fail`](MemoryVault::fail) set.
    pub fn recover_all(&self) {
        let mut state = self.state();
        state.down = None;
        state.failing.clear();
    }

    /// How many times the vault was asked for a secret, whatever the answer.
    pub fn fetches(&self) -> usize {
        self.state().fetches
    }

    /// How many times the vault was asked for `resource` (any version), whatever the answer;
    /// only the first [`MAX_COUNTED`] names asked for are counted by name.
    pub fn fetches_of(&self, resource: &str) -> usize {
        self.state()
            .fetches_by_name
            .get(resource)
            .copied()
            .unwrap_or(0)
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for MemoryVault {
    /// A remote vault holding these secrets, each at version 1.
    ///
    /// ```
    /// use secret_ref::Resolver;
    /// use secret_ref::vault::memory::MemoryVault;
    ///
    /// let vault: MemoryVault = [("user", "app"), ("password", "pw")].into_iter().collect();
    /// let resolver = Resolver::builder().vault("mem", vault).build()?;
    /// assert_eq!(resolver.get("{vault://mem/user}")?.expose_secret(), "app");
    /// # Ok::<(), secret_ref::Error>(())
    /// ```
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let vault = MemoryVault::new();
        for (resource, value) in iter {
            vault.set(resource, value);
        }
        vault
    }
}

impl Vault for MemoryVault {
    fn options(&self) -> &'static [VaultOption] {
        self.options
    }

    fn fetch(&self, request: &Request<'_>) -> Result<Zeroizing<String>, VaultError> {
        let resource = request.resource();
        let mut state = self.state();
        state.fetches = state.fetches.saturating_add(1);
        let counted = state.fetches_by_name.len();
        match state.fetches_by_name.get_mut(resource) {
            Some(n) => *n = n.saturating_add(1),
            None if counted < MAX_COUNTED => {
                state.fetches_by_name.insert(resource.into(), 1);
            }
            None => {}
        }
        if let Some(error) = state.down.as_ref().or_else(|| state.failing.get(resource)) {
            return Err(error.clone());
        }
        let versions = state
            .secrets
            .get(resource)
            .ok_or_else(|| VaultError::not_found(format!("no secret named `{resource}`")))?;
        let found = match request.version() {
            None => versions.back(),
            Some(wanted) => versions.iter().find(|(v, _)| *v == wanted),
        };
        match found {
            Some((_, value)) => Ok(value.clone()),
            None => Err(VaultError::not_found(format!(
                "secret `{resource}` has no version {} (it keeps versions {} to {})",
                request.version().unwrap_or_default(),
                versions.front().map_or(0, |(v, _)| *v),
                versions.back().map_or(0, |(v, _)| *v),
            ))),
        }
    }

    fn is_remote(&self) -> bool {
        self.remote
    }
}

impl fmt::Debug for MemoryVault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state();
        f.debug_struct("MemoryVault")
            .field("remote", &self.remote)
            .field("secrets", &state.secrets.keys().collect::<Vec<_>>())
            .field("failing", &state.failing.keys().collect::<Vec<_>>())
            .field("fetches", &state.fetches)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use crate::vault::VaultConfig;

    fn get(
        vault: &MemoryVault,
        resource: &str,
        version: Option<u32>,
    ) -> Result<String, VaultError> {
        let config = VaultConfig::new();
        vault
            .fetch(&Request::new(resource, version, &config))
            .map(|v| v.to_string())
    }

    #[test]
    fn versions_are_numbered_from_one_and_bounded() {
        let vault = MemoryVault::new();
        for i in 1..=15 {
            assert_eq!(vault.set("db", format!("v{i}")), i);
        }
        assert_eq!(get(&vault, "db", None).unwrap(), "v15");
        assert_eq!(get(&vault, "db", Some(6)).unwrap(), "v6");
        let gone = get(&vault, "db", Some(5)).unwrap_err();
        assert_eq!(gone.kind(), ErrorKind::NotFound);
        assert_eq!(
            gone.to_string(),
            "secret `db` has no version 5 (it keeps versions 6 to 15)"
        );
        assert_eq!(vault.state().secrets["db"].len(), MAX_VERSIONS);

        // Set again after unset: new numbers, never an old value under an old number.
        assert!(vault.unset("db"));
        assert!(!vault.unset("db"));
        assert_eq!(
            get(&vault, "db", None).unwrap_err().kind(),
            ErrorKind::NotFound
        );
        assert_eq!(vault.set("db", "again"), 16);
        assert!(get(&vault, "db", Some(15)).is_err());
    }

    #[test]
    fn failures_take_precedence_until_recovered() {
        let vault: MemoryVault = [("a", "1"), ("b", "2")].into_iter().collect();
        vault.fail("a", VaultError::permission_denied("denied"));
        assert_eq!(
            get(&vault, "a", None).unwrap_err().kind(),
            ErrorKind::PermissionDenied
        );
        assert_eq!(get(&vault, "b", None).unwrap(), "2");
        // A failure on a name that has no value yet.
        vault.fail("c", VaultError::bad_response("garbled"));
        assert_eq!(
            get(&vault, "c", None).unwrap_err().kind(),
            ErrorKind::BadResponse
        );

        vault.fail_all(VaultError::unreachable("down"));
        assert_eq!(
            get(&vault, "b", None).unwrap_err().kind(),
            ErrorKind::Unreachable
        );
        vault.recover("a");
        assert_eq!(
            get(&vault, "a", None).unwrap_err().kind(),
            ErrorKind::Unreachable
        );
        vault.recover_all();
        assert_eq!(get(&vault, "a", None).unwrap(), "1");
        assert_eq!(
            get(&vault, "c", None).unwrap_err().kind(),
            ErrorKind::NotFound
        );
    }

    #[test]
    fn every_fetch_is_counted_and_the_names_are_bounded() {
        let vault = MemoryVault::new();
        vault.set("a", "1");
        let _ = get(&vault, "a", None);
        let _ = get(&vault, "a", Some(1));
        let _ = get(&vault, "missing", None);
        assert_eq!(vault.fetches(), 3);
        assert_eq!(vault.fetches_of("a"), 2);
        assert_eq!(vault.fetches_of("missing"), 1);
        assert_eq!(vault.fetches_of("never"), 0);

        for i in 0..MAX_COUNTED + 10 {
            let _ = get(&vault, &format!("n{i}"), None);
        }
        assert_eq!(vault.state().fetches_by_name.len(), MAX_COUNTED);
        assert_eq!(vault.fetches(), 3 + MAX_COUNTED + 10);
        // Names already counted go on being counted.
        let _ = get(&vault, "a", None);
        assert_eq!(vault.fetches_of("a"), 3);
    }

    #[test]
    fn debug_shows_names_never_values() {
        let vault = MemoryVault::new().local();
        vault.set("pg", "c4n4ry-value");
        vault.fail("pg", VaultError::unreachable("down"));
        let shown = format!("{vault:?}");
        assert_eq!(
            shown,
            r#"MemoryVault { remote: false, secrets: ["pg"], failing: ["pg"], fetches: 0 }"#
        );
        assert!(!shown.contains("c4n4ry"));
    }
}
