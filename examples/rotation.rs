//! A long-running service that reads a live secret while it rotates.
//!
//! ```text
//! cargo run --example rotation
//! ```
//!
//! A stand-in secret store (an in-process vault, so that the example runs anywhere) rotates
//! the database password every 600 ms. The resolver's rotation thread asks it again when the
//! cached value's `ttl` (0.2 s) has run out, checking every 100 ms; the service reads
//! `Live<String>` on each request and never restarts. With a real store, the only change is
//! the reference: `{vault://hcv/db/password}`, `{vault://aws/prod/db/password}`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use secret_ref::vault::{Request, Vault, VaultOption};
use secret_ref::zeroize::Zeroizing;
use secret_ref::{Live, ResolveSecrets, Resolver, VaultError};
use serde::Deserialize;

/// A secret store whose password changes with each rotation.
struct RotatingStore {
    generation: Arc<AtomicU32>,
}

impl Vault for RotatingStore {
    fn options(&self) -> &'static [VaultOption] {
        &[]
    }

    fn fetch(&self, _: &Request<'_>) -> Result<Zeroizing<String>, VaultError> {
        let n = self.generation.load(Ordering::SeqCst);
        Ok(Zeroizing::new(format!(
            r#"{{"user": "app", "password": "pw-generation-{n}"}}"#
        )))
    }
}

#[derive(Debug, Deserialize, ResolveSecrets)]
struct Config {
    db_user: Live<String>,
    db_password: Live<String>,
}

fn main() -> Result<(), secret_ref::Error> {
    let generation = Arc::new(AtomicU32::new(1));
    let resolver = Resolver::builder()
        .vault(
            "store",
            RotatingStore {
                generation: generation.clone(),
            },
        )
        .configure("store", "ttl", "0.2")
        .on_change(|change| println!("  rotation: {} changed", change.reference()))
        .build()?;

    let config: Config = resolver.scope(|| {
        serde_json::from_str(
            r#"{"db_user": "{vault://store/db/user}", "db_password": "{vault://store/db/password}"}"#,
        )
    })?;
    println!("loaded: {config:?}");
    let rotation = resolver.start_rotation(Duration::from_millis(100));

    // The store rotates the password three times while the service runs.
    let store = std::thread::spawn(move || {
        for _ in 0..3 {
            std::thread::sleep(Duration::from_millis(600));
            generation.fetch_add(1, Ordering::SeqCst);
        }
    });

    let started = Instant::now();
    let mut seen = config.db_password.version();
    // Serve requests until the three rotations are seen (or give up after 10 s).
    while seen < 3 && started.elapsed() < Duration::from_secs(10) {
        // Each request reads the current password: no lock, no fetch. While this guard
        // lives, the user read below comes from the same version of the vault secret.
        let password = config.db_password.expose_secret();
        if config.db_password.version() != seen {
            seen = config.db_password.version();
            println!(
                "{:>5} ms: now connecting as {} with password version {seen} ({} characters)",
                started.elapsed().as_millis(),
                *config.db_user.expose_secret(),
                password.len(),
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    store.join().expect("the store thread");
    rotation.stop();
    println!("done: the password rotated {seen} times; {config:?}");
    Ok(())
}
