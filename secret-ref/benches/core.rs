//! The core's costs, each beside its baseline in the same run:
//!
//! - deserializing 8 fields, 4 of them references, into `Secret<String>` against plain
//!   `String` fields and against secrecy's `SecretString`;
//! - reading an environment of 10,000 variables with `std::env::var` against the `env` vault;
//! - resolving 10,000 distinct env references, resolver creation included;
//! - parsing a reference with 4,000 and 40,000 options against a path of the same length;
//! - snapshotting 10,000 variables through std against reading `environ` in place;
//! - resolving 16 env references with the async API against the blocking call.
//!
//! Run with `cargo bench -p secret-ref --bench core`.

use divan::{Bencher, black_box, counter::ItemsCount};
use secret_ref::{Resolver, Secret};
use serde::Deserialize;

const VARS: usize = 10_000;

fn main() {
    // Before divan starts any thread: the whole process shares one environment.
    for i in 0..VARS {
        // SAFETY: no other thread exists yet.
        unsafe { std::env::set_var(format!("BENCH_SECRET_{i}"), format!("value-{i}")) };
    }
    divan::main();
}

const DOC: &str = r#"{
    "pg_host": "db.internal.example.com",
    "pg_user": "kong",
    "pg_database": "kong",
    "pg_schema": "public",
    "pg_password": "{vault://env/pg-password}",
    "pg_ro_password": "{vault://env/pg-ro-password}",
    "admin_token": "{vault://env/admin-token}",
    "session_secret": "{vault://env/session-secret}"
}"#;

