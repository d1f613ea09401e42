use secret_ref::{Live, ResolveSecrets, Secret};

#[derive(ResolveSecrets)]
#[secret(plain)]
struct Pg {
    host: String,
    password: Secret<String>,
    port: Live<u16>,
}

fn main() {}
