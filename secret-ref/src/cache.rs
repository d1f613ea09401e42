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
//! the slot), and no lock is held while fetching.

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
    pub(crate) fn from_config(config: &VaultConfig) -> Result<Ttls, VaultError> {
        let seconds = |name: &str| -> Result<Option<Duration>, VaultError> {
            Ok(config
                .seconds(name)?
                .filter(|s| *s > 0.0)
                .map(Duration::from_secs_f64))
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
}

pub(crate) struct Cache<K> {
    slots: Mutex<HashMap<K, Arc<Slot>>>,
}

impl<K> Default for Cache<K> {
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
    /// When this entry stops being served without asking the vault.
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
}

fn after(now: Instant, d: Option<Duration>) -> Option<Instant> {
    d.and_then(|d| now.checked_add(d))
}

impl<K: std::hash::Hash + Eq + Clone> Cache<K> {
    /// The cached outcome for `key`, or `fetch`'s, shared with concurrent callers.
    pub(crate) fn get(
        &self,
        key: &K,
        ttls: Ttls,
        fetch: impl FnOnce() -> Result<Zeroizing<String>, VaultError>,
    ) -> Outcome {
        let slot = {
            let mut slots = self.slots.lock().expect("cache lock");
            match slots.get(key) {
                Some(slot) => slot.clone(),
                None => {
                    let slot = Arc::new(Slot::default());
                    slots.insert(key.clone(), slot.clone());
                    slot
                }
            }
        };

        let mut state = slot.state.lock().expect("slot lock");
        loop {
            match &*state {
                State::Ready(entry) if entry.is_fresh(Instant::now()) => {
                    return Outcome {
                        result: entry.result.clone(),
                        resurrected: entry.resurrected.clone(),
                    };
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

        // If `fetch` panics, waiting callers must not wait forever.
        struct Reset<'a>(&'a Slot, bool);
        impl Drop for Reset<'_> {
            fn drop(&mut self) {
                if !self.1 {
                    if let Ok(mut s) = self.0.state.lock() {
                        *s = State::Empty;
                    }
                    self.0.ready.notify_all();
                }
            }
        }
        let mut reset = Reset(&slot, false);
        let fetched = fetch();
        let now = Instant::now();

        let entry = match fetched {
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
        };
        let outcome = Outcome {
            result: entry.result.clone(),
            resurrected: entry.resurrected.clone(),
        };
        *slot.state.lock().expect("slot lock") = State::Ready(entry);
        reset.1 = true;
        slot.ready.notify_all();
        outcome
    }

    /// Forgets everything.
    pub(crate) fn clear(&self) {
        self.slots.lock().expect("cache lock").clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

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
        let cache = Cache::default();
        assert_eq!(text(&cache.get(&1, Ttls::default(), || ok("a"))), "a");
        let o = cache.get(&1, Ttls::default(), || ok("b"));
        assert_eq!(text(&o), "a");
    }

    #[test]
    fn ttl_refetches_and_resurrect_ttl_serves_the_old_value() {
        let cache = Cache::default();
        let t = ttls(0.05, 0.0, 0.2);
        cache.get(&1, t, || ok("v1"));
        std::thread::sleep(Duration::from_millis(70));
        // The refresh fails: the old value is served, with a warning.
        let o = cache.get(&1, t, || Err(VaultError::unreachable("down")));
        assert_eq!(text(&o), "v1");
        assert!(o.resurrected.is_some());
        // Past ttl + resurrect_ttl, the failure stands.
        std::thread::sleep(Duration::from_millis(200));
        let o = cache.get(&1, t, || Err(VaultError::unreachable("down")));
        assert_eq!(text(&o), "error: down");
        // And the vault is asked again on the next request (no neg_ttl).
        let o = cache.get(&1, t, || ok("v2"));
        assert_eq!(text(&o), "v2");
    }

    #[test]
    fn neg_ttl_remembers_failures() {
        let cache = Cache::default();
        let t = ttls(0.0, 0.05, 0.0);
        cache.get(&1, t, || Err(VaultError::not_found("no")));
        let o = cache.get(&1, t, || ok("x"));
        assert_eq!(text(&o), "error: no");
        std::thread::sleep(Duration::from_millis(70));
        assert_eq!(text(&cache.get(&1, t, || ok("x"))), "x");
    }

    #[test]
    fn concurrent_callers_share_one_fetch() {
        let cache = Arc::new(Cache::default());
        let calls = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (cache, calls) = (cache.clone(), calls.clone());
                std::thread::spawn(move || {
                    text(&cache.get(&"k", Ttls::default(), || {
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
        let cache = Cache::default();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            cache.get(&1, Ttls::default(), || panic!("boom"))
        }));
        assert!(r.is_err());
        assert_eq!(
            text(&cache.get(&1, Ttls::default(), || ok("after"))),
            "after"
        );
    }
}