#[derive(Deserialize)]
#[allow(dead_code)]
struct Plain {
    pg_host: String,
    pg_user: String,
    pg_database: String,
    pg_schema: String,
    pg_password: String,
    pg_ro_password: String,
    admin_token: String,
    session_secret: String,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Ours {
    pg_host: String,
    pg_user: String,
    pg_database: String,
    pg_schema: String,
    pg_password: Secret<String>,
    pg_ro_password: Secret<String>,
    admin_token: Secret<String>,
    session_secret: Secret<String>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Secrecy {
    pg_host: String,
    pg_user: String,
    pg_database: String,
    pg_schema: String,
    pg_password: secrecy::SecretString,
    pg_ro_password: secrecy::SecretString,
    admin_token: secrecy::SecretString,
    session_secret: secrecy::SecretString,
}

mod deserialize_8_fields_4_references {
    use super::*;

    #[divan::bench(sample_count = 1000, sample_size = 50)]
    fn baseline_plain_strings() -> Plain {
        serde_json::from_str(black_box(DOC)).unwrap()
    }

    #[divan::bench(sample_count = 1000, sample_size = 50)]
    fn secrecy_secret_string() -> Secrecy {
        serde_json::from_str(black_box(DOC)).unwrap()
    }

    #[divan::bench(sample_count = 1000, sample_size = 50)]
    fn secret_ref_secret_string() -> Ours {
        serde_json::from_str(black_box(DOC)).unwrap()
    }
}

mod read_one_variable_of_10k {
    use super::*;

    #[divan::bench]
    fn baseline_std_env_var(bencher: Bencher) {
        let mut i = 0;
        bencher.bench_local(|| {
            i = (i + 7919) % VARS;
            std::env::var(format!("BENCH_SECRET_{i}")).unwrap()
        });
    }

    #[divan::bench]
    fn env_vault_get(bencher: Bencher) {
        let resolver = Resolver::new();
        let refs: Vec<String> = (0..VARS)
            .map(|i| format!("{{vault://env/bench-secret-{i}}}"))
            .collect();
        resolver.get(&refs[0]).unwrap();
        let mut i = 0;
        bencher.bench_local(|| {
            i = (i + 7919) % VARS;
            resolver.get(&refs[i]).unwrap()
        });
    }
}

mod resolve_10k_distinct_env_references {
    use super::*;

    fn references() -> Vec<Secret<String>> {
        let json: Vec<String> = (0..VARS)
            .map(|i| format!("{{vault://env/bench-secret-{i}}}"))
            .collect();
        serde_json::from_value(serde_json::to_value(json).unwrap()).unwrap()
    }

    /// A new resolver each time, so the environment snapshot is part of the cost.
    #[divan::bench(sample_count = 30)]
    fn resolver_new_and_resolve(bencher: Bencher) {
        let refs = references();
        bencher
            .counter(ItemsCount::new(VARS))
            .with_inputs(|| refs.clone())
            .bench_local_values(|mut secrets| {
                Resolver::new().resolve(&mut secrets).unwrap();
                secrets
            });
    }

    /// The baseline: the same 10,000 reads with `std::env::var`, which scans the whole
    /// environment each time.
    #[divan::bench(sample_count = 3)]
    fn baseline_std_env_var(bencher: Bencher) {
        let names: Vec<String> = (0..VARS).map(|i| format!("BENCH_SECRET_{i}")).collect();
        bencher.counter(ItemsCount::new(VARS)).bench_local(|| {
            names
                .iter()
                .map(|n| std::env::var(n).unwrap())
                .collect::<Vec<_>>()
        });
    }
}

/// A hostile reference with many options: the duplicate check is linear, so 40,000 options
/// cost about ten times 4,000, and about as much per byte as a reference of the same length
/// whose bytes are all path (the baseline: parsing work without any option).
mod parse_reference_with_many_options {
    use super::*;

    fn with_options(n: usize) -> String {
        let options: Vec<String> = (0..n).map(|i| format!("o{i}=v")).collect();
        format!("{{vault://env/x?{}}}", options.join("&"))
    }

    #[divan::bench(args = [4_000, 40_000])]
    fn options(bencher: Bencher, n: usize) {
        let text = with_options(n);
        bencher
            .counter(divan::counter::BytesCount::new(text.len()))
            .bench(|| secret_ref::Reference::parse(black_box(&text)).unwrap());
    }

    #[divan::bench(args = [4_000, 40_000])]
    fn baseline_same_length_path(bencher: Bencher, n: usize) {
        let length = with_options(n).len();
        let text = format!("{{vault://env/{}}}", "p".repeat(length - 14));
        bencher
            .counter(divan::counter::BytesCount::new(text.len()))
            .bench(|| secret_ref::Reference::parse(black_box(&text)).unwrap());
    }
}

/// How the `env` vault takes its snapshot of 10,000 variables: through std (under its
/// environment lock, two allocations per variable: what the vault does) against reading
/// `environ` in place (what it did before, in `unsafe` code beside std's lock).
mod environment_snapshot_10k {
    use super::*;

    #[divan::bench(sample_count = 100)]
    fn std_vars_os(bencher: Bencher) {
        bencher.counter(ItemsCount::new(VARS)).bench_local(|| {
            let vars: Vec<_> = std::env::vars_os().collect();
            let bytes: usize = vars.iter().map(|(k, v)| k.len() + v.len()).sum();
            black_box(bytes)
        });
    }

    #[cfg(target_os = "linux")]
    #[divan::bench(sample_count = 100)]
    fn baseline_environ_in_place(bencher: Bencher) {
        unsafe extern "C" {
            static environ: *const *const std::ffi::c_char;
        }
        bencher.counter(ItemsCount::new(VARS)).bench_local(|| {
            let mut bytes = 0;
            // SAFETY: no thread changes the environment while the benchmark runs.
            unsafe {
                let mut at = environ;
                while !(*at).is_null() {
                    bytes += std::ffi::CStr::from_ptr(*at).to_bytes().len();
                    at = at.add(1);
                }
            }
            black_box(bytes)
        });
    }
}

/// What the async API costs over the blocking call: the same 16 env references (on one
/// resolver, so the environment snapshot is not counted) resolved with `resolve` against
/// `resolve_async` polled to completion on this thread, the fetches made on the resolver's
/// pool.
mod resolve_16_env_references_async {
    use super::*;
    use std::sync::Arc;
    use std::task::{Context, Poll, Wake, Waker};

    struct Unpark(std::thread::Thread);

    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark()
        }
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        let mut f = std::pin::pin!(f);
        let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
        loop {
            if let Poll::Ready(out) = f.as_mut().poll(&mut Context::from_waker(&waker)) {
                return out;
            }
            std::thread::park();
        }
    }

    fn references() -> Vec<Secret<String>> {
        (0..16)
            .map(|i| {
                Secret::from_reference(format!("{{vault://env/bench-secret-{i}}}").parse().unwrap())
            })
            .collect()
    }

    #[divan::bench(sample_count = 300)]
    fn baseline_blocking_resolve(bencher: Bencher) {
        let resolver = Resolver::new();
        let refs = references();
        bencher
            .with_inputs(|| refs.clone())
            .bench_local_values(|mut secrets| {
                resolver.resolve(&mut secrets).unwrap();
                secrets
            });
    }

    #[divan::bench(sample_count = 300)]
    fn resolve_async(bencher: Bencher) {
        let resolver = Resolver::new();
        let refs = references();
        bencher
            .with_inputs(|| refs.clone())
            .bench_local_values(|mut secrets| {
                block_on(resolver.resolve_async(&mut secrets)).unwrap();
                secrets
            });
    }
}
