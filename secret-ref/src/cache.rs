//! The resolver's cache of remote secrets, with Kong's three TTLs:
//!
//! - `ttl`: how long a fetched value is served before it is fetched again (unset or `0`:
//!   kept until the resolver is dropped, as Kong's documentation says of `ttl = 0`);
//! - `neg_ttl`: how long a failure is remembered before the vault is asked again (unset or
//!   `0`: not remembered, so the next request asks again); the rotation retries a failure
//!   only when it has a `neg_ttl`, with backoff (doubling up to 16 times `neg_ttl`) and
//!   jitter, so that a vault that is down is not hammered;
//! - `resurrect_ttl`: when a refresh fails, how long after its `ttl` ran out the previous
//!   value may still be served (the failure is then reported as a warning).
//!
//! Each key has a slot; concurrent requests for a key share one fetch (the others wait on
//! the slot), and no lock is held while fetching. While the rotation refreshes a key, readers
//! keep getting the previous entry instead of waiting.
//!
//! The cache is bounded: past its capacity, the least recently used slots go, except those
//! pinned (followed by live secrets). Time comes from an injected [`Clock`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use lru::LruCache;
use zeroize::Zeroizing;

use crate::clock::{Clock, jitter};
use crate::error::VaultError;
use crate::vault::VaultConfig;

/// A secret's text, shared by every reference to it.
pub(crate) type Text = Arc<Zeroizing<String>>;

/// How far past `neg_ttl` repeated failures push the next retry: 16 times, at most.
const MAX_BACKOFF_DOUBLINGS: u32 = 4;

/// Retries and rotation passes move by up to this fraction of their delay, either way.
pub(crate) const JITTER: f64 = 0.1;

/// Takes a lock even if a thread panicked while holding it: every structure behind the
/// crate's locks stays consistent between statements, so a panic elsewhere (a user's hook,
/// a backend) must not make the resolver unusable.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Kong's cache settings of one vault configuration.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Ttls {
    pub(crate) ttl: Option<Duration>,
    pub(crate) neg_ttl: Option<Duration>,
    pub(crate) resurrect_ttl: Option<Duration>,
}

impl Ttls {
    /// Reads the three options; `0` means unset, as in Kong.
    pub(crate) fn from_config(config: &VaultConfig) -> Result<Ttls, VaultError> {
        let seconds = |name: &str| -> Result<Option<Duration>, VaultError> {
            Ok(config
                .duration(name, crate::vault::MAX_TTL)?
                .filter(|d| !d.is_zero()))
        };
        Ok(Ttls {
            ttl: seconds("ttl")?,
            neg_ttl: seconds("neg_ttl")?,
            resurrect_ttl: seconds("resurrect_ttl")?,
        })
    }
}

/// What a request gets: the text or the failure, and a failure that was papered over by
/// serving the previous value.
pub(crate) struct Outcome {
    pub(crate) result: Result<Text, VaultError>,
    pub(crate) resurrected: Option<VaultError>,
    /// Whether the vault was asked (false: served from the cache).
    pub(crate) fetched: bool,
}

/// What a rotation refresh of one key did.
pub(crate) struct Refreshed {
    pub(crate) outcome: Outcome,
    /// The value changed (a new text was fetched that differs from the previous one).
    pub(crate) changed: bool,
    /// Orders the entries stored in a slot: what followers of the secret applied last is
    /// not overwritten by an older refresh that finishes later.
    pub(crate) seq: u64,
}

/// Keys are `K`; each slot also keeps a context `C` given when it is created: what is
/// needed to fetch the key again (for the resolver, the vault configuration, which the key
/// only names by digest).
pub(crate) struct Cache<K: std::hash::Hash + Eq, C = ()> {
    slots: Mutex<LruCache<K, (Arc<KeySlot>, C)>>,
    capacity: usize,
    clock: Arc<dyn Clock>,
}

impl<K: std::hash::Hash + Eq, C> Cache<K, C> {
    pub(crate) fn new(capacity: usize, clock: Arc<dyn Clock>) -> Self {
        Cache {
            slots: Mutex::new(LruCache::unbounded()),
            capacity: capacity.max(1),
            clock,
        }
    }
}

impl<K: std::hash::Hash + Eq, C> Default for Cache<K, C> {
    fn default() -> Self {
        Self::new(DEFAULT_CAPACITY, Arc::new(crate::clock::SystemClock))
    }
}

