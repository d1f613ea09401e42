//! A rotation pass over 1,000 cached secrets against a local OpenBao: it makes exactly one
//! request per secret (counted by a proxy in front of the server), and readers of the live
//! secrets are not blocked while it runs (the slowest read during the passes is printed).
//!
//! `source .ci/servers.sh && start_servers && cargo bench -p secret-ref --features hcv --bench rotation`

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use secret_ref::{Live, Resolver};

#[path = "support/mod.rs"]
mod support;

const SECRETS: usize = 1000;

struct Setup {
    resolver: Resolver,
    requests: Arc<AtomicUsize>,
    secrets: Arc<Vec<Live<String>>>,
}

static SETUP: OnceLock<Setup> = OnceLock::new();

fn main() {
    let Some((upstream, token)) = support::bao_with_secrets("bench-rotation", SECRETS) else {
        return;
    };
    let requests = Arc::new(AtomicUsize::new(0));
    let port = support::proxy(upstream, Duration::ZERO, requests.clone());
    let resolver = Resolver::builder()
        .configure("hcv", "port", port.to_string())
        .configure("hcv", "kv", "v2")
        .configure("hcv", "token", token.as_str())
        .build()
        .unwrap();
    let mut secrets: Vec<Live<String>> = (0..SECRETS)
        .map(|i| {
            Live::from_reference(
                format!("{{vault://hcv/bench-rotation/s{i}/password}}")
                    .parse()
                    .unwrap(),
            )
        })
        .collect();
    resolver.resolve(&mut secrets).unwrap();
    assert_eq!(requests.load(Ordering::SeqCst), SECRETS);
    let secrets = Arc::new(secrets);

    // A reader that reads every live secret in turn, all along, recording its slowest read.
    let stop = Arc::new(AtomicBool::new(false));
    let slowest = Arc::new(AtomicU64::new(0));
    let reads = Arc::new(AtomicU64::new(0));
    // Reads slower than 1 µs, 100 µs and 1 ms: on 2 cores shared with 8 fetching threads and
    // the server, those are the reader being preempted, since a read takes no lock.
    let slow: Arc<[AtomicU64; 3]> = Arc::new([const { AtomicU64::new(0) }; 3]);
    let reader = {
        let (secrets, stop, slowest, reads, slow) = (
            secrets.clone(),
            stop.clone(),
            slowest.clone(),
            reads.clone(),
            slow.clone(),
        );
        std::thread::spawn(move || {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let started = Instant::now();
                let n = secrets[i % SECRETS].expose_secret().len();
                let took = started.elapsed().as_nanos() as u64;
                std::hint::black_box(n);
                slowest.fetch_max(took, Ordering::Relaxed);
                for (limit, count) in [1_000, 100_000, 1_000_000].iter().zip(slow.iter()) {
                    if took > *limit {
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                }
                reads.fetch_add(1, Ordering::Relaxed);
                i += 1;
            }
        })
    };

    let before = requests.load(Ordering::SeqCst);
    let _ = SETUP.set(Setup {
        resolver,
        requests: requests.clone(),
        secrets,
    });
    divan::main();
    stop.store(true, Ordering::Relaxed);
    reader.join().unwrap();

    let setup = SETUP.get().unwrap();
    let passes = PASSES.load(Ordering::SeqCst);
    let made = setup.requests.load(Ordering::SeqCst) - before;
    eprintln!(
        "{passes} passes over {SECRETS} secrets made {made} requests ({} per pass)",
        made / passes.max(1)
    );
    let slow: Vec<u64> = slow.iter().map(|c| c.load(Ordering::Relaxed)).collect();
    eprintln!(
        "meanwhile a reader made {} reads: {} took over 1 µs, {} over 100 µs, {} over 1 ms; \
         the slowest {} ns",
        reads.load(Ordering::Relaxed),
        slow[0],
        slow[1],
        slow[2],
        slowest.load(Ordering::Relaxed)
    );
    assert_eq!(
        made,
        passes * SECRETS,
        "exactly one request per secret and pass"
    );
    assert!(
        setup
            .secrets
            .iter()
            .all(|s| s.expose_secret().starts_with('p'))
    );
}

static PASSES: AtomicUsize = AtomicUsize::new(0);

/// Every secret is due, so a pass fetches all 1,000 (distinct secrets, 8 at a time).
#[divan::bench(sample_count = 5, sample_size = 1)]
fn rotation_pass_over_1000_secrets() -> secret_ref::rotation::RotationReport {
    let report = SETUP.get().unwrap().resolver.refresh_all();
    PASSES.fetch_add(1, Ordering::SeqCst);
    assert_eq!(report.fetched, SECRETS);
    report
}
