//! The resolver's cache of remote secrets, with Kong's three TTLs:
//!
//! - `ttl`: how long a fetched value is served before it is fetched again (unset or `0`:
//!   kept until the resolver is dropped, as Kong's documentation says of `ttl = 0`);
//! - `neg_ttl`: how long a failure is remembered before the vault is asked again (unset or
//!   `0`: not remembered, so the next request asks again);
//! - `resurrect_ttl`: when a refresh fails, how long after its `ttl` ran out the previous
//!   value may still be served (the failure is then reported as a warning).
//!
//! Each key has a slot; concurrent requests for a key share one fetch (the others wait on
//! the slot), and no lock is held while fetching. While the rotation refreshes a key, readers
//! keep getting the previous entry instead of waiting.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use hashbrown::HashMap;
use zeroize::Zeroizing;

use crate::error::VaultError;
use crate::vault::VaultConfig;

/// A secret's text, shared by every reference to it.
pub(crate) type Text = Arc<Zeroizing<String>>;

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
}

/// Keys are `K`; each slot also keeps a context `C` given when it is created: what is
/// needed to fetch the key again (for the resolver, the vault configuration, which the key
/// only names by digest).
pub(crate) struct Cache<K, C = ()> {
    slots: Mutex<HashMap<K, (Arc<Slot>, C)>>,
}

impl<K, C> Default for Cache<K, C> {
    fn default() -> Self {
        Cache {
            slots: Mutex::new(HashMap::new()),
        }
    }
}

#[derive(Default)]
struct Slot {
    state: Mutex<State>,
    ready: Condvar,
    /// A rotation is refreshing this key: readers of a stale entry take it as it is.
    refreshing: AtomicBool,
}

#[derive(Default)]
enum State {
    #[default]
    Empty,
    Fetching,
    Ready(Entry),
}

struct Entry {
    result: Result<Text, VaultError>,
    /// When this entry stops being served without asking the vault (`None`: never).
    fresh_until: Option<Instant>,
    /// The last value the vault gave, and until when it may be served after failures.
    last_good: Option<(Text, Option<Instant>)>,
    /// The failure hidden by serving `last_good`, if this entry is a resurrection.
    resurrected: Option<VaultError>,
}

impl Entry {
    fn is_fresh(&self, now: Instant) -> bool {
        self.fresh_until.is_none_or(|t| now < t)
    }

    fn outcome(&self, fetched: bool) -> Outcome {
        Outcome {
            result: self.result.clone(),
            resurrected: self.resurrected.clone(),
            fetched,
        }
    }

    /// The entry after a fetch, given what was there before.
    fn after(
        fetched: Result<Zeroizing<String>, VaultError>,
        previous: Option<(Text, Option<Instant>)>,
        ttls: Ttls,
    ) -> Entry {
        let now = Instant::now();
        match fetched {
            Ok(text) => {
                let text = Arc::new(text);
                let fresh_until = after(now, ttls.ttl);
                let good_until = fresh_until.map(|t| after(t, ttls.resurrect_ttl).unwrap_or(t));
                Entry {
                    result: Ok(text.clone()),
                    fresh_until,
                    last_good: Some((text, good_until)),
                    resurrected: None,
                }
            }
            Err(err) => match previous {
                Some((text, good_until)) if good_until.is_none_or(|t| now < t) => Entry {
                    result: Ok(text.clone()),
                    // Ask again after `neg_ttl` (or at the next request), and never past the
                    // resurrection window.
                    fresh_until: match after(now, ttls.neg_ttl) {
                        Some(retry) => Some(good_until.map_or(retry, |end| retry.min(end))),
                        None => Some(now),
                    },
                    last_good: Some((text, good_until)),
                    resurrected: Some(err),
                },
                _ => Entry {
                    result: Err(err),
                    fresh_until: Some(after(now, ttls.neg_ttl).unwrap_or(now)),
                    last_good: None,
                    resurrected: None,
                },
            },
        }
    }
}

fn after(now: Instant, d: Option<Duration>) -> Option<Instant> {
    d.and_then(|d| now.checked_add(d))
}