/// Distinct secrets (and failures) a resolver keeps by default: Kong's per-worker LRU holds
/// 1,000 references; a configuration rarely names more than a few dozen secrets.
pub(crate) const DEFAULT_CAPACITY: usize = 1000;

#[derive(Default)]
struct KeySlot {
    state: Mutex<State>,
    ready: Condvar,
    /// A rotation is refreshing this key: readers of a stale entry take it as it is.
    refreshing: AtomicBool,
    /// Followed by live secrets: never evicted, or they would stop rotating.
    pinned: AtomicBool,
    /// How many entries were stored (see [`Refreshed::seq`]).
    seq: std::sync::atomic::AtomicU64,
}

#[derive(Default)]
enum State {
    #[default]
    Empty,
    Fetching,
    Ready(Stored),
}

#[derive(Clone)]
struct Stored {
    result: Result<Text, VaultError>,
    /// When this entry stops being served without asking the vault (`None`: never).
    fresh_until: Option<Instant>,
    /// The last value the vault gave, and until when it may be served after failures.
    last_good: Option<(Text, Option<Instant>)>,
    /// The failure hidden by serving `last_good`, if this entry is a resurrection.
    resurrected: Option<VaultError>,
    /// Whether the rotation asks again once the entry is stale: values with a `ttl`, and
    /// failures with a `neg_ttl`; a failure without one waits for a caller.
    rotates: bool,
    /// Failures in a row, for the backoff.
    failures: u32,
}

impl Stored {
    fn is_fresh(&self, now: Instant) -> bool {
        self.fresh_until.is_none_or(|t| now < t)
    }

    fn is_due(&self, now: Instant) -> bool {
        self.rotates && !self.is_fresh(now)
    }

    fn outcome(&self, fetched: bool) -> Outcome {
        Outcome {
            result: self.result.clone(),
            resurrected: self.resurrected.clone(),
            fetched,
        }
    }

    /// The entry after a fetch at `now`, given what was there before.
    fn after(
        fetched: Result<Zeroizing<String>, VaultError>,
        previous: Option<&Stored>,
        ttls: Ttls,
        now: Instant,
    ) -> Stored {
        let last_good = previous.and_then(|e| e.last_good.clone());
        let failures = previous.map_or(0, |e| e.failures);
        match fetched {
            Ok(text) => {
                let text = Arc::new(text);
                let fresh_until = after(now, ttls.ttl);
                let good_until = fresh_until.map(|t| after(t, ttls.resurrect_ttl).unwrap_or(t));
                Stored {
                    result: Ok(text.clone()),
                    fresh_until,
                    last_good: Some((text, good_until)),
                    resurrected: None,
                    rotates: ttls.ttl.is_some(),
                    failures: 0,
                }
            }
            Err(err) => {
                let failures = failures.saturating_add(1);
                let retry = ttls
                    .neg_ttl
                    .and_then(|d| after(now, Some(backoff(d, failures))));
                match last_good {
                    Some((text, good_until)) if good_until.is_none_or(|t| now < t) => Stored {
                        result: Ok(text.clone()),
                        // Ask again after `neg_ttl` (or at the next request), and never past
                        // the resurrection window.
                        fresh_until: match retry {
                            Some(retry) => Some(good_until.map_or(retry, |end| retry.min(end))),
                            None => Some(now),
                        },
                        last_good: Some((text, good_until)),
                        resurrected: Some(err),
                        // The value had a ttl (it is being resurrected): keep trying.
                        rotates: true,
                        failures,
                    },
                    _ => Stored {
                        result: Err(err),
                        fresh_until: Some(retry.unwrap_or(now)),
                        last_good: None,
                        resurrected: None,
                        rotates: retry.is_some(),
                        failures,
                    },
                }
            }
        }
    }
}

/// `neg_ttl`, doubled for each failure in a row after the first (up to 16 times), with
/// jitter.
fn backoff(neg_ttl: Duration, failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(MAX_BACKOFF_DOUBLINGS);
    let delay = neg_ttl
        .checked_mul(1 << doublings)
        .unwrap_or(neg_ttl)
        .min(crate::vault::MAX_TTL);
    jitter(delay, JITTER)
}

fn after(now: Instant, d: Option<Duration>) -> Option<Instant> {
    d.and_then(|d| now.checked_add(d))
}

/// If a fetch panics, waiting callers must not wait forever.
struct Reset<'a> {
    slot: &'a KeySlot,
    done: bool,
}

