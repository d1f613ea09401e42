//! Reading a live secret, beside the ways to read a value that may change, in one run, from
//! 1 and from 8 threads. A read is what a request handler does: take the current value and
//! use it.
//!
//! - `baseline_arc_string_deref`: a plain `Arc<String>` that never changes (the floor);
//! - `baseline_arc_string_clone`: taking a handle on it;
//! - `arc_swap_load`: `ArcSwap::load`, the well-known crate for swappable values;
//! - `rwlock_arc_string_read`: a lock around the current value, the obvious way;
//! - `live_expose_secret`: a literal `Live` (no vault secret behind it);
//! - `live_following_a_vault_secret`: a `Live` resolved through the cache, in a group;
//! - `live_while_rotating`: the same while another thread rotates it every 100 µs.
//!
//! `cargo bench -p secret-ref --bench live`

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, RwLock};

use arc_swap::ArcSwap;
use divan::black_box;
use secret_ref::vault::{Request, Vault, VaultOption};
use secret_ref::zeroize::Zeroizing;
use secret_ref::{Live, Resolver, VaultError};

fn main() {
    divan::main();
}

const VALUE: &str = "opensesame-0123456789";

static PLAIN: LazyLock<Arc<String>> = LazyLock::new(|| Arc::new(VALUE.into()));
static SWAP: LazyLock<ArcSwap<String>> = LazyLock::new(|| ArcSwap::from_pointee(VALUE.into()));
static LOCKED: LazyLock<RwLock<Arc<String>>> =
    LazyLock::new(|| RwLock::new(Arc::new(VALUE.into())));
static LITERAL: LazyLock<Live<String>> = LazyLock::new(|| Live::new(VALUE.into()));

/// A vault whose value changes each time it is asked.
struct Counter(AtomicUsize);

impl Vault for Counter {
    fn options(&self) -> &'static [VaultOption] {
        &[]
    }

    fn fetch(&self, _: &Request<'_>) -> Result<Zeroizing<String>, VaultError> {
        let n = self.0.fetch_add(1, Ordering::Relaxed);
        Ok(Zeroizing::new(format!("{VALUE}-{n}")))
    }
}

fn followed() -> (Resolver, Live<String>) {
    let resolver = Resolver::builder()
        .vault("counter", Counter(AtomicUsize::new(0)))
        .configure("counter", "ttl", "3600")
        .build()
        .unwrap();
    let mut live: Live<String> = Live::from_reference("{vault://counter/db}".parse().unwrap());
    resolver.resolve(&mut live).unwrap();
    (resolver, live)
}

static FOLLOWED: LazyLock<(Resolver, Live<String>)> = LazyLock::new(followed);

/// Rotated by a thread of its own, every 100 µs, for as long as the process runs.
static ROTATING: LazyLock<Live<String>> = LazyLock::new(|| {
    let (resolver, live) = followed();
    std::thread::spawn(move || {
        loop {
            resolver.refresh_all();
            std::thread::sleep(std::time::Duration::from_micros(100));
        }
    });
    live
});

#[divan::bench(threads = [1, 8], sample_count = 200, sample_size = 1000)]
fn baseline_arc_string_deref() -> usize {
    black_box(&*PLAIN).len()
}

#[divan::bench(threads = [1, 8], sample_count = 200, sample_size = 1000)]
fn baseline_arc_string_clone() -> usize {
    let value = Arc::clone(black_box(&*PLAIN));
    value.len()
}

#[divan::bench(threads = [1, 8], sample_count = 200, sample_size = 1000)]
fn arc_swap_load() -> usize {
    let value = black_box(&*SWAP).load();
    value.len()
}

#[divan::bench(threads = [1, 8], sample_count = 200, sample_size = 1000)]
fn rwlock_arc_string_read() -> usize {
    let value = Arc::clone(&black_box(&*LOCKED).read().unwrap());
    value.len()
}

#[divan::bench(threads = [1, 8], sample_count = 200, sample_size = 1000)]
fn live_expose_secret() -> usize {
    let value = black_box(&*LITERAL).expose_secret();
    value.len()
}

#[divan::bench(threads = [1, 8], sample_count = 200, sample_size = 1000)]
fn live_following_a_vault_secret() -> usize {
    let value = black_box(&FOLLOWED.1).expose_secret();
    value.len()
}

#[divan::bench(threads = [1, 8], sample_count = 200, sample_size = 1000)]
fn live_while_rotating() -> usize {
    let value = black_box(&*ROTATING).expose_secret();
    value.len()
}
