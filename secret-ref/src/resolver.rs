//! The resolver: finds each reference's vault, fetches each distinct secret once, converts it
//! into the field's type and reports every failure with its field path.

use hashbrown::HashMap;
use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use zeroize::Zeroizing;

use crate::audit;
use crate::live::{Group, LiveSink, Member, PrepareError};

use crate::cache::{Cache, Text, Ttls, lock};
use crate::clock::{Clock, SystemClock};
use crate::digest::{Digest, DigestWriter};
use crate::error::{Error, ErrorKind, Failure, VaultError};
use crate::json_key;
use crate::reference::RefView;
use crate::resolve::{ResolveSecrets, Walker};
use crate::secret::Secret;
use crate::vault::env::EnvVault;
use crate::vault::{COMMON_OPTIONS, OptionClass, Request, Vault, VaultConfig, VaultOption};

mod rotation;

pub(crate) use rotation::DEFAULT_INTERVAL as DEFAULT_ROTATION_INTERVAL;
pub use rotation::{Rotation, RotationReport};

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
/// # unsafe { std::env::set_var("DOC_RESOLVER_TOKEN", "t0k3n") };
/// let resolver = Resolver::new(); // the `env` vault is built in
/// let token = resolver.get("{vault://env/doc-resolver-token}")?;
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
}

/// Called when the rotation (or a refresh) changes the value of a live secret.
type ChangeHook = Arc<dyn Fn(&Change) + Send + Sync>;

/// A live secret's value changed; see [`ResolverBuilder::on_change`].
#[derive(Clone, Debug)]
pub struct Change {
    reference: Box<str>,
    vault: Box<str>,
}

impl Change {
    /// The reference whose value changed, with credential-like options scrubbed.
    pub fn reference(&self) -> &str {
        &self.reference
    }

