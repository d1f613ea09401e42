//! Cookbook: ECS or EKS, with AWS Secrets Manager and the task's or pod's IAM role (see
//! `secret_ref::cookbook`).
//!
//! No key is configured: the `aws` vault takes credentials from AWS's standard chain, which
//! finds the ECS task role (`AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`), EKS Pod Identity
//! (`AWS_CONTAINER_CREDENTIALS_FULL_URI` with `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE`) or EKS
//! IRSA (`AWS_WEB_IDENTITY_TOKEN_FILE` and `AWS_ROLE_ARN`) in the variables the platform sets.
//! [`cookbook/aws.conf`](cookbook/aws.conf) holds the configuration and the vault settings;
//! `MY_SERVICE_*` variables override them.
//!
//! ```text
//! cargo run --example aws_ecs --features aws
//! cargo run --example aws_ecs --features aws -- /etc/my-service/my-service.conf
//! ```
//!
//! It prints the configuration (redacted) and the length of each secret, never a value.
//! Without credentials it fails, naming each field, its reference and the chain's answer.

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
    /// `{vault://aws/my-service/db/password}`: the `password` field of the JSON secret
    /// `my-service/db`.
    pg_password: Secret<String>,
    /// `{vault://aws/my-service/payments-api-key/}`: the whole secret, plain text (the
    /// trailing `/` says there is no key).
    payments_api_key: Secret<String>,
}

fn run() -> Result<(), secret_ref::Error> {
    let path = std::env::args_os().nth(1).map_or_else(
        || {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/examples/cookbook/aws.conf"
            ))
        },
        PathBuf::from,
    );
    let conf = Loader::new().file(&path).env_prefix("MY_SERVICE_").load()?;

    // One resolver for the life of the service: it keeps the credentials and asks the chain
    // again five minutes before they expire (the ECS agent and EKS rotate them).
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
