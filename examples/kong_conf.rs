//! The seed, as Kong runs it: a kong.conf whose `pg_password` is
//! `{vault://env/my-secret-postgres-password}`, read into a typed `PgConfig`; then the same
//! reference given in `KONG_PG_PASSWORD` instead of the file.
//!
//! ```text
//! MY_SECRET_POSTGRES_PASSWORD=opensesame cargo run --example kong_conf
//! ```

use secret_ref::kong_conf::Loader;
use secret_ref::{ResolveSecrets, Secret};
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

const SEED: &str = "{vault://env/my-secret-postgres-password}";

fn main() -> Result<(), secret_ref::Error> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/examples");

    // 1. The reference in the file.
    let conf = Loader::new().file(format!("{dir}/kong.conf")).load()?;
    let pg: PgConfig = conf.extract()?;
    println!("from kong.conf:\n{pg:#?}\n");

    // 2. The same reference in KONG_PG_PASSWORD, over a file without a password. If the
    //    variable is not set, this run sets it for the loader, to show the mechanism.
    let mut env: Vec<(String, String)> = std::env::vars().collect();
    if std::env::var_os("KONG_PG_PASSWORD").is_none() {
        println!("(KONG_PG_PASSWORD is not set: using KONG_PG_PASSWORD={SEED} for this run)");
        env.push(("KONG_PG_PASSWORD".into(), SEED.into()));
    }
    let conf = Loader::new()
        .file(format!("{dir}/kong.conf.nopassword"))
        .env_prefix("KONG_")
        .env_vars(env)
        .load()?;
    let origin = conf.entry("pg_password").map(|e| e.origin().to_string());
    let pg: PgConfig = conf.extract()?;
    println!(
        "pg_password from {}:\n{pg:#?}",
        origin.as_deref().unwrap_or("nowhere")
    );
    println!(
        "\npg_password is resolved ({} characters); Debug never shows it",
        pg.pg_password.expose_secret().len()
    );
    Ok(())
}
