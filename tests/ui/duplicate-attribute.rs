use secret_ref::{ResolveSecrets, Secret};

#[derive(ResolveSecrets)]
struct Config {
    #[secret(reference_only, reference_only)]
    password: Secret<String>,
}

fn main() {}
