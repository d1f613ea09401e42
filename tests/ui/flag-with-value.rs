use secret_ref::{ResolveSecrets, Secret};

#[derive(ResolveSecrets)]
struct Config {
    #[secret(skip = true)]
    banner: String,
    password: Secret<String>,
}

fn main() {}
