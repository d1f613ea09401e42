use secret_ref::{ResolveSecrets, Secret};

#[derive(ResolveSecrets)]
struct Config {
    #[secret(skip)]
    password: Secret<String>,
}

fn main() {}
