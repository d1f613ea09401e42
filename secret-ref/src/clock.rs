//! Time, as the cache and the rotation see it: injected, so that `ttl`, `neg_ttl` and
//! `resurrect_ttl` can be tested without sleeping.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Where the resolver's cache reads the time. [`SystemClock`] by default; tests give a
/// [`ManualClock`] to [`ResolverBuilder::clock`](crate::ResolverBuilder::clock) and move it
/// forward by hand.
pub trait Clock: Send + Sync + 'static {
    /// The current instant; it must never go backwards.
    fn now(&self) -> Instant;
}

/// The monotonic system clock, [`Instant::now`].
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// A clock that only moves when told to: for tests of expiry, without sleeping.
///
/// ```
/// use std::time::Duration;
/// use secret_ref::clock::{Clock, ManualClock};
///
/// let clock = ManualClock::new();
/// let start = clock.now();
/// clock.advance(Duration::from_secs(90));
/// assert_eq!(clock.now() - start, Duration::from_secs(90));
/// ```
pub struct ManualClock {
    start: Instant,
    elapsed_nanos: AtomicU64,
}

impl ManualClock {
    /// A clock at the present instant, which stays there until advanced.
    pub fn new() -> Self {
        ManualClock {
            start: Instant::now(),
            elapsed_nanos: AtomicU64::new(0),
        }
    }

    /// Moves the clock forward (saturating at about 584 years).
    pub fn advance(&self, by: Duration) {
        let nanos = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        let _ = self
            .elapsed_nanos
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                Some(n.saturating_add(nanos))
            });
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        let elapsed = Duration::from_nanos(self.elapsed_nanos.load(Ordering::Acquire));
        // `checked_add` cannot fail for the durations `advance` can reach on real systems;
        // if it did, the clock stops rather than panicking.
        self.start.checked_add(elapsed).unwrap_or(self.start)
    }
}

impl fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManualClock")
            .field(
                "elapsed",
                &Duration::from_nanos(self.elapsed_nanos.load(Ordering::Acquire)),
            )
            .finish()
    }
}

impl<C: Clock> Clock for std::sync::Arc<C> {
    fn now(&self) -> Instant {
        (**self).now()
    }
}

/// `d` moved by up to ±`fraction` of itself, at random: spreads retries and rotation passes
/// so that a fleet of processes does not hit a vault in lockstep.
pub(crate) fn jitter(d: Duration, fraction: f64) -> Duration {
    use std::hash::{BuildHasher, Hasher};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::hash::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    // A uniform number in [-1, 1).
    let unit = (h.finish() >> 11) as f64 / (1u64 << 52) as f64 - 1.0;
    let factor = 1.0 + fraction.clamp(0.0, 1.0) * unit;
    Duration::try_from_secs_f64(d.as_secs_f64() * factor).unwrap_or(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_its_fraction_and_varies() {
        let d = Duration::from_secs(100);
        let seen: Vec<Duration> = (0..200).map(|_| jitter(d, 0.1)).collect();
        assert!(
            seen.iter()
                .all(|j| *j >= Duration::from_secs(90) && *j <= Duration::from_secs(110))
        );
        assert!(seen.iter().any(|j| *j != seen[0]));
        assert_eq!(jitter(Duration::ZERO, 0.1), Duration::ZERO);
    }

    #[test]
    fn manual_clock_saturates() {
        let clock = ManualClock::new();
        clock.advance(Duration::MAX);
        clock.advance(Duration::MAX);
        let _ = clock.now();
    }
}
