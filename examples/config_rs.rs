//! config-rs: `examples/app.yaml` layered with `APP_` environment variables, its references
//! resolved from the `env` vault, in both modes. A failure names the file, or `the
//! environment` (config-rs does not record which variable).
//!
//! ```text
//! DB_PASSWORD=opensesame REPLICA_PASSWORD=hunter2 API_KEY=k3y APP_DATABASE__HOST=db.example \
//!     cargo run --example config_rs --features config
//! ```
//!
//! Without `DB_PASSWORD` it fails with `database.password (examples/app.yaml): ...`; with
//! `APP_API_KEY='{vault://env/nope}'`, with `api_key (the environment): ...`.

use config::{Config, Environment, File};
use secret_ref::{ResolveSecrets, Resolver, Secret};
use serde::Deserialize;

#[derive(Debug, Deserialize, ResolveSecrets)]
struct Database {
    host: String,
    port: u16,
    password: Secret<String>,
}

#[derive(Debug, Deserialize, ResolveSecrets)]
struct Replica {
    host: String,
    password: Secret<String>,
}

#[derive(Debug, Deserialize, ResolveSecrets)]
struct App {
    api_key: Secret<String>,
    database: Database,
    replicas: Vec<Replica>,
}

fn main() -> Result<(), secret_ref::Error> {
    // The file, then `APP_DATABASE__HOST` and the like over it (`__` nests). `?` on
    // config-rs's errors gives failures that name the key and origin, without the value.
    let config = Config::builder()
        .add_source(File::with_name(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/app.yaml"
        )))
        .add_source(
            Environment::with_prefix("APP")
                .prefix_separator("_")
                .separator("__"),
        )
        .build()?;
    // The `env` vault reads this process's environment.
    let resolver = Resolver::new();

    // 1. During deserialization, in one call; failures carry config-rs's origin of each value.
    let app: App = secret_ref::config_rs::extract(&config, &resolver)?;
    println!("resolved during deserialization:\n{app:#?}\n");

    // 2. After deserialization: config-rs's `try_deserialize`, then `resolve_secrets`; the
    //    origins are added to the failures by `with_origins`.
    let mut app: App = config.clone().try_deserialize()?;
    println!("read, not yet resolved:\n{app:#?}\n");
    app.resolve_secrets(&resolver)
        .map_err(|err| err.with_origins(secret_ref::config_rs::origins(&config)))?;
    println!(
        "resolved after deserialization: database {}:{}, password of {} characters",
        app.database.host,
        app.database.port,
        app.database.password.expose_secret().len()
    );
    Ok(())
}
