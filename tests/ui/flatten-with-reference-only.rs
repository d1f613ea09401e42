use secret_ref::{ResolveSecrets, Secret};
use serde::Deserialize;

#[derive(Deserialize, ResolveSecrets)]
struct Inner {
    password: Secret<String>,
}

#[derive(Deserialize, ResolveSecrets)]
struct Config {
    #[serde(flatten)]
    #[secret(reference_only)]
    inner: Inner,
}

fn main() {}
