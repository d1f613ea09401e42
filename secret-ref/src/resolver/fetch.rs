//! One resolution: each reference to its vault (the security model enforced on its options),
//! each distinct remote secret fetched once through the cache, several at a time, and each
//! text converted into its field's type.

use std::borrow::Cow;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hashbrown::{HashMap, HashSet};
use zeroize::Zeroizing;

use super::watch::resurrection;
use super::{Effective, Fetch, FetchKey, Memo, Resolver, Target};
use crate::audit;
use crate::cache::lock;
use crate::error::{Error, ErrorKind, Failure, VaultError};
use crate::json_key;
use crate::reference::{RefParts, RefView};
use crate::resolve::{ResolveSecrets, Walker};
use crate::slot::SecretSlot;
use crate::vault::{self, COMMON_OPTIONS, Request, Vault, VaultConfig};

impl Resolver {
    pub(super) fn resolve_with<T: ResolveSecrets + ?Sized>(
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
        let mut pending: Vec<(usize, usize, RefParts)> = Vec::new();

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
                        // Kept parsed: the reference is parsed once per resolution.
                        pending.push((i, at, r.into_parts()));
                        continue;
                    }
                    Ok(target) => {
                        let started = auditing.then(std::time::Instant::now);
                        let (fetched, took) = match prefetched(memo, &target, &r) {
                            Some(fetch) => (
                                fetch
                                    .result
                                    .map(|text| Zeroizing::new(String::clone(&text))),
                                Some(fetch.duration),
                            ),
                            None => (self.fetch(&target, &r), None),
                        };
                        if let Some(started) = started {
                            audit::fetch(
                                &r,
                                path_of(slot.path).as_deref(),
                                kind_of(&fetched),
                                took.unwrap_or_else(|| started.elapsed()),
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
            for (i, at, parts) in pending {
                let slot = &mut slots[i];
                let raw = slot
                    .secret
                    .reference_str()
                    .expect("pending slots hold references");
                let r = RefView::from_parts(raw, parts);
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
                let outcome = match (&fetch.result, &slot.live) {
                    // A live secret follows this cached secret from now on.
                    (Ok(text), Some(sink)) => {
                        self.follow(&fetches[at].0, sink, &*slot.secret, text, &r)
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

    /// Fetches, off the caller's thread, what resolving these references would fetch: each
    /// distinct secret once, remote ones through the cache, several at a time. The
    /// resolution that follows ([`Resolver::resolve_with`] with the memo) asks no vault.
    ///
    /// References that do not parse or name no vault are left to that resolution, which
    /// reports them.
    pub(super) fn prefetch(&self, references: &[Zeroizing<String>]) -> Memo {
        let mut cached_keys: Vec<(FetchKey, Arc<Effective>)> = Vec::new();
        let mut local = Vec::new();
        let mut seen: HashSet<FetchKey> = HashSet::new();
        for raw in references {
            let Ok(r) = RefView::parse(raw.as_str()) else {
                continue;
            };
            let Ok(target) = self.target(&r) else {
                continue;
            };
            let key = target.key(&r);
            if !seen.insert(key.clone()) {
                continue;
            }
            if cached(&target) {
                cached_keys.push((key, target.config.into_owned()));
            } else {
                local.push((key, r, target));
            }
        }
        let mut memo = Memo::default();
        let outcomes = self.fetch_all(&cached_keys, &mut Memo::default(), false);
        for ((key, _), fetch) in cached_keys.into_iter().zip(outcomes) {
            memo.prefetched.insert(key, fetch);
        }
        // Local secrets too: a local backend may still block (a file on a network mount,
        // a vault of the caller's own), and the executor must not wait for it. One after
        // another, as the blocking call asks them: they are local.
        for (key, r, target) in local {
            let started = std::time::Instant::now();
            let result = self.fetch(&target, &r).map(Arc::new);
            let fetch = Fetch {
                result,
                resurrected: None,
                fetched: true,
                duration: started.elapsed(),
            };
            memo.prefetched.insert(key, fetch);
        }
        memo
    }

    pub(super) fn fetch(
        &self,
        target: &Target<'_>,
        r: &RefView<'_>,
    ) -> Result<Zeroizing<String>, VaultError> {
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
    pub(super) fn fetch_all(
        &self,
        keys: &[(FetchKey, Arc<Effective>)],
        memo: &mut Memo,
        refresh: bool,
    ) -> Vec<Fetch> {
        let mut outcomes: Vec<Option<Fetch>> = keys
            .iter()
            .map(|(k, _)| {
                // Fetched ahead for this resolution: reported as its own fetch, once.
                let ahead = (!memo.prefetched.is_empty())
                    .then(|| memo.prefetched.remove(k))
                    .flatten();
                ahead.or_else(|| {
                    memo.results.get(k).map(|r| Fetch {
                        result: r.clone(),
                        resurrected: None,
                        fetched: false,
                        duration: Duration::ZERO,
                    })
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

    pub(super) fn fetch_one(
        &self,
        key: &FetchKey,
        effective: &Arc<Effective>,
        refresh: bool,
    ) -> Fetch {
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

    /// Finds the backend of a reference and merges its query options over the vault's
    /// settings. Unlike Kong, an unknown or invalid option is an error rather than ignored,
    /// so that a typo (`?prefx=`) does not silently read another secret; and an option whose
    /// class a reference may not set (where credentials go, which files are read, how TLS is
    /// checked) is an error rather than obeyed: the security model, enforced here, once, for
    /// every backend.
    pub(super) fn target<'r>(&'r self, r: &RefView<'_>) -> Result<Target<'r>, Failure> {
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
                let Some(option) = vault::find_option(vault.as_ref(), name) else {
                    return Err(vault_failure(
                        vault::unknown_option(backend, vault.as_ref(), name),
                        r,
                    ));
                };
                if inner.reference_classes & option.class().bit() == 0 {
                    return Err(Failure::from_vault(vault::not_in_references(
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
    pub(super) fn warn_insecure(&self, name: &str, vault: &dyn Vault, config: &VaultConfig) {
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

    pub(super) fn unknown_vault(&self, r: &RefView<'_>) -> Failure {
        let mut known: Vec<&str> = self
            .inner
            .backends
            .keys()
            .chain(self.inner.named.keys())
            .map(String::as_str)
            .collect();
        known.sort_unstable();
        let message = match crate::vault::missing_feature(r.vault()) {
            Some(_) => format!(
                "could not find vault `{}`{}",
                r.vault(),
                crate::vault::not_built(r.vault())
            ),
            None => format!(
                "could not find vault `{}` (known vaults: {})",
                r.vault(),
                known.join(", ")
            ),
        };
        Failure::new(ErrorKind::UnknownVault, message)
            .with_reference(r.as_str())
            .with_vault(r.vault())
    }
}

/// The fetch made ahead of this resolution for a local secret, if any (the async API).
fn prefetched(memo: &Memo, target: &Target<'_>, r: &RefView<'_>) -> Option<Fetch> {
    if memo.prefetched.is_empty() {
        return None;
    }
    memo.prefetched.get(&target.key(r)).cloned()
}

/// Remote secrets go through the cache; so do local ones when cache options are set, so that
/// `ttl` means the same for every vault.
pub(super) fn cached(target: &Target<'_>) -> bool {
    target.vault.is_remote()
        || COMMON_OPTIONS
            .iter()
            .any(|o| target.config.config.get(o.name()).is_some())
}

pub(super) fn vault_failure(e: VaultError, r: &RefView<'_>) -> Failure {
    Failure::from_vault(e)
        .with_reference(r.as_str())
        .with_vault(r.vault())
}

/// `ok`, or the error kind, for audit events.
pub(super) fn kind_of<T>(result: &Result<T, VaultError>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(e) => e.kind().as_str(),
    }
}

pub(super) fn select_key(
    text: Zeroizing<String>,
    r: &RefView<'_>,
) -> Result<Zeroizing<String>, VaultError> {
    match r.key() {
        Some(key) => json_key::select(&text, key),
        None => Ok(text),
    }
}

pub(super) fn accept(secret: &mut dyn SecretSlot, text: Zeroizing<String>) -> Result<(), Failure> {
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
