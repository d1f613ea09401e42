//! A long-running service that reads a live secret while it rotates.
//!
//! ```text
//! cargo run --example rotation
//! ```
//!
//! A stand-in secret store (`vault::memory`, in the process, so that the example runs
//! anywhere) rotates the database password every 600 ms. The resolver's rotation thread asks
//! it again when the cached value's `ttl` (0.2 s) has run out, checking every 100 ms; the
//! service reads `Live<String>` on each request and never restarts. With a real store, the
//! only change is the reference: `{vault://hcv/db/password}`, `{vault://aws/prod/db/password}`.

use std::time::{Duration, Instant};

use secret_ref::vault::memory::MemoryVault;
use secret_ref::{Live, ResolveSecrets, Resolver};
use serde::Deserialize;

/// The secret the store holds at each generation of the password.
fn db_secret(generation: u32) -> String {
    format!(r#"{{"user": "app", "password": "pw-generation-{generation}"}}"#)
}

#[derive(Debug, Deserialize, ResolveSecrets)]
struct Config {
    db_user: Live<String>,
    db_password: Live<String>,
}

fn main() -> Result<(), secret_ref::Error> {
    // The stand-in store: one handle is registered, the other is kept to rotate the password.
    let store = MemoryVault::new();
    store.set("db", db_secret(1));
    let resolver = Resolver::builder()
        .vault("store", store.clone())
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
    let rotating = std::thread::spawn(move || {
        for generation in 2..=4 {
            std::thread::sleep(Duration::from_millis(600));
            store.set("db", db_secret(generation));
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
    rotating.join().expect("the store thread");
    rotation.stop();
    println!("done: the password rotated {seen} times; {config:?}");
    Ok(())
}