impl Drop for Reset<'_> {
    fn drop(&mut self) {
        if !self.done {
            *lock(&self.slot.state) = State::Empty;
            self.slot.refreshing.store(false, Ordering::Release);
            self.slot.ready.notify_all();
        }
    }
}

impl<K: std::hash::Hash + Eq + Clone, C: Clone> Cache<K, C> {
    fn slot(&self, key: &K, context: &C) -> Arc<KeySlot> {
        let mut slots = lock(&self.slots);
        if let Some((slot, _)) = slots.get(key) {
            return slot.clone();
        }
        let slot = Arc::new(KeySlot::default());
        slots.put(key.clone(), (slot.clone(), context.clone()));
        self.evict(&mut slots, key);
        slot
    }

    /// Drops the least recently used slots past the capacity, skipping pinned ones and the
    /// one just added. A slot being fetched stays alive for its fetcher and waiters (they
    /// hold it), it only leaves the map.
    fn evict(&self, slots: &mut LruCache<K, (Arc<KeySlot>, C)>, added: &K) {
        while slots.len() > self.capacity {
            let victim = slots
                .iter()
                .rev()
                .find(|(k, (slot, _))| *k != added && !slot.pinned.load(Ordering::Acquire))
                .map(|(k, _)| k.clone());
            match victim {
                Some(k) => {
                    slots.pop(&k);
                }
                // Every slot is followed by a live secret: the cache grows rather than stop
                // a live secret from rotating.
                None => break,
            }
        }
    }

    /// Marks a key as followed by live secrets (or no longer): pinned slots are not evicted.
    pub(crate) fn pin(&self, key: &K, pinned: bool) {
        if let Some((slot, _)) = lock(&self.slots).peek(key) {
            slot.pinned.store(pinned, Ordering::Release);
        }
    }

    /// The cached outcome for `key`, or `fetch`'s, shared with concurrent callers.
    pub(crate) fn get(
        &self,
        key: &K,
        context: &C,
        ttls: Ttls,
        fetch: impl FnOnce() -> Result<Zeroizing<String>, VaultError>,
    ) -> Outcome {
        let slot = self.slot(key, context);
        let mut state = lock(&slot.state);
        loop {
            match &*state {
                State::Ready(entry) if entry.is_fresh(self.clock.now()) => {
                    return entry.outcome(false);
                }
                // Stale while the rotation revalidates it: serve it rather than wait.
                State::Ready(entry) if slot.refreshing.load(Ordering::Acquire) => {
                    return entry.outcome(false);
                }
                State::Fetching => {
                    state = slot
                        .ready
                        .wait(state)
                        .unwrap_or_else(PoisonError::into_inner);
                }
                _ => break,
            }
        }
        let previous = match std::mem::replace(&mut *state, State::Fetching) {
            State::Ready(entry) => Some(entry),
            _ => None,
        };
        drop(state);

        let mut reset = Reset {
            slot: &slot,
            done: false,
        };
        let fetched = fetch();
        let entry = Stored::after(fetched, previous.as_ref(), ttls, self.clock.now());
        let outcome = entry.outcome(true);
        {
            let mut state = lock(&slot.state);
            *state = State::Ready(entry);
            slot.seq.fetch_add(1, Ordering::AcqRel);
        }
        reset.done = true;
        slot.ready.notify_all();
        outcome
    }

    /// Refreshes `key` if it is due, for the rotation: a value past its `ttl`, a
    /// resurrection or a failure with a `neg_ttl` past its retry time. Readers are not
    /// blocked meanwhile: they get the previous entry. `force` refreshes any entry.
    pub(crate) fn refresh(
        &self,
        key: &K,
        ttls: Ttls,
        force: bool,
        fetch: impl FnOnce() -> Result<Zeroizing<String>, VaultError>,
    ) -> Option<Refreshed> {
        let slot = lock(&self.slots).peek(key)?.0.clone();
        let previous = {
            let state = lock(&slot.state);
            let State::Ready(entry) = &*state else {
                return None;
            };
            if !(force || entry.is_due(self.clock.now()))
                || slot.refreshing.swap(true, Ordering::AcqRel)
            {
                return None;
            }
            // Readers keep being served this entry until the new one is in.
            entry.clone()
        };
        let mut reset = Reset {
            slot: &slot,
            done: false,
        };
        let fetched = fetch();
        let entry = Stored::after(fetched, Some(&previous), ttls, self.clock.now());
        let changed = match (&entry.result, &entry.resurrected, &previous.last_good) {
            (Ok(new), None, Some((old, _))) => new.as_str() != old.as_str(),
            (Ok(_), None, None) => true,
            _ => false,
        };
        let outcome = entry.outcome(true);
        let seq = {
            let mut state = lock(&slot.state);
            *state = State::Ready(entry);
            slot.seq.fetch_add(1, Ordering::AcqRel) + 1
        };
        slot.refreshing.store(false, Ordering::Release);
        reset.done = true;
        slot.ready.notify_all();
        Some(Refreshed {
            outcome,
            changed,
            seq,
        })
    }

