//! Rotation: asking the vaults again for cached secrets whose `ttl` ran out, as Kong's
//! `secret-rotation` timer does, on a thread of the resolver's own.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::sync::{Arc, Condvar, Mutex, PoisonError, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::watch::resurrection_for_key;
use super::{Effective, FetchKey, Inner, Resolver};
use crate::audit;
use crate::cache::{JITTER, lock};
use crate::clock::jitter;

/// Kong's default rotation interval (`KONG_VAULT_ROTATION_INTERVAL`).
pub(crate) const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);

/// A live secret's value changed; see [`ResolverBuilder::on_change`](crate::ResolverBuilder::on_change).
#[derive(Clone, Debug)]
pub struct Change {
    pub(crate) reference: Box<str>,
    pub(crate) vault: Box<str>,
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
        self.rotate_keys(false, None)
    }

    /// Fetches every cached secret again now, whatever its `ttl`, and updates the live
    /// secrets that follow them.
    pub fn refresh_all(&self) -> RotationReport {
        self.rotate_keys(true, None)
    }

    /// A pass over every cached secret; with `stop`, the secrets not yet started when it is
    /// set are left for the next pass, so that stopping the thread does not wait for them.
    fn rotate_keys(&self, force: bool, stop: Option<&AtomicBool>) -> RotationReport {
        let keys = self.inner.cache.entries();
        let results = self.for_each_bounded(&keys, |(key, effective)| {
            if stop.is_some_and(|s| s.load(Ordering::Acquire)) {
                return None;
            }
            self.rotate_key(key, effective, force)
        });
        // Values held by guards during earlier rotations are freed once unread, even if
        // their secrets do not rotate again.
        let groups: Vec<_> = crate::cache::lock(&self.inner.groups)
            .values()
            .cloned()
            .collect();
        for group in groups {
            group.collect();
        }
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
                self.warn(&warning);
                Rotated::Resurrected
            }
            (Err(_), None) => Rotated::Failed,
            (Ok(_), None) if refreshed.changed => {
                self.propagate(key, outcome, refreshed.seq);
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
    /// its `ttl` ran out, so `interval` is the granularity of rotation. Each wait is moved by
    /// up to 10% either way, so that a fleet of services started together does not ask the
    /// vault in lockstep.
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
        let control = Arc::new(Control {
            stopped: Mutex::new(false),
            wake: Condvar::new(),
            stopping: AtomicBool::new(false),
        });
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        let (alive, exited) = channel::<()>();
        let thread = {
            let control = control.clone();
            std::thread::Builder::new()
                .name("secret-ref-rotation".into())
                .spawn(move || rotation_thread(&control, &weak, interval, alive))
        };
        Rotation {
            control,
            // Without a thread (the system refused one), the handle does nothing.
            thread: thread.ok(),
            exited,
        }
    }
}

/// What a rotation thread and its handle share.
struct Control {
    stopped: Mutex<bool>,
    wake: Condvar,
    /// Read by a pass in progress, between secrets.
    stopping: AtomicBool,
}

/// The thread: waits (jittered), then rotates, until stopped or its resolver is gone.
/// `_alive` is dropped when the thread ends, which is how its handle knows.
fn rotation_thread(control: &Control, weak: &Weak<Inner>, interval: Duration, _alive: Sender<()>) {
    let mut stopped = lock(&control.stopped);
    loop {
        // Waits the interval, or less if told to stop (even before waiting).
        let (guard, _) = control
            .wake
            .wait_timeout_while(stopped, jitter(interval, JITTER), |stop| !*stop)
            .unwrap_or_else(PoisonError::into_inner);
        stopped = guard;
        if *stopped {
            break;
        }
        // The resolver is gone: nothing left to rotate.
        let Some(inner) = weak.upgrade() else { break };
        drop(stopped);
        Resolver { inner }.rotate_keys(false, Some(&control.stopping));
        stopped = lock(&control.stopped);
    }
}

#[derive(Clone, Copy)]
enum Rotated {
    Changed,
    Unchanged,
    Resurrected,
    Failed,
}

/// A running rotation thread; see [`Resolver::start_rotation`]. Dropping it stops the
/// thread: at once if it is waiting; if a pass is in progress, the pass stops before its next
/// secret, and `drop` returns without waiting for a fetch in flight (the thread ends when
/// that fetch does, within the vault's `read_timeout`).
#[must_use = "dropping the Rotation stops the thread at once"]
pub struct Rotation {
    control: Arc<Control>,
    thread: Option<JoinHandle<()>>,
    exited: Receiver<()>,
}

/// How long stopping waits for a pass in progress before leaving the thread to end alone.
const STOP_GRACE: Duration = Duration::from_millis(100);

impl Rotation {
    /// Stops the thread, and waits for it unless a fetch is in flight (see the type's docs).
    pub fn stop(mut self) {
        self.halt();
    }

    /// Whether the thread still runs (it ends by itself when its resolver is dropped).
    pub fn is_running(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    fn halt(&mut self) {
        self.control.stopping.store(true, Ordering::Release);
        *lock(&self.control.stopped) = true;
        self.control.wake.notify_all();
        let Some(thread) = self.thread.take() else {
            return;
        };
        match self.exited.recv_timeout(STOP_GRACE) {
            // Ended (the channel closes with the thread): join to reap it.
            Ok(()) | Err(RecvTimeoutError::Disconnected) => {
                let _ = thread.join();
            }
            // A fetch is in flight: the thread ends by itself once it returns.
            Err(RecvTimeoutError::Timeout) => drop(thread),
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
