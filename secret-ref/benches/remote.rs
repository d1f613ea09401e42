//! 100 distinct remote secrets through a proxy that adds 20 ms to every request: the
//! resolver fetches them concurrently, so the whole resolution should take about
//! `ceil(100 / concurrency) x 20 ms`; the bound is 1.5 times that. Concurrency 1 is
//! the sequential baseline.
//!
//! Needs an OpenBao (HashiCorp Vault) server:
//! `source .ci/servers.sh && start_servers && cargo bench -p secret-ref --features hcv --bench remote`.

use std::time::Duration;

use divan::Bencher;
use secret_ref::{ResolveSecrets, Resolver, Secret};

#[path = "support/mod.rs"]
mod support;

const SECRETS: usize = 100;
const LATENCY: Duration = Duration::from_millis(20);

fn main() {
    let Some((upstream, token)) = support::bao_with_secrets("bench-latency", SECRETS) else {
        return;
    };
    let proxy = support::proxy(upstream, LATENCY, Default::default());
    // SAFETY: no other thread reads the environment yet.
    unsafe {
        std::env::set_var("BENCH_PROXY_PORT", proxy.to_string());
        std::env::set_var("BENCH_TOKEN", token);
    }
    for c in [1usize, 8, 16, 32] {
        let bound = 1.5 * SECRETS.div_ceil(c) as f64 * LATENCY.as_secs_f64() * 1000.0;
        eprintln!("concurrency {c:>2}: the bound is {bound:.0} ms");
    }
    divan::main();
}

fn references() -> Vec<Secret<String>> {
    let refs: Vec<String> = (0..SECRETS)
        .map(|i| format!("{{vault://hcv/bench-latency/s{i}/password}}"))
        .collect();
    serde_json::from_value(serde_json::to_value(refs).unwrap()).unwrap()
}

/// A fresh resolver each time, so nothing comes from the cache.
#[divan::bench(args = [1, 8, 16, 32], sample_count = 5, sample_size = 1)]
fn resolve_100_distinct_secrets_20ms_each(bencher: Bencher, concurrency: usize) {
    let port = std::env::var("BENCH_PROXY_PORT").unwrap();
    let token = std::env::var("BENCH_TOKEN").unwrap();
    let refs = references();
    bencher
        .with_inputs(|| {
            let resolver = Resolver::builder()
                .configure("hcv", "port", port.as_str())
                .configure("hcv", "kv", "v2")
                .configure("hcv", "token", token.as_str())
                .concurrency(concurrency)
                .build()
                .unwrap();
            (resolver, refs.clone())
        })
        .bench_local_values(|(resolver, mut secrets)| {
            secrets.resolve_secrets(&resolver).unwrap();
            secrets
        });
}
