//! Cookbook: Docker secrets with the `fs` vault (see `secret_ref::cookbook`).
//!
//! Docker (Compose or Swarm) mounts each secret as a file under `/run/secrets`; the
//! configuration names them, `{vault://fs/pg-password}`, and the `fs` vault reads them from
//! the directory the operator sets.
//!
//! ```text
//! cargo run --example docker_secrets --features fs                       # /run/secrets
//! SECRETS_DIR=/tmp/secrets cargo run --example docker_secrets --features fs
//! cargo run --example docker_secrets --features fs -- /etc/my-service/config.json
//! ```
//!
//! It prints the configuration (redacted) and the length of each secret, never a value. A
//! missing file fails, naming the field, the reference and the file.

use std::path::PathBuf;
use std::process::ExitCode;

use secret_ref::{ResolveSecrets, Resolver, Secret};
use serde::Deserialize;

#[derive(Debug, Deserialize, ResolveSecrets)]
struct Config {
    listen: String,
    database: Database,
    smtp: Smtp,
}

#[derive(Debug, Deserialize, ResolveSecrets)]
struct Database {
    host: String,
    user: String,
    password: Secret<String>,
}

#[derive(Debug, Deserialize, ResolveSecrets)]
struct Smtp {
    host: String,
    /// `{vault://fs/smtp/user}`: the `user` field of the JSON in `/run/secrets/smtp`.
    user: Secret<String>,
    password: Secret<String>,
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args_os().nth(1).map_or_else(
        || {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/examples/cookbook/docker.json"
            ))
        },
        PathBuf::from,
    );
    let mut config: Config = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
    println!("read from {}:\n{config:#?}\n", file_name(&path));

    // Where the secrets are mounted is the operator's setting (here the deployment's
    // environment), never the configuration's: a reference chooses a file *beneath* it.
    let dir = std::env::var("SECRETS_DIR").unwrap_or_else(|_| "/run/secrets".to_owned());
    let resolver = Resolver::builder()
        .configure("fs", "prefix", dir)
        .on_warning(|warning| eprintln!("warning: {warning}"))
        .build()?;
    config.resolve_secrets(&resolver)?;
    println!("resolved:\n{config:#?}\n");

    // The values are there for the code that needs them; print facts, never values.
    println!(
        "database.password: {} characters",
        config.database.password.expose_secret().len()
    );
    println!(
        "smtp.user: {} characters, smtp.password: {} characters (one JSON file)",
        config.smtp.user.expose_secret().len(),
        config.smtp.password.expose_secret().len()
    );
    Ok(())
}

fn file_name(path: &std::path::Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into(),
    )
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