    /// The vault name in the reference.
    pub fn vault(&self) -> &str {
        &self.vault
    }
}

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
        let parsed = RefView::parse(reference)?;
        let mut text = self.text(&parsed).map_err(Error::single)?;
        Ok(Secret::resolved(
            std::mem::take(&mut *text),
            parsed.into_owned(),
        ))
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
    /// use std::sync::{Arc, Mutex};
    /// use secret_ref::vault::{Request, Vault, VaultOption};
    /// use secret_ref::{Resolver, ResolveSecrets, Secret, VaultError};
    /// use serde::Deserialize;
    /// use zeroize::Zeroizing;
    ///
    /// struct Rotating(Arc<Mutex<String>>);
    /// impl Vault for Rotating {
    ///     fn options(&self) -> &'static [VaultOption] { &[] }
    ///     fn fetch(&self, _: &Request<'_>) -> Result<Zeroizing<String>, VaultError> {
    ///         Ok(Zeroizing::new(self.0.lock().unwrap().clone()))
    ///     }
    /// }
    ///
    /// #[derive(Deserialize, ResolveSecrets)]
    /// struct Db { password: Secret<String> }
    ///
    /// let current = Arc::new(Mutex::new(String::from("old")));
    /// let resolver = Resolver::builder().vault("v", Rotating(current.clone())).build()?;
    /// let mut db: Db = resolver.scope(|| serde_json::from_str(r#"{"password": "{vault://v/db}"}"#))?;
    ///
    /// *current.lock().unwrap() = String::from("new");   // rotated behind our back
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

    fn resolve_with<T: ResolveSecrets + ?Sized>(
        &self,
        value: &mut T,
        memo: &mut Memo,
        refresh: bool,
    ) -> Result<(), Error> {
        let mut walker = Walker::new();
        value.visit_secrets(&mut walker);
        let mut slots = std::mem::take(&mut walker.slots);
        let mut failures: Vec<(usize, Failure)> = std::mem::take(&mut walker.failures)
            .into_iter()
            .map(|f| (0, f))
            .collect();
        let with_path = |failure: Failure, node: Option<u32>| {
            let path = walker.path_of(node);
            if path.is_empty() {
                failure
            } else {
                failure.with_path(path)
            }
        };
        let auditing = audit::enabled();
        let path_of = |node: Option<u32>| -> Option<String> {
            let path = walker.path_of(node);
            (!path.is_empty()).then_some(path)
        };

        // Remote fetches wait until every reference is known, so that each distinct secret
        // is fetched once.
        let mut fetches: Vec<(FetchKey, Arc<Effective>)> = Vec::new();
        let mut fetch_index: HashMap<FetchKey, usize> = HashMap::new();
        let mut pending: Vec<(usize, usize)> = Vec::new();

        for (i, slot) in slots.iter_mut().enumerate() {
            let Some(raw) = slot.secret.reference_str() else {
                if slot.reference_only {
                    let failure = Failure::new(
                        ErrorKind::LiteralNotAllowed,
                        "this field takes only a vault reference, not a literal value",
                    );
                    failures.push((i, with_path(failure, slot.path)));
                }
                continue;
            };
            if slot.secret.has_value() && !refresh {
                continue;
            }
            let outcome = match RefView::parse(raw) {
                Err(e) => Err(Failure::from_reference(e)),
                Ok(r) => match self.target(&r) {
                    Err(f) => Err(f),
                    Ok(target) if cached(&target) => {
                        let key = target.key(&r);
                        let n = fetches.len();
                        let at = *fetch_index.entry(key.clone()).or_insert(n);
                        if at == n {
                            fetches.push((key, target.config.into_owned()));
                        }
                        pending.push((i, at));
                        continue;
                    }
                    Ok(target) => {
                        let started = auditing.then(std::time::Instant::now);
                        let fetched = self.fetch(&target, &r);
                        if let Some(started) = started {
                            audit::fetch(
                                &r,
                                path_of(slot.path).as_deref(),
                                kind_of(&fetched),
                                started.elapsed(),
                            );
                        }
                        fetched
                            .and_then(|text| select_key(text, &r))
                            .map_err(|e| vault_failure(e, &r))
                    }
                },
            };
            if let Err(f) = outcome.and_then(|text| accept(slot.secret, text)) {
                failures.push((i, with_path(f, slot.path)));
            }
        }

        if !pending.is_empty() {
            let outcomes = self.fetch_all(&fetches, memo, refresh);
            let mut announced = vec![false; fetches.len()];
            for (i, at) in pending {
                let slot = &mut slots[i];
                let raw = slot
                    .secret
                    .reference_str()
                    .expect("pending slots hold references");
                let r = RefView::parse(raw).expect("pending references parsed before");
                let fetch = &outcomes[at];
                if auditing {
                    let path = path_of(slot.path);
                    let kind = kind_of(&fetch.result);
                    if fetch.fetched && !announced[at] {
                        announced[at] = true;
                        audit::fetch(&r, path.as_deref(), kind, fetch.duration);
                    } else {
                        audit::cache_hit(&r, path.as_deref(), kind);
                    }
                }
                if let Some(err) = &fetch.resurrected {
                    let warning = with_path(resurrection(err, &r), slot.path);
                    audit::resurrected(&warning);
                    self.warn(&warning);
                }
                let outcome = match (&fetch.result, slot.secret.live()) {
                    // A live secret follows this cached secret from now on.
                    (Ok(text), Some(sink)) => {
                        self.follow(&fetches[at].0, &sink, &*slot.secret, text, &r)
                    }
                    (Ok(text), None) => select_key(Zeroizing::new(String::clone(text)), &r)
                        .map_err(|e| vault_failure(e, &r))
                        .and_then(|text| accept(slot.secret, text)),
                    (Err(e), _) => Err(vault_failure(e.clone(), &r)),
                };
                if let Err(f) = outcome {
                    failures.push((i, with_path(f, slot.path)));
                }
            }
        }

        if failures.is_empty() {
            return Ok(());
        }
        failures.sort_by_key(|(i, _)| *i);
        let failures: Vec<Failure> = failures.into_iter().map(|(_, f)| f).collect();
        if auditing {
            failures.iter().for_each(audit::failure);
        }
        Err(Error::from_failures(failures))
    }

    /// Runs `f` with this resolver in scope: every `Secret<T>` deserialized inside it, by any
    /// serde format, resolves as it is deserialized. Failures are reported together with the
    /// format's own error, and each with its field path.
    ///
    /// ```
    /// use secret_ref::{Resolver, ResolveSecrets, Secret};
    /// use serde::Deserialize;
    ///
    /// #[derive(Deserialize, ResolveSecrets)]
    /// struct Config {
    ///     pg_password: Secret<String>,
    ///     pg_port: Secret<u16>,
    /// }
    ///
    /// # unsafe { std::env::set_var("DOC_SCOPE_PW", "opensesame") };
    /// # unsafe { std::env::set_var("DOC_SCOPE_PORT", "5432") };
    /// let resolver = Resolver::new();
    /// let config: Config = resolver.scope(|| {
    ///     serde_json::from_str(r#"{
    ///         "pg_password": "{vault://env/doc-scope-pw}",
    ///         "pg_port": "{vault://env/doc-scope-port}"
    ///     }"#)
    /// })?;
    /// assert_eq!(config.pg_password.expose_secret(), "opensesame");
    /// assert_eq!(*config.pg_port.expose_secret(), 5432);
    /// # Ok::<(), secret_ref::Error>(())
    /// ```
    pub fn scope<T, E>(&self, f: impl FnOnce() -> Result<T, E>) -> Result<T, Error>
    where
        T: ResolveSecrets,
        E: std::error::Error + Send + Sync + 'static,
    {
        let guard = ScopeGuard::enter(self.clone());
        let result = f();
        let (failures, mut memo) = guard.leave();
        match result {
            // Secrets that failed during deserialization are still unresolved: resolving
            // again, from this scope's results, reports them with their paths.
            Ok(mut value) => self
                .resolve_with(&mut value, &mut memo, false)
                .map(|()| value),
            Err(e) => {
                let mut err = Error::deserialize(e);
                for f in failures {
                    err.push(f);
                }
                Err(err)
            }
        }
    }

    /// The text of a reference: vault, fetch, then key.
    fn text(&self, r: &RefView<'_>) -> Result<Zeroizing<String>, Failure> {
        let auditing = audit::enabled();
        let target = self.target(r).inspect_err(|f| {
            if auditing {
                audit::failure(f);
            }
        })?;
        let fetched = if cached(&target) {
            let key = target.key(r);
            let fetch = self
                .fetch_all(
                    &[(key, target.config.into_owned())],
                    &mut Memo::default(),
                    false,
                )
                .remove(0);
            if auditing {
                let kind = kind_of(&fetch.result);
                if fetch.fetched {
                    audit::fetch(r, None, kind, fetch.duration);
                } else {
                    audit::cache_hit(r, None, kind);
                }
            }
            if let Some(err) = &fetch.resurrected {
                let warning = resurrection(err, r);
                audit::resurrected(&warning);
                self.warn(&warning);
            }
            fetch
                .result
                .map(|text| Zeroizing::new(String::clone(&text)))
        } else {
            let started = auditing.then(std::time::Instant::now);
            let fetched = self.fetch(&target, r);
            if let Some(started) = started {
                audit::fetch(r, None, kind_of(&fetched), started.elapsed());
            }
            fetched
        };
        let result = fetched
            .and_then(|text| select_key(text, r))
            .map_err(|e| vault_failure(e, r));
        if let (Err(f), true) = (&result, auditing) {
            audit::failure(f);
        }
        result
    }

    fn fetch(&self, target: &Target<'_>, r: &RefView<'_>) -> Result<Zeroizing<String>, VaultError> {
        target
            .vault
            .fetch(&self.request(r.resource(), r.version(), &target.config.config))
    }

    /// A request to a backend, with this resolver's limits.
    pub(crate) fn request<'a>(
        &self,
        resource: &'a str,
        version: Option<u32>,
        config: &'a VaultConfig,
    ) -> Request<'a> {
        Request::new(resource, version, config)
            .with_max_file_size(self.inner.max_file_size)
            .with_cache_capacity(self.inner.cache_capacity)
    }

    /// Fetches distinct remote secrets through the cache, several at a time (bounded by
    /// the resolver's concurrency), and records them in the resolution's memo. With
    /// `refresh`, every key is fetched again whatever the cache holds.
    fn fetch_all(
        &self,
        keys: &[(FetchKey, Arc<Effective>)],
        memo: &mut Memo,
        refresh: bool,
    ) -> Vec<Fetch> {
        let mut outcomes: Vec<Option<Fetch>> = keys
            .iter()
            .map(|(k, _)| {
                memo.results.get(k).map(|r| Fetch {
                    result: r.clone(),
                    resurrected: None,
                    fetched: false,
                    duration: Duration::ZERO,
                })
            })
            .collect();
        let todo: Vec<usize> = (0..keys.len()).filter(|&i| outcomes[i].is_none()).collect();
        for (i, fetch) in self.for_each_bounded(&todo, |&i| {
            let (key, effective) = &keys[i];
            self.fetch_one(key, effective, refresh)
        }) {
            outcomes[i] = Some(fetch);
        }
        outcomes
            .into_iter()
            .zip(keys)
            .map(|(outcome, (key, _))| {
                let outcome = outcome.expect("every key fetched");
                memo.results.insert(key.clone(), outcome.result.clone());
                outcome
            })
            .collect()
    }

    /// Runs `work` on each item, several at a time (bounded by the resolver's concurrency),
    /// on scoped threads; returns each item's index with its result.
    pub(crate) fn for_each_bounded<I, R>(
        &self,
        items: &[I],
        work: impl Fn(&I) -> R + Sync,
    ) -> Vec<(I, R)>
    where
        I: Clone + Send + Sync,
        R: Send,
    {
        let workers = self.inner.concurrency.clamp(1, items.len().max(1));
        if workers <= 1 {
            return items.iter().map(|i| (i.clone(), work(i))).collect();
        }
        let next = std::sync::atomic::AtomicUsize::new(0);
        let done: Mutex<Vec<(I, R)>> = Mutex::new(Vec::with_capacity(items.len()));
        std::thread::scope(|scope| {
            for _ in 0..workers {
                scope.spawn(|| {
                    loop {
                        let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(item) = items.get(n) else { break };
                        let result = work(item);
                        lock(&done).push((item.clone(), result));
                    }
                });
            }
        });
        done.into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn fetch_one(&self, key: &FetchKey, effective: &Arc<Effective>, refresh: bool) -> Fetch {
        let backend = &self.inner.backends[&*key.backend];
        let ttls = effective.ttls;
        let fetch = || {
            backend
                .vault
                .fetch(&self.request(&key.resource, key.version, &effective.config))
        };
        let started = std::time::Instant::now();
        let outcome = match refresh.then(|| self.inner.cache.refresh(key, ttls, true, fetch)) {
            Some(Some(refreshed)) => {
                if refreshed.changed {
                    self.propagate(key, &refreshed.outcome, refreshed.seq);
                }
                refreshed.outcome
            }
            // Not cached yet, or being refreshed by another thread.
            _ => self.inner.cache.get(key, effective, ttls, fetch),
        };
        Fetch {
            result: outcome.result,
            resurrected: outcome.resurrected,
            fetched: outcome.fetched,
            duration: started.elapsed(),
        }
    }

    /// Makes a live secret follow a cached secret (once, however often it resolves), and
    /// gives it its first value, consistent with the other live secrets of that secret.
    fn follow(
        &self,
        key: &FetchKey,
        sink: &Arc<dyn LiveSink>,
        slot: &dyn crate::secret::SecretSlot,
        whole: &Text,
        r: &RefView<'_>,
    ) -> Result<(), Failure> {
        let group = {
            let mut groups = lock(&self.inner.groups);
            match groups.get(key) {
                Some(g) => g.clone(),
                None => {
                    // Pruned on insert: groups whose live secrets are all gone go, and their
                    // secrets may leave the cache again.
                    groups.retain(|k, g| {
                        // A group another thread holds (it is joining it) stays.
                        let alive = Arc::strong_count(g) > 1 || g.prune() > 0;
                        if !alive {
                            self.inner.cache.pin(k, false);
                        }
                        alive
                    });
                    let g = Group::new();
                    groups.insert(key.clone(), g.clone());
                    g
                }
            }
        };
        self.inner.cache.pin(key, true);
        let member = Member {
            sink: Arc::downgrade(sink),
            key: r.key().map(Box::from),
            reference: crate::reference::scrub(r.as_str()).into(),
            vault: r.vault().into(),
        };
        match group.join(sink, member, whole) {
            Ok(true) => Ok(()),
            // Already following another vault secret (resolved by another resolver): it keeps
            // following that one.
            Ok(false) if slot.has_value() => Ok(()),
            Ok(false) => Err(Failure::new(
                ErrorKind::InvalidConfig,
                "this live secret already follows another vault secret",
            )
            .with_reference(r.as_str())
            .with_vault(r.vault())),
            Err(PrepareError::Key(e)) => Err(vault_failure(e, r)),
            Err(PrepareError::Convert(e)) => Err(Failure::new(
                ErrorKind::Conversion,
                format!("the secret does not fit `{}`: {e}", slot.type_name()),
            )
            .with_reference(r.as_str())
            .with_vault(r.vault())),
            Err(PrepareError::Panicked) => Err(Failure::new(
                ErrorKind::Conversion,
                format!("converting the secret into `{}` panicked", slot.type_name()),
            )
            .with_reference(r.as_str())
            .with_vault(r.vault())),
        }
    }

    /// Gives the new text of a cached secret to the live secrets that follow it, as one
    /// publication; then, with no lock held, tells their subscribers and the hooks.
    fn propagate(&self, key: &FetchKey, outcome: &crate::cache::Outcome, seq: u64) {
        let Ok(text) = &outcome.result else {
            return;
        };
        let Some(group) = lock(&self.inner.groups).get(key).cloned() else {
            return;
        };
        let publication = group.publish(text, seq);
        for changed in publication.changed {
            changed.sink.notify();
            if let Some(hook) = &self.inner.on_change {
                let change = Change {
                    reference: changed.reference,
                    vault: changed.vault,
                };
                self.run_hook("on_change", Some(&change.reference), || hook(&change));
            }
        }
        for failure in publication.failed {
            // The live secret keeps its previous value.
            audit::failure(&failure);
            self.warn(&failure);
        }
    }

    /// Reports a warning to the `on_warning` hook, if any, outside every lock.
    pub(crate) fn warn(&self, warning: &Failure) {
        if let Some(hook) = &self.inner.on_warning
            && catch_unwind(AssertUnwindSafe(|| hook(warning))).is_err()
        {
            // The warning hook itself panicked: only the audit event is left.
            audit::hook_panicked("on_warning", warning.reference());
        }
    }

    /// Runs a user's hook, catching a panic: it is reported (audit event and warning), and
    /// the rotation goes on.
    fn run_hook(&self, name: &'static str, reference: Option<&str>, f: impl FnOnce()) {
        if catch_unwind(AssertUnwindSafe(f)).is_err() {
            audit::hook_panicked(name, reference);
            let mut warning = Failure::new(
                ErrorKind::Other,
                format!("the {name} hook panicked; rotation goes on"),
            );
            if let Some(r) = reference {
                warning = warning.with_reference(r);
            }
            self.warn(&warning);
        }
    }

    /// Forgets every cached secret and failure: the next resolution asks the vaults again.
    pub fn clear_cache(&self) {
        self.inner.cache.clear();
    }

    /// Finds the backend of a reference and merges its query options over the vault's
    /// settings. Unlike Kong, an unknown or invalid option is an error rather than ignored,
    /// so that a typo (`?prefx=`) does not silently read another secret; and an option whose
    /// class a reference may not set (where credentials go, which files are read, how TLS is
    /// checked) is an error rather than obeyed: the security model, enforced here, once, for
    /// every backend.
    fn target<'r>(&'r self, r: &RefView<'_>) -> Result<Target<'r>, Failure> {
        let inner = &*self.inner;
        let (backend, base, named) = match inner.backends.get_key_value(r.vault()) {
            Some((name, b)) => (name.as_str(), &b.config, false),
            None => match inner.named.get(r.vault()) {
                Some(n) => (n.backend.as_str(), &n.config, true),
                None => return Err(self.unknown_vault(r)),
            },
        };
        let vault = &inner.backends[backend].vault;
        let config = if r.options().len() == 0 {
            Cow::Borrowed(base)
        } else {
            let mut merged = base.config.clone();
            for (name, value) in r.options() {
                let Some(option) = find_option(vault.as_ref(), name) else {
                    return Err(vault_failure(
                        unknown_option(backend, vault.as_ref(), name),
                        r,
                    ));
                };
                if inner.reference_classes & option.class().bit() == 0 {
                    return Err(Failure::from_vault(not_in_references(
                        r.vault(),
                        backend,
                        named,
                        option,
                    ))
                    .with_reference(r.as_str())
                    .with_vault(r.vault()));
                }
                merged.set(name, value);
            }
            let effective =
                Effective::new(backend, vault.as_ref(), merged).map_err(|e| vault_failure(e, r))?;
            Cow::Owned(Arc::new(effective))
        };
        self.warn_insecure(r.vault(), vault.as_ref(), &config.config);
        Ok(Target {
            backend,
            vault,
            config,
        })
    }

    /// Reports each insecure setting of a vault once (see [`Vault::insecure_settings`]):
    /// through the warning hook and an audit event, outside any lock.
    fn warn_insecure(&self, name: &str, vault: &dyn Vault, config: &VaultConfig) {
        let risks = vault.insecure_settings(config);
        if risks.is_empty() {
            return;
        }
        let fresh: Vec<&'static str> = {
            let mut warned = lock(&self.inner.warned);
            risks
                .into_iter()
                .filter(|risk| {
                    let new = !warned.iter().any(|(v, r)| **v == *name && r == risk);
                    if new {
                        warned.push((name.into(), risk));
                    }
                    new
                })
                .collect()
        };
        for risk in fresh {
            let warning = Failure::new(ErrorKind::Insecure, risk).with_vault(name);
            audit::insecure(&warning);
            self.warn(&warning);
        }
    }

    fn unknown_vault(&self, r: &RefView<'_>) -> Failure {
        let mut known: Vec<&str> = self
            .inner
            .backends
            .keys()
            .chain(self.inner.named.keys())
            .map(String::as_str)
            .collect();
        known.sort_unstable();
        Failure::new(
            ErrorKind::UnknownVault,
            format!(
                "could not find vault `{}` (known vaults: {})",
                r.vault(),
                known.join(", ")
            ),
        )
        .with_reference(r.as_str())
        .with_vault(r.vault())
    }
}

