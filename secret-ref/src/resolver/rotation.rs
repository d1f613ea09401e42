//! Rotation: asking the vaults again for cached secrets whose `ttl` ran out, as Kong's
//! `secret-rotation` timer does, on a thread of the resolver's own.

use std::sync::{Arc, Condvar, Mutex, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{Effective, FetchKey, Inner, Resolver, resurrection_for_key};
use crate::audit;

/// Kong's default rotation interval (`KONG_VAULT_ROTATION_INTERVAL`).
pub(crate) const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);

/// What one rotation pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RotationReport {
    /// Cached secrets looked at.
    pub checked: usize,
    /// Secrets fetched again (their `ttl`, or `neg_ttl` for failures, had run out).
    pub fetched: usize,
    /// Secrets whose value changed (and whose live secrets were updated).
    pub changed: usize,
    /// Fetches that failed while a previous value was still served (`resurrect_ttl`).
    pub resurrected: usize,
    /// Fetches that failed with no previous value to serve.
    pub failed: usize,
}

impl Resolver {
    /// One rotation pass: every cached secret whose `ttl` ran out (or, for a failure, whose
    /// `neg_ttl` did) is fetched again, several at a time; changed values reach the
    /// [`Live`](crate::Live) secrets that follow them; failures within `resurrect_ttl` keep
    /// the previous value and are reported as warnings. Secrets without a `ttl` are kept as
    /// they are, as in Kong. Readers are never blocked: they get the previous value until the
    /// new one is in.
    pub fn rotate(&self) -> RotationReport {
        self.rotate_keys(false)
    }

    /// Fetches every cached secret again now, whatever its `ttl`, and updates the live
    /// secrets that follow them.
    pub fn refresh_all(&self) -> RotationReport {
        self.rotate_keys(true)
    }

    fn rotate_keys(&self, force: bool) -> RotationReport {
        let keys = self.inner.cache.entries();
        let results = self.for_each_bounded(&keys, |(key, effective)| {
            self.rotate_key(key, effective, force)
        });
        let mut report = RotationReport {
            checked: keys.len(),
            ..RotationReport::default()
        };
        for (_, outcome) in results {
            match outcome {
                None => {}
                Some(Rotated::Changed) => {
                    report.fetched += 1;
                    report.changed += 1;
                }
                Some(Rotated::Unchanged) => report.fetched += 1,
                Some(Rotated::Resurrected) => {
                    report.fetched += 1;
                    report.resurrected += 1;
                }
                Some(Rotated::Failed) => {
                    report.fetched += 1;
                    report.failed += 1;
                }
            }
        }
        report
    }

    fn rotate_key(
        &self,
        key: &FetchKey,
        effective: &Arc<Effective>,
        force: bool,
    ) -> Option<Rotated> {
        let backend = self.inner.backends.get(&*key.backend)?;
        let started = Instant::now();
        let refreshed = self.inner.cache.refresh(key, effective.ttls, force, || {
            backend
                .vault
                .fetch(&self.request(&key.resource, key.version, &effective.config))
        })?;
        let label = key.label();
        let outcome = &refreshed.outcome;
        let rotated = match (&outcome.result, &outcome.resurrected) {
            (_, Some(err)) => {
                let warning = resurrection_for_key(err, &label, &key.backend);
                audit::resurrected(&warning);
                if let Some(hook) = &self.inner.on_warning {
                    hook(&warning);
                }
                Rotated::Resurrected
            }
            (Err(_), None) => Rotated::Failed,
            (Ok(_), None) if refreshed.changed => {
                self.propagate(key, outcome);
                Rotated::Changed
            }
            (Ok(_), None) => Rotated::Unchanged,
        };
        let name = match (&outcome.result, rotated) {
            (Err(e), _) => e.kind().as_str(),
            (_, Rotated::Changed) => "changed",
            (_, Rotated::Resurrected) => outcome
                .resurrected
                .as_ref()
                .map_or("ok", |e| e.kind().as_str()),
            _ => "unchanged",
        };
        audit::rotation(&key.backend, &label, name, started.elapsed());
        Some(rotated)
    }

    /// Runs [`rotate`](Resolver::rotate) every `interval` on a thread of its own, until the
    /// returned [`Rotation`] is dropped (or stopped), or every clone of this resolver is
    /// dropped. Kong rotates every 60 seconds; a secret is refreshed at the first pass after
    /// its `ttl` ran out, so `interval` is the granularity of rotation.
    ///
    /// ```
    /// use std::time::Duration;
    /// use secret_ref::Resolver;
    ///
    /// let resolver = Resolver::new();
    /// let rotation = resolver.start_rotation(Duration::from_secs(60));
    /// // ... the service runs; `Live` secrets follow their vaults ...
    /// rotation.stop();
    /// ```
    pub fn start_rotation(&self, interval: Duration) -> Rotation {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        let signal = stop.clone();
        let thread = std::thread::Builder::new()
            .name("secret-ref-rotation".into())
            .spawn(move || {
                let (lock, wake) = &*signal;
                let mut stopped = lock.lock().expect("rotation lock");
                loop {
                    // Waits the interval, or less if told to stop (even before waiting).
                    let (guard, _) = wake
                        .wait_timeout_while(stopped, interval, |stop| !*stop)
                        .expect("rotation lock");
                    stopped = guard;
                    if *stopped {
                        break;
                    }
                    // The resolver is gone: nothing left to rotate.
                    let Some(inner) = weak.upgrade() else { break };
                    drop(stopped);
                    Resolver { inner }.rotate();
                    stopped = lock.lock().expect("rotation lock");
                }
            })
            .expect("spawning the rotation thread");
        Rotation {
            stop,
            thread: Some(thread),
        }
    }
}

#[derive(Clone, Copy)]
enum Rotated {
    Changed,
    Unchanged,
    Resurrected,
    Failed,
}

/// A running rotation thread; see [`Resolver::start_rotation`]. Dropping it stops the thread
/// (waiting for a pass in progress to finish).
pub struct Rotation {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl Rotation {
    /// Stops the thread and waits for it.
    pub fn stop(mut self) {
        self.halt();
    }

    /// Whether the thread still runs (it ends by itself when its resolver is dropped).
    pub fn is_running(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    fn halt(&mut self) {
        let (lock, wake) = &*self.stop;
        *lock.lock().expect("rotation lock") = true;
        wake.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Rotation {
    fn drop(&mut self) {
        self.halt();
    }
}

impl std::fmt::Debug for Rotation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rotation")
            .field("running", &self.is_running())
            .finish()
    }
}
