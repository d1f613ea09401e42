//! The seed's walk-through: a Postgres configuration in JSON whose password is a vault
//! reference, as Kong writes it in kong.conf.
//!
//! ```text
//! MY_SECRET_POSTGRES_PASSWORD=opensesame cargo run --example postgres
//! ```
//!
//! Without the variable it fails, naming the field, the reference and the missing variable.

use secret_ref::{ResolveSecrets, Resolver, Secret};
use serde::Deserialize;

#[derive(Debug, Deserialize, ResolveSecrets)]
struct PgConfig {
    pg_host: String,
    pg_port: u16,
    pg_user: String,
    pg_password: Secret<String>,
    pg_database: String,
    pg_ssl: bool,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let text = include_str!("postgres.json");
    let mut config: PgConfig = serde_json::from_str(text)?;
    println!("read from postgres.json:\n{config:#?}\n");

    config.resolve_secrets(&Resolver::new())?;
    println!("resolved:\n{config:#?}\n");

    // The value is there for the code that needs it (a database driver, say); `Debug` above
    // never shows it.
    let password = config.pg_password.expose_secret();
    println!(
        "pg_password is resolved: {} characters, ready for the driver",
        password.len()
    );
    Ok(())
}