/// Remote secrets go through the cache; so do local ones when cache options are set, so that
/// `ttl` means the same for every vault.
fn cached(target: &Target<'_>) -> bool {
    target.vault.is_remote()
        || COMMON_OPTIONS
            .iter()
            .any(|o| target.config.config.get(o.name()).is_some())
}

/// An option of a backend, by name, with its class.
pub(crate) fn find_option(vault: &dyn Vault, name: &str) -> Option<VaultOption> {
    vault
        .options()
        .iter()
        .chain(COMMON_OPTIONS)
        .find(|o| o.name() == name)
        .copied()
}

pub(crate) fn accepts(vault: &dyn Vault, option: &str) -> bool {
    find_option(vault, option).is_some()
}

/// Kong's kong.conf key for a vault's option: `vault_<vault>_<option>`, `-` written `_`.
fn setting_key(vault: &str, option: &str) -> String {
    format!("vault_{}_{}", vault.replace('-', "_"), option)
}

/// An option a reference may not set, with where to set it instead.
fn not_in_references(vault: &str, backend: &str, named: bool, option: VaultOption) -> VaultError {
    let name = option.name();
    let key = setting_key(vault, name);
    let instead = if named {
        format!("in the named vault `{vault}` (kong.conf: `{key}`)")
    } else {
        format!(
            "in the resolver's settings: kong.conf `{key}`, the environment variable `KONG_{}`, \
             or ResolverBuilder::configure(\"{backend}\", \"{name}\", ..)",
            key.to_ascii_uppercase()
        )
    };
    VaultError::new(
        ErrorKind::OptionNotAllowed,
        format!(
            "option `{name}` cannot be set in a reference: it decides {} ({} option), which \
             only the resolver's settings may choose; set it {instead}",
            option.class().decides(),
            option.class()
        ),
    )
}

