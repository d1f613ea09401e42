use secret_ref::{ResolveSecrets, Secret};

#[derive(ResolveSecrets)]
struct Config {
    #[secret(skipp)]
    password: Secret<String>,
}

fn main() {}