    /// Every key with an entry, with its context.
    pub(crate) fn entries(&self) -> Vec<(K, C)> {
        lock(&self.slots)
            .iter()
            .map(|(k, (_, c))| (k.clone(), c.clone()))
            .collect()
    }

    /// How many slots the cache holds.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        lock(&self.slots).len()
    }

    /// Forgets everything.
    pub(crate) fn clear(&self) {
        lock(&self.slots).clear();
    }
}

/// A small map bounded like the cache, for what backends keep between fetches (logins,
/// HTTP agents, credential providers): least recently used out past the capacity.
pub(crate) struct Bounded<K: std::hash::Hash + Eq, V> {
    map: Mutex<LruCache<K, V>>,
}

impl<K: std::hash::Hash + Eq, V> Default for Bounded<K, V> {
    fn default() -> Self {
        Bounded {
            map: Mutex::new(LruCache::unbounded()),
        }
    }
}

// Used by the remote backends only: a build without any has no caller.
#[cfg_attr(
    not(any(
        feature = "hcv",
        feature = "aws",
        feature = "azure",
        feature = "conjur",
        feature = "gcp"
    )),
    allow(dead_code)
)]
impl<K: std::hash::Hash + Eq + Clone, V: Clone> Bounded<K, V> {
    /// The value for `key`, now the most recently used.
    pub(crate) fn get(&self, key: &K) -> Option<V> {
        lock(&self.map).get(key).cloned()
    }

    /// Keeps `value` for `key` (or the value another thread stored first, which is
    /// returned), and drops the least recently used entries past `capacity`.
    pub(crate) fn insert(&self, key: K, value: V, capacity: usize) -> V {
        let mut map = lock(&self.map);
        let kept = map.get_or_insert(key, || value).clone();
        while map.len() > capacity.max(1) {
            map.pop_lru();
        }
        kept
    }

    /// Replaces the value for `key`.
    // Only `hcv` replaces entries; the other backends that keep state build without it.
    #[cfg_attr(not(feature = "hcv"), allow(dead_code))]
    pub(crate) fn put(&self, key: K, value: V, capacity: usize) {
        let mut map = lock(&self.map);
        map.put(key, value);
        while map.len() > capacity.max(1) {
            map.pop_lru();
        }
    }

    /// How many entries are kept.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        lock(&self.map).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use std::sync::atomic::AtomicUsize;

    fn ttls(ttl: u64, neg: u64, resurrect: u64) -> Ttls {
        let d = |ms: u64| (ms > 0).then(|| Duration::from_millis(ms));
        Ttls {
            ttl: d(ttl),
            neg_ttl: d(neg),
            resurrect_ttl: d(resurrect),
        }
    }

    fn ok(s: &str) -> Result<Zeroizing<String>, VaultError> {
        Ok(Zeroizing::new(s.to_owned()))
    }

    fn down() -> Result<Zeroizing<String>, VaultError> {
        Err(VaultError::unreachable("down"))
    }

    fn text(o: &Outcome) -> String {
        o.result
            .as_ref()
            .map(|t| t.to_string())
            .unwrap_or_else(|e| format!("error: {e}"))
    }

    /// A cache on a clock the test moves by hand: no sleeping, no flakiness.
    fn cache(capacity: usize) -> (Cache<u32>, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::new());
        (Cache::new(capacity, clock.clone()), clock)
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn no_ttl_keeps_values_forever() {
        let (cache, clock) = cache(10);
        assert_eq!(text(&cache.get(&1, &(), Ttls::default(), || ok("a"))), "a");
        clock.advance(Duration::from_secs(1_000_000));
        let o = cache.get(&1, &(), Ttls::default(), || ok("b"));
        assert_eq!(text(&o), "a");
        assert!(!o.fetched);
        // Never due for rotation either.
        assert!(
            cache
                .refresh(&1, Ttls::default(), false, || ok("b"))
                .is_none()
        );
    }

