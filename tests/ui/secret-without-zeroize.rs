use secret_ref::{ResolveSecrets, Secret};
use serde::Deserialize;

#[derive(Deserialize)]
struct Creds {
    user: String,
    password: String,
}

#[derive(Deserialize, ResolveSecrets)]
struct Config {
    creds: Secret<Creds>,
}

fn main() {}