/// If a fetch panics, waiting callers must not wait forever.
struct Reset<'a> {
    slot: &'a Slot,
    done: bool,
}

impl Drop for Reset<'_> {
    fn drop(&mut self) {
        if !self.done {
            if let Ok(mut s) = self.slot.state.lock() {
                *s = State::Empty;
            }
            self.slot.refreshing.store(false, Ordering::Release);
            self.slot.ready.notify_all();
        }
    }
}

impl<K: std::hash::Hash + Eq + Clone, C: Clone> Cache<K, C> {
    fn slot(&self, key: &K, context: &C) -> Arc<Slot> {
        let mut slots = self.slots.lock().expect("cache lock");
        match slots.get(key) {
            Some((slot, _)) => slot.clone(),
            None => {
                let slot = Arc::new(Slot::default());
                slots.insert(key.clone(), (slot.clone(), context.clone()));
                slot
            }
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
        let mut state = slot.state.lock().expect("slot lock");
        loop {
            match &*state {
                State::Ready(entry) if entry.is_fresh(Instant::now()) => {
                    return entry.outcome(false);
                }
                // Stale while the rotation revalidates it: serve it rather than wait.
                State::Ready(entry) if slot.refreshing.load(Ordering::Acquire) => {
                    return entry.outcome(false);
                }
                State::Fetching => {
                    state = slot.ready.wait(state).expect("slot lock");
                }
                _ => break,
            }
        }
        let previous = match std::mem::replace(&mut *state, State::Fetching) {
            State::Ready(entry) => entry.last_good,
            _ => None,
        };
        drop(state);

        let mut reset = Reset {
            slot: &slot,
            done: false,
        };
        let entry = Entry::after(fetch(), previous, ttls);
        let outcome = entry.outcome(true);
        *slot.state.lock().expect("slot lock") = State::Ready(entry);
        reset.done = true;
        slot.ready.notify_all();
        outcome
    }

    /// Refreshes `key` if it is due (its entry is stale), for the rotation. Readers are not
    /// blocked meanwhile: they get the previous entry. `force` refreshes even a fresh entry.
    pub(crate) fn refresh(
        &self,
        key: &K,
        ttls: Ttls,
        force: bool,
        fetch: impl FnOnce() -> Result<Zeroizing<String>, VaultError>,
    ) -> Option<Refreshed> {
        let slot = self.slots.lock().expect("cache lock").get(key)?.0.clone();
        let previous = {
            let state = slot.state.lock().expect("slot lock");
            match &*state {
                State::Ready(entry) if force || !entry.is_fresh(Instant::now()) => {
                    if slot.refreshing.swap(true, Ordering::AcqRel) {
                        return None;
                    }
                    entry.last_good.clone()
                }
                _ => return None,
            }
        };
        let mut reset = Reset {
            slot: &slot,
            done: false,
        };
        let entry = Entry::after(fetch(), previous.clone(), ttls);
        let changed = match (&entry.result, &entry.resurrected, &previous) {
            (Ok(new), None, Some((old, _))) => new.as_str() != old.as_str(),
            (Ok(_), None, None) => true,
            _ => false,
        };
        let outcome = entry.outcome(true);
        *slot.state.lock().expect("slot lock") = State::Ready(entry);
        slot.refreshing.store(false, Ordering::Release);
        reset.done = true;
        slot.ready.notify_all();
        Some(Refreshed { outcome, changed })
    }

    /// Every key with an entry, with its context.
    pub(crate) fn entries(&self) -> Vec<(K, C)> {
        self.slots
            .lock()
            .expect("cache lock")
            .iter()
            .map(|(k, (_, c))| (k.clone(), c.clone()))
            .collect()
    }

    /// Forgets everything.
    pub(crate) fn clear(&self) {
        self.slots.lock().expect("cache lock").clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    fn ttls(ttl: f64, neg: f64, resurrect: f64) -> Ttls {
        let d = |s: f64| (s > 0.0).then(|| Duration::from_secs_f64(s));
        Ttls {
            ttl: d(ttl),
            neg_ttl: d(neg),
            resurrect_ttl: d(resurrect),
        }
    }

    fn ok(s: &str) -> Result<Zeroizing<String>, VaultError> {
        Ok(Zeroizing::new(s.to_owned()))
    }

    fn text(o: &Outcome) -> String {
        o.result
            .as_ref()
            .map(|t| t.to_string())
            .unwrap_or_else(|e| format!("error: {e}"))
    }

    #[test]
    fn no_ttl_keeps_values_forever() {
        let cache: Cache<_> = Cache::default();
        assert_eq!(text(&cache.get(&1, &(), Ttls::default(), || ok("a"))), "a");
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
        let cache: Cache<_> = Cache::default();
        let t = ttls(0.05, 0.0, 0.2);
        cache.get(&1, &(), t, || ok("v1"));
        std::thread::sleep(Duration::from_millis(70));
        // The refresh fails: the old value is served, with a warning.
        let o = cache.get(&1, &(), t, || Err(VaultError::unreachable("down")));
        assert_eq!(text(&o), "v1");
        assert!(o.resurrected.is_some() && o.fetched);
        // Past ttl + resurrect_ttl, the failure stands.
        std::thread::sleep(Duration::from_millis(200));
        let o = cache.get(&1, &(), t, || Err(VaultError::unreachable("down")));
        assert_eq!(text(&o), "error: down");
        // And the vault is asked again on the next request (no neg_ttl).
        let o = cache.get(&1, &(), t, || ok("v2"));
        assert_eq!(text(&o), "v2");
    }

    #[test]
    fn neg_ttl_remembers_failures() {
        let cache: Cache<_> = Cache::default();
        let t = ttls(0.0, 0.05, 0.0);
        cache.get(&1, &(), t, || Err(VaultError::not_found("no")));
        let o = cache.get(&1, &(), t, || ok("x"));
        assert_eq!(text(&o), "error: no");
        std::thread::sleep(Duration::from_millis(70));
        assert_eq!(text(&cache.get(&1, &(), t, || ok("x"))), "x");
    }

    #[test]
    fn refresh_only_when_due_and_reports_changes() {
        let cache: Cache<_> = Cache::default();
        let t = ttls(0.05, 0.0, 0.0);
        cache.get(&1, &(), t, || ok("v1"));
        assert!(cache.refresh(&1, t, false, || ok("v2")).is_none(), "fresh");
        std::thread::sleep(Duration::from_millis(70));
        let r = cache.refresh(&1, t, false, || ok("v1")).unwrap();
        assert!(!r.changed);
        std::thread::sleep(Duration::from_millis(70));
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
    fn readers_are_not_blocked_by_a_refresh() {
        let cache: Arc<Cache<_>> = Arc::new(Cache::default());
        let t = ttls(0.01, 0.0, 0.0);
        cache.get(&1, &(), t, || ok("old"));
        std::thread::sleep(Duration::from_millis(20));
        let (started, go) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicBool::new(false)),
        );
        let refresher = {
            let (cache, started, go) = (cache.clone(), started.clone(), go.clone());
            std::thread::spawn(move || {
                cache.refresh(&1, t, false, || {
                    started.store(true, Ordering::SeqCst);
                    while !go.load(Ordering::SeqCst) {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    ok("new")
                })
            })
        };
        while !started.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(1));
        }
        // The refresh is in flight: a reader gets the old value at once, without fetching.
        let o = cache.get(&1, &(), t, || panic!("must not fetch"));
        assert_eq!(text(&o), "old");
        go.store(true, Ordering::SeqCst);
        assert!(refresher.join().unwrap().unwrap().changed);
    }

    #[test]
    fn concurrent_callers_share_one_fetch() {
        let cache: Arc<Cache<_>> = Arc::new(Cache::default());
        let calls = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (cache, calls) = (cache.clone(), calls.clone());
                std::thread::spawn(move || {
                    text(&cache.get(&"k", &(), Ttls::default(), || {
                        calls.fetch_add(1, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(50));
                        ok("shared")
                    }))
                })
            })
            .collect();
        for t in threads {
            assert_eq!(t.join().unwrap(), "shared");
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_panicking_fetch_does_not_block_waiters() {
        let cache: Cache<_> = Cache::default();
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
