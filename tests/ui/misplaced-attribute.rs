use secret_ref::{ResolveSecrets, Secret};

#[derive(ResolveSecrets)]
#[secret(skip)]
struct Config {
    #[secret(bound = "T: Clone")]
    password: Secret<String>,
}

fn main() {}