    #[test]
    fn ttl_refetches_and_resurrect_ttl_serves_the_old_value() {
        let (cache, clock) = cache(10);
        let t = ttls(50, 0, 200);
        cache.get(&1, &(), t, || ok("v1"));
        clock.advance(ms(49));
        assert!(
            !cache.get(&1, &(), t, || ok("x")).fetched,
            "fresh for 50 ms"
        );
        clock.advance(ms(1));
        // The refresh fails: the old value is served, with a warning.
        let o = cache.get(&1, &(), t, down);
        assert_eq!(text(&o), "v1");
        assert!(o.resurrected.is_some() && o.fetched);
        // Until ttl + resurrect_ttl; then the failure stands.
        clock.advance(ms(199));
        assert_eq!(text(&cache.get(&1, &(), t, down)), "v1");
        clock.advance(ms(1));
        assert_eq!(text(&cache.get(&1, &(), t, down)), "error: down");
        // And the vault is asked again on the next request (no neg_ttl).
        assert_eq!(text(&cache.get(&1, &(), t, || ok("v2"))), "v2");
    }

    #[test]
    fn neg_ttl_remembers_failures_with_backoff() {
        let (cache, clock) = cache(10);
        let t = ttls(0, 1000, 0);
        let asked = AtomicUsize::new(0);
        let failing = || {
            asked.fetch_add(1, Ordering::SeqCst);
            down()
        };
        cache.get(&1, &(), t, failing);
        // Remembered for neg_ttl (± 10% jitter).
        clock.advance(ms(899));
        assert_eq!(text(&cache.get(&1, &(), t, || ok("x"))), "error: down");
        // Retried by the rotation once due, and the next wait doubles: 2 s, 4 s, ... 16 s.
        let mut waits = Vec::new();
        let mut waited = 899;
        for _ in 0..6 {
            while cache.refresh(&1, t, false, failing).is_none() {
                clock.advance(ms(100));
                waited += 100;
                assert!(waited < 20_000, "a failure with neg_ttl is retried");
            }
            waits.push(waited);
            waited = 0;
        }
        // Each wait lies within ±10% (and one 100 ms step) of neg_ttl × 2^k, capped at 16×.
        let expected = [1000u64, 2000, 4000, 8000, 16000, 16000];
        for (i, (w, e)) in waits.iter().zip(expected).enumerate() {
            let (lo, hi) = (e * 9 / 10, e * 11 / 10 + 100);
            assert!(
                (lo..=hi).contains(w),
                "wait {i}: {w} ms, expected about {e}"
            );
        }
        assert_eq!(asked.load(Ordering::SeqCst), 7);
        // Success resets the backoff.
        clock.advance(ms(20_000));
        assert!(cache.refresh(&1, t, false, || ok("back")).is_some());
        assert_eq!(text(&cache.get(&1, &(), t, || ok("x"))), "back");
    }

    #[test]
    fn failures_without_neg_ttl_wait_for_a_caller() {
        let (cache, clock) = cache(10);
        let t = ttls(0, 0, 0);
        cache.get(&1, &(), t, down);
        clock.advance(Duration::from_secs(3600));
        // The rotation leaves it alone...
        for _ in 0..3 {
            assert!(
                cache
                    .refresh(&1, t, false, || panic!("not fetched"))
                    .is_none()
            );
        }
        // ...a caller asks again.
        assert_eq!(text(&cache.get(&1, &(), t, || ok("x"))), "x");
    }

    #[test]
    fn refresh_only_when_due_and_reports_changes() {
        let (cache, clock) = cache(10);
        let t = ttls(50, 0, 0);
        cache.get(&1, &(), t, || ok("v1"));
        assert!(cache.refresh(&1, t, false, || ok("v2")).is_none(), "fresh");
        clock.advance(ms(50));
        let r = cache.refresh(&1, t, false, || ok("v1")).unwrap();
        assert!(!r.changed);
        clock.advance(ms(50));
        let r = cache.refresh(&1, t, false, || ok("v2")).unwrap();
        assert!(r.changed);
        assert_eq!(text(&cache.get(&1, &(), t, || ok("v3"))), "v2");
        let r = cache.refresh(&1, t, true, || ok("v3")).unwrap();
        assert!(r.changed, "forced");
        assert!(
            cache.refresh(&2, t, true, || ok("x")).is_none(),
            "unknown key"
        );
    }

