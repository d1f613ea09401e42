//! Cookbook: local development with the `env` vault (see `secret_ref::cookbook`).
//!
//! The configuration says `{vault://env/pg-password}`; with the prefix `MYAPP_` the `env`
//! vault reads `MYAPP_PG_PASSWORD`, which the developer exports from a password manager, in
//! the shell that runs the service, instead of writing it into a `.env` file.
//!
//! ```text
//! export MYAPP_PG_PASSWORD="$(pass show myapp/pg-password)"
//! export MYAPP_PAYMENTS_API_KEY="$(pass show myapp/payments-api-key)"
//! cargo run --example local_dev
//! ```
//!
//! It prints the configuration (redacted) and the length of each secret, never a value. A
//! variable that is not set fails, naming the field, the reference and the variable.

use std::path::PathBuf;
use std::process::ExitCode;

use secret_ref::{ResolveSecrets, Resolver, Secret};
use serde::Deserialize;

#[derive(Debug, Deserialize, ResolveSecrets)]
struct Config {
    listen: String,
    database: Database,
    payments_api_key: Secret<String>,
}

#[derive(Debug, Deserialize, ResolveSecrets)]
struct Database {
    host: String,
    user: String,
    password: Secret<String>,
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args_os().nth(1).map_or_else(
        || {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/examples/cookbook/local_dev.json"
            ))
        },
        PathBuf::from,
    );
    let text = std::fs::read_to_string(&path)?;

    // `MYAPP_` keeps the service's secrets apart from every other program's variables
    // (`PG_PASSWORD` may be another tool's), and `env | grep ^MYAPP_` lists them.
    let resolver = Resolver::builder()
        .configure("env", "prefix", "MYAPP_")
        .build()?;
    // Deserialized and resolved in one step; every failure is reported at once.
    let config: Config = resolver.scope(|| serde_json::from_str(&text))?;
    println!("resolved from local_dev.json:\n{config:#?}\n");

    println!(
        "database.password: {} characters",
        config.database.password.expose_secret().len()
    );
    println!(
        "payments_api_key: {} characters",
        config.payments_api_key.expose_secret().len()
    );
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
