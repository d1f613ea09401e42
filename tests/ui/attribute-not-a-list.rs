use secret_ref::{ResolveSecrets, Secret};

#[derive(ResolveSecrets)]
struct Config {
    #[secret]
    password: Secret<String>,
}

fn main() {}
