//! Cookbook: Kubernetes, with OpenBao or HashiCorp Vault's `kubernetes` auth (see
//! `secret_ref::cookbook`).
//!
//! The pod's service account token is the only credential: the `hcv` vault sends it to
//! `auth/kubernetes/login` with a role, and reads the secrets with the token it gets back.
//! [`cookbook/kubernetes.conf`](cookbook/kubernetes.conf) holds the configuration and the
//! vault settings; `MY_SERVICE_*` variables override them (as `KONG_*` do for Kong).
//!
//! ```text
//! cargo run --example kubernetes_vault --features hcv
//! cargo run --example kubernetes_vault --features hcv -- /etc/my-service/my-service.conf
//! ```
//!
//! It prints the configuration (redacted) and the length of each secret, never a value. A
//! failed login fails every secret, naming each field, its reference and Vault's answer.

use std::path::PathBuf;
use std::process::ExitCode;

use secret_ref::kong_conf::Loader;
use secret_ref::{Resolver, Secret};
use serde::Deserialize;

#[derive(Debug, Deserialize, secret_ref::ResolveSecrets)]
struct Config {
    listen: String,
    pg_host: String,
    pg_user: String,
    pg_password: Secret<String>,
    payments_api_key: Secret<String>,
}

fn run() -> Result<(), secret_ref::Error> {
    let path = std::env::args_os().nth(1).map_or_else(
        || {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/examples/cookbook/kubernetes.conf"
            ))
        },
        PathBuf::from,
    );
    // The file, then `MY_SERVICE_<KEY>` variables over it (`MY_SERVICE_VAULT_HCV_HOST`).
    let conf = Loader::new().file(&path).env_prefix("MY_SERVICE_").load()?;

    // One resolver for the life of the service: it keeps the login's token and logs in again
    // (re-reading the token file, which the kubelet rotates) before the token's lease ends.
    let resolver = conf
        .apply_to(Resolver::builder().on_warning(|warning| eprintln!("warning: {warning}")))?
        .build()?;
    let config: Config = conf.extract_with(&resolver)?;
    println!("resolved:\n{config:#?}\n");

    println!(
        "pg_password: {} characters",
        config.pg_password.expose_secret().len()
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