    #[test]
    fn least_recently_used_go_first_and_pinned_stay() {
        let (cache, _clock) = cache(3);
        for k in 1..=3 {
            cache.get(&k, &(), Ttls::default(), || ok("v"));
        }
        cache.pin(&1, true);
        cache.get(&2, &(), Ttls::default(), || panic!("cached"));
        // 4 evicts the least recently used unpinned slot: 3 (1 is pinned, 2 was just used).
        cache.get(&4, &(), Ttls::default(), || ok("v"));
        assert_eq!(cache.len(), 3);
        let keys: Vec<u32> = {
            let mut k: Vec<u32> = cache.entries().into_iter().map(|(k, _)| k).collect();
            k.sort();
            k
        };
        assert_eq!(keys, [1, 2, 4]);
        // All pinned: the cache grows rather than drop a followed secret.
        for k in [1, 2, 4] {
            cache.pin(&k, true);
        }
        cache.get(&5, &(), Ttls::default(), || ok("v"));
        assert_eq!(cache.len(), 4);
    }

    #[test]
    fn bounded_maps_keep_the_most_recently_used() {
        let map: Bounded<u32, u32> = Bounded::default();
        for k in 0..10 {
            map.insert(k, k, 3);
        }
        assert_eq!(map.len(), 3);
        assert_eq!(map.get(&9), Some(9));
        assert_eq!(map.get(&0), None);
        // The first value stored wins; the caller gets it.
        assert_eq!(map.insert(9, 99, 3), 9);
        map.put(9, 99, 3);
        assert_eq!(map.get(&9), Some(99));
    }

    #[test]
    fn readers_are_not_blocked_by_a_refresh() {
        let clock = Arc::new(ManualClock::new());
        let cache: Arc<Cache<u32>> = Arc::new(Cache::new(10, clock.clone()));
        let t = ttls(10, 0, 0);
        cache.get(&1, &(), t, || ok("old"));
        clock.advance(ms(10));
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
        let refresher = {
            let cache = cache.clone();
            std::thread::spawn(move || {
                cache.refresh(&1, t, false, || {
                    started_tx.send(()).unwrap();
                    go_rx.recv().unwrap();
                    ok("new")
                })
            })
        };
        started_rx.recv().unwrap();
        // The refresh is in flight: a reader gets the old value at once, without fetching.
        let o = cache.get(&1, &(), t, || panic!("must not fetch"));
        assert_eq!(text(&o), "old");
        go_tx.send(()).unwrap();
        assert!(refresher.join().unwrap().unwrap().changed);
    }

    #[test]
    fn concurrent_callers_share_one_fetch() {
        let (cache, _clock) = cache(10);
        let cache = Arc::new(cache);
        let calls = Arc::new(AtomicUsize::new(0));
        let (in_fetch_tx, in_fetch_rx) = std::sync::mpsc::channel();
        let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
        let first = {
            let (cache, calls) = (cache.clone(), calls.clone());
            std::thread::spawn(move || {
                text(&cache.get(&7, &(), Ttls::default(), || {
                    calls.fetch_add(1, Ordering::SeqCst);
                    in_fetch_tx.send(()).unwrap();
                    go_rx.recv().unwrap();
                    ok("shared")
                }))
            })
        };
        in_fetch_rx.recv().unwrap();
        // Others arrive while the fetch is in flight; they wait for it.
        let others: Vec<_> = (0..7)
            .map(|_| {
                let (cache, calls) = (cache.clone(), calls.clone());
                std::thread::spawn(move || {
                    text(&cache.get(&7, &(), Ttls::default(), || {
                        calls.fetch_add(1, Ordering::SeqCst);
                        ok("second fetch")
                    }))
                })
            })
            .collect();
        go_tx.send(()).unwrap();
        assert_eq!(first.join().unwrap(), "shared");
        for t in others {
            assert_eq!(t.join().unwrap(), "shared");
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_panicking_fetch_does_not_block_waiters() {
        let (cache, _clock) = cache(10);
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            cache.get(&1, &(), Ttls::default(), || panic!("boom"))
        }));
        assert!(r.is_err());
        assert_eq!(
            text(&cache.get(&1, &(), Ttls::default(), || ok("after"))),
            "after"
        );
    }
}
