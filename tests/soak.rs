//! Soak runs: 64 threads read live secrets and resolve configurations while the rotation
//! runs every 10 ms, against an in-process vault and against OpenBao, for 60 seconds
//! (`SOAK_SECONDS` to change it). They check that nothing deadlocks (a watchdog), that the
//! heap stays flat (a counting allocator), that no reader sees two versions of one secret
//! together, and print the slowest read.
//!
//! Ignored by default, with an ignore reason of their own (`soak: ...`): a minute each, and
//! each wants the machine to itself. `.ci/run` runs them alone, one after the other, after its
//! main run: `cargo test --workspace --all-features --test soak -- --ignored
//! --test-threads 1` (the OpenBao one needs `.ci/servers.sh`). The main run
//! (`--include-ignored`) skips them by name with `--skip soak_`: every test of this file is
//! named `soak_*`, and no other test's name holds `soak_`.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use secret_ref::kong_conf::Loader;
use secret_ref::vault::memory::MemoryVault;
use secret_ref::{Live, ResolveSecrets, Resolver};
use serde::Deserialize;

#[global_allocator]
static ALLOCATOR: common::Counting = common::Counting;

const THREADS: usize = 64;

fn seconds() -> u64 {
    std::env::var("SOAK_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60)
}

#[derive(Deserialize, ResolveSecrets)]
struct Db {
    user: Live<String>,
    port: Live<u16>,
}

/// A pair whose halves tell which version they belong to.
fn pair(n: u64) -> String {
    format!(r#"{{"user":"user-{n}","port":{}}}"#, 1000 + n % 60000)
}

fn consistent(user: &str, port: u16) -> bool {
    let n: u64 = user.trim_start_matches("user-").parse().unwrap_or(u64::MAX);
    1000 + n % 60000 == u64::from(port)
}

/// What the readers saw.
#[derive(Default)]
struct Seen {
    reads: AtomicU64,
    resolutions: AtomicU64,
    mixed: AtomicU64,
    slowest_ns: AtomicU64,
    over_1ms: AtomicU64,
    /// The baseline readers, in the same run: a `RwLock<Arc<_>>` pair the writer updates.
    baseline_reads: AtomicU64,
    baseline_slowest_ns: AtomicU64,
    baseline_over_1ms: AtomicU64,
}

/// Runs the readers for the configured time with a watchdog; returns the heap growth
/// between the end of the warm-up and the end.
fn soak(name: &str, resolver: &Resolver, config: &str, writer: impl Fn(u64) + Send + Sync) {
    // The baseline: what a service would do without `Live`, a lock around the pair.
    let locked = std::sync::RwLock::new(Arc::new((String::from("user-0"), 1000u16)));
    let duration = Duration::from_secs(seconds());
    let db: Arc<Db> = Arc::new(resolver.scope(|| serde_json::from_str(config)).unwrap());
    let rotation = resolver.start_rotation(Duration::from_millis(10));
    let seen = Seen::default();
    let stop = AtomicBool::new(false);
    let progress = AtomicUsize::new(0);
    let heap = Mutex::new((0isize, 0isize));
    let started = Instant::now();
    std::thread::scope(|scope| {
        for t in 0..THREADS {
            let (db, seen, stop, progress, locked) = (db.clone(), &seen, &stop, &progress, &locked);
            // One thread in eight reads the baseline, under the same load.
            if t % 8 == 7 {
                scope.spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        let begun = Instant::now();
                        let pair = locked.read().unwrap().clone();
                        let ok = consistent(&pair.0, pair.1);
                        let took = begun.elapsed().as_nanos() as u64;
                        seen.baseline_slowest_ns.fetch_max(took, Ordering::Relaxed);
                        if took > 1_000_000 {
                            seen.baseline_over_1ms.fetch_add(1, Ordering::Relaxed);
                        }
                        assert!(ok);
                        seen.baseline_reads.fetch_add(1, Ordering::Relaxed);
                        progress.fetch_add(1, Ordering::Relaxed);
                    }
                });
                continue;
            }
            scope.spawn(move || {
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let begun = Instant::now();
                    let ok = if i.is_multiple_of(2) {
                        let user = db.user.expose_secret();
                        let port = db.port.expose_secret();
                        consistent(&user, *port)
                    } else {
                        let port = db.port.expose_secret();
                        let user = db.user.expose_secret();
                        consistent(&user, *port)
                    };
                    let took = begun.elapsed().as_nanos() as u64;
                    seen.slowest_ns.fetch_max(took, Ordering::Relaxed);
                    if took > 1_000_000 {
                        seen.over_1ms.fetch_add(1, Ordering::Relaxed);
                    }
                    if !ok {
                        seen.mixed.fetch_add(1, Ordering::Relaxed);
                    }
                    seen.reads.fetch_add(2, Ordering::Relaxed);
                    // Each iteration reads a pair: count it as one read per secret.
                    // Now and then, resolve a configuration of its own (dropped at once).
                    if i % 5000 == (t as u64) % 5000 {
                        let own: Db = resolver.scope(|| serde_json::from_str(config)).unwrap();
                        drop(own);
                        seen.resolutions.fetch_add(1, Ordering::Relaxed);
                    }
                    progress.fetch_add(1, Ordering::Relaxed);
                    i += 1;
                }
            });
        }
        // The writer, on a thread of its own: a new version every 20 ms.
        scope.spawn(|| {
            let mut n = 1;
            while !stop.load(Ordering::Relaxed) {
                writer(n);
                *locked.write().unwrap() =
                    Arc::new((format!("user-{n}"), (1000 + n % 60000) as u16));
                n += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        // The watchdog: progress at least every 10 s, or it is a deadlock.
        let warm_up = duration.min(Duration::from_secs(5));
        let mut last = (0, Instant::now());
        let mut measured = false;
        while started.elapsed() < duration {
            std::thread::sleep(Duration::from_millis(200));
            let now = progress.load(Ordering::Relaxed);
            if now != last.0 {
                last = (now, Instant::now());
            }
            if last.1.elapsed() > Duration::from_secs(10) {
                stop.store(true, Ordering::Relaxed);
                panic!("{name}: no read or resolution for 10 s: deadlock");
            }
            if !measured && started.elapsed() >= warm_up {
                heap.lock().unwrap().0 = common::heap();
                measured = true;
            }
        }
        heap.lock().unwrap().1 = common::heap();
        stop.store(true, Ordering::Relaxed);
    });
    rotation.stop();
    let (after_warm_up, at_end) = *heap.lock().unwrap();
    let grown = at_end - after_warm_up;
    let ms = |ns: &AtomicU64| ns.load(Ordering::Relaxed) as f64 / 1e6;
    let report = format!(
        "{name}: {}s, {THREADS} threads on {} cores: {} live pair reads, {} resolutions, {} \
         mixed pairs; slowest live pair read {:.1} ms, {} over 1 ms; baseline RwLock pair \
         reads {}, slowest {:.1} ms, {} over 1 ms; heap {} KiB after warm-up, {:+} KiB at \
         the end",
        duration.as_secs(),
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        seen.reads.load(Ordering::Relaxed) / 2,
        seen.resolutions.load(Ordering::Relaxed),
        seen.mixed.load(Ordering::Relaxed),
        ms(&seen.slowest_ns),
        seen.over_1ms.load(Ordering::Relaxed),
        seen.baseline_reads.load(Ordering::Relaxed),
        ms(&seen.baseline_slowest_ns),
        seen.baseline_over_1ms.load(Ordering::Relaxed),
        after_warm_up / 1024,
        grown / 1024,
    );
    println!("{report}");
    assert_eq!(seen.mixed.load(Ordering::Relaxed), 0, "{report}");
    assert!(seen.resolutions.load(Ordering::Relaxed) > 0, "{report}");
    // Flat: what the warm-up allocated (thread slots, the cache, connections) stays; more
    // would be growth. 2 MiB leaves room for allocator noise over a minute.
    assert!(grown < 2 * 1024 * 1024, "{report}");
}

#[test]
#[ignore = "soak: a minute long, run alone by .ci/run"]
fn soak_in_process() {
    // An in-process vault: the pair of the version the writer set.
    let vault = MemoryVault::new();
    vault.set("db", pair(0));
    let resolver = Resolver::builder()
        .vault("versions", vault.clone())
        .configure("versions", "ttl", "0.005")
        .build()
        .unwrap();
    soak(
        "in-process vault",
        &resolver,
        r#"{"user": "{vault://versions/db/user}", "port": "{vault://versions/db/port}"}"#,
        |n| {
            vault.set("db", pair(n));
        },
    );
}

#[test]
#[ignore = "soak: a minute long, needs .ci/servers.sh, run alone by .ci/run"]
fn soak_against_openbao() {
    let bao = common::Bao::plain();
    let p = common::unique("soak");
    let write = |n: u64| {
        let value: serde_json::Value = serde_json::from_str(&pair(n)).unwrap();
        bao.write_kv2(&p, value);
    };
    write(0);
    let resolver = Loader::new()
        .text(
            "kong.conf",
            &format!(
                "{}vault_hcv_token = {}\nvault_hcv_ttl = 0.005",
                bao.settings("v2", "secret"),
                bao.token
            ),
        )
        .load()
        .unwrap()
        .resolver()
        .unwrap();
    soak(
        "OpenBao",
        &resolver,
        &format!(r#"{{"user": "{{vault://hcv/{p}/user}}", "port": "{{vault://hcv/{p}/port}}"}}"#),
        write,
    );
}