pub(crate) fn unknown_option(backend: &str, vault: &dyn Vault, option: &str) -> VaultError {
    let mut known: Vec<&str> = vault.options().iter().map(|o| o.name()).collect();
    known.extend(COMMON_OPTIONS.iter().map(|o| o.name()));
    VaultError::invalid_config(format!(
        "unknown option `{option}` for vault `{backend}` (it takes: {})",
        known.join(", ")
    ))
}

fn vault_failure(e: VaultError, r: &RefView<'_>) -> Failure {
    Failure::from_vault(e)
        .with_reference(r.as_str())
        .with_vault(r.vault())
}

/// `ok`, or the error kind, for audit events.
fn kind_of<T>(result: &Result<T, VaultError>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(e) => e.kind().as_str(),
    }
}

fn served_previous(err: &VaultError) -> VaultError {
    VaultError::new(
        err.kind(),
        format!("{err}; serving the previous value (within resurrect_ttl)"),
    )
}

/// A resurrection seen by the rotation, which knows the secret but not the references.
fn resurrection_for_key(err: &VaultError, label: &str, backend: &str) -> Failure {
    Failure::from_vault(served_previous(err))
        .with_reference(label)
        .with_vault(backend)
}

fn resurrection(err: &VaultError, r: &RefView<'_>) -> Failure {
    vault_failure(served_previous(err), r)
}

