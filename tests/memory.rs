//! Long-running processes stay bounded: a counting allocator measures what a live secret
//! and a resolver keep after many changes and many distinct references.
//!
//! The tests of this file share the allocator's counters, so they take turns.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use common::heap;
use secret_ref::vault::{Request, Vault, VaultOption};
use secret_ref::zeroize::Zeroizing;
use secret_ref::{Live, Resolver, VaultError};

#[global_allocator]
static ALLOCATOR: common::Counting = common::Counting;

static TURNS: Mutex<()> = Mutex::new(());

/// A vault that answers every resource: a counter's value for `changing`, the resource's
/// name otherwise, and a failure for names starting with `fail`.
#[derive(Clone, Default)]
struct Echo {
    changes: Arc<AtomicUsize>,
}

impl Vault for Echo {
    fn options(&self) -> &'static [VaultOption] {
        &[]
    }

    fn fetch(&self, request: &Request<'_>) -> Result<Zeroizing<String>, VaultError> {
        match request.resource() {
            "changing" => Ok(Zeroizing::new(format!(
                "value-{}",
                self.changes.load(Ordering::SeqCst)
            ))),
            r if r.starts_with("fail") => Err(VaultError::not_found(format!("no `{r}`"))),
            r => Ok(Zeroizing::new(format!("value-of-{r}"))),
        }
    }
}

#[test]
fn a_hundred_thousand_changes_of_one_live_secret_keep_the_heap_flat() {
    let _turn = TURNS.lock().unwrap();
    let vault = Echo::default();
    let resolver = Resolver::builder()
        .vault("echo", vault.clone())
        .configure("echo", "ttl", "3600")
        .build()
        .unwrap();
    let mut live: Live<String> = Live::from_reference("{vault://echo/changing}".parse().unwrap());
    resolver.resolve(&mut live).unwrap();
    let changes = live.subscribe();
    // Warm up: the first rotations allocate what stays (the group, thread slots).
    for _ in 0..100 {
        vault.changes.fetch_add(1, Ordering::SeqCst);
        resolver.refresh_all();
        let _ = live.expose_secret().len();
    }
    changes.try_iter().count();
    let before = heap();
    for _ in 0..100_000 {
        vault.changes.fetch_add(1, Ordering::SeqCst);
        assert_eq!(resolver.refresh_all().changed, 1);
        let _ = live.expose_secret().len();
        changes.try_recv().unwrap();
    }
    let grown = heap() - before;
    println!("100,000 changes of one live secret grew the heap by {grown} bytes");
    assert!(grown < 1024 * 1024, "grew by {grown} bytes");
    assert_eq!(*live.expose_secret(), format!("value-{}", 100_100));
}

#[test]
fn four_hundred_thousand_distinct_references_keep_a_resolver_bounded() {
    let _turn = TURNS.lock().unwrap();
    let resolver = Resolver::builder()
        .vault("echo", Echo::default())
        .configure("echo", "ttl", "3600")
        .configure("echo", "neg_ttl", "3600")
        .build()
        .unwrap();
    // Warm up, then measure from a steady state.
    for i in 0..2_000 {
        let _ = resolver.get(&format!("{{vault://echo/warm-{i}}}"));
    }
    let before = heap();
    for i in 0..400_000 {
        // Values, failures, and several spellings of one secret's options.
        let reference = match i % 4 {
            0 => format!("{{vault://echo/secret-{i}}}"),
            1 => format!("{{vault://echo/fail-{i}}}"),
            2 => format!("{{vault://echo/secret-{i}?ttl={}}}", 60 + i % 1000),
            _ => format!("{{vault://echo/db/key-{i}}}"),
        };
        let _ = resolver.get(&reference);
    }
    // Live secrets that are dropped: their groups go when others are added.
    for i in 0..10_000 {
        let mut live: Live<String> =
            Live::from_reference(format!("{{vault://echo/live-{i}}}").parse().unwrap());
        resolver.resolve(&mut live).unwrap();
    }
    let grown = heap() - before;
    println!("400,000 distinct references grew the resolver by {grown} bytes");
    assert!(grown < 24 * 1024 * 1024, "grew by {grown} bytes");

    // The baseline, in the same run: a cache without a useful bound keeps every reference,
    // which is what the counter above would have seen before (and shows it can see it).
    let unbounded = Resolver::builder()
        .vault("echo", Echo::default())
        .configure("echo", "ttl", "3600")
        .configure("echo", "neg_ttl", "3600")
        .cache_capacity(usize::MAX)
        .build()
        .unwrap();
    let before = heap();
    for i in 0..100_000 {
        let _ = unbounded.get(&format!("{{vault://echo/secret-{i}}}"));
    }
    let baseline = heap() - before;
    println!("baseline: 100,000 references in an unbounded cache took {baseline} bytes");
    assert!(
        baseline > 10 * 1024 * 1024,
        "the counter sees growth: {baseline}"
    );
}
