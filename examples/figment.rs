//! figment: `examples/app.toml` layered with `APP_` environment variables, its references
//! resolved from the `env` vault, in both modes. A failure names the file or the variable's
//! key the value came from.
//!
//! ```text
//! DB_PASSWORD=opensesame REPLICA_PASSWORD=hunter2 API_KEY=k3y APP_DATABASE__HOST=db.example \
//!     cargo run --example figment --features figment
//! ```
//!
//! Without `DB_PASSWORD` it fails with `database.password (TOML file examples/app.toml): ...`;
//! with `APP_API_KEY='{vault://env/nope}'`, with ``api_key (key API_KEY in `APP_`
//! environment variable(s)): ...``.

use figment::Figment;
use figment::providers::{Env, Format, Toml};
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
    // The file, then `APP_DATABASE__HOST` and the like over it (`__` nests).
    let figment = Figment::new()
        .merge(Toml::file(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/app.toml"
        )))
        .merge(Env::prefixed("APP_").split("__"));
    // The `env` vault reads this process's environment.
    let resolver = Resolver::new();

    // 1. During deserialization, in one call; failures carry figment's origin of each value.
    let app: App = secret_ref::figment::extract(&figment, &resolver)?;
    println!("resolved during deserialization:\n{app:#?}\n");

    // 2. After deserialization: figment's `extract`, then `resolve_secrets`; the origins are
    //    added to the failures by `with_origins`. (`Error::from` turns figment's own errors
    //    into failures that name the key and origin, without quoting the value.)
    let mut app: App = figment.extract().map_err(secret_ref::Error::from)?;
    println!("read, not yet resolved:\n{app:#?}\n");
    app.resolve_secrets(&resolver)
        .map_err(|err| err.with_origins(secret_ref::figment::origins(&figment)))?;
    println!(
        "resolved after deserialization: database {}:{}, password of {} characters",
        app.database.host,
        app.database.port,
        app.database.password.expose_secret().len()
    );
    Ok(())
}