fn select_key(text: Zeroizing<String>, r: &RefView<'_>) -> Result<Zeroizing<String>, VaultError> {
    match r.key() {
        Some(key) => json_key::select(&text, key),
        None => Ok(text),
    }
}

fn accept(
    secret: &mut dyn crate::secret::SecretSlot,
    text: Zeroizing<String>,
) -> Result<(), Failure> {
    secret.accept(text).map_err(|e| {
        let mut f = Failure::new(
            ErrorKind::Conversion,
            format!("the secret does not fit `{}`: {e}", secret.type_name()),
        );
        if let Some(Ok(r)) = secret.reference_str().map(RefView::parse) {
            f = f.with_reference(r.as_str()).with_vault(r.vault());
        }
        f
    })
}

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
    fn new() -> Self {
        let bundled: [Option<(&str, Arc<dyn Vault>)>; 5] = [
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
    /// where [`Live::subscribe`](crate::Live::subscribe) is per secret.
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
                crate::reference::declare_options(vault.options());
                (name, (vault, VaultConfig::new()))
            })
            .collect();

        for (vault, option, mut value) in self.settings {
            let Some((backend_vault, config)) = configs.get_mut(&vault) else {
                failures.push(
                    Failure::new(
                        ErrorKind::UnknownVault,
                        format!("cannot configure `{option}` of vault `{vault}`: no such vault"),
                    )
                    .with_vault(&vault),
                );
                continue;
            };
            if !accepts(backend_vault.as_ref(), &option) {
                failures.push(
                    Failure::from_vault(unknown_option(&vault, backend_vault.as_ref(), &option))
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
                            "vault prefix `{prefix}` uses vault `{backend}`, which is not installed"
                        ),
                    )
                    .with_vault(&prefix),
                );
                continue;
            };
            let unknown: Vec<&str> = config
                .iter()
                .map(|(k, _)| k)
                .filter(|k| !accepts(b.as_ref(), k))
                .collect();
            if let Some(option) = unknown.first() {
                failures.push(
                    Failure::from_vault(unknown_option(&backend, b.as_ref(), option))
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

struct Frame {
    resolver: Resolver,
    failures: Vec<Failure>,
    memo: Memo,
}

thread_local! {
    /// The resolvers of the `scope` calls running on this thread, innermost last.
    static SCOPES: RefCell<Vec<Frame>> = const { RefCell::new(Vec::new()) };
    /// How many scopes are open: a flag that deserialization checks without borrowing.
    static DEPTH: Cell<usize> = const { Cell::new(0) };
}

struct ScopeGuard {
    depth: usize,
}

impl ScopeGuard {
    fn enter(resolver: Resolver) -> Self {
        let depth = SCOPES.with(|s| {
            let mut s = s.borrow_mut();
            s.push(Frame {
                resolver,
                failures: Vec::new(),
                memo: Memo::default(),
            });
            s.len()
        });
        DEPTH.with(|d| d.set(depth));
        ScopeGuard { depth }
    }

    fn leave(self) -> (Vec<Failure>, Memo) {
        let failures = SCOPES.with(|s| {
            let mut s = s.borrow_mut();
            s.truncate(self.depth);
            s.pop().map(|f| (f.failures, f.memo)).unwrap_or_default()
        });
        DEPTH.with(|d| d.set(self.depth - 1));
        std::mem::forget(self);
        failures
    }
}

impl Drop for ScopeGuard {
    /// Leaves the scope if `f` panicked.
    fn drop(&mut self) {
        let _ = SCOPES.try_with(|s| s.borrow_mut().truncate(self.depth - 1));
        let _ = DEPTH.try_with(|d| d.set(self.depth - 1));
    }
}

/// Whether a [`Resolver::scope`] is open on this thread: checked for every reference
/// deserialized, so it is a plain flag.
#[inline]
pub(crate) fn in_scope() -> bool {
    DEPTH.with(Cell::get) != 0
}

/// Called by `Secret<T>`'s `Deserialize` inside a scope: resolves at once.
#[cold]
pub(crate) fn resolve_in_scope<S: ResolveSecrets>(secret: &mut S) {
    // The borrows are released while resolving: converting a secret may deserialize another.
    let Some((resolver, mut memo)) = SCOPES.with(|s| {
        s.borrow_mut()
            .last_mut()
            .map(|f| (f.resolver.clone(), std::mem::take(&mut f.memo)))
    }) else {
        return;
    };
    let result = resolver.resolve_with(secret, &mut memo, false);
    SCOPES.with(|s| {
        if let Some(frame) = s.borrow_mut().last_mut() {
            frame.memo = memo;
            if let Err(e) = result {
                frame.failures.extend(e.into_failures());
            }
        }
    });
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
